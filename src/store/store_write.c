/*
 * store_write.c - the writer thread: the bounded batch queue, group
 * commit, writer calls and retention.
 *
 * The loop.  The writer sleeps on q_wake until there is work, then runs
 * one step:
 *   0. an fsync of the WAL, when the oldest commit that did not wait for
 *      one (store__call_os: audit rows) is STORE_OS_COMMIT_SYNC_NS old;
 *   1. one writer call (store__call: tokens, roll-up checkpoints;
 *      store__call_os: audit rows), first after that;
 *   2. one group: queued batches taken from the head while their rows add
 *      up to at most commit_max_rows (always at least one batch), stored
 *      in one transaction (store__group_apply) and committed;
 *   3. one retention chunk (1,000 reading blocks), when retention is due
 *      (hourly); groups and chunks take turns, so sustained ingest cannot
 *      starve retention, nor retention ingest;
 *   4. one chunk of log trimming, when the roll-up's checkpoint
 *      (rollup_saved) has passed a whole segment (LOG_SEGMENT_ROWS rows) of
 *      the ingest log that is still there, and log_keep_hours is 0; in
 *      turns with groups too.  The consumers other than the roll-up keep
 *      nothing durable (they reload from a snapshot at start), so the
 *      roll-up's checkpoint is the position every consumer has passed: a
 *      crash before it still replays the log from there.  So the log holds
 *      what the roll-up has not checkpointed, plus one segment at most,
 *      instead of an hour of ingest.  store_close drops the rest after the
 *      roll-up's final checkpoint.
 * A group whose transaction fails is rolled back and, when it held more
 * than one batch, each batch is retried in a transaction of its own, so
 * one bad batch cannot fail the others.  Only after COMMIT (or the final
 * failure) are the waiters woken, each with its own result.
 *
 * Locking.  q_lock guards the queue, the call list and the flags; the
 * writer never holds it while it talks to SQLite.
 */
#include <string.h>

#include "store/store_int.h"

#define RETAIN_CHUNK_BLOCKS 1000
#define RETAIN_CHUNK_DAYS 200       /* compacted rows of ~4,600 readings */
#define RETAIN_CHUNK_ORDER_ROWS 200 /* rows of an hour's orders of a batch */
#define RETAIN_CHUNK_EVENTS 20000
/* A log row holds a whole batch (up to ~0.5 MB at 20,000 readings), and
 * deleting it reads its overflow pages: small chunks keep each retention
 * turn short (a 256-row chunk stalled a back-fill for 10 s). */
#define RETAIN_LOG_CHUNK 16
#define RETENTION_PERIOD_NS (3600LL * 1000000000LL)
/* Log rows (batches) the roll-up's checkpoint passes before they go. */
#define LOG_SEGMENT_ROWS 32

static size_t batch_rows(const struct ingest_batch *b)
{
    return b->n ? b->n : 1;
}

static int txn(struct store_conn *w, enum store_stmt id, const char *op)
{
    sqlite3_stmt *st = store__stmt(w, id);
    return st ? store__exec_stmt(w, st, op) : CB_ESTORE;
}

/* The synchronous level the next transaction commits with: FULL unless
 * sync=normal or commit is STORE_COMMIT_OS.  Changed only when it differs,
 * so a run of audit rows or of groups costs nothing. */
static int writer_sync_level(struct store *st, enum store_commit commit)
{
    int full = st->cfg.sync_full && commit == STORE_COMMIT_FSYNC;
    if (full == st->writer_sync_full)
        return 0;
    int rc = store__conn_set_sync(&st->writer, full);
    if (!rc)
        st->writer_sync_full = full;
    return rc;
}

/* A STORE_COMMIT_OS commit left WAL frames unsynced: the writer fsyncs
 * them by the deadline (the first unsynced commit's, so the window is
 * bounded under a steady stream of audit rows too). */
static void wal_sync_schedule(struct store *st)
{
    if (st->cfg.sync_full && !st->wal_sync_at_ns)
        st->wal_sync_at_ns = time_now_ns() + STORE_OS_COMMIT_SYNC_NS;
}

static int wal_sync_due(struct store *st)
{
    return st->wal_sync_at_ns && time_now_ns() >= st->wal_sync_at_ns;
}

static void run_wal_sync(struct store *st)
{
    /* a failure is logged; tried again a deadline later, as the WAL's
     * frames stay unsynced (SQLite's own next FULL commit syncs them too) */
    st->wal_sync_at_ns = 0;
    if (store__conn_sync_wal(&st->writer))
        wal_sync_schedule(st);
    else
        atomic_fetch_add_explicit(&st->wal_syncs, 1, memory_order_relaxed);
}

/* Runs fn inside BEGIN IMMEDIATE .. COMMIT on the writer connection,
 * committed as commit says. */
static int run_in_txn(struct store *st, store_call_fn fn, void *arg,
                      enum store_commit commit)
{
    struct store_conn *w = &st->writer;
    int rc = writer_sync_level(st, commit);
    if (!rc)
        rc = txn(w, STMT_BEGIN, "begin");
    if (rc)
        return rc;
    rc = fn(st, w, arg);
    if (!rc && atomic_load(&st->test_fail_commits) > 0 &&
        atomic_fetch_sub(&st->test_fail_commits, 1) > 0)
        rc = CB_ESTORE; /* the fault seam: as if COMMIT had failed */
    if (!rc)
        rc = txn(w, STMT_COMMIT, "commit");
    if (rc && !sqlite3_get_autocommit(w->db))
        txn(w, STMT_ROLLBACK, "rollback");
    if (!rc && !st->writer_sync_full)
        wal_sync_schedule(st);
    atomic_store_explicit(&st->writer_cache, store__conn_cache_bytes(w),
                          memory_order_relaxed);
    return rc;
}

/* ---- groups ---- */

struct group {
    struct write_req **reqs;
    size_t n;
};

static int group_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct group *g = arg;
    return store__group_apply(st, g->reqs, g->n);
}

static int store_group(struct store *st, struct write_req **reqs, size_t n)
{
    struct group g = {reqs, n};
    int rc = run_in_txn(st, group_fn, &g, STORE_COMMIT_FSYNC);
    if (!rc) {
        store__group_publish(st, reqs, n);
        atomic_fetch_add_explicit(&st->commits, 1, memory_order_relaxed);
    }
    return rc;
}

static void finish_group(struct store *st, struct write_req **reqs, size_t n)
{
    pthread_mutex_lock(&st->q_lock);
    for (size_t i = 0; i < n; i++) {
        store__req_clear(reqs[i]);
        if (reqs[i]->rc)
            memset(&reqs[i]->res, 0, sizeof(reqs[i]->res));
        reqs[i]->done = 1;
        pthread_cond_signal(&reqs[i]->cond);
    }
    pthread_mutex_unlock(&st->q_lock);
}

static void run_group(struct store *st, struct write_req **reqs, size_t n)
{
    int rc = store_group(st, reqs, n);
    if (rc && n > 1) {
        log_msg(LOG_WARN, "store",
                "group commit failed, retrying batches one by one | n=%zu", n);
        for (size_t i = 0; i < n; i++)
            reqs[i]->rc = store_group(st, &reqs[i], 1);
    } else {
        for (size_t i = 0; i < n; i++)
            reqs[i]->rc = rc;
    }
    store__rollup_notify(st);
    finish_group(st, reqs, n);
}

/* Takes the next group off the queue (q_lock held); returns its size. */
static size_t take_group(struct store *st, struct write_req ***reqs,
                         size_t *cap)
{
    size_t n = 0, rows = 0;
    while (st->q_head) {
        size_t r = batch_rows(st->q_head->batch);
        if (n && rows + r > st->cfg.commit_max_rows)
            break;
        if (n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *reqs = xrealloc(*reqs, *cap * sizeof(**reqs));
        }
        (*reqs)[n++] = st->q_head;
        rows += r;
        st->q_head = st->q_head->next;
        st->q_len--;
        atomic_store_explicit(&st->queue_depth, st->q_len,
                              memory_order_relaxed);
    }
    if (!st->q_head)
        st->q_tail = NULL;
    return n;
}

/* ---- retention ---- */

/* Deletes one chunk of the log rows the roll-up has durably passed (it
 * replays from there) and that are older than log_keep_hours. */
static int retain_log(struct store *st, struct store_conn *w, size_t *OUT_log)
{
    sqlite3_stmt *s = store__stmt(w, STMT_RETAIN_LOG);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, RETAIN_LOG_CHUNK);
    sqlite3_bind_int64(
        s, 2,
        (int64_t)atomic_load_explicit(&st->rollup_saved, memory_order_acquire));
    /* log_keep_hours 0: no age condition at all, so that a wall clock
     * stepped back (a VM's time sync) cannot keep checkpointed rows */
    sqlite3_bind_int64(s, 3,
                       st->cfg.log_keep_hours
                           ? time_now_ns() -
                                 (int64_t)st->cfg.log_keep_hours * STORE_HOUR_NS
                           : INT64_MAX);
    if (store__exec_stmt(w, s, "retain log"))
        return CB_ESTORE;
    *OUT_log = (size_t)sqlite3_changes64(w->db);
    return 0;
}

static int tally_sub(struct store_conn *w, const char *name, size_t n)
{
    sqlite3_stmt *s;
    if (!n)
        return 0;
    if (!(s = store__stmt(w, STMT_TALLY_ADD)))
        return CB_ESTORE;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, -(int64_t)n);
    return store__exec_stmt(w, s, "tally retention");
}

/* Orders and events past their retention (0 days: kept). */
static int retain_feeds(struct store *st, struct store_conn *w,
                        struct store_retained *out)
{
    int64_t now = dclock_now_ns();
    if (st->cfg.orders_retention_days &&
        store__orders_retain(
            w, now - (int64_t)st->cfg.orders_retention_days * STORE_DAY_NS,
            RETAIN_CHUNK_ORDER_ROWS, &out->orders))
        return CB_ESTORE;
    if (st->cfg.events_retention_days &&
        store__events_retain(
            w, now - (int64_t)st->cfg.events_retention_days * STORE_DAY_NS,
            RETAIN_CHUNK_EVENTS, &out->events))
        return CB_ESTORE;
    return tally_sub(w, "deliveries", out->orders) ||
                   tally_sub(w, "events", out->events)
               ? CB_ESTORE
               : 0;
}

int store__retain_chunk(struct store *st, struct store_conn *w,
                        struct store_retained *OUT)
{
    /* The district clock: a simulated district keeps its own last days. */
    int64_t cutoff =
        dclock_now_ns() - (int64_t)st->cfg.retention_days * STORE_DAY_NS;
    size_t days = 0;
    memset(OUT, 0, sizeof(*OUT));
    if (store__blocks_retain(w, cutoff, RETAIN_CHUNK_BLOCKS, &OUT->readings) ||
        store__days_retain(st, w, cutoff, RETAIN_CHUNK_DAYS, &days))
        return CB_ESTORE;
    OUT->readings += days;
    if (retain_log(st, w, &OUT->log) || retain_feeds(st, w, OUT))
        return CB_ESTORE;
    return tally_sub(w, "readings", OUT->readings);
}

static int retain_fn(struct store *st, struct store_conn *w, void *arg)
{
    return store__retain_chunk(st, w, arg);
}

static void retention_commit(struct store *st, const struct store_retained *r)
{
    atomic_fetch_sub_explicit(&st->n_readings, r->readings,
                              memory_order_relaxed);
    atomic_fetch_sub_explicit(&st->n_deliveries, r->orders,
                              memory_order_relaxed);
    atomic_fetch_sub_explicit(&st->n_events, r->events, memory_order_relaxed);
}

static int retained_any(const struct store_retained *r)
{
    return r->readings || r->log || r->orders || r->events;
}

static void run_retention_chunk(struct store *st)
{
    struct store_retained ra;
    int rc = run_in_txn(st, retain_fn, &ra, STORE_COMMIT_FSYNC);
    if (!rc) {
        retention_commit(st, &ra);
        st->retention_dropped += ra.readings;
    }
    pthread_mutex_lock(&st->q_lock);
    int done = rc || !retained_any(&ra);
    if (done)
        st->retention_pending = 0;
    pthread_mutex_unlock(&st->q_lock);
    if (done && st->retention_dropped)
        log_msg(LOG_INFO, "store", "retention dropped readings | n=%zu",
                st->retention_dropped);
    if (done)
        st->retention_dropped = 0;
}

int store_retention_run(struct store *st, size_t *OUT_dropped)
{
    size_t total = 0;
    struct store_retained ra;
    int rc;
    do {
        rc = store__call(st, retain_fn, &ra);
        if (!rc) {
            retention_commit(st, &ra);
            total += ra.readings;
        }
    } while (!rc && retained_any(&ra));
    if (!rc && st->rollup)
        rc = store__rollup_retain(st);
    if (OUT_dropped)
        *OUT_dropped = total;
    if (!rc && total)
        log_msg(LOG_INFO, "store", "retention dropped readings | n=%zu", total);
    return rc;
}

/* ---- log trimming ---- */

static int log_trim_due(struct store *st)
{
    int64_t saved =
        (int64_t)atomic_load_explicit(&st->rollup_saved, memory_order_acquire);
    return !st->cfg.log_keep_hours &&
           saved >= st->log_trimmed + LOG_SEGMENT_ROWS;
}

struct log_trim {
    int64_t saved; /* rollup_saved when the chunk started */
    size_t n;      /* rows deleted */
};

static int log_trim_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct log_trim *lt = arg;
    lt->saved =
        (int64_t)atomic_load_explicit(&st->rollup_saved, memory_order_acquire);
    return retain_log(st, w, &lt->n);
}

/* One chunk; the log up to the checkpoint is gone once a chunk deletes
 * nothing (on an error too: the hourly retention tries again). */
static void run_log_trim_chunk(struct store *st)
{
    struct log_trim lt = {0, 0};
    int rc = run_in_txn(st, log_trim_fn, &lt, STORE_COMMIT_FSYNC);
    if (rc)
        st->log_trimmed += LOG_SEGMENT_ROWS; /* not again at once */
    else if (!lt.n)
        st->log_trimmed = lt.saved;
}

int store__log_trim_all(struct store *st)
{
    struct log_trim lt;
    int rc;
    do {
        lt.n = 0;
        rc = store__call(st, log_trim_fn, &lt);
    } while (!rc && lt.n);
    return rc;
}

void store__writer_notify(struct store *st)
{
    pthread_mutex_lock(&st->q_lock);
    pthread_cond_signal(&st->q_wake);
    pthread_mutex_unlock(&st->q_lock);
}

/* ---- the writer thread ---- */

/* ---- compaction by day ---- */

static int compact_due(struct store *st)
{
    return !st->compact_failed && store__days_due(st);
}

static int compact_fn(struct store *st, struct store_conn *w, void *arg)
{
    int rc = store__days_compact_begin(st);
    return rc ? rc : store__days_compact_chunk(st, w, arg);
}

static void run_compact_chunk(struct store *st)
{
    size_t n = 0;
    int rc = run_in_txn(st, compact_fn, &n, STORE_COMMIT_FSYNC);
    if (!rc && st->compact_close_ns)
        st->compact_close_n += n;
    if (store__days_compact_done(st, rc)) {
        log_msg(LOG_ERROR, "store",
                "compaction of past days stopped until restart | rc=%d", rc);
        st->compact_failed = 1;
    }
}

static int has_work(struct store *st)
{
    return st->c_head || (st->q_head && !st->test_paused) || wal_sync_due(st) ||
           st->retention_pending || compact_due(st) || log_trim_due(st) ||
           st->writer_stop;
}

static void retention_check(struct store *st)
{
    int64_t now = time_now_ns();
    if (now < st->retention_next_ns)
        return;
    st->retention_pending = 1;
    st->retention_next_ns = now + RETENTION_PERIOD_NS;
}

static void wait_for_work(struct store *st)
{
    retention_check(st);
    while (!has_work(st)) {
        int64_t until = st->retention_next_ns;
        if (st->wal_sync_at_ns && st->wal_sync_at_ns < until)
            until = st->wal_sync_at_ns;
        struct timespec ts = {(time_t)(until / 1000000000LL),
                              (long)(until % 1000000000LL)};
        pthread_cond_timedwait(&st->q_wake, &st->q_lock, &ts);
        retention_check(st);
    }
}

static void run_call(struct store *st, struct writer_call *c)
{
    int rc = run_in_txn(st, c->fn, c->arg, c->commit);
    pthread_mutex_lock(&st->q_lock);
    c->rc = rc;
    c->done = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&st->q_lock);
}

/* Runs the next group (q_lock held on entry, released on return). */
static void group_step(struct store *st, struct write_req ***reqs, size_t *cap)
{
    size_t n = take_group(st, reqs, cap);
    st->writer_busy = 1;
    st->retention_turn = 1;
    st->compact_turn = 1;
    st->log_trim_turn = 1;
    pthread_mutex_unlock(&st->q_lock);
    run_group(st, *reqs, n);
    pthread_mutex_lock(&st->q_lock);
    st->writer_busy = 0;
    pthread_cond_broadcast(&st->q_idle);
    pthread_mutex_unlock(&st->q_lock);
}

/* One step of the loop with q_lock held on entry and exit; returns 0 when
 * the writer should exit.  A due fsync of the WAL goes first (at most one a
 * second), then calls; when both a group and a retention chunk wait, they
 * take turns, so that neither starves. */
static int writer_step(struct store *st, struct write_req ***reqs, size_t *cap)
{
    wait_for_work(st);
    int group_ready = st->q_head && !st->test_paused;
    if (wal_sync_due(st)) { /* first: a stream of calls cannot delay it */
        pthread_mutex_unlock(&st->q_lock);
        run_wal_sync(st);
    } else if (st->c_head) {
        struct writer_call *c = st->c_head;
        if (!(st->c_head = c->next))
            st->c_tail = NULL;
        pthread_mutex_unlock(&st->q_lock);
        run_call(st, c);
    } else if (st->retention_pending && (!group_ready || st->retention_turn)) {
        st->retention_turn = 0;
        pthread_mutex_unlock(&st->q_lock);
        run_retention_chunk(st);
    } else if (compact_due(st) && (!group_ready || st->compact_turn)) {
        st->compact_turn = 0;
        pthread_mutex_unlock(&st->q_lock);
        run_compact_chunk(st);
    } else if (log_trim_due(st) && (!group_ready || st->log_trim_turn)) {
        st->log_trim_turn = 0;
        pthread_mutex_unlock(&st->q_lock);
        run_log_trim_chunk(st);
    } else if (group_ready) {
        group_step(st, reqs, cap);
    } else {
        return 0; /* writer_stop with nothing left */
    }
    pthread_mutex_lock(&st->q_lock);
    return 1;
}

static void *writer_main(void *arg)
{
    struct store *st = arg;
    struct write_req **reqs = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&st->q_lock);
    while (writer_step(st, &reqs, &cap))
        ;
    if (st->wal_sync_at_ns) /* not left to the checkpoint on close */
        run_wal_sync(st);
    st->writer_stopped = 1;
    pthread_cond_broadcast(&st->q_idle);
    pthread_mutex_unlock(&st->q_lock);
    free(reqs);
    return NULL;
}

int store__writer_start(struct store *st)
{
    /* the first retention run comes a minute after open, not at once */
    st->retention_next_ns = time_now_ns() + 60LL * 1000000000LL;
    st->writer_sync_full = st->cfg.sync_full; /* as the pragmas set it */
    st->wal_sync_at_ns = 0;
    if (pthread_create(&st->writer_thread, NULL, writer_main, st)) {
        log_msg(LOG_ERROR, "store", "cannot start the writer thread");
        return CB_ESTORE;
    }
    st->writer_started = 1;
    return 0;
}

void store__writer_drain(struct store *st)
{
    pthread_mutex_lock(&st->q_lock);
    st->closing = 1;
    st->test_paused = 0;
    pthread_cond_signal(&st->q_wake);
    while ((st->q_head || st->writer_busy) && !st->writer_stopped)
        pthread_cond_wait(&st->q_idle, &st->q_lock);
    pthread_mutex_unlock(&st->q_lock);
}

void store__writer_stop(struct store *st)
{
    if (!st->writer_started)
        return;
    pthread_mutex_lock(&st->q_lock);
    st->closing = 1;
    st->writer_stop = 1;
    st->test_paused = 0;
    st->retention_pending = 0;
    pthread_cond_signal(&st->q_wake);
    pthread_mutex_unlock(&st->q_lock);
    pthread_join(st->writer_thread, NULL);
    st->writer_started = 0;
}

/* ---- entry points ---- */

static int writer_call(struct store *st, store_call_fn fn, void *arg,
                       enum store_commit commit)
{
    struct writer_call c = {fn,  arg, commit, 0, 0, PTHREAD_COND_INITIALIZER,
                            NULL};
    pthread_mutex_lock(&st->q_lock);
    if (st->writer_stop || !st->writer_started) {
        pthread_mutex_unlock(&st->q_lock);
        return CB_ECLOSED;
    }
    if (st->c_tail)
        st->c_tail->next = &c;
    else
        st->c_head = &c;
    st->c_tail = &c;
    pthread_cond_signal(&st->q_wake);
    while (!c.done)
        pthread_cond_wait(&c.cond, &st->q_lock);
    pthread_mutex_unlock(&st->q_lock);
    pthread_cond_destroy(&c.cond);
    return c.rc;
}

int store__call(struct store *st, store_call_fn fn, void *arg)
{
    return writer_call(st, fn, arg, STORE_COMMIT_FSYNC);
}

int store__call_os(struct store *st, store_call_fn fn, void *arg)
{
    return writer_call(st, fn, arg, STORE_COMMIT_OS);
}

static int batch_valid(const struct ingest_batch *b)
{
    if (b->feed >= FEED_COUNT)
        return 0;
    if (b->feed != FEED_READINGS)
        return 1;
    for (size_t i = 0; i < b->n; i++)
        if (b->readings[i].household < 0 ||
            b->readings[i].household >= STORE_MAX_HOUSEHOLD ||
            b->readings[i].metric >= METRIC_COUNT)
            return 0;
    return 1;
}

/* Queues req (q_lock held); CB_EBUSY or CB_ECLOSED when it cannot. */
static int enqueue(struct store *st, struct write_req *req)
{
    if (st->closing)
        return CB_ECLOSED;
    if (st->q_len >= st->cfg.queue_max)
        return CB_EBUSY;
    /* The roll-up runs on its own core; when it falls too far behind, the
     * log it must replay would grow without bound: push back instead. */
    uint64_t logged = atomic_load_explicit(&st->log_seq, memory_order_relaxed);
    uint64_t rolled =
        atomic_load_explicit(&st->rollup_seq, memory_order_relaxed);
    if (st->consumers_started && logged > rolled &&
        logged - rolled > st->cfg.rollup_max_lag)
        return CB_EBUSY;
    if (st->q_tail)
        st->q_tail->next = req;
    else
        st->q_head = req;
    st->q_tail = req;
    st->q_len++;
    atomic_store_explicit(&st->queue_depth, st->q_len, memory_order_relaxed);
    pthread_cond_signal(&st->q_wake);
    return 0;
}

int store_write(struct store *st, const struct ingest_batch *b,
                const char *source, struct store_write_result *OUT_res)
{
    struct write_req req;
    memset(&req, 0, sizeof(req));
    memset(OUT_res, 0, sizeof(*OUT_res));
    if (!batch_valid(b))
        return CB_EINVAL;
    if (!b->n)
        return 0;
    req.batch = b;
    req.source = source;
    pthread_cond_init(&req.cond, NULL);
    pthread_mutex_lock(&st->q_lock);
    int rc = enqueue(st, &req);
    while (!rc && !req.done)
        pthread_cond_wait(&req.cond, &st->q_lock);
    pthread_mutex_unlock(&st->q_lock);
    pthread_cond_destroy(&req.cond);
    if (rc)
        return rc;
    *OUT_res = req.res;
    return req.rc;
}

void store_test_fail_commits(struct store *st, int n)
{
    atomic_store(&st->test_fail_commits, n);
}

static int disk_full_fn(struct store *st, struct store_conn *w, void *arg)
{
    /* SQLite raises a limit below the file's size to that size. */
    const char *sql = *(int *)arg ? "PRAGMA max_page_count = 1"
                                  : "PRAGMA max_page_count = 4294967294";
    return sqlite3_exec(w->db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : store__sqlerr(w->db, "max_page_count");
}

int store_test_disk_full(struct store *st, int full)
{
    return store__call(st, disk_full_fn, &full);
}

void store_test_pause_writer(struct store *st, int paused)
{
    pthread_mutex_lock(&st->q_lock);
    st->test_paused = paused;
    pthread_cond_signal(&st->q_wake);
    pthread_mutex_unlock(&st->q_lock);
}
