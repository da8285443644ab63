/*
 * detect.c - the streaming seasonal anomaly detector.
 *
 * The model, its assumptions and failure modes are described in detect.h;
 * this file keeps the arithmetic.  One point goes through detect__observe:
 *
 *   locate   time-of-day and time-of-week slots, steps since the last point
 *   gap      decay the AR term and the short mean over missing steps
 *   predict  level + blended season + phi * last residual
 *   score    z_point, z_sustained, z_flat -> logistic
 *   learn    clipped updates of profiles, levels, AR, scales; re-bases
 *
 * Rates are set once the step is known (detect__set_rates), as time
 * constants converted to per-point or per-visit weights; every running mean
 * starts as an arithmetic mean (weight 1/n) until its EWMA weight is larger,
 * so early estimates are not biased towards their zero initial value.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "util/util.h"

#define DETECT_BUF_ROWS 64 /* warm-up rows buffered to infer the step */
#define DETECT_BUF_GAPS 16 /* positive gaps that settle the step */
#define DETECT_MAX_DAY_SLOTS 288
#define DETECT_MAX_WEEK_SLOTS 2016
#define DETECT_GAP_RING 31
#define DETECT_SHIFT_RING 32
#define DETECT_MIN_SCALE_N 8
#define DETECT_NOISE_BINS 24 /* time-of-day noise: hourly at finest */

#define DAY_S 86400.0
#define WEEK_S 604800.0

static const double CLIP = 2.5;         /* Huber clip of updates, sigmas */
static const double WINSOR = 3.0;       /* clip of scale updates, sigmas */
static const double MEAN_CLIP = 4.0;    /* clip feeding the short mean */
static const double OUTLIER_Z = 3.5;    /* points the AR term skips */
static const double SHIFT_Z = 2.5;      /* one-sided run: residual */
static const double SHIFT_MEAN_Z = 3.0; /* one-sided run: short mean */
static const double SQUASH_MID = 3.5;   /* z scoring 0.5 */
static const double SQUASH_SLOPE = 2.0;
static const double REPEAT_P_MIN = 0.05;
static const double FLAT_DECAY = 0.9;
static const double GAUSS_MAD = 1.2533; /* sigma / E|x| for a Gaussian */

struct detect_day_slot {
    double offset;     /* stored profile value (see struct detector) */
    double repeat;     /* EWMA of [value == previous value] */
    uint32_t visits;   /* points seen in this slot */
    uint32_t repeat_n; /* visits that updated repeat */
};

struct detect_week_slot {
    double offset;
    uint32_t visits;
};

struct detector {
    struct detect_params params;

    /* Warm-up: rows kept until the step is known, then replayed. */
    int64_t buf_ts[DETECT_BUF_ROWS];
    double buf_value[DETECT_BUF_ROWS];
    int buf_rows, buf_gaps;

    /* Time. */
    int have_step;
    double step; /* sampling step (s): sizes the slots once, then is kept
                  * current for gap handling */
    double steps_per_day;
    int64_t first_ts, last_ts;
    long rows; /* finite points accepted, buffered ones included */
    double gap_ring[DETECT_GAP_RING];
    int gap_n, gap_pos;

    /* Seasonal profiles. */
    int day_slots, week_slots;
    struct detect_day_slot *day;
    struct detect_week_slot *week;
    /* A slot's offset is stored as (typical value - base) + frame, where
     * frame adds up every move of base, so that moving base moves all the
     * offsets at no cost.  The effective value, which the forecast uses,
     * is the stored one minus the mean over the visited slots: the shape
     * alone, with the level left to level and base. */
    double frame;
    double day_sum, week_sum; /* of the stored offsets of visited slots */
    int day_visited, week_visited;
    /* EWMA squared (clipped) errors of each profile alone, over about a
     * day, for the blend weight of the weekly profile. */
    double err2_day, err2_week;
    long err_n;

    /* Levels: level follows the series (re-based at a shift) and is what
     * the forecast stands on; base is the slow reference the profiles are
     * learned against, so that a weekend the level has followed still
     * teaches the weekly profile its drop.  base_run counts points with the
     * two far apart; a long run moves base to level.  base holds the
     * first value for the first week (first_sum adds the values up), so
     * that the first visits of the profiles record the week's shape plus
     * one constant, which their normalisation removes, rather than the
     * drift of a young mean; then it starts from the week's mean. */
    double level, base, first_sum;
    long level_n, base_n, first_n;
    int base_run, base_len;

    /* AR(1) on the seasonal residual. */
    double phi, ar_xy, ar_xx, ar_resid;
    long ar_n;

    /* Time-of-day noise: EWMA of |innovation| / mad_innov per bin. */
    double noise_ratio[DETECT_NOISE_BINS];
    uint32_t noise_n[DETECT_NOISE_BINS];
    int noise_bins;

    /* Scales (mean absolute values) and the short residual mean. */
    double mad_innov, mad_resid, mad_mean;
    long scale_n;
    double resid_mean;
    double uncertainty; /* widens sigmas after a gap; decays per point */
    double resolution;  /* smallest positive |change| seen */

    /* Stuck values. */
    int have_prev;
    double prev_value, flat_surprise, repeat_global;

    /* Level shifts: the residuals of the current one-sided run. */
    double shift_ring[DETECT_SHIFT_RING]; /* the latest residuals */
    int shift_pos, shift_filled, shift_sign, shift_len;
    double shift_run; /* +1 per far point, -0.5 per other point */

    /* Rates, set with the step. */
    double a_level, a_base, a_day, a_week, a_scale, a_slot, a_mean, a_err;
    double a_noise;
};

/* What detect__observe works out about one point. */
struct detect_point {
    int day_slot, week_slot, dow, noise_bin;
    double steps; /* steps since the last point; 0 for a repeat or back */
    int day_known, week_known; /* the slot has been visited */
    double day_eff, week_eff;  /* the slot's effective profile values */
    double week_guess;         /* week_eff, or a neighbour's if unvisited */
    int week_guessed;          /* week_guess is usable */
    double season;
    double noise_mult; /* time-of-day noise relative to the global one */
    double sig_innov, sig_resid, sig_mean;
    int ready;
};

void detect_params_init(struct detect_params *params)
{
    params->probation_rows = -1;
}

struct detector *detect_new(const struct detect_params *params)
{
    struct detector *det = xcalloc(1, sizeof(*det));
    if (params)
        det->params = *params;
    else
        detect_params_init(&det->params);
    det->resolution = INFINITY;
    det->repeat_global = 0.2;
    return det;
}

void detect_free(struct detector *det)
{
    if (!det)
        return;
    free(det->day);
    free(det->week);
    free(det);
}

double detect_step(const struct detector *det)
{
    return det->have_step ? det->step : 0.0;
}

static double detect__clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Running-mean weight: 1/n until the EWMA weight a is larger. */
static double detect__rate(double a, double n)
{
    return n > 0 && 1.0 / n > a ? 1.0 / n : a;
}

static int detect__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values; sorts a scratch copy.  n must be in 1..64. */
static double detect__median(const double *values, int n)
{
    double tmp[64];
    memcpy(tmp, values, (size_t)n * sizeof(double));
    qsort(tmp, (size_t)n, sizeof(double), detect__cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

static int64_t detect__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Sizes the slots and sets every rate from the sampling step. */
static void detect__set_rates(struct detector *d, double step)
{
    d->have_step = 1;
    d->step = step;
    d->steps_per_day = DAY_S / step;
    long nd = lround(DAY_S / step), nw = lround(WEEK_S / step);
    d->day_slots = (int)detect__clamp((double)nd, 1, DETECT_MAX_DAY_SLOTS);
    d->week_slots = (int)detect__clamp((double)nw, 1, DETECT_MAX_WEEK_SLOTS);
    if (step > 1.5 * DAY_S)
        d->week_slots = 1; /* too coarse for a weekly shape */
    d->day = xcalloc((size_t)d->day_slots, sizeof(*d->day));
    d->week = xcalloc((size_t)d->week_slots, sizeof(*d->week));

    double per_day_visits = fmax(1.0, DAY_S / (d->day_slots * step));
    double per_week_visits = fmax(1.0, WEEK_S / (d->week_slots * step));
    d->a_level =
        detect__clamp(1.0 - exp(-step / fmax(DAY_S, 10 * step)), 1e-4, 0.2);
    d->a_base =
        detect__clamp(1.0 - exp(-step / fmax(WEEK_S, 30 * step)), 1e-5, 0.1);
    d->base_len = (int)fmax(ceil(3 * DAY_S / step), 8);
    d->a_day = 1.0 - pow(1.0 - 0.15, 1.0 / per_day_visits);
    d->a_week = 1.0 - pow(1.0 - 0.3, 1.0 / per_week_visits);
    d->a_slot = 1.0 - pow(1.0 - 0.1, 1.0 / per_day_visits);
    d->noise_bins =
        d->day_slots < DETECT_NOISE_BINS ? d->day_slots : DETECT_NOISE_BINS;
    double per_bin_visits = fmax(1.0, DAY_S / (d->noise_bins * step));
    d->a_noise = 1.0 - pow(1.0 - 0.2, 1.0 / per_bin_visits);
    d->a_scale = detect__clamp(step / (2 * DAY_S), 0.002, 0.05);
    d->a_mean = 1.0 / detect__clamp(3600.0 / step, 4, 30);
    d->a_err = detect__clamp(step / DAY_S, 0.001, 0.2);
    d->shift_len = (int)detect__clamp(round(3 * 3600.0 / step), 4, 32);
}

/* Median of the positive gaps seen in the warm-up buffer. */
static double detect__buffer_step(const struct detector *d)
{
    double gaps[DETECT_BUF_ROWS];
    int n = 0;
    for (int i = 1; i < d->buf_rows; i++)
        if (d->buf_ts[i] > d->buf_ts[i - 1])
            gaps[n++] = (double)(d->buf_ts[i] - d->buf_ts[i - 1]);
    return n ? detect__median(gaps, n) : 3600.0;
}

/* Keeps the sampling step current for gap handling (not slot sizes). */
static void detect__track_step(struct detector *d, int64_t ts)
{
    if (d->rows > 1 && ts > d->last_ts) {
        d->gap_ring[d->gap_pos] = (double)(ts - d->last_ts);
        d->gap_pos = (d->gap_pos + 1) % DETECT_GAP_RING;
        if (d->gap_n < DETECT_GAP_RING)
            d->gap_n++;
    }
    if (d->rows % 64 == 0 && d->gap_n >= 8)
        d->step = detect__median(d->gap_ring, d->gap_n);
}

static void detect__locate(const struct detector *d, int64_t ts,
                           struct detect_point *p)
{
    int64_t days = detect__floor_div(ts, 86400);
    int64_t sod = ts - days * 86400;
    int64_t dow = (days % 7 + 7 + 3) % 7; /* 1970-01-01 was a Thursday */
    p->dow = (int)dow;
    p->day_slot = (int)(sod * d->day_slots / 86400);
    p->noise_bin = p->day_slot * d->noise_bins / d->day_slots;
    p->week_slot = (int)((dow * 86400 + sod) * d->week_slots / 604800);
    p->steps = 1.0;
    if (d->level_n > 0)
        p->steps = ts > d->last_ts ? (double)(ts - d->last_ts) / d->step : 0;
}

/* Missing steps: the AR term and the short mean fade, sigmas widen. */
static void detect__gap(struct detector *d, const struct detect_point *p)
{
    if (p->steps <= 1.5)
        return;
    double missed = p->steps - 1.0;
    d->ar_resid *= pow(d->phi, missed);
    d->resid_mean *= pow(1.0 - d->a_mean, missed);
    d->uncertainty = fmin(d->uncertainty + missed / d->steps_per_day, 3.0);
}

/* Weight of the weekly profile: 1 while it does at least as well as the
 * daily one, else the ratio of their mean squared errors.  The weekly
 * profile is preferred: where a series has no weekly rhythm it costs a
 * little noise, where it has one the daily profile is biased on the days
 * that differ, and a blend that trusted it would take weekends for level
 * shifts. */
static double detect__week_weight(const struct detector *d)
{
    if (d->err_n == 0 || !(d->err2_week > d->err2_day))
        return 1.0;
    double w = d->err2_day / d->err2_week;
    return isfinite(w) ? detect__clamp(w, 0.0, 1.0) : 1.0;
}

static void detect__season(const struct detector *d, struct detect_point *p)
{
    const struct detect_day_slot *ds = &d->day[p->day_slot];
    const struct detect_week_slot *ws = &d->week[p->week_slot];
    double week_mean = d->week_sum / fmax(d->week_visited, 1);
    p->day_known = ds->visits > 0;
    p->week_known = ws->visits > 0;
    p->day_eff = ds->offset - d->day_sum / fmax(d->day_visited, 1);
    p->week_eff = ws->offset - week_mean;
    p->week_guess = p->week_eff;
    p->week_guessed = p->week_known;
    if (!p->week_known && d->week_slots > 2) {
        /* a slot missed last week: borrow the slot before or after */
        int n = d->week_slots, s = p->week_slot;
        const struct detect_week_slot *before = &d->week[(s + n - 1) % n];
        const struct detect_week_slot *after = &d->week[(s + 1) % n];
        const struct detect_week_slot *near = before->visits ? before : after;
        p->week_guessed = near->visits > 0;
        p->week_guess = near->offset - week_mean;
    }
    double w = 0;
    if (p->week_guessed)
        w = p->day_known ? detect__week_weight(d) : 1;
    p->season = 0;
    if (p->day_known || p->week_guessed)
        p->season = w * p->week_guess + (1 - w) * p->day_eff;
}

/* The sigmas at this point: global scale x time-of-day multiplier x
 * widening for gaps and for scales resting on few residuals. */
static void detect__sigmas(const struct detector *d, struct detect_point *p)
{
    double v = fmin((double)d->noise_n[p->noise_bin], 30.0);
    double mult = (v * d->noise_ratio[p->noise_bin] + 4.0) / (v + 4.0);
    p->noise_mult = mult;
    p->ready = d->scale_n >= DETECT_MIN_SCALE_N;
    double widen = GAUSS_MAD * mult * (1.0 + d->uncertainty) *
                   (1.0 + 4.0 / fmax((double)d->scale_n, 1.0));
    double floor = fmax(0.5 * d->resolution, 1e-9 * fabs(d->level));
    if (!isfinite(floor))
        floor = 1e-9 * fabs(d->level);
    floor = fmax(floor, 1e-12);
    p->sig_innov = fmax(widen * d->mad_innov, floor);
    p->sig_resid = fmax(widen * d->mad_resid, floor);
    p->sig_mean = fmax(widen * d->mad_mean, floor);
}

/* Probability that this slot repeats the previous value. */
static double detect__repeat_p(const struct detector *d,
                               const struct detect_point *p)
{
    const struct detect_day_slot *ds = &d->day[p->day_slot];
    double v = fmin((double)ds->repeat_n, 10.0);
    return (v * ds->repeat + 2.0 * d->repeat_global) / (v + 2.0);
}

/* Advances the stuck-value surprise with this point; returns z_flat. */
static double detect__flat(struct detector *d, const struct detect_point *p,
                           double value)
{
    if (!d->have_prev || value != d->prev_value) {
        d->flat_surprise = 0;
        return 0;
    }
    double prob = fmax(detect__repeat_p(d, p), REPEAT_P_MIN);
    d->flat_surprise = FLAT_DECAY * d->flat_surprise - log(prob);
    return sqrt(2.0 * d->flat_surprise);
}

static double detect__squash(double z)
{
    if (!(z > 0))
        return 0;
    double s0 = 1.0 / (1.0 + exp(SQUASH_SLOPE * SQUASH_MID));
    double s = 1.0 / (1.0 + exp(-SQUASH_SLOPE * (z - SQUASH_MID)));
    return detect__clamp((s - s0) / (1.0 - s0), 0.0, 1.0);
}

static double detect__clip(double x, double bound)
{
    return detect__clamp(x, -bound, bound);
}

/* One slot of a profile learns target (value - base): the first visit
 * takes it as it is, later ones move towards it by a clipped step. */
static void detect__learn_slot(double *offset, uint32_t *visits, double *sum,
                               int *visited, double frame, double target,
                               double alpha, double bound, double trust)
{
    if ((*visits)++ == 0) {
        *offset = target + frame;
        *sum += *offset;
        (*visited)++;
        return;
    }
    double move = detect__clip(target - (*offset - frame), bound);
    move *= detect__rate(alpha, (double)*visits) * trust;
    *offset += move;
    *sum += move;
}

/* Learns both profiles from target (value - reference level), at a rate
 * scaled by trust; shape (value - level) scores each profile alone for the
 * blend weight. */
static void detect__learn_season(struct detector *d,
                                 const struct detect_point *p, double target,
                                 double shape, double bound, double trust)
{
    struct detect_day_slot *ds = &d->day[p->day_slot];
    struct detect_week_slot *ws = &d->week[p->week_slot];
    if (p->day_known && p->week_known) {
        double ra = detect__rate(d->a_err, (double)++d->err_n);
        double ed = detect__clip(shape - p->day_eff, bound);
        double ew = detect__clip(shape - p->week_eff, bound);
        d->err2_day += ra * (ed * ed - d->err2_day);
        d->err2_week += ra * (ew * ew - d->err2_week);
    }
    detect__learn_slot(&ds->offset, &ds->visits, &d->day_sum, &d->day_visited,
                       d->frame, target, d->a_day, bound, trust);
    detect__learn_slot(&ws->offset, &ws->visits, &d->week_sum, &d->week_visited,
                       d->frame, target, d->a_week, bound, trust);
}

/* Learns phi from consecutive, non-outlying residuals. */
static void detect__learn_ar(struct detector *d, const struct detect_point *p,
                             double resid, int outlier)
{
    if (outlier) {
        d->ar_resid *= d->phi; /* skip the point, as if missing */
        return;
    }
    if (p->steps > 0.5 && p->steps <= 1.5 && d->level_n > 1) {
        double r = detect__rate(d->a_scale, (double)++d->ar_n);
        d->ar_xy += r * (resid * d->ar_resid - d->ar_xy);
        d->ar_xx += r * (d->ar_resid * d->ar_resid - d->ar_xx);
        double phi = d->ar_xx > 0 ? d->ar_xy / d->ar_xx : 0;
        if (!isfinite(phi) || d->ar_n < 10)
            phi = 0.0;
        d->phi = detect__clamp(phi, 0.0, 0.95);
    }
    d->ar_resid = resid;
}

/* Winsorised updates of the three scales and the time-of-day noise. */
static void detect__learn_scales(struct detector *d,
                                 const struct detect_point *p, double innov,
                                 double resid)
{
    if (!p->day_known && !p->week_guessed)
        return; /* the residual of a first visit means nothing */
    double r = detect__rate(d->a_scale, (double)++d->scale_n);
    double w = p->ready ? WINSOR : INFINITY;
    double ai = fmin(fabs(innov), w * p->sig_innov / GAUSS_MAD);
    double ae = fmin(fabs(resid), w * p->sig_resid / GAUSS_MAD);
    double am = fmin(fabs(d->resid_mean), w * p->sig_mean / GAUSS_MAD);
    if (d->mad_innov > 0) {
        int bin = p->noise_bin;
        double rb = detect__rate(d->a_noise, (double)++d->noise_n[bin]);
        double ratio = ai / d->mad_innov;
        d->noise_ratio[bin] += rb * (ratio - d->noise_ratio[bin]);
    }
    d->mad_innov += r * (ai / p->noise_mult - d->mad_innov);
    d->mad_resid += r * (ae / p->noise_mult - d->mad_resid);
    d->mad_mean += r * (am / p->noise_mult - d->mad_mean);
}

static void detect__learn_repeat(struct detector *d,
                                 const struct detect_point *p, double value)
{
    if (!d->have_prev)
        return;
    struct detect_day_slot *ds = &d->day[p->day_slot];
    double same = value == d->prev_value ? 1.0 : 0.0;
    double rs = detect__rate(d->a_slot, (double)++ds->repeat_n);
    ds->repeat += rs * (same - ds->repeat);
    double rg = detect__rate(d->a_scale, (double)d->rows + 5.0);
    d->repeat_global += rg * (same - d->repeat_global);
    double change = fabs(value - d->prev_value);
    if (change > 0 && change < d->resolution)
        d->resolution = change;
}

static void detect__move_base(struct detector *d, double by)
{
    d->base += by;
    d->frame += by;
}

/* Moves level towards the deseasonalised value, base slowly towards it;
 * base jumps to level when they have been apart for base_len points. */
static void detect__learn_levels(struct detector *d,
                                 const struct detect_point *p, int64_t ts,
                                 double value, double resid, double bound)
{
    double n = (double)++d->level_n;
    double base_resid = value - d->base - p->season;
    d->level += detect__rate(d->a_level, n) * detect__clip(resid, bound);
    if (ts - d->first_ts < (d->week_slots > 1 ? WEEK_S : DAY_S)) {
        d->first_sum += value;
        d->first_n++;
        return;
    }
    if (d->base_n == 0 && d->first_n > 0) {
        /* the first week is over: the level forgets its weekend */
        double mean = d->first_sum / (double)d->first_n;
        detect__move_base(d, mean - d->base);
        d->level = mean;
        d->base_n = d->first_n;
    }
    double rb = detect__rate(d->a_base, (double)++d->base_n);
    detect__move_base(d, rb * detect__clip(base_resid, bound));
    if (!p->ready || fabs(d->level - d->base) <= 2 * p->sig_resid)
        d->base_run = 0;
    else if (++d->base_run >= d->base_len) {
        detect__move_base(d, d->level - d->base);
        d->base_run = 0;
    }
}

/* Median of the latest n residuals in the shift ring. */
static double detect__recent_median(const struct detector *d, int n)
{
    double recent[DETECT_SHIFT_RING];
    if (n > d->shift_filled)
        n = d->shift_filled;
    for (int k = 0; k < n; k++) {
        int at = (d->shift_pos - 1 - k + DETECT_SHIFT_RING) % DETECT_SHIFT_RING;
        recent[k] = d->shift_ring[at];
    }
    return detect__median(recent, n);
}

/* A run of points far out on one side (the residual itself or its short
 * mean) re-bases the level at once by the median of the latest residuals.
 * The run is leaky, so that a point back inside does not end it. */
static void detect__shift(struct detector *d, const struct detect_point *p,
                          double resid, double z_sustained)
{
    d->shift_ring[d->shift_pos] = resid;
    d->shift_pos = (d->shift_pos + 1) % DETECT_SHIFT_RING;
    if (d->shift_filled < DETECT_SHIFT_RING)
        d->shift_filled++;
    int sign = 0;
    if (p->ready && fabs(z_sustained) > SHIFT_MEAN_Z)
        sign = z_sustained > 0 ? 1 : -1;
    else if (p->ready && fabs(resid) > SHIFT_Z * p->sig_resid)
        sign = resid > 0 ? 1 : -1;
    if (sign && sign != d->shift_sign) {
        d->shift_sign = sign;
        d->shift_run = 0;
    }
    d->shift_run = sign ? d->shift_run + 1 : fmax(d->shift_run - 0.5, 0);
    if (d->shift_run == 0)
        d->shift_sign = 0;
    if (d->shift_run < d->shift_len)
        return;
    d->level += detect__recent_median(d, d->shift_len);
    d->ar_resid = 0;
    d->resid_mean = 0;
    d->shift_run = 0;
    d->shift_sign = 0;
}

/* Computes the verdict on the point, advancing the short mean and the flat
 * surprise (both include the point itself). */
static void detect__score(struct detector *d, const struct detect_point *p,
                          double value, double innov, double resid,
                          struct detect_result *res)
{
    double bound = MEAN_CLIP * p->sig_resid;
    double clipped = p->ready ? detect__clip(resid, bound) : resid;
    double z_flat = detect__flat(d, p, value);
    if ((p->day_known || p->week_guessed) && z_flat <= SQUASH_MID)
        d->resid_mean += d->a_mean * (clipped - d->resid_mean);
    res->score = 0;
    res->z_point = res->z_sustained = 0;
    res->z_flat = z_flat;
    if (!p->ready)
        return;
    res->z_point = innov / p->sig_innov;
    res->z_sustained = d->resid_mean / p->sig_mean;
    double z = fmax(fabs(res->z_point), fabs(res->z_sustained));
    res->score = detect__squash(fmax(z, z_flat));
}

static void detect__learn(struct detector *d, const struct detect_point *p,
                          int64_t ts, double value, double innov, double resid,
                          const struct detect_result *res)
{
    d->uncertainty *= 0.8;
    detect__learn_repeat(d, p, value);
    d->have_prev = 1;
    d->prev_value = value;
    if (res->z_flat > SQUASH_MID) {
        d->ar_resid *= d->phi; /* a stuck sensor teaches nothing else */
        return;
    }
    double bound = p->ready ? CLIP * p->sig_resid : INFINITY;
    /* The profiles learn against base, except while level has left it (an
     * event, or a shift base has not yet followed): then against level, so
     * that a holiday teaches the weekly profile its shape, not its drop.
     * Points that score high teach at a quarter of the rate, not less, so
     * that a lasting change is still learned. */
    double reference = d->base_run > 0 ? d->level : d->base;
    double trust = fmax(1.0 - res->score, 0.25);
    detect__learn_season(d, p, value - reference, value - d->level, bound,
                         trust);
    detect__learn_levels(d, p, ts, value, resid, bound);
    detect__learn_scales(d, p, innov, resid);
    int outlier = p->ready && fabs(res->z_point) > OUTLIER_Z;
    detect__learn_ar(d, p, p->ready ? detect__clip(resid, bound) : resid,
                     outlier);
    detect__shift(d, p, resid, res->z_sustained);
}

/* Runs one point through the model; the step is known. */
static void detect__observe(struct detector *d, int64_t ts, double value,
                            struct detect_result *res)
{
    struct detect_point p;
    detect__locate(d, ts, &p);
    if (d->level_n == 0)
        d->level = d->base = value;
    detect__gap(d, &p);
    detect__season(d, &p);
    detect__sigmas(d, &p);
    double seasonal = d->level + p.season;
    double forecast = seasonal + d->phi * d->ar_resid;
    double resid = value - seasonal, innov = value - forecast;
    detect__score(d, &p, value, innov, resid, res);
    res->expected = forecast;
    if (isfinite(resid) && isfinite(innov))
        detect__learn(d, &p, ts, value, innov, resid, res);
    else
        res->score = 1.0; /* beyond double range: surely unusual */
    if (ts > d->last_ts || d->level_n <= 1)
        d->last_ts = ts;
}

static int detect__in_probation(const struct detector *d, int64_t ts)
{
    if (d->params.probation_rows >= 0)
        return d->rows <= d->params.probation_rows;
    return ts - d->first_ts < 86400 || d->rows < 32;
}

/* Buffers a warm-up row; once the step can be inferred, sizes the model
 * and replays the buffer through it. */
static void detect__warm_up(struct detector *d, int64_t ts, double value)
{
    int n = d->buf_rows;
    if (n > 0 && ts > d->buf_ts[n - 1])
        d->buf_gaps++;
    d->buf_ts[n] = ts;
    d->buf_value[n] = value;
    d->buf_rows = ++n;
    int hinted = d->params.probation_rows >= 0 &&
                 d->rows > d->params.probation_rows && d->buf_gaps >= 2;
    if (d->buf_gaps < DETECT_BUF_GAPS && n < DETECT_BUF_ROWS && !hinted)
        return;
    detect__set_rates(d, detect__buffer_step(d));
    struct detect_result ignored;
    for (int i = 0; i < n; i++)
        detect__observe(d, d->buf_ts[i], d->buf_value[i], &ignored);
}

static void detect__result_idle(struct detect_result *res)
{
    res->score = 0;
    res->expected = NAN;
    res->z_point = res->z_sustained = res->z_flat = 0;
    res->learning = 1;
}

int detect_update(struct detector *det, int64_t ts_s, double value,
                  struct detect_result *OUT_result)
{
    struct detect_result res;
    detect__result_idle(&res);
    if (!isfinite(value)) {
        if (OUT_result)
            *OUT_result = res;
        return CB_EINVAL;
    }
    if (det->rows++ == 0)
        det->first_ts = ts_s;
    if (!det->have_step) {
        detect__warm_up(det, ts_s, value);
    } else {
        detect__track_step(det, ts_s);
        detect__observe(det, ts_s, value, &res);
        res.learning = detect__in_probation(det, ts_s) ||
                       det->scale_n < DETECT_MIN_SCALE_N;
        if (res.learning)
            res.score = 0;
    }
    if (OUT_result)
        *OUT_result = res;
    return 0;
}
