/*
 * store_days.c - raw readings compacted by day: the series blocks of past
 * days, how the writer builds them from the hourly rows, and how dedup,
 * reads, scans and retention see them.
 *
 * Two tiers.  Ingest appends readings to reading_block rows of (hour, 256
 * households), one per group commit (store_blocks.c): cheap to write, but
 * 20 bytes a reading plus a row per commit.  Once the newest hour stored
 * is COMPACT_GRACE_HOURS into a later UTC day (the day has closed, and the
 * readings of its last hours have had time to arrive), the writer compacts
 * it (late readings of a day compacted already: once it is two days older
 * than the newest hour, so that a backlog is merged in once): for
 * each 64 consecutive households it merges that day's hourly rows (and
 * the day's compacted row, if late readings came in after a first
 * compaction) into one reading_day row, a series block (store_codec.h),
 * and deletes the hourly rows, in one transaction:
 *
 *   reading_day(id INTEGER PRIMARY KEY, day, block, n, data BLOB)
 *   unique index (block, day); index (day)
 *
 *   day    UTC days since 1970-01-01 (floor of hour / 24)
 *   block  household / 64; base household block * 64, base ts the day's
 *          start
 *
 * 64 households x 3 metrics x 24 hourly readings is ~4,600 readings a row,
 * so SQLite's row and page overhead is spread thin, and a household's
 * 90-day history is 90 rows whose other runs are skipped unread.
 *
 * Low-rate blocks by period.  A block of daily meters has ~200 readings a
 * day, each its own run (~12 bytes), and its ~3 KB day row sat alone in a
 * 4 KB page: ~21 bytes a reading.  So when a day block's hot readings are
 * at most PERIOD_MAX_RATE a series and the day has no day row yet, they
 * are merged into the block's period row instead, one series block of up
 * to STORE_PERIOD_DAYS (32) days, the runs spanning days (a daily reading:
 * ~3 bytes; the row is read, merged and written again once a day):
 *
 *   reading_period(id INTEGER PRIMARY KEY, period, block, day0, day1, n,
 *                  data BLOB)
 *   unique index (block, period); index (period, day0, day1)
 *
 *   period  floor(day / 32); base ts the period's first day's start
 *   day0,   the first and last day with a reading in the row: the newest
 *   day1    compacted day (marks), and retention (a row goes when day1 is
 *           past the cutoff day, is trimmed when only day0 is)
 *
 * The choice is per (day, block), so hourly blocks keep day rows; a day
 * whose readings come in trickles (an hourly backlog) gets a day row once
 * the period row would hold more than PERIOD_MAX_RATE a series of it.  A
 * (day, block) may so have readings in both (a block whose rate changed);
 * every path below reads both: a household's reads, the scans, dedup.
 *
 * Dedup stays exact: a reading at or before its series' mark is looked up
 * in its hourly rows (store_blocks.c) and, when its day has a compacted
 * row, in that row too, then in its period row (decoded once per (day,
 * block) and (period, block) the group touches).  A late reading for a
 * compacted day goes to an hourly row, as any other, and the next
 * compaction merges it in.
 *
 * Compaction runs in chunks (one day, 16 hourly blocks = 4,096 households)
 * that take turns with groups on the writer thread, like retention.  At a
 * clean stop (store__days_compact_at_close) every hot day is compacted,
 * the open one as a partial day, for up to STORE_CLOSE_COMPACT_S seconds;
 * the rest of the open day then comes in as late readings of a compacted
 * day do (merged once it is two days older than the newest hour).  Each
 * chunk is its own transaction: a kill during it loses nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_codec.h"
#include "store/store_int.h"

#define CHUNK_HOT_BLOCKS 16
#define DAY_HOURS 24
/* Hours into the next day before a day is compacted: a reading of a
 * day's last hours that comes later still deduplicates (and is merged in
 * by the next compaction), but costs a decode of its day's row. */
#define COMPACT_GRACE_HOURS 2
/* A day block's hot readings go to its period row when they are at most
 * this many a series (daily meters: one), and the day has no day row. */
#define PERIOD_MAX_RATE 2

int64_t store__utc_day_of_hour(int64_t hour)
{
    return store__floor_div(hour, DAY_HOURS);
}

int64_t store__period_of_day(int64_t day)
{
    return store__floor_div(day, STORE_PERIOD_DAYS);
}

static int64_t day_start_ns(int64_t day)
{
    return day * STORE_DAY_NS;
}

static int64_t period_start_ns(int64_t period)
{
    return day_start_ns(period * STORE_PERIOD_DAYS);
}

static int64_t day_of_ts(int64_t ts_ns)
{
    return store__floor_div(ts_ns, STORE_DAY_NS);
}

static int series_order(const void *pa, const void *pb)
{
    const struct reading *a = pa, *b = pb;
    if (a->household != b->household)
        return a->household < b->household ? -1 : 1;
    if (a->metric != b->metric)
        return a->metric < b->metric ? -1 : 1;
    return a->ts_ns < b->ts_ns ? -1 : a->ts_ns > b->ts_ns;
}

/* Decodes one compacted row (of a day, or of a period when period) into
 * v (appending). */
static int decode_row(const void *data, size_t len, int period, int64_t key,
                      int64_t block, int32_t household, struct block_entries *v)
{
    struct codec_out out = {v->e, v->n, v->cap};
    int rc = codec_decode(data, len, (int32_t)(block * STORE_DAY_BLOCK),
                          period ? period_start_ns(key) : day_start_ns(key),
                          household, &out);
    v->e = out.e;
    v->n = out.n;
    v->cap = out.cap;
    if (rc)
        log_msg(LOG_ERROR, "store",
                "corrupt compacted block | %s=%lld block=%lld",
                period ? "period" : "day", (long long)key, (long long)block);
    return rc;
}

/* Loads the compacted row of (day, block), or of (period, block) when
 * period, into v (emptied first). */
static int load_row(struct store_conn *c, int period, int64_t key,
                    int64_t block, int32_t household, struct block_entries *v)
{
    sqlite3_stmt *s = store__stmt(c, period ? STMT_PERIOD_GET : STMT_DAY_GET);
    int rc = 0, step;
    if (!s)
        return CB_ESTORE;
    v->n = 0;
    sqlite3_bind_int64(s, 1, block);
    sqlite3_bind_int64(s, 2, key);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        rc = decode_row(sqlite3_column_blob(s, 0),
                        (size_t)sqlite3_column_bytes(s, 0), period, key, block,
                        household, v);
    sqlite3_reset(s);
    if (!rc && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "read compacted block");
    return rc;
}

static int load_day(struct store_conn *c, int64_t day, int64_t block,
                    int32_t household, struct block_entries *v)
{
    return load_row(c, 0, day, block, household, v);
}

/* ---- dedup ---- */

int store__day_has(struct store_conn *w, struct day_probe *p,
                   const struct reading *r, int *OUT_has)
{
    int64_t day = store__utc_day_of_hour(store__hour_of(r->ts_ns));
    int64_t block = r->household / STORE_DAY_BLOCK;
    *OUT_has = 0;
    if (day > p->newest_day)
        return 0; /* never compacted */
    if (!p->loaded || p->day != day || p->block != block) {
        p->loaded = 0;
        if (load_day(w, day, block, -1, &p->v))
            return CB_ESTORE;
        p->day = day;
        p->block = block;
        p->loaded = 1;
    }
    *OUT_has = p->v.n && bsearch(r, p->v.e, p->v.n, sizeof(*p->v.e),
                                 series_order) != NULL;
    if (*OUT_has)
        return 0;
    /* a low-rate block's day is in its period row */
    int64_t period = store__period_of_day(day);
    if (!p->ploaded || p->period != period || p->pblock != block) {
        p->ploaded = 0;
        if (load_row(w, 1, period, block, -1, &p->pv))
            return CB_ESTORE;
        p->period = period;
        p->pblock = block;
        p->ploaded = 1;
    }
    *OUT_has = p->pv.n && bsearch(r, p->pv.e, p->pv.n, sizeof(*p->pv.e),
                                  series_order) != NULL;
    return 0;
}

/* ---- compaction (writer thread, inside a transaction) ---- */

static int hot_span(struct store_conn *w, int64_t *OUT_min, int64_t *OUT_max)
{
    sqlite3_stmt *s = store__stmt(w, STMT_HOT_SPAN);
    if (!s)
        return CB_ESTORE;
    int step = sqlite3_step(s);
    *OUT_min = *OUT_max = INT64_MIN;
    if (step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *OUT_min = sqlite3_column_int64(s, 0);
        *OUT_max = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return step == SQLITE_ROW ? 0 : store__sqlerr(w->db, "hot span");
}

int store__days_due(struct store *st)
{
    if (st->hot_min_hour == INT64_MIN)
        return 0;
    if (st->compact_close_ns)
        return time_now_ns() < st->compact_close_ns; /* closing */
    if (st->compact_max_block >= 0)
        return 1; /* a day's compaction goes on to its last chunk */
    int64_t day = store__utc_day_of_hour(st->hot_min_hour);
    int64_t newest = store__utc_day_of_hour(st->hot_max_hour);
    /* late readings of a day compacted already wait until it is two days
     * older than the newest hour: a day that gets late data for hours (a
     * backlog uploaded) is merged again once, not at every chunk */
    if (st->newest_day != INT64_MIN && day <= st->newest_day)
        return day < newest - 1;
    return st->hot_max_hour >= (day + 1) * DAY_HOURS + COMPACT_GRACE_HOURS;
}

void store__days_note_hour(struct store *st, int64_t hour)
{
    if (st->hot_min_hour == INT64_MIN || hour < st->hot_min_hour)
        st->hot_min_hour = hour;
    if (st->hot_max_hour == INT64_MIN || hour > st->hot_max_hour)
        st->hot_max_hour = hour;
}

void store__days_compact_at_close(struct store *st)
{
    pthread_mutex_lock(&st->q_lock);
    st->compact_close_ns = time_now_ns() + STORE_CLOSE_COMPACT_S * 1000000000LL;
    st->compact_close_n = 0;
    pthread_cond_signal(&st->q_wake);
    pthread_mutex_unlock(&st->q_lock);
}

/* Raises *OUT_day to the int64 the one-row statement gives, if any. */
static int newest_of(struct store_conn *w, enum store_stmt id, int64_t *OUT_day)
{
    sqlite3_stmt *s = store__stmt(w, id);
    if (!s)
        return CB_ESTORE;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL &&
        sqlite3_column_int64(s, 0) > *OUT_day)
        *OUT_day = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return step == SQLITE_ROW ? 0 : store__sqlerr(w->db, "newest day");
}

int store__days_load(struct store *st)
{
    st->newest_day = INT64_MIN;
    if (newest_of(&st->writer, STMT_DAY_NEWEST, &st->newest_day) ||
        newest_of(&st->writer, STMT_PERIOD_NEWEST, &st->newest_day))
        return CB_ESTORE;
    st->compact_block = 0;
    return hot_span(&st->writer, &st->hot_min_hour, &st->hot_max_hour);
}

/* Loads the hourly rows of day and hourly blocks [b0, b1] into v, their
 * row ids into ids. */
static int load_hot(struct store_conn *w, int64_t day, int64_t b0, int64_t b1,
                    struct block_entries *v, struct sbuf *ids)
{
    sqlite3_stmt *s = store__stmt(w, STMT_HOT_DAY_ROWS);
    int rc = 0, step;
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, day * DAY_HOURS);
    sqlite3_bind_int64(s, 2, b0);
    sqlite3_bind_int64(s, 3, b1);
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        sbuf_add(ids, &id, sizeof(id));
        rc = store__block_decode(sqlite3_column_blob(s, 2),
                                 (size_t)sqlite3_column_bytes(s, 2),
                                 sqlite3_column_int64(s, 1), v);
    }
    sqlite3_reset(s);
    if (!rc && step != SQLITE_DONE)
        rc = store__sqlerr(w->db, "read hourly rows");
    return rc;
}

static int put_day(struct store *st, int64_t day, int64_t block,
                   const struct reading *r, size_t n, struct sbuf *blob)
{
    sqlite3_stmt *s = store__stmt(&st->writer, STMT_DAY_PUT);
    if (!s)
        return CB_ESTORE;
    sbuf_reset(blob);
    codec_encode(blob, r, n, (int32_t)(block * STORE_DAY_BLOCK),
                 day_start_ns(day), st->cfg.value_digits);
    sqlite3_bind_int64(s, 1, day);
    sqlite3_bind_int64(s, 2, block);
    sqlite3_bind_int64(s, 3, (int64_t)n);
    sqlite3_bind_blob(s, 4, blob->buf, (int)blob->len, SQLITE_STATIC);
    return store__exec_stmt(&st->writer, s, "write day block");
}

static int put_period(struct store *st, int64_t period, int64_t block,
                      const struct reading *r, size_t n, struct sbuf *blob)
{
    sqlite3_stmt *s = store__stmt(&st->writer, STMT_PERIOD_PUT);
    int64_t day0 = INT64_MAX, day1 = INT64_MIN;
    if (!s)
        return CB_ESTORE;
    for (size_t i = 0; i < n; i++) {
        int64_t d = day_of_ts(r[i].ts_ns);
        day0 = d < day0 ? d : day0;
        day1 = d > day1 ? d : day1;
    }
    sbuf_reset(blob);
    codec_encode(blob, r, n, (int32_t)(block * STORE_DAY_BLOCK),
                 period_start_ns(period), st->cfg.value_digits);
    sqlite3_bind_int64(s, 1, period);
    sqlite3_bind_int64(s, 2, block);
    sqlite3_bind_int64(s, 3, day0);
    sqlite3_bind_int64(s, 4, day1);
    sqlite3_bind_int64(s, 5, (int64_t)n);
    sqlite3_bind_blob(s, 6, blob->buf, (int)blob->len, SQLITE_STATIC);
    return store__exec_stmt(&st->writer, s, "write period block");
}

/* At most PERIOD_MAX_RATE readings a series in the sorted h[0..n)? */
static int low_rate(const struct reading *h, size_t n)
{
    size_t series = 0;
    for (size_t i = 0; i < n; i++)
        if (!i || h[i].household != h[i - 1].household ||
            h[i].metric != h[i - 1].metric)
            series++;
    return n <= PERIOD_MAX_RATE * series;
}

/* At most PERIOD_MAX_RATE readings a series on day in the sorted r[0..n)? */
static int day_low_rate(const struct reading *r, size_t n, int64_t day)
{
    size_t series = 0, count = 0;
    const struct reading *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (day_of_ts(r[i].ts_ns) != day)
            continue;
        if (!prev || prev->household != r[i].household ||
            prev->metric != r[i].metric)
            series++;
        prev = &r[i];
        count++;
    }
    return count <= PERIOD_MAX_RATE * series;
}

/* Appends h[0..n) to old, sorts it and drops repeats: the count kept. */
static size_t merge_sorted(struct block_entries *old, const struct reading *h,
                           size_t n)
{
    if (old->n + n > old->cap) {
        old->cap = old->n + n;
        old->e = xrealloc(old->e, old->cap * sizeof(*old->e));
    }
    memcpy(old->e + old->n, h, n * sizeof(*h));
    old->n += n;
    qsort(old->e, old->n, sizeof(*old->e), series_order);
    size_t k = 0;
    for (size_t i = 0; i < old->n; i++)
        if (!k || series_order(&old->e[k - 1], &old->e[i]))
            old->e[k++] = old->e[i];
    return k;
}

/* Merges the sorted hot readings h[0..n) of one day block with its
 * compacted row and writes the result: into the day's row, or into the
 * block's period row when the readings are few a series (daily meters)
 * and the day has no row of its own. */
static int merge_block(struct store *st, int64_t day, int64_t block,
                       const struct reading *h, size_t n,
                       struct block_entries *old, struct sbuf *blob)
{
    if (load_day(&st->writer, day, block, -1, old))
        return CB_ESTORE;
    if (!old->n && low_rate(h, n)) {
        int64_t period = store__period_of_day(day);
        if (load_row(&st->writer, 1, period, block, -1, old))
            return CB_ESTORE;
        size_t k = merge_sorted(old, h, n);
        /* a day that fills up in trickles (an hourly backlog) gets a day
         * row once it is no longer low-rate: a period row stays small */
        if (day_low_rate(old->e, k, day))
            return put_period(st, period, block, old->e, k, blob);
        old->n = 0;
    }
    size_t k = merge_sorted(old, h, n);
    return put_day(st, day, block, old->e, k, blob);
}

static int delete_rows(struct store_conn *w, const struct sbuf *ids)
{
    const int64_t *id = (const int64_t *)ids->buf;
    for (size_t i = 0; i < ids->len / sizeof(*id); i++) {
        sqlite3_stmt *s = store__stmt(w, STMT_HOT_DELETE);
        if (!s)
            return CB_ESTORE;
        sqlite3_bind_int64(s, 1, id[i]);
        int rc = store__exec_stmt(w, s, "delete hourly row");
        if (rc)
            return rc;
    }
    return 0;
}

static int compact_range(struct store *st, int64_t day, int64_t b0,
                         size_t *OUT_n)
{
    struct block_entries hot = {NULL, 0, 0}, old = {NULL, 0, 0};
    struct sbuf ids = SBUF_INIT, blob = SBUF_INIT;
    int rc =
        load_hot(&st->writer, day, b0, b0 + CHUNK_HOT_BLOCKS - 1, &hot, &ids);
    if (!rc && hot.n)
        qsort(hot.e, hot.n, sizeof(*hot.e), series_order);
    for (size_t i = 0, j; !rc && i < hot.n; i = j) {
        int64_t block = hot.e[i].household / STORE_DAY_BLOCK;
        for (j = i; j < hot.n && hot.e[j].household / STORE_DAY_BLOCK == block;
             j++)
            ;
        rc = merge_block(st, day, block, hot.e + i, j - i, &old, &blob);
    }
    if (!rc)
        rc = delete_rows(&st->writer, &ids);
    *OUT_n = hot.n;
    free(hot.e);
    free(old.e);
    sbuf_release(&ids);
    sbuf_release(&blob);
    return rc;
}

int store__days_compact_chunk(struct store *st, struct store_conn *w,
                              size_t *OUT_readings)
{
    int64_t day = store__utc_day_of_hour(st->hot_min_hour);
    int64_t max_block = (int64_t)(STORE_MAX_HOUSEHOLD / STORE_BLOCK_SIZE);
    int rc = compact_range(st, day, st->compact_block, OUT_readings);
    if (rc)
        return rc;
    st->compact_next = st->compact_block + CHUNK_HOT_BLOCKS;
    if (st->compact_next > st->compact_max_block ||
        st->compact_next >= max_block)
        st->compact_next = -1; /* the day is done */
    (void)w;
    return 0;
}

/* After COMMIT of a chunk (or with rc != 0 after its rollback). */
int store__days_compact_done(struct store *st, int rc)
{
    if (rc)
        return rc;
    int64_t day = store__utc_day_of_hour(st->hot_min_hour);
    if (day > st->newest_day || st->newest_day == INT64_MIN)
        st->newest_day = day;
    if (st->compact_next >= 0) {
        st->compact_block = st->compact_next;
        return 0;
    }
    st->compact_block = 0;
    st->compact_max_block = -1;
    return hot_span(&st->writer, &st->hot_min_hour, &st->hot_max_hour);
}

/* The highest hourly block of the day being compacted (before its first
 * chunk). */
int store__days_compact_begin(struct store *st)
{
    if (st->compact_max_block >= 0)
        return 0;
    sqlite3_stmt *s = store__stmt(&st->writer, STMT_HOT_DAY_MAX_BLOCK);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1,
                       store__utc_day_of_hour(st->hot_min_hour) * DAY_HOURS);
    int step = sqlite3_step(s);
    st->compact_max_block =
        step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL
            ? sqlite3_column_int64(s, 0)
            : 0;
    sqlite3_reset(s);
    st->compact_block = 0;
    return step == SQLITE_ROW ? 0 : store__sqlerr(st->writer.db, "day blocks");
}

/* ---- reading back ---- */

/* Appends household's readings of the rows (key, data) s gives. */
static int read_rows(struct store_conn *c, sqlite3_stmt *s, int period,
                     int64_t block, int32_t household, struct block_entries *v)
{
    int rc = 0, step;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = decode_row(sqlite3_column_blob(s, 1),
                        (size_t)sqlite3_column_bytes(s, 1), period,
                        sqlite3_column_int64(s, 0), block, household, v);
    sqlite3_reset(s);
    if (!rc && step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "read compacted blocks");
    return rc;
}

int store__days_read(struct store_conn *c, int32_t household, int64_t from_ns,
                     int64_t to_ns, struct block_entries *v)
{
    sqlite3_stmt *s = store__stmt(c, STMT_DAY_RANGE);
    sqlite3_stmt *p = store__stmt(c, STMT_PERIOD_RANGE);
    int64_t block = household / STORE_DAY_BLOCK;
    int64_t d0 = store__utc_day_of_hour(store__hour_of(from_ns));
    int64_t d1 = store__utc_day_of_hour(store__hour_of(to_ns - 1));
    if (!s || !p)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, block);
    sqlite3_bind_int64(s, 2, d0);
    sqlite3_bind_int64(s, 3, d1);
    sqlite3_bind_int64(p, 1, block);
    sqlite3_bind_int64(p, 2, store__period_of_day(d0));
    sqlite3_bind_int64(p, 3, store__period_of_day(d1));
    int rc = read_rows(c, s, 0, block, household, v);
    return rc ? rc : read_rows(c, p, 1, block, household, v);
}

int store__days_newest(sqlite3 *db, int64_t *OUT_ts_ns)
{
    static const char *const sql[2] = {
        "SELECT day,block,data FROM reading_day WHERE day="
        "(SELECT max(day) FROM reading_day)",
        "SELECT period,block,data FROM reading_period WHERE period="
        "(SELECT max(period) FROM reading_period) AND day1=(SELECT max(day1)"
        " FROM reading_period WHERE period=(SELECT max(period) FROM"
        " reading_period))"};
    struct block_entries v = {NULL, 0, 0};
    sqlite3_stmt *s;
    int rc = 0, step = SQLITE_DONE;
    for (int period = 0; period < 2 && !rc && step == SQLITE_DONE; period++) {
        if (sqlite3_prepare_v2(db, sql[period], -1, &s, NULL)) {
            free(v.e);
            return store__sqlerr(db, "newest day");
        }
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
            rc = decode_row(sqlite3_column_blob(s, 2),
                            (size_t)sqlite3_column_bytes(s, 2), period,
                            sqlite3_column_int64(s, 0),
                            sqlite3_column_int64(s, 1), -1, &v);
        sqlite3_finalize(s);
    }
    for (size_t i = 0; i < v.n; i++)
        if (v.e[i].ts_ns > *OUT_ts_ns)
            *OUT_ts_ns = v.e[i].ts_ns;
    free(v.e);
    return rc || step != SQLITE_DONE ? store__sqlerr(db, "newest day") : 0;
}

/* Appends the readings with from_ns <= ts < to_ns of the rows (block,
 * data) of one day or period. */
static int window_rows(sqlite3_stmt *day_rows, int period, int64_t key,
                       int64_t from_ns, int64_t to_ns, struct block_entries *v)
{
    struct block_entries all = {NULL, 0, 0};
    int rc = 0, step;
    sqlite3_reset(day_rows);
    sqlite3_bind_int64(day_rows, 1, key);
    while (!rc && (step = sqlite3_step(day_rows)) == SQLITE_ROW) {
        all.n = 0;
        rc = decode_row(sqlite3_column_blob(day_rows, 1),
                        (size_t)sqlite3_column_bytes(day_rows, 1), period, key,
                        sqlite3_column_int64(day_rows, 0), -1, &all);
        for (size_t i = 0; !rc && i < all.n; i++) {
            if (all.e[i].ts_ns < from_ns || all.e[i].ts_ns >= to_ns)
                continue;
            if (v->n == v->cap) {
                v->cap = v->cap ? v->cap * 2 : 4096;
                v->e = xrealloc(v->e, v->cap * sizeof(*v->e));
            }
            v->e[v->n++] = all.e[i];
        }
    }
    sqlite3_reset(day_rows);
    free(all.e);
    return rc || step != SQLITE_DONE ? CB_ESTORE : 0;
}

int store__days_window(sqlite3_stmt *day_rows, int64_t day, int64_t from_ns,
                       int64_t to_ns, struct block_entries *v)
{
    return window_rows(day_rows, 0, day, from_ns, to_ns, v);
}

int store__periods_window(sqlite3_stmt *period_rows, int64_t period,
                          int64_t from_ns, int64_t to_ns,
                          struct block_entries *v)
{
    return window_rows(period_rows, 1, period, from_ns, to_ns, v);
}

/* ---- retention ---- */

/* Runs a DELETE ... RETURNING n, adding the n to *OUT_readings. */
static int delete_counted(struct store_conn *w, sqlite3_stmt *s,
                          size_t *OUT_readings)
{
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        *OUT_readings += (size_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : store__sqlerr(w->db, "retain days");
}

/* One period row that starts before the cutoff day: its readings of
 * earlier days go (the row too, when none is left). */
static int trim_period(struct store *st, struct store_conn *w, int64_t id,
                       int64_t period, int64_t block, int64_t cut_day,
                       struct block_entries *v, size_t *OUT_readings)
{
    size_t k = 0;
    int64_t day0 = INT64_MAX;
    for (size_t i = 0; i < v->n; i++)
        if (day_of_ts(v->e[i].ts_ns) >= cut_day) {
            int64_t d = day_of_ts(v->e[i].ts_ns);
            day0 = d < day0 ? d : day0;
            v->e[k++] = v->e[i];
        }
    *OUT_readings += v->n - k;
    sqlite3_stmt *s = store__stmt(w, k ? STMT_PERIOD_SET : STMT_PERIOD_DROP);
    if (!s)
        return CB_ESTORE;
    struct sbuf blob = SBUF_INIT;
    sqlite3_bind_int64(s, 1, id);
    if (k) {
        codec_encode(&blob, v->e, k, (int32_t)(block * STORE_DAY_BLOCK),
                     period_start_ns(period), st->cfg.value_digits);
        sqlite3_bind_int64(s, 2, day0);
        sqlite3_bind_int64(s, 3, (int64_t)k);
        sqlite3_bind_blob(s, 4, blob.buf, (int)blob.len, SQLITE_STATIC);
    }
    int rc = store__exec_stmt(w, s, "trim period block");
    sbuf_release(&blob);
    return rc;
}

/* A period row to trim: its id and block, and where its readings are. */
struct trim_row {
    int64_t id, block;
    size_t first, n;
};

/* Trims up to max_rows period rows of the cutoff day's period. */
static int trim_periods(struct store *st, struct store_conn *w, int64_t cut_day,
                        size_t max_rows, size_t *OUT_readings)
{
    sqlite3_stmt *s = store__stmt(w, STMT_PERIOD_TRIM_ROWS);
    struct block_entries v = {NULL, 0, 0};
    struct sbuf rows = SBUF_INIT; /* a trim_row each */
    int64_t period = store__period_of_day(cut_day);
    int rc = 0, step;
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, cut_day);
    sqlite3_bind_int64(s, 2, period);
    sqlite3_bind_int64(s, 3, (int64_t)max_rows);
    /* collected first: the rows are rewritten after the SELECT is done */
    size_t nrows = 0;
    struct trim_row tr;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        tr.id = sqlite3_column_int64(s, 0);
        tr.block = sqlite3_column_int64(s, 1);
        tr.first = v.n;
        rc = decode_row(sqlite3_column_blob(s, 2),
                        (size_t)sqlite3_column_bytes(s, 2), 1, period, tr.block,
                        -1, &v);
        tr.n = v.n - tr.first;
        sbuf_add(&rows, &tr, sizeof(tr));
        nrows++;
    }
    sqlite3_reset(s);
    if (!rc && step != SQLITE_DONE)
        rc = store__sqlerr(w->db, "period rows to trim");
    struct block_entries one = {NULL, 0, 0};
    for (size_t i = 0; !rc && i < nrows; i++) {
        memcpy(&tr, rows.buf + i * sizeof(tr), sizeof(tr));
        one.e = v.e + tr.first;
        one.n = one.cap = tr.n;
        rc = trim_period(st, w, tr.id, period, tr.block, cut_day, &one,
                         OUT_readings);
    }
    free(v.e);
    sbuf_release(&rows);
    return rc;
}

int store__days_retain(struct store *st, struct store_conn *w,
                       int64_t cutoff_ns, size_t max_rows, size_t *OUT_readings)
{
    sqlite3_stmt *s = store__stmt(w, STMT_RETAIN_DAYS);
    sqlite3_stmt *p = store__stmt(w, STMT_RETAIN_PERIODS);
    /* whole days only: a day goes once all of it is past the cutoff */
    int64_t cut_day = store__utc_day_of_hour(store__hour_of(cutoff_ns));
    *OUT_readings = 0;
    if (!s || !p)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, cut_day);
    sqlite3_bind_int64(s, 2, (int64_t)max_rows);
    sqlite3_bind_int64(p, 1, cut_day);
    sqlite3_bind_int64(p, 2, store__period_of_day(cut_day));
    sqlite3_bind_int64(p, 3, (int64_t)max_rows);
    if (delete_counted(w, s, OUT_readings) ||
        delete_counted(w, p, OUT_readings))
        return CB_ESTORE;
    return trim_periods(st, w, cut_day, max_rows, OUT_readings);
}
