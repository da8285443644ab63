/* test_store_photos.c - the case_photo table (its quota, checked in the
 * writer's transaction) and the scan of cases by source. */
/* the fixture's batch helpers are not needed here */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_store_fixture.h"

static int64_t add_case(struct store *st, const char *source_kind,
                        const char *category, int64_t created_ns)
{
    struct case_row c = {0};
    struct case_step first = {created_ns, "collect", "",      "collected",
                              1,          "tester",  "admin", ""};
    int64_t id;
    snprintf(c.state, sizeof(c.state), "collected");
    snprintf(c.category, sizeof(c.category), "%s", category);
    snprintf(c.source_kind, sizeof(c.source_kind), "%s", source_kind);
    c.has_place = 1;
    c.lat = 31.2;
    c.lon = 121.5;
    c.created_ns = c.updated_ns = created_ns;
    assert_int_equal(store_case_insert(st, &c, &first, &id), 0);
    return id;
}

struct seen {
    int64_t ids[16];
    int n;
};

static void seen_case(void *ctx, const struct case_row *c)
{
    struct seen *s = ctx;
    s->ids[s->n++] = c->id;
}

static void test_cases_by_source(void **state)
{
    struct fixture *fx = fx_new(50);
    int64_t a = add_case(fx->st, "open311", "garbage", 10 * DAY_NS);
    add_case(fx->st, "event", "garbage", 11 * DAY_NS);
    int64_t b = add_case(fx->st, "open311", "noise", 12 * DAY_NS);
    add_case(fx->st, "group_rental", "group_rental", 13 * DAY_NS);
    struct seen s = {0};
    assert_int_equal(store_scan_cases_by_source(fx->st, "open311", 0, INT64_MAX,
                                                0, seen_case, &s),
                     0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ids[0], b); /* newest first */
    assert_int_equal(s.ids[1], a);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_scan_cases_by_source(fx->st, "open311", 11 * DAY_NS,
                                                INT64_MAX, 0, seen_case, &s),
                     0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ids[0], b);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_scan_cases_by_source(fx->st, "open311", 0, INT64_MAX,
                                                1, seen_case, &s),
                     0);
    assert_int_equal(s.n, 1);
    fx_free(fx);
}

static void photo(struct photo_row *p, const char *id, int64_t case_id,
                  const char *unit, int64_t bytes)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->case_id = case_id;
    snprintf(p->content_type, sizeof(p->content_type), "image/jpeg");
    p->bytes = bytes;
    p->created_ns = bytes; /* distinct, ordered */
    p->token_id = 7;
    snprintf(p->who, sizeof(p->who), "王阿姨");
    snprintf(p->quota_unit, sizeof(p->quota_unit), "%s", unit);
}

static void seen_photo(void *ctx, const struct photo_row *p)
{
    struct seen *s = ctx;
    s->ids[s->n++] = p->bytes;
}

static void test_photo_quota(void **state)
{
    struct fixture *fx = fx_new(50);
    struct photo_row p, back;
    int64_t used = -1;
    photo(&p, "P1", 5, "committee:梅园一居委", 600);
    assert_int_equal(store_photo_insert(fx->st, &p, 1000, &used), 0);
    assert_int_equal(used, 0);
    photo(&p, "P2", 5, "committee:梅园一居委", 500);
    assert_int_equal(store_photo_insert(fx->st, &p, 1000, &used), CB_ETOOBIG);
    assert_int_equal(used, 600);
    assert_int_equal(store_photo_get(fx->st, "P2", &back), CB_ENOTFOUND);
    /* exactly to the quota is allowed; another unit has its own */
    photo(&p, "P3", 5, "committee:梅园一居委", 400);
    assert_int_equal(store_photo_insert(fx->st, &p, 1000, &used), 0);
    photo(&p, "P4", 6, "committee:别的居委", 900);
    assert_int_equal(store_photo_insert(fx->st, &p, 1000, &used), 0);
    assert_int_equal(store_photo_get(fx->st, "P3", &back), 0);
    assert_int_equal(back.case_id, 5);
    assert_int_equal(back.bytes, 400);
    assert_string_equal(back.who, "王阿姨");
    assert_string_equal(back.quota_unit, "committee:梅园一居委");
    struct seen s = {0};
    assert_int_equal(store_scan_case_photos(fx->st, 5, seen_photo, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ids[0], 400); /* oldest first */
    assert_int_equal(s.ids[1], 600);
    fx_reopen(fx); /* it is stored */
    assert_int_equal(store_photo_get(fx->st, "P4", &back), 0);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_by_source),
        cmocka_unit_test(test_photo_quota),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
