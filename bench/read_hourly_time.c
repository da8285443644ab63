/*
 * bench/read_hourly_time.c - the store side of bench/read_hourly's reads,
 * without HTTP or the audit row: opens the stopped store and times, warm
 * (READS after 20), the same calls the routes make and render to JSON:
 *
 *   - render_usage_hourly of a sampled household over HOURLY_DAYS days;
 *   - store_points_scan of power_use_street_hourly for one street (and of
 *     power_use_district_hourly) over SERIES_DAYS days.
 *
 *   read_hourly_time DATA_DIR HOUSEHOLDS SAMPLE HOURLY_DAYS SERIES_DAYS TODAY
 *                    STREETS READS
 *
 * Prints p50/p99/max in ms and the rows each read returned.
 *
 * First it wires the store as `citybrain serve` does (store, scene engine,
 * indicator engine with the default set and indicator_backfill_days =
 * SERIES_DAYS + 2, then the consumers) and prints, after each step, the
 * process's VmRSS and what malloc holds: what each part adds to the
 * server's resident memory.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock/clock.h"
#include "indic/indic.h"
#include "render/render.h"
#include "scene/scene.h"
#include "store/store.h"
#include "util/util.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n, size_t rows)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    printf("%s: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d reads, %zu rows"
           " the last)\n",
           what, v[n / 2], v[(n * 99 + 99) / 100 - 1], v[n - 1], n, rows);
}

/* VmRSS, malloc's bytes in use and SQLite's page caches after a step. */
static void memory(struct store *st, const char *step)
{
    char line[256];
    long rss_kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            rss_kb = atol(line + 6);
    if (f)
        fclose(f);
    struct mallinfo2 mi = mallinfo2();
    struct store_stats ss = {0};
    if (st)
        store_get_stats(st, &ss);
    printf("  %-44s RSS %5ld MB, malloc in use %5zu MB, SQLite caches %4llu"
           " MB\n",
           step, rss_kb / 1024, (mi.uordblks + mi.hblkhd) >> 20,
           (unsigned long long)(ss.sqlite_cache_bytes >> 20));
}

/* The scene and indicator engines as `citybrain serve` makes them. */
static int wire(struct store *st, const char *dir, int backfill_days,
                struct scene_engine **OUT_sc, struct indic_engine **OUT_ie)
{
    static char learned[4096], elderly[4096];
    struct scene_config sc;
    struct indic_config ic;
    scene_config_defaults(&sc);
    sc.tz_offset_minutes = dclock_tz_offset_minutes();
    snprintf(learned, sizeof(learned), "%s/scene-group-rental.learn", dir);
    snprintf(elderly, sizeof(elderly), "%s/scene-elderly.state", dir);
    sc.learned_path = learned;
    sc.elderly_path = elderly;
    if (scene_engine_new(&sc, OUT_sc) || scene_engine_attach(*OUT_sc, st))
        return 1;
    memory(st, "+ scene engine (loaded from the store)");
    indic_config_defaults(&ic);
    ic.backfill_days = backfill_days;
    ic.scenes = *OUT_sc;
    if (indic_engine_new(&ic, st, OUT_ie))
        return 1;
    memory(st, "+ indicator engine (defaults, back-filled)");
    if (store_start_consumers(st))
        return 1;
    indic_tick(*OUT_ie, indic_now_ns()); /* closes and writes the buckets */
    memory(st, "+ consumers started, one indicator tick");
    return 0;
}

static void count_point(void *ctx, const struct store_point *p)
{
    ++*(size_t *)ctx;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: read_hourly_time DATA_DIR HOUSEHOLDS SAMPLE"
                        " HOURLY_DAYS SERIES_DAYS TODAY STREETS READS\n");
        return 2;
    }
    long n = atol(argv[2]), sample = atol(argv[3]);
    long hdays = atol(argv[4]), sdays = atol(argv[5]), today = atol(argv[6]);
    int streets = atoi(argv[7]), reads = atoi(argv[8]);
    struct store_config cfg;
    struct store *st;
    store_config_defaults(&cfg);
    cfg.dir = argv[1];
    log_set_level(LOG_WARN);
    struct scene_engine *sc = NULL;
    struct indic_engine *ie = NULL;
    printf("in process, as `citybrain serve` wires it:\n");
    memory(NULL, "start");
    if (store_open(&cfg, &st))
        return 1;
    memory(st, "+ store (registry, roll-up state, pools)");
    if (wire(st, argv[1], (int)sdays + 2, &sc, &ie))
        return fprintf(stderr, "cannot start the engines\n"), 1;
    double *v = xcalloc((size_t)reads + 20, sizeof(double));
    struct sbuf out = SBUF_INIT;
    size_t rows = 0;
    srand(7);
    for (int i = 0; i < reads + 20; i++) {
        char id[32];
        long k = rand() % (n / sample);
        snprintf(id, sizeof(id), "B%07ld", 1 + k * sample);
        int32_t hh = store_household_resolve(st, id);
        sbuf_reset(&out);
        double t0 = now_ms();
        if (render_usage_hourly(st, hh, today - hdays, today, &out))
            return fprintf(stderr, "read failed\n"), 1;
        v[i] = now_ms() - t0;
        rows = 0;
        for (size_t c = 0; c < out.len; c++)
            rows += out.buf[c] == '{';
    }
    report("household hourly use (render_usage_hourly)", v + 20, reads, rows);
    int64_t to = (today * 86400 - 8 * 3600) * 1000000000LL;
    int64_t from = to - sdays * 86400 * 1000000000LL;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < reads + 20; i++) {
            char group[32];
            snprintf(group, sizeof(group), "street%d", rand() % streets);
            rows = 0;
            double t0 = now_ms();
            store_points_scan(st,
                              pass ? "power_use_district_hourly"
                                   : "power_use_street_hourly",
                              pass ? "district" : group, from, to, 1000000,
                              count_point, &rows);
            v[i] = now_ms() - t0;
        }
        report(pass ? "district hourly series (store_points_scan)"
                    : "street hourly series (store_points_scan)",
               v + 20, reads, rows);
    }
    memory(st, "after the reads");
    sbuf_release(&out);
    free(v);
    store_close(st);
    scene_engine_free(sc);
    indic_engine_free(ie);
    return 0;
}
