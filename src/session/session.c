/* session.c - the in-memory session table and the one-time login links. */
#include "session/session.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth/auth.h"

struct session {
    char key[AUTH_HASH_LEN + 1];        /* sha256 of the cookie; "" = free */
    char token_hash[AUTH_HASH_LEN + 1]; /* the token it stands for */
    int64_t expires_ns;
};

struct session_table {
    pthread_mutex_t lock;
    struct session *slots;
    size_t cap;
    int ttl_s;
};

/* Serialises uses of one-time links (get, then delete). */
static pthread_mutex_t link_lock = PTHREAD_MUTEX_INITIALIZER;

struct session_table *session_table_new(size_t max_sessions, int ttl_s)
{
    struct session_table *t = xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->cap = max_sessions ? max_sessions : 1;
    t->slots = xcalloc(t->cap, sizeof(t->slots[0]));
    t->ttl_s = ttl_s;
    return t;
}

void session_table_free(struct session_table *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t);
}

/* 32 random bytes as base64url (SESSION_ID_LEN chars) into out. */
static int random_id(char *out)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33] = {0};
    size_t got = 0;
    while (got < 32) {
        ssize_t n = getrandom(raw + got, 32 - got, 0);
        if (n < 0 && errno != EINTR)
            return CB_EIO;
        if (n > 0)
            got += (size_t)n;
    }
    size_t o = 0;
    for (size_t i = 0; i < 33; i += 3) {
        uint32_t v =
            (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0 && o < SESSION_ID_LEN; k--)
            out[o++] = b64[(v >> (6 * k)) & 63];
    }
    out[SESSION_ID_LEN] = '\0';
    return 0;
}

static struct session *find_locked(struct session_table *t, const char *key)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].key[0] && !strcmp(t->slots[i].key, key))
            return &t->slots[i];
    return NULL;
}

static struct session *free_slot_locked(struct session_table *t, int64_t now)
{
    struct session *free_one = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        struct session *s = &t->slots[i];
        if (s->key[0] && s->expires_ns <= now)
            s->key[0] = '\0';
        if (!s->key[0] && !free_one)
            free_one = s;
    }
    return free_one;
}

int session_create(struct session_table *t, const char *token_hash,
                   char *OUT_id)
{
    if (strlen(token_hash) != AUTH_HASH_LEN)
        return CB_EINVAL;
    if (random_id(OUT_id))
        return CB_EIO;
    char key[AUTH_HASH_LEN + 1];
    auth_token_hash(OUT_id, key);
    int64_t now = time_now_ns();
    pthread_mutex_lock(&t->lock);
    struct session *s = free_slot_locked(t, now);
    if (s) {
        memcpy(s->key, key, sizeof(key));
        memcpy(s->token_hash, token_hash, AUTH_HASH_LEN + 1);
        s->expires_ns = now + (int64_t)t->ttl_s * 1000000000LL;
    }
    pthread_mutex_unlock(&t->lock);
    return s ? 0 : CB_EBUSY;
}

int session_lookup(struct session_table *t, const char *id,
                   char *OUT_token_hash)
{
    if (!id || strlen(id) != SESSION_ID_LEN)
        return CB_EAUTH;
    char key[AUTH_HASH_LEN + 1];
    auth_token_hash(id, key);
    int rc = CB_EAUTH;
    pthread_mutex_lock(&t->lock);
    struct session *s = find_locked(t, key);
    if (s && s->expires_ns > time_now_ns()) {
        memcpy(OUT_token_hash, s->token_hash, AUTH_HASH_LEN + 1);
        rc = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void session_drop(struct session_table *t, const char *id)
{
    if (!id || strlen(id) != SESSION_ID_LEN)
        return;
    char key[AUTH_HASH_LEN + 1];
    auth_token_hash(id, key);
    pthread_mutex_lock(&t->lock);
    struct session *s = find_locked(t, key);
    if (s)
        s->key[0] = '\0';
    pthread_mutex_unlock(&t->lock);
}

int session_cookie_value(const char *cookie_header, char *out)
{
    static const char name[] = SESSION_COOKIE "=";
    for (const char *p = cookie_header; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (n > sizeof(name) - 1 && !strncmp(p, name, sizeof(name) - 1)) {
            size_t v = n - (sizeof(name) - 1);
            if (v != SESSION_ID_LEN)
                return CB_ENOTFOUND;
            memcpy(out, p + sizeof(name) - 1, v);
            out[v] = '\0';
            return 0;
        }
        p += n;
    }
    return CB_ENOTFOUND;
}

static void link_key(const char *code, char *out, size_t cap)
{
    char hash[AUTH_HASH_LEN + 1];
    auth_token_hash(code, hash);
    snprintf(out, cap, "login_once:%s", hash);
}

int session_link_create(struct store *st, const char *token_hash, int minutes,
                        char *OUT_code, int64_t *OUT_expires_ns)
{
    if (minutes < 1 || minutes > 1440 || strlen(token_hash) != AUTH_HASH_LEN)
        return CB_EINVAL;
    if (random_id(OUT_code))
        return CB_EIO;
    char key[96], value[128];
    link_key(OUT_code, key, sizeof(key));
    int64_t now = time_now_ns();
    *OUT_expires_ns = now + (int64_t)minutes * 60 * 1000000000LL;
    snprintf(value, sizeof(value), "%s %lld %lld", token_hash,
             (long long)*OUT_expires_ns, (long long)now);
    return store_kv_set(st, key, value) ? CB_ESTORE : 0;
}

int session_link_issue(struct store *st, const struct token_info *info,
                       int minutes, char *OUT_code, int64_t *OUT_expires_ns,
                       int64_t *OUT_token_id)
{
    if (minutes < 1 || minutes > 1440)
        return CB_EINVAL;
    char token[AUTH_TOKEN_LEN + 1], hash[AUTH_HASH_LEN + 1];
    int rc = auth_token_create(st, info, token, OUT_token_id);
    if (rc)
        return rc;
    auth_token_hash(token, hash);
    memset(token, 0, sizeof(token));
    return session_link_create(st, hash, minutes, OUT_code, OUT_expires_ns);
}

int session_link_peek(struct store *st, const char *code, char *OUT_token_hash,
                      int64_t *OUT_created_ns)
{
    if (!code || strlen(code) != SESSION_ID_LEN)
        return CB_EAUTH;
    char key[96];
    link_key(code, key, sizeof(key));
    struct sbuf value = SBUF_INIT;
    sbuf_init(&value);
    int rc = store_kv_get(st, key, &value);
    if (rc == CB_ENOTFOUND)
        rc = CB_EAUTH;
    long long expires = 0, created = 0;
    if (!rc &&
        (value.len < AUTH_HASH_LEN + 2 || value.buf[AUTH_HASH_LEN] != ' ' ||
         sscanf(value.buf + AUTH_HASH_LEN + 1, "%lld %lld", &expires,
                &created) != 2 ||
         expires <= time_now_ns()))
        rc = CB_EAUTH;
    if (!rc) {
        memcpy(OUT_token_hash, value.buf, AUTH_HASH_LEN);
        OUT_token_hash[AUTH_HASH_LEN] = '\0';
        *OUT_created_ns = created;
    }
    sbuf_release(&value);
    return rc;
}

int session_link_consume(struct store *st, const char *code)
{
    if (!code || strlen(code) != SESSION_ID_LEN)
        return CB_EAUTH;
    char key[96];
    link_key(code, key, sizeof(key));
    struct sbuf value = SBUF_INIT;
    sbuf_init(&value);
    pthread_mutex_lock(&link_lock);
    int rc = store_kv_get(st, key, &value);
    if (rc == 0 && store_kv_set(st, key, NULL))
        rc = CB_ESTORE;
    pthread_mutex_unlock(&link_lock);
    sbuf_release(&value);
    return rc == CB_ENOTFOUND ? CB_EAUTH : rc;
}
