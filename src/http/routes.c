/* routes.c - the route table, and the routes that need no store access. */
#include "http/http_int.h"

#include "metrics/metrics.h"

#define PUB ROUTE_PUBLIC
#define TOK ROUTE_TOKEN
const struct route http_routes[] = {
    {"GET", "/healthz", route_healthz, PUB, 0, 0, 0},
    {"GET", "/metrics", route_metrics, PUB, 0, 0, 0},
    {"POST", "/api/v1/registry/households", route_write_households, TOK,
     AUTH_WRITE_FEED, FEED_REGISTRY, 0},
    {"POST", "/api/v1/write", route_write_lineproto, TOK, AUTH_WRITE_FEED,
     FEED_READINGS, 0},
    {"POST", "/api/v2/write", route_write_influx_v2, TOK, AUTH_WRITE_FEED,
     FEED_READINGS, 1},
    {"POST", "/api/v1/deliveries", route_write_deliveries, TOK, AUTH_WRITE_FEED,
     FEED_DELIVERIES, 0},
    {"POST", "/api/v1/events", route_write_events, TOK, AUTH_WRITE_FEED,
     FEED_EVENTS, 0},
    {"GET", "/api/v1/households/{}", route_household_get, TOK,
     AUTH_READ_HOUSEHOLD, 0, 0},
    {"GET", "/api/v1/households/{}/readings", route_household_readings, TOK,
     AUTH_READ_HOUSEHOLD, 0, 0},
    {"GET", "/api/v1/households/{}/usage", route_household_usage, TOK,
     AUTH_READ_HOUSEHOLD, 0, 0},
    {"GET", "/api/v1/stats/ingest", route_ingest_stats, TOK,
     AUTH_READ_AGGREGATE, 0, 0},
    {"GET", "/api/v1/events", route_events_list, TOK, AUTH_READ_AGGREGATE, 0,
     0},
    {"POST", "/api/v1/tokens", route_tokens_create, TOK, AUTH_MANAGE, 0, 0},
    {"GET", "/api/v1/tokens", route_tokens_list, TOK, AUTH_MANAGE, 0, 0},
    {"DELETE", "/api/v1/tokens/{}", route_tokens_revoke, TOK, AUTH_MANAGE, 0,
     0},
    {"POST", "/api/v1/departments", route_departments_create, TOK, AUTH_MANAGE,
     0, 0},
    {"GET", "/api/v1/departments", route_departments_list, TOK, AUTH_MANAGE, 0,
     0},
    {"GET", "/api/v1/admin/clock", route_clock_get, TOK, AUTH_MANAGE, 0, 0},
    {"POST", "/api/v1/admin/clock", route_clock_set, TOK, AUTH_MANAGE, 0, 0},
    {"GET", "/api/v1/audit", route_audit_list, TOK, AUTH_READ_AUDIT, 0, 0},
    {"GET", "/api/v1/whoami", route_whoami, TOK, AUTH_READ_AGGREGATE, 0, 0},
    {"GET", "/api/v1/scenes/group-rental/suspects", route_group_rental_suspects,
     TOK, AUTH_READ_HOUSEHOLD, 0, 0},
    {"GET", "/api/v1/scenes/group-rental/summary", route_group_rental_summary,
     TOK, AUTH_READ_AGGREGATE, 0, 0},
    {"GET", "/api/v1/scenes/group-rental/households/{}/evidence",
     route_group_rental_evidence, TOK, AUTH_READ_HOUSEHOLD, 0, 0},
    {"POST", "/api/v1/scenes/group-rental/feedback",
     route_group_rental_feedback, TOK, AUTH_FEEDBACK, 0, 0},
    {"GET", "/api/v1/scenes/group-rental/precision",
     route_group_rental_precision, TOK, AUTH_READ_AGGREGATE, 0, 0},
    {"GET", "/api/v1/scenes/elderly-alone/alerts", route_elderly_alerts, TOK,
     AUTH_READ_HOUSEHOLD, 0, 0},
};
const size_t http_n_routes = sizeof(http_routes) / sizeof(http_routes[0]);

void route_healthz(struct request *req)
{
    sbuf_addstr(&req->out, "{\"status\":\"ok\"}");
    reply_json(req, 200);
}

void route_metrics(struct request *req)
{
    struct store_stats stats;
    store_get_stats(req->srv->store, &stats);
    metrics_render(&req->out, &stats);
    req->status = 200;
    req->content_type = "text/plain; version=0.0.4";
}
