/*
 * ndjson.c - NDJSON bodies: the shared line loop, deliveries and events.
 *
 * Each non-blank line is one JSON object (Jansson, duplicate keys rejected,
 * no trailing text).  A syntax error is reported at the byte where Jansson's
 * offending token starts; a field error at the byte where that key's value
 * starts in the raw line (found by scanning for "key":), or column 1.
 *
 * Deliveries and events take ts as ISO 8601 with an offset ("Z" or +hh:mm)
 * or as epoch seconds (a JSON number).  A recipient that looks like a phone
 * number is refused and never echoed back: recipients must be pseudonyms.
 */
#include "ingest/ingest_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* attrs of one event, as compact JSON text. */
#define MAX_ATTRS_JSON 4096

/* ---- the line loop ---- */

/* Where Jansson's offending token starts: the error position is the byte
 * after the token, and the text ends with "near 'token'". */
static int json_error_col(const json_error_t *e, const char *s, size_t n)
{
    int pos = e->position > 0 ? e->position : 1;
    const char *near = strstr(e->text, "near '");
    if (near) {
        near += 6;
        size_t tlen = strlen(near);
        if (tlen && near[tlen - 1] == '\'')
            tlen--;
        if (tlen && tlen <= (size_t)pos && (size_t)pos <= n &&
            !memcmp(s + pos - tlen, near, tlen))
            return pos - (int)tlen + 1;
    }
    return pos;
}

/* Jansson's allocations while one line is parsed come from a buffer on
 * the parsing thread's stack (scratch): a line's objects are all freed
 * before the next line, so the buffer is simply rewound.  Anything larger,
 * and every allocation outside json_loadb (json_dumps results, which
 * callers free() themselves), goes to malloc.  jsonp_free tells the two
 * apart by address, so objects from either may be freed at any time. */
#define JSON_SCRATCH_BYTES (48 * 1024)

static _Thread_local struct {
    char *base;
    size_t used;
    int on;
} scratch;

static void *scratch_malloc(size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (scratch.on && need <= JSON_SCRATCH_BYTES - scratch.used) {
        void *p = scratch.base + scratch.used;
        scratch.used += need;
        return p;
    }
    return malloc(n);
}

static void scratch_free(void *p)
{
    char *c = p;
    if (scratch.base && c >= scratch.base &&
        c < scratch.base + JSON_SCRATCH_BYTES)
        return;
    free(p);
}

void ingest_json_init(void)
{
    json_set_alloc_funcs(scratch_malloc, scratch_free);
}

static json_t *load_line(const char *s, size_t n, json_error_t *e)
{
    scratch.used = 0;
    scratch.on = 1;
    json_t *obj = json_loadb(s, n, JSON_REJECT_DUPLICATES, e);
    scratch.on = 0;
    return obj;
}

int ingest__parse_ndjson(const char *body, size_t len, size_t max_records,
                         struct ingest_batch *b, ingest__json_record_fn fn)
{
    _Alignas(16) char buf[JSON_SCRATCH_BYTES];
    size_t pos = 0, seen = 0, n;
    int32_t lineno = 0;
    const char *s;
    int rc = 0;
    scratch.base = buf;
    while (ingest__next_line(body, len, &pos, &lineno, &s, &n)) {
        if (ingest__blank(s, n))
            continue;
        if (++seen > max_records) {
            rc = CB_ETOOBIG;
            break;
        }
        b->lines++;
        json_error_t e;
        json_t *obj = load_line(s, n, &e);
        if (!obj) {
            ingest_error_add(b, lineno, json_error_col(&e, s, n), "",
                             "invalid json: %s", e.text);
            continue;
        }
        if (!json_is_object(obj))
            ingest_error_add(b, lineno, 1, "", "expected a json object");
        else
            fn(b, obj, s, n, lineno);
        json_decref(obj);
    }
    scratch.base = NULL;
    return rc;
}

int ingest__json_key_col(const char *s, size_t n, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen + 2 <= n; i++) {
        if (s[i] != '"' || memcmp(s + i + 1, key, klen) ||
            s[i + klen + 1] != '"')
            continue;
        size_t j = i + klen + 2;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j >= n || s[j] != ':')
            continue;
        for (j++; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
            ;
        return (int)j + 1;
    }
    return 1;
}

/* ---- fields ---- */

/* 1 when key is in obj with a value other than null. */
static int present(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v);
}

/* A record in the making: the raw line, for columns, and an error count. */
struct json_rec {
    struct ingest_batch *b;
    json_t *obj;
    const char *s;
    size_t n;
    int32_t line;
    int errors;
};

static void field_error(struct json_rec *r, const char *key, int col_offset,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records an error at key's value (plus col_offset bytes). */
static void field_error(struct json_rec *r, const char *key, int col_offset,
                        const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int col = ingest__json_key_col(r->s, r->n, key);
    ingest_error_add(r->b, r->line, col + col_offset, key, "%s", msg);
    r->errors++;
}

/*
 * Copies the string value of key into the arena.  An absent or null key
 * gives NULL, and an error when required.  Returns the copy or NULL.
 */
static const char *take_str(struct json_rec *r, const char *key, size_t max,
                            int required)
{
    json_t *v = json_object_get(r->obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            field_error(r, key, 0, "missing %s", key);
        return NULL;
    }
    if (!json_is_string(v)) {
        field_error(r, key, 0, "%s must be a string", key);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    const char *problem = ingest__text_problem(s, len, max);
    if (problem) {
        field_error(r, key, 0, "%s %s", key, problem);
        return NULL;
    }
    return arena_strndup(&r->b->arena, s, len);
}

/* 1 when s has an offset: 'Z' or [+-]hh:mm after the seconds. */
static int iso_has_offset(const char *s, size_t len)
{
    if (len > 19 && s[len - 1] == 'Z')
        return 1;
    return len >= 25 && (s[len - 6] == '+' || s[len - 6] == '-') &&
           s[len - 3] == ':';
}

/* 0 when the year of an ISO 8601 text is outside 1970..2199 (CB_TS_MAX_S;
 * time_parse_iso must not see later years, as its arithmetic would
 * overflow), else 1.  Text without a 4-digit year is left
 * to time_parse_iso to reject. */
static int iso_year_ok(const char *s, size_t len)
{
    int year = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i >= len || s[i] < '0' || s[i] > '9')
            return 1;
        year = year * 10 + (s[i] - '0');
    }
    return year >= 1970 && year <= 2199;
}

/* Reads "ts": ISO 8601 with an offset, or epoch seconds.  0 or -1. */
static int take_ts(struct json_rec *r, int64_t *OUT_ns)
{
    char q[INGEST_EXCERPT_CAP];
    json_t *v = json_object_get(r->obj, "ts");
    if (!v || json_is_null(v)) {
        field_error(r, "ts", 0, "missing ts");
        return -1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        int col = 0;
        if (!iso_year_ok(s, len)) {
            field_error(r, "ts", 1,
                        "ts '%s' is out of range; years 1970 to "
                        "2199 are accepted",
                        ingest__excerpt(s, len, q, sizeof(q)));
            return -1;
        }
        if (time_parse_iso(s, len, OUT_ns, &col) == 0 &&
            iso_has_offset(s, len) && *OUT_ns >= 0 && *OUT_ns < CB_TS_MAX_NS)
            return 0;
        field_error(r, "ts", col > 0 ? col : 0,
                    "invalid ts '%s'; expected ISO 8601 with an offset, "
                    "e.g. 2026-11-01T12:34:56+08:00, or epoch seconds",
                    ingest__excerpt(s, len, q, sizeof(q)));
        return -1;
    }
    if (!json_is_number(v)) {
        field_error(r, "ts", 0,
                    "ts must be an ISO 8601 string or epoch seconds");
        return -1;
    }
    double sec = json_number_value(v);
    if (!(sec >= 0 && sec < (double)CB_TS_MAX_S)) {
        field_error(r, "ts", 0,
                    "ts %.0f is out of range; epoch seconds of the years "
                    "1970 to 2199 are accepted",
                    sec);
        return -1;
    }
    *OUT_ns = json_is_integer(v) ? (int64_t)json_integer_value(v) * 1000000000
                                 : (int64_t)llround(sec * 1e9);
    return 0;
}

/* take_ts, then the plausibility window of ingest.h.  0 or -1. */
static int take_plausible_ts(struct json_rec *r, int64_t *OUT_ns)
{
    char why[160];
    if (take_ts(r, OUT_ns))
        return -1;
    if (!ingest__ts_implausible(r->b, *OUT_ns, why, sizeof(why)))
        return 0;
    field_error(r, "ts", 0, "ts %s", why);
    return -1;
}

/* Reads a required JSON number in [lo, hi]; 0, or -1 with an error. */
static int take_coord(struct json_rec *r, const char *key, double lo, double hi,
                      double *OUT_v)
{
    json_t *v = json_object_get(r->obj, key);
    if (!v || json_is_null(v)) {
        field_error(r, key, 0, "missing %s", key);
        return -1;
    }
    if (!json_is_number(v)) {
        field_error(r, key, 0, "%s must be a number", key);
        return -1;
    }
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) {
        field_error(r, key, 0, "%s %g is outside [%g, %g]", key, d, lo, hi);
        return -1;
    }
    *OUT_v = d;
    return 0;
}

/* ---- deliveries ---- */

/* The ASCII character a full-width form (U+FF01..U+FF5E, 3 bytes in
 * UTF-8) or the ideographic space stands for, with its length in *OUT_n;
 * else the byte itself, length 1. */
static char ascii_form(const char *s, size_t len, size_t i, size_t *OUT_n)
{
    const unsigned char *u = (const unsigned char *)s + i;
    *OUT_n = 1;
    if (i + 3 <= len && u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) {
        *OUT_n = 3;
        return ' ';
    }
    if (i + 3 <= len && u[0] == 0xEF && (u[1] == 0xBC || u[1] == 0xBD) &&
        u[2] >= 0x80 && u[2] <= 0xBF) {
        unsigned cp = 0xFF00u + ((u[1] & 0x03u) << 6) + (u[2] & 0x3Fu);
        if (cp >= 0xFF01 && cp <= 0xFF5E) {
            *OUT_n = 3;
            return (char)(cp - 0xFF01 + '!');
        }
    }
    return s[i];
}

/*
 * 1 when a recipient looks like a mainland mobile number: after dropping
 * spaces, '-', '.', '(' and ')', an optional +86 / 0086 / 86 prefix and
 * then exactly 11 digits starting with 1.  Full-width forms (１３８,
 * ＋, the ideographic space) count as their ASCII selves.  Only the whole
 * value counts, so that hex hashes with a run of digits are not refused.
 */
static int looks_like_phone(const char *s, size_t len)
{
    char digits[32];
    size_t n = 0, step;
    for (size_t i = 0; i < len; i += step) {
        char c = ascii_form(s, len, i, &step);
        if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')')
            continue;
        if (c == '+' && n == 0 && i + step < len)
            continue;
        if (c < '0' || c > '9' || n == sizeof(digits))
            return 0;
        digits[n++] = c;
    }
    size_t skip = 0;
    if (n == 15 && !memcmp(digits, "0086", 4))
        skip = 4;
    else if (n == 13 && !memcmp(digits, "86", 2))
        skip = 2;
    return n - skip == 11 && digits[skip] == '1';
}

static void delivery_record(struct ingest_batch *b, json_t *obj, const char *s,
                            size_t n, int32_t line)
{
    struct json_rec r = {b, obj, s, n, line, 0};
    char q[INGEST_EXCERPT_CAP];
    int64_t ts = 0;
    const char *order = take_str(&r, "order_id", INGEST_MAX_ID, 1);
    take_plausible_ts(&r, &ts);
    const char *hh = take_str(&r, "household_id", INGEST_MAX_HOUSEHOLD_ID, 0);
    const char *addr = take_str(&r, "address", INGEST_MAX_ADDRESS, 0);
    if (hh && !ingest__household_id_ok(hh, strlen(hh)))
        field_error(&r, "household_id", 0,
                    "invalid household id '%s'; expected 1 to 64 of "
                    "A-Z a-z 0-9 _ . : -",
                    ingest__excerpt(hh, strlen(hh), q, sizeof(q)));
    if (!present(obj, "household_id") && !present(obj, "address"))
        field_error(&r, "household_id", 0,
                    "missing household_id or address; give one");
    json_t *rv = json_object_get(obj, "recipient");
    const char *recipient = NULL;
    if (json_is_string(rv) &&
        looks_like_phone(json_string_value(rv), json_string_length(rv)))
        field_error(&r, "recipient", 0,
                    "recipient looks like a phone number; send a "
                    "pseudonymous id such as a salted hash instead");
    else
        recipient = take_str(&r, "recipient", INGEST_MAX_ID, 1);
    if (r.errors)
        return;
    struct delivery *d = ingest__push_delivery(b);
    d->order_id = order;
    d->household_id = hh;
    d->address = addr;
    d->recipient = recipient;
    d->ts_ns = ts;
    d->household = -1;
    d->line = line;
}

int ingest_parse_deliveries(const char *body, size_t len, size_t max_records,
                            struct ingest_batch *b)
{
    if (b->feed != FEED_DELIVERIES)
        return CB_EINVAL;
    return ingest__parse_ndjson(body, len, max_records, b, delivery_record);
}

/* ---- events ---- */

/* Reads attrs: an optional object kept as compact, key-sorted JSON. */
static const char *take_attrs(struct json_rec *r)
{
    json_t *v = json_object_get(r->obj, "attrs");
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v)) {
        field_error(r, "attrs", 0, "attrs must be a json object");
        return NULL;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        abort(); /* out of memory: see util.h */
    size_t len = strlen(text);
    const char *copy = NULL;
    if (len > MAX_ATTRS_JSON)
        field_error(r, "attrs", 0, "attrs is longer than %d bytes",
                    MAX_ATTRS_JSON);
    else
        copy = arena_strndup(&r->b->arena, text, len);
    free(text);
    return copy;
}

static void event_record(struct ingest_batch *b, json_t *obj, const char *s,
                         size_t n, int32_t line)
{
    struct json_rec r = {b, obj, s, n, line, 0};
    int64_t ts = 0;
    double lat = NAN, lon = NAN;
    const char *id = take_str(&r, "event_id", INGEST_MAX_ID, 1);
    const char *source = take_str(&r, "source", INGEST_MAX_ID, 1);
    const char *type = take_str(&r, "type", INGEST_MAX_ID, 1);
    take_plausible_ts(&r, &ts);
    const char *street = take_str(&r, "street", INGEST_MAX_TEXT, 0);
    if (!street || present(obj, "lat") || present(obj, "lon")) {
        take_coord(&r, "lat", -90, 90, &lat);
        take_coord(&r, "lon", -180, 180, &lon);
    }
    const char *attrs = take_attrs(&r);
    if (r.errors)
        return;
    struct event *e = ingest__push_event(b);
    e->event_id = id;
    e->source = source;
    e->type = type;
    e->street = street;
    e->attrs_json = attrs;
    e->ts_ns = ts;
    e->lat = lat;
    e->lon = lon;
    e->line = line;
}

int ingest_parse_events(const char *body, size_t len, size_t max_records,
                        struct ingest_batch *b)
{
    if (b->feed != FEED_EVENTS)
        return CB_EINVAL;
    return ingest__parse_ndjson(body, len, max_records, b, event_record);
}
