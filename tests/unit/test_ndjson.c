/* test_ndjson.c - food-delivery orders and department events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"

static struct ingest_batch batch;

static int setup_deliveries(void **state)
{
    ingest_batch_init(&batch, FEED_DELIVERIES);
    return 0;
}

static int setup_events(void **state)
{
    ingest_batch_init(&batch, FEED_EVENTS);
    return 0;
}

static int teardown(void **state)
{
    ingest_batch_release(&batch);
    return 0;
}

static int deliveries(const char *body)
{
    return ingest_parse_deliveries(body, strlen(body), 1000, &batch);
}

static int events(const char *body)
{
    return ingest_parse_events(body, strlen(body), 1000, &batch);
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

/* Parses one delivery line that must fail with one error. */
static void delivery_error(const char *line, int column, const char *field,
                           const char *message)
{
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_DELIVERIES);
    assert_int_equal(deliveries(line), 0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.errors_total, 1);
    check_error(0, 1, column, field, message);
}

static void test_delivery_contract(void **state)
{
    assert_int_equal(
        deliveries(
            "{\"order_id\":\"MT-88412\",\"ts\":\"2026-11-01T12:34:56+08:00\","
            "\"household_id\":\"H0000123\",\"recipient\":\"9f2c\"}\n"
            "{\"order_id\":\"EL-1209\",\"ts\":1761971696,\"address\":"
            "\"浦东新区张杨路123弄4号502室\",\"recipient\":\"77ab\"}\n"),
        0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(batch.n, 2);
    const struct delivery *d = batch.deliveries;
    assert_string_equal(d[0].order_id, "MT-88412");
    assert_true(d[0].ts_ns == 1793507696LL * 1000000000);
    assert_string_equal(d[0].household_id, "H0000123");
    assert_null(d[0].address);
    assert_string_equal(d[0].recipient, "9f2c");
    assert_int_equal(d[0].household, -1);
    assert_int_equal(d[0].line, 1);
    assert_string_equal(d[1].order_id, "EL-1209");
    assert_true(d[1].ts_ns == 1761971696LL * 1000000000);
    assert_null(d[1].household_id);
    assert_string_equal(d[1].address, "浦东新区张杨路123弄4号502室");
    assert_int_equal(d[1].line, 2);
}

static void test_delivery_ts_forms(void **state)
{
    static const struct {
        const char *ts;
        int64_t ns;
    } ok[] = {
        {"\"2026-11-01T04:34:56Z\"", 1793507696LL * 1000000000},
        {"\"2026-11-01 12:34:56+08:00\"", 1793507696LL * 1000000000},
        {"\"2026-11-01T12:34:56.25+08:00\"", 1793507696250000000LL},
        {"\"2026-10-31T23:34:56-05:00\"", 1793507696LL * 1000000000},
        {"1761971696.5", 1761971696500000000LL},
        {"0", 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"order_id\":\"o\",\"ts\":%s,\"household_id\":\"H1\","
                 "\"recipient\":\"r\"}",
                 ok[i].ts);
        ingest_batch_release(&batch);
        ingest_batch_init(&batch, FEED_DELIVERIES);
        assert_int_equal(deliveries(line), 0);
        assert_int_equal(batch.errors_total, 0);
        assert_true(batch.deliveries[0].ts_ns == ok[i].ns);
    }
    delivery_error("{\"order_id\":\"o\",\"ts\":\"2026-11-01T12:34:56\","
                   "\"household_id\":\"H1\",\"recipient\":\"r\"}",
                   22, "ts",
                   "invalid ts '2026-11-01T12:34:56'; expected ISO 8601 with "
                   "an offset, e.g. 2026-11-01T12:34:56+08:00, or epoch "
                   "seconds");
    /* The column points into the string at the first bad byte. */
    delivery_error("{\"order_id\":\"o\",\"ts\":\"2026-13-01T12:34:56Z\","
                   "\"household_id\":\"H1\",\"recipient\":\"r\"}",
                   23, "ts", NULL);
    delivery_error("{\"order_id\":\"o\",\"ts\":\"2026-11-01X12:34:56Z\","
                   "\"household_id\":\"H1\",\"recipient\":\"r\"}",
                   33, "ts", NULL);
    delivery_error("{\"order_id\":\"o\",\"ts\":\"5175-11-01T12:34:56Z\","
                   "\"household_id\":\"H1\",\"recipient\":\"r\"}",
                   23, "ts",
                   "ts '5175-11-01T12:34:56Z' is out of range; years 1970 to "
                   "2199 are accepted");
    delivery_error("{\"order_id\":\"o\",\"ts\":\"0001-01-01T00:00:00Z\","
                   "\"household_id\":\"H1\",\"recipient\":\"r\"}",
                   23, "ts", NULL);
    delivery_error("{\"order_id\":\"o\",\"ts\":1761971696000,"
                   "\"household_id\":\"H1\",\"recipient\":\"r\"}",
                   22, "ts",
                   "ts 1761971696000 is out of range; epoch seconds of the "
                   "years 1970 to 2199 are accepted");
    delivery_error("{\"order_id\":\"o\",\"ts\":-1,"
                   "\"household_id\":\"H1\",\"recipient\":\"r\"}",
                   22, "ts", NULL);
    delivery_error("{\"order_id\":\"o\",\"ts\":true,"
                   "\"household_id\":\"H1\",\"recipient\":\"r\"}",
                   22, "ts", "ts must be an ISO 8601 string or epoch seconds");
    delivery_error("{\"order_id\":\"o\",\"household_id\":\"H1\","
                   "\"recipient\":\"r\"}",
                   1, "ts", "missing ts");
}

static void test_delivery_fields(void **state)
{
    delivery_error("{\"ts\":1,\"household_id\":\"H1\",\"recipient\":\"r\"}", 1,
                   "order_id", "missing order_id");
    delivery_error("{\"order_id\":\"\",\"ts\":1,\"household_id\":\"H1\","
                   "\"recipient\":\"r\"}",
                   13, "order_id", "order_id is empty");
    delivery_error("{\"order_id\" : 12,\"ts\":1,\"household_id\":\"H1\","
                   "\"recipient\":\"r\"}",
                   15, "order_id", "order_id must be a string");
    delivery_error("{\"order_id\":\"o\",\"ts\":1,\"recipient\":\"r\"}", 1,
                   "household_id", "missing household_id or address; give one");
    delivery_error("{\"order_id\":\"o\",\"ts\":1,\"household_id\":null,"
                   "\"address\":null,\"recipient\":\"r\"}",
                   39, "household_id", NULL);
    delivery_error("{\"order_id\":\"o\",\"ts\":1,\"household_id\":\"H 1\","
                   "\"recipient\":\"r\"}",
                   39, "household_id",
                   "invalid household id 'H 1'; expected 1 to 64 of A-Z a-z "
                   "0-9 _ . : -");
    delivery_error("{\"order_id\":\"o\",\"ts\":1,\"household_id\":\"H1\"}", 1,
                   "recipient", "missing recipient");
    char line[512], big[200];
    memset(big, 'x', 129);
    big[129] = '\0';
    snprintf(line, sizeof(line),
             "{\"order_id\":\"o\",\"ts\":1,\"household_id\":\"H1\","
             "\"recipient\":\"%s\"}",
             big);
    delivery_error(line, 56, "recipient", "recipient is longer than 128 bytes");
    /* Both an id and an address: both kept, the id takes precedence. */
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_DELIVERIES);
    assert_int_equal(deliveries("{\"order_id\":\"o\",\"ts\":1,\"household_id\":"
                                "\"H1\",\"address\":\"张杨路1号\","
                                "\"recipient\":\"r\",\"extra\":[1]}"),
                     0);
    assert_int_equal(batch.n, 1);
    assert_string_equal(batch.deliveries[0].household_id, "H1");
    assert_string_equal(batch.deliveries[0].address, "张杨路1号");
}

static void test_recipient_phone_numbers(void **state)
{
    static const char *const phones[] = {"13812345678",        "+8613812345678",
                                         "+86 138 1234 5678",  "138-1234-5678",
                                         "008613812345678",    "8613812345678",
                                         "(+86) 138.1234.5678"};
    static const char *const pseudonyms[] = {
        "9f2c4e1a",
        "23812345678",
        "1381234567",
        "138123456789",
        "13812345678a",
        "h:13812345678",
        "+8723812345678",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
    for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"order_id\":\"o\",\"ts\":1,\"household_id\":\"H1\","
                 "\"recipient\":\"%s\"}",
                 phones[i]);
        delivery_error(line, 56, "recipient",
                       "recipient looks like a phone number; send a "
                       "pseudonymous id such as a salted hash instead");
        /* The number itself is never echoed. */
        assert_null(strstr(batch.errors[0].message, "5678"));
    }
    for (size_t i = 0; i < sizeof(pseudonyms) / sizeof(pseudonyms[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"order_id\":\"o\",\"ts\":1,\"household_id\":\"H1\","
                 "\"recipient\":\"%s\"}",
                 pseudonyms[i]);
        ingest_batch_release(&batch);
        ingest_batch_init(&batch, FEED_DELIVERIES);
        assert_int_equal(deliveries(line), 0);
        assert_int_equal(batch.errors_total, 0);
        assert_string_equal(batch.deliveries[0].recipient, pseudonyms[i]);
    }
}

/* Full-width digits are digits: １３８１２３４５６７８ is a phone. */
static void test_recipient_full_width_phone(void **state)
{
    static const char *const phones[] = {
        "１３８１２３４５６７８", "＋８６　１３８　１２３４　５６７８",
        "138－1234－5678", "（＋86）13812345678"};
    for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"order_id\":\"o\",\"ts\":1,\"household_id\":\"H1\","
                 "\"recipient\":\"%s\"}",
                 phones[i]);
        ingest_batch_release(&batch);
        ingest_batch_init(&batch, FEED_DELIVERIES);
        deliveries(line);
        assert_int_equal(batch.errors_total, 1);
        assert_string_equal(batch.errors[0].field, "recipient");
    }
    /* a full-width letter still makes it a pseudonym */
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_DELIVERIES);
    assert_int_equal(
        deliveries("{\"order_id\":\"o\",\"ts\":1,\"household_id\":\"H1\","
                   "\"recipient\":\"１３８１２３４５６７８ａ\"}"),
        0);
    assert_int_equal(batch.errors_total, 0);
}

static void test_json_errors(void **state)
{
    const char *body = "{\"order_id\":\"o\",\"ts\":1,\"household_id\":\"H1\","
                       "\"recipient\":\"r\"}\r\n"
                       "{\"order_id\": x}\n"
                       "\n"
                       "   \t\n"
                       "{\"地址\":\"张\", x}\n"
                       "[\"order_id\"]\n"
                       "{\"order_id\":\"o\",\"order_id\":\"p\"}\n"
                       "{\"a\":99999999999999999999}\n"
                       "{\"a\":1} trailing\n"
                       "{\"a\":\"\\u0000\"}\n"
                       "{\"a\":\"\xff\"}\n"
                       "\"just a string\"";
    assert_int_equal(deliveries(body), 0);
    assert_int_equal(batch.n, 1);
    assert_int_equal(batch.lines, 10);
    assert_int_equal(batch.errors_total, 9);
    check_error(0, 2, 14, "", "invalid json: invalid token near 'x'");
    check_error(1, 5, 18, "", NULL);
    check_error(2, 6, 1, "", "expected a json object");
    check_error(3, 7, 17, "",
                "invalid json: duplicate object key near "
                "'\"order_id\"'");
    check_error(4, 8, 6, "",
                "invalid json: too big integer near "
                "'99999999999999999999'");
    check_error(5, 9, 9, "", NULL);
    assert_int_equal(batch.errors[6].line, 10);
    assert_int_equal(batch.errors[7].line, 11);
    check_error(8, 12, 1, "", NULL);
}

static void test_max_records(void **state)
{
    const char *body = "{\"a\":1}\n\n{\"a\":2}\n";
    assert_int_equal(ingest_parse_deliveries(body, strlen(body), 1, &batch),
                     CB_ETOOBIG);
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_DELIVERIES);
    assert_int_equal(ingest_parse_deliveries(body, strlen(body), 2, &batch), 0);
    assert_int_equal(batch.errors_total, 8);
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_DELIVERIES);
    assert_int_equal(ingest_parse_deliveries("", 0, 0, &batch), 0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.errors_total, 0);
    struct ingest_batch other;
    ingest_batch_init(&other, FEED_EVENTS);
    assert_int_equal(ingest_parse_deliveries(body, strlen(body), 10, &other),
                     CB_EINVAL);
    ingest_batch_release(&other);
}

static void test_event_contract(void **state)
{
    assert_int_equal(
        events(
            "{\"event_id\":\"120-2026-000123\",\"source\":\"120\",\"type\":"
            "\"ambulance_dispatch\",\"ts\":\"2026-11-01T08:02:11+08:00\","
            "\"lat\":31.2304,\"lon\":121.5059,\"street\":\"陆家嘴街道\","
            "\"attrs\":{\"priority\":\"A\",\"crew\":[2,{\"z\":1,\"a\":2}]}}\n"
            "{\"event_id\":\"9\",\"source\":\"12345\",\"type\":\"noise\","
            "\"ts\":1761955331,\"street\":\"花木街道\"}\n"
            "{\"event_id\":\"10\",\"source\":\"110\",\"type\":\"x\","
            "\"ts\":1761955331,\"lat\":-90,\"lon\":180,\"attrs\":null}\n"),
        0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(batch.n, 3);
    const struct event *e = batch.events;
    assert_string_equal(e[0].event_id, "120-2026-000123");
    assert_string_equal(e[0].source, "120");
    assert_string_equal(e[0].type, "ambulance_dispatch");
    assert_true(e[0].ts_ns == 1793491331LL * 1000000000);
    assert_true(e[0].lat == 31.2304 && e[0].lon == 121.5059);
    assert_string_equal(e[0].street, "陆家嘴街道");
    assert_string_equal(e[0].attrs_json,
                        "{\"crew\":[2,{\"a\":2,\"z\":1}],\"priority\":\"A\"}");
    assert_true(isnan(e[1].lat) && isnan(e[1].lon));
    assert_string_equal(e[1].street, "花木街道");
    assert_null(e[1].attrs_json);
    assert_null(e[2].street);
    assert_null(e[2].attrs_json);
    assert_int_equal(e[2].line, 3);
}

static void test_event_errors(void **state)
{
    const char *body =
        "{\"source\":\"120\",\"type\":\"t\",\"ts\":1,\"lat\":31,\"lon\":121}\n"
        "{\"event_id\":\"1\",\"source\":\"120\",\"type\":\"t\",\"ts\":1}\n"
        "{\"event_id\":\"1\",\"source\":\"120\",\"type\":\"t\",\"ts\":1,"
        "\"lat\":91,\"lon\":\"121\"}\n"
        "{\"event_id\":\"1\",\"source\":\"120\",\"type\":\"t\",\"ts\":1,"
        "\"street\":\"S\",\"lat\":31}\n"
        "{\"event_id\":\"1\",\"source\":\"120\",\"type\":\"t\",\"ts\":1,"
        "\"street\":\"S\",\"attrs\":[1]}\n"
        "{\"event_id\":\"1\",\"source\":\"\",\"type\":7,\"ts\":1,"
        "\"street\":\"\"}\n";
    assert_int_equal(events(body), 0);
    assert_int_equal(batch.n, 0);
    check_error(0, 1, 1, "event_id", "missing event_id");
    check_error(1, 2, 1, "lat", "missing lat");
    check_error(2, 2, 1, "lon", "missing lon");
    check_error(3, 3, 56, "lat", "lat 91 is outside [-90, 90]");
    check_error(4, 3, 65, "lon", "lon must be a number");
    check_error(5, 4, 1, "lon", "missing lon");
    check_error(6, 5, 71, "attrs", "attrs must be a json object");
    check_error(7, 6, 26, "source", "source is empty");
    check_error(8, 6, 36, "type", "type must be a string");
    check_error(9, 6, 54, "street", "street is empty");
    check_error(10, 6, 1, "lat", "missing lat");
    assert_int_equal(batch.errors_total, 12);
}

int main(void)
{
    ingest_json_init(); /* as the server runs */
    const struct CMUnitTest tests[] = {
#define D(f) cmocka_unit_test_setup_teardown(f, setup_deliveries, teardown)
#define E(f) cmocka_unit_test_setup_teardown(f, setup_events, teardown)
        D(test_delivery_contract),
        D(test_delivery_ts_forms),
        D(test_delivery_fields),
        D(test_recipient_phone_numbers),
        D(test_recipient_full_width_phone),
        D(test_json_errors),
        D(test_max_records),
        E(test_event_contract),
        E(test_event_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
