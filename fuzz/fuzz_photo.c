/*
 * fuzz_photo.c - libFuzzer target for the JPEG and PNG metadata strippers
 * (src/photo/photo.h).
 *
 * Checks: a refusal names a byte offset; an accepted image's copy is no
 * longer than the input, starts with its format's signature, is accepted
 * again as the same type, and stripping it again changes nothing (so no
 * metadata segment or chunk survives a pass).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "photo/photo.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[160] = "";
    struct sbuf out = SBUF_INIT, again = SBUF_INIT;
    enum photo_type t, t2;
    if (photo_strip(data, size, &out, &t, err, sizeof(err))) {
        if (strncmp(err, "byte ", 5))
            abort();
        goto out_release;
    }
    if (t == PHOTO_NONE || out.len > size ||
        photo_sniff((const unsigned char *)out.buf, out.len) != t)
        abort();
    if (photo_strip((const unsigned char *)out.buf, out.len, &again, &t2, err,
                    sizeof(err)) ||
        t2 != t || again.len != out.len || memcmp(again.buf, out.buf, out.len))
        abort();
out_release:
    sbuf_release(&out);
    sbuf_release(&again);
    return 0;
}
