/*
 * store_read.c - the pool of read-only connections and the typed reads
 * behind the API (rows through callbacks; render/render.h makes the JSON).
 *
 * A borrower takes a connection off the free stack (waiting when all are
 * out), uses it alone and gives it back.  Each connection keeps its own
 * statement cache, so the reads below prepare nothing per request.
 * In WAL mode readers never block the writer, nor it them.
 *
 * Raw readings are keyed by time first (the write path needs it), so
 * store_readings_read scans the time range and filters by household: keep
 * its windows short (days).  Daily use comes from usage_daily, keyed by day
 * first, read by one point lookup a day; hourly use from usage_hour_data
 * the same way (one row per meter and day, the day's hours in it).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store/store_codec.h"
#include "store/store_int.h"

uint64_t store__conn_cache_bytes(struct store_conn *conn)
{
    int cur = 0, high = 0;
    if (!conn->db || sqlite3_db_status(conn->db, SQLITE_DBSTATUS_CACHE_USED,
                                       &cur, &high, 0) != SQLITE_OK)
        return 0;
    return cur > 0 ? (uint64_t)cur : 0;
}

int store__pool_open(struct store *st)
{
    int n = st->cfg.read_connections;
    st->readers = xcalloc((size_t)n, sizeof(*st->readers));
    st->reader_cache = xcalloc((size_t)n, sizeof(*st->reader_cache));
    st->pool_free = xcalloc((size_t)n, sizeof(*st->pool_free));
    for (int i = 0; i < n; i++) {
        if (store__conn_open(&st->readers[i], st->db_path, 1, &st->cfg))
            return CB_ESTORE;
        if (store__attach_rollup(st->readers[i].db, st->rollup_path, 1)) {
            store__conn_close(&st->readers[i]);
            return CB_ESTORE;
        }
        st->n_readers = i + 1;
        st->pool_free[st->n_free++] = i;
    }
    return 0;
}

void store__pool_close(struct store *st)
{
    for (int i = 0; i < st->n_readers; i++)
        store__conn_close(&st->readers[i]);
    free(st->readers);
    free(st->pool_free);
    free((void *)st->reader_cache);
    st->reader_cache = NULL;
    st->readers = NULL;
    st->pool_free = NULL;
    st->n_readers = st->n_free = 0;
}

struct store_conn *store__reader_get(struct store *st)
{
    pthread_mutex_lock(&st->pool_lock);
    while (!st->n_free)
        pthread_cond_wait(&st->pool_cond, &st->pool_lock);
    struct store_conn *c = &st->readers[st->pool_free[--st->n_free]];
    pthread_mutex_unlock(&st->pool_lock);
    return c;
}

void store__reader_put(struct store *st, struct store_conn *c)
{
    atomic_store_explicit(&st->reader_cache[c - st->readers],
                          store__conn_cache_bytes(c), memory_order_relaxed);
    pthread_mutex_lock(&st->pool_lock);
    st->pool_free[st->n_free++] = (int)(c - st->readers);
    pthread_cond_signal(&st->pool_cond);
    pthread_mutex_unlock(&st->pool_lock);
}

/* A pooled reader inside one read transaction: a read that spans tiers
 * (the open hour blocks and the compacted days, daily rows and their
 * month blocks) then sees one snapshot, so a compaction that commits
 * between its statements cannot hide the rows it moved.  Without BEGIN
 * each statement would be a transaction of its own. */
static struct store_conn *snapshot_get(struct store *st)
{
    struct store_conn *c = store__reader_get(st);
    if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL))
        log_msg(LOG_WARN, "store", "read transaction not begun | err=%s",
                sqlite3_errmsg(c->db));
    return c;
}

static void snapshot_put(struct store *st, struct store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db) &&
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    store__reader_put(st, c);
}

void *store_read_begin(struct store *st)
{
    return store__reader_get(st)->db;
}

void store_read_end(struct store *st, void *db)
{
    for (int i = 0; i < st->n_readers; i++)
        if (st->readers[i].db == db) {
            store__reader_put(st, &st->readers[i]);
            return;
        }
}

static const char *col_text(sqlite3_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(s, col);
}

/* ---- readings ---- */

int store_readings_read(struct store *st, int32_t household, int metric,
                        int64_t from_ns, int64_t to_ns, int limit,
                        void (*fn)(void *ctx, const struct reading *r),
                        void *ctx)
{
    struct store_conn *c = snapshot_get(st);
    int rc = store__blocks_read(c, household, metric, from_ns, to_ns,
                                (size_t)(limit > 0 ? limit : 1000), fn, ctx);
    snapshot_put(st, c);
    return rc;
}

/* ---- daily use ---- */

/* The days usage_daily holds, intersected with [from, to): the table is
 * keyed by day first, so one household's days are read by point lookups,
 * one a day, rather than by scanning every household's rows. */
static int usage_day_span(struct store_conn *c, int64_t *from, int64_t *to)
{
    sqlite3_stmt *s = store__stmt(c, STMT_USAGE_DAYS);
    if (!s || sqlite3_step(s) != SQLITE_ROW) {
        if (s)
            sqlite3_reset(s);
        return store__sqlerr(c->db, "usage days");
    }
    int empty = sqlite3_column_type(s, 0) == SQLITE_NULL;
    int64_t lo = sqlite3_column_int64(s, 0), hi = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    if (empty)
        hi = lo - 1;
    if (*from < lo)
        *from = lo;
    if (*to > hi + 1)
        *to = hi + 1;
    return 0;
}

/* Calls fn with one day if the household has use that day. */
static int usage_one_day(struct store_conn *c, sqlite3_stmt *s,
                         int32_t household, int64_t day, store_usage_day_fn fn,
                         void *ctx)
{
    struct store_usage_day d = {.day = day};
    int step;
    sqlite3_bind_int(s, 1, household);
    sqlite3_bind_int64(s, 2, day);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int m = sqlite3_column_int(s, 0);
        if (m < 0 || m >= METRIC_COUNT)
            continue;
        d.has |= 1u << m;
        d.use[m] = sqlite3_column_double(s, 1);
    }
    sqlite3_reset(s);
    if (step != SQLITE_DONE)
        return store__sqlerr(c->db, "read usage");
    if (d.has)
        fn(ctx, &d);
    return 0;
}

int store_usage_daily_read(struct store *st, int32_t household,
                           int64_t from_day, int64_t to_day,
                           store_usage_day_fn fn, void *ctx)
{
    struct store_conn *c = snapshot_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_USAGE_DAILY);
    int rc = s ? usage_day_span(c, &from_day, &to_day) : CB_ESTORE;
    for (int64_t day = from_day; !rc && day < to_day; day++)
        rc = usage_one_day(c, s, household, day, fn, ctx);
    snapshot_put(st, c);
    return rc;
}

/* ---- hourly use ---- */

/* usage_hour_data is keyed (day, household, metric), like usage_daily: a
 * household's days are read by point lookups, one a district day, within
 * the days the table holds.  The statements are prepared per read (two,
 * some tens of microseconds) rather than kept in the connections' cache. */
static const char hours_span_sql[] =
    "SELECT (SELECT min(day) FROM usage_hour_data),"
    " (SELECT max(day) FROM usage_hour_data)";
static const char hours_day_sql[] =
    "SELECT metric, data FROM usage_hour_data WHERE day = ?1 AND"
    " household = ?2";

/* Narrows [*from, *to) to the days usage_hour_data holds. */
static int hours_span(sqlite3 *db, int64_t *from, int64_t *to)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, hours_span_sql, -1, &s, NULL))
        return store__sqlerr(db, "hourly use days");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        int64_t lo = sqlite3_column_int64(s, 0);
        int64_t hi = sqlite3_column_int64(s, 1);
        if (*from < lo)
            *from = lo;
        if (*to > hi + 1)
            *to = hi + 1;
    } else if (rc == SQLITE_ROW) {
        *to = *from; /* no hourly use at all */
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store__sqlerr(db, "hourly use days");
}

/* Decodes the household's rows of one day into hours[24] (has, use). */
static int hours_day(sqlite3 *db, sqlite3_stmt *q, int32_t household,
                     int64_t day, struct store_usage_hour *hours)
{
    int step;
    sqlite3_bind_int64(q, 1, day);
    sqlite3_bind_int(q, 2, household);
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        int m = sqlite3_column_int(q, 0);
        struct codec_hours h;
        if (m < 0 || m >= METRIC_COUNT)
            continue;
        if (codec_hours_decode(sqlite3_column_blob(q, 1),
                               (size_t)sqlite3_column_bytes(q, 1), &h, NULL)) {
            log_msg(LOG_ERROR, "store",
                    "corrupt hourly use skipped | household=%d metric=%d"
                    " day=%lld",
                    household, m, (long long)day);
            continue;
        }
        for (int i = 0; i < CODEC_HOURS; i++)
            if (h.mask >> i & 1) {
                hours[i].has |= 1u << m;
                hours[i].use[m] = h.use[i];
            }
    }
    sqlite3_reset(q);
    return step == SQLITE_DONE ? 0 : store__sqlerr(db, "read hourly use");
}

int store_usage_hourly_read(struct store *st, int32_t household,
                            int64_t from_day, int64_t to_day,
                            store_usage_hour_fn fn, void *ctx)
{
    struct store_conn *c = snapshot_get(st);
    sqlite3_stmt *q = NULL;
    int64_t tz_hours = STORE_TZ_OFFSET_NS / STORE_HOUR_NS;
    int rc = hours_span(c->db, &from_day, &to_day);
    if (!rc && from_day < to_day &&
        sqlite3_prepare_v2(c->db, hours_day_sql, -1, &q, NULL))
        rc = store__sqlerr(c->db, "read hourly use");
    for (int64_t day = from_day; !rc && day < to_day; day++) {
        struct store_usage_hour hours[CODEC_HOURS] = {{0}};
        rc = hours_day(c->db, q, household, day, hours);
        for (int i = 0; !rc && i < CODEC_HOURS; i++) {
            hours[i].hour = day * 24 - tz_hours + i;
            if (hours[i].has)
                fn(ctx, &hours[i]);
        }
    }
    sqlite3_finalize(q);
    snapshot_put(st, c);
    return rc;
}

/* ---- events ---- */

static void event_row(sqlite3_stmt *s, struct store_event_row *e)
{
    e->source = col_text(s, 0);
    e->event_id = col_text(s, 1);
    e->type = col_text(s, 2);
    e->ts_ns = sqlite3_column_int64(s, 3);
    e->lat = sqlite3_column_double(s, 4);
    e->lon = sqlite3_column_double(s, 5);
    e->street = col_text(s, 6);
    e->placed = sqlite3_column_int(s, 7);
    e->attrs = col_text(s, 8);
}

int store_events_read(struct store *st, const char *source, int64_t from_ns,
                      int64_t to_ns, int limit, store_event_row_fn fn,
                      void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_EVENTS);
    int rc = CB_ESTORE, step;
    if (!s)
        goto out_put;
    sqlite3_bind_int64(s, 1, from_ns);
    sqlite3_bind_int64(s, 2, to_ns);
    if (source)
        sqlite3_bind_text(s, 3, source, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, limit);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_event_row e;
        event_row(s, &e);
        fn(ctx, &e);
    }
    sqlite3_clear_bindings(s);
    sqlite3_reset(s);
    rc = step == SQLITE_DONE ? 0 : store__sqlerr(c->db, "read events");
out_put:
    store__reader_put(st, c);
    return rc;
}

/* ---- one household ---- */

int store_household_committee(struct store *st, int32_t household, char *out,
                              size_t cap)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_HOUSEHOLD_COMMITTEE);
    int rc = CB_ESTORE, step;
    if (!s)
        goto out_put;
    sqlite3_bind_int(s, 1, household);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        /* never a truncated name: a prefix would match another's */
        rc = (size_t)snprintf(out, cap, "%s", name ? name : "") < cap
                 ? 0
                 : CB_ETOOBIG;
    } else {
        rc = step == SQLITE_DONE ? CB_ENOTFOUND
                                 : store__sqlerr(c->db, "household committee");
    }
    sqlite3_reset(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

static void household_fields(sqlite3_stmt *s, int32_t id,
                             struct store_household_row *h)
{
    h->id = id;
    h->household_id = col_text(s, 0);
    h->street = col_text(s, 1);
    h->committee = col_text(s, 2);
    h->building = col_text(s, 3);
    h->address = col_text(s, 4);
    h->lat = sqlite3_column_double(s, 5);
    h->lon = sqlite3_column_double(s, 6);
    h->area_m2 = sqlite3_column_double(s, 7);
    h->rooms = sqlite3_column_int(s, 8);
    h->registered_occupants = sqlite3_column_int(s, 9);
    h->flags = sqlite3_column_int(s, 10);
    h->updated_ns = sqlite3_column_int64(s, 11);
}

static int household_meters(struct store_conn *c, struct store_household_row *h)
{
    sqlite3_stmt *s = store__stmt(c, STMT_METERS_OF);
    int step;
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int(s, 1, h->id);
    while ((step = sqlite3_step(s)) == SQLITE_ROW &&
           h->n_meters < METRIC_COUNT) {
        struct store_meter_row *m = &h->meters[h->n_meters++];
        m->metric = sqlite3_column_int(s, 0);
        m->first_ns = sqlite3_column_int64(s, 1);
        m->last_ns = sqlite3_column_int64(s, 2);
        m->has_index = (sqlite3_column_int(s, 4) & 2 /* METER_INDEX */) != 0;
        m->last_index = sqlite3_column_double(s, 3);
        m->resets = sqlite3_column_int64(s, 5);
        m->replacements = sqlite3_column_int64(s, 6);
        m->late = sqlite3_column_int64(s, 7);
    }
    sqlite3_reset(s);
    return step == SQLITE_DONE || step == SQLITE_ROW
               ? 0
               : store__sqlerr(c->db, "read meters");
}

int store_household_read(struct store *st, int32_t household,
                         store_household_row_fn fn, void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_HOUSEHOLD_GET);
    struct store_household_row h = {0};
    int rc = CB_ESTORE;
    if (!s)
        goto out_put;
    sqlite3_bind_int(s, 1, household);
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE ? CB_ENOTFOUND
                                 : store__sqlerr(c->db, "read household");
        goto out_reset;
    }
    household_fields(s, household, &h);
    rc = household_meters(c, &h);
    if (!rc)
        fn(ctx, &h); /* the household's text lives until the reset */
out_reset:
    sqlite3_reset(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

/* ---- counts ---- */

void store_feed_counts(struct store *st, struct store_feed_counts *OUT_counts)
{
    OUT_counts->households = store_household_count(st);
    OUT_counts->readings = atomic_load(&st->n_readings);
    OUT_counts->deliveries = atomic_load(&st->n_deliveries);
    OUT_counts->deliveries_unmatched = atomic_load(&st->n_unmatched);
    OUT_counts->events = atomic_load(&st->n_events);
}

void store_delivery_sources(struct store *st,
                            void (*fn)(void *ctx, const char *source,
                                       uint64_t total, uint64_t unmatched),
                            void *ctx)
{
    pthread_mutex_lock(&st->src_lock);
    for (size_t i = 0; i < st->n_sources; i++)
        fn(ctx, st->sources[i].name, st->sources[i].total,
           st->sources[i].unmatched);
    pthread_mutex_unlock(&st->src_lock);
}
