/*
 * ingest_int.h - helpers shared by the ingest parsers; not for other modules.
 *
 * Everything here is internal to src/ingest/ (prefix ingest__).  The helpers
 * are pure functions or act on one batch, so they share the threading rule of
 * ingest.h: one batch belongs to one thread at a time.
 */
#ifndef CB_INGEST_INT_H
#define CB_INGEST_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ingest/ingest.h"

/* Longest text cell (street, address, ...) and id the parsers accept. */
#define INGEST_MAX_TEXT 256
#define INGEST_MAX_ID 128
#define INGEST_MAX_HOUSEHOLD_ID 64
#define INGEST_MAX_ADDRESS 512 /* free-text delivery address */

/*
 * Makes room for n more records in the array of b's feed, so the next n
 * ingest__push calls do not reallocate.  Aborts on out-of-memory.
 */
void ingest__reserve(struct ingest_batch *b, size_t n);
/*
 * Appends one zeroed record to the array of b's feed and returns it; the
 * pointer stays valid until the next push or reserve.  b->n counts it.
 */
struct reading *ingest__push_reading(struct ingest_batch *b);
struct household *ingest__push_household(struct ingest_batch *b);
struct delivery *ingest__push_delivery(struct ingest_batch *b);
struct event *ingest__push_event(struct ingest_batch *b);

/*
 * Checks a timestamp against b->plausible's window.  Returns 0 when it is
 * inside (or the batch has no rules), else -1 after writing into why (cap
 * bytes) a lowercase reason that gives the time, the district clock and
 * the window.
 */
int ingest__ts_implausible(const struct ingest_batch *b, int64_t ts_ns,
                           char *why, size_t cap);

/* 1 when s[0..len) matches [A-Za-z0-9_.:-]{1,64}, else 0. */
int ingest__household_id_ok(const char *s, size_t len);

/* Returns the offset of the first byte of s[0..len) that is not part of a
 * valid UTF-8 sequence (overlongs, surrogates and > U+10FFFF are invalid),
 * or len when all of s is valid. */
size_t ingest__utf8_check(const char *s, size_t len);

/*
 * Checks a text value: non-empty, at most max bytes, valid UTF-8 and free of
 * control characters.  Returns NULL when it is fine, or a static lowercase
 * reason ("is empty", "is longer than 256 bytes", ...).
 */
const char *ingest__text_problem(const char *s, size_t len, size_t max);

/*
 * Writes into buf (cap bytes, cap >= 8) a printable excerpt of s[0..len) to
 * quote in an error message: at most about 40 bytes, cut on a UTF-8
 * boundary and ended with "..." when cut; invalid bytes and control
 * characters become '?'.  Returns buf.
 */
const char *ingest__excerpt(const char *s, size_t len, char *buf, size_t cap);
#define INGEST_EXCERPT_CAP 64

/*
 * Parses a whole strict decimal number: [+-]digits[.digits][e[+-]digits] or
 * [+-].digits[...]; no hex, no "inf"/"nan", no spaces.  Returns 0 and sets
 * *OUT_v, or CB_EINVAL (malformed) or CB_ETOOBIG (not finite as a double).
 * Simple decimals take an exact fast path; others go through strtod.
 */
int ingest__parse_number(const char *s, size_t len, double *OUT_v);

/*
 * Parses a whole decimal integer [+-]?digits into *OUT_v.  Returns 0,
 * CB_EINVAL (malformed) or CB_ETOOBIG (outside int64).
 */
int ingest__parse_int(const char *s, size_t len, int64_t *OUT_v);

/*
 * Steps through the lines of body.  *pos is the offset of the next line
 * (start with 0); on return 1, *OUT_s / *OUT_len is the line without its
 * '\n' and without a trailing '\r', *pos moved past it and *lineno (start
 * with 0) is the 1-based number of the line.  Returns 0 at the end.
 */
int ingest__next_line(const char *body, size_t len, size_t *pos,
                      int32_t *lineno, const char **OUT_s, size_t *OUT_len);

/* 1 when s[0..len) holds only spaces and tabs. */
int ingest__blank(const char *s, size_t len);

/* Counts the '\n' of s[0..len), to size the record array up front. */
size_t ingest__count_lines(const char *s, size_t len);

/* ---- CSV (csv.c): RFC 4180 records ---- */

#define CSV_MAX_CELLS 256

/* One cell: s points into the body, or into the arena when a quoted cell
 * had doubled quotes.  Unquoted cells are trimmed of spaces and tabs. */
struct csv_cell {
    const char *s;
    size_t len;
    int32_t line, col; /* where the cell starts */
    int quoted;
};

struct csv_reader {
    const char *body;    /* borrowed */
    size_t len, pos;     /* private */
    size_t line_start;   /* private: offset of the current line */
    int32_t line;        /* private: line of pos */
    struct arena *arena; /* borrowed: for unescaped quoted cells */
    size_t n;            /* OUT: cells in the record (may exceed MAX) */
    int32_t record_line; /* OUT: line where the record starts */
    struct csv_cell cells[CSV_MAX_CELLS]; /* OUT: the first cells */
    int32_t err_line, err_col;            /* OUT: after a syntax error */
    const char *err_msg;                  /* OUT: static text */
};

/* Starts reading body (a UTF-8 BOM is skipped); arena must outlive the
 * cells handed out. */
void ingest__csv_init(struct csv_reader *r, const char *body, size_t len,
                      struct arena *arena);
/*
 * Reads the next non-blank record into r->cells / r->n.  Returns 1, 0 at the
 * end of the body, or -1 on a syntax error (r->err_*), after which reading
 * resumes at the next line.
 */
int ingest__csv_next(struct csv_reader *r);

/* ---- NDJSON (ndjson.c) ---- */

/* Builds one record from a parsed line; s[0..n) is the raw line, for
 * ingest__json_key_col.  Records its own errors. */
typedef void (*ingest__json_record_fn)(struct ingest_batch *b, json_t *object,
                                       const char *s, size_t n, int32_t line);
/*
 * Runs fn over every non-blank line of body parsed as a JSON object;
 * records an error for a line that is not one.  Returns 0, or CB_ETOOBIG
 * past max_records non-blank lines.
 */
int ingest__parse_ndjson(const char *body, size_t len, size_t max_records,
                         struct ingest_batch *b, ingest__json_record_fn fn);
/* 1-based byte column where the value of "key" starts in the raw line
 * s[0..n), or 1 when the key is not found as written. */
int ingest__json_key_col(const char *s, size_t n, const char *key);

#endif
