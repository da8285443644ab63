/* routes_indic.c - indicators, alert rules, silences, alerts. */
#include "http/http_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "clock/clock.h"
#include "indic/indic.h"
#include "util/jsonw.h"

/* The engine, or NULL after replying 503. */
static struct indic_engine *engine(struct request *req)
{
    if (!req->srv->indic)
        reply_error(req, 503, "the indicator engine is not running");
    return req->srv->indic;
}

/* Epoch seconds or ISO 8601 into ns (def when absent); 400 on error. */
static int when_arg(struct request *req, const char *key, int64_t def,
                    int64_t *OUT_ns)
{
    const char *v = req_arg(req, key);
    int64_t secs;
    int col = 1;
    *OUT_ns = def;
    if (!v)
        return 0;
    if (!parse_int64(v, strlen(v), &secs) && secs >= -CB_TS_MAX_S &&
        secs <= CB_TS_MAX_S) {
        *OUT_ns = secs * 1000000000;
        return 0;
    }
    if (time_parse_iso(v, strlen(v), OUT_ns, &col) == 0)
        return 0;
    reply_error(req, 400,
                "argument '%s': '%s' is neither ISO 8601 nor epoch seconds "
                "(column %d)",
                key, v, col);
    return -1;
}

/* Replies to a declaration's result: 201, 400, 409, 413 or 503. */
static void reply_defined(struct request *req, int rc, const char *err,
                          const char *what)
{
    if (rc == 0) {
        sbuf_reset(&req->out);
        reply_status_object(req, "created");
        store_audit_token(req->srv->store, req->who.id, req->who.name, what, "",
                          "");
        reply_json(req, 201);
        return;
    }
    int status = rc == CB_EINVAL    ? 400
                 : rc == CB_EEXIST  ? 409
                 : rc == CB_ETOOBIG ? 413
                                    : 503;
    reply_error(req, status, "%s", err);
}

void route_indicators_list(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    indic_list_json(eng, &req->out);
    reply_json(req, 200);
}

void route_indicators_create(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    char err[400] = "";
    int rc = indic_define(eng, req->body.buf ? req->body.buf : "",
                          req->body.len, err, sizeof(err));
    reply_defined(req, rc, err, "indicator.create");
}

void route_indicator_series(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    int64_t from, to, limit;
    if (when_arg(req, "from", 0, &from) ||
        when_arg(req, "to", INT64_MAX, &to) ||
        req_int_arg(req, "limit", 1, 1000000, 10000, &limit))
        return;
    int rc = indic_series_json(eng, req->param, req_arg(req, "group"), from, to,
                               (size_t)limit, &req->out);
    if (rc == CB_ENOTFOUND) {
        reply_error(req, 404, "no indicator '%s'", req->param);
        return;
    }
    if (rc) {
        reply_error(req, 503, "cannot read the series");
        return;
    }
    reply_json(req, 200);
}

void route_alert_rules_list(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    indic_rule_list_json(eng, &req->out);
    reply_json(req, 200);
}

void route_alert_rules_create(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    char err[400] = "";
    int rc = indic_rule_define(eng, req->body.buf ? req->body.buf : "",
                               req->body.len, err, sizeof(err));
    reply_defined(req, rc, err, "alert_rule.put");
}

void route_silences_list(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    indic_silence_list_json(eng, &req->out);
    reply_json(req, 200);
}

void route_silences_create(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    char err[400] = "", id[32];
    int rc = indic_silence_add(eng, req->body.buf ? req->body.buf : "",
                               req->body.len, err, sizeof(err), id, sizeof(id));
    if (rc) {
        reply_error(req, rc == CB_EINVAL ? 400 : 503, "%s",
                    *err ? err : "the store failed");
        return;
    }
    store_audit_token(req->srv->store, req->who.id, req->who.name,
                      "silence.create", id, "");
    struct jsonw w;
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "id", id);
    jsonw_object_end(&w);
    reply_json(req, 201);
}

void route_alerts_list(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    static const char *const states[] = {"pending", "firing", "resolved"};
    const char *state = req_arg(req, "state");
    int ok = !state;
    for (int i = 0; i < 3 && !ok; i++)
        ok = !strcmp(state, states[i]);
    if (!ok) {
        reply_error(req, 400,
                    "argument 'state': '%s' is not pending, firing or resolved",
                    state);
        return;
    }
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 100000, 1000, &limit))
        return;
    if (indic_alert_list_json(eng, state, (size_t)limit, &req->out)) {
        reply_error(req, 503, "cannot read the alerts");
        return;
    }
    reply_json(req, 200);
}

void route_alert_get(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    int64_t id;
    if (parse_int64(req->param, strlen(req->param), &id) || id <= 0) {
        reply_error(req, 400, "alert id '%s' is not a positive integer",
                    req->param);
        return;
    }
    int rc = indic_alert_get_json(eng, id, &req->out);
    if (rc == CB_ENOTFOUND) {
        reply_error(req, 404, "no alert %" PRId64, id);
        return;
    }
    if (rc) {
        reply_error(req, 503, "cannot read the alert");
        return;
    }
    reply_json(req, 200);
}

void route_dead_letters(struct request *req)
{
    struct indic_engine *eng = engine(req);
    if (!eng)
        return;
    if (indic_dead_letters_json(eng, &req->out)) {
        reply_error(req, 503, "cannot read the dead letters");
        return;
    }
    reply_json(req, 200);
}

/* The body's 'until': epoch seconds (a number or digits), a date (its
 * first instant in the district), or ISO 8601, as the from/to arguments.
 * 0 when absent; -1 after replying 400. */
static int64_t until_field(struct request *req, json_t *v)
{
    const char *s = json_string_value(v);
    int64_t n, day;
    int col = 1;
    if (!v)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) > 0 &&
        json_integer_value(v) <= CB_TS_MAX_S)
        return json_integer_value(v) * 1000000000LL;
    if (s && !parse_int64(s, strlen(s), &n) && n > 0 && n <= CB_TS_MAX_S)
        return n * 1000000000LL;
    if (s && !time_parse_date(s, strlen(s), &day))
        return (day * 86400 - (int64_t)dclock_tz_offset_minutes() * 60) *
               1000000000LL;
    if (s && !time_parse_iso(s, strlen(s), &n, &col) && n > 0)
        return n;
    reply_error(req, 400,
                "field 'until': epoch seconds, a date or ISO 8601 (column "
                "%d)",
                col);
    return -1;
}

void route_alert_action(struct request *req)
{
    struct indic_engine *eng = engine(req);
    int64_t id;
    if (!eng)
        return;
    if (parse_int64(req->param, strlen(req->param), &id) || id <= 0) {
        reply_error(req, 400, "alert id '%s' is not a positive integer",
                    req->param);
        return;
    }
    json_t *obj = req_body_object(req);
    if (!obj)
        return;
    const char *action = json_string_value(json_object_get(obj, "action"));
    struct indic_alert_act act = {
        .action = action,
        .to = json_string_value(json_object_get(obj, "to")),
        .text = json_string_value(json_object_get(obj, "text")),
        .token_id = req->who.id,
        .who = req->who.name,
        .role = role_name(req->who.role),
    };
    if (action && !strcmp(action, "suppress")) {
        act.text = json_string_value(json_object_get(obj, "reason"));
        act.until_ns = until_field(req, json_object_get(obj, "until"));
    }
    char err[200] = "";
    int rc = act.until_ns < 0 ? 0
                              : indic_alert_action(eng, id, &act, err,
                                                   sizeof(err), &req->out);
    if (act.until_ns < 0)
        ; /* replied */
    else if (rc == CB_EINVAL)
        reply_error(req, 400, "%s", err);
    else if (rc == CB_ENOTFOUND)
        reply_error(req, 404, "no alert %" PRId64, id);
    else if (rc == CB_ETOOBIG)
        reply_error(req, 413, "%s", err);
    else if (rc)
        reply_error(req, 503, "cannot record the action");
    else {
        char what[48], object[32];
        snprintf(what, sizeof(what), "alert.%s", action);
        snprintf(object, sizeof(object), "alert %" PRId64, id);
        store_audit_token(req->srv->store, req->who.id, req->who.name, what,
                          object, "");
        reply_json(req, 200);
    }
    json_decref(obj);
}
