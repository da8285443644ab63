/*
 * indic_rule_defaults.c - the default alert rules: an anomaly rule on each
 * default indicator of the departments' events, at street and at district
 * level, loaded at start when `alert_rule_defaults = 1`.
 *
 * The rules are data, like the default indicators: a table written out as
 * rules in the JSON form of POST /api/v1/alert-rules (docs/INDICATORS.md). They
 * are not stored: a rule stored with the same id (an operator's edit through
 * the API) replaces its default at start.  The threshold 0.999 keeps every
 * series under one false alert a simulated week on the simulated district
 * (node bench/demo_alerts.mjs, docs/BENCHMARKS.md); of the simulator's
 * incidents it catches the storm, the festival and the water main break
 * (12345 per street and category) within two buckets, not the heat or
 * cold wave (docs/INDICATORS.md says why the two newest rules are shaped
 * as they are, and BENCHMARKS why the wave stays unseen).
 */
#include "indic/indic_int.h"

#include "util/jsonw.h"

/* One default rule: an anomaly rule on a default indicator.  Street
 * level: the incident's own street; district level: a category or a source
 * over the whole district. */
struct default_rule {
    const char *id, *indicator, *keep_firing_for;
};

static const struct default_rule default_rules[] = {
    {"calls_110_street_anomaly", "calls_110_street", "1h"},
    {"calls_120_street_anomaly", "calls_120_street", "1h"},
    {"urban_management_street_anomaly", "urban_management_street", "1h"},
    {"hotline_12345_street_anomaly", "hotline_12345_street", "1d"},
    {"hotline_12345_street_category_anomaly", "hotline_12345_street_category",
     "1h"},
    {"calls_110_type_anomaly", "calls_110_type", "1h"},
    {"calls_119_type_anomaly", "calls_119_type", "1h"},
    {"calls_120_type_anomaly", "calls_120_type", "1h"},
    {"calls_120_daily_anomaly", "calls_120_daily", "1d"},
    {"hotline_12345_category_anomaly", "hotline_12345_category", "1h"},
    {"events_by_source_anomaly", "events_by_source", "1h"},
};

#define DEFAULT_RULE_SCORE 0.999

static void default_rule_json(struct jsonw *w, const struct default_rule *r)
{
    jsonw_object_begin(w);
    jsonw_kv_str(w, "id", r->id);
    jsonw_kv_str(w, "indicator", r->indicator);
    jsonw_kv_str(w, "kind", "anomaly");
    jsonw_kv_double(w, "value", DEFAULT_RULE_SCORE);
    jsonw_kv_str(w, "keep_firing_for", r->keep_firing_for);
    jsonw_kv_str(w, "severity", "warning");
    jsonw_object_end(w);
}

void indic_default_rules_json(struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_array_begin(&w);
    for (size_t i = 0; i < sizeof(default_rules) / sizeof(default_rules[0]);
         i++)
        default_rule_json(&w, &default_rules[i]);
    jsonw_array_end(&w);
}

int indic_rules_add_defaults(struct indic_engine *eng)
{
    int rc = 0;
    for (size_t i = 0;
         !rc && i < sizeof(default_rules) / sizeof(default_rules[0]); i++) {
        struct sbuf text = SBUF_INIT;
        struct jsonw w;
        jsonw_init(&w, &text);
        default_rule_json(&w, &default_rules[i]);
        char err[300];
        rc = indic_rule_add_unstored(eng, text.buf, text.len, err, sizeof(err));
        if (rc)
            log_msg(LOG_ERROR, "indic", "default rule '%s': %s",
                    default_rules[i].id, err);
        sbuf_release(&text);
    }
    return rc;
}
