/* map.c - grid clustering of markers in a view (see map.h). */
#include "map/map.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"

struct map_cell {
    double lat_sum, lon_sum;
    uint32_t count;
    uint32_t by_kind[MAP_MAX_KINDS];
};

int map_view_parse_bbox(const char *bbox, struct map_view *v, char *why,
                        size_t cap)
{
    double c[4];
    const char *p = bbox;
    for (int i = 0; i < 4; i++) {
        size_t len = strcspn(p, ",");
        if (!len || parse_double(p, len, &c[i]) || !isfinite(c[i])) {
            snprintf(why, cap,
                     "bbox: value %d of 'west,south,east,north' is not a "
                     "number",
                     i + 1);
            return CB_EINVAL;
        }
        p += len;
        if (i < 3 && *p++ != ',') {
            snprintf(why, cap, "bbox: 4 numbers: west,south,east,north");
            return CB_EINVAL;
        }
    }
    if (*p || c[0] < -180 || c[2] > 180 || c[1] < -90 || c[3] > 90 ||
        c[0] >= c[2] || c[1] >= c[3]) {
        snprintf(why, cap,
                 "bbox: west < east within -180..180 and south < north "
                 "within -90..90");
        return CB_EINVAL;
    }
    v->west = c[0];
    v->south = c[1];
    v->east = c[2];
    v->north = c[3];
    return 0;
}

static void cluster_json(const struct map_cell *c,
                         const char *const *kind_names, size_t n_kinds,
                         struct jsonw *w)
{
    jsonw_object_begin(w);
    jsonw_kv_double_prec(w, "lat", c->lat_sum / c->count, 6);
    jsonw_kv_double_prec(w, "lon", c->lon_sum / c->count, 6);
    jsonw_kv_int(w, "count", c->count);
    for (size_t k = 0; k < n_kinds; k++)
        jsonw_kv_int(w, kind_names[k], c->by_kind[k]);
    jsonw_object_end(w);
}

int map_cluster_json(const struct map_marker *m, size_t n,
                     const struct map_view *v, const char *const *kind_names,
                     size_t n_kinds, struct sbuf *out)
{
    if (v->zoom < 0 || v->zoom > 22 || !n_kinds || n_kinds > MAP_MAX_KINDS ||
        !(v->west < v->east) || !(v->south < v->north))
        return CB_EINVAL;
    double cell = 90.0 / (double)(1u << v->zoom);
    double cols = ceil((v->east - v->west) / cell);
    double rows = ceil((v->north - v->south) / cell);
    if (cols * rows > MAP_MAX_CELLS)
        return CB_ETOOBIG;
    size_t ncols = (size_t)cols, ncells = ncols * (size_t)rows;
    struct map_cell *cells = xcalloc(ncells, sizeof(*cells));
    size_t in_view = 0;
    for (size_t i = 0; i < n; i++) {
        double lat = m[i].lat, lon = m[i].lon;
        if (!(lat >= v->south && lat < v->north && lon >= v->west &&
              lon < v->east) ||
            m[i].kind >= n_kinds)
            continue;
        size_t cx = (size_t)((lon - v->west) / cell);
        size_t cy = (size_t)((lat - v->south) / cell);
        if (cx >= ncols)
            cx = ncols - 1;
        struct map_cell *c = &cells[cy * ncols + cx];
        c->lat_sum += lat;
        c->lon_sum += lon;
        c->count++;
        c->by_kind[m[i].kind]++;
        in_view++;
    }
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "zoom", v->zoom);
    jsonw_kv_double_sig(&w, "cell_deg", cell, 6);
    jsonw_kv_int(&w, "markers", (int64_t)in_view);
    jsonw_key(&w, "clusters");
    jsonw_array_begin(&w);
    for (size_t i = 0; i < ncells; i++)
        if (cells[i].count)
            cluster_json(&cells[i], kind_names, n_kinds, &w);
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    free(cells);
    return 0;
}
