/*
 * store_photos.c - the case_photo table: one row of metadata per photo of
 * a case (the image itself is a file, src/photo/photo.h).  The quota check
 * and the insert run in one writer transaction, so that two uploads at
 * once cannot both squeeze under the quota.
 */
#include <string.h>

#include "store/store_int.h"

#define PHOTO_COLS                                                             \
    "id,case_id,visit_id,content_type,bytes,created_ns,token_id,who,"          \
    "quota_unit"

static void text_copy(sqlite3_stmt *s, int col, char *out, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    snprintf(out, cap, "%s", t ? t : "");
}

static void photo_from_row(sqlite3_stmt *s, struct photo_row *p)
{
    memset(p, 0, sizeof(*p));
    text_copy(s, 0, p->id, sizeof(p->id));
    p->case_id = sqlite3_column_int64(s, 1);
    text_copy(s, 2, p->visit_id, sizeof(p->visit_id));
    text_copy(s, 3, p->content_type, sizeof(p->content_type));
    p->bytes = sqlite3_column_int64(s, 4);
    p->created_ns = sqlite3_column_int64(s, 5);
    p->token_id = sqlite3_column_int64(s, 6);
    text_copy(s, 7, p->who, sizeof(p->who));
    text_copy(s, 8, p->quota_unit, sizeof(p->quota_unit));
}

struct photo_write {
    const struct photo_row *p;
    int64_t quota, used;
};

/* The bytes the unit's photos take: 0 or CB_ESTORE. */
static int unit_used(sqlite3 *db, const char *unit, int64_t *OUT_used)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce(sum(bytes),0) FROM case_photo"
                           " WHERE quota_unit=?",
                           -1, &s, NULL))
        return store__sqlerr(db, "photo quota");
    sqlite3_bind_text(s, 1, unit, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s) == SQLITE_ROW ? 0 : store__sqlerr(db, "quota");
    *OUT_used = rc ? 0 : sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc;
}

static int photo_insert_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct photo_write *a = arg;
    const struct photo_row *p = a->p;
    sqlite3_stmt *s;
    int rc = unit_used(w->db, p->quota_unit, &a->used);
    if (rc)
        return rc;
    if (a->used + p->bytes > a->quota)
        return CB_ETOOBIG;
    if (sqlite3_prepare_v2(w->db,
                           "INSERT INTO case_photo(" PHOTO_COLS ")"
                           " VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL))
        return store__sqlerr(w->db, "photo insert");
    sqlite3_bind_text(s, 1, p->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, p->case_id);
    sqlite3_bind_text(s, 3, p->visit_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, p->content_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, p->bytes);
    sqlite3_bind_int64(s, 6, p->created_ns);
    sqlite3_bind_int64(s, 7, p->token_id);
    sqlite3_bind_text(s, 8, p->who, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 9, p->quota_unit, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0
                                        : store__sqlerr(w->db, "photo insert");
    sqlite3_finalize(s);
    return rc;
}

int store_photo_insert(struct store *st, const struct photo_row *p,
                       int64_t quota_bytes, int64_t *OUT_used)
{
    struct photo_write a = {p, quota_bytes, 0};
    int rc = store__call(st, photo_insert_fn, &a);
    if (OUT_used)
        *OUT_used = a.used;
    return rc;
}

int store_photo_get(struct store *st, const char *id, struct photo_row *OUT)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT " PHOTO_COLS " FROM case_photo WHERE id=?",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "photo get");
        goto out_put;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        photo_from_row(s, OUT);
        rc = 0;
    } else {
        rc = step == SQLITE_DONE ? CB_ENOTFOUND
                                 : store__sqlerr(c->db, "photo get");
    }
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

int store_scan_case_photos(struct store *st, int64_t case_id, store_photo_fn fn,
                           void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc = 0, step;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT " PHOTO_COLS " FROM case_photo"
                           " WHERE case_id=? ORDER BY created_ns, id",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "case photos");
        goto out_put;
    }
    sqlite3_bind_int64(s, 1, case_id);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct photo_row p;
        photo_from_row(s, &p);
        fn(ctx, &p);
    }
    if (step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "case photos");
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}
