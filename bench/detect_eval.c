/*
 * detect_eval.c - the detector's labelled test set, its windowed
 * early-detection scorer, and its in-process speed.
 *
 *   detect_eval [--seeds N] [--first-seed S] [--threshold T]
 *                                              the accuracy tables (seeds
 *                                              S..S+N-1; 1 is the default
 *                                              set, 1001 the held-out one)
 *   detect_eval --speed [--rows N] [--runs R] points/s of detect_update
 *   detect_eval --dump SHAPE FAMILY SEED       one series, scored, as CSV
 *   --no-drift (with any of them)              the drift statistic off
 *                                              (it is on by default)
 *
 * The set.  Five base shapes, each a few weeks long:
 *
 *   seasonal  10-minute counts, Poisson around a day shape with two rush
 *             peaks, weekends lower and flatter (6 weeks)
 *   bursty    10-minute counts, Poisson around 3 with a log-AR(1) burst
 *             factor: overdispersed, clustered (6 weeks)
 *   trend     5-minute Gaussian readings with AR(1) noise, a slow upward
 *             trend and a mild day cycle (4 weeks)
 *   square    5-minute square wave, 10 and 50 alternating every 90 minutes,
 *             small noise (4 weeks)
 *   flat      10-minute readings at 42 with noise 0.5, one decimal
 *             (6 weeks)
 *
 * and eight families injected at a random onset between 55% and 85% of the
 * series (sizes in units of the local noise sd, "sd"):
 *
 *   none      nothing: all rows are normal
 *   spike     one row + 8 sd            dip     one row - 8 sd
 *   shift     + 5 sd to the end         variance  noise x 4 to the end
 *   season    the day shape moves 3 hours later to the end (for the shapes
 *             without a day shape: a new day cycle of amplitude 4 sd;
 *             square: the wave's period doubles)
 *   stuck     the value before onset repeated for 6 hours
 *   drift     a ramp to + 10 sd over two days, then kept
 *
 * dip is left out on bursty (counts near 0 cannot fall 8 sd).
 *
 * The scorer.  Each anomaly has a window from its onset: 6 hours for spike,
 * dip, shift and variance, 8 for stuck, one day for season and two for
 * drift.  A row flags when its score is >= the threshold.  The first flag
 * inside the window detects the anomaly, with a delay in rows from onset
 * (earlier is better; later flags inside the window are free).  Every flag
 * outside the window is a false flag; the rows outside windows after the
 * first day are the normal rows.  One threshold serves all series.  The
 * NAB-like summary gives a detection 1 - 0.5 * delay / window, a miss -1
 * and a false flag -0.11, normalised so 0 is flagging nothing and 100 is
 * every anomaly at onset with no false flag (Lavin and Ahmad, "Evaluating
 * real-time anomaly detection algorithms: the Numenta Anomaly Benchmark",
 * ICMLA 2015).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect/detect.h"
#include "util/util.h"

#define MAX_ROWS 12200
#define T0 1767571200 /* 2026-01-05 00:00:00, a Monday */

enum shape { SEASONAL, BURSTY, TREND, SQUARE, FLAT, SHAPES };
enum family {
    NONE,
    SPIKE,
    DIP,
    SHIFT,
    VARIANCE,
    SEASON,
    STUCK,
    DRIFT,
    FAMILIES
};
static const char *shape_names[SHAPES] = {"seasonal", "bursty", "trend",
                                          "square", "flat"};
static const char *family_names[FAMILIES] = {
    "none", "spike", "dip", "shift", "variance", "season", "stuck", "drift"};

struct rng {
    uint64_t s;
};

static double uniform(struct rng *r)
{
    r->s += 0x9E3779B97F4A7C15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(struct rng *r)
{
    double u = uniform(r), v = uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static double poisson(struct rng *r, double mean)
{
    if (mean > 30)
        return fmax(0, round(mean + sqrt(mean) * normal(r)));
    double l = exp(-mean), p = 1;
    int k = 0;
    do {
        k++;
        p *= uniform(r);
    } while (p > l);
    return k - 1;
}

struct series {
    int rows, step;
    int64_t ts[MAX_ROWS];
    double value[MAX_ROWS];
    int onset, window; /* rows; window 0 for none */
    int applicable;
};

static int steps_of(const struct series *s, double seconds)
{
    return (int)(seconds / s->step);
}

/* The seasonal counts' mean at hour h of day dow (0 = Monday). */
static double seasonal_mean(double h, int dow)
{
    double base = 0.5 * (1 - cos(6.283185307179586 * (h - 4) / 24));
    double rush = 0.6 * exp(-(h - 8.5) * (h - 8.5) / 1.5) +
                  0.8 * exp(-(h - 18) * (h - 18) / 3.0);
    if (dow >= 5)
        return 20 + 40 * base * (dow == 5 ? 0.8 : 0.7);
    return 25 + 50 * (base + rush);
}

/* The clean mean of a shape at row i; shifted_h moves the day shape. */
static double shape_mean(enum shape shape, const struct series *s, int i,
                         double shift_h, int period_mult)
{
    double t = (double)i * s->step;
    double h = fmod(t / 3600.0 + 24 - shift_h, 24.0);
    int dow = (int)(t / 86400) % 7;
    switch (shape) {
    case SEASONAL:
        return seasonal_mean(h, dow);
    case BURSTY:
        return 3;
    case TREND:
        return 100 + 60 * t / (28 * 86400.0) +
               3 * sin(6.283185307179586 * h / 24);
    case SQUARE:
        return fmod(t / (5400.0 * period_mult), 2.0) < 1.0 ? 10 : 50;
    default:
        return 42;
    }
}

static double shape_sd(enum shape shape, double mean)
{
    switch (shape) {
    case SEASONAL:
        return sqrt(mean);
    case BURSTY:
        return 2.5;
    case TREND:
        return 2.0;
    case SQUARE:
        return 1.0;
    default:
        return 0.5;
    }
}

static void window_of(struct series *s, enum family family)
{
    double hours = family == SEASON  ? 24
                   : family == DRIFT ? 48
                   : family == STUCK ? 8
                                     : 6;
    s->window = family == NONE ? 0 : steps_of(s, hours * 3600);
}

/* Generates one labelled series. */
static void generate(struct series *s, enum shape shape, enum family family,
                     uint64_t seed)
{
    struct rng r = {seed * 1000003 + shape * 101 + family};
    int long_shape = shape == SEASONAL || shape == BURSTY || shape == FLAT;
    s->step = shape == TREND || shape == SQUARE ? 300 : 600;
    s->rows = steps_of(s, (long_shape ? 42 : 28) * 86400.0);
    s->onset = (int)(s->rows * (0.55 + 0.3 * uniform(&r)));
    s->applicable = !(family == DIP && shape == BURSTY);
    window_of(s, family);
    double ar = 0, burst = 0;
    int stuck_len = steps_of(s, 6 * 3600.0);
    int drift_len = steps_of(s, 48 * 3600.0);
    double sd0 = shape_sd(shape, shape_mean(shape, s, s->onset, 0, 1));
    for (int i = 0; i < s->rows; i++) {
        int after = family != NONE && i >= s->onset;
        double shift_h = after && family == SEASON ? 3 : 0;
        int period = after && family == SEASON && shape == SQUARE ? 2 : 1;
        double mean = shape_mean(shape, s, i, shift_h, period);
        if (after && family == SEASON &&
            (shape == BURSTY || shape == TREND || shape == FLAT))
            mean += 4 * sd0 *
                    sin(6.283185307179586 * (i * s->step % 86400) / 86400.0);
        double noise_mult = after && family == VARIANCE ? 4 : 1;
        double v;
        ar = 0.4 * ar + normal(&r);
        if (shape == SEASONAL) {
            v = poisson(&r, mean);
            if (noise_mult > 1)
                v = fmax(0, round(mean + (v - mean) * noise_mult));
        } else if (shape == BURSTY) {
            burst = 0.9 * burst + 0.35 * normal(&r);
            double lam = mean * exp(burst - 0.3);
            v = poisson(&r, lam);
            if (noise_mult > 1)
                v = fmax(0, round(lam + (v - lam) * noise_mult));
        } else {
            double sd = shape_sd(shape, mean) * noise_mult;
            v = mean + sd * (shape == TREND ? 0.9 * ar : normal(&r));
            v = shape == FLAT ? round(v * 10) / 10 : round(v * 100) / 100;
        }
        if (after && family == SHIFT)
            v += 5 * sd0;
        if (i == s->onset && family == SPIKE)
            v += 8 * sd0;
        if (i == s->onset && family == DIP)
            v -= 8 * sd0;
        if (after && family == DRIFT)
            v += 10 * sd0 * fmin(1.0, (double)(i - s->onset) / drift_len);
        if (after && family == STUCK && i < s->onset + stuck_len)
            v = s->value[s->onset - 1];
        s->ts[i] = T0 + (int64_t)i * s->step;
        s->value[i] = v;
    }
}

static int use_drift = 1; /* --no-drift: the drift statistic off */

static struct detector *new_detector(void)
{
    struct detect_params params;
    detect_params_init(&params);
    params.drift = use_drift;
    return detect_new(&params);
}

static void score_series(const struct series *s, double *score)
{
    struct detector *det = new_detector();
    for (int i = 0; i < s->rows; i++) {
        struct detect_result res;
        detect_update(det, s->ts[i], s->value[i], &res);
        score[i] = res.score;
    }
    detect_free(det);
}

/* The outcome of one series at one threshold. */
struct outcome {
    int detected, delay;
    long false_flags, normal_rows;
};

static void judge(const struct series *s, const double *score, double thr,
                  struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->delay = -1;
    int warm = steps_of(s, 86400.0);
    for (int i = warm; i < s->rows; i++) {
        int in = s->window && i >= s->onset && i < s->onset + s->window;
        int flag = score[i] >= thr;
        if (in) {
            if (flag && !o->detected) {
                o->detected = 1;
                o->delay = i - s->onset;
            }
            continue;
        }
        o->normal_rows++;
        o->false_flags += flag;
    }
}

#define THRESHOLDS 9
static const double thresholds[THRESHOLDS] = {
    0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995, 0.99999, 0.999995, 0.999999};

struct cell {
    int series, detected;
    long delay_sum, false_flags, normal_rows;
    double nab;
};

static void add_outcome(struct cell *c, const struct series *s,
                        const struct outcome *o)
{
    c->series++;
    c->false_flags += o->false_flags;
    c->normal_rows += o->normal_rows;
    c->nab -= 0.11 * (double)o->false_flags;
    if (!s->window)
        return;
    if (o->detected) {
        c->detected++;
        c->delay_sum += o->delay;
        c->nab += 1.0 - 0.5 * o->delay / s->window;
    } else {
        c->nab -= 1.0;
    }
}

static double per5000(const struct cell *c)
{
    return c->normal_rows ? 5000.0 * c->false_flags / c->normal_rows : 0;
}

static void print_table(struct cell cells[SHAPES][FAMILIES], double thr)
{
    printf("\nthreshold %g: detected/series (mean delay in rows), "
           "false flags per 5,000 normal rows\n\n",
           thr);
    printf("| shape |");
    for (int f = 0; f < FAMILIES; f++)
        printf(" %s |", family_names[f]);
    printf(" false / 5k |\n|---|");
    for (int f = 0; f <= FAMILIES; f++)
        printf("---|");
    printf("\n");
    for (int sh = 0; sh < SHAPES; sh++) {
        struct cell all = {0};
        printf("| %s |", shape_names[sh]);
        for (int f = 0; f < FAMILIES; f++) {
            struct cell *c = &cells[sh][f];
            all.false_flags += c->false_flags;
            all.normal_rows += c->normal_rows;
            if (!c->series)
                printf(" n/a |");
            else if (f == NONE)
                printf(" %.2f |", per5000(c));
            else
                printf(" %d/%d (%.1f) |", c->detected, c->series,
                       c->detected ? (double)c->delay_sum / c->detected : 0);
        }
        printf(" %.2f |\n", per5000(&all));
    }
    printf("\nfalse flags per 5,000 normal rows, by shape and family\n\n");
    printf("| shape |");
    for (int f = 0; f < FAMILIES; f++)
        printf(" %s |", family_names[f]);
    printf("\n|---|");
    for (int f = 0; f < FAMILIES; f++)
        printf("---|");
    printf("\n");
    for (int sh = 0; sh < SHAPES; sh++) {
        printf("| %s |", shape_names[sh]);
        for (int f = 0; f < FAMILIES; f++)
            if (!cells[sh][f].series)
                printf(" n/a |");
            else
                printf(" %.2f |", per5000(&cells[sh][f]));
        printf("\n");
    }
}

static int run_accuracy(int seeds, int first_seed, double show)
{
    static struct series s;
    static double score[MAX_ROWS];
    static struct cell cells[THRESHOLDS][SHAPES][FAMILIES];
    struct outcome o;
    for (int sh = 0; sh < SHAPES; sh++)
        for (int f = 0; f < FAMILIES; f++)
            for (int seed = first_seed; seed < first_seed + seeds; seed++) {
                generate(&s, sh, f, (uint64_t)seed);
                if (!s.applicable)
                    continue;
                score_series(&s, score);
                for (int t = 0; t < THRESHOLDS; t++) {
                    judge(&s, score, thresholds[t], &o);
                    add_outcome(&cells[t][sh][f], &s, &o);
                }
            }
    printf("| threshold | detected | families all detected | false flags "
           "| normal rows | false / 5k | NAB-like |\n");
    printf("|---|---|---|---|---|---|---|\n");
    int show_t = -1;
    for (int t = 0; t < THRESHOLDS; t++) {
        struct cell all = {0};
        int windows = 0, all_families = 1;
        for (int sh = 0; sh < SHAPES; sh++)
            for (int f = 0; f < FAMILIES; f++) {
                struct cell *c = &cells[t][sh][f];
                all.detected += c->detected;
                all.false_flags += c->false_flags;
                all.normal_rows += c->normal_rows;
                all.nab += c->nab;
                if (f != NONE) {
                    windows += c->series;
                    all_families &= c->detected == c->series;
                }
            }
        double nab = 100.0 * (all.nab + windows) / (2.0 * windows);
        printf("| %g | %d/%d | %s | %ld | %ld | %.2f | %.1f |\n", thresholds[t],
               all.detected, windows, all_families ? "yes" : "no",
               all.false_flags, all.normal_rows, per5000(&all), nab);
        if (fabs(thresholds[t] - show) < 1e-12)
            show_t = t;
    }
    if (show_t >= 0)
        print_table(cells[show_t], show);
    return 0;
}

static int run_speed(long rows, int runs)
{
    int64_t *ts = xcalloc((size_t)rows, sizeof(*ts));
    double *value = xcalloc((size_t)rows, sizeof(*value));
    struct rng r = {7};
    for (long i = 0; i < rows; i++) {
        ts[i] = T0 + i * 600;
        double h = (double)(i % 144) / 6.0;
        value[i] = round(seasonal_mean(h, (int)(i / 144 % 7)) + 3 * normal(&r) +
                         (i % 1439 == 700 ? 30 : 0));
    }
    double rates[32];
    double sink = 0;
    for (int k = 0; k < runs && k < 32; k++) {
        struct detector *det = new_detector();
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < rows; i++) {
            struct detect_result res;
            detect_update(det, ts[i], value[i], &res);
            sink += res.score;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        detect_free(det);
        double secs = (double)(b.tv_sec - a.tv_sec) +
                      (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        rates[k] = (double)rows / secs;
        printf("run %d: %.0f points/s\n", k + 1, rates[k]);
    }
    for (int i = 0; i < runs; i++)
        for (int j = i + 1; j < runs; j++)
            if (rates[j] < rates[i]) {
                double t = rates[i];
                rates[i] = rates[j];
                rates[j] = t;
            }
    size_t state = 0;
#ifdef DETECT_STATE_MAX
    state = sizeof(struct detector);
#endif
    printf("detect_update: %ld points, median of %d runs: %.0f points/s "
           "(state %zu bytes; checksum %.3f)\n",
           rows, runs, rates[runs / 2], state, sink);
    free(ts);
    free(value);
    return 0;
}

static int find_name(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

static int run_dump(const char *shape_name, const char *family_name, int seed)
{
    int sh = find_name(shape_names, SHAPES, shape_name);
    int f = find_name(family_names, FAMILIES, family_name);
    if (sh < 0 || f < 0) {
        fprintf(stderr, "detect_eval: unknown shape or family\n");
        return 2;
    }
    static struct series s;
    generate(&s, sh, f, (uint64_t)seed);
    struct detector *det = new_detector();
    printf("row,ts,value,expected,z_point,z_sustained,z_flat,z_drift,score,"
           "label\n");
    for (int i = 0; i < s.rows; i++) {
        struct detect_result res;
        detect_update(det, s.ts[i], s.value[i], &res);
        int in = s.window && i >= s.onset && i < s.onset + s.window;
        printf("%d,%lld,%g,%.3f,%.3f,%.3f,%.3f,%.3f,%.9f,%d\n", i,
               (long long)s.ts[i], s.value[i], res.expected, res.z_point,
               res.z_sustained, res.z_flat, res.z_drift, res.score, in);
    }
    detect_free(det);
    return 0;
}

int main(int argc, char **argv)
{
    int seeds = 4, first_seed = 1, runs = 5;
    long rows = 1000000;
    double show = 0.9999;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--no-drift"))
            use_drift = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-drift"))
            continue;
        if (!strcmp(argv[i], "--speed")) {
            for (int j = i + 1; j + 1 < argc; j += 2) {
                if (!strcmp(argv[j], "--rows"))
                    rows = atol(argv[j + 1]);
                else if (!strcmp(argv[j], "--runs"))
                    runs = atoi(argv[j + 1]);
            }
            return run_speed(rows, runs < 1 ? 1 : runs > 31 ? 31 : runs);
        }
        if (!strcmp(argv[i], "--dump") && i + 3 < argc)
            return run_dump(argv[i + 1], argv[i + 2], atoi(argv[i + 3]));
        if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
            seeds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--first-seed") && i + 1 < argc)
            first_seed = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threshold") && i + 1 < argc)
            show = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: detect_eval [--seeds N] [--first-seed S] "
                            "[--threshold T]"
                            " | --speed [--rows N] [--runs R]"
                            " | --dump SHAPE FAMILY SEED\n");
            return 2;
        }
    }
    return run_accuracy(seeds, first_seed, show);
}
