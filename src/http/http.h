/*
 * http.h - citybrain's HTTP server (libmicrohttpd).
 *
 * One epoll thread pool serves every connection with keep-alive.  A request
 * is routed by a table (routes.c) of method, path pattern, handler and the
 * right it needs; authentication and size limits are checked as soon as the
 * headers arrive, before the body is read, so a refused upload costs nothing:
 *
 *   headers in -> route? (404/405) -> token? (401) -> role's cell? (403)
 *              -> Content-Length <= max_body_bytes? (413)
 *   body in    -> appended to a bounded buffer (413 past the limit)
 *   body done  -> handler -> response; metrics and latency recorded
 *
 * Limits, all from struct config: connections at once and per IP address
 * (refused at accept), idle connection timeout, a deadline for the whole
 * request header (a sweeper thread of ours: server.c), body size, records
 * per batch, and the store's queue (503 with Retry-After when full).
 *
 * Who may use which route is the route table (routes.c), one cell per
 * role; see auth.h.
 *
 * Browsers authenticate with a session cookie instead of the header
 * (session.h): a request without Authorization but with cb_session is
 * the session's token; a cookie-authenticated write (not GET/HEAD) must
 * also carry X-Requested-With or a JSON Content-Type, which a cross-site
 * form cannot send (with SameSite=Strict, the CSRF defence).
 *
 * GET /api/v1/stream is a long-lived SSE response read from the live hub
 * (live.h): its connection is suspended while it has nothing to send and
 * resumed by the hub, so a stream never holds a pool thread.
 *
 * Threading: http_start spawns the pool and the header sweeper; handlers
 * run on the pool and may block on the store.  http_stop stops the sweeper
 * and accepting, and waits for the requests in flight to be answered, up to
 * cfg->drain_s (shutdown_drain_s).
 */
#ifndef CB_HTTP_H
#define CB_HTTP_H

#include "config/config.h"
#include "store/store.h"

struct http_server;
struct scene_engine;
struct indic_engine;
struct live;

/* Starts serving cfg->listen.  cfg, st, scenes (may be NULL), indic (the
 * indicator engine; may be NULL: its routes answer 503) and live (the hub
 * GET /api/v1/stream reads) are borrowed until http_stop.  Returns 0, or
 * CB_EIO (logged) if the address cannot be bound; *OUT_port receives the
 * bound port (useful with port 0). */
int http_start(const struct config *cfg, struct store *st,
               struct scene_engine *scenes, struct indic_engine *indic,
               struct live *live, struct http_server **OUT_srv, int *OUT_port);
/* Ends the live streams (live_shutdown), stops accepting connections,
 * answers new requests on open connections with 503 and Connection: close,
 * waits up to cfg->drain_s seconds for the requests in flight to be
 * answered, then closes every connection and frees srv.  A request still
 * running after the drain time is cut (logged as a warning). */
void http_stop(struct http_server *srv);

#endif
