/*
 * store_auth.c - departments, tokens, the audit log, settings and the
 * per-feed tallies.
 *
 * Tokens are looked up on every request, so all of them (a few hundred at
 * most) live in memory: an array of token_entry and a map from hash to its
 * index, loaded at open and changed after each COMMIT that changes the
 * table.  store_token_find never touches SQLite.  Only the hex SHA-256 of
 * a token is stored; store_token_list never shows it.
 */
#include <string.h>

#include "store/store_int.h"

static const char *const role_names[ROLE_COUNT] = {
    "admin",      "publisher",  "operator",   "analyst",
    "committee",  "supervisor", "call_taker", "shift_lead",
    "dispatcher", "department", "citizen_app"};

const char *role_name(enum role r)
{
    return (unsigned)r < ROLE_COUNT ? role_names[r] : "unknown";
}

int role_parse(const char *s)
{
    for (int i = 0; s && i < ROLE_COUNT; i++)
        if (!strcmp(s, role_names[i]))
            return i;
    return -1;
}

static const char *col_text(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? (const char *)t : "";
}

/* The text of a column, or NULL when the column is NULL. */
static const char *col_text_or_null(sqlite3_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(s, col);
}

/* Runs a read statement on a pool connection, calling row() per row; cb
 * points at the caller's typed callback, which row() calls with ctx. */
typedef void (*row_fn)(sqlite3_stmt *s, const void *cb, void *ctx);

static int scan_rows(struct store *st, enum store_stmt id, int limit,
                     row_fn row, const void *cb, void *ctx)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, id);
    int rc = CB_ESTORE, step;
    if (!s)
        goto out_put;
    if (limit > 0)
        sqlite3_bind_int(s, 1, limit);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        row(s, cb, ctx);
    sqlite3_reset(s);
    rc = step == SQLITE_DONE ? 0 : store__sqlerr(c->db, "list");
out_put:
    store__reader_put(st, c);
    return rc;
}

/* ---- departments ---- */

struct dept_arg {
    const char *name;
    const struct department_grants *grants;
    int64_t id;
};

static int dept_create_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct dept_arg *a = arg;
    sqlite3_stmt *s = store__stmt(w, STMT_DEPT_ADD);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_text(s, 1, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, a->grants->feeds);
    sqlite3_bind_int64(s, 3, time_now_ns());
    sqlite3_bind_int64(s, 4, a->grants->measurements);
    sqlite3_bind_text(s, 5, a->grants->sources ? a->grants->sources : "", -1,
                      SQLITE_STATIC);
    if (store__exec_stmt(w, s, "add department"))
        return CB_ESTORE;
    if (!sqlite3_changes(w->db))
        return CB_EEXIST;
    a->id = sqlite3_last_insert_rowid(w->db);
    return 0;
}

int store_department_create(struct store *st, const char *name,
                            const struct department_grants *grants,
                            int64_t *OUT_id)
{
    struct dept_arg a = {name, grants, 0};
    if (!name || !*name ||
        (grants->sources && strlen(grants->sources) > STORE_NAME_MAX))
        return CB_EINVAL;
    int rc = store__call(st, dept_create_fn, &a);
    if (!rc && OUT_id)
        *OUT_id = a.id;
    return rc;
}

static void dept_row(sqlite3_stmt *s, const void *cb, void *ctx)
{
    struct store_department_row d = {
        .id = sqlite3_column_int64(s, 0),
        .name = col_text(s, 1),
        .feeds = (uint32_t)sqlite3_column_int64(s, 2),
        .created_ns = sqlite3_column_int64(s, 3),
        .measurements = (uint32_t)sqlite3_column_int64(s, 4),
        .sources = col_text(s, 5),
    };
    (*(const store_department_fn *)cb)(ctx, &d);
}

int store_department_scan(struct store *st, store_department_fn fn, void *ctx)
{
    return scan_rows(st, STMT_DEPT_LIST, 0, dept_row, &fn, ctx);
}

int store_department_find(struct store *st, const char *name, int64_t *OUT_id,
                          uint32_t *OUT_feeds)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_DEPT_FIND);
    int rc = CB_ESTORE;
    if (!s)
        goto out_put;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *OUT_id = sqlite3_column_int64(s, 0);
        *OUT_feeds = (uint32_t)sqlite3_column_int64(s, 1);
        rc = 0;
    } else {
        rc = step == SQLITE_DONE ? CB_ENOTFOUND
                                 : store__sqlerr(c->db, "find department");
    }
    sqlite3_reset(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

/* ---- tokens ---- */

static void tokens_recheck(struct store *st);

/* Adds or replaces a token in the cache (tok_lock held). */
static void cache_put(struct store *st, const char *hash,
                      const struct token_info *info)
{
    int32_t at;
    if (!store__map_get(&st->tok_by_hash, hash, &at)) {
        if (st->n_toks == st->cap_toks) {
            st->cap_toks = st->cap_toks ? st->cap_toks * 2 : 16;
            st->toks = xrealloc(st->toks, st->cap_toks * sizeof(*st->toks));
        }
        at = (int32_t)st->n_toks++;
        store__map_put(&st->tok_by_hash, hash, at);
    }
    st->toks[at].info = *info;
    snprintf(st->toks[at].hash, sizeof(st->toks[at].hash), "%s", hash);
}

struct token_arg {
    const char *hash;
    struct token_info info;
};

static int token_feeds(struct store_conn *w, struct token_info *info)
{
    if (info->department_id <= 0)
        return 0;
    sqlite3_stmt *s = store__stmt(w, STMT_DEPT_FEEDS);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, info->department_id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        info->feeds = (uint32_t)sqlite3_column_int64(s, 0);
        info->measurements = (uint32_t)sqlite3_column_int64(s, 1);
        snprintf(info->sources, sizeof(info->sources), "%s", col_text(s, 2));
    }
    sqlite3_reset(s);
    if (step == SQLITE_ROW)
        return 0;
    return step == SQLITE_DONE ? CB_ENOTFOUND
                               : store__sqlerr(w->db, "department feeds");
}

static int token_insert_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct token_arg *a = arg;
    int rc = token_feeds(w, &a->info);
    sqlite3_stmt *s = rc ? NULL : store__stmt(w, STMT_TOKEN_ADD);
    if (!s)
        return rc ? rc : CB_ESTORE;
    sqlite3_bind_text(s, 1, a->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, a->info.name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, a->info.role);
    if (a->info.department_id > 0)
        sqlite3_bind_int64(s, 4, a->info.department_id);
    sqlite3_bind_int64(s, 5, a->info.feeds);
    if (a->info.committee[0])
        sqlite3_bind_text(s, 6, a->info.committee, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, time_now_ns());
    if (store__exec_stmt(w, s, "add token"))
        return CB_ESTORE;
    if (!sqlite3_changes(w->db))
        return CB_EEXIST;
    a->info.id = sqlite3_last_insert_rowid(w->db);
    return 0;
}

int store_token_insert(struct store *st, const char *hash_hex,
                       const struct token_info *info, int64_t *OUT_id)
{
    struct token_arg a = {hash_hex, *info};
    if (!hash_hex || strlen(hash_hex) >= sizeof(st->toks->hash) ||
        (unsigned)info->role >= ROLE_COUNT)
        return CB_EINVAL;
    a.info.name[sizeof(a.info.name) - 1] = '\0';
    a.info.committee[sizeof(a.info.committee) - 1] = '\0';
    a.info.revoked = 0;
    int rc = store__call(st, token_insert_fn, &a);
    if (rc)
        return rc;
    pthread_mutex_lock(&st->tok_lock);
    cache_put(st, hash_hex, &a.info);
    pthread_mutex_unlock(&st->tok_lock);
    if (OUT_id)
        *OUT_id = a.info.id;
    return 0;
}

int store_token_find(struct store *st, const char *hash_hex,
                     struct token_info *OUT_info)
{
    int32_t at;
    int rc = CB_ENOTFOUND;
    tokens_recheck(st);
    pthread_mutex_lock(&st->tok_lock);
    if (store__map_get(&st->tok_by_hash, hash_hex, &at) &&
        !st->toks[at].info.revoked) {
        *OUT_info = st->toks[at].info;
        rc = 0;
    }
    pthread_mutex_unlock(&st->tok_lock);
    return rc;
}

static int token_revoke_fn(struct store *st, struct store_conn *w, void *arg)
{
    sqlite3_stmt *s = store__stmt(w, STMT_TOKEN_REVOKE);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, *(int64_t *)arg);
    sqlite3_bind_int64(s, 2, time_now_ns());
    if (store__exec_stmt(w, s, "revoke token"))
        return CB_ESTORE;
    return sqlite3_changes(w->db) ? 0 : CB_ENOTFOUND;
}

int store_token_revoke(struct store *st, int64_t id)
{
    int rc = store__call(st, token_revoke_fn, &id);
    if (rc)
        return rc;
    pthread_mutex_lock(&st->tok_lock);
    for (size_t i = 0; i < st->n_toks; i++)
        if (st->toks[i].info.id == id)
            st->toks[i].info.revoked = 1;
    pthread_mutex_unlock(&st->tok_lock);
    return 0;
}

static void token_row(sqlite3_stmt *s, const void *cb, void *ctx)
{
    struct store_token_row t = {
        .id = sqlite3_column_int64(s, 0),
        .name = col_text(s, 1),
        .role = (enum role)sqlite3_column_int(s, 2),
        .department_id = sqlite3_column_int64(s, 3),
        .feeds = (uint32_t)sqlite3_column_int64(s, 4),
        .committee = col_text_or_null(s, 5),
        .created_ns = sqlite3_column_int64(s, 6),
        .revoked = sqlite3_column_type(s, 7) != SQLITE_NULL,
        .revoked_ns = sqlite3_column_int64(s, 7),
    };
    (*(const store_token_fn *)cb)(ctx, &t);
}

int store_token_scan(struct store *st, store_token_fn fn, void *ctx)
{
    return scan_rows(st, STMT_TOKEN_LIST, 0, token_row, &fn, ctx);
}

static void token_load_row(struct store *st, sqlite3_stmt *s)
{
    struct token_info info;
    memset(&info, 0, sizeof(info));
    info.id = sqlite3_column_int64(s, 0);
    snprintf(info.name, sizeof(info.name), "%s", col_text(s, 2));
    info.role = (enum role)sqlite3_column_int(s, 3);
    info.department_id = sqlite3_column_int64(s, 4);
    info.feeds = (uint32_t)sqlite3_column_int64(s, 5);
    snprintf(info.committee, sizeof(info.committee), "%s", col_text(s, 6));
    info.revoked = sqlite3_column_type(s, 7) != SQLITE_NULL;
    info.measurements = (uint32_t)sqlite3_column_int64(s, 8);
    snprintf(info.sources, sizeof(info.sources), "%s", col_text(s, 9));
    cache_put(st, col_text(s, 1), &info);
}

/* Reads every token into the cache (tok_lock held): existing entries are
 * replaced, so a revocation made elsewhere is picked up.  Tokens are never
 * deleted, so nothing has to be dropped. */
static int tokens_read(struct store *st, sqlite3 *db)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT t.id,t.hash,t.name,t.role,t.department_id,"
                           "t.feeds,t.committee,t.revoked_ns,"
                           "coalesce(d.measurements,0),coalesce(d.sources,'')"
                           " FROM token t LEFT JOIN department d"
                           " ON d.id=t.department_id ORDER BY t.id",
                           -1, &s, NULL))
        return store__sqlerr(db, "load tokens");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        token_load_row(st, s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store__sqlerr(db, "load tokens");
}

/* What changes whenever a token is made or revoked, by any process: the
 * newest id and the number revoked (tokens are never deleted nor
 * un-revoked, so both only grow). */
static int tokens_version(sqlite3 *db, int64_t *OUT_version)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce(max(id),0)*1000003"
                           "+count(revoked_ns) FROM token",
                           -1, &s, NULL))
        return store__sqlerr(db, "token version");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *OUT_version = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store__sqlerr(db, "token version");
}

int store__tokens_load(struct store *st, struct store_conn *c)
{
    store__map_init(&st->tok_by_hash);
    int rc = tokens_version(c->db, &st->tok_version);
    if (!rc)
        rc = tokens_read(st, c->db);
    atomic_store(&st->tok_checked_ns, time_monotonic_ns());
    return rc;
}

/* Reloads the cache when another process changed the token table; run by
 * at most one thread at a time, at most every STORE_TOKEN_RECHECK_MS. */
static void tokens_recheck(struct store *st)
{
    int64_t now = time_monotonic_ns(), last = atomic_load(&st->tok_checked_ns);
    if (now - last < STORE_TOKEN_RECHECK_MS * 1000000LL ||
        !atomic_compare_exchange_strong(&st->tok_checked_ns, &last, now))
        return;
    struct store_conn *c = store__reader_get(st);
    int64_t version;
    if (tokens_version(c->db, &version) == 0 && version != st->tok_version) {
        pthread_mutex_lock(&st->tok_lock);
        if (tokens_read(st, c->db) == 0)
            st->tok_version = version;
        pthread_mutex_unlock(&st->tok_lock);
    }
    store__reader_put(st, c);
}

void store__tokens_release(struct store *st)
{
    store__map_release(&st->tok_by_hash);
    free(st->toks);
    st->toks = NULL;
    st->n_toks = st->cap_toks = 0;
}

/* ---- audit and settings ---- */

struct audit_arg {
    int64_t token_id;
    const char *who, *action, *object, *reason;
};

static int audit_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct audit_arg *a = arg;
    sqlite3_stmt *s = store__stmt(w, STMT_AUDIT_ADD);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, time_now_ns());
    store__bind_text(s, 2, a->who);
    store__bind_text(s, 3, a->action);
    store__bind_text(s, 4, a->object);
    store__bind_text(s, 5, a->reason);
    if (a->token_id > 0)
        sqlite3_bind_int64(s, 6, a->token_id);
    return store__exec_stmt(w, s, "append audit");
}

int store_audit_token(struct store *st, int64_t token_id, const char *who,
                      const char *action, const char *object,
                      const char *reason)
{
    struct audit_arg a = {token_id, who, action, object, reason};
    /* every household read waits for its audit row: not for an fsync too */
    return store__call_os(st, audit_fn, &a);
}

int store_audit(struct store *st, const char *who, const char *action,
                const char *object, const char *reason)
{
    return store_audit_token(st, 0, who, action, object, reason);
}

static void audit_row(sqlite3_stmt *s, const void *cb, void *ctx)
{
    struct store_audit_row a = {
        .id = sqlite3_column_int64(s, 0),
        .ts_ns = sqlite3_column_int64(s, 1),
        .who = col_text_or_null(s, 2),
        .action = col_text_or_null(s, 3),
        .object = col_text_or_null(s, 4),
        .reason = col_text_or_null(s, 5),
        .has_token = sqlite3_column_type(s, 6) != SQLITE_NULL,
        .token_id = sqlite3_column_int64(s, 6),
    };
    (*(const store_audit_fn *)cb)(ctx, &a);
}

int store_audit_scan(struct store *st, int limit, store_audit_fn fn, void *ctx)
{
    return scan_rows(st, STMT_AUDIT_LIST, limit > 0 ? limit : 100, audit_row,
                     &fn, ctx);
}

struct kv_arg {
    const char *key, *value;
};

static int kv_set_fn(struct store *st, struct store_conn *w, void *arg)
{
    struct kv_arg *a = arg;
    sqlite3_stmt *s = store__stmt(w, STMT_KV_PUT);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_text(s, 1, a->key, -1, SQLITE_STATIC);
    store__bind_text(s, 2, a->value);
    return store__exec_stmt(w, s, "put kv");
}

int store_kv_set(struct store *st, const char *key, const char *value)
{
    struct kv_arg a = {key, value};
    return key ? store__call(st, kv_set_fn, &a) : CB_EINVAL;
}

int store_kv_get(struct store *st, const char *key, struct sbuf *out)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_KV_GET);
    int rc = CB_ESTORE;
    if (!s)
        goto out_put;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        sbuf_addstr(out, col_text(s, 0));
        rc = 0;
    } else {
        rc = step == SQLITE_ROW || step == SQLITE_DONE
                 ? CB_ENOTFOUND
                 : store__sqlerr(c->db, "get kv");
    }
    sqlite3_reset(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

/* ---- tallies ---- */

void store__source_key(const char *order_id, const char *source, char *out,
                       size_t cap)
{
    const char *dash = order_id ? strchr(order_id, '-') : NULL;
    const char *from = dash && dash > order_id ? order_id
                       : source && *source     ? source
                                               : "unknown";
    size_t n =
        dash && dash > order_id ? (size_t)(dash - order_id) : strlen(from);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, from, n);
    out[n] = '\0';
}

void store__source_count(struct store *st, const char *source, uint64_t total,
                         uint64_t unmatched)
{
    pthread_mutex_lock(&st->src_lock);
    size_t i = 0;
    while (i < st->n_sources && strcmp(st->sources[i].name, source))
        i++;
    if (i == st->n_sources && i >= STORE_MAX_DELIVERY_SOURCES - 1 &&
        strcmp(source, STORE_OTHER_SOURCE)) {
        /* past the cap every new platform counts as "other" */
        pthread_mutex_unlock(&st->src_lock);
        store__source_count(st, STORE_OTHER_SOURCE, total, unmatched);
        return;
    }
    if (i == st->n_sources) {
        st->sources = xrealloc(st->sources, (i + 1) * sizeof(*st->sources));
        memset(&st->sources[i], 0, sizeof(st->sources[i]));
        snprintf(st->sources[i].name, sizeof(st->sources[i].name), "%s",
                 source);
        st->n_sources++;
    }
    st->sources[i].total += total;
    st->sources[i].unmatched += unmatched;
    pthread_mutex_unlock(&st->src_lock);
}

static _Atomic uint64_t *tally_counter(struct store *st, const char *name)
{
    if (!strcmp(name, "readings"))
        return &st->n_readings;
    if (!strcmp(name, "deliveries"))
        return &st->n_deliveries;
    if (!strcmp(name, "deliveries_unmatched"))
        return &st->n_unmatched;
    if (!strcmp(name, "events"))
        return &st->n_events;
    return NULL;
}

int store__tallies_load(struct store *st, struct store_conn *c)
{
    sqlite3_stmt *s;
    int rc;
    if (sqlite3_prepare_v2(c->db, "SELECT name,n FROM tally", -1, &s, NULL))
        return store__sqlerr(c->db, "load tallies");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        _Atomic uint64_t *n = tally_counter(st, col_text(s, 0));
        if (n)
            atomic_store(n, (uint64_t)sqlite3_column_int64(s, 1));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE ||
        sqlite3_prepare_v2(c->db,
                           "SELECT source,total,unmatched FROM "
                           "delivery_source ORDER BY source",
                           -1, &s, NULL))
        return store__sqlerr(c->db, "load tallies");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        store__source_count(st, col_text(s, 0),
                            (uint64_t)sqlite3_column_int64(s, 1),
                            (uint64_t)sqlite3_column_int64(s, 2));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store__sqlerr(c->db, "load sources");
}
