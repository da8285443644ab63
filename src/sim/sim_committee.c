/*
 * sim_committee.c - citybrain committee-sim: simulated residents'
 * committee workers who visit their tasks and report what the simulated
 * district's hidden truth holds, through the HTTP API, like a phone.
 *
 *   citybrain committee-sim --truth DIR [--url URL] [--token-file ADMIN]
 *       [--workers N] [--seed S] [--no-access P] [--wrong P]
 *       [--median-h H] [--urgent-median-h H] [--sigma S]
 *       [--verify yes|no] [--verify-median-h H] [--catch P]
 *       [--poll-ms MS] [--report FILE]
 *
 * DIR is what `citybrain simulate` wrote (truth/households.csv and
 * manifest.json).  The admin token plays the world, not a person: it
 * reads the district clock, lists the dispatched cases to know which
 * committees have work, and makes (and at exit revokes) one committee
 * token per simulated worker, N per committee (default 2), plus one
 * supervisor token (first revoking any an earlier run left valid).  Every
 * visit is reported by a worker with its own token, after that worker's
 * GET /api/v1/tasks shows the case.
 *
 * The model (docs/SIMULATOR.md, "The committee simulator"), driven by the
 * district clock (GET /api/v1/admin/clock), so it moves as fast as the
 * loader streams:
 *
 *   what                        distribution                   default
 *   --------------------------  -----------------------------  ----------
 *   a visit after a dispatch,   lognormal, median H, sigma S,  8 h, 0.8
 *    a no-access or a rework    in working hours (Mon-Fri
 *                               09:00-18:00 district time)
 *   an elderly case's visit     lognormal, median H, sigma S,  2 h, 0.8
 *                               in calendar hours (urgent)
 *   no access                   each visit, independently      15%
 *   a wrong report              each visit with access:        5%
 *                               confirmed <-> not_found
 *   the supervisor's check      lognormal, median 2 working h  verify
 *    of a fed-back case         a wrong report is caught and   50%
 *                               sent back (rework)
 *
 * What is true: a group-rental case is confirmed when the truth's type is
 * group_rental; an elderly case when the elder has stopped (event "stop",
 * started before the visit); otherwise not_found.  Cases of other kinds
 * are left alone (the simulator knows nothing about them).  Each case's
 * draws come from a generator seeded by (seed, case id, visit number), so
 * a run is repeatable for the same cases and the same clock steps.
 *
 * Output: progress on stderr with case ids only; at exit a JSON summary
 * on stdout; with --report, one JSON line per visit (case, household,
 * worker, outcome, the truth, whether the report was wrong).
 */
#include "sim/sim.h"
#include "sim/sim_int.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "clock/clock.h"
#include "util/jsonw.h"
#include "util/util.h"

/* Streams of this simulator's generators (beyond sim_int.h's). */
enum { CSIM_STREAM_DELAY = 9001, CSIM_STREAM_OUTCOME, CSIM_STREAM_VERIFY };

struct csim_opts {
    const char *dir, *url, *token_file, *report;
    int workers, verify, poll_ms;
    uint64_t seed;
    double no_access, wrong, median_h, urgent_h, sigma, verify_h, catch_p;
};

/* One household's truth, as much as a visit needs. */
struct csim_truth {
    char id[24];
    int group_rental;
    int stop;          /* the elder stops (event "stop") */
    int64_t stop_from; /* epoch s */
    int occupants;
};

struct csim_worker {
    char committee[260];
    char token[128];
    long long token_id;
    struct client *c;
    int tasks_fresh; /* its task list was read this step */
    long long *tasks;
    size_t n_tasks;
};

enum csim_phase { PH_WAIT, PH_REPORTED, PH_DONE };

struct csim_case {
    long long id;
    char household[24];
    int elderly;
    int worker;
    int64_t due_s, verify_due_s;
    int visits;
    enum csim_phase phase;
    int wrong, seen;
};

struct csim {
    struct csim_opts o;
    int tz_minutes;
    struct client *admin, *supervisor;
    long long supervisor_id;
    struct csim_truth *truth;
    size_t n_truth;
    struct csim_worker *workers;
    size_t n_workers;
    struct csim_case *cases;
    size_t n_cases;
    FILE *report;
    long visits, confirmed, not_found, no_access, wrong, verified, reworked;
};

static volatile sig_atomic_t csim_stop;

static void on_stop(int sig)
{
    (void)sig;
    csim_stop = 1;
}

static int cmp_truth(const void *a, const void *b)
{
    return strcmp(((const struct csim_truth *)a)->id,
                  ((const struct csim_truth *)b)->id);
}

static const struct csim_truth *truth_find(struct csim *s, const char *id)
{
    struct csim_truth key;
    snprintf(key.id, sizeof(key.id), "%s", id);
    return bsearch(&key, s->truth, s->n_truth, sizeof(key), cmp_truth);
}

/* The index of column name in a CSV header line, or -1. */
static int column(const char *header, const char *name)
{
    int i = 0;
    size_t n = strlen(name);
    for (const char *p = header; *p; i++) {
        size_t len = strcspn(p, ",\r\n");
        if (len == n && !strncmp(p, name, n))
            return i;
        p += len;
        if (*p != ',')
            break;
        p++;
    }
    return -1;
}

/* Splits line at commas in place into f[0..max-1]; returns the count. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        f[n++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = '\0';
    }
    return n;
}

static void truth_add(struct csim *s, char **f, const int *col, size_t *cap)
{
    if (s->n_truth == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        s->truth = xrealloc(s->truth, *cap * sizeof(*s->truth));
    }
    struct csim_truth *t = &s->truth[s->n_truth++];
    int64_t ns;
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", f[col[0]]);
    t->group_rental = !strcmp(f[col[1]], "group_rental");
    t->occupants = atoi(f[col[2]]);
    t->stop = !strcmp(f[col[3]], "stop");
    if (t->stop && !time_parse_iso(f[col[4]], strlen(f[col[4]]), &ns, NULL))
        t->stop_from = ns / 1000000000;
}

/* Reads DIR/truth/households.csv; 0 or CB_EIO/CB_EINVAL (said). */
static int truth_load(struct csim *s)
{
    static const char *names[] = {"household_id", "type", "true_occupants",
                                  "event", "event_start"};
    char path[4096], *line = NULL, *f[32];
    size_t len = 0, cap = 0;
    int col[5], rc = 0;
    snprintf(path, sizeof(path), "%s/truth/households.csv", s->o.dir);
    FILE *in = fopen(path, "r");
    if (!in || getline(&line, &len, in) <= 0) {
        fprintf(stderr, "error: committee-sim: cannot read '%s'\n", path);
        rc = CB_EIO;
        goto out;
    }
    for (int i = 0; i < 5; i++)
        if ((col[i] = column(line, names[i])) < 0 || col[i] >= 32) {
            fprintf(stderr, "error: committee-sim: '%s' has no column '%s'\n",
                    path, names[i]);
            rc = CB_EINVAL;
            goto out;
        }
    while (getline(&line, &len, in) > 0)
        if (split(line, f, 32) > col[4])
            truth_add(s, f, col, &cap);
    qsort(s->truth, s->n_truth, sizeof(*s->truth), cmp_truth);
out:
    if (in)
        fclose(in);
    free(line);
    return rc;
}

/* The district's UTC offset from DIR/manifest.json (default +08:00). */
static void read_timezone(struct csim *s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.json", s->o.dir);
    json_t *m = json_load_file(path, 0, NULL);
    const char *tz = json_string_value(json_object_get(m, "timezone"));
    s->tz_minutes = 8 * 60;
    if (tz)
        dclock_tz_parse(tz, &s->tz_minutes);
    json_decref(m);
}

int64_t sim_working_hours_add(int64_t t, double hours, int tz_minutes)
{
    const int64_t open = 9 * 3600, close = 18 * 3600;
    int64_t left = (int64_t)(hours * 3600);
    while (left > 0) {
        int64_t local = t + (int64_t)tz_minutes * 60;
        int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
        int64_t sod = local - day * 86400;
        int wday = (int)(((day + 4) % 7 + 7) % 7); /* 0: Sunday */
        if (wday == 0 || wday == 6 || sod >= close) {
            t += 86400 - sod + open;
            continue;
        }
        if (sod < open) {
            t += open - sod;
            continue;
        }
        if (left <= close - sod)
            return t + left;
        left -= close - sod;
        t += close - sod;
    }
    return t;
}

/* A lognormal delay with the given median (hours). */
static double draw_hours(struct csim *s, uint64_t stream, long long id, int n,
                         double median)
{
    struct sim_rng r;
    sim_rng_seed(&r, s->o.seed, stream, (uint64_t)id, (uint64_t)n);
    return median * sim_rng_lognormal(&r, s->o.sigma);
}

/* When the next visit of e comes, from now. */
static void schedule(struct csim *s, struct csim_case *e, int64_t now)
{
    double h = draw_hours(s, CSIM_STREAM_DELAY, e->id, e->visits,
                          e->elderly ? s->o.urgent_h : s->o.median_h);
    e->due_s = e->elderly ? now + (int64_t)(h * 3600)
                          : sim_working_hours_add(now, h, s->tz_minutes);
    e->phase = PH_WAIT;
    e->verify_due_s = 0;
}

/* GETs path as JSON; NULL (said) when it cannot. */
static json_t *get_json(struct client *c, const char *path)
{
    return client_get_json(c, path, "committee-sim");
}

/* Makes a token (role, committee may be NULL) through the API; its client
 * or NULL (said). */
static struct client *mint(struct csim *s, const char *name, const char *role,
                           const char *committee, char *OUT_token, size_t cap,
                           long long *OUT_id)
{
    struct sbuf body = SBUF_INIT;
    struct jsonw w;
    int status;
    sbuf_init(&body);
    jsonw_init(&w, &body);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "name", name);
    jsonw_kv_str(&w, "role", role);
    if (committee)
        jsonw_kv_str(&w, "committee", committee);
    jsonw_object_end(&w);
    json_t *j = client_post_json(s->admin, "/api/v1/tokens", &body, &status);
    sbuf_release(&body);
    const char *tok = json_string_value(json_object_get(j, "token"));
    struct client *c = NULL;
    if (tok && strlen(tok) < cap) {
        snprintf(OUT_token, cap, "%s", tok);
        *OUT_id = (long long)json_integer_value(json_object_get(j, "id"));
        c = client_new(s->o.url, tok);
    } else {
        fprintf(stderr, "committee-sim: cannot make a %s token: HTTP %d\n",
                role, status);
    }
    json_decref(j);
    return c;
}

/* The worker of committee for case id (its workers are made on first
 * need); -1 when no token could be made. */
static int worker_for(struct csim *s, const char *committee, long long id)
{
    size_t first = s->n_workers;
    for (size_t i = 0; i < s->n_workers; i++)
        if (!strcmp(s->workers[i].committee, committee)) {
            first = i;
            break;
        }
    if (first == s->n_workers) {
        s->workers =
            xrealloc(s->workers, (s->n_workers + (size_t)s->o.workers) *
                                     sizeof(*s->workers));
        for (int k = 0; k < s->o.workers; k++) {
            struct csim_worker *w = &s->workers[s->n_workers];
            char name[320];
            memset(w, 0, sizeof(*w));
            snprintf(w->committee, sizeof(w->committee), "%s", committee);
            snprintf(name, sizeof(name), "sim-worker-%d %s", k + 1, committee);
            w->c = mint(s, name, "committee", committee, w->token,
                        sizeof(w->token), &w->token_id);
            if (!w->c) { /* none of the committee's, or all */
                for (; s->n_workers > first; s->n_workers--)
                    client_free(s->workers[s->n_workers - 1].c);
                return -1;
            }
            s->n_workers++;
        }
    }
    return (int)(first + (size_t)(id % s->o.workers));
}

static struct csim_case *case_find(struct csim *s, long long id)
{
    for (size_t i = 0; i < s->n_cases; i++)
        if (s->cases[i].id == id)
            return &s->cases[i];
    return NULL;
}

/* The entry of case c (a JSON case of the admin's list) when it is one
 * this simulator visits: a committee's group-rental or elderly case of a
 * household in the truth.  A case not seen before gets a new entry
 * (*OUT_new = 1; its phase is the caller's to set); NULL when it is not
 * one of those, or its worker's token cannot be made. */
static struct csim_case *case_adopt(struct csim *s, json_t *c, int *OUT_new)
{
    long long id = (long long)json_integer_value(json_object_get(c, "id"));
    const char *kind = json_string_value(json_object_get(c, "source_kind"));
    const char *h = json_string_value(json_object_get(c, "household_id"));
    const char *unit_kind = json_string_value(json_object_get(c, "unit_kind"));
    const char *unit = json_string_value(json_object_get(c, "unit"));
    *OUT_new = 0;
    if (!kind || !h || !unit || !unit_kind || strcmp(unit_kind, "committee") ||
        (strcmp(kind, "group_rental") && strcmp(kind, "elderly")) ||
        !truth_find(s, h))
        return NULL;
    struct csim_case *e = case_find(s, id);
    if (e)
        return e;
    int w = worker_for(s, unit, id);
    if (w < 0)
        return NULL;
    s->cases = xrealloc(s->cases, (s->n_cases + 1) * sizeof(*s->cases));
    e = &s->cases[s->n_cases++];
    memset(e, 0, sizeof(*e));
    e->id = id;
    snprintf(e->household, sizeof(e->household), "%s", h);
    e->elderly = !strcmp(kind, "elderly");
    e->worker = w;
    *OUT_new = 1;
    return e;
}

/* A dispatched case seen in the admin's list: new, or back (reworked). */
static void case_seen(struct csim *s, json_t *c, int64_t now)
{
    int fresh;
    struct csim_case *e = case_adopt(s, c, &fresh);
    if (!e)
        return;
    if (fresh || e->phase != PH_WAIT)
        schedule(s, e, now); /* new, or reworked: a revisit */
    e->seen = 1;
}

static void sync_dispatched(struct csim *s, int64_t now)
{
    json_t *j =
        get_json(s->admin, "/api/v1/cases?state=dispatched&limit=10000");
    json_t *c;
    size_t i;
    if (!j)
        return;
    for (size_t k = 0; k < s->n_cases; k++)
        s->cases[k].seen = 0;
    json_array_foreach(j, i, c) case_seen(s, c, now);
    /* gone from the committees' lists (escalated elsewhere, voided) */
    for (size_t k = 0; k < s->n_cases; k++)
        if (s->cases[k].phase == PH_WAIT && !s->cases[k].seen)
            s->cases[k].phase = PH_DONE;
    json_decref(j);
}

/* Whether worker w's task list (read once a step, as a phone would
 * refresh it) shows case id: 1 or 0; -1 when it cannot be read. */
static int worker_sees(struct csim *s, struct csim_worker *w, long long id)
{
    if (!w->tasks_fresh) {
        json_t *j = get_json(w->c, "/api/v1/tasks"), *t;
        size_t i;
        if (!json_is_array(j)) {
            json_decref(j);
            return -1;
        }
        w->n_tasks = 0;
        w->tasks =
            xrealloc(w->tasks, (json_array_size(j) + 1) * sizeof(*w->tasks));
        json_array_foreach(j, i, t) w->tasks[w->n_tasks++] =
            (long long)json_integer_value(json_object_get(t, "case_id"));
        json_decref(j);
        w->tasks_fresh = 1;
    }
    for (size_t i = 0; i < w->n_tasks; i++)
        if (w->tasks[i] == id)
            return 1;
    return 0;
}

/* No answer or a server error: worth another try. */
static int transient(int status)
{
    return status == 0 || status >= 500;
}

static const char *true_outcome(const struct csim_truth *t, int elderly,
                                int64_t now)
{
    if (elderly)
        return t->stop && t->stop_from <= now ? "confirmed" : "not_found";
    return t->group_rental ? "confirmed" : "not_found";
}

static void report_line(struct csim *s, const struct csim_case *e,
                        const char *visit_id, const char *outcome,
                        const char *truth, int wrong, int64_t now)
{
    struct sbuf line = SBUF_INIT;
    struct jsonw w;
    if (!s->report)
        return;
    sbuf_init(&line);
    jsonw_init(&w, &line);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "case_id", e->id);
    jsonw_kv_str(&w, "household_id", e->household);
    jsonw_kv_str(&w, "kind", e->elderly ? "elderly" : "group_rental");
    jsonw_kv_str(&w, "committee", s->workers[e->worker].committee);
    jsonw_kv_int(&w, "worker_token_id", s->workers[e->worker].token_id);
    jsonw_kv_str(&w, "visit_id", visit_id);
    jsonw_kv_str(&w, "outcome", outcome);
    jsonw_kv_str(&w, "truth", truth);
    jsonw_kv_bool(&w, "wrong", wrong);
    jsonw_kv_int(&w, "at", now);
    jsonw_object_end(&w);
    fprintf(s->report, "%s\n", line.buf);
    fflush(s->report);
    sbuf_release(&line);
}

/* Draws what the visit of e finds; OUT_wrong: the report is wrong. */
static const char *draw_outcome(struct csim *s, const struct csim_case *e,
                                const char *truth, int *OUT_wrong)
{
    struct sim_rng r;
    sim_rng_seed(&r, s->o.seed, CSIM_STREAM_OUTCOME, (uint64_t)e->id,
                 (uint64_t)e->visits);
    double u_access = sim_rng_unit(&r), u_wrong = sim_rng_unit(&r);
    *OUT_wrong = 0;
    if (u_access < s->o.no_access)
        return "no_access";
    if (u_wrong < s->o.wrong) {
        *OUT_wrong = 1;
        return strcmp(truth, "confirmed") ? "confirmed" : "not_found";
    }
    return truth;
}

static void tally(struct csim *s, const char *outcome, int wrong)
{
    s->visits++;
    s->wrong += wrong;
    if (!strcmp(outcome, "confirmed"))
        s->confirmed++;
    else if (!strcmp(outcome, "not_found"))
        s->not_found++;
    else
        s->no_access++;
}

/* The worker of e visits now and reports through the API. */
static void visit(struct csim *s, struct csim_case *e, int64_t now)
{
    struct csim_worker *w = &s->workers[e->worker];
    const struct csim_truth *t = truth_find(s, e->household);
    char visit_id[64], path[96];
    int wrong, status;
    int sees = worker_sees(s, w, e->id);
    if (sees <= 0) {
        if (sees == 0)
            e->phase = PH_DONE; /* no longer its task */
        return;                 /* else: try again next step */
    }
    const char *truth = true_outcome(t, e->elderly, now);
    const char *outcome = draw_outcome(s, e, truth, &wrong);
    snprintf(visit_id, sizeof(visit_id), "SIM-%llu-%lld-%d",
             (unsigned long long)s->o.seed, e->id, e->visits + 1);
    struct sbuf body = SBUF_INIT;
    struct jsonw jw;
    sbuf_init(&body);
    jsonw_init(&jw, &body);
    jsonw_object_begin(&jw);
    jsonw_kv_str(&jw, "visit_id", visit_id);
    jsonw_kv_str(&jw, "outcome", outcome);
    if (strcmp(outcome, "no_access") && !wrong)
        jsonw_kv_int(&jw, "headcount", t->occupants);
    jsonw_kv_str(&jw, "notes", "模拟走访 (committee-sim)");
    jsonw_object_end(&jw);
    snprintf(path, sizeof(path), "/api/v1/cases/%lld/visits", e->id);
    json_t *j = client_post_json(w->c, path, &body, &status);
    sbuf_release(&body);
    if (!j) {
        fprintf(stderr, "committee-sim: case %lld: visit refused: HTTP %d\n",
                e->id, status);
        if (transient(status))
            return; /* the next step tries again */
        e->phase = PH_DONE;
        return;
    }
    json_decref(j);
    e->visits++;
    tally(s, outcome, wrong);
    report_line(s, e, visit_id, outcome, truth, wrong, now);
    fprintf(stderr, "committee-sim: case %lld visited: %s%s\n", e->id, outcome,
            wrong ? " (a wrong report)" : "");
    if (!strcmp(outcome, "no_access")) {
        schedule(s, e, now); /* the server rescheduled it; go again */
    } else {
        e->phase = PH_REPORTED;
        e->wrong = wrong;
    }
}

/* The simulated supervisor checks a fed-back case: verify, or rework a
 * wrong report it catches. */
static void supervise(struct csim *s, struct csim_case *e)
{
    struct sim_rng r;
    char path[96];
    int status;
    sim_rng_seed(&r, s->o.seed, CSIM_STREAM_VERIFY, (uint64_t)e->id,
                 (uint64_t)e->visits);
    int rework = e->wrong && sim_rng_unit(&r) < s->o.catch_p;
    struct sbuf body = SBUF_INIT;
    struct jsonw w;
    sbuf_init(&body);
    jsonw_init(&w, &body);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "action", rework ? "rework" : "verify");
    jsonw_kv_str(&w, "reason",
                 rework ? "spot check: the report is wrong"
                        : "spot check: as reported");
    jsonw_object_end(&w);
    snprintf(path, sizeof(path), "/api/v1/cases/%lld/transitions", e->id);
    json_t *j = client_post_json(s->supervisor, path, &body, &status);
    sbuf_release(&body);
    if (j) {
        rework ? s->reworked++ : s->verified++;
        fprintf(stderr, "committee-sim: case %lld %s\n", e->id,
                rework ? "reworked" : "verified");
    }
    json_decref(j);
    if (!j && transient(status))
        return;         /* checked again next step */
    e->phase = PH_DONE; /* a rework shows up dispatched again */
    e->verify_due_s = 0;
}

/* Fed-back cases of the kinds this simulator visits get a supervisor's
 * check (also those fed back before this run). */
static void sync_fed_back(struct csim *s, int64_t now)
{
    json_t *j = get_json(s->admin, "/api/v1/cases?state=fed_back&limit=10000");
    json_t *c;
    size_t i;
    json_array_foreach(j, i, c)
    {
        int fresh;
        struct csim_case *e = case_adopt(s, c, &fresh);
        if (e && fresh)
            e->phase = PH_REPORTED; /* fed back before this run */
        if (!e || e->phase != PH_REPORTED || e->verify_due_s)
            continue;
        e->verify_due_s = sim_working_hours_add(
            now,
            draw_hours(s, CSIM_STREAM_VERIFY, e->id, e->visits, s->o.verify_h),
            s->tz_minutes);
    }
    json_decref(j);
}

/* One step at district time now. */
static void step(struct csim *s, int64_t now)
{
    for (size_t i = 0; i < s->n_workers; i++)
        s->workers[i].tasks_fresh = 0;
    sync_dispatched(s, now);
    for (size_t i = 0; i < s->n_cases && !csim_stop; i++)
        if (s->cases[i].phase == PH_WAIT && s->cases[i].due_s <= now)
            visit(s, &s->cases[i], now);
    if (!s->o.verify)
        return;
    sync_fed_back(s, now);
    for (size_t i = 0; i < s->n_cases && !csim_stop; i++)
        if (s->cases[i].phase == PH_REPORTED && s->cases[i].verify_due_s &&
            s->cases[i].verify_due_s <= now)
            supervise(s, &s->cases[i]);
}

/* The district clock (epoch seconds), or -1. */
static int64_t district_now(struct csim *s)
{
    json_t *j = get_json(s->admin, "/api/v1/admin/clock");
    int64_t now =
        j ? (int64_t)json_integer_value(json_object_get(j, "now_s")) : -1;
    json_decref(j);
    return now > 0 ? now : -1;
}

static int parse_num(const char *k, const char *v, struct csim_opts *o)
{
    struct {
        const char *flag;
        double *to, lo, hi;
    } nums[] = {{"--no-access", &o->no_access, 0, 1},
                {"--wrong", &o->wrong, 0, 1},
                {"--catch", &o->catch_p, 0, 1},
                {"--median-h", &o->median_h, 0.01, 1000},
                {"--urgent-median-h", &o->urgent_h, 0.01, 1000},
                {"--verify-median-h", &o->verify_h, 0.01, 1000},
                {"--sigma", &o->sigma, 0, 3}};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (!strcmp(k, nums[i].flag)) {
            char *end;
            double d = strtod(v, &end);
            if (*end || end == v || d < nums[i].lo || d > nums[i].hi) {
                fprintf(stderr, "error: committee-sim: %s '%s': not in %g-%g\n",
                        k, v, nums[i].lo, nums[i].hi);
                return -1;
            }
            *nums[i].to = d;
            return 0;
        }
    fprintf(stderr, "error: committee-sim: unknown option '%s'\n", k);
    return -1;
}

static int parse_opt(const char *k, const char *v, struct csim_opts *o)
{
    if (!strcmp(k, "--truth"))
        o->dir = v;
    else if (!strcmp(k, "--url"))
        o->url = v;
    else if (!strcmp(k, "--token-file"))
        o->token_file = v;
    else if (!strcmp(k, "--report"))
        o->report = v;
    else if (!strcmp(k, "--workers"))
        o->workers = atoi(v);
    else if (!strcmp(k, "--poll-ms"))
        o->poll_ms = atoi(v);
    else if (!strcmp(k, "--seed"))
        o->seed = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--verify") && (!strcmp(v, "yes") || !strcmp(v, "no")))
        o->verify = !strcmp(v, "yes");
    else
        return parse_num(k, v, o);
    return 0;
}

static int parse_opts(int argc, char **argv, struct csim_opts *o)
{
    *o = (struct csim_opts){.url = "http://127.0.0.1:8080",
                            .token_file = "citybrain-data/admin.token",
                            .workers = 2,
                            .verify = 1,
                            .poll_ms = 500,
                            .seed = 1,
                            .no_access = 0.15,
                            .wrong = 0.05,
                            .median_h = 8,
                            .urgent_h = 2,
                            .sigma = 0.8,
                            .verify_h = 2,
                            .catch_p = 0.5};
    if (argc % 2) {
        fprintf(stderr, "error: committee-sim: options come in pairs\n");
        return -1;
    }
    for (int i = 0; i < argc; i += 2)
        if (parse_opt(argv[i], argv[i + 1], o))
            return -1;
    if (!o->dir || o->workers < 1 || o->workers > 20 || o->poll_ms < 10) {
        fprintf(stderr, "error: usage: citybrain committee-sim --truth DIR "
                        "[--url URL] [--token-file ADMIN] [--workers 1-20] "
                        "[--poll-ms >= 10] (see docs/SIMULATOR.md)\n");
        return -1;
    }
    return 0;
}

static void print_summary(struct csim *s)
{
    struct sbuf out = SBUF_INIT;
    struct jsonw w;
    sbuf_init(&out);
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "cases", (int64_t)s->n_cases);
    jsonw_kv_int(&w, "workers", (int64_t)s->n_workers);
    jsonw_kv_int(&w, "visits", s->visits);
    jsonw_kv_int(&w, "confirmed", s->confirmed);
    jsonw_kv_int(&w, "not_found", s->not_found);
    jsonw_kv_int(&w, "no_access", s->no_access);
    jsonw_kv_int(&w, "wrong", s->wrong);
    jsonw_kv_int(&w, "verified", s->verified);
    jsonw_kv_int(&w, "reworked", s->reworked);
    jsonw_object_end(&w);
    printf("%s\n", out.buf);
    fflush(stdout);
    sbuf_release(&out);
}

/* Revokes the tokens this run made (a lost phone, revoked alone). */
static void revoke_all(struct csim *s)
{
    char path[64];
    int status;
    for (size_t i = 0; i < s->n_workers; i++) {
        snprintf(path, sizeof(path), "/api/v1/tokens/%lld",
                 s->workers[i].token_id);
        client_delete(s->admin, path, &status);
        client_free(s->workers[i].c);
        free(s->workers[i].tasks);
    }
    if (s->supervisor) {
        snprintf(path, sizeof(path), "/api/v1/tokens/%lld", s->supervisor_id);
        client_delete(s->admin, path, &status);
        client_free(s->supervisor);
    }
}

/* Revokes the tokens an earlier run left valid (it was stopped with the
 * server, before it could revoke them). */
static void revoke_leftovers(struct csim *s)
{
    json_t *j = get_json(s->admin, "/api/v1/tokens"), *t;
    size_t i;
    char path[64];
    int status;
    json_array_foreach(j, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name || !json_is_null(json_object_get(t, "revoked")) ||
            (strncmp(name, "sim-worker-", 11) &&
             strcmp(name, "sim-supervisor")))
            continue;
        snprintf(path, sizeof(path), "/api/v1/tokens/%lld",
                 (long long)json_integer_value(json_object_get(t, "id")));
        client_delete(s->admin, path, &status);
    }
    json_decref(j);
}

static int read_admin_token(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f || !fgets(out, (int)cap, f)) {
        fprintf(stderr, "error: cannot read the token from '%s'\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static void run(struct csim *s)
{
    int64_t last = -1;
    while (!csim_stop) {
        int64_t now = district_now(s);
        if (now > last) { /* the district clock moved: act */
            step(s, now);
            last = now;
        }
        for (int t = 0; t < s->o.poll_ms / 10 && !csim_stop; t++)
            nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
}

int sim_committee_main(int argc, char **argv)
{
    struct csim s;
    char admin[256], sup[128];
    memset(&s, 0, sizeof(s));
    if (parse_opts(argc, argv, &s.o))
        return 2;
    if (read_admin_token(s.o.token_file, admin, sizeof(admin)) ||
        truth_load(&s))
        return 1;
    read_timezone(&s);
    if (s.o.report && !(s.report = fopen(s.o.report, "w"))) {
        fprintf(stderr, "error: committee-sim: cannot write '%s'\n",
                s.o.report);
        return 1;
    }
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    s.admin = client_new(s.o.url, admin);
    revoke_leftovers(&s);
    if (s.o.verify)
        s.supervisor = mint(&s, "sim-supervisor", "supervisor", NULL, sup,
                            sizeof(sup), &s.supervisor_id);
    if (!s.o.verify || s.supervisor)
        run(&s);
    revoke_all(&s);
    print_summary(&s);
    client_free(s.admin);
    if (s.report)
        fclose(s.report);
    free(s.truth);
    free(s.workers);
    free(s.cases);
    return 0;
}
