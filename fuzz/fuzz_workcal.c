/*
 * fuzz_workcal.c - libFuzzer target for the holiday calendar's parser and
 * the working-time arithmetic over what it accepts.
 *
 * Input: the first line is the working hours, the rest the calendar text.
 * Checks: a refused input says why and makes no calendar; over an accepted
 * one, adding working time never goes backwards, adding 0 is the identity,
 * and a result is at most WORKCAL_MAX_DAYS days on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "workcal/workcal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t hlen = nl ? (size_t)(nl - text) : size;
    char hours[64];
    if (hlen >= sizeof(hours))
        return 0;
    memcpy(hours, text, hlen);
    hours[hlen] = '\0';
    size_t off = nl ? hlen + 1 : size;
    struct workcal *w = NULL;
    char err[200] = "";
    int rc =
        workcal_new(text + off, size - off, hours, 480, &w, err, sizeof(err));
    if (rc) {
        if (w || !err[0])
            abort();
        return 0;
    }
    /* 2026-02-13 16:00 +08:00, and a few amounts */
    const int64_t from = 1770969600;
    static const int64_t secs[] = {0, 1, 3600, 8 * 3600, 86400 * 30};
    for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
        int64_t out = -1;
        if (workcal_add(w, from, secs[i], &out))
            continue;
        if (out < from + (secs[i] ? 1 : 0) ||
            out > from + (int64_t)WORKCAL_MAX_DAYS * 86400 + 86400 ||
            (!secs[i] && out != from))
            abort();
    }
    workcal_free(w);
    return 0;
}
