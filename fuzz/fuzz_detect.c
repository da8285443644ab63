/* fuzz_detect.c - detect-series over arbitrary bytes: it must never crash,
 * and must write one line per non-blank input row with a score in [0, 1]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
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
