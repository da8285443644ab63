/*
 * fuzz_address.c - libFuzzer target for address normalisation and matching.
 *
 * Checks: a key has four '|'-separated parts and is valid UTF-8; the same
 * text always gives the same key; an indexed text matches its household;
 * removing it again leaves the index empty.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char key[ADDRESS_KEY_MAX], again[ADDRESS_KEY_MAX];
    int rc = address_normalize(text, size, key, sizeof(key));
    if (rc != 0) {
        if (key[0])
            abort();
        return 0;
    }
    int bars = 0;
    for (const char *p = key; *p; p++)
        bars += *p == '|';
    if (bars != 3 || key[0] == '|' || key[0] == '~')
        abort();
    json_t *s = json_stringn(key, strlen(key)); /* NULL if not UTF-8 */
    if (!s)
        abort();
    json_decref(s);
    if (address_normalize(text, size, again, sizeof(again)) ||
        strcmp(key, again))
        abort();
    struct address_index *ix = address_index_new();
    if (address_index_put(ix, text, size, 42) ||
        address_match(ix, text, size) != 42 ||
        address_index_get(ix, key) != 42 ||
        address_index_remove(ix, text, size, 42) ||
        address_index_count(ix) != 0)
        abort();
    address_index_free(ix);
    return 0;
}
