/* indic_rule.c - alert rules, alerts and silences over indicator series. */
#include "indic/indic_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#include "util/jsonw.h"

/* A duration member: "10m" or a number of seconds; absent: 0. */
static int get_duration(json_t *o, const char *key, int64_t *OUT_ns, char *err,
                        size_t cap)
{
    json_t *v = json_object_get(o, key);
    *OUT_ns = 0;
    if (!v)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= 100000000) {
        *OUT_ns = (int64_t)json_integer_value(v) * INDIC_NS_S;
        return 0;
    }
    if (json_is_string(v) &&
        !indic_parse_duration(json_string_value(v), OUT_ns))
        return 0;
    snprintf(err, cap,
             "'%s' must be a duration like \"90s\", \"10m\", \"2h\" "
             "or a number of seconds",
             key);
    return CB_EINVAL;
}

static int get_text(json_t *o, const char *key, char *out, size_t cap,
                    int required, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v && !required)
        return 0;
    if (!json_is_string(v) || !json_string_length(v) ||
        json_string_length(v) >= cap) {
        snprintf(err, errcap, "'%s' must be a string of 1..%zu bytes", key,
                 cap - 1);
        return CB_EINVAL;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int rule_parse(json_t *o, struct indic_rule *r, char *err, size_t cap)
{
    static const char *const kinds[] = {"threshold", "anomaly", "nodata"};
    char kind[32];
    if (!json_is_object(o)) {
        snprintf(err, cap, "a rule must be a JSON object");
        return CB_EINVAL;
    }
    if (get_text(o, "id", r->id, sizeof(r->id), 1, err, cap) ||
        get_text(o, "indicator", r->indicator, sizeof(r->indicator), 1, err,
                 cap) ||
        get_text(o, "subject", r->subject, sizeof(r->subject), 0, err, cap) ||
        get_text(o, "severity", r->severity, sizeof(r->severity), 0, err,
                 cap) ||
        get_text(o, "kind", kind, sizeof(kind), 1, err, cap))
        return CB_EINVAL;
    if (!*r->severity)
        strcpy(r->severity, "warning");
    int k = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(kind, kinds[i]))
            k = i;
    if (k < 0) {
        snprintf(err, cap, "kind '%s' is not threshold, anomaly or nodata",
                 kind);
        return CB_EINVAL;
    }
    r->kind = (enum rule_kind)k;
    if (get_duration(o, "for", &r->for_ns, err, cap) ||
        get_duration(o, "keep_firing_for", &r->keep_ns, err, cap) ||
        get_duration(o, "stale", &r->stale_ns, err, cap) ||
        get_duration(o, "ack_within", &r->ack_ns, err, cap))
        return CB_EINVAL;
    if (r->kind == RK_NODATA && !r->stale_ns) {
        snprintf(err, cap, "kind nodata needs 'stale' (a duration)");
        return CB_EINVAL;
    }
    if (r->kind != RK_NODATA) {
        json_t *v = json_object_get(o, "value");
        if (!json_is_number(v)) {
            snprintf(err, cap, "kind %s needs a number 'value'", kind);
            return CB_EINVAL;
        }
        r->value = json_number_value(v);
    }
    strcpy(r->op, r->kind == RK_ANOMALY ? ">=" : ">");
    json_t *op = json_object_get(o, "op");
    if (op) {
        const char *s = json_string_value(op);
        if (!s || (strcmp(s, ">") && strcmp(s, ">=") && strcmp(s, "<") &&
                   strcmp(s, "<=") && strcmp(s, "==") && strcmp(s, "!="))) {
            snprintf(err, cap, "'op' must be one of > >= < <= == !=");
            return CB_EINVAL;
        }
        strcpy(r->op, s);
    }
    json_t *rep = json_object_get(o, "repeat");
    if (rep) {
        json_t *n = json_object_get(rep, "n");
        if (!json_is_integer(n) || json_integer_value(n) < 1 ||
            json_integer_value(n) > 1000 ||
            get_duration(rep, "window", &r->window_ns, err, cap) ||
            !r->window_ns) {
            if (!*err)
                snprintf(err, cap,
                         "'repeat' must be an object: n, 1..1000, and "
                         "window, a duration");
            return CB_EINVAL;
        }
        r->repeat_n = (int)json_integer_value(n);
    }
    return 0;
}

static struct indic_rule *rule_find(struct indic_engine *eng, const char *id)
{
    for (size_t i = 0; i < eng->nrules; i++)
        if (!strcmp(eng->rules[i]->id, id))
            return eng->rules[i];
    return NULL;
}

/* Adds or replaces a rule (under eng->lock). */
static int rule_add(struct indic_engine *eng, const char *json, size_t len,
                    char *err, size_t cap, struct indic_rule **OUT)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    if (!o) {
        snprintf(err, cap, "invalid JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return CB_EINVAL;
    }
    struct indic_rule *r = xcalloc(1, sizeof(*r));
    err[0] = '\0';
    int rc = rule_parse(o, r, err, cap);
    if (!rc) {
        r->json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        struct indic_rule *old = rule_find(eng, r->id);
        if (old) {
            free(old->json);
            *old = *r;
            free(r);
            r = old;
        } else {
            eng->rules =
                xrealloc(eng->rules, (eng->nrules + 1) * sizeof(*eng->rules));
            eng->rules[eng->nrules++] = r;
        }
        *OUT = r;
    } else {
        free(r);
    }
    json_decref(o);
    return rc;
}

int indic_rule_define(struct indic_engine *eng, const char *json, size_t len,
                      char *err, size_t errcap)
{
    struct indic_rule *r;
    pthread_mutex_lock(&eng->lock);
    int rc = rule_add(eng, json, len, err, errcap, &r);
    char id[INDIC_ID_MAX];
    char *copy = NULL;
    if (!rc) {
        snprintf(id, sizeof(id), "%s", r->id);
        copy = strdup(r->json);
    }
    pthread_mutex_unlock(&eng->lock);
    if (!rc) {
        rc = store_doc_put(eng->st, "rule", id, copy);
        if (rc)
            snprintf(err, errcap, "rule '%s': the store failed", id);
    }
    free(copy);
    return rc;
}

int indic_rule_add_unstored(struct indic_engine *eng, const char *json,
                            size_t len, char *err, size_t errcap)
{
    struct indic_rule *r;
    pthread_mutex_lock(&eng->lock);
    int rc = rule_add(eng, json, len, err, errcap, &r);
    pthread_mutex_unlock(&eng->lock);
    return rc;
}

void indic_rule_list_json(struct indic_engine *eng, struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    pthread_mutex_lock(&eng->lock);
    jsonw_array_begin(&w);
    for (size_t i = 0; i < eng->nrules; i++)
        jsonw_raw(&w, eng->rules[i]->json, strlen(eng->rules[i]->json));
    jsonw_array_end(&w);
    pthread_mutex_unlock(&eng->lock);
}

/* ---- silences ---- */

static int silence_parse(json_t *o, struct indic_silence *s, int64_t now,
                         char *err, size_t cap)
{
    if (!json_is_object(o)) {
        snprintf(err, cap, "a silence must be a JSON object");
        return CB_EINVAL;
    }
    if (get_text(o, "rule", s->rule, sizeof(s->rule), 0, err, cap) ||
        get_text(o, "subject", s->subject, sizeof(s->subject), 0, err, cap) ||
        get_text(o, "reason", s->reason, sizeof(s->reason), 1, err, cap))
        return CB_EINVAL;
    if (!*s->rule && !*s->subject) {
        snprintf(err, cap, "a silence needs 'rule' or 'subject' (or both)");
        return CB_EINVAL;
    }
    int64_t dur = 0;
    json_t *st = json_object_get(o, "starts_ns");
    json_t *en = json_object_get(o, "ends_ns");
    s->starts = json_is_integer(st) ? json_integer_value(st) : now;
    if (json_is_integer(en)) {
        s->ends = json_integer_value(en);
    } else {
        if (get_duration(o, "duration", &dur, err, cap))
            return CB_EINVAL;
        if (!dur) {
            snprintf(err, cap,
                     "a silence needs 'duration' (its expiry, e.g. "
                     "\"2h\")");
            return CB_EINVAL;
        }
        s->ends = s->starts + dur;
    }
    if (s->ends <= s->starts) {
        snprintf(err, cap, "the silence ends before it starts");
        return CB_EINVAL;
    }
    return 0;
}

static void silence_json(const struct indic_silence *s, struct jsonw *w)
{
    char a[40], b[40];
    indic_iso(s->starts, a);
    indic_iso(s->ends, b);
    jsonw_object_begin(w);
    jsonw_kv_str(w, "id", s->id);
    jsonw_kv_str(w, "rule", s->rule);
    jsonw_kv_str(w, "subject", s->subject);
    jsonw_kv_str(w, "reason", s->reason);
    jsonw_kv_int(w, "starts_ns", s->starts);
    jsonw_kv_int(w, "ends_ns", s->ends);
    jsonw_kv_str(w, "starts_at", a);
    jsonw_kv_str(w, "ends_at", b);
    jsonw_object_end(w);
}

int indic_silence_add(struct indic_engine *eng, const char *json, size_t len,
                      char *err, size_t errcap, char *OUT_id, size_t cap)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    if (!o) {
        snprintf(err, errcap, "invalid JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return CB_EINVAL;
    }
    struct indic_silence s;
    memset(&s, 0, sizeof(s));
    int rc = silence_parse(o, &s, indic_now_ns(), err, errcap);
    json_decref(o);
    if (rc)
        return rc;
    pthread_mutex_lock(&eng->lock);
    snprintf(s.id, sizeof(s.id), "s%lld-%zu", (long long)(s.starts / 1000000),
             eng->nsilences + 1);
    eng->silences =
        xrealloc(eng->silences, (eng->nsilences + 1) * sizeof(*eng->silences));
    eng->silences[eng->nsilences++] = s;
    pthread_mutex_unlock(&eng->lock);
    struct sbuf doc = SBUF_INIT;
    struct jsonw w;
    jsonw_init(&w, &doc);
    silence_json(&s, &w);
    rc = store_doc_put(eng->st, "silence", s.id, doc.buf);
    sbuf_release(&doc);
    snprintf(OUT_id, cap, "%s", s.id);
    return rc;
}

void indic_silence_list_json(struct indic_engine *eng, struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    pthread_mutex_lock(&eng->lock);
    jsonw_array_begin(&w);
    for (size_t i = 0; i < eng->nsilences; i++)
        silence_json(&eng->silences[i], &w);
    jsonw_array_end(&w);
    pthread_mutex_unlock(&eng->lock);
}

static int silenced(struct indic_engine *eng, const char *rule,
                    const char *subject, int64_t now)
{
    for (size_t i = 0; i < eng->nsilences; i++) {
        const struct indic_silence *s = &eng->silences[i];
        if (s->starts <= now && now < s->ends &&
            (!*s->rule || !strcmp(s->rule, rule)) &&
            (!*s->subject || !strcmp(s->subject, subject)))
            return 1;
    }
    return 0;
}

/* ---- alerts ---- */

static const char *state_name(enum alert_state s)
{
    static const char *const names[] = {"inactive", "pending", "firing",
                                        "resolved"};
    return names[s];
}

static void kv_time(struct jsonw *w, const char *key, int64_t ns)
{
    char iso[40];
    if (ns == 0) {
        jsonw_kv_null(w, key);
        return;
    }
    indic_iso(ns, iso);
    jsonw_kv_str(w, key, iso);
}

static void alert_json(const struct indic_rule *r, const struct indic_alert *a,
                       struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "id", a->id);
    jsonw_kv_str(&w, "rule", a->rule);
    jsonw_kv_str(&w, "indicator", r ? r->indicator : "");
    jsonw_kv_str(&w, "subject", a->subject);
    jsonw_kv_str(&w, "severity", r ? r->severity : "");
    jsonw_kv_str(&w, "state", state_name(a->state));
    jsonw_kv_bool(&w, "silenced", a->silenced);
    jsonw_kv_double(&w, "value", a->value);
    jsonw_kv_double(&w, "score", a->score);
    kv_time(&w, "active_since", a->active_since);
    kv_time(&w, "fired_at", a->fired_at);
    kv_time(&w, "resolved_at", a->resolved_at);
    kv_time(&w, "last_true", a->last_true);
    /* the state a restart reloads */
    jsonw_key(&w, "state_ns");
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "active_since", a->active_since);
    jsonw_kv_int(&w, "fired_at", a->fired_at);
    jsonw_kv_int(&w, "resolved_at", a->resolved_at);
    jsonw_kv_int(&w, "last_true", a->last_true);
    jsonw_kv_int(&w, "last_bucket", a->last_bucket);
    jsonw_kv_int(&w, "notified", a->notified);
    jsonw_key(&w, "hits");
    jsonw_array_begin(&w);
    for (size_t i = 0; i < a->nhits; i++)
        jsonw_int(&w, a->hits[i]);
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    jsonw_object_end(&w);
}

/* Writes the alert's document (under eng->lock: the writer does not take
 * it, so this only waits for the commit). */
static void alert_save(struct indic_engine *eng, const struct indic_rule *r,
                       const struct indic_alert *a)
{
    struct sbuf doc = SBUF_INIT;
    char id[24];
    alert_json(r, a, &doc);
    if (eng->cfg.live) {
        struct sbuf ev = SBUF_INIT;
        indic_alert_event_json(eng, a->id, doc.buf, &ev);
        live_publish(eng->cfg.live, "alert", ev.buf);
        sbuf_release(&ev);
    }
    snprintf(id, sizeof(id), "%016lld", (long long)a->id);
    if (store_doc_put(eng->st, "alert", id, doc.buf))
        log_msg(LOG_WARN, "indic", "alert not saved | id=%lld",
                (long long)a->id);
    sbuf_release(&doc);
}

static void alert_free(struct indic_alert *a)
{
    if (!a)
        return;
    free(a->subject);
    free(a->hits);
    free(a);
}

static void open_key(const char *rule, const char *subject, char *out,
                     size_t cap)
{
    snprintf(out, cap, "%s\x1f%s", rule, subject);
}

static int cmp_op(const char *op, double v, double x)
{
    if (!isfinite(v))
        return 0;
    if (!strcmp(op, ">"))
        return v > x;
    if (!strcmp(op, ">="))
        return v >= x;
    if (!strcmp(op, "<"))
        return v < x;
    if (!strcmp(op, "<="))
        return v <= x;
    if (!strcmp(op, "=="))
        return v == x;
    return v != x;
}

static void hits_prune(struct indic_alert *a, int64_t from)
{
    size_t k = 0;
    for (size_t i = 0; i < a->nhits; i++)
        if (a->hits[i] >= from)
            a->hits[k++] = a->hits[i];
    a->nhits = k;
}

/* The condition of r on series s at now, for the closed bucket pt (its
 * start INT64_MIN: none yet); sets *OUT_value. */
static int condition(struct indic_engine *eng, const struct indic_rule *r,
                     const struct indic_series *s,
                     const struct indic_closed *pt, struct indic_alert **pa,
                     const char *key, int64_t now, double *OUT_value)
{
    if (r->kind == RK_NODATA) {
        int64_t last = s->last_ts;
        if (last == INT64_MIN)
            return 0;
        *OUT_value = (double)(now - last) / 1e9;
        return now - last >= r->stale_ns;
    }
    *OUT_value = pt->value;
    double x = r->kind == RK_ANOMALY ? pt->score : pt->value;
    int c = pt->start != INT64_MIN && cmp_op(r->op, x, r->value);
    if (!r->repeat_n)
        return c;
    struct indic_alert *a = *pa;
    if (c && (!a || a->last_bucket != pt->start)) {
        if (!a) {
            a = xcalloc(1, sizeof(*a));
            snprintf(a->rule, sizeof(a->rule), "%s", r->id);
            a->subject = strdup(s->group);
            a->state = AS_INACTIVE;
            indic_map_put(&eng->open, key, a);
            *pa = a;
        }
        a->hits = xrealloc(a->hits, (a->nhits + 1) * sizeof(int64_t));
        a->hits[a->nhits++] = pt->start;
    }
    if (!a)
        return 0;
    a->last_bucket = pt->start;
    hits_prune(a, pt->start - r->window_ns + 1);
    return a->nhits >= (size_t)r->repeat_n;
}

static void alert_notify(struct indic_engine *eng, const struct indic_rule *r,
                         struct indic_alert *a, int64_t now)
{
    if (a->state == AS_FIRING && !a->silenced && a->notified != AS_FIRING) {
        a->notified = AS_FIRING;
        indic_notify_alert(eng, r, a, now);
    } else if (a->state == AS_RESOLVED && a->notified == AS_FIRING) {
        a->notified = AS_RESOLVED;
        indic_notify_alert(eng, r, a, now);
    }
    if (a->state == AS_FIRING && !a->silenced &&
        now - a->am_sent >= 60 * INDIC_NS_S) {
        a->am_sent = now;
        indic_notify_am(eng, r, a, now);
    } else if (a->state == AS_RESOLVED && a->am_sent) {
        indic_notify_am(eng, r, a, now);
    }
}

/* Moves one (rule, subject) along: inactive -> pending -> firing ->
 * resolved.  Returns 1 when the alert is to be saved. */
static int step(struct indic_engine *eng, const struct indic_rule *r,
                struct indic_alert *a, int c, double value, double score,
                int64_t now)
{
    int save = 0;
    if (c) {
        a->last_true = now;
        if (a->value != value && !(isnan(a->value) && isnan(value)))
            save = a->state != AS_INACTIVE;
        a->value = value;
        a->score = score;
        if (a->state == AS_INACTIVE) {
            a->id = eng->next_alert_id++;
            a->active_since = now;
            a->state = AS_PENDING;
            save = 1;
        }
        if (a->state == AS_PENDING && now - a->active_since >= r->for_ns) {
            a->state = AS_FIRING;
            a->fired_at = now;
            save = 1;
        }
    } else if (a->state == AS_PENDING) {
        a->state = AS_RESOLVED; /* never fired: dropped, kept as resolved */
        a->resolved_at = now;
        save = 1;
    } else if (a->state == AS_FIRING && now - a->last_true >= r->keep_ns) {
        a->state = AS_RESOLVED;
        a->resolved_at = now;
        eng->resolved_count++;
        save = 1;
    }
    int sil =
        silenced(eng, r->id, a->subject, now) || a->suppressed_until > now;
    if (sil != a->silenced) {
        a->silenced = sil;
        save = a->state != AS_INACTIVE;
    }
    return save;
}

/* Evaluates r on series s for the closed bucket pt at now. */
static void eval_point(struct indic_engine *eng, const struct indic_rule *r,
                       const struct indic_series *s,
                       const struct indic_closed *pt, int64_t now)
{
    char key[INDIC_ID_MAX + 300];
    open_key(r->id, s->group, key, sizeof(key));
    struct indic_alert *a = indic_map_get(&eng->open, key);
    double value = NAN;
    int c = condition(eng, r, s, pt, &a, key, now, &value);
    if (!a && !c)
        return;
    if (!a) {
        a = xcalloc(1, sizeof(*a));
        snprintf(a->rule, sizeof(a->rule), "%s", r->id);
        a->subject = strdup(s->group);
        a->state = AS_INACTIVE;
        indic_map_put(&eng->open, key, a);
    }
    int save = step(eng, r, a, c, value, pt->score, now);
    if (save) /* stored before any receiver hears of it */
        alert_save(eng, r, a);
    int notified = a->notified;
    alert_notify(eng, r, a, now);
    if (a->notified != notified && a->state != AS_INACTIVE)
        alert_save(eng, r, a); /* what the receivers were told */
    if (a->state == AS_RESOLVED) {
        /* the next episode is a new alert; repeat hits carry over */
        struct indic_alert *fresh = xcalloc(1, sizeof(*fresh));
        snprintf(fresh->rule, sizeof(fresh->rule), "%s", r->id);
        fresh->subject = strdup(a->subject);
        fresh->hits = a->hits;
        fresh->nhits = a->nhits;
        fresh->last_bucket = a->last_bucket;
        a->hits = NULL;
        alert_free(a);
        indic_map_put(&eng->open, key, fresh);
        a = fresh;
    }
    if (a->state == AS_INACTIVE && !a->nhits) {
        indic_map_del(&eng->open, key);
        alert_free(a);
    }
}

/* Evaluates r on s: each bucket closed since the last evaluation in
 * order, at the time it became due (its end plus the grace, within the
 * last evaluation and now), so that a bucket in the middle of several
 * closed in one tick is seen; then the newest at now, as every tick does
 * (for, keep_firing_for and nodata go on in time between closes). */
static void eval_series(struct indic_engine *eng, const struct indic_rule *r,
                        const struct indic_series *s, int64_t now)
{
    const struct indic_def *d = eng->defs[s->def];
    if (r->kind != RK_NODATA)
        for (size_t i = 0; i + 1 < s->nfresh; i++) {
            const struct indic_closed *pt = &s->fresh[i];
            int64_t due = pt->start + d->bucket_ns + eng->cfg.grace_ns;
            if (due < eng->last_eval)
                due = eng->last_eval;
            eval_point(eng, r, s, pt, due < now ? due : now);
        }
    struct indic_closed newest = {.start = s->last_bucket,
                                  .value = s->last_value,
                                  .score = s->last_score};
    eval_point(eng, r, s, &newest, now);
}

void indic_rules_eval(struct indic_engine *eng, int64_t now_ns)
{
    for (size_t i = 0; i < eng->nrules; i++) {
        const struct indic_rule *r = eng->rules[i];
        int di = -1;
        for (size_t k = 0; k < eng->ndefs; k++)
            if (!strcmp(eng->defs[k]->id, r->indicator))
                di = (int)k;
        if (di < 0)
            continue;
        for (size_t k = 0; k < eng->nseries; k++) {
            const struct indic_series *s = eng->series[k];
            if (s->def == di && (!*r->subject || !strcmp(r->subject, s->group)))
                eval_series(eng, r, s, now_ns);
        }
    }
    indic_alerts_escalate(eng, now_ns);
    eng->last_eval = now_ns;
}

size_t indic_alerts_count(struct indic_engine *eng, enum alert_state st)
{
    size_t n = 0;
    for (size_t i = 0; i < eng->open.cap; i++)
        if (eng->open.keys[i] &&
            ((struct indic_alert *)eng->open.vals[i])->state == st)
            n++;
    return n;
}

/* ---- loading and listing ---- */

static int load_rule(void *ctx, const char *id, const char *json)
{
    struct indic_engine *eng = ctx;
    char err[200];
    struct indic_rule *r;
    if (rule_add(eng, json, strlen(json), err, sizeof(err), &r))
        log_msg(LOG_WARN, "indic", "stored rule %s: %s", id, err);
    return 0;
}

static int load_silence(void *ctx, const char *id, const char *json)
{
    struct indic_engine *eng = ctx;
    json_t *o = json_loads(json, 0, NULL);
    struct indic_silence s;
    memset(&s, 0, sizeof(s));
    char err[200];
    if (o && !silence_parse(o, &s, 0, err, sizeof(err))) {
        snprintf(s.id, sizeof(s.id), "%s", id);
        eng->silences = xrealloc(eng->silences,
                                 (eng->nsilences + 1) * sizeof(*eng->silences));
        eng->silences[eng->nsilences++] = s;
    }
    json_decref(o);
    return 0;
}

static int64_t ns_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static int load_alert(void *ctx, const char *id, const char *json)
{
    struct indic_engine *eng = ctx;
    json_t *o = json_loads(json, 0, NULL);
    int64_t aid = json_integer_value(json_object_get(o, "id"));
    if (aid >= eng->next_alert_id)
        eng->next_alert_id = aid + 1;
    const char *state = json_string_value(json_object_get(o, "state"));
    const char *rule = json_string_value(json_object_get(o, "rule"));
    const char *subject = json_string_value(json_object_get(o, "subject"));
    json_t *ns = json_object_get(o, "state_ns");
    if (state && rule && subject && json_is_object(ns) &&
        (!strcmp(state, "pending") || !strcmp(state, "firing"))) {
        struct indic_alert *a = xcalloc(1, sizeof(*a));
        a->id = aid;
        snprintf(a->rule, sizeof(a->rule), "%s", rule);
        a->subject = strdup(subject);
        a->state = !strcmp(state, "firing") ? AS_FIRING : AS_PENDING;
        a->silenced = json_is_true(json_object_get(o, "silenced"));
        a->value = json_number_value(json_object_get(o, "value"));
        a->score = json_number_value(json_object_get(o, "score"));
        a->active_since = ns_of(ns, "active_since");
        a->fired_at = ns_of(ns, "fired_at");
        a->last_true = ns_of(ns, "last_true");
        a->last_bucket = ns_of(ns, "last_bucket");
        a->notified = (int)ns_of(ns, "notified");
        json_t *hits = json_object_get(ns, "hits");
        a->nhits = json_array_size(hits);
        a->hits = xcalloc(a->nhits + 1, sizeof(int64_t));
        for (size_t i = 0; i < a->nhits; i++)
            a->hits[i] = json_integer_value(json_array_get(hits, i));
        char key[INDIC_ID_MAX + 300];
        open_key(rule, subject, key, sizeof(key));
        alert_free(indic_map_get(&eng->open, key));
        indic_map_put(&eng->open, key, a);
    }
    json_decref(o);
    return 0;
}

int indic_rules_load(struct indic_engine *eng)
{
    int rc = store_doc_scan(eng->st, "rule", load_rule, eng);
    if (!rc)
        rc = store_doc_scan(eng->st, "silence", load_silence, eng);
    if (!rc)
        rc = store_doc_scan(eng->st, "alert", load_alert, eng);
    if (!rc)
        rc = indic_alerts_load_workflow(eng);
    return rc;
}

void indic_rules_free(struct indic_engine *eng)
{
    for (size_t i = 0; i < eng->nrules; i++) {
        free(eng->rules[i]->json);
        free(eng->rules[i]);
    }
    free(eng->rules);
    for (size_t i = 0; i < eng->open.cap; i++)
        if (eng->open.keys[i])
            alert_free(eng->open.vals[i]);
    indic_map_release(&eng->open);
    free(eng->silences);
}

struct alert_list {
    char **docs;
    int64_t *ids;
    size_t n, cap;
    const char *state;
};

static int collect(void *ctx, const char *id, const char *json)
{
    struct alert_list *l = ctx;
    if (l->state) {
        json_t *doc = json_loads(json, 0, NULL);
        const char *state = json_string_value(json_object_get(doc, "state"));
        int same = state && strcmp(state, l->state) == 0;
        json_decref(doc);
        if (!same)
            return 0;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->docs = xrealloc(l->docs, l->cap * sizeof(char *));
        l->ids = xrealloc(l->ids, l->cap * sizeof(int64_t));
    }
    l->ids[l->n] = strtoll(id, NULL, 10);
    l->docs[l->n++] = strdup(json);
    return 0;
}

int indic_alert_list_json(struct indic_engine *eng, const char *state,
                          size_t limit, struct sbuf *out)
{
    struct alert_list l = {.state = state};
    struct jsonw w;
    int rc = store_doc_scan(eng->st, "alert", collect, &l);
    jsonw_init(&w, out);
    jsonw_array_begin(&w);
    size_t shown = 0;
    for (size_t i = l.n; i-- > 0;) {
        if (!rc && shown < limit) {
            if (shown++)
                sbuf_addch(out, ',');
            indic_alert_doc_json(eng, l.ids[i], l.docs[i], out);
        }
        free(l.docs[i]);
    }
    jsonw_array_end(&w);
    free(l.docs);
    free(l.ids);
    return rc;
}

int indic_alert_get_json(struct indic_engine *eng, int64_t id, struct sbuf *out)
{
    char key[24], *doc;
    snprintf(key, sizeof(key), "%016lld", (long long)id);
    int rc = store_doc_get(eng->st, "alert", key, &doc);
    if (!rc)
        indic_alert_doc_json(eng, id, doc, out);
    free(doc);
    return rc;
}
