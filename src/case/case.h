/*
 * case.h - the case loop: an alert, a suspect or a report becomes a case
 * that moves through the steps of the city-management standard.
 *
 * Lifecycle (state x action -> state; roles that may act; "own" means a
 * committee or department token acting on a case dispatched to it):
 *
 *   state         action     ->  state         roles
 *   ------------  ---------      ------------  ---------------------------
 *   collected     check          second_check  call_taker shift_lead admin
 *   second_check  register       registered    call_taker shift_lead admin
 *   collected,    void           void          call_taker shift_lead admin
 *    second_check,
 *    registered
 *   registered    dispatch       dispatched    dispatcher shift_lead admin
 *   dispatched    handle         handled       own committee/department,
 *                                              shift_lead admin
 *   handled       feed_back      fed_back      own committee/department,
 *                                              shift_lead admin
 *   fed_back      verify         closed        supervisor shift_lead admin
 *   fed_back      rework         dispatched    supervisor shift_lead admin
 *   closed        evaluate       evaluated     shift_lead admin
 *   closed,       reopen         registered    supervisor shift_lead admin
 *    evaluated
 *
 * Every transition is one case_step row (who: token name and id, role,
 * when by the district clock, why).  A transition not in the table for the
 * case's state is refused with CB_EEXIST (HTTP 409, with the allowed ones);
 * one in the table but not for the caller's role with CB_EPERM (403).
 *
 * Dispatch routes by place and category: a case about a household goes to
 * the household's residents' committee; any other to the department that
 * the case_routes setting names for its category.  Each step's deadline
 * comes from the SLA table (case_sla: per category and step, in calendar
 * or working time over the holiday calendar; case_sla.c), else
 * case_step_deadline_min after it began.
 *
 * Visits (case_visit): the handling unit reports a visit of a dispatched
 * case with a visit_id.  confirmed or not_found close the task: the case
 * is handled and fed back (two steps).  no_access reschedules it (step
 * "reschedule", a new deadline); the case_no_access_max-th no_access
 * instead routes it to case_no_access_department (step "escalate").  A
 * visit_id seen before on the case changes nothing (a repeat); a new
 * visit_id is a new visit.
 *
 * Overdue cases (past the deadline of their step, by the district clock)
 * are escalated once per step to case_escalate_to (case_escalate_overdue,
 * run by the server's timer every case_escalate_interval_ms and before a
 * list): a step "escalate" that leaves the state as it is.
 *
 * Duplicates: a new case about the same household as an open case is not
 * made; the open one is returned (duplicate).  A new place-based case
 * within case_duplicate_m metres of an open case of the same category is
 * made and linked to it (duplicate_of).
 *
 * Every change is handed to the publisher (case_set_publisher) as
 * ("case", case_event_json, the committee it is dispatched to), after it
 * is stored.
 *
 * Threads: every function is thread-safe; the publisher is set once at
 * start, before requests are served.
 */
#ifndef CB_CASE_H
#define CB_CASE_H

#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

/* Reads the SLA table (case_sla) and makes the working calendar
 * (holidays_file or the built-in etc/holidays-cn.txt, work_hours,
 * timezone) that step deadlines are counted on (case_sla.c).  Call once at
 * start, before requests are served; again replaces both.  Returns 0, or
 * CB_EINVAL / CB_EIO with err saying which setting and why (nothing
 * loaded: deadlines are then case_step_deadline_min calendar minutes). */
int case_init(const struct config *cfg, char *err, size_t errcap);
void case_release(void);

/* The deadline of a step in state that began at from_ns, for a case of
 * category: the case_sla entry that fits best, in calendar or working
 * time; case_step_deadline_min calendar minutes when none does. */
int64_t case_step_deadline(const struct config *cfg, const char *category,
                           const char *state, int64_t from_ns);

/* Starts the thread that runs case_escalate_overdue every
 * case_escalate_interval_ms (by the district clock's reading then), and
 * stops it (before the store closes).  st and cfg are borrowed until
 * case_timer_stop.  0 or CB_EIO. */
int case_timer_start(struct store *st, const struct config *cfg);
void case_timer_stop(void);

/* What a new case is made from. */
struct case_new {
    const char *category;     /* e.g. "group_rental", "garbage" */
    const char *source_kind;  /* group_rental, elderly, event, alert, manual,
                               * open311 (a public request, routes_open311) */
    const char *source_ref;   /* the suspect's household, the alert id, .. */
    const char *household_id; /* NULL or "" when place-based */
    int has_place;
    double lat, lon;
    const char *title; /* may be NULL */
    const char *reason;
};

/* Whether s is a known source kind. */
int case_source_kind_valid(const char *s);

/* Makes a case (state collected).  A household case fills committee,
 * building, address and place from the registry (CB_ENOTFOUND if the
 * household is unknown).  *OUT_duplicate is 1 when an open case about the
 * household already exists: OUT is that case and nothing is made.
 * Returns 0, CB_EINVAL, CB_ENOTFOUND or CB_ESTORE. */
int case_create(struct store *st, const struct config *cfg,
                const struct token_info *who, const struct case_new *in,
                struct case_row *OUT, int *OUT_duplicate);

/* Applies action to case id as who, with reason (may be NULL).  OUT: the
 * case after it.  Returns 0; CB_ENOTFOUND; CB_EPERM (the role may not, or
 * the case is not its own); CB_EEXIST (not allowed from the case's state:
 * OUT holds the case as it is); CB_EINVAL (unknown action; a dispatch with
 * no route); CB_ESTORE. */
int case_transition(struct store *st, const struct config *cfg,
                    const struct token_info *who, int64_t id,
                    const char *action, const char *reason,
                    struct case_row *OUT);

/* A visit report. */
struct case_visit_report {
    const char *visit_id; /* 1-128 bytes */
    const char *outcome;  /* confirmed, not_found, no_access */
    int headcount;        /* -1: not counted */
    const char *notes;    /* may be NULL */
};
/* Records a visit of case id by who (case.h's essay).  OUT: the case
 * after it; *OUT_repeat: 1 when the visit_id was reported before.
 * Returns 0, CB_EINVAL (bad report), CB_ENOTFOUND, CB_EPERM (not its
 * case, or a role that does not visit), CB_EEXIST (the case is not
 * dispatched: OUT as it is) or CB_ESTORE. */
int case_visit(struct store *st, const struct config *cfg,
               const struct token_info *who, int64_t id,
               const struct case_visit_report *v, struct case_row *OUT,
               int *OUT_repeat);

/* Escalates every open case past its step's deadline and not yet
 * escalated in that step.  *OUT_n: how many.  Returns 0 or CB_ESTORE. */
int case_escalate_overdue(struct store *st, const struct config *cfg,
                          int *OUT_n);

/* Appends the task view of case c, for the unit that visits: where
 * (address, building, lat, lon), why (a short Chinese summary: no
 * readings, no recipient ids), deadline, attempts and history. */
int case_task_json(struct store *st, const struct case_row *c,
                   struct sbuf *out);

/* Appends the evaluation of the cases made in [from_ns, to_ns) (unit:
 * only the cases dispatched to that committee or department; NULL or "":
 * all) to out:
 *   {"from","to","unit","cases":N,
 *    "overall":RATES, "units":{"NAME":RATES,..},
 *    "roles":{"ROLE":{"steps":N,"on_time":N}},
 *    "scenes":{"KIND":{"visits":N,"confirmed":N,"not_found":N,
 *              "no_access":N,"precision":P|null,
 *              "precision_first_half":P|null,
 *              "precision_second_half":P|null}}}
 * RATES: {"registered","on_time_registration_rate",
 * "accurate_registration_rate","dispatched","on_time_dispatch_rate",
 * "accurate_dispatch_rate","closure_rate","on_time_handling_rate",
 * "rework_rate","missed_report_rate"}; a rate with no denominator is
 * null.  A step is on time when it came by the deadline
 * (case_step_deadline) of the state it left, counted from the step before
 * it.  Returns 0 or CB_ESTORE. */
int case_evaluate(struct store *st, const struct config *cfg, int64_t from_ns,
                  int64_t to_ns, const char *unit, struct sbuf *out);

/* Whether who may see case c at all: committees and departments only the
 * cases dispatched to them; the other case roles every case. */
int case_visible(struct store *st, const struct token_info *who,
                 const struct case_row *c);

/* Appends c as a JSON object to out: its fields, "overdue" against the
 * district clock, "allowed" (the actions its state allows, with their
 * roles) and, when with_history, "history" (every step, oldest first). */
int case_json(struct store *st, const struct case_row *c, int with_history,
              struct sbuf *out);
/* Appends c as a live event: {"id","state","category","source_kind",
 * "committee","unit_kind","unit","duplicate_of","created","updated",
 * "deadline","overdue","attempts","escalated_to","lat","lon" (place-based
 * cases only),"step":{"ts","action","from","to","who","role"}} (its
 * newest step).  Nothing that names a household. */
int case_event_json(struct store *st, const struct case_row *c,
                    struct sbuf *out);
/* Appends the JSON array of actions allowed from state:
 * [{"action":..,"to":..,"roles":[..]}]. */
void case_allowed_json(const char *state, struct sbuf *out);

/* Called with ("case", JSON) after every stored change: the JSON is
 * case_event_json's (no household id, address, position of a flat, title
 * or reason); committee is the committee the case is dispatched to (the
 * one committee that may see it), or NULL.  Both borrowed for the call. */
typedef void (*case_publish_fn)(void *ctx, const char *type, const char *json,
                                const char *committee);
void case_set_publisher(case_publish_fn fn, void *ctx);

#endif
