/* ingest.c - batches, errors, feed and metric names, and shared helpers. */
#include "ingest/ingest.h"
#include "ingest/ingest_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "util/jsonw.h"

/* ---- names ---- */

const char *feed_name(enum feed f)
{
    static const char *const names[FEED_COUNT] = {"registry", "readings",
                                                  "deliveries", "events"};
    return (unsigned)f < FEED_COUNT ? names[f] : "unknown";
}

static const char *const metric_names[METRIC_COUNT] = {"water", "electricity",
                                                       "gas"};

const char *metric_name(int metric)
{
    return (unsigned)metric < METRIC_COUNT ? metric_names[metric] : "unknown";
}

int metric_unit_is_m3(int metric)
{
    return metric == METRIC_WATER || metric == METRIC_GAS;
}

int metric_parse(const char *s, size_t len)
{
    for (int m = 0; m < METRIC_COUNT; m++)
        if (strlen(metric_names[m]) == len && !memcmp(s, metric_names[m], len))
            return m;
    return -1;
}

int precision_parse(const char *s)
{
    static const char *const names[] = {"ns", "us", "ms", "s"};
    for (int p = 0; p < 4; p++)
        if (!strcmp(s, names[p]))
            return p;
    return -1;
}

/* ---- batch ---- */

void ingest_batch_init(struct ingest_batch *b, enum feed feed)
{
    memset(b, 0, sizeof(*b));
    b->feed = feed;
}

void ingest_batch_release(struct ingest_batch *b)
{
    enum feed feed = b->feed;
    const struct ingest_plausible *plausible = b->plausible;
    arena_release(&b->arena);
    free(b->readings);
    free(b->households);
    free(b->deliveries);
    free(b->events);
    free(b->errors);
    free(b->failed_lines);
    ingest_batch_init(b, feed);
    b->plausible = plausible;
}

int ingest__ts_implausible(const struct ingest_batch *b, int64_t ts_ns,
                           char *why, size_t cap)
{
    const struct ingest_plausible *p = b->plausible;
    if (!p)
        return 0;
    int late = p->now_ns > INT64_MAX - p->future_ns ||
               ts_ns <= p->now_ns + p->future_ns;
    int recent = ts_ns >= p->now_ns - p->horizon_ns;
    if (late && recent)
        return 0;
    char when[32], now[32];
    int tz = dclock_tz_offset_minutes();
    time_format_iso(ts_ns / 1000000000, tz, when);
    time_format_iso(p->now_ns / 1000000000, tz, now);
    if (!late)
        snprintf(why, cap,
                 "%s is more than %lld s after the district clock (%s)", when,
                 (long long)(p->future_ns / 1000000000), now);
    else
        snprintf(why, cap,
                 "%s is more than %lld days before the district clock (%s)",
                 when, (long long)(p->horizon_ns / 86400000000000LL), now);
    return -1;
}

static size_t record_size(enum feed feed)
{
    switch (feed) {
    case FEED_READINGS:
        return sizeof(struct reading);
    case FEED_REGISTRY:
        return sizeof(struct household);
    case FEED_DELIVERIES:
        return sizeof(struct delivery);
    case FEED_EVENTS:
        return sizeof(struct event);
    default:
        return 0;
    }
}

/* The record array of b's feed (NULL before the first reserve). */
static void *records(struct ingest_batch *b)
{
    switch (b->feed) {
    case FEED_READINGS:
        return b->readings;
    case FEED_REGISTRY:
        return b->households;
    case FEED_DELIVERIES:
        return b->deliveries;
    case FEED_EVENTS:
        return b->events;
    default:
        return NULL;
    }
}

static void set_records(struct ingest_batch *b, void *p)
{
    switch (b->feed) {
    case FEED_READINGS:
        b->readings = p;
        break;
    case FEED_REGISTRY:
        b->households = p;
        break;
    case FEED_DELIVERIES:
        b->deliveries = p;
        break;
    case FEED_EVENTS:
        b->events = p;
        break;
    default:
        break;
    }
}

void ingest__reserve(struct ingest_batch *b, size_t n)
{
    if (b->cap - b->n >= n)
        return;
    size_t cap = b->cap ? b->cap : 16;
    while (cap - b->n < n)
        cap *= 2;
    set_records(b, xrealloc(records(b), cap * record_size(b->feed)));
    b->cap = cap;
}

static void *push(struct ingest_batch *b)
{
    if (b->n == b->cap)
        ingest__reserve(b, 1);
    size_t size = record_size(b->feed);
    char *slot = (char *)records(b) + b->n * size;
    memset(slot, 0, size);
    b->n++;
    return slot;
}

struct reading *ingest__push_reading(struct ingest_batch *b)
{
    return push(b);
}

struct household *ingest__push_household(struct ingest_batch *b)
{
    return push(b);
}

struct delivery *ingest__push_delivery(struct ingest_batch *b)
{
    return push(b);
}

struct event *ingest__push_event(struct ingest_batch *b)
{
    return push(b);
}

/* ---- errors ---- */

/* Cuts a trailing incomplete UTF-8 sequence left by truncation. */
static void trim_partial_utf8(char *s)
{
    size_t len = strlen(s);
    size_t ok = ingest__utf8_check(s, len);
    if (ok < len)
        s[ok] = '\0';
}

static void remember_failed_line(struct ingest_batch *b, int line)
{
    if (b->n_failed && b->failed_lines[b->n_failed - 1] == line)
        return;
    if (b->n_failed == b->failed_cap) {
        b->failed_cap = b->failed_cap ? b->failed_cap * 2 : 16;
        b->failed_lines =
            xrealloc(b->failed_lines, b->failed_cap * sizeof(*b->failed_lines));
    }
    b->failed_lines[b->n_failed++] = line;
}

void ingest_error_add(struct ingest_batch *b, int line, int column,
                      const char *field, const char *fmt, ...)
{
    b->errors_total++;
    remember_failed_line(b, line);
    if (b->n_errors >= INGEST_MAX_REPORTED_ERRORS)
        return;
    if (!b->errors)
        b->errors =
            xcalloc(INGEST_MAX_REPORTED_ERRORS, sizeof(struct ingest_error));
    struct ingest_error *e = &b->errors[b->n_errors++];
    e->line = line;
    e->column = column;
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    trim_partial_utf8(e->field);
    trim_partial_utf8(e->message);
}

static int cmp_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int line_failed(const struct ingest_batch *b, int32_t line)
{
    return bsearch(&line, b->failed_lines, b->n_failed, sizeof(int32_t),
                   cmp_int32) != NULL;
}

static int32_t record_line(struct ingest_batch *b, size_t i)
{
    switch (b->feed) {
    case FEED_READINGS:
        return b->readings[i].line;
    case FEED_REGISTRY:
        return b->households[i].line;
    case FEED_DELIVERIES:
        return b->deliveries[i].line;
    case FEED_EVENTS:
        return b->events[i].line;
    default:
        return 0;
    }
}

void ingest_batch_drop_failed_lines(struct ingest_batch *b)
{
    if (!b->n_failed || !b->n)
        return;
    qsort(b->failed_lines, b->n_failed, sizeof(int32_t), cmp_int32);
    size_t size = record_size(b->feed), kept = 0;
    char *base = records(b);
    for (size_t i = 0; i < b->n; i++) {
        if (line_failed(b, record_line(b, i)))
            continue;
        if (kept != i)
            memcpy(base + kept * size, base + i * size, size);
        kept++;
    }
    b->n = kept;
}

void ingest_errors_json(const struct ingest_batch *b, struct jsonw *w)
{
    jsonw_array_begin(w);
    for (size_t i = 0; i < b->n_errors; i++) {
        const struct ingest_error *e = &b->errors[i];
        jsonw_object_begin(w);
        jsonw_kv_int(w, "line", e->line);
        jsonw_kv_int(w, "column", e->column);
        jsonw_kv_str(w, "field", e->field);
        jsonw_kv_str(w, "message", e->message);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

void ingest_errors_to_json(const struct ingest_batch *b, struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    ingest_errors_json(b, &w);
}

/* ---- text ---- */

int ingest__household_id_ok(const char *s, size_t len)
{
    if (len == 0 || len > INGEST_MAX_HOUSEHOLD_ID)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* Length of the valid UTF-8 sequence at s[0..len), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

size_t ingest__utf8_check(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(u + i, len - i);
        if (!n)
            return i;
        i += n;
    }
    return len;
}

const char *ingest__text_problem(const char *s, size_t len, size_t max)
{
    if (len == 0)
        return "is empty";
    if (len > max) {
        switch (max) {
        case INGEST_MAX_HOUSEHOLD_ID:
            return "is longer than 64 bytes";
        case INGEST_MAX_ID:
            return "is longer than 128 bytes";
        case INGEST_MAX_TEXT:
            return "is longer than 256 bytes";
        case INGEST_MAX_ADDRESS:
            return "is longer than 512 bytes";
        default:
            return "is too long";
        }
    }
    if (ingest__utf8_check(s, len) != len)
        return "is not valid utf-8";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return "contains a control character";
    return NULL;
}

const char *ingest__excerpt(const char *s, size_t len, char *buf, size_t cap)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t limit = cap - 4 < 40 ? cap - 4 : 40, o = 0, i = 0;
    while (i < len) {
        size_t n = u[i] < 0x80 ? 1 : utf8_seq(u + i, len - i);
        if (o + (n ? n : 1) > limit)
            break;
        if (n == 0 || (n == 1 && (u[i] < 0x20 || u[i] == 0x7F))) {
            buf[o++] = '?';
            i++;
            continue;
        }
        memcpy(buf + o, s + i, n);
        o += n;
        i += n;
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- numbers ---- */

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Checks the decimal grammar; *OUT_simple when there is no exponent. */
static int number_syntax(const char *s, size_t len, int *OUT_simple)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < len && is_digit(s[i]))
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i]))
            i++, digits++;
    }
    if (!digits)
        return CB_EINVAL;
    *OUT_simple = i == len;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t start = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == start)
            return CB_EINVAL;
    }
    return i == len ? 0 : CB_EINVAL;
}

/* Exact when at most 15 significant digits and 22 fraction digits. */
static int number_fast(const char *s, size_t len, double *OUT_v)
{
    size_t i = 0;
    int neg = 0, sig = 0, frac = -1;
    uint64_t m = 0;
    if (s[i] == '+' || s[i] == '-')
        neg = s[i++] == '-';
    for (; i < len; i++) {
        if (s[i] == '.') {
            frac = 0;
            continue;
        }
        if (sig || s[i] != '0')
            sig++;
        m = m * 10 + (uint64_t)(s[i] - '0');
        if (frac >= 0)
            frac++;
        if (sig > 15)
            return -1;
    }
    if (frac > 22)
        return -1;
    double v = (double)m;
    if (frac > 0)
        v /= pow10_exact[frac];
    *OUT_v = neg ? -v : v;
    return 0;
}

int ingest__parse_number(const char *s, size_t len, double *OUT_v)
{
    int simple;
    if (number_syntax(s, len, &simple))
        return CB_EINVAL;
    if (simple && number_fast(s, len, OUT_v) == 0)
        return 0;
    char tmp[128];
    if (len >= sizeof(tmp))
        return CB_EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    double v = strtod(tmp, NULL);
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
        return CB_ETOOBIG;
    *OUT_v = v;
    return 0;
}

int ingest__parse_int(const char *s, size_t len, int64_t *OUT_v)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == len)
        return CB_EINVAL;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
    for (; i < len; i++) {
        if (!is_digit(s[i]))
            return CB_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return CB_ETOOBIG;
        v = v * 10 + d;
    }
    *OUT_v = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* ---- lines ---- */

int ingest__next_line(const char *body, size_t len, size_t *pos,
                      int32_t *lineno, const char **OUT_s, size_t *OUT_len)
{
    if (*pos >= len)
        return 0;
    const char *s = body + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - s) : len - *pos;
    *pos += n + (nl != NULL);
    (*lineno)++;
    if (n && s[n - 1] == '\r')
        n--;
    *OUT_s = s;
    *OUT_len = n;
    return 1;
}

int ingest__blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

size_t ingest__count_lines(const char *s, size_t len)
{
    size_t n = 0;
    const char *end = s + len;
    while (s < end && (s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
        n++;
        s++;
    }
    return n;
}
