/* config.c - the settings table and its three sources. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "clock/clock.h"

enum config_type {
    CT_STR,
    CT_INT,
    CT_SIZE,
    CT_SYNC,
    CT_LEVEL,
    CT_CLOCK,
    CT_TZ,
    CT_DOUBLE,
    CT_OPTSTR
};

struct config_key {
    const char *key;
    enum config_type type;
    size_t offset;
    const char *def;
    long long min, max;
    const char *doc;
};

#define F(field) offsetof(struct config, field)
static const struct config_key config_keys[] = {
    {"data", CT_STR, F(data_dir), "./citybrain-data", 0, 0,
     "directory of the embedded store (created on first start)"},
    {"listen", CT_STR, F(listen), "127.0.0.1:8080", 0, 0,
     "HOST:PORT the HTTP server listens on"},
    {"http_threads", CT_INT, F(http_threads), "4", 1, 256,
     "threads in the HTTP server's pool"},
    {"max_connections", CT_INT, F(max_connections), "2000", 1, 100000,
     "open connections at once; more are refused at accept"},
    {"connection_timeout_s", CT_INT, F(connection_timeout_s), "30", 1, 3600,
     "seconds of inactivity after which a connection is closed"},
    {"max_connections_per_ip", CT_INT, F(max_connections_per_ip), "256", 1,
     100000,
     "open connections at once from one IP address (a department behind one "
     "NAT shares one); more are refused at accept"},
    {"header_timeout_s", CT_INT, F(header_timeout_s), "15", 1, 3600,
     "seconds a connection has to send a whole request header, counted from "
     "its start or the end of its previous request; closed after it, "
     "however slowly bytes still drip in"},
    {"max_body_bytes", CT_SIZE, F(max_body_bytes), "67108864", 1024,
     (long long)1 << 34, "largest request body accepted (413 above it)"},
    {"max_batch_records", CT_SIZE, F(max_batch_records), "1000000", 1,
     100000000, "most records in one request (413 above it)"},
    {"queue_max", CT_INT, F(queue_max), "64", 1, 100000,
     "batches waiting for the store writer (503 when full)"},
    {"commit_max_rows", CT_SIZE, F(commit_max_rows), "200000", 1, 100000000,
     "rows the writer groups into one commit (soft limit)"},
    {"sync", CT_SYNC, F(sync_full), "full", 0, 0,
     "full: fsync each commit before answering (survives power loss), but "
     "audit rows within 1 s (they survive process crashes at once); "
     "normal: survives process crashes only"},
    {"retention_days", CT_INT, F(retention_days), "90", 1, 36500,
     "days raw readings are kept (the tiers of use have their own)"},
    {"hourly_retention_days", CT_INT, F(hourly_retention_days), "90", 0, 36500,
     "days hourly use (the roll-up's usage_hours) is kept; 0: always.  As "
     "long as the raw readings by default: a year of Pudong's hourly rows "
     "alone would take about 300 GB"},
    {"daily_retention_days", CT_INT, F(daily_retention_days), "0", 0, 36500,
     "days daily use (usage_daily) is kept; 0: always.  The scenes read the "
     "last 30 days, so keep at least that"},
    {"orders_retention_days", CT_INT, F(orders_retention_days), "0", 0, 36500,
     "days delivery orders are kept (by their time, whole hours); 0: "
     "always.  A dropped order's id is forgotten: a resend stores it again. "
     " The scenes read the last 30 days"},
    {"events_retention_days", CT_INT, F(events_retention_days), "0", 0, 36500,
     "days department events are kept (by their time); 0: always.  A "
     "dropped event's id is forgotten too"},
    {"log_keep_hours", CT_INT, F(log_keep_hours), "0", 0, 8760,
     "hours the ingest log is kept after the roll-up has checkpointed past "
     "it; 0: dropped at once, in segments (a lost rollup.db then cannot be "
     "rebuilt from the log)"},
    {"rollup_max_lag", CT_SIZE, F(rollup_max_lag), "1000", 1, 100000000,
     "batches the roll-up may trail the ingest log by before writes get "
     "503"},
    {"rollup_flush_ms", CT_INT, F(rollup_flush_ms), "1000", 10, 3600000,
     "how often the roll-up consumer checkpoints (less often in a backlog)"},
    {"read_connections", CT_INT, F(read_connections), "4", 1, 64,
     "read-only store connections for queries"},
    {"indicators_file", CT_OPTSTR, F(indicators_file), "", 0, 0,
     "JSON array of indicator declarations added at start (see "
     "docs/INDICATORS.md); empty: DATA/indicators.json when it exists"},
    {"indicator_defaults", CT_INT, F(indicator_defaults), "1", 0, 1,
     "1: declare the default indicator set at start"},
    {"alert_rule_defaults", CT_INT, F(alert_rule_defaults), "0", 0, 1,
     "1: add the default alert rules at start (anomaly rules on the "
     "departments' event indicators; docs/INDICATORS.md)"},
    {"indicator_grace_s", CT_INT, F(indicator_grace_s), "60", 0, 86400,
     "seconds after its end that an indicator bucket closes and is scored"},
    {"indicator_retention_days", CT_INT, F(indicator_retention_days), "35", 1,
     3650, "days indicator points (values and scores) are kept"},
    {"indicator_backfill_days", CT_INT, F(indicator_backfill_days), "7", 1, 365,
     "days of stored data read at start and when an indicator is added"},
    {"indicator_max_series", CT_SIZE, F(indicator_max_series), "200000", 1,
     100000000,
     "indicator series at most; records of further ones are "
     "dropped and counted"},
    {"indicator_max", CT_SIZE, F(indicator_max), "256", 1, 100000,
     "indicator declarations at most (POST /api/v1/indicators: 413)"},
    {"indicator_tick_ms", CT_INT, F(indicator_tick_ms), "1000", 10, 600000,
     "how often buckets close, points are written and rules evaluated"},
    {"indicator_scene_sample_s", CT_INT, F(indicator_scene_sample_s), "30", 1,
     86400,
     "how often the scenes' open elderly alerts and suspects per street are "
     "sampled for feed \"scenes\" indicators"},
    {"alert_webhook_urls", CT_OPTSTR, F(alert_webhook_urls), "", 0, 0,
     "comma-separated URLs that get each firing and resolved alert "
     "(Alertmanager webhook JSON)"},
    {"alert_webhook_retries", CT_INT, F(alert_webhook_retries), "5", 0, 100,
     "retries of a failed notification before it goes to the dead letters"},
    {"alert_webhook_backoff_ms", CT_INT, F(alert_webhook_backoff_ms), "1000", 1,
     3600000, "delay before the first retry; doubled each retry"},
    {"alertmanager_url", CT_OPTSTR, F(alertmanager_url), "", 0, 0,
     "base URL of an Alertmanager that gets the alerts (API v2); empty: none"},
    {"alert_ack_within_s", CT_INT, F(alert_ack_within_s), "900", 0, 604800,
     "seconds a firing alert may stay unacknowledged before it is escalated "
     "(a rule's ack_within overrides it); 0: only rules that say"},
    {"alert_routes", CT_OPTSTR, F(alert_routes), "", 0, 0,
     "who an unacknowledged alert is escalated to, by rule id or severity "
     "(KEY=RECIPIENT,..); others go to alert_escalate_to"},
    {"alert_escalate_to", CT_STR, F(alert_escalate_to), "shift_lead", 0, 0,
     "the recipient of an unacknowledged alert no alert_routes entry names"},
    {"public_url", CT_OPTSTR, F(public_url), "", 0, 0,
     "citybrain's URL in the links notifications carry; empty: "
     "http://LISTEN"},
    {"log_level", CT_LEVEL, F(log_level), "info", 0, 0,
     "debug, info, warn or error"},
    {"clock", CT_CLOCK, F(clock_simulated), "wall", 0, 0,
     "the district clock: wall (real time) or simulated (moved by POST "
     "/api/v1/admin/clock, as `citybrain load` does)"},
    {"timezone", CT_TZ, F(tz_minutes), "+08:00", 0, 0,
     "the district's UTC offset (+HH:MM, -HH:MM or Z): where days start"},
    {"max_future_s", CT_INT, F(future_s), "86400", 0, 31 * 86400,
     "timestamps later than the district clock plus this are refused"},
    {"max_age_days", CT_INT, F(horizon_days), "730", 1, 36500,
     "timestamps older than the district clock minus this are refused"},
    {"water_max_index", CT_DOUBLE, F(max_index[0]), "100000000", 0, 0,
     "largest plausible water register (m3)"},
    {"water_max_delta", CT_DOUBLE, F(max_delta[0]), "10000", 0, 0,
     "largest plausible water use in one delta reading (m3)"},
    {"electricity_max_index", CT_DOUBLE, F(max_index[1]), "1000000000", 0, 0,
     "largest plausible electricity register (kWh)"},
    {"electricity_max_delta", CT_DOUBLE, F(max_delta[1]), "100000", 0, 0,
     "largest plausible electricity use in one delta reading (kWh)"},
    {"water_resolution", CT_DOUBLE, F(resolution[0]), "0.001", 0, 0,
     "raw water readings and hourly use are stored rounded to this (m3; a "
     "power of ten)"},
    {"electricity_resolution", CT_DOUBLE, F(resolution[1]), "0.01", 0, 0,
     "raw electricity readings and hourly use are stored rounded to this "
     "(kWh; a power of ten)"},
    {"gas_resolution", CT_DOUBLE, F(resolution[2]), "0.001", 0, 0,
     "raw gas readings and hourly use are stored rounded to this (m3; a "
     "power of ten)"},
    {"gas_max_index", CT_DOUBLE, F(max_index[2]), "100000000", 0, 0,
     "largest plausible gas register (m3)"},
    {"gas_max_delta", CT_DOUBLE, F(max_delta[2]), "10000", 0, 0,
     "largest plausible gas use in one delta reading (m3)"},
    {"max_spread_days", CT_INT, F(max_spread_days), "62", 62, 3660,
     "longest interval one reading's use is spread over; a longer gap "
     "restarts the meter (counted as spread_resets)"},
    {"shutdown_drain_s", CT_INT, F(drain_s), "10", 0, 600,
     "on SIGTERM, seconds to finish requests in flight before closing"},
    {"live_ring_events", CT_SIZE, F(live_ring_events), "4096", 2, 1000000,
     "live events kept so that a screen that reconnects resumes without "
     "reloading"},
    {"live_event_max_bytes", CT_SIZE, F(live_event_max_bytes), "65536", 256,
     16777216, "largest live event (one line of JSON)"},
    {"live_max_streams", CT_INT, F(live_max_streams), "64", 1, 100000,
     "live streams (GET /api/v1/stream) open at once; 503 above it"},
    {"live_heartbeat_s", CT_INT, F(live_heartbeat_s), "15", 1, 3600,
     "seconds of silence after which a live stream gets a heartbeat"},
    {"live_client_lag_max", CT_SIZE, F(live_client_lag_max), "1024", 1, 1000000,
     "events a live stream may trail the newest by (its socket backed up) "
     "before it is sent 'bye' and closed"},
    {"session_ttl_s", CT_INT, F(session_ttl_s), "43200", 60, 2592000,
     "seconds a browser session (cookie) lasts"},
    {"max_sessions", CT_INT, F(max_sessions), "10000", 1, 1000000,
     "browser sessions at once; 503 when full"},
    {"login_link_minutes", CT_INT, F(login_link_minutes), "15", 1, 1440,
     "minutes a one-time login link stays valid"},
    {"web_dir", CT_STR, F(web_dir), "web/dist", 0, 0,
     "directory of the built UI served at / (make builds it into web/dist); "
     "a relative path is from the working directory"},
    {"case_routes", CT_STR, F(case_routes),
     "garbage=sanitation,noise=urban-management,fire_door=fire-safety,"
     "group_rental=housing",
     0, 0,
     "where a dispatched case goes by category (CATEGORY=DEPARTMENT,..); "
     "a case about a household goes to its residents' committee instead"},
    {"case_step_deadline_min", CT_INT, F(case_step_minutes), "1440", 1, 525600,
     "minutes each step of a case (register, dispatch, handle, "
     "verify) may take before it is overdue"},
    {"case_no_access_max", CT_INT, F(case_no_access_max), "3", 1, 100,
     "no-access visits of a case before it is escalated to "
     "case_no_access_department"},
    {"case_no_access_department", CT_STR, F(case_no_access_department),
     "housing", 0, 0,
     "the department a case goes to after case_no_access_max no-access "
     "visits"},
    {"case_escalate_to", CT_STR, F(case_escalate_to), "shift_lead", 0, 0,
     "the role an overdue case is escalated to"},
    {"case_escalate_interval_ms", CT_INT, F(case_escalate_interval_ms), "1000",
     10, 3600000,
     "how often the server escalates overdue cases by the district clock "
     "(no one has to list them)"},
    {"case_sla", CT_OPTSTR, F(case_sla), "", 0, 0,
     "deadlines per category and step (CATEGORY.STEP=DURATION,..; either "
     "may be *; DURATION 90m, 4h, 2d in calendar time or 30wm, 16wh, 3wd "
     "in working time); steps no entry fits take case_step_deadline_min"},
    {"work_hours", CT_STR, F(work_hours), "09:00-17:00", 0, 0,
     "working hours of a working day (HH:MM-HH:MM[,HH:MM-HH:MM], district "
     "time) for working-time deadlines"},
    {"holidays_file", CT_OPTSTR, F(holidays_file), "", 0, 0,
     "public holidays and make-up working days (format of "
     "etc/holidays-cn.txt); empty: that file, built in"},
    {"case_duplicate_m", CT_INT, F(case_duplicate_m), "50", 0, 100000,
     "a new place-based case within this many metres of an open case of "
     "its category is marked as its likely duplicate"},
    {"photo_max_bytes", CT_SIZE, F(photo_max_bytes), "5242880", 1024,
     (long long)1 << 30,
     "largest photo upload (POST /api/v1/cases/{id}/photos; 413 above it)"},
    {"photo_quota_mb", CT_INT, F(photo_quota_mb), "512", 1, 10000000,
     "megabytes of photos each residents' committee or department may "
     "store (the other roles share one quota); 507 when full"},
    {"open311_services", CT_STR, F(open311_services),
     "garbage=garbage:垃圾堆放,noise=noise:噪声扰民,"
     "fire_door=fire_door:消防通道堵塞",
     0, 0,
     "the public Open311 services (SERVICE_CODE=CASE_CATEGORY:NAME,..): "
     "what /open311/v2/ offers and the case category each request becomes; "
     "cases of other categories never appear there"},
};
#undef F
#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const struct config_key *config_find(const char *key, size_t len)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strlen(config_keys[i].key) == len &&
            !strncmp(config_keys[i].key, key, len))
            return &config_keys[i];
    return NULL;
}

static int config_bad(const char *source, const char *key, const char *value,
                      const char *why)
{
    fprintf(stderr, "error: %s: %s = '%s': %s\n", source, key, value, why);
    return CB_EINVAL;
}

static int config_set_number(struct config *cfg, const struct config_key *k,
                             const char *value, const char *source)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end)
        return config_bad(source, k->key, value, "not an integer");
    if (v < k->min || v > k->max) {
        char why[96];
        snprintf(why, sizeof(why), "out of range [%lld, %lld]", k->min, k->max);
        return config_bad(source, k->key, value, why);
    }
    void *field = (char *)cfg + k->offset;
    if (k->type == CT_INT)
        *(int *)field = (int)v;
    else
        *(size_t *)field = (size_t)v;
    return 0;
}

/* The clock mode, the time zone and the plausible maxima. */
static int config_set_other(struct config *cfg, const struct config_key *k,
                            const char *value, const char *source)
{
    void *field = (char *)cfg + k->offset;
    double v;
    switch (k->type) {
    case CT_CLOCK:
        if (dclock_mode_parse(value) < 0)
            return config_bad(source, k->key, value,
                              "expected wall or simulated");
        *(int *)field = dclock_mode_parse(value) == DCLOCK_SIMULATED;
        return 0;
    case CT_TZ:
        if (dclock_tz_parse(value, (int *)field))
            return config_bad(source, k->key, value,
                              "expected +HH:MM, -HH:MM or Z, within 14:00");
        if (*(int *)field % 60)
            return config_bad(source, k->key, value,
                              "must be whole hours: hourly roll-ups are "
                              "district hours");
        return 0;
    default:
        if (parse_double(value, strlen(value), &v) || !(v > 0))
            return config_bad(source, k->key, value,
                              "expected a positive number");
        if (strstr(k->key, "_resolution") && config_resolution_digits(v) < 0)
            return config_bad(source, k->key, value,
                              "expected a power of ten from 1 down to "
                              "0.000000001");
        *(double *)field = v;
        return 0;
    }
}

int config_set(struct config *cfg, const char *key, const char *value,
               const char *source)
{
    const struct config_key *k = config_find(key, strlen(key));
    if (!k) {
        fprintf(stderr, "error: %s: unknown setting '%s'\n", source, key);
        return CB_EINVAL;
    }
    void *field = (char *)cfg + k->offset;
    switch (k->type) {
    case CT_STR:
    case CT_LEVEL:
    case CT_OPTSTR:
        if (k->type == CT_LEVEL && log_level_parse(value) < 0)
            return config_bad(source, key, value,
                              "expected debug, info, warn or error");
        if (!*value && k->type != CT_OPTSTR)
            return config_bad(source, key, value, "must not be empty");
        free(*(char **)field);
        *(char **)field = xstrdup(value);
        return 0;
    case CT_SYNC:
        if (strcmp(value, "full") && strcmp(value, "normal"))
            return config_bad(source, key, value, "expected full or normal");
        *(int *)field = !strcmp(value, "full");
        return 0;
    case CT_INT:
    case CT_SIZE:
        return config_set_number(cfg, k, value, source);
    case CT_CLOCK:
    case CT_TZ:
    case CT_DOUBLE:
        return config_set_other(cfg, k, value, source);
    }
    return CB_EINVAL;
}

int config_resolution_digits(double resolution)
{
    double p = 1;
    for (int d = 0; d <= 9; d++, p *= 10)
        if (fabs(resolution * p - 1) < 1e-9)
            return d;
    return -1;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < N_KEYS; i++)
        if (config_set(cfg, config_keys[i].key, config_keys[i].def, "default"))
            abort();
}

void config_release(struct config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        enum config_type t = config_keys[i].type;
        if (t == CT_STR || t == CT_LEVEL || t == CT_OPTSTR) {
            char **field = (char **)((char *)cfg + config_keys[i].offset);
            free(*field);
            *field = NULL;
        }
    }
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_file(struct config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: cannot read config '%s': %s\n", path,
                strerror(errno));
        return CB_EIO;
    }
    char line[4096], where[512];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "error: %s: expected 'key = value'\n", where);
            rc = CB_EINVAL;
            break;
        }
        *eq = '\0';
        rc = config_set(cfg, trim(s), trim(eq + 1), where);
    }
    fclose(f);
    return rc;
}

int config_load_env(struct config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        char name[64] = "CITYBRAIN_";
        size_t n = strlen(name);
        for (const char *k = config_keys[i].key; *k && n < 63; k++)
            name[n++] = (char)toupper((unsigned char)*k);
        name[n] = '\0';
        const char *v = getenv(name);
        if (v && config_set(cfg, config_keys[i].key, v, name))
            return CB_EINVAL;
    }
    return 0;
}

int config_load_args(struct config *cfg, int argc, char **argv, char **OUT_rest,
                     int *OUT_nrest)
{
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        size_t klen = eq ? (size_t)(eq - a) - 2 : strlen(a) - 2;
        const struct config_key *k =
            strncmp(a, "--", 2) ? NULL : config_find(a + 2, klen);
        if (!k) {
            OUT_rest[nrest++] = argv[i];
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            fprintf(stderr, "error: flag --%s needs a value\n", k->key);
            return CB_EINVAL;
        }
        char source[80];
        snprintf(source, sizeof(source), "flag --%s", k->key);
        if (config_set(cfg, k->key, value, source))
            return CB_EINVAL;
    }
    *OUT_nrest = nrest;
    return 0;
}

void config_write_sample(struct sbuf *out)
{
    sbuf_addstr(out, "# citybrain.conf - every setting with its default.\n"
                     "# Load with: citybrain serve --config FILE\n"
                     "# Each key can also be set by the environment variable\n"
                     "# CITYBRAIN_<KEY> or the flag --<key>; flags win.\n");
    for (size_t i = 0; i < N_KEYS; i++)
        sbuf_addf(out, "\n# %s\n%s = %s\n", config_keys[i].doc,
                  config_keys[i].key, config_keys[i].def);
}
