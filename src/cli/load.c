/*
 * load.c - citybrain load: posts a simulated district (or any files in the
 * ingest formats of docs/API.md) to a running server, then optionally
 * streams the rest live on an accelerated clock.
 *
 *   citybrain load --dir DIR [--url URL] [--token-file F | --token T]
 *                  [--batch N] [--connections C]
 *                  [--live-from YYYY-MM-DD [--speed X] [--step-ms M]]
 *                  [--backfill yes|no]
 *
 * DIR holds households.csv, readings*.lp, deliveries*.ndjson and
 * events*.ndjson (what `citybrain simulate` writes).  Records stamped before
 * --live-from are back-filled as fast as the server takes them, C requests
 * in flight; later ones are held and sent when the simulated clock,
 * running X times real time (default 1440: a day a minute), passes their
 * timestamp, in steps of M real milliseconds (default 1000; a benchmark
 * that needs every hourly bucket seen takes steps of one simulated hour or
 * less).  Every batch the server refuses is reported; 503 answers are
 * retried (client.h), so nothing is dropped silently.  --backfill no skips
 * the records before --live-from (the registry is always sent): for a
 * store that already holds them.
 *
 * The district clock.  A server started with `clock = simulated` takes its
 * time from the loader (POST /api/v1/admin/clock): before the back-fill the
 * loader sets it to the end of the simulated period (DIR/manifest.json:
 * start + days), or to --live-from when it streams live, and while it
 * streams, to the simulated now at every step.  A server on the wall clock
 * answers 409 and keeps its own time: the loader notes it once.  Dates and
 * times are in the district's time zone, the manifest's "timezone".
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "client/client.h"
#include "clock/clock.h"
#include "ingest/ingest.h"
#include "util/util.h"
#include "util/jsonw.h"

struct load_opts {
    const char *dir, *url, *token_file, *token;
    long batch;
    int connections;
    int64_t live_from_s;   /* 0: no live phase */
    int64_t live_from_day; /* --live-from, days since 1970; -1: none */
    double speed;
    int step_ms;        /* real time between live steps */
    int backfill;       /* 0: send nothing older than live_from (a re-run) */
    int tz_minutes;     /* the district's UTC offset (manifest) */
    int64_t data_end_s; /* end of the simulated period, 0: unknown */
};

/* A record held back for the live phase. */
struct held {
    int64_t ts_s;
    enum feed feed;
    char *line;
};

struct load_state {
    struct load_opts *o;
    char token[256];
    pthread_mutex_t lock;
    FILE *in;       /* the file being back-filled */
    enum feed feed; /* its feed */
    int has_header; /* CSV: repeat the header in each request */
    char header[1024];
    struct held *held;
    size_t n_held, cap_held;
    long long sent, refused, failed_batches;
    long long file_sent0; /* sent when the current file started */
    int64_t started_ns;
    int clock_refused; /* the server keeps its own (wall) clock */
};

/* Reads DIR/manifest.json's time zone and period, when there is one. */
static void read_manifest(struct load_opts *o)
{
    char path[4096], iso[40];
    int64_t ns;
    snprintf(path, sizeof(path), "%s/manifest.json", o->dir);
    json_t *m = json_load_file(path, 0, NULL);
    const char *tz = json_string_value(json_object_get(m, "timezone"));
    const char *start = json_string_value(json_object_get(m, "start"));
    json_int_t days = json_integer_value(json_object_get(m, "days"));
    if (tz)
        dclock_tz_parse(tz, &o->tz_minutes);
    if (start && tz && strlen(start) == 10 && strlen(tz) == 6) {
        snprintf(iso, sizeof(iso), "%sT00:00:00%s", start, tz);
        if (!time_parse_iso(iso, strlen(iso), &ns, NULL))
            o->data_end_s = ns / 1000000000 + (int64_t)days * 86400;
    }
    json_decref(m);
}

/* Moves a simulated server clock to now_s (see the essay). */
static void set_server_clock(struct load_state *s, struct client *c,
                             int64_t now_s)
{
    struct sbuf body = SBUF_INIT;
    struct jsonw w;
    int status = 0;
    if (s->clock_refused || now_s <= 0)
        return;
    sbuf_init(&body);
    jsonw_init(&w, &body);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "now", now_s);
    jsonw_object_end(&w);
    client_post(c, "/api/v1/admin/clock", "application/json", body.buf,
                body.len, &status, NULL);
    sbuf_release(&body);
    if (status == 200)
        return;
    s->clock_refused = 1;
    fprintf(stderr,
            "load: the server keeps its own clock (HTTP %d); records must "
            "be plausible at its time\n",
            status);
}

static const char *feed_path(enum feed f)
{
    static const char *paths[] = {"/api/v1/registry/households",
                                  "/api/v1/write?precision=s",
                                  "/api/v1/deliveries", "/api/v1/events"};
    return paths[f];
}

/* The timestamp of one record in epoch seconds, or -1 if none is found. */
static int64_t record_ts(enum feed feed, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (feed == FEED_READINGS) {
        const char *sp = memrchr(line, ' ', len);
        int64_t v;
        return sp && !parse_int64(sp + 1, len - (size_t)(sp + 1 - line), &v)
                   ? v
                   : -1;
    }
    json_t *rec = json_loadb(line, len, 0, NULL);
    json_t *ts = json_object_get(rec, "ts");
    int64_t ns, s = -1;
    if (json_is_integer(ts))
        s = (int64_t)json_integer_value(ts);
    else if (json_is_string(ts) &&
             !time_parse_iso(json_string_value(ts), json_string_length(ts), &ns,
                             NULL))
        s = ns / 1000000000;
    json_decref(rec);
    return s;
}

static void hold(struct load_state *s, enum feed feed, int64_t ts,
                 const char *line, size_t len)
{
    if (s->n_held == s->cap_held) {
        s->cap_held = s->cap_held ? s->cap_held * 2 : 4096;
        s->held = xrealloc(s->held, s->cap_held * sizeof(*s->held));
    }
    s->held[s->n_held++] = (struct held){ts, feed, xstrndup(line, len)};
}

/* Reads the next chunk of lines to send (under the lock); returns how many
 * records it holds. */
static long next_chunk(struct load_state *s, struct sbuf *body)
{
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    sbuf_reset(body);
    pthread_mutex_lock(&s->lock);
    if (s->has_header)
        sbuf_addstr(body, s->header);
    ssize_t len;
    while (n < s->o->batch && (len = getline(&line, &cap, s->in)) > 0) {
        if (len == 1 && line[0] == '\n')
            continue;
        int64_t ts = s->o->live_from_s && s->feed != FEED_REGISTRY
                         ? record_ts(s->feed, line, (size_t)len)
                         : -1;
        if (ts >= s->o->live_from_s && s->o->live_from_s) {
            hold(s, s->feed, ts, line, (size_t)len);
            continue;
        }
        if (!s->o->backfill && s->feed != FEED_REGISTRY)
            continue;
        sbuf_add(body, line, (size_t)len);
        n++;
    }
    pthread_mutex_unlock(&s->lock);
    free(line);
    return n;
}

static void post_batch(struct load_state *s, struct client *c, enum feed feed,
                       struct sbuf *body, long n)
{
    int status;
    struct sbuf resp = SBUF_INIT;
    sbuf_init(&resp);
    int rc =
        client_post(c, feed_path(feed),
                    feed == FEED_REGISTRY ? "text/csv" : "application/x-ndjson",
                    body->buf, body->len, &status, &resp);
    pthread_mutex_lock(&s->lock);
    if (rc || status != 200) {
        s->failed_batches++;
        s->refused += n;
        fprintf(stderr, "load: %s batch refused: %d %.300s\n", feed_name(feed),
                status, resp.buf);
    } else {
        s->sent += n;
    }
    pthread_mutex_unlock(&s->lock);
    sbuf_release(&resp);
}

static void *sender(void *arg)
{
    struct load_state *s = arg;
    struct client *c = client_new(s->o->url, s->token);
    struct sbuf body = SBUF_INIT;
    sbuf_init(&body);
    long n;
    while ((n = next_chunk(s, &body)) > 0)
        post_batch(s, c, s->feed, &body, n);
    sbuf_release(&body);
    client_free(c);
    return NULL;
}

static void *progress(void *arg)
{
    struct load_state *s = arg;
    for (int tick = 1;; tick++) {
        struct timespec pause = {0, 100000000}; /* report every 2 s */
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&s->lock);
        if (s->in && tick % 20) {
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        int done = s->in == NULL;
        double secs = (double)(time_monotonic_ns() - s->started_ns) / 1e9;
        if (!done)
            fprintf(stderr, "load: %s: %lld records sent, %.0f/s\n",
                    feed_name(s->feed), s->sent,
                    (double)(s->sent - s->file_sent0) / secs);
        pthread_mutex_unlock(&s->lock);
        if (done)
            return NULL;
    }
}

/* Back-fills one file with C parallel senders. */
static int load_file(struct load_state *s, const char *path, enum feed feed)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: cannot read '%s'\n", path);
        return CB_EIO;
    }
    s->feed = feed;
    s->has_header = feed == FEED_REGISTRY;
    if (s->has_header && !fgets(s->header, sizeof(s->header), f)) {
        fclose(f);
        return CB_EINVAL;
    }
    long long before = s->sent;
    s->file_sent0 = before;
    s->started_ns = time_monotonic_ns();
    s->in = f;
    pthread_t t[16], p;
    int n = s->o->connections;
    pthread_create(&p, NULL, progress, s);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, sender, s);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_lock(&s->lock);
    s->in = NULL;
    pthread_mutex_unlock(&s->lock);
    pthread_join(p, NULL);
    fclose(f);
    double secs = (double)(time_monotonic_ns() - s->started_ns) / 1e9;
    fprintf(stderr, "load: %s: %lld records from %s in %.1f s\n",
            feed_name(feed), s->sent - before, path, secs);
    return 0;
}

static int starts_with(const char *s, const char *p)
{
    return !strncmp(s, p, strlen(p));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Back-fills every file of one feed (prefix*.suffix), in name order. */
static int load_feed(struct load_state *s, const char *prefix,
                     const char *suffix, enum feed feed)
{
    DIR *d = opendir(s->o->dir);
    if (!d) {
        fprintf(stderr, "error: cannot open '%s'\n", s->o->dir);
        return CB_EIO;
    }
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (starts_with(e->d_name, prefix) && ends_with(e->d_name, suffix))
            names[n++] = xstrdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", s->o->dir, names[i]);
        if (!rc)
            rc = load_file(s, path, feed);
        free(names[i]);
    }
    return rc;
}

static int cmp_held(const void *a, const void *b)
{
    const struct held *x = a, *y = b;
    return (x->ts_s > y->ts_s) - (x->ts_s < y->ts_s);
}

/* Sends held records of one feed with ts < until; returns how many. */
static long live_send(struct load_state *s, struct client *c, size_t *next,
                      int64_t until)
{
    struct sbuf body[FEED_COUNT];
    long count[FEED_COUNT] = {0}, total = 0;
    for (int f = 0; f < FEED_COUNT; f++)
        sbuf_init(&body[f]);
    while (*next < s->n_held && s->held[*next].ts_s < until) {
        struct held *h = &s->held[(*next)++];
        sbuf_addstr(&body[h->feed], h->line);
        count[h->feed]++;
        free(h->line);
    }
    for (int f = 0; f < FEED_COUNT; f++) {
        if (count[f])
            post_batch(s, c, (enum feed)f, &body[f], count[f]);
        total += count[f];
        sbuf_release(&body[f]);
    }
    return total;
}

static void live_stream(struct load_state *s)
{
    qsort(s->held, s->n_held, sizeof(s->held[0]), cmp_held);
    struct client *c = client_new(s->o->url, s->token);
    size_t next = 0;
    int64_t t0 = time_monotonic_ns();
    fprintf(stderr, "load: live: %zu records to stream at %.0fx real time\n",
            s->n_held, s->o->speed);
    while (next < s->n_held) {
        double real = (double)(time_monotonic_ns() - t0) / 1e9;
        int64_t sim = s->o->live_from_s + (int64_t)(real * s->o->speed);
        set_server_clock(s, c, sim); /* first: the records are not ahead */
        long n = live_send(s, c, &next, sim);
        char when[32];
        time_format_iso(sim, s->o->tz_minutes, when);
        fprintf(stderr, "load: live: %.16s simulated, %ld records sent\n", when,
                n);
        struct timespec pause = {s->o->step_ms / 1000,
                                 (long)(s->o->step_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    client_free(c);
    free(s->held);
    fprintf(stderr, "load: live: the simulated period has ended\n");
}

static int read_token(struct load_state *s)
{
    if (s->o->token) {
        snprintf(s->token, sizeof(s->token), "%s", s->o->token);
        return 0;
    }
    FILE *f = fopen(s->o->token_file, "r");
    if (!f || !fgets(s->token, sizeof(s->token), f)) {
        fprintf(stderr, "error: cannot read the token from '%s'\n",
                s->o->token_file);
        if (f)
            fclose(f);
        return CB_EIO;
    }
    fclose(f);
    s->token[strcspn(s->token, "\r\n")] = '\0';
    return 0;
}

static int parse_opts(int argc, char **argv, struct load_opts *o)
{
    *o = (struct load_opts){.url = "http://127.0.0.1:8080",
                            .token_file = "citybrain-data/admin.token",
                            .batch = 20000,
                            .connections = 2,
                            .speed = 1440,
                            .step_ms = 1000,
                            .backfill = 1,
                            .tz_minutes = 8 * 60,
                            .live_from_day = -1};
    for (int i = 0; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--dir"))
            o->dir = v;
        else if (!strcmp(k, "--url"))
            o->url = v;
        else if (!strcmp(k, "--token-file"))
            o->token_file = v;
        else if (!strcmp(k, "--token"))
            o->token = v;
        else if (!strcmp(k, "--batch"))
            o->batch = atol(v);
        else if (!strcmp(k, "--connections"))
            o->connections = atoi(v);
        else if (!strcmp(k, "--speed"))
            o->speed = atof(v);
        else if (!strcmp(k, "--step-ms"))
            o->step_ms = atoi(v);
        else if (!strcmp(k, "--backfill") &&
                 (!strcmp(v, "yes") || !strcmp(v, "no")))
            o->backfill = !strcmp(v, "yes");
        else if (!strcmp(k, "--live-from")) {
            int64_t day;
            if (time_parse_date(v, strlen(v), &day)) {
                fprintf(stderr, "error: --live-from '%s': not YYYY-MM-DD\n", v);
                return CB_EINVAL;
            }
            o->live_from_day = day; /* its midnight: after the manifest */
        } else {
            fprintf(stderr, "error: load: unknown option '%s'\n", k);
            return CB_EINVAL;
        }
    }
    if (!o->dir || o->batch < 1 || o->connections < 1 || o->connections > 16 ||
        o->speed <= 0 || o->step_ms < 10 || o->step_ms > 60000) {
        fprintf(stderr, "error: usage: citybrain load --dir DIR [--url URL] "
                        "[--token-file F] [--batch N] [--connections 1-16] "
                        "[--live-from YYYY-MM-DD [--speed X] "
                        "[--step-ms 10-60000]]\n");
        return CB_EINVAL;
    }
    return 0;
}

int cli_load(int argc, char **argv)
{
    struct load_opts o;
    struct load_state s;
    memset(&s, 0, sizeof(s));
    if (argc % 2 || parse_opts(argc, argv, &o)) {
        if (argc % 2)
            fprintf(stderr, "error: load: options come in pairs\n");
        return 2;
    }
    s.o = &o;
    if (read_token(&s))
        return 1;
    read_manifest(&o);
    if (o.live_from_day >= 0)
        o.live_from_s = o.live_from_day * 86400 - (int64_t)o.tz_minutes * 60;
    struct client *c = client_new(o.url, s.token);
    set_server_clock(&s, c, o.live_from_s ? o.live_from_s : o.data_end_s);
    client_free(c);
    pthread_mutex_init(&s.lock, NULL);
    int rc = load_feed(&s, "households", ".csv", FEED_REGISTRY);
    if (!rc)
        rc = load_feed(&s, "readings", ".lp", FEED_READINGS);
    if (!rc)
        rc = load_feed(&s, "deliveries", ".ndjson", FEED_DELIVERIES);
    if (!rc)
        rc = load_feed(&s, "events", ".ndjson", FEED_EVENTS);
    fprintf(stderr,
            "load: back-fill done: %lld records stored, %lld "
            "refused in %lld batches\n",
            s.sent, s.refused, s.failed_batches);
    if (!rc && o.live_from_s)
        live_stream(&s);
    pthread_mutex_destroy(&s.lock);
    return rc || s.failed_batches ? 1 : 0;
}
