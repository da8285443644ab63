/* test_usage_hourly.c - a household's hourly use: the store's read
 * (store_usage_hourly_read), its JSON (render_usage_hourly, numbers as
 * %.12g writes them) and the roll-up's hourly use handed to consumers
 * (on_usage_hour), which must add up to what the read returns. */
#include <math.h>

/* the fixture's helpers this file does not need */
#pragma GCC diagnostic ignored "-Wunused-function"

#include "render/render.h"
#include "store/store_int.h"
#include "test_store_fixture.h"

#define HOURS 30

static int64_t nov(unsigned d)
{
    return time_days_from_civil(2026, 11, d);
}

/* The use per hour the roll-up handed on, from 2026-11-01 00:00+08:00. */
struct seen {
    int64_t first_hour;
    double use[METRIC_COUNT][HOURS + 2];
    int other; /* another household's, or outside the window */
};

static void on_hour(void *ctx, int32_t household, int metric, int64_t hour,
                    double use)
{
    struct seen *s = ctx;
    int64_t i = hour - s->first_hour;
    if (household != 1 || i < 0 || i >= HOURS + 2)
        s->other++;
    else
        s->use[metric][i] += use;
}

/* Electricity use of hour i: small, whole, huge (printed by printf). */
static double elec_use(int i)
{
    static const double cycle[] = {0.05, 1.25, 12, 0, 0.3};
    return i == 7 ? 1234567890.12 : cycle[i % 5];
}

static void write_hours(struct store *st)
{
    struct ingest_batch b;
    double e = 100, w = 10;
    batch_new(&b, FEED_READINGS, 2 * (HOURS + 1));
    for (int i = 0; i <= HOURS; i++) {
        int64_t ts = local_midnight(2026, 11, 1) + i * HOUR_NS;
        set_reading(&b, 2 * (size_t)i, 1, METRIC_ELECTRICITY, READING_INDEX, ts,
                    e);
        set_reading(&b, 2 * (size_t)i + 1, 1, METRIC_WATER, READING_INDEX, ts,
                    w);
        e += elec_use(i);
        w += 0.005;
    }
    struct store_write_result res;
    assert_int_equal(store_write(st, &b, "meters", &res), 0);
    ingest_batch_release(&b);
}

struct got {
    struct store_usage_hour h[HOURS + 2];
    int n;
};

static void collect(void *ctx, const struct store_usage_hour *h)
{
    struct got *g = ctx;
    assert_true(g->n < HOURS + 2);
    g->h[g->n++] = *h;
}

static void test_hourly_read_and_consumers(void **state)
{
    struct fixture *fx = fx_new(20);
    struct seen seen = {.first_hour = local_midnight(2026, 11, 1) / HOUR_NS};
    store_close(fx->st);
    fx_open(fx);
    struct store_consumer c = {
        .name = "hours", .on_usage_hour = on_hour, .ctx = &seen};
    assert_int_equal(store_consumer_register(fx->st, &c), 0);
    fx_start(fx);
    add_households(fx->st, 2);
    write_hours(fx->st);
    assert_int_equal(store_rollup_flush(fx->st), 0);

    struct got g = {0};
    assert_int_equal(
        store_usage_hourly_read(fx->st, 1, nov(1), nov(3), collect, &g), 0);
    assert_int_equal(g.n, HOURS);
    for (int i = 0; i < HOURS; i++) {
        assert_int_equal(g.h[i].hour, seen.first_hour + i);
        /* an hour the register stood still has use 0, not none */
        assert_int_equal(g.h[i].has,
                         (1u << METRIC_WATER) | (1u << METRIC_ELECTRICITY));
        assert_true(fabs(g.h[i].use[METRIC_WATER] - 0.005) < 1e-12);
        assert_true(fabs(seen.use[METRIC_WATER][i] - 0.005) < 1e-12);
        assert_true(fabs(g.h[i].use[METRIC_ELECTRICITY] - elec_use(i)) < 1e-6);
        assert_true(fabs(seen.use[METRIC_ELECTRICITY][i] -
                         g.h[i].use[METRIC_ELECTRICITY]) < 1e-6);
    }
    assert_int_equal(seen.other, 0);

    /* one day only; nothing before the data; another household: none */
    memset(&g, 0, sizeof(g));
    assert_int_equal(
        store_usage_hourly_read(fx->st, 1, nov(2), nov(3), collect, &g), 0);
    assert_int_equal(g.n, HOURS - 24);
    assert_int_equal(g.h[0].hour, seen.first_hour + 24);
    memset(&g, 0, sizeof(g));
    assert_int_equal(
        store_usage_hourly_read(fx->st, 1, nov(1) - 9, nov(1), collect, &g), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(
        store_usage_hourly_read(fx->st, 2, nov(1), nov(3), collect, &g), 0);
    assert_int_equal(g.n, 0);
    fx_free(fx);
}

static void test_hourly_json(void **state)
{
    struct fixture *fx = fx_new(20);
    add_households(fx->st, 2);
    write_hours(fx->st);
    assert_int_equal(store_rollup_flush(fx->st), 0);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(render_usage_hourly(fx->st, 1, nov(1), nov(3), &sb), 0);
    static const char head[] =
        "[{\"hour\":\"2026-11-01T00:00:00+08:00\",\"water\":0.005,"
        "\"electricity\":0.05},"
        "{\"hour\":\"2026-11-01T01:00:00+08:00\",\"water\":0.005,"
        "\"electricity\":1.25},"
        "{\"hour\":\"2026-11-01T02:00:00+08:00\",\"water\":0.005,"
        "\"electricity\":12},"
        "{\"hour\":\"2026-11-01T03:00:00+08:00\",\"water\":0.005,"
        "\"electricity\":0},"
        "{\"hour\":\"2026-11-01T04:00:00+08:00\",\"water\":0.005,"
        "\"electricity\":0.3},";
    if (strncmp(sb.buf, head, strlen(head)))
        fail_msg("got %.400s", sb.buf);
    /* past 1e9 the number is printf's %.12g, as everywhere else */
    assert_non_null(strstr(sb.buf,
                           "{\"hour\":\"2026-11-01T07:00:00+08:00\",\"water\":"
                           "0.005,\"electricity\":1234567890.12}"));
    /* the next local day is formatted afresh */
    assert_non_null(
        strstr(sb.buf, "},{\"hour\":\"2026-11-02T00:00:00+08:00\",\"water\":"
                       "0.005,\"electricity\":0.3},"));
    assert_non_null(strstr(sb.buf, "{\"hour\":\"2026-11-02T05:00:00+08:00\""));
    assert_null(strstr(sb.buf, "2026-11-02T06:00"));
    sbuf_reset(&sb);
    assert_int_equal(render_usage_hourly(fx->st, 2, nov(1), nov(3), &sb), 0);
    assert_string_equal(sb.buf, "[]");
    sbuf_release(&sb);
    fx_free(fx);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hourly_read_and_consumers),
        cmocka_unit_test(test_hourly_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
