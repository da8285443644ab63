/*
 * scene_learn.c - learning the group-rental score from visit outcomes.
 *
 * Every visit comes back as confirmed, not_found or no_access, with the
 * headcount seen.  A confirmed or not_found visit becomes a labelled
 * example: the household's 19 features (scene_group_rental.c) at the time
 * of the visit and the label.  no_access teaches nothing about the flat and
 * only counts in the visit tallies.
 *
 * Visits.  Each report may carry a visit_id.  A report whose visit_id
 * was seen before (the last 4,096 ids, and those of every stored visit)
 * is a repeat and changes nothing; a new visit of a flat already visited
 * supersedes the earlier one: the flat keeps one record, with its latest
 * outcome, and at most one labelled example (that of its latest
 * confirmed or not_found visit; a later no_access keeps it).  So a flat
 * reported twice counts once, and the tallies are per flat.  The suspects
 * list marks each visited flat with its latest outcome.
 *
 * The model is logistic regression, p = 1 / (1 + exp(-w.x)), fitted by
 * maximum a posteriori: the log-likelihood of the examples (at most
 * 1,024 flats, the most recent) plus a Gaussian prior centred on the
 * initial weights,
 *
 *     minimise  sum_i logloss(y_i, w.x_i) + (lambda / 2) |w - w0|^2
 *
 * with lambda = 1, solved by Newton's method (a 19x19 system, at most 20
 * steps, each weight moving at most 2 a step, weights bounded to +-12)
 * after each outcome once there are 10 examples.  Then it is regularised
 * twice more, so that a few wrong outcomes cannot knock it over:
 *
 *   shrinkage   w = w0 + n / (n + 40) (w_fit - w0): 10 examples move the
 *               weights a fifth of the way the fit says, 200 five sixths;
 *   sign lock   under 60 examples no weight crosses zero from its prior's
 *               side (it stops at 0).
 *
 * The prior keeps weights that the examples say nothing about (a
 * confounder indicator that never fires among visited flats) at their
 * initial values, and with a few hundred examples the data outweighs it,
 * so wrong initial weights are corrected.  Visits are biased towards high
 * scores (only suspects are visited); the fit learns how to order
 * suspects, which is what it is used for.
 *
 * Headcounts calibrate the occupancy estimate: the scale is the median of
 * headcount / raw estimate over the confirmed visits that counted people
 * (from 5 of them on), shrunk towards 1 like the weights (n / (n + 20) of
 * the way) and bounded to 0.5-2.  Only confirmed visits count: a flat
 * found to be a leak or a kitchen uses water for reasons other than
 * people, and would drag the scale down.  The scale multiplies the
 * estimate shown and the one the candidate gate sees
 * (scene_group_rental.c): where visitors keep finding more people than
 * the meters say (tenants out all day), flats read under the line become
 * candidates; the features keep the raw estimate.
 *
 * Persistence: a small text file, written to a temporary name, fsynced and
 * renamed over the old one (so a crash leaves the old or the new file):
 *
 *     citybrain-scene-learn 3
 *     scale S
 *     weights w0 ... w18
 *     prior p0 ... p18
 *     visit SEQ OUTCOME KEY HOUSEHOLD_ID LABELLED LABEL HEADCOUNT ESTIMATE
 *           x0 ... x18                  one line per visited flat
 *     seen KEY                          one line per remembered visit id
 *     end
 *
 * A file of another version (2 had no visits) is logged and ignored.
 */
#include "scene/scene_int.h"
#include "util/jsonw.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEARN_LAMBDA 0.5
#define LEARN_MIN_EXAMPLES 10
#define LEARN_SHRINK_N 20.0  /* examples for half of the fitted move */
#define LEARN_SIGN_LOCK_N 60 /* fewer examples cannot flip a weight */
#define LEARN_MIN_HEADCOUNTS 5
#define LEARN_MAX_WEIGHT 12.0
#define LEARN_MAX_STEP 2.0 /* per weight and Newton step */

void scene_learn_init(struct scene_learner *l)
{
    memset(l, 0, sizeof(*l));
    memcpy(l->w, scene_gr_default_weights, sizeof(l->w));
    memcpy(l->prior, scene_gr_default_weights, sizeof(l->prior));
    l->occupancy_scale = 1.0;
    l->visits = xcalloc(SCENE_MAX_EXAMPLES, sizeof(*l->visits));
    l->seen = xcalloc(SCENE_SEEN_KEYS, sizeof(*l->seen));
}

void scene_learn_release(struct scene_learner *l)
{
    free(l->visits);
    free(l->seen);
    l->visits = NULL;
    l->seen = NULL;
}

static double sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* The prior model's calibration: its output (knots[i][0]) against the
 * share of group rentals among the candidates so scored (knots[i][1]),
 * by isotonic regression on 7,592 candidates of the eight grid variants
 * at 20,000 households x 35 days (seed 3) and 8,000 x 28 (seed 5)
 * (tests/unit/test_scene_grid.c, SCENE_GRID_DUMP=1), averaged over +-0.025
 * and kept strictly increasing so that the ranking is unchanged (above
 * 0.65 every candidate was a rental; the knots rise slowly to 1).  Refitted
 * on 2 Dec 2026 when the large-family check began to cover flats
 * registered at their limit.  A model
 * fitted on visits is calibrated by them and is not mapped. */
static const double calibration_knots[][2] = {
    {0.00, 0.013}, {0.05, 0.148}, {0.10, 0.267}, {0.15, 0.331}, {0.20, 0.354},
    {0.25, 0.505}, {0.30, 0.644}, {0.35, 0.773}, {0.40, 0.832}, {0.45, 0.895},
    {0.50, 0.912}, {0.55, 0.926}, {0.60, 0.953}, {0.65, 0.965}, {0.70, 0.975},
    {0.75, 0.980}, {0.80, 0.985}, {0.85, 0.990}, {0.90, 0.994}, {0.95, 0.997},
    {1.00, 1.000},
};

static double calibrate(double p)
{
    size_t n = sizeof(calibration_knots) / sizeof(calibration_knots[0]);
    for (size_t i = 1; i < n; i++) {
        const double *a = calibration_knots[i - 1], *b = calibration_knots[i];
        if (p <= b[0])
            return a[1] + (b[1] - a[1]) * (p - a[0]) / (b[0] - a[0]);
    }
    return 1.0;
}

double scene_learn_score(const struct scene_learner *l, const double *x)
{
    double z = 0;
    for (int i = 0; i < SCENE_NF; i++)
        z += l->w[i] * x[i];
    return l->fitted ? sigmoid(z) : calibrate(sigmoid(z));
}

/* Solves a x = b in place (Gaussian elimination, partial pivoting) into b.
 * Returns 0, or -1 when a is singular. */
static int solve(double a[SCENE_NF][SCENE_NF], double *b)
{
    for (int c = 0; c < SCENE_NF; c++) {
        int p = c;
        for (int r = c + 1; r < SCENE_NF; r++)
            if (fabs(a[r][c]) > fabs(a[p][c]))
                p = r;
        if (fabs(a[p][c]) < 1e-12)
            return -1;
        for (int k = 0; k < SCENE_NF; k++) {
            double t = a[c][k];
            a[c][k] = a[p][k];
            a[p][k] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (int r = c + 1; r < SCENE_NF; r++) {
            double f = a[r][c] / a[c][c];
            for (int k = c; k < SCENE_NF; k++)
                a[r][k] -= f * a[c][k];
            b[r] -= f * b[c];
        }
    }
    for (int c = SCENE_NF - 1; c >= 0; c--) {
        for (int k = c + 1; k < SCENE_NF; k++)
            b[c] -= a[c][k] * b[k];
        b[c] /= a[c][c];
    }
    return 0;
}

/* One Newton step of the MAP fit of w; returns the size of the step. */
static double newton_step(struct scene_learner *l, double *w)
{
    double hess[SCENE_NF][SCENE_NF], grad[SCENE_NF];
    memset(hess, 0, sizeof(hess));
    for (int i = 0; i < SCENE_NF; i++) {
        grad[i] = LEARN_LAMBDA * (w[i] - l->prior[i]);
        hess[i][i] = LEARN_LAMBDA;
    }
    for (size_t e = 0; e < l->n_visits; e++) {
        const struct scene_visit *ex = &l->visits[e];
        if (!ex->labelled)
            continue;
        double x[SCENE_NF], z = 0;
        for (int i = 0; i < SCENE_NF; i++) {
            x[i] = ex->x[i];
            z += w[i] * x[i];
        }
        double p = sigmoid(z), q = p * (1 - p);
        for (int i = 0; i < SCENE_NF; i++) {
            grad[i] += (p - ex->label) * x[i];
            for (int j = 0; j <= i; j++)
                hess[i][j] += q * x[i] * x[j];
        }
    }
    for (int i = 0; i < SCENE_NF; i++)
        for (int j = i + 1; j < SCENE_NF; j++)
            hess[i][j] = hess[j][i];
    if (solve(hess, grad))
        return 0;
    double largest = 0, step = 0;
    for (int i = 0; i < SCENE_NF; i++)
        largest = fmax(largest, fabs(grad[i]));
    double damp = largest > LEARN_MAX_STEP ? LEARN_MAX_STEP / largest : 1.0;
    for (int i = 0; i < SCENE_NF; i++) {
        double v = w[i] - damp * grad[i];
        v = v < -LEARN_MAX_WEIGHT  ? -LEARN_MAX_WEIGHT
            : v > LEARN_MAX_WEIGHT ? LEARN_MAX_WEIGHT
                                   : v;
        step += fabs(v - w[i]);
        w[i] = v;
    }
    return step;
}

static size_t n_examples(const struct scene_learner *l)
{
    size_t n = 0;
    for (size_t e = 0; e < l->n_visits; e++)
        n += l->visits[e].labelled;
    return n;
}

/* The MAP fit from the prior, shrunk towards the prior by the number of
 * examples and sign-locked while they are few (see the essay). */
static void learn_fit(struct scene_learner *l)
{
    size_t n = n_examples(l);
    if (n < LEARN_MIN_EXAMPLES)
        return;
    double w[SCENE_NF];
    memcpy(w, l->prior, sizeof(w));
    for (int it = 0; it < 20; it++)
        if (newton_step(l, w) < 1e-6)
            break;
    double keep = (double)n / ((double)n + LEARN_SHRINK_N);
    for (int i = 0; i < SCENE_NF; i++) {
        double v = l->prior[i] + keep * (w[i] - l->prior[i]);
        if (n < LEARN_SIGN_LOCK_N && v * l->prior[i] < 0)
            v = 0;
        l->w[i] = v;
    }
    l->fitted = 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void learn_scale(struct scene_learner *l)
{
    double r[SCENE_MAX_EXAMPLES];
    size_t n = 0;
    for (size_t e = 0; e < l->n_visits; e++) {
        const struct scene_visit *v = &l->visits[e];
        if (v->labelled && v->label && v->headcount > 0 && v->estimate > 0.5f)
            r[n++] = v->headcount / (double)v->estimate;
    }
    if (n < LEARN_MIN_HEADCOUNTS)
        return;
    qsort(r, n, sizeof(*r), cmp_double);
    double med = n % 2 ? r[n / 2] : 0.5 * (r[n / 2 - 1] + r[n / 2]);
    med = 1.0 + (double)n / ((double)n + LEARN_SHRINK_N) * (med - 1.0);
    l->occupancy_scale = med < 0.5 ? 0.5 : med > 2.0 ? 2.0 : med;
}

static int key_seen(const struct scene_learner *l, uint64_t key)
{
    for (size_t i = 0; key && i < l->n_seen; i++)
        if (l->seen[i] == key)
            return 1;
    for (size_t i = 0; key && i < l->n_visits; i++)
        if (l->visits[i].visit_key == key)
            return 1;
    return 0;
}

static void remember_key(struct scene_learner *l, uint64_t key)
{
    if (!key)
        return;
    l->seen[l->seen_next] = key;
    l->seen_next = (l->seen_next + 1) % SCENE_SEEN_KEYS;
    if (l->n_seen < SCENE_SEEN_KEYS)
        l->n_seen++;
}

/* The record of flat household_id: its own, a new one, or (the table
 * full) the oldest one, reused. */
static struct scene_visit *visit_slot(struct scene_learner *l,
                                      const char *household_id)
{
    size_t oldest = 0;
    for (size_t i = 0; i < l->n_visits; i++) {
        if (strcmp(l->visits[i].household_id, household_id) == 0)
            return &l->visits[i];
        if (l->visits[i].seq < l->visits[oldest].seq)
            oldest = i;
    }
    struct scene_visit *v = l->n_visits < SCENE_MAX_EXAMPLES
                                ? &l->visits[l->n_visits++]
                                : &l->visits[oldest];
    if (l->n_visits == SCENE_MAX_EXAMPLES)
        remember_key(l, v->visit_key); /* evicted: still a repeat later */
    memset(v, 0, sizeof(*v));
    snprintf(v->household_id, sizeof(v->household_id), "%s", household_id);
    v->household = -1;
    return v;
}

/* Records a visit of flat household_id (dense h); x: its features, or
 * NULL when it has none or the outcome judges nothing. */
static void record_visit(struct scene_learner *l, const char *household_id,
                         int32_t h, uint64_t key, int outcome, int headcount,
                         const double *x, double raw_estimate)
{
    struct scene_visit *v = visit_slot(l, household_id);
    remember_key(l, v->visit_key);
    v->household = h;
    v->visit_key = key;
    v->seq = ++l->next_seq;
    v->outcome = (uint8_t)outcome;
    if (!x)
        return;
    v->labelled = 1;
    v->label = outcome == SCENE_CONFIRMED;
    for (int i = 0; i < SCENE_NF; i++)
        v->x[i] = (float)x[i];
    v->estimate = (float)raw_estimate;
    v->headcount = (int16_t)(headcount < 0      ? -1
                             : headcount > 9999 ? 9999
                                                : headcount);
}

int scene_outcome_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "confirmed") == 0)
        return SCENE_CONFIRMED;
    if (strcmp(s, "not_found") == 0)
        return SCENE_NOT_FOUND;
    if (strcmp(s, "no_access") == 0)
        return SCENE_NO_ACCESS;
    return -1;
}

const char *scene_outcome_name(int outcome)
{
    static const char *const names[] = {"confirmed", "not_found", "no_access"};
    return outcome >= 0 && outcome <= SCENE_NO_ACCESS ? names[outcome] : "?";
}

static int cmp_seq_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void scene_learn_summary(const struct scene_learner *l, size_t window,
                         struct scene_ranking *r)
{
    memcpy(r->weights, l->w, sizeof(r->weights));
    r->occupancy_scale = l->occupancy_scale;
    r->examples = (uint32_t)n_examples(l);
    r->precision_window = (uint32_t)window;
    r->visits = r->confirmed = r->not_found = r->no_access = 0;
    /* seq (high bits) and outcome (low 2 bits), newest first */
    uint32_t order[SCENE_MAX_EXAMPLES];
    for (size_t i = 0; i < l->n_visits; i++)
        order[i] = l->visits[i].seq << 2 | l->visits[i].outcome;
    qsort(order, l->n_visits, sizeof(*order), cmp_seq_desc);
    for (size_t k = 0; k < l->n_visits && k < window; k++) {
        int outcome = (int)(order[k] & 3);
        r->visits++;
        r->confirmed += outcome == SCENE_CONFIRMED;
        r->not_found += outcome == SCENE_NOT_FOUND;
        r->no_access += outcome == SCENE_NO_ACCESS;
    }
}

struct visit_mark {
    int32_t household;
    uint8_t mark;
};

static int cmp_mark(const void *a, const void *b)
{
    const struct visit_mark *x = a, *y = b;
    return x->household < y->household ? -1 : x->household > y->household;
}

void scene_learn_mark(struct scene_engine *eng, struct scene_suspect *items,
                      size_t n)
{
    struct scene_learner *l = &eng->learn;
    struct visit_mark marks[SCENE_MAX_EXAMPLES];
    size_t m = 0;
    for (size_t i = 0; i < l->n_visits; i++) {
        struct scene_visit *v = &l->visits[i];
        if (v->household < 0) {
            int64_t id = scene_names_find(&eng->ids, v->household_id);
            v->household = id < 0 ? -1 : (int32_t)eng->household_of_id[id] - 1;
        }
        if (v->household >= 0)
            marks[m++] =
                (struct visit_mark){v->household, (uint8_t)(v->outcome + 1)};
    }
    qsort(marks, m, sizeof(*marks), cmp_mark);
    for (size_t i = 0; i < n; i++) {
        struct visit_mark key = {items[i].household, 0};
        const struct visit_mark *hit =
            m ? bsearch(&key, marks, m, sizeof(*marks), cmp_mark) : NULL;
        items[i].visit = hit ? hit->mark : 0;
    }
}

/* Refreshes the learning summary of the published ranking. */
static void republish_summary(struct scene_engine *eng)
{
    pthread_rwlock_wrlock(&eng->pub_lock);
    if (eng->pub)
        scene_learn_summary(&eng->learn, (size_t)eng->cfg.precision_window,
                            eng->pub);
    pthread_rwlock_unlock(&eng->pub_lock);
}

int scene_group_rental_visit(struct scene_engine *eng,
                             const struct scene_visit_report *v,
                             int *OUT_repeat)
{
    if (!v->household_id || v->outcome < SCENE_CONFIRMED ||
        v->outcome > SCENE_NO_ACCESS ||
        (v->visit_id && (!*v->visit_id || strlen(v->visit_id) > 128)))
        return CB_EINVAL;
    int err = 0;
    *OUT_repeat = 0;
    uint64_t key = v->visit_id ? scene_fnv1a(v->visit_id) | 1 : 0;
    pthread_mutex_lock(&eng->lock);
    int64_t id = scene_names_find(&eng->ids, v->household_id);
    int32_t h = id < 0 ? -1 : (int32_t)eng->household_of_id[id] - 1;
    if (h < 0 || strlen(v->household_id) >= 32) {
        err = CB_ENOTFOUND;
        goto out_unlock;
    }
    if (key_seen(&eng->learn, key)) {
        *OUT_repeat = 1;
        goto out_unlock;
    }
    double x[SCENE_NF];
    struct scene_suspect s;
    int judged =
        v->outcome != SCENE_NO_ACCESS && !scene_gr_features(eng, h, x, &s);
    record_visit(&eng->learn, v->household_id, h, key, v->outcome, v->headcount,
                 judged ? x : NULL, judged ? s.estimate : 0);
    if (judged) {
        learn_fit(&eng->learn);
        learn_scale(&eng->learn);
    }
    eng->weights_dirty = 1; /* re-publish: new weights or a new mark */
    if (eng->learned_path)
        err = scene_learn_save(eng, eng->learned_path);
    republish_summary(eng);
out_unlock:
    pthread_mutex_unlock(&eng->lock);
    return err;
}

int scene_group_rental_feedback(struct scene_engine *eng,
                                const char *household_id, int outcome,
                                int headcount)
{
    struct scene_visit_report v = {household_id, outcome, headcount, NULL};
    int repeat;
    return scene_group_rental_visit(eng, &v, &repeat);
}

/* {"window":N,"visits":N,..,"precision":P|null,..,"weights":{..}} */
static void precision_json(struct scene_engine *eng, struct jsonw *w)
{
    struct scene_ranking *r = scene_ranking_get(eng);
    uint32_t judged = r->confirmed + r->not_found;
    jsonw_object_begin(w);
    jsonw_kv_int(w, "window", r->precision_window);
    jsonw_kv_int(w, "visits", r->visits);
    jsonw_kv_int(w, "confirmed", r->confirmed);
    jsonw_kv_int(w, "not_found", r->not_found);
    jsonw_kv_int(w, "no_access", r->no_access);
    if (judged)
        jsonw_kv_double_prec(w, "precision", (double)r->confirmed / judged, 4);
    else
        jsonw_kv_null(w, "precision");
    jsonw_kv_int(w, "examples", r->examples);
    jsonw_kv_double_prec(w, "occupancy_scale", r->occupancy_scale, 4);
    jsonw_kv_double_prec(w, "order_share", r->order_share, 4);
    jsonw_key(w, "weights");
    jsonw_object_begin(w);
    for (int i = 0; i < SCENE_NF; i++)
        jsonw_kv_double_prec(w, scene_gr_feature_name(i), r->weights[i], 4);
    jsonw_object_end(w);
    jsonw_object_end(w);
    scene_ranking_put(eng);
}

int scene_group_rental_feedback_json(struct scene_engine *eng, const char *body,
                                     size_t len, struct sbuf *out)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    const char *why = NULL;
    struct scene_visit_report v = {NULL, -1, -1, NULL};
    const char *outcome_s = NULL;
    json_int_t headcount = -1;
    json_t *visit_id = root ? json_object_get(root, "visit_id") : NULL;
    if (!root || !json_is_object(root))
        why = "body is not a JSON object";
    else if (json_unpack(root, "{s:s, s:s}", "household_id", &v.household_id,
                         "outcome", &outcome_s))
        why = "household_id and outcome are required strings";
    else if (json_object_get(root, "headcount") &&
             !json_is_null(json_object_get(root, "headcount")) &&
             (json_unpack(root, "{s:I}", "headcount", &headcount) ||
              headcount < 0 || headcount > 9999))
        why = "headcount must be an integer from 0 to 9999";
    else if (visit_id && !json_is_null(visit_id) &&
             (!json_is_string(visit_id) || !*json_string_value(visit_id) ||
              strlen(json_string_value(visit_id)) > 128))
        why = "visit_id must be a string of 1 to 128 characters";
    if (!why && visit_id && json_is_string(visit_id))
        v.visit_id = json_string_value(visit_id);
    v.outcome = why ? -1 : scene_outcome_parse(outcome_s);
    v.headcount = (int)headcount;
    if (!why && v.outcome < 0)
        why = "outcome must be confirmed, not_found or no_access";
    int err = CB_EINVAL, repeat = 0;
    struct jsonw w;
    jsonw_init(&w, out);
    if (why) {
        jsonw_object_begin(&w);
        jsonw_kv_str(&w, "error", why);
        jsonw_object_end(&w);
    } else {
        err = scene_group_rental_visit(eng, &v, &repeat);
        if (!err || err == CB_EIO) {
            jsonw_object_begin(&w);
            jsonw_kv_bool(&w, "ok", 1);
            jsonw_kv_bool(&w, "repeat", repeat);
            jsonw_key(&w, "precision");
            precision_json(eng, &w);
            jsonw_object_end(&w);
        }
    }
    json_decref(root);
    return err;
}

int scene_group_rental_precision_json(struct scene_engine *eng,
                                      struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    precision_json(eng, &w);
    return 0;
}

size_t scene_group_rental_n_weights(void)
{
    return SCENE_NF;
}

const char *scene_group_rental_weight_name(size_t i)
{
    return scene_gr_feature_name((int)i);
}

int scene_group_rental_set_weights(struct scene_engine *eng, const double *w,
                                   size_t n)
{
    if (n != SCENE_NF || !w)
        return CB_EINVAL;
    pthread_mutex_lock(&eng->lock);
    memcpy(eng->learn.w, w, sizeof(eng->learn.w));
    memcpy(eng->learn.prior, w, sizeof(eng->learn.prior));
    eng->weights_dirty = 1;
    republish_summary(eng);
    pthread_mutex_unlock(&eng->lock);
    return 0;
}

/* ---- persistence ---- */

static void write_learner(const struct scene_learner *l, FILE *f)
{
    fprintf(f, "citybrain-scene-learn 3\nscale %.17g\nweights",
            l->occupancy_scale);
    for (int i = 0; i < SCENE_NF; i++)
        fprintf(f, " %.17g", l->w[i]);
    fprintf(f, "\nprior");
    for (int i = 0; i < SCENE_NF; i++)
        fprintf(f, " %.17g", l->prior[i]);
    fputc('\n', f);
    for (size_t k = 0; k < l->n_visits; k++) {
        const struct scene_visit *v = &l->visits[k];
        fprintf(f, "visit %u %d %llu %s %d %d %d %.9g", v->seq, v->outcome,
                (unsigned long long)v->visit_key, v->household_id, v->labelled,
                v->label, v->headcount, (double)v->estimate);
        for (int i = 0; i < SCENE_NF; i++)
            fprintf(f, " %.9g", (double)v->x[i]);
        fputc('\n', f);
    }
    size_t first =
        (l->seen_next + SCENE_SEEN_KEYS - l->n_seen) % SCENE_SEEN_KEYS;
    for (size_t k = 0; k < l->n_seen; k++)
        fprintf(f, "seen %llu\n",
                (unsigned long long)l->seen[(first + k) % SCENE_SEEN_KEYS]);
    fprintf(f, "end\n");
}

static int fsync_dir_of(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0)
        return CB_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc ? CB_EIO : 0;
}

int scene_learn_save(struct scene_engine *eng, const char *path)
{
    struct sbuf tmp = SBUF_INIT;
    sbuf_addf(&tmp, "%s.tmp", path);
    int err = CB_EIO;
    FILE *f = fopen(tmp.buf, "w");
    if (!f)
        goto out_log;
    write_learner(&eng->learn, f);
    if (fflush(f) || fsync(fileno(f))) {
        fclose(f);
        goto out_unlink;
    }
    if (fclose(f) || rename(tmp.buf, path))
        goto out_unlink;
    err = fsync_dir_of(path);
    goto out_release;
out_unlink:
    unlink(tmp.buf);
out_log:
    log_msg(LOG_ERROR, "scene",
            "saving learned state failed | path=%s "
            "errno=%d",
            path, errno);
out_release:
    sbuf_release(&tmp);
    return err;
}

static int read_doubles(const char *p, double *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        out[i] = strtod(p, &end);
        if (end == p || !isfinite(out[i]))
            return -1;
        p = end;
    }
    return 0;
}

/* Parses "visit SEQ OUTCOME KEY ID LABELLED LABEL HEADCOUNT ESTIMATE x..."
 * into l; -1 if bad. */
static int parse_visit(struct scene_learner *l, const char *p)
{
    unsigned seq;
    int outcome, labelled, label, headcount, used;
    unsigned long long key;
    char id[32];
    if (sscanf(p, "%u %d %llu %31s %d %d %d%n", &seq, &outcome, &key, id,
               &labelled, &label, &headcount, &used) != 7 ||
        outcome < 0 || outcome > SCENE_NO_ACCESS || labelled < 0 ||
        labelled > 1 || label < 0 || label > 1 ||
        l->n_visits >= SCENE_MAX_EXAMPLES)
        return -1;
    double v[1 + SCENE_NF];
    if (read_doubles(p + used, v, 1 + SCENE_NF))
        return -1;
    struct scene_visit *r = visit_slot(l, id);
    r->seq = seq;
    r->outcome = (uint8_t)outcome;
    r->visit_key = key;
    r->labelled = (uint8_t)labelled;
    r->label = (uint8_t)label;
    r->headcount = (int16_t)headcount;
    r->estimate = (float)v[0];
    for (int i = 0; i < SCENE_NF; i++)
        r->x[i] = (float)v[1 + i];
    if (seq > l->next_seq)
        l->next_seq = seq;
    return 0;
}

/* Parses one line of the learned-state file into l; -1 if bad. */
static int parse_line(struct scene_learner *l, const char *line)
{
    if (strncmp(line, "scale ", 6) == 0)
        return read_doubles(line + 6, &l->occupancy_scale, 1);
    if (strncmp(line, "weights ", 8) == 0)
        return read_doubles(line + 8, l->w, SCENE_NF);
    if (strncmp(line, "prior ", 6) == 0)
        return read_doubles(line + 6, l->prior, SCENE_NF);
    if (strncmp(line, "visit ", 6) == 0)
        return parse_visit(l, line + 6);
    if (strncmp(line, "seen ", 5) == 0) {
        char *end;
        unsigned long long key = strtoull(line + 5, &end, 10);
        if (end == line + 5)
            return -1;
        remember_key(l, key);
        return 0;
    }
    return strcmp(line, "end\n") == 0 || strcmp(line, "end") == 0 ? 1 : -1;
}

int scene_learn_load(struct scene_engine *eng, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? CB_ENOTFOUND : CB_EIO;
    struct scene_learner l;
    scene_learn_init(&l);
    char line[1024];
    int rc = -1;
    if (fgets(line, sizeof(line), f) &&
        strcmp(line, "citybrain-scene-learn 3\n") == 0) {
        while (fgets(line, sizeof(line), f) && (rc = parse_line(&l, line)) == 0)
            ;
    }
    fclose(f);
    l.fitted = n_examples(&l) >= LEARN_MIN_EXAMPLES;
    if (rc != 1 || !(l.occupancy_scale >= 0.5 && l.occupancy_scale <= 2)) {
        scene_learn_release(&l);
        return CB_EPARSE;
    }
    pthread_mutex_lock(&eng->lock);
    scene_learn_release(&eng->learn);
    eng->learn = l;
    eng->weights_dirty = 1;
    pthread_mutex_unlock(&eng->lock);
    republish_summary(eng);
    return 0;
}
