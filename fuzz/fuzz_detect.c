/* fuzz_detect.c - detect-series over arbitrary bytes: it must never crash,
 * and must write one line per non-blank input row with a score in [0, 1].
 * Inputs starting with '#' drive the library directly instead: each 6
 * bytes are a signed 16-bit time step (seconds) and a float value, so the
 * model's arithmetic sees any spacing, repeats, steps back and values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_points(const uint8_t *data, size_t size)
{
    struct detector det;
    detect_init(&det, NULL);
    int64_t ts = 1767571200;
    for (size_t at = 1; at + 6 <= size; at += 6) {
        int16_t step;
        float value;
        memcpy(&step, data + at, 2);
        memcpy(&value, data + at + 2, 4);
        ts += step;
        struct detect_result res;
        detect_update(&det, ts, value, &res);
        if (!(res.score >= 0.0 && res.score <= 1.0))
            abort();
    }
    detect_release(&det);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == '#') {
        fuzz_points(data, size);
        return 0;
    }
    FILE *in = fmemopen((void *)data, size, "r");
    char *out_buf = NULL;
    size_t out_len = 0;
    FILE *out = open_memstream(&out_buf, &out_len);
    if (!in || !out)
        abort();
    if (detect_run(in, out, NULL, size % 3 == 0 ? 0 : -1, NULL))
        abort();
    fclose(in);
    fclose(out);
    /* every line after the header ends in ",score"; fields may hold NULs */
    const char *at = memchr(out_buf, '\n', out_len) + 1;
    const char *stop = out_buf + out_len;
    while (at < stop) {
        const char *end = memchr(at, '\n', (size_t)(stop - at));
        const char *comma = end ? memrchr(at, ',', (size_t)(end - at)) : NULL;
        if (!comma)
            abort();
        double score = strtod(comma + 1, NULL);
        if (!(score >= 0.0 && score <= 1.0))
            abort();
        at = end + 1;
    }
    free(out_buf);
    return 0;
}
