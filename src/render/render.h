/*
 * render.h - the API's JSON views of what the store reads.
 *
 * The store returns typed rows through callbacks (store.h, "reads"); these
 * functions render them with the JSON writer (util/jsonw.h), for the HTTP
 * routes and the CLI alike, so one format serves both and the store
 * renders no JSON.  Each appends one JSON value to out and returns the
 * store's code: 0, CB_ENOTFOUND where said, or CB_ESTORE (out may then
 * hold part of the value: the caller discards it).
 *
 * Times are ISO 8601 in the district's time zone (dclock_tz_offset_minutes);
 * stored text may hold any bytes, the output is valid UTF-8.
 *
 *   view               value
 *   -----------------  ----------------------------------------------------
 *   readings           [{"ts":"ISO","ts_ns":N,"metric":"water",
 *                        "field":"index"|"delta","value":V}], oldest first
 *   usage_daily        [{"day":"2026-11-01","water":0.41,"electricity":7.2,
 *                        "gas":0.5}]: the metrics with use that day
 *   usage_hourly       [{"hour":"2026-11-01T08:00:00+08:00","water":0.02,
 *                        "electricity":0.31}]: the hours (their start) of
 *                        the days asked with hourly use, oldest first
 *   events             [{"source":"120","event_id":..,"type":..,"ts":"ISO",
 *                        "lat":..,"lon":..,"street":..,"placed":bool,
 *                        "attrs":{..}|null}], newest first
 *   household          {"id":N,"household_id":..,"street":..,"committee":..,
 *                       "building":..,"address":..,"lat":..,"lon":..,
 *                       "area_m2":..,"rooms":N,"registered_occupants":N,
 *                       "flags":[..],"updated":"ISO","meters":{"water":
 *                       {"first":"ISO","last":"ISO","last_index":V|null,
 *                        "resets":N,"replacements":N,"late":N},..}}
 *   stats              {"households":N,"readings":N,"deliveries":N,
 *                       "deliveries_unmatched":N,"address_match_rate":R,
 *                       "address_match_rate_by_source":{"MT":R,..},
 *                       "deliveries_by_source":{"MT":{"total":N,
 *                        "unmatched":N}},"events":N,"log_seq":N,
 *                       "rollup_seq":N,"meter_resets":N,
 *                       "meter_replacements":N,"late_readings":N,
 *                       "spread_resets":N}
 *   departments        [{"id":N,"name":..,"feeds":[..],"created":"ISO",
 *                        "measurements":[..],"sources":[..]|null}]
 *   tokens             [{"id":N,"name":..,"role":..,"department_id":N,
 *                        "feeds":[..],"committee":..|null,"created":"ISO",
 *                        "revoked":"ISO"|null}], never a hash
 *   audit              [{"id":N,"ts":"ISO","who":..,"token_id":N|null,
 *                        "action":..,"object":..,"reason":..}], newest first
 *
 * Numbers read from the store are written with 12 significant digits
 * (sums of spread use carry float noise past that), rates with 4 decimals.
 * Threading: as the store's reads (any thread).
 */
#ifndef CB_RENDER_H
#define CB_RENDER_H

#include <stdint.h>

#include "store/store.h"
#include "util/util.h"

/* limit <= 0: 1000.  metric: enum metric, or -1 for all. */
int render_readings(struct store *st, int32_t household, int metric,
                    int64_t from_ns, int64_t to_ns, int limit,
                    struct sbuf *out);
/* District days from_day <= day < to_day (see time_days_from_civil). */
int render_usage_daily(struct store *st, int32_t household, int64_t from_day,
                       int64_t to_day, struct sbuf *out);
/* The hours of district days from_day <= day < to_day. */
int render_usage_hourly(struct store *st, int32_t household, int64_t from_day,
                        int64_t to_day, struct sbuf *out);
/* source: NULL for all. */
int render_events(struct store *st, const char *source, int64_t from_ns,
                  int64_t to_ns, int limit, struct sbuf *out);
/* CB_ENOTFOUND if the household is unknown. */
int render_household(struct store *st, int32_t household, struct sbuf *out);
/* Never fails. */
void render_stats(struct store *st, struct sbuf *out);
int render_departments(struct store *st, struct sbuf *out);
int render_tokens(struct store *st, struct sbuf *out);
/* The newest limit (<= 0: 100) records. */
int render_audit(struct store *st, int limit, struct sbuf *out);

#endif
