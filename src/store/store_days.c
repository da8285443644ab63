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
 * Dedup stays exact: a reading at or before its series' mark is looked up
 * in its hourly rows (store_blocks.c) and, when its day has a compacted
 * row, in that row too (decoded once per (day, block) the group touches).
 * A late reading for a compacted day goes to an hourly row, as any other,
 * and the next compaction merges it in.
 *
 * Compaction runs in chunks (one day, 16 hourly blocks = 4,096 households)
 * that take turns with groups on the writer thread, like retention.
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

int64_t store__utc_day_of_hour(int64_t hour)
{
    return store__floor_div(hour, DAY_HOURS);
}

static int64_t day_start_ns(int64_t day)
{
    return day * STORE_DAY_NS;
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

/* Decodes one reading_day row into v (appending). */
static int decode_day(const void *data, size_t len, int64_t day, int64_t block,
                      int32_t household, struct block_entries *v)
{
    struct codec_out out = {v->e, v->n, v->cap};
    int rc = codec_decode(data, len, (int32_t)(block * STORE_DAY_BLOCK),
                          day_start_ns(day), household, &out);
    v->e = out.e;
    v->n = out.n;
    v->cap = out.cap;
    if (rc)
        log_msg(LOG_ERROR, "store", "corrupt day block | day=%lld block=%lld",
                (long long)day, (long long)block);
    return rc;
}

/* Loads the compacted row of (day, block) into v (emptied first). */
static int load_day(struct store_conn *c, int64_t day, int64_t block,
                    int32_t household, struct block_entries *v)
{
    sqlite3_stmt *s = store__stmt(c, STMT_DAY_GET);
    int rc = 0, step;
    if (!s)
        return CB_ESTORE;
    v->n = 0;
    sqlite3_bind_int64(s, 1, block);
    sqlite3_bind_int64(s, 2, day);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        rc = decode_day(sqlite3_column_blob(s, 0),
                        (size_t)sqlite3_column_bytes(s, 0), day, block,
                        household, v);
    sqlite3_reset(s);
    if (!rc && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "read day block");
    return rc;
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

int store__days_load(struct store *st)
{
    sqlite3_stmt *s = store__stmt(&st->writer, STMT_DAY_NEWEST);
    if (!s)
        return CB_ESTORE;
    int step = sqlite3_step(s);
    st->newest_day = INT64_MIN;
    if (step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        st->newest_day = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (step != SQLITE_ROW)
        return store__sqlerr(st->writer.db, "newest day");
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

/* Merges the sorted hot readings h[0..n) of one day block with its
 * compacted row and writes the result. */
static int merge_block(struct store *st, int64_t day, int64_t block,
                       const struct reading *h, size_t n,
                       struct block_entries *old, struct sbuf *blob)
{
    if (load_day(&st->writer, day, block, -1, old))
        return CB_ESTORE;
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

int store__days_read(struct store_conn *c, int32_t household, int64_t from_ns,
                     int64_t to_ns, struct block_entries *v)
{
    sqlite3_stmt *s = store__stmt(c, STMT_DAY_RANGE);
    int64_t block = household / STORE_DAY_BLOCK;
    int rc = 0, step;
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, block);
    sqlite3_bind_int64(s, 2, store__utc_day_of_hour(store__hour_of(from_ns)));
    sqlite3_bind_int64(s, 3, store__utc_day_of_hour(store__hour_of(to_ns - 1)));
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = decode_day(sqlite3_column_blob(s, 1),
                        (size_t)sqlite3_column_bytes(s, 1),
                        sqlite3_column_int64(s, 0), block, household, v);
    sqlite3_reset(s);
    if (!rc && step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "read day blocks");
    return rc;
}

int store__days_newest(sqlite3 *db, int64_t *OUT_ts_ns)
{
    struct block_entries v = {NULL, 0, 0};
    sqlite3_stmt *s;
    int rc = 0, step;
    if (sqlite3_prepare_v2(db,
                           "SELECT day,block,data FROM reading_day WHERE day="
                           "(SELECT max(day) FROM reading_day)",
                           -1, &s, NULL))
        return store__sqlerr(db, "newest day");
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = decode_day(
            sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
            sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), -1, &v);
    sqlite3_finalize(s);
    for (size_t i = 0; i < v.n; i++)
        if (v.e[i].ts_ns > *OUT_ts_ns)
            *OUT_ts_ns = v.e[i].ts_ns;
    free(v.e);
    return rc || step != SQLITE_DONE ? store__sqlerr(db, "newest day") : 0;
}

/* Appends the compacted readings of day with from_ns <= ts < to_ns. */
int store__days_window(sqlite3_stmt *day_rows, int64_t day, int64_t from_ns,
                       int64_t to_ns, struct block_entries *v)
{
    struct block_entries all = {NULL, 0, 0};
    int rc = 0, step;
    sqlite3_reset(day_rows);
    sqlite3_bind_int64(day_rows, 1, day);
    while (!rc && (step = sqlite3_step(day_rows)) == SQLITE_ROW) {
        all.n = 0;
        rc = decode_day(sqlite3_column_blob(day_rows, 1),
                        (size_t)sqlite3_column_bytes(day_rows, 1), day,
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

/* ---- retention ---- */

int store__days_retain(struct store_conn *w, int64_t cutoff_ns, size_t max_rows,
                       size_t *OUT_readings)
{
    sqlite3_stmt *s = store__stmt(w, STMT_RETAIN_DAYS);
    int step;
    *OUT_readings = 0;
    if (!s)
        return CB_ESTORE;
    /* whole days only: a day goes once all of it is past the cutoff */
    sqlite3_bind_int64(s, 1, store__utc_day_of_hour(store__hour_of(cutoff_ns)));
    sqlite3_bind_int64(s, 2, (int64_t)max_rows);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        *OUT_readings += (size_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : store__sqlerr(w->db, "retain days");
}
