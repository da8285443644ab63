/*
 * scene_store.c - the glue between the scene engine and the store.
 *
 * The engine is a consumer of the ingest log (store.h).  At start-up
 * (between store_open and store_start_consumers) it registers, and loads
 * its state from the store's snapshot through typed scans:
 *
 *   what                 scan                        reflects
 *   -------------------  --------------------------  ------------------
 *   the registry         store_scan_households       the log's seq
 *   daily use            store_scan_usage_daily,     the roll-up's
 *                        last 30 days                checkpoint
 *   deliveries           store_scan_deliveries,      the log's seq
 *                        last 36 days (with a household)
 *   as-of time           store_scan_newest_reading   the log's seq
 *   elderly water        store_scan_readings, water  the log's seq
 *                        of the last 2 x quiet hours, or back to the
 *                        saved elderly state (scene_elderly_reload_from_ns)
 *                        (elderly-alone flats only)
 *   complaints           store_scan_events, last     the log's seq
 *                        60 days (12345 housing_rental kept)
 *
 * then receives the use the roll-up derives past its checkpoint and the
 * batches past the log's seq: registry records, readings and deliveries
 * feed the engine on the roll-up thread (cheap array updates), and the
 * engine's worker thread re-scores every 250 ms when something changed:
 * the dirty households only (milliseconds), or everything when a day has
 * completed (under a second at 2 million households, see
 * docs/BENCHMARKS.md).  The store skips what the snapshot held, so a
 * replay after a crash between a commit and the roll-up's checkpoint
 * counts no order twice.
 */
#include "scene/scene_int.h"

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

/* Only batches newer than the loaded snapshot arrive here (the store
 * skips the rest by seq), so counting orders is safe after a replay. */
static void on_batch(void *ctx, const struct ingest_batch *b, int64_t seq)
{
    struct scene_engine *eng = ctx;
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

static void household_row(void *ctx, int32_t household,
                          const struct household *h)
{
    struct household copy = *h;
    copy.household_id = h->household_id ? h->household_id : "";
    copy.street = h->street ? h->street : "";
    copy.committee = h->committee ? h->committee : "";
    copy.building = h->building ? h->building : "";
    scene_engine_set_household(ctx, household, &copy);
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

/* 12345 housing_rental complaints: the engine keeps those it can place. */
static void complaint_row(void *ctx, const struct event *ev)
{
    scene_engine_add_event(ctx, ev);
}

/* The store's load callback: the engine's state from one snapshot. */
static int load_state(void *ctx, struct store_snapshot *snap)
{
    struct scene_engine *eng = ctx;
    int64_t last_day, as_of_ns;
    int err = store_scan_households(snap, household_row, eng, NULL);
    if (!err)
        err = store_scan_newest_day(snap, &last_day, NULL);
    if (!err)
        err = store_scan_newest_reading(snap, &as_of_ns, NULL);
    if (!err)
        err = store_scan_usage_daily(snap, last_day - SCENE_DAYS + 1, on_usage,
                                     eng, NULL);
    if (!err && as_of_ns > 0) {
        int64_t from = as_of_ns - (int64_t)SCENE_BLOCKS * SCENE_BLOCK_DAYS *
                                      86400 * 1000000000ll;
        err = store_scan_deliveries(snap, from, delivery_row, eng, NULL);
    }
    if (!err && as_of_ns > 0)
        err = store_scan_events(snap, as_of_ns - 60ll * 86400 * 1000000000ll,
                                complaint_row, eng, NULL);
    if (!err && as_of_ns > 0) {
        int64_t from = scene_elderly_reload_from_ns(eng, as_of_ns);
        err = store_scan_readings(snap, from, METRIC_WATER, reading_row, eng,
                                  NULL);
    }
    if (!err && as_of_ns > 0)
        scene_engine_set_as_of(eng, as_of_ns / 1000000000);
    log_msg(err ? LOG_ERROR : LOG_INFO, "scene",
            "%s | log_seq=%lld usage_seq=%lld",
            err ? "loading state failed" : "state loaded",
            (long long)store_snapshot_log_seq(snap),
            (long long)store_snapshot_usage_seq(snap));
    return err;
}

int scene_engine_attach(struct scene_engine *eng, struct store *st)
{
    struct store_consumer c = {.name = "scenes",
                               .load = load_state,
                               .on_batch = on_batch,
                               .on_usage = on_usage,
                               .ctx = eng};
    scene_engine_reserve(eng, store_household_count(st) + 1);
    eng->store = st;
    int err = store_consumer_register(st, &c);
    if (err) {
        eng->store = NULL;
        return err;
    }
    scene_engine_rescore(eng, 1);
    err = scene_engine_start_worker(eng, 250);
    if (err)
        return err;
    log_msg(LOG_INFO, "scene", "attached | households=%zu", eng->n);
    return 0;
}
