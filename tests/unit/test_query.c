/* test_query.c - URL query strings and typed parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/query.h"
#include "util/util.h"

static struct query q;
static char err[200];

static int parse(const char *s)
{
    err[0] = '\0';
    return query_parse(&q, s, strlen(s), err, sizeof(err));
}

static void test_decoding(void **state)
{
    assert_int_equal(parse("limit=20&street=%E9%99%86%E5%AE%B6%E5%98%B4"
                           "&tag=a&tag=b+c%2Bd&&flag&=orphan&empty=&x=%3d%3D"),
                     0);
    assert_int_equal(q.n, 7);
    assert_string_equal(query_get(&q, "limit"), "20");
    assert_string_equal(query_get(&q, "street"), "陆家嘴");
    assert_int_equal(q.params[1].value_len, strlen("陆家嘴"));
    assert_string_equal(query_get(&q, "tag"), "a");
    assert_string_equal(query_get_nth(&q, "tag", 1), "b c+d");
    assert_null(query_get_nth(&q, "tag", 2));
    assert_int_equal(query_count(&q, "tag"), 2);
    assert_string_equal(query_get(&q, "flag"), "");
    assert_string_equal(query_get(&q, "empty"), "");
    assert_string_equal(query_get(&q, "x"), "==");
    assert_null(query_get(&q, "orphan"));
    assert_null(query_get(&q, "missing"));
    assert_int_equal(query_count(&q, "missing"), 0);
    /* Keys are decoded too, and a leading '?' is ignored. */
    assert_int_equal(parse("?on%5Ferror=skip&a+b=1"), 0);
    assert_string_equal(query_get(&q, "on_error"), "skip");
    assert_string_equal(query_get(&q, "a b"), "1");
    assert_int_equal(parse(""), 0);
    assert_int_equal(q.n, 0);
    assert_int_equal(query_parse(&q, NULL, 0, NULL, 0), 0);
}

static void test_bad_input(void **state)
{
    assert_int_equal(parse("a=1&b=%zz"), CB_EINVAL);
    assert_string_equal(err, "bad percent-escape at byte 7 of the query "
                             "string");
    assert_int_equal(q.n, 0);
    assert_int_equal(parse("a=%4"), CB_EINVAL);
    assert_string_equal(err, "bad percent-escape at byte 3 of the query "
                             "string");
    assert_int_equal(parse("a%=1"), CB_EINVAL);
    assert_int_equal(parse("a=%00"), CB_EINVAL);
    assert_string_equal(err, "query string holds a NUL byte");
    assert_int_equal(parse("a=%FF"), CB_EINVAL);
    assert_string_equal(err, "query string is not valid utf-8");
    assert_int_equal(parse("a=%C0%AF"), CB_EINVAL);    /* overlong '/' */
    assert_int_equal(parse("a=%ED%A0%80"), CB_EINVAL); /* surrogate */
    /* Budgets. */
    char big[QUERY_MAX_LEN + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(parse(big), CB_ETOOBIG);
    assert_string_equal(err, "query string is longer than 4096 bytes");
    big[QUERY_MAX_LEN] = '\0';
    assert_int_equal(parse(big), 0);
    assert_int_equal(q.n, 1);
    char many[1024] = "";
    for (int i = 0; i <= QUERY_MAX_PARAMS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "k%d=%d&", i,
                 i);
    assert_int_equal(parse(many), CB_ETOOBIG);
    assert_string_equal(err, "query string has more than 64 parameters");
    assert_int_equal(q.n, 0);
    many[strlen(many) - strlen("k64=64&")] = '\0';
    assert_int_equal(parse(many), 0);
    assert_int_equal(q.n, QUERY_MAX_PARAMS);
    assert_string_equal(query_get(&q, "k63"), "63");
    /* 64 pairs filling all 4096 bytes: every decoded byte fits. */
    char dense[QUERY_MAX_LEN + 1];
    size_t len = 0;
    for (int i = 0; i < QUERY_MAX_PARAMS; i++) {
        len += (size_t)snprintf(dense + len, sizeof(dense) - len,
                                "%sk%02d=", i ? "&" : "", i);
        size_t value = i == QUERY_MAX_PARAMS - 1 ? QUERY_MAX_LEN - len : 58;
        memset(dense + len, '+', value);
        len += value;
    }
    dense[len] = '\0';
    assert_int_equal(strlen(dense), QUERY_MAX_LEN);
    assert_int_equal(parse(dense), 0);
    assert_int_equal(q.n, QUERY_MAX_PARAMS);
    assert_int_equal(strlen(query_get(&q, "k00")), 58);
    assert_int_equal(q.params[63].value_len, QUERY_MAX_LEN - 63 * 63 - 4);
}

static void test_get_int(void **state)
{
    int64_t v = 0;
    assert_int_equal(parse("limit=25&neg=-3&bad=ten&big=99999999999999999999"
                           "&empty=&limit=7"),
                     0);
    assert_int_equal(
        query_get_int(&q, "limit", 1, 1000, 50, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 25); /* the first of repeated keys */
    assert_int_equal(
        query_get_int(&q, "absent", 1, 1000, 50, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 50);
    assert_int_equal(query_get_int(&q, "neg", -5, 5, 0, &v, err, sizeof(err)),
                     0);
    assert_int_equal(v, -3);
    v = 42;
    assert_int_equal(
        query_get_int(&q, "neg", 1, 1000, 50, &v, err, sizeof(err)), CB_EINVAL);
    assert_string_equal(err, "parameter 'neg' must be between 1 and 1000, "
                             "got '-3'");
    assert_int_equal(v, 42);
    assert_int_equal(
        query_get_int(&q, "bad", 1, 1000, 50, &v, err, sizeof(err)), CB_EINVAL);
    assert_string_equal(err, "parameter 'bad' must be an integer, got 'ten'");
    assert_int_equal(
        query_get_int(&q, "big", 1, 1000, 50, &v, err, sizeof(err)), CB_EINVAL);
    assert_int_equal(
        query_get_int(&q, "empty", 1, 1000, 50, &v, err, sizeof(err)),
        CB_EINVAL);
    assert_string_equal(err, "parameter 'empty' must be an integer, got ''");
    assert_int_equal(v, 42);
    /* err may be NULL. */
    assert_int_equal(query_get_int(&q, "bad", 1, 2, 1, &v, NULL, 0), CB_EINVAL);
}

static void test_get_enum_bool(void **state)
{
    static const char *const precisions[] = {"ns", "us", "ms", "s"};
    int v = -1;
    assert_int_equal(parse("precision=ms&p2=h&on=yes&off=0&flag&bad=maybe"), 0);
    assert_int_equal(
        query_get_enum(&q, "precision", precisions, 4, 0, &v, err, sizeof(err)),
        0);
    assert_int_equal(v, 2);
    assert_int_equal(
        query_get_enum(&q, "absent", precisions, 4, 0, &v, err, sizeof(err)),
        0);
    assert_int_equal(v, 0);
    assert_int_equal(
        query_get_enum(&q, "p2", precisions, 4, 0, &v, err, sizeof(err)),
        CB_EINVAL);
    assert_string_equal(err, "parameter 'p2' must be one of ns, us, ms, s; "
                             "got 'h'");
    assert_int_equal(v, 0);
    assert_int_equal(query_get_bool(&q, "on", 0, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 1);
    assert_int_equal(query_get_bool(&q, "off", 1, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 0);
    assert_int_equal(query_get_bool(&q, "flag", 0, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 1);
    assert_int_equal(query_get_bool(&q, "absent", 1, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 1);
    assert_int_equal(query_get_bool(&q, "bad", 0, &v, err, sizeof(err)),
                     CB_EINVAL);
    assert_string_equal(err,
                        "parameter 'bad' must be true or false, got 'maybe'");
}

static void test_messages_quote_safely(void **state)
{
    int64_t v;
    /* A long multi-byte value is cut on a character boundary; control
     * characters are shown as '?'. */
    assert_int_equal(parse("limit=%01%E9%99%86%E9%99%86%E9%99%86%E9%99%86"
                           "%E9%99%86%E9%99%86%E9%99%86%E9%99%86%E9%99%86"
                           "%E9%99%86%E9%99%86%E9%99%86%E9%99%86%E9%99%86"),
                     0);
    assert_int_equal(query_get_int(&q, "limit", 1, 10, 1, &v, err, sizeof(err)),
                     CB_EINVAL);
    assert_string_equal(err, "parameter 'limit' must be an integer, got "
                             "'?陆陆陆陆陆陆陆陆陆陆陆陆陆...'");
}

static void test_check_known(void **state)
{
    static const char *const known[] = {"limit", "street", "committee"};
    assert_int_equal(parse("limit=5&street=x"), 0);
    assert_int_equal(query_check_known(&q, known, 3, err, sizeof(err)), 0);
    assert_int_equal(parse("limit=5&stret=x"), 0);
    assert_int_equal(query_check_known(&q, known, 3, err, sizeof(err)),
                     CB_EINVAL);
    assert_string_equal(err, "unknown parameter 'stret'");
}

/* One parser for every read endpoint's from/to: range-checked, real
 * dates only, a date is the district's midnight. */
static void test_get_time(void **state)
{
    int64_t ns = 7;
    assert_int_equal(parse("a=1764547200&b=2025-11-28&c=2025-11-28T08:00:00%2B"
                           "08:00&d=99999999999999&e=2026-02-31"
                           "&f=-999-01-01&g=%2B2026-11-01&h=2024-02-29"
                           "&i=-9223372036854775808&j=2025-02-29T00:00:00Z"),
                     0);
    assert_int_equal(query_get_time(&q, "a", 480, 0, 0, &ns, err, 200), 0);
    assert_int_equal(ns, 1764547200LL * 1000000000LL);
    assert_int_equal(query_get_time(&q, "b", 480, 0, 0, &ns, err, 200), 0);
    assert_int_equal(ns, (1764288000LL - 8 * 3600) * 1000000000LL);
    assert_int_equal(query_get_time(&q, "b", 480, 1, 0, &ns, err, 200), 0);
    assert_int_equal(ns, (1764288000LL + 16 * 3600) * 1000000000LL);
    assert_int_equal(query_get_time(&q, "c", 0, 0, 0, &ns, err, 200), 0);
    assert_int_equal(ns, 1764288000LL * 1000000000LL);
    assert_int_equal(query_get_time(&q, "h", 0, 0, 0, &ns, err, 200), 0);
    ns = 7;
    const char *bad[] = {"d", "e", "f", "g", "i", "j"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(query_get_time(&q, bad[i], 480, 0, 0, &ns, err, 200),
                         CB_EINVAL);
        assert_non_null(strstr(err, "parameter '"));
    }
    assert_int_equal(ns, 7);
    assert_int_equal(query_get_time(&q, "absent", 480, 0, 42, &ns, err, 200),
                     0);
    assert_int_equal(ns, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoding),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_get_enum_bool),
        cmocka_unit_test(test_messages_quote_safely),
        cmocka_unit_test(test_check_known),
        cmocka_unit_test(test_get_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
