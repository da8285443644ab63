/*
 * fuzz_ndjson.c - libFuzzer target for the delivery and event parsers.
 *
 * The first byte picks deliveries (even) or events (odd); the rest is the
 * body.  Besides memory safety it checks the records' promises: no phone
 * number as a recipient, coordinates in range, attrs as JSON objects, and
 * a valid JSON error list.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_deliveries(const struct ingest_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct delivery *d = &b->deliveries[i];
        if (!d->order_id || !d->recipient || d->ts_ns < 0 ||
            (!d->household_id && !d->address))
            abort();
        size_t n = strlen(d->recipient);
        if (n == 11 && d->recipient[0] == '1' &&
            strspn(d->recipient, "0123456789") == 11)
            abort();
    }
}

static void check_events(const struct ingest_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct event *e = &b->events[i];
        if (!e->event_id || !e->source || !e->type || e->ts_ns < 0)
            abort();
        if (!e->street &&
            !(e->lat >= -90 && e->lat <= 90 && e->lon >= -180 && e->lon <= 180))
            abort();
        if (e->attrs_json) {
            json_t *j = json_loads(e->attrs_json, 0, NULL);
            if (!json_is_object(j))
                abort();
            json_decref(j);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) { /* as the server runs: Jansson on the per-line scratch */
        ingest_json_init();
        ready = 1;
    }
    if (size < 1)
        return 0;
    struct ingest_batch b;
    int events = data[0] & 1;
    ingest_batch_init(&b, events ? FEED_EVENTS : FEED_DELIVERIES);
    const char *body = (const char *)data + 1;
    int rc = events ? ingest_parse_events(body, size - 1, 10000, &b)
                    : ingest_parse_deliveries(body, size - 1, 10000, &b);
    if (rc == 0) {
        if (events)
            check_events(&b);
        else
            check_deliveries(&b);
        struct sbuf out = SBUF_INIT;
        sbuf_init(&out);
        ingest_errors_to_json(&b, &out);
        json_t *j = json_loadb(out.buf, out.len, 0, NULL);
        if (!j)
            abort();
        json_decref(j);
        sbuf_release(&out);
    }
    ingest_batch_release(&b);
    return 0;
}
