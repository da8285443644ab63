/*
 * sim_geo.c - the district's outline and the street polygons that tile it.
 *
 * The outline is a stylised Pudong: a convex polygon between the Huangpu
 * river (west, around 121.46E) and the East China Sea (east, up to 121.95E),
 * from 31.05N to 31.35N.  It is cut into six columns by slanted lines, and
 * each column into rows by slanted lines, as many rows as the column has
 * streets (8, 7, 6, 6, 5, 4: the dense river-side streets are small, the
 * seaside towns big).  Every cell is the outline intersected with four
 * half-planes, so it is convex and the cells tile the outline exactly: no
 * gap, no overlap (tests check the areas add up).
 *
 * The map does not depend on the seed: the same district shape for every
 * run.  Clipping is Sutherland-Hodgman against one half-plane at a time.
 */
#include "sim/sim_int.h"
#include "util/jsonw.h"

#include <math.h>
#include <string.h>

static const double outline_lon[] = {121.500, 121.640, 121.800,
                                     121.950, 121.930, 121.700,
                                     121.530, 121.455, 121.470};
static const double outline_lat[] = {31.350, 31.350, 31.270, 31.110, 31.050,
                                     31.050, 31.100, 31.200, 31.300};
#define OUTLINE_N 9

#define N_COLUMNS 6
static const int column_rows[N_COLUMNS] = {8, 7, 6, 6, 5, 4};
/* Column boundaries: x = at + slope * (y - 31.2). */
static const double column_at[N_COLUMNS - 1] = {121.52, 121.59, 121.67, 121.76,
                                                121.85};
static const double column_slope[N_COLUMNS - 1] = {0.10, -0.08, 0.12, 0.05,
                                                   -0.10};
#define MID_LAT 31.2

/* Keeps the part of p where a*x + b*y <= c. */
static void clip_halfplane(struct sim_poly *p, double a, double b, double c)
{
    struct sim_poly out = {0};
    for (int i = 0; i < p->n; i++) {
        int j = (i + 1) % p->n;
        double fi = a * p->x[i] + b * p->y[i] - c;
        double fj = a * p->x[j] + b * p->y[j] - c;
        if (fi <= 0 && out.n < SIM_POLY_MAX) {
            out.x[out.n] = p->x[i];
            out.y[out.n++] = p->y[i];
        }
        if ((fi < 0 && fj > 0) || (fi > 0 && fj < 0)) {
            double t = fi / (fi - fj);
            if (out.n < SIM_POLY_MAX) {
                out.x[out.n] = p->x[i] + t * (p->x[j] - p->x[i]);
                out.y[out.n++] = p->y[i] + t * (p->y[j] - p->y[i]);
            }
        }
    }
    *p = out;
}

static void outline(struct sim_poly *p)
{
    p->n = OUTLINE_N;
    for (int i = 0; i < OUTLINE_N; i++) {
        p->x[i] = outline_lon[i];
        p->y[i] = outline_lat[i];
    }
}

/* The outline between column boundaries col-1 and col. */
static void column_piece(int col, struct sim_poly *p)
{
    outline(p);
    if (col > 0) /* x >= at + s(y - MID)  <=>  -x + s*y <= -at + s*MID */
        clip_halfplane(p, -1, column_slope[col - 1],
                       -column_at[col - 1] + column_slope[col - 1] * MID_LAT);
    if (col < N_COLUMNS - 1)
        clip_halfplane(p, 1, -column_slope[col],
                       column_at[col] - column_slope[col] * MID_LAT);
}

/* A fixed pseudo-random number in [-1, 1) for map jitter. */
static double map_jitter(int col, int row, int which)
{
    uint64_t h = sim_hash(20261101, 77, (uint64_t)col * 64 + row, which);
    return (double)(h >> 11) * 0x1.0p-52 - 1.0;
}

/* Cuts column col into its rows; stores them from streets[first]. */
static void cut_column(struct sim_district *d, int col, int first)
{
    struct sim_poly piece;
    column_piece(col, &piece);
    double ymin = 90, ymax = -90, xmid = 0;
    for (int i = 0; i < piece.n; i++) {
        ymin = fmin(ymin, piece.y[i]);
        ymax = fmax(ymax, piece.y[i]);
        xmid += piece.x[i] / piece.n;
    }
    int rows = column_rows[col];
    for (int r = 0; r < rows; r++) {
        struct sim_poly cell = piece;
        /* row r lies between boundaries r (north) and r+1 (south) */
        if (r > 0) { /* y <= y_r + t (x - xmid) */
            double yr =
                ymax - (ymax - ymin) * (r + 0.2 * map_jitter(col, r, 0)) / rows;
            double t = 0.15 * map_jitter(col, r, 1);
            clip_halfplane(&cell, -t, 1, yr - t * xmid);
        }
        if (r < rows - 1) { /* y >= y_{r+1} + t (x - xmid) */
            double yr = ymax - (ymax - ymin) *
                                   (r + 1 + 0.2 * map_jitter(col, r + 1, 0)) /
                                   rows;
            double t = 0.15 * map_jitter(col, r + 1, 1);
            clip_halfplane(&cell, t, -1, -yr + t * xmid);
        }
        d->streets[first + r].poly = cell;
    }
}

void sim_geo_build_streets(struct sim_district *d)
{
    int first = 0;
    for (int col = 0; col < N_COLUMNS; col++) {
        cut_column(d, col, first);
        first += column_rows[col];
    }
}

int sim_geo_contains(const struct sim_poly *p, double lon, double lat)
{
    int inside = 0;
    for (int i = 0, j = p->n - 1; i < p->n; j = i++) {
        if ((p->y[i] > lat) != (p->y[j] > lat)) {
            double x = p->x[j] + (lat - p->y[j]) * (p->x[i] - p->x[j]) /
                                     (p->y[i] - p->y[j]);
            if (lon < x)
                inside = !inside;
        }
    }
    return inside;
}

void sim_geo_random_point(const struct sim_poly *p, struct sim_rng *r,
                          double *OUT_lon, double *OUT_lat)
{
    double x0 = 999, x1 = -999, y0 = 999, y1 = -999;
    for (int i = 0; i < p->n; i++) {
        x0 = fmin(x0, p->x[i]);
        x1 = fmax(x1, p->x[i]);
        y0 = fmin(y0, p->y[i]);
        y1 = fmax(y1, p->y[i]);
    }
    double x = (x0 + x1) / 2, y = (y0 + y1) / 2;
    for (int tries = 0; tries < 1000; tries++) {
        x = sim_rng_range(r, x0, x1);
        y = sim_rng_range(r, y0, y1);
        if (sim_geo_contains(p, x, y))
            break;
    }
    *OUT_lon = x;
    *OUT_lat = y;
}

/* Signed area in square degrees: positive when counter-clockwise. */
static double signed_area(const struct sim_poly *p)
{
    double a = 0;
    for (int i = 0, j = p->n - 1; i < p->n; j = i++)
        a += (p->x[j] * p->y[i] - p->x[i] * p->y[j]);
    return a / 2;
}

static void ring_to_json(const struct sim_poly *p, struct jsonw *w)
{
    int ccw = signed_area(p) > 0; /* RFC 7946: exterior rings CCW */
    jsonw_array_begin(w);
    for (int k = 0; k <= p->n; k++) {
        int i = ccw ? k % p->n : (p->n - k) % p->n;
        jsonw_array_begin(w);
        jsonw_double_prec(w, p->x[i], 6);
        jsonw_double_prec(w, p->y[i], 6);
        jsonw_array_end(w);
    }
    jsonw_array_end(w);
}

void sim_geo_to_json(const struct sim_district *d, struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "type", "FeatureCollection");
    jsonw_key(&w, "features");
    jsonw_array_begin(&w);
    for (int s = 0; s < d->n_streets; s++) {
        const struct sim_street *st = &d->streets[s];
        jsonw_object_begin(&w);
        jsonw_kv_str(&w, "type", "Feature");
        jsonw_key(&w, "properties");
        jsonw_object_begin(&w);
        jsonw_kv_str(&w, "id", st->id);
        jsonw_kv_str(&w, "name", st->name);
        jsonw_kv_str(&w, "kind", st->urban ? "street" : "town");
        jsonw_kv_int(&w, "households", st->household_count);
        jsonw_kv_int(&w, "committees", st->committee_count);
        jsonw_object_end(&w);
        jsonw_key(&w, "geometry");
        jsonw_object_begin(&w);
        jsonw_kv_str(&w, "type", "Polygon");
        jsonw_key(&w, "coordinates");
        jsonw_array_begin(&w);
        ring_to_json(&st->poly, &w);
        jsonw_array_end(&w);
        jsonw_object_end(&w);
        jsonw_object_end(&w);
    }
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    sbuf_addch(out, '\n');
}
