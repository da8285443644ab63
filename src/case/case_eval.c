/*
 * case_eval.c - the evaluation figures of the case loop (case.h,
 * case_evaluate): per unit and per role, from the cases' histories, and
 * each scene's visit precision from the visits reported.
 *
 * The rates, over the cases made in the window:
 *   on-time registration  register steps within the step budget / registers
 *   accurate registration (registered - voided after registration) /
 *                         registered
 *   on-time dispatch      dispatch steps on time / dispatches
 *   accurate dispatch     (dispatches - reworks) / dispatches
 *   closure               cases verified and closed / registered
 *   on-time handling      handle steps on time / handles
 *   rework                reworks / dispatches
 *   missed report         cases the public reported first (source event
 *                         or open311) / cases
 * "On time" compares a step with the one before it: the step is on time
 * when it came by the deadline of the state it left (case_step_deadline:
 * the SLA table, else case_step_deadline_min).  The scan reads each case's
 * history; windows of many thousands of cases are slow but bounded by the case
 * table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/case.h"
#include "util/jsonw.h"

struct tally {
    char name[STORE_NAME_MAX + 1];
    long cases, registered, register_on_time, voided_registered;
    long dispatched, dispatch_on_time, reworked, closed, handled,
        handle_on_time, public_first;
};

struct role_tally {
    long steps, on_time;
};

struct scene_tally {
    char kind[24];
    long visits, confirmed, not_found, no_access;
    long half_hit[2], half_n[2];
};

struct eval {
    struct store *st;
    const struct config *cfg;
    int64_t from, to;
    const char *unit;
    struct tally overall;
    struct tally *units;
    size_t n_units;
    struct role_tally roles[ROLE_COUNT];
    /* case id -> source kind, for the visits */
    int64_t *ids;
    char (*kinds)[24];
    size_t n_ids;
    struct scene_tally scenes[8];
    size_t n_scenes;
};

static struct tally *unit_tally(struct eval *e, const char *name)
{
    for (size_t i = 0; i < e->n_units; i++)
        if (!strcmp(e->units[i].name, name))
            return &e->units[i];
    e->units = xrealloc(e->units, (e->n_units + 1) * sizeof(*e->units));
    struct tally *t = &e->units[e->n_units++];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    return t;
}

struct step_walk {
    struct eval *e;
    struct tally *t[2]; /* overall, the case's unit */
    int64_t prev_ns;
    const char *category;
};

static void count(struct step_walk *w, size_t field_off, int on_time,
                  size_t on_time_off)
{
    for (int i = 0; i < 2; i++) {
        ++*(long *)((char *)w->t[i] + field_off);
        if (on_time && on_time_off)
            ++*(long *)((char *)w->t[i] + on_time_off);
    }
}

#define OFF(f) offsetof(struct tally, f)

static void walk_step(void *ctx, const struct case_step *p)
{
    struct step_walk *w = ctx;
    int on_time =
        w->prev_ns && p->ts_ns <= case_step_deadline(w->e->cfg, w->category,
                                                     p->from_state, w->prev_ns);
    int r = role_parse(p->role);
    if (r >= 0 && strcmp(p->action, "collect")) {
        w->e->roles[r].steps++;
        w->e->roles[r].on_time += on_time;
    }
    if (!strcmp(p->action, "register"))
        count(w, OFF(registered), on_time, OFF(register_on_time));
    else if (!strcmp(p->action, "void") && !strcmp(p->from_state, "registered"))
        count(w, OFF(voided_registered), 0, 0);
    else if (!strcmp(p->action, "dispatch"))
        count(w, OFF(dispatched), on_time, OFF(dispatch_on_time));
    else if (!strcmp(p->action, "rework"))
        count(w, OFF(reworked), 0, 0);
    else if (!strcmp(p->action, "verify"))
        count(w, OFF(closed), 0, 0);
    else if (!strcmp(p->action, "handle"))
        count(w, OFF(handled), on_time, OFF(handle_on_time));
    if (strcmp(p->action, "escalate")) /* not a step of the work */
        w->prev_ns = p->ts_ns;
}

struct case_list {
    struct case_row *rows;
    size_t n, cap;
    int64_t from, to;
    const char *unit;
};

static void keep_case(void *ctx, const struct case_row *c)
{
    struct case_list *l = ctx;
    if (c->created_ns < l->from || c->created_ns >= l->to)
        return;
    if (l->unit && *l->unit && strcmp(c->unit, l->unit))
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->rows = xrealloc(l->rows, l->cap * sizeof(*l->rows));
    }
    l->rows[l->n++] = *c;
}

static int eval_case(struct eval *e, const struct case_row *c)
{
    struct step_walk w = {e, {&e->overall, NULL}, 0, c->category};
    w.t[1] = unit_tally(e, *c->unit ? c->unit : "(not dispatched)");
    for (int i = 0; i < 2; i++) {
        w.t[i]->cases++;
        w.t[i]->public_first += !strcmp(c->source_kind, "event") ||
                                !strcmp(c->source_kind, "open311");
    }
    e->ids[e->n_ids] = c->id;
    snprintf(e->kinds[e->n_ids++], 24, "%s", c->source_kind);
    return store_scan_case_steps(e->st, c->id, walk_step, &w);
}

static struct scene_tally *scene_tally(struct eval *e, const char *kind)
{
    for (size_t i = 0; i < e->n_scenes; i++)
        if (!strcmp(e->scenes[i].kind, kind))
            return &e->scenes[i];
    if (e->n_scenes == sizeof(e->scenes) / sizeof(e->scenes[0]))
        return NULL;
    struct scene_tally *s = &e->scenes[e->n_scenes++];
    memset(s, 0, sizeof(*s));
    snprintf(s->kind, sizeof(s->kind), "%s", kind);
    return s;
}

static void eval_visit(void *ctx, int64_t case_id, const struct case_visit *v)
{
    struct eval *e = ctx;
    for (size_t i = 0; i < e->n_ids; i++) {
        if (e->ids[i] != case_id)
            continue;
        if (strcmp(e->kinds[i], "group_rental") &&
            strcmp(e->kinds[i], "elderly"))
            return;
        struct scene_tally *s = scene_tally(e, e->kinds[i]);
        if (!s)
            return;
        s->visits++;
        int hit = !strcmp(v->outcome, "confirmed");
        int miss = !strcmp(v->outcome, "not_found");
        s->confirmed += hit;
        s->not_found += miss;
        s->no_access += !hit && !miss;
        int half = v->ts_ns >= e->from + (e->to - e->from) / 2;
        if (hit || miss) {
            s->half_n[half]++;
            s->half_hit[half] += hit;
        }
        return;
    }
}

static void rate(struct jsonw *w, const char *key, long num, long den)
{
    if (den > 0)
        jsonw_kv_double(w, key, (double)num / (double)den);
    else
        jsonw_kv_null(w, key);
}

static void rates_json(struct jsonw *w, const struct tally *t)
{
    jsonw_object_begin(w);
    jsonw_kv_int(w, "cases", t->cases);
    jsonw_kv_int(w, "registered", t->registered);
    rate(w, "on_time_registration_rate", t->register_on_time, t->registered);
    rate(w, "accurate_registration_rate", t->registered - t->voided_registered,
         t->registered);
    jsonw_kv_int(w, "dispatched", t->dispatched);
    rate(w, "on_time_dispatch_rate", t->dispatch_on_time, t->dispatched);
    rate(w, "accurate_dispatch_rate", t->dispatched - t->reworked,
         t->dispatched);
    rate(w, "closure_rate", t->closed, t->registered);
    rate(w, "on_time_handling_rate", t->handle_on_time, t->handled);
    rate(w, "rework_rate", t->reworked, t->dispatched);
    rate(w, "missed_report_rate", t->public_first, t->cases);
    jsonw_object_end(w);
}

static void eval_json(struct eval *e, struct jsonw *w)
{
    jsonw_key(w, "overall");
    rates_json(w, &e->overall);
    jsonw_key(w, "units");
    jsonw_object_begin(w);
    for (size_t i = 0; i < e->n_units; i++) {
        jsonw_key(w, e->units[i].name);
        rates_json(w, &e->units[i]);
    }
    jsonw_object_end(w);
    jsonw_key(w, "roles");
    jsonw_object_begin(w);
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (!e->roles[r].steps)
            continue;
        jsonw_key(w, role_name((enum role)r));
        jsonw_object_begin(w);
        jsonw_kv_int(w, "steps", e->roles[r].steps);
        jsonw_kv_int(w, "on_time", e->roles[r].on_time);
        jsonw_object_end(w);
    }
    jsonw_object_end(w);
    jsonw_key(w, "scenes");
    jsonw_object_begin(w);
    for (size_t i = 0; i < e->n_scenes; i++) {
        const struct scene_tally *s = &e->scenes[i];
        jsonw_key(w, s->kind);
        jsonw_object_begin(w);
        jsonw_kv_int(w, "visits", s->visits);
        jsonw_kv_int(w, "confirmed", s->confirmed);
        jsonw_kv_int(w, "not_found", s->not_found);
        jsonw_kv_int(w, "no_access", s->no_access);
        rate(w, "precision", s->confirmed, s->confirmed + s->not_found);
        rate(w, "precision_first_half", s->half_hit[0], s->half_n[0]);
        rate(w, "precision_second_half", s->half_hit[1], s->half_n[1]);
        jsonw_object_end(w);
    }
    jsonw_object_end(w);
}

int case_evaluate(struct store *st, const struct config *cfg, int64_t from_ns,
                  int64_t to_ns, const char *unit, struct sbuf *out)
{
    struct case_filter f = {0};
    struct case_list l = {NULL, 0, 0, from_ns, to_ns, unit};
    struct eval e = {
        .st = st, .cfg = cfg, .from = from_ns, .to = to_ns, .unit = unit};
    int rc = store_scan_cases(st, &f, keep_case, &l);
    e.ids = xmalloc((l.n + 1) * sizeof(*e.ids));
    e.kinds = xmalloc((l.n + 1) * sizeof(*e.kinds));
    for (size_t i = 0; !rc && i < l.n; i++)
        rc = eval_case(&e, &l.rows[i]);
    if (!rc)
        rc = store_scan_case_visits(st, from_ns, to_ns, eval_visit, &e);
    if (!rc) {
        struct jsonw w;
        jsonw_init(&w, out);
        jsonw_object_begin(&w);
        jsonw_kv_str(&w, "unit", unit && *unit ? unit : "all");
        jsonw_kv_int(&w, "cases", (int64_t)l.n);
        eval_json(&e, &w);
        jsonw_object_end(&w);
    }
    free(l.rows);
    free(e.units);
    free(e.ids);
    free(e.kinds);
    return rc;
}
