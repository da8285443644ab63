/*
 * auth.h - tokens, roles and what each role may do.
 *
 * A token is "cb_" followed by 64 hex digits of randomness (getrandom).  The
 * store keeps only its SHA-256, in hex; the secret is shown once, when made.
 * Requests carry it as "Authorization: Bearer TOKEN" or "Token TOKEN" (the
 * form InfluxDB clients send).
 *
 * Who may use which endpoint is one table, the HTTP route table
 * (src/http/routes.c): every route lists, per role, AUTH_NO, AUTH_YES or
 * AUTH_OWN, and the router checks it (auth_check_route) before the body is
 * read.  docs/API.md shows the same table and a test walks it against the
 * server.  AUTH_OWN means:
 *
 *   role       AUTH_OWN on ...        reaches
 *   ---------  ---------------------  ------------------------------------
 *   publisher  an ingest route        its department's feed, and within it
 *                                     the measurements / sources granted
 *                                     (auth_check_grant, per record)
 *   committee  a household route      households of its own committee
 *                                     (auth_check_household)
 *   committee  a list or summary      its own committee's rows only (the
 *                                     route forces the filter)
 *
 * A citizen_app token (a civic app) files Open311 requests: it is the
 * `api_key` of POST /open311/v2/requests.json and opens nothing under
 * /api/ but whoami.
 *
 * Every response that carries household ids is written to the audit log by
 * the caller (http layer) through store_audit_token.
 */
#ifndef CB_AUTH_H
#define CB_AUTH_H

#include "ingest/ingest.h"
#include "store/store.h"

#define AUTH_TOKEN_LEN 67 /* "cb_" + 64 hex */
#define AUTH_HASH_LEN 64

/* A role's access to a route (the route table's cells). */
enum auth_access {
    AUTH_NO = 0, /* 403 */
    AUTH_YES,    /* everything the route offers */
    AUTH_OWN,    /* its own feeds / its own committee (table above) */
};

/* Makes a new random token and its hash.  OUT_token holds
 * AUTH_TOKEN_LEN + 1 bytes, OUT_hash AUTH_HASH_LEN + 1. */
int auth_token_generate(char *OUT_token, char *OUT_hash);
/* Hex SHA-256 of a token into OUT_hash (AUTH_HASH_LEN + 1 bytes). */
void auth_token_hash(const char *token, char *OUT_hash);

/* Resolves an Authorization header value (may be NULL) to a live token.
 * Returns 0, or CB_EAUTH when missing, malformed, unknown or revoked. */
int auth_authenticate(struct store *st, const char *authorization,
                      struct token_info *OUT_who);

/* Whether who may use a route whose cells are access[ROLE_COUNT]; feed
 * is the route's feed (ingest routes) or -1.  A publisher's AUTH_OWN
 * needs the feed among its department's.  Returns 0 or CB_EPERM. */
int auth_check_route(const struct token_info *who,
                     const unsigned char access[ROLE_COUNT], int feed);
/* Whether who may reach a household of committee (its name; NULL when the
 * household is unknown or has none): a committee token its own only,
 * compared in full.  Returns 0 or CB_EPERM. */
int auth_check_household(const struct token_info *who, const char *committee);
/* Whether a publisher may write one record of feed: `what` is the
 * measurement name (readings), the event's source (events) or the
 * delivery platform (deliveries).  Other roles: always 0.  Returns 0 or
 * CB_EPERM. */
int auth_check_grant(const struct token_info *who, enum feed feed,
                     const char *what);

/* Creates a token for info, storing its hash.  OUT_token receives the
 * secret (AUTH_TOKEN_LEN + 1 bytes); OUT_id its id. */
int auth_token_create(struct store *st, const struct token_info *info,
                      char *OUT_token, int64_t *OUT_id);

/* On first start: when DIR/admin.token is missing or no longer valid,
 * creates an admin token and writes it there (mode 0600).  *OUT_created
 * tells whether it did.  Returns 0, or CB_EIO if the file can't be written. */
int auth_ensure_admin(struct store *st, const char *dir, int *OUT_created);

#endif
