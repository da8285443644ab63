/*
 * store_consumer.c - the consumers of the ingest log: registration from a
 * snapshot, and handing each batch on exactly once in effect.
 *
 * The flow (store.h has the contract):
 *
 *   store_write --> ingest_log (citybrain.db, seq) --> roll-up thread
 *                                                      | reads from the
 *                                                      | roll-up's checkpoint
 *                                                      v
 *                               roll-up (meters, use; checkpoint rollup.db)
 *                                                      | each batch, and the
 *                                                      | use it derives
 *                                                      v
 *                  consumer i: skips seq <= pos_i (batches) and
 *                              seq <= use_pos_i (use), then applies
 *
 * A consumer's positions come from the snapshot it loaded: its log seq for
 * batches (the registry, readings, deliveries and events of citybrain.db
 * already hold them) and its usage seq for use (usage_daily and
 * usage_hour_data hold the roll-up's checkpoint).  The roll-up's own checkpoint
 * is never ahead of a snapshot taken after store_open (it reads only
 * committed entries), so starting the log at the roll-up's checkpoint
 * reaches every consumer's position.  The positions live in memory: a
 * consumer that keeps no durable state reloads from a fresh snapshot at
 * every start.
 *
 * Threads: registration happens before the roll-up thread starts, under
 * sub_lock; afterwards the array is fixed and only the roll-up thread
 * reads it and moves the positions.
 */
#include <string.h>

#include "store/store_int.h"

static int register_check(struct store *st, const char *name)
{
    if (!st->consumers_started)
        return 0;
    log_msg(LOG_ERROR, "store",
            "consumer registered after store_start_consumers: ignored"
            " | consumer=%s",
            name ? name : "?");
    return CB_EINVAL;
}

static void add_slot(struct store *st, const struct store_consumer *c,
                     int64_t pos, int64_t use_pos)
{
    size_t n = st->n_consumers + 1;
    st->consumers = xrealloc(st->consumers, n * sizeof(*st->consumers));
    struct consumer_slot *slot = &st->consumers[st->n_consumers++];
    memset(slot, 0, sizeof(*slot));
    slot->c = *c;
    snprintf(slot->name, sizeof(slot->name), "%s", c->name ? c->name : "?");
    slot->c.name = slot->name;
    slot->pos = pos;
    slot->use_pos = use_pos;
}

/* Loads c from a snapshot; its seqs become the positions. */
static int load_from_snapshot(struct store *st, const struct store_consumer *c,
                              int64_t *OUT_pos, int64_t *OUT_use_pos)
{
    struct store_snapshot *snap;
    int rc = store_snapshot_begin(st, &snap);
    if (rc)
        return rc;
    rc = c->load(c->ctx, snap);
    *OUT_pos = store_snapshot_log_seq(snap);
    *OUT_use_pos = store_snapshot_usage_seq(snap);
    store_snapshot_end(snap);
    return rc;
}

int store_consumer_register(struct store *st, const struct store_consumer *c)
{
    int64_t rollup = store__rollup_position(st);
    int64_t pos = rollup, use_pos = rollup;
    pthread_mutex_lock(&st->sub_lock);
    int rc = register_check(st, c->name);
    if (!rc && c->load)
        rc = load_from_snapshot(st, c, &pos, &use_pos);
    if (!rc && (pos < rollup || use_pos < rollup))
        log_msg(LOG_WARN, "store",
                "a consumer's snapshot is behind the roll-up's checkpoint"
                " (files restored from different times?): batches in"
                " between do not reach it | consumer=%s position=%lld"
                " rollup=%lld",
                c->name ? c->name : "?", (long long)pos, (long long)rollup);
    if (!rc)
        add_slot(st, c, pos, use_pos);
    pthread_mutex_unlock(&st->sub_lock);
    if (!rc)
        log_msg(LOG_INFO, "store",
                "consumer registered | consumer=%s position=%lld"
                " usage_position=%lld rollup=%lld",
                c->name ? c->name : "?", (long long)pos, (long long)use_pos,
                (long long)rollup);
    return rc;
}

void store_subscribe(struct store *st, store_batch_fn fn, void *ctx)
{
    struct store_consumer c = {
        .name = "subscriber", .on_batch = fn, .ctx = ctx};
    store_consumer_register(st, &c);
}

void store_subscribe_usage(struct store *st, store_usage_fn fn, void *ctx)
{
    struct store_consumer c = {
        .name = "usage subscriber", .on_usage = fn, .ctx = ctx};
    store_consumer_register(st, &c);
}

int store_start_consumers(struct store *st)
{
    pthread_mutex_lock(&st->sub_lock);
    int rc = 0;
    if (!st->consumers_started && !(rc = store__rollup_start(st)))
        st->consumers_started = 1;
    pthread_mutex_unlock(&st->sub_lock);
    return rc;
}

void store__consumers_batch(struct store *st, const struct ingest_batch *b,
                            int64_t seq)
{
    for (size_t i = 0; i < st->n_consumers; i++) {
        struct consumer_slot *slot = &st->consumers[i];
        if (seq <= slot->pos)
            continue; /* its snapshot holds this batch already */
        if (slot->c.on_batch)
            slot->c.on_batch(slot->c.ctx, b, seq);
        slot->pos = seq;
    }
}

void store__consumers_usage(struct store *st, int64_t seq, int32_t household,
                            int metric, int64_t day, double use)
{
    for (size_t i = 0; i < st->n_consumers; i++) {
        struct consumer_slot *slot = &st->consumers[i];
        if (seq > slot->use_pos && slot->c.on_usage)
            slot->c.on_usage(slot->c.ctx, household, metric, day, use);
    }
}

void store__consumers_usage_hour(struct store *st, int64_t seq,
                                 int32_t household, int metric, int64_t hour,
                                 double use)
{
    for (size_t i = 0; i < st->n_consumers; i++) {
        struct consumer_slot *slot = &st->consumers[i];
        if (seq > slot->use_pos && slot->c.on_usage_hour)
            slot->c.on_usage_hour(slot->c.ctx, household, metric, hour, use);
    }
}

void store__consumers_usage_done(struct store *st, int64_t seq)
{
    for (size_t i = 0; i < st->n_consumers; i++)
        if (st->consumers[i].use_pos < seq)
            st->consumers[i].use_pos = seq;
}

void store__consumers_release(struct store *st)
{
    free(st->consumers);
    st->consumers = NULL;
    st->n_consumers = 0;
}
