/*
 * routes_open311.c - Open311 GeoReport v2 (JSON) under /open311/v2/, for
 * civic apps and 12345-style intake: discovery, service definitions,
 * filing a request (which becomes a case, source_kind "open311") and
 * following it.  http://wiki.open311.org/GeoReport_v2/
 *
 * The public services are the setting open311_services,
 * "SERVICE_CODE=CASE_CATEGORY:NAME,..".  Filing needs a token of the role
 * citizen_app as `api_key` (form field, JSON field, query argument or
 * Authorization header).  Discovery and the request views are public, so
 * they show only what is public by construction: cases filed through
 * Open311 (source_kind "open311") in a category that is still a public
 * service.  A case from a suspect, an elderly alert, an event or a staff
 * member never matches, whatever its category.  Nothing personal is shown
 * or stored: the requester's name, e-mail, phone and device id are not
 * kept, and the description is kept as the case's title but not shown
 * publicly (it may name people).
 */
#include "http/http_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "case/case.h"
#include "clock/clock.h"
#include "util/jsonw.h"

#define OPEN311_MAX_SERVICES 64
#define OPEN311_LIST_MAX 1000
#define OPEN311_DEFAULT_DAYS 90

struct open311_service {
    char code[64], category[64], name[128];
};

/* Parses the setting into OUT (at most OPEN311_MAX_SERVICES): the
 * count.  A malformed item is skipped. */
static size_t services_parse(const char *setting, struct open311_service *OUT)
{
    size_t n = 0;
    const char *p = setting ? setting : "";
    while (*p && n < OPEN311_MAX_SERVICES) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        const char *colon = eq ? memchr(eq, ':', len - (size_t)(eq - p)) : NULL;
        struct open311_service *s = &OUT[n];
        if (eq && colon && eq > p && colon > eq + 1 &&
            (size_t)(eq - p) < sizeof(s->code) &&
            (size_t)(colon - eq - 1) < sizeof(s->category) &&
            len - (size_t)(colon - p) - 1 < sizeof(s->name)) {
            snprintf(s->code, sizeof(s->code), "%.*s", (int)(eq - p), p);
            snprintf(s->category, sizeof(s->category), "%.*s",
                     (int)(colon - eq - 1), eq + 1);
            snprintf(s->name, sizeof(s->name), "%.*s",
                     (int)(len - (size_t)(colon - p) - 1), colon + 1);
            n++;
        }
        p += len + (p[len] == ',');
    }
    return n;
}

struct services {
    struct open311_service list[OPEN311_MAX_SERVICES];
    size_t n;
};

static void services_load(struct request *req, struct services *s)
{
    s->n = services_parse(req->srv->cfg->open311_services, s->list);
}

static const struct open311_service *by_code(const struct services *s,
                                             const char *code)
{
    for (size_t i = 0; code && i < s->n; i++)
        if (!strcmp(s->list[i].code, code))
            return &s->list[i];
    return NULL;
}

static const struct open311_service *by_category(const struct services *s,
                                                 const char *category)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->list[i].category, category))
            return &s->list[i];
    return NULL;
}

/* The {} segment without its ".json" into out; replies 404 and returns
 * -1 when it has none (only the JSON format is offered). */
static int json_param(struct request *req, char *out, size_t cap)
{
    size_t n = strlen(req->param);
    if (n <= 5 || strcmp(req->param + n - 5, ".json") || n - 5 >= cap) {
        reply_error(req, 404, "'%s': only the .json format is offered",
                    req->param);
        return -1;
    }
    snprintf(out, cap, "%.*s", (int)(n - 5), req->param);
    return 0;
}

void route_open311_services(struct request *req)
{
    struct services s;
    struct jsonw w;
    services_load(req, &s);
    jsonw_init(&w, &req->out);
    jsonw_array_begin(&w);
    for (size_t i = 0; i < s.n; i++) {
        jsonw_object_begin(&w);
        jsonw_kv_str(&w, "service_code", s.list[i].code);
        jsonw_kv_str(&w, "service_name", s.list[i].name);
        jsonw_kv_str(&w, "description", s.list[i].name);
        jsonw_kv_bool(&w, "metadata", 0);
        jsonw_kv_str(&w, "type", "realtime");
        jsonw_kv_str(&w, "keywords", s.list[i].category);
        jsonw_kv_str(&w, "group", "city");
        jsonw_object_end(&w);
    }
    jsonw_array_end(&w);
    reply_json(req, 200);
}

void route_open311_service(struct request *req)
{
    struct services s;
    struct jsonw w;
    char code[200];
    if (json_param(req, code, sizeof(code)))
        return;
    services_load(req, &s);
    if (!by_code(&s, code)) {
        reply_error(req, 404, "service_code '%s' not found", code);
        return;
    }
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "service_code", code);
    jsonw_key(&w, "attributes");
    jsonw_array_begin(&w);
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    reply_json(req, 200);
}

/* ---- filing a request ---- */

/* The fields of a request, from a form or a JSON body (borrowed from
 * whichever holds them). */
struct open311_new {
    const char *api_key, *service_code, *lat, *lon, *description;
    double lat_v, lon_v;
    int lat_num, lon_num; /* JSON numbers rather than strings */
};

static const char *json_field(json_t *obj, const char *key, double *num,
                              int *is_num)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_number(v) && num) {
        *num = json_number_value(v);
        *is_num = 1;
        return "";
    }
    return json_string_value(v);
}

/* Reads the body (a form, or JSON by Content-Type) into in; q or *OUT_obj
 * hold the strings.  Replies 400 and returns -1 when it cannot be
 * decoded. */
static int request_fields(struct request *req, struct query *q,
                          json_t **OUT_obj, struct open311_new *in)
{
    const char *ct = req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    char err[200];
    memset(in, 0, sizeof(*in));
    *OUT_obj = NULL;
    if (ct && !strncasecmp(ct, "application/json", 16)) {
        json_t *obj = req_body_object(req);
        if (!obj)
            return -1;
        *OUT_obj = obj;
        in->api_key = json_field(obj, "api_key", NULL, NULL);
        in->service_code = json_field(obj, "service_code", NULL, NULL);
        in->lat = json_field(obj, "lat", &in->lat_v, &in->lat_num);
        in->lon = json_field(obj, "long", &in->lon_v, &in->lon_num);
        in->description = json_field(obj, "description", NULL, NULL);
        return 0;
    }
    int rc = query_parse(q, req->body.buf, req->body.len, err, sizeof(err));
    if (rc) {
        reply_error(req, rc == CB_ETOOBIG ? 413 : 400, "the form body: %s",
                    err);
        return -1;
    }
    in->api_key = query_get(q, "api_key");
    in->service_code = query_get(q, "service_code");
    in->lat = query_get(q, "lat");
    in->lon = query_get(q, "long");
    in->description = query_get(q, "description");
    return 0;
}

/* Reads a coordinate (a JSON number, or a decimal string) in [-lim, lim]:
 * 0, or replies 400 naming it and returns -1. */
static int coordinate(struct request *req, const char *name, const char *text,
                      int is_num, double num, double lim, double *OUT)
{
    char *end = NULL;
    double v = is_num ? num : text ? strtod(text, &end) : NAN;
    if (!is_num && (!text || !*text || *end))
        v = NAN;
    if (!isfinite(v) || v < -lim || v > lim) {
        reply_error(req, 400,
                    "field '%s': a decimal degree within +-%g is required "
                    "(address_string alone is not placed)",
                    name, lim);
        return -1;
    }
    *OUT = v;
    return 0;
}

/* The first at most cap - 1 bytes of s, cut at a UTF-8 character start. */
static void utf8_cut(char *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static void reply_created(struct request *req, const struct case_row *c)
{
    struct jsonw w;
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)c->id);
    jsonw_init(&w, &req->out);
    jsonw_array_begin(&w);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "service_request_id", id);
    jsonw_kv_str(&w, "service_notice", "");
    jsonw_kv_null(&w, "account_id");
    jsonw_object_end(&w);
    jsonw_array_end(&w);
    reply_json(req, 201);
}

/* Makes the case of a checked request as the caller. */
static void open311_file(struct request *req, const struct open311_new *in,
                         const struct open311_service *svc, double lat,
                         double lon)
{
    char title[256], ref[128];
    struct case_row c;
    int dup;
    utf8_cut(title, sizeof(title), in->description ? in->description : "");
    snprintf(ref, sizeof(ref), "open311:%s", req->who.name);
    struct case_new cn = {svc->category, "open311", ref,
                          NULL,          1,         lat,
                          lon,           title,     "filed through Open311"};
    int rc =
        case_create(req->srv->store, req->srv->cfg, &req->who, &cn, &c, &dup);
    if (rc == CB_EINVAL)
        reply_error(req, 400, "the request cannot become a case");
    else if (rc)
        reply_error(req, 500, "cannot store the request");
    else
        reply_created(req, &c);
}

void route_open311_create(struct request *req)
{
    struct query *q = xmalloc(sizeof(*q));
    struct open311_new in;
    struct services s;
    json_t *obj = NULL;
    double lat, lon;
    if (request_fields(req, q, &obj, &in) || req_api_key(req, in.api_key))
        goto out_free;
    services_load(req, &s);
    const struct open311_service *svc = by_code(&s, in.service_code);
    if (!in.service_code) {
        reply_error(req, 400, "field 'service_code' is required");
        goto out_free;
    }
    if (!svc) {
        reply_error(req, 404, "service_code '%s' not found", in.service_code);
        goto out_free;
    }
    if (in.description && strlen(in.description) > 4000) {
        reply_error(req, 400, "field 'description': at most 4000 bytes");
        goto out_free;
    }
    if (coordinate(req, "lat", in.lat, in.lat_num, in.lat_v, 90, &lat) ||
        coordinate(req, "long", in.lon, in.lon_num, in.lon_v, 180, &lon))
        goto out_free;
    open311_file(req, &in, svc, lat, lon);
out_free:
    json_decref(obj);
    free(q);
}

/* ---- following requests ---- */

/* The service of c when c is public: filed through Open311 in a category
 * that is a public service; otherwise NULL. */
static const struct open311_service *public_service(const struct services *s,
                                                    const struct case_row *c)
{
    if (strcmp(c->source_kind, "open311"))
        return NULL;
    return by_category(s, c->category);
}

static int case_closed(const struct case_row *c)
{
    return !strcmp(c->state, "closed") || !strcmp(c->state, "evaluated") ||
           !strcmp(c->state, "void");
}

static void kv_time(struct jsonw *w, const char *key, int64_t ns)
{
    char iso[32];
    if (!ns) {
        jsonw_kv_null(w, key);
        return;
    }
    time_format_iso(ns / 1000000000LL, dclock_tz_offset_minutes(), iso);
    jsonw_kv_str(w, key, iso);
}

/* A public request: what anyone may see of case c. */
static void request_json(struct jsonw *w, const struct case_row *c,
                         const struct open311_service *svc)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)c->id);
    jsonw_object_begin(w);
    jsonw_kv_str(w, "service_request_id", id);
    jsonw_kv_str(w, "status", case_closed(c) ? "closed" : "open");
    if (!strcmp(c->state, "void"))
        jsonw_kv_str(w, "status_notes", "not accepted");
    else
        jsonw_kv_null(w, "status_notes");
    jsonw_kv_str(w, "service_name", svc->name);
    jsonw_kv_str(w, "service_code", svc->code);
    jsonw_kv_str(w, "agency_responsible", c->unit);
    jsonw_kv_str(w, "service_notice", "");
    kv_time(w, "requested_datetime", c->created_ns);
    kv_time(w, "updated_datetime", c->updated_ns);
    kv_time(w, "expected_datetime", case_closed(c) ? 0 : c->deadline_ns);
    jsonw_kv_double(w, "lat", c->lat);
    jsonw_kv_double(w, "long", c->lon);
    jsonw_object_end(w);
}

void route_open311_request(struct request *req)
{
    struct services s;
    struct case_row c;
    struct jsonw w;
    char id[64], *end;
    if (json_param(req, id, sizeof(id)))
        return;
    services_load(req, &s);
    long long n = strtoll(id, &end, 10);
    int rc = *id && !*end && n > 0 ? store_case_get(req->srv->store, n, &c)
                                   : CB_ENOTFOUND;
    const struct open311_service *svc = rc ? NULL : public_service(&s, &c);
    if (rc && rc != CB_ENOTFOUND) {
        reply_error(req, 500, "cannot read the request");
        return;
    }
    if (!svc) { /* unknown, or not a public request: the same answer */
        reply_error(req, 404, "service_request_id '%s' not found", id);
        return;
    }
    jsonw_init(&w, &req->out);
    jsonw_array_begin(&w);
    request_json(&w, &c, svc);
    jsonw_array_end(&w);
    reply_json(req, 200);
}

/* A list's filters (GeoReport v2 "GET Service Requests"). */
struct list_filter {
    struct request *req;
    struct services s;
    struct jsonw *w;
    const char *ids, *codes, *statuses; /* comma-separated, or NULL */
    int64_t from_ns, to_ns;
    int n;
};

/* Whether item is one of the comma-separated list. */
static int in_list(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, item, n))
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

static void list_fn(void *ctx, const struct case_row *c)
{
    struct list_filter *f = ctx;
    const struct open311_service *svc = public_service(&f->s, c);
    if (!svc || f->n >= OPEN311_LIST_MAX ||
        (f->codes && !in_list(f->codes, svc->code)) ||
        (f->statuses &&
         !in_list(f->statuses, case_closed(c) ? "closed" : "open")))
        return;
    request_json(f->w, c, svc);
    f->n++;
}

/* service_request_id=ID,ID,..: those requests, whatever their dates (the
 * spec ignores the other filters then).  0 or CB_ESTORE. */
static int list_by_ids(struct request *req, struct list_filter *f)
{
    const char *p = f->ids;
    while (*p && f->n < OPEN311_LIST_MAX) {
        size_t len = strcspn(p, ",");
        char id[24], *end;
        struct case_row c;
        snprintf(id, sizeof(id), "%.*s", (int)(len < 23 ? len : 23), p);
        long long n = strtoll(id, &end, 10);
        int rc = *id && !*end && n > 0 ? store_case_get(req->srv->store, n, &c)
                                       : CB_ENOTFOUND;
        if (rc && rc != CB_ENOTFOUND)
            return rc;
        if (!rc) {
            const struct open311_service *svc = public_service(&f->s, &c);
            if (svc) {
                request_json(f->w, &c, svc);
                f->n++;
            }
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

/* start_date and end_date; neither: the last OPEN311_DEFAULT_DAYS days.
 * Replies 400 and returns -1 on a bad one. */
static int list_window(struct request *req, struct list_filter *f)
{
    char err[240];
    int64_t now = dclock_now_ns(), day = 86400LL * 1000000000LL;
    int tz = dclock_tz_offset_minutes();
    int given = req_arg(req, "start_date") || req_arg(req, "end_date");
    if (query_get_time(&req->query, "start_date", tz, 0,
                       given ? 0 : now - OPEN311_DEFAULT_DAYS * day,
                       &f->from_ns, err, sizeof(err)) ||
        query_get_time(&req->query, "end_date", tz, 1, INT64_MAX, &f->to_ns,
                       err, sizeof(err))) {
        reply_error(req, 400, "%s", err);
        return -1;
    }
    return 0;
}

void route_open311_requests(struct request *req)
{
    struct jsonw w;
    struct list_filter *f = xcalloc(1, sizeof(*f));
    f->req = req;
    f->w = &w;
    f->ids = req_arg(req, "service_request_id");
    f->codes = req_arg(req, "service_code");
    f->statuses = req_arg(req, "status");
    services_load(req, &f->s);
    if (list_window(req, f))
        goto out_free;
    jsonw_init(&w, &req->out);
    jsonw_array_begin(&w);
    if (f->ids
            ? list_by_ids(req, f)
            : store_scan_cases_by_source(req->srv->store, "open311", f->from_ns,
                                         f->to_ns, 0, list_fn, f)) {
        reply_error(req, 500, "cannot list the requests");
        goto out_free;
    }
    jsonw_array_end(&w);
    reply_json(req, 200);
out_free:
    free(f);
}
