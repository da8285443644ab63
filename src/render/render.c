/* render.c - the API's JSON views of the store's rows (render.h). */
#include "render/render.h"

#include <math.h>
#include <string.h>

#include "clock/clock.h"
#include "util/jsonw.h"

/* ---- values ---- */

static void kv_num(struct jsonw *w, const char *key, double v)
{
    jsonw_kv_double_sig(w, key, v, 12); /* sums of spread use: float noise */
}

/* ns since the epoch as ISO time, rounded down to the second. */
static void kv_iso(struct jsonw *w, const char *key, int64_t ns)
{
    char iso[32];
    int64_t s = ns / 1000000000LL - (ns % 1000000000LL < 0);
    time_format_iso(s, dclock_tz_offset_minutes(), iso);
    jsonw_kv_str(w, key, iso);
}

static void add_feeds(struct jsonw *w, uint32_t feeds)
{
    jsonw_key(w, "feeds");
    jsonw_array_begin(w);
    for (int f = 0; f < FEED_COUNT; f++)
        if (feeds & (1u << f))
            jsonw_str(w, feed_name((enum feed)f));
    jsonw_array_end(w);
}

static double match_rate(uint64_t total, uint64_t unmatched)
{
    return total ? (double)(total - unmatched) / (double)total : 1.0;
}

/* Starts a JSON array at the end of out: the rows' callbacks write into
 * it; array_close ends it and passes the scan's code on. */
static struct jsonw *array_open(struct jsonw *w, struct sbuf *out)
{
    jsonw_init(w, out);
    jsonw_array_begin(w);
    return w;
}

static int array_close(struct jsonw *w, int rc)
{
    jsonw_array_end(w);
    return rc;
}

/* ---- readings, daily use, events ---- */

static void reading_json(void *ctx, const struct reading *r)
{
    struct jsonw *w = ctx;
    jsonw_object_begin(w);
    kv_iso(w, "ts", r->ts_ns);
    jsonw_kv_int(w, "ts_ns", r->ts_ns);
    jsonw_kv_str(w, "metric", metric_name(r->metric));
    jsonw_kv_str(w, "field", r->field == READING_DELTA ? "delta" : "index");
    kv_num(w, "value", r->value);
    jsonw_object_end(w);
}

int render_readings(struct store *st, int32_t household, int metric,
                    int64_t from_ns, int64_t to_ns, int limit, struct sbuf *out)
{
    struct jsonw w;
    return array_close(&w, store_readings_read(st, household, metric, from_ns,
                                               to_ns, limit, reading_json,
                                               array_open(&w, out)));
}

static void usage_day_json(void *ctx, const struct store_usage_day *d)
{
    struct jsonw *w = ctx;
    int y;
    unsigned mo, day;
    time_civil_from_days(d->day, &y, &mo, &day);
    jsonw_object_begin(w);
    jsonw_kv_strf(w, "day", "%04d-%02u-%02u", y, mo, day);
    for (int m = 0; m < METRIC_COUNT; m++)
        if (d->has & (1u << m))
            kv_num(w, metric_name(m), d->use[m]);
    jsonw_object_end(w);
}

int render_usage_daily(struct store *st, int32_t household, int64_t from_day,
                       int64_t to_day, struct sbuf *out)
{
    struct jsonw w;
    return array_close(&w, store_usage_daily_read(st, household, from_day,
                                                  to_day, usage_day_json,
                                                  array_open(&w, out)));
}

/* v as kv_num writes it (%.12g), without printf for the usual value of
 * hourly use: a whole number of 0.001 (the resolution it is stored at)
 * with at most 12 digits.  Such a v is the double nearest n / 10^k (k the
 * fewest decimals that give it back exactly), and %.12g prints that as
 * n / 10^k with no trailing zeros. */
static void kv_use(struct jsonw *w, const char *key, double v)
{
    static const double scale[] = {1, 10, 100, 1000};
    for (int k = 0; k < 4 && fabs(v) < 1e9; k++) {
        long long n = llround(v * scale[k]);
        if ((double)n / scale[k] != v)
            continue;
        char digits[24], text[32];
        unsigned long long a = (unsigned long long)(n < 0 ? -n : n);
        int nd = 0, len = 0;
        do
            digits[nd++] = (char)('0' + a % 10);
        while ((a /= 10) > 0);
        while (nd <= k)
            digits[nd++] = '0'; /* 0.005: the leading 0 */
        if (n < 0)
            text[len++] = '-';
        for (int i = nd - 1; i >= 0; i--) {
            text[len++] = digits[i];
            if (i == k && k)
                text[len++] = '.';
        }
        jsonw_key(w, key);
        jsonw_raw(w, text, (size_t)len);
        return;
    }
    kv_num(w, key, v);
}

/* The start of an hour as ISO text: formatted in full once a local day;
 * a later hour of the same local day only changes the hour's digits. */
struct hour_text {
    int64_t hour; /* INT64_MIN: none yet */
    int local;    /* the local hour in text */
    char text[32];
};

static const char *hour_iso(struct hour_text *c, int64_t hour)
{
    if (c->hour != INT64_MIN && hour >= c->hour &&
        hour - c->hour < 24 - c->local) {
        c->local += (int)(hour - c->hour);
        c->text[11] = (char)('0' + c->local / 10);
        c->text[12] = (char)('0' + c->local % 10);
    } else {
        time_format_iso(hour * 3600, dclock_tz_offset_minutes(), c->text);
        /* "YYYY-MM-DDTHH:": anything else (a year past 9999) goes the
         * long way each time */
        c->local = c->text[10] == 'T' && c->text[13] == ':'
                       ? (c->text[11] - '0') * 10 + (c->text[12] - '0')
                       : 99;
    }
    c->hour = hour;
    return c->text;
}

struct hours_json {
    struct jsonw w;
    struct hour_text at;
};

static void usage_hour_json(void *ctx, const struct store_usage_hour *h)
{
    struct hours_json *hj = ctx;
    jsonw_object_begin(&hj->w);
    jsonw_kv_str(&hj->w, "hour", hour_iso(&hj->at, h->hour));
    for (int m = 0; m < METRIC_COUNT; m++)
        if (h->has & (1u << m))
            kv_use(&hj->w, metric_name(m), h->use[m]);
    jsonw_object_end(&hj->w);
}

int render_usage_hourly(struct store *st, int32_t household, int64_t from_day,
                        int64_t to_day, struct sbuf *out)
{
    struct hours_json hj = {.at = {.hour = INT64_MIN}};
    array_open(&hj.w, out);
    return array_close(&hj.w,
                       store_usage_hourly_read(st, household, from_day, to_day,
                                               usage_hour_json, &hj));
}

static void event_json(void *ctx, const struct store_event_row *e)
{
    struct jsonw *w = ctx;
    jsonw_object_begin(w);
    jsonw_kv_str(w, "source", e->source);
    jsonw_kv_str(w, "event_id", e->event_id);
    jsonw_kv_str(w, "type", e->type);
    kv_iso(w, "ts", e->ts_ns);
    kv_num(w, "lat", e->lat);
    kv_num(w, "lon", e->lon);
    jsonw_kv_str(w, "street", e->street);
    jsonw_kv_bool(w, "placed", e->placed);
    jsonw_key(w, "attrs");
    if (e->attrs) /* stored as compact JSON by the ingest path */
        jsonw_raw(w, e->attrs, strlen(e->attrs));
    else
        jsonw_null(w);
    jsonw_object_end(w);
}

int render_events(struct store *st, const char *source, int64_t from_ns,
                  int64_t to_ns, int limit, struct sbuf *out)
{
    struct jsonw w;
    return array_close(&w, store_events_read(st, source, from_ns, to_ns, limit,
                                             event_json, array_open(&w, out)));
}

/* ---- one household ---- */

static void meter_json(struct jsonw *w, const struct store_meter_row *m)
{
    jsonw_key(w, metric_name(m->metric));
    jsonw_object_begin(w);
    kv_iso(w, "first", m->first_ns);
    kv_iso(w, "last", m->last_ns);
    if (m->has_index)
        kv_num(w, "last_index", m->last_index);
    else
        jsonw_kv_null(w, "last_index");
    jsonw_kv_int(w, "resets", m->resets);
    jsonw_kv_int(w, "replacements", m->replacements);
    jsonw_kv_int(w, "late", m->late);
    jsonw_object_end(w);
}

static void household_json(void *ctx, const struct store_household_row *h)
{
    struct jsonw *w = ctx;
    jsonw_object_begin(w);
    jsonw_kv_int(w, "id", h->id);
    jsonw_kv_str(w, "household_id", h->household_id);
    jsonw_kv_str(w, "street", h->street);
    jsonw_kv_str(w, "committee", h->committee);
    jsonw_kv_str(w, "building", h->building);
    jsonw_kv_str(w, "address", h->address);
    kv_num(w, "lat", h->lat);
    kv_num(w, "lon", h->lon);
    kv_num(w, "area_m2", h->area_m2);
    jsonw_kv_int(w, "rooms", h->rooms);
    jsonw_kv_int(w, "registered_occupants", h->registered_occupants);
    jsonw_key(w, "flags");
    household_flags_json(w, h->flags);
    kv_iso(w, "updated", h->updated_ns);
    jsonw_key(w, "meters");
    jsonw_object_begin(w);
    for (size_t i = 0; i < h->n_meters; i++)
        meter_json(w, &h->meters[i]);
    jsonw_object_end(w);
    jsonw_object_end(w);
}

int render_household(struct store *st, int32_t household, struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    return store_household_read(st, household, household_json, &w);
}

/* ---- stats ---- */

static void source_rate_json(void *ctx, const char *source, uint64_t total,
                             uint64_t unmatched)
{
    jsonw_kv_double_prec(ctx, source, match_rate(total, unmatched), 4);
}

static void source_counts_json(void *ctx, const char *source, uint64_t total,
                               uint64_t unmatched)
{
    struct jsonw *w = ctx;
    jsonw_key(w, source);
    jsonw_object_begin(w);
    jsonw_kv_int(w, "total", (int64_t)total);
    jsonw_kv_int(w, "unmatched", (int64_t)unmatched);
    jsonw_object_end(w);
}

void render_stats(struct store *st, struct sbuf *out)
{
    struct store_stats s;
    struct store_feed_counts n;
    struct jsonw w;
    store_get_stats(st, &s);
    store_feed_counts(st, &n);
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "households", (int64_t)n.households);
    jsonw_kv_int(&w, "readings", (int64_t)n.readings);
    jsonw_kv_int(&w, "deliveries", (int64_t)n.deliveries);
    jsonw_kv_int(&w, "deliveries_unmatched", (int64_t)n.deliveries_unmatched);
    jsonw_kv_double_prec(&w, "address_match_rate",
                         match_rate(n.deliveries, n.deliveries_unmatched), 4);
    jsonw_key(&w, "address_match_rate_by_source");
    jsonw_object_begin(&w);
    store_delivery_sources(st, source_rate_json, &w);
    jsonw_object_end(&w);
    jsonw_key(&w, "deliveries_by_source");
    jsonw_object_begin(&w);
    store_delivery_sources(st, source_counts_json, &w);
    jsonw_object_end(&w);
    jsonw_kv_int(&w, "events", (int64_t)n.events);
    jsonw_kv_int(&w, "log_seq", (int64_t)s.log_seq);
    jsonw_kv_int(&w, "rollup_seq", (int64_t)s.rollup_seq);
    jsonw_kv_int(&w, "meter_resets", (int64_t)s.meter_resets);
    jsonw_kv_int(&w, "meter_replacements", (int64_t)s.meter_replacements);
    jsonw_kv_int(&w, "late_readings", (int64_t)s.late_readings);
    jsonw_kv_int(&w, "spread_resets", (int64_t)s.spread_resets);
    jsonw_object_end(&w);
}

/* ---- departments, tokens, audit ---- */

/* "measurements":[..] (all of them when 0),"sources":[..] (null: any) */
static void add_grants(struct jsonw *w, uint32_t measurements,
                       const char *sources)
{
    jsonw_key(w, "measurements");
    jsonw_array_begin(w);
    for (int m = 0; m < METRIC_COUNT; m++)
        if (!measurements || (measurements & (1u << m)))
            jsonw_str(w, metric_name(m));
    jsonw_array_end(w);
    jsonw_key(w, "sources");
    if (!sources || !*sources) {
        jsonw_null(w);
        return;
    }
    jsonw_array_begin(w);
    for (const char *p = sources; *p;) {
        size_t n = strcspn(p, ",");
        jsonw_strn(w, p, n);
        p += n + (p[n] == ',');
    }
    jsonw_array_end(w);
}

static void department_json(void *ctx, const struct store_department_row *d)
{
    struct jsonw *w = ctx;
    jsonw_object_begin(w);
    jsonw_kv_int(w, "id", d->id);
    jsonw_kv_str(w, "name", d->name);
    add_feeds(w, d->feeds);
    kv_iso(w, "created", d->created_ns);
    add_grants(w, d->measurements, d->sources);
    jsonw_object_end(w);
}

int render_departments(struct store *st, struct sbuf *out)
{
    struct jsonw w;
    return array_close(
        &w, store_department_scan(st, department_json, array_open(&w, out)));
}

static void token_json(void *ctx, const struct store_token_row *t)
{
    struct jsonw *w = ctx;
    jsonw_object_begin(w);
    jsonw_kv_int(w, "id", t->id);
    jsonw_kv_str(w, "name", t->name);
    jsonw_kv_str(w, "role", role_name(t->role));
    jsonw_kv_int(w, "department_id", t->department_id);
    add_feeds(w, t->feeds);
    jsonw_kv_str(w, "committee", t->committee);
    kv_iso(w, "created", t->created_ns);
    if (t->revoked)
        kv_iso(w, "revoked", t->revoked_ns);
    else
        jsonw_kv_null(w, "revoked");
    jsonw_object_end(w);
}

int render_tokens(struct store *st, struct sbuf *out)
{
    struct jsonw w;
    return array_close(&w,
                       store_token_scan(st, token_json, array_open(&w, out)));
}

static void audit_json(void *ctx, const struct store_audit_row *a)
{
    struct jsonw *w = ctx;
    jsonw_object_begin(w);
    jsonw_kv_int(w, "id", a->id);
    kv_iso(w, "ts", a->ts_ns);
    jsonw_kv_str(w, "who", a->who);
    if (a->has_token)
        jsonw_kv_int(w, "token_id", a->token_id);
    else
        jsonw_kv_null(w, "token_id");
    jsonw_kv_str(w, "action", a->action);
    jsonw_kv_str(w, "object", a->object);
    jsonw_kv_str(w, "reason", a->reason);
    jsonw_object_end(w);
}

int render_audit(struct store *st, int limit, struct sbuf *out)
{
    struct jsonw w;
    return array_close(
        &w, store_audit_scan(st, limit, audit_json, array_open(&w, out)));
}
