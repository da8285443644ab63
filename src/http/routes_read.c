/*
 * routes_read.c - household-level reads and ingest statistics.
 *
 * Every household-level read is checked against the caller's role (a
 * committee token reaches its own committee's households only) and written
 * to the audit log with who, what and why (the X-Audit-Reason header or the
 * `reason` argument) before the data is returned.
 */
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"

int32_t household_for_read(struct request *req, const char *what)
{
    int32_t hh = store_household_resolve(req->srv->store, req->param);
    if (hh < 0) {
        reply_error(req, 404, "no household '%s'", req->param);
        return -1;
    }
    char committee[128];
    int known = store_household_committee(req->srv->store, hh, committee,
                                          sizeof(committee)) == 0;
    if (auth_check_household(&req->who, AUTH_READ_HOUSEHOLD,
                             known ? committee : NULL)) {
        reply_error(req, 403, "household '%s' is outside your committee",
                    req->param);
        return -1;
    }
    char object[300];
    snprintf(object, sizeof(object), "household:%s", req->param);
    return audit_read(req, what, object) ? -1 : hh;
}

int audit_read(struct request *req, const char *action, const char *object)
{
    const char *why = req_header(req, "X-Audit-Reason");
    if (!why)
        why = req_arg(req, "reason");
    if (store_audit(req->srv->store, req->who.name, action, object,
                    why ? why : "") == 0)
        return 0;
    reply_error(req, 503, "the audit log cannot be written; refusing");
    return -1;
}

void route_household_get(struct request *req)
{
    int32_t hh = household_for_read(req, "household.read");
    if (hh < 0)
        return;
    if (store_household_json(req->srv->store, hh, &req->out))
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
    if (store_readings_json(req->srv->store, hh, metric, from, to, limit,
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

void route_household_usage(struct request *req)
{
    int64_t from, to;
    if (day_arg(req, "from", 0, &from) || day_arg(req, "to", 1000000, &to))
        return;
    if (from > to) {
        reply_error(req, 400, "parameter 'from' is after parameter 'to'");
        return;
    }
    to++; /* `to` names the last day wanted; the store's bound is open */
    int32_t hh = household_for_read(req, "household.usage");
    if (hh < 0)
        return;
    if (store_usage_daily_json(req->srv->store, hh, from, to, &req->out))
        reply_error(req, 500, "cannot read usage");
    else
        reply_json(req, 200);
}

void route_ingest_stats(struct request *req)
{
    if (store_stats_json(req->srv->store, &req->out))
        reply_error(req, 500, "cannot read statistics");
    else
        reply_json(req, 200);
}

void route_events_list(struct request *req)
{
    int64_t from, to;
    if (range_args(req, &from, &to))
        return;
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 10000, 100, &limit))
        return;
    if (store_events_json(req->srv->store, req_arg(req, "source"), from, to,
                          limit, &req->out))
        reply_error(req, 500, "cannot read events");
    else
        reply_json(req, 200);
}
