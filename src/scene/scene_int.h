/*
 * scene_int.h - the scene engine's private layout, shared by its files.
 *
 *   file                  what
 *   --------------------  ---------------------------------------------
 *   scene.c               engine lifecycle, feeding, names, publishing
 *   scene_baseline.c      levels (14-day medians) and peer baselines
 *   scene_group_rental.c  the detector: estimate, features, checks, score
 *   scene_json.c          suspects, summaries and evidence as JSON
 *   scene_learn.c         visit outcomes, the logistic fit, persistence
 *   scene_elderly.c       the elderly-alone rule
 *   scene_complaints.c    12345 complaints matched to buildings
 *   scene_store.c         the engine as a consumer of the store's log
 *
 * Locking: fields under "state" belong to eng->lock; the published ranking
 * (eng->pub) is swapped under eng->pub_lock (write) and read under it
 * (read).  A struct scene_ranking is immutable once published.
 */
#ifndef CB_SCENE_INT_H
#define CB_SCENE_INT_H

#include <pthread.h>

#include "scene/scene.h"

#define SCENE_DAYS 30       /* daily ring length */
#define SCENE_LEVEL_DAYS 14 /* the level is the median of these days */
#define SCENE_HIST_DAYS 28  /* own history and consistency window */
#define SCENE_BLOCKS 6      /* recipient blocks in the ring */
#define SCENE_BLOCK_DAYS 6  /* days per recipient block */
#define SCENE_NO_DATA 0xFFFFu
#define SCENE_NF 19             /* features of the logistic model */
#define SCENE_COMPLAINT_DAYS 60 /* 12345 complaints count this long */
#define SCENE_COMPLAINT_SLOTS 4 /* complaint days kept per building */
#define SCENE_SIZE_CLASSES 4
#define SCENE_MIN_PEERS 5
#define SCENE_MAX_EXAMPLES 1024
#define SCENE_MAX_OUTCOMES 1000

/* Fixed-point scale of the daily ring per metric: units per m3 or kWh. */
extern const double scene_metric_scale[METRIC_COUNT];

/* Feature indices (names in scene_group_rental.c). */
enum scene_feature {
    F_BIAS,
    F_WATER_EXCESS,
    F_ELEC_EXCESS,
    F_RECIP_EXCESS,
    F_WATER_PEER,
    F_GAS_COOKING,
    F_NIGHT_SHARE,
    F_STEP_UP,
    F_CONSISTENCY,
    F_WEEKEND_SHAPE,
    F_LARGE_FAMILY,
    F_BUSINESS,
    F_SHORT_TERM,
    F_WATER_ONLY,
    F_METER_FAULT,
    F_BUILDING_SWING,
    F_RECIP_DEFICIT,
    F_PERSONS_EXCESS,
    F_COMPLAINTS,
};

/* Confounder check bits (struct scene_result.checks). */
enum scene_check {
    CHECK_LARGE_FAMILY = 1 << 0,
    CHECK_BUSINESS = 1 << 1,
    CHECK_SHORT_TERM = 1 << 2,
    CHECK_WATER_ONLY = 1 << 3,
    CHECK_METER_FAULT = 1 << 4,
    CHECK_BUILDING_SWING = 1 << 5,
    CHECK_VACANT = 1 << 6,
    CHECK_SPARSE_DATA = 1 << 7,
};

/* Signals a suspect's record can lack (struct scene_suspect.unusable):
 * one bit per metric (1 << metric), then these. */
enum scene_signal {
    SIGNAL_RECIPIENTS = 1 << METRIC_COUNT, /* no delivery orders at all */
    SIGNAL_NIGHT_SHARE = 1 << (METRIC_COUNT + 1), /* no sub-daily power */
};

/* Interned strings: id = order of first intern. */
struct scene_names {
    struct arena arena;
    const char **name; /* by id */
    uint32_t n, cap;
    uint32_t *slot;    /* id + 1; 0 is empty */
    uint32_t slot_cap; /* power of two */
};
uint32_t scene_names_intern(struct scene_names *t, const char *s);
int64_t scene_names_find(const struct scene_names *t, const char *s);
void scene_names_release(struct scene_names *t);
uint64_t scene_fnv1a(const char *s);
uint64_t scene_mix64(uint64_t z);

/* Registry of one household, packed. */
struct scene_reg {
    uint32_t building;  /* name id */
    uint16_t committee; /* name id; its street: committee_street */
    uint16_t area_dm2;  /* area in 0.1 m2, saturating */
    uint8_t rooms;      /* 0: no registry record */
    uint8_t registered; /* saturating at 255 */
    uint8_t flags;      /* enum household_flag */
};

/* Results of the last scoring of one household. */
struct scene_result {
    uint16_t level[METRIC_COUNT]; /* median daily use, ring units */
    uint16_t score;               /* score x 65535 */
    uint16_t estimate;            /* occupants x 100 */
    uint8_t checks;               /* enum scene_check bits */
    uint8_t faults;               /* bit per metric: reset seen lately */
    uint8_t recipients;           /* distinct recipients, 30 days */
    uint8_t candidate;            /* estimate above the allowed count */
};

/* Elderly-alone water tracking, only for flagged flats. */
struct scene_elderly {
    double last_index;    /* last water register (m3); NAN: none */
    uint32_t last_ts;     /* epoch s of the last water reading */
    uint32_t quiet_since; /* epoch s: use since then < the quiet level */
    float quiet_use;      /* m3 used since quiet_since */
    uint32_t interval_s;  /* the meter's reading interval; 0: unknown */
    float usual_m3;       /* usual daily water, own history; < 0 unknown */
};

/* An elderly flat's state read from the state file, waiting for its
 * registry record (sorted by household id). */
struct scene_elderly_saved {
    char household_id[32];
    struct scene_elderly state;
};

/* Peer baseline of a group of households. */
struct scene_peer {
    float level[METRIC_COUNT];      /* median daily use (m3 or kWh) */
    float per_capita[METRIC_COUNT]; /* median use per registered person */
    float recipients;               /* median distinct recipients */
    uint32_t n;                     /* households in the baseline */
};

/* One peer group: households with one building (and size class). */
struct scene_group {
    uint32_t building;
    uint8_t size_class;    /* 0..3; 255: whole building */
    uint32_t start, count; /* range in eng->peer_order */
    struct scene_peer peer;
};

/* A published suspect: everything the JSON needs, copied out. */
struct scene_suspect {
    int32_t household;
    float score, estimate;     /* estimate: raw, before the learned scale */
    float consumption;         /* occupants by water and electricity */
    float shown;               /* estimate x learned occupancy scale */
    float occ[METRIC_COUNT];   /* per-signal occupancy estimate */
    float level[METRIC_COUNT]; /* m3/day or kWh/day; <0 no data */
    float peer_level[METRIC_COUNT]; /* raw peer median */
    float per_capita[METRIC_COUNT]; /* calibration used */
    float recipients, peer_recipients, orders_30d, night_share;
    uint32_t peers;
    uint32_t complaints; /* 12345 housing_rental at its building, 60 d */
    int legal_limit, registered;
    uint8_t checks, faults, days_water;
    uint8_t unusable; /* enum scene_signal bits: not measured, not used */
    uint8_t visit;    /* latest visit outcome + 1; 0: not visited */
    uint16_t street_id, committee_id;
    const char *household_id, *street, *committee; /* interned */
};

struct scene_ranking {
    int64_t as_of_s;
    size_t n;                    /* candidates, score order */
    struct scene_suspect *items; /* n */
    /* households per street and committee, by name id */
    uint32_t n_streets, n_committees;
    uint32_t *street_households, *committee_households;
    const char **street_names, **committee_names; /* interned */
    uint16_t *committee_street;                   /* street id */
    /* learning summary, copied for lock-free reading */
    double weights[SCENE_NF];
    double occupancy_scale;
    double order_share; /* the district's, at publication */
    uint32_t visits, confirmed, not_found, no_access, examples;
    uint32_t precision_window;
};

/* One visited flat: its latest visit, and the labelled example that its
 * latest judged (confirmed or not_found) visit made. */
struct scene_visit {
    char household_id[32];
    int32_t household;  /* dense id; -1 until the registry knows it */
    uint64_t visit_key; /* FNV-1a of the visit id; 0: none given */
    uint32_t seq;       /* arrival order of the latest visit */
    uint8_t outcome;    /* enum scene_outcome of the latest visit */
    uint8_t labelled;   /* the example below holds a judged visit */
    uint8_t label;      /* 1 confirmed, 0 not found */
    int16_t headcount;
    float estimate;
    float x[SCENE_NF];
};

#define SCENE_SEEN_KEYS 4096 /* visit ids remembered for idempotency */

struct scene_learner {
    double w[SCENE_NF], prior[SCENE_NF];
    double occupancy_scale;     /* headcount / estimate, learned */
    struct scene_visit *visits; /* SCENE_MAX_EXAMPLES, latest per flat */
    size_t n_visits;
    uint32_t next_seq;
    uint64_t *seen; /* ring of SCENE_SEEN_KEYS visit keys */
    size_t n_seen, seen_next;
    int fitted; /* w was fitted on visits (else: the prior, calibrated) */
};

/* District-wide baselines of the last full pass. */
struct scene_district {
    float per_capita[METRIC_COUNT];
    struct scene_peer size_class[SCENE_SIZE_CLASSES];
    float night_share;
    /* share of the weak positives (3+ people more than registered) whose
     * recipients reach their consumption estimate; scales the recipient
     * deficit feature (scene_group_rental.c); 1 without evidence */
    float order_share;
};

struct scene_engine {
    struct scene_config cfg;
    char *learned_path;
    pthread_mutex_t lock;
    pthread_rwlock_t pub_lock;
    struct scene_ranking *pub; /* under pub_lock */

    /* ---- state (eng->lock) ---- */
    size_t n, cap;               /* dense ids < n are known */
    uint16_t *use[METRIC_COUNT]; /* [h * SCENE_DAYS + day % SCENE_DAYS] */
    int64_t cur_day;             /* newest day in the ring; -1 none */
    uint64_t *recip;             /* [h * SCENE_BLOCKS + block % BLOCKS] */
    uint8_t *orders;             /* same indexing */
    int64_t cur_block;           /* newest block; -1 none */
    struct scene_reg *reg;
    uint16_t *night_use, *day_use; /* electricity, kWh/100, decayed */
    struct scene_result *res;
    int32_t *elderly_slot; /* -1: not elderly-alone */
    struct scene_elderly *elderly;
    size_t n_elderly, cap_elderly;
    char *elderly_path; /* state file, or NULL */
    struct scene_elderly_saved *elderly_pending;
    size_t n_elderly_pending;
    int64_t elderly_file_as_of; /* as-of (epoch s) of the state read at
                                 * start; -1: none read */
    int elderly_dirty;          /* changed since the last save */
    int64_t elderly_saved;      /* monotonic s of the last save */
    uint8_t *dirty;             /* one bit per household */
    size_t n_dirty;
    int64_t as_of_s;
    int64_t scored_day; /* last full day of the last full pass */
    int registry_dirty, weights_dirty;

    struct scene_names streets, committees, buildings, ids;
    uint16_t *committee_street; /* by committee id: street id */
    uint32_t *household_of_id;  /* by id name: dense id + 1; 0 none */
    uint32_t *id_of_household;  /* by dense id: id name + 1; 0 none */

    int32_t *peer_order; /* households sorted by (building, size class) */
    struct scene_group *groups;
    size_t n_groups;
    uint32_t *building_group; /* by building id: whole-building group+1 */
    size_t n_building_group;  /* building ids the last pass grouped */
    /* 12345 housing_rental complaints, matched to buildings by position */
    float *building_pos;     /* by building id: lat, lon; NAN unknown */
    int32_t *complaint_day;  /* by building id: SCENE_COMPLAINT_SLOTS days */
    size_t building_cap;     /* of building_pos and complaint_day */
    uint64_t *building_keys; /* sorted (position key << 24 | building) */
    size_t n_building_keys;
    int building_keys_dirty;
    struct scene_district district;

    struct scene_learner learn;

    struct store *store; /* attached store, or NULL */
    struct live *live;   /* where re-scores are announced, or NULL */
    pthread_mutex_t live_lock;
    char *live_last;  /* the last `scene` event sent (live_lock) */
    pthread_t worker; /* re-scoring thread, when started */
    int worker_running;
    int worker_stop; /* under worker_lock */
    int worker_period_ms;
    pthread_mutex_t worker_lock;
    pthread_cond_t worker_cond;
};

/* A growing list of candidate records, handed to scene_publish. */
struct scene_cands {
    struct scene_suspect *items;
    size_t n, cap;
};
void scene_cands_push(struct scene_cands *c, const struct scene_suspect *s);

/* scene.c */
int64_t scene_local_day(const struct scene_engine *eng, int64_t ts_s);
int64_t scene_last_full_day(const struct scene_engine *eng);
/* Sorts the candidates, takes them over and swaps the new ranking in.
 * Caller holds eng->lock. */
void scene_publish(struct scene_engine *eng, struct scene_cands *c);
struct scene_ranking *scene_ranking_get(struct scene_engine *eng);
void scene_ranking_put(struct scene_engine *eng);
int scene_size_class(const struct scene_reg *r);
int scene_legal_limit(const struct scene_reg *r);
const char *scene_household_id(const struct scene_engine *eng, int32_t h);
/* Committees and buildings are interned under "street\x1fcommittee" (and
 * "...\x1fbuilding") since their names repeat across streets; this gives
 * the last part for display. */
const char *scene_display_name(const char *key);

/* scene_baseline.c: levels and peer baselines */
#define SCENE_E_BASE_KWH 2.0 /* electricity a flat uses with nobody */

/* Level of metric m of h in m3 or kWh a day; -1 without one. */
static inline double scene_level_value(const struct scene_engine *eng,
                                       int32_t h, int m)
{
    uint16_t v = eng->res[h].level[m];
    return v == SCENE_NO_DATA ? -1.0 : v / scene_metric_scale[m];
}
/* Use attributable to people: electricity above the base load. */
static inline double scene_people_use(int m, double level)
{
    if (m == METRIC_ELECTRICITY)
        return level > SCENE_E_BASE_KWH ? level - SCENE_E_BASE_KWH : 0.0;
    return level;
}
/* Present values of metric m of h over `days` days ending at `last`. */
size_t scene_ring_values(const struct scene_engine *eng, int32_t h, int m,
                         int64_t last, int days, uint16_t *OUT_v);
/* Median of v[0..n) (n <= SCENE_HIST_DAYS; reorders v, which holds 16). */
float scene_median_u16(uint16_t *v, size_t n);
/* Levels (and recipient counts) of every household, or of h, for the
 * level window ending at day `last`. */
void scene_levels_all(struct scene_engine *eng, int64_t last);
void scene_levels_one(struct scene_engine *eng, int32_t h, int64_t last);
/* Regroups peers if the registry changed; district and group baselines
 * from the current levels. */
void scene_baselines_update(struct scene_engine *eng);
/* The peer group of h: its size class in its building (whole_building 0)
 * or its building (1).  NULL if h is not grouped yet.  A building's
 * baseline is only computed (peer.n > 0) when one of its size classes
 * cannot calibrate alone (too few peers, or no figure for a signal). */
const struct scene_group *scene_gr_group_of(struct scene_engine *eng, int32_t h,
                                            int whole_building);
double scene_gr_distinct_recipients(const struct scene_engine *eng, int32_t h);

/* scene_complaints.c: the registry position of a building (NAN: none),
 * and the 12345 complaints at the building of h in the last
 * SCENE_COMPLAINT_DAYS days. */
void scene_complaints_building(struct scene_engine *eng, uint32_t building,
                               double lat, double lon);
uint32_t scene_gr_complaints(const struct scene_engine *eng, int32_t h);

/* scene_group_rental.c */
/* Re-scores everything (or h), appending candidates' records to out. */
void scene_gr_rescore_full(struct scene_engine *eng, struct scene_cands *out);
void scene_gr_rescore_one(struct scene_engine *eng, int32_t h,
                          struct scene_cands *out);
/* Features of h against the cached baselines (OUT_x[SCENE_NF]); fills the
 * suspect record (may be NULL).  Returns 0, or CB_ENOTFOUND if h has no
 * registry record or no data. */
int scene_gr_features(struct scene_engine *eng, int32_t h, double *OUT_x,
                      struct scene_suspect *OUT_s);
const char *scene_gr_feature_name(int f);
/* Why the signal bit `signal` (1 << metric, or an enum scene_signal) of
 * s could not be used, for people to read; NULL when it was used. */
const char *scene_gr_unusable_reason(const struct scene_suspect *s, int signal);
extern const double scene_gr_default_weights[SCENE_NF];

/* scene_learn.c */
void scene_learn_init(struct scene_learner *l);
void scene_learn_release(struct scene_learner *l);
double scene_learn_score(const struct scene_learner *l, const double *x);
void scene_learn_summary(const struct scene_learner *l, size_t window,
                         struct scene_ranking *r);
/* Sets the visit mark of the published items (n, any order) from the
 * latest visit of each flat; resolves visits' dense ids on the way. */
void scene_learn_mark(struct scene_engine *eng, struct scene_suspect *items,
                      size_t n);

/* scene_elderly.c */
void scene_elderly_reading(struct scene_engine *eng, int32_t h,
                           const struct reading *r);
/* Reads the state file into eng->elderly_pending (absent: nothing;
 * damaged: logged and ignored). */
void scene_elderly_load(struct scene_engine *eng);
/* Where the start-up scan of water readings begins: 2 x the quiet hours
 * before as_of, or earlier, back to the as-of of the state file (a crash
 * after its last save), or a week before as_of when there is no file (a
 * crash before the first save): the saved state plus the readings since it
 * give the same quiet-since times as a clean restart. */
int64_t scene_elderly_reload_from_ns(const struct scene_engine *eng,
                                     int64_t as_of_ns);
/* Gives the new elderly slot of h its saved state, if any. */
void scene_elderly_restore(struct scene_engine *eng, int32_t h);
/* Saves the state file (temporary name, fsync, rename) when it changed
 * and `force` or at least 10 s passed; caller holds eng->lock. */
int scene_elderly_save(struct scene_engine *eng, int force);
/* After a full pass: each elder's usual daily water from its own days
 * before it went quiet. */
void scene_elderly_days(struct scene_engine *eng);
/* The flats with an open elderly alert (those scene_elderly_alerts_json
 * lists under "alerts"), of one committee when committee is not NULL, in
 * household order: returns their count and sets *OUT_households to an
 * array the caller frees (NULL when none).  Takes eng->lock. */
size_t scene_elderly_alert_households(struct scene_engine *eng,
                                      const char *committee,
                                      int32_t **OUT_households);

/* Publishes the `scene` live event if it changed (scene_live.c); call
 * without eng->lock held. */
void scene_live_publish(struct scene_engine *eng);

#endif
