/*
 * store_schema.c - connections, pragmas, the statement cache and the
 * versioned migrations.
 *
 * Migrations.  PRAGMA user_version holds the schema version.  Each entry of
 * the migrations[] table moves the schema from version i to i + 1 and runs
 * in its own transaction together with the user_version bump, so a crash
 * mid-migration leaves the previous version intact.  New versions are
 * appended; an applied entry is never edited.  rollup.db has its own list
 * (rollup_migrations[]) and its own user_version.  citybrain.db's
 * migration 6 runs with rollup.db attached as "rollup" and replaces
 * rollup.db's contents with the old tables before dropping them: in WAL
 * mode a transaction over two files is atomic per file only, so a crash
 * between the two commits just redoes the copy.  So rollup.db is migrated
 * in two steps: up to STORE_ROLLUP_MOVE_VERSION (the layout migration 6
 * copies into) before citybrain.db, the rest after it.
 *
 * Pragmas.  The writer runs WAL with synchronous=FULL (sync_full) or NORMAL
 * (with FULL, audit rows commit with NORMAL and are fsynced within 1 s:
 * store__call_os), a 128 MiB page cache, temp tables in memory, and an
 * auto-checkpoint every 8192 pages (32 MiB of WAL): larger than the default so
 * that bulk ingest is not interrupted by a checkpoint every 4 MiB, small enough
 * that readers do not wade through a huge WAL.  Read connections use mmap and
 * query_only.  Every connection is opened NOMUTEX: one thread uses it at a
 * time (the writer, the roll-up or the pool's borrower).
 */
#include <errno.h>
#include <string.h>

#include "store/store_codec.h"
#include "store/store_int.h"

/* clang-format off */
/* The hours 0..23 of a district day: usage_hours has a column each.  Also
 * part of rollup migration 2's text: never edit. */
#define EACH_HOUR_BUT_0(X)                                                     \
    X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)       \
    X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define EACH_HOUR(X) X(0) EACH_HOUR_BUT_0(X)

/* The roll-up's upserts, with one row of values or STORE_ROWS_PER_STMT
 * (anonymous parameters: row after row). */
#define ROWS_4(row) row "," row "," row "," row
#define ROWS_PER_STMT(row)                                                     \
    ROWS_4(row) "," ROWS_4(row) "," ROWS_4(row) "," ROWS_4(row)
#define DAILY_ROW "(?,?,?,?,?)"
#define DAILY_ADD(rows)                                                        \
    "INSERT INTO usage_daily(household,metric,day,use,n) VALUES" rows          \
    " ON CONFLICT(day,household,metric)"                                       \
    " DO UPDATE SET use=use+excluded.use,n=n+excluded.n"
/* usage_hours: household, metric, day, then the use of hours 0..23 of the
 * district day, NULL (unbound) for none; NULL + x is NULL, hence coalesce. */
#define HOUR_NAME(h) ",h" #h
#define HOUR_PARAM(h) ",?"
#define HOUR_ADD(h)                                                            \
    ",h" #h "=coalesce(h" #h "+excluded.h" #h ",h" #h ",excluded.h" #h ")"
/* usage_hour_data: household, metric, day, the hours (store_codec.h),
 * added to the stored hours by cb_hours_add (store_rollup.c). */
#define HOURS_ROW "(?,?,?,?)"
#define HOURS_ADD(rows)                                                        \
    "INSERT INTO usage_hour_data(household,metric,day,data) VALUES" rows       \
    " ON CONFLICT(day,household,metric) DO UPDATE SET"                         \
    " data=cb_hours_add(data,excluded.data)"
#define METER_ROW "(?,?,?,?,?,?,?,?,?,?,?)"
#define METER_PUT(rows)                                                        \
    "INSERT OR REPLACE INTO meter_state(household,metric,first_ts_ns,"         \
    "first_index,last_ts_ns,last_index,flags,resets,replacements,late,"        \
    "grain_ns) VALUES" rows
_Static_assert(STORE_ROWS_PER_STMT == 16, "ROWS_PER_STMT writes 16 rows");

/* The 32 district days of a block of daily use whose first day is ?1. */
#define DAILY_BLOCK_IN                                                         \
    "?1,?1+1,?1+2,?1+3,?1+4,?1+5,?1+6,?1+7,?1+8,?1+9,?1+10,?1+11,?1+12,"      \
    "?1+13,?1+14,?1+15,?1+16,?1+17,?1+18,?1+19,?1+20,?1+21,?1+22,?1+23,"      \
    "?1+24,?1+25,?1+26,?1+27,?1+28,?1+29,?1+30,?1+31"
/* The first household >= ?2 with a row in day ?1 + k: one seek each. */
#define DC_NEXT(k)                                                             \
    " UNION ALL SELECT (SELECT min(household) FROM usage_daily WHERE"          \
    " day=?1+" #k " AND household>=?2 AND day<?3)"
#define DC_NEXT_8(a, b, c, d, e, f, g, h)                                      \
    DC_NEXT(a) DC_NEXT(b) DC_NEXT(c) DC_NEXT(d) DC_NEXT(e) DC_NEXT(f)          \
    DC_NEXT(g) DC_NEXT(h)
/* The 24 hours of the UTC day whose first hour is ?1. */
#define DAY_HOURS_IN                                                           \
    "?1,?1+1,?1+2,?1+3,?1+4,?1+5,?1+6,?1+7,?1+8,?1+9,?1+10,?1+11,?1+12,"      \
    "?1+13,?1+14,?1+15,?1+16,?1+17,?1+18,?1+19,?1+20,?1+21,?1+22,?1+23"

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_BLOCK_ADD] =
        "INSERT INTO reading_block(hour,block,n,data) VALUES(?1,?2,?3,?4)",
    [STMT_ORDER_ADD] = "INSERT OR IGNORE INTO delivery_order(order_id)"
                       " VALUES(?1)",
    [STMT_ORDER_BLOCK_ADD] =
        "INSERT INTO delivery_block(hour,n,source,data) VALUES(?1,?2,?3,?4)",
    [STMT_ORDER_KEY_ADD] =
        "INSERT OR IGNORE INTO delivery_key(key,hour) VALUES(?1,?2)",
    [STMT_ORDER_KEY_HOUR] = "SELECT hour FROM delivery_key WHERE key=?1",
    [STMT_ORDER_HOUR_BLOCKS] = "SELECT data FROM delivery_block WHERE hour=?1",
    /* Retention of orders: at most ?2 of the oldest rows before hour ?1. */
    [STMT_RETAIN_ORDER_ROWS] = "SELECT id,hour,data FROM delivery_block"
                               " WHERE hour<?1 ORDER BY hour LIMIT ?2",
    [STMT_ORDER_KEY_DROP] = "DELETE FROM delivery_key WHERE key=?1 AND hour=?2",
    [STMT_ORDER_ID_DROP] = "DELETE FROM delivery_order WHERE order_id=?1",
    [STMT_ORDER_BLOCK_DROP] = "DELETE FROM delivery_block WHERE id=?1",
    /* At most ?2 of the oldest events before ?1. */
    [STMT_RETAIN_EVENTS] =
        "DELETE FROM event WHERE (source,event_id) IN (SELECT source,event_id"
        " FROM event WHERE ts_ns<?1 ORDER BY ts_ns LIMIT ?2)",
    [STMT_EVENT_ADD] =
        "INSERT OR IGNORE INTO event(source,event_id,type,ts_ns,lat,lon,"
        "street_id,street,attrs,sender) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,"
        "?10)",
    [STMT_LOG_ADD] =
        "INSERT INTO ingest_log(ts_ns,feed,n,source,payload)"
        " VALUES(?1,?2,?3,?4,?5)",
    [STMT_STREET_FIND] = "SELECT id FROM street WHERE name=?1",
    [STMT_STREET_ADD] = "INSERT INTO street(name) VALUES(?1)",
    [STMT_COMMITTEE_FIND] =
        "SELECT id FROM committee WHERE street_id=?1 AND name=?2",
    [STMT_COMMITTEE_ADD] =
        "INSERT INTO committee(street_id,name) VALUES(?1,?2)",
    [STMT_BUILDING_FIND] =
        "SELECT id FROM building WHERE committee_id=?1 AND name=?2",
    [STMT_BUILDING_ADD] =
        "INSERT INTO building(committee_id,name) VALUES(?1,?2)",
    [STMT_HOUSEHOLD_ADDR] =
        "SELECT address FROM household WHERE household_id=?1",
    [STMT_HOUSEHOLD_UPSERT] =
        "INSERT INTO household(household_id,street_id,committee_id,"
        "building_id,address,address_key,lat,lon,area_m2,rooms,"
        "registered_occupants,flags,updated_ns)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"
        " ON CONFLICT(household_id) DO UPDATE SET"
        " street_id=excluded.street_id,committee_id=excluded.committee_id,"
        "building_id=excluded.building_id,address=excluded.address,"
        "address_key=excluded.address_key,lat=excluded.lat,"
        "lon=excluded.lon,area_m2=excluded.area_m2,rooms=excluded.rooms,"
        "registered_occupants=excluded.registered_occupants,"
        "flags=excluded.flags,updated_ns=excluded.updated_ns"
        " WHERE (street_id,committee_id,building_id,address,lat,lon,"
        "area_m2,rooms,registered_occupants,flags) IS NOT"
        " (excluded.street_id,excluded.committee_id,excluded.building_id,"
        "excluded.address,excluded.lat,excluded.lon,excluded.area_m2,"
        "excluded.rooms,excluded.registered_occupants,excluded.flags)"
        " RETURNING id",
    [STMT_TALLY_ADD] =
        "INSERT INTO tally(name,n) VALUES(?1,?2)"
        " ON CONFLICT(name) DO UPDATE SET n=n+excluded.n",
    [STMT_SOURCE_ADD] =
        "INSERT INTO delivery_source(source,total,unmatched)"
        " VALUES(?1,?2,?3) ON CONFLICT(source) DO UPDATE SET"
        " total=total+excluded.total,unmatched=unmatched+excluded.unmatched",
    [STMT_DAILY_ADD] = DAILY_ADD(DAILY_ROW),
    [STMT_DAILY_ADD_MANY] = DAILY_ADD(ROWS_PER_STMT(DAILY_ROW)),
    [STMT_HOURS_ADD] = HOURS_ADD(HOURS_ROW),
    [STMT_HOURS_ADD_MANY] = HOURS_ADD(ROWS_PER_STMT(HOURS_ROW)),
    [STMT_METER_PUT] = METER_PUT(METER_ROW),
    [STMT_METER_PUT_MANY] = METER_PUT(ROWS_PER_STMT(METER_ROW)),
    [STMT_CONSUMER_PUT] =
        "INSERT INTO consumer(name,seq) VALUES(?1,?2)"
        " ON CONFLICT(name) DO UPDATE SET seq=excluded.seq",
    /* Deletes at most ?2 of the oldest blocks of hours before ?1. */
    [STMT_RETAIN_READINGS] =
        "DELETE FROM reading_block WHERE id IN (SELECT id FROM reading_block"
        " WHERE hour<?1 ORDER BY hour LIMIT ?2) RETURNING n",
    /* At most ?1 of the oldest log rows, up to seq ?2, written before ?3. */
    [STMT_RETAIN_LOG] =
        "DELETE FROM ingest_log WHERE seq<=min(?2,(SELECT min(seq) FROM"
        " ingest_log)+?1) AND ts_ns<?3",
    /* Daily use: the rows of households [?2, ?3) in the 32 days from ?1,
     * those before day ?4. */
    [STMT_DAILY_BLOCK_READ] =
        "SELECT household,metric,day,use,n FROM usage_daily WHERE day IN ("
        DAILY_BLOCK_IN ") AND household>=?2 AND household<?3 AND day<?4",
    [STMT_DAILY_BLOCK_GET] = "SELECT data FROM usage_daily_block WHERE"
                             " block=?1 AND household=?2 AND metric=?3",
    [STMT_DAILY_BLOCK_PUT] =
        "INSERT OR REPLACE INTO usage_daily_block(block,household,metric,data)"
        " VALUES(?1,?2,?3,?4)",
    [STMT_DAILY_BLOCK_DROP] =
        "DELETE FROM usage_daily WHERE day IN (" DAILY_BLOCK_IN ") AND"
        " household>=?2 AND household<?3 AND day<?4",
    [STMT_DAILY_MIN_DAY] = "SELECT min(day) FROM usage_daily",
    /* The first household >= ?2 with rows in the 32 days from ?1, before
     * day ?3. */
    [STMT_DAILY_BLOCK_NEXT] =
        "SELECT min(h) FROM (SELECT (SELECT min(household) FROM usage_daily"
        " WHERE day=?1 AND household>=?2 AND day<?3) AS h"
        DC_NEXT_8(1, 2, 3, 4, 5, 6, 7, 8) DC_NEXT_8(9, 10, 11, 12, 13, 14, 15, 16)
        DC_NEXT_8(17, 18, 19, 20, 21, 22, 23, 24)
        DC_NEXT(25) DC_NEXT(26) DC_NEXT(27) DC_NEXT(28) DC_NEXT(29)
        DC_NEXT(30) DC_NEXT(31) ")",
    /* The oldest block of daily use, when it is before block ?1. */
    [STMT_RETAIN_DAILY_BLOCKS] =
        "DELETE FROM usage_daily_block WHERE block<min(?1,(SELECT min(block)"
        " FROM usage_daily_block)+1)",
    /* The oldest ?2 district days of use, those before day ?1. */
    [STMT_RETAIN_HOURS_USE] =
        "DELETE FROM usage_hour_data WHERE day<min(?1,(SELECT min(day) FROM"
        " usage_hour_data)+?2)",
    [STMT_RETAIN_DAILY_USE] =
        "DELETE FROM usage_daily WHERE day<min(?1,(SELECT min(day) FROM"
        " usage_daily)+?2)",
    [STMT_DAY_GET] = "SELECT data FROM reading_day WHERE block=?1 AND day=?2",
    [STMT_DAY_PUT] =
        "INSERT INTO reading_day(day,block,n,data) VALUES(?1,?2,?3,?4)"
        " ON CONFLICT(block,day) DO UPDATE SET n=excluded.n,data=excluded.data",
    [STMT_DAY_NEWEST] = "SELECT max(day) FROM reading_day",
    [STMT_RETAIN_DAYS] =
        "DELETE FROM reading_day WHERE id IN (SELECT id FROM reading_day"
        " WHERE day<?1 ORDER BY day LIMIT ?2) RETURNING n",
    [STMT_PERIOD_GET] =
        "SELECT data FROM reading_period WHERE block=?1 AND period=?2",
    [STMT_PERIOD_PUT] =
        "INSERT INTO reading_period(period,block,day0,day1,n,data)"
        " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(block,period) DO UPDATE SET"
        " day0=excluded.day0,day1=excluded.day1,n=excluded.n,"
        "data=excluded.data",
    [STMT_PERIOD_NEWEST] =
        "SELECT max(day1) FROM reading_period WHERE period="
        "(SELECT max(period) FROM reading_period)",
    /* rows wholly before day ?1 (?2 its period) */
    [STMT_RETAIN_PERIODS] =
        "DELETE FROM reading_period WHERE id IN (SELECT id FROM"
        " reading_period WHERE period<=?2 AND day1<?1 ORDER BY period"
        " LIMIT ?3) RETURNING n",
    /* rows of period ?2 that start before day ?1 and end at or after it */
    [STMT_PERIOD_TRIM_ROWS] =
        "SELECT id,block,data FROM reading_period WHERE period=?2 AND"
        " day0<?1 LIMIT ?3",
    [STMT_PERIOD_DROP] = "DELETE FROM reading_period WHERE id=?1",
    [STMT_PERIOD_SET] =
        "UPDATE reading_period SET day0=?2,n=?3,data=?4 WHERE id=?1",
    [STMT_HOT_SPAN] = "SELECT (SELECT min(hour) FROM reading_block),"
                      "(SELECT max(hour) FROM reading_block)",
    [STMT_HOT_DAY_ROWS] =
        "SELECT id,block,data FROM reading_block WHERE hour IN (" DAY_HOURS_IN
        ") AND block BETWEEN ?2 AND ?3",
    [STMT_HOT_DAY_MAX_BLOCK] =
        "SELECT max(block) FROM reading_block WHERE hour IN (" DAY_HOURS_IN
        ")",
    [STMT_HOT_DELETE] = "DELETE FROM reading_block WHERE id=?1",
    [STMT_DEPT_ADD] =
        "INSERT OR IGNORE INTO department(name,feeds,created_ns,"
        "measurements,sources) VALUES(?1,?2,?3,?4,?5)",
    [STMT_DEPT_FEEDS] =
        "SELECT feeds,measurements,sources FROM department WHERE id=?1",
    [STMT_TOKEN_ADD] =
        "INSERT OR IGNORE INTO token(hash,name,role,department_id,feeds,"
        "committee,created_ns) VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [STMT_TOKEN_REVOKE] =
        "UPDATE token SET revoked_ns=coalesce(revoked_ns,?2) WHERE id=?1",
    [STMT_AUDIT_ADD] =
        "INSERT INTO audit(ts_ns,who,action,object,reason,token_id)"
        " VALUES(?1,?2,?3,?4,?5,?6)",
    [STMT_KV_PUT] =
        "INSERT INTO kv(key,value) VALUES(?1,?2)"
        " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
    [STMT_LOG_AFTER] =
        "SELECT seq,payload FROM ingest_log WHERE seq>?1 ORDER BY seq"
        " LIMIT ?2",
    [STMT_BLOCK_GET] =
        "SELECT data FROM reading_block WHERE hour=?1 AND block=?2",
    [STMT_BLOCK_NEXT_HOUR] =
        "SELECT hour FROM reading_block WHERE hour>?1 ORDER BY hour LIMIT 1",
    [STMT_BLOCK_NEWEST_HOUR] = "SELECT max(hour) FROM reading_block",
    [STMT_PERIOD_RANGE] =
        "SELECT period,data FROM reading_period WHERE block=?1 AND"
        " period BETWEEN ?2 AND ?3 ORDER BY period",
    [STMT_DAY_RANGE] = "SELECT day,data FROM reading_day WHERE block=?1 AND"
                       " day BETWEEN ?2 AND ?3 ORDER BY day",
    /* Both tiers of daily use: rows of recent days, blocks of past ones
     * (a late row of a compacted day adds to its block's value). */
    [STMT_USAGE_DAILY] =
        "SELECT metric,sum(use) FROM (SELECT metric,use FROM usage_daily"
        " WHERE day=?2 AND household=?1 UNION ALL SELECT metric,"
        "cb_day_use(data,?2-block*32) FROM usage_daily_block WHERE"
        " block=?2>>5 AND household=?1) WHERE use IS NOT NULL GROUP BY metric"
        " ORDER BY metric",
    /* One min() or max() a SELECT: SQLite answers those from the primary
     * key's first column; min(day),max(day) together scanned the table
     * (every usage read, 0.6 s at 200,000 households x 30 days). */
    [STMT_USAGE_DAYS] =
        "SELECT min(d0),max(d1) FROM (SELECT (SELECT min(day) FROM"
        " usage_daily) AS d0,(SELECT max(day) FROM usage_daily) AS d1"
        " UNION ALL SELECT (SELECT min(block) FROM usage_daily_block)*32,"
        "(SELECT max(block) FROM usage_daily_block)*32+31)",
    [STMT_EVENTS] =
        "SELECT e.source,e.event_id,e.type,e.ts_ns,e.lat,e.lon,"
        "coalesce(s.name,e.street),e.street IS NULL,e.attrs"
        " FROM event e LEFT JOIN street s ON s.id=e.street_id"
        " WHERE e.ts_ns>=?1 AND e.ts_ns<?2 AND (?3 IS NULL OR e.source=?3)"
        " ORDER BY e.ts_ns DESC LIMIT ?4",
    [STMT_HOUSEHOLD_GET] =
        "SELECT h.household_id,s.name,c.name,b.name,h.address,h.lat,h.lon,"
        "h.area_m2,h.rooms,h.registered_occupants,h.flags,h.updated_ns"
        " FROM household h LEFT JOIN street s ON s.id=h.street_id"
        " LEFT JOIN committee c ON c.id=h.committee_id"
        " LEFT JOIN building b ON b.id=h.building_id WHERE h.id=?1",
    [STMT_HOUSEHOLD_COMMITTEE] =
        "SELECT c.name FROM household h JOIN committee c"
        " ON c.id=h.committee_id WHERE h.id=?1",
    [STMT_METERS_OF] =
        "SELECT metric,first_ts_ns,last_ts_ns,last_index,flags,resets,"
        "replacements,late,grain_ns FROM meter_state WHERE household=?1"
        " ORDER BY metric",
    [STMT_DEPT_LIST] =
        "SELECT id,name,feeds,created_ns,measurements,sources FROM department"
        " ORDER BY id",
    [STMT_DEPT_FIND] = "SELECT id,feeds FROM department WHERE name=?1",
    [STMT_TOKEN_LIST] =
        "SELECT id,name,role,department_id,feeds,committee,created_ns,"
        "revoked_ns FROM token ORDER BY id",
    [STMT_AUDIT_LIST] =
        "SELECT id,ts_ns,who,action,object,reason,token_id FROM audit"
        " ORDER BY id DESC LIMIT ?1",
    [STMT_KV_GET] = "SELECT value FROM kv WHERE key=?1",
};

struct migration {
    const char *name;
    const char *sql;
    /* Code run after sql, in its transaction (a copy SQL cannot do in
     * bounded memory), or NULL: 0 or CB_ESTORE (logged). */
    int (*fn)(sqlite3 *db);
};


/* Adds a column unless the table has it already (a store whose
 * user_version was set back by hand, as tests do, keeps its columns). */
static int add_column(sqlite3 *db, const char *table, const char *column,
                      const char *decl)
{
    char sql[256];
    sqlite3_stmt *s;
    snprintf(sql, sizeof(sql),
             "SELECT 1 FROM pragma_table_info('%s') WHERE name='%s'", table,
             column);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL))
        return store__sqlerr(db, "table info");
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return store__sqlerr(db, "table info");
    snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", table,
             column, decl);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL))
        return store__sqlerr(db, "add column");
    return 0;
}

/* Migration 9: grants narrower than a feed (0 and '' keep an old
 * department's whole feeds), and the id of the token in the audit. */
static int add_grant_columns(sqlite3 *db)
{
    if (add_column(db, "department", "measurements",
                   "INTEGER NOT NULL DEFAULT 0") ||
        add_column(db, "department", "sources", "TEXT NOT NULL DEFAULT ''") ||
        add_column(db, "audit", "token_id", "INTEGER"))
        return CB_ESTORE;
    return 0;
}

/* migrations[i] takes the schema from version i to i + 1. */
static const struct migration migrations[] = {
    {"district model and feeds",
     "CREATE TABLE street(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
     "CREATE TABLE committee(id INTEGER PRIMARY KEY,"
     " street_id INTEGER NOT NULL, name TEXT NOT NULL,"
     " UNIQUE(street_id, name));"
     "CREATE TABLE building(id INTEGER PRIMARY KEY,"
     " committee_id INTEGER NOT NULL, name TEXT NOT NULL,"
     " UNIQUE(committee_id, name));"
     "CREATE TABLE household(id INTEGER PRIMARY KEY,"
     " household_id TEXT NOT NULL UNIQUE, street_id INTEGER,"
     " committee_id INTEGER, building_id INTEGER, address TEXT,"
     " address_key TEXT, lat REAL, lon REAL, area_m2 REAL, rooms INTEGER,"
     " registered_occupants INTEGER, flags INTEGER NOT NULL DEFAULT 0,"
     " updated_ns INTEGER NOT NULL);"
     "CREATE INDEX household_committee ON household(committee_id);"
     "CREATE TABLE reading(ts_ns INTEGER NOT NULL,"
     " household INTEGER NOT NULL, metric INTEGER NOT NULL,"
     " field INTEGER NOT NULL, value REAL NOT NULL,"
     " PRIMARY KEY(ts_ns, household, metric)) WITHOUT ROWID;"
     "CREATE TABLE delivery(order_id TEXT PRIMARY KEY,"
     " ts_ns INTEGER NOT NULL, household INTEGER, address TEXT,"
     " recipient TEXT, source TEXT) WITHOUT ROWID;"
     "CREATE INDEX delivery_ts ON delivery(ts_ns);"
     "CREATE TABLE event(source TEXT NOT NULL, event_id TEXT NOT NULL,"
     " type TEXT, ts_ns INTEGER NOT NULL, lat REAL, lon REAL,"
     " street_id INTEGER, street TEXT, attrs TEXT, sender TEXT,"
     " PRIMARY KEY(source, event_id)) WITHOUT ROWID;"
     "CREATE INDEX event_ts ON event(ts_ns);"
     "CREATE TABLE ingest_log(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
     " ts_ns INTEGER NOT NULL, feed INTEGER NOT NULL, n INTEGER NOT NULL,"
     " source TEXT, payload BLOB NOT NULL);"
     "CREATE TABLE consumer(name TEXT PRIMARY KEY, seq INTEGER NOT NULL);", NULL},
    {"roll-ups",
     "CREATE TABLE meter_state(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, first_ts_ns INTEGER, first_index REAL,"
     " last_ts_ns INTEGER, last_index REAL, flags INTEGER NOT NULL,"
     " resets INTEGER NOT NULL, replacements INTEGER NOT NULL,"
     " late INTEGER NOT NULL, grain_ns INTEGER NOT NULL,"
     " PRIMARY KEY(household, metric)) WITHOUT ROWID;"
     "CREATE TABLE usage_daily(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, day INTEGER NOT NULL, use REAL NOT NULL,"
     " n INTEGER NOT NULL, PRIMARY KEY(household, metric, day))"
     " WITHOUT ROWID;"
     "CREATE TABLE usage_hourly(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, hour INTEGER NOT NULL, use REAL NOT NULL,"
     " PRIMARY KEY(household, metric, hour)) WITHOUT ROWID;", NULL},
    {"departments, tokens, audit, settings",
     "CREATE TABLE department(id INTEGER PRIMARY KEY,"
     " name TEXT NOT NULL UNIQUE, feeds INTEGER NOT NULL,"
     " created_ns INTEGER NOT NULL);"
     "CREATE TABLE token(id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
     " name TEXT NOT NULL, role INTEGER NOT NULL, department_id INTEGER,"
     " feeds INTEGER NOT NULL DEFAULT 0, committee TEXT,"
     " created_ns INTEGER NOT NULL, revoked_ns INTEGER);"
     "CREATE TABLE audit(id INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL,"
     " who TEXT, action TEXT, object TEXT, reason TEXT);"
     "CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT);", NULL},
    {"tallies",
     "CREATE TABLE tally(name TEXT PRIMARY KEY, n INTEGER NOT NULL);"
     "CREATE TABLE delivery_source(source TEXT PRIMARY KEY,"
     " total INTEGER NOT NULL, unmatched INTEGER NOT NULL);", NULL},
    /* Roll-ups keyed by time first: each checkpoint then writes near the
     * end of the b-trees, as readings do; keyed by household first they
     * were rewritten all over the file and ingest slowed as they grew. */
    {"roll-ups keyed by time",
     "CREATE TABLE usage_daily_t(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, day INTEGER NOT NULL, use REAL NOT NULL,"
     " n INTEGER NOT NULL, PRIMARY KEY(day, household, metric))"
     " WITHOUT ROWID;"
     "INSERT INTO usage_daily_t SELECT household, metric, day, use, n"
     " FROM usage_daily;"
     "DROP TABLE usage_daily;"
     "ALTER TABLE usage_daily_t RENAME TO usage_daily;"
     "CREATE TABLE usage_hourly_t(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, hour INTEGER NOT NULL, use REAL NOT NULL,"
     " PRIMARY KEY(hour, household, metric)) WITHOUT ROWID;"
     "INSERT INTO usage_hourly_t SELECT household, metric, hour, use"
     " FROM usage_hourly;"
     "DROP TABLE usage_hourly;"
     "ALTER TABLE usage_hourly_t RENAME TO usage_hourly;", NULL},
    /* The roll-ups move to rollup.db (attached as "rollup" while this
     * runs; its own schema is migrated first), where the roll-up thread
     * writes them on its own connection.  The copy replaces what rollup.db
     * holds, so a crash between the two files' commits is redone cleanly.
     * consumer held only the roll-up's position: it moves too. */
    {"roll-ups in rollup.db",
     "DELETE FROM rollup.usage_daily;"
     "INSERT INTO rollup.usage_daily(household, metric, day, use, n)"
     " SELECT household, metric, day, use, n FROM main.usage_daily;"
     "DELETE FROM rollup.usage_hourly;"
     "INSERT INTO rollup.usage_hourly(household, metric, hour, use)"
     " SELECT household, metric, hour, use FROM main.usage_hourly;"
     "DELETE FROM rollup.meter_state;"
     "INSERT INTO rollup.meter_state SELECT household, metric, first_ts_ns,"
     " first_index, last_ts_ns, last_index, flags, resets, replacements,"
     " late, grain_ns FROM main.meter_state;"
     "DELETE FROM rollup.consumer;"
     "INSERT INTO rollup.consumer(name, seq)"
     " SELECT name, seq FROM main.consumer WHERE name='rollup';"
     "DROP TABLE main.usage_daily;"
     "DROP TABLE main.usage_hourly;"
     "DROP TABLE main.meter_state;"
     "DROP TABLE main.consumer;", NULL},
    /* Raw readings in blocks of (hour, 256 households), one row per group
     * commit (store_blocks.c): ingest appends rows instead of one b-tree
     * insert per reading.  store__blocks_migrate copies the old rows. */
    {"readings in blocks",
     "CREATE TABLE reading_block(id INTEGER PRIMARY KEY,"
     " hour INTEGER NOT NULL, block INTEGER NOT NULL, n INTEGER NOT NULL,"
     " data BLOB NOT NULL);"
     "CREATE INDEX reading_block_key ON reading_block(hour, block);",
     store__blocks_migrate},
    /* Orders: a bare id table for dedup, the orders themselves in blocks
     * of one batch and hour (store_orders.c); the time index goes. */
    {"orders in blocks",
     "CREATE TABLE delivery_order(order_id TEXT PRIMARY KEY) WITHOUT ROWID;"
     "CREATE TABLE delivery_block(id INTEGER PRIMARY KEY,"
     " hour INTEGER NOT NULL, n INTEGER NOT NULL, source TEXT,"
     " data BLOB NOT NULL);"
     "CREATE INDEX delivery_block_hour ON delivery_block(hour);",
     store__orders_migrate},
    /* Grants narrower than a feed; the audit names the token by id as
     * well as by its (not unique) name.  Old departments keep 0 and '':
     * all that their feeds allow. */
    {"department grants, audit token ids", "", add_grant_columns},
    /* The case loop (store_cases.c): one row per case, one per step.
     * IF NOT EXISTS: a store whose user_version was set back keeps them. */
    {"cases",
     "CREATE TABLE IF NOT EXISTS case_file(id INTEGER PRIMARY KEY,"
     " state TEXT NOT NULL, category TEXT NOT NULL,"
     " source_kind TEXT NOT NULL, source_ref TEXT NOT NULL DEFAULT '',"
     " household_id TEXT NOT NULL DEFAULT '',"
     " committee TEXT NOT NULL DEFAULT '', building TEXT NOT NULL DEFAULT '',"
     " address TEXT NOT NULL DEFAULT '', has_place INTEGER NOT NULL,"
     " lat REAL, lon REAL, unit_kind TEXT NOT NULL DEFAULT '',"
     " unit TEXT NOT NULL DEFAULT '', duplicate_of INTEGER NOT NULL DEFAULT 0,"
     " title TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL,"
     " updated_ns INTEGER NOT NULL, deadline_ns INTEGER NOT NULL DEFAULT 0,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " escalated_to TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX IF NOT EXISTS case_file_household ON case_file(household_id);"
     "CREATE INDEX IF NOT EXISTS case_file_category ON case_file(category, state);"
     "CREATE TABLE IF NOT EXISTS case_step(id INTEGER PRIMARY KEY,"
     " case_id INTEGER NOT NULL, ts_ns INTEGER NOT NULL,"
     " action TEXT NOT NULL, from_state TEXT NOT NULL,"
     " to_state TEXT NOT NULL, token_id INTEGER NOT NULL,"
     " who TEXT NOT NULL, role TEXT NOT NULL, reason TEXT NOT NULL);"
     "CREATE INDEX IF NOT EXISTS case_step_case ON case_step(case_id, id);"
     "CREATE TABLE IF NOT EXISTS case_visit(case_id INTEGER NOT NULL,"
     " visit_id TEXT NOT NULL, ts_ns INTEGER NOT NULL,"
     " outcome TEXT NOT NULL, headcount INTEGER, notes TEXT NOT NULL,"
     " token_id INTEGER NOT NULL, who TEXT NOT NULL,"
     " PRIMARY KEY(case_id, visit_id)) WITHOUT ROWID;",
     NULL},
    /* Past days of raw readings as compressed series blocks of (UTC day,
     * 64 households) (store_days.c).  The hourly rows of an older store
     * stay where they are; the writer compacts them day by day. */
    {"readings compacted by day",
     "CREATE TABLE IF NOT EXISTS reading_day(id INTEGER PRIMARY KEY,"
     " day INTEGER NOT NULL, block INTEGER NOT NULL, n INTEGER NOT NULL,"
     " data BLOB NOT NULL);"
     "CREATE UNIQUE INDEX IF NOT EXISTS reading_day_key ON reading_day(block, day);"
     "CREATE INDEX IF NOT EXISTS reading_day_time ON reading_day(day);",
     NULL},
    /* Photos of cases (store_photos.c): the metadata; the image is a file
     * under DATA/photos/ (src/photo/photo.h).  quota_unit names whose
     * quota a photo counts in.  And cases by source and time, for
     * Open311's public lists (store_scan_cases_by_source). */
    {"case photos, cases by source",
     "CREATE TABLE IF NOT EXISTS case_photo(id TEXT PRIMARY KEY,"
     " case_id INTEGER NOT NULL, visit_id TEXT NOT NULL DEFAULT '',"
     " content_type TEXT NOT NULL, bytes INTEGER NOT NULL,"
     " created_ns INTEGER NOT NULL, token_id INTEGER NOT NULL,"
     " who TEXT NOT NULL, quota_unit TEXT NOT NULL) WITHOUT ROWID;"
     "CREATE INDEX IF NOT EXISTS case_photo_case ON case_photo(case_id);"
     "CREATE INDEX IF NOT EXISTS case_photo_unit ON case_photo(quota_unit);"
     "CREATE INDEX IF NOT EXISTS case_file_source"
     " ON case_file(source_kind, created_ns);",
     NULL},
    /* The operators' actions on alerts (store_alerts.c): acknowledge,
     * assign, comment, suppress, and the engine's escalations. */
    {"alert actions",
     "CREATE TABLE IF NOT EXISTS alert_action(id INTEGER PRIMARY KEY,"
     " alert_id INTEGER NOT NULL, ts_ns INTEGER NOT NULL,"
     " action TEXT NOT NULL, token_id INTEGER NOT NULL, who TEXT NOT NULL,"
     " role TEXT NOT NULL, assignee TEXT NOT NULL DEFAULT '',"
     " text TEXT NOT NULL DEFAULT '', until_ns INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX IF NOT EXISTS alert_action_alert ON alert_action(alert_id, id);",
     NULL},
    /* Orders' ids: an 8-byte key (a hash of the id) and the hour whose
     * blocks hold the order, where a b-tree of whole id texts cost 27
     * bytes an order; delivery_order keeps the ids whose key is taken by
     * another id (store_orders.c).  store__orders_migrate_keys fills it. */
    {"order keys",
     "CREATE TABLE IF NOT EXISTS delivery_key(key INTEGER PRIMARY KEY,"
     " hour INTEGER NOT NULL);",
     store__orders_migrate_keys},
    /* Indicator points as blocks of 64 buckets per series (store_indic.c,
     * store_codec.h) where a row per point cost 25 to 40 bytes; an older
     * store's indic_point rows are moved into them.  The table text is
     * store_int.h's INDIC_BLOCK_TABLE as of this version. */
    {"indicator points in blocks",
     "CREATE TABLE IF NOT EXISTS indic_block(indicator TEXT NOT NULL,"
     " grp TEXT NOT NULL, start_ns INTEGER NOT NULL,"
     " first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,"
     " data BLOB NOT NULL, PRIMARY KEY(indicator, grp, start_ns))"
     " WITHOUT ROWID;",
     store__indic_migrate},
    /* Raw readings of low-rate blocks (daily meters) in blocks of 32 days
     * (store_days.c): a day row of a daily district's 64 households held
     * about 250 readings, a run each, and sat alone in a page.  day0 and
     * day1 are the first and last day with readings in the row (retention,
     * the newest day). */
    {"readings of low-rate blocks by period",
     "CREATE TABLE IF NOT EXISTS reading_period(id INTEGER PRIMARY KEY,"
     " period INTEGER NOT NULL, block INTEGER NOT NULL,"
     " day0 INTEGER NOT NULL, day1 INTEGER NOT NULL, n INTEGER NOT NULL,"
     " data BLOB NOT NULL);"
     "CREATE UNIQUE INDEX IF NOT EXISTS reading_period_key"
     " ON reading_period(block, period);"
     "CREATE INDEX IF NOT EXISTS reading_period_time"
     " ON reading_period(period, day0, day1);",
     NULL},
};

/* Pieces of rollup migration 2's text (history: never edit).  An epoch
 * hour's district day and its slot (hour) in that day, UTC+8. */
#define V2_SLOT(hour) "((" hour " + 8) % 24 + 24) % 24"
#define V2_DAY(hour) "(" hour " + 8 - " V2_SLOT(hour) ") / 24"
#define V2_COLUMN(h) ", h" #h " REAL"
#define V2_NAME(h) ", h" #h
#define V2_PARAM(h) ",?"
#define V2_PICK(h) " WHEN " #h " THEN u.h" #h
#define V2_ROW(h) ",(" #h ")"
#define V2_NEW(h) ", CASE s WHEN " #h " THEN NEW.use END"
#define V2_ADD(h)                                                              \
    ",h" #h "=coalesce(h" #h "+excluded.h" #h ",h" #h ",excluded.h" #h ")"
#define V2_CLEAR(h)                                                            \
    "CASE WHEN " V2_SLOT("OLD.hour") " = " #h " THEN NULL ELSE h" #h " END"
#define V2_CLEAR_NEXT(h) ", h" #h "=" V2_CLEAR(h)
#define V2_OLD_ROW                                                             \
    "day = " V2_DAY("OLD.hour") " AND household = OLD.household"              \
    " AND metric = OLD.metric"

static int v2_copy_hours(sqlite3 *db);
static int v4_pack_hours(sqlite3 *db);
static int v5_pack_days(sqlite3 *db);

/* rollup_migrations[i] takes rollup.db from version i to i + 1: the roll-up
 * thread's own file (see store_rollup.c). */
static const struct migration rollup_migrations[] = {
    {"roll-ups",
     "CREATE TABLE meter_state(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, first_ts_ns INTEGER, first_index REAL,"
     " last_ts_ns INTEGER, last_index REAL, flags INTEGER NOT NULL,"
     " resets INTEGER NOT NULL, replacements INTEGER NOT NULL,"
     " late INTEGER NOT NULL, grain_ns INTEGER NOT NULL,"
     " PRIMARY KEY(household, metric)) WITHOUT ROWID;"
     "CREATE TABLE usage_daily(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, day INTEGER NOT NULL, use REAL NOT NULL,"
     " n INTEGER NOT NULL, PRIMARY KEY(day, household, metric))"
     " WITHOUT ROWID;"
     "CREATE TABLE usage_hourly(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, hour INTEGER NOT NULL, use REAL NOT NULL,"
     " PRIMARY KEY(hour, household, metric)) WITHOUT ROWID;"
     "CREATE TABLE consumer(name TEXT PRIMARY KEY, seq INTEGER NOT NULL);", NULL},
    /* Hourly use in one row per meter and district day, a column per hour
     * (NULL: no use credited): a checkpoint writes one row where it wrote
     * up to 24, and an hourly meter cost a row per reading.  The old rows
     * are copied by v2_copy_hours (after this SQL).  usage_hourly stays,
     * as a view with the old rows, insertable and deletable like the old
     * table (for SQL that writes it; main migration 6 writes version 1's
     * table, see STORE_ROLLUP_MOVE_VERSION), not indexed by hour. */
    {"hourly use by day",
     "CREATE TABLE usage_hours(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, day INTEGER NOT NULL" EACH_HOUR(V2_COLUMN)
     ", PRIMARY KEY(day, household, metric)) WITHOUT ROWID;"
     "ALTER TABLE usage_hourly RENAME TO usage_hourly_v1;"
     "CREATE VIEW usage_hourly(household, metric, hour, use) AS"
     " SELECT household, metric, hour, use FROM"
     " (SELECT u.household AS household, u.metric AS metric,"
     " u.day * 24 - 8 + s.column1 AS hour,"
     " CASE s.column1" EACH_HOUR(V2_PICK) " END AS use"
     " FROM usage_hours AS u, (VALUES(0)" EACH_HOUR_BUT_0(V2_ROW) ") AS s)"
     " WHERE use IS NOT NULL;"
     "CREATE TRIGGER usage_hourly_insert INSTEAD OF INSERT ON usage_hourly"
     " BEGIN INSERT INTO usage_hours(household, metric, day"
     EACH_HOUR(V2_NAME) ") SELECT NEW.household, NEW.metric,"
     " (NEW.hour + 8 - s) / 24" EACH_HOUR(V2_NEW) " FROM (SELECT "
     V2_SLOT("NEW.hour") " AS s) WHERE 1"
     " ON CONFLICT(day, household, metric) DO UPDATE SET"
     " h0=coalesce(h0+excluded.h0,h0,excluded.h0)"
     EACH_HOUR_BUT_0(V2_ADD) "; END;"
     "CREATE TRIGGER usage_hourly_delete INSTEAD OF DELETE ON usage_hourly"
     " BEGIN UPDATE usage_hours SET h0=" V2_CLEAR(0)
     EACH_HOUR_BUT_0(V2_CLEAR_NEXT) " WHERE " V2_OLD_ROW ";"
     " DELETE FROM usage_hours WHERE " V2_OLD_ROW
     " AND coalesce(h0" EACH_HOUR_BUT_0(V2_NAME) ") IS NULL; END;",
     v2_copy_hours},
    /* Daily use of past district days in blocks of 32 days per meter
     * (block = day >> 5; format in store_int.h), compacted from usage_daily
     * by the roll-up (store_rollup.c): a row per meter and day cost ~24 B
     * a daily reading.  usage_daily keeps recent days and late rows.  The
     * view usage_daily_all is both tiers, a row per meter, day and tier
     * (sum them); it needs the cb_day_* functions of store connections. */
    {"daily use in blocks",
     "CREATE TABLE IF NOT EXISTS usage_daily_block(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, block INTEGER NOT NULL, data BLOB NOT NULL,"
     " PRIMARY KEY(block, household, metric)) WITHOUT ROWID;"
     "CREATE VIEW IF NOT EXISTS usage_daily_all(household, metric, day, use, n) AS"
     " SELECT household, metric, day, use, n FROM usage_daily UNION ALL"
     " SELECT b.household, b.metric, b.block * 32 + s.i,"
     " cb_day_use(b.data, s.i), cb_day_n(b.data, s.i)"
     " FROM usage_daily_block AS b, (WITH RECURSIVE r(i) AS (SELECT 0"
     " UNION ALL SELECT i + 1 FROM r WHERE i < 31) SELECT i FROM r) AS s"
     " WHERE cb_day_n(b.data, s.i) IS NOT NULL;",
     NULL},
    /* Hourly use compact: a meter-day's hours in one value (format:
     * store_codec.h) at the metric's resolution, where 24 REAL columns cost
     * about 200 B a row (8.7 B a reading of an hourly meter).  The old rows
     * are copied exact (raw doubles) by v4_pack_hours, which then replaces
     * usage_hours and usage_hourly by read-only views of the new table
     * (they need the store connections' SQL function cb_hour_use). */
    {"hourly use compact",
     "CREATE TABLE IF NOT EXISTS usage_hour_data(household INTEGER NOT NULL,"
     " metric INTEGER NOT NULL, day INTEGER NOT NULL, data BLOB NOT NULL,"
     " PRIMARY KEY(day, household, metric)) WITHOUT ROWID;",
     v4_pack_hours},
    /* Daily use blocks compact (format: codec_days_encode in
     * store_codec.h): use at the metric's resolution as varint deltas, n
     * once when every day has the same.  The roll-up now moves days into
     * blocks once they are two days old, not 40, so the blocks are per
     * meter and month as it goes.  The old blocks (exact doubles, 8 B a
     * day) are re-encoded raw, exact, by v5_pack_days; a late row added
     * to one rewrites it at the resolution. */
    {"daily use compact", "", v5_pack_days},
};

/* Rollup migration 4's views (history: never edit); usage_hourly takes
 * inserts and deletes as before (main migration 6's SQL writes it). */
#define V4_OLD_ROW                                                             \
    "day = " V2_DAY("OLD.hour") " AND household = OLD.household"              \
    " AND metric = OLD.metric"
#define V4_HOUR(h) ", cb_hour_use(data, " #h ") AS h" #h
#define V4_VIEWS                                                               \
    "DROP VIEW usage_hourly;"                                                  \
    "DROP TABLE usage_hours;"                                                  \
    "CREATE VIEW usage_hours(household, metric, day" EACH_HOUR(V2_NAME) ") AS" \
    " SELECT household, metric, day" EACH_HOUR(V4_HOUR)                        \
    " FROM usage_hour_data;"                                                   \
    "CREATE VIEW usage_hourly(household, metric, hour, use) AS"                \
    " SELECT household, metric, hour, use FROM"                                \
    " (SELECT u.household AS household, u.metric AS metric,"                   \
    " u.day * 24 - 8 + s.column1 AS hour,"                                     \
    " cb_hour_use(u.data, s.column1) AS use"                                   \
    " FROM usage_hour_data AS u, (VALUES(0)" EACH_HOUR_BUT_0(V2_ROW) ") AS s)" \
    " WHERE use IS NOT NULL;"                                                  \
    "CREATE TRIGGER usage_hourly_insert INSTEAD OF INSERT ON usage_hourly"     \
    " BEGIN INSERT INTO usage_hour_data(household, metric, day, data)"         \
    " VALUES(NEW.household, NEW.metric, " V2_DAY("NEW.hour") ","              \
    " cb_hours_one(" V2_SLOT("NEW.hour") ", NEW.use))"                         \
    " ON CONFLICT(day, household, metric) DO UPDATE SET"                       \
    " data=cb_hours_add(data, excluded.data); END;"                            \
    "CREATE TRIGGER usage_hourly_delete INSTEAD OF DELETE ON usage_hourly"     \
    " BEGIN DELETE FROM usage_hour_data WHERE " V4_OLD_ROW                     \
    " AND cb_hours_drop(data, " V2_SLOT("OLD.hour") ") IS NULL;"               \
    " UPDATE usage_hour_data SET data=cb_hours_drop(data, "                    \
    V2_SLOT("OLD.hour") ") WHERE " V4_OLD_ROW "; END;"
/* clang-format on */

#define N_ROLLUP_MIGRATIONS                                                    \
    ((int)(sizeof(rollup_migrations) / sizeof(rollup_migrations[0])))
/* The main migration that needs rollup.db attached. */
#define MIGRATION_ROLLUP_MOVE 5

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int store__sqlerr(sqlite3 *db, const char *op)
{
    int code = db ? sqlite3_extended_errcode(db) : -1;
    int sys = db ? sqlite3_system_errno(db) : 0;
    log_msg(LOG_ERROR, "store",
            "sqlite failed | op=%s rc=%d errno=%d err=\"%s\"", op, code, sys,
            db ? sqlite3_errmsg(db) : "no connection");
    if (code >= 0 && (code & 0xff) == SQLITE_FULL)
        return CB_ERRNO(ENOSPC);
    if (code >= 0 && sys > 0 &&
        ((code & 0xff) == SQLITE_IOERR || (code & 0xff) == SQLITE_CANTOPEN))
        return CB_ERRNO(sys);
    return CB_ESTORE;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *op)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
        return 0;
    log_msg(LOG_ERROR, "store", "sqlite failed | op=%s err=\"%s\"", op,
            err ? err : "?");
    sqlite3_free(err);
    return CB_ESTORE;
}

static int apply_pragmas(sqlite3 *db, int readonly,
                         const struct store_config *cfg)
{
    char sql[512];
    sqlite3_busy_timeout(db, 10000);
    if (readonly)
        return exec_sql(db,
                        "PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;"
                        "PRAGMA mmap_size=0; PRAGMA query_only=1;",
                        "reader pragmas");
    snprintf(sql, sizeof(sql),
             "PRAGMA auto_vacuum=INCREMENTAL;"
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
             "PRAGMA cache_size=-131072; PRAGMA temp_store=MEMORY;"
             "PRAGMA wal_autocheckpoint=8192;"
             "PRAGMA journal_size_limit=67108864;"
             "PRAGMA mmap_size=0;",
             cfg->sync_full ? "FULL" : "NORMAL");
    return exec_sql(db, sql, "writer pragmas");
}

int store__conn_open(struct store_conn *conn, const char *path, int readonly,
                     const struct store_config *cfg)
{
    int flags = SQLITE_OPEN_NOMUTEX |
                (readonly ? SQLITE_OPEN_READONLY
                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    memset(conn, 0, sizeof(*conn));
    if (sqlite3_open_v2(path, &conn->db, flags, NULL) != SQLITE_OK) {
        store__sqlerr(conn->db, "open");
        goto out_close;
    }
    if (apply_pragmas(conn->db, readonly, cfg) ||
        store__daily_block_functions(conn->db))
        goto out_close;
    return 0;
out_close:
    sqlite3_close(conn->db);
    conn->db = NULL;
    return CB_ESTORE;
}

void store__checkpoint_file(const char *path)
{
    sqlite3 *db = NULL;
    if (!path)
        return;
    /* free pages go back to the file system (a store made with
     * auto_vacuum=INCREMENTAL; an older one keeps them for reuse) */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_exec(db,
                     "PRAGMA incremental_vacuum;"
                     "PRAGMA wal_checkpoint(TRUNCATE)",
                     NULL, NULL, NULL) != SQLITE_OK)
        store__sqlerr(db, "checkpoint on close");
    sqlite3_close(db); /* the last connection: the -wal file goes too */
}

void store__conn_close(struct store_conn *conn)
{
    if (!conn->db)
        return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(conn->stmt[i]);
    if (sqlite3_close(conn->db) != SQLITE_OK)
        store__sqlerr(conn->db, "close");
    memset(conn, 0, sizeof(*conn));
}

int store__conn_set_sync(struct store_conn *conn, int full)
{
    /* main only: an attached file keeps its own level */
    return exec_sql(conn->db,
                    full ? "PRAGMA main.synchronous=FULL"
                         : "PRAGMA main.synchronous=NORMAL",
                    "synchronous");
}

int store__conn_sync_wal(struct store_conn *conn)
{
    sqlite3_file *wal = NULL;
    /* in WAL mode the "journal" is the -wal file, open from the first
     * transaction on; SQLite's own WAL syncs use SQLITE_SYNC_NORMAL */
    if (sqlite3_file_control(conn->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
                             &wal) != SQLITE_OK ||
        !wal || !wal->pMethods)
        return 0;
    int rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
    if (rc == SQLITE_OK)
        return 0;
    log_msg(LOG_ERROR, "store", "sqlite failed | op=sync wal rc=%d", rc);
    return CB_ESTORE;
}

sqlite3_stmt *store__stmt(struct store_conn *conn, enum store_stmt id)
{
    sqlite3_stmt *st = conn->stmt[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(conn->db, stmt_sql[id], -1,
                           SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        store__sqlerr(conn->db, "prepare");
        return NULL;
    }
    conn->stmt[id] = st;
    return st;
}

int store__exec_stmt(struct store_conn *conn, sqlite3_stmt *st, const char *op)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store__sqlerr(conn->db, op);
    return 0;
}

void store__bind_text(sqlite3_stmt *st, int col, const char *s)
{
    if (s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

static int user_version(sqlite3 *db, int *OUT_version)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL))
        return store__sqlerr(db, "user_version");
    int rc = sqlite3_step(st);
    *OUT_version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : store__sqlerr(db, "user_version");
}

static int migrate_step(sqlite3 *db, const struct migration *list, int from)
{
    char bump[64];
    if (exec_sql(db, "BEGIN IMMEDIATE", "migrate begin"))
        return CB_ESTORE;
    snprintf(bump, sizeof(bump), "PRAGMA user_version=%d", from + 1);
    if (exec_sql(db, list[from].sql, list[from].name) ||
        (list[from].fn && list[from].fn(db)) ||
        exec_sql(db, bump, "user_version bump") ||
        exec_sql(db, "COMMIT", "migrate commit")) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return CB_ESTORE;
    }
    log_msg(LOG_INFO, "store", "migrated | version=%d name=\"%s\"", from + 1,
            list[from].name);
    return 0;
}

/* ---- rollup migration 2's copy (history: never edit) ---- */

/* usage_hourly_v1 is keyed (hour, household, metric): the 24 hours of a
 * district day are 24 runs sorted by (household, metric).  Merging them
 * gives each meter's row of the day in usage_hours' key order: no sort,
 * memory for 24 rows, a plain insert per new row. */
struct v2_merge {
    sqlite3_stmt *run[24]; /* the rows of hour i of the day */
    int live[24];          /* run[i] is on a row */
    sqlite3_stmt *insert;
};

static int v2_step(sqlite3 *db, struct v2_merge *mg, int h)
{
    int rc = sqlite3_step(mg->run[h]);
    mg->live[h] = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : store__sqlerr(db, "read usage_hourly_v1");
}

/* The live run whose row has the smallest (household, metric), or -1. */
static int v2_first(const struct v2_merge *mg)
{
    int first = -1;
    for (int h = 0; h < 24; h++) {
        if (!mg->live[h])
            continue;
        sqlite3_int64 a = sqlite3_column_int64(mg->run[h], 0);
        int am = sqlite3_column_int(mg->run[h], 1);
        if (first < 0 || a < sqlite3_column_int64(mg->run[first], 0) ||
            (a == sqlite3_column_int64(mg->run[first], 0) &&
             am < sqlite3_column_int(mg->run[first], 1)))
            first = h;
    }
    return first;
}

/* Inserts the row of the meter under run[first]: its use in every run. */
static int v2_put_row(sqlite3 *db, struct v2_merge *mg, int64_t day, int first)
{
    sqlite3_int64 hh = sqlite3_column_int64(mg->run[first], 0);
    int metric = sqlite3_column_int(mg->run[first], 1);
    sqlite3_reset(mg->insert);
    sqlite3_clear_bindings(mg->insert);
    sqlite3_bind_int64(mg->insert, 1, hh);
    sqlite3_bind_int(mg->insert, 2, metric);
    sqlite3_bind_int64(mg->insert, 3, day);
    for (int h = 0; h < 24; h++) {
        if (!mg->live[h] || sqlite3_column_int64(mg->run[h], 0) != hh ||
            sqlite3_column_int(mg->run[h], 1) != metric)
            continue;
        sqlite3_bind_double(mg->insert, 4 + h,
                            sqlite3_column_double(mg->run[h], 2));
        if (v2_step(db, mg, h))
            return CB_ESTORE;
    }
    return sqlite3_step(mg->insert) == SQLITE_DONE
               ? 0
               : store__sqlerr(db, "insert usage_hours");
}

static int v2_copy_day(sqlite3 *db, struct v2_merge *mg, int64_t day)
{
    for (int h = 0; h < 24; h++) {
        sqlite3_reset(mg->run[h]);
        sqlite3_bind_int64(mg->run[h], 1, day * 24 - 8 + h);
        if (v2_step(db, mg, h))
            return CB_ESTORE;
    }
    for (int first; (first = v2_first(mg)) >= 0;)
        if (v2_put_row(db, mg, day, first))
            return CB_ESTORE;
    return 0;
}

/* The district days of the first and last hours of usage_hourly_v1;
 * 0 if it is empty. */
static int v2_days(sqlite3 *db, int64_t *OUT_lo, int64_t *OUT_hi)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT (min(hour) + 8 - " V2_SLOT(
                               "min(hour)") ") / 24, "
                                            "(max(hour) + 8 "
                                            "- " V2_SLOT("max(hour)") ")"
                                                                      " "
                                                                      "/"
                                                                      " "
                                                                      "2"
                                                                      "4"
                                                                      " "
                                                                      "F"
                                                                      "R"
                                                                      "O"
                                                                      "M"
                                                                      " "
                                                                      "u"
                                                                      "s"
                                                                      "a"
                                                                      "g"
                                                                      "e"
                                                                      "_"
                                                                      "h"
                                                                      "o"
                                                                      "u"
                                                                      "r"
                                                                      "l"
                                                                      "y"
                                                                      "_"
                                                                      "v"
                                                                      "1",
                           -1, &s, NULL))
        return store__sqlerr(db, "usage_hourly_v1 hours");
    int rc = sqlite3_step(s),
        any = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    *OUT_lo = any ? sqlite3_column_int64(s, 0) : 0;
    *OUT_hi = any ? sqlite3_column_int64(s, 1) : -1;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store__sqlerr(db, "usage_hourly_v1 hours");
}

static int v2_copy_hours(sqlite3 *db)
{
    struct v2_merge mg = {.insert = NULL};
    int64_t lo, hi;
    int rc = v2_days(db, &lo, &hi);
    for (int h = 0; h < 24 && !rc; h++)
        if (sqlite3_prepare_v2(db,
                               "SELECT household, metric, use FROM"
                               " usage_hourly_v1 WHERE hour=?1"
                               " ORDER BY household, metric",
                               -1, &mg.run[h], NULL))
            rc = store__sqlerr(db, "prepare usage_hourly_v1");
    if (!rc && sqlite3_prepare_v2(
                   db,
                   "INSERT INTO usage_hours(household, metric,"
                   " day" EACH_HOUR(V2_NAME) ") VALUES(?1,?2,"
                                             "?3" EACH_HOUR(V2_PARAM) ")",
                   -1, &mg.insert, NULL))
        rc = store__sqlerr(db, "prepare usage_hours");
    for (int64_t day = lo; day <= hi && !rc; day++)
        rc = v2_copy_day(db, &mg, day);
    for (int h = 0; h < 24; h++)
        sqlite3_finalize(mg.run[h]);
    sqlite3_finalize(mg.insert);
    return rc ? rc : exec_sql(db, "DROP TABLE usage_hourly_v1", "drop v1");
}

/* Copies one usage_hours row (household, metric, day, h0..h23), its hours
 * exact (raw), into usage_hour_data. */
static int v4_pack_row(sqlite3 *db, sqlite3_stmt *row, sqlite3_stmt *insert)
{
    struct codec_hours h = {.mask = 0};
    struct sbuf data;
    for (int i = 0; i < CODEC_HOURS; i++)
        if (sqlite3_column_type(row, 3 + i) != SQLITE_NULL) {
            h.mask |= 1u << i;
            h.use[i] = sqlite3_column_double(row, 3 + i);
        }
    if (!h.mask)
        return 0;
    sbuf_init(&data);
    codec_hours_encode(&data, &h, -1);
    for (int c = 0; c < 3; c++)
        sqlite3_bind_int64(insert, 1 + c, sqlite3_column_int64(row, c));
    sqlite3_bind_blob(insert, 4, data.buf, (int)data.len, SQLITE_TRANSIENT);
    sbuf_release(&data);
    int rc = sqlite3_step(insert);
    sqlite3_reset(insert);
    return rc == SQLITE_DONE ? 0 : store__sqlerr(db, "insert usage_hour_data");
}

/* 1 when usage_hours is still version 3's table (a store whose
 * user_version was set back, as tests do, has the views already). */
static int v4_hours_is_table(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int table = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE"
                           " name='usage_hours' AND type='table'",
                           -1, &s, NULL) == SQLITE_OK)
        table = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return table;
}

static int v4_pack_hours(sqlite3 *db)
{
    sqlite3_stmt *row = NULL, *insert = NULL;
    int rc = 0, step = SQLITE_DONE;
    if (!v4_hours_is_table(db))
        return 0;
    if (sqlite3_prepare_v2(
            db,
            "SELECT household, metric, day" EACH_HOUR(
                V2_NAME) " FROM usage_hours ORDER BY day, household, metric",
            -1, &row, NULL) ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO usage_hour_data(household, metric,"
                           " day, data) VALUES(?1,?2,?3,?4)",
                           -1, &insert, NULL))
        rc = store__sqlerr(db, "prepare hourly use compact");
    while (!rc && (step = sqlite3_step(row)) == SQLITE_ROW)
        rc = v4_pack_row(db, row, insert);
    if (!rc && step != SQLITE_DONE)
        rc = store__sqlerr(db, "read usage_hours");
    sqlite3_finalize(row);
    sqlite3_finalize(insert);
    return rc ? rc : exec_sql(db, V4_VIEWS, "hourly use views");
}

/* ---- rollup migration 5's re-encoding (history: never edit) ---- */

/* Rollup schema 3's block of daily use: a 4-byte little-endian mask, then
 * per set day a little-endian f64 use and an unsigned LEB128 n. */
static int v5_old_decode(const unsigned char *p, size_t len,
                         struct codec_days *OUT)
{
    memset(OUT, 0, sizeof(*OUT));
    if (!p || len < 4)
        return CB_EINVAL;
    const unsigned char *end = p + len;
    for (int i = 0; i < 4; i++)
        OUT->mask |= (uint32_t)p[i] << (8 * i);
    p += 4;
    for (int d = 0; d < CODEC_DAYS; d++) {
        if (!(OUT->mask >> d & 1))
            continue;
        if (end - p < 9)
            return CB_EINVAL;
        uint64_t u = 0, n = 0;
        for (int i = 0; i < 8; i++)
            u |= (uint64_t)p[i] << (8 * i);
        memcpy(&OUT->use[d], &u, sizeof(u));
        p += 8;
        for (int shift = 0;; shift += 7) {
            if (p == end || shift > 63)
                return CB_EINVAL;
            unsigned char c = *p++;
            n |= (uint64_t)(c & 0x7f) << shift;
            if (!(c & 0x80))
                break;
        }
        OUT->n[d] = n;
    }
    return p == end ? 0 : CB_EINVAL;
}

/* cb_v5_days(old): the block in the new format, raw (exact); an
 * unreadable old block stays as it was (readers skip it, the roll-up
 * replaces it when a late row comes, both as before). */
static void v5_days_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct codec_days d;
    struct sbuf out;
    if (v5_old_decode(sqlite3_value_blob(argv[0]),
                      (size_t)sqlite3_value_bytes(argv[0]), &d)) {
        sqlite3_result_value(cx, argv[0]);
        return;
    }
    sbuf_init(&out);
    codec_days_encode(&out, &d, -1);
    sqlite3_result_blob(cx, out.buf, (int)out.len, SQLITE_TRANSIENT);
    sbuf_release(&out);
}

static int v5_pack_days(sqlite3 *db)
{
    int rc = 0;
    if (sqlite3_create_function(db, "cb_v5_days", 1, SQLITE_UTF8, NULL,
                                v5_days_fn, NULL, NULL))
        return store__sqlerr(db, "register cb_v5_days");
    rc = exec_sql(db, "UPDATE usage_daily_block SET data=cb_v5_days(data)",
                  "daily use compact");
    sqlite3_create_function(db, "cb_v5_days", 1, SQLITE_UTF8, NULL, NULL, NULL,
                            NULL);
    return rc;
}

/* Runs list's migrations from the file's version up to target (<= n). */
static int migrate_list(sqlite3 *db, const struct migration *list, int n,
                        int target, const char *file, const char *rollup_path)
{
    int version;
    if (user_version(db, &version))
        return CB_ESTORE;
    if (version > n) {
        log_msg(LOG_ERROR, "store",
                "database is newer than this program | file=%s version=%d"
                " known=%d",
                file, version, n);
        return CB_ESTORE;
    }
    for (int v = version; v < target; v++) {
        int attach = rollup_path && v == MIGRATION_ROLLUP_MOVE;
        if (attach && store__attach_rollup(db, rollup_path, 0))
            return CB_ESTORE;
        int rc = migrate_step(db, list, v);
        if (attach)
            exec_sql(db, "DETACH DATABASE rollup", "detach rollup");
        if (rc)
            return CB_ESTORE;
    }
    return 0;
}

int store__attach_rollup(sqlite3 *db, const char *rollup_path, int reader)
{
    char *sql = sqlite3_mprintf("ATTACH DATABASE %Q AS rollup", rollup_path);
    int rc = exec_sql(db, sql, "attach rollup");
    sqlite3_free(sql);
    if (!rc && reader)
        rc = exec_sql(db,
                      "PRAGMA rollup.cache_size=-16384;"
                      "PRAGMA rollup.mmap_size=0;",
                      "rollup reader pragmas");
    return rc;
}

int store__migrate(struct store_conn *conn, const char *rollup_path)
{
    return migrate_list(conn->db, migrations, N_MIGRATIONS, N_MIGRATIONS,
                        "citybrain.db", rollup_path);
}

int store__migrate_rollup(struct store_conn *conn, int max_version)
{
    int target =
        max_version < N_ROLLUP_MIGRATIONS ? max_version : N_ROLLUP_MIGRATIONS;
    return migrate_list(conn->db, rollup_migrations, N_ROLLUP_MIGRATIONS,
                        target, "rollup.db", NULL);
}

int store__schema_version(void)
{
    return N_MIGRATIONS;
}

int store__rollup_schema_version(void)
{
    return N_ROLLUP_MIGRATIONS;
}
