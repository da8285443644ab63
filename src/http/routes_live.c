/* routes_live.c - the live stream (SSE) and browser sessions. */
#include "http/http_int.h"

#include <errno.h>
#include <jansson.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "util/jsonw.h"

/* ---- GET /api/v1/stream ---- */

/* One stream: owned by its MHD response (freed by stream_free). */
struct stream {
    struct MHD_Connection *conn;
    struct live_reader *reader;
    int drain;         /* ?drain=1: end instead of waiting */
    int drained;       /* the reader had nothing more (drain mode) */
    struct sbuf hello; /* ?hello=1: the greeting, sent first */
    size_t hello_off;
};

static void stream_park(void *ctx)
{
    struct stream *s = ctx;
    if (s->drain)
        s->drained = 1;
    else
        MHD_suspend_connection(s->conn);
}

static void stream_wake(void *ctx)
{
    struct stream *s = ctx;
    if (!s->drain)
        MHD_resume_connection(s->conn);
}

/* Whether the client closed its end: a parked connection is not polled,
 * so peek at its socket (a FIN reads as 0 bytes). */
static int stream_gone(void *ctx)
{
    struct stream *s = ctx;
    if (s->drain)
        return 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return 0;
    char byte;
    ssize_t n = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 ||
           (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    if (s->hello_off < s->hello.len) {
        size_t n = s->hello.len - s->hello_off;
        if (n > max)
            n = max;
        memcpy(buf, s->hello.buf + s->hello_off, n);
        s->hello_off += n;
        return (ssize_t)n;
    }
    ssize_t n = live_reader_read(s->reader, buf, max);
    if (n == LIVE_END || (n == 0 && s->drained))
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    live_reader_close(s->reader);
    sbuf_release(&s->hello);
    free(s);
}

/* The greeting a screen asks for with ?hello=1, so that it is live at
 * once rather than at the next batch: an event `hello` (no id: resuming
 * is unchanged) with the newest event's id and, for the roles that may
 * read GET /api/v1/stats/ingest, its counts as they are now. */
static void stream_hello(struct request *req, struct sbuf *out)
{
    struct live_stats ls;
    live_get_stats(req->srv->live, &ls);
    enum role role = req->who.role;
    int stats = role == ROLE_ADMIN || role == ROLE_OPERATOR ||
                role == ROLE_ANALYST || role == ROLE_COMMITTEE;
    struct jsonw w;
    sbuf_addstr(out, "event: hello\ndata: ");
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_key(&w, "newest");
    jsonw_int(&w, ls.newest_seq);
    if (stats) {
        struct sbuf counts = SBUF_INIT;
        sbuf_init(&counts);
        render_stats(req->srv->store, &counts);
        if (counts.len) {
            jsonw_key(&w, "stats");
            jsonw_raw(&w, counts.buf, counts.len);
        }
        sbuf_release(&counts);
    }
    jsonw_object_end(&w);
    sbuf_addstr(out, "\n\n");
}

/* The id to resume after: Last-Event-ID or ?last_event_id=, else -1.
 * Replies 400 and returns -2 for a bad one. */
static int64_t last_event_id(struct request *req)
{
    const char *v = req_header(req, "Last-Event-ID");
    if (!v || !*v) {
        int64_t id;
        if (req_int_arg(req, "last_event_id", 0, INT64_MAX, -1, &id))
            return -2;
        return id;
    }
    int64_t id;
    if (parse_int64(v, strlen(v), &id) || id < 0) {
        reply_error(req, 400, "header 'Last-Event-ID': '%s' is not an id", v);
        return -2;
    }
    return id;
}

void route_stream(struct request *req)
{
    int64_t drain, hello;
    int64_t after = last_event_id(req);
    if (after == -2 || req_int_arg(req, "drain", 0, 1, 0, &drain) ||
        req_int_arg(req, "hello", 0, 1, 0, &hello))
        return;
    struct stream *s = xcalloc(1, sizeof(*s));
    s->conn = req->conn;
    s->drain = (int)drain;
    sbuf_init(&s->hello);
    struct live_viewer who = {req->who.role, req->who.committee,
                              req->who.department_id};
    struct live_waker waker = {stream_park, stream_wake, stream_gone, s};
    int rc = live_reader_open(req->srv->live, &who, after, &waker, &s->reader);
    if (rc) {
        sbuf_release(&s->hello);
        free(s);
        req->retry_after = 5;
        reply_error(req, 503, "%s",
                    rc == CB_EBUSY ? "too many live streams are open "
                                     "(live_max_streams); retry later"
                                   : "the server is stopping");
        return;
    }
    if (hello)
        stream_hello(req, &s->hello);
    req->stream = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
    if (!req->stream) {
        stream_free(s);
        reply_error(req, 500, "cannot start the stream");
        return;
    }
    MHD_add_response_header(req->stream, "Cache-Control", "no-store");
    MHD_add_response_header(req->stream, "X-Accel-Buffering", "no");
    /* a stream is quiet for up to a heartbeat between events */
    const struct config *cfg = req->srv->cfg;
    unsigned timeout = (unsigned)cfg->connection_timeout_s;
    if (timeout < 2u * (unsigned)cfg->live_heartbeat_s + 5u)
        timeout = 2u * (unsigned)cfg->live_heartbeat_s + 5u;
    MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              timeout);
    req->status = 200;
    req->content_type = "text/event-stream; charset=utf-8";
}

/* ---- sessions ---- */

/* The token's hash from "Bearer X" / "Token X" or the body's
 * {"token":"X"}; replies 400/401 and returns -1 when there is none. */
static int presented_token_hash(struct request *req, char *OUT_hash)
{
    const char *authz = req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *secret = NULL;
    json_t *obj = NULL;
    if (authz) {
        secret = strchr(authz, ' ');
        while (secret && *secret == ' ')
            secret++;
    } else if (req->body.len) {
        json_error_t err;
        obj = json_loadb(req->body.buf, req->body.len, 0, &err);
        if (!obj) {
            reply_error(req, 400, "line %d, column %d: %s", err.line,
                        err.column, err.text);
            return -1;
        }
        secret = json_string_value(json_object_get(obj, "token"));
    }
    int ok = secret && *secret && strlen(secret) <= 256;
    if (ok)
        auth_token_hash(secret, OUT_hash);
    json_decref(obj);
    if (!ok)
        reply_error(req, 401,
                    "a token is required: Authorization: Bearer TOKEN, or "
                    "a JSON body with the field 'token'");
    return ok ? 0 : -1;
}

/* Opens a session for the token of hash and sets its cookie; replies
 * 401/503 and returns -1 otherwise. */
static int session_open(struct request *req, const char *hash)
{
    char id[SESSION_ID_LEN + 1];
    if (store_token_find(req->srv->store, hash, &req->who)) {
        reply_error(req, 401, "the token is unknown or revoked");
        return -1;
    }
    if (session_create(req->srv->sessions, hash, id)) {
        req->retry_after = 60;
        reply_error(req, 503, "too many browser sessions (max_sessions)");
        return -1;
    }
    snprintf(req->set_cookie, sizeof(req->set_cookie),
             "%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d",
             SESSION_COOKIE, id, req->srv->cfg->session_ttl_s);
    store_audit_token(req->srv->store, req->who.id, req->who.name,
                      "session.create", req->cookie_auth ? "link" : "token",
                      NULL);
    return 0;
}

static void whoami_json(struct request *req)
{
    struct jsonw w;
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    whoami_fields(req, &w);
    jsonw_kv_int(&w, "expires_in_s", req->srv->cfg->session_ttl_s);
    jsonw_object_end(&w);
}

void route_session_create(struct request *req)
{
    char hash[AUTH_HASH_LEN + 1];
    if (presented_token_hash(req, hash) || session_open(req, hash))
        return;
    whoami_json(req);
    reply_json(req, 201);
}

void route_session_delete(struct request *req)
{
    char id[SESSION_ID_LEN + 1];
    if (!session_cookie_value(req_header(req, "Cookie"), id))
        session_drop(req->srv->sessions, id);
    snprintf(req->set_cookie, sizeof(req->set_cookie),
             "%s=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
             SESSION_COOKIE);
    req->status = 204;
}

/* A small page: HTML, with refresh_s > 0 a reload after that long. */
static void login_page(struct request *req, int status, int refresh_s,
                       const char *text)
{
    sbuf_addstr(&req->out, "<!doctype html><meta charset=utf-8>");
    if (refresh_s)
        sbuf_addf(&req->out, "<meta http-equiv=refresh content=\"%d\">",
                  refresh_s);
    else if (status == 200)
        sbuf_addstr(&req->out, "<meta http-equiv=refresh content=\"0;url=/\">");
    sbuf_addf(&req->out, "<title>citybrain</title><p>%s</p>\n", text);
    req->status = status;
    req->content_type = "text/html; charset=utf-8";
}

/* GET /login?once=CODE: a one-time link becomes a session; the page then
 * moves on to the UI (the code is gone from the address bar).  A link
 * whose token this server has not loaded yet (made by the CLI a moment
 * ago) is kept, and the page retries. */
void route_login(struct request *req)
{
    char hash[AUTH_HASH_LEN + 1];
    int64_t created_ns;
    const char *code = req_arg(req, "once");
    int rc = code ? session_link_peek(req->srv->store, code, hash, &created_ns)
                  : CB_EAUTH;
    if (!rc && store_token_find(req->srv->store, hash, &req->who) &&
        time_now_ns() - created_ns < 3 * STORE_TOKEN_RECHECK_MS * 1000000LL) {
        req->retry_after = 1;
        login_page(req, 503, 1, "Signing in… / 正在登录…");
        return;
    }
    if (!rc)
        rc = session_link_consume(req->srv->store, code);
    if (rc) {
        login_page(req, rc == CB_EAUTH ? 401 : 503, 0,
                   "This login link is unknown, used or expired; ask for a "
                   "new one. / 登录链接无效、已使用或已过期，请重新获取。");
        return;
    }
    req->cookie_auth = 1;
    if (session_open(req, hash))
        return;
    login_page(req, 200, 0, "<a href=\"/\">citybrain</a>");
}
