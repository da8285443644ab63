/*
 * store_snapshot.c - snapshots: one read transaction over citybrain.db and
 * the attached rollup.db, and the typed scans that consumers load their
 * state with.  The SQL stays here: a consumer sees records, never a
 * connection.
 *
 * store_snapshot_begin opens a deferred transaction on a pool connection
 * and reads both files' positions in one statement: the ingest log's
 * newest seq (sqlite_sequence; AUTOINCREMENT, so retention does not lower
 * it) and the roll-up's checkpoint (consumer "rollup").  SQLite starts the
 * read transaction of every file a statement touches when the statement
 * starts, so both positions and every later scan see the same state: in
 * WAL mode a reader keeps its view while the writers go on.
 */
#include <math.h>
#include <string.h>

#include "store/store_codec.h"
#include "store/store_int.h"

struct store_snapshot {
    struct store *st;
    struct store_conn *conn;
    int64_t log_seq, usage_seq;
};

static int read_positions(struct store_snapshot *snap)
{
    sqlite3 *db = snap->conn->db;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT seq FROM main.sqlite_sequence"
                           " WHERE name='ingest_log'),"
                           " (SELECT seq FROM rollup.consumer WHERE name=?1)",
                           -1, &s, NULL))
        return store__sqlerr(db, "snapshot positions");
    sqlite3_bind_text(s, 1, STORE_ROLLUP_CONSUMER, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        snap->log_seq = sqlite3_column_int64(s, 0);
        snap->usage_seq = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store__sqlerr(db, "snapshot positions");
}

int store_snapshot_begin(struct store *st, struct store_snapshot **OUT_snap)
{
    struct store_snapshot *snap = xcalloc(1, sizeof(*snap));
    snap->st = st;
    snap->conn = store__reader_get(st);
    *OUT_snap = NULL;
    if (sqlite3_exec(snap->conn->db, "BEGIN", NULL, NULL, NULL)) {
        int rc = store__sqlerr(snap->conn->db, "snapshot begin");
        store__reader_put(st, snap->conn);
        free(snap);
        return rc;
    }
    if (read_positions(snap)) {
        store_snapshot_end(snap);
        return CB_ESTORE;
    }
    *OUT_snap = snap;
    return 0;
}

void store_snapshot_end(struct store_snapshot *snap)
{
    if (!snap)
        return;
    if (sqlite3_exec(snap->conn->db, "COMMIT", NULL, NULL, NULL))
        store__sqlerr(snap->conn->db, "snapshot end");
    store__reader_put(snap->st, snap->conn);
    free(snap);
}

int64_t store_snapshot_log_seq(const struct store_snapshot *snap)
{
    return snap->log_seq;
}

int64_t store_snapshot_usage_seq(const struct store_snapshot *snap)
{
    return snap->usage_seq;
}

static void put_seq(int64_t *OUT_seq, int64_t seq)
{
    if (OUT_seq)
        *OUT_seq = seq;
}

/* Runs sql (?1, if it has one: param) and hands each row to row(ctx,
 * statement). */
static int scan_rows(struct store_snapshot *snap, const char *sql,
                     int64_t param, void (*row)(void *, sqlite3_stmt *),
                     void *ctx, const char *op)
{
    sqlite3 *db = snap->conn->db;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL))
        return store__sqlerr(db, op);
    if (sqlite3_bind_parameter_count(q) >= 1)
        sqlite3_bind_int64(q, 1, param);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        row(ctx, q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : store__sqlerr(db, op);
}

static const char *col_text(sqlite3_stmt *q, int col)
{
    return (const char *)sqlite3_column_text(q, col);
}

/* NULL (absent) is NAN, as the parsers give it. */
static double col_double(sqlite3_stmt *q, int col)
{
    return sqlite3_column_type(q, col) == SQLITE_NULL
               ? NAN
               : sqlite3_column_double(q, col);
}

/* ---- registry ---- */

struct household_scan {
    store_household_fn fn;
    void *ctx;
};

static void household_row(void *ctx, sqlite3_stmt *q)
{
    struct household_scan *hs = ctx;
    struct household h = {.household_id = col_text(q, 1),
                          .street = col_text(q, 2),
                          .committee = col_text(q, 3),
                          .building = col_text(q, 4),
                          .address = col_text(q, 5),
                          .lat = col_double(q, 6),
                          .lon = col_double(q, 7),
                          .area_m2 = sqlite3_column_double(q, 8),
                          .rooms = sqlite3_column_int(q, 9),
                          .registered_occupants = sqlite3_column_int(q, 10),
                          .flags = sqlite3_column_int(q, 11)};
    hs->fn(hs->ctx, sqlite3_column_int(q, 0), &h);
}

int store_scan_households(struct store_snapshot *snap, store_household_fn fn,
                          void *ctx, int64_t *OUT_seq)
{
    static const char sql[] =
        "SELECT h.id, h.household_id, s.name, c.name, b.name, h.address,"
        " h.lat, h.lon, h.area_m2, h.rooms, h.registered_occupants, h.flags"
        " FROM household h"
        " LEFT JOIN street s ON s.id = h.street_id"
        " LEFT JOIN committee c ON c.id = h.committee_id"
        " LEFT JOIN building b ON b.id = h.building_id ORDER BY h.id";
    struct household_scan hs = {fn, ctx};
    put_seq(OUT_seq, snap->log_seq);
    return scan_rows(snap, sql, 0, household_row, &hs, "scan households");
}

/* ---- readings ---- */

int store_scan_newest_reading(struct store_snapshot *snap, int64_t *OUT_ts_ns,
                              int64_t *OUT_seq)
{
    put_seq(OUT_seq, snap->log_seq);
    return store__readings_newest(snap->conn->db, OUT_ts_ns);
}

int store_scan_readings(struct store_snapshot *snap, int64_t from_ns,
                        int metric, store_reading_fn fn, void *ctx,
                        int64_t *OUT_seq)
{
    put_seq(OUT_seq, snap->log_seq);
    return store__readings_scan(snap->conn->db, from_ns, metric, fn, ctx);
}

/* ---- use ---- */

static void int64_row(void *ctx, sqlite3_stmt *q)
{
    if (sqlite3_column_type(q, 0) != SQLITE_NULL)
        *(int64_t *)ctx = sqlite3_column_int64(q, 0);
}

int store_scan_newest_day(struct store_snapshot *snap, int64_t *OUT_day,
                          int64_t *OUT_seq)
{
    *OUT_day = -1;
    put_seq(OUT_seq, snap->usage_seq);
    /* the rows hold the newest days; blocks only when there are no rows
     * (coalesce stops at its first value that is not NULL) */
    return scan_rows(snap,
                     "SELECT coalesce((SELECT max(day) FROM usage_daily),"
                     " (SELECT max(b.block * 32 + s.i) FROM usage_daily_block"
                     " AS b, (WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL"
                     " SELECT i + 1 FROM r WHERE i < 31) SELECT i FROM r) AS s"
                     " WHERE b.block = (SELECT max(block) FROM"
                     " usage_daily_block) AND cb_day_n(b.data, s.i) IS NOT"
                     " NULL))",
                     0, int64_row, OUT_day, "newest day");
}

struct usage_scan {
    store_usage_fn daily;
    store_hourly_fn hourly;
    void *ctx;
};

static void daily_row(void *ctx, sqlite3_stmt *q)
{
    struct usage_scan *us = ctx;
    us->daily(us->ctx, sqlite3_column_int(q, 0), sqlite3_column_int(q, 1),
              sqlite3_column_int64(q, 2), sqlite3_column_double(q, 3));
}

/* A block of daily use (block, household, metric, data): decoded once,
 * its days >= from_day handed on in order.  A corrupt block is skipped
 * (logged), as the SQL functions skip it. */
struct block_scan {
    store_usage_fn fn;
    void *ctx;
    int64_t from_day;
};

static void daily_block_row(void *ctx, sqlite3_stmt *q)
{
    struct block_scan *bs = ctx;
    struct codec_days d;
    int64_t first = sqlite3_column_int64(q, 0) * STORE_DAILY_BLOCK_DAYS;
    int32_t household = sqlite3_column_int(q, 1);
    int metric = sqlite3_column_int(q, 2);
    if (codec_days_decode(sqlite3_column_blob(q, 3),
                          (size_t)sqlite3_column_bytes(q, 3), &d, NULL)) {
        log_msg(LOG_ERROR, "store",
                "corrupt block of daily use skipped | household=%d"
                " metric=%d first_day=%lld",
                household, metric, (long long)first);
        return;
    }
    for (int i = 0; i < STORE_DAILY_BLOCK_DAYS; i++)
        if (d.mask >> i & 1 && first + i >= bs->from_day)
            bs->fn(bs->ctx, household, metric, first + i, d.use[i]);
}

/* Both tiers: the blocks, each decoded once (the scenes' start reads 30
 * days of every meter: a day at a time, that decoded each block up to 30
 * times), then the rows in day order. */
int store_scan_usage_daily(struct store_snapshot *snap, int64_t from_day,
                           store_usage_fn fn, void *ctx, int64_t *OUT_seq)
{
    struct usage_scan us = {.daily = fn, .ctx = ctx};
    struct block_scan bs = {fn, ctx, from_day};
    put_seq(OUT_seq, snap->usage_seq);
    int rc = scan_rows(snap,
                       "SELECT block, household, metric, data FROM"
                       " usage_daily_block WHERE block >= ?1"
                       " ORDER BY block, household, metric",
                       store__daily_block_of(from_day), daily_block_row, &bs,
                       "scan daily blocks");
    if (rc)
        return rc;
    return scan_rows(snap,
                     "SELECT household, metric, day, use FROM usage_daily"
                     " WHERE day >= ?1 ORDER BY day",
                     from_day, daily_row, &us, "scan daily use");
}

/* A usage_hour_data row: hour i of district day d is epoch hour
 * d * 24 - 8 + i (UTC+8).  A corrupt value is skipped (logged). */
static void hours_row(void *ctx, sqlite3_stmt *q)
{
    struct usage_scan *us = ctx;
    int64_t day = sqlite3_column_int64(q, 2);
    int64_t tz_hours = STORE_TZ_OFFSET_NS / STORE_HOUR_NS;
    struct codec_hours h;
    if (codec_hours_decode(sqlite3_column_blob(q, 3),
                           (size_t)sqlite3_column_bytes(q, 3), &h, NULL)) {
        log_msg(LOG_ERROR, "store",
                "corrupt hourly use skipped | household=%d metric=%d"
                " day=%lld",
                sqlite3_column_int(q, 0), sqlite3_column_int(q, 1),
                (long long)day);
        return;
    }
    for (int i = 0; i < CODEC_HOURS; i++)
        if (h.mask >> i & 1)
            us->hourly(us->ctx, sqlite3_column_int(q, 0),
                       sqlite3_column_int(q, 1), day * 24 - tz_hours + i,
                       h.use[i]);
}

int store_scan_usage_hourly(struct store_snapshot *snap, int64_t from_day,
                            store_hourly_fn fn, void *ctx, int64_t *OUT_seq)
{
    struct usage_scan us = {.hourly = fn, .ctx = ctx};
    put_seq(OUT_seq, snap->usage_seq);
    return scan_rows(snap,
                     "SELECT household, metric, day, data FROM"
                     " usage_hour_data WHERE day >= ?1 ORDER BY day",
                     from_day, hours_row, &us, "scan hourly use");
}

/* ---- deliveries and events ---- */

int store_scan_deliveries(struct store_snapshot *snap, int64_t from_ns,
                          store_delivery_fn fn, void *ctx, int64_t *OUT_seq)
{
    put_seq(OUT_seq, snap->log_seq);
    return store__deliveries_scan(snap->conn->db, from_ns, fn, ctx);
}

struct event_scan {
    store_event_fn fn;
    void *ctx;
};

static void event_row(void *ctx, sqlite3_stmt *q)
{
    struct event_scan *es = ctx;
    struct event e = {.source = col_text(q, 0),
                      .event_id = col_text(q, 1),
                      .type = col_text(q, 2),
                      .ts_ns = sqlite3_column_int64(q, 3),
                      .lat = col_double(q, 4),
                      .lon = col_double(q, 5),
                      .street = col_text(q, 6),
                      .attrs_json = col_text(q, 7)};
    es->fn(es->ctx, &e);
}

int store_scan_events(struct store_snapshot *snap, int64_t from_ns,
                      store_event_fn fn, void *ctx, int64_t *OUT_seq)
{
    struct event_scan es = {fn, ctx};
    put_seq(OUT_seq, snap->log_seq);
    return scan_rows(snap,
                     "SELECT e.source, e.event_id, e.type, e.ts_ns, e.lat,"
                     " e.lon, coalesce(s.name, e.street), e.attrs"
                     " FROM event e LEFT JOIN street s ON s.id = e.street_id"
                     " WHERE e.ts_ns >= ?1 ORDER BY e.ts_ns",
                     from_ns, event_row, &es, "scan events");
}
