/*
 * store_meter.h - the meter model of the roll-up: from one reading to the
 * use it adds and the interval that use covers (private to src/store/).
 *
 * A meter is one (household, metric).  Its state is a few numbers, kept in
 * memory by the roll-up and persisted in meter_state at each checkpoint
 * (with the roll-up's open buckets next to them in memory, never persisted):
 *
 *   field          meaning
 *   -------------  ----------------------------------------------------
 *   first_ts       timestamp of the oldest reading seen
 *   first_index    its register value (when METER_FIRST_INDEX)
 *   last_ts        timestamp of the newest reading seen
 *   last_index     the newest register value (when METER_INDEX)
 *   grain_ns       smallest gap between consecutive readings: the meter's
 *                  reporting interval, 0 until two readings are seen
 *   resets         register rollovers (9999.x -> 0.x)
 *   replacements   meter replacements (register restarted lower)
 *   late           readings older than last_ts when they arrived
 *
 * The rules, for a reading at ts of value v:
 *
 *   case                         use                      interval
 *   ---------------------------  -----------------------  ----------------
 *   first reading, index         none                     -
 *   first reading, delta         v                        unknown
 *   in order, delta              v                        (ts - min(gap,
 *                                                          grain), ts]
 *   in order, index, v >= prev   v - prev                 (last_ts, ts]
 *   in order, index, rollover    10^k - prev + v          (last_ts, ts]
 *   in order, index, replaced    v if v <= prev/10        (last_ts, ts]
 *                                (new register from ~0),
 *                                else 0: unknown, not
 *                                invented
 *   late, ts < first_ts, index   first_index - v if >= 0  (ts, first_ts]
 *   late, delta                  v                        (ts - grain, ts]
 *   late, index, inside series   none: that interval's    -
 *                                use is already counted
 *
 * A rollover is a drop from within 2% of a power of ten 10^k (9999.x,
 * 99999.x) to below 2% of it; any other drop is a replacement, except a
 * drop within 1e-9 relative (float noise), which counts as no use.  A
 * meter is expected to report either index or delta; a delta meter that
 * starts sending index readings starts a register from that reading.
 */
#ifndef CB_STORE_METER_H
#define CB_STORE_METER_H

#include <stdint.h>

enum meter_flag {
    METER_KNOWN = 1,       /* at least one reading seen */
    METER_INDEX = 2,       /* last_index is valid */
    METER_FIRST_INDEX = 4, /* first_index is valid */
    /* the roll-up's, in memory only (never persisted): */
    METER_DIRTY = 8,      /* changed since the last checkpoint */
    METER_HOUR_OPEN = 16, /* open_hour and hour_use are valid */
    METER_DAY_OPEN = 32,  /* open_day, day_use and day_n are valid */
};
#define METER_MEMORY_FLAGS (METER_DIRTY | METER_HOUR_OPEN | METER_DAY_OPEN)

enum meter_event { METER_NONE, METER_ROLLOVER, METER_REPLACED };

/* 80 bytes (the roll-up keeps one per household and metric: 6 M at
 * 2,000,000 households); the order avoids padding. */
struct meter {
    int64_t first_ts, last_ts;
    double first_index, last_index;
    int64_t grain_ns;
    /* The roll-up's open buckets (store_rollup.c), in memory only: the use
     * of the hour and of the district day the meter is filling now, the
     * readings stamped in that day (a full count closes the day's bucket
     * into the additions, which add up, and opens it again). */
    double hour_use, day_use;
    uint32_t resets, replacements, late;
    int32_t open_hour, open_day;
    uint16_t day_n;
    uint8_t flags; /* enum meter_flag */
};

/* What one reading adds. */
struct meter_use {
    int has_use;
    double use;
    int64_t t0, t1; /* the interval (t0, t1]; t0 == t1: unknown */
    enum meter_event event;
    int late;
};

/* Applies a reading (field: enum reading_field) to m and says what it
 * adds in OUT_use.  Pure: no I/O, no locks. */
void store__meter_apply(struct meter *m, int field, int64_t ts_ns, double value,
                        struct meter_use *OUT_use);

#endif
