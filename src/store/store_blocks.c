/*
 * store_blocks.c - raw readings, stored in blocks: dedup, append, read-back
 * and the migration from one row per reading.
 *
 * The layout.  A row of reading_block holds the new readings of one group
 * commit that fall in one hour and one block of 256 consecutive dense
 * household ids:
 *
 *   reading_block(id INTEGER PRIMARY KEY, hour, block, n, data BLOB)
 *   index reading_block_key(hour, block)
 *
 * data is n entries of BLOCK_ENTRY bytes, sorted by (household, metric, ts):
 *
 *   0  u8   household & 255       4  i64  ts_ns (little-endian)
 *   1  u8   metric               12  f64  value
 *   2  u8   field (enum reading_field)
 *   3  u8   0
 *
 * A commit only ever appends rows: rowids grow, and the (hour, block) index
 * grows at its end while readings arrive in time order.  A 15-minute
 * reading cycle of 5,000 households makes ~20 rows, not 5,000 (the
 * one-row-a-reading table this replaces topped out at ~780k rows/s on the
 * writer's core, below the ingest target).
 *
 * Dedup.  The writer keeps, per series (household, metric), a mark: an
 * upper bound of the newest timestamp stored.  A reading newer than its
 * mark cannot be stored yet: it is new, with no lookup (the common case:
 * meters report in time order).  A reading at or before its mark, a late
 * reading or a resend, is looked up in the rows of its (hour, block) --
 * read once for all the readings of the group that fall there, as merged
 * integer keys (struct probe).  Within
 * a group, readings are sorted by (hour, household, metric, ts, batch,
 * position), so a repeat sits next to its first copy: the earlier-queued
 * batch wins, as before.
 *
 * Marks live in memory.  They are raised after COMMIT only, so a failed
 * transaction leaves none too high.  At open every mark is the end of the
 * newest hour stored (one index probe): safe, as no stored reading is
 * newer, and exact for live data, which is newer than everything.  Until
 * a series stores something newer, its older readings are looked up: a
 * resend after a restart costs lookups, never a duplicate.
 *
 * Threading: the apply/publish/marks functions run on the writer thread;
 * store__blocks_read runs on a pool connection.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_codec.h"
#include "store/store_int.h"

#define BLOCK_ENTRY 20
#define KEY_HOUR_BIAS (1LL << 31)

/* ---- encoding ---- */

int64_t store__hour_of(int64_t ts_ns)
{
    return store__floor_div(ts_ns, STORE_HOUR_NS);
}

static void put_le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_entry(struct sbuf *blob, const struct reading *r)
{
    unsigned char e[BLOCK_ENTRY];
    uint64_t u;
    e[0] = (unsigned char)(r->household & (STORE_BLOCK_SIZE - 1));
    e[1] = r->metric;
    e[2] = r->field;
    e[3] = 0;
    put_le(e + 4, (uint64_t)r->ts_ns);
    memcpy(&u, &r->value, sizeof(u));
    put_le(e + 12, u);
    sbuf_add(blob, e, sizeof(e));
}

int store__block_decode(const void *data, size_t len, int64_t block,
                        struct block_entries *v)
{
    const unsigned char *p = data;
    if (len % BLOCK_ENTRY)
        return CB_ESTORE;
    size_t n = len / BLOCK_ENTRY;
    if (v->n + n > v->cap) {
        v->cap = (v->n + n) * 2;
        v->e = xrealloc(v->e, v->cap * sizeof(*v->e));
    }
    for (size_t i = 0; i < n; i++, p += BLOCK_ENTRY) {
        struct reading *r = &v->e[v->n];
        uint64_t u = get_le(p + 12);
        if (p[1] >= METRIC_COUNT || p[2] > READING_DELTA)
            return CB_ESTORE;
        r->household = (int32_t)(block * STORE_BLOCK_SIZE + p[0]);
        r->metric = p[1];
        r->field = p[2];
        r->ts_ns = (int64_t)get_le(p + 4);
        memcpy(&r->value, &u, sizeof(u));
        v->n++;
    }
    return 0;
}

static int series_cmp(const void *pa, const void *pb)
{
    const struct reading *a = pa, *b = pb;
    if (a->household != b->household)
        return a->household < b->household ? -1 : 1;
    if (a->metric != b->metric)
        return a->metric < b->metric ? -1 : 1;
    return a->ts_ns < b->ts_ns ? -1 : a->ts_ns > b->ts_ns;
}

/* (ts, household, metric): the order readings are handed back in. */
static int ts_household_cmp(const void *pa, const void *pb)
{
    const struct reading *a = pa, *b = pb;
    if (a->ts_ns != b->ts_ns)
        return a->ts_ns < b->ts_ns ? -1 : 1;
    if (a->household != b->household)
        return a->household < b->household ? -1 : 1;
    return a->metric < b->metric ? -1 : a->metric > b->metric;
}

/* Loads every row of (hour, block) into *v, in no particular order. */
static int load_rows(struct store_conn *c, int64_t hour, int64_t block,
                     struct block_entries *v)
{
    sqlite3_stmt *s = store__stmt(c, STMT_BLOCK_GET);
    int rc = 0, step;
    if (!s)
        return CB_ESTORE;
    v->n = 0;
    sqlite3_bind_int64(s, 1, hour);
    sqlite3_bind_int64(s, 2, block);
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = store__block_decode(sqlite3_column_blob(s, 0),
                                 (size_t)sqlite3_column_bytes(s, 0), block, v);
    sqlite3_reset(s);
    if (rc)
        log_msg(LOG_ERROR, "store",
                "corrupt reading block | hour=%lld block=%lld", (long long)hour,
                (long long)block);
    else if (step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "read reading block");
    return rc;
}

/* ---- marks ---- */

static int64_t mark_of(const struct store *st, int32_t hh, int metric)
{
    size_t i = (size_t)hh * METRIC_COUNT + (size_t)metric;
    return i < st->n_marks ? st->marks[i] : st->mark_floor;
}

static void mark_raise(struct store *st, int32_t hh, int metric, int64_t ts)
{
    size_t i = (size_t)hh * METRIC_COUNT + (size_t)metric;
    if (i >= st->n_marks) {
        size_t n = st->n_marks ? st->n_marks : 4096;
        while (n <= i)
            n *= 2;
        st->marks = xrealloc(st->marks, n * sizeof(*st->marks));
        for (size_t k = st->n_marks; k < n; k++)
            st->marks[k] = st->mark_floor;
        st->n_marks = n;
    }
    if (ts > st->marks[i])
        st->marks[i] = ts;
}

int store__marks_load(struct store *st)
{
    sqlite3_stmt *s = store__stmt(&st->writer, STMT_BLOCK_NEWEST_HOUR);
    if (!s)
        return CB_ESTORE;
    int step = sqlite3_step(s);
    st->mark_floor = INT64_MIN;
    if (step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        st->mark_floor = (sqlite3_column_int64(s, 0) + 1) * STORE_HOUR_NS - 1;
    sqlite3_reset(s);
    if (step != SQLITE_ROW)
        return store__sqlerr(st->writer.db, "reading span");
    free(st->marks);
    st->marks = NULL;
    st->n_marks = 0;
    if (store__days_load(st))
        return CB_ESTORE;
    int64_t day_end = store__mul_sat(st->newest_day + 1, STORE_DAY_NS);
    if (st->newest_day != INT64_MIN && day_end - 1 > st->mark_floor)
        st->mark_floor = day_end - 1;
    st->compact_max_block = -1;
    return 0;
}

void store__marks_free(struct store *st)
{
    free(st->marks);
    st->marks = NULL;
    st->n_marks = 0;
}

/* ---- the group's readings ---- */

struct reading_ref {
    uint64_t key; /* (hour + bias) << 32 | household << 2 | metric */
    int64_t ts_ns;
    uint32_t req, idx;
};

static int ref_cmp(const void *pa, const void *pb)
{
    const struct reading_ref *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->ts_ns != b->ts_ns)
        return a->ts_ns < b->ts_ns ? -1 : 1;
    if (a->req != b->req)
        return a->req < b->req ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static uint64_t ref_key(const struct reading *r)
{
    uint64_t hour = (uint64_t)(store__hour_of(r->ts_ns) + KEY_HOUR_BIAS);
    return hour << 32 | (uint64_t)r->household << 2 | r->metric;
}

static struct reading_ref *collect_refs(struct write_req **reqs, size_t n,
                                        size_t *OUT_n)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        if (reqs[i]->batch->feed == FEED_READINGS)
            total += reqs[i]->batch->n;
    struct reading_ref *refs = xmalloc((total ? total : 1) * sizeof(*refs));
    for (size_t i = 0; i < n; i++) {
        const struct ingest_batch *b = reqs[i]->batch;
        for (size_t j = 0; b->feed == FEED_READINGS && j < b->n; j++)
            refs[k++] = (struct reading_ref){ref_key(&b->readings[j]),
                                             b->readings[j].ts_ns, (uint32_t)i,
                                             (uint32_t)j};
    }
    if (k)
        qsort(refs, k, sizeof(*refs), ref_cmp);
    *OUT_n = k;
    return refs;
}

/* The rows of one (hour, block) as sorted keys for lookups: a reading's
 * key is (household & 255) << 44 | metric << 42 | its ns into the hour
 * (< 2^42), so a lookup compares integers, not readings.  Each row is
 * sorted by (household, metric, ts), so its keys are an ascending run; the
 * runs of the rows (one a commit) are merged, not sorted: a full resend
 * looks up every reading, and sorting whole decoded readings was most of
 * its time. */
struct probe {
    int64_t hour, block;
    int loaded;
    uint64_t *key, *tmp;
    size_t n, cap;
    size_t *run; /* run[i]: where row i's keys start; run[nrun] = n */
    size_t nrun, cap_run;
};

static uint64_t probe_key(const struct reading *r, int64_t hour)
{
    uint64_t into = (uint64_t)(r->ts_ns - hour * STORE_HOUR_NS);
    return (uint64_t)(r->household & (STORE_BLOCK_SIZE - 1)) << 44 |
           (uint64_t)r->metric << 42 | into;
}

/* Appends one row's keys (a run); CB_ESTORE for a malformed row. */
static int probe_add_row(struct probe *p, const unsigned char *d, size_t len)
{
    size_t n = len / BLOCK_ENTRY;
    if (len % BLOCK_ENTRY)
        return CB_ESTORE;
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2;
        p->key = xrealloc(p->key, p->cap * sizeof(*p->key));
        p->tmp = xrealloc(p->tmp, p->cap * sizeof(*p->tmp));
    }
    if (p->nrun + 2 > p->cap_run) {
        p->cap_run = (p->nrun + 2) * 2;
        p->run = xrealloc(p->run, p->cap_run * sizeof(*p->run));
    }
    p->run[p->nrun++] = p->n;
    for (size_t i = 0; i < n; i++, d += BLOCK_ENTRY) {
        struct reading r = {.household = d[0], .metric = d[1]};
        r.ts_ns = (int64_t)get_le(d + 4);
        if (d[1] >= METRIC_COUNT || d[2] > READING_DELTA)
            return CB_ESTORE;
        /* a row's readings are in its hour; one that is not matches no
         * lookup (a key would alias), and keeps its run ascending */
        if (store__hour_of(r.ts_ns) == p->hour)
            p->key[p->n++] = probe_key(&r, p->hour);
    }
    return 0;
}

/* Merges the runs pairwise until one is left (n log(runs)). */
static void probe_merge(struct probe *p)
{
    while (p->nrun > 1) {
        size_t out = 0, k = 0;
        for (size_t i = 0; i < p->nrun; i += 2) {
            size_t a = p->run[i], am = p->run[i + 1];
            size_t b = am, bm = i + 1 < p->nrun ? p->run[i + 2] : am;
            p->run[k++] = out;
            while (a < am && b < bm)
                p->tmp[out++] =
                    p->key[a] <= p->key[b] ? p->key[a++] : p->key[b++];
            while (a < am)
                p->tmp[out++] = p->key[a++];
            while (b < bm)
                p->tmp[out++] = p->key[b++];
        }
        uint64_t *t = p->key;
        p->key = p->tmp, p->tmp = t;
        p->nrun = k;
        p->run[k] = p->n;
    }
}

static int probe_load(struct store_conn *w, struct probe *p, int64_t hour,
                      int64_t block)
{
    sqlite3_stmt *s = store__stmt(w, STMT_BLOCK_GET);
    int rc = 0, step = SQLITE_DONE;
    if (!s)
        return CB_ESTORE;
    p->hour = hour, p->block = block, p->n = 0, p->nrun = 0;
    sqlite3_bind_int64(s, 1, hour);
    sqlite3_bind_int64(s, 2, block);
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = probe_add_row(p, sqlite3_column_blob(s, 0),
                           (size_t)sqlite3_column_bytes(s, 0));
    sqlite3_reset(s);
    if (rc) {
        log_msg(LOG_ERROR, "store",
                "corrupt reading block | hour=%lld block=%lld", (long long)hour,
                (long long)block);
        return rc;
    }
    if (step != SQLITE_DONE)
        return store__sqlerr(w->db, "read reading block");
    if (p->nrun)
        p->run[p->nrun] = p->n;
    probe_merge(p);
    p->loaded = 1;
    return 0;
}

static int probe_has(struct store_conn *w, struct probe *p,
                     const struct reading *r, int *OUT_has)
{
    int64_t hour = store__hour_of(r->ts_ns);
    int64_t block = r->household / STORE_BLOCK_SIZE;
    if (!p->loaded || p->hour != hour || p->block != block) {
        p->loaded = 0;
        if (probe_load(w, p, hour, block))
            return CB_ESTORE;
    }
    uint64_t key = probe_key(r, hour);
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->key[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    *OUT_has = lo < p->n && p->key[lo] == key;
    return 0;
}

/* The row being filled. */
struct pending {
    int64_t hour, block;
    size_t n;
    struct sbuf data;
};

static int pending_flush(struct store_conn *w, struct pending *pd)
{
    if (!pd->n)
        return 0;
    sqlite3_stmt *s = store__stmt(w, STMT_BLOCK_ADD);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, pd->hour);
    sqlite3_bind_int64(s, 2, pd->block);
    sqlite3_bind_int64(s, 3, (int64_t)pd->n);
    sqlite3_bind_blob(s, 4, pd->data.buf, (int)pd->data.len, SQLITE_STATIC);
    int rc = store__exec_stmt(w, s, "insert reading block");
    pd->n = 0;
    sbuf_reset(&pd->data);
    return rc;
}

static int pending_add(struct store_conn *w, struct pending *pd,
                       const struct reading *r)
{
    int64_t hour = store__hour_of(r->ts_ns);
    int64_t block = r->household / STORE_BLOCK_SIZE;
    int rc;
    if (pd->n && (pd->hour != hour || pd->block != block) &&
        (rc = pending_flush(w, pd)))
        return rc; /* keeps the cause: a full disk is CB_ERRNO(ENOSPC) */
    pd->hour = hour;
    pd->block = block;
    pd->n++;
    put_entry(&pd->data, r);
    return 0;
}

/* Is refs[i] already stored, or earlier in this group? */
static int is_duplicate(struct store *st, struct probe *p, struct day_probe *dp,
                        const struct reading_ref *refs, size_t i,
                        const struct reading *r, int *OUT_dup)
{
    *OUT_dup = i && refs[i - 1].key == refs[i].key &&
               refs[i - 1].ts_ns == refs[i].ts_ns;
    if (*OUT_dup || r->ts_ns > mark_of(st, r->household, r->metric))
        return 0;
    if (probe_has(&st->writer, p, r, OUT_dup))
        return CB_ESTORE;
    return *OUT_dup ? 0 : store__day_has(&st->writer, dp, r, OUT_dup);
}

int store__readings_apply(struct store *st, struct write_req **reqs, size_t n,
                          struct sbuf *payloads)
{
    size_t nrefs;
    struct reading_ref *refs = collect_refs(reqs, n, &nrefs);
    struct probe p = {.loaded = 0};
    struct day_probe dp = {.newest_day = st->newest_day};
    struct pending pd = {0, 0, 0, SBUF_INIT};
    int rc = 0;
    for (size_t i = 0; i < nrefs && !rc; i++) {
        struct write_req *req = reqs[refs[i].req];
        struct reading r = req->batch->readings[refs[i].idx];
        int dup;
        if ((rc = is_duplicate(st, &p, &dp, refs, i, &r, &dup)))
            break;
        if (dup) {
            req->res.duplicates++;
            continue;
        }
        /* stored at its metric's resolution, and handed on as stored */
        r.value = codec_round(r.value, st->cfg.value_digits[r.metric]);
        req->fresh[refs[i].idx] = 1;
        req->res.accepted++;
        store__log_reading(&payloads[refs[i].req], &r);
        rc = pending_add(&st->writer, &pd, &r);
    }
    if (!rc)
        rc = pending_flush(&st->writer, &pd);
    sbuf_release(&pd.data);
    free(p.key);
    free(p.tmp);
    free(p.run);
    free(dp.v.e);
    free(dp.pv.e);
    free(refs);
    return rc;
}

void store__readings_publish(struct store *st, struct write_req **reqs,
                             size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ingest_batch *b = reqs[i]->batch;
        if (b->feed != FEED_READINGS)
            continue;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t j = 0; j < b->n; j++)
            if (reqs[i]->fresh[j]) {
                mark_raise(st, b->readings[j].household, b->readings[j].metric,
                           b->readings[j].ts_ns);
                lo = b->readings[j].ts_ns < lo ? b->readings[j].ts_ns : lo;
                hi = b->readings[j].ts_ns > hi ? b->readings[j].ts_ns : hi;
            }
        if (hi != INT64_MIN) {
            store__days_note_hour(st, store__hour_of(lo));
            store__days_note_hour(st, store__hour_of(hi));
        }
    }
}

/* ---- reading back ---- */

/* The newest hour after `after` that holds any block, or INT64_MAX. */
static int next_hour(struct store_conn *c, int64_t after, int64_t *OUT_hour)
{
    sqlite3_stmt *s = store__stmt(c, STMT_BLOCK_NEXT_HOUR);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, after);
    int step = sqlite3_step(s);
    *OUT_hour = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : INT64_MAX;
    sqlite3_reset(s);
    return step == SQLITE_ROW || step == SQLITE_DONE
               ? 0
               : store__sqlerr(c->db, "next reading hour");
}

/* Keeps the entries of household (and metric, when >= 0) inside [from,
 * to), in (ts, metric) order. */
static void keep_series(struct block_entries *v, int32_t household, int metric,
                        int64_t from_ns, int64_t to_ns)
{
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct reading *r = &v->e[i];
        if (r->household == household && (metric < 0 || r->metric == metric) &&
            r->ts_ns >= from_ns && r->ts_ns < to_ns)
            v->e[k++] = *r;
    }
    v->n = k;
    if (v->n)
        qsort(v->e, v->n, sizeof(*v->e), ts_household_cmp);
}

int store__blocks_read(struct store_conn *c, int32_t household, int metric,
                       int64_t from_ns, int64_t to_ns, size_t limit,
                       store_reading_fn fn, void *ctx)
{
    struct block_entries v = {NULL, 0, 0};
    int64_t block = household / STORE_BLOCK_SIZE, last, hour;
    size_t sent = 0;
    int rc = 0;
    if (to_ns <= from_ns)
        return 0;
    struct block_entries one = {NULL, 0, 0};
    last = store__hour_of(to_ns - 1);
    rc = store__days_read(c, household, from_ns, to_ns, &v);
    if (!rc)
        rc = next_hour(c, store__hour_of(from_ns) - 1, &hour);
    while (!rc && hour <= last && hour != INT64_MAX) {
        if ((rc = load_rows(c, hour, block, &one)))
            break;
        keep_series(&one, household, -1, from_ns, to_ns);
        if (!one.n) {
            rc = next_hour(c, hour, &hour);
            continue;
        }
        if (v.n + one.n > v.cap) {
            v.cap = (v.n + one.n) * 2;
            v.e = xrealloc(v.e, v.cap * sizeof(*v.e));
        }
        memcpy(v.e + v.n, one.e, one.n * sizeof(*one.e));
        v.n += one.n;
        rc = next_hour(c, hour, &hour);
    }
    if (!rc)
        keep_series(&v, household, metric, from_ns, to_ns);
    for (size_t i = 0; !rc && i < v.n && sent < limit; i++, sent++)
        fn(ctx, &v.e[i]);
    (void)block;
    free(one.e);
    free(v.e);
    return rc;
}

/* ---- scans for loaders ---- */

int store__readings_newest(sqlite3 *db, int64_t *OUT_ts_ns)
{
    struct block_entries v = {NULL, 0, 0};
    sqlite3_stmt *s;
    int rc = 0, step;
    *OUT_ts_ns = INT64_MIN;
    if (sqlite3_prepare_v2(db,
                           "SELECT block,data FROM reading_block WHERE hour="
                           "(SELECT max(hour) FROM reading_block)",
                           -1, &s, NULL))
        return store__sqlerr(db, "newest reading");
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = store__block_decode(sqlite3_column_blob(s, 1),
                                 (size_t)sqlite3_column_bytes(s, 1),
                                 sqlite3_column_int64(s, 0), &v);
    sqlite3_finalize(s);
    for (size_t i = 0; i < v.n; i++)
        if (v.e[i].ts_ns > *OUT_ts_ns)
            *OUT_ts_ns = v.e[i].ts_ns;
    free(v.e);
    if (rc || step != SQLITE_DONE)
        return store__sqlerr(db, "newest reading");
    return store__days_newest(db, OUT_ts_ns);
}

/* Emits v's readings of metric at or after from_ns in (ts, household)
 * order, and empties v. */
static void scan_emit(struct block_entries *v, int64_t from_ns, int metric,
                      store_reading_fn fn, void *ctx)
{
    if (v->n)
        qsort(v->e, v->n, sizeof(*v->e), ts_household_cmp);
    for (size_t i = 0; i < v->n; i++)
        if (v->e[i].ts_ns >= from_ns &&
            (metric < 0 || v->e[i].metric == metric))
            fn(ctx, &v->e[i]);
    v->n = 0;
}

int store__scan_by_hour(void *db, const char *sql, int64_t from_ns,
                        const struct hour_scan *hs, void *ctx)
{
    sqlite3_stmt *s;
    int64_t hour = INT64_MIN;
    int rc = 0, step = SQLITE_DONE;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL))
        return store__sqlerr(db, hs->op);
    sqlite3_bind_int64(s, 1, store__hour_of(from_ns));
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_int64(s, 0) != hour)
            hs->hour_done(ctx);
        hour = sqlite3_column_int64(s, 0);
        rc = hs->row(ctx, s);
    }
    sqlite3_finalize(s);
    if (!rc && step == SQLITE_DONE)
        hs->hour_done(ctx);
    return rc || step != SQLITE_DONE ? store__sqlerr(db, hs->op) : 0;
}

/* Readings a scan window holds at most (estimated from the rows' counts):
 * a compacted day or period that holds more is read in windows of fewer
 * hours, each decoding its rows again. */
#define SCAN_WINDOW_READINGS (4 << 20)

enum {
    SCAN_HOT_NEXT,
    SCAN_HOT_ROWS,
    SCAN_DAY_NEXT,
    SCAN_DAY_ROWS,
    SCAN_DAY_SIZE,
    SCAN_PERIOD_NEXT,
    SCAN_PERIOD_ROWS,
    SCAN_PERIOD_SIZE,
    SCAN_STMTS
};

static const char *const scan_sql[SCAN_STMTS] = {
    [SCAN_HOT_NEXT] = "SELECT min(hour) FROM reading_block WHERE hour>=?1",
    [SCAN_HOT_ROWS] =
        "SELECT block,data FROM reading_block WHERE hour>=?1 AND hour<?2",
    [SCAN_DAY_NEXT] = "SELECT min(day) FROM reading_day WHERE day>=?1",
    [SCAN_DAY_ROWS] = "SELECT block,data FROM reading_day WHERE day=?1",
    [SCAN_DAY_SIZE] = "SELECT sum(n) FROM reading_day WHERE day=?1",
    [SCAN_PERIOD_NEXT] =
        "SELECT min(period) FROM reading_period WHERE period>=?1",
    [SCAN_PERIOD_ROWS] =
        "SELECT block,data FROM reading_period WHERE period=?1",
    [SCAN_PERIOD_SIZE] = "SELECT sum(n) FROM reading_period WHERE period=?1",
};

/* The int64 the one-row statement s gives for ?1 = arg (INT64_MAX: NULL). */
static int scan_first(sqlite3_stmt *s, int64_t arg, int64_t *OUT_v)
{
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, arg);
    int step = sqlite3_step(s);
    *OUT_v = step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL
                 ? sqlite3_column_int64(s, 0)
                 : INT64_MAX;
    sqlite3_reset(s);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : CB_ESTORE;
}

static int scan_hot(sqlite3_stmt *s, int64_t h0, int64_t h1,
                    struct block_entries *v)
{
    int rc = 0, step;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, h0);
    sqlite3_bind_int64(s, 2, h1);
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = store__block_decode(sqlite3_column_blob(s, 1),
                                 (size_t)sqlite3_column_bytes(s, 1),
                                 sqlite3_column_int64(s, 0), v);
    sqlite3_reset(s);
    return rc || step != SQLITE_DONE ? CB_ESTORE : 0;
}

#define PERIOD_HOURS (24 * STORE_PERIOD_DAYS)

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* The first hour at or after h of key's span (span hours each; INT64_MAX:
 * none). */
static int64_t span_start(int64_t key, int64_t span, int64_t h)
{
    return key == INT64_MAX ? INT64_MAX : key * span > h ? key * span : h;
}

/* The end of a window from start: at most SCAN_WINDOW_READINGS at the
 * readings an hour of the day's rows (dsize a day) and of the period's
 * (psize a period), and at most limit. */
static int64_t window_end(int64_t start, int64_t limit, int64_t dsize,
                          int64_t psize)
{
    double rate = (double)dsize / 24 + (double)psize / PERIOD_HOURS;
    double w = rate > 0 ? SCAN_WINDOW_READINGS / rate : (double)limit;
    int64_t hours = w < 1                         ? 1
                    : w > (double)(limit - start) ? limit - start
                                                  : (int64_t)w;
    return start + (hours < 1 ? 1 : hours);
}

/* The hours [start, *OUT_end) the next window covers, and fills v.  A
 * window holds hot hours of one day at most, stays in one day when that
 * day has day rows, and in one period. */
static int scan_window(sqlite3_stmt **q, int64_t h, struct block_entries *v,
                       int64_t *OUT_end)
{
    int64_t nh, nd, np, dsize = 0, psize = 0, start, end, limit;
    int64_t day = store__utc_day_of_hour(h);
    if (scan_first(q[SCAN_HOT_NEXT], h, &nh) ||
        scan_first(q[SCAN_DAY_NEXT], day, &nd) ||
        scan_first(q[SCAN_PERIOD_NEXT], store__period_of_day(day), &np))
        return CB_ESTORE;
    start = min64(
        nh, min64(span_start(nd, 24, h), span_start(np, PERIOD_HOURS, h)));
    *OUT_end = start;
    if (start == INT64_MAX)
        return 0;
    day = store__utc_day_of_hour(start);
    int in_day = nd == day, in_period = np == store__period_of_day(day);
    if (!in_day && !in_period) {
        *OUT_end = start + 1; /* a hot hour */
        return scan_hot(q[SCAN_HOT_ROWS], start, start + 1, v);
    }
    if (in_day)
        limit = (day + 1) * 24;
    else /* up to the next day with day rows */
        limit = min64((np + 1) * PERIOD_HOURS,
                      nd == INT64_MAX ? INT64_MAX : nd * 24);
    if (in_period)
        limit = min64(limit, (np + 1) * PERIOD_HOURS);
    if (nh != INT64_MAX && nh < limit) /* hot hours: one day of them */
        limit = min64(
            limit, (store__utc_day_of_hour(nh > start ? nh : start) + 1) * 24);
    if ((in_day && scan_first(q[SCAN_DAY_SIZE], nd, &dsize)) ||
        (in_period && scan_first(q[SCAN_PERIOD_SIZE], np, &psize)))
        return CB_ESTORE;
    end = window_end(start, limit, dsize == INT64_MAX ? 0 : dsize,
                     psize == INT64_MAX ? 0 : psize);
    int64_t from = store__mul_sat(start, STORE_HOUR_NS);
    int64_t to = store__mul_sat(end, STORE_HOUR_NS);
    if ((in_day && store__days_window(q[SCAN_DAY_ROWS], nd, from, to, v)) ||
        (in_period &&
         store__periods_window(q[SCAN_PERIOD_ROWS], np, from, to, v)))
        return CB_ESTORE;
    *OUT_end = end;
    return scan_hot(q[SCAN_HOT_ROWS], start, end, v);
}

int store__readings_scan(sqlite3 *db, int64_t from_ns, int metric,
                         store_reading_fn fn, void *ctx)
{
    sqlite3_stmt *q[SCAN_STMTS] = {NULL};
    struct block_entries v = {NULL, 0, 0};
    int rc = 0;
    for (int i = 0; i < SCAN_STMTS && !rc; i++)
        if (sqlite3_prepare_v2(db, scan_sql[i], -1, &q[i], NULL))
            rc = CB_ESTORE;
    for (int64_t h = store__hour_of(from_ns), end; !rc; h = end) {
        if ((rc = scan_window(q, h, &v, &end)) || end == INT64_MAX)
            break;
        scan_emit(&v, from_ns, metric, fn, ctx);
    }
    for (int i = 0; i < SCAN_STMTS; i++)
        sqlite3_finalize(q[i]);
    free(v.e);
    return rc ? store__sqlerr(db, "scan readings") : 0;
}

/* ---- retention ---- */

int store__blocks_retain(struct store_conn *w, int64_t cutoff_ns,
                         size_t max_rows, size_t *OUT_readings)
{
    sqlite3_stmt *s = store__stmt(w, STMT_RETAIN_READINGS);
    int step;
    *OUT_readings = 0;
    if (!s)
        return CB_ESTORE;
    /* whole hours only: an hour goes once all of it is past the cutoff */
    sqlite3_bind_int64(s, 1, store__hour_of(cutoff_ns));
    sqlite3_bind_int64(s, 2, (int64_t)max_rows);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        *OUT_readings += (size_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : store__sqlerr(w->db, "retain readings");
}

/* ---- migration 7: one row a reading -> blocks ---- */

struct migrate_hour {
    struct block_entries v;
    int64_t hour;
    sqlite3_stmt *add;
};

static int migrate_flush(sqlite3 *db, struct migrate_hour *m)
{
    struct pending pd = {0, 0, 0, SBUF_INIT};
    struct store_conn tmp;
    int rc = 0;
    memset(&tmp, 0, sizeof(tmp));
    tmp.db = db;
    tmp.stmt[STMT_BLOCK_ADD] = m->add;
    if (m->v.n)
        qsort(m->v.e, m->v.n, sizeof(*m->v.e), series_cmp);
    for (size_t i = 0; i < m->v.n && !rc; i++)
        rc = pending_add(&tmp, &pd, &m->v.e[i]);
    if (!rc)
        rc = pending_flush(&tmp, &pd);
    sbuf_release(&pd.data);
    m->v.n = 0;
    return rc;
}

static void migrate_push(struct migrate_hour *m, sqlite3_stmt *s)
{
    if (m->v.n == m->v.cap) {
        m->v.cap = m->v.cap ? m->v.cap * 2 : 4096;
        m->v.e = xrealloc(m->v.e, m->v.cap * sizeof(*m->v.e));
    }
    struct reading *r = &m->v.e[m->v.n++];
    r->ts_ns = sqlite3_column_int64(s, 0);
    r->household = sqlite3_column_int(s, 1);
    r->metric = (uint8_t)sqlite3_column_int(s, 2);
    r->field = (uint8_t)sqlite3_column_int(s, 3);
    r->value = sqlite3_column_double(s, 4);
}

int store__blocks_migrate(sqlite3 *db)
{
    struct migrate_hour m = {{NULL, 0, 0}, 0, NULL};
    sqlite3_stmt *s = NULL;
    int rc = CB_ESTORE, step;
    if (sqlite3_prepare_v2(db,
                           "SELECT ts_ns,household,metric,field,value FROM"
                           " reading ORDER BY ts_ns",
                           -1, &s, NULL) ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO reading_block(hour,block,n,data)"
                           " VALUES(?1,?2,?3,?4)",
                           -1, &m.add, NULL))
        goto out_fail;
    rc = 0;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t hour = store__hour_of(sqlite3_column_int64(s, 0));
        if (m.v.n && hour != m.hour)
            rc = migrate_flush(db, &m);
        m.hour = hour;
        if (sqlite3_column_int(s, 1) < 0 ||
            sqlite3_column_int(s, 2) >= METRIC_COUNT)
            continue;
        migrate_push(&m, s);
    }
    if (!rc && step != SQLITE_DONE)
        rc = CB_ESTORE;
    if (!rc)
        rc = migrate_flush(db, &m);
    if (!rc)
        rc = sqlite3_exec(db, "DROP TABLE reading", NULL, NULL, NULL)
                 ? CB_ESTORE
                 : 0;
out_fail:
    if (rc)
        store__sqlerr(db, "migrate readings to blocks");
    sqlite3_finalize(s);
    sqlite3_finalize(m.add);
    free(m.v.e);
    return rc;
}
