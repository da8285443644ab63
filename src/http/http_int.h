/*
 * http_int.h - what the HTTP server's files share: the request, the route
 * table and the reply helpers.  Not for use outside src/http/.
 */
#ifndef CB_HTTP_INT_H
#define CB_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>

#include "auth/auth.h"
#include "config/config.h"
#include "http/http.h"
#include "http/query.h"
#include "live/live.h"
#include "session/session.h"
#include "store/store.h"

struct request;
typedef void (*route_fn)(struct request *req);

enum route_auth {
    ROUTE_PUBLIC,  /* no token needed */
    ROUTE_TOKEN,   /* a valid token with the route's action */
    ROUTE_API_KEY, /* Open311: as ROUTE_TOKEN, but the token may also come
                    * as `api_key`, in the query or the body; with none in
                    * the query or the headers the handler checks it after
                    * the body (req_api_key) */
};

struct route {
    const char *method;
    const char *pattern; /* "/api/v1/households/{}": {} captures 1 segment */
    route_fn handler;
    enum route_auth auth;
    /* per enum role: AUTH_NO, AUTH_YES or AUTH_OWN (auth.h); checked
     * before the body is read */
    unsigned char access[ROLE_COUNT];
    int feed;   /* the enum feed an ingest route writes, or -1 */
    int influx; /* ROUTE_ERR_INFLUX (1): errors in InfluxDB's JSON shape;
                 * ROUTE_ERR_OPEN311 (2): in Open311's */
};

#define ROUTE_ERR_INFLUX 1
#define ROUTE_ERR_OPEN311 2 /* [{"code":STATUS,"description":MESSAGE}] */

struct conn_watch;

struct http_server {
    struct MHD_Daemon *daemon;
    _Atomic int in_flight; /* requests begun and not yet completed */
    _Atomic int draining;  /* http_stop has begun: refuse new requests */
    const struct config *cfg;
    struct store *store;
    struct scene_engine *scenes;
    struct indic_engine *indic;     /* may be NULL: its routes answer 503 */
    struct live *live;              /* borrowed: live events (live.h) */
    struct session_table *sessions; /* browser sessions (session.h) */
    /* the header-deadline sweeper (server.c) */
    pthread_t sweeper;
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_wake;
    struct conn_watch *watched; /* open connections (watch_lock) */
    int stopping;               /* watch_lock */
};

struct request {
    int started;           /* the access handler has seen it */
    struct query query;    /* the URL's arguments (query.h) */
    char query_error[200]; /* why they could not be decoded, or "" */
    int query_status;      /* 400 or 414 when query_error is set */
    struct http_server *srv;
    struct MHD_Connection *conn;
    const struct route *route;
    const char *url;
    char param[256];       /* the {} segment, percent-decoded */
    struct token_info who; /* valid when route->auth != ROUTE_PUBLIC */
    struct sbuf body;      /* request body so far (bounded) */
    int too_big;           /* body passed max_body_bytes */
    int key_deferred;      /* ROUTE_API_KEY: no token yet (req_api_key) */
    int responded;         /* a response is queued */
    int64_t start_ns;
    /* the response */
    int status;
    struct sbuf out;
    const char *content_type;
    int retry_after;             /* seconds, 0 = none */
    int cookie_auth;             /* who came from a session cookie */
    char set_cookie[160];        /* a Set-Cookie header to send, or "" */
    struct MHD_Response *stream; /* a streamed response (SSE), or NULL */
};

/* The route table (routes.c). */
extern const struct route http_routes[];
extern const size_t http_n_routes;

/* Reply helpers: set the status and body that will be sent. */
void reply_json(struct request *req, int status); /* body already in out */
/* The caller's "name", "role" and (committee members) "committee", as keys
 * of the object w is writing (util/jsonw.h). */
struct jsonw;
void whoami_fields(const struct request *req, struct jsonw *w);
/* Appends {"status":status} to out (reply_json sends it). */
void reply_status_object(struct request *req, const char *status);
void reply_error(struct request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A query argument, or NULL. */
const char *req_arg(struct request *req, const char *key);
const char *req_header(struct request *req, const char *key);
/* Reads an integer argument in [min, max] (def when absent) into *OUT_v;
 * on a bad value replies 400 naming the argument and returns -1. */
int req_int_arg(struct request *req, const char *key, int64_t min, int64_t max,
                int64_t def, int64_t *OUT_v);
/* For a ROUTE_API_KEY route whose token was not in the query or the
 * headers: authenticates api_key (from the body; NULL: none) and checks
 * the route's cell for its role.  Returns 0 (also when the token was
 * checked before the body), or replies 401/403 and returns -1. */
int req_api_key(struct request *req, const char *api_key);
/* Parses the body as a JSON object (a json_t *, declared void * so that
 * this header needs no Jansson); on error replies 400 with the line and
 * column and returns NULL.  The caller frees the result with json_decref. */
void *req_body_object(struct request *req);

/* Resolves the {} segment to a household the caller may read (a committee
 * token: its own committee only), audits the read as `action`, and returns
 * the dense id; otherwise replies 403/404/503 and returns -1.  A committee
 * token gets 403 for an unknown id too (no existence oracle), and every
 * such refusal is audited as "<action>.denied". */
int32_t household_for_read(struct request *req, const char *action);
/* Writes an audit record for a read by the caller (token name and id),
 * with the reason from X-Audit-Reason or ?reason=; replies 503 and
 * returns -1 if it cannot be written (the read must then not happen). */
int audit_read(struct request *req, const char *action, const char *object);
/* Audits a refused read as "<action>.denied"; a failure is only logged. */
void audit_denied(struct request *req, const char *action, const char *object);
/* Audits the response built in req->out as one record that lists every
 * household id in it: "<scope> households=H1,H2,..".  Call it after the
 * body is built and before replying; like audit_read it replies 503 and
 * returns -1 when the record cannot be written. */
int audit_response(struct request *req, const char *action, const char *scope);

/* The {} segment as a case the caller may see (routes_case.c); otherwise
 * replies (404, or 403 for a committee or department token, unknown or not
 * its own) and returns -1. */
int case_for_caller(struct request *req, struct case_row *OUT);

/* Handlers. */
void route_healthz(struct request *req);
void route_metrics(struct request *req);
void route_write_households(struct request *req);
void route_write_lineproto(struct request *req);
void route_write_influx_v2(struct request *req);
void route_write_deliveries(struct request *req);
void route_write_events(struct request *req);
void route_household_get(struct request *req);
void route_household_readings(struct request *req);
void route_household_usage(struct request *req);
void route_ingest_stats(struct request *req);
void route_events_list(struct request *req);
void route_tokens_create(struct request *req);
void route_tokens_list(struct request *req);
void route_tokens_revoke(struct request *req);
void route_departments_create(struct request *req);
void route_departments_list(struct request *req);
void route_audit_list(struct request *req);
void route_whoami(struct request *req);
void route_group_rental_suspects(struct request *req);
void route_group_rental_summary(struct request *req);
void route_group_rental_evidence(struct request *req);
void route_group_rental_feedback(struct request *req);
void route_group_rental_precision(struct request *req);
void route_elderly_alerts(struct request *req);
void route_clock_get(struct request *req);
void route_case_create(struct request *req);
void route_case_list(struct request *req);
void route_case_get(struct request *req);
void route_case_transition(struct request *req);
void route_case_visit(struct request *req);
void route_tasks(struct request *req);
void route_evaluation(struct request *req);
void route_clock_set(struct request *req);
void route_indicators_list(struct request *req);
void route_indicators_create(struct request *req);
void route_indicator_series(struct request *req);
void route_alert_rules_list(struct request *req);
void route_alert_rules_create(struct request *req);
void route_silences_list(struct request *req);
void route_silences_create(struct request *req);
void route_alerts_list(struct request *req);
void route_alert_get(struct request *req);
void route_alert_action(struct request *req);
void route_dead_letters(struct request *req);
void route_stream(struct request *req);
void route_session_create(struct request *req);
void route_session_delete(struct request *req);
void route_login(struct request *req);
void route_login_links_create(struct request *req);
void route_web_index(struct request *req);
void route_web_asset(struct request *req);
void route_boundaries_put(struct request *req);
void route_boundaries_get(struct request *req);
void route_map_clusters(struct request *req);
void route_case_photo_upload(struct request *req);
void route_case_photos(struct request *req);
void route_photo_get(struct request *req);
void route_open311_services(struct request *req);
void route_open311_service(struct request *req);
void route_open311_create(struct request *req);
void route_open311_request(struct request *req);
void route_open311_requests(struct request *req);

/* Decompresses a gzip body in place, bounded by limit: 0, CB_ETOOBIG or
 * CB_EINVAL. */
int http_gunzip(struct sbuf *body, size_t limit);

#endif
