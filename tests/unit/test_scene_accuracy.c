/*
 * test_scene_accuracy.c - the group-rental detector on whole districts:
 * precision of the top 100, recall within 1.5x the number of group rentals,
 * the share of each confounder in the top 100, and learning from visits
 * (wrong initial weights, 200 outcomes fed back, precision rises).
 *
 * The district comes from test_scene_gen.h (written apart from src/sim).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_scene_gen.h"

#define SEED 20261127

struct accuracy {
    size_t n_gr, top_n;
    double precision_100, recall_15;
    double share[GEN_TYPES]; /* share of each type in the top 100 */
};

static void measure(struct scene_engine *eng, const struct gen_district *d,
                    struct accuracy *a)
{
    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < d->n; i++)
        a->n_gr += d->hh[i].type == GEN_GROUP_RENTAL;
    size_t k = a->n_gr * 3 / 2 > 100 ? a->n_gr * 3 / 2 : 100;
    int32_t *top = calloc(k, sizeof(*top));
    a->top_n = scene_group_rental_top(eng, k, top);
    size_t hits = 0, hits_100 = 0, n100 = a->top_n < 100 ? a->top_n : 100;
    for (size_t i = 0; i < a->top_n; i++) {
        enum gen_type t = d->hh[top[i]].type;
        hits += t == GEN_GROUP_RENTAL;
        if (i < 100) {
            hits_100 += t == GEN_GROUP_RENTAL;
            a->share[t] += 1.0 / 100;
        }
    }
    for (size_t i = 0; getenv("SCENE_DEBUG") && i < n100; i++) {
        enum gen_type t = d->hh[top[i]].type;
        if (t == GEN_GROUP_RENTAL)
            continue;
        struct sbuf sb = SBUF_INIT;
        char id[32];
        snprintf(id, sizeof(id), "H%07d", top[i]);
        scene_group_rental_evidence_json(eng, id, &sb);
        printf("# rank %zu type %s occupants %d: %.1500s\n", i,
               gen_type_names[t], d->hh[top[i]].occupants, sb.buf);
        sbuf_release(&sb);
    }
    a->precision_100 = n100 ? (double)hits_100 / 100 : 0;
    a->recall_15 = a->n_gr ? (double)hits / a->n_gr : 0;
    free(top);
}

static void print_accuracy(const char *what, const struct accuracy *a)
{
    printf("# %s: group rentals %zu, precision@100 %.3f, recall@1.5N %.3f\n",
           what, a->n_gr, a->precision_100, a->recall_15);
    printf("#   top-100 shares:");
    for (int t = 0; t < GEN_TYPES; t++)
        printf(" %s=%.2f", gen_type_names[t], a->share[t]);
    printf("\n");
}

static struct scene_engine *new_engine(void)
{
    struct scene_config cfg;
    scene_config_defaults(&cfg);
    struct scene_engine *eng = NULL;
    assert_int_equal(scene_engine_new(&cfg, &eng), 0);
    return eng;
}

static void test_accuracy_generated_district(void **state)
{
    (void)state;
    struct gen_district d;
    gen_district_init(&d, 10000, 45, SEED);
    struct scene_engine *eng = new_engine();
    gen_register(&d, eng);
    gen_feed_all(&d, SEED, eng);
    assert_int_equal(scene_engine_rescore(eng, 1), 0);
    struct accuracy a;
    measure(eng, &d, &a);
    print_accuracy("generated 10000 x 45", &a);
    assert_true(a.n_gr >= 100);
    assert_true(a.precision_100 >= 0.95);
    assert_true(a.recall_15 >= 0.85);
    for (int t = GEN_LARGE_FAMILY; t < GEN_TYPES; t++)
        assert_true(a.share[t] < 0.02);
    scene_engine_free(eng);
    gen_district_release(&d);
}

/* Visits the `n` best-ranked households not visited yet and feeds the
 * truth back; returns how many were group rentals. */
static size_t visit(struct scene_engine *eng, const struct gen_district *d,
                    uint8_t *visited, size_t n)
{
    size_t k = 4 * n + 1000, got = 0, confirmed = 0;
    int32_t *top = calloc(k, sizeof(*top));
    size_t m = scene_group_rental_top(eng, k, top);
    if (getenv("SCENE_DEBUG"))
        printf("# visit: %zu ranked\n", m);
    for (size_t i = 0; i < m && got < n; i++) {
        if (visited[top[i]])
            continue;
        visited[top[i]] = 1;
        got++;
        const struct gen_household *g = &d->hh[top[i]];
        int ok = g->type == GEN_GROUP_RENTAL;
        confirmed += ok;
        char id[32];
        snprintf(id, sizeof(id), "H%07d", top[i]);
        assert_int_equal(
            scene_group_rental_feedback(
                eng, id, ok ? SCENE_CONFIRMED : SCENE_NOT_FOUND, g->occupants),
            0);
    }
    free(top);
    assert_int_equal(got, n);
    return confirmed;
}

static void test_learning_from_wrong_weights(void **state)
{
    (void)state;
    struct gen_district d;
    gen_district_init(&d, 40000, 35, SEED + 1);
    struct scene_engine *eng = new_engine();
    gen_register(&d, eng);
    gen_feed_all(&d, SEED + 1, eng);
    size_t nw = scene_group_rental_n_weights();
    double wrong[32];
    for (size_t i = 0; i < nw; i++) /* every signal pointing the wrong way */
        wrong[i] = i == 0 ? 0.0
                          : -1.0 * (i % 3 + 1) *
                                (strcmp(scene_group_rental_weight_name(i),
                                        "business") == 0
                                     ? -1
                                     : 1);
    assert_int_equal(scene_group_rental_set_weights(eng, wrong, nw), 0);
    scene_engine_rescore(eng, 0);
    uint8_t *visited = calloc(d.n, 1);
    size_t before = 0;
    for (int round = 0; round < 10; round++) { /* 200 visits, 20 a round */
        size_t hits = visit(eng, &d, visited, 20);
        if (round < 5)
            before += hits;
        scene_engine_rescore(eng, 0);
    }
    size_t after = visit(eng, &d, visited, 100);
    printf("# learning: precision of the first 100 visits %.2f, of the 100 "
           "after 200 outcomes %.2f\n",
           before / 100.0, after / 100.0);
    struct sbuf sb = SBUF_INIT;
    scene_group_rental_precision_json(eng, &sb);
    printf("# %s\n", sb.buf);
    sbuf_release(&sb);
    assert_true(after >= before + 30);
    assert_true(after >= 80);
    free(visited);
    scene_engine_free(eng);
    gen_district_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_generated_district),
        cmocka_unit_test(test_learning_from_wrong_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
