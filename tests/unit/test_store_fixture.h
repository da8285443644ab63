/*
 * test_store_fixture.h - a store in a fresh temporary directory, and
 * helpers that build batches by hand, for the test_store*.c binaries.
 */
#ifndef CB_TEST_STORE_FIXTURE_H
#define CB_TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "render/render.h"
#include "store/store.h"

#define NS 1000000000LL
#define HOUR_NS (3600 * NS)
#define DAY_NS (86400 * NS)

struct fixture {
    char dir[64];
    struct store_config cfg;
    struct store *st;
};

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

static void fx_open(struct fixture *fx)
{
    assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
    assert_non_null(fx->st);
}

static void fx_start(struct fixture *fx)
{
    assert_int_equal(store_start_consumers(fx->st), 0);
}

/* A fresh directory and an open store with its consumers running. */
static struct fixture *fx_new(int rollup_flush_ms)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/cbstore-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    store_config_defaults(&fx->cfg);
    fx->cfg.dir = fx->dir;
    fx->cfg.sync_full = 0;
    fx->cfg.read_connections = 2;
    fx->cfg.rollup_flush_ms = rollup_flush_ms;
    fx_open(fx);
    fx_start(fx);
    return fx;
}

static void fx_reopen(struct fixture *fx)
{
    store_close(fx->st);
    fx->st = NULL;
    fx_open(fx);
    fx_start(fx);
}

static void fx_free(struct fixture *fx)
{
    store_close(fx->st);
    assert_int_equal(nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(fx);
}

/* ---- batches ---- */

static void batch_new(struct ingest_batch *b, enum feed feed, size_t n)
{
    ingest_batch_init(b, feed);
    b->n = b->cap = n;
    if (feed == FEED_READINGS)
        b->readings = calloc(n ? n : 1, sizeof(struct reading));
    else if (feed == FEED_REGISTRY)
        b->households = calloc(n ? n : 1, sizeof(struct household));
    else if (feed == FEED_DELIVERIES)
        b->deliveries = calloc(n ? n : 1, sizeof(struct delivery));
    else
        b->events = calloc(n ? n : 1, sizeof(struct event));
}

static void set_reading(struct ingest_batch *b, size_t i, int32_t hh,
                        int metric, int field, int64_t ts, double value)
{
    struct reading *r = &b->readings[i];
    r->household = hh;
    r->metric = (uint8_t)metric;
    r->field = (uint8_t)field;
    r->ts_ns = ts;
    r->value = value;
    r->line = (int32_t)i + 1;
}

/* Stores n households "H0000001".. with distinct addresses. */
static void add_households(struct store *st, int n)
{
    struct ingest_batch b;
    batch_new(&b, FEED_REGISTRY, (size_t)n);
    for (int i = 0; i < n; i++) {
        struct household *h = &b.households[i];
        char id[16], addr[64];
        snprintf(id, sizeof(id), "H%07d", i + 1);
        snprintf(addr, sizeof(addr), "张杨路%d弄%d号%d室", 100 + i / 40,
                 1 + (i / 10) % 4, 101 + i % 10);
        h->household_id = arena_strndup(&b.arena, id, strlen(id));
        h->address = arena_strndup(&b.arena, addr, strlen(addr));
        h->street = i % 2 ? "陆家嘴街道" : "洋泾街道";
        h->committee = i % 2 ? "梅园一村居委会" : "东昌居委会";
        h->building = "1";
        h->lat = 31.23 + (i % 2) * 0.01;
        h->lon = 121.50 + (i % 2) * 0.01;
        h->area_m2 = 60;
        h->rooms = 2;
        h->registered_occupants = 2;
    }
    struct store_write_result res;
    assert_int_equal(store_write(st, &b, "registry", &res), 0);
    ingest_batch_release(&b);
}

/* ---- queries ---- */

/* Epoch ns of local (UTC+8) midnight starting the civil day y-m-d. */
static int64_t local_midnight(int y, unsigned m, unsigned d)
{
    return (time_days_from_civil(y, m, d) * 86400 - 8 * 3600) * NS;
}

static double query_double(struct store *st, const char *sql, int64_t a,
                           int64_t b, int64_t c)
{
    sqlite3 *db = store_read_begin(st);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    sqlite3_bind_int64(s, 3, c);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    double v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    store_read_end(st, db);
    return v;
}

/* Daily use of household hh, metric, district day. */
static inline double usage_day(struct store *st, int32_t hh, int metric,
                               int64_t day)
{
    return query_double(st,
                        "SELECT coalesce(sum(use),0) FROM usage_daily_all"
                        " WHERE household=?1 AND metric=?2 AND day=?3",
                        hh, metric, day);
}

/* Hourly use summed over a district day. */
static inline double usage_hours_of_day(struct store *st, int32_t hh,
                                        int metric, int64_t day)
{
    int64_t first_hour = day * 24 - 8;
    return query_double(st,
                        "SELECT coalesce(sum(use),0) FROM usage_hourly"
                        " WHERE household=?1 AND metric=?2 AND hour>=?3"
                        " AND hour<?3+24",
                        hh, metric, first_hour);
}

static inline double meter_field(struct store *st, const char *col, int32_t hh,
                                 int metric)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(max(%s),-1) FROM meter_state WHERE "
             "household=?1 AND metric=?2 AND ?3=?3",
             col);
    return query_double(st, sql, hh, metric, 0);
}

#endif
