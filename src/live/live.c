/* live.c - the live hub's ring, its readers and the heartbeat ticker. */
#include "live/live.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/jsonw.h"

/* A reader fills its pending text from the ring up to about this much. */
#define LIVE_FILL_BYTES 32768

struct live_event {
    int64_t seq;
    char type[LIVE_TYPE_MAX + 1];
    char *data;
    unsigned roles;
    char *committee; /* NULL: any */
    int64_t department_id;
};

struct live_reader {
    struct live *hub;
    struct live_reader *prev, *next; /* hub->readers (hub->lock) */
    struct live_viewer who;          /* committee: owned copy */
    struct live_waker waker;
    int64_t next_seq; /* the next event to consider */
    int reset_due;    /* send `reset` before anything else */
    int parked;       /* park() ran; wake() not yet */
    int finished;     /* `bye` queued: LIVE_END once pending drains */
    int gone;         /* the client went away: LIVE_END at once */
    int64_t last_out_ns;
    struct sbuf pending; /* text not yet handed out (reader's own) */
    size_t pending_off;
};

struct live {
    struct live_config cfg;
    pthread_mutex_t lock;
    struct live_event *ring; /* cfg.ring_events slots */
    size_t count;            /* events held */
    int64_t first_seq;       /* seq of the first event ever published */
    int64_t newest_seq;      /* first_seq - 1 before the first */
    struct live_reader *readers;
    size_t n_readers;
    int closing;
    uint64_t published, cut;
    /* the heartbeat ticker */
    pthread_t ticker;
    pthread_cond_t tick;
    int ticker_stop;
};

void live_config_defaults(struct live_config *cfg)
{
    cfg->ring_events = 4096;
    cfg->event_max_bytes = 65536;
    cfg->max_readers = 64;
    cfg->heartbeat_s = 15;
    cfg->reader_lag_max = 1024;
}

static struct live_event *slot_of(struct live *hub, int64_t seq)
{
    return &hub->ring[(uint64_t)(seq - hub->first_seq) % hub->cfg.ring_events];
}

static int64_t oldest_seq(const struct live *hub)
{
    return hub->newest_seq - (int64_t)hub->count + 1;
}

/* Wakes every parked reader; hub->lock held. */
static void wake_parked(struct live *hub, int64_t older_than_ns)
{
    for (struct live_reader *r = hub->readers; r; r = r->next) {
        if (!r->parked || r->last_out_ns > older_than_ns)
            continue;
        r->parked = 0;
        r->waker.wake(r->waker.ctx);
    }
}

/* Ends the parked readers whose client went away; hub->lock held. */
static void wake_gone(struct live *hub)
{
    for (struct live_reader *r = hub->readers; r; r = r->next) {
        if (!r->parked || !r->waker.gone || !r->waker.gone(r->waker.ctx))
            continue;
        r->gone = 1;
        r->finished = 1;
        r->parked = 0;
        r->waker.wake(r->waker.ctx);
    }
}

static void *ticker_main(void *arg)
{
    struct live *hub = arg;
    pthread_mutex_lock(&hub->lock);
    while (!hub->ticker_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&hub->tick, &hub->lock, &until);
        int64_t due =
            time_monotonic_ns() - (int64_t)hub->cfg.heartbeat_s * 1000000000LL;
        wake_gone(hub);
        wake_parked(hub, due);
    }
    pthread_mutex_unlock(&hub->lock);
    return NULL;
}

int live_new(const struct live_config *cfg, struct live **OUT_hub)
{
    *OUT_hub = NULL;
    if (cfg->ring_events < 2 || cfg->event_max_bytes < 16 ||
        cfg->max_readers < 1 || cfg->heartbeat_s < 1 || cfg->reader_lag_max < 1)
        return CB_EINVAL;
    struct live *hub = xcalloc(1, sizeof(*hub));
    hub->cfg = *cfg;
    hub->ring = xcalloc(cfg->ring_events, sizeof(hub->ring[0]));
    hub->first_seq = time_now_ns() / 1000000 * 1000;
    hub->newest_seq = hub->first_seq - 1;
    pthread_mutex_init(&hub->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hub->tick, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&hub->ticker, NULL, ticker_main, hub))
        abort(); /* like an allocation failure */
    *OUT_hub = hub;
    return 0;
}

static void event_clear(struct live_event *e)
{
    free(e->data);
    free(e->committee);
    memset(e, 0, sizeof(*e));
}

void live_free(struct live *hub)
{
    if (!hub)
        return;
    pthread_mutex_lock(&hub->lock);
    hub->ticker_stop = 1;
    pthread_cond_signal(&hub->tick);
    pthread_mutex_unlock(&hub->lock);
    pthread_join(hub->ticker, NULL);
    for (size_t i = 0; i < hub->cfg.ring_events; i++)
        event_clear(&hub->ring[i]);
    free(hub->ring);
    pthread_cond_destroy(&hub->tick);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

static int type_ok(const char *type)
{
    size_t n = strlen(type);
    if (!n || n > LIVE_TYPE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int64_t live_publish_to(struct live *hub, const char *type,
                        const char *json_data, const struct live_audience *aud)
{
    if (!type || !json_data || !type_ok(type) || !*json_data ||
        strpbrk(json_data, "\r\n"))
        return CB_EINVAL;
    size_t len = strlen(json_data);
    if (len > hub->cfg.event_max_bytes)
        return CB_ETOOBIG;
    char *data = xstrndup(json_data, len);
    char *committee =
        aud->committee && *aud->committee ? xstrdup(aud->committee) : NULL;
    pthread_mutex_lock(&hub->lock);
    if (hub->closing) {
        pthread_mutex_unlock(&hub->lock);
        free(data);
        free(committee);
        return CB_ECLOSED;
    }
    int64_t seq = ++hub->newest_seq;
    struct live_event *e = slot_of(hub, seq);
    event_clear(e);
    e->seq = seq;
    memcpy(e->type, type, strlen(type) + 1);
    e->data = data;
    e->roles = aud->roles;
    e->committee = committee;
    e->department_id = aud->department_id;
    if (hub->count < hub->cfg.ring_events)
        hub->count++;
    hub->published++;
    wake_parked(hub, INT64_MAX);
    pthread_mutex_unlock(&hub->lock);
    return seq;
}

int64_t live_publish(struct live *hub, const char *type, const char *json_data)
{
    struct live_audience staff = {LIVE_STAFF, NULL, 0};
    return live_publish_to(hub, type, json_data, &staff);
}

/* Whether the reader's viewer may see e (the audience table in live.h). */
static int visible(const struct live_reader *r, const struct live_event *e)
{
    const struct live_viewer *v = &r->who;
    if ((unsigned)v->role >= ROLE_COUNT || !(e->roles & LIVE_ROLE(v->role)))
        return 0;
    if (v->role == ROLE_COMMITTEE && e->committee &&
        (!v->committee || strcmp(v->committee, e->committee)))
        return 0;
    if (v->role == ROLE_PUBLISHER && e->department_id &&
        v->department_id != e->department_id)
        return 0;
    return 1;
}

int live_reader_open(struct live *hub, const struct live_viewer *who,
                     int64_t last_event_id, const struct live_waker *waker,
                     struct live_reader **OUT_reader)
{
    *OUT_reader = NULL;
    struct live_reader *r = xcalloc(1, sizeof(*r));
    r->hub = hub;
    r->who = *who;
    r->who.committee = who->committee ? xstrdup(who->committee) : NULL;
    r->waker = *waker;
    r->last_out_ns = time_monotonic_ns();
    sbuf_init(&r->pending);
    sbuf_addstr(&r->pending, "retry: 3000\n: citybrain live\n\n");
    pthread_mutex_lock(&hub->lock);
    int rc = hub->closing                                     ? CB_ECLOSED
             : hub->n_readers >= (size_t)hub->cfg.max_readers ? CB_EBUSY
                                                              : 0;
    if (!rc) {
        r->next_seq = hub->newest_seq + 1;
        if (last_event_id >= 0 && (last_event_id < oldest_seq(hub) - 1 ||
                                   last_event_id > hub->newest_seq))
            r->reset_due = 1; /* lost, or from another run */
        else if (last_event_id >= 0)
            r->next_seq = last_event_id + 1;
        if (r->reset_due)
            r->next_seq = oldest_seq(hub);
        r->next = hub->readers;
        if (r->next)
            r->next->prev = r;
        hub->readers = r;
        hub->n_readers++;
    }
    pthread_mutex_unlock(&hub->lock);
    if (rc) {
        free((char *)r->who.committee);
        sbuf_release(&r->pending);
        free(r);
        return rc;
    }
    *OUT_reader = r;
    return 0;
}

static void add_bye(struct live_reader *r, const char *reason)
{
    struct jsonw w;
    sbuf_addstr(&r->pending, "event: bye\ndata: ");
    jsonw_init(&w, &r->pending);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "reason", reason);
    jsonw_object_end(&w);
    sbuf_addstr(&r->pending, "\n\n");
    r->finished = 1;
}

static void add_event(struct live_reader *r, const struct live_event *e)
{
    sbuf_addf(&r->pending, "id: %lld\nevent: %s\ndata: ", (long long)e->seq,
              e->type);
    sbuf_addstr(&r->pending, e->data);
    sbuf_addstr(&r->pending, "\n\n");
}

/* Fills r->pending from the ring, or parks r; hub->lock held. */
static void fill_locked(struct live_reader *r)
{
    struct live *hub = r->hub;
    if (hub->closing) {
        add_bye(r, "the server is stopping");
        return;
    }
    if (r->reset_due) {
        struct jsonw w;
        sbuf_addf(&r->pending, "id: %lld\nevent: reset\ndata: ",
                  (long long)(r->next_seq - 1));
        jsonw_init(&w, &r->pending);
        jsonw_object_begin(&w);
        jsonw_kv_int(&w, "oldest", oldest_seq(hub));
        jsonw_kv_int(&w, "newest", hub->newest_seq);
        jsonw_object_end(&w);
        sbuf_addstr(&r->pending, "\n\n");
        r->reset_due = 0;
    }
    int64_t lag = hub->newest_seq - r->next_seq + 1;
    if (r->next_seq < oldest_seq(hub) ||
        lag > (int64_t)hub->cfg.reader_lag_max) {
        char why[128];
        snprintf(why, sizeof(why),
                 "too slow: %lld events behind (limit %zu); reconnect",
                 (long long)lag, hub->cfg.reader_lag_max);
        add_bye(r, why);
        hub->cut++;
        return;
    }
    for (; r->next_seq <= hub->newest_seq && r->pending.len < LIVE_FILL_BYTES;
         r->next_seq++) {
        const struct live_event *e = slot_of(hub, r->next_seq);
        if (visible(r, e))
            add_event(r, e);
    }
    int64_t now = time_monotonic_ns();
    if (!r->pending.len &&
        now - r->last_out_ns >= (int64_t)hub->cfg.heartbeat_s * 1000000000LL)
        sbuf_addstr(&r->pending, ": heartbeat\n\n");
    if (r->pending.len)
        r->last_out_ns = now;
    else {
        r->parked = 1;
        r->waker.park(r->waker.ctx);
    }
}

ssize_t live_reader_read(struct live_reader *r, char *buf, size_t max)
{
    pthread_mutex_lock(&r->hub->lock);
    int gone = r->gone;
    pthread_mutex_unlock(&r->hub->lock);
    if (gone)
        return LIVE_END;
    if (r->pending_off >= r->pending.len) {
        if (r->finished)
            return LIVE_END;
        sbuf_reset(&r->pending);
        r->pending_off = 0;
        pthread_mutex_lock(&r->hub->lock);
        fill_locked(r);
        pthread_mutex_unlock(&r->hub->lock);
        if (!r->pending.len)
            return 0;
    }
    size_t n = r->pending.len - r->pending_off;
    if (n > max)
        n = max;
    memcpy(buf, r->pending.buf + r->pending_off, n);
    r->pending_off += n;
    return (ssize_t)n;
}

void live_reader_close(struct live_reader *r)
{
    if (!r)
        return;
    struct live *hub = r->hub;
    pthread_mutex_lock(&hub->lock);
    if (r->prev)
        r->prev->next = r->next;
    else
        hub->readers = r->next;
    if (r->next)
        r->next->prev = r->prev;
    hub->n_readers--;
    pthread_mutex_unlock(&hub->lock);
    free((char *)r->who.committee);
    sbuf_release(&r->pending);
    free(r);
}

void live_shutdown(struct live *hub)
{
    pthread_mutex_lock(&hub->lock);
    hub->closing = 1;
    wake_parked(hub, INT64_MAX);
    pthread_mutex_unlock(&hub->lock);
}

void live_get_stats(struct live *hub, struct live_stats *OUT_stats)
{
    pthread_mutex_lock(&hub->lock);
    OUT_stats->newest_seq = hub->count ? hub->newest_seq : 0;
    OUT_stats->published = hub->published;
    OUT_stats->readers = hub->n_readers;
    OUT_stats->cut = hub->cut;
    pthread_mutex_unlock(&hub->lock);
}
