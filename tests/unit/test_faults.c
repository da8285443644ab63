/*
 * test_faults.c - the server over a store whose disk is full: a write gets
 * 503 with Retry-After and "disk full", reads keep working, and writes work
 * again once there is room.  The store and the HTTP server run in this
 * process, so the disk-full seam (store_test_disk_full) can be switched
 * while a client talks to the server over loopback.
 */
#include "test_store_fixture.h"

#include <curl/curl.h>
#include <errno.h>

#include "auth/auth.h"
#include "clock/clock.h"
#include "config/config.h"
#include "http/http.h"

struct answer {
    long status;
    struct sbuf body, headers;
};

static size_t collect(char *p, size_t size, size_t n, void *sb)
{
    sbuf_add(sb, p, size * n);
    return size * n;
}

/* One request to the server; the answer's body and headers are kept. */
static void call(int port, const char *token, const char *method,
                 const char *path, const char *body, struct answer *a)
{
    char url[256], auth[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    sbuf_init(&a->body);
    sbuf_init(&a->headers);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a->headers);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void answer_release(struct answer *a)
{
    sbuf_release(&a->body);
    sbuf_release(&a->headers);
}

/* A line-protocol body of n gas readings of H0000001, a minute apart, from
 * first_s on. */
static char *readings_body(int n, int64_t first_s)
{
    struct sbuf sb = SBUF_INIT;
    sbuf_init(&sb);
    for (int i = 0; i < n; i++)
        sbuf_addf(&sb, "gas,household=H0000001 index=%d.5 %lld\n", i,
                  (long long)(first_s + i * 60LL));
    return sbuf_detach(&sb, NULL);
}

static void test_disk_full_is_503_and_reads_go_on(void **state)
{
    struct fixture *fx = fx_new(1000);
    struct config cfg;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:0", "test"), 0);
    dclock_configure(DCLOCK_WALL, 480);
    int created, port;
    assert_int_equal(auth_ensure_admin(fx->st, fx->dir, &created), 0);
    char path[128], token[128] = "";
    snprintf(path, sizeof(path), "%s/admin.token", fx->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(token, sizeof(token), f));
    fclose(f);
    token[strcspn(token, "\n")] = '\0';
    add_households(fx->st, 3);
    struct http_server *srv;
    assert_int_equal(http_start(&cfg, fx->st, NULL, NULL, NULL, &srv, &port),
                     0);

    int64_t now_s = time_now_ns() / NS - 30 * 86400;
    struct answer a;
    char *body = readings_body(200, now_s);
    call(port, token, "POST", "/api/v1/write?precision=s", body, &a);
    assert_int_equal(a.status, 200);
    answer_release(&a);
    free(body);

    assert_int_equal(store_test_disk_full(fx->st, 1), 0);
    body = readings_body(5000, now_s + 200 * 60);
    call(port, token, "POST", "/api/v1/write?precision=s", body, &a);
    assert_int_equal(a.status, 503);
    assert_non_null(strstr(a.body.buf, "disk full"));
    assert_non_null(strcasestr(a.headers.buf, "\nRetry-After: "));
    answer_release(&a);
    /* Reads are served while the disk is full. */
    call(port, token, "GET", "/api/v1/stats/ingest", NULL, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body.buf, "\"readings\":200,"));
    answer_release(&a);

    /* With room again, the same batch is stored. */
    assert_int_equal(store_test_disk_full(fx->st, 0), 0);
    call(port, token, "POST", "/api/v1/write?precision=s", body, &a);
    assert_int_equal(a.status, 200);
    answer_release(&a);
    free(body);

    http_stop(srv);
    config_release(&cfg);
    fx_free(fx);
}

/* The store's error keeps the OS cause: ENOSPC, not a bare store error. */
static void test_store_error_keeps_errno(void **state)
{
    struct fixture *fx = fx_new(1000);
    add_households(fx->st, 2);
    assert_int_equal(store_test_disk_full(fx->st, 1), 0);
    struct ingest_batch b;
    batch_new(&b, FEED_READINGS, 5000);
    for (size_t i = 0; i < 5000; i++)
        set_reading(&b, i, 0, METRIC_WATER, READING_INDEX,
                    1764547200 * NS + (int64_t)i * HOUR_NS, (double)i);
    struct store_write_result res;
    int rc = store_write(fx->st, &b, "test", &res);
    assert_int_equal(cb_errno(rc), ENOSPC);
    assert_string_equal(cb_strerror(rc), "No space left on device");
    assert_int_equal(store_test_disk_full(fx->st, 0), 0);
    assert_int_equal(store_write(fx->st, &b, "test", &res), 0);
    assert_int_equal(res.accepted, 5000);
    ingest_batch_release(&b);
    fx_free(fx);
}

int main(void)
{
    (void)fx_reopen;
    (void)local_midnight;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_error_keeps_errno),
        cmocka_unit_test(test_disk_full_is_503_and_reads_go_on),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
