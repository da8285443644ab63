/* test_live.c - the live hub (ring, resume, filtering, budgets) and the
 * session table and one-time links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "live/live.h"
#include "session/session.h"
#pragma GCC diagnostic ignored "-Wunused-function" /* the fixture's helpers */
#include "test_store_fixture.h"

/* A fake connection: counts parks and wakes. */
struct conn {
    int parks, wakes, parked, gone;
};
static void c_park(void *ctx)
{
    struct conn *c = ctx;
    c->parks++;
    c->parked = 1;
}
static void c_wake(void *ctx)
{
    struct conn *c = ctx;
    c->wakes++;
    c->parked = 0;
}
static int c_gone(void *ctx)
{
    return ((struct conn *)ctx)->gone;
}

static struct live *hub_new(size_t ring, size_t lag)
{
    struct live_config cfg;
    live_config_defaults(&cfg);
    cfg.ring_events = ring;
    cfg.reader_lag_max = lag;
    cfg.max_readers = 3;
    cfg.heartbeat_s = 3600;
    struct live *hub;
    assert_int_equal(live_new(&cfg, &hub), 0);
    return hub;
}

static struct live_reader *reader(struct live *hub, struct conn *c,
                                  enum role role, const char *committee,
                                  int64_t after)
{
    struct live_viewer who = {role, committee, 0};
    struct live_waker w = {c_park, c_wake, c_gone, c};
    struct live_reader *r;
    assert_int_equal(live_reader_open(hub, &who, after, &w, &r), 0);
    return r;
}

/* Everything the reader has now, as text (it parks at the end). */
static char *drain(struct live_reader *r)
{
    static char text[1 << 16];
    size_t n = 0;
    ssize_t got;
    while ((got = live_reader_read(r, text + n, 7)) > 0) /* small reads */
        n += (size_t)got;
    text[n] = '\0';
    if (got == LIVE_END)
        strcat(text, "<END>");
    return text;
}

static void test_publish_and_read(void **state)
{
    struct live *hub = hub_new(8, 100);
    struct conn c = {0};
    struct live_reader *r = reader(hub, &c, ROLE_OPERATOR, NULL, -1);
    char *t = drain(r);
    assert_non_null(strstr(t, "retry: 3000\n"));
    assert_int_equal(c.parks, 1);
    int64_t seq = live_publish(hub, "ingest", "{\"feed\":\"readings\"}");
    assert_true(seq > 0);
    assert_int_equal(c.wakes, 1); /* the publish woke the parked reader */
    char want[128];
    snprintf(want, sizeof(want),
             "id: %lld\nevent: ingest\ndata: {\"feed\":\"readings\"}\n\n",
             (long long)seq);
    assert_string_equal(drain(r), want);
    assert_int_equal(live_publish(hub, "scene", "{}"), seq + 1);
    /* bad events */
    assert_int_equal(live_publish(hub, "Bad Type", "{}"), CB_EINVAL);
    assert_int_equal(live_publish(hub, "x", "{\n}"), CB_EINVAL);
    assert_int_equal(live_publish(hub, "x", ""), CB_EINVAL);
    char *big = malloc(70000);
    memset(big, 'a', 69999);
    big[69999] = '\0';
    assert_int_equal(live_publish(hub, "x", big), CB_ETOOBIG);
    free(big);
    live_reader_close(r);
    live_free(hub);
}

static void test_resume_and_reset(void **state)
{
    struct live *hub = hub_new(4, 100);
    int64_t first = live_publish(hub, "a", "{\"n\":1}");
    for (int i = 2; i <= 6; i++)
        live_publish(hub, "a", "{}"); /* seqs first..first+5; ring holds 4 */
    struct conn c = {0};
    /* resume inside the ring: exactly the events after the id */
    struct live_reader *r = reader(hub, &c, ROLE_ADMIN, NULL, first + 3);
    char *t = drain(r);
    char want[64];
    snprintf(want, sizeof(want), "id: %lld\n", (long long)first + 4);
    assert_non_null(strstr(t, want));
    assert_null(strstr(t, "reset"));
    snprintf(want, sizeof(want), "id: %lld\n", (long long)first + 3);
    assert_null(strstr(t, want));
    live_reader_close(r);
    /* the id fell out of the ring: reset, then the oldest held */
    r = reader(hub, &c, ROLE_ADMIN, NULL, first);
    t = drain(r);
    assert_non_null(strstr(t, "event: reset\n"));
    snprintf(want, sizeof(want), "\"oldest\":%lld", (long long)first + 2);
    assert_non_null(strstr(t, want));
    assert_true(strstr(t, "event: reset") < strstr(t, "event: a"));
    live_reader_close(r);
    /* an id from the future (another run): reset too */
    r = reader(hub, &c, ROLE_ADMIN, NULL, first + 1000);
    assert_non_null(strstr(drain(r), "event: reset\n"));
    live_reader_close(r);
    live_free(hub);
}

static void test_audience_filtering(void **state)
{
    struct live *hub = hub_new(16, 100);
    struct conn c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0};
    struct live_reader *op = reader(hub, &c1, ROLE_OPERATOR, NULL, -1);
    struct live_reader *mei =
        reader(hub, &c2, ROLE_COMMITTEE, "梅园一居委", -1);
    struct live_reader *other =
        reader(hub, &c3, ROLE_COMMITTEE, "别的居委", -1);
    drain(op);
    drain(mei);
    drain(other);
    live_publish(hub, "scene", "{\"staff\":1}");
    struct live_audience mine = {LIVE_STAFF | LIVE_ROLE(ROLE_COMMITTEE),
                                 "梅园一居委", 0};
    live_publish_to(hub, "task", "{\"household\":\"H1\"}", &mine);
    struct live_audience all_committees = {LIVE_ROLE(ROLE_COMMITTEE), NULL, 0};
    live_publish_to(hub, "notice", "{}", &all_committees);
    char *t = drain(op);
    assert_non_null(strstr(t, "event: scene"));
    assert_non_null(strstr(t, "event: task"));
    assert_null(strstr(t, "event: notice"));
    t = drain(mei);
    assert_null(strstr(t, "event: scene"));
    assert_non_null(strstr(t, "\"H1\""));
    assert_non_null(strstr(t, "event: notice"));
    t = drain(other);
    assert_null(strstr(t, "H1")); /* never another committee's household */
    assert_null(strstr(t, "event: scene"));
    assert_non_null(strstr(t, "event: notice"));
    /* publishers: their own department only */
    live_reader_close(other);
    struct live_viewer pub = {ROLE_PUBLISHER, NULL, 7};
    struct live_waker w = {c_park, c_wake, NULL, &c4};
    struct live_reader *p;
    assert_int_equal(live_reader_open(hub, &pub, -1, &w, &p), 0);
    drain(p);
    struct live_audience dept7 = {LIVE_ROLE(ROLE_PUBLISHER), NULL, 7};
    struct live_audience dept8 = {LIVE_ROLE(ROLE_PUBLISHER), NULL, 8};
    live_publish_to(hub, "ingest", "{\"d\":8}", &dept8);
    live_publish_to(hub, "ingest", "{\"d\":7}", &dept7);
    t = drain(p);
    assert_non_null(strstr(t, "{\"d\":7}"));
    assert_null(strstr(t, "{\"d\":8}"));
    live_reader_close(p);
    live_reader_close(op);
    live_reader_close(mei);
    live_free(hub);
}

static void test_slow_reader_is_cut(void **state)
{
    struct live *hub = hub_new(64, 5);
    struct conn c = {0};
    struct live_reader *r = reader(hub, &c, ROLE_ADMIN, NULL, -1);
    drain(r);
    for (int i = 0; i < 6; i++) /* the publisher never waits */
        assert_true(live_publish(hub, "a", "{}") > 0);
    char *t = drain(r);
    assert_non_null(strstr(t, "event: bye\ndata: {\"reason\":\"too slow"));
    assert_non_null(strstr(t, "<END>"));
    assert_null(strstr(t, "event: a"));
    struct live_stats st;
    live_get_stats(hub, &st);
    assert_int_equal(st.cut, 1);
    live_reader_close(r);
    /* within the limit: everything */
    r = reader(hub, &c, ROLE_ADMIN, NULL, -1);
    drain(r);
    for (int i = 0; i < 5; i++)
        live_publish(hub, "a", "{}");
    t = drain(r);
    assert_null(strstr(t, "bye"));
    live_reader_close(r);
    live_free(hub);
}

static void test_reader_budget_and_shutdown(void **state)
{
    struct live *hub = hub_new(8, 100);
    struct conn c[4] = {{0}};
    struct live_reader *r[3];
    for (int i = 0; i < 3; i++)
        r[i] = reader(hub, &c[i], ROLE_ANALYST, NULL, -1);
    struct live_viewer who = {ROLE_ANALYST, NULL, 0};
    struct live_waker w = {c_park, c_wake, NULL, &c[3]};
    struct live_reader *extra;
    assert_int_equal(live_reader_open(hub, &who, -1, &w, &extra), CB_EBUSY);
    assert_null(extra);
    live_reader_close(r[2]);
    r[2] = reader(hub, &c[2], ROLE_ANALYST, NULL, -1);
    for (int i = 0; i < 3; i++)
        drain(r[i]);
    assert_int_equal(c[0].parked, 1);
    live_shutdown(hub);
    assert_int_equal(c[0].parked, 0); /* woken to say bye */
    char *t = drain(r[0]);
    assert_non_null(strstr(t, "event: bye"));
    assert_non_null(strstr(t, "stopping"));
    assert_non_null(strstr(t, "<END>"));
    assert_int_equal(live_publish(hub, "a", "{}"), CB_ECLOSED);
    assert_int_equal(live_reader_open(hub, &who, -1, &w, &extra), CB_ECLOSED);
    for (int i = 0; i < 3; i++)
        live_reader_close(r[i]);
    live_free(hub);
}

static void test_gone_client_ends_within_a_tick(void **state)
{
    struct live *hub = hub_new(8, 100);
    struct conn c = {0};
    struct live_reader *r = reader(hub, &c, ROLE_ADMIN, NULL, -1);
    drain(r);
    assert_int_equal(c.parked, 1);
    c.gone = 1;
    for (int i = 0; i < 300 && c.parked; i++) /* the ticker runs each second */
        usleep(10000);
    assert_int_equal(c.parked, 0);
    char buf[16];
    assert_int_equal(live_reader_read(r, buf, sizeof(buf)), LIVE_END);
    live_reader_close(r);
    struct live_stats st;
    live_get_stats(hub, &st);
    assert_int_equal(st.readers, 0);
    live_free(hub);
}

static void test_sessions(void **state)
{
    struct session_table *t = session_table_new(2, 3600);
    char hash[AUTH_HASH_LEN + 1], got[AUTH_HASH_LEN + 1];
    auth_token_hash("cb_secret", hash);
    char a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1], c[SESSION_ID_LEN + 1];
    assert_int_equal(session_create(t, hash, a), 0);
    assert_int_equal(strlen(a), SESSION_ID_LEN);
    assert_int_equal(session_create(t, hash, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(session_create(t, hash, c), CB_EBUSY); /* table full */
    assert_int_equal(session_lookup(t, a, got), 0);
    assert_string_equal(got, hash);
    session_drop(t, a);
    assert_int_equal(session_lookup(t, a, got), CB_EAUTH);
    assert_int_equal(session_create(t, hash, c), 0); /* the slot came back */
    assert_int_equal(session_lookup(t, "short", got), CB_EAUTH);
    /* the cookie header */
    char hdr[200], v[SESSION_ID_LEN + 1];
    snprintf(hdr, sizeof(hdr), "theme=dark; cb_session=%s; x=1", b);
    assert_int_equal(session_cookie_value(hdr, v), 0);
    assert_string_equal(v, b);
    assert_int_equal(session_cookie_value("cb_session=abc", v), CB_ENOTFOUND);
    assert_int_equal(session_cookie_value("a=b", v), CB_ENOTFOUND);
    assert_int_equal(session_cookie_value(NULL, v), CB_ENOTFOUND);
    session_table_free(t);
    /* expiry: a table whose sessions last 0 s */
    t = session_table_new(1, 0);
    assert_int_equal(session_create(t, hash, a), 0);
    assert_int_equal(session_lookup(t, a, got), CB_EAUTH);
    assert_int_equal(session_create(t, hash, b), 0); /* expired one freed */
    session_table_free(t);
}

static void test_login_links(void **state)
{
    struct fixture *fx = fx_new(1000);
    char hash[AUTH_HASH_LEN + 1], got[AUTH_HASH_LEN + 1];
    char code[SESSION_ID_LEN + 1];
    int64_t expires, created;
    auth_token_hash("cb_secret", hash);
    assert_int_equal(session_link_create(fx->st, hash, 0, code, &expires),
                     CB_EINVAL);
    assert_int_equal(session_link_create(fx->st, hash, 5, code, &expires), 0);
    assert_true(expires > time_now_ns());
    assert_int_equal(session_link_peek(fx->st, code, got, &created), 0);
    assert_string_equal(got, hash);
    assert_int_equal(session_link_consume(fx->st, code), 0);
    assert_int_equal(session_link_consume(fx->st, code), CB_EAUTH); /* once */
    assert_int_equal(session_link_peek(fx->st, code, got, &created), CB_EAUTH);
    /* an expired link, as stored */
    assert_int_equal(session_link_create(fx->st, hash, 5, code, &expires), 0);
    char key[96], value[160];
    char code_hash[AUTH_HASH_LEN + 1];
    auth_token_hash(code, code_hash);
    snprintf(key, sizeof(key), "login_once:%s", code_hash);
    snprintf(value, sizeof(value), "%s %lld %lld", hash,
             (long long)(time_now_ns() - 1000000000LL),
             (long long)(time_now_ns() - 2000000000LL));
    assert_int_equal(store_kv_set(fx->st, key, value), 0);
    assert_int_equal(session_link_peek(fx->st, code, got, &created), CB_EAUTH);
    assert_int_equal(session_link_peek(fx->st, "nonsense", got, &created),
                     CB_EAUTH);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_and_read),
        cmocka_unit_test(test_resume_and_reset),
        cmocka_unit_test(test_audience_filtering),
        cmocka_unit_test(test_slow_reader_is_cut),
        cmocka_unit_test(test_reader_budget_and_shutdown),
        cmocka_unit_test(test_gone_client_ends_within_a_tick),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_login_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
