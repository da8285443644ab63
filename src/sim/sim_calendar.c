/*
 * sim_calendar.c - the days of the run: dates, holidays, weather, and the
 * incidents injected with their ground truth.
 *
 * Weather.  Shanghai's daily mean temperature follows a cosine from about
 * 4.5 C (late January) to 28.5 C (late July), plus an AR(1) anomaly
 * (phi 0.7, sd 1.8 C) and a daily swing of +-3.5 C peaking at 14:30.
 *
 * Holidays.  New Year (1 Jan), Qingming (4-6 Apr, approximate), Labour Day
 * (1-5 May), National Day (1-7 Oct) and the Spring Festival (eve to the
 * sixth day, from a table of lunar new-year dates).  Make-up working days
 * (调休) and the Dragon Boat and Mid-Autumn holidays are not modelled.
 * Schools close in July-August and for the winter break around the
 * Spring Festival.
 *
 * Incidents, at fixed fractions of the run so that every run has them:
 *   storm        at 20%: 09:00-21:00 district-wide
 *   festival     at 45%: 18:00-23:30 crowd in 陆家嘴 (the nearest weekend)
 *   water main   at 60%: 6-10 h, a run of buildings in one street loses
 *                water (use is zero, then catches up)
 *   heat wave    at 70%: 5 days +6 C; a cold wave (-6 C) instead when
 *                the day's mean is below 17 C
 */
#include "sim/sim_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_fixed_holiday(unsigned m, unsigned d)
{
    return (m == 1 && d == 1) || (m == 4 && d >= 4 && d <= 6) ||
           (m == 5 && d <= 5) || (m == 10 && d <= 7);
}

/* Days since the nearest lunar new year (negative before it). */
static int spring_festival_offset(int64_t z, int year)
{
    int best = 9999;
    for (int y = year - 1; y <= year + 1; y++) {
        int64_t sf = sim_spring_festival(y);
        if (sf >= 0 && llabs((long long)(z - sf)) < llabs(best))
            best = (int)(z - sf);
    }
    return best;
}

static double climate_mean(int doy)
{
    return 16.5 - 12.0 * cos(2 * M_PI * (doy - 20) / 365.25);
}

static void calendar_day(struct sim_day *day, int64_t z, double anomaly)
{
    unsigned m, md;
    time_civil_from_days(z, &day->year, &m, &md);
    day->month = (int)m;
    day->mday = (int)md;
    day->t0 = z * 86400 - SIM_TZ_OFFSET_S;
    day->dow = (int)((z % 7 + 7 + 3) % 7);
    snprintf(day->date, sizeof(day->date), "%04d-%02u-%02u", day->year, m, md);
    day->sf_offset = spring_festival_offset(z, day->year);
    day->holiday = is_fixed_holiday(m, md) ||
                   (day->sf_offset >= -1 && day->sf_offset <= 6);
    day->workday = !day->holiday && day->dow < 5;
    int summer_break = m == 7 || m == 8;
    int winter_break = day->sf_offset >= -21 && day->sf_offset <= 14;
    day->school = day->workday && !summer_break && !winter_break;
    int doy = (int)(z - time_days_from_civil(day->year, 1, 1));
    day->t_mean = (float)(climate_mean(doy) + anomaly);
}

/* The 97 quarter-hour timestamps of the day as text, for the meters. */
static void day_timestamps(struct sim_day *day)
{
    for (int q = 0; q <= 96; q++) {
        char buf[24];
        char *end = sim_fmt_u64(buf, (uint64_t)(day->t0 + q * 900));
        memset(day->ts_text[q], '0', 10);
        memcpy(day->ts_text[q] + 10 - (end - buf > 10 ? 10 : end - buf), buf,
               (size_t)(end - buf > 10 ? 10 : end - buf));
    }
}

static void day_temperatures(struct sim_day *day)
{
    double mean = day->t_mean + day->heat_excess;
    for (int h = 0; h < 24; h++)
        day->temp[h] = (float)(mean + 3.5 * cos(2 * M_PI * (h - 14.5) / 24));
}

static struct sim_incident *new_incident(struct sim_district *d, int type)
{
    struct sim_incident *inc = &d->incidents[d->n_incidents];
    memset(inc, 0, sizeof(*inc));
    inc->type = type;
    inc->street = -1;
    snprintf(inc->id, sizeof(inc->id), "INC-%03d", d->n_incidents + 1);
    d->n_incidents++;
    return inc;
}

static void street_centre(const struct sim_district *d, int s, double *lon,
                          double *lat)
{
    const struct sim_poly *p = &d->streets[s].poly;
    *lon = *lat = 0;
    for (int i = 0; i < p->n; i++) {
        *lon += p->x[i] / p->n;
        *lat += p->y[i] / p->n;
    }
}

static void plan_storm(struct sim_district *d)
{
    int day = d->n_days / 5;
    struct sim_incident *inc = new_incident(d, SIM_INC_STORM);
    inc->start = d->days[day].t0 + 9 * 3600;
    inc->end = d->days[day].t0 + 21 * 3600;
    d->days[day].storm = 1;
    street_centre(d, 23, &inc->lon, &inc->lat);
    inc->radius_m = 40000;
}

static void plan_festival(struct sim_district *d)
{
    int day = d->n_days * 9 / 20;
    for (int k = 0; k <= 3; k++) { /* the nearest weekend or holiday */
        if (day + k < d->n_days && !d->days[day + k].workday) {
            day += k;
            break;
        }
    }
    struct sim_incident *inc = new_incident(d, SIM_INC_FESTIVAL);
    inc->street = 3; /* 陆家嘴街道 */
    inc->start = d->days[day].t0 + 18 * 3600;
    inc->end = d->days[day].t0 + 23 * 3600 + 1800;
    street_centre(d, 3, &inc->lon, &inc->lat);
    inc->radius_m = 1200;
}

static void plan_water_main(struct sim_district *d, struct sim_rng *r)
{
    int day = d->n_days * 3 / 5;
    struct sim_incident *inc = new_incident(d, SIM_INC_WATER_MAIN);
    int s = (int)sim_rng_below(r, (uint32_t)d->n_streets);
    const struct sim_street *st = &d->streets[s];
    uint32_t n = st->building_count / 10;
    n = n < 1 ? 1 : n > 40 ? 40 : n;
    inc->street = s;
    inc->building_count = n;
    inc->building_first =
        st->building_first + sim_rng_below(r, st->building_count - n + 1);
    inc->start = d->days[day].t0 + (10 + sim_rng_below(r, 8)) * 3600;
    inc->end = inc->start + (6 + sim_rng_below(r, 5)) * 3600;
    inc->lat = d->buildings[inc->building_first].lat;
    inc->lon = d->buildings[inc->building_first].lon;
    inc->radius_m = 500;
}

static void plan_heat_wave(struct sim_district *d)
{
    int first = d->n_days * 7 / 10, last = first + 5;
    last = last > d->n_days ? d->n_days : last;
    double climate = d->days[first].t_mean;
    int cold = climate < 17;
    struct sim_incident *inc =
        new_incident(d, cold ? SIM_INC_COLD_WAVE : SIM_INC_HEAT_WAVE);
    inc->degrees = cold ? -6 : 6;
    inc->start = d->days[first].t0;
    inc->end = d->days[last - 1].t0 + 86400;
    street_centre(d, 17, &inc->lon, &inc->lat);
    inc->radius_m = 40000;
    for (int k = first; k < last; k++) /* ramps up, holds, eases off */
        d->days[k].heat_excess =
            (float)(inc->degrees * (k == first || k == last - 1 ? 0.6 : 1));
}

void sim_calendar_build(struct sim_district *d)
{
    struct sim_rng r;
    double anomaly;
    sim_rng_seed(&r, d->opt->seed, SIM_STREAM_WEATHER, 0, 0);
    anomaly = 2.5 * sim_rng_normal(&r);
    d->n_days = d->opt->days;
    d->days = xcalloc((size_t)d->n_days, sizeof(*d->days));
    for (int k = 0; k < d->n_days; k++) {
        d->days[k].index = k;
        calendar_day(&d->days[k], d->opt->start_day + k, anomaly);
        anomaly = 0.7 * anomaly + 1.8 * sim_rng_normal(&r);
    }
    plan_storm(d);
    plan_festival(d);
    plan_water_main(d, &r);
    plan_heat_wave(d);
    for (int k = 0; k < d->n_days; k++) {
        day_temperatures(&d->days[k]);
        day_timestamps(&d->days[k]);
    }
}

const char *sim_incident_type_name(int type)
{
    static const char *const names[] = {"storm", "festival_crowd",
                                        "water_main_break", "heat_wave",
                                        "cold_wave"};
    return type >= 0 && type <= SIM_INC_COLD_WAVE ? names[type] : "unknown";
}

const struct sim_incident *sim_incident_find(const struct sim_district *d,
                                             int type)
{
    for (int i = 0; i < d->n_incidents; i++)
        if (d->incidents[i].type == type)
            return &d->incidents[i];
    return NULL;
}
