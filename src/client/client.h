/*
 * client.h - a small HTTP client for citybrain's own tools (libcurl).
 *
 * The loader (`citybrain load`) and the simulator's live stream post
 * batches to a running server through this.  One struct client is one
 * keep-alive connection; it belongs to one thread.  A 503 or 429 answer is
 * backpressure: client_post waits (Retry-After, else an exponential backoff
 * up to 5 s) and tries again, up to max_retries; nothing is dropped
 * silently — a batch that still fails is reported to the caller.
 */
#ifndef CB_CLIENT_H
#define CB_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "util/util.h"

struct client;

/* base_url like "http://127.0.0.1:8080"; token may be NULL.  Both are
 * copied.  Never NULL. */
struct client *client_new(const char *base_url, const char *token);
void client_free(struct client *c);

/* POSTs body to base_url + path.  *OUT_status receives the HTTP status (0
 * if no answer came), out (may be NULL) the response body.  Returns 0 when
 * a response arrived (whatever its status), CB_EIO when none did. */
int client_post(struct client *c, const char *path, const char *content_type,
                const char *body, size_t len, int *OUT_status,
                struct sbuf *out);
/* GETs base_url + path, as client_post. */
int client_get(struct client *c, const char *path, int *OUT_status,
               struct sbuf *out);
/* DELETEs base_url + path (no body kept), as client_get. */
int client_delete(struct client *c, const char *path, int *OUT_status);

/* GETs path and parses an answer of status 200 as JSON: the caller owns
 * it.  NULL when there is none, said on stderr as "WHO: GET PATH: HTTP N". */
json_t *client_get_json(struct client *c, const char *path, const char *who);
/* POSTs body as application/json; the answer's JSON (owned by the caller)
 * when its status is 200 or 201, else NULL.  *OUT_status as client_post. */
json_t *client_post_json(struct client *c, const char *path,
                         const struct sbuf *body, int *OUT_status);

#endif
