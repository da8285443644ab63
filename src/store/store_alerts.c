/*
 * store_alerts.c - alert_action: what operators did with an alert
 * (acknowledge, assign, comment, suppress) and the engine's escalations,
 * appended one row each.  The workflow's rules live in src/indic/; this
 * file only stores and reads.
 */
#include <string.h>

#include "store/store_int.h"

static int action_add_fn(struct store *st, struct store_conn *w, void *arg)
{
    const struct alert_action *a = arg;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(w->db,
                           "INSERT INTO alert_action(alert_id,ts_ns,action,"
                           "token_id,who,role,assignee,text,until_ns)"
                           " VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL))
        return store__sqlerr(w->db, "alert action");
    sqlite3_bind_int64(s, 1, a->alert_id);
    sqlite3_bind_int64(s, 2, a->ts_ns);
    sqlite3_bind_text(s, 3, a->action, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, a->token_id);
    sqlite3_bind_text(s, 5, a->who ? a->who : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, a->role ? a->role : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, a->assignee ? a->assignee : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, a->text ? a->text : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 9, a->until_ns);
    int rc = sqlite3_step(s) == SQLITE_DONE
                 ? 0
                 : store__sqlerr(w->db, "alert action");
    sqlite3_finalize(s);
    return rc;
}

int store_alert_action_add(struct store *st, const struct alert_action *a)
{
    if (!a->action)
        return CB_EINVAL;
    return store__call(st, action_add_fn, (void *)a);
}

static const char *col_text(sqlite3_stmt *s, int col)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    return t ? t : "";
}

int store_scan_alert_actions(struct store *st, int64_t alert_id,
                             store_alert_action_fn fn, void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s;
    int rc = 0, step;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT ts_ns,action,token_id,who,role,assignee,"
                           "text,until_ns FROM alert_action WHERE alert_id=?"
                           " ORDER BY id",
                           -1, &s, NULL)) {
        rc = store__sqlerr(c->db, "alert actions");
        goto out_put;
    }
    sqlite3_bind_int64(s, 1, alert_id);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct alert_action a = {alert_id,
                                 sqlite3_column_int64(s, 0),
                                 col_text(s, 1),
                                 sqlite3_column_int64(s, 2),
                                 col_text(s, 3),
                                 col_text(s, 4),
                                 col_text(s, 5),
                                 col_text(s, 6),
                                 sqlite3_column_int64(s, 7)};
        fn(ctx, &a);
    }
    if (step != SQLITE_DONE)
        rc = store__sqlerr(c->db, "alert actions");
    sqlite3_finalize(s);
out_put:
    store__reader_put(st, c);
    return rc;
}
