/*
 * place_event.c - placing events at the nearest building's committee
 * (store_place_event) at district scale: HOUSEHOLDS registered through
 * the store (40 a building, 1 in 20 without a building, 40 buildings a
 * committee, buildings ~60 m apart), then 1,000,000 events inside the
 * built area and 1,000,000 more than 1 km outside it.  Prints the time
 * per event of each, and the process's RSS before and after the registry.
 *   bench/place_event [HOUSEHOLDS]
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/ingest.h"
#include "store/store.h"

#define EVENTS 1000000
#define BATCH 20000

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb / 1024;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

static int registry(struct store *st, int n)
{
    static char ids[BATCH][16], blds[BATCH][16], coms[BATCH][16];
    for (int s = 0; s < n; s += BATCH) {
        int m = n - s < BATCH ? n - s : BATCH;
        struct ingest_batch b;
        ingest_batch_init(&b, FEED_REGISTRY);
        b.households = calloc((size_t)m, sizeof(struct household));
        b.n = b.cap = (size_t)m;
        for (int i = 0; i < m; i++) {
            int k = s + i, bi = k / 40;
            snprintf(ids[i], 16, "H%d", k);
            snprintf(blds[i], 16, "B%d", bi);
            snprintf(coms[i], 16, "C%d", bi / 40);
            b.households[i] = (struct household){
                .household_id = ids[i],
                .street = "S",
                .committee = coms[i],
                .building = k % 20 ? blds[i] : NULL,
                .lat = 31.15 + (bi % 224) * 0.0006 + (rand() % 100) * 1e-6,
                .lon = 121.45 + (bi / 224) * 0.0006 + (rand() % 100) * 1e-6};
        }
        struct store_write_result res;
        int rc = store_write(st, &b, "registry", &res);
        free(b.households);
        if (rc)
            return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    char dir[] = "/tmp/cb-place-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    struct store_config cfg;
    store_config_defaults(&cfg);
    cfg.dir = dir;
    cfg.read_connections = 1;
    struct store *st;
    if (store_open(&cfg, &st) || store_start_consumers(st))
        return 1;
    srand(1);
    long before = rss_mb();
    if (registry(st, n))
        return 1;
    long after = rss_mb();
    int cols = (n / 40 + 223) / 224, placed = 0, far = 0;
    char name[STORE_NAME_MAX + 1];
    double t = now_s();
    for (int i = 0; i < EVENTS; i++)
        placed += !store_place_event(st, 31.15 + (rand() % 134400) * 1e-6,
                                     121.45 + (rand() % (cols * 600)) * 1e-6,
                                     1000, name, sizeof(name));
    double inside = (now_s() - t) / EVENTS * 1e6;
    t = now_s();
    for (int i = 0; i < EVENTS; i++)
        far += !store_place_event(st, 31.30 + (rand() % 10000) * 1e-6,
                                  121.45 + (rand() % (cols * 600)) * 1e-6, 1000,
                                  name, sizeof(name));
    double outside = (now_s() - t) / EVENTS * 1e6;
    printf("households=%d rss=%ld->%ld MB inside: %.2f us/event (%d "
           "placed) beyond 1 km: %.2f us/event (%d placed)\n",
           n, before, after, inside, placed, outside, far);
    store_close(st);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
