/* indic.c - the indicator engine: the consumer, series and buckets, ticks. */
#include "clock/clock.h"
#include "indic/indic_int.h"

#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#include "scene/scene.h"
#include "util/jsonw.h"

static int64_t (*indic_clock)(void) = dclock_now_ns;

/* Buckets a tick closes between two releases of the engine lock. */
#define INDIC_TICK_SLICE 2048

/* The district clock (clock.h): wall time, or the simulated clock that
 * `citybrain load` moves. */
int64_t indic_now_ns(void)
{
    return indic_clock();
}

void indic_config_defaults(struct indic_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->with_defaults = 1;
    cfg->grace_ns = 60 * INDIC_NS_S;
    cfg->retention_days = 35;
    cfg->backfill_days = 7;
    cfg->max_series = 200000;
    cfg->max_indicators = 256;
    cfg->tick_ms = 1000;
    cfg->scene_sample_s = 30;
    cfg->webhook_urls = "";
    cfg->webhook_retries = 5;
    cfg->webhook_backoff_ms = 1000;
    cfg->alertmanager_url = "";
    cfg->public_url = "http://127.0.0.1:8080";
    cfg->ack_within_ns = 900 * INDIC_NS_S;
    cfg->alert_routes = "";
    cfg->escalate_to = "shift_lead";
}

/* ---- a string map ---- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static size_t map_slot(const struct indic_map *m, const char *key)
{
    size_t i = fnv(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key))
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *indic_map_get(const struct indic_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = map_slot(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

static void map_grow(struct indic_map *m)
{
    struct indic_map g = {xcalloc(m->cap ? m->cap * 2 : 64, sizeof(char *)),
                          xcalloc(m->cap ? m->cap * 2 : 64, sizeof(void *)),
                          m->cap ? m->cap * 2 : 64, m->n};
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = map_slot(&g, m->keys[i]);
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = g;
}

void indic_map_put(struct indic_map *m, const char *key, void *val)
{
    if ((m->n + 1) * 2 > m->cap)
        map_grow(m);
    size_t i = map_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = strdup(key);
        m->n++;
    }
    m->vals[i] = val;
}

void indic_map_del(struct indic_map *m, const char *key)
{
    if (!m->cap)
        return;
    size_t i = map_slot(m, key);
    if (!m->keys[i])
        return;
    free(m->keys[i]);
    m->keys[i] = NULL;
    m->n--;
    /* re-insert the rest of the cluster */
    for (size_t j = (i + 1) & (m->cap - 1); m->keys[j];
         j = (j + 1) & (m->cap - 1)) {
        char *k = m->keys[j];
        void *v = m->vals[j];
        m->keys[j] = NULL;
        size_t s = map_slot(m, k);
        m->keys[s] = k;
        m->vals[s] = v;
    }
}

void indic_map_release(struct indic_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- names and the registry ---- */

static int32_t name_id(struct indic_engine *eng, const char *name)
{
    if (!name || !*name)
        return -1;
    void *v = indic_map_get(&eng->name_ids, name);
    if (v)
        return (int32_t)((intptr_t)v - 1);
    if (eng->nnames == eng->cnames) {
        eng->cnames = eng->cnames ? eng->cnames * 2 : 256;
        eng->names = xrealloc(eng->names, eng->cnames * sizeof(char *));
    }
    eng->names[eng->nnames] = strdup(name);
    indic_map_put(&eng->name_ids, name, (void *)(intptr_t)(eng->nnames + 1));
    return (int32_t)eng->nnames++;
}

static void house_set(struct indic_engine *eng, int32_t id,
                      const struct household *h)
{
    if (id < 0)
        return;
    if ((size_t)id >= eng->nhouse) {
        size_t n = (size_t)id + 1024;
        eng->street_of = xrealloc(eng->street_of, n * sizeof(int32_t));
        eng->committee_of = xrealloc(eng->committee_of, n * sizeof(int32_t));
        for (size_t i = eng->nhouse; i < n; i++)
            eng->street_of[i] = eng->committee_of[i] = -1;
        eng->nhouse = n;
    }
    eng->street_of[id] = name_id(eng, h->street);
    eng->committee_of[id] = name_id(eng, h->committee);
}

static const char *house_name(struct indic_engine *eng, int32_t id,
                              int committee)
{
    if (id < 0 || (size_t)id >= eng->nhouse)
        return "(unmatched)";
    int32_t n = committee ? eng->committee_of[id] : eng->street_of[id];
    return n >= 0 ? eng->names[n] : "(none)";
}

/* The interned name's id + 1 of a household's street or committee; 0 when
 * it has none (the name is then one of house_name's fixed ones). */
static int32_t house_key(struct indic_engine *eng, int32_t id, int committee)
{
    if (id < 0 || (size_t)id >= eng->nhouse)
        return 0;
    return (committee ? eng->committee_of[id] : eng->street_of[id]) + 1;
}

/* ---- series and buckets ---- */

static int additive(enum indic_measure m)
{
    return m == IM_COUNT || m == IM_SUM || m == IM_DISTINCT;
}

static struct indic_series *series_get(struct indic_engine *eng, int def,
                                       const char *group)
{
    char key[INDIC_ID_MAX + 300];
    snprintf(key, sizeof(key), "%d\x1f%s", def, group);
    struct indic_series *s = indic_map_get(&eng->series_by_key, key);
    if (s)
        return s;
    if (eng->nseries >= eng->cfg.max_series) {
        eng->series_dropped++;
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->def = def;
    s->group = strdup(group);
    s->det = detect_new(NULL);
    s->next_close = INT64_MIN;
    s->floor = INT64_MIN;
    s->last_ts = INT64_MIN;
    s->last_bucket = INT64_MIN;
    s->last_value = s->last_score = NAN;
    if (eng->nseries == eng->cseries) {
        eng->cseries = eng->cseries ? eng->cseries * 2 : 1024;
        eng->series = xrealloc(eng->series, eng->cseries * sizeof(*s));
    }
    eng->series[eng->nseries++] = s;
    indic_map_put(&eng->series_by_key, key, s);
    return s;
}

static int64_t bucket_start(const struct indic_def *d, int64_t ts)
{
    /* days and longer align to district midnight (UTC+8) */
    int64_t off =
        d->bucket_ns >= 86400 * INDIC_NS_S ? 8 * 3600 * INDIC_NS_S : 0;
    int64_t t = ts + off;
    int64_t q = t / d->bucket_ns;
    if (t % d->bucket_ns && t < 0)
        q--;
    return q * d->bucket_ns - off;
}

static struct indic_bucket *bucket_get(struct indic_series *s, int64_t start)
{
    size_t lo = 0, hi = s->nb;
    if (s->nb && s->b[s->nb - 1].start == start)
        return &s->b[s->nb - 1];
    if (s->nb && s->b[s->nb - 1].start < start) {
        lo = s->nb;
    } else {
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s->b[mid].start < start)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < s->nb && s->b[lo].start == start)
            return &s->b[lo];
    }
    if (s->nb == s->cb) {
        s->cb = s->cb ? s->cb * 2 : 8;
        s->b = xrealloc(s->b, s->cb * sizeof(*s->b));
    }
    memmove(&s->b[lo + 1], &s->b[lo], (s->nb - lo) * sizeof(*s->b));
    s->nb++;
    struct indic_bucket *b = &s->b[lo];
    memset(b, 0, sizeof(*b));
    b->start = start;
    b->score = NAN;
    b->max_ts = -INFINITY;
    return b;
}

static void bucket_free(struct indic_bucket *b)
{
    free(b->vals);
    free(b->keys);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double bucket_value(const struct indic_def *d,
                           const struct indic_series *s, struct indic_bucket *b)
{
    switch (d->measure) {
    case IM_COUNT:
        return b->n;
    case IM_SUM:
        return b->sum;
    case IM_MEAN:
        return b->n > 0 ? b->sum / b->n : NAN;
    case IM_RATIO:
        return b->n > 0 ? b->num / b->n : NAN;
    case IM_DISTINCT: {
        if (!b->nk)
            return 0;
        qsort(b->keys, b->nk, sizeof(uint64_t), cmp_u64);
        uint32_t u = 1;
        for (uint32_t i = 1; i < b->nk; i++)
            if (b->keys[i] != b->keys[u - 1])
                b->keys[u++] = b->keys[i];
        b->nk = u;
        return u;
    }
    case IM_PERCENTILE: {
        if (!b->nv)
            return NAN;
        qsort(b->vals, b->nv, sizeof(double), cmp_double);
        size_t rank = (size_t)ceil(d->p / 100.0 * b->nv);
        return b->vals[rank ? rank - 1 : 0];
    }
    case IM_FRESHNESS: {
        double last = s->last_ts == INT64_MIN ? -INFINITY : (double)s->last_ts;
        if (b->max_ts > last)
            last = b->max_ts;
        double end = (double)(b->start + d->bucket_ns);
        return isfinite(last) ? (end - last) / 1e9 : NAN;
    }
    }
    return NAN;
}

/* One observation of a record, ready for every matching declaration. */
struct obs {
    enum indic_feed feed;
    const char *source, *type, *category, *street, *committee;
    const char *attrs; /* events: compact JSON or NULL */
    json_t *attrs_parsed;
    int attrs_tried;
    int metric, fault, matched;
    int hourly; /* usage: the use of an hour (else of a district day) */
    int32_t street_key, committee_key; /* house_key of a household's record;
                                          0: none (events, scenes) */
    int64_t ts;
    double value; /* use (usage), reading value */
    const char *recipient;
    char pair[320]; /* a "street/category" group */
    /* events: placed at a committee (and, when sent without one, at a
     * street) when a declaration groups by it */
    struct store *place_st;        /* NULL: placed already, or not an event */
    struct store *place_street_st; /* NULL: has its street, or placed */
    double lat, lon;
    char committee_buf[STORE_NAME_MAX + 1];
    char street_buf[256];
};

/* An event's committee: the nearest registered building's within this
 * distance (store_place_event), else "(unplaced)". */
#define INDIC_PLACE_MAX_M 1000.0

static const char *obs_committee(struct obs *o)
{
    if (o->place_st) {
        int rc =
            store_place_event(o->place_st, o->lat, o->lon, INDIC_PLACE_MAX_M,
                              o->committee_buf, sizeof(o->committee_buf));
        o->place_st = NULL;
        o->committee = rc                  ? "(unplaced)"
                       : *o->committee_buf ? o->committee_buf
                                           : "(none)";
    }
    return o->committee ? o->committee : "(none)";
}

/* An event sent without a street counts under the street the store placed
 * it at (store_place_event_street), as the back-fill's scan gives it. */
static const char *obs_street(struct obs *o)
{
    if (o->place_street_st) {
        if (!store_place_event_street(o->place_street_st, o->lat, o->lon,
                                      o->street_buf, sizeof(o->street_buf)))
            o->street = o->street_buf;
        o->place_street_st = NULL;
    }
    return o->street ? o->street : "(unplaced)";
}

static double attr_number(struct obs *o, const char *key, int *OUT_ok)
{
    *OUT_ok = 0;
    if (!o->attrs_tried) {
        o->attrs_tried = 1;
        o->attrs_parsed = o->attrs ? json_loads(o->attrs, 0, NULL) : NULL;
    }
    json_t *v = json_object_get(o->attrs_parsed, key);
    if (json_is_number(v)) {
        *OUT_ok = 1;
        return json_number_value(v);
    }
    if (json_is_string(v)) {
        char *end;
        double x = strtod(json_string_value(v), &end);
        *OUT_ok = end != json_string_value(v) && !*end;
        return x;
    }
    return 0;
}

static const char *attr_string(struct obs *o, const char *key)
{
    int ok;
    attr_number(o, key, &ok); /* parses */
    json_t *v = json_object_get(o->attrs_parsed, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ingest counts what departments sent, not what the roll-up or the
 * scenes derive from it */
static int ingested(const struct obs *o)
{
    return o->feed == IF_EVENTS || o->feed == IF_DELIVERIES ||
           o->feed == IF_READINGS;
}

static int def_matches(const struct indic_def *d, const struct obs *o)
{
    if (d->feed == IF_INGEST ? !ingested(o) : d->feed != o->feed)
        return 0;
    if (d->feed == IF_USAGE && o->hourly != (d->bucket_ns < 86400 * INDIC_NS_S))
        return 0; /* sub-day buckets sum hours, daily ones days */
    if (*d->source && (!o->source || strcmp(d->source, o->source)))
        return 0;
    if (*d->platform && (!o->source || strcmp(d->platform, o->source)))
        return 0;
    if (d->metric >= 0 && o->metric != d->metric)
        return 0;
    if (*d->type) {
        if (o->feed == IF_READINGS)
            return !strcmp(d->type, "fault") && o->fault;
        if (!o->type || strcmp(d->type, o->type))
            return 0;
    }
    return 1;
}

static const char *obs_category(struct obs *o)
{
    const char *c = o->feed == IF_EVENTS ? attr_string(o, "category") : NULL;
    return c ? c : o->type ? o->type : "(none)";
}

static const char *obs_group(const struct indic_def *d, struct obs *o)
{
    switch (d->group) {
    case IG_DISTRICT:
        return "district";
    case IG_STREET:
        return obs_street(o);
    case IG_COMMITTEE:
        return obs_committee(o);
    case IG_SOURCE:
        return o->source ? o->source : "(none)";
    case IG_CATEGORY:
        return obs_category(o);
    case IG_STREET_CATEGORY:
        snprintf(o->pair, sizeof(o->pair), "%s/%s", obs_street(o),
                 obs_category(o));
        return o->pair;
    }
    return "district";
}

/* Where d's points start to be kept, given the engine's keep_from (from
 * indicator_retention_days): a declaration's own retention moves it. */
static int64_t def_keep_from(const struct indic_engine *eng,
                             const struct indic_def *d, int64_t keep_from)
{
    if (!d->retention_ns)
        return keep_from;
    return keep_from + (int64_t)eng->cfg.retention_days * 86400 * INDIC_NS_S -
           d->retention_ns;
}

/* The series of o's group in declaration di.  A household's street or
 * committee is found by its name's key (no group key to format and hash
 * per record: the roll-up hands on a use per reading); other groups
 * through the map, after the declaration's last series. */
static struct indic_series *obs_series(struct indic_engine *eng, int di,
                                       struct obs *o)
{
    struct indic_def *d = eng->defs[di];
    int32_t key = d->group == IG_STREET      ? o->street_key
                  : d->group == IG_COMMITTEE ? o->committee_key
                                             : 0;
    if (key > 0 && (size_t)key < d->n_by_key && d->by_key[key])
        return d->by_key[key];
    const char *group = obs_group(d, o);
    struct indic_series *s = d->last && !strcmp(d->last->group, group)
                                 ? d->last
                                 : series_get(eng, di, group);
    if (s && key > 0) {
        if ((size_t)key >= d->n_by_key) {
            size_t n = (size_t)key + 256;
            d->by_key = xrealloc(d->by_key, n * sizeof(*d->by_key));
            memset(d->by_key + d->n_by_key, 0,
                   (n - d->n_by_key) * sizeof(*d->by_key));
            d->n_by_key = n;
        }
        d->by_key[key] = s;
    }
    return s;
}

static void obs_apply(struct indic_engine *eng, int di, struct obs *o)
{
    struct indic_def *d = eng->defs[di];
    struct indic_series *s = obs_series(eng, di, o);
    if (!s)
        return;
    int64_t start = bucket_start(d, o->ts);
    d->last = s;
    if (start < s->floor || start < def_keep_from(eng, d, eng->keep_from)) {
        eng->late_dropped++; /* its bucket left memory: too late */
        return;
    }
    struct indic_bucket *b = bucket_get(s, start);
    int ok = 1;
    double v = o->value;
    if (o->feed == IF_EVENTS && *d->field)
        v = attr_number(o, d->field, &ok);
    b->dirty = 1;
    if ((double)o->ts > b->max_ts)
        b->max_ts = (double)o->ts;
    switch (d->measure) {
    case IM_COUNT:
    case IM_FRESHNESS:
        b->n++;
        break;
    case IM_SUM:
    case IM_MEAN:
        if (ok) {
            b->n++;
            b->sum += v;
        }
        break;
    case IM_RATIO:
        b->n++;
        if (d->where_matched ? o->matched
                             : (o->type && !strcmp(o->type, d->where_type)))
            b->num++;
        break;
    case IM_PERCENTILE:
        if (ok) {
            if (b->nv == b->cv) {
                b->cv = b->cv ? b->cv * 2 : 16;
                b->vals = xrealloc(b->vals, b->cv * sizeof(double));
            }
            b->vals[b->nv++] = v;
        }
        break;
    case IM_DISTINCT: {
        const char *k = !strcmp(d->field, "recipient") ? o->recipient
                        : o->feed == IF_EVENTS ? attr_string(o, d->field)
                                               : NULL;
        if (!k)
            break;
        if (b->nk == b->ck) {
            b->ck = b->ck ? b->ck * 2 : 16;
            b->keys = xrealloc(b->keys, b->ck * sizeof(uint64_t));
        }
        b->keys[b->nk++] = fnv(k);
        break;
    }
    }
    if (b->closed)
        b->dirty = 1; /* a late record: the value changes, the score stays */
}

static void obs_feed(struct indic_engine *eng, struct obs *o, int64_t seq)
{
    for (size_t i = 0; i < eng->ndefs; i++)
        if (seq > eng->defs[i]->skip_seq && def_matches(eng->defs[i], o))
            obs_apply(eng, (int)i, o);
    if (o->attrs_parsed)
        json_decref(o->attrs_parsed);
    o->attrs_parsed = NULL;
    o->attrs_tried = 0;
}

/* ---- the records of each feed ---- */

static void feed_event(struct indic_engine *eng, const struct event *e,
                       int64_t seq)
{
    struct obs o = {.feed = IF_EVENTS,
                    .source = e->source,
                    .type = e->type,
                    .street = e->street,
                    .committee = "(unplaced)",
                    .place_st = eng->st,
                    .place_street_st = e->street ? NULL : eng->st,
                    .lat = e->lat,
                    .lon = e->lon,
                    .attrs = e->attrs_json,
                    .metric = -1,
                    .ts = e->ts_ns,
                    .value = 1};
    obs_feed(eng, &o, seq);
}

static void feed_delivery(struct indic_engine *eng, const struct delivery *d,
                          int64_t seq)
{
    char platform[64];
    const char *dash = d->order_id ? strchr(d->order_id, '-') : NULL;
    size_t n = dash ? (size_t)(dash - d->order_id) : 0;
    if (!n || n >= sizeof(platform))
        snprintf(platform, sizeof(platform), "unknown");
    else
        memcpy(platform, d->order_id, n), platform[n] = '\0';
    struct obs o = {.feed = IF_DELIVERIES,
                    .source = platform,
                    .street = house_name(eng, d->household, 0),
                    .committee = house_name(eng, d->household, 1),
                    .street_key = house_key(eng, d->household, 0),
                    .committee_key = house_key(eng, d->household, 1),
                    .metric = -1,
                    .matched = d->household >= 0,
                    .ts = d->ts_ns,
                    .value = 1,
                    .recipient = d->recipient};
    obs_feed(eng, &o, seq);
}

static void feed_reading(struct indic_engine *eng, const struct reading *r,
                         int64_t seq)
{
    int fault = 0;
    if (r->household >= 0 && r->field == READING_INDEX) {
        size_t k = (size_t)r->household * METRIC_COUNT + r->metric;
        if (k >= eng->nlast) {
            size_t n = k + 4096;
            eng->last_index = xrealloc(eng->last_index, n * sizeof(double));
            for (size_t i = eng->nlast; i < n; i++)
                eng->last_index[i] = NAN;
            eng->nlast = n;
        }
        fault = eng->last_index[k] - r->value > 1e-9;
        eng->last_index[k] = r->value;
    }
    char src[32];
    snprintf(src, sizeof(src), "readings.%s", metric_name(r->metric));
    struct obs o = {.feed = IF_READINGS,
                    .source = src,
                    .street = house_name(eng, r->household, 0),
                    .committee = house_name(eng, r->household, 1),
                    .street_key = house_key(eng, r->household, 0),
                    .committee_key = house_key(eng, r->household, 1),
                    .metric = r->metric,
                    .fault = fault,
                    .ts = r->ts_ns,
                    .value = r->value};
    obs_feed(eng, &o, seq);
}

static void on_batch(void *ctx, const struct ingest_batch *b, int64_t seq)
{
    struct indic_engine *eng = ctx;
    pthread_mutex_lock(&eng->lock);
    for (size_t i = 0; i < b->n; i++) {
        switch (b->feed) {
        case FEED_EVENTS:
            feed_event(eng, &b->events[i], seq);
            break;
        case FEED_DELIVERIES:
            feed_delivery(eng, &b->deliveries[i], seq);
            break;
        case FEED_READINGS:
            feed_reading(eng, &b->readings[i], seq);
            break;
        case FEED_REGISTRY: {
            const struct household *h = &b->households[i];
            house_set(eng, store_household_resolve(eng->st, h->household_id),
                      h);
            break;
        }
        default:
            break;
        }
    }
    pthread_mutex_unlock(&eng->lock);
}

/* A household's use of metric from ts (ns) for a day, or an hour when
 * hourly. */
static void usage_obs(struct indic_engine *eng, int32_t household, int metric,
                      int64_t ts, int hourly, double use, int64_t seq)
{
    struct obs o = {.feed = IF_USAGE,
                    .source = metric_name(metric),
                    .street = house_name(eng, household, 0),
                    .committee = house_name(eng, household, 1),
                    .street_key = house_key(eng, household, 0),
                    .committee_key = house_key(eng, household, 1),
                    .metric = metric,
                    .hourly = hourly,
                    .ts = ts,
                    .value = use};
    obs_feed(eng, &o, seq);
}

static void usage_apply(struct indic_engine *eng, int32_t household, int metric,
                        int64_t day, double use, int64_t seq)
{
    usage_obs(eng, household, metric, (day * 86400 - 8 * 3600) * INDIC_NS_S, 0,
              use, seq);
}

/* An hour's use (hour: hours since the epoch). */
static void usage_hour_apply(struct indic_engine *eng, int32_t household,
                             int metric, int64_t hour, double use, int64_t seq)
{
    usage_obs(eng, household, metric, hour * 3600 * INDIC_NS_S, 1, use, seq);
}

static void on_usage_hour(void *ctx, int32_t household, int metric,
                          int64_t hour, double use)
{
    struct indic_engine *eng = ctx;
    pthread_mutex_lock(&eng->lock);
    usage_hour_apply(eng, household, metric, hour, use, INT64_MAX);
    pthread_mutex_unlock(&eng->lock);
}

static void on_usage(void *ctx, int32_t household, int metric, int64_t day,
                     double use)
{
    struct indic_engine *eng = ctx;
    pthread_mutex_lock(&eng->lock);
    usage_apply(eng, household, metric, day, use, INT64_MAX);
    pthread_mutex_unlock(&eng->lock);
}

/* ---- back-fill from a snapshot ---- */

struct fill {
    struct indic_engine *eng;
    int64_t seq; /* > every def's skip_seq being filled: INT64_MAX */
};

static void fill_household(void *ctx, int32_t id, const struct household *h)
{
    house_set(((struct fill *)ctx)->eng, id, h);
}
static void fill_event(void *ctx, const struct event *e)
{
    struct fill *f = ctx;
    feed_event(f->eng, e, f->seq);
}
static void fill_delivery(void *ctx, const struct delivery *d)
{
    struct fill *f = ctx;
    feed_delivery(f->eng, d, f->seq);
}
static void fill_reading(void *ctx, const struct reading *r)
{
    struct fill *f = ctx;
    feed_reading(f->eng, r, f->seq);
}
static void fill_usage(void *ctx, int32_t household, int metric, int64_t day,
                       double use)
{
    struct fill *f = ctx;
    usage_apply(f->eng, household, metric, day, use, f->seq);
}
static void fill_usage_hour(void *ctx, int32_t household, int metric,
                            int64_t hour, double use)
{
    struct fill *f = ctx;
    usage_hour_apply(f->eng, household, metric, hour, use, f->seq);
}

/* Applies the snapshot to the declarations whose skip_seq is < 0 (those
 * being filled); the others skip it (skip_seq >= every seq in it). */
static int fill_from(struct indic_engine *eng, struct store_snapshot *snap,
                     int registry)
{
    int64_t now = indic_now_ns();
    int64_t from = now - (int64_t)eng->cfg.backfill_days * 86400 * INDIC_NS_S;
    int need[IF_SCENES + 1] = {0}, need_hours = 0;
    for (size_t i = 0; i < eng->ndefs; i++)
        if (eng->defs[i]->skip_seq < 0) {
            const struct indic_def *d = eng->defs[i];
            if (d->feed == IF_INGEST)
                need[IF_EVENTS] = need[IF_DELIVERIES] = need[IF_READINGS] = 1;
            if (d->feed == IF_USAGE && d->bucket_ns < 86400 * INDIC_NS_S)
                need_hours = 1;
            else
                need[d->feed] = 1;
        }
    struct fill f = {eng, 0};
    /* every filled def has skip_seq -1 < 0 = f.seq; others skip */
    int rc = 0;
    if (registry)
        rc = store_scan_households(snap, fill_household, &f, NULL);
    if (!rc && need[IF_EVENTS])
        rc = store_scan_events(snap, from, fill_event, &f, NULL);
    if (!rc && need[IF_DELIVERIES])
        rc = store_scan_deliveries(snap, from, fill_delivery, &f, NULL);
    if (!rc && need[IF_READINGS])
        rc = store_scan_readings(snap, from, -1, fill_reading, &f, NULL);
    if (!rc && need[IF_USAGE]) {
        int64_t day = (from + 8 * 3600 * INDIC_NS_S) / (86400 * INDIC_NS_S);
        rc = store_scan_usage_daily(snap, day, fill_usage, &f, NULL);
    }
    if (!rc && need_hours) {
        int64_t day = (from + 8 * 3600 * INDIC_NS_S) / (86400 * INDIC_NS_S);
        rc = store_scan_usage_hourly(snap, day, fill_usage_hour, &f, NULL);
    }
    int64_t seq = store_snapshot_log_seq(snap);
    for (size_t i = 0; i < eng->ndefs; i++)
        if (eng->defs[i]->skip_seq < 0)
            eng->defs[i]->skip_seq = seq;
    return rc;
}

static int on_load(void *ctx, struct store_snapshot *snap)
{
    struct indic_engine *eng = ctx;
    pthread_mutex_lock(&eng->lock);
    int rc = snap ? fill_from(eng, snap, 1) : 0;
    if (!snap)
        for (size_t i = 0; i < eng->ndefs; i++)
            eng->defs[i]->skip_seq = 0;
    pthread_mutex_unlock(&eng->lock);
    return rc;
}

/* ---- declarations ---- */

static int def_add(struct indic_engine *eng, struct indic_def *d)
{
    for (size_t i = 0; i < eng->ndefs; i++)
        if (!strcmp(eng->defs[i]->id, d->id))
            return CB_EEXIST;
    if (eng->ndefs >= eng->cfg.max_indicators)
        return CB_ETOOBIG;
    eng->defs = xrealloc(eng->defs, (eng->ndefs + 1) * sizeof(*eng->defs));
    d->skip_seq = -1;
    eng->defs[eng->ndefs++] = d;
    return 0;
}

static int add_text(struct indic_engine *eng, const char *json, size_t len,
                    const char *where, int store_it)
{
    char err[300];
    struct indic_def *d;
    if (indic_def_parse(json, len, &d, err, sizeof(err))) {
        log_msg(LOG_ERROR, "indic", "%s: %s", where, err);
        return CB_EINVAL;
    }
    int rc = def_add(eng, d);
    if (rc == CB_EEXIST) {
        indic_def_free(d);
        return 0; /* stored and declared again: the stored one stays */
    }
    if (rc) {
        log_msg(LOG_ERROR, "indic", "%s: %s", where, cb_strerror(rc));
        indic_def_free(d);
        return rc;
    }
    return store_it ? store_doc_put(eng->st, "indicator", d->id, d->json) : 0;
}

/* Adds each declaration of a JSON array text. */
static int add_array(struct indic_engine *eng, const char *text,
                     const char *where, int store_it)
{
    json_error_t je;
    json_t *a = json_loads(text, 0, &je);
    if (!json_is_array(a)) {
        log_msg(LOG_ERROR, "indic", "%s: line %d column %d: %s", where, je.line,
                je.column,
                a ? "expected a JSON array of declarations" : je.text);
        json_decref(a);
        return CB_EINVAL;
    }
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(a, i, v)
    {
        char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char at[300];
        snprintf(at, sizeof(at), "%s: declaration %zu", where, i + 1);
        rc = s ? add_text(eng, s, strlen(s), at, store_it) : CB_EINVAL;
        free(s);
        if (rc)
            break;
    }
    json_decref(a);
    return rc;
}

static int stored_def(void *ctx, const char *id, const char *json)
{
    add_text(ctx, json, strlen(json), "stored indicator", 0);
    return 0;
}

static int load_defs(struct indic_engine *eng)
{
    int rc = store_doc_scan(eng->st, "indicator", stored_def, eng);
    if (!rc && eng->cfg.with_defaults)
        rc = add_array(eng, indic_default_set, "default set", 0);
    if (!rc && eng->defs_file && *eng->defs_file) {
        struct sbuf text = SBUF_INIT;
        FILE *f = fopen(eng->defs_file, "rb");
        if (!f) {
            log_msg(LOG_ERROR, "indic", "%s: cannot open", eng->defs_file);
            return CB_EINVAL;
        }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            sbuf_add(&text, buf, n);
        fclose(f);
        rc = add_array(eng, text.buf ? text.buf : "", eng->defs_file, 0);
        sbuf_release(&text);
    }
    return rc;
}

int indic_define(struct indic_engine *eng, const char *json, size_t len,
                 char *err, size_t errcap)
{
    struct indic_def *d;
    int rc = indic_def_parse(json, len, &d, err, errcap);
    if (rc)
        return rc;
    if (d->feed == IF_USAGE)
        store_rollup_flush(eng->st); /* the use is checkpointed */
    pthread_mutex_lock(&eng->lock);
    rc = def_add(eng, d);
    if (rc) {
        pthread_mutex_unlock(&eng->lock);
        snprintf(err, errcap, "indicator '%s': %s", d->id,
                 rc == CB_EEXIST ? "exists" : "too many indicators");
        indic_def_free(d);
        return rc;
    }
    /* Held: the consumer waits, so no batch reaches the new declaration
     * before its back-fill, and those the snapshot holds are skipped. */
    struct store_snapshot *snap = NULL;
    rc = store_snapshot_begin(eng->st, &snap);
    if (!rc)
        rc = fill_from(eng, snap, 0);
    store_snapshot_end(snap);
    pthread_mutex_unlock(&eng->lock);
    if (!rc)
        rc = store_doc_put(eng->st, "indicator", d->id, d->json);
    if (rc)
        snprintf(err, errcap, "indicator '%s': the store failed", d->id);
    return rc;
}

/* ---- scene samples ---- */

/* Adds n to street's count in o (an object of integers). */
static void count_add(json_t *o, const char *street, json_int_t n)
{
    json_t *v = json_object_get(o, street);
    json_object_set_new(o, street, json_integer(json_integer_value(v) + n));
}

/* The scenes' open elderly alerts and suspects per street, as two objects
 * {street: n}; every street the summary knows appears in both.  0 or
 * CB_EIO. */
static int scene_counts(struct scene_engine *sc, json_t **OUT_sus,
                        json_t **OUT_eld)
{
    struct sbuf sum = SBUF_INIT, eld = SBUF_INIT;
    json_t *js = NULL, *je = NULL;
    int rc = CB_EIO;
    *OUT_sus = json_object();
    *OUT_eld = json_object();
    if (scene_group_rental_summary_json(sc, "street", NULL, &sum) ||
        scene_elderly_alerts_json(sc, NULL, NULL, &eld))
        goto out;
    js = json_loadb(sum.buf, sum.len, 0, NULL);
    je = json_loadb(eld.buf, eld.len, 0, NULL);
    if (!js || !je)
        goto out;
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(js, "groups"), i, g)
    {
        const char *name = json_string_value(json_object_get(g, "street"));
        if (!name)
            continue;
        count_add(*OUT_sus, name,
                  json_integer_value(json_object_get(g, "suspects")));
        count_add(*OUT_eld, name, 0);
    }
    json_array_foreach(json_object_get(je, "alerts"), i, g)
    {
        const char *name = json_string_value(json_object_get(g, "street"));
        if (name)
            count_add(*OUT_eld, name, 1);
    }
    rc = 0;
out:
    json_decref(js);
    json_decref(je);
    sbuf_release(&sum);
    sbuf_release(&eld);
    return rc;
}

static void scene_feed(struct indic_engine *eng, json_t *counts,
                       const char *type, int64_t now)
{
    const char *street;
    json_t *v;
    json_object_foreach(counts, street, v)
    {
        struct obs o = {.feed = IF_SCENES,
                        .source = "scenes",
                        .type = type,
                        .street = street,
                        .metric = -1,
                        .ts = now,
                        .value = (double)json_integer_value(v)};
        obs_feed(eng, &o, INT64_MAX);
    }
}

/* Samples the scene engine (at most every scene_sample_s) when a
 * declaration reads feed scenes.  Outside eng->lock: the scene has its
 * own locks. */
static void sample_scenes(struct indic_engine *eng, int64_t now)
{
    int64_t mono = time_monotonic_ns();
    int wanted = 0;
    pthread_mutex_lock(&eng->lock);
    for (size_t i = 0; i < eng->ndefs; i++)
        wanted |= eng->defs[i]->feed == IF_SCENES;
    if (eng->scenes_sampled &&
        mono - eng->scenes_sampled <
            (int64_t)eng->cfg.scene_sample_s * INDIC_NS_S)
        wanted = 0;
    if (wanted)
        eng->scenes_sampled = mono;
    pthread_mutex_unlock(&eng->lock);
    if (!wanted || !eng->cfg.scenes)
        return;
    json_t *sus, *eld;
    if (!scene_counts(eng->cfg.scenes, &sus, &eld)) {
        pthread_mutex_lock(&eng->lock);
        scene_feed(eng, sus, "suspects", now);
        scene_feed(eng, eld, "elderly_alerts", now);
        pthread_mutex_unlock(&eng->lock);
    }
    json_decref(sus);
    json_decref(eld);
}

/* ---- ticks ---- */

struct points {
    struct store_point *p;
    size_t n, cap;
};

static void points_add(struct points *pts, const struct indic_def *d,
                       const struct indic_series *s,
                       const struct indic_bucket *b, double value)
{
    if (pts->n == pts->cap) {
        pts->cap = pts->cap ? pts->cap * 2 : 1024;
        pts->p = xrealloc(pts->p, pts->cap * sizeof(*pts->p));
    }
    pts->p[pts->n++] = (struct store_point){d->id,        s->group, b->start,
                                            d->bucket_ns, value,    b->score};
}

/* Publishes a closed bucket on the live hub (a bounded number a tick). */
static void live_bucket(struct indic_engine *eng, const struct indic_def *d,
                        const struct indic_series *s, int64_t t, double v,
                        double score)
{
    if (!eng->cfg.live || eng->live_sent >= INDIC_LIVE_MAX_PER_TICK)
        return;
    struct sbuf ev = SBUF_INIT;
    struct jsonw w;
    char iso[40];
    indic_iso(t, iso);
    jsonw_init(&w, &ev);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "indicator", d->id);
    jsonw_kv_str(&w, "group", s->group);
    jsonw_kv_str(&w, "ts", iso);
    jsonw_kv_double(&w, "value", v);
    jsonw_kv_double(&w, "score", score);
    jsonw_object_end(&w);
    if (live_publish(eng->cfg.live, "indicator", ev.buf) > 0)
        eng->live_sent++;
    sbuf_release(&ev);
}

/* Where a new series of d with its first bucket at first starts closing.
 * A count, sum or distinct count was 0 in the buckets before its first
 * record while the indicator ran (a category or street that had no record
 * yet), so its detector starts from those zeros, up to a week back: a new
 * kind of call arriving in numbers is then scored against its own quiet
 * past, not learned as normal during the detector's probation. */
static int64_t series_first_close(struct indic_def *d, int64_t first)
{
    int64_t from = first;
    if (additive(d->measure) && d->first_close && d->first_close < first) {
        int64_t back = 7 * 86400 * INDIC_NS_S;
        if (back > 1000 * d->bucket_ns)
            back = 1000 * d->bucket_ns;
        from = d->first_close > first - back ? d->first_close
                                             : bucket_start(d, first - back);
    }
    if (!d->first_close || first < d->first_close)
        d->first_close = first;
    return from;
}

/* Keeps a bucket just closed for the rules when it became due (its end
 * plus the grace) after their last evaluation: each such bucket is then
 * evaluated, in order, even when several close in one tick (a late tick,
 * a lagging clock).  Buckets due before it (a back-fill, the zeros a new
 * series starts from) are history, not news: the rules see only the
 * newest of them, as before the first evaluation. */
static void fresh_add(struct indic_engine *eng, struct indic_series *s,
                      int64_t start, double value, double score)
{
    const struct indic_def *d = eng->defs[s->def];
    if (!eng->last_eval ||
        start + d->bucket_ns + eng->cfg.grace_ns <= eng->last_eval)
        return;
    if (s->nfresh == s->cfresh) {
        s->cfresh = s->cfresh ? 2 * s->cfresh : 4;
        s->fresh = xrealloc(s->fresh, s->cfresh * sizeof(*s->fresh));
    }
    s->fresh[s->nfresh++] =
        (struct indic_closed){.start = start, .value = value, .score = score};
}

/* Closes the buckets of s that end before limit, in order, scoring each;
 * returns how many it closed. */
static size_t series_close(struct indic_engine *eng, struct indic_series *s,
                           int64_t limit, int64_t keep_from)
{
    size_t closed = 0;
    const struct indic_def *d = eng->defs[s->def];
    s->nfresh = 0;
    if (s->next_close == INT64_MIN) {
        if (!s->nb)
            return 0;
        s->next_close = series_first_close(eng->defs[s->def], s->b[0].start);
    }
    if (s->next_close < keep_from)
        s->next_close = bucket_start(d, keep_from);
    while (s->next_close + d->bucket_ns <= limit) {
        int64_t t = s->next_close;
        s->next_close += d->bucket_ns;
        int present = 0;
        for (size_t i = s->nb; i-- > 0;)
            if (s->b[i].start <= t) {
                present = s->b[i].start == t;
                break;
            }
        if (!present && !additive(d->measure) && d->measure != IM_FRESHNESS)
            continue;
        struct indic_bucket *b = bucket_get(s, t);
        closed++;
        b->closed = 1;
        b->dirty = 1;
        double v = bucket_value(d, s, b);
        if (b->max_ts > (double)s->last_ts)
            s->last_ts = (int64_t)b->max_ts;
        if (!isfinite(v))
            continue;
        struct detect_result r;
        detect_update(s->det, t / INDIC_NS_S, v, &r);
        b->score = r.score;
        s->last_bucket = t;
        s->last_value = v;
        s->last_score = r.score;
        fresh_add(eng, s, t, v, r.score);
        live_bucket(eng, d, s, t, v, r.score);
    }
    return closed;
}

/* Drops the closed, written buckets that start before mem_from (a day, or
 * two buckets, before the closing line): later records for them are too
 * late and counted in late_dropped. */
static void series_trim(struct indic_series *s, int64_t mem_from,
                        int64_t keep_from)
{
    size_t k = 0;
    while (k < s->nb && s->b[k].start < mem_from &&
           ((s->b[k].closed && !s->b[k].dirty) || s->b[k].start < keep_from))
        bucket_free(&s->b[k++]);
    if (!k)
        return;
    s->floor = s->b[k - 1].start + 1;
    memmove(s->b, s->b + k, (s->nb - k) * sizeof(*s->b));
    s->nb -= k;
}

/* Drops the stored points past retention: each declaration's by its own,
 * then those of any indicator no longer declared past the longest. */
static void points_retain(struct indic_engine *eng, int64_t keep_from)
{
    struct retain {
        char id[INDIC_ID_MAX];
        int64_t from;
    } * r;
    size_t n;
    int64_t oldest = keep_from;
    pthread_mutex_lock(&eng->lock);
    n = eng->ndefs;
    r = xcalloc(n + 1, sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        memcpy(r[i].id, eng->defs[i]->id, sizeof(r[i].id));
        r[i].from = def_keep_from(eng, eng->defs[i], keep_from);
        if (r[i].from < oldest)
            oldest = r[i].from;
    }
    pthread_mutex_unlock(&eng->lock);
    for (size_t i = 0; i < n; i++)
        store_points_retain(eng->st, r[i].id, r[i].from);
    store_points_retain(eng->st, NULL, oldest);
    free(r);
}

void indic_tick(struct indic_engine *eng, int64_t now_ns)
{
    struct points pts = {0};
    sample_scenes(eng, now_ns);
    int64_t keep_from =
        now_ns - (int64_t)eng->cfg.retention_days * 86400 * INDIC_NS_S;
    pthread_mutex_lock(&eng->lock);
    eng->keep_from = keep_from;
    eng->live_sent = 0;
    size_t work = 0;
    for (size_t i = 0; i < eng->nseries; i++) {
        if (work >= INDIC_TICK_SLICE) {
            /* let the log's consumer in: it must not wait for a long tick
             * (the first one after a back-fill closes many buckets) */
            work = 0;
            pthread_mutex_unlock(&eng->lock);
            sched_yield();
            pthread_mutex_lock(&eng->lock);
        }
        struct indic_series *s = eng->series[i];
        const struct indic_def *d = eng->defs[s->def];
        int64_t kf = def_keep_from(eng, d, keep_from);
        work += 1 + series_close(eng, s, now_ns - eng->cfg.grace_ns, kf);
        for (size_t k = 0; k < s->nb; k++) {
            struct indic_bucket *b = &s->b[k];
            if (!b->dirty)
                continue;
            b->dirty = 0;
            if (b->start < kf)
                continue;
            points_add(&pts, d, s, b, bucket_value(d, s, b));
        }
        int64_t keep = 2 * d->bucket_ns > 86400 * INDIC_NS_S
                           ? 2 * d->bucket_ns
                           : 86400 * INDIC_NS_S;
        series_trim(s, now_ns - eng->cfg.grace_ns - keep, kf);
    }
    indic_rules_eval(eng, now_ns);
    eng->points_written += pts.n;
    int retain = now_ns - eng->last_retain > 3600 * INDIC_NS_S;
    if (retain)
        eng->last_retain = now_ns;
    pthread_mutex_unlock(&eng->lock);
    /* the series and their groups live as long as the engine */
    if (store_points_put(eng->st, pts.p, pts.n))
        log_msg(LOG_WARN, "indic", "points not written | n=%zu", pts.n);
    if (retain)
        points_retain(eng, keep_from);
    free(pts.p);
}

static void *tick_thread(void *arg)
{
    struct indic_engine *eng = arg;
    pthread_mutex_lock(&eng->nlock);
    while (!eng->stopping) {
        pthread_mutex_unlock(&eng->nlock);
        indic_tick(eng, indic_now_ns());
        pthread_mutex_lock(&eng->nlock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t t = (int64_t)ts.tv_sec * INDIC_NS_S + ts.tv_nsec +
                    (int64_t)eng->cfg.tick_ms * 1000000;
        ts.tv_sec = t / INDIC_NS_S;
        ts.tv_nsec = t % INDIC_NS_S;
        if (!eng->stopping)
            pthread_cond_timedwait(&eng->nwake, &eng->nlock, &ts);
    }
    pthread_mutex_unlock(&eng->nlock);
    return NULL;
}

/* ---- life cycle ---- */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int indic_engine_new(const struct indic_config *cfg, struct store *st,
                     struct indic_engine **OUT_eng)
{
    struct indic_engine *eng = xcalloc(1, sizeof(*eng));
    *OUT_eng = NULL;
    eng->cfg = *cfg;
    eng->defs_file = cfg->defs_file ? strdup(cfg->defs_file) : NULL;
    eng->webhook_urls = dup_or_empty(cfg->webhook_urls);
    eng->am_url = dup_or_empty(cfg->alertmanager_url);
    eng->public_url = dup_or_empty(cfg->public_url);
    eng->cfg.defs_file = eng->defs_file;
    eng->cfg.webhook_urls = eng->webhook_urls;
    eng->cfg.alertmanager_url = eng->am_url;
    eng->cfg.public_url = eng->public_url;
    eng->alert_routes = dup_or_empty(cfg->alert_routes);
    eng->escalate_to = dup_or_empty(cfg->escalate_to);
    eng->cfg.alert_routes = eng->alert_routes;
    eng->cfg.escalate_to = eng->escalate_to;
    eng->st = st;
    eng->next_alert_id = 1;
    eng->keep_from =
        indic_now_ns() - (int64_t)cfg->retention_days * 86400 * INDIC_NS_S;
    pthread_mutex_init(&eng->lock, NULL);
    pthread_mutex_init(&eng->nlock, NULL);
    pthread_cond_init(&eng->nwake, NULL);
    int rc = store_indic_tables(st);
    if (!rc)
        rc = load_defs(eng);
    if (!rc && eng->cfg.with_default_rules)
        rc = indic_rules_add_defaults(eng); /* stored rules replace them */
    if (!rc)
        rc = indic_rules_load(eng);
    if (!rc) {
        struct store_consumer c = {.name = "indicators",
                                   .load = on_load,
                                   .on_batch = on_batch,
                                   .on_usage = on_usage,
                                   .on_usage_hour = on_usage_hour,
                                   .ctx = eng};
        rc = store_consumer_register(st, &c);
    }
    if (rc) {
        indic_engine_free(eng);
        return rc;
    }
    *OUT_eng = eng;
    return 0;
}

int indic_engine_start(struct indic_engine *eng)
{
    if (eng->started)
        return 0;
    if (pthread_create(&eng->ticker, NULL, tick_thread, eng))
        return CB_EIO;
    if (pthread_create(&eng->notifier, NULL, indic_notify_thread, eng)) {
        pthread_mutex_lock(&eng->nlock);
        eng->stopping = 1;
        pthread_cond_broadcast(&eng->nwake);
        pthread_mutex_unlock(&eng->nlock);
        pthread_join(eng->ticker, NULL);
        return CB_EIO;
    }
    eng->started = 1;
    return 0;
}

void indic_engine_stop(struct indic_engine *eng)
{
    if (!eng || !eng->started)
        return;
    indic_notify_drain(eng, INDIC_STOP_DRAIN_MS);
    pthread_mutex_lock(&eng->nlock);
    eng->stopping = 1;
    pthread_cond_broadcast(&eng->nwake);
    pthread_mutex_unlock(&eng->nlock);
    pthread_join(eng->ticker, NULL);
    pthread_join(eng->notifier, NULL);
    indic_notify_abandon(eng);
    eng->started = 0;
}

void indic_engine_free(struct indic_engine *eng)
{
    if (!eng)
        return;
    indic_engine_stop(eng);
    indic_notify_free(eng);
    indic_rules_free(eng);
    for (size_t i = 0; i < eng->nseries; i++) {
        struct indic_series *s = eng->series[i];
        for (size_t k = 0; k < s->nb; k++)
            bucket_free(&s->b[k]);
        free(s->b);
        free(s->fresh);
        free(s->group);
        detect_free(s->det);
        free(s);
    }
    free(eng->series);
    indic_map_release(&eng->series_by_key);
    for (size_t i = 0; i < eng->ndefs; i++)
        indic_def_free(eng->defs[i]);
    free(eng->defs);
    for (size_t i = 0; i < eng->nnames; i++)
        free(eng->names[i]);
    free(eng->names);
    indic_map_release(&eng->name_ids);
    free(eng->street_of);
    free(eng->committee_of);
    free(eng->last_index);
    free(eng->defs_file);
    free(eng->webhook_urls);
    free(eng->am_url);
    free(eng->alert_routes);
    free(eng->escalate_to);
    free(eng->public_url);
    pthread_mutex_destroy(&eng->lock);
    pthread_mutex_destroy(&eng->nlock);
    pthread_cond_destroy(&eng->nwake);
    free(eng);
}

/* ---- reads ---- */

void indic_list_json(struct indic_engine *eng, struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    pthread_mutex_lock(&eng->lock);
    size_t *count = xcalloc(eng->ndefs + 1, sizeof(size_t));
    for (size_t i = 0; i < eng->nseries; i++)
        count[eng->series[i]->def]++;
    jsonw_array_begin(&w);
    for (size_t i = 0; i < eng->ndefs; i++) {
        jsonw_object_begin(&w);
        jsonw_kv_str(&w, "id", eng->defs[i]->id);
        jsonw_key(&w, "declaration");
        jsonw_raw(&w, eng->defs[i]->json, strlen(eng->defs[i]->json));
        jsonw_kv_int(&w, "bucket_s", eng->defs[i]->bucket_ns / INDIC_NS_S);
        jsonw_kv_int(&w, "series", (int64_t)count[i]);
        jsonw_object_end(&w);
    }
    jsonw_array_end(&w);
    free(count);
    pthread_mutex_unlock(&eng->lock);
}

struct series_out {
    struct jsonw *w;
};

static void point_json(void *ctx, const struct store_point *p)
{
    struct jsonw *w = ctx;
    char iso[40];
    indic_iso(p->bucket_ns, iso);
    jsonw_object_begin(w);
    jsonw_kv_str(w, "group", p->group);
    jsonw_kv_str(w, "ts", iso);
    jsonw_kv_double(w, "value", p->value);
    jsonw_kv_double(w, "score", p->score);
    jsonw_object_end(w);
}

int indic_series_json(struct indic_engine *eng, const char *id,
                      const char *group, int64_t from_ns, int64_t to_ns,
                      size_t limit, struct sbuf *out)
{
    int64_t bucket = -1;
    pthread_mutex_lock(&eng->lock);
    for (size_t i = 0; i < eng->ndefs; i++)
        if (!strcmp(eng->defs[i]->id, id))
            bucket = eng->defs[i]->bucket_ns / INDIC_NS_S;
    pthread_mutex_unlock(&eng->lock);
    if (bucket < 0)
        return CB_ENOTFOUND;
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "indicator", id);
    jsonw_kv_int(&w, "bucket_s", bucket);
    jsonw_key(&w, "points");
    jsonw_array_begin(&w);
    int rc = store_points_scan(eng->st, id, group, from_ns, to_ns, limit,
                               point_json, &w);
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    return rc;
}

void indic_get_stats(struct indic_engine *eng, struct indic_stats *OUT)
{
    memset(OUT, 0, sizeof(*OUT));
    pthread_mutex_lock(&eng->lock);
    OUT->indicators = eng->ndefs;
    OUT->series = eng->nseries;
    OUT->series_dropped = eng->series_dropped;
    OUT->points_written = eng->points_written;
    OUT->alerts_pending = indic_alerts_count(eng, AS_PENDING);
    OUT->alerts_firing = indic_alerts_count(eng, AS_FIRING);
    OUT->alerts_resolved = eng->resolved_count;
    pthread_mutex_unlock(&eng->lock);
    pthread_mutex_lock(&eng->nlock);
    OUT->notify_sent = eng->sent;
    OUT->notify_failed = eng->failed;
    OUT->notify_dead = eng->dead;
    OUT->notify_queued = eng->queued;
    pthread_mutex_unlock(&eng->nlock);
}
