/* server.c - libmicrohttpd glue: connections, bodies, routing, replies. */
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <unistd.h>
#include <jansson.h>
#include <zlib.h>

#include "metrics/metrics.h"
#include "util/jsonw.h"

/* ---- reply helpers ---- */

void reply_json(struct request *req, int status)
{
    req->status = status;
    req->content_type = "application/json";
}

/* The short name of an error status, in the "error" field. */
static const char *status_name(int status)
{
    switch (status) {
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not found";
    case 405:
        return "method not allowed";
    case 409:
        return "conflict";
    case 413:
        return "too large";
    case 414:
        return "uri too long";
    case 415:
        return "unsupported media type";
    case 429:
        return "too many requests";
    case 507:
        return "insufficient storage";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal error" : "bad request";
    }
}

void reply_error(struct request *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sbuf_reset(&req->out);
    struct jsonw w;
    jsonw_init(&w, &req->out);
    if (req->route && req->route->influx == ROUTE_ERR_OPEN311) {
        jsonw_array_begin(&w);
        jsonw_object_begin(&w);
        jsonw_kv_int(&w, "code", status);
        jsonw_kv_str(&w, "description", msg);
        jsonw_object_end(&w);
        jsonw_array_end(&w);
        reply_json(req, status);
        return;
    }
    jsonw_object_begin(&w);
    if (req->route && req->route->influx) {
        const char *code = status == 401   ? "unauthorized"
                           : status == 403 ? "forbidden"
                           : status == 404 ? "not found"
                           : status == 413 ? "request too large"
                           : status >= 500 ? "unavailable"
                                           : "invalid";
        jsonw_kv_str(&w, "code", code);
    } else {
        jsonw_kv_str(&w, "error", status_name(status));
    }
    jsonw_kv_str(&w, "message", msg); /* invalid UTF-8 becomes U+FFFD */
    jsonw_object_end(&w);
    reply_json(req, status);
}

const char *req_arg(struct request *req, const char *key)
{
    return query_get(&req->query, key);
}

void *req_body_object(struct request *req)
{
    json_error_t err;
    json_t *obj = json_loadb(req->body.buf, req->body.len, 0, &err);
    if (!obj) {
        reply_error(req, 400, "line %d, column %d: %s", err.line, err.column,
                    err.text);
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        reply_error(req, 400, "the body must be a JSON object");
        return NULL;
    }
    return obj;
}

int req_int_arg(struct request *req, const char *key, int64_t min, int64_t max,
                int64_t def, int64_t *OUT_v)
{
    char err[200];
    if (query_get_int(&req->query, key, min, max, def, OUT_v, err,
                      sizeof(err)) == 0)
        return 0;
    reply_error(req, 400, "%s", err);
    return -1;
}

const char *req_header(struct request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

/* ---- routing ---- */

/* Matches path against pattern; the {} segment goes to param (decoded).
 * MHD has already percent-decoded the path it hands us, except '%2F'. */
static int route_match(const char *pattern, const char *path, char *param,
                       size_t cap)
{
    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= cap)
                return 0;
            memcpy(param, path, n);
            param[n] = '\0';
            path += n;
            pattern += 2;
            continue;
        }
        if (*pattern++ != *path++)
            return 0;
    }
    return !*pattern && !*path;
}

static const struct route *route_find(const char *method, const char *path,
                                      char *param, size_t cap,
                                      int *OUT_path_known)
{
    *OUT_path_known = 0;
    for (size_t i = 0; i < http_n_routes; i++) {
        if (!route_match(http_routes[i].pattern, path, param, cap))
            continue;
        *OUT_path_known = 1;
        if (!strcmp(http_routes[i].method, method))
            return &http_routes[i];
    }
    return NULL;
}

/* ---- responses ---- */

static enum MHD_Result queue_reply(struct request *req)
{
    struct MHD_Response *resp = req->stream;
    req->stream = NULL;
    if (!resp)
        resp = MHD_create_response_from_buffer(req->out.len, req->out.buf,
                                               MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (req->set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", req->set_cookie);
    if (req->content_type && req->status != 204)
        MHD_add_response_header(resp, "Content-Type", req->content_type);
    if (req->retry_after) {
        char v[16];
        snprintf(v, sizeof(v), "%d", req->retry_after);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    if (req->too_big || req->status == 401 || req->status == 403 ||
        atomic_load(&req->srv->draining))
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result r =
        MHD_queue_response(req->conn, (unsigned)req->status, resp);
    MHD_destroy_response(resp);
    req->responded = 1;
    return r;
}

static void watch_request(struct http_server *srv, struct MHD_Connection *conn,
                          int started);

/* Whether a cookie-authenticated request may run: reads always; writes
 * only with a header a cross-site form cannot set. */
static int cookie_write_allowed(struct request *req, const char *method)
{
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return 1;
    const char *ct = req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    return req_header(req, "X-Requested-With") ||
           (ct && !strncasecmp(ct, "application/json", 16));
}

/* Resolves the caller from the Authorization header or, without one,
 * the session cookie; replies 401/403 and returns -1 when neither
 * holds. */
static int request_authenticate(struct request *req, const char *method)
{
    const char *authz = req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    char id[SESSION_ID_LEN + 1], hash[AUTH_HASH_LEN + 1];
    if (authz) {
        if (!auth_authenticate(req->srv->store, authz, &req->who))
            return 0;
    } else if (!session_cookie_value(req_header(req, "Cookie"), id) &&
               !session_lookup(req->srv->sessions, id, hash) &&
               !store_token_find(req->srv->store, hash, &req->who)) {
        req->cookie_auth = 1;
        if (cookie_write_allowed(req, method))
            return 0;
        reply_error(req, 403,
                    "a write with the session cookie needs the "
                    "X-Requested-With header or a JSON Content-Type");
        return -1;
    }
    reply_error(req, 401, "a valid token is required");
    return -1;
}

/* The largest body the request's route takes: a photo upload has its own
 * limit, and an Open311 request (read before its api_key is known) a
 * small one. */
static size_t body_limit(const struct request *req)
{
    if (req->route && req->route->handler == route_case_photo_upload)
        return req->srv->cfg->photo_max_bytes;
    if (req->route && req->route->handler == route_open311_create)
        return 65536;
    return req->srv->cfg->max_body_bytes;
}

/* Authenticates token (an api_key's value) as if it came in the header:
 * 0, or replies 401 and returns -1. */
static int authenticate_key(struct request *req, const char *token)
{
    char authz[AUTH_TOKEN_LEN + 16];
    if (token && strlen(token) <= AUTH_TOKEN_LEN) {
        snprintf(authz, sizeof(authz), "Bearer %s", token);
        if (!auth_authenticate(req->srv->store, authz, &req->who))
            return 0;
    }
    reply_error(req, 401, "a valid api_key is required");
    return -1;
}

/* Authenticates the caller for the route and checks its cell: 0, or
 * replies 401/403 and returns -1.  An Open311 route without a token in
 * the headers or the query waits for the body (key_deferred). */
static int request_authorize(struct request *req, const char *method)
{
    int rc;
    if (req->route->auth == ROUTE_API_KEY &&
        !req_header(req, MHD_HTTP_HEADER_AUTHORIZATION)) {
        const char *key = req_arg(req, "api_key");
        if (!key) {
            /* nobody until req_api_key: no role passes a route's cells */
            req->who.role = (enum role)ROLE_COUNT;
            req->key_deferred = 1;
            return 0;
        }
        rc = authenticate_key(req, key);
    } else {
        rc = request_authenticate(req, method);
    }
    if (rc)
        return rc;
    if (auth_check_route(&req->who, req->route->access, req->route->feed)) {
        reply_error(req, 403, "role '%s' may not use %s %s",
                    role_name(req->who.role), method, req->route->pattern);
        return -1;
    }
    return 0;
}

int req_api_key(struct request *req, const char *api_key)
{
    if (!req->key_deferred)
        return 0;
    if (authenticate_key(req, api_key))
        return -1;
    req->key_deferred = 0;
    if (auth_check_route(&req->who, req->route->access, req->route->feed)) {
        reply_error(req, 403, "role '%s' may not use %s",
                    role_name(req->who.role), req->route->pattern);
        return -1;
    }
    return 0;
}

/* Checks what can be refused before the body: route, token, size. */
static void request_precheck(struct request *req, const char *method)
{
    int known;
    if (atomic_load(&req->srv->draining)) {
        req->retry_after = 1;
        reply_error(req, 503, "the server is shutting down; retry later");
        return;
    }
    const char *path = req->url;
    req->route =
        route_find(method, path, req->param, sizeof(req->param), &known);
    if (!req->route) {
        reply_error(req, known ? 405 : 404, "no route for %s %s", method, path);
        return;
    }
    if (req->route->auth == ROUTE_PUBLIC)
        return;
    if (request_authorize(req, method))
        return;
    const char *cl = req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > body_limit(req)) {
        req->too_big = 1;
        reply_error(req, 413, "body of %s bytes is over the limit of %zu", cl,
                    body_limit(req));
    }
}

static void request_body(struct request *req, const char *data, size_t n)
{
    if (req->too_big)
        return;
    if (req->body.len + n > body_limit(req)) {
        req->too_big = 1;
        sbuf_release(&req->body);
        reply_error(req, 413, "body is over the limit of %zu bytes",
                    body_limit(req));
        return;
    }
    sbuf_add(&req->body, data, n);
}

static void request_run(struct request *req)
{
    const char *enc = req_header(req, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (enc && !strcasecmp(enc, "gzip")) {
        int rc = http_gunzip(&req->body, body_limit(req));
        if (rc == CB_ETOOBIG) {
            req->too_big = 1;
            reply_error(req, 413, "decompressed body is over %zu bytes",
                        body_limit(req));
            return;
        }
        if (rc) {
            reply_error(req, 400, "body is not valid gzip");
            return;
        }
    } else if (enc && strcasecmp(enc, "identity")) {
        reply_error(req, 415, "unsupported Content-Encoding '%s'", enc);
        return;
    }
    req->route->handler(req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct request *req = *con_cls; /* made by on_uri */
    if (!req->started) {
        req->started = 1;
        watch_request(cls, conn, 1);
        req->srv = cls;
        req->conn = conn;
        req->url = url;
        sbuf_init(&req->body);
        sbuf_init(&req->out);
        if (req->query_error[0])
            reply_error(req, req->query_status, "%s", req->query_error);
        else
            request_precheck(req, method);
        return req->status ? queue_reply(req) : MHD_YES;
    }
    if (req->responded) {
        *upload_data_size = 0; /* refused early: drop what still arrives */
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* Past the limit the rest is read and dropped: MHD can answer
         * only before the body starts or after it ends.  Memory stays
         * bounded either way. */
        request_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->status) /* refused while the body streamed in */
        return queue_reply(req);
    request_run(req);
    if (!req->status)
        reply_error(req, 500, "handler gave no answer");
    return queue_reply(req);
}

/* Called with the raw request URI before anything else: the request
 * starts here, so that its arguments are decoded by our own parser
 * (query.h, fuzzed) from the bytes the client sent.  What it returns
 * becomes the connection's *con_cls; on_completed frees it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *srv = cls;
    struct request *req = xcalloc(1, sizeof(*req));
    atomic_fetch_add(&srv->in_flight, 1);
    req->start_ns = time_monotonic_ns();
    const char *q = uri ? strchr(uri, '?') : NULL;
    size_t path_len = uri ? (q ? (size_t)(q - uri) : strlen(uri)) : 0;
    const char *nul = path_len ? memmem(uri, path_len, "%00", 3) : NULL;
    if (nul) {
        /* MHD would decode it and cut the path there: refuse instead */
        req->query_status = 400;
        snprintf(req->query_error, sizeof(req->query_error),
                 "the path holds a NUL byte (%%00) at column %d",
                 (int)(nul - uri) + 1);
        return req;
    }
    if (q) {
        q++;
        int rc = query_parse(&req->query, q, strlen(q), req->query_error,
                             sizeof(req->query_error));
        if (rc)
            req->query_status = rc == CB_ETOOBIG ? 414 : 400;
        if (rc && !req->query_error[0])
            snprintf(req->query_error, sizeof(req->query_error),
                     "the query string cannot be decoded");
    }
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct request *req = *con_cls;
    watch_request(cls, conn, 0);
    if (!req)
        return;
    atomic_fetch_sub(&srv->in_flight, 1);
    metrics_request(req->route ? req->route->pattern : "unrouted", req->status,
                    time_monotonic_ns() - req->start_ns);
    if (req->stream) /* made but never queued */
        MHD_destroy_response(req->stream);
    if (req->started) {
        sbuf_release(&req->body);
        sbuf_release(&req->out);
    }
    free(req);
    *con_cls = NULL;
}

/* ---- the header deadline ----
 *
 * libmicrohttpd closes a connection only after connection_timeout_s of
 * silence, so a client that drips a byte now and then holds it for ever.
 * Each connection is therefore listed with the time it began waiting for a
 * request header (its start, or the end of its previous request); a
 * sweeper thread shuts down, twice a second, every one that has waited
 * longer than header_timeout_s without a complete header.  shutdown()
 * wakes MHD's poll, which then closes and frees the connection itself.
 * The list's lock is also held by on_connection's CLOSED notice, which MHD
 * sends before it closes the socket, so the sweeper never touches a
 * descriptor that was closed (and perhaps reused).
 */
struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    int in_request;     /* the header arrived; the request runs */
    int shut;           /* the sweeper already shut it down */
    int64_t waiting_ns; /* monotonic: when it began waiting for a header */
};

static struct conn_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Marks the connection's request as started (1) or done (0). */
static void watch_request(struct http_server *srv, struct MHD_Connection *conn,
                          int started)
{
    struct conn_watch *w = watch_of(conn);
    if (!w)
        return;
    pthread_mutex_lock(&srv->watch_lock);
    w->in_request = started;
    if (!started)
        w->waiting_ns = time_monotonic_ns();
    pthread_mutex_unlock(&srv->watch_lock);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;
    int started = toe == MHD_CONNECTION_NOTIFY_STARTED;
    metrics_connections(started ? 1 : -1);
    pthread_mutex_lock(&srv->watch_lock);
    if (started) {
        struct conn_watch *w = xcalloc(1, sizeof(*w));
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        w->fd = ci ? ci->connect_fd : -1;
        w->waiting_ns = time_monotonic_ns();
        w->next = srv->watched;
        if (w->next)
            w->next->prev = w;
        srv->watched = w;
        *socket_context = w;
    } else if (*socket_context) {
        struct conn_watch *w = *socket_context;
        if (w->prev)
            w->prev->next = w->next;
        else
            srv->watched = w->next;
        if (w->next)
            w->next->prev = w->prev;
        free(w);
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&srv->watch_lock);
}

static void sweep_once(struct http_server *srv)
{
    int64_t limit = (int64_t)srv->cfg->header_timeout_s * 1000000000LL;
    int64_t now = time_monotonic_ns();
    pthread_mutex_lock(&srv->watch_lock);
    for (struct conn_watch *w = srv->watched; w; w = w->next) {
        if (w->in_request || w->shut || w->fd < 0 ||
            now - w->waiting_ns <= limit)
            continue;
        shutdown(w->fd, SHUT_RDWR);
        w->shut = 1;
        metrics_header_timeout();
    }
    pthread_mutex_unlock(&srv->watch_lock);
}

static void *sweeper_main(void *arg)
{
    struct http_server *srv = arg;
    pthread_mutex_lock(&srv->watch_lock);
    while (!srv->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 500000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->watch_wake, &srv->watch_lock, &until);
        if (srv->stopping)
            break;
        pthread_mutex_unlock(&srv->watch_lock);
        sweep_once(srv);
        pthread_mutex_lock(&srv->watch_lock);
    }
    pthread_mutex_unlock(&srv->watch_lock);
    return NULL;
}

static int sweeper_start(struct http_server *srv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->watch_wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&srv->watch_lock, NULL);
    return pthread_create(&srv->sweeper, NULL, sweeper_main, srv) ? CB_EIO : 0;
}

static void sweeper_stop(struct http_server *srv)
{
    pthread_mutex_lock(&srv->watch_lock);
    srv->stopping = 1;
    pthread_cond_signal(&srv->watch_wake);
    pthread_mutex_unlock(&srv->watch_lock);
    pthread_join(srv->sweeper, NULL);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_msg(LOG_DEBUG, "http", "%s", msg);
}

/* ---- gzip ---- */

int http_gunzip(struct sbuf *body, size_t limit)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return CB_EINVAL;
    z.next_in = (unsigned char *)body->buf;
    z.avail_in = (unsigned)body->len;
    int rc = 0, zr = Z_OK;
    while (zr != Z_STREAM_END) {
        if (out.len >= limit) {
            rc = CB_ETOOBIG;
            break;
        }
        sbuf_grow(&out, 65536);
        z.next_out = (unsigned char *)out.buf + out.len;
        z.avail_out = (unsigned)(out.cap - out.len - 1);
        zr = inflate(&z, Z_NO_FLUSH);
        out.len = (size_t)((char *)z.next_out - out.buf);
        out.buf[out.len] = '\0';
        if (zr != Z_OK && zr != Z_STREAM_END) {
            rc = CB_EINVAL;
            break;
        }
    }
    inflateEnd(&z);
    if (!rc && out.len > limit)
        rc = CB_ETOOBIG;
    if (rc) {
        sbuf_release(&out);
        return rc;
    }
    sbuf_release(body);
    *body = out;
    return 0;
}

/* ---- start and stop ---- */

static int parse_listen(const char *listen, struct sockaddr_in *OUT_addr)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return CB_EINVAL;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return CB_EINVAL;
    memset(OUT_addr, 0, sizeof(*OUT_addr));
    OUT_addr->sin_family = AF_INET;
    OUT_addr->sin_port = htons((uint16_t)port);
    if (!*host || !strcmp(host, "0.0.0.0"))
        OUT_addr->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (!strcmp(host, "localhost"))
        OUT_addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &OUT_addr->sin_addr) != 1)
        return CB_EINVAL;
    return 0;
}

int http_start(const struct config *cfg, struct store *st,
               struct scene_engine *scenes, struct indic_engine *indic,
               struct live *live, struct http_server **OUT_srv, int *OUT_port)
{
    struct sockaddr_in addr;
    *OUT_srv = NULL;
    if (parse_listen(cfg->listen, &addr)) {
        log_msg(LOG_ERROR, "http", "bad listen address | listen=\"%s\"",
                cfg->listen);
        return CB_EINVAL;
    }
    struct http_server *srv = xcalloc(1, sizeof(*srv));
    srv->cfg = cfg;
    srv->store = st;
    srv->scenes = scenes;
    srv->indic = indic;
    srv->live = live;
    srv->sessions =
        session_table_new((size_t)cfg->max_sessions, cfg->session_ttl_s);
    if (sweeper_start(srv)) {
        log_msg(LOG_ERROR, "http", "cannot start the header sweeper");
        session_table_free(srv->sessions);
        free(srv);
        return CB_EIO;
    }
    srv->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME, /* implies MHD_USE_ITC */
        0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)65536, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024U,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        log_msg(LOG_ERROR, "http", "cannot listen | listen=\"%s\"",
                cfg->listen);
        sweeper_stop(srv);
        session_table_free(srv->sessions);
        free(srv);
        return CB_EIO;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *OUT_port = info ? info->port : ntohs(addr.sin_port);
    *OUT_srv = srv;
    return 0;
}

void http_stop(struct http_server *srv)
{
    if (!srv)
        return;
    /* MHD may not stop with suspended connections: end the streams (each
     * parked one is resumed to send its `bye`) first, and give them the
     * moment it takes to send it. */
    if (srv->live) {
        live_shutdown(srv->live);
        /* let the streams send it (a second at most) */
        struct live_stats ls;
        for (int i = 0; i < 100; i++) {
            live_get_stats(srv->live, &ls);
            if (!ls.readers)
                break;
            struct timespec pause = {0, 10 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    /* Stop accepting, then let the requests in flight finish (their
     * answers sent) for up to shutdown_drain_s; new requests on open
     * connections get 503 and Connection: close meanwhile. */
    atomic_store(&srv->draining, 1);
    MHD_socket listen_fd = MHD_quiesce_daemon(srv->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    int64_t deadline =
        time_monotonic_ns() + (int64_t)srv->cfg->drain_s * 1000000000;
    while (atomic_load(&srv->in_flight) > 0 && time_monotonic_ns() < deadline)
        usleep(10000);
    int cut = atomic_load(&srv->in_flight);
    if (cut > 0)
        log_msg(LOG_WARN, "http",
                "shutdown drain time over; closing requests in flight | "
                "requests=%d drain_s=%d",
                cut, srv->cfg->drain_s);
    sweeper_stop(srv);
    MHD_stop_daemon(srv->daemon);
    session_table_free(srv->sessions);
    free(srv);
}
