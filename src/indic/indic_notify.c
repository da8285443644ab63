/*
 * indic_notify.c - outbound notifications: Alertmanager-shaped webhooks
 * with retries and a dead-letter list, and the push to an Alertmanager's
 * API v2.  Payloads are aggregate only: the rule, the indicator, the
 * subject (a street, committee, source, category or street/category), the
 * figures and a link back; never a household.
 */
#include "indic/indic_int.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/jsonw.h"

void indic_iso(int64_t ns, char *out)
{
    int64_t s = ns / INDIC_NS_S;
    if (ns < 0 && ns % INDIC_NS_S)
        s--;
    time_format_iso(s, 0, out);
}

static void enqueue(struct indic_engine *eng, const char *url, const char *body,
                    int64_t now)
{
    struct indic_note *n = xcalloc(1, sizeof(*n));
    n->url = strdup(url);
    n->body = strdup(body);
    n->next_ns = now;
    pthread_mutex_lock(&eng->nlock);
    struct indic_note **p = &eng->queue;
    while (*p)
        p = &(*p)->next;
    *p = n;
    eng->queued++;
    pthread_cond_broadcast(&eng->nwake);
    pthread_mutex_unlock(&eng->nlock);
}

static void labels(struct jsonw *w, const struct indic_rule *r,
                   const struct indic_alert *a)
{
    jsonw_object_begin(w);
    jsonw_kv_str(w, "alertname", r->id);
    jsonw_kv_str(w, "indicator", r->indicator);
    jsonw_kv_str(w, "subject", a->subject);
    jsonw_kv_str(w, "severity", r->severity);
    jsonw_kv_str(w, "source", "citybrain");
    jsonw_object_end(w);
}

static void annotations(struct jsonw *w, const struct indic_rule *r,
                        const struct indic_alert *a)
{
    char summary[400], num[64];
    snprintf(summary, sizeof(summary), "%s on %s for %s", r->id, r->indicator,
             a->subject);
    jsonw_object_begin(w);
    jsonw_kv_str(w, "summary", summary);
    snprintf(num, sizeof(num), "%g", a->value);
    jsonw_kv_str(w, "value", num);
    snprintf(num, sizeof(num), "%g", isfinite(a->score) ? a->score : 0.0);
    jsonw_kv_str(w, "score", num);
    jsonw_object_end(w);
}

static void one_alert(struct jsonw *w, struct indic_engine *eng,
                      const struct indic_rule *r, const struct indic_alert *a,
                      int am)
{
    char t[40], link[600];
    int resolved = a->state == AS_RESOLVED;
    jsonw_object_begin(w);
    if (!am)
        jsonw_kv_str(w, "status", resolved ? "resolved" : "firing");
    jsonw_key(w, "labels");
    labels(w, r, a);
    jsonw_key(w, "annotations");
    annotations(w, r, a);
    indic_iso(a->fired_at ? a->fired_at : a->active_since, t);
    jsonw_kv_str(w, "startsAt", t);
    if (resolved) {
        indic_iso(a->resolved_at, t);
        jsonw_kv_str(w, "endsAt", t);
    } else if (!am) {
        jsonw_kv_str(w, "endsAt", "0001-01-01T00:00:00Z");
    }
    snprintf(link, sizeof(link), "%s/api/v1/alerts/%lld", eng->public_url,
             (long long)a->id);
    jsonw_kv_str(w, "generatorURL", link);
    if (!am) {
        char fp[20];
        snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)a->id);
        jsonw_kv_str(w, "fingerprint", fp);
    }
    jsonw_object_end(w);
}

void indic_notify_alert(struct indic_engine *eng, const struct indic_rule *r,
                        const struct indic_alert *a, int64_t now_ns)
{
    if (!*eng->webhook_urls)
        return;
    struct sbuf body = SBUF_INIT;
    struct jsonw w;
    char key[400];
    jsonw_init(&w, &body);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "version", "4");
    snprintf(key, sizeof(key), "{}:{alertname=\"%s\", subject=\"%s\"}", r->id,
             a->subject);
    jsonw_kv_str(&w, "groupKey", key);
    jsonw_kv_int(&w, "truncatedAlerts", 0);
    jsonw_kv_str(&w, "status", a->state == AS_RESOLVED ? "resolved" : "firing");
    jsonw_kv_str(&w, "receiver", "citybrain-webhook");
    jsonw_key(&w, "groupLabels");
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "alertname", r->id);
    jsonw_kv_str(&w, "subject", a->subject);
    jsonw_object_end(&w);
    jsonw_key(&w, "commonLabels");
    labels(&w, r, a);
    jsonw_key(&w, "commonAnnotations");
    annotations(&w, r, a);
    jsonw_kv_str(&w, "externalURL", eng->public_url);
    jsonw_key(&w, "alerts");
    jsonw_array_begin(&w);
    one_alert(&w, eng, r, a, 0);
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    /* one copy per receiver */
    const char *p = eng->webhook_urls;
    while (*p) {
        size_t n = strcspn(p, ",");
        char url[1024];
        if (n && n < sizeof(url)) {
            memcpy(url, p, n);
            url[n] = '\0';
            enqueue(eng, url, body.buf, now_ns);
        }
        p += n + (p[n] == ',');
    }
    sbuf_release(&body);
}

void indic_notify_am(struct indic_engine *eng, const struct indic_rule *r,
                     const struct indic_alert *a, int64_t now_ns)
{
    if (!*eng->am_url)
        return;
    struct sbuf body = SBUF_INIT;
    struct jsonw w;
    char url[1100];
    jsonw_init(&w, &body);
    jsonw_array_begin(&w);
    one_alert(&w, eng, r, a, 1);
    jsonw_array_end(&w);
    snprintf(url, sizeof(url), "%s/api/v2/alerts", eng->am_url);
    enqueue(eng, url, body.buf, now_ns);
    sbuf_release(&body);
}

static size_t discard(void *p, size_t size, size_t n, void *ctx)
{
    return size * n;
}

/* POSTs body; the HTTP status, or 0 when no answer came. */
static long post(const char *url, const char *body)
{
    CURL *c = curl_easy_init();
    long status = 0;
    if (!c)
        return 0;
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* Saves n in the dead letters; reason: why it was given up. */
static void dead_letter(struct indic_engine *eng, struct indic_note *n,
                        long status, const char *reason)
{
    struct sbuf doc = SBUF_INIT;
    struct jsonw w;
    char id[40], t[40];
    int64_t now = indic_now_ns();
    indic_iso(now, t);
    jsonw_init(&w, &doc);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "url", n->url);
    jsonw_kv_str(&w, "failed_at", t);
    jsonw_kv_int(&w, "attempts", n->attempt);
    jsonw_kv_int(&w, "last_status", status);
    jsonw_kv_str(&w, "reason", reason);
    jsonw_key(&w, "payload");
    jsonw_raw(&w, n->body, strlen(n->body));
    jsonw_object_end(&w);
    static _Atomic unsigned serial; /* two letters in one clock tick */
    snprintf(id, sizeof(id), "%020lld-%08x", (long long)now, serial++);
    if (store_doc_put(eng->st, "dead_letter", id, doc.buf))
        log_msg(LOG_WARN, "indic", "dead letter not saved | url=%s", n->url);
    log_msg(LOG_WARN, "indic", "notification dead | url=%s attempts=%d", n->url,
            n->attempt);
    sbuf_release(&doc);
}

/* Takes the first due note off the queue (nlock held); NULL: none due. */
static struct indic_note *take_due(struct indic_engine *eng, int64_t now,
                                   int64_t *OUT_next)
{
    *OUT_next = INT64_MAX;
    for (struct indic_note **p = &eng->queue; *p; p = &(*p)->next) {
        if ((*p)->next_ns <= now) {
            struct indic_note *n = *p;
            *p = n->next;
            n->next = NULL;
            return n;
        }
        if ((*p)->next_ns < *OUT_next)
            *OUT_next = (*p)->next_ns;
    }
    return NULL;
}

static void note_free(struct indic_note *n)
{
    free(n->url);
    free(n->body);
    free(n);
}

void *indic_notify_thread(void *arg)
{
    struct indic_engine *eng = arg;
    pthread_mutex_lock(&eng->nlock);
    while (!eng->stopping) {
        int64_t next;
        int64_t now = time_now_ns();
        struct indic_note *n = take_due(eng, now, &next);
        if (!n) {
            struct timespec ts;
            int64_t until = next == INT64_MAX ? now + INDIC_NS_S : next;
            ts.tv_sec = until / INDIC_NS_S;
            ts.tv_nsec = until % INDIC_NS_S;
            pthread_cond_timedwait(&eng->nwake, &eng->nlock, &ts);
            continue;
        }
        pthread_mutex_unlock(&eng->nlock);
        long status = post(n->url, n->body);
        n->attempt++;
        int ok = status >= 200 && status < 300;
        int dead = !ok && n->attempt > eng->cfg.webhook_retries;
        if (dead)
            dead_letter(eng, n, status, "retries exhausted");
        pthread_mutex_lock(&eng->nlock);
        if (ok) {
            eng->sent++;
        } else {
            eng->failed++;
            log_msg(LOG_INFO, "indic",
                    "notification failed | url=%s "
                    "status=%ld attempt=%d",
                    n->url, status, n->attempt);
        }
        if (ok || dead) {
            eng->dead += dead;
            eng->queued--;
            note_free(n);
            pthread_cond_broadcast(&eng->nwake);
            continue;
        }
        int64_t delay = (int64_t)eng->cfg.webhook_backoff_ms * 1000000
                        << (n->attempt - 1 < 10 ? n->attempt - 1 : 10);
        n->next_ns = time_now_ns() + delay;
        n->next = eng->queue;
        eng->queue = n;
    }
    pthread_mutex_unlock(&eng->nlock);
    return NULL;
}

void indic_notify_drain(struct indic_engine *eng, int timeout_ms)
{
    int64_t until = time_now_ns() + (int64_t)timeout_ms * 1000000;
    pthread_mutex_lock(&eng->nlock);
    while (eng->queued && time_now_ns() < until) {
        struct timespec ts;
        int64_t t = time_now_ns() + 50000000;
        ts.tv_sec = t / INDIC_NS_S;
        ts.tv_nsec = t % INDIC_NS_S;
        pthread_cond_timedwait(&eng->nwake, &eng->nlock, &ts);
    }
    pthread_mutex_unlock(&eng->nlock);
}

void indic_notify_abandon(struct indic_engine *eng)
{
    pthread_mutex_lock(&eng->nlock);
    struct indic_note *left = eng->queue;
    eng->queue = NULL;
    eng->dead += eng->queued;
    eng->queued = 0;
    pthread_mutex_unlock(&eng->nlock);
    while (left) {
        struct indic_note *n = left;
        left = n->next;
        dead_letter(eng, n, 0, "not delivered before the server stopped");
        note_free(n);
    }
}

void indic_notify_free(struct indic_engine *eng)
{
    while (eng->queue) {
        struct indic_note *n = eng->queue;
        eng->queue = n->next;
        note_free(n);
    }
}

static int dead_doc(void *ctx, const char *id, const char *json)
{
    jsonw_raw(ctx, json, strlen(json)); /* stored as written by jsonw */
    return 0;
}

int indic_dead_letters_json(struct indic_engine *eng, struct sbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_array_begin(&w);
    int rc = store_doc_scan(eng->st, "dead_letter", dead_doc, &w);
    jsonw_array_end(&w);
    return rc;
}
