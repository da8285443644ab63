/* indic_def.c - indicator declarations: parsing and checking.  The default
 * set is etc/indicators.default.json, compiled in (indic_int.h). */
#include "indic/indic_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

static int bad(char *err, size_t cap, const char *fmt, const char *what)
{
    snprintf(err, cap, fmt, what);
    return CB_EINVAL;
}

/* Copies the string member key of o into out (cap bytes); absent: "". */
static int get_str(json_t *o, const char *key, char *out, size_t cap, char *err,
                   size_t errcap)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        json_string_length(v) == 0) {
        snprintf(err, errcap, "'%s' must be a string of 1..%zu bytes", key,
                 cap - 1);
        return CB_EINVAL;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int pick(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

int indic_parse_duration(const char *s, int64_t *OUT_ns)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    int64_t unit = *end == 's'   ? 1
                   : *end == 'm' ? 60
                   : *end == 'h' ? 3600
                   : *end == 'd' ? 86400
                                 : 0;
    if (end == s || v <= 0 || v > 1000000 || !unit || end[1])
        return CB_EINVAL;
    *OUT_ns = (int64_t)v * unit * INDIC_NS_S;
    return 0;
}

static int check_id(const char *id)
{
    if (!*id)
        return CB_EINVAL;
    for (const char *p = id; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
              ('0' <= *p && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
            return CB_EINVAL;
    return 0;
}

static int parse_filter(json_t *o, struct indic_def *d, char *err, size_t cap)
{
    json_t *f = json_object_get(o, "filter");
    char metric[32];
    d->metric = -1;
    if (!f)
        return 0;
    if (!json_is_object(f))
        return bad(err, cap, "'%s' must be an object", "filter");
    const char *key;
    json_t *v;
    json_object_foreach(f, key, v)
    {
        if (strcmp(key, "source") && strcmp(key, "type") &&
            strcmp(key, "platform") && strcmp(key, "metric"))
            return bad(err, cap,
                       "filter: unknown key '%s' (source, type, platform, "
                       "metric)",
                       key);
    }
    if (get_str(f, "source", d->source, sizeof(d->source), err, cap) ||
        get_str(f, "type", d->type, sizeof(d->type), err, cap) ||
        get_str(f, "platform", d->platform, sizeof(d->platform), err, cap) ||
        get_str(f, "metric", metric, sizeof(metric), err, cap))
        return CB_EINVAL;
    if (*metric) {
        d->metric = metric_parse(metric, strlen(metric));
        if (d->metric < 0)
            return bad(err, cap,
                       "filter: metric '%s' is not water, electricity or gas",
                       metric);
    }
    return 0;
}

static int parse_measure(json_t *o, struct indic_def *d, char *err, size_t cap)
{
    static const char *const measures[] = {
        "count", "sum", "mean", "distinct", "ratio", "percentile", "freshness"};
    char m[32];
    if (get_str(o, "measure", m, sizeof(m), err, cap))
        return CB_EINVAL;
    int k = pick(m, measures, 7);
    if (k < 0)
        return bad(err, cap,
                   "measure '%s' is not count, sum, mean, distinct, ratio, "
                   "percentile or freshness",
                   m);
    d->measure = (enum indic_measure)k;
    if (get_str(o, "field", d->field, sizeof(d->field), err, cap))
        return CB_EINVAL;
    int needs_field = (k == IM_SUM || k == IM_MEAN || k == IM_PERCENTILE) &&
                      (d->feed == IF_EVENTS || d->feed == IF_DELIVERIES);
    if ((needs_field || k == IM_DISTINCT) && !*d->field)
        return bad(err, cap, "measure '%s' needs a 'field'", m);
    if (k == IM_PERCENTILE) {
        json_t *p = json_object_get(o, "p");
        if (!json_is_number(p) || json_number_value(p) <= 0 ||
            json_number_value(p) > 100)
            return bad(err, cap, "'%s' must be a number in (0, 100]", "p");
        d->p = json_number_value(p);
    }
    if (k == IM_RATIO) {
        json_t *w = json_object_get(o, "where");
        if (!json_is_object(w))
            return bad(err, cap,
                       "measure ratio needs '%s': an object with a type, "
                       "or matched true",
                       "where");
        if (get_str(w, "type", d->where_type, sizeof(d->where_type), err, cap))
            return CB_EINVAL;
        d->where_matched = json_is_true(json_object_get(w, "matched"));
        if (!*d->where_type && !d->where_matched)
            return bad(err, cap, "'%s' needs type or matched", "where");
    }
    return 0;
}

/* "retention": how long this indicator's points are kept, instead of
 * indicator_retention_days (optional; 1d..400d). */
static int parse_retention(json_t *o, struct indic_def *d, char *err,
                           size_t cap)
{
    char s[32];
    if (get_str(o, "retention", s, sizeof(s), err, cap))
        return CB_EINVAL;
    if (!*s)
        return 0;
    if (indic_parse_duration(s, &d->retention_ns) ||
        d->retention_ns < 86400 * INDIC_NS_S ||
        d->retention_ns > 400 * 86400 * INDIC_NS_S)
        return bad(err, cap, "retention '%s' is not a duration of 1d..400d", s);
    return 0;
}

static int parse_body(json_t *o, struct indic_def *d, char *err, size_t cap)
{
    static const char *const feeds[] = {"events",   "deliveries", "usage",
                                        "readings", "ingest",     "scenes"};
    static const char *const groups[] = {"district",  "street",
                                         "committee", "source",
                                         "category",  "street_category"};
    char s[32];
    if (!json_is_object(o))
        return bad(err, cap, "%s", "a declaration must be a JSON object");
    if (get_str(o, "id", d->id, sizeof(d->id), err, cap))
        return CB_EINVAL;
    if (check_id(d->id))
        return bad(err, cap, "%s", "'id' is required: 1..63 of [A-Za-z0-9_.-]");
    if (get_str(o, "feed", s, sizeof(s), err, cap))
        return CB_EINVAL;
    int k = pick(s, feeds, 6);
    if (k < 0)
        return bad(err, cap,
                   "feed '%s' is not events, deliveries, usage, readings, "
                   "ingest or scenes",
                   s);
    d->feed = (enum indic_feed)k;
    if (parse_filter(o, d, err, cap) || parse_measure(o, d, err, cap))
        return CB_EINVAL;
    if (get_str(o, "bucket", s, sizeof(s), err, cap))
        return CB_EINVAL;
    if (!*s)
        strcpy(s, d->feed == IF_USAGE ? "1d" : "1h");
    if (indic_parse_duration(s, &d->bucket_ns) ||
        d->bucket_ns < 60 * INDIC_NS_S || d->bucket_ns > 7 * 86400 * INDIC_NS_S)
        return bad(err, cap, "bucket '%s' is not a duration of 1m..7d", s);
    if (d->feed == IF_USAGE && d->bucket_ns != 86400 * INDIC_NS_S &&
        (d->bucket_ns % (3600 * INDIC_NS_S) ||
         (86400 * INDIC_NS_S) % d->bucket_ns))
        return bad(err, cap, "%s",
                   "feed usage has buckets of 1d (daily use) or of whole "
                   "hours that divide a day (hourly use)");
    if (parse_retention(o, d, err, cap))
        return CB_EINVAL;
    if (get_str(o, "group", s, sizeof(s), err, cap))
        return CB_EINVAL;
    k = pick(*s ? s : "district", groups, 6);
    if (k < 0)
        return bad(err, cap,
                   "group '%s' is not district, street, committee, source, "
                   "category or street_category",
                   s);
    d->group = (enum indic_group)k;
    if ((d->group == IG_STREET || d->group == IG_COMMITTEE ||
         d->group == IG_STREET_CATEGORY) &&
        d->feed == IF_INGEST)
        return bad(err, cap, "%s", "feed ingest groups by source or district");
    if (d->feed == IF_SCENES &&
        (strcmp(d->type, "suspects") && strcmp(d->type, "elderly_alerts")))
        return bad(err, cap, "%s",
                   "feed scenes needs filter type \"suspects\" or "
                   "\"elderly_alerts\"");
    if (d->feed == IF_SCENES && d->group != IG_STREET &&
        d->group != IG_DISTRICT)
        return bad(err, cap, "%s", "feed scenes groups by street or district");
    return 0;
}

int indic_def_parse(const char *json, size_t len, struct indic_def **OUT,
                    char *err, size_t errcap)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    *OUT = NULL;
    if (!o) {
        snprintf(err, errcap, "invalid JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return CB_EINVAL;
    }
    struct indic_def *d = xcalloc(1, sizeof(*d));
    int rc = parse_body(o, d, err, errcap);
    if (rc) {
        free(d);
        goto out;
    }
    d->json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    *OUT = d;
out:
    json_decref(o);
    return rc;
}

void indic_def_free(struct indic_def *d)
{
    if (d) {
        free(d->json);
        free(d->by_key);
    }
    free(d);
}
