/*
 * address.h - Chinese address text to a canonical flat key, and an index of
 * keys to households.
 *
 * Delivery platforms send free text, the registry has standard addresses;
 * both go through address_normalize, and equal keys mean the same flat:
 *
 *   上海市浦东新区张杨路123弄4号502室      \
 *   浦东张杨路123弄4号楼502                 |
 *   张杨路１２３弄４栋５０２                 |-->  张杨路|123|4|502
 *   浦东新区 张杨路 123弄 4幢 502室(近东方路) |
 *   张杨路一二三弄四号楼五〇二室             |
 *   张杨路123弄4-502                        /
 *
 * The key is  road|lane|building|room  (UTF-8, '|'-separated, parts may be
 * empty, never starts with '~'):
 *
 *   part      comes from                          example
 *   --------  ----------------------------------  --------------------------
 *   road      the text before the first number,   张杨路 (上海市, 浦东新区,
 *             without country, city, district,    浦东, 陆家嘴街道, 七宝镇,
 *             street/town and committee prefixes  ...居委会 are dropped)
 *   lane      N弄 / N巷, or N号 when a building   123
 *             number follows
 *   building  N号楼 N栋 N幢 N座, N号 after a lane, 4, or 4-2 with 2单元
 *             N楼 unless it is the room's floor
 *   room      N室 N户 N房 N号房, or the last       502
 *             number
 *
 * What is folded: full-width digits, letters and punctuation; Chinese
 * numerals before a marker (一二三, 十二, 一百零三, 五〇二); a few
 * traditional forms (號 樓 棟 單 區 縣 鎮); '#' as 号; '-' and dash forms
 * between numbers (123-4-502, 4-502); spaces and punctuation; any text in
 * brackets ((), （）, [], 【】); leading zeros of numbers; letter case
 * (502a = 502A); floors (5层, 5楼 before 502) are dropped.  Text after the
 * room marker is ignored.  A number can only be a part that makes the
 * sequence lane < building < unit < floor < room; when several readings
 * fit, later numbers take the later parts (123号502室: building 123).
 *
 * The index maps keys to dense household ids (int32 >= 0).  It is an
 * open-addressing hash table (linear probing, 12-byte slots at most 70%
 * full, keys in one string pool): about 60 bytes per household, so a
 * 2-million-household registry takes ~120 MB and ~3 s to index.
 * It is not thread-safe: the caller (the store) serialises access.
 * Allocation failure aborts (util.h).
 */
#ifndef CB_ADDRESS_H
#define CB_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

/* Big enough for any key address_normalize makes from text it accepts. */
#define ADDRESS_KEY_MAX 256
/* Longest address text accepted, in bytes. */
#define ADDRESS_TEXT_MAX 1024

/*
 * Writes the canonical key of the UTF-8 address text[0..len) into out
 * (outcap bytes, NUL-terminated).  Returns 0; CB_EINVAL when no key can be
 * made (no road, no number, numbers that fit no reading, invalid UTF-8,
 * text longer than ADDRESS_TEXT_MAX); CB_ETOOBIG when outcap is too small.
 * On error out holds "" (when outcap > 0).  Pure and thread-safe.
 */
int address_normalize(const char *text, size_t len, char *out, size_t outcap);

struct address_index;

/* Returns a new empty index; free it with address_index_free. */
struct address_index *address_index_new(void);
/* Frees ix and everything it holds; NULL is fine. */
void address_index_free(struct address_index *ix);
/* Number of keys held, lane-less aliases included. */
size_t address_index_count(const struct address_index *ix);

/*
 * Indexes a registry address: normalises text[0..len) and maps its key to
 * household (>= 0), replacing any earlier household of that key.  Also puts
 * a lane-less alias that address_match uses for texts that omit the lane;
 * an alias two households share becomes ambiguous and matches nothing.
 * Returns 0, or the error of address_normalize (the index is then
 * unchanged).  When a household's address changes, remove the old text
 * with address_index_remove first, or the old key keeps matching.
 */
int address_index_put(struct address_index *ix, const char *text, size_t len,
                      int32_t household);
/*
 * Undoes address_index_put of text for household (-1: whichever household
 * the key has).  Returns 0; CB_EINVAL when text has no key; CB_ENOTFOUND
 * when the key is absent or maps to another household.
 */
int address_index_remove(struct address_index *ix, const char *text, size_t len,
                         int32_t household);

/*
 * Key-level access, for keys that address_normalize made.  put_key sets
 * key -> household (>= 0; the key is copied); get returns the household or
 * -1 when absent; remove_key deletes key when it maps to household (any
 * when household is -1) and returns 0 or CB_ENOTFOUND.
 */
void address_index_put_key(struct address_index *ix, const char *key,
                           int32_t household);
int32_t address_index_get(const struct address_index *ix, const char *key);
int address_index_remove_key(struct address_index *ix, const char *key,
                             int32_t household);

/*
 * Normalises text and looks it up.  Tries, in order: the key; the key with
 * leading characters of the road dropped (down to 3 characters), for text
 * with an unknown prefix such as 陆家嘴张杨路; and for text without a lane,
 * the lane-less aliases of address_index_put.  Returns the household, or -1
 * when nothing (or only an ambiguous alias) matches.
 */
int32_t address_match(const struct address_index *ix, const char *text,
                      size_t len);

#endif
