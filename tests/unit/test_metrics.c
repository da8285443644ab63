/* test_metrics.c - Prometheus rendering and bounded label sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "metrics/metrics.h"

static void test_counters_render(void **state)
{
    metrics_ingest(FEED_READINGS, "water\"co", 10, 2, 1, BATCH_OK);
    metrics_ingest(FEED_READINGS, "water\"co", 5, 0, 0, BATCH_OK);
    metrics_request("/api/v1/write", 200, 3000000);
    struct store_stats st = {.queue_depth = 3, .queue_max = 64};
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    metrics_render(&out, &st);
    assert_non_null(strstr(out.buf, "citybrain_ingest_records_total{feed="
                                    "\"readings\",source=\"water_co\"} 15"));
    assert_non_null(strstr(out.buf, "citybrain_ingest_duplicates_total{feed="
                                    "\"readings\",source=\"water_co\"} 2"));
    assert_non_null(strstr(out.buf, "le=\"0.005\"} 1"));
    assert_non_null(strstr(out.buf, "citybrain_store_queue_depth 3"));
    sbuf_release(&out);
}

static void test_sources_are_bounded(void **state)
{
    char name[32];
    for (int i = 0; i < METRICS_MAX_SOURCES + 50; i++) {
        snprintf(name, sizeof(name), "src%d", i);
        metrics_ingest(FEED_EVENTS, name, 1, 0, 0, BATCH_OK);
    }
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    metrics_render(&out, NULL);
    assert_non_null(strstr(out.buf, "feed=\"events\",source=\"other\"}"));
    assert_null(strstr(out.buf, "source=\"src170\""));
    sbuf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_render),
        cmocka_unit_test(test_sources_are_bounded),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
