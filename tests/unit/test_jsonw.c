/* test_jsonw.c - the JSON writer: structure, escapes, UTF-8 repair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "util/jsonw.h"

static void check_str(const char *in, size_t n, const char *want)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    jsonw_add_str(&out, in, n);
    assert_string_equal(out.buf, want);
    json_error_t err;
    json_t *j =
        json_loadb(out.buf, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    assert_non_null(j); /* jansson refuses invalid UTF-8 */
    json_decref(j);
    sbuf_release(&out);
}

static void test_escapes(void **state)
{
    check_str("a\"b\\c\n\r\t\b\f\x01\x7f", 12,
              "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u007f\"");
    check_str("张杨路", strlen("张杨路"), "\"张杨路\"");
    check_str("a\0b", 3, "\"a\\u0000b\"");
    check_str("😀", 4, "\"😀\"");
}

static void test_invalid_utf8_is_replaced(void **state)
{
    /* The audit reason of the report: 0xFF 0xFE. */
    check_str("\xff\xfe", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
    /* stray continuation, overlong '/', a surrogate, past U+10FFFF,
     * a truncated sequence at the end */
    check_str("x\x80y", 3, "\"x\xEF\xBF\xBDy\"");
    check_str("\xc0\xaf", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
    check_str("\xed\xa0\x80", 3, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    check_str("\xf4\x90\x80\x80", 4,
              "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    check_str("ok\xe5\xbc", 4, "\"ok\xEF\xBF\xBD\xEF\xBF\xBD\"");
    assert_int_equal(jsonw_utf8_len((const unsigned char *)"\xe5\xbc\xa0", 3),
                     3);
    assert_int_equal(jsonw_utf8_len((const unsigned char *)"\xe5\xbc", 2), 0);
}

static void test_sbuf_json_str_is_the_same_escaper(void **state)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    sbuf_add_json_str(&out, "why \xff");
    assert_string_equal(out.buf, "\"why \xEF\xBF\xBD\"");
    sbuf_release(&out);
}

static void test_structure_and_commas(void **state)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    struct jsonw w;
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    jsonw_kv_str(&w, "who", "cm");
    jsonw_kv_int(&w, "n", -3);
    jsonw_kv_double(&w, "x", 0.5);
    jsonw_kv_double(&w, "bad", NAN);
    jsonw_kv_bool(&w, "ok", 1);
    jsonw_kv_null(&w, "none");
    jsonw_key(&w, "ids");
    jsonw_array_begin(&w);
    jsonw_str(&w, "H1");
    jsonw_str(&w, NULL);
    jsonw_array_begin(&w);
    jsonw_array_end(&w);
    jsonw_object_begin(&w);
    jsonw_object_end(&w);
    jsonw_int(&w, 7);
    jsonw_array_end(&w);
    jsonw_key(&w, "raw");
    jsonw_raw(&w, "{\"a\":1}", 7);
    jsonw_object_end(&w);
    assert_string_equal(out.buf,
                        "{\"who\":\"cm\",\"n\":-3,\"x\":0.5,\"bad\":null,"
                        "\"ok\":true,\"none\":null,"
                        "\"ids\":[\"H1\",null,[],{},7],\"raw\":{\"a\":1}}");
    sbuf_release(&out);
}

static void test_rounded_numbers_and_formatted_strings(void **state)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    struct jsonw w;
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    jsonw_kv_double_prec(&w, "p", 0.256, 2);
    jsonw_kv_double_prec(&w, "whole", 2.5, 0);
    jsonw_kv_double_prec(&w, "negzero", -0.0, 1);
    jsonw_kv_double_sig(&w, "g", 1234567.0, 4);
    jsonw_kv_double_sig(&w, "short", 0.5, 6);
    jsonw_kv_double_sig(&w, "inf", INFINITY, 4);
    jsonw_kv_strf(&w, "day", "%04d-%02u-%02u", 2026, 3u, 9u);
    jsonw_kv_uint(&w, "seed", UINT64_MAX);
    jsonw_key(&w, "q");
    jsonw_strf(&w, "say \"%s\"", "hi");
    jsonw_object_end(&w);
    assert_string_equal(out.buf,
                        "{\"p\":0.26,\"whole\":2,\"negzero\":0.0,"
                        "\"g\":1.235e+06,\"short\":0.5,\"inf\":null,"
                        "\"day\":\"2026-03-09\",\"seed\":18446744073709551615,"
                        "\"q\":\"say \\\"hi\\\"\"}");
    sbuf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_invalid_utf8_is_replaced),
        cmocka_unit_test(test_sbuf_json_str_is_the_same_escaper),
        cmocka_unit_test(test_structure_and_commas),
        cmocka_unit_test(test_rounded_numbers_and_formatted_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
