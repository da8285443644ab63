/*
 * test_scene_grid.c - the group-rental scene on a grid of district
 * variants made by `citybrain simulate` (meter grains, tenant
 * populations, rentals near the limit, confounders, a missing gas feed),
 * and the robustness of its learning.
 *
 * Each variant's parameter ranges, and where they come from, are in
 * docs/SCENES.md ("The grid").  Here the districts are small (3,000
 * households x 28 days, about 40 group rentals each); every cell must meet
 * issue 13's targets (meets_targets), and the figures are printed as a
 * table; bench/scene_grid runs the same grid at full size for the table
 * in docs/SCENES.md.
 * SCENE_GRID_HOUSEHOLDS, SCENE_GRID_DAYS and SCENE_GRID_SEED change the
 * districts, SCENE_GRID_ONLY=NAME runs the variants whose name holds NAME,
 * SCENE_GRID_DEBUG lists the misses, SCENE_GRID_DUMP=1 prints every listed
 * flat ("@ score rental over-estimate low high allowed shown registered
 * true-excess type id checks"; bench/scene_grid_dump.mjs reads it), =2
 * also every household's truth ("$ id type excess").
 *
 * Every suspect's JSON on every variant is scanned for stand-in values
 * (-1, NaN, "0.0x"), and on the missing-gas variant gas must be named in
 * `unusable` with its reason.  Skipped when build/citybrain is missing.
 */
#include "test_scene_sim.h"

struct variant {
    const char *name, *args;
};

/* Ranges: docs/SCENES.md, "The grid". */
static const struct variant grid[] = {
    {"all-daily", "--electricity-grain 1d --water-grain 1d"},
    {"all-hourly", "--electricity-grain 1h --water-grain 1h"},
    {"mixed", "--electricity-grain 15m --water-grain 1d --gas-grain 1mo"},
    {"frugal tenants",
     "--water-grain 1d --tenant-water 0.7 --tenant-power 0.75"},
    {"few orders",
     "--water-grain 1d --tenant-order-share 0.5 --tenant-orders 0.6"},
    {"many marginal rentals", "--water-grain 1d --rental-excess 1-4"},
    {"many confounders", "--water-grain 1d --confounders 3"},
    {"missing gas", "--water-grain 1d --gas-grain none"},
};
#define N_VARIANTS (sizeof(grid) / sizeof(grid[0]))

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static char *make_variant(const struct variant *v, const char *seed)
{
    char args[512];
    snprintf(args, sizeof(args), "--households %s --days %s --seed %s %s",
             env_or("SCENE_GRID_HOUSEHOLDS", "3000"),
             env_or("SCENE_GRID_DAYS", "28"), seed, v->args);
    return sim_make(args);
}

/* The suspects list, every score, as JSON text (to free). */
static char *all_suspects(struct scene_engine *eng)
{
    struct sbuf sb = SBUF_INIT;
    struct scene_suspect_query q = {10000, 0.0, NULL, NULL, SCENE_VISIT_ANY};
    assert_int_equal(scene_group_rental_suspects_query_json(eng, &q, &sb), 0);
    return sb.buf;
}

/* Stand-ins for a missing value anywhere in the suspects' JSON (the list
 * has no dates, and no legitimately negative number). */
static size_t count_sentinels(const char *json)
{
    static const char *const bad[] = {":-",  " -1", "(-1", "nan",
                                      "NaN", "inf", "0.0x"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        for (const char *p = json; (p = strstr(p, bad[i])); p++) {
            if (n < 3)
                printf("# stand-in '%s' at: %.80s\n", bad[i],
                       p > json + 40 ? p - 40 : json);
            n++;
        }
    return n;
}

/* Every listed suspect names gas among `unusable`, with a reason. */
static void assert_gas_unusable(const char *json)
{
    const char *p = strstr(json, "\"suspects\":[");
    assert_non_null(p);
    size_t suspects = 0, named = 0;
    for (p = strstr(p, "{\"household_id\""); p;
         p = strstr(p + 1, "{\"household_id\"")) {
        const char *next = strstr(p + 1, "{\"household_id\"");
        const char *u = strstr(p, "\"unusable\":[");
        suspects++;
        if (u && (!next || u < next) &&
            strncmp(u, "\"unusable\":[{\"signal\":\"gas\",\"reason\":\"", 38) ==
                0)
            named++;
    }
    printf("# missing gas: %zu of %zu suspects name gas as unusable\n", named,
           suspects);
    assert_true(suspects > 0);
    assert_int_equal(named, suspects);
}

/* Predicted against observed by score decile, over every listed flat. */
struct calibration_table {
    size_t n[10], rentals[10];
    double predicted[10];
};

static void calibration_add(struct calibration_table *c, struct harness *hs,
                            const char *json)
{
    for (const char *p = strstr(json, "{\"household_id\":\""); p;
         p = strstr(p + 1, "{\"household_id\":\"")) {
        char id[32];
        double score;
        if (sscanf(p, "{\"household_id\":\"%31[^\"]\",\"score\":%lf", id,
                   &score) != 2)
            continue;
        int32_t h = scene_engine_household(hs->eng, id);
        int d = score >= 1 ? 9 : (int)(score * 10);
        c->n[d]++;
        c->predicted[d] += score;
        c->rentals[d] += h >= 0 && is_rental(hs, h);
        if (getenv("SCENE_GRID_DUMP")) {
            double est = 0, lo = 0, hi = 0, allowed = 0, occ = 0;
            int reg = 0;
            const char *o = strstr(p, "\"people_over_limit\":{");
            const char *e = strstr(p, "\"estimated_occupants\":");
            const char *r = strstr(p, "\"registered_occupants\":");
            if (o)
                sscanf(o,
                       "\"people_over_limit\":{\"estimate\":%lf,\"low\":%lf,"
                       "\"high\":%lf,\"allowed\":%lf",
                       &est, &lo, &hi, &allowed);
            if (e)
                sscanf(e, "\"estimated_occupants\":%lf", &occ);
            if (r)
                sscanf(r, "\"registered_occupants\":%d", &reg);
            const char *next = strstr(p + 1, "{\"household_id\":\"");
            char fired[128] = "-";
            size_t nf = 0;
            for (const char *cf = strstr(p, "\"confounder\":\"");
                 cf && (!next || cf < next) && nf + 24 < sizeof(fired);
                 cf = strstr(cf + 1, "\"confounder\":\"")) {
                char name[24];
                const char *ex = strstr(cf, "\"explains\":");
                if (sscanf(cf, "\"confounder\":\"%23[^\"]", name) == 1 && ex &&
                    strncmp(ex, "\"explains\":true", 15) == 0)
                    nf += (size_t)snprintf(fired + nf, sizeof(fired) - nf,
                                           "%s%s", nf ? "," : "", name);
            }
            if (!nf)
                strcpy(fired, "-");
            printf("@ %.6f %d %.1f %.1f %.1f %.0f %.1f %d %d %s %d %s\n", score,
                   h >= 0 && is_rental(hs, h), est, lo, hi, allowed, occ, reg,
                   h >= 0 ? hs->over[h] : 0,
                   h >= 0 && hs->type[h] ? hs->type[h] : "?", h, fired);
        }
    }
}

/* Prints the table; returns the deciles of at least 30 flats whose mean
 * score and observed share differ by more than 0.1. */
static int calibration_print(const struct calibration_table *c)
{
    int off = 0;
    printf("| score | flats | mean score | share that are group rentals |\n"
           "|---|---|---|---|\n");
    for (int d = 0; d < 10; d++)
        if (c->n[d])
            printf("| %.1f-%.1f | %zu | %.3f | %.3f |\n", d / 10.0,
                   (d + 1) / 10.0, c->n[d], c->predicted[d] / c->n[d],
                   (double)c->rentals[d] / c->n[d]);
    for (int d = 0; d < 10; d++)
        off += c->n[d] >= 30 && fabs(c->predicted[d] / c->n[d] -
                                     (double)c->rentals[d] / c->n[d]) > 0.1;
    return off;
}

static void print_row(const char *name, const struct grid_figures *f)
{
    printf("| %s | %zu | %.2f | %.2f | %.2f | %.2f (%zu) | %.2f (%zu) | %.2f "
           "(%zu) |\n",
           name, f->g, f->precision, f->precision_g, f->recall, f->recall12,
           f->g12, f->recall3, f->g3, f->recall4, f->g4);
}

/* Issue 13's targets for one cell: precision@100 >= 0.90, recall@1.5G >=
 * 0.70 over the rentals 3+ over the limit and >= 0.85 over those 4+ over
 * (rentals 1-2 over are reported, not targeted).  Returns 1 if met. */
static int meets_targets(const struct grid_figures *f)
{
    return f->precision >= 0.90 && (f->g3 == 0 || f->recall3 >= 0.70) &&
           (f->g4 == 0 || f->recall4 >= 0.85);
}

/* The non-rentals ranked within the first min(100, G), and the rentals
 * missed from the first 1.5 G, with their records (SCENE_GRID_DEBUG). */
static void print_misses(struct harness *hs, const struct grid_figures *f)
{
    size_t k = f->g * 3 / 2, top_n = f->g < 100 ? f->g : 100;
    int32_t *top = calloc(hs->n, sizeof(int32_t));
    size_t m = scene_group_rental_top(hs->eng, hs->n, top);
    uint8_t *in = calloc(hs->n, 1);
    for (size_t i = 0; i < m; i++) {
        if (i < k)
            in[top[i]] = 1;
        if (i < top_n && !is_rental(hs, top[i])) {
            printf("#   false %zu: %s %s\n", i, hs->type[top[i]],
                   scene_engine_household_id(hs->eng, top[i]));
            struct sbuf ev = SBUF_INIT;
            scene_group_rental_evidence_json(
                hs->eng, scene_engine_household_id(hs->eng, top[i]), &ev);
            const char *b = strstr(ev.buf, "\"score\":");
            const char *e = b ? strstr(b, ",\"series\"") : NULL;
            if (b && e && getenv("SCENE_GRID_DEBUG")[0] == '2')
                printf("#     %.*s\n", (int)(e - b), b);
            sbuf_release(&ev);
        }
    }
    for (size_t h = 0; h < hs->n; h++) {
        if (!is_rental(hs, (int32_t)h) || in[h])
            continue;
        size_t rank = m;
        for (size_t i = 0; i < m; i++)
            if (top[i] == (int32_t)h)
                rank = i;
        printf("#   missed: %s over %d rank %zu\n",
               scene_engine_household_id(hs->eng, (int32_t)h), hs->over[h],
               rank);
    }
    free(in);
    free(top);
}

static void test_grid(void **state)
{
    (void)state;
    if (access("build/citybrain", X_OK) != 0)
        skip();
    printf("| variant | G | precision@100 | precision@min(100,G) | "
           "recall@1.5G | recall 1-2 over (n) | 3+ over (n) | 4+ over (n) "
           "|\n|---|---|---|---|---|---|---|---|\n");
    int missed = 0;
    struct calibration_table cal = {0};
    const char *only = getenv("SCENE_GRID_ONLY");
    for (size_t v = 0; v < N_VARIANTS; v++) {
        if (only && !strstr(grid[v].name, only))
            continue;
        char *dir = make_variant(&grid[v], env_or("SCENE_GRID_SEED", "13"));
        struct harness hs;
        harness_load(&hs, dir, NULL);
        struct grid_figures f;
        grid_measure(&hs, &f);
        if (getenv("SCENE_GRID_DUMP") && getenv("SCENE_GRID_DUMP")[0] == '2')
            for (size_t h = 0; h < hs.n; h++)
                printf("$ %zu %s %d\n", h, hs.type[h] ? hs.type[h] : "?",
                       hs.over[h]);
        print_row(grid[v].name, &f);
        if (getenv("SCENE_GRID_DEBUG"))
            print_misses(&hs, &f);
        struct sbuf model = SBUF_INIT;
        scene_group_rental_precision_json(hs.eng, &model);
        const char *os = strstr(model.buf, "\"order_share\":");
        assert_non_null(os);
        double share = atof(os + strlen("\"order_share\":"));
        printf("# %s: ordering share %.3f\n", grid[v].name, share);
        /* half the tenants ordering at 0.6 of the rate: most rentals'
         * recipients stay under their consumption estimate */
        if (strstr(grid[v].args, "--tenant-order-share"))
            assert_true(share < 0.6);
        else
            assert_true(share >= 0.6);
        sbuf_release(&model);
        char *json = all_suspects(hs.eng);
        calibration_add(&cal, &hs, json);
        assert_int_equal(count_sentinels(json), 0);
        if (strstr(grid[v].args, "--gas-grain none"))
            assert_gas_unusable(json);
        free(json);
        assert_true(f.g >= 15);
        if (!meets_targets(&f)) {
            printf("# %s misses a target\n", grid[v].name);
            missed++;
        }
        harness_release(&hs);
        sim_remove(dir);
    }
    assert_int_equal(calibration_print(&cal), 0);
    assert_int_equal(missed, 0);
}

/* ---- learning ---- */

/* Reports the truth of the `n` best-ranked flats not visited yet
 * (visited[] marks them); `lie` of the first rentals among them are
 * reported not_found.  Returns the rentals reported not_found. */
static size_t visit_top(struct harness *hs, uint8_t *visited, size_t n,
                        size_t lie, unsigned *visit_no)
{
    size_t k = n + 4000, got = 0, lied = 0;
    int32_t *top = calloc(k, sizeof(*top));
    size_t m = scene_group_rental_top(hs->eng, k, top);
    for (size_t i = 0; i < m && got < n; i++) {
        if (visited[top[i]])
            continue;
        visited[top[i]] = 1;
        got++;
        int rental = is_rental(hs, top[i]);
        int outcome = rental ? SCENE_CONFIRMED : SCENE_NOT_FOUND;
        if (rental && lied < lie) {
            outcome = SCENE_NOT_FOUND;
            lied++;
        }
        char visit_id[32];
        snprintf(visit_id, sizeof(visit_id), "V-%u", ++*visit_no);
        struct scene_visit_report r = {
            scene_engine_household_id(hs->eng, top[i]), outcome,
            outcome == SCENE_CONFIRMED ? hs->occupants[top[i]] : -1, visit_id};
        int repeat;
        assert_int_equal(scene_group_rental_visit(hs->eng, &r, &repeat), 0);
        assert_false(repeat);
    }
    free(top);
    assert_true(got > 0);
    return lied;
}

/* The 5 top-ranked true rentals reported not_found among 50 outcomes:
 * recall@1.5G moves by at most 0.05, no weight flips sign, a repeated
 * report is idempotent and the visited flats are marked. */
static void test_learning_adversarial(void **state)
{
    (void)state;
    if (access("build/citybrain", X_OK) != 0)
        skip();
    char *dir = make_variant(&grid[0], "21");
    struct harness hs;
    harness_load(&hs, dir, NULL);
    struct grid_figures before, after;
    grid_measure(&hs, &before);
    struct sbuf w0 = SBUF_INIT, w1 = SBUF_INIT;
    scene_group_rental_precision_json(hs.eng, &w0);
    uint8_t *visited = calloc(hs.n, 1);
    unsigned visit_no = 0;
    assert_int_equal(visit_top(&hs, visited, 50, 5, &visit_no), 5);
    scene_engine_rescore(hs.eng, 0);
    grid_measure(&hs, &after);
    scene_group_rental_precision_json(hs.eng, &w1);
    printf("# adversarial: recall@1.5G %.3f -> %.3f\n# before %s\n# after "
           "%s\n",
           before.recall, after.recall, w0.buf, w1.buf);
    assert_true(fabs(after.recall - before.recall) <= 0.05);
    for (size_t i = 1; i < scene_group_rental_n_weights(); i++) {
        char key[64];
        snprintf(key, sizeof(key),
                 "\"%s\":", scene_group_rental_weight_name(i));
        double a = atof(strstr(w0.buf, key) + strlen(key));
        double b = atof(strstr(w1.buf, key) + strlen(key));
        assert_true(a * b >= 0);
    }
    assert_non_null(strstr(w1.buf, "\"visits\":50,"));
    /* the same report again changes nothing; a later visit supersedes */
    struct sbuf again = SBUF_INIT;
    const char *first = scene_engine_household_id(hs.eng, 0);
    char body[200];
    snprintf(body, sizeof(body),
             "{\"household_id\":\"%s\",\"outcome\":\"no_access\","
             "\"visit_id\":\"V-1\"}",
             first);
    assert_int_equal(
        scene_group_rental_feedback_json(hs.eng, body, strlen(body), &again),
        0);
    assert_non_null(strstr(again.buf, "\"repeat\":true"));
    assert_non_null(strstr(again.buf, "\"visits\":50,"));
    char *json = all_suspects(hs.eng);
    size_t marked = 0;
    for (const char *p = json; (p = strstr(p, "\"visited\":\"")); p++)
        marked++;
    printf("# %zu listed flats carry their visit mark\n", marked);
    assert_true(marked >= 45);
    free(json);
    struct sbuf nf = SBUF_INIT;
    struct scene_suspect_query q = {10000, 0.0, NULL, NULL,
                                    SCENE_VISIT_NOT_FOUND};
    assert_int_equal(scene_group_rental_suspects_query_json(hs.eng, &q, &nf),
                     0);
    assert_null(strstr(nf.buf, "\"visited\":\"confirmed\""));
    assert_non_null(strstr(nf.buf, "\"visited\":\"not_found\""));
    sbuf_release(&nf);
    sbuf_release(&again);
    sbuf_release(&w0);
    sbuf_release(&w1);
    free(visited);
    harness_release(&hs);
    sim_remove(dir);
}

/* On a variant the default model handles badly (frugal tenants who seldom
 * order, daily meters: most of its rentals read under the candidate gate),
 * 200 correct outcomes in rounds of 20, with the headcounts of confirmed
 * flats, raise recall@1.5G by at least 0.15 (the learned occupancy scale
 * moves the gate) without lowering precision@100. */
static void test_learning_improves(void **state)
{
    (void)state;
    if (access("build/citybrain", X_OK) != 0)
        skip();
    static const struct variant hard = {
        "hard", "--electricity-grain 1d --water-grain 1d --tenant-water 0.6 "
                "--tenant-power 0.7 --tenant-order-share 0.4 "
                "--tenant-orders 0.5"};
    char args[512];
    snprintf(args, sizeof(args), "--households %s --days 28 --seed 22 %s",
             env_or("SCENE_GRID_LEARN_HOUSEHOLDS", "10000"), hard.args);
    char *dir = sim_make(args);
    struct harness hs;
    harness_load(&hs, dir, NULL);
    struct grid_figures before, after;
    grid_measure(&hs, &before);
    uint8_t *visited = calloc(hs.n, 1);
    unsigned visit_no = 0;
    for (int round = 0; round < 10; round++) {
        visit_top(&hs, visited, 20, 0, &visit_no);
        scene_engine_rescore(hs.eng, 0);
    }
    grid_measure(&hs, &after);
    struct sbuf w = SBUF_INIT;
    scene_group_rental_precision_json(hs.eng, &w);
    printf("# learning on a hard variant: recall@1.5G %.3f -> %.3f, "
           "precision@100 %.2f -> %.2f\n# %s\n",
           before.recall, after.recall, before.precision, after.precision,
           w.buf);
    assert_true(after.recall >= before.recall + 0.15);
    assert_true(after.precision >= before.precision - 0.02);
    sbuf_release(&w);
    free(visited);
    harness_release(&hs);
    sim_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_learning_adversarial),
        cmocka_unit_test(test_learning_improves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
