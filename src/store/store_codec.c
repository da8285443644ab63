/*
 * store_codec.c - the compressed series block (format: store_codec.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_codec.h"

#define KIND_FIELD 0x4
#define TIMES_REGULAR 0x1    /* version 2: every interval is the first */
#define TIMES_IN_SECONDS 0x2 /* version 2: times counted in seconds */
#define TIMES_SECOND 1000000000LL
#define KIND_RAW 0x8
#define MAX_SAFE_COUNT 9007199254740992.0 /* 2^53 */

static const double pow10_table[CODEC_MAX_DIGITS + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* ---- varints ---- */

static void put_varint(struct sbuf *out, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    sbuf_add(out, b, n);
}

static uint64_t zigzag(uint64_t v)
{
    return (v << 1) ^ (uint64_t) - (int64_t)(v >> 63);
}

static uint64_t unzigzag(uint64_t v)
{
    return (v >> 1) ^ (uint64_t) - (int64_t)(v & 1);
}

struct cursor {
    const unsigned char *p, *end;
};

/* An IEEE double, 8 bytes little-endian (a value stored raw). */
static void put_f64(struct sbuf *out, double v)
{
    unsigned char b[8];
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    for (int j = 0; j < 8; j++)
        b[j] = (unsigned char)(bits >> (8 * j));
    sbuf_add(out, b, 8);
}

static int get_f64(struct cursor *c, double *OUT_v)
{
    uint64_t bits = 0;
    if (c->end - c->p < 8)
        return CB_ESTORE;
    for (int j = 7; j >= 0; j--)
        bits = bits << 8 | c->p[j];
    c->p += 8;
    memcpy(OUT_v, &bits, sizeof(bits));
    return 0;
}

static int get_varint(struct cursor *c, uint64_t *OUT_v)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->p == c->end)
            return CB_ESTORE;
        unsigned char b = *c->p++;
        if (shift == 63 && b > 1)
            return CB_ESTORE; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *OUT_v = v;
            return 0;
        }
    }
    return CB_ESTORE;
}

/* ---- values ---- */

/* 1 and *OUT_u when v is stored as a count of 10^-digits. */
static int value_count(double v, int digits, int64_t *OUT_u)
{
    double x = v * pow10_table[digits];
    if (!isfinite(x) || fabs(x) >= MAX_SAFE_COUNT - 1)
        return 0;
    *OUT_u = llround(x);
    return 1;
}

double codec_round(double v, int digits)
{
    int64_t u;
    if (digits < 0 || digits > CODEC_MAX_DIGITS || !value_count(v, digits, &u))
        return v;
    return (double)u / pow10_table[digits];
}

/* ---- encoding ---- */

static size_t run_end(const struct reading *r, size_t n, size_t i)
{
    size_t j = i + 1;
    while (j < n && r[j].household == r[i].household &&
           r[j].metric == r[i].metric && r[j].field == r[i].field)
        j++;
    return j;
}

/* 1 when every interval of r[0..n) equals the first. */
static int times_regular(const struct reading *r, size_t n)
{
    uint64_t d = (uint64_t)r[1].ts_ns - (uint64_t)r[0].ts_ns;
    for (size_t i = 2; i < n; i++)
        if ((uint64_t)r[i].ts_ns - (uint64_t)r[i - 1].ts_ns != d)
            return 0;
    return 1;
}

/* 1 when base_ts and every time of r[0..n) are whole seconds. */
static int whole_seconds(const struct reading *r, size_t n, int64_t base_ts)
{
    if (base_ts % TIMES_SECOND)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].ts_ns % TIMES_SECOND)
            return 0;
    return 1;
}

/* a - b in the run's unit (modulo 2^64). */
static uint64_t time_diff(int64_t a, int64_t b, int sec)
{
    return sec ? (uint64_t)(a / TIMES_SECOND) - (uint64_t)(b / TIMES_SECOND)
               : (uint64_t)a - (uint64_t)b;
}

static void encode_times(struct sbuf *body, const struct reading *r, size_t n,
                         int64_t base_ts)
{
    int sec = whole_seconds(r, n, base_ts);
    int regular = n >= 3 && times_regular(r, n);
    uint64_t delta = 0;
    sbuf_addch(body, (char)((regular ? TIMES_REGULAR : 0) |
                            (sec ? TIMES_IN_SECONDS : 0)));
    put_varint(body, zigzag(time_diff(r[0].ts_ns, base_ts, sec)));
    for (size_t i = 1; i < n && !(regular && i >= 2); i++) {
        uint64_t d = time_diff(r[i].ts_ns, r[i - 1].ts_ns, sec);
        put_varint(body, i == 1 ? d : zigzag(d - delta));
        delta = d;
    }
}

/* Appends the values; returns 1 when they had to be stored raw. */
static int encode_values(struct sbuf *body, const struct reading *r, size_t n,
                         int digits)
{
    int64_t u;
    for (size_t i = 0; i < n; i++)
        if (!value_count(r[i].value, digits, &u)) {
            for (size_t k = 0; k < n; k++)
                put_f64(body, r[k].value);
            return 1;
        }
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        value_count(r[i].value, digits, &u);
        put_varint(body, zigzag((uint64_t)u - prev));
        prev = (uint64_t)u;
    }
    return 0;
}

/* A run of one reading in whole seconds (base_ts too) whose value counts:
 * written in the short form, its time from the previous short run's. */
static int short_run(const struct reading *r, size_t n, int64_t base_ts,
                     int digits, int64_t *OUT_u)
{
    return n == 1 && whole_seconds(r, 1, base_ts) &&
           value_count(r->value, digits, OUT_u);
}

void codec_encode(struct sbuf *out, const struct reading *r, size_t n,
                  int32_t base_household, int64_t base_ts,
                  const int digits[METRIC_COUNT])
{
    struct sbuf body = SBUF_INIT;
    size_t nruns = 0;
    for (size_t i = 0; i < n; i = run_end(r, n, i))
        nruns++;
    sbuf_addch(out, CODEC_VERSION);
    put_varint(out, nruns);
    int64_t prev_hh = base_household, u, prev_short = base_ts;
    for (size_t i = 0, j; i < n; i = j) {
        j = run_end(r, n, i);
        int d = digits[r[i].metric],
            one = short_run(r + i, j - i, base_ts, d, &u);
        int raw = 0;
        sbuf_reset(&body);
        if (one) {
            put_varint(&body, zigzag(time_diff(r[i].ts_ns, prev_short, 1)));
            put_varint(&body, zigzag((uint64_t)u));
            prev_short = r[i].ts_ns;
        } else {
            encode_times(&body, r + i, j - i, base_ts);
            raw = encode_values(&body, r + i, j - i, d);
        }
        put_varint(out, (uint64_t)((int64_t)r[i].household - prev_hh));
        sbuf_addch(out, (char)(r[i].metric | (r[i].field ? KIND_FIELD : 0) |
                               (raw ? KIND_RAW : 0) | d << 4));
        put_varint(out, one ? 0 : j - i);
        if (!one)
            put_varint(out, body.len);
        sbuf_add(out, body.buf, body.len);
        prev_hh = r[i].household;
    }
    sbuf_release(&body);
}

/* ---- decoding ---- */

static struct reading *out_reserve(struct codec_out *out, size_t n)
{
    if (out->n + n > out->cap) {
        out->cap = (out->n + n) * 2;
        out->e = xrealloc(out->e, out->cap * sizeof(*out->e));
    }
    return out->e + out->n;
}

/* Version 2's times flags: 0, or CB_ESTORE for unknown bits or a regular
 * run shorter than 3. */
static int times_flags(struct cursor *c, uint64_t n, unsigned *OUT)
{
    if (c->p == c->end)
        return CB_ESTORE;
    *OUT = *c->p++;
    if ((*OUT & ~(unsigned)(TIMES_REGULAR | TIMES_IN_SECONDS)) ||
        ((*OUT & TIMES_REGULAR) && n < 3))
        return CB_ESTORE;
    return 0;
}

static int decode_times(struct cursor *c, struct reading *r, uint64_t n,
                        int64_t base_ts, int version)
{
    uint64_t v, prev, delta = 0, unit = 1;
    unsigned flags = 0;
    if (version >= 2 && times_flags(c, n, &flags))
        return CB_ESTORE;
    if (flags & TIMES_IN_SECONDS)
        unit = TIMES_SECOND;
    if (get_varint(c, &v))
        return CB_ESTORE;
    prev = unzigzag(v) * unit + (uint64_t)base_ts;
    r[0].ts_ns = (int64_t)prev;
    for (uint64_t i = 1; i < n; i++) {
        int regular = (flags & TIMES_REGULAR) && i >= 2;
        if (!regular && get_varint(c, &v))
            return CB_ESTORE;
        delta = i == 1    ? v * unit
                : regular ? delta
                          : delta + unzigzag(v) * unit;
        prev += delta;
        r[i].ts_ns = (int64_t)prev;
    }
    return 0;
}

static int decode_values(struct cursor *c, struct reading *r, uint64_t n,
                         int raw, int digits)
{
    uint64_t v, prev = 0;
    if (raw && (size_t)(c->end - c->p) / 8 < n)
        return CB_ESTORE;
    for (uint64_t i = 0; i < n; i++) {
        if (raw) {
            if (get_f64(c, &r[i].value))
                return CB_ESTORE;
            continue;
        }
        if (get_varint(c, &v))
            return CB_ESTORE;
        prev += unzigzag(v);
        r[i].value = (double)(int64_t)prev / pow10_table[digits];
    }
    return 0;
}

struct run_head {
    uint64_t gap, n, len;
    unsigned kind;
    int one; /* version 3's short form: one reading, no length */
};

static int read_run_head(struct cursor *c, int version, struct run_head *h)
{
    if (get_varint(c, &h->gap) || c->p == c->end)
        return CB_ESTORE;
    h->kind = *c->p++;
    if ((h->kind & 3) >= METRIC_COUNT || (h->kind >> 4) > CODEC_MAX_DIGITS ||
        get_varint(c, &h->n))
        return CB_ESTORE;
    h->one = version >= 3 && !h->n;
    if (h->one) /* a value that counts: never raw */
        return (h->kind & KIND_RAW) ? CB_ESTORE : 0;
    if (get_varint(c, &h->len))
        return CB_ESTORE;
    /* every reading takes at least a byte of its body (its value) */
    if (!h->n || h->len > (uint64_t)(c->end - c->p) || h->n > h->len)
        return CB_ESTORE;
    return 0;
}

/* A short run's time (its seconds from *prev_short's, which it becomes)
 * and, when value is not NULL, its value. */
static int decode_short(struct cursor *c, const struct run_head *h,
                        int64_t *prev_short, struct reading *value)
{
    uint64_t v;
    if (get_varint(c, &v))
        return CB_ESTORE;
    uint64_t sec = (uint64_t)(*prev_short / TIMES_SECOND) + unzigzag(v);
    *prev_short = (int64_t)(sec * (uint64_t)TIMES_SECOND);
    if (get_varint(c, &v))
        return CB_ESTORE;
    if (value) {
        value->ts_ns = *prev_short;
        value->metric = (uint8_t)(h->kind & 3);
        value->field = (h->kind & KIND_FIELD) ? READING_DELTA : READING_INDEX;
        value->value = (double)(int64_t)unzigzag(v) / pow10_table[h->kind >> 4];
    }
    return 0;
}

static int decode_run(struct cursor *c, const struct run_head *h, int64_t hh,
                      int64_t base_ts, int version, struct codec_out *out)
{
    struct cursor body = {c->p, c->p + h->len};
    struct reading *r = out_reserve(out, (size_t)h->n);
    memset(r, 0, (size_t)h->n * sizeof(*r));
    for (uint64_t i = 0; i < h->n; i++) {
        r[i].household = (int32_t)hh;
        r[i].metric = (uint8_t)(h->kind & 3);
        r[i].field = (h->kind & KIND_FIELD) ? READING_DELTA : READING_INDEX;
    }
    if (decode_times(&body, r, h->n, base_ts, version) ||
        decode_values(&body, r, h->n, (h->kind & KIND_RAW) != 0,
                      (int)(h->kind >> 4)) ||
        body.p != body.end)
        return CB_ESTORE;
    out->n += (size_t)h->n;
    c->p = body.end;
    return 0;
}

int codec_decode(const void *data, size_t len, int32_t base_household,
                 int64_t base_ts, int32_t household, struct codec_out *out)
{
    struct cursor c = {data, (const unsigned char *)data + len};
    uint64_t nruns;
    int64_t hh = base_household;
    int version = len ? *c.p++ : 0;
    int64_t prev_short = base_ts;
    if (version < 1 || version > CODEC_VERSION || get_varint(&c, &nruns) ||
        nruns > len)
        return CB_ESTORE;
    for (uint64_t i = 0; i < nruns; i++) {
        struct run_head h;
        if (read_run_head(&c, version, &h) || h.gap > INT32_MAX ||
            hh + (int64_t)h.gap > INT32_MAX)
            return CB_ESTORE;
        hh += (int64_t)h.gap;
        int wanted = household < 0 || hh == household;
        if (h.one) { /* its time is read even when skipped: a chain */
            struct reading *r = wanted ? out_reserve(out, 1) : NULL;
            if (r) {
                memset(r, 0, sizeof(*r));
                r->household = (int32_t)hh;
            }
            if (decode_short(&c, &h, &prev_short, r))
                return CB_ESTORE;
            out->n += wanted;
            continue;
        }
        if (!wanted) {
            c.p += h.len;
            continue;
        }
        if (decode_run(&c, &h, hh, base_ts, version, out))
            return CB_ESTORE;
    }
    return c.p == c.end ? 0 : CB_ESTORE;
}

/* ---- hourly use of a meter-day ---- */

#define HOURS_KIND_RAW 0x10
#define HOURS_KIND_NIBBLES 0x20
#define HOURS_KIND_FULL 0x40
#define HOURS_MASK_ALL ((1u << CODEC_HOURS) - 1)
#define NIBBLES_MAX 22 /* a value's, at most: 66 bits hold 64 */

/* 1 when every set hour of h is stored as a count of 10^-digits. */
static int hours_fit(const struct codec_hours *h, int digits)
{
    int64_t u;
    if (digits < 0 || digits > CODEC_MAX_DIGITS)
        return 0;
    for (int i = 0; i < CODEC_HOURS; i++)
        if (h->mask >> i & 1 && !value_count(h->use[i], digits, &u))
            return 0;
    return 1;
}

/* Nibble varints (format: store_codec.h): nibbles packed two a byte, the
 * low one first; half: a low nibble is written and the high one is not. */
struct nibbles {
    struct sbuf *out;
    int half;
};

static void put_nibble(struct nibbles *nw, unsigned v)
{
    if (nw->half)
        nw->out->buf[nw->out->len - 1] |= (char)(v << 4);
    else
        sbuf_addch(nw->out, (char)v);
    nw->half = !nw->half;
}

static void put_nibble_varint(struct nibbles *nw, uint64_t v)
{
    while (v >= 0x8) {
        put_nibble(nw, (unsigned)(v & 0x7) | 0x8);
        v >>= 3;
    }
    put_nibble(nw, (unsigned)v);
}

struct nibble_cursor {
    struct cursor c;
    int half; /* the next nibble is the high one of c.p[-1] */
};

static int get_nibble(struct nibble_cursor *nc, unsigned *OUT)
{
    if (nc->half) {
        *OUT = nc->c.p[-1] >> 4;
    } else {
        if (nc->c.p == nc->c.end)
            return CB_ESTORE;
        *OUT = *nc->c.p++ & 0xf;
    }
    nc->half = !nc->half;
    return 0;
}

static int get_nibble_varint(struct nibble_cursor *nc, uint64_t *OUT_v)
{
    uint64_t v = 0;
    unsigned b;
    for (int i = 0; i < NIBBLES_MAX; i++) {
        if (get_nibble(nc, &b))
            return CB_ESTORE;
        if (i == NIBBLES_MAX - 1 && (b & 0x7) > 1)
            return CB_ESTORE; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7) << (3 * i);
        if (!(b & 0x8)) {
            *OUT_v = v;
            return 0;
        }
    }
    return CB_ESTORE;
}

void codec_hours_encode(struct sbuf *out, const struct codec_hours *h,
                        int digits)
{
    int raw = !hours_fit(h, digits);
    uint32_t mask = h->mask & HOURS_MASK_ALL;
    unsigned kind =
        (raw ? HOURS_KIND_RAW : (unsigned)digits | HOURS_KIND_NIBBLES) |
        (mask == HOURS_MASK_ALL ? HOURS_KIND_FULL : 0);
    struct nibbles nw = {out, 0};
    int64_t u = 0, prev = 0;
    sbuf_addch(out, (char)kind);
    if (!(kind & HOURS_KIND_FULL)) {
        unsigned char m[3] = {(unsigned char)mask, (unsigned char)(mask >> 8),
                              (unsigned char)(mask >> 16)};
        sbuf_add(out, m, sizeof(m));
    }
    for (int i = 0; i < CODEC_HOURS; i++) {
        if (!(mask >> i & 1))
            continue;
        if (raw) {
            put_f64(out, h->use[i]);
            continue;
        }
        value_count(h->use[i], digits, &u);
        put_nibble_varint(&nw, zigzag((uint64_t)u - (uint64_t)prev));
        prev = u;
    }
}

/* The next value's count delta: a nibble or an LEB128 varint. */
static int get_hour_delta(struct nibble_cursor *nc, int nibbles,
                          uint64_t *OUT_v)
{
    return nibbles ? get_nibble_varint(nc, OUT_v) : get_varint(&nc->c, OUT_v);
}

/* The kind byte and the mask of a day of hours; c is moved past them. */
static int hours_head(struct cursor *c, unsigned *OUT_kind, uint32_t *OUT_mask)
{
    if (c->p == c->end)
        return CB_ESTORE;
    unsigned kind = *c->p++;
    int raw = (kind & HOURS_KIND_RAW) != 0;
    if ((kind &
         ~(HOURS_KIND_RAW | HOURS_KIND_NIBBLES | HOURS_KIND_FULL | 0xfu)) ||
        (kind & 0xf) > CODEC_MAX_DIGITS ||
        (raw && (kind & (0xfu | HOURS_KIND_NIBBLES))))
        return CB_ESTORE;
    *OUT_kind = kind;
    if (kind & HOURS_KIND_FULL) {
        *OUT_mask = HOURS_MASK_ALL;
        return 0;
    }
    if (c->end - c->p < 3)
        return CB_ESTORE;
    *OUT_mask =
        (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16;
    c->p += 3;
    return 0;
}

int codec_hours_decode(const void *data, size_t len, struct codec_hours *OUT,
                       int *OUT_digits)
{
    memset(OUT, 0, sizeof(*OUT));
    if (!data)
        return CB_ESTORE;
    struct nibble_cursor nc = {{data, (const unsigned char *)data + len}, 0};
    unsigned kind;
    if (hours_head(&nc.c, &kind, &OUT->mask))
        return CB_ESTORE;
    int raw = (kind & HOURS_KIND_RAW) != 0, digits = (int)(kind & 0xf);
    int nibbles = (kind & HOURS_KIND_NIBBLES) != 0;
    uint64_t prev = 0, v;
    for (int i = 0; i < CODEC_HOURS; i++) {
        if (!(OUT->mask >> i & 1))
            continue;
        if (raw) {
            if (get_f64(&nc.c, &OUT->use[i]))
                return CB_ESTORE;
            continue;
        }
        if (get_hour_delta(&nc, nibbles, &v))
            return CB_ESTORE;
        prev += unzigzag(v);
        OUT->use[i] = (double)(int64_t)prev / pow10_table[digits];
    }
    if (OUT_digits)
        *OUT_digits = raw ? -1 : digits;
    /* an odd count of nibbles leaves the last high nibble 0 */
    if (nc.half && nc.c.p[-1] >> 4)
        return CB_ESTORE;
    return nc.c.p == nc.c.end ? 0 : CB_ESTORE;
}

/* ---- delivery orders of an hour ---- */

#define ORD_NS 0x01
#define ORD_HH 0x02
#define ORD_HHID 0x04
#define ORD_ADDR 0x08
#define ORD_ID_HEX 0x10
#define ORD_ID_SAME 0x20
#define ORD_REC 0x40
#define ORD_REC_HEX 0x80
#define HEX_DIGITS 16
#define NS_PER_S 1000000000LL

static const char hex_digit[] = "0123456789abcdef";

/* 1 when s[0..16) are lowercase hex digits; their value in *OUT. */
static int hex16(const char *s, uint64_t *OUT)
{
    uint64_t v = 0;
    for (int i = 0; i < HEX_DIGITS; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    *OUT = v;
    return 1;
}

static void put_u64be(struct sbuf *out, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (56 - 8 * i));
    sbuf_add(out, b, 8);
}

static void put_str(struct sbuf *out, const char *s, size_t len)
{
    put_varint(out, len);
    sbuf_add(out, s, len);
}

/* The split of an order id into a prefix and 16 hex digits, if it has
 * that form. */
struct order_id_form {
    int hex;
    size_t prefix_len;
    uint64_t digits;
};

static struct order_id_form id_form(const char *id)
{
    struct order_id_form f = {0, 0, 0};
    size_t len = strlen(id);
    if (len >= HEX_DIGITS && hex16(id + len - HEX_DIGITS, &f.digits)) {
        f.hex = 1;
        f.prefix_len = len - HEX_DIGITS;
    }
    return f;
}

static int64_t floor_sec(int64_t ts_ns)
{
    int64_t s = ts_ns / NS_PER_S;
    return s - (ts_ns % NS_PER_S < 0);
}

static void encode_order(struct sbuf *out, const struct delivery *d,
                         int64_t *prev_sec, int64_t *prev_hh,
                         const char **prev_prefix, size_t *prev_prefix_len)
{
    int64_t sec = floor_sec(d->ts_ns), ns = d->ts_ns % NS_PER_S;
    ns += ns < 0 ? NS_PER_S : 0;
    const char *id = d->order_id ? d->order_id : "";
    struct order_id_form f = id_form(id);
    uint64_t rec = 0;
    int rec_hex = d->recipient && strlen(d->recipient) == HEX_DIGITS &&
                  hex16(d->recipient, &rec);
    int same = f.hex && *prev_prefix && f.prefix_len == *prev_prefix_len &&
               !memcmp(id, *prev_prefix, f.prefix_len);
    unsigned flags = (ns ? ORD_NS : 0) | (d->household >= 0 ? ORD_HH : 0) |
                     (d->household_id ? ORD_HHID : 0) |
                     (d->address ? ORD_ADDR : 0) | (f.hex ? ORD_ID_HEX : 0) |
                     (same ? ORD_ID_SAME : 0) | (d->recipient ? ORD_REC : 0) |
                     (rec_hex ? ORD_REC_HEX : 0);
    sbuf_addch(out, (char)flags);
    put_varint(out, zigzag((uint64_t)sec - (uint64_t)*prev_sec));
    *prev_sec = sec;
    if (ns)
        put_varint(out, (uint64_t)ns);
    if (d->household >= 0) {
        put_varint(out, zigzag((uint64_t)d->household - (uint64_t)*prev_hh));
        *prev_hh = d->household;
    }
    if (f.hex) {
        if (!same)
            put_str(out, id, f.prefix_len);
        put_u64be(out, f.digits);
        *prev_prefix = id;
        *prev_prefix_len = f.prefix_len;
    } else {
        put_str(out, id, strlen(id));
    }
    if (d->household_id)
        put_str(out, d->household_id, strlen(d->household_id));
    if (d->address)
        put_str(out, d->address, strlen(d->address));
    if (rec_hex)
        put_u64be(out, rec);
    else if (d->recipient)
        put_str(out, d->recipient, strlen(d->recipient));
}

void codec_orders_encode(struct sbuf *out, const struct delivery *d, size_t n,
                         int64_t base_ts)
{
    int64_t prev_sec = floor_sec(base_ts), prev_hh = 0;
    const char *prev_prefix = NULL;
    size_t prev_prefix_len = 0;
    sbuf_addch(out, (char)CODEC_ORDERS_VERSION);
    put_varint(out, n);
    for (size_t i = 0; i < n; i++)
        encode_order(out, &d[i], &prev_sec, &prev_hh, &prev_prefix,
                     &prev_prefix_len);
}

/* A string of the block: its bytes stay in the input until copied. */
static int get_str(struct cursor *c, const char **OUT_s, size_t *OUT_len)
{
    uint64_t len;
    if (get_varint(c, &len) || len > (uint64_t)(c->end - c->p) ||
        memchr(c->p, 0, (size_t)len))
        return CB_ESTORE;
    *OUT_s = (const char *)c->p;
    *OUT_len = (size_t)len;
    c->p += len;
    return 0;
}

static int get_u64be(struct cursor *c, uint64_t *OUT)
{
    if (c->end - c->p < 8)
        return CB_ESTORE;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | c->p[i];
    c->p += 8;
    *OUT = v;
    return 0;
}

static char *arena_str(struct arena *a, struct cursor *c, int *rc)
{
    const char *s;
    size_t len;
    if (*rc || (*rc = get_str(c, &s, &len)))
        return NULL;
    return arena_strndup(a, s, len);
}

/* prefix + 16 hex digits of v, in the arena. */
static char *hex_str(struct arena *a, const char *prefix, size_t len,
                     uint64_t v)
{
    char buf[HEX_DIGITS];
    for (int i = 0; i < HEX_DIGITS; i++)
        buf[i] = hex_digit[v >> (60 - 4 * i) & 0xf];
    char *s = arena_alloc(a, len + HEX_DIGITS + 1);
    memcpy(s, prefix, len);
    memcpy(s + len, buf, HEX_DIGITS);
    s[len + HEX_DIGITS] = 0;
    return s;
}

struct orders_state {
    int64_t sec, hh;
    const char *prefix;
    size_t prefix_len;
};

static int decode_order_id(struct cursor *c, unsigned flags,
                           struct orders_state *st, struct arena *a,
                           const char **OUT_id)
{
    const char *p;
    size_t len;
    uint64_t v;
    if (!(flags & ORD_ID_HEX)) {
        if (flags & ORD_ID_SAME || get_str(c, &p, &len))
            return CB_ESTORE;
        *OUT_id = arena_strndup(a, p, len);
        return 0;
    }
    if (flags & ORD_ID_SAME) {
        if (!st->prefix)
            return CB_ESTORE;
    } else if (get_str(c, &st->prefix, &st->prefix_len)) {
        return CB_ESTORE;
    }
    if (get_u64be(c, &v))
        return CB_ESTORE;
    *OUT_id = hex_str(a, st->prefix, st->prefix_len, v);
    return 0;
}

static int decode_order(struct cursor *c, struct orders_state *st,
                        struct arena *a, struct delivery *d)
{
    uint64_t v;
    int rc = 0;
    memset(d, 0, sizeof(*d));
    d->household = -1;
    if (c->p == c->end)
        return CB_ESTORE;
    unsigned flags = *c->p++;
    if ((flags & ORD_REC_HEX) && !(flags & ORD_REC))
        return CB_ESTORE;
    if (get_varint(c, &v))
        return CB_ESTORE;
    st->sec = (int64_t)((uint64_t)st->sec + unzigzag(v));
    uint64_t ns = 0;
    if ((flags & ORD_NS) &&
        (get_varint(c, &ns) || !ns || ns >= (uint64_t)NS_PER_S))
        return CB_ESTORE;
    __int128 ts = (__int128)st->sec * NS_PER_S + (__int128)ns;
    if (ts < INT64_MIN || ts > INT64_MAX)
        return CB_ESTORE; /* no int64 time */
    d->ts_ns = (int64_t)ts;
    if (flags & ORD_HH) {
        if (get_varint(c, &v))
            return CB_ESTORE;
        int64_t hh = (int64_t)((uint64_t)st->hh + unzigzag(v));
        if (hh < 0 || hh > INT32_MAX)
            return CB_ESTORE;
        d->household = (int32_t)(st->hh = hh);
    }
    if (decode_order_id(c, flags, st, a, &d->order_id))
        return CB_ESTORE;
    if (flags & ORD_HHID)
        d->household_id = arena_str(a, c, &rc);
    if (flags & ORD_ADDR)
        d->address = arena_str(a, c, &rc);
    if (!rc && (flags & ORD_REC_HEX))
        rc = get_u64be(c, &v) ? CB_ESTORE : 0,
        d->recipient = rc ? NULL : hex_str(a, "", 0, v);
    else if (flags & ORD_REC)
        d->recipient = arena_str(a, c, &rc);
    return rc;
}

int codec_orders_decode(const void *data, size_t len, int64_t base_ts,
                        struct ingest_batch *out)
{
    struct cursor c = {data, (const unsigned char *)data + len};
    struct orders_state st = {floor_sec(base_ts), 0, NULL, 0};
    uint64_t n;
    if (!len || *c.p++ != CODEC_ORDERS_VERSION || get_varint(&c, &n) ||
        n > len / 3) /* an order takes 3 bytes at least */
        return CB_ESTORE;
    for (uint64_t i = 0; i < n; i++) {
        struct delivery d;
        if (decode_order(&c, &st, &out->arena, &d))
            return CB_ESTORE;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->deliveries =
                xrealloc(out->deliveries, out->cap * sizeof(*out->deliveries));
        }
        out->deliveries[out->n++] = d;
    }
    return c.p == c.end ? 0 : CB_ESTORE;
}

/* ---- indicator points ---- */

#define PTS_SECONDS 0x01
#define PTS_REGULAR 0x02
#define PTS_ALL_VALUES 0x04
#define PTS_ALL_SCORES 0x08
#define PTS_RAW 0x10
#define PTS_FLAGS 0x1f

static int point_has_value(const struct codec_point *p)
{
    return isfinite(p->value);
}

static int point_has_score(const struct codec_point *p)
{
    return isfinite(p->score);
}

static uint64_t score_q(double s)
{
    if (!(s > 0))
        return 0;
    if (s >= 1)
        return CODEC_SCORE_Q_MAX;
    double q = -100.0 * log10(1.0 - s);
    if (!(q < CODEC_SCORE_Q_MAX))
        return CODEC_SCORE_Q_MAX;
    return (uint64_t)llround(q);
}

static double score_of_q(uint64_t q)
{
    if (q == 0)
        return 0;
    return 1.0 - pow(10.0, -(double)q / 100.0);
}

double codec_score_round(double s)
{
    return isnan(s) ? s : score_of_q(score_q(s));
}

/* 1 when every value of p[0..n) is within a billionth of its count of
 * 10^-digits (all fit in 2^53). */
static int points_fit(const struct codec_point *p, size_t n, int digits,
                      int exact_only)
{
    for (size_t i = 0; i < n; i++) {
        int64_t u;
        if (!point_has_value(&p[i]))
            continue;
        if (!value_count(p[i].value, digits, &u))
            return 0;
        if (exact_only) {
            double back = (double)u / pow10_table[digits];
            double tol = fabs(p[i].value) > 1 ? fabs(p[i].value) * 1e-9 : 1e-9;
            if (fabs(back - p[i].value) > tol)
                return 0;
        }
    }
    return 1;
}

/* The block's digits, or -1: raw. */
static int points_digits(const struct codec_point *p, size_t n)
{
    for (int d = 0; d <= CODEC_POINTS_MAX_DIGITS; d++)
        if (points_fit(p, n, d, 1))
            return d;
    return points_fit(p, n, CODEC_POINTS_MAX_DIGITS, 0)
               ? CODEC_POINTS_MAX_DIGITS
               : -1;
}

static void put_mask(struct sbuf *out, const struct codec_point *p, size_t n,
                     int (*has)(const struct codec_point *))
{
    unsigned char b = 0;
    for (size_t i = 0; i < n; i++) {
        if (has(&p[i]))
            b |= (unsigned char)(1u << (i % 8));
        if (i % 8 == 7 || i + 1 == n) {
            sbuf_add(out, &b, 1);
            b = 0;
        }
    }
}

void codec_points_encode(struct sbuf *out, const struct codec_point *p,
                         size_t n, int64_t base_ts)
{
    unsigned flags = 0;
    int sec = base_ts % TIMES_SECOND == 0;
    size_t nv = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].ts_ns % TIMES_SECOND)
            sec = 0;
        nv += point_has_value(&p[i]);
        ns += point_has_score(&p[i]);
    }
    if (sec)
        flags |= PTS_SECONDS;
    int regular = n >= 3;
    for (size_t i = 2; i < n && regular; i++)
        if ((uint64_t)p[i].ts_ns - (uint64_t)p[i - 1].ts_ns !=
            (uint64_t)p[1].ts_ns - (uint64_t)p[0].ts_ns)
            regular = 0;
    if (regular)
        flags |= PTS_REGULAR;
    if (nv == n)
        flags |= PTS_ALL_VALUES;
    if (ns == n)
        flags |= PTS_ALL_SCORES;
    int digits = points_digits(p, n);
    if (digits < 0)
        flags |= PTS_RAW;
    unsigned char head[3] = {CODEC_POINTS_VERSION, 0, 0};
    sbuf_add(out, head, 1);
    put_varint(out, n);
    head[1] = (unsigned char)flags;
    head[2] = (unsigned char)digits;
    sbuf_add(out, head + 1, digits < 0 ? 1 : 2);
    put_varint(out, zigzag(time_diff(p[0].ts_ns, base_ts, sec)));
    if (n >= 2)
        put_varint(out, time_diff(p[1].ts_ns, p[0].ts_ns, sec));
    for (size_t i = 2; i < n && !regular; i++)
        put_varint(out, zigzag(time_diff(p[i].ts_ns, p[i - 1].ts_ns, sec) -
                               time_diff(p[i - 1].ts_ns, p[i - 2].ts_ns, sec)));
    if (nv != n)
        put_mask(out, p, n, point_has_value);
    if (ns != n)
        put_mask(out, p, n, point_has_score);
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (!point_has_value(&p[i]))
            continue;
        if (digits < 0) {
            put_f64(out, p[i].value);
            continue;
        }
        int64_t u = 0;
        value_count(p[i].value, digits, &u);
        put_varint(out, zigzag((uint64_t)u - (uint64_t)prev));
        prev = u;
    }
    for (size_t i = 0; i < n; i++)
        if (point_has_score(&p[i]))
            put_varint(out, score_q(p[i].score));
}

static int get_mask(struct cursor *c, size_t n, int all, unsigned char *bits)
{
    if (all) {
        memset(bits, 1, n);
        return 0;
    }
    size_t bytes = (n + 7) / 8;
    if ((size_t)(c->end - c->p) < bytes)
        return CB_ESTORE;
    for (size_t i = 0; i < n; i++)
        bits[i] = c->p[i / 8] >> (i % 8) & 1;
    if (n % 8 && c->p[bytes - 1] >> (n % 8))
        return CB_ESTORE; /* unused bits set */
    c->p += bytes;
    return 0;
}

static int points_times(struct cursor *c, struct codec_point *p, size_t n,
                        int64_t base_ts, unsigned flags)
{
    uint64_t unit = flags & PTS_SECONDS ? (uint64_t)TIMES_SECOND : 1;
    uint64_t v, d = 0;
    if (get_varint(c, &v))
        return CB_ESTORE;
    if (flags & PTS_SECONDS)
        base_ts = base_ts / TIMES_SECOND * TIMES_SECOND;
    p[0].ts_ns = (int64_t)((uint64_t)base_ts + unzigzag(v) * unit);
    for (size_t i = 1; i < n; i++) {
        if (i == 1) {
            if (get_varint(c, &d))
                return CB_ESTORE;
        } else if (!(flags & PTS_REGULAR)) {
            if (get_varint(c, &v))
                return CB_ESTORE;
            d += unzigzag(v);
        }
        p[i].ts_ns = (int64_t)((uint64_t)p[i - 1].ts_ns + d * unit);
        if (p[i].ts_ns <= p[i - 1].ts_ns)
            return CB_ESTORE;
    }
    return 0;
}

int codec_points_decode(const void *data, size_t len, int64_t base_ts,
                        struct codec_points *out)
{
    struct cursor c = {data, (const unsigned char *)data + len};
    uint64_t n, v;
    unsigned char *vbit = NULL, *sbit = NULL;
    int rc = CB_ESTORE;
    if (c.p == c.end || *c.p++ != CODEC_POINTS_VERSION || get_varint(&c, &n) ||
        n == 0 || n > 8 * (uint64_t)len || c.p == c.end)
        return CB_ESTORE;
    unsigned flags = *c.p++;
    int digits = -1;
    if (flags & ~PTS_FLAGS || (flags & PTS_REGULAR && n < 3))
        return CB_ESTORE;
    if (!(flags & PTS_RAW)) {
        if (c.p == c.end || *c.p > CODEC_POINTS_MAX_DIGITS)
            return CB_ESTORE;
        digits = *c.p++;
    }
    if (out->cap - out->n < n) {
        size_t cap = out->cap ? out->cap : 64;
        while (cap - out->n < n)
            cap *= 2;
        out->p = xrealloc(out->p, cap * sizeof(*out->p));
        out->cap = cap;
    }
    struct codec_point *p = out->p + out->n;
    vbit = xmalloc(2 * n);
    sbit = vbit + n;
    if (points_times(&c, p, n, base_ts, flags) ||
        get_mask(&c, n, flags & PTS_ALL_VALUES, vbit) ||
        get_mask(&c, n, flags & PTS_ALL_SCORES, sbit))
        goto out_free;
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        p[i].value = p[i].score = NAN;
        if (!vbit[i])
            continue;
        if (digits < 0) {
            if (get_f64(&c, &p[i].value) || !isfinite(p[i].value))
                goto out_free;
            continue;
        }
        if (get_varint(&c, &v))
            goto out_free;
        prev = (int64_t)((uint64_t)prev + unzigzag(v));
        if (prev >= (int64_t)MAX_SAFE_COUNT - 1 ||
            prev <= -(int64_t)MAX_SAFE_COUNT + 1)
            goto out_free;
        p[i].value = (double)prev / pow10_table[digits];
    }
    for (size_t i = 0; i < n; i++) {
        if (!sbit[i])
            continue;
        if (get_varint(&c, &v) || v > CODEC_SCORE_Q_MAX)
            goto out_free;
        p[i].score = score_of_q(v);
    }
    if (c.p != c.end)
        goto out_free;
    out->n += n;
    rc = 0;
out_free:
    free(vbit);
    return rc;
}

/* ---- daily use of a meter over 32 days ---- */

#define DAYS_KIND_RAW 0x10
#define DAYS_KIND_SAME_N 0x20

/* 1 when every set day of d is stored as a count of 10^-digits. */
static int days_fit(const struct codec_days *d, int digits)
{
    int64_t u;
    if (digits < 0 || digits > CODEC_MAX_DIGITS)
        return 0;
    for (int i = 0; i < CODEC_DAYS; i++)
        if (d->mask >> i & 1 && !value_count(d->use[i], digits, &u))
            return 0;
    return 1;
}

/* 1 when every set day of d has the same n (and one is set). */
static int days_same_n(const struct codec_days *d, uint64_t *OUT_n)
{
    int any = 0;
    for (int i = 0; i < CODEC_DAYS; i++) {
        if (!(d->mask >> i & 1))
            continue;
        if (any && d->n[i] != *OUT_n)
            return 0;
        *OUT_n = d->n[i];
        any = 1;
    }
    return any;
}

void codec_days_encode(struct sbuf *out, const struct codec_days *d, int digits)
{
    int raw = !days_fit(d, digits);
    uint64_t same = 0;
    int one_n = days_same_n(d, &same);
    sbuf_addch(out, (char)((raw ? DAYS_KIND_RAW : (unsigned)digits) |
                           (one_n ? DAYS_KIND_SAME_N : 0u)));
    put_varint(out, d->mask);
    if (one_n)
        put_varint(out, same);
    int64_t u = 0, prev = 0;
    for (int i = 0; i < CODEC_DAYS; i++) {
        if (!(d->mask >> i & 1))
            continue;
        if (raw) {
            put_f64(out, d->use[i]);
        } else {
            value_count(d->use[i], digits, &u);
            put_varint(out, zigzag((uint64_t)u - (uint64_t)prev));
            prev = u;
        }
        if (!one_n)
            put_varint(out, d->n[i]);
    }
}

int codec_days_decode(const void *data, size_t len, struct codec_days *OUT,
                      int *OUT_digits)
{
    memset(OUT, 0, sizeof(*OUT));
    if (!data || len < 2)
        return CB_ESTORE;
    struct cursor c = {data, (const unsigned char *)data + len};
    unsigned kind = *c.p++;
    int raw = (kind & DAYS_KIND_RAW) != 0, digits = (int)(kind & 0xf);
    uint64_t mask, same = 0, prev = 0, v;
    if ((kind & ~(DAYS_KIND_RAW | DAYS_KIND_SAME_N | 0xfu)) ||
        digits > CODEC_MAX_DIGITS || (raw && digits) || get_varint(&c, &mask) ||
        mask > UINT32_MAX ||
        ((kind & DAYS_KIND_SAME_N) && get_varint(&c, &same)))
        return CB_ESTORE;
    OUT->mask = (uint32_t)mask;
    for (int i = 0; i < CODEC_DAYS; i++) {
        if (!(OUT->mask >> i & 1))
            continue;
        if (raw) {
            if (get_f64(&c, &OUT->use[i]))
                return CB_ESTORE;
        } else {
            if (get_varint(&c, &v))
                return CB_ESTORE;
            prev += unzigzag(v);
            OUT->use[i] = (double)(int64_t)prev / pow10_table[digits];
        }
        OUT->n[i] = same;
        if (!(kind & DAYS_KIND_SAME_N) && get_varint(&c, &OUT->n[i]))
            return CB_ESTORE;
    }
    if (OUT_digits)
        *OUT_digits = raw ? -1 : digits;
    return c.p == c.end ? 0 : CB_ESTORE;
}
