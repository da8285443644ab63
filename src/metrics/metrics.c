/* metrics.c - bounded counter tables behind one mutex each. */
#include "metrics/metrics.h"

#include <ctype.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct ingest_series {
    enum feed feed;
    char source[64];
    uint64_t accepted, duplicates, rejected;
    uint64_t batches[BATCH_OUTCOMES];
};

static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,  0.05,  0.1,    0.25,  0.5,
                                        1,      2.5,   5,      10};
#define N_BOUNDS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))
#define N_CODES 8

struct route_series {
    const char *route;
    uint64_t buckets[N_BOUNDS + 1];
    double sum;
    uint64_t count;
    int codes[N_CODES];
    uint64_t code_count[N_CODES];
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ingest_series
    ingest_series[FEED_COUNT * (METRICS_MAX_SOURCES + 1)];
static size_t n_ingest_series;
static struct route_series routes[METRICS_MAX_ROUTES];
static size_t n_routes;
static atomic_int open_connections;
static atomic_ullong header_timeouts;

static const char *outcome_names[] = {"ok", "rejected", "too_big", "busy",
                                      "failed"};

static struct ingest_series *ingest_find(enum feed feed, const char *source)
{
    size_t per_feed = 0;
    for (size_t i = 0; i < n_ingest_series; i++) {
        struct ingest_series *s = &ingest_series[i];
        if (s->feed != feed)
            continue;
        per_feed++;
        if (!strcmp(s->source, source))
            return s;
    }
    if (per_feed >= METRICS_MAX_SOURCES && strcmp(source, "other"))
        return ingest_find(feed, "other");
    struct ingest_series *s = &ingest_series[n_ingest_series++];
    memset(s, 0, sizeof(*s));
    s->feed = feed;
    snprintf(s->source, sizeof(s->source), "%s", source);
    return s;
}

void metrics_ingest(enum feed feed, const char *source, uint64_t accepted,
                    uint64_t duplicates, uint64_t rejected,
                    enum batch_outcome outcome)
{
    char label[64]; /* a safe label value: no quotes or backslashes */
    snprintf(label, sizeof(label), "%s", source ? source : "unknown");
    for (char *c = label; *c; c++)
        if (!(isalnum((unsigned char)*c) || strchr("_.:-", *c)))
            *c = '_';
    pthread_mutex_lock(&metrics_lock);
    struct ingest_series *s = ingest_find(feed, label);
    s->accepted += accepted;
    s->duplicates += duplicates;
    s->rejected += rejected;
    s->batches[outcome]++;
    pthread_mutex_unlock(&metrics_lock);
}

static struct route_series *route_find(const char *route)
{
    for (size_t i = 0; i < n_routes; i++)
        if (routes[i].route == route || !strcmp(routes[i].route, route))
            return &routes[i];
    if (n_routes == METRICS_MAX_ROUTES)
        return NULL;
    routes[n_routes].route = route;
    return &routes[n_routes++];
}

static void route_count_code(struct route_series *r, int status)
{
    for (int i = 0; i < N_CODES; i++) {
        if (r->codes[i] == status || r->codes[i] == 0) {
            r->codes[i] = status;
            r->code_count[i]++;
            return;
        }
    }
}

void metrics_request(const char *route, int status, int64_t duration_ns)
{
    double secs = (double)duration_ns / 1e9;
    pthread_mutex_lock(&metrics_lock);
    struct route_series *r = route_find(route);
    if (r) {
        size_t b = 0;
        while (b < N_BOUNDS && secs > latency_bounds[b])
            b++;
        r->buckets[b]++;
        r->sum += secs;
        r->count++;
        route_count_code(r, status);
    }
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_header_timeout(void)
{
    atomic_fetch_add_explicit(&header_timeouts, 1, memory_order_relaxed);
}

void metrics_connections(int delta)
{
    atomic_fetch_add_explicit(&open_connections, delta, memory_order_relaxed);
}

/* A family's # HELP and # TYPE lines. */
static void family(struct sbuf *out, const char *name, const char *type,
                   const char *help)
{
    sbuf_addf(out, "# HELP citybrain_%s %s\n# TYPE citybrain_%s %s\n", name,
              help, name, type);
}

static void render_ingest(struct sbuf *out)
{
    static const char *names[] = {"records", "duplicates", "rejected"};
    static const char *helps[] = {
        "Records accepted, by feed and sending token.",
        "Records already stored (or repeated in their batch).",
        "Lines rejected with an error."};
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof(name), "ingest_%s_total", names[k]);
        family(out, name, "counter", helps[k]);
        for (size_t i = 0; i < n_ingest_series; i++) {
            struct ingest_series *s = &ingest_series[i];
            uint64_t v = k == 0   ? s->accepted
                         : k == 1 ? s->duplicates
                                  : s->rejected;
            sbuf_addf(out,
                      "citybrain_ingest_%s_total{feed=\"%s\",source=\"%s\"} "
                      "%llu\n",
                      names[k], feed_name(s->feed), s->source,
                      (unsigned long long)v);
        }
    }
    family(out, "ingest_batches_total", "counter",
           "Ingest requests, by feed, sending token and outcome.");
    for (size_t i = 0; i < n_ingest_series; i++)
        for (int o = 0; o < BATCH_OUTCOMES; o++)
            if (ingest_series[i].batches[o])
                sbuf_addf(out,
                          "citybrain_ingest_batches_total{feed=\"%s\","
                          "source=\"%s\",outcome=\"%s\"} %llu\n",
                          feed_name(ingest_series[i].feed),
                          ingest_series[i].source, outcome_names[o],
                          (unsigned long long)ingest_series[i].batches[o]);
}

static void render_route(struct sbuf *out, const struct route_series *r)
{
    uint64_t cum = 0;
    for (size_t b = 0; b <= N_BOUNDS; b++) {
        cum += r->buckets[b];
        if (b < N_BOUNDS)
            sbuf_addf(out,
                      "citybrain_http_request_duration_seconds_bucket{"
                      "route=\"%s\",le=\"%g\"} %llu\n",
                      r->route, latency_bounds[b], (unsigned long long)cum);
        else
            sbuf_addf(out,
                      "citybrain_http_request_duration_seconds_bucket{"
                      "route=\"%s\",le=\"+Inf\"} %llu\n",
                      r->route, (unsigned long long)cum);
    }
    sbuf_addf(out,
              "citybrain_http_request_duration_seconds_sum{route=\"%s\"} "
              "%.6f\ncitybrain_http_request_duration_seconds_count{route="
              "\"%s\"} %llu\n",
              r->route, r->sum, r->route, (unsigned long long)r->count);
}

static void render_http(struct sbuf *out)
{
    family(out, "http_requests_total", "counter",
           "HTTP requests, by route pattern and status code.");
    for (size_t i = 0; i < n_routes; i++)
        for (int c = 0; c < N_CODES && routes[i].codes[c]; c++)
            sbuf_addf(out,
                      "citybrain_http_requests_total{route=\"%s\","
                      "code=\"%d\"} %llu\n",
                      routes[i].route, routes[i].codes[c],
                      (unsigned long long)routes[i].code_count[c]);
    family(out, "http_request_duration_seconds", "histogram",
           "HTTP request latency, by route pattern.");
    for (size_t i = 0; i < n_routes; i++)
        render_route(out, &routes[i]);
    family(out, "http_connections", "gauge", "HTTP connections open now.");
    sbuf_addf(out, "citybrain_http_connections %d\n",
              atomic_load(&open_connections));
    family(out, "http_header_timeouts_total", "counter",
           "Connections closed for a request header not complete within "
           "header_timeout_s.");
    sbuf_addf(out, "citybrain_http_header_timeouts_total %llu\n",
              (unsigned long long)atomic_load(&header_timeouts));
}

/* malloc's bytes in use, every arena (glibc's mallinfo2). */
static uint64_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

static void render_store(struct sbuf *out, const struct store_stats *s)
{
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } rows[] = {
        {"store_queue_depth", "gauge", "Batches waiting for the store writer.",
         s->queue_depth},
        {"store_queue_max", "gauge", "Capacity of the store writer's queue.",
         s->queue_max},
        {"store_commits_total", "counter", "Store transactions committed.",
         s->commits},
        {"store_wal_syncs_total", "counter",
         "WAL fsyncs the writer ran after audit rows committed without one.",
         s->wal_syncs},
        {"store_rows_total", "counter", "Rows written by the store writer.",
         s->rows_written},
        {"store_log_seq", "gauge", "Newest ingest log sequence number.",
         s->log_seq},
        {"store_rollup_seq", "gauge",
         "Ingest log sequence number the roll-up has applied.", s->rollup_seq},
        {"meter_resets_total", "counter", "Meter resets the roll-up found.",
         s->meter_resets},
        {"meter_replacements_total", "counter",
         "Meter replacements the roll-up found.", s->meter_replacements},
        {"late_readings_total", "counter",
         "Readings older than their meter's newest.", s->late_readings},
        {"spread_resets_total", "counter",
         "Readings whose interval was longer than max_spread_days (a reset).",
         s->spread_resets},
        {"sqlite_cache_bytes", "gauge",
         "Bytes of SQLite's page caches, every connection.",
         s->sqlite_cache_bytes},
        {"heap_bytes", "gauge",
         "Bytes the process has allocated and not freed (malloc, all "
         "threads' arenas; SQLite's included).",
         heap_in_use()},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        family(out, rows[i].name, rows[i].type, rows[i].help);
        sbuf_addf(out, "citybrain_%s %llu\n", rows[i].name,
                  (unsigned long long)rows[i].v);
    }
}

void metrics_render(struct sbuf *out, const struct store_stats *stats)
{
    pthread_mutex_lock(&metrics_lock);
    render_ingest(out);
    render_http(out);
    pthread_mutex_unlock(&metrics_lock);
    if (stats)
        render_store(out, stats);
}

void metrics_render_indicators(struct sbuf *out, const struct indic_stats *s)
{
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } rows[] = {
        {"indicators", "gauge", "Indicator declarations.", s->indicators},
        {"indicator_series", "gauge", "Indicator series (indicator x group).",
         s->series},
        {"indicator_series_dropped_total", "counter",
         "Records of series beyond indicator_max_series, dropped.",
         s->series_dropped},
        {"indicator_points_written_total", "counter",
         "Indicator points (bucket values and scores) written.",
         s->points_written},
        {"notifications_sent_total", "counter",
         "Alert notifications delivered (webhooks, Alertmanager).",
         s->notify_sent},
        {"notifications_failed_total", "counter",
         "Notification attempts that failed (each retry counts).",
         s->notify_failed},
        {"notifications_dead_total", "counter",
         "Notifications that exhausted their retries (dead letters).",
         s->notify_dead},
        {"notifications_queued", "gauge",
         "Notifications waiting to be sent or retried.", s->notify_queued},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        family(out, rows[i].name, rows[i].type, rows[i].help);
        sbuf_addf(out, "citybrain_%s %llu\n", rows[i].name,
                  (unsigned long long)rows[i].v);
    }
    family(out, "alerts", "gauge", "Open alerts by state.");
    sbuf_addf(out, "citybrain_alerts{state=\"pending\"} %llu\n",
              (unsigned long long)s->alerts_pending);
    sbuf_addf(out, "citybrain_alerts{state=\"firing\"} %llu\n",
              (unsigned long long)s->alerts_firing);
    family(out, "alerts_resolved_total", "counter",
           "Alerts resolved since start.");
    sbuf_addf(out, "citybrain_alerts_resolved_total %llu\n",
              (unsigned long long)s->alerts_resolved);
}
