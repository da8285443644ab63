/*
 * metrics.h - counters and latency histograms, rendered for Prometheus.
 *
 * Series exposed at GET /metrics (text format 0.0.4):
 *
 *   citybrain_ingest_records_total{feed,source}      records accepted
 *     (source: "token-<id>", the sending token's id, never its name)
 *   citybrain_ingest_duplicates_total{feed,source}   records already stored
 *   citybrain_ingest_rejected_total{feed,source}     lines with errors
 *   citybrain_ingest_batches_total{feed,source,outcome}
 *   citybrain_http_requests_total{route,code}
 *   citybrain_http_request_duration_seconds{route}   histogram
 *   citybrain_http_connections                       gauge, open now
 *   citybrain_http_header_timeouts_total             connections closed for
 *                                                    a header not complete
 *                                                    within header_timeout_s
 *   citybrain_store_queue_depth / _queue_max         gauges
 *   citybrain_store_commits_total, _rows_total, _log_seq, _rollup_seq
 *   citybrain_meter_resets_total, _replacements_total, _late_readings_total,
 *   citybrain_spread_resets_total
 *   citybrain_sqlite_cache_bytes, _heap_bytes   memory: SQLite's page
 *     caches; everything malloc holds (glibc mallinfo2, the caches too)
 *   citybrain_indicators, _indicator_series, _indicator_series_dropped_total,
 *   _indicator_points_written_total          the indicator engine
 *   citybrain_alerts{state}, _alerts_resolved_total
 *   citybrain_notifications_sent_total, _failed_total, _dead_total, _queued
 *
 * Every family has # HELP and # TYPE lines.
 *
 * Sources are bounded: after METRICS_MAX_SOURCES distinct names, further
 * sources count as "other", so a client cannot grow memory without bound.
 * All functions are thread-safe.
 */
#ifndef CB_METRICS_H
#define CB_METRICS_H

#include <stdint.h>

#include "indic/indic.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include "util/util.h"

#define METRICS_MAX_SOURCES 128
#define METRICS_MAX_ROUTES 64

enum batch_outcome {
    BATCH_OK,
    BATCH_REJECTED,
    BATCH_TOO_BIG,
    BATCH_BUSY,
    BATCH_FAILED,
    BATCH_OUTCOMES
};

void metrics_ingest(enum feed feed, const char *source, uint64_t accepted,
                    uint64_t duplicates, uint64_t rejected,
                    enum batch_outcome outcome);
/* route is a static string (the route's pattern). */
void metrics_request(const char *route, int status, int64_t duration_ns);
void metrics_connections(int delta);
/* Counts a connection closed by the header deadline. */
void metrics_header_timeout(void);
/* Renders every series; stats may be NULL. */
void metrics_render(struct sbuf *out, const struct store_stats *stats);
/* Renders the indicator and alert families (indic_get_stats). */
void metrics_render_indicators(struct sbuf *out, const struct indic_stats *s);

#endif
