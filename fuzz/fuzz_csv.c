/*
 * fuzz_csv.c - libFuzzer target for the household registry parsers.
 *
 * The first byte picks CSV (even) or NDJSON (odd); the rest is the body.
 * Besides memory safety it checks that every record obeys the registry
 * rules and that the error list is valid JSON.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 256)
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20)
            abort();
}

static void check(const struct ingest_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct household *h = &b->households[i];
        check_text(h->household_id);
        check_text(h->street);
        check_text(h->committee);
        check_text(h->building);
        check_text(h->address);
        if (!(h->lat >= -90 && h->lat <= 90) ||
            !(h->lon >= -180 && h->lon <= 180) || !(h->area_m2 > 0) ||
            !isfinite(h->area_m2) || h->rooms < 1 ||
            h->registered_occupants < 0 || (h->flags & ~15) || h->line < 1)
            abort();
    }
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    ingest_errors_to_json(b, &out);
    json_t *j = json_loadb(out.buf, out.len, 0, NULL);
    if (!j || json_array_size(j) != b->n_errors)
        abort();
    json_decref(j);
    sbuf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct ingest_batch b;
    ingest_batch_init(&b, FEED_REGISTRY);
    if (ingest_parse_households((const char *)data + 1, size - 1, data[0] & 1,
                                10000, &b) == 0)
        check(&b);
    ingest_batch_release(&b);
    return 0;
}
