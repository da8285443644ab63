/*
 * test_scene_elderly_sim.c - the elderly-alone scene on districts made by
 * `citybrain simulate`, with daily and with hourly water, played hour by
 * hour against the simulator's truth.
 *
 * The harness feeds the registry, then the water readings of the flagged
 * elders in time order (with the daily use they add up to), moving the
 * as-of time one hour at a time, and reads the alerts at every hour.  It
 * asserts, for each grain (SCENE_ELDERLY_SEED: another district):
 *   - every registered elder whose water stopped (truth event "stop") at
 *     least 36 h (daily) or 13 h (hourly) before the end is alerted, and
 *     within that many hours of the stop;
 *   - no elder away with family (event "travel") is alerted while away,
 *     when the trip began after a week of data (the fade before a trip
 *     can only be seen against days before it);
 *   - the alerts at 08:00 and at 22:00 of each day are consistent: every
 *     alert of the morning is still an alert in the evening (the water of
 *     a stop does not come back), and the silent list does not swell at
 *     night (a daily meter read at midnight is not silent at 22:00);
 *   - every alert carries usual_m3_per_day;
 *   - a stop's alert, once raised, stays open at every later hour until
 *     the stop's end in the truth file;
 *   - after a restart (the engine freed and a new one made from the state
 *     file, the registry and the last day of readings, as the server
 *     does), the open alerts and their quiet-since times are unchanged.
 * A third test runs both grains on seed 12 (trips whose wind-down shows
 * mostly in the last 2 days).  Skipped when build/citybrain is missing.
 */
#include "test_scene_sim.h"

#define HOUSEHOLDS "2000"
#define DAYS "21"

struct elder_truth {
    int32_t h;
    int event;          /* 0 none, 1 stop, 2 travel */
    int64_t start, end; /* epoch s; end 0: none */
};

struct water {
    int64_t ts;
    struct reading r;
    char id[16];
};

struct elderly_run {
    struct scene_engine *eng;
    struct water *w;
    size_t n_w;
    struct elder_truth *truth;
    size_t n_truth;
    int64_t t0, t_end; /* first and last reading */
};

static int cmp_water(const void *a, const void *b)
{
    const struct water *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int64_t iso_to_epoch(const char *s)
{
    int y, mo, d, hh, mm, ss;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &hh, &mm, &ss) != 6)
        return 0;
    return time_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
           hh * 3600 + mm * 60 + ss - 8 * 3600;
}

/* Water readings of the flagged elders, sorted by time. */
static void collect_water(struct elderly_run *run, struct harness *hs,
                          const char *dir, int flagged_only)
{
    gzFile f = open_feed(dir, "readings.lp");
    assert_non_null(f);
    size_t cap = 1 << 16;
    run->w = malloc(cap * sizeof(*run->w));
    char *buf = malloc(CHUNK);
    size_t have = 0;
    for (;;) {
        int got = gzread(f, buf + have, (unsigned)(CHUNK - have));
        have += (size_t)(got > 0 ? got : 0);
        size_t cut = have;
        while (got > 0 && cut > 0 && buf[cut - 1] != '\n')
            cut--;
        if (cut == 0)
            break;
        struct ingest_batch b;
        ingest_batch_init(&b, FEED_READINGS);
        ingest_parse_lineproto(buf, cut, PRECISION_S, 10000000, &b);
        for (size_t i = 0; i < b.n; i++) {
            struct reading *r = &b.readings[i];
            if (r->metric != METRIC_WATER)
                continue;
            int32_t h = scene_engine_household(hs->eng, r->household_id);
            if (h < 0 || (flagged_only && !hs->fault[h]))
                continue;
            if (run->n_w == cap)
                run->w = realloc(run->w, (cap *= 2) * sizeof(*run->w));
            struct water *w = &run->w[run->n_w++];
            w->r = *r;
            w->r.household = h;
            w->ts = r->ts_ns / 1000000000;
            snprintf(w->id, sizeof(w->id), "%s", r->household_id);
            w->r.household_id = NULL;
        }
        ingest_batch_release(&b);
        memmove(buf, buf + cut, have - cut);
        have -= cut;
    }
    free(buf);
    gzclose(f);
    qsort(run->w, run->n_w, sizeof(*run->w), cmp_water);
    run->t0 = run->w[0].ts;
    run->t_end = run->w[run->n_w - 1].ts;
}

/* Registered elders (flag elderly_alone) and their truth events; marks
 * them in hs->fault (reused as "watched"). */
static void collect_elders(struct elderly_run *run, struct harness *hs,
                           const char *dir)
{
    char path[512], line[4096];
    snprintf(path, sizeof(path), "%s/households.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    memset(hs->fault, 0, hs->n * sizeof(int));
    while (fgets(line, sizeof(line), f)) {
        char *comma = strchr(line, ',');
        if (!comma || !strstr(line, "elderly_alone"))
            continue;
        *comma = '\0';
        int32_t h = scene_engine_household(hs->eng, line);
        if (h >= 0)
            hs->fault[h] = 1;
    }
    fclose(f);
    snprintf(path, sizeof(path), "%s/truth/households.csv", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    run->truth = calloc(hs->n, sizeof(*run->truth));
    while (fgets(line, sizeof(line), f)) {
        char *field[16];
        int n = 0;
        for (char *p = line; n < 16 && p;) {
            field[n++] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = '\0';
        }
        if (n < 11)
            continue;
        int32_t h = scene_engine_household(hs->eng, field[0]);
        if (h < 0 || !hs->fault[h])
            continue;
        struct elder_truth *t = &run->truth[run->n_truth++];
        t->h = h;
        t->event = strcmp(field[8], "stop") == 0     ? 1
                   : strcmp(field[8], "travel") == 0 ? 2
                                                     : 0;
        t->start = iso_to_epoch(field[9]);
        t->end = iso_to_epoch(field[10]);
    }
    fclose(f);
}

/* Feeds the readings up to time t (from *next on), with their daily use. */
static void feed_until(struct harness *hs, struct elderly_run *run,
                       size_t *next, int64_t t)
{
    for (; *next < run->n_w && run->w[*next].ts <= t; (*next)++) {
        struct water *w = &run->w[*next];
        w->r.household_id = w->id;
        apply_reading(hs, &w->r);
    }
    scene_engine_set_as_of(run->eng, t);
    scene_engine_rescore(run->eng, 0);
}

static int alerted(const char *json, const char *id)
{
    const char *alerts = strstr(json, "\"alerts\":[");
    const char *end = strstr(json, "],\"suppressed\"");
    char key[40];
    snprintf(key, sizeof(key), "\"household_id\":\"%s\"", id);
    const char *p = alerts ? strstr(alerts, key) : NULL;
    return p && p < end;
}

static size_t count_in(const char *json, const char *list)
{
    char key[40];
    snprintf(key, sizeof(key), "\"%s\":[", list);
    const char *p = strstr(json, key), *end;
    size_t n = 0;
    if (!p)
        return 0;
    end = strchr(p, ']');
    for (p = strstr(p, "{\"household_id\""); p && p < end;
         p = strstr(p + 1, "{\"household_id\""))
        n++;
    return n;
}

static char *alerts_json(struct scene_engine *eng)
{
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(scene_elderly_alerts_json(eng, NULL, NULL, &sb), 0);
    return sb.buf;
}

/* The alerts' ids and quiet-since times, for comparing across a restart. */
static void alert_keys(const char *json, struct sbuf *out)
{
    const char *end = strstr(json, "],\"suppressed\"");
    for (const char *p = strstr(json, "\"alerts\":["); p && p < end;) {
        const char *id = strstr(p, "\"household_id\":\"");
        const char *since = id ? strstr(id, "\"quiet_since\":\"") : NULL;
        if (!id || id > end || !since)
            break;
        sbuf_add(out, id + 16, 8);
        sbuf_add(out, since + 15, 25);
        sbuf_addch(out, ';');
        p = since + 1;
    }
}

static void run_grain_seed(const char *grain, double max_delay_h,
                           const char *seed)
{
    char args[256];
    snprintf(args, sizeof(args),
             "--households " HOUSEHOLDS " --days " DAYS
             " --seed %s --water-grain %s",
             seed, grain);
    char *dir = sim_make(args);
    char state_dir[] = "/tmp/test_elderly_XXXXXX";
    assert_non_null(mkdtemp(state_dir));
    char state[600];
    snprintf(state, sizeof(state), "%s/elderly.state", state_dir);
    struct scene_config cfg;
    scene_config_defaults(&cfg);
    cfg.elderly_path = state;
    struct harness hs;
    memset(&hs, 0, sizeof(hs));
    assert_int_equal(scene_engine_new(&cfg, &hs.eng), 0);
    load_registry(&hs, dir);
    struct elderly_run run = {.eng = hs.eng};
    collect_elders(&run, &hs, dir);
    collect_water(&run, &hs, dir, 1);
    size_t next = 0, stops = 0, late = 0, away_alerted = 0, no_usual = 0;
    size_t within36 = 0, quiet_alerted = 0; /* elders with no event */
    size_t dropped = 0; /* hours a stop's alert was closed again */
    uint8_t *counted = calloc(hs.n, 1);
    int64_t *first_alert = calloc(hs.n, sizeof(int64_t));
    char *morning = NULL;
    size_t silent_morning = 0, inconsistent = 0, swollen = 0;
    int64_t t_stop = run.t_end - 36 * 3600;              /* restart point */
    t_stop -= ((t_stop + 8 * 3600) % 86400) - 15 * 3600; /* 15:00 local */
    struct sbuf before = SBUF_INIT;
    for (int64_t t = run.t0 + 3600; t <= t_stop; t += 3600) {
        feed_until(&hs, &run, &next, t);
        char *json = alerts_json(hs.eng);
        for (size_t i = 0; i < run.n_truth; i++) {
            const char *id = scene_engine_household_id(hs.eng, run.truth[i].h);
            if (!alerted(json, id)) {
                /* until a stop's water returns, its alert stays open */
                dropped += run.truth[i].event == 1 &&
                           first_alert[run.truth[i].h] >= run.truth[i].start &&
                           (!run.truth[i].end || t < run.truth[i].end);
                continue;
            }
            if (!first_alert[run.truth[i].h] &&
                (run.truth[i].event != 1 || t >= run.truth[i].start))
                first_alert[run.truth[i].h] = t; /* a stop's: after it */
            if (run.truth[i].event == 0 && !counted[run.truth[i].h]) {
                counted[run.truth[i].h] = 1;
                quiet_alerted++;
            }
            if (run.truth[i].event == 2 && t >= run.truth[i].start &&
                run.truth[i].start >= run.t0 + 7 * 86400 &&
                (!run.truth[i].end || t < run.truth[i].end)) {
                if (getenv("ELDERLY_DEBUG"))
                    printf("# away %s at %lld (left %lld): %.400s\n", id,
                           (long long)t, (long long)run.truth[i].start,
                           strstr(json, id) - 16);
                away_alerted++;
            }
        }
        for (const char *p = strstr(json, "\"alerts\":[");
             p && (p = strstr(p, "{\"household_id\"")) &&
             p < strstr(json, "],\"suppressed\"");
             p++)
            no_usual += !strstr(p, "\"usual_m3_per_day\":") ||
                        strstr(p, "\"usual_m3_per_day\":") > strstr(p + 1, "}");
        int local_hour = (int)(((t + 8 * 3600) % 86400) / 3600);
        if (local_hour == 8) {
            free(morning);
            morning = strdup(json);
            silent_morning = count_in(json, "silent");
        } else if (local_hour == 22 && morning) {
            for (size_t i = 0; i < run.n_truth; i++) {
                const char *id =
                    scene_engine_household_id(hs.eng, run.truth[i].h);
                inconsistent += alerted(morning, id) && !alerted(json, id) &&
                                run.truth[i].event == 1;
            }
            swollen += count_in(json, "silent") > silent_morning + 2;
            if (getenv("ELDERLY_DEBUG"))
                printf("# silent 08:00 %zu 22:00 %zu: %.600s\n", silent_morning,
                       count_in(json, "silent"), strstr(json, "\"silent\":["));
        }
        if (t + 3600 > t_stop)
            alert_keys(json, &before);
        free(json);
    }
    for (size_t i = 0; i < run.n_truth; i++) {
        const struct elder_truth *e = &run.truth[i];
        if (e->event != 1 || e->start + max_delay_h * 3600 > t_stop)
            continue;
        stops++;
        int64_t at = first_alert[e->h];
        late += !at || at - e->start > max_delay_h * 3600;
        within36 += at && at - e->start <= 36 * 3600;
        if (!at || at - e->start > max_delay_h * 3600)
            printf("# %s: stop at %lld alerted at %lld\n",
                   scene_engine_household_id(hs.eng, e->h), (long long)e->start,
                   (long long)at);
    }
    printf("# elderly, %s water: %zu registered elders, %zu stops due, %zu "
           "not alerted within %.0f h (%zu alerted within 36 h); %zu "
           "alert-hours while away; %zu "
           "stops alerted at 08:00 but not 22:00; %zu nights the silent list "
           "swelled; %zu alerts without usual use; %zu elders without a "
           "stop or trip alerted at some hour; %zu hours a stop's alert "
           "was closed again\n",
           grain, run.n_truth, stops, late, max_delay_h, within36, away_alerted,
           inconsistent, swollen, no_usual, quiet_alerted, dropped);
    free(counted);
    /* restart: a new engine from the state file, the registry, the last
     * 30 days of daily use and the last day of readings */
    scene_engine_free(hs.eng);
    struct harness hs2;
    memset(&hs2, 0, sizeof(hs2));
    assert_int_equal(scene_engine_new(&cfg, &hs2.eng), 0);
    load_registry(&hs2, dir);
    memcpy(hs2.fault, hs.fault, hs.n * sizeof(int));
    run.eng = hs2.eng;
    for (size_t i = 0; i < next; i++) { /* daily use as usage_daily has */
        struct water *w = &run.w[i];
        w->r.household_id = w->id;
        apply_reading_to(&hs2, &w->r, w->ts > t_stop - 24 * 3600);
    } /* ... and readings of the last day only, as the store replays */
    scene_engine_set_as_of(hs2.eng, t_stop);
    scene_engine_rescore(hs2.eng, 1);
    char *json = alerts_json(hs2.eng);
    struct sbuf after = SBUF_INIT;
    alert_keys(json, &after);
    printf("# restart: alerts before %s\n#          after  %s\n", before.buf,
           after.buf);
    assert_string_equal(before.buf, after.buf);
    free(json);
    assert_true(stops >= 1);
    assert_int_equal(late, 0);
    assert_int_equal(away_alerted, 0);
    assert_int_equal(inconsistent, 0);
    assert_int_equal(swollen, 0);
    assert_int_equal(no_usual, 0);
    assert_int_equal(dropped, 0);
    sbuf_release(&before);
    sbuf_release(&after);
    free(morning);
    free(first_alert);
    free(run.w);
    free(run.truth);
    hs.eng = NULL;
    harness_release(&hs2);
    free(hs.type);
    free(hs.fault);
    free(hs.over);
    free(hs.occupants);
    free(hs.last_index);
    free(hs.last_ts);
    unlink(state);
    rmdir(state_dir);
    sim_remove(dir);
}

static void run_grain(const char *grain, double max_delay_h)
{
    const char *seed = getenv("SCENE_ELDERLY_SEED");
    run_grain_seed(grain, max_delay_h, seed && *seed ? seed : "11");
}

/* Seed 12: trips whose wind-down shows mostly in the 2 days before, and
 * (before the simulator's fix) elders on a weekend away the truth file
 * did not name (docs/SCENES.md). */
static void test_elderly_seed12(void **state)
{
    (void)state;
    if (access("build/citybrain", X_OK) != 0)
        skip();
    run_grain_seed("1d", 36, "12");
    run_grain_seed("1h", 13, "12");
}

static void test_elderly_daily(void **state)
{
    (void)state;
    if (access("build/citybrain", X_OK) != 0)
        skip();
    run_grain("1d", 36);
}

static void test_elderly_hourly(void **state)
{
    (void)state;
    if (access("build/citybrain", X_OK) != 0)
        skip();
    run_grain("1h", 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elderly_daily),
        cmocka_unit_test(test_elderly_hourly),
        cmocka_unit_test(test_elderly_seed12),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
