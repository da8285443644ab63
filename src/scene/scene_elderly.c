/*
 * scene_elderly.c - elderly living alone: an alert when water stops.
 *
 * The rule (docs/SCENES.md): a flat flagged elderly_alone whose water use
 * stays below 0.01 m3 for 12 hours raises an alert, and the committee
 * visits.
 *
 * Tracking.  Each flagged flat keeps its last water register, the time of
 * its last reading and a quiet mark: the end of the last reading interval
 * at which use since the previous mark reached the quiet level.  Use since
 * the mark is summed, so a trickle (a dripping tap, 1 L an hour) moves the
 * mark on every 10 hours and never alerts, while a flat whose water simply
 * stops alerts 12 hours after the end of the interval holding its last use
 * (at hourly grain, within an hour of the 12).  Index readings give use by
 * difference (a register that goes back is a reset: no use); delta
 * readings give it directly; a late or repeated reading is ignored here
 * (the daily roll-up still counts it).
 *
 * Travelling with family.  An elderly person who leaves with family
 * usually does not vanish from one hour to the next: the days before show
 * a gradual drop (packing, meals elsewhere).  When the mean water of the 3
 * days before the quiet day (for a daily meter: before the last day with
 * use, which may hold a partial day of a stop) is at most 60% of the usual
 * level (the median of days 4 to 21 before), or that of the 2 days before at
 * most 70% (the deepest part of a wind-down, less diluted by the first day of
 * it), the flat is listed under "suppressed" with that reason instead of
 * alerting; so is a flat declared vacant.  An abrupt stop from a normal level
 * (a fall, an illness) alerts.  (On the simulator, docs/SCENES.md: trips' 2-day
 * means lie at 0.33-0.65 of usual but for two; stops' at 0.86-1.56.)
 *
 * Meters of any grain.  Each flat learns its meter's reading interval
 * (the shortest gap between two of its readings).  With hourly water the
 * rule is the 12 hours above.  A daily meter can only say "no use in this
 * day": its flat alerts on the first daily reading with less than the
 * quiet level since the last reading with use, so the alert comes 24-48 h
 * after the water stopped (the stop lies somewhere in the last interval
 * that had use), and the alert says so: `water_stopped_between` and
 * `delay_hours_max`.  Each alert also carries `usual_m3_per_day`, the
 * median of the flat's own days (up to 14 complete days before it went
 * quiet, at least 5; kept once known, so a flat quiet for a month still
 * shows what it used before; null, with the reason, for a flat seen for
 * fewer than 5 days).
 *
 * Silence is not quiet.  A flat whose readings stopped (the meter or its
 * network failed) for more than the quiet hours and two of its reading
 * intervals is listed under "silent": there is no data saying the water
 * stopped.  Measured against the flat's own interval, a daily meter read
 * at midnight is not silent at 22:00, so the answer does not flip with
 * the time of day.  A flat already alerted stays alerted when its meter
 * then falls silent: an alert stays open until water returns.
 *
 * State.  Quiet marks, last readings, intervals and usual use are saved
 * to a small text file (scene_config.elderly_path; temporary name, fsync,
 * rename) at most every 10 s when they changed, and when the engine is
 * freed; at start a flat's saved state is restored when its registry
 * record arrives, and readings replayed from the store that are not newer
 * than its last one are ignored, so quiet-since times and open alerts
 * survive a restart:
 *
 *     citybrain-elderly 1
 *     HOUSEHOLD_ID LAST_TS QUIET_SINCE INTERVAL_S QUIET_USE LAST_INDEX USUAL
 *     end                               (LAST_INDEX "-" when none)
 *
 * Failure modes: a drop that was gradual for another reason (the person
 * was weakening for days) is suppressed, with the reason shown so that the
 * operator can still act; daily-grain meters can only alert a day late; a
 * flat wrongly flagged (not living alone) behaves like any other.
 */
#include "scene/scene_int.h"
#include "util/jsonw.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GRADUAL_DROP_RATIO 0.6
#define GRADUAL_DROP_RATIO_2D 0.7 /* the 2 days before the quiet day */
#define USUAL_MIN_M3 0.03         /* below this the usual level says nothing */
#define USUAL_MIN_DAYS 5
#define SAVE_EVERY_S 10
#define DAILY_INTERVAL_S 43200 /* a meter read this seldom is "daily" */
#define LOW_DAY_SHARE 0.5      /* of usual use: a day the water stopped */
#define NORMAL_DAY_SHARE 0.75  /* of usual use: a normal day before it */

static double day_water(const struct scene_engine *eng, int32_t h, int64_t d);

/* Whether the 2 days before the quiet mark's day (complete, in the ring)
 * each used at least NORMAL_DAY_SHARE of the usual: no wind-down.  Fixed
 * while the mark stays, so later readings judge the same way. */
static int normal_days_before(const struct scene_engine *eng, int32_t h,
                              const struct scene_elderly *e)
{
    int64_t day = scene_local_day(eng, e->quiet_since);
    for (int64_t d = day - 2; d < day; d++)
        if (day_water(eng, h, d) < NORMAL_DAY_SHARE * e->usual_m3)
            return 0;
    return 1;
}

/* The use since the quiet mark below which the flat stays quiet at a
 * reading at `ts`: the quiet level; for a daily meter of a flat whose
 * usual use is known and whose 2 days before the mark were normal, also
 * LOW_DAY_SHARE of its usual use over the time since the mark, at most
 * one day's worth (so one normal day ends the quiet).  A stop before noon
 * leaves less than half a day's use, so a daily meter can alert at the
 * end of that day, within 36 h of any stop; a day at half after days
 * already low is a wind-down before a trip, and waits for a day without
 * use (the gradual-drop check then sees the decline). */
static double quiet_level(const struct scene_engine *eng, int32_t h,
                          const struct scene_elderly *e, int64_t ts)
{
    double level = eng->cfg.elderly_quiet_m3;
    if (e->interval_s < DAILY_INTERVAL_S || e->usual_m3 < USUAL_MIN_M3 ||
        !normal_days_before(eng, h, e))
        return level;
    double days = fmin(1.0, (double)(ts - e->quiet_since) / 86400.0);
    return fmax(level, LOW_DAY_SHARE * e->usual_m3 * days);
}

void scene_elderly_reading(struct scene_engine *eng, int32_t h,
                           const struct reading *r)
{
    struct scene_elderly *e = &eng->elderly[eng->elderly_slot[h]];
    int64_t ts = r->ts_ns / 1000000000;
    if (ts <= 0 || ts > UINT32_MAX || !isfinite(r->value) ||
        (e->last_ts && ts <= e->last_ts))
        return;
    double use;
    if (r->field == READING_INDEX) {
        int first = isnan(e->last_index);
        use = first ? 0.0 : r->value - e->last_index;
        if (use < 0)
            use = 0; /* reset or replacement */
        e->last_index = r->value;
        if (first) {
            e->last_ts = e->quiet_since = (uint32_t)ts;
            e->quiet_use = 0;
            eng->elderly_dirty = 1;
            return;
        }
    } else {
        use = r->value > 0 ? r->value : 0;
    }
    if (!e->last_ts)
        e->quiet_since = (uint32_t)ts;
    else if (ts - e->last_ts >= 60 &&
             (!e->interval_s || ts - e->last_ts < e->interval_s))
        e->interval_s = (uint32_t)(ts - e->last_ts);
    e->last_ts = (uint32_t)ts;
    eng->elderly_dirty = 1;
    if (e->quiet_use + use >= quiet_level(eng, h, e, ts)) {
        e->quiet_since = (uint32_t)ts;
        e->quiet_use = 0;
    } else {
        e->quiet_use += (float)use;
    }
}

/* Water of h on day d in m3, or -1 without data (or out of the ring). */
static double day_water(const struct scene_engine *eng, int32_t h, int64_t d)
{
    if (d < 0 || d > eng->cur_day || d <= eng->cur_day - SCENE_DAYS)
        return -1;
    uint16_t v = eng->use[METRIC_WATER]
                         [(size_t)h * SCENE_DAYS + (size_t)(d % SCENE_DAYS)];
    return v == SCENE_NO_DATA ? -1 : v / scene_metric_scale[METRIC_WATER];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Usual daily water before quiet day qd (median of days qd-21..qd-4), the
 * mean of the 3 days before it and that of the 2 days before it; -1 when
 * unknown. */
static void usual_and_recent(const struct scene_engine *eng, int32_t h,
                             int64_t qd, double *OUT_usual, double *OUT_recent,
                             double *OUT_recent2)
{
    double v[18];
    size_t n = 0;
    for (int64_t d = qd - 21; d <= qd - 4; d++) {
        double w = day_water(eng, h, d);
        if (w >= 0)
            v[n++] = w;
    }
    if (n >= 5) {
        qsort(v, n, sizeof(*v), cmp_double);
        *OUT_usual = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    } else {
        *OUT_usual = -1;
    }
    double sum = 0;
    int cnt = 0;
    *OUT_recent2 = -1;
    for (int64_t d = qd - 1; d >= qd - 3; d--) {
        double w = day_water(eng, h, d);
        if (w >= 0) {
            sum += w;
            cnt++;
        }
        if (d == qd - 2 && cnt == 2)
            *OUT_recent2 = sum / cnt;
    }
    *OUT_recent = cnt >= 2 ? sum / cnt : -1;
}

enum elderly_state {
    ELDERLY_OK,
    ELDERLY_ALERT,
    ELDERLY_SUPPRESSED,
    ELDERLY_SILENT
};

struct elderly_item {
    int32_t h;
    enum elderly_state state;
    double hours, usual, recent, recent2;
    const char *why;
};

/* After how long without readings a flat is silent: the quiet hours, and
 * at least two of its reading intervals (two days while its interval is
 * unknown: one reading so far, maybe from a daily meter). */
static double silent_after_s(const struct scene_engine *eng,
                             const struct scene_elderly *e)
{
    double quiet_s = eng->cfg.elderly_quiet_hours * 3600.0;
    double interval = e->interval_s ? e->interval_s : 86400.0;
    return fmax(quiet_s, 2.0 * interval + 3600.0);
}

static enum elderly_state classify(struct scene_engine *eng, int32_t h,
                                   struct elderly_item *it)
{
    const struct scene_elderly *e = &eng->elderly[eng->elderly_slot[h]];
    double quiet_s = eng->cfg.elderly_quiet_hours * 3600.0;
    memset(it, 0, sizeof(*it));
    it->h = h;
    it->usual = -1;
    if (!e->last_ts)
        return ELDERLY_OK;
    it->hours = ((double)e->last_ts - e->quiet_since) / 3600.0;
    if (it->hours * 3600.0 < quiet_s) {
        if ((double)eng->as_of_s - e->last_ts < silent_after_s(eng, e))
            return ELDERLY_OK;
        it->hours = ((double)eng->as_of_s - e->last_ts) / 3600.0;
        it->why = "no water readings: the meter or its network is silent";
        return ELDERLY_SILENT;
    }
    /* the days before the last day with use: at hourly grain the quiet
     * mark's own day; a daily meter's mark is the midnight after that day
     * (the partial day of a stop must not count as a wind-down) */
    int64_t qd = scene_local_day(
        eng, e->quiet_since - (e->interval_s >= DAILY_INTERVAL_S ? 1 : 0));
    usual_and_recent(eng, h, qd, &it->usual, &it->recent, &it->recent2);
    if (e->usual_m3 >= 0)
        it->usual = e->usual_m3;
    if (eng->reg[h].flags & HOUSEHOLD_VACANT) {
        it->why = "declared vacant";
        return ELDERLY_SUPPRESSED;
    }
    if (it->usual >= USUAL_MIN_M3 &&
        ((it->recent >= 0 && it->recent <= GRADUAL_DROP_RATIO * it->usual) ||
         (it->recent2 >= 0 &&
          it->recent2 <= GRADUAL_DROP_RATIO_2D * it->usual))) {
        it->why = "gradual drop in the days before: likely away with family";
        return ELDERLY_SUPPRESSED;
    }
    if (e->interval_s >= DAILY_INTERVAL_S &&
        e->quiet_use >= eng->cfg.elderly_quiet_m3)
        it->why = "a day with less than half its usual water use (a daily "
                  "meter: the water stopped during that day)";
    else if (e->interval_s >= DAILY_INTERVAL_S)
        it->why = "a day without water use against its usual level (a "
                  "daily meter: the stop lies within the last day that "
                  "had use)";
    else
        it->why = "water stopped abruptly from its usual level";
    return ELDERLY_ALERT;
}

static int matches(struct scene_engine *eng, int32_t h, const char *street,
                   const char *committee)
{
    const struct scene_reg *r = &eng->reg[h];
    const char *c = scene_display_name(eng->committees.name[r->committee]);
    const char *s = eng->streets.name[eng->committee_street[r->committee]];
    return (!street || strcmp(street, s) == 0) &&
           (!committee || strcmp(committee, c) == 0);
}

static void iso_field(struct scene_engine *eng, const char *key, int64_t ts,
                      struct jsonw *w)
{
    char iso[32];
    time_format_iso(ts, eng->cfg.tz_offset_minutes, iso);
    jsonw_kv_str(w, key, iso);
}

/* The start of the reading interval the water stopped in: the one that
 * ends at the quiet mark, or, when some water was used after the mark (a
 * daily meter's day with less than half its usual use), the one after. */
static int64_t stopped_from(const struct scene_engine *eng,
                            const struct scene_elderly *e)
{
    if (e->quiet_use >= eng->cfg.elderly_quiet_m3)
        return e->quiet_since;
    return (int64_t)e->quiet_since - e->interval_s;
}

static void item_json(struct scene_engine *eng, const struct elderly_item *it,
                      struct jsonw *w)
{
    const struct scene_elderly *e = &eng->elderly[eng->elderly_slot[it->h]];
    const struct scene_reg *r = &eng->reg[it->h];
    jsonw_object_begin(w);
    jsonw_kv_str(w, "household_id", scene_household_id(eng, it->h));
    jsonw_kv_str(w, "street",
                 eng->streets.name[eng->committee_street[r->committee]]);
    jsonw_kv_str(w, "committee",
                 scene_display_name(eng->committees.name[r->committee]));
    iso_field(eng, "quiet_since", e->quiet_since, w);
    jsonw_kv_double_prec(w, "hours", it->hours, 1);
    jsonw_kv_double_prec(w, "water_m3_since", (double)e->quiet_use, 4);
    iso_field(eng, "last_reading", e->last_ts, w);
    if (e->interval_s)
        jsonw_kv_double_sig(w, "reading_interval_hours", e->interval_s / 3600.0,
                            2);
    if (it->state == ELDERLY_ALERT || it->state == ELDERLY_SUPPRESSED) {
        double quiet_s = eng->cfg.elderly_quiet_hours * 3600.0;
        int64_t from = stopped_from(eng, e);
        int64_t known = (int64_t)e->quiet_since +
                        (int64_t)fmax(quiet_s, (double)e->interval_s);
        char a[32], b[32];
        time_format_iso(from, eng->cfg.tz_offset_minutes, a);
        time_format_iso(from + e->interval_s, eng->cfg.tz_offset_minutes, b);
        jsonw_key(w, "water_stopped_between");
        jsonw_array_begin(w);
        jsonw_str(w, a);
        jsonw_str(w, b);
        jsonw_array_end(w);
        iso_field(eng, "known_since", known, w);
        jsonw_kv_double_prec(w, "delay_hours_max", (known - from) / 3600.0, 0);
    }
    if (it->usual >= 0) {
        jsonw_kv_double_prec(w, "usual_m3_per_day", it->usual, 3);
    } else if (e->usual_m3 >= 0) {
        jsonw_kv_double_prec(w, "usual_m3_per_day", (double)e->usual_m3, 3);
    } else {
        jsonw_kv_null(w, "usual_m3_per_day");
        jsonw_kv_str(w, "usual_unknown",
                     "fewer than 5 days of water seen for this flat");
    }
    if (it->recent >= 0)
        jsonw_kv_double_prec(w, "last_3_days_m3_per_day", it->recent, 3);
    if (it->recent2 >= 0)
        jsonw_kv_double_prec(w, "last_2_days_m3_per_day", it->recent2, 3);
    jsonw_kv_str(w, "reason", it->why);
    jsonw_object_end(w);
}

/* Whether flat h is an elderly-alone flat in the street and committee
 * (NULL: any) whose classification is state; *OUT_it is filled. */
static int in_state(struct scene_engine *eng, int32_t h, const char *street,
                    const char *committee, enum elderly_state state,
                    struct elderly_item *OUT_it)
{
    return eng->elderly_slot[h] >= 0 &&
           (eng->reg[h].flags & HOUSEHOLD_ELDERLY_ALONE) &&
           matches(eng, h, street, committee) &&
           classify(eng, h, OUT_it) == state;
}

int scene_elderly_alerts_json(struct scene_engine *eng, const char *street,
                              const char *committee, struct sbuf *out)
{
    static const char *const key[] = {NULL, "alerts", "suppressed", "silent"};
    struct jsonw w;
    pthread_mutex_lock(&eng->lock);
    char as_of[32];
    time_format_iso(eng->as_of_s, eng->cfg.tz_offset_minutes, as_of);
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "as_of", as_of);
    jsonw_kv_double_sig(&w, "quiet_m3", eng->cfg.elderly_quiet_m3, 6);
    jsonw_kv_int(&w, "quiet_hours", eng->cfg.elderly_quiet_hours);
    for (int state = ELDERLY_ALERT; state <= ELDERLY_SILENT; state++) {
        jsonw_key(&w, key[state]);
        jsonw_array_begin(&w);
        for (size_t h = 0; h < eng->n; h++) {
            struct elderly_item it;
            if (!in_state(eng, (int32_t)h, street, committee,
                          (enum elderly_state)state, &it))
                continue;
            item_json(eng, &it, &w);
        }
        jsonw_array_end(&w);
    }
    jsonw_object_end(&w);
    pthread_mutex_unlock(&eng->lock);
    return 0;
}

size_t scene_elderly_alert_households(struct scene_engine *eng,
                                      const char *committee,
                                      int32_t **OUT_households)
{
    size_t n = 0, cap = 0;
    *OUT_households = NULL;
    pthread_mutex_lock(&eng->lock);
    for (size_t h = 0; h < eng->n; h++) {
        struct elderly_item it;
        if (!in_state(eng, (int32_t)h, NULL, committee, ELDERLY_ALERT, &it))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            *OUT_households =
                xrealloc(*OUT_households, cap * sizeof(**OUT_households));
        }
        (*OUT_households)[n++] = (int32_t)h;
    }
    pthread_mutex_unlock(&eng->lock);
    return n;
}

/* ---- usual use ---- */

void scene_elderly_days(struct scene_engine *eng)
{
    int64_t last = scene_last_full_day(eng);
    for (size_t h = 0; h < eng->n; h++) {
        if (eng->elderly_slot[h] < 0)
            continue;
        struct scene_elderly *e = &eng->elderly[eng->elderly_slot[h]];
        int64_t end = last;
        if (e->last_ts) {
            int64_t quiet_day = scene_local_day(eng, e->quiet_since);
            if (quiet_day - 1 < end)
                end = quiet_day - 1;
        }
        double v[14];
        size_t n = 0;
        for (int64_t d = end - 13; d <= end; d++) {
            double w = day_water(eng, (int32_t)h, d);
            if (w >= 0)
                v[n++] = w;
        }
        if (n < USUAL_MIN_DAYS)
            continue;
        qsort(v, n, sizeof(*v), cmp_double);
        e->usual_m3 =
            (float)(n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
        eng->elderly_dirty = 1;
    }
}

/* ---- persistence ---- */

static int64_t monotonic_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

static void write_state(struct scene_engine *eng, FILE *f)
{
    fprintf(f, "citybrain-elderly 2\nas_of %lld\n", (long long)eng->as_of_s);
    for (size_t h = 0; h < eng->n; h++) {
        const char *id = scene_household_id(eng, (int32_t)h);
        if (eng->elderly_slot[h] < 0 || !id)
            continue;
        const struct scene_elderly *e = &eng->elderly[eng->elderly_slot[h]];
        if (!e->last_ts && e->usual_m3 < 0)
            continue;
        fprintf(f, "%s %u %u %u %.9g ", id, e->last_ts, e->quiet_since,
                e->interval_s, (double)e->quiet_use);
        if (isnan(e->last_index))
            fputc('-', f);
        else
            fprintf(f, "%.17g", e->last_index);
        fprintf(f, " %.9g\n", (double)e->usual_m3);
    }
    fprintf(f, "end\n");
}

int scene_elderly_save(struct scene_engine *eng, int force)
{
    if (!eng->elderly_path || !eng->elderly_dirty)
        return 0;
    int64_t now = monotonic_s();
    if (!force && now - eng->elderly_saved < SAVE_EVERY_S)
        return 0;
    struct sbuf tmp = SBUF_INIT;
    sbuf_addf(&tmp, "%s.tmp", eng->elderly_path);
    int err = CB_EIO;
    FILE *f = fopen(tmp.buf, "w");
    if (f) {
        write_state(eng, f);
        int bad = fflush(f) || fsync(fileno(f));
        bad |= fclose(f);
        if (!bad && rename(tmp.buf, eng->elderly_path) == 0)
            err = 0;
        else
            unlink(tmp.buf);
    }
    if (err)
        log_msg(LOG_ERROR, "scene",
                "saving elderly state failed | path=%s errno=%d",
                eng->elderly_path, errno);
    eng->elderly_dirty = err != 0;
    eng->elderly_saved = now;
    sbuf_release(&tmp);
    return err;
}

static int cmp_saved(const void *a, const void *b)
{
    return strcmp(((const struct scene_elderly_saved *)a)->household_id,
                  ((const struct scene_elderly_saved *)b)->household_id);
}

/* Parses one state line into OUT; -1 if bad. */
static int parse_state(const char *line, struct scene_elderly_saved *OUT)
{
    char index[40];
    double quiet_use, usual;
    memset(OUT, 0, sizeof(*OUT));
    if (sscanf(line, "%31s %u %u %u %lf %39s %lf", OUT->household_id,
               &OUT->state.last_ts, &OUT->state.quiet_since,
               &OUT->state.interval_s, &quiet_use, index, &usual) != 7 ||
        !isfinite(quiet_use) || !isfinite(usual))
        return -1;
    OUT->state.quiet_use = (float)quiet_use;
    OUT->state.usual_m3 = (float)usual;
    OUT->state.last_index = NAN;
    if (strcmp(index, "-") != 0) {
        char *end;
        OUT->state.last_index = strtod(index, &end);
        if (*end || !isfinite(OUT->state.last_index))
            return -1;
    }
    return 0;
}

void scene_elderly_load(struct scene_engine *eng)
{
    FILE *f = eng->elderly_path ? fopen(eng->elderly_path, "r") : NULL;
    if (!f)
        return;
    char line[256];
    size_t n = 0, cap = 0;
    struct scene_elderly_saved *v = NULL;
    long long as_of = -1;
    int ok = fgets(line, sizeof(line), f) &&
             strcmp(line, "citybrain-elderly 2\n") == 0 &&
             fgets(line, sizeof(line), f) &&
             sscanf(line, "as_of %lld", &as_of) == 1;
    while (ok && fgets(line, sizeof(line), f)) {
        if (strcmp(line, "end\n") == 0)
            break;
        if (n == cap)
            v = xrealloc(v, (cap = cap ? 2 * cap : 256) * sizeof(*v));
        ok = parse_state(line, &v[n++]) == 0;
    }
    ok = ok && strcmp(line, "end\n") == 0;
    fclose(f);
    if (!ok) {
        log_msg(LOG_WARN, "scene", "elderly state ignored | path=%s",
                eng->elderly_path);
        free(v);
        return;
    }
    qsort(v, n, sizeof(*v), cmp_saved);
    eng->elderly_file_as_of = as_of;
    eng->elderly_pending = v;
    eng->n_elderly_pending = n;
}

int64_t scene_elderly_reload_from_ns(const struct scene_engine *eng,
                                     int64_t as_of_ns)
{
    const int64_t hour_ns = 3600LL * 1000000000LL;
    int64_t from = as_of_ns - 2LL * eng->cfg.elderly_quiet_hours * hour_ns;
    int64_t week = as_of_ns - 7 * 24 * hour_ns;
    if (!eng->n_elderly)
        return from;
    int64_t saved = eng->elderly_file_as_of >= 0
                        ? eng->elderly_file_as_of * 1000000000LL - hour_ns
                        : week;
    if (saved < from)
        from = saved;
    return from < week ? week : from;
}

void scene_elderly_restore(struct scene_engine *eng, int32_t h)
{
    const char *id = scene_household_id(eng, h);
    if (!eng->n_elderly_pending || !id)
        return;
    struct scene_elderly_saved key;
    snprintf(key.household_id, sizeof(key.household_id), "%s", id);
    const struct scene_elderly_saved *hit =
        bsearch(&key, eng->elderly_pending, eng->n_elderly_pending, sizeof(key),
                cmp_saved);
    if (hit)
        eng->elderly[eng->elderly_slot[h]] = hit->state;
}
