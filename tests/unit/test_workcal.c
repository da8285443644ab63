/* test_workcal.c - working days from the holiday calendar (with make-up
 * days), working hours, and deadlines in working time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/util.h"
#include "workcal/workcal.h"

#define TZ 480 /* +08:00 */

/* Epoch seconds of a district (UTC+8) date and time. */
static int64_t at(int y, unsigned mo, unsigned d, int h, int mi)
{
    return time_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 -
           TZ * 60;
}

static struct workcal *builtin(const char *hours)
{
    struct workcal *w;
    char err[200];
    int rc = workcal_new(workcal_cn_text, strlen(workcal_cn_text), hours, TZ,
                         &w, err, sizeof(err));
    if (rc)
        fail_msg("built-in calendar: %s", err);
    return w;
}

static int64_t add(const struct workcal *w, int64_t from, int64_t minutes)
{
    int64_t out = -1;
    assert_int_equal(workcal_add(w, from, minutes * 60, &out), 0);
    return out;
}

static void test_builtin_days(void **state)
{
    struct workcal *w = builtin("09:00-17:00");
    /* make-up Sundays and Saturdays work; holidays on weekdays do not */
    assert_true(workcal_is_workday(w, time_days_from_civil(2025, 1, 26)));
    assert_true(workcal_is_workday(w, time_days_from_civil(2026, 2, 14)));
    assert_true(workcal_is_workday(w, time_days_from_civil(2026, 1, 4)));
    assert_false(workcal_is_workday(w, time_days_from_civil(2025, 1, 28)));
    assert_false(workcal_is_workday(w, time_days_from_civil(2026, 10, 7)));
    assert_false(workcal_is_workday(w, time_days_from_civil(2027, 6, 9)));
    /* ordinary days */
    assert_true(workcal_is_workday(w, time_days_from_civil(2026, 11, 27)));
    assert_false(workcal_is_workday(w, time_days_from_civil(2026, 11, 28)));
    assert_false(workcal_is_workday(w, time_days_from_civil(2026, 11, 29)));
    assert_int_equal(workcal_day_seconds(w), 8 * 3600);
    workcal_free(w);
}

static void test_add_over_weekend_holiday_and_make_up_day(void **state)
{
    struct workcal *w = builtin("09:00-17:00");
    /* Friday 16:00 + 2 working hours: Monday 10:00 */
    assert_int_equal(add(w, at(2026, 11, 27, 16, 0), 120),
                     at(2026, 11, 30, 10, 0));
    /* Friday 2026-02-13 16:00 + 2h: the make-up Saturday, 10:00 */
    assert_int_equal(add(w, at(2026, 2, 13, 16, 0), 120),
                     at(2026, 2, 14, 10, 0));
    /* Saturday 14th 16:00 + 2h: past 春节 (15th-23rd) to Tuesday 24th */
    assert_int_equal(add(w, at(2026, 2, 14, 16, 0), 120),
                     at(2026, 2, 24, 10, 0));
    /* Wednesday 2026-09-30 16:00 + 2h: past 国庆 (1st-7th) to the 8th */
    assert_int_equal(add(w, at(2026, 9, 30, 16, 0), 120),
                     at(2026, 10, 8, 10, 0));
    /* three working days from a Friday at noon: Wednesday noon */
    assert_int_equal(add(w, at(2026, 11, 27, 12, 0), 3 * 8 * 60),
                     at(2026, 12, 2, 12, 0));
    workcal_free(w);
}

static void test_add_edges_of_the_day(void **state)
{
    struct workcal *w = builtin("09:00-17:00");
    int64_t mon9 = at(2026, 11, 30, 9, 0);
    assert_int_equal(add(w, mon9, 8 * 60), at(2026, 11, 30, 17, 0));
    assert_int_equal(add(w, mon9, 8 * 60 + 1), at(2026, 12, 1, 9, 1));
    assert_int_equal(add(w, at(2026, 11, 30, 7, 0), 60),
                     at(2026, 11, 30, 10, 0));
    assert_int_equal(add(w, at(2026, 11, 30, 18, 0), 60),
                     at(2026, 12, 1, 10, 0));
    assert_int_equal(add(w, mon9 + 17, 0), mon9 + 17);
    workcal_free(w);
    /* a lunch break */
    w = builtin("09:00-12:00,13:30-17:30");
    assert_int_equal(add(w, at(2026, 11, 30, 11, 0), 120),
                     at(2026, 11, 30, 14, 30));
    assert_int_equal(add(w, at(2026, 11, 30, 12, 30), 30),
                     at(2026, 11, 30, 14, 0));
    assert_int_equal(workcal_day_seconds(w), 7 * 3600);
    workcal_free(w);
}

static void test_bad_text_says_where(void **state)
{
    struct workcal *w = (struct workcal *)1;
    char err[200];
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"2026-02-30 off\n", "line 1, column 1"},
        {"# ok\n2026-01-01 maybe\n", "line 2, column 12"},
        {"2026-01-01\n", "line 1, column 11"},
        {"2026-01-05..2026-01-01 off\n", "line 1, column 13"},
        {"2026-01-05..20 off\n", "line 1, column 13"},
        {"\n\n2026-01-01 offish\n", "line 3, column 12"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = workcal_new(bad[i].text, strlen(bad[i].text), "09:00-17:00",
                             TZ, &w, err, sizeof(err));
        assert_int_equal(rc, CB_EINVAL);
        assert_null(w);
        if (!strstr(err, bad[i].want))
            fail_msg("'%s': got '%s', want '%s'", bad[i].text, err,
                     bad[i].want);
    }
    static const char *const hours[] = {
        "9-17",        "17:00-09:00", "", "09:00-12:00,11:00-13:00",
        "09:00-25:00", "09:00-17:00;"};
    for (size_t i = 0; i < sizeof(hours) / sizeof(hours[0]); i++) {
        assert_int_equal(workcal_new("", 0, hours[i], TZ, &w, err, sizeof(err)),
                         CB_EINVAL);
        assert_non_null(strstr(err, "hours"));
    }
    /* a range, a name, comments and CRLF are fine */
    const char *ok = "2030-01-07..2030-01-08 off 测试\r\n2030-01-05 work\n";
    assert_int_equal(
        workcal_new(ok, strlen(ok), "09:00-17:00", TZ, &w, err, sizeof(err)),
        0);
    assert_false(workcal_is_workday(w, time_days_from_civil(2030, 1, 8)));
    assert_true(workcal_is_workday(w, time_days_from_civil(2030, 1, 5)));
    workcal_free(w);
}

static void test_time_zone(void **state)
{
    struct workcal *w;
    char err[200];
    assert_int_equal(
        workcal_new("", 0, "09:00-17:00", -300, &w, err, sizeof(err)), 0);
    /* Monday 2026-11-30 16:00 at -05:00 is 21:00 UTC; + 2h: Tuesday 10:00
     * local, 15:00 UTC */
    int64_t mon16 = time_days_from_civil(2026, 11, 30) * 86400 + 21 * 3600;
    int64_t out;
    assert_int_equal(workcal_add(w, mon16, 7200, &out), 0);
    assert_int_equal(out,
                     time_days_from_civil(2026, 12, 1) * 86400 + 15 * 3600);
    workcal_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_days),
        cmocka_unit_test(test_add_over_weekend_holiday_and_make_up_day),
        cmocka_unit_test(test_add_edges_of_the_day),
        cmocka_unit_test(test_bad_text_says_where),
        cmocka_unit_test(test_time_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
