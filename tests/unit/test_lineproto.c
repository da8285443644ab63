/* test_lineproto.c - InfluxDB line protocol to readings, and batch errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

static struct ingest_batch batch;

static int setup(void **state)
{
    ingest_batch_init(&batch, FEED_READINGS);
    return 0;
}

static int teardown(void **state)
{
    ingest_batch_release(&batch);
    return 0;
}

static int parse_prec(const char *body, enum precision prec)
{
    return ingest_parse_lineproto(body, strlen(body), prec, 1000, &batch);
}

static int parse(const char *body)
{
    return parse_prec(body, PRECISION_S);
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

/* Parses one line that must fail and checks its one error. */
static void one_error(const char *line, int column, const char *field,
                      const char *message)
{
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_READINGS);
    assert_int_equal(parse(line), 0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.errors_total, 1);
    check_error(0, 1, column, field, message);
}

static void test_contract_examples(void **state)
{
    assert_int_equal(parse("water,household=H0000123 index=1234.567 "
                           "1764547200\n"
                           "electricity,household=H0000123 delta=0.84 "
                           "1764547200\n"),
                     0);
    assert_int_equal(batch.n, 2);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(batch.lines, 2);
    const struct reading *r = batch.readings;
    assert_string_equal(r[0].household_id, "H0000123");
    assert_int_equal(r[0].household, -1);
    assert_int_equal(r[0].metric, METRIC_WATER);
    assert_int_equal(r[0].field, READING_INDEX);
    assert_true(r[0].ts_ns == 1764547200LL * 1000000000);
    assert_true(r[0].value == 1234.567);
    assert_int_equal(r[0].line, 1);
    assert_int_equal(r[1].metric, METRIC_ELECTRICITY);
    assert_int_equal(r[1].field, READING_DELTA);
    assert_true(r[1].value == 0.84);
    assert_int_equal(r[1].line, 2);
    /* The same id is stored once. */
    assert_ptr_equal(r[0].household_id, r[1].household_id);
}

static void test_syntax_variants(void **state)
{
    const char *body =
        "# a comment\n"
        "\n"
        "   \t\n"
        "gas,zone=a\\ b,household=H-1.a:b_c index=12i,temp=-3.5,ok=t,"
        "note=\"x, y=\\\"z\\\"\" 1764547200\r\n"
        "  water,household=H2 delta=1.5e1,count=3u\n"
        "electricity,household=H3 index=7 \n"
        "water,household=H4 index=.5,flag=FALSE 1764547201   \n"
        "  # indented comment\n"
        "water,household=H5 index=+2.";
    assert_int_equal(parse(body), 0);
    assert_int_equal(batch.errors_total, 0);
    assert_int_equal(batch.n, 5);
    assert_int_equal(batch.lines, 5);
    const struct reading *r = batch.readings;
    assert_string_equal(r[0].household_id, "H-1.a:b_c");
    assert_int_equal(r[0].metric, METRIC_GAS);
    assert_true(r[0].value == 12.0);
    assert_int_equal(r[0].line, 4);
    assert_string_equal(r[1].household_id, "H2");
    assert_true(r[1].value == 15.0);
    assert_int_equal(r[1].field, READING_DELTA);
    assert_int_equal(r[2].line, 6);
    assert_true(r[3].value == 0.5);
    assert_true(r[3].ts_ns == 1764547201LL * 1000000000);
    assert_true(r[4].value == 2.0);
    assert_int_equal(r[4].line, 9);
}

static void test_missing_timestamp_is_now(void **state)
{
    int64_t before = time_now_ns();
    assert_int_equal(parse("water,household=H1 index=1\n"
                           "water,household=H2 index=2\n"),
                     0);
    int64_t after = time_now_ns();
    assert_int_equal(batch.n, 2);
    assert_true(batch.readings[0].ts_ns >= before);
    assert_true(batch.readings[0].ts_ns <= after);
    assert_true(batch.readings[0].ts_ns == batch.readings[1].ts_ns);
}

static void test_precisions(void **state)
{
    static const struct {
        enum precision p;
        const char *ts;
        int64_t ns;
    } cases[] = {
        {PRECISION_S, "1764547200", 1764547200000000000LL},
        {PRECISION_MS, "1764547200123", 1764547200123000000LL},
        {PRECISION_US, "1764547200123456", 1764547200123456000LL},
        {PRECISION_NS, "1764547200123456789", 1764547200123456789LL},
        {PRECISION_S, "0", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[128];
        snprintf(line, sizeof(line), "water,household=H1 index=1 %s",
                 cases[i].ts);
        ingest_batch_release(&batch);
        ingest_batch_init(&batch, FEED_READINGS);
        assert_int_equal(parse_prec(line, cases[i].p), 0);
        assert_int_equal(batch.n, 1);
        assert_true(batch.readings[0].ts_ns == cases[i].ns);
    }
    assert_int_equal(precision_parse("ns"), PRECISION_NS);
    assert_int_equal(precision_parse("us"), PRECISION_US);
    assert_int_equal(precision_parse("ms"), PRECISION_MS);
    assert_int_equal(precision_parse("s"), PRECISION_S);
    assert_int_equal(precision_parse("h"), -1);
    assert_int_equal(precision_parse(""), -1);
}

static void test_timestamp_overflow(void **state)
{
    /* 9223372037 s is past INT64_MAX ns; 2200-01-01 (7258118400 s) is
     * the first refused instant, CB_TS_MAX_S. */
    one_error("water,household=H1 index=1 9223372037", 28, "timestamp",
              "timestamp '9223372037' is out of range for precision 's'; "
              "years 1970 to 2199 are accepted");
    one_error("water,household=H1 index=1 9223372036", 28, "timestamp", NULL);
    one_error("water,household=H1 index=1 7258118400", 28, "timestamp", NULL);
    assert_int_equal(
        parse_prec("water,household=H1 index=1 7258118399", PRECISION_S), 0);
    one_error("water,household=H1 index=1 99999999999999999999", 28,
              "timestamp", NULL);
    one_error("water,household=H1 index=1 17645x", 28, "timestamp",
              "invalid timestamp '17645x'");
    one_error("water,household=H1 index=1 -5", 28, "timestamp",
              "negative timestamp '-5'");
    one_error("water,household=H1 index=1 5 6", 30, "timestamp",
              "unexpected text '6' after the timestamp");
}

static void test_measurement_errors(void **state)
{
    one_error("steam,household=H1 index=1", 1, "measurement",
              "unknown measurement 'steam'; expected water, electricity or "
              "gas");
    one_error("  Water,household=H1 index=1", 3, "measurement", NULL);
    one_error(",household=H1 index=1", 1, "measurement", "missing measurement");
    one_error("wat\\ er,household=H1 index=1", 1, "measurement",
              "unknown measurement 'wat\\ er'; expected water, electricity "
              "or gas");
}

static void test_tag_errors(void **state)
{
    one_error("water index=1 1", 1, "household", "missing tag 'household'");
    one_error("water,zone=a index=1", 1, "household",
              "missing tag 'household'");
    one_error("water,household=H/1 index=1", 17, "household",
              "invalid household id 'H/1'; expected 1 to 64 of A-Z a-z 0-9 "
              "_ . : -");
    one_error("water,household=H\\ 1 index=1", 17, "household", NULL);
    one_error("water,household=H1,household=H2 index=1", 20, "household",
              "duplicate tag 'household'");
    one_error("water,household index=1", 7, "tags",
              "tag 'household' has no value");
    one_error("water,household= index=1", 17, "tags",
              "tag 'household' has an empty value");
    one_error("water,=x,household=H1 index=1", 7, "tags", "empty tag key");
    char longid[128];
    snprintf(longid, sizeof(longid), "water,household=%065d index=1", 7);
    one_error(longid, 17, "household", NULL);
    snprintf(longid, sizeof(longid), "water,household=%064d index=1", 7);
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_READINGS);
    assert_int_equal(parse(longid), 0);
    assert_int_equal(batch.n, 1);
}

static void test_field_errors(void **state)
{
    one_error("water,household=H1 index=1,delta=2", 28, "delta",
              "line has both 'index' and 'delta'; give exactly one");
    one_error("water,household=H1 delta=1,index=2", 28, "index", NULL);
    one_error("water,household=H1 delta=-1,index=2", 26, "delta", NULL);
    one_error("water,household=H1 temp=1", 20, "index",
              "missing field 'index' or 'delta'");
    one_error("water,household=H1", 19, "index",
              "missing field 'index' or 'delta'");
    one_error("water,household=H1 index=-0.5", 26, "index",
              "negative index '-0.5'");
    one_error("water,household=H1 delta=-1i", 26, "delta",
              "negative delta '-1i'");
    one_error("water,household=H1 index=nan", 26, "index",
              "field 'index' must be a number, got 'nan'");
    one_error("water,household=H1 index=inf", 26, "index", NULL);
    one_error("water,household=H1 index=\"12\"", 26, "index",
              "field 'index' must be a number, got '\"12\"'");
    one_error("water,household=H1 index=true", 26, "index", NULL);
    one_error("water,household=H1 index=1e999", 26, "index",
              "index '1e999' is out of range");
    one_error("water,household=H1 index=0x10", 26, "index", NULL);
    one_error("water,household=H1 index=1,index=2", 28, "index",
              "duplicate field 'index'");
    one_error("water,household=H1 index=", 26, "index",
              "field 'index' has an empty value");
    one_error("water,household=H1 index", 20, "index",
              "field 'index' has no value");
    one_error("water,household=H1 index=1,note=\"open", 33, "note",
              "unterminated string value in field 'note'");
    one_error("water,household=H1 index=1,temp=warm", 33, "temp",
              "invalid value 'warm' for field 'temp'");
    one_error("water,household=H1 index=1,note=\"a\"x", 36, "fields",
              "unexpected 'x' after a field");
    one_error("water,household=H1 index=1,", 28, "fields", "empty field key");
    one_error("water,household=H1 index=1-2", 26, "index", NULL);
    one_error("water,household=H1 index=1.2.3", 26, "index", NULL);
    one_error("water,household=H1 index=12i3", 26, "index", NULL);
    one_error("water,household=H1 index=-3u", 26, "index", NULL);
}

static void test_error_positions_over_lines(void **state)
{
    const char *body = "water,household=H1 index=1 1\r\n"
                       "# comment\n"
                       "water,household=H1 index=x 1\r\n"
                       "\n"
                       "water,household=H2 index=2 2\n"
                       "steam,household=H1 index=1 1\n";
    assert_int_equal(parse(body), 0);
    assert_int_equal(batch.n, 2);
    assert_int_equal(batch.lines, 4);
    assert_int_equal(batch.errors_total, 2);
    check_error(0, 3, 26, "index", "field 'index' must be a number, got 'x'");
    check_error(1, 6, 1, "measurement", NULL);
    assert_int_equal(batch.readings[1].line, 5);
}

static void test_numbers_exact(void **state)
{
    static const char *const values[] = {"0",
                                         "1",
                                         "0.1",
                                         "1234.567",
                                         "99999.999",
                                         "0.84",
                                         "3.14159",
                                         "123456789012345",
                                         "1.7976931348623157e308",
                                         "2.2250738585072014e-308",
                                         "0.000001",
                                         "1234567890.123456789",
                                         "9007199254740993",
                                         "00012.50",
                                         "4.35",
                                         "0.3",
                                         "1e-5",
                                         "12E+2"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char line[128];
        snprintf(line, sizeof(line), "gas,household=H1 index=%s 1", values[i]);
        ingest_batch_release(&batch);
        ingest_batch_init(&batch, FEED_READINGS);
        assert_int_equal(parse(line), 0);
        assert_int_equal(batch.n, 1);
        assert_true(batch.readings[0].value == strtod(values[i], NULL));
    }
}

static void test_max_records(void **state)
{
    const char *body = "# c\nwater,household=H1 index=1 1\n\n"
                       "water,household=H1 index=2 2\n# c\n";
    assert_int_equal(
        ingest_parse_lineproto(body, strlen(body), PRECISION_S, 2, &batch), 0);
    assert_int_equal(batch.n, 2);
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_READINGS);
    assert_int_equal(
        ingest_parse_lineproto(body, strlen(body), PRECISION_S, 1, &batch),
        CB_ETOOBIG);
    ingest_batch_release(&batch);
    ingest_batch_init(&batch, FEED_READINGS);
    assert_int_equal(ingest_parse_lineproto("", 0, PRECISION_S, 0, &batch), 0);
    assert_int_equal(batch.n, 0);
    assert_int_equal(batch.errors_total, 0);
}

static void test_wrong_feed(void **state)
{
    struct ingest_batch other;
    ingest_batch_init(&other, FEED_EVENTS);
    assert_int_equal(ingest_parse_lineproto("water,household=H1 index=1", 26,
                                            PRECISION_S, 10, &other),
                     CB_EINVAL);
    ingest_batch_release(&other);
}

static void test_error_cap_and_drop(void **state)
{
    struct sbuf body = SBUF_INIT;
    sbuf_init(&body);
    for (int i = 1; i <= 300; i++)
        sbuf_addf(&body, "%s,household=H%d index=%d %d\n",
                  i % 2 ? "water" : "steam", i, i, i);
    assert_int_equal(
        ingest_parse_lineproto(body.buf, body.len, PRECISION_S, 1000, &batch),
        0);
    assert_int_equal(batch.n, 150);
    assert_int_equal(batch.errors_total, 150);
    assert_int_equal(batch.n_errors, INGEST_MAX_REPORTED_ERRORS);
    /* Errors found after parsing (unknown households) drop their lines,
     * even those past the first 100 errors. */
    ingest_error_add(&batch, 1, 1, "household", "unknown household '%s'", "H1");
    ingest_error_add(&batch, 299, 1, "household", "unknown household '%s'",
                     "H299");
    ingest_batch_drop_failed_lines(&batch);
    assert_int_equal(batch.n, 148);
    assert_string_equal(batch.readings[0].household_id, "H3");
    assert_string_equal(batch.readings[147].household_id, "H297");
    assert_int_equal(batch.errors_total, 152);
    sbuf_release(&body);
}

static void test_errors_to_json(void **state)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    ingest_errors_to_json(&batch, &out);
    assert_string_equal(out.buf, "[]");
    assert_int_equal(parse("water,household=H1 index=1 1\n"
                           "steam,household=H1 index=1 1\n"),
                     0);
    ingest_error_add(&batch, 1, 7, "household", "unknown household \"%s\"",
                     "H\\1");
    sbuf_reset(&out);
    ingest_errors_to_json(&batch, &out);
    assert_string_equal(
        out.buf,
        "[{\"line\":2,\"column\":1,\"field\":\"measurement\",\"message\":"
        "\"unknown measurement 'steam'; expected water, electricity or "
        "gas\"},"
        "{\"line\":1,\"column\":7,\"field\":\"household\",\"message\":"
        "\"unknown household \\\"H\\\\1\\\"\"}]");
    sbuf_release(&out);
}

static void test_error_text_is_clean_utf8(void **state)
{
    /* An overlong, invalid and control-laden measurement is quoted
     * shortened and printable. */
    one_error("\xe6\xb0\xb4\xff\x01"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              ",household=H1 index=1",
              1, "measurement",
              "unknown measurement '\xe6\xb0\xb4??aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aaaaaa...'; expected water, electricity or gas");
    /* Messages cut at 160 bytes never end inside a UTF-8 sequence. */
    char msg[400];
    memset(msg, 0, sizeof(msg));
    for (int i = 0; i < 100; i++)
        memcpy(msg + i * 3, "\xe6\xb0\xb4", 3);
    ingest_error_add(&batch, 1, 1, "f", "%s", msg);
    const char *m = batch.errors[batch.n_errors - 1].message;
    assert_int_equal(strlen(m) % 3, 0);
    assert_true(strlen(m) > 150);
}

static void test_names(void **state)
{
    assert_string_equal(feed_name(FEED_REGISTRY), "registry");
    assert_string_equal(feed_name(FEED_READINGS), "readings");
    assert_string_equal(feed_name(FEED_DELIVERIES), "deliveries");
    assert_string_equal(feed_name(FEED_EVENTS), "events");
    assert_string_equal(metric_name(METRIC_GAS), "gas");
    assert_string_equal(metric_name(METRIC_ELECTRICITY), "electricity");
    assert_int_equal(metric_parse("water", 5), METRIC_WATER);
    assert_int_equal(metric_parse("wate", 4), -1);
    assert_int_equal(metric_parse("waters", 6), -1);
    assert_true(metric_unit_is_m3(METRIC_WATER));
    assert_true(metric_unit_is_m3(METRIC_GAS));
    assert_false(metric_unit_is_m3(METRIC_ELECTRICITY));
}

/* Plausibility rules (ingest.h): the window around the district clock
 * and the largest value per metric, each a line error that says where. */
static void test_plausible(void **state)
{
    const int64_t now = 1764547200LL * 1000000000LL; /* 2025-12-01 */
    struct ingest_plausible rules = {now,
                                     86400LL * 1000000000LL,
                                     730LL * 86400 * 1000000000LL,
                                     {1e8, 1e9, 1e8},
                                     {1e4, 1e5, 1e4}};
    batch.plausible = &rules;
    assert_int_equal(parse("gas,household=H2 index=1 4102444800\n"
                           "gas,household=H2 index=1 1764633599\n"
                           "gas,household=H2 index=1 1764633601\n"
                           "gas,household=H2 index=1 1701475199\n"
                           "water,household=H2 index=1e308 1764547200\n"
                           "water,household=H2 delta=1.8e19 1764547200\n"
                           "electricity,household=H2 delta=99999 1764547200\n"
                           "gas,household=H2 index=7\n"),
                     0);
    assert_int_equal(batch.n, 3);
    assert_int_equal(batch.errors_total, 5);
    check_error(0, 1, 26, "timestamp",
                "timestamp 2100-01-01T08:00:00+08:00 is more than 86400 s "
                "after the district clock (2025-12-01T08:00:00+08:00)");
    check_error(1, 3, 26, "timestamp", NULL);
    check_error(2, 4, 26, "timestamp",
                "timestamp 2023-12-02T07:59:59+08:00 is more than 730 days "
                "before the district clock (2025-12-01T08:00:00+08:00)");
    check_error(3, 5, 26, "index", NULL);
    assert_non_null(strstr(batch.errors[3].message, "water_max_index"));
    check_error(4, 6, 26, "delta", NULL);
    /* A line without a timestamp gets the district clock's now. */
    assert_int_equal(batch.readings[2].ts_ns, now);
    /* The rules survive a release, for the next batch. */
    ingest_batch_release(&batch);
    assert_ptr_equal(batch.plausible, &rules);
    batch.plausible = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_contract_examples),
        T(test_syntax_variants),
        T(test_missing_timestamp_is_now),
        T(test_precisions),
        T(test_timestamp_overflow),
        T(test_measurement_errors),
        T(test_tag_errors),
        T(test_field_errors),
        T(test_error_positions_over_lines),
        T(test_numbers_exact),
        T(test_max_records),
        T(test_wrong_feed),
        T(test_error_cap_and_drop),
        T(test_errors_to_json),
        T(test_error_text_is_clean_utf8),
        T(test_names),
        T(test_plausible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
