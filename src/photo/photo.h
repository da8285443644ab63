/*
 * photo.h - the photos of a visit: a JPEG or PNG parser that keeps what a
 * decoder needs and drops the metadata, and the files they are kept in.
 *
 * A committee worker's phone puts the place (EXIF GPS), the camera and
 * the time into every picture.  None of that may reach the store: an
 * upload is parsed, checked, and copied without its metadata before it is
 * written anywhere.  What is kept:
 *
 *   format  kept                                     dropped
 *   ------  ---------------------------------------  ---------------------
 *   JPEG    SOI, APP0 "JFIF"/"JFXX", DQT, SOFn,      APP1..APP15 (Exif,
 *           DHT, DAC, DRI, DNL, SOS + its entropy-    XMP, ICC, Adobe,
 *           coded data (RSTn within), EOI             MPF), APP0 of any
 *                                                    other kind, COM,
 *                                                    anything after EOI
 *   PNG     signature, IHDR, PLTE, IDAT, IEND;       every other ancillary
 *           ancillary tRNS, gAMA, cHRM, sRGB, sBIT,  chunk: eXIf, tEXt,
 *           bKGD, pHYs                               zTXt, iTXt, tIME,
 *                                                    iCCP, private ones;
 *                                                    anything after IEND
 *
 * What is refused (CB_EINVAL, with the byte offset in the message): a
 * wrong signature; a segment or chunk running past the end; a JPEG with
 * no SOF or SOS before EOI, a SOF of zero width or more than 4
 * components, a DQT, DHT or SOS whose length does not match its tables,
 * a marker no JPEG decoder knows; a PNG whose first chunk is not a valid
 * IHDR, a chunk whose CRC is wrong, an unknown critical chunk, no IDAT,
 * a palette image without PLTE.  The pixel data itself is not decoded:
 * a well-formed file with corrupt pixels is stored as it came.
 *
 * Files.  A photo lives at DATA/photos/<id><ext> (ext ".jpg" or ".png"),
 * written to a temporary name, fsynced, renamed, and the directory
 * fsynced, so that a crash leaves the old state or the new, never half a
 * file.  The id is "P" and 24 random hex digits (photo_new_id).
 *
 * Threads: every function is thread-safe (no shared state).
 */
#ifndef CB_PHOTO_H
#define CB_PHOTO_H

#include <stddef.h>

#include "util/util.h"

enum photo_type {
    PHOTO_NONE = 0,
    PHOTO_JPEG,
    PHOTO_PNG,
};

#define PHOTO_ID_LEN 25 /* "P" + 24 hex */

/* The type that the first bytes of data announce (PHOTO_NONE: neither). */
enum photo_type photo_sniff(const unsigned char *data, size_t len);
/* "image/jpeg", "image/png"; NULL for PHOTO_NONE. */
const char *photo_content_type(enum photo_type t);
/* The type a Content-Type header names ("image/jpeg; x=y" too; "image/jpg"
 * is accepted as JPEG), or PHOTO_NONE. */
enum photo_type photo_type_parse(const char *content_type);

/* Parses data[0..len) as a JPEG or PNG and appends to out a copy with the
 * metadata dropped (table above).  OUT_type: what it was.  Returns 0, or
 * CB_EINVAL with a message naming the offset in err[0..errcap) (out may
 * then hold part of a copy: the caller resets it).  data is borrowed. */
int photo_strip(const unsigned char *data, size_t len, struct sbuf *out,
                enum photo_type *OUT_type, char *err, size_t errcap);

/* A new random photo id into OUT_id (PHOTO_ID_LEN + 1 bytes): 0 or
 * CB_EIO. */
int photo_new_id(char *OUT_id);
/* Whether id has photo_new_id's shape (so that it is safe in a path). */
int photo_id_valid(const char *id);

/* Writes data[0..len) as photo id of type t under data_dir/photos/
 * (created if missing), atomically and durably.  Returns 0, CB_EINVAL (a
 * bad id), or CB_ERRNO(errno) (nothing left behind). */
int photo_save(const char *data_dir, const char *id, enum photo_type t,
               const void *data, size_t len);
/* Reads photo id of type t into out (appended).  Returns 0, CB_ENOTFOUND,
 * CB_EINVAL (a bad id) or CB_ERRNO(errno). */
int photo_load(const char *data_dir, const char *id, enum photo_type t,
               struct sbuf *out);
/* Removes photo id's file (after its metadata could not be stored).
 * Returns 0 or CB_ERRNO(errno). */
int photo_remove(const char *data_dir, const char *id, enum photo_type t);

#endif
