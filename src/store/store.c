/*
 * store.c - opening and closing the store, its configuration, counters and
 * test seams.
 *
 * Open order: data directory, rollup.db (the roll-up's write connection and
 * its migrations up to the layout citybrain.db's migration 6 copies into),
 * the writer connection and citybrain.db's migrations (migration 6 moves
 * old roll-ups into rollup.db), everything that lives in memory (registry,
 * tokens, tallies, log position; rollup.db's remaining migrations, then
 * the roll-up meters and position from it), the read pool (attaching the
 * migrated rollup.db), then the writer thread and the roll-up thread.  Close
 * runs it backwards; the roll-up stops first (its final checkpoint, on its own
 * file) while the writer has drained; the writer then trims the log, compacts
 * the hot tier of raw readings for up to STORE_CLOSE_COMPACT_S, and stops.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_int.h"

void store_config_defaults(struct store_config *cfg)
{
    cfg->dir = "./citybrain-data";
    cfg->sync_full = 1;
    cfg->queue_max = 64;
    cfg->commit_max_rows = 200000;
    cfg->retention_days = 90;
    cfg->hourly_retention_days = 90;
    cfg->daily_retention_days = 0;
    cfg->orders_retention_days = 0;
    cfg->events_retention_days = 0;
    cfg->log_keep_hours = 0;
    cfg->rollup_flush_ms = 1000;
    cfg->rollup_max_lag = 1000;
    cfg->read_connections = 4;
    cfg->rebuild_rollups = 0;
    cfg->max_spread_days = 62;
    cfg->value_digits[METRIC_WATER] = 3;       /* 0.001 m3 */
    cfg->value_digits[METRIC_ELECTRICITY] = 2; /* 0.01 kWh */
    cfg->value_digits[METRIC_GAS] = 3;         /* 0.001 m3 */
}

static int config_check(const struct store_config *cfg)
{
    const char *bad = NULL;
    if (!cfg->dir || !*cfg->dir)
        bad = "dir";
    else if (cfg->queue_max < 1)
        bad = "queue_max";
    else if (cfg->commit_max_rows < 1)
        bad = "commit_max_rows";
    else if (cfg->retention_days < 1)
        bad = "retention_days";
    else if (cfg->hourly_retention_days < 0)
        bad = "hourly_retention_days";
    else if (cfg->daily_retention_days < 0)
        bad = "daily_retention_days";
    else if (cfg->orders_retention_days < 0)
        bad = "orders_retention_days";
    else if (cfg->events_retention_days < 0)
        bad = "events_retention_days";
    else if (cfg->log_keep_hours < 0)
        bad = "log_keep_hours";
    else if (cfg->rollup_flush_ms < 1)
        bad = "rollup_flush_ms";
    else if (cfg->rollup_max_lag < 1)
        bad = "rollup_max_lag";
    else if (cfg->read_connections < 1)
        bad = "read_connections";
    else if (cfg->max_spread_days < 1)
        bad = "max_spread_days";
    for (int m = 0; !bad && m < METRIC_COUNT; m++)
        if (cfg->value_digits[m] < 0 || cfg->value_digits[m] > 9)
            bad = "value_digits";
    if (!bad)
        return 0;
    log_msg(LOG_ERROR, "store", "bad store setting | key=%s", bad);
    return CB_EINVAL;
}

/* mkdir -p with mode 0700: the store holds personal data. */
static int make_dir(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len >= sizeof(path))
        goto out_fail;
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) && errno != EEXIST)
            goto out_fail;
        *p = '/';
    }
    if (mkdir(path, 0700) && errno != EEXIST)
        goto out_fail;
    return 0;
out_fail:
    log_msg(LOG_ERROR, "store",
            "cannot create the data directory | dir=%s"
            " err=\"%s\"",
            dir, strerror(errno));
    return CB_EIO;
}

static void locks_init(struct store *st)
{
    pthread_mutex_init(&st->q_lock, NULL);
    pthread_cond_init(&st->q_wake, NULL);
    pthread_cond_init(&st->q_idle, NULL);
    pthread_rwlock_init(&st->reg_lock, NULL);
    pthread_mutex_init(&st->tok_lock, NULL);
    pthread_mutex_init(&st->src_lock, NULL);
    pthread_mutex_init(&st->sub_lock, NULL);
    pthread_mutex_init(&st->pool_lock, NULL);
    pthread_cond_init(&st->pool_cond, NULL);
    st->locks_ready = 1;
}

static void locks_destroy(struct store *st)
{
    if (!st->locks_ready)
        return;
    pthread_mutex_destroy(&st->q_lock);
    pthread_cond_destroy(&st->q_wake);
    pthread_cond_destroy(&st->q_idle);
    pthread_rwlock_destroy(&st->reg_lock);
    pthread_mutex_destroy(&st->tok_lock);
    pthread_mutex_destroy(&st->src_lock);
    pthread_mutex_destroy(&st->sub_lock);
    pthread_mutex_destroy(&st->pool_lock);
    pthread_cond_destroy(&st->pool_cond);
}

static int load_log_seq(struct store *st)
{
    sqlite3_stmt *s;
    sqlite3 *db = st->writer.db;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq FROM sqlite_sequence"
                           " WHERE name='ingest_log'",
                           -1, &s, NULL))
        return store__sqlerr(db, "load log seq");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        atomic_store(&st->log_seq, (uint64_t)sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : store__sqlerr(db, "load log seq");
}

/* Frees everything; threads must be stopped. */
static void store_free(struct store *st)
{
    store__pool_close(st);
    store__conn_close(&st->writer);
    if (st->locks_ready && !st->test_skip_checkpoint) {
        store__checkpoint_file(st->db_path);
        store__checkpoint_file(st->rollup_path);
    }
    store__registry_release(st);
    store__tokens_release(st);
    store__marks_free(st);
    locks_destroy(st);
    free(st->sources);
    store__consumers_release(st);
    free(st->dir);
    free(st->db_path);
    free(st->rollup_path);
    free(st);
}

static int file_empty(const char *path)
{
    struct stat sb;
    return stat(path, &sb) || sb.st_size == 0;
}

/* Refuses to open a store whose citybrain.db is missing or empty (and has
 * no write-ahead log) while rollup.db holds roll-ups: a new citybrain.db's
 * migrations would empty rollup.db, and a new admin token would be
 * written.  cfg.rebuild_rollups says the operator wants exactly that. */
static int check_orphaned_rollups(const struct store *st)
{
    char wal[4200];
    snprintf(wal, sizeof(wal), "%s-wal", st->db_path);
    if (!file_empty(st->db_path) || !file_empty(wal) ||
        file_empty(st->rollup_path) || st->cfg.rebuild_rollups)
        return 0;
    log_msg(LOG_ERROR, "store",
            "refusing to start: %s is missing or empty, but %s holds "
            "roll-ups; restore citybrain.db from a backup, or start with "
            "--rebuild-rollups to discard the roll-ups and rebuild them "
            "from the ingest log | dir=%s",
            st->db_path, st->rollup_path, st->dir);
    return CB_EEXIST;
}

static int open_parts(struct store *st)
{
    int rc = make_dir(st->dir);
    if (rc)
        return rc;
    if (store__rollup_open(st) ||
        store__conn_open(&st->writer, st->db_path, 0, &st->cfg) ||
        store__migrate(&st->writer, st->rollup_path) ||
        store__registry_load(st, &st->writer) ||
        store__tokens_load(st, &st->writer) ||
        store__tallies_load(st, &st->writer) || load_log_seq(st) ||
        store__marks_load(st) || store__rollup_load(st) ||
        store__pool_open(st) || store__writer_start(st))
        return CB_ESTORE;
    return 0;
}

/* Process-wide SQLite settings, before SQLite initialises: no memory
 * statistics (they take a global mutex on every allocation).  A no-op when
 * SQLite is already in use. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_open(const struct store_config *cfg, struct store **OUT_store)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    *OUT_store = NULL;
    int rc = config_check(cfg);
    if (rc)
        return rc;
    struct store *st = xcalloc(1, sizeof(*st));
    st->cfg = *cfg;
    st->dir = xstrdup(cfg->dir);
    st->cfg.dir = st->dir;
    size_t n = strlen(st->dir) + sizeof("/citybrain.db");
    st->db_path = xmalloc(n);
    snprintf(st->db_path, n, "%s/citybrain.db", st->dir);
    n = strlen(st->dir) + sizeof("/rollup.db");
    st->rollup_path = xmalloc(n);
    snprintf(st->rollup_path, n, "%s/rollup.db", st->dir);
    atomic_store(&st->queue_depth, 0);
    locks_init(st);
    if ((rc = check_orphaned_rollups(st)) || (rc = open_parts(st))) {
        store__rollup_close(st);
        store__writer_stop(st);
        store_free(st);
        return rc;
    }
    log_msg(LOG_INFO, "store", "opened | dir=%s version=%d households=%zu",
            st->dir, store__schema_version(), st->households.len);
    *OUT_store = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    store__writer_drain(st);
    store__rollup_close(st);
    /* the log the roll-up's final checkpoint has passed (log_keep_hours) */
    if (!st->test_skip_checkpoint && st->writer_started) {
        store__log_trim_all(st);
        store__days_compact_at_close(st); /* the writer's last work */
    }
    int64_t t0 = time_now_ns();
    store__writer_stop(st);
    if (st->compact_close_ns)
        log_msg(LOG_INFO, "store",
                "compacted at close | readings=%zu ms=%lld hot_left=%s",
                st->compact_close_n, (long long)(time_now_ns() - t0) / 1000000,
                st->hot_min_hour == INT64_MIN ? "none" : "some");
    if (!st->test_skip_checkpoint)
        sqlite3_exec(st->writer.db, "PRAGMA optimize", NULL, NULL, NULL);
    log_msg(LOG_INFO, "store", "closed | dir=%s log_seq=%llu", st->dir,
            (unsigned long long)atomic_load(&st->log_seq));
    store_free(st);
}

void store_get_stats(struct store *st, struct store_stats *OUT_stats)
{
    memset(OUT_stats, 0, sizeof(*OUT_stats));
#define RELAXED(x) atomic_load_explicit(&st->x, memory_order_relaxed)
    OUT_stats->queue_depth = RELAXED(queue_depth);
    OUT_stats->queue_max = st->cfg.queue_max;
    OUT_stats->commits = RELAXED(commits);
    OUT_stats->rows_written = RELAXED(rows_written);
    OUT_stats->log_seq = RELAXED(log_seq);
    OUT_stats->rollup_seq = RELAXED(rollup_seq);
    OUT_stats->meter_resets = RELAXED(meter_resets);
    OUT_stats->meter_replacements = RELAXED(meter_replacements);
    OUT_stats->late_readings = RELAXED(late_readings);
    OUT_stats->spread_resets = RELAXED(spread_resets);
    OUT_stats->wal_syncs = RELAXED(wal_syncs);
    OUT_stats->sqlite_cache_bytes =
        RELAXED(writer_cache) + RELAXED(rollup_cache);
    for (int i = 0; i < st->n_readers; i++)
        OUT_stats->sqlite_cache_bytes += RELAXED(reader_cache[i]);
#undef RELAXED
}

void store_test_skip_checkpoint(struct store *st)
{
    st->test_skip_checkpoint = 1;
}
