/* test_codec.c - the compressed series block, the hours of a meter-day and
 * the block of delivery orders, the points of an indicator series: round trip,
 * resolution, corrupt input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_codec.h"

#define HOUR_NS (3600LL * 1000000000LL)
#define DAY0 (1767225600LL * 1000000000LL) /* 2026-01-01 */

static const int digits[METRIC_COUNT] = {3, 2, 3};

/* 64 households x 3 metrics x 24 hourly readings, registers growing. */
static size_t make_day(struct reading *r, int32_t base)
{
    size_t n = 0;
    for (int32_t h = 0; h < 64; h++)
        for (int m = 0; m < METRIC_COUNT; m++)
            for (int i = 0; i < 24; i++) {
                memset(&r[n], 0, sizeof(r[n]));
                r[n].household = base + h;
                r[n].metric = (uint8_t)m;
                r[n].field = READING_INDEX;
                r[n].ts_ns = DAY0 + i * HOUR_NS + (m == 2 ? 7 : 0);
                r[n].value = (1000 + h * 37 + i * (m + 1)) / 100.0;
                n++;
            }
    return n;
}

static void assert_same(const struct reading *a, const struct reading *b,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].household, b[i].household);
        assert_int_equal(a[i].metric, b[i].metric);
        assert_int_equal(a[i].field, b[i].field);
        assert_true(a[i].ts_ns == b[i].ts_ns);
        assert_true(a[i].value == b[i].value);
    }
}

static void test_round_trip(void **state)
{
    static struct reading r[64 * 3 * 24];
    struct sbuf blob = SBUF_INIT;
    struct codec_out out = {NULL, 0, 0};
    size_t n = make_day(r, 512);
    codec_encode(&blob, r, n, 512, DAY0, digits);
    /* regular hourly registers: a few bytes a reading, not 20; a run of
     * regular times costs no byte a reading (version 2) */
    assert_true(blob.len < n * 2);
    assert_int_equal(codec_decode(blob.buf, blob.len, 512, DAY0, -1, &out), 0);
    assert_int_equal(out.n, n);
    assert_same(r, out.e, n);
    /* one household only: the others' runs are skipped */
    out.n = 0;
    assert_int_equal(codec_decode(blob.buf, blob.len, 512, DAY0, 512 + 9, &out),
                     0);
    assert_int_equal(out.n, 3 * 24);
    assert_same(r + 9 * 3 * 24, out.e, out.n);
    sbuf_release(&blob);
    free(out.e);
}

/* make demo's day: hourly electricity, water and gas read once a day (at
 * local midnight, some gas meters at another second, one water meter's
 * time in ns, one value that cannot be counted).  The daily readings are
 * short runs (version 3): about 7 bytes each where the long form took
 * 11; all round-trip, and one household's filtered read finds its own
 * readings after the other households' short runs were skipped. */
static void test_short_runs(void **state)
{
    static struct reading r[64 * 26];
    struct sbuf blob = SBUF_INIT, daily = SBUF_INIT;
    struct codec_out out = {NULL, 0, 0};
    size_t n = 0, nd = 0;
    for (int32_t h = 0; h < 64; h++)
        for (int m = 0; m < METRIC_COUNT; m++)
            for (int i = 0; i < (m == 1 ? 24 : 1); i++) {
                struct reading *e = &r[n++];
                memset(e, 0, sizeof(*e));
                e->household = 512 + h;
                e->metric = (uint8_t)m;
                e->ts_ns =
                    m == 1 ? DAY0 + i * HOUR_NS
                           : DAY0 + 16 * HOUR_NS +
                                 (m == 2 && h % 5 == 0 ? 61 : 0) * 1000000000LL;
                e->value =
                    (m == 1 ? 20000 + h * 13 + i * 37 : 400000 + h * 977) /
                    (m == 1 ? 100.0 : 1000.0);
            }
    r[3 * 26 + 0].ts_ns += 5;        /* household 3's water: ns */
    r[4 * 26 + 25].value = INFINITY; /* household 4's gas: raw */
    codec_encode(&blob, r, n, 512, DAY0, digits);
    assert_int_equal((unsigned char)blob.buf[0], 3);
    assert_int_equal(codec_decode(blob.buf, blob.len, 512, DAY0, -1, &out), 0);
    assert_int_equal(out.n, n);
    assert_same(r, out.e, n);
    for (int32_t h = 0; h < 64; h += 9) {
        out.n = 0;
        assert_int_equal(
            codec_decode(blob.buf, blob.len, 512, DAY0, 512 + h, &out), 0);
        assert_int_equal(out.n, 26);
        assert_same(r + h * 26, out.e, 26);
    }
    /* the daily readings alone, every one a short run */
    static struct reading d[64 * 2];
    for (size_t i = 0; i < n; i++)
        if (r[i].metric != 1 && r[i].ts_ns % 1000000000LL == 0 &&
            isfinite(r[i].value))
            d[nd++] = r[i];
    codec_encode(&daily, d, nd, 512, DAY0, digits);
    assert_true(daily.len <= 2 + nd * 8);
    /* a short run's kind may not say raw; every prefix is refused */
    out.n = 0;
    unsigned char *copy = malloc(daily.len);
    memcpy(copy, daily.buf, daily.len);
    for (size_t len = 0; len < daily.len; len++)
        assert_int_equal(codec_decode(copy, len, 512, DAY0, -1, &out),
                         CB_ESTORE);
    assert_int_equal(copy[4], 0); /* the first run: gap 0, kind, n 0 */
    copy[3] |= 0x8;
    assert_int_equal(codec_decode(copy, daily.len, 512, DAY0, -1, &out),
                     CB_ESTORE);
    /* version 2 had no short runs: n 0 refused there */
    memcpy(copy, daily.buf, daily.len);
    copy[0] = 2;
    assert_int_equal(codec_decode(copy, daily.len, 512, DAY0, -1, &out),
                     CB_ESTORE);
    free(copy);
    sbuf_release(&blob);
    sbuf_release(&daily);
    free(out.e);
}

/* A version 1 block (dods always written), as stores wrote them before
 * version 2, still decodes. */
static void test_version_1_read(void **state)
{
    static const unsigned char v1[] = {
        1, 1,          /* version 1, one run */
        0, 0x30, 3, 6, /* household +0, water at 0.001, n 3 */
        0, 1,    0,    /* ts0 = base, +1 ns, dod 0 */
        2, 2,    2};   /* 0.001, 0.002, 0.003 */
    struct codec_out out = {NULL, 0, 0};
    assert_int_equal(codec_decode(v1, sizeof(v1), 7, DAY0, -1, &out), 0);
    assert_int_equal(out.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out.e[i].household, 7);
        assert_true(out.e[i].ts_ns == DAY0 + i);
        assert_true(out.e[i].value == (i + 1) / 1000.0);
    }
    /* the same bytes as version 2 read "0" as the regular byte: refused */
    unsigned char v2[sizeof(v1)];
    memcpy(v2, v1, sizeof(v1));
    v2[0] = 2;
    out.n = 0;
    assert_int_equal(codec_decode(v2, sizeof(v2), 7, DAY0, -1, &out),
                     CB_ESTORE);
    /* version 2's times flags: an unknown bit, "regular" under 3 readings */
    static const unsigned char bad[] = {2, 1, 0, 0x30, 3, 6, 4, 0, 1, 2, 2, 2};
    assert_int_equal(codec_decode(bad, sizeof(bad), 7, DAY0, -1, &out),
                     CB_ESTORE);
    static const unsigned char short_regular[] = {2,    1, 0, 0x30, 2, 5,
                                                  0x01, 0, 1, 2,    2};
    assert_int_equal(
        codec_decode(short_regular, sizeof(short_regular), 7, DAY0, -1, &out),
        CB_ESTORE);
    free(out.e);
}

/* Whole seconds are counted in seconds (a daily meter's reading costs 3
 * bytes of time, not 7); any other time in ns; both exact. */
static void test_times_in_seconds(void **state)
{
    struct reading r[2];
    struct sbuf a = SBUF_INIT, b = SBUF_INIT;
    struct codec_out out = {NULL, 0, 0};
    memset(r, 0, sizeof(r));
    r[0].household = r[1].household = 3;
    r[0].value = r[1].value = 12345.678;
    r[0].ts_ns = DAY0 + 8 * HOUR_NS;
    r[1].ts_ns = DAY0 + 8 * HOUR_NS + 1;
    codec_encode(&a, &r[0], 1, 0, DAY0, digits);
    codec_encode(&b, &r[1], 1, 0, DAY0, digits);
    assert_true(a.len + 3 <= b.len);
    assert_int_equal(codec_decode(a.buf, a.len, 0, DAY0, -1, &out), 0);
    assert_int_equal(codec_decode(b.buf, b.len, 0, DAY0, -1, &out), 0);
    assert_int_equal(out.n, 2);
    assert_same(r, out.e, 2);
    /* a base that is not a whole second: ns */
    out.n = 0;
    sbuf_reset(&a);
    codec_encode(&a, &r[0], 1, 0, DAY0 + 5, digits);
    assert_int_equal(codec_decode(a.buf, a.len, 0, DAY0 + 5, -1, &out), 0);
    assert_int_equal(out.n, 1);
    assert_same(r, out.e, 1);
    sbuf_release(&a);
    sbuf_release(&b);
    free(out.e);
}

static void test_odd_values_and_times(void **state)
{
    struct reading r[6];
    struct sbuf blob = SBUF_INIT;
    struct codec_out out = {NULL, 0, 0};
    memset(r, 0, sizeof(r));
    int64_t ts[6] = {INT64_MIN, -5, 0, 3, INT64_MAX - 1, INT64_MAX};
    double v[6] = {1e300, NAN, -INFINITY, 0.5, -2.25, 1e17};
    for (int i = 0; i < 6; i++) {
        r[i].household = 7;
        r[i].metric = METRIC_GAS;
        r[i].field = i < 3 ? READING_INDEX : READING_DELTA;
        r[i].ts_ns = ts[i];
        r[i].value = v[i];
    }
    codec_encode(&blob, r, 6, 0, DAY0, digits);
    assert_int_equal(codec_decode(blob.buf, blob.len, 0, DAY0, -1, &out), 0);
    assert_int_equal(out.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_true(out.e[i].ts_ns == ts[i]);
        assert_int_equal(out.e[i].field, r[i].field);
        if (isnan(v[i]))
            assert_true(isnan(out.e[i].value));
        else
            assert_true(out.e[i].value == v[i]);
    }
    sbuf_release(&blob);
    free(out.e);
}

static void test_resolution(void **state)
{
    struct reading r[3];
    struct sbuf blob = SBUF_INIT;
    struct codec_out out = {NULL, 0, 0};
    memset(r, 0, sizeof(r));
    double v[3] = {12.3456, 12.3444, -0.0049};
    for (int i = 0; i < 3; i++) {
        r[i].household = 1;
        r[i].metric = METRIC_ELECTRICITY; /* 0.01 kWh */
        r[i].ts_ns = DAY0 + i * HOUR_NS;
        r[i].value = v[i];
    }
    codec_encode(&blob, r, 3, 0, DAY0, digits);
    assert_int_equal(codec_decode(blob.buf, blob.len, 0, DAY0, -1, &out), 0);
    assert_true(out.e[0].value == 12.35);
    assert_true(out.e[1].value == 12.34);
    assert_true(out.e[2].value == 0.0);
    assert_true(codec_round(12.3456, 2) == 12.35);
    assert_true(codec_round(0.0015, 3) == 0.002);
    assert_true(codec_round(123.456, 3) == 123.456); /* exact decimal kept */
    assert_true(codec_round(1e300, 3) == 1e300);     /* stored raw */
    sbuf_release(&blob);
    free(out.e);
}

static void test_corrupt_refused(void **state)
{
    static struct reading r[64 * 3 * 24];
    struct sbuf blob = SBUF_INIT;
    struct codec_out out = {NULL, 0, 0};
    size_t n = make_day(r, 0);
    codec_encode(&blob, r, n, 0, DAY0, digits);
    unsigned char *b = (unsigned char *)blob.buf;
    /* every truncation is refused */
    for (size_t len = 0; len < blob.len; len += 1 + len / 7) {
        out.n = 0;
        assert_int_equal(codec_decode(b, len, 0, DAY0, -1, &out), CB_ESTORE);
    }
    /* trailing bytes, a bad version, a bad kind */
    unsigned char *copy = malloc(blob.len + 1);
    memcpy(copy, b, blob.len);
    copy[blob.len] = 0;
    assert_int_equal(codec_decode(copy, blob.len + 1, 0, DAY0, -1, &out),
                     CB_ESTORE);
    copy[0] = 9;
    assert_int_equal(codec_decode(copy, blob.len, 0, DAY0, -1, &out),
                     CB_ESTORE);
    memcpy(copy, b, blob.len);
    copy[3] = 0xf3; /* first run's kind: metric 3, digits 15 */
    assert_int_equal(codec_decode(copy, blob.len, 0, DAY0, -1, &out),
                     CB_ESTORE);
    /* an over-long varint */
    unsigned char longv[14] = {1};
    memset(longv + 1, 0xff, 12);
    assert_int_equal(codec_decode(longv, sizeof(longv), 0, DAY0, -1, &out),
                     CB_ESTORE);
    /* flipped bytes never crash: refused or decoded within bounds */
    for (size_t i = 0; i < blob.len; i += 13) {
        memcpy(copy, b, blob.len);
        copy[i] ^= 0x5a;
        out.n = 0;
        (void)codec_decode(copy, blob.len, 0, DAY0, -1, &out);
        assert_true(out.n <= blob.len);
    }
    free(copy);
    sbuf_release(&blob);
    free(out.e);
}

/* Hourly use of a meter-day: round trip at a resolution (values rounded
 * to it), raw when a value cannot be counted, unset hours kept unset. */
static void test_hours_round_trip(void **state)
{
    struct codec_hours h = {.mask = 0}, back;
    struct sbuf blob = SBUF_INIT;
    int d;
    for (int i = 0; i < CODEC_HOURS; i++)
        if (i != 3 && i != 17) {
            h.mask |= 1u << i;
            h.use[i] = 0.25 + 0.013 * i - (i == 9 ? 2.0 : 0);
        }
    codec_hours_encode(&blob, &h, 2);
    /* 4 bytes of head and about a byte an hour */
    assert_true(blob.len <= 4 + 2 * 22);
    assert_int_equal(codec_hours_decode(blob.buf, blob.len, &back, &d), 0);
    assert_int_equal(d, 2);
    assert_int_equal(back.mask, h.mask);
    for (int i = 0; i < CODEC_HOURS; i++)
        if (h.mask >> i & 1)
            assert_true(back.use[i] == codec_round(h.use[i], 2));
        else
            assert_true(back.use[i] == 0);
    /* raw: asked (digits < 0), or a value that cannot be counted */
    for (int pass = 0; pass < 2; pass++) {
        sbuf_reset(&blob);
        if (pass)
            h.use[5] = INFINITY;
        codec_hours_encode(&blob, &h, pass ? 3 : -1);
        assert_int_equal(blob.len, 4 + 8 * 22);
        assert_int_equal(codec_hours_decode(blob.buf, blob.len, &back, &d), 0);
        assert_int_equal(d, -1);
        for (int i = 0; i < CODEC_HOURS; i++)
            assert_true(back.use[i] == h.use[i]);
    }
    /* no hours at all */
    sbuf_reset(&blob);
    h.mask = 0;
    codec_hours_encode(&blob, &h, 3);
    assert_int_equal(blob.len, 4);
    assert_int_equal(codec_hours_decode(blob.buf, blob.len, &back, NULL), 0);
    assert_int_equal(back.mask, 0);
    sbuf_release(&blob);
}

/* A full day has no mask and its values in nibbles: a day of an hourly
 * meter at 0.01 kWh (0.20-0.70 kWh an hour) in about a byte an hour. */
static void test_hours_full_day_nibbles(void **state)
{
    struct codec_hours h = {.mask = (1u << CODEC_HOURS) - 1}, back;
    struct sbuf blob = SBUF_INIT;
    int d;
    for (int i = 0; i < CODEC_HOURS; i++)
        h.use[i] = 0.01 * (20 + (i * 7) % 11) + (i >= 18 ? 0.4 : 0);
    codec_hours_encode(&blob, &h, 2);
    assert_int_equal((unsigned char)blob.buf[0], 0x62); /* full, nibbles, 2 */
    /* deltas under 32 units: 2 nibbles, and a jump of 40 at 18: 3 */
    assert_true(blob.len <= 1 + 25);
    h.use[20] = 123456.78; /* one large value: more nibbles, still exact */
    sbuf_reset(&blob);
    codec_hours_encode(&blob, &h, 2);
    assert_int_equal(codec_hours_decode(blob.buf, blob.len, &back, &d), 0);
    assert_int_equal(d, 2);
    assert_int_equal(back.mask, h.mask);
    for (int i = 0; i < CODEC_HOURS; i++)
        assert_true(back.use[i] == codec_round(h.use[i], 2));
    /* every count that fits 64 bits round-trips through nibbles */
    h.use[0] = -4503599627370495.0; /* -(2^52 - 1): zz delta near 2^53 */
    h.use[1] = 4503599627370495.0;  /* a delta near 2^53 the other way */
    sbuf_reset(&blob);
    codec_hours_encode(&blob, &h, 0);
    assert_int_equal(codec_hours_decode(blob.buf, blob.len, &back, &d), 0);
    assert_true(back.use[0] == h.use[0] && back.use[1] == h.use[1]);
    sbuf_release(&blob);
}

/* Rows written before nibbles (a 3-byte mask, LEB128 varints) still
 * read; a nibble stream is refused when its last high nibble is set or a
 * value runs past 64 bits. */
static void test_hours_old_and_bad_nibbles(void **state)
{
    struct codec_hours back;
    int d;
    /* digits 2, hours 0 and 1: zz(5) = 10, zz(-2) = 3 */
    const unsigned char old[] = {0x02, 0x03, 0x00, 0x00, 10, 3};
    assert_int_equal(codec_hours_decode(old, sizeof(old), &back, &d), 0);
    assert_int_equal(d, 2);
    assert_int_equal(back.mask, 3);
    assert_true(back.use[0] == 0.05 && back.use[1] == 0.03);
    /* the same in nibbles: 10 = 0b1010 -> nibbles 0xA (2, more), 0x1;
     * 3 -> 0x3: bytes 0x1A, 0x03 (an odd count: high nibble 0) */
    const unsigned char nib[] = {0x22, 0x03, 0x00, 0x00, 0x1a, 0x03};
    assert_int_equal(codec_hours_decode(nib, sizeof(nib), &back, &d), 0);
    assert_true(back.use[0] == 0.05 && back.use[1] == 0.03);
    unsigned char bad[sizeof(nib)];
    memcpy(bad, nib, sizeof(nib));
    bad[5] = 0x13; /* the unused high nibble set */
    assert_int_equal(codec_hours_decode(bad, sizeof(bad), &back, NULL),
                     CB_ESTORE);
    /* hour 0 only: 22 nibbles of "more" then one: 69 bits */
    unsigned char longv[4 + 12] = {0x22, 0x01, 0x00, 0x00};
    memset(longv + 4, 0xff, 11);
    longv[15] = 0x01;
    assert_int_equal(codec_hours_decode(longv, sizeof(longv), &back, NULL),
                     CB_ESTORE);
}

static void test_hours_corrupt_refused(void **state)
{
    struct codec_hours h = {.mask = 0xffffff}, back;
    struct sbuf blob = SBUF_INIT;
    for (int i = 0; i < CODEC_HOURS; i++)
        h.use[i] = 1000.0 * i;
    codec_hours_encode(&blob, &h, 3);
    unsigned char *copy = malloc(blob.len + 1);
    memcpy(copy, blob.buf, blob.len);
    for (size_t len = 0; len < blob.len; len++)
        assert_int_equal(codec_hours_decode(copy, len, &back, NULL), CB_ESTORE);
    copy[blob.len] = 0; /* a trailing byte */
    assert_int_equal(codec_hours_decode(copy, blob.len + 1, &back, NULL),
                     CB_ESTORE);
    copy[0] = 10; /* digits 10 */
    assert_int_equal(codec_hours_decode(copy, blob.len, &back, NULL),
                     CB_ESTORE);
    copy[0] = 0x80 | 0x63; /* an unknown bit */
    assert_int_equal(codec_hours_decode(copy, blob.len, &back, NULL),
                     CB_ESTORE);
    copy[0] = 0x13; /* raw with digits */
    assert_int_equal(codec_hours_decode(copy, blob.len, &back, NULL),
                     CB_ESTORE);
    copy[0] = 0x30; /* raw with nibbles */
    assert_int_equal(codec_hours_decode(copy, blob.len, &back, NULL),
                     CB_ESTORE);
    assert_int_equal(codec_hours_decode(NULL, 0, &back, NULL), CB_ESTORE);
    /* flipped bytes never crash */
    for (size_t i = 0; i < blob.len; i++) {
        memcpy(copy, blob.buf, blob.len);
        copy[i] ^= 0xa5;
        (void)codec_hours_decode(copy, blob.len, &back, NULL);
    }
    free(copy);
    sbuf_release(&blob);
}

/* ---- delivery orders of an hour ---- */

static const struct delivery order_cases[] = {
    /* a platform's hex id and recipient, a household id */
    {"MT-12cd58060f6faf0d", "H0000006", NULL, "2f680495a87ce957",
     DAY0 + 39 * 60000000000LL, 6, 0},
    /* the same prefix, an address, unmatched */
    {"MT-8d8a7784d088efc5", NULL, "浦东江东路18弄1号楼302", "4281282202b98dd7",
     DAY0 + 17 * 60000000000LL, -1, 0},
    /* another prefix, ns set, a time before the previous one */
    {"EL-873d89687cd92421", NULL, "江东路18弄1号302室", "f261f20e87c4b723",
     DAY0 + 5 * 60000000000LL + 123, 1000000, 0},
    /* not hex: upper case digits, short ids, no recipient, empty id */
    {"MT-12CD58060F6FAF0D", NULL, NULL, NULL, DAY0 - 1, 0, 0},
    {"x", "H1", "", "9f2c", DAY0 + 3600LL * 1000000000LL, INT32_MAX, 0},
    {"", NULL, NULL, "0123456789abcdef0", DAY0, 5, 0},
    /* a bare 16-digit hex id (empty prefix), extreme times */
    {"ffffffffffffffff", NULL, NULL, "0000000000000000", INT64_MIN, 7, 0},
    {"0000000000000000", NULL, NULL, "ffffffffffffffff", INT64_MAX, 8, 0},
};

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void assert_same_orders(const struct delivery *a,
                               const struct delivery *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(a[i].order_id, b[i].order_id);
        assert_true(same_str(a[i].household_id, b[i].household_id));
        assert_true(same_str(a[i].address, b[i].address));
        assert_true(same_str(a[i].recipient, b[i].recipient));
        assert_true(a[i].ts_ns == b[i].ts_ns);
        assert_int_equal(a[i].household, b[i].household);
    }
}

/* Every field round-trips exactly, in the order given; a platform's order
 * costs about 20 bytes. */
static void test_orders_round_trip(void **state)
{
    size_t n = sizeof(order_cases) / sizeof(order_cases[0]);
    struct sbuf blob = SBUF_INIT;
    struct ingest_batch out;
    ingest_batch_init(&out, FEED_DELIVERIES);
    codec_orders_encode(&blob, order_cases, n, DAY0);
    assert_int_equal(codec_orders_decode(blob.buf, blob.len, DAY0, &out), 0);
    assert_int_equal(out.n, n);
    assert_same_orders(order_cases, out.deliveries, n);
    /* appends: a second block after the first */
    assert_int_equal(codec_orders_decode(blob.buf, blob.len, DAY0, &out), 0);
    assert_int_equal(out.n, 2 * n);
    assert_same_orders(order_cases, out.deliveries + n, n);
    /* an empty block */
    sbuf_reset(&blob);
    codec_orders_encode(&blob, order_cases, 0, DAY0);
    out.n = 0;
    assert_int_equal(codec_orders_decode(blob.buf, blob.len, DAY0, &out), 0);
    assert_int_equal(out.n, 0);
    /* size: 1,000 orders of one platform in an hour, with household ids */
    static struct delivery many[1000];
    static char ids[1000][24], recs[1000][20];
    for (int i = 0; i < 1000; i++) {
        snprintf(ids[i], sizeof(ids[i]), "MT-%016llx",
                 (unsigned long long)(i * 0x9e3779b97f4a7c15ULL));
        snprintf(recs[i], sizeof(recs[i]), "%016llx",
                 (unsigned long long)(i * 0xc2b2ae3d27d4eb4fULL));
        many[i] = (struct delivery){
            ids[i], NULL, NULL, recs[i], DAY0 + i * 3600000000LL, i * 7, 0};
    }
    sbuf_reset(&blob);
    codec_orders_encode(&blob, many, 1000, DAY0);
    assert_true(blob.len < 1000 * 24);
    out.n = 0;
    assert_int_equal(codec_orders_decode(blob.buf, blob.len, DAY0, &out), 0);
    assert_int_equal(out.n, 1000);
    assert_same_orders(many, out.deliveries, 1000);
    ingest_batch_release(&out);
    sbuf_release(&blob);
}

static void test_orders_corrupt_refused(void **state)
{
    size_t n = sizeof(order_cases) / sizeof(order_cases[0]);
    struct sbuf blob = SBUF_INIT;
    struct ingest_batch out;
    ingest_batch_init(&out, FEED_DELIVERIES);
    codec_orders_encode(&blob, order_cases, n, DAY0);
    unsigned char *b = (unsigned char *)blob.buf;
    for (size_t len = 0; len < blob.len; len++)
        assert_int_equal(codec_orders_decode(b, len, DAY0, &out), CB_ESTORE);
    unsigned char *copy = malloc(blob.len + 1);
    memcpy(copy, b, blob.len);
    copy[blob.len] = 0; /* trailing byte */
    assert_int_equal(codec_orders_decode(copy, blob.len + 1, DAY0, &out),
                     CB_ESTORE);
    copy[0] = 1; /* an ingest_log payload's version, not an order block */
    assert_int_equal(codec_orders_decode(copy, blob.len, DAY0, &out),
                     CB_ESTORE);
    /* a recipient in hex without the recipient flag; "same prefix" first */
    static const unsigned char bad_flags[] = {
        CODEC_ORDERS_VERSION, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(
        codec_orders_decode(bad_flags, sizeof(bad_flags), DAY0, &out),
        CB_ESTORE);
    static const unsigned char no_prefix[] = {
        CODEC_ORDERS_VERSION, 1, 0x30, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(
        codec_orders_decode(no_prefix, sizeof(no_prefix), DAY0, &out),
        CB_ESTORE);
    /* a string with a NUL byte; a household past int32 */
    static const unsigned char nul[] = {
        CODEC_ORDERS_VERSION, 1, 0, 0, 2, 'a', 0};
    assert_int_equal(codec_orders_decode(nul, sizeof(nul), DAY0, &out),
                     CB_ESTORE);
    static const unsigned char big_hh[] = {
        CODEC_ORDERS_VERSION, 1, 0x02, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0};
    assert_int_equal(codec_orders_decode(big_hh, sizeof(big_hh), DAY0, &out),
                     CB_ESTORE);
    /* flipped bytes never crash: refused or decoded within bounds */
    for (size_t i = 0; i < blob.len; i++) {
        memcpy(copy, b, blob.len);
        copy[i] ^= 0x5a;
        out.n = 0;
        (void)codec_orders_decode(copy, blob.len, DAY0, &out);
        assert_true(out.n <= blob.len);
    }
    free(copy);
    ingest_batch_release(&out);
    sbuf_release(&blob);
}

/* ---- indicator points ---- */

static void decode_points_ok(const struct sbuf *b, int64_t base,
                             struct codec_points *out)
{
    out->n = 0;
    assert_int_equal(codec_points_decode(b->buf, b->len, base, out), 0);
}

/* 64 hourly points: counts and 0.01-kWh sums read back exactly, scores
 * to the quantum, a missing value and the open bucket's missing score
 * kept missing; a few bytes a point. */
static void test_points_round_trip(void **state)
{
    struct codec_point p[64];
    for (int i = 0; i < 64; i++) {
        p[i].ts_ns = DAY0 + i * HOUR_NS;
        p[i].value = i % 2 ? (double)(i * 7) : (12345 + i * 31) / 100.0;
        p[i].score = i / 64.0;
    }
    p[10].value = NAN;
    p[63].score = NAN;
    p[5].score = 0.999;
    p[6].score = 0.9999;
    p[7].score = 1.0;
    struct sbuf b = SBUF_INIT;
    struct codec_points out = {0};
    codec_points_encode(&b, p, 64, DAY0);
    assert_true(b.len < 64 * 6);
    decode_points_ok(&b, DAY0, &out);
    assert_int_equal(out.n, 64);
    for (int i = 0; i < 64; i++) {
        assert_true(out.p[i].ts_ns == p[i].ts_ns);
        if (i == 10)
            assert_true(isnan(out.p[i].value));
        else
            assert_true(out.p[i].value == p[i].value);
        if (i == 63) {
            assert_true(isnan(out.p[i].score));
            continue;
        }
        assert_true(out.p[i].score == codec_score_round(p[i].score));
        double tail = 1 - p[i].score, back = 1 - out.p[i].score;
        assert_true(fabs(back - tail) <= 0.012 * tail + 1e-15);
    }
    /* the thresholds stay apart */
    assert_true(out.p[5].score < out.p[6].score);
    assert_true(out.p[6].score < out.p[7].score);
    assert_true(out.p[7].score == 1.0);
    assert_true(out.p[0].score == 0.0);
    free(out.p);
    sbuf_release(&b);
}

/* Irregular times in ns, values that need 10^-6, huge values (raw), and
 * a block of one point. */
static void test_points_odd(void **state)
{
    struct codec_point p[5] = {
        {-5, 1.0 / 3, 0.5},           {7, -2.5, NAN},
        {1000000007, 123456.7, 0.25}, {5000000000LL, 2e-7, 0.75},
        {INT64_MAX - 3, 1e300, 0.1},
    };
    struct sbuf b = SBUF_INIT;
    struct codec_points out = {0};
    /* raw: exact */
    codec_points_encode(&b, p, 5, 0);
    decode_points_ok(&b, 0, &out);
    assert_int_equal(out.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_true(out.p[i].ts_ns == p[i].ts_ns);
        assert_true(out.p[i].value == p[i].value);
    }
    assert_true(isnan(out.p[1].score));
    /* without the huge one: 10^-6 */
    sbuf_reset(&b);
    codec_points_encode(&b, p, 4, 12345);
    decode_points_ok(&b, 12345, &out);
    assert_int_equal(out.n, 4);
    assert_true(out.p[0].value == 0.333333);
    assert_true(out.p[1].value == -2.5);
    assert_true(out.p[3].value == 0.0);
    /* one point */
    sbuf_reset(&b);
    codec_points_encode(&b, p + 2, 1, 0);
    decode_points_ok(&b, 0, &out);
    assert_int_equal(out.n, 1);
    assert_true(out.p[0].ts_ns == 1000000007 && out.p[0].value == 123456.7);
    free(out.p);
    sbuf_release(&b);
}

static void test_points_corrupt_refused(void **state)
{
    struct codec_point p[20];
    for (int i = 0; i < 20; i++)
        p[i] = (struct codec_point){DAY0 + i * HOUR_NS + (i == 9) * HOUR_NS / 2,
                                    i * 1.5, i % 3 ? 0.5 : NAN};
    p[4].value = NAN;
    struct sbuf b = SBUF_INIT;
    struct codec_points out = {0};
    codec_points_encode(&b, p, 20, DAY0);
    decode_points_ok(&b, DAY0, &out);
    assert_int_equal(out.n, 20);
    unsigned char *c = malloc(b.len + 1);
    /* every truncation and a trailing byte */
    for (size_t len = 0; len < b.len; len++) {
        out.n = 0;
        assert_int_equal(codec_points_decode(b.buf, len, DAY0, &out),
                         CB_ESTORE);
    }
    memcpy(c, b.buf, b.len);
    c[b.len] = 0;
    out.n = 0;
    assert_int_equal(codec_points_decode(c, b.len + 1, DAY0, &out), CB_ESTORE);
    /* a bad version, an unknown flag, digits above 6, n = 0 */
    memcpy(c, b.buf, b.len);
    c[0] = 0xd1;
    assert_int_equal(codec_points_decode(c, b.len, DAY0, &out), CB_ESTORE);
    memcpy(c, b.buf, b.len);
    c[2] |= 0x80;
    assert_int_equal(codec_points_decode(c, b.len, DAY0, &out), CB_ESTORE);
    memcpy(c, b.buf, b.len);
    c[3] = 7;
    assert_int_equal(codec_points_decode(c, b.len, DAY0, &out), CB_ESTORE);
    memcpy(c, b.buf, b.len);
    c[1] = 0;
    assert_int_equal(codec_points_decode(c, b.len, DAY0, &out), CB_ESTORE);
    /* every single byte changed: refused, or points in time order */
    for (size_t i = 0; i < b.len; i++)
        for (int x = 1; x < 256; x <<= 1) {
            memcpy(c, b.buf, b.len);
            c[i] ^= (unsigned char)x;
            out.n = 0;
            if (codec_points_decode(c, b.len, DAY0, &out))
                continue;
            for (size_t k = 1; k < out.n; k++)
                assert_true(out.p[k].ts_ns > out.p[k - 1].ts_ns);
        }
    /* a time not after the one before */
    static const unsigned char same_time[] = {0xe1, 2, 0x0c, 0, 0, 0, 1, 2};
    assert_int_equal(codec_points_decode(same_time, sizeof(same_time), 0, &out),
                     CB_ESTORE);
    /* a score above 2000 */
    static const unsigned char big_q[] = {0xe1, 1, 0x0c, 0, 0, 0, 0xd1, 0x0f};
    assert_int_equal(codec_points_decode(big_q, sizeof(big_q), 0, &out),
                     CB_ESTORE);
    free(c);
    free(out.p);
    sbuf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_short_runs),
        cmocka_unit_test(test_version_1_read),
        cmocka_unit_test(test_times_in_seconds),
        cmocka_unit_test(test_odd_values_and_times),
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_corrupt_refused),
        cmocka_unit_test(test_hours_round_trip),
        cmocka_unit_test(test_hours_corrupt_refused),
        cmocka_unit_test(test_hours_full_day_nibbles),
        cmocka_unit_test(test_hours_old_and_bad_nibbles),
        cmocka_unit_test(test_orders_round_trip),
        cmocka_unit_test(test_orders_corrupt_refused),
        cmocka_unit_test(test_points_round_trip),
        cmocka_unit_test(test_points_odd),
        cmocka_unit_test(test_points_corrupt_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
