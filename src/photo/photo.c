/*
 * photo.c - the JPEG and PNG metadata strippers (photo.h's table) and the
 * photo files.
 *
 * JPEG (ITU T.81, Annex B): after SOI, a sequence of marker segments
 * (0xFF, a marker byte, a 2-byte big-endian length that counts itself,
 * the payload); SOS is followed by entropy-coded data, in which 0xFF is
 * stuffed as FF 00 and RSTn markers may appear, up to the next marker.
 * The parser walks the segments, checks the ones a decoder reads (their
 * lengths against their tables), copies those and drops the rest.
 *
 * PNG (ISO/IEC 15948): the signature, then chunks of (4-byte length,
 * 4-letter type, data, CRC-32 of type and data).  Bit 5 of the type's
 * first letter is 0 for a critical chunk, which a decoder must know.
 */
#include "photo/photo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const unsigned char png_sig[8] = {0x89, 'P',  'N',  'G',
                                         0x0D, 0x0A, 0x1A, 0x0A};

enum photo_type photo_sniff(const unsigned char *data, size_t len)
{
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return PHOTO_JPEG;
    if (len >= 8 && !memcmp(data, png_sig, 8))
        return PHOTO_PNG;
    return PHOTO_NONE;
}

const char *photo_content_type(enum photo_type t)
{
    return t == PHOTO_JPEG ? "image/jpeg" : t == PHOTO_PNG ? "image/png" : NULL;
}

enum photo_type photo_type_parse(const char *ct)
{
    if (!ct)
        return PHOTO_NONE;
    size_t n = strcspn(ct, "; \t");
    if ((n == 10 && !strncasecmp(ct, "image/jpeg", n)) ||
        (n == 9 && !strncasecmp(ct, "image/jpg", n)))
        return PHOTO_JPEG;
    if (n == 9 && !strncasecmp(ct, "image/png", n))
        return PHOTO_PNG;
    return PHOTO_NONE;
}

/* The parser's state: the input, where it is, the copy and the error. */
struct parse {
    const unsigned char *p;
    size_t len;
    struct sbuf *out;
    char *err;
    size_t errcap;
};

static int bad(struct parse *ps, size_t off, const char *what)
{
    if (ps->errcap)
        snprintf(ps->err, ps->errcap, "byte %zu: %s", off, what);
    return CB_EINVAL;
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* ---- JPEG ---- */

/* DQT: tables of (Pq<<4|Tq, 64 values of 1 or 2 bytes). */
static int jpeg_dqt(struct parse *ps, size_t off, const unsigned char *s,
                    size_t n)
{
    size_t i = 0;
    if (!n)
        return bad(ps, off, "empty DQT");
    while (i < n) {
        unsigned pq = s[i] >> 4, tq = s[i] & 15;
        size_t size = 1 + 64 * (size_t)(pq + 1);
        if (pq > 1 || tq > 3 || size > n - i)
            return bad(ps, off, "DQT length does not match its tables");
        i += size;
    }
    return 0;
}

/* DHT: tables of (Tc<<4|Th, 16 counts, the values they count). */
static int jpeg_dht(struct parse *ps, size_t off, const unsigned char *s,
                    size_t n)
{
    size_t i = 0;
    if (!n)
        return bad(ps, off, "empty DHT");
    while (i < n) {
        size_t sum = 0;
        if ((s[i] >> 4) > 1 || (s[i] & 15) > 3 || n - i < 17)
            return bad(ps, off, "DHT length does not match its tables");
        for (int k = 1; k <= 16; k++)
            sum += s[i + k];
        if (sum > 256 || sum > n - i - 17)
            return bad(ps, off, "DHT length does not match its tables");
        i += 17 + sum;
    }
    return 0;
}

/* SOFn: precision, height, width, Nf, Nf x (id, H<<4|V, Tq). */
static int jpeg_sof(struct parse *ps, size_t off, const unsigned char *s,
                    size_t n)
{
    if (n < 6 || s[0] < 2 || s[0] > 16 || be16(s + 3) == 0)
        return bad(ps, off, "SOF with no width or a bad precision");
    unsigned nf = s[5];
    if (nf < 1 || nf > 4 || n != 6 + 3 * (size_t)nf)
        return bad(ps, off, "SOF component count does not match its length");
    for (unsigned k = 0; k < nf; k++) {
        unsigned h = s[7 + 3 * k] >> 4, v = s[7 + 3 * k] & 15;
        if (h < 1 || h > 4 || v < 1 || v > 4 || s[8 + 3 * k] > 3)
            return bad(ps, off, "SOF component with bad sampling or table");
    }
    return 0;
}

/* SOS: Ns, Ns x (id, Td<<4|Ta), Ss, Se, Ah<<4|Al. */
static int jpeg_sos(struct parse *ps, size_t off, const unsigned char *s,
                    size_t n)
{
    if (n < 1 || s[0] < 1 || s[0] > 4 || n != 4 + 2 * (size_t)s[0])
        return bad(ps, off, "SOS component count does not match its length");
    return 0;
}

/* The end of the entropy-coded data that starts at pos: the offset of the
 * next marker that is not a stuffed byte or RSTn. */
static size_t jpeg_entropy_end(const unsigned char *p, size_t len, size_t pos)
{
    while (pos + 1 < len) {
        if (p[pos] != 0xFF) {
            pos++;
            continue;
        }
        unsigned m = p[pos + 1];
        if (m == 0x00 || (m >= 0xD0 && m <= 0xD7))
            pos += 2;
        else
            return pos;
    }
    return len;
}

static int is_sof(unsigned m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* Checks one segment of marker m with payload s[0..n): 1 keep, 0 drop, or
 * CB_EINVAL. */
static int jpeg_segment(struct parse *ps, size_t off, unsigned m,
                        const unsigned char *s, size_t n, int *have_sof)
{
    if (m == 0xE0)
        return n >= 5 && (!memcmp(s, "JFIF", 5) || !memcmp(s, "JFXX", 5));
    if ((m >= 0xE1 && m <= 0xEF) || m == 0xFE)
        return 0; /* APP1..APP15, COM: the metadata */
    if (m == 0xDB)
        return jpeg_dqt(ps, off, s, n) ? CB_EINVAL : 1;
    if (m == 0xC4)
        return jpeg_dht(ps, off, s, n) ? CB_EINVAL : 1;
    if (m == 0xDD || m == 0xDC)
        return n == 2 ? 1 : bad(ps, off, "DRI or DNL of a bad length");
    if (m == 0xCC)
        return 1; /* DAC */
    if (is_sof(m)) {
        if (*have_sof)
            return bad(ps, off, "a second SOF");
        *have_sof = 1;
        return jpeg_sof(ps, off, s, n) ? CB_EINVAL : 1;
    }
    return bad(ps, off, "a marker no JPEG decoder reads");
}

static void put_marker(struct sbuf *out, unsigned m)
{
    unsigned char b[2] = {0xFF, (unsigned char)m};
    sbuf_add(out, b, 2);
}

static int jpeg_strip(struct parse *ps)
{
    const unsigned char *p = ps->p;
    size_t pos = 2;
    int have_sof = 0, have_sos = 0;
    put_marker(ps->out, 0xD8);
    for (;;) {
        if (pos >= ps->len || p[pos] != 0xFF)
            return bad(ps, pos, "expected a marker (no EOI?)");
        while (pos < ps->len && p[pos] == 0xFF)
            pos++; /* fill bytes */
        if (pos >= ps->len)
            return bad(ps, pos, "ends inside a marker");
        size_t off = pos - 1;
        unsigned m = p[pos++];
        if (m == 0xD9) {
            if (!have_sos)
                return bad(ps, off, "EOI before any scan");
            put_marker(ps->out, 0xD9);
            return 0; /* anything after EOI is dropped */
        }
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01)
            continue; /* RSTn outside a scan, TEM: no payload, dropped */
        if (m == 0x00 || m == 0xD8)
            return bad(ps, off, "a stray SOI or stuffed byte");
        if (ps->len - pos < 2)
            return bad(ps, off, "segment length runs past the end");
        size_t seglen = be16(p + pos);
        if (seglen < 2 || seglen > ps->len - pos)
            return bad(ps, off, "segment runs past the end");
        const unsigned char *s = p + pos + 2;
        size_t n = seglen - 2;
        if (m == 0xDA) {
            if (!have_sof)
                return bad(ps, off, "SOS before SOF");
            if (jpeg_sos(ps, off, s, n))
                return CB_EINVAL;
            size_t end = jpeg_entropy_end(p, ps->len, pos + seglen);
            put_marker(ps->out, m);
            sbuf_add(ps->out, p + pos, end - pos);
            have_sos = 1;
            pos = end;
            continue;
        }
        int keep = jpeg_segment(ps, off, m, s, n, &have_sof);
        if (keep < 0)
            return keep;
        if (keep) {
            put_marker(ps->out, m);
            sbuf_add(ps->out, p + pos, seglen);
        }
        pos += seglen;
    }
}

/* ---- PNG ---- */

static int png_ihdr(struct parse *ps, size_t off, const unsigned char *d,
                    uint32_t n)
{
    if (n != 13 || be32(d) == 0 || be32(d + 4) == 0 || be32(d) > 0x7FFFFFFF ||
        be32(d + 4) > 0x7FFFFFFF)
        return bad(ps, off, "IHDR of a bad length or size");
    unsigned depth = d[8], ct = d[9];
    int ok =
        (ct == 0 && (depth == 1 || depth == 2 || depth == 4 || depth == 8 ||
                     depth == 16)) ||
        (ct == 3 && (depth == 1 || depth == 2 || depth == 4 || depth == 8)) ||
        ((ct == 2 || ct == 4 || ct == 6) && (depth == 8 || depth == 16));
    if (!ok || d[10] != 0 || d[11] != 0 || d[12] > 1)
        return bad(ps, off, "IHDR with a bad depth, colour type or method");
    return 0;
}

/* Ancillary chunks a decoder may use to show the picture right. */
static int png_keep_ancillary(const unsigned char *type)
{
    static const char *const keep[] = {"tRNS", "gAMA", "cHRM", "sRGB",
                                       "sBIT", "bKGD", "pHYs"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (!memcmp(type, keep[i], 4))
            return 1;
    return 0;
}

static int png_type_valid(const unsigned char *t)
{
    for (int i = 0; i < 4; i++)
        if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z')))
            return 0;
    return 1;
}

/* Checks one chunk (not the first): 1 keep, 0 drop, 2 IEND, or
 * CB_EINVAL.  *state: bit 1 IDAT seen, bit 2 PLTE seen. */
static int png_chunk(struct parse *ps, size_t off, const unsigned char *type,
                     uint32_t n, int *state)
{
    if (!memcmp(type, "IHDR", 4))
        return bad(ps, off, "a second IHDR");
    if (!memcmp(type, "IEND", 4))
        return n == 0 ? 2 : bad(ps, off, "IEND with data");
    if (!memcmp(type, "IDAT", 4)) {
        *state |= 1;
        return 1;
    }
    if (!memcmp(type, "PLTE", 4)) {
        if (n == 0 || n > 768 || n % 3)
            return bad(ps, off, "PLTE of a bad length");
        *state |= 2;
        return 1;
    }
    if (!(type[0] & 0x20))
        return bad(ps, off, "an unknown critical chunk");
    return png_keep_ancillary(type);
}

static int png_strip(struct parse *ps)
{
    const unsigned char *p = ps->p;
    size_t pos = 8;
    int state = 0, palette = 0;
    sbuf_add(ps->out, png_sig, 8);
    for (int first = 1;; first = 0) {
        if (ps->len - pos < 12)
            return bad(ps, pos, "chunk runs past the end (no IEND?)");
        uint32_t n = be32(p + pos);
        const unsigned char *type = p + pos + 4;
        if (n > 0x7FFFFFFF || n > ps->len - pos - 12)
            return bad(ps, pos, "chunk runs past the end");
        if (!png_type_valid(type))
            return bad(ps, pos, "chunk type is not 4 letters");
        uLong crc = crc32(0L, type, (uInt)n + 4);
        if (crc != be32(p + pos + 8 + n))
            return bad(ps, pos, "chunk CRC does not match");
        int keep;
        if (first) {
            if (memcmp(type, "IHDR", 4) || png_ihdr(ps, pos, type + 4, n))
                return bad(ps, pos, "the first chunk is not a valid IHDR");
            palette = type[4 + 9] == 3;
            keep = 1;
        } else {
            keep = png_chunk(ps, pos, type, n, &state);
        }
        if (keep < 0)
            return keep;
        if (keep == 2 && (!(state & 1) || (palette && !(state & 2))))
            return bad(ps, pos, "IEND before IDAT, or no PLTE for a palette");
        if (keep)
            sbuf_add(ps->out, p + pos, (size_t)n + 12);
        if (keep == 2)
            return 0; /* anything after IEND is dropped */
        pos += (size_t)n + 12;
    }
}

int photo_strip(const unsigned char *data, size_t len, struct sbuf *out,
                enum photo_type *OUT_type, char *err, size_t errcap)
{
    struct parse ps = {data, len, out, err, errcap};
    *OUT_type = photo_sniff(data, len);
    if (*OUT_type == PHOTO_JPEG)
        return jpeg_strip(&ps);
    if (*OUT_type == PHOTO_PNG)
        return png_strip(&ps);
    return bad(&ps, 0, "neither a JPEG nor a PNG signature");
}

/* ---- files ---- */

int photo_new_id(char *OUT_id)
{
    unsigned char raw[12];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno != EINTR)
            return CB_EIO;
        if (n > 0)
            got += (size_t)n;
    }
    OUT_id[0] = 'P';
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(OUT_id + 1 + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

int photo_id_valid(const char *id)
{
    if (!id || id[0] != 'P' || strlen(id) != PHOTO_ID_LEN)
        return 0;
    for (int i = 1; i < PHOTO_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

/* DIR/photos/ID.EXT (tmp: DIR/photos/.ID.tmp) into path: 0 or CB_EINVAL. */
static int photo_path(const char *dir, const char *id, enum photo_type t,
                      int tmp, char *path, size_t cap)
{
    if (!photo_id_valid(id) || t == PHOTO_NONE)
        return CB_EINVAL;
    int n = tmp ? snprintf(path, cap, "%s/photos/.%s.tmp", dir, id)
                : snprintf(path, cap, "%s/photos/%s%s", dir, id,
                           t == PHOTO_JPEG ? ".jpg" : ".png");
    return n > 0 && (size_t)n < cap ? 0 : CB_EINVAL;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return CB_ERRNO(n < 0 ? errno : EIO);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return CB_ERRNO(errno);
    int rc = fsync(fd) ? CB_ERRNO(errno) : 0;
    close(fd);
    return rc;
}

int photo_save(const char *data_dir, const char *id, enum photo_type t,
               const void *data, size_t len)
{
    char dir[4096], tmp[4200], path[4200];
    int rc;
    snprintf(dir, sizeof(dir), "%s/photos", data_dir);
    if ((rc = photo_path(data_dir, id, t, 1, tmp, sizeof(tmp))) ||
        (rc = photo_path(data_dir, id, t, 0, path, sizeof(path))))
        return rc;
    if (mkdir(dir, 0700) && errno != EEXIST)
        return CB_ERRNO(errno);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return CB_ERRNO(errno);
    rc = write_all(fd, data, len);
    if (!rc && fsync(fd))
        rc = CB_ERRNO(errno);
    if (close(fd) && !rc)
        rc = CB_ERRNO(errno);
    if (!rc && rename(tmp, path))
        rc = CB_ERRNO(errno);
    if (rc)
        goto out_unlink;
    return fsync_dir(dir);
out_unlink:
    unlink(tmp);
    return rc;
}

int photo_load(const char *data_dir, const char *id, enum photo_type t,
               struct sbuf *out)
{
    char path[4200], buf[65536];
    int rc = photo_path(data_dir, id, t, 0, path, sizeof(path));
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CB_ENOTFOUND : CB_ERRNO(errno);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = CB_ERRNO(errno);
        if (n <= 0)
            break;
        sbuf_add(out, buf, (size_t)n);
    }
    close(fd);
    return rc;
}

int photo_remove(const char *data_dir, const char *id, enum photo_type t)
{
    char path[4200];
    int rc = photo_path(data_dir, id, t, 0, path, sizeof(path));
    if (rc)
        return rc;
    return unlink(path) && errno != ENOENT ? CB_ERRNO(errno) : 0;
}
