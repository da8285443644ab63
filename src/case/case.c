/* case.c - the case lifecycle, routing and duplicates (case.h). */
#include "case/case.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "util/jsonw.h"

#define R(r) (1u << (r))
#define LEADS (R(ROLE_SHIFT_LEAD) | R(ROLE_ADMIN))
#define HANDLERS (R(ROLE_COMMITTEE) | R(ROLE_DEPARTMENT))

/* The transition table (case.h shows it). */
static const struct transition {
    const char *from, *action, *to;
    unsigned roles; /* bit per enum role; HANDLERS only on their own */
} transitions[] = {
    {"collected", "check", "second_check", R(ROLE_CALL_TAKER) | LEADS},
    {"second_check", "register", "registered", R(ROLE_CALL_TAKER) | LEADS},
    {"collected", "void", "void", R(ROLE_CALL_TAKER) | LEADS},
    {"second_check", "void", "void", R(ROLE_CALL_TAKER) | LEADS},
    {"registered", "void", "void", R(ROLE_CALL_TAKER) | LEADS},
    {"registered", "dispatch", "dispatched", R(ROLE_DISPATCHER) | LEADS},
    {"dispatched", "handle", "handled", HANDLERS | LEADS},
    {"handled", "feed_back", "fed_back", HANDLERS | LEADS},
    {"fed_back", "verify", "closed", R(ROLE_SUPERVISOR) | LEADS},
    {"fed_back", "rework", "dispatched", R(ROLE_SUPERVISOR) | LEADS},
    {"closed", "evaluate", "evaluated", LEADS},
    {"closed", "reopen", "registered", R(ROLE_SUPERVISOR) | LEADS},
    {"evaluated", "reopen", "registered", R(ROLE_SUPERVISOR) | LEADS},
};
#define N_TRANSITIONS (sizeof(transitions) / sizeof(transitions[0]))

static const char *const source_kinds[] = {
    "group_rental", "elderly", "event", "alert", "manual", "open311"};

static case_publish_fn publisher;
static void *publisher_ctx;

void case_set_publisher(case_publish_fn fn, void *ctx)
{
    publisher = fn;
    publisher_ctx = ctx;
}

int case_source_kind_valid(const char *s)
{
    for (size_t i = 0; s && i < sizeof(source_kinds) / sizeof(*source_kinds);
         i++)
        if (!strcmp(s, source_kinds[i]))
            return 1;
    return 0;
}

static int is_open(const char *state)
{
    return strcmp(state, "closed") && strcmp(state, "evaluated") &&
           strcmp(state, "void");
}

int case_visible(struct store *st, const struct token_info *who,
                 const struct case_row *c)
{
    int64_t id;
    uint32_t feeds;
    if (who->role == ROLE_PUBLISHER || who->role == ROLE_CITIZEN_APP)
        return 0;
    if (who->role == ROLE_COMMITTEE)
        return !strcmp(c->unit_kind, "committee") &&
               !strcmp(c->unit, who->committee);
    if (who->role == ROLE_DEPARTMENT)
        return !strcmp(c->unit_kind, "department") &&
               !store_department_find(st, c->unit, &id, &feeds) &&
               id == who->department_id;
    return 1;
}

static void publish(struct store *st, const struct case_row *c)
{
    if (!publisher)
        return;
    struct sbuf out;
    sbuf_init(&out);
    if (!case_event_json(st, c, &out))
        publisher(publisher_ctx, "case", out.buf,
                  !strcmp(c->unit_kind, "committee") && *c->unit ? c->unit
                                                                 : NULL);
    sbuf_release(&out);
}

/* Metres between two positions (equirectangular: fine at 50 m). */
static double distance_m(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = M_PI / 180.0, earth = 6371000.0;
    double x = (lon2 - lon1) * rad * cos((lat1 + lat2) * rad / 2);
    double y = (lat2 - lat1) * rad;
    return sqrt(x * x + y * y) * earth;
}

struct near_ctx {
    const struct case_row *c;
    double radius_m, best_m;
    int64_t best_id;
};

static void near_fn(void *ctx, const struct case_row *o)
{
    struct near_ctx *n = ctx;
    if (!o->has_place)
        return;
    double d = distance_m(n->c->lat, n->c->lon, o->lat, o->lon);
    if (d <= n->radius_m && d < n->best_m) {
        n->best_m = d;
        n->best_id = o->id;
    }
}

struct first_ctx {
    struct case_row *out;
    int found;
};

static void first_fn(void *ctx, const struct case_row *o)
{
    struct first_ctx *f = ctx;
    if (!f->found)
        *f->out = *o;
    f->found = 1;
}

/* Fills c's place from in (a household's from the registry). */
static int case_place(struct store *st, const struct case_new *in,
                      struct case_row *c)
{
    if (in->household_id && *in->household_id) {
        if (strlen(in->household_id) >= sizeof(c->household_id))
            return CB_EINVAL;
        snprintf(c->household_id, sizeof(c->household_id), "%s",
                 in->household_id);
        return store_case_household_place(st, in->household_id, c);
    }
    c->has_place = in->has_place;
    c->lat = in->lat;
    c->lon = in->lon;
    return 0;
}

static int check_new(const struct case_new *in)
{
    if (!in->category || !*in->category ||
        strlen(in->category) >= sizeof(((struct case_row *)0)->category) ||
        !case_source_kind_valid(in->source_kind) ||
        (in->source_ref && strlen(in->source_ref) >= 128) ||
        (in->title && strlen(in->title) >= 256))
        return CB_EINVAL;
    if (in->has_place && (fabs(in->lat) > 90 || fabs(in->lon) > 180))
        return CB_EINVAL;
    return 0;
}

/* An open case about the same household: *OUT is it, returns 1. */
static int household_duplicate(struct store *st, const char *household_id,
                               struct case_row *OUT)
{
    struct case_filter f = {.household_id = household_id, .open_only = 1};
    struct first_ctx fc = {OUT, 0};
    if (!household_id || !*household_id)
        return 0;
    if (store_scan_cases(st, &f, first_fn, &fc))
        return 0;
    return fc.found;
}

int case_create(struct store *st, const struct config *cfg,
                const struct token_info *who, const struct case_new *in,
                struct case_row *OUT, int *OUT_duplicate)
{
    int rc = check_new(in);
    *OUT_duplicate = 0;
    if (rc)
        return rc;
    if (household_duplicate(st, in->household_id, OUT)) {
        *OUT_duplicate = 1;
        return 0;
    }
    struct case_row c = {0};
    if ((rc = case_place(st, in, &c)))
        return rc;
    snprintf(c.state, sizeof(c.state), "collected");
    snprintf(c.category, sizeof(c.category), "%s", in->category);
    snprintf(c.source_kind, sizeof(c.source_kind), "%s", in->source_kind);
    snprintf(c.source_ref, sizeof(c.source_ref), "%s",
             in->source_ref ? in->source_ref : "");
    snprintf(c.title, sizeof(c.title), "%s", in->title ? in->title : "");
    c.created_ns = c.updated_ns = dclock_now_ns();
    c.deadline_ns = case_step_deadline(cfg, c.category, c.state, c.created_ns);
    if (c.has_place && !*c.household_id) {
        struct case_filter f = {.category = c.category, .open_only = 1};
        struct near_ctx n = {&c, cfg->case_duplicate_m, INFINITY, 0};
        if ((rc = store_scan_cases(st, &f, near_fn, &n)))
            return rc;
        c.duplicate_of = n.best_id;
    }
    struct case_step first = {c.created_ns,         "collect", "",
                              "collected",          who->id,   who->name,
                              role_name(who->role), in->reason};
    if ((rc = store_case_insert(st, &c, &first, &c.id)))
        return rc;
    *OUT = c;
    publish(st, OUT);
    return 0;
}

static const struct transition *find_transition(const char *state,
                                                const char *action)
{
    for (size_t i = 0; i < N_TRANSITIONS; i++)
        if (!strcmp(transitions[i].from, state) &&
            !strcmp(transitions[i].action, action))
            return &transitions[i];
    return NULL;
}

static int action_known(const char *action)
{
    for (size_t i = 0; i < N_TRANSITIONS; i++)
        if (!strcmp(transitions[i].action, action))
            return 1;
    return 0;
}

/* Looks up the department of category in "CAT=DEPT,..": 0 or
 * CB_ENOTFOUND. */
static int route_department(const char *routes, const char *category, char *out,
                            size_t cap)
{
    size_t n = strlen(category);
    for (const char *p = routes; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n + 1 && !strncmp(p, category, n) && p[n] == '=') {
            snprintf(out, cap, "%.*s", (int)(len - n - 1), p + n + 1);
            return 0;
        }
        p = end ? end + 1 : NULL;
    }
    return CB_ENOTFOUND;
}

/* Routes c: its household's committee, else its category's department. */
static int case_route(struct store *st, const struct config *cfg,
                      struct case_row *c)
{
    char dept[STORE_NAME_MAX + 1];
    if (*c->household_id && *c->committee) {
        snprintf(c->unit_kind, sizeof(c->unit_kind), "committee");
        snprintf(c->unit, sizeof(c->unit), "%s", c->committee);
        return 0;
    }
    if (route_department(cfg->case_routes, c->category, dept, sizeof(dept)))
        return CB_EINVAL;
    snprintf(c->unit_kind, sizeof(c->unit_kind), "department");
    snprintf(c->unit, sizeof(c->unit), "%s", dept);
    return 0;
}

int case_transition(struct store *st, const struct config *cfg,
                    const struct token_info *who, int64_t id,
                    const char *action, const char *reason,
                    struct case_row *OUT)
{
    int rc = store_case_get(st, id, OUT);
    if (rc)
        return rc;
    if (!case_visible(st, who, OUT))
        return CB_EPERM;
    if (!action_known(action))
        return CB_EINVAL;
    const struct transition *t = find_transition(OUT->state, action);
    if (!t)
        return CB_EEXIST;
    if ((unsigned)who->role >= ROLE_COUNT || !(t->roles & R(who->role)))
        return CB_EPERM;
    struct case_row c = *OUT;
    if (!strcmp(action, "dispatch") && (rc = case_route(st, cfg, &c)))
        return rc;
    char from[sizeof(c.state)];
    snprintf(from, sizeof(from), "%s", c.state);
    snprintf(c.state, sizeof(c.state), "%s", t->to);
    c.escalated_to[0] = '\0';
    c.updated_ns = dclock_now_ns();
    c.deadline_ns = is_open(c.state) ? case_step_deadline(cfg, c.category,
                                                          c.state, c.updated_ns)
                                     : 0;
    struct case_step step = {
        c.updated_ns,         action, from, c.state, who->id, who->name,
        role_name(who->role), reason};
    rc = store_case_update(st, &c, from, &step);
    if (rc == CB_EEXIST)
        store_case_get(st, id, OUT);
    if (rc)
        return rc;
    *OUT = c;
    publish(st, OUT);
    return 0;
}

static void roles_json(struct jsonw *w, unsigned roles)
{
    jsonw_array_begin(w);
    for (int r = 0; r < ROLE_COUNT; r++)
        if (roles & R(r))
            jsonw_str(w, role_name((enum role)r));
    jsonw_array_end(w);
}

static void allowed_json(struct jsonw *w, const char *state)
{
    jsonw_array_begin(w);
    for (size_t i = 0; i < N_TRANSITIONS; i++) {
        if (strcmp(transitions[i].from, state))
            continue;
        jsonw_object_begin(w);
        jsonw_kv_str(w, "action", transitions[i].action);
        jsonw_kv_str(w, "to", transitions[i].to);
        jsonw_key(w, "roles");
        roles_json(w, transitions[i].roles);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

void case_allowed_json(const char *state, struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    allowed_json(&w, state);
}

static void iso_kv(struct jsonw *w, const char *key, int64_t ns)
{
    char iso[40];
    if (!ns) {
        jsonw_kv_null(w, key);
        return;
    }
    time_format_iso(ns / 1000000000LL, 480, iso);
    jsonw_kv_str(w, key, iso);
}

static void step_fn(void *ctx, const struct case_step *p)
{
    struct jsonw *w = ctx;
    jsonw_object_begin(w);
    iso_kv(w, "ts", p->ts_ns);
    jsonw_kv_str(w, "action", p->action);
    jsonw_kv_str(w, "from", p->from_state);
    jsonw_kv_str(w, "to", p->to_state);
    jsonw_kv_str(w, "who", p->who);
    jsonw_kv_int(w, "token_id", p->token_id);
    jsonw_kv_str(w, "role", p->role);
    jsonw_kv_str(w, "reason", p->reason ? p->reason : "");
    jsonw_object_end(w);
}

static void opt_str(struct jsonw *w, const char *key, const char *v)
{
    if (*v)
        jsonw_kv_str(w, key, v);
    else
        jsonw_kv_null(w, key);
}

static void case_fields(struct jsonw *w, const struct case_row *c)
{
    jsonw_kv_int(w, "id", c->id);
    jsonw_kv_str(w, "state", c->state);
    jsonw_kv_str(w, "category", c->category);
    jsonw_kv_str(w, "source_kind", c->source_kind);
    opt_str(w, "source_ref", c->source_ref);
    opt_str(w, "household_id", c->household_id);
    opt_str(w, "committee", c->committee);
    opt_str(w, "building", c->building);
    opt_str(w, "address", c->address);
    if (c->has_place) {
        jsonw_kv_double(w, "lat", c->lat);
        jsonw_kv_double(w, "lon", c->lon);
    } else {
        jsonw_kv_null(w, "lat");
        jsonw_kv_null(w, "lon");
    }
    opt_str(w, "unit_kind", c->unit_kind);
    opt_str(w, "unit", c->unit);
    if (c->duplicate_of)
        jsonw_kv_int(w, "duplicate_of", c->duplicate_of);
    else
        jsonw_kv_null(w, "duplicate_of");
    opt_str(w, "title", c->title);
    iso_kv(w, "created", c->created_ns);
    iso_kv(w, "updated", c->updated_ns);
    iso_kv(w, "deadline", c->deadline_ns);
    jsonw_kv_bool(w, "overdue",
                  c->deadline_ns && dclock_now_ns() > c->deadline_ns);
    jsonw_kv_int(w, "attempts", c->attempts);
    opt_str(w, "escalated_to", c->escalated_to);
}

int case_json(struct store *st, const struct case_row *c, int with_history,
              struct sbuf *out)
{
    struct jsonw w;
    int rc = 0;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    case_fields(&w, c);
    jsonw_key(&w, "allowed");
    allowed_json(&w, c->state);
    if (with_history) {
        jsonw_key(&w, "history");
        jsonw_array_begin(&w);
        rc = store_scan_case_steps(st, c->id, step_fn, &w);
        jsonw_array_end(&w);
    }
    jsonw_object_end(&w);
    return rc;
}

/* The newest step of a case, copied. */
struct last_step {
    int64_t ts_ns;
    char action[24], from[24], to[24], who[64], role[24];
};

static void last_step_fn(void *ctx, const struct case_step *p)
{
    struct last_step *l = ctx;
    l->ts_ns = p->ts_ns;
    snprintf(l->action, sizeof(l->action), "%s", p->action);
    snprintf(l->from, sizeof(l->from), "%s", p->from_state);
    snprintf(l->to, sizeof(l->to), "%s", p->to_state);
    snprintf(l->who, sizeof(l->who), "%s", p->who);
    snprintf(l->role, sizeof(l->role), "%s", p->role);
}

int case_event_json(struct store *st, const struct case_row *c,
                    struct sbuf *out)
{
    struct last_step l = {0};
    struct jsonw w;
    int rc = store_scan_case_steps(st, c->id, last_step_fn, &l);
    if (rc)
        return rc;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "id", c->id);
    jsonw_kv_str(&w, "state", c->state);
    jsonw_kv_str(&w, "category", c->category);
    jsonw_kv_str(&w, "source_kind", c->source_kind);
    opt_str(&w, "committee", c->committee);
    opt_str(&w, "unit_kind", c->unit_kind);
    opt_str(&w, "unit", c->unit);
    if (c->duplicate_of)
        jsonw_kv_int(&w, "duplicate_of", c->duplicate_of);
    else
        jsonw_kv_null(&w, "duplicate_of");
    if (c->has_place && !*c->household_id) { /* a street, not a flat */
        jsonw_kv_double(&w, "lat", c->lat);
        jsonw_kv_double(&w, "lon", c->lon);
    }
    iso_kv(&w, "created", c->created_ns);
    iso_kv(&w, "updated", c->updated_ns);
    iso_kv(&w, "deadline", c->deadline_ns);
    jsonw_kv_bool(&w, "overdue",
                  c->deadline_ns && dclock_now_ns() > c->deadline_ns);
    jsonw_kv_int(&w, "attempts", c->attempts);
    opt_str(&w, "escalated_to", c->escalated_to);
    jsonw_key(&w, "step");
    jsonw_object_begin(&w);
    iso_kv(&w, "ts", l.ts_ns);
    jsonw_kv_str(&w, "action", l.action);
    jsonw_kv_str(&w, "from", l.from);
    jsonw_kv_str(&w, "to", l.to);
    jsonw_kv_str(&w, "who", l.who);
    jsonw_kv_str(&w, "role", l.role);
    jsonw_object_end(&w);
    jsonw_object_end(&w);
    return 0;
}

/* ---- visits ---- */

static int64_t step_deadline(const struct config *cfg, const struct case_row *c,
                             int64_t from_ns)
{
    return case_step_deadline(cfg, c->category, c->state, from_ns);
}

static int visit_check(const struct token_info *who,
                       const struct case_visit_report *v)
{
    if (!v->visit_id || !*v->visit_id || strlen(v->visit_id) > 128 ||
        !v->outcome ||
        (strcmp(v->outcome, "confirmed") && strcmp(v->outcome, "not_found") &&
         strcmp(v->outcome, "no_access")) ||
        (v->notes && strlen(v->notes) > 2000) || v->headcount < -1 ||
        v->headcount > 10000)
        return CB_EINVAL;
    if (who->role != ROLE_COMMITTEE && who->role != ROLE_DEPARTMENT &&
        who->role != ROLE_SHIFT_LEAD && who->role != ROLE_ADMIN)
        return CB_EPERM;
    return 0;
}

/* The steps a visit makes on c (changed in place): up to 2. */
static int visit_steps(const struct config *cfg,
                       const struct case_visit_report *v, struct case_row *c,
                       struct case_step *steps, char *why, size_t cap)
{
    int64_t now = dclock_now_ns();
    c->updated_ns = now;
    c->escalated_to[0] = '\0';
    snprintf(why, cap, "visit %s: %s", v->visit_id, v->outcome);
    for (int i = 0; i < 2; i++)
        steps[i] = (struct case_step){now, "", "dispatched", "dispatched",
                                      0,   "", "",           why};
    if (strcmp(v->outcome, "no_access")) {
        steps[0].action = "handle";
        steps[0].to_state = steps[1].from_state = "handled";
        steps[1].action = "feed_back";
        steps[1].to_state = "fed_back";
        snprintf(c->state, sizeof(c->state), "fed_back");
        c->deadline_ns = step_deadline(cfg, c, now);
        return 2;
    }
    c->deadline_ns = step_deadline(cfg, c, now);
    if (++c->attempts < cfg->case_no_access_max) {
        steps[0].action = "reschedule";
        return 1;
    }
    snprintf(why, cap, "visit %s: no_access, attempt %d of %d: to %s",
             v->visit_id, c->attempts, cfg->case_no_access_max,
             cfg->case_no_access_department);
    steps[0].action = "escalate";
    snprintf(c->unit_kind, sizeof(c->unit_kind), "department");
    snprintf(c->unit, sizeof(c->unit), "%s", cfg->case_no_access_department);
    return 1;
}

int case_visit(struct store *st, const struct config *cfg,
               const struct token_info *who, int64_t id,
               const struct case_visit_report *v, struct case_row *OUT,
               int *OUT_repeat)
{
    struct case_step steps[2];
    char why[300];
    int rc = store_case_get(st, id, OUT);
    *OUT_repeat = 0;
    if (rc)
        return rc;
    if (!case_visible(st, who, OUT))
        return CB_EPERM;
    if ((rc = visit_check(who, v)))
        return rc;
    struct case_row c = *OUT;
    int n = visit_steps(cfg, v, &c, steps, why, sizeof(why));
    for (int i = 0; i < n; i++) {
        steps[i].token_id = who->id;
        steps[i].who = who->name;
        steps[i].role = role_name(who->role);
    }
    struct case_visit visit = {v->visit_id,  v->outcome, v->headcount, v->notes,
                               c.updated_ns, who->id,    who->name};
    if (strcmp(OUT->state, "dispatched"))
        n = 0; /* only a repeat can succeed: the store tells */
    rc = store_case_visit(st, &c, n ? "dispatched" : "", steps, n, &visit,
                          OUT_repeat);
    if (rc == CB_EEXIST || (!rc && !*OUT_repeat && !n))
        return store_case_get(st, id, OUT) ? CB_ESTORE : CB_EEXIST;
    if (rc || *OUT_repeat)
        return rc ? rc : store_case_get(st, id, OUT);
    *OUT = c;
    publish(st, OUT);
    return 0;
}

/* ---- escalation ---- */

struct overdue_ctx {
    struct case_row *rows;
    size_t n, cap;
    int64_t now;
};

static void overdue_fn(void *ctx, const struct case_row *c)
{
    struct overdue_ctx *o = ctx;
    if (!c->deadline_ns || o->now <= c->deadline_ns || *c->escalated_to)
        return;
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 16;
        o->rows = xrealloc(o->rows, o->cap * sizeof(*o->rows));
    }
    o->rows[o->n++] = *c;
}

/* One escalation pass at a time (the timer and a list can race): a case
 * is escalated once per step. */
static pthread_mutex_t escalate_lock = PTHREAD_MUTEX_INITIALIZER;

int case_escalate_overdue(struct store *st, const struct config *cfg,
                          int *OUT_n)
{
    pthread_mutex_lock(&escalate_lock);
    struct overdue_ctx o = {NULL, 0, 0, dclock_now_ns()};
    struct case_filter f = {.open_only = 1, .overdue_at_ns = o.now};
    int rc = store_scan_cases(st, &f, overdue_fn, &o);
    *OUT_n = 0;
    for (size_t i = 0; !rc && i < o.n; i++) {
        struct case_row *c = &o.rows[i];
        char why[128];
        snprintf(why, sizeof(why), "overdue: escalated to %s",
                 cfg->case_escalate_to);
        snprintf(c->escalated_to, sizeof(c->escalated_to), "%s",
                 cfg->case_escalate_to);
        struct case_step step = {o.now, "escalate",  c->state, c->state,
                                 0,     "citybrain", "system", why};
        rc = store_case_escalate(st, c, &step);
        if (rc == CB_EEXIST) /* moved meanwhile: its new step is not late */
            rc = 0;
        else if (!rc) {
            ++*OUT_n;
            publish(st, c);
        }
    }
    pthread_mutex_unlock(&escalate_lock);
    free(o.rows);
    return rc;
}

/* ---- the task view ---- */

/* Why the unit is asked to go: a short summary in Chinese, from the
 * case's kind only (never readings or recipient ids). */
static const char *task_summary(const struct case_row *c)
{
    if (!strcmp(c->source_kind, "group_rental"))
        return "疑似群租：用水用电和外卖量明显高于登记人数，请上门核实居住人数"
               "。";
    if (!strcmp(c->source_kind, "elderly"))
        return "独居老人用水用电异常减少，请上门探视确认老人安全。";
    if (!strcmp(c->source_kind, "alert"))
        return "系统告警，请到现场核实。";
    if (!strcmp(c->source_kind, "event"))
        return "部门或市民上报事件，请到现场处置。";
    return "人工立案，请按案卷说明处置。";
}

int case_task_json(struct store *st, const struct case_row *c, struct sbuf *out)
{
    struct jsonw w;
    int rc;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "case_id", c->id);
    jsonw_kv_str(&w, "category", c->category);
    opt_str(&w, "household_id", c->household_id);
    opt_str(&w, "address", c->address);
    opt_str(&w, "building", c->building);
    if (c->has_place) {
        jsonw_kv_double(&w, "lat", c->lat);
        jsonw_kv_double(&w, "lon", c->lon);
    }
    jsonw_kv_str(&w, "summary", task_summary(c));
    iso_kv(&w, "deadline", c->deadline_ns);
    jsonw_kv_bool(&w, "overdue",
                  c->deadline_ns && dclock_now_ns() > c->deadline_ns);
    jsonw_kv_int(&w, "attempts", c->attempts);
    jsonw_key(&w, "history");
    jsonw_array_begin(&w);
    rc = store_scan_case_steps(st, c->id, step_fn, &w);
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    return rc;
}
