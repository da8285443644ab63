/*
 * store_indic.c - the tables the indicators and alerts own (indic.h):
 * their declarations and states as JSON documents, and the bucketed
 * points of the indicator series.
 *
 *   indic_doc(kind, id, json, PK(kind, id))
 *             kind: "indicator", "rule", "silence", "alert", "dead_letter"
 *   indic_block(indicator, grp, start_ns, first_ns, last_ns, data,
 *               PK(indicator, grp, start_ns)) WITHOUT ROWID
 *             the points of one series (indicator, group) whose buckets
 *             start in [start_ns, start_ns + 64 buckets), start_ns a
 *             multiple of 64 buckets (epoch ns); data: codec_points_encode
 *             (store_codec.h; values at the coarsest of 10^0..10^-6 that
 *             holds them, scores as hundredths of a decade of 1 - score);
 *             first_ns, last_ns: its first and last point's bucket
 *
 * The tables are made by store_indic_tables (CREATE .. IF NOT EXISTS), so
 * a store made by an older build gains them on first use; nothing else of
 * the schema depends on them (migration 15 makes indic_block too, moving
 * the points of the older one-row-a-point table indic_point into it).
 * Writes go through the writer thread like every write to citybrain.db:
 * a put reads the block, merges the points in and writes it back, in the
 * same transaction as every other point of the put.
 */
#include "store/store_codec.h"
#include "store/store_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int exec_sql(sqlite3 *db, const char *sql, const char *op)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
        return 0;
    log_msg(LOG_ERROR, "store", "%s: %s", op, err ? err : "?");
    sqlite3_free(err);
    return CB_ESTORE;
}

static int tables_fn(struct store *st, struct store_conn *w, void *arg)
{
    return exec_sql(w->db,
                    "CREATE TABLE IF NOT EXISTS indic_doc(kind TEXT NOT NULL,"
                    " id TEXT NOT NULL, json TEXT NOT NULL,"
                    " PRIMARY KEY(kind, id));" INDIC_BLOCK_TABLE,
                    "indicator tables");
}

int store_indic_tables(struct store *st)
{
    return store__call(st, tables_fn, NULL);
}

/* ---- documents ---- */

struct doc_arg {
    const char *kind, *id, *json;
};

static int doc_put_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct doc_arg *a = arg;
    sqlite3_stmt *s = NULL;
    const char *sql = a->json ? "INSERT OR REPLACE INTO indic_doc(kind, id,"
                                " json) VALUES(?1, ?2, ?3)"
                              : "DELETE FROM indic_doc WHERE kind = ?1 AND"
                                " id = ?2";
    if (sqlite3_prepare_v2(w->db, sql, -1, &s, NULL))
        return store__sqlerr(w->db, "prepare indic_doc");
    sqlite3_bind_text(s, 1, a->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, a->id, -1, SQLITE_STATIC);
    if (a->json)
        sqlite3_bind_text(s, 3, a->json, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE
                 ? 0
                 : store__sqlerr(w->db, "put indic_doc");
    sqlite3_finalize(s);
    return rc;
}

int store_doc_put(struct store *st, const char *kind, const char *id,
                  const char *json)
{
    if (!kind || !id)
        return CB_EINVAL;
    struct doc_arg a = {kind, id, json};
    return store__call(st, doc_put_fn, &a);
}

int store_doc_scan(struct store *st, const char *kind, store_doc_fn fn,
                   void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT id, json FROM indic_doc WHERE kind = ?1"
                           " ORDER BY id",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "prepare indic_doc scan");
        goto out_put;
    }
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *json = (const char *)sqlite3_column_text(s, 1);
        if (fn(ctx, id ? id : "", json ? json : "{}"))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "scan indic_doc");
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

int store_doc_get(struct store *st, const char *kind, const char *id,
                  char **OUT_json)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = NULL;
    int rc = CB_ENOTFOUND;
    *OUT_json = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT json FROM indic_doc WHERE kind = ?1 AND"
                           " id = ?2",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "prepare indic_doc get");
        goto out_put;
    }
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(s, 0);
        *OUT_json = xstrdup(json ? json : "{}");
        rc = 0;
    } else if (step != SQLITE_DONE) {
        rc = store__sqlerr(c->db, "get indic_doc");
    }
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

/* ---- points ---- */

#define BLOCK_BUCKETS 64
#define DEFAULT_BUCKET_NS (3600 * 1000000000LL)
#define MAX_BUCKET_NS (7 * 86400 * 1000000000LL)

/* The key of the block that holds a bucket starting at t. */
static int64_t block_key(int64_t t, int64_t bucket_len_ns)
{
    if (bucket_len_ns <= 0 || bucket_len_ns > MAX_BUCKET_NS)
        bucket_len_ns = DEFAULT_BUCKET_NS;
    int64_t span = BLOCK_BUCKETS * bucket_len_ns;
    int64_t q = t / span;
    if (t % span && t < 0)
        q--;
    return q * span;
}

/* The index of the point of p[0..n) at t, or where it would go. */
static size_t point_find(const struct codec_point *p, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p[mid].ts_ns < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sets the point at q->ts_ns in b (sorted), inserting it if new. */
static void points_merge(struct codec_points *b, const struct codec_point *q)
{
    size_t k = point_find(b->p, b->n, q->ts_ns);
    if (k < b->n && b->p[k].ts_ns == q->ts_ns) {
        b->p[k] = *q;
        return;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->p = xrealloc(b->p, b->cap * sizeof(*b->p));
    }
    memmove(b->p + k + 1, b->p + k, (b->n - k) * sizeof(*b->p));
    b->p[k] = *q;
    b->n++;
}

/* Writes b (sorted, n >= 1) as the block (indicator, group, key) with put:
 * INSERT OR REPLACE of ?1..?6. */
static int block_write(sqlite3 *db, sqlite3_stmt *put, const char *indicator,
                       const char *group, int64_t key,
                       const struct codec_points *b, struct sbuf *blob)
{
    sbuf_reset(blob);
    codec_points_encode(blob, b->p, b->n, key);
    sqlite3_reset(put);
    sqlite3_bind_text(put, 1, indicator, -1, SQLITE_STATIC);
    sqlite3_bind_text(put, 2, group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(put, 3, key);
    sqlite3_bind_int64(put, 4, b->p[0].ts_ns);
    sqlite3_bind_int64(put, 5, b->p[b->n - 1].ts_ns);
    sqlite3_bind_blob(put, 6, blob->buf, (int)blob->len, SQLITE_STATIC);
    if (sqlite3_step(put) != SQLITE_DONE)
        return store__sqlerr(db, "put indic_block");
    return 0;
}

#define BLOCK_PUT_SQL                                                          \
    "INSERT OR REPLACE INTO indic_block(indicator, grp, start_ns, first_ns,"   \
    " last_ns, data) VALUES(?1,?2,?3,?4,?5,?6)"

struct points_arg {
    const struct store_point *p;
    size_t n;
};

static int points_put_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct points_arg *a = arg;
    sqlite3_stmt *get = NULL, *put = NULL;
    struct codec_points b = {0};
    struct sbuf blob = SBUF_INIT;
    int rc = 0;
    if (sqlite3_prepare_v2(w->db,
                           "SELECT data FROM indic_block WHERE indicator = ?1"
                           " AND grp = ?2 AND start_ns = ?3",
                           -1, &get, NULL) ||
        sqlite3_prepare_v2(w->db, BLOCK_PUT_SQL, -1, &put, NULL)) {
        rc = store__sqlerr(w->db, "prepare indic_block");
        goto out;
    }
    for (size_t i = 0, j; i < a->n && !rc; i = j) {
        const struct store_point *p = &a->p[i];
        int64_t key = block_key(p->bucket_ns, p->bucket_len_ns);
        for (j = i + 1; j < a->n; j++) {
            const struct store_point *q = &a->p[j];
            if (block_key(q->bucket_ns, q->bucket_len_ns) != key ||
                strcmp(q->indicator, p->indicator) ||
                strcmp(q->group, p->group))
                break;
        }
        b.n = 0;
        sqlite3_reset(get);
        sqlite3_bind_text(get, 1, p->indicator, -1, SQLITE_STATIC);
        sqlite3_bind_text(get, 2, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(get, 3, key);
        int step = sqlite3_step(get);
        if (step == SQLITE_ROW &&
            codec_points_decode(sqlite3_column_blob(get, 0),
                                (size_t)sqlite3_column_bytes(get, 0), key,
                                &b)) {
            /* unreadable: the new points replace it */
            log_msg(LOG_WARN, "store", "indic_block unreadable, replaced");
            b.n = 0;
        } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = store__sqlerr(w->db, "get indic_block");
            break;
        }
        sqlite3_reset(get);
        for (size_t k = i; k < j; k++) {
            struct codec_point q = {
                a->p[k].bucket_ns,
                isfinite(a->p[k].value) ? a->p[k].value : NAN,
                isfinite(a->p[k].score) ? a->p[k].score : NAN};
            points_merge(&b, &q);
        }
        rc = block_write(w->db, put, p->indicator, p->group, key, &b, &blob);
    }
out:
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    free(b.p);
    sbuf_release(&blob);
    return rc;
}

int store_points_put(struct store *st, const struct store_point *p, size_t n)
{
    if (n == 0)
        return 0;
    struct points_arg a = {p, n};
    return store__call(st, points_put_fn, &a);
}

struct retain_arg {
    const char *indicator;
    int64_t before_ns;
};

struct straddler {
    char *indicator, *group;
    int64_t key;
    void *data;
    size_t len;
};

/* Rewrites the blocks of a->indicator (NULL: all) with points on both
 * sides of before_ns without the older ones. */
static int retain_straddlers(sqlite3 *db, const struct retain_arg *a)
{
    sqlite3_stmt *s = NULL, *put = NULL;
    struct straddler *v = NULL;
    size_t n = 0, cap = 0;
    struct codec_points b = {0};
    struct sbuf blob = SBUF_INIT;
    int rc = 0;
    const char *sql =
        a->indicator ? "SELECT indicator, grp, start_ns, data FROM indic_block"
                       " WHERE indicator = ?2 AND first_ns < ?1"
                     : "SELECT indicator, grp, start_ns, data FROM indic_block"
                       " WHERE first_ns < ?1";
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) ||
        sqlite3_prepare_v2(db, BLOCK_PUT_SQL, -1, &put, NULL)) {
        rc = store__sqlerr(db, "prepare indic_block retain");
        goto out;
    }
    sqlite3_bind_int64(s, 1, a->before_ns);
    if (a->indicator)
        sqlite3_bind_text(s, 2, a->indicator, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            v = xrealloc(v, cap * sizeof(*v));
        }
        size_t len = (size_t)sqlite3_column_bytes(s, 3);
        const void *data = sqlite3_column_blob(s, 3);
        v[n] = (struct straddler){
            xstrdup((const char *)sqlite3_column_text(s, 0)),
            xstrdup((const char *)sqlite3_column_text(s, 1)),
            sqlite3_column_int64(s, 2), xmalloc(len ? len : 1), len};
        if (len)
            memcpy(v[n].data, data, len);
        n++;
    }
    if (step != SQLITE_DONE) {
        rc = store__sqlerr(db, "scan indic_block retain");
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        b.n = 0;
        if (codec_points_decode(v[i].data, v[i].len, v[i].key, &b))
            continue; /* unreadable: the next put replaces it */
        size_t k = point_find(b.p, b.n, a->before_ns);
        if (k == 0 || k == b.n)
            continue; /* none older, or all (deleted already) */
        memmove(b.p, b.p + k, (b.n - k) * sizeof(*b.p));
        b.n -= k;
        rc = block_write(db, put, v[i].indicator, v[i].group, v[i].key, &b,
                         &blob);
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(v[i].indicator);
        free(v[i].group);
        free(v[i].data);
    }
    free(v);
    free(b.p);
    sbuf_release(&blob);
    sqlite3_finalize(s);
    sqlite3_finalize(put);
    return rc;
}

static int points_retain_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct retain_arg *a = arg;
    sqlite3_stmt *s = NULL;
    const char *sql =
        a->indicator
            ? "DELETE FROM indic_block WHERE indicator = ?2 AND last_ns < ?1"
            : "DELETE FROM indic_block WHERE last_ns < ?1";
    if (sqlite3_prepare_v2(w->db, sql, -1, &s, NULL))
        return store__sqlerr(w->db, "prepare indic_block retain");
    sqlite3_bind_int64(s, 1, a->before_ns);
    if (a->indicator)
        sqlite3_bind_text(s, 2, a->indicator, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE
                 ? 0
                 : store__sqlerr(w->db, "retain indic_block");
    sqlite3_finalize(s);
    return rc ? rc : retain_straddlers(w->db, a);
}

int store_points_retain(struct store *st, const char *indicator,
                        int64_t before_ns)
{
    struct retain_arg a = {indicator, before_ns};
    return store__call(st, points_retain_fn, &a);
}

static int point_cmp(const void *x, const void *y)
{
    const struct codec_point *a = x, *b = y;
    return (a->ts_ns > b->ts_ns) - (a->ts_ns < b->ts_ns);
}

/* Calls fn for the points of one group in [from, to), oldest first, the
 * same bucket once; returns how many. */
static size_t group_emit(struct codec_points *b, const char *indicator,
                         const char *group, int64_t from_ns, int64_t to_ns,
                         size_t limit, store_point_fn fn, void *ctx)
{
    size_t sent = 0;
    qsort(b->p, b->n, sizeof(*b->p), point_cmp);
    for (size_t i = 0; i < b->n && sent < limit; i++) {
        const struct codec_point *q = &b->p[i];
        if (q->ts_ns < from_ns || q->ts_ns >= to_ns ||
            (i + 1 < b->n && b->p[i + 1].ts_ns == q->ts_ns))
            continue;
        struct store_point p = {.indicator = indicator,
                                .group = group,
                                .bucket_ns = q->ts_ns,
                                .value = q->value,
                                .score = q->score};
        fn(ctx, &p);
        sent++;
    }
    b->n = 0;
    return sent;
}

int store_points_scan(struct store *st, const char *indicator,
                      const char *group, int64_t from_ns, int64_t to_ns,
                      size_t limit, store_point_fn fn, void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = NULL;
    struct codec_points b = {0};
    char *cur = NULL;
    size_t sent = 0;
    int rc = 0;
    const char *sql =
        group ? "SELECT grp, start_ns, data FROM indic_block"
                " WHERE indicator = ?1 AND grp = ?4 AND start_ns < ?3 AND"
                " last_ns >= ?2 AND first_ns < ?3 ORDER BY start_ns"
              : "SELECT grp, start_ns, data FROM indic_block"
                " WHERE indicator = ?1 AND start_ns < ?3 AND"
                " last_ns >= ?2 AND first_ns < ?3 ORDER BY grp, start_ns";
    if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "prepare indic_block scan");
        goto out_put;
    }
    sqlite3_bind_text(s, 1, indicator, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from_ns);
    sqlite3_bind_int64(s, 3, to_ns);
    if (group)
        sqlite3_bind_text(s, 4, group, -1, SQLITE_STATIC);
    int step;
    while (sent < limit && (step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *grp = (const char *)sqlite3_column_text(s, 0);
        if (!grp)
            grp = "";
        if (cur && strcmp(cur, grp)) {
            sent += group_emit(&b, indicator, cur, from_ns, to_ns, limit - sent,
                               fn, ctx);
            free(cur);
            cur = NULL;
        }
        if (!cur)
            cur = xstrdup(grp);
        if (codec_points_decode(sqlite3_column_blob(s, 2),
                                (size_t)sqlite3_column_bytes(s, 2),
                                sqlite3_column_int64(s, 1), &b)) {
            rc = CB_ESTORE;
            log_msg(LOG_ERROR, "store", "indic_block unreadable");
            break;
        }
    }
    if (!rc && sent < limit && step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "scan indic_block");
    if (!rc && cur)
        group_emit(&b, indicator, cur, from_ns, to_ns, limit - sent, fn, ctx);
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    free(cur);
    free(b.p);
    return rc;
}

/* ---- migration 15: indic_point's rows into blocks ---- */

/* Writes one series' points p[0..n) (sorted) as blocks, the bucket taken
 * as the shortest interval between two of them (an hour for one). */
static int migrate_series(sqlite3 *db, sqlite3_stmt *put, const char *ind,
                          const char *grp, struct codec_points *pts,
                          struct sbuf *blob)
{
    int64_t len = 0;
    for (size_t i = 1; i < pts->n; i++) {
        int64_t d = pts->p[i].ts_ns - pts->p[i - 1].ts_ns;
        if (d > 0 && (!len || d < len))
            len = d;
    }
    for (size_t i = 0, j; i < pts->n; i = j) {
        int64_t key = block_key(pts->p[i].ts_ns, len);
        for (j = i + 1; j < pts->n && block_key(pts->p[j].ts_ns, len) == key;
             j++)
            ;
        struct codec_points b = {pts->p + i, j - i, j - i};
        int rc = block_write(db, put, ind, grp, key, &b, blob);
        if (rc)
            return rc;
    }
    pts->n = 0;
    return 0;
}

int store__indic_migrate(sqlite3 *db)
{
    sqlite3_stmt *s = NULL, *put = NULL;
    struct codec_points pts = {0};
    struct sbuf blob = SBUF_INIT;
    char *ind = NULL, *grp = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'indic_point'",
                           -1, &s, NULL))
        return store__sqlerr(db, "indic_point exists");
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    s = NULL;
    if (step == SQLITE_DONE)
        return 0; /* never had indicators */
    if (step != SQLITE_ROW)
        return store__sqlerr(db, "indic_point exists");
    if (sqlite3_prepare_v2(db,
                           "SELECT indicator, grp, bucket_ns, value, score"
                           " FROM indic_point ORDER BY indicator, grp,"
                           " bucket_ns",
                           -1, &s, NULL) ||
        sqlite3_prepare_v2(db, BLOCK_PUT_SQL, -1, &put, NULL)) {
        rc = store__sqlerr(db, "prepare indic_point copy");
        goto out;
    }
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *i = (const char *)sqlite3_column_text(s, 0);
        const char *g = (const char *)sqlite3_column_text(s, 1);
        i = i ? i : "";
        g = g ? g : "";
        if (ind && (strcmp(ind, i) || strcmp(grp, g))) {
            if ((rc = migrate_series(db, put, ind, grp, &pts, &blob)))
                goto out;
        }
        if (!ind || strcmp(ind, i) || strcmp(grp, g)) {
            free(ind);
            free(grp);
            ind = xstrdup(i);
            grp = xstrdup(g);
        }
        struct codec_point q = {sqlite3_column_int64(s, 2),
                                sqlite3_column_type(s, 3) == SQLITE_NULL
                                    ? NAN
                                    : sqlite3_column_double(s, 3),
                                sqlite3_column_type(s, 4) == SQLITE_NULL
                                    ? NAN
                                    : sqlite3_column_double(s, 4)};
        points_merge(&pts, &q);
    }
    if (step != SQLITE_DONE) {
        rc = store__sqlerr(db, "copy indic_point");
        goto out;
    }
    if (ind && (rc = migrate_series(db, put, ind, grp, &pts, &blob)))
        goto out;
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_exec(db, "DROP TABLE indic_point", NULL, NULL, NULL))
        rc = store__sqlerr(db, "drop indic_point");
out:
    sqlite3_finalize(s);
    sqlite3_finalize(put);
    free(ind);
    free(grp);
    free(pts.p);
    sbuf_release(&blob);
    return rc;
}
