/*
 * bench/read_http.c - times GETs as a screen makes them: each path of a
 * file, in order, over one keep-alive connection ("keepalive"), or each on
 * a connection of its own ("connect": connect, request, answer, close), so
 * that neither a client's process start nor its parsing is in the time.
 *
 *   read_http HOST PORT TOKEN PATHS MODE WARMUP
 *
 * PATHS: a file with a path a line (e.g. /api/v1/households/H1/usage?...).
 * The first WARMUP reads are not counted.  Prints one line: p50, p99 and
 * max in ms of the rest, their count, and how many answers were not 200
 * (exit status 1 when any was not, or a connection failed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_http.h"

#define RESPONSE_BUF (1 << 20)

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One GET of path on *fd (connected first when *fd < 0); its status, or
 * -1 when the connection fails. */
static int get_once(int *fd, const char *host, int port, const char *token,
                    const char *path, int keep, char *buf)
{
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Authorization: Bearer %s\r\nConnection: %s\r\n\r\n",
                     path, host, port, token, keep ? "keep-alive" : "close");
    if (n <= 0 || (size_t)n >= sizeof(req))
        return -1;
    if (*fd < 0 && (*fd = bench_http_connect(host, port)) < 0)
        return -1;
    if (bench_http_send_all(*fd, req, (size_t)n))
        return -1;
    return bench_http_read_response(*fd, buf, RESPONSE_BUF);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: read_http HOST PORT TOKEN PATHS "
                        "keepalive|connect WARMUP\n");
        return 2;
    }
    const char *host = argv[1], *token = argv[3];
    int port = atoi(argv[2]), keep = !strcmp(argv[5], "keepalive");
    long warmup = atol(argv[6]);
    FILE *f = fopen(argv[4], "r");
    if (!f) {
        perror(argv[4]);
        return 2;
    }
    char *buf = malloc(RESPONSE_BUF), line[4096];
    double *ms = NULL;
    size_t n = 0, cap = 0, bad = 0;
    long i = 0;
    int fd = -1;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        double t0 = now_ms();
        int status = get_once(&fd, host, port, token, line, keep, buf);
        double t1 = now_ms();
        if (!keep || status < 0) {
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
        bad += status != 200;
        if (i++ < warmup)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            ms = realloc(ms, cap * sizeof(*ms));
        }
        ms[n++] = t1 - t0;
    }
    fclose(f);
    if (fd >= 0)
        close(fd);
    if (!n) {
        fprintf(stderr, "read_http: no reads timed\n");
        return 2;
    }
    qsort(ms, n, sizeof(*ms), cmp_double);
    size_t p50 = (size_t)((double)n * 0.5 + 0.5),
           p99 = (size_t)((double)n * 0.99 + 0.5);
    printf("p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu reads, %zu not 200)\n",
           ms[p50 ? p50 - 1 : 0], ms[p99 ? p99 - 1 : 0], ms[n - 1], n, bad);
    free(ms);
    free(buf);
    return bad ? 1 : 0;
}
