/*
 * test_scene_gen.h - a small district generator for the scene tests and the
 * scene benchmark, written apart from src/sim so that the detector is not
 * developed against one simulator's quirks.
 *
 * It feeds a struct scene_engine directly with daily use and deliveries
 * (no meters, no roll-up): per-person water 110-150 L/day, electricity
 * 2-3 kWh base + 1.5-3 kWh a person, gas 0.15-0.3 m3 a person for those who
 * cook, deliveries per person with their own recipient ids, log-normal
 * day-to-day noise, seasons, building-wide swings, missing weeks, flats
 * without gas, and one household type per flat:
 *
 *   type          share  what it looks like
 *   ------------  -----  ------------------------------------------------
 *   normal        rest   1..legal people, registered mostly right
 *   group_rental   2%    1.4-3x the legal limit, 1-2 registered, tenants
 *                        cook little and each order under their own id
 *   large_family   2%    above the legal limit, all registered
 *   business       1%    a home kitchen: lots of gas and water, 1-2 ids
 *   short_term     1.5%  1-3 guests rotating every 2-4 days
 *   vacant         2%    almost no use
 *   meter_fault    1%    normal, plus spikes or resets
 *   leak           0.5%  normal, plus a running tap (0.6-1.5 m3/day)
 */
#ifndef TEST_SCENE_GEN_H
#define TEST_SCENE_GEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scene/scene.h"

enum gen_type {
    GEN_NORMAL,
    GEN_GROUP_RENTAL,
    GEN_LARGE_FAMILY,
    GEN_BUSINESS,
    GEN_SHORT_TERM,
    GEN_VACANT,
    GEN_METER_FAULT,
    GEN_LEAK,
    GEN_TYPES
};

static const char *const gen_type_names[GEN_TYPES] = {
    "normal",     "group_rental", "large_family", "business",
    "short_term", "vacant",       "meter_fault",  "leak"};

struct gen_household {
    enum gen_type type;
    int rooms, registered, occupants, flags, cooks_share_pct;
    double area, water_pp, elec_base, elec_pp, gas_pp, order_rate;
    int building, has_gas, missing_from; /* a missing water week or -1 */
};

struct gen_district {
    size_t n;
    int days;
    int64_t day0; /* first local day */
    struct gen_household *hh;
    int n_buildings;
    double *building_swing; /* factor during the swing window */
    int swing_from, swing_to;
};

static inline uint64_t gen_state(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t z = seed * 0x9e3779b97f4a7c15ull + a * 0xbf58476d1ce4e5b9ull +
                 b * 0x94d049bb133111ebull + 1;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double gen_u(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static inline double gen_range(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * gen_u(s);
}

static inline double gen_lognormal(uint64_t *s, double sigma)
{
    double u1 = gen_u(s) + 1e-12, u2 = gen_u(s);
    double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
    return exp(sigma * z - sigma * sigma / 2);
}

static inline int gen_poisson(uint64_t *s, double lambda)
{
    double l = exp(-lambda), p = 1;
    int k = 0;
    do {
        k++;
        p *= gen_u(s);
    } while (p > l && k < 200);
    return k - 1;
}

static inline int gen_legal(const struct gen_household *h)
{
    int a = 2 * h->rooms, b = (int)(h->area / 5);
    int l = a < b ? a : b;
    return l < 1 ? 1 : l;
}

static inline enum gen_type gen_pick_type(uint64_t *s)
{
    double u = gen_u(s) * 100;
    static const double share[GEN_TYPES] = {0, 2, 2, 1, 1.5, 2, 1, 0.5};
    double acc = 0;
    for (int t = 1; t < GEN_TYPES; t++) {
        acc += share[t];
        if (u < acc)
            return (enum gen_type)t;
    }
    return GEN_NORMAL;
}

static inline void gen_people(struct gen_household *h, uint64_t *s)
{
    int legal = gen_legal(h);
    switch (h->type) {
    case GEN_GROUP_RENTAL:
        h->occupants = (int)(legal * gen_range(s, 1.4, 3.0) + 0.5);
        if (h->occupants < legal + 2)
            h->occupants = legal + 2;
        h->registered = 1 + (gen_u(s) < 0.5);
        h->cooks_share_pct = 30;
        h->order_rate = gen_range(s, 0.25, 0.6);
        break;
    case GEN_LARGE_FAMILY:
        h->occupants = legal + 1 + (int)(gen_u(s) * 3);
        h->registered = h->occupants;
        h->flags |= gen_u(s) < 0.5 ? 2 /* large_family */ : 0;
        break;
    case GEN_BUSINESS:
        h->occupants = 2;
        h->registered = 2;
        h->flags |= gen_u(s) < 0.3 ? 4 /* business */ : 0;
        break;
    case GEN_SHORT_TERM:
        h->occupants = 1 + (int)(gen_u(s) * 3);
        h->registered = 0;
        h->order_rate = gen_range(s, 0.3, 0.6);
        break;
    case GEN_VACANT:
        h->occupants = 0;
        h->registered = 1 + (int)(gen_u(s) * 3);
        h->flags |= gen_u(s) < 0.5 ? 8 /* vacant */ : 0;
        break;
    default:
        h->occupants = 1 + (int)(gen_u(s) * legal);
        if (h->occupants > 5)
            h->occupants = 5;
        h->registered = h->occupants;
        if (gen_u(s) < 0.2)
            h->registered += gen_u(s) < 0.5 ? -1 : 1;
        if (h->registered < 0)
            h->registered = 0;
        break;
    }
}

static inline void gen_household_init(struct gen_household *h, uint64_t seed,
                                      size_t i, int building)
{
    uint64_t s = gen_state(seed, 1, i);
    double u = gen_u(&s);
    h->rooms = u < 0.15 ? 1 : u < 0.6 ? 2 : u < 0.9 ? 3 : 4;
    h->area = h->rooms * gen_range(&s, 16, 28) + gen_range(&s, 8, 20);
    h->building = building;
    h->type = gen_pick_type(&s);
    h->cooks_share_pct = 85;
    h->order_rate = gen_range(&s, 0.05, 0.2);
    h->flags = 0;
    gen_people(h, &s);
    h->water_pp = gen_range(&s, 0.11, 0.15);
    h->elec_base = gen_range(&s, 2.0, 3.0);
    h->elec_pp = gen_range(&s, 1.5, 3.0);
    h->gas_pp = gen_range(&s, 0.15, 0.3);
    h->has_gas = gen_u(&s) < 0.8;
    h->missing_from = gen_u(&s) < 0.05 ? (int)gen_range(&s, 0, 50) : -1;
}

/* Builds the district (households in buildings of 24-60 flats). */
static inline void gen_district_init(struct gen_district *d, size_t n, int days,
                                     uint64_t seed)
{
    memset(d, 0, sizeof(*d));
    d->n = n;
    d->days = days;
    d->day0 = 20400; /* 2025-11-09 */
    d->hh = calloc(n, sizeof(*d->hh));
    d->building_swing = calloc(n / 24 + 2, sizeof(double));
    uint64_t s = gen_state(seed, 0, 0);
    size_t i = 0;
    while (i < n) {
        int size = 24 + (int)(gen_u(&s) * 37);
        for (int k = 0; k < size && i < n; k++, i++)
            gen_household_init(&d->hh[i], seed, i, d->n_buildings);
        d->building_swing[d->n_buildings] =
            gen_u(&s) < 0.04 ? gen_range(&s, 1.5, 2.0) : 1.0;
        d->n_buildings++;
    }
    d->swing_from = days / 3;
    d->swing_to = days - 3;
}

static inline void gen_district_release(struct gen_district *d)
{
    free(d->hh);
    free(d->building_swing);
}

/* Registers every household with the engine (dense id = index). */
static inline void gen_register(const struct gen_district *d,
                                struct scene_engine *eng)
{
    char id[32], building[32], committee[32], street[32];
    scene_engine_reserve(eng, d->n);
    for (size_t i = 0; i < d->n; i++) {
        const struct gen_household *g = &d->hh[i];
        snprintf(id, sizeof(id), "H%07zu", i);
        snprintf(building, sizeof(building), "B%d", g->building % 40);
        snprintf(committee, sizeof(committee), "C%d", g->building / 40);
        snprintf(street, sizeof(street), "S%d", g->building / 400);
        struct household h = {.household_id = id,
                              .street = street,
                              .committee = committee,
                              .building = building,
                              .area_m2 = g->area,
                              .rooms = g->rooms,
                              .registered_occupants = g->registered,
                              .flags = g->flags};
        scene_engine_set_household(eng, (int32_t)i, &h);
    }
}

/* Season: a gentle rise of electricity over the run (air conditioning). */
static inline double gen_season(const struct gen_district *d, int day)
{
    return 1.0 + 0.3 * day / (d->days > 1 ? d->days - 1 : 1);
}

/* Feeds day `day` (0-based) of household i. */
static inline void gen_feed_day(const struct gen_district *d, uint64_t seed,
                                struct scene_engine *eng, size_t i, int day)
{
    const struct gen_household *g = &d->hh[i];
    uint64_t s = gen_state(seed, 2 + (uint64_t)day, i);
    int64_t lday = d->day0 + day;
    int weekend = ((lday + 3) % 7) >= 5;
    double swing = day >= d->swing_from && day <= d->swing_to
                       ? d->building_swing[g->building]
                       : 1.0;
    double people = g->occupants * (weekend ? 1.0 : 0.9);
    double water = people * g->water_pp, gas = 0, elec = g->elec_base;
    elec += people * g->elec_pp * (g->type == GEN_GROUP_RENTAL ? 0.7 : 1.0);
    gas = people * g->gas_pp * g->cooks_share_pct / 100.0;
    if (g->type == GEN_VACANT) {
        water = 0.003;
        elec = 0.8;
        gas = 0;
    } else if (g->type == GEN_BUSINESS) {
        water = gen_range(&s, 0.8, 1.6);
        gas = gen_range(&s, 2.5, 5.0);
        elec += gen_range(&s, 6, 14);
    } else if (g->type == GEN_LEAK) {
        water += 0.6 + 0.9 * ((i * 7919) % 100) / 100.0;
    }
    water *= swing * gen_lognormal(&s, 0.25);
    elec *= swing * gen_season(d, day) * gen_lognormal(&s, 0.2);
    gas *= gen_lognormal(&s, 0.3);
    if (g->type == GEN_METER_FAULT && gen_u(&s) < 0.08)
        water = gen_u(&s) < 0.5 ? gen_range(&s, 5, 60) : -gen_range(&s, 1, 9);
    int missing = g->missing_from >= 0 && day >= g->missing_from &&
                  day < g->missing_from + 7;
    if (!missing)
        scene_engine_add_usage(eng, (int32_t)i, METRIC_WATER, lday, water);
    scene_engine_add_usage(eng, (int32_t)i, METRIC_ELECTRICITY, lday, elec);
    if (g->has_gas)
        scene_engine_add_usage(eng, (int32_t)i, METRIC_GAS, lday, gas);
}

/* Deliveries of household i on day `day`: each person orders under their
 * own id (a family shares 1-2 phones; guests rotate). */
static inline void gen_feed_orders(const struct gen_district *d, uint64_t seed,
                                   struct scene_engine *eng, size_t i, int day)
{
    const struct gen_household *g = &d->hh[i];
    uint64_t s = gen_state(seed, 100000 + (uint64_t)day, i);
    int64_t ts_ns =
        ((d->day0 + day) * 86400 - 8 * 3600 + 12 * 3600) * 1000000000ll;
    char rid[48];
    int phones = g->type == GEN_GROUP_RENTAL ? g->occupants
                 : g->type == GEN_BUSINESS   ? 1
                 : g->type == GEN_SHORT_TERM ? g->occupants
                 : g->occupants > 1          ? 2
                                             : 1;
    int orders = gen_poisson(&s, g->order_rate * g->occupants);
    for (int k = 0; k < orders && g->occupants > 0; k++) {
        int who = (int)(gen_u(&s) * phones);
        int stay = g->type == GEN_SHORT_TERM ? day / 3 : 0;
        snprintf(rid, sizeof(rid), "r%zu-%d-%d", i, who, stay);
        scene_engine_add_delivery(eng, (int32_t)i, ts_ns, rid);
    }
}

/* Feeds the whole run, day by day, and sets the as-of time to the end. */
static inline void gen_feed_all(const struct gen_district *d, uint64_t seed,
                                struct scene_engine *eng)
{
    for (int day = 0; day < d->days; day++) {
        for (size_t i = 0; i < d->n; i++) {
            gen_feed_day(d, seed, eng, i, day);
            gen_feed_orders(d, seed, eng, i, day);
        }
    }
    scene_engine_set_as_of(eng, (d->day0 + d->days) * 86400 - 8 * 3600);
}

#endif
