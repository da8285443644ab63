/*
 * store_codec.h - the compressed series block: many meters' readings of one
 * span (a district day) in one byte string (private to src/store/; pure:
 * no SQL, no state, any thread).
 *
 * A block holds readings sorted by (household, metric, ts), each series
 * (household, metric) cut into runs wherever its field changes.  Every
 * integer is an LEB128 varint (7 bits a byte, low first, at most 10
 * bytes); "zz" is zigzag ((x << 1) ^ (x >> 63)) so small negatives stay
 * short.  All differences are taken modulo 2^64, so any int64 timestamp
 * round-trips exactly.
 *
 *   part     layout                                   notes
 *   -------  ---------------------------------------  ---------------------
 *   block    u8 version (3; 1 and  | varint nruns |  runs in (household,
 *            2 still read) run*                       metric, ts) order
 *   run      varint hh_gap | u8 kind | varint n |     hh_gap: household
 *            varint body_len | body                   minus the previous
 *                                                     run's (the first:
 *                                                     minus the base id)
 *   short    varint hh_gap | u8 kind | varint 0 |     version 3: a run of
 *   run      zz(sec - prev sec) | zz(u)               one reading in whole
 *                                                     seconds (base_ts
 *                                                     too) whose value
 *                                                     counts (kind not
 *                                                     raw); prev sec: the
 *                                                     previous short run's
 *                                                     (the first: base_ts)
 *   kind     bits 0-1 metric, bit 2 field,            digits: the value
 *            bit 3 raw, bits 4-7 digits (0..9)        resolution 10^-digits
 *   body     times then values, n of each
 *   times    u8 flags | zz(ts0 - base_ts) |           in the run's unit:
 *            [n >= 2: varint (ts1 - ts0)] |           seconds (flag 0x2)
 *            [!regular: zz(dod_i) for i >= 2]         when base_ts and
 *                                                     every ts are whole
 *                                                     seconds, else ns;
 *                                                     delta-of-delta dods;
 *                                                     regular (flag 0x1,
 *                                                     n >= 3): every dod
 *                                                     is 0 (a meter that
 *                                                     keeps its interval),
 *                                                     none follow.
 *                                                     Version 1: no flags
 *                                                     byte, ns, the dods
 *                                                     always
 *   values   raw = 0: zz(u0) | zz(u_i - u_i-1) ...    u = round(value *
 *            raw = 1: n little-endian f64             10^digits)
 *
 * Values.  A reading is stored as an integer count of its metric's
 * resolution (10^-digits: 3 digits is 0.001 m3, 2 digits 0.01 kWh) and
 * read back as u / 10^digits, the double nearest that decimal: a value
 * finer than the resolution is rounded to it (half away from zero).  A
 * run with a value that is not finite or whose count would reach 2^53 is
 * stored raw (8 bytes each, exact).  A register that grows by a few units
 * an hour costs a byte or two a reading; the timestamps of a regular
 * meter a few bytes a run, none a reading.  A meter read once a day is a
 * short run in a day row: about 7 bytes (11 in the long form), its time a
 * byte when it reads when the meter before it did.
 *
 * Decoding checks every length against the bytes that are there and
 * refuses (CB_ESTORE) a truncated block, trailing bytes, an unknown
 * version, a bad kind, an over-long varint or a run whose body is not
 * used exactly; it never reads outside the input.  Skipping the runs of
 * other households still reads a short run's time (the next one's is
 * counted from it).
 */
#ifndef CB_STORE_CODEC_H
#define CB_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "util/util.h"

#define CODEC_VERSION 3 /* written; 1 and 2 are read too */
#define CODEC_MAX_DIGITS 9

/* Decoded readings (household, metric, field, ts_ns, value set; the
 * household_id and line left 0). */
struct codec_out {
    struct reading *e;
    size_t n, cap;
};

/* Appends one block of r[0..n) to out.  r is sorted by (household, metric,
 * ts) with households >= base_household; digits[metric] (0..9) is each
 * metric's resolution.  base_ts is any timestamp near the readings (the
 * span's start).  Values are rounded as described above. */
void codec_encode(struct sbuf *out, const struct reading *r, size_t n,
                  int32_t base_household, int64_t base_ts,
                  const int digits[METRIC_COUNT]);

/* Appends the readings of a block to out (only household's when household
 * >= 0; other runs are skipped unread), in the order encoded.  0, or
 * CB_ESTORE for a malformed block (out then holds what came before it). */
int codec_decode(const void *data, size_t len, int32_t base_household,
                 int64_t base_ts, int32_t household, struct codec_out *out);

/* The value v rounded to 10^-digits as the codec stores it (v itself when
 * it would be stored raw). */
double codec_round(double v, int digits);

/*
 * Hourly use of one meter and district day (the roll-up's
 * usage_hour_data.data), the values at a resolution as in a series block:
 *
 *   part     layout                                   notes
 *   -------  ---------------------------------------  ---------------------
 *   hours    u8 kind | [3 bytes mask] | values        mask: bit i (little
 *                                                     endian) = hour i has
 *                                                     use; absent when
 *                                                     kind has "full"
 *   kind     bits 0-3 digits (0..9), bit 4 raw,       other bits 0; raw
 *            bit 5 nibbles, bit 6 full (every hour    never with digits or
 *            set, no mask)                            nibbles
 *   values   a value a set hour:                      u = round(use *
 *            raw: little-endian f64 each              10^digits), u_prev
 *            nibbles: zz(u_i - u_prev) each as        that of the previous
 *            nibble varints (below)                   set hour (0 first)
 *            else (written before nibbles): zz(u_i
 *            - u_prev) each as an LEB128 varint
 *
 * Nibble varints: each value in groups of 3 bits, low first, a group a
 * nibble with bit 3 set when more groups follow; two nibbles a byte, the
 * low nibble first; an odd count leaves the last high nibble 0.  At most
 * 22 nibbles a value (64 bits).  Hourly use is mostly a few tens of units
 * of its resolution a hour, so a value costs a nibble or two where a
 * varint costs a byte or two.
 *
 * A full day of an hourly meter costs 1 + about 20 bytes (it cost 4 + 25
 * before nibbles; a row of 24 REALs about 200).  Use is rounded to the
 * resolution (half away from zero) each time it is stored: additions to a
 * stored day (late data, an hour open at a checkpoint) are rounded once
 * more each.  Raw when a value is not finite or its count would reach
 * 2^53, or when asked (digits < 0).  Decoding reads every form above.
 */
#define CODEC_HOURS 24
#define CODEC_HOURS_MAX (4 + CODEC_HOURS * 11) /* bytes, at most */

struct codec_hours {
    uint32_t mask;           /* bit i: use[i] is set */
    double use[CODEC_HOURS]; /* use of hour i of the day (mask only) */
};

/* Appends the encoding of h at 10^-digits (digits 0..9; < 0: raw, exact)
 * to out. */
void codec_hours_encode(struct sbuf *out, const struct codec_hours *h,
                        int digits);

/* Decodes a day of hours into *OUT and its digits into *OUT_digits (-1:
 * raw; may be NULL): 0, or CB_ESTORE for a malformed value (truncated,
 * trailing bytes, a bad kind or mask, an over-long varint). */
int codec_hours_decode(const void *data, size_t len, struct codec_hours *OUT,
                       int *OUT_digits);

/*
 * Delivery orders of one hour (delivery_block.data, store_orders.c): the
 * orders in the order given (the store sorts them by time, so that time
 * deltas stay small), each an optional field at a time:
 *
 *   part     layout                                   notes
 *   -------  ---------------------------------------  ---------------------
 *   block    u8 version (=0xd1) | varint n | order*   0xd1: not an
 *                                                     ingest_log payload
 *                                                     (whose first byte is
 *                                                     its version, 1)
 *   order    u8 flags | zz(sec - prev sec) |          sec = floor(ts / 1
 *            [varint ns] | [zz(hh - prev hh)] |       s), ns the rest (the
 *            id | [str household_id] |                first: prev = base);
 *            [str address] | [recipient]              prev hh: 0, then the
 *                                                     last matched one
 *   id       hex: [str prefix] | 8 bytes              prefix + 16 lowercase
 *            else: str                                hex digits; no
 *                                                     prefix: the last
 *                                                     order's
 *   recipient hex: 8 bytes; else str                  16 lowercase hex
 *   str      varint length | bytes
 *
 *   flags    0x01 ns set      0x02 household >= 0     0x04 household_id
 *            0x08 address     0x10 id hex             0x20 same prefix
 *            0x40 recipient   0x80 recipient hex (with 0x40)
 *
 * A platform's order "MT-12cd58060f6faf0d" with a pseudonymous recipient
 * "2f680495a87ce957" costs about 20 bytes where the log payload took 71.
 * Every string round-trips exactly (a hex form is used only when the
 * digits are lowercase hex, so decoding gives the same text back).
 * Decoding checks every length and refuses (CB_ESTORE) a truncated block,
 * trailing bytes, an unknown version or flag combination, an over-long
 * varint, a string with a NUL byte or a household outside int32.
 */
#define CODEC_ORDERS_VERSION 0xd1

/* Appends one block of the orders d[0..n) to out; base_ts is any time near
 * them (the hour's start).  Strings are copied as given (NULL stays
 * NULL). */
void codec_orders_encode(struct sbuf *out, const struct delivery *d, size_t n,
                         int64_t base_ts);

/* Appends the orders of a block to out->deliveries (strings in out's
 * arena; household -1 when none): 0, or CB_ESTORE for a malformed block
 * (out then holds what came before it).  out must be a deliveries batch. */
int codec_orders_decode(const void *data, size_t len, int64_t base_ts,
                        struct ingest_batch *out);

/*
 * The points of one indicator series over a span of buckets
 * (indic_block.data, store_indic.c): bucket starts, values and detector
 * scores, in time order:
 *
 *   part     layout                                   notes
 *   -------  ---------------------------------------  ---------------------
 *   block    u8 version (=0xe1) | varint n (>= 1) |   0xe1: none of the
 *            u8 flags | [u8 digits] | times |         other formats'
 *            [vmask] | [smask] | value* | score*      versions; digits
 *                                                     unless raw
 *   flags    0x01 times in seconds  0x02 regular      other bits 0
 *            0x04 every value set   0x08 every score
 *            set  0x10 values raw
 *   times    zz(t0 - base) | [n >= 2: varint          as in a series
 *            (t1 - t0)] | [!regular: zz(dod_i) for    block; strictly
 *            i >= 2]                                  increasing
 *   vmask,   ceil(n / 8) bytes, bit i (LSB first):    absent when the flag
 *   smask    point i has a value / a score            says every one is
 *                                                     set; unused bits 0
 *   value    raw = 0: zz(u_i - u_prev), u_prev the    u = round(value *
 *            previous set value's (0 first)           10^digits), digits
 *            raw = 1: little-endian f64 (finite)      0..6
 *   score    varint q, 0..2000                        q = round(100 *
 *                                                     -log10(1 - score))
 *
 * Values.  The encoder takes the coarsest resolution 10^-digits, digits 0
 * to 6, that holds every value of the block to within a billionth of it
 * (at least 10^-9 absolute: the floating-point noise of a sum), else
 * 10^-6: a count reads back exactly, a sum of 0.01 kWh uses to its
 * hundredths, anything else to 10^-6 (rounded half away from zero).  A
 * value whose count would reach 2^53 makes the block raw (exact).
 *
 * Scores (a detector's tail probability, in [0, 1]) are kept as q, in
 * hundredths of a decade of 1 - score: 1 - score reads back within 1.2 %
 * of itself, so 0.99, 0.999 and 0.9999 stay apart (q 200, 300, 400) and a
 * score of 0 or 1 reads back exactly (q 0; q 2000, 1 - 10^-20, is 1.0).
 * A score outside [0, 1] is clamped to it.
 *
 * A missing value or score (NaN, or not finite) is a 0 bit in its mask.
 * Decoding checks every length and refuses (CB_ESTORE) a truncated block,
 * trailing bytes, an unknown version or flag, digits above 6, a time not
 * after the one before, a nonzero unused mask bit, a raw value that is not
 * finite, a count at or above 2^53, a q above 2000 or an over-long
 * varint.  A block of 64 hourly points costs about 4 to 6 bytes a point.
 */
#define CODEC_POINTS_VERSION 0xe1
#define CODEC_POINTS_MAX_DIGITS 6
#define CODEC_SCORE_Q_MAX 2000

struct codec_point {
    int64_t ts_ns;       /* the bucket's start */
    double value, score; /* NaN: none */
};

struct codec_points {
    struct codec_point *p;
    size_t n, cap;
};

/* Appends the block of p[0..n) (n >= 1, ts_ns strictly increasing) to out;
 * base_ts is any time near them (the block's key). */
void codec_points_encode(struct sbuf *out, const struct codec_point *p,
                         size_t n, int64_t base_ts);

/* Appends the points of a block to out: 0, or CB_ESTORE for a malformed
 * block (out then holds what came before it). */
int codec_points_decode(const void *data, size_t len, int64_t base_ts,
                        struct codec_points *out);

/* The score s as a block stores it (NaN stays NaN). */
double codec_score_round(double s);

/*
 * Daily use of one meter over a block of 32 district days
 * (usage_daily_block.data, store_rollup.c): each day's use at the metric's
 * resolution and the number of readings stamped in it (usage_daily.n):
 *
 *   part     layout                                   notes
 *   -------  ---------------------------------------  ---------------------
 *   block    u8 kind | varint mask | [varint n] |     mask: bit i = day
 *            day*                                     block * 32 + i is
 *                                                     set; n: with kind
 *                                                     0x20, every set
 *                                                     day's count
 *   kind     bits 0-3 digits (0..9), bit 4 raw,       other bits 0
 *            bit 5 one n for every day
 *   day      value | [varint n]                       n unless kind 0x20
 *   value    raw = 0: zz(u_i - u_prev), u_prev of     u = round(use *
 *            the previous set day (0 first)           10^digits)
 *            raw = 1: little-endian f64
 *
 * A month of a daily meter (one reading a day, use of a few kWh or m3)
 * costs 3 to 4 bytes plus 1 to 3 a day, where a row per day cost about
 * 24.  Use is rounded to the resolution (half away from zero) each time a
 * block is written; the roll-up's parts are at the resolution already, so
 * a block holds their exact sum.  Raw (exact doubles) when a value is not
 * finite or its count would reach 2^53, or when asked (digits < 0:
 * blocks migrated from rollup schema 4).
 */
#define CODEC_DAYS 32
#define CODEC_DAYS_MAX (1 + 5 + 10 + CODEC_DAYS * 18) /* bytes, at most */

struct codec_days {
    uint32_t mask;          /* bit i: day i is set */
    double use[CODEC_DAYS]; /* use of day i (mask only) */
    uint64_t n[CODEC_DAYS]; /* readings stamped in day i (mask only) */
};

/* Appends the encoding of d at 10^-digits (digits 0..9; < 0: raw, exact)
 * to out. */
void codec_days_encode(struct sbuf *out, const struct codec_days *d,
                       int digits);

/* Decodes a block of days into *OUT and its digits into *OUT_digits (-1:
 * raw; may be NULL): 0, or CB_ESTORE for a malformed value (truncated,
 * trailing bytes, a bad kind, a mask over 32 bits, an over-long varint).
 * Unset days are 0. */
int codec_days_decode(const void *data, size_t len, struct codec_days *OUT,
                      int *OUT_digits);

#endif
