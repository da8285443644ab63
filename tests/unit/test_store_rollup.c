/* test_store_rollup.c - the roll-up consumer: index to use, rollovers and
 * replacements, gaps, late readings, restart and crash recovery; the
 * meter model and the ingest_log payload on their own. */
#include <math.h>

#include "store/store_codec.h"
#include "store/store_int.h"
#include "store/store_meter.h"
#include "test_store_fixture.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

static int64_t nov(unsigned d)
{
    return time_days_from_civil(2026, 11, d);
}

/* Writes one reading per (day, value) at local midnight of Nov day. */
static void write_series(struct store *st, int32_t hh, int metric,
                         const unsigned *days, const double *values, size_t n,
                         int64_t *OUT_seq)
{
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, n);
    for (size_t i = 0; i < n; i++)
        set_reading(&b, i, hh, metric, READING_INDEX,
                    local_midnight(2026, 11, days[i]), values[i]);
    struct store_write_result res;
    assert_int_equal(store_write(st, &b, "meters", &res), 0);
    assert_int_equal(res.accepted, n);
    if (OUT_seq)
        *OUT_seq = res.seq;
    ingest_batch_release(&b);
}

static void add_use(void *ctx, int32_t household, int metric, int64_t day,
                    double use)
{
    *(double *)ctx += use;
}

static void test_index_rollover_and_replacement(void **state)
{
    struct fixture *fx = fx_new(20);
    double seen_use = 0;
    store_close(fx->st);
    fx_open(fx);
    store_subscribe_usage(fx->st, add_use, &seen_use);
    fx_start(fx);
    add_households(fx->st, 1);
    static const unsigned days[] = {1, 2, 3, 4, 5, 6};
    static const double water[] = {9990, 9995, 2, 9, 0.5, 3.5};
    static const double gas[] = {1000, 1010, 800, 805, 806, 807};
    write_series(fx->st, 1, METRIC_WATER, days, water, 6, NULL);
    write_series(fx->st, 1, METRIC_GAS, days, gas, 6, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    static const double want_water[] = {5, 7, 7, 0.5, 3};
    static const double want_gas[] = {10, 0, 5, 1, 1};
    for (int d = 0; d < 5; d++) {
        assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(1 + d)),
                         want_water[d]));
        /* a meter read once a day has no hourly rows */
        assert_true(
            NEAR(usage_hours_of_day(fx->st, 1, METRIC_WATER, nov(1 + d)), 0));
        assert_true(
            NEAR(usage_day(fx->st, 1, METRIC_GAS, nov(1 + d)), want_gas[d]));
    }
    assert_true(NEAR(seen_use, 22.5 + 17));
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM usage_hours WHERE"
                             " household=?1 AND ?2=?2 AND ?3=?3",
                             1, 0, 0) == 0);
    assert_int_equal((int)meter_field(fx->st, "resets", 1, METRIC_WATER), 1);
    assert_int_equal((int)meter_field(fx->st, "replacements", 1, METRIC_WATER),
                     1);
    assert_int_equal((int)meter_field(fx->st, "replacements", 1, METRIC_GAS),
                     1);
    struct store_stats stats;
    store_get_stats(fx->st, &stats);
    assert_int_equal(stats.meter_resets, 1);
    assert_int_equal(stats.meter_replacements, 2);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(render_usage_daily(fx->st, 1, nov(2), nov(4), &sb), 0);
    assert_string_equal(sb.buf, "[{\"day\":\"2026-11-02\",\"water\":7,"
                                "\"gas\":0},{\"day\":\"2026-11-03\","
                                "\"water\":7,\"gas\":5}]");
    sbuf_reset(&sb);
    assert_int_equal(render_household(fx->st, 1, &sb), 0);
    assert_non_null(strstr(sb.buf, "\"water\":{"));
    assert_non_null(strstr(sb.buf, "\"resets\":1"));
    sbuf_release(&sb);
    fx_free(fx);
}

static void test_gap_spreads_over_days(void **state)
{
    struct fixture *fx = fx_new(20);
    add_households(fx->st, 1);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 3);
    set_reading(&b, 0, 1, METRIC_WATER, READING_INDEX,
                local_midnight(2026, 11, 1), 100);
    set_reading(&b, 1, 1, METRIC_WATER, READING_INDEX,
                local_midnight(2026, 11, 4), 130);
    set_reading(&b, 2, 1, METRIC_WATER, READING_INDEX,
                local_midnight(2026, 11, 4) + 6 * HOUR_NS, 136);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    for (unsigned d = 1; d <= 3; d++) {
        assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(d)), 10));
        /* a 3-day interval is too coarse for hours */
        assert_true(
            NEAR(usage_hours_of_day(fx->st, 1, METRIC_WATER, nov(d)), 0));
    }
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(4)), 6));
    assert_true(NEAR(usage_hours_of_day(fx->st, 1, METRIC_WATER, nov(4)), 6));
    double first_hour =
        query_double(fx->st,
                     "SELECT use FROM usage_hourly WHERE household=?1"
                     " AND metric=0 AND hour=?2 AND ?3=?3",
                     1, nov(4) * 24 - 8, 0);
    assert_true(NEAR(first_hour, 1));
    fx_free(fx);
}

static void test_out_of_order_readings(void **state)
{
    struct fixture *fx = fx_new(20);
    add_households(fx->st, 1);
    static const unsigned days[] = {3, 5};
    static const double values[] = {120, 140};
    write_series(fx->st, 1, METRIC_WATER, days, values, 2, NULL);
    static const unsigned late_day[] = {4};
    static const double late_value[] = {130};
    write_series(fx->st, 1, METRIC_WATER, late_day, late_value, 1, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(3)), 10));
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(4)), 10));
    assert_int_equal((int)meter_field(fx->st, "late", 1, METRIC_WATER), 1);
    static const unsigned older[] = {1};
    static const double older_value[] = {100};
    write_series(fx->st, 1, METRIC_WATER, older, older_value, 1, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(1)), 10));
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(2)), 10));
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(3)), 10));
    assert_int_equal((int)meter_field(fx->st, "late", 1, METRIC_WATER), 2);

    /* delta meter, hourly: a late delta adds its own use */
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 4);
    int64_t t = local_midnight(2026, 11, 10);
    for (int i = 0; i < 4; i++)
        set_reading(&b, (size_t)i, 1, METRIC_ELECTRICITY, READING_DELTA,
                    t + (i + 1) * HOUR_NS, 1.0);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, 1, METRIC_ELECTRICITY, READING_DELTA,
                t + 2 * HOUR_NS + HOUR_NS / 2, 0.5);
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_ELECTRICITY, nov(10)), 4.5));
    assert_true(
        NEAR(usage_hours_of_day(fx->st, 1, METRIC_ELECTRICITY, nov(10)), 3.5));
    struct store_stats stats;
    store_get_stats(fx->st, &stats);
    assert_int_equal(stats.late_readings, 3);
    fx_free(fx);
}

static double total_use(struct store *st)
{
    return query_double(st,
                        "SELECT coalesce(sum(use),0) FROM usage_daily_all"
                        " WHERE ?1=?1 AND ?2=?2 AND ?3=?3",
                        0, 0, 0);
}

static void test_rollup_survives_restart_and_crash(void **state)
{
    struct fixture *fx = fx_new(60000); /* checkpoints only on demand */
    add_households(fx->st, 2);
    static const unsigned days[] = {1, 2, 3};
    static const double a[] = {100, 110, 2};
    static const double b[] = {9999.5, 0.5, 1.5};
    write_series(fx->st, 1, METRIC_WATER, days, a, 3, NULL);
    write_series(fx->st, 2, METRIC_WATER, days, b, 3, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    double before = total_use(fx->st);
    assert_true(NEAR(before, 10 + 2 + 1 + 1));
    /* a clean restart: nothing counted twice */
    fx_reopen(fx);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), before));
    struct store_stats stats;
    store_get_stats(fx->st, &stats);
    assert_int_equal(stats.meter_resets, 1);
    assert_int_equal(stats.meter_replacements, 1);

    /* a crash after the commit of day 4, before its checkpoint */
    static const unsigned day4[] = {4};
    static const double a4[] = {7};
    int64_t seq;
    write_series(fx->st, 1, METRIC_WATER, day4, a4, 1, &seq);
    do {
        usleep(1000);
        store_get_stats(fx->st, &stats);
    } while ((int64_t)stats.rollup_seq < seq);
    store_test_skip_checkpoint(fx->st);
    fx_reopen(fx);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), before + 5));
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(3)), 5));
    store_get_stats(fx->st, &stats);
    assert_int_equal(stats.meter_resets, 1);
    assert_int_equal(stats.meter_replacements, 1);
    fx_reopen(fx);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), before + 5));
    fx_free(fx);
}

/* Once idle for 2 s after a checkpoint, the roll-up frees its batch
 * buffers and trims malloc's free pages; the readings after that are
 * rolled up as before (under ASan, a buffer used after its free fails). */
static void test_rollup_after_idle_trim(void **state)
{
    struct fixture *fx = fx_new(60000); /* checkpoints only on demand */
    add_households(fx->st, 2);
    static const unsigned days[] = {1, 2, 3};
    static const double a[] = {100, 110, 2};
    write_series(fx->st, 1, METRIC_WATER, days, a, 3, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    double before = total_use(fx->st);
    assert_true(NEAR(before, 10 + 2));
    sleep(3); /* idle: the buffers go */
    static const unsigned later[] = {4, 5};
    static const double a2[] = {7, 9};
    static const double b[] = {50, 53};
    write_series(fx->st, 1, METRIC_WATER, later, a2, 2, NULL);
    write_series(fx->st, 2, METRIC_WATER, later, b, 2, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), before + 5 + 2 + 3));
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(4)), 2));
    sleep(3);
    write_series(fx->st, 2, METRIC_WATER, (const unsigned[]){6},
                 (const double[]){60}, 1, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), before + 5 + 2 + 3 + 7));
    fx_reopen(fx);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), before + 5 + 2 + 3 + 7));
    fx_free(fx);
}

/* A meter's open day counts its readings in 16 bits: more readings than
 * that in one day (here 70,000 one-second deltas, in one batch and then
 * in batches of 5,000) close the bucket and open it again, and the day's
 * use and count come out whole. */
static void test_day_count_past_16_bits(void **state)
{
    struct fixture *fx = fx_new(60000); /* checkpoints only on demand */
    add_households(fx->st, 2);
    enum { N = 70000, STEP = 5000 };
    int64_t t0 = local_midnight(2026, 11, 2);
    for (int32_t hh = 1; hh <= 2; hh++) {
        int per = hh == 1 ? N : STEP;
        for (int first = 0; first < N; first += per) {
            struct ingest_batch b;
            batch_new(&b, FEED_READINGS, (size_t)per);
            for (int i = 0; i < per; i++)
                set_reading(&b, (size_t)i, hh, METRIC_ELECTRICITY,
                            READING_DELTA,
                            t0 + (int64_t)(first + i + 1) * 1000000000LL, 1.0);
            struct store_write_result res;
            assert_int_equal(store_write(fx->st, &b, "meters", &res), 0);
            assert_int_equal(res.accepted, (size_t)per);
            ingest_batch_release(&b);
        }
    }
    assert_int_equal(store_rollup_flush(fx->st), 0);
    for (int32_t hh = 1; hh <= 2; hh++) {
        assert_true(NEAR(usage_day(fx->st, hh, METRIC_ELECTRICITY, nov(2)), N));
        assert_true(NEAR(query_double(fx->st,
                                      "SELECT coalesce(sum(n),0)"
                                      " FROM usage_daily_all WHERE household"
                                      "=?1 AND metric=?2 AND day=?3",
                                      hh, METRIC_ELECTRICITY, nov(2)),
                         N));
    }
    fx_free(fx);
}

static double total_hourly(struct store *st)
{
    return query_double(st,
                        "SELECT coalesce(sum(use),0) FROM usage_hourly WHERE"
                        " ?1=?1 AND ?2=?2 AND ?3=?3",
                        0, 0, 0);
}

/* Removes rollup.db (and its WAL) from a closed store's directory. */
static void remove_rollup_db(struct fixture *fx)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/rollup.db%s", fx->dir, suffix[i]);
        unlink(path);
    }
}

/* The district clock 400 days back (simulated): every day written is
 * then newer than today - 2, so daily use stays rows (for tests of the
 * rows themselves, or of checkpoint counts); clock_wall() restores it. */
static void clock_before_data(void)
{
    assert_int_equal(dclock_configure(DCLOCK_SIMULATED, 480), 0);
    assert_int_equal(dclock_set_ns(time_now_ns() - 400 * DAY_NS), 0);
}

static void clock_wall(void)
{
    assert_int_equal(dclock_configure(DCLOCK_WALL, 480), 0);
}

static void write_two_households(struct fixture *fx)
{
    add_households(fx->st, 2);
    static const unsigned days[] = {1, 2, 3};
    static const double a[] = {100, 110, 2};
    static const double b[] = {9999.5, 0.5, 1.5};
    write_series(fx->st, 1, METRIC_WATER, days, a, 3, NULL);
    write_series(fx->st, 2, METRIC_WATER, days, b, 3, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
}

/* After a reopen: the roll-up of write_two_households is whole, once. */
static void assert_two_households_again(struct fixture *fx, double daily,
                                        double hourly)
{
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), daily));
    assert_true(NEAR(total_hourly(fx->st), hourly));
    assert_true(NEAR(meter_field(fx->st, "last_index", 1, METRIC_WATER), 2));
    struct store_stats stats;
    store_get_stats(fx->st, &stats);
    assert_int_equal(stats.meter_resets, 1);
    assert_int_equal(stats.meter_replacements, 1);
}

/* rollup.db lost: the roll-up starts from position 0 and rebuilds from the
 * ingest log, as long as the log is kept (log_keep_hours) and retention has
 * not dropped it; after that it cannot (the raw readings are still there,
 * but the roll-up reads the log). */
static void test_rollup_rebuilt_from_log(void **state)
{
    struct fixture *fx = fx_new(60000);
    fx->cfg.log_keep_hours = 1; /* a clean stop keeps the log */
    fx_reopen(fx);
    write_two_households(fx);
    double daily = total_use(fx->st), hourly = total_hourly(fx->st);
    assert_true(NEAR(daily, 14));
    assert_true(NEAR(hourly, 0)); /* meters read once a day: no hours */
    store_close(fx->st);
    fx->st = NULL;
    remove_rollup_db(fx);
    fx_open(fx);
    fx_start(fx);
    assert_two_households_again(fx, daily, hourly);

    /* retention drops the log the roll-up has passed: a lost rollup.db
     * then comes back empty */
    fx->cfg.log_keep_hours = 0;
    fx_reopen(fx);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM ingest_log"
                                       " WHERE ?1=?1 AND ?2=?2 AND ?3=?3",
                                       0, 0, 0),
                     0);
    store_close(fx->st);
    fx->st = NULL;
    remove_rollup_db(fx);
    fx_open(fx);
    fx_start(fx);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), 0));
    fx_free(fx);
}

/* Retention keeps the log the roll-up has applied but not yet checkpointed
 * in rollup.db: a crash then still replays it. */
static void test_retention_waits_for_checkpoint(void **state)
{
    struct fixture *fx = fx_new(60000); /* checkpoints only on demand */
    write_two_households(fx);
    /* past days go into blocks at once, a chunk a checkpoint: done here */
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    double before = total_use(fx->st);
    static const unsigned day4[] = {4};
    static const double a4[] = {7};
    int64_t seq;
    write_series(fx->st, 1, METRIC_WATER, day4, a4, 1, &seq);
    struct store_stats stats;
    do {
        usleep(1000);
        store_get_stats(fx->st, &stats);
    } while ((int64_t)stats.rollup_seq < seq);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM ingest_log WHERE seq=?1"
                             " AND ?2=?2 AND ?3=?3",
                             seq, 0, 0) == 1);
    store_test_skip_checkpoint(fx->st);
    fx_reopen(fx);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), before + 5));
    fx_free(fx);
}

static double log_rows(struct store *st)
{
    return query_double(st,
                        "SELECT count(*) FROM ingest_log WHERE ?1=?1 AND"
                        " ?2=?2 AND ?3=?3",
                        0, 0, 0);
}

/* Writes n batches of one hourly delta reading of household 1 each. */
static void write_hourly_batches(struct store *st, int64_t t0, int n,
                                 int64_t *OUT_seq)
{
    for (int i = 0; i < n; i++) {
        struct ingest_batch b;
        batch_new(&b, FEED_READINGS, 1);
        set_reading(&b, 0, 1, METRIC_ELECTRICITY, READING_DELTA,
                    t0 + i * HOUR_NS, 1.0);
        struct store_write_result res;
        assert_int_equal(store_write(st, &b, "m", &res), 0);
        ingest_batch_release(&b);
        if (OUT_seq)
            *OUT_seq = res.seq;
    }
}

/* With log_keep_hours 0, the log goes in segments as soon as the roll-up
 * has checkpointed past them, and the rest at a clean stop; what the
 * roll-up has applied but not checkpointed stays, and a crash replays it. */
static void test_log_trimmed_behind_checkpoint(void **state)
{
    struct fixture *fx = fx_new(60000); /* checkpoints only on demand */
    add_households(fx->st, 1);
    int64_t t0 = local_midnight(2026, 11, 1);
    write_hourly_batches(fx->st, t0, 100, NULL);
    assert_true(log_rows(fx->st) >= 100);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    /* the writer trims after the checkpoint, in turns: wait (bounded) */
    for (int i = 0; i < 10000 && log_rows(fx->st) > 0; i++)
        usleep(1000);
    assert_true(log_rows(fx->st) == 0);

    /* applied, not checkpointed: kept, and replayed after a crash */
    int64_t seq;
    write_hourly_batches(fx->st, t0 + 100 * HOUR_NS, 40, &seq);
    struct store_stats stats;
    do {
        usleep(1000);
        store_get_stats(fx->st, &stats);
    } while ((int64_t)stats.rollup_seq < seq);
    assert_true(log_rows(fx->st) == 40);
    store_test_skip_checkpoint(fx->st);
    fx_reopen(fx);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), 140));
    /* the first delta's interval is unknown: a day's use, no hour's */
    assert_true(NEAR(total_hourly(fx->st), 139));

    /* a clean stop leaves no log behind the final checkpoint */
    write_hourly_batches(fx->st, t0 + 140 * HOUR_NS, 3, NULL);
    fx_reopen(fx);
    assert_true(log_rows(fx->st) == 0);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_use(fx->st), 143));
    fx_free(fx);
}

/* Retention per tier of use: hourly use older than hourly_retention_days
 * and daily use older than daily_retention_days go at a checkpoint, each
 * tier on its own; 0 keeps a tier. */
static void test_use_retention_per_tier(void **state)
{
    struct fixture *fx = fx_new(60000);
    fx->cfg.hourly_retention_days = 3;
    fx->cfg.daily_retention_days = 6;
    fx_reopen(fx);
    add_households(fx->st, 1);
    int64_t today = store__day_of(time_now_ns());
    static const int ago[] = {10, 5, 1};
    for (int i = 0; i < 3; i++) {
        /* two readings an hour apart at 10:00 of the district day */
        int64_t t = (today - ago[i]) * DAY_NS - 8 * HOUR_NS + 10 * HOUR_NS;
        write_hourly_batches(fx->st, t, 2, NULL);
    }
    assert_int_equal(store_rollup_flush(fx->st), 0);
    /* not before retention runs (hourly, or now) */
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_ELECTRICITY, today - 10), 2));
    assert_true(usage_hours_of_day(fx->st, 1, METRIC_ELECTRICITY, today - 10) >
                0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    for (int i = 0; i < 3; i++) {
        int64_t day = today - ago[i];
        double daily = usage_day(fx->st, 1, METRIC_ELECTRICITY, day);
        double hourly = usage_hours_of_day(fx->st, 1, METRIC_ELECTRICITY, day);
        /* daily use two days old is in blocks of 32 days, which go whole
         * once all their days are past the cutoff; rows go by the day */
        int gone = ago[i] > 6 && store__daily_block_of(day) <
                                     store__daily_block_of(today - 6);
        if (ago[i] > 6 && !gone) /* a row then (dropped), or in a block */
            assert_true(NEAR(daily, 0) || NEAR(daily, 2));
        else
            assert_true(NEAR(daily, gone ? 0 : 2));
        assert_true(NEAR(hourly, ago[i] > 3 ? 0 : 2));
    }
    /* 0: kept */
    fx->cfg.hourly_retention_days = 0;
    fx->cfg.daily_retention_days = 0;
    fx_reopen(fx);
    write_hourly_batches(fx->st, (today - 20) * DAY_NS, 2, NULL);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_true(usage_hours_of_day(fx->st, 1, METRIC_ELECTRICITY, today - 20) >
                0);
    assert_true(usage_day(fx->st, 1, METRIC_ELECTRICITY, today - 20) > 0);
    fx_free(fx);
}

/* The block format of daily use (codec_days): at a resolution a round
 * trip gives each value rounded to it (half away from zero) and every n;
 * raw (digits < 0, or a value that does not fit) is exact to the bit; a
 * block cut short, with bytes left over, a bad kind or a varint that never
 * ends is refused.  A daily meter's month costs a few bytes a day. */
static void test_daily_block_format(void **state)
{
    struct codec_days b, back;
    struct sbuf sb = SBUF_INIT;
    int digits;
    memset(&b, 0, sizeof(b));
    b.mask = 1u | 1u << 7 | 1u << 31;
    b.use[0] = 0.1 + 0.2; /* not a round number */
    b.use[7] = -3.506;
    b.use[31] = 12345.678;
    b.n[0] = 1;
    b.n[7] = 300; /* a two-byte varint */
    b.n[31] = 0;
    codec_days_encode(&sb, &b, 2);
    assert_int_equal(codec_days_decode(sb.buf, sb.len, &back, &digits), 0);
    assert_int_equal(digits, 2);
    assert_int_equal(back.mask, b.mask);
    assert_true(back.use[0] == 0.3 && back.use[7] == -3.51 &&
                back.use[31] == 12345.68);
    for (int d = 0; d < STORE_DAILY_BLOCK_DAYS; d++)
        assert_true(back.n[d] == b.n[d]);
    for (size_t len = 0; len < sb.len; len++)
        assert_int_equal(codec_days_decode(sb.buf, len, &back, NULL),
                         CB_ESTORE);
    sbuf_addch(&sb, 0);
    assert_int_equal(codec_days_decode(sb.buf, sb.len, &back, NULL), CB_ESTORE);
    /* raw: exact, also when a value does not fit a count */
    b.use[31] = 1e300;
    sbuf_reset(&sb);
    codec_days_encode(&sb, &b, 2);
    assert_int_equal(codec_days_decode(sb.buf, sb.len, &back, &digits), 0);
    assert_int_equal(digits, -1);
    for (int d = 0; d < STORE_DAILY_BLOCK_DAYS; d++)
        assert_memory_equal(&back.use[d], &b.use[d], sizeof(double));
    static const unsigned char bad_kind[] = {0x40, 0};
    static const unsigned char endless[] = {0x02, 0x80, 0x80};
    static const unsigned char wide_mask[] = {0x02, 0x80, 0x80,
                                              0x80, 0x80, 0x10};
    assert_int_equal(codec_days_decode(bad_kind, sizeof(bad_kind), &back, NULL),
                     CB_ESTORE);
    assert_int_equal(codec_days_decode(endless, sizeof(endless), &back, NULL),
                     CB_ESTORE);
    assert_int_equal(
        codec_days_decode(wide_mask, sizeof(wide_mask), &back, NULL),
        CB_ESTORE);
    assert_int_equal(codec_days_decode(NULL, 0, &back, NULL), CB_ESTORE);
    /* a daily meter's month: 1 to 2 bytes a day, n written once */
    memset(&b, 0, sizeof(b));
    b.mask = 0xffffffffu;
    for (int d = 0; d < STORE_DAILY_BLOCK_DAYS; d++)
        b.use[d] = 5 + (d % 5) * 0.37, b.n[d] = 1;
    sbuf_reset(&sb);
    codec_days_encode(&sb, &b, 2);
    assert_true(sb.len <= 1 + 5 + 1 + 2 * STORE_DAILY_BLOCK_DAYS);
    assert_int_equal(codec_days_decode(sb.buf, sb.len, &back, NULL), 0);
    for (int d = 0; d < STORE_DAILY_BLOCK_DAYS; d++)
        assert_true(back.use[d] == codec_round(b.use[d], 2) && back.n[d] == 1);
    assert_true(store__daily_block_of(-1) == -1);
    assert_true(store__daily_block_of(31) == 0);
    assert_true(store__daily_block_of(32) == 1);
    sbuf_release(&sb);
}

/* What a scan of daily use hands on, in order. */
struct day_seen {
    int32_t household[2048];
    int metric[2048];
    int64_t day[2048];
    double use[2048];
    int n;
};

static void see_day(void *ctx, int32_t household, int metric, int64_t day,
                    double use)
{
    struct day_seen *ds = ctx;
    assert_true(ds->n < 2048);
    ds->household[ds->n] = household;
    ds->metric[ds->n] = metric;
    ds->day[ds->n] = day;
    ds->use[ds->n++] = use;
}

/* The scan, sorted by (day, household, metric): the blocks come block by
 * block and meter by meter, the rows after them in day order. */
static void scan_days(struct store *st, int64_t from, struct day_seen *OUT,
                      int64_t *OUT_newest)
{
    struct store_snapshot *snap;
    memset(OUT, 0, sizeof(*OUT));
    assert_int_equal(store_snapshot_begin(st, &snap), 0);
    assert_int_equal(store_scan_usage_daily(snap, from, see_day, OUT, NULL), 0);
    assert_int_equal(store_scan_newest_day(snap, OUT_newest, NULL), 0);
    store_snapshot_end(snap);
    for (int i = 1; i < OUT->n; i++) /* insertion sort, stable */
        for (int j = i; j > 0; j--) {
            int64_t a[3] = {OUT->day[j - 1], OUT->household[j - 1],
                            OUT->metric[j - 1]};
            int64_t b[3] = {OUT->day[j], OUT->household[j], OUT->metric[j]};
            if (a[0] < b[0] ||
                (a[0] == b[0] &&
                 (a[1] < b[1] || (a[1] == b[1] && a[2] <= b[2]))))
                break;
            int32_t h = OUT->household[j];
            int m = OUT->metric[j];
            int64_t d = OUT->day[j];
            double u = OUT->use[j];
            OUT->household[j] = OUT->household[j - 1];
            OUT->metric[j] = OUT->metric[j - 1];
            OUT->day[j] = OUT->day[j - 1];
            OUT->use[j] = OUT->use[j - 1];
            OUT->household[j - 1] = h;
            OUT->metric[j - 1] = m;
            OUT->day[j - 1] = d;
            OUT->use[j - 1] = u;
        }
}

static double rows_before(struct store *st, const char *table, int64_t day)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM %s WHERE day < ?1 AND ?2=?2 AND ?3=?3",
             table);
    return query_double(st, sql, day, 0, 0);
}

/* Daily use of district days two days old moves into blocks of 32 days
 * per meter (when the district day changes, hourly or at
 * store_retention_run); every reader sees the same values before and
 * after: the day's JSON, the typed scan (same values, sorted), the newest
 * day.  A late reading into a
 * compacted day adds to it, is seen at once, and joins the block at the
 * next compaction; a restart keeps all of it.  Meters read once a day:
 * 100 days of electricity (delta) for 3 households. */
static void test_daily_use_compacted_into_blocks(void **state)
{
    struct fixture *fx = fx_new(60000);
    add_households(fx->st, 3);
    int64_t today = store__day_of(time_now_ns());
    /* the district clock before the readings: they stay rows, then */
    assert_int_equal(dclock_configure(DCLOCK_SIMULATED, 480), 0);
    assert_int_equal(dclock_set_ns(time_now_ns() - 200 * DAY_NS), 0);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 300);
    for (int d = 0; d < 100; d++)
        for (int h = 0; h < 3; h++)
            set_reading(&b, (size_t)(d * 3 + h), h + 1, METRIC_ELECTRICITY,
                        READING_DELTA, (today - 100 + d) * DAY_NS + 4 * HOUR_NS,
                        1 + d % 7 + h * 0.25 + 0.001 * d);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    struct sbuf before = SBUF_INIT, after = SBUF_INIT;
    assert_int_equal(
        render_usage_daily(fx->st, 2, today - 120, today + 1, &before), 0);
    static struct day_seen seen_before, seen_after;
    int64_t newest_before, newest_after;
    scan_days(fx->st, today - 120, &seen_before, &newest_before);
    assert_int_equal(seen_before.n, 300);
    /* the scenes' start: the 30 days up to the newest */
    static struct day_seen scene_before, scene_after;
    int64_t newest;
    scan_days(fx->st, newest_before - 29, &scene_before, &newest);
    assert_int_equal(scene_before.n, 3 * 30);
    double total = total_use(fx->st);
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM usage_daily_block WHERE"
                             " ?1=?1 AND ?2=?2 AND ?3=?3",
                             0, 0, 0) == 0);

    /* now: a new district day, the past days go into blocks */
    assert_int_equal(dclock_set_ns(time_now_ns()), 0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    int64_t cut = today - 1; /* today and yesterday stay rows */
    assert_true(rows_before(fx->st, "usage_daily", cut) == 0);
    assert_true(rows_before(fx->st, "usage_daily", cut + 2) > 0);
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM usage_daily_block WHERE"
                             " ?1=?1 AND ?2=?2 AND ?3=?3",
                             0, 0, 0) > 0);
    assert_true(rows_before(fx->st, "usage_daily_all", cut) > 100);
    assert_int_equal(
        render_usage_daily(fx->st, 2, today - 120, today + 1, &after), 0);
    assert_string_equal(after.buf, before.buf);
    scan_days(fx->st, today - 120, &seen_after, &newest_after);
    assert_int_equal(seen_after.n, seen_before.n);
    for (int i = 0; i < seen_before.n; i++) {
        assert_int_equal(seen_after.household[i], seen_before.household[i]);
        assert_int_equal(seen_after.metric[i], seen_before.metric[i]);
        assert_true(seen_after.day[i] == seen_before.day[i]);
        /* the same count of 0.01 kWh (a row is a sum of counts as
         * doubles, a block the count itself: the last bit may differ) */
        assert_true(llround(seen_after.use[i] * 100) ==
                    llround(seen_before.use[i] * 100));
        assert_true(NEAR(seen_after.use[i], seen_before.use[i]));
    }
    assert_true(newest_after == newest_before);
    assert_true(fabs(total_use(fx->st) - total) < 1e-9 * total);
    scan_days(fx->st, newest_before - 29, &scene_after, &newest);
    assert_int_equal(scene_after.n, scene_before.n);
    for (int i = 0; i < scene_before.n; i++) {
        assert_int_equal(scene_after.household[i], scene_before.household[i]);
        assert_true(scene_after.day[i] == scene_before.day[i]);
        assert_true(llround(scene_after.use[i] * 100) ==
                    llround(scene_before.use[i] * 100));
    }

    /* a late reading into a compacted day: (day - 1 day, day] */
    int64_t late_day = today - 90;
    double was = usage_day(fx->st, 2, METRIC_ELECTRICITY, late_day);
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, 2, METRIC_ELECTRICITY, READING_DELTA,
                late_day * DAY_NS - 8 * HOUR_NS + DAY_NS, 5);
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(
        NEAR(usage_day(fx->st, 2, METRIC_ELECTRICITY, late_day), was + 5));
    /* rows again (a minute later, or at the next look, they join the
     * block): its use, and its n in the day it is stamped in */
    assert_true(rows_before(fx->st, "usage_daily", cut) == 2);
    scan_days(fx->st, today - 120, &seen_after, &newest_after);
    double sum = 0;
    for (int i = 0; i < seen_after.n; i++) {
        assert_true(i == 0 || seen_after.day[i] >= seen_after.day[i - 1]);
        sum += seen_after.use[i];
    }
    assert_true(NEAR(sum, total + 5));
    sbuf_reset(&after);
    assert_int_equal(
        render_usage_daily(fx->st, 2, late_day, late_day + 1, &after), 0);
    const char *e = strstr(after.buf, "\"electricity\"");
    assert_non_null(e);
    assert_null(strstr(e + 1, "\"electricity\""));
    /* the next compaction takes it into the block; a restart keeps all */
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_true(rows_before(fx->st, "usage_daily", cut) == 0);
    fx_reopen(fx);
    assert_true(
        NEAR(usage_day(fx->st, 2, METRIC_ELECTRICITY, late_day), was + 5));
    assert_true(NEAR(total_use(fx->st), total + 5));
    /* daily_retention_days drops whole blocks whose days are all past it */
    fx->cfg.daily_retention_days = 50;
    fx_reopen(fx);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    int64_t kept = store__daily_block_of(today - 50) * STORE_DAILY_BLOCK_DAYS;
    assert_true(rows_before(fx->st, "usage_daily_all", kept) == 0);
    assert_true(usage_day(fx->st, 1, METRIC_ELECTRICITY, today - 50) > 0);
    assert_true(usage_day(fx->st, 1, METRIC_ELECTRICITY, today - 2) > 0);
    sbuf_release(&before);
    sbuf_release(&after);
    fx_free(fx);
    assert_int_equal(dclock_configure(DCLOCK_WALL, 480), 0);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sql failed: %s\n", err ? err : "?");
    sqlite3_free(err);
    assert_int_equal(rc, SQLITE_OK);
}

/* A store of schema version 5 (roll-ups in citybrain.db) is migrated:
 * version 6 moves the roll-ups and the position into rollup.db. */
static void test_migrate_v5_rollups(void **state)
{
    clock_before_data();
    struct fixture *fx = fx_new(60000);
    write_two_households(fx);
    double daily = total_use(fx->st), hourly = total_hourly(fx->st);
    store_close(fx->st);
    fx->st = NULL;
    /* rebuild version 5's layout from the current files */
    char path[128];
    snprintf(path, sizeof(path), "%s/citybrain.db", fx->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(store__daily_block_functions(db), 0);
    snprintf(path, sizeof(path), "ATTACH '%s/rollup.db' AS r", fx->dir);
    exec_ok(db, path);
    exec_ok(db,
            "BEGIN;"
            "CREATE TABLE main.consumer(name TEXT PRIMARY KEY,"
            " seq INTEGER NOT NULL);"
            "CREATE TABLE main.meter_state(household INTEGER NOT NULL,"
            " metric INTEGER NOT NULL, first_ts_ns INTEGER, first_index REAL,"
            " last_ts_ns INTEGER, last_index REAL, flags INTEGER NOT NULL,"
            " resets INTEGER NOT NULL, replacements INTEGER NOT NULL,"
            " late INTEGER NOT NULL, grain_ns INTEGER NOT NULL,"
            " PRIMARY KEY(household, metric)) WITHOUT ROWID;"
            "CREATE TABLE main.usage_daily(household INTEGER NOT NULL,"
            " metric INTEGER NOT NULL, day INTEGER NOT NULL,"
            " use REAL NOT NULL, n INTEGER NOT NULL,"
            " PRIMARY KEY(day, household, metric)) WITHOUT ROWID;"
            "CREATE TABLE main.usage_hourly(household INTEGER NOT NULL,"
            " metric INTEGER NOT NULL, hour INTEGER NOT NULL,"
            " use REAL NOT NULL, PRIMARY KEY(hour, household, metric))"
            " WITHOUT ROWID;"
            "DROP TABLE main.reading_block;"
            "DROP TABLE main.delivery_order; DROP TABLE main.delivery_block;"
            "CREATE TABLE main.delivery(order_id TEXT PRIMARY KEY,"
            " ts_ns INTEGER NOT NULL, household INTEGER, address TEXT,"
            " recipient TEXT, source TEXT) WITHOUT ROWID;"
            "CREATE INDEX main.delivery_ts ON delivery(ts_ns);"
            "CREATE TABLE main.reading(ts_ns INTEGER NOT NULL,"
            " household INTEGER NOT NULL, metric INTEGER NOT NULL,"
            " field INTEGER NOT NULL, value REAL NOT NULL,"
            " PRIMARY KEY(ts_ns, household, metric)) WITHOUT ROWID;"
            "INSERT INTO main.consumer SELECT * FROM r.consumer;"
            "INSERT INTO main.meter_state SELECT * FROM r.meter_state;"
            "INSERT INTO main.usage_daily SELECT * FROM r.usage_daily;"
            "INSERT INTO main.usage_hourly SELECT * FROM r.usage_hourly;"
            "PRAGMA main.user_version=5;"
            "COMMIT;"
            "DETACH r;");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    remove_rollup_db(fx);
    fx_open(fx);
    fx_start(fx);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT user_version FROM"
                                       " pragma_user_version WHERE ?1=?1"
                                       " AND ?2=?2 AND ?3=?3",
                                       0, 0, 0),
                     store__schema_version());
    /* the position moved too: nothing replayed, nothing counted twice */
    assert_two_households_again(fx, daily, hourly);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM main.sqlite_master"
                                       " WHERE name IN ('usage_daily',"
                                       "'usage_hourly','meter_state',"
                                       "'consumer') AND ?1=?1 AND ?2=?2"
                                       " AND ?3=?3",
                                       0, 0, 0),
                     0);
    fx_free(fx);
    clock_wall();
}

/* ---- rollup.db version 2: hourly use by day ---- */

static void exec_rollup_db(struct fixture *fx, const char *sql)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/rollup.db", fx->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(store__daily_block_functions(db), 0);
    exec_ok(db, sql);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The rows of a query, one line each, as text. */
static char *dump_db(sqlite3 *db, const char *sql)
{
    struct sbuf out = SBUF_INIT;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(s); c++) {
            const unsigned char *t = sqlite3_column_text(s, c);
            sbuf_addf(&out, "%s%s", c ? "," : "", t ? (const char *)t : "-");
        }
        sbuf_addch(&out, '\n');
    }
    sqlite3_finalize(s);
    return sbuf_detach(&out, NULL);
}

static char *dump(struct store *st, const char *sql)
{
    sqlite3 *db = store_read_begin(st);
    char *rows = dump_db(db, sql);
    store_read_end(st, db);
    return rows;
}

static const char hourly_sql[] =
    "SELECT household, metric, hour, printf('%.9f', use) FROM usage_hourly"
    " ORDER BY hour, household, metric";

static char *dump_rollup_db(struct fixture *fx, const char *sql)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/rollup.db", fx->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(store__daily_block_functions(db), 0);
    char *rows = dump_db(db, sql);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return rows;
}

/* A rollup.db of version 1 (usage_hourly a table, a row per hour) is
 * migrated: its hours move into usage_hours, a row per meter and district
 * day, nothing lost or doubled, and the roll-up goes on adding to them. */
static void test_migrate_rollup_v1_hourly(void **state)
{
    struct fixture *fx = fx_new(60000);
    write_two_households(fx);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 24);
    int64_t t = local_midnight(2026, 11, 5);
    for (int i = 0; i < 24; i++) /* every hour of a day, and beyond */
        set_reading(&b, (size_t)i, 1, METRIC_ELECTRICITY, READING_DELTA,
                    t + (i + 1) * HOUR_NS + 7 * HOUR_NS, 0.5 + i);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    double daily = total_use(fx->st), hourly = total_hourly(fx->st);
    store_close(fx->st);
    fx->st = NULL;
    /* version 1's table, with more meters and hours around midnight and
     * before 1970 (negative hours) */
    exec_rollup_db(fx,
                   "BEGIN;"
                   "CREATE TABLE old_hourly(household INTEGER NOT NULL,"
                   " metric INTEGER NOT NULL, hour INTEGER NOT NULL,"
                   " use REAL NOT NULL, PRIMARY KEY(hour, household, metric))"
                   " WITHOUT ROWID;"
                   "INSERT INTO old_hourly SELECT * FROM usage_hourly;"
                   "DROP VIEW usage_hourly;"
                   "DROP VIEW usage_hours;"
                   "DROP TABLE usage_hour_data;"
                   "ALTER TABLE old_hourly RENAME TO usage_hourly;"
                   "INSERT INTO usage_hourly VALUES(900, 2, -33, 0.5),"
                   " (900, 2, -9, 1.25), (900, 2, -8, 2.5), (900, 2, 15, 4),"
                   " (901, 0, 15, 8), (900, 2, 16, 16), (901, 1, 16, 32),"
                   " (900, 0, 16, 64);"
                   "PRAGMA user_version=1;"
                   "COMMIT;");
    char *before = dump_rollup_db(fx, hourly_sql);
    hourly += 128.25;
    fx_open(fx);
    fx_start(fx);
    assert_int_equal(
        (int)query_double(fx->st, "PRAGMA rollup.user_version", 0, 0, 0),
        store__rollup_schema_version());
    char *after = dump(fx->st, hourly_sql);
    assert_string_equal(after, before);
    free(after);
    after = dump(fx->st, "SELECT household, metric, day, h0, h23 FROM"
                         " usage_hours WHERE household>=900"
                         " ORDER BY day, household, metric");
    assert_string_equal(after, "900,2,-2,-,0.5\n"
                               "900,2,-1,-,1.25\n"
                               "900,2,0,2.5,4.0\n"
                               "901,0,0,-,8.0\n"
                               "900,0,1,64.0,-\n"
                               "900,2,1,16.0,-\n"
                               "901,1,1,32.0,-\n");
    assert_true(NEAR(total_use(fx->st), daily));
    assert_true(NEAR(total_hourly(fx->st), hourly));
    /* 17 hours of Nov 5 and 7 of Nov 6, one row each day */
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM usage_hours"
                                       " WHERE household=?1 AND metric=?2"
                                       " AND day>=?3",
                                       1, METRIC_ELECTRICITY, nov(5)),
                     2);
    /* more use for hours the old table had: added to them (a late delta
     * of an hour's grain, half in each hour) */
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, 1, METRIC_ELECTRICITY, READING_DELTA,
                t + 30 * HOUR_NS + HOUR_NS / 2, 100);
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(total_hourly(fx->st), hourly + 100));
    assert_true(NEAR(query_double(fx->st,
                                  "SELECT use FROM usage_hourly WHERE"
                                  " household=?1 AND metric=1 AND hour=?2"
                                  " AND ?3=?3",
                                  1, (t + 30 * HOUR_NS) / HOUR_NS, 0),
                     50 + 23.5));
    free(before);
    free(after);
    fx_free(fx);
}

/* A rollup.db made by the code before compact hourly use (version 3:
 * usage_hours a table, a REAL column per hour) migrates in place: every
 * hour reads the same (copied exact), usage_hours and usage_hourly become
 * views of usage_hour_data, and the roll-up goes on adding to them. */
static void test_migrate_rollup_v3_hours(void **state)
{
    struct fixture *fx = fx_new(60000);
    write_two_households(fx);
    int64_t t = local_midnight(2026, 11, 5), day = store__day_of(t) + 1;
    struct ingest_batch b;
    struct store_write_result res;
    double daily = total_use(fx->st);
    store_close(fx->st);
    fx->st = NULL;
    /* version 3's table, from the current rows, and odd values */
    struct sbuf sql = SBUF_INIT, every_hour = SBUF_INIT;
    sbuf_addstr(&sql, "BEGIN; CREATE TABLE old_hours(household INTEGER NOT"
                      " NULL, metric INTEGER NOT NULL, day INTEGER NOT NULL");
    sbuf_addstr(&every_hour, "SELECT household, metric, day");
    for (int h = 0; h < 24; h++) {
        sbuf_addf(&sql, ", h%d REAL", h);
        sbuf_addf(&every_hour, ", printf('%%.17g', h%d)", h);
    }
    sbuf_addf(&sql,
              ", PRIMARY KEY(day, household, metric)) WITHOUT ROWID;"
              "INSERT INTO old_hours SELECT * FROM usage_hours;"
              "INSERT INTO old_hours(household, metric, day, h0, h5,"
              " h23) VALUES(900, 2, -1, NULL, 0.1, 1e300),"
              " (901, 0, 7, 1.0000001, NULL, -2.5),"
              " (902, 1, 8, NULL, NULL, NULL);"
              "INSERT INTO old_hours(household, metric, day, h6)"
              " VALUES(1, %d, %lld, 2.5);"
              "DROP VIEW usage_hourly; DROP VIEW usage_hours;"
              "DROP TABLE usage_hour_data;"
              "ALTER TABLE old_hours RENAME TO usage_hours;"
              "CREATE VIEW usage_hourly AS SELECT 1;"
              "PRAGMA user_version=3; COMMIT;",
              METRIC_ELECTRICITY, (long long)day);
    sbuf_addstr(&every_hour, " FROM usage_hours WHERE household<>902"
                             " ORDER BY day, household, metric");
    exec_rollup_db(fx, sql.buf);
    char *before = dump_rollup_db(fx, every_hour.buf);
    fx_open(fx);
    fx_start(fx);
    assert_int_equal(
        (int)query_double(fx->st, "PRAGMA rollup.user_version", 0, 0, 0),
        store__rollup_schema_version());
    assert_int_equal(store__rollup_schema_version(), 5);
    char *after = dump(fx->st, every_hour.buf);
    assert_string_equal(after, before);
    free(after);
    free(before);
    sbuf_release(&sql);
    sbuf_release(&every_hour);
    /* the empty row is gone */
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT count(*) FROM usage_hour_data"
                                       " WHERE household>=?1 AND ?2=?2"
                                       " AND ?3=?3",
                                       900, 0, 0),
                     2);
    assert_true(NEAR(total_use(fx->st), daily));
    /* more use for a migrated hour (06:00-07:00 of Nov 6) adds to it */
    batch_new(&b, FEED_READINGS, 2);
    set_reading(&b, 0, 1, METRIC_ELECTRICITY, READING_DELTA, t + 30 * HOUR_NS,
                7);
    set_reading(&b, 1, 1, METRIC_ELECTRICITY, READING_DELTA, t + 31 * HOUR_NS,
                100);
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_true(NEAR(query_double(fx->st,
                                  "SELECT use FROM usage_hourly WHERE"
                                  " household=?1 AND metric=?2 AND hour=?3",
                                  1, METRIC_ELECTRICITY, day * 24 - 8 + 6),
                     102.5));
    fx_free(fx);
}

/* Hourly use is stored at its metric's resolution (0.01 kWh by default),
 * daily use exact; the snapshot scan hands on the values usage_hourly
 * reads. */
struct hour_seen {
    double sum;
    int n;
};

static void count_hour(void *ctx, int32_t household, int metric, int64_t hour,
                       double use)
{
    struct hour_seen *seen = ctx;
    seen->sum += use;
    seen->n++;
}

static void test_hourly_use_at_resolution(void **state)
{
    struct fixture *fx = fx_new(60000);
    add_households(fx->st, 1);
    int64_t t = local_midnight(2026, 11, 5);
    struct ingest_batch b;
    struct store_write_result res;
    batch_new(&b, FEED_READINGS, 2);
    /* 0.13 kWh over 01:00-02:30: 2/3 in hour 1, 1/3 in hour 2 */
    set_reading(&b, 0, 1, METRIC_ELECTRICITY, READING_INDEX, t + HOUR_NS, 10);
    set_reading(&b, 1, 1, METRIC_ELECTRICITY, READING_INDEX,
                t + 5 * HOUR_NS / 2, 10.13);
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    char *rows = dump(fx->st, "SELECT h0, h1, h2 FROM usage_hours");
    assert_string_equal(rows, "-,0.09,0.04\n");
    free(rows);
    assert_true(
        NEAR(usage_day(fx->st, 1, METRIC_ELECTRICITY, store__day_of(t)), 0.13));
    struct store_snapshot *snap = NULL;
    struct hour_seen seen = {0, 0};
    assert_int_equal(store_snapshot_begin(fx->st, &snap), 0);
    assert_int_equal(store_scan_usage_hourly(snap, store__day_of(t) - 1,
                                             count_hour, &seen, NULL),
                     0);
    store_snapshot_end(snap);
    assert_int_equal(seen.n, 2);
    assert_true(NEAR(seen.sum, 0.13));
    assert_true(NEAR(total_hourly(fx->st), 0.13));
    fx_free(fx);
}

/* The view usage_hourly takes inserts (added to the hour) and deletes (of
 * that hour only), as main migration 6 needs. */
/* A rollup.db made by the code before daily blocks (version 2: usage_daily
 * rows only) migrates in place: its rows stay where they are and read the
 * same, and compaction then moves the past ones into blocks. */
static void test_migrate_rollup_v2_daily_blocks(void **state)
{
    clock_before_data();
    struct fixture *fx = fx_new(60000);
    add_households(fx->st, 2);
    int64_t today = store__day_of(time_now_ns());
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 160);
    for (int d = 0; d < 80; d++)
        for (int h = 0; h < 2; h++)
            set_reading(&b, (size_t)(d * 2 + h), h + 1, METRIC_WATER,
                        READING_INDEX, (today - 80 + d) * DAY_NS + 4 * HOUR_NS,
                        100 + d * (1.5 + h));
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    static const char *const daily_sql =
        "SELECT household, metric, day, printf('%.9f', use), n FROM"
        " usage_daily_all ORDER BY household, metric, day";
    char *before = dump(fx->st, daily_sql);
    store_close(fx->st);
    fx->st = NULL;
    exec_rollup_db(fx, "BEGIN;"
                       "DROP VIEW usage_daily_all;"
                       "DROP TABLE usage_daily_block;"
                       "PRAGMA user_version=2;"
                       "COMMIT;");
    fx_open(fx);
    fx_start(fx);
    assert_int_equal(
        (int)query_double(fx->st, "PRAGMA rollup.user_version", 0, 0, 0),
        store__rollup_schema_version());
    char *after = dump(fx->st, daily_sql);
    assert_string_equal(after, before);
    free(after);
    clock_wall(); /* a new district day: the past days go into blocks */
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM usage_daily_block WHERE"
                             " ?1=?1 AND ?2=?2 AND ?3=?3",
                             0, 0, 0) > 0);
    after = dump(fx->st, daily_sql);
    assert_string_equal(after, before);
    free(after);
    free(before);
    fx_free(fx);
    clock_wall();
}

/* A corrupt block of daily use is skipped by every reader, and the next
 * compaction into it replaces it: the roll-up's checkpoints go on. */
static void test_corrupt_daily_block(void **state)
{
    struct fixture *fx = fx_new(60000);
    add_households(fx->st, 1);
    int64_t today = store__day_of(time_now_ns());
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 100);
    for (int d = 0; d < 100; d++)
        set_reading(&b, (size_t)d, 1, METRIC_GAS, READING_DELTA,
                    (today - 100 + d) * DAY_NS + 4 * HOUR_NS, 2);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    store_close(fx->st);
    fx->st = NULL;
    int64_t bad_day = today - 98; /* 2 (half and half of two readings) */
    char sql[160];
    snprintf(sql, sizeof(sql),
             "UPDATE usage_daily_block SET data=x'ff00' WHERE block=%lld;",
             (long long)store__daily_block_of(bad_day));
    exec_rollup_db(fx, sql);
    fx_open(fx);
    fx_start(fx);
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_GAS, bad_day + 64), 2));
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_GAS, bad_day), 0));
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(render_usage_daily(fx->st, 1, today - 120, today + 1, &sb),
                     0);
    sbuf_release(&sb);
    static struct day_seen seen;
    int64_t newest;
    scan_days(fx->st, today - 120, &seen, &newest);
    assert_true(seen.n > 0);
    /* a late reading of that day; compaction replaces the block */
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, 1, METRIC_GAS, READING_DELTA,
                bad_day * DAY_NS - 8 * HOUR_NS + DAY_NS, 5);
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_GAS, bad_day), 5));
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM usage_daily WHERE day=?1"
                             " AND ?2=?2 AND ?3=?3",
                             bad_day, 0, 0) == 0);
    fx_free(fx);
}

/* A late reading of a day already in a block updates it exactly: the
 * block's value is the decimal count at the resolution (0.01 kWh), grown
 * by the late part's count, and n by one; a replay of the log (the
 * roll-up rebuilt) gives the same tables. */
static void test_daily_late_reading_exact(void **state)
{
    struct fixture *fx = fx_new(60000);
    fx->cfg.log_keep_hours = 1; /* a clean stop keeps the log */
    fx_reopen(fx);
    add_households(fx->st, 1);
    int64_t today = store__day_of(time_now_ns());
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 20);
    for (int d = 0; d < 20; d++) /* (day - 1 day, day] at local noon */
        set_reading(&b, (size_t)d, 1, METRIC_ELECTRICITY, READING_DELTA,
                    (today - 20 + d) * DAY_NS + 4 * HOUR_NS, 3.333 + 0.017 * d);
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    int64_t day = today - 10;
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM usage_daily WHERE day=?1"
                             " AND ?2=?2 AND ?3=?3",
                             day, 0, 0) == 0);
    double was = usage_day(fx->st, 1, METRIC_ELECTRICITY, day);
    double was_n = query_double(fx->st,
                                "SELECT sum(n) FROM usage_daily_all WHERE"
                                " household=?1 AND metric=?2 AND day=?3",
                                1, METRIC_ELECTRICITY, day + 1);
    assert_true(was == (double)llround(was * 100) / 100);
    double was_next = usage_day(fx->st, 1, METRIC_ELECTRICITY, day + 1);
    /* a late reading of (day 08:00, day + 1 08:00] local: two thirds of
     * its 5 kWh in the day (3.333.. -> 3.33), a third in the next (1.666..
     * -> 1.67), where its n counts; both days blocked already */
    batch_new(&b, FEED_READINGS, 1);
    set_reading(&b, 0, 1, METRIC_ELECTRICITY, READING_DELTA, (day + 1) * DAY_NS,
                5);
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM usage_daily WHERE day=?1"
                             " AND ?2=?2 AND ?3=?3",
                             day, 0, 0) == 0);
    double now = usage_day(fx->st, 1, METRIC_ELECTRICITY, day);
    double now_next = usage_day(fx->st, 1, METRIC_ELECTRICITY, day + 1);
    assert_true(llround(now * 100) == llround(was * 100) + 333);
    assert_true(llround(now_next * 100) == llround(was_next * 100) + 167);
    /* exact decimals: the block holds the counts */
    assert_true(now == (double)llround(now * 100) / 100);
    assert_true(now_next == (double)llround(now_next * 100) / 100);
    assert_true(query_double(fx->st,
                             "SELECT sum(n) FROM usage_daily_all WHERE"
                             " household=?1 AND metric=?2 AND day=?3",
                             1, METRIC_ELECTRICITY, day + 1) == was_n + 1);
    static const char *const all_sql =
        "SELECT household, metric, day, printf('%.17g', use), n FROM"
        " usage_daily_all ORDER BY household, metric, day";
    char *before = dump(fx->st, all_sql);
    /* the roll-up rebuilt from the log, the late reading applied before
     * its day is blocked this time: the same values */
    store_close(fx->st);
    fx->st = NULL;
    remove_rollup_db(fx);
    fx_open(fx);
    fx_start(fx);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    char *after = dump(fx->st, all_sql);
    assert_string_equal(after, before);
    free(after);
    free(before);
    fx_free(fx);
}

/* Rollup schema 4's blocks (exact doubles, a 4-byte mask) migrate in place
 * (migration 5): re-encoded raw, every value to the bit and every n, read
 * by every reader; a late row then rewrites its block at the resolution. */
static void old_block(const struct codec_days *d, struct sbuf *out)
{
    unsigned char m[4] = {(unsigned char)d->mask, (unsigned char)(d->mask >> 8),
                          (unsigned char)(d->mask >> 16),
                          (unsigned char)(d->mask >> 24)};
    sbuf_add(out, m, 4);
    for (int i = 0; i < STORE_DAILY_BLOCK_DAYS; i++) {
        if (!(d->mask >> i & 1))
            continue;
        uint64_t u, n = d->n[i];
        memcpy(&u, &d->use[i], sizeof(u));
        for (int k = 0; k < 8; k++)
            sbuf_addch(out, (char)(u >> (8 * k)));
        do {
            unsigned char c = (unsigned char)(n & 0x7f);
            n >>= 7;
            sbuf_addch(out, (char)(n ? c | 0x80 : c));
        } while (n);
    }
}

static void test_migrate_rollup_v4_daily_compact(void **state)
{
    struct fixture *fx = fx_new(60000);
    add_households(fx->st, 2);
    int64_t today = store__day_of(time_now_ns());
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 120);
    for (int d = 0; d < 60; d++)
        for (int h = 0; h < 2; h++)
            set_reading(&b, (size_t)(d * 2 + h), h + 1, METRIC_WATER,
                        READING_INDEX, (today - 60 + d) * DAY_NS + 4 * HOUR_NS,
                        100 + d * (1.5 + h));
    struct store_write_result res;
    assert_int_equal(store_write(fx->st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(store_retention_run(fx->st, NULL), 0);
    store_close(fx->st);
    fx->st = NULL;
    /* back to schema 4: every block in the old format, one value finer
     * than any resolution */
    char path[128];
    snprintf(path, sizeof(path), "%s/rollup.db", fx->dir);
    sqlite3 *db;
    sqlite3_stmt *q, *u;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "BEGIN; CREATE TEMP TABLE blocks AS SELECT * FROM"
                " usage_daily_block");
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT block, household, metric,"
                                        " data FROM temp.blocks",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE usage_daily_block SET data=?4"
                                        " WHERE block=?1 AND household=?2"
                                        " AND metric=?3",
                                        -1, &u, NULL),
                     SQLITE_OK);
    int blocks = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        struct codec_days d;
        struct sbuf sb = SBUF_INIT;
        assert_int_equal(codec_days_decode(sqlite3_column_blob(q, 3),
                                           (size_t)sqlite3_column_bytes(q, 3),
                                           &d, NULL),
                         0);
        if (!blocks++)
            for (int i = 0; i < STORE_DAILY_BLOCK_DAYS; i++)
                if (d.mask >> i & 1) {
                    d.use[i] = 1.23456789012345;
                    break;
                }
        old_block(&d, &sb);
        for (int k = 1; k <= 3; k++)
            sqlite3_bind_int64(u, k, sqlite3_column_int64(q, k - 1));
        sqlite3_bind_blob(u, 4, sb.buf, (int)sb.len, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(u), SQLITE_DONE);
        sqlite3_reset(u);
        sbuf_release(&sb);
    }
    sqlite3_finalize(q);
    sqlite3_finalize(u);
    exec_ok(db, "PRAGMA user_version=4; COMMIT");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_true(blocks >= 4);
    /* what schema 4 read (its decoder, here in the test) */
    static const char *const all_sql =
        "SELECT household, metric, day, printf('%.17g', use), n FROM"
        " usage_daily_all ORDER BY household, metric, day";
    fx_open(fx);
    fx_start(fx);
    assert_int_equal(
        (int)query_double(fx->st, "PRAGMA rollup.user_version", 0, 0, 0), 5);
    char *after = dump(fx->st, all_sql);
    assert_non_null(strstr(after, ",1.234567890123"));
    /* every value as the roll-up wrote it, but the one changed */
    assert_true(query_double(fx->st,
                             "SELECT count(*) FROM usage_daily_all WHERE"
                             " use*1000<>round(use*1000) AND ?1=?1 AND"
                             " ?2=?2 AND ?3=?3",
                             0, 0, 0) == 1);
    assert_true(query_double(fx->st,
                             "SELECT sum(n) FROM usage_daily_all WHERE ?1=?1"
                             " AND ?2=?2 AND ?3=?3",
                             0, 0, 0) == 120);
    free(after);
    fx_free(fx);
}

static void test_hourly_view_writes(void **state)
{
    struct fixture *fx = fx_new(60000);
    store_close(fx->st);
    fx->st = NULL;
    /* hour 16 is 00:00-01:00 of district day 1; -9 is 23:00 of day -1 */
    exec_rollup_db(fx, "INSERT INTO usage_hourly VALUES(7, 1, 16, 1.5);"
                       "INSERT INTO usage_hourly VALUES(7, 1, 16, 1.5);"
                       "INSERT INTO usage_hourly VALUES(7, 1, 39, 2);"
                       "INSERT INTO usage_hourly VALUES(7, 1, -9, 4);"
                       "INSERT INTO usage_hourly VALUES(8, 0, 40, 0);");
    fx_open(fx);
    char *rows = dump(fx->st, "SELECT household, metric, day, h0, h1, h23"
                              " FROM usage_hours ORDER BY day, household");
    assert_string_equal(rows, "7,1,-1,-,-,4.0\n"
                              "7,1,1,3.0,-,2.0\n"
                              "8,0,2,0.0,-,-\n");
    free(rows);
    rows = dump(fx->st, hourly_sql);
    assert_string_equal(rows, "7,1,-9,4.000000000\n"
                              "7,1,16,3.000000000\n"
                              "7,1,39,2.000000000\n"
                              "8,0,40,0.000000000\n");
    free(rows);
    store_close(fx->st);
    fx->st = NULL;
    exec_rollup_db(fx, "DELETE FROM usage_hourly WHERE hour=16;"
                       "DELETE FROM usage_hourly WHERE household=8;");
    fx_open(fx);
    rows = dump(fx->st, "SELECT household, metric, day, h0, h1, h23"
                        " FROM usage_hours ORDER BY day, household");
    assert_string_equal(rows, "7,1,-1,-,-,4.0\n"
                              "7,1,1,-,-,2.0\n");
    free(rows);
    fx_start(fx);
    fx_free(fx);
}

/* ---- checkpoints by size, and exact replay ---- */

static int64_t checkpointed_seq(struct store *st)
{
    return (int64_t)query_double(st,
                                 "SELECT coalesce(max(seq),0) FROM"
                                 " rollup.consumer WHERE ?1=?1 AND ?2=?2"
                                 " AND ?3=?3",
                                 0, 0, 0);
}

static int64_t write_hourly_batch(struct store *st, int32_t hh, int64_t t,
                                  int n)
{
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, (size_t)n);
    for (int i = 0; i < n; i++)
        set_reading(&b, (size_t)i, hh, METRIC_WATER, READING_INDEX,
                    t + i * HOUR_NS, 100 + (t / HOUR_NS + i) % 1000 * 0.01);
    struct store_write_result res;
    assert_int_equal(store_write(st, &b, "m", &res), 0);
    ingest_batch_release(&b);
    return res.seq;
}

static void wait_checkpointed(struct store *st, int64_t seq, int line)
{
    for (int i = 0; i < 5000 && checkpointed_seq(st) < seq; i++)
        usleep(1000);
    if (checkpointed_seq(st) < seq)
        fail_msg("not checkpointed by size (line %d)", line);
}

/* With checkpoints only on demand by time, the size triggers still
 * checkpoint: by readings applied and by additions waiting. */
static void test_checkpoint_by_size(void **state)
{
    clock_before_data();
    struct fixture *fx = fx_new(60000);
    add_households(fx->st, 2);
    store_test_rollup_checkpoint_size(fx->st, 10, 0);
    int64_t t = local_midnight(2026, 11, 1);
    int64_t seq = write_hourly_batch(fx->st, 1, t, 12);
    wait_checkpointed(fx->st, seq, __LINE__);
    assert_true(NEAR(usage_day(fx->st, 1, METRIC_WATER, nov(1)),
                     query_double(fx->st,
                                  "SELECT sum(use) FROM usage_hourly"
                                  " WHERE household=?1 AND metric=?2"
                                  " AND ?3=?3",
                                  1, METRIC_WATER, 0)));
    /* 8 readings, but 6 additions: each new hour closes the last one */
    store_test_rollup_checkpoint_size(fx->st, 0, 6);
    seq = write_hourly_batch(fx->st, 2, t, 8);
    wait_checkpointed(fx->st, seq, __LINE__);
    assert_int_equal((int)query_double(fx->st,
                                       "SELECT n FROM usage_daily WHERE"
                                       " household=?1 AND metric=?2"
                                       " AND day=?3",
                                       2, METRIC_WATER, nov(1)),
                     8);
    /* neither reached: nothing checkpointed without a flush */
    store_test_rollup_checkpoint_size(fx->st, 1000, 1000);
    int64_t before = checkpointed_seq(fx->st);
    seq = write_hourly_batch(fx->st, 2, t + 8 * HOUR_NS, 2);
    struct store_stats stats;
    do {
        usleep(1000);
        store_get_stats(fx->st, &stats);
    } while ((int64_t)stats.rollup_seq < seq);
    usleep(20000);
    assert_int_equal(checkpointed_seq(fx->st), before);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    assert_int_equal(checkpointed_seq(fx->st), seq);
    fx_free(fx);
    clock_wall();
}

/* A deterministic mix of meters: index and delta, hourly, 15-minute,
 * daily and irregular, with rollovers, replacements and late readings. */
struct mix {
    uint64_t rng;
    int64_t t[4 * METRIC_COUNT];
    double v[4 * METRIC_COUNT];
};

static uint64_t mix_next(struct mix *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static void mix_batch(struct mix *m, struct ingest_batch *b, int n)
{
    static const int64_t grains[] = {HOUR_NS, 15 * 60 * NS, DAY_NS,
                                     37 * 60 * NS};
    batch_new(b, FEED_READINGS, (size_t)n);
    for (int i = 0; i < n; i++) {
        int k = (int)(mix_next(m) % (4 * METRIC_COUNT));
        int delta = k % 5 == 4, late = mix_next(m) % 11 == 0;
        int64_t grain = grains[k % 4];
        m->t[k] += grain + (int64_t)(mix_next(m) % 3) * (grain / 2);
        int64_t ts = late ? m->t[k] - (int64_t)(1 + mix_next(m) % 40) *
                                          (grain / 4 + 60 * NS)
                          : m->t[k];
        double use = (double)(mix_next(m) % 1000) * 0.001;
        if (!delta && !late)
            m->v[k] += use;
        if (!delta && mix_next(m) % 97 == 0)
            m->v[k] = m->v[k] > 5 ? 0.2 : 9999.95; /* replaced/rollover */
        set_reading(b, (size_t)i, 1 + k / METRIC_COUNT, k % METRIC_COUNT,
                    delta ? READING_DELTA : READING_INDEX, ts + (int64_t)i,
                    delta ? use : m->v[k]);
    }
}

static void write_mix(struct store *st, struct mix *m, int batches,
                      int64_t *OUT_seq)
{
    for (int i = 0; i < batches; i++) {
        struct ingest_batch b;
        mix_batch(m, &b, 1 + (int)(mix_next(m) % 40));
        struct store_write_result res;
        assert_int_equal(store_write(st, &b, "m", &res), 0);
        ingest_batch_release(&b);
        if (res.seq)
            *OUT_seq = res.seq;
    }
}

static void wait_applied(struct store *st, int64_t seq)
{
    struct store_stats stats;
    do {
        usleep(1000);
        store_get_stats(st, &stats);
    } while ((int64_t)stats.rollup_seq < seq);
}

static struct mix mix_start(void)
{
    struct mix m = {.rng = 88172645463325252ULL};
    for (int k = 0; k < 4 * METRIC_COUNT; k++) {
        m.t[k] = local_midnight(2026, 11, 1) + k * 7 * 60 * NS;
        m.v[k] = 9990 + k;
    }
    return m;
}

/* Everything the roll-up wrote, as text. */
static char *dump_rollup(struct store *st)
{
    struct sbuf all = SBUF_INIT;
    static const char *const sql[] = {
        /* both tiers: which one holds a day depends on when the blocks
         * were written, its value and n do not */
        "SELECT household, metric, day, printf('%.9f', sum(use)), sum(n)"
        " FROM usage_daily_all GROUP BY day, household, metric"
        " ORDER BY day, household, metric",
        hourly_sql,
        "SELECT household, metric, first_ts_ns, printf('%.9f', first_index),"
        " last_ts_ns, printf('%.9f', last_index), flags, resets,"
        " replacements, late, grain_ns FROM meter_state"
        " ORDER BY household, metric"};
    for (int i = 0; i < 3; i++) {
        char *part = dump(st, sql[i]);
        sbuf_addf(&all, "--\n%s", part);
        free(part);
    }
    return sbuf_detach(&all, NULL);
}

/* The same log rolled up in one checkpoint, or in many small ones with a
 * crash between two (applied, not checkpointed, then replayed) and failed
 * checkpoints, gives the same tables to the last digit printed. */
static void test_checkpoints_and_crash_change_nothing(void **state)
{
    struct mix m = mix_start();
    struct fixture *one = fx_new(60000);
    add_households(one->st, 4);
    int64_t seq = 0;
    write_mix(one->st, &m, 120, &seq);
    assert_int_equal(store_rollup_flush(one->st), 0);
    char *want = dump_rollup(one->st);
    fx_free(one);

    m = mix_start();
    struct fixture *fx = fx_new(60000);
    add_households(fx->st, 4);
    store_test_rollup_checkpoint_size(fx->st, 7, 5);
    write_mix(fx->st, &m, 40, &seq);
    wait_checkpointed(fx->st, seq, __LINE__);
    store_test_rollup_checkpoint_size(fx->st, 1000000, 1000000);
    write_mix(fx->st, &m, 40, &seq);
    wait_applied(fx->st, seq);
    store_test_skip_checkpoint(fx->st);
    fx_reopen(fx);
    store_test_rollup_checkpoint_size(fx->st, 3, 0);
    write_mix(fx->st, &m, 30, &seq);
    wait_checkpointed(fx->st, seq, __LINE__);
    /* two failed checkpoints (rolled back, retried) lose nothing */
    store_test_rollup_checkpoint_size(fx->st, 1000000, 1000000);
    store_test_fail_rollup_checkpoints(fx->st, 2);
    write_mix(fx->st, &m, 10, &seq);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    char *got = dump_rollup(fx->st);
    assert_string_equal(got, want);
    free(got);
    free(want);
    fx_free(fx);
}

/* Rolls up two deltas ten days apart, then one batch of 6,000 late deltas
 * (each spread over ten days: ~66,000 additions), with the additions
 * trigger at adds (0: built in); returns the tables. */
static char *late_batch_rollup(size_t adds)
{
    struct fixture *fx = fx_new(60000);
    add_households(fx->st, 2);
    store_test_rollup_checkpoint_size(fx->st, 0, adds);
    int64_t t0 = local_midnight(2026, 10, 1);
    struct ingest_batch b;
    struct store_write_result res;
    batch_new(&b, FEED_READINGS, 2);
    set_reading(&b, 0, 1, METRIC_GAS, READING_DELTA, t0, 1.0);
    set_reading(&b, 1, 1, METRIC_GAS, READING_DELTA, t0 + 10 * DAY_NS, 1.0);
    assert_int_equal(store_write(fx->st, &b, "t", &res), 0);
    ingest_batch_release(&b);
    batch_new(&b, FEED_READINGS, 6000);
    for (size_t i = 0; i < 6000; i++)
        set_reading(&b, i, 1, METRIC_GAS, READING_DELTA,
                    t0 + 5 * DAY_NS + (int64_t)i * 37 * NS, 0.001 * (double)i);
    assert_int_equal(store_write(fx->st, &b, "t", &res), 0);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    char *tables = dump_rollup(fx->st);
    fx_free(fx);
    return tables;
}

/* Past the additions trigger, a batch's additions are summed in place
 * (pending memory bounded by the rows touched); the tables come out the
 * same to the last digit printed. */
static void test_pending_additions_compacted(void **state)
{
    char *want = late_batch_rollup(0);
    char *got = late_batch_rollup(100);
    assert_string_equal(got, want);
    assert_non_null(strstr(want, "\n1,2,"));
    free(got);
    free(want);
}

/* ---- the meter model alone ---- */

static void test_meter_model(void **state)
{
    struct meter m = {0};
    struct meter_use u;
    store__meter_apply(&m, READING_INDEX, 10 * NS, 99999.2, &u);
    assert_false(u.has_use);
    store__meter_apply(&m, READING_INDEX, 20 * NS, 0.3, &u);
    assert_int_equal(u.event, METER_ROLLOVER);
    assert_true(NEAR(u.use, 1.1));
    assert_int_equal(u.t0, 10 * NS);
    assert_int_equal(u.t1, 20 * NS);
    /* float noise is not a replacement */
    store__meter_apply(&m, READING_INDEX, 30 * NS, 0.3 - 1e-12, &u);
    assert_int_equal(u.event, METER_NONE);
    assert_true(NEAR(u.use, 0));
    /* a drop that is no rollover: replaced, the register starts again */
    store__meter_apply(&m, READING_INDEX, 40 * NS, 5000, &u);
    store__meter_apply(&m, READING_INDEX, 50 * NS, 4, &u);
    assert_int_equal(u.event, METER_REPLACED);
    assert_true(NEAR(u.use, 4));
    assert_int_equal(m.resets, 1);
    assert_int_equal(m.replacements, 1);
    /* a delta meter learns its grain */
    struct meter d = {0};
    store__meter_apply(&d, READING_DELTA, 100 * NS, 2, &u);
    assert_true(u.has_use && u.t0 == u.t1);
    store__meter_apply(&d, READING_DELTA, 115 * NS, 2, &u);
    assert_int_equal(u.t0, 100 * NS);
    store__meter_apply(&d, READING_DELTA, 145 * NS, 2, &u); /* one lost */
    assert_int_equal(u.t0, 130 * NS);
    assert_int_equal(d.grain_ns, 15 * NS);
}

/* ---- the ingest_log payload ---- */

static void test_log_payload_round_trip(void **state)
{
    struct sbuf p = SBUF_INIT;
    struct reading r = {.household = 7,
                        .metric = METRIC_GAS,
                        .field = READING_DELTA,
                        .ts_ns = -5,
                        .value = 0.25};
    store__log_begin(&p, FEED_READINGS);
    store__log_reading(&p, &r);
    store__log_reading(&p, &r);
    store__log_finish(&p, 2);
    struct ingest_batch b;
    assert_int_equal(store__log_decode(p.buf, p.len, &b), 0);
    assert_int_equal(b.feed, FEED_READINGS);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.readings[1].household, 7);
    assert_int_equal(b.readings[1].ts_ns, -5);
    assert_true(b.readings[1].value == 0.25);
    store__log_batch_release(&b);
    /* every truncation is rejected */
    for (size_t len = 0; len < p.len; len++)
        assert_int_equal(store__log_decode(p.buf, len, &b), CB_ESTORE);
    struct event e = {.event_id = "120-1",
                      .type = "x",
                      .attrs_json = NULL,
                      .lat = 31.2,
                      .ts_ns = 9};
    store__log_begin(&p, FEED_EVENTS);
    store__log_event(&p, &e, "120", 3);
    store__log_finish(&p, 1);
    assert_int_equal(store__log_decode(p.buf, p.len, &b), 0);
    assert_string_equal(b.events[0].source, "120");
    assert_string_equal(b.events[0].event_id, "120-1");
    assert_null(b.events[0].attrs_json);
    assert_null(b.events[0].street);
    store__log_batch_release(&b);
    /* a huge n in a short payload is rejected before allocating */
    p.buf[4] = p.buf[5] = p.buf[6] = (char)0xff;
    assert_int_equal(store__log_decode(p.buf, p.len, &b), CB_ESTORE);
    /* random bytes never crash */
    srand(7);
    for (int i = 0; i < 2000; i++) {
        unsigned char junk[96];
        size_t len = (size_t)(rand() % (int)sizeof(junk));
        for (size_t j = 0; j < len; j++)
            junk[j] = (unsigned char)rand();
        if (len > 1) {
            junk[0] = STORE_LOG_VERSION;
            junk[1] = (unsigned char)(junk[1] % FEED_COUNT);
        }
        if (store__log_decode(junk, len, &b) == 0)
            store__log_batch_release(&b);
    }
    sbuf_release(&p);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_rollover_and_replacement),
        cmocka_unit_test(test_gap_spreads_over_days),
        cmocka_unit_test(test_out_of_order_readings),
        cmocka_unit_test(test_rollup_survives_restart_and_crash),
        cmocka_unit_test(test_rollup_after_idle_trim),
        cmocka_unit_test(test_day_count_past_16_bits),
        cmocka_unit_test(test_rollup_rebuilt_from_log),
        cmocka_unit_test(test_retention_waits_for_checkpoint),
        cmocka_unit_test(test_log_trimmed_behind_checkpoint),
        cmocka_unit_test(test_use_retention_per_tier),
        cmocka_unit_test(test_daily_block_format),
        cmocka_unit_test(test_daily_use_compacted_into_blocks),
        cmocka_unit_test(test_migrate_rollup_v2_daily_blocks),
        cmocka_unit_test(test_corrupt_daily_block),
        cmocka_unit_test(test_daily_late_reading_exact),
        cmocka_unit_test(test_migrate_rollup_v4_daily_compact),
        cmocka_unit_test(test_migrate_v5_rollups),
        cmocka_unit_test(test_migrate_rollup_v1_hourly),
        cmocka_unit_test(test_hourly_view_writes),
        cmocka_unit_test(test_migrate_rollup_v3_hours),
        cmocka_unit_test(test_hourly_use_at_resolution),
        cmocka_unit_test(test_checkpoint_by_size),
        cmocka_unit_test(test_checkpoints_and_crash_change_nothing),
        cmocka_unit_test(test_pending_additions_compacted),
        cmocka_unit_test(test_meter_model),
        cmocka_unit_test(test_log_payload_round_trip),
    };
    return cmocka_run_group_tests_name("store_rollup", tests, NULL, NULL);
}
