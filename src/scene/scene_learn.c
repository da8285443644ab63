/*
 * scene_learn.c - learning the group-rental score from visit outcomes.
 *
 * Every visit comes back as confirmed, not_found or no_access, with the
 * headcount seen.  A confirmed or not_found visit becomes a labelled
 * example: the household's 18 features (scene_group_rental.c) at the time
 * of the visit and the label.  no_access teaches nothing about the flat and
 * only counts in the visit tallies.
 *
 * The model is logistic regression, p = 1 / (1 + exp(-w.x)), fitted by
 * maximum a posteriori: the log-likelihood of the last 1,024 examples plus
 * a weak Gaussian prior centred on the initial weights,
 *
 *     minimise  sum_i logloss(y_i, w.x_i) + (lambda / 2) |w - w0|^2
 *
 * with lambda = 0.3, solved by Newton's method (an 18x18 system, at most 20
 * steps, each weight moving at most 2 a step, weights bounded to +-12)
 * after each outcome once there are 10 examples.  The prior keeps
 * weights that the examples say nothing about (a confounder indicator that
 * never fires among visited flats) at their initial values, and with a few
 * hundred examples the data outweighs it, so wrong initial weights are
 * corrected.  Visits are biased towards high scores (only suspects are
 * visited); the fit learns how to order suspects, which is what it is used
 * for.
 *
 * Headcounts calibrate the occupancy estimate: the scale is the median of
 * headcount / raw estimate over the confirmed visits that counted people
 * (from 5 of them on), bounded to 0.5-2.  Only confirmed visits count: a
 * flat found to be a leak or a kitchen uses water for reasons other than
 * people, and would drag the scale down.
 *
 * Persistence: a small text file, written to a temporary name, fsynced and
 * renamed over the old one (so a crash leaves the old or the new file):
 *
 *     citybrain-scene-learn 2
 *     scale S
 *     weights w0 ... w17
 *     prior p0 ... p17
 *     outcomes DIGITS          one digit per visit, oldest first
 *     example LABEL HEADCOUNT ESTIMATE x0 ... x17
 *     end
 */
#include "scene/scene_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEARN_LAMBDA 0.3
#define LEARN_MIN_EXAMPLES 10
#define LEARN_MIN_HEADCOUNTS 5
#define LEARN_MAX_WEIGHT 12.0
#define LEARN_MAX_STEP 2.0 /* per weight and Newton step */

void scene_learn_init(struct scene_learner *l)
{
    memset(l, 0, sizeof(*l));
    memcpy(l->w, scene_gr_default_weights, sizeof(l->w));
    memcpy(l->prior, scene_gr_default_weights, sizeof(l->prior));
    l->occupancy_scale = 1.0;
    l->ex = xcalloc(SCENE_MAX_EXAMPLES, sizeof(*l->ex));
}

void scene_learn_release(struct scene_learner *l)
{
    free(l->ex);
    l->ex = NULL;
}

static double sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

double scene_learn_score(const struct scene_learner *l, const double *x)
{
    double z = 0;
    for (int i = 0; i < SCENE_NF; i++)
        z += l->w[i] * x[i];
    return sigmoid(z);
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

/* One Newton step of the MAP fit; returns the size of the step. */
static double newton_step(struct scene_learner *l)
{
    double hess[SCENE_NF][SCENE_NF], grad[SCENE_NF];
    memset(hess, 0, sizeof(hess));
    for (int i = 0; i < SCENE_NF; i++) {
        grad[i] = LEARN_LAMBDA * (l->w[i] - l->prior[i]);
        hess[i][i] = LEARN_LAMBDA;
    }
    for (size_t e = 0; e < l->n_ex; e++) {
        const struct scene_example *ex = &l->ex[e];
        double x[SCENE_NF];
        for (int i = 0; i < SCENE_NF; i++)
            x[i] = ex->x[i];
        double p = scene_learn_score(l, x), q = p * (1 - p);
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
        double w = l->w[i] - damp * grad[i];
        w = w < -LEARN_MAX_WEIGHT  ? -LEARN_MAX_WEIGHT
            : w > LEARN_MAX_WEIGHT ? LEARN_MAX_WEIGHT
                                   : w;
        step += fabs(w - l->w[i]);
        l->w[i] = w;
    }
    return step;
}

static void learn_fit(struct scene_learner *l)
{
    if (l->n_ex < LEARN_MIN_EXAMPLES)
        return;
    for (int it = 0; it < 20; it++)
        if (newton_step(l) < 1e-6)
            break;
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
    for (size_t e = 0; e < l->n_ex; e++)
        if (l->ex[e].label && l->ex[e].headcount > 0 &&
            l->ex[e].estimate > 0.5f)
            r[n++] = l->ex[e].headcount / (double)l->ex[e].estimate;
    if (n < LEARN_MIN_HEADCOUNTS)
        return;
    qsort(r, n, sizeof(*r), cmp_double);
    double med = n % 2 ? r[n / 2] : 0.5 * (r[n / 2 - 1] + r[n / 2]);
    l->occupancy_scale = med < 0.5 ? 0.5 : med > 2.0 ? 2.0 : med;
}

static void push_outcome(struct scene_learner *l, int outcome)
{
    l->outcome[l->out_next] = (uint8_t)outcome;
    l->out_next = (l->out_next + 1) % SCENE_MAX_OUTCOMES;
    if (l->n_out < SCENE_MAX_OUTCOMES)
        l->n_out++;
}

static void push_example(struct scene_learner *l, const double *x,
                         double raw_estimate, int headcount, int label)
{
    struct scene_example *ex = &l->ex[l->ex_next];
    for (int i = 0; i < SCENE_NF; i++)
        ex->x[i] = (float)x[i];
    ex->estimate = (float)raw_estimate;
    ex->headcount = (int16_t)(headcount < 0      ? -1
                              : headcount > 9999 ? 9999
                                                 : headcount);
    ex->label = (uint8_t)label;
    l->ex_next = (l->ex_next + 1) % SCENE_MAX_EXAMPLES;
    if (l->n_ex < SCENE_MAX_EXAMPLES)
        l->n_ex++;
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

void scene_learn_summary(const struct scene_learner *l, size_t window,
                         struct scene_ranking *r)
{
    memcpy(r->weights, l->w, sizeof(r->weights));
    r->occupancy_scale = l->occupancy_scale;
    r->examples = (uint32_t)l->n_ex;
    r->precision_window = (uint32_t)window;
    r->visits = r->confirmed = r->not_found = r->no_access = 0;
    for (size_t k = 0; k < l->n_out && k < window; k++) {
        size_t i =
            (l->out_next + SCENE_MAX_OUTCOMES - 1 - k) % SCENE_MAX_OUTCOMES;
        r->visits++;
        r->confirmed += l->outcome[i] == SCENE_CONFIRMED;
        r->not_found += l->outcome[i] == SCENE_NOT_FOUND;
        r->no_access += l->outcome[i] == SCENE_NO_ACCESS;
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

int scene_group_rental_feedback(struct scene_engine *eng,
                                const char *household_id, int outcome,
                                int headcount)
{
    if (outcome < SCENE_CONFIRMED || outcome > SCENE_NO_ACCESS)
        return CB_EINVAL;
    int err = 0;
    pthread_mutex_lock(&eng->lock);
    int64_t id = scene_names_find(&eng->ids, household_id);
    int32_t h = id < 0 ? -1 : (int32_t)eng->household_of_id[id] - 1;
    if (h < 0) {
        err = CB_ENOTFOUND;
        goto out_unlock;
    }
    push_outcome(&eng->learn, outcome);
    double x[SCENE_NF];
    struct scene_suspect s;
    if (outcome != SCENE_NO_ACCESS && !scene_gr_features(eng, h, x, &s)) {
        push_example(&eng->learn, x, s.estimate, headcount,
                     outcome == SCENE_CONFIRMED);
        learn_fit(&eng->learn);
        learn_scale(&eng->learn);
        eng->weights_dirty = 1;
    }
    if (eng->learned_path)
        err = scene_learn_save(eng, eng->learned_path);
    republish_summary(eng);
out_unlock:
    pthread_mutex_unlock(&eng->lock);
    return err;
}

int scene_group_rental_feedback_json(struct scene_engine *eng, const char *body,
                                     size_t len, struct sbuf *out)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    const char *why = NULL;
    const char *id = NULL, *outcome_s = NULL;
    json_int_t headcount = -1;
    if (!root || !json_is_object(root))
        why = "body is not a JSON object";
    else if (json_unpack(root, "{s:s, s:s}", "household_id", &id, "outcome",
                         &outcome_s))
        why = "household_id and outcome are required strings";
    else if (json_object_get(root, "headcount") &&
             !json_is_null(json_object_get(root, "headcount")) &&
             (json_unpack(root, "{s:I}", "headcount", &headcount) ||
              headcount < 0 || headcount > 9999))
        why = "headcount must be an integer from 0 to 9999";
    int outcome = why ? -1 : scene_outcome_parse(outcome_s);
    if (!why && outcome < 0)
        why = "outcome must be confirmed, not_found or no_access";
    int err = CB_EINVAL;
    if (why) {
        sbuf_addstr(out, "{\"error\":");
        sbuf_add_json_str(out, why);
        sbuf_addch(out, '}');
    } else {
        err = scene_group_rental_feedback(eng, id, outcome, (int)headcount);
        if (!err || err == CB_EIO) {
            sbuf_addstr(out, "{\"ok\":true,\"precision\":");
            scene_group_rental_precision_json(eng, out);
            sbuf_addch(out, '}');
        }
    }
    json_decref(root);
    return err;
}

int scene_group_rental_precision_json(struct scene_engine *eng,
                                      struct sbuf *out)
{
    struct scene_ranking *r = scene_ranking_get(eng);
    uint32_t judged = r->confirmed + r->not_found;
    sbuf_addf(out,
              "{\"window\":%u,\"visits\":%u,\"confirmed\":%u,"
              "\"not_found\":%u,\"no_access\":%u,\"precision\":",
              r->precision_window, r->visits, r->confirmed, r->not_found,
              r->no_access);
    if (judged)
        sbuf_addf(out, "%.4f", (double)r->confirmed / judged);
    else
        sbuf_addstr(out, "null");
    sbuf_addf(out, ",\"examples\":%u,\"occupancy_scale\":%.4f,\"weights\":{",
              r->examples, r->occupancy_scale);
    for (int i = 0; i < SCENE_NF; i++)
        sbuf_addf(out, "%s\"%s\":%.4f", i ? "," : "", scene_gr_feature_name(i),
                  r->weights[i]);
    sbuf_addstr(out, "}}");
    scene_ranking_put(eng);
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
    fprintf(f, "citybrain-scene-learn 2\nscale %.17g\nweights",
            l->occupancy_scale);
    for (int i = 0; i < SCENE_NF; i++)
        fprintf(f, " %.17g", l->w[i]);
    fprintf(f, "\nprior");
    for (int i = 0; i < SCENE_NF; i++)
        fprintf(f, " %.17g", l->prior[i]);
    fprintf(f, "\noutcomes ");
    size_t first =
        (l->out_next + SCENE_MAX_OUTCOMES - l->n_out) % SCENE_MAX_OUTCOMES;
    for (size_t k = 0; k < l->n_out; k++)
        fputc('0' + l->outcome[(first + k) % SCENE_MAX_OUTCOMES], f);
    fputc('\n', f);
    size_t efirst =
        (l->ex_next + SCENE_MAX_EXAMPLES - l->n_ex) % SCENE_MAX_EXAMPLES;
    for (size_t k = 0; k < l->n_ex; k++) {
        const struct scene_example *ex =
            &l->ex[(efirst + k) % SCENE_MAX_EXAMPLES];
        fprintf(f, "example %d %d %.9g", ex->label, ex->headcount,
                (double)ex->estimate);
        for (int i = 0; i < SCENE_NF; i++)
            fprintf(f, " %.9g", (double)ex->x[i]);
        fputc('\n', f);
    }
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

/* Parses one line of the learned-state file into l; -1 if bad. */
static int parse_line(struct scene_learner *l, const char *line)
{
    if (strncmp(line, "scale ", 6) == 0)
        return read_doubles(line + 6, &l->occupancy_scale, 1);
    if (strncmp(line, "weights ", 8) == 0)
        return read_doubles(line + 8, l->w, SCENE_NF);
    if (strncmp(line, "prior ", 6) == 0)
        return read_doubles(line + 6, l->prior, SCENE_NF);
    if (strncmp(line, "outcomes ", 9) == 0) {
        for (const char *p = line + 9; *p && *p != '\n'; p++) {
            if (*p < '0' || *p > '0' + SCENE_NO_ACCESS)
                return -1;
            push_outcome(l, *p - '0');
        }
        return 0;
    }
    if (strncmp(line, "example ", 8) == 0) {
        double v[3 + SCENE_NF];
        if (read_doubles(line + 8, v, 3 + SCENE_NF) || (v[0] != 0 && v[0] != 1))
            return -1;
        push_example(l, v + 3, v[2], (int)v[1], (int)v[0]);
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
        strcmp(line, "citybrain-scene-learn 2\n") == 0) {
        while (fgets(line, sizeof(line), f) && (rc = parse_line(&l, line)) == 0)
            ;
    }
    fclose(f);
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
