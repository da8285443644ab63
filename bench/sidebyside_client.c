/*
 * sidebyside_client.c - the side-by-side workload of issue 10, as line
 * protocol over HTTP/1.1 keep-alive, for bench/storage_sidebyside.
 *
 * HOUSEHOLDS households (B0000001..) x DAYS days, from midnight UTC DAYS
 * days before today: hourly electricity and water, daily gas (at 00:00
 * UTC), all as meter indexes, in time order: hour after hour, each hour's
 * electricity, then water, then (at midnight) gas, BATCH lines a request.
 * CONNS connections (one thread each) take the requests in that order
 * from a shared counter, so at most CONNS requests are in flight out of
 * order.  HOUSEHOLDS x DAYS x (24 + 24 + 1) readings in all: 68.6 M for
 * 100,000 x 14.
 *
 * The indexes are deterministic and never go down: household h's meter
 * of metric m reads base + step * (A * t + jitter(h, m, t)) at hour t,
 * A >= 50 and jitter in 0..49, so each hour's use varies (0.01 kWh
 * electricity, 0.001 m³ water and gas, at the metrics' default resolution).
 *
 *   sidebyside_client HOST PORT TOKEN HOUSEHOLDS DAYS BATCH CONNS
 *
 * Prints one line: "sidebyside <readings/s> <readings> <seconds> <non2xx>"
 * and exits 1 when a request failed.
 */
#include "bench_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ELECTRICITY, WATER, GAS };
static const char *metric_name[] = {"electricity", "water", "gas"};

/* One request: BATCH households from first, one metric, one hour. */
struct request_plan {
    int32_t hour, first;
    int metric;
};

struct workload {
    const char *host, *token;
    int port, households, batch;
    long long t0; /* the first hour, seconds since the epoch */
    struct request_plan *plan;
    long long n_plan;
    _Atomic long long next, readings, failures;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* The meter's index at hour t, in its resolution's units. */
static long long meter_units(int h, int metric, int t)
{
    uint32_t k = mix((uint32_t)h * 3U + (uint32_t)metric);
    long long base = k % 1000000, a = 50 + k % 200;
    if (metric == GAS) /* a daily read: t is a multiple of 24 */
        a *= 24;
    return base + a * t + mix(k ^ (uint32_t)t * 2654435761U) % 50;
}

/* Appends v / 10^decimals to p; returns the new end. */
static char *put_fixed(char *p, long long v, int decimals)
{
    char tmp[32];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n <= decimals);
    while (n) {
        *p++ = tmp[--n];
        if (n == decimals && n)
            *p++ = '.';
    }
    return p;
}

static size_t build_body(const struct workload *w, const struct request_plan *r,
                         char *b)
{
    char *p = b;
    int decimals = r->metric == ELECTRICITY ? 2 : 3;
    long long ts = w->t0 + (long long)r->hour * 3600;
    for (int i = 0; i < w->batch && r->first + i <= w->households; i++) {
        int h = r->first + i;
        p += sprintf(p, "%s,household=B%07d index=", metric_name[r->metric], h);
        p = put_fixed(p, meter_units(h, r->metric, r->hour), decimals);
        p += sprintf(p, " %lld\n", ts);
    }
    return (size_t)(p - b);
}

/* Sends one request, retrying on 503 (backpressure); the status. */
static int post(struct workload *w, int *fd, const char *body, size_t len,
                char *resp, size_t cap)
{
    char head[512];
    int hl = snprintf(head, sizeof(head),
                      "POST /api/v1/write?precision=s HTTP/1.1\r\nHost: %s\r\n"
                      "Authorization: Bearer %s\r\nContent-Type: text/plain\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      w->host, w->token, len);
    for (int tries = 0; tries < 100; tries++) {
        if (*fd < 0 && (*fd = bench_http_connect(w->host, w->port)) < 0)
            return -1;
        int st = -1;
        if (!bench_http_send_all(*fd, head, (size_t)hl) &&
            !bench_http_send_all(*fd, body, len))
            st = bench_http_read_response(*fd, resp, cap);
        if (st != 503)
            return st;
        usleep(100000);
    }
    return 503;
}

static void *run(void *arg)
{
    struct workload *w = arg;
    char *body = malloc((size_t)w->batch * 80 + 64), resp[65536];
    int fd = -1;
    for (;;) {
        long long k = atomic_fetch_add(&w->next, 1);
        if (k >= w->n_plan)
            break;
        const struct request_plan *r = &w->plan[k];
        size_t len = build_body(w, r, body);
        int st = post(w, &fd, body, len, resp, sizeof(resp));
        int n = w->households - r->first + 1;
        if (st >= 200 && st < 300) {
            atomic_fetch_add(&w->readings, n < w->batch ? n : w->batch);
        } else {
            atomic_fetch_add(&w->failures, 1);
            fprintf(stderr, "request %lld: status %d\n", k, st);
            if (st < 0)
                break;
        }
    }
    if (fd >= 0)
        close(fd);
    free(body);
    return NULL;
}

/* Hour after hour: electricity, water, and at midnight gas. */
static void plan_requests(struct workload *w, int days)
{
    long long per = (w->households + w->batch - 1) / w->batch;
    w->plan = malloc(sizeof(*w->plan) * (size_t)(per * 3 * 24 * days));
    w->n_plan = 0;
    for (int t = 0; t < days * 24; t++)
        for (int m = ELECTRICITY; m <= GAS; m++) {
            if (m == GAS && t % 24)
                continue;
            for (long long c = 0; c < per; c++)
                w->plan[w->n_plan++] =
                    (struct request_plan){t, (int32_t)(1 + c * w->batch), m};
        }
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: sidebyside_client HOST PORT TOKEN HOUSEHOLDS "
                        "DAYS BATCH CONNS\n");
        return 2;
    }
    struct workload w = {.host = argv[1],
                         .port = atoi(argv[2]),
                         .token = argv[3],
                         .households = atoi(argv[4]),
                         .batch = atoi(argv[6])};
    int days = atoi(argv[5]), conns = atoi(argv[7]);
    w.t0 = ((long long)time(NULL) / 86400 - days) * 86400;
    plan_requests(&w, days);
    pthread_t th[64];
    if (conns < 1 || conns > 64)
        return 2;
    double t0 = now();
    for (int i = 0; i < conns; i++)
        pthread_create(&th[i], NULL, run, &w);
    for (int i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    double secs = now() - t0;
    long long n = atomic_load(&w.readings);
    printf("sidebyside %.0f %lld %.1f %lld\n", n / secs, n, secs,
           (long long)atomic_load(&w.failures));
    free(w.plan);
    return atomic_load(&w.failures) ? 1 : 0;
}
