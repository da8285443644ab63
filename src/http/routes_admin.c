/* routes_admin.c - tokens, departments, the audit log, whoami. */
#include "http/http_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "render/render.h"
#include "util/jsonw.h"

static const char *obj_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Fills info from {"name","role","department","committee"}; replies 400 on
 * a bad field and returns -1. */
static int token_fields(struct request *req, json_t *obj,
                        struct token_info *info)
{
    const char *name = obj_str(obj, "name");
    const char *role = obj_str(obj, "role");
    if (!name || !*name || strlen(name) >= sizeof(info->name)) {
        reply_error(req, 400, "field 'name': a string of 1-63 bytes");
        return -1;
    }
    snprintf(info->name, sizeof(info->name), "%s", name);
    int r = role ? role_parse(role) : -1;
    if (r < 0) {
        reply_error(req, 400,
                    "field 'role': one of admin, publisher, "
                    "operator, analyst, committee, supervisor, call_taker, "
                    "shift_lead, dispatcher, department, citizen_app");
        return -1;
    }
    info->role = (enum role)r;
    if (info->role == ROLE_PUBLISHER || info->role == ROLE_DEPARTMENT) {
        const char *dept = obj_str(obj, "department");
        if (!dept ||
            store_department_find(req->srv->store, dept, &info->department_id,
                                  &info->feeds)) {
            reply_error(req, 400,
                        "field 'department': a %s token needs "
                        "an existing department",
                        role_name(info->role));
            return -1;
        }
    }
    if (info->role == ROLE_COMMITTEE) {
        const char *c = obj_str(obj, "committee");
        if (!c || !*c || strlen(c) >= sizeof(info->committee)) {
            reply_error(req, 400,
                        "field 'committee': a committee token "
                        "needs its committee's name");
            return -1;
        }
        snprintf(info->committee, sizeof(info->committee), "%s", c);
    }
    return 0;
}

void route_tokens_create(struct request *req)
{
    json_t *obj = req_body_object(req);
    if (!obj)
        return;
    struct token_info info;
    memset(&info, 0, sizeof(info));
    if (token_fields(req, obj, &info) == 0) {
        char token[AUTH_TOKEN_LEN + 1];
        int64_t id;
        int rc = auth_token_create(req->srv->store, &info, token, &id);
        if (rc) {
            reply_error(req, 500, "cannot create token: %s", cb_strerror(rc));
        } else {
            struct jsonw w;
            jsonw_init(&w, &req->out);
            jsonw_object_begin(&w);
            jsonw_kv_int(&w, "id", id);
            jsonw_kv_str(&w, "token", token);
            jsonw_kv_str(&w, "role", role_name(info.role));
            jsonw_kv_str(&w, "name", info.name);
            jsonw_object_end(&w);
            reply_json(req, 201);
            store_audit_token(req->srv->store, req->who.id, req->who.name,
                              "token.create", info.name, role_name(info.role));
        }
    }
    json_decref(obj);
}

void route_tokens_list(struct request *req)
{
    if (render_tokens(req->srv->store, &req->out))
        reply_error(req, 500, "cannot list tokens");
    else
        reply_json(req, 200);
}

void route_tokens_revoke(struct request *req)
{
    char *end;
    long long id = strtoll(req->param, &end, 10);
    if (*end || id <= 0) {
        reply_error(req, 400, "token id '%s' is not a number", req->param);
        return;
    }
    int rc = store_token_revoke(req->srv->store, id);
    if (rc == CB_ENOTFOUND) {
        reply_error(req, 404, "no token %lld", id);
        return;
    }
    if (rc) {
        reply_error(req, 500, "cannot revoke: %s", cb_strerror(rc));
        return;
    }
    store_audit_token(req->srv->store, req->who.id, req->who.name,
                      "token.revoke", req->param, "");
    req->status = 204;
}

/* Reads {"feeds":["readings",...]} into a bitmask; -1 on a bad name. */
static int feeds_mask(json_t *arr, uint32_t *OUT_mask)
{
    size_t i;
    json_t *v;
    *OUT_mask = 0;
    if (!json_is_array(arr))
        return -1;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        int f;
        for (f = 0; f < FEED_COUNT; f++)
            if (s && !strcmp(s, feed_name((enum feed)f)))
                break;
        if (f == FEED_COUNT)
            return -1;
        *OUT_mask |= 1u << f;
    }
    return 0;
}

/* Reads {"measurements":["water",...]} (absent: all) into a bitmask of
 * enum metric; -1 on a bad name. */
static int measurements_mask(json_t *arr, uint32_t *OUT_mask)
{
    size_t i;
    json_t *v;
    *OUT_mask = 0;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return -1;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        int m = s ? metric_parse(s, strlen(s)) : -1;
        if (m < 0)
            return -1;
        *OUT_mask |= 1u << m;
    }
    return 0;
}

/* Reads {"sources":["110","120"]} (absent: any) into "110,120"; -1 when
 * not an array of non-empty strings without ',' or too long. */
static int sources_list(json_t *arr, struct sbuf *out)
{
    size_t i;
    json_t *v;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return -1;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || !*s || strchr(s, ','))
            return -1;
        if (out->len)
            sbuf_addch(out, ',');
        sbuf_addstr(out, s);
    }
    return out->len > STORE_NAME_MAX ? -1 : 0;
}

void route_departments_create(struct request *req)
{
    json_t *obj = req_body_object(req);
    if (!obj)
        return;
    const char *name = obj_str(obj, "name");
    uint32_t mask;
    int64_t id;
    struct sbuf sources = SBUF_INIT;
    sbuf_init(&sources);
    struct department_grants grants = {0, 0, NULL};
    if (!name || !*name || strlen(name) > 63) {
        reply_error(req, 400, "field 'name': a string of 1-63 bytes");
    } else if (feeds_mask(json_object_get(obj, "feeds"), &mask)) {
        reply_error(req, 400,
                    "field 'feeds': an array of registry, "
                    "readings, deliveries, events");
    } else if (measurements_mask(json_object_get(obj, "measurements"),
                                 &grants.measurements)) {
        reply_error(req, 400,
                    "field 'measurements': an array of water, electricity, "
                    "gas");
    } else if (sources_list(json_object_get(obj, "sources"), &sources)) {
        reply_error(req, 400,
                    "field 'sources': an array of event sources or delivery "
                    "platforms (no ',', %d bytes in all)",
                    STORE_NAME_MAX);
    } else {
        grants.feeds = mask;
        grants.sources = sources.buf;
        int rc = store_department_create(req->srv->store, name, &grants, &id);
        if (rc == CB_EEXIST) {
            reply_error(req, 409, "department '%s' exists", name);
        } else if (rc) {
            reply_error(req, 500, "cannot create: %s", cb_strerror(rc));
        } else {
            struct jsonw w;
            jsonw_init(&w, &req->out);
            jsonw_object_begin(&w);
            jsonw_kv_int(&w, "id", id);
            jsonw_kv_str(&w, "name", name);
            jsonw_object_end(&w);
            reply_json(req, 201);
            store_audit_token(req->srv->store, req->who.id, req->who.name,
                              "department.create", name, "");
        }
    }
    sbuf_release(&sources);
    json_decref(obj);
}

void route_departments_list(struct request *req)
{
    if (render_departments(req->srv->store, &req->out))
        reply_error(req, 500, "cannot list departments");
    else
        reply_json(req, 200);
}

void route_audit_list(struct request *req)
{
    int64_t limit;
    if (req_int_arg(req, "limit", 1, 10000, 100, &limit))
        return;
    if (render_audit(req->srv->store, limit, &req->out))
        reply_error(req, 500, "cannot read the audit log");
    else
        reply_json(req, 200);
}

void reply_status_object(struct request *req, const char *status)
{
    struct jsonw w;
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "status", status);
    jsonw_object_end(&w);
}

void whoami_fields(const struct request *req, struct jsonw *w)
{
    jsonw_kv_str(w, "name", req->who.name);
    jsonw_kv_str(w, "role", role_name(req->who.role));
    if (req->who.role == ROLE_COMMITTEE)
        jsonw_kv_str(w, "committee", req->who.committee);
}

void route_whoami(struct request *req)
{
    struct jsonw w;
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    whoami_fields(req, &w);
    jsonw_object_end(&w);
    reply_json(req, 200);
}

/* POST /api/v1/login-links: a token of the body's role (as POST
 * /api/v1/tokens, its secret never shown) behind a one-time link. */
void route_login_links_create(struct request *req)
{
    json_t *obj = req_body_object(req);
    if (!obj)
        return;
    struct token_info info;
    memset(&info, 0, sizeof(info));
    json_t *m = json_object_get(obj, "minutes");
    int minutes = req->srv->cfg->login_link_minutes;
    if (m && (!json_is_integer(m) || json_integer_value(m) < 1 ||
              json_integer_value(m) > 1440)) {
        reply_error(req, 400, "field 'minutes': an integer in 1..1440");
        goto out_obj;
    }
    if (m)
        minutes = (int)json_integer_value(m);
    if (token_fields(req, obj, &info))
        goto out_obj;
    char code[SESSION_ID_LEN + 1], when[40];
    int64_t expires_ns, token_id;
    int rc = session_link_issue(req->srv->store, &info, minutes, code,
                                &expires_ns, &token_id);
    if (rc) {
        reply_error(req, 500, "cannot make the link: %s", cb_strerror(rc));
        goto out_obj;
    }
    time_format_iso(expires_ns / 1000000000, dclock_tz_offset_minutes(), when);
    struct jsonw w;
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    jsonw_kv_strf(&w, "url", "/login?once=%s", code);
    jsonw_kv_str(&w, "expires", when);
    jsonw_kv_int(&w, "token_id", token_id);
    jsonw_kv_str(&w, "role", role_name(info.role));
    jsonw_object_end(&w);
    reply_json(req, 201);
    store_audit_token(req->srv->store, req->who.id, req->who.name,
                      "login_link.create", info.name, role_name(info.role));
out_obj:
    json_decref(obj);
}
