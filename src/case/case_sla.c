/*
 * case_sla.c - deadlines of case steps (case.h's "Deadlines"): the SLA
 * table of the case_sla setting, counted in calendar time or in working
 * time over the working calendar (src/workcal/), and the timer that
 * escalates overdue cases without anyone listing them.
 *
 * case_sla is "CATEGORY.STEP=DURATION,..": STEP is the state the case is
 * in (collected, second_check, registered, dispatched, handled, fed_back),
 * either may be '*'; DURATION is a number with m, h or d (calendar
 * minutes, hours, days) or wm, wh or wd (working minutes, hours, days; a
 * working day is the working hours of one day).  The most specific entry
 * wins: CATEGORY.STEP, CATEGORY.*, *.STEP, *.*; with none,
 * case_step_deadline_min calendar minutes.
 */
#include "case/case.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock/clock.h"
#include "workcal/workcal.h"

#define SLA_MAX 128
#define NS 1000000000LL

struct sla_entry {
    char category[64], step[24];
    int64_t amount; /* minutes; for wd: days */
    char unit;      /* 'm' calendar minutes, 'w' working minutes, 'd'
                       working days */
};

static struct sla_entry sla[SLA_MAX];
static int nsla;
static struct workcal *calendar;

static const char *const open_steps[] = {"collected",  "second_check",
                                         "registered", "dispatched",
                                         "handled",    "fed_back"};

static int step_known(const char *s)
{
    if (!strcmp(s, "*"))
        return 1;
    for (size_t i = 0; i < sizeof(open_steps) / sizeof(*open_steps); i++)
        if (!strcmp(s, open_steps[i]))
            return 1;
    return 0;
}

/* "90m", "4h", "2d", "30wm", "16wh", "3wd" into e. */
static int parse_duration(const char *s, struct sla_entry *e)
{
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end == s || errno || n <= 0 || n > 1000000)
        return CB_EINVAL;
    int work = *end == 'w';
    const char *u = end + work;
    if (u[0] == '\0' || u[1] != '\0')
        return CB_EINVAL;
    if (*u == 'm')
        e->amount = n;
    else if (*u == 'h')
        e->amount = n * 60;
    else if (*u == 'd' && !work)
        e->amount = n * 1440;
    else if (*u == 'd')
        e->amount = n;
    else
        return CB_EINVAL;
    e->unit = !work ? 'm' : *u == 'd' ? 'd' : 'w';
    return 0;
}

/* One "CATEGORY.STEP=DURATION" (len bytes). */
static int parse_entry(const char *p, size_t len, struct sla_entry *e)
{
    char item[160];
    if (len >= sizeof(item))
        return CB_EINVAL;
    memcpy(item, p, len);
    item[len] = '\0';
    char *eq = strchr(item, '=');
    if (!eq)
        return CB_EINVAL;
    *eq = '\0';
    char *dot = strrchr(item, '.');
    if (!dot || dot == item || strlen(item) >= sizeof(e->category) + 24)
        return CB_EINVAL;
    *dot = '\0';
    if (strlen(item) >= sizeof(e->category) || !step_known(dot + 1))
        return CB_EINVAL;
    snprintf(e->category, sizeof(e->category), "%s", item);
    snprintf(e->step, sizeof(e->step), "%s", dot + 1);
    return parse_duration(eq + 1, e);
}

static int parse_sla(const char *text, char *err, size_t cap)
{
    nsla = 0;
    for (const char *p = text ? text : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ", ");
        if (nsla == SLA_MAX || parse_entry(p, len, &sla[nsla])) {
            snprintf(err, cap,
                     "case_sla: '%.*s' is not CATEGORY.STEP=DURATION (STEP a "
                     "state of an open case or *, DURATION like 90m, 4h, 2d, "
                     "16wh, 3wd; at most %d entries)",
                     (int)len, p, SLA_MAX);
            return CB_EINVAL;
        }
        nsla++;
        p += len;
    }
    return 0;
}

/* The holiday text: holidays_file, or the built-in calendar. */
static int holiday_text(const struct config *cfg, struct sbuf *out, char *err,
                        size_t cap)
{
    if (!cfg->holidays_file || !*cfg->holidays_file) {
        sbuf_addstr(out, workcal_cn_text);
        return 0;
    }
    FILE *f = fopen(cfg->holidays_file, "rb");
    if (!f) {
        snprintf(err, cap, "holidays_file: cannot read '%s': %s",
                 cfg->holidays_file, strerror(errno));
        return CB_EIO;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && out->len < (1u << 20))
        sbuf_add(out, buf, n);
    fclose(f);
    return 0;
}

int case_init(const struct config *cfg, char *err, size_t errcap)
{
    struct sbuf text = SBUF_INIT;
    char why[300];
    case_release();
    int rc = parse_sla(cfg->case_sla, err, errcap);
    if (!rc)
        rc = holiday_text(cfg, &text, err, errcap);
    if (!rc &&
        (rc = workcal_new(text.buf ? text.buf : "", text.len, cfg->work_hours,
                          cfg->tz_minutes, &calendar, why, sizeof(why))))
        snprintf(err, errcap, "%s: %s",
                 *cfg->holidays_file ? cfg->holidays_file : "work_hours", why);
    sbuf_release(&text);
    return rc;
}

void case_release(void)
{
    workcal_free(calendar);
    calendar = NULL;
    nsla = 0;
}

static const struct sla_entry *sla_find(const char *category, const char *state)
{
    const struct sla_entry *best = NULL;
    int best_score = -1;
    for (int i = 0; i < nsla; i++) {
        int cat = !strcmp(sla[i].category, category),
            st = !strcmp(sla[i].step, state);
        if ((!cat && strcmp(sla[i].category, "*")) ||
            (!st && strcmp(sla[i].step, "*")))
            continue;
        int score = 2 * cat + st;
        if (score > best_score) {
            best = &sla[i];
            best_score = score;
        }
    }
    return best;
}

int64_t case_step_deadline(const struct config *cfg, const char *category,
                           const char *state, int64_t from_ns)
{
    const struct sla_entry *e = sla_find(category, state);
    int64_t minutes = e ? e->amount : cfg->case_step_minutes;
    if (!e || e->unit == 'm' || !calendar)
        return from_ns + minutes * 60 * NS;
    int64_t secs = e->unit == 'd' ? e->amount * workcal_day_seconds(calendar)
                                  : minutes * 60;
    int64_t from_s = from_ns / NS, out;
    if (workcal_add(calendar, from_s, secs, &out))
        return from_ns + secs * NS; /* no working time for years: calendar */
    return out * NS + (from_ns - from_s * NS);
}

/* ---- the escalation timer ---- */

static pthread_t timer;
static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_wake = PTHREAD_COND_INITIALIZER;
static int timer_stop, timer_running;

struct timer_arg {
    struct store *st;
    const struct config *cfg;
};
static struct timer_arg timer_arg;

static void *timer_main(void *unused)
{
    pthread_mutex_lock(&timer_lock);
    while (!timer_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ms = timer_arg.cfg->case_escalate_interval_ms;
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&timer_wake, &timer_lock, &ts);
        if (timer_stop)
            break;
        pthread_mutex_unlock(&timer_lock);
        int n = 0;
        if (case_escalate_overdue(timer_arg.st, timer_arg.cfg, &n))
            log_msg(LOG_WARN, "case", "overdue escalation failed");
        pthread_mutex_lock(&timer_lock);
    }
    pthread_mutex_unlock(&timer_lock);
    return NULL;
}

int case_timer_start(struct store *st, const struct config *cfg)
{
    timer_arg = (struct timer_arg){st, cfg};
    timer_stop = 0;
    if (pthread_create(&timer, NULL, timer_main, NULL))
        return CB_EIO;
    timer_running = 1;
    return 0;
}

void case_timer_stop(void)
{
    if (!timer_running)
        return;
    pthread_mutex_lock(&timer_lock);
    timer_stop = 1;
    pthread_cond_broadcast(&timer_wake);
    pthread_mutex_unlock(&timer_lock);
    pthread_join(timer, NULL);
    timer_running = 0;
}
