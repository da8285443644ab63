/*
 * clock.h - the district clock: the one "now" every time window reads.
 *
 * Plausibility windows of ingest (no reading from beyond now + 1 day, none
 * older than the horizon), the timestamp of a line-protocol line that has
 * none, and, later, alert rules, SLAs and a scene's "as of" all ask this
 * module what time it is in the district, never the system clock directly.
 *
 *   mode        now is                          moved by
 *   ----------  ------------------------------  ---------------------------
 *   wall        the system's real time          time itself (the default)
 *   simulated   the last time set, starting at  dclock_set_ns: the admin
 *               the time last set before a      endpoint POST /api/v1/admin/
 *               restart (kept in the store's    clock, which `citybrain load`
 *               kv table, DCLOCK_KV_KEY), or    calls as it streams a
 *               the wall time when never set    simulated district
 *
 * The district's time zone is a fixed UTC offset in minutes (default
 * +08:00: Shanghai keeps no daylight saving time).  It decides where a
 * district day starts (daily roll-ups, usage days, the scenes' day
 * boundaries) and the offset that times are written with.
 *
 * Threading: one clock per process.  dclock_configure runs once at start,
 * before any thread reads the clock; after that every function is
 * thread-safe (the simulated now is an atomic).
 */
#ifndef CB_CLOCK_H
#define CB_CLOCK_H

#include <stddef.h>
#include <stdint.h>

enum dclock_mode { DCLOCK_WALL = 0, DCLOCK_SIMULATED = 1 };
/* The store's kv key of the simulated clock's last time set (decimal epoch
 * ns), saved by the clock endpoint and restored by serve at start. */
#define DCLOCK_KV_KEY "clock.simulated_now_ns"

/* Sets the mode and the district's UTC offset (minutes, -14h..+14h).  The
 * simulated clock starts at the wall time of this call.  Returns 0 or
 * CB_EINVAL (offset out of range; nothing changed). */
int dclock_configure(enum dclock_mode mode, int tz_offset_minutes);
enum dclock_mode dclock_current_mode(void);

/* The district's now, in epoch nanoseconds. */
int64_t dclock_now_ns(void);
/* Moves the simulated clock to now_ns (any direction: the loader may
 * replay).  Returns 0, or CB_EINVAL in wall mode or when now_ns is before
 * 1970 (nothing changed). */
int dclock_set_ns(int64_t now_ns);

/* The district's UTC offset. */
int dclock_tz_offset_minutes(void);
int64_t dclock_tz_offset_ns(void);

/* Parses a mode name, "wall" or "simulated"; -1 if unknown. */
int dclock_mode_parse(const char *s);
const char *dclock_mode_name(enum dclock_mode mode);
/* Parses a UTC offset "+HH:MM", "-HH:MM" or "Z" (at most 14:00 either
 * way) into minutes.  Returns 0 or CB_EINVAL. */
int dclock_tz_parse(const char *s, int *OUT_minutes);

#endif
