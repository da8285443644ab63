/*
 * scene_json.c - the group-rental scene as JSON: suspects (the format of
 * docs/API.md), summaries per street or committee, and the household
 * drill-down with each signal's daily series against its peer band.
 *
 * Suspects and summaries are formatted from the published ranking under
 * its read lock; the drill-down reads the live arrays under eng->lock.
 */
#include "scene/scene_int.h"
#include "util/jsonw.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_units[METRIC_COUNT] = {"m3/day", "kWh/day",
                                                       "m3/day"};

static double allowed_of(const struct scene_suspect *s)
{
    return s->legal_limit > s->registered ? s->legal_limit : s->registered;
}

static const char *confidence_of(const struct scene_suspect *s)
{
    if (s->score >= 0.9 && s->days_water >= 10 && s->peers >= SCENE_MIN_PEERS &&
        !(s->checks & CHECK_SPARSE_DATA))
        return "high";
    return s->score >= 0.7 ? "medium" : "low";
}

/* A measured figure: four significant digits, null when not finite. */
static void add_num(struct jsonw *w, const char *key, double v)
{
    jsonw_kv_double_sig(w, key, v, 4);
}

static const char *signal_name(int signal)
{
    if (signal == SIGNAL_RECIPIENTS)
        return "distinct_recipients_30d";
    if (signal == SIGNAL_NIGHT_SHARE)
        return "electricity_night_share";
    return metric_name(signal == 1 ? 0 : signal == 2 ? 1 : 2);
}

/* The signals that carry values, then "unusable":[{signal, reason}] for
 * those that could not be measured: no value is ever a stand-in. */
static void evidence_json(const struct scene_suspect *s, struct jsonw *w)
{
    jsonw_array_begin(w);
    for (int m = 0; m < METRIC_COUNT; m++) {
        if (s->unusable & (1 << m))
            continue;
        jsonw_object_begin(w);
        jsonw_kv_str(w, "signal", metric_name(m));
        add_num(w, "value", s->level[m]);
        jsonw_kv_str(w, "unit", metric_units[m]);
        if (s->peer_level[m] > 0) {
            add_num(w, "peer_median", s->peer_level[m]);
            add_num(w, "ratio", s->level[m] / s->peer_level[m]);
        }
        jsonw_kv_int(w, "peers", s->peers);
        if (s->occ[m] >= 0)
            add_num(w, "occupants", s->occ[m]);
        add_num(w, "per_person", s->per_capita[m]);
        jsonw_object_end(w);
    }
    if (!(s->unusable & SIGNAL_RECIPIENTS)) {
        jsonw_object_begin(w);
        jsonw_kv_str(w, "signal", "distinct_recipients_30d");
        add_num(w, "value", round(fmax(s->recipients, 0)));
        if (s->peer_recipients >= 0)
            add_num(w, "peer_median", round(s->peer_recipients));
        jsonw_object_end(w);
        jsonw_object_begin(w);
        jsonw_kv_str(w, "signal", "orders_30d");
        add_num(w, "value", s->orders_30d);
        jsonw_object_end(w);
    }
    if (s->complaints) {
        jsonw_object_begin(w);
        jsonw_kv_str(w, "signal", "complaints_12345_60d");
        jsonw_kv_int(w, "value", s->complaints);
        jsonw_kv_str(w, "about", "building");
        jsonw_object_end(w);
    }
    if (!(s->unusable & SIGNAL_NIGHT_SHARE)) {
        jsonw_object_begin(w);
        jsonw_kv_str(w, "signal", "electricity_night_share");
        add_num(w, "value", s->night_share);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_key(w, "unusable");
    jsonw_array_begin(w);
    for (int bit = 1; bit <= SIGNAL_NIGHT_SHARE; bit <<= 1) {
        const char *why = scene_gr_unusable_reason(s, bit);
        if (!why)
            continue;
        jsonw_object_begin(w);
        jsonw_kv_str(w, "signal", signal_name(bit));
        jsonw_kv_str(w, "reason", why);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

/* One confounder check: {"confounder":..,"rejected":bool,"why":..}. */
static void check_json(struct jsonw *w, const char *name, int fired,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void check_json(struct jsonw *w, const char *name, int fired,
                       const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    jsonw_object_begin(w);
    jsonw_kv_str(w, "confounder", name);
    jsonw_kv_bool(w, "explains", fired);
    jsonw_kv_str(w, "why", why);
    jsonw_object_end(w);
}

/* People the water says, for the check messages. */
static void water_people(const struct scene_suspect *s, char *buf, size_t cap)
{
    if (s->occ[METRIC_WATER] >= 0)
        snprintf(buf, cap, "water says %.1f people at a time",
                 s->occ[METRIC_WATER]);
    else
        snprintf(buf, cap, "no usable water to count people at a time");
}

static void checks_json(const struct scene_suspect *s, struct jsonw *w)
{
    uint8_t c = s->checks;
    double a = allowed_of(s), oe = s->occ[METRIC_ELECTRICITY];
    char water[96], elec[64], ratio[96];
    water_people(s, water, sizeof(water));
    if (oe >= 0)
        snprintf(elec, sizeof(elec), "electricity says %.1f", oe);
    else
        snprintf(elec, sizeof(elec), "no usable electricity");
    if (s->level[METRIC_WATER] >= 0 && s->peer_level[METRIC_WATER] > 0)
        snprintf(ratio, sizeof(ratio), "%.1fx",
                 s->level[METRIC_WATER] / s->peer_level[METRIC_WATER]);
    else
        ratio[0] = '\0';
    jsonw_array_begin(w);
    check_json(w, "large_family", c & CHECK_LARGE_FAMILY,
               "%d registered occupants %s an estimate of %.1f", s->registered,
               (c & CHECK_LARGE_FAMILY) ? "explain" : "cannot explain",
               s->shown);
    check_json(w, "business", c & CHECK_BUSINESS,
               (c & CHECK_BUSINESS)
                   ? "use of %.1f people (gas like a kitchen, or twice the "
                     "allowed) but only %.0f recipients: a home business"
                   : "use of %.1f people and %.0f recipients: no business "
                     "pattern",
               s->consumption, s->recipients);
    check_json(w, "short_term_rental", c & CHECK_SHORT_TERM,
               (c & CHECK_SHORT_TERM)
                   ? "%.0f recipients but %s: guests come and go"
                   : "%.0f recipients and %s",
               s->recipients, water);
    check_json(w, "leak_or_meter", c & CHECK_WATER_ONLY,
               (c & CHECK_WATER_ONLY)
                   ? "only water is high (%s, %.0f recipients): a leak or a "
                     "faulty meter"
                   : "%s and %.0f recipients, read with the water",
               elec, s->recipients);
    check_json(w, "meter_fault", c & CHECK_METER_FAULT,
               (c & CHECK_METER_FAULT)
                   ? "a reset or spike and the line is crossed on few days"
                   : "%s; the level is a median of %d days",
               s->faults ? "a reset was seen and ignored" : "no reset seen",
               s->days_water);
    if (ratio[0])
        check_json(w, "building_swing", c & CHECK_BUILDING_SWING,
                   (c & CHECK_BUILDING_SWING)
                       ? "its peers as a whole use more per person; the "
                         "flat is %s its peers"
                       : "the flat is %s its building peers",
                   ratio);
    else
        check_json(w, "building_swing", 0,
                   "no peer water median to compare with");
    check_json(w, "vacancy", 0,
               (c & CHECK_VACANT) ? "declared vacant, yet %s" : "in use: %s",
               water);
    jsonw_array_end(w);
    jsonw_kv_double_prec(w, "allowed", a, 0);
}

static void reasons_json(const struct scene_suspect *s, struct jsonw *w)
{
    jsonw_key(w, "reasons");
    jsonw_array_begin(w);
    if (!(s->unusable & (1 << METRIC_WATER)) && s->peer_level[METRIC_WATER] > 0)
        jsonw_strf(w, "water %.2f m3/day = %.1fx the median of its %u peers",
                   s->level[METRIC_WATER],
                   s->level[METRIC_WATER] / s->peer_level[METRIC_WATER],
                   s->peers);
    if (!(s->unusable & SIGNAL_RECIPIENTS))
        jsonw_strf(w, "%.0f distinct delivery recipients in 30 days",
                   s->recipients);
    if (s->complaints)
        jsonw_strf(w,
                   "%u 12345 complaint%s of group renting at its building in "
                   "60 days",
                   s->complaints, s->complaints > 1 ? "s" : "");
    jsonw_strf(w,
               "estimated %.1f occupants against a legal limit of %d and %d "
               "registered",
               s->shown, s->legal_limit, s->registered);
    if (s->estimate > s->consumption && s->estimate > 0)
        jsonw_strf(w,
                   "water and electricity alone say %.1f; the recipients "
                   "raise it",
                   s->consumption * s->shown / s->estimate);
    jsonw_array_end(w);
}

/* How many people over the allowed count the estimate is, with an
 * interval: the estimate's spread is that of the signals that made it
 * (their per-person figures vary about 25% within a peer group, and the
 * signals disagree), at least 15% of the estimate and half a person. */
static void over_limit_json(const struct scene_suspect *s, struct jsonw *w)
{
    double allowed = allowed_of(s), est = s->shown, lo_sig = est, hi_sig = est;
    double scale = s->estimate > 0 ? s->shown / s->estimate : 1;
    for (int m = 0; m < METRIC_GAS; m++) {
        if (s->occ[m] < 0)
            continue;
        lo_sig = fmin(lo_sig, s->occ[m] * scale);
        hi_sig = fmax(hi_sig, s->occ[m] * scale);
    }
    double spread = fmax(fmax(0.15 * est, 0.5), 0.5 * (hi_sig - lo_sig));
    double lo = fmax(est - spread - allowed, 0), hi = est + spread - allowed;
    jsonw_key(w, "people_over_limit");
    jsonw_object_begin(w);
    jsonw_kv_double_prec(w, "estimate", fmax(est - allowed, 0), 1);
    jsonw_kv_double_prec(w, "low", lo, 1);
    jsonw_kv_double_prec(w, "high", fmax(hi, 0), 1);
    jsonw_kv_double_prec(w, "allowed", allowed, 0);
    jsonw_object_end(w);
}

static void suspect_json(const struct scene_suspect *s, struct jsonw *w)
{
    jsonw_object_begin(w);
    jsonw_kv_str(w, "household_id", s->household_id ? s->household_id : "");
    jsonw_kv_double_prec(w, "score", s->score, 4);
    jsonw_kv_double_prec(w, "estimated_occupants", s->shown, 1);
    jsonw_kv_int(w, "legal_limit", s->legal_limit);
    jsonw_kv_int(w, "registered_occupants", s->registered);
    jsonw_kv_str(w, "confidence", confidence_of(s));
    jsonw_kv_str(w, "street", s->street ? s->street : "");
    jsonw_kv_str(w, "committee", s->committee ? s->committee : "");
    over_limit_json(s, w);
    if (s->visit)
        jsonw_kv_str(w, "visited", scene_outcome_name(s->visit - 1));
    jsonw_key(w, "evidence");
    evidence_json(s, w);
    jsonw_key(w, "checks");
    checks_json(s, w);
    reasons_json(s, w);
    jsonw_object_end(w);
}

int scene_visit_filter_parse(const char *s)
{
    static const char *const names[] = {"any",       "none",      "visited",
                                        "confirmed", "not_found", "no_access"};
    for (int i = 0; s && i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int visit_matches(int filter, uint8_t visit)
{
    switch (filter) {
    case SCENE_VISIT_NONE:
        return visit == 0;
    case SCENE_VISIT_VISITED:
        return visit != 0;
    case SCENE_VISIT_CONFIRMED:
        return visit == SCENE_CONFIRMED + 1;
    case SCENE_VISIT_NOT_FOUND:
        return visit == SCENE_NOT_FOUND + 1;
    case SCENE_VISIT_NO_ACCESS:
        return visit == SCENE_NO_ACCESS + 1;
    default:
        return 1;
    }
}

static int listed(const struct scene_suspect_query *q, double min_score,
                  const struct scene_suspect *s)
{
    return s->score >= min_score && visit_matches(q->visit, s->visit) &&
           (!q->street || (s->street && strcmp(q->street, s->street) == 0)) &&
           (!q->committee ||
            (s->committee && strcmp(q->committee, s->committee) == 0));
}

static void as_of_json(const struct scene_engine *eng, int64_t as_of,
                       struct jsonw *w)
{
    char iso[32];
    time_format_iso(as_of, eng->cfg.tz_offset_minutes, iso);
    jsonw_kv_str(w, "as_of", iso);
}

int scene_group_rental_suspects_query_json(struct scene_engine *eng,
                                           const struct scene_suspect_query *q,
                                           struct sbuf *out)
{
    if (q->limit < 1 || q->limit > 10000 || q->min_score > 1 ||
        isnan(q->min_score) || q->visit < SCENE_VISIT_ANY ||
        q->visit > SCENE_VISIT_NO_ACCESS)
        return CB_EINVAL;
    double min_score = q->min_score >= 0 ? q->min_score : eng->cfg.min_score;
    struct scene_ranking *r = scene_ranking_get(eng);
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    as_of_json(eng, r->as_of_s, &w);
    jsonw_kv_double_sig(&w, "min_score", min_score, 6);
    jsonw_key(&w, "suspects");
    jsonw_array_begin(&w);
    int n = 0;
    for (size_t i = 0; i < r->n && n < q->limit; i++) {
        if (!listed(q, min_score, &r->items[i]))
            continue;
        n++;
        suspect_json(&r->items[i], &w);
    }
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    scene_ranking_put(eng);
    return 0;
}

int scene_group_rental_suspects_json(struct scene_engine *eng, int limit,
                                     const char *street, const char *committee,
                                     struct sbuf *out)
{
    struct scene_suspect_query q = {limit, -1, street, committee,
                                    SCENE_VISIT_ANY};
    return scene_group_rental_suspects_query_json(eng, &q, out);
}

/* ---- summaries ---- */

struct summary_group {
    uint32_t suspects, high;
    double score_sum;
    size_t top[3];
    uint32_t n_top;
};

static void summary_add(struct summary_group *g, size_t item,
                        const struct scene_suspect *s)
{
    g->suspects++;
    g->high += strcmp(confidence_of(s), "high") == 0;
    g->score_sum += s->score;
    if (g->n_top < 3)
        g->top[g->n_top++] = item;
}

static void summary_group_json(const struct scene_ranking *r, const char *by,
                               const char *name, uint32_t households,
                               const struct summary_group *g, struct jsonw *w)
{
    jsonw_object_begin(w);
    jsonw_kv_str(w, by, name);
    jsonw_kv_int(w, "households", households);
    jsonw_kv_int(w, "suspects", g->suspects);
    jsonw_kv_int(w, "high_confidence", g->high);
    jsonw_kv_double_prec(
        w, "per_1000", households ? 1000.0 * g->suspects / households : 0.0, 2);
    jsonw_kv_double_prec(w, "mean_score",
                         g->suspects ? g->score_sum / g->suspects : 0.0, 3);
    jsonw_key(w, "top");
    jsonw_array_begin(w);
    for (uint32_t k = 0; k < g->n_top; k++)
        jsonw_str(w, r->items[g->top[k]].household_id);
    jsonw_array_end(w);
    jsonw_object_end(w);
}

int scene_group_rental_summary_json(struct scene_engine *eng, const char *by,
                                    const char *street, struct sbuf *out)
{
    int by_street = by && strcmp(by, "street") == 0;
    if (!by || (!by_street && strcmp(by, "committee") != 0))
        return CB_EINVAL;
    struct scene_ranking *r = scene_ranking_get(eng);
    uint32_t n_keys = by_street ? r->n_streets : r->n_committees;
    struct summary_group *g = xcalloc(n_keys + 1, sizeof(*g));
    int64_t street_id = -1;
    for (uint32_t k = 0; street && k < r->n_streets; k++)
        if (strcmp(r->street_names[k], street) == 0)
            street_id = k;
    for (size_t i = 0; i < r->n; i++) {
        const struct scene_suspect *s = &r->items[i];
        if (s->score < eng->cfg.min_score)
            continue; /* the summaries count from the default cut-off */
        uint32_t key = by_street ? s->street_id : s->committee_id;
        if (street && s->street_id != street_id)
            continue;
        if (key < n_keys)
            summary_add(&g[key], i, s);
    }
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    as_of_json(eng, r->as_of_s, &w);
    jsonw_kv_str(&w, "by", by);
    jsonw_key(&w, "groups");
    jsonw_array_begin(&w);
    for (uint32_t k = 0; k < n_keys; k++) {
        if (!by_street && street &&
            (street_id < 0 || r->committee_street[k] != street_id))
            continue;
        const char *name = by_street
                               ? r->street_names[k]
                               : scene_display_name(r->committee_names[k]);
        summary_group_json(r, by, name,
                           by_street ? r->street_households[k]
                                     : r->committee_households[k],
                           &g[k], &w);
    }
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    free(g);
    scene_ranking_put(eng);
    return 0;
}

/* ---- the household drill-down ---- */

/* Opens the household's object: the caller ends it. */
static void registry_json(struct scene_engine *eng, int32_t h, struct jsonw *w)
{
    const struct scene_reg *r = &eng->reg[h];
    jsonw_object_begin(w);
    jsonw_kv_str(w, "household_id", scene_household_id(eng, h));
    jsonw_kv_str(w, "street",
                 eng->streets.name[eng->committee_street[r->committee]]);
    jsonw_kv_str(w, "committee",
                 scene_display_name(eng->committees.name[r->committee]));
    jsonw_kv_str(w, "building",
                 scene_display_name(eng->buildings.name[r->building]));
    jsonw_kv_int(w, "rooms", r->rooms);
    jsonw_kv_double_prec(w, "area_m2", r->area_dm2 / 10.0, 1);
    jsonw_kv_int(w, "registered_occupants", r->registered);
    jsonw_kv_int(w, "legal_limit", scene_legal_limit(r));
    jsonw_key(w, "flags");
    household_flags_json(w, r->flags);
    as_of_json(eng, eng->as_of_s, w);
}

static void breakdown_json(struct scene_engine *eng, const double *x,
                           struct jsonw *w)
{
    jsonw_key(w, "score_breakdown");
    jsonw_array_begin(w);
    for (int i = 0; i < SCENE_NF; i++) {
        double weight = eng->learn.w[i];
        jsonw_object_begin(w);
        jsonw_kv_str(w, "feature", scene_gr_feature_name(i));
        jsonw_kv_double_prec(w, "value", x[i], 4);
        jsonw_kv_double_prec(w, "weight", weight, 4);
        jsonw_kv_double_prec(w, "contribution", weight * x[i], 4);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const float *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double frac = pos - (double)i;
    return i + 1 < n ? v[i] * (1 - frac) + v[i + 1] * frac : v[i];
}

/* One metric's daily series and its peers' band over days
 * [last - SCENE_HIST_DAYS + 1, last]. */
static void series_json(struct scene_engine *eng, int32_t h, int m,
                        int64_t last, const struct scene_group *g,
                        float *scratch, struct jsonw *w)
{
    static const char *const keys[] = {"value", "peer_p25", "peer_median",
                                       "peer_p75"};
    double band[4][SCENE_HIST_DAYS];
    for (int k = 0; k < SCENE_HIST_DAYS; k++) {
        int64_t d = last - SCENE_HIST_DAYS + 1 + k;
        int in_ring =
            d >= 0 && d <= eng->cur_day && d > eng->cur_day - SCENE_DAYS;
        size_t slot = in_ring ? (size_t)(d % SCENE_DAYS) : 0;
        uint16_t v = in_ring ? eng->use[m][(size_t)h * SCENE_DAYS + slot]
                             : SCENE_NO_DATA;
        band[0][k] = v == SCENE_NO_DATA ? NAN : v / scene_metric_scale[m];
        size_t n = 0;
        for (uint32_t i = 0; g && in_ring && i < g->count; i++) {
            int32_t p = eng->peer_order[g->start + i];
            uint16_t pv = eng->use[m][(size_t)p * SCENE_DAYS + slot];
            if (p != h && pv != SCENE_NO_DATA)
                scratch[n++] = (float)(pv / scene_metric_scale[m]);
        }
        qsort(scratch, n, sizeof(float), cmp_float);
        for (int q = 1; q <= 3; q++)
            band[q][k] = n >= 3 ? quantile(scratch, n, 0.25 * q) : NAN;
    }
    jsonw_key(w, metric_name(m));
    jsonw_object_begin(w);
    jsonw_kv_str(w, "unit", metric_units[m]);
    for (int q = 0; q < 4; q++) {
        jsonw_key(w, keys[q]);
        jsonw_array_begin(w);
        for (int k = 0; k < SCENE_HIST_DAYS; k++)
            jsonw_double_sig(w, band[q][k], 4);
        jsonw_array_end(w);
    }
    jsonw_object_end(w);
}

static void deliveries_json(struct scene_engine *eng, int32_t h,
                            struct jsonw *w)
{
    jsonw_key(w, "deliveries");
    jsonw_object_begin(w);
    jsonw_kv_int(w, "block_days", SCENE_BLOCK_DAYS);
    jsonw_key(w, "blocks");
    jsonw_array_begin(w);
    for (int64_t b = eng->cur_block - SCENE_BLOCKS + 1;
         eng->cur_block >= 0 && b <= eng->cur_block; b++) {
        if (b < 0)
            continue;
        size_t i = (size_t)h * SCENE_BLOCKS + (size_t)(b % SCENE_BLOCKS);
        int set = __builtin_popcountll(eng->recip[i]);
        double distinct =
            set >= 64 ? 64 * log(64.0) : -64 * log(1 - set / 64.0);
        int y;
        unsigned mo, d;
        time_civil_from_days(b * SCENE_BLOCK_DAYS, &y, &mo, &d);
        jsonw_object_begin(w);
        jsonw_kv_strf(w, "from", "%04d-%02u-%02u", y, mo, d);
        jsonw_kv_int(w, "orders", eng->orders[i]);
        jsonw_kv_double_prec(w, "distinct_recipients", distinct, 0);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

static void all_series_json(struct scene_engine *eng, int32_t h,
                            struct jsonw *w)
{
    int64_t last = scene_last_full_day(eng);
    const struct scene_group *g = scene_gr_group_of(eng, h, 0);
    if (!g || g->peer.n < SCENE_MIN_PEERS)
        g = scene_gr_group_of(eng, h, 1);
    size_t n_peers = g ? g->count : 0;
    float *scratch = xmalloc((n_peers + 1) * sizeof(float));
    jsonw_key(w, "peer_group");
    jsonw_object_begin(w);
    jsonw_kv_str(w, "kind",
                 !g                     ? "none"
                 : g->size_class == 255 ? "building"
                                        : "building_size_class");
    jsonw_kv_int(w, "households", (int64_t)n_peers);
    jsonw_object_end(w);
    jsonw_key(w, "series");
    jsonw_object_begin(w);
    jsonw_key(w, "days");
    jsonw_array_begin(w);
    for (int k = 0; k < SCENE_HIST_DAYS; k++) {
        int y;
        unsigned mo, d;
        time_civil_from_days(last - SCENE_HIST_DAYS + 1 + k, &y, &mo, &d);
        jsonw_strf(w, "%04d-%02u-%02u", y, mo, d);
    }
    jsonw_array_end(w);
    for (int m = 0; m < METRIC_COUNT; m++)
        series_json(eng, h, m, last, g, scratch, w);
    jsonw_object_end(w);
    free(scratch);
    deliveries_json(eng, h, w);
}

int scene_group_rental_evidence_json(struct scene_engine *eng,
                                     const char *household_id, struct sbuf *out)
{
    pthread_mutex_lock(&eng->lock);
    int64_t id = scene_names_find(&eng->ids, household_id);
    int32_t h = id < 0 ? -1 : (int32_t)eng->household_of_id[id] - 1;
    if (h < 0 || !eng->reg[h].rooms) {
        pthread_mutex_unlock(&eng->lock);
        return CB_ENOTFOUND;
    }
    double x[SCENE_NF];
    struct scene_suspect s;
    int err = scene_gr_features(eng, h, x, &s);
    struct jsonw w;
    jsonw_init(&w, out);
    registry_json(eng, h, &w);
    jsonw_kv_bool(&w, "candidate", eng->res[h].candidate);
    if (!err) {
        jsonw_kv_double_prec(&w, "score", eng->res[h].candidate ? s.score : 0.0,
                             4);
        jsonw_kv_double_prec(&w, "estimated_occupants", s.shown, 1);
        jsonw_kv_str(&w, "confidence", confidence_of(&s));
        jsonw_key(&w, "evidence");
        evidence_json(&s, &w);
        jsonw_key(&w, "checks");
        checks_json(&s, &w);
        reasons_json(&s, &w);
        breakdown_json(eng, x, &w);
    }
    all_series_json(eng, h, &w);
    jsonw_object_end(&w);
    pthread_mutex_unlock(&eng->lock);
    return 0;
}
