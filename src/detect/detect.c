/*
 * detect.c - the streaming seasonal anomaly detector with a calibrated score.
 *
 * The question.  Given the points of one series so far, how often would a
 * point as surprising as this one turn up if nothing had changed?  The score
 * is one minus that frequency.  A forecast model says what to expect, four
 * statistics measure the surprise, and an online estimate of each
 * statistic's own distribution in this series turns it into a tail
 * probability.  That last step is what makes scores comparable across
 * series: a spiky series learns that its spikes are common, a smooth one
 * that a 4-sigma step is not.
 *
 * The forecast.  City series are dominated by the clock, so each point is
 *
 *     forecast = level + trend * steps + season + phi * r
 *
 *   season  a blend of three candidates, weighted by their one-step
 *           squared errors over about the last day, each with its own AR(1)
 *           correction as the forecast would apply it (weight (best /
 *           own)^4, so the best dominates, a candidate that is only noise
 *           fades out, and the slots of a random walk's profiles, which
 *           remember last week's values, lose to no season at all):
 *             none  0, for series without a rhythm;
 *             day   a time-of-day profile, one slot per sampling step (at
 *                   least 5 minutes, at most 288 slots);
 *             week  an hourly time-of-week profile (168 slots) plus the
 *                   day profile's shape within the hour: weekends, a
 *                   Friday evening;
 *   level   a robust exponentially weighted level (time constant one day)
 *           with a slow, damped Holt trend;
 *   r       the last seasonal residual, with an AR(1) coefficient phi
 *           learned online (at most 0.995), for the short-term
 *           persistence the profiles cannot know.
 *
 * Nothing about the seasons is hard-coded but the calendar: the step is the
 * median gap of the first rows, the profiles average their first visits and
 * then learn with clipped (Huber) updates at about 15% a day and 30% a
 * week, and the blend finds out from the errors whether a rhythm is there.
 * This is Taylor's double seasonal Holt-Winters with an AR(1) error
 * correction (J. W. Taylor, "Short-term electricity demand forecasting using
 * double seasonal exponential smoothing", J. Oper. Res. Soc. 54, 2003), made
 * robust, with competing rather than summed seasonal terms, and compact: the
 * weekly term is hourly, so a series fits in 4 KB.
 *
 * The statistics.
 *
 *   z_point      the one-step innovation over its noise scale.  The scale
 *                is the larger of a slow one (a winsorised mean absolute
 *                innovation over two days, times a per-hour-of-day factor)
 *                and 0.8 of a fast one (the last ~8 innovations): after a
 *                shift or a burst of noise the next points are judged
 *                against the new noise, so a change is flagged near its
 *                onset, not on every row after it.  Spikes, dips, onsets.
 *   z_sustained  a two-sided CUSUM of the standardised innovations with an
 *                allowance of 1 sigma (E. S. Page, "Continuous inspection
 *                schemes", Biometrika 41, 1954): a shift or a new shape too
 *                small for one point.  Reset when the level re-bases.
 *   noise_ratio  the fast noise scale over the slow one: more noise.
 *   flat         a run of identical values: the surprise adds -log P(repeat)
 *                with P learned per hour of day and decays by 0.9 a point;
 *                exp(-surprise) is its tail probability directly.
 *
 *   drift        (detect_params.drift, on by default): a 3-hour mean of
 *                the deseasonalised value (value less the season) against
 *                a 3-day robust baseline with its own slow Holt trend,
 *                over a week-long noise scale or the mean's own current
 *                noise if larger (a new shape or more noise is not a
 *                drift), that noise allowing for the residuals'
 *                autocorrelation ((1 + phi) / (1 - phi)).  Its calibration
 *                lags: each hour's largest |z| waits two days in a ring
 *                before the histogram learns it, so a ramp in progress is
 *                scored against a history that does not hold it yet, while
 *                every value, the surprising ones too, is learned in the
 *                end (learning only the unsurprising ones understated its
 *                tail: it flagged 2.8 rows per 5,000 on the labelled set).
 *                It waits three days, skips times of the week not yet seen
 *                on an earlier day, and scores from the third week (in the
 *                second the weekly profile is still learning the first
 *                weekends).  A level re-base bigger than 2.5 sigma moves
 *                its baseline too (a sudden shift is not a drift; a ramp's
 *                re-bases are smaller and do not).  Flagged (p < 0.01) for
 *                3 hours with a clear flag (p < 1e-4) among them, or for 6
 *                without, a drift is accepted: the baseline jumps to the
 *                mean, the scale widens to put that deviation at 3 sigma,
 *                and the baseline follows the mean for two days.
 *   count        for count series (every value a whole number >= 0) whose
 *                forecast errors are near a Poisson's (variance / mean
 *                from 0.5 to 1.75), from the third week: the upper tail
 *                of the point, and of the point and the one before
 *                together (when the point itself is a sigma high: not the
 *                row after a one-point spike), given the forecast as the
 *                mean and a learned
 *                dispersion (quasi-Poisson: a Poisson of x / D with mean
 *                mu / D, by the regularised incomplete gamma function),
 *                never narrower than the model's recent errors (the fast
 *                scale before the points tested).  Model-based, so a
 *                short daily series (ambulance calls a day over a
 *                district) scores a clear two-day excess high without the
 *                weeks of history the histograms need.  Overdispersed
 *                series (bursts) are left to the histograms: their tails
 *                are heavier than the variance says.
 *
 * The calibration.  For the first three (and, lagged, the drift) a decayed
 * histogram (0.2-wide bins, memory about four weeks, 2,000 to 20,000
 * points) gives the empirical tail below its 98th percentile u.  Beyond
 * u, where a few weeks hold too few points, the tail is extrapolated as
 * exponential, P(s' > s) = 0.02 exp(-(s - u) / b), the peaks-over-
 * threshold model of extreme value theory with a zero shape (Siffer et al.,
 * "Anomaly detection in streams with extreme value theory", KDD 2017).  b is
 * the median excess over u divided by ln 2, which one large anomaly cannot
 * move, and never below 0.4 (0.15 for the noise ratio), a little above the
 * Gaussian's, so a light-tailed series is judged conservatively.  Each
 * histogram starts with 30 pseudo-points of a Laplace tail, so a young series
 * needs a large surprise to score high. The tail probabilities (four; five with
 * the drift, seven with the two count tails) are combined as p = min(1, k *
 * min(p_i)) with k their number (Bonferroni), and score = 1 - p.  Like
 * Numenta's anomaly likelihood (Ahmad et al., "Unsupervised real-time anomaly
 * detection for streaming data", Neurocomputing 262, 2017), the score is a
 * likelihood against the series' own recent behaviour rather than a fixed
 * function of a z-score.
 *
 * Sustained changes.  A change is flagged near its onset and then learned:
 *   - a level shift: a leaky run of points far out on one side (about two
 *     hours, 4 to 12 points) re-bases the level by the median of their
 *     residuals and resets the CUSUM; meanwhile the fast noise scale damps
 *     the point score after the first point;
 *   - more noise: the noise ratio flags it; the fast scale follows at once,
 *     the slow one in days, and the ratio falls back to 1;
 *   - a new daily or weekly shape: learned by the profiles in days, with
 *     surprising points (p < 0.01) teaching at a quarter of the rate;
 *   - a stuck value: flagged while its surprise grows, accepted once it
 *     has flagged for shift_len points, and still teaching nothing until
 *     the value changes;
 *   - the calibration histograms themselves forget in weeks.
 *
 * Time.  Points may come at any spacing.  Repeated timestamps fall in the
 * same slot and add no trend step; a small backward step is scored in its
 * own slot.  A gap decays the AR term and the CUSUM and widens the noise
 * scale for the next few points (about x2 after a missing day), so the gap
 * itself raises no alarm.  A time of the week not seen yet widens it by
 * 1.5: the first week cannot know its weekend.  A daily-or-coarser series
 * has no daily profile; one coarser than 1.5 days no weekly one.  A day slot
 * not seen yet borrows its neighbour and teaches nothing but itself.
 * Timestamps are wall-clock time, so a daylight-saving jump moves the day
 * shape by an hour.  No sigma falls below half the smallest change seen
 * between values, nor below 1e-6 of their magnitude, so a noise-free
 * periodic series has nothing to be surprised by.
 *
 * Warm-up.  The first rows (until 16 positive gaps or 32 rows) are kept to
 * find the step, then replayed.  Scores are 0 during probation: by default
 * until the data spans one day and holds 32 rows, or for the rows the
 * caller asks for; in any case until the noise scale rests on 8 residuals.
 *
 * Failure modes.  The first weeks are still learning the weekly shape and
 * the calibration: a young series scores conservatively.  A level shift
 * smaller than about 3 sigma may only show in the CUSUM, later.  A slow
 * drift on a series with a strong weekly rhythm or bursts is followed by
 * the level and the trend and is often not flagged (the drift statistic
 * catches it on smoother series).
 * A lasting change of the daily shape is learned over several days and may
 * be flagged again on the next day or two.  Amplitudes are additive: a
 * series whose swings double scores its peaks until the profiles follow.
 * The calibration assumes the recent weeks were mostly normal; a series
 * that is anomalous half of the time learns that as normal.  An exponential
 * tail understates power-law noise (Student t with 3 degrees of freedom
 * flags about 1 row in 2,000 at 0.9999 instead of 1 in 10,000).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "util/util.h"

_Static_assert(sizeof(struct detector) <= DETECT_STATE_MAX,
               "a detector must fit in DETECT_STATE_MAX bytes");

#define DETECT_BUF_GAPS 16   /* positive gaps that settle the step */
#define DETECT_MIN_SCALE_N 8 /* residuals before scoring */

#define DAY_S 86400.0
#define WEEK_S 604800.0

static const double CLIP = 2.5;      /* Huber clip of updates, sigmas */
static const double WINSOR = 3.0;    /* clip of scale updates, sigmas */
static const double MEAN_CLIP = 4.0; /* clip into short mean, CUSUM */
static const double OUTLIER_Z = 3.5; /* points the AR term skips */
static const double PHI_MAX = 0.995; /* largest AR(1) coefficient */
static const double SHIFT_Z = 2.5;   /* one-sided run: residual */
static const double SHIFT_MEAN_Z = 3.0;
static const double CUSUM_K = 1.0;      /* CUSUM allowance, sigmas */
static const double UNSEEN_WIDEN = 1.5; /* a time of week not seen */
static const double FAST_SHARE = 0.8;   /* weight of the fast noise scale */
static const double TREND_BETA = 0.02;  /* trend gain over level gain */
static const double TREND_KEEP_S = 3 * 86400.0; /* trend damping time */
static const double REPEAT_P_MIN = 0.05;
static const double FLAT_DECAY = 0.9;
static const double FLAT_SURE = 10.0;       /* surprise of a run that flags */
static const double GAUSS_MAD = 1.2533;     /* sigma / E|x| for a Gaussian */
static const double TAIL_BIN = 0.2;         /* width of a histogram bin */
static const double TAIL_Q = 0.02;          /* the tail is extrapolated above */
static const double TAIL_P_U = (float)0.02; /* its mass there */
static const double TAIL_B_MIN = 0.4;       /* smallest exponential scale */
static const double NOISE_B_MIN = 0.15;     /* the same for the noise ratio */
static const double TAIL_PRIOR_N = 30;      /* pseudo-points of Laplace tail */
static const double SURPRISING_P = 0.01;    /* points that teach less */
static const int STATISTICS = 4;            /* Bonferroni factor */
static const double TAIL_ENOUGH = 0.25;     /* 1 / STATISTICS */
static const double DRIFT_MID_S = 3 * 3600.0;    /* the drift's mean */
static const double DRIFT_BASE_S = 3 * 86400.0;  /* its baseline */
static const double DRIFT_SCALE_S = 604800.0;    /* its noise scale */
static const double DRIFT_TREND_BETA = 0.01;     /* its trend's gain */
static const double DRIFT_ACCEPT_S = 3 * 3600.0; /* surprise accepted after */
static const double COUNT_MU_MIN = 0.05; /* smallest forecast of a count */
static const double COUNT_DISP0 = 2.0;   /* dispersion before any data */
static const double COUNT_PRIOR_N = 8;   /* pseudo-points of it */
static const double COUNT_RATE_MAX = 1.0 / 60; /* over 60 points at least */
static const double COUNT_DISP_MIN = 0.5;      /* less: far from a Poisson */
static const double COUNT_DISP_MAX = 1.75; /* more: the tail's shape unknown */
static const int COUNT_TESTS = 2;          /* the point, and two points */
static const double COUNT_AFTER_S = 2 * 604800.0; /* the weeks known */
static const double COUNT_FROM_Z = 3.0;           /* tails computed beyond */
static const double DRIFT_SUDDEN = 2.5; /* a re-base this big is no drift */
static const double DRIFT_SCORE_AFTER_S = 2 * 604800.0; /* scored after */
static const double DRIFT_CLEAR_P = 1e-4; /* a clear flag: accepted sooner */
static const double DRIFT_DELAY_S = 2 * 86400.0; /* its calibration's lag */

/* What detect__observe works out about one point. */
struct detect_point {
    int64_t ts;
    int day_slot, week_slot, hour;
    double steps; /* steps since the last point; 0 for back */
    int known;    /* the day profile has a value here, maybe a neighbour's */
    int own; /* the value is this slot's own: the residual means something */
    double day_eff;  /* the day profile's value here */
    double shape;    /* day_eff less its hour's mean */
    int week_known;  /* the week profile has a value here */
    double week_eff; /* the week profile's forecast here */
    double season;
    double noise_mult; /* hour-of-day noise relative to the global one */
    double sig_innov, sig_resid, sig_mean;
    double floor; /* smallest sigma: resolution and float precision */
    int ready;
};

static double detect__clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static double detect__clip(double x, double bound)
{
    return detect__clamp(x, -bound, bound);
}

/* Running-mean weight: 1/n until the EWMA weight a is larger. */
static double detect__rate(double a, double n)
{
    return n > 0 && 1.0 / n > a ? 1.0 / n : a;
}

/* ---- calibration: the tail of one |z| statistic ---- */

/* Finds where the upper-tail mass of the histogram reaches want. */
static double detect__tail_point(const struct detect_tail *t, double want)
{
    double above = 0;
    for (int j = DETECT_TAIL_BINS - 1; j >= 0; j--) {
        double m = t->bin[j];
        if (above + m >= want && m > 0)
            return TAIL_BIN * ((double)j + 1.0 - (want - above) / m);
        above += m;
    }
    return 0;
}

/* Recomputes u (the 1 - TAIL_Q quantile) and the exponential scale b. */
static void detect__tail_refresh(struct detect_tail *t)
{
    double u = detect__tail_point(t, TAIL_Q * t->total);
    double m = detect__tail_point(t, 0.5 * TAIL_Q * t->total);
    t->u = (float)u;
    t->b = (float)fmax(t->b_min, (m - u) / M_LN2);
}

static void detect__tail_init(struct detect_tail *t, double b_min)
{
    memset(t, 0, sizeof(*t));
    t->b_min = (float)b_min;
    for (int j = 0; j < DETECT_TAIL_BINS; j++) {
        double lo = exp(-TAIL_BIN * j), hi = exp(-TAIL_BIN * (j + 1));
        if (j == DETECT_TAIL_BINS - 1)
            hi = 0;
        t->bin[j] = (float)(TAIL_PRIOR_N * (lo - hi));
        t->total += t->bin[j];
    }
    t->weight = 1;
    detect__tail_refresh(t);
}

/* P(|z| >= s) in this series; a value of TAIL_ENOUGH or more is returned
 * as TAIL_ENOUGH (STATISTICS times it is 1: the point scores 0 anyway),
 * which ends the walk over the bins early for most points. */
static double detect__tail_p(const struct detect_tail *t, double s)
{
    if (!(s > 0))
        return 1.0;
    if (s >= t->u)
        return TAIL_P_U * exp(-(s - t->u) / t->b);
    int k = (int)(s / TAIL_BIN);
    if (k >= DETECT_TAIL_BINS)
        k = DETECT_TAIL_BINS - 1;
    double enough = TAIL_ENOUGH * t->total;
    double mass = t->bin[k] * ((k + 1) * TAIL_BIN - s) / TAIL_BIN;
    for (int j = k + 1; j < DETECT_TAIL_BINS && mass < enough; j++)
        mass += t->bin[j];
    return detect__clamp(mass / t->total, TAIL_P_U, TAIL_ENOUGH);
}

/* Adds s with exponential forgetting (the weight of new points grows,
 * which is the same and costs one bin a point). */
static void detect__tail_add(struct detect_tail *t, double s, double a, long n)
{
    int k = (int)fmin(s / TAIL_BIN, DETECT_TAIL_BINS - 1);
    t->bin[k] += t->weight;
    t->total += t->weight;
    t->weight = (float)(t->weight / (1.0 - a));
    if (t->weight > 1e20f) {
        float back = 1.0f / t->weight;
        for (int j = 0; j < DETECT_TAIL_BINS; j++)
            t->bin[j] *= back;
        t->total *= back;
        t->weight = 1.0f;
    }
    if (n % 32 == 0)
        detect__tail_refresh(t);
}

/* ---- life cycle ---- */

void detect_params_init(struct detect_params *params)
{
    params->probation_rows = -1;
    params->drift = 1;
}

void detect_init(struct detector *det, const struct detect_params *params)
{
    memset(det, 0, sizeof(*det));
    if (params)
        det->params = *params;
    else
        detect_params_init(&det->params);
    det->resolution = INFINITY;
    det->repeat_global = 0.2;
    detect__tail_init(&det->tail_point, TAIL_B_MIN);
    detect__tail_init(&det->tail_mean, TAIL_B_MIN);
    detect__tail_init(&det->tail_noise, NOISE_B_MIN);
    detect__tail_init(&det->tail_drift, TAIL_B_MIN);
    det->count_disp = (float)COUNT_DISP0;
}

void detect_release(struct detector *det)
{
    memset(det, 0, sizeof(*det));
}

struct detector *detect_new(const struct detect_params *params)
{
    struct detector *det = xcalloc(1, sizeof(*det));
    detect_init(det, params);
    return det;
}

void detect_free(struct detector *det)
{
    free(det);
}

double detect_step(const struct detector *det)
{
    return det->step;
}

/* ---- time ---- */

static int detect__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (1..32); sorts a scratch copy. */
static double detect__median(const double *values, int n)
{
    double tmp[DETECT_BUF_ROWS];
    memcpy(tmp, values, (size_t)n * sizeof(double));
    qsort(tmp, (size_t)n, sizeof(double), detect__cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

static double detect__median_f(const float *values, int n)
{
    double tmp[DETECT_BUF_ROWS];
    for (int i = 0; i < n; i++)
        tmp[i] = values[i];
    return detect__median(tmp, n);
}

static int64_t detect__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Per-visit rate of a slot visited visits times per period, so that the
 * slot moves by share of the way per period. */
static double detect__visit_rate(double share, double visits)
{
    return 1.0 - pow(1.0 - share, 1.0 / fmax(visits, 1.0));
}

/* Sizes the slots and sets every rate from the sampling step. */
static void detect__set_step(struct detector *d, double step)
{
    d->step = step;
    double slot = fmax(step, 300.0);
    d->day_slots = step >= DAY_S ? 1
                                 : (int)detect__clamp(round(DAY_S / slot), 1,
                                                      DETECT_DAY_SLOTS);
    d->week_on = step <= 1.5 * DAY_S;
    double per_slot = fmax(1.0, DAY_S / (d->day_slots * step));
    double per_hour = fmax(1.0, 3600.0 / step);
    d->a_day = detect__visit_rate(0.15, per_slot);
    d->a_week = detect__visit_rate(0.3, per_hour);
    d->a_noise = detect__visit_rate(0.2, per_hour);
    d->a_repeat = detect__visit_rate(0.1, per_hour);
    d->a_level =
        detect__clamp(1.0 - exp(-step / fmax(DAY_S, 10 * step)), 1e-4, 0.2);
    d->a_scale = detect__clamp(step / (2 * DAY_S), 0.002, 0.05);
    d->a_fast = 1.0 / 8.0;
    d->a_mean = 1.0 / detect__clamp(3600.0 / step, 4, 30);
    d->a_tail = 1.0 / detect__clamp(4 * WEEK_S / step, 2000, 20000);
    d->a_err = detect__clamp(step / DAY_S, 0.001, 0.2);
    d->trend_keep = exp(-step / TREND_KEEP_S);
    d->shift_len =
        (int)detect__clamp(round(2 * 3600.0 / step), 4, DETECT_SHIFT_RING);
    d->a_mid = 1.0 / detect__clamp(DRIFT_MID_S / step, 2, 100);
    d->a_base = detect__clamp(step / DRIFT_BASE_S, 1e-4, 0.2);
    d->drift_len = (int)detect__clamp(round(DRIFT_ACCEPT_S / step), 4, 1000);
    d->drift_delay = (uint8_t)detect__clamp(
        round(DRIFT_DELAY_S / fmax(3600.0, step)), 4, DETECT_DRIFT_RING);
}

/* Keeps the sampling step current for gap handling (not slot sizes). */
static void detect__track_step(struct detector *d, int64_t ts)
{
    if (ts > d->last_ts) {
        d->gap_ring[d->gap_pos] = (float)((double)ts - (double)d->last_ts);
        d->gap_pos = (d->gap_pos + 1) % DETECT_GAP_RING;
        if (d->gap_n < DETECT_GAP_RING)
            d->gap_n++;
    }
    if (d->rows % 64 == 0 && d->gap_n >= 8)
        d->step = detect__median_f(d->gap_ring, d->gap_n);
}

static void detect__locate(const struct detector *d, int64_t ts,
                           struct detect_point *p)
{
    int64_t days = detect__floor_div(ts, 86400);
    int64_t sod = ts % 86400; /* no days * 86400: it may overflow */
    if (sod < 0)
        sod += 86400;
    int64_t dow = ((days % 7) + 7 + 3) % 7; /* 0 = Monday */
    p->ts = ts;
    p->day_slot = (int)(sod * d->day_slots / 86400);
    p->hour = (int)(sod / 3600);
    p->week_slot = (int)(dow * 24 + p->hour);
    p->steps = 1.0;
    if (d->model_n > 0)
        p->steps =
            ts > d->last_ts ? ((double)ts - (double)d->last_ts) / d->step : 0;
}

/* Missing steps: the AR term and the short mean fade, sigmas widen. */
static void detect__gap(struct detector *d, const struct detect_point *p)
{
    if (p->steps <= 1.5)
        return;
    double missed = p->steps - 1.0;
    double fade = pow(d->phi, missed);
    d->ar_resid *= fade;
    for (int c = 0; c < 3; c++)
        d->cand_resid[c] *= fade;
    d->resid_mean *= pow(1.0 - d->a_mean, missed);
    d->cusum_up *= pow(1.0 - d->a_mean, missed);
    d->cusum_down *= pow(1.0 - d->a_mean, missed);
    d->uncertainty = fmin(d->uncertainty + missed * d->step / DAY_S, 3.0);
}

/* ---- the forecast ---- */

/* Mean of the visited day slots in the hour of slot s (s's own value
 * when the slots are an hour or coarser). */
static double detect__hour_mean(const struct detector *d, int s)
{
    int per_hour = d->day_slots / 24;
    if (per_hour <= 1)
        return d->day[s];
    int from = s / per_hour * per_hour, n = 0;
    double sum = 0;
    for (int k = from; k < from + per_hour; k++)
        if (d->day_visits[k]) {
            sum += d->day[k];
            n++;
        }
    return n ? sum / n : d->day[s];
}

/* Weight of a forecast whose recent squared error is err2 when the best
 * of the three (none, day, week) has best2: 1 for the best, falling fast
 * with the error ratio, so that a profile that is only noise (a series
 * without that rhythm) fades out and a good one takes over. */
static double detect__weight(double err2, double best2)
{
    if (!(err2 > best2))
        return 1.0;
    double r = best2 / err2;
    return isfinite(r) ? r * r * r * r : 0.0;
}

/* The seasonal forecast: the day profile, or the week profile (hourly)
 * plus the day profile's shape within the hour, blended by how well each
 * has done.  Slots not seen yet borrow their neighbour. */
static void detect__season(const struct detector *d, struct detect_point *p)
{
    int n = d->day_slots, s = p->day_slot, at = s;
    p->own = d->day_visits[s] > 0;
    if (!p->own)
        at = d->day_visits[(s + n - 1) % n] ? (s + n - 1) % n : (s + 1) % n;
    p->known = d->day_visits[at] > 0;
    p->day_eff = p->known ? d->day[at] : 0;
    p->shape = p->known ? p->day_eff - detect__hour_mean(d, at) : 0;
    p->week_known = d->week_on && d->week_visits[p->week_slot] > 0;
    p->week_eff = p->week_known ? d->week[p->week_slot] + p->shape : 0;
    p->season = 0;
    if (!p->known || d->err_n == 0) {
        p->season = p->week_known ? p->week_eff : p->day_eff;
        return;
    }
    double e_none = d->err2_none, e_day = d->err2_day;
    double e_week = p->week_known ? d->err2_week : INFINITY;
    double best = fmin(e_none, fmin(e_day, e_week));
    double w_none = detect__weight(e_none, best);
    double w_day = detect__weight(e_day, best);
    double w_week = p->week_known ? detect__weight(e_week, best) : 0.0;
    double total = w_none + w_day + w_week;
    p->season = (w_day * p->day_eff + w_week * p->week_eff) / total;
}

/* The sigmas at this point: global scale x hour-of-day factor x widening
 * for gaps and for scales resting on few residuals, the innovation's
 * raised to the fast scale. */
static void detect__sigmas(const struct detector *d, struct detect_point *p)
{
    double v = fmin((double)d->noise_n[p->hour], 30.0);
    double mult = (v * d->noise_ratio[p->hour] + 4.0) / (v + 4.0);
    p->noise_mult = mult;
    p->ready = p->own && d->scale_n >= DETECT_MIN_SCALE_N;
    double widen =
        (1.0 + d->uncertainty) * (1.0 + 4.0 / fmax((double)d->scale_n, 1.0));
    if (d->week_on && !p->week_known)
        widen *= UNSEEN_WIDEN; /* a time of the week not seen yet */
    double floor = fmax(0.5 * d->resolution, 1e-6 * d->magnitude);
    if (!isfinite(floor))
        floor = 1e-6 * d->magnitude;
    floor = fmax(floor, 1e-12);
    p->floor = floor;
    double g = GAUSS_MAD * widen;
    p->sig_innov = fmax(g * mult * d->mad_innov, floor);
    p->sig_innov = fmax(p->sig_innov, FAST_SHARE * g * d->fast_innov);
    p->sig_resid = fmax(g * mult * d->mad_resid, floor);
    p->sig_resid = fmax(p->sig_resid, FAST_SHARE * g * d->fast_innov);
    p->sig_mean = fmax(g * mult * d->mad_mean, floor);
}

/* ---- the statistics ---- */

static double detect__repeat_p(const struct detector *d,
                               const struct detect_point *p)
{
    double v = fmin((double)d->repeat_n[p->hour], 10.0);
    return (v * d->repeat[p->hour] + 2.0 * d->repeat_global) / (v + 2.0);
}

/* Advances the stuck-value surprise with this point; returns it.  Like a
 * level shift, a run is flagged for about two hours (shift_len points) and
 * then accepted until the value changes. */
static double detect__flat(struct detector *d, const struct detect_point *p,
                           double value)
{
    if (!d->have_prev || value != d->prev_value) {
        d->flat_surprise = 0;
        d->flat_flagged = 0;
        return 0;
    }
    if (d->flat_flagged > d->shift_len)
        return 0; /* flagged long enough: the run is the new normal */
    double prob = fmax(detect__repeat_p(d, p), REPEAT_P_MIN);
    d->flat_surprise = FLAT_DECAY * d->flat_surprise - log(prob);
    if (d->flat_surprise > FLAT_SURE)
        d->flat_flagged++;
    return d->flat_surprise;
}

/* Advances the two-sided CUSUM with the innovation; returns it signed. */
static double detect__cusum(struct detector *d, const struct detect_point *p,
                            double innov)
{
    double r = detect__clip(innov / p->sig_innov, MEAN_CLIP);
    d->cusum_up = fmax(0.0, d->cusum_up + r - CUSUM_K);
    d->cusum_down = fmax(0.0, d->cusum_down - r - CUSUM_K);
    return d->cusum_up >= d->cusum_down ? d->cusum_up : -d->cusum_down;
}

/* The drift's baseline and scale rest on less than its time constant. */
static int detect__drift_young(const struct detector *d)
{
    return (double)d->drift_n * d->step < DRIFT_BASE_S || d->drift_n < 64;
}

/* The point's time of the week was seen on an earlier day: the first
 * week's new weekdays say nothing about a drift. */
static int detect__drift_seen(const struct detector *d,
                              const struct detect_point *p)
{
    if (!d->week_on)
        return 1;
    return d->week_visits[p->week_slot] > fmax(1.0, 3600.0 / d->step);
}

/* Advances the hours-long mean of the deseasonalised value with this
 * point; returns how far it is from the slow baseline, in its own noise
 * scale (signed), or 0 while the baseline is young. */
static double detect__drift(struct detector *d, const struct detect_point *p,
                            double value)
{
    double y = value - p->season;
    if (d->drift_n == 0)
        d->drift_mid = d->drift_base = y;
    double bound = p->ready ? MEAN_CLIP * p->sig_resid : INFINITY;
    double dev = detect__clip(y - d->drift_mid, bound);
    double r = detect__rate(d->a_mid, (double)d->drift_n + 1.0);
    d->drift_mid += r * dev;
    d->drift_spread += r * (fabs(dev) - d->drift_spread);
    if (detect__drift_young(d))
        return 0;
    /* the mean's own noise now: a new shape or more noise is not a drift */
    double now = GAUSS_MAD * d->drift_spread *
                 sqrt(d->a_mid * (1 + d->phi) / (1 - d->phi));
    double sig = fmax(fmax(GAUSS_MAD * d->mad_drift, now), p->floor);
    return (d->drift_mid - d->drift_base) / sig;
}

/* P(X >= a) for X Poisson with mean x, continued to real a > x: the
 * regularised lower incomplete gamma function P(a, x), by its series
 * (Numerical Recipes' gser), which converges fast for x < a. */
static double detect__gamma_p(double a, double x)
{
    double sum = 1.0 / a, term = sum;
    int n = 1;
    for (; n < 2000; n++) {
        term *= x / (a + n);
        sum += term;
        if (term < sum * 1e-10)
            break;
    }
    if (n == 2000) {
        /* very large counts: bound the rest by a geometric series, so
         * that the tail is never understated */
        double r = x / (a + n);
        sum += r < 1 ? term * r / (1 - r) : INFINITY;
    }
    double log_p = a * log(x) - x - lgamma(a) + log(sum);
    return fmin(1.0, exp(log_p));
}

/* Upper tail of a count-like sum s with mean m and variance v (v >= m):
 * a Poisson scaled by the dispersion v / m (a quasi-Poisson, moments
 * matched); 1 below COUNT_FROM_Z standard deviations, where it could not
 * matter. */
static double detect__count_tail(double s, double m, double v)
{
    if (!(m > 0) || !(s > m + COUNT_FROM_Z * sqrt(v)))
        return 1.0;
    double disp = v / m;
    return detect__gamma_p(s / disp, m / disp);
}

/* Count series (every value a whole number >= 0): the tail probability of
 * the point's excess over its forecast, and of this point and the one
 * before together over theirs (a short daily series' two-day excess), given
 * a dispersion learned from the errors (at least 1, the Poisson's; the
 * errors winsorised at 3 sigma, and surprising points teaching at a
 * quarter of the rate, as the profiles learn), and never narrower than the
 * model's recent errors.  Model-based, so it needs no weeks of history to
 * score a clear excess.  On (detect__count_on) only while the dispersion
 * is near a Poisson's: below COUNT_DISP_MIN the counts are far less noisy
 * than a Poisson (large smooth counts: the tail would never fire and only
 * cost its share of the false-flag budget), from COUNT_DISP_MAX up the
 * series is overdispersed and the shape of its tail is not known from its
 * variance (bursts).  Returns 1 when off. */
static int detect__count_on(const struct detector *d,
                            const struct detect_point *p)
{
    return !d->not_count && d->count_disp >= COUNT_DISP_MIN &&
           d->count_disp < COUNT_DISP_MAX &&
           (double)p->ts - (double)d->first_ts >= COUNT_AFTER_S;
}

static double detect__count(struct detector *d, const struct detect_point *p,
                            double value, double forecast, int on)
{
    if (d->not_count)
        return 1.0;
    double mu = fmax(forecast, COUNT_MU_MIN);
    double disp = fmax(d->count_disp, 1.0);
    double fast = FAST_SHARE * GAUSS_MAD * d->fast_innov;
    double local = fast * fast, pv = 1.0;
    int adjacent = d->count_prev_mu > 0 && p->steps > 0.5 && p->steps <= 1.5;
    if (p->ready && on) {
        /* no sharper than the model's recent errors (before the points
         * tested): where the forecast is poor for a while the errors are
         * not a Poisson's */
        pv = detect__count_tail(value, mu, fmax(disp * mu, local));
        /* the two points together, when this one is high too (not only
         * the row after a one-point spike) */
        if (adjacent && value - mu > sqrt(fmax(disp * mu, local))) {
            double m2 = mu + d->count_prev_mu;
            double v2 = fmax(disp * m2, 2 * d->count_prev_local);
            pv = fmin(pv, detect__count_tail(value + d->count_prev, m2, v2));
        }
    }
    double bound = WINSOR * sqrt(disp);
    double z = detect__clip((value - mu) / sqrt(mu), bound);
    double trust = COUNT_TESTS * pv < SURPRISING_P ? 0.25 : 1.0;
    double r = detect__rate(fmin(d->a_scale, COUNT_RATE_MAX),
                            (double)d->model_n + COUNT_PRIOR_N);
    d->count_disp += (float)(trust * r * (z * z - d->count_disp));
    d->count_prev = (float)value;
    d->count_prev_mu = (float)mu;
    d->count_prev_local = (float)local;
    return pv;
}

/* Computes the verdict, advancing the short mean, the CUSUM and the flat
 * surprise (all include the point itself). */
static void detect__score(struct detector *d, const struct detect_point *p,
                          double value, double innov, double resid,
                          struct detect_result *res)
{
    double clipped =
        p->ready ? detect__clip(resid, MEAN_CLIP * p->sig_resid) : resid;
    double surprise = detect__flat(d, p, value);
    double p_flat = exp(-surprise);
    int counts = p->own && p_flat > SURPRISING_P && !d->flat_flagged;
    if (counts)
        d->resid_mean += d->a_mean * (clipped - d->resid_mean);
    res->score = 0;
    res->p_value = 1;
    res->z_point = res->z_sustained = res->noise_ratio = 0;
    res->z_flat = sqrt(2.0 * surprise);
    int count_on = detect__count_on(d, p);
    res->p_count = detect__count(d, p, value, value - innov, count_on);
    int drift_counts = d->params.drift && counts && detect__drift_seen(d, p);
    res->z_drift = drift_counts ? detect__drift(d, p, value) : 0;
    if (!p->ready)
        return;
    res->z_point = innov / p->sig_innov;
    if (counts)
        res->z_sustained = detect__cusum(d, p, innov);
    double usual = GAUSS_MAD * p->noise_mult * d->mad_innov;
    double recent = d->fast_innov + d->a_fast * (fabs(innov) - d->fast_innov);
    recent = fmax(GAUSS_MAD * recent, p->floor);
    res->noise_ratio = fmin(recent / fmax(usual, p->floor), 1e3);
    double pp = detect__tail_p(&d->tail_point, fabs(res->z_point));
    double pm = detect__tail_p(&d->tail_mean, 0.5 * fabs(res->z_sustained));
    double pn = detect__tail_p(&d->tail_noise, res->noise_ratio);
    /* the drift is scored from the third week: in the second the weekly
     * profile is still learning the first weekends, which look like drifts
     * of the deseasonalised level (it learns from the first) */
    int drift_on = d->params.drift &&
                   (double)p->ts - (double)d->first_ts >= DRIFT_SCORE_AFTER_S;
    double pd =
        drift_on ? detect__tail_p(&d->tail_drift, fabs(res->z_drift)) : 1.0;
    int tests = STATISTICS + (drift_on ? 1 : 0) + (count_on ? COUNT_TESTS : 0);
    double pv = tests * fmin(fmin(fmin(pp, pm), fmin(pn, p_flat)),
                             fmin(pd, res->p_count));
    pv = fmin(1.0, pv);
    res->p_value = pv;
    res->score = detect__clamp(1.0 - pv, 0.0, 1.0);
}

/* ---- learning ---- */

/* One profile slot moves towards target by a clipped step; the first
 * visits average, later ones move at alpha. */
static void detect__learn_slot(float *slot, uint8_t *visits, double target,
                               double alpha, double bound, double trust)
{
    if (*visits == 0) {
        *slot = (float)target;
        *visits = 1;
        return;
    }
    double rate = detect__rate(alpha, (double)*visits);
    *slot += (float)(detect__clip(target - *slot, bound) * rate * trust);
    if (*visits < 255)
        (*visits)++;
}

/* Tracks the one-step errors of the three seasonal candidates for the
 * blend, each with its own AR(1) correction, as the forecast will use it:
 * a persistent series (a random walk) is then not mistaken for a seasonal
 * one whose profile slots happen to remember last week's values. */
static void detect__learn_errors(struct detector *d,
                                 const struct detect_point *p, double shape,
                                 double bound)
{
    double resid[3] = {shape, shape - p->day_eff,
                       shape - (p->week_known ? p->week_eff : p->day_eff)};
    double *err2[3] = {&d->err2_none, &d->err2_day, &d->err2_week};
    double ra = detect__rate(d->a_err, (double)++d->err_n);
    for (int c = 0; c < 3; c++) {
        double e = detect__clip(resid[c] - d->phi * d->cand_resid[c], bound);
        *err2[c] += ra * (e * e - *err2[c]);
        d->cand_resid[c] = detect__clip(resid[c], bound);
    }
}

/* Both profiles learn value - level on their own, the week profile at the
 * hour level (less the day profile's shape within the hour); shape is
 * value - level. */
static void detect__learn_season(struct detector *d,
                                 const struct detect_point *p, double shape,
                                 double bound, double trust)
{
    if (p->own)
        detect__learn_errors(d, p, shape, bound);
    int s = p->day_slot;
    detect__learn_slot(&d->day[s], &d->day_visits[s], shape, d->a_day, bound,
                       trust);
    if (!d->week_on || !p->own)
        return;
    int w = p->week_slot;
    detect__learn_slot(&d->week[w], &d->week_visits[w], shape - p->shape,
                       d->a_week, bound, trust);
}

/* Learns phi from consecutive, non-outlying residuals. */
static void detect__learn_ar(struct detector *d, const struct detect_point *p,
                             double resid, int outlier)
{
    if (outlier) {
        d->ar_resid *= d->phi; /* skip the point, as if missing */
        return;
    }
    if (p->steps > 0.5 && p->steps <= 1.5) {
        double r = detect__rate(d->a_scale, (double)++d->ar_n);
        d->ar_xy += r * (resid * d->ar_resid - d->ar_xy);
        d->ar_xx += r * (d->ar_resid * d->ar_resid - d->ar_xx);
        double phi = d->ar_xx > 0 ? d->ar_xy / d->ar_xx : 0;
        if (!isfinite(phi) || d->ar_n < 10)
            phi = 0.0;
        d->phi = detect__clamp(phi, 0.0, PHI_MAX);
    }
    d->ar_resid = resid;
}

/* Winsorised updates of the scales and the hour-of-day noise. */
static void detect__learn_scales(struct detector *d,
                                 const struct detect_point *p, double innov,
                                 double resid)
{
    double r = detect__rate(d->a_scale, (double)++d->scale_n);
    double w = p->ready ? WINSOR / GAUSS_MAD : INFINITY;
    double slow = fmax(GAUSS_MAD * p->noise_mult * d->mad_innov, 1e-300);
    double ai = fmin(fabs(innov), w * p->sig_innov);
    double ae = fmin(fabs(resid), w * p->sig_resid);
    double am = fmin(fabs(d->resid_mean), w * p->sig_mean);
    if (d->mad_innov > 0) {
        int h = p->hour;
        double rb = detect__rate(d->a_noise, (double)++d->noise_n[h]);
        if (d->noise_n[h] > 200)
            d->noise_n[h] = 200;
        double ratio = fmin(ai, w * slow) / d->mad_innov;
        d->noise_ratio[h] += (float)(rb * (ratio - d->noise_ratio[h]));
    }
    d->mad_innov += r * (fmin(ai, w * slow) / p->noise_mult - d->mad_innov);
    d->mad_resid += r * (ae / p->noise_mult - d->mad_resid);
    d->mad_mean += r * (am / p->noise_mult - d->mad_mean);
    double rf = detect__rate(d->a_fast, (double)d->scale_n);
    double af = fmin(fabs(innov), p->ready ? 10.0 * slow : INFINITY);
    d->fast_innov += rf * (af - d->fast_innov);
}

static void detect__learn_repeat(struct detector *d,
                                 const struct detect_point *p, double value)
{
    d->magnitude += detect__rate(d->a_scale, (double)d->model_n) *
                    (fabs(value) - d->magnitude);
    if (!d->have_prev)
        return;
    int h = p->hour;
    double same = value == d->prev_value ? 1.0 : 0.0;
    double rs = detect__rate(d->a_repeat, (double)++d->repeat_n[h]);
    if (d->repeat_n[h] > 200)
        d->repeat_n[h] = 200;
    d->repeat[h] += (float)(rs * (same - d->repeat[h]));
    double rg = detect__rate(d->a_scale, (double)d->model_n + 5.0);
    d->repeat_global += rg * (same - d->repeat_global);
    double change = fabs(value - d->prev_value);
    if (change > 0 && change < d->resolution)
        d->resolution = change;
}

/* The level follows the deseasonalised series (with a damped trend); a
 * point the day profile has no value for only sets the first level. */
static void detect__learn_level(struct detector *d,
                                const struct detect_point *p, double resid,
                                double bound)
{
    double e = detect__clip(resid, bound);
    d->level += d->a_level * e;
    d->trend += d->a_level * TREND_BETA * e;
}

/* A run of points far out on one side (the residual itself or its short
 * mean) re-bases the level at once by the median of the latest residuals.
 * The run is leaky, so that a point back inside does not end it. */
static void detect__shift(struct detector *d, const struct detect_point *p,
                          double resid, double z_sustained)
{
    d->shift_ring[d->shift_pos] = (float)resid;
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
    float recent[DETECT_SHIFT_RING];
    int n = d->shift_len < d->shift_filled ? d->shift_len : d->shift_filled;
    for (int k = 0; k < n; k++)
        recent[k] = d->shift_ring[(d->shift_pos - 1 - k + DETECT_SHIFT_RING) %
                                  DETECT_SHIFT_RING];
    double jump = detect__median_f(recent, n);
    d->level += jump;
    /* the drift statistic is told: a shift is not a drift */
    double slow = GAUSS_MAD * p->noise_mult * d->mad_resid;
    if (fabs(jump) > DRIFT_SUDDEN * slow) {
        d->drift_base += jump;
        d->drift_mid = d->drift_base;
    }
    d->ar_resid = 0;
    d->resid_mean = 0;
    d->cusum_up = d->cusum_down = 0;
    d->shift_run = 0;
    d->shift_sign = 0;
}

/* The drift's calibration lags: each hour (or step, if longer) keeps its
 * largest |z_drift| as a histogram bin, and an hour is learned only
 * drift_delay hours later.  A ramp in progress is then scored against a
 * history that does not hold it yet, while every value, the surprising
 * ones too, is learned in the end, so the natural tail is not understated
 * (learning only unsurprising points understated it). */
static void detect__drift_calibrate(struct detector *d, int64_t ts, double z)
{
    double period = fmax(3600.0, d->step);
    double since = ((double)ts - (double)d->first_ts) / period;
    int32_t slot = (int32_t)detect__clamp(floor(since), 0, 2e9);
    int bin = (int)fmin(fabs(z) / TAIL_BIN, DETECT_TAIL_BINS - 1) + 1;
    if (slot == d->drift_slot) {
        if (bin > d->drift_slot_max)
            d->drift_slot_max = (uint8_t)bin;
        return;
    }
    if (d->drift_slot_max) {
        int n = d->drift_delay, pos = d->drift_ring_pos;
        int old = d->drift_ring_n >= n ? d->drift_ring[pos] : 0;
        d->drift_ring[pos] = d->drift_slot_max;
        d->drift_ring_pos = (uint8_t)((pos + 1) % n);
        if (d->drift_ring_n < n)
            d->drift_ring_n++;
        if (old) {
            double a = 1.0 / detect__clamp(4 * WEEK_S / period, 200, 20000);
            detect__tail_add(&d->tail_drift, TAIL_BIN * (old - 0.5), a, 0);
        }
    }
    d->drift_slot = slot;
    d->drift_slot_max = (uint8_t)bin;
}

/* The drift's baseline follows the deseasonalised value slowly (and the
 * trend, in detect__observe); its noise scale and calibration learn from
 * the points not flagged.  A drift flagged for drift_len points is
 * accepted: the baseline jumps to the recent mean, as a level shift
 * re-bases the level. */
static void detect__learn_drift(struct detector *d,
                                const struct detect_point *p, double value,
                                double z_drift, double bound)
{
    double y = value - p->season;
    d->drift_n++;
    double rb = detect__rate(d->a_base, (double)d->drift_n);
    double e = detect__clip(y - d->drift_base, bound);
    d->drift_base += rb * e;
    d->drift_trend += rb * DRIFT_TREND_BETA * e; /* Holt, slow */
    if (d->drift_follow > 0) {
        /* an accepted drift may go on: follow it for a day */
        d->drift_follow--;
        d->drift_base = d->drift_mid;
        return;
    }
    int young = detect__drift_young(d);
    if (!young)
        detect__drift_calibrate(d, p->ts, z_drift);
    double pd = young ? 1.0 : detect__tail_p(&d->tail_drift, fabs(z_drift));
    if ((STATISTICS + 1) * pd < SURPRISING_P) {
        if ((STATISTICS + 1) * pd < DRIFT_CLEAR_P)
            d->drift_clear = 1;
        d->drift_flagged++;
        if (d->drift_flagged >= 2 * d->drift_len ||
            (d->drift_flagged >= d->drift_len && d->drift_clear)) {
            /* the new normal: this deviation, at 3 sigma, sets the scale
             * (which forgets it in a week), and the baseline follows */
            double dev = fabs(d->drift_mid - d->drift_base);
            d->mad_drift = fmax(d->mad_drift, dev / (3 * GAUSS_MAD));
            d->drift_base = d->drift_mid;
            d->drift_flagged = 0;
            d->drift_clear = 0;
            d->drift_follow = (int)fmin(2 * DAY_S / d->step, 1e6);
        }
        return;
    }
    if (d->drift_flagged > 0 && --d->drift_flagged == 0)
        d->drift_clear = 0;
    double dev = fabs(d->drift_mid - d->drift_base);
    double w = d->mad_drift > 0 ? WINSOR * d->mad_drift : INFINITY;
    double rs =
        detect__rate(fmax(d->step / DRIFT_SCALE_S, 1e-4), (double)d->drift_n);
    d->mad_drift += rs * (fmin(dev, w) - d->mad_drift);
}

static void detect__learn(struct detector *d, const struct detect_point *p,
                          double value, double innov, double resid,
                          const struct detect_result *res)
{
    d->uncertainty *= 0.8;
    detect__learn_repeat(d, p, value);
    d->have_prev = 1;
    d->prev_value = value;
    if (d->flat_flagged || exp(-res->z_flat * res->z_flat / 2) < SURPRISING_P) {
        d->ar_resid *= d->phi; /* a stuck sensor teaches nothing else */
        return;
    }
    double bound = p->ready ? CLIP * p->sig_resid : INFINITY;
    double trust = p->ready && res->p_value < SURPRISING_P ? 0.25 : 1.0;
    double shape = value - d->level;
    if (p->ready) {
        detect__tail_add(&d->tail_point, fabs(res->z_point), d->a_tail,
                         d->scale_n);
        detect__tail_add(&d->tail_mean, 0.5 * fabs(res->z_sustained), d->a_tail,
                         d->scale_n);
        detect__tail_add(&d->tail_noise, res->noise_ratio, d->a_tail,
                         d->scale_n);
    }
    if (d->params.drift && p->own && detect__drift_seen(d, p))
        detect__learn_drift(d, p, value, res->z_drift, bound);
    detect__learn_season(d, p, shape, bound, trust);
    if (!p->own) {
        d->ar_resid = 0; /* a first visit: its residual says nothing */
        return;
    }
    detect__learn_level(d, p, resid, bound);
    detect__learn_scales(d, p, innov, resid);
    int outlier = p->ready && fabs(res->z_point) > OUTLIER_Z;
    detect__learn_ar(d, p, p->ready ? detect__clip(resid, bound) : resid,
                     outlier);
    detect__shift(d, p, resid, d->resid_mean / p->sig_mean);
}

/* Runs one point through the model; the step is known. */
static void detect__observe(struct detector *d, int64_t ts, double value,
                            struct detect_result *res)
{
    struct detect_point p;
    detect__locate(d, ts, &p);
    if (d->model_n == 0)
        d->level = value;
    detect__gap(d, &p);
    d->level += d->trend * p.steps;
    d->drift_base += d->drift_trend * p.steps;
    d->trend *= p.steps == 1.0 ? d->trend_keep : pow(d->trend_keep, p.steps);
    detect__season(d, &p);
    detect__sigmas(d, &p);
    double seasonal = d->level + p.season;
    double forecast = seasonal + d->phi * d->ar_resid;
    double resid = value - seasonal, innov = value - forecast;
    detect__score(d, &p, value, innov, resid, res);
    res->expected = forecast;
    d->model_n++;
    if (isfinite(resid) && isfinite(innov) && isfinite(d->level)) {
        detect__learn(d, &p, value, innov, resid, res);
    } else {
        res->score = 1.0; /* beyond double range: surely unusual */
        res->p_value = 0.0;
    }
    if (ts > d->last_ts || d->model_n <= 1)
        d->last_ts = ts;
}

static int detect__in_probation(const struct detector *d, int64_t ts)
{
    if (d->params.probation_rows >= 0)
        return d->rows <= d->params.probation_rows;
    return (double)ts - (double)d->first_ts < DAY_S || d->rows < 32;
}

/* Median of the positive gaps seen in the warm-up buffer. */
static double detect__buffer_step(const struct detector *d)
{
    double gaps[DETECT_BUF_ROWS];
    int n = 0;
    for (int i = 1; i < d->buf_rows; i++)
        if (d->buf_ts[i] > d->buf_ts[i - 1])
            gaps[n++] = (double)d->buf_ts[i] - (double)d->buf_ts[i - 1];
    return n ? detect__median(gaps, n) : 3600.0;
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
    int64_t buf_ts[DETECT_BUF_ROWS];
    double buf_value[DETECT_BUF_ROWS];
    memcpy(buf_ts, d->buf_ts, sizeof(buf_ts));
    memcpy(buf_value, d->buf_value, sizeof(buf_value));
    detect__set_step(d, detect__buffer_step(d));
    memset(d->day, 0, sizeof(d->day));
    struct detect_result ignored;
    for (int i = 0; i < n; i++)
        detect__observe(d, buf_ts[i], buf_value[i], &ignored);
}

static void detect__result_idle(struct detect_result *res)
{
    res->score = 0;
    res->p_value = 1;
    res->expected = NAN;
    res->z_point = res->z_sustained = res->z_flat = res->z_drift = 0;
    res->noise_ratio = 0;
    res->p_count = 1;
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
    if (value < 0 || value > 1e9 || value != floor(value))
        det->not_count = 1;
    if (det->rows++ == 0)
        det->first_ts = ts_s;
    if (det->step == 0) {
        detect__warm_up(det, ts_s, value);
    } else {
        detect__track_step(det, ts_s);
        detect__observe(det, ts_s, value, &res);
        res.learning = detect__in_probation(det, ts_s) ||
                       det->scale_n < DETECT_MIN_SCALE_N;
        if (res.learning) {
            res.score = 0;
            res.p_value = 1;
        }
    }
    if (OUT_result)
        *OUT_result = res;
    return 0;
}
