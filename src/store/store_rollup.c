/*
 * store_rollup.c - the roll-up consumer: turns the readings of the ingest
 * log into use per household, metric and hour/day.
 *
 * The consumer reads ingest_log rows (citybrain.db, on its own read-only
 * connection) after its position (consumer table, name "rollup"), applies
 * each batch to its meters in memory, and hands it to the consumers.  From time
 * to time (below) it checkpoints, in ONE transaction on rollup.db, which
 * only this thread writes, through its own connection (BEGIN IMMEDIATE;
 * upserts; position; COMMIT): the accumulated use as increments (use = use
 * + ?), the changed meter_state rows and its new position.  The ingest
 * writer takes no part, so checkpoints and ingest commits run on two cores.
 * Output and position are in the same file and transaction: after a crash,
 * the next open loads meter_state and the position of the last checkpoint
 * from rollup.db and replays the log from there: nothing is counted twice,
 * nothing is lost.  The roll-up hands each batch it applies to the other
 * consumers (store_consumer.c), which skip what their start-up snapshot
 * already held: exactly once in effect for them too.  After each checkpoint it
 * publishes the committed position (st->rollup_saved): retention deletes no log
 * entry beyond it.
 *
 * The meter model (store_meter.c) decides each reading's use and the
 * interval it covers; this file spreads it over hours and days:
 *
 *   interval (t0, t1]           hourly buckets           daily buckets
 *   --------------------------  -----------------------  ---------------
 *   known, <= 12 hours          uniform over the hours   uniform over days
 *   known, > 12 hours           none (grain too coarse)  uniform over days
 *   unknown (t0 == t1)          none                     day of t1
 *
 * So a meter read once a day (or twice) has no hourly rows at all: its
 * readings say nothing about its hours, and spreading them uniformly cost
 * a 24-column usage_hours row per meter and day (174 B a daily reading).
 * The 12 hours leave room for a daily meter's jitter (a read at 23:50 after
 * one at 00:10).
 *
 * Hourly use is stored at the metric's resolution (value_digits, as raw
 * readings; usage_hour_data, format store_codec.h): about 30 B a meter and
 * day where 24 REAL columns cost about 200.  Each part of a reading spread
 * over an hour is rounded to the resolution before it is added, so an
 * hour's stored use is a sum of counts that does not depend on where
 * checkpoints split it (replays and crashes change nothing); it may differ
 * from the exact spread by half a unit per part (an hourly meter: one or
 * two parts an hour).  Daily use likewise: each part of a reading spread
 * over a district day is rounded to the resolution before it is added
 * (add_day; a daily meter: one or two parts a day, an hourly one a part
 * an hour), so a day's use is a sum of counts wherever checkpoints and
 * the move into blocks split it.  usage_daily rows hold that sum as a
 * double (it may differ from the decimal in the last bit); a block holds
 * the count itself (codec_days_encode, store_codec.h).
 *
 * Days are district days (the timezone setting, clock.h); hours are epoch
 * hours (the offset is a whole number of hours, so they are district hours
 * too).  An interval longer than max_spread_days is a reset: its use goes
 * to the day of t1, and spread_resets counts it.  usage_daily.n counts
 * the readings whose timestamp falls in the day.
 *
 * Accumulating.  Most meters report in time order, so each meter keeps its
 * open hour and open district day in its in-memory state (struct meter):
 * use for that hour or day is added there, with no lookup.  Use for a
 * later bucket closes the open one and opens the new one; use for an
 * earlier bucket (late data, or a reading stamped 24:00 whose n counts the
 * next day) bypasses it.  A closed bucket becomes an addition: a (key,
 * value) pair appended to one array, where
 *
 *   key = (day + 2^20) << 35 | meter << 5 | slot      meter = household *
 *                                                     METRIC_COUNT + metric
 *   slot 0..23  use of that hour of the district day  -> usage_hour_data
 *   slot 24     use of the day                        -> usage_daily.use
 *   slot 25     readings stamped in the day           -> usage_daily.n
 *
 * A checkpoint closes every open bucket (only changed meters have one),
 * radix-sorts the additions by key, which orders them by (day, household,
 * metric), the primary key of both tables, and groups each row's
 * additions: one usage_daily and one usage_hour_data row per meter and day,
 * written in key order (local in the b-trees), 16 rows a statement, then
 * the changed meters' meter_state rows in key order, then the position.
 * An hourly meter thus costs a row per day, not a row per reading.  A
 * failed checkpoint keeps the additions and changed meters for the next
 * try; its buckets are closed, so nothing is counted twice.  The same
 * transaction runs, hourly, the retention of the tiers of use (retain_use)
 * and, when the district day changes, within a minute after it writes
 * rows of a day two days old (a back-fill, late readings) and hourly,
 * moves daily use two days old into blocks of 32 days per meter
 * (compact_daily), a bounded chunk each time.
 *
 * When to checkpoint:
 *
 *   trigger                                  bounds
 *   ---------------------------------------  ------------------------------
 *   store_rollup_flush's target applied      (caller waits for it)
 *   1.9 M additions waiting                  memory: 32 MiB, twice to sort
 *   4.2 M readings applied since the last    the work a crash replays
 *   rollup_flush_ms since the last, and,     how stale usage tables are
 *   with a backlog to apply, at least twice
 *   as long as the last one took
 *
 * (the size triggers are checked after each batch, so memory and replay
 * overshoot them by one batch at most).  Within a batch the additions are
 * bounded too: a reading spreads over at most max_spread_days days, and
 * when the array is full past the additions trigger, the additions that
 * share a row are summed in place (compact_adds) before it may grow, so a
 * batch of late readings over the same days costs the rows it touches,
 * not a copy per reading.
 *
 * The last condition lets a checkpoint amortise more readings under load:
 * the costs of a checkpoint grow with the meters and days it touches, not
 * with the readings, so with many meters, spacing them keeps checkpoints
 * to at most a third of this thread's time, and the size triggers still
 * bound memory and replay.
 */
#include <malloc.h>
#include <string.h>

#include "store/store_codec.h"
#include "store/store_int.h"
#include "store/store_meter.h"

#define LOG_ROWS_PER_READ 16
#define MAX_HOUSEHOLD (1 << 28)
#define TZ_HOURS (STORE_TZ_OFFSET_NS / STORE_HOUR_NS)
/* The longest interval spread over hours (see the essay). */
#define HOURLY_MAX_SPAN_NS (12 * STORE_HOUR_NS)
/* Checkpoint triggers (see the essay). */
/* 1.9 M additions: with a 5,000-reading batch's overshoot they still fit in
 * 2^21 (32 MiB, twice while sorting) */
#define CHECKPOINT_ADDS ((size_t)15 << 17)
#define CHECKPOINT_READINGS ((size_t)1 << 22) /* ~2 s to replay */
#define CHECKPOINT_SPACING 2
#define RETAIN_USE_DAYS 8 /* days of a tier of use a checkpoint drops */
#define RETAIN_USE_PERIOD_NS (3600LL * 1000000000LL)
/* Compaction of daily use (see compact_daily). */
#define DAILY_HOT_DAYS 2   /* today and yesterday stay rows (late readings) */
#define DC_HOUSEHOLDS 1024 /* households a chunk (a checkpoint) */
#define DC_LATE_LOOK_NS (60 * 1000000000LL) /* rows two days old: look */
#define DC_NONE INT64_MIN

/* An addition's key: (day + KEY_DAY_BIAS) << KEY_ROW_SHIFT | meter <<
 * KEY_SLOT_BITS | slot, so that sorting the keys sorts the additions by
 * (day, household, metric), the primary keys of usage_daily and
 * usage_hour_data, and groups each row's additions. */
enum { SLOT_DAY_USE = 24, SLOT_DAY_N = 25 };
#define KEY_SLOT_BITS 5
#define KEY_METER_BITS 30
#define KEY_ROW_SHIFT (KEY_SLOT_BITS + KEY_METER_BITS)
#define KEY_DAY_BIAS ((int64_t)1 << 20) /* int64 ns spans +-106,752 days */
#define RADIX_BITS 13                   /* 64 KiB of counts: in L2 */

struct usage_add {
    uint64_t key;
    double value; /* use, or the number of readings for SLOT_DAY_N */
};

struct rollup {
    struct store_conn log; /* read-only on citybrain.db: the ingest log */
    struct store_conn w;   /* read-write on rollup.db: the only writer */
    pthread_t thread;
    int started, exited, stop;
    pthread_mutex_t lock;
    pthread_cond_t wake, flushed;
    int64_t flush_target;  /* lock: a flusher waits for this seq */
    int64_t saved;         /* lock: position of the last checkpoint */
    int64_t pos;           /* roll-up thread: last seq applied */
    int64_t cur_seq;       /* roll-up thread: the batch being applied */
    int64_t last_flush_ns; /* when the last checkpoint ended */
    int64_t last_cost_ns;  /* how long it took */
    int64_t retry_after_ns;
    size_t n_applied; /* readings since the last checkpoint */
    _Atomic size_t max_adds, max_readings; /* the size triggers */
    _Atomic int test_fail;                 /* checkpoints left to fail */
    _Atomic int retain_now; /* store_retention_run asks (lock to clear) */
    int64_t retain_next_ns; /* roll-up thread: next retention of use */
    /* compaction of daily use into blocks (roll-up thread, but dc_due) */
    _Atomic int dc_due;     /* a chunk at the next checkpoint */
    int64_t dc_next_ns;     /* next look for days to compact */
    int64_t dc_block;       /* the block being compacted; DC_NONE: none */
    int64_t dc_cut;         /* its days before this one go */
    int64_t dc_today;       /* the district day of the last look */
    int64_t dc_household;   /* its next household */
    struct dc_row *dc_rows; /* one chunk's rows */
    size_t n_dc_rows, cap_dc_rows;
    struct sbuf dc_buf;
    struct meter *meters; /* by household * METRIC_COUNT + metric */
    size_t n_meters;
    uint32_t *dirty; /* meters changed since the last checkpoint */
    size_t n_dirty, cap_dirty;
    struct usage_add *adds; /* waiting for the checkpoint */
    size_t n_adds, cap_adds;
    int64_t busy_ns; /* roll-up thread: when it last applied entries */
    int64_t trim_ns; /* roll-up thread: when it last gave memory back */
};

/* ---- additions waiting for the checkpoint ---- */

int64_t store__day_of(int64_t ts_ns)
{
    return store__floor_div(ts_ns + STORE_TZ_OFFSET_NS, STORE_DAY_NS);
}

static void sort_adds(struct rollup *ru);

/* Sums the additions that share a key (after sorting them; the order of
 * each key's additions is kept, so the sums are the ones the checkpoint
 * would make).  Bounds the pending memory by the distinct rows touched, not
 * by the readings: one batch of late readings that all land on the same
 * days adds them up in place instead of growing the array. */
static void compact_adds(struct rollup *ru)
{
    size_t k = 0;
    sort_adds(ru);
    for (size_t i = 0; i < ru->n_adds; i++) {
        if (k && ru->adds[k - 1].key == ru->adds[i].key)
            ru->adds[k - 1].value += ru->adds[i].value;
        else
            ru->adds[k++] = ru->adds[i];
    }
    ru->n_adds = k;
}

static void add_push(struct rollup *ru, uint32_t meter, int64_t day, int slot,
                     double value)
{
    if (ru->n_adds == ru->cap_adds) {
        if (ru->n_adds >=
            atomic_load_explicit(&ru->max_adds, memory_order_relaxed))
            compact_adds(ru);
        if (ru->n_adds * 2 >= ru->cap_adds) {
            ru->cap_adds = ru->cap_adds ? ru->cap_adds * 2 : 4096;
            ru->adds = xrealloc(ru->adds, ru->cap_adds * sizeof(*ru->adds));
        }
    }
    ru->adds[ru->n_adds++] = (struct usage_add){
        (uint64_t)(day + KEY_DAY_BIAS) << KEY_ROW_SHIFT |
            (uint64_t)meter << KEY_SLOT_BITS | (uint64_t)slot,
        value};
}

/* Epoch hours are district hours: hour h is slot h + offset - 24 * day of
 * the district day (offset: the district's UTC offset in hours). */
static void push_hour(struct rollup *ru, uint32_t meter, int64_t hour,
                      double use)
{
    int64_t day = store__floor_div(hour + TZ_HOURS, 24);
    add_push(ru, meter, day, (int)(hour + TZ_HOURS - day * 24), use);
}

/* The use entry is pushed even for 0: it makes the usage_daily row. */
static void push_day(struct rollup *ru, uint32_t meter, int64_t day, double use,
                     uint32_t n)
{
    add_push(ru, meter, day, SLOT_DAY_USE, use);
    if (n)
        add_push(ru, meter, day, SLOT_DAY_N, (double)n);
}

/* ---- open buckets ---- */

/* Adds use to an hour of meter m: to its open hour; a later hour closes
 * that one (into the additions) and opens; an earlier one (late data) goes
 * to the additions directly. */
static void hour_add(struct rollup *ru, struct meter *m, int64_t hour,
                     double use)
{
    uint32_t mi = (uint32_t)(m - ru->meters);
    if (m->flags & METER_HOUR_OPEN) {
        if (hour == m->open_hour) {
            m->hour_use += use;
            return;
        }
        if (hour < m->open_hour) {
            push_hour(ru, mi, hour, use);
            return;
        }
        push_hour(ru, mi, m->open_hour, m->hour_use);
    }
    m->flags |= METER_HOUR_OPEN;
    m->open_hour = (int32_t)hour;
    m->hour_use = use;
}

/* The same for a district day: use, and n readings stamped in it. */
static void day_add(struct rollup *ru, struct meter *m, int64_t day, double use,
                    uint32_t n)
{
    uint32_t mi = (uint32_t)(m - ru->meters);
    if (m->flags & METER_DAY_OPEN) {
        if (day == m->open_day && n <= (uint32_t)(UINT16_MAX - m->day_n)) {
            m->day_use += use;
            m->day_n = (uint16_t)(m->day_n + n);
            return;
        }
        if (day < m->open_day) {
            push_day(ru, mi, day, use, n);
            return;
        }
        push_day(ru, mi, m->open_day, m->day_use, m->day_n);
    }
    if (n > UINT16_MAX) { /* more than a bucket counts: added directly */
        push_day(ru, mi, day, use, n);
        m->flags &= (uint8_t)~METER_DAY_OPEN;
        return;
    }
    m->flags |= METER_DAY_OPEN;
    m->open_day = (int32_t)day;
    m->day_use = use;
    m->day_n = (uint16_t)n;
}

/* Moves the open buckets of the changed meters into the additions; only
 * changed meters have open buckets. */
static void close_buckets(struct rollup *ru)
{
    for (size_t i = 0; i < ru->n_dirty; i++) {
        uint32_t mi = ru->dirty[i];
        struct meter *m = &ru->meters[mi];
        if (m->flags & METER_HOUR_OPEN)
            push_hour(ru, mi, m->open_hour, m->hour_use);
        if (m->flags & METER_DAY_OPEN)
            push_day(ru, mi, m->open_day, m->day_use, m->day_n);
        m->flags &= (uint8_t) ~(METER_HOUR_OPEN | METER_DAY_OPEN);
    }
}

/* ---- spreading use over buckets ---- */

/* Adds use to a district day and tells the consumers of use. */
static void add_day(struct store *st, struct rollup *ru, struct meter *m,
                    const struct reading *r, int64_t day, double use)
{
    /* at the resolution daily use is stored at (blocks) */
    use = codec_round(use, st->cfg.value_digits[r->metric]);
    day_add(ru, m, day, use, 0);
    store__consumers_usage(st, ru->cur_seq, r->household, r->metric, day, use);
}

/* Adds use to an hour and tells the consumers of hourly use. */
static void add_hour(struct store *st, struct rollup *ru, struct meter *m,
                     const struct reading *r, int64_t hour, double use)
{
    hour_add(ru, m, hour, use);
    store__consumers_usage_hour(st, ru->cur_seq, r->household, r->metric, hour,
                                use);
}

/* Spreads use uniformly over (t0, t1] into days (daily) or hours. */
static void spread(struct store *st, struct rollup *ru, struct meter *m,
                   const struct reading *r, int daily, int64_t t0, int64_t t1,
                   double use)
{
    int64_t width = daily ? STORE_DAY_NS : STORE_HOUR_NS;
    int64_t shift = daily ? STORE_TZ_OFFSET_NS : 0;
    double dur = (double)(t1 - t0);
    for (int64_t b = store__floor_div(t0 + shift, width);; b++) {
        int64_t lo = b * width - shift, hi = lo + width;
        int64_t a = lo > t0 ? lo : t0, z = hi < t1 ? hi : t1;
        double part = use * (double)(z - a) / dur;
        if (z > a && daily)
            add_day(st, ru, m, r, b, part);
        else if (z > a) /* at the resolution hourly use is stored at */
            add_hour(st, ru, m, r, b,
                     codec_round(part, st->cfg.value_digits[r->metric]));
        if (hi >= t1)
            break;
    }
}

static void credit(struct store *st, struct rollup *ru, struct meter *m,
                   const struct reading *r, const struct meter_use *u)
{
    if (!u->has_use)
        return;
    if (u->t1 <= u->t0) {
        add_day(st, ru, m, r, store__day_of(u->t1 - 1), u->use);
        return;
    }
    if (u->t1 - u->t0 > (int64_t)st->cfg.max_spread_days * STORE_DAY_NS) {
        /* A gap this long is a reset, not an interval: spreading it would
         * add a row per day (a late delta after a ten-year gap: 3,660). */
        atomic_fetch_add_explicit(&st->spread_resets, 1, memory_order_relaxed);
        add_day(st, ru, m, r, store__day_of(u->t1 - 1), u->use);
        return;
    }
    spread(st, ru, m, r, 1, u->t0, u->t1, u->use);
    if (u->t1 - u->t0 <= HOURLY_MAX_SPAN_NS)
        spread(st, ru, m, r, 0, u->t0, u->t1, u->use);
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
        /* calloc, not realloc and memset: a big block comes as fresh
         * zero pages, and the slots no meter uses (up to half, the
         * doubling's slack) stay out of resident memory */
        struct meter *grown = xcalloc(n, sizeof(*ru->meters));
        if (ru->n_meters)
            memcpy(grown, ru->meters, ru->n_meters * sizeof(*ru->meters));
        free(ru->meters);
        ru->meters = grown;
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
    day_add(ru, m, store__day_of(r->ts_ns), 0, 1);
    credit(st, ru, m, r, &u);
    count_event(st, r, &u);
    mark_dirty(ru, m);
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
    ru->cur_seq = seq;
    if (b.feed == FEED_READINGS) {
        for (size_t i = 0; i < b.n; i++)
            apply_reading(st, ru, &b.readings[i]);
        ru->n_applied += b.n;
    }
    store__consumers_usage_done(st, seq);
    store__consumers_batch(st, &b, seq);
    store__log_batch_release(&b);
}

/* Whether a size trigger calls for a checkpoint. */
static int size_due(struct rollup *ru)
{
    return ru->n_adds >=
               atomic_load_explicit(&ru->max_adds, memory_order_relaxed) ||
           ru->n_applied >=
               atomic_load_explicit(&ru->max_readings, memory_order_relaxed);
}

/* Applies up to LOG_ROWS_PER_READ log entries after pos, fewer when a size
 * trigger is reached (so memory overshoots it by one batch at most);
 * returns how many (0: caught up with everything committed when it
 * started). */
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
        if (size_due(ru))
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        store__sqlerr(ru->log.db, "read ingest_log");
    else if (!n && committed > ru->pos)
        ru->pos = committed; /* no rows in (pos, committed]: none to skip */
    atomic_store_explicit(&st->rollup_seq, (uint64_t)ru->pos,
                          memory_order_relaxed);
    return n;
}

/* ---- checkpoints ---- */

/* The range of the additions' days and meters: their keys renumbered
 * densely, ((day - day_lo) * meters + meter - meter_lo) << KEY_SLOT_BITS |
 * slot, sort in the same order with fewer radix passes. */
struct key_range {
    uint64_t day_lo, meter_lo, meters;
};

static uint64_t dense_key(const struct key_range *kr, uint64_t key)
{
    uint64_t day = key >> KEY_ROW_SHIFT;
    uint64_t meter = key >> KEY_SLOT_BITS & ((1u << KEY_METER_BITS) - 1);
    return ((day - kr->day_lo) * kr->meters + meter - kr->meter_lo)
               << KEY_SLOT_BITS |
           (key & ((1u << KEY_SLOT_BITS) - 1));
}

/* The key range of the n additions; *OUT_bits: bits of the largest dense
 * key. */
static struct key_range key_range_of(const struct usage_add *a, size_t n,
                                     int *OUT_bits)
{
    uint64_t day_hi = 0, meter_hi = 0, mask = (1u << KEY_METER_BITS) - 1;
    struct key_range kr = {UINT64_MAX, UINT64_MAX, 0};
    for (size_t i = 0; i < n; i++) {
        uint64_t day = a[i].key >> KEY_ROW_SHIFT;
        uint64_t meter = a[i].key >> KEY_SLOT_BITS & mask;
        kr.day_lo = day < kr.day_lo ? day : kr.day_lo;
        day_hi = day > day_hi ? day : day_hi;
        kr.meter_lo = meter < kr.meter_lo ? meter : kr.meter_lo;
        meter_hi = meter > meter_hi ? meter : meter_hi;
    }
    kr.meters = meter_hi - kr.meter_lo + 1;
    uint64_t top = ((day_hi - kr.day_lo + 1) * kr.meters) << KEY_SLOT_BITS;
    for (*OUT_bits = 0; top >> *OUT_bits; (*OUT_bits)++)
        ;
    return kr;
}

/* Sorts the additions by key: an LSD radix sort of their dense keys, in
 * as few passes of at most RADIX_BITS as they need (a comparison sort was
 * a hot spot), through a second buffer that lives only as long as the
 * sort. */
static void sort_adds(struct rollup *ru)
{
    size_t n = ru->n_adds, count[(1 << RADIX_BITS) + 1];
    int bits;
    if (n < 2)
        return;
    struct key_range kr = key_range_of(ru->adds, n, &bits);
    int passes = (bits + RADIX_BITS - 1) / RADIX_BITS;
    int digit = (bits + passes - 1) / passes;
    uint64_t mask = ((uint64_t)1 << digit) - 1;
    struct usage_add *src = ru->adds, *t;
    struct usage_add *dst = xmalloc(ru->cap_adds * sizeof(*dst));
    for (int sh = 0; sh < bits; sh += digit) {
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < n; i++)
            count[(dense_key(&kr, src[i].key) >> sh & mask) + 1]++;
        for (size_t d = 1; d <= mask + 1; d++)
            count[d] += count[d - 1];
        for (size_t i = 0; i < n; i++)
            dst[count[dense_key(&kr, src[i].key) >> sh & mask]++] = src[i];
        t = src, src = dst, dst = t;
    }
    ru->adds = src; /* both buffers hold cap_adds */
    free(dst);
}

/* ---- writing rows ---- */

/* A usage_daily row's additions. */
struct daily_row {
    int64_t day;
    uint32_t meter;
    double use, n;
};

/* A usage_hour_data row's: set has a bit per hour of use[] added to. */
struct hours_row {
    int64_t day;
    uint32_t meter;
    uint32_t set;
    double use[24];
};

static void bind_daily(sqlite3_stmt *s, int p, const void *item,
                       const void *ctx)
{
    const struct daily_row *u = item;
    sqlite3_bind_int(s, p, (int)(u->meter / METRIC_COUNT));
    sqlite3_bind_int(s, p + 1, (int)(u->meter % METRIC_COUNT));
    sqlite3_bind_int64(s, p + 2, u->day);
    sqlite3_bind_double(s, p + 3, u->use);
    sqlite3_bind_int64(s, p + 4, (int64_t)u->n);
}

/* The hours with additions, at their metric's resolution (ctx: the
 * digits, store_config.value_digits; format: store_codec.h). */
static void bind_hours(sqlite3_stmt *s, int p, const void *item,
                       const void *ctx)
{
    const struct hours_row *u = item;
    const int *digits = ctx;
    int metric = (int)(u->meter % METRIC_COUNT);
    struct codec_hours h = {.mask = u->set};
    struct sbuf data;
    memcpy(h.use, u->use, sizeof(h.use));
    sbuf_init(&data);
    codec_hours_encode(&data, &h, digits[metric]);
    sqlite3_bind_int(s, p, (int)(u->meter / METRIC_COUNT));
    sqlite3_bind_int(s, p + 1, metric);
    sqlite3_bind_int64(s, p + 2, u->day);
    sqlite3_bind_blob(s, p + 3, data.buf, (int)data.len, SQLITE_TRANSIENT);
    sbuf_release(&data);
}

/* item: a meter's index; ctx: the meters. */
static void bind_meter(sqlite3_stmt *s, int p, const void *item,
                       const void *ctx)
{
    uint32_t i = *(const uint32_t *)item;
    const struct meter *m = (const struct meter *)ctx + i;
    sqlite3_bind_int64(s, p, i / METRIC_COUNT);
    sqlite3_bind_int(s, p + 1, (int)(i % METRIC_COUNT));
    sqlite3_bind_int64(s, p + 2, m->first_ts);
    sqlite3_bind_double(s, p + 3, m->first_index);
    sqlite3_bind_int64(s, p + 4, m->last_ts);
    sqlite3_bind_double(s, p + 5, m->last_index);
    sqlite3_bind_int(s, p + 6, m->flags & ~METER_MEMORY_FLAGS);
    sqlite3_bind_int64(s, p + 7, m->resets);
    sqlite3_bind_int64(s, p + 8, m->replacements);
    sqlite3_bind_int64(s, p + 9, m->late);
    sqlite3_bind_int64(s, p + 10, m->grain_ns);
}

/* How one table's rows are written: a statement per STORE_ROWS_PER_STMT
 * rows (a statement per row cost about as much as the row), one per row for
 * the rest. */
struct row_kind {
    enum store_stmt one, many;
    int params;  /* per row */
    size_t size; /* of an item */
    void (*bind)(sqlite3_stmt *s, int first_param, const void *item,
                 const void *ctx);
    const char *what;
};

static const struct row_kind daily_rows = {.one = STMT_DAILY_ADD,
                                           .many = STMT_DAILY_ADD_MANY,
                                           .params = 5,
                                           .size = sizeof(struct daily_row),
                                           .bind = bind_daily,
                                           .what = "add daily use"};
static const struct row_kind hours_rows = {.one = STMT_HOURS_ADD,
                                           .many = STMT_HOURS_ADD_MANY,
                                           .params = 4,
                                           .size = sizeof(struct hours_row),
                                           .bind = bind_hours,
                                           .what = "add hourly use"};
static const struct row_kind meter_rows = {.one = STMT_METER_PUT,
                                           .many = STMT_METER_PUT_MANY,
                                           .params = 11,
                                           .size = sizeof(uint32_t),
                                           .bind = bind_meter,
                                           .what = "put meter_state"};

/* Writes items[0, n) in order, as rows of kind k. */
static int put_rows(struct store_conn *w, const struct row_kind *k,
                    const void *items, size_t n, const void *ctx)
{
    const char *item = items;
    for (size_t i = 0; i < n;) {
        int many = n - i >= STORE_ROWS_PER_STMT;
        sqlite3_stmt *s = store__stmt(w, many ? k->many : k->one);
        if (!s)
            return CB_ESTORE;
        for (int r = 0; r < (many ? STORE_ROWS_PER_STMT : 1); r++, i++)
            k->bind(s, 1 + r * k->params, item + i * k->size, ctx);
        if (store__exec_stmt(w, s, k->what))
            return CB_ESTORE;
    }
    return 0;
}

/* Rows gathered from the sorted additions wait here, a statement's worth
 * of each table. */
struct row_queue {
    struct daily_row daily[STORE_ROWS_PER_STMT];
    struct hours_row hours[STORE_ROWS_PER_STMT];
    size_t n_daily, n_hours;
};

/* Gathers the additions of the row starting at *i into the next free rows
 * of q (usage_daily, usage_hour_data or both) and moves *i past them. */
static void gather_row(const struct usage_add *a, size_t n, size_t *i,
                       struct row_queue *q)
{
    uint64_t rk = a[*i].key >> KEY_SLOT_BITS;
    int64_t day = (int64_t)(a[*i].key >> KEY_ROW_SHIFT) - KEY_DAY_BIAS;
    uint32_t meter = (uint32_t)(rk & ((1u << KEY_METER_BITS) - 1));
    struct daily_row *d = &q->daily[q->n_daily];
    struct hours_row *h = &q->hours[q->n_hours];
    int has_day = 0;
    *d = (struct daily_row){day, meter, 0, 0};
    h->day = day, h->meter = meter, h->set = 0;
    for (; *i < n && a[*i].key >> KEY_SLOT_BITS == rk; (*i)++) {
        unsigned slot = (unsigned)(a[*i].key & ((1u << KEY_SLOT_BITS) - 1));
        if (slot < 24 && !(h->set >> slot & 1))
            h->use[slot] = a[*i].value;
        else if (slot < 24)
            h->use[slot] += a[*i].value;
        else
            *(slot == SLOT_DAY_USE ? &d->use : &d->n) += a[*i].value;
        h->set |= slot < 24 ? 1u << slot : 0;
        has_day |= slot >= 24;
    }
    q->n_daily += (size_t)has_day;
    q->n_hours += h->set != 0;
}

/* Writes the sorted additions, row by row in primary-key order: each
 * checkpoint's upserts stay local in the b-trees. */
static int put_usage(struct store_conn *w, const struct rollup *ru,
                     const int *digits)
{
    struct row_queue q = {.n_daily = 0};
    int rc = 0;
    for (size_t i = 0; i < ru->n_adds && !rc;) {
        gather_row(ru->adds, ru->n_adds, &i, &q);
        if (q.n_daily == STORE_ROWS_PER_STMT) {
            rc = put_rows(w, &daily_rows, q.daily, q.n_daily, NULL);
            q.n_daily = 0;
        }
        if (!rc && q.n_hours == STORE_ROWS_PER_STMT) {
            rc = put_rows(w, &hours_rows, q.hours, q.n_hours, digits);
            q.n_hours = 0;
        }
    }
    if (!rc)
        rc = put_rows(w, &daily_rows, q.daily, q.n_daily, NULL);
    return rc ? rc : put_rows(w, &hours_rows, q.hours, q.n_hours, digits);
}

static int index_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return a < b ? -1 : a > b;
}

/* ---- daily use in blocks (format in store_int.h) ---- */

int64_t store__daily_block_of(int64_t day)
{
    return store__floor_div(day, STORE_DAILY_BLOCK_DAYS);
}

/* cb_day_use(data, i) / cb_day_n(data, i): the value of day i of a block,
 * NULL when it has none (or the block is corrupt). */
static void day_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct codec_days b;
    int64_t i = sqlite3_value_int64(argv[1]);
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB || i < 0 ||
        i >= STORE_DAILY_BLOCK_DAYS ||
        codec_days_decode(sqlite3_value_blob(argv[0]),
                          (size_t)sqlite3_value_bytes(argv[0]), &b, NULL) ||
        !(b.mask >> i & 1)) {
        sqlite3_result_null(cx);
        return;
    }
    if (sqlite3_user_data(cx))
        sqlite3_result_int64(cx, (sqlite3_int64)b.n[i]);
    else
        sqlite3_result_double(cx, b.use[i]);
}

/* cb_hour_use(data, i): the use of hour i of a usage_hour_data row, NULL
 * when it has none (or the value is corrupt). */
static void hour_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct codec_hours h;
    int64_t i = sqlite3_value_int64(argv[1]);
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB || i < 0 ||
        i >= CODEC_HOURS ||
        codec_hours_decode(sqlite3_value_blob(argv[0]),
                           (size_t)sqlite3_value_bytes(argv[0]), &h, NULL) ||
        !(h.mask >> i & 1)) {
        sqlite3_result_null(cx);
        return;
    }
    sqlite3_result_double(cx, h.use[i]);
}

/* cb_hours_add(stored, more): the hours of both, summed, at more's
 * resolution (the checkpoint's upsert).  A corrupt stored value is
 * replaced by more (logged), so that one bad row does not stop the
 * roll-up's checkpoints; a corrupt more is an error. */
static void hours_add_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct codec_hours a, b;
    int digits;
    struct sbuf out;
    if (codec_hours_decode(sqlite3_value_blob(argv[1]),
                           (size_t)sqlite3_value_bytes(argv[1]), &b, &digits)) {
        sqlite3_result_error(cx, "cb_hours_add: malformed hours", -1);
        return;
    }
    if (codec_hours_decode(sqlite3_value_blob(argv[0]),
                           (size_t)sqlite3_value_bytes(argv[0]), &a, NULL)) {
        log_msg(LOG_ERROR, "rollup",
                "corrupt hourly use replaced by the new hours");
        a.mask = 0;
    }
    for (int i = 0; i < CODEC_HOURS; i++)
        if (a.mask >> i & 1)
            b.use[i] = (b.mask >> i & 1) ? a.use[i] + b.use[i] : a.use[i];
    b.mask |= a.mask;
    sbuf_init(&out);
    codec_hours_encode(&out, &b, digits);
    sqlite3_result_blob(cx, out.buf, (int)out.len, SQLITE_TRANSIENT);
    sbuf_release(&out);
}

/* cb_hours_one(slot, use): hours with use (exact) in that one hour;
 * cb_hours_drop(data, slot): the hours without that one, NULL when no
 * other is left (or the value is corrupt).  For usage_hourly's triggers. */
static void hours_one_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct codec_hours h = {.mask = 0};
    int64_t i = sqlite3_value_int64(argv[0]);
    struct sbuf out;
    if (i < 0 || i >= CODEC_HOURS) {
        sqlite3_result_error(cx, "cb_hours_one: no such hour", -1);
        return;
    }
    h.mask = 1u << i;
    h.use[i] = sqlite3_value_double(argv[1]);
    sbuf_init(&out);
    codec_hours_encode(&out, &h, -1);
    sqlite3_result_blob(cx, out.buf, (int)out.len, SQLITE_TRANSIENT);
    sbuf_release(&out);
}

static void hours_drop_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct codec_hours h;
    int digits;
    int64_t i = sqlite3_value_int64(argv[1]);
    struct sbuf out;
    if (codec_hours_decode(sqlite3_value_blob(argv[0]),
                           (size_t)sqlite3_value_bytes(argv[0]), &h, &digits) ||
        i < 0 || i >= CODEC_HOURS || !(h.mask & ~(1u << i))) {
        sqlite3_result_null(cx);
        return;
    }
    h.mask &= ~(1u << i);
    sbuf_init(&out);
    codec_hours_encode(&out, &h, digits);
    sqlite3_result_blob(cx, out.buf, (int)out.len, SQLITE_TRANSIENT);
    sbuf_release(&out);
}

int store__daily_block_functions(sqlite3 *db)
{
    static int n_flag = 1;
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    if (sqlite3_create_function(db, "cb_day_use", 2, flags, NULL, day_fn, NULL,
                                NULL) ||
        sqlite3_create_function(db, "cb_day_n", 2, flags, &n_flag, day_fn, NULL,
                                NULL) ||
        sqlite3_create_function(db, "cb_hour_use", 2, flags, NULL, hour_fn,
                                NULL, NULL) ||
        sqlite3_create_function(db, "cb_hours_add", 2, flags, NULL,
                                hours_add_fn, NULL, NULL) ||
        sqlite3_create_function(db, "cb_hours_one", 2, flags, NULL,
                                hours_one_fn, NULL, NULL) ||
        sqlite3_create_function(db, "cb_hours_drop", 2, flags, NULL,
                                hours_drop_fn, NULL, NULL))
        return store__sqlerr(db, "register functions");
    return 0;
}

/* A usage_daily row read for compaction. */
struct dc_row {
    int32_t household;
    int32_t metric;
    int64_t day;
    double use;
    int64_t n;
};

static int dc_row_cmp(const void *pa, const void *pb)
{
    const struct dc_row *a = pa, *b = pb;
    if (a->household != b->household)
        return a->household < b->household ? -1 : 1;
    if (a->metric != b->metric)
        return a->metric < b->metric ? -1 : 1;
    return (a->day > b->day) - (a->day < b->day);
}

/* Reads the chunk's rows: households [h0, h1) of block ru->dc_block. */
static int dc_read(struct rollup *ru, struct store_conn *w, int64_t h0,
                   int64_t h1)
{
    sqlite3_stmt *s = store__stmt(w, STMT_DAILY_BLOCK_READ);
    int step;
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, ru->dc_block * STORE_DAILY_BLOCK_DAYS);
    sqlite3_bind_int64(s, 2, h0);
    sqlite3_bind_int64(s, 3, h1);
    sqlite3_bind_int64(s, 4, ru->dc_cut);
    ru->n_dc_rows = 0;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (ru->n_dc_rows == ru->cap_dc_rows) {
            ru->cap_dc_rows = ru->cap_dc_rows ? ru->cap_dc_rows * 2 : 4096;
            ru->dc_rows =
                xrealloc(ru->dc_rows, ru->cap_dc_rows * sizeof(*ru->dc_rows));
        }
        ru->dc_rows[ru->n_dc_rows++] = (struct dc_row){
            sqlite3_column_int(s, 0), sqlite3_column_int(s, 1),
            sqlite3_column_int64(s, 2), sqlite3_column_double(s, 3),
            sqlite3_column_int64(s, 4)};
    }
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : store__sqlerr(w->db, "read daily use");
}

/* Adds rows [i, j) (one meter) to its block row and writes it at the
 * metric's resolution (the rows' use is a sum of parts at it, see
 * add_day: the block holds their exact sum). */
static int dc_put(struct store *st, struct rollup *ru, struct store_conn *w,
                  size_t i, size_t j)
{
    const struct dc_row *r = &ru->dc_rows[i];
    struct codec_days b;
    sqlite3_stmt *s = store__stmt(w, STMT_DAILY_BLOCK_GET);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, ru->dc_block);
    sqlite3_bind_int(s, 2, r->household);
    sqlite3_bind_int(s, 3, r->metric);
    int step = sqlite3_step(s), bad = 0;
    if (step == SQLITE_ROW)
        bad = codec_days_decode(sqlite3_column_blob(s, 0),
                                (size_t)sqlite3_column_bytes(s, 0), &b,
                                NULL) != 0;
    else
        memset(&b, 0, sizeof(b));
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return store__sqlerr(w->db, "read daily block");
    if (bad) {
        /* unreadable already (readers skip it): the rows replace it, so
         * that one bad block does not stop the roll-up's checkpoints */
        log_msg(LOG_ERROR, "rollup",
                "corrupt block of daily use replaced by the day rows | "
                "block=%lld household=%d metric=%d",
                (long long)ru->dc_block, r->household, r->metric);
        memset(&b, 0, sizeof(b));
    }
    for (size_t k = i; k < j; k++) {
        int d =
            (int)(ru->dc_rows[k].day - ru->dc_block * STORE_DAILY_BLOCK_DAYS);
        if (!(b.mask >> d & 1))
            b.use[d] = 0, b.n[d] = 0;
        b.mask |= 1u << d;
        b.use[d] += ru->dc_rows[k].use;
        b.n[d] += (uint64_t)ru->dc_rows[k].n;
    }
    sbuf_reset(&ru->dc_buf);
    int digits = r->metric >= 0 && r->metric < METRIC_COUNT
                     ? st->cfg.value_digits[r->metric]
                     : -1;
    codec_days_encode(&ru->dc_buf, &b, digits);
    if (!(s = store__stmt(w, STMT_DAILY_BLOCK_PUT)))
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, ru->dc_block);
    sqlite3_bind_int(s, 2, r->household);
    sqlite3_bind_int(s, 3, r->metric);
    sqlite3_bind_blob(s, 4, ru->dc_buf.buf, (int)ru->dc_buf.len, SQLITE_STATIC);
    return store__exec_stmt(w, s, "put daily block");
}

/* The next block to compact: the oldest day of usage_daily's, when it is
 * DAILY_HOT_DAYS old (else DC_NONE); its days before ru->dc_cut (today -
 * DAILY_HOT_DAYS + 1, or the block's end) go. */
static int dc_next_block(struct rollup *ru, struct store_conn *w)
{
    sqlite3_stmt *s = store__stmt(w, STMT_DAILY_MIN_DAY);
    if (!s)
        return CB_ESTORE;
    int step = sqlite3_step(s);
    int any = step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    int64_t min_day = any ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (step != SQLITE_ROW)
        return store__sqlerr(w->db, "oldest daily use");
    int64_t cut = store__day_of(dclock_now_ns()) - DAILY_HOT_DAYS + 1;
    int64_t block = store__daily_block_of(min_day);
    int64_t end = (block + 1) * STORE_DAILY_BLOCK_DAYS;
    ru->dc_block = DC_NONE;
    if (any && min_day < cut) {
        ru->dc_block = block;
        ru->dc_cut = end < cut ? end : cut;
        ru->dc_household = 0;
    }
    return 0;
}

/* Compaction of daily use: the rows of district days DAILY_HOT_DAYS old
 * (today and yesterday stay rows: late readings of yesterday are common)
 * move into blocks of 32 days per meter, coded at the metric's resolution
 * (codec_days_encode: a few bytes a day where a row per meter and day
 * cost about 24).  The block of the current 32 days is filled as days
 * close: each look reads it, adds the closed days and writes it back.  It
 * runs inside the checkpoint's transaction, a chunk of DC_HOUSEHOLDS
 * households of one block a checkpoint; it looks for work when the
 * district day changes, within a minute after a checkpoint writes rows
 * of a day two days old (checkpoint_fn), hourly (the first a minute after
 * open) and at store_retention_run, and goes on at the next checkpoints while
 * there is more (at once when the roll-up has caught up with the log, at its
 * pace while it applies a backlog).  A late row for a compacted day (the
 * roll-up only writes rows) is added into its block the next time. Readers see
 * both tiers (store_snapshot.c, STMT_USAGE_DAILY, the view usage_daily_all). */
static int compact_daily(struct store *st, struct rollup *ru,
                         struct store_conn *w)
{
    int64_t now = time_monotonic_ns();
    int64_t today = store__day_of(dclock_now_ns());
    if (today != ru->dc_today) { /* a district day closed: look now */
        ru->dc_today = today;
        ru->dc_next_ns = 0;
    }
    if (!atomic_load(&ru->dc_due) && now < ru->dc_next_ns)
        return 0;
    if (!atomic_load(&ru->dc_due))
        ru->dc_next_ns = now + RETAIN_USE_PERIOD_NS;
    atomic_store(&ru->dc_due, 1);
    if (ru->dc_block == DC_NONE && dc_next_block(ru, w))
        return CB_ESTORE;
    if (ru->dc_block == DC_NONE) {
        atomic_store(&ru->dc_due, 0); /* nothing (more) to compact */
        ru->dc_next_ns = now + RETAIN_USE_PERIOD_NS;
        return 0;
    }
    /* from the next household that has rows: a few late rows in an old
     * block cost a chunk each, not a pass over every household */
    sqlite3_stmt *s = store__stmt(w, STMT_DAILY_BLOCK_NEXT);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, ru->dc_block * STORE_DAILY_BLOCK_DAYS);
    sqlite3_bind_int64(s, 2, ru->dc_household);
    sqlite3_bind_int64(s, 3, ru->dc_cut);
    int step = sqlite3_step(s);
    int more = step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    int64_t h0 = more ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (step != SQLITE_ROW)
        return store__sqlerr(w->db, "next daily rows");
    if (!more) {
        ru->dc_block = DC_NONE; /* the block is done: look again */
        return 0;
    }
    int64_t h1 = h0 + DC_HOUSEHOLDS;
    if (dc_read(ru, w, h0, h1))
        return CB_ESTORE;
    if (ru->n_dc_rows)
        qsort(ru->dc_rows, ru->n_dc_rows, sizeof(*ru->dc_rows), dc_row_cmp);
    for (size_t i = 0, j; i < ru->n_dc_rows; i = j) {
        for (j = i + 1; j < ru->n_dc_rows &&
                        ru->dc_rows[j].household == ru->dc_rows[i].household &&
                        ru->dc_rows[j].metric == ru->dc_rows[i].metric;
             j++)
            ;
        if (dc_put(st, ru, w, i, j))
            return CB_ESTORE;
    }
    if (!(s = store__stmt(w, STMT_DAILY_BLOCK_DROP)))
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, ru->dc_block * STORE_DAILY_BLOCK_DAYS);
    sqlite3_bind_int64(s, 2, h0);
    sqlite3_bind_int64(s, 3, h1);
    sqlite3_bind_int64(s, 4, ru->dc_cut);
    if (store__exec_stmt(w, s, "drop compacted daily use"))
        return CB_ESTORE;
    ru->dc_household = h1;
    return 0;
}

/* Retention of the tiers of use: drops the district days of hourly and of
 * daily use older than hourly_retention_days / daily_retention_days (0:
 * kept) on the district clock, like the raw readings' retention: hourly
 * (the first a minute after open) and at store_retention_run, with the
 * next checkpoint.  RETAIN_USE_DAYS days a checkpoint at most; while there
 * is more, the next checkpoint goes on.  The tables are keyed by day first,
 * so each delete is one range of the b-tree. */
static int retain_use(struct store *st, struct rollup *ru, struct store_conn *w)
{
    int64_t now = time_monotonic_ns();
    if (!atomic_load(&ru->retain_now) && now < ru->retain_next_ns)
        return 0;
    ru->retain_next_ns = now + RETAIN_USE_PERIOD_NS;

    static const enum store_stmt ids[2] = {STMT_RETAIN_HOURS_USE,
                                           STMT_RETAIN_DAILY_USE};
    int days[2] = {st->cfg.hourly_retention_days, st->cfg.daily_retention_days};
    int64_t today = store__day_of(dclock_now_ns());
    for (int i = 0; i < 2; i++) {
        if (!days[i])
            continue;
        sqlite3_stmt *s = store__stmt(w, ids[i]);
        if (!s)
            return CB_ESTORE;
        sqlite3_bind_int64(s, 1, today - days[i]);
        sqlite3_bind_int64(s, 2, RETAIN_USE_DAYS);
        if (store__exec_stmt(w, s, "retain use"))
            return CB_ESTORE;
        if (sqlite3_changes64(w->db))
            ru->retain_next_ns = 0; /* maybe more: again next time */
    }
    if (!days[1])
        return 0;
    /* blocks of daily use whose days are all past the cutoff, one a time */
    sqlite3_stmt *s = store__stmt(w, STMT_RETAIN_DAILY_BLOCKS);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, store__daily_block_of(today - days[1]));
    if (store__exec_stmt(w, s, "retain daily blocks"))
        return CB_ESTORE;
    if (sqlite3_changes64(w->db))
        ru->retain_next_ns = 0;
    return 0;
}

static int checkpoint_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct rollup *ru = arg;
    /* rows of a day old enough for the blocks (a back-fill, late
     * readings; the additions are sorted, oldest day first): look within
     * DC_LATE_LOOK_NS, so that a stream of late readings is merged into
     * its blocks once a minute, not at every checkpoint */
    int64_t look = time_monotonic_ns() + DC_LATE_LOOK_NS;
    if (ru->n_adds &&
        (int64_t)(ru->adds[0].key >> KEY_ROW_SHIFT) - KEY_DAY_BIAS <=
            store__day_of(dclock_now_ns()) - DAILY_HOT_DAYS &&
        ru->dc_next_ns > look)
        ru->dc_next_ns = look;
    if (put_usage(w, ru, st->cfg.value_digits) || retain_use(st, ru, w) ||
        compact_daily(st, ru, w))
        return CB_ESTORE;
    if (ru->n_dirty)
        qsort(ru->dirty, ru->n_dirty, sizeof(*ru->dirty), index_cmp);
    if (put_rows(w, &meter_rows, ru->dirty, ru->n_dirty, ru->meters))
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
    if (!rc && atomic_load(&ru->test_fail) > 0 &&
        atomic_fetch_sub(&ru->test_fail, 1) > 0)
        rc = CB_ESTORE; /* the test seam: fail before COMMIT */
    if (!rc) {
        s = store__stmt(w, STMT_COMMIT);
        rc = s ? store__exec_stmt(w, s, "rollup commit") : CB_ESTORE;
    }
    if (rc && sqlite3_get_autocommit(w->db) == 0 &&
        (s = store__stmt(w, STMT_ROLLBACK)))
        store__exec_stmt(w, s, "rollup rollback");
    atomic_store_explicit(&st->rollup_cache,
                          store__conn_cache_bytes(w) +
                              store__conn_cache_bytes(&ru->log),
                          memory_order_relaxed);
    return rc;
}

static void checkpoint(struct store *st, struct rollup *ru)
{
    int64_t start = time_monotonic_ns();
    close_buckets(ru);
    sort_adds(ru);
    int rc = checkpoint_txn(st, ru);
    ru->last_flush_ns = time_monotonic_ns();
    ru->last_cost_ns = ru->last_flush_ns - start;
    if (rc) {
        /* logged; everything is kept for the next try, in a second */
        ru->retry_after_ns = ru->last_flush_ns + 1000000000LL;
        return;
    }
    ru->n_adds = 0;
    ru->n_applied = 0;
    for (size_t i = 0; i < ru->n_dirty; i++)
        ru->meters[ru->dirty[i]].flags &= (uint8_t)~METER_DIRTY;
    ru->n_dirty = 0;
    atomic_store_explicit(&st->rollup_saved, (uint64_t)ru->pos,
                          memory_order_release);
    pthread_mutex_lock(&ru->lock);
    ru->saved = ru->pos;
    if (ru->retain_next_ns && !atomic_load(&ru->dc_due))
        atomic_store(&ru->retain_now, 0); /* done, nothing more to do */
    pthread_cond_broadcast(&ru->flushed);
    pthread_mutex_unlock(&ru->lock);
    store__writer_notify(st); /* the log behind the checkpoint may go */
}

/* ---- the thread ---- */

/* Whether to checkpoint now (ru->lock held); got: entries the last read
 * applied (0: caught up with the log). */
static int checkpoint_due(struct store *st, struct rollup *ru, size_t got)
{
    int64_t now = time_monotonic_ns();
    /* the hourly retention and compaction of use ride on checkpoints */
    int timers = now >= ru->retain_next_ns || now >= ru->dc_next_ns;
    int pending = ru->pos > ru->saved || ru->n_adds || ru->n_dirty ||
                  atomic_load(&ru->retain_now) || atomic_load(&ru->dc_due) ||
                  timers;
    if (!pending || ru->stop || now < ru->retry_after_ns)
        return 0; /* when stopping, the final checkpoint follows */
    if (ru->flush_target > ru->saved && (!got || ru->pos >= ru->flush_target))
        return 1;
    if ((atomic_load(&ru->retain_now) || atomic_load(&ru->dc_due)) && !got)
        return 1; /* caught up: retention and compaction chunks go on */
    if (size_due(ru))
        return 1;
    int64_t since = now - ru->last_flush_ns;
    if (since < (int64_t)st->cfg.rollup_flush_ms * 1000000LL)
        return 0;
    return !got || since >= CHECKPOINT_SPACING * ru->last_cost_ns;
}

static void wait_for_log(struct store *st, struct rollup *ru)
{
    int64_t committed =
        (int64_t)atomic_load_explicit(&st->log_seq, memory_order_acquire);
    if (committed > ru->pos || ru->flush_target > ru->saved || ru->stop ||
        ((atomic_load(&ru->retain_now) || atomic_load(&ru->dc_due)) &&
         time_monotonic_ns() >= ru->retry_after_ns))
        return;
    int pending = ru->pos > ru->saved || ru->n_adds || ru->n_dirty ||
                  atomic_load(&ru->dc_due);
    int64_t wait_ns =
        pending ? (int64_t)st->cfg.rollup_flush_ms * 1000000LL : 1000000000LL;
    int64_t until = time_now_ns() + wait_ns;
    struct timespec ts = {(time_t)(until / 1000000000LL),
                          (long)(until % 1000000000LL)};
    pthread_cond_timedwait(&ru->wake, &ru->lock, &ts);
}

/* Once the roll-up has been idle (caught up, everything checkpointed) for
 * TRIM_IDLE_NS after applying entries, and at most every TRIM_SPACING_NS:
 * frees its emptied batch buffers (a back-fill grows them to tens of MB)
 * and has malloc give the free pages of every arena back to the kernel
 * (glibc's malloc_trim), so that a back-fill's transient buffers - the
 * roll-up's, the ingest threads', the readers' - do not stay resident. */
#define TRIM_IDLE_NS (2 * 1000000000LL)
#define TRIM_SPACING_NS (30 * 1000000000LL)

static void trim_when_idle(struct store *st, struct rollup *ru, size_t got)
{
    int64_t now = time_monotonic_ns();
    (void)st;
    if (got) {
        ru->busy_ns = now;
        return;
    }
    if (!ru->busy_ns || now - ru->busy_ns < TRIM_IDLE_NS ||
        (ru->trim_ns && now - ru->trim_ns < TRIM_SPACING_NS) || ru->n_adds ||
        ru->n_dirty || ru->pos > ru->saved)
        return;
    free(ru->adds);
    ru->adds = NULL;
    ru->cap_adds = 0;
    free(ru->dirty);
    ru->dirty = NULL;
    ru->cap_dirty = 0;
    malloc_trim(0);
    ru->busy_ns = 0;
    ru->trim_ns = now;
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
        trim_when_idle(st, ru, got);
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
            .flags = (uint8_t)(sqlite3_column_int(s, 6) & ~METER_MEMORY_FLAGS),
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
    free(ru->adds);
    free(ru->dc_rows);
    sbuf_release(&ru->dc_buf);
    free(ru);
}

int store__rollup_open(struct store *st)
{
    struct rollup *ru = xcalloc(1, sizeof(*ru));
    ru->max_adds = CHECKPOINT_ADDS;
    ru->max_readings = CHECKPOINT_READINGS;
    ru->dc_block = DC_NONE;
    sbuf_init(&ru->dc_buf);
    pthread_mutex_init(&ru->lock, NULL);
    pthread_cond_init(&ru->wake, NULL);
    pthread_cond_init(&ru->flushed, NULL);
    st->rollup = ru;
    if (store__conn_open(&ru->w, st->rollup_path, 0, &st->cfg) ||
        store__migrate_rollup(&ru->w, STORE_ROLLUP_MOVE_VERSION))
        return CB_ESTORE; /* store_open's error path frees ru */
    return 0;
}

int store__rollup_load(struct store *st)
{
    struct rollup *ru = st->rollup;
    if (store__migrate_rollup(&ru->w, store__rollup_schema_version()) ||
        load_meters(st, ru, ru->w.db) || load_position(ru, ru->w.db) ||
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
    /* the first retention of use a minute after open, as the readings' */
    ru->retain_next_ns = ru->last_flush_ns + 60LL * 1000000000LL;
    ru->dc_next_ns = ru->retain_next_ns; /* compaction of daily use too */
    ru->dc_block = DC_NONE;
    /* then each time the district day changes (compact_daily) */
    ru->dc_today = store__day_of(dclock_now_ns());
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

int store__rollup_retain(struct store *st)
{
    struct rollup *ru = st->rollup;
    if (!ru)
        return CB_ECLOSED;
    pthread_mutex_lock(&ru->lock);
    if (!ru->started) { /* it runs a minute after the roll-up starts */
        pthread_mutex_unlock(&ru->lock);
        return 0;
    }
    atomic_store(&ru->dc_due, 1);
    atomic_store(&ru->retain_now, 1);
    pthread_cond_signal(&ru->wake);
    while (atomic_load(&ru->retain_now) && !ru->exited)
        pthread_cond_wait(&ru->flushed, &ru->lock);
    int rc = atomic_load(&ru->retain_now) ? CB_ECLOSED : 0;
    pthread_mutex_unlock(&ru->lock);
    return rc;
}

int64_t store__rollup_position(struct store *st)
{
    return st->rollup ? st->rollup->pos : 0;
}

void store_test_pause_rollup(struct store *st, int paused)
{
    atomic_store(&st->test_pause_rollup, paused);
}

void store_test_fail_rollup_checkpoints(struct store *st, int n)
{
    atomic_store(&st->rollup->test_fail, n);
}

void store_test_rollup_checkpoint_size(struct store *st, size_t readings,
                                       size_t adds)
{
    struct rollup *ru = st->rollup;
    atomic_store(&ru->max_readings, readings ? readings : CHECKPOINT_READINGS);
    atomic_store(&ru->max_adds, adds ? adds : CHECKPOINT_ADDS);
    store__rollup_notify(st);
}
