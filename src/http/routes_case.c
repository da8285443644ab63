/* routes_case.c - the case loop's endpoints (src/case/case.h). */
#include "http/http_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/case.h"
#include "clock/clock.h"
#include "scene/scene.h"
#include "util/jsonw.h"

static const char *field(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Replies with case c (with its history) and audits the household ids it
 * carries as action. */
static void reply_case(struct request *req, const struct case_row *c,
                       const char *action, int status)
{
    if (case_json(req->srv->store, c, 1, &req->out)) {
        reply_error(req, 500, "cannot read the case's history");
        return;
    }
    if (audit_response(req, action, "case") == 0)
        reply_json(req, status);
}

/* Appends "key": the JSON of obj's member key (null when absent). */
static void raw_member(struct jsonw *w, json_t *obj, const char *key)
{
    char *text =
        json_dumps(json_object_get(obj, key), JSON_COMPACT | JSON_ENCODE_ANY);
    jsonw_key(w, key);
    if (text)
        jsonw_raw(w, text, strlen(text));
    else
        jsonw_null(w);
    free(text);
}

/* After a change of a case: the live event `evaluation` (docs/API.md,
 * Live events), for the staff roles: the figures GET /api/v1/evaluation
 * answers without arguments, less the per-unit and per-role parts, and
 * the group-rental scene's measured precision.  A failure only skips the
 * event.  Cost: one evaluation (a scan of the cases) per change. */
static void publish_evaluation(struct request *req)
{
    struct sbuf eval, prec, ev;
    struct jsonw w;
    char as_of[32];
    json_t *e = NULL;
    if (!req->srv->live)
        return;
    sbuf_init(&eval);
    sbuf_init(&prec);
    sbuf_init(&ev);
    if (case_evaluate(req->srv->store, req->srv->cfg, 0, INT64_MAX, NULL,
                      &eval) ||
        !(e = json_loadb(eval.buf, eval.len, 0, NULL)))
        goto out;
    time_format_iso(dclock_now_ns() / 1000000000, dclock_tz_offset_minutes(),
                    as_of);
    jsonw_init(&w, &ev);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "as_of", as_of);
    raw_member(&w, e, "cases");
    raw_member(&w, e, "overall");
    raw_member(&w, e, "scenes");
    if (req->srv->scenes &&
        !scene_group_rental_precision_json(req->srv->scenes, &prec)) {
        jsonw_key(&w, "group_rental_learning");
        jsonw_raw(&w, prec.buf, prec.len);
    }
    jsonw_object_end(&w);
    live_publish(req->srv->live, "evaluation", ev.buf);
out:
    json_decref(e);
    sbuf_release(&eval);
    sbuf_release(&prec);
    sbuf_release(&ev);
}

static int case_new_from(struct request *req, json_t *obj, struct case_new *in)
{
    json_t *lat = json_object_get(obj, "lat"),
           *lon = json_object_get(obj, "lon");
    memset(in, 0, sizeof(*in));
    in->category = field(obj, "category");
    in->source_kind = field(obj, "source_kind");
    in->source_ref = field(obj, "source_ref");
    in->household_id = field(obj, "household_id");
    in->title = field(obj, "title");
    in->reason = field(obj, "reason");
    if (!in->source_kind)
        in->source_kind = "manual";
    /* a suspect or an elderly alert is about its household */
    if (!in->household_id && in->source_ref &&
        (!strcmp(in->source_kind, "group_rental") ||
         !strcmp(in->source_kind, "elderly")))
        in->household_id = in->source_ref;
    if (json_is_number(lat) && json_is_number(lon)) {
        in->has_place = 1;
        in->lat = json_number_value(lat);
        in->lon = json_number_value(lon);
    } else if (lat || lon) {
        reply_error(req, 400, "fields 'lat' and 'lon': both numbers");
        return -1;
    }
    if (!in->household_id && !in->has_place) {
        reply_error(req, 400, "a case needs 'household_id' or 'lat'/'lon'");
        return -1;
    }
    return 0;
}

void route_case_create(struct request *req)
{
    struct case_new in;
    struct case_row c;
    int dup = 0;
    json_t *obj = req_body_object(req);
    if (!obj)
        return;
    if (case_new_from(req, obj, &in))
        goto out_free;
    if (!strcmp(in.source_kind, "open311")) {
        reply_error(req, 400,
                    "field 'source_kind': open311 requests are "
                    "filed through /open311/v2/requests.json");
        goto out_free;
    }
    int rc =
        case_create(req->srv->store, req->srv->cfg, &req->who, &in, &c, &dup);
    if (rc == CB_EINVAL)
        reply_error(req, 400,
                    "field 'category' (1-63 bytes), 'source_kind' (one of "
                    "group_rental, elderly, event, alert, manual), "
                    "'source_ref' (< 128 bytes), 'title' (< 256 bytes), "
                    "'lat'/'lon' (a position)");
    else if (rc == CB_ENOTFOUND)
        reply_error(req, 404, "field 'household_id': no such household");
    else if (rc)
        reply_error(req, 500, "cannot store the case");
    else if (dup) {
        json_t *j;
        reply_case(req, &c, "case.duplicate", 200);
        /* mark the reply as a duplicate of the open case */
        j = json_loadb(req->out.buf, req->out.len, 0, NULL);
        if (j && req->status == 200) {
            json_object_set_new(j, "duplicate", json_true());
            char *text = json_dumps(j, JSON_COMPACT);
            sbuf_reset(&req->out);
            sbuf_addstr(&req->out, text);
            free(text);
        }
        json_decref(j);
    } else {
        reply_case(req, &c, "case.create", 201);
        publish_evaluation(req);
    }
out_free:
    json_decref(obj);
}

/* http_int.h */
int case_for_caller(struct request *req, struct case_row *OUT)
{
    char *end;
    int scoped =
        req->who.role == ROLE_COMMITTEE || req->who.role == ROLE_DEPARTMENT;
    long long id = strtoll(req->param, &end, 10);
    int rc = (*req->param && !*end && id > 0)
                 ? store_case_get(req->srv->store, id, OUT)
                 : CB_ENOTFOUND;
    if (rc == CB_ENOTFOUND ||
        (!rc && !case_visible(req->srv->store, &req->who, OUT))) {
        if (scoped || rc == 0)
            reply_error(req, 403, "case '%s' is not one of yours", req->param);
        else
            reply_error(req, 404, "no case '%s'", req->param);
        return -1;
    }
    if (rc) {
        reply_error(req, 500, "cannot read the case");
        return -1;
    }
    return 0;
}

void route_case_get(struct request *req)
{
    struct case_row c;
    if (case_for_caller(req, &c) == 0)
        reply_case(req, &c, "case.read", 200);
}

/* 409: the action is not allowed from the case's state; lists those that
 * are. */
static void transition_refused(struct request *req, const struct case_row *c,
                               const char *action)
{
    char msg[256];
    struct sbuf allowed;
    struct jsonw w;
    snprintf(msg, sizeof(msg), "action '%s' is not allowed in state '%s'",
             action, c->state);
    sbuf_init(&allowed);
    case_allowed_json(c->state, &allowed);
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "error", "conflict");
    jsonw_kv_str(&w, "message", msg);
    jsonw_kv_str(&w, "state", c->state);
    jsonw_key(&w, "allowed");
    jsonw_raw(&w, allowed.buf, allowed.len);
    jsonw_object_end(&w);
    sbuf_release(&allowed);
    reply_json(req, 409);
}

void route_case_transition(struct request *req)
{
    struct case_row c;
    json_t *obj = req_body_object(req);
    if (!obj)
        return;
    const char *action = field(obj, "action");
    if (!action) {
        reply_error(req, 400, "field 'action': a string");
        goto out_free;
    }
    int rc = case_transition(req->srv->store, req->srv->cfg, &req->who,
                             strtoll(req->param, NULL, 10), action,
                             field(obj, "reason"), &c);
    if (rc == CB_ENOTFOUND || (rc == CB_EPERM &&
                               (req->who.role == ROLE_COMMITTEE ||
                                req->who.role == ROLE_DEPARTMENT) &&
                               !case_visible(req->srv->store, &req->who, &c)))
        reply_error(req, rc == CB_ENOTFOUND ? 404 : 403,
                    "case '%s': not found or not yours", req->param);
    else if (rc == CB_EPERM)
        reply_error(req, 403, "role '%s' may not '%s' a case",
                    role_name(req->who.role), action);
    else if (rc == CB_EEXIST)
        transition_refused(req, &c, action);
    else if (rc == CB_EINVAL)
        reply_error(req, 400,
                    "field 'action': unknown action '%s', or no route for "
                    "the case's category (setting case_routes)",
                    action);
    else if (rc)
        reply_error(req, 500, "cannot store the transition");
    else {
        reply_case(req, &c, "case.transition", 200);
        publish_evaluation(req);
    }
out_free:
    json_decref(obj);
}

struct list_ctx {
    struct request *req;
    struct jsonw *w;
    int overdue_only;
};

static void list_fn(void *ctx, const struct case_row *c)
{
    struct list_ctx *l = ctx;
    if (!case_visible(l->req->srv->store, &l->req->who, c))
        return;
    if (l->overdue_only &&
        !(c->deadline_ns && dclock_now_ns() > c->deadline_ns))
        return;
    struct sbuf one;
    sbuf_init(&one);
    if (!case_json(l->req->srv->store, c, 0, &one))
        jsonw_raw(l->w, one.buf, one.len);
    sbuf_release(&one);
}

/* Escalates overdue cases before a list shows them; a failure is only
 * logged (the list still answers). */
static void escalate_overdue(struct request *req)
{
    int n;
    if (case_escalate_overdue(req->srv->store, req->srv->cfg, &n))
        log_msg(LOG_WARN, "case", "escalation failed");
}

void route_case_list(struct request *req)
{
    struct case_filter f = {0};
    struct jsonw w;
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 10000, 1000, &limit))
        return;
    f.category = req_arg(req, "category");
    f.state = req_arg(req, "state");
    f.limit = (int)limit;
    if (req->who.role == ROLE_COMMITTEE) {
        f.unit_kind = "committee";
        f.unit = req->who.committee;
    }
    escalate_overdue(req);
    const char *od = req_arg(req, "overdue");
    struct list_ctx l = {req, &w, od && !strcmp(od, "true")};
    jsonw_init(&w, &req->out);
    jsonw_array_begin(&w);
    if (store_scan_cases(req->srv->store, &f, list_fn, &l)) {
        reply_error(req, 500, "cannot list cases");
        return;
    }
    jsonw_array_end(&w);
    if (audit_response(req, "case.list", "cases") == 0)
        reply_json(req, 200);
}

/* The visit feeds the group-rental scene's learning (a failure to save the
 * model is logged by the scene; the visit stands). */
static void visit_to_scene(struct request *req, const struct case_row *c,
                           const struct case_visit_report *v)
{
    int repeat;
    if (strcmp(c->source_kind, "group_rental") || !*c->household_id ||
        !req->srv->scenes)
        return;
    struct scene_visit_report r = {c->household_id,
                                   scene_outcome_parse(v->outcome),
                                   v->headcount, v->visit_id};
    int rc = scene_group_rental_visit(req->srv->scenes, &r, &repeat);
    if (rc && rc != CB_EIO)
        log_msg(LOG_WARN, "case", "visit not learnt | case=%lld rc=%d",
                (long long)c->id, rc);
}

static int visit_from(struct request *req, json_t *obj,
                      struct case_visit_report *v)
{
    json_t *h = json_object_get(obj, "headcount");
    v->visit_id = field(obj, "visit_id");
    v->outcome = field(obj, "outcome");
    v->notes = field(obj, "notes");
    v->headcount = -1;
    if (h && !json_is_integer(h)) {
        reply_error(req, 400, "field 'headcount': an integer");
        return -1;
    }
    if (h)
        v->headcount = (int)json_integer_value(h);
    return 0;
}

void route_case_visit(struct request *req)
{
    struct case_visit_report v;
    struct case_row c;
    int repeat = 0;
    json_t *obj = req_body_object(req);
    if (!obj)
        return;
    if (visit_from(req, obj, &v))
        goto out_free;
    int rc = case_visit(req->srv->store, req->srv->cfg, &req->who,
                        strtoll(req->param, NULL, 10), &v, &c, &repeat);
    if (rc == CB_EINVAL)
        reply_error(req, 400,
                    "field 'visit_id' (1-128 bytes), 'outcome' (confirmed, "
                    "not_found or no_access), 'headcount' (0-10000), "
                    "'notes' (at most 2000 bytes)");
    else if (rc == CB_ENOTFOUND || rc == CB_EPERM)
        reply_error(req,
                    rc == CB_ENOTFOUND && req->who.role != ROLE_COMMITTEE ? 404
                                                                          : 403,
                    "case '%s': not found or not yours", req->param);
    else if (rc == CB_EEXIST)
        transition_refused(req, &c, "visit");
    else if (rc)
        reply_error(req, 500, "cannot store the visit");
    else {
        if (!repeat)
            visit_to_scene(req, &c, &v);
        struct jsonw w;
        jsonw_init(&w, &req->out);
        jsonw_object_begin(&w);
        jsonw_kv_bool(&w, "repeat", repeat);
        jsonw_key(&w, "case");
        struct sbuf one;
        sbuf_init(&one);
        case_json(req->srv->store, &c, 1, &one);
        jsonw_raw(&w, one.buf, one.len);
        sbuf_release(&one);
        jsonw_object_end(&w);
        if (audit_response(req, "case.visit", "case") == 0)
            reply_json(req, 200);
        if (!repeat)
            publish_evaluation(req);
    }
out_free:
    json_decref(obj);
}

struct task_ctx {
    struct request *req;
    struct jsonw *w;
};

static void task_fn(void *ctx, const struct case_row *c)
{
    struct task_ctx *t = ctx;
    if (!case_visible(t->req->srv->store, &t->req->who, c))
        return;
    struct sbuf one;
    sbuf_init(&one);
    if (!case_task_json(t->req->srv->store, c, &one))
        jsonw_raw(t->w, one.buf, one.len);
    sbuf_release(&one);
}

void route_tasks(struct request *req)
{
    struct case_filter f = {.state = "dispatched"};
    struct jsonw w;
    struct task_ctx t = {req, &w};
    if (req->who.role == ROLE_COMMITTEE) {
        f.unit_kind = "committee";
        f.unit = req->who.committee;
    }
    escalate_overdue(req);
    jsonw_init(&w, &req->out);
    jsonw_array_begin(&w);
    if (store_scan_cases(req->srv->store, &f, task_fn, &t)) {
        reply_error(req, 500, "cannot list tasks");
        return;
    }
    jsonw_array_end(&w);
    if (audit_response(req, "case.tasks", "tasks") == 0)
        reply_json(req, 200);
}

void route_evaluation(struct request *req)
{
    char err[240];
    int64_t from, to;
    const char *unit = req_arg(req, "unit");
    if (query_get_time(&req->query, "from", dclock_tz_offset_minutes(), 0, 0,
                       &from, err, sizeof(err)) ||
        query_get_time(&req->query, "to", dclock_tz_offset_minutes(), 1,
                       INT64_MAX, &to, err, sizeof(err))) {
        reply_error(req, 400, "%s", err);
        return;
    }
    if (from > to) {
        reply_error(req, 400, "parameter 'from' is after parameter 'to'");
        return;
    }
    if (req->who.role == ROLE_COMMITTEE) {
        if (unit && strcmp(unit, req->who.committee)) {
            reply_error(req, 403,
                        "parameter 'unit': a committee sees its "
                        "own figures only");
            return;
        }
        unit = req->who.committee;
    }
    if (case_evaluate(req->srv->store, req->srv->cfg, from, to, unit,
                      &req->out))
        reply_error(req, 500, "cannot evaluate");
    else
        reply_json(req, 200);
}
