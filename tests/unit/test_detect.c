/* test_detect.c - the streaming anomaly detector and detect-series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "util/util.h"

#include "test_detect_gen.h"

static int64_t g_ts[GEN_ROWS];
static double g_value[GEN_ROWS];
static double g_score[GEN_ROWS];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of the scores of rows [from, GEN_ROWS) that pass keep(). */
static double quantile(int from, int (*keep)(int), double q)
{
    static double sorted[GEN_ROWS];
    int n = 0;
    for (int i = from; i < GEN_ROWS; i++)
        if (!keep || keep(i))
            sorted[n++] = g_score[i];
    qsort(sorted, (size_t)n, sizeof(double), cmp_double);
    return sorted[(int)(q * (n - 1))];
}

/* Rows near an injected anomaly, where high scores are right. */
static int is_anomalous(int i)
{
    return (i >= GEN_SPIKE && i <= GEN_SPIKE + 2) ||
           (i >= GEN_DIP && i <= GEN_DIP + 2) ||
           (i >= GEN_STUCK_FROM && i < GEN_STUCK_TO + 6) ||
           (i >= GEN_SHIFT && i < GEN_SHIFT + 36);
}

static int is_normal(int i)
{
    return !is_anomalous(i);
}

static void score_series(uint64_t seed)
{
    gen_series(seed, g_ts, g_value);
    struct detector *det = detect_new(NULL);
    for (int i = 0; i < GEN_ROWS; i++) {
        struct detect_result res;
        assert_int_equal(detect_update(det, g_ts[i], g_value[i], &res), 0);
        g_score[i] = res.score;
    }
    detect_free(det);
}

static double max_score(int from, int to)
{
    double m = 0;
    for (int i = from; i < to; i++)
        m = fmax(m, g_score[i]);
    return m;
}

static void check_injected(uint64_t seed)
{
    score_series(seed);
    for (int i = 0; i < GEN_ROWS; i++)
        assert_true(g_score[i] >= 0.0 && g_score[i] <= 1.0);
    /* after the first week, when both profiles have been seen once */
    int from = 7 * GEN_PER_DAY;
    double p97 = quantile(from, NULL, 0.97);
    assert_true(g_score[GEN_SPIKE] > 0.8 && g_score[GEN_SPIKE] >= p97);
    assert_true(g_score[GEN_DIP] > 0.8 && g_score[GEN_DIP] >= p97);
    double shift = max_score(GEN_SHIFT, GEN_SHIFT + 3);
    assert_true(shift > 0.8 && shift >= p97);
    int stuck_high = 0;
    for (int i = GEN_STUCK_FROM + 5; i < GEN_STUCK_TO; i++)
        stuck_high += g_score[i] > 0.8;
    assert_true(stuck_high >= (GEN_STUCK_TO - GEN_STUCK_FROM - 5) * 9 / 10);

    assert_true(quantile(from, is_normal, 0.5) < 0.05);
    assert_true(quantile(from, is_normal, 0.99) < 0.5);
    /* the level shift is accepted: the day after it scores as normal */
    assert_true(quantile(GEN_SHIFT + GEN_PER_DAY, NULL, 0.5) < 0.05);
    assert_true(quantile(GEN_SHIFT + GEN_PER_DAY, NULL, 0.99) < 0.5);
}

static void test_flags_injected_anomalies(void **state)
{
    for (uint64_t seed = 1; seed <= 8; seed++)
        check_injected(seed);
}

static void test_causal_and_deterministic(void **state)
{
    score_series(3);
    static double again[GEN_ROWS];
    int prefix = GEN_ROWS / 2 + 17;
    for (int run = 0; run < 2; run++) {
        struct detector *det = detect_new(NULL);
        int n = run == 0 ? prefix : GEN_ROWS;
        for (int i = 0; i < n; i++) {
            struct detect_result res;
            detect_update(det, g_ts[i], g_value[i], &res);
            again[i] = res.score;
        }
        detect_free(det);
        assert_memory_equal(again, g_score, (size_t)n * sizeof(double));
    }
}

static void test_probation_scores_zero(void **state)
{
    gen_series(2, g_ts, g_value);
    struct detect_params params;
    detect_params_init(&params);
    params.probation_rows = 500;
    struct detector *det = detect_new(&params);
    struct detect_result res;
    for (int i = 0; i < GEN_ROWS; i++) {
        detect_update(det, g_ts[i], g_value[i], &res);
        if (i < 500) {
            assert_true(res.learning);
            assert_true(res.score == 0.0);
        }
        if (i == GEN_SPIKE)
            assert_true(res.score > 0.8);
    }
    assert_true(detect_step(det) == GEN_STEP);
    detect_free(det);

    det = detect_new(NULL); /* default: one day of data */
    for (int i = 0; i < GEN_PER_DAY; i++) {
        detect_update(det, g_ts[i], g_value[i], &res);
        assert_true(res.learning && res.score == 0.0);
    }
    detect_free(det);
}

/* Jitter, drops, repeats, backward steps and a gap of more than a day. */
static void test_irregular_time(void **state)
{
    gen_series(4, g_ts, g_value);
    struct gen_rng rng = {99};
    struct detector *det = detect_new(NULL);
    struct detect_result res;
    int gap_from = 30 * GEN_PER_DAY, gap_to = 31 * GEN_PER_DAY + 30;
    double spike = 0, after_gap = 0;
    for (int i = 0; i < GEN_ROWS; i++) {
        double u = gen_uniform(&rng);
        if ((i >= gap_from && i < gap_to) || (u < 0.05 && i != GEN_SPIKE))
            continue;
        int64_t ts = g_ts[i] + (int64_t)((gen_uniform(&rng) - 0.5) * 120);
        if (u > 0.97 && i > 0)
            ts = g_ts[i - 1] - 30; /* a small step back */
        for (int k = 0; k < (u > 0.98 ? 2 : 1); k++) {
            assert_int_equal(detect_update(det, ts, g_value[i], &res), 0);
            assert_true(res.score >= 0.0 && res.score <= 1.0);
            assert_false(isnan(res.expected) && !res.learning);
        }
        if (i == GEN_SPIKE)
            spike = res.score;
        if (i >= gap_to && i < gap_to + 20)
            after_gap = fmax(after_gap, res.score);
    }
    assert_true(spike > 0.8);
    assert_true(after_gap < 0.5);
    assert_true(fabs(detect_step(det) - GEN_STEP) < 60);
    detect_free(det);
}

static void test_missing_values_leave_state(void **state)
{
    gen_series(5, g_ts, g_value);
    struct detector *plain = detect_new(NULL), *holey = detect_new(NULL);
    struct detect_result a, b;
    for (int i = 0; i < 3 * GEN_PER_DAY; i++) {
        if (i % 100 == 50) {
            assert_int_equal(detect_update(holey, g_ts[i], NAN, &b), CB_EINVAL);
            assert_true(b.score == 0.0);
            assert_int_equal(detect_update(holey, g_ts[i], INFINITY, &b),
                             CB_EINVAL);
        }
        detect_update(plain, g_ts[i], g_value[i], &a);
        detect_update(holey, g_ts[i], g_value[i], &b);
        assert_memory_equal(&a, &b, sizeof(a));
    }
    detect_free(plain);
    detect_free(holey);
}

static void test_degenerate_series(void **state)
{
    struct detector *det = detect_new(NULL);
    struct detect_result res;
    int64_t t0 = GEN_T0;
    for (int i = 0; i < 2000; i++) {
        detect_update(det, t0 + i * 300, 7.0, &res); /* constant */
        assert_true(res.score >= 0.0 && res.score <= 1.0);
        if (i > 400)
            assert_true(res.score < 0.5);
    }
    detect_update(det, t0 + 2000 * 300, 9.0, &res);
    assert_true(res.score > 0.8); /* any change of a constant is news */
    detect_free(det);

    det = detect_new(NULL); /* one timestamp only; huge values */
    for (int i = 0; i < 500; i++) {
        double v = i % 7 == 0 ? 1e300 : i % 11 == 0 ? -1e300 : i;
        detect_update(det, t0, v, &res);
        assert_true(res.score >= 0.0 && res.score <= 1.0);
    }
    detect_free(det);

    det = detect_new(NULL); /* daily data with a weekly shape */
    for (int i = 0; i < 400; i++) {
        double v = (i % 7 >= 5 ? 50 : 100) + (i % 3);
        detect_update(det, t0 + (int64_t)i * 86400, i == 300 ? 200 : v, &res);
        assert_true(res.score >= 0.0 && res.score <= 1.0);
        if (i == 300)
            assert_true(res.score > 0.8);
    }
    assert_true(detect_step(det) == 86400);
    detect_free(det);
    detect_free(NULL);
}

/* Runs detect_run over text; returns the output (free it) and warnings. */
static char *run_cli(const char *text, long probation, char **OUT_warn)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    char *out_buf = NULL, *warn_buf = NULL;
    size_t out_len = 0, warn_len = 0;
    FILE *out = open_memstream(&out_buf, &out_len);
    FILE *warn = open_memstream(&warn_buf, &warn_len);
    assert_non_null(in);
    assert_int_equal(detect_run(in, out, warn, probation), 0);
    fclose(in);
    fclose(out);
    fclose(warn);
    *OUT_warn = warn_buf;
    return out_buf;
}

static void test_cli_rows_in_order(void **state)
{
    gen_series(6, g_ts, g_value);
    struct sbuf in = SBUF_INIT;
    sbuf_addstr(&in, "\xEF\xBB\xBFtimestamp,value\r\n");
    for (int i = 0; i < 3 * GEN_PER_DAY; i++) {
        int64_t days = g_ts[i] / 86400, sod = g_ts[i] % 86400;
        int y;
        unsigned m, d;
        time_civil_from_days(days, &y, &m, &d);
        sbuf_addf(&in, "%04d-%02u-%02u %02d:%02d:%02d,%.0f\r\n", y, m, d,
                  (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
                  g_value[i]);
    }
    sbuf_addstr(&in, "garbage,1\n2026-01-08 00:00:00,abc\n\n"
                     "2026-01-08 00:10:00\n2026-01-08 00:20:00,\"12.50\"\n");
    char *warn, *out = run_cli(in.buf, -1, &warn);
    assert_non_null(strstr(out, "\ngarbage,1,0.000000\n"));
    assert_non_null(strstr(out, "\n2026-01-08 00:00:00,abc,0.000000\n"));
    assert_non_null(strstr(out, "\n2026-01-08 00:10:00,,0.000000\n"));
    assert_non_null(strstr(out, "\n2026-01-08 00:20:00,\"12.50\","));
    assert_non_null(strstr(warn, "line 434: bad timestamp 'garbage'"));
    assert_non_null(strstr(warn, "line 435: bad value 'abc'"));
    assert_non_null(strstr(warn, "line 437: no value field"));
    assert_int_equal(strncmp(out, "timestamp,value,anomaly_score\n", 30), 0);
    char *line, *next;
    int n = 0;
    for (line = strchr(out, '\n') + 1; *line; line = next + 1, n++) {
        next = strchr(line, '\n');
        assert_non_null(next);
        *next = '\0';
        if (n < 3 * GEN_PER_DAY) {
            char want[64];
            snprintf(want, sizeof(want), ",%.0f,", g_value[n]);
            assert_non_null(strstr(line, want));
            const char *score_text = strrchr(line, ',') + 1;
            double score = atof(score_text);
            assert_true(score >= 0.0 && score <= 1.0);
            assert_true(strlen(score_text) >= 8); /* 6 digits or more */
        }
    }
    assert_int_equal(n, 3 * GEN_PER_DAY + 4);
    free(out);
    free(warn);
    sbuf_release(&in);
}

static void test_cli_prefix_and_no_header(void **state)
{
    const char *text = "2026-01-01 00:00:00,5\n2026-01-01 00:30:00,6\n"
                       "2026-01-01 01:00:00,7\n2026-01-01 01:00:00,7\n"
                       "2026-01-01 00:59:00,8\n2026-01-01 02:00:00,1e3\n";
    char *warn, *full = run_cli(text, 0, &warn);
    assert_int_equal(strncmp(full,
                             "timestamp,value,anomaly_score\n"
                             "2026-01-01 00:00:00,5,",
                             52),
                     0);
    int lines = 0;
    for (const char *c = full; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 7);
    assert_string_equal(warn, "");
    free(warn);
    /* a prefix of the input gives a prefix of the output */
    const char *cut = strstr(text, "2026-01-01 01:00:00,7\n2026-01-01 00:59");
    char *prefix_text = strndup(text, (size_t)(cut - text));
    char *part = run_cli(prefix_text, 0, &warn);
    assert_int_equal(strncmp(full, part, strlen(part)), 0);
    free(prefix_text);
    free(part);
    free(full);
    free(warn);
}

static void test_cli_arguments(void **state)
{
    char *bad_count[] = {"detect-series", "--probation", "x", NULL};
    char *missing[] = {"detect-series", "--probation", NULL};
    char *unknown[] = {"detect-series", "--bogus", NULL};
    assert_int_equal(detect_main(3, bad_count), 2);
    assert_int_equal(detect_main(2, missing), 2);
    assert_int_equal(detect_main(2, unknown), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_injected_anomalies),
        cmocka_unit_test(test_causal_and_deterministic),
        cmocka_unit_test(test_probation_scores_zero),
        cmocka_unit_test(test_irregular_time),
        cmocka_unit_test(test_missing_values_leave_state),
        cmocka_unit_test(test_degenerate_series),
        cmocka_unit_test(test_cli_rows_in_order),
        cmocka_unit_test(test_cli_prefix_and_no_header),
        cmocka_unit_test(test_cli_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
