/*
 * routes_ingest.c - the four ingest endpoints (docs/API.md).
 *
 * Each request body becomes one batch: parse, resolve household ids, then
 * either refuse it whole (400 with the first 100 errors: nothing stored) or,
 * with ?on_error=skip, store the valid records and report the invalid ones.
 * The answer comes after the store has committed the batch.
 */
#include "http/http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "metrics/metrics.h"
#include "util/jsonw.h"

/* Seconds a client is asked to wait when the disk is full: an operator
 * has to free space, which takes longer than a busy queue. */
#define DISK_FULL_RETRY_S 30

/* Finds line starts for error columns by walking forward from the last
 * one found: no per-line index, so an error in a body of 60 M empty lines
 * costs no memory (errors come in line order; a step back restarts). */
struct line_cursor {
    size_t at; /* byte offset of the start of line `line` */
    int line;
};

/* Column (1-based) of needle's value in line `line` of body, or 1. */
static int line_column(struct line_cursor *cur, const char *body, size_t len,
                       int line, const char *needle)
{
    if (line < 1)
        return 1;
    if (cur->line < 1 || line < cur->line) {
        cur->at = 0;
        cur->line = 1;
    }
    while (cur->line < line) {
        const char *nl = memchr(body + cur->at, '\n', len - cur->at);
        if (!nl)
            return 1;
        cur->at = (size_t)(nl - body) + 1;
        cur->line++;
    }
    const char *end = memchr(body + cur->at, '\n', len - cur->at);
    size_t to = end ? (size_t)(end - body) : len;
    const char *hit =
        memmem(body + cur->at, to - cur->at, needle, strlen(needle));
    return hit ? (int)(hit - (body + cur->at)) + (int)strlen(needle) + 1 : 1;
}

/* Resolves readings' household ids; unknown ones become line errors and
 * are dropped from the batch. */
static void resolve_readings(struct request *req, struct ingest_batch *b)
{
    struct line_cursor cur = {0, 0};
    const char *last_id = NULL;
    int32_t last = -1;
    size_t kept = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct reading *r = &b->readings[i];
        if (!last_id || strcmp(last_id, r->household_id)) {
            last = store_household_resolve(req->srv->store, r->household_id);
            last_id = r->household_id;
        }
        r->household = last;
        if (last >= 0) {
            b->readings[kept++] = *r;
            continue;
        }
        /* only the errors that are listed need a column */
        int col = b->n_errors < INGEST_MAX_REPORTED_ERRORS
                      ? line_column(&cur, req->body.buf, req->body.len, r->line,
                                    "household=")
                      : 1;
        ingest_error_add(b, r->line, col, "household", "unknown household '%s'",
                         r->household_id);
    }
    b->n = kept;
}

static void resolve_deliveries(struct request *req, struct ingest_batch *b)
{
    size_t kept = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct delivery *d = &b->deliveries[i];
        if (d->household_id) {
            d->household =
                store_household_resolve(req->srv->store, d->household_id);
            if (d->household < 0) {
                ingest_error_add(b, d->line, 1, "household_id",
                                 "unknown household '%s'", d->household_id);
                continue;
            }
        } else {
            d->household = store_address_match(req->srv->store, d->address);
        }
        b->deliveries[kept++] = *d;
    }
    b->n = kept;
}

static int cmp_error_line(const void *a, const void *b)
{
    const struct ingest_error *x = a, *y = b;
    return x->line != y->line
               ? (x->line > y->line) - (x->line < y->line)
               : (x->column > y->column) - (x->column < y->column);
}

static void reply_rejected(struct request *req, struct ingest_batch *b)
{
    struct jsonw w;
    qsort(b->errors, b->n_errors, sizeof(b->errors[0]), cmp_error_line);
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    if (req->route->influx) {
        const struct ingest_error *e = &b->errors[0];
        jsonw_kv_str(&w, "code", "invalid");
        jsonw_kv_int(&w, "line", e->line);
        jsonw_kv_strf(&w, "message", "line %d, column %d, field %s: %s",
                      e->line, e->column, e->field, e->message);
    } else {
        jsonw_kv_str(&w, "error", "batch rejected");
        jsonw_kv_int(&w, "error_count", (int64_t)b->errors_total);
        jsonw_kv_int(&w, "stored", 0);
    }
    jsonw_key(&w, "errors");
    ingest_errors_json(b, &w);
    jsonw_object_end(&w);
    reply_json(req, 400);
}

static void reply_stored(struct request *req, struct ingest_batch *b,
                         const struct store_write_result *res)
{
    if (req->route->influx) {
        req->status = 204;
        return;
    }
    struct jsonw w;
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "accepted", (int64_t)res->accepted);
    jsonw_kv_int(&w, "duplicates", (int64_t)res->duplicates);
    if (b->feed == FEED_DELIVERIES)
        jsonw_kv_int(&w, "unmatched", (int64_t)res->unmatched);
    if (b->errors_total) {
        qsort(b->errors, b->n_errors, sizeof(b->errors[0]), cmp_error_line);
        jsonw_kv_int(&w, "rejected", (int64_t)b->errors_total);
        jsonw_key(&w, "errors");
        ingest_errors_json(b, &w);
    }
    jsonw_object_end(&w);
    reply_json(req, 200);
}

/* The metrics' source label: the token's id, never its name (/metrics
 * needs no token). */
static void metrics_label(const struct request *req, char *out, size_t cap)
{
    snprintf(out, cap, "token-%lld", (long long)req->who.id);
}

/* The newest record time of a batch (epoch ns), or INT64_MIN. */
static int64_t batch_newest_ns(const struct ingest_batch *b)
{
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < b->n; i++) {
        int64_t ts = b->feed == FEED_READINGS     ? b->readings[i].ts_ns
                     : b->feed == FEED_DELIVERIES ? b->deliveries[i].ts_ns
                     : b->feed == FEED_EVENTS     ? b->events[i].ts_ns
                                                  : INT64_MIN;
        if (ts > newest)
            newest = ts;
    }
    return newest;
}

/* The `ingest` live event of a committed batch: staff, and the sender's
 * own department. */
static void publish_ingest(struct request *req, const struct ingest_batch *b,
                           const struct store_write_result *res)
{
    if (!req->srv->live)
        return;
    struct sbuf ev = SBUF_INIT;
    struct jsonw w;
    sbuf_init(&ev);
    jsonw_init(&w, &ev);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "feed", feed_name(b->feed));
    jsonw_kv_int(&w, "seq", (int64_t)res->seq);
    jsonw_kv_int(&w, "accepted", (int64_t)res->accepted);
    jsonw_kv_int(&w, "duplicates", (int64_t)res->duplicates);
    jsonw_kv_int(&w, "rejected", (int64_t)b->errors_total);
    if (b->feed == FEED_DELIVERIES)
        jsonw_kv_int(&w, "unmatched", (int64_t)res->unmatched);
    int64_t newest = batch_newest_ns(b);
    if (newest != INT64_MIN) {
        char iso[32];
        time_format_iso(newest / 1000000000, dclock_tz_offset_minutes(), iso);
        jsonw_kv_str(&w, "newest", iso);
        jsonw_kv_int(&w, "newest_ns", newest);
    }
    jsonw_object_end(&w);
    struct live_audience aud = {LIVE_STAFF, NULL, 0};
    if (req->who.role == ROLE_PUBLISHER) {
        aud.roles |= LIVE_ROLE(ROLE_PUBLISHER);
        aud.department_id = req->who.department_id;
    }
    live_publish_to(req->srv->live, "ingest", ev.buf, &aud);
    sbuf_release(&ev);
}

static void store_batch(struct request *req, struct ingest_batch *b)
{
    char label[32];
    metrics_label(req, label, sizeof(label));
    const char *on_error = req_arg(req, "on_error");
    int skip = on_error && !strcmp(on_error, "skip");
    if (on_error && !skip && strcmp(on_error, "reject")) {
        reply_error(req, 400, "on_error must be 'skip' or 'reject', not '%s'",
                    on_error);
        return;
    }
    if (b->errors_total && !skip) {
        metrics_ingest(b->feed, label, 0, 0, b->errors_total, BATCH_REJECTED);
        reply_rejected(req, b);
        return;
    }
    struct store_write_result res = {0};
    int rc = b->n ? store_write(req->srv->store, b, req->who.name, &res) : 0;
    if (rc == CB_EBUSY || rc == CB_ECLOSED) {
        metrics_ingest(b->feed, label, 0, 0, 0, BATCH_BUSY);
        req->retry_after = 1;
        reply_error(req, 503, "the store is %s; retry later",
                    rc == CB_EBUSY ? "busy" : "shutting down");
        return;
    }
    if (cb_errno(rc) == ENOSPC) {
        metrics_ingest(b->feed, label, 0, 0, 0, BATCH_FAILED);
        req->retry_after = DISK_FULL_RETRY_S;
        reply_error(req, 503,
                    "disk full: the batch was not stored (%s); retry later",
                    cb_strerror(rc));
        return;
    }
    if (rc) {
        metrics_ingest(b->feed, label, 0, 0, 0, BATCH_FAILED);
        reply_error(req, 500, "the batch could not be stored: %s",
                    cb_strerror(rc));
        return;
    }
    metrics_ingest(b->feed, label, res.accepted, res.duplicates,
                   b->errors_total, BATCH_OK);
    publish_ingest(req, b, &res);
    reply_stored(req, b, &res);
}

/* The plausibility rules of the settings, at the district clock's now. */
static void plausible_rules(const struct config *cfg,
                            struct ingest_plausible *OUT_p)
{
    OUT_p->now_ns = dclock_now_ns();
    OUT_p->future_ns = (int64_t)cfg->future_s * 1000000000;
    OUT_p->horizon_ns = (int64_t)cfg->horizon_days * 86400 * 1000000000;
    for (int m = 0; m < METRIC_COUNT; m++) {
        OUT_p->max_index[m] = cfg->max_index[m];
        OUT_p->max_delta[m] = cfg->max_delta[m];
    }
}

/* The platform of a delivery: its order id's prefix before '-'. */
static void delivery_platform(const char *order_id, char *out, size_t cap)
{
    const char *dash = order_id ? strchr(order_id, '-') : NULL;
    size_t n = dash ? (size_t)(dash - order_id) : 0;
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), n ? order_id : "");
}

/* A publisher's narrower grants (auth_check_grant), record by record: the
 * first record outside them refuses the whole batch with 403 naming its
 * line.  Returns 0 when all are within. */
static int check_grants(struct request *req, const struct ingest_batch *b)
{
    char what[STORE_NAME_MAX + 1];
    for (size_t i = 0; i < b->n && req->who.role == ROLE_PUBLISHER; i++) {
        int32_t line;
        const char *field;
        if (b->feed == FEED_READINGS) {
            snprintf(what, sizeof(what), "%s",
                     metric_name(b->readings[i].metric));
            line = b->readings[i].line;
            field = "measurement";
        } else if (b->feed == FEED_EVENTS) {
            snprintf(what, sizeof(what), "%s", b->events[i].source);
            line = b->events[i].line;
            field = "source";
        } else if (b->feed == FEED_DELIVERIES) {
            delivery_platform(b->deliveries[i].order_id, what, sizeof(what));
            line = b->deliveries[i].line;
            field = "order_id";
        } else {
            return 0;
        }
        if (auth_check_grant(&req->who, (enum feed)b->feed, what)) {
            reply_error(req, 403,
                        "line %d, field %s: this token's department may not "
                        "write '%s'",
                        line, field, what);
            return -1;
        }
    }
    return 0;
}

/* Parses with the feed's parser, resolves, stores, answers. */
static void ingest(struct request *req, enum feed feed, int precision)
{
    struct ingest_batch b;
    struct ingest_plausible rules;
    ingest_batch_init(&b, feed);
    plausible_rules(req->srv->cfg, &rules);
    b.plausible = &rules;
    const char *body = req->body.buf;
    size_t len = req->body.len, max = req->srv->cfg->max_batch_records;
    int rc;
    const char *ct = req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    switch (feed) {
    case FEED_REGISTRY:
        rc = ingest_parse_households(body, len,
                                     ct && strstr(ct, "json") != NULL, max, &b);
        break;
    case FEED_READINGS:
        rc = ingest_parse_lineproto(body, len, (enum precision)precision, max,
                                    &b);
        if (!rc)
            resolve_readings(req, &b);
        break;
    case FEED_DELIVERIES:
        rc = ingest_parse_deliveries(body, len, max, &b);
        if (!rc)
            resolve_deliveries(req, &b);
        break;
    default:
        rc = ingest_parse_events(body, len, max, &b);
        break;
    }
    char label[32];
    metrics_label(req, label, sizeof(label));
    if (rc == CB_ETOOBIG) {
        metrics_ingest(feed, label, 0, 0, 0, BATCH_TOO_BIG);
        reply_error(req, 413, "more than %zu records in one request", max);
    } else if (check_grants(req, &b) == 0) {
        store_batch(req, &b);
    }
    ingest_batch_release(&b);
}

void route_write_households(struct request *req)
{
    ingest(req, FEED_REGISTRY, 0);
}

static int precision_arg(struct request *req, const char *def)
{
    const char *p = req_arg(req, "precision");
    int prec = precision_parse(p ? p : def);
    if (prec < 0)
        reply_error(req, 400, "precision must be s, ms, us or ns, not '%s'", p);
    return prec;
}

void route_write_lineproto(struct request *req)
{
    int prec = precision_arg(req, "ns");
    if (prec >= 0)
        ingest(req, FEED_READINGS, prec);
}

void route_write_influx_v2(struct request *req)
{
    if (!req_arg(req, "bucket") || !*req_arg(req, "bucket")) {
        reply_error(req, 400, "bucket not specified");
        return;
    }
    int prec = precision_arg(req, "ns");
    if (prec >= 0)
        ingest(req, FEED_READINGS, prec);
}

void route_write_deliveries(struct request *req)
{
    ingest(req, FEED_DELIVERIES, 0);
}

void route_write_events(struct request *req)
{
    ingest(req, FEED_EVENTS, 0);
}
