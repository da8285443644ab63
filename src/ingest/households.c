/*
 * households.c - the household registry, from CSV or NDJSON.
 *
 * Both forms carry the same names:
 *
 *   name                  type     rule
 *   --------------------  -------  ------------------------------------------
 *   household_id          text     [A-Za-z0-9_.:-]{1,64}
 *   street, committee,    text     non-empty UTF-8, <= 256 bytes, no control
 *   building, address                characters
 *   lat                   number   [-90, 90]
 *   lon                   number   [-180, 180]
 *   area_m2               number   > 0
 *   rooms                 integer  >= 1
 *   registered_occupants  integer  >= 0
 *   flags (optional)      text     '|'-separated elderly_alone, large_family,
 *                                  business, vacant
 *
 * CSV: the first non-blank record is the header; columns are found by name
 * (ASCII case ignored) in any order, unknown columns are ignored, and a
 * missing column is one error on the header line, after which no row is
 * read.  NDJSON: one object per line; numbers may come as JSON numbers or
 * as strings, and flags also as an array of strings.
 *
 * Every bad value of a row is reported (field = the column name, column =
 * where the cell or the key's value starts); a row with any error adds no
 * record.
 */
#include "ingest/ingest_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/jsonw.h"

enum hh_col {
    HH_ID,
    HH_STREET,
    HH_COMMITTEE,
    HH_BUILDING,
    HH_ADDRESS,
    HH_LAT,
    HH_LON,
    HH_AREA,
    HH_ROOMS,
    HH_OCCUPANTS,
    HH_FLAGS, /* the only optional one; keep last */
    HH_NCOLS
};

static const char *const hh_names[HH_NCOLS] = {
    "household_id", "street", "committee", "building", "address",
    "lat",          "lon",    "area_m2",   "rooms",    "registered_occupants",
    "flags"};

/* One value of a row: a cell, or a JSON value rendered as text. */
struct hh_value {
    const char *s;
    size_t len;
    int32_t line, col; /* col 0: look the key up in the raw line */
    int present;
};

/* A row being checked. */
struct hh_row {
    struct ingest_batch *b;
    int32_t line;
    const char *raw; /* NDJSON line, for columns; NULL for CSV */
    size_t raw_len;
    struct hh_value v[HH_NCOLS];
    int errors;
};

static void hh_error(struct hh_row *row, int k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void hh_error(struct hh_row *row, int k, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const struct hh_value *v = &row->v[k];
    int col = v->col;
    if (col <= 0)
        col = row->raw
                  ? ingest__json_key_col(row->raw, row->raw_len, hh_names[k])
                  : 1;
    ingest_error_add(row->b, v->line ? v->line : row->line, col, hh_names[k],
                     "%s", msg);
    row->errors++;
}

#define QUOTE(v) ingest__excerpt((v)->s, (v)->len, q, sizeof(q))

/* Checks that value k is there; 0 or -1. */
static int hh_present(struct hh_row *row, int k)
{
    if (!row->v[k].present) {
        hh_error(row, k, "missing %s", hh_names[k]);
        return -1;
    }
    return 0;
}

static const char *hh_text(struct hh_row *row, int k)
{
    const struct hh_value *v = &row->v[k];
    if (hh_present(row, k))
        return NULL;
    const char *problem = ingest__text_problem(v->s, v->len, INGEST_MAX_TEXT);
    if (problem) {
        hh_error(row, k, "%s %s", hh_names[k], problem);
        return NULL;
    }
    return arena_strndup(&row->b->arena, v->s, v->len);
}

static const char *hh_id(struct hh_row *row)
{
    char q[INGEST_EXCERPT_CAP];
    const struct hh_value *v = &row->v[HH_ID];
    if (hh_present(row, HH_ID))
        return NULL;
    if (!v->len) {
        hh_error(row, HH_ID, "household_id is empty");
        return NULL;
    }
    if (!ingest__household_id_ok(v->s, v->len)) {
        hh_error(row, HH_ID,
                 "invalid household id '%s'; expected 1 to 64 of "
                 "A-Z a-z 0-9 _ . : -",
                 QUOTE(v));
        return NULL;
    }
    return arena_strndup(&row->b->arena, v->s, v->len);
}

/* A number in [lo, hi] (lo excluded when open_lo). */
static double hh_number(struct hh_row *row, int k, double lo, double hi,
                        int open_lo)
{
    char q[INGEST_EXCERPT_CAP];
    const struct hh_value *v = &row->v[k];
    double d = 0;
    if (hh_present(row, k))
        return 0;
    if (!v->len) {
        hh_error(row, k, "%s is empty", hh_names[k]);
        return 0;
    }
    if (ingest__parse_number(v->s, v->len, &d)) {
        hh_error(row, k, "%s must be a number, got '%s'", hh_names[k],
                 QUOTE(v));
        return 0;
    }
    if (open_lo && !(d > lo))
        hh_error(row, k, "%s must be greater than %g, got '%s'", hh_names[k],
                 lo, QUOTE(v));
    else if (d < lo || d > hi)
        hh_error(row, k, "%s '%s' is outside [%g, %g]", hh_names[k], QUOTE(v),
                 lo, hi);
    return d;
}

/* An integer >= min (and <= INT32_MAX). */
static int32_t hh_int(struct hh_row *row, int k, int64_t min)
{
    char q[INGEST_EXCERPT_CAP];
    const struct hh_value *v = &row->v[k];
    int64_t n = 0;
    if (hh_present(row, k))
        return 0;
    if (!v->len) {
        hh_error(row, k, "%s is empty", hh_names[k]);
        return 0;
    }
    if (ingest__parse_int(v->s, v->len, &n) || n < min || n > INT32_MAX) {
        hh_error(row, k, "%s must be %s integer, got '%s'", hh_names[k],
                 min > 0 ? "a positive" : "a non-negative", QUOTE(v));
        return 0;
    }
    return (int32_t)n;
}

static const char *const flag_names[HOUSEHOLD_FLAG_COUNT] = {
    "elderly_alone", "large_family", "business", "vacant"};

void household_flags_json(struct jsonw *w, int flags)
{
    jsonw_array_begin(w);
    for (int i = 0; i < HOUSEHOLD_FLAG_COUNT; i++)
        if (flags & (1 << i))
            jsonw_str(w, flag_names[i]);
    jsonw_array_end(w);
}

static int32_t hh_flags(struct hh_row *row)
{
    const char *const *names = flag_names;
    char q[INGEST_EXCERPT_CAP];
    const struct hh_value *v = &row->v[HH_FLAGS];
    int32_t flags = 0;
    if (!v->present)
        return 0;
    const char *p = v->s, *end = v->s + v->len;
    while (p < end) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        const char *stop = bar ? bar : end, *a = p, *z = stop;
        while (a < z && (*a == ' ' || *a == '\t'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
            z--;
        p = bar ? bar + 1 : end;
        if (a == z)
            continue;
        size_t i;
        for (i = 0; i < 4; i++)
            if (strlen(names[i]) == (size_t)(z - a) &&
                !memcmp(names[i], a, (size_t)(z - a)))
                break;
        if (i == 4) {
            hh_error(row, HH_FLAGS,
                     "unknown flag '%s'; expected elderly_alone, "
                     "large_family, business or vacant",
                     ingest__excerpt(a, (size_t)(z - a), q, sizeof(q)));
            return 0;
        }
        flags |= 1 << i;
    }
    return flags;
}

/* Checks every value of a row and appends the household when all pass. */
static void hh_finish(struct hh_row *row)
{
    struct household h;
    memset(&h, 0, sizeof(h));
    h.household_id = hh_id(row);
    h.street = hh_text(row, HH_STREET);
    h.committee = hh_text(row, HH_COMMITTEE);
    h.building = hh_text(row, HH_BUILDING);
    h.address = hh_text(row, HH_ADDRESS);
    h.lat = hh_number(row, HH_LAT, -90, 90, 0);
    h.lon = hh_number(row, HH_LON, -180, 180, 0);
    h.area_m2 = hh_number(row, HH_AREA, 0, 1e300, 1);
    h.rooms = hh_int(row, HH_ROOMS, 1);
    h.registered_occupants = hh_int(row, HH_OCCUPANTS, 0);
    h.flags = hh_flags(row);
    h.line = row->line;
    if (!row->errors)
        *ingest__push_household(row->b) = h;
}

/* ---- CSV ---- */

/* Which header cell holds each name, or -1. */
struct hh_header {
    int cell[HH_NCOLS];
    size_t ncells;
};

static int header_name(const struct csv_cell *c)
{
    const char *s = c->s;
    size_t len = c->len;
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    for (int k = 0; k < HH_NCOLS; k++)
        if (strlen(hh_names[k]) == len && !strncasecmp(hh_names[k], s, len))
            return k;
    return -1;
}

/* Reads the header record; 0, or -1 after reporting why rows can't be read. */
static int read_header(struct ingest_batch *b, struct csv_reader *r,
                       struct hh_header *h)
{
    char missing[160];
    size_t used = 0;
    int first = -1, count = 0;
    if (r->n > CSV_MAX_CELLS) {
        ingest_error_add(b, r->record_line, 1, "",
                         "header has more than %d "
                         "columns",
                         CSV_MAX_CELLS);
        return -1;
    }
    for (int k = 0; k < HH_NCOLS; k++)
        h->cell[k] = -1;
    h->ncells = r->n;
    for (size_t i = 0; i < r->n; i++) {
        int k = header_name(&r->cells[i]);
        if (k < 0)
            continue;
        if (h->cell[k] >= 0) {
            ingest_error_add(b, r->cells[i].line, r->cells[i].col, hh_names[k],
                             "duplicate column '%s' in the header",
                             hh_names[k]);
            return -1;
        }
        h->cell[k] = (int)i;
    }
    missing[0] = '\0';
    for (int k = 0; k < HH_FLAGS; k++) {
        if (h->cell[k] >= 0)
            continue;
        if (first < 0)
            first = k;
        count++;
        if (used >= sizeof(missing))
            continue;
        used += (size_t)snprintf(missing + used, sizeof(missing) - used,
                                 "%s'%s'", used ? ", " : "", hh_names[k]);
    }
    if (first < 0)
        return 0;
    ingest_error_add(b, r->record_line, 1, hh_names[first],
                     "header lacks column%s %s", count > 1 ? "s" : "", missing);
    return -1;
}

static void csv_row(struct ingest_batch *b, struct csv_reader *r,
                    const struct hh_header *h)
{
    struct hh_row row;
    memset(&row, 0, sizeof(row));
    row.b = b;
    row.line = r->record_line;
    if (r->n != h->ncells) {
        size_t at = r->n < h->ncells ? r->n - 1 : h->ncells;
        const struct csv_cell *c = &r->cells[at < CSV_MAX_CELLS ? at : 0];
        int k = -1;
        for (int i = 0; i < HH_NCOLS && r->n < h->ncells; i++)
            if (h->cell[i] >= (int)r->n && (k < 0 || h->cell[i] < h->cell[k]))
                k = i;
        ingest_error_add(b, c->line, c->col, k >= 0 ? hh_names[k] : "row",
                         "row has %zu cells but the header has %zu", r->n,
                         h->ncells);
        return;
    }
    for (int k = 0; k < HH_NCOLS; k++) {
        if (h->cell[k] < 0)
            continue;
        const struct csv_cell *c = &r->cells[h->cell[k]];
        row.v[k] = (struct hh_value){c->s, c->len, c->line, c->col, 1};
    }
    hh_finish(&row);
}

/* The field a syntax error falls in: the column name of cell r->n. */
static const char *csv_error_field(const struct csv_reader *r,
                                   const struct hh_header *h)
{
    for (int k = 0; h && k < HH_NCOLS; k++)
        if (h->cell[k] == (int)r->n)
            return hh_names[k];
    return "";
}

static int parse_csv(const char *body, size_t len, size_t max_records,
                     struct ingest_batch *b)
{
    struct csv_reader *r = xmalloc(sizeof(*r));
    struct hh_header h;
    size_t seen = 0;
    int rc = 0, got;
    ingest__csv_init(r, body, len, &b->arena);
    got = ingest__csv_next(r);
    if (got < 0)
        ingest_error_add(b, r->err_line, r->err_col, "", "%s in the header",
                         r->err_msg);
    if (got <= 0 || read_header(b, r, &h))
        goto out_free;
    while ((got = ingest__csv_next(r)) != 0) {
        if (++seen > max_records) {
            rc = CB_ETOOBIG;
            break;
        }
        b->lines++;
        if (got < 0)
            ingest_error_add(b, r->err_line, r->err_col, csv_error_field(r, &h),
                             "%s", r->err_msg);
        else
            csv_row(b, r, &h);
    }
out_free:
    free(r);
    return rc;
}

/* ---- NDJSON ---- */

/* Renders JSON value j as the text a CSV cell would hold, into buf. */
static int json_cell(json_t *j, char *buf, size_t cap, struct hh_value *v)
{
    if (json_is_string(j)) {
        v->s = json_string_value(j);
        v->len = json_string_length(j);
    } else if (json_is_integer(j)) {
        v->len = (size_t)snprintf(buf, cap, "%" JSON_INTEGER_FORMAT,
                                  json_integer_value(j));
        v->s = buf;
    } else if (json_is_real(j)) {
        v->len = (size_t)snprintf(buf, cap, "%.17g", json_real_value(j));
        v->s = buf;
    } else {
        return -1;
    }
    return 0;
}

/* flags as an array of strings: joined with '|' into buf. */
static int json_flags(json_t *j, char *buf, size_t cap, struct hh_value *v)
{
    size_t i, used = 0;
    json_t *item;
    json_array_foreach(j, i, item)
    {
        if (!json_is_string(item))
            return -1;
        size_t n = json_string_length(item);
        if (used + n + 2 > cap)
            return -1;
        if (used)
            buf[used++] = '|';
        memcpy(buf + used, json_string_value(item), n);
        used += n;
    }
    v->s = buf;
    v->len = used;
    return 0;
}

static void json_household(struct ingest_batch *b, json_t *obj, const char *s,
                           size_t n, int32_t line)
{
    char num[HH_NCOLS][40], flags[128];
    struct hh_row row;
    memset(&row, 0, sizeof(row));
    row.b = b;
    row.line = line;
    row.raw = s;
    row.raw_len = n;
    for (int k = 0; k < HH_NCOLS; k++) {
        json_t *j = json_object_get(obj, hh_names[k]);
        struct hh_value *v = &row.v[k];
        v->line = line;
        if (!j || json_is_null(j))
            continue;
        v->present = 1;
        int bad = k == HH_FLAGS && json_is_array(j)
                      ? json_flags(j, flags, sizeof(flags), v)
                      : json_cell(j, num[k], sizeof(num[k]), v);
        if (bad)
            hh_error(&row, k, "%s must be %s", hh_names[k],
                     k == HH_FLAGS ? "a string or an array of strings"
                                   : "a string or a number");
    }
    if (!row.errors)
        hh_finish(&row);
}

int ingest_parse_households(const char *body, size_t len, int is_ndjson,
                            size_t max_records, struct ingest_batch *b)
{
    if (b->feed != FEED_REGISTRY)
        return CB_EINVAL;
    if (is_ndjson)
        return ingest__parse_ndjson(body, len, max_records, b, json_household);
    return parse_csv(body, len, max_records, b);
}
