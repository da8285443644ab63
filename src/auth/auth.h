/*
 * auth.h - tokens, roles and what each role may do.
 *
 * A token is "cb_" followed by 64 hex digits of randomness (getrandom).  The
 * store keeps only its SHA-256, in hex; the secret is shown once, when made.
 * Requests carry it as "Authorization: Bearer TOKEN" or "Token TOKEN" (the
 * form InfluxDB clients send).
 *
 * The rights, one row per action (auth_check):
 *
 *   action               admin publisher      operator analyst committee
 *   -------------------  ----- -------------- -------- ------- ---------
 *   write a feed          yes  its feeds only    no      no       no
 *   read aggregates       yes       no           yes     yes      yes
 *   read household data   yes       no           yes     yes   own only
 *   give visit feedback   yes       no           yes     no    own only
 *   manage tokens, depts  yes       no           no      no       no
 *   read the audit log    yes       no           no      no       no
 *
 * "own only": a committee token reaches households of its committee alone;
 * callers pass the household's committee to auth_check_household.
 * Every household-level read is also written to the audit log by the caller
 * (http layer) through store_audit.
 */
#ifndef CB_AUTH_H
#define CB_AUTH_H

#include "ingest/ingest.h"
#include "store/store.h"

#define AUTH_TOKEN_LEN 67 /* "cb_" + 64 hex */
#define AUTH_HASH_LEN 64

enum auth_action {
    AUTH_WRITE_FEED,
    AUTH_READ_AGGREGATE,
    AUTH_READ_HOUSEHOLD,
    AUTH_FEEDBACK,
    AUTH_MANAGE,
    AUTH_READ_AUDIT,
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

/* Whether who may do action; feed is used by AUTH_WRITE_FEED only.
 * Returns 0 or CB_EPERM. */
int auth_check(const struct token_info *who, enum auth_action action,
               enum feed feed);
/* Like auth_check for a household-level action on a household of
 * committee (its name): committee tokens reach their own only. */
int auth_check_household(const struct token_info *who, enum auth_action action,
                         const char *committee);

/* Creates a token for info, storing its hash.  OUT_token receives the
 * secret (AUTH_TOKEN_LEN + 1 bytes); OUT_id its id. */
int auth_token_create(struct store *st, const struct token_info *info,
                      char *OUT_token, int64_t *OUT_id);

/* On first start: when DIR/admin.token is missing or no longer valid,
 * creates an admin token and writes it there (mode 0600).  *OUT_created
 * tells whether it did.  Returns 0, or CB_EIO if the file can't be written. */
int auth_ensure_admin(struct store *st, const char *dir, int *OUT_created);

#endif
