/*
 * scene_store.c - the glue between the scene engine and the store.
 *
 * At start-up (between store_open and store_start_consumers) the engine
 * loads from the checkpointed tables:
 *
 *   what                 query
 *   -------------------  -----------------------------------------------
 *   the registry         household joined with street, committee and
 *                        building names
 *   daily use            usage_daily of the last 30 days
 *   deliveries           delivery rows with a household, last 36 days
 *   as-of time           max(reading.ts_ns)
 *   elderly water        water readings of the last 2 x quiet hours
 *                        (elderly-alone flats only)
 *   complaints           12345 housing_rental events, last 60 days
 *
 * then subscribes to use (store_subscribe_usage) and to accepted batches
 * (store_subscribe): registry records, readings and deliveries feed the
 * engine on the roll-up thread (cheap array updates), and the engine's
 * worker thread re-scores every 250 ms when something changed: the dirty
 * households only (milliseconds), or everything when a day has completed
 * (under a second at 2 million households, see docs/BENCHMARKS.md).  Replay of
 * the log past the checkpoint reaches the engine exactly once (store.h), so
 * nothing is counted twice.
 */
#include "scene/scene_int.h"

#include <sqlite3.h>
#include <string.h>

#include "store/store.h"

static void on_usage(void *ctx, int32_t household, int metric, int64_t day,
                     double use)
{
    scene_engine_add_usage(ctx, household, metric, day, use);
}

static void on_registry(struct scene_engine *eng, struct store *st,
                        const struct ingest_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct household *h = &b->households[i];
        int32_t dense = store_household_resolve(st, h->household_id);
        if (dense >= 0)
            scene_engine_set_household(eng, dense, h);
    }
}

static void on_batch(void *ctx, const struct ingest_batch *b, int64_t seq)
{
    struct scene_engine *eng = ctx;
    (void)seq;
    switch (b->feed) {
    case FEED_REGISTRY:
        on_registry(eng, eng->store, b);
        break;
    case FEED_READINGS:
        for (size_t i = 0; i < b->n; i++)
            scene_engine_add_reading(eng, &b->readings[i]);
        break;
    case FEED_DELIVERIES:
        for (size_t i = 0; i < b->n; i++) {
            const struct delivery *d = &b->deliveries[i];
            if (d->household >= 0 && d->recipient)
                scene_engine_add_delivery(eng, d->household, d->ts_ns,
                                          d->recipient);
        }
        break;
    case FEED_EVENTS:
        for (size_t i = 0; i < b->n; i++)
            scene_engine_add_event(eng, &b->events[i]);
        break;
    default:
        return;
    }
}

static const char *col_text(sqlite3_stmt *q, int col)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    return t ? (const char *)t : "";
}

static int load_registry(struct scene_engine *eng, sqlite3 *db)
{
    static const char sql[] =
        "SELECT h.id, h.household_id, s.name, c.name, b.name, h.area_m2,"
        " h.rooms, h.registered_occupants, h.flags FROM household h"
        " LEFT JOIN street s ON s.id = h.street_id"
        " LEFT JOIN committee c ON c.id = h.committee_id"
        " LEFT JOIN building b ON b.id = h.building_id";
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return CB_ESTORE;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct household h = {.household_id = col_text(q, 1),
                              .street = col_text(q, 2),
                              .committee = col_text(q, 3),
                              .building = col_text(q, 4),
                              .area_m2 = sqlite3_column_double(q, 5),
                              .rooms = sqlite3_column_int(q, 6),
                              .registered_occupants = sqlite3_column_int(q, 7),
                              .flags = sqlite3_column_int(q, 8)};
        scene_engine_set_household(eng, sqlite3_column_int(q, 0), &h);
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : CB_ESTORE;
}

/* Runs sql (one int64 parameter) and hands each row to `row`. */
static int load_rows(struct scene_engine *eng, sqlite3 *db, const char *sql,
                     int64_t param,
                     void (*row)(struct scene_engine *, sqlite3_stmt *))
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return CB_ESTORE;
    sqlite3_bind_int64(q, 1, param);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        row(eng, q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : CB_ESTORE;
}

static void usage_row(struct scene_engine *eng, sqlite3_stmt *q)
{
    scene_engine_add_usage(eng, sqlite3_column_int(q, 0),
                           sqlite3_column_int(q, 1), sqlite3_column_int64(q, 2),
                           sqlite3_column_double(q, 3));
}

static void delivery_row(void *ctx, const struct delivery *d)
{
    if (d->household >= 0)
        scene_engine_add_delivery(ctx, d->household, d->ts_ns, d->recipient);
}

static void reading_row(void *ctx, const struct reading *r)
{
    struct scene_engine *eng = ctx;
    if ((size_t)r->household >= eng->n || eng->elderly_slot[r->household] < 0)
        return;
    scene_engine_add_reading(eng, r);
}

static void complaint_row(struct scene_engine *eng, sqlite3_stmt *q)
{
    struct event ev = {.source = "12345",
                       .type = "housing_rental",
                       .ts_ns = sqlite3_column_int64(q, 0),
                       .lat = sqlite3_column_double(q, 1),
                       .lon = sqlite3_column_double(q, 2)};
    scene_engine_add_event(eng, &ev);
}

static int64_t query_int64(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(q) == SQLITE_ROW &&
        sqlite3_column_type(q, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static int load_state(struct scene_engine *eng, sqlite3 *db)
{
    int err = load_registry(eng, db);
    if (err)
        return err;
    int64_t last_day = query_int64(db, "SELECT max(day) FROM usage_daily");
    int64_t as_of_ns;
    if (store_readings_newest(db, &as_of_ns))
        return CB_ESTORE;
    err = load_rows(eng, db,
                    "SELECT household, metric, day, use FROM usage_daily"
                    " WHERE day >= ?1 ORDER BY day",
                    last_day - SCENE_DAYS + 1, usage_row);
    if (!err && as_of_ns > 0) {
        int64_t from = as_of_ns - (int64_t)SCENE_BLOCKS * SCENE_BLOCK_DAYS *
                                      86400 * 1000000000ll;
        err = store_deliveries_scan(db, from, delivery_row, eng);
    }
    if (!err && as_of_ns > 0)
        err = load_rows(eng, db,
                        "SELECT ts_ns, lat, lon FROM event WHERE ts_ns >= ?1"
                        " AND source = '12345' AND type = 'housing_rental'"
                        " AND lat IS NOT NULL AND lon IS NOT NULL",
                        as_of_ns - 60ll * 86400 * 1000000000ll, complaint_row);
    if (!err && as_of_ns > 0) {
        int64_t from =
            as_of_ns - 2ll * eng->cfg.elderly_quiet_hours * 3600 * 1000000000ll;
        err = store_readings_scan(db, from, METRIC_WATER, reading_row, eng);
    }
    if (as_of_ns > 0)
        scene_engine_set_as_of(eng, as_of_ns / 1000000000);
    return err;
}

int scene_engine_attach(struct scene_engine *eng, struct store *st)
{
    scene_engine_reserve(eng, store_household_count(st) + 1);
    sqlite3 *db = store_read_begin(st);
    int err = load_state(eng, db);
    if (err)
        log_msg(LOG_ERROR, "scene", "loading state failed | sqlite=\"%s\"",
                sqlite3_errmsg(db));
    store_read_end(st, db);
    if (err)
        return err;
    eng->store = st;
    store_subscribe_usage(st, on_usage, eng);
    store_subscribe(st, on_batch, eng);
    scene_engine_rescore(eng, 1);
    err = scene_engine_start_worker(eng, 250);
    if (err)
        return err;
    log_msg(LOG_INFO, "scene", "attached | households=%zu", eng->n);
    return 0;
}
