/* test_util.c - errors, buffers, arenas, time parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/util.h"

static void test_sbuf_grows_and_escapes(void **state)
{
    struct sbuf sb = SBUF_INIT;
    sbuf_init(&sb);
    assert_string_equal(sb.buf, "");
    for (int i = 0; i < 1000; i++)
        sbuf_addf(&sb, "%d,", i);
    assert_int_equal(strncmp(sb.buf, "0,1,2,", 6), 0);
    sbuf_reset(&sb);
    sbuf_add_json_str(&sb, "a\"b\\c\n\x01张");
    assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\n\\u0001张\"");
    sbuf_release(&sb);
}

static void test_arena_alignment(void **state)
{
    struct arena a = ARENA_INIT;
    for (int i = 1; i < 5000; i++) {
        void *p = arena_alloc(&a, (size_t)(i % 77) + 1);
        assert_int_equal((uintptr_t)p % 16, 0);
    }
    char *big = arena_alloc(&a, 1 << 20); /* larger than a chunk */
    memset(big, 1, 1 << 20);
    assert_string_equal(arena_strndup(&a, "household", 5), "house");
    arena_release(&a);
    assert_null(a.head);
}

static void test_time_parse_iso(void **state)
{
    int64_t ns;
    int col = 0;
    assert_int_equal(time_parse_iso("2026-11-01T12:34:56+08:00", 25, &ns, &col),
                     0);
    assert_int_equal(ns / 1000000000, 1793507696);
    assert_int_equal(time_parse_iso("2026-11-01 04:34:56Z", 20, &ns, &col), 0);
    assert_int_equal(ns / 1000000000, 1793507696);
    assert_int_equal(time_parse_iso("2026-11-01T04:34:56.250", 23, &ns, &col),
                     0);
    assert_int_equal(ns % 1000000000, 250000000);
    assert_int_equal(time_parse_iso("2026-13-01T00:00:00", 19, &ns, &col),
                     CB_EINVAL);
    assert_int_equal(time_parse_iso("2026-11-01X00:00:00", 19, &ns, &col),
                     CB_EINVAL);
    assert_int_equal(col, 11);
    assert_int_equal(time_parse_iso("2026-11-01T00:00:00+0800", 24, &ns, &col),
                     CB_EINVAL);
}

static void test_civil_round_trip(void **state)
{
    for (int64_t d = -800000; d < 800000; d += 997) {
        int y;
        unsigned m, dd;
        time_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(time_days_from_civil(y, m, dd), d);
    }
    char out[32];
    time_format_iso(1764547200, 480, out);
    assert_string_equal(out, "2025-12-01T08:00:00+08:00");
}

static void test_parse_numbers(void **state)
{
    int64_t v;
    double d;
    assert_int_equal(parse_int64("-42", 3, &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(parse_int64("4x", 2, &v), CB_EINVAL);
    assert_int_equal(parse_int64("", 0, &v), CB_EINVAL);
    assert_int_equal(parse_double("1e3", 3, &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(parse_double("inf", 3, &d), CB_EINVAL);
    assert_string_equal(cb_strerror(CB_EBUSY), "busy, try again later");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbuf_grows_and_escapes),
        cmocka_unit_test(test_arena_alignment),
        cmocka_unit_test(test_time_parse_iso),
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_parse_numbers),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
