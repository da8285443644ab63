/*
 * store_indic.c - the tables the indicators and alerts own (indic.h):
 * their declarations and states as JSON documents, and the bucketed
 * points of the indicator series.
 *
 *   indic_doc(kind, id, json, PK(kind, id))
 *             kind: "indicator", "rule", "silence", "alert", "dead_letter"
 *   indic_point(indicator, grp, bucket_ns, value, score,
 *               PK(indicator, grp, bucket_ns)) WITHOUT ROWID
 *             score: NULL until the bucket closed and was scored
 *
 * The tables are made by store_indic_tables (CREATE .. IF NOT EXISTS), so
 * a store made by an older build gains them on first use; nothing else of
 * the schema depends on them.  Writes go through the writer thread like
 * every write to citybrain.db.
 */
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
                    " PRIMARY KEY(kind, id));"
                    "CREATE TABLE IF NOT EXISTS indic_point("
                    " indicator TEXT NOT NULL, grp TEXT NOT NULL,"
                    " bucket_ns INTEGER NOT NULL, value REAL, score REAL,"
                    " PRIMARY KEY(indicator, grp, bucket_ns)) WITHOUT ROWID;",
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

struct points_arg {
    const struct store_point *p;
    size_t n;
};

static int points_put_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct points_arg *a = arg;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(w->db,
                           "INSERT OR REPLACE INTO indic_point(indicator, grp,"
                           " bucket_ns, value, score) VALUES(?1,?2,?3,?4,?5)",
                           -1, &s, NULL))
        return store__sqlerr(w->db, "prepare indic_point");
    int rc = 0;
    for (size_t i = 0; i < a->n && !rc; i++) {
        const struct store_point *p = &a->p[i];
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, p->indicator, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, p->bucket_ns);
        if (isfinite(p->value))
            sqlite3_bind_double(s, 4, p->value);
        else
            sqlite3_bind_null(s, 4);
        if (isfinite(p->score))
            sqlite3_bind_double(s, 5, p->score);
        else
            sqlite3_bind_null(s, 5);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = store__sqlerr(w->db, "put indic_point");
    }
    sqlite3_finalize(s);
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

static int points_retain_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct retain_arg *a = arg;
    sqlite3_stmt *s = NULL;
    const char *sql =
        a->indicator
            ? "DELETE FROM indic_point WHERE indicator = ?2 AND bucket_ns < ?1"
            : "DELETE FROM indic_point WHERE bucket_ns < ?1";
    if (sqlite3_prepare_v2(w->db, sql, -1, &s, NULL))
        return store__sqlerr(w->db, "prepare indic_point retain");
    sqlite3_bind_int64(s, 1, a->before_ns);
    if (a->indicator)
        sqlite3_bind_text(s, 2, a->indicator, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE
                 ? 0
                 : store__sqlerr(w->db, "retain indic_point");
    sqlite3_finalize(s);
    return rc;
}

int store_points_retain(struct store *st, const char *indicator,
                        int64_t before_ns)
{
    struct retain_arg a = {indicator, before_ns};
    return store__call(st, points_retain_fn, &a);
}

int store_points_scan(struct store *st, const char *indicator,
                      const char *group, int64_t from_ns, int64_t to_ns,
                      size_t limit, store_point_fn fn, void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = NULL;
    int rc = 0;
    const char *sql =
        group ? "SELECT grp, bucket_ns, value, score FROM indic_point"
                " WHERE indicator = ?1 AND grp = ?4 AND bucket_ns >= ?2 AND"
                " bucket_ns < ?3 ORDER BY bucket_ns LIMIT ?5"
              : "SELECT grp, bucket_ns, value, score FROM indic_point"
                " WHERE indicator = ?1 AND bucket_ns >= ?2 AND"
                " bucket_ns < ?3 ORDER BY grp, bucket_ns LIMIT ?5";
    if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "prepare indic_point scan");
        goto out_put;
    }
    sqlite3_bind_text(s, 1, indicator, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from_ns);
    sqlite3_bind_int64(s, 3, to_ns);
    if (group)
        sqlite3_bind_text(s, 4, group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)limit);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *grp = (const char *)sqlite3_column_text(s, 0);
        struct store_point p = {
            .indicator = indicator,
            .group = grp ? grp : "",
            .bucket_ns = sqlite3_column_int64(s, 1),
            .value = sqlite3_column_type(s, 2) == SQLITE_NULL
                         ? NAN
                         : sqlite3_column_double(s, 2),
            .score = sqlite3_column_type(s, 3) == SQLITE_NULL
                         ? NAN
                         : sqlite3_column_double(s, 3),
        };
        fn(ctx, &p);
    }
    if (step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "scan indic_point");
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}
