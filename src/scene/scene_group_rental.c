/*
 * scene_group_rental.c - the group-rental detector.
 *
 * THE MODEL
 *
 * A flat is a group rental when more people live in it than the law
 * allows (BRIEF section 5): at most 2 per room and at least 5 m2 each, so
 *
 *     legal_limit = max(1, min(2 x rooms, floor(area_m2 / 5)))
 *     allowed     = max(legal_limit, registered_occupants)
 *
 * (registered occupants of a legal large family may pass the line).  We
 * never see people, only what they use, so the detector is an occupancy
 * estimator followed by a calibrated classifier.
 *
 * 1. Levels.  Each signal's level is the median daily use over the last
 *    14 complete days (28 when fewer than 5 of them have data).  A median
 *    ignores a spike, a reset or a few days without data; a flat needs no
 *    gas meter and may miss a week of water.
 *
 * 2. Per-person use, calibrated on peers.  Physics says a person uses
 *    about 110-150 L of water, 1.5-3 kWh above a 2-3 kWh base, and
 *    0.15-0.3 m3 of gas if they cook.  Rather than trusting those numbers
 *    (districts, seasons and simulators differ), each signal's use per
 *    registered person is measured on the flat's peers: the median over
 *    the same building and size class (rooms 1, 2, 3, 4+), else the whole
 *    building, else the district; bounded to 0.5-2.5x the district figure.
 *    Peers share the season, the weather and the building's plumbing, so a
 *    swing the whole building shares cancels out.  Peers exclude flats
 *    flagged business or vacant and flats with almost no water.
 *
 * 3. Occupancy estimate.  occ_water = water / per_person_water, occ_elec =
 *    (electricity - 2 kWh) / per_person_elec, and
 *        estimate = (2 occ_water + occ_elec) / 3
 *    (water alone when there is no electricity).  Gas is left out: group
 *    tenants cook less, so gas is a shape signal, not a count.
 *
 * 4. Candidates: the estimate or occ_water >= allowed + 0.5 and >= 1.1 x
 *    allowed (electricity follows the flat - heating, appliances - more
 *    than its people, and must not veto water).  Others
 *    score 0 and are never listed.  The estimate shown to operators is
 *    multiplied by a scale learned from the headcounts visitors report on
 *    confirmed flats; the gate and the features use the raw estimate, so
 *    that calibrating the count cannot move the line.
 *
 * 5. Score.  A logistic model over 17 features (enum scene_feature): log2
 *    excess of each occupancy estimate over `allowed`; log2 excess of
 *    distinct delivery recipients (30 days) over allowed, and their
 *    deficit against the estimate (many people, one phone); the water ratio
 *    to the peer median; gas per water-person (tenants cook less,
 *    kitchens cook more); the electricity night share above the district;
 *    the step from the flat's own history (days 15-28 to the last 14); the
 *    share of days above the allowed line (consistency); the weekend shape;
 *    and one indicator per confounder check.  Its output is a probability:
 *    the default weights are set by hand to physical expectations, then
 *    refitted on visit outcomes (scene_learn.c), which calibrates it.
 *
 * CONFOUNDERS (checks; each adds its indicator and a reason)
 *
 *    large_family   registered > legal limit and the estimate within 1.3x
 *                   of registered: registered people explain the use
 *    business       gas per person >= 1.3x what the water says and at most
 *                   max(3, allowed / 2) recipients, or the business flag
 *    short_term     recipients >= 2 x allowed + 3 but water says at most
 *                   1.25 x allowed at a time, or a third of the
 *                   recipients: guests come and go
 *    water_only     water >= 1.5x allowed while electricity says at most
 *                   max(1.25x allowed, a third of the water estimate) and
 *                   recipients are within it: a leak or a meter fault
 *    meter_fault    a reset or a spike (a day >= 5x the median and >=
 *                   0.5 m3) and fewer than 60% of days above the line
 *    building_swing the building as a whole uses >= 1.3x the district per
 *                   person and the flat is < 1.5x its building peers
 *    vacant         declared vacant: reported, not penalised (use by many
 *                   in a "vacant" flat is itself suspect)
 *
 * ASSUMPTIONS.  Per-person use is similar within a building and size class;
 * most flats of a peer group are not group rentals (medians break down past
 * half); registered occupants are roughly right for most flats; tenants
 * each order deliveries under their own pseudonym; daily roll-ups are
 * attributed to the right local day.
 *
 * FAILURE MODES.  A building mostly made of group rentals hides them (its
 * peers look alike; the district bound on per-person use limits this).  A
 * flat with no water data rests on electricity alone (noisy: base load and
 * air conditioning are per flat, not per person).  Tenants who never order
 * deliveries lose the recipient signal.  The first 14 days after a move-in
 * are split between old and new levels.  Linear counting of recipients in
 * a 64-bit bitmap is within about 10% up to 40 recipients and saturates
 * near 250.  Visit feedback is biased to high scores (only suspects are
 * visited); the prior pulls weights that see no data back to defaults.
 *
 * WHAT IT FOLLOWS.  The occupancy-from-consumption idea of the State Grid
 * Jiangsu and Pudong power models (BRIEF section 5), robust statistics
 * (medians and peer baselines instead of means and global thresholds, as
 * in Hampel filters), and online logistic regression for learning from
 * labelled visits (scene_learn.c).
 */
#include "scene/scene_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#define E_BASE_KWH 2.0         /* electricity a flat uses with nobody */
#define VACANT_WATER_M3 0.02   /* below this a flat is not a peer */
#define DISTRICT_SAMPLE 200000 /* households sampled for district stats */
#define RECIP_LIFT 0.5         /* weight of recipients above consumption */
#define RECIP_LIFT_CAP 2.0     /* ... up to this multiple of consumption */

const double scene_gr_default_weights[SCENE_NF] = {
    [F_BIAS] = -3.0,           [F_WATER_EXCESS] = 0.5,  [F_ELEC_EXCESS] = 0.25,
    [F_RECIP_EXCESS] = 1.0,    [F_WATER_PEER] = 1.0,    [F_GAS_COOKING] = -0.5,
    [F_NIGHT_SHARE] = 0.2,     [F_STEP_UP] = 0.0,       [F_CONSISTENCY] = 0.5,
    [F_WEEKEND_SHAPE] = 0.0,   [F_LARGE_FAMILY] = -4.0, [F_BUSINESS] = -5.0,
    [F_SHORT_TERM] = -5.0,     [F_WATER_ONLY] = -4.0,   [F_METER_FAULT] = -2.0,
    [F_BUILDING_SWING] = -2.0, [F_RECIP_DEFICIT] = 2.5, [F_PERSONS_EXCESS] = 3.0,
};

static const char *const feature_names[SCENE_NF] = {
    "bias",
    "water_excess",
    "electricity_excess",
    "recipients_excess",
    "water_peer_ratio",
    "gas_cooking",
    "night_share",
    "step_up",
    "consistency",
    "weekend_shape",
    "large_family",
    "business",
    "short_term",
    "water_only",
    "meter_fault",
    "building_swing",
    "recipients_deficit",
    "persons_excess",
};

const char *scene_gr_feature_name(int f)
{
    return f >= 0 && f < SCENE_NF ? feature_names[f] : "?";
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- medians ---- */

/* Sorts v[0..16) with Batcher's odd-even merge sort: 63 branch-free
 * compare-exchanges (checked on all 2^16 zero-one inputs). */
static void sort16(uint16_t *v)
{
#define CE(a, b)                                                               \
    do {                                                                       \
        uint16_t x_ = v[a], y_ = v[b];                                         \
        v[a] = x_ < y_ ? x_ : y_;                                              \
        v[b] = x_ < y_ ? y_ : x_;                                              \
    } while (0)
    CE(0, 1);
    CE(2, 3);
    CE(4, 5);
    CE(6, 7);
    CE(8, 9);
    CE(10, 11);
    CE(12, 13);
    CE(14, 15);
    CE(0, 2);
    CE(1, 3);
    CE(4, 6);
    CE(5, 7);
    CE(8, 10);
    CE(9, 11);
    CE(12, 14);
    CE(13, 15);
    CE(1, 2);
    CE(5, 6);
    CE(9, 10);
    CE(13, 14);
    CE(0, 4);
    CE(1, 5);
    CE(2, 6);
    CE(3, 7);
    CE(8, 12);
    CE(9, 13);
    CE(10, 14);
    CE(11, 15);
    CE(2, 4);
    CE(3, 5);
    CE(10, 12);
    CE(11, 13);
    CE(1, 2);
    CE(3, 4);
    CE(5, 6);
    CE(9, 10);
    CE(11, 12);
    CE(13, 14);
    CE(0, 8);
    CE(1, 9);
    CE(2, 10);
    CE(3, 11);
    CE(4, 12);
    CE(5, 13);
    CE(6, 14);
    CE(7, 15);
    CE(4, 8);
    CE(5, 9);
    CE(6, 10);
    CE(7, 11);
    CE(2, 4);
    CE(3, 5);
    CE(6, 8);
    CE(7, 9);
    CE(10, 12);
    CE(11, 13);
    CE(1, 2);
    CE(3, 4);
    CE(5, 6);
    CE(7, 8);
    CE(9, 10);
    CE(11, 12);
    CE(13, 14);
#undef CE
}

/* Median of v[0..n), n <= SCENE_HIST_DAYS (reorders v; v must hold 16). */
static float median_u16(uint16_t *v, size_t n)
{
    if (n <= 16) {
        for (size_t i = n; i < 16; i++)
            v[i] = 0xFFFF;
        sort16(v);
    } else {
        for (size_t i = 1; i < n; i++) { /* n <= 28: insertion sort */
            uint16_t x = v[i];
            size_t j = i;
            for (; j > 0 && v[j - 1] > x; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    }
    return n % 2 ? v[n / 2] : 0.5f * ((float)v[n / 2 - 1] + v[n / 2]);
}

/* Quickselect: the k-th smallest of v[0..n) (reorders v). */
static float select_k(float *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[(lo + hi) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                float t = v[i];
                v[i++] = v[j];
                v[j] = t;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

static float median_f(float *v, size_t n)
{
    return n ? select_k(v, n, n / 2) : -1.0f;
}

/* Present values of metric m of h over `days` days ending at `last`. */
static size_t ring_values(const struct scene_engine *eng, int32_t h, int m,
                          int64_t last, int days, uint16_t *OUT_v)
{
    const uint16_t *ring = eng->use[m] + (size_t)h * SCENE_DAYS;
    size_t n = 0;
    for (int64_t d = last - days + 1; d <= last; d++) {
        if (d < 0 || d > eng->cur_day || d <= eng->cur_day - SCENE_DAYS)
            continue;
        uint16_t v = ring[d % SCENE_DAYS];
        if (v != SCENE_NO_DATA)
            OUT_v[n++] = v;
    }
    return n;
}

/* The ring slots of the level window, computed once per pass: slots[i]
 * for the SCENE_LEVEL_DAYS days ending at `last` that are in the ring. */
struct level_window {
    int64_t last;
    size_t n;
    uint8_t slot[SCENE_LEVEL_DAYS];
};

static void level_window_init(const struct scene_engine *eng, int64_t last,
                              struct level_window *OUT)
{
    OUT->last = last;
    OUT->n = 0;
    for (int64_t d = last - SCENE_LEVEL_DAYS + 1; d <= last; d++)
        if (d >= 0 && d <= eng->cur_day && d > eng->cur_day - SCENE_DAYS)
            OUT->slot[OUT->n++] = (uint8_t)(d % SCENE_DAYS);
}

/* Median daily use in ring units over the level window (28 days when
 * fewer than 5 of its days have data). */
static uint16_t level_of(const struct scene_engine *eng, int32_t h, int m,
                         const struct level_window *w)
{
    const uint16_t *ring = eng->use[m] + (size_t)h * SCENE_DAYS;
    uint16_t v[SCENE_HIST_DAYS];
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++) {
        uint16_t x = ring[w->slot[i]];
        v[n] = x;
        n += x != SCENE_NO_DATA;
    }
    if (n < 5)
        n = ring_values(eng, h, m, w->last, SCENE_HIST_DAYS, v);
    if (n < 3)
        return SCENE_NO_DATA;
    float med = median_u16(v, n);
    return (uint16_t)(med + 0.5f);
}

double scene_gr_distinct_recipients(const struct scene_engine *eng, int32_t h)
{
    uint64_t bits = 0;
    for (int b = 0; b < SCENE_BLOCKS; b++)
        bits |= eng->recip[(size_t)h * SCENE_BLOCKS + (size_t)b];
    int set = __builtin_popcountll(bits);
    if (set >= 64)
        return 64.0 * log(64.0) + 1; /* saturated */
    return -64.0 * log(1.0 - set / 64.0);
}

static double level_value(const struct scene_engine *eng, int32_t h, int m)
{
    uint16_t v = eng->res[h].level[m];
    return v == SCENE_NO_DATA ? -1.0 : v / scene_metric_scale[m];
}

/* Use attributable to people: electricity above the base load. */
static double people_use(int m, double level)
{
    if (m == METRIC_ELECTRICITY)
        return level > E_BASE_KWH ? level - E_BASE_KWH : 0.0;
    return level;
}

/* A flat that can stand as a peer: no business or vacant flag, water. */
static int is_peer(const struct scene_engine *eng, int32_t h)
{
    const struct scene_reg *r = &eng->reg[h];
    if (!r->rooms || (r->flags & (HOUSEHOLD_BUSINESS | HOUSEHOLD_VACANT)))
        return 0;
    double w = level_value(eng, h, METRIC_WATER);
    return w < 0 || w >= VACANT_WATER_M3;
}

/* ---- pass 1: levels ---- */

static void levels_one(struct scene_engine *eng, int32_t h,
                       const struct level_window *w)
{
    struct scene_result *res = &eng->res[h];
    for (int m = 0; m < METRIC_COUNT; m++)
        res->level[m] = level_of(eng, h, m, w);
    double rc = scene_gr_distinct_recipients(eng, h);
    res->recipients = (uint8_t)(rc > 255 ? 255 : rc + 0.5);
}

/* ---- peer baselines ---- */

/* Scratch for baseline medians. */
struct peer_scratch {
    float *v[2 * METRIC_COUNT + 1];
    size_t cap;
};

static void scratch_reserve(struct peer_scratch *s, size_t n)
{
    if (n <= s->cap)
        return;
    for (int i = 0; i < 2 * METRIC_COUNT + 1; i++)
        s->v[i] = xrealloc(s->v[i], n * sizeof(float));
    s->cap = n;
}

static void scratch_release(struct peer_scratch *s)
{
    for (int i = 0; i < 2 * METRIC_COUNT + 1; i++)
        free(s->v[i]);
}

/* Medians over the peer households in members[0..n); per_capita_only
 * skips the raw levels and recipients (a whole building's baseline only
 * calibrates per-person use). */
static void peer_baseline(struct scene_engine *eng, const int32_t *members,
                          size_t n, int per_capita_only, struct peer_scratch *s,
                          struct scene_peer *OUT_p)
{
    size_t cnt[2 * METRIC_COUNT + 1] = {0};
    scratch_reserve(s, n + 1);
    for (size_t i = 0; i < n; i++) {
        int32_t h = members[i];
        if (!is_peer(eng, h))
            continue;
        int reg = eng->reg[h].registered ? eng->reg[h].registered : 1;
        for (int m = 0; m < METRIC_COUNT; m++) {
            double lv = level_value(eng, h, m);
            if (lv < 0)
                continue;
            s->v[m][cnt[m]++] = (float)lv;
            s->v[METRIC_COUNT + m][cnt[METRIC_COUNT + m]++] =
                (float)(people_use(m, lv) / reg);
        }
        s->v[2 * METRIC_COUNT][cnt[2 * METRIC_COUNT]++] =
            eng->res[h].recipients;
    }
    memset(OUT_p, 0, sizeof(*OUT_p));
    for (int m = 0; m < METRIC_COUNT; m++) {
        OUT_p->per_capita[m] =
            median_f(s->v[METRIC_COUNT + m], cnt[METRIC_COUNT + m]);
        OUT_p->level[m] = per_capita_only ? -1 : median_f(s->v[m], cnt[m]);
    }
    OUT_p->n = (uint32_t)cnt[METRIC_WATER];
    if (cnt[METRIC_ELECTRICITY] > OUT_p->n)
        OUT_p->n = (uint32_t)cnt[METRIC_ELECTRICITY];
    OUT_p->recipients = per_capita_only ? -1
                                        : median_f(s->v[2 * METRIC_COUNT],
                                                   cnt[2 * METRIC_COUNT]);
}

static const struct scene_reg *order_reg; /* comparator context */

static int cmp_peer_order(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    const struct scene_reg *rx = &order_reg[x], *ry = &order_reg[y];
    if (rx->building != ry->building)
        return rx->building < ry->building ? -1 : 1;
    int cx = scene_size_class(rx), cy = scene_size_class(ry);
    if (cx != cy)
        return cx - cy;
    return x < y ? -1 : x > y;
}

static void push_group(struct scene_engine *eng, size_t *cap, uint32_t building,
                       int size_class, size_t start, size_t count)
{
    if (eng->n_groups == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        eng->groups = xrealloc(eng->groups, *cap * sizeof(*eng->groups));
    }
    struct scene_group *g = &eng->groups[eng->n_groups++];
    memset(g, 0, sizeof(*g));
    g->building = building;
    g->size_class = (uint8_t)size_class;
    g->start = (uint32_t)start;
    g->count = (uint32_t)count;
}

/* Sorts the registered households by (building, size class) and cuts the
 * order into groups: each building's size classes, then the building. */
static void build_groups(struct scene_engine *eng)
{
    static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
    size_t n = 0, cap = 0;
    eng->peer_order =
        xrealloc(eng->peer_order, (eng->n + 1) * sizeof(*eng->peer_order));
    for (size_t h = 0; h < eng->n; h++)
        if (eng->reg[h].rooms)
            eng->peer_order[n++] = (int32_t)h;
    pthread_mutex_lock(&sort_lock); /* the comparator's context is global */
    order_reg = eng->reg;
    qsort(eng->peer_order, n, sizeof(int32_t), cmp_peer_order);
    order_reg = NULL;
    pthread_mutex_unlock(&sort_lock);
    eng->n_groups = 0;
    eng->building_group = xrealloc(eng->building_group,
                                   (eng->buildings.n + 1) * sizeof(uint32_t));
    memset(eng->building_group, 0, (eng->buildings.n + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n;) {
        uint32_t b = eng->reg[eng->peer_order[i]].building;
        size_t bstart = i;
        while (i < n && eng->reg[eng->peer_order[i]].building == b) {
            int c = scene_size_class(&eng->reg[eng->peer_order[i]]);
            size_t cstart = i;
            while (i < n && eng->reg[eng->peer_order[i]].building == b &&
                   scene_size_class(&eng->reg[eng->peer_order[i]]) == c)
                i++;
            push_group(eng, &cap, b, c, cstart, i - cstart);
        }
        push_group(eng, &cap, b, 255, bstart, i - bstart);
        eng->building_group[b] = (uint32_t)eng->n_groups;
    }
}

/* The peer group of h: its size class in its building (whole_building 0)
 * or its building (1).  NULL if h is not grouped yet. */
const struct scene_group *scene_gr_group_of(struct scene_engine *eng, int32_t h,
                                            int whole_building)
{
    const struct scene_reg *r = &eng->reg[h];
    if (!r->rooms || !eng->building_group || r->building >= eng->buildings.n ||
        !eng->building_group[r->building])
        return NULL;
    size_t gi = eng->building_group[r->building] - 1;
    if (whole_building)
        return &eng->groups[gi];
    int c = scene_size_class(r);
    for (size_t k = 1; k <= SCENE_SIZE_CLASSES && k <= gi; k++) {
        const struct scene_group *g = &eng->groups[gi - k];
        if (g->building != r->building)
            break;
        if (g->size_class == c)
            return g;
    }
    return NULL;
}

static void district_baselines(struct scene_engine *eng, struct peer_scratch *s)
{
    size_t n = 0;
    int32_t *by_class[SCENE_SIZE_CLASSES];
    size_t n_class[SCENE_SIZE_CLASSES] = {0};
    size_t step = eng->n / DISTRICT_SAMPLE + 1;
    for (int c = 0; c < SCENE_SIZE_CLASSES; c++)
        by_class[c] = xmalloc((eng->n / step + 1) * sizeof(int32_t));
    int32_t *all = xmalloc((eng->n / step + 1) * sizeof(int32_t));
    float *night = xmalloc((eng->n / step + 1) * sizeof(float));
    size_t n_night = 0;
    for (size_t h = 0; h < eng->n; h += step) {
        if (!eng->reg[h].rooms)
            continue;
        int c = scene_size_class(&eng->reg[h]);
        by_class[c][n_class[c]++] = (int32_t)h;
        all[n++] = (int32_t)h;
        double tot = eng->night_use[h] + (double)eng->day_use[h];
        if (tot >= 100)
            night[n_night++] = (float)(eng->night_use[h] / tot);
    }
    struct scene_peer whole;
    peer_baseline(eng, all, n, 1, s, &whole);
    for (int m = 0; m < METRIC_COUNT; m++)
        eng->district.per_capita[m] = whole.per_capita[m];
    for (int c = 0; c < SCENE_SIZE_CLASSES; c++) {
        peer_baseline(eng, by_class[c], n_class[c], 0, s,
                      &eng->district.size_class[c]);
        free(by_class[c]);
    }
    eng->district.night_share = n_night ? median_f(night, n_night) : -1.0f;
    free(all);
    free(night);
}

static void score_one(struct scene_engine *eng, int32_t h,
                      struct scene_cands *out);

void scene_gr_rescore_full(struct scene_engine *eng, struct scene_cands *out)
{
    int64_t t0 = time_monotonic_ns();
    struct level_window w;
    level_window_init(eng, scene_last_full_day(eng), &w);
    struct peer_scratch s = {0};
    for (size_t h = 0; h < eng->n; h++)
        if (eng->reg[h].rooms)
            levels_one(eng, (int32_t)h, &w);
    int64_t t1 = time_monotonic_ns();
    if (eng->registry_dirty || !eng->groups)
        build_groups(eng);
    int64_t t2 = time_monotonic_ns();
    district_baselines(eng, &s);
    int64_t t3 = time_monotonic_ns();
    for (size_t g = 0; g < eng->n_groups; g++) {
        struct scene_group *grp = &eng->groups[g];
        peer_baseline(eng, eng->peer_order + grp->start, grp->count,
                      grp->size_class == 255, &s, &grp->peer);
    }
    scratch_release(&s);
    int64_t t4 = time_monotonic_ns();
    for (size_t h = 0; h < eng->n; h++) {
        if (eng->reg[h].rooms)
            score_one(eng, (int32_t)h, out);
        else
            eng->res[h].candidate = 0;
    }
    int64_t t5 = time_monotonic_ns();
    if (getenv("SCENE_PROFILE"))
        fprintf(stderr, "levels %.3f groups %.3f district %.3f peers %.3f score %.3f (cands %zu)\n", (t1-t0)/1e9, (t2-t1)/1e9, (t3-t2)/1e9, (t4-t3)/1e9, (t5-t4)/1e9, out->n);
}

/* ---- pass 2: features and score ---- */

/* The per-person calibration of metric m for h, with the peers counted. */
static double per_capita_of(struct scene_engine *eng, int32_t h, int m,
                            uint32_t *OUT_peers)
{
    double district = eng->district.per_capita[m];
    const struct scene_group *g = scene_gr_group_of(eng, h, 0);
    if (!g || g->peer.n < SCENE_MIN_PEERS || g->peer.per_capita[m] <= 0)
        g = scene_gr_group_of(eng, h, 1);
    double pc = district;
    if (g && g->peer.n >= SCENE_MIN_PEERS && g->peer.per_capita[m] > 0 &&
        district > 0)
        pc = clampd(g->peer.per_capita[m], 0.5 * district, 2.5 * district);
    if (OUT_peers)
        *OUT_peers = g ? g->peer.n : 0;
    return pc;
}

/* The raw peer baseline for evidence: same building and size class, else
 * the district's size class. */
static const struct scene_peer *raw_peer(struct scene_engine *eng, int32_t h)
{
    const struct scene_group *g = scene_gr_group_of(eng, h, 0);
    if (g && g->peer.n >= SCENE_MIN_PEERS)
        return &g->peer;
    return &eng->district.size_class[scene_size_class(&eng->reg[h])];
}

/* Shape of the water and electricity series over the 28-day window. */
struct series_shape {
    double consistency; /* share of water days above the allowed line */
    double history;     /* median water of days 15-28, m3; <0 none */
    double weekend;     /* log2 weekend / weekday electricity */
    int spike;          /* a day >= 5x the median and >= 0.5 m3 */
    int days_water;     /* days with water data in the level window */
};

static void series_shape(struct scene_engine *eng, int32_t h, int64_t last,
                         double line_m3, struct series_shape *OUT)
{
    memset(OUT, 0, sizeof(*OUT));
    uint16_t v[SCENE_HIST_DAYS];
    size_t n = ring_values(eng, h, METRIC_WATER, last, SCENE_HIST_DAYS, v);
    double level = level_value(eng, h, METRIC_WATER);
    size_t above = 0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i] / scene_metric_scale[METRIC_WATER];
        above += x > line_m3;
        if (level > 0 && x >= 5 * level && x >= 0.5)
            OUT->spike = 1;
    }
    OUT->consistency = n ? (double)above / n : 0.5;
    OUT->days_water =
        (int)ring_values(eng, h, METRIC_WATER, last, SCENE_LEVEL_DAYS, v);
    n = ring_values(eng, h, METRIC_WATER, last - SCENE_LEVEL_DAYS,
                    SCENE_HIST_DAYS - SCENE_LEVEL_DAYS, v);
    OUT->history = n >= 5 ? median_u16(v, n) / 1000.0 : -1.0;
    double sum[2] = {0, 0};
    int cnt[2] = {0, 0};
    const uint16_t *ring =
        eng->use[METRIC_ELECTRICITY] + (size_t)h * SCENE_DAYS;
    for (int64_t d = last - SCENE_HIST_DAYS + 1; d <= last; d++) {
        if (d < 0 || d <= eng->cur_day - SCENE_DAYS ||
            ring[d % SCENE_DAYS] == SCENE_NO_DATA)
            continue;
        int weekend = ((d + 3) % 7) >= 5; /* 1970-01-01 was a Thursday */
        sum[weekend] += ring[d % SCENE_DAYS];
        cnt[weekend]++;
    }
    if (cnt[0] >= 3 && cnt[1] >= 2 && sum[0] > 0 && sum[1] > 0)
        OUT->weekend =
            clampd(log2((sum[1] / cnt[1]) / (sum[0] / cnt[0])), -2, 2);
}

static double log2_excess(double occ, double allowed)
{
    return clampd(log2((occ > 0.1 ? occ : 0.1) / allowed), -3, 3);
}

/* The confounder checks of one household. */
static uint8_t confounder_checks(struct scene_engine *eng, int32_t h,
                                 const struct scene_suspect *s, const double *x,
                                 const struct series_shape *shape)
{
    const struct scene_reg *r = &eng->reg[h];
    double allowed =
        s->legal_limit > s->registered ? s->legal_limit : s->registered;
    double occ_w = s->occ[METRIC_WATER], occ_e = s->occ[METRIC_ELECTRICITY];
    uint8_t c = 0;
    if ((s->registered > s->legal_limit ||
         (r->flags & HOUSEHOLD_LARGE_FAMILY)) &&
        s->estimate <= 1.3 * s->registered + 0.5)
        c |= CHECK_LARGE_FAMILY;
    if ((r->flags & HOUSEHOLD_BUSINESS) ||
        (floor(s->recipients + 0.5) <= fmax(3, allowed / 2) &&
         (x[F_GAS_COOKING] >= 0.4 || s->consumption >= 2 * allowed)))
        c |= CHECK_BUSINESS;
    if (s->recipients >= 2 * allowed + 3 && occ_w >= 0 &&
        (occ_w <= 1.25 * allowed || s->recipients >= 3 * fmax(occ_w, 1)))
        c |= CHECK_SHORT_TERM;
    if (occ_w >= 1.5 * allowed &&
        (occ_e < 0 || occ_e <= fmax(1.25 * allowed, occ_w / 3)) &&
        s->recipients <= allowed + 1)
        c |= CHECK_WATER_ONLY;
    if ((s->faults || shape->spike) && shape->consistency < 0.6)
        c |= CHECK_METER_FAULT;
    const struct scene_group *b = scene_gr_group_of(eng, h, 1);
    double district = eng->district.per_capita[METRIC_WATER];
    if (b && b->peer.n >= SCENE_MIN_PEERS && district > 0 &&
        b->peer.per_capita[METRIC_WATER] >= 1.3 * district &&
        s->peer_level[METRIC_WATER] > 0 &&
        s->level[METRIC_WATER] < 1.5 * s->peer_level[METRIC_WATER])
        c |= CHECK_BUILDING_SWING;
    if (r->flags & HOUSEHOLD_VACANT)
        c |= CHECK_VACANT;
    if (shape->days_water < SCENE_LEVEL_DAYS / 2)
        c |= CHECK_SPARSE_DATA;
    return c;
}

/* The occupancy estimate from the consumption estimate and the distinct
 * recipients of a month.  Recipients below the consumption say nothing
 * (families share a phone, elders do not order); above it they count
 * adults who each order, whom consumption understates when they are out
 * most of the day.  A month's recipients also count those who moved on
 * (turnover, guests), so they lift the estimate half-way and at most to
 * RECIP_LIFT_CAP x the consumption estimate. */
static double fuse_recipients(double consumption, double recipients)
{
    if (recipients <= consumption)
        return consumption;
    double cap = RECIP_LIFT_CAP * consumption;
    return consumption +
           RECIP_LIFT * ((recipients < cap ? recipients : cap) - consumption);
}

/* Levels, calibrations and occupancy estimates of h into s. */
static int estimate_of(struct scene_engine *eng, int32_t h,
                       struct scene_suspect *s)
{
    const struct scene_reg *r = &eng->reg[h];
    memset(s, 0, sizeof(*s));
    s->household = h;
    s->legal_limit = scene_legal_limit(r);
    s->registered = r->registered;
    s->faults = eng->res[h].faults;
    const struct scene_peer *peer = raw_peer(eng, h);
    double sum = 0, weight = 0;
    for (int m = 0; m < METRIC_COUNT; m++) {
        s->level[m] = (float)level_value(eng, h, m);
        s->peer_level[m] = peer->level[m];
        s->per_capita[m] = (float)per_capita_of(eng, h, m, &s->peers);
        s->occ[m] = -1;
        if (s->level[m] < 0 || s->per_capita[m] <= 0)
            continue;
        s->occ[m] = (float)(people_use(m, s->level[m]) / s->per_capita[m]);
        double wt = m == METRIC_WATER ? 2 : m == METRIC_ELECTRICITY ? 1 : 0;
        sum += wt * s->occ[m];
        weight += wt;
    }
    s->recipients = (float)scene_gr_distinct_recipients(eng, h);
    s->peer_recipients = peer->recipients;
    if (weight <= 0)
        return CB_ENOTFOUND;
    s->consumption = (float)(sum / weight);
    s->estimate = (float)fuse_recipients(s->consumption, s->recipients);
    return 0;
}

static void fill_features(struct scene_engine *eng, int32_t h,
                          const struct scene_suspect *s, double allowed,
                          const struct series_shape *shape, double *x)
{
    memset(x, 0, SCENE_NF * sizeof(*x));
    x[F_BIAS] = 1;
    if (s->occ[METRIC_WATER] >= 0)
        x[F_WATER_EXCESS] = log2_excess(s->occ[METRIC_WATER], allowed);
    if (s->occ[METRIC_ELECTRICITY] >= 0)
        x[F_ELEC_EXCESS] = log2_excess(s->occ[METRIC_ELECTRICITY], allowed);
    x[F_RECIP_EXCESS] =
        clampd(log2((s->recipients + 1) / (allowed + 1)), -3, 3);
    x[F_RECIP_DEFICIT] =
        clampd(log2((s->recipients + 1) / (s->estimate + 1)), -3, 0);
    if (s->level[METRIC_WATER] > 0 && s->peer_level[METRIC_WATER] > 0)
        x[F_WATER_PEER] = clampd(
            log2(s->level[METRIC_WATER] / s->peer_level[METRIC_WATER]), -3, 3);
    if (s->occ[METRIC_GAS] >= 0 && s->occ[METRIC_WATER] >= 0)
        x[F_GAS_COOKING] = clampd(
            log2((s->occ[METRIC_GAS] + 0.5) / (s->occ[METRIC_WATER] + 0.5)), -3,
            3);
    double tot = eng->night_use[h] + (double)eng->day_use[h];
    if (tot >= 100 && eng->district.night_share >= 0)
        x[F_NIGHT_SHARE] = clampd(
            10 * (eng->night_use[h] / tot - eng->district.night_share), -3, 3);
    if (shape->history > 0 && s->level[METRIC_WATER] > 0)
        x[F_STEP_UP] =
            clampd(log2(s->level[METRIC_WATER] / shape->history), -2, 2);
    x[F_PERSONS_EXCESS] = clampd((s->estimate - allowed) / 4, -1, 2);
    x[F_CONSISTENCY] = shape->consistency - 0.5;
    x[F_WEEKEND_SHAPE] = shape->weekend;
}

int scene_gr_features(struct scene_engine *eng, int32_t h, double *OUT_x,
                      struct scene_suspect *OUT_s)
{
    struct scene_suspect local;
    struct scene_suspect *s = OUT_s ? OUT_s : &local;
    if (h < 0 || (size_t)h >= eng->n || !eng->reg[h].rooms)
        return CB_ENOTFOUND;
    int err = estimate_of(eng, h, s);
    if (err)
        return err;
    double allowed =
        s->legal_limit > s->registered ? s->legal_limit : s->registered;
    double pc_w = s->per_capita[METRIC_WATER];
    struct series_shape shape;
    series_shape(eng, h, scene_last_full_day(eng), allowed * pc_w, &shape);
    s->days_water = (uint8_t)shape.days_water;
    fill_features(eng, h, s, allowed, &shape, OUT_x);
    s->checks = confounder_checks(eng, h, s, OUT_x, &shape);
    static const struct {
        uint8_t check;
        int feature;
    } map[] = {{CHECK_LARGE_FAMILY, F_LARGE_FAMILY},
               {CHECK_BUSINESS, F_BUSINESS},
               {CHECK_SHORT_TERM, F_SHORT_TERM},
               {CHECK_WATER_ONLY, F_WATER_ONLY},
               {CHECK_METER_FAULT, F_METER_FAULT},
               {CHECK_BUILDING_SWING, F_BUILDING_SWING}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        OUT_x[map[i].feature] = (s->checks & map[i].check) ? 1.0 : 0.0;
    double tot = eng->night_use[h] + (double)eng->day_use[h];
    s->night_share = tot >= 100 ? (float)(eng->night_use[h] / tot) : -1.0f;
    double orders = 0;
    for (int b = 0; b < SCENE_BLOCKS; b++)
        orders += eng->orders[(size_t)h * SCENE_BLOCKS + (size_t)b];
    s->orders_30d = (float)orders;
    s->score = (float)scene_learn_score(&eng->learn, OUT_x);
    s->shown = (float)(s->estimate * eng->learn.occupancy_scale);
    s->household_id = scene_household_id(eng, h);
    s->committee_id = eng->reg[h].committee;
    s->street_id = eng->committee_street[s->committee_id];
    s->committee = scene_display_name(eng->committees.name[s->committee_id]);
    s->street = eng->streets.name[s->street_id];
    return 0;
}

/* Scores h from its levels against the cached baselines. */
static void score_one(struct scene_engine *eng, int32_t h,
                      struct scene_cands *out)
{
    struct scene_result *res = &eng->res[h];
    struct scene_suspect s;
    double x[SCENE_NF];
    res->candidate = 0;
    res->score = 0;
    res->estimate = 0;
    res->checks = 0;
    if (estimate_of(eng, h, &s))
        return;
    double allowed =
        s.legal_limit > s.registered ? s.legal_limit : s.registered;
    res->estimate = (uint16_t)clampd(s.estimate * 100, 0, 65535);
    double gate = fmax(s.estimate, s.occ[METRIC_WATER]);
    if (gate < allowed + 0.5 || gate < 1.1 * allowed)
        return;
    if (scene_gr_features(eng, h, x, &s))
        return;
    res->candidate = 1;
    res->checks = s.checks;
    res->score = (uint16_t)clampd(s.score * 65535.0 + 0.5, 0, 65535);
    scene_cands_push(out, &s);
}

/* Recomputes the levels of h and re-scores it against the cached
 * baselines.  Caller holds eng->lock. */
void scene_gr_rescore_one(struct scene_engine *eng, int32_t h,
                          struct scene_cands *out)
{
    struct scene_result *res = &eng->res[h];
    if (!eng->reg[h].rooms) {
        res->candidate = 0;
        return;
    }
    struct level_window w;
    level_window_init(eng, scene_last_full_day(eng), &w);
    levels_one(eng, h, &w);
    score_one(eng, h, out);
}
