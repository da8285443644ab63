/* test_case_sla.c - the SLA table of case deadlines: which entry fits a
 * category and step, calendar and working time, and bad tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "case/case.h"
#include "config/config.h"
#include "util/util.h"

#define NS 1000000000LL

/* Epoch ns of a district (UTC+8) date and time. */
static int64_t at(int y, unsigned mo, unsigned d, int h, int mi)
{
    return (time_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 -
            8 * 3600) *
           NS;
}

static void with_sla(struct config *cfg, const char *sla)
{
    char err[400];
    config_defaults(cfg);
    assert_int_equal(config_set(cfg, "case_sla", sla, "test"), 0);
    if (case_init(cfg, err, sizeof(err)))
        fail_msg("case_init: %s", err);
}

static void test_most_specific_entry_wins(void **state)
{
    struct config cfg;
    with_sla(&cfg, "*.*=5h, garbage.*=3h,*.dispatched=2h,"
                   "garbage.dispatched=1h");
    int64_t t = at(2026, 11, 30, 10, 0); /* a Monday */
    assert_int_equal(case_step_deadline(&cfg, "garbage", "dispatched", t),
                     t + 3600 * NS);
    assert_int_equal(case_step_deadline(&cfg, "garbage", "registered", t),
                     t + 3 * 3600 * NS);
    assert_int_equal(case_step_deadline(&cfg, "noise", "dispatched", t),
                     t + 2 * 3600 * NS);
    assert_int_equal(case_step_deadline(&cfg, "noise", "handled", t),
                     t + 5 * 3600 * NS);
    case_release();
    config_release(&cfg);
    /* no entry fits: case_step_deadline_min, calendar */
    with_sla(&cfg, "garbage.dispatched=1h");
    assert_int_equal(case_step_deadline(&cfg, "noise", "dispatched", t),
                     t + (int64_t)cfg.case_step_minutes * 60 * NS);
    case_release();
    config_release(&cfg);
}

static void test_working_time_units(void **state)
{
    struct config cfg;
    with_sla(&cfg, "a.*=90wm,b.*=2wh,c.*=1wd,d.*=2d");
    int64_t fri16 = at(2026, 11, 27, 16, 0);
    assert_int_equal(case_step_deadline(&cfg, "a", "collected", fri16),
                     at(2026, 11, 30, 9, 30));
    assert_int_equal(case_step_deadline(&cfg, "b", "collected", fri16),
                     at(2026, 11, 30, 10, 0));
    assert_int_equal(case_step_deadline(&cfg, "c", "collected", fri16),
                     at(2026, 11, 30, 16, 0));
    assert_int_equal(case_step_deadline(&cfg, "d", "collected", fri16),
                     at(2026, 11, 29, 16, 0));
    case_release();
    config_release(&cfg);
    /* lunch break and a make-up Saturday */
    with_sla(&cfg, "*.*=3wh");
    assert_int_equal(
        config_set(&cfg, "work_hours", "09:00-12:00,13:00-17:00", "test"), 0);
    char err[200];
    assert_int_equal(case_init(&cfg, err, sizeof(err)), 0);
    assert_int_equal(
        case_step_deadline(&cfg, "x", "dispatched", at(2026, 2, 13, 16, 0)),
        at(2026, 2, 14, 11, 0));
    case_release();
    config_release(&cfg);
}

static void test_bad_tables_say_which(void **state)
{
    static const char *const bad[] = {"garbage=4h",
                                      "garbage.dispatched",
                                      "garbage.closed=4h",
                                      "garbage.dispatched=0h",
                                      "garbage.dispatched=4",
                                      "garbage.x=4h",
                                      "garbage.dispatched=4wx",
                                      ".dispatched=4h",
                                      "g.dispatched=-4h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct config cfg;
        char err[400];
        config_defaults(&cfg);
        assert_int_equal(config_set(&cfg, "case_sla", bad[i], "test"), 0);
        assert_int_equal(case_init(&cfg, err, sizeof(err)), CB_EINVAL);
        if (!strstr(err, "case_sla"))
            fail_msg("'%s': %s", bad[i], err);
        config_release(&cfg);
    }
    case_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_most_specific_entry_wins),
        cmocka_unit_test(test_working_time_units),
        cmocka_unit_test(test_bad_tables_say_which),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
