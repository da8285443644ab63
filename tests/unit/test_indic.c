/*
 * test_indic.c - indicators over the ingest log and the alert rules on
 * them: counts per bucket, a declaration added at run time back-filled,
 * exactly once across a restart, every rule form (threshold, for,
 * keep_firing_for, repeat, anomaly, nodata), silences, no duplicate open
 * alerts, rule state across a restart; the default set parses.
 */
#include <jansson.h>
#include <math.h>

#include "indic/indic_int.h"
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_store_fixture.h"

struct env {
    struct fixture fx;
    struct indic_engine *eng;
    int64_t t0; /* an even hour (UTC) two days ago */
};

static int g_default_rules; /* env_start: the default set and rules */

static void env_start(struct env *e)
{
    struct indic_config ic;
    indic_config_defaults(&ic);
    ic.with_defaults = g_default_rules;
    ic.with_default_rules = g_default_rules;
    ic.grace_ns = 0;
    assert_int_equal(store_open(&e->fx.cfg, &e->fx.st), 0);
    assert_int_equal(indic_engine_new(&ic, e->fx.st, &e->eng), 0);
    assert_int_equal(store_start_consumers(e->fx.st), 0);
}

static void env_stop(struct env *e)
{
    store_close(e->fx.st);
    indic_engine_free(e->eng);
    e->fx.st = NULL;
    e->eng = NULL;
}

static struct env *env_new(void)
{
    struct env *e = calloc(1, sizeof(*e));
    snprintf(e->fx.dir, sizeof(e->fx.dir), "/tmp/cbindic-XXXXXX");
    assert_non_null(mkdtemp(e->fx.dir));
    store_config_defaults(&e->fx.cfg);
    e->fx.cfg.dir = e->fx.dir;
    e->fx.cfg.sync_full = 0;
    e->fx.cfg.read_connections = 2;
    e->fx.cfg.rollup_flush_ms = 20;
    int64_t now = time_now_ns();
    e->t0 = (now / (2 * HOUR_NS) - 24) * 2 * HOUR_NS; /* 2 h buckets align */
    env_start(e);
    return e;
}

static void env_free(struct env *e)
{
    env_stop(e);
    assert_int_equal(nftw(e->fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(e);
}

/* Events of source 110, type t, street s: counts[h] in hour h of t0. */
static void write_events(struct env *e, const char *type, const int *counts,
                         int hours, int first_id)
{
    size_t n = 0;
    for (int h = 0; h < hours; h++)
        n += (size_t)counts[h];
    struct ingest_batch b;
    batch_new(&b, FEED_EVENTS, n);
    size_t k = 0;
    for (int h = 0; h < hours; h++)
        for (int i = 0; i < counts[h]; i++, k++) {
            char id[32];
            snprintf(id, sizeof(id), "E%d", first_id + (int)k);
            b.events[k] = (struct event){
                .event_id = arena_strndup(&b.arena, id, strlen(id)),
                .source = "110",
                .type = type,
                .street = "S1",
                .attrs_json = "{\"minutes\":4}",
                .ts_ns = e->t0 + h * HOUR_NS + (i + 1) * 60 * NS,
                .lat = 31.2,
                .lon = 121.5,
                .line = (int32_t)k + 1};
        }
    struct store_write_result res;
    assert_int_equal(store_write(e->fx.st, &b, "test", &res), 0);
    assert_int_equal(res.accepted, n);
    ingest_batch_release(&b);
    assert_int_equal(store_rollup_flush(e->fx.st), 0);
}

static void define(struct env *e, const char *json)
{
    char err[300] = "";
    int rc = indic_define(e->eng, json, strlen(json), err, sizeof(err));
    if (rc)
        fprintf(stderr, "define: %s\n", err);
    assert_int_equal(rc, 0);
}

static void rule(struct env *e, const char *json)
{
    char err[300] = "";
    int rc = indic_rule_define(e->eng, json, strlen(json), err, sizeof(err));
    if (rc)
        fprintf(stderr, "rule: %s\n", err);
    assert_int_equal(rc, 0);
}

/* The values of one series, bucket by bucket from t0, into v (NAN: no
 * point); returns how many buckets. */
static size_t series(struct env *e, const char *id, const char *group,
                     double *v, size_t cap)
{
    struct sbuf out = SBUF_INIT;
    assert_int_equal(
        indic_series_json(e->eng, id, group, e->t0, INT64_MAX, 10000, &out), 0);
    json_t *o = json_loads(out.buf, 0, NULL);
    assert_non_null(o);
    json_t *pts = json_object_get(o, "points");
    int64_t bucket = json_integer_value(json_object_get(o, "bucket_s"));
    for (size_t i = 0; i < cap; i++)
        v[i] = NAN;
    size_t n = 0, i;
    json_t *p;
    json_array_foreach(pts, i, p)
    {
        int64_t ts;
        const char *iso = json_string_value(json_object_get(p, "ts"));
        assert_int_equal(time_parse_iso(iso, strlen(iso), &ts, NULL), 0);
        size_t k = (size_t)((ts - e->t0) / (bucket * NS));
        if (k < cap) {
            v[k] = json_number_value(json_object_get(p, "value"));
            if (k + 1 > n)
                n = k + 1;
        }
    }
    json_decref(o);
    sbuf_release(&out);
    return n;
}

static const char calls[] =
    "{\"id\":\"calls\",\"feed\":\"events\",\"filter\":{\"source\":\"110\"},"
    "\"measure\":\"count\",\"bucket\":\"1h\",\"group\":\"street\"}";

static void test_count_backfill_restart(void **state)
{
    struct env *e = env_new();
    define(e, calls);
    static const int counts[] = {3, 0, 1, 0, 2};
    write_events(e, "theft", counts, 5, 1);
    indic_tick(e->eng, e->t0 + 5 * HOUR_NS);
    double v[8];
    assert_int_equal(series(e, "calls", "S1", v, 8), 5);
    for (int h = 0; h < 5; h++)
        assert_true(v[h] == counts[h]);
    /* a new declaration is back-filled from the stored events */
    define(e, "{\"id\":\"mins\",\"feed\":\"events\",\"measure\":\"sum\","
              "\"field\":\"minutes\",\"bucket\":\"2h\"}");
    indic_tick(e->eng, e->t0 + 5 * HOUR_NS);
    double m[4];
    assert_int_equal(series(e, "mins", "district", m, 4), 3);
    assert_true(m[0] == 12 && m[1] == 4 && m[2] == 8);
    char err[200];
    assert_int_equal(
        indic_define(e->eng, calls, strlen(calls), err, sizeof(err)),
        CB_EEXIST);
    const char *bad = "{\"id\":\"x\",\"feed\":\"ev\"}";
    assert_int_equal(indic_define(e->eng, bad, strlen(bad), err, sizeof(err)),
                     CB_EINVAL);
    assert_non_null(strstr(err, "feed 'ev'"));
    /* restart: the stored declarations come back, nothing counts twice */
    env_stop(e);
    env_start(e);
    static const int more[] = {0, 0, 0, 0, 0, 1};
    write_events(e, "theft", more, 6, 100);
    indic_tick(e->eng, e->t0 + 6 * HOUR_NS);
    assert_int_equal(series(e, "calls", "S1", v, 8), 6);
    for (int h = 0; h < 5; h++)
        assert_true(v[h] == counts[h]);
    assert_true(v[5] == 1);
    assert_int_equal(series(e, "mins", "district", m, 4), 3);
    assert_true(m[0] == 12 && m[2] == 12);
    env_free(e);
}

/* The state of the only alert of rule id, "" when none. */
static const char *alert_state(struct env *e, const char *rule_id,
                               size_t *OUT_open, int *OUT_silenced)
{
    static char state[16];
    struct sbuf out = SBUF_INIT;
    assert_int_equal(indic_alert_list_json(e->eng, NULL, 1000, &out), 0);
    json_t *a = json_loads(out.buf, 0, NULL);
    size_t i, open = 0;
    json_t *x;
    state[0] = '\0';
    json_array_foreach(a, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "rule")), rule_id))
            continue;
        const char *s = json_string_value(json_object_get(x, "state"));
        if (strcmp(s, "resolved"))
            open++;
        if (!state[0] || strcmp(s, "resolved")) {
            snprintf(state, sizeof(state), "%s", s);
            if (OUT_silenced)
                *OUT_silenced = json_is_true(json_object_get(x, "silenced"));
        }
    }
    if (OUT_open)
        *OUT_open = open;
    json_decref(a);
    sbuf_release(&out);
    return state;
}

static void test_threshold_for_keep_restart(void **state)
{
    struct env *e = env_new();
    define(e, calls);
    rule(e, "{\"id\":\"busy\",\"indicator\":\"calls\",\"kind\":\"threshold\","
            "\"op\":\">\",\"value\":2,\"for\":\"30m\"}");
    rule(e, "{\"id\":\"sticky\",\"indicator\":\"calls\",\"kind\":"
            "\"threshold\",\"value\":2,\"keep_firing_for\":\"3h\"}");
    static const int counts[] = {3, 0, 0, 0, 0, 0};
    write_events(e, "theft", counts, 6, 1);
    int64_t t = e->t0 + HOUR_NS; /* hour 0 closes: 3 > 2 */
    indic_tick(e->eng, t);
    assert_string_equal(alert_state(e, "busy", NULL, NULL), "pending");
    assert_string_equal(alert_state(e, "sticky", NULL, NULL), "firing");
    indic_tick(e->eng, t + 20 * 60 * NS);
    assert_string_equal(alert_state(e, "busy", NULL, NULL), "pending");
    indic_tick(e->eng, t + 31 * 60 * NS);
    size_t open;
    assert_string_equal(alert_state(e, "busy", &open, NULL), "firing");
    for (int i = 0; i < 5; i++) /* ticks update, never duplicate */
        indic_tick(e->eng, t + (32 + i) * 60 * NS);
    alert_state(e, "busy", &open, NULL);
    assert_int_equal(open, 1);
    /* restart while firing: the same alert goes on */
    env_stop(e);
    env_start(e);
    indic_tick(e->eng, t + 40 * 60 * NS);
    assert_string_equal(alert_state(e, "busy", &open, NULL), "firing");
    assert_int_equal(open, 1);
    /* hour 1 closes with 0: busy resolves, sticky keeps firing 3 h */
    indic_tick(e->eng, t + HOUR_NS);
    assert_string_equal(alert_state(e, "busy", &open, NULL), "resolved");
    assert_int_equal(open, 0);
    assert_string_equal(alert_state(e, "sticky", NULL, NULL), "firing");
    indic_tick(e->eng, t + HOUR_NS + 2 * HOUR_NS);
    assert_string_equal(alert_state(e, "sticky", NULL, NULL), "firing");
    indic_tick(e->eng, t + HOUR_NS + 3 * HOUR_NS);
    assert_string_equal(alert_state(e, "sticky", NULL, NULL), "resolved");
    env_free(e);
}

static void test_repeat_nodata_silence(void **state)
{
    struct env *e = env_new();
    define(e, calls);
    rule(e, "{\"id\":\"rep\",\"indicator\":\"calls\",\"kind\":\"threshold\","
            "\"value\":0,\"repeat\":{\"n\":2,\"window\":\"3h\"}}");
    rule(e, "{\"id\":\"quiet\",\"indicator\":\"calls\",\"kind\":\"nodata\","
            "\"stale\":\"2h\"}");
    static const int counts[] = {1, 0, 0, 0, 1, 0, 1};
    write_events(e, "theft", counts, 7, 1);
    indic_tick(e->eng, e->t0 + HOUR_NS);
    assert_string_equal(alert_state(e, "rep", NULL, NULL), "");
    assert_string_equal(alert_state(e, "quiet", NULL, NULL), "");
    /* once in 3 h is not twice: hours 0 and 4 are 4 h apart */
    indic_tick(e->eng, e->t0 + 5 * HOUR_NS);
    assert_string_equal(alert_state(e, "rep", NULL, NULL), "");
    /* hours 4 and 6 are within 3 h */
    indic_tick(e->eng, e->t0 + 7 * HOUR_NS);
    assert_string_equal(alert_state(e, "rep", NULL, NULL), "firing");
    /* no data for 2 h after the last event (hour 6, minute 1) */
    indic_tick(e->eng, e->t0 + 8 * HOUR_NS);
    assert_string_equal(alert_state(e, "quiet", NULL, NULL), "");
    /* a silence on it: it fires, silenced, and nothing is sent */
    char err[200], id[32], sil[300];
    snprintf(sil, sizeof(sil),
             "{\"rule\":\"quiet\",\"reason\":\"maintenance of the 110 "
             "link\",\"starts_ns\":%lld,\"duration\":\"1d\"}",
             (long long)e->t0);
    assert_int_equal(indic_silence_add(e->eng, sil, strlen(sil), err,
                                       sizeof(err), id, sizeof(id)),
                     0);
    const char *bad = "{\"rule\":\"quiet\",\"duration\":\"1h\"}";
    assert_int_equal(indic_silence_add(e->eng, bad, strlen(bad), err,
                                       sizeof(err), id, sizeof(id)),
                     CB_EINVAL);
    assert_non_null(strstr(err, "reason"));
    int silenced = 0;
    indic_tick(e->eng, e->t0 + 9 * HOUR_NS);
    assert_string_equal(alert_state(e, "quiet", NULL, &silenced), "firing");
    assert_int_equal(silenced, 1);
    /* the silence expired: the same alert, no longer silenced */
    size_t open;
    indic_tick(e->eng, e->t0 + 25 * HOUR_NS);
    assert_string_equal(alert_state(e, "quiet", &open, &silenced), "firing");
    assert_int_equal(silenced, 0);
    assert_int_equal(open, 1);
    env_free(e);
}

static void test_anomaly(void **state)
{
    struct env *e = env_new();
    e->t0 -= 24 * HOUR_NS * 4; /* six days ago */
    define(e, calls);
    rule(e, "{\"id\":\"odd\",\"indicator\":\"calls\",\"kind\":\"anomaly\","
            "\"value\":0.9}");
    int counts[24 * 5 + 2];
    for (int h = 0; h < 24 * 5; h++)
        counts[h] = 4 + (h % 3 == 0);
    counts[24 * 5] = 60;
    counts[24 * 5 + 1] = 5;
    write_events(e, "theft", counts, 24 * 5 + 2, 1);
    indic_tick(e->eng, e->t0 + 24 * 5 * HOUR_NS);
    assert_string_equal(alert_state(e, "odd", NULL, NULL), "");
    indic_tick(e->eng, e->t0 + (24 * 5 + 1) * HOUR_NS);
    assert_string_equal(alert_state(e, "odd", NULL, NULL), "firing");
    env_free(e);
}

/* group street_category: one series per street and category, its group
 * "street/category"; an ingest feed cannot group by it. */
static void test_street_category_group(void **state)
{
    struct env *e = env_new();
    define(e, "{\"id\":\"pairs\",\"feed\":\"events\",\"measure\":"
              "\"count\",\"bucket\":\"1h\",\"group\":\"street_category\"}");
    static const int thefts[] = {2, 0, 1};
    static const int noise[] = {0, 3, 0};
    write_events(e, "theft", thefts, 3, 1);
    write_events(e, "noise", noise, 3, 100);
    indic_tick(e->eng, e->t0 + 3 * HOUR_NS);
    double v[4];
    assert_int_equal(series(e, "pairs", "S1/theft", v, 4), 3);
    assert_true(v[0] == 2 && v[1] == 0 && v[2] == 1);
    assert_int_equal(series(e, "pairs", "S1/noise", v, 4), 3);
    assert_true(v[1] == 3);
    char err[200];
    const char *bad = "{\"id\":\"y\",\"feed\":\"ingest\",\"measure\":"
                      "\"count\",\"group\":\"street_category\"}";
    assert_int_equal(indic_define(e->eng, bad, strlen(bad), err, sizeof(err)),
                     CB_EINVAL);
    env_free(e);
}

/* Whether rule id's only alert ever fired (fired_at set). */
static int alert_fired(struct env *e, const char *rule_id)
{
    struct sbuf out = SBUF_INIT;
    assert_int_equal(indic_alert_list_json(e->eng, NULL, 1000, &out), 0);
    json_t *a = json_loads(out.buf, 0, NULL);
    size_t i, n = 0;
    int fired = 0;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "rule")), rule_id))
            continue;
        n++;
        fired = json_is_string(json_object_get(x, "fired_at"));
    }
    assert_true(n <= 1);
    json_decref(a);
    sbuf_release(&out);
    return fired;
}

/* Several buckets close in one tick (a late tick): each is evaluated in
 * order at the time it became due, so a high bucket in the middle alerts
 * (and a for of one bucket, keep_firing_for and repeat see its time), not
 * only the newest. */
static void test_buckets_closed_together(void **state)
{
    struct env *e = env_new();
    define(e, calls);
    rule(e, "{\"id\":\"plain\",\"indicator\":\"calls\",\"kind\":"
            "\"threshold\",\"value\":2}");
    rule(e, "{\"id\":\"held\",\"indicator\":\"calls\",\"kind\":"
            "\"threshold\",\"value\":2,\"for\":\"1h\"}");
    rule(e, "{\"id\":\"sticky\",\"indicator\":\"calls\",\"kind\":"
            "\"threshold\",\"value\":2,\"keep_firing_for\":\"3h\"}");
    rule(e, "{\"id\":\"twice\",\"indicator\":\"calls\",\"kind\":"
            "\"threshold\",\"value\":2,\"repeat\":{\"n\":2,"
            "\"window\":\"2h\"}}");
    static const int counts[] = {1, 1, 5, 5, 0, 0, 1};
    write_events(e, "theft", counts, 7, 1);
    indic_tick(e->eng, e->t0 + HOUR_NS); /* hour 0: quiet */
    assert_string_equal(alert_state(e, "plain", NULL, NULL), "");
    /* hours 1..5 close together; 2 and 3 are high, 5 is quiet */
    indic_tick(e->eng, e->t0 + 6 * HOUR_NS);
    size_t open;
    assert_string_equal(alert_state(e, "plain", &open, NULL), "resolved");
    assert_int_equal(open, 0);
    assert_true(alert_fired(e, "plain"));
    assert_string_equal(alert_state(e, "held", NULL, NULL), "resolved");
    assert_true(alert_fired(e, "held")); /* pending at 3h, firing at 4h */
    /* fired when hour 3 became due (4h), last true then: 2 h < 3 h */
    assert_string_equal(alert_state(e, "sticky", &open, NULL), "firing");
    assert_int_equal(open, 1);
    assert_string_equal(alert_state(e, "twice", NULL, NULL), "resolved");
    assert_true(alert_fired(e, "twice"));
    indic_tick(e->eng, e->t0 + 7 * HOUR_NS); /* 3 h after hour 3's close */
    assert_string_equal(alert_state(e, "sticky", &open, NULL), "resolved");
    assert_int_equal(open, 0);
    env_free(e);
}

/* An anomaly in a middle bucket of several closed in one tick alerts. */
static void test_anomaly_in_middle_bucket(void **state)
{
    struct env *e = env_new();
    e->t0 -= 24 * HOUR_NS * 4; /* six days ago */
    define(e, calls);
    rule(e, "{\"id\":\"odd\",\"indicator\":\"calls\",\"kind\":\"anomaly\","
            "\"value\":0.9}");
    int counts[24 * 5 + 4];
    for (int h = 0; h < 24 * 5 + 4; h++)
        counts[h] = 4 + (h % 3 == 0);
    counts[24 * 5 + 1] = 60;
    write_events(e, "theft", counts, 24 * 5 + 4, 1);
    indic_tick(e->eng, e->t0 + (24 * 5 + 1) * HOUR_NS);
    assert_string_equal(alert_state(e, "odd", NULL, NULL), "");
    indic_tick(e->eng, e->t0 + (24 * 5 + 4) * HOUR_NS);
    assert_string_equal(alert_state(e, "odd", NULL, NULL), "resolved");
    assert_true(alert_fired(e, "odd"));
    env_free(e);
}

/* A declaration's own retention: events 38 days old count for an
 * indicator kept 40 days, not for one kept indicator_retention_days (35);
 * the store keeps its points past the engine's retention; a retention
 * out of 1d..400d is refused. */
static void test_retention_per_declaration(void **state)
{
    struct env *e = env_new();
    define(e, "{\"id\":\"long\",\"feed\":\"events\",\"measure\":"
              "\"count\",\"bucket\":\"1h\",\"retention\":\"40d\"}");
    define(e, "{\"id\":\"short\",\"feed\":\"events\",\"measure\":"
              "\"count\",\"bucket\":\"1h\"}");
    char err[300];
    const char *bad = "{\"id\":\"x\",\"feed\":\"events\",\"measure\":"
                      "\"count\",\"retention\":\"500d\"}";
    assert_int_equal(indic_define(e->eng, bad, strlen(bad), err, sizeof(err)),
                     CB_EINVAL);
    assert_non_null(strstr(err, "retention"));
    int64_t now_t0 = e->t0;
    e->t0 -= 36 * 24 * HOUR_NS; /* t0 is two days ago: 38 days back */
    static const int counts[] = {2, 1};
    write_events(e, "theft", counts, 2, 1);
    indic_tick(e->eng, time_now_ns());
    double v[4];
    series(e, "long", "district", v, 4);
    assert_true(v[0] == 2 && v[1] == 1);
    series(e, "short", "district", v, 4);
    assert_true(isnan(v[0]) && isnan(v[1]));
    e->t0 = now_t0;
    env_free(e);
}

static void test_default_set(void **state)
{
    json_t *a = json_loads(indic_default_set, 0, NULL);
    assert_non_null(a);
    assert_true(json_array_size(a) >= 20);
    size_t i;
    json_t *v;
    int feeds[6] = {0};
    json_array_foreach(a, i, v)
    {
        char *s = json_dumps(v, 0), err[200] = "";
        struct indic_def *d;
        if (indic_def_parse(s, strlen(s), &d, err, sizeof(err)))
            fail_msg("declaration %zu: %s", i, err);
        feeds[d->feed] = 1;
        indic_def_free(d);
        free(s);
    }
    for (int f = 0; f < 6; f++)
        assert_true(feeds[f]);
    json_decref(a);
}

/* A category that first appears in numbers is scored against zeros for
 * the buckets the indicator ran without it, not learned during probation:
 * its series starts at the indicator's first bucket, and the burst scores
 * high. */
static void test_new_group_from_zeros(void **state)
{
    struct env *e = env_new();
    define(e, "{\"id\":\"bytype\",\"feed\":\"events\",\"filter\":"
              "{\"source\":\"110\"},\"measure\":\"count\",\"bucket\":"
              "\"1h\",\"group\":\"category\"}");
    int steady[40];
    for (int h = 0; h < 40; h++)
        steady[h] = 1 + h % 2;
    write_events(e, "theft", steady, 40, 1);
    indic_tick(e->eng, e->t0 + 40 * HOUR_NS);
    rule(e, "{\"id\":\"odd\",\"indicator\":\"bytype\",\"kind\":"
            "\"anomaly\",\"value\":0.999}");
    int burst[41] = {0};
    burst[40] = 20;
    write_events(e, "crowd_control", burst, 41, 1000);
    indic_tick(e->eng, e->t0 + 41 * HOUR_NS);
    assert_string_equal(alert_state(e, "odd", NULL, NULL), "firing");
    double v[48];
    size_t n = series(e, "bytype", "crowd_control", v, 48);
    assert_int_equal(n, 41);
    for (int h = 0; h < 40; h++)
        assert_true(v[h] == 0);
    assert_true(v[40] == 20);
    struct sbuf out = SBUF_INIT;
    assert_int_equal(indic_series_json(e->eng, "bytype", "crowd_control",
                                       e->t0 + 40 * HOUR_NS, INT64_MAX, 10,
                                       &out),
                     0);
    json_t *o = json_loads(out.buf, 0, NULL);
    json_t *last = json_array_get(json_object_get(o, "points"), 0);
    assert_true(json_number_value(json_object_get(last, "score")) >= 0.999);
    json_decref(o);
    sbuf_release(&out);
    env_free(e);
}

/* The default rules parse, name default indicators, load at start, and a
 * stored rule with a default's id replaces it, also after a restart. */
static void test_default_rules(void **state)
{
    struct sbuf text = SBUF_INIT;
    indic_default_rules_json(&text);
    json_t *rules = json_loads(text.buf, 0, NULL);
    sbuf_release(&text);
    json_t *set = json_loads(indic_default_set, 0, NULL);
    assert_true(json_array_size(rules) >= 5);
    size_t i, k;
    json_t *v, *d;
    json_array_foreach(rules, i, v)
    {
        const char *ind = json_string_value(json_object_get(v, "indicator"));
        int found = 0;
        json_array_foreach(set, k, d) found |=
            !strcmp(ind, json_string_value(json_object_get(d, "id")));
        if (!found)
            fail_msg("default rule %zu: indicator '%s' is not a default", i,
                     ind);
    }
    g_default_rules = 1;
    struct env *e = env_new();
    struct sbuf out = SBUF_INIT;
    indic_rule_list_json(e->eng, &out);
    json_array_foreach(rules, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        assert_non_null(strstr(out.buf, id));
    }
    assert_null(strstr(out.buf, "\"threshold\""));
    rule(e, "{\"id\":\"calls_110_street_anomaly\",\"indicator\":"
            "\"calls_110_street\",\"kind\":\"threshold\",\"value\":50}");
    env_stop(e);
    env_start(e);
    sbuf_reset(&out);
    indic_rule_list_json(e->eng, &out);
    assert_non_null(strstr(out.buf, "\"threshold\""));
    sbuf_release(&out);
    env_free(e);
    g_default_rules = 0;
    json_decref(rules);
    json_decref(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_backfill_restart),
        cmocka_unit_test(test_threshold_for_keep_restart),
        cmocka_unit_test(test_repeat_nodata_silence),
        cmocka_unit_test(test_anomaly),
        cmocka_unit_test(test_buckets_closed_together),
        cmocka_unit_test(test_street_category_group),
        cmocka_unit_test(test_anomaly_in_middle_bucket),
        cmocka_unit_test(test_retention_per_declaration),
        cmocka_unit_test(test_default_set),
        cmocka_unit_test(test_default_rules),
        cmocka_unit_test(test_new_group_from_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
