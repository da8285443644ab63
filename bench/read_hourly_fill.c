/*
 * bench/read_hourly_fill.c - the direct bulk fill of bench/read_hourly: a
 * stopped store's rollup.db gets, as the roll-up would have written them,
 *
 *   - hourly use (usage_hour_data, one value per household, metric and
 *     district day in the store's own format: codec_hours_encode at the
 *     default resolutions, 0.001 m3 and 0.01 kWh) of water and electricity
 *     for every SAMPLE-th household, HOURLY_DAYS district days, with the
 *     matching daily use (usage_daily: the sums of the hours);
 *   - daily electricity use (usage_daily) of every other household for the
 *     last DAILY_DAYS days, as bench/read_latency fills it.
 *
 *   read_hourly_fill DATA_DIR HOUSEHOLDS SAMPLE HOURLY_DAYS DAILY_DAYS TODAY
 *
 * TODAY is the district day (days since 1970-01-01, UTC+8) after the last
 * day filled.  Households are the dense ids 1..HOUSEHOLDS (registered in
 * order); the sample is the ids with (id - 1) % SAMPLE == 0.  Rows go in
 * primary-key order (day, household, metric), one transaction.  The use
 * is made up, deterministic, and varies by hour of day.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store_codec.h"

#define DIGITS_WATER 3       /* water_resolution = 0.001 */
#define DIGITS_ELECTRICITY 2 /* electricity_resolution = 0.01 */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* A made-up hour of use: a daily curve times a household's level, with
 * noise; about 0.1..1.5 kWh and 0..0.06 m3 an hour. */
static double hour_use(int64_t hh, int metric, int64_t day, int hour)
{
    static const double curve[24] = {0.4, 0.3, 0.3, 0.3, 0.3, 0.4, 0.8, 1.2,
                                     1.0, 0.7, 0.6, 0.7, 0.9, 0.7, 0.6, 0.6,
                                     0.7, 0.9, 1.3, 1.5, 1.4, 1.2, 0.9, 0.6};
    uint64_t r = mix((uint64_t)hh * 1000003u + (uint64_t)day * 24 + hour +
                     (uint64_t)metric * 0x9e3779b97f4a7c15ULL);
    double level = 0.5 + (double)(mix((uint64_t)hh) % 1000) / 1000.0;
    double noise = 0.7 + (double)(r % 600) / 1000.0;
    double base = metric == 1 ? 0.6 : 0.02;
    return base * level * curve[hour] * noise;
}

static int check(sqlite3 *db, int rc, const char *what)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    fprintf(stderr, "read_hourly_fill: %s: %s\n", what, sqlite3_errmsg(db));
    return 1;
}

static int put_hours(sqlite3_stmt *hs, sqlite3_stmt *ds, int64_t hh, int metric,
                     int64_t day)
{
    struct codec_hours h = {.mask = 0xffffff};
    struct sbuf b = SBUF_INIT;
    double sum = 0;
    int digits = metric == 1 ? DIGITS_ELECTRICITY : DIGITS_WATER;
    for (int i = 0; i < CODEC_HOURS; i++) {
        h.use[i] = codec_round(hour_use(hh, metric, day, i), digits);
        sum += h.use[i];
    }
    sbuf_init(&b);
    codec_hours_encode(&b, &h, digits);
    sqlite3_bind_int64(hs, 1, hh);
    sqlite3_bind_int(hs, 2, metric);
    sqlite3_bind_int64(hs, 3, day);
    sqlite3_bind_blob(hs, 4, b.buf, (int)b.len, SQLITE_TRANSIENT);
    int rc = sqlite3_step(hs);
    sqlite3_reset(hs);
    sbuf_release(&b);
    if (rc != SQLITE_DONE)
        return rc;
    sqlite3_bind_int64(ds, 1, hh);
    sqlite3_bind_int(ds, 2, metric);
    sqlite3_bind_int64(ds, 3, day);
    sqlite3_bind_double(ds, 4, sum);
    sqlite3_bind_int(ds, 5, 24);
    rc = sqlite3_step(ds);
    sqlite3_reset(ds);
    return rc;
}

static int put_daily(sqlite3_stmt *ds, int64_t hh, int64_t day)
{
    sqlite3_bind_int64(ds, 1, hh);
    sqlite3_bind_int(ds, 2, 1);
    sqlite3_bind_int64(ds, 3, day);
    sqlite3_bind_double(ds, 4, 3 + (double)(hh % 17) * 0.25);
    sqlite3_bind_int(ds, 5, 1);
    int rc = sqlite3_step(ds);
    sqlite3_reset(ds);
    return rc;
}

/* One district day: the sample's hours and days, the others' days. */
static int fill_day(sqlite3 *db, sqlite3_stmt *hs, sqlite3_stmt *ds, int64_t n,
                    int64_t sample, int64_t day, int hourly, int daily)
{
    for (int64_t hh = 1; hh <= n; hh++) {
        int rc = SQLITE_DONE;
        if ((hh - 1) % sample == 0) {
            for (int m = 0; hourly && m < 2 && rc == SQLITE_DONE; m++)
                rc = put_hours(hs, ds, hh, m, day);
        } else if (daily) {
            rc = put_daily(ds, hh, day);
        }
        if (check(db, rc, "insert"))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: read_hourly_fill DATA_DIR HOUSEHOLDS SAMPLE"
                        " HOURLY_DAYS DAILY_DAYS TODAY\n");
        return 2;
    }
    char path[4096];
    int64_t n = atoll(argv[2]), sample = atoll(argv[3]);
    int64_t hdays = atoll(argv[4]), ddays = atoll(argv[5]);
    int64_t today = atoll(argv[6]);
    int64_t first = today - (hdays > ddays ? hdays : ddays);
    sqlite3 *db;
    sqlite3_stmt *hs = NULL, *ds = NULL;
    snprintf(path, sizeof(path), "%s/rollup.db", argv[1]);
    if (sample < 1 || sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL))
        return fprintf(stderr, "read_hourly_fill: cannot open %s\n", path), 1;
    int bad =
        check(db,
              sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; PRAGMA cache_size=-262144;"
                           " BEGIN",
                           NULL, NULL, NULL),
              "begin") ||
        check(db,
              sqlite3_prepare_v2(db,
                                 "INSERT INTO usage_hour_data(household,"
                                 " metric, day, data) VALUES(?1,?2,?3,?4)",
                                 -1, &hs, NULL),
              "prepare") ||
        check(db,
              sqlite3_prepare_v2(db,
                                 "INSERT INTO usage_daily(household, metric,"
                                 " day, use, n) VALUES(?1,?2,?3,?4,?5)",
                                 -1, &ds, NULL),
              "prepare");
    for (int64_t day = first; !bad && day < today; day++)
        bad = fill_day(db, hs, ds, n, sample, day, day >= today - hdays,
                       day >= today - ddays);
    sqlite3_finalize(hs);
    sqlite3_finalize(ds);
    if (!bad)
        bad = check(db,
                    sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);",
                                 NULL, NULL, NULL),
                    "commit");
    sqlite3_close(db);
    return bad;
}
