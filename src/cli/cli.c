/* cli.c - citybrain serve, token and department commands. */
#include "cli/cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "case/case.h"
#include "clock/clock.h"
#include "config/config.h"
#include "http/http.h"
#include "indic/indic.h"
#include "live/live.h"
#include "render/render.h"
#include "scene/scene.h"
#include "session/session.h"
#include "store/store.h"

/* Loads defaults, the file named by --config, the environment, and flags;
 * flags it does not know are left in rest.  Returns 0 or CB_EINVAL. */
static int load_config(struct config *cfg, int argc, char **argv, char **rest,
                       int *nrest)
{
    config_defaults(cfg);
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config") && config_load_file(cfg, argv[i + 1]))
            return CB_EINVAL;
    if (config_load_env(cfg))
        return CB_EINVAL;
    char **all = xmalloc(sizeof(char *) * (size_t)(argc + 1));
    int nall = 0, rc = config_load_args(cfg, argc, argv, all, &nall);
    *nrest = 0;
    for (int i = 0; i < nall; i++) {
        if (!strcmp(all[i], "--config") && i + 1 < nall) {
            i++;
            continue;
        }
        rest[(*nrest)++] = all[i];
    }
    free(all);
    log_set_level((enum log_level)log_level_parse(cfg->log_level));
    dclock_configure(cfg->clock_simulated ? DCLOCK_SIMULATED : DCLOCK_WALL,
                     cfg->tz_minutes);
    return rc;
}

static int open_store(const struct config *cfg, int rebuild_rollups,
                      struct store **OUT_st)
{
    struct store_config sc;
    store_config_defaults(&sc);
    sc.dir = cfg->data_dir;
    sc.sync_full = cfg->sync_full;
    sc.queue_max = (size_t)cfg->queue_max;
    sc.commit_max_rows = cfg->commit_max_rows;
    sc.retention_days = cfg->retention_days;
    sc.hourly_retention_days = cfg->hourly_retention_days;
    sc.daily_retention_days = cfg->daily_retention_days;
    sc.orders_retention_days = cfg->orders_retention_days;
    sc.events_retention_days = cfg->events_retention_days;
    sc.log_keep_hours = cfg->log_keep_hours;
    sc.rollup_flush_ms = cfg->rollup_flush_ms;
    sc.rollup_max_lag = cfg->rollup_max_lag;
    sc.read_connections = cfg->read_connections;
    sc.rebuild_rollups = rebuild_rollups;
    sc.max_spread_days = cfg->max_spread_days;
    for (int m = 0; m < METRIC_COUNT; m++)
        sc.value_digits[m] = config_resolution_digits(cfg->resolution[m]);
    if (mkdir(cfg->data_dir, 0700) && errno != EEXIST) {
        fprintf(stderr, "error: cannot create data directory '%s': %s\n",
                cfg->data_dir, strerror(errno));
        return CB_EIO;
    }
    if (access(cfg->data_dir, R_OK | W_OK | X_OK)) {
        fprintf(stderr,
                "error: data directory '%s' is not writable by this user: "
                "%s\n",
                cfg->data_dir, strerror(errno));
        return CB_EIO;
    }
    return store_open(&sc, OUT_st);
}

/* Creates the scene engine and registers it as a consumer of the store
 * (it loads its state from a snapshot); must run before
 * store_start_consumers. */
static int open_scenes(const struct config *cfg, struct store *st,
                       struct scene_engine **OUT_scenes)
{
    struct scene_config sc;
    char path[4096], elderly[4096];
    scene_config_defaults(&sc);
    sc.tz_offset_minutes = dclock_tz_offset_minutes();
    snprintf(path, sizeof(path), "%s/scene-group-rental.learn", cfg->data_dir);
    snprintf(elderly, sizeof(elderly), "%s/scene-elderly.state", cfg->data_dir);
    sc.learned_path = path;
    sc.elderly_path = elderly;
    int rc = scene_engine_new(&sc, OUT_scenes);
    if (!rc)
        rc = scene_engine_attach(*OUT_scenes, st);
    return rc;
}

/* Creates the indicator engine, a consumer of the store like the scenes:
 * before store_start_consumers. */
static int open_indicators(const struct config *cfg, struct store *st,
                           struct live *live, struct scene_engine *scenes,
                           struct indic_engine **OUT_indic)
{
    struct indic_config ic;
    char defs[4096], url[600];
    indic_config_defaults(&ic);
    ic.defs_file = cfg->indicators_file;
    if (!*cfg->indicators_file) {
        snprintf(defs, sizeof(defs), "%s/indicators.json", cfg->data_dir);
        ic.defs_file = access(defs, R_OK) ? NULL : defs;
    }
    ic.with_defaults = cfg->indicator_defaults;
    ic.with_default_rules = cfg->alert_rule_defaults;
    ic.grace_ns = (int64_t)cfg->indicator_grace_s * 1000000000LL;
    ic.retention_days = cfg->indicator_retention_days;
    ic.backfill_days = cfg->indicator_backfill_days;
    ic.max_series = cfg->indicator_max_series;
    ic.max_indicators = cfg->indicator_max;
    ic.tick_ms = cfg->indicator_tick_ms;
    ic.webhook_urls = cfg->alert_webhook_urls;
    ic.webhook_retries = cfg->alert_webhook_retries;
    ic.webhook_backoff_ms = cfg->alert_webhook_backoff_ms;
    ic.alertmanager_url = cfg->alertmanager_url;
    snprintf(url, sizeof(url), "http://%s", cfg->listen);
    ic.public_url = *cfg->public_url ? cfg->public_url : url;
    ic.live = live;
    ic.scenes = scenes;
    ic.scene_sample_s = cfg->indicator_scene_sample_s;
    ic.ack_within_ns = (int64_t)cfg->alert_ack_within_s * 1000000000LL;
    ic.alert_routes = cfg->alert_routes;
    ic.escalate_to = cfg->alert_escalate_to;
    return indic_engine_new(&ic, st, OUT_indic);
}

static int open_live(const struct config *cfg, struct live **OUT_live)
{
    struct live_config lc;
    live_config_defaults(&lc);
    lc.ring_events = cfg->live_ring_events;
    lc.event_max_bytes = cfg->live_event_max_bytes;
    lc.max_readers = cfg->live_max_streams;
    lc.heartbeat_s = cfg->live_heartbeat_s;
    lc.reader_lag_max = cfg->live_client_lag_max;
    return live_new(&lc, OUT_live);
}

static int serve_until_signal(const struct config *cfg, struct store *st,
                              struct scene_engine *scenes,
                              struct indic_engine *indic, struct live *live)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    struct http_server *srv;
    int port;
    if (http_start(cfg, st, scenes, indic, live, &srv, &port))
        return CB_EIO;
    log_msg(LOG_INFO, "main", "listening | listen=\"%s\" port=%d", cfg->listen,
            port);
    fprintf(stderr, "citybrain: serving on http://%s (port %d)\n", cfg->listen,
            port);
    int sig = 0;
    sigwait(&stop, &sig);
    log_msg(LOG_INFO, "main", "stopping | signal=%d", sig);
    http_stop(srv);
    return 0;
}

/* Case changes go to the live hub: to the staff roles, and to the one
 * committee the case is dispatched to (the event names no household). */
static void publish_case(void *ctx, const char *type, const char *json,
                         const char *committee)
{
    struct live_audience aud = {LIVE_STAFF, committee, 0};
    if (committee)
        aud.roles |= LIVE_ROLE(ROLE_COMMITTEE);
    live_publish_to(ctx, type, json, &aud);
}

/* A simulated clock goes on from the time it was last set, so that the
 * windows that read "now" (indicator back-fill, plausibility, SLAs) see
 * the district where it was before the restart. */
static void restore_simulated_clock(struct store *st)
{
    struct sbuf v = SBUF_INIT;
    sbuf_init(&v);
    if (dclock_current_mode() == DCLOCK_SIMULATED &&
        !store_kv_get(st, DCLOCK_KV_KEY, &v)) {
        char *end;
        long long ns = strtoll(v.buf, &end, 10);
        if (end != v.buf && !*end && !dclock_set_ns(ns))
            log_msg(LOG_INFO, "cli", "simulated clock restored | now_s=%lld",
                    ns / 1000000000);
    }
    sbuf_release(&v);
}

int cli_serve(int argc, char **argv)
{
    struct config cfg;
    char **rest = xmalloc(sizeof(char *) * (size_t)(argc + 1));
    int nrest, rc = load_config(&cfg, argc, argv, rest, &nrest);
    struct store *st = NULL;
    struct scene_engine *scenes = NULL;
    int rebuild_rollups = 0;
    struct indic_engine *indic = NULL;
    struct live *live = NULL;
    for (int i = 0; !rc && i < nrest; i++) {
        if (!strcmp(rest[i], "--rebuild-rollups")) {
            rebuild_rollups = 1;
            continue;
        }
        if (!strcmp(rest[i], "--print-config-sample")) {
            struct sbuf s = SBUF_INIT;
            sbuf_init(&s);
            config_write_sample(&s);
            fputs(s.buf, stdout);
            sbuf_release(&s);
            goto out;
        }
        fprintf(stderr, "error: serve: unknown option '%s'\n", rest[i]);
        rc = CB_EINVAL;
    }
    if (rc)
        goto out;
    /* Block the stop signals before any thread starts: only sigwait
     * sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    char err[400];
    rc = case_init(&cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "error: %s\n", err);
        goto out;
    }
    rc = open_store(&cfg, rebuild_rollups, &st);
    if (rc)
        goto out;
    int created;
    rc = auth_ensure_admin(st, cfg.data_dir, &created);
    if (rc) {
        fprintf(stderr, "error: cannot write %s/admin.token\n", cfg.data_dir);
        goto out_store;
    }
    fprintf(stderr, "citybrain: admin token %s in %s/admin.token\n",
            created ? "created" : "is", cfg.data_dir);
    restore_simulated_clock(st);
    rc = open_live(&cfg, &live);
    if (rc)
        goto out_store;
    case_set_publisher(publish_case, live);
    rc = open_scenes(&cfg, st, &scenes);
    if (rc)
        goto out_store;
    scene_engine_set_live(scenes, live);
    rc = open_indicators(&cfg, st, live, scenes, &indic);
    if (rc)
        goto out_store;
    rc = store_start_consumers(st);
    if (!rc)
        rc = indic_engine_start(indic);
    if (!rc)
        rc = case_timer_start(st, &cfg);
    if (!rc)
        rc = serve_until_signal(&cfg, st, scenes, indic, live);
out_store:
    case_timer_stop();        /* it calls the store */
    indic_engine_stop(indic); /* its threads call the store */
    store_close(st); /* then: the scenes and indicators are its consumers */
    scene_engine_free(scenes);
    indic_engine_free(indic);
    case_set_publisher(NULL, NULL);
    live_free(live); /* last: the scenes, indicators and cases publish to it */
    log_msg(LOG_INFO, "main", "stopped");
out:
    case_release();
    free(rest);
    config_release(&cfg);
    return rc ? 1 : 0;
}

/* Finds "--key value" among rest; NULL if absent. */
static const char *opt(char **rest, int nrest, const char *key)
{
    for (int i = 0; i + 1 < nrest; i++)
        if (!strcmp(rest[i], key))
            return rest[i + 1];
    return NULL;
}

/* Fills info from --name, --role, --department and --committee (name
 * defaults to def_name when not NULL); returns 0 or 2 (said why). */
static int token_info_from_opts(struct store *st, char **rest, int nrest,
                                const char *def_name, struct token_info *info)
{
    memset(info, 0, sizeof(*info));
    const char *name = opt(rest, nrest, "--name");
    if (!name)
        name = def_name;
    const char *role = opt(rest, nrest, "--role");
    const char *dept = opt(rest, nrest, "--department");
    const char *committee = opt(rest, nrest, "--committee");
    int r = role ? role_parse(role) : -1;
    if (!name || r < 0) {
        fprintf(stderr, "error: token create needs --name NAME and --role "
                        "admin|publisher|operator|analyst|committee|"
                        "supervisor|call_taker|shift_lead|dispatcher|"
                        "department|citizen_app\n");
        return 2;
    }
    snprintf(info->name, sizeof(info->name), "%s", name);
    info->role = (enum role)r;
    if ((info->role == ROLE_PUBLISHER || info->role == ROLE_DEPARTMENT) &&
        (!dept ||
         store_department_find(st, dept, &info->department_id, &info->feeds))) {
        fprintf(stderr,
                "error: a %s token needs --department NAME of an "
                "existing department\n",
                role_name(info->role));
        return 2;
    }
    if (info->role == ROLE_COMMITTEE) {
        if (!committee) {
            fprintf(stderr, "error: a committee token needs --committee\n");
            return 2;
        }
        if (strlen(committee) > STORE_NAME_MAX) {
            fprintf(stderr, "error: --committee: over %d bytes\n",
                    STORE_NAME_MAX);
            return 2;
        }
        snprintf(info->committee, sizeof(info->committee), "%s", committee);
    }
    return 0;
}

static int token_create(struct store *st, char **rest, int nrest)
{
    struct token_info info;
    int rc = token_info_from_opts(st, rest, nrest, NULL, &info);
    if (rc)
        return rc;
    char token[AUTH_TOKEN_LEN + 1];
    int64_t id;
    if (auth_token_create(st, &info, token, &id)) {
        fprintf(stderr, "error: cannot store the token\n");
        return 1;
    }
    printf("%s\n", token);
    fprintf(stderr, "token %lld created for '%s' (%s); shown only once\n",
            (long long)id, info.name, role_name(info.role));
    return 0;
}

static int token_command(struct store *st, const char *verb, char **rest,
                         int nrest)
{
    if (!strcmp(verb, "create"))
        return token_create(st, rest, nrest);
    if (!strcmp(verb, "list")) {
        struct sbuf out = SBUF_INIT;
        sbuf_init(&out);
        int rc = render_tokens(st, &out);
        printf("%s\n", out.buf);
        sbuf_release(&out);
        return rc ? 1 : 0;
    }
    if (!strcmp(verb, "revoke") && nrest >= 1) {
        char *end;
        long long id = strtoll(rest[0], &end, 10);
        if (*end || id <= 0) {
            fprintf(stderr, "error: token id '%s' is not a number\n", rest[0]);
            return 2;
        }
        int rc = store_token_revoke(st, id);
        if (rc)
            fprintf(stderr, "error: token '%s' not revoked: %s\n", rest[0],
                    cb_strerror(rc));
        else
            fprintf(stderr,
                    "token %lld revoked; a running server refuses it "
                    "within a second\n",
                    id);
        return rc ? 1 : 0;
    }
    fprintf(stderr, "error: usage: citybrain token create|list|revoke\n");
    return 2;
}

/* "water,gas" into a bitmask of enum metric; 2 on a bad name (said). */
static int measurements_mask(const char *list, uint32_t *OUT_mask)
{
    *OUT_mask = 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int m = metric_parse(p, n);
        if (m < 0) {
            fprintf(stderr,
                    "error: --measurements: '%.*s' is not water, "
                    "electricity or gas\n",
                    (int)n, p);
            return 2;
        }
        *OUT_mask |= 1u << m;
        p += n + (p[n] == ',');
    }
    return 0;
}

static int department_command(struct store *st, const char *verb, char **rest,
                              int nrest)
{
    if (!strcmp(verb, "list")) {
        struct sbuf out = SBUF_INIT;
        sbuf_init(&out);
        int rc = render_departments(st, &out);
        printf("%s\n", out.buf);
        sbuf_release(&out);
        return rc ? 1 : 0;
    }
    const char *name = opt(rest, nrest, "--name");
    const char *feeds = opt(rest, nrest, "--feeds");
    if (strcmp(verb, "create") || !name || !feeds) {
        fprintf(stderr, "error: usage: citybrain department create --name "
                        "NAME --feeds readings,deliveries,... "
                        "[--measurements water,...] [--sources 110,...]\n");
        return 2;
    }
    struct department_grants grants = {0, 0, opt(rest, nrest, "--sources")};
    const char *measurements = opt(rest, nrest, "--measurements");
    if (measurements && measurements_mask(measurements, &grants.measurements))
        return 2;
    uint32_t mask = 0;
    char *copy = xstrdup(feeds), *save = NULL;
    for (char *f = strtok_r(copy, ",", &save); f;
         f = strtok_r(NULL, ",", &save)) {
        int k;
        for (k = 0; k < FEED_COUNT && strcmp(f, feed_name((enum feed)k)); k++)
            ;
        if (k == FEED_COUNT) {
            fprintf(stderr, "error: unknown feed '%s'\n", f);
            free(copy);
            return 2;
        }
        mask |= 1u << k;
    }
    free(copy);
    int64_t id;
    grants.feeds = mask;
    int rc = store_department_create(st, name, &grants, &id);
    if (rc)
        fprintf(stderr, "error: department '%s': %s\n", name, cb_strerror(rc));
    else
        printf("%lld\n", (long long)id);
    return rc ? 1 : 0;
}

/* Opens the store for an administrative command, runs fn, closes it. */
static int with_store(int argc, char **argv,
                      int (*fn)(struct store *, const char *, char **, int))
{
    struct config cfg;
    char **rest = xmalloc(sizeof(char *) * (size_t)(argc + 1));
    int nrest, rc = 2;
    struct store *st = NULL;
    if (load_config(&cfg, argc, argv, rest, &nrest) || nrest < 1)
        goto out;
    rc = 1;
    if (open_store(&cfg, 0, &st))
        goto out;
    rc = fn(st, rest[0], rest + 1, nrest - 1);
    store_close(st);
out:
    if (rc == 2 && nrest < 1)
        fprintf(stderr, "error: a sub-command is missing\n");
    free(rest);
    config_release(&cfg);
    return rc;
}

int cli_token(int argc, char **argv)
{
    return with_store(argc, argv, token_command);
}

int cli_department(int argc, char **argv)
{
    return with_store(argc, argv, department_command);
}

/* Makes a token of the role behind a one-time link and prints the link. */
static int login_link(struct store *st, char **rest, int nrest, int minutes)
{
    struct token_info info;
    const char *role = opt(rest, nrest, "--role");
    char def_name[64];
    snprintf(def_name, sizeof(def_name), "browser-%.40s", role ? role : "");
    int rc = token_info_from_opts(st, rest, nrest, def_name, &info);
    if (rc)
        return rc;
    const char *m = opt(rest, nrest, "--minutes");
    if (m) {
        char *end;
        long v = strtol(m, &end, 10);
        if (*end || v < 1 || v > 1440) {
            fprintf(stderr, "error: --minutes: '%s' is not in 1..1440\n", m);
            return 2;
        }
        minutes = (int)v;
    }
    const char *base = opt(rest, nrest, "--base");
    char code[SESSION_ID_LEN + 1];
    int64_t expires_ns, id;
    rc = session_link_issue(st, &info, minutes, code, &expires_ns, &id);
    if (rc) {
        fprintf(stderr, "error: cannot make the link: %s\n", cb_strerror(rc));
        return 1;
    }
    printf("%s/login?once=%s\n", base ? base : "", code);
    fprintf(stderr,
            "login link for '%s' (%s, token %lld): valid once, for %d "
            "minutes\n",
            info.name, role_name(info.role), (long long)id, minutes);
    return 0;
}

int cli_login_link(int argc, char **argv)
{
    struct config cfg;
    char **rest = xmalloc(sizeof(char *) * (size_t)(argc + 1));
    int nrest, rc = 2;
    struct store *st = NULL;
    if (load_config(&cfg, argc, argv, rest, &nrest))
        goto out;
    rc = 1;
    if (open_store(&cfg, 0, &st))
        goto out;
    rc = login_link(st, rest, nrest, cfg.login_link_minutes);
    store_close(st);
out:
    free(rest);
    config_release(&cfg);
    return rc;
}
