/* test_store.c - the store's write path, registry, auth tables and
 * retention, each test on a fresh store in a temporary directory. */
#include <math.h>
#include <pthread.h>

#include "test_store_fixture.h"

#include <unistd.h>

#include "auth/auth.h"
#include "store/store_codec.h"
#include "store/store_int.h"

static int table_count(struct store *st, const char *schema, const char *name)
{
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM %s.sqlite_master WHERE type='table'"
             " AND name=?1",
             schema);
    sqlite3 *db = store_read_begin(st);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    store_read_end(st, db);
    return n;
}

static void test_migrations_from_empty(void **state)
{
    struct fixture *fx = fx_new(50);
    static const char *const tables[] = {
        "street",        "committee",   "building",       "household",
        "reading_block", "reading_day", "delivery_order", "delivery_block",
        "event",         "ingest_log",  "department",     "token",
        "audit",         "kv",          "tally",          "delivery_source",
        "case_file",     "case_step",   "delivery_key",   "reading_period"};
    /* rollup.db: written by the roll-up thread alone */
    static const char *const rollup_tables[] = {
        "consumer", "meter_state", "usage_daily", "usage_hour_data",
        "usage_daily_block"};
    for (int pass = 0; pass < 2; pass++) {
        double version =
            query_double(fx->st,
                         "SELECT user_version FROM pragma_user_version"
                         " WHERE ?1=?1 AND ?2=?2 AND ?3=?3",
                         0, 0, 0);
        assert_int_equal((int)version, store__schema_version());
        version = query_double(fx->st, "PRAGMA rollup.user_version", 0, 0, 0);
        assert_int_equal((int)version, store__rollup_schema_version());
        assert_int_equal((int)version, 5);
        for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
            assert_int_equal(table_count(fx->st, "main", tables[i]), 1);
            assert_int_equal(table_count(fx->st, "rollup", tables[i]), 0);
        }
        for (size_t i = 0; i < 5; i++) {
            assert_int_equal(table_count(fx->st, "main", rollup_tables[i]), 0);
            assert_int_equal(table_count(fx->st, "rollup", rollup_tables[i]),
                             1);
        }
        /* usage_hourly is a view since rollup.db version 2, usage_hours one
         * of usage_hour_data since version 4 */
        assert_int_equal(table_count(fx->st, "rollup", "usage_hourly"), 0);
        assert_int_equal(table_count(fx->st, "rollup", "usage_hours"), 0);
        assert_int_equal(query_double(fx->st,
                                      "SELECT count(*) FROM"
                                      " rollup.sqlite_master WHERE"
                                      " type='view' AND name='usage_hourly'"
                                      " AND ?1=?1 AND ?2=?2 AND ?3=?3",
                                      0, 0, 0),
                         1);
        fx_reopen(fx); /* the second open migrates nothing */
    }
    fx_free(fx);
}

static void test_readings_idempotent(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 3);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 300);
    for (int i = 0; i < 300; i++)
        set_reading(&b, (size_t)i, 1 + i % 3, i % 3, READING_DELTA,
                    local_midnight(2026, 11, 1) + (i / 3) * HOUR_NS, 0.5);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "meters", &res), 0);
    assert_int_equal(res.accepted, 300);
    assert_int_equal(res.duplicates, 0);
    assert_true(res.seq > 0);
    assert_int_equal(store_write(fx->st, &b, "meters", &res), 0);
    assert_int_equal(res.accepted, 0);
    assert_int_equal(res.duplicates, 300);
    assert_int_equal(res.seq, 0);
    struct sbuf sb = SBUF_INIT;
    render_stats(fx->st, &sb);
    assert_non_null(strstr(sb.buf, "\"readings\":300,"));
    sbuf_release(&sb);
    ingest_batch_release(&b);
    fx_free(fx);
}

static void test_readings_duplicated_within_batch(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 2);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 6);
    int64_t t = local_midnight(2026, 11, 2);
    set_reading(&b, 0, 1, METRIC_WATER, READING_INDEX, t, 10);
    set_reading(&b, 1, 1, METRIC_WATER, READING_INDEX, t + HOUR_NS, 11);
    set_reading(&b, 2, 1, METRIC_WATER, READING_INDEX, t, 10); /* again */
    set_reading(&b, 3, 2, METRIC_WATER, READING_INDEX, t, 5);
    set_reading(&b, 4, 1, METRIC_GAS, READING_INDEX, t, 10); /* metric */
    set_reading(&b, 5, 1, METRIC_WATER, READING_INDEX, t + HOUR_NS, 11);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "meters", &res), 0);
    assert_int_equal(res.accepted, 4);
    assert_int_equal(res.duplicates, 2);
    ingest_batch_release(&b);
    fx_free(fx);
}

/* Readings of one hour and block stored by several commits (a row each),
 * then re-sent in another order with new ones among them: exactly the
 * stored ones are duplicates. */
static void test_resend_over_many_commits(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 40);
    int64_t t = local_midnight(2026, 11, 2) + 3 * HOUR_NS;
    struct ingest_batch b;
    struct store_write_result res;
    for (int k = 0; k < 5; k++) { /* commit k: households k+1, k+6, ... */
        batch_new(&b, FEED_READINGS, 8 * 3);
        size_t n = 0;
        for (int h = k + 1; h <= 40; h += 5)
            for (int q = 0; q < 3; q++)
                set_reading(&b, n++, h, q == 2 ? METRIC_GAS : METRIC_WATER,
                            READING_INDEX, t + (k * 3 + q) * 60 * NS, h + q);
        assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
        assert_int_equal(res.accepted, 24);
        ingest_batch_release(&b);
    }
    /* all 120 again, backwards, and 40 new: a minute no commit used */
    batch_new(&b, FEED_READINGS, 160);
    size_t n = 0;
    for (int k = 4; k >= 0; k--)
        for (int h = 40 - (4 - k); h >= 1; h -= 5)
            for (int q = 2; q >= 0; q--)
                set_reading(&b, n++, h, q == 2 ? METRIC_GAS : METRIC_WATER,
                            READING_INDEX, t + (k * 3 + q) * 60 * NS, h + q);
    assert_int_equal(n, 120);
    for (int h = 1; h <= 40; h++)
        set_reading(&b, n++, h, METRIC_WATER, READING_INDEX, t + 59 * 60 * NS,
                    99);
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    assert_int_equal(res.duplicates, 120);
    assert_int_equal(res.accepted, 40);
    ingest_batch_release(&b);
    fx_free(fx);
}

static void test_readings_need_resolved_households(void **state)
{
    struct fixture *fx = fx_new(50);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, -1, METRIC_WATER, READING_INDEX, 1, 1);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "x", &res), CB_EINVAL);
    ingest_batch_release(&b);
    fx_free(fx);
}

static void test_registry_upsert_keeps_dense_ids(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 3);
    int32_t id[4];
    for (int i = 0; i < 3; i++) {
        char hid[16];
        snprintf(hid, sizeof(hid), "H%07d", i + 1);
        id[i] = store_household_resolve(fx->st, hid);
        assert_true(id[i] > 0);
    }
    assert_int_equal(store_household_resolve(fx->st, "H9999999"), -1);
    struct ingest_batch b;
    batch_new(&b, FEED_REGISTRY, 3);
    struct household base = {.street = "洋泾街道",
                             .committee = "东昌居委会",
                             .building = "1",
                             .lat = 31.23,
                             .lon = 121.50,
                             .area_m2 = 60,
                             .rooms = 2,
                             .registered_occupants = 2};
    b.households[0] = base; /* H0000001 unchanged */
    b.households[0].household_id = "H0000001";
    b.households[0].address = "张杨路100弄1号101室";
    b.households[1] = base; /* H0000003: more occupants, new address */
    b.households[1].household_id = "H0000003";
    b.households[1].address = "张杨路200弄9号909室";
    b.households[1].registered_occupants = 5;
    b.households[2] = base;
    b.households[2].household_id = "H0000004";
    b.households[2].address = "东方路8号";
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "registry", &res), 0);
    assert_int_equal(res.accepted, 2);
    assert_int_equal(res.duplicates, 1);
    id[3] = store_household_resolve(fx->st, "H0000004");
    assert_true(id[3] > id[2]);
    assert_int_equal(store_household_count(fx->st), 4);
    /* the address index follows the change */
    assert_int_equal(store_address_match(fx->st, "浦东张杨路200弄9号楼909"),
                     id[2]);
    assert_int_equal(store_address_match(fx->st, "张杨路102弄1号103室"), -1);
    assert_int_equal(
        store_address_match(fx->st, "上海市浦东新区张杨路100弄1号101室"),
        id[0]);
    ingest_batch_release(&b);
    fx_reopen(fx);
    assert_int_equal(store_household_count(fx->st), 4);
    assert_int_equal(store_household_resolve(fx->st, "H0000001"), id[0]);
    assert_int_equal(store_household_resolve(fx->st, "H0000004"), id[3]);
    assert_int_equal(store_address_match(fx->st, "张杨路200弄9号909室"), id[2]);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(render_household(fx->st, id[2], &sb), 0);
    assert_non_null(strstr(sb.buf, "\"registered_occupants\":5"));
    assert_non_null(strstr(sb.buf, "\"committee\":\"东昌居委会\""));
    sbuf_release(&sb);
    assert_int_equal(render_household(fx->st, 999, &sb), CB_ENOTFOUND);
    sbuf_release(&sb);
    fx_free(fx);
}

struct seen {
    size_t batches, records[FEED_COUNT];
};

static void count_batch(void *ctx, const struct ingest_batch *b, int64_t seq)
{
    struct seen *seen = ctx;
    seen->batches++;
    seen->records[b->feed] += b->n;
}

static void test_deliveries_and_events(void **state)
{
    struct fixture *fx = fx_new(50);
    struct seen seen = {0};
    store_close(fx->st);
    fx_open(fx);
    store_subscribe(fx->st, count_batch, &seen);
    fx_start(fx);
    add_households(fx->st, 4);
    struct ingest_batch d;
    batch_new(&d, FEED_DELIVERIES, 4);
    const char *ids[] = {"MT-1", "MT-2", "EL-1", "MT-1"};
    for (int i = 0; i < 4; i++) {
        d.deliveries[i].order_id = ids[i];
        d.deliveries[i].recipient = "9f2c";
        d.deliveries[i].ts_ns = local_midnight(2026, 11, 3) + i * NS;
        d.deliveries[i].household = i == 1 ? -1 : 1 + i;
        d.deliveries[i].address = i == 1 ? "不存在路1号" : NULL;
    }
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &d, "platforms", &res), 0);
    assert_int_equal(res.accepted, 3);
    assert_int_equal(res.duplicates, 1);
    assert_int_equal(res.unmatched, 1);
    assert_int_equal(store_write(fx->st, &d, "platforms", &res), 0);
    assert_int_equal(res.accepted, 0);
    assert_int_equal(res.unmatched, 0);
    ingest_batch_release(&d);

    struct ingest_batch e;
    batch_new(&e, FEED_EVENTS, 2);
    e.events[0] = (struct event){.event_id = "120-1",
                                 .source = "120",
                                 .type = "ambulance_dispatch",
                                 .street = "陆家嘴街道",
                                 .ts_ns = NS};
    e.events[1] = (struct event){.event_id = "110-1",
                                 .source = "110",
                                 .type = "noise",
                                 .lat = 31.24,
                                 .lon = 121.51,
                                 .ts_ns = 2 * NS,
                                 .attrs_json = "{\"p\":1}"};
    assert_int_equal(store_write(fx->st, &e, "police", &res), 0);
    assert_int_equal(res.accepted, 2);
    assert_int_equal(store_write(fx->st, &e, "police", &res), 0);
    assert_int_equal(res.duplicates, 2);
    ingest_batch_release(&e);
    /* both events landed in 陆家嘴街道 (the second by its coordinates) */
    double placed =
        query_double(fx->st,
                     "SELECT count(*) FROM event e JOIN street s ON"
                     " s.id=e.street_id WHERE s.name='陆家嘴街道' AND ?1=?1"
                     " AND ?2=?2 AND ?3=?3",
                     0, 0, 0);
    assert_int_equal((int)placed, 2);

    struct sbuf sb = SBUF_INIT;
    render_stats(fx->st, &sb);
    assert_non_null(strstr(sb.buf, "\"deliveries\":3,"));
    assert_non_null(strstr(sb.buf, "\"deliveries_unmatched\":1,"));
    assert_non_null(strstr(sb.buf, "\"MT\":0.5000"));
    assert_non_null(strstr(sb.buf, "\"EL\":1.0000"));
    assert_non_null(strstr(sb.buf, "\"events\":2,"));
    sbuf_release(&sb);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(seen.batches, 3); /* registry, deliveries, events */
    assert_int_equal(seen.records[FEED_DELIVERIES], 3);
    assert_int_equal(seen.records[FEED_EVENTS], 2);
    assert_int_equal(seen.records[FEED_REGISTRY], 4);
    fx_reopen(fx); /* tallies survive */
    render_stats(fx->st, &sb);
    assert_non_null(strstr(sb.buf, "\"MT\":0.5000"));
    assert_non_null(strstr(sb.buf, "\"deliveries\":3,"));
    sbuf_release(&sb);
    fx_free(fx);
}

/* ---- the queue ---- */

struct writer_arg {
    struct store *st;
    struct ingest_batch b;
    int rc;
    struct store_write_result res;
};

static void *write_thread(void *p)
{
    struct writer_arg *a = p;
    a->rc = store_write(a->st, &a->b, "t", &a->res);
    return NULL;
}

static void test_queue_full_is_busy(void **state)
{
    struct fixture *fx = fx_new(50);
    fx->cfg.queue_max = 2;
    fx_reopen(fx);
    add_households(fx->st, 1);
    store_test_pause_writer(fx->st, 1);
    struct writer_arg a[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        a[i].st = fx->st;
        batch_new(&a[i].b, FEED_READINGS, 1);
        set_reading(&a[i].b, 0, 1, METRIC_WATER, READING_DELTA, i * NS, 1);
        pthread_create(&t[i], NULL, write_thread, &a[i]);
    }
    struct store_stats stats;
    do {
        usleep(1000);
        store_get_stats(fx->st, &stats);
    } while (stats.queue_depth < 2);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, 1, METRIC_WATER, READING_DELTA, 9 * NS, 1);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "t", &res), CB_EBUSY);
    store_test_pause_writer(fx->st, 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, 0);
        assert_int_equal(a[i].res.accepted, 1);
        ingest_batch_release(&a[i].b);
    }
    assert_int_equal(store_write(fx->st, &b, "t", &res), 0);
    assert_int_equal(res.accepted, 1);
    ingest_batch_release(&b);
    fx_free(fx);
}

/* When the roll-up trails the log by more than rollup_max_lag batches,
 * writes are refused (backpressure) until it catches up. */
static void test_rollup_lag_is_busy(void **state)
{
    struct fixture *fx = fx_new(50);
    fx->cfg.rollup_max_lag = 2;
    fx_reopen(fx);
    add_households(fx->st, 1);
    store_test_pause_rollup(fx->st, 1);
    struct ingest_batch b;
    struct store_write_result res;
    int rc = 0, written = 0;
    for (int i = 0; i < 10 && rc == 0; i++) {
        batch_new(&b, FEED_READINGS, 1);
        set_reading(&b, 0, 1, METRIC_WATER, READING_DELTA, (i + 1) * NS, 1);
        rc = store_write(fx->st, &b, "t", &res);
        written += rc == 0;
        ingest_batch_release(&b);
    }
    assert_int_equal(rc, CB_EBUSY);
    assert_true(written >= 2 && written <= 4);
    store_test_pause_rollup(fx->st, 0);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, 1, METRIC_WATER, READING_DELTA, 99 * NS, 1);
    assert_int_equal(store_write(fx->st, &b, "t", &res), 0);
    assert_int_equal(res.accepted, 1);
    ingest_batch_release(&b);
    fx_free(fx);
}

static void write_expect(struct store *st, const struct ingest_batch *b,
                         size_t accepted, size_t duplicates)
{
    struct store_write_result res;
    assert_int_equal(store_write(st, b, "meters", &res), 0);
    assert_int_equal(res.accepted, accepted);
    assert_int_equal(res.duplicates, duplicates);
}

static int count_of(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++)
        n++;
    return n;
}

/* Late readings are new; their resends, before and after a restart (when
 * every series' mark falls back to the newest stored hour), are not.
 * Households 255/256 straddle two blocks. */
static void test_readings_late_and_after_restart(void **state)
{
    static const int32_t hh[] = {1, 255, 256, 300};
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 400);
    int64_t t0 = local_midnight(2026, 11, 2);
    struct ingest_batch now, late;
    batch_new(&now, FEED_READINGS, 4);
    batch_new(&late, FEED_READINGS, 8);
    for (int i = 0; i < 4; i++) {
        set_reading(&now, (size_t)i, hh[i], METRIC_WATER, READING_INDEX,
                    t0 + 10 * HOUR_NS, 7);
        set_reading(&late, (size_t)i, hh[i], METRIC_WATER, READING_INDEX,
                    t0 + 5 * HOUR_NS, 3);
        set_reading(&late, (size_t)i + 4, hh[i], METRIC_WATER, READING_INDEX,
                    t0 + 10 * HOUR_NS, 7);
    }
    write_expect(fx->st, &now, 4, 0);
    write_expect(fx->st, &late, 4, 4); /* late: new; the repeats: not */
    write_expect(fx->st, &late, 0, 8);
    fx_reopen(fx);
    write_expect(fx->st, &now, 0, 4);
    write_expect(fx->st, &late, 0, 8);
    struct ingest_batch more;
    batch_new(&more, FEED_READINGS, 3);
    set_reading(&more, 0, 256, METRIC_WATER, READING_INDEX, t0 + 3 * HOUR_NS,
                2);
    set_reading(&more, 1, 256, METRIC_WATER, READING_INDEX, t0 + 11 * HOUR_NS,
                8);
    set_reading(&more, 2, 256, METRIC_GAS, READING_INDEX, t0 + 5 * HOUR_NS, 1);
    write_expect(fx->st, &more, 3, 0);
    write_expect(fx->st, &more, 0, 3);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(
        render_readings(fx->st, 256, -1, INT64_MIN, INT64_MAX, 0, &sb), 0);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 5);
    /* (ts, metric) order: 3h, 5h water, 5h gas, 10h, 11h */
    const char *w5 = strstr(sb.buf, "\"metric\":\"water\",\"field\":\"index\","
                                    "\"value\":3");
    const char *g5 = strstr(sb.buf, "\"metric\":\"gas\"");
    assert_non_null(w5);
    assert_non_null(g5);
    assert_true(strstr(sb.buf, "\"value\":2") < w5);
    assert_true(g5 < strstr(sb.buf, "\"value\":7"));
    assert_true(strstr(sb.buf, "\"value\":7") < strstr(sb.buf, "\"value\":8"));
    sbuf_reset(&sb);
    assert_int_equal(render_readings(fx->st, 256, METRIC_WATER, t0,
                                     t0 + 11 * HOUR_NS, 2, &sb),
                     0);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 2); /* the limit */
    assert_null(strstr(sb.buf, "gas"));
    sbuf_reset(&sb);
    assert_int_equal(
        render_readings(fx->st, 255, -1, INT64_MIN, INT64_MAX, 0, &sb), 0);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 2);
    sbuf_release(&sb);
    ingest_batch_release(&now);
    ingest_batch_release(&late);
    ingest_batch_release(&more);
    fx_free(fx);
}

struct scan_seen {
    int n;
    int64_t last_ts;
    int32_t last_hh;
    int ordered;
};

static void scan_row(void *ctx, const struct reading *r)
{
    struct scan_seen *ss = ctx;
    if (ss->n && (r->ts_ns < ss->last_ts ||
                  (r->ts_ns == ss->last_ts && r->household <= ss->last_hh)))
        ss->ordered = 0;
    ss->last_ts = r->ts_ns;
    ss->last_hh = r->household;
    ss->n++;
}

/* Waits (bounded) until the writer has compacted every day it is due to:
 * no hourly rows left of a UTC day that closed 2 hours (the grace) before
 * the newest hour stored. */
static void wait_compacted(struct fixture *fx)
{
    for (int i = 0; i < 10000; i++) {
        double old =
            query_double(fx->st,
                         "SELECT count(*) FROM reading_block WHERE hour/24 <"
                         " (SELECT (max(hour) - 2)/24 FROM reading_block)"
                         " AND ?1=?1 AND ?2=?2 AND ?3=?3",
                         0, 0, 0);
        if (old == 0)
            return;
        usleep(1000);
    }
    fail_msg("past days were not compacted");
}

/* When a day is due for compaction: two hours after it closes the first
 * time; late readings of a compacted day once it is two days older than
 * the newest hour (a backlog is merged in once). */
static void test_days_due_rule(void **state)
{
    struct store st;
    memset(&st, 0, sizeof(st));
    int64_t d = 20000 * 24;    /* the first hour of a UTC day */
    st.compact_max_block = -1; /* no day being compacted */
    st.newest_day = INT64_MIN;
    st.hot_min_hour = INT64_MIN;
    assert_false(store__days_due(&st)); /* nothing hot */
    st.hot_min_hour = d + 5;
    st.hot_max_hour = d + 24 + 1;
    assert_false(store__days_due(&st)); /* 1 hour into the next day */
    st.hot_max_hour = d + 24 + 2;
    assert_true(store__days_due(&st)); /* 2 hours: due */
    st.newest_day = 20000;             /* compacted; late readings came in */
    assert_false(store__days_due(&st));
    st.compact_max_block = 40; /* unless only its first chunks are done */
    assert_true(store__days_due(&st));
    st.compact_max_block = -1;
    st.hot_max_hour = d + 47;
    assert_false(store__days_due(&st));
    st.hot_max_hour = d + 48;
    assert_true(store__days_due(&st)); /* two days older: merged */
    st.newest_day = 19999; /* a newer day than any compacted: at once */
    st.hot_max_hour = d + 26;
    assert_true(store__days_due(&st));
    /* closing: every hot day, the open one too, until the time is up */
    st.newest_day = 20000;
    st.hot_min_hour = st.hot_max_hour = d + 24 + 1;
    assert_false(store__days_due(&st));
    st.compact_close_ns = time_now_ns() + 60LL * 1000000000LL;
    assert_true(store__days_due(&st));
    st.compact_close_ns = time_now_ns() - 1;
    assert_false(store__days_due(&st));
    st.hot_min_hour = INT64_MIN;
    st.compact_close_ns = time_now_ns() + 60LL * 1000000000LL;
    assert_false(store__days_due(&st)); /* nothing hot */
}

/* Past days move into compressed series blocks; resends and late readings
 * still deduplicate exactly against them, before and after a restart, and
 * every read sees both tiers. */
static void test_readings_compacted_by_day(void **state)
{
    static const int32_t hh[] = {1, 63, 64, 300};
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 400);
    int64_t t0 = local_midnight(2026, 11, 2);
    struct ingest_batch days, late;
    batch_new(&days, FEED_READINGS, 4 * 96);
    for (int h = 0; h < 96; h++)
        for (int k = 0; k < 4; k++)
            set_reading(&days, (size_t)(h * 4 + k), hh[k], METRIC_WATER,
                        READING_INDEX, t0 + h * HOUR_NS, 10 + h * 0.0114);
    write_expect(fx->st, &days, 4 * 96, 0);
    wait_compacted(fx);
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM reading_day WHERE ?1=?1"
                             " AND ?2=?2 AND ?3=?3",
                             0, 0, 0) > 0);
    /* a whole resend: all duplicates, whichever tier holds them */
    write_expect(fx->st, &days, 0, 4 * 96);
    /* late readings into a compacted day: half hours are new, the hours
     * are not */
    batch_new(&late, FEED_READINGS, 8);
    for (int k = 0; k < 4; k++) {
        set_reading(&late, (size_t)k, hh[k], METRIC_WATER, READING_INDEX,
                    t0 + 5 * HOUR_NS + HOUR_NS / 2, 10.06);
        set_reading(&late, (size_t)k + 4, hh[k], METRIC_WATER, READING_INDEX,
                    t0 + 5 * HOUR_NS, 10.057);
    }
    write_expect(fx->st, &late, 4, 4);
    wait_compacted(fx);
    write_expect(fx->st, &late, 0, 8);
    fx_reopen(fx);
    write_expect(fx->st, &days, 0, 4 * 96);
    write_expect(fx->st, &late, 0, 8);
    /* read back: a household's history across both tiers, in time order,
     * values at the water resolution (0.001 m3) */
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(
        render_readings(fx->st, 64, -1, INT64_MIN, INT64_MAX, 0, &sb), 0);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 97);
    assert_non_null(strstr(sb.buf, "\"value\":10.057}"));
    assert_non_null(strstr(sb.buf, "\"value\":10.023}")); /* 10.0228 */
    assert_null(strstr(sb.buf, "10.0228"));
    sbuf_release(&sb);
    struct store_snapshot *snap;
    struct scan_seen ss = {0, 0, 0, 1};
    int64_t newest;
    assert_int_equal(store_snapshot_begin(fx->st, &snap), 0);
    assert_int_equal(store_scan_newest_reading(snap, &newest, NULL), 0);
    assert_true(newest == t0 + 95 * HOUR_NS);
    assert_int_equal(
        store_scan_readings(snap, t0, METRIC_WATER, scan_row, &ss, NULL), 0);
    assert_int_equal(ss.n, 4 * 96 + 4);
    assert_true(ss.ordered);
    store_snapshot_end(snap);
    ingest_batch_release(&days);
    ingest_batch_release(&late);
    fx_free(fx);
}

/* A clean stop checkpoints both databases: no -wal file is left beside
 * them (a left-over rollup.db-wal held 105 MB after a back-fill). */
static void test_clean_stop_leaves_no_wal(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 10);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 10);
    int64_t t0 = local_midnight(2026, 11, 2);
    for (int i = 0; i < 10; i++)
        set_reading(&b, (size_t)i, i, METRIC_WATER, READING_INDEX, t0, i);
    write_expect(fx->st, &b, 10, 0);
    store_close(fx->st);
    fx->st = NULL;
    char path[128];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/citybrain.db-wal", fx->dir);
    assert_true(stat(path, &sb) != 0 || sb.st_size == 0);
    snprintf(path, sizeof(path), "%s/rollup.db-wal", fx->dir);
    assert_true(stat(path, &sb) != 0 || sb.st_size == 0);
    fx_open(fx);
    fx_start(fx);
    ingest_batch_release(&b);
    fx_free(fx);
}

/* What the scenes load at start: the newest timestamp, and one metric's
 * readings since a time, in (ts, household) order across blocks. */
static void test_readings_scan_for_loaders(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 600);
    struct store_snapshot *snap;
    assert_int_equal(store_snapshot_begin(fx->st, &snap), 0);
    int64_t newest, seq = -1;
    assert_int_equal(store_scan_newest_reading(snap, &newest, &seq), 0);
    assert_true(newest == INT64_MIN);
    assert_true(seq == store_snapshot_log_seq(snap));
    store_snapshot_end(snap);
    int64_t t0 = local_midnight(2026, 11, 2);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 600);
    for (int i = 0; i < 600; i++) /* 3 blocks, 5 hours, 2 metrics */
        set_reading(&b, (size_t)i, 600 - i, i % 2 ? METRIC_GAS : METRIC_WATER,
                    READING_INDEX, t0 + (i % 5) * HOUR_NS + (i % 7) * NS, i);
    write_expect(fx->st, &b, 600, 0);
    assert_int_equal(store_snapshot_begin(fx->st, &snap), 0);
    assert_int_equal(store_scan_newest_reading(snap, &newest, NULL), 0);
    assert_true(newest == t0 + 4 * HOUR_NS + 6 * NS);
    struct scan_seen ss = {0, 0, 0, 1};
    assert_int_equal(store_scan_readings(snap, t0 + 2 * HOUR_NS, METRIC_WATER,
                                         scan_row, &ss, &seq),
                     0);
    struct store_stats stats;
    store_get_stats(fx->st, &stats);
    assert_true(seq == (int64_t)stats.log_seq);
    int want = 0;
    for (int i = 0; i < 600; i++)
        want += i % 2 == 0 && i % 5 >= 2;
    assert_int_equal(ss.n, want);
    assert_true(ss.ordered);
    store_snapshot_end(snap);
    ingest_batch_release(&b);
    fx_free(fx);
}

struct order_seen {
    int n;
    int64_t last_ts;
    int ordered, unmatched;
    char last_id[32], last_recipient[32];
    int32_t last_household;
};

static void order_row(void *ctx, const struct delivery *d)
{
    struct order_seen *os = ctx;
    if (d->ts_ns < os->last_ts)
        os->ordered = 0;
    os->last_ts = d->ts_ns;
    snprintf(os->last_id, sizeof(os->last_id), "%s", d->order_id);
    snprintf(os->last_recipient, sizeof(os->last_recipient), "%s",
             d->recipient ? d->recipient : "");
    os->last_household = d->household;
    os->unmatched += d->household < 0;
    assert_non_null(d->order_id);
    os->n++;
}

/* Every order from t0 on, through a snapshot, into *OUT_os. */
static void scan_orders(struct store *st, int64_t t0, struct order_seen *OUT_os)
{
    struct store_snapshot *snap;
    *OUT_os = (struct order_seen){0, INT64_MIN, 1, 0, "", "", 0};
    assert_int_equal(store_snapshot_begin(st, &snap), 0);
    assert_int_equal(store_scan_deliveries(snap, t0, order_row, OUT_os, NULL),
                     0);
    store_snapshot_end(snap);
}

/* A matched order is kept without the address it came with (its
 * household names it); an unmatched one keeps its address. */
static void test_order_address_unmatched_only(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 4);
    int64_t t0 = local_midnight(2026, 11, 2);
    struct ingest_batch d;
    batch_new(&d, FEED_DELIVERIES, 2);
    d.deliveries[0] = (struct delivery){.order_id = "EL-matched",
                                        .address = "张杨路100弄1号101室",
                                        .recipient = "r1",
                                        .ts_ns = t0 + 5 * NS,
                                        .household = 1};
    d.deliveries[1] = (struct delivery){.order_id = "EL-unmatched",
                                        .address = "不存在路1号",
                                        .recipient = "r2",
                                        .ts_ns = t0 + 7 * NS,
                                        .household = -1};
    write_expect(fx->st, &d, 2, 0);
    ingest_batch_release(&d);
    store_close(fx->st);
    fx->st = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/citybrain.db", fx->dir);
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT hour, data FROM delivery_block",
                                        -1, &s, NULL),
                     SQLITE_OK);
    struct ingest_batch v;
    ingest_batch_init(&v, FEED_DELIVERIES);
    while (sqlite3_step(s) == SQLITE_ROW)
        assert_int_equal(
            codec_orders_decode(sqlite3_column_blob(s, 1),
                                (size_t)sqlite3_column_bytes(s, 1),
                                sqlite3_column_int64(s, 0) * HOUR_NS, &v),
            0);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(v.n, 2);
    for (size_t i = 0; i < v.n; i++) {
        const struct delivery *o = &v.deliveries[i];
        if (!strcmp(o->order_id, "EL-matched")) {
            assert_int_equal(o->household, 1);
            assert_null(o->address);
        } else {
            assert_string_equal(o->order_id, "EL-unmatched");
            assert_int_equal(o->household, -1);
            assert_string_equal(o->address, "不存在路1号");
        }
    }
    ingest_batch_release(&v);
    fx_free(fx);
}

/* Orders go into order blocks (store_codec.h); rows a store wrote before
 * them (ingest_log payloads) are still read, beside the new ones, and the
 * scan gives every field it gave before. */
static void test_order_blocks_old_and_new(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 4);
    int64_t t0 = local_midnight(2026, 11, 2);
    struct ingest_batch d;
    batch_new(&d, FEED_DELIVERIES, 2);
    d.deliveries[0] = (struct delivery){.order_id = "MT-12cd58060f6faf0d",
                                        .household_id = "H1",
                                        .recipient = "2f680495a87ce957",
                                        .ts_ns = t0 + 2 * HOUR_NS + 7,
                                        .household = 1};
    d.deliveries[1] = (struct delivery){.order_id = "EL-1",
                                        .address = "不存在路1号",
                                        .recipient = "r2",
                                        .ts_ns = t0 + 2 * HOUR_NS - 5 * NS,
                                        .household = -1};
    write_expect(fx->st, &d, 2, 0);
    store_close(fx->st);
    fx->st = NULL;
    /* a row as today's main wrote it: the log payload of the batch */
    struct delivery old = {.order_id = "MT-old",
                           .household_id = "H2",
                           .recipient = "r3",
                           .ts_ns = t0 + HOUR_NS,
                           .household = 2};
    struct sbuf p = SBUF_INIT;
    store__log_begin(&p, FEED_DELIVERIES);
    store__log_delivery(&p, &old);
    store__log_finish(&p, 1);
    char path[128];
    snprintf(path, sizeof(path), "%s/citybrain.db", fx->dir);
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO delivery_block(hour,n,"
                                        "source,data) VALUES(?1,1,'mt',?2)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(s, 1, (t0 + HOUR_NS) / HOUR_NS);
    sqlite3_bind_blob(s, 2, p.buf, (int)p.len, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    sbuf_release(&p);
    fx_open(fx);
    fx_start(fx);
    struct order_seen os;
    scan_orders(fx->st, t0, &os);
    assert_int_equal(os.n, 3);
    assert_true(os.ordered);
    assert_int_equal(os.unmatched, 1);
    assert_true(os.last_ts == t0 + 2 * HOUR_NS + 7);
    assert_string_equal(os.last_id, "MT-12cd58060f6faf0d");
    assert_string_equal(os.last_recipient, "2f680495a87ce957");
    assert_int_equal(os.last_household, 1);
    /* the ids still dedup */
    write_expect(fx->st, &d, 0, 2);
    ingest_batch_release(&d);
    fx_free(fx);
}

static struct ingest_batch *orders_new(struct ingest_batch *d, int n,
                                       const char *const *ids, int64_t t0)
{
    batch_new(d, FEED_DELIVERIES, (size_t)n);
    for (int i = 0; i < n; i++)
        d->deliveries[i] = (struct delivery){.order_id = ids[i],
                                             .recipient = "r1",
                                             .ts_ns = t0 + i * HOUR_NS,
                                             .household = 1 + i % 3};
    return d;
}

static sqlite3 *open_main_db(struct fixture *fx)
{
    char path[128];
    sqlite3 *db;
    store_close(fx->st);
    fx->st = NULL;
    snprintf(path, sizeof(path), "%s/citybrain.db", fx->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

static void reopen_main_db(struct fixture *fx, sqlite3 *db)
{
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    fx_open(fx);
    fx_start(fx);
}

/* A store of version 13 (ids in delivery_order, blocks as log payloads)
 * migrates in place: every id gets its key, delivery_order empties, and
 * the ids still dedup. */
static void test_migrate_v13_order_keys(void **state)
{
    static const char *const ids[] = {"MT-1", "MT-2", "EL-12cd58060f6faf0d",
                                      "EL-9"};
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 4);
    int64_t t0 = local_midnight(2026, 11, 2);
    struct ingest_batch d, more;
    write_expect(fx->st, orders_new(&d, 4, ids, t0), 4, 0);
    sqlite3 *db = open_main_db(fx);
    /* back to version 13: ids as text, each block an ingest_log payload */
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE delivery_key;"
                                  "DELETE FROM delivery_block;"
                                  "PRAGMA user_version=13;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_stmt *ins_id, *ins_block;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO delivery_order VALUES(?1)",
                                        -1, &ins_id, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO delivery_block(hour,n,"
                                        "source,data) VALUES(?1,1,'mt',?2)",
                                        -1, &ins_block, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 4; i++) {
        struct sbuf p = SBUF_INIT;
        store__log_begin(&p, FEED_DELIVERIES);
        store__log_delivery(&p, &d.deliveries[i]);
        store__log_finish(&p, 1);
        sqlite3_bind_text(ins_id, 1, ids[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ins_id), SQLITE_DONE);
        sqlite3_reset(ins_id);
        sqlite3_bind_int64(ins_block, 1, (t0 + i * HOUR_NS) / HOUR_NS);
        sqlite3_bind_blob(ins_block, 2, p.buf, (int)p.len, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(ins_block), SQLITE_DONE);
        sqlite3_reset(ins_block);
        sbuf_release(&p);
    }
    sqlite3_finalize(ins_id);
    sqlite3_finalize(ins_block);
    reopen_main_db(fx, db);
    assert_int_equal(table_count(fx->st, "main", "delivery_key"), 1);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM delivery_key"
                                       " WHERE ?1=?1 AND ?2=?2 AND ?3=?3",
                                       0, 0, 0),
                     4);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM delivery_order"
                                       " WHERE ?1=?1 AND ?2=?2 AND ?3=?3",
                                       0, 0, 0),
                     0);
    write_expect(fx->st, &d, 0, 4); /* a resend: all duplicates */
    static const char *const next[] = {"MT-1", "MT-3"};
    write_expect(fx->st, orders_new(&more, 2, next, t0), 1, 1);
    ingest_batch_release(&d);
    ingest_batch_release(&more);
    fx_free(fx);
}

struct scanned {
    struct store_point p[256];
    char grp[256][16];
    size_t n;
};

static void scan_collect(void *ctx, const struct store_point *p)
{
    struct scanned *sc = ctx;
    if (sc->n < 256) {
        sc->p[sc->n] = *p;
        snprintf(sc->grp[sc->n], sizeof(sc->grp[0]), "%s", p->group);
        sc->n++;
    }
}

static void scan_points(struct fixture *fx, struct scanned *sc, const char *ind,
                        const char *grp, size_t limit)
{
    sc->n = 0;
    assert_int_equal(store_points_scan(fx->st, ind, grp, INT64_MIN, INT64_MAX,
                                       limit, scan_collect, sc),
                     0);
}

/* A store of version 14 (one indic_point row per point) migrates in
 * place: every point reads back from indic_block in the same order with
 * its value (scores to the codec's quantum), indic_point is gone, and
 * puts and retention work on the moved blocks. */
static void test_migrate_v14_indic_points(void **state)
{
    struct fixture *fx = fx_new(50);
    int64_t t0 = local_midnight(2026, 11, 2);
    sqlite3 *db = open_main_db(fx);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP TABLE indic_block;"
                     "CREATE TABLE indic_point(indicator TEXT NOT NULL,"
                     " grp TEXT NOT NULL, bucket_ns INTEGER NOT NULL,"
                     " value REAL, score REAL,"
                     " PRIMARY KEY(indicator, grp, bucket_ns)) WITHOUT ROWID;"
                     "PRAGMA user_version=14;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_stmt *ins;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO indic_point VALUES(?1,"
                                        "?2,?3,?4,?5)",
                                        -1, &ins, NULL),
                     SQLITE_OK);
    /* a: 100 hourly points in s1 (two blocks and more), the last open,
     * the 7th without a value; 3 in s0; b: 2 daily points */
    for (int i = 0; i < 105; i++) {
        const char *ind = i < 103 ? "a" : "b";
        const char *grp = i < 100 ? "s1" : i < 103 ? "s0" : "d";
        int64_t t =
            i < 103 ? t0 + (i % 100) * HOUR_NS : t0 + (i - 103) * 24 * HOUR_NS;
        sqlite3_bind_text(ins, 1, ind, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, grp, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 3, t);
        if (i == 6)
            sqlite3_bind_null(ins, 4);
        else
            sqlite3_bind_double(ins, 4, i * 0.25);
        if (i == 99)
            sqlite3_bind_null(ins, 5);
        else
            sqlite3_bind_double(ins, 5, (i % 10) / 10.0);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    reopen_main_db(fx, db);
    assert_int_equal(table_count(fx->st, "main", "indic_point"), 0);
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM indic_block"
                             " WHERE ?1=?1 AND ?2=?2 AND ?3=?3",
                             0, 0, 0) >= 4);
    struct scanned *sc = calloc(1, sizeof(*sc));
    scan_points(fx, sc, "a", NULL, 1000);
    assert_int_equal(sc->n, 103);
    for (size_t k = 0; k < sc->n; k++) {
        /* by group then time: s0's 3, then s1's 100 */
        size_t i = k < 3 ? 100 + k : k - 3;
        assert_string_equal(sc->grp[k], k < 3 ? "s0" : "s1");
        assert_true(sc->p[k].bucket_ns == t0 + (int64_t)(i % 100) * HOUR_NS);
        if (i == 6)
            assert_true(isnan(sc->p[k].value));
        else
            assert_true(sc->p[k].value == i * 0.25);
        if (i == 99)
            assert_true(isnan(sc->p[k].score));
        else
            assert_true(sc->p[k].score == codec_score_round((i % 10) / 10.0));
    }
    scan_points(fx, sc, "b", "d", 1000);
    assert_int_equal(sc->n, 2);
    assert_true(sc->p[1].bucket_ns == t0 + 24 * HOUR_NS);
    scan_points(fx, sc, "a", "s1", 10); /* the limit */
    assert_int_equal(sc->n, 10);
    /* the open bucket closes: replaced in its moved block */
    struct store_point up = {"a", "s1", t0 + 99 * HOUR_NS, HOUR_NS, 5.5, 0.5};
    assert_int_equal(store_points_put(fx->st, &up, 1), 0);
    scan_points(fx, sc, "a", "s1", 1000);
    assert_int_equal(sc->n, 100);
    assert_true(sc->p[99].value == 5.5 &&
                sc->p[99].score == codec_score_round(0.5));
    /* retention in the middle of a block */
    assert_int_equal(store_points_retain(fx->st, "a", t0 + 70 * HOUR_NS), 0);
    scan_points(fx, sc, "a", "s1", 1000);
    assert_int_equal(sc->n, 30);
    assert_true(sc->p[0].bucket_ns == t0 + 70 * HOUR_NS);
    scan_points(fx, sc, "a", "s0", 1000);
    assert_int_equal(sc->n, 0);
    scan_points(fx, sc, "b", NULL, 1000);
    assert_int_equal(sc->n, 2);
    free(sc);
    fx_free(fx);
}

/* Two ids with one key: the second is checked against the first's hour,
 * kept in delivery_order, and both dedup exactly. */
static void test_order_key_collision(void **state)
{
    static const char *const a[] = {"MT-a"}, *const b[] = {"MT-b"};
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 4);
    int64_t t0 = local_midnight(2026, 11, 2);
    struct ingest_batch da, db2, both;
    write_expect(fx->st, orders_new(&da, 1, a, t0), 1, 0);
    /* make MT-b's key taken, as if MT-a had hashed to it too */
    sqlite3 *db = open_main_db(fx);
    char sql[160];
    snprintf(sql, sizeof(sql),
             "INSERT INTO delivery_key(key,hour) VALUES(%lld,%lld)",
             (long long)store__order_key("MT-b"), (long long)(t0 / HOUR_NS));
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    reopen_main_db(fx, db);
    write_expect(fx->st, orders_new(&db2, 1, b, t0 + 5 * HOUR_NS), 1, 0);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM delivery_order"
                                       " WHERE ?1=?1 AND ?2=?2 AND ?3=?3",
                                       0, 0, 0),
                     1);
    write_expect(fx->st, &db2, 0, 1);
    write_expect(fx->st, &da, 0, 1);
    /* in one batch: a new id twice, and both old ones */
    static const char *const mix[] = {"MT-c", "MT-b", "MT-c", "MT-a"};
    write_expect(fx->st, orders_new(&both, 4, mix, t0), 1, 3);
    struct order_seen os;
    scan_orders(fx->st, t0, &os);
    assert_int_equal(os.n, 3);
    ingest_batch_release(&da);
    ingest_batch_release(&db2);
    ingest_batch_release(&both);
    fx_free(fx);
}

/* Version 6 kept one row a reading; migration 7 moves them into blocks. */
static void test_migrate_v6_readings(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 400);
    store_close(fx->st);
    fx->st = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/citybrain.db", fx->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    int64_t t0 = local_midnight(2026, 11, 2);
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "BEGIN; DROP TABLE reading_block; DROP TABLE delivery_order;"
             "DROP TABLE delivery_block;"
             "CREATE TABLE delivery(order_id TEXT PRIMARY KEY,"
             " ts_ns INTEGER NOT NULL, household INTEGER, address TEXT,"
             " recipient TEXT, source TEXT) WITHOUT ROWID;"
             "CREATE INDEX delivery_ts ON delivery(ts_ns);"
             "INSERT INTO delivery VALUES('mt-1',%lld,1,NULL,'r1','mt'),"
             "('mt-2',%lld,NULL,'somewhere','r2','mt'),"
             "('elm-1',%lld,300,NULL,'r3','elm');"
             "CREATE TABLE reading(ts_ns INTEGER NOT NULL,"
             " household INTEGER NOT NULL, metric INTEGER NOT NULL,"
             " field INTEGER NOT NULL, value REAL NOT NULL,"
             " PRIMARY KEY(ts_ns, household, metric)) WITHOUT ROWID;"
             "INSERT INTO reading VALUES(%lld,1,0,0,10),(%lld,1,0,0,11),"
             "(%lld,300,1,1,0.5),(%lld,300,1,1,0.25);"
             "PRAGMA user_version=6; COMMIT;",
             (long long)t0, (long long)(t0 + 2 * HOUR_NS), (long long)t0,
             (long long)t0, (long long)(t0 + HOUR_NS),
             (long long)(t0 + 90 * 60 * NS), (long long)(t0 + 26 * HOUR_NS));
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    fx_open(fx);
    fx_start(fx);
    assert_int_equal(table_count(fx->st, "main", "reading"), 0);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(
        render_readings(fx->st, 300, -1, INT64_MIN, INT64_MAX, 0, &sb), 0);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 2);
    assert_non_null(strstr(sb.buf, "\"field\":\"delta\",\"value\":0.25"));
    sbuf_release(&sb);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 3);
    set_reading(&b, 0, 1, METRIC_WATER, READING_INDEX, t0, 10);
    set_reading(&b, 1, 1, METRIC_WATER, READING_INDEX, t0 + HOUR_NS, 11);
    set_reading(&b, 2, 1, METRIC_WATER, READING_INDEX, t0 + 30 * 60 * NS, 10.5);
    write_expect(fx->st, &b, 1, 2);
    ingest_batch_release(&b);
    /* the orders: their ids still dedup, and the scenes' scan finds them */
    struct ingest_batch d;
    batch_new(&d, FEED_DELIVERIES, 4);
    static const char *const ids[] = {"mt-1", "mt-2", "elm-1", "mt-3"};
    for (int i = 0; i < 4; i++)
        d.deliveries[i] = (struct delivery){.order_id = ids[i],
                                            .recipient = "r9",
                                            .ts_ns = t0 + 3 * HOUR_NS,
                                            .household = 2};
    write_expect(fx->st, &d, 1, 3);
    ingest_batch_release(&d);
    struct order_seen os;
    scan_orders(fx->st, t0, &os);
    assert_int_equal(os.n, 4);
    assert_true(os.ordered);
    assert_int_equal(os.unmatched, 1);
    fx_free(fx);
}

/* A failed commit stores nothing; in a group, the batches are retried one
 * by one, so each still gets its own answer. */
static void test_failed_commit_rolls_back(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 1);
    store_test_pause_writer(fx->st, 1);
    struct writer_arg a[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        a[i].st = fx->st;
        batch_new(&a[i].b, FEED_READINGS, 3);
        for (int j = 0; j < 3; j++)
            set_reading(&a[i].b, (size_t)j, 1, METRIC_WATER, READING_DELTA,
                        (i * 3 + j) * NS, 1);
        pthread_create(&t[i], NULL, write_thread, &a[i]);
    }
    struct store_stats stats;
    do {
        usleep(1000);
        store_get_stats(fx->st, &stats);
    } while (stats.queue_depth < 2);
    store_test_fail_commits(fx->st, 1); /* the group's commit fails */
    store_test_pause_writer(fx->st, 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, 0);
        assert_int_equal(a[i].res.accepted, 3);
        ingest_batch_release(&a[i].b);
    }
    struct ingest_batch b;
    batch_new(&b, FEED_REGISTRY, 1);
    b.households[0] = (struct household){.household_id = "H-new",
                                         .street = "s",
                                         .committee = "c",
                                         .building = "b",
                                         .area_m2 = 1};
    struct store_write_result res;
    store_test_fail_commits(fx->st, 1);
    assert_int_equal(store_write(fx->st, &b, "r", &res), CB_ESTORE);
    assert_int_equal(res.accepted, 0);
    assert_int_equal(store_household_resolve(fx->st, "H-new"), -1);
    assert_int_equal(store_write(fx->st, &b, "r", &res), 0);
    assert_int_equal(res.accepted, 1);
    assert_true(store_household_resolve(fx->st, "H-new") > 0);
    ingest_batch_release(&b);
    store_test_fail_commits(fx->st, 1);
    assert_int_equal(store_audit(fx->st, "a", "b", "c", "d"), CB_ESTORE);
    struct sbuf sb = SBUF_INIT;
    render_stats(fx->st, &sb);
    assert_non_null(strstr(sb.buf, "\"readings\":6,"));
    sbuf_release(&sb);
    fx_free(fx);
}

/* Many writers, overlapping batches: each gets its own counts, and the
 * totals match the distinct readings. */
static void test_group_commit_counts_per_batch(void **state)
{
    enum { THREADS = 4, ROUNDS = 10, PER = 400 };
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 10);
    struct writer_arg a[THREADS];
    pthread_t t[THREADS];
    size_t accepted = 0, duplicates = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < THREADS; i++) {
            a[i].st = fx->st;
            batch_new(&a[i].b, FEED_READINGS, PER);
            for (int j = 0; j < PER; j++) /* threads overlap by half */
                set_reading(&a[i].b, (size_t)j, 1 + j % 10, METRIC_WATER,
                            READING_DELTA,
                            (round * 1000 + i * PER / 2 + j) * NS, 1);
        }
        for (int i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, write_thread, &a[i]);
        for (int i = 0; i < THREADS; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(a[i].rc, 0);
            assert_int_equal(a[i].res.accepted + a[i].res.duplicates, PER);
            accepted += a[i].res.accepted;
            duplicates += a[i].res.duplicates;
            ingest_batch_release(&a[i].b);
        }
    }
    size_t distinct = (size_t)ROUNDS * (PER / 2 * (THREADS - 1) + PER);
    assert_int_equal(accepted, distinct);
    assert_int_equal(duplicates, (size_t)ROUNDS * THREADS * PER - distinct);
    struct store_stats stats;
    store_get_stats(fx->st, &stats);
    assert_true(stats.commits >= 1);
    fx_free(fx);
}

/* ---- retention ---- */

static void test_retention_keeps_rollups(void **state)
{
    struct fixture *fx = fx_new(50);
    fx->cfg.retention_days = 2;
    fx_reopen(fx);
    add_households(fx->st, 1);
    int64_t now = time_now_ns();
    int64_t old_day = (now + 8 * HOUR_NS) / DAY_NS - 10;
    int64_t old = old_day * DAY_NS - 8 * HOUR_NS + 2 * HOUR_NS;
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 4);
    set_reading(&b, 0, 1, METRIC_WATER, READING_INDEX, old, 100);
    set_reading(&b, 1, 1, METRIC_WATER, READING_INDEX, old + HOUR_NS, 101);
    set_reading(&b, 2, 1, METRIC_GAS, READING_INDEX, now - HOUR_NS, 150);
    set_reading(&b, 3, 1, METRIC_GAS, READING_INDEX, now, 151);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    double old_use = usage_day(fx->st, 1, METRIC_WATER, old_day);
    size_t dropped = 0;
    assert_int_equal(store_retention_run(fx->st, &dropped), 0);
    assert_int_equal(dropped, 2);
    struct sbuf sb = SBUF_INIT;
    render_readings(fx->st, 1, -1, 0, INT64_MAX, 100, &sb);
    assert_null(strstr(sb.buf, "\"value\":100"));
    assert_non_null(strstr(sb.buf, "\"value\":151"));
    sbuf_reset(&sb);
    render_stats(fx->st, &sb);
    assert_non_null(strstr(sb.buf, "\"readings\":2,"));
    sbuf_release(&sb);
    assert_true(old_use > 0.99 && old_use < 1.01);
    assert_true(usage_day(fx->st, 1, METRIC_WATER, old_day) == old_use);
    /* the consumed log is gone too */
    double log_rows =
        query_double(fx->st,
                     "SELECT count(*) FROM ingest_log WHERE ?1=?1 AND ?2=?2"
                     " AND ?3=?3",
                     0, 0, 0);
    assert_int_equal((int)log_rows, 0);
    fx_free(fx);
}

static int count_rows(struct fixture *fx, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM %s WHERE ?1=?1 AND ?2=?2 AND ?3=?3", table);
    return (int)query_double(fx->st, sql, 0, 0, 0);
}

/* Orders and events past their retention go, with the orders' keys (a
 * resend of a dropped order is stored again); newer ones stay, and with 0
 * days nothing goes. */
static void test_retention_of_orders_and_events(void **state)
{
    static const char *const ids[] = {"MT-old1", "MT-old2", "MT-new"};
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 3);
    int64_t now = time_now_ns();
    struct ingest_batch d, e;
    batch_new(&d, FEED_DELIVERIES, 3);
    for (int i = 0; i < 3; i++)
        d.deliveries[i] = (struct delivery){
            .order_id = ids[i],
            .recipient = "r1",
            .ts_ns = i < 2 ? now - 20 * DAY_NS + i * HOUR_NS : now - HOUR_NS,
            .household = 1 + i};
    batch_new(&e, FEED_EVENTS, 2);
    e.events[0] = (struct event){.event_id = "110-old",
                                 .source = "110",
                                 .type = "noise",
                                 .street = "陆家嘴街道",
                                 .ts_ns = now - 20 * DAY_NS};
    e.events[1] = (struct event){.event_id = "110-new",
                                 .source = "110",
                                 .type = "noise",
                                 .street = "陆家嘴街道",
                                 .ts_ns = now - HOUR_NS};
    write_expect(fx->st, &d, 3, 0);
    write_expect(fx->st, &e, 2, 0);
    /* 0 days (the default): kept */
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_int_equal(count_rows(fx, "delivery_key"), 3);
    assert_int_equal(count_rows(fx, "event"), 2);
    fx->cfg.orders_retention_days = 10;
    fx->cfg.events_retention_days = 10;
    fx_reopen(fx);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_int_equal(count_rows(fx, "delivery_key"), 1);
    assert_int_equal(count_rows(fx, "event"), 1);
    struct sbuf sb = SBUF_INIT;
    render_stats(fx->st, &sb);
    assert_non_null(strstr(sb.buf, "\"deliveries\":1,"));
    assert_non_null(strstr(sb.buf, "\"events\":1,"));
    sbuf_release(&sb);
    struct order_seen os = {0, INT64_MIN, 1, 0, "", "", 0};
    struct store_snapshot *snap;
    assert_int_equal(store_snapshot_begin(fx->st, &snap), 0);
    assert_int_equal(store_scan_deliveries(snap, 0, order_row, &os, NULL), 0);
    store_snapshot_end(snap);
    assert_int_equal(os.n, 1);
    assert_string_equal(os.last_id, "MT-new");
    /* the new ones still dedup; the dropped ones are forgotten */
    write_expect(fx->st, &d, 2, 1);
    ingest_batch_release(&d);
    ingest_batch_release(&e);
    fx_free(fx);
}

/* ---- tokens, departments, audit, settings ---- */

static void test_tokens(void **state)
{
    struct fixture *fx = fx_new(50);
    int64_t dept, tok, tok2;
    uint32_t feeds;
    struct department_grants readings = {1u << FEED_READINGS, 0, NULL};
    assert_int_equal(
        store_department_create(fx->st, "water-co", &readings, &dept), 0);
    assert_int_equal(
        store_department_create(fx->st, "water-co", &readings, NULL),
        CB_EEXIST);
    assert_int_equal(store_department_find(fx->st, "water-co", &tok, &feeds),
                     0);
    assert_int_equal(tok, dept);
    assert_int_equal(feeds, 1u << FEED_READINGS);
    assert_int_equal(store_department_find(fx->st, "nope", &tok, &feeds),
                     CB_ENOTFOUND);
    struct token_info info = {.role = ROLE_PUBLISHER, .department_id = dept};
    snprintf(info.name, sizeof(info.name), "water-feed");
    assert_int_equal(store_token_insert(fx->st, "aa11", &info, &tok), 0);
    assert_int_equal(store_token_insert(fx->st, "aa11", &info, NULL),
                     CB_EEXIST);
    struct token_info c = {.role = ROLE_COMMITTEE};
    snprintf(c.name, sizeof(c.name), "ward");
    snprintf(c.committee, sizeof(c.committee), "东昌居委会");
    assert_int_equal(store_token_insert(fx->st, "bb22", &c, &tok2), 0);
    struct token_info got;
    assert_int_equal(store_token_find(fx->st, "aa11", &got), 0);
    assert_int_equal(got.id, tok);
    assert_int_equal(got.role, ROLE_PUBLISHER);
    assert_int_equal(got.feeds, 1u << FEED_READINGS);
    assert_string_equal(got.name, "water-feed");
    assert_int_equal(store_token_find(fx->st, "cc33", &got), CB_ENOTFOUND);
    assert_int_equal(store_token_revoke(fx->st, tok), 0);
    assert_int_equal(store_token_find(fx->st, "aa11", &got), CB_ENOTFOUND);
    assert_int_equal(store_token_revoke(fx->st, 12345), CB_ENOTFOUND);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(render_tokens(fx->st, &sb), 0);
    assert_non_null(strstr(sb.buf, "\"water-feed\""));
    assert_null(strstr(sb.buf, "aa11"));
    sbuf_reset(&sb);
    assert_int_equal(render_departments(fx->st, &sb), 0);
    assert_non_null(strstr(sb.buf, "\"feeds\":[\"readings\"]"));
    assert_non_null(strstr(sb.buf, "\"measurements\":[\"water\","
                                   "\"electricity\",\"gas\"],"
                                   "\"sources\":null"));
    sbuf_release(&sb);
    fx_reopen(fx); /* the cache reloads */
    assert_int_equal(store_token_find(fx->st, "aa11", &got), CB_ENOTFOUND);
    assert_int_equal(store_token_find(fx->st, "bb22", &got), 0);
    assert_string_equal(got.committee, "东昌居委会");
    assert_int_equal(got.role, ROLE_COMMITTEE);
    assert_int_equal(role_parse("analyst"), ROLE_ANALYST);
    assert_string_equal(role_name(ROLE_OPERATOR), "operator");
    assert_int_equal(role_parse("root"), -1);
    fx_free(fx);
}

/* Narrower grants reach the department's tokens, also after a reopen. */
static void test_department_grants(void **state)
{
    struct fixture *fx = fx_new(50);
    int64_t dept, tok;
    struct department_grants amb = {1u << FEED_EVENTS, 0, "120,999"};
    struct department_grants water = {1u << FEED_READINGS, 1u << METRIC_WATER,
                                      NULL};
    assert_int_equal(store_department_create(fx->st, "ambulance", &amb, &dept),
                     0);
    struct token_info info = {.role = ROLE_PUBLISHER, .department_id = dept};
    snprintf(info.name, sizeof(info.name), "amb");
    assert_int_equal(store_token_insert(fx->st, "a1", &info, &tok), 0);
    assert_int_equal(store_department_create(fx->st, "water", &water, &dept),
                     0);
    info.department_id = dept;
    assert_int_equal(store_token_insert(fx->st, "w1", &info, &tok), 0);
    for (int pass = 0; pass < 2; pass++) {
        struct token_info got;
        assert_int_equal(store_token_find(fx->st, "a1", &got), 0);
        assert_string_equal(got.sources, "120,999");
        assert_int_equal(auth_check_grant(&got, FEED_EVENTS, "120"), 0);
        assert_int_equal(auth_check_grant(&got, FEED_EVENTS, "999"), 0);
        assert_int_equal(auth_check_grant(&got, FEED_EVENTS, "110"), CB_EPERM);
        assert_int_equal(auth_check_grant(&got, FEED_EVENTS, "12"), CB_EPERM);
        assert_int_equal(store_token_find(fx->st, "w1", &got), 0);
        assert_int_equal(got.measurements, 1u << METRIC_WATER);
        assert_int_equal(auth_check_grant(&got, FEED_READINGS, "water"), 0);
        assert_int_equal(auth_check_grant(&got, FEED_READINGS, "gas"),
                         CB_EPERM);
        fx_reopen(fx);
    }
    struct department_grants long_sources = {1, 0, NULL};
    char big[STORE_NAME_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    long_sources.sources = big;
    assert_int_equal(
        store_department_create(fx->st, "big", &long_sources, NULL), CB_EINVAL);
    fx_free(fx);
}

/* A second process on the same store (the CLI beside a running server):
 * what it makes or revokes reaches this one's token cache. */
static void test_tokens_changed_by_another_handle(void **state)
{
    struct fixture *fx = fx_new(50);
    struct store *cli;
    assert_int_equal(store_open(&fx->cfg, &cli), 0);
    struct token_info info = {.role = ROLE_ANALYST};
    snprintf(info.name, sizeof(info.name), "from-cli");
    int64_t id;
    assert_int_equal(store_token_insert(cli, "c1", &info, &id), 0);
    struct token_info got;
    int rc = CB_ENOTFOUND;
    for (int i = 0; i < 100 && rc; i++) { /* rechecked every 500 ms */
        rc = store_token_find(fx->st, "c1", &got);
        if (rc)
            usleep(50000);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(store_token_revoke(cli, id), 0);
    for (int i = 0; i < 100 && !rc; i++) {
        rc = store_token_find(fx->st, "c1", &got);
        if (!rc)
            usleep(50000);
    }
    assert_int_equal(rc, CB_ENOTFOUND);
    store_close(cli);
    fx_free(fx);
}

static void test_audit_and_settings(void **state)
{
    struct fixture *fx = fx_new(50);
    assert_int_equal(
        store_audit(fx->st, "ana", "household.read", "household:H1", "visit"),
        0);
    assert_int_equal(
        store_audit(fx->st, "bob", "household.usage", "household:H2", NULL), 0);
    assert_int_equal(
        store_audit(fx->st, "cy", "token.revoke", "token:3", "leak \"quoted\""),
        0);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(render_audit(fx->st, 2, &sb), 0);
    char *cy = strstr(sb.buf, "\"cy\""), *bob = strstr(sb.buf, "\"bob\"");
    assert_non_null(cy);
    assert_non_null(bob);
    assert_true(cy < bob); /* newest first */
    assert_null(strstr(sb.buf, "\"ana\""));
    assert_non_null(strstr(sb.buf, "leak \\\"quoted\\\""));
    assert_non_null(strstr(sb.buf, "\"reason\":null"));
    assert_non_null(strstr(sb.buf, "\"token_id\":null"));
    sbuf_reset(&sb);
    assert_int_equal(store_audit_token(fx->st, 42, "twin", "household.read",
                                       "household:H3", "why \xff"),
                     0);
    assert_int_equal(render_audit(fx->st, 1, &sb), 0);
    assert_non_null(strstr(sb.buf, "\"who\":\"twin\",\"token_id\":42"));
    assert_non_null(strstr(sb.buf, "why \xEF\xBF\xBD")); /* valid UTF-8 */
    sbuf_reset(&sb);
    assert_int_equal(store_kv_set(fx->st, "scene.weights", "{\"w\":1}"), 0);
    assert_int_equal(store_kv_get(fx->st, "scene.weights", &sb), 0);
    assert_string_equal(sb.buf, "{\"w\":1}");
    sbuf_reset(&sb);
    assert_int_equal(store_kv_get(fx->st, "missing", &sb), CB_ENOTFOUND);
    sbuf_release(&sb);
    fx_free(fx);
}

/* Readings of daily meters go into one row of 32 days per 64 households
 * (reading_period), an hourly block's into day rows; resends and late
 * readings deduplicate exactly against both, before and after a restart,
 * and reads and scans see both, across the period boundary. */
#define PERIOD_TEST_DAYS 40
static void test_readings_by_period(void **state)
{
    static const int32_t hh[] = {1, 63, 64, 300};
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 400);
    int64_t t0 = local_midnight(2026, 11, 2) + 9 * HOUR_NS;
    struct ingest_batch days, hourly, late;
    batch_new(&days, FEED_READINGS, 4 * PERIOD_TEST_DAYS);
    for (int d = 0; d < PERIOD_TEST_DAYS; d++)
        for (int k = 0; k < 4; k++)
            set_reading(&days, (size_t)(d * 4 + k), hh[k], METRIC_GAS,
                        READING_INDEX, t0 + d * DAY_NS + k * 60 * NS,
                        100 + d * 1.234 + k);
    batch_new(&hourly, FEED_READINGS, 24 * PERIOD_TEST_DAYS);
    for (int h = 0; h < 24 * PERIOD_TEST_DAYS; h++)
        set_reading(&hourly, (size_t)h, 200, METRIC_WATER, READING_INDEX,
                    t0 + h * HOUR_NS, 10 + h * 0.01);
    write_expect(fx->st, &days, 4 * PERIOD_TEST_DAYS, 0);
    write_expect(fx->st, &hourly, 24 * PERIOD_TEST_DAYS, 0);
    wait_compacted(fx);
    /* blocks 0, 1 and 4 (daily) in two periods each; block 3 by day */
    assert_int_equal(count_rows(fx, "reading_period"), 6);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM reading_day"
                                       " WHERE block<>?1 AND ?2=?2 AND ?3=?3",
                                       3, 0, 0),
                     0);
    assert_true(count_rows(fx, "reading_day") >= PERIOD_TEST_DAYS - 2);
    write_expect(fx->st, &days, 0, 4 * PERIOD_TEST_DAYS);
    write_expect(fx->st, &hourly, 0, 24 * PERIOD_TEST_DAYS);
    /* late readings into compacted days: the noons are new, the 9 o'clock
     * readings not */
    batch_new(&late, FEED_READINGS, 8);
    for (int k = 0; k < 4; k++) {
        set_reading(&late, (size_t)k, hh[k], METRIC_GAS, READING_INDEX,
                    t0 + (5 + 10 * k) * DAY_NS + 3 * HOUR_NS, 500 + k);
        set_reading(&late, (size_t)k + 4, hh[k], METRIC_GAS, READING_INDEX,
                    t0 + (5 + 10 * k) * DAY_NS + k * 60 * NS, 1);
    }
    write_expect(fx->st, &late, 4, 4);
    wait_compacted(fx);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM reading_block"
                                       " WHERE hour<?1 AND ?2=?2 AND ?3=?3",
                                       (double)(t0 / HOUR_NS + 36 * 24), 0, 0),
                     0); /* merged into their period rows */
    write_expect(fx->st, &late, 0, 8);
    fx_reopen(fx);
    write_expect(fx->st, &days, 0, 4 * PERIOD_TEST_DAYS);
    write_expect(fx->st, &hourly, 0, 24 * PERIOD_TEST_DAYS);
    write_expect(fx->st, &late, 0, 8);
    /* read back across the period boundary, and a window inside one */
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(
        render_readings(fx->st, 64, -1, INT64_MIN, INT64_MAX, 0, &sb), 0);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), PERIOD_TEST_DAYS + 1);
    assert_non_null(strstr(sb.buf, "\"value\":502}"));
    assert_non_null(strstr(sb.buf, "\"value\":150.126}")); /* day 39 */
    sbuf_reset(&sb);
    assert_int_equal(render_readings(fx->st, 300, METRIC_GAS, t0 + 10 * DAY_NS,
                                     t0 + 13 * DAY_NS, 0, &sb),
                     0);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 3);
    sbuf_reset(&sb);
    assert_int_equal(
        render_readings(fx->st, 200, -1, INT64_MIN, INT64_MAX, 0, &sb), 0);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 24 * PERIOD_TEST_DAYS);
    sbuf_release(&sb);
    struct store_snapshot *snap;
    struct scan_seen ss = {0, 0, 0, 1};
    int64_t newest;
    assert_int_equal(store_snapshot_begin(fx->st, &snap), 0);
    assert_int_equal(store_scan_newest_reading(snap, &newest, NULL), 0);
    assert_true(newest == t0 + (24 * PERIOD_TEST_DAYS - 1) * HOUR_NS);
    assert_int_equal(
        store_scan_readings(snap, t0 + DAY_NS, METRIC_GAS, scan_row, &ss, NULL),
        0);
    assert_int_equal(ss.n, 4 * (PERIOD_TEST_DAYS - 1) + 4);
    assert_true(ss.ordered);
    ss = (struct scan_seen){0, 0, 0, 1};
    assert_int_equal(store_scan_readings(snap, t0, -1, scan_row, &ss, NULL), 0);
    assert_int_equal(ss.n, 4 * PERIOD_TEST_DAYS + 4 + 24 * PERIOD_TEST_DAYS);
    assert_true(ss.ordered);
    store_snapshot_end(snap);
    /* an hourly backlog of a past day that comes in trickles: its first
     * readings go to the period row, then the day gets a day row */
    for (int h = 0; h < 3; h++) {
        struct ingest_batch one; /* and a newer day: the backlog is due */
        batch_new(&one, FEED_READINGS, 2);
        set_reading(&one, 0, 330, METRIC_WATER, READING_INDEX,
                    t0 + 3 * DAY_NS + h * HOUR_NS, 5 + h);
        set_reading(&one, 1, 399, METRIC_GAS, READING_INDEX,
                    t0 + (PERIOD_TEST_DAYS + 1 + h) * DAY_NS, 1 + h);
        write_expect(fx->st, &one, 2, 0);
        wait_compacted(fx);
        ingest_batch_release(&one);
    }
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM reading_day"
                                       " WHERE block=?1 AND ?2=?2 AND ?3=?3",
                                       330 / 64, 0, 0),
                     1);
    sb = (struct sbuf)SBUF_INIT;
    render_readings(fx->st, 330, -1, INT64_MIN, INT64_MAX, 0, &sb);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 3);
    sbuf_release(&sb);
    ingest_batch_release(&days);
    ingest_batch_release(&hourly);
    ingest_batch_release(&late);
    fx_free(fx);
}

/* Retention of raw readings by day: a period row wholly past the cutoff
 * goes, one that starts before it loses those days' readings. */
static void test_retention_trims_periods(void **state)
{
    struct fixture *fx = fx_new(50);
    fx->cfg.retention_days = 10;
    fx_reopen(fx);
    add_households(fx->st, 2);
    int64_t now = time_now_ns();
    int64_t today = now / DAY_NS;
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 80);
    for (int d = 0; d < 80; d++) /* days today-79 .. today, 06:00 UTC */
        set_reading(&b, (size_t)d, 1, METRIC_GAS, READING_INDEX,
                    (today - 79 + d) * DAY_NS + 60 * NS, 100 + d);
    write_expect(fx->st, &b, 80, 0);
    wait_compacted(fx);
    assert_true(count_rows(fx, "reading_period") >= 3);
    size_t dropped = 0;
    assert_int_equal(store_retention_run(fx->st, &dropped), 0);
    /* kept: the days from today - 10 (the cutoff's day) on */
    int64_t cut_day = (now - 10 * DAY_NS) / DAY_NS;
    int keep = (int)(today - cut_day + 1);
    assert_int_equal((int)dropped, 80 - keep);
    struct sbuf sb = SBUF_INIT;
    render_readings(fx->st, 1, -1, INT64_MIN, INT64_MAX, 0, &sb);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), keep);
    assert_non_null(strstr(sb.buf, "\"value\":179}"));
    sbuf_release(&sb);
    assert_true(query_double(fx->st,
                             "SELECT min(day0) FROM reading_period"
                             " WHERE ?1=?1 AND ?2=?2 AND ?3=?3",
                             0, 0, 0) >= (double)cut_day);
    /* nothing more to drop; a dropped day's reading is new again */
    assert_int_equal(store_retention_run(fx->st, &dropped), 0);
    assert_int_equal((int)dropped, 0);
    write_expect(fx->st, &b, 80 - keep, keep);
    ingest_batch_release(&b);
    fx_free(fx);
}

/* A store of version 15 (compacted day rows, no reading_period) migrates
 * in place: its day rows stay readable and deduplicate, and daily
 * readings go into the new period rows. */
static void test_migrate_v15_reading_period(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 100);
    int64_t t0 = local_midnight(2026, 11, 2);
    struct ingest_batch hourly, daily;
    batch_new(&hourly, FEED_READINGS, 72);
    for (int h = 0; h < 72; h++)
        set_reading(&hourly, (size_t)h, 70, METRIC_WATER, READING_INDEX,
                    t0 + h * HOUR_NS, 10 + h * 0.5);
    write_expect(fx->st, &hourly, 72, 0);
    wait_compacted(fx);
    sqlite3 *db = open_main_db(fx);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE reading_period;"
                                  "PRAGMA user_version=15;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    reopen_main_db(fx, db);
    assert_int_equal(table_count(fx->st, "main", "reading_period"), 1);
    assert_true(count_rows(fx, "reading_day") >= 2);
    write_expect(fx->st, &hourly, 0, 72);
    batch_new(&daily, FEED_READINGS, 6); /* the last day: its newest */
    for (int d = 0; d < 6; d++)
        set_reading(&daily, (size_t)d, 5, METRIC_GAS, READING_INDEX,
                    t0 + d * DAY_NS, 1 + d);
    write_expect(fx->st, &daily, 6, 0);
    wait_compacted(fx);
    assert_int_equal(count_rows(fx, "reading_period"), 1);
    write_expect(fx->st, &daily, 0, 6);
    struct sbuf sb = SBUF_INIT;
    render_readings(fx->st, 70, -1, INT64_MIN, INT64_MAX, 0, &sb);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 72);
    sbuf_reset(&sb);
    render_readings(fx->st, 5, -1, INT64_MIN, INT64_MAX, 0, &sb);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 6);
    sbuf_release(&sb);
    ingest_batch_release(&hourly);
    ingest_batch_release(&daily);
    fx_free(fx);
}

/* A clean stop compacts the hot tier, the open day too; the day's later
 * readings are stored and merged in as late readings are, and everything
 * still deduplicates. */
static void test_close_compacts_open_day(void **state)
{
    struct fixture *fx = fx_new(50);
    add_households(fx->st, 300);
    int64_t t0 = local_midnight(2026, 11, 2) + 8 * HOUR_NS; /* UTC 00:00 */
    struct ingest_batch early, later, next;
    batch_new(&early, FEED_READINGS, 6 * 3);
    batch_new(&later, FEED_READINGS, 6 * 3);
    for (int h = 0; h < 6; h++)
        for (int k = 0; k < 3; k++) {
            set_reading(&early, (size_t)(h * 3 + k), 100 * k + 1, METRIC_WATER,
                        READING_INDEX, t0 + h * HOUR_NS, 10 + h);
            set_reading(&later, (size_t)(h * 3 + k), 100 * k + 1, METRIC_WATER,
                        READING_INDEX, t0 + (h + 6) * HOUR_NS, 16 + h);
        }
    write_expect(fx->st, &early, 18, 0);
    assert_true(count_rows(fx, "reading_block") > 0);
    fx_reopen(fx);
    assert_int_equal(count_rows(fx, "reading_block"), 0);
    assert_true(count_rows(fx, "reading_day") > 0);
    write_expect(fx->st, &early, 0, 18);
    write_expect(fx->st, &later, 18, 0);
    write_expect(fx->st, &later, 0, 18);
    /* two days on, the rest of the day is merged into its rows */
    batch_new(&next, FEED_READINGS, 1);
    set_reading(&next, 0, 1, METRIC_WATER, READING_INDEX, t0 + 50 * HOUR_NS,
                40);
    write_expect(fx->st, &next, 1, 0);
    wait_compacted(fx);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM reading_block"
                                       " WHERE hour<?1 AND ?2=?2 AND ?3=?3",
                                       (double)(t0 / HOUR_NS + 24), 0, 0),
                     0);
    struct sbuf sb = SBUF_INIT;
    render_readings(fx->st, 101, -1, INT64_MIN, INT64_MAX, 0, &sb);
    assert_int_equal(count_of(sb.buf, "\"ts_ns\""), 12);
    sbuf_release(&sb);
    write_expect(fx->st, &early, 0, 18);
    write_expect(fx->st, &later, 0, 18);
    ingest_batch_release(&early);
    ingest_batch_release(&later);
    ingest_batch_release(&next);
    fx_free(fx);
}

/* The synchronous level a writer call commits with (0 OFF, 1 NORMAL, 2
 * FULL), read inside its transaction. */
static int sync_level_fn(struct store *st, struct store_conn *w, void *arg)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(w->db, "PRAGMA main.synchronous", -1, &s, NULL))
        return CB_ESTORE;
    int rc = sqlite3_step(s) == SQLITE_ROW ? 0 : CB_ESTORE;
    *(int *)arg = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return rc;
}

/* With sync=full an audit row commits with synchronous=NORMAL (in the WAL,
 * no fsync of its own), every other writer transaction with FULL, and the
 * writer fsyncs the WAL after it (within STORE_OS_COMMIT_SYNC_NS). */
static void test_audit_commits_then_wal_fsynced(void **state)
{
    struct fixture *fx = fx_new(50);
    store_close(fx->st);
    fx->st = NULL;
    fx->cfg.sync_full = 1;
    fx_open(fx);
    fx_start(fx);
    int level = -1;
    assert_int_equal(store__call(fx->st, sync_level_fn, &level), 0);
    assert_int_equal(level, 2);
    assert_int_equal(store__call_os(fx->st, sync_level_fn, &level), 0);
    assert_int_equal(level, 1);
    assert_int_equal(store__call(fx->st, sync_level_fn, &level), 0);
    assert_int_equal(level, 2); /* back to FULL for the next one */

    struct store_stats s0, s;
    store_get_stats(fx->st, &s0);
    assert_int_equal(
        store_audit(fx->st, "ana", "household.usage", "household:H1", "k"), 0);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(render_audit(fx->st, 1, &sb), 0); /* committed */
    assert_non_null(strstr(sb.buf, "\"household:H1\""));
    sbuf_release(&sb);
    /* the deferred fsync follows; waited for, not timed */
    for (int i = 0; i < 600; i++) {
        store_get_stats(fx->st, &s);
        if (s.wal_syncs > s0.wal_syncs)
            break;
        usleep(50000);
    }
    assert_true(s.wal_syncs > s0.wal_syncs);
    fx_free(fx);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_from_empty),
        cmocka_unit_test(test_department_grants),
        cmocka_unit_test(test_tokens_changed_by_another_handle),
        cmocka_unit_test(test_readings_idempotent),
        cmocka_unit_test(test_readings_duplicated_within_batch),
        cmocka_unit_test(test_resend_over_many_commits),
        cmocka_unit_test(test_readings_late_and_after_restart),
        cmocka_unit_test(test_migrate_v6_readings),
        cmocka_unit_test(test_readings_scan_for_loaders),
        cmocka_unit_test(test_days_due_rule),
        cmocka_unit_test(test_readings_compacted_by_day),
        cmocka_unit_test(test_order_blocks_old_and_new),
        cmocka_unit_test(test_order_address_unmatched_only),
        cmocka_unit_test(test_migrate_v13_order_keys),
        cmocka_unit_test(test_migrate_v14_indic_points),
        cmocka_unit_test(test_migrate_v15_reading_period),
        cmocka_unit_test(test_readings_by_period),
        cmocka_unit_test(test_retention_trims_periods),
        cmocka_unit_test(test_close_compacts_open_day),
        cmocka_unit_test(test_order_key_collision),
        cmocka_unit_test(test_clean_stop_leaves_no_wal),
        cmocka_unit_test(test_readings_need_resolved_households),
        cmocka_unit_test(test_registry_upsert_keeps_dense_ids),
        cmocka_unit_test(test_deliveries_and_events),
        cmocka_unit_test(test_queue_full_is_busy),
        cmocka_unit_test(test_rollup_lag_is_busy),
        cmocka_unit_test(test_failed_commit_rolls_back),
        cmocka_unit_test(test_group_commit_counts_per_batch),
        cmocka_unit_test(test_retention_keeps_rollups),
        cmocka_unit_test(test_retention_of_orders_and_events),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_audit_and_settings),
        cmocka_unit_test(test_audit_commits_then_wal_fsynced),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
