/*
 * scene_complaints.c - 12345 hotline complaints of group renting
 * (source "12345", type "housing_rental") as evidence for the flats of
 * the building they are about.
 *
 * A complaint carries a position, not a flat: neighbours report the
 * building.  It is matched to the registry building at that position
 * (within about 2 m: positions are kept on a 1e-5 degree grid and the 5x5
 * cells around the complaint are searched), and each building keeps the
 * days of its last SCENE_COMPLAINT_SLOTS complaints.  A flat's count is
 * the complaints at its building in the last SCENE_COMPLAINT_DAYS days.
 *
 * What it is worth.  About 1 flat in 70 is a group rental; a building
 * with a complaint very likely holds one among its 10-200 flats, so a
 * flat there is about 3 times as likely to be one as a flat elsewhere: a
 * logit of about +1 (the default weight of the feature).  It moves
 * candidates up; it never makes a flat a candidate (scene_group_rental.c).
 *
 * Failure modes: complaints placed by the street only, or at a compound's
 * gate, match no building and are ignored; a building whose position is
 * missing in the registry cannot be matched.
 */
#include "scene/scene_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct building_key {
    uint64_t key;
    uint32_t building;
};

static uint64_t position_key(long lat_cell, long lon_cell)
{
    return (uint64_t)(uint32_t)lat_cell << 32 | (uint32_t)lon_cell;
}

static void ensure_building(struct scene_engine *eng, uint32_t b)
{
    if (b < eng->building_cap)
        return;
    size_t cap = eng->building_cap ? eng->building_cap : 1024;
    while (cap <= b)
        cap *= 2;
    eng->building_pos =
        xrealloc(eng->building_pos, cap * 2 * sizeof(*eng->building_pos));
    eng->complaint_day =
        xrealloc(eng->complaint_day,
                 cap * SCENE_COMPLAINT_SLOTS * sizeof(*eng->complaint_day));
    for (size_t i = eng->building_cap; i < cap; i++) {
        eng->building_pos[2 * i] = eng->building_pos[2 * i + 1] = NAN;
        for (int k = 0; k < SCENE_COMPLAINT_SLOTS; k++)
            eng->complaint_day[i * SCENE_COMPLAINT_SLOTS + k] = -1;
    }
    eng->building_cap = cap;
}

void scene_complaints_building(struct scene_engine *eng, uint32_t building,
                               double lat, double lon)
{
    ensure_building(eng, building);
    if (!isfinite(lat) || !isfinite(lon))
        return;
    if (eng->building_pos[2 * building] != (float)lat ||
        eng->building_pos[2 * building + 1] != (float)lon)
        eng->building_keys_dirty = 1;
    eng->building_pos[2 * building] = (float)lat;
    eng->building_pos[2 * building + 1] = (float)lon;
}

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = ((const struct building_key *)a)->key,
             y = ((const struct building_key *)b)->key;
    return x < y ? -1 : x > y;
}

static void rebuild_keys(struct scene_engine *eng)
{
    struct building_key *k = xmalloc((eng->building_cap + 1) * sizeof(*k));
    size_t n = 0;
    for (size_t b = 0; b < eng->building_cap; b++) {
        float lat = eng->building_pos[2 * b],
              lon = eng->building_pos[2 * b + 1];
        if (isnan(lat) || isnan(lon))
            continue;
        k[n++] = (struct building_key){
            position_key(lround(lat * 1e5), lround(lon * 1e5)), (uint32_t)b};
    }
    qsort(k, n, sizeof(*k), cmp_key);
    free(eng->building_keys);
    eng->building_keys = (uint64_t *)k;
    eng->n_building_keys = n;
    eng->building_keys_dirty = 0;
}

/* The building at (lat, lon), or -1. */
static int64_t building_at(struct scene_engine *eng, double lat, double lon)
{
    if (eng->building_keys_dirty)
        rebuild_keys(eng);
    const struct building_key *keys = (const void *)eng->building_keys;
    long la = lround(lat * 1e5), lo = lround(lon * 1e5);
    for (long d = 0; d <= 4; d++) /* nearest cells first */
        for (long i = -2; i <= 2; i++)
            for (long j = -2; j <= 2; j++) {
                if (labs(i) + labs(j) != d)
                    continue;
                struct building_key q = {position_key(la + i, lo + j), 0};
                const struct building_key *hit =
                    eng->n_building_keys
                        ? bsearch(&q, keys, eng->n_building_keys, sizeof(q),
                                  cmp_key)
                        : NULL;
                if (hit)
                    return hit->building;
            }
    return -1;
}

void scene_engine_add_event(struct scene_engine *eng, const struct event *ev)
{
    if (!ev || !ev->source || !ev->type || strcmp(ev->source, "12345") ||
        strcmp(ev->type, "housing_rental") || !isfinite(ev->lat) ||
        !isfinite(ev->lon))
        return;
    pthread_mutex_lock(&eng->lock);
    int64_t b = building_at(eng, ev->lat, ev->lon);
    if (b >= 0) {
        int32_t day = (int32_t)scene_local_day(eng, ev->ts_ns / 1000000000);
        int32_t *slot = eng->complaint_day + b * SCENE_COMPLAINT_SLOTS;
        int oldest = 0;
        for (int k = 1; k < SCENE_COMPLAINT_SLOTS; k++)
            if (slot[k] < slot[oldest])
                oldest = k;
        if (day > slot[oldest])
            slot[oldest] = day;
        eng->weights_dirty = 1; /* a full pass: every flat of b may move */
    }
    pthread_mutex_unlock(&eng->lock);
}

uint32_t scene_gr_complaints(const struct scene_engine *eng, int32_t h)
{
    uint32_t b = eng->reg[h].building;
    if (b >= eng->building_cap || eng->as_of_s <= 0)
        return 0;
    int64_t today = scene_local_day(eng, eng->as_of_s);
    const int32_t *slot = eng->complaint_day + b * SCENE_COMPLAINT_SLOTS;
    uint32_t n = 0;
    for (int k = 0; k < SCENE_COMPLAINT_SLOTS; k++)
        n += slot[k] >= 0 && slot[k] > today - SCENE_COMPLAINT_DAYS &&
             slot[k] <= today;
    return n;
}
