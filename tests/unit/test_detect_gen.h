/*
 * test_detect_gen.h - a synthetic city series with known anomalies, for the
 * detector's tests and measurements.
 *
 * Ten-minute demand-like counts over six weeks from Monday 2026-01-05: a day
 * shape with morning and evening peaks, weekends lower and flatter, AR(1)
 * noise (phi 0.5, innovation sd 3).  Injected, at known rows:
 *
 *   spike   week 3, Wednesday 14:00, +25 for one point
 *   dip     week 4, Tuesday 09:00, -25 for one point
 *   stuck   week 4, Friday 06:00-12:00, the 05:50 value repeated
 *   shift   week 5, Tuesday 12:00 to the end, +30
 *
 * Deterministic for a given seed.  Header-only: static functions.
 */
#ifndef TEST_DETECT_GEN_H
#define TEST_DETECT_GEN_H

#include <math.h>
#include <stdint.h>

#define GEN_STEP 600
#define GEN_PER_DAY 144
#define GEN_ROWS (42 * GEN_PER_DAY)
#define GEN_T0 1767571200 /* 2026-01-05 00:00:00, a Monday */

/* Rows of the anomalies. */
#define GEN_SPIKE ((2 * 7 + 2) * GEN_PER_DAY + 14 * 6)
#define GEN_DIP ((3 * 7 + 1) * GEN_PER_DAY + 9 * 6)
#define GEN_STUCK_FROM ((3 * 7 + 4) * GEN_PER_DAY + 6 * 6)
#define GEN_STUCK_TO (GEN_STUCK_FROM + 36)
#define GEN_SHIFT ((4 * 7 + 1) * GEN_PER_DAY + 12 * 6)

struct gen_rng {
    uint64_t s;
};

static double gen_uniform(struct gen_rng *r)
{
    r->s += 0x9E3779B97F4A7C15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double gen_normal(struct gen_rng *r)
{
    double u = gen_uniform(r), v = gen_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* The clean seasonal mean at row i. */
static double gen_mean(int i)
{
    double h = (double)(i % GEN_PER_DAY) / 6.0;
    int dow = (i / GEN_PER_DAY) % 7;
    double base = 0.5 * (1 - cos(6.283185307179586 * (h - 4) / 24));
    double rush = 0.6 * exp(-(h - 8.5) * (h - 8.5) / 1.5) +
                  0.8 * exp(-(h - 18) * (h - 18) / 3.0);
    if (dow >= 5)
        return 80 + 40 * base * (dow == 5 ? 0.8 : 0.7);
    return 100 + 40 * (base + rush);
}

/* Fills ts[] and value[] (GEN_ROWS each) with the series. */
static void gen_series(uint64_t seed, int64_t *ts, double *value)
{
    struct gen_rng rng = {seed};
    double noise = 0;
    for (int i = 0; i < GEN_ROWS; i++) {
        noise = 0.5 * noise + 3.0 * gen_normal(&rng);
        ts[i] = GEN_T0 + (int64_t)i * GEN_STEP;
        value[i] = round(gen_mean(i) + noise);
        if (i == GEN_SPIKE)
            value[i] += 25;
        if (i == GEN_DIP)
            value[i] -= 25;
        if (i >= GEN_STUCK_FROM && i < GEN_STUCK_TO)
            value[i] = value[GEN_STUCK_FROM - 1];
        if (i >= GEN_SHIFT)
            value[i] += 30;
    }
}

#endif
