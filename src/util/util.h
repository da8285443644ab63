/*
 * util.h - the small pieces every citybrain module stands on.
 *
 * Errors.  A fallible function returns int: 0 (CB_OK) or one of the negative
 * codes of enum cb_err below.  cb_strerror() turns a code into text.  Results
 * travel through out-parameters labelled OUT.  An error that the operating
 * system reported keeps its cause: CB_ERRNO(errno), below CB_ESYS_BASE, so
 * a caller can tell "disk full" (cb_errno(rc) == ENOSPC) from "permission
 * denied" all the way up.
 *
 * Memory.  Allocation failure aborts the process (xmalloc and friends): the
 * server bounds every budget instead (body size, batch size, queue depth), so
 * running out of memory is a bug, not a condition to recover from.
 *
 * Buffers.  struct sbuf is a growable byte string, always NUL-terminated.
 * Lifecycle: sbuf_init, sbuf_add*, sbuf_release (frees), sbuf_reset (empties,
 * keeps the allocation).
 *
 * Arenas.  struct arena hands out memory that is all freed together by
 * arena_release; each request and each ingest batch gets its own.
 *
 * Logging.  log_msg writes one logfmt line to stderr:
 *     ts=2026-11-27T08:00:00.123Z level=info mod=http msg="listening" addr=...
 * Nothing personal goes into logs: household ids are fine, addresses,
 * recipients and tokens never.
 *
 * Threading: everything here is thread-safe except an individual sbuf or
 * arena, which belongs to one thread at a time.
 */
#ifndef CB_UTIL_H
#define CB_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum cb_err {
    CB_OK = 0,
    CB_EINVAL = -1,    /* bad argument or malformed input */
    CB_ENOTFOUND = -2, /* no such object */
    CB_EEXIST = -3,    /* already exists */
    CB_EIO = -4,       /* file or socket I/O failed */
    CB_ESTORE = -5,    /* the embedded store failed */
    CB_ETOOBIG = -6,   /* over a size budget (HTTP 413) */
    CB_EBUSY = -7,     /* queue full, try later (HTTP 429/503) */
    CB_EAUTH = -8,     /* missing or bad credentials (HTTP 401) */
    CB_EPERM = -9,     /* not allowed (HTTP 403) */
    CB_ECLOSED = -10,  /* shutting down */
    CB_EPARSE = -11,   /* input could not be parsed; details elsewhere */
};

/* An operating-system error e (an errno value > 0) as a return code. */
#define CB_ESYS_BASE (-1000)
#define CB_ERRNO(e) (CB_ESYS_BASE - (e))
/* The errno inside a CB_ERRNO code, or 0 for any other code. */
int cb_errno(int err);

/* Returns a static, lowercase description of an enum cb_err code, or the
 * system's text for a CB_ERRNO code ("no space left on device"). */
const char *cb_strerror(int err);

/* Allocation that aborts with a message on failure; never returns NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Growable buffer. */
struct sbuf {
    char *buf;  /* read-only for callers; always NUL-terminated */
    size_t len; /* read-only */
    size_t cap; /* private */
};
#define SBUF_INIT                                                              \
    {                                                                          \
        NULL, 0, 0                                                             \
    }
void sbuf_init(struct sbuf *sb);
void sbuf_release(struct sbuf *sb);
void sbuf_reset(struct sbuf *sb);
void sbuf_grow(struct sbuf *sb, size_t extra);
void sbuf_add(struct sbuf *sb, const void *data, size_t n);
void sbuf_addstr(struct sbuf *sb, const char *s);
void sbuf_addch(struct sbuf *sb, char c);
void sbuf_addf(struct sbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included, always valid UTF-8
 * (invalid bytes become U+FFFD): jsonw_add_str in jsonw.h. */
void sbuf_add_json_str(struct sbuf *sb, const char *s);
/* Takes the buffer out: the caller frees the result; sb is left empty. */
char *sbuf_detach(struct sbuf *sb, size_t *OUT_len);

/* Arena: bump allocation in chunks, freed all at once. */
struct arena_chunk;
struct arena {
    struct arena_chunk *head; /* private */
    size_t used_total;        /* read-only: bytes handed out */
};
#define ARENA_INIT                                                             \
    {                                                                          \
        NULL, 0                                                                \
    }
void *arena_alloc(struct arena *a, size_t n); /* 16-byte aligned */
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_release(struct arena *a);

/* Logging. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn" or "error"; -1 if unknown. */
int log_level_parse(const char *name);
/* fmt gives the message; extra logfmt pairs may follow after a " | ":
 *     log_msg(LOG_INFO, "store", "opened | path=%s", path);        */
void log_msg(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Time. */
/* The first instant no stored record may carry: 2200-01-01T00:00:00Z, in
 * epoch seconds and nanoseconds.  Every feed refuses it and later, so
 * that day, hour and time-zone arithmetic on stored times (which adds up to
 * a few days) stays far inside int64_t. */
#define CB_TS_MAX_S INT64_C(7258118400)
#define CB_TS_MAX_NS (CB_TS_MAX_S * INT64_C(1000000000))
int64_t time_now_ns(void);       /* CLOCK_REALTIME in nanoseconds */
int64_t time_monotonic_ns(void); /* CLOCK_MONOTONIC in nanoseconds */
/* Formats epoch seconds as ISO 8601 with offset, e.g.
 * "2026-11-27T08:00:00+08:00"; out must hold 32 bytes. */
void time_format_iso(int64_t epoch_s, int offset_minutes, char *out);
/* Parses ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" (a space is
 * accepted for T; no offset means UTC; years 1900-2200; the date must
 * exist: no February 31st) into epoch
 * nanoseconds.  Returns 0 or
 * CB_EINVAL; *OUT_col (1-based, may be NULL) points at the first bad byte. */
int time_parse_iso(const char *s, size_t len, int64_t *OUT_ns, int *OUT_col);
/* 1 when y-m-d is a real date (month length, leap years), else 0. */
int time_date_valid(int y, unsigned m, unsigned d);
/* Parses exactly "YYYY-MM-DD" (a real date, years 1900-2200) into days
 * since 1970-01-01.  Returns 0 or CB_EINVAL. */
int time_parse_date(const char *s, size_t len, int64_t *OUT_day);
/* Days since 1970-01-01 for a civil date, and back (proleptic Gregorian). */
int64_t time_days_from_civil(int y, unsigned m, unsigned d);
void time_civil_from_days(int64_t z, int *OUT_y, unsigned *OUT_m,
                          unsigned *OUT_d);

/* Parses a whole decimal number (no spaces, no '+'); 0 or CB_EINVAL. */
int parse_int64(const char *s, size_t len, int64_t *OUT_v);
int parse_double(const char *s, size_t len, double *OUT_v);

#endif
