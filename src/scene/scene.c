/* scene.c - the scene engine: lifecycle, feeding, names and publishing. */
#include "scene/scene_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double scene_metric_scale[METRIC_COUNT] = {1000.0, 100.0, 1000.0};

/* Electricity night share: sums decay by this factor each new day. */
#define SCENE_NIGHT_DECAY 0.9

void scene_config_defaults(struct scene_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->tz_offset_minutes = 480;
    cfg->min_score = 0.2;
    cfg->precision_window = 100;
    cfg->elderly_quiet_m3 = 0.01;
    cfg->elderly_quiet_hours = 12;
    cfg->learned_path = NULL;
    cfg->elderly_path = NULL;
}

/* ---- interned names ---- */

uint64_t scene_fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* FNV-1a barely stirs its top bits on the last bytes; the recipient
 * bitmap takes its bit from the top, so finish with a 64-bit mixer. */
uint64_t scene_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void names_rehash(struct scene_names *t)
{
    uint32_t cap = t->slot_cap ? t->slot_cap * 2 : 64;
    uint32_t *slot = xcalloc(cap, sizeof(*slot));
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = (uint32_t)scene_fnv1a(t->name[id]) & (cap - 1);
        while (slot[i])
            i = (i + 1) & (cap - 1);
        slot[i] = id + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->slot_cap = cap;
}

int64_t scene_names_find(const struct scene_names *t, const char *s)
{
    if (!t->slot_cap || !s)
        return -1;
    uint32_t i = (uint32_t)scene_fnv1a(s) & (t->slot_cap - 1);
    for (; t->slot[i]; i = (i + 1) & (t->slot_cap - 1)) {
        if (strcmp(t->name[t->slot[i] - 1], s) == 0)
            return t->slot[i] - 1;
    }
    return -1;
}

uint32_t scene_names_intern(struct scene_names *t, const char *s)
{
    if (!s)
        s = "";
    int64_t found = scene_names_find(t, s);
    if (found >= 0)
        return (uint32_t)found;
    if ((t->n + 1) * 2 > t->slot_cap)
        names_rehash(t);
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->name = xrealloc(t->name, t->cap * sizeof(*t->name));
    }
    uint32_t id = t->n++;
    t->name[id] = arena_strndup(&t->arena, s, strlen(s));
    uint32_t i = (uint32_t)scene_fnv1a(s) & (t->slot_cap - 1);
    while (t->slot[i])
        i = (i + 1) & (t->slot_cap - 1);
    t->slot[i] = id + 1;
    return id;
}

void scene_names_release(struct scene_names *t)
{
    arena_release(&t->arena);
    free(t->name);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

/* ---- lifecycle ---- */

int scene_engine_new(const struct scene_config *cfg,
                     struct scene_engine **OUT_eng)
{
    *OUT_eng = NULL;
    if (!cfg || cfg->precision_window < 1 ||
        cfg->precision_window > SCENE_MAX_OUTCOMES ||
        cfg->elderly_quiet_hours < 1 || cfg->min_score < 0 ||
        cfg->min_score > 1)
        return CB_EINVAL;
    struct scene_engine *eng = xcalloc(1, sizeof(*eng));
    eng->cfg = *cfg;
    if (cfg->learned_path)
        eng->learned_path = xstrdup(cfg->learned_path);
    eng->cfg.learned_path = eng->learned_path;
    if (cfg->elderly_path)
        eng->elderly_path = xstrdup(cfg->elderly_path);
    eng->cfg.elderly_path = eng->elderly_path;
    pthread_mutex_init(&eng->lock, NULL);
    pthread_mutex_init(&eng->live_lock, NULL);
    pthread_rwlock_init(&eng->pub_lock, NULL);
    pthread_mutex_init(&eng->worker_lock, NULL);
    pthread_cond_init(&eng->worker_cond, NULL);
    eng->cur_day = -1;
    eng->cur_block = -1;
    eng->scored_day = -1;
    eng->elderly_file_as_of = -1;
    scene_learn_init(&eng->learn);
    eng->district.order_share = 1; /* until a full pass measures it */
    if (eng->learned_path) {
        int err = scene_learn_load(eng, eng->learned_path);
        if (err && err != CB_ENOTFOUND)
            log_msg(LOG_WARN, "scene",
                    "learned state ignored | path=%s err=\"%s\"",
                    eng->learned_path, cb_strerror(err));
    }
    scene_elderly_load(eng);
    struct scene_cands none = {0};
    scene_publish(eng, &none);
    *OUT_eng = eng;
    return 0;
}

static void ranking_free(struct scene_ranking *r)
{
    if (!r)
        return;
    free(r->items);
    free(r->street_households);
    free(r->committee_households);
    free(r->street_names);
    free(r->committee_names);
    free(r->committee_street);
    free(r);
}

static void stop_worker(struct scene_engine *eng)
{
    if (!eng->worker_running)
        return;
    pthread_mutex_lock(&eng->worker_lock);
    eng->worker_stop = 1;
    pthread_cond_signal(&eng->worker_cond);
    pthread_mutex_unlock(&eng->worker_lock);
    pthread_join(eng->worker, NULL);
    eng->worker_running = 0;
}

void scene_engine_free(struct scene_engine *eng)
{
    if (!eng)
        return;
    stop_worker(eng);
    pthread_mutex_lock(&eng->lock);
    scene_elderly_save(eng, 1);
    pthread_mutex_unlock(&eng->lock);
    free(eng->live_last);
    pthread_mutex_destroy(&eng->live_lock);
    for (int m = 0; m < METRIC_COUNT; m++)
        free(eng->use[m]);
    free(eng->recip);
    free(eng->orders);
    free(eng->reg);
    free(eng->night_use);
    free(eng->day_use);
    free(eng->res);
    free(eng->elderly_slot);
    free(eng->elderly);
    free(eng->dirty);
    free(eng->committee_street);
    free(eng->household_of_id);
    free(eng->id_of_household);
    free(eng->peer_order);
    free(eng->groups);
    free(eng->building_group);
    free(eng->building_pos);
    free(eng->complaint_day);
    free(eng->building_keys);
    scene_names_release(&eng->streets);
    scene_names_release(&eng->committees);
    scene_names_release(&eng->buildings);
    scene_names_release(&eng->ids);
    scene_learn_release(&eng->learn);
    ranking_free(eng->pub);
    pthread_mutex_destroy(&eng->lock);
    pthread_rwlock_destroy(&eng->pub_lock);
    pthread_mutex_destroy(&eng->worker_lock);
    pthread_cond_destroy(&eng->worker_cond);
    free(eng->learned_path);
    free(eng->elderly_path);
    free(eng->elderly_pending);
    free(eng);
}

/* Grows every per-household array to hold dense id h (exactly to h + 1
 * when exact, else doubling); capacities stay multiples of 8. */
static void grow_households(struct scene_engine *eng, int32_t h, int exact)
{
    size_t need = (size_t)h + 1, old = eng->cap;
    if (need > eng->cap) {
        size_t cap = eng->cap ? eng->cap : 1024;
        while (cap < need)
            cap *= 2;
        if (exact)
            cap = (need + 7) & ~(size_t)7;
        for (int m = 0; m < METRIC_COUNT; m++) {
            eng->use[m] =
                xrealloc(eng->use[m], cap * SCENE_DAYS * sizeof(uint16_t));
            memset(eng->use[m] + old * SCENE_DAYS, 0xFF,
                   (cap - old) * SCENE_DAYS * sizeof(uint16_t));
        }
#define GROW(p, per)                                                           \
    do {                                                                       \
        (p) = xrealloc((p), cap * (per) * sizeof(*(p)));                       \
        memset((p) + old * (per), 0, (cap - old) * (per) * sizeof(*(p)));      \
    } while (0)
        GROW(eng->recip, SCENE_BLOCKS);
        GROW(eng->orders, SCENE_BLOCKS);
        GROW(eng->reg, 1);
        GROW(eng->night_use, 1);
        GROW(eng->day_use, 1);
        GROW(eng->res, 1);
        GROW(eng->id_of_household, 1);
#undef GROW
        eng->elderly_slot =
            xrealloc(eng->elderly_slot, cap * sizeof(*eng->elderly_slot));
        memset(eng->elderly_slot + old, 0xFF,
               (cap - old) * sizeof(*eng->elderly_slot));
        eng->dirty = xrealloc(eng->dirty, cap / 8);
        memset(eng->dirty + old / 8, 0, (cap - old) / 8);
        for (size_t i = old; i < cap; i++)
            for (int m = 0; m < METRIC_COUNT; m++)
                eng->res[i].level[m] = SCENE_NO_DATA;
        eng->cap = cap;
    }
}

static void ensure_household(struct scene_engine *eng, int32_t h)
{
    grow_households(eng, h, 0);
    if ((size_t)h + 1 > eng->n)
        eng->n = (size_t)h + 1;
}

void scene_engine_reserve(struct scene_engine *eng, size_t n)
{
    if (n == 0 || n > INT32_MAX)
        return;
    pthread_mutex_lock(&eng->lock);
    grow_households(eng, (int32_t)(n - 1), 1);
    pthread_mutex_unlock(&eng->lock);
}

static void mark_dirty(struct scene_engine *eng, int32_t h)
{
    uint8_t bit = (uint8_t)(1u << (h & 7));
    if (!(eng->dirty[h >> 3] & bit)) {
        eng->dirty[h >> 3] |= bit;
        eng->n_dirty++;
    }
}

/* ---- feeding ---- */

static uint8_t sat8(int64_t v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

static void set_elderly(struct scene_engine *eng, int32_t h, int elderly)
{
    if (!elderly || eng->elderly_slot[h] >= 0)
        return;
    if (eng->n_elderly == eng->cap_elderly) {
        eng->cap_elderly = eng->cap_elderly ? eng->cap_elderly * 2 : 256;
        eng->elderly =
            xrealloc(eng->elderly, eng->cap_elderly * sizeof(*eng->elderly));
    }
    struct scene_elderly *e = &eng->elderly[eng->n_elderly];
    memset(e, 0, sizeof(*e));
    e->last_index = NAN;
    e->usual_m3 = -1;
    eng->elderly_slot[h] = (int32_t)eng->n_elderly++;
    scene_elderly_restore(eng, h);
}

int scene_engine_set_household(struct scene_engine *eng, int32_t household,
                               const struct household *h)
{
    if (household < 0 || !h || h->rooms <= 0 || !h->household_id)
        return CB_EINVAL;
    pthread_mutex_lock(&eng->lock);
    ensure_household(eng, household);
    struct scene_reg *r = &eng->reg[household];
    uint32_t street = scene_names_intern(&eng->streets, h->street);
    struct sbuf key = SBUF_INIT;
    sbuf_addf(&key, "%s\x1f%s", h->street ? h->street : "",
              h->committee ? h->committee : "");
    uint32_t committee = scene_names_intern(&eng->committees, key.buf);
    sbuf_addf(&key, "\x1f%s", h->building ? h->building : "");
    r->building = scene_names_intern(&eng->buildings, key.buf);
    scene_complaints_building(eng, r->building, h->lat, h->lon);
    sbuf_release(&key);
    if (committee > 65534)
        committee = 65534; /* more committees than any district has */
    r->committee = (uint16_t)committee;
    eng->committee_street =
        xrealloc(eng->committee_street,
                 eng->committees.cap * sizeof(*eng->committee_street));
    eng->committee_street[committee] =
        (uint16_t)(street > 65534 ? 65534 : street);
    double area = h->area_m2 * 10.0;
    r->area_dm2 = (uint16_t)(area < 0 ? 0 : area > 65535 ? 65535 : area);
    r->rooms = sat8(h->rooms);
    r->registered = sat8(h->registered_occupants);
    r->flags = (uint8_t)h->flags;
    uint32_t id = scene_names_intern(&eng->ids, h->household_id);
    eng->household_of_id = xrealloc(
        eng->household_of_id, eng->ids.cap * sizeof(*eng->household_of_id));
    eng->household_of_id[id] = (uint32_t)household + 1;
    eng->id_of_household[household] = id + 1;
    set_elderly(eng, household, h->flags & HOUSEHOLD_ELDERLY_ALONE);
    eng->registry_dirty = 1;
    mark_dirty(eng, household);
    pthread_mutex_unlock(&eng->lock);
    return 0;
}

int64_t scene_local_day(const struct scene_engine *eng, int64_t ts_s)
{
    int64_t local = ts_s + (int64_t)eng->cfg.tz_offset_minutes * 60;
    return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

/* Opens the ring up to `day`, clearing the slots of days that fall out. */
static void advance_day(struct scene_engine *eng, int64_t day)
{
    if (eng->cur_day >= 0) {
        int64_t from = eng->cur_day + 1;
        int64_t to = day < from + SCENE_DAYS ? day : from + SCENE_DAYS - 1;
        for (int64_t d = from; d <= to; d++) {
            size_t slot = (size_t)(d % SCENE_DAYS);
            for (int m = 0; m < METRIC_COUNT; m++)
                for (size_t h = 0; h < eng->cap; h++)
                    eng->use[m][h * SCENE_DAYS + slot] = SCENE_NO_DATA;
        }
        for (size_t h = 0; h < eng->cap && day > eng->cur_day; h++) {
            eng->night_use[h] =
                (uint16_t)(eng->night_use[h] * SCENE_NIGHT_DECAY);
            eng->day_use[h] = (uint16_t)(eng->day_use[h] * SCENE_NIGHT_DECAY);
        }
    }
    eng->cur_day = day;
}

/* A day more than one ahead of the as-of time is a clock fault. */
static int day_in_future(const struct scene_engine *eng, int64_t day)
{
    return eng->as_of_s > 0 && day > scene_local_day(eng, eng->as_of_s) + 1;
}

void scene_engine_add_usage(struct scene_engine *eng, int32_t household,
                            int metric, int64_t day, double use)
{
    if (household < 0 || metric < 0 || metric >= METRIC_COUNT || day < 0 ||
        !isfinite(use))
        return;
    pthread_mutex_lock(&eng->lock);
    ensure_household(eng, household);
    if (day_in_future(eng, day) ||
        (eng->cur_day >= 0 && day <= eng->cur_day - SCENE_DAYS))
        goto out_unlock;
    if (day > eng->cur_day)
        advance_day(eng, day);
    if (use < 0) {
        eng->res[household].faults |= (uint8_t)(1u << metric);
        goto out_dirty;
    }
    uint16_t *v = &eng->use[metric][(size_t)household * SCENE_DAYS +
                                    (size_t)(day % SCENE_DAYS)];
    double units = (*v == SCENE_NO_DATA ? 0.0 : (double)*v) +
                   floor(use * scene_metric_scale[metric] + 0.5);
    *v = (uint16_t)(units > 65534.0 ? 65534.0 : units);
out_dirty:
    mark_dirty(eng, household);
out_unlock:
    pthread_mutex_unlock(&eng->lock);
}

static void advance_block(struct scene_engine *eng, int64_t block)
{
    if (eng->cur_block >= 0) {
        int64_t from = eng->cur_block + 1;
        int64_t to =
            block < from + SCENE_BLOCKS ? block : from + SCENE_BLOCKS - 1;
        for (int64_t b = from; b <= to; b++) {
            size_t slot = (size_t)(b % SCENE_BLOCKS);
            for (size_t h = 0; h < eng->cap; h++) {
                eng->recip[h * SCENE_BLOCKS + slot] = 0;
                eng->orders[h * SCENE_BLOCKS + slot] = 0;
            }
        }
    }
    eng->cur_block = block;
}

void scene_engine_add_delivery(struct scene_engine *eng, int32_t household,
                               int64_t ts_ns, const char *recipient)
{
    if (household < 0 || !recipient)
        return;
    int64_t day = scene_local_day(eng, ts_ns / 1000000000);
    int64_t block = day / SCENE_BLOCK_DAYS;
    uint64_t bit = 1ull << (scene_mix64(scene_fnv1a(recipient)) >> 58);
    pthread_mutex_lock(&eng->lock);
    ensure_household(eng, household);
    if (day < 0 || day_in_future(eng, day) ||
        (eng->cur_block >= 0 && block <= eng->cur_block - SCENE_BLOCKS))
        goto out_unlock;
    if (block > eng->cur_block)
        advance_block(eng, block);
    size_t i =
        (size_t)household * SCENE_BLOCKS + (size_t)(block % SCENE_BLOCKS);
    eng->recip[i] |= bit;
    if (eng->orders[i] < 255)
        eng->orders[i]++;
    mark_dirty(eng, household);
out_unlock:
    pthread_mutex_unlock(&eng->lock);
}

/* Electricity delta readings of up to two hours feed the night share:
 * use whose interval ends between 00:00 and 06:00 local time. */
static void night_share_reading(struct scene_engine *eng, int32_t h,
                                const struct reading *r)
{
    if (r->field != READING_DELTA || r->value < 0 || !isfinite(r->value))
        return;
    int64_t local =
        r->ts_ns / 1000000000 + (int64_t)eng->cfg.tz_offset_minutes * 60 - 1;
    int hour = (int)(((local % 86400) + 86400) % 86400 / 3600);
    uint16_t *sum = hour < 6 ? &eng->night_use[h] : &eng->day_use[h];
    double v = *sum + floor(r->value * 100.0 + 0.5);
    *sum = (uint16_t)(v > 65535.0 ? 65535.0 : v);
}

void scene_engine_add_reading(struct scene_engine *eng, const struct reading *r)
{
    if (!r || r->household < 0 || r->metric >= METRIC_COUNT)
        return;
    pthread_mutex_lock(&eng->lock);
    ensure_household(eng, r->household);
    int64_t ts_s = r->ts_ns / 1000000000;
    if (ts_s > eng->as_of_s &&
        (eng->as_of_s == 0 || ts_s < eng->as_of_s + 3 * 86400))
        eng->as_of_s = ts_s;
    if (r->metric == METRIC_WATER && eng->elderly_slot[r->household] >= 0)
        scene_elderly_reading(eng, r->household, r);
    else if (r->metric == METRIC_ELECTRICITY)
        night_share_reading(eng, r->household, r);
    pthread_mutex_unlock(&eng->lock);
}

void scene_engine_set_as_of(struct scene_engine *eng, int64_t ts_s)
{
    pthread_mutex_lock(&eng->lock);
    if (ts_s > eng->as_of_s)
        eng->as_of_s = ts_s;
    pthread_mutex_unlock(&eng->lock);
}

/* The newest day whose data is complete: the day that ended at most an
 * hour before the as-of time, or the day before the newest day seen. */
int64_t scene_last_full_day(const struct scene_engine *eng)
{
    if (eng->cur_day < 0)
        return -1;
    if (eng->as_of_s <= 0)
        return eng->cur_day - 1;
    int64_t d = scene_local_day(eng, eng->as_of_s + 3600) - 1;
    return d < eng->cur_day ? d : eng->cur_day;
}

int scene_size_class(const struct scene_reg *r)
{
    return r->rooms >= SCENE_SIZE_CLASSES ? SCENE_SIZE_CLASSES - 1
                                          : r->rooms - 1;
}

int scene_legal_limit(const struct scene_reg *r)
{
    int by_rooms = 2 * r->rooms;
    int by_area = (int)(r->area_dm2 / 50); /* 5 m2 a person */
    int limit = by_rooms < by_area ? by_rooms : by_area;
    return limit < 1 ? 1 : limit;
}

const char *scene_household_id(const struct scene_engine *eng, int32_t h)
{
    if (h < 0 || (size_t)h >= eng->n || !eng->id_of_household[h])
        return NULL;
    return eng->ids.name[eng->id_of_household[h] - 1];
}

const char *scene_display_name(const char *key)
{
    const char *sep = strrchr(key, '\x1f');
    return sep ? sep + 1 : key;
}

int32_t scene_engine_household(struct scene_engine *eng,
                               const char *household_id)
{
    pthread_mutex_lock(&eng->lock);
    int64_t id = scene_names_find(&eng->ids, household_id);
    int32_t h = id < 0 ? -1 : (int32_t)eng->household_of_id[id] - 1;
    pthread_mutex_unlock(&eng->lock);
    return h;
}

const char *scene_engine_household_id(struct scene_engine *eng, int32_t h)
{
    pthread_mutex_lock(&eng->lock);
    const char *id = scene_household_id(eng, h);
    pthread_mutex_unlock(&eng->lock);
    return id;
}

/* ---- rescoring and publishing ---- */

static int is_dirty(const struct scene_engine *eng, int32_t h)
{
    return (eng->dirty[h >> 3] >> (h & 7)) & 1;
}

/* Re-scores the dirty households; the other candidates keep the records
 * they were published with (the baselines have not moved). */
static void rescore_dirty(struct scene_engine *eng, struct scene_cands *c)
{
    const struct scene_ranking *old = eng->pub; /* only we swap it */
    for (size_t i = 0; old && i < old->n; i++)
        if (!is_dirty(eng, old->items[i].household))
            scene_cands_push(c, &old->items[i]);
    for (size_t i = 0; i < (eng->n + 7) / 8; i++) {
        if (!eng->dirty[i])
            continue;
        for (int b = 0; b < 8; b++)
            if (eng->dirty[i] & (1u << b))
                scene_gr_rescore_one(eng, (int32_t)(i * 8 + (size_t)b), c);
    }
}

int scene_engine_rescore(struct scene_engine *eng, int full)
{
    struct scene_cands c = {0};
    pthread_mutex_lock(&eng->lock);
    int64_t last = scene_last_full_day(eng);
    if (full || eng->registry_dirty || eng->weights_dirty ||
        last != eng->scored_day) {
        scene_gr_rescore_full(eng, &c);
        if (last != eng->scored_day)
            scene_elderly_days(eng);
        eng->scored_day = last;
        eng->registry_dirty = eng->weights_dirty = 0;
    } else {
        rescore_dirty(eng, &c);
    }
    memset(eng->dirty, 0, eng->cap / 8);
    eng->n_dirty = 0;
    scene_publish(eng, &c);
    scene_elderly_save(eng, 0);
    pthread_mutex_unlock(&eng->lock);
    scene_live_publish(eng);
    return 0;
}

/* Something to do: dirty households, a completed day, new weights. */
static int rescore_due(struct scene_engine *eng)
{
    pthread_mutex_lock(&eng->lock);
    int due = eng->n_dirty || eng->registry_dirty || eng->weights_dirty ||
              scene_last_full_day(eng) != eng->scored_day;
    pthread_mutex_unlock(&eng->lock);
    return due;
}

static void *worker_main(void *arg)
{
    struct scene_engine *eng = arg;
    pthread_mutex_lock(&eng->worker_lock);
    while (!eng->worker_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (int64_t)eng->worker_period_ms * 1000000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&eng->worker_cond, &eng->worker_lock, &until);
        if (eng->worker_stop)
            break;
        pthread_mutex_unlock(&eng->worker_lock);
        if (rescore_due(eng))
            scene_engine_rescore(eng, 0);
        pthread_mutex_lock(&eng->worker_lock);
    }
    pthread_mutex_unlock(&eng->worker_lock);
    return NULL;
}

int scene_engine_start_worker(struct scene_engine *eng, int period_ms)
{
    if (period_ms < 10 || period_ms > 60000)
        return CB_EINVAL;
    if (eng->worker_running)
        return CB_EEXIST;
    eng->worker_period_ms = period_ms;
    eng->worker_stop = 0;
    if (pthread_create(&eng->worker, NULL, worker_main, eng))
        return CB_EIO;
    eng->worker_running = 1;
    return 0;
}

static int cmp_suspect(const void *a, const void *b)
{
    const struct scene_suspect *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->household < y->household ? -1 : x->household > y->household;
}

/* Households per street and committee, for the summaries. */
static void ranking_counts(struct scene_engine *eng, struct scene_ranking *r)
{
    r->n_streets = eng->streets.n;
    r->n_committees = eng->committees.n;
    r->street_households = xcalloc(r->n_streets + 1, sizeof(uint32_t));
    r->committee_households = xcalloc(r->n_committees + 1, sizeof(uint32_t));
    r->committee_street = xcalloc(r->n_committees + 1, sizeof(uint16_t));
    r->street_names = xcalloc(r->n_streets + 1, sizeof(char *));
    r->committee_names = xcalloc(r->n_committees + 1, sizeof(char *));
    if (r->n_streets)
        memcpy(r->street_names, eng->streets.name,
               r->n_streets * sizeof(char *));
    if (r->n_committees)
        memcpy(r->committee_names, eng->committees.name,
               r->n_committees * sizeof(char *));
    for (size_t h = 0; h < eng->n; h++) {
        const struct scene_reg *g = &eng->reg[h];
        if (!g->rooms || g->committee >= r->n_committees)
            continue;
        uint16_t street = eng->committee_street[g->committee];
        r->committee_households[g->committee]++;
        r->committee_street[g->committee] = street;
        if (street < r->n_streets)
            r->street_households[street]++;
    }
}

void scene_cands_push(struct scene_cands *c, const struct scene_suspect *s)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->items = xrealloc(c->items, c->cap * sizeof(*c->items));
    }
    c->items[c->n++] = *s;
}

void scene_publish(struct scene_engine *eng, struct scene_cands *c)
{
    struct scene_ranking *r = xcalloc(1, sizeof(*r));
    r->as_of_s = eng->as_of_s;
    r->order_share = eng->district.order_share;
    if (c->n)
        qsort(c->items, c->n, sizeof(*c->items), cmp_suspect);
    r->items = c->items;
    r->n = c->n;
    scene_learn_mark(eng, r->items, r->n);
    c->items = NULL;
    c->n = c->cap = 0;
    ranking_counts(eng, r);
    scene_learn_summary(&eng->learn, (size_t)eng->cfg.precision_window, r);
    pthread_rwlock_wrlock(&eng->pub_lock);
    struct scene_ranking *old = eng->pub;
    eng->pub = r;
    pthread_rwlock_unlock(&eng->pub_lock);
    ranking_free(old);
}

struct scene_ranking *scene_ranking_get(struct scene_engine *eng)
{
    pthread_rwlock_rdlock(&eng->pub_lock);
    return eng->pub;
}

void scene_ranking_put(struct scene_engine *eng)
{
    pthread_rwlock_unlock(&eng->pub_lock);
}

size_t scene_group_rental_top(struct scene_engine *eng, size_t k,
                              int32_t *OUT_households)
{
    struct scene_ranking *r = scene_ranking_get(eng);
    size_t n = k < r->n ? k : r->n;
    for (size_t i = 0; i < n; i++)
        OUT_households[i] = r->items[i].household;
    scene_ranking_put(eng);
    return n;
}

size_t scene_engine_state_bytes(struct scene_engine *eng, size_t *OUT_identity,
                                size_t *OUT_n)
{
    pthread_mutex_lock(&eng->lock);
    size_t per = METRIC_COUNT * SCENE_DAYS * sizeof(uint16_t) +
                 SCENE_BLOCKS * (sizeof(uint64_t) + sizeof(uint8_t)) +
                 sizeof(struct scene_reg) + 2 * sizeof(uint16_t) +
                 sizeof(struct scene_result) + sizeof(int32_t) /* slot */ +
                 sizeof(int32_t) /* peer order */;
    size_t total = per * eng->cap + eng->cap / 8 +
                   eng->cap_elderly * sizeof(struct scene_elderly) +
                   eng->n_groups * sizeof(struct scene_group) +
                   eng->buildings.cap * sizeof(uint32_t) +
                   SCENE_MAX_EXAMPLES * sizeof(struct scene_visit) +
                   SCENE_SEEN_KEYS * sizeof(uint64_t);
    size_t identity = eng->ids.arena.used_total +
                      eng->ids.cap * (sizeof(char *) + 4) +
                      eng->ids.slot_cap * 4 + eng->cap * 4;
    if (OUT_identity)
        *OUT_identity = identity;
    if (OUT_n)
        *OUT_n = eng->n;
    pthread_mutex_unlock(&eng->lock);
    return total;
}
