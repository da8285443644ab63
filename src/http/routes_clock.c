/*
 * routes_clock.c - the district clock (clock.h) over HTTP, admin only.
 *
 *   GET  /api/v1/admin/clock   {"clock":"simulated","now":"2026-11-27T08:00:
 *                               00+08:00","now_s":1764201600,
 *                               "timezone":"+08:00"}
 *   POST /api/v1/admin/clock   body {"now":"2026-11-27T08:00:00+08:00"} or
 *                               {"now":1764201600}: moves a simulated clock
 *                               (409 on the wall clock), answers as GET
 */
#include "http/http_int.h"

#include <jansson.h>
#include <string.h>

#include "clock/clock.h"
#include "util/jsonw.h"

static void clock_reply(struct request *req)
{
    char now[32], tz[32];
    int64_t now_s = dclock_now_ns() / 1000000000;
    int off = dclock_tz_offset_minutes();
    time_format_iso(now_s, off, now);
    time_format_iso(0, off, tz); /* the offset is its last 6 bytes */
    struct jsonw w;
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "clock", dclock_mode_name(dclock_current_mode()));
    jsonw_kv_str(&w, "now", now);
    jsonw_kv_int(&w, "now_s", now_s);
    jsonw_kv_str(&w, "timezone", tz + strlen(tz) - 6);
    jsonw_object_end(&w);
    reply_json(req, 200);
}

void route_clock_get(struct request *req)
{
    clock_reply(req);
}

/* The body's "now" in epoch nanoseconds; replies 400 and returns -1. */
static int body_now(struct request *req, int64_t *OUT_ns)
{
    json_error_t err;
    json_t *obj = json_loadb(req->body.buf, req->body.len, 0, &err);
    json_t *now = obj ? json_object_get(obj, "now") : NULL;
    int rc = -1, col = 0;
    if (json_is_integer(now) && json_integer_value(now) >= 0 &&
        json_integer_value(now) < INT64_MAX / 1000000000) {
        *OUT_ns = (int64_t)json_integer_value(now) * 1000000000;
        rc = 0;
    } else if (json_is_string(now) &&
               !time_parse_iso(json_string_value(now), json_string_length(now),
                               OUT_ns, &col) &&
               *OUT_ns >= 0) {
        rc = 0;
    }
    json_decref(obj);
    if (rc)
        reply_error(req, 400,
                    "the body must be an object whose field 'now' is an "
                    "ISO 8601 time or epoch seconds since 1970");
    return rc;
}

void route_clock_set(struct request *req)
{
    int64_t ns;
    if (dclock_current_mode() != DCLOCK_SIMULATED) {
        reply_error(req, 409,
                    "the district clock is the wall clock; start the server "
                    "with clock = simulated to set it");
        return;
    }
    if (body_now(req, &ns))
        return;
    dclock_set_ns(ns);
    char text[32];
    snprintf(text, sizeof(text), "%lld", (long long)ns);
    if (store_kv_set(req->srv->store, DCLOCK_KV_KEY, text))
        log_msg(LOG_WARN, "http", "simulated clock not saved | now_s=%lld",
                (long long)(ns / 1000000000));
    log_msg(LOG_DEBUG, "http", "simulated clock set | now_s=%lld",
            (long long)(ns / 1000000000));
    clock_reply(req);
}
