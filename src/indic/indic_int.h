/*
 * indic_int.h - what the indicator module's files share.  Not for use
 * outside src/indic/.
 */
#ifndef CB_INDIC_INT_H
#define CB_INDIC_INT_H

#include <pthread.h>

#include "detect/detect.h"
#include "indic/indic.h"

#define INDIC_ID_MAX 64
#define INDIC_NS_S 1000000000LL

enum indic_feed {
    IF_EVENTS,
    IF_DELIVERIES,
    IF_USAGE,
    IF_READINGS,
    IF_INGEST,
    IF_SCENES
};
enum indic_measure {
    IM_COUNT,
    IM_SUM,
    IM_MEAN,
    IM_DISTINCT,
    IM_RATIO,
    IM_PERCENTILE,
    IM_FRESHNESS
};
enum indic_group {
    IG_DISTRICT,
    IG_STREET,
    IG_COMMITTEE,
    IG_SOURCE,
    IG_CATEGORY,
    IG_STREET_CATEGORY /* "street/category" */
};

struct indic_def {
    char id[INDIC_ID_MAX];
    char *json; /* the declaration as stored */
    enum indic_feed feed;
    enum indic_measure measure;
    enum indic_group group;
    char source[64], type[64], platform[64], field[64];
    int metric;          /* -1: any */
    char where_type[64]; /* ratio numerator: event type, or */
    int where_matched;   /* 1: deliveries matched */
    double p;            /* percentile, 0..100 */
    int64_t bucket_ns;
    int64_t retention_ns;      /* its points' retention; 0: the engine's */
    int64_t skip_seq;          /* batches up to this seq are in its back-fill */
    int64_t first_close;       /* earliest bucket any series closed; 0: none */
    struct indic_series *last; /* the series of its last record (a cache) */
    /* its series by a household's street or committee key (obs_series; a
     * cache: the series live as long as the engine) */
    struct indic_series **by_key;
    size_t n_by_key;
};

/* One bucket of a series. */
struct indic_bucket {
    int64_t start;
    double n, sum, num, max_ts;
    double *vals;   /* percentile */
    uint64_t *keys; /* distinct */
    uint32_t nv, cv, nk, ck;
    double score; /* NAN until closed */
    uint8_t dirty, closed;
};

/* A bucket closed in this tick, for the rules (indic_rules_eval). */
struct indic_closed {
    int64_t start;
    double value, score;
};

struct indic_series {
    int def;
    char *group;
    struct detector *det;
    struct indic_bucket *b;
    size_t nb, cb;
    int64_t next_close;  /* start of the next bucket to close; INT64_MIN */
    int64_t floor;       /* buckets before it left memory */
    int64_t last_ts;     /* newest record's ts (freshness, no-data) */
    int64_t last_bucket; /* newest closed bucket with a value */
    double last_value, last_score;
    /* the buckets with a value closed in this tick that became due after
     * the rules' last evaluation, oldest first; the newest is last_* */
    struct indic_closed *fresh;
    size_t nfresh, cfresh;
};

/* A string-keyed open-addressing map of pointers. */
struct indic_map {
    char **keys;
    void **vals;
    size_t cap, n;
};
void *indic_map_get(const struct indic_map *m, const char *key);
void indic_map_put(struct indic_map *m, const char *key, void *val);
void indic_map_del(struct indic_map *m, const char *key);
void indic_map_release(struct indic_map *m);

enum alert_state { AS_INACTIVE, AS_PENDING, AS_FIRING, AS_RESOLVED };
enum rule_kind { RK_THRESHOLD, RK_ANOMALY, RK_NODATA };

struct indic_rule {
    char id[INDIC_ID_MAX];
    char indicator[INDIC_ID_MAX];
    char subject[128]; /* "": every group */
    char severity[32];
    char *json;
    enum rule_kind kind;
    char op[3];
    double value;
    int64_t for_ns, keep_ns, stale_ns, window_ns;
    int repeat_n;   /* 0: no repeat condition */
    int64_t ack_ns; /* ack_within: escalated when not acknowledged; 0:
                       the engine's default */
};

struct indic_alert {
    int64_t id;
    char rule[INDIC_ID_MAX];
    char *subject;
    enum alert_state state;
    int64_t active_since, fired_at, last_true, resolved_at, last_bucket;
    double value, score;
    int64_t *hits; /* bucket times the condition held (repeat rules) */
    size_t nhits;
    int silenced;
    int notified;    /* AS_INACTIVE, AS_FIRING or AS_RESOLVED */
    int64_t am_sent; /* last push to Alertmanager */
    /* the operators' workflow (indic_action.c), folded from alert_action */
    int acked;                /* acknowledged by someone */
    int escalated;            /* escalated once already */
    int64_t suppressed_until; /* notifications held until then; 0: none */
};

struct indic_silence {
    char id[24];
    char rule[INDIC_ID_MAX];
    char subject[128];
    char reason[256];
    int64_t starts, ends;
};

/* A queued outbound notification. */
struct indic_note {
    char *url;
    char *body;
    int attempt;
    int64_t next_ns;
    struct indic_note *next;
};

struct indic_engine {
    struct indic_config cfg;
    char *defs_file, *webhook_urls, *am_url, *public_url;
    struct store *st;
    pthread_mutex_t lock;
    /* indicators */
    struct indic_def **defs;
    size_t ndefs;
    struct indic_series **series;
    size_t nseries, cseries;
    struct indic_map series_by_key;
    uint64_t series_dropped, points_written, late_dropped;
    int64_t keep_from; /* records before it are past retention: dropped */
    /* registry: dense household -> street and committee names (interned) */
    int32_t *street_of, *committee_of;
    size_t nhouse;
    char **names;
    size_t nnames, cnames;
    struct indic_map name_ids;
    /* meter faults: the last index per (household, metric) */
    double *last_index;
    size_t nlast;
    int loading;            /* unused */
    size_t live_sent;       /* indicator events this tick */
    int64_t scenes_sampled; /* monotonic ns of the last scene sample */
    /* alerts */
    struct indic_rule **rules;
    size_t nrules;
    struct indic_map open; /* "rule\x1fsubject" -> struct indic_alert */
    struct indic_silence *silences;
    size_t nsilences;
    int64_t next_alert_id;
    uint64_t resolved_count;
    int64_t last_eval; /* now of the rules' last evaluation; 0: none */
    int64_t last_retain;
    /* notifications */
    pthread_mutex_t nlock;
    pthread_cond_t nwake;
    struct indic_note *queue;
    size_t queued;
    uint64_t sent, failed, dead;
    int stopping;
    pthread_t ticker, notifier;
    int started;
    /* the alert workflow: escalation routes "KEY=RECIPIENT,.." (KEY a rule
     * id or a severity) and the default recipient */
    char *alert_routes, *escalate_to;
};

/* indic_def.c */
/* "90s", "10m", "2h", "1d" into ns: 0 or CB_EINVAL. */
int indic_parse_duration(const char *s, int64_t *OUT_ns);
int indic_def_parse(const char *json, size_t len, struct indic_def **OUT,
                    char *err, size_t errcap);
void indic_def_free(struct indic_def *d);
/* The default set as one JSON array, NUL-terminated: the text of
 * etc/indicators.default.json, compiled in (build/gen/, scripts/embed.sh). */
extern const char indic_default_set[];

/* indic_rule.c: under eng->lock */
int indic_rules_load(struct indic_engine *eng);
/* Adds or replaces a rule (JSON) without storing it: 0 or CB_EINVAL with
 * err.  For the default rules, which stored rules then replace. */
int indic_rule_add_unstored(struct indic_engine *eng, const char *json,
                            size_t len, char *err, size_t errcap);
/* indic_rule_defaults.c: the default rules, appended to out as a JSON
 * array; their loading: 0 or CB_EINVAL (logged). */
void indic_default_rules_json(struct sbuf *out);
int indic_rules_add_defaults(struct indic_engine *eng);
void indic_rules_eval(struct indic_engine *eng, int64_t now_ns);
void indic_rules_free(struct indic_engine *eng);
size_t indic_alerts_count(struct indic_engine *eng, enum alert_state s);

/* indic_action.c: the operators' workflow on alerts */
/* Appends doc (alert id's stored JSON object) to out with the workflow
 * fields folded in from the store (indic.h). */
void indic_alert_doc_json(struct indic_engine *eng, int64_t id, const char *doc,
                          struct sbuf *out);
/* The same for a live event: the newest INDIC_EVENT_COMMENTS comments and
 * INDIC_EVENT_ACTIONS actions only, so that the event stays small. */
#define INDIC_EVENT_COMMENTS 20
#define INDIC_EVENT_ACTIONS 50
void indic_alert_event_json(struct indic_engine *eng, int64_t id,
                            const char *doc, struct sbuf *out);
/* Escalates each firing alert nobody acknowledged within its rule's
 * ack_within (under eng->lock). */
void indic_alerts_escalate(struct indic_engine *eng, int64_t now_ns);
/* Folds the stored actions into the open alerts (at load). */
int indic_alerts_load_workflow(struct indic_engine *eng);

/* indic_notify.c */
void indic_notify_alert(struct indic_engine *eng, const struct indic_rule *r,
                        const struct indic_alert *a, int64_t now_ns);
void indic_notify_am(struct indic_engine *eng, const struct indic_rule *r,
                     const struct indic_alert *a, int64_t now_ns);
void *indic_notify_thread(void *arg);
void indic_notify_free(struct indic_engine *eng);
/* Moves every note still queued (the notifier stopped) to the dead letters,
 * with the reason that the server stopped. */
void indic_notify_abandon(struct indic_engine *eng);
/* How long a stop waits for queued notifications to go out. */
#define INDIC_STOP_DRAIN_MS 2000
void indic_iso(int64_t ns, char *out); /* "2026-11-01T08:00:00Z" */

#endif
