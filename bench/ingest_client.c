/*
 * ingest_client.c - load generator for bench/ingest.
 *
 * Sends line-protocol readings or NDJSON deliveries to a running citybrain
 * over HTTP/1.1 keep-alive from several connections (one thread each) for a
 * fixed time, and counts the records the server acknowledged (2xx).  Bodies
 * are built once; each request patches fixed-width timestamps (or order
 * ids) in place, so every record is new and the client spends little CPU.
 * Readings start at midnight UTC two days ago and each request of a
 * connection is 64 s after its previous one, so a run stays inside the
 * retention window (older readings would be deleted under it).  Two more
 * kinds of line protocol: "resend" sends the first ROUNDS requests of each
 * connection of an lp run again, in a loop (every reading a duplicate);
 * "late" sends new readings one day before the lp run's (older than each
 * meter's newest reading: late, 1 to 3 days old).
 *
 *   ingest_client lp|late|deliveries HOST PORT TOKEN HOUSEHOLDS BATCH CONNS
 *                 SECS
 *   ingest_client resend HOST PORT TOKEN HOUSEHOLDS BATCH CONNS SECS ROUNDS
 *   ingest_client sqlite-ceiling DIR ROWS
 *
 * Prints one line: "<kind> <records/s> <records> <seconds> <non2xx>".
 */
#include "bench_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct job {
    int kind;         /* 0 lp, 1 deliveries, 2 resend, 3 late */
    long long rounds; /* resend: the lp run's requests per connection */
    const char *host, *token;
    int port, households, batch, conn_id;
    double seconds;
    long long records, failures;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void put_digits(char *at, long long v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        at[i] = (char)('0' + v % 10);
}

/* Builds the body; offsets of the patchable numbers go to *offs. */
static char *build_body(struct job *j, size_t *len, size_t **offs)
{
    size_t cap = (size_t)j->batch * 160 + 64, n = 0;
    char *b = malloc(cap);
    *offs = malloc(sizeof(size_t) * (size_t)j->batch);
    for (int i = 0; i < j->batch; i++) {
        int h = (j->conn_id * 7919 + i) % j->households + 1;
        if (j->kind != 1) {
            n += (size_t)sprintf(b + n,
                                 "electricity,household=B%07d delta=0.25 ", h);
            (*offs)[i] = n;
            n += (size_t)sprintf(b + n, "0000000000\n");
        } else {
            n += (size_t)sprintf(b + n, "{\"order_id\":\"BN-");
            (*offs)[i] = n;
            n += (size_t)sprintf(
                b + n,
                "000000000000000\",\"ts\":1764547200,"
                "\"household_id\":\"B%07d\",\"recipient\":\"r%05d\"}\n",
                h, i % 50000);
        }
    }
    *len = n;
    return b;
}

static void *run(void *arg)
{
    struct job *j = arg;
    size_t len, *offs;
    char *body = build_body(j, &len, &offs);
    char head[512], resp[65536];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
                      "%s\r\nContent-Type: text/plain\r\nContent-Length: "
                      "%zu\r\n\r\n",
                      j->kind == 1 ? "/api/v1/deliveries"
                                   : "/api/v1/write?precision=s",
                      j->host, j->token, len);
    int fd = bench_http_connect(j->host, j->port);
    double end = now() + j->seconds;
    long long round = 0, base = ((long long)time(NULL) / 86400 - 2) * 86400;
    if (j->kind == 3)
        base -= 86400;
    while (fd >= 0 && now() < end) {
        long long r = round++;
        if (j->kind == 2)
            r %= j->rounds > 0 ? j->rounds : 1;
        long long slot = r * 64 + j->conn_id;
        for (int i = 0; i < j->batch; i++)
            if (j->kind == 1)
                put_digits(body + offs[i], slot * 100000 + i, 15);
            else
                put_digits(body + offs[i], base + slot, 10);
        if (bench_http_send_all(fd, head, (size_t)hl) ||
            bench_http_send_all(fd, body, len))
            break;
        int st = bench_http_read_response(fd, resp, sizeof(resp));
        if (st >= 200 && st < 300)
            j->records += j->batch;
        else
            j->failures++;
        if (st < 0)
            break;
    }
    if (fd >= 0)
        close(fd);
    free(body);
    free(offs);
    return NULL;
}

static int sqlite_ceiling(const char *dir, long rows)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/ceiling.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE r(household INT, metric INT, ts INT, "
                 "value REAL)",
                 0, 0, 0);
    sqlite3_prepare_v2(db, "INSERT INTO r VALUES(?,?,?,?)", -1, &st, 0);
    double t0 = now();
    for (long i = 0; i < rows;) {
        sqlite3_exec(db, "BEGIN", 0, 0, 0);
        for (int k = 0; k < 10000 && i < rows; k++, i++) {
            sqlite3_bind_int(st, 1, (int)(i % 100000));
            sqlite3_bind_int(st, 2, 1);
            sqlite3_bind_int64(st, 3, 1700000000 + i / 100000 * 900);
            sqlite3_bind_double(st, 4, 0.25);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        sqlite3_exec(db, "COMMIT", 0, 0, 0);
    }
    double dt = now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("sqlite-ceiling %.0f %ld %.2f 0\n", rows / dt, rows, dt);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "sqlite-ceiling"))
        return sqlite_ceiling(argv[2], atol(argv[3]));
    int resend = argc == 10 && !strcmp(argv[1], "resend");
    if (argc != 9 && !resend) {
        fprintf(stderr, "usage: ingest_client lp|late|deliveries HOST PORT "
                        "TOKEN HOUSEHOLDS BATCH CONNS SECS, or resend ... "
                        "SECS ROUNDS\n");
        return 2;
    }
    int kind = !strcmp(argv[1], "deliveries") ? 1
               : resend                       ? 2
               : !strcmp(argv[1], "late")     ? 3
                                              : 0;
    int conns = atoi(argv[7]);
    struct job *jobs = calloc((size_t)conns, sizeof(*jobs));
    pthread_t *t = calloc((size_t)conns, sizeof(*t));
    double t0 = now();
    for (int i = 0; i < conns; i++) {
        jobs[i] = (struct job){.kind = kind,
                               .rounds = resend ? atoll(argv[9]) : 0,
                               .host = argv[2],
                               .port = atoi(argv[3]),
                               .token = argv[4],
                               .households = atoi(argv[5]),
                               .batch = atoi(argv[6]),
                               .conn_id = i,
                               .seconds = atof(argv[8])};
        pthread_create(&t[i], NULL, run, &jobs[i]);
    }
    long long total = 0, fails = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(t[i], NULL);
        total += jobs[i].records;
        fails += jobs[i].failures;
    }
    double dt = now() - t0;
    printf("%s %.0f %lld %.2f %lld\n", argv[1], total / dt, total, dt, fails);
    return 0;
}
