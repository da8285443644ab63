/*
 * store_rollup.c - the roll-up consumer: turns the readings of the ingest
 * log into use per household, metric and hour/day.
 *
 * The consumer reads ingest_log rows (citybrain.db, on its own read-only
 * connection) after its position (consumer table, name "rollup"), applies
 * each batch to its meters in memory, and calls the subscribers.  Every
 * rollup_flush_ms (and when store_rollup_flush asks, or memory grows) it
 * checkpoints, in ONE transaction on rollup.db, which only this thread
 * writes, through its own connection (BEGIN IMMEDIATE; upserts; position;
 * COMMIT): the accumulated use as increments (use = use + ?), the changed
 * meter_state rows and its new position.  The ingest writer takes no part,
 * so checkpoints and ingest commits run on two cores.  Output and position
 * are in the same file and transaction: after a crash, the next open loads
 * meter_state and the position of the last checkpoint from rollup.db and
 * replays the log from there: nothing is counted twice, nothing is lost.
 * Subscribers may see a replayed batch again (at-least-once).  After each
 * checkpoint it publishes the committed position (st->rollup_saved):
 * retention deletes no log entry beyond it.
 *
 * The meter model (store_meter.c) decides each reading's use and the
 * interval it covers; this file spreads it over hours and days and keeps
 * the accumulators:
 *
 *   interval (t0, t1]           hourly buckets           daily buckets
 *   --------------------------  -----------------------  ---------------
 *   known, <= 1 day             uniform over the hours   uniform over days
 *   known, > 1 day              none (grain too coarse)  uniform over days
 *   unknown (t0 == t1)          none                     day of t1
 *
 * Days are district days (UTC+8); hours are epoch hours (UTC+8 is a whole
 * number of hours, so they are district hours too).  usage_daily.n counts
 * the readings whose timestamp falls in the day.
 */
#include <string.h>

#include "store/store_int.h"
#include "store/store_meter.h"

#define LOG_ROWS_PER_READ 16
#define ACC_CHECKPOINT_SLOTS (1u << 18) /* bounds a checkpoint's length */
#define MAX_SPREAD_NS (3660LL * STORE_DAY_NS)
#define MAX_HOUSEHOLD (1 << 28)

enum { ACC_EMPTY = 0, ACC_DAILY = 1, ACC_HOURLY = 2 };

struct usage_slot {
    int64_t bucket; /* day or hour number */
    int32_t household;
    uint8_t metric, kind;
    double use;
    int64_t n;
};

struct rollup {
    struct store_conn log; /* read-only on citybrain.db: the ingest log */
    struct store_conn w;   /* read-write on rollup.db: the only writer */
    pthread_t thread;
    int started, exited, stop;
    pthread_mutex_t lock;
    pthread_cond_t wake, flushed;
    int64_t flush_target; /* lock: a flusher waits for this seq */
    int64_t saved;        /* lock: position of the last checkpoint */
    int64_t pos;          /* roll-up thread: last seq applied */
    int64_t last_flush_ns, retry_after_ns;
    struct meter *meters; /* by household * METRIC_COUNT + metric */
    size_t n_meters;
    uint32_t *dirty;
    size_t n_dirty, cap_dirty;
    struct usage_slot *acc;
    size_t acc_cap, acc_len;
};

/* ---- accumulators ---- */

static size_t acc_hash(int32_t hh, int metric, int kind, int64_t bucket)
{
    uint64_t h = (uint64_t)(uint32_t)hh * 0x9E3779B97F4A7C15ULL;
    h ^= ((uint64_t)bucket << 3 | (uint64_t)(metric << 1 | (kind - 1))) *
         0xC2B2AE3D27D4EB4FULL;
    return (size_t)(h ^ (h >> 29));
}

static struct usage_slot *acc_slot(struct usage_slot *tab, size_t cap,
                                   int32_t hh, int metric, int kind,
                                   int64_t bucket)
{
    size_t mask = cap - 1;
    for (size_t i = acc_hash(hh, metric, kind, bucket) & mask;;
         i = (i + 1) & mask) {
        struct usage_slot *s = &tab[i];
        if (s->kind == ACC_EMPTY ||
            (s->household == hh && s->metric == metric && s->kind == kind &&
             s->bucket == bucket))
            return s;
    }
}

static void acc_grow(struct rollup *ru)
{
    size_t cap = ru->acc_cap ? ru->acc_cap * 2 : 4096;
    struct usage_slot *tab = xcalloc(cap, sizeof(*tab));
    for (size_t i = 0; i < ru->acc_cap; i++) {
        struct usage_slot *o = &ru->acc[i];
        if (o->kind != ACC_EMPTY)
            *acc_slot(tab, cap, o->household, o->metric, o->kind, o->bucket) =
                *o;
    }
    free(ru->acc);
    ru->acc = tab;
    ru->acc_cap = cap;
}

static void acc_add(struct rollup *ru, int32_t hh, int metric, int kind,
                    int64_t bucket, double use, int64_t n)
{
    if ((ru->acc_len + 1) * 2 > ru->acc_cap)
        acc_grow(ru);
    struct usage_slot *s =
        acc_slot(ru->acc, ru->acc_cap, hh, metric, kind, bucket);
    if (s->kind == ACC_EMPTY) {
        *s = (struct usage_slot){bucket,        hh, (uint8_t)metric,
                                 (uint8_t)kind, 0,  0};
        ru->acc_len++;
    }
    s->use += use;
    s->n += n;
}

static void acc_clear(struct rollup *ru)
{
    if (ru->acc_len)
        memset(ru->acc, 0, ru->acc_cap * sizeof(*ru->acc));
    ru->acc_len = 0;
}

/* ---- spreading use over buckets ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t store__day_of(int64_t ts_ns)
{
    return floor_div(ts_ns + STORE_TZ_OFFSET_NS, STORE_DAY_NS);
}

/* Adds use to a district day and tells the usage subscribers (fixed since
 * the consumers started: read without a lock). */
static void add_day(struct store *st, struct rollup *ru, int32_t hh, int metric,
                    int64_t day, double use)
{
    acc_add(ru, hh, metric, ACC_DAILY, day, use, 0);
    for (size_t i = 0; i < st->n_usage_subs; i++)
        st->usage_subs[i].fn(st->usage_subs[i].ctx, hh, metric, day, use);
}

/* Spreads use uniformly over (t0, t1] into days or hours. */
static void spread(struct store *st, struct rollup *ru, int32_t hh, int metric,
                   int kind, int64_t t0, int64_t t1, double use)
{
    int64_t width = kind == ACC_DAILY ? STORE_DAY_NS : STORE_HOUR_NS;
    int64_t shift = kind == ACC_DAILY ? STORE_TZ_OFFSET_NS : 0;
    double dur = (double)(t1 - t0);
    for (int64_t b = floor_div(t0 + shift, width);; b++) {
        int64_t lo = b * width - shift, hi = lo + width;
        int64_t a = lo > t0 ? lo : t0, z = hi < t1 ? hi : t1;
        double part = use * (double)(z - a) / dur;
        if (z > a && kind == ACC_DAILY)
            add_day(st, ru, hh, metric, b, part);
        else if (z > a)
            acc_add(ru, hh, metric, kind, b, part, 0);
        if (hi >= t1)
            break;
    }
}

static void credit(struct store *st, struct rollup *ru, int32_t hh, int metric,
                   const struct meter_use *u)
{
    if (!u->has_use)
        return;
    if (u->t1 <= u->t0 || u->t1 - u->t0 > MAX_SPREAD_NS) {
        add_day(st, ru, hh, metric, store__day_of(u->t1 - 1), u->use);
        return;
    }
    spread(st, ru, hh, metric, ACC_DAILY, u->t0, u->t1, u->use);
    if (u->t1 - u->t0 <= STORE_DAY_NS)
        spread(st, ru, hh, metric, ACC_HOURLY, u->t0, u->t1, u->use);
}

/* ---- meters ---- */

static struct meter *meter_at(struct rollup *ru, int32_t hh, int metric)
{
    if (hh < 0 || hh >= MAX_HOUSEHOLD || metric < 0 || metric >= METRIC_COUNT)
        return NULL;
    size_t i = (size_t)hh * METRIC_COUNT + (size_t)metric;
    if (i >= ru->n_meters) {
        size_t n = ru->n_meters ? ru->n_meters : 1024;
        while (n <= i)
            n *= 2;
        ru->meters = xrealloc(ru->meters, n * sizeof(*ru->meters));
        memset(ru->meters + ru->n_meters, 0,
               (n - ru->n_meters) * sizeof(*ru->meters));
        ru->n_meters = n;
    }
    return &ru->meters[i];
}

static void mark_dirty(struct rollup *ru, struct meter *m)
{
    if (m->flags & METER_DIRTY)
        return;
    m->flags |= METER_DIRTY;
    if (ru->n_dirty == ru->cap_dirty) {
        ru->cap_dirty = ru->cap_dirty ? ru->cap_dirty * 2 : 1024;
        ru->dirty = xrealloc(ru->dirty, ru->cap_dirty * sizeof(*ru->dirty));
    }
    ru->dirty[ru->n_dirty++] = (uint32_t)(m - ru->meters);
}

static void count_event(struct store *st, const struct reading *r,
                        const struct meter_use *u)
{
    const char *what = NULL;
    if (u->event == METER_ROLLOVER) {
        what = "meter rollover";
        atomic_fetch_add_explicit(&st->meter_resets, 1, memory_order_relaxed);
    } else if (u->event == METER_REPLACED) {
        what = "meter replaced";
        atomic_fetch_add_explicit(&st->meter_replacements, 1,
                                  memory_order_relaxed);
    }
    if (what)
        log_msg(LOG_INFO, "rollup", "%s | household=%d metric=%s", what,
                r->household, metric_name(r->metric));
    if (u->late)
        atomic_fetch_add_explicit(&st->late_readings, 1, memory_order_relaxed);
}

static void apply_reading(struct store *st, struct rollup *ru,
                          const struct reading *r)
{
    struct meter *m = meter_at(ru, r->household, r->metric);
    if (!m)
        return;
    struct meter_use u;
    store__meter_apply(m, r->field, r->ts_ns, r->value, &u);
    acc_add(ru, r->household, r->metric, ACC_DAILY, store__day_of(r->ts_ns), 0,
            1);
    credit(st, ru, r->household, r->metric, &u);
    count_event(st, r, &u);
    mark_dirty(ru, m);
}

static void notify_subscribers(struct store *st, const struct ingest_batch *b,
                               int64_t seq)
{
    for (size_t i = 0; i < st->n_subs; i++)
        st->subs[i].fn(st->subs[i].ctx, b, seq);
}

static void apply_entry(struct store *st, struct rollup *ru, int64_t seq,
                        const void *payload, size_t len)
{
    struct ingest_batch b;
    if (store__log_decode(payload, len, &b)) {
        log_msg(LOG_ERROR, "rollup",
                "skipping malformed ingest_log entry"
                " | seq=%lld",
                (long long)seq);
        return;
    }
    if (b.feed == FEED_READINGS)
        for (size_t i = 0; i < b.n; i++)
            apply_reading(st, ru, &b.readings[i]);
    notify_subscribers(st, &b, seq);
    store__log_batch_release(&b);
}

/* Applies up to LOG_ROWS_PER_READ log entries after pos; returns how many
 * (0: caught up with everything committed when it started). */
static size_t apply_some(struct store *st, struct rollup *ru)
{
    int64_t committed =
        (int64_t)atomic_load_explicit(&st->log_seq, memory_order_acquire);
    sqlite3_stmt *s = store__stmt(&ru->log, STMT_LOG_AFTER);
    if (!s)
        return 0;
    sqlite3_bind_int64(s, 1, ru->pos);
    sqlite3_bind_int(s, 2, LOG_ROWS_PER_READ);
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(s, 0);
        const void *p = sqlite3_column_blob(s, 1);
        apply_entry(st, ru, seq, p, (size_t)sqlite3_column_bytes(s, 1));
        ru->pos = seq;
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        store__sqlerr(ru->log.db, "read ingest_log");
    else if (!n && committed > ru->pos)
        ru->pos = committed; /* no rows in (pos, committed]: none to skip */
    atomic_store_explicit(&st->rollup_seq, (uint64_t)ru->pos,
                          memory_order_relaxed);
    return n;
}

/* ---- checkpoints ---- */

static int put_usage(struct store_conn *w, const struct usage_slot *u)
{
    int daily = u->kind == ACC_DAILY;
    sqlite3_stmt *s = store__stmt(w, daily ? STMT_DAILY_ADD : STMT_HOURLY_ADD);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int(s, 1, u->household);
    sqlite3_bind_int(s, 2, u->metric);
    sqlite3_bind_int64(s, 3, u->bucket);
    sqlite3_bind_double(s, 4, u->use);
    if (daily)
        sqlite3_bind_int64(s, 5, u->n);
    return store__exec_stmt(w, s, "add usage");
}

static int put_meter(struct store_conn *w, uint32_t i, const struct meter *m)
{
    sqlite3_stmt *s = store__stmt(w, STMT_METER_PUT);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, i / METRIC_COUNT);
    sqlite3_bind_int(s, 2, (int)(i % METRIC_COUNT));
    sqlite3_bind_int64(s, 3, m->first_ts);
    sqlite3_bind_double(s, 4, m->first_index);
    sqlite3_bind_int64(s, 5, m->last_ts);
    sqlite3_bind_double(s, 6, m->last_index);
    sqlite3_bind_int(s, 7, m->flags & ~METER_DIRTY);
    sqlite3_bind_int64(s, 8, m->resets);
    sqlite3_bind_int64(s, 9, m->replacements);
    sqlite3_bind_int64(s, 10, m->late);
    sqlite3_bind_int64(s, 11, m->grain_ns);
    return store__exec_stmt(w, s, "put meter_state");
}

/* Primary-key order of usage_daily/usage_hourly: writing in it keeps each
 * checkpoint's upserts local in the b-trees, as sorting does for readings. */
static int usage_cmp(const void *pa, const void *pb)
{
    const struct usage_slot *a = *(struct usage_slot *const *)pa;
    const struct usage_slot *b = *(struct usage_slot *const *)pb;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    if (a->household != b->household)
        return a->household < b->household ? -1 : 1;
    return a->metric < b->metric ? -1 : a->metric > b->metric;
}

static int index_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return a < b ? -1 : a > b;
}

static int put_usages(struct store_conn *w, struct rollup *ru)
{
    struct usage_slot **order = xmalloc((ru->acc_len + 1) * sizeof(*order));
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < ru->acc_cap; i++)
        if (ru->acc[i].kind != ACC_EMPTY)
            order[n++] = &ru->acc[i];
    qsort(order, n, sizeof(*order), usage_cmp);
    for (size_t i = 0; i < n && !rc; i++)
        rc = put_usage(w, order[i]);
    free(order);
    return rc;
}

static int checkpoint_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct rollup *ru = arg;
    if (put_usages(w, ru))
        return CB_ESTORE;
    if (ru->n_dirty)
        qsort(ru->dirty, ru->n_dirty, sizeof(*ru->dirty), index_cmp);
    for (size_t i = 0; i < ru->n_dirty; i++)
        if (put_meter(w, ru->dirty[i], &ru->meters[ru->dirty[i]]))
            return CB_ESTORE;
    sqlite3_stmt *s = store__stmt(w, STMT_CONSUMER_PUT);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_text(s, 1, STORE_ROLLUP_CONSUMER, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, ru->pos);
    return store__exec_stmt(w, s, "put consumer");
}

/* One transaction on rollup.db, on the roll-up thread: the writer of
 * citybrain.db is not involved. */
static int checkpoint_txn(struct store *st, struct rollup *ru)
{
    struct store_conn *w = &ru->w;
    sqlite3_stmt *s = store__stmt(w, STMT_BEGIN);
    if (!s || store__exec_stmt(w, s, "rollup begin"))
        return CB_ESTORE;
    int rc = checkpoint_fn(st, w, ru);
    if (!rc) {
        s = store__stmt(w, STMT_COMMIT);
        rc = s ? store__exec_stmt(w, s, "rollup commit") : CB_ESTORE;
    }
    if (rc && sqlite3_get_autocommit(w->db) == 0 &&
        (s = store__stmt(w, STMT_ROLLBACK)))
        store__exec_stmt(w, s, "rollup rollback");
    return rc;
}

static void checkpoint(struct store *st, struct rollup *ru)
{
    ru->last_flush_ns = time_monotonic_ns();
    if (checkpoint_txn(st, ru)) {
        /* logged; everything is kept for the next try, in a second */
        ru->retry_after_ns = ru->last_flush_ns + 1000000000LL;
        return;
    }
    acc_clear(ru);
    for (size_t i = 0; i < ru->n_dirty; i++)
        ru->meters[ru->dirty[i]].flags &= (uint8_t)~METER_DIRTY;
    ru->n_dirty = 0;
    atomic_store_explicit(&st->rollup_saved, (uint64_t)ru->pos,
                          memory_order_release);
    pthread_mutex_lock(&ru->lock);
    ru->saved = ru->pos;
    pthread_cond_broadcast(&ru->flushed);
    pthread_mutex_unlock(&ru->lock);
}

/* ---- the thread ---- */

/* Whether to checkpoint now (ru->lock held). */
static int checkpoint_due(struct store *st, struct rollup *ru, size_t got)
{
    int pending = ru->pos > ru->saved || ru->acc_len || ru->n_dirty;
    int64_t now = time_monotonic_ns();
    if (!pending || ru->stop || now < ru->retry_after_ns)
        return 0; /* when stopping, the final checkpoint follows */
    if (ru->flush_target > ru->saved && (!got || ru->pos >= ru->flush_target))
        return 1;
    if (ru->acc_len >= ACC_CHECKPOINT_SLOTS)
        return 1;
    return now - ru->last_flush_ns >=
           (int64_t)st->cfg.rollup_flush_ms * 1000000LL;
}

static void wait_for_log(struct store *st, struct rollup *ru)
{
    int64_t committed =
        (int64_t)atomic_load_explicit(&st->log_seq, memory_order_acquire);
    if (committed > ru->pos || ru->flush_target > ru->saved || ru->stop)
        return;
    int pending = ru->pos > ru->saved || ru->acc_len || ru->n_dirty;
    int64_t wait_ns =
        pending ? (int64_t)st->cfg.rollup_flush_ms * 1000000LL : 1000000000LL;
    int64_t until = time_now_ns() + wait_ns;
    struct timespec ts = {(time_t)(until / 1000000000LL),
                          (long)(until % 1000000000LL)};
    pthread_cond_timedwait(&ru->wake, &ru->lock, &ts);
}

static void *rollup_main(void *arg)
{
    struct store *st = arg;
    struct rollup *ru = st->rollup;
    for (;;) {
        if (atomic_load(&st->test_pause_rollup)) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            continue;
        }
        size_t got = apply_some(st, ru);
        pthread_mutex_lock(&ru->lock);
        int stop = ru->stop, due = checkpoint_due(st, ru, got);
        if (!due && !got && !stop)
            wait_for_log(st, ru);
        pthread_mutex_unlock(&ru->lock);
        if (due)
            checkpoint(st, ru);
        if (stop && !got)
            break;
    }
    if (!st->test_skip_checkpoint)
        checkpoint(st, ru);
    pthread_mutex_lock(&ru->lock);
    ru->exited = 1;
    pthread_cond_broadcast(&ru->flushed);
    pthread_mutex_unlock(&ru->lock);
    return NULL;
}

/* ---- open, load, close ---- */

static int load_meters(struct store *st, struct rollup *ru, sqlite3 *db)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT household,metric,first_ts_ns,first_index,"
                           "last_ts_ns,last_index,flags,resets,"
                           "replacements,late,grain_ns FROM meter_state",
                           -1, &s, NULL))
        return store__sqlerr(db, "load meter_state");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct meter *m =
            meter_at(ru, sqlite3_column_int(s, 0), sqlite3_column_int(s, 1));
        if (!m)
            continue;
        *m = (struct meter){
            .first_ts = sqlite3_column_int64(s, 2),
            .first_index = sqlite3_column_double(s, 3),
            .last_ts = sqlite3_column_int64(s, 4),
            .last_index = sqlite3_column_double(s, 5),
            .flags = (uint8_t)(sqlite3_column_int(s, 6) & ~METER_DIRTY),
            .resets = (uint32_t)sqlite3_column_int64(s, 7),
            .replacements = (uint32_t)sqlite3_column_int64(s, 8),
            .late = (uint32_t)sqlite3_column_int64(s, 9),
            .grain_ns = sqlite3_column_int64(s, 10)};
        atomic_fetch_add(&st->meter_resets, m->resets);
        atomic_fetch_add(&st->meter_replacements, m->replacements);
        atomic_fetch_add(&st->late_readings, m->late);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store__sqlerr(db, "load meter_state");
}

static int load_position(struct rollup *ru, sqlite3 *db)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT seq FROM consumer WHERE name=?1", -1, &s,
                           NULL))
        return store__sqlerr(db, "load consumer");
    sqlite3_bind_text(s, 1, STORE_ROLLUP_CONSUMER, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    ru->pos = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    ru->saved = ru->pos;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : store__sqlerr(db, "load consumer");
}

static void rollup_free(struct rollup *ru)
{
    store__conn_close(&ru->log);
    store__conn_close(&ru->w);
    pthread_mutex_destroy(&ru->lock);
    pthread_cond_destroy(&ru->wake);
    pthread_cond_destroy(&ru->flushed);
    free(ru->meters);
    free(ru->dirty);
    free(ru->acc);
    free(ru);
}

int store__rollup_open(struct store *st)
{
    struct rollup *ru = xcalloc(1, sizeof(*ru));
    pthread_mutex_init(&ru->lock, NULL);
    pthread_cond_init(&ru->wake, NULL);
    pthread_cond_init(&ru->flushed, NULL);
    st->rollup = ru;
    if (store__conn_open(&ru->w, st->rollup_path, 0, &st->cfg) ||
        store__migrate_rollup(&ru->w))
        return CB_ESTORE; /* store_open's error path frees ru */
    return 0;
}

int store__rollup_load(struct store *st)
{
    struct rollup *ru = st->rollup;
    if (load_meters(st, ru, ru->w.db) || load_position(ru, ru->w.db) ||
        store__conn_open(&ru->log, st->db_path, 1, &st->cfg))
        return CB_ESTORE;
    int64_t committed = (int64_t)atomic_load(&st->log_seq);
    if (ru->pos > committed)
        log_msg(LOG_WARN, "rollup",
                "rollup.db is ahead of citybrain.db's ingest log (restored"
                " from different times?): batches up to its position are"
                " not rolled up | position=%lld log_seq=%lld",
                (long long)ru->pos, (long long)committed);
    ru->last_flush_ns = time_monotonic_ns();
    atomic_store(&st->rollup_seq, (uint64_t)ru->pos);
    atomic_store(&st->rollup_saved, (uint64_t)ru->pos);
    return 0;
}

int store__rollup_start(struct store *st)
{
    struct rollup *ru = st->rollup;
    if (pthread_create(&ru->thread, NULL, rollup_main, st)) {
        log_msg(LOG_ERROR, "store", "cannot start the roll-up thread");
        return CB_ESTORE;
    }
    pthread_mutex_lock(&ru->lock);
    ru->started = 1;
    pthread_mutex_unlock(&ru->lock);
    return 0;
}

void store__rollup_notify(struct store *st)
{
    struct rollup *ru = st->rollup;
    if (!ru)
        return;
    pthread_mutex_lock(&ru->lock);
    pthread_cond_signal(&ru->wake);
    pthread_mutex_unlock(&ru->lock);
}

void store__rollup_close(struct store *st)
{
    struct rollup *ru = st->rollup;
    if (!ru)
        return;
    pthread_mutex_lock(&ru->lock);
    ru->stop = 1;
    pthread_cond_signal(&ru->wake);
    pthread_mutex_unlock(&ru->lock);
    if (ru->started)
        pthread_join(ru->thread, NULL);
    st->rollup = NULL;
    rollup_free(ru);
}

int store_rollup_flush(struct store *st)
{
    struct rollup *ru = st->rollup;
    int64_t target =
        (int64_t)atomic_load_explicit(&st->log_seq, memory_order_acquire);
    if (!ru)
        return CB_ECLOSED;
    pthread_mutex_lock(&ru->lock);
    if (!ru->started) {
        pthread_mutex_unlock(&ru->lock);
        return CB_EINVAL;
    }
    if (target > ru->flush_target)
        ru->flush_target = target;
    pthread_cond_signal(&ru->wake);
    while (ru->saved < target && !ru->exited)
        pthread_cond_wait(&ru->flushed, &ru->lock);
    int rc = ru->saved >= target ? 0 : CB_ECLOSED;
    pthread_mutex_unlock(&ru->lock);
    return rc;
}

/* Adds a subscriber (sub_lock held); refused once the consumers run. */
static int subscribe_check(struct store *st)
{
    if (!st->consumers_started)
        return 0;
    log_msg(LOG_ERROR, "store",
            "subscribe after store_start_consumers"
            " ignored");
    return CB_EINVAL;
}

void store_subscribe(struct store *st, store_batch_fn fn, void *ctx)
{
    pthread_mutex_lock(&st->sub_lock);
    if (!subscribe_check(st)) {
        st->subs = xrealloc(st->subs, (st->n_subs + 1) * sizeof(*st->subs));
        st->subs[st->n_subs++] = (struct subscriber){fn, ctx};
    }
    pthread_mutex_unlock(&st->sub_lock);
}

void store_subscribe_usage(struct store *st, store_usage_fn fn, void *ctx)
{
    pthread_mutex_lock(&st->sub_lock);
    if (!subscribe_check(st)) {
        size_t n = st->n_usage_subs + 1;
        st->usage_subs = xrealloc(st->usage_subs, n * sizeof(*st->usage_subs));
        st->usage_subs[st->n_usage_subs++] = (struct usage_subscriber){fn, ctx};
    }
    pthread_mutex_unlock(&st->sub_lock);
}

int store_start_consumers(struct store *st)
{
    pthread_mutex_lock(&st->sub_lock);
    int rc = 0;
    if (!st->consumers_started && !(rc = store__rollup_start(st)))
        st->consumers_started = 1;
    pthread_mutex_unlock(&st->sub_lock);
    return rc;
}

void store_test_pause_rollup(struct store *st, int paused)
{
    atomic_store(&st->test_pause_rollup, paused);
}
