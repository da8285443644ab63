/*
 * fuzz_jsonw.c - libFuzzer target for the JSON writer's string escaper.
 *
 * Checks: whatever the bytes, the output is one JSON string that jansson
 * (which refuses invalid UTF-8) parses, and valid input text comes back
 * unchanged.  The input is also written as a key and inside an object.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_valid(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size;) {
        size_t n = jsonw_utf8_len(data + i, size - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sbuf out = SBUF_INIT;
    sbuf_init(&out);
    jsonw_add_str(&out, (const char *)data, size);
    json_error_t err;
    json_t *j =
        json_loadb(out.buf, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j || !json_is_string(j))
        abort();
    if (all_valid(data, size) && (json_string_length(j) != size ||
                                  memcmp(json_string_value(j), data, size)))
        abort();
    json_decref(j);
    sbuf_reset(&out);
    struct jsonw w;
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    char key[64];
    size_t k = size < sizeof(key) - 1 ? size : sizeof(key) - 1;
    memcpy(key, data, k);
    key[k] = '\0';
    jsonw_kv_str(&w, key, key);
    jsonw_key(&w, "v");
    jsonw_strn(&w, (const char *)data, size);
    jsonw_object_end(&w);
    j = json_loadb(out.buf, out.len, JSON_ALLOW_NUL, &err);
    if (!j || !json_is_object(j))
        abort();
    json_decref(j);
    sbuf_release(&out);
    return 0;
}
