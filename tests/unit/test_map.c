/* test_map.c - grid clustering of markers (map.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "map/map.h"

static const char *const kinds[] = {"suspects", "elderly"};

static json_t *cluster(const struct map_marker *m, size_t n, struct map_view *v)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    assert_int_equal(map_cluster_json(m, n, v, kinds, 2, &out), 0);
    json_t *doc = json_loads(out.buf, 0, NULL);
    assert_non_null(doc);
    sbuf_release(&out);
    return doc;
}

static void test_counts_centroids_and_the_box(void **state)
{
    /* zoom 10: cells of 90/1024 = 0.0879 degrees */
    struct map_marker m[] = {
        {31.001f, 121.001f, 0}, {31.003f, 121.003f, 1}, /* one cell */
        {31.200f, 121.200f, 0},                         /* another */
        {32.500f, 121.100f, 0},                         /* outside */
        {NAN, NAN, 0},                                  /* not placed */
        {31.001f, 121.001f, 7},                         /* bad kind */
    };
    struct map_view v = {121.0, 31.0, 121.5, 31.5, 10};
    json_t *doc = cluster(m, sizeof(m) / sizeof(m[0]), &v);
    assert_int_equal(json_integer_value(json_object_get(doc, "markers")), 3);
    json_t *cl = json_object_get(doc, "clusters");
    assert_int_equal(json_array_size(cl), 2);
    json_t *a = json_array_get(cl, 0);
    assert_int_equal(json_integer_value(json_object_get(a, "count")), 2);
    assert_int_equal(json_integer_value(json_object_get(a, "suspects")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "elderly")), 1);
    assert_true(fabs(json_real_value(json_object_get(a, "lat")) - 31.002) <
                1e-4);
    json_decref(doc);
    /* zoomed out to 0: everything in view in one cell */
    v.zoom = 0;
    doc = cluster(m, 3, &v);
    assert_int_equal(json_array_size(json_object_get(doc, "clusters")), 1);
    json_decref(doc);
}

static void test_limits(void **state)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    struct map_view v = {-180, -90, 180, 90, 12}; /* the world at zoom 12 */
    assert_int_equal(map_cluster_json(NULL, 0, &v, kinds, 2, &out), CB_ETOOBIG);
    assert_int_equal(out.len, 0);
    v.zoom = 23;
    assert_int_equal(map_cluster_json(NULL, 0, &v, kinds, 2, &out), CB_EINVAL);
    char why[200];
    struct map_view p;
    assert_int_equal(map_view_parse_bbox("121.4,31,122,31.4", &p, why, 200), 0);
    assert_true(p.west == 121.4 && p.north == 31.4);
    assert_int_equal(map_view_parse_bbox("121,31,120,32", &p, why, 200),
                     CB_EINVAL);
    assert_non_null(strstr(why, "west < east"));
    assert_int_equal(map_view_parse_bbox("121,x,122,32", &p, why, 200),
                     CB_EINVAL);
    assert_non_null(strstr(why, "value 2"));
    assert_int_equal(map_view_parse_bbox("121,31,122", &p, why, 200),
                     CB_EINVAL);
    assert_int_equal(map_view_parse_bbox("121,31,122,32,5", &p, why, 200),
                     CB_EINVAL);
    sbuf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_centroids_and_the_box),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
