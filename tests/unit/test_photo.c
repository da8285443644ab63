/* test_photo.c - the JPEG and PNG metadata strippers and the photo files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "photo/photo.h"
#include "util/util.h"

static char err[200];

/* ---- JPEG builders ---- */

static void seg(struct sbuf *b, unsigned m, const void *payload, size_t n)
{
    unsigned char h[4] = {0xFF, (unsigned char)m, (unsigned char)((n + 2) >> 8),
                          (unsigned char)(n + 2)};
    sbuf_add(b, h, 4);
    sbuf_add(b, payload, n);
}

static void marker(struct sbuf *b, unsigned m)
{
    unsigned char h[2] = {0xFF, (unsigned char)m};
    sbuf_add(b, h, 2);
}

/* A JPEG with an APP0 JFIF, an Exif APP1 with GPS, an XMP APP1, a COM and
 * the segments a decoder needs; sof: whether to put the SOF in. */
static void jpeg_build(struct sbuf *b, int with_meta, int sof)
{
    unsigned char dqt[65] = {0}, dht[18] = {0},
                  sofp[9] = {8, 0, 8, 0, 8, 1, 1, 0x11, 0};
    unsigned char sos[6] = {1, 1, 0x00, 0, 63, 0};
    unsigned char jfif[14] = {'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
    const char exif[] = "Exif\0\0MM\0*GPSLatitude 31.2304 N Canon EOS";
    const char xmp[] = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>";
    dht[1] = 1; /* one code of length 1, value 0 */
    marker(b, 0xD8);
    seg(b, 0xE0, jfif, sizeof(jfif));
    if (with_meta) {
        seg(b, 0xE1, exif, sizeof(exif));
        seg(b, 0xE1, xmp, sizeof(xmp));
        seg(b, 0xFE, "made by a phone", 15);
        seg(b, 0xED, "Photoshop 3.0", 13); /* APP13 IPTC */
    }
    seg(b, 0xDB, dqt, sizeof(dqt));
    if (sof)
        seg(b, 0xC0, sofp, sizeof(sofp));
    seg(b, 0xC4, dht, sizeof(dht));
    seg(b, 0xDA, sos, sizeof(sos));
    /* entropy data with a stuffed FF 00 and an RST0 */
    sbuf_add(b, "\x12\x34\xFF\x00\x56\xFF\xD0\x78", 8);
    marker(b, 0xD9);
}

static int strip(const struct sbuf *in, struct sbuf *out, enum photo_type *t)
{
    err[0] = '\0';
    sbuf_reset(out);
    return photo_strip((const unsigned char *)in->buf, in->len, out, t, err,
                       sizeof(err));
}

static int has(const struct sbuf *b, const char *needle, size_t n)
{
    return memmem(b->buf, b->len, needle, n) != NULL;
}

static void test_jpeg_metadata_dropped(void **state)
{
    struct sbuf in = SBUF_INIT, out = SBUF_INIT, again = SBUF_INIT;
    enum photo_type t;
    jpeg_build(&in, 1, 1);
    assert_true(has(&in, "GPS", 3));
    assert_int_equal(strip(&in, &out, &t), 0);
    assert_int_equal(t, PHOTO_JPEG);
    assert_false(has(&out, "Exif", 4));
    assert_false(has(&out, "GPS", 3));
    assert_false(has(&out, "Canon", 5));
    assert_false(has(&out, "xmpmeta", 7));
    assert_false(has(&out, "phone", 5));
    assert_false(has(&out, "Photoshop", 9));
    assert_false(has(&out, "\xFF\xE1", 2));
    assert_true(has(&out, "JFIF", 4));
    assert_true(has(&out, "\x12\x34\xFF\x00\x56\xFF\xD0\x78\xFF\xD9", 10));
    /* the same JPEG built without metadata: byte for byte */
    struct sbuf clean = SBUF_INIT;
    jpeg_build(&clean, 0, 1);
    assert_int_equal(out.len, clean.len);
    assert_memory_equal(out.buf, clean.buf, clean.len);
    /* stripping is idempotent */
    assert_int_equal(strip(&out, &again, &t), 0);
    assert_int_equal(again.len, out.len);
    sbuf_release(&in);
    sbuf_release(&out);
    sbuf_release(&again);
    sbuf_release(&clean);
}

static void test_jpeg_trailer_dropped(void **state)
{
    struct sbuf in = SBUF_INIT, out = SBUF_INIT;
    enum photo_type t;
    jpeg_build(&in, 0, 1);
    size_t len = in.len;
    sbuf_addstr(&in, "hidden after EOI");
    assert_int_equal(strip(&in, &out, &t), 0);
    assert_int_equal(out.len, len);
    sbuf_release(&in);
    sbuf_release(&out);
}

static void test_jpeg_refused(void **state)
{
    struct sbuf in = SBUF_INIT, out = SBUF_INIT;
    enum photo_type t;
    jpeg_build(&in, 1, 0); /* no SOF */
    assert_int_equal(strip(&in, &out, &t), CB_EINVAL);
    assert_non_null(strstr(err, "SOS before SOF"));
    sbuf_reset(&in);
    jpeg_build(&in, 1, 1);
    /* every truncation is refused, never read past */
    for (size_t n = 0; n + 2 < in.len; n++) {
        struct sbuf cut = SBUF_INIT;
        sbuf_add(&cut, in.buf, n);
        assert_int_equal(strip(&cut, &out, &t), CB_EINVAL);
        assert_non_null(strstr(err, "byte "));
        sbuf_release(&cut);
    }
    /* a DQT whose length does not match its table */
    struct sbuf b = SBUF_INIT;
    unsigned char dqt[40] = {0};
    marker(&b, 0xD8);
    seg(&b, 0xDB, dqt, sizeof(dqt));
    marker(&b, 0xD9);
    assert_int_equal(strip(&b, &out, &t), CB_EINVAL);
    assert_non_null(strstr(err, "DQT"));
    /* a marker no decoder reads */
    sbuf_reset(&b);
    marker(&b, 0xD8);
    seg(&b, 0xF3, "x", 1);
    assert_int_equal(strip(&b, &out, &t), CB_EINVAL);
    /* a segment length past the end */
    sbuf_reset(&b);
    sbuf_add(&b,
             "\xFF\xD8\xFF\xE1\xFF\xFF"
             "Exif",
             10);
    assert_int_equal(strip(&b, &out, &t), CB_EINVAL);
    assert_non_null(strstr(err, "past the end"));
    sbuf_release(&b);
    sbuf_release(&in);
    sbuf_release(&out);
}

/* ---- PNG builders ---- */

static void be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void chunk(struct sbuf *b, const char *type, const void *data,
                  uint32_t n)
{
    unsigned char h[8], crc[4];
    struct sbuf td = SBUF_INIT;
    be32_put(h, n);
    memcpy(h + 4, type, 4);
    sbuf_add(&td, type, 4);
    sbuf_add(&td, data, n);
    be32_put(crc,
             (uint32_t)crc32(0L, (const unsigned char *)td.buf, (uInt)td.len));
    sbuf_add(b, h, 8);
    sbuf_add(b, data, n);
    sbuf_add(b, crc, 4);
    sbuf_release(&td);
}

/* A 1x1 PNG of colour type ct, with text, eXIf and tIME when with_meta. */
static void png_build(struct sbuf *b, int with_meta, int ct, int plte)
{
    unsigned char ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, (unsigned char)ct,
                              0, 0, 0};
    unsigned char idat[] = {0x78, 0x9c, 0x63, 0x60, 0x00,
                            0x00, 0x00, 0x02, 0x00, 0x01};
    unsigned char time[7] = {0x07, 0xEA, 12, 2, 8, 0, 0};
    sbuf_add(b, "\x89PNG\r\n\x1a\n", 8);
    chunk(b, "IHDR", ihdr, 13);
    chunk(b, "gAMA", "\x00\x00\xb1\x8f", 4);
    if (with_meta) {
        chunk(b, "tEXt", "Comment\0GPS 31.2 121.5", 22);
        chunk(b, "eXIf", "MM\0*Canon", 9);
        chunk(b, "tIME", time, 7);
        chunk(b, "zTXt", "Author\0\0x", 9);
        chunk(b, "prVt", "private", 7);
    }
    if (plte)
        chunk(b, "PLTE", "\xff\x00\x00", 3);
    chunk(b, "IDAT", idat, sizeof(idat));
    chunk(b, "IEND", "", 0);
}

static void test_png_metadata_dropped(void **state)
{
    struct sbuf in = SBUF_INIT, out = SBUF_INIT, clean = SBUF_INIT;
    enum photo_type t;
    png_build(&in, 1, 0, 0);
    sbuf_addstr(&in, "after IEND");
    assert_int_equal(strip(&in, &out, &t), 0);
    assert_int_equal(t, PHOTO_PNG);
    assert_false(has(&out, "tEXt", 4));
    assert_false(has(&out, "eXIf", 4));
    assert_false(has(&out, "tIME", 4));
    assert_false(has(&out, "zTXt", 4));
    assert_false(has(&out, "prVt", 4));
    assert_false(has(&out, "GPS", 3));
    assert_true(has(&out, "gAMA", 4));
    png_build(&clean, 0, 0, 0);
    assert_int_equal(out.len, clean.len);
    assert_memory_equal(out.buf, clean.buf, clean.len);
    sbuf_release(&in);
    sbuf_release(&out);
    sbuf_release(&clean);
}

static void test_png_refused(void **state)
{
    struct sbuf in = SBUF_INIT, out = SBUF_INIT;
    enum photo_type t;
    png_build(&in, 1, 0, 0);
    in.buf[8 + 8 + 13] ^= 1; /* IHDR's CRC */
    assert_int_equal(strip(&in, &out, &t), CB_EINVAL);
    assert_non_null(strstr(err, "CRC"));
    sbuf_reset(&in);
    png_build(&in, 0, 3, 0); /* a palette image without PLTE */
    assert_int_equal(strip(&in, &out, &t), CB_EINVAL);
    sbuf_reset(&in);
    png_build(&in, 0, 3, 1);
    assert_int_equal(strip(&in, &out, &t), 0);
    sbuf_reset(&in);
    png_build(&in, 0, 5, 0); /* no colour type 5 */
    assert_int_equal(strip(&in, &out, &t), CB_EINVAL);
    assert_non_null(strstr(err, "IHDR"));
    /* an unknown critical chunk */
    sbuf_reset(&in);
    png_build(&in, 0, 0, 0);
    struct sbuf b = SBUF_INIT;
    sbuf_add(&b, in.buf, 8 + 25);
    chunk(&b, "ABCD", "x", 1);
    sbuf_add(&b, in.buf + 33, in.len - 33);
    assert_int_equal(strip(&b, &out, &t), CB_EINVAL);
    assert_non_null(strstr(err, "critical"));
    /* every truncation */
    for (size_t n = 0; n < in.len; n++) {
        struct sbuf cut = SBUF_INIT;
        sbuf_add(&cut, in.buf, n);
        assert_int_equal(strip(&cut, &out, &t), CB_EINVAL);
        sbuf_release(&cut);
    }
    sbuf_release(&b);
    sbuf_release(&in);
    sbuf_release(&out);
}

static void test_types_and_ids(void **state)
{
    char id[PHOTO_ID_LEN + 1];
    assert_int_equal(photo_type_parse("image/jpeg"), PHOTO_JPEG);
    assert_int_equal(photo_type_parse("IMAGE/JPG; q=1"), PHOTO_JPEG);
    assert_int_equal(photo_type_parse("image/png"), PHOTO_PNG);
    assert_int_equal(photo_type_parse("image/gif"), PHOTO_NONE);
    assert_int_equal(photo_type_parse("image/pngx"), PHOTO_NONE);
    assert_int_equal(photo_type_parse(NULL), PHOTO_NONE);
    assert_int_equal(photo_sniff((const unsigned char *)"GIF89a", 6),
                     PHOTO_NONE);
    assert_int_equal(photo_new_id(id), 0);
    assert_true(photo_id_valid(id));
    assert_false(photo_id_valid("P../../etc/passwd"));
    assert_false(photo_id_valid("Pabc"));
    assert_false(photo_id_valid(NULL));
}

static void test_files(void **state)
{
    char dir[] = "/tmp/cb-photo-XXXXXX", id[PHOTO_ID_LEN + 1];
    struct sbuf back = SBUF_INIT;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(photo_new_id(id), 0);
    assert_int_equal(photo_load(dir, id, PHOTO_JPEG, &back), CB_ENOTFOUND);
    assert_int_equal(photo_save(dir, id, PHOTO_JPEG, "\xFF\xD8\xFF\xD9", 4), 0);
    assert_int_equal(photo_load(dir, id, PHOTO_JPEG, &back), 0);
    assert_int_equal(back.len, 4);
    assert_memory_equal(back.buf, "\xFF\xD8\xFF\xD9", 4);
    assert_int_equal(photo_save(dir, "../x", PHOTO_JPEG, "x", 1), CB_EINVAL);
    assert_int_equal(photo_remove(dir, id, PHOTO_JPEG), 0);
    sbuf_reset(&back);
    assert_int_equal(photo_load(dir, id, PHOTO_JPEG, &back), CB_ENOTFOUND);
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/photos", dir);
    assert_int_equal(rmdir(sub), 0); /* no temporary file left behind */
    assert_int_equal(rmdir(dir), 0);
    sbuf_release(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_metadata_dropped),
        cmocka_unit_test(test_jpeg_trailer_dropped),
        cmocka_unit_test(test_jpeg_refused),
        cmocka_unit_test(test_png_metadata_dropped),
        cmocka_unit_test(test_png_refused),
        cmocka_unit_test(test_types_and_ids),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
