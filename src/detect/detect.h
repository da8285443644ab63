/*
 * detect.h - the streaming anomaly detector for indicator series.
 *
 * A detector watches one series (ambulance dispatches per hour on a street,
 * district power load, delivery orders per 10 minutes...) one point at a time
 * and says how unusual the latest point is, as a score in [0, 1].  It is
 * causal: the score of a point depends on that point and the ones before it,
 * never on later ones, and the same input always gives the same scores.
 *
 * The model.  City series are dominated by the clock: a day shape (rush
 * hours, night) and a week shape (weekends).  Each point is forecast as
 *
 *     forecast = level + season(slot) + phi * last residual
 *
 *   season   two profiles of the typical offset from the level, one per
 *            time-of-day slot and one per time-of-week slot, as wide as the
 *            sampling step (at least 5 minutes; the step is inferred from
 *            the data).  Each is kept with zero mean, so it holds shape only.
 *            The weekly profile is used wherever it has been seen and does
 *            at least as well as the daily one over the last day; the daily
 *            one fills in the first week and series with no weekly rhythm.
 *   level    a robust exponentially weighted mean of the deseasonalised
 *            series (time constant one day), re-based at once when points
 *            stay far out on one side for about three hours: a level shift
 *            is flagged while it happens, then accepted.
 *   base     a slow reference level (one week; the first week's mean to
 *            start) that the profiles learn against, so that a weekend the
 *            level has followed still teaches the weekly profile its drop.
 *            While level is away from base (an event, or a shift base will
 *            follow after three days) the profiles learn against level, so
 *            that a holiday teaches them its shape, not its drop.
 *   phi      an AR(1) term on the seasonal residual, learned online, for
 *            the short-term persistence the profiles cannot know.
 *
 * Every update is clipped at 2.5 robust standard deviations (a Huber-style
 * M-estimate), and points that score high teach the profiles at a quarter
 * of the rate, so a spike or a storm teaches the model little.  The model
 * is Taylor's double seasonal Holt-Winters with an AR(1) error correction
 * (J. W. Taylor, "Short-term electricity demand forecasting using double
 * seasonal exponential smoothing", J. Oper. Res. Soc. 54, 2003), made robust
 * and given competing instead of summed seasonal terms.
 *
 * The score.  Three statistics, each in standard-deviation units:
 *
 *   z_point      the one-step innovation over its noise scale, which is
 *                learned per hour of the day: spikes, dips, the onset of
 *                shifts;
 *   z_sustained  a short exponential mean (about an hour) of the seasonal
 *                residual over its own learned scale: a storm or holiday
 *                that keeps the series a little off its usual shape;
 *   z_flat       sqrt(2 * surprise) of a run of identical values, where the
 *                surprise adds -log P(repeat) with P learned per time-of-day
 *                slot: a stuck sensor, while night-time zeros are no news.
 *
 * score = logistic(2 * (max |z| - 3.5)), shifted so that z = 0 scores 0: a
 * 2-sigma point scores about 0.05, 3 sigma 0.27, 4 sigma 0.73, 5 sigma 0.95.
 *
 * Missing data and irregular time.  Points may come at any spacing; repeated
 * timestamps fall in the same slot, small backward steps are scored in their
 * own slot.  A gap decays the AR term and the short mean, and widens the
 * noise scale for the next few points (about x2 after a missing day), so the
 * gap itself raises no alarm; a weekly slot missed last week borrows its
 * neighbour's value.  A stuck run teaches nothing but the repeat statistics.
 *
 * Warm-up.  The first rows (until 16 positive gaps or 64 rows are seen) are
 * buffered to infer the step, then replayed into the model.  Scores are 0
 * during probation: by default until the data spans one day and holds 32
 * rows, or for the number of rows the caller asks for; and in any case until
 * the noise scales rest on at least 8 residuals.  The first week is still
 * learning: the first weekend, never seen before, scores high.
 *
 * Failure modes.  A level shift scores high for about three hours before the
 * re-base, and a long event is flagged at its start and its end rather than
 * throughout.  A lasting change of the daily or weekly shape is learned over
 * days to weeks and scores moderately meanwhile; one that looks like a level
 * shift each week (a new weekend pattern) is flagged at each start until the
 * weekly profile has caught up.  Amplitudes are additive: a series whose
 * swings double scores its peaks until the profiles follow.  Series sampled
 * more coarsely than daily have no seasonal model.  Timestamps are wall-clock
 * time as written; a daylight-saving jump moves the day shape by an hour.
 *
 * Threading: a detector belongs to one thread at a time; separate detectors
 * share nothing.  Memory: about 2.3 KiB plus 24 bytes per time-of-day slot
 * and 16 per time-of-week slot (at most 288 and 2016): under 42 KiB.
 */
#ifndef CB_DETECT_H
#define CB_DETECT_H

#include <stdint.h>
#include <stdio.h>

/* Tunables; fill with detect_params_init and change what you need. */
struct detect_params {
    /* Rows scored 0 while learning; negative picks the default (one day of
     * data and at least 32 rows). */
    long probation_rows;
};

/* The verdict on one point. */
struct detect_result {
    double score;       /* in [0, 1]; 0 during probation */
    double expected;    /* the forecast for this point; NAN before any model */
    double z_point;     /* innovation z-score (signed) */
    double z_sustained; /* short-mean residual z-score (signed) */
    double z_flat;      /* stuck-value statistic (>= 0) */
    int learning;       /* 1 while in probation: score is 0 */
};

struct detector;

/* Sets params to the defaults. */
void detect_params_init(struct detect_params *params);

/* Returns a new detector with fresh state, to be freed with detect_free.
 * params is copied; NULL means the defaults.  Never returns NULL (allocation
 * failure aborts). */
struct detector *detect_new(const struct detect_params *params);

/* Frees the detector and everything it holds; NULL is a no-op. */
void detect_free(struct detector *det);

/* Feeds one point: ts_s is wall-clock time in seconds (as from
 * time_days_from_civil * 86400 + seconds of day), value the reading.  Fills
 * OUT_result (may be NULL) with the verdict.  Returns 0, or CB_EINVAL when
 * value is not finite: then the point is treated as missing, the state is
 * unchanged and the result says score 0. */
int detect_update(struct detector *det, int64_t ts_s, double value,
                  struct detect_result *OUT_result);

/* The sampling step the detector inferred, in seconds; 0 while unknown. */
double detect_step(const struct detector *det);

/* The CSV command.  Reads "timestamp,value" rows from in (a header row is
 * skipped when its first field is not a timestamp; CRLF, a UTF-8 BOM and
 * quoted fields are accepted) and writes "timestamp,value,anomaly_score"
 * to out, with a header line, one line per input row in input order, the
 * two fields echoed as given and out flushed after every line.  A row with a
 * bad timestamp or value is written with score 0 and a warning naming its
 * line goes to warn (NULL: no warnings); blank lines are skipped.  probation
 * < 0 picks the default.  Returns 0, or CB_EIO when reading in or writing
 * out fails. */
int detect_run(FILE *in, FILE *out, FILE *warn, long probation);

/* citybrain detect-series [--probation N]: argv[0] is "detect-series".
 * Returns the process exit status (0 ok, 1 I/O error, 2 usage). */
int detect_main(int argc, char **argv);

#endif
