/*
 * fuzz_codec.c - libFuzzer target for the compressed series block.
 *
 * Checks: decoding any bytes either fails cleanly or gives readings that,
 * encoded again, decode to the same readings (timestamps exactly, values
 * equal, or equal once rounded to the resolution, or both NaN); the filtered
 * decode of one household gives exactly that household's readings; both
 * at an odd base and at a period row's (whole seconds, 32 days).  The
 * same bytes as a meter-day of hourly use: refused cleanly, or encoded
 * again at their resolution they decode to the same hours.  The same bytes
 * as a block of delivery orders: refused cleanly, or encoded again they
 * decode to the same orders, every field exactly.  The same bytes as a
 * block of indicator points: refused cleanly, or in strictly increasing
 * time, and encoded again they decode to the same times exactly, the same
 * values to a billionth (the encoder may take a coarser resolution that
 * holds them) or to 10^-6 (a raw block's values that no resolution holds)
 * and the same scores to the quantum, missing ones missing.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int digits[METRIC_COUNT] = {3, 2, 3};

static int same_value(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static void check_hours(const uint8_t *data, size_t size)
{
    struct codec_hours h, again;
    struct sbuf blob = SBUF_INIT;
    int d, d2;
    if (codec_hours_decode(data, size, &h, &d))
        return;
    codec_hours_encode(&blob, &h, d);
    if (blob.len > CODEC_HOURS_MAX ||
        codec_hours_decode(blob.buf, blob.len, &again, &d2) ||
        again.mask != h.mask)
        abort();
    for (int i = 0; i < CODEC_HOURS; i++)
        if ((h.mask >> i & 1) && !same_value(h.use[i], again.use[i]) &&
            !same_value(codec_round(h.use[i], d), again.use[i]))
            abort();
    sbuf_release(&blob);
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_orders(const uint8_t *data, size_t size)
{
    struct ingest_batch a, b;
    struct sbuf blob = SBUF_INIT;
    ingest_batch_init(&a, FEED_DELIVERIES);
    ingest_batch_init(&b, FEED_DELIVERIES);
    if (codec_orders_decode(data, size, 1000, &a))
        goto out;
    if (a.n > size)
        abort();
    codec_orders_encode(&blob, a.deliveries, a.n, 1000);
    if (codec_orders_decode(blob.buf, blob.len, 1000, &b) || b.n != a.n)
        abort();
    for (size_t i = 0; i < a.n; i++) {
        const struct delivery *x = &a.deliveries[i], *y = &b.deliveries[i];
        if (x->ts_ns != y->ts_ns || x->household != y->household ||
            !same_str(x->order_id, y->order_id) ||
            !same_str(x->household_id, y->household_id) ||
            !same_str(x->address, y->address) ||
            !same_str(x->recipient, y->recipient))
            abort();
    }
out:
    sbuf_release(&blob);
    ingest_batch_release(&a);
    ingest_batch_release(&b);
}

static int near(double a, double b, double rel, double abs_tol)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return fabs(a - b) <= rel * fabs(a) + abs_tol;
}

static void check_points(const uint8_t *data, size_t size)
{
    struct codec_points a = {0}, b = {0};
    struct sbuf blob = SBUF_INIT;
    if (codec_points_decode(data, size, 1000, &a))
        goto out;
    if (a.n == 0 || a.n > 8 * size)
        abort();
    for (size_t i = 1; i < a.n; i++)
        if (a.p[i].ts_ns <= a.p[i - 1].ts_ns)
            abort();
    codec_points_encode(&blob, a.p, a.n, 1000);
    if (codec_points_decode(blob.buf, blob.len, 1000, &b) || b.n != a.n)
        abort();
    for (size_t i = 0; i < a.n; i++)
        if (a.p[i].ts_ns != b.p[i].ts_ns ||
            !near(a.p[i].value, b.p[i].value, 1e-9, 5.0001e-7) ||
            !near(1 - a.p[i].score, 1 - b.p[i].score, 0.012, 1e-15))
            abort();
out:
    sbuf_release(&blob);
    free(a.p);
    free(b.p);
}

/* The series block round trip at one base: an odd one (times in ns), and
 * a period row's (store_days.c: 64 households from 256, 32 days from a
 * period's start, whole seconds). */
static void check_series(const uint8_t *data, size_t size, int32_t base_hh,
                         int64_t base_ts)
{
    struct codec_out a = {NULL, 0, 0}, b = {NULL, 0, 0}, c = {NULL, 0, 0};
    struct sbuf blob = SBUF_INIT;
    if (codec_decode(data, size, base_hh, base_ts, -1, &a))
        goto out;
    if (a.n > size)
        abort();
    codec_encode(&blob, a.e, a.n, base_hh, base_ts, digits);
    if (codec_decode(blob.buf, blob.len, base_hh, base_ts, -1, &b) ||
        b.n != a.n)
        abort();
    for (size_t i = 0; i < a.n; i++)
        if (a.e[i].household != b.e[i].household ||
            a.e[i].metric != b.e[i].metric || a.e[i].field != b.e[i].field ||
            a.e[i].ts_ns != b.e[i].ts_ns ||
            (!same_value(a.e[i].value, b.e[i].value) &&
             !same_value(codec_round(a.e[i].value, digits[a.e[i].metric]),
                         b.e[i].value)))
            abort();
    if (a.n) {
        int32_t hh = a.e[a.n / 2].household;
        size_t want = 0;
        for (size_t i = 0; i < a.n; i++)
            want += a.e[i].household == hh;
        if (codec_decode(data, size, base_hh, base_ts, hh, &c) || c.n != want)
            abort();
    }
out:
    sbuf_release(&blob);
    free(a.e);
    free(b.e);
    free(c.e);
}

#define PERIOD_BASE_TS (648LL * 32 * 86400 * 1000000000LL)

/* The same bytes as a block of daily use: refused cleanly, or encoded
 * again at their resolution they decode to the same days and counts. */
static void check_days(const uint8_t *data, size_t size)
{
    struct codec_days d, again;
    struct sbuf blob = SBUF_INIT;
    int dg, dg2;
    if (codec_days_decode(data, size, &d, &dg))
        return;
    codec_days_encode(&blob, &d, dg);
    if (blob.len > CODEC_DAYS_MAX ||
        codec_days_decode(blob.buf, blob.len, &again, &dg2) ||
        again.mask != d.mask)
        abort();
    for (int i = 0; i < CODEC_DAYS; i++)
        if ((d.mask >> i & 1) &&
            ((!same_value(d.use[i], again.use[i]) &&
              !same_value(codec_round(d.use[i], dg), again.use[i])) ||
             d.n[i] != again.n[i]))
            abort();
    sbuf_release(&blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_days(data, size);
    check_hours(data, size);
    check_points(data, size);
    check_orders(data, size);
    check_series(data, size, 100, 1000);
    check_series(data, size, 256, PERIOD_BASE_TS);
    return 0;
}
