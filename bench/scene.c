/*
 * bench/scene.c - the scene engine at district scale.
 *
 *   bench/scene [HOUSEHOLDS] [DAYS]     (default 2000000 30)
 *
 * Builds a district with tests/unit/test_scene_gen.h, feeds DAYS days, then
 * measures on one core:
 *   - a full re-score after one more day of data for every household;
 *   - new data for 1,000 households -> updated published suspect list;
 *   - the suspects JSON (limit 100);
 *   - scene state in bytes per household (sizeof-based).
 */
#include <stdio.h>
#include <stdlib.h>

#include "../tests/unit/test_scene_gen.h"

static double now_s(void)
{
    return time_monotonic_ns() / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
    int days = argc > 2 ? atoi(argv[2]) : 30;
    uint64_t seed = 7;
    struct gen_district d;
    gen_district_init(&d, n, days + 1, seed);
    struct scene_config cfg;
    scene_config_defaults(&cfg);
    struct scene_engine *eng;
    if (scene_engine_new(&cfg, &eng))
        return 1;
    double t0 = now_s();
    gen_register(&d, eng);
    for (int day = 0; day < days; day++)
        for (size_t i = 0; i < n; i++) {
            gen_feed_day(&d, seed, eng, i, day);
            gen_feed_orders(&d, seed, eng, i, day);
        }
    scene_engine_set_as_of(eng, (d.day0 + days) * 86400 - 8 * 3600);
    scene_engine_rescore(eng, 1);
    double t1 = now_s();
    printf("households %zu, days fed %d, setup %.1f s\n", n, days, t1 - t0);

    for (size_t i = 0; i < n; i++) /* one more day for everyone */
        gen_feed_day(&d, seed, eng, i, days);
    scene_engine_set_as_of(eng, (d.day0 + days + 1) * 86400 - 8 * 3600);
    double t2 = now_s();
    scene_engine_rescore(eng, 0); /* a day completed: full pass */
    double t3 = now_s();
    printf("full re-score after a day's data: %.3f s\n", t3 - t2);

    double t4 = now_s();
    for (size_t k = 0; k < 1000; k++) {
        size_t i = (k * 1999) % n;
        scene_engine_add_delivery(eng, (int32_t)i,
                                  ((d.day0 + days) * 86400) * 1000000000ll,
                                  "bench-recipient");
    }
    scene_engine_rescore(eng, 0);
    double t5 = now_s();
    printf("1000 households' new data -> published list: %.3f s\n", t5 - t4);

    struct sbuf sb = SBUF_INIT;
    double t6 = now_s();
    scene_group_rental_suspects_json(eng, 100, NULL, NULL, &sb);
    double t7 = now_s();
    printf("suspects JSON, limit 100: %.4f s (%zu bytes)\n", t7 - t6, sb.len);
    sbuf_release(&sb);

    size_t identity, hh;
    size_t bytes = scene_engine_state_bytes(eng, &identity, &hh);
    printf("state: %.1f bytes/household (+ %.1f identity)\n",
           (double)bytes / hh, (double)identity / hh);
    scene_engine_free(eng);
    gen_district_release(&d);
    return 0;
}
