/* jsonw.c - the JSON writer and its UTF-8-safe string escaper. */
#include "util/jsonw.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t jsonw_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0; /* continuation byte, overlong lead or past U+10FFFF */
    if (c == 0xE0)
        lo = 0xA0; /* overlong */
    else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    else if (c == 0xF0)
        lo = 0x90; /* overlong */
    else if (c == 0xF4)
        hi = 0x8F; /* past U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static void add_escape(struct sbuf *out, unsigned char c)
{
    static const char short_form[] = {
        ['"'] = '"',  ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r',
        ['\t'] = 't', ['\b'] = 'b',  ['\f'] = 'f'};
    if (c < sizeof(short_form) && short_form[c]) {
        char e[2] = {'\\', short_form[c]};
        sbuf_add(out, e, 2);
    } else {
        sbuf_addf(out, "\\u%04x", c);
    }
}

void jsonw_add_str(struct sbuf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: bytes from run_at that need no escape */
    sbuf_addch(out, '"');
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7F) {
            i++;
            run++;
            continue;
        }
        size_t len = c >= 0x80 ? jsonw_utf8_len(p + i, n - i) : 0;
        if (len) {
            i += len;
            run += len;
            continue;
        }
        sbuf_add(out, p + i - run, run);
        run = 0;
        if (c >= 0x80)
            sbuf_add(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
        else
            add_escape(out, c);
        i++;
    }
    sbuf_add(out, p + i - run, run);
    sbuf_addch(out, '"');
}

void jsonw_init(struct jsonw *w, struct sbuf *out)
{
    w->out = out;
    w->depth = 0;
    w->after_key = 0;
    w->first[0] = 1;
}

/* The comma before a value or key, when it is not the first at its level. */
static void before_item(struct jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    int d = w->depth < JSONW_MAX_DEPTH ? w->depth : JSONW_MAX_DEPTH - 1;
    if (!w->first[d])
        sbuf_addch(w->out, ',');
    w->first[d] = 0;
}

static void open_level(struct jsonw *w, char c)
{
    before_item(w);
    sbuf_addch(w->out, c);
    if (w->depth < JSONW_MAX_DEPTH - 1)
        w->first[++w->depth] = 1;
    else
        w->depth++;
}

static void close_level(struct jsonw *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    w->after_key = 0;
    sbuf_addch(w->out, c);
}

void jsonw_object_begin(struct jsonw *w)
{
    open_level(w, '{');
}

void jsonw_object_end(struct jsonw *w)
{
    close_level(w, '}');
}

void jsonw_array_begin(struct jsonw *w)
{
    open_level(w, '[');
}

void jsonw_array_end(struct jsonw *w)
{
    close_level(w, ']');
}

void jsonw_key(struct jsonw *w, const char *key)
{
    before_item(w);
    jsonw_add_str(w->out, key ? key : "", key ? strlen(key) : 0);
    sbuf_addch(w->out, ':');
    w->after_key = 1;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t n)
{
    before_item(w);
    if (s)
        jsonw_add_str(w->out, s, n);
    else
        sbuf_addstr(w->out, "null");
}

void jsonw_str(struct jsonw *w, const char *s)
{
    jsonw_strn(w, s, s ? strlen(s) : 0);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    before_item(w);
    sbuf_addf(w->out, "%lld", (long long)v);
}

void jsonw_uint(struct jsonw *w, uint64_t v)
{
    before_item(w);
    sbuf_addf(w->out, "%llu", (unsigned long long)v);
}

void jsonw_double(struct jsonw *w, double v)
{
    before_item(w);
    if (isfinite(v))
        sbuf_addf(w->out, "%.17g", v);
    else
        sbuf_addstr(w->out, "null");
}

/* fmt is "%.*f" or "%.*g", chosen below: never a caller's text. */
static void add_rounded(struct jsonw *w, int fixed, double v, int digits)
{
    before_item(w);
    if (!isfinite(v)) {
        sbuf_addstr(w->out, "null");
        return;
    }
    if (v == 0)
        v = 0; /* never "-0" */
    if (digits < 0)
        digits = 0;
    if (fixed)
        sbuf_addf(w->out, "%.*f", digits, v);
    else
        sbuf_addf(w->out, "%.*g", digits, v);
}

void jsonw_double_prec(struct jsonw *w, double v, int decimals)
{
    add_rounded(w, 1, v, decimals);
}

void jsonw_double_sig(struct jsonw *w, double v, int digits)
{
    add_rounded(w, 0, v, digits);
}

static void add_vstrf(struct jsonw *w, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void add_vstrf(struct jsonw *w, const char *fmt, va_list ap)
{
    char buf[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n >= 0 && (size_t)n < sizeof(buf)) {
        jsonw_strn(w, buf, (size_t)n);
    } else if (n >= 0) {
        char *big = xmalloc((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
        jsonw_strn(w, big, (size_t)n);
        free(big);
    } else {
        jsonw_str(w, "");
    }
    va_end(ap2);
}

void jsonw_strf(struct jsonw *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_vstrf(w, fmt, ap);
    va_end(ap);
}

void jsonw_kv_strf(struct jsonw *w, const char *key, const char *fmt, ...)
{
    va_list ap;
    jsonw_key(w, key);
    va_start(ap, fmt);
    add_vstrf(w, fmt, ap);
    va_end(ap);
}

void jsonw_kv_double_prec(struct jsonw *w, const char *key, double v,
                          int decimals)
{
    jsonw_key(w, key);
    jsonw_double_prec(w, v, decimals);
}

void jsonw_kv_double_sig(struct jsonw *w, const char *key, double v, int digits)
{
    jsonw_key(w, key);
    jsonw_double_sig(w, v, digits);
}

void jsonw_bool(struct jsonw *w, int v)
{
    before_item(w);
    sbuf_addstr(w->out, v ? "true" : "false");
}

void jsonw_null(struct jsonw *w)
{
    before_item(w);
    sbuf_addstr(w->out, "null");
}

void jsonw_raw(struct jsonw *w, const char *json, size_t n)
{
    before_item(w);
    sbuf_add(w->out, json, n);
}

void jsonw_kv_str(struct jsonw *w, const char *key, const char *s)
{
    jsonw_key(w, key);
    jsonw_str(w, s);
}

void jsonw_kv_int(struct jsonw *w, const char *key, int64_t v)
{
    jsonw_key(w, key);
    jsonw_int(w, v);
}

void jsonw_kv_uint(struct jsonw *w, const char *key, uint64_t v)
{
    jsonw_key(w, key);
    jsonw_uint(w, v);
}

void jsonw_kv_double(struct jsonw *w, const char *key, double v)
{
    jsonw_key(w, key);
    jsonw_double(w, v);
}

void jsonw_kv_bool(struct jsonw *w, const char *key, int v)
{
    jsonw_key(w, key);
    jsonw_bool(w, v);
}

void jsonw_kv_null(struct jsonw *w, const char *key)
{
    jsonw_key(w, key);
    jsonw_null(w);
}
