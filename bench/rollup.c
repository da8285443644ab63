/*
 * rollup.c - how fast the roll-up consumer turns the ingest log into use:
 * readings per second of its own thread, through the store's public API.
 *
 * For each pattern it opens a store in a temporary directory, registers the
 * households, writes the readings with store_write while the consumers are
 * not started (the backlog), then, RUNS times: closes the store, deletes
 * rollup.db, reopens, starts the consumers and times store_rollup_flush,
 * i.e. the roll-up rebuilding everything from the log on its own core,
 * checkpoints included (rollup_flush_ms as configured, 1000 by default).
 *
 *   pattern  what                                           like
 *   -------  ---------------------------------------------  ---------------
 *   lp       4 streams of 5,000 consecutive households,     bench/ingest's
 *            electricity delta=0.25, one timestamp a        line protocol
 *            batch, each round +60 s a stream (a meter
 *            reports every 64 minutes)
 *   day15    15-minute electricity index meters, daily      the simulator's
 *            batches of 52 households x 96 readings          daily deliveries
 *            (sorted by time within the batch, as stored)
 *   live15   15-minute index meters, one batch of 5,000     a live feed
 *            households per timestamp
 *
 * A usage subscriber (one call per daily share, as the scene engine's) sums
 * the use it sees; with --scenes the scene engine is attached too, as the
 * server does (its subscribers run on the roll-up thread, its re-scoring
 * worker on its own).  Each run prints readings/s and checksums of rollup.db
 * (sum of daily use and n, sum of hourly use, row counts), which must not
 * change between versions (up to float rounding).
 *
 *   rollup [--pattern lp|day15|live15|all] [--rows N] [--households H]
 *          [--runs N] [--flush-ms MS] [--scenes 0|1] [--dir DIR]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw */
#endif
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "scene/scene.h"
#include "store/store.h"
#include "util/util.h"

#define BATCH 5000
#define STREAMS 4
#define NS 1000000000LL
#define QUARTER_NS (900LL * NS)
#define T0_NS (1700000000LL * NS)
#define DAY15_HOUSEHOLDS 52 /* x 96 = 4,992 readings a batch */

struct bench {
    const char *pattern;
    char dir[300];
    size_t rows;
    int households, runs, flush_ms, scenes;
    int32_t *dense; /* household number (1-based) -> dense id */
    double seen_use;
};

static double seconds_since(int64_t t0)
{
    return (double)(time_monotonic_ns() - t0) / 1e9;
}

static void on_usage(void *ctx, int32_t household, int metric, int64_t day,
                     double use)
{
    (void)household, (void)metric, (void)day;
    ((struct bench *)ctx)->seen_use += use;
}

static int open_store(struct bench *bn, struct store **OUT_st)
{
    struct store_config cfg;
    store_config_defaults(&cfg);
    cfg.dir = bn->dir;
    cfg.sync_full = 0;
    cfg.rollup_flush_ms = bn->flush_ms;
    cfg.rollup_max_lag = 100000000;
    return store_open(&cfg, OUT_st);
}

static int write_batch(struct store *st, const struct ingest_batch *b)
{
    struct store_write_result res;
    int rc;
    while ((rc = store_write(st, b, "bench", &res)) == CB_EBUSY)
        usleep(100);
    return rc;
}

/* ---- the backlog ---- */

static int register_households(struct store *st, struct bench *bn)
{
    struct ingest_batch b;
    int rc = 0;
    for (int first = 1; first <= bn->households && !rc; first += BATCH) {
        int n = bn->households - first + 1 < BATCH ? bn->households - first + 1
                                                   : BATCH;
        ingest_batch_init(&b, FEED_REGISTRY);
        b.households = xcalloc((size_t)n, sizeof(*b.households));
        b.n = b.cap = (size_t)n;
        for (int i = 0; i < n; i++) {
            char id[16], addr[64];
            snprintf(id, sizeof(id), "B%07d", first + i);
            snprintf(addr, sizeof(addr), "bench road %d room %d",
                     (first + i) % 9000, first + i);
            struct household *h = &b.households[i];
            h->household_id = arena_strndup(&b.arena, id, strlen(id));
            h->address = arena_strndup(&b.arena, addr, strlen(addr));
            h->street = "street1";
            h->committee = "committee1";
            h->building = "b1";
            h->lat = 31.2;
            h->lon = 121.5;
        }
        rc = write_batch(st, &b);
        ingest_batch_release(&b);
    }
    bn->dense = xcalloc((size_t)bn->households + 1, sizeof(*bn->dense));
    for (int i = 1; i <= bn->households && !rc; i++) {
        char id[16];
        snprintf(id, sizeof(id), "B%07d", i);
        if ((bn->dense[i] = store_household_resolve(st, id)) < 0)
            rc = -1;
    }
    return rc;
}

static void put(struct reading *r, int32_t hh, int field, int64_t ts,
                double value)
{
    *r = (struct reading){.household = hh,
                          .metric = METRIC_ELECTRICITY,
                          .field = (uint8_t)field,
                          .ts_ns = ts,
                          .value = value};
}

/* Batch k of lp: stream k % 4, round k / 4 (bench/ingest_client.c). */
static size_t fill_lp(const struct bench *bn, size_t k, struct reading *r)
{
    long long stream = (long long)(k % STREAMS), round = (long long)k / STREAMS;
    int64_t ts = T0_NS + (round * 64 + stream) * 60 * NS;
    for (int i = 0; i < BATCH; i++) {
        int h = (int)((stream * 7919 + i) % bn->households) + 1;
        put(&r[i], bn->dense[h], READING_DELTA, ts, 0.25);
    }
    return BATCH;
}

/* A register that grows by a pseudo-random 0..0.5 kWh a quarter. */
static double index_at(int h, long long quarter)
{
    uint64_t x = (uint64_t)h * 0x9E3779B97F4A7C15ULL ^ (uint64_t)quarter;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 29;
    return 1000.0 + (double)h + (double)quarter * 0.25 +
           (double)(x % 1000) * 0.00025;
}

/* Batch k of day15: households of block k % blocks, day k / blocks; the
 * readings sorted by time, as the store logs them. */
static size_t fill_day15(const struct bench *bn, size_t k, struct reading *r)
{
    int blocks = (bn->households + DAY15_HOUSEHOLDS - 1) / DAY15_HOUSEHOLDS;
    int first = (int)(k % (size_t)blocks) * DAY15_HOUSEHOLDS + 1;
    long long day = (long long)(k / (size_t)blocks);
    size_t n = 0;
    for (int q = 0; q < 96; q++)
        for (int h = first; h < first + DAY15_HOUSEHOLDS && h <= bn->households;
             h++) {
            long long quarter = day * 96 + q + 1;
            put(&r[n++], bn->dense[h], READING_INDEX,
                T0_NS + quarter * QUARTER_NS, index_at(h, quarter));
        }
    return n;
}

/* Batch k of live15: 5,000 households at one quarter-hour. */
static size_t fill_live15(const struct bench *bn, size_t k, struct reading *r)
{
    int blocks = (bn->households + BATCH - 1) / BATCH;
    int first = (int)(k % (size_t)blocks) * BATCH + 1;
    long long quarter = (long long)(k / (size_t)blocks);
    size_t n = 0;
    for (int h = first; h < first + BATCH && h <= bn->households; h++)
        put(&r[n++], bn->dense[h], READING_INDEX, T0_NS + quarter * QUARTER_NS,
            index_at(h, quarter));
    return n;
}

static int write_readings(struct store *st, const struct bench *bn,
                          size_t *OUT_rows)
{
    struct ingest_batch b;
    ingest_batch_init(&b, FEED_READINGS);
    b.readings = xcalloc(BATCH, sizeof(*b.readings));
    int rc = 0;
    *OUT_rows = 0;
    for (size_t k = 0; *OUT_rows < bn->rows && !rc; k++) {
        if (!strcmp(bn->pattern, "lp"))
            b.n = fill_lp(bn, k, b.readings);
        else if (!strcmp(bn->pattern, "day15"))
            b.n = fill_day15(bn, k, b.readings);
        else
            b.n = fill_live15(bn, k, b.readings);
        b.cap = b.n;
        rc = write_batch(st, &b);
        *OUT_rows += b.n;
    }
    ingest_batch_release(&b);
    return rc;
}

/* ---- one timed rebuild ---- */

static double query(struct store *st, const char *sql)
{
    sqlite3 *db = store_read_begin(st);
    sqlite3_stmt *s;
    double v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_double(s, 0);
        sqlite3_finalize(s);
    }
    store_read_end(st, db);
    return v;
}

static void remove_rollup_db(const struct bench *bn)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char path[400];
        snprintf(path, sizeof(path), "%s/rollup.db%s", bn->dir, suffix[i]);
        unlink(path);
    }
}

static int timed_rebuild(struct bench *bn, size_t rows, double *OUT_rate)
{
    struct store *st;
    remove_rollup_db(bn);
    if (open_store(bn, &st))
        return -1;
    bn->seen_use = 0;
    store_subscribe_usage(st, on_usage, bn);
    struct scene_engine *eng = NULL;
    struct scene_config sc;
    scene_config_defaults(&sc);
    if (bn->scenes &&
        (scene_engine_new(&sc, &eng) || scene_engine_attach(eng, st))) {
        store_close(st);
        scene_engine_free(eng);
        return -1;
    }
    int64_t t0 = time_monotonic_ns();
    int rc = store_start_consumers(st) || store_rollup_flush(st) ? -1 : 0;
    double secs = seconds_since(t0);
    *OUT_rate = (double)rows / secs;
    if (!rc)
        printf("  %-6s %9zu readings %6.2f s %9.0f readings/s | daily "
               "use %.4f n %.0f rows %.0f | hourly use %.4f rows %.0f | "
               "seen %.4f\n",
               bn->pattern, rows, secs, *OUT_rate,
               query(st, "SELECT sum(use) FROM usage_daily_all"),
               query(st, "SELECT sum(n) FROM usage_daily_all"),
               query(st, "SELECT count(*) FROM usage_daily"),
               query(st, "SELECT sum(use) FROM usage_hourly"),
               query(st, "SELECT count(*) FROM usage_hourly"), bn->seen_use);
    fflush(stdout);
    store_close(st);
    scene_engine_free(eng);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int run_pattern(struct bench *bn, const char *base)
{
    struct store *st;
    size_t rows;
    snprintf(bn->dir, sizeof(bn->dir), "%s/%s", base, bn->pattern);
    if (open_store(bn, &st))
        return -1;
    int rc = register_households(st, bn) || write_readings(st, bn, &rows);
    store_close(st);
    double *rate = xcalloc((size_t)bn->runs, sizeof(*rate));
    for (int i = 0; i < bn->runs && !rc; i++)
        rc = timed_rebuild(bn, rows, &rate[i]);
    if (!rc) {
        qsort(rate, (size_t)bn->runs, sizeof(*rate), cmp_double);
        printf("%s: median of %d: %.0f readings/s\n", bn->pattern, bn->runs,
               rate[bn->runs / 2]);
    }
    free(rate);
    free(bn->dense);
    bn->dense = NULL;
    nftw(bn->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int main(int argc, char **argv)
{
    struct bench bn = {
        .rows = 4000000, .households = 100000, .runs = 3, .flush_ms = 1000};
    const char *pattern = "all";
    char base[256] = "";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--pattern"))
            pattern = argv[i + 1];
        else if (!strcmp(argv[i], "--rows"))
            bn.rows = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--households"))
            bn.households = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            bn.runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--flush-ms"))
            bn.flush_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--scenes"))
            bn.scenes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            snprintf(base, sizeof(base), "%s", argv[i + 1]);
    }
    if (bn.households < STREAMS * BATCH || bn.runs < 1) {
        fprintf(stderr, "rollup: --households must be >= %d, --runs >= 1\n",
                STREAMS * BATCH);
        return 2;
    }
    int own = !base[0];
    if (own && !mkdtemp(strcpy(base, "/tmp/cb-rollup-XXXXXX")))
        return 1;
    log_set_level(LOG_WARN);
    static const char *const all[] = {"lp", "day15", "live15"};
    int rc = 0;
    for (int i = 0; i < 3 && !rc; i++)
        if (!strcmp(pattern, "all") || !strcmp(pattern, all[i])) {
            bn.pattern = all[i];
            rc = run_pattern(&bn, base);
        }
    if (own)
        nftw(base, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc ? 1 : 0;
}
