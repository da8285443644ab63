/*
 * indic_rule_defaults.c - the default alert rules: an anomaly rule on each
 * default indicator of the departments' events, at street and at district
 * level, loaded at start when `alert_rule_defaults = 1`.
 *
 * The rules are data, like the default indicators: one JSON array in the
 * form of POST /api/v1/alert-rules (docs/INDICATORS.md).  They are not
 * stored: a rule stored with the same id (an operator's edit through the
 * API) replaces its default at start.  The threshold 0.999 keeps every
 * series under one false alert a simulated week on the simulated district
 * (node bench/demo_alerts.mjs, docs/BENCHMARKS.md); of the simulator's
 * incidents it catches the storm and the festival within two buckets, not
 * the small water main break or the heat or cold wave.
 */
#include "indic/indic_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* street level: the incident's own street; district level: a category or
 * a source over the whole district */
const char indic_default_rules[] =
    "["
    "{\"id\": \"calls_110_street_anomaly\", \"indicator\": "
    "\"calls_110_street\", \"kind\": \"anomaly\", \"value\": 0.999, "
    "\"keep_firing_for\": \"1h\", \"severity\": \"warning\"},"
    "{\"id\": \"calls_120_street_anomaly\", \"indicator\": "
    "\"calls_120_street\", \"kind\": \"anomaly\", \"value\": 0.999, "
    "\"keep_firing_for\": \"1h\", \"severity\": \"warning\"},"
    "{\"id\": \"urban_management_street_anomaly\", \"indicator\": "
    "\"urban_management_street\", \"kind\": \"anomaly\", \"value\": 0.999, "
    "\"keep_firing_for\": \"1h\", \"severity\": \"warning\"},"
    "{\"id\": \"hotline_12345_street_anomaly\", \"indicator\": "
    "\"hotline_12345_street\", \"kind\": \"anomaly\", \"value\": 0.999, "
    "\"keep_firing_for\": \"1d\", \"severity\": \"warning\"},"
    "{\"id\": \"calls_110_type_anomaly\", \"indicator\": \"calls_110_type\", "
    "\"kind\": \"anomaly\", \"value\": 0.999, \"keep_firing_for\": \"1h\", "
    "\"severity\": \"warning\"},"
    "{\"id\": \"calls_119_type_anomaly\", \"indicator\": \"calls_119_type\", "
    "\"kind\": \"anomaly\", \"value\": 0.999, \"keep_firing_for\": \"1h\", "
    "\"severity\": \"warning\"},"
    "{\"id\": \"calls_120_type_anomaly\", \"indicator\": \"calls_120_type\", "
    "\"kind\": \"anomaly\", \"value\": 0.999, \"keep_firing_for\": \"1h\", "
    "\"severity\": \"warning\"},"
    "{\"id\": \"hotline_12345_category_anomaly\", \"indicator\": "
    "\"hotline_12345_category\", \"kind\": \"anomaly\", \"value\": 0.999, "
    "\"keep_firing_for\": \"1h\", \"severity\": \"warning\"},"
    "{\"id\": \"events_by_source_anomaly\", \"indicator\": "
    "\"events_by_source\", \"kind\": \"anomaly\", \"value\": 0.999, "
    "\"keep_firing_for\": \"1h\", \"severity\": \"warning\"}"
    "]";

int indic_rules_add_defaults(struct indic_engine *eng)
{
    json_error_t je;
    json_t *a = json_loads(indic_default_rules, 0, &je);
    if (!json_is_array(a)) {
        log_msg(LOG_ERROR, "indic", "default rules: line %d column %d: %s",
                je.line, je.column, je.text);
        json_decref(a);
        return CB_EINVAL;
    }
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(a, i, v)
    {
        char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char err[300];
        rc = text ? indic_rule_add_unstored(eng, text, strlen(text), err,
                                            sizeof(err))
                  : CB_EINVAL;
        if (rc)
            log_msg(LOG_ERROR, "indic", "default rule %zu: %s", i + 1,
                    text ? err : "cannot encode");
        free(text);
        if (rc)
            break;
    }
    json_decref(a);
    return rc;
}
