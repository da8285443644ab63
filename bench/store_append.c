/*
 * store_append.c - how fast readings reach the disk: raw SQLite append
 * against store_write, in the same run, on the same machine.
 *
 *   (a) raw     one connection inserts into a plain rowid table
 *               (ts, household, metric, field, value), 5,000 rows per
 *               transaction, the store's pragmas: the ceiling.
 *   (b) store   two threads call store_write with batches of 5,000
 *               readings (each thread half of the households at one
 *               15-minute timestamp per batch): dedup key, sorted group
 *               commit, ingest_log payload, tallies; the roll-up consumer
 *               is not started, so it does not share the writer.
 *   (c) rollup  then the roll-up starts on that backlog: time until
 *               store_rollup_flush returns (meters, hourly and daily use,
 *               checkpoints).
 *
 * Both use synchronous=NORMAL unless --sync-full.  Usage:
 *
 *   store_append [--rows N] [--households H] [--sync-full] [--dir DIR]
 *
 * Build by hand (or link bench_store_append() into bench/ingest, defining
 * STORE_APPEND_NO_MAIN):
 *   cc -O2 -Isrc -D_GNU_SOURCE bench/store_append.c build/libcitybrain.a \
 *      -lsqlite3 -ljansson -lmicrohttpd -lcrypto -lm -lpthread
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw */
#endif
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "store/store.h"
#include "util/util.h"

#define BATCH 5000
#define WRITERS 2
#define QUARTER_NS (900LL * 1000000000LL)
#define T0_NS (1764547200LL * 1000000000LL) /* 2025-12-01T00:00:00Z */

struct bench_result {
    double raw_rows_per_s, store_rows_per_s;
    double rollup_rows_per_s; /* roll-up catching up on what (b) wrote */
};

int bench_store_append(const char *dir, size_t rows, int households,
                       int sync_full, struct bench_result *OUT);

static double seconds(int64_t t0)
{
    return (double)(time_monotonic_ns() - t0) / 1e9;
}

/* ---- (a) raw append ---- */

static int raw_exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    fprintf(stderr, "raw: %s: %s\n", sql, sqlite3_errmsg(db));
    return -1;
}

static int raw_open(const char *path, int sync_full, sqlite3 **OUT_db)
{
    char pragmas[256];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
             "PRAGMA cache_size=-131072; PRAGMA wal_autocheckpoint=8192;",
             sync_full ? "FULL" : "NORMAL");
    if (sqlite3_open(path, OUT_db) != SQLITE_OK || raw_exec(*OUT_db, pragmas))
        return -1;
    return raw_exec(*OUT_db, "CREATE TABLE raw(ts_ns INTEGER, household "
                             "INTEGER, metric INTEGER, field INTEGER, "
                             "value REAL)");
}

static int raw_insert(sqlite3 *db, sqlite3_stmt *ins, size_t rows,
                      int households)
{
    for (size_t i = 0; i < rows; i++) {
        if (i % BATCH == 0 && raw_exec(db, "BEGIN"))
            return -1;
        sqlite3_bind_int64(
            ins, 1, T0_NS + (int64_t)(i / (size_t)households) * QUARTER_NS);
        sqlite3_bind_int(ins, 2, (int)(i % (size_t)households) + 1);
        sqlite3_bind_int(ins, 3, METRIC_ELECTRICITY);
        sqlite3_bind_int(ins, 4, READING_INDEX);
        sqlite3_bind_double(ins, 5, (double)i * 0.01);
        if (sqlite3_step(ins) != SQLITE_DONE)
            return -1;
        sqlite3_reset(ins);
        if ((i + 1) % BATCH == 0 || i + 1 == rows)
            if (raw_exec(db, "COMMIT"))
                return -1;
    }
    return 0;
}

static int bench_raw(const char *dir, size_t rows, int households,
                     int sync_full, double *OUT_rate)
{
    char path[4200];
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    int rc = -1;
    snprintf(path, sizeof(path), "%s/raw.db", dir);
    if (raw_open(path, sync_full, &db) ||
        sqlite3_prepare_v2(db, "INSERT INTO raw VALUES(?1,?2,?3,?4,?5)", -1,
                           &ins, NULL) != SQLITE_OK)
        goto out_close;
    int64_t t0 = time_monotonic_ns();
    if (raw_insert(db, ins, rows, households))
        goto out_close;
    *OUT_rate = (double)rows / seconds(t0);
    rc = 0;
out_close:
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return rc;
}

/* ---- (b) store_write from two threads ---- */

struct writer {
    struct store *st;
    int index, households;
    size_t batches;
    int rc;
    size_t accepted;
};

/* Batch k of writer w: BATCH households of w's half at one timestamp. */
static void fill_batch(struct ingest_batch *b, const struct writer *w, size_t k)
{
    int half = w->households / WRITERS;
    size_t per_ts = (size_t)half / BATCH ? (size_t)half / BATCH : 1;
    int64_t ts = T0_NS + (int64_t)(k / per_ts) * QUARTER_NS;
    int first = w->index * half + (int)(k % per_ts) * BATCH;
    for (size_t i = 0; i < BATCH; i++) {
        struct reading *r = &b->readings[i];
        r->household = 1 + (first + (int)i) % w->households;
        r->metric = METRIC_ELECTRICITY;
        r->field = READING_INDEX;
        r->ts_ns = ts;
        r->value = (double)(k * BATCH + i) * 0.01;
    }
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct ingest_batch b;
    ingest_batch_init(&b, FEED_READINGS);
    b.readings = xcalloc(BATCH, sizeof(*b.readings));
    b.n = b.cap = BATCH;
    for (size_t k = 0; k < w->batches && !w->rc; k++) {
        struct store_write_result res;
        fill_batch(&b, w, k);
        while ((w->rc = store_write(w->st, &b, "bench", &res)) == CB_EBUSY)
            usleep(100);
        w->accepted += res.accepted;
    }
    ingest_batch_release(&b);
    return NULL;
}

/* Starts the roll-up on the backlog (b) left and times its catch-up. */
static int bench_rollup(struct store *st, size_t rows, double *OUT_rate)
{
    int64_t t0 = time_monotonic_ns();
    if (store_start_consumers(st) || store_rollup_flush(st))
        return -1;
    *OUT_rate = (double)rows / seconds(t0);
    return 0;
}

static int bench_store(const char *dir, size_t rows, int households,
                       int sync_full, struct bench_result *OUT)
{
    struct store_config cfg;
    struct store *st;
    char sdir[4200];
    snprintf(sdir, sizeof(sdir), "%s/store", dir);
    store_config_defaults(&cfg);
    cfg.dir = sdir;
    cfg.sync_full = sync_full;
    if (store_open(&cfg, &st))
        return -1;
    struct writer w[WRITERS];
    pthread_t t[WRITERS];
    int64_t t0 = time_monotonic_ns();
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){st, i, households, rows / BATCH / WRITERS, 0, 0};
        pthread_create(&t[i], NULL, writer_main, &w[i]);
    }
    size_t accepted = 0;
    int rc = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        accepted += w[i].accepted;
        rc |= w[i].rc;
    }
    OUT->store_rows_per_s = (double)accepted / seconds(t0);
    if (!rc)
        rc = bench_rollup(st, accepted, &OUT->rollup_rows_per_s);
    store_close(st);
    return rc ? -1 : 0;
}

int bench_store_append(const char *dir, size_t rows, int households,
                       int sync_full, struct bench_result *OUT)
{
    if (bench_raw(dir, rows, households, sync_full, &OUT->raw_rows_per_s))
        return -1;
    return bench_store(dir, rows, households, sync_full, OUT);
}

#ifndef STORE_APPEND_NO_MAIN
static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    size_t rows = 2000000;
    int households = 100000, sync_full = 0;
    char dir[256] = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--households") && i + 1 < argc)
            households = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sync-full"))
            sync_full = 1;
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            snprintf(dir, sizeof(dir), "%s", argv[++i]);
    }
    if (households < WRITERS * BATCH)
        households = WRITERS * BATCH;
    int own_dir = !dir[0];
    if (own_dir && !mkdtemp(strcpy(dir, "/tmp/cb-bench-XXXXXX")))
        return 1;
    log_set_level(LOG_WARN);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* as store_open does */
    struct bench_result r;
    int rc = bench_store_append(dir, rows, households, sync_full, &r);
    if (!rc)
        printf("store_append rows=%zu households=%d sync=%s\n"
               "  raw sqlite append (rowid table): %9.0f rows/s\n"
               "  store_write, 2 threads x 5000:   %9.0f rows/s (%.0f%%)\n"
               "  roll-up catching up on (b):      %9.0f rows/s\n",
               rows, households, sync_full ? "full" : "normal",
               r.raw_rows_per_s, r.store_rows_per_s,
               100.0 * r.store_rows_per_s / r.raw_rows_per_s,
               r.rollup_rows_per_s);
    if (own_dir)
        nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc ? 1 : 0;
}
#endif
