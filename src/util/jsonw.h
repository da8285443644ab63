/*
 * jsonw.h - a small streaming JSON writer that always emits valid JSON text
 * in valid UTF-8.
 *
 * Every string it writes (keys and values) goes through one escaper,
 * jsonw_add_str:
 *
 *   input byte(s)                          output
 *   -------------------------------------  -----------------------------
 *   '"'  '\\'                              \"  \\
 *   '\n' '\r' '\t' '\b' '\f'               \n  \r  \t  \b  \f
 *   other bytes < 0x20, and 0x7F           \u00XX
 *   a well-formed UTF-8 sequence           copied as is
 *   any byte that does not start one       U+FFFD (EF BF BD), one per byte
 *   (stray continuation, overlong form,
 *   surrogate, past U+10FFFF, truncated)
 *
 * so text from the outside (a header, a path, a stored audit reason) can
 * never make a response that a strict parser rejects.  sbuf_add_json_str
 * (util.h) is this escaper too.
 *
 * The writer keeps the commas: call jsonw_key before each value inside an
 * object, nothing before a value inside an array.  It does not check the
 * nesting beyond its depth limit; a caller that ends what it began gets
 * well-formed JSON.  Numbers that JSON cannot carry (NaN, infinities) are
 * written as null.
 *
 *   struct jsonw w;
 *   jsonw_init(&w, &out);
 *   jsonw_object_begin(&w);
 *   jsonw_kv_str(&w, "who", name);
 *   jsonw_key(&w, "ids");
 *   jsonw_array_begin(&w);
 *   jsonw_str(&w, "H0000001");
 *   jsonw_array_end(&w);
 *   jsonw_object_end(&w);       ->  {"who":"..","ids":["H0000001"]}
 *
 * Ownership: the writer borrows out until the last call; it allocates
 * nothing itself (out grows).  Threading: one writer per thread.
 */
#ifndef CB_JSONW_H
#define CB_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define JSONW_MAX_DEPTH 32

struct jsonw {
    struct sbuf *out; /* borrowed */
    int depth;        /* private */
    int after_key;    /* private: a key was written, its value is next */
    unsigned char first[JSONW_MAX_DEPTH]; /* private: nothing yet at level */
};

/* Starts writing at the end of out (which keeps what it holds). */
void jsonw_init(struct jsonw *w, struct sbuf *out);

void jsonw_object_begin(struct jsonw *w);
void jsonw_object_end(struct jsonw *w);
void jsonw_array_begin(struct jsonw *w);
void jsonw_array_end(struct jsonw *w);

/* The key of the next value inside an object. */
void jsonw_key(struct jsonw *w, const char *key);

/* Values.  s may be NULL: written as null. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_strn(struct jsonw *w, const char *s, size_t n);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v); /* all 64 bits, e.g. a seed */
void jsonw_double(struct jsonw *w, double v); /* %.17g; NaN, inf: null */
/* v rounded for people to read: jsonw_double_prec with that many digits
 * after the point (printf's %.*f: 2 -> "0.25"), jsonw_double_sig with that
 * many significant digits (%.*g: 4 -> "0.2468", "1.235e+06").  Both write
 * NaN and infinities as null, and a zero as 0, never -0. */
void jsonw_double_prec(struct jsonw *w, double v, int decimals);
void jsonw_double_sig(struct jsonw *w, double v, int digits);
void jsonw_bool(struct jsonw *w, int v);
void jsonw_null(struct jsonw *w);
/* A string value formatted by printf, then escaped like any other. */
void jsonw_strf(struct jsonw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A fragment that is already JSON (e.g. a nested object built elsewhere),
 * copied as is: the caller vouches for it. */
void jsonw_raw(struct jsonw *w, const char *json, size_t n);

/* key + value in one call. */
void jsonw_kv_str(struct jsonw *w, const char *key, const char *s);
void jsonw_kv_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_kv_uint(struct jsonw *w, const char *key, uint64_t v);
void jsonw_kv_double(struct jsonw *w, const char *key, double v);
void jsonw_kv_double_prec(struct jsonw *w, const char *key, double v,
                          int decimals);
void jsonw_kv_double_sig(struct jsonw *w, const char *key, double v,
                         int digits);
void jsonw_kv_strf(struct jsonw *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void jsonw_kv_bool(struct jsonw *w, const char *key, int v);
void jsonw_kv_null(struct jsonw *w, const char *key);

/* The escaper: appends s[0..n) to out as a JSON string literal, quotes
 * included, valid UTF-8 as the table above says. */
void jsonw_add_str(struct sbuf *out, const char *s, size_t n);
/* Length of the well-formed UTF-8 sequence starting at s (at most n bytes
 * are looked at): 1-4, or 0 when s[0] does not start one. */
size_t jsonw_utf8_len(const unsigned char *s, size_t n);

#endif
