/* test_address.c - address normalisation, the index and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address/address.h"
#include "util/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void expect_key(const char *text, const char *key)
{
    char out[ADDRESS_KEY_MAX];
    int rc = address_normalize(text, strlen(text), out, sizeof(out));
    if (rc || strcmp(out, key))
        print_error("address '%s': rc %d key '%s', expected '%s'\n", text, rc,
                    out, key);
    assert_int_equal(rc, 0);
    assert_string_equal(out, key);
}

static void test_brief_variants(void **state)
{
    /* Every spelling of one flat (BRIEF section 3 and the delivery
     * platforms' habits) gives one key. */
    static const char *const variants[] = {
        "上海市浦东新区张杨路123弄4号502室",
        "浦东张杨路123弄4号楼502",
        "张杨路１２３弄４号５０２室",
        "上海市浦东新区张杨路１２３弄４号５０２室",
        "张杨路123弄4栋502",
        "张杨路123弄4幢502室",
        "浦东新区张杨路123弄4号楼502室",
        "张杨路123弄4号502",
        "张杨路 123弄 4号 502室",
        "上海市 浦东新区 张杨路123弄 4号 502室",
        "张杨路123弄4号502室",
        "上海浦东张杨路123弄4号502室",
        "中国上海市浦东新区张杨路123弄4号502室",
        "浦东新区张杨路123弄(梅园一村)4号502室",
        "张杨路123弄4号502室(近东方路)",
        "张杨路123弄4号502室（近世纪大道）",
        "张杨路123弄【梅园一村】4号502室",
        "张杨路123弄4-502",
        "张杨路123弄4号-502",
        "张杨路123-4-502",
        "张杨路123弄4#502",
        "张杨路123弄4#楼502室",
        "张杨路一二三弄四号五〇二室",
        "张杨路一百二十三弄四号楼五零二",
        "张杨路123弄4号5楼502室",
        "张杨路123弄4号5层502室",
        "张杨路123弄4楼502",
        "张杨路123弄4号0502室",
        "张杨路123弄04号502室",
        "上海市浦东新区陆家嘴街道张杨路123弄4号502室",
        "浦东新区梅园一村居委会张杨路123弄4号502室",
        "张杨路123号4号楼502室",
        "张杨路123弄 4 502",
        "\t张杨路123弄4号502室 \r\n",
        "張杨路123弄4號樓502室",
        "张杨路123弄4号502室 张先生收",
        "张杨路123弄梅园一村4号502室",
        "张杨路１２３弄４－５０２",
    };
    for (size_t i = 0; i < N(variants); i++)
        expect_key(variants[i],
                   i == 34 ? "張杨路|123|4|502" : "张杨路|123|4|502");
}

static void test_other_forms(void **state)
{
    expect_key("张杨路500号1201室", "张杨路||500|1201");
    expect_key("张杨路500号", "张杨路||500|");
    expect_key("张杨路123号502", "张杨路||123|502");
    expect_key("张杨路123弄4号楼2单元502室", "张杨路|123|4-2|502");
    expect_key("张杨路123弄4号502a室", "张杨路|123|4|502A");
    expect_key("金杨小区A座1201", "金杨小区||A|1201");
    expect_key("张杨路123弄B1栋301", "张杨路|123|B1|301");
    expect_key("七宝镇七莘路100弄2号301", "七莘路|100|2|301");
    expect_key("唐镇唐陆路100弄2号301", "唐陆路|100|2|301");
    expect_key("浦东新区川沙新镇川沙路100弄2号301", "川沙路|100|2|301");
    expect_key("彭镇路100弄2号301", "彭镇路|100|2|301");
    /* Roads that start like a district, and numerals in road names. */
    expect_key("浦东南路100弄2号301室", "浦东南路|100|2|301");
    expect_key("浦东新区浦东南路100弄2号301", "浦东南路|100|2|301");
    expect_key("浦东大道1号", "浦东大道||1|");
    expect_key("上海市浦东新区浦东大道1号", "浦东大道||1|");
    expect_key("四平路1239号", "四平路||1239|");
    expect_key("南六公路100弄3号201", "南六公路|100|3|201");
    expect_key("三三公路8号", "三三公路||8|");
    expect_key("环湖西一路99弄1号101室", "环湖西一路|99|1|101");
    expect_key("张杨路十二弄二十号三〇一", "张杨路|12|20|301");
    expect_key("张杨路一百零三弄两号十室", "张杨路|103|2|10");
    /* Text after the room is a note, even with numbers in it. */
    expect_key("张杨路123弄4号502室 电话13812345678", "张杨路|123|4|502");
}

static void test_distinct_flats(void **state)
{
    static const char *const flats[] = {"张杨路123弄4号502室",
                                        "张杨路123弄4号501室",
                                        "张杨路123弄5号502室",
                                        "张杨路124弄4号502室",
                                        "张杨北路123弄4号502室",
                                        "浦东南路123弄4号502室",
                                        "浦东大道123弄4号502室",
                                        "张杨路123号502室",
                                        "张杨路123弄4号1502室",
                                        "张杨路123弄4号楼2单元502室",
                                        "张杨路123弄4号楼3单元502室",
                                        "张杨路123弄44号502室",
                                        "张杨路12弄34号502室",
                                        "张杨路123弄4号5020室",
                                        "张杨路123弄4号502A室",
                                        "张杨路123弄4号502B室",
                                        "张杨路123弄A4号502室",
                                        "张杨路1234弄502室",
                                        "张杨路123弄4号",
                                        "张杨路123弄",
                                        "东方路123弄4号502室",
                                        "张杨路500号1201室",
                                        "张杨路500号121室",
                                        "张杨路50号1201室"};
    char keys[N(flats)][ADDRESS_KEY_MAX];
    for (size_t i = 0; i < N(flats); i++) {
        assert_int_equal(address_normalize(flats[i], strlen(flats[i]), keys[i],
                                           sizeof(keys[i])),
                         0);
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(keys[i], keys[j]))
                print_error("'%s' and '%s' share key '%s'\n", flats[i],
                            flats[j], keys[i]);
            assert_string_not_equal(keys[i], keys[j]);
        }
    }
}

static void test_no_key(void **state)
{
    static const char *const bad[] = {"",
                                      "   ",
                                      "张杨路",
                                      "123弄4号502室",
                                      "(张杨路123弄4号502室)",
                                      "张杨路123弄4号5号6号502室",
                                      "张杨路4号楼3号楼502",
                                      ("张杨路\xff"
                                       "123"),
                                      "张杨路123弄1号2号3号4号5号6号7号",
                                      "上海市浦东新区"};
    char out[ADDRESS_KEY_MAX];
    for (size_t i = 0; i < N(bad); i++) {
        strcpy(out, "junk");
        assert_int_equal(
            address_normalize(bad[i], strlen(bad[i]), out, sizeof(out)),
            CB_EINVAL);
        assert_string_equal(out, "");
    }
    /* Too long a text, and too small an output. */
    char text[ADDRESS_TEXT_MAX + 64];
    memset(text, 'x', sizeof(text));
    memcpy(text, "张杨路123弄", 14);
    assert_int_equal(address_normalize(text, sizeof(text), out, sizeof(out)),
                     CB_EINVAL);
    const char *ok = "张杨路123弄4号502室";
    assert_int_equal(address_normalize(ok, strlen(ok), out, 8), CB_ETOOBIG);
    assert_string_equal(out, "");
    assert_int_equal(address_normalize(ok, strlen(ok), out, 21), 0);
    assert_string_equal(out, "张杨路|123|4|502");
}

static void test_index_basics(void **state)
{
    struct address_index *ix = address_index_new();
    assert_int_equal(address_index_count(ix), 0);
    assert_int_equal(address_index_get(ix, "张杨路|123|4|502"), -1);
    address_index_put_key(ix, "张杨路|123|4|502", 7);
    address_index_put_key(ix, "张杨路|123|4|501", 8);
    assert_int_equal(address_index_get(ix, "张杨路|123|4|502"), 7);
    assert_int_equal(address_index_get(ix, "张杨路|123|4|501"), 8);
    address_index_put_key(ix, "张杨路|123|4|502", 9); /* upsert */
    assert_int_equal(address_index_get(ix, "张杨路|123|4|502"), 9);
    assert_int_equal(address_index_count(ix), 2);
    assert_int_equal(address_index_remove_key(ix, "张杨路|123|4|502", 7),
                     CB_ENOTFOUND);
    assert_int_equal(address_index_remove_key(ix, "张杨路|123|4|502", 9), 0);
    assert_int_equal(address_index_get(ix, "张杨路|123|4|502"), -1);
    assert_int_equal(address_index_remove_key(ix, "张杨路|123|4|502", -1),
                     CB_ENOTFOUND);
    assert_int_equal(address_index_remove_key(ix, "张杨路|123|4|501", -1), 0);
    assert_int_equal(address_index_count(ix), 0);
    address_index_free(ix);
    address_index_free(NULL);
}

/* Many keys, with removals, checked against a plain array. */
static void test_index_many(void **state)
{
    enum { KEYS = 300000 };
    struct address_index *ix = address_index_new();
    int32_t *truth = malloc(KEYS * sizeof(*truth));
    char key[64];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "路%d|%d|%d|%d", i % 97, i / 1000,
                 i % 1000 / 10, i);
        address_index_put_key(ix, key, i);
        truth[i] = i;
    }
    assert_int_equal(address_index_count(ix), KEYS);
    for (int i = 0; i < KEYS; i += 3) {
        snprintf(key, sizeof(key), "路%d|%d|%d|%d", i % 97, i / 1000,
                 i % 1000 / 10, i);
        assert_int_equal(address_index_remove_key(ix, key, i), 0);
        truth[i] = -1;
    }
    for (int i = 1; i < KEYS; i += 7) {
        snprintf(key, sizeof(key), "路%d|%d|%d|%d", i % 97, i / 1000,
                 i % 1000 / 10, i);
        address_index_put_key(ix, key, i + 1);
        truth[i] = i + 1;
    }
    size_t live = 0;
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "路%d|%d|%d|%d", i % 97, i / 1000,
                 i % 1000 / 10, i);
        assert_int_equal(address_index_get(ix, key), truth[i]);
        live += truth[i] >= 0;
    }
    assert_int_equal(address_index_count(ix), live);
    free(truth);
    address_index_free(ix);
}

static void test_match(void **state)
{
    struct address_index *ix = address_index_new();
    static const char *const registry[] = {
        "上海市浦东新区张杨路123弄4号502室",   /* 0 */
        "上海市浦东新区张杨路123弄4号501室",   /* 1 */
        "上海市浦东新区张杨路125弄4号502室",   /* 2: shares 张杨路4号502 */
        "上海市浦东新区东方路88弄6号301室",    /* 3 */
        "上海市浦东新区浦东南路100弄2号301室", /* 4 */
    };
    for (size_t i = 0; i < N(registry); i++)
        assert_int_equal(
            address_index_put(ix, registry[i], strlen(registry[i]), (int32_t)i),
            0);
    assert_int_equal(address_index_put(ix, "张杨路", 9, 99), CB_EINVAL);
#define MATCH(text) address_match(ix, text, strlen(text))
    assert_int_equal(MATCH("浦东张杨路123弄4号楼502"), 0);
    assert_int_equal(MATCH("张杨路１２３弄４栋５０１"), 1);
    assert_int_equal(MATCH("张杨路125弄4-502"), 2);
    assert_int_equal(MATCH("东方路88弄6号301"), 3);
    /* An unknown prefix before the road. */
    assert_int_equal(MATCH("浦东新区花木张杨路123弄4号502室"), 0);
    assert_int_equal(MATCH("浦东新区浦东南路100弄2号301"), 4);
    /* Without the lane: unique -> matched; shared -> unmatched. */
    assert_int_equal(MATCH("东方路6号301室"), 3);
    assert_int_equal(MATCH("张杨路4号501"), 1);
    assert_int_equal(MATCH("张杨路4号502"), -1);
    /* Other flats, other roads, no key. */
    assert_int_equal(MATCH("张杨路123弄4号503室"), -1);
    assert_int_equal(MATCH("杨路123弄4号502室"), -1);
    assert_int_equal(MATCH("南路100弄2号301"), -1);
    assert_int_equal(MATCH("张杨路"), -1);
    assert_int_equal(MATCH(""), -1);
    /* Re-adding is idempotent; removing undoes key and alias. */
    assert_int_equal(address_index_put(ix, registry[3], strlen(registry[3]), 3),
                     0);
    assert_int_equal(MATCH("东方路6号301室"), 3);
    assert_int_equal(
        address_index_remove(ix, registry[3], strlen(registry[3]), 5),
        CB_ENOTFOUND);
    assert_int_equal(
        address_index_remove(ix, registry[3], strlen(registry[3]), 3), 0);
    assert_int_equal(MATCH("东方路88弄6号301"), -1);
    assert_int_equal(MATCH("东方路6号301室"), -1);
    assert_int_equal(address_index_remove(ix, "x", 1, 3), CB_EINVAL);
#undef MATCH
    address_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brief_variants),
        cmocka_unit_test(test_other_forms),
        cmocka_unit_test(test_distinct_flats),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_index_basics),
        cmocka_unit_test(test_index_many),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
