/*
 * store_meter.c - the meter model of the roll-up (rules in store_meter.h).
 */
#include <math.h>
#include <string.h>

#include "ingest/ingest.h"
#include "store/store_meter.h"

_Static_assert(sizeof(struct meter) == 80, "struct meter: 80 bytes");

#define ROLLOVER_BAND 0.02
#define REPLACED_NEAR_ZERO 0.1
#define NOISE 1e-9

/* Whether prev -> v is a register rollover; *OUT_mod is then 10^k. */
static int is_rollover(double prev, double v, double *OUT_mod)
{
    if (!(prev > 0) || v < 0)
        return 0;
    double mod = pow(10.0, floor(log10(prev)) + 1.0);
    if (prev < (1.0 - ROLLOVER_BAND) * mod || v >= ROLLOVER_BAND * mod)
        return 0;
    *OUT_mod = mod;
    return 1;
}

/* The use between two register values; counts rollovers/replacements. */
static double index_use(struct meter *m, double prev, double v,
                        struct meter_use *u)
{
    double diff = v - prev, mod;
    if (diff >= 0)
        return diff;
    if (-diff <= NOISE * fmax(1.0, fabs(prev)))
        return 0;
    if (is_rollover(prev, v, &mod)) {
        u->event = METER_ROLLOVER;
        m->resets++;
        return mod - prev + v;
    }
    u->event = METER_REPLACED;
    m->replacements++;
    return v >= 0 && v <= REPLACED_NEAR_ZERO * prev ? v : 0;
}

static void set_use(struct meter_use *u, double use, int64_t t0, int64_t t1)
{
    u->has_use = 1;
    u->use = use;
    u->t0 = t0;
    u->t1 = t1;
}

static void first_reading(struct meter *m, int field, int64_t ts, double v,
                          struct meter_use *u)
{
    m->flags |= METER_KNOWN;
    m->first_ts = m->last_ts = ts;
    if (field == READING_INDEX) {
        m->flags |= METER_INDEX | METER_FIRST_INDEX;
        m->first_index = m->last_index = v;
    } else {
        set_use(u, v, ts, ts);
    }
}

static void in_order(struct meter *m, int field, int64_t ts, double v,
                     struct meter_use *u)
{
    int64_t gap = ts - m->last_ts;
    if (!m->grain_ns || gap < m->grain_ns)
        m->grain_ns = gap;
    if (field == READING_DELTA) {
        set_use(u, v, ts - m->grain_ns, ts);
    } else if (m->flags & METER_INDEX) {
        set_use(u, index_use(m, m->last_index, v, u), m->last_ts, ts);
        m->last_index = v;
    } else {
        m->flags |= METER_INDEX;
        m->last_index = v;
    }
    m->last_ts = ts;
}

static void late(struct meter *m, int field, int64_t ts, double v,
                 struct meter_use *u)
{
    u->late = 1;
    m->late++;
    if (field == READING_DELTA)
        set_use(u, v, m->grain_ns ? ts - m->grain_ns : ts, ts);
    if (ts >= m->first_ts)
        return;
    if (field == READING_INDEX && (m->flags & METER_FIRST_INDEX)) {
        if (m->first_index - v >= 0)
            set_use(u, m->first_index - v, ts, m->first_ts);
        m->first_index = v;
    }
    m->first_ts = ts;
}

void store__meter_apply(struct meter *m, int field, int64_t ts_ns, double value,
                        struct meter_use *OUT_use)
{
    memset(OUT_use, 0, sizeof(*OUT_use));
    OUT_use->t0 = OUT_use->t1 = ts_ns;
    if (!(m->flags & METER_KNOWN))
        first_reading(m, field, ts_ns, value, OUT_use);
    else if (ts_ns > m->last_ts)
        in_order(m, field, ts_ns, value, OUT_use);
    else
        late(m, field, ts_ns, value, OUT_use);
}
