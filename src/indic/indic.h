/*
 * indic.h - vital signs: declared indicators over the ingest log, a score
 * per bucket from the streaming detector, alert rules, silences and
 * outbound notifications.
 *
 * An indicator is a declaration (JSON; docs/INDICATORS.md):
 *
 *   {"id":"calls_110","title":"110 calls by type","feed":"events",
 *    "filter":{"source":"110"},"measure":"count","bucket":"1h",
 *    "group":"category"}
 *
 *   feed     events | deliveries | usage (daily use with bucket 1d, hourly
 *            use with a bucket of whole hours dividing a day) |
 *            readings | ingest (every feed, for freshness) |
 *            scenes (open elderly alerts, group-rental suspects per
 *            street: the scene engine sampled every scene_sample_s)
 *   filter   source, type (events), platform (deliveries), metric
 *            (usage, readings)
 *   measure  count | sum | mean | distinct | ratio | percentile |
 *            freshness; "field" names the value (an event attribute;
 *            "recipient" for deliveries' distinct), "where" the ratio's
 *            numerator ({"type":..} or {"matched":true}), "p" the
 *            percentile
 *   bucket   "5m", "1h", "1d" ... (days are district days, UTC+8)
 *   group    district | street | committee | source | category
 *   retention "90d": points kept (default: indicator_retention_days)
 *
 * The engine is a consumer of the ingest log (store_consumer_register): it
 * loads from a snapshot (the last indicator_backfill_days of stored data)
 * and then gets each later batch once, so a batch counts once in effect,
 * also across restarts.  A declaration added at run time (indic_define) is
 * back-filled from a fresh snapshot while the consumer is held, and skips
 * the batches that snapshot already held: it is live on the next tick.
 *
 * Every tick (indicator_tick_ms, on a thread of the engine, or
 * indic_tick in tests) closes the buckets whose end is indicator_grace_s
 * in the past, scores each closed bucket with the series' own detector
 * (detect.h), writes new and changed points to the store
 * (store_points_put), evaluates the alert rules and queues notifications.
 * Additive measures (count, sum, distinct) read an empty bucket as 0.
 *
 * Alert rules (indic_rule_define): threshold, anomaly score and no-data
 * conditions on an indicator's series, with for_s (pending, then firing),
 * repeat {n, window_s}, keep_firing_for_s.  One open alert per (rule,
 * subject), the subject being the series' group; stored (store_doc_put)
 * at every change, so rule state survives a restart.  Silences match a
 * rule and/or subject, carry a reason and expire.
 *
 * Live: with a hub (cfg.live), every change of an alert is published as
 * an `alert` event (the alert's JSON, as GET /api/v1/alerts/{id}), and
 * every closed bucket as an `indicator` event ({"indicator","group","ts",
 * "value","score"}; at most INDIC_LIVE_MAX_PER_TICK a tick, the rest are
 * in the series).
 *
 * Threading: every function here is thread-safe (one engine mutex; the
 * store is called outside it where it writes).
 */
#ifndef CB_INDIC_H
#define CB_INDIC_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/util.h"

struct indic_engine;
struct live;
struct scene_engine;

struct indic_config {
    const char *defs_file;    /* declarations to add at start, or NULL */
    int with_defaults;        /* 1: the default set too */
    int with_default_rules;   /* 1: the default alert rules too */
    int64_t grace_ns;         /* a bucket closes this long after its end */
    int retention_days;       /* points kept (memory and store) */
    int backfill_days;        /* stored data read at start / new indicator */
    size_t max_series;        /* series at most; more are dropped, counted */
    size_t max_indicators;    /* declarations at most */
    int tick_ms;              /* period of the engine's thread */
    const char *webhook_urls; /* comma-separated http(s) URLs, or "" */
    int webhook_retries;      /* tries after the first, then dead letter */
    int webhook_backoff_ms;   /* first retry delay, doubled each time */
    const char *alertmanager_url; /* base URL of an Alertmanager, or "" */
    const char *public_url;       /* link back in notifications */
    struct live *live;            /* the live hub (borrowed) for `alert` and
                                     `indicator` events, or NULL */
    struct scene_engine *scenes;  /* sampled for feed "scenes", or NULL */
    int scene_sample_s;           /* how often */
    int64_t ack_within_ns;        /* default ack_within of a rule; 0: no
                                     escalation unless the rule says */
    const char *alert_routes;     /* "KEY=RECIPIENT,..": KEY a rule id or a
                                     severity (copied) */
    const char *escalate_to;      /* recipient when no route names one */
};
void indic_config_defaults(struct indic_config *cfg);

#define INDIC_LIVE_MAX_PER_TICK 1000

/* The district clock: epoch ns.  Everything here reads time through it. */
int64_t indic_now_ns(void);

/* Makes an engine on st (borrowed; cfg's strings are copied) and registers
 * it as a consumer: call between store_open and store_start_consumers.
 * Loads the default set (with_defaults), defs_file, and the declarations,
 * rules, silences and open alerts stored before.  0, CB_EINVAL (a bad
 * declaration in defs_file, logged with where) or CB_ESTORE. */
int indic_engine_new(const struct indic_config *cfg, struct store *st,
                     struct indic_engine **OUT_eng);
/* Starts the tick and notification threads. */
int indic_engine_start(struct indic_engine *eng);
/* Stops the threads (they call the store: stop them before store_close).
 * NULL or not started: a no-op. */
void indic_engine_stop(struct indic_engine *eng);
/* Stops and frees everything; NULL is a no-op.  Call after store_close
 * (the engine is the store's consumer). */
void indic_engine_free(struct indic_engine *eng);

/* One tick at now_ns (see above).  Tests call it with their own times. */
void indic_tick(struct indic_engine *eng, int64_t now_ns);

/* Adds a declaration (JSON text).  0; CB_EINVAL with err (says what and
 * where); CB_EEXIST (the id is taken); CB_ETOOBIG (max_indicators);
 * CB_ESTORE.  Durable on return, back-filled, live on the next tick. */
int indic_define(struct indic_engine *eng, const char *json, size_t len,
                 char *err, size_t errcap);
/* JSON array of the declarations with their series counts. */
void indic_list_json(struct indic_engine *eng, struct sbuf *out);
/* JSON object {"indicator":..,"bucket_s":..,"points":[{"group":..,"ts":..,
 * "value":..,"score":..}]}, from_ns <= bucket < to_ns, at most limit
 * points; group NULL: every group.  0 or CB_ENOTFOUND, CB_ESTORE. */
int indic_series_json(struct indic_engine *eng, const char *id,
                      const char *group, int64_t from_ns, int64_t to_ns,
                      size_t limit, struct sbuf *out);

/* Alert rules and silences (JSON; docs/INDICATORS.md).  As indic_define;
 * a rule with a taken id replaces it.  A silence gets an id, returned in
 * OUT_id (cap >= 24). */
int indic_rule_define(struct indic_engine *eng, const char *json, size_t len,
                      char *err, size_t errcap);
void indic_rule_list_json(struct indic_engine *eng, struct sbuf *out);
int indic_silence_add(struct indic_engine *eng, const char *json, size_t len,
                      char *err, size_t errcap, char *OUT_id, size_t cap);
void indic_silence_list_json(struct indic_engine *eng, struct sbuf *out);
/* Stored alerts, newest first, at most limit; state NULL: any of
 * "pending", "firing", "resolved". */
int indic_alert_list_json(struct indic_engine *eng, const char *state,
                          size_t limit, struct sbuf *out);
/* One alert by id: 0 or CB_ENOTFOUND. */
int indic_alert_get_json(struct indic_engine *eng, int64_t id,
                         struct sbuf *out);
/*
 * The operators' workflow on an alert (docs/INDICATORS.md):
 *
 *   action       fields         effect
 *   -----------  -------------  -----------------------------------------
 *   acknowledge                 acknowledged_by/_at (the first one stands:
 *                               a repeat records nothing)
 *   assign       to             assignee (the last one stands)
 *   comment      text           appended to comments
 *   suppress     reason, until  no notification and no escalation until
 *                               then (the alert reads "silenced")
 *   escalate     (the engine)   an open firing alert nobody acknowledged
 *                               within its rule's ack_within goes, once,
 *                               to the recipient alert_routes names
 *
 * Every action is one alert_action row (who, token id, role, when by the
 * district clock), so the workflow survives a restart, and is published as
 * an `alert` event.  Every alert's JSON carries acknowledged_by,
 * acknowledged_at, assignee, comments [{"ts","who","text"}],
 * suppressed_until, suppress_reason, escalated_to (null when not) and
 * actions (every row, oldest first; a comment's text is in comments
 * only).  A live event lists only the newest 20 comments and 50 actions.
 */
struct indic_alert_act {
    const char *action; /* acknowledge, assign, comment, suppress */
    const char *to;     /* assign: 1..63 bytes */
    const char *text;   /* comment: 1..1000 bytes; suppress: the reason,
                           1..255 bytes */
    int64_t until_ns;   /* suppress: after now */
    int64_t token_id;   /* who acts */
    const char *who, *role;
};
#define INDIC_ALERT_ACTIONS_MAX 200
/* Applies act to alert id; OUT: the alert's JSON after it.  Returns 0,
 * CB_ENOTFOUND (no such alert), CB_EINVAL (err says which field),
 * CB_ETOOBIG (the alert has INDIC_ALERT_ACTIONS_MAX actions: err says so;
 * nothing recorded) or CB_ESTORE. */
int indic_alert_action(struct indic_engine *eng, int64_t id,
                       const struct indic_alert_act *act, char *err,
                       size_t errcap, struct sbuf *out);

/* Notifications that exhausted their retries. */
int indic_dead_letters_json(struct indic_engine *eng, struct sbuf *out);

/* Counts for /metrics. */
struct indic_stats {
    uint64_t indicators, series, series_dropped, points_written;
    uint64_t alerts_pending, alerts_firing, alerts_resolved;
    uint64_t notify_sent, notify_failed, notify_dead, notify_queued;
};
void indic_get_stats(struct indic_engine *eng, struct indic_stats *OUT);

/* Waits until the notification queue is empty, at most timeout_ms
 * (indic_engine_stop waits INDIC_STOP_DRAIN_MS, then moves what is left to
 * the dead letters). */
void indic_notify_drain(struct indic_engine *eng, int timeout_ms);

#endif
