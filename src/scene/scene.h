/*
 * scene.h - scenes: detectors over the household roll-ups that rank
 * suspects with evidence and run incrementally as data arrives.
 *
 * Two scenes ship, both over one struct scene_engine:
 *
 *   scene            input                        output
 *   ---------------  ---------------------------  --------------------------
 *   group rental     daily water/electricity/gas  ranked suspects with an
 *                    use, deliveries (recipient   occupancy estimate, the
 *                    hash), the registry          legal limit, evidence and
 *                                                 confounder checks
 *   elderly alone    water readings of flats      alerts: water below
 *                    flagged elderly_alone        0.01 m3 for 12 hours
 *
 * The model and its limits are in the essay at the top of
 * scene_group_rental.c; its levels and peer baselines in scene_baseline.c;
 * the learning from visits in scene_learn.c; the elderly rule in
 * scene_elderly.c.
 *
 * State.  Everything is kept in dense arrays indexed by the store's dense
 * household id (structure of arrays), about 290 bytes a household:
 *
 *   what                          type             bytes
 *   ----------------------------  ---------------  -----
 *   daily use, 30 days x 3        uint16 fixed pt    180
 *     metrics (water L, kWh/100,
 *     gas L; 0xFFFF = no data)
 *   recipients: 6 blocks of 6     64-bit linear-      48
 *     days, one bitmap each       counting bitmap
 *   orders per 6-day block        uint8 x 6            6
 *   registry (building,           packed              12
 *     committee, area, rooms,
 *     registered, flags)
 *   night-share accumulators      uint16 x 2           4
 *   results (levels, score,       uint16/uint8        14
 *     estimate, checks, faults)
 *   peer order, elderly slot      int32 x 2            8
 *
 * Distinct recipients cover the current block and the 5 before it: 30 to
 * 36 days.
 * scene_engine_state_bytes() adds it up (sizeof-based, with the peer
 * groups, elderly slots and the example ring) and the unit test holds it
 * to 300 bytes a household.  Recipient ids are hashed (FNV-1a)
 * into the bitmaps and never stored.  Household ids and names are interned
 * once (registry identity, counted apart).
 *
 * Incremental runs.  Feeding a use, a delivery or a reading only updates
 * the arrays and marks the household dirty.  scene_engine_rescore(eng, 0)
 * re-scores the dirty households against the cached peer baselines;
 * scene_engine_rescore(eng, 1) recomputes the baselines and scores every
 * household (after a day completes, a registry change or new weights).
 * Each rescore publishes a new ranking.
 *
 * Threading.  One writer, many readers (scene_engine_start_worker adds a
 * thread that re-scores every period when something changed):
 *   - feeding, rescoring and feedback take the engine's state mutex; call
 *     them from any thread (in the server: the roll-up thread feeds and
 *     rescores, HTTP threads send feedback);
 *   - the suspect list, the summaries and the precision are formatted from
 *     the published ranking under a read lock of its own, swapped by
 *     pointer at the end of a rescore: a reader never waits for a rescore;
 *   - the household evidence and the elderly alerts read the live arrays
 *     under the state mutex (they may wait for a running rescore).
 *
 * Errors.  int returns: 0 or a negative enum cb_err.  JSON writers append
 * to a caller-owned sbuf and leave it unchanged on error.
 */
#ifndef CB_SCENE_H
#define CB_SCENE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "util/util.h"

struct scene_engine;
struct store;
struct live;

struct scene_config {
    int tz_offset_minutes;    /* district local time; 480 (UTC+8) */
    double min_score;         /* suspects listed from this score; 0.5 */
    int precision_window;     /* precision over the last N visits; 100 */
    double elderly_quiet_m3;  /* water below this ... 0.01 m3 */
    int elderly_quiet_hours;  /* ... for this long raises an alert; 12 */
    const char *learned_path; /* learned state file; NULL: not persisted */
};
/* Fills cfg with the defaults above. */
void scene_config_defaults(struct scene_config *cfg);

/* Creates an empty engine (cfg and the string it points to are copied).
 * If cfg->learned_path names an existing file its learned state is loaded;
 * a damaged file is logged and ignored (the defaults are used).  Returns 0
 * or CB_EINVAL for a bad config. */
int scene_engine_new(const struct scene_config *cfg,
                     struct scene_engine **OUT_eng);
/* Frees everything; NULL is a no-op. */
void scene_engine_free(struct scene_engine *eng);

/* ---- feeding (thread-safe; cheap; marks the household dirty) ---- */

/* Sizes the arrays for dense ids < n at once (they grow by doubling
 * otherwise). */
void scene_engine_reserve(struct scene_engine *eng, size_t n);

/* Sets or replaces the registry record of dense id `household` (>= 0).
 * Strings are copied.  Returns 0 or CB_EINVAL (bad id or rooms <= 0). */
int scene_engine_set_household(struct scene_engine *eng, int32_t household,
                               const struct household *h);
/* Adds `use` (m3 or kWh; fractional parts allowed) of `metric` to local day
 * `day` (days since 1970-01-01, district time).  A negative use (a meter
 * reset) is not added but marks a fault.  Days older than the 30-day ring
 * are dropped. */
void scene_engine_add_usage(struct scene_engine *eng, int32_t household,
                            int metric, int64_t day, double use);
/* Counts one delivery order to `household` at ts_ns from `recipient` (a
 * pseudonymous id, hashed here and not kept). */
void scene_engine_add_delivery(struct scene_engine *eng, int32_t household,
                               int64_t ts_ns, const char *recipient);
/* One meter reading (household resolved).  Feeds the elderly scene (water
 * of elderly-alone flats, index or delta), the evening/night share of
 * electricity (delta readings of up to two hours) and the as-of time. */
void scene_engine_add_reading(struct scene_engine *eng,
                              const struct reading *r);
/* Moves the as-of time (epoch seconds of the latest data) forward. */
void scene_engine_set_as_of(struct scene_engine *eng, int64_t ts_s);

/* Re-scores (full = 1: everything; 0: dirty households only; a full pass
 * happens anyway when a day completed, the registry or the weights
 * changed) and publishes the ranking.  Returns 0. */
int scene_engine_rescore(struct scene_engine *eng, int full);

/* Starts a thread that re-scores every period_ms (10..60000) when
 * something changed, so that new data reaches the published ranking
 * within that period without the feeding thread paying for it.  Stopped
 * by scene_engine_free.  Returns 0, CB_EINVAL, or CB_EEXIST if running. */
int scene_engine_start_worker(struct scene_engine *eng, int period_ms);

/* Bytes of detector state (sizeof-based, arrays at their capacity) and, in
 * OUT_identity, of interned ids and names; households in OUT_n. */
size_t scene_engine_state_bytes(struct scene_engine *eng, size_t *OUT_identity,
                                size_t *OUT_n);

/* ---- group rental: reading (from the published ranking) ---- */

/* Appends the suspects object (docs/API.md): {"as_of":..,"suspects":[...]}
 * sorted by score, at most `limit` (1..10000), filtered by street and/or
 * committee names when not NULL. */
int scene_group_rental_suspects_json(struct scene_engine *eng, int limit,
                                     const char *street, const char *committee,
                                     struct sbuf *out);
/* Appends {"as_of":..,"by":"street","groups":[{"street":..,"households":N,
 * "suspects":K,"high_confidence":H,"per_1000":..,"top":[...]}...]}.  by is
 * "street" or "committee"; when by is "committee" and street is not NULL,
 * only that street's committees.  CB_EINVAL for another `by`. */
int scene_group_rental_summary_json(struct scene_engine *eng, const char *by,
                                    const char *street, struct sbuf *out);
/* Appends the drill-down of one household: registry, estimate, checks,
 * score breakdown, and the daily series of each signal against its peer
 * band (p25, median, p75).  CB_ENOTFOUND for an unknown id. */
int scene_group_rental_evidence_json(struct scene_engine *eng,
                                     const char *household_id,
                                     struct sbuf *out);
/* Ranked candidates (score order, ignoring min_score), for tests and
 * tools: up to k dense ids into OUT_households; returns how many. */
size_t scene_group_rental_top(struct scene_engine *eng, size_t k,
                              int32_t *OUT_households);
/* Dense id of a household id, or -1. */
int32_t scene_engine_household(struct scene_engine *eng,
                               const char *household_id);

/* ---- group rental: learning from visits (scene_learn.c) ---- */

enum scene_outcome {
    SCENE_CONFIRMED = 0,
    SCENE_NOT_FOUND = 1,
    SCENE_NO_ACCESS = 2,
};
/* Parses "confirmed", "not_found" or "no_access"; -1 if unknown. */
int scene_outcome_parse(const char *s);
const char *scene_outcome_name(int outcome);

/* Records a visit outcome (headcount: people seen, -1 if not counted).
 * Confirmed and not_found outcomes become labelled examples; the model is
 * refitted, saved to learned_path (atomically) and the next rescore is a
 * full one.  Returns 0, CB_ENOTFOUND (unknown household), CB_EINVAL (bad
 * outcome) or CB_EIO (saving failed; the outcome is kept in memory). */
int scene_group_rental_feedback(struct scene_engine *eng,
                                const char *household_id, int outcome,
                                int headcount);
/* Parses a feedback body {"household_id":"H1","outcome":"confirmed",
 * "headcount":9} (headcount optional), applies it and appends the answer
 * {"ok":true,"precision":...}.  CB_EINVAL with a message in out for a bad
 * body; otherwise as scene_group_rental_feedback. */
int scene_group_rental_feedback_json(struct scene_engine *eng, const char *body,
                                     size_t len, struct sbuf *out);
/* Appends {"window":N,"visits":V,"confirmed":C,"not_found":F,
 * "no_access":A,"precision":P|null,"examples":E,"occupancy_scale":S,
 * "weights":{"name":w,...}}. */
int scene_group_rental_precision_json(struct scene_engine *eng,
                                      struct sbuf *out);
/* Number of model weights, their names, and replacing them (a test of
 * learning starts from deliberately wrong weights; these also become the
 * prior the fit is pulled towards).  CB_EINVAL if n differs. */
size_t scene_group_rental_n_weights(void);
const char *scene_group_rental_weight_name(size_t i);
int scene_group_rental_set_weights(struct scene_engine *eng, const double *w,
                                   size_t n);
/* Saves or loads the learned state (weights, examples, recent outcomes).
 * save: temp file + fsync + rename; load: CB_ENOTFOUND if absent,
 * CB_EPARSE if damaged (state unchanged). */
int scene_learn_save(struct scene_engine *eng, const char *path);
int scene_learn_load(struct scene_engine *eng, const char *path);

/* ---- elderly living alone (scene_elderly.c) ---- */

/* Appends {"as_of":..,"alerts":[...],"suppressed":[...],"silent":[...]}:
 * alerts are elderly-alone flats whose water stayed below the quiet level
 * for the quiet hours; suppressed ones had a gradual drop before (likely
 * away with family), each with its reason; silent ones stopped sending
 * readings (no data, not no use). */
int scene_elderly_alerts_json(struct scene_engine *eng, const char *street,
                              const char *committee, struct sbuf *out);

/* ---- live events (scene_live.c) ---- */

/* After each re-score, publishes a `scene` event to hub (live.h) when the
 * counts changed: {"as_of":..,"suspects":N,"elderly_alerts":E,
 * "streets":{"NAME":{"suspects":K,"elderly_alerts":A},..}}, for the staff
 * roles.  hub is borrowed until scene_engine_free; NULL stops it.  Set it
 * before the store's consumers start. */
void scene_engine_set_live(struct scene_engine *eng, struct live *hub);

/* ---- glue to the store (scene_store.c) ---- */

/* Registers the engine as a consumer of the store's ingest log: it loads
 * the registry, the last 30 days of daily use, 36 days of deliveries and
 * the elderly flats' recent water readings from a snapshot, then receives
 * the later use and batches; scores once and starts the re-scoring worker
 * (250 ms).  Call between store_open and store_start_consumers; the engine
 * must outlive the store's consumers (close the store first).  Returns 0
 * or CB_ESTORE (logged; nothing registered). */
int scene_engine_attach(struct scene_engine *eng, struct store *st);

#endif
