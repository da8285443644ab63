/* workcal.c - working days, working hours and working-time deadlines
 * (workcal.h). */
#include "workcal/workcal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct workcal {
    int64_t *off, *work; /* district days, in file order */
    size_t noff, nwork;
    int spans[WORKCAL_SPANS][2]; /* seconds of the day: [start, end) */
    int nspans;
    int64_t tz_s;
};

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return CB_EINVAL;
}

/* "HH:MM" at s into seconds of the day (24:00 allowed); -1 if not. */
static int clock_time(const char *s)
{
    if (s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' || s[2] != ':' ||
        s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
        return -1;
    int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
    if (h > 24 || (h == 24 && m))
        return -1;
    return h * 3600 + m * 60;
}

static int parse_hours(struct workcal *w, const char *hours, char *err,
                       size_t cap)
{
    const char *p = hours ? hours : "";
    w->nspans = 0;
    while (*p) {
        int a = -1, b = -1;
        if (strlen(p) >= 11 && p[5] == '-') {
            a = clock_time(p);
            b = clock_time(p + 6);
        }
        if (a < 0 || b < 0 || (p[11] && p[11] != ','))
            return fail(err, cap, "hours: '%s' is not HH:MM-HH:MM[,..]", hours);
        if (b <= a || w->nspans == WORKCAL_SPANS ||
            (w->nspans && a < w->spans[w->nspans - 1][1]))
            return fail(err, cap,
                        "hours: '%s': at most %d spans, each ending after it "
                        "starts, in order, not overlapping",
                        hours, WORKCAL_SPANS);
        w->spans[w->nspans][0] = a;
        w->spans[w->nspans][1] = b;
        w->nspans++;
        p += p[11] ? 12 : 11;
    }
    if (!w->nspans)
        return fail(err, cap, "hours: no working hours given");
    return 0;
}

static void push(int64_t **v, size_t *n, int64_t day)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = day;
}

/* One line (len bytes, no newline) of the holiday text. */
static int parse_line(struct workcal *w, const char *s, size_t len, int line,
                      char *err, size_t cap)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i == len || s[i] == '#')
        return 0;
    int64_t from, to;
    if (len - i < 10 || time_parse_date(s + i, 10, &from))
        return fail(err, cap, "line %d, column %zu: expected a date YYYY-MM-DD",
                    line, i + 1);
    i += 10;
    to = from;
    if (len - i >= 2 && s[i] == '.' && s[i + 1] == '.') {
        if (len - i < 12 || time_parse_date(s + i + 2, 10, &to))
            return fail(err, cap,
                        "line %d, column %zu: expected the range's last date",
                        line, i + 3);
        if (to < from || to - from > 365)
            return fail(err, cap,
                        "line %d, column %zu: a range runs forward, at most "
                        "366 days",
                        line, i + 3);
        i += 12;
    }
    size_t k = i;
    while (k < len && (s[k] == ' ' || s[k] == '\t'))
        k++;
    int work = len - k >= 4 && !strncmp(s + k, "work", 4) &&
               (len - k == 4 || s[k + 4] == ' ' || s[k + 4] == '\t' ||
                s[k + 4] == '\r');
    int off = len - k >= 3 && !strncmp(s + k, "off", 3) &&
              (len - k == 3 || s[k + 3] == ' ' || s[k + 3] == '\t' ||
               s[k + 3] == '\r');
    if (k == i || (!work && !off))
        return fail(err, cap, "line %d, column %zu: expected 'off' or 'work'",
                    line, k + 1);
    for (int64_t d = from; d <= to; d++) {
        if (work)
            push(&w->work, &w->nwork, d);
        else
            push(&w->off, &w->noff, d);
    }
    return 0;
}

int workcal_new(const char *text, size_t len, const char *hours, int tz_minutes,
                struct workcal **OUT, char *err, size_t errcap)
{
    struct workcal *w = xcalloc(1, sizeof(*w));
    int rc = parse_hours(w, hours, err, errcap), line = 1;
    *OUT = NULL;
    for (size_t p = 0; !rc && p < len; line++) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t n = nl ? (size_t)(nl - (text + p)) : len - p;
        if (memchr(text + p, '\0', n))
            rc = fail(err, errcap, "line %d: a NUL byte", line);
        else
            rc = parse_line(w, text + p, n, line, err, errcap);
        p += n + 1;
    }
    if (rc) {
        workcal_free(w);
        return rc;
    }
    w->tz_s = (int64_t)tz_minutes * 60;
    *OUT = w;
    return 0;
}

void workcal_free(struct workcal *w)
{
    if (!w)
        return;
    free(w->off);
    free(w->work);
    free(w);
}

static int listed(const int64_t *v, size_t n, int64_t day)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == day)
            return 1;
    return 0;
}

int workcal_is_workday(const struct workcal *w, int64_t day)
{
    if (listed(w->work, w->nwork, day))
        return 1;
    if (listed(w->off, w->noff, day))
        return 0;
    int64_t wd = ((day + 4) % 7 + 7) % 7; /* 1970-01-01: a Thursday (4) */
    return wd >= 1 && wd <= 5;
}

int64_t workcal_day_seconds(const struct workcal *w)
{
    int64_t s = 0;
    for (int i = 0; i < w->nspans; i++)
        s += w->spans[i][1] - w->spans[i][0];
    return s;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int workcal_add(const struct workcal *w, int64_t from_s, int64_t secs,
                int64_t *OUT_s)
{
    int64_t local = from_s + w->tz_s;
    int64_t day = floor_div(local, 86400), sod = local - day * 86400;
    if (secs <= 0) {
        *OUT_s = from_s;
        return 0;
    }
    for (int i = 0; i < WORKCAL_MAX_DAYS; i++, day++, sod = 0) {
        if (!workcal_is_workday(w, day))
            continue;
        for (int k = 0; k < w->nspans; k++) {
            int64_t start = sod > w->spans[k][0] ? sod : w->spans[k][0];
            int64_t avail = w->spans[k][1] - start;
            if (avail <= 0)
                continue;
            if (secs <= avail) {
                *OUT_s = day * 86400 + start + secs - w->tz_s;
                return 0;
            }
            secs -= avail;
        }
    }
    return CB_ETOOBIG;
}
