/*
 * sim_int.h - the simulator's private model: the district, its people, their
 * meters, the calendar, and the pieces that turn them into files.
 *
 * The district is a set of dense arrays, each element pointing to its parent
 * by index:
 *
 *   street (36) -> committee -> compound -> building -> household -> person
 *
 * Households of a building, buildings of a compound and so on are
 * contiguous, so a street is a range of buildings and a range of households.
 * The arrays are built once, single-threaded (sim_district.c), and are
 * read-only afterwards except for struct sim_meter, which belongs to the
 * thread working on the household's block on that day.
 *
 * Work unit: a block of SIM_BLOCK consecutive households on one day.  Block
 * outputs are written in (day, block) order whatever thread made them
 * (sim_output.c), and a block of day d+1 starts only after the same block
 * of day d was written, so the meters need no lock.
 *
 * Randomness: sim_rng (xoshiro256**) seeded from a hash of (seed, stream,
 * a, b), e.g. (seed, SIM_STREAM_USE, household, day).  Nothing depends on
 * the order in which work is done.
 *
 * Units inside: time is epoch seconds (the district is UTC+8, so its local
 * midnight is 16:00 UTC the day before); meter counts are micro-units
 * (1e-6 kWh or m3) in int64, printed truncated like a meter display.
 */
#ifndef CB_SIM_INT_H
#define CB_SIM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define SIM_MAX_STREETS 36
#define SIM_MAX_PERSONS 24 /* persons in one household, guests included */
#define SIM_BLOCK 1024     /* households per work unit */
#define SIM_POLY_MAX 24    /* vertices of one street polygon */
#define SIM_MAX_INCIDENTS 8
#define SIM_TZ_OFFSET_S (8 * 3600)
#define SIM_MIN_HOUSEHOLDS 1000
#define SIM_MAX_HOUSEHOLDS 2000000
#define SIM_MAX_DAYS 366

/* ---- randomness ---- */

enum sim_stream_id {
    SIM_STREAM_DISTRICT = 1, /* registry: sequential, one generator */
    SIM_STREAM_HOUSEHOLD,    /* per household: fixed traits */
    SIM_STREAM_PERSON,       /* per person: fixed traits */
    SIM_STREAM_USE,          /* per household-day: consumption */
    SIM_STREAM_BUILDING_DAY, /* per building-day: shared swings */
    SIM_STREAM_METER,        /* per meter: configuration */
    SIM_STREAM_FAULT,        /* per meter-day: faults */
    SIM_STREAM_ORDER,        /* per household-day: deliveries */
    SIM_STREAM_TRIP,         /* per household or person and holiday */
    SIM_STREAM_EVENTS,       /* per day: department events */
    SIM_STREAM_WEATHER,      /* per run: weather */
    SIM_STREAM_RECIPIENT,    /* the salt of recipient ids */
};

struct sim_rng {
    uint64_t s[4];
};

static inline uint64_t sim_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A well-mixed 64-bit value for (seed, stream, a, b). */
static inline uint64_t sim_hash(uint64_t seed, uint64_t stream, uint64_t a,
                                uint64_t b)
{
    uint64_t h = sim_mix64(seed + stream * 0x9e3779b97f4a7c15ULL);
    h = sim_mix64(h ^ (a * 0xd6e8feb86659fd93ULL + 1));
    return sim_mix64(h ^ (b * 0xa0761d6478bd642fULL + 2));
}

static inline void sim_rng_seed(struct sim_rng *r, uint64_t seed,
                                uint64_t stream, uint64_t a, uint64_t b)
{
    uint64_t x = sim_hash(seed, stream, a, b);
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = sim_mix64(x);
    }
}

static inline uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(struct sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n). */
static inline uint32_t sim_rng_below(struct sim_rng *r, uint32_t n)
{
    return (uint32_t)(((sim_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi). */
static inline double sim_rng_range(struct sim_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_unit(r);
}

/* Cheap symmetric noise factor 1 + a*(u1+u2-1): triangular on [1-a, 1+a]. */
static inline double sim_rng_jitter(struct sim_rng *r, double a)
{
    uint64_t x = sim_rng_next(r);
    double u1 = (double)(x >> 40) * 0x1.0p-24;
    double u2 = (double)(x & 0xffffff) * 0x1.0p-24;
    return 1.0 + a * (u1 + u2 - 1.0);
}

double sim_rng_normal(struct sim_rng *r);
/* exp(N(0, sigma)): a positive factor with median 1. */
double sim_rng_lognormal(struct sim_rng *r, double sigma);
uint32_t sim_rng_poisson(struct sim_rng *r, double lambda);
/* Index drawn from weights w[0..n-1] (not necessarily normalised). */
int sim_rng_pick(struct sim_rng *r, const double *w, int n);

/* ---- options ---- */

enum sim_compress {
    SIM_COMPRESS_NONE,
    SIM_COMPRESS_ZSTD,
    SIM_COMPRESS_GZIP,
    SIM_COMPRESS_LZ4
};

struct sim_options {
    uint32_t households;
    int days;
    uint64_t seed;
    int64_t start_day;    /* days since 1970-01-01 of the first local day */
    int elec_interval_s;  /* 900 or 3600 */
    int water_interval_s; /* 3600 or 86400 */
    int threads;          /* workers, >= 1 */
    int quiet;
    int split_days; /* readings-YYYY-MM-DD.lp instead of readings.lp */
    int compress;   /* enum sim_compress, for the big feeds */
    const char *out_dir;
    /* District variants (tests of the scenes); the defaults change
     * nothing, so the default output stays byte for byte the same. */
    int gas_grain;              /* enum sim_gas_grain */
    double tenant_water;        /* factor on group-rental tenants' water; 1 */
    double tenant_power;        /* ... and electricity; 1 */
    double tenant_orders;       /* ... and orders a day; 1 */
    double tenant_order_share;  /* share of them who order; < 0: kinds' own */
    int excess_min, excess_max; /* people over the limit; 0 0: default */
    double confounders; /* factor on large family, business, short-term and
                           students' shares; 1 */
};

enum sim_gas_grain {
    SIM_GAS_DAILY,   /* a reading a day (default) */
    SIM_GAS_NONE,    /* no gas feed at all (the meters still exist) */
    SIM_GAS_MONTHLY, /* a manual read every 30 days and on the last */
};

/* ---- the district ---- */

enum sim_htype {
    SIM_H_COMMUTERS,
    SIM_H_FAMILY,
    SIM_H_RETIREES,
    SIM_H_STUDENTS,
    SIM_H_SHIFT,
    SIM_H_ELDERLY_ALONE,
    SIM_H_LARGE_FAMILY,
    SIM_H_VACANT,
    SIM_H_BUSINESS,
    SIM_H_SHORT_TERM,
    SIM_H_GROUP_RENTAL,
    SIM_H_COUNT
};
const char *sim_htype_name(int type);
extern const double sim_htype_share[SIM_H_COUNT];

enum sim_pkind {
    SIM_P_COMMUTER, /* leaves in the morning, back in the evening */
    SIM_P_RETIREE,
    SIM_P_HOMEMAKER, /* adult at home, often a grandparent */
    SIM_P_CHILD,     /* at school on school days */
    SIM_P_STUDENT,   /* university student, irregular, late nights */
    SIM_P_SHIFT,     /* 4-day rota: day, night, off, off */
    SIM_P_TENANT,    /* group-rental tenant: long hours, eats out */
    SIM_P_ELDER,     /* 75+ living alone */
    SIM_P_GUEST,     /* short-term rental guest: out sightseeing */
    SIM_P_COUNT
};
const char *sim_pkind_name(int kind);

enum sim_person_flag {
    SIM_PF_MIGRANT = 1 << 0, /* goes home for the Spring Festival */
    SIM_PF_ORDERS = 1 << 1,  /* orders food deliveries */
    SIM_PF_COOKS = 1 << 2,   /* cooks at home */
};

/* One person (guests of short-term rentals are not stored: see model). */
struct sim_person {
    uint8_t kind;                    /* enum sim_pkind */
    uint8_t flags;                   /* enum sim_person_flag */
    uint8_t leave_hour, return_hour; /* habitual, for workers */
    uint8_t shift_phase;             /* 0..3 for shift rotas */
    uint8_t tenure_days;             /* tenants: days per tenancy / 2 */
    uint16_t water_lpd;              /* litres on a full day at home */
    uint16_t elec_wh;                /* Wh on a full day at home */
    uint16_t gas_l;                  /* litres of gas cooking all meals */
    uint16_t order_milli;            /* delivery orders per 1000 days */
    uint16_t pad;
};

enum sim_hevent { SIM_EV_NONE, SIM_EV_STOP, SIM_EV_TRAVEL };

enum sim_metric { SIM_WATER = 0, SIM_ELEC = 1, SIM_GAS = 2, SIM_METRICS };

/* A meter's state; owned by the thread working on its block. */
struct sim_meter {
    int64_t count_micro; /* counted by the current meter since install */
    int64_t base_micro;  /* register shown at install */
    int32_t gap_until;   /* reports nothing before this hour index */
    int32_t stuck_until; /* counts nothing before this hour index */
    uint8_t present;
    uint8_t delta;   /* reports the field delta instead of index */
    int16_t drift_s; /* clock drift, seconds per day (0: exact) */
    int32_t pad;
};

struct sim_household {
    uint32_t building;
    uint32_t person_first; /* into sim_district.persons */
    uint8_t n_persons;     /* persons living here nominally */
    uint8_t type;          /* enum sim_htype */
    uint8_t rooms;         /* rooms designed for living (registry) */
    uint8_t registered;    /* registered occupants */
    uint8_t flags;         /* registry flags: enum household_flag bits */
    uint8_t event;         /* enum sim_hevent (elderly alone) */
    uint8_t cook_pct;      /* cooking intensity, % of a family's */
    uint8_t acp_pct;       /* heating and cooling propensity, % */
    uint8_t variant;       /* business kind; rental stay length */
    uint8_t water_heater;  /* 1: electric (no gas hot water) */
    uint16_t room_no;      /* 502 = floor 5, flat 2 */
    uint16_t area_dm2;     /* floor area in 0.1 m2 */
    uint16_t base_wh;      /* base load (fridge, standby), Wh per day */
    int32_t event_start;   /* hour index since the start, or -1 */
    int32_t event_end;     /* hour index, or -1 */
    struct sim_meter meter[SIM_METRICS];

    /* gas used since the last monthly read (--gas-grain 1mo) */
    int64_t gas_unread_micro;
};

struct sim_building {
    uint32_t compound;
    uint32_t household_first;
    uint16_t household_count;
    uint16_t number; /* 4 in "4号" */
    uint16_t street;
    uint8_t floors;
    uint8_t sun_pct; /* exposure: scales cooling, % */
    double lat, lon;
};

enum sim_compound_kind { SIM_C_WALKUP, SIM_C_MIDRISE, SIM_C_HIGHRISE };

struct sim_compound {
    uint32_t committee;
    uint32_t name_index; /* see sim_compound_name */
    uint16_t road;       /* global road index, see sim_road_name */
    uint16_t lane;       /* 123 in "123弄" */
    uint8_t kind;        /* enum sim_compound_kind */
    double lat, lon;
};

struct sim_committee {
    uint16_t street;
    uint32_t name_index; /* the name of its first compound */
    uint32_t household_first, household_count;
};

struct sim_poly {
    int n;
    double x[SIM_POLY_MAX], y[SIM_POLY_MAX]; /* lon, lat */
};

struct sim_street {
    const char *name;
    char id[8]; /* "S01".."S36" */
    int urban;  /* a street (街道) rather than a town (镇) */
    double weight;
    struct sim_poly poly;
    uint32_t committee_first, committee_count;
    uint32_t building_first, building_count;
    uint32_t household_first, household_count;
};

/* One local day of the run, with its calendar and weather. */
struct sim_day {
    int index;
    int64_t t0;                 /* epoch seconds of local midnight */
    int year, month, mday, dow; /* dow 0 = Monday */
    uint8_t workday, holiday, school, storm;
    int sf_offset;  /* days since the Spring Festival (lunar new year) */
    float temp[24]; /* degrees C, hour by hour */
    float t_mean;
    float heat_excess;    /* injected heat (or cold) wave, degrees C */
    char date[11];        /* "2026-11-01" */
    char ts_text[97][10]; /* epoch seconds of t0 + q * 900, as digits */
};

enum sim_incident_type {
    SIM_INC_STORM,
    SIM_INC_FESTIVAL,
    SIM_INC_WATER_MAIN,
    SIM_INC_HEAT_WAVE,
    SIM_INC_COLD_WAVE,
};

struct sim_incident {
    int type;
    int street; /* -1: district-wide */
    int64_t start, end;
    double lat, lon, radius_m;
    uint32_t building_first, building_count; /* water main: buildings cut */
    double degrees;                          /* heat or cold wave */
    char id[16];
};

struct sim_district {
    const struct sim_options *opt;
    struct sim_street streets[SIM_MAX_STREETS];
    int n_streets;
    struct sim_committee *committees;
    uint32_t n_committees;
    struct sim_compound *compounds;
    uint32_t n_compounds;
    struct sim_building *buildings;
    uint32_t n_buildings;
    struct sim_household *households;
    uint32_t n_households;
    struct sim_person *persons;
    uint32_t n_persons;
    struct sim_day *days;
    int n_days;
    struct sim_incident incidents[SIM_MAX_INCIDENTS];
    int n_incidents;
    uint64_t recipient_salt;
    char *counts_json; /* set by sim_run_feeds; freed with the district */
};

/* sim_names.c: fixed tables. */
const char *sim_street_name(int street);
double sim_street_weight(int street); /* thousands of residents */
int sim_street_is_urban(int street);
#define SIM_ROADS_PER_STREET 4
const char *sim_road_name(int road); /* road = street*4 + k */
/* Writes the name of compound name_index (e.g. "梅园三村") into out. */
void sim_compound_name(uint32_t name_index, char *out, size_t cap);
/* Lunar new year of year y as days since 1970-01-01, or -1 if unknown. */
int64_t sim_spring_festival(int year);

/* sim_geo.c: the outline and the street polygons. */
void sim_geo_build_streets(struct sim_district *d);
int sim_geo_contains(const struct sim_poly *p, double lon, double lat);
void sim_geo_random_point(const struct sim_poly *p, struct sim_rng *r,
                          double *OUT_lon, double *OUT_lat);
void sim_geo_to_json(const struct sim_district *d, struct sbuf *out);

/* sim_district.c: the registry. */
void sim_district_build(struct sim_district *d, const struct sim_options *o);
void sim_district_release(struct sim_district *d);
/* Append households [first, first+count) as CSV; the header when first
 * is 0. */
void sim_registry_csv(const struct sim_district *d, uint32_t first,
                      uint32_t count, struct sbuf *out);
void sim_truth_households_csv(const struct sim_district *d, uint32_t first,
                              uint32_t count, struct sbuf *out);
/* Legal limit (docs/SCENES.md): min(2 x rooms, area / 5). */
int sim_legal_limit(const struct sim_household *h);
/* Canonical parts of a household's address. */
struct sim_address {
    const char *road;
    unsigned lane, building, room;
    uint32_t compound_index; /* for sim_compound_name */
};
void sim_household_address(const struct sim_district *d, uint32_t h,
                           struct sim_address *OUT);

/* sim_calendar.c: days, weather, holidays and incidents. */
void sim_calendar_build(struct sim_district *d);
const char *sim_incident_type_name(int type);
/* The incident of the given type, or NULL. */
const struct sim_incident *sim_incident_find(const struct sim_district *d,
                                             int type);

/* sim_model.c: what a household uses on a day. */
#define SIM_HOURS 24
struct sim_use {
    double elec[SIM_HOURS];         /* kWh per hour */
    double water[SIM_HOURS];        /* m3 per hour */
    double gas;                     /* m3 for the day */
    int n_present;                  /* persons (guests included) used below */
    uint32_t home[SIM_MAX_PERSONS]; /* hour bits: person at home */
    uint64_t recipient[SIM_MAX_PERSONS]; /* 0: does not order */
    uint16_t order_milli[SIM_MAX_PERSONS];
    double order_factor; /* weather and calendar */
};
void sim_model_day(const struct sim_district *d, uint32_t h, int day,
                   struct sim_use *OUT);

/* sim_output.c: formatting, files and the parallel pipeline. */
enum sim_out {
    SIM_OUT_READINGS,
    SIM_OUT_DELIVERIES,
    SIM_OUT_FAULTS,
    SIM_OUT_ADDRESS_MAP,
    SIM_OUT_COUNT
};
/* What one work unit (a block of households on a day) produces. */
struct sim_batch {
    struct sbuf out[SIM_OUT_COUNT];
    struct sbuf scratch; /* a value being formatted (an address) */
    uint64_t n_readings, n_deliveries, n_faults;
    struct sbuf *late; /* the block's 4 late-delivery buffers */
};
/* An output file, plain or through a compressor process. */
struct sim_file {
    int fd;    /* the file, or the pipe to the compressor */
    int child; /* the compressor's pid, or 0 */
    char path[4096];
    uint64_t bytes; /* uncompressed bytes written */
};
/* Creates dir/name (+ ".zst", ".gz" or ".lz4"); errors are printed,
 * CB_EIO. */
int sim_file_open(struct sim_file *f, const char *dir, const char *name,
                  int compress);
int sim_file_write(struct sim_file *f, const void *buf, size_t n);
/* Closes and waits for the compressor; CB_EIO if anything failed. */
int sim_file_close(struct sim_file *f);
char *sim_fmt_u64(char *p, uint64_t v);
char *sim_fmt_fixed(char *p, int64_t v, int decimals);
/* "2026-11-01T08:00:00+08:00" (25 bytes, no NUL). */
char *sim_fmt_iso(char *p, int64_t epoch_s);
int sim_run_feeds(struct sim_district *d);

/* sim_meter.c: registers, faults and line protocol. */
void sim_meters_init(struct sim_district *d);
void sim_meters_day(struct sim_district *d, uint32_t h, int day,
                    const struct sim_use *use, struct sim_batch *b);
/* Appends to the batch's readings the late readings due on day `day`
 * (last = 0, called before the day's own readings), or all those still
 * held after the last day (last = 1, called after them). */
void sim_meters_flush_late(struct sim_batch *b, int day, int last);

/* sim_delivery.c: orders and address text. */
void sim_deliveries_day(const struct sim_district *d, uint32_t h, int day,
                        const struct sim_use *use, struct sim_batch *b);
enum sim_address_form {
    SIM_ADDR_CANONICAL, /* 上海市浦东新区张杨路123弄4号502室 */
    SIM_ADDR_SHORT,     /* 浦东张杨路123弄4号楼502 */
    SIM_ADDR_BARE,      /* 张杨路123弄4号502室 */
    SIM_ADDR_FULLWIDTH, /* 上海市浦东新区张杨路１２３弄４号５０２室 */
    SIM_ADDR_DONG,     /* 浦东新区张杨路123弄4栋502室 / 4幢502 */
    SIM_ADDR_SPACES,   /* 上海市 浦东新区 张杨路123弄 4号 502室 */
    SIM_ADDR_HYPHEN,   /* 张杨路123弄4-502 */
    SIM_ADDR_COMPOUND, /* 浦东新区张杨路123弄(梅园一村)4号502室 */
    SIM_ADDR_NO_BUILDING, /* 张杨路123弄502室: cannot be matched */
    SIM_ADDR_FORMS
};
const char *sim_address_form_name(int form);
void sim_address_text(const struct sim_district *d, uint32_t h, int form,
                      int variant, struct sbuf *out);

/* sim_events.c: department events. */
struct sim_event_counter {
    uint32_t seq[5]; /* per source, per year of the run */
    int year;
};
void sim_events_day(const struct sim_district *d, int day,
                    struct sim_event_counter *c, struct sbuf *events,
                    struct sbuf *truth, uint64_t *OUT_n);
void sim_incidents_csv(const struct sim_district *d, struct sbuf *out);

/* sim_committee.c: the committee simulator's working time.  t (epoch s)
 * plus hours of working time, Monday to Friday 09:00-18:00 at UTC offset
 * tz_minutes; a start outside working time first moves to the next
 * opening. */
int64_t sim_working_hours_add(int64_t t, double hours, int tz_minutes);

#endif
