/*
 * lineproto.c - InfluxDB line protocol to meter readings (the hot path).
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * The grammar follows InfluxDB 2.x: measurement, tag keys, tag values and
 * field keys escape ',', ' ' and '=' with a backslash; string field values
 * are double-quoted with \" and \\ escapes; integers end in 'i', unsigned
 * integers in 'u'; booleans are t/f/true/false in three casings.  Lines
 * starting with '#' are comments; blank lines are skipped; a '\r' before
 * the '\n' is dropped.
 *
 * On top of that grammar the meter rules: measurement water|electricity|gas,
 * tag household required (other tags ignored), exactly one numeric field
 * index or delta (other fields ignored), finite and >= 0.  A line without a
 * timestamp gets the time the batch was parsed.
 *
 * Speed: one pass over each line, no copy of a line, no allocation besides
 * the arena and the record array (sized once from the newline count).
 * Household ids go through a small direct-mapped cache, so a batch that
 * repeats a household stores its id once.  Simple decimals are converted
 * exactly without strtod (ingest__parse_number).
 */
#include "ingest/ingest.h"
#include "ingest/ingest_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LP_CACHE 256

struct lp_parser {
    struct ingest_batch *b;
    int64_t now_ns;   /* timestamp of lines without one */
    int64_t scale;    /* nanoseconds per timestamp unit */
    const char *prec; /* precision name, for messages */
    int32_t lineno;   /* current line */
    const char *line; /* start of the current line */
    struct {
        const char *id; /* in the arena */
        size_t len;
    } cache[LP_CACHE];
};

/* What the field set of one line brought. */
struct lp_fields {
    int which; /* enum reading_field, or -1 */
    double value;
    const char *at; /* where the value starts */
};

static int lp_error(struct lp_parser *P, const char *at, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Records an error at byte at of the current line; returns -1. */
static int lp_error(struct lp_parser *P, const char *at, const char *field,
                    const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ingest_error_add(P->b, P->lineno, (int)(at - P->line) + 1, field, "%s",
                     msg);
    return -1;
}

#define QUOTE(s, n) ingest__excerpt((s), (n), q, sizeof(q))

/* Advances past a name (measurement, tag key or value, field key) that ends
 * at an unescaped byte of stop (or the end); sets *esc when it has escapes. */
static const char *scan_name(const char *p, const char *end, char stop1,
                             char stop2, char stop3, int *esc)
{
    *esc = 0;
    while (p < end && *p != stop1 && *p != stop2 && *p != stop3) {
        if (*p == '\\' && p + 1 < end) {
            *esc = 1;
            p += 2;
        } else {
            p++;
        }
    }
    return p;
}

static int parse_measurement(struct lp_parser *P, const char **pp,
                             const char *end, int *OUT_metric)
{
    char q[INGEST_EXCERPT_CAP], plain[16];
    const char *start = *pp;
    int esc;
    const char *p = scan_name(start, end, ',', ' ', ' ', &esc);
    size_t len = (size_t)(p - start);
    *pp = p;
    if (!len)
        return lp_error(P, start, "measurement", "missing measurement");
    int metric = -1;
    if (!esc) {
        metric = metric_parse(start, len);
    } else if (len < sizeof(plain)) {
        size_t n = 0;
        for (const char *s = start; s < p; s++)
            plain[n++] = *s == '\\' && s + 1 < p ? *++s : *s;
        metric = metric_parse(plain, n);
    }
    if (metric < 0)
        return lp_error(P, start, "measurement",
                        "unknown measurement '%s'; expected water, "
                        "electricity or gas",
                        QUOTE(start, len));
    *OUT_metric = metric;
    return 0;
}

/* Parses ",k=v,..." up to the space before the fields; finds household. */
static int parse_tags(struct lp_parser *P, const char **pp, const char *end,
                      const char **OUT_hh, size_t *OUT_hh_len)
{
    char q[INGEST_EXCERPT_CAP];
    const char *p = *pp;
    int esc;
    *OUT_hh = NULL;
    while (p < end && *p == ',') {
        const char *key = ++p;
        p = scan_name(p, end, '=', ',', ' ', &esc);
        size_t klen = (size_t)(p - key);
        if (!klen)
            return lp_error(P, key, "tags", "empty tag key");
        if (p == end || *p != '=')
            return lp_error(P, key, "tags", "tag '%s' has no value",
                            QUOTE(key, klen));
        const char *val = ++p;
        p = scan_name(p, end, ',', ' ', ' ', &esc);
        if (p == val)
            return lp_error(P, val, "tags", "tag '%s' has an empty value",
                            QUOTE(key, klen));
        if (klen == 9 && !memcmp(key, "household", 9)) {
            if (*OUT_hh)
                return lp_error(P, key, "household",
                                "duplicate tag 'household'");
            *OUT_hh = val;
            *OUT_hh_len = (size_t)(p - val);
        }
    }
    *pp = p;
    return 0;
}

static int bool_word(const char *s, size_t n)
{
    static const char *const words[] = {"t", "T", "true",  "True",  "TRUE",
                                        "f", "F", "false", "False", "FALSE"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && !memcmp(words[i], s, n))
            return 1;
    return 0;
}

/* Parses a numeric field value: float, 12i or 12u.  0, or CB_EINVAL /
 * CB_ETOOBIG as ingest__parse_number. */
static int field_number(const char *s, size_t n, double *OUT_v)
{
    char last = s[n - 1];
    if (last != 'i' && last != 'u')
        return ingest__parse_number(s, n, OUT_v);
    if (n < 2 || (last == 'u' && (s[0] == '-' || s[0] == '+')))
        return CB_EINVAL;
    if (last == 'u' && n - 1 >= 20) {
        /* Up to 2^64-1: beyond int64, strtod's rounding is fine. */
        for (size_t i = 0; i < n - 1; i++)
            if (s[i] < '0' || s[i] > '9')
                return CB_EINVAL;
        if (n - 1 > 20 || memcmp(s, "18446744073709551615", 20) > 0)
            return CB_ETOOBIG;
        return ingest__parse_number(s, n - 1, OUT_v);
    }
    int64_t v;
    int rc = ingest__parse_int(s, n - 1, &v);
    if (rc)
        return rc;
    *OUT_v = (double)v;
    return 0;
}

/* 1 when s[0..n) is a valid boolean or number (a field we do not use). */
static int other_value_ok(const char *s, size_t n)
{
    double v;
    return bool_word(s, n) || field_number(s, n, &v) == 0;
}

/* The value s[0..n) of index or delta, whose key starts at key_at. */
static int take_reading_value(struct lp_parser *P, struct lp_fields *f,
                              const char *key_at, int which, const char *s,
                              size_t n)
{
    char q[INGEST_EXCERPT_CAP];
    const char *key = which == READING_DELTA ? "delta" : "index";
    double v;
    if (f->which == which)
        return lp_error(P, key_at, key, "duplicate field '%s'", key);
    if (f->which >= 0)
        return lp_error(P, key_at, key,
                        "line has both 'index' and 'delta'; give exactly one");
    int rc = field_number(s, n, &v);
    if (rc == CB_ETOOBIG)
        return lp_error(P, s, key, "%s '%s' is out of range", key, QUOTE(s, n));
    if (rc)
        return lp_error(P, s, key, "field '%s' must be a number, got '%s'", key,
                        QUOTE(s, n));
    if (v < 0)
        return lp_error(P, s, key, "negative %s '%s'", key, QUOTE(s, n));
    f->which = which;
    f->value = v;
    f->at = s;
    return 0;
}

/* Advances past a field value: a quoted string or a bare token.  Returns
 * NULL when a string is not terminated. */
static const char *scan_value(const char *p, const char *end)
{
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++)
            if (*p == '\\' && p + 1 < end)
                p++;
        return p == end ? NULL : p + 1;
    }
    while (p < end && *p != ',' && *p != ' ')
        p++;
    return p;
}

/* Parses one "key=value"; leaves *pp after the value. */
static int parse_field(struct lp_parser *P, const char **pp, const char *end,
                       struct lp_fields *f)
{
    char q[INGEST_EXCERPT_CAP], name[40];
    const char *key = *pp, *p;
    int esc;
    p = scan_name(key, end, '=', ',', ' ', &esc);
    size_t klen = (size_t)(p - key);
#define NAME ingest__excerpt(key, klen, name, sizeof(name))
    if (!klen)
        return lp_error(P, key, "fields", "empty field key");
    if (p == end || *p != '=')
        return lp_error(P, key, NAME, "field '%s' has no value", name);
    const char *val = ++p;
    if (!(p = scan_value(val, end)))
        return lp_error(P, val, NAME, "unterminated string value in field '%s'",
                        name);
    size_t vlen = (size_t)(p - val);
    *pp = p;
    if (!vlen)
        return lp_error(P, val, NAME, "field '%s' has an empty value", name);
    int which = -1;
    if (!esc && klen == 5 && !memcmp(key, "index", 5))
        which = READING_INDEX;
    else if (!esc && klen == 5 && !memcmp(key, "delta", 5))
        which = READING_DELTA;
    if (which >= 0)
        return take_reading_value(P, f, key, which, val, vlen);
    if (*val != '"' && !other_value_ok(val, vlen))
        return lp_error(P, val, NAME, "invalid value '%s' for field '%s'",
                        QUOTE(val, vlen), name);
#undef NAME
    return 0;
}

static int parse_fields(struct lp_parser *P, const char **pp, const char *end,
                        struct lp_fields *f)
{
    char q[INGEST_EXCERPT_CAP];
    const char *p = *pp, *start = p;
    f->which = -1;
    for (;;) {
        if (parse_field(P, &p, end, f))
            return -1;
        if (p == end || *p == ' ')
            break;
        if (*p != ',')
            return lp_error(P, p, "fields", "unexpected '%s' after a field",
                            QUOTE(p, (size_t)(end - p)));
        p++;
    }
    *pp = p;
    if (f->which < 0)
        return lp_error(P, start, "index", "missing field 'index' or 'delta'");
    return 0;
}

static int parse_timestamp(struct lp_parser *P, const char *p, const char *end,
                           int64_t *OUT_ns)
{
    char q[INGEST_EXCERPT_CAP];
    const char *start = p;
    while (p < end && *p != ' ')
        p++;
    size_t n = (size_t)(p - start);
    while (p < end && *p == ' ')
        p++;
    if (p < end)
        return lp_error(P, p, "timestamp",
                        "unexpected text '%s' after the timestamp",
                        QUOTE(p, (size_t)(end - p)));
    int64_t t;
    int rc = ingest__parse_int(start, n, &t);
    if (rc == CB_EINVAL)
        return lp_error(P, start, "timestamp", "invalid timestamp '%s'",
                        QUOTE(start, n));
    if (rc == 0 && t < 0)
        return lp_error(P, start, "timestamp", "negative timestamp '%s'",
                        QUOTE(start, n));
    if (rc || t > (CB_TS_MAX_NS - 1) / P->scale)
        return lp_error(P, start, "timestamp",
                        "timestamp '%s' is out of range for precision '%s'; "
                        "years 1970 to 2199 are accepted",
                        QUOTE(start, n), P->prec);
    *OUT_ns = t * P->scale;
    return 0;
}

/* Refuses a value or timestamp that is well formed but implausible
 * (ingest.h); ts_at is where the timestamp starts, NULL when the line has
 * none. */
static int check_plausible(struct lp_parser *P, int metric,
                           const struct lp_fields *f, int64_t ts,
                           const char *ts_at)
{
    const struct ingest_plausible *pl = P->b->plausible;
    char why[160];
    if (!pl)
        return 0;
    const char *key = f->which == READING_DELTA ? "delta" : "index";
    double max = f->which == READING_DELTA ? pl->max_delta[metric]
                                           : pl->max_index[metric];
    if (f->value > max)
        return lp_error(P, f->at, key,
                        "%s %g is not plausible for %s: above the limit %g "
                        "(setting %s_max_%s)",
                        key, f->value, metric_name(metric), max,
                        metric_name(metric), key);
    if (ts_at && ingest__ts_implausible(P->b, ts, why, sizeof(why)))
        return lp_error(P, ts_at, "timestamp", "timestamp %s", why);
    return 0;
}

/* The household id as a NUL-terminated string in the arena, shared with
 * earlier lines of the batch that name the same household. */
static const char *intern_household(struct lp_parser *P, const char *s,
                                    size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    h = (h ^ (h >> 16)) % LP_CACHE;
    if (P->cache[h].id && P->cache[h].len == n && !memcmp(P->cache[h].id, s, n))
        return P->cache[h].id;
    P->cache[h].id = arena_strndup(&P->b->arena, s, n);
    P->cache[h].len = n;
    return P->cache[h].id;
}

/* Parses one non-blank, non-comment line starting at p. */
static void parse_line(struct lp_parser *P, const char *p, const char *end)
{
    char q[INGEST_EXCERPT_CAP];
    const char *hh = NULL;
    size_t hh_len = 0;
    int metric = 0;
    struct lp_fields f = {-1, 0, NULL};
    if (parse_measurement(P, &p, end, &metric) ||
        parse_tags(P, &p, end, &hh, &hh_len))
        return;
    if (!hh) {
        lp_error(P, P->line, "household", "missing tag 'household'");
        return;
    }
    if (!ingest__household_id_ok(hh, hh_len)) {
        lp_error(P, hh, "household",
                 "invalid household id '%s'; expected 1 to 64 of "
                 "A-Z a-z 0-9 _ . : -",
                 QUOTE(hh, hh_len));
        return;
    }
    while (p < end && *p == ' ')
        p++;
    if (p == end) {
        lp_error(P, p, "index", "missing field 'index' or 'delta'");
        return;
    }
    if (parse_fields(P, &p, end, &f))
        return;
    while (p < end && *p == ' ')
        p++;
    int64_t ts = P->now_ns;
    const char *ts_at = p < end ? p : NULL;
    if (p < end && parse_timestamp(P, p, end, &ts))
        return;
    if (check_plausible(P, metric, &f, ts, ts_at))
        return;
    struct reading *r = ingest__push_reading(P->b);
    r->household_id = intern_household(P, hh, hh_len);
    r->household = -1;
    r->metric = (uint8_t)metric;
    r->field = (uint8_t)f.which;
    r->ts_ns = ts;
    r->value = f.value;
    r->line = P->lineno;
}

int ingest_parse_lineproto(const char *body, size_t len, enum precision prec,
                           size_t max_records, struct ingest_batch *b)
{
    static const int64_t scale[] = {1, 1000, 1000000, 1000000000};
    static const char *const names[] = {"ns", "us", "ms", "s"};
    if (b->feed != FEED_READINGS || (unsigned)prec > PRECISION_S)
        return CB_EINVAL;
    struct lp_parser *P = xcalloc(1, sizeof(*P));
    P->b = b;
    P->now_ns = b->plausible ? b->plausible->now_ns : time_now_ns();
    P->scale = scale[prec];
    P->prec = names[prec];
    size_t lines = ingest__count_lines(body, len) + 1;
    ingest__reserve(b, lines < max_records ? lines : max_records);
    size_t pos = 0, seen = 0, n;
    const char *s;
    int rc = 0;
    while (ingest__next_line(body, len, &pos, &P->lineno, &s, &n)) {
        const char *end = s + n, *p = s;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end || *p == '#')
            continue;
        if (++seen > max_records) {
            rc = CB_ETOOBIG;
            break;
        }
        b->lines++;
        P->line = s;
        parse_line(P, p, end);
    }
    free(P);
    return rc;
}
