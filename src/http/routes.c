/* routes.c - the route table, and the routes that need no store access. */
#include "http/http_int.h"

#include "metrics/metrics.h"

/*
 * Who may use what: one row per route, one cell per role (enum role order:
 * admin, publisher, operator, analyst, committee, supervisor, call_taker,
 * shift_lead, dispatcher, department, citizen_app).  The router reads
 * nothing else to decide 403 (auth_check_route); docs/API.md's role table
 * shows the same and tests/integration/roles.test.mjs walks it.
 */
#define PUB ROUTE_PUBLIC
#define TOK ROUTE_TOKEN
#define KEY ROUTE_API_KEY
#define OPEN311 ROUTE_ERR_OPEN311
#define N AUTH_NO
#define Y AUTH_YES
#define OWN AUTH_OWN
#define NONE (-1)
#define REG FEED_REGISTRY
#define RDG FEED_READINGS
#define DLV FEED_DELIVERIES
#define EVT FEED_EVENTS
/* A route is two lines, the roles' cells aligned. */
/* clang-format off */
const struct route http_routes[] = {
    /* {method, pattern,
     *  handler,                     auth, {admin, publisher, operator,
     *                                 analyst, committee, supervisor,
     *                                 call_taker, shift_lead, dispatcher,
     *                                 department, citizen_app}, feed,
     *                                 errors} */
    {"GET", "/healthz",
     route_healthz,                PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"HEAD", "/healthz",
     route_healthz,                PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"GET", "/metrics",
     route_metrics,                PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"POST", "/api/v1/registry/households",
     route_write_households,       TOK, {Y, OWN, N, N, N  , N, N, N, N, N, N}, REG, 0},
    {"POST", "/api/v1/write",
     route_write_lineproto,        TOK, {Y, OWN, N, N, N  , N, N, N, N, N, N}, RDG, 0},
    {"POST", "/api/v2/write",
     route_write_influx_v2,        TOK, {Y, OWN, N, N, N  , N, N, N, N, N, N}, RDG, 1},
    {"POST", "/api/v1/deliveries",
     route_write_deliveries,       TOK, {Y, OWN, N, N, N  , N, N, N, N, N, N}, DLV, 0},
    {"POST", "/api/v1/events",
     route_write_events,           TOK, {Y, OWN, N, N, N  , N, N, N, N, N, N}, EVT, 0},
    {"GET", "/api/v1/households/{}",
     route_household_get,          TOK, {Y, N  , Y, Y, OWN, N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/households/{}/readings",
     route_household_readings,     TOK, {Y, N  , Y, Y, OWN, N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/households/{}/usage",
     route_household_usage,        TOK, {Y, N  , Y, Y, OWN, N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/stats/ingest",
     route_ingest_stats,           TOK, {Y, N  , Y, Y, Y  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/events",
     route_events_list,            TOK, {Y, N  , Y, Y, Y  , N, N, N, N, N, N}, NONE, 0},
    {"POST", "/api/v1/tokens",
     route_tokens_create,          TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/tokens",
     route_tokens_list,            TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"DELETE", "/api/v1/tokens/{}",
     route_tokens_revoke,          TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"POST", "/api/v1/departments",
     route_departments_create,     TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/departments",
     route_departments_list,       TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/admin/clock",
     route_clock_get,              TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"POST", "/api/v1/admin/clock",
     route_clock_set,              TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/audit",
     route_audit_list,             TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/whoami",
     route_whoami,                 TOK, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"GET", "/api/v1/scenes/group-rental/suspects",
     route_group_rental_suspects,  TOK, {Y, N  , Y, Y, OWN, N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/scenes/group-rental/summary",
     route_group_rental_summary,   TOK, {Y, N  , Y, Y, OWN, N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/scenes/group-rental/households/{}/evidence",
     route_group_rental_evidence,  TOK, {Y, N  , Y, Y, OWN, N, N, N, N, N, N}, NONE, 0},
    {"POST", "/api/v1/scenes/group-rental/feedback",
     route_group_rental_feedback,  TOK, {Y, N  , Y, N, OWN, N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/scenes/group-rental/precision",
     route_group_rental_precision, TOK, {Y, N  , Y, Y, Y  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/scenes/elderly-alone/alerts",
     route_elderly_alerts,         TOK, {Y, N  , Y, Y, OWN, N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/indicators",
     route_indicators_list,        TOK, {Y, N  , Y, Y, N  , Y, Y, Y, Y, N, N}, NONE, 0},
    {"POST", "/api/v1/indicators",
     route_indicators_create,      TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/indicators/{}/series",
     route_indicator_series,       TOK, {Y, N  , Y, Y, N  , Y, Y, Y, Y, N, N}, NONE, 0},
    {"GET", "/api/v1/alert-rules",
     route_alert_rules_list,       TOK, {Y, N  , Y, Y, N  , Y, Y, Y, Y, N, N}, NONE, 0},
    {"POST", "/api/v1/alert-rules",
     route_alert_rules_create,     TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/silences",
     route_silences_list,          TOK, {Y, N  , Y, Y, N  , Y, Y, Y, Y, N, N}, NONE, 0},
    {"POST", "/api/v1/silences",
     route_silences_create,        TOK, {Y, N  , Y, N, N  , N, N, Y, N, N, N}, NONE, 0},
    {"GET", "/api/v1/alerts",
     route_alerts_list,            TOK, {Y, N  , Y, Y, N  , Y, Y, Y, Y, N, N}, NONE, 0},
    {"GET", "/api/v1/alerts/{}",
     route_alert_get,              TOK, {Y, N  , Y, Y, N  , Y, Y, Y, Y, N, N}, NONE, 0},
    {"POST", "/api/v1/alerts/{}/actions",
     route_alert_action,           TOK, {Y, N  , Y, N, N  , N, N, Y, Y, N, N}, NONE, 0},
    {"GET", "/api/v1/notifications/dead-letters",
     route_dead_letters,           TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/stream",
     route_stream,                 TOK, {Y, Y  , Y, Y, OWN, Y, Y, Y, Y, N, N}, NONE, 0},
    {"POST", "/api/v1/session",
     route_session_create,         PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"DELETE", "/api/v1/session",
     route_session_delete,         TOK, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"POST", "/api/v1/login-links",
     route_login_links_create,     TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/login",
     route_login,                  PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"GET", "/",
     route_web_index,              PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"GET", "/assets/{}",
     route_web_asset,              PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, 0},
    {"PUT", "/api/v1/map/boundaries",
     route_boundaries_put,         TOK, {Y, N  , N, N, N  , N, N, N, N, N, N}, NONE, 0},
    {"GET", "/api/v1/map/boundaries",
     route_boundaries_get,         TOK, {Y, N  , Y, Y, Y  , Y, Y, Y, Y, N, N}, NONE, 0},
    {"GET", "/api/v1/map/clusters",
     route_map_clusters,           TOK, {Y, N  , Y, Y, OWN, Y, Y, Y, Y, N, N}, NONE, 0},
    {"POST", "/api/v1/cases",
     route_case_create,            TOK, {Y, N  , Y, N, N  , Y, Y, Y, N, N, N}, NONE, 0},
    {"GET", "/api/v1/cases",
     route_case_list,              TOK, {Y, N  , Y, Y, OWN, Y, Y, Y, Y, OWN, N}, NONE, 0},
    {"GET", "/api/v1/cases/{}",
     route_case_get,               TOK, {Y, N  , Y, Y, OWN, Y, Y, Y, Y, OWN, N}, NONE, 0},
    {"POST", "/api/v1/cases/{}/transitions",
     route_case_transition,        TOK, {Y, N  , N, N, OWN, Y, Y, Y, Y, OWN, N}, NONE, 0},
    {"POST", "/api/v1/cases/{}/visits",
     route_case_visit,             TOK, {Y, N  , N, N, OWN, N, N, Y, N, OWN, N}, NONE, 0},
    {"GET", "/api/v1/tasks",
     route_tasks,                  TOK, {Y, N  , N, N, OWN, N, N, Y, N, OWN, N}, NONE, 0},
    {"GET", "/api/v1/evaluation",
     route_evaluation,             TOK, {Y, N  , Y, Y, OWN, Y, Y, Y, Y, N, N}, NONE, 0},
    {"POST", "/api/v1/cases/{}/photos",
     route_case_photo_upload,      TOK, {Y, N  , N, N, OWN, Y, N, Y, N, OWN, N}, NONE, 0},
    {"GET", "/api/v1/cases/{}/photos",
     route_case_photos,            TOK, {Y, N  , Y, Y, OWN, Y, Y, Y, Y, OWN, N}, NONE, 0},
    {"GET", "/open311/v2/services.json",
     route_open311_services,       PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, OPEN311},
    {"GET", "/open311/v2/services/{}",
     route_open311_service,        PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, OPEN311},
    {"POST", "/open311/v2/requests.json",
     route_open311_create,         KEY, {Y, N  , N, N, N  , N, N, N, N, N, Y}, NONE, OPEN311},
    {"GET", "/open311/v2/requests/{}",
     route_open311_request,        PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, OPEN311},
    {"GET", "/open311/v2/requests.json",
     route_open311_requests,       PUB, {Y, Y  , Y, Y, Y  , Y, Y, Y, Y, Y, Y}, NONE, OPEN311},
    {"GET", "/api/v1/photos/{}",
     route_photo_get,              TOK, {Y, N  , Y, Y, OWN, Y, Y, Y, Y, OWN, N}, NONE, 0},
};
/* clang-format on */
#undef KEY
#undef OPEN311
#undef N
#undef Y
#undef OWN
#undef NONE
#undef REG
#undef RDG
#undef DLV
#undef EVT
const size_t http_n_routes = sizeof(http_routes) / sizeof(http_routes[0]);

void route_healthz(struct request *req)
{
    reply_status_object(req, "ok");
    reply_json(req, 200);
}

void route_metrics(struct request *req)
{
    struct store_stats stats;
    store_get_stats(req->srv->store, &stats);
    metrics_render(&req->out, &stats);
    if (req->srv->indic) {
        struct indic_stats is;
        indic_get_stats(req->srv->indic, &is);
        metrics_render_indicators(&req->out, &is);
    }
    if (req->srv->live) {
        struct live_stats ls;
        live_get_stats(req->srv->live, &ls);
        sbuf_addf(&req->out,
                  "# HELP citybrain_live_streams Live streams open now.\n"
                  "# TYPE citybrain_live_streams gauge\n"
                  "citybrain_live_streams %llu\n"
                  "# HELP citybrain_live_events_total Live events "
                  "published.\n"
                  "# TYPE citybrain_live_events_total counter\n"
                  "citybrain_live_events_total %llu\n"
                  "# HELP citybrain_live_streams_cut_total Live streams "
                  "ended for lagging.\n"
                  "# TYPE citybrain_live_streams_cut_total counter\n"
                  "citybrain_live_streams_cut_total %llu\n",
                  (unsigned long long)ls.readers,
                  (unsigned long long)ls.published, (unsigned long long)ls.cut);
    }
    req->status = 200;
    req->content_type = "text/plain; version=0.0.4";
}
