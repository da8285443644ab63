/*
 * fuzz_query.c - libFuzzer target for the URL query-string parser.
 *
 * Checks: on success every key and value is NUL-terminated with the length
 * given, valid UTF-8 and non-empty for keys; the getters agree with the
 * pairs; on failure there are no pairs and a message; a time argument is
 * inside the years 1900 to 2200 or refused with a message.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/query.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct query q;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"ns", "us", "ms", "s"};
    char err[160] = "";
    int rc = query_parse(&q, (const char *)data, size, err, sizeof(err));
    if (rc) {
        if (q.n || !err[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < q.n; i++) {
        const struct query_param *p = &q.params[i];
        if (!p->key_len || strlen(p->key) != p->key_len ||
            strlen(p->value) != p->value_len)
            abort();
        json_t *j = json_string(p->value); /* NULL if not UTF-8 */
        if (!j)
            abort();
        json_decref(j);
        if (!query_get(&q, p->key) || query_count(&q, p->key) == 0)
            abort();
        int64_t v;
        int e;
        err[0] = '\0';
        if (query_get_int(&q, p->key, -100, 100, 0, &v, err, sizeof(err)) &&
            !strstr(err, p->key[0] ? "parameter '" : ""))
            abort();
        /* Times: inside 1900..2200 (no overflow), or a message. */
        err[0] = '\0';
        if (query_get_time(&q, p->key, 480, (int)(size & 1), 0, &v, err,
                           sizeof(err))) {
            if (!strstr(err, "parameter '"))
                abort();
        } else if (v < -2208988800LL * 1000000000LL - 86400000000000LL ||
                   v > 7289654400LL * 1000000000LL + 86400000000000LL) {
            abort();
        }
        query_get_enum(&q, p->key, names, 4, 0, &e, err, sizeof(err));
        query_get_bool(&q, p->key, 0, &e, err, sizeof(err));
    }
    query_check_known(&q, names, 4, err, sizeof(err));
    return 0;
}
