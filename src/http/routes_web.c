/*
 * routes_web.c - the UI's files (web_dir, built by make into web/dist) and
 * the district's map boundaries.
 *
 * The UI is a few static files: / is web_dir/index.html, /assets/NAME any
 * file directly in web_dir/assets (names of [A-Za-z0-9._-] only, never
 * starting with '.', so nothing outside the directory can be named).  They
 * need no token: what a role may see comes from the API, filtered there.
 *
 * Boundaries are one GeoJSON FeatureCollection of the district's street
 * (and committee) polygons, kept in the store's kv table under
 * "map.boundaries" and replaced whole by an admin.
 *
 * Clusters: the scenes' markers aggregated on a grid for the view
 * (map.h), counts only.
 */
#include "http/http_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/map.h"
#include "scene/scene.h"
#include "util/jsonw.h"

#define BOUNDARIES_KEY "map.boundaries"
/* Files the UI serves are small; a bigger one is refused, not streamed. */
#define WEB_FILE_MAX (8u << 20)

static const char *content_type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* Reads web_dir/rel into req->out; replies 404 when it is not there. */
static void send_file(struct request *req, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", req->srv->cfg->web_dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        reply_error(req, 404,
                    "'%s' is not in the UI (web_dir '%s'; `make` builds it)",
                    rel, req->srv->cfg->web_dir);
        return;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
           req->out.len + n <= WEB_FILE_MAX)
        sbuf_add(&req->out, chunk, n);
    int too_big = n > 0;
    fclose(f);
    if (too_big) {
        reply_error(req, 500, "'%s' is over %u bytes", rel, WEB_FILE_MAX);
        return;
    }
    req->status = 200;
    req->content_type = content_type_of(rel);
}

void route_web_index(struct request *req)
{
    send_file(req, "index.html");
}

void route_web_asset(struct request *req)
{
    const char *name = req->param;
    size_t ok =
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx"
                     "yz0123456789._-");
    if (name[0] == '.' || name[ok] != '\0') {
        reply_error(req, 404, "no asset '%s'", name);
        return;
    }
    char rel[300];
    snprintf(rel, sizeof(rel), "assets/%s", name);
    send_file(req, rel);
}

/* Checks one position [lon, lat] of a ring; 0 or -1 (error in why). */
static int check_position(json_t *pos, char *why, size_t cap)
{
    if (!json_is_array(pos) || json_array_size(pos) < 2 ||
        !json_is_number(json_array_get(pos, 0)) ||
        !json_is_number(json_array_get(pos, 1))) {
        snprintf(why, cap, "a position must be [lon, lat]");
        return -1;
    }
    double lon = json_number_value(json_array_get(pos, 0));
    double lat = json_number_value(json_array_get(pos, 1));
    if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
        snprintf(why, cap, "position [%g, %g] is not WGS84 lon, lat", lon, lat);
        return -1;
    }
    return 0;
}

/* Checks a Polygon's rings (depth 0) or a MultiPolygon's polygons. */
static int check_rings(json_t *coords, int multi, char *why, size_t cap)
{
    size_t i, j;
    json_t *a, *b;
    if (!json_is_array(coords) || !json_array_size(coords)) {
        snprintf(why, cap, "coordinates must be a non-empty array");
        return -1;
    }
    json_array_foreach(coords, i, a)
    {
        if (multi) {
            if (check_rings(a, 0, why, cap))
                return -1;
            continue;
        }
        if (!json_is_array(a) || json_array_size(a) < 4) {
            snprintf(why, cap, "a ring needs at least 4 positions");
            return -1;
        }
        json_array_foreach(a, j, b)
        {
            if (check_position(b, why, cap))
                return -1;
        }
    }
    return 0;
}

/* Checks a FeatureCollection of named (Multi)Polygons; 0 or -1 with the
 * feature's index and the reason in why. */
static int check_boundaries(json_t *fc, char *why, size_t cap)
{
    char inner[160];
    json_t *features = json_object_get(fc, "features");
    if (!json_is_object(fc) ||
        strcmp(json_string_value(json_object_get(fc, "type")) ?: "",
               "FeatureCollection") ||
        !json_is_array(features)) {
        snprintf(why, cap, "the body must be a GeoJSON FeatureCollection");
        return -1;
    }
    size_t i;
    json_t *f;
    json_array_foreach(features, i, f)
    {
        json_t *g = json_object_get(f, "geometry");
        const char *type = json_string_value(json_object_get(g, "type"));
        const char *name = json_string_value(
            json_object_get(json_object_get(f, "properties"), "name"));
        int multi = type && !strcmp(type, "MultiPolygon");
        if (!name || !*name) {
            snprintf(why, cap, "features[%zu]: properties.name is missing", i);
            return -1;
        }
        if (!type || (!multi && strcmp(type, "Polygon"))) {
            snprintf(why, cap,
                     "features[%zu] ('%.64s'): the geometry must be a "
                     "Polygon or MultiPolygon",
                     i, name);
            return -1;
        }
        if (check_rings(json_object_get(g, "coordinates"), multi, inner,
                        sizeof(inner))) {
            snprintf(why, cap, "features[%zu] ('%.64s'): %s", i, name, inner);
            return -1;
        }
    }
    return 0;
}

void route_boundaries_put(struct request *req)
{
    json_error_t err;
    char why[300];
    json_t *fc = json_loadb(req->body.buf, req->body.len, 0, &err);
    if (!fc) {
        reply_error(req, 400, "line %d, column %d: %s", err.line, err.column,
                    err.text);
        return;
    }
    if (check_boundaries(fc, why, sizeof(why))) {
        json_decref(fc);
        reply_error(req, 400, "%s", why);
        return;
    }
    size_t n = json_array_size(json_object_get(fc, "features"));
    char *text = json_dumps(fc, JSON_COMPACT);
    json_decref(fc);
    int rc = store_kv_set(req->srv->store, BOUNDARIES_KEY, text);
    free(text);
    if (rc) {
        reply_error(req, 503, "the boundaries could not be stored");
        return;
    }
    struct jsonw w;
    jsonw_init(&w, &req->out);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "features", (int64_t)n);
    jsonw_object_end(&w);
    reply_json(req, 200);
    store_audit_token(req->srv->store, req->who.id, req->who.name,
                      "map.boundaries", "put", NULL);
}

void route_boundaries_get(struct request *req)
{
    int rc = store_kv_get(req->srv->store, BOUNDARIES_KEY, &req->out);
    if (rc == CB_ENOTFOUND) {
        struct jsonw w;
        jsonw_init(&w, &req->out);
        jsonw_object_begin(&w);
        jsonw_kv_str(&w, "type", "FeatureCollection");
        jsonw_key(&w, "features");
        jsonw_array_begin(&w);
        jsonw_array_end(&w);
        jsonw_object_end(&w);
    } else if (rc) {
        reply_error(req, 503, "the boundaries could not be read");
        return;
    }
    reply_json(req, 200);
}

/* GET /api/v1/map/clusters?zoom=Z&bbox=W,S,E,N: the scenes' markers (a
 * committee: its own only) clustered for the view (map.h). */
void route_map_clusters(struct request *req)
{
    static const char *const kinds[] = {"suspects", "elderly"};
    struct map_view v;
    int64_t zoom;
    char why[200];
    const char *bbox = req_arg(req, "bbox");
    if (req_int_arg(req, "zoom", 0, 22, 12, &zoom))
        return;
    v.zoom = (int)zoom;
    if (!bbox || map_view_parse_bbox(bbox, &v, why, sizeof(why))) {
        reply_error(req, 400, "%s",
                    bbox ? why : "bbox=west,south,east,north is required");
        return;
    }
    if (!req->srv->scenes) {
        reply_error(req, 503, "the scenes are not running");
        return;
    }
    struct scene_markers mk;
    scene_map_markers(
        req->srv->scenes,
        req->who.role == ROLE_COMMITTEE ? req->who.committee : NULL, &mk);
    float *lat = xmalloc((mk.n + 1) * sizeof(float));
    float *lon = xmalloc((mk.n + 1) * sizeof(float));
    store_household_positions(req->srv->store, mk.households, mk.n, lat, lon);
    struct map_marker *m = xmalloc((mk.n + 1) * sizeof(*m));
    for (size_t i = 0; i < mk.n; i++)
        m[i] = (struct map_marker){lat[i], lon[i], mk.kinds[i]};
    int rc = map_cluster_json(m, mk.n, &v, kinds, 2, &req->out);
    free(m);
    free(lat);
    free(lon);
    scene_markers_release(&mk);
    if (rc == CB_ETOOBIG)
        reply_error(req, 413,
                    "the bbox holds more than %u cells at zoom %d; zoom in "
                    "or send a smaller bbox",
                    MAP_MAX_CELLS, v.zoom);
    else
        reply_json(req, 200);
}
