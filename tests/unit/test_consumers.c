/*
 * test_consumers.c - the ingest log's consumers: a crash between the
 * commits and the roll-up's checkpoint (the test seam store_test_skip_
 * checkpoint: the process's files as a kill -9 leaves them) must leave
 * every consumer as a clean run does; registration rules; the typed
 * snapshot scans and the seqs they report; and a store made by ddf8f34
 * upgrading in place.
 */
#include <math.h>

#include "scene/scene_int.h"
#include "store/store_int.h"
#include "test_store_fixture.h"

#define HOMES 6
#define ELDER 5 /* the 5th household is flagged elderly_alone */
#define DAYS 2

/* ---- the data: batches written in two parts ---- */

static void write_expect(struct store *st, const struct ingest_batch *b,
                         size_t accepted, size_t duplicates)
{
    struct store_write_result res;
    assert_int_equal(store_write(st, b, "test", &res), 0);
    assert_int_equal(res.accepted, accepted);
    assert_int_equal(res.duplicates, duplicates);
}

static void write_registry(struct store *st)
{
    struct ingest_batch b;
    batch_new(&b, FEED_REGISTRY, HOMES);
    for (int i = 0; i < HOMES; i++) {
        struct household *h = &b.households[i];
        char id[16], addr[64];
        snprintf(id, sizeof(id), "H%07d", i + 1);
        snprintf(addr, sizeof(addr), "张杨路123弄4号%d室", 101 + i);
        h->household_id = arena_strndup(&b.arena, id, strlen(id));
        h->address = arena_strndup(&b.arena, addr, strlen(addr));
        h->street = "陆家嘴街道";
        h->committee = "梅园一村居委会";
        h->building = "4";
        h->lat = 31.23;
        h->lon = 121.5;
        h->area_m2 = 60;
        h->rooms = 2;
        h->registered_occupants = i + 1 == ELDER ? 1 : 2;
        h->flags = i + 1 == ELDER ? HOUSEHOLD_ELDERLY_ALONE : 0;
    }
    struct store_write_result res;
    assert_int_equal(store_write(st, &b, "registry", &res), 0);
    ingest_batch_release(&b);
}

static int32_t dense(struct store *st, int i)
{
    char id[16];
    snprintf(id, sizeof(id), "H%07d", i);
    int32_t h = store_household_resolve(st, id);
    assert_true(h >= 0);
    return h;
}

/* Hourly electricity and water index readings of one district day; the
 * elder's water stops at hour 20 of the first day. */
static void write_day(struct store *st, int day)
{
    int64_t t0 = local_midnight(2026, 11, 1);
    for (int metric = 0; metric < 2; metric++) {
        int m = metric ? METRIC_WATER : METRIC_ELECTRICITY;
        struct ingest_batch b;
        batch_new(&b, FEED_READINGS, 24 * HOMES);
        size_t k = 0;
        for (int h = day * 24; h < day * 24 + 24; h++)
            for (int i = 1; i <= HOMES; i++) {
                double v = m == METRIC_ELECTRICITY ? 100 + h * i
                           : i == ELDER ? 5 + 0.04 * (h < 20 ? h : 20)
                                        : 10 + 0.02 * h * i;
                set_reading(&b, k++, dense(st, i), m, READING_INDEX,
                            t0 + h * HOUR_NS, v);
            }
        write_expect(st, &b, 24 * HOMES, 0);
        ingest_batch_release(&b);
    }
}

/* Orders of one batch: (household, recipient, hour) triples. */
static void write_orders(struct store *st, int first_id, const int (*o)[3],
                         size_t n)
{
    int64_t t0 = local_midnight(2026, 11, 1);
    struct ingest_batch b;
    batch_new(&b, FEED_DELIVERIES, n);
    for (size_t i = 0; i < n; i++) {
        char id[16], who[8];
        snprintf(id, sizeof(id), "MT-%d", first_id + (int)i);
        snprintf(who, sizeof(who), "r%d", o[i][1]);
        b.deliveries[i] = (struct delivery){
            .order_id = arena_strndup(&b.arena, id, strlen(id)),
            .recipient = arena_strndup(&b.arena, who, strlen(who)),
            .ts_ns = t0 + o[i][2] * HOUR_NS + 600 * NS,
            .household = dense(st, o[i][0])};
    }
    write_expect(st, &b, n, 0);
    ingest_batch_release(&b);
}

static void write_part(struct store *st, int part)
{
    static const int first[][3] = {{1, 1, 12}, {1, 2, 13}, {2, 7, 14}};
    static const int second[][3] = {
        {1, 1, 30}, {1, 3, 40}, {1, 2, 41}, {2, 8, 42}};
    if (part == 0) {
        write_registry(st);
        write_day(st, 0);
        write_orders(st, 1, first, 3);
    } else {
        write_day(st, 1);
        write_orders(st, 10, second, 4);
        write_registry(st); /* an unchanged upsert: no log entry */
    }
}

/* ---- one run: a store with the scene engine as its consumer ---- */

struct run {
    struct fixture fx;
    struct scene_engine *eng;
};

static void run_attach(struct run *r)
{
    struct scene_config cfg;
    scene_config_defaults(&cfg);
    assert_int_equal(scene_engine_new(&cfg, &r->eng), 0);
    fx_open(&r->fx);
    assert_int_equal(scene_engine_attach(r->eng, r->fx.st), 0);
    fx_start(&r->fx);
}

static void run_new(struct run *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->fx.dir, sizeof(r->fx.dir), "/tmp/cbcons-XXXXXX");
    assert_non_null(mkdtemp(r->fx.dir));
    store_config_defaults(&r->fx.cfg);
    r->fx.cfg.dir = r->fx.dir;
    r->fx.cfg.sync_full = 0;
    r->fx.cfg.read_connections = 2;
    r->fx.cfg.rollup_flush_ms = 3600000; /* checkpoints only when asked */
    run_attach(r);
}

/* Closes the store (crash: without the roll-up's last checkpoint, as a
 * kill -9 leaves the files) and frees the engine. */
static void run_stop(struct run *r, int crash)
{
    if (crash)
        store_test_skip_checkpoint(r->fx.st);
    store_close(r->fx.st);
    r->fx.st = NULL;
    scene_engine_free(r->eng);
    r->eng = NULL;
}

/* Waits until the roll-up has applied (not checkpointed) every batch, so
 * the scene has received them all. */
static void run_wait_applied(struct run *r)
{
    struct store_stats s;
    for (;;) {
        store_get_stats(r->fx.st, &s);
        if (s.rollup_seq >= s.log_seq)
            return;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

/* What every consumer holds: the roll-up's tables, the scene's use,
 * orders, recipients and the elder's quiet-since time. */
struct state {
    double daily[HOMES][2][DAYS], hourly[HOMES][2][DAYS];
    uint16_t use[2][HOMES][SCENE_DAYS];
    uint8_t orders[HOMES][SCENE_BLOCKS];
    uint64_t recip[HOMES][SCENE_BLOCKS];
    struct scene_elderly elder;
    int64_t as_of_s, cur_day, cur_block;
};

static void capture(struct run *r, struct state *s)
{
    struct store *st = r->fx.st;
    struct scene_engine *eng = r->eng;
    int64_t day0 = store__day_of(local_midnight(2026, 11, 1));
    static const int metrics[2] = {METRIC_ELECTRICITY, METRIC_WATER};
    memset(s, 0, sizeof(*s));
    assert_int_equal(store_rollup_flush(st), 0);
    for (int i = 0; i < HOMES; i++)
        for (int m = 0; m < 2; m++)
            for (int d = 0; d < DAYS; d++) {
                int32_t h = dense(st, i + 1);
                s->daily[i][m][d] = usage_day(st, h, metrics[m], day0 + d);
                s->hourly[i][m][d] =
                    usage_hours_of_day(st, h, metrics[m], day0 + d);
            }
    pthread_mutex_lock(&eng->lock);
    for (int i = 0; i < HOMES; i++) {
        size_t h = (size_t)dense(st, i + 1);
        for (int m = 0; m < 2; m++)
            memcpy(s->use[m][i], &eng->use[metrics[m]][h * SCENE_DAYS],
                   sizeof(s->use[m][i]));
        memcpy(s->orders[i], &eng->orders[h * SCENE_BLOCKS],
               sizeof(s->orders[i]));
        memcpy(s->recip[i], &eng->recip[h * SCENE_BLOCKS], sizeof(s->recip[i]));
    }
    int32_t slot = eng->elderly_slot[dense(st, ELDER)];
    assert_true(slot >= 0);
    s->elder = eng->elderly[slot];
    s->as_of_s = eng->as_of_s;
    s->cur_day = eng->cur_day;
    s->cur_block = eng->cur_block;
    pthread_mutex_unlock(&eng->lock);
}

static int orders_of(const struct state *s, int i)
{
    int n = 0;
    for (int b = 0; b < SCENE_BLOCKS; b++)
        n += s->orders[i - 1][b];
    return n;
}

static void assert_same(const struct state *a, const struct state *b)
{
    for (int i = 0; i < HOMES; i++)
        for (int m = 0; m < 2; m++)
            for (int d = 0; d < DAYS; d++) {
                assert_true(fabs(a->daily[i][m][d] - b->daily[i][m][d]) < 1e-9);
                assert_true(fabs(a->hourly[i][m][d] - b->hourly[i][m][d]) <
                            1e-9);
            }
    assert_memory_equal(a->use, b->use, sizeof(a->use));
    for (int i = 1; i <= HOMES; i++)
        assert_int_equal(orders_of(a, i), orders_of(b, i));
    assert_memory_equal(a->orders, b->orders, sizeof(a->orders));
    assert_memory_equal(a->recip, b->recip, sizeof(a->recip));
    assert_int_equal(a->elder.quiet_since, b->elder.quiet_since);
    assert_int_equal(a->elder.last_ts, b->elder.last_ts);
    assert_true(a->elder.quiet_use == b->elder.quiet_use);
    assert_int_equal(a->as_of_s, b->as_of_s);
    assert_int_equal(a->cur_day, b->cur_day);
    assert_int_equal(a->cur_block, b->cur_block);
}

static void run_free(struct run *r)
{
    run_stop(r, 0);
    assert_int_equal(nftw(r->fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Both parts, a stop (crash or clean; checkpoint: one roll-up checkpoint
 * after the first part), a restart and the state. */
static void run_scenario(int crash, int checkpoint, int applied,
                         struct state *OUT)
{
    struct run r;
    run_new(&r);
    write_part(r.fx.st, 0);
    if (checkpoint)
        assert_int_equal(store_rollup_flush(r.fx.st), 0);
    write_part(r.fx.st, 1);
    if (applied)
        run_wait_applied(&r);
    run_stop(&r, crash);
    run_attach(&r);
    capture(&r, OUT);
    run_free(&r);
}

static void test_crash_between_commit_and_checkpoint(void **state)
{
    struct state clean, crashed;
    run_scenario(0, 0, 1, &clean);
    assert_int_equal(orders_of(&clean, 1), 5);
    assert_int_equal(orders_of(&clean, 2), 2);
    assert_true(clean.daily[0][0][0] == 24.0); /* electricity, 1 kWh/h */
    assert_true(clean.elder.quiet_since > 0);
    /* the kill after the scene applied every batch, with no checkpoint
     * since the start, with one after the first part, and wherever the
     * roll-up happens to be */
    for (int k = 0; k < 3; k++) {
        run_scenario(1, k == 1, k < 2, &crashed);
        assert_same(&clean, &crashed);
    }
}

/* ---- registration ---- */

static int loads, stale; /* stale: batches a snapshot already held */
static int64_t load_seq, load_usage_seq;

static int count_load(void *ctx, struct store_snapshot *snap)
{
    loads++;
    load_seq = store_snapshot_log_seq(snap);
    load_usage_seq = store_snapshot_usage_seq(snap);
    return *(int *)ctx;
}

static void count_batch(void *ctx, const struct ingest_batch *b, int64_t seq)
{
    stale += seq <= load_seq; /* roll-up thread: no cmocka asserts here */
    (*(int *)ctx)++;
}

static void count_replayed(void *ctx, const struct ingest_batch *b, int64_t seq)
{
    (*(int *)ctx)++;
}

static void test_register_positions(void **state)
{
    struct fixture *fx = fx_new(3600000);
    write_registry(fx->st);
    write_day(fx->st, 0);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    write_day(fx->st, 1); /* committed, not checkpointed */
    store_test_skip_checkpoint(fx->st);
    store_close(fx->st);
    fx_open(fx);
    int fail = CB_EPARSE, ok = 0, replayed = 0;
    struct store_consumer c = {.name = "failing",
                               .load = count_load,
                               .on_batch = count_batch,
                               .ctx = &fail};
    assert_int_equal(store_consumer_register(fx->st, &c), CB_EPARSE);
    c.ctx = &ok;
    c.name = "counting";
    assert_int_equal(store_consumer_register(fx->st, &c), 0);
    assert_int_equal(loads, 2);
    assert_true(load_seq == 5 && load_usage_seq == 3);
    /* without a snapshot: what the roll-up replays (seqs 4 and 5) too */
    struct store_consumer all = {
        .name = "all", .on_batch = count_replayed, .ctx = &replayed};
    assert_int_equal(store_consumer_register(fx->st, &all), 0);
    fx_start(fx);
    assert_int_equal(store_consumer_register(fx->st, &all), CB_EINVAL);
    write_day(fx->st, 2);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(ok, 2); /* the two batches of day 2 only */
    assert_int_equal(stale, 0);
    assert_int_equal(replayed, 4);
    fx_free(fx);
}

/* ---- typed scans ---- */

struct scan_count {
    int n, elderly;
    double use;
    int64_t last;
    char street[64];
};

static void on_household(void *ctx, int32_t h, const struct household *hh)
{
    struct scan_count *sc = ctx;
    sc->n++;
    sc->elderly += (hh->flags & HOUSEHOLD_ELDERLY_ALONE) != 0;
    snprintf(sc->street, sizeof(sc->street), "%s", hh->street);
}

static void on_hour(void *ctx, int32_t h, int metric, int64_t hour, double use)
{
    struct scan_count *sc = ctx;
    int64_t day = (hour + 8) / 24; /* district day: in day order */
    assert_true(day >= sc->last);
    sc->last = day;
    if (metric == METRIC_ELECTRICITY)
        sc->use += use;
}

static void on_day(void *ctx, int32_t h, int metric, int64_t day, double use)
{
    struct scan_count *sc = ctx;
    if (metric == METRIC_ELECTRICITY)
        sc->use += use;
    sc->n++;
}

static void on_event(void *ctx, const struct event *e)
{
    struct scan_count *sc = ctx;
    assert_string_equal(e->type, "fire");
    assert_true(isnan(e->lon));
    assert_string_equal(e->street, "陆家嘴街道");
    sc->n++;
}

static void write_event(struct store *st)
{
    struct ingest_batch b;
    batch_new(&b, FEED_EVENTS, 1);
    b.events[0] = (struct event){.event_id = "E1",
                                 .source = "119",
                                 .type = "fire",
                                 .street = "陆家嘴街道",
                                 .ts_ns = local_midnight(2026, 11, 1),
                                 .lat = NAN,
                                 .lon = NAN};
    write_expect(st, &b, 1, 0);
    ingest_batch_release(&b);
}

static void test_snapshot_scans(void **state)
{
    struct fixture *fx = fx_new(3600000);
    write_part(fx->st, 0);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    write_event(fx->st);
    struct store_snapshot *snap;
    assert_int_equal(store_snapshot_begin(fx->st, &snap), 0);
    write_day(fx->st, 1); /* after the snapshot: not in it */
    int64_t seq, useq;
    struct scan_count hs = {0}, hours = {0}, days = {0}, ev = {0};
    assert_int_equal(store_scan_households(snap, on_household, &hs, &seq), 0);
    assert_int_equal(hs.n, HOMES);
    assert_int_equal(hs.elderly, 1);
    assert_string_equal(hs.street, "陆家嘴街道");
    assert_true(seq == 5); /* registry, 2 reading batches, orders, event */
    int64_t day0 = store__day_of(local_midnight(2026, 11, 1)), newest_day;
    assert_int_equal(store_scan_newest_day(snap, &newest_day, &useq), 0);
    assert_true(newest_day == day0 && useq == 4);
    assert_int_equal(
        store_scan_usage_hourly(snap, day0, on_hour, &hours, &useq), 0);
    assert_int_equal(store_scan_usage_daily(snap, day0, on_day, &days, &useq),
                     0);
    assert_true(fabs(hours.use - days.use) < 1e-9);
    assert_true(fabs(days.use - 23.0 * HOMES * (HOMES + 1) / 2) < 1e-9);
    assert_int_equal(store_scan_events(snap, 0, on_event, &ev, &seq), 0);
    assert_int_equal(ev.n, 1);
    int64_t newest;
    assert_int_equal(store_scan_newest_reading(snap, &newest, &seq), 0);
    assert_true(newest == local_midnight(2026, 11, 1) + 23 * HOUR_NS);
    store_snapshot_end(snap);
    fx_free(fx);
}

/* ---- a store made by ddf8f34 upgrades in place ---- */

static void load_sql(const char *path, const char *db_path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct sbuf sql;
    sbuf_init(&sql);
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        sbuf_add(&sql, buf, got);
    fclose(f);
    sbuf_addch(&sql, '\0');
    sqlite3 *db;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql.buf, NULL, NULL, &err);
    if (rc)
        fprintf(stderr, "%s: %s\n", path, err);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
    sbuf_release(&sql);
}

/* The old store's hourly rows are compacted into day blocks once newer
 * data arrives, and stay readable and deduplicated. */
static int old_hours(struct store *st)
{
    sqlite3 *db = store_read_begin(st);
    sqlite3_stmt *s;
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM reading_block WHERE"
                           " hour/24 < (SELECT max(hour)/24 FROM"
                           " reading_block) - 1)*1000000 +"
                           " (SELECT count(*) FROM reading_day)",
                           -1, &s, NULL),
        0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    store_read_end(st, db);
    return v;
}

static int readings_of(struct store *st, int32_t h)
{
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(render_readings(st, h, -1, INT64_MIN, INT64_MAX, 0, &sb),
                     0);
    int n = 0;
    for (const char *p = sb.buf; (p = strstr(p, "\"ts_ns\"")); p++)
        n++;
    sbuf_release(&sb);
    return n;
}

static void upgraded_readings_compact(struct store *st, int64_t day0)
{
    int32_t h = store_household_resolve(st, "C0000001");
    int before = readings_of(st, h);
    assert_true(before > 0);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, h, METRIC_WATER, READING_INDEX,
                (day0 + 5) * 86400LL * 1000000000LL, 1);
    write_expect(st, &b, 1, 0);
    int v = 0;
    for (int i = 0; i < 10000 && ((v = old_hours(st)) >= 1000000 || !v); i++)
        usleep(1000);
    assert_true(v > 0 && v < 1000000); /* compacted: day rows, no old hours */
    assert_int_equal(readings_of(st, h), before + 1);
    write_expect(st, &b, 0, 1);
    ingest_batch_release(&b);
}

static void test_ddf8f34_store_upgrades(void **state)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    snprintf(r.fx.dir, sizeof(r.fx.dir), "/tmp/cbcons-XXXXXX");
    assert_non_null(mkdtemp(r.fx.dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/citybrain.db", r.fx.dir);
    load_sql("tests/unit/fixtures/store-ddf8f34-citybrain.sql", path);
    snprintf(path, sizeof(path), "%s/rollup.db", r.fx.dir);
    load_sql("tests/unit/fixtures/store-ddf8f34-rollup.sql", path);
    store_config_defaults(&r.fx.cfg);
    r.fx.cfg.dir = r.fx.dir;
    r.fx.cfg.sync_full = 0;
    r.fx.cfg.read_connections = 2;
    run_attach(&r);
    assert_int_equal(store_rollup_flush(r.fx.st), 0);
    sqlite3 *db = store_read_begin(r.fx.st);
    sqlite3_stmt *s;
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA main.user_version", -1, &s, NULL), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), store__schema_version());
    sqlite3_finalize(s);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA rollup.user_version", -1, &s, NULL), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), store__rollup_schema_version());
    sqlite3_finalize(s);
    store_read_end(r.fx.st, db);
    assert_int_equal(store_household_count(r.fx.st), 5);
    /* the roll-up replayed seqs 6..9: each home's electricity rose 24 kWh
     * a day times its number; the scene holds 5 and 2 orders, not twice */
    int64_t day0 = store__day_of(local_midnight(2025, 11, 1));
    for (int i = 1; i <= 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "C%07d", i);
        int32_t h = store_household_resolve(r.fx.st, id);
        for (int d = 0; d < 2; d++)
            assert_true(
                fabs(usage_day(r.fx.st, h, METRIC_ELECTRICITY, day0 + d) -
                     24.0 * i) < 1e-9);
        int n = 0;
        pthread_mutex_lock(&r.eng->lock);
        for (int b = 0; b < SCENE_BLOCKS; b++)
            n += r.eng->orders[(size_t)h * SCENE_BLOCKS + (size_t)b];
        pthread_mutex_unlock(&r.eng->lock);
        assert_int_equal(n, i == 1 ? 5 : i == 2 ? 2 : 0);
    }
    upgraded_readings_compact(r.fx.st, day0);
    /* a clean stop drops the log the roll-up has checkpointed past; the
     * upgraded store's use stays */
    run_stop(&r, 0);
    run_attach(&r);
    assert_true(query_double(r.fx.st,
                             "SELECT count(*) FROM ingest_log WHERE ?1=?1"
                             " AND ?2=?2 AND ?3=?3",
                             0, 0, 0) == 0);
    for (int i = 1; i <= 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "C%07d", i);
        int32_t h = store_household_resolve(r.fx.st, id);
        assert_true(fabs(usage_day(r.fx.st, h, METRIC_ELECTRICITY, day0) -
                         24.0 * i) < 1e-9);
    }
    run_free(&r);
}

int main(void)
{
    log_set_level(LOG_WARN);
    (void)add_households; /* fixture helpers this file does not need */
    (void)fx_reopen;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_between_commit_and_checkpoint),
        cmocka_unit_test(test_register_positions),
        cmocka_unit_test(test_snapshot_scans),
        cmocka_unit_test(test_ddf8f34_store_upgrades),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
