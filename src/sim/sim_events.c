/*
 * sim_events.c - department events: 110 police, 119 fire, 120 ambulance,
 * the 12345 citizen hotline and urban management, with the incidents that
 * disturb them.
 *
 * Base rates per household per day (ours; about 30,000 events a day for
 * 2,000,000 households, within the 10^4-10^5 a district sees):
 *
 *   source            rate     day shape               week
 *   ----------------  -------  ----------------------  ------------------
 *   110               0.0025   day and late evening    Fri-Sat x1.15
 *   119               0.00004  flat by day             -
 *   120               0.00045  morning peak            winter x1.1
 *   12345             0.006    office hours            weekend x0.6
 *   urban_management  0.005    daytime                 weekend x0.7
 *
 * Each street has its own level (x0.8-1.2; the old streets' 110 rate
 * x1.3, towns' illegal construction x2).  Events are Poisson per street,
 * hour and source, placed at a random building of the street (+-200 m);
 * one in ten omits the street, to be placed from its coordinates.
 *
 * Incidents add events, listed in truth/incident_events.csv:
 *   storm        110 traffic accidents x3, 119 rescues x5, 12345
 *                waterlogging and urban-management fallen trees
 *   festival     110 crowd control, lost persons, thefts; 120 trauma;
 *                within 1.2 km of the crowd
 *   water main   12345 water_supply complaints near the cut buildings,
 *                during the cut and 3 hours after
 *   heat wave    120 heat and cardiac x1.6 (cold wave: respiratory, 119
 *                fires x1.5)
 * Group rentals draw 12345 housing_rental complaints from neighbours
 * (0.8% of group-rental flat-days), at their building.
 */
#include "sim/sim_int.h"
#include "util/jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum source { SRC_110, SRC_119, SRC_120, SRC_12345, SRC_UM, N_SOURCES };

static const char *const source_name[N_SOURCES] = {"110", "119", "120", "12345",
                                                   "urban_management"};
static const char *const source_id_prefix[N_SOURCES] = {"110", "119", "120",
                                                        "12345", "UM"};
static const double source_rate[N_SOURCES] = {0.0025, 0.00004, 0.00045, 0.006,
                                              0.005};

static const float hour_shape[N_SOURCES][24] = {
    {3, 2, 1.5f, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 5, 4},
    {2, 2, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3},
    {3, 2, 2, 2, 2, 3, 5, 7, 7, 6, 6, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 3},
    {0.3f, 0.2f, 0.1f, 0.1f, 0.1f, 0.2f, 0.5f, 1.5f, 4,    6, 6, 5,
     4,    5,    6,    6,    5,    4,    3,    3,    2.5f, 2, 1, 0.5f},
    {0.2f, 0.1f, 0.1f, 0.1f, 0.1f, 0.3f, 1, 3, 5, 6,    6,    5,
     4,    5,    5,    5,    5,    4,    3, 2, 1, 0.5f, 0.3f, 0.2f},
};

#define MAX_TYPES 12
struct type_table {
    int n;
    const char *name[MAX_TYPES];
    double weight[MAX_TYPES];
};

static const struct type_table types[N_SOURCES] = {
    {7,
     {"theft", "dispute", "traffic_accident", "noise", "fraud",
      "assistance_request", "suspicious_person"},
     {0.18, 0.25, 0.2, 0.12, 0.08, 0.12, 0.05}},
    {4, {"fire", "rescue", "hazmat", "false_alarm"}, {0.3, 0.45, 0.05, 0.2}},
    {1, {"ambulance_dispatch"}, {1}},
    {11,
     {"noise", "garbage", "property_management", "water_supply", "parking",
      "housing_rental", "road_damage", "environment", "consumer_rights",
      "public_transport", "other"},
     {0.15, 0.1, 0.18, 0.05, 0.1, 0.04, 0.06, 0.08, 0.12, 0.05, 0.07}},
    {7,
     {"illegal_parking", "street_vending", "illegal_construction",
      "garbage_overflow", "damaged_facility", "illegal_advertising",
      "shared_bike_clutter"},
     {0.25, 0.2, 0.1, 0.15, 0.1, 0.1, 0.1}},
};

/* One event before it gets its id. */
struct event {
    int64_t ts;
    double lat, lon;
    int16_t source, street;
    const char *type;
    const char *reason; /* 120 only */
    int8_t level;       /* priority or level, 0 = most urgent */
    int8_t omit_street;
    int8_t incident; /* index into d->incidents, or -1 */
};

struct day_events {
    const struct sim_district *d;
    const struct sim_day *day;
    struct sim_rng rng;
    struct event *ev;
    size_t n, cap;
};

static struct event *new_event(struct day_events *de, int source, int street,
                               int hour, const char *type)
{
    if (de->n == de->cap) {
        de->cap = de->cap ? de->cap * 2 : 1024;
        de->ev = xrealloc(de->ev, de->cap * sizeof(*de->ev));
    }
    struct event *e = &de->ev[de->n++];
    struct sim_rng *r = &de->rng;
    memset(e, 0, sizeof(*e));
    e->ts = de->day->t0 + hour * 3600 + sim_rng_below(r, 3600);
    e->source = (int16_t)source;
    e->street = (int16_t)street;
    e->type = type;
    e->level = (int8_t)sim_rng_pick(r, (const double[]){0.15, 0.5, 0.35}, 3);
    e->omit_street = sim_rng_unit(r) < 0.1;
    e->incident = -1;
    const struct sim_street *st = &de->d->streets[street];
    const struct sim_building *b =
        &de->d->buildings[st->building_first +
                          sim_rng_below(r, st->building_count)];
    e->lat = b->lat + sim_rng_range(r, -0.0018, 0.0018);
    e->lon = b->lon + sim_rng_range(r, -0.0021, 0.0021);
    return e;
}

static const char *ambulance_reason(struct sim_rng *r, int heat, int cold)
{
    static const char *const reasons[] = {
        "cardiac", "stroke", "trauma", "respiratory", "fall", "heat", "other"};
    double w[7] = {0.18, 0.1, 0.2, 0.14, 0.13, 0.01, 0.24};
    if (heat)
        w[5] = 0.2, w[0] = 0.25;
    if (cold)
        w[3] = 0.25;
    return reasons[sim_rng_pick(r, w, 7)];
}

static double week_factor(const struct sim_day *day, int source)
{
    int weekend = !day->workday;
    switch (source) {
    case SRC_110:
        return day->dow == 4 || day->dow == 5 ? 1.15 : 1.0;
    case SRC_120:
        return day->month == 12 || day->month <= 2 ? 1.1 : 1.0;
    case SRC_12345:
        return weekend ? 0.6 : 1.0;
    case SRC_UM:
        return weekend ? 0.7 : 1.0;
    default:
        return 1.0;
    }
}

static double street_level(const struct sim_district *d, int s, int source)
{
    uint64_t x = sim_hash(d->opt->seed, SIM_STREAM_EVENTS, 1000 + s, source);
    double level = 0.8 + 0.4 * (double)(x >> 11) * 0x1.0p-53;
    if (source == SRC_110 && d->streets[s].urban)
        level *= 1.3;
    return level;
}

static double shape_share(int source, int hour)
{
    double sum = 0;
    for (int h = 0; h < 24; h++)
        sum += hour_shape[source][h];
    return hour_shape[source][hour] / sum;
}

static void base_events(struct day_events *de, int s, int source)
{
    const struct sim_district *d = de->d;
    double per_day = source_rate[source] * d->streets[s].household_count *
                     street_level(d, s, source) * week_factor(de->day, source);
    const struct type_table *t = &types[source];
    double w[MAX_TYPES];
    memcpy(w, t->weight, sizeof(w));
    if (source == SRC_UM && !d->streets[s].urban)
        w[2] *= 2; /* illegal construction in the towns */
    for (int h = 0; h < 24; h++) {
        uint32_t n =
            sim_rng_poisson(&de->rng, per_day * shape_share(source, h));
        for (uint32_t k = 0; k < n; k++) {
            int ty = sim_rng_pick(&de->rng, w, t->n);
            struct event *e = new_event(de, source, s, h, t->name[ty]);
            if (source == SRC_120)
                e->reason = ambulance_reason(&de->rng, 0, 0);
        }
    }
}

/* ---- incidents ---- */

/* Adds n events of one kind for incident i in hour h of street s; a
 * positive radius places them around the incident. */
static void incident_events(struct day_events *de, int i, int s, int h,
                            double n_mean, int source, const char *type)
{
    const struct sim_incident *inc = &de->d->incidents[i];
    uint32_t n = sim_rng_poisson(&de->rng, n_mean);
    for (uint32_t k = 0; k < n; k++) {
        struct event *e = new_event(de, source, s, h, type);
        e->incident = (int8_t)i;
        if (source == SRC_120)
            e->reason =
                ambulance_reason(&de->rng, inc->type == SIM_INC_HEAT_WAVE,
                                 inc->type == SIM_INC_COLD_WAVE);
        if (inc->radius_m < 5000) {
            double rad =
                inc->radius_m / 111000.0 * sqrt(sim_rng_unit(&de->rng));
            double ang = 2 * M_PI * sim_rng_unit(&de->rng);
            e->lat = inc->lat + rad * sin(ang);
            e->lon = inc->lon + rad * cos(ang) / 0.856;
        }
    }
}

/* The expected base count of one source in street s and hour h. */
static double base_mean(const struct day_events *de, int s, int h, int source)
{
    return source_rate[source] * de->d->streets[s].household_count *
           street_level(de->d, s, source) * shape_share(source, h);
}

static int incident_hour(const struct day_events *de,
                         const struct sim_incident *inc, int h, int after)
{
    int64_t t = de->day->t0 + h * 3600;
    return t + 3600 > inc->start && t < inc->end + after * 3600;
}

static void storm_hour(struct day_events *de, int i, int h)
{
    for (int s = 0; s < de->d->n_streets; s++) {
        incident_events(de, i, s, h,
                        2 * 0.2 * base_mean(de, s, h, SRC_110) + 0.01, SRC_110,
                        "traffic_accident");
        incident_events(de, i, s, h,
                        4 * 0.45 * base_mean(de, s, h, SRC_119) + 0.005,
                        SRC_119, "rescue");
        incident_events(de, i, s, h, 0.3 * base_mean(de, s, h, SRC_12345),
                        SRC_12345, "waterlogging");
        incident_events(de, i, s, h, 0.2 * base_mean(de, s, h, SRC_UM), SRC_UM,
                        "fallen_tree");
    }
}

static void festival_hour(struct day_events *de, int i, int h)
{
    int s = de->d->incidents[i].street;
    double base = base_mean(de, s, h, SRC_110);
    incident_events(de, i, s, h, 2.0 * base + 1, SRC_110, "crowd_control");
    incident_events(de, i, s, h, 1.0 * base + 0.5, SRC_110, "lost_person");
    incident_events(de, i, s, h, 1.0 * base, SRC_110, "theft");
    incident_events(de, i, s, h, 2.0 * base_mean(de, s, h, SRC_120) + 0.5,
                    SRC_120, "ambulance_dispatch");
}

static void water_main_hour(struct day_events *de, int i, int h)
{
    const struct sim_incident *inc = &de->d->incidents[i];
    double households = 0;
    for (uint32_t b = 0; b < inc->building_count; b++)
        households += de->d->buildings[inc->building_first + b].household_count;
    incident_events(de, i, inc->street, h, 0.004 * households + 1, SRC_12345,
                    "water_supply");
}

static void wave_hour(struct day_events *de, int i, int h)
{
    int cold = de->d->incidents[i].type == SIM_INC_COLD_WAVE;
    for (int s = 0; s < de->d->n_streets; s++) {
        incident_events(de, i, s, h, 0.6 * base_mean(de, s, h, SRC_120) + 0.003,
                        SRC_120, "ambulance_dispatch");
        if (cold)
            incident_events(de, i, s, h,
                            0.5 * 0.3 * base_mean(de, s, h, SRC_119), SRC_119,
                            "fire");
    }
}

static void incidents_day(struct day_events *de)
{
    for (int i = 0; i < de->d->n_incidents; i++) {
        const struct sim_incident *inc = &de->d->incidents[i];
        int after = inc->type == SIM_INC_WATER_MAIN ? 3 : 0;
        for (int h = 0; h < 24; h++) {
            if (!incident_hour(de, inc, h, after))
                continue;
            switch (inc->type) {
            case SIM_INC_STORM:
                storm_hour(de, i, h);
                break;
            case SIM_INC_FESTIVAL:
                festival_hour(de, i, h);
                break;
            case SIM_INC_WATER_MAIN:
                water_main_hour(de, i, h);
                break;
            default:
                wave_hour(de, i, h);
            }
        }
    }
}

/* Neighbours of group rentals call 12345. */
static void group_rental_complaints(struct day_events *de)
{
    const struct sim_district *d = de->d;
    for (uint32_t h = 0; h < d->n_households; h++) {
        if (d->households[h].type != SIM_H_GROUP_RENTAL)
            continue;
        uint64_t x = sim_hash(d->opt->seed, SIM_STREAM_EVENTS, h,
                              (uint64_t)de->day->index + 7777);
        if ((x >> 11) * 0x1.0p-53 >= 0.008)
            continue;
        const struct sim_building *b = &d->buildings[d->households[h].building];
        struct event *e = new_event(de, SRC_12345, b->street, 9 + (int)(x % 11),
                                    "housing_rental");
        e->lat = b->lat;
        e->lon = b->lon;
    }
}

/* ---- output ---- */

static int event_cmp(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->source != y->source)
        return x->source - y->source;
    if (x->street != y->street)
        return x->street - y->street;
    return x->lat < y->lat ? -1 : x->lat > y->lat;
}

static void event_attrs(const struct event *e, struct jsonw *w)
{
    static const char *const channels[] = {"phone", "app", "web", "wechat"};
    static const char *const priority[] = {"A", "B", "C"};
    jsonw_object_begin(w);
    switch (e->source) {
    case SRC_110:
        jsonw_kv_strf(w, "priority", "%d", e->level + 1);
        break;
    case SRC_119:
        jsonw_kv_strf(w, "level", "%d", e->level + 1);
        break;
    case SRC_120:
        jsonw_kv_str(w, "priority", priority[e->level]);
        jsonw_kv_str(w, "reason", e->reason ? e->reason : "other");
        break;
    case SRC_12345:
        jsonw_kv_str(w, "channel", channels[(e->ts / 7 + e->level) % 4]);
        break;
    default:
        jsonw_kv_str(w, "reported_by", e->level ? "grid_inspector" : "camera");
    }
    jsonw_object_end(w);
}

static void write_event(const struct sim_district *d, const struct event *e,
                        const char *id, struct sbuf *out)
{
    char iso[32];
    struct jsonw w;
    *sim_fmt_iso(iso, e->ts) = '\0';
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "event_id", id);
    jsonw_kv_str(&w, "source", source_name[e->source]);
    jsonw_kv_str(&w, "type", e->type);
    jsonw_kv_str(&w, "ts", iso);
    jsonw_kv_double_prec(&w, "lat", e->lat, 6);
    jsonw_kv_double_prec(&w, "lon", e->lon, 6);
    if (!e->omit_street)
        jsonw_kv_str(&w, "street", d->streets[e->street].name);
    jsonw_key(&w, "attrs");
    event_attrs(e, &w);
    jsonw_object_end(&w);
    sbuf_addch(out, '\n');
}

static void write_events(struct day_events *de, struct sim_event_counter *c,
                         struct sbuf *events, struct sbuf *truth)
{
    if (c->year != de->day->year) {
        memset(c->seq, 0, sizeof(c->seq));
        c->year = de->day->year;
    }
    qsort(de->ev, de->n, sizeof(*de->ev), event_cmp);
    for (size_t k = 0; k < de->n; k++) {
        const struct event *e = &de->ev[k];
        char id[40];
        snprintf(id, sizeof(id), "%s-%d-%06u", source_id_prefix[e->source],
                 c->year, ++c->seq[e->source]);
        write_event(de->d, e, id, events);
        if (e->incident >= 0)
            sbuf_addf(truth, "%s,%s,%s\n", source_name[e->source], id,
                      de->d->incidents[e->incident].id);
    }
}

void sim_events_day(const struct sim_district *d, int day,
                    struct sim_event_counter *c, struct sbuf *events,
                    struct sbuf *truth, uint64_t *OUT_n)
{
    struct day_events de;
    memset(&de, 0, sizeof(de));
    de.d = d;
    de.day = &d->days[day];
    sim_rng_seed(&de.rng, d->opt->seed, SIM_STREAM_EVENTS, 0, (uint64_t)day);
    for (int s = 0; s < d->n_streets; s++)
        for (int source = 0; source < N_SOURCES; source++)
            base_events(&de, s, source);
    incidents_day(&de);
    group_rental_complaints(&de);
    write_events(&de, c, events, truth);
    *OUT_n = de.n;
    free(de.ev);
}

void sim_incidents_csv(const struct sim_district *d, struct sbuf *out)
{
    sbuf_addstr(out, "incident_id,type,start,end,street,lat,lon,radius_m,"
                     "buildings,degrees\n");
    for (int i = 0; i < d->n_incidents; i++) {
        const struct sim_incident *inc = &d->incidents[i];
        char start[32], end[32];
        *sim_fmt_iso(start, inc->start) = '\0';
        *sim_fmt_iso(end, inc->end) = '\0';
        sbuf_addf(out, "%s,%s,%s,%s,%s,%.6f,%.6f,%.0f,%u,%.1f\n", inc->id,
                  sim_incident_type_name(inc->type), start, end,
                  inc->street >= 0 ? d->streets[inc->street].name : "",
                  inc->lat, inc->lon, inc->radius_m, inc->building_count,
                  inc->degrees);
    }
}
