/*
 * config.h - citybrain's settings: one table, three sources.
 *
 * Every setting is one row of a table (config.c): its key, type, default,
 * the environment variable and command-line flag that set it, and one line
 * of documentation.  Later sources override earlier ones:
 *
 *   default  <  config file (--config FILE)  <  environment  <  flags
 *
 *   source        form                              example
 *   ------------  --------------------------------  -------------------------
 *   file          key = value, '#' comments          listen = 0.0.0.0:8080
 *   environment   CITYBRAIN_<KEY in upper case>      CITYBRAIN_LISTEN=:8080
 *   flag          --key value or --key=value         --listen 127.0.0.1:9090
 *
 * `citybrain serve --print-config-sample` prints the documented sample that
 * is checked in as citybrain.conf.sample.  Errors name the file and line, or
 * the variable, or the flag, and the key.
 */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H

#include <stddef.h>

#include "util/util.h"

struct config {
    char *data_dir;             /* data */
    char *listen;               /* listen: HOST:PORT */
    int http_threads;           /* threads in the HTTP pool */
    int max_connections;        /* open connections at once */
    int connection_timeout_s;   /* idle/slow connections are closed after */
    int max_connections_per_ip; /* open connections at once from one IP */
    int header_timeout_s;       /* a whole request header must come within */
    size_t max_body_bytes;      /* request body limit (413 above it) */
    size_t max_batch_records;   /* records per request (413 above it) */
    int queue_max;              /* batches waiting for the store (503) */
    size_t commit_max_rows;     /* rows per group commit */
    int sync_full;              /* sync = full | normal */
    int retention_days;         /* raw readings kept this long */
    int hourly_retention_days;  /* hourly use kept this long (0: always) */
    int daily_retention_days;   /* daily use kept this long (0: always) */
    int orders_retention_days;  /* delivery orders kept (0: always) */
    int events_retention_days;  /* department events kept (0: always) */
    int log_keep_hours;         /* ingest log kept after the roll-up */
    int rollup_flush_ms;        /* roll-up checkpoint period */
    size_t rollup_max_lag;      /* batches the roll-up may trail by (503) */
    int read_connections;       /* read-only SQLite connections */
    char *log_level;            /* debug | info | warn | error */
    /* the district clock (clock.h) */
    int clock_simulated; /* clock = wall | simulated */
    int tz_minutes;      /* timezone: the district's UTC offset */
    /* plausible data (refused at ingest, with the line and why) */
    int future_s;            /* max_future_s: beyond now + this */
    int horizon_days;        /* max_age_days: older than now - this */
    double max_index[3];     /* <metric>_max_index, by enum metric */
    double max_delta[3];     /* <metric>_max_delta */
    int max_spread_days;     /* longest interval one reading spreads over */
    int drain_s;             /* shutdown_drain_s: SIGTERM waits this long */
    char *indicators_file;   /* indicator declarations (JSON array) */
    int indicator_defaults;  /* 1: the default set */
    int alert_rule_defaults; /* 1: the default alert rules */
    int indicator_grace_s;   /* a bucket closes this long after its end */
    int indicator_retention_days; /* indicator points kept */
    int indicator_backfill_days;  /* stored data read for indicators */
    size_t indicator_max_series;  /* series at most */
    size_t indicator_max;         /* declarations at most */
    int indicator_tick_ms;        /* engine period */
    int indicator_scene_sample_s; /* scene samples period */
    char *alert_webhook_urls;     /* comma-separated */
    int alert_webhook_retries;
    int alert_webhook_backoff_ms;
    char *alertmanager_url;      /* "" none */
    char *public_url;            /* "" http://LISTEN */
    int alert_ack_within_s;      /* unacknowledged alerts escalate after */
    char *alert_routes;          /* KEY=RECIPIENT,.. ("" none) */
    char *alert_escalate_to;     /* the default recipient */
    size_t live_ring_events;     /* live events kept for resuming */
    size_t live_event_max_bytes; /* largest live event */
    int live_max_streams;        /* SSE streams at once (503 above) */
    int live_heartbeat_s;        /* SSE heartbeat period */
    size_t live_client_lag_max;  /* events a stream may trail by */
    int session_ttl_s;           /* browser session lifetime */
    int max_sessions;            /* browser sessions at once (503 above) */
    int login_link_minutes;      /* one-time login links expire after */
    char *web_dir;               /* the built UI served at / */
    /* the case loop (src/case/case.h) */
    char *case_routes;               /* CATEGORY=DEPARTMENT,.. */
    int case_step_minutes;           /* case_step_deadline_min */
    int case_duplicate_m;            /* likely-duplicate radius */
    int case_no_access_max;          /* no-access visits before escalation */
    char *case_no_access_department; /* where they escalate to */
    char *case_escalate_to;          /* the role overdue cases go to */
    size_t photo_max_bytes;          /* largest photo upload */
    int photo_quota_mb;              /* photo quota per committee/department */
    char *open311_services;          /* CODE=CATEGORY:NAME,.. (Open311) */
    int case_escalate_interval_ms;   /* the overdue timer's period */
    char *case_sla;                  /* CATEGORY.STEP=DURATION,.. */
    char *work_hours;                /* HH:MM-HH:MM[,..] */
    char *holidays_file;             /* "": the built-in calendar */
    double resolution[3]; /* <metric>_resolution: raw readings are stored
                             rounded to it (a power of ten) */
};

/* Sets every field to its default.  Release with config_release. */
void config_defaults(struct config *cfg);
void config_release(struct config *cfg);

/* Applies a config file.  Returns 0, CB_EIO if it cannot be read, or
 * CB_EINVAL after printing "FILE:LINE: ..." to stderr. */
int config_load_file(struct config *cfg, const char *path);
/* Applies CITYBRAIN_* environment variables; CB_EINVAL on a bad value. */
int config_load_env(struct config *cfg);
/* Applies flags from argv[0..argc).  Flags this table does not know are
 * left in place: *OUT_rest receives them in order (argv is reused), their
 * count in *OUT_nrest.  Returns CB_EINVAL on a bad value. */
int config_load_args(struct config *cfg, int argc, char **argv, char **OUT_rest,
                     int *OUT_nrest);
/* Sets one key from text; source names where it came from (for errors). */
int config_set(struct config *cfg, const char *key, const char *value,
               const char *source);
/* The digits d of a resolution 10^-d (0..9), or -1 when it is not one. */
int config_resolution_digits(double resolution);
/* Writes the documented sample configuration. */
void config_write_sample(struct sbuf *out);

#endif
