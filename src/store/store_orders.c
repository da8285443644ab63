/*
 * store_orders.c - food-delivery orders: dedup by order id, storage in
 * blocks, the loaders' scan and the migration from one row per order.
 *
 * The layout.
 *
 *   delivery_key(key INTEGER PK, hour)   the idempotency key: a 64-bit
 *                  hash of the order id, and the hour whose blocks hold
 *                  the order
 *   delivery_order(order_id TEXT PK) WITHOUT ROWID   ids whose key another
 *                  id holds (collisions)
 *   delivery_block(id INTEGER PK, hour, n, source, data BLOB)
 *                  index (hour)
 *
 * Dedup.  An order is new when INSERT OR IGNORE into delivery_key adds its
 * key: one integer b-tree insert, about 20 bytes an order on disk where a
 * b-tree of whole id texts (delivery_order, to version 13) took 27.  When
 * the key is there already the id itself is checked, so dedup stays
 * exact: the order is a duplicate when this batch's new orders hold the
 * id, or the blocks of the hour the key names hold it, or delivery_order
 * holds it; otherwise two ids share a key, and the order is new and its
 * id goes into delivery_order.  Those checks run after every free key of
 * the batch is taken, in the order of the hours the keys name, so a
 * resend reads each hour's blocks once a batch, whatever the order of its
 * lines (in the order given, a simulator's file of 42,357 orders resent
 * read an hour a conflict: 2.4 k orders/s, against 70 k on main).
 *
 * The new orders of one batch then go, one row per hour they fall in, in
 * time order, into delivery_block; data is an order block (store_codec.h:
 * time deltas, varints, hex ids and recipients as 8 bytes; about 40 bytes
 * an order on the simulator's mix, where the log payload this replaced
 * took about 95).  A matched order's household_id text is not kept: its
 * household (dense id) names it.  Rows written before the order block (an
 * ingest_log payload of the deliveries feed, store_log.c; first byte 1)
 * are still read.  Nothing reads an order by id; the scenes read them by
 * time at start (store__deliveries_scan).
 *
 * Threading: store__orders_apply runs on the writer thread inside the
 * group's transaction; the scan on any read connection.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_codec.h"
#include "store/store_int.h"

struct order_ref {
    int64_t hour, ts_ns;
    size_t idx;
};

static int order_ref_cmp(const void *pa, const void *pb)
{
    const struct order_ref *a = pa, *b = pb;
    if (a->hour != b->hour)
        return a->hour < b->hour ? -1 : 1;
    if (a->ts_ns != b->ts_ns)
        return a->ts_ns < b->ts_ns ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int block_add(struct store_conn *w, int64_t hour, const char *source,
                     const struct delivery *d, size_t n, struct sbuf *data)
{
    sqlite3_stmt *s = store__stmt(w, STMT_ORDER_BLOCK_ADD);
    if (!s)
        return CB_ESTORE;
    sbuf_reset(data);
    codec_orders_encode(data, d, n, hour * STORE_HOUR_NS);
    sqlite3_bind_int64(s, 1, hour);
    sqlite3_bind_int64(s, 2, n);
    store__bind_text(s, 3, source);
    sqlite3_bind_blob(s, 4, data->buf, (int)data->len, SQLITE_STATIC);
    return store__exec_stmt(w, s, "insert delivery block");
}

/* Stores the batch's new orders, one block per hour, in time order. */
static int store_blocks(struct store_conn *w, const struct write_req *req)
{
    const struct ingest_batch *b = req->batch;
    size_t cap = b->n ? b->n : 1, n = 0;
    struct order_ref *refs = xmalloc(cap * sizeof(*refs));
    struct delivery *d = xmalloc(cap * sizeof(*d));
    struct sbuf data = SBUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < b->n; i++)
        if (req->fresh[i])
            refs[n++] =
                (struct order_ref){store__hour_of(b->deliveries[i].ts_ns),
                                   b->deliveries[i].ts_ns, i};
    if (n)
        qsort(refs, n, sizeof(*refs), order_ref_cmp);
    for (size_t i = 0, start = 0; i < n && !rc; i++) {
        d[i] = b->deliveries[refs[i].idx];
        if (d[i].household >= 0) /* the dense id names it: neither the */
            d[i].household_id = d[i].address = NULL; /* id nor address kept */
        if (i + 1 == n || refs[i + 1].hour != refs[i].hour) {
            rc = block_add(w, refs[i].hour, req->source, d + start,
                           i + 1 - start, &data);
            start = i + 1;
        }
    }
    sbuf_release(&data);
    free(d);
    free(refs);
    return rc;
}

/* ---- dedup by key ---- */

/* The id's key: a 32-bit hash of the id but its last 4 bytes, then those
 * 4 bytes (big-endian).  Ids that count up (a platform's sequence) keep
 * their order within each 10,000 or so, so a batch's keys land in a few
 * runs of the b-tree and a commit rewrites a few pages, not one page per
 * order as a hash of the whole id would (measured: NDJSON orders with
 * sequential ids 40% slower); random ids (hex) spread as any hash does.
 * Two ids may share a key: the store then checks the id itself. */
int64_t store__order_key(const char *id)
{
    size_t len = strlen(id), head = len > 4 ? len - 4 : 0;
    uint64_t h = 0xcbf29ce484222325ULL, tail = 0;
    for (size_t i = 0; i < head; i++)
        h = (h ^ (unsigned char)id[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    for (size_t i = head; i < len; i++)
        tail = tail << 8 | (unsigned char)id[i];
    return (int64_t)((h & 0xffffffff00000000ULL) | tail);
}

struct keyed_id {
    int64_t key;
    const char *id;
};

static int keyed_cmp(const void *pa, const void *pb)
{
    const struct keyed_id *a = pa, *b = pb;
    return (a->key > b->key) - (a->key < b->key);
}

/* The ids of the orders stored in one hour, sorted by key (a conflict's
 * check), and this batch's new orders so far with their keys. */
struct order_dedup {
    int64_t hour; /* whose ids are loaded; INT64_MIN: none */
    struct ingest_batch stored;
    struct keyed_id *ids, *fresh;
    size_t n_ids, n_fresh;
};

static int scan_add(struct ingest_batch *v, int64_t hour, const void *p,
                    size_t len);

/* Loads the ids stored in hour (every source's blocks). */
static int dedup_load(struct store_conn *w, struct order_dedup *dd,
                      int64_t hour)
{
    sqlite3_stmt *s = store__stmt(w, STMT_ORDER_HOUR_BLOCKS);
    int rc = 0, step;
    if (!s)
        return CB_ESTORE;
    ingest_batch_release(&dd->stored);
    ingest_batch_init(&dd->stored, FEED_DELIVERIES);
    dd->hour = INT64_MIN;
    sqlite3_bind_int64(s, 1, hour);
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = scan_add(&dd->stored, hour, sqlite3_column_blob(s, 0),
                      (size_t)sqlite3_column_bytes(s, 0));
    sqlite3_reset(s);
    if (rc) {
        log_msg(LOG_ERROR, "store", "corrupt delivery block | hour=%lld",
                (long long)hour);
        return rc;
    }
    if (step != SQLITE_DONE)
        return store__sqlerr(w->db, "read delivery blocks");
    size_t n = dd->stored.n;
    dd->ids = xrealloc(dd->ids, (n ? n : 1) * sizeof(*dd->ids));
    for (size_t i = 0; i < n; i++)
        dd->ids[i] = (struct keyed_id){
            store__order_key(dd->stored.deliveries[i].order_id),
            dd->stored.deliveries[i].order_id};
    qsort(dd->ids, n, sizeof(*dd->ids), keyed_cmp);
    dd->n_ids = n;
    dd->hour = hour;
    return 0;
}

/* 1 when id (key) is among the loaded hour's ids. */
static int dedup_in_hour(const struct order_dedup *dd, int64_t key,
                         const char *id)
{
    struct keyed_id probe = {key, NULL};
    const struct keyed_id *k = dd->n_ids ? bsearch(&probe, dd->ids, dd->n_ids,
                                                   sizeof(*dd->ids), keyed_cmp)
                                         : NULL;
    if (!k)
        return 0;
    while (k > dd->ids && k[-1].key == key)
        k--;
    for (; k < dd->ids + dd->n_ids && k->key == key; k++)
        if (!strcmp(k->id, id))
            return 1;
    return 0;
}

/* The hour delivery_key gives key. */
static int key_hour(struct store_conn *w, int64_t key, int64_t *OUT_hour)
{
    sqlite3_stmt *s = store__stmt(w, STMT_ORDER_KEY_HOUR);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, key);
    int step = sqlite3_step(s);
    *OUT_hour = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : INT64_MIN;
    sqlite3_reset(s);
    return step == SQLITE_ROW ? 0 : store__sqlerr(w->db, "order key");
}

/* 1 when this batch's new orders (sorted by key) hold id. */
static int fresh_has(const struct order_dedup *dd, int64_t key, const char *id)
{
    struct keyed_id probe = {key, NULL};
    const struct keyed_id *k = dd->n_fresh
                                   ? bsearch(&probe, dd->fresh, dd->n_fresh,
                                             sizeof(*dd->fresh), keyed_cmp)
                                   : NULL;
    if (!k)
        return 0;
    while (k > dd->fresh && k[-1].key == key)
        k--;
    for (; k < dd->fresh + dd->n_fresh && k->key == key; k++)
        if (!strcmp(k->id, id))
            return 1;
    return 0;
}

/* Is the order whose key is taken (by an order of hour) already stored?
 * In this batch's new orders, in the blocks of that hour, or among the ids
 * whose key another id took (delivery_order, which takes it when it is
 * new). */
static int key_taken(struct store_conn *w, struct order_dedup *dd, int64_t key,
                     int64_t hour, const char *id, int *OUT_new)
{
    *OUT_new = 0;
    if (fresh_has(dd, key, id))
        return 0;
    if (dd->hour != hour && dedup_load(w, dd, hour))
        return CB_ESTORE;
    if (dedup_in_hour(dd, key, id))
        return 0;
    sqlite3_stmt *s = store__stmt(w, STMT_ORDER_ADD);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        sqlite3_reset(s);
        return store__sqlerr(w->db, "insert order id");
    }
    sqlite3_reset(s);
    *OUT_new = sqlite3_changes(w->db) > 0;
    return 0;
}

/* An order whose key was taken: resolved after the others, in the order of
 * the hour that holds its key (each hour's blocks read once a batch). */
struct conflict {
    int64_t hour, key;
    size_t idx;
};

static int conflict_cmp(const void *pa, const void *pb)
{
    const struct conflict *a = pa, *b = pb;
    if (a->hour != b->hour)
        return a->hour < b->hour ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static const char *order_id(const struct delivery *d)
{
    return d->order_id ? d->order_id : "";
}

/* Takes d's key when it is free: 1 in *OUT_new, or 0 and the hour of the
 * order that holds it in *OUT_hour. */
static int key_take(struct store_conn *w, const struct delivery *d, int64_t key,
                    int *OUT_new, int64_t *OUT_hour)
{
    sqlite3_stmt *s = store__stmt(w, STMT_ORDER_KEY_ADD);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, key);
    sqlite3_bind_int64(s, 2, store__hour_of(d->ts_ns));
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    if (step != SQLITE_DONE)
        return store__sqlerr(w->db, "insert order key");
    *OUT_new = sqlite3_changes(w->db) > 0;
    return *OUT_new ? 0 : key_hour(w, key, OUT_hour);
}

static void mark_new(struct write_req *req, size_t i)
{
    req->fresh[i] = 1;
    req->res.accepted++;
    req->res.unmatched += req->batch->deliveries[i].household < 0;
}

/* First pass: every order whose key is free is new; the others go to
 * conflicts (*OUT_n of them). */
static int take_keys(struct store_conn *w, struct write_req *req,
                     struct order_dedup *dd, struct conflict *conflicts,
                     size_t *OUT_n)
{
    const struct ingest_batch *b = req->batch;
    *OUT_n = 0;
    for (size_t i = 0; i < b->n; i++) {
        const char *id = order_id(&b->deliveries[i]);
        int64_t key = store__order_key(id), hour = 0;
        int fresh = 0;
        if (key_take(w, &b->deliveries[i], key, &fresh, &hour))
            return CB_ESTORE;
        if (fresh) {
            mark_new(req, i);
            dd->fresh[dd->n_fresh++] = (struct keyed_id){key, id};
        } else {
            conflicts[(*OUT_n)++] = (struct conflict){hour, key, i};
        }
    }
    return 0;
}

int store__orders_apply(struct store_conn *w, struct write_req *req)
{
    const struct ingest_batch *b = req->batch;
    struct order_dedup dd = {.hour = INT64_MIN};
    size_t cap = b->n ? b->n : 1, n_conflicts = 0;
    struct conflict *conflicts = xmalloc(cap * sizeof(*conflicts));
    ingest_batch_init(&dd.stored, FEED_DELIVERIES);
    dd.fresh = xmalloc(cap * sizeof(*dd.fresh));
    int rc = take_keys(w, req, &dd, conflicts, &n_conflicts);
    /* the same id twice in the batch: the first took the key, the next are
     * found among the new; an order of the batch whose key an older order
     * holds is checked in that order's hour */
    qsort(dd.fresh, dd.n_fresh, sizeof(*dd.fresh), keyed_cmp);
    qsort(conflicts, n_conflicts, sizeof(*conflicts), conflict_cmp);
    for (size_t k = 0; !rc && k < n_conflicts; k++) {
        const struct conflict *c = &conflicts[k];
        int fresh;
        rc = key_taken(w, &dd, c->key, c->hour,
                       order_id(&b->deliveries[c->idx]), &fresh);
        if (!rc && fresh)
            mark_new(req, c->idx);
        else if (!rc)
            req->res.duplicates++;
    }
    ingest_batch_release(&dd.stored);
    free(dd.ids);
    free(dd.fresh);
    free(conflicts);
    if (rc)
        return rc;
    return req->res.accepted ? store_blocks(w, req) : 0;
}

/* ---- the loaders' scan ---- */

static void push_delivery(struct ingest_batch *v, const struct delivery *d)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        v->deliveries = xrealloc(v->deliveries, v->cap * sizeof(*d));
    }
    v->deliveries[v->n++] = *d;
}

static int ts_cmp(const void *pa, const void *pb)
{
    const struct delivery *a = pa, *b = pb;
    return a->ts_ns < b->ts_ns ? -1 : a->ts_ns > b->ts_ns;
}

/* Emits v's orders at or after from_ns in time order, then empties v. */
static void scan_emit(struct ingest_batch *v, int64_t from_ns,
                      store_delivery_fn fn, void *ctx)
{
    if (v->n)
        qsort(v->deliveries, v->n, sizeof(*v->deliveries), ts_cmp);
    for (size_t i = 0; i < v->n; i++)
        if (v->deliveries[i].ts_ns >= from_ns)
            fn(ctx, &v->deliveries[i]);
    ingest_batch_release(v);
    ingest_batch_init(v, FEED_DELIVERIES);
}

/* Appends the orders of one block to v: an order block, or (rows written
 * before it) an ingest_log payload.  0 or CB_ESTORE (v unchanged). */
static int scan_add(struct ingest_batch *v, int64_t hour, const void *p,
                    size_t len)
{
    struct ingest_batch one;
    if (len && *(const unsigned char *)p == CODEC_ORDERS_VERSION) {
        size_t first = v->n;
        if (codec_orders_decode(p, len, hour * STORE_HOUR_NS, v)) {
            v->n = first; /* none of a corrupt block */
            return CB_ESTORE;
        }
        for (size_t i = first; i < v->n; i++)
            v->deliveries[i].address = v->deliveries[i].household_id = NULL;
        return 0;
    }
    if (store__log_decode(p, len, &one) || one.feed != FEED_DELIVERIES) {
        store__log_batch_release(&one);
        return CB_ESTORE;
    }
    for (size_t i = 0; i < one.n; i++) {
        struct delivery d = one.deliveries[i];
        d.order_id = arena_strndup(&v->arena, d.order_id, strlen(d.order_id));
        d.recipient = d.recipient ? arena_strndup(&v->arena, d.recipient,
                                                  strlen(d.recipient))
                                  : NULL;
        d.address = d.household_id = NULL;
        push_delivery(v, &d);
    }
    store__log_batch_release(&one);
    return 0;
}

struct orders_scan {
    struct ingest_batch v;
    int64_t from_ns;
    store_delivery_fn fn;
    void *ctx;
};

static int orders_scan_row(void *ctx, sqlite3_stmt *s)
{
    struct orders_scan *os = ctx;
    return scan_add(&os->v, sqlite3_column_int64(s, 0),
                    sqlite3_column_blob(s, 1),
                    (size_t)sqlite3_column_bytes(s, 1));
}

static void orders_scan_hour(void *ctx)
{
    struct orders_scan *os = ctx;
    scan_emit(&os->v, os->from_ns, os->fn, os->ctx);
}

int store__deliveries_scan(sqlite3 *db, int64_t from_ns, store_delivery_fn fn,
                           void *ctx)
{
    static const struct hour_scan hs = {orders_scan_row, orders_scan_hour,
                                        "scan deliveries"};
    struct orders_scan os;
    os.from_ns = from_ns;
    os.fn = fn;
    os.ctx = ctx;
    ingest_batch_init(&os.v, FEED_DELIVERIES);
    int rc = store__scan_by_hour(db,
                                 "SELECT hour,data FROM delivery_block"
                                 " WHERE hour>=?1 ORDER BY hour",
                                 from_ns, &hs, &os);
    ingest_batch_release(&os.v);
    return rc;
}

/* ---- migration 8: one row an order -> ids + blocks ---- */

static int migrate_hour(sqlite3 *db, sqlite3_stmt *add,
                        const struct ingest_batch *v, const char *source)
{
    struct store_conn tmp;
    struct write_req req;
    memset(&tmp, 0, sizeof(tmp));
    memset(&req, 0, sizeof(req));
    tmp.db = db;
    tmp.stmt[STMT_ORDER_BLOCK_ADD] = add;
    req.batch = v;
    req.source = source;
    req.fresh = xmalloc(v->n ? v->n : 1);
    memset(req.fresh, 1, v->n ? v->n : 1);
    int rc = v->n ? store_blocks(&tmp, &req) : 0;
    free(req.fresh);
    return rc;
}

static void migrate_push(struct ingest_batch *v, sqlite3_stmt *s)
{
    struct delivery d;
    memset(&d, 0, sizeof(d));
    const char *t;
    d.ts_ns = sqlite3_column_int64(s, 0);
    d.household = sqlite3_column_type(s, 1) == SQLITE_NULL
                      ? -1
                      : sqlite3_column_int(s, 1);
    t = (const char *)sqlite3_column_text(s, 2);
    d.order_id = arena_strndup(&v->arena, t ? t : "", t ? strlen(t) : 0);
    if ((t = (const char *)sqlite3_column_text(s, 3)))
        d.address = arena_strndup(&v->arena, t, strlen(t));
    if ((t = (const char *)sqlite3_column_text(s, 4)))
        d.recipient = arena_strndup(&v->arena, t, strlen(t));
    push_delivery(v, &d);
}

/* One block per (hour, source), as ingest would have written them. */
int store__orders_migrate(sqlite3 *db)
{
    struct ingest_batch v;
    sqlite3_stmt *s = NULL, *add = NULL;
    int64_t hour = 0;
    char *source = NULL;
    int rc = CB_ESTORE, step = SQLITE_DONE;
    ingest_batch_init(&v, FEED_DELIVERIES);
    if (sqlite3_prepare_v2(db,
                           "SELECT ts_ns,household,order_id,address,recipient,"
                           "source FROM delivery ORDER BY ts_ns/3600000000000"
                           ",source,ts_ns",
                           -1, &s, NULL) ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO delivery_block(hour,n,source,data)"
                           " VALUES(?1,?2,?3,?4)",
                           -1, &add, NULL))
        goto out_fail;
    rc = 0;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t h = store__hour_of(sqlite3_column_int64(s, 0));
        const char *src = (const char *)sqlite3_column_text(s, 5);
        if (v.n && (h != hour || strcmp(src ? src : "", source))) {
            rc = migrate_hour(db, add, &v, source);
            ingest_batch_release(&v);
            ingest_batch_init(&v, FEED_DELIVERIES);
        }
        hour = h;
        free(source);
        source = xstrdup(src ? src : "");
        migrate_push(&v, s);
    }
    if (!rc && step != SQLITE_DONE)
        rc = CB_ESTORE;
    if (!rc)
        rc = migrate_hour(db, add, &v, source);
    if (!rc && sqlite3_exec(db,
                            "INSERT INTO delivery_order SELECT order_id FROM"
                            " delivery; DROP TABLE delivery;",
                            NULL, NULL, NULL))
        rc = CB_ESTORE;
out_fail:
    if (rc)
        store__sqlerr(db, "migrate deliveries to blocks");
    sqlite3_finalize(s);
    sqlite3_finalize(add);
    ingest_batch_release(&v);
    free(source);
    return rc;
}

/* ---- migration 14: order keys ---- */

struct key_migration {
    sqlite3_stmt *key_add, *id_drop;
};

static int migrate_block_keys(struct key_migration *km, int64_t hour,
                              const struct ingest_batch *v)
{
    for (size_t i = 0; i < v->n; i++) {
        const char *id = v->deliveries[i].order_id;
        sqlite3_reset(km->key_add);
        sqlite3_bind_int64(km->key_add, 1, store__order_key(id));
        sqlite3_bind_int64(km->key_add, 2, hour);
        if (sqlite3_step(km->key_add) != SQLITE_DONE)
            return CB_ESTORE;
        if (!sqlite3_changes(sqlite3_db_handle(km->key_add)))
            continue; /* another id has the key: the id stays in the table */
        sqlite3_reset(km->id_drop);
        sqlite3_bind_text(km->id_drop, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(km->id_drop) != SQLITE_DONE)
            return CB_ESTORE;
    }
    return 0;
}

int store__orders_migrate_keys(sqlite3 *db)
{
    struct key_migration km = {NULL, NULL};
    struct ingest_batch v;
    sqlite3_stmt *s = NULL;
    int rc = CB_ESTORE, step = SQLITE_DONE;
    ingest_batch_init(&v, FEED_DELIVERIES);
    if (sqlite3_prepare_v2(db, "SELECT hour,data FROM delivery_block", -1, &s,
                           NULL) ||
        sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO delivery_key(key,hour)"
                           " VALUES(?1,?2)",
                           -1, &km.key_add, NULL) ||
        sqlite3_prepare_v2(db, "DELETE FROM delivery_order WHERE order_id=?1",
                           -1, &km.id_drop, NULL))
        goto out_fail;
    rc = 0;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t hour = sqlite3_column_int64(s, 0);
        /* a block that cannot be read keeps its ids in delivery_order */
        if (!scan_add(&v, hour, sqlite3_column_blob(s, 1),
                      (size_t)sqlite3_column_bytes(s, 1)))
            rc = migrate_block_keys(&km, hour, &v);
        ingest_batch_release(&v);
        ingest_batch_init(&v, FEED_DELIVERIES);
    }
    if (!rc && step != SQLITE_DONE)
        rc = CB_ESTORE;
out_fail:
    if (rc)
        store__sqlerr(db, "migrate order keys");
    sqlite3_finalize(s);
    sqlite3_finalize(km.key_add);
    sqlite3_finalize(km.id_drop);
    ingest_batch_release(&v);
    return rc;
}

/* ---- retention ---- */

/* Forgets the ids of one dropped block's orders: their keys (when the key
 * is theirs: same hour) and any collision entry. */
static int forget_ids(struct store_conn *w, int64_t hour,
                      const struct ingest_batch *v)
{
    for (size_t i = 0; i < v->n; i++) {
        const char *id = v->deliveries[i].order_id;
        sqlite3_stmt *k = store__stmt(w, STMT_ORDER_KEY_DROP);
        if (!k)
            return CB_ESTORE;
        sqlite3_bind_int64(k, 1, store__order_key(id));
        sqlite3_bind_int64(k, 2, hour);
        if (store__exec_stmt(w, k, "drop order key"))
            return CB_ESTORE;
        sqlite3_stmt *o = store__stmt(w, STMT_ORDER_ID_DROP);
        if (!o)
            return CB_ESTORE;
        sqlite3_bind_text(o, 1, id, -1, SQLITE_STATIC);
        if (store__exec_stmt(w, o, "drop order id"))
            return CB_ESTORE;
    }
    return 0;
}

/* Drops one block row and the ids of its orders. */
static int retain_row(struct store_conn *w, int64_t id, int64_t hour,
                      const void *data, size_t len, size_t *OUT_orders)
{
    struct ingest_batch v;
    int rc;
    ingest_batch_init(&v, FEED_DELIVERIES);
    /* a block that cannot be read goes, its ids stay known */
    rc = scan_add(&v, hour, data, len) ? 0 : forget_ids(w, hour, &v);
    *OUT_orders += v.n;
    ingest_batch_release(&v);
    sqlite3_stmt *s = rc ? NULL : store__stmt(w, STMT_ORDER_BLOCK_DROP);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, id);
    return store__exec_stmt(w, s, "drop delivery block");
}

struct retain_row {
    int64_t id, hour;
    void *data;
    size_t len;
};

int store__orders_retain(struct store_conn *w, int64_t cutoff_ns,
                         size_t max_rows, size_t *OUT_orders)
{
    sqlite3_stmt *s = store__stmt(w, STMT_RETAIN_ORDER_ROWS);
    struct retain_row *rows = xmalloc(max_rows * sizeof(*rows));
    size_t n = 0;
    int rc = 0, step = SQLITE_DONE;
    *OUT_orders = 0;
    if (!s) {
        free(rows);
        return CB_ESTORE;
    }
    /* whole hours only: an hour goes once all of it is past the cutoff */
    sqlite3_bind_int64(s, 1, store__hour_of(cutoff_ns));
    sqlite3_bind_int64(s, 2, (int64_t)max_rows);
    while (n < max_rows && (step = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(s, 2);
        rows[n] = (struct retain_row){sqlite3_column_int64(s, 0),
                                      sqlite3_column_int64(s, 1),
                                      xmalloc(len ? len : 1), len};
        memcpy(rows[n++].data, sqlite3_column_blob(s, 2), len);
    }
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = store__sqlerr(w->db, "read old delivery blocks");
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = retain_row(w, rows[i].id, rows[i].hour, rows[i].data,
                            rows[i].len, OUT_orders);
        free(rows[i].data);
    }
    free(rows);
    return rc;
}
