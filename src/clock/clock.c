/* clock.c - the district clock: wall or simulated time, and the offset. */
#include "clock/clock.h"

#include <stdatomic.h>
#include <string.h>

#include "util/util.h"

#define MAX_TZ_MINUTES (14 * 60)

static int dclock_sim_mode;
static int dclock_offset_minutes = 8 * 60;
static _Atomic int64_t dclock_sim_now;

int dclock_configure(enum dclock_mode mode, int tz_offset_minutes)
{
    if (tz_offset_minutes < -MAX_TZ_MINUTES ||
        tz_offset_minutes > MAX_TZ_MINUTES)
        return CB_EINVAL;
    dclock_sim_mode = mode == DCLOCK_SIMULATED;
    dclock_offset_minutes = tz_offset_minutes;
    atomic_store(&dclock_sim_now, time_now_ns());
    return 0;
}

enum dclock_mode dclock_current_mode(void)
{
    return dclock_sim_mode ? DCLOCK_SIMULATED : DCLOCK_WALL;
}

int64_t dclock_now_ns(void)
{
    return dclock_sim_mode ? atomic_load(&dclock_sim_now) : time_now_ns();
}

int dclock_set_ns(int64_t now_ns)
{
    if (!dclock_sim_mode || now_ns < 0)
        return CB_EINVAL;
    atomic_store(&dclock_sim_now, now_ns);
    return 0;
}

int dclock_tz_offset_minutes(void)
{
    return dclock_offset_minutes;
}

int64_t dclock_tz_offset_ns(void)
{
    return (int64_t)dclock_offset_minutes * 60 * 1000000000LL;
}

int dclock_mode_parse(const char *s)
{
    if (!strcmp(s, "wall"))
        return DCLOCK_WALL;
    if (!strcmp(s, "simulated"))
        return DCLOCK_SIMULATED;
    return -1;
}

const char *dclock_mode_name(enum dclock_mode mode)
{
    return mode == DCLOCK_SIMULATED ? "simulated" : "wall";
}

int dclock_tz_parse(const char *s, int *OUT_minutes)
{
    if (!strcmp(s, "Z")) {
        *OUT_minutes = 0;
        return 0;
    }
    if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return CB_EINVAL;
    for (int i = 1; i < 6; i++)
        if (i != 3 && (s[i] < '0' || s[i] > '9'))
            return CB_EINVAL;
    int hh = (s[1] - '0') * 10 + (s[2] - '0');
    int mm = (s[4] - '0') * 10 + (s[5] - '0');
    int minutes = hh * 60 + mm;
    if (mm > 59 || minutes > MAX_TZ_MINUTES)
        return CB_EINVAL;
    *OUT_minutes = s[0] == '-' ? -minutes : minutes;
    return 0;
}
