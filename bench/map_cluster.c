/*
 * map_cluster.c - the clustering endpoint's work at district scale:
 * 2,000,000 households placed in the Pudong box, 100,000 of them markers
 * (suspects and elderly alerts); per request, gathering the markers'
 * positions by dense id (as store_household_positions does) and
 * clustering them for the view (map_cluster_json), at the zooms a wall
 * uses.  Prints the median and max of RUNS requests per view.
 *   bench/map_cluster [HOUSEHOLDS] [MARKERS] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/map.h"

static uint64_t rng = 88172645463325252ull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t households = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
    size_t markers = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    int runs = argc > 3 ? atoi(argv[3]) : 21;
    float *lat = malloc(households * sizeof(float));
    float *lon = malloc(households * sizeof(float));
    for (size_t i = 0; i < households; i++) {
        lat[i] = (float)(31.05 + 0.30 * uniform());
        lon[i] = (float)(121.455 + 0.495 * uniform());
    }
    int32_t *ids = malloc(markers * sizeof(int32_t));
    uint8_t *kinds = malloc(markers);
    for (size_t i = 0; i < markers; i++) {
        ids[i] = (int32_t)(uniform() * (double)households);
        kinds[i] = uniform() < 0.05;
    }
    static const char *const names[] = {"suspects", "elderly"};
    struct {
        const char *name;
        struct map_view v;
    } views[] = {
        {"district, zoom 11", {121.45, 31.04, 121.96, 31.36, 11}},
        {"district, zoom 13", {121.45, 31.04, 121.96, 31.36, 13}},
        {"a street, zoom 15", {121.50, 31.20, 121.56, 31.24, 15}},
    };
    struct map_marker *m = malloc(markers * sizeof(*m));
    int64_t *t = malloc((size_t)runs * sizeof(int64_t));
    printf("%zu households, %zu markers, %d requests per view\n", households,
           markers, runs);
    for (size_t k = 0; k < sizeof(views) / sizeof(views[0]); k++) {
        size_t out_len = 0;
        for (int r = 0; r < runs; r++) {
            struct sbuf out = SBUF_INIT;
            sbuf_init(&out);
            int64_t t0 = time_monotonic_ns();
            for (size_t i = 0; i < markers; i++)
                m[i] = (struct map_marker){lat[ids[i]], lon[ids[i]], kinds[i]};
            if (map_cluster_json(m, markers, &views[k].v, names, 2, &out))
                return 1;
            t[r] = time_monotonic_ns() - t0;
            out_len = out.len;
            sbuf_release(&out);
        }
        qsort(t, (size_t)runs, sizeof(t[0]), cmp_i64);
        printf("%-20s median %.2f ms  max %.2f ms  (%zu bytes of JSON)\n",
               views[k].name, t[runs / 2] / 1e6, t[runs - 1] / 1e6, out_len);
    }
    return 0;
}
