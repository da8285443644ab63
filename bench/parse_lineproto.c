/*
 * parse_lineproto.c - times ingest_parse_lineproto alone on 1M lines.
 *
 * Build by hand (not part of `make`):
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/parse_lineproto.c \
 *      src/ingest/*.c src/util/util.c -ljansson -lm -lpthread -o /tmp/bench_lp
 * Prints lines per second for a realistic mix of index and delta lines.
 */
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    size_t lines = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    struct sbuf body = SBUF_INIT;
    sbuf_init(&body);
    for (size_t i = 0; i < lines; i++) {
        static const char *const m[] = {"water", "electricity", "gas"};
        if (i % 2)
            sbuf_addf(&body,
                      "%s,household=H%07zu,source=nb-iot index=%zu.%03zu %zu\n",
                      m[i % 3], i / 96, 1000 + i / 7, i % 1000,
                      (size_t)1764547200 + i * 900);
        else
            sbuf_addf(&body, "%s,household=H%07zu delta=0.%02zu %zu\n",
                      m[i % 3], i / 96, i % 100, (size_t)1764547200 + i * 900);
    }
    double best = 1e9;
    for (int run = 0; run < 5; run++) {
        struct ingest_batch b;
        ingest_batch_init(&b, FEED_READINGS);
        int64_t t0 = time_monotonic_ns();
        int rc =
            ingest_parse_lineproto(body.buf, body.len, PRECISION_S, lines, &b);
        double s = (double)(time_monotonic_ns() - t0) / 1e9;
        if (rc || b.n != lines || b.errors_total) {
            fprintf(stderr, "bench: rc=%d n=%zu errors=%zu\n", rc, b.n,
                    b.errors_total);
            return 1;
        }
        if (s < best)
            best = s;
        ingest_batch_release(&b);
    }
    printf(
        "parse_lineproto: %zu lines, %zu bytes, best %.3f s, %.2f M lines/s, "
        "%.0f MB/s\n",
        lines, body.len, best, (double)lines / best / 1e6,
        (double)body.len / best / 1e6);
    sbuf_release(&body);
    return 0;
}
