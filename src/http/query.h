/*
 * query.h - URL query strings, decoded into key/value pairs.
 *
 *   limit=20&street=%E9%99%86%E5%AE%B6%E5%98%B4&tag=a&tag=b+c
 *     -> limit "20", street "陆家嘴", tag "a", tag "b c"
 *
 * Rules: pairs are separated by '&' (empty pairs are skipped; a leading '?'
 * is ignored); a pair without '=' has the value ""; '+' is a space and %XX
 * a byte (either hex case); a pair with an empty key is skipped.  Decoded
 * keys and values must be valid UTF-8 without NUL.  Keys may repeat: every
 * occurrence is kept in order; query_get and the typed getters use the
 * first.
 *
 * Budgets: at most QUERY_MAX_LEN raw bytes and QUERY_MAX_PARAMS pairs.
 *
 * Memory: struct query is self-contained (about 6 KiB, no allocation), so
 * it can live on the stack; every string it hands out lives as long as it.
 * One struct query belongs to one thread at a time; the functions are
 * otherwise pure.
 *
 * Errors: functions that can fail take err/errcap and write there a
 * lowercase message that names the parameter and quotes the bad text, e.g.
 *     parameter 'limit' must be an integer, got 'ten'
 * (err may be NULL when errcap is 0).
 */
#ifndef CB_QUERY_H
#define CB_QUERY_H

#include <stddef.h>
#include <stdint.h>

#define QUERY_MAX_LEN 4096
#define QUERY_MAX_PARAMS 64

struct query_param {
    const char *key, *value; /* NUL-terminated, decoded */
    size_t key_len, value_len;
};

struct query {
    size_t n;                                           /* read-only */
    struct query_param params[QUERY_MAX_PARAMS];        /* read-only */
    char buf[QUERY_MAX_LEN + 2 * QUERY_MAX_PARAMS + 2]; /* private */
};

/*
 * Decodes the query string s[0..len) (the part after '?'; s may be NULL
 * when len is 0) into q, replacing what q held.  Returns 0; CB_ETOOBIG
 * when s is longer than QUERY_MAX_LEN or has more than QUERY_MAX_PARAMS
 * pairs; CB_EINVAL on a bad %-escape, a NUL byte or invalid UTF-8.  On
 * error q holds no pairs and err says why.
 */
int query_parse(struct query *q, const char *s, size_t len, char *err,
                size_t errcap);

/* The first value of key, or NULL when absent.  Borrowed from q. */
const char *query_get(const struct query *q, const char *key);
/* How many times key occurs. */
size_t query_count(const struct query *q, const char *key);
/* The value of the i-th (0-based) occurrence of key, or NULL. */
const char *query_get_nth(const struct query *q, const char *key, size_t i);

/*
 * Reads key as a decimal integer in [min, max].  Absent: *OUT_v = def and
 * 0.  Returns CB_EINVAL (empty, not an integer, or out of range) with err
 * naming the key; *OUT_v is then unchanged.
 */
int query_get_int(const struct query *q, const char *key, int64_t min,
                  int64_t max, int64_t def, int64_t *OUT_v, char *err,
                  size_t errcap);

/*
 * Reads key as a time, in the forms every read endpoint accepts:
 *
 *   form                     example                    means
 *   -----------------------  -------------------------  --------------------
 *   epoch seconds            1764547200                 that second
 *   a date                   2026-11-28                 its first instant in
 *                                                       the district (with
 *                                                       end_of_day: the first
 *                                                       of the next day)
 *   ISO 8601 date and time   2026-11-28T08:00:00+08:00  that instant (no
 *                                                       offset: UTC)
 *
 * Years 1900 to 2200, real dates only; epoch seconds in the same span.
 * tz_minutes is the district's UTC offset.  Absent: *OUT_ns = def and 0.
 * Returns CB_EINVAL with err naming the key; *OUT_ns is then unchanged.
 */
int query_get_time(const struct query *q, const char *key, int tz_minutes,
                   int end_of_day, int64_t def, int64_t *OUT_ns, char *err,
                   size_t errcap);

/*
 * Reads key as one of names[0..n) (exact match) and sets *OUT_v to its
 * index.  Absent: *OUT_v = def and 0.  Returns CB_EINVAL with err listing
 * the names; *OUT_v is then unchanged.
 */
int query_get_enum(const struct query *q, const char *key,
                   const char *const *names, size_t n, int def, int *OUT_v,
                   char *err, size_t errcap);

/*
 * Reads key as a boolean: true/1/yes/on or false/0/no/off (a key with no
 * value counts as true).  Absent: *OUT_v = def and 0.  CB_EINVAL otherwise.
 */
int query_get_bool(const struct query *q, const char *key, int def, int *OUT_v,
                   char *err, size_t errcap);

/*
 * Checks that every key of q is one of known[0..n).  Returns 0, or
 * CB_EINVAL with err naming the first unknown parameter.
 */
int query_check_known(const struct query *q, const char *const *known, size_t n,
                      char *err, size_t errcap);

#endif
