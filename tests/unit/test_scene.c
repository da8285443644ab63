/*
 * test_scene.c - the scene engine, unit by unit: state size, the CONTRACT
 * suspects format, each confounder on a hand-made building, incremental
 * updates, summaries, the drill-down, feedback and its persistence, and
 * the elderly-alone rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <unistd.h>

#include "test_scene_gen.h"

#define DAY0 20400 /* local day of the first fed day */
#define DAYS 30
#define NORMALS 30

static struct scene_engine *new_engine(const char *learned_path)
{
    struct scene_config cfg;
    scene_config_defaults(&cfg);
    cfg.learned_path = learned_path;
    struct scene_engine *eng = NULL;
    assert_int_equal(scene_engine_new(&cfg, &eng), 0);
    return eng;
}

static void set_flat(struct scene_engine *eng, int32_t h, const char *bld,
                     int rooms, double area, int registered, int flags)
{
    char id[32];
    snprintf(id, sizeof(id), "H%07d", h);
    struct household hh = {.household_id = id,
                           .street = "陆家嘴街道",
                           .committee = "C1",
                           .building = bld,
                           .area_m2 = area,
                           .rooms = rooms,
                           .registered_occupants = registered,
                           .flags = flags};
    assert_int_equal(scene_engine_set_household(eng, h, &hh), 0);
}

/* Daily use with +-15% deterministic noise; gas < 0: no gas meter. */
static void feed(struct scene_engine *eng, int32_t h, double water, double elec,
                 double gas, int recipients)
{
    uint64_t s = gen_state(99, (uint64_t)h, 0);
    char rid[32];
    for (int d = 0; d < DAYS; d++) {
        int64_t day = DAY0 + d;
        scene_engine_add_usage(eng, h, METRIC_WATER, day,
                               water * gen_range(&s, 0.85, 1.15));
        scene_engine_add_usage(eng, h, METRIC_ELECTRICITY, day,
                               elec * gen_range(&s, 0.85, 1.15));
        if (gas >= 0)
            scene_engine_add_usage(eng, h, METRIC_GAS, day,
                                   gas * gen_range(&s, 0.85, 1.15));
        if (recipients > 0) {
            snprintf(rid, sizeof(rid), "p%d-%d", h, d % recipients);
            scene_engine_add_delivery(
                eng, h, (day * 86400 - 8 * 3600 + 43200) * 1000000000ll, rid);
        }
    }
}

static void finish(struct scene_engine *eng)
{
    scene_engine_set_as_of(eng, (DAY0 + DAYS) * 86400 - 8 * 3600);
    assert_int_equal(scene_engine_rescore(eng, 1), 0);
}

/* A building of 30 families of 3 in 2-room flats (legal limit 4). */
static void normal_building(struct scene_engine *eng, int32_t first,
                            const char *bld, double swing)
{
    for (int32_t h = first; h < first + NORMALS; h++) {
        set_flat(eng, h, bld, 2, 50, 3, 0);
        feed(eng, h, 0.39 * swing, 9.1 * swing, 0.6, 2);
    }
}

enum { GR = 100, GR_SPARSE, LARGE, BUSINESS, SHORT, LEAK, FAULT, VACANT };

static struct scene_engine *confounder_district(void)
{
    struct scene_engine *eng = new_engine(NULL);
    normal_building(eng, 0, "B1", 1.0);
    normal_building(eng, 40, "B2", 1.8); /* a building-wide swing */
    set_flat(eng, GR, "B1", 2, 50, 2, 0);
    feed(eng, GR, 1.56, 20, 0.4, 12);
    set_flat(eng, GR_SPARSE, "B1", 2, 50, 1, 0); /* no gas, a gap */
    feed(eng, GR_SPARSE, 1.3, 17, -1, 10);
    set_flat(eng, LARGE, "B1", 2, 50, 7, 0);
    feed(eng, LARGE, 0.9, 17, 1.4, 3);
    set_flat(eng, BUSINESS, "B1", 2, 50, 2, 0);
    feed(eng, BUSINESS, 1.2, 20, 4.0, 1);
    set_flat(eng, SHORT, "B1", 2, 50, 0, 0);
    feed(eng, SHORT, 0.3, 8, 0.1, 20);
    set_flat(eng, LEAK, "B1", 2, 50, 3, 0);
    feed(eng, LEAK, 1.6, 9.1, 0.6, 2);
    set_flat(eng, FAULT, "B1", 2, 50, 3, 0);
    feed(eng, FAULT, 0.39, 9.1, 0.6, 2);
    scene_engine_add_usage(eng, FAULT, METRIC_WATER, DAY0 + 20, 40.0);
    scene_engine_add_usage(eng, FAULT, METRIC_WATER, DAY0 + 25, 35.0);
    scene_engine_add_usage(eng, FAULT, METRIC_WATER, DAY0 + 26, -120.0);
    set_flat(eng, VACANT, "B1", 2, 50, 2, HOUSEHOLD_VACANT);
    feed(eng, VACANT, 0.004, 0.7, 0, 0);
    finish(eng);
    return eng;
}

static json_t *suspects(struct scene_engine *eng, const char *street,
                        const char *committee)
{
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(
        scene_group_rental_suspects_json(eng, 100, street, committee, &sb), 0);
    json_error_t err;
    json_t *root = json_loads(sb.buf, 0, &err);
    assert_non_null(root);
    sbuf_release(&sb);
    return root;
}

static int listed(json_t *root, const char *id)
{
    json_t *list = json_object_get(root, "suspects"), *s;
    size_t i;
    json_array_foreach(list, i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "household_id")), id) ==
            0)
            return 1;
    }
    return 0;
}

static void test_state_budget(void **state)
{
    (void)state;
    struct gen_district d;
    gen_district_init(&d, 20000, 30, 5);
    struct scene_engine *eng = new_engine(NULL);
    gen_register(&d, eng);
    gen_feed_all(&d, 5, eng);
    scene_engine_rescore(eng, 1);
    size_t identity, n;
    size_t bytes = scene_engine_state_bytes(eng, &identity, &n);
    printf("# state %.1f bytes/household, identity %.1f\n", (double)bytes / n,
           (double)identity / n);
    assert_int_equal(n, 20000);
    assert_true(bytes <= 300 * n);
    scene_engine_free(eng);
    gen_district_release(&d);
}

static void test_contract_format(void **state)
{
    (void)state;
    struct scene_engine *eng = confounder_district();
    json_t *root = suspects(eng, NULL, NULL);
    assert_true(json_is_string(json_object_get(root, "as_of")));
    char as_of[32];
    time_format_iso((DAY0 + DAYS) * 86400 - 8 * 3600, 480, as_of);
    assert_string_equal(json_string_value(json_object_get(root, "as_of")),
                        as_of);
    json_t *list = json_object_get(root, "suspects"), *s;
    assert_true(json_array_size(list) >= 1);
    double prev = 2;
    size_t i;
    json_array_foreach(list, i, s)
    {
        double score = json_number_value(json_object_get(s, "score"));
        assert_true(score >= 0 && score <= 1 && score <= prev);
        prev = score;
        assert_true(json_is_string(json_object_get(s, "household_id")));
        assert_true(json_is_number(json_object_get(s, "estimated_occupants")));
        assert_true(json_is_integer(json_object_get(s, "legal_limit")));
        assert_true(
            json_is_integer(json_object_get(s, "registered_occupants")));
        json_t *ev = json_object_get(s, "evidence"), *e;
        size_t k;
        int water = 0, recipients = 0;
        json_array_foreach(ev, k, e)
        {
            const char *sig = json_string_value(json_object_get(e, "signal"));
            assert_non_null(sig);
            assert_true(json_is_number(json_object_get(e, "value")));
            if (strcmp(sig, "water") == 0) {
                water = 1;
                assert_string_equal(
                    json_string_value(json_object_get(e, "unit")), "m3/day");
                assert_true(json_is_number(json_object_get(e, "peer_median")));
                assert_true(json_is_number(json_object_get(e, "ratio")));
            }
            if (strcmp(sig, "distinct_recipients_30d") == 0) {
                recipients = 1;
                assert_true(json_is_number(json_object_get(e, "peer_median")));
            }
        }
        assert_true(water && recipients);
    }
    json_t *first = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "legal_limit")),
                     4);
    json_decref(root);
    scene_engine_free(eng);
}

static void test_confounders_rejected(void **state)
{
    (void)state;
    struct scene_engine *eng = confounder_district();
    json_t *root = suspects(eng, NULL, NULL);
    assert_true(listed(root, "H0000100"));
    assert_true(listed(root, "H0000101")); /* no gas, a week missing */
    static const char *const not_listed[] = {
        "H0000102", "H0000103", "H0000104", "H0000105", "H0000106", "H0000107"};
    for (size_t i = 0; i < 6; i++)
        assert_false(listed(root, not_listed[i]));
    for (int h = 0; h < 70; h++) { /* neither families nor the swing */
        char id[32];
        snprintf(id, sizeof(id), "H%07d", h);
        assert_false(listed(root, id));
    }
    json_t *gr = json_array_get(json_object_get(root, "suspects"), 0);
    assert_string_equal(json_string_value(json_object_get(gr, "household_id")),
                        "H0000100");
    double est = json_number_value(json_object_get(gr, "estimated_occupants"));
    assert_true(est >= 8 && est <= 16);
    json_decref(root);
    scene_engine_free(eng);
}

/* The drill-down says which confounder explains a flat. */
static void assert_explains(struct scene_engine *eng, const char *id,
                            const char *confounder)
{
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(scene_group_rental_evidence_json(eng, id, &sb), 0);
    json_t *root = json_loads(sb.buf, 0, NULL);
    assert_non_null(root);
    json_t *checks = json_object_get(root, "checks"), *c;
    size_t i;
    int found = 0;
    json_array_foreach(checks, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "confounder")),
                   confounder) == 0)
            found = json_is_true(json_object_get(c, "explains"));
    }
    if (!found)
        printf("# %s\n", sb.buf);
    assert_true(found);
    json_t *series = json_object_get(root, "series");
    assert_int_equal(json_array_size(json_object_get(series, "days")), 28);
    json_t *water = json_object_get(series, "water");
    assert_int_equal(json_array_size(json_object_get(water, "peer_median")),
                     28);
    json_decref(root);
    sbuf_release(&sb);
}

static void test_confounder_reasons(void **state)
{
    (void)state;
    struct scene_engine *eng = confounder_district();
    assert_explains(eng, "H0000102", "large_family");
    assert_explains(eng, "H0000103", "business");
    assert_explains(eng, "H0000105", "leak_or_meter");
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(scene_group_rental_evidence_json(eng, "nope", &sb),
                     CB_ENOTFOUND);
    sbuf_release(&sb);
    scene_engine_free(eng);
}

static void test_filters_and_summary(void **state)
{
    (void)state;
    struct scene_engine *eng = confounder_district();
    json_t *root = suspects(eng, "陆家嘴街道", "C1");
    assert_true(listed(root, "H0000100"));
    json_decref(root);
    root = suspects(eng, "other street", NULL);
    assert_int_equal(json_array_size(json_object_get(root, "suspects")), 0);
    json_decref(root);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(scene_group_rental_summary_json(eng, "street", NULL, &sb),
                     0);
    json_t *sum = json_loads(sb.buf, 0, NULL);
    json_t *g = json_array_get(json_object_get(sum, "groups"), 0);
    assert_int_equal(json_integer_value(json_object_get(g, "households")), 68);
    assert_int_equal(json_integer_value(json_object_get(g, "suspects")), 2);
    json_decref(sum);
    sbuf_reset(&sb);
    assert_int_equal(
        scene_group_rental_summary_json(eng, "committee", "陆家嘴街道", &sb),
        0);
    assert_non_null(strstr(sb.buf, "\"committee\":\"C1\""));
    assert_int_equal(scene_group_rental_summary_json(eng, "flat", NULL, &sb),
                     CB_EINVAL);
    sbuf_release(&sb);
    scene_engine_free(eng);
}

/* New deliveries reach the published list on the next (dirty) rescore. */
static void test_incremental_update(void **state)
{
    (void)state;
    struct scene_engine *eng = new_engine(NULL);
    normal_building(eng, 0, "B1", 1.0);
    set_flat(eng, GR, "B1", 2, 50, 2, 0);
    feed(eng, GR, 0.75, 12, 0.5, 0); /* 6 people's worth, no orders */
    finish(eng);
    json_t *root = suspects(eng, NULL, NULL);
    int before = listed(root, "H0000100");
    json_decref(root);
    char rid[32];
    for (int k = 0; k < 14; k++) {
        snprintf(rid, sizeof(rid), "tenant-%d", k);
        scene_engine_add_delivery(
            eng, GR, ((DAY0 + DAYS - 2) * 86400ll) * 1000000000ll, rid);
    }
    assert_int_equal(scene_engine_rescore(eng, 0), 0);
    root = suspects(eng, NULL, NULL);
    int after = listed(root, "H0000100");
    json_decref(root);
    assert_false(before);
    assert_true(after);
    scene_engine_free(eng);
}

static void test_feedback_and_persistence(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_scene_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/learned", dir);
    struct scene_engine *eng = confounder_district();
    scene_engine_free(eng);
    eng = new_engine(path);
    normal_building(eng, 0, "B1", 1.0);
    set_flat(eng, GR, "B1", 2, 50, 2, 0);
    feed(eng, GR, 1.56, 20, 0.4, 12);
    finish(eng);
    for (int k = 0; k < 12; k++) { /* one flat: the latest visit counts */
        char visit_id[16];
        snprintf(visit_id, sizeof(visit_id), "V%d", k);
        struct scene_visit_report v = {
            "H0000100", k % 4 == 3 ? SCENE_NOT_FOUND : SCENE_CONFIRMED, 11,
            visit_id};
        int repeat;
        assert_int_equal(scene_group_rental_visit(eng, &v, &repeat), 0);
        assert_false(repeat);
        assert_int_equal(scene_group_rental_visit(eng, &v, &repeat), 0);
        assert_true(repeat); /* the same visit again: nothing changes */
    }
    assert_int_equal(
        scene_group_rental_feedback(eng, "H0000001", SCENE_NO_ACCESS, -1), 0);
    assert_int_equal(
        scene_group_rental_feedback(eng, "nobody", SCENE_CONFIRMED, 3),
        CB_ENOTFOUND);
    struct sbuf a = SBUF_INIT, b = SBUF_INIT;
    scene_group_rental_precision_json(eng, &a);
    assert_non_null(strstr(a.buf, "\"visits\":2,\"confirmed\":0,"
                                  "\"not_found\":1,\"no_access\":1,"
                                  "\"precision\":0.0000"));
    scene_engine_free(eng);
    eng = new_engine(path); /* a restart keeps what was learned */
    scene_group_rental_precision_json(eng, &b);
    assert_string_equal(a.buf, b.buf);
    scene_engine_free(eng);
    FILE *f = fopen(path, "w"); /* a damaged file is ignored */
    fputs("citybrain-scene-learn 1\nweights 1 2\n", f);
    fclose(f);
    eng = new_engine(path);
    assert_int_equal(scene_learn_load(eng, path), CB_EPARSE);
    scene_engine_free(eng);
    unlink(path);
    rmdir(dir);
    sbuf_release(&a);
    sbuf_release(&b);
}

static void test_feedback_json(void **state)
{
    (void)state;
    struct scene_engine *eng = confounder_district();
    static const char bad_headcount[] =
        "{\"household_id\":\"H0000100\",\"outcome\":\"confirmed\","
        "\"headcount\":-2}";
    static const char *const bad[] = {
        "[]", "{\"household_id\":\"H0000100\"}",
        "{\"household_id\":\"H0000100\",\"outcome\":\"maybe\"}", bad_headcount,
        "not json"};
    struct sbuf sb = SBUF_INIT;
    for (size_t i = 0; i < 5; i++) {
        sbuf_reset(&sb);
        assert_int_equal(
            scene_group_rental_feedback_json(eng, bad[i], strlen(bad[i]), &sb),
            CB_EINVAL);
        assert_non_null(strstr(sb.buf, "\"error\""));
    }
    const char *good = "{\"household_id\":\"H0000100\",\"outcome\":"
                       "\"confirmed\",\"headcount\":11}";
    sbuf_reset(&sb);
    assert_int_equal(
        scene_group_rental_feedback_json(eng, good, strlen(good), &sb), 0);
    assert_non_null(strstr(sb.buf, "\"ok\":true"));
    assert_non_null(strstr(sb.buf, "\"confirmed\":1"));
    sbuf_release(&sb);
    scene_engine_free(eng);
}

/* ---- elderly living alone ---- */

/* Hourly water readings (index) of flat h from day 0 to `hours`; use per
 * hour comes from rate(hour). */
static void hourly_water(struct scene_engine *eng, int32_t h, int hours,
                         double (*rate)(int hour))
{
    double index = 100.0, day_use = 0;
    int64_t t0 = DAY0 * 86400ll - 8 * 3600;
    for (int k = 0; k <= hours; k++) {
        double u = k ? rate(k) : 0;
        index += u;
        day_use += u;
        struct reading r = {.household = h,
                            .metric = METRIC_WATER,
                            .field = READING_INDEX,
                            .ts_ns = (t0 + k * 3600ll) * 1000000000ll,
                            .value = index};
        scene_engine_add_reading(eng, &r);
        if (k % 24 == 0 && k) {
            scene_engine_add_usage(eng, h, METRIC_WATER, DAY0 + k / 24 - 1,
                                   day_use);
            day_use = 0;
        }
    }
}

#define STOP_HOUR (20 * 24 + 9) /* 09:00 on day 20 */

static double usual(int hour)
{
    int hod = hour % 24;
    return hod >= 7 && hod <= 22 ? 0.008 : 0.0; /* 0.128 m3 a day */
}

static double abrupt(int hour)
{
    return hour <= STOP_HOUR ? usual(hour) : 0.0;
}

static double gradual(int hour)
{
    double f = hour < STOP_HOUR - 96 ? 1.0 : 0.4;
    return hour <= STOP_HOUR ? f * usual(hour) : 0.0;
}

static double trickle(int hour)
{
    return hour <= STOP_HOUR ? usual(hour) : 0.0012;
}

static void test_elderly_alone(void **state)
{
    (void)state;
    struct scene_engine *eng = new_engine(NULL);
    set_flat(eng, 1, "B1", 1, 30, 1, HOUSEHOLD_ELDERLY_ALONE);
    set_flat(eng, 2, "B1", 1, 30, 1, HOUSEHOLD_ELDERLY_ALONE);
    set_flat(eng, 3, "B1", 1, 30, 1, HOUSEHOLD_ELDERLY_ALONE);
    set_flat(eng, 4, "B1", 1, 30, 1, HOUSEHOLD_ELDERLY_ALONE);
    hourly_water(eng, 1, STOP_HOUR + 10, abrupt); /* 10 h: not yet */
    struct sbuf sb = SBUF_INIT;
    scene_elderly_alerts_json(eng, NULL, NULL, &sb);
    assert_non_null(strstr(sb.buf, "\"alerts\":[]"));
    hourly_water(eng, 1, STOP_HOUR + 14, abrupt);
    hourly_water(eng, 2, STOP_HOUR + 14, gradual);
    hourly_water(eng, 3, STOP_HOUR + 14, trickle);
    hourly_water(eng, 4, STOP_HOUR - 20, usual); /* its meter went silent */
    sbuf_reset(&sb);
    scene_elderly_alerts_json(eng, NULL, NULL, &sb);
    json_t *root = json_loads(sb.buf, 0, NULL);
    assert_non_null(root);
    json_t *alerts = json_object_get(root, "alerts");
    json_t *suppressed = json_object_get(root, "suppressed");
    json_t *silent = json_object_get(root, "silent");
    assert_int_equal(json_array_size(alerts), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(alerts, 0), "household_id")),
                        "H0000001");
    double hours =
        json_number_value(json_object_get(json_array_get(alerts, 0), "hours"));
    assert_true(hours >= 12 && hours <= 15.5);
    assert_int_equal(json_array_size(suppressed), 1);
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_array_get(suppressed, 0), "reason")),
                           "gradual"));
    assert_int_equal(json_array_size(silent), 1);
    assert_null(strstr(sb.buf, "H0000003")); /* a trickle is use */
    json_decref(root);
    sbuf_release(&sb);
    scene_engine_free(eng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_budget),
        cmocka_unit_test(test_contract_format),
        cmocka_unit_test(test_confounders_rejected),
        cmocka_unit_test(test_confounder_reasons),
        cmocka_unit_test(test_filters_and_summary),
        cmocka_unit_test(test_incremental_update),
        cmocka_unit_test(test_feedback_and_persistence),
        cmocka_unit_test(test_feedback_json),
        cmocka_unit_test(test_elderly_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
