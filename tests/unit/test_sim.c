/*
 * test_sim.c - the simulated district (`citybrain simulate`), black-box:
 * it runs sim_main into temporary directories and checks the files
 * against BRIEF section 4, the CONTRACT formats and the ground truth.
 *
 * One district of 2,000 households x 14 days from 2026-04-13 (a mild
 * season, so electricity is base load + people) is shared by most tests;
 * the season, holiday and determinism tests make small districts of their
 * own.  The readings, registry, orders and events are parsed with
 * citybrain's own ingest parsers, and the addresses matched with its
 * address index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address/address.h"
#include "ingest/ingest.h"
#include "sim/sim.h"
#include "sim/sim_int.h"
#include "util/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define HOUSEHOLDS 2000
#define DAYS 14

/* ---- helpers ---- */

static int run_sim(const char *out, const char *households, const char *days,
                   const char *seed, const char *start, const char *extra)
{
    char *argv[16] = {"simulate",   "--households", (char *)households,
                      "--days",     (char *)days,   "--seed",
                      (char *)seed, "--out",        (char *)out,
                      "--start",    (char *)start,  "--quiet"};
    int argc = 12;
    if (extra)
        argv[argc++] = (char *)extra;
    return sim_main(argc, argv);
}

static char *slurp(const char *dir, const char *name, size_t *OUT_len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = xmalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    if (OUT_len)
        *OUT_len = got;
    return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int household_index(const char *id)
{
    return atoi(id + 1) - 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n ? v[n / 2] : NAN;
}

/* ---- the shared district ---- */

struct truth_row {
    char type[24];
    int true_occupants, registered, legal_limit, elderly;
    char event[8];
    int64_t event_start;
    int gas_meter;
};

struct fixture {
    char dir[64];
    struct truth_row truth[HOUSEHOLDS];
    uint8_t faulty[HOUSEHOLDS][SIM_METRICS];
    double use[HOUSEHOLDS][SIM_METRICS]; /* per day; NAN: unknown */
    size_t n_readings;
};

static struct fixture *fx;

static int64_t parse_iso_s(const char *s, size_t len)
{
    int64_t ns;
    if (len == 0 || time_parse_iso(s, len, &ns, NULL) < 0)
        return -1;
    return ns / 1000000000;
}

/* Splits one CSV line (no quoting in the simulator's files). */
static int split_csv(char *line, char **fields, int max)
{
    int n = 0;
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == ',') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    }
    return n;
}

static void load_truth(struct fixture *f)
{
    char *text = slurp(f->dir, "truth/households.csv", NULL);
    assert_non_null(text);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    for (line = strtok_r(NULL, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *c[16];
        assert_int_equal(split_csv(line, c, 16), 15);
        struct truth_row *t = &f->truth[household_index(c[0])];
        snprintf(t->type, sizeof(t->type), "%s", c[1]);
        t->true_occupants = atoi(c[2]);
        t->registered = atoi(c[3]);
        t->legal_limit = atoi(c[4]);
        t->elderly = atoi(c[7]);
        snprintf(t->event, sizeof(t->event), "%s", c[8]);
        t->event_start = parse_iso_s(c[9], strlen(c[9]));
        t->gas_meter = strcmp(c[13], "none") != 0;
    }
    free(text);
}

static void load_faults(struct fixture *f)
{
    char *text = slurp(f->dir, "truth/faults.csv", NULL);
    assert_non_null(text);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    for (line = strtok_r(NULL, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *c[8];
        split_csv(line, c, 8);
        int metric = metric_parse(c[1], strlen(c[1]));
        assert_true(metric >= 0);
        f->faulty[household_index(c[0])][metric] = 1;
    }
    free(text);
}

/* Use per household and meter over the whole run, from the readings
 * (index: last minus first register; delta: the sum); NAN when a meter
 * sent nothing.  Returns the number of readings. */
static size_t meter_use(const char *dir, int households,
                        double (*use)[SIM_METRICS])
{
    size_t len, n;
    char *body = slurp(dir, "readings.lp", &len);
    struct ingest_batch b;
    static int64_t t_first[HOUSEHOLDS][SIM_METRICS];
    static int64_t t_last[HOUSEHOLDS][SIM_METRICS];
    static double v_first[HOUSEHOLDS][SIM_METRICS];
    static double v_last[HOUSEHOLDS][SIM_METRICS], sum[HOUSEHOLDS][SIM_METRICS];
    static uint8_t delta[HOUSEHOLDS][SIM_METRICS];
    assert_non_null(body);
    assert_true(households <= HOUSEHOLDS);
    ingest_batch_init(&b, FEED_READINGS);
    assert_int_equal(
        ingest_parse_lineproto(body, len, PRECISION_S, 100000000, &b), 0);
    assert_int_equal(b.errors_total, 0);
    memset(t_first, 0x7f, sizeof(t_first));
    memset(t_last, 0, sizeof(t_last));
    memset(sum, 0, sizeof(sum));
    memset(delta, 0, sizeof(delta));
    for (size_t i = 0; i < b.n; i++) {
        const struct reading *r = &b.readings[i];
        int h = household_index(r->household_id), m = r->metric;
        int64_t t = r->ts_ns / 1000000000;
        if (r->field == READING_DELTA) {
            delta[h][m] = 1;
            sum[h][m] += r->value;
        }
        if (t < t_first[h][m])
            t_first[h][m] = t, v_first[h][m] = r->value;
        if (t > t_last[h][m])
            t_last[h][m] = t, v_last[h][m] = r->value;
    }
    for (int h = 0; h < households; h++)
        for (int m = 0; m < SIM_METRICS; m++)
            use[h][m] = t_last[h][m] == 0 ? NAN
                        : delta[h][m]     ? sum[h][m]
                                          : v_last[h][m] - v_first[h][m];
    n = b.n;
    ingest_batch_release(&b);
    free(body);
    return n;
}

/* Daily use of the shared district, NAN for meters with any fault. */
static void load_use(struct fixture *f)
{
    f->n_readings = meter_use(f->dir, HOUSEHOLDS, f->use);
    for (int h = 0; h < HOUSEHOLDS; h++)
        for (int m = 0; m < SIM_METRICS; m++)
            f->use[h][m] = f->faulty[h][m] ? NAN : f->use[h][m] / DAYS;
}

static int setup_district(void **state)
{
    fx = xcalloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/cb-test-sim-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    char days[8];
    snprintf(days, sizeof(days), "%d", DAYS);
    assert_int_equal(run_sim(fx->dir, "2000", days, "42", "2026-04-13", NULL),
                     0);
    load_truth(fx);
    load_faults(fx);
    load_use(fx);
    return 0;
}

static int teardown_district(void **state)
{
    rm_tree(fx->dir);
    free(fx);
    return 0;
}

static int is_ordinary(const struct truth_row *t)
{
    static const char *const ordinary[] = {"commuters",     "family_children",
                                           "retirees",      "students_sharing",
                                           "shift_workers", "elderly_alone"};
    for (size_t k = 0; k < N(ordinary); k++)
        if (!strcmp(t->type, ordinary[k]))
            return 1;
    return 0;
}

/* ---- BRIEF section 4 ---- */

static void test_water_per_person(void **state)
{
    double *v = xcalloc(HOUSEHOLDS, sizeof(*v));
    size_t n = 0;
    for (int h = 0; h < HOUSEHOLDS; h++)
        if (is_ordinary(&fx->truth[h]) && !isnan(fx->use[h][SIM_WATER]))
            v[n++] = fx->use[h][SIM_WATER] / fx->truth[h].true_occupants;
    double m = median(v, n);
    print_message("water: median %.3f m3 per person per day (n=%zu)\n", m, n);
    assert_true(n > 1000);
    /* 110-150 l at home, lower on commuters' workdays */
    assert_true(m >= 0.105 && m <= 0.150);
    free(v);
}

static void test_electricity_base_and_per_person(void **state)
{
    /* least squares: kWh/day = base + per_person * occupants */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
    for (int h = 0; h < HOUSEHOLDS; h++) {
        double y = fx->use[h][SIM_ELEC];
        if (!is_ordinary(&fx->truth[h]) || isnan(y))
            continue;
        double x = fx->truth[h].true_occupants;
        sx += x, sy += y, sxx += x * x, sxy += x * y, n++;
    }
    double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    double base = (sy - slope * sx) / n;
    print_message("electricity: %.2f kWh/day + %.2f per person\n", base, slope);
    assert_true(base >= 1.5 && base <= 3.5);
    assert_true(slope >= 1.5 && slope <= 3.0);
}

static void test_gas_per_person(void **state)
{
    double *v = xcalloc(HOUSEHOLDS, sizeof(*v));
    size_t n = 0, no_meter = 0;
    for (int h = 0; h < HOUSEHOLDS; h++) {
        const struct truth_row *t = &fx->truth[h];
        no_meter += !t->gas_meter;
        if (is_ordinary(t) && t->gas_meter && !isnan(fx->use[h][SIM_GAS]))
            v[n++] = fx->use[h][SIM_GAS] / t->true_occupants;
    }
    double m = median(v, n);
    print_message("gas: median %.3f m3 per person per day; %zu flats without "
                  "a gas meter\n",
                  m, no_meter);
    assert_true(m >= 0.15 && m <= 0.30);
    assert_true(no_meter > HOUSEHOLDS * 0.06 && no_meter < HOUSEHOLDS * 0.2);
    free(v);
}

static void test_household_type_shares(void **state)
{
    for (int type = 0; type < SIM_H_COUNT; type++) {
        int n = 0;
        for (int h = 0; h < HOUSEHOLDS; h++)
            n += !strcmp(fx->truth[h].type, sim_htype_name(type));
        double share = (double)n / HOUSEHOLDS, want = sim_htype_share[type];
        print_message("%-18s %.4f (target %.4f)\n", sim_htype_name(type), share,
                      want);
        assert_true(fabs(share - want) <= 0.3 * want + 0.01);
    }
}

static void test_hidden_truth_is_consistent(void **state)
{
    int group = 0;
    for (int h = 0; h < HOUSEHOLDS; h++) {
        const struct truth_row *t = &fx->truth[h];
        if (!strcmp(t->type, "group_rental")) {
            group++;
            assert_in_range(t->true_occupants, 6, 20);
            assert_true(t->true_occupants > t->legal_limit);
            assert_true(t->true_occupants > t->registered);
        }
        if (!strcmp(t->type, "large_family"))
            assert_true(t->registered >= 4 && t->true_occupants >= 5);
        if (!strcmp(t->type, "students_sharing")) /* legally */
            assert_true(t->true_occupants <= t->legal_limit);
        if (!strcmp(t->type, "vacant"))
            assert_int_equal(t->true_occupants, 0);
        if (t->elderly)
            assert_int_equal(t->true_occupants, 1);
    }
    /* group rentals: about 1-2% of flats */
    assert_true(group >= HOUSEHOLDS / 100 && group <= HOUSEHOLDS * 25 / 1000);
}

/* Group rentals use more water than the ordinary flats, but not so much
 * more that the two do not overlap. */
static void test_group_rentals_stand_out_but_overlap(void **state)
{
    double *g = xcalloc(HOUSEHOLDS, sizeof(*g));
    double *o = xcalloc(HOUSEHOLDS, sizeof(*o));
    size_t ng = 0, no = 0;
    for (int h = 0; h < HOUSEHOLDS; h++) {
        double w = fx->use[h][SIM_WATER];
        if (isnan(w))
            continue;
        if (!strcmp(fx->truth[h].type, "group_rental"))
            g[ng++] = w;
        else if (strcmp(fx->truth[h].type, "vacant"))
            o[no++] = w;
    }
    double mg = median(g, ng), mo = median(o, no);
    double lowest_group = g[0], top_ordinary = o[no - 1];
    print_message("water per flat: group rentals %.2f, others %.2f m3/day\n",
                  mg, mo);
    assert_true(mg > 2 * mo);
    assert_true(lowest_group < top_ordinary);
    free(g);
    free(o);
}

/* ---- faults ---- */

static void test_fault_rates(void **state)
{
    char *text = slurp(fx->dir, "truth/faults.csv", NULL);
    static const char *const kinds[] = {
        "gap",    "stuck",     "replacement",  "rollover", "late",
        "resend", "duplicate", "out_of_order", "spike",    "clock_drift"};
    int count[N(kinds)] = {0};
    for (char *p = strchr(text, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        char *fault = strchr(strchr(p + 1, ',') + 1, ',') + 1;
        for (size_t k = 0; k < N(kinds); k++)
            if (!strncmp(fault, kinds[k], strlen(kinds[k])) &&
                fault[strlen(kinds[k])] == ',')
                count[k]++;
    }
    for (size_t k = 0; k < N(kinds); k++) {
        print_message("%-12s %d\n", kinds[k], count[k]);
        assert_true(count[k] > 0);
    }
    double meter_days = HOUSEHOLDS * DAYS * 2.88;
    double dup = count[6] / (double)fx->n_readings;
    double gap = count[0] / meter_days;
    assert_true(dup > 0.00025 && dup < 0.001);     /* 0.05% per reading */
    assert_true(gap > 0.002 && gap < 0.006);       /* 0.3% + week gaps */
    assert_true(count[3] < HOUSEHOLDS * 3 * 0.01); /* 0.3% of meters */
    free(text);
}

/* Duplicated lines are really in the feed, identical. */
static void test_duplicates_are_in_the_feed(void **state)
{
    size_t len;
    char *body = slurp(fx->dir, "readings.lp", &len);
    size_t n = 0, dups = 0;
    char **lines = xcalloc(fx->n_readings + 1, sizeof(*lines));
    for (char *p = body; *p && n <= fx->n_readings;) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    for (size_t i = 1; i < n; i++)
        dups += !strcmp(lines[i], lines[i - 1]);
    print_message("adjacent identical lines: %zu of %zu\n", dups, n);
    assert_true(dups > fx->n_readings * 0.0002);
    free(lines);
    free(body);
}

/* ---- formats ---- */

static void test_registry_parses(void **state)
{
    size_t len;
    char *body = slurp(fx->dir, "households.csv", &len);
    struct ingest_batch b;
    ingest_batch_init(&b, FEED_REGISTRY);
    assert_int_equal(ingest_parse_households(body, len, 0, 1000000, &b), 0);
    assert_int_equal(b.errors_total, 0);
    assert_int_equal(b.n, HOUSEHOLDS);
    int streets[SIM_MAX_STREETS] = {0}, flagged = 0;
    for (size_t i = 0; i < b.n; i++) {
        const struct household *h = &b.households[i];
        int s = -1;
        for (int k = 0; k < SIM_MAX_STREETS; k++)
            if (!strcmp(h->street, sim_street_name(k)))
                s = k;
        assert_true(s >= 0);
        streets[s]++;
        assert_true(h->lat > 31.05 && h->lat < 31.35);
        assert_true(h->lon > 121.45 && h->lon < 121.95);
        assert_true(h->area_m2 >= 20 && h->rooms >= 1);
        assert_non_null(strstr(h->committee, "居委会"));
        flagged += h->flags != 0;
    }
    for (int k = 0; k < SIM_MAX_STREETS; k++)
        assert_true(streets[k] >= 8);
    assert_true(flagged > 0);
    ingest_batch_release(&b);
    free(body);
}

static void test_orders_and_events_parse(void **state)
{
    size_t len;
    char *body = slurp(fx->dir, "deliveries.ndjson", &len);
    struct ingest_batch b;
    ingest_batch_init(&b, FEED_DELIVERIES);
    assert_int_equal(ingest_parse_deliveries(body, len, 10000000, &b), 0);
    assert_int_equal(b.errors_total, 0);
    assert_true(b.n > HOUSEHOLDS * DAYS / 4);
    for (size_t i = 0; i < b.n; i++) {
        const char *r = b.deliveries[i].recipient;
        assert_int_equal(strlen(r), 16);
        assert_int_equal(strspn(r, "0123456789abcdef"), 16);
    }
    ingest_batch_release(&b);
    free(body);
    body = slurp(fx->dir, "events.ndjson", &len);
    ingest_batch_init(&b, FEED_EVENTS);
    assert_int_equal(ingest_parse_events(body, len, 10000000, &b), 0);
    assert_int_equal(b.errors_total, 0);
    /* about 15 events per 1,000 households a day */
    assert_true(b.n > HOUSEHOLDS * DAYS * 0.008 &&
                b.n < HOUSEHOLDS * DAYS * 0.03);
    ingest_batch_release(&b);
    free(body);
}

/* Every address form except the one without a building number matches
 * its household through citybrain's address index. */
static void test_addresses_match_their_flats(void **state)
{
    size_t len;
    char *reg = slurp(fx->dir, "households.csv", &len);
    struct ingest_batch hb, db;
    struct address_index *ix = address_index_new();
    ingest_batch_init(&hb, FEED_REGISTRY);
    assert_int_equal(ingest_parse_households(reg, len, 0, 1000000, &hb), 0);
    for (size_t i = 0; i < hb.n; i++)
        address_index_put(ix, hb.households[i].address,
                          strlen(hb.households[i].address), (int32_t)i);
    char *orders = slurp(fx->dir, "deliveries.ndjson", &len);
    ingest_batch_init(&db, FEED_DELIVERIES);
    assert_int_equal(ingest_parse_deliveries(orders, len, 10000000, &db), 0);
    char *map = slurp(fx->dir, "truth/address_map.csv", NULL);
    char *save = NULL, *line = strtok_r(map, "\n", &save);
    size_t n = 0, right = 0, wrong = 0, forms[SIM_ADDR_FORMS] = {0};
    for (size_t i = 0; i < db.n; i++) {
        const struct delivery *o = &db.deliveries[i];
        if (!o->address)
            continue;
        line = strtok_r(NULL, "\n", &save);
        char *c[4];
        assert_int_equal(split_csv(line, c, 4), 3);
        assert_string_equal(c[0], o->order_id);
        int form = 0;
        while (form < SIM_ADDR_FORMS &&
               strcmp(sim_address_form_name(form), c[2]))
            form++;
        forms[form]++;
        int32_t got = address_match(ix, o->address, strlen(o->address));
        if (form == SIM_ADDR_NO_BUILDING)
            continue;
        n++;
        right += got == household_index(c[1]);
        wrong += got >= 0 && got != household_index(c[1]);
    }
    print_message("addresses: %zu of %zu matched, %zu wrong\n", right, n,
                  wrong);
    for (int f = 0; f < SIM_ADDR_FORMS; f++)
        assert_true(forms[f] > 0);
    assert_true(n > 1000 && right >= n * 0.99 && wrong == 0);
    address_index_free(ix);
    ingest_batch_release(&hb);
    ingest_batch_release(&db);
    free(reg);
    free(orders);
    free(map);
}

static void test_recipients_per_flat(void **state)
{
    char *map = slurp(fx->dir, "truth/address_map.csv", NULL);
    size_t len;
    char *body = slurp(fx->dir, "deliveries.ndjson", &len);
    struct ingest_batch b;
    ingest_batch_init(&b, FEED_DELIVERIES);
    assert_int_equal(ingest_parse_deliveries(body, len, 10000000, &b), 0);
    /* distinct recipients per household: sort (household, recipient) */
    char **keys = xcalloc(b.n, sizeof(*keys));
    char *save = NULL, *line = strtok_r(map, "\n", &save);
    for (size_t i = 0; i < b.n; i++) {
        const struct delivery *o = &b.deliveries[i];
        const char *hid = o->household_id;
        if (!hid) {
            line = strtok_r(NULL, "\n", &save);
            hid = strchr(line, ',') + 1;
        }
        keys[i] = xmalloc(40);
        snprintf(keys[i], 40, "%.8s %s", hid, o->recipient);
    }
    qsort(keys, b.n, sizeof(*keys), cmp_str);
    static int distinct[HOUSEHOLDS];
    for (size_t i = 0; i < b.n; i++)
        if (i == 0 || strcmp(keys[i], keys[i - 1]))
            distinct[household_index(keys[i])]++;
    double g[HOUSEHOLDS], o[HOUSEHOLDS];
    size_t ng = 0, no = 0;
    for (int h = 0; h < HOUSEHOLDS; h++) {
        if (!strcmp(fx->truth[h].type, "group_rental"))
            g[ng++] = distinct[h];
        else if (is_ordinary(&fx->truth[h]))
            o[no++] = distinct[h];
    }
    double mg = median(g, ng), mo = median(o, no);
    print_message("distinct recipients in %d days: group rentals %.0f, "
                  "ordinary %.0f\n",
                  DAYS, mg, mo);
    assert_true(mg >= 7 && mo <= 3);
    for (size_t i = 0; i < b.n; i++)
        free(keys[i]);
    free(keys);
    ingest_batch_release(&b);
    free(body);
    free(map);
}

/* ---- the elderly-alone scene ---- */

static void test_elderly_stop_shows_in_hourly_water(void **state)
{
    size_t len;
    char *body = slurp(fx->dir, "readings.lp", &len);
    struct ingest_batch b;
    ingest_batch_init(&b, FEED_READINGS);
    assert_int_equal(
        ingest_parse_lineproto(body, len, PRECISION_S, 100000000, &b), 0);
    int stops = 0, confirmed = 0;
    for (int h = 0; h < HOUSEHOLDS; h++) {
        const struct truth_row *t = &fx->truth[h];
        if (strcmp(t->event, "stop") || fx->faulty[h][SIM_WATER])
            continue;
        /* water at the stop and 13 hours later (index or delta) */
        double at = NAN, later = NAN, sum = 0;
        int delta = 0;
        for (size_t i = 0; i < b.n; i++) {
            const struct reading *r = &b.readings[i];
            int64_t ts = r->ts_ns / 1000000000;
            if (r->metric != METRIC_WATER ||
                household_index(r->household_id) != h)
                continue;
            delta = r->field == READING_DELTA;
            if (ts == t->event_start + 3600)
                at = r->value;
            if (ts == t->event_start + 14 * 3600)
                later = r->value;
            if (delta && ts > t->event_start + 3600 &&
                ts <= t->event_start + 14 * 3600)
                sum += r->value;
        }
        if (isnan(later))
            continue; /* the stop came too late in the run */
        stops++;
        confirmed += delta ? sum < 0.01 : later - at < 0.01;
    }
    print_message("elderly stops visible: %d of %d\n", confirmed, stops);
    assert_true(stops > 0);
    assert_int_equal(confirmed, stops);
    ingest_batch_release(&b);
    free(body);
}

/* Daily water of household h over the shared district's days, from the
 * hourly readings in b. */
struct tv {
    int64_t t;
    double v;
};

static int cmp_tv(const void *a, const void *b)
{
    const struct tv *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

static void daily_water(const struct ingest_batch *b, int h, double *days)
{
    static struct tv tv[DAYS * 30];
    int64_t t0 = time_days_from_civil(2026, 4, 13) * 86400 - 8 * 3600;
    size_t n = 0;
    int delta = 0;
    memset(days, 0, DAYS * sizeof(*days));
    for (size_t i = 0; i < b->n && n < N(tv); i++) {
        const struct reading *r = &b->readings[i];
        if (r->metric != METRIC_WATER || household_index(r->household_id) != h)
            continue;
        delta = r->field == READING_DELTA;
        tv[n++] = (struct tv){r->ts_ns / 1000000000, r->value};
    }
    qsort(tv, n, sizeof(*tv), cmp_tv);
    for (size_t i = 0; i < n; i++) {
        int day = (int)((tv[i].t - 1 - t0) / 86400);
        double use = delta ? tv[i].v : i ? tv[i].v - tv[i - 1].v : 0;
        if (day >= 0 && day < DAYS && use >= 0 && use < 5)
            days[day] += use;
    }
}

static double mean_of(const double *v, int from, int to)
{
    double s = 0;
    for (int k = from; k < to; k++)
        s += v[k];
    return to > from ? s / (to - from) : NAN;
}

/* An elder who travels with family fades out over four days; one who
 * stops does not: the days before look like any other. */
static void test_elderly_travel_is_not_a_stop(void **state)
{
    size_t len;
    char *body = slurp(fx->dir, "readings.lp", &len);
    struct ingest_batch b;
    double days[DAYS], travel[64], stop[64];
    int nt = 0, ns = 0;
    int64_t t0 = time_days_from_civil(2026, 4, 13) * 86400 - 8 * 3600;
    ingest_batch_init(&b, FEED_READINGS);
    assert_int_equal(
        ingest_parse_lineproto(body, len, PRECISION_S, 100000000, &b), 0);
    for (int h = 0; h < HOUSEHOLDS && nt < 64 && ns < 64; h++) {
        const struct truth_row *t = &fx->truth[h];
        int k = (int)((t->event_start - t0) / 86400);
        if (!t->event[0] || fx->faulty[h][SIM_WATER] || k < 6)
            continue;
        daily_water(&b, h, days);
        /* the two days before against the days before any fade */
        double before = mean_of(days, k - 2, k),
               normal = mean_of(days, 0, k - 4);
        if (!strcmp(t->event, "travel"))
            travel[nt++] = before / normal;
        else
            stop[ns++] = before / normal;
    }
    double mt = median(travel, (size_t)nt), ms = median(stop, (size_t)ns);
    print_message("water in the two days before: travel %.2f, stop %.2f of "
                  "normal (%d, %d elders)\n",
                  mt, ms, nt, ns);
    assert_true(nt > 0 && ns > 0);
    assert_true(mt < 0.85 && ms > 0.85);
    ingest_batch_release(&b);
    free(body);
}

/* ---- geography ---- */

static void test_streets_tile_the_outline(void **state)
{
    static const double x[] = {121.500, 121.640, 121.800, 121.950, 121.930,
                               121.700, 121.530, 121.455, 121.470};
    static const double y[] = {31.350, 31.350, 31.270, 31.110, 31.050,
                               31.050, 31.100, 31.200, 31.300};
    struct sim_district *d = xcalloc(1, sizeof(*d));
    double outline = 0, streets = 0;
    for (size_t i = 0, j = N(x) - 1; i < N(x); j = i++)
        outline += x[j] * y[i] - x[i] * y[j];
    sim_geo_build_streets(d);
    for (int s = 0; s < SIM_MAX_STREETS; s++) {
        const struct sim_poly *p = &d->streets[s].poly;
        double a = 0;
        assert_true(p->n >= 3);
        for (int i = 0, j = p->n - 1; i < p->n; j = i++)
            a += p->x[j] * p->y[i] - p->x[i] * p->y[j];
        assert_true(fabs(a) > 1e-4); /* not a sliver */
        streets += fabs(a);
    }
    assert_true(fabs(streets - fabs(outline)) < 1e-9);
    free(d);
}

static void test_geojson_and_households_inside(void **state)
{
    char *geo = slurp(fx->dir, "streets.geojson", NULL);
    assert_non_null(strstr(geo, "\"FeatureCollection\""));
    assert_non_null(strstr(geo, "\"陆家嘴街道\""));
    int features = 0;
    for (char *p = geo; (p = strstr(p, "\"Feature\"")); p++)
        features++;
    assert_int_equal(features, SIM_MAX_STREETS);
    struct sim_district *d = xcalloc(1, sizeof(*d));
    sim_geo_build_streets(d);
    size_t len;
    char *body = slurp(fx->dir, "households.csv", &len);
    struct ingest_batch b;
    ingest_batch_init(&b, FEED_REGISTRY);
    assert_int_equal(ingest_parse_households(body, len, 0, 1000000, &b), 0);
    for (size_t i = 0; i < b.n; i++) {
        const struct household *h = &b.households[i];
        int s = 0;
        while (strcmp(h->street, sim_street_name(s)))
            s++;
        assert_true(sim_geo_contains(&d->streets[s].poly, h->lon, h->lat));
    }
    ingest_batch_release(&b);
    free(body);
    free(geo);
    free(d);
}

static void test_incidents_have_truth(void **state)
{
    char *inc = slurp(fx->dir, "truth/incidents.csv", NULL);
    char *ev = slurp(fx->dir, "truth/incident_events.csv", NULL);
    static const char *const ids[] = {"INC-001", "INC-002", "INC-003",
                                      "INC-004"};
    assert_non_null(strstr(inc, ",storm,"));
    assert_non_null(strstr(inc, ",festival_crowd,"));
    assert_non_null(strstr(inc, ",water_main_break,"));
    assert_true(strstr(inc, ",heat_wave,") || strstr(inc, ",cold_wave,"));
    for (size_t k = 0; k < N(ids); k++)
        assert_non_null(strstr(ev, ids[k]));
    free(inc);
    free(ev);
}

/* ---- arguments, determinism, seasons ---- */

static void test_bad_arguments(void **state)
{
    char dir[64] = "/tmp/cb-test-sim-args-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[128];
    snprintf(err, sizeof(err), "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2);
    assert_non_null(freopen(err, "w", stderr));
    assert_int_equal(run_sim(dir, "abc", "3", "1", "2026-11-01", NULL), 2);
    assert_int_equal(run_sim(dir, "999", "3", "1", "2026-11-01", NULL), 2);
    assert_int_equal(run_sim(dir, "1000", "0", "1", "2026-11-01", NULL), 2);
    assert_int_equal(run_sim(dir, "1000", "3", "-1", "2026-11-01", NULL), 2);
    assert_int_equal(run_sim(dir, "1000", "3", "1", "2026-02-30", NULL), 2);
    assert_int_equal(run_sim(dir, "1000", "3", "1", "2026-11-01", "--bogus"),
                     2);
    char *argv[] = {"simulate", "--households", "1000", "--days",
                    "3",        "--seed",       "1"};
    assert_int_equal(sim_main(7, argv), 2); /* no --out */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *text = slurp(dir, "stderr", NULL);
    assert_non_null(strstr(text, "--households: 'abc'"));
    assert_non_null(strstr(text, "'999'"));
    assert_non_null(strstr(text, "--start: '2026-02-30'"));
    assert_non_null(strstr(text, "'--bogus'"));
    assert_non_null(strstr(text, "--out is required"));
    free(text);
    rm_tree(dir);
}

static const char *const every_file[] = {"households.csv",
                                         "streets.geojson",
                                         "readings.lp",
                                         "deliveries.ndjson",
                                         "events.ndjson",
                                         "manifest.json",
                                         "truth/households.csv",
                                         "truth/faults.csv",
                                         "truth/address_map.csv",
                                         "truth/incidents.csv",
                                         "truth/incident_events.csv"};

static void test_same_arguments_same_bytes(void **state)
{
    char a[64] = "/tmp/cb-test-sim-a-XXXXXX",
         b[64] = "/tmp/cb-test-sim-b-XXXXXX";
    assert_non_null(mkdtemp(a));
    assert_non_null(mkdtemp(b));
    assert_int_equal(run_sim(a, "1500", "3", "7", "2026-11-01", "--threads=1"),
                     0);
    assert_int_equal(run_sim(b, "1500", "3", "7", "2026-11-01", "--threads=3"),
                     0);
    for (size_t k = 0; k < N(every_file); k++) {
        size_t la, lb;
        char *x = slurp(a, every_file[k], &la),
             *y = slurp(b, every_file[k], &lb);
        assert_non_null(x);
        assert_non_null(y);
        if (la != lb || memcmp(x, y, la))
            fail_msg("%s differs between --threads 1 and 3", every_file[k]);
        free(x);
        free(y);
    }
    /* another seed, another district */
    assert_int_equal(run_sim(b, "1500", "3", "8", "2026-11-01", NULL), 0);
    size_t la, lb;
    char *x = slurp(a, "readings.lp", &la), *y = slurp(b, "readings.lp", &lb);
    assert_true(la != lb || memcmp(x, y, la));
    free(x);
    free(y);
    rm_tree(a);
    rm_tree(b);
}

/* The district's use of one metric over a run of 1,000 households,
 * leaving out meters that wrapped, were replaced or spiked. */
static double total_metric(const char *dir, int metric)
{
    static double use[HOUSEHOLDS][SIM_METRICS];
    double total = 0;
    meter_use(dir, 1000, use);
    for (int h = 0; h < 1000; h++)
        if (use[h][metric] >= 0 && use[h][metric] < 1000)
            total += use[h][metric];
    return total;
}

/* Summer air-conditioning: July uses far more power than April. */
static void test_summer_air_conditioning(void **state)
{
    char dir[64] = "/tmp/cb-test-sim-s-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(run_sim(dir, "1000", "7", "3", "2026-04-14", NULL), 0);
    double april = total_metric(dir, METRIC_ELECTRICITY);
    assert_int_equal(run_sim(dir, "1000", "7", "3", "2026-07-21", NULL), 0);
    double july = total_metric(dir, METRIC_ELECTRICITY);
    print_message("electricity: April %.0f, July %.0f kWh\n", april, july);
    assert_true(july > 1.3 * april); /* even in a cool week */
    rm_tree(dir);
}

/* Spring Festival exodus: the district's water drops while migrants are
 * home for the holiday. */
static void test_spring_festival_exodus(void **state)
{
    char dir[64] = "/tmp/cb-test-sim-f-XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* lunar new year 2027-02-06: a week before, and the festival week */
    assert_int_equal(run_sim(dir, "1000", "3", "5", "2027-01-20", NULL), 0);
    double before = total_metric(dir, METRIC_WATER);
    assert_int_equal(run_sim(dir, "1000", "3", "5", "2027-02-07", NULL), 0);
    double during = total_metric(dir, METRIC_WATER);
    print_message("water: before %.1f, festival %.1f m3\n", before, during);
    assert_true(during < 0.85 * before);
    rm_tree(dir);
}

/* The committee simulator's delays run in working time (docs/SIMULATOR.md):
 * Monday to Friday, 09:00-18:00 district time. */
static void test_committee_working_hours(void **state)
{
    (void)state;
    const int tz = 8 * 60;
    int64_t ns;
    /* 2026-12-02 is a Wednesday */
    assert_int_equal(time_parse_iso("2026-12-02T10:00:00+08:00", 25, &ns, NULL),
                     0);
    int64_t wed10 = ns / 1000000000, hour = 3600, day = 86400;
    /* within the day */
    assert_int_equal(sim_working_hours_add(wed10, 2, tz), wed10 + 2 * hour);
    /* past 18:00: the rest the next morning from 09:00 */
    assert_int_equal(sim_working_hours_add(wed10, 10, tz),
                     wed10 + day - hour + 2 * hour);
    /* at night: from the next opening */
    assert_int_equal(sim_working_hours_add(wed10 + 12 * hour, 1, tz),
                     wed10 + day);
    /* Friday 17:00 + 3 h: Monday 11:00 */
    assert_int_equal(sim_working_hours_add(wed10 + 2 * day + 7 * hour, 3, tz),
                     wed10 + 5 * day + hour);
    /* a Saturday start waits for Monday 09:00 */
    assert_int_equal(sim_working_hours_add(wed10 + 3 * day, 0.5, tz),
                     wed10 + 5 * day - hour + hour / 2);
    /* no time: no move, even out of hours */
    assert_int_equal(sim_working_hours_add(wed10 + 3 * day, 0, tz),
                     wed10 + 3 * day);
}

int main(void)
{
    const struct CMUnitTest district[] = {
        cmocka_unit_test(test_water_per_person),
        cmocka_unit_test(test_electricity_base_and_per_person),
        cmocka_unit_test(test_gas_per_person),
        cmocka_unit_test(test_household_type_shares),
        cmocka_unit_test(test_hidden_truth_is_consistent),
        cmocka_unit_test(test_group_rentals_stand_out_but_overlap),
        cmocka_unit_test(test_fault_rates),
        cmocka_unit_test(test_duplicates_are_in_the_feed),
        cmocka_unit_test(test_registry_parses),
        cmocka_unit_test(test_orders_and_events_parse),
        cmocka_unit_test(test_addresses_match_their_flats),
        cmocka_unit_test(test_recipients_per_flat),
        cmocka_unit_test(test_elderly_stop_shows_in_hourly_water),
        cmocka_unit_test(test_elderly_travel_is_not_a_stop),
        cmocka_unit_test(test_geojson_and_households_inside),
        cmocka_unit_test(test_incidents_have_truth),
    };
    const struct CMUnitTest standalone[] = {
        cmocka_unit_test(test_committee_working_hours),
        cmocka_unit_test(test_streets_tile_the_outline),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_same_arguments_same_bytes),
        cmocka_unit_test(test_summer_air_conditioning),
        cmocka_unit_test(test_spring_festival_exodus),
    };
    int failed = cmocka_run_group_tests_name("sim_district", district,
                                             setup_district, teardown_district);
    return failed + cmocka_run_group_tests_name("sim", standalone, NULL, NULL);
}
