/*
 * session.h - browser sessions and one-time login links.
 *
 * A browser never holds a long-lived token.  It trades one for a session
 * (POST /api/v1/session), or redeems a one-time login link (/login?once=),
 * and then carries only the session's cookie:
 *
 *   cb_session=<43 chars, base64url of 32 random bytes>; HttpOnly;
 *   SameSite=Strict; Path=/; Max-Age=<ttl>
 *
 * Sessions live in the server's memory (a restart logs browsers out): a
 * bounded table keyed by the SHA-256 of the cookie value, each entry
 * holding the hash of the token it stands for and its expiry.  The token
 * is looked up again on every request, so revoking it ends its sessions
 * at once.
 *
 * One-time links are kept in the store (kv table; so `citybrain
 * login-link` works beside a running server):
 *
 *   key                          value
 *   ---------------------------  ---------------------------------------
 *   login_once:<sha256 of code>  "<token hash> <expiry> <creation>"
 *                                (epoch ns)
 *
 * A link is deleted when used (a process-wide lock makes two concurrent
 * uses of one code yield one session).  A link used within a second of
 * being made by another process may name a token this server has not
 * loaded yet (store_token_find re-reads tokens at most every
 * STORE_TOKEN_RECHECK_MS): the caller peeks, retries, then consumes.
 *
 * Threading: every function is thread-safe.
 */
#ifndef CB_SESSION_H
#define CB_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SESSION_ID_LEN 43 /* base64url of 32 bytes, no padding */
#define SESSION_COOKIE "cb_session"

struct session_table;

/* A table of at most max_sessions sessions that last ttl_s seconds. */
struct session_table *session_table_new(size_t max_sessions, int ttl_s);
void session_table_free(struct session_table *t); /* NULL: no-op */

/* Opens a session for the token of hash token_hash (hex, copied).
 * OUT_id receives the cookie value (SESSION_ID_LEN + 1 bytes).  Expired
 * sessions are dropped first; returns 0, or CB_EBUSY when the table is
 * still full. */
int session_create(struct session_table *t, const char *token_hash,
                   char *OUT_id);
/* Resolves a cookie value to its token's hash (AUTH_HASH_LEN + 1 bytes
 * into OUT_token_hash): 0, or CB_EAUTH when unknown or expired. */
int session_lookup(struct session_table *t, const char *id,
                   char *OUT_token_hash);
/* Ends a session; an unknown id is a no-op. */
void session_drop(struct session_table *t, const char *id);
/* The value of the cb_session cookie in a Cookie header, copied into out
 * (SESSION_ID_LEN + 1 bytes): 0, or CB_ENOTFOUND. */
int session_cookie_value(const char *cookie_header, char *out);

/* Stores a one-time login code for the token of hash token_hash, valid
 * for minutes (1..1440).  OUT_code receives the code (SESSION_ID_LEN + 1
 * bytes), OUT_expires_ns its expiry.  Returns 0, CB_EINVAL or CB_ESTORE. */
int session_link_create(struct store *st, const char *token_hash, int minutes,
                        char *OUT_code, int64_t *OUT_expires_ns);
/* Creates a token for info (auth_token_create; its secret is never
 * shown) and a one-time link to it, as session_link_create.  OUT_token_id
 * receives the token's id.  Returns 0, CB_EINVAL, CB_EIO or CB_ESTORE. */
int session_link_issue(struct store *st, const struct token_info *info,
                       int minutes, char *OUT_code, int64_t *OUT_expires_ns,
                       int64_t *OUT_token_id);
/* Looks a code up without using it: OUT_token_hash receives the token's
 * hash (AUTH_HASH_LEN + 1 bytes), OUT_created_ns when the link was made.
 * Returns 0; CB_EAUTH when unknown, used or expired; CB_ESTORE. */
int session_link_peek(struct store *st, const char *code, char *OUT_token_hash,
                      int64_t *OUT_created_ns);
/* Uses a code up: 0 for the one caller that removed it, CB_EAUTH for
 * every other (already used), CB_ESTORE. */
int session_link_consume(struct store *st, const char *code);

#endif
