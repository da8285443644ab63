/*
 * store.h - citybrain's embedded store: SQLite in WAL mode, one writer.
 *
 * The write path.  Ingest is an append-only log of accepted batches:
 *
 *   HTTP thread --store_write()--> bounded queue --> writer thread
 *                                                     | one transaction per
 *                                                     | group of batches:
 *                                                     |  dedup + append rows
 *                                                     |  append ingest_log
 *                                                     |  COMMIT (durable)
 *   HTTP thread <--- result (accepted, duplicates) ---+
 *
 * store_write() returns only after the transaction holding its batch has
 * committed, so a 2xx answer means the data survives kill -9 (and power
 * loss with sync=full).  Several waiting batches share one commit (group
 * commit).  A full queue is backpressure: CB_EBUSY at once, nothing stored.
 * Audit rows (store_audit) commit too before their read is answered, but
 * without an fsync of their own: they survive kill -9 at once and power
 * loss within a second (store_audit below).
 *
 * Consumers (the roll-up, the scenes, later the indicators and the live
 * feed) take accepted data only from ingest_log, by its sequence number:
 * the roll-up saves its position in the same transaction as its output;
 * the others load from a snapshot that states the seq it reflects and get
 * the later batches once ("consumers of the ingest log" below).
 *
 * Two files.  DIR/citybrain.db holds everything below but the roll-ups;
 * DIR/rollup.db (WAL too) holds the roll-up's output and position
 * (meter_state, usage_daily, usage_hours, consumer) and is written only by
 * the roll-up thread on its own connection, so roll-up checkpoints run on
 * another core than the ingest commits.  Read connections ATTACH rollup.db
 * as schema "rollup": its tables are read by unqualified name.
 *
 * Tables (migrations are versioned in PRAGMA user_version, separately in
 * each file):
 *
 *   street(id, name UNIQUE)         committee(id, street_id, name)
 *   building(id, committee_id, name)
 *   household(id INTEGER PK = dense id, household_id TEXT UNIQUE, street_id,
 *             committee_id, building_id, address, address_key, lat, lon,
 *             area_m2, rooms, registered_occupants, flags, updated_ns)
 *   reading_block(id INTEGER PK, hour, block, n, data BLOB)  index (hour,
 *             block): raw readings, one row per group commit, hour and
 *             block of 256 households; appended, never updated (format and
 *             dedup: store_blocks.c); the hot tier
 *   reading_day(id INTEGER PK, day, block, n, data BLOB)  unique index
 *             (block, day), index (day): raw readings of past UTC days,
 *             one compressed series block per 64 households and day
 *             (store_days.c, format store_codec.h)
 *   reading_period(id INTEGER PK, period, block, day0, day1, n, data BLOB)
 *             unique index (block, period), index (period, day0, day1):
 *             the same for low-rate blocks (daily meters), one series
 *             block per 64 households and 32 days (store_days.c)
 *   delivery_key(key INTEGER PK, hour)  the orders' idempotency key: a
 *             64-bit hash of the order id and the hour whose blocks hold
 *             the order (store_orders.c)
 *   delivery_order(order_id PK) WITHOUT ROWID: the ids whose key another
 *             id holds (hash collisions; rare)
 *   delivery_block(id INTEGER PK, hour, n, source, data BLOB)  index (hour):
 *             each batch's new orders, one row per hour, an order block
 *             (format store_codec.h; rows written before it: an
 *             ingest_log payload, still read) (store_orders.c)
 *   event(source, event_id, type, ts_ns, lat, lon, street_id, street, attrs,
 *         sender, PK(source, event_id))   index (ts_ns)
 *   ingest_log(seq INTEGER PK AUTOINCREMENT, ts_ns, feed, n, source,
 *              payload BLOB)  accepted new records (format: store_int.h);
 *              AUTOINCREMENT: a seq is never reused after retention
 *  in rollup.db:
 *   consumer(name PK, seq)          the roll-up's position in ingest_log
 *   meter_state(household, metric, first_ts_ns, first_index, last_ts_ns,
 *               last_index, flags, resets, replacements, late, grain_ns,
 *               PK(household, metric))   (model: store_meter.h)
 *   usage_daily(household, metric, day, use, n, PK(day, household, metric))
 *   usage_hour_data(household, metric, day, data,
 *               PK(day, household, metric))
 *             day: days since 1970-01-01 in district time (UTC+8);
 *             n: readings in the day; data: the use in each hour i of the
 *             day (hour day * 24 - 8 + i since the epoch) that has any, at
 *             the metric's resolution (value_digits; format and rounding:
 *             store_codec.h; rows migrated from version 3 exact)
 *             (both WITHOUT ROWID, time first: checkpoints append)
 *   usage_hours(household, metric, day, h0, .., h23)  a VIEW of
 *             usage_hour_data (rollup schema 4), h<i> NULL: none; reads
 *             it with the store connections' SQL function cb_hour_use
 *   usage_daily_block(household, metric, block, data,
 *               PK(block, household, metric))  daily use of past district
 *             days (two days old or more, compacted from usage_daily by
 *             the roll-up), a row per meter and 32 days (block = day >> 5;
 *             the current one filled as days close); data: use at the
 *             metric's resolution and n per day (codec_days_encode,
 *             store_codec.h; blocks of rollup schema 4 re-encoded exact).
 *             A late row in usage_daily adds to it.
 *   usage_daily_all(household, metric, day, use, n)  a VIEW of both tiers
 *             (a row per meter, day and tier: sum them); reads blocks with
 *             the store connections' SQL functions cb_day_use, cb_day_n
 *   usage_hourly(household, metric, hour, use)  a VIEW of
 *             usage_hour_data, a row per hour with use, as the table it
 *             replaced (rollup schema 2); it scans usage_hour_data: select
 *             by day there
 *  in citybrain.db again:
 *   department(id, name UNIQUE, feeds, created_ns, measurements, sources)
 *             feeds: bit per enum feed; measurements: bit per enum metric
 *             (0: all); sources: comma-separated ("": any)
 *   token(id, hash UNIQUE, name, role, department_id, feeds, committee,
 *         created_ns, revoked_ns)   committee: the committee's name
 *   audit(id, ts_ns, who, action, object, reason, token_id)
 *   case_file(id, state, category, source_kind, source_ref, household_id,
 *             committee, building, address, has_place, lat, lon, unit_kind,
 *             unit, duplicate_of, title, created_ns, updated_ns,
 *             deadline_ns, attempts, escalated_to)   a case of the loop
 *             (src/case/case.h)
 *   case_step(id, case_id, ts_ns, action, from_state, to_state, token_id,
 *             who, role, reason)    every transition of a case, appended
 *   case_visit(case_id, visit_id, ts_ns, outcome, headcount, notes,
 *              token_id, who, PK(case_id, visit_id))  visits reported
 *   alert_action(id, alert_id, ts_ns, action, token_id, who, role,
 *                assignee, text, until_ns)  what people (and the
 *                escalation) did with an alert, appended
 *   kv(key PK, value)                   small settings, e.g. scene weights
 *   tally(name PK, n)                   row counts: readings, deliveries,
 *                                       deliveries_unmatched, events
 *   delivery_source(source PK, total, unmatched)  match rate per platform
 *                                       (order_id prefix before '-')
 *   indic_doc(kind, id, json, PK(kind, id))  indicators' and alerts'
 *             documents (store_indic.c)
 *   indic_block(indicator, grp, start_ns, first_ns, last_ns, data,
 *               PK(indicator, grp, start_ns))  the points of one indicator
 *             series and 64 buckets (start_ns a multiple of 64 buckets),
 *             data: codec_points_encode (store_codec.h: values at the
 *             coarsest of 10^0..10^-6 that holds them, scores to 1.2 % of
 *             1 - score); was indic_point, a row a point, before schema 15
 *
 * Threading.  Every function here is thread-safe.  Reads use a pool of
 * read-only connections; writes to citybrain.db go through the single
 * writer thread (the only connection that writes it: tokens, audit and
 * retention are run by it too, outside the ingest queue's budget); writes
 * to rollup.db come only from the roll-up thread.
 */
#ifndef CB_STORE_H
#define CB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "util/util.h"

struct store;

struct store_config {
    const char *dir;                /* data directory; created if missing */
    int sync_full;                  /* 1: fsync every commit; 0: WAL NORMAL */
    size_t queue_max;               /* batches waiting for the writer (>=1) */
    size_t commit_max_rows;         /* rows per group commit, soft (>=1) */
    int retention_days;             /* raw readings kept this long (>=1) */
    int hourly_retention_days;      /* usage_hours kept this long (0: always) */
    int daily_retention_days;       /* usage_daily kept this long (0: always) */
    int orders_retention_days;      /* delivery orders kept this long, by
                                       their time (0: always) */
    int events_retention_days;      /* events kept this long, by their time
                                       (0: always) */
    int log_keep_hours;             /* ingest_log kept this long after the
                                       roll-up has checkpointed past it (0:
                                       dropped in segments at once) */
    int rollup_flush_ms;            /* roll-up consumer checkpoint period (see
                                       store_rollup.c) */
    size_t rollup_max_lag;          /* batches the roll-up may trail the log by
                                       before writes get CB_EBUSY (>=1) */
    int read_connections;           /* size of the read pool (>=1) */
    int rebuild_rollups;            /* 1: open even when citybrain.db is missing
                                       or empty beside a populated rollup.db (the
                                       roll-ups are then rebuilt from the log) */
    int max_spread_days;            /* longest interval one reading's use is
                                       spread over (>=1); longer: a reset */
    int value_digits[METRIC_COUNT]; /* raw readings and hourly use are
                                       stored rounded to 10^-digits of their
                                       unit (0..9), by enum metric */
};
/* Fills cfg with the defaults (dir "./citybrain-data"). */
void store_config_defaults(struct store_config *cfg);

/* Opens (creating and migrating as needed) the store in cfg->dir and starts
 * its writer thread (the roll-up waits for store_start_consumers).  On
 * error *OUT is NULL, the error is logged and nothing is left running.
 * cfg is copied. */
int store_open(const struct store_config *cfg, struct store **OUT_store);
/* Stops accepting writes, drains the queue, checkpoints the consumers and
 * closes everything.  NULL is a no-op. */
void store_close(struct store *st);

/* ---- registry lookups (in memory, lock-protected) ---- */

/* Dense id of a household id, or -1 if unknown. */
int32_t store_household_resolve(struct store *st, const char *household_id);
/* Dense id matched from free address text (address.h), or -1. */
int32_t store_address_match(struct store *st, const char *address);
/* The registered WGS84 position of each of n dense ids into OUT_lat[i],
 * OUT_lon[i] (NAN when unknown or not given), under one read lock. */
void store_household_positions(struct store *st, const int32_t *households,
                               size_t n, float *OUT_lat, float *OUT_lon);
/* Number of households in the registry. */
size_t store_household_count(struct store *st);
/* Places an event at lat/lon (WGS84): the residents' committee of the
 * nearest registered building (at the centroid of its households'
 * positions; a household without a building counts on its own) within
 * max_m metres (at most 50 km).  Returns 0 and writes that committee's
 * name into OUT_committee (cap bytes, truncated; "" when the nearest one
 * has no committee), or CB_ENOTFOUND (OUT_committee "") when lat/lon is
 * absent (not finite, or 0/0) or nothing registered is within max_m.
 * Follows registry changes as they commit; a few grid cells are searched
 * (an in-memory grid of ~220 m cells), whatever the registry's size. */
int store_place_event(struct store *st, double lat, double lon, double max_m,
                      char *OUT_committee, size_t cap);

/* The street an event sent without one is stored under: the street whose
 * households' centroid is nearest to (lat, lon), the same rule as the
 * write path's, written to OUT_street (cap bytes, truncated).  Returns 0;
 * CB_ENOTFOUND for no coordinates (missing or 0/0) or no placed street. */
int store_place_event_street(struct store *st, double lat, double lon,
                             char *OUT_street, size_t cap);

/* ---- writes ---- */

struct store_write_result {
    size_t accepted;   /* new records stored */
    size_t duplicates; /* records already present (or repeated in batch) */
    size_t unmatched;  /* deliveries whose address matched no household */
    int64_t seq;       /* ingest_log sequence of this batch; 0 if none */
};

/* Stores batch b (its records must be resolved: household >= 0 for
 * readings; deliveries may be -1 = unmatched).  source names the sender
 * (department or token name) and is kept with deliveries and events.
 * Blocks until the batch is committed.  Returns 0; CB_EBUSY when the queue
 * is full or the roll-up trails the log by more than rollup_max_lag batches
 * (nothing stored); CB_ECLOSED when stopping; CB_ESTORE on a store
 * failure (the transaction is rolled back: nothing of the batch stored).
 * b is borrowed for the duration of the call. */
int store_write(struct store *st, const struct ingest_batch *b,
                const char *source, struct store_write_result *OUT_res);

/* ---- tokens, departments, audit ---- */

enum role {
    ROLE_ADMIN = 0,
    ROLE_PUBLISHER = 1, /* a department: writes its own feeds only */
    ROLE_OPERATOR = 2,
    ROLE_ANALYST = 3,
    ROLE_COMMITTEE = 4, /* scoped to one residents' committee */
    /* the case loop's people (src/case/case.h): each worker holds a token
     * of their own, whose name is the person */
    ROLE_SUPERVISOR = 5,   /* supervisor or inspector: collects, verifies */
    ROLE_CALL_TAKER = 6,   /* second check and registration */
    ROLE_SHIFT_LEAD = 7,   /* receives escalations; may do any step */
    ROLE_DISPATCHER = 8,   /* dispatches registered cases */
    ROLE_DEPARTMENT = 9,   /* a handling department: department_id names it */
    ROLE_CITIZEN_APP = 10, /* a civic app or 12345 intake: files Open311
                            * requests (/open311/v2/), nothing under /api/ */
    ROLE_COUNT
};
const char *role_name(enum role r);
int role_parse(const char *s); /* -1 if unknown */

/* Committee, street and department names are at most this many bytes. */
#define STORE_NAME_MAX 256

struct token_info {
    int64_t id;
    enum role role;
    char name[64];
    int64_t department_id; /* publisher, department: its department */
    uint32_t feeds;        /* publisher: bit (1 << enum feed) per feed */
    /* publisher: the department's narrower grants (store_department_create)
     * measurements: bit (1 << enum metric) per measurement; 0: all three
     * sources: comma-separated event sources and delivery platforms (the
     * order id's prefix before '-'); "": any */
    uint32_t measurements;
    char sources[STORE_NAME_MAX + 1];
    char committee[STORE_NAME_MAX + 1]; /* committee role: its name */
    int revoked;
};

/* What a department may write: feeds (bit 1 << enum feed), narrowed by
 * measurements (bit 1 << enum metric; 0: all) for readings and by sources
 * (comma-separated; NULL or "": any) for events' `source` and deliveries'
 * platform.  Departments made before the narrowing existed have 0 and "":
 * everything their feeds allow. */
struct department_grants {
    uint32_t feeds;
    uint32_t measurements;
    const char *sources; /* borrowed; at most STORE_NAME_MAX bytes */
};

/* Creates a department.  CB_EEXIST if the name is taken, CB_EINVAL if
 * sources is too long. */
int store_department_create(struct store *st, const char *name,
                            const struct department_grants *grants,
                            int64_t *OUT_id);
/* One department as stored; the strings are borrowed for the call. */
struct store_department_row {
    int64_t id;
    const char *name;
    uint32_t feeds; /* bit 1 << enum feed */
    int64_t created_ns;
    uint32_t measurements; /* as in department_grants */
    const char *sources;   /* as in department_grants; "" for any */
};
typedef void (*store_department_fn)(void *ctx,
                                    const struct store_department_row *d);
/* Calls fn for each department, by id.  0 or CB_ESTORE. */
int store_department_scan(struct store *st, store_department_fn fn, void *ctx);
/* Looks a department up by name: 0 or CB_ENOTFOUND. */
int store_department_find(struct store *st, const char *name, int64_t *OUT_id,
                          uint32_t *OUT_feeds);

/* Stores a token by the hex SHA-256 of its secret (auth.h makes both).
 * A publisher with department_id > 0 gets its department's feeds
 * (CB_ENOTFOUND if there is no such department); otherwise info->feeds is
 * kept.  CB_EEXIST if the hash is taken. */
int store_token_insert(struct store *st, const char *hash_hex,
                       const struct token_info *info, int64_t *OUT_id);
/* Finds a live token by hash: 0, or CB_ENOTFOUND (also when revoked).
 * Tokens made or revoked by another process on the same store (the CLI
 * beside a running server) are seen within STORE_TOKEN_RECHECK_MS: at
 * most that often, one caller checks the token table for changes and
 * reloads it. */
#define STORE_TOKEN_RECHECK_MS 500
int store_token_find(struct store *st, const char *hash_hex,
                     struct token_info *OUT_info);
int store_token_revoke(struct store *st, int64_t id); /* CB_ENOTFOUND */
/* One token as stored, never its hash; strings borrowed for the call. */
struct store_token_row {
    int64_t id;
    const char *name;
    enum role role;
    int64_t department_id;
    uint32_t feeds;
    const char *committee; /* NULL: none */
    int64_t created_ns;
    int revoked; /* revoked_ns is set */
    int64_t revoked_ns;
};
typedef void (*store_token_fn)(void *ctx, const struct store_token_row *t);
/* Calls fn for each token, by id.  0 or CB_ESTORE. */
int store_token_scan(struct store *st, store_token_fn fn, void *ctx);

/* Appends one audit record and commits it before it returns 0: it then
 * survives a killed process (kill -9).  With sync=full it does not wait for
 * an fsync: it survives power loss or an OS crash once the writer has
 * fsynced the WAL, at most a second later (sooner when an ingest commit or
 * a checkpoint comes first).  token_id: the token that acted (its name is
 * `who`; names are not unique), or 0. */
int store_audit(struct store *st, const char *who, const char *action,
                const char *object, const char *reason);
int store_audit_token(struct store *st, int64_t token_id, const char *who,
                      const char *action, const char *object,
                      const char *reason);
/* One audit record; the strings (NULL when not stored) are borrowed for
 * the call and may hold any bytes (a reason from a header). */
struct store_audit_row {
    int64_t id;
    int64_t ts_ns;
    const char *who, *action, *object, *reason;
    int has_token; /* token_id is set */
    int64_t token_id;
};
typedef void (*store_audit_fn)(void *ctx, const struct store_audit_row *a);
/* Calls fn for the newest `limit` (<= 0: 100) audit records, newest first.
 * 0 or CB_ESTORE. */
int store_audit_scan(struct store *st, int limit, store_audit_fn fn, void *ctx);

/* ---- reads ----
 *
 * Typed rows through callbacks: the store renders no JSON (the API's JSON
 * views of these rows are render/render.h).  A row and its strings are
 * borrowed for the call only.  Each returns 0 or CB_ESTORE. */

/* Calls fn for at most limit (<= 0: 1000) raw readings of one household
 * (and metric, or -1 for all) with from_ns <= ts < to_ns, oldest first.
 * The table is keyed by time, so this scans the window: keep it short. */
int store_readings_read(struct store *st, int32_t household, int metric,
                        int64_t from_ns, int64_t to_ns, int limit,
                        void (*fn)(void *ctx, const struct reading *r),
                        void *ctx);

/* One district day of a household's use: the metrics in `has`. */
struct store_usage_day {
    int64_t day;  /* days since 1970-01-01 in district time */
    unsigned has; /* bit 1 << enum metric: use[metric] is set */
    double use[METRIC_COUNT];
};
typedef void (*store_usage_day_fn)(void *ctx, const struct store_usage_day *d);
/* Calls fn, oldest first, for each district day from_day <= day < to_day
 * (see time_days_from_civil) on which the household has use.  Roll-ups lag
 * the writes by about rollup_flush_ms, more while the roll-up works through
 * a backlog (store_rollup_flush waits for them). */
int store_usage_daily_read(struct store *st, int32_t household,
                           int64_t from_day, int64_t to_day,
                           store_usage_day_fn fn, void *ctx);

/* One hour of a household's use: the metrics in `has`. */
struct store_usage_hour {
    int64_t hour; /* hours since the epoch (UTC): the hour that starts then */
    unsigned has; /* bit 1 << enum metric: use[metric] is set */
    double use[METRIC_COUNT];
};
typedef void (*store_usage_hour_fn)(void *ctx,
                                    const struct store_usage_hour *h);
/* Calls fn, oldest first, for each hour of the district days from_day <=
 * day < to_day in which the household has hourly use (rollup.db's
 * usage_hour_data: meters read often enough for the roll-up to spread
 * their use over hours; a meter read once a day has daily use only).  One
 * point lookup per district day that the table holds; a corrupt day is
 * skipped (logged).  0 or CB_ESTORE.  Lags the writes as the daily read. */
int store_usage_hourly_read(struct store *st, int32_t household,
                            int64_t from_day, int64_t to_day,
                            store_usage_hour_fn fn, void *ctx);

/* One stored department event. */
struct store_event_row {
    const char *source, *event_id, *type; /* NULL when not stored */
    int64_t ts_ns;
    double lat, lon;
    const char *street; /* the street's name, or NULL */
    int placed;         /* the street was found from the coordinates */
    const char *attrs;  /* compact JSON object as stored, or NULL */
};
typedef void (*store_event_row_fn)(void *ctx, const struct store_event_row *e);
/* Calls fn for at most limit department events with from_ns <= ts < to_ns,
 * newest first, of one source (NULL: all). */
int store_events_read(struct store *st, const char *source, int64_t from_ns,
                      int64_t to_ns, int limit, store_event_row_fn fn,
                      void *ctx);
/* Copies the name of a household's committee into out (cap bytes, always
 * NUL-terminated; STORE_NAME_MAX + 1 holds any).  Returns 0, CB_ENOTFOUND
 * (no such household or no committee), CB_ETOOBIG (the name does not fit:
 * out is then not a name to compare) or CB_ESTORE. */
int store_household_committee(struct store *st, int32_t household, char *out,
                              size_t cap);
/* One meter of a household: its state in the roll-up. */
struct store_meter_row {
    int metric; /* enum metric */
    int64_t first_ns, last_ns;
    int has_index; /* last_index is a register reading */
    double last_index;
    int64_t resets, replacements, late;
};
/* A household's registry fields and its meters. */
struct store_household_row {
    int32_t id;
    const char *household_id, *street, *committee, *building, *address;
    double lat, lon, area_m2;
    int rooms, registered_occupants;
    int flags; /* enum household_flag bits */
    int64_t updated_ns;
    size_t n_meters; /* by metric */
    struct store_meter_row meters[METRIC_COUNT];
};
typedef void (*store_household_row_fn)(void *ctx,
                                       const struct store_household_row *h);
/* Calls fn once with the household.  CB_ENOTFOUND if unknown. */
int store_household_read(struct store *st, int32_t household,
                         store_household_row_fn fn, void *ctx);

/* Per-feed counts since the store was made (relaxed atomics). */
struct store_feed_counts {
    size_t households;
    uint64_t readings, deliveries, deliveries_unmatched, events;
};
void store_feed_counts(struct store *st, struct store_feed_counts *OUT_counts);
/* Calls fn for each delivery source (platform) with its delivery count and
 * how many had an address that matched no household, under the tally's
 * lock: fn must not call the store. */
void store_delivery_sources(struct store *st,
                            void (*fn)(void *ctx, const char *source,
                                       uint64_t total, uint64_t unmatched),
                            void *ctx);

/* Counters for /metrics, read without locks (relaxed atomics). */
struct store_stats {
    uint64_t queue_depth; /* batches waiting now */
    uint64_t queue_max;
    uint64_t commits;
    uint64_t rows_written;
    uint64_t log_seq;    /* newest ingest_log seq */
    uint64_t rollup_seq; /* roll-up consumer position */
    uint64_t meter_resets;
    uint64_t meter_replacements;
    uint64_t late_readings;
    uint64_t spread_resets;      /* readings whose interval was longer than
                                    max_spread_days: credited to their day */
    uint64_t sqlite_cache_bytes; /* SQLite's page caches, every connection,
                                    as each last saw them */
    uint64_t wal_syncs;          /* fsyncs of the WAL the writer ran for commits
                                    that did not wait for one (audit rows) */
};
void store_get_stats(struct store *st, struct store_stats *OUT_stats);

/* ---- consumers of the ingest log ---- */

/*
 * Accepted data reaches its consumers (the roll-up, the scenes, later the
 * indicators and the live feed) only through the ingest log, each batch
 * under its sequence number (seq, increasing, never reused).  A consumer:
 *
 *   1. registers (store_consumer_register) between store_open and
 *      store_start_consumers;
 *   2. loads its state from a snapshot (struct store_snapshot): a
 *      consistent read view whose scans each say the seq they reflect;
 *   3. is then given, on the roll-up thread, each batch with a seq above
 *      what its snapshot reflected (and the use the roll-up derives from
 *      readings above what its use scan reflected), once, in seq order.
 *
 * So a batch reaches a consumer's state exactly once in effect, also after
 * a crash between a commit and the roll-up's checkpoint: the roll-up
 * replays the log from its own checkpoint, and the store skips, for each
 * consumer, what its snapshot already held.  The roll-up itself is the
 * log's first consumer: its checkpoint is durable (rollup.db), it reads
 * the log from there and hands each batch on.
 */

/* A batch of the log: feed, the new records (as parsed; household
 * resolved) and its seq.  Called on the roll-up thread; must not block for
 * long. */
typedef void (*store_batch_fn)(void *ctx, const struct ingest_batch *b,
                               int64_t seq);
/* Use the roll-up attributes to a day as it applies a reading (before the
 * checkpoint that makes it durable in usage_daily): the household's dense
 * id, the metric, the day (days since 1970-01-01 in district local time,
 * UTC+8) and the use added (m3 or kWh; may be fractional parts of one
 * reading's interval).  Called on the roll-up thread. */
typedef void (*store_usage_fn)(void *ctx, int32_t household, int metric,
                               int64_t day, double use);
/* Use the roll-up attributes to an hour (hours since the epoch, UTC) as it
 * applies a reading whose interval is short enough to be spread over hours
 * (at most 12 hours), rounded to the metric's resolution as the hourly tier
 * stores it: the same callback shape as a scan of hourly use.  Called on
 * the roll-up thread. */
typedef void (*store_hourly_fn)(void *ctx, int32_t household, int metric,
                                int64_t hour, double use);

struct store_snapshot;

struct store_consumer {
    const char *name; /* for logs; copied */
    /* Loads the consumer's state from snap (may be NULL: no state; the
     * consumer then sees every batch the roll-up applies from its
     * checkpoint on).  Nonzero fails the registration. */
    int (*load)(void *ctx, struct store_snapshot *snap);
    store_batch_fn on_batch;       /* may be NULL */
    store_usage_fn on_usage;       /* may be NULL */
    store_hourly_fn on_usage_hour; /* may be NULL */
    void *ctx;
};

/* Registers a consumer: takes a snapshot, runs c->load on it and records
 * the seqs it reflects as the consumer's positions (c is copied).  Between
 * store_open and store_start_consumers only: CB_EINVAL after; the load's
 * error otherwise (nothing registered). */
int store_consumer_register(struct store *st, const struct store_consumer *c);

/* Shorthands: a consumer with no snapshot and one callback. */
void store_subscribe(struct store *st, store_batch_fn fn, void *ctx);
void store_subscribe_usage(struct store *st, store_usage_fn fn, void *ctx);

/* Starts the roll-up thread, which reads the log from its checkpoint and
 * feeds the consumers.  Registering after this call is not allowed.
 * Calling it twice is a no-op. */
int store_start_consumers(struct store *st);

/* ---- snapshots: typed scans for loading state ---- */

/* A snapshot is one read transaction over both files: every scan of it
 * sees the same state.  Its tables in citybrain.db (registry, raw
 * readings, deliveries, events) reflect the log up to
 * store_snapshot_log_seq; the roll-up's tables (daily and hourly use) up to
 * store_snapshot_usage_seq, the roll-up's checkpoint (<= the former).
 * Each scan also reports its seq through OUT_seq (may be NULL).  Scans
 * return 0 or CB_ESTORE (logged).  A snapshot holds a read connection:
 * end it soon (it keeps the WAL from being checkpointed past it). */
int store_snapshot_begin(struct store *st, struct store_snapshot **OUT_snap);
void store_snapshot_end(struct store_snapshot *snap); /* NULL: no-op */
int64_t store_snapshot_log_seq(const struct store_snapshot *snap);
int64_t store_snapshot_usage_seq(const struct store_snapshot *snap);

/* Every household: its dense id and registry fields (household_id,
 * street, committee, building and address names, lat, lon, area_m2,
 * rooms, registered_occupants, flags; strings valid during the call). */
typedef void (*store_household_fn)(void *ctx, int32_t household,
                                   const struct household *h);
int store_scan_households(struct store_snapshot *snap, store_household_fn fn,
                          void *ctx, int64_t *OUT_seq);

/* The newest stored reading's timestamp (INT64_MIN when none). */
int store_scan_newest_reading(struct store_snapshot *snap, int64_t *OUT_ts_ns,
                              int64_t *OUT_seq);
/* Every stored reading of metric (every metric when < 0) with
 * ts >= from_ns, in (ts, household) order; one hour of readings is held in
 * memory at a time. */
typedef void (*store_reading_fn)(void *ctx, const struct reading *r);
int store_scan_readings(struct store_snapshot *snap, int64_t from_ns,
                        int metric, store_reading_fn fn, void *ctx,
                        int64_t *OUT_seq);

/* The newest district day with daily use (-1 when none). */
int store_scan_newest_day(struct store_snapshot *snap, int64_t *OUT_day,
                          int64_t *OUT_seq);
/* Daily use of the days >= from_day: fn gets household, metric, day and
 * use (day as in store_usage_fn).  Both tiers: first the blocks of past
 * days (usage_daily_block; block by block, meter by meter, each meter's
 * days in order; each block decoded once), then the rows of recent days
 * (usage_daily, the last two days and late rows) in day order.  So the
 * days do not come in day order across meters; every day handed on is >=
 * from_day and <= the newest day.  A meter's day comes once, except a
 * late row of a day already in a block, which comes as a second value of
 * that day until the next compaction (add them up). */
int store_scan_usage_daily(struct store_snapshot *snap, int64_t from_day,
                           store_usage_fn fn, void *ctx, int64_t *OUT_seq);
/* Hourly use of the district days >= from_day, in day order: fn gets
 * household, metric, the hour (hours since the epoch) and its use. */
int store_scan_usage_hourly(struct store_snapshot *snap, int64_t from_day,
                            store_hourly_fn fn, void *ctx, int64_t *OUT_seq);

/* Every stored delivery order with ts >= from_ns, in time order (hour by
 * hour); order_id and recipient are set, address and household_id are
 * not. */
typedef void (*store_delivery_fn)(void *ctx, const struct delivery *d);
int store_scan_deliveries(struct store_snapshot *snap, int64_t from_ns,
                          store_delivery_fn fn, void *ctx, int64_t *OUT_seq);

/* Every department event with ts >= from_ns, oldest first (source,
 * event_id, type, street as sent, attrs_json; strings valid during the
 * call). */
typedef void (*store_event_fn)(void *ctx, const struct event *e);
int store_scan_events(struct store_snapshot *snap, int64_t from_ns,
                      store_event_fn fn, void *ctx, int64_t *OUT_seq);

/* Runs retention now: drops raw readings older than retention_days (their
 * roll-ups are kept), ingest_log entries the roll-up has checkpointed
 * past (its position committed in rollup.db) and older than
 * log_keep_hours, delivery orders (whole hours, with their ids' keys) and
 * events older than orders_retention_days / events_retention_days (0:
 * kept), then hourly and daily use older than
 * hourly_retention_days / daily_retention_days (with the roll-up's next
 * checkpoint, waited for), in
 * chunks of ~50,000 rows, each its own transaction (ingest goes on in
 * between).  The writer also runs it hourly.  *OUT_dropped (may be NULL)
 * counts the readings dropped. */
int store_retention_run(struct store *st, size_t *OUT_dropped);

/* Waits until the roll-up has applied and checkpointed every batch
 * committed before the call, so usage_daily/usage_hours and meter_state
 * reflect them.  Returns 0; CB_EINVAL before store_start_consumers;
 * CB_ECLOSED when the store is closing. */
int store_rollup_flush(struct store *st);

/* ---- settings ---- */

/* Sets (value NULL: clears) a small setting in the kv table; durable on
 * return. */
int store_kv_set(struct store *st, const char *key, const char *value);
/* Appends the setting's value to out: 0, or CB_ENOTFOUND. */
int store_kv_get(struct store *st, const char *key, struct sbuf *out);

/* ---- indicators' and alerts' tables (store_indic.c) ---- */

/* Makes the tables below if missing (a store made by an older build gains
 * them here).  Call once before the others; 0 or CB_ESTORE. */
int store_indic_tables(struct store *st);

/* Small JSON documents by kind and id: the indicators' declarations, alert
 * rules, silences, alerts with their state, and dead letters.  put with
 * json NULL deletes.  Durable on return; 0, CB_EINVAL or CB_ESTORE. */
int store_doc_put(struct store *st, const char *kind, const char *id,
                  const char *json);
/* Calls fn for each document of kind in id order (strings valid during the
 * call); a nonzero return stops the scan. */
/* Reads one document: *OUT_json is the caller's to free().  0,
 * CB_ENOTFOUND or CB_ESTORE. */
int store_doc_get(struct store *st, const char *kind, const char *id,
                  char **OUT_json);
typedef int (*store_doc_fn)(void *ctx, const char *id, const char *json);
int store_doc_scan(struct store *st, const char *kind, store_doc_fn fn,
                   void *ctx);

/* One bucket of an indicator series: value NAN: none; score NAN: not
 * scored yet (the bucket is still open). */
struct store_point {
    const char *indicator, *group;
    int64_t bucket_ns;     /* the bucket's start, epoch ns */
    int64_t bucket_len_ns; /* its length (store_points_put: the block's
                            * span is 64 of them; 0: an hour) */
    double value, score;
};
/* Inserts or replaces n points in one transaction.  Stored values are
 * rounded to the coarsest of 10^0 .. 10^-6 that holds every value of
 * their block of 64 buckets to within a billionth, scores to 1.2 % of
 * 1 - score (store_codec.h, codec_points_encode). */
int store_points_put(struct store *st, const struct store_point *p, size_t n);
/* Deletes the points with bucket_ns < before_ns of indicator (NULL:
 * every indicator). */
int store_points_retain(struct store *st, const char *indicator,
                        int64_t before_ns);
/* Calls fn for at most limit points of indicator (and group; NULL: every
 * group, by group then time) with from_ns <= bucket_ns < to_ns, oldest
 * first. */
typedef void (*store_point_fn)(void *ctx, const struct store_point *p);
int store_points_scan(struct store *st, const char *indicator,
                      const char *group, int64_t from_ns, int64_t to_ns,
                      size_t limit, store_point_fn fn, void *ctx);

/* ---- test seams (for tests only) ---- */

/* Raw access for tests and benchmarks that check the files themselves:
 * borrows a read-only connection (sqlite3 *) from the pool; give it back
 * with store_read_end.  Never NULL.  No module of the program uses it: no
 * SQL leaves the store (scripts/check-layers.sh, run by make test). */
void *store_read_begin(struct store *st);
void store_read_end(struct store *st, void *db);

/* Pauses (1) or resumes (0) the writer's batch processing; queued batches
 * wait, so the queue fills up.  Writer calls still run. */
void store_test_pause_writer(struct store *st, int paused);
/* Holds the roll-up consumer (it applies nothing) while paused is 1. */
void store_test_pause_rollup(struct store *st, int paused);
/* Makes the roll-up checkpoint once it has applied `readings` readings or
 * holds `adds` additions since its last checkpoint, instead of the built-in
 * sizes (0: the built-in one). */
void store_test_rollup_checkpoint_size(struct store *st, size_t readings,
                                       size_t adds);
/* Makes the next store_close skip the roll-up's final checkpoint, as if
 * the process died between a commit and a checkpoint. */
void store_test_skip_checkpoint(struct store *st);
/* Makes the writer's next n transactions fail just before COMMIT (they
 * are rolled back), as a full disk would. */
void store_test_fail_commits(struct store *st, int n);
/* The disk-full seam: with full set, citybrain.db may not grow (SQLite's
 * max_page_count), so the next write that needs a page fails as a full disk
 * does, with CB_ERRNO(ENOSPC); unset, it may grow again.  Runs on the
 * writer; returns 0 or the error of that call. */
int store_test_disk_full(struct store *st, int full);
/* The same for the roll-up's next n checkpoints (each retried a second
 * later). */
void store_test_fail_rollup_checkpoints(struct store *st, int n);

/* ---- alert actions (store_alerts.c; the workflow is indic.h's) ---- */

/* One action on an alert.  Strings are borrowed; "" when absent. */
struct alert_action {
    int64_t alert_id;
    int64_t ts_ns;      /* by the district clock */
    const char *action; /* acknowledge, assign, comment, suppress, escalate */
    int64_t token_id;   /* 0: citybrain itself (escalate) */
    const char *who, *role;
    const char *assignee; /* assign: to whom; escalate: the recipient */
    const char *text;     /* comment: the text; suppress: the reason */
    int64_t until_ns;     /* suppress: until when */
};
/* Appends action a.  Durable on return; 0 or CB_ESTORE. */
int store_alert_action_add(struct store *st, const struct alert_action *a);
/* Calls fn for each action on alert_id, oldest first (strings valid during
 * the call).  0 or CB_ESTORE. */
typedef void (*store_alert_action_fn)(void *ctx, const struct alert_action *a);
int store_scan_alert_actions(struct store *st, int64_t alert_id,
                             store_alert_action_fn fn, void *ctx);

/* ---- cases (store_cases.c; the lifecycle is src/case/case.h's) ---- */

/* One case as stored.  Strings are NUL-terminated, "" when absent. */
struct case_row {
    int64_t id;
    char state[24];
    char category[64];
    char source_kind[24];
    char source_ref[128];
    char household_id[65];
    char committee[STORE_NAME_MAX + 1]; /* the household's, or "" */
    char building[STORE_NAME_MAX + 1];
    char address[STORE_NAME_MAX + 1];
    int has_place; /* lat and lon are meaningful */
    double lat, lon;
    char unit_kind[16];            /* "committee", "department" or "" */
    char unit[STORE_NAME_MAX + 1]; /* who handles it, once dispatched */
    int64_t duplicate_of;          /* the open case it likely repeats, or 0 */
    char title[256];
    int64_t created_ns, updated_ns;
    int64_t deadline_ns;   /* the current step's deadline, 0: none */
    int attempts;          /* visits that found no one in */
    char escalated_to[32]; /* who the current step was escalated to, or "" */
};

/* One visit reported on a case. */
struct case_visit {
    const char *visit_id, *outcome; /* borrowed */
    int headcount;                  /* -1: not counted */
    const char *notes;
    int64_t ts_ns, token_id;
    const char *who;
};

/* One step of a case's history. */
struct case_step {
    int64_t ts_ns;
    const char *action, *from_state, *to_state; /* borrowed */
    int64_t token_id;
    const char *who, *role, *reason; /* borrowed; reason may be "" */
};

/* Stores a new case (c->id is ignored) with its first step.  OUT_id: its
 * id.  Returns 0 or CB_ESTORE. */
int store_case_insert(struct store *st, const struct case_row *c,
                      const struct case_step *first, int64_t *OUT_id);
/* Reads case id into OUT: 0, CB_ENOTFOUND or CB_ESTORE. */
int store_case_get(struct store *st, int64_t id, struct case_row *OUT);
/* Replaces case c->id with c and appends step, only if the stored state is
 * still expect_state: 0, CB_EEXIST (the state moved meanwhile: nothing
 * changed), CB_ENOTFOUND or CB_ESTORE. */
int store_case_update(struct store *st, const struct case_row *c,
                      const char *expect_state, const struct case_step *step);
/* Sets c->escalated_to on case c->id and appends step, only if the stored
 * case is still in c->state, with c->updated_ns and not escalated: nothing
 * else of the row is written, so a change made meanwhile is never undone.
 * 0, CB_EEXIST (it changed meanwhile: nothing done) or CB_ESTORE. */
int store_case_escalate(struct store *st, const struct case_row *c,
                        const struct case_step *step);
/* Records visit v on case c->id and, as store_case_update, replaces the
 * case with c and appends steps[0..n_steps) when the stored state is
 * still expect_state, all in one transaction.  *OUT_repeat is 1 when the
 * case already has a visit of that visit_id: nothing changes and 0 is
 * returned.  Otherwise as store_case_update. */
int store_case_visit(struct store *st, const struct case_row *c,
                     const char *expect_state, const struct case_step *steps,
                     int n_steps, const struct case_visit *v, int *OUT_repeat);
/* Calls fn for each step of case id, oldest first. */
typedef void (*store_case_step_fn)(void *ctx, const struct case_step *step);
int store_scan_case_steps(struct store *st, int64_t id, store_case_step_fn fn,
                          void *ctx);
/* Calls fn for each case, newest first, that passes the filter: a field
 * that is NULL or "" is not filtered on.  household_id: exact;
 * open_only: state not in closed, evaluated, void. */
struct case_filter {
    const char *category, *household_id, *unit_kind, *unit, *state;
    int open_only;
    int limit;             /* 0: no limit */
    int64_t overdue_at_ns; /* not 0: only cases past their deadline then
                              and not escalated */
};
typedef void (*store_case_fn)(void *ctx, const struct case_row *c);
int store_scan_cases(struct store *st, const struct case_filter *f,
                     store_case_fn fn, void *ctx);
/* Calls fn for each case of source_kind made in [from_ns, to_ns), newest
 * first, at most limit (0: no limit).  0 or CB_ESTORE. */
int store_scan_cases_by_source(struct store *st, const char *source_kind,
                               int64_t from_ns, int64_t to_ns, int limit,
                               store_case_fn fn, void *ctx);
/* Calls fn for each visit reported between from_ns and to_ns (ts_ns in
 * [from, to)), oldest first. */
typedef void (*store_case_visit_fn)(void *ctx, int64_t case_id,
                                    const struct case_visit *v);
int store_scan_case_visits(struct store *st, int64_t from_ns, int64_t to_ns,
                           store_case_visit_fn fn, void *ctx);
/* Where a household is: its committee, building, address and position
 * (OUT_c's fields of those names; has_place when it has lat/lon).
 * 0, CB_ENOTFOUND or CB_ESTORE. */
int store_case_household_place(struct store *st, const char *household_id,
                               struct case_row *OUT_c);

/* ---- photos of cases (store_photos.c; the files: src/photo/photo.h) ---- */

/* One photo's metadata.  Strings are NUL-terminated. */
struct photo_row {
    char id[32]; /* "P" + 24 hex (photo_new_id) */
    int64_t case_id;
    char visit_id[129];    /* the visit it documents, or "" */
    char content_type[16]; /* image/jpeg or image/png */
    int64_t bytes;         /* as stored, metadata stripped */
    int64_t created_ns;
    int64_t token_id;
    char who[64];                         /* the uploader's token name */
    char quota_unit[STORE_NAME_MAX + 32]; /* whose quota it counts in */
};

/* Stores p if the photos of p->quota_unit, with p, stay within
 * quota_bytes.  Returns 0, CB_ETOOBIG (the quota is full: nothing
 * stored; *OUT_used holds the bytes already used), or CB_ESTORE. */
int store_photo_insert(struct store *st, const struct photo_row *p,
                       int64_t quota_bytes, int64_t *OUT_used);
/* Reads photo id into OUT: 0, CB_ENOTFOUND or CB_ESTORE. */
int store_photo_get(struct store *st, const char *id, struct photo_row *OUT);
/* Calls fn for each photo of case case_id, oldest first: 0 or CB_ESTORE. */
typedef void (*store_photo_fn)(void *ctx, const struct photo_row *p);
int store_scan_case_photos(struct store *st, int64_t case_id, store_photo_fn fn,
                           void *ctx);

#endif
