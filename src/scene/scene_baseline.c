/*
 * scene_baseline.c - the robust statistics under the group-rental model:
 * each household's levels and its peers' baselines.
 *
 * LEVELS.  A signal's level is the median of its daily use over the last
 * SCENE_LEVEL_DAYS (14) complete days, or over SCENE_HIST_DAYS (28) when
 * fewer than 5 of the 14 have data; no level below 3 days.  The full pass
 * takes eight households at a time: their 14 days become sixteen 8-lane
 * vectors of uint16 (missing days and padding are 0xFFFF, which sorts
 * last), one branch-free sorting network of 63 compare-exchanges sorts
 * all eight lanes, and each lane whose 14 days all have data reads its
 * median from the vectors (the others take the scalar path).  This is
 * exact (the same medians as a sort), about 65 ns a household for the
 * three signals and the recipients on one core, and portable (GCC and
 * Clang vector extensions; no intrinsics).
 *
 * PEER BASELINES.  Households are ordered by (building, size class) once
 * per registry change and cut into groups: each size class of a building,
 * then the whole building.  A full pass takes, per size-class group, the
 * medians of use per registered person (the calibration), of the levels
 * and of the distinct recipients; per building only the calibration, and
 * only where one of its size classes has too few peers to stand alone
 * (SCENE_MIN_PEERS) - elsewhere nothing reads it.  Medians are exact, on
 * uint16 keys (per-person use in quarter ring units): a group of up to 32
 * puts its 7 kinds of key in the 8 lanes of one sorting network (63 or
 * 191 compare-exchanges), a larger one sorts each kind; the building's
 * median is then a merge of its size classes' sorted keys.  The district
 * baseline (per person, per size class, night share) is taken by
 * quickselect over a regular sample of at most DISTRICT_SAMPLE households.
 *
 * Peers exclude flats flagged business or vacant and flats with almost no
 * water (below VACANT_WATER_M3 a day): they would drag the medians down.
 */
#include "scene/scene_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VACANT_WATER_M3 0.02  /* below this a flat is not a peer */
#define DISTRICT_SAMPLE 50000 /* households sampled for district stats */

/* ---- sorting networks ---- */

/* Batcher's odd-even merge sort of 16: 63 compare-exchanges (checked on
 * all 2^16 zero-one inputs). */
static const uint8_t sort16_net[63][2] = {
    {0, 1},   {2, 3},   {4, 5},   {6, 7},   {8, 9},  {10, 11}, {12, 13},
    {14, 15}, {0, 2},   {1, 3},   {4, 6},   {5, 7},  {8, 10},  {9, 11},
    {12, 14}, {13, 15}, {1, 2},   {5, 6},   {9, 10}, {13, 14}, {0, 4},
    {1, 5},   {2, 6},   {3, 7},   {8, 12},  {9, 13}, {10, 14}, {11, 15},
    {2, 4},   {3, 5},   {10, 12}, {11, 13}, {1, 2},  {3, 4},   {5, 6},
    {9, 10},  {11, 12}, {13, 14}, {0, 8},   {1, 9},  {2, 10},  {3, 11},
    {4, 12},  {5, 13},  {6, 14},  {7, 15},  {4, 8},  {5, 9},   {6, 10},
    {7, 11},  {2, 4},   {3, 5},   {6, 8},   {7, 9},  {10, 12}, {11, 13},
    {1, 2},   {3, 4},   {5, 6},   {7, 8},   {9, 10}, {11, 12}, {13, 14},
};

typedef uint16_t u16x8 __attribute__((vector_size(16)));

/* Sorts each of the 8 lanes of v[0..16) ascending: the network of
 * sort16_net unrolled, so that the vectors can live in registers. */
static void sort16_lanes(u16x8 *v)
{
#define VCE(a, b)                                                              \
    do {                                                                       \
        u16x8 t_ = (v[a] ^ v[b]) & (u16x8)(v[a] > v[b]);                       \
        v[a] ^= t_;                                                            \
        v[b] ^= t_;                                                            \
    } while (0)
    VCE(0, 1);
    VCE(2, 3);
    VCE(4, 5);
    VCE(6, 7);
    VCE(8, 9);
    VCE(10, 11);
    VCE(12, 13);
    VCE(14, 15);
    VCE(0, 2);
    VCE(1, 3);
    VCE(4, 6);
    VCE(5, 7);
    VCE(8, 10);
    VCE(9, 11);
    VCE(12, 14);
    VCE(13, 15);
    VCE(1, 2);
    VCE(5, 6);
    VCE(9, 10);
    VCE(13, 14);
    VCE(0, 4);
    VCE(1, 5);
    VCE(2, 6);
    VCE(3, 7);
    VCE(8, 12);
    VCE(9, 13);
    VCE(10, 14);
    VCE(11, 15);
    VCE(2, 4);
    VCE(3, 5);
    VCE(10, 12);
    VCE(11, 13);
    VCE(1, 2);
    VCE(3, 4);
    VCE(5, 6);
    VCE(9, 10);
    VCE(11, 12);
    VCE(13, 14);
    VCE(0, 8);
    VCE(1, 9);
    VCE(2, 10);
    VCE(3, 11);
    VCE(4, 12);
    VCE(5, 13);
    VCE(6, 14);
    VCE(7, 15);
    VCE(4, 8);
    VCE(5, 9);
    VCE(6, 10);
    VCE(7, 11);
    VCE(2, 4);
    VCE(3, 5);
    VCE(6, 8);
    VCE(7, 9);
    VCE(10, 12);
    VCE(11, 13);
    VCE(1, 2);
    VCE(3, 4);
    VCE(5, 6);
    VCE(7, 8);
    VCE(9, 10);
    VCE(11, 12);
    VCE(13, 14);
#undef VCE
}

/* Batcher's odd-even merge sort of 32 (191 compare-exchanges), built on
 * first use by the textbook iteration. */
static uint8_t sort32_net[191][2];
static pthread_once_t sort32_once = PTHREAD_ONCE_INIT;

static void sort32_net_init(void)
{
    size_t n = 0;
    for (int p = 1; p < 32; p <<= 1)
        for (int k = p; k >= 1; k >>= 1)
            for (int j = k % p; j + k < 32; j += 2 * k)
                for (int i = 0; i < k && i + j + k < 32; i++)
                    if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) {
                        sort32_net[n][0] = (uint8_t)(i + j);
                        sort32_net[n][1] = (uint8_t)(i + j + k);
                        n++;
                    }
}

/* Sorts each of the 8 lanes of v[0..32) ascending. */
static void sort32_lanes(u16x8 *v)
{
    pthread_once(&sort32_once, sort32_net_init);
    for (int k = 0; k < 191; k++) {
        u16x8 *a = &v[sort32_net[k][0]], *b = &v[sort32_net[k][1]];
        u16x8 t = (*a ^ *b) & (u16x8)(*a > *b);
        *a ^= t;
        *b ^= t;
    }
}

static void sort16_u16(uint16_t *v)
{
    for (int k = 0; k < 63; k++) {
        uint16_t x = v[sort16_net[k][0]], y = v[sort16_net[k][1]];
        v[sort16_net[k][0]] = x < y ? x : y;
        v[sort16_net[k][1]] = x < y ? y : x;
    }
}

/* ---- medians ---- */

float scene_median_u16(uint16_t *v, size_t n)
{
    if (n <= 16) {
        for (size_t i = n; i < 16; i++)
            v[i] = 0xFFFF;
        sort16_u16(v);
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
static uint16_t select_k(uint16_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint16_t pivot = v[(lo + hi) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                uint16_t t = v[i];
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

/* ---- levels ---- */

size_t scene_ring_values(const struct scene_engine *eng, int32_t h, int m,
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

/* Distinct recipients by linear counting of a 64-bit bitmap with k bits
 * set: -64 ln(1 - k/64), saturated at k = 64. */
static float recipients_of_bits[65];
static pthread_once_t recipients_once = PTHREAD_ONCE_INIT;

static void recipients_table_init(void)
{
    for (int k = 0; k < 64; k++)
        recipients_of_bits[k] = (float)(-64.0 * log(1.0 - k / 64.0));
    recipients_of_bits[64] = (float)(64.0 * log(64.0) + 1);
}

/* Bits set in x (SWAR: without -mpopcnt the builtin is a library call). */
static int popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

double scene_gr_distinct_recipients(const struct scene_engine *eng, int32_t h)
{
    pthread_once(&recipients_once, recipients_table_init);
    const uint64_t *b = eng->recip + (size_t)h * SCENE_BLOCKS;
    uint64_t bits = 0;
    for (int i = 0; i < SCENE_BLOCKS; i++)
        bits |= b[i];
    return recipients_of_bits[popcount64(bits)];
}

/* The slots of the level window (the SCENE_LEVEL_DAYS days ending at
 * `last` that are in the ring). */
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

/* The level from n sorted values of the 14-day window, or from the 28-day
 * window when n < 5; SCENE_NO_DATA under 3 days. */
static uint16_t level_from(const struct scene_engine *eng, int32_t h, int m,
                           int64_t last, const uint16_t *sorted, size_t n)
{
    if (n >= 5 && n % 2)
        return sorted[n / 2];
    if (n >= 5) /* the mean of the middle two, rounded half up */
        return (uint16_t)(((uint32_t)sorted[n / 2 - 1] + sorted[n / 2] + 1) /
                          2);
    uint16_t v[SCENE_HIST_DAYS];
    n = scene_ring_values(eng, h, m, last, SCENE_HIST_DAYS, v);
    if (n < 3)
        return SCENE_NO_DATA;
    return (uint16_t)(scene_median_u16(v, n) + 0.5f);
}

/* Levels of metric m for households [h0, h0 + 8), all below eng->cap:
 * lanes whose every window day has data take the median from the sorted
 * vectors; the others (gaps, a short ring) go through level_from. */
static void levels_8(struct scene_engine *eng, size_t h0, int m,
                     const struct level_window *w)
{
    uint16_t lane[16][8];
    for (size_t k = 0; k < 8; k++) {
        const uint16_t *ring = eng->use[m] + (h0 + k) * SCENE_DAYS;
        for (size_t i = 0; i < w->n; i++)
            lane[i][k] = ring[w->slot[i]];
    }
    for (size_t i = w->n; i < 16; i++)
        memset(lane[i], 0xFF, sizeof(lane[i]));
    u16x8 v[16], present = {0};
    memcpy(v, lane, sizeof(v));
    for (size_t i = 0; i < w->n; i++)
        present -= (u16x8)(v[i] != SCENE_NO_DATA); /* true is all ones */
    sort16_lanes(v);
    size_t n = w->n;
    u16x8 hi = v[n / 2], lo = n % 2 ? hi : v[n > 0 ? n / 2 - 1 : 0];
    u16x8 med = (lo >> 1) + (hi >> 1) + ((lo | hi) & 1); /* (lo+hi+1)/2 */
    uint16_t cnt[8], mid[8];
    memcpy(cnt, &present, sizeof(cnt));
    memcpy(mid, &med, sizeof(mid));
    memcpy(lane, v, sizeof(v));
    for (size_t k = 0; k < 8 && h0 + k < eng->n; k++) {
        struct scene_result *res = &eng->res[h0 + k];
        if (cnt[k] == n && n >= 5) {
            res->level[m] = mid[k];
            continue;
        }
        uint16_t sorted[16];
        for (size_t i = 0; i < 16; i++)
            sorted[i] = lane[i][k];
        res->level[m] =
            level_from(eng, (int32_t)(h0 + k), m, w->last, sorted, cnt[k]);
    }
}

static void recipients_one(struct scene_engine *eng, int32_t h)
{
    double rc = scene_gr_distinct_recipients(eng, h);
    eng->res[h].recipients = (uint8_t)(rc > 255 ? 255 : rc + 0.5);
}

void scene_levels_all(struct scene_engine *eng, int64_t last)
{
    struct level_window w;
    level_window_init(eng, last, &w);
    for (int m = 0; m < METRIC_COUNT; m++)
        for (size_t h0 = 0; h0 < eng->n; h0 += 8)
            levels_8(eng, h0, m, &w); /* eng->cap is a multiple of 8 */
    for (size_t h = 0; h < eng->n; h++)
        recipients_one(eng, (int32_t)h);
}

void scene_levels_one(struct scene_engine *eng, int32_t h, int64_t last)
{
    struct level_window w;
    level_window_init(eng, last, &w);
    for (int m = 0; m < METRIC_COUNT; m++) {
        uint16_t v[SCENE_HIST_DAYS];
        size_t n = 0;
        const uint16_t *ring = eng->use[m] + (size_t)h * SCENE_DAYS;
        for (size_t i = 0; i < w.n; i++)
            if (ring[w.slot[i]] != SCENE_NO_DATA)
                v[n++] = ring[w.slot[i]];
        if (n >= 5)
            scene_median_u16(v, n); /* sorts v */
        eng->res[h].level[m] = level_from(eng, h, m, last, v, n);
    }
    recipients_one(eng, h);
}

/* ---- peer groups ---- */

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
 * order into groups: each building's size classes, then the building.
 * building_group covers the building ids known now, n_building_group of
 * them: buildings registered later have no group until the next pass, and
 * every reader checks against n_building_group, never buildings.n. */
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
    eng->n_building_group = eng->buildings.n;
    eng->building_group = xrealloc(
        eng->building_group, (eng->n_building_group + 1) * sizeof(uint32_t));
    memset(eng->building_group, 0,
           (eng->n_building_group + 1) * sizeof(uint32_t));
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

const struct scene_group *scene_gr_group_of(struct scene_engine *eng, int32_t h,
                                            int whole_building)
{
    const struct scene_reg *r = &eng->reg[h];
    if (!r->rooms || !eng->building_group ||
        r->building >= eng->n_building_group ||
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

/* ---- peer baselines ---- */

/* A peer's keys, medians are taken of each: its levels (ring units), its
 * use per registered person (ring units x PER_CAPITA_KEY, saturating) and
 * its recipients.  SCENE_NO_DATA: no value. */
enum peer_key {
    KEY_LEVEL = 0,
    KEY_PER_CAPITA = METRIC_COUNT,
    KEY_RECIPIENTS = 2 * METRIC_COUNT,
    N_KEYS
};
#define PER_CAPITA_KEY 4

/* Scratch for the district sample's medians (quickselect). */
struct peer_scratch {
    uint16_t *v[N_KEYS];
    size_t cap;
};

static void scratch_reserve(struct peer_scratch *s, size_t n)
{
    if (n <= s->cap)
        return;
    for (int i = 0; i < N_KEYS; i++)
        s->v[i] = xrealloc(s->v[i], n * sizeof(uint16_t));
    s->cap = n;
}

static void scratch_release(struct peer_scratch *s)
{
    for (int i = 0; i < N_KEYS; i++)
        free(s->v[i]);
}

/* The keys of h into OUT_key[N_KEYS]; 0 if h cannot stand as a peer (no
 * registry record, flagged business or vacant, almost no water). */
static int peer_keys(const struct scene_engine *eng, int32_t h,
                     uint16_t *OUT_key)
{
    const struct scene_reg *r = &eng->reg[h];
    const struct scene_result *res = &eng->res[h];
    if (!r->rooms || (r->flags & (HOUSEHOLD_BUSINESS | HOUSEHOLD_VACANT)) ||
        (res->level[METRIC_WATER] != SCENE_NO_DATA &&
         res->level[METRIC_WATER] <
             VACANT_WATER_M3 * scene_metric_scale[METRIC_WATER]))
        return 0;
    uint32_t registered = r->registered ? r->registered : 1;
    uint32_t base =
        (uint32_t)(SCENE_E_BASE_KWH * scene_metric_scale[METRIC_ELECTRICITY]);
    for (int m = 0; m < METRIC_COUNT; m++) {
        uint32_t lv = res->level[m];
        OUT_key[KEY_LEVEL + m] = (uint16_t)lv;
        OUT_key[KEY_PER_CAPITA + m] = SCENE_NO_DATA;
        if (lv == SCENE_NO_DATA)
            continue;
        if (m == METRIC_ELECTRICITY)
            lv = lv > base ? lv - base : 0;
        uint32_t pc = lv * PER_CAPITA_KEY / registered;
        OUT_key[KEY_PER_CAPITA + m] = (uint16_t)(pc < 65534 ? pc : 65534);
    }
    OUT_key[KEY_RECIPIENTS] = res->recipients;
    return 1;
}

/* The baseline from the median key of each kind (cnt: values behind it). */
static void peer_from_medians(const uint16_t *med, const size_t *cnt,
                              int per_capita_only, struct scene_peer *OUT_p)
{
    memset(OUT_p, 0, sizeof(*OUT_p));
    for (int m = 0; m < METRIC_COUNT; m++) {
        double scale = scene_metric_scale[m];
        OUT_p->per_capita[m] =
            cnt[KEY_PER_CAPITA + m]
                ? (float)(med[KEY_PER_CAPITA + m] / (PER_CAPITA_KEY * scale))
                : -1.0f;
        OUT_p->level[m] = !per_capita_only && cnt[KEY_LEVEL + m]
                              ? (float)(med[KEY_LEVEL + m] / scale)
                              : -1.0f;
    }
    OUT_p->recipients =
        !per_capita_only && cnt[KEY_RECIPIENTS] ? med[KEY_RECIPIENTS] : -1.0f;
    OUT_p->n = (uint32_t)cnt[KEY_LEVEL + METRIC_WATER];
    if (cnt[KEY_LEVEL + METRIC_ELECTRICITY] > OUT_p->n)
        OUT_p->n = (uint32_t)cnt[KEY_LEVEL + METRIC_ELECTRICITY];
}

/* Medians of any number of members, by quickselect. */
static void peer_medians_n(const struct scene_engine *eng,
                           const int32_t *members, size_t n,
                           int per_capita_only, struct peer_scratch *s,
                           uint16_t *OUT_med, size_t *OUT_cnt)
{
    uint16_t key[N_KEYS];
    scratch_reserve(s, n);
    memset(OUT_cnt, 0, N_KEYS * sizeof(*OUT_cnt));
    for (size_t i = 0; i < n; i++) {
        if (!peer_keys(eng, members[i], key))
            continue;
        for (int j = 0; j < N_KEYS; j++)
            if (key[j] != SCENE_NO_DATA)
                s->v[j][OUT_cnt[j]++] = key[j];
    }
    for (int j = 0; j < N_KEYS; j++) {
        int wanted = !per_capita_only ||
                     (j >= KEY_PER_CAPITA && j < KEY_PER_CAPITA + METRIC_COUNT);
        OUT_med[j] = OUT_cnt[j] && wanted
                         ? select_k(s->v[j], OUT_cnt[j], OUT_cnt[j] / 2)
                         : SCENE_NO_DATA;
    }
}

/* Medians (the upper one for an even count) over the peers among
 * members[0..n), by quickselect; per_capita_only skips the levels and
 * recipients. */
static void peer_baseline(const struct scene_engine *eng,
                          const int32_t *members, size_t n, int per_capita_only,
                          struct peer_scratch *s, struct scene_peer *OUT_p)
{
    uint16_t med[N_KEYS];
    size_t cnt[N_KEYS];
    peer_medians_n(eng, members, n, per_capita_only, s, med, cnt);
    peer_from_medians(med, cnt, per_capita_only, OUT_p);
}

/* The keys of one size-class group, each kind sorted: kind j's values
 * are base[j][i * stride] for i < cnt[j]. */
struct sorted_keys {
    const uint16_t *base[N_KEYS];
    size_t stride;
    size_t cnt[N_KEYS];
};

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Sorts the peers' keys of members[0..n): up to 32 in the lanes of
 * `lanes` (kind j is lane j, one network sorts every kind), more in `big`
 * (N_KEYS x n, sorted kind by kind). */
static void sort_keys(const struct scene_engine *eng, const int32_t *members,
                      size_t n, uint16_t (*lanes)[8], uint16_t *big,
                      struct sorted_keys *OUT)
{
    uint16_t key[N_KEYS];
    int in_lanes = n <= 32;
    size_t rows = n <= 16 ? 16 : 32;
    memset(OUT->cnt, 0, sizeof(OUT->cnt));
    if (in_lanes)
        memset(lanes, 0xFF, rows * sizeof(*lanes));
    for (size_t i = 0; i < n; i++) {
        if (!peer_keys(eng, members[i], key))
            continue;
        for (int j = 0; j < N_KEYS; j++) {
            if (key[j] == SCENE_NO_DATA)
                continue;
            if (in_lanes)
                lanes[OUT->cnt[j]++][j] = key[j];
            else
                big[j * n + OUT->cnt[j]++] = key[j];
        }
    }
    OUT->stride = in_lanes ? 8 : 1;
    for (int j = 0; j < N_KEYS; j++)
        OUT->base[j] = in_lanes ? &lanes[0][j] : big + (size_t)j * n;
    if (!in_lanes) {
        for (int j = 0; j < N_KEYS; j++)
            qsort(big + j * n, OUT->cnt[j], sizeof(uint16_t), cmp_u16);
        return;
    }
    u16x8 v[32];
    memcpy(v, lanes, rows * sizeof(*lanes));
    if (rows == 16)
        sort16_lanes(v);
    else
        sort32_lanes(v);
    memcpy(lanes, v, rows * sizeof(*lanes));
}

/* The k-th smallest key of kind j over the sorted groups g[0..n_g), by
 * merging from their smallest ends (k is below their total count). */
static uint16_t merge_select(const struct sorted_keys *g, size_t n_g, int j,
                             size_t k)
{
    size_t at[SCENE_SIZE_CLASSES] = {0};
    for (;;) {
        size_t best = n_g;
        uint16_t v = 0;
        for (size_t i = 0; i < n_g; i++) {
            if (at[i] >= g[i].cnt[j])
                continue;
            uint16_t x = g[i].base[j][at[i] * g[i].stride];
            if (best == n_g || x < v) {
                best = i;
                v = x;
            }
        }
        if (k-- == 0)
            return v;
        at[best]++;
    }
}

/* A size-class baseline that cannot calibrate on its own. */
static int needs_building(const struct scene_peer *p)
{
    if (p->n < SCENE_MIN_PEERS)
        return 1;
    for (int m = 0; m < METRIC_COUNT; m++)
        if (p->per_capita[m] <= 0)
            return 1;
    return 0;
}

/* Baselines of one building: groups[first..last) are its size classes,
 * groups[last] the building, whose calibration is only computed (from
 * the sorted size classes) when a size class needs it; else n = 0. */
static void building_baselines(struct scene_engine *eng, size_t first,
                               size_t last, uint16_t **big, size_t *big_cap)
{
    uint16_t lanes[SCENE_SIZE_CLASSES][32][8];
    struct sorted_keys sorted[SCENE_SIZE_CLASSES];
    struct scene_group *building = &eng->groups[last];
    size_t need = 0, n_g = last - first, off = 0;
    for (size_t i = 0; i < n_g; i++)
        need += eng->groups[first + i].count > 32
                    ? N_KEYS * eng->groups[first + i].count
                    : 0;
    if (need > *big_cap) {
        *big = xrealloc(*big, need * sizeof(uint16_t));
        *big_cap = need;
    }
    int fallback = 0;
    for (size_t i = 0; i < n_g; i++) {
        struct scene_group *g = &eng->groups[first + i];
        uint16_t med[N_KEYS];
        int in_lanes = g->count <= 32;
        sort_keys(eng, eng->peer_order + g->start, g->count, lanes[i],
                  in_lanes ? NULL : *big + off, &sorted[i]);
        off += in_lanes ? 0 : N_KEYS * g->count;
        for (int j = 0; j < N_KEYS; j++)
            med[j] =
                sorted[i].cnt[j]
                    ? sorted[i].base[j][sorted[i].cnt[j] / 2 * sorted[i].stride]
                    : SCENE_NO_DATA;
        peer_from_medians(med, sorted[i].cnt, 0, &g->peer);
        fallback |= needs_building(&g->peer);
    }
    memset(&building->peer, 0, sizeof(building->peer));
    if (!fallback)
        return;
    uint16_t med[N_KEYS];
    size_t cnt[N_KEYS] = {0};
    for (int j = 0; j < N_KEYS; j++) {
        for (size_t i = 0; i < n_g; i++)
            cnt[j] += sorted[i].cnt[j];
        int wanted = j >= KEY_PER_CAPITA && j < KEY_PER_CAPITA + METRIC_COUNT;
        med[j] = wanted && cnt[j] ? merge_select(sorted, n_g, j, cnt[j] / 2)
                                  : SCENE_NO_DATA;
    }
    peer_from_medians(med, cnt, 1, &building->peer);
}

/* Baselines of every group, building by building (groups list a
 * building's size classes, then the building). */
static void group_baselines(struct scene_engine *eng)
{
    uint16_t *big = NULL;
    size_t big_cap = 0;
    for (size_t gi = 0; gi < eng->n_groups;) {
        size_t bi = gi;
        while (eng->groups[bi].size_class != 255)
            bi++;
        building_baselines(eng, gi, bi, &big, &big_cap);
        gi = bi + 1;
    }
    free(big);
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
    uint16_t *night = xmalloc((eng->n / step + 1) * sizeof(uint16_t));
    size_t n_night = 0;
    for (size_t h = 0; h < eng->n; h += step) {
        if (!eng->reg[h].rooms)
            continue;
        int c = scene_size_class(&eng->reg[h]);
        by_class[c][n_class[c]++] = (int32_t)h;
        all[n++] = (int32_t)h;
        double tot = eng->night_use[h] + (double)eng->day_use[h];
        if (tot >= 100) /* the share in 1/10000 */
            night[n_night++] = (uint16_t)(10000.0 * eng->night_use[h] / tot);
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
    eng->district.night_share =
        n_night ? select_k(night, n_night, n_night / 2) / 10000.0f : -1.0f;
    free(all);
    free(night);
}

void scene_baselines_update(struct scene_engine *eng)
{
    struct peer_scratch s = {0};
    if (eng->registry_dirty || !eng->groups)
        build_groups(eng);
    district_baselines(eng, &s);
    group_baselines(eng);
    scratch_release(&s);
}
