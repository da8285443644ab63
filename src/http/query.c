/* query.c - URL query-string decoding and typed parameter getters. */
#include "http/query.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int set_err(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message into err (when there is room); returns CB_EINVAL. */
static int set_err(char *err, size_t errcap, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return CB_EINVAL;
}

/* A printable excerpt of a decoded value for messages: up to 40 bytes,
 * cut on a UTF-8 boundary, control characters as '?'. */
static const char *excerpt(const char *s, char *buf, size_t cap)
{
    size_t len = strlen(s), limit = cap - 4 < 40 ? cap - 4 : 40;
    size_t o = len < limit ? len : limit;
    while (o < len && o > 0 && ((unsigned char)s[o] & 0xC0) == 0x80)
        o--;
    for (size_t i = 0; i < o; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? '?' : s[i];
    if (o < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1 when s[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (!n || i + n > len)
            return 0;
        uint32_t cp = n == 1 ? c : (uint32_t)(c & (0x7F >> n));
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if ((n > 1 && cp < min[n]) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n;
    }
    return 1;
}

/* Decodes s[0..len) into out; returns the decoded length or -1 (with the
 * 0-based offset of the bad escape in *OUT_bad). */
static long decode(const char *s, size_t len, char *out, size_t *OUT_bad)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] != '%') {
            out[o++] = s[i];
        } else if (i + 2 < len && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out[o++] = (char)(hex(s[i + 1]) << 4 | hex(s[i + 2]));
            i += 2;
        } else {
            *OUT_bad = i;
            return -1;
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* Decodes one key or value of the pair at byte base of the query. */
static int decode_part(struct query *q, size_t *used, const char *s, size_t len,
                       size_t base, const char **OUT_p, size_t *OUT_len,
                       char *err, size_t errcap)
{
    size_t bad = 0;
    char *out = q->buf + *used;
    long n = decode(s, len, out, &bad);
    if (n < 0)
        return set_err(err, errcap,
                       "bad percent-escape at byte %zu of the "
                       "query string",
                       base + bad + 1);
    if (memchr(out, '\0', (size_t)n))
        return set_err(err, errcap, "query string holds a NUL byte");
    if (!utf8_ok((const unsigned char *)out, (size_t)n))
        return set_err(err, errcap, "query string is not valid utf-8");
    *used += (size_t)n + 1;
    *OUT_p = out;
    *OUT_len = (size_t)n;
    return 0;
}

int query_parse(struct query *q, const char *s, size_t len, char *err,
                size_t errcap)
{
    size_t used = 0, pos = 0;
    q->n = 0;
    if (len > QUERY_MAX_LEN) {
        set_err(err, errcap, "query string is longer than %d bytes",
                QUERY_MAX_LEN);
        return CB_ETOOBIG;
    }
    if (len && s[0] == '?')
        pos = 1;
    while (pos < len) {
        const char *pair = s + pos, *amp = memchr(pair, '&', len - pos);
        size_t plen = amp ? (size_t)(amp - pair) : len - pos, base = pos;
        pos += plen + 1;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        if (klen == 0)
            continue;
        if (q->n == QUERY_MAX_PARAMS) {
            set_err(err, errcap, "query string has more than %d parameters",
                    QUERY_MAX_PARAMS);
            q->n = 0;
            return CB_ETOOBIG;
        }
        struct query_param *p = &q->params[q->n];
        if (decode_part(q, &used, pair, klen, base, &p->key, &p->key_len, err,
                        errcap) ||
            decode_part(q, &used, eq ? eq + 1 : "", eq ? plen - klen - 1 : 0,
                        base + klen + 1, &p->value, &p->value_len, err,
                        errcap)) {
            q->n = 0;
            return CB_EINVAL;
        }
        q->n++;
    }
    return 0;
}

const char *query_get_nth(const struct query *q, const char *key, size_t i)
{
    for (size_t k = 0; k < q->n; k++)
        if (!strcmp(q->params[k].key, key) && i-- == 0)
            return q->params[k].value;
    return NULL;
}

const char *query_get(const struct query *q, const char *key)
{
    return query_get_nth(q, key, 0);
}

size_t query_count(const struct query *q, const char *key)
{
    size_t n = 0;
    for (size_t k = 0; k < q->n; k++)
        n += !strcmp(q->params[k].key, key);
    return n;
}

int query_get_int(const struct query *q, const char *key, int64_t min,
                  int64_t max, int64_t def, int64_t *OUT_v, char *err,
                  size_t errcap)
{
    char ex[48];
    const char *v = query_get(q, key);
    int64_t n;
    if (!v) {
        *OUT_v = def;
        return 0;
    }
    if (parse_int64(v, strlen(v), &n))
        return set_err(err, errcap,
                       "parameter '%s' must be an integer, got '%s'", key,
                       excerpt(v, ex, sizeof(ex)));
    if (n < min || n > max)
        return set_err(err, errcap,
                       "parameter '%s' must be between %lld and %lld, got "
                       "'%s'",
                       key, (long long)min, (long long)max,
                       excerpt(v, ex, sizeof(ex)));
    *OUT_v = n;
    return 0;
}

/* Epoch seconds of 1900-01-01 and 2201-01-01: the span of time_parse_iso. */
#define QUERY_MIN_EPOCH_S (-2208988800LL)
#define QUERY_MAX_EPOCH_S (7289654400LL)

int query_get_time(const struct query *q, const char *key, int tz_minutes,
                   int end_of_day, int64_t def, int64_t *OUT_ns, char *err,
                   size_t errcap)
{
    char ex[48];
    const char *v = query_get(q, key);
    int64_t n, day;
    int col;
    if (!v) {
        *OUT_ns = def;
        return 0;
    }
    size_t len = strlen(v);
    if (!parse_int64(v, len, &n)) {
        if (n < QUERY_MIN_EPOCH_S || n >= QUERY_MAX_EPOCH_S)
            return set_err(err, errcap,
                           "parameter '%s': epoch seconds '%s' are out of "
                           "range (years 1900 to 2200)",
                           key, excerpt(v, ex, sizeof(ex)));
        *OUT_ns = n * 1000000000;
        return 0;
    }
    if (!time_parse_date(v, len, &day)) {
        *OUT_ns =
            ((day + (end_of_day != 0)) * 86400 - (int64_t)tz_minutes * 60) *
            1000000000;
        return 0;
    }
    if (time_parse_iso(v, len, &n, &col) == 0) {
        *OUT_ns = n;
        return 0;
    }
    return set_err(err, errcap,
                   "parameter '%s': '%s' is not a time (column %d); expected "
                   "epoch seconds, YYYY-MM-DD or ISO 8601 such as "
                   "2026-11-28T08:00:00+08:00",
                   key, excerpt(v, ex, sizeof(ex)), col);
}

int query_get_enum(const struct query *q, const char *key,
                   const char *const *names, size_t n, int def, int *OUT_v,
                   char *err, size_t errcap)
{
    char ex[48], list[160];
    size_t used = 0;
    const char *v = query_get(q, key);
    if (!v) {
        *OUT_v = def;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v, names[i])) {
            *OUT_v = (int)i;
            return 0;
        }
    }
    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i ? ", " : "", names[i]);
    return set_err(err, errcap, "parameter '%s' must be one of %s; got '%s'",
                   key, list, excerpt(v, ex, sizeof(ex)));
}

int query_get_bool(const struct query *q, const char *key, int def, int *OUT_v,
                   char *err, size_t errcap)
{
    static const char *const names[] = {"false", "0",   "no", "off", "true",
                                        "1",     "yes", "on", ""};
    int i;
    int rc = query_get_enum(q, key, names, 9, -1, &i, NULL, 0);
    if (rc) {
        char ex[48];
        return set_err(err, errcap,
                       "parameter '%s' must be true or false, got '%s'", key,
                       excerpt(query_get(q, key), ex, sizeof(ex)));
    }
    *OUT_v = i < 0 ? def : i >= 4;
    return 0;
}

int query_check_known(const struct query *q, const char *const *known, size_t n,
                      char *err, size_t errcap)
{
    char ex[48];
    for (size_t k = 0; k < q->n; k++) {
        size_t i = 0;
        while (i < n && strcmp(q->params[k].key, known[i]))
            i++;
        if (i == n)
            return set_err(err, errcap, "unknown parameter '%s'",
                           excerpt(q->params[k].key, ex, sizeof(ex)));
    }
    return 0;
}
