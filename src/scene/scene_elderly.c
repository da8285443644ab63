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
 * days before the quiet day is at most 60% of the usual level (the median
 * of days 4 to 21 before), the flat is listed under "suppressed" with that
 * reason instead of alerting; so is a flat declared vacant.  An abrupt
 * stop from a normal level (a fall, an illness) alerts.
 *
 * Silence is not quiet.  A flat whose readings stopped while the rest of
 * the district kept reporting (the meter or its network failed) is listed
 * under "silent": there is no data saying the water stopped.
 *
 * Failure modes: a drop that was gradual for another reason (the person
 * was weakening for days) is suppressed, with the reason shown so that the
 * operator can still act; daily-grain meters can only alert a day late; a
 * flat wrongly flagged (not living alone) behaves like any other.
 */
#include "scene/scene_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRADUAL_DROP_RATIO 0.6
#define USUAL_MIN_M3 0.03 /* below this the usual level says nothing */

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
            return;
        }
    } else {
        use = r->value > 0 ? r->value : 0;
    }
    if (!e->last_ts)
        e->quiet_since = (uint32_t)ts;
    e->last_ts = (uint32_t)ts;
    if (e->quiet_use + use >= eng->cfg.elderly_quiet_m3) {
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

/* Usual daily water before quiet day qd (median of days qd-21..qd-4) and
 * the mean of the 3 days before it; -1 when unknown. */
static void usual_and_recent(const struct scene_engine *eng, int32_t h,
                             int64_t qd, double *OUT_usual, double *OUT_recent)
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
    for (int64_t d = qd - 3; d <= qd - 1; d++) {
        double w = day_water(eng, h, d);
        if (w >= 0) {
            sum += w;
            cnt++;
        }
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
    double hours, usual, recent;
    const char *why;
};

static enum elderly_state classify(struct scene_engine *eng, int32_t h,
                                   struct elderly_item *it)
{
    const struct scene_elderly *e = &eng->elderly[eng->elderly_slot[h]];
    double quiet_s = eng->cfg.elderly_quiet_hours * 3600.0;
    memset(it, 0, sizeof(*it));
    it->h = h;
    if (!e->last_ts)
        return ELDERLY_OK;
    if ((double)eng->as_of_s - e->last_ts >= quiet_s) {
        it->hours = ((double)eng->as_of_s - e->last_ts) / 3600.0;
        it->why = "no water readings: the meter or its network is silent";
        return ELDERLY_SILENT;
    }
    it->hours = ((double)e->last_ts - e->quiet_since) / 3600.0;
    if (it->hours * 3600.0 < quiet_s)
        return ELDERLY_OK;
    usual_and_recent(eng, h, scene_local_day(eng, e->quiet_since), &it->usual,
                     &it->recent);
    if (eng->reg[h].flags & HOUSEHOLD_VACANT) {
        it->why = "declared vacant";
        return ELDERLY_SUPPRESSED;
    }
    if (it->usual >= USUAL_MIN_M3 && it->recent >= 0 &&
        it->recent <= GRADUAL_DROP_RATIO * it->usual) {
        it->why = "gradual drop in the days before: likely away with family";
        return ELDERLY_SUPPRESSED;
    }
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

static void item_json(struct scene_engine *eng, const struct elderly_item *it,
                      struct sbuf *out)
{
    const struct scene_elderly *e = &eng->elderly[eng->elderly_slot[it->h]];
    const struct scene_reg *r = &eng->reg[it->h];
    char since[32];
    time_format_iso(e->quiet_since, eng->cfg.tz_offset_minutes, since);
    sbuf_addstr(out, "{\"household_id\":");
    sbuf_add_json_str(out, scene_household_id(eng, it->h));
    sbuf_addstr(out, ",\"street\":");
    sbuf_add_json_str(out,
                      eng->streets.name[eng->committee_street[r->committee]]);
    sbuf_addstr(out, ",\"committee\":");
    sbuf_add_json_str(out,
                      scene_display_name(eng->committees.name[r->committee]));
    sbuf_addf(out,
              ",\"quiet_since\":\"%s\",\"hours\":%.1f,"
              "\"water_m3_since\":%.4f",
              since, it->hours, (double)e->quiet_use);
    if (it->usual >= 0)
        sbuf_addf(out, ",\"usual_m3_per_day\":%.3f", it->usual);
    if (it->recent >= 0)
        sbuf_addf(out, ",\"last_3_days_m3_per_day\":%.3f", it->recent);
    sbuf_addstr(out, ",\"reason\":");
    sbuf_add_json_str(out, it->why);
    sbuf_addch(out, '}');
}

int scene_elderly_alerts_json(struct scene_engine *eng, const char *street,
                              const char *committee, struct sbuf *out)
{
    static const char *const key[] = {NULL, "alerts", "suppressed", "silent"};
    pthread_mutex_lock(&eng->lock);
    char as_of[32];
    time_format_iso(eng->as_of_s, eng->cfg.tz_offset_minutes, as_of);
    sbuf_addf(out, "{\"as_of\":\"%s\",\"quiet_m3\":%g,\"quiet_hours\":%d",
              as_of, eng->cfg.elderly_quiet_m3, eng->cfg.elderly_quiet_hours);
    for (int state = ELDERLY_ALERT; state <= ELDERLY_SILENT; state++) {
        sbuf_addf(out, ",\"%s\":[", key[state]);
        int first = 1;
        for (size_t h = 0; h < eng->n; h++) {
            struct elderly_item it;
            if (eng->elderly_slot[h] < 0 ||
                !(eng->reg[h].flags & HOUSEHOLD_ELDERLY_ALONE) ||
                !matches(eng, (int32_t)h, street, committee) ||
                classify(eng, (int32_t)h, &it) != (enum elderly_state)state)
                continue;
            if (!first)
                sbuf_addch(out, ',');
            first = 0;
            item_json(eng, &it, out);
        }
        sbuf_addch(out, ']');
    }
    sbuf_addch(out, '}');
    pthread_mutex_unlock(&eng->lock);
    return 0;
}
