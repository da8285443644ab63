/*
 * store_registry.c - the registry in memory: household_id -> dense id,
 * the address index, street names and street centroids.
 *
 * Every ingest request resolves its household ids here, so these lookups
 * never touch SQLite.  The maps are loaded at open and changed only by the
 * writer thread, after the COMMIT that stored the change (so a lookup
 * never returns an id that a rollback could take back); reg_lock (a
 * rwlock) lets any thread read meanwhile.
 *
 * Events without a street are placed at the street whose households'
 * centroid is nearest to the event's coordinates: a coarse rule (streets
 * are not convex), but a street is a few km across and this needs no
 * geometry we do not have.
 */
#include <math.h>
#include <string.h>

#include "address/address.h"
#include "store/store_int.h"

void store__address_key(const char *address, char *out, size_t cap)
{
    out[0] = '\0';
    if (!address)
        return;
    if (address_normalize(address, strlen(address), out, cap) < 0)
        out[0] = '\0';
}

static void geo_reserve(struct store *st, int32_t id, int32_t street_id)
{
    if ((size_t)id >= st->hh_geo_cap) {
        size_t cap = st->hh_geo_cap ? st->hh_geo_cap : 1024;
        while (cap <= (size_t)id)
            cap *= 2;
        st->hh_geo = xrealloc(st->hh_geo, cap * sizeof(*st->hh_geo));
        memset(st->hh_geo + st->hh_geo_cap, 0,
               (cap - st->hh_geo_cap) * sizeof(*st->hh_geo));
        st->hh_geo_cap = cap;
    }
    if ((size_t)street_id >= st->street_geo_cap) {
        size_t cap = st->street_geo_cap ? st->street_geo_cap : 64;
        while (cap <= (size_t)street_id)
            cap *= 2;
        st->street_geo =
            xrealloc(st->street_geo, cap * sizeof(*st->street_geo));
        memset(st->street_geo + st->street_geo_cap, 0,
               (cap - st->street_geo_cap) * sizeof(*st->street_geo));
        st->street_geo_cap = cap;
    }
}

/* Moves household id to its street, committee, building and lat/lon in the
 * street centroids and the events' grid (store_place.c). */
static void geo_set(struct store *st, int32_t id, int32_t street_id,
                    int32_t committee_id, int32_t building_id, double lat,
                    double lon)
{
    if (id <= 0 || street_id < 0)
        return;
    geo_reserve(st, id, street_id);
    struct household_geo *g = &st->hh_geo[id];
    struct household_geo now = {
        .street_id = street_id,
        .committee_id = committee_id > 0 ? committee_id : 0,
        .building_id = building_id > 0 ? building_id : 0,
        .lat = (float)lat,
        .lon = (float)lon};
    if (st->place)
        store__place_move(st->place, id, g, &now);
    if (g->street_id > 0) {
        struct street_geo *old = &st->street_geo[g->street_id];
        old->lat_sum -= g->lat;
        old->lon_sum -= g->lon;
        old->n--;
    }
    *g = now;
    if (street_id > 0) {
        struct street_geo *sg = &st->street_geo[street_id];
        sg->lat_sum += g->lat;
        sg->lon_sum += g->lon;
        sg->n++;
    }
}

/* Records one household (reg_lock held for writing). */
static void registry_put(struct store *st, int32_t id, const char *hid,
                         const char *address, const int32_t ids[3], double lat,
                         double lon)
{
    store__map_put(&st->households, hid, id);
    if (address)
        address_index_put(st->addr, address, strlen(address), id);
    geo_set(st, id, ids[0], ids[1], ids[2], lat, lon);
}

static int load_streets(struct store *st, sqlite3 *db)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT id,name FROM street", -1, &s, NULL))
        return store__sqlerr(db, "load streets");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        store__map_put(&st->streets, (const char *)sqlite3_column_text(s, 1),
                       sqlite3_column_int(s, 0));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store__sqlerr(db, "load streets");
}

static int load_committees(struct store *st, sqlite3 *db)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT id,name FROM committee", -1, &s, NULL))
        return store__sqlerr(db, "load committees");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        store__place_committee(st->place, sqlite3_column_int(s, 0),
                               (const char *)sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store__sqlerr(db, "load committees");
}

static int load_households(struct store *st, sqlite3 *db)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT id,household_id,address,"
                           "coalesce(street_id,0),lat,lon,"
                           "coalesce(committee_id,0),coalesce(building_id,0)"
                           " FROM household",
                           -1, &s, NULL))
        return store__sqlerr(db, "load households");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int32_t ids[3] = {sqlite3_column_int(s, 3), sqlite3_column_int(s, 6),
                          sqlite3_column_int(s, 7)};
        registry_put(st, sqlite3_column_int(s, 0),
                     (const char *)sqlite3_column_text(s, 1),
                     (const char *)sqlite3_column_text(s, 2), ids,
                     sqlite3_column_double(s, 4), sqlite3_column_double(s, 5));
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store__sqlerr(db, "load households");
}

int store__registry_load(struct store *st, struct store_conn *c)
{
    store__map_init(&st->households);
    store__map_init(&st->streets);
    st->addr = address_index_new();
    st->place = store__place_new();
    if (load_streets(st, c->db) || load_committees(st, c->db) ||
        load_households(st, c->db))
        return CB_ESTORE;
    log_msg(LOG_INFO, "store", "registry loaded | households=%zu streets=%zu",
            st->households.len, st->streets.len);
    return 0;
}

void store__registry_release(struct store *st)
{
    store__map_release(&st->households);
    store__map_release(&st->streets);
    address_index_free(st->addr);
    st->addr = NULL;
    store__place_free(st->place);
    st->place = NULL;
    free(st->hh_geo);
    free(st->street_geo);
    st->hh_geo = NULL;
    st->street_geo = NULL;
    st->hh_geo_cap = st->street_geo_cap = 0;
}

void store__registry_publish(struct store *st, const struct write_req *req)
{
    const struct ingest_batch *b = req->batch;
    pthread_rwlock_wrlock(&st->reg_lock);
    for (size_t i = 0; i < b->n; i++) {
        const struct household *h = &b->households[i];
        const struct registry_note *note = &req->notes[i];
        if (!note->changed)
            continue;
        if (h->street && note->street_id > 0)
            store__map_put(&st->streets, h->street, note->street_id);
        if (h->committee && note->committee_id > 0)
            store__place_committee(st->place, note->committee_id, h->committee);
        if (note->old_address)
            address_index_remove(st->addr, note->old_address,
                                 strlen(note->old_address), note->id);
        int32_t ids[3] = {note->street_id, note->committee_id,
                          note->building_id};
        registry_put(st, note->id, h->household_id, h->address, ids, h->lat,
                     h->lon);
    }
    pthread_rwlock_unlock(&st->reg_lock);
}

static int32_t nearest_street(const struct store *st, double lat, double lon)
{
    double best = INFINITY, coslat = cos(lat * M_PI / 180.0);
    int32_t best_id = 0;
    for (size_t id = 1; id < st->street_geo_cap; id++) {
        const struct street_geo *sg = &st->street_geo[id];
        if (sg->n <= 0)
            continue;
        double dlat = sg->lat_sum / (double)sg->n - lat;
        double dlon = (sg->lon_sum / (double)sg->n - lon) * coslat;
        double d = dlat * dlat + dlon * dlon;
        if (d < best) {
            best = d;
            best_id = (int32_t)id;
        }
    }
    return best_id;
}

int32_t store__registry_place(struct store *st, const char *street, double lat,
                              double lon)
{
    int32_t id = 0;
    pthread_rwlock_rdlock(&st->reg_lock);
    if (street) {
        if (!store__map_get(&st->streets, street, &id))
            id = 0;
    } else if (isfinite(lat) && isfinite(lon) && (lat != 0 || lon != 0)) {
        id = nearest_street(st, lat, lon);
    }
    pthread_rwlock_unlock(&st->reg_lock);
    return id;
}

int store_place_event_street(struct store *st, double lat, double lon,
                             char *OUT_street, size_t cap)
{
    int rc = CB_ENOTFOUND;
    if (!cap || !isfinite(lat) || !isfinite(lon) || (lat == 0 && lon == 0))
        return rc;
    pthread_rwlock_rdlock(&st->reg_lock);
    int32_t id = nearest_street(st, lat, lon);
    const struct strmap *m = &st->streets;
    for (size_t i = 0; id > 0 && i < m->cap && rc; i++) {
        if (m->slots[i].hash && m->slots[i].value == id) {
            snprintf(OUT_street, cap, "%s", m->keys.buf + m->slots[i].key_off);
            rc = 0;
        }
    }
    pthread_rwlock_unlock(&st->reg_lock);
    return rc;
}

int32_t store_household_resolve(struct store *st, const char *household_id)
{
    int32_t id = -1;
    pthread_rwlock_rdlock(&st->reg_lock);
    if (!store__map_get(&st->households, household_id, &id))
        id = -1;
    pthread_rwlock_unlock(&st->reg_lock);
    return id;
}

int32_t store_address_match(struct store *st, const char *address)
{
    if (!address)
        return -1;
    pthread_rwlock_rdlock(&st->reg_lock);
    int32_t id = address_match(st->addr, address, strlen(address));
    pthread_rwlock_unlock(&st->reg_lock);
    return id >= 0 ? id : -1;
}

size_t store_household_count(struct store *st)
{
    pthread_rwlock_rdlock(&st->reg_lock);
    size_t n = st->households.len;
    pthread_rwlock_unlock(&st->reg_lock);
    return n;
}

void store_household_positions(struct store *st, const int32_t *households,
                               size_t n, float *OUT_lat, float *OUT_lon)
{
    pthread_rwlock_rdlock(&st->reg_lock);
    for (size_t i = 0; i < n; i++) {
        int32_t id = households[i];
        int known = id >= 0 && (size_t)id < st->hh_geo_cap &&
                    (st->hh_geo[id].lat != 0 || st->hh_geo[id].lon != 0);
        OUT_lat[i] = known ? st->hh_geo[id].lat : NAN;
        OUT_lon[i] = known ? st->hh_geo[id].lon : NAN;
    }
    pthread_rwlock_unlock(&st->reg_lock);
}
