/*
 * store_read.c - the pool of read-only connections and the JSON reads.
 *
 * A borrower takes a connection off the free stack (waiting when all are
 * out), uses it alone and gives it back.  Each connection keeps its own
 * statement cache, so the JSON reads below prepare nothing per request.
 * In WAL mode readers never block the writer, nor it them.
 *
 * Raw readings are keyed by time first (the write path needs it), so
 * store_readings_json scans the time range and filters by household: keep
 * its windows short (days).  Daily use comes from usage_daily, keyed by day
 * first, read by one point lookup a day.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

int store__pool_open(struct store *st)
{
    int n = st->cfg.read_connections;
    st->readers = xcalloc((size_t)n, sizeof(*st->readers));
    st->pool_free = xcalloc((size_t)n, sizeof(*st->pool_free));
    for (int i = 0; i < n; i++) {
        if (store__conn_open(&st->readers[i], st->db_path, 1, &st->cfg))
            return CB_ESTORE;
        if (store__attach_rollup(st->readers[i].db, st->rollup_path, 1)) {
            store__conn_close(&st->readers[i]);
            return CB_ESTORE;
        }
        st->n_readers = i + 1;
        st->pool_free[st->n_free++] = i;
    }
    return 0;
}

void store__pool_close(struct store *st)
{
    for (int i = 0; i < st->n_readers; i++)
        store__conn_close(&st->readers[i]);
    free(st->readers);
    free(st->pool_free);
    st->readers = NULL;
    st->pool_free = NULL;
    st->n_readers = st->n_free = 0;
}

struct store_conn *store__reader_get(struct store *st)
{
    pthread_mutex_lock(&st->pool_lock);
    while (!st->n_free)
        pthread_cond_wait(&st->pool_cond, &st->pool_lock);
    struct store_conn *c = &st->readers[st->pool_free[--st->n_free]];
    pthread_mutex_unlock(&st->pool_lock);
    return c;
}

void store__reader_put(struct store *st, struct store_conn *c)
{
    pthread_mutex_lock(&st->pool_lock);
    st->pool_free[st->n_free++] = (int)(c - st->readers);
    pthread_cond_signal(&st->pool_cond);
    pthread_mutex_unlock(&st->pool_lock);
}

void *store_read_begin(struct store *st)
{
    return store__reader_get(st)->db;
}

void store_read_end(struct store *st, void *db)
{
    for (int i = 0; i < st->n_readers; i++)
        if (st->readers[i].db == db) {
            store__reader_put(st, &st->readers[i]);
            return;
        }
}

/* ---- JSON helpers ---- */

static void add_num(struct sbuf *out, double v)
{
    if (isfinite(v))
        sbuf_addf(out, "%.12g",
                  v); /* sums of spread use carry float noise past 12 digits */
    else
        sbuf_addstr(out, "null");
}

static void add_iso_ns(struct sbuf *out, int64_t ns)
{
    char iso[32];
    int64_t s = ns / 1000000000LL - (ns % 1000000000LL < 0);
    time_format_iso(s, dclock_tz_offset_minutes(), iso);
    sbuf_add_json_str(out, iso);
}

static void add_day(struct sbuf *out, int64_t day)
{
    int y;
    unsigned m, d;
    time_civil_from_days(day, &y, &m, &d);
    sbuf_addf(out, "\"%04d-%02u-%02u\"", y, m, d);
}

static void add_col_text(struct sbuf *out, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t)
        sbuf_add_json_str(out, (const char *)t);
    else
        sbuf_addstr(out, "null");
}

/* ---- readings ---- */

struct readings_out {
    struct sbuf *out;
    int n;
};

static void reading_row(void *ctx, const struct reading *r)
{
    struct readings_out *ro = ctx;
    struct sbuf *out = ro->out;
    sbuf_addstr(out, ro->n++ ? ",{\"ts\":" : "{\"ts\":");
    add_iso_ns(out, r->ts_ns);
    sbuf_addf(out,
              ",\"ts_ns\":%lld,\"metric\":\"%s\",\"field\":\"%s\","
              "\"value\":",
              (long long)r->ts_ns, metric_name(r->metric),
              r->field == READING_DELTA ? "delta" : "index");
    add_num(out, r->value);
    sbuf_addch(out, '}');
}

int store_readings_json(struct store *st, int32_t household, int metric,
                        int64_t from_ns, int64_t to_ns, int limit,
                        struct sbuf *out)
{
    struct store_conn *c = store__reader_get(st);
    struct readings_out ro = {out, 0};
    sbuf_addch(out, '[');
    int rc = store__blocks_read(c, household, metric, from_ns, to_ns,
                                (size_t)(limit > 0 ? limit : 1000), reading_row,
                                &ro);
    sbuf_addch(out, ']');
    store__reader_put(st, c);
    return rc;
}

/* ---- daily use ---- */

/* The days usage_daily holds, intersected with [from, to): the table is
 * keyed by day first, so one household's days are read by point lookups,
 * one a day, rather than by scanning every household's rows. */
static int usage_day_span(struct store_conn *c, int64_t *from, int64_t *to)
{
    sqlite3_stmt *s = store__stmt(c, STMT_USAGE_DAYS);
    if (!s || sqlite3_step(s) != SQLITE_ROW) {
        if (s)
            sqlite3_reset(s);
        return store__sqlerr(c->db, "usage days");
    }
    int empty = sqlite3_column_type(s, 0) == SQLITE_NULL;
    int64_t lo = sqlite3_column_int64(s, 0), hi = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    if (empty)
        hi = lo - 1;
    if (*from < lo)
        *from = lo;
    if (*to > hi + 1)
        *to = hi + 1;
    return 0;
}

/* Appends one day's object if the household has use that day. */
static int usage_one_day(struct store_conn *c, sqlite3_stmt *s,
                         int32_t household, int64_t day, int *first,
                         struct sbuf *out)
{
    int step, found = 0;
    sqlite3_bind_int(s, 1, household);
    sqlite3_bind_int64(s, 2, day);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (!found) {
            sbuf_addstr(out, *first ? "{\"day\":" : ",{\"day\":");
            add_day(out, day);
            *first = 0;
            found = 1;
        }
        sbuf_addf(out, ",\"%s\":", metric_name(sqlite3_column_int(s, 0)));
        add_num(out, sqlite3_column_double(s, 1));
    }
    if (found)
        sbuf_addch(out, '}');
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : store__sqlerr(c->db, "read usage");
}

int store_usage_daily_json(struct store *st, int32_t household,
                           int64_t from_day, int64_t to_day, struct sbuf *out)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_USAGE_DAILY);
    int rc = s ? usage_day_span(c, &from_day, &to_day) : CB_ESTORE;
    int first = 1;
    sbuf_addch(out, '[');
    for (int64_t day = from_day; !rc && day < to_day; day++)
        rc = usage_one_day(c, s, household, day, &first, out);
    sbuf_addch(out, ']');
    store__reader_put(st, c);
    return rc;
}

/* ---- events ---- */

static void add_event(struct sbuf *out, sqlite3_stmt *s)
{
    static const char *const keys[] = {"source", "event_id", "type"};
    for (int i = 0; i < 3; i++) {
        sbuf_addf(out, "%s\"%s\":", i ? "," : "{", keys[i]);
        add_col_text(out, s, i);
    }
    sbuf_addstr(out, ",\"ts\":");
    add_iso_ns(out, sqlite3_column_int64(s, 3));
    sbuf_addstr(out, ",\"lat\":");
    add_num(out, sqlite3_column_double(s, 4));
    sbuf_addstr(out, ",\"lon\":");
    add_num(out, sqlite3_column_double(s, 5));
    sbuf_addstr(out, ",\"street\":");
    add_col_text(out, s, 6);
    sbuf_addstr(out, sqlite3_column_int(s, 7) ? ",\"placed\":true"
                                              : ",\"placed\":false");
    const char *attrs = (const char *)sqlite3_column_text(s, 8);
    sbuf_addstr(out, ",\"attrs\":");
    sbuf_addstr(out, attrs ? attrs : "null"); /* stored as compact JSON */
    sbuf_addch(out, '}');
}

int store_events_json(struct store *st, const char *source, int64_t from_ns,
                      int64_t to_ns, int limit, struct sbuf *out)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_EVENTS);
    int rc = CB_ESTORE, step, n = 0;
    if (!s)
        goto out_put;
    sqlite3_bind_int64(s, 1, from_ns);
    sqlite3_bind_int64(s, 2, to_ns);
    if (source)
        sqlite3_bind_text(s, 3, source, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, limit);
    sbuf_addch(out, '[');
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n++)
            sbuf_addch(out, ',');
        add_event(out, s);
    }
    sbuf_addch(out, ']');
    sqlite3_clear_bindings(s);
    sqlite3_reset(s);
    rc = step == SQLITE_DONE ? 0 : store__sqlerr(c->db, "read events");
out_put:
    store__reader_put(st, c);
    return rc;
}

/* ---- one household ---- */

int store_household_committee(struct store *st, int32_t household, char *out,
                              size_t cap)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_HOUSEHOLD_COMMITTEE);
    int rc = CB_ESTORE, step;
    if (!s)
        goto out_put;
    sqlite3_bind_int(s, 1, household);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        /* never a truncated name: a prefix would match another's */
        rc = (size_t)snprintf(out, cap, "%s", name ? name : "") < cap
                 ? 0
                 : CB_ETOOBIG;
    } else {
        rc = step == SQLITE_DONE ? CB_ENOTFOUND
                                 : store__sqlerr(c->db, "household committee");
    }
    sqlite3_reset(s);
out_put:
    store__reader_put(st, c);
    return rc;
}

static void add_flags(struct sbuf *out, int flags)
{
    static const char *const names[] = {"elderly_alone", "large_family",
                                        "business", "vacant"};
    int first = 1;
    sbuf_addstr(out, ",\"flags\":[");
    for (int i = 0; i < 4; i++)
        if (flags & (1 << i)) {
            sbuf_addstr(out, first ? "" : ",");
            sbuf_add_json_str(out, names[i]);
            first = 0;
        }
    sbuf_addch(out, ']');
}

static void household_fields(sqlite3_stmt *s, int32_t id, struct sbuf *out)
{
    static const char *const text_keys[] = {"household_id", "street",
                                            "committee", "building", "address"};
    static const char *const num_keys[] = {"lat", "lon", "area_m2"};
    sbuf_addf(out, "{\"id\":%d", id);
    for (int i = 0; i < 5; i++) {
        sbuf_addf(out, ",\"%s\":", text_keys[i]);
        add_col_text(out, s, i);
    }
    for (int i = 0; i < 3; i++) {
        sbuf_addf(out, ",\"%s\":", num_keys[i]);
        add_num(out, sqlite3_column_double(s, 5 + i));
    }
    sbuf_addf(out, ",\"rooms\":%d,\"registered_occupants\":%d",
              sqlite3_column_int(s, 8), sqlite3_column_int(s, 9));
    add_flags(out, sqlite3_column_int(s, 10));
    sbuf_addstr(out, ",\"updated\":");
    add_iso_ns(out, sqlite3_column_int64(s, 11));
}

static int household_meters(struct store_conn *c, int32_t id, struct sbuf *out)
{
    sqlite3_stmt *s = store__stmt(c, STMT_METERS_OF);
    int step, n = 0;
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int(s, 1, id);
    sbuf_addstr(out, ",\"meters\":{");
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        sbuf_addf(out, "%s\"%s\":{\"first\":", n++ ? "," : "",
                  metric_name(sqlite3_column_int(s, 0)));
        add_iso_ns(out, sqlite3_column_int64(s, 1));
        sbuf_addstr(out, ",\"last\":");
        add_iso_ns(out, sqlite3_column_int64(s, 2));
        sbuf_addstr(out, ",\"last_index\":");
        if (sqlite3_column_int(s, 4) & 2 /* METER_INDEX */)
            add_num(out, sqlite3_column_double(s, 3));
        else
            sbuf_addstr(out, "null");
        sbuf_addf(out, ",\"resets\":%lld,\"replacements\":%lld,\"late\":%lld}",
                  (long long)sqlite3_column_int64(s, 5),
                  (long long)sqlite3_column_int64(s, 6),
                  (long long)sqlite3_column_int64(s, 7));
    }
    sbuf_addch(out, '}');
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : store__sqlerr(c->db, "read meters");
}

int store_household_json(struct store *st, int32_t household, struct sbuf *out)
{
    struct store_conn *c = store__reader_get(st);
    sqlite3_stmt *s = store__stmt(c, STMT_HOUSEHOLD_GET);
    int rc = CB_ESTORE;
    if (!s)
        goto out_put;
    sqlite3_bind_int(s, 1, household);
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE ? CB_ENOTFOUND
                                 : store__sqlerr(c->db, "read household");
        sqlite3_reset(s);
        goto out_put;
    }
    household_fields(s, household, out);
    sqlite3_reset(s);
    rc = household_meters(c, household, out);
    sbuf_addch(out, '}');
out_put:
    store__reader_put(st, c);
    return rc;
}

/* ---- stats ---- */

static double rate(uint64_t total, uint64_t unmatched)
{
    return total ? (double)(total - unmatched) / (double)total : 1.0;
}

static void add_sources(struct store *st, struct sbuf *out)
{
    pthread_mutex_lock(&st->src_lock);
    sbuf_addstr(out, ",\"address_match_rate_by_source\":{");
    for (size_t i = 0; i < st->n_sources; i++) {
        sbuf_addstr(out, i ? "," : "");
        sbuf_add_json_str(out, st->sources[i].name);
        sbuf_addf(out, ":%.4f",
                  rate(st->sources[i].total, st->sources[i].unmatched));
    }
    sbuf_addstr(out, "},\"deliveries_by_source\":{");
    for (size_t i = 0; i < st->n_sources; i++) {
        sbuf_addstr(out, i ? "," : "");
        sbuf_add_json_str(out, st->sources[i].name);
        sbuf_addf(out, ":{\"total\":%llu,\"unmatched\":%llu}",
                  (unsigned long long)st->sources[i].total,
                  (unsigned long long)st->sources[i].unmatched);
    }
    sbuf_addch(out, '}');
    pthread_mutex_unlock(&st->src_lock);
}

int store_stats_json(struct store *st, struct sbuf *out)
{
    struct store_stats s;
    store_get_stats(st, &s);
    uint64_t deliveries = atomic_load(&st->n_deliveries);
    uint64_t unmatched = atomic_load(&st->n_unmatched);
    sbuf_addf(out,
              "{\"households\":%zu,\"readings\":%llu,\"deliveries\":%llu,"
              "\"deliveries_unmatched\":%llu,\"address_match_rate\":%.4f",
              store_household_count(st),
              (unsigned long long)atomic_load(&st->n_readings),
              (unsigned long long)deliveries, (unsigned long long)unmatched,
              rate(deliveries, unmatched));
    add_sources(st, out);
    sbuf_addf(out,
              ",\"events\":%llu,\"log_seq\":%llu,\"rollup_seq\":%llu,"
              "\"meter_resets\":%llu,\"meter_replacements\":%llu,"
              "\"late_readings\":%llu,\"spread_resets\":%llu}",
              (unsigned long long)atomic_load(&st->n_events),
              (unsigned long long)s.log_seq, (unsigned long long)s.rollup_seq,
              (unsigned long long)s.meter_resets,
              (unsigned long long)s.meter_replacements,
              (unsigned long long)s.late_readings,
              (unsigned long long)s.spread_resets);
    return 0;
}
