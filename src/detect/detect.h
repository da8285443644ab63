/*
 * detect.h - the streaming anomaly detector for indicator series.
 *
 * A detector watches one series (ambulance dispatches per hour on a street,
 * district power load, delivery orders per 10 minutes...) one point at a time
 * and says how unusual the latest point is.  It is causal: the score of a
 * point depends on that point and the ones before it, never on later ones,
 * and the same input always gives the same scores.
 *
 * The score is calibrated: it is 1 - p, where p is an estimate of how often
 * a point at least this surprising occurs in this series' own normal
 * behaviour.  On normal data a score >= 1 - eps happens about eps of the
 * time or less, so one threshold means the same on every series: 0.9999 is
 * about one false flag per 10,000 normal rows.  The model, the statistics
 * and their calibration are explained at the top of detect.c.
 *
 * Life cycle.  The state is one caller-owned struct of fixed size (at most
 * DETECT_STATE_MAX bytes, no pointers, nothing allocated), so an indicator
 * engine can keep one per series in a flat array:
 *
 *     struct detector det;
 *     detect_init(&det, NULL);
 *     for each point: detect_update(&det, ts, value, &result);
 *     detect_release(&det);
 *
 * detect_new / detect_free do the same on the heap.  A struct detector may
 * be copied with memcpy (a snapshot) and written to disk as bytes on the
 * same build.  Its fields are private: use the functions.
 *
 * Threading: a detector belongs to one thread at a time; separate detectors
 * share nothing.
 */
#ifndef CB_DETECT_H
#define CB_DETECT_H

#include <stdint.h>
#include <stdio.h>

#define DETECT_STATE_MAX 4096 /* bytes per series, asserted */

#define DETECT_DAY_SLOTS 288  /* time-of-day profile: >= 5-minute slots */
#define DETECT_WEEK_SLOTS 168 /* time-of-week adjustment: hourly slots */
#define DETECT_HOURS 24       /* per-hour noise and repeat statistics */
#define DETECT_BUF_ROWS 32    /* warm-up rows that settle the step */
#define DETECT_SHIFT_RING 12  /* residuals kept to re-base a level shift */
#define DETECT_GAP_RING 15    /* recent gaps that keep the step current */
#define DETECT_TAIL_BINS 50   /* calibration histogram of |z|, 0.2 wide */
#define DETECT_DRIFT_RING 48  /* hours the drift's calibration lags by */

/* Tunables; fill with detect_params_init and change what you need. */
struct detect_params {
    /* Rows scored 0 while learning; negative picks the default (one day of
     * data and at least 32 rows). */
    long probation_rows;
    /* 1 (the default) adds the drift statistic (a 3-hour mean of the
     * deseasonalised value against a 3-day baseline, see detect.c); 0
     * leaves it out (docs/DETECTOR.md has both on the labelled set). */
    int drift;
};

/* The verdict on one point. */
struct detect_result {
    double score;       /* 1 - p_value in [0, 1]; 0 during probation */
    double p_value;     /* calibrated tail probability; 1 in probation */
    double expected;    /* the forecast for this point; NAN before any */
    double z_point;     /* innovation z-score (signed) */
    double z_sustained; /* CUSUM of the innovations, sigmas (signed) */
    double z_drift;     /* hours-mean less the slow baseline (signed) */
    double z_flat;      /* stuck-value surprise, sqrt(2 * -log P) */
    double p_count;     /* count series: the excess's tail probability
                           given the forecast and the dispersion; 1 else */
    double noise_ratio; /* recent noise over the usual (>= 0) */
    int learning;       /* 1 while in probation: score is 0 */
};

/* The empirical distribution of one |z| statistic (private). */
struct detect_tail {
    float bin[DETECT_TAIL_BINS]; /* decayed mass per bin; last: open */
    float weight;                /* weight of the next sample */
    float total;                 /* sum of bin[] */
    float u, b;                  /* tail start and exponential scale */
    float b_min;                 /* smallest b */
};

/* One series' state.  Private: use the functions. */
struct detector {
    struct detect_params params;
    int64_t first_ts, last_ts;
    long rows;     /* finite points accepted */
    long model_n;  /* points through the model */
    double step;   /* sampling step (s); 0 while unknown */
    int day_slots; /* slots per day: 1..DETECT_DAY_SLOTS */
    int week_on;   /* the time-of-week adjustment is used */
    int buf_rows, buf_gaps;
    union {
        float day[DETECT_DAY_SLOTS]; /* time-of-day profile */
        struct { /* the warm-up rows, until the step is known */
            int64_t buf_ts[DETECT_BUF_ROWS];
            double buf_value[DETECT_BUF_ROWS];
        };
    };
    float week[DETECT_WEEK_SLOTS];
    uint8_t day_visits[DETECT_DAY_SLOTS], week_visits[DETECT_WEEK_SLOTS];
    double err2_none, err2_day, err2_week; /* recent squared errors */
    double cand_resid[3]; /* last residual of each, for their AR term */
    long err_n;
    double level, trend, phi, ar_xy, ar_xx, ar_resid;
    long ar_n, scale_n;
    double mad_innov, mad_resid, mad_mean, fast_innov;
    double resid_mean, cusum_up, cusum_down;
    double uncertainty, resolution, magnitude;
    float noise_ratio[DETECT_HOURS], repeat[DETECT_HOURS];
    uint8_t noise_n[DETECT_HOURS], repeat_n[DETECT_HOURS];
    double repeat_global, prev_value, flat_surprise;
    int flat_flagged; /* surprising repeats in the current run */
    int have_prev;
    float shift_ring[DETECT_SHIFT_RING];
    int shift_pos, shift_filled, shift_sign, shift_len;
    double shift_run;
    float gap_ring[DETECT_GAP_RING];
    int gap_n, gap_pos;
    struct detect_tail tail_point, tail_mean, tail_noise, tail_drift;
    /* the drift statistic: a 3-hour mean of the deseasonalised value
     * against a slow baseline with its own slow trend */
    double drift_mid, drift_base, drift_trend, mad_drift, drift_spread;
    long drift_n;
    int drift_flagged, drift_len, drift_follow;
    int drift_clear; /* the flagged run had a clear flag (p < 1e-4) */
    /* its calibration lags: each hour's largest |z| (histogram bin + 1,
     * 0 for none) waits drift_delay hours before it is learned */
    int32_t drift_slot; /* the hour being summarised, from first_ts */
    uint8_t drift_slot_max, drift_ring_pos, drift_ring_n, drift_delay;
    uint8_t drift_ring[DETECT_DRIFT_RING];
    /* counts: every value so far a whole number >= 0 (not_count 0); the
     * dispersion (variance / mean of the forecast errors), and the last
     * point's value, forecast (prev_mu 0: none adjacent) and the recent
     * errors' variance before it */
    uint8_t not_count;
    float count_disp, count_prev, count_prev_mu, count_prev_local;
    double a_level, a_day, a_week, a_scale, a_fast, a_mean, a_noise;
    double a_repeat, a_tail, a_err, trend_keep, a_mid, a_base;
};

/* Sets params to the defaults. */
void detect_params_init(struct detect_params *params);

/* Sets det to a fresh state; params is copied, NULL means the defaults.
 * Cannot fail; allocates nothing. */
void detect_init(struct detector *det, const struct detect_params *params);

/* Releases det (it holds nothing today) and leaves it zeroed; call
 * detect_init before using it again. */
void detect_release(struct detector *det);

/* Returns a new detector on the heap, initialised as by detect_init, to be
 * freed with detect_free.  Never returns NULL (allocation failure aborts). */
struct detector *detect_new(const struct detect_params *params);

/* Frees a detector from detect_new; NULL is a no-op. */
void detect_free(struct detector *det);

/* Feeds one point: ts_s is wall-clock time in seconds (as from
 * time_days_from_civil * 86400 + seconds of day; any epoch works, the week
 * starts on the weekday of day 0 + 3), value the reading.  Fills OUT_result
 * (may be NULL) with the verdict.  Returns 0, or CB_EINVAL when value is not
 * finite: then the point is treated as missing, the state is unchanged and
 * the result says score 0. */
int detect_update(struct detector *det, int64_t ts_s, double value,
                  struct detect_result *OUT_result);

/* The sampling step the detector inferred, in seconds; 0 while unknown. */
double detect_step(const struct detector *det);

/* The CSV command.  Reads "timestamp,value" rows from in and writes
 * "timestamp,value,anomaly_score" to out, with a header line, one line per
 * input row in input order, the two fields echoed as given, out flushed
 * after every line.  The first non-blank line is a header unless its
 * timestamp parses, in which case it is data.  Timestamps are ISO 8601
 * ("YYYY-MM-DD HH:MM:SS", "T", fractions, "Z" or an offset, which is
 * ignored: wall-clock time as written) or epoch seconds (digits, optional
 * fraction; 13-digit values are taken as epoch milliseconds).  A row with a
 * bad timestamp or value is written with score 0 and a warning naming its
 * line goes to warn (NULL: no warnings); blank lines are skipped.
 * probation < 0 picks the default.  *OUT_bad_rows (may be NULL) gets the
 * number of bad rows.  Returns 0, or CB_EIO when reading or writing fails. */
int detect_run(FILE *in, FILE *out, FILE *warn, long probation,
               long *OUT_bad_rows);

/* citybrain detect-series [--probation N]: argv[0] is "detect-series".
 * Returns the process exit status: 0 ok, 1 when a row was bad or I/O
 * failed, 2 for bad arguments. */
int detect_main(int argc, char **argv);

#endif
