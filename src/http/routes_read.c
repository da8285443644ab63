/*
 * routes_read.c - household-level reads and ingest statistics.
 *
 * Every household-level read is checked against the caller's role (a
 * committee token reaches its own committee's households only) and written
 * to the audit log with who, what and why (the X-Audit-Reason header or the
 * `reason` argument) before the data is returned.
 */
#include "http/http_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "render/render.h"

int32_t household_for_read(struct request *req, const char *what)
{
    int32_t hh = store_household_resolve(req->srv->store, req->param);
    char committee[STORE_NAME_MAX + 1];
    int known =
        hh >= 0 && store_household_committee(req->srv->store, hh, committee,
                                             sizeof(committee)) == 0;
    char object[300];
    snprintf(object, sizeof(object), "household:%s", req->param);
    if (auth_check_household(&req->who, known ? committee : NULL)) {
        /* An unknown id and another committee's get the same answer, so
         * that a committee token cannot tell which ids exist. */
        audit_denied(req, what, object);
        reply_error(req, 403, "household '%s' is outside your committee",
                    req->param);
        return -1;
    }
    if (hh < 0) {
        reply_error(req, 404, "no household '%s'", req->param);
        return -1;
    }
    return audit_read(req, what, object) ? -1 : hh;
}

static const char *audit_reason(struct request *req)
{
    const char *why = req_header(req, "X-Audit-Reason");
    if (!why)
        why = req_arg(req, "reason");
    return why ? why : "";
}

int audit_read(struct request *req, const char *action, const char *object)
{
    if (store_audit_token(req->srv->store, req->who.id, req->who.name, action,
                          object, audit_reason(req)) == 0)
        return 0;
    reply_error(req, 503, "the audit log cannot be written; refusing");
    return -1;
}

void audit_denied(struct request *req, const char *action, const char *object)
{
    char denied[80];
    snprintf(denied, sizeof(denied), "%s.denied", action);
    if (store_audit_token(req->srv->store, req->who.id, req->who.name, denied,
                          object, audit_reason(req)))
        log_msg(LOG_WARN, "http", "cannot audit a denied read | action=%s",
                action);
}

/* Appends the household ids found in j (values of "household_id", items
 * of "top") to ids, comma-separated. */
static void collect_ids(json_t *j, const char *key, struct sbuf *ids)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_string(j) && key &&
        (!strcmp(key, "household_id") || !strcmp(key, "top"))) {
        if (ids->len)
            sbuf_addch(ids, ',');
        sbuf_addstr(ids, json_string_value(j));
    } else if (json_is_object(j)) {
        json_object_foreach(j, k, v) collect_ids(v, k, ids);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) collect_ids(v, key, ids);
    }
}

int audit_response(struct request *req, const char *action, const char *scope)
{
    struct sbuf object = SBUF_INIT;
    sbuf_init(&object);
    sbuf_addf(&object, "%s households=", scope);
    size_t head = object.len;
    json_t *j = json_loadb(req->out.buf, req->out.len, 0, NULL);
    struct sbuf ids = SBUF_INIT;
    sbuf_init(&ids);
    collect_ids(j, NULL, &ids);
    json_decref(j);
    sbuf_add(&object, ids.buf, ids.len);
    sbuf_release(&ids);
    if (object.len == head)
        sbuf_addstr(&object, "none");
    int rc = audit_read(req, action, object.buf);
    sbuf_release(&object);
    return rc;
}

void route_household_get(struct request *req)
{
    int32_t hh = household_for_read(req, "household.read");
    if (hh < 0)
        return;
    if (render_household(req->srv->store, hh, &req->out))
        reply_error(req, 500, "cannot read household");
    else
        reply_json(req, 200);
}

/* Reads a time argument in the forms of query_get_time; `to` arguments
 * (end_of_day) given as a date include that whole day.  Missing: def. */
static int time_arg(struct request *req, const char *key, int end_of_day,
                    int64_t def, int64_t *OUT_ns)
{
    char err[240];
    if (query_get_time(&req->query, key, dclock_tz_offset_minutes(), end_of_day,
                       def, OUT_ns, err, sizeof(err)) == 0)
        return 0;
    reply_error(req, 400, "%s", err);
    return -1;
}

/* Reads `from` and `to` (open bound) and checks from <= to. */
static int range_args(struct request *req, int64_t *OUT_from, int64_t *OUT_to)
{
    if (time_arg(req, "from", 0, 0, OUT_from) ||
        time_arg(req, "to", 1, INT64_MAX, OUT_to))
        return -1;
    if (*OUT_from <= *OUT_to)
        return 0;
    reply_error(req, 400, "parameter 'from' is after parameter 'to'");
    return -1;
}

void route_household_readings(struct request *req)
{
    const char *m = req_arg(req, "metric");
    int metric = m ? metric_parse(m, strlen(m)) : -1;
    if (m && metric < 0) {
        reply_error(req, 400, "metric must be water, electricity or gas");
        return;
    }
    int64_t from, to;
    if (range_args(req, &from, &to))
        return;
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 100000, 10000, &limit))
        return;
    int32_t hh = household_for_read(req, "household.readings");
    if (hh < 0)
        return;
    if (render_readings(req->srv->store, hh, metric, from, to, limit,
                        &req->out))
        reply_error(req, 500, "cannot read readings");
    else
        reply_json(req, 200);
}

/* The district day of a time argument (any form of query_get_time);
 * missing: def. */
static int day_arg(struct request *req, const char *key, int64_t def,
                   int64_t *OUT_day)
{
    int64_t ns, day_ns = 86400LL * 1000000000LL;
    if (time_arg(req, key, 0, INT64_MIN, &ns))
        return -1;
    if (ns == INT64_MIN) {
        *OUT_day = def;
        return 0;
    }
    ns += dclock_tz_offset_ns();
    *OUT_day = ns / day_ns - (ns % day_ns < 0);
    return 0;
}

/* grain=day (the default) or hour: 0 or 1; -1 after a 400. */
static int grain_arg(struct request *req)
{
    const char *g = req_arg(req, "grain");
    if (!g || !strcmp(g, "day"))
        return 0;
    if (!strcmp(g, "hour"))
        return 1;
    reply_error(req, 400, "parameter 'grain' must be day or hour");
    return -1;
}

void route_household_usage(struct request *req)
{
    int64_t from, to;
    int hourly = grain_arg(req);
    if (hourly < 0 || day_arg(req, "from", 0, &from) ||
        day_arg(req, "to", 1000000, &to))
        return;
    if (from > to) {
        reply_error(req, 400, "parameter 'from' is after parameter 'to'");
        return;
    }
    to++; /* `to` names the last day wanted; the store's bound is open */
    int32_t hh = household_for_read(req, "household.usage");
    if (hh < 0)
        return;
    if ((hourly ? render_usage_hourly
                : render_usage_daily)(req->srv->store, hh, from, to, &req->out))
        reply_error(req, 500, "cannot read usage");
    else
        reply_json(req, 200);
}

void route_ingest_stats(struct request *req)
{
    render_stats(req->srv->store, &req->out);
    reply_json(req, 200);
}

/* What an event shows to analysts and committees: the street, not the
 * coordinates, and none of the attributes (a department's attributes may
 * be medical: an ambulance's "reason"). */
static int events_street_level(struct request *req)
{
    json_t *events = json_loadb(req->out.buf, req->out.len, 0, NULL);
    size_t i;
    json_t *ev;
    if (!json_is_array(events)) {
        json_decref(events);
        return CB_EINVAL;
    }
    json_array_foreach(events, i, ev)
    {
        json_object_del(ev, "lat");
        json_object_del(ev, "lon");
        json_object_del(ev, "attrs");
    }
    char *text = json_dumps(events, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(events);
    sbuf_reset(&req->out);
    sbuf_addstr(&req->out, text);
    free(text);
    return 0;
}

void route_events_list(struct request *req)
{
    int64_t from, to;
    if (range_args(req, &from, &to))
        return;
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 10000, 100, &limit))
        return;
    const char *source = req_arg(req, "source");
    if (render_events(req->srv->store, source, from, to, limit, &req->out)) {
        reply_error(req, 500, "cannot read events");
        return;
    }
    int full = req->who.role == ROLE_ADMIN || req->who.role == ROLE_OPERATOR;
    if (!full && events_street_level(req)) {
        reply_error(req, 500, "cannot read events");
        return;
    }
    char object[300];
    snprintf(object, sizeof(object), "events source=%s full=%s",
             source ? source : "*", full ? "yes" : "no");
    if (full && audit_read(req, "events.read", object))
        return;
    reply_json(req, 200);
}
