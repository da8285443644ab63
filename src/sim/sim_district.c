/*
 * sim_district.c - the registry of the simulated district: committees,
 * compounds, buildings, households and the people who live in them.
 *
 * Structure, top down, scaled to --households N:
 *   - 36 streets and towns (sim_names.c), N split by their weights;
 *   - round(1323 * N / 2,000,000) residents' committees, at least one per
 *     street, split by households;
 *   - compounds of 300-1,200 households around the committee's centre, each
 *     on one of the street's roads with its own lane number ("123弄");
 *   - buildings: old walk-ups (5-6 floors, 2-6 flats a floor), mid-rises
 *     (7-12) and towers (18-33), flats numbered floor*100 + flat ("502").
 *
 * Every household gets a hidden type (enum sim_htype, shares in
 * sim_names.c, nudged by compound kind and street), a floor area, rooms
 * designed for living, people (enum sim_pkind) with their own habits, and
 * what the registry knows: registered occupants and flags.  The registry is
 * deliberately imperfect: tenants often are not registered, owners of
 * vacant flats often are, and a few declarations are stale.
 *
 * Randomness: the structure comes from one sequential generator; the traits
 * of each household and person from generators of their own index.
 */
#include "sim/sim_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

struct builder {
    struct sim_district *d;
    struct sim_rng rng;
    uint32_t cap_compounds, cap_buildings, cap_persons;
    uint16_t lane_next[SIM_MAX_STREETS * SIM_ROADS_PER_STREET];
};

/* Largest-remainder split of total by weights, at least min_each each. */
static void apportion(const double *w, int n, uint32_t total, uint32_t min_each,
                      uint32_t *out)
{
    double sum = 0, rem[SIM_MAX_STREETS * 4];
    for (int i = 0; i < n; i++)
        sum += w[i];
    uint32_t spare = total - min_each * (uint32_t)n, given = 0;
    for (int i = 0; i < n; i++) {
        double exact = spare * w[i] / sum;
        out[i] = min_each + (uint32_t)exact;
        rem[i] = exact - floor(exact);
        given += out[i];
    }
    while (given < total) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (rem[i] > rem[best])
                best = i;
        out[best]++;
        rem[best] = -1;
        given++;
    }
}

/* ---- people ---- */

struct pkind_traits {
    double water_l, elec_wh, gas_l, orders_milli, p_orders;
};

/* Medians per person on a full day at home (docs/SIMULATOR.md). */
static const struct pkind_traits pkind_traits[SIM_P_COUNT] = {
    [SIM_P_COMMUTER] = {140, 2100, 240, 330, 0.85},
    [SIM_P_RETIREE] = {132, 1800, 240, 60, 0.25},
    [SIM_P_HOMEMAKER] = {135, 2000, 240, 150, 0.50},
    [SIM_P_CHILD] = {106, 1300, 170, 0, 0.0},
    [SIM_P_STUDENT] = {126, 2300, 200, 600, 0.95},
    [SIM_P_SHIFT] = {135, 2100, 240, 420, 0.85},
    [SIM_P_TENANT] = {116, 1600, 200, 550, 0.95},
    [SIM_P_ELDER] = {118, 1500, 190, 15, 0.10},
    [SIM_P_GUEST] = {85, 1400, 0, 600, 0.90},
};

static uint16_t clamp_u16(double v, double lo, double hi)
{
    return (uint16_t)lrint(v < lo ? lo : v > hi ? hi : v);
}

static void person_habits(struct sim_person *p, struct sim_rng *r)
{
    p->leave_hour = (uint8_t)(7 + sim_rng_below(r, 3));
    p->return_hour = (uint8_t)(17 + sim_rng_below(r, 4));
    if (p->kind == SIM_P_TENANT) {
        p->leave_hour = (uint8_t)(6 + sim_rng_below(r, 3));
        p->return_hour = (uint8_t)(19 + sim_rng_below(r, 4));
    } else if (p->kind == SIM_P_STUDENT) {
        p->leave_hour = (uint8_t)(8 + sim_rng_below(r, 3));
        p->return_hour = (uint8_t)(16 + sim_rng_below(r, 5));
    }
    p->shift_phase = (uint8_t)sim_rng_below(r, 4);
    p->tenure_days = (uint8_t)(15 + sim_rng_below(r, 76));
}

/* Appends one person of the given kind to the district. */
static void add_person(struct builder *b, int kind, int migrant)
{
    struct sim_district *d = b->d;
    if (d->n_persons == b->cap_persons) {
        b->cap_persons = b->cap_persons ? b->cap_persons * 2 : 4096;
        d->persons = xrealloc(d->persons, b->cap_persons * sizeof(*d->persons));
    }
    struct sim_person *p = &d->persons[d->n_persons];
    struct sim_rng r;
    sim_rng_seed(&r, d->opt->seed, SIM_STREAM_PERSON, d->n_persons, 0);
    const struct pkind_traits *t = &pkind_traits[kind];
    memset(p, 0, sizeof(*p));
    p->kind = (uint8_t)kind;
    p->water_lpd = clamp_u16(t->water_l * sim_rng_lognormal(&r, 0.22), 45, 320);
    p->elec_wh = clamp_u16(t->elec_wh * sim_rng_lognormal(&r, 0.25), 600, 6000);
    p->gas_l = clamp_u16(t->gas_l * sim_rng_lognormal(&r, 0.22), 0, 600);
    if (sim_rng_unit(&r) < t->p_orders) {
        p->flags |= SIM_PF_ORDERS;
        p->order_milli =
            clamp_u16(t->orders_milli * sim_rng_lognormal(&r, 0.6), 5, 4000);
    }
    if (migrant)
        p->flags |= SIM_PF_MIGRANT;
    if (kind != SIM_P_CHILD && kind != SIM_P_GUEST)
        p->flags |= SIM_PF_COOKS;
    person_habits(p, &r);
    d->n_persons++;
}

/* ---- household types and traits ---- */

static int pick_type(struct sim_rng *r, int street, int kind,
                     double confounders)
{
    double w[SIM_H_COUNT];
    memcpy(w, sim_htype_share, sizeof(w));
    if (kind == SIM_C_WALKUP) {
        w[SIM_H_GROUP_RENTAL] *= 1.6;
        w[SIM_H_ELDERLY_ALONE] *= 1.5;
        w[SIM_H_RETIREES] *= 1.3;
        w[SIM_H_SHORT_TERM] *= 0.5;
        w[SIM_H_VACANT] *= 0.7;
    } else if (kind == SIM_C_HIGHRISE) {
        w[SIM_H_GROUP_RENTAL] *= 0.5;
        w[SIM_H_ELDERLY_ALONE] *= 0.6;
        w[SIM_H_SHORT_TERM] *= 1.6;
        w[SIM_H_VACANT] *= 1.3;
        w[SIM_H_FAMILY] *= 1.15;
    }
    w[SIM_H_LARGE_FAMILY] *= confounders;
    w[SIM_H_BUSINESS] *= confounders;
    w[SIM_H_SHORT_TERM] *= confounders;
    w[SIM_H_STUDENTS] *= confounders;
    if (street == 17 || street == 35) /* 张江, 南汇新城: campuses */
        w[SIM_H_STUDENTS] *= 2.5;
    if (street == 35)
        w[SIM_H_VACANT] *= 2.0;
    if (street == 3 || street == 23) /* 陆家嘴, 川沙 (the resort) */
        w[SIM_H_SHORT_TERM] *= 2.0;
    return sim_rng_pick(r, w, SIM_H_COUNT);
}

static double draw_area(struct sim_rng *r, int kind, int type)
{
    static const double median[3] = {56, 78, 95};
    static const double lo[3] = {28, 38, 45}, hi[3] = {110, 160, 220};
    double a = median[kind] * sim_rng_lognormal(r, 0.28);
    if (type == SIM_H_LARGE_FAMILY)
        a *= 1.25;
    else if (type == SIM_H_ELDERLY_ALONE)
        a *= 0.9;
    else if (type == SIM_H_STUDENTS || type == SIM_H_GROUP_RENTAL)
        a *= 1.1;
    return a < lo[kind] ? lo[kind] : a > hi[kind] ? hi[kind] : a;
}

static int rooms_for_area(struct sim_rng *r, double area)
{
    int rooms = area < 40 ? 1 : area < 65 ? 2 : area < 100 ? 3 : 4;
    if (area >= 150)
        rooms = 5;
    double u = sim_rng_unit(r);
    if (u < 0.08 && rooms > 1)
        rooms--;
    else if (u > 0.92)
        rooms++;
    return rooms;
}

int sim_legal_limit(const struct sim_household *h)
{
    int by_rooms = 2 * h->rooms, by_area = (int)(h->area_dm2 / 50);
    return by_rooms < by_area ? by_rooms : by_area;
}

static void add_family_adults(struct builder *b, struct sim_rng *r, int mig)
{
    add_person(b, SIM_P_COMMUTER, mig);
    add_person(b, sim_rng_unit(r) < 0.15 ? SIM_P_HOMEMAKER : SIM_P_COMMUTER,
               mig);
}

/* People of an ordinary household type. */
static void people_ordinary(struct builder *b, struct sim_rng *r, int type,
                            int mig)
{
    switch (type) {
    case SIM_H_COMMUTERS:
        if (sim_rng_unit(r) < 0.45)
            add_person(b, SIM_P_COMMUTER, mig);
        else
            add_family_adults(b, r, mig);
        break;
    case SIM_H_FAMILY:
        add_family_adults(b, r, mig);
        for (int k = sim_rng_unit(r) < 0.3 ? 2 : 1; k > 0; k--)
            add_person(b, SIM_P_CHILD, mig);
        if (sim_rng_unit(r) < 0.2)
            add_person(b, SIM_P_HOMEMAKER, mig);
        break;
    case SIM_H_RETIREES:
        add_person(b, SIM_P_RETIREE, mig);
        add_person(b, sim_rng_unit(r) < 0.85 ? SIM_P_RETIREE : SIM_P_HOMEMAKER,
                   mig);
        break;
    case SIM_H_STUDENTS:
        for (int k = 3 + (int)sim_rng_below(r, 2); k > 0; k--)
            add_person(b, SIM_P_STUDENT, sim_rng_unit(r) < 0.6);
        break;
    case SIM_H_SHIFT:
        add_person(b, SIM_P_SHIFT, mig);
        if (sim_rng_unit(r) < 0.5)
            add_person(b, sim_rng_unit(r) < 0.5 ? SIM_P_SHIFT : SIM_P_COMMUTER,
                       mig);
        if (sim_rng_unit(r) < 0.25)
            add_person(b, SIM_P_CHILD, mig);
        break;
    }
}

static void people_large_family(struct builder *b, struct sim_rng *r, int mig)
{
    int n = 5 + (int)sim_rng_below(r, 4); /* 5..8 */
    add_family_adults(b, r, mig);
    add_person(b, SIM_P_RETIREE, mig);
    add_person(b, SIM_P_HOMEMAKER, mig);
    for (int k = 4; k < n; k++)
        add_person(b,
                   k == 4                  ? SIM_P_CHILD
                   : sim_rng_unit(r) < 0.5 ? SIM_P_CHILD
                                           : SIM_P_SHIFT,
                   mig);
}

/* A group-rental tenant under the district variant's population options
 * (sim_options): water, power and orders scaled, and whether they order
 * redrawn from a stream of its own; the defaults leave p as drawn. */
static void tenant_variant(struct sim_district *d, struct sim_person *p,
                           uint32_t index)
{
    const struct sim_options *o = d->opt;
    p->water_lpd = clamp_u16(p->water_lpd * o->tenant_water, 20, 640);
    p->elec_wh = clamp_u16(p->elec_wh * o->tenant_power, 200, 12000);
    if (o->tenant_order_share >= 0) {
        uint64_t k = sim_hash(o->seed, SIM_STREAM_PERSON, index, 7);
        int orders = (double)(k >> 11) * 0x1.0p-53 < o->tenant_order_share;
        if (!orders) {
            p->flags &= (uint8_t)~SIM_PF_ORDERS;
            p->order_milli = 0;
        } else if (!(p->flags & SIM_PF_ORDERS)) {
            p->flags |= SIM_PF_ORDERS;
            p->order_milli = pkind_traits[p->kind].orders_milli;
        }
    }
    if (p->flags & SIM_PF_ORDERS)
        p->order_milli = clamp_u16(p->order_milli * o->tenant_orders, 5, 8000);
}

/* Group rental: more tenants than the legal limit, 6 to 20; with
 * --rental-excess, the limit plus that many. */
static void people_group_rental(struct builder *b, struct sim_rng *r,
                                const struct sim_household *h)
{
    const struct sim_options *o = b->d->opt;
    int n = sim_legal_limit(h) + 1 + (int)sim_rng_below(r, 3);
    while (sim_rng_unit(r) < 0.55 && n < 20)
        n += 1 + (int)sim_rng_below(r, 2);
    n = n < 6 ? 6 : n > 20 ? 20 : n;
    if (o->excess_max > 0) {
        n = sim_legal_limit(h) + o->excess_min +
            (int)sim_rng_below(r,
                               (uint32_t)(o->excess_max - o->excess_min + 1));
        n = n > 20 ? 20 : n;
    }
    for (int k = 0; k < n; k++) {
        add_person(b, sim_rng_unit(r) < 0.3 ? SIM_P_SHIFT : SIM_P_TENANT,
                   sim_rng_unit(r) < 0.85);
        uint32_t last = b->d->n_persons - 1;
        tenant_variant(b->d, &b->d->persons[last], last);
    }
}

static void add_people(struct builder *b, struct sim_rng *r,
                       struct sim_household *h)
{
    static const double p_migrant[SIM_H_COUNT] = {
        0.35, 0.25, 0.05, 0.6, 0.5, 0.02, 0.2, 0, 0.4, 0, 0.85};
    int mig = sim_rng_unit(r) < p_migrant[h->type];
    h->person_first = b->d->n_persons;
    switch (h->type) {
    case SIM_H_ELDERLY_ALONE:
        add_person(b, SIM_P_ELDER, 0);
        break;
    case SIM_H_LARGE_FAMILY:
        people_large_family(b, r, mig);
        break;
    case SIM_H_VACANT:
    case SIM_H_SHORT_TERM:
        break;
    case SIM_H_BUSINESS:
        add_person(b, SIM_P_HOMEMAKER, mig);
        if (sim_rng_unit(r) < 0.6)
            add_person(b, SIM_P_HOMEMAKER, mig);
        break;
    case SIM_H_GROUP_RENTAL:
        people_group_rental(b, r, h);
        break;
    default:
        people_ordinary(b, r, h->type, mig);
    }
    h->n_persons = (uint8_t)(b->d->n_persons - h->person_first);
}

/* What the registry knows: registered occupants. */
static int registered_count(struct sim_rng *r, const struct sim_household *h)
{
    int n = h->n_persons;
    double u = sim_rng_unit(r);
    switch (h->type) {
    case SIM_H_VACANT: /* owners registered elsewhere-living */
        return u < 0.4 ? 0 : 1 + (int)sim_rng_below(r, 3);
    case SIM_H_GROUP_RENTAL:
        return (int)sim_rng_below(r, 4);
    case SIM_H_SHORT_TERM:
    case SIM_H_BUSINESS:
        return (int)sim_rng_below(r, 3);
    case SIM_H_STUDENTS:
        return u < 0.5 ? n : (int)sim_rng_below(r, 2);
    case SIM_H_ELDERLY_ALONE:
        return u < 0.2 ? 2 : 1;
    case SIM_H_LARGE_FAMILY:
        return u < 0.9 ? n : n - 1;
    default:
        if (u < 0.8)
            return n;
        return u < 0.9 ? n + 1 : (n > 0 ? n - 1 : 0);
    }
}

/* Registry flags: only what is declared or known, some of it stale. */
static int registry_flags(struct sim_rng *r, const struct sim_household *h)
{
    double u = sim_rng_unit(r);
    switch (h->type) {
    case SIM_H_ELDERLY_ALONE:
        return u < 0.8 ? HOUSEHOLD_ELDERLY_ALONE : 0;
    case SIM_H_LARGE_FAMILY:
        return u < 0.85 ? HOUSEHOLD_LARGE_FAMILY : 0;
    case SIM_H_BUSINESS:
        return u < 0.4 ? HOUSEHOLD_BUSINESS : 0;
    case SIM_H_VACANT:
        return u < 0.5 ? HOUSEHOLD_VACANT : 0;
    case SIM_H_COMMUTERS:
        return u < 0.02 ? HOUSEHOLD_VACANT : 0; /* a stale declaration */
    default:
        return 0;
    }
}

/* An elderly person living alone may stop (3%) or travel (6%). */
static void elderly_event(struct sim_district *d, struct sim_rng *r,
                          struct sim_household *h)
{
    int hours = d->opt->days * 24;
    double u = sim_rng_unit(r);
    h->event_start = h->event_end = -1;
    if (u < 0.03 && hours > 24) {
        h->event = SIM_EV_STOP;
        h->event_start = 12 + (int)sim_rng_below(r, (uint32_t)(hours - 12));
    } else if (u < 0.09 && d->opt->days >= 4) {
        int first = d->opt->days >= 8 ? 4 : 2; /* room for the fade */
        int leave_day = first + (int)sim_rng_below(r, d->opt->days - first);
        h->event = SIM_EV_TRAVEL;
        h->event_start = leave_day * 24 + 7 + (int)sim_rng_below(r, 4);
        h->event_end = h->event_start + 24 * (3 + (int)sim_rng_below(r, 8));
    }
}

static int household_cook_pct(struct sim_rng *r, int type)
{
    switch (type) {
    case SIM_H_GROUP_RENTAL:
        return 15 + (int)sim_rng_below(r, 25);
    case SIM_H_STUDENTS:
        return 30 + (int)sim_rng_below(r, 40);
    case SIM_H_SHORT_TERM:
        return 5 + (int)sim_rng_below(r, 10);
    case SIM_H_COMMUTERS:
        return 50 + (int)sim_rng_below(r, 70);
    default:
        return 75 + (int)sim_rng_below(r, 50);
    }
}

/* Business kind (0 kitchen, 1 shop or office, 2 workshop) or the nights
 * of a short-term rental's typical stay. */
static int household_variant(struct sim_rng *r, int type)
{
    static const double business_kinds[3] = {0.4, 0.4, 0.2};
    if (type == SIM_H_BUSINESS)
        return sim_rng_pick(r, business_kinds, 3);
    if (type == SIM_H_SHORT_TERM)
        return 2 + (int)sim_rng_below(r, 3);
    return 0;
}

static void household_traits(struct sim_district *d, struct sim_rng *r,
                             struct sim_household *h, double area)
{
    h->area_dm2 = (uint16_t)lrint(area * 10);
    h->rooms = (uint8_t)rooms_for_area(r, area);
    if (h->type == SIM_H_STUDENTS && sim_legal_limit(h) < 4) {
        h->rooms = h->rooms < 2 ? 2 : h->rooms; /* sharing legally: */
        h->area_dm2 = h->area_dm2 < 450 ? 450 : h->area_dm2; /* room for 4 */
    }
    h->cook_pct = (uint8_t)household_cook_pct(r, h->type);
    h->acp_pct = (uint8_t)(40 + sim_rng_below(r, 90));
    double base = (1500 + 10 * area) * sim_rng_jitter(r, 0.25);
    if (h->type == SIM_H_VACANT)
        base = sim_rng_unit(r) < 0.4 ? 900 * sim_rng_jitter(r, 0.3) : 150;
    h->base_wh = (uint16_t)lrint(base);
    h->variant = (uint8_t)household_variant(r, h->type);
    h->water_heater = sim_rng_unit(r) < 0.3;
    h->event_start = h->event_end = -1;
    if (h->type == SIM_H_ELDERLY_ALONE)
        elderly_event(d, r, h);
}

static void build_household(struct builder *b, uint32_t bi, int floor, int flat)
{
    struct sim_district *d = b->d;
    uint32_t hi = d->n_households++;
    struct sim_household *h = &d->households[hi];
    const struct sim_building *bd = &d->buildings[bi];
    const struct sim_compound *c = &d->compounds[bd->compound];
    struct sim_rng r;
    sim_rng_seed(&r, d->opt->seed, SIM_STREAM_HOUSEHOLD, hi, 0);
    memset(h, 0, sizeof(*h));
    h->building = bi;
    h->room_no = (uint16_t)(floor * 100 + flat);
    h->type = (uint8_t)pick_type(&r, bd->street, c->kind, d->opt->confounders);
    household_traits(d, &r, h, draw_area(&r, c->kind, h->type));
    add_people(b, &r, h);
    h->registered = (uint8_t)registered_count(&r, h);
    h->flags = (uint8_t)registry_flags(&r, h);
}

/* ---- buildings, compounds, committees ---- */

static void jitter_point(struct builder *b, int street, double lon, double lat,
                         double radius, double *OUT_lon, double *OUT_lat)
{
    const struct sim_poly *p = &b->d->streets[street].poly;
    for (int tries = 0; tries < 20; tries++) {
        double x = lon + sim_rng_range(&b->rng, -radius, radius);
        double y = lat + sim_rng_range(&b->rng, -radius, radius) * 0.86;
        if (sim_geo_contains(p, x, y)) {
            *OUT_lon = x;
            *OUT_lat = y;
            return;
        }
    }
    *OUT_lon = lon;
    *OUT_lat = lat;
}

static uint32_t new_building(struct builder *b, uint32_t ci, int street,
                             int number)
{
    struct sim_district *d = b->d;
    if (d->n_buildings == b->cap_buildings) {
        b->cap_buildings = b->cap_buildings ? b->cap_buildings * 2 : 1024;
        d->buildings =
            xrealloc(d->buildings, b->cap_buildings * sizeof(*d->buildings));
    }
    struct sim_building *bd = &d->buildings[d->n_buildings];
    const struct sim_compound *c = &d->compounds[ci];
    memset(bd, 0, sizeof(*bd));
    bd->compound = ci;
    bd->number = (uint16_t)number;
    bd->street = (uint16_t)street;
    bd->household_first = d->n_households;
    bd->sun_pct = (uint8_t)(80 + sim_rng_below(&b->rng, 45));
    jitter_point(b, street, c->lon, c->lat, 0.0015, &bd->lon, &bd->lat);
    return d->n_buildings++;
}

/* Fills a building floor by floor; returns the households placed. */
static uint32_t fill_building(struct builder *b, uint32_t bi, int kind,
                              uint32_t left)
{
    static const int floors_lo[3] = {5, 7, 18}, floors_n[3] = {2, 6, 16};
    static const int flats_lo[3] = {2, 4, 4}, flats_n[3] = {5, 3, 5};
    int floors = floors_lo[kind] + (int)sim_rng_below(&b->rng, floors_n[kind]);
    int flats = flats_lo[kind] + (int)sim_rng_below(&b->rng, flats_n[kind]);
    uint32_t placed = 0;
    b->d->buildings[bi].floors = (uint8_t)floors;
    for (int f = 1; f <= floors && placed < left; f++)
        for (int k = 1; k <= flats && placed < left; k++, placed++)
            build_household(b, bi, f, k);
    b->d->buildings[bi].household_count = (uint16_t)placed;
    return placed;
}

static void build_compound(struct builder *b, uint32_t ci_committee, int street,
                           double lon, double lat, uint32_t size)
{
    struct sim_district *d = b->d;
    if (d->n_compounds == b->cap_compounds) {
        b->cap_compounds = b->cap_compounds ? b->cap_compounds * 2 : 256;
        d->compounds =
            xrealloc(d->compounds, b->cap_compounds * sizeof(*d->compounds));
    }
    uint32_t ci = d->n_compounds++;
    struct sim_compound *c = &d->compounds[ci];
    double u = sim_rng_unit(&b->rng), urban = sim_street_is_urban(street);
    c->committee = ci_committee;
    c->name_index = ci;
    c->kind = u < (urban ? 0.55 : 0.3)  ? SIM_C_WALKUP
              : u < (urban ? 0.8 : 0.6) ? SIM_C_MIDRISE
                                        : SIM_C_HIGHRISE;
    c->road = (uint16_t)(street * SIM_ROADS_PER_STREET +
                         (int)sim_rng_below(&b->rng, SIM_ROADS_PER_STREET));
    b->lane_next[c->road] += (uint16_t)(1 + sim_rng_below(&b->rng, 25));
    c->lane = b->lane_next[c->road];
    jitter_point(b, street, lon, lat, 0.004, &c->lon, &c->lat);
    for (int number = 1; size > 0; number++)
        size -= fill_building(b, new_building(b, ci, street, number), c->kind,
                              size);
}

static void build_committee(struct builder *b, int street, uint32_t quota)
{
    struct sim_district *d = b->d;
    uint32_t ci = d->n_committees++;
    struct sim_committee *cm = &d->committees[ci];
    double lon, lat;
    cm->street = (uint16_t)street;
    cm->name_index = d->n_compounds;
    cm->household_first = d->n_households;
    cm->household_count = quota;
    sim_geo_random_point(&d->streets[street].poly, &b->rng, &lon, &lat);
    while (quota > 0) {
        uint32_t size = 300 + sim_rng_below(&b->rng, 900);
        if (quota < size + size / 2)
            size = quota;
        build_compound(b, ci, street, lon, lat, size);
        quota -= size;
    }
}

static void build_street(struct builder *b, int s, uint32_t n_committees)
{
    struct sim_district *d = b->d;
    struct sim_street *st = &d->streets[s];
    double w[SIM_MAX_STREETS * 4];
    uint32_t quota[SIM_MAX_STREETS * 4];
    uint32_t left = st->household_count;
    st->committee_first = d->n_committees;
    st->committee_count = n_committees;
    st->building_first = d->n_buildings;
    st->household_first = d->n_households;
    if (n_committees > SIM_MAX_STREETS * 4) { /* a guard: not at 2M */
        for (uint32_t k = 0; k < n_committees; k++) {
            uint32_t q = left / (n_committees - k);
            build_committee(b, s, q);
            left -= q;
        }
    } else { /* a committee holds 60%-140% of the street's average */
        for (uint32_t k = 0; k < n_committees; k++)
            w[k] = 0.6 + 0.8 * sim_rng_unit(&b->rng);
        apportion(w, (int)n_committees, left, 1, quota);
        for (uint32_t k = 0; k < n_committees; k++)
            build_committee(b, s, quota[k]);
    }
    st->building_count = d->n_buildings - st->building_first;
}

static void setup_streets(struct sim_district *d, uint32_t *OUT_committees)
{
    double w[SIM_MAX_STREETS], hw[SIM_MAX_STREETS];
    uint32_t counts[SIM_MAX_STREETS];
    d->n_streets = SIM_MAX_STREETS;
    for (int s = 0; s < d->n_streets; s++) {
        struct sim_street *st = &d->streets[s];
        st->name = sim_street_name(s);
        snprintf(st->id, sizeof(st->id), "S%02d", s + 1);
        st->urban = sim_street_is_urban(s);
        st->weight = w[s] = sim_street_weight(s);
    }
    sim_geo_build_streets(d);
    apportion(w, d->n_streets, d->opt->households, 8, counts);
    uint32_t total_c =
        (uint32_t)lrint(1323.0 * d->opt->households / SIM_MAX_HOUSEHOLDS);
    total_c = total_c < SIM_MAX_STREETS ? SIM_MAX_STREETS : total_c;
    for (int s = 0; s < d->n_streets; s++) {
        d->streets[s].household_count = counts[s];
        hw[s] = counts[s];
    }
    apportion(hw, d->n_streets, total_c, 1, OUT_committees);
}

void sim_district_build(struct sim_district *d, const struct sim_options *o)
{
    struct builder b;
    uint32_t committees[SIM_MAX_STREETS];
    memset(d, 0, sizeof(*d));
    memset(&b, 0, sizeof(b));
    d->opt = o;
    b.d = d;
    sim_rng_seed(&b.rng, o->seed, SIM_STREAM_DISTRICT, 0, 0);
    d->recipient_salt = sim_hash(o->seed, SIM_STREAM_RECIPIENT, 0, 0);
    setup_streets(d, committees);
    d->households = xcalloc(o->households, sizeof(*d->households));
    uint32_t total_c = 0;
    for (int s = 0; s < d->n_streets; s++)
        total_c += committees[s];
    d->committees = xcalloc(total_c, sizeof(*d->committees));
    for (int s = 0; s < d->n_streets; s++)
        build_street(&b, s, committees[s]);
    sim_meters_init(d);
}

void sim_district_release(struct sim_district *d)
{
    free(d->committees);
    free(d->compounds);
    free(d->buildings);
    free(d->households);
    free(d->persons);
    free(d->days);
    free(d->counts_json);
    memset(d, 0, sizeof(*d));
}

/* ---- the registry as CSV ---- */

void sim_household_address(const struct sim_district *d, uint32_t h,
                           struct sim_address *OUT)
{
    const struct sim_household *hh = &d->households[h];
    const struct sim_building *b = &d->buildings[hh->building];
    const struct sim_compound *c = &d->compounds[b->compound];
    OUT->road = sim_road_name(c->road);
    OUT->lane = c->lane;
    OUT->building = b->number;
    OUT->room = hh->room_no;
    OUT->compound_index = c->name_index;
}

static void add_flags(struct sbuf *out, int flags)
{
    static const char *const names[] = {"elderly_alone", "large_family",
                                        "business", "vacant"};
    int first = 1;
    for (int i = 0; i < 4; i++) {
        if (flags & (1 << i)) {
            sbuf_addf(out, "%s%s", first ? "" : "|", names[i]);
            first = 0;
        }
    }
}

static void add_fixed(struct sbuf *out, double v, int decimals)
{
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1e6};
    char buf[32];
    char *end = sim_fmt_fixed(buf, llround(v * scale[decimals]), decimals);
    sbuf_add(out, buf, (size_t)(end - buf));
}

static void registry_row(const struct sim_district *d, uint32_t h,
                         struct sbuf *out)
{
    const struct sim_household *hh = &d->households[h];
    const struct sim_building *b = &d->buildings[hh->building];
    const struct sim_committee *cm =
        &d->committees[d->compounds[b->compound].committee];
    struct sim_address a;
    char committee[64];
    sim_household_address(d, h, &a);
    sim_compound_name(cm->name_index, committee, sizeof(committee));
    sbuf_addf(out, "H%07u,%s,%s居委会,%s%u弄%u号,上海市浦东新区%s%u弄%u号%u室,",
              h + 1, d->streets[b->street].name, committee, a.road, a.lane,
              a.building, a.road, a.lane, a.building, a.room);
    add_fixed(out, b->lat, 6);
    sbuf_addch(out, ',');
    add_fixed(out, b->lon, 6);
    sbuf_addch(out, ',');
    add_fixed(out, hh->area_dm2 / 10.0, 1);
    sbuf_addf(out, ",%u,%u,", hh->rooms, hh->registered);
    add_flags(out, hh->flags);
    sbuf_addch(out, '\n');
}

void sim_registry_csv(const struct sim_district *d, uint32_t first,
                      uint32_t count, struct sbuf *out)
{
    if (first == 0)
        sbuf_addstr(out, "household_id,street,committee,building,address,lat,"
                         "lon,area_m2,rooms,registered_occupants,flags\n");
    for (uint32_t h = first; h < first + count; h++)
        registry_row(d, h, out);
}

static void add_hour_time(const struct sim_district *d, int32_t hour,
                          struct sbuf *out)
{
    char buf[32];
    if (hour < 0)
        return;
    char *end = sim_fmt_iso(buf, d->days[0].t0 + (int64_t)hour * 3600);
    sbuf_add(out, buf, (size_t)(end - buf));
}

static void truth_row(const struct sim_district *d, uint32_t h,
                      struct sbuf *out)
{
    static const char *const events[] = {"", "stop", "travel"};
    static const char *const fields[] = {"index", "delta"};
    const struct sim_household *hh = &d->households[h];
    int occupants = hh->type == SIM_H_SHORT_TERM ? 2 : hh->n_persons;
    sbuf_addf(out, "H%07u,%s,%d,%u,%d,%u,%.1f,%d,%s,", h + 1,
              sim_htype_name(hh->type), occupants, hh->registered,
              sim_legal_limit(hh), hh->rooms, hh->area_dm2 / 10.0,
              hh->type == SIM_H_ELDERLY_ALONE, events[hh->event]);
    add_hour_time(d, hh->event_start, out);
    sbuf_addch(out, ',');
    add_hour_time(d, hh->event_end, out);
    sbuf_addf(out, ",%s,%s,%s,", fields[hh->meter[SIM_ELEC].delta],
              fields[hh->meter[SIM_WATER].delta],
              hh->meter[SIM_GAS].present ? fields[hh->meter[SIM_GAS].delta]
                                         : "none");
    for (int k = 0; k < hh->n_persons; k++) {
        const struct sim_person *p = &d->persons[hh->person_first + k];
        sbuf_addf(out, "%s%s%s", k ? "|" : "", sim_pkind_name(p->kind),
                  (p->flags & SIM_PF_MIGRANT) ? "*" : "");
    }
    sbuf_addch(out, '\n');
}

void sim_truth_households_csv(const struct sim_district *d, uint32_t first,
                              uint32_t count, struct sbuf *out)
{
    if (first == 0)
        sbuf_addstr(out, "household_id,type,true_occupants,"
                         "registered_occupants,legal_limit,rooms,area_m2,"
                         "elderly_alone,event,event_start,event_end,"
                         "electricity_field,water_field,gas_field,persons\n");
    for (uint32_t h = first; h < first + count; h++)
        truth_row(d, h, out);
}
