/*
 * sim_output.c - number formatting, output files, and the pipeline that
 * lives the district day by day on several threads.
 *
 * Work items are (day, block) pairs numbered day * n_blocks + block.
 * Workers claim items in order, each into a slot of a ring of S slots;
 * the main thread writes the slots in item order, so the files do not
 * depend on the number of threads.  A worker may claim item i only when
 * item i - S has been written, and S <= n_blocks, so the same block of the
 * previous day is always finished: meters and late-reading buffers, which
 * belong to a block, need no lock.
 *
 *   worker:  claim i -> model + meters + orders into slot i % S -> READY
 *   writer:  wait for slot i READY -> (first block of a day: the day's
 *            events, progress) -> write -> FREE
 *
 * Files are written with write(2) from large buffers; with --compress the
 * big feeds go through a pipe to `zstd -1` or `gzip -1`.
 */
#include "sim/sim_int.h"
#include "util/jsonw.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- formatting ---- */

static const char digit_pairs[] = "00010203040506070809"
                                  "10111213141516171819"
                                  "20212223242526272829"
                                  "30313233343536373839"
                                  "40414243444546474849"
                                  "50515253545556575859"
                                  "60616263646566676869"
                                  "70717273747576777879"
                                  "80818283848586878889"
                                  "90919293949596979899";

char *sim_fmt_u64(char *p, uint64_t v)
{
    int n = 1;
    for (uint64_t x = v; x >= 10; x /= 10)
        n++;
    char *end = p + n, *q = end;
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100) * 2;
        v /= 100;
        *--q = digit_pairs[pair + 1];
        *--q = digit_pairs[pair];
    }
    if (v >= 10) {
        *--q = digit_pairs[v * 2 + 1];
        *--q = digit_pairs[v * 2];
    } else {
        *--q = (char)('0' + v);
    }
    return end;
}

char *sim_fmt_fixed(char *p, int64_t v, int decimals)
{
    static const int64_t scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    p = sim_fmt_u64(p, (uint64_t)(v / scale[decimals]));
    if (decimals > 0) {
        int64_t frac = v % scale[decimals];
        *p++ = '.';
        for (int k = decimals - 1; k >= 0; k--, frac /= 10)
            p[k] = (char)('0' + frac % 10);
        p += decimals;
    }
    return p;
}

static char *two(char *p, unsigned v)
{
    p[0] = digit_pairs[v * 2];
    p[1] = digit_pairs[v * 2 + 1];
    return p + 2;
}

char *sim_fmt_iso(char *p, int64_t epoch_s)
{
    int64_t local = epoch_s + SIM_TZ_OFFSET_S;
    int64_t days = local / 86400, sec = local % 86400;
    if (sec < 0) {
        sec += 86400;
        days--;
    }
    int y;
    unsigned m, d;
    time_civil_from_days(days, &y, &m, &d);
    p = two(p, (unsigned)y / 100);
    p = two(p, (unsigned)y % 100);
    *p++ = '-';
    p = two(p, m);
    *p++ = '-';
    p = two(p, d);
    *p++ = 'T';
    p = two(p, (unsigned)(sec / 3600));
    *p++ = ':';
    p = two(p, (unsigned)(sec / 60 % 60));
    *p++ = ':';
    p = two(p, (unsigned)(sec % 60));
    memcpy(p, "+08:00", 6);
    return p + 6;
}

/* ---- files ---- */

static int spawn_compressor(struct sim_file *f, int fd_out, int compress)
{
    static char *const zstd[] = {"zstd", "-q", "-1", "-c", NULL};
    static char *const gzip[] = {"gzip", "-1", "-c", NULL};
    static char *const lz4[] = {"lz4", "-q", "-1", "-c", NULL};
    char *const *argv = compress == SIM_COMPRESS_ZSTD   ? zstd
                        : compress == SIM_COMPRESS_GZIP ? gzip
                                                        : lz4;
    int pfd[2];
    posix_spawn_file_actions_t fa;
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return CB_EIO;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
    posix_spawn_file_actions_adddup2(&fa, fd_out, 1);
    pid_t child;
    int rc = posix_spawnp(&child, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[0]);
    if (rc != 0) {
        close(pfd[1]);
        fprintf(stderr, "simulate: cannot run '%s': %s\n", argv[0],
                strerror(rc));
        return CB_EIO;
    }
    f->child = (int)child;
    f->fd = pfd[1];
    return 0;
}

int sim_file_open(struct sim_file *f, const char *dir, const char *name,
                  int compress)
{
    static const char *const ext[] = {"", ".zst", ".gz", ".lz4"};
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    snprintf(f->path, sizeof(f->path), "%s/%s%s", dir, name, ext[compress]);
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "simulate: cannot create '%s': %s\n", f->path,
                strerror(errno));
        return CB_EIO;
    }
    if (compress == SIM_COMPRESS_NONE) {
        f->fd = fd;
        return 0;
    }
    int rc = spawn_compressor(f, fd, compress);
    close(fd);
    return rc;
}

int sim_file_write(struct sim_file *f, const void *buf, size_t n)
{
    const char *p = buf;
    f->bytes += n;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            fprintf(stderr, "simulate: cannot write '%s': %s\n", f->path,
                    strerror(errno));
            return CB_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int sim_file_close(struct sim_file *f)
{
    int rc = 0, status;
    if (f->fd >= 0 && close(f->fd) < 0)
        rc = CB_EIO;
    f->fd = -1;
    if (f->child > 0) {
        while (waitpid((pid_t)f->child, &status, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = CB_EIO;
        f->child = 0;
    }
    if (rc)
        fprintf(stderr, "simulate: cannot finish '%s'\n", f->path);
    return rc;
}

/* ---- the pipeline ---- */

enum { SLOT_FREE, SLOT_BUSY, SLOT_READY };

struct slot {
    int state;
    int64_t item;
    struct sim_batch batch;
};

enum out_file {
    F_READINGS,
    F_DELIVERIES,
    F_FAULTS,
    F_ADDRESS_MAP,
    F_EVENTS,
    F_INCIDENT_EVENTS,
    F_COUNT
};

struct pipeline {
    struct sim_district *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct slot *slots;
    int n_slots, n_blocks, stop;
    int64_t next_item, n_items;
    struct sbuf (*late)[4]; /* per block */
    struct sim_file files[F_COUNT];
    struct sim_event_counter events;
    uint64_t n_readings, n_deliveries, n_faults, n_events;
    int64_t started_ns;
};

static void make_batch(struct pipeline *p, int64_t item, struct sim_batch *b)
{
    struct sim_district *d = p->d;
    int day = (int)(item / p->n_blocks), block = (int)(item % p->n_blocks);
    uint32_t first = (uint32_t)block * SIM_BLOCK, last = first + SIM_BLOCK;
    struct sim_use use;
    last = last > d->n_households ? d->n_households : last;
    for (int k = 0; k < SIM_OUT_COUNT; k++)
        sbuf_reset(&b->out[k]);
    b->n_readings = b->n_deliveries = b->n_faults = 0;
    b->late = p->late[block];
    sim_meters_flush_late(b, day, 0);
    for (uint32_t h = first; h < last; h++) {
        sim_model_day(d, h, day, &use);
        sim_meters_day(d, h, day, &use, b);
        sim_deliveries_day(d, h, day, &use, b);
    }
    if (day == d->n_days - 1)
        sim_meters_flush_late(b, day, 1);
}

static void *worker_main(void *arg)
{
    struct pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next_item < p->n_items &&
               p->slots[p->next_item % p->n_slots].state != SLOT_FREE)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || p->next_item >= p->n_items)
            break;
        int64_t item = p->next_item++;
        struct slot *s = &p->slots[item % p->n_slots];
        s->state = SLOT_BUSY;
        s->item = item;
        pthread_mutex_unlock(&p->mu);
        make_batch(p, item, &s->batch);
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_READY;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int open_readings(struct pipeline *p, int day)
{
    const struct sim_options *o = p->d->opt;
    char name[64];
    if (!o->split_days) {
        if (day > 0)
            return 0;
        snprintf(name, sizeof(name), "readings.lp");
    } else {
        if (day > 0 && sim_file_close(&p->files[F_READINGS]) < 0)
            return CB_EIO;
        snprintf(name, sizeof(name), "readings-%s.lp", p->d->days[day].date);
    }
    return sim_file_open(&p->files[F_READINGS], o->out_dir, name, o->compress);
}

static void progress(struct pipeline *p, int day)
{
    if (p->d->opt->quiet)
        return;
    double s = (time_monotonic_ns() - p->started_ns) / 1e9;
    fprintf(stderr,
            "simulate: day %d/%d %s  %.1f s  %llu readings  %llu orders  "
            "%.2f GB\n",
            day, p->d->n_days, day ? p->d->days[day - 1].date : "", s,
            (unsigned long long)p->n_readings,
            (unsigned long long)p->n_deliveries,
            p->files[F_READINGS].bytes / 1e9);
}

/* First block of a day: the day's file and events. */
static int day_start(struct pipeline *p, int day)
{
    struct sbuf events = SBUF_INIT, truth = SBUF_INIT;
    uint64_t n = 0;
    int rc = open_readings(p, day);
    if (day > 0)
        progress(p, day);
    sim_events_day(p->d, day, &p->events, &events, &truth, &n);
    p->n_events += n;
    if (!rc)
        rc = sim_file_write(&p->files[F_EVENTS], events.buf, events.len);
    if (!rc)
        rc = sim_file_write(&p->files[F_INCIDENT_EVENTS], truth.buf, truth.len);
    sbuf_release(&events);
    sbuf_release(&truth);
    return rc;
}

static int write_batch(struct pipeline *p, int64_t item,
                       const struct sim_batch *b)
{
    static const int file_of[SIM_OUT_COUNT] = {F_READINGS, F_DELIVERIES,
                                               F_FAULTS, F_ADDRESS_MAP};
    if (item % p->n_blocks == 0) {
        int rc = day_start(p, (int)(item / p->n_blocks));
        if (rc)
            return rc;
    }
    for (int k = 0; k < SIM_OUT_COUNT; k++) {
        int rc =
            sim_file_write(&p->files[file_of[k]], b->out[k].buf, b->out[k].len);
        if (rc)
            return rc;
    }
    p->n_readings += b->n_readings;
    p->n_deliveries += b->n_deliveries;
    p->n_faults += b->n_faults;
    return 0;
}

static int writer_loop(struct pipeline *p)
{
    int rc = 0;
    for (int64_t i = 0; i < p->n_items && !rc; i++) {
        struct slot *s = &p->slots[i % p->n_slots];
        pthread_mutex_lock(&p->mu);
        while (!(s->state == SLOT_READY && s->item == i))
            pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        rc = write_batch(p, i, &s->batch);
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_FREE;
        if (rc)
            p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return rc;
}

static int open_feeds(struct pipeline *p)
{
    const struct sim_options *o = p->d->opt;
    static const struct {
        int file;
        const char *name, *header;
        int compressible;
    } feeds[] = {
        {F_DELIVERIES, "deliveries.ndjson", "", 1},
        {F_FAULTS, "truth/faults.csv",
         "household_id,metric,fault,start,end,detail\n", 0},
        {F_ADDRESS_MAP, "truth/address_map.csv", "order_id,household_id,form\n",
         0},
        {F_EVENTS, "events.ndjson", "", 0},
        {F_INCIDENT_EVENTS, "truth/incident_events.csv",
         "source,event_id,incident_id\n", 0},
    };
    for (size_t k = 0; k < sizeof(feeds) / sizeof(feeds[0]); k++) {
        struct sim_file *f = &p->files[feeds[k].file];
        int rc = sim_file_open(f, o->out_dir, feeds[k].name,
                               feeds[k].compressible ? o->compress : 0);
        if (!rc)
            rc = sim_file_write(f, feeds[k].header, strlen(feeds[k].header));
        if (rc)
            return rc;
    }
    return 0;
}

static int close_feeds(struct pipeline *p)
{
    int rc = 0;
    for (int k = 0; k < F_COUNT; k++)
        if (p->files[k].fd >= 0 && sim_file_close(&p->files[k]) < 0)
            rc = CB_EIO;
    return rc;
}

static void pipeline_init(struct pipeline *p, struct sim_district *d)
{
    memset(p, 0, sizeof(*p));
    p->d = d;
    for (int k = 0; k < F_COUNT; k++)
        p->files[k].fd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->n_blocks = (int)((d->n_households + SIM_BLOCK - 1) / SIM_BLOCK);
    p->n_items = (int64_t)p->n_blocks * d->n_days;
    p->n_slots = 4 * d->opt->threads;
    p->n_slots = p->n_slots > p->n_blocks ? p->n_blocks : p->n_slots;
    p->slots = xcalloc((size_t)p->n_slots, sizeof(*p->slots));
    p->late = xcalloc((size_t)p->n_blocks, sizeof(*p->late));
    for (int s = 0; s < p->n_slots; s++) {
        for (int k = 0; k < SIM_OUT_COUNT; k++)
            sbuf_init(&p->slots[s].batch.out[k]);
        sbuf_init(&p->slots[s].batch.scratch);
    }
    for (int b = 0; b < p->n_blocks; b++)
        for (int k = 0; k < 4; k++)
            sbuf_init(&p->late[b][k]);
    p->started_ns = time_monotonic_ns();
}

static void pipeline_release(struct pipeline *p)
{
    for (int s = 0; s < p->n_slots; s++) {
        for (int k = 0; k < SIM_OUT_COUNT; k++)
            sbuf_release(&p->slots[s].batch.out[k]);
        sbuf_release(&p->slots[s].batch.scratch);
    }
    for (int b = 0; b < p->n_blocks; b++)
        for (int k = 0; k < 4; k++)
            sbuf_release(&p->late[b][k]);
    free(p->slots);
    free(p->late);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* Runs the workers and the writer; on error stops the workers early. */
static int run_threads(struct pipeline *p)
{
    int n = p->d->opt->threads, started = 0, rc;
    pthread_t *tids = xcalloc((size_t)n, sizeof(*tids));
    for (; started < n; started++)
        if (pthread_create(&tids[started], NULL, worker_main, p) != 0)
            break;
    rc = started ? writer_loop(p) : CB_EIO;
    for (int k = 0; k < started; k++)
        pthread_join(tids[k], NULL);
    free(tids);
    return rc;
}

static void write_manifest_counts(const struct pipeline *p, struct sbuf *sb)
{
    struct jsonw w;
    jsonw_init(&w, sb);
    jsonw_object_begin(&w);
    jsonw_kv_uint(&w, "readings", p->n_readings);
    jsonw_kv_uint(&w, "deliveries", p->n_deliveries);
    jsonw_kv_uint(&w, "events", p->n_events);
    jsonw_kv_uint(&w, "faults", p->n_faults);
    jsonw_kv_uint(&w, "readings_bytes", p->files[F_READINGS].bytes);
    jsonw_object_end(&w);
}

int sim_run_feeds(struct sim_district *d)
{
    struct pipeline p;
    struct sbuf counts = SBUF_INIT;
    pipeline_init(&p, d);
    int rc = open_feeds(&p);
    if (!rc)
        rc = run_threads(&p);
    if (!rc)
        progress(&p, d->n_days);
    if (close_feeds(&p) < 0 && !rc)
        rc = CB_EIO;
    write_manifest_counts(&p, &counts);
    d->counts_json = sbuf_detach(&counts, NULL);
    pipeline_release(&p);
    return rc;
}
