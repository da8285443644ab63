/*
 * store_int.h - the store's private header: shared by the store's .c files
 * only.
 *
 * Everything here is internal (prefix store__).  The store is one process-
 * wide object, struct store, with these parts and owners:
 *
 *   part            file              thread(s)          lock
 *   --------------  ----------------  -----------------  -------------------
 *   open, close     store.c           caller             none (single)
 *   schema, conns   store_schema.c    open/close         none (single)
 *   write queue     store_write.c     HTTP -> writer     q_lock
 *   feed inserts    store_feeds.c     writer             none (writer only)
 *   registry maps   store_registry.c  writer writes,     reg_lock (rwlock)
 *                                     anyone reads
 *   events' places  store_place.c     (as registry maps) reg_lock (rwlock)
 *   string map      store_map.c       (callers lock)     -
 *   ingest_log fmt  store_log.c       writer, roll-up    none (pure)
 *   day blocks      store_days.c      writer (compaction, none (writer only;
 *                                     dedup); readers    readers: snapshot)
 *   series codec    store_codec.c     any                none (pure)
 *   roll-up (the    store_rollup.c    roll-up thread     rollup.lock
 *   first consumer) (rollup.db)
 *   meter model     store_meter.c     roll-up thread     none (pure)
 *   consumers       store_consumer.c  caller, then       sub_lock until
 *                                     roll-up thread     started, then none
 *   snapshots       store_snapshot.c  caller (loading)   pool_lock (a reader)
 *   tokens, audit   store_auth.c      anyone             tok_lock, src_lock
 *   read pool       store_read.c      anyone             pool_lock
 *
 * One writer per file.  Only the writer thread writes citybrain.db: batches
 * go through the bounded queue, and every other write there (tokens,
 * audit, retention) is a "call" that the writer runs inside its own
 * transaction (store__call).  Calls do not count against queue_max:
 * backpressure is for ingest, not for the audit log.  Only the roll-up
 * thread writes rollup.db (usage_daily, usage_hour_data, meter_state and its
 * position), in its own checkpoint transactions on its own connection, so
 * the two writers run on two cores and never wait for each other's locks.
 * All other connections are read-only (the read pool attaches rollup.db as
 * schema "rollup"), so there is never lock contention in SQLite.  Open
 * order matters: rollup.db is opened and migrated (to the layout migration
 * 6 expects) first, because citybrain.db's migration 6 moves the old
 * roll-up tables into it; its later migrations run after citybrain.db's.
 *
 * The ingest_log payload.  Each accepted batch appends one ingest_log row
 * whose payload holds the batch's new records (duplicates left out), in a
 * compact little-endian binary form:
 *
 *   payload   := header record{n}
 *   header    := u8 version (=1) | u8 feed | u16 0 | u32 n       (8 bytes)
 *   str       := u32 len | len bytes    (len 0xffffffff: NULL, no bytes)
 *
 *   feed        record (fields in this order)                    fixed part
 *   ----------  -----------------------------------------------  ----------
 *   readings    i32 household | u8 metric | u8 field | u16 0 |   24 bytes
 *               i64 ts_ns | f64 value
 *   deliveries  i64 ts_ns | i32 household | str order_id |       12 + strs
 *               str household_id | str address | str recipient
 *   events      i64 ts_ns | f64 lat | f64 lon | i32 street_id |   28 + strs
 *               str source | str event_id | str type | str street |
 *               str attrs_json
 *   registry    i32 dense id | i32 street_id | f64 lat | f64 lon |  44 + strs
 *               f64 area_m2 | i32 rooms | i32 registered_occupants |
 *               i32 flags | str household_id | str street |
 *               str committee | str building | str address
 *
 * Readings are written in (ts, household, metric) order, so a consumer
 * sees each batch's readings in time order.
 */
#ifndef CB_STORE_INT_H
#define CB_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock/clock.h"
#include "store/store.h"

#define STORE_LOG_VERSION 1
#define STORE_DAY_NS (86400LL * 1000000000LL)
#define STORE_HOUR_NS (3600LL * 1000000000LL)
/* The district's UTC offset (clock.h: the timezone setting, whole hours). */
#define STORE_TZ_OFFSET_NS (dclock_tz_offset_ns())
#define STORE_ROLLUP_CONSUMER "rollup"

/* ---- prepared statements ---- */

/* Every SQL statement the store runs, prepared lazily once per connection
 * (store__stmt) and kept until the connection closes. */
enum store_stmt {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_BLOCK_ADD,
    STMT_ORDER_ADD,
    STMT_ORDER_BLOCK_ADD,
    STMT_ORDER_KEY_ADD,
    STMT_ORDER_KEY_HOUR,
    STMT_ORDER_HOUR_BLOCKS,
    STMT_RETAIN_ORDER_ROWS,
    STMT_ORDER_KEY_DROP,
    STMT_ORDER_ID_DROP,
    STMT_ORDER_BLOCK_DROP,
    STMT_RETAIN_EVENTS,
    STMT_EVENT_ADD,
    STMT_LOG_ADD,
    STMT_STREET_FIND,
    STMT_STREET_ADD,
    STMT_COMMITTEE_FIND,
    STMT_COMMITTEE_ADD,
    STMT_BUILDING_FIND,
    STMT_BUILDING_ADD,
    STMT_HOUSEHOLD_ADDR,
    STMT_HOUSEHOLD_UPSERT,
    STMT_TALLY_ADD,
    STMT_SOURCE_ADD,
    STMT_DAILY_ADD,
    STMT_DAILY_ADD_MANY,
    STMT_HOURS_ADD,
    STMT_HOURS_ADD_MANY,
    STMT_METER_PUT,
    STMT_METER_PUT_MANY,
    STMT_CONSUMER_PUT,
    STMT_RETAIN_READINGS,
    STMT_RETAIN_LOG,
    STMT_DAY_GET,
    STMT_DAY_PUT,
    STMT_DAY_NEWEST,
    STMT_RETAIN_DAYS,
    STMT_RETAIN_HOURS_USE, /* rollup.db */
    STMT_RETAIN_DAILY_USE, /* rollup.db */
    STMT_DAILY_BLOCK_READ, /* rollup.db: compaction of daily use */
    STMT_DAILY_BLOCK_GET,
    STMT_DAILY_BLOCK_PUT,
    STMT_DAILY_BLOCK_DROP,
    STMT_DAILY_MIN_DAY,
    STMT_DAILY_BLOCK_NEXT,
    STMT_RETAIN_DAILY_BLOCKS,
    STMT_PERIOD_GET,
    STMT_PERIOD_PUT,
    STMT_PERIOD_NEWEST,
    STMT_RETAIN_PERIODS,
    STMT_PERIOD_TRIM_ROWS,
    STMT_PERIOD_DROP,
    STMT_PERIOD_SET,
    STMT_HOT_SPAN,
    STMT_HOT_DAY_ROWS,
    STMT_HOT_DAY_MAX_BLOCK,
    STMT_HOT_DELETE,
    STMT_DEPT_ADD,
    STMT_DEPT_FEEDS,
    STMT_TOKEN_ADD,
    STMT_TOKEN_REVOKE,
    STMT_AUDIT_ADD,
    STMT_KV_PUT,
    /* read-only statements, used on pool connections */
    STMT_LOG_AFTER,
    STMT_BLOCK_GET,
    STMT_BLOCK_NEXT_HOUR,
    STMT_BLOCK_NEWEST_HOUR,
    STMT_PERIOD_RANGE,
    STMT_DAY_RANGE,
    STMT_USAGE_DAILY,
    STMT_USAGE_DAYS,
    STMT_EVENTS,
    STMT_HOUSEHOLD_COMMITTEE,
    STMT_HOUSEHOLD_GET,
    STMT_METERS_OF,
    STMT_DEPT_LIST,
    STMT_DEPT_FIND,
    STMT_TOKEN_LIST,
    STMT_AUDIT_LIST,
    STMT_KV_GET,
    STMT_COUNT
};

/* The roll-up's _MANY statements write this many rows at once (their
 * parameters are the single-row statement's, row after row). */
#define STORE_ROWS_PER_STMT 16

/* A connection with its statement cache. */
struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
};

/* Opens path read-write (creating) or read-only, applies the pragmas.
 * Returns 0 or CB_ESTORE (logged); on error conn is left closed. */
int store__conn_open(struct store_conn *conn, const char *path, int readonly,
                     const struct store_config *cfg);
void store__conn_close(struct store_conn *conn);
/* After every connection to path is closed (a clean stop): checkpoints its
 * WAL into the file and truncates it, so nothing is left beside it. */
void store__checkpoint_file(const char *path);
/* Sets the synchronous level of conn's main file for the transactions
 * that follow (between transactions only): full 1 FULL, 0 NORMAL.  0 or
 * CB_ESTORE (logged). */
int store__conn_set_sync(struct store_conn *conn, int full);
/* fsyncs conn's WAL file (main), as a FULL commit would: what NORMAL
 * commits wrote to it since survives power loss once this returns 0.  0
 * when there is no WAL file yet; CB_ESTORE (logged) when the sync fails. */
int store__conn_sync_wal(struct store_conn *conn);
/* The cached statement id of conn, reset and unbound; NULL on a prepare
 * error (logged). */
sqlite3_stmt *store__stmt(struct store_conn *conn, enum store_stmt id);
/* The bytes of conn's page caches now (every attached file); call on the
 * thread that uses conn. */
uint64_t store__conn_cache_bytes(struct store_conn *conn);
/* Logs the connection's last error for op and returns its code: the OS
 * cause as CB_ERRNO (disk full: CB_ERRNO(ENOSPC); an I/O error with the
 * errno SQLite saw), else CB_ESTORE. */
int store__sqlerr(sqlite3 *db, const char *op);
/* Runs citybrain.db's migrations up to the newest version; the one that
 * moves the roll-ups attaches rollup_path (already migrated by
 * store__migrate_rollup to STORE_ROLLUP_MOVE_VERSION) for its run.  0 or
 * CB_ESTORE. */
int store__migrate(struct store_conn *conn, const char *rollup_path);
/* The rollup.db version whose tables citybrain.db's migration 6 writes. */
#define STORE_ROLLUP_MOVE_VERSION 1
/* Runs rollup.db's own migrations (its own user_version) up to max_version
 * (or the newest); 0 or CB_ESTORE. */
int store__migrate_rollup(struct store_conn *conn, int max_version);
/* The newest schema versions of citybrain.db and rollup.db. */
int store__schema_version(void);
int store__rollup_schema_version(void);
/* ATTACHes rollup_path to db as schema "rollup" (reader: with the read
 * pool's pragmas).  Outside a transaction.  0 or CB_ESTORE (logged). */
int store__attach_rollup(sqlite3 *db, const char *rollup_path, int reader);
/* Steps a statement that returns no rows (or whose rows are ignored) and
 * resets it.  Returns 0 or CB_ESTORE (logged, op names it). */
int store__exec_stmt(struct store_conn *conn, sqlite3_stmt *st, const char *op);
/* Binds text that may be NULL. */
void store__bind_text(sqlite3_stmt *st, int col, const char *s);

/* ---- string map (store_map.c) ---- */

/* Open-addressing map from NUL-terminated keys (copied into one pool) to
 * int32 values.  No deletion.  Not thread-safe: callers lock. */
struct strmap_slot {
    uint32_t hash; /* 0: empty */
    uint32_t key_off;
    int32_t value;
};
struct strmap {
    struct strmap_slot *slots;
    size_t cap, len;
    struct sbuf keys;
};
void store__map_init(struct strmap *m);
void store__map_release(struct strmap *m);
/* 1 and *OUT_value when found, else 0. */
int store__map_get(const struct strmap *m, const char *key, int32_t *OUT_value);
/* Inserts or overwrites. */
void store__map_put(struct strmap *m, const char *key, int32_t value);

/* ---- the write queue (store_write.c) ---- */

/* Per-household facts the writer learns in a transaction, applied to the
 * in-memory registry after COMMIT. */
struct registry_note {
    int32_t id, street_id, committee_id, building_id;
    int changed;       /* 1: inserted or updated (not a duplicate) */
    char *old_address; /* the replaced address, to unindex (malloc) */
};

struct write_req {
    const struct ingest_batch *batch; /* borrowed from store_write */
    const char *source;
    struct store_write_result res;
    int rc, done;
    pthread_cond_t cond;
    struct write_req *next;
    /* writer-private, rebuilt on every attempt */
    uint8_t *fresh;              /* one per record: 1 if stored */
    struct registry_note *notes; /* registry batches: one per record */
};

/* A function the writer runs inside a transaction (see store__call). */
typedef int (*store_call_fn)(struct store *st, struct store_conn *w, void *arg);

/* How a writer transaction commits with sync=full (with sync=normal both
 * are NORMAL). */
enum store_commit {
    STORE_COMMIT_FSYNC, /* synchronous=FULL: on disk when COMMIT returns */
    STORE_COMMIT_OS,    /* synchronous=NORMAL: in the WAL, in the OS's page
                           cache, when COMMIT returns; fsynced by the writer
                           within STORE_OS_COMMIT_SYNC_NS (see store__call_os) */
};

/* The longest a STORE_COMMIT_OS commit waits for its fsync. */
#define STORE_OS_COMMIT_SYNC_NS 1000000000LL

struct writer_call {
    store_call_fn fn;
    void *arg;
    enum store_commit commit;
    int rc, done;
    pthread_cond_t cond;
    struct writer_call *next;
};

/* Runs fn(st, writer connection, arg) on the writer thread inside BEGIN
 * IMMEDIATE .. COMMIT and waits.  fn's nonzero return rolls back and is
 * returned; a failed COMMIT gives CB_ESTORE; CB_ECLOSED once the writer has
 * stopped.  Never called from the writer thread itself. */
int store__call(struct store *st, store_call_fn fn, void *arg);
/* As store__call, but with sync=full the COMMIT does not wait for the disk
 * (STORE_COMMIT_OS): once it returns 0 the write survives a killed process
 * (kill -9: SQLite wrote the WAL frames with write(2) before COMMIT
 * returned), and it survives power loss or an OS crash once the WAL is
 * fsynced: by the next fsynced commit (any ingest group) or checkpoint, or
 * by the writer at most STORE_OS_COMMIT_SYNC_NS after this commit,
 * whichever comes first.  For the audit log, whose rows every household
 * read waits for; never for ingest. */
int store__call_os(struct store *st, store_call_fn fn, void *arg);
/* Starts/stops the writer thread. */
int store__writer_start(struct store *st);
void store__writer_drain(struct store *st); /* waits for an empty queue */
void store__writer_stop(struct store *st);
/* What one retention chunk deleted (all 0: nothing left to do). */
struct store_retained {
    size_t readings, log, orders, events;
};
/* Runs one retention chunk on the writer connection (inside a
 * transaction): deletes up to ~50,000 of the oldest readings past
 * retention, ingest_log rows up to rollup_saved (the roll-up's position
 * committed in rollup.db, not the one applied in memory), and orders and
 * events past orders_retention_days / events_retention_days (0: none);
 * *OUT counts what it deleted. */
int store__retain_chunk(struct store *st, struct store_conn *w,
                        struct store_retained *OUT);
/* Wakes the writer: the roll-up has checkpointed, the log behind it may go
 * (any thread). */
void store__writer_notify(struct store *st);
/* Daily use of past district days in blocks of STORE_DAILY_BLOCK_DAYS
 * days per meter (usage_daily_block, store_rollup.c; format and rounding:
 * codec_days_encode in store_codec.h). */
#define STORE_DAILY_BLOCK_DAYS 32
/* The block of a district day, and the day's index in it. */
int64_t store__daily_block_of(int64_t day);
/* Registers the SQL functions that read blocks on db:
 * cb_day_use(data, i) and cb_day_n(data, i) (NULL: no value that day or a
 * corrupt block), and those of hourly use (usage_hour_data.data, format
 * store_codec.h): cb_hour_use(data, i) (NULL: none, or corrupt),
 * cb_hours_add(data, more) (the checkpoint's upsert), cb_hours_one(slot,
 * use) and cb_hours_drop(data, slot) (usage_hourly's triggers).  Every
 * store connection has them. */
int store__daily_block_functions(sqlite3 *db);

/* Runs the retention of the tiers of use (store_rollup.c) with the
 * roll-up's next checkpoint and waits for it: 0 (also when the roll-up has
 * not started), or CB_ECLOSED when it stopped first. */
int store__rollup_retain(struct store *st);
/* Drops every log row the roll-up has checkpointed past (and kept
 * log_keep_hours), through writer calls: store_close, after the roll-up's
 * final checkpoint.  0 or the error of a call. */
int store__log_trim_all(struct store *st);

/* ---- feed inserts (store_feeds.c), writer thread, inside a txn ---- */

/* Stores the batches of a group: dedups and inserts rows, appends an
 * ingest_log row per batch with new records, updates tallies.  Fills each
 * req's res, fresh and notes.  Returns 0 or CB_ESTORE (the caller rolls
 * back). */
int store__group_apply(struct store *st, struct write_req **reqs, size_t n);
/* After COMMIT: updates the in-memory registry, tallies and counters. */
void store__group_publish(struct store *st, struct write_req **reqs, size_t n);
/* Frees the writer-private parts of a req. */
void store__req_clear(struct write_req *req);

/* ---- reading blocks (store_blocks.c) ---- */

#define STORE_BLOCK_SIZE 256          /* households a block */
#define STORE_MAX_HOUSEHOLD (1 << 28) /* dense ids stay below */

/* Decoded readings of some blocks. */
struct block_entries {
    struct reading *e;
    size_t n, cap;
};

static inline int64_t store__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}
int64_t store__hour_of(int64_t ts_ns); /* hours since the epoch, floored */
/* a * b (b > 0), saturated to the int64 range. */
static inline int64_t store__mul_sat(int64_t a, int64_t b)
{
    if (a > INT64_MAX / b)
        return INT64_MAX;
    if (a < INT64_MIN / b)
        return INT64_MIN;
    return a * b;
}
/* A scan of block rows in hour order (column 0: the hour): row is called
 * for each row, hour_done after each hour's last row. */
struct hour_scan {
    int (*row)(void *ctx, sqlite3_stmt *s); /* 0 or CB_ESTORE: stop */
    void (*hour_done)(void *ctx);
    const char *op; /* for the error log */
};
/* Runs sql (?1: the hour of from_ns) on db; 0 or CB_ESTORE. */
int store__scan_by_hour(void *db, const char *sql, int64_t from_ns,
                        const struct hour_scan *hs, void *ctx);
/* Sets every mark to the end of the newest stored hour (writer conn). */
int store__marks_load(struct store *st);
void store__marks_free(struct store *st);
/* Inside the group's transaction: dedups the group's readings, appends the
 * new ones as blocks, sets fresh/accepted/duplicates and adds each batch's
 * new readings to payloads[i].  0 or CB_ESTORE. */
int store__readings_apply(struct store *st, struct write_req **reqs, size_t n,
                          struct sbuf *payloads);
/* After COMMIT: raises the marks of the series that stored readings. */
void store__readings_publish(struct store *st, struct write_req **reqs,
                             size_t n);
/* Calls fn for at most limit readings of household (metric < 0: all) with
 * from_ns <= ts < to_ns, in (ts, metric) order.  0 or CB_ESTORE. */
int store__blocks_read(struct store_conn *c, int32_t household, int metric,
                       int64_t from_ns, int64_t to_ns, size_t limit,
                       store_reading_fn fn, void *ctx);
/* Deletes up to max_rows blocks of the hours wholly before cutoff_ns;
 * *OUT_readings: how many readings they held. */
int store__blocks_retain(struct store_conn *w, int64_t cutoff_ns,
                         size_t max_rows, size_t *OUT_readings);
/* Scans for snapshots (store_snapshot.c), on a reader inside its read
 * transaction: the newest reading's ts (INT64_MIN: none), and the readings
 * of metric (< 0: all) with ts >= from_ns in (ts, household) order.  0 or
 * CB_ESTORE. */
int store__readings_newest(sqlite3 *db, int64_t *OUT_ts_ns);
int store__readings_scan(sqlite3 *db, int64_t from_ns, int metric,
                         store_reading_fn fn, void *ctx);
/* Migration 7: moves the rows of table reading into reading_block. */
int store__blocks_migrate(sqlite3 *db);
/* Appends the entries of one reading_block row's data to *v; CB_ESTORE
 * when it is not a whole number of valid entries. */
int store__block_decode(const void *data, size_t len, int64_t block,
                        struct block_entries *v);

/* ---- readings compacted by day (store_days.c) ---- */

#define STORE_DAY_BLOCK 64 /* households a compacted row */

/* Days a period row of a low-rate block spans (reading_period). */
#define STORE_PERIOD_DAYS 32

/* The compacted rows of one (day, block) and of its (period, block),
 * decoded and sorted, for dedup. */
struct day_probe {
    int64_t day, block, newest_day;
    int loaded;
    struct block_entries v;
    int64_t period, pblock;
    int ploaded;
    struct block_entries pv;
};
int64_t store__utc_day_of_hour(int64_t hour);
/* The period (STORE_PERIOD_DAYS days from 1970-01-01) of a UTC day. */
int64_t store__period_of_day(int64_t day);
/* Writer: is r (same household, metric and ts) in its compacted day? */
int store__day_has(struct store_conn *w, struct day_probe *p,
                   const struct reading *r, int *OUT_has);
/* Writer, at open: the newest compacted day and the span of the hourly
 * rows. */
int store__days_load(struct store *st);
/* Writer: an hourly row of hour was written (after COMMIT). */
void store__days_note_hour(struct store *st, int64_t hour);
/* Writer: 1 when a day of hourly rows is due for compaction. */
int store__days_due(struct store *st);
/* Writer, inside a transaction: compaction's next chunk
 * (store__days_compact_begin first); then store__days_compact_done after
 * COMMIT or rollback with its rc. */
int store__days_compact_begin(struct store *st);
int store__days_compact_chunk(struct store *st, struct store_conn *w,
                              size_t *OUT_readings);
int store__days_compact_done(struct store *st, int rc);
/* Reader: appends household's compacted readings of the days that
 * [from_ns, to_ns) touches (unfiltered by time) to v. */
int store__days_read(struct store_conn *c, int32_t household, int64_t from_ns,
                     int64_t to_ns, struct block_entries *v);
/* Raises *OUT_ts_ns to the newest compacted reading's ts. */
int store__days_newest(sqlite3 *db, int64_t *OUT_ts_ns);
/* Appends the compacted readings of day with from_ns <= ts < to_ns;
 * day_rows is "SELECT block,data FROM reading_day WHERE day=?1". */
int store__days_window(sqlite3_stmt *day_rows, int64_t day, int64_t from_ns,
                       int64_t to_ns, struct block_entries *v);
/* The same for a period; period_rows is "SELECT block,data FROM
 * reading_period WHERE period=?1". */
int store__periods_window(sqlite3_stmt *period_rows, int64_t period,
                          int64_t from_ns, int64_t to_ns,
                          struct block_entries *v);
/* Writer, at close (before the writer stops): every hot day, the open one
 * too, is compacted (as late readings are) until hot is empty or
 * STORE_CLOSE_COMPACT_S has passed. */
#define STORE_CLOSE_COMPACT_S 5
void store__days_compact_at_close(struct store *st);
/* Deletes up to max_rows compacted rows of days wholly before cutoff_ns,
 * and trims period rows that start before it (readings of those days
 * go). */
int store__days_retain(struct store *st, struct store_conn *w,
                       int64_t cutoff_ns, size_t max_rows,
                       size_t *OUT_readings);

/* ---- delivery orders (store_orders.c) ---- */

/* Inside the group's transaction: dedups req's orders by id, stores the
 * new ones in blocks, sets fresh/accepted/duplicates/unmatched. */
int store__orders_apply(struct store_conn *w, struct write_req *req);
/* For snapshots: the stored orders with ts >= from_ns, hour by hour. */
int store__deliveries_scan(sqlite3 *db, int64_t from_ns, store_delivery_fn fn,
                           void *ctx);
/* Retention: drops up to max_rows of the oldest delivery_block rows of
 * hours wholly before cutoff_ns, with their orders' keys (and ids in
 * delivery_order); *OUT_orders counts the orders dropped. */
int store__orders_retain(struct store_conn *w, int64_t cutoff_ns,
                         size_t max_rows, size_t *OUT_orders);
/* Retention: drops up to max_rows of the oldest events before cutoff_ns
 * (*OUT_events of them). */
int store__events_retain(struct store_conn *w, int64_t cutoff_ns,
                         size_t max_rows, size_t *OUT_events);
/* Migration 8: moves the rows of table delivery into ids and blocks. */
int store__orders_migrate(sqlite3 *db);
/* The 8-byte key of an order id in delivery_key (a hash: two ids may share
 * one; the store then checks the id itself). */
int64_t store__order_key(const char *id);
/* Migration 14: an 8-byte key and the hour of every stored order into
 * delivery_key; delivery_order keeps only the ids whose key another id
 * holds (or that no block holds). */
int store__orders_migrate_keys(sqlite3 *db);

/* indic_block (store_indic.c), made by migration 15 and by
 * store_indic_tables alike. */
#define INDIC_BLOCK_TABLE                                                      \
    "CREATE TABLE IF NOT EXISTS indic_block(indicator TEXT NOT NULL,"          \
    " grp TEXT NOT NULL, start_ns INTEGER NOT NULL,"                           \
    " first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,"                    \
    " data BLOB NOT NULL, PRIMARY KEY(indicator, grp, start_ns))"              \
    " WITHOUT ROWID;"
/* Migration 15: moves indic_point's rows (when the table exists) into
 * indic_block and drops indic_point.  0 or CB_ESTORE. */
int store__indic_migrate(sqlite3 *db);

/* ---- ingest_log payload (store_log.c) ---- */

void store__log_begin(struct sbuf *p, enum feed feed);
void store__log_reading(struct sbuf *p, const struct reading *r);
void store__log_delivery(struct sbuf *p, const struct delivery *d);
void store__log_event(struct sbuf *p, const struct event *e, const char *source,
                      int32_t street_id);
void store__log_household(struct sbuf *p, const struct household *h, int32_t id,
                          int32_t street_id);
/* Writes n into the header. */
void store__log_finish(struct sbuf *p, uint32_t n);
/* Decodes a payload into b, every record and string allocated in b's
 * arena; release b with store__log_batch_release.  Returns 0 or CB_ESTORE
 * for a malformed payload (b is then released already). */
int store__log_decode(const void *payload, size_t len,
                      struct ingest_batch *OUT_b);
void store__log_batch_release(struct ingest_batch *b);

/* ---- registry in memory (store_registry.c) ---- */

/* Loads households, streets and the address index from the database. */
int store__registry_load(struct store *st, struct store_conn *c);
void store__registry_release(struct store *st);
/* Writer thread: the street id for an event (by name, else the street
 * whose households' centroid is nearest to lat/lon), or 0 if none. */
int32_t store__registry_place(struct store *st, const char *street, double lat,
                              double lon);
/* Writer thread, after COMMIT: records the changed households of a
 * registry batch in the maps, the address index and the street centroids. */
void store__registry_publish(struct store *st, const struct write_req *req);
/* Normalised address key into out (cap bytes); "" when none. */
void store__address_key(const char *address, char *out, size_t cap);

/* ---- events' committees (store_place.c; reg_lock held by the caller) ---- */

struct household_geo;
struct place_index *store__place_new(void);
void store__place_free(struct place_index *p); /* NULL: no-op */
/* Names committee id (reg_lock held for writing). */
void store__place_committee(struct place_index *p, int32_t id,
                            const char *name);
/* Household id moves from old to now (reg_lock held for writing; hh_geo[id]
 * still holds old, and is set to now right after). */
void store__place_move(struct place_index *p, int32_t id,
                       const struct household_geo *old,
                       const struct household_geo *now);

/* ---- roll-up consumer (store_rollup.c) ---- */

/* Opens the roll-up's write connection to rollup.db and migrates that file
 * up to STORE_ROLLUP_MOVE_VERSION (before citybrain.db is migrated: its
 * migration 6 copies into it). */
int store__rollup_open(struct store *st);
/* Migrates rollup.db the rest of the way, loads meter_state and the roll-up
 * position from it and opens the roll-up's read connection to the ingest
 * log (after citybrain.db's migrations). */
int store__rollup_load(struct store *st);
/* Starts the roll-up thread (after the writer thread). */
int store__rollup_start(struct store *st);
/* District day (days since 1970-01-01 in UTC+8) of a timestamp. */
int64_t store__day_of(int64_t ts_ns);
/* Wakes the roll-up: new log entries were committed. */
void store__rollup_notify(struct store *st);
/* Stops the roll-up thread: catches up, checkpoints (unless the crash test
 * seam is set) and frees it. */
void store__rollup_close(struct store *st);
/* The roll-up's position (the seq its tables and meters hold); before
 * store_start_consumers it is its checkpoint. */
int64_t store__rollup_position(struct store *st);

/* ---- consumers (store_consumer.c) ---- */

/* Roll-up thread: hands batch b (seq) to every consumer whose position is
 * below seq, then raises those positions. */
void store__consumers_batch(struct store *st, const struct ingest_batch *b,
                            int64_t seq);
/* Roll-up thread, while it applies batch seq: hands a use to every
 * consumer whose use position is below seq. */
void store__consumers_usage(struct store *st, int64_t seq, int32_t household,
                            int metric, int64_t day, double use);
/* The same for a use of an hour (store_hourly_fn). */
void store__consumers_usage_hour(struct store *st, int64_t seq,
                                 int32_t household, int metric, int64_t hour,
                                 double use);
/* Raises every use position below seq to seq (after batch seq). */
void store__consumers_usage_done(struct store *st, int64_t seq);
void store__consumers_release(struct store *st);

/* ---- tokens and tallies (store_auth.c) ---- */

int store__tokens_load(struct store *st, struct store_conn *c);
void store__tokens_release(struct store *st);
int store__tallies_load(struct store *st, struct store_conn *c);
/* Adds a delivery source's counts in memory (after COMMIT). */
/* The delivery platforms tallied by name, "other" included; past it new
 * platforms count as "other", so /stats/ingest stays small whatever order
 * ids a client invents. */
#define STORE_MAX_DELIVERY_SOURCES 64
#define STORE_OTHER_SOURCE "other"
void store__source_count(struct store *st, const char *source, uint64_t total,
                         uint64_t unmatched);
/* Stats key of a delivery: order_id's prefix before '-', else source. */
void store__source_key(const char *order_id, const char *source, char *out,
                       size_t cap);

/* ---- read pool (store_read.c) ---- */

int store__pool_open(struct store *st);
void store__pool_close(struct store *st);
struct store_conn *store__reader_get(struct store *st);
void store__reader_put(struct store *st, struct store_conn *c);

/* ---- the store ---- */

struct source_stat {
    char name[32];
    uint64_t total, unmatched;
};
struct token_entry {
    struct token_info info;
    char hash[72];
};
struct street_geo {
    double lat_sum, lon_sum;
    int64_t n;
};
struct household_geo {
    int32_t street_id, committee_id, building_id; /* 0: none */
    float lat, lon;
};
/* A registered consumer (store_consumer.c): its callbacks and positions,
 * the last seq its state holds for batches and for use.  Positions are
 * written only by the roll-up thread once the consumers run. */
struct consumer_slot {
    struct store_consumer c;
    char name[48];
    int64_t pos, use_pos;
};
struct rollup;
struct address_index;
struct place_index;

struct store {
    struct store_config cfg;
    char *dir, *db_path, *rollup_path;
    struct store_conn writer; /* writer thread only, after open */

    /* write queue */
    pthread_mutex_t q_lock;
    pthread_cond_t q_wake; /* writer waits for work */
    pthread_cond_t q_idle; /* close waits for an empty queue */
    struct write_req *q_head, *q_tail;
    size_t q_len;
    struct writer_call *c_head, *c_tail;
    int closing, writer_stop, writer_stopped, writer_busy, test_paused;
    int retention_pending, retention_turn;
    int64_t log_trimmed; /* writer thread: no log row <= this is left */
    int log_trim_turn;
    size_t retention_dropped; /* writer thread: this hourly run's count */
    int64_t retention_next_ns;
    /* writer thread only: the writer connection's synchronous level now
     * (1 FULL), and when the WAL must be fsynced (0: nothing unsynced) */
    int writer_sync_full;
    int64_t wal_sync_at_ns;
    pthread_t writer_thread;
    int writer_started;

    /* registry, written by the writer after COMMIT */
    pthread_rwlock_t reg_lock;
    struct strmap households; /* household_id -> dense id */
    struct strmap streets;    /* street name -> street id */
    struct address_index *addr;
    struct household_geo *hh_geo; /* by dense id */
    size_t hh_geo_cap;
    struct street_geo *street_geo; /* by street id */
    size_t street_geo_cap;
    struct place_index *place; /* events' committees (store_place.c) */

    /* tokens */
    pthread_mutex_t tok_lock;
    struct strmap tok_by_hash; /* hash -> index in toks */
    struct token_entry *toks;
    size_t n_toks, cap_toks;
    int64_t tok_version;            /* tokens_version at the last load */
    _Atomic int64_t tok_checked_ns; /* monotonic time of the last check */

    /* delivery sources */
    pthread_mutex_t src_lock;
    struct source_stat *sources;
    size_t n_sources;

    /* consumers: fixed once they start (sub_lock until then) */
    pthread_mutex_t sub_lock;
    struct consumer_slot *consumers;
    size_t n_consumers;
    int consumers_started;

    /* read pool */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct store_conn *readers;
    int *pool_free;
    int n_readers, n_free;
    /* page-cache bytes of each connection, as its own thread last saw them
     * (SQLITE_DBSTATUS_CACHE_USED; connections are NOMUTEX, so no other
     * thread asks them): readers at each give-back, the writer after each
     * transaction, the roll-up's two after each checkpoint */
    _Atomic uint64_t *reader_cache, writer_cache, rollup_cache;

    /* reading marks (store_blocks.c): writer thread only */
    int64_t *marks; /* by household * METRIC_COUNT + metric */
    size_t n_marks;
    int64_t mark_floor; /* the mark of every series not in marks */

    /* compaction by day (store_days.c): writer thread only */
    int64_t hot_min_hour, hot_max_hour; /* INT64_MIN: no hourly rows */
    int64_t newest_day;                 /* INT64_MIN: none compacted */
    int64_t compact_block, compact_next, compact_max_block;
    int compact_failed, compact_turn;
    int64_t compact_close_ns; /* at close: compact until then (0: no) */
    size_t compact_close_n;   /* readings compacted at close */

    struct rollup *rollup;
    int test_skip_checkpoint;
    _Atomic int test_fail_commits;
    int locks_ready;

    /* counters (relaxed) */
    _Atomic uint64_t queue_depth, commits, rows_written, log_seq, rollup_seq;
    _Atomic uint64_t rollup_saved; /* position committed in rollup.db */
    _Atomic int test_pause_rollup; /* test seam: the roll-up idles */
    _Atomic uint64_t meter_resets, meter_replacements, late_readings;
    _Atomic uint64_t spread_resets; /* intervals over max_spread_days */
    _Atomic uint64_t wal_syncs;     /* the writer's deferred WAL fsyncs */
    _Atomic uint64_t n_readings, n_deliveries, n_unmatched, n_events;
};

#endif
