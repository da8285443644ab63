/*
 * store_cases.c - the tables of the case loop: case_file (one row per case)
 * and case_step (its history, appended).  The lifecycle's rules live in
 * src/case/; this file only stores and reads.  A state change is one
 * transaction that updates the case only if its state is still the one the
 * caller decided from, and appends the step: two racing transitions cannot
 * both apply.
 */
#include <string.h>

#include "store/store_int.h"

#define CASE_COLS                                                              \
    "id,state,category,source_kind,source_ref,household_id,committee,"         \
    "building,address,has_place,lat,lon,unit_kind,unit,duplicate_of,title,"    \
    "created_ns,updated_ns,deadline_ns,attempts,escalated_to"

static void col_copy(sqlite3_stmt *s, int col, char *out, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    snprintf(out, cap, "%s", t ? t : "");
}

static void case_from_row(sqlite3_stmt *s, struct case_row *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(s, 0);
    col_copy(s, 1, c->state, sizeof(c->state));
    col_copy(s, 2, c->category, sizeof(c->category));
    col_copy(s, 3, c->source_kind, sizeof(c->source_kind));
    col_copy(s, 4, c->source_ref, sizeof(c->source_ref));
    col_copy(s, 5, c->household_id, sizeof(c->household_id));
    col_copy(s, 6, c->committee, sizeof(c->committee));
    col_copy(s, 7, c->building, sizeof(c->building));
    col_copy(s, 8, c->address, sizeof(c->address));
    c->has_place = sqlite3_column_int(s, 9);
    c->lat = sqlite3_column_double(s, 10);
    c->lon = sqlite3_column_double(s, 11);
    col_copy(s, 12, c->unit_kind, sizeof(c->unit_kind));
    col_copy(s, 13, c->unit, sizeof(c->unit));
    c->duplicate_of = sqlite3_column_int64(s, 14);
    col_copy(s, 15, c->title, sizeof(c->title));
    c->created_ns = sqlite3_column_int64(s, 16);
    c->updated_ns = sqlite3_column_int64(s, 17);
    c->deadline_ns = sqlite3_column_int64(s, 18);
    c->attempts = sqlite3_column_int(s, 19);
    col_copy(s, 20, c->escalated_to, sizeof(c->escalated_to));
}

/* Binds c's fields 2.. (after id) from parameter first on. */
static void case_bind(sqlite3_stmt *s, const struct case_row *c, int first)
{
    const char *text[] = {c->state,      c->category,     c->source_kind,
                          c->source_ref, c->household_id, c->committee,
                          c->building,   c->address};
    int i = first;
    for (size_t k = 0; k < sizeof(text) / sizeof(text[0]); k++)
        sqlite3_bind_text(s, i++, text[k], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, i++, c->has_place);
    if (c->has_place) {
        sqlite3_bind_double(s, i++, c->lat);
        sqlite3_bind_double(s, i++, c->lon);
    } else {
        sqlite3_bind_null(s, i++);
        sqlite3_bind_null(s, i++);
    }
    sqlite3_bind_text(s, i++, c->unit_kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, i++, c->unit, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, i++, c->duplicate_of);
    sqlite3_bind_text(s, i++, c->title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, i++, c->created_ns);
    sqlite3_bind_int64(s, i++, c->updated_ns);
    sqlite3_bind_int64(s, i++, c->deadline_ns);
    sqlite3_bind_int(s, i++, c->attempts);
    sqlite3_bind_text(s, i, c->escalated_to, -1, SQLITE_TRANSIENT);
}

static int run_stmt(sqlite3 *db, sqlite3_stmt *s, const char *op)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store__sqlerr(db, op);
    sqlite3_finalize(s);
    return rc;
}

static int step_insert(sqlite3 *db, int64_t case_id, const struct case_step *p)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO case_step(case_id,ts_ns,action,"
                           "from_state,to_state,token_id,who,role,reason)"
                           " VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL))
        return store__sqlerr(db, "case step");
    sqlite3_bind_int64(s, 1, case_id);
    sqlite3_bind_int64(s, 2, p->ts_ns);
    sqlite3_bind_text(s, 3, p->action, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, p->from_state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, p->to_state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, p->token_id);
    sqlite3_bind_text(s, 7, p->who, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 8, p->role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 9, p->reason ? p->reason : "", -1, SQLITE_TRANSIENT);
    return run_stmt(db, s, "case step");
}

/* case_file's written columns, in case_bind's order: the insert and the
 * update (a row-value SET) share them. */
#define CASE_COLUMNS                                                           \
    "state,category,source_kind,source_ref,household_id,committee,building,"   \
    "address,has_place,lat,lon,unit_kind,unit,duplicate_of,title,"             \
    "created_ns,updated_ns,deadline_ns,attempts,escalated_to"
#define CASE_VALUES "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

struct case_write {
    const struct case_row *c;
    const char *expect_state;
    const struct case_step *step; /* n_steps of them */
    int64_t id;
    int n_steps;
    const struct case_visit *visit; /* or NULL */
    int repeat;
};

static int case_insert_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct case_write *a = arg;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(
            w->db, "INSERT INTO case_file(" CASE_COLUMNS ") VALUES" CASE_VALUES,
            -1, &s, NULL))
        return store__sqlerr(w->db, "case insert");
    case_bind(s, a->c, 1);
    int rc = run_stmt(w->db, s, "case insert");
    if (rc)
        return rc;
    a->id = sqlite3_last_insert_rowid(w->db);
    return step_insert(w->db, a->id, a->step);
}

int store_case_insert(struct store *st, const struct case_row *c,
                      const struct case_step *first, int64_t *OUT_id)
{
    struct case_write a = {c, NULL, first, 0, 1, NULL, 0};
    int rc = store__call(st, case_insert_fn, &a);
    if (!rc && OUT_id)
        *OUT_id = a.id;
    return rc;
}

static int case_update_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct case_write *a = arg;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(w->db,
                           "UPDATE case_file SET(" CASE_COLUMNS ")=" CASE_VALUES
                           " WHERE id=? AND state=?",
                           -1, &s, NULL))
        return store__sqlerr(w->db, "case update");
    case_bind(s, a->c, 1);
    sqlite3_bind_int64(s, 21, a->c->id);
    sqlite3_bind_text(s, 22, a->expect_state, -1, SQLITE_TRANSIENT);
    int rc = run_stmt(w->db, s, "case update");
    if (rc)
        return rc;
    if (sqlite3_changes(w->db) != 1)
        return CB_EEXIST;
    for (int i = 0; i < a->n_steps && !rc; i++)
        rc = step_insert(w->db, a->c->id, &a->step[i]);
    return rc;
}

int store_case_update(struct store *st, const struct case_row *c,
                      const char *expect_state, const struct case_step *step)
{
    struct case_write a = {c, expect_state, step, 0, 1, NULL, 0};
    int rc = store__call(st, case_update_fn, &a);
    if (rc == CB_EEXIST) {
        struct case_row now;
        if (store_case_get(st, c->id, &now) == CB_ENOTFOUND)
            return CB_ENOTFOUND;
    }
    return rc;
}

static int case_escalate_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct case_write *a = arg;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(w->db,
                           "UPDATE case_file SET escalated_to=? WHERE id=?"
                           " AND state=? AND updated_ns=? AND escalated_to=''",
                           -1, &s, NULL))
        return store__sqlerr(w->db, "case escalate");
    sqlite3_bind_text(s, 1, a->c->escalated_to, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, a->c->id);
    sqlite3_bind_text(s, 3, a->c->state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, a->c->updated_ns);
    int rc = run_stmt(w->db, s, "case escalate");
    if (rc)
        return rc;
    if (sqlite3_changes(w->db) != 1)
        return CB_EEXIST;
    return step_insert(w->db, a->c->id, a->step);
}

int store_case_escalate(struct store *st, const struct case_row *c,
                        const struct case_step *step)
{
    struct case_write a = {c, NULL, step, 0, 1, NULL, 0};
    return store__call(st, case_escalate_fn, &a);
}

/* Inserts the visit unless its id is known: 0, or 1 for a repeat. */
static int visit_insert(sqlite3 *db, int64_t case_id,
                        const struct case_visit *v)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO case_visit(case_id,visit_id,"
                           "ts_ns,outcome,headcount,notes,token_id,who)"
                           " VALUES(?,?,?,?,?,?,?,?)",
                           -1, &s, NULL))
        return store__sqlerr(db, "case visit");
    sqlite3_bind_int64(s, 1, case_id);
    sqlite3_bind_text(s, 2, v->visit_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, v->ts_ns);
    sqlite3_bind_text(s, 4, v->outcome, -1, SQLITE_TRANSIENT);
    if (v->headcount >= 0)
        sqlite3_bind_int(s, 5, v->headcount);
    else
        sqlite3_bind_null(s, 5);
    sqlite3_bind_text(s, 6, v->notes ? v->notes : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 7, v->token_id);
    sqlite3_bind_text(s, 8, v->who, -1, SQLITE_TRANSIENT);
    int rc = run_stmt(db, s, "case visit");
    return rc ? rc : sqlite3_changes(db) == 1 ? 0 : 1;
}

static int case_visit_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct case_write *a = arg;
    int rc = visit_insert(w->db, a->c->id, a->visit);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        a->repeat = 1;
        return 0;
    }
    return case_update_fn(st, w, arg);
}

int store_case_visit(struct store *st, const struct case_row *c,
                     const char *expect_state, const struct case_step *steps,
                     int n_steps, const struct case_visit *v, int *OUT_repeat)
{
    struct case_write a = {c, expect_state, steps, 0, n_steps, v, 0};
    int rc = store__call(st, case_visit_fn, &a);
    *OUT_repeat = a.repeat;
    return rc;
}

int store_case_get(struct store *st, int64_t id, struct case_row *OUT)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT " CASE_COLS " FROM case_file"
                           " WHERE id=?",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "case get");
        goto out_put;
    }
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        case_from_row(s, OUT);
        rc = 0;
    } else {
        rc = step == SQLITE_DONE ? CB_ENOTFOUND
                                 : store__sqlerr(c->db, "case get");
    }
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

int store_scan_case_steps(struct store *st, int64_t id, store_case_step_fn fn,
                          void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc = 0, step;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT ts_ns,action,from_state,to_state,token_id,"
                           "who,role,reason FROM case_step WHERE case_id=?"
                           " ORDER BY id",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "case steps");
        goto out_put;
    }
    sqlite3_bind_int64(s, 1, id);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct case_step p = {sqlite3_column_int64(s, 0),
                              (const char *)sqlite3_column_text(s, 1),
                              (const char *)sqlite3_column_text(s, 2),
                              (const char *)sqlite3_column_text(s, 3),
                              sqlite3_column_int64(s, 4),
                              (const char *)sqlite3_column_text(s, 5),
                              (const char *)sqlite3_column_text(s, 6),
                              (const char *)sqlite3_column_text(s, 7)};
        fn(ctx, &p);
    }
    if (step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "case steps");
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

/* Binds an optional text filter "(?N = '' OR col = ?N)". */
static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

int store_scan_cases(struct store *st, const struct case_filter *f,
                     store_case_fn fn, void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc = 0, step;
    if (sqlite3_prepare_v2(
            c->db,
            "SELECT " CASE_COLS " FROM case_file WHERE"
            " (?1 = '' OR category = ?1) AND (?2 = '' OR household_id = ?2)"
            " AND (?3 = '' OR unit_kind = ?3) AND (?4 = '' OR unit = ?4)"
            " AND (?5 = '' OR state = ?5) AND (?6 = 0 OR state NOT IN"
            " ('closed','evaluated','void')) AND (?8 = 0 OR (deadline_ns > 0"
            " AND deadline_ns < ?8 AND escalated_to = ''))"
            " ORDER BY id DESC LIMIT ?7",
            -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "case scan");
        goto out_put;
    }
    bind_opt(s, 1, f->category);
    bind_opt(s, 2, f->household_id);
    bind_opt(s, 3, f->unit_kind);
    bind_opt(s, 4, f->unit);
    bind_opt(s, 5, f->state);
    sqlite3_bind_int(s, 6, f->open_only);
    sqlite3_bind_int64(s, 7, f->limit > 0 ? f->limit : -1);
    sqlite3_bind_int64(s, 8, f->overdue_at_ns);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct case_row row;
        case_from_row(s, &row);
        fn(ctx, &row);
    }
    if (step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "case scan");
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

int store_case_household_place(struct store *st, const char *household_id,
                               struct case_row *OUT_c)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT cm.name, b.name, h.address, h.lat, h.lon"
                           " FROM household h"
                           " LEFT JOIN committee cm ON cm.id = h.committee_id"
                           " LEFT JOIN building b ON b.id = h.building_id"
                           " WHERE h.household_id = ?",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "household place");
        goto out_put;
    }
    sqlite3_bind_text(s, 1, household_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        col_copy(s, 0, OUT_c->committee, sizeof(OUT_c->committee));
        col_copy(s, 1, OUT_c->building, sizeof(OUT_c->building));
        col_copy(s, 2, OUT_c->address, sizeof(OUT_c->address));
        OUT_c->has_place = sqlite3_column_type(s, 3) != SQLITE_NULL &&
                           sqlite3_column_type(s, 4) != SQLITE_NULL;
        OUT_c->lat = sqlite3_column_double(s, 3);
        OUT_c->lon = sqlite3_column_double(s, 4);
        rc = 0;
    } else {
        rc = step == SQLITE_DONE ? CB_ENOTFOUND
                                 : store__sqlerr(c->db, "household place");
    }
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

int store_scan_case_visits(struct store *st, int64_t from_ns, int64_t to_ns,
                           store_case_visit_fn fn, void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc = 0, step;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT case_id,visit_id,outcome,headcount,notes,"
                           "ts_ns,token_id,who FROM case_visit WHERE ts_ns >= ?"
                           " AND ts_ns < ? ORDER BY ts_ns",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "case visits");
        goto out_put;
    }
    sqlite3_bind_int64(s, 1, from_ns);
    sqlite3_bind_int64(s, 2, to_ns);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct case_visit v = {(const char *)sqlite3_column_text(s, 1),
                               (const char *)sqlite3_column_text(s, 2),
                               sqlite3_column_type(s, 3) == SQLITE_NULL
                                   ? -1
                                   : sqlite3_column_int(s, 3),
                               (const char *)sqlite3_column_text(s, 4),
                               sqlite3_column_int64(s, 5),
                               sqlite3_column_int64(s, 6),
                               (const char *)sqlite3_column_text(s, 7)};
        fn(ctx, sqlite3_column_int64(s, 0), &v);
    }
    if (step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "case visits");
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

int store_scan_cases_by_source(struct store *st, const char *source_kind,
                               int64_t from_ns, int64_t to_ns, int limit,
                               store_case_fn fn, void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc = 0, step;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT " CASE_COLS " FROM case_file"
                           " WHERE source_kind = ? AND created_ns >= ?"
                           " AND created_ns < ? ORDER BY created_ns DESC,"
                           " id DESC LIMIT ?",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "cases by source");
        goto out_put;
    }
    sqlite3_bind_text(s, 1, source_kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, from_ns);
    sqlite3_bind_int64(s, 3, to_ns);
    sqlite3_bind_int64(s, 4, limit > 0 ? limit : -1);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct case_row row;
        case_from_row(s, &row);
        fn(ctx, &row);
    }
    if (step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "cases by source");
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}
