/*
 * sim_delivery.c - food-delivery orders and the messy addresses they carry.
 *
 * Orders.  Every person who orders has a rate (orders per day, drawn once:
 * commuters ~0.33, students ~0.6, group-rental tenants ~0.55, retirees
 * ~0.06, elders ~0.015), raised on rest days (x1.15) and in the storm
 * (x1.6).  An order is placed only from home: its hour is drawn from the
 * platforms' day shape (lunch 11-12, dinner 17-19, a late-night tail)
 * restricted to the hours the person is at home.  Visitors order now and
 * then (1% of household-days).
 *
 * Recipients are pseudonymous: 16 hex digits of a salted hash of the
 * person (a stand-in for a salted hash of the phone number), the same on
 * both platforms.  Group-rental tenants move out and in (tenancies of 1-6
 * months) and short-term guests change with every stay, so their flats see
 * many distinct recipients a month.
 *
 * Platforms.  "MT" (62% of orders, preferred by most people) sends our
 * household id 90% of the time and an address otherwise; "EL" always sends
 * free text, and epoch-second timestamps.  Address forms (enum
 * sim_address_form) follow docs/SIMULATOR.md; 2% lack the building number
 * and cannot be matched.  truth/address_map.csv gives every address
 * order's household and form.
 */
#include "sim/sim_int.h"
#include "util/jsonw.h"

#include <string.h>

static const float order_hour_weight[24] = {
    0.01f, 0.01f, 0.005f, 0.005f, 0.005f, 0.005f, 0.01f, 0.03f,
    0.03f, 0.03f, 0.05f,  0.20f,  0.15f,  0.05f,  0.04f, 0.04f,
    0.04f, 0.12f, 0.18f,  0.10f,  0.05f,  0.06f,  0.05f, 0.03f};

static const double form_weight[SIM_ADDR_FORMS] = {0.25, 0.15, 0.15, 0.08, 0.10,
                                                   0.07, 0.08, 0.10, 0.02};

static const char *const form_names[SIM_ADDR_FORMS] = {
    "canonical", "short",  "bare",     "fullwidth",  "dong",
    "spaces",    "hyphen", "compound", "no_building"};

const char *sim_address_form_name(int form)
{
    return form >= 0 && form < SIM_ADDR_FORMS ? form_names[form] : "unknown";
}

/* ---- address text ---- */

static void add_number(struct sbuf *sb, unsigned n, int fullwidth)
{
    char digits[12];
    int k = 0;
    do {
        digits[k++] = (char)(n % 10);
        n /= 10;
    } while (n);
    while (k-- > 0) {
        if (fullwidth) { /* U+FF10..U+FF19 */
            char fw[3] = {(char)0xef, (char)0xbc, (char)(0x90 + digits[k])};
            sbuf_add(sb, fw, 3);
        } else {
            sbuf_addch(sb, (char)('0' + digits[k]));
        }
    }
}

/* road + lane + 弄, e.g. 张杨路123弄 */
static void add_lane(struct sbuf *sb, const struct sim_address *a, int fw)
{
    sbuf_addstr(sb, a->road);
    add_number(sb, a->lane, fw);
    sbuf_addstr(sb, "弄");
}

static void add_building_room(struct sbuf *sb, const struct sim_address *a,
                              const char *bmark, const char *rmark, int fw)
{
    add_number(sb, a->building, fw);
    sbuf_addstr(sb, bmark);
    add_number(sb, a->room, fw);
    sbuf_addstr(sb, rmark);
}

static void address_spaced(struct sbuf *sb, const struct sim_address *a,
                           int variant)
{
    sbuf_addstr(sb, variant & 1 ? " 上海市 浦东新区 " : "上海市 浦东新区 ");
    add_lane(sb, a, 0);
    sbuf_addstr(sb, variant & 2 ? "  " : " ");
    add_building_room(sb, a, "号 ", "室", 0);
}

void sim_address_text(const struct sim_district *d, uint32_t h, int form,
                      int variant, struct sbuf *out)
{
    struct sim_address a;
    char compound[48];
    sim_household_address(d, h, &a);
    switch (form) {
    case SIM_ADDR_SHORT:
        sbuf_addstr(out, "浦东");
        add_lane(out, &a, 0);
        add_building_room(out, &a, "号楼", "", 0);
        break;
    case SIM_ADDR_BARE:
        add_lane(out, &a, 0);
        add_building_room(out, &a, "号", variant & 1 ? "" : "室", 0);
        break;
    case SIM_ADDR_FULLWIDTH:
        sbuf_addstr(out, variant & 1 ? "上海浦东新区" : "上海市浦东新区");
        add_lane(out, &a, 1);
        add_building_room(out, &a, "号", "室", 1);
        break;
    case SIM_ADDR_DONG:
        sbuf_addstr(out, "浦东新区");
        add_lane(out, &a, 0);
        add_building_room(out, &a, variant & 1 ? "幢" : "栋",
                          variant & 2 ? "" : "室", 0);
        break;
    case SIM_ADDR_SPACES:
        address_spaced(out, &a, variant);
        break;
    case SIM_ADDR_HYPHEN:
        sbuf_addstr(out, variant & 1 ? "浦东新区" : "");
        add_lane(out, &a, 0);
        add_building_room(out, &a, "-", "", 0);
        break;
    case SIM_ADDR_COMPOUND:
        sim_compound_name(a.compound_index, compound, sizeof(compound));
        sbuf_addstr(out, "浦东新区");
        add_lane(out, &a, 0);
        sbuf_addf(out, variant & 1 ? "%s" : "(%s)", compound);
        add_building_room(out, &a, "号", "室", 0);
        break;
    case SIM_ADDR_NO_BUILDING:
        add_lane(out, &a, 0);
        add_number(out, a.room, 0);
        sbuf_addstr(out, "室");
        break;
    default:
        sbuf_addstr(out, "上海市浦东新区");
        add_lane(out, &a, 0);
        add_building_room(out, &a, "号", "室", 0);
    }
}

/* ---- orders ---- */

static char *fmt_hex16(char *p, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int k = 15; k >= 0; k--, v >>= 4)
        p[k] = hex[v & 15];
    return p + 16;
}

/* "H0000001": 8 bytes, no NUL. */
static void fmt_household_id(char id[8], uint32_t h)
{
    uint32_t n = h + 1;
    id[0] = 'H';
    for (int k = 7; k >= 1; k--, n /= 10)
        id[k] = (char)('0' + n % 10);
}

static void add_household_id(struct sbuf *sb, uint32_t h)
{
    char id[8];
    fmt_household_id(id, h);
    sbuf_add(sb, id, 8);
}

/* An hour of the day when the person is at home, or -1. */
static int order_hour(uint32_t home, struct sim_rng *r)
{
    double w[24];
    int any = 0;
    for (int h = 0; h < 24; h++) {
        w[h] = ((home >> h) & 1) ? order_hour_weight[h] : 0;
        any |= (home >> h) & 1;
    }
    return any ? sim_rng_pick(r, w, 24) : -1;
}

struct order {
    uint32_t h;
    int day, seq;
    int64_t ts;
    uint64_t recipient;
};

/* "MT-" or "EL-" and 16 hex digits of a bijection of (day, household,
 * seq): unique, and unordered-looking like a platform's ids. */
/* "MT-" or "EL-" and 16 hex digits: 19 bytes, no NUL. */
#define ORDER_ID_LEN 19

static void fmt_order_id(char id[ORDER_ID_LEN], const struct order *o, int mt)
{
    uint64_t key = ((uint64_t)o->day << 40) | ((uint64_t)o->h << 6) |
                   (uint64_t)(o->seq & 63);
    memcpy(id, mt ? "MT-" : "EL-", 3);
    fmt_hex16(id + 3, sim_mix64(key));
}

static void write_order(const struct sim_district *d, const struct order *o,
                        struct sim_batch *b, struct sim_rng *r)
{
    struct sbuf *sb = &b->out[SIM_OUT_DELIVERIES];
    int mt = sim_rng_unit(r) < ((o->recipient >> 7) % 10 < 7 ? 0.8 : 0.2);
    char order_id[ORDER_ID_LEN], household_id[8], recipient[16];
    struct jsonw w;
    fmt_order_id(order_id, o, mt);
    jsonw_init(&w, sb);
    jsonw_object_begin(&w);
    jsonw_key(&w, "order_id");
    jsonw_strn(&w, order_id, ORDER_ID_LEN);
    if (mt) {
        char iso[32];
        jsonw_key(&w, "ts");
        jsonw_strn(&w, iso, (size_t)(sim_fmt_iso(iso, o->ts) - iso));
    } else {
        jsonw_kv_int(&w, "ts", o->ts); /* a platform that sends epoch s */
    }
    if (mt && sim_rng_unit(r) < 0.9) {
        fmt_household_id(household_id, o->h);
        jsonw_key(&w, "household_id");
        jsonw_strn(&w, household_id, 8);
    } else {
        int form = sim_rng_pick(r, form_weight, SIM_ADDR_FORMS);
        struct sbuf *map = &b->out[SIM_OUT_ADDRESS_MAP];
        sbuf_reset(&b->scratch);
        sim_address_text(d, o->h, form, (int)sim_rng_below(r, 4), &b->scratch);
        jsonw_key(&w, "address");
        jsonw_strn(&w, b->scratch.buf, b->scratch.len);
        sbuf_add(map, order_id, ORDER_ID_LEN);
        sbuf_addch(map, ',');
        add_household_id(map, o->h);
        sbuf_addch(map, ',');
        sbuf_addstr(map, form_names[form]);
        sbuf_addch(map, '\n');
    }
    jsonw_key(&w, "recipient");
    jsonw_strn(&w, recipient,
               (size_t)(fmt_hex16(recipient, o->recipient) - recipient));
    jsonw_object_end(&w);
    sbuf_addch(sb, '\n');
    b->n_deliveries++;
}

static void person_orders(const struct sim_district *d, struct order *o,
                          uint32_t home, double rate, struct sim_batch *b,
                          struct sim_rng *r)
{
    uint32_t n = sim_rng_poisson(r, rate);
    for (uint32_t k = 0; k < n; k++) {
        int hour = order_hour(home, r);
        if (hour < 0)
            return;
        o->ts = d->days[o->day].t0 + hour * 3600 + sim_rng_below(r, 3600);
        write_order(d, o, b, r);
        o->seq++;
    }
}

void sim_deliveries_day(const struct sim_district *d, uint32_t h, int day,
                        const struct sim_use *use, struct sim_batch *b)
{
    struct sim_rng r;
    struct order o = {h, day, 0, 0, 0};
    if (use->n_present == 0)
        return;
    sim_rng_seed(&r, d->opt->seed, SIM_STREAM_ORDER, h, (uint64_t)day);
    for (int j = 0; j < use->n_present; j++) {
        o.recipient = use->recipient[j];
        person_orders(d, &o, use->home[j],
                      use->order_milli[j] * 0.001 * use->order_factor, b, &r);
    }
    if (sim_rng_unit(&r) < 0.01) { /* a visitor */
        o.recipient = sim_hash(d->recipient_salt, 9, h, (uint64_t)day / 10);
        person_orders(d, &o, use->home[0], 1, b, &r);
    }
}
