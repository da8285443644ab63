/*
 * store_place.c - where an event is: the residents' committee of the
 * nearest registered building (or household, when it has no building).
 *
 * A spatial grid over the registry's positions, kept in memory beside the
 * street centroids (store_registry.c) and changed with them, under
 * reg_lock.  The grid holds one entry per building (at the centroid of
 * its households' positions) and one per household without a building,
 * so a registry of 2,000,000 households in ~50,000 buildings costs a few
 * MB here.  Cells are PLACE_CELL_DEG degrees square (~220 m north-south),
 * kept in a hash table by cell; a query searches rings of cells around
 * the event until no unsearched cell can hold anything nearer, or the
 * distance limit is passed: a handful of cells in a built-up district.
 *
 * Distances are equirectangular (metres), which is exact enough within a
 * district.  A position of 0/0 or not finite is no position.
 */
#include <math.h>
#include <string.h>

#include "store/store_int.h"

#define PLACE_CELL_DEG 0.002
#define PLACE_M_PER_DEG 111320.0
#define PLACE_MAX_M 50000.0
#define PLACE_NO_CELL INT64_MIN

struct place_cell {
    int64_t key;
    int32_t *ids; /* > 0: building id; < 0: -(household dense id) */
    uint32_t n, cap;
};

struct place_site {
    double lat_sum, lon_sum;
    int64_t cell; /* the cell it is in, PLACE_NO_CELL: none */
    int32_t n, committee_id;
};

struct place_index {
    struct place_cell *cells; /* open addressing, key PLACE_NO_CELL: free */
    size_t ncells, cap;
    struct place_site *sites; /* by building id */
    size_t nsites;
    char **committees; /* by committee id; NULL: unknown */
    size_t ncommittees;
};

static int has_pos(double lat, double lon)
{
    return isfinite(lat) && isfinite(lon) && (lat != 0 || lon != 0);
}

static int64_t cell_of(double lat, double lon)
{
    int64_t cx = (int64_t)floor(lat / PLACE_CELL_DEG);
    int64_t cy = (int64_t)floor(lon / PLACE_CELL_DEG);
    return (int64_t)((uint64_t)cx << 32 | (uint32_t)cy);
}

static int64_t cell_key(int64_t cx, int64_t cy)
{
    return (int64_t)((uint64_t)cx << 32 | (uint32_t)cy);
}

static size_t cell_hash(int64_t key, size_t cap)
{
    uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 32) & (cap - 1);
}

static struct place_cell *cell_find(const struct place_index *p, int64_t key)
{
    if (!p->cap)
        return NULL;
    for (size_t i = cell_hash(key, p->cap);; i = (i + 1) & (p->cap - 1)) {
        if (p->cells[i].key == key)
            return &p->cells[i];
        if (p->cells[i].key == PLACE_NO_CELL)
            return NULL;
    }
}

static struct place_cell *cell_get(struct place_index *p, int64_t key)
{
    struct place_cell *c = cell_find(p, key);
    if (c)
        return c;
    if ((p->ncells + 1) * 2 > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct place_cell *g = xcalloc(cap, sizeof(*g));
        for (size_t i = 0; i < cap; i++)
            g[i].key = PLACE_NO_CELL;
        for (size_t i = 0; i < p->cap; i++) {
            if (p->cells[i].key == PLACE_NO_CELL)
                continue;
            size_t j = cell_hash(p->cells[i].key, cap);
            while (g[j].key != PLACE_NO_CELL)
                j = (j + 1) & (cap - 1);
            g[j] = p->cells[i];
        }
        free(p->cells);
        p->cells = g;
        p->cap = cap;
    }
    size_t i = cell_hash(key, p->cap);
    while (p->cells[i].key != PLACE_NO_CELL)
        i = (i + 1) & (p->cap - 1);
    p->cells[i].key = key;
    p->ncells++;
    return &p->cells[i];
}

static void cell_add(struct place_index *p, int64_t key, int32_t entry)
{
    struct place_cell *c = cell_get(p, key);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->ids = xrealloc(c->ids, c->cap * sizeof(int32_t));
    }
    c->ids[c->n++] = entry;
}

static void cell_remove(struct place_index *p, int64_t key, int32_t entry)
{
    struct place_cell *c = cell_find(p, key);
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->ids[i] == entry) {
            c->ids[i] = c->ids[--c->n];
            return;
        }
}

struct place_index *store__place_new(void)
{
    return xcalloc(1, sizeof(struct place_index));
}

void store__place_free(struct place_index *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->cap; i++)
        free(p->cells[i].ids);
    free(p->cells);
    free(p->sites);
    for (size_t i = 0; i < p->ncommittees; i++)
        free(p->committees[i]);
    free(p->committees);
    free(p);
}

void store__place_committee(struct place_index *p, int32_t id, const char *name)
{
    if (id <= 0 || !name)
        return;
    if ((size_t)id >= p->ncommittees) {
        size_t n = (size_t)id + 64;
        p->committees = xrealloc(p->committees, n * sizeof(char *));
        memset(p->committees + p->ncommittees, 0,
               (n - p->ncommittees) * sizeof(char *));
        p->ncommittees = n;
    }
    if (!p->committees[id] || strcmp(p->committees[id], name)) {
        free(p->committees[id]);
        p->committees[id] = xstrdup(name);
    }
}

static struct place_site *site_get(struct place_index *p, int32_t b)
{
    if ((size_t)b >= p->nsites) {
        size_t n = p->nsites ? p->nsites : 256;
        while (n <= (size_t)b)
            n *= 2;
        p->sites = xrealloc(p->sites, n * sizeof(*p->sites));
        for (size_t i = p->nsites; i < n; i++)
            p->sites[i] = (struct place_site){.cell = PLACE_NO_CELL};
        p->nsites = n;
    }
    return &p->sites[b];
}

/* Puts building b's grid entry in the cell of its centroid. */
static void site_refile(struct place_index *p, int32_t b)
{
    struct place_site *s = &p->sites[b];
    int64_t cell = s->n > 0 ? cell_of(s->lat_sum / s->n, s->lon_sum / s->n)
                            : PLACE_NO_CELL;
    if (cell == s->cell)
        return;
    if (s->cell != PLACE_NO_CELL)
        cell_remove(p, s->cell, b);
    if (cell != PLACE_NO_CELL)
        cell_add(p, cell, b);
    s->cell = cell;
}

void store__place_move(struct place_index *p, int32_t id,
                       const struct household_geo *old,
                       const struct household_geo *now)
{
    if (old->building_id > 0 && has_pos(old->lat, old->lon)) {
        struct place_site *s = site_get(p, old->building_id);
        s->lat_sum -= old->lat;
        s->lon_sum -= old->lon;
        if (--s->n <= 0)
            s->n = 0, s->lat_sum = s->lon_sum = 0;
        site_refile(p, old->building_id);
    } else if (has_pos(old->lat, old->lon)) {
        cell_remove(p, cell_of(old->lat, old->lon), -id);
    }
    if (now->building_id > 0 && has_pos(now->lat, now->lon)) {
        struct place_site *s = site_get(p, now->building_id);
        s->lat_sum += now->lat;
        s->lon_sum += now->lon;
        s->n++;
        s->committee_id = now->committee_id;
        site_refile(p, now->building_id);
    } else if (has_pos(now->lat, now->lon)) {
        cell_add(p, cell_of(now->lat, now->lon), -id);
    }
}

/* The nearest entry within max_m: its committee id (0: none), or -1. */
static int32_t nearest(const struct store *st, double lat, double lon,
                       double max_m)
{
    const struct place_index *p = st->place;
    double kx = PLACE_M_PER_DEG, ky = PLACE_M_PER_DEG * cos(lat * M_PI / 180);
    double side = PLACE_CELL_DEG * (kx < ky ? kx : ky);
    double best = max_m * max_m;
    int32_t found = -1;
    int64_t cx0 = (int64_t)floor(lat / PLACE_CELL_DEG);
    int64_t cy0 = (int64_t)floor(lon / PLACE_CELL_DEG);
    for (int64_t r = 0;; r++) {
        for (int64_t i = -r; i <= r; i++) {
            int edge = i == -r || i == r;
            for (int64_t j = -r; j <= r; j += edge ? 1 : 2 * r) {
                const struct place_cell *c =
                    cell_find(p, cell_key(cx0 + i, cy0 + j));
                for (uint32_t k = 0; c && k < c->n; k++) {
                    int32_t e = c->ids[k], committee;
                    double elat, elon;
                    if (e > 0) {
                        const struct place_site *s = &p->sites[e];
                        elat = s->lat_sum / s->n;
                        elon = s->lon_sum / s->n;
                        committee = s->committee_id;
                    } else {
                        const struct household_geo *g = &st->hh_geo[-e];
                        elat = g->lat;
                        elon = g->lon;
                        committee = g->committee_id;
                    }
                    double dx = (elat - lat) * kx, dy = (elon - lon) * ky;
                    double d = dx * dx + dy * dy;
                    if (d <= best) {
                        best = d;
                        found = committee > 0 ? committee : 0;
                    }
                }
            }
        }
        double reach = (double)r * side; /* nothing unsearched is nearer */
        if (reach >= max_m || (found >= 0 && best <= reach * reach))
            break;
    }
    return found;
}

int store_place_event(struct store *st, double lat, double lon, double max_m,
                      char *OUT_committee, size_t cap)
{
    if (cap)
        OUT_committee[0] = '\0';
    if (!has_pos(lat, lon) || !(max_m > 0))
        return CB_ENOTFOUND;
    if (max_m > PLACE_MAX_M)
        max_m = PLACE_MAX_M;
    int rc = CB_ENOTFOUND;
    pthread_rwlock_rdlock(&st->reg_lock);
    int32_t committee = st->place ? nearest(st, lat, lon, max_m) : -1;
    if (committee >= 0) {
        const struct place_index *p = st->place;
        const char *name = (size_t)committee < p->ncommittees
                               ? p->committees[committee]
                               : NULL;
        if (cap)
            snprintf(OUT_committee, cap, "%s", name ? name : "");
        rc = 0;
    }
    pthread_rwlock_unlock(&st->reg_lock);
    return rc;
}
