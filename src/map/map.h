/*
 * map.h - grid clustering of map markers, for screens that must stay
 * smooth with 100,000 markers in view.
 *
 * The server, not the browser, aggregates: markers (suspect flats, elderly
 * alerts, ...) inside the view's bounding box are counted per cell of a
 * grid whose cell is 64 screen pixels at the view's zoom (web-map zoom:
 * 256 px cover 360 degrees at zoom 0, so a cell is 90 / 2^zoom degrees of
 * longitude and as many of latitude).  Each non-empty cell becomes one
 * cluster at its markers' centroid, with a count per kind:
 *
 *   {"zoom":Z,"cell_deg":D,"markers":N,
 *    "clusters":[{"lat":..,"lon":..,"count":C,"KIND":K,...},...]}
 *
 * One pass over the markers and one over the cells: O(markers + cells).
 * The cells of one view are bounded (MAP_MAX_CELLS: a bigger view at that
 * zoom is refused) so a request costs at most a few MB.  Clusters carry no
 * household ids: they are counts, not records.
 *
 * Threading: pure functions; no state.
 */
#ifndef CB_MAP_H
#define CB_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define MAP_MAX_CELLS (1u << 16) /* 2.6 MB of cells at most */
#define MAP_MAX_KINDS 4

struct map_marker {
    float lat, lon; /* WGS84; NAN: not placed (skipped) */
    uint8_t kind;   /* < n_kinds */
};

struct map_view {
    double west, south, east, north; /* the bounding box, degrees */
    int zoom;                        /* 0..22 */
};

/* Parses "west,south,east,north" into v (zoom untouched): 0, or CB_EINVAL
 * with why (cap bytes) saying what is wrong. */
int map_view_parse_bbox(const char *bbox, struct map_view *v, char *why,
                        size_t cap);

/* Appends the clusters of the markers m[0..n) inside v to out, the kinds
 * named kind_names[0..n_kinds).  Returns 0; CB_EINVAL for a bad view or
 * n_kinds; CB_ETOOBIG when the view holds more than MAP_MAX_CELLS cells at
 * its zoom (out unchanged). */
int map_cluster_json(const struct map_marker *m, size_t n,
                     const struct map_view *v, const char *const *kind_names,
                     size_t n_kinds, struct sbuf *out);

#endif
