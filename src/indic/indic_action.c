/*
 * indic_action.c - the operators' workflow on alerts (indic.h): acknowledge,
 * assign, comment, suppress, and the escalation of an alert nobody
 * acknowledged in time.
 *
 * The record is the store's alert_action table, one row per action; an
 * alert's workflow fields are a fold over its rows, written after the
 * fields of its stored document.  The open alerts in memory carry what the
 * tick needs (acked, escalated, suppressed_until), set here under
 * eng->lock and folded again from the table at load.
 */
#include "indic/indic_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#include "util/jsonw.h"

/* ---- the fold ---- */

struct workflow {
    char acked_by[64], assignee[64], escalated_to[64], reason[256];
    int64_t acked_at, suppressed_until;
    /* the oldest skip_* comments and actions are left out of the lists
     * (live events list the newest only) */
    size_t n_comments, n_actions, skip_comments, skip_actions;
    size_t seen_comments, seen_actions;
    struct sbuf comments, actions; /* JSON arrays' members */
    struct jsonw cw, aw;
};

static void kv_iso(struct jsonw *w, const char *key, int64_t ns)
{
    char iso[40];
    if (!ns) {
        jsonw_kv_null(w, key);
        return;
    }
    indic_iso(ns, iso);
    jsonw_kv_str(w, key, iso);
}

static void kv_opt(struct jsonw *w, const char *key, const char *v)
{
    if (*v)
        jsonw_kv_str(w, key, v);
    else
        jsonw_kv_null(w, key);
}

static void fold_fn(void *ctx, const struct alert_action *a)
{
    struct workflow *f = ctx;
    if (!strcmp(a->action, "acknowledge") && !f->acked_at) {
        snprintf(f->acked_by, sizeof(f->acked_by), "%s", a->who);
        f->acked_at = a->ts_ns;
    } else if (!strcmp(a->action, "assign")) {
        snprintf(f->assignee, sizeof(f->assignee), "%s", a->assignee);
    } else if (!strcmp(a->action, "comment") &&
               f->seen_comments++ >= f->skip_comments) {
        jsonw_object_begin(&f->cw);
        kv_iso(&f->cw, "ts", a->ts_ns);
        jsonw_kv_str(&f->cw, "who", a->who);
        jsonw_kv_str(&f->cw, "text", a->text);
        jsonw_object_end(&f->cw);
    } else if (!strcmp(a->action, "suppress")) {
        f->suppressed_until = a->until_ns;
        snprintf(f->reason, sizeof(f->reason), "%s", a->text);
    } else if (!strcmp(a->action, "escalate")) {
        snprintf(f->escalated_to, sizeof(f->escalated_to), "%s", a->assignee);
    }
    if (f->seen_actions++ < f->skip_actions)
        return;
    jsonw_object_begin(&f->aw);
    kv_iso(&f->aw, "ts", a->ts_ns);
    jsonw_kv_str(&f->aw, "action", a->action);
    jsonw_kv_str(&f->aw, "who", a->who);
    jsonw_kv_int(&f->aw, "token_id", a->token_id);
    jsonw_kv_str(&f->aw, "role", a->role);
    if (*a->assignee)
        jsonw_kv_str(&f->aw, "to", a->assignee);
    if (*a->text && strcmp(a->action, "comment")) /* in comments */
        jsonw_kv_str(&f->aw, "text", a->text);
    if (a->until_ns)
        kv_iso(&f->aw, "until", a->until_ns);
    jsonw_object_end(&f->aw);
}

static void count_fn(void *ctx, const struct alert_action *a)
{
    struct workflow *f = ctx;
    f->n_comments += !strcmp(a->action, "comment");
    f->n_actions++;
}

/* Reads alert id's actions into f (released by fold_release), listing at
 * most the newest keep_comments comments and keep_actions actions. */
static int fold(struct indic_engine *eng, int64_t id, size_t keep_comments,
                size_t keep_actions, struct workflow *f)
{
    memset(f, 0, sizeof(*f));
    if (keep_comments < SIZE_MAX || keep_actions < SIZE_MAX) {
        store_scan_alert_actions(eng->st, id, count_fn, f);
        if (f->n_comments > keep_comments)
            f->skip_comments = f->n_comments - keep_comments;
        if (f->n_actions > keep_actions)
            f->skip_actions = f->n_actions - keep_actions;
    }
    sbuf_init(&f->comments);
    sbuf_init(&f->actions);
    jsonw_init(&f->cw, &f->comments);
    jsonw_init(&f->aw, &f->actions);
    jsonw_array_begin(&f->cw);
    jsonw_array_begin(&f->aw);
    int rc = store_scan_alert_actions(eng->st, id, fold_fn, f);
    jsonw_array_end(&f->cw);
    jsonw_array_end(&f->aw);
    return rc;
}

static void fold_release(struct workflow *f)
{
    sbuf_release(&f->comments);
    sbuf_release(&f->actions);
}

/* As indic_alert_doc_json, listing at most the newest keep_comments
 * comments and keep_actions actions. */
static void doc_json(struct indic_engine *eng, int64_t id, const char *doc,
                     size_t keep_comments, size_t keep_actions,
                     struct sbuf *out)
{
    size_t n = strlen(doc);
    while (n && doc[n - 1] != '}')
        n--;
    if (n < 2) { /* not an object: as stored */
        sbuf_addstr(out, doc);
        return;
    }
    struct workflow f;
    if (fold(eng, id, keep_comments, keep_actions, &f))
        log_msg(LOG_WARN, "indic", "alert actions not read | id=%lld",
                (long long)id);
    struct sbuf tail = SBUF_INIT;
    struct jsonw w;
    jsonw_init(&w, &tail);
    jsonw_object_begin(&w);
    kv_opt(&w, "acknowledged_by", f.acked_by);
    kv_iso(&w, "acknowledged_at", f.acked_at);
    kv_opt(&w, "assignee", f.assignee);
    jsonw_key(&w, "comments");
    jsonw_raw(&w, f.comments.buf, f.comments.len);
    kv_iso(&w, "suppressed_until", f.suppressed_until);
    kv_opt(&w, "suppress_reason", f.reason);
    kv_opt(&w, "escalated_to", f.escalated_to);
    jsonw_key(&w, "actions");
    jsonw_raw(&w, f.actions.buf, f.actions.len);
    jsonw_object_end(&w);
    /* the stored object, less its '}', then ",fields}" */
    sbuf_add(out, doc, n - 1);
    if (doc[n - 2] != '{')
        sbuf_addch(out, ',');
    sbuf_add(out, tail.buf + 1, tail.len - 1);
    sbuf_release(&tail);
    fold_release(&f);
}

void indic_alert_doc_json(struct indic_engine *eng, int64_t id, const char *doc,
                          struct sbuf *out)
{
    doc_json(eng, id, doc, SIZE_MAX, SIZE_MAX, out);
}

void indic_alert_event_json(struct indic_engine *eng, int64_t id,
                            const char *doc, struct sbuf *out)
{
    doc_json(eng, id, doc, INDIC_EVENT_COMMENTS, INDIC_EVENT_ACTIONS, out);
}

/* ---- the open alerts' flags ---- */

static struct indic_alert *open_by_id(struct indic_engine *eng, int64_t id)
{
    for (size_t i = 0; i < eng->open.cap; i++) {
        struct indic_alert *a = eng->open.keys[i] ? eng->open.vals[i] : NULL;
        if (a && a->id == id && a->state != AS_INACTIVE)
            return a;
    }
    return NULL;
}

static void flags_fn(void *ctx, const struct alert_action *r)
{
    struct indic_alert *a = ctx;
    if (!strcmp(r->action, "acknowledge"))
        a->acked = 1;
    else if (!strcmp(r->action, "escalate"))
        a->escalated = 1;
    else if (!strcmp(r->action, "suppress"))
        a->suppressed_until = r->until_ns;
}

int indic_alerts_load_workflow(struct indic_engine *eng)
{
    int rc = 0;
    for (size_t i = 0; i < eng->open.cap && !rc; i++) {
        struct indic_alert *a = eng->open.keys[i] ? eng->open.vals[i] : NULL;
        if (a && a->state != AS_INACTIVE)
            rc = store_scan_alert_actions(eng->st, a->id, flags_fn, a);
    }
    return rc;
}

/* ---- publishing ---- */

/* Publishes alert id as an `alert` event (its stored document with the
 * workflow) into out too, when out is not NULL.  0 or CB_ENOTFOUND. */
static int alert_publish(struct indic_engine *eng, int64_t id, struct sbuf *out)
{
    char key[24], *doc;
    snprintf(key, sizeof(key), "%016lld", (long long)id);
    int rc = store_doc_get(eng->st, "alert", key, &doc);
    if (rc)
        return rc;
    struct sbuf ev = SBUF_INIT;
    indic_alert_event_json(eng, id, doc, &ev);
    if (eng->cfg.live)
        live_publish(eng->cfg.live, "alert", ev.buf);
    if (out)
        indic_alert_doc_json(eng, id, doc, out);
    sbuf_release(&ev);
    free(doc);
    return 0;
}

/* ---- actions ---- */

static int act_check(const struct indic_alert_act *act, int64_t now, char *err,
                     size_t cap)
{
    const char *a = act->action ? act->action : "";
    if (!strcmp(a, "acknowledge"))
        return 0;
    if (!strcmp(a, "assign")) {
        if (act->to && *act->to && strlen(act->to) < 64)
            return 0;
        snprintf(err, cap, "field 'to': a name of 1-63 bytes");
        return CB_EINVAL;
    }
    if (!strcmp(a, "comment")) {
        if (act->text && *act->text && strlen(act->text) <= 1000)
            return 0;
        snprintf(err, cap, "field 'text': 1-1000 bytes");
        return CB_EINVAL;
    }
    if (!strcmp(a, "suppress")) {
        if (!act->text || !*act->text || strlen(act->text) > 255) {
            snprintf(err, cap, "field 'reason': 1-255 bytes");
            return CB_EINVAL;
        }
        if (act->until_ns <= now) {
            snprintf(err, cap, "field 'until': a time after now");
            return CB_EINVAL;
        }
        return 0;
    }
    snprintf(err, cap,
             "field 'action': one of acknowledge, assign, comment, "
             "suppress");
    return CB_EINVAL;
}

/* Whether alert id is stored at all. */
static int alert_known(struct indic_engine *eng, int64_t id)
{
    char key[24], *doc;
    snprintf(key, sizeof(key), "%016lld", (long long)id);
    int rc = store_doc_get(eng->st, "alert", key, &doc);
    free(doc);
    return rc;
}

struct so_far {
    int acked;
    size_t n;
};

static void so_far_fn(void *ctx, const struct alert_action *a)
{
    struct so_far *f = ctx;
    f->acked |= !strcmp(a->action, "acknowledge");
    f->n++;
}

int indic_alert_action(struct indic_engine *eng, int64_t id,
                       const struct indic_alert_act *act, char *err,
                       size_t errcap, struct sbuf *out)
{
    int64_t now = indic_now_ns();
    int rc = act_check(act, now, err, errcap);
    if (rc)
        return rc;
    if ((rc = alert_known(eng, id)))
        return rc;
    int ack = !strcmp(act->action, "acknowledge");
    int assign = !strcmp(act->action, "assign");
    struct alert_action row = {id,
                               now,
                               act->action,
                               act->token_id,
                               act->who,
                               act->role,
                               assign ? act->to : "",
                               act->text && !assign && !ack ? act->text : "",
                               act->until_ns};
    /* under the lock: the tick's escalation sees the flags and the rows
     * in one order */
    pthread_mutex_lock(&eng->lock);
    struct so_far f = {0, 0};
    rc = store_scan_alert_actions(eng->st, id, so_far_fn, &f);
    if (!rc && f.n >= INDIC_ALERT_ACTIONS_MAX && !(ack && f.acked)) {
        snprintf(err, errcap, "alert %lld has %d actions, the most it keeps",
                 (long long)id, INDIC_ALERT_ACTIONS_MAX);
        rc = CB_ETOOBIG;
    }
    if (!rc && !(ack && f.acked))
        rc = store_alert_action_add(eng->st, &row);
    struct indic_alert *a = rc ? NULL : open_by_id(eng, id);
    if (a && ack)
        a->acked = 1;
    if (a && !strcmp(act->action, "suppress"))
        a->suppressed_until = act->until_ns;
    pthread_mutex_unlock(&eng->lock);
    if (rc)
        return rc;
    return alert_publish(eng, id, out);
}

/* ---- escalation ---- */

/* The recipient routes name for key ("KEY=RECIPIENT,.."): 1 when found. */
static int route_find(const char *routes, const char *key, char *out,
                      size_t cap)
{
    size_t n = strlen(key);
    for (const char *p = routes; p && *p && n;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ') {
            p++;
            len--;
        }
        if (len > n + 1 && !strncmp(p, key, n) && p[n] == '=') {
            snprintf(out, cap, "%.*s", (int)(len - n - 1), p + n + 1);
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static const struct indic_rule *rule_by_id(struct indic_engine *eng,
                                           const char *id)
{
    for (size_t i = 0; i < eng->nrules; i++)
        if (!strcmp(eng->rules[i]->id, id))
            return eng->rules[i];
    return NULL;
}

static void escalate_one(struct indic_engine *eng, const struct indic_rule *r,
                         struct indic_alert *a, int64_t ack_ns, int64_t now)
{
    char to[64], why[128];
    if (!route_find(eng->alert_routes, r->id, to, sizeof(to)) &&
        !route_find(eng->alert_routes, r->severity, to, sizeof(to)))
        snprintf(to, sizeof(to), "%s", eng->escalate_to);
    snprintf(why, sizeof(why), "not acknowledged within %llds",
             (long long)(ack_ns / INDIC_NS_S));
    struct alert_action row = {a->id,    now, "escalate", 0, "citybrain",
                               "system", to,  why,        0};
    if (store_alert_action_add(eng->st, &row)) {
        log_msg(LOG_WARN, "indic", "escalation not saved | id=%lld",
                (long long)a->id);
        return;
    }
    a->escalated = 1;
    alert_publish(eng, a->id, NULL);
}

void indic_alerts_escalate(struct indic_engine *eng, int64_t now_ns)
{
    if (!*eng->escalate_to && !*eng->alert_routes)
        return;
    for (size_t i = 0; i < eng->open.cap; i++) {
        struct indic_alert *a = eng->open.keys[i] ? eng->open.vals[i] : NULL;
        if (!a || a->state != AS_FIRING || a->acked || a->escalated ||
            a->suppressed_until > now_ns)
            continue;
        const struct indic_rule *r = rule_by_id(eng, a->rule);
        int64_t ack_ns = r && r->ack_ns ? r->ack_ns : eng->cfg.ack_within_ns;
        if (r && ack_ns > 0 && now_ns - a->fired_at >= ack_ns)
            escalate_one(eng, r, a, ack_ns, now_ns);
    }
}
