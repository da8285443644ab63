/*
 * workcal.h - the working calendar: which district days are working days
 * and which hours of them are working hours, and deadlines counted in
 * working time over it (the SLA of a case step: src/case/case.h).
 *
 * A day works when the holiday calendar says "work" (a make-up day, 调休,
 * even on a weekend), else not when it says "off" (a public holiday),
 * else when it is Monday to Friday.  The calendar is data, one entry a
 * line (etc/holidays-cn.txt is built in; workcal_cn_text below):
 *
 *   # a comment
 *   2026-02-15..2026-02-23 off 春节        a range, both ends included
 *   2026-02-14 work 春节调休              a make-up Saturday
 *
 *   field        meaning
 *   -----------  ------------------------------------------------------
 *   DATE[..DATE] YYYY-MM-DD, district dates, the range in order and at
 *                most 366 days
 *   off | work   the kind
 *   NAME         optional free text to the end of the line
 *
 * Working hours are the same on every working day: up to WORKCAL_SPANS
 * spans "HH:MM-HH:MM[,HH:MM-HH:MM]" in order, not overlapping, within
 * 00:00-24:00 (e.g. "09:00-12:00,13:30-17:30").
 *
 * workcal_add(t, n) is the instant at which n seconds of working time have
 * passed since t: time outside working hours does not count, so from a
 * Friday 16:00 with 09:00-17:00, two working hours end on Monday 10:00 (or
 * on a make-up Saturday 10:00).  Ending exactly at a span's end gives that
 * end (17:00), not the next morning.
 *
 * Errors: negative enum cb_err.  Threading: a calendar is immutable once
 * made; any thread may read it.
 */
#ifndef CB_WORKCAL_H
#define CB_WORKCAL_H

#include <stddef.h>
#include <stdint.h>

#define WORKCAL_SPANS 4
/* workcal_add looks this many days ahead at most. */
#define WORKCAL_MAX_DAYS 3660

struct workcal;

/* The built-in calendar: etc/holidays-cn.txt, NUL-terminated. */
extern const char workcal_cn_text[];

/* Makes a calendar from the holiday text (len bytes), working hours hours
 * and the district's UTC offset in minutes.  Returns 0; CB_EINVAL with
 * err (errcap bytes) saying "line L, column C: why" or "hours: why", and
 * *OUT NULL.  Free with workcal_free. */
int workcal_new(const char *text, size_t len, const char *hours, int tz_minutes,
                struct workcal **OUT, char *err, size_t errcap);
void workcal_free(struct workcal *w); /* NULL: a no-op */

/* Whether district day (days since 1970-01-01) is a working day. */
int workcal_is_workday(const struct workcal *w, int64_t day);
/* Working seconds in a working day (the sum of the spans). */
int64_t workcal_day_seconds(const struct workcal *w);

/* The instant (epoch seconds) when secs (>= 0) seconds of working time have
 * passed since from_s; from_s when secs is 0.  CB_ETOOBIG when that is more
 * than WORKCAL_MAX_DAYS days away. */
int workcal_add(const struct workcal *w, int64_t from_s, int64_t secs,
                int64_t *OUT_s);

#endif
