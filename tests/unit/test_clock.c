/* test_clock.c - the district clock: wall by default, simulated when set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock/clock.h"
#include "util/util.h"

#define NS 1000000000LL

static void test_wall_is_the_default(void **state)
{
    /* Before any configuration: the wall clock, UTC+8. */
    assert_int_equal(dclock_current_mode(), DCLOCK_WALL);
    assert_int_equal(dclock_tz_offset_minutes(), 480);
    int64_t before = time_now_ns();
    int64_t now = dclock_now_ns();
    assert_true(now >= before && now <= time_now_ns());
    /* The wall clock cannot be set. */
    assert_int_equal(dclock_set_ns(0), CB_EINVAL);
    assert_int_equal(dclock_configure(DCLOCK_WALL, 480), 0);
    assert_int_equal(dclock_set_ns(1893456000 * NS), CB_EINVAL);
    assert_true(dclock_now_ns() < 1893456000 * NS);
}

static void test_simulated_moves_when_set(void **state)
{
    int64_t start = time_now_ns();
    assert_int_equal(dclock_configure(DCLOCK_SIMULATED, -300), 0);
    assert_int_equal(dclock_current_mode(), DCLOCK_SIMULATED);
    assert_true(dclock_now_ns() >= start);
    assert_int_equal(dclock_set_ns(1893456000 * NS), 0);
    assert_int_equal(dclock_now_ns(), 1893456000 * NS);
    assert_int_equal(dclock_now_ns(), 1893456000 * NS);  /* does not run */
    assert_int_equal(dclock_set_ns(1764547200 * NS), 0); /* back: a replay */
    assert_int_equal(dclock_now_ns(), 1764547200 * NS);
    assert_int_equal(dclock_set_ns(-1), CB_EINVAL);
    assert_int_equal(dclock_tz_offset_ns(), -300 * 60 * NS);
    assert_int_equal(dclock_configure(DCLOCK_WALL, 15 * 60), CB_EINVAL);
    assert_int_equal(dclock_configure(DCLOCK_WALL, 480), 0);
}

static void test_parsing(void **state)
{
    int m = 1;
    assert_int_equal(dclock_mode_parse("wall"), DCLOCK_WALL);
    assert_int_equal(dclock_mode_parse("simulated"), DCLOCK_SIMULATED);
    assert_int_equal(dclock_mode_parse("fake"), -1);
    assert_int_equal(dclock_tz_parse("+08:00", &m), 0);
    assert_int_equal(m, 480);
    assert_int_equal(dclock_tz_parse("-05:30", &m), 0);
    assert_int_equal(m, -330);
    assert_int_equal(dclock_tz_parse("Z", &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(dclock_tz_parse("+15:00", &m), CB_EINVAL);
    assert_int_equal(dclock_tz_parse("+8:00", &m), CB_EINVAL);
    assert_int_equal(dclock_tz_parse("+08:60", &m), CB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wall_is_the_default),
        cmocka_unit_test(test_simulated_moves_when_set),
        cmocka_unit_test(test_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
