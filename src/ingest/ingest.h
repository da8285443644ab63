/*
 * ingest.h - the records every feed brings in, and the parsers that make them.
 *
 * A request body becomes one struct ingest_batch: an arena holding every
 * string of the batch, one array of records of the batch's feed, and the
 * errors found, each with the line, column and field it concerns.  The
 * parsers never touch the store: the HTTP layer resolves household ids and
 * hands the batch to the store writer (store.h).
 *
 *   feed          parser              body                   record
 *   ------------  ------------------  ---------------------  ----------------
 *   registry      ingest_parse_       CSV with header, or    struct household
 *                 households          NDJSON (same keys)
 *   readings      ingest_parse_       InfluxDB line protocol struct reading
 *                 lineproto
 *   deliveries    ingest_parse_       NDJSON                 struct delivery
 *                 deliveries
 *   events        ingest_parse_       NDJSON                 struct event
 *                 events
 *
 * Positions: line numbers and columns are 1-based; a column counts bytes
 * from the start of the line.  A line with an error adds no record, so a
 * caller that wants all-or-nothing checks errors.total before storing.
 *
 * Ownership: every pointer inside a record points into the batch's arena
 * and lives until ingest_batch_release.  Parsers are reentrant; one batch
 * belongs to one thread at a time.
 */
#ifndef CB_INGEST_H
#define CB_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum feed {
    FEED_REGISTRY = 0,
    FEED_READINGS = 1,
    FEED_DELIVERIES = 2,
    FEED_EVENTS = 3,
    FEED_COUNT
};
const char *feed_name(enum feed f); /* "registry", "readings", ... */

enum metric {
    METRIC_WATER = 0,
    METRIC_ELECTRICITY = 1,
    METRIC_GAS = 2,
    METRIC_COUNT
};
const char *metric_name(int metric); /* "water", "electricity", "gas" */
int metric_unit_is_m3(int metric);
/* Returns the enum metric for a measurement name, or -1. */
int metric_parse(const char *s, size_t len);

enum reading_field { READING_INDEX = 0, READING_DELTA = 1 };

/* One meter reading. */
struct reading {
    const char *household_id; /* the tag "household" */
    int32_t household;        /* dense id; -1 until resolved */
    uint8_t metric;           /* enum metric */
    uint8_t field;            /* enum reading_field */
    int64_t ts_ns;            /* epoch nanoseconds */
    double value;             /* register (index) or use (delta) */
    int32_t line;
};

/* Household flags (registry column "flags", a '|'-separated list). */
enum household_flag {
    HOUSEHOLD_ELDERLY_ALONE = 1 << 0, /* "elderly_alone" */
    HOUSEHOLD_LARGE_FAMILY = 1 << 1,  /* "large_family": legal, known */
    HOUSEHOLD_BUSINESS = 1 << 2,      /* "business": registered business */
    HOUSEHOLD_VACANT = 1 << 3,        /* "vacant": declared vacant */
};
#define HOUSEHOLD_FLAG_COUNT 4
/* Writes the flags as the next value of w (util/jsonw.h): an array of
 * their registry names, ["elderly_alone","vacant"]. */
struct jsonw; /* util/jsonw.h */
void household_flags_json(struct jsonw *w, int flags);

/* One registry record. */
struct household {
    const char *household_id; /* [A-Za-z0-9_.:-]{1,64} */
    const char *street, *committee, *building, *address;
    double lat, lon, area_m2;
    int32_t rooms, registered_occupants;
    int32_t flags; /* enum household_flag bits; 0 when absent */
    int32_t line;
};

/* One food-delivery order. */
struct delivery {
    const char *order_id;
    const char *household_id; /* NULL when the order gives an address */
    const char *address;      /* NULL when it gives a household id */
    const char *recipient;    /* pseudonymous id */
    int64_t ts_ns;
    int32_t household; /* dense id; -1 unmatched or unresolved */
    int32_t line;
};

/* One department event. */
struct event {
    const char *event_id, *source, *type;
    const char *street;     /* NULL: to be placed from coordinates */
    const char *attrs_json; /* compact JSON object text, or NULL */
    int64_t ts_ns;
    double lat, lon; /* NAN when absent (allowed only with street) */
    int32_t line;
};

#define INGEST_MAX_REPORTED_ERRORS 100

struct ingest_error {
    int32_t line, column;
    char field[40];
    char message[160];
};

/*
 * Plausibility: well-formed data that cannot be true.  When a batch
 * carries these rules (ingest_batch.plausible, set by the caller after
 * ingest_batch_init; NULL checks nothing), the parsers refuse, as a line
 * error that says why:
 *
 *   what                         refused when
 *   ---------------------------  ---------------------------------------
 *   a timestamp of any feed      > now_ns + future_ns, or
 *                                < now_ns - horizon_ns
 *   a reading's index            > max_index[metric]
 *   a reading's delta            > max_delta[metric]
 *
 * now_ns is the district clock's now (clock.h); it also stamps a line of
 * line protocol that has no timestamp.
 */
struct ingest_plausible {
    int64_t now_ns;
    int64_t future_ns, horizon_ns;
    double max_index[METRIC_COUNT], max_delta[METRIC_COUNT];
};

struct ingest_batch {
    enum feed feed;                           /* read-only */
    const struct ingest_plausible *plausible; /* borrowed; NULL: no checks */
    struct arena arena; /* private: owns every string below */
    size_t n;           /* number of records in the array of this feed */
    size_t cap;         /* private */
    struct reading *readings;
    struct household *households;
    struct delivery *deliveries;
    struct event *events;
    size_t lines;                /* records seen: non-blank, non-comment
                                    lines (CSV: rows after the header) */
    size_t n_errors;             /* errors kept, at most 100 */
    size_t errors_total;         /* errors found, kept or not */
    struct ingest_error *errors; /* the first INGEST_MAX_REPORTED_ERRORS */
    int32_t *failed_lines;       /* private: every line with an error */
    size_t n_failed, failed_cap; /* private */
};

/* Makes b an empty batch of feed; nothing is allocated yet. */
void ingest_batch_init(struct ingest_batch *b, enum feed feed);
/* Frees everything b holds (records, strings, errors) and leaves it empty
 * as after ingest_batch_init with the same feed. */
void ingest_batch_release(struct ingest_batch *b);
/* Records an error; keeps the first INGEST_MAX_REPORTED_ERRORS but counts
 * all, and remembers every line for ingest_batch_drop_failed_lines.  field
 * may be NULL (""); text cut to fit stays valid UTF-8. */
void ingest_error_add(struct ingest_batch *b, int line, int column,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Drops the records whose line has an error (after resolution found some),
 * keeping order.  Used by on_error=skip. */
void ingest_batch_drop_failed_lines(struct ingest_batch *b);
/* Writes the errors as a JSON array of
 * {"line":L,"column":C,"field":"...","message":"..."}: the next value of w
 * (util/jsonw.h), or appended to out. */
void ingest_errors_json(const struct ingest_batch *b, struct jsonw *w);
void ingest_errors_to_json(const struct ingest_batch *b, struct sbuf *out);

/* Timestamp precision of line protocol. */
enum precision { PRECISION_NS, PRECISION_US, PRECISION_MS, PRECISION_S };
/* Parses "ns", "us", "ms" or "s"; -1 if unknown. */
int precision_parse(const char *s);

/*
 * Parsers.  Each appends the valid records of body to b (whose feed must
 * match, else CB_EINVAL) and records an error for every invalid line.  They
 * return 0, or CB_ETOOBIG when the body holds more than max_records records
 * (nothing is then guaranteed about b beyond that it can be released).
 * Blank lines (and '#' comments in line protocol) are skipped and are not
 * records; an empty body is valid and gives n = 0.
 *
 * Errors: one per bad line for line protocol and JSON syntax, one per bad
 * value otherwise.  field is the measurement, tag or field name of line
 * protocol ("measurement", "household", "index", "delta", "timestamp",
 * "tags", "fields" or the key), the CSV column name or JSON key, "row" for
 * a CSV row of the wrong width, and "" for a JSON syntax error.  column is
 * where the offending text starts (for JSON values, where the key's value
 * starts; 1 when the key is absent).  Messages are lowercase and quote the
 * offending text cut to ~40 bytes, except a recipient that looks like a
 * phone number, which is never echoed.
 *
 *   feed        rules beyond the contract
 *   ----------  ------------------------------------------------------------
 *   readings    timestamps in 1970..2199 (0 <= ns < CB_TS_MAX_NS)
 *   registry    text <= 256 bytes, valid UTF-8, no control characters
 *   deliveries  order_id, recipient 1..128 bytes; address <= 512 bytes; ts
 *               ISO 8601 needs 'Z' or an offset and a year in 1970..2199
 *   events      event_id, source, type 1..128 bytes; attrs <= 4096 bytes
 *               as compact JSON with sorted keys
 */
int ingest_parse_lineproto(const char *body, size_t len, enum precision prec,
                           size_t max_records, struct ingest_batch *b);
int ingest_parse_households(const char *body, size_t len, int is_ndjson,
                            size_t max_records, struct ingest_batch *b);
/* Routes Jansson's allocations through the NDJSON parsers' per-line
 * scratch buffer (see ndjson.c).  Call once at start, before any thread
 * uses Jansson; without it the parsers use malloc, with the same results. */
void ingest_json_init(void);
int ingest_parse_deliveries(const char *body, size_t len, size_t max_records,
                            struct ingest_batch *b);
int ingest_parse_events(const char *body, size_t len, size_t max_records,
                        struct ingest_batch *b);

#endif
