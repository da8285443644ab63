/*
 * bench/indicators.c - one bucket's update of many indicator series.
 *
 * A store in a temporary directory, the indicator engine as its consumer,
 * one declaration grouped by source, and per bucket one batch of N events
 * from N distinct sources: N series get a record each.  Reported per
 * bucket: the consumer's apply (write + flush, which includes the store's
 * own commit), and the tick that closes the bucket for every series,
 * scores it with each series' detector and writes the N points.
 *
 *   bench/indicators [--series N] [--buckets B]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "indic/indic.h"
#include "ingest/ingest.h"
#include "store/store.h"

static double secs(int64_t a, int64_t b)
{
    return (double)(b - a) / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = 100000;
    int buckets = 6;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--series"))
            n = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--buckets"))
            buckets = atoi(argv[i + 1]);
    }
    char dir[] = "/tmp/cbbench-indic-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    log_set_level(LOG_WARN);
    struct store_config sc;
    store_config_defaults(&sc);
    sc.dir = dir;
    sc.sync_full = 0;
    struct store *st;
    struct indic_engine *eng;
    struct indic_config ic;
    indic_config_defaults(&ic);
    ic.with_defaults = 0;
    ic.grace_ns = 0;
    ic.max_series = n + 10;
    if (store_open(&sc, &st) || indic_engine_new(&ic, st, &eng) ||
        store_start_consumers(st))
        return 1;
    const char *def = "{\"id\":\"b\",\"feed\":\"events\",\"measure\":"
                      "\"count\",\"bucket\":\"1h\",\"group\":\"source\"}";
    char err[200];
    if (indic_define(eng, def, strlen(def), err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t hour = 3600LL * 1000000000LL;
    int64_t t0 = (time_now_ns() / hour - buckets - 1) * hour;
    printf("series  bucket  apply_s  tick_s  (close+score+write %zu points)\n",
           n);
    double worst = 0;
    for (int k = 0; k < buckets; k++) {
        struct ingest_batch b;
        ingest_batch_init(&b, FEED_EVENTS);
        b.events = calloc(n, sizeof(struct event));
        b.n = b.cap = n;
        for (size_t i = 0; i < n; i++) {
            char id[32], src[32];
            snprintf(id, sizeof(id), "e%d-%zu", k, i);
            snprintf(src, sizeof(src), "dept%zu", i);
            b.events[i] = (struct event){
                .event_id = arena_strndup(&b.arena, id, strlen(id)),
                .source = arena_strndup(&b.arena, src, strlen(src)),
                .type = "x",
                .street = "S",
                .ts_ns = t0 + k * hour + 60000000000LL,
                .lat = 31.2,
                .lon = 121.5,
                .line = (int32_t)i + 1};
        }
        int64_t a = time_monotonic_ns();
        struct store_write_result res;
        if (store_write(st, &b, "bench", &res) || store_rollup_flush(st))
            return 1;
        int64_t m = time_monotonic_ns();
        indic_tick(eng, t0 + (k + 1) * hour);
        int64_t z = time_monotonic_ns();
        printf("%zu  %d  %.3f  %.3f\n", n, k, secs(a, m), secs(m, z));
        if (k > 0 && secs(m, z) > worst)
            worst = secs(m, z);
        ingest_batch_release(&b);
    }
    printf("worst tick after the first bucket: %.3f s for %zu series\n", worst,
           n);
    store_close(st);
    indic_engine_free(eng);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) ? 1 : 0;
}
