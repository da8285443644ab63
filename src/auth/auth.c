/* auth.c - token generation, hashing, authentication and the rights table. */
#include "auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void auth_token_hash(const char *token, char *OUT_hash)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), md);
    hex(md, sizeof(md), OUT_hash);
}

int auth_token_generate(char *OUT_token, char *OUT_hash)
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno != EINTR)
            return CB_EIO;
        if (n > 0)
            got += (size_t)n;
    }
    memcpy(OUT_token, "cb_", 3);
    hex(raw, sizeof(raw), OUT_token + 3);
    auth_token_hash(OUT_token, OUT_hash);
    return 0;
}

/* Extracts the secret from "Bearer X" or "Token X"; NULL if malformed. */
static const char *auth_secret(const char *authorization)
{
    static const char *schemes[] = {"Bearer ", "Token "};
    if (!authorization)
        return NULL;
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(schemes[i]);
        if (!strncasecmp(authorization, schemes[i], n)) {
            const char *s = authorization + n;
            while (*s == ' ')
                s++;
            return *s ? s : NULL;
        }
    }
    return NULL;
}

int auth_authenticate(struct store *st, const char *authorization,
                      struct token_info *OUT_who)
{
    const char *secret = auth_secret(authorization);
    if (!secret || strlen(secret) > 256)
        return CB_EAUTH;
    char hash[AUTH_HASH_LEN + 1];
    auth_token_hash(secret, hash);
    if (store_token_find(st, hash, OUT_who))
        return CB_EAUTH;
    return 0;
}

int auth_check_route(const struct token_info *who,
                     const unsigned char access[ROLE_COUNT], int feed)
{
    if ((unsigned)who->role >= ROLE_COUNT || access[who->role] == AUTH_NO)
        return CB_EPERM;
    if (who->role == ROLE_PUBLISHER && access[who->role] == AUTH_OWN &&
        (feed < 0 || !(who->feeds & (1u << feed))))
        return CB_EPERM;
    return 0;
}

int auth_check_household(const struct token_info *who, const char *committee)
{
    if (who->role == ROLE_COMMITTEE &&
        (!committee || strcmp(committee, who->committee)))
        return CB_EPERM;
    return 0;
}

/* Whether name is one of the comma-separated list. */
static int list_has(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && !memcmp(p, name, n))
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

int auth_check_grant(const struct token_info *who, enum feed feed,
                     const char *what)
{
    if (who->role != ROLE_PUBLISHER)
        return 0;
    if (feed == FEED_READINGS) {
        int m = what ? metric_parse(what, strlen(what)) : -1;
        if (who->measurements && (m < 0 || !(who->measurements & (1u << m))))
            return CB_EPERM;
        return 0;
    }
    if ((feed == FEED_EVENTS || feed == FEED_DELIVERIES) && who->sources[0] &&
        (!what || !list_has(who->sources, what)))
        return CB_EPERM;
    return 0;
}

int auth_token_create(struct store *st, const struct token_info *info,
                      char *OUT_token, int64_t *OUT_id)
{
    char hash[AUTH_HASH_LEN + 1];
    int rc = auth_token_generate(OUT_token, hash);
    if (rc)
        return rc;
    return store_token_insert(st, hash, info, OUT_id);
}

static int admin_token_valid(struct store *st, const char *path)
{
    char token[AUTH_TOKEN_LEN + 2] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(token, 1, AUTH_TOKEN_LEN, f);
    fclose(f);
    token[n] = '\0';
    char hash[AUTH_HASH_LEN + 1];
    struct token_info who;
    auth_token_hash(token, hash);
    return store_token_find(st, hash, &who) == 0 && who.role == ROLE_ADMIN;
}

int auth_ensure_admin(struct store *st, const char *dir, int *OUT_created)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/admin.token", dir);
    *OUT_created = 0;
    if (admin_token_valid(st, path))
        return 0;
    struct token_info info = {.role = ROLE_ADMIN};
    snprintf(info.name, sizeof(info.name), "admin");
    char token[AUTH_TOKEN_LEN + 1];
    int64_t id;
    int rc = auth_token_create(st, &info, token, &id);
    if (rc)
        return rc;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return CB_EIO;
    int ok = write(fd, token, strlen(token)) == (ssize_t)strlen(token) &&
             write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return CB_EIO;
    }
    *OUT_created = 1;
    return 0;
}
