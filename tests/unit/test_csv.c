/* test_csv.c - the household registry from CSV and NDJSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"

#define HEADER                                                                 \
    "household_id,street,committee,building,address,lat,lon,area_m2,rooms,"    \
    "registered_occupants"

static struct ingest_batch batch;

static int setup(void **state)
{
    ingest_batch_init(&batch, FEED_REGISTRY);
    return 0;
}

static int teardown(void **state)
{
    ingest_batch_release(&batch);
    return 0;
}

static void reset(void)
{
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_REGISTRY);
}

static int csv(const char *body)
{
    return ingest_parse_households(body, strlen(body), 0, 1000, &batch);
}

static int ndjson(const char *body)
{
    return ingest_parse_households(body, strlen(body), 1, 1000, &batch);
}

static void check_error(size_t i, int line, int column, const char *field,
                        const char *message)
{
    assert_true(i < batch.n_errors);
    const struct ingest_error *e = &batch.errors[i];
    assert_int_equal(e->line, line);
    assert_int_equal(e->column, column);
    assert_string_equal(e->field, field);
    if (message)
        assert_string_equal(e->message, message);
}

static void test_contract_header(void **state)
{
    assert_int_equal(csv(HEADER
                         "\n"
                         "H0000123,陆家嘴街道,梅园一村居委会,张杨路123弄4号,"
                         "上海市浦东新区张杨路123弄4号502室,31.2304,121.5059,"
                         "58.5,2,3\n"),
                     0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(batch.n, 1);
    assert_int_equal(batch.lines, 1);
    const struct household *h = &batch.households[0];
    assert_string_equal(h->household_id, "H0000123");
    assert_string_equal(h->street, "陆家嘴街道");
    assert_string_equal(h->committee, "梅园一村居委会");
    assert_string_equal(h->building, "张杨路123弄4号");
    assert_string_equal(h->address, "上海市浦东新区张杨路123弄4号502室");
    assert_true(h->lat == 31.2304);
    assert_true(h->lon == 121.5059);
    assert_true(h->area_m2 == 58.5);
    assert_int_equal(h->rooms, 2);
    assert_int_equal(h->registered_occupants, 3);
    assert_int_equal(h->flags, 0);
    assert_int_equal(h->line, 2);
}

static void test_csv_dialect(void **state)
{
    /* BOM, CRLF, columns in another order, an unknown column, quoting with
     * commas, doubled quotes and a line break, blank lines, flags. */
    const char *body =
        "\xEF\xBB\xBF"
        "rooms,lat,lon,Household_ID,note,street,committee,building,address,"
        "area_m2,registered_occupants,flags\r\n"
        "3,31.1,121.4,H1,\"say \"\"hi\"\"\",S,C,B,\"a, b\",70,0,"
        "elderly_alone|vacant\r\n"
        "\r\n"
        "1, 31 , 121 ,H2,\"two\nlines\",S,C,B,A,20.5,1, business | "
        "large_family \n"
        "2,0,0,H3,x,S,C,B,A,1e2,4,\n"
        "   \n"
        "2,-90,180,H4,x,S,C,B,A,0.01,0,\"\"";
    assert_int_equal(csv(body), 0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(batch.n, 4);
    assert_int_equal(batch.lines, 4);
    const struct household *h = batch.households;
    assert_string_equal(h[0].household_id, "H1");
    assert_string_equal(h[0].address, "a, b");
    assert_int_equal(h[0].rooms, 3);
    assert_int_equal(h[0].flags, HOUSEHOLD_ELDERLY_ALONE | HOUSEHOLD_VACANT);
    assert_int_equal(h[0].line, 2);
    assert_string_equal(h[1].committee, "C");
    assert_true(h[1].lat == 31.0);
    assert_int_equal(h[1].flags, HOUSEHOLD_BUSINESS | HOUSEHOLD_LARGE_FAMILY);
    assert_int_equal(h[1].line, 4);
    assert_true(h[2].area_m2 == 100.0);
    assert_int_equal(h[2].line, 6);
    assert_int_equal(h[3].line, 8);
    assert_true(h[3].lat == -90 && h[3].lon == 180);
    assert_int_equal(h[3].flags, 0);
}

static void test_missing_columns(void **state)
{
    assert_int_equal(csv("household_id,street,committee,building,address,lon,"
                         "area_m2,registered_occupants\n"
                         "H1,S,C,B,A,121,50,2\n"),
                     0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.errors_total, 1);
    check_error(0, 1, 1, "lat", "header lacks columns 'lat', 'rooms'");

    reset();
    assert_int_equal(csv("\n\nhousehold_id,street\nH1,S\n"), 0);
    assert_int_equal(batch.errors_total, 1);
    check_error(0, 3, 1, "committee",
                "header lacks columns 'committee', 'building', 'address', "
                "'lat', 'lon', 'area_m2', 'rooms', 'registered_occupants'");

    reset();
    assert_int_equal(csv(HEADER ",lat\nH1\n"), 0);
    assert_int_equal(batch.errors_total, 1);
    check_error(0, 1, (int)strlen(HEADER) + 2, "lat",
                "duplicate column 'lat' in the header");
}

static void test_cell_errors(void **state)
{
    const char *body = HEADER ",flags\n"
                              "H 1,,C,B,A,95,-181,0,1.5,-1,vip\n"
                              "H2,S,C,B,A,x,121,-3,0,2.5,\n"
                              "H3,S,C,B,A,31,121,50,2,2,elderly_alone\n";
    assert_int_equal(csv(body), 0);
    assert_int_equal(batch.n, 1);
    assert_string_equal(batch.households[0].household_id, "H3");
    assert_int_equal(batch.errors_total, 12);
    check_error(0, 2, 1, "household_id",
                "invalid household id 'H 1'; expected 1 to 64 of A-Z a-z 0-9 "
                "_ . : -");
    check_error(1, 2, 5, "street", "street is empty");
    check_error(2, 2, 12, "lat", "lat '95' is outside [-90, 90]");
    check_error(3, 2, 15, "lon", "lon '-181' is outside [-180, 180]");
    check_error(4, 2, 20, "area_m2", "area_m2 must be greater than 0, got '0'");
    check_error(5, 2, 22, "rooms",
                "rooms must be a positive integer, got '1.5'");
    check_error(6, 2, 26, "registered_occupants",
                "registered_occupants must be a non-negative integer, got "
                "'-1'");
    check_error(7, 2, 29, "flags",
                "unknown flag 'vip'; expected elderly_alone, large_family, "
                "business or vacant");
    check_error(8, 3, 12, "lat", "lat must be a number, got 'x'");
    check_error(9, 3, 18, "area_m2", NULL);
    check_error(10, 3, 21, "rooms", NULL);
    check_error(11, 3, 23, "registered_occupants", NULL);
}

static void test_text_rules(void **state)
{
    char body[1024], big[300];
    memset(big, 'x', 257);
    big[257] = '\0';
    snprintf(body, sizeof(body),
             HEADER "\n"
                    "H1,S,C,B,%s,31,121,50,2,2\n"
                    "H2,S\xff,C,B,A,31,121,50,2,2\n"
                    "H3,S,\"C\x01\",B,A,31,121,50,2,2\n"
                    "H4,S,C,B,%.256s,31,121,50,2,2\n",
             big, big);
    assert_int_equal(csv(body), 0);
    assert_int_equal(batch.n, 1);
    assert_string_equal(batch.households[0].household_id, "H4");
    assert_int_equal(batch.errors_total, 3);
    check_error(0, 2, 10, "address", "address is longer than 256 bytes");
    check_error(1, 3, 4, "street", "street is not valid utf-8");
    check_error(2, 4, 6, "committee", "committee contains a control character");
}

static void test_row_shape_errors(void **state)
{
    const char *body = HEADER "\n"
                              "H1,S,C\n"
                              "H2,S,C,B,A,31,121,50,2,2,extra\n"
                              "H3,S,\"C\"x,B,A,31,121,50,2,2\n"
                              "H4,S,C,B,A,31,121,50,2,2\n"
                              "H5,S,C,\"B\n";
    assert_int_equal(csv(body), 0);
    assert_int_equal(batch.n, 1);
    assert_string_equal(batch.households[0].household_id, "H4");
    assert_int_equal(batch.lines, 5);
    assert_int_equal(batch.errors_total, 4);
    check_error(0, 2, 6, "building", "row has 3 cells but the header has 10");
    check_error(1, 3, 26, "row", "row has 11 cells but the header has 10");
    check_error(2, 4, 9, "committee", "unexpected text after a closing quote");
    check_error(3, 6, 8, "building", "unterminated quoted cell");
}

static void test_empty_bodies(void **state)
{
    assert_int_equal(csv(""), 0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(csv("\n\r\n"), 0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(csv(HEADER "\r\n"), 0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(ndjson(""), 0);
    assert_int_equal(ndjson("\n  \n"), 0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.errors_total, 0);
}

static void test_max_records(void **state)
{
    const char *body = HEADER "\n"
                              "H1,S,C,B,A,31,121,50,2,2\n\n"
                              "H2,S,C,B,A,31,121,50,2,2\n";
    assert_int_equal(ingest_parse_households(body, strlen(body), 0, 2, &batch),
                     0);
    assert_int_equal(batch.n, 2);
    reset();
    assert_int_equal(ingest_parse_households(body, strlen(body), 0, 1, &batch),
                     CB_ETOOBIG);
    reset();
    const char *nd = "{\"household_id\":\"H1\"}\n{\"household_id\":\"H2\"}\n";
    assert_int_equal(ingest_parse_households(nd, strlen(nd), 1, 1, &batch),
                     CB_ETOOBIG);
}

static void test_ndjson(void **state)
{
    const char *body =
        "{\"household_id\":\"H1\",\"street\":\"陆家嘴街道\",\"committee\":"
        "\"C\","
        "\"building\":\"B\",\"address\":\"A\",\"lat\":31.2304,\"lon\":121.5,"
        "\"area_m2\":58,\"rooms\":2,\"registered_occupants\":0,"
        "\"flags\":[\"vacant\",\"business\"],\"extra\":{\"x\":1}}\n"
        "\n"
        "{\"household_id\":\"H2\",\"street\":\"S\",\"committee\":\"C\","
        "\"building\":\"B\",\"address\":\"A\",\"lat\":\"31.5\",\"lon\":\"121\","
        "\"area_m2\":\"58.5\",\"rooms\":3.0,\"registered_occupants\":\"4\","
        "\"flags\":\"large_family\"}\n";
    assert_int_equal(ndjson(body), 0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(batch.n, 2);
    const struct household *h = batch.households;
    assert_string_equal(h[0].street, "陆家嘴街道");
    assert_true(h[0].lat == 31.2304);
    assert_true(h[0].area_m2 == 58.0);
    assert_int_equal(h[0].flags, HOUSEHOLD_VACANT | HOUSEHOLD_BUSINESS);
    assert_int_equal(h[0].line, 1);
    assert_true(h[1].lat == 31.5);
    assert_int_equal(h[1].rooms, 3);
    assert_int_equal(h[1].registered_occupants, 4);
    assert_int_equal(h[1].flags, HOUSEHOLD_LARGE_FAMILY);
    assert_int_equal(h[1].line, 3);
}

static void test_ndjson_errors(void **state)
{
    const char *body =
        "{\"household_id\":\"H1\",\"street\":\"S\",\"committee\":\"C\","
        "\"building\":\"B\",\"address\":\"A\",\"lat\":91,\"lon\":121.5,"
        "\"area_m2\":58,\"rooms\": 2.5,\"registered_occupants\":0}\n"
        "{\"household_id\":\"H2\",\"street\":7}\n"
        "{\"household_id\":[1]}\n"
        "[1,2]\n"
        "{\"household_id\":\"H3\",}\n";
    assert_int_equal(ndjson(body), 0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.lines, 5);
    check_error(0, 1, 86, "lat", "lat '91' is outside [-90, 90]");
    check_error(1, 1, 123, "rooms",
                "rooms must be a positive integer, got '2.5'");
    /* A number is fine as text; the missing keys are reported at column 1. */
    check_error(2, 2, 1, "committee", "missing committee");
    check_error(3, 2, 1, "building", "missing building");
    check_error(9, 2, 1, "registered_occupants", NULL);
    check_error(10, 3, 17, "household_id",
                "household_id must be a string or a number");
    check_error(11, 4, 1, "", "expected a json object");
    check_error(12, 5, 22, "", "invalid json: string or '}' expected near '}'");
    assert_int_equal(batch.errors_total, 13);
}

static void test_wrong_feed(void **state)
{
    struct ingest_batch other;
    ingest_batch_init(&other, FEED_READINGS);
    assert_int_equal(
        ingest_parse_households(HEADER, strlen(HEADER), 0, 10, &other),
        CB_EINVAL);
    ingest_batch_release(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_contract_header), T(test_csv_dialect), T(test_missing_columns),
        T(test_cell_errors),     T(test_text_rules),  T(test_row_shape_errors),
        T(test_empty_bodies),    T(test_max_records), T(test_ndjson),
        T(test_ndjson_errors),   T(test_wrong_feed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
