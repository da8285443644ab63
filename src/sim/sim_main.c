/*
 * sim_main.c - `citybrain simulate`: options, then registry, feeds and
 * truth, in that order (see sim.h for the files).
 */
#include "sim/sim.h"
#include "sim/sim_int.h"
#include "util/jsonw.h"

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: citybrain simulate --households N --days D --seed S --out DIR\n"
    "                          [options]\n"
    "\n"
    "Generates a synthetic Pudong-like district into DIR: the registry,\n"
    "meter readings, delivery orders and department events in citybrain's\n"
    "ingest formats, and the ground truth under DIR/truth.  The same\n"
    "arguments give byte-identical files, whatever --threads.\n"
    "\n"
    "  --households N          1000 to 2000000\n"
    "  --days D                1 to 366\n"
    "  --seed S                any unsigned 64-bit integer\n"
    "  --out DIR               created if missing; files are overwritten\n"
    "  --start YYYY-MM-DD      first local day (default 2026-11-01)\n"
    "  --electricity-grain G   1h (default), 15m or 1d\n"
    "  --water-grain G         1h (default) or 1d\n"
    "  --gas-grain G           1d (default), 1mo (a manual read every 30\n"
    "                          days) or none (no gas feed)\n"
    "District variants (the defaults change nothing):\n"
    "  --tenant-water F        group-rental tenants' water x F (0.2-5)\n"
    "  --tenant-power F        ... their electricity x F (0.2-5)\n"
    "  --tenant-orders F       ... their delivery orders a day x F (0-5)\n"
    "  --tenant-order-share P  share of tenants who order at all (0-1)\n"
    "  --rental-excess A-B     group rentals hold the legal limit plus A\n"
    "                          to B people (1 <= A <= B <= 14)\n"
    "  --confounders F         shares of large families, home businesses,\n"
    "                          short-term rentals and students x F (0-5)\n"
    "  --split-days            readings-YYYY-MM-DD.lp per delivery day\n"
    "                          instead of one readings.lp\n"
    "  --compress C            none (default), zstd, lz4 or gzip: the\n"
    "                          readings and deliveries go through that\n"
    "                          program (-1) into .zst, .lz4 or .gz files\n"
    "  --threads N             worker threads (default: all CPUs)\n"
    "  --quiet                 no progress on stderr\n";

static int bad_value(const char *opt, const char *value, const char *want)
{
    fprintf(stderr, "simulate: bad value for %s: '%s' (expected %s)\n", opt,
            value, want);
    return 2;
}

static int parse_range(const char *s, long long lo, long long hi,
                       long long *OUT)
{
    int64_t v;
    if (parse_int64(s, strlen(s), &v) < 0 || v < lo || v > hi)
        return -1;
    *OUT = v;
    return 0;
}

static int parse_seed(const char *s, uint64_t *OUT)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *OUT = v;
    return 0;
}

static int parse_date(const char *s, int64_t *OUT_day)
{
    int y;
    unsigned m, d, yy, mm, dd;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4u-%2u-%2u%c", &yy, &mm, &dd, &tail) != 3)
        return -1;
    if (yy < 1971 || yy > 2099 || mm < 1 || mm > 12 || dd < 1 || dd > 31)
        return -1;
    *OUT_day = time_days_from_civil((int)yy, mm, dd);
    time_civil_from_days(*OUT_day, &y, &m, &d);
    return y == (int)yy && m == mm && d == dd ? 0 : -1;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static int parse_factor(const char *s, double lo, double hi, double *OUT)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || errno || *end || !(v >= lo && v <= hi))
        return -1;
    *OUT = v;
    return 0;
}

/* The district-variant options; returns 1 when opt is one of them (with
 * the exit status in OUT_rc), 0 otherwise. */
static int apply_variant(struct sim_options *o, const char *opt, const char *v,
                         int *OUT_rc)
{
    static const struct {
        const char *name;
        size_t field;
        double lo, hi;
        const char *want;
    } factors[] = {
        {"--tenant-water", offsetof(struct sim_options, tenant_water), 0.2, 5,
         "a number from 0.2 to 5"},
        {"--tenant-power", offsetof(struct sim_options, tenant_power), 0.2, 5,
         "a number from 0.2 to 5"},
        {"--tenant-orders", offsetof(struct sim_options, tenant_orders), 0, 5,
         "a number from 0 to 5"},
        {"--tenant-order-share",
         offsetof(struct sim_options, tenant_order_share), 0, 1,
         "a number from 0 to 1"},
        {"--confounders", offsetof(struct sim_options, confounders), 0, 5,
         "a number from 0 to 5"},
    };
    *OUT_rc = 0;
    for (size_t i = 0; i < sizeof(factors) / sizeof(factors[0]); i++) {
        if (strcmp(opt, factors[i].name))
            continue;
        double *field = (double *)((char *)o + factors[i].field);
        if (parse_factor(v, factors[i].lo, factors[i].hi, field) < 0)
            *OUT_rc = bad_value(opt, v, factors[i].want);
        return 1;
    }
    if (strcmp(opt, "--rental-excess"))
        return 0;
    unsigned a, b;
    char tail;
    if (sscanf(v, "%u-%u%c", &a, &b, &tail) != 2 || a < 1 || b < a || b > 14)
        *OUT_rc = bad_value(opt, v, "A-B with 1 <= A <= B <= 14");
    o->excess_min = (int)a;
    o->excess_max = (int)b;
    return 1;
}

struct parse_state {
    struct sim_options *o;
    int have_households, have_days, have_seed;
};

/* Applies one option with a value; returns 0 or an exit status. */
static int apply_value(struct parse_state *ps, const char *opt, const char *v)
{
    struct sim_options *o = ps->o;
    long long n;
    int rc;
    if (!strcmp(opt, "--households")) {
        if (parse_range(v, SIM_MIN_HOUSEHOLDS, SIM_MAX_HOUSEHOLDS, &n) < 0)
            return bad_value(opt, v, "an integer from 1000 to 2000000");
        o->households = (uint32_t)n;
        ps->have_households = 1;
    } else if (!strcmp(opt, "--days")) {
        if (parse_range(v, 1, SIM_MAX_DAYS, &n) < 0)
            return bad_value(opt, v, "an integer from 1 to 366");
        o->days = (int)n;
        ps->have_days = 1;
    } else if (!strcmp(opt, "--seed")) {
        if (parse_seed(v, &o->seed) < 0)
            return bad_value(opt, v, "an unsigned 64-bit integer");
        ps->have_seed = 1;
    } else if (!strcmp(opt, "--out")) {
        if (!*v)
            return bad_value(opt, v, "a directory");
        o->out_dir = v;
    } else if (!strcmp(opt, "--start")) {
        if (parse_date(v, &o->start_day) < 0)
            return bad_value(opt, v, "a date YYYY-MM-DD from 1971 to 2099");
    } else if (!strcmp(opt, "--electricity-grain")) {
        if (strcmp(v, "1h") && strcmp(v, "15m") && strcmp(v, "1d"))
            return bad_value(opt, v, "1h, 15m or 1d");
        o->elec_interval_s = !strcmp(v, "1h")    ? 3600
                             : !strcmp(v, "15m") ? 900
                                                 : 86400;
    } else if (!strcmp(opt, "--gas-grain")) {
        if (strcmp(v, "1d") && strcmp(v, "1mo") && strcmp(v, "none"))
            return bad_value(opt, v, "1d, 1mo or none");
        o->gas_grain = !strcmp(v, "1d")    ? SIM_GAS_DAILY
                       : !strcmp(v, "1mo") ? SIM_GAS_MONTHLY
                                           : SIM_GAS_NONE;
    } else if (!strcmp(opt, "--water-grain")) {
        if (strcmp(v, "1h") && strcmp(v, "1d"))
            return bad_value(opt, v, "1h or 1d");
        o->water_interval_s = !strcmp(v, "1h") ? 3600 : 86400;
    } else if (!strcmp(opt, "--compress")) {
        if (!strcmp(v, "none"))
            o->compress = SIM_COMPRESS_NONE;
        else if (!strcmp(v, "zstd"))
            o->compress = SIM_COMPRESS_ZSTD;
        else if (!strcmp(v, "gzip"))
            o->compress = SIM_COMPRESS_GZIP;
        else if (!strcmp(v, "lz4"))
            o->compress = SIM_COMPRESS_LZ4;
        else
            return bad_value(opt, v, "none, zstd, lz4 or gzip");
    } else if (apply_variant(o, opt, v, &rc)) {
        return rc;
    } else if (!strcmp(opt, "--threads")) {
        if (parse_range(v, 1, 64, &n) < 0)
            return bad_value(opt, v, "an integer from 1 to 64");
        o->threads = (int)n;
    } else {
        fprintf(stderr,
                "simulate: unknown option '%s' (see citybrain simulate "
                "--help)\n",
                opt);
        return 2;
    }
    return 0;
}

static int apply_flag(struct parse_state *ps, const char *opt)
{
    if (!strcmp(opt, "--quiet"))
        ps->o->quiet = 1;
    else if (!strcmp(opt, "--split-days"))
        ps->o->split_days = 1;
    else
        return -1;
    return 0;
}

static int check_required(const struct parse_state *ps)
{
    const char *missing = !ps->have_households ? "--households"
                          : !ps->have_days     ? "--days"
                          : !ps->have_seed     ? "--seed"
                          : !ps->o->out_dir    ? "--out"
                                               : NULL;
    if (!missing)
        return 0;
    fprintf(stderr,
            "simulate: %s is required (see citybrain simulate "
            "--help)\n",
            missing);
    return 2;
}

/* Parses argv (argv[0] is "simulate"); returns 0, 2 on a bad argument,
 * or -1 when --help was asked for. */
static int parse_args(int argc, char **argv, struct sim_options *o)
{
    struct parse_state ps = {o, 0, 0, 0};
    memset(o, 0, sizeof(*o));
    o->start_day = time_days_from_civil(2026, 11, 1);
    o->elec_interval_s = o->water_interval_s = 3600;
    o->tenant_water = o->tenant_power = o->tenant_orders = 1;
    o->tenant_order_share = -1;
    o->confounders = 1;
    o->threads = default_threads();
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        char opt[64];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return -1;
        if (apply_flag(&ps, arg) == 0)
            continue;
        if (strncmp(arg, "--", 2) ||
            (eq && (size_t)(eq - arg) >= sizeof(opt))) {
            fprintf(stderr, "simulate: unexpected argument '%s'\n", arg);
            return 2;
        }
        snprintf(opt, sizeof(opt), "%.*s",
                 eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        if (!eq && i + 1 >= argc) {
            fprintf(stderr, "simulate: option '%s' needs a value\n", arg);
            return 2;
        }
        int rc = apply_value(&ps, opt, eq ? eq + 1 : argv[++i]);
        if (rc)
            return rc;
    }
    return check_required(&ps);
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "simulate: cannot create directory '%s': %s\n", path,
            strerror(errno));
    return CB_EIO;
}

static int make_dirs(const char *out)
{
    char path[4096];
    size_t n = strlen(out);
    if (n + 7 >= sizeof(path)) {
        fprintf(stderr, "simulate: output path too long: '%s'\n", out);
        return CB_EIO;
    }
    memcpy(path, out, n + 1);
    for (size_t k = 1; k < n; k++) { /* mkdir -p */
        if (path[k] != '/')
            continue;
        path[k] = '\0';
        int rc = make_dir(path);
        path[k] = '/';
        if (rc)
            return rc;
    }
    if (make_dir(out))
        return CB_EIO;
    snprintf(path, sizeof(path), "%s/truth", out);
    return make_dir(path);
}

typedef void (*sim_rows_fn)(const struct sim_district *d, uint32_t first,
                            uint32_t count, struct sbuf *out);

/* Writes one CSV of all households, 64k rows at a time. */
static int write_rows(const struct sim_district *d, const char *name,
                      sim_rows_fn rows)
{
    struct sim_file f;
    struct sbuf sb = SBUF_INIT;
    int rc = sim_file_open(&f, d->opt->out_dir, name, SIM_COMPRESS_NONE);
    for (uint32_t first = 0; !rc && first < d->n_households; first += 65536) {
        uint32_t n = d->n_households - first;
        sbuf_reset(&sb);
        rows(d, first, n > 65536 ? 65536 : n, &sb);
        rc = sim_file_write(&f, sb.buf, sb.len);
    }
    if (f.fd >= 0 && sim_file_close(&f) < 0)
        rc = CB_EIO;
    sbuf_release(&sb);
    return rc;
}

static int write_small(const struct sim_district *d, const char *name,
                       const struct sbuf *sb)
{
    struct sim_file f;
    int rc = sim_file_open(&f, d->opt->out_dir, name, SIM_COMPRESS_NONE);
    if (!rc)
        rc = sim_file_write(&f, sb->buf, sb->len);
    if (f.fd >= 0 && sim_file_close(&f) < 0)
        rc = CB_EIO;
    return rc;
}

static int write_registry(const struct sim_district *d)
{
    struct sbuf sb = SBUF_INIT;
    int rc = write_rows(d, "households.csv", sim_registry_csv);
    if (!rc)
        rc = write_rows(d, "truth/households.csv", sim_truth_households_csv);
    sim_geo_to_json(d, &sb);
    if (!rc)
        rc = write_small(d, "streets.geojson", &sb);
    sbuf_release(&sb);
    return rc;
}

/* The variant options, only those off their defaults (so that a default
 * run's manifest stays as it was). */
static void manifest_variant(const struct sim_options *o, struct jsonw *w)
{
    if (o->tenant_water != 1)
        jsonw_kv_double_sig(w, "tenant_water", o->tenant_water, 6);
    if (o->tenant_power != 1)
        jsonw_kv_double_sig(w, "tenant_power", o->tenant_power, 6);
    if (o->tenant_orders != 1)
        jsonw_kv_double_sig(w, "tenant_orders", o->tenant_orders, 6);
    if (o->tenant_order_share >= 0)
        jsonw_kv_double_sig(w, "tenant_order_share", o->tenant_order_share, 6);
    if (o->excess_max > 0)
        jsonw_kv_strf(w, "rental_excess", "%d-%d", o->excess_min,
                      o->excess_max);
    if (o->confounders != 1)
        jsonw_kv_double_sig(w, "confounders", o->confounders, 6);
}

static void manifest(const struct sim_district *d, struct sbuf *sb)
{
    static const char *const compress_names[] = {"none", "zstd", "gzip", "lz4"};
    static const char *const gas_names[] = {"1d", "none", "1mo"};
    const struct sim_options *o = d->opt;
    struct jsonw w;
    jsonw_init(&w, sb);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "generator", "citybrain simulate");
    jsonw_kv_int(&w, "format", 1);
    jsonw_kv_int(&w, "households", o->households);
    jsonw_kv_int(&w, "days", o->days);
    jsonw_kv_uint(&w, "seed", o->seed);
    jsonw_kv_str(&w, "start", d->days[0].date);
    jsonw_kv_str(&w, "timezone", "+08:00");
    jsonw_kv_str(&w, "electricity_grain",
                 o->elec_interval_s == 900    ? "15m"
                 : o->elec_interval_s == 3600 ? "1h"
                                              : "1d");
    jsonw_kv_str(&w, "water_grain", o->water_interval_s == 3600 ? "1h" : "1d");
    jsonw_kv_str(&w, "gas_grain", gas_names[o->gas_grain]);
    jsonw_kv_bool(&w, "split_days", o->split_days);
    jsonw_kv_str(&w, "compress", compress_names[o->compress]);
    manifest_variant(o, &w);
    jsonw_key(&w, "district");
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "streets", d->n_streets);
    jsonw_kv_int(&w, "committees", d->n_committees);
    jsonw_kv_int(&w, "compounds", d->n_compounds);
    jsonw_kv_int(&w, "buildings", d->n_buildings);
    jsonw_kv_int(&w, "persons", d->n_persons);
    jsonw_object_end(&w);
    jsonw_key(&w, "counts"); /* sim_run_feeds wrote it with jsonw */
    if (d->counts_json)
        jsonw_raw(&w, d->counts_json, strlen(d->counts_json));
    else
        jsonw_raw(&w, "{}", 2);
    jsonw_object_end(&w);
    sbuf_addch(sb, '\n');
}

static int write_epilogue(const struct sim_district *d)
{
    struct sbuf sb = SBUF_INIT;
    sim_incidents_csv(d, &sb);
    int rc = write_small(d, "truth/incidents.csv", &sb);
    sbuf_reset(&sb);
    manifest(d, &sb);
    if (!rc)
        rc = write_small(d, "manifest.json", &sb);
    sbuf_release(&sb);
    return rc;
}

static int simulate(const struct sim_options *o)
{
    struct sim_district d;
    int64_t t = time_monotonic_ns();
    if (make_dirs(o->out_dir))
        return 1;
    if (o->compress)
        signal(SIGPIPE, SIG_IGN); /* a dead compressor is an EPIPE */
    sim_district_build(&d, o);
    sim_calendar_build(&d);
    if (!o->quiet)
        fprintf(stderr,
                "simulate: district of %u households, %u committees, %u "
                "buildings, %u people in %.1f s\n",
                d.n_households, d.n_committees, d.n_buildings, d.n_persons,
                (time_monotonic_ns() - t) / 1e9);
    int rc = write_registry(&d);
    if (!rc)
        rc = sim_run_feeds(&d);
    if (!rc)
        rc = write_epilogue(&d);
    if (!rc && !o->quiet)
        fprintf(stderr, "simulate: done in %.1f s, files in '%s'\n",
                (time_monotonic_ns() - t) / 1e9, o->out_dir);
    sim_district_release(&d);
    return rc ? 1 : 0;
}

int sim_main(int argc, char **argv)
{
    struct sim_options o;
    int rc = parse_args(argc, argv, &o);
    if (rc < 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    return rc ? rc : simulate(&o);
}
