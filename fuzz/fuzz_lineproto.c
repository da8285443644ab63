/*
 * fuzz_lineproto.c - libFuzzer target for the line-protocol parser.
 *
 * The first byte picks the precision; the rest is the body.  Besides
 * memory safety it checks the parser's promises: every record is valid,
 * every error has a position inside the body, and the error list is JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct ingest_batch *b, size_t size)
{
    if (b->n > b->lines || b->n_errors > INGEST_MAX_REPORTED_ERRORS ||
        b->n_errors > b->errors_total)
        abort();
    for (size_t i = 0; i < b->n; i++) {
        const struct reading *r = &b->readings[i];
        size_t len = strlen(r->household_id);
        if (len == 0 || len > 64 || r->metric >= METRIC_COUNT ||
            r->field > READING_DELTA || !(r->value >= 0) || r->ts_ns < 0 ||
            r->line < 1 || (size_t)r->line > size + 1)
            abort();
    }
    for (size_t i = 0; i < b->n_errors; i++)
        if (b->errors[i].line < 1 || b->errors[i].column < 1 ||
            (size_t)b->errors[i].column > size + 1)
            abort();
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
    ingest_batch_init(&b, FEED_READINGS);
    int rc = ingest_parse_lineproto((const char *)data + 1, size - 1,
                                    (enum precision)(data[0] % 4), 10000, &b);
    if (rc == 0)
        check(&b, size);
    ingest_batch_drop_failed_lines(&b);
    ingest_batch_release(&b);
    return 0;
}
