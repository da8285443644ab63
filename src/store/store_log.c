/*
 * store_log.c - encodes and decodes ingest_log payloads (format in
 * store_int.h).
 *
 * Numbers are written byte by byte in little-endian order, so the log is
 * portable across hosts.  The decoder trusts nothing: every length is
 * checked against the payload, and a payload that does not end exactly
 * after its n records is rejected.
 */
#include <string.h>

#include "store/store_int.h"

#define STR_NULL 0xffffffffu

static void put_u64(struct sbuf *p, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    sbuf_add(p, b, (size_t)bytes);
}

static void put_i32(struct sbuf *p, int32_t v)
{
    put_u64(p, (uint32_t)v, 4);
}

static void put_i64(struct sbuf *p, int64_t v)
{
    put_u64(p, (uint64_t)v, 8);
}

static void put_f64(struct sbuf *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    put_u64(p, u, 8);
}

static void put_str(struct sbuf *p, const char *s)
{
    if (!s) {
        put_u64(p, STR_NULL, 4);
        return;
    }
    size_t len = strlen(s);
    put_u64(p, (uint32_t)len, 4);
    sbuf_add(p, s, len);
}

void store__log_begin(struct sbuf *p, enum feed feed)
{
    sbuf_reset(p);
    put_u64(p, STORE_LOG_VERSION, 1);
    put_u64(p, (uint64_t)feed, 1);
    put_u64(p, 0, 2);
    put_u64(p, 0, 4);
}

void store__log_finish(struct sbuf *p, uint32_t n)
{
    for (int i = 0; i < 4; i++)
        p->buf[4 + i] = (char)(n >> (8 * i));
}

void store__log_reading(struct sbuf *p, const struct reading *r)
{
    put_i32(p, r->household);
    put_u64(p, r->metric, 1);
    put_u64(p, r->field, 1);
    put_u64(p, 0, 2);
    put_i64(p, r->ts_ns);
    put_f64(p, r->value);
}

void store__log_delivery(struct sbuf *p, const struct delivery *d)
{
    put_i64(p, d->ts_ns);
    put_i32(p, d->household);
    put_str(p, d->order_id);
    put_str(p, d->household_id);
    put_str(p, d->address);
    put_str(p, d->recipient);
}

void store__log_event(struct sbuf *p, const struct event *e, const char *source,
                      int32_t street_id)
{
    put_i64(p, e->ts_ns);
    put_f64(p, e->lat);
    put_f64(p, e->lon);
    put_i32(p, street_id);
    put_str(p, source);
    put_str(p, e->event_id);
    put_str(p, e->type);
    put_str(p, e->street);
    put_str(p, e->attrs_json);
}

void store__log_household(struct sbuf *p, const struct household *h, int32_t id,
                          int32_t street_id)
{
    put_i32(p, id);
    put_i32(p, street_id);
    put_f64(p, h->lat);
    put_f64(p, h->lon);
    put_f64(p, h->area_m2);
    put_i32(p, h->rooms);
    put_i32(p, h->registered_occupants);
    put_i32(p, h->flags);
    put_str(p, h->household_id);
    put_str(p, h->street);
    put_str(p, h->committee);
    put_str(p, h->building);
    put_str(p, h->address);
}

/* ---- decoding ---- */

struct cursor {
    const unsigned char *p, *end;
    int bad;
    struct arena *arena;
};

static uint64_t get_u(struct cursor *c, int bytes)
{
    if (c->bad || c->end - c->p < bytes) {
        c->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)c->p[i] << (8 * i);
    c->p += bytes;
    return v;
}

static int32_t get_i32(struct cursor *c)
{
    return (int32_t)(uint32_t)get_u(c, 4);
}

static int64_t get_i64(struct cursor *c)
{
    return (int64_t)get_u(c, 8);
}

static double get_f64(struct cursor *c)
{
    uint64_t u = get_u(c, 8);
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static const char *get_str(struct cursor *c)
{
    uint32_t len = (uint32_t)get_u(c, 4);
    if (c->bad || len == STR_NULL)
        return NULL;
    if ((size_t)(c->end - c->p) < len) {
        c->bad = 1;
        return NULL;
    }
    const char *s = arena_strndup(c->arena, (const char *)c->p, len);
    c->p += len;
    return s;
}

static void get_reading(struct cursor *c, struct reading *r)
{
    r->household = get_i32(c);
    r->metric = (uint8_t)get_u(c, 1);
    r->field = (uint8_t)get_u(c, 1);
    get_u(c, 2);
    r->ts_ns = get_i64(c);
    r->value = get_f64(c);
    if (r->metric >= METRIC_COUNT || r->field > READING_DELTA)
        c->bad = 1;
}

static void get_delivery(struct cursor *c, struct delivery *d)
{
    d->ts_ns = get_i64(c);
    d->household = get_i32(c);
    d->order_id = get_str(c);
    d->household_id = get_str(c);
    d->address = get_str(c);
    d->recipient = get_str(c);
}

static void get_event(struct cursor *c, struct event *e)
{
    e->ts_ns = get_i64(c);
    e->lat = get_f64(c);
    e->lon = get_f64(c);
    get_i32(c); /* street_id: for future consumers */
    e->source = get_str(c);
    e->event_id = get_str(c);
    e->type = get_str(c);
    e->street = get_str(c);
    e->attrs_json = get_str(c);
}

static void get_household(struct cursor *c, struct household *h)
{
    get_i32(c); /* dense id: callers resolve household_id */
    get_i32(c); /* street_id */
    h->lat = get_f64(c);
    h->lon = get_f64(c);
    h->area_m2 = get_f64(c);
    h->rooms = get_i32(c);
    h->registered_occupants = get_i32(c);
    h->flags = get_i32(c);
    h->household_id = get_str(c);
    h->street = get_str(c);
    h->committee = get_str(c);
    h->building = get_str(c);
    h->address = get_str(c);
}

/* Sizes the record array of b's feed for n records, in the arena. */
static int alloc_records(struct ingest_batch *b, uint32_t n, size_t left)
{
    static const size_t min_size[FEED_COUNT] = {44 + 20, 24, 12 + 16, 28 + 20};
    static const size_t rec_size[FEED_COUNT] = {
        sizeof(struct household), sizeof(struct reading),
        sizeof(struct delivery), sizeof(struct event)};
    if ((size_t)n > left / min_size[b->feed])
        return CB_ESTORE;
    void *recs = arena_alloc(&b->arena, rec_size[b->feed] * (n ? n : 1));
    memset(recs, 0, rec_size[b->feed] * (n ? n : 1));
    b->households = b->feed == FEED_REGISTRY ? recs : NULL;
    b->readings = b->feed == FEED_READINGS ? recs : NULL;
    b->deliveries = b->feed == FEED_DELIVERIES ? recs : NULL;
    b->events = b->feed == FEED_EVENTS ? recs : NULL;
    b->n = b->cap = n;
    return 0;
}

static void get_record(struct cursor *c, struct ingest_batch *b, size_t i)
{
    switch (b->feed) {
    case FEED_READINGS:
        get_reading(c, &b->readings[i]);
        break;
    case FEED_DELIVERIES:
        get_delivery(c, &b->deliveries[i]);
        break;
    case FEED_EVENTS:
        get_event(c, &b->events[i]);
        break;
    default:
        get_household(c, &b->households[i]);
        break;
    }
}

int store__log_decode(const void *payload, size_t len,
                      struct ingest_batch *OUT_b)
{
    struct cursor c = {payload, (const unsigned char *)payload + len, 0,
                       &OUT_b->arena};
    memset(OUT_b, 0, sizeof(*OUT_b));
    unsigned version = (unsigned)get_u(&c, 1), feed = (unsigned)get_u(&c, 1);
    get_u(&c, 2);
    uint32_t n = (uint32_t)get_u(&c, 4);
    if (c.bad || version != STORE_LOG_VERSION || feed >= FEED_COUNT)
        goto out_bad;
    OUT_b->feed = (enum feed)feed;
    if (alloc_records(OUT_b, n, (size_t)(c.end - c.p)))
        goto out_bad;
    for (uint32_t i = 0; i < n && !c.bad; i++)
        get_record(&c, OUT_b, i);
    if (c.bad || c.p != c.end)
        goto out_bad;
    return 0;
out_bad:
    store__log_batch_release(OUT_b);
    return CB_ESTORE;
}

void store__log_batch_release(struct ingest_batch *b)
{
    arena_release(&b->arena);
    memset(b, 0, sizeof(*b));
}
