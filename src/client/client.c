/* client.c - libcurl easy handle per client, retries on backpressure. */
#include "client/client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct client {
    CURL *curl;
    char *base;
    char auth[400];
    int max_retries;
    const char *method; /* NULL: GET or POST; else a custom method */
};

struct client *client_new(const char *base_url, const char *token)
{
    static int global_done;
    if (!global_done) { /* first use is on the main thread */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_done = 1;
    }
    struct client *c = xcalloc(1, sizeof(*c));
    c->curl = curl_easy_init();
    if (!c->curl)
        abort();
    c->base = xstrdup(base_url);
    if (token)
        snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", token);
    c->max_retries = 20;
    return c;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c->base);
    free(c);
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    if (ctx)
        sbuf_add(ctx, data, size * n);
    return size * n;
}

static int client_once(struct client *c, const char *path,
                       const char *content_type, const char *body, size_t len,
                       int *OUT_status, long *OUT_retry_after, struct sbuf *out)
{
    char url[2048], ct[200];
    snprintf(url, sizeof(url), "%s%s", c->base, path);
    struct curl_slist *h = NULL;
    if (c->auth[0])
        h = curl_slist_append(h, c->auth);
    if (content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        h = curl_slist_append(h, ct);
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 300L);
    if (c->method)
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, c->method);
    if (body) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (out)
        sbuf_reset(out);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_slist_free_all(h);
    long status = 0;
    curl_off_t retry = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &retry);
    }
    *OUT_status = (int)status;
    *OUT_retry_after = (long)retry;
    return rc == CURLE_OK ? 0 : CB_EIO;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int client_post(struct client *c, const char *path, const char *content_type,
                const char *body, size_t len, int *OUT_status, struct sbuf *out)
{
    long backoff = 50;
    for (int attempt = 0;; attempt++) {
        long retry_after;
        int rc = client_once(c, path, content_type, body, len, OUT_status,
                             &retry_after, out);
        int busy = rc == 0 && (*OUT_status == 503 || *OUT_status == 429);
        if (!busy || attempt >= c->max_retries)
            return rc;
        sleep_ms(retry_after > 0 ? retry_after * 1000 : backoff);
        if (backoff < 5000)
            backoff *= 2;
    }
}

int client_get(struct client *c, const char *path, int *OUT_status,
               struct sbuf *out)
{
    long retry_after;
    return client_once(c, path, NULL, NULL, 0, OUT_status, &retry_after, out);
}

int client_delete(struct client *c, const char *path, int *OUT_status)
{
    long retry_after;
    c->method = "DELETE";
    int rc =
        client_once(c, path, NULL, NULL, 0, OUT_status, &retry_after, NULL);
    c->method = NULL;
    return rc;
}

json_t *client_get_json(struct client *c, const char *path, const char *who)
{
    struct sbuf body = SBUF_INIT;
    int status = 0;
    sbuf_init(&body);
    json_t *j = NULL;
    if (client_get(c, path, &status, &body) == 0 && status == 200)
        j = json_loadb(body.buf, body.len, 0, NULL);
    if (!j)
        fprintf(stderr, "%s: GET %.80s: HTTP %d\n", who, path, status);
    sbuf_release(&body);
    return j;
}

json_t *client_post_json(struct client *c, const char *path,
                         const struct sbuf *body, int *OUT_status)
{
    struct sbuf resp = SBUF_INIT;
    sbuf_init(&resp);
    json_t *j = NULL;
    *OUT_status = 0;
    if (client_post(c, path, "application/json", body->buf, body->len,
                    OUT_status, &resp) == 0 &&
        (*OUT_status == 200 || *OUT_status == 201))
        j = json_loadb(resp.buf, resp.len, 0, NULL);
    sbuf_release(&resp);
    return j;
}
