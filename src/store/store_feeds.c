/*
 * store_feeds.c - stores one group of batches inside the writer's
 * transaction: dedup, inserts, the ingest_log rows and the tallies.
 *
 * Idempotency.  Readings are deduplicated by store_blocks.c: a reading
 * newer than everything its series stored is new without a lookup, an
 * older one is looked up in its block (see there).  The other feeds use
 * the primary key of their table plus INSERT OR IGNORE: sqlite3_changes()
 * tells, row by row, whether a record was new (accepted) or already
 * present (duplicate).  A record repeated within one batch is thus
 * accepted once and then counted as a duplicate; across the batches of one
 * group, the earlier-queued batch wins.
 *
 *   feed        key                      on conflict
 *   ----------  -----------------------  -----------------------------------
 *   readings    (household, metric, ts)  ignore
 *   deliveries  order_id                 ignore (store_orders.c)
 *   events      (source, event_id)       ignore
 *   registry    household_id             update when any field changed;
 *                                        unchanged rows are duplicates
 *
 * Readings are the volume feed: the group's readings from every batch are
 * stored together, sorted by (hour, household, metric, ts), and each
 * batch's ingest_log payload lists its new readings in that order.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ---- deliveries and events ---- */

static const char *event_source(const struct write_req *req,
                                const struct event *e)
{
    if (e->source)
        return e->source;
    return req->source ? req->source : "";
}

static int insert_events(struct store *st, struct store_conn *w,
                         struct write_req *req)
{
    const struct ingest_batch *b = req->batch;
    for (size_t i = 0; i < b->n; i++) {
        const struct event *e = &b->events[i];
        int32_t street_id =
            store__registry_place(st, e->street, e->lat, e->lon);
        sqlite3_stmt *s = store__stmt(w, STMT_EVENT_ADD);
        if (!s)
            return CB_ESTORE;
        store__bind_text(s, 1, event_source(req, e));
        store__bind_text(s, 2, e->event_id ? e->event_id : "");
        store__bind_text(s, 3, e->type);
        sqlite3_bind_int64(s, 4, e->ts_ns);
        sqlite3_bind_double(s, 5, e->lat);
        sqlite3_bind_double(s, 6, e->lon);
        if (street_id > 0)
            sqlite3_bind_int(s, 7, street_id);
        store__bind_text(s, 8, e->street);
        store__bind_text(s, 9, e->attrs_json);
        store__bind_text(s, 10, req->source);
        int rc = store__exec_stmt(w, s, "insert event");
        if (rc)
            return rc;
        req->notes[i].street_id = street_id;
        int fresh = sqlite3_changes(w->db) > 0;
        req->fresh[i] = (uint8_t)fresh;
        req->res.accepted += fresh;
        req->res.duplicates += !fresh;
    }
    return 0;
}

/* ---- registry ---- */

/* Finds or creates a row of street/committee/building by name under its
 * parent (parent < 0: none).  *OUT_id is 0 when name is NULL. */
static int name_id(struct store_conn *w, enum store_stmt find,
                   enum store_stmt add, int64_t parent, const char *name,
                   int64_t *OUT_id)
{
    *OUT_id = 0;
    if (!name)
        return 0;
    int col = parent >= 0 ? 2 : 1;
    sqlite3_stmt *s = store__stmt(w, find);
    if (!s)
        return CB_ESTORE;
    if (parent >= 0)
        sqlite3_bind_int64(s, 1, parent);
    sqlite3_bind_text(s, col, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *OUT_id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE || !(s = store__stmt(w, add)))
        return store__sqlerr(w->db, "find name");
    if (parent >= 0)
        sqlite3_bind_int64(s, 1, parent);
    sqlite3_bind_text(s, col, name, -1, SQLITE_STATIC);
    if ((rc = store__exec_stmt(w, s, "add name")))
        return rc;
    *OUT_id = sqlite3_last_insert_rowid(w->db);
    return 0;
}

static void bind_id(sqlite3_stmt *s, int col, int64_t id)
{
    if (id > 0)
        sqlite3_bind_int64(s, col, id);
}

/* Notes the household's current address when h changes it. */
static int old_address(struct store_conn *w, const struct household *h,
                       struct registry_note *note)
{
    sqlite3_stmt *s = store__stmt(w, STMT_HOUSEHOLD_ADDR);
    if (!s)
        return CB_ESTORE;
    store__bind_text(s, 1, h->household_id);
    int rc = sqlite3_step(s);
    const char *old =
        rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    free(note->old_address);
    note->old_address = NULL;
    if (old && (!h->address || strcmp(old, h->address)))
        note->old_address = xstrdup(old);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store__sqlerr(w->db, "household address");
    return 0;
}

static int upsert_household(struct store_conn *w, const struct household *h,
                            const int64_t ids[3], struct registry_note *note)
{
    char key[512];
    sqlite3_stmt *s = store__stmt(w, STMT_HOUSEHOLD_UPSERT);
    if (!s)
        return CB_ESTORE;
    store__address_key(h->address, key, sizeof(key));
    store__bind_text(s, 1, h->household_id);
    for (int i = 0; i < 3; i++)
        bind_id(s, 2 + i, ids[i]);
    store__bind_text(s, 5, h->address);
    store__bind_text(s, 6, key[0] ? key : NULL);
    sqlite3_bind_double(s, 7, h->lat);
    sqlite3_bind_double(s, 8, h->lon);
    sqlite3_bind_double(s, 9, h->area_m2);
    sqlite3_bind_int(s, 10, h->rooms);
    sqlite3_bind_int(s, 11, h->registered_occupants);
    sqlite3_bind_int(s, 12, h->flags);
    sqlite3_bind_int64(s, 13, time_now_ns());
    int rc = sqlite3_step(s);
    note->changed = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        note->id = sqlite3_column_int(s, 0);
    int done = rc == SQLITE_ROW ? sqlite3_step(s) : rc;
    sqlite3_reset(s);
    if (done != SQLITE_DONE)
        return store__sqlerr(w->db, "upsert household");
    note->street_id = (int32_t)ids[0];
    note->committee_id = (int32_t)ids[1];
    note->building_id = (int32_t)ids[2];
    return 0;
}

static int insert_households(struct store_conn *w, struct write_req *req)
{
    const struct ingest_batch *b = req->batch;
    for (size_t i = 0; i < b->n; i++) {
        const struct household *h = &b->households[i];
        int64_t ids[3];
        int rc;
        if ((rc = name_id(w, STMT_STREET_FIND, STMT_STREET_ADD, -1, h->street,
                          &ids[0])) ||
            (rc = name_id(w, STMT_COMMITTEE_FIND, STMT_COMMITTEE_ADD, ids[0],
                          h->committee, &ids[1])) ||
            (rc = name_id(w, STMT_BUILDING_FIND, STMT_BUILDING_ADD, ids[1],
                          h->building, &ids[2])) ||
            (rc = old_address(w, h, &req->notes[i])) ||
            (rc = upsert_household(w, h, ids, &req->notes[i])))
            return rc;
        req->fresh[i] = (uint8_t)req->notes[i].changed;
        req->res.accepted += req->notes[i].changed;
        req->res.duplicates += !req->notes[i].changed;
    }
    return 0;
}

/* ---- the ingest_log rows ---- */

static void encode_other(const struct write_req *req, struct sbuf *p)
{
    const struct ingest_batch *b = req->batch;
    store__log_begin(p, b->feed);
    for (size_t i = 0; i < b->n; i++) {
        if (!req->fresh[i])
            continue;
        if (b->feed == FEED_DELIVERIES)
            store__log_delivery(p, &b->deliveries[i]);
        else if (b->feed == FEED_EVENTS)
            store__log_event(p, &b->events[i], event_source(req, &b->events[i]),
                             req->notes[i].street_id);
        else
            store__log_household(p, &b->households[i], req->notes[i].id,
                                 req->notes[i].street_id);
    }
}

static int append_log(struct store_conn *w, struct write_req *req,
                      struct sbuf *payload)
{
    if (!req->res.accepted)
        return 0;
    if (req->batch->feed != FEED_READINGS)
        encode_other(req, payload);
    store__log_finish(payload, (uint32_t)req->res.accepted);
    sqlite3_stmt *s = store__stmt(w, STMT_LOG_ADD);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, time_now_ns());
    sqlite3_bind_int(s, 2, req->batch->feed);
    sqlite3_bind_int64(s, 3, (int64_t)req->res.accepted);
    store__bind_text(s, 4, req->source);
    sqlite3_bind_blob(s, 5, payload->buf, (int)payload->len, SQLITE_STATIC);
    int rc = store__exec_stmt(w, s, "append ingest_log");
    if (rc)
        return rc;
    req->res.seq = sqlite3_last_insert_rowid(w->db);
    return 0;
}

/* ---- tallies ---- */

static int tally_add(struct store_conn *w, const char *name, int64_t n)
{
    if (!n)
        return 0;
    sqlite3_stmt *s = store__stmt(w, STMT_TALLY_ADD);
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, n);
    return store__exec_stmt(w, s, "tally");
}

/* A batch's new deliveries counted by source key (order_id prefix). */
struct source_counts {
    struct source_count {
        char key[32];
        int64_t total, unmatched;
    } * c;
    size_t n;
};

static void count_sources(const struct write_req *req, struct source_counts *sc)
{
    const struct ingest_batch *b = req->batch;
    size_t cap = 0;
    sc->c = NULL;
    sc->n = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!req->fresh[i])
            continue;
        char key[32];
        size_t k = 0;
        store__source_key(b->deliveries[i].order_id, req->source, key,
                          sizeof(key));
        while (k < sc->n && strcmp(sc->c[k].key, key))
            k++;
        if (k == sc->n) {
            if (sc->n == cap) {
                cap = cap ? cap * 2 : 4;
                sc->c = xrealloc(sc->c, cap * sizeof(*sc->c));
            }
            memcpy(sc->c[k].key, key, sizeof(key));
            sc->c[k].total = sc->c[k].unmatched = 0;
            sc->n++;
        }
        sc->c[k].total++;
        sc->c[k].unmatched += b->deliveries[i].household < 0;
    }
}

static int source_add(struct store_conn *w, const struct write_req *req)
{
    struct source_counts sc;
    int rc = 0;
    count_sources(req, &sc);
    for (size_t k = 0; k < sc.n && !rc; k++) {
        sqlite3_stmt *s = store__stmt(w, STMT_SOURCE_ADD);
        if (!s) {
            rc = CB_ESTORE;
            break;
        }
        sqlite3_bind_text(s, 1, sc.c[k].key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, sc.c[k].total);
        sqlite3_bind_int64(s, 3, sc.c[k].unmatched);
        rc = store__exec_stmt(w, s, "tally source");
    }
    free(sc.c);
    return rc;
}

static int write_tallies(struct store_conn *w, struct write_req **reqs,
                         size_t n)
{
    int64_t count[FEED_COUNT] = {0}, unmatched = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        count[reqs[i]->batch->feed] += (int64_t)reqs[i]->res.accepted;
        unmatched += (int64_t)reqs[i]->res.unmatched;
        if (reqs[i]->batch->feed == FEED_DELIVERIES &&
            (rc = source_add(w, reqs[i])))
            return rc;
    }
    if ((rc = tally_add(w, "readings", count[FEED_READINGS])) ||
        (rc = tally_add(w, "deliveries", count[FEED_DELIVERIES])) ||
        (rc = tally_add(w, "deliveries_unmatched", unmatched)) ||
        (rc = tally_add(w, "events", count[FEED_EVENTS])))
        return rc;
    return 0;
}

/* ---- the group ---- */

static void req_reset(struct write_req *req)
{
    size_t n = req->batch->n ? req->batch->n : 1;
    store__req_clear(req);
    memset(&req->res, 0, sizeof(req->res));
    req->fresh = xcalloc(n, 1);
    if (req->batch->feed == FEED_REGISTRY || req->batch->feed == FEED_EVENTS)
        req->notes = xcalloc(n, sizeof(*req->notes));
}

void store__req_clear(struct write_req *req)
{
    if (req->notes && req->batch->feed == FEED_REGISTRY)
        for (size_t i = 0; i < req->batch->n; i++)
            free(req->notes[i].old_address);
    free(req->fresh);
    free(req->notes);
    req->fresh = NULL;
    req->notes = NULL;
}

static int apply_one(struct store *st, struct write_req *req)
{
    switch (req->batch->feed) {
    case FEED_DELIVERIES:
        return store__orders_apply(&st->writer, req);
    case FEED_EVENTS:
        return insert_events(st, &st->writer, req);
    case FEED_REGISTRY:
        return insert_households(&st->writer, req);
    default:
        return 0; /* readings: done for the whole group */
    }
}

int store__group_apply(struct store *st, struct write_req **reqs, size_t n)
{
    struct sbuf *payloads = xcalloc(n, sizeof(*payloads));
    struct sbuf other = SBUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        req_reset(reqs[i]);
        if (reqs[i]->batch->feed == FEED_READINGS)
            store__log_begin(&payloads[i], FEED_READINGS);
    }
    if ((rc = store__readings_apply(st, reqs, n, payloads)))
        goto out_free;
    for (size_t i = 0; i < n && !rc; i++) {
        int is_readings = reqs[i]->batch->feed == FEED_READINGS;
        rc = apply_one(st, reqs[i]);
        if (!rc)
            rc = append_log(&st->writer, reqs[i],
                            is_readings ? &payloads[i] : &other);
    }
    if (!rc)
        rc = write_tallies(&st->writer, reqs, n);
out_free:
    for (size_t i = 0; i < n; i++)
        sbuf_release(&payloads[i]);
    free(payloads);
    sbuf_release(&other);
    return rc;
}

/* ---- after COMMIT ---- */

static void publish_sources(struct store *st, const struct write_req *req)
{
    struct source_counts sc;
    count_sources(req, &sc);
    for (size_t k = 0; k < sc.n; k++)
        store__source_count(st, sc.c[k].key, (uint64_t)sc.c[k].total,
                            (uint64_t)sc.c[k].unmatched);
    free(sc.c);
}

static void publish_req(struct store *st, const struct write_req *req)
{
    const struct ingest_batch *b = req->batch;
    uint64_t accepted = req->res.accepted;
    atomic_fetch_add_explicit(&st->rows_written, accepted,
                              memory_order_relaxed);
    if (b->feed == FEED_READINGS) {
        atomic_fetch_add_explicit(&st->n_readings, accepted,
                                  memory_order_relaxed);
    } else if (b->feed == FEED_EVENTS) {
        atomic_fetch_add_explicit(&st->n_events, accepted,
                                  memory_order_relaxed);
    } else if (b->feed == FEED_DELIVERIES) {
        atomic_fetch_add_explicit(&st->n_deliveries, accepted,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&st->n_unmatched, req->res.unmatched,
                                  memory_order_relaxed);
        publish_sources(st, req);
    } else {
        store__registry_publish(st, req);
    }
    if (req->res.seq > 0)
        atomic_store_explicit(&st->log_seq, (uint64_t)req->res.seq,
                              memory_order_release);
}

void store__group_publish(struct store *st, struct write_req **reqs, size_t n)
{
    store__readings_publish(st, reqs, n);
    for (size_t i = 0; i < n; i++)
        publish_req(st, reqs[i]);
}

/* ---- retention of events ---- */

int store__events_retain(struct store_conn *w, int64_t cutoff_ns,
                         size_t max_rows, size_t *OUT_events)
{
    sqlite3_stmt *s = store__stmt(w, STMT_RETAIN_EVENTS);
    *OUT_events = 0;
    if (!s)
        return CB_ESTORE;
    sqlite3_bind_int64(s, 1, cutoff_ns);
    sqlite3_bind_int64(s, 2, (int64_t)max_rows);
    if (store__exec_stmt(w, s, "retain events"))
        return CB_ESTORE;
    *OUT_events = (size_t)sqlite3_changes64(w->db);
    return 0;
}
