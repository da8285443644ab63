/*
 * sim_meter.c - meters: registers, the faults they suffer, and the line
 * protocol they send.
 *
 * A meter counts a household's true use in micro-units and shows a
 * register truncated to its display (0.01 kWh; 0.001 m3) that rolls over at
 * its modulus (100,000 kWh; 10,000 m3).  Most meters send the register
 * (field `index`); a minority send the use of the interval (field `delta`,
 * the difference of truncated registers, so deltas add up exactly).  A
 * reading's timestamp is the end of its interval; index meters also send
 * the register at the start of the run.
 *
 *   meter        grain            delta share  gas meter present
 *   -----------  ---------------  -----------  -----------------
 *   electricity  1 h (or 15 min)  12%          -
 *   water        1 h (or 1 day)   10%          -
 *   gas          1 day            5%           88% of flats
 *
 * Faults (rates are ours; every occurrence goes to truth/faults.csv):
 *
 *   fault         rate                      what the feed shows
 *   ------------  ------------------------  ------------------------------
 *   gap           0.3% per meter-day        nothing for 1-24 h (10%: 1-5
 *                 + 1% of water meters      days); one week for those
 *   stuck         0.02% per meter-day       the register frozen 1-10 days,
 *                                           the use of that time lost
 *   replacement   0.03% per meter-day       the register restarts near 0
 *   rollover      0.3% of meters            start near the modulus, wrap
 *   late          0.2% per meter-day        the day's readings arrive in
 *                                           the batch 1-3 days later
 *   resend        0.05% per meter-day       the day's readings twice
 *   duplicate     0.05% per reading         one line twice
 *   out_of_order  0.05% per reading         two lines swapped
 *   spike         0.01% per reading         one absurd value (index:
 *                                           +1,000 to +100,000 kWh or
 *                                           +100 to +10,000 m3; delta x50)
 *   clock_drift   0.5% of meters            timestamps drift 1-20 s/day
 *
 * Per-reading faults are drawn once per meter-day (at most one a day),
 * which keeps the hot loop free of random draws.
 */
#include "sim/sim_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define P_GAP 0.003
#define P_WEEK_GAP_METER 100 /* 1 in 100 water meters */
#define P_STUCK 0.0002
#define P_REPLACE 0.0003
#define P_ROLLOVER 0.003
#define P_LATE 0.002
#define P_RESEND 0.0005
#define P_DUPLICATE 0.0005
#define P_SWAP 0.0005
#define P_SPIKE 0.0001
#define P_DRIFT 0.005

static const char *const measurement[SIM_METRICS] = {"water", "electricity",
                                                     "gas"};
static const int decimals[SIM_METRICS] = {3, 2, 3};
static const int64_t divisor[SIM_METRICS] = {1000, 10000, 1000};
static const int64_t modulus[SIM_METRICS] = {10000000000LL, 100000000000LL,
                                             10000000000LL};
static const double p_delta[SIM_METRICS] = {0.10, 0.12, 0.05};
static const double max_start[SIM_METRICS] = {2000, 30000, 3000};

enum reading_fault { RF_NONE, RF_DUPLICATE, RF_SWAP, RF_SPIKE };

/* One meter on one day: its configuration and today's fault plan. */
struct meter_day {
    struct sim_district *d;
    struct sim_meter *m;
    struct sim_batch *b;
    uint32_t h;
    int metric, day, n, grain_s;
    int64_t use[96]; /* micro-units per interval */
    char prefix[40]; /* "electricity,household=H0000123 " */
    size_t plen;
    struct sbuf *out;
    int replace_at, fault_at, fault_kind, late_days, resend;
};

static void meter_init(struct sim_district *d, uint32_t h, int metric)
{
    struct sim_meter *m = &d->households[h].meter[metric];
    struct sim_rng r;
    sim_rng_seed(&r, d->opt->seed, SIM_STREAM_METER, h, (uint64_t)metric);
    memset(m, 0, sizeof(*m));
    m->present = metric != SIM_GAS || sim_rng_unit(&r) < 0.88;
    m->delta = sim_rng_unit(&r) < p_delta[metric];
    m->gap_until = m->stuck_until = -1;
    m->pad = -1; /* gap start */
    m->base_micro = (int64_t)(sim_rng_unit(&r) * max_start[metric] * 1e6);
    if (sim_rng_unit(&r) < P_ROLLOVER) /* a few days before the wrap */
        m->base_micro =
            modulus[metric] - (int64_t)(sim_rng_range(&r, 0.5, 20) * 1e6);
    if (sim_rng_unit(&r) < P_DRIFT)
        m->drift_s = (int16_t)((1 + sim_rng_below(&r, 20)) *
                               (sim_rng_unit(&r) < 0.5 ? -1 : 1));
}

void sim_meters_init(struct sim_district *d)
{
    for (uint32_t h = 0; h < d->n_households; h++) {
        for (int metric = 0; metric < SIM_METRICS; metric++)
            meter_init(d, h, metric);
        if (!d->households[h].meter[SIM_GAS].present)
            d->households[h].water_heater = 1;
    }
}

/* ---- truth ---- */

static void add_iso(struct sbuf *sb, int64_t t)
{
    char buf[32];
    char *end = sim_fmt_iso(buf, t);
    sbuf_add(sb, buf, (size_t)(end - buf));
}

static int64_t hour_time(const struct meter_day *md, int64_t hour)
{
    return md->d->days[0].t0 + hour * 3600;
}

/* One row of truth/faults.csv; end < 0 leaves the end empty. */
static void fault_row(struct meter_day *md, const char *fault, int64_t start,
                      int64_t end, const char *detail)
{
    struct sbuf *sb = &md->b->out[SIM_OUT_FAULTS];
    sbuf_addf(sb, "H%07u,%s,%s,", md->h + 1, measurement[md->metric], fault);
    add_iso(sb, start);
    sbuf_addch(sb, ',');
    if (end >= 0)
        add_iso(sb, end);
    sbuf_addf(sb, ",%s\n", detail);
    md->b->n_faults++;
}

/* ---- today's fault plan ---- */

/* The hour index (since the start) of the last second of interval i: what
 * a gap or a stuck register covering that hour affects. */
static int interval_hour(const struct meter_day *md, int i)
{
    return md->day * 24 + ((i + 1) * md->grain_s - 1) / 3600;
}

static int64_t interval_end(const struct meter_day *md, int i)
{
    const struct sim_day *day = &md->d->days[md->day];
    int64_t t = day->t0 + (int64_t)(i + 1) * md->grain_s;
    if (md->m->drift_s)
        t += (int64_t)md->m->drift_s * (md->day * md->n + i + 1) / md->n;
    return t;
}

static void plan_gap(struct meter_day *md, struct sim_rng *r)
{
    struct sim_meter *m = md->m;
    int now = md->day * 24, len;
    uint64_t key = sim_hash(md->d->opt->seed, SIM_STREAM_METER, md->h, 9);
    int week = md->metric == SIM_WATER && key % P_WEEK_GAP_METER == 0 &&
               (int)((key >> 16) % (uint64_t)md->d->n_days) == md->day;
    if (m->gap_until > now)
        return;
    if (!week && sim_rng_unit(r) >= P_GAP)
        return;
    if (week)
        len = 168;
    else if (sim_rng_unit(r) < 0.9)
        len = 1 + (int)sim_rng_below(r, 24);
    else
        len = 24 + (int)sim_rng_below(r, 97);
    m->pad = now + (int)sim_rng_below(r, 24);
    m->gap_until = m->pad + len;
    char detail[32];
    snprintf(detail, sizeof(detail), "hours=%d", len);
    fault_row(md, "gap", hour_time(md, m->pad), hour_time(md, m->gap_until),
              detail);
}

static void plan_stuck(struct meter_day *md, struct sim_rng *r)
{
    struct sim_meter *m = md->m;
    int now = md->day * 24;
    if (m->stuck_until > now || sim_rng_unit(r) >= P_STUCK)
        return;
    m->stuck_until = now + 24 * (1 + (int)sim_rng_below(r, 10));
    fault_row(md, "stuck", hour_time(md, now), hour_time(md, m->stuck_until),
              "use not counted");
}

static void plan_reading_fault(struct meter_day *md, struct sim_rng *r)
{
    double u = sim_rng_unit(r) / md->n;
    md->fault_kind = u < P_DUPLICATE                      ? RF_DUPLICATE
                     : u < P_DUPLICATE + P_SWAP           ? RF_SWAP
                     : u < P_DUPLICATE + P_SWAP + P_SPIKE ? RF_SPIKE
                                                          : RF_NONE;
    md->fault_at = md->fault_kind ? (int)sim_rng_below(r, (uint32_t)md->n) : -1;
    if (md->fault_kind != RF_SWAP)
        return;
    if (md->n < 2) { /* a daily meter has nothing to swap with today */
        md->fault_kind = RF_NONE;
        md->fault_at = -1;
    } else if (md->fault_at == md->n - 1) {
        md->fault_at--;
    }
}

static void plan_day(struct meter_day *md)
{
    struct sim_rng r;
    sim_rng_seed(&r, md->d->opt->seed, SIM_STREAM_FAULT,
                 (uint64_t)md->h * 4 + (uint64_t)md->metric, (uint64_t)md->day);
    plan_gap(md, &r);
    plan_stuck(md, &r);
    md->replace_at =
        sim_rng_unit(&r) < P_REPLACE ? (int)sim_rng_below(&r, md->n) : -1;
    md->late_days =
        sim_rng_unit(&r) < P_LATE ? 1 + (int)sim_rng_below(&r, 3) : 0;
    md->resend = sim_rng_unit(&r) < P_RESEND;
    plan_reading_fault(md, &r);
    if (md->n > 1 && md->grain_s < 3600) /* 15-min shares of each hour */
        for (int i = 0; i < md->n; i += 4) {
            double w[4], s = 0;
            for (int q = 0; q < 4; q++)
                s += w[q] = sim_rng_jitter(&r, 0.5);
            int64_t hour = md->use[i], left = hour;
            for (int q = 0; q < 3; q++)
                left -= md->use[i + q] = (int64_t)(hour * w[q] / s);
            md->use[i + 3] = left;
        }
}

/* ---- emitting ---- */

static void make_prefix(struct meter_day *md)
{
    char *p = md->prefix;
    size_t len = strlen(measurement[md->metric]);
    memcpy(p, measurement[md->metric], len);
    p += len;
    memcpy(p, ",household=H", 12);
    p += 12;
    uint32_t id = md->h + 1;
    for (int k = 6; k >= 0; k--, id /= 10)
        p[k] = (char)('0' + id % 10);
    p += 7;
    *p++ = ' ';
    md->plen = (size_t)(p - md->prefix);
}

/* A line ending at interval i's timestamp (i = -1: the day's start). */
static char *format_line(const struct meter_day *md, char *p, int64_t value,
                         int i)
{
    memcpy(p, md->prefix, md->plen);
    p += md->plen;
    memcpy(p, md->m->delta ? "delta=" : "index=", 6);
    p = sim_fmt_fixed(p + 6, value, decimals[md->metric]);
    *p++ = ' ';
    if (md->m->drift_s) {
        p = sim_fmt_u64(p, (uint64_t)interval_end(md, i));
    } else { /* the common case: a precomputed timestamp */
        memcpy(p, md->d->days[md->day].ts_text[(i + 1) * md->grain_s / 900],
               10);
        p += 10;
    }
    *p++ = '\n';
    return p;
}

static void replace_meter(struct meter_day *md, int64_t ts)
{
    struct sim_meter *m = md->m;
    int64_t old = (m->base_micro + m->count_micro) % modulus[md->metric];
    char detail[64];
    m->count_micro = 0;
    m->base_micro = (int64_t)(md->h % 50) * divisor[md->metric];
    snprintf(detail, sizeof(detail), "old=%.3f;new=%.3f", old * 1e-6,
             m->base_micro * 1e-6);
    fault_row(md, "replacement", ts, -1, detail);
}

/* Advances the meter over interval i; returns the value it reports. */
static int64_t advance(struct meter_day *md, int i, int64_t ts)
{
    struct sim_meter *m = md->m;
    int metric = md->metric;
    int64_t div = divisor[metric], mod = modulus[metric];
    int64_t before = m->base_micro + m->count_micro;
    if (interval_hour(md, i) >= m->stuck_until)
        m->count_micro += md->use[i];
    if (i == md->replace_at) {
        replace_meter(md, ts);
        before = m->base_micro;
    }
    int64_t after = m->base_micro + m->count_micro;
    if (before / mod != after / mod)
        fault_row(md, "rollover", ts, -1,
                  metric == SIM_ELEC ? "modulus=100000" : "modulus=10000");
    if (m->delta)
        return after / div - before / div;
    return (after % mod) / div;
}

static int64_t spike(struct meter_day *md, int64_t value, int64_t ts)
{
    int64_t units = 100;
    for (int k = (int)(md->h % 3); k > 0; k--)
        units *= 10;
    int64_t bad = md->m->delta ? value * 50 + units : value + units * 1000;
    char detail[64];
    snprintf(detail, sizeof(detail), "reported=%lld;true=%lld", (long long)bad,
             (long long)value);
    fault_row(md, "spike", ts, -1, detail);
    return bad;
}

static int in_gap(const struct meter_day *md, int i)
{
    int hour = interval_hour(md, i);
    return hour >= md->m->pad && hour < md->m->gap_until;
}

/* Formats the day's lines into out; returns the number of lines. */
static int emit_day(struct meter_day *md, struct sbuf *out)
{
    char held[96];
    size_t held_len = 0;
    int lines = 0;
    sbuf_grow(out, (size_t)(md->n + 3) * 80);
    char *p = out->buf + out->len;
    for (int i = 0; i < md->n; i++) {
        int64_t ts = interval_end(md, i);
        int64_t value = advance(md, i, ts);
        if (in_gap(md, i))
            continue;
        if (i == md->fault_at && md->fault_kind == RF_SPIKE)
            value = spike(md, value, ts);
        char *line = p;
        p = format_line(md, p, value, i);
        lines++;
        if (i == md->fault_at && md->fault_kind == RF_SWAP) {
            held_len = (size_t)(p - line);
            memcpy(held, line, held_len);
            p = line;
            fault_row(md, "out_of_order", ts, -1, "");
            continue;
        }
        if (i == md->fault_at && md->fault_kind == RF_DUPLICATE) {
            memmove(p, line, (size_t)(p - line));
            p += p - line;
            lines++;
            fault_row(md, "duplicate", ts, -1, "");
        }
        if (held_len) {
            memcpy(p, held, held_len);
            p += held_len;
            held_len = 0;
        }
    }
    if (held_len) {
        memcpy(p, held, held_len);
        p += held_len;
    }
    out->len = (size_t)(p - out->buf);
    out->buf[out->len] = '\0';
    return lines;
}

/* The register at the start of the run, sent by index meters. */
static void emit_start(struct meter_day *md, struct sbuf *out)
{
    struct sim_meter *m = md->m;
    if (m->delta)
        return;
    int64_t reg = (m->base_micro + m->count_micro) % modulus[md->metric];
    sbuf_grow(out, 80);
    char *end =
        format_line(md, out->buf + out->len, reg / divisor[md->metric], -1);
    out->len = (size_t)(end - out->buf);
    out->buf[out->len] = '\0';
    md->b->n_readings++;
}

static void meter_day(struct meter_day *md)
{
    struct sbuf *out = &md->b->out[SIM_OUT_READINGS];
    make_prefix(md);
    plan_day(md);
    if (md->day == 0) {
        emit_start(md, out);
        if (md->m->drift_s) {
            char detail[32];
            snprintf(detail, sizeof(detail), "seconds_per_day=%d",
                     md->m->drift_s);
            fault_row(md, "clock_drift", md->d->days[0].t0, -1, detail);
        }
    }
    if (md->late_days) {
        out = &md->b->late[(md->day + md->late_days) % 4];
        char detail[32];
        snprintf(detail, sizeof(detail), "delay_days=%d", md->late_days);
        fault_row(md, "late", interval_end(md, 0), interval_end(md, md->n - 1),
                  detail);
    }
    size_t start = out->len;
    int lines = emit_day(md, out);
    md->b->n_readings += (uint64_t)lines;
    if (md->resend && lines) {
        size_t len = out->len - start;
        sbuf_grow(out, len);
        memcpy(out->buf + out->len, out->buf + start, len);
        out->len += len;
        out->buf[out->len] = '\0';
        md->b->n_readings += (uint64_t)lines;
        fault_row(md, "resend", interval_end(md, 0),
                  interval_end(md, md->n - 1), "");
    }
}

static void fill_use(struct meter_day *md, const struct sim_use *use)
{
    const struct sim_options *o = md->d->opt;
    if (md->metric == SIM_GAS) {
        md->n = 1;
        md->grain_s = 86400;
        md->use[0] = (int64_t)(0.5 + use->gas * 1e6);
        return;
    }
    const double *hourly = md->metric == SIM_ELEC ? use->elec : use->water;
    int grain =
        md->metric == SIM_ELEC ? o->elec_interval_s : o->water_interval_s;
    md->grain_s = grain;
    md->n = 86400 / grain;
    if (grain == 86400) {
        double sum = 0;
        for (int h = 0; h < 24; h++)
            sum += hourly[h];
        md->use[0] = (int64_t)(0.5 + sum * 1e6);
        return;
    }
    int per_hour = 3600 / grain; /* 1 or 4; split in plan_day */
    for (int h = 0; h < 24; h++)
        md->use[h * per_hour] = (int64_t)(0.5 + hourly[h] * 1e6);
}

void sim_meters_day(struct sim_district *d, uint32_t h, int day,
                    const struct sim_use *use, struct sim_batch *b)
{
    static const int order[SIM_METRICS] = {SIM_ELEC, SIM_WATER, SIM_GAS};
    struct meter_day md;
    int gas_grain = d->opt->gas_grain;
    for (int k = 0; k < SIM_METRICS; k++) {
        struct sim_meter *m = &d->households[h].meter[order[k]];
        if (!m->present || (order[k] == SIM_GAS && gas_grain == SIM_GAS_NONE))
            continue;
        md.d = d;
        md.m = m;
        md.b = b;
        md.h = h;
        md.metric = order[k];
        md.day = day;
        fill_use(&md, use);
        if (order[k] == SIM_GAS && gas_grain == SIM_GAS_MONTHLY) {
            int64_t *unread = &d->households[h].gas_unread_micro;
            *unread += md.use[0];
            if (day % 30 != 29 && day != d->n_days - 1)
                continue; /* not read today: the meter keeps counting */
            md.use[0] = *unread;
            *unread = 0;
        }
        meter_day(&md);
    }
}

void sim_meters_flush_late(struct sim_batch *b, int day, int last)
{
    for (int k = last ? 1 : 0; k < (last ? 4 : 1); k++) {
        struct sbuf *late = &b->late[(day + k) % 4];
        if (!late->len)
            continue;
        sbuf_add(&b->out[SIM_OUT_READINGS], late->buf, late->len);
        sbuf_reset(late);
    }
}
