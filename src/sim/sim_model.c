/*
 * sim_model.c - what one household uses on one day, person by person.
 *
 * The model.  Each person has a kind (commuter, retiree, homemaker, child,
 * university student, shift worker, group-rental tenant, elder living alone,
 * short-term guest) and fixed habits drawn once: litres of water and kWh of
 * electricity on a full day at home, gas when the household cooks all
 * meals at home, leaving and return hours, a shift rota, delivery orders per
 * day.  On each day the person gets two 24-bit masks, hours at home and
 * hours awake, from the kind and the calendar (workday, school day,
 * holiday, storm, trips, the Spring Festival exodus).  Then:
 *
 *   water  = water_lpd * f * season, spread over the awake hours at home
 *            with a morning peak at the wake hour and an evening shower
 *            peak, plus laundry; f = 0.6 + 0.4 * min(1, awake hours / 14)
 *            makes a commuter's workday about 30% lower than a day home.
 *   power  = base load (fridge, standby: 1.5-3.5 kWh/day for the flat)
 *            + elec_wh * f over the awake hours at home (evening heavy)
 *            + cooling when it is above 26 C (24.5 C in bedrooms at night)
 *              and heating below 12 C, per occupied room, scaled by the
 *              household's propensity and the building's sun exposure
 *            + an electric water heater (12 Wh per litre) or induction
 *              cooking where there is no gas.
 *   gas    = sum over people of gas_l * (meals eaten at home: breakfast
 *            0.2, lunch 0.35, dinner 0.45) * the household's cooking
 *            intensity + 0.7 l per litre of water for a gas water heater,
 *            more in winter.  Read daily.
 *
 * Figures (docs/SIMULATOR.md): 110-150 l of water per person per day
 * at home (lower on commuters' workdays), a base load of 2-3 kWh plus
 * 1.5-3 kWh per person, 0.15-0.3 m3 of gas per person per day if they
 * cook; group-rental tenants cook less (15-40% of a family) and order more.
 *
 * Shared swings: every building has a daily factor (+-6%) that lifts or
 * lowers all its flats together, the weather is district-wide, and the
 * injected water-main break zeroes the water of a run of buildings, which
 * catch up by half the lost use in the hour after the repair.
 *
 * Confounders: legal large families (5-8 people, registered), home
 * businesses (a kitchen: 2.5-5 m3 gas and ~1 m3 water a day; a shop or a
 * workshop: daytime power), short-term rentals (stays of 2-4 nights, 65%
 * occupied, guests out sightseeing, low water, many recipients), vacancies
 * (fridge or standby only, an owner's visit now and then).  The elderly
 * living alone may stop (water and gas end abruptly at some hour, lights or
 * TV left on) or travel with family (four days of gradual drop before they
 * leave; fridge only while away).
 *
 * Failure modes: the hourly shapes are stylised; appliances are not
 * simulated one by one; the weather has no rain except the storm.
 */
#include "sim/sim_int.h"

#include <math.h>
#include <string.h>

#define ALL_HOURS 0xffffffu

/* One person on one day. */
struct presence {
    uint32_t home;   /* bit h: at home during hour h */
    uint32_t awake;  /* bit h: awake during hour h */
    int wake;        /* hour of getting up, -1 if not at home then */
    int shower;      /* hour of the main shower, -1 for none at home */
    double activity; /* 1 normally; less before a trip */
};

/* Everything of the day that does not depend on the person. */
struct day_ctx {
    const struct sim_district *d;
    const struct sim_day *day;
    const struct sim_household *h;
    uint32_t hidx;
    int64_t abs_day; /* days since 1970-01-01 */
    double water_season, hot_water_season;
    uint32_t away; /* hours the whole household is away */
    int rest_day;
};

static const float water_shape[24] = {
    0.3f, 0.2f, 0.1f, 0.1f, 0.1f, 0.3f, 1.0f, 1.3f, 1.1f, 0.6f, 0.5f, 0.7f,
    0.9f, 0.6f, 0.4f, 0.4f, 0.5f, 0.8f, 1.1f, 1.0f, 0.9f, 1.0f, 0.9f, 0.6f};
static const float elec_shape[24] = {
    0.8f, 0.6f, 0.5f, 0.5f, 0.5f, 0.6f, 0.9f, 1.0f, 0.8f, 0.6f, 0.6f, 0.7f,
    0.8f, 0.6f, 0.6f, 0.6f, 0.7f, 1.0f, 1.6f, 1.8f, 1.8f, 1.7f, 1.4f, 1.0f};

/* fmin/fmax without the NaN care, so that they inline. */
static double min_d(double a, double b)
{
    return a < b ? a : b;
}

static double clamp_d(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Bits [a, b) of the day. */
static uint32_t span(int a, int b)
{
    a = a < 0 ? 0 : a;
    b = b > 24 ? 24 : b;
    if (a >= b)
        return 0;
    return ((1u << b) - 1) & ~((1u << a) - 1);
}

static int has_hour(uint32_t mask, int h)
{
    return h >= 0 && h < 24 && ((mask >> h) & 1);
}

static uint64_t trip_hash(const struct day_ctx *c, uint64_t a, uint64_t b)
{
    return sim_hash(c->d->opt->seed, SIM_STREAM_TRIP, a, b);
}

static double hash_unit(uint64_t x)
{
    return (double)(x >> 11) * 0x1.0p-53;
}

/* ---- presence ---- */

static void presence_rest(struct presence *pr, struct sim_rng *r, int wake,
                          int sleep, double p_out)
{
    pr->wake = wake;
    pr->awake = span(wake, sleep);
    pr->home = ALL_HOURS;
    pr->shower = 19 + (int)sim_rng_below(r, 4);
    if (sim_rng_unit(r) < p_out) {
        int out = 9 + (int)sim_rng_below(r, 6);
        pr->home &= ~span(out, out + 2 + (int)sim_rng_below(r, 6));
    }
}

static void presence_away(struct presence *pr, struct sim_rng *r, int leave,
                          int back)
{
    pr->wake = leave - 1 - (int)sim_rng_below(r, 2);
    pr->home = ALL_HOURS & ~span(leave, back);
    pr->awake = span(pr->wake, back > 22 ? 24 : 23 + (int)sim_rng_below(r, 2));
    pr->shower = back < 23 ? back + 1 + (int)sim_rng_below(r, 2) : -1;
    if (sim_rng_unit(r) < 0.35) /* a morning shower instead */
        pr->shower = pr->wake;
}

static void presence_worker(const struct sim_person *p, struct sim_rng *r,
                            struct presence *pr)
{
    int leave = p->leave_hour, back = p->return_hour;
    double u = sim_rng_unit(r);
    if (u < 0.2)
        back += 1 + (int)sim_rng_below(r, 3); /* overtime, a dinner out */
    else if (u > 0.9)
        leave -= 1;
    presence_away(pr, r, leave, back);
}

/* The 4-day rota: day shift, night shift, off after nights, off. */
static void presence_shift(const struct sim_person *p, const struct day_ctx *c,
                           struct sim_rng *r, struct presence *pr)
{
    switch ((p->shift_phase + c->abs_day) % 4) {
    case 0:
        presence_away(pr, r, 7, 19);
        break;
    case 1: /* sleeps in, leaves for the night */
        presence_rest(pr, r, 9, 18, 0.3);
        pr->home &= ~span(18, 24);
        pr->shower = 16;
        break;
    case 2: /* back in the morning, sleeps until the afternoon */
        pr->home = ALL_HOURS & ~span(0, 7);
        pr->awake = span(7, 8) | span(15, 23);
        pr->wake = 15;
        pr->shower = 7;
        break;
    default:
        presence_rest(pr, r, 8, 23, 0.5);
    }
}

static void presence_by_kind(const struct sim_person *p,
                             const struct day_ctx *c, struct sim_rng *r,
                             struct presence *pr)
{
    const struct sim_day *day = c->day;
    double p_out = day->storm ? 0.1 : 0.6;
    switch (p->kind) {
    case SIM_P_COMMUTER:
        if (c->rest_day)
            presence_rest(pr, r, 8 + (int)sim_rng_below(r, 2), 23, p_out);
        else
            presence_worker(p, r, pr);
        break;
    case SIM_P_TENANT: /* half of them work six days a week */
        if (c->rest_day && !(day->dow == 5 && (p->shift_phase & 1)))
            presence_rest(pr, r, 9 + (int)sim_rng_below(r, 2), 24, 0.7);
        else
            presence_worker(p, r, pr);
        break;
    case SIM_P_STUDENT:
        if (c->rest_day || sim_rng_unit(r) < 0.3)
            presence_rest(pr, r, 9 + (int)sim_rng_below(r, 2), 24, 0.5);
        else
            presence_worker(p, r, pr);
        pr->awake |= span(0, 1); /* up past midnight */
        break;
    case SIM_P_CHILD:
        if (day->school) {
            presence_away(pr, r, 7, 16 + (int)sim_rng_below(r, 2));
            pr->awake = span(6, 21);
            pr->wake = 6;
        } else {
            presence_rest(pr, r, 7 + (int)sim_rng_below(r, 2), 21, p_out);
        }
        break;
    case SIM_P_SHIFT:
        presence_shift(p, c, r, pr);
        break;
    case SIM_P_GUEST:
        presence_away(pr, r, 9 + (int)sim_rng_below(r, 2),
                      18 + (int)sim_rng_below(r, 4));
        break;
    default: /* retirees, homemakers, elders: market in the morning */
        presence_rest(pr, r, p->kind == SIM_P_ELDER ? 5 : 6, 22,
                      day->storm ? 0.1 : 0.3);
        if (sim_rng_unit(r) < (day->storm ? 0.1 : 0.6))
            pr->home &= ~span(8, 9 + (int)sim_rng_below(r, 2));
        pr->shower = 19 + (int)sim_rng_below(r, 2);
    }
}

/* Spring Festival exodus: a migrant leaves 2-10 days before and comes
 * back 5-20 days after the lunar new year. */
static int person_exodus(const struct day_ctx *c, uint32_t pidx,
                         const struct sim_person *p)
{
    int off = c->day->sf_offset;
    if (!(p->flags & SIM_PF_MIGRANT) || off < -10 || off >= 20)
        return 0;
    uint64_t x = trip_hash(c, (1ull << 40) | pidx, c->abs_day - off);
    int leave = 2 + (int)(x % 9), back = 5 + (int)((x >> 8) % 16);
    return off >= -leave && off < back;
}

/* Hours of this day an elder is away on a trip with family, and the
 * gradual drop of the four days before (85%, 70%, 50%, 35%; 35% on the
 * morning they leave). */
static uint32_t elder_trip(const struct day_ctx *c, double *activity)
{
    static const double fade[5] = {0.35, 0.35, 0.5, 0.7, 0.85};
    const struct sim_household *h = c->h;
    int first = c->day->index * 24;
    if (h->event != SIM_EV_TRAVEL)
        return 0;
    int days_before = h->event_start / 24 - c->day->index;
    if (days_before >= 0 && days_before <= 4)
        *activity = fade[days_before];
    return span(h->event_start - first, h->event_end - first);
}

static void person_presence(const struct day_ctx *c, uint32_t pidx,
                            const struct sim_person *p, struct sim_rng *r,
                            struct presence *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->activity = 1;
    pr->wake = pr->shower = -1;
    if (c->away == ALL_HOURS || person_exodus(c, pidx, p))
        return;
    presence_by_kind(p, c, r, pr);
    uint32_t away = c->away;
    if (p->kind == SIM_P_ELDER)
        away |= elder_trip(c, &pr->activity);
    pr->home &= ~away;
    if (!has_hour(pr->home, pr->wake))
        pr->wake = -1;
    if (!has_hour(pr->home & pr->awake, pr->shower))
        pr->shower = -1;
}

/* ---- use ---- */

/* Adds one present person's water and power; returns meals at home and
 * the litres of water used. */
static double person_use(struct sim_use *u, const struct day_ctx *c,
                         const struct sim_person *p, const struct presence *pr,
                         struct sim_rng *r, double *OUT_litres)
{
    uint32_t active = pr->home & pr->awake;
    double ww[24], we[24], sw = 0, se = 0;
    double f = (0.65 + 0.35 * min_d(1.0, __builtin_popcount(active) / 14.0)) *
               pr->activity;
    double litres = p->water_lpd * f * c->water_season * sim_rng_jitter(r, 0.3);
    double kwh = p->elec_wh * 0.001 * f * sim_rng_jitter(r, 0.25);
    *OUT_litres = litres;
    for (int h = 0; h < 24; h++) {
        int a = has_hour(active, h), home = has_hour(pr->home, h);
        ww[h] = a ? water_shape[h] : home ? 0.04 : 0;
        we[h] = a ? elec_shape[h] : home ? 0.03 : 0;
    }
    if (pr->wake >= 0) {
        ww[pr->wake] += 2.5;
        if (has_hour(active, pr->wake + 1))
            ww[pr->wake + 1] += 0.8;
    }
    if (pr->shower >= 0)
        ww[pr->shower] += 2.0;
    for (int h = 0; h < 24; h++) {
        sw += ww[h];
        se += we[h];
    }
    double heater = c->h->water_heater ? 0.012 : 0; /* kWh per litre */
    for (int h = 0; sw > 0 && h < 24; h++) {
        double l = litres * ww[h] / sw;
        u->water[h] += l * 0.001;
        u->elec[h] += kwh * we[h] / se + l * heater;
    }
    double meals =
        (pr->wake >= 0 ? 0.2 : 0) + (has_hour(active, 12) ? 0.35 : 0) +
        (has_hour(pr->home, 18) || has_hour(pr->home, 19) ? 0.45 : 0);
    return meals * pr->activity;
}

/* Cooking: gas, or induction where the flat has no gas meter. */
static void cooking_use(struct sim_use *u, const struct day_ctx *c,
                        double gas_m3, int wake)
{
    if (c->h->meter[SIM_GAS].present) {
        u->gas += gas_m3;
        return;
    }
    double kwh = gas_m3 * 4.7; /* 40% vs 85% efficient */
    u->elec[wake >= 0 ? wake : 7] += kwh * 0.2;
    u->elec[11] += kwh * 0.35;
    u->elec[18] += kwh * 0.45;
}

static void climate_use(struct sim_use *u, const struct day_ctx *c,
                        const uint8_t *n_awake, const uint8_t *n_asleep)
{
    const struct sim_household *h = c->h;
    double acp = h->acp_pct * 0.01;
    double sun = c->d->buildings[h->building].sun_pct * 0.01;
    for (int hr = 0; hr < 24; hr++) {
        double t = c->day->temp[hr];
        int rooms_awake = n_awake[hr] < h->rooms ? n_awake[hr] : h->rooms;
        int rooms_asleep = (n_asleep[hr] + 1) / 2;
        rooms_asleep = rooms_asleep < h->rooms ? rooms_asleep : h->rooms;
        double cool = 0.55 * (rooms_awake * clamp_d((t - 26) / 4, 0, 1.6) +
                              rooms_asleep * clamp_d((t - 24.5) / 4, 0, 1.6));
        double heat = 0.45 * rooms_awake * clamp_d((12 - t) / 6, 0, 1.6) +
                      (t < 8 ? 0.04 * n_asleep[hr] : 0);
        u->elec[hr] += (cool * sun + heat) * acp;
    }
}

/* A load of washing: 12% a day per person at home (x1.6 on rest days),
 * scaled by the person's activity, so the fade before a trip fades the
 * laundry too. */
static void laundry(struct sim_use *u, const struct day_ctx *c,
                    uint32_t awake_home, double people, struct sim_rng *r)
{
    double p = 0.12 * people * (c->rest_day ? 1.6 : 1.0);
    if (!awake_home || sim_rng_unit(r) >= (p > 0.9 ? 0.9 : p))
        return;
    int h = (int)sim_rng_below(r, 24);
    while (!has_hour(awake_home, h))
        h = (h + 1) % 24;
    u->water[h] += 0.06 * sim_rng_jitter(r, 0.3);
    u->elec[h] += 0.25;
}

/* The recipient id key of a stored person (tenants change over time). */
static uint64_t person_recipient(const struct day_ctx *c, uint32_t pidx,
                                 const struct sim_person *p)
{
    uint64_t generation = 0;
    if (p->kind == SIM_P_TENANT || c->h->type == SIM_H_GROUP_RENTAL) {
        uint64_t period = 2u * p->tenure_days;
        uint64_t phase = sim_mix64(pidx) % period;
        generation = ((uint64_t)c->abs_day + phase) / period;
    }
    return sim_hash(c->d->recipient_salt, 7, pidx, generation) | 1;
}

struct people_acc {
    uint8_t n_awake[24], n_asleep[24];
    uint32_t awake_home;
    double gas, litres;
    double active; /* present people weighted by their activity */
    int wake, present;
};

static void add_person_day(struct sim_use *u, const struct day_ctx *c,
                           const struct sim_person *p, uint64_t recipient,
                           struct people_acc *acc, struct sim_rng *r,
                           uint32_t pidx)
{
    struct presence pr;
    person_presence(c, pidx, p, r, &pr);
    if (!pr.home)
        return;
    for (int h = 0; h < 24; h++) {
        acc->n_awake[h] += has_hour(pr.home & pr.awake, h);
        acc->n_asleep[h] += has_hour(pr.home & ~pr.awake, h);
    }
    double litres;
    double meals = person_use(u, c, p, &pr, r, &litres);
    acc->litres += litres;
    acc->gas += p->gas_l * 0.001 * meals;
    acc->awake_home |= pr.home & pr.awake;
    acc->wake = acc->wake < 0 ? pr.wake : acc->wake;
    acc->present++;
    acc->active += pr.activity;
    if (u->n_present < SIM_MAX_PERSONS && recipient) {
        u->home[u->n_present] = pr.home;
        u->recipient[u->n_present] = recipient;
        u->order_milli[u->n_present++] = p->order_milli;
    }
}

/* Guests of a short-term rental tonight; sets *turnover on arrival day. */
static int short_term_guests(const struct day_ctx *c, struct sim_person *g,
                             uint64_t *keys, int *turnover)
{
    int nights = c->h->variant ? c->h->variant : 3;
    int64_t t = c->abs_day + (int64_t)(sim_mix64(c->hidx) % (uint64_t)nights);
    uint64_t stay = (uint64_t)(t / nights);
    uint64_t x = trip_hash(c, c->hidx, 300000 + stay);
    *turnover = t % nights == 0;
    if (hash_unit(x) >= (c->rest_day ? 0.8 : 0.6))
        return 0;
    int n = 1 + (int)((x >> 8) % 4);
    for (int j = 0; j < n; j++) {
        memset(&g[j], 0, sizeof(g[j]));
        g[j].kind = SIM_P_GUEST;
        g[j].water_lpd = (uint16_t)(70 + (x >> (16 + j * 4)) % 40);
        g[j].elec_wh = 1400;
        g[j].order_milli = (x >> (32 + 4 * j)) % 10 < 7 ? 1100 : 0;
        keys[j] = sim_hash(c->d->recipient_salt, 8, c->hidx, stay * 8 + j) | 1;
    }
    return n;
}

static void guests_day(struct sim_use *u, const struct day_ctx *c,
                       struct people_acc *acc, struct sim_rng *r)
{
    struct sim_person g[4];
    uint64_t keys[4];
    int turnover;
    int n = short_term_guests(c, g, keys, &turnover);
    for (int j = 0; j < n; j++)
        add_person_day(u, c, &g[j], g[j].order_milli ? keys[j] : 0, acc, r, 0);
    if (turnover) { /* the cleaner: laundry and mopping at noon */
        u->water[11] += 0.12 * sim_rng_jitter(r, 0.3);
        u->elec[11] += 1.0;
        u->elec[12] += 0.5;
    }
}

static void business_use(struct sim_use *u, const struct day_ctx *c,
                         struct sim_rng *r)
{
    /* kitchen, shop or office, workshop: water m3, gas m3, kWh a day */
    static const double water[3] = {1.0, 0.15, 0.05}, gas[3] = {3.5, 0, 0};
    static const double kwh[3] = {8, 7, 14};
    static const int open[3] = {9, 9, 8}, close[3] = {21, 19, 18};
    int k = c->h->variant;
    if (c->day->dow == (int)(c->hidx % 7) ||
        (c->day->sf_offset >= -1 && c->day->sf_offset <= 6))
        return; /* the weekly closing day, the festival */
    double scale = 0.7 + 0.7 * hash_unit(sim_mix64(c->hidx * 31 + 5));
    int hours = close[k] - open[k];
    for (int h = open[k]; h < close[k]; h++) {
        double peak = (h == 10 || h == 11 || (h >= 16 && h <= 18)) ? 1.5 : 0.8;
        u->water[h] += water[k] * scale * peak / hours * sim_rng_jitter(r, 0.4);
        u->elec[h] += kwh[k] * scale / hours * sim_rng_jitter(r, 0.2);
    }
    double gas_m3 = gas[k] * scale * sim_rng_jitter(r, 0.2);
    if (c->h->meter[SIM_GAS].present) {
        u->gas += gas_m3;
        return;
    }
    for (int h = open[k]; h < close[k]; h++) /* an electric kitchen */
        u->elec[h] += gas_m3 * 4.7 / hours;
}

/* A household's trips: a golden-week holiday (20%), a weekend away (3%),
 * or the Spring Festival with family elsewhere (12%).  Not for an elder
 * living alone: an elder's trips are the "travel" event, which the truth
 * file records (a weekend away that the truth did not name would look, on
 * the meters, like water stopping days before the recorded trip). */
static uint32_t household_away(const struct day_ctx *c)
{
    const struct sim_day *day = c->day;
    uint64_t h = c->hidx;
    if (c->h->type == SIM_H_ELDERLY_ALONE)
        return 0;
    if (day->sf_offset >= -1 && day->sf_offset <= 4)
        return hash_unit(trip_hash(c, h, 200000 + day->year)) < 0.12 ? ALL_HOURS
                                                                     : 0;
    if (day->holiday)
        return hash_unit(trip_hash(c, h, day->year * 16 + day->month)) < 0.2
                   ? ALL_HOURS
                   : 0;
    if (day->dow >= 5)
        return hash_unit(trip_hash(c, h, 100000 + (c->abs_day + 3) / 7)) < 0.03
                   ? ALL_HOURS
                   : 0;
    return 0;
}

static void day_context(struct day_ctx *c, const struct sim_district *d,
                        uint32_t h, int day)
{
    memset(c, 0, sizeof(*c));
    c->d = d;
    c->day = &d->days[day];
    c->h = &d->households[h];
    c->hidx = h;
    c->abs_day = d->opt->start_day + day;
    c->rest_day = !c->day->workday;
    double t = c->day->t_mean + c->day->heat_excess;
    c->water_season = 1 + 0.008 * (t - 17);
    c->hot_water_season = 1 + 0.025 * (17 - t);
    c->away = household_away(c);
}

/* The elder's stop: from that hour, no water, no gas, the lights on. */
static void elder_stop(struct sim_use *u, const struct day_ctx *c)
{
    int from = c->h->event_start - c->day->index * 24;
    if (c->h->event != SIM_EV_STOP || from >= 24)
        return;
    double left_on = (c->hidx & 1) ? 0.06 : 0.015;
    for (int h = from < 0 ? 0 : from; h < 24; h++) {
        u->water[h] = 0;
        u->elec[h] = c->h->base_wh * 0.001 / 24 + left_on;
    }
    if (from <= 12)
        u->gas = 0;
    u->n_present = 0;
}

static void water_main_break(struct sim_use *u, const struct day_ctx *c)
{
    const struct sim_incident *inc =
        sim_incident_find(c->d, SIM_INC_WATER_MAIN);
    if (!inc || c->h->building < inc->building_first ||
        c->h->building >= inc->building_first + inc->building_count)
        return;
    int from = (int)((inc->start - c->day->t0) / 3600);
    int to = (int)((inc->end - c->day->t0) / 3600);
    double lost = 0;
    for (int h = from < 0 ? 0 : from; h < 24 && h < to; h++) {
        lost += u->water[h];
        u->water[h] = 0;
    }
    if (to >= 0 && to < 24)
        u->water[to] += 0.5 * lost;
}

static void vacant_use(struct sim_use *u, const struct day_ctx *c,
                       struct sim_rng *r)
{
    if (c->hidx % 20 == 7) /* a leaking cistern */
        for (int h = 0; h < 24; h++)
            u->water[h] += 0.0006;
    if (sim_rng_unit(r) < 0.02) { /* the owner drops by */
        int h = 10 + (int)sim_rng_below(r, 8);
        u->water[h] += 0.02;
        u->elec[h] += 0.3;
    }
}

static void household_people(struct sim_use *u, const struct day_ctx *c,
                             struct people_acc *acc, struct sim_rng *r)
{
    const struct sim_district *d = c->d;
    const struct sim_household *h = c->h;
    for (int k = 0; k < h->n_persons; k++) {
        uint32_t pidx = h->person_first + (uint32_t)k;
        const struct sim_person *p = &d->persons[pidx];
        uint64_t key =
            (p->flags & SIM_PF_ORDERS) ? person_recipient(c, pidx, p) : 0;
        add_person_day(u, c, p, key, acc, r, pidx);
    }
    if (h->type == SIM_H_SHORT_TERM && c->away != ALL_HOURS)
        guests_day(u, c, acc, r);
}

static void finish_day(struct sim_use *u, const struct day_ctx *c,
                       struct sim_rng *r)
{
    const struct sim_household *h = c->h;
    struct sim_rng br;
    sim_rng_seed(&br, c->d->opt->seed, SIM_STREAM_BUILDING_DAY, h->building,
                 (uint64_t)c->day->index);
    double building = sim_rng_jitter(&br, 0.06);
    double base = h->base_wh * 0.001 / 24;
    for (int hr = 0; hr < 24; hr++) {
        u->water[hr] *= building * sim_rng_jitter(r, 0.3);
        u->elec[hr] = (u->elec[hr] * sim_rng_jitter(r, 0.15) +
                       base * sim_rng_jitter(r, 0.2)) *
                      building;
    }
    water_main_break(u, c);
    elder_stop(u, c);
}

void sim_model_day(const struct sim_district *d, uint32_t h, int day,
                   struct sim_use *OUT)
{
    struct day_ctx c;
    struct people_acc acc;
    struct sim_rng r;
    day_context(&c, d, h, day);
    sim_rng_seed(&r, d->opt->seed, SIM_STREAM_USE, h, (uint64_t)day);
    memset(OUT, 0, sizeof(*OUT));
    memset(&acc, 0, sizeof(acc));
    acc.wake = -1;
    household_people(OUT, &c, &acc, &r);
    if (acc.present)
        laundry(OUT, &c, acc.awake_home, acc.active, &r);
    climate_use(OUT, &c, acc.n_awake, acc.n_asleep);
    cooking_use(OUT, &c,
                acc.gas * c.h->cook_pct * 0.01 * sim_rng_jitter(&r, 0.2),
                acc.wake);
    if (c.h->meter[SIM_GAS].present && !c.h->water_heater)
        OUT->gas += acc.litres * 0.0007 * c.hot_water_season;
    if (c.h->type == SIM_H_BUSINESS)
        business_use(OUT, &c, &r);
    else if (c.h->type == SIM_H_VACANT)
        vacant_use(OUT, &c, &r);
    finish_day(OUT, &c, &r);
    OUT->order_factor = (c.rest_day ? 1.15 : 1.0) * (c.day->storm ? 1.6 : 1.0);
}
