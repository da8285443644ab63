/*
 * store_orders.c - food-delivery orders: dedup by order id, storage in
 * blocks, the loaders' scan and the migration from one row per order.
 *
 * The layout.
 *
 *   delivery_order(order_id TEXT PK) WITHOUT ROWID   the idempotency key
 *   delivery_block(id INTEGER PK, hour, n, source, data BLOB)
 *                  index (hour)
 *
 * An order is new when INSERT OR IGNORE into delivery_order adds its id:
 * a b-tree of bare ids, the cheapest exact dedup SQLite offers (measured:
 * ~770k ids/s against ~370k rows/s for the old full row plus its time
 * index).  The new orders of one batch then go, one row per hour they fall
 * in, in time order, into delivery_block; data is an order block
 * (store_codec.h: time deltas, varints, hex ids and recipients as 8
 * bytes; about 20 bytes an order with a household id, where the log
 * payload this replaced took about 95 on average).  A matched order's
 * household_id text is not kept: its household (dense id) names it.  Rows
 * written before the order block (an ingest_log payload of the deliveries
 * feed, store_log.c; first byte 1) are still read.  Nothing reads an order
 * by id; the scenes read them by time at start (store__deliveries_scan).
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
        if (d[i].household >= 0)
            d[i].household_id = NULL; /* the dense id names it */
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

int store__orders_apply(struct store_conn *w, struct write_req *req)
{
    const struct ingest_batch *b = req->batch;
    sqlite3_stmt *s = store__stmt(w, STMT_ORDER_ADD);
    if (!s)
        return CB_ESTORE;
    for (size_t i = 0; i < b->n; i++) {
        const struct delivery *d = &b->deliveries[i];
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, d->order_id, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            return store__sqlerr(w->db, "insert order id");
        if (!sqlite3_changes(w->db)) {
            req->res.duplicates++;
            continue;
        }
        req->fresh[i] = 1;
        req->res.accepted++;
        req->res.unmatched += d->household < 0;
    }
    sqlite3_reset(s);
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
 * before it) an ingest_log payload. */
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
