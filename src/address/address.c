/*
 * address.c - address normalisation and the key -> household index.
 *
 * Normalisation runs in four passes over code points (see address.h for the
 * key and the examples):
 *
 *   1. fold:     decode UTF-8, fold widths, case and a few traditional
 *                forms, drop bracketed notes, turn punctuation into SEP;
 *   2. road:     the text before the first number, with administrative
 *                prefixes (country, city, district, street/town, committee)
 *                stripped, repeatedly, so 浦东新区浦东南路 and 浦东南路
 *                agree;
 *   3. numbers:  each number after the road with the marker that follows
 *                it (弄, 号, 号楼, 栋, 单元, 层, 室, '-', none) becomes an
 *                item with the set of parts it may be;
 *   4. parts:    a depth-first search gives each item a part so that parts
 *                strictly increase (lane < building < unit < floor < room),
 *                preferring later parts for later items.
 *
 * Failure modes: a compound named instead of road + lane (金杨新村4号502)
 * gives a different road than the registry; a real road that starts with a
 * district's short name and a non-road word (浦东新村...) loses the short
 * name, consistently on both sides.
 */
#include "address/address.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uchar.h>

#define MAX_CPS ADDRESS_TEXT_MAX
#define MAX_ITEMS 6
#define SEP 0x20u

enum part { LANE, BUILDING, UNIT, FLOOR, ROOM, NPARTS };
#define ANY_OF(a) (1u << (a))
#define AMBIGUOUS (ANY_OF(LANE) | ANY_OF(BUILDING) | ANY_OF(ROOM))

/* A number after the road, and the parts it may be. */
struct item {
    char num[24];
    unsigned allowed; /* ANY_OF(part) bits */
    int part;         /* chosen */
};

/* ---- pass 1: fold ---- */

/* Decodes one UTF-8 sequence; returns its length, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] & 0xE0) == 0xC0   ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (!n || n > len)
        return 0;
    uint32_t c = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

static size_t utf8_encode(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Folds one code point: widths, case, dashes and a few traditional forms;
 * everything that is not a letter, digit, dash or CJK character becomes
 * SEP. */
static uint32_t fold(uint32_t c)
{
    /* 號樓棟單區縣鎮 -> 号楼栋单区县镇 */
    static const uint32_t trad[][2] = {
        {0x865F, 0x53F7}, {0x6A13, 0x697C}, {0x68DF, 0x680B}, {0x55AE, 0x5355},
        {0x5340, 0x533A}, {0x7E23, 0x53BF}, {0x93AE, 0x9547},
    };
    if (c >= 0xFF01 && c <= 0xFF5E)
        c -= 0xFEE0; /* full width */
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 'A';
    if (c == '#')
        return 0x53F7; /* 号 */
    if (c == '-' || (c >= 0x2010 && c <= 0x2015) || c == 0x2212 ||
        c == 0xFE63 || c == '~' || c == 0x301C)
        return '-';
    for (size_t i = 0; i < sizeof(trad) / sizeof(trad[0]); i++)
        if (c == trad[i][0])
            return trad[i][1];
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c >= 0x3400 ||
        c == 0x3007 /* 〇 */)
        return c;
    return SEP; /* spaces, ASCII and CJK punctuation, controls */
}

/* 1 for an opening bracket, -1 for a closing one, else 0: ( [ { in ASCII
 * and full width, and 〈 《 【 〔 〖 with their pairs. */
static int bracket(uint32_t c)
{
    static const uint32_t open[] = {'(',    '[',    '{',    0xFF08,
                                    0xFF3B, 0xFF5B, 0x3008, 0x300A,
                                    0x3010, 0x3014, 0x3016};
    static const uint32_t close[] = {')',    ']',    '}',    0xFF09,
                                     0xFF3D, 0xFF5D, 0x3009, 0x300B,
                                     0x3011, 0x3015, 0x3017};
    for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++) {
        if (c == open[i])
            return 1;
        if (c == close[i])
            return -1;
    }
    return 0;
}

/* Decodes and folds text into cps; returns the count, or -1 if invalid. */
static int fold_text(const char *text, size_t len, uint32_t *cps)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    int n = 0, depth = 0;
    if (len > ADDRESS_TEXT_MAX)
        return -1;
    while (i < len) {
        uint32_t c;
        size_t k = utf8_decode(s + i, len - i, &c);
        if (!k)
            return -1;
        i += k;
        int b = bracket(c);
        if (b) {
            depth += b;
            if (depth < 0)
                depth = 0;
            else if (b < 0 && n && cps[n - 1] != SEP)
                cps[n++] = SEP;
            continue;
        }
        if (depth == 0)
            cps[n++] = fold(c);
    }
    return n;
}

/* ---- pass 2: the road ---- */

/* 1 when cps[0..n) starts with the UTF-32 literal lit; *OUT_k its length. */
static int starts(const uint32_t *cps, int n, const char32_t *lit, int *OUT_k)
{
    int k = 0;
    for (; lit[k]; k++)
        if (k >= n || cps[k] != lit[k])
            return 0;
    *OUT_k = k;
    return 1;
}

/* 1 when the text at cps[0..n) begins like a road suffix (路, 南路, ...). */
static int road_suffix(const uint32_t *cps, int n)
{
    static const char32_t *const suffix[] = {
        U"路",   U"街",   U"道",   U"巷",   U"弄",   U"大道", U"南路", U"北路",
        U"东路", U"西路", U"中路", U"大街", U"公路", U"支路", U"新路", U"环路"};
    int k;
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
        if (starts(cps, n, suffix[i], &k))
            return 1;
    return 0;
}

/* Length of an administrative prefix at cps[0..n), or 0. */
static int admin_prefix(const uint32_t *cps, int n)
{
    static const char32_t *const whole[] = {
        U"中华人民共和国", U"中国",   U"上海市", U"上海",   U"浦东新区",
        U"黄浦区",         U"徐汇区", U"长宁区", U"静安区", U"普陀区",
        U"虹口区",         U"杨浦区", U"闵行区", U"宝山区", U"嘉定区",
        U"金山区",         U"松江区", U"青浦区", U"奉贤区", U"崇明区",
        U"崇明县",         U"闸北区", U"卢湾区", U"南汇区", U"新区"};
    static const char32_t *const shortname[] = {
        U"浦东", U"黄浦", U"徐汇", U"长宁", U"静安", U"普陀", U"虹口", U"杨浦",
        U"闵行", U"宝山", U"嘉定", U"金山", U"松江", U"青浦", U"奉贤", U"崇明"};
    int k;
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
        if (starts(cps, n, whole[i], &k) && k < n)
            return k;
    for (size_t i = 0; i < sizeof(shortname) / sizeof(shortname[0]); i++)
        if (starts(cps, n, shortname[i], &k) && k < n &&
            !road_suffix(cps + k, n - k))
            return k;
    return 0;
}

/* Length of a street/town or committee prefix (陆家嘴街道, 七宝镇,
 * 梅园居委会, ...) at cps[0..n), or 0. */
static int local_prefix(const uint32_t *cps, int n)
{
    static const struct {
        const char32_t *word;
        int min, max; /* characters before the word */
    } words[] = {{U"街道", 2, 6},   {U"居民委员会", 2, 8}, {U"居委会", 2, 8},
                 {U"村委会", 2, 8}, {U"居委", 2, 8},       {U"社区", 2, 6},
                 {U"镇", 1, 4},     {U"乡", 1, 4}};
    int k;
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        for (int at = words[w].min; at <= words[w].max && at < n; at++) {
            if (!starts(cps + at, n - at, words[w].word, &k) || at + k >= n)
                continue;
            if (k == 1 && road_suffix(cps + at + 1, n - at - 1))
                continue; /* 彭镇路 is a road */
            return at + k;
        }
    }
    return 0;
}

/* Strips prefixes from the road cps[0..*n) in place. */
static void strip_road(uint32_t *cps, int *n)
{
    for (int round = 0; round < 8; round++) {
        int k = admin_prefix(cps, *n);
        if (!k)
            k = local_prefix(cps, *n);
        if (!k)
            return;
        memmove(cps, cps + k, (size_t)(*n - k) * sizeof(*cps));
        *n -= k;
    }
}

/* ---- pass 3: numbers ---- */

static int cn_digit(uint32_t c)
{
    static const uint32_t d[] = {0x96F6, 0x4E00, 0x4E8C, 0x4E09, 0x56DB,
                                 0x4E94, 0x516D, 0x4E03, 0x516B, 0x4E5D};
    if (c == 0x3007) /* 〇 */
        return 0;
    if (c == 0x4E24) /* 两 */
        return 2;
    for (int i = 0; i < 10; i++)
        if (c == d[i])
            return i;
    return -1;
}

static int cn_unit(uint32_t c)
{
    return c == 0x5341 ? 10 : c == 0x767E ? 100 : c == 0x5343 ? 1000 : 0;
}

/* Length of the marker at cps[0..n) and the parts of the number before it;
 * 0 when there is none. */
static int marker(const uint32_t *cps, int n, unsigned *OUT_allowed)
{
    static const struct {
        const char32_t *word;
        unsigned allowed;
    } m[] = {
        {U"号楼", ANY_OF(BUILDING)}, {U"号房", ANY_OF(ROOM)},
        {U"单元", ANY_OF(UNIT)},     {U"弄", ANY_OF(LANE)},
        {U"巷", ANY_OF(LANE)},       {U"号", ANY_OF(LANE) | ANY_OF(BUILDING)},
        {U"栋", ANY_OF(BUILDING)},   {U"幢", ANY_OF(BUILDING)},
        {U"座", ANY_OF(BUILDING)},   {U"楼", ANY_OF(BUILDING) | ANY_OF(FLOOR)},
        {U"层", ANY_OF(FLOOR)},      {U"室", ANY_OF(ROOM)},
        {U"户", ANY_OF(ROOM)},       {U"房", ANY_OF(ROOM)},
        {U"-", AMBIGUOUS},
    };
    int k;
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (starts(cps, n, m[i].word, &k)) {
            *OUT_allowed = m[i].allowed;
            return k;
        }
    }
    return 0;
}

/* Skips SEP from i; returns the new index. */
static int skip_sep(const uint32_t *cps, int n, int i)
{
    while (i < n && cps[i] == SEP)
        i++;
    return i;
}

/* Length of a run of Chinese numerals at cps[i..n) that is a number: it
 * must be followed by a marker or the end.  0 otherwise. */
static int cn_number_len(const uint32_t *cps, int n, int i)
{
    int j = i;
    unsigned allowed;
    while (j < n && (cn_digit(cps[j]) >= 0 || cn_unit(cps[j])))
        j++;
    if (j == i)
        return 0;
    int after = skip_sep(cps, n, j);
    if (after < n && !marker(cps + after, n - after, &allowed))
        return 0;
    return j - i;
}

/* Writes the value of Chinese numerals cps[0..k) as decimal text. */
static void cn_number(const uint32_t *cps, int k, char *out, size_t cap)
{
    int has_unit = 0;
    for (int i = 0; i < k; i++)
        has_unit |= cn_unit(cps[i]) != 0;
    if (!has_unit) { /* 五〇二: digit by digit */
        size_t o = 0;
        for (int i = 0; i < k && o + 1 < cap; i++)
            out[o++] = (char)('0' + cn_digit(cps[i]));
        out[o] = '\0';
        return;
    }
    long total = 0, cur = 0;
    for (int i = 0; i < k; i++) {
        int u = cn_unit(cps[i]);
        if (!u) {
            cur = cn_digit(cps[i]);
            continue;
        }
        total += (cur ? cur : 1) * u;
        cur = 0;
    }
    snprintf(out, cap, "%ld", total + cur);
}

static int is_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

static int is_letter(uint32_t c)
{
    return c >= 'A' && c <= 'Z';
}

/* Reads an ASCII number at cps[i..): digits with letters around them
 * (502A, B1), leading zeros dropped.  Returns its length. */
static int ascii_number(const uint32_t *cps, int n, int i, char *out,
                        size_t cap)
{
    int j = i;
    size_t o = 0;
    while (j < n && is_letter(cps[j]))
        j++;
    while (j < n && (is_digit(cps[j]) || is_letter(cps[j])))
        j++;
    int leading = 1;
    for (int x = i; x < j && o + 1 < cap; x++) {
        int last_digit = x + 1 == j || !is_digit(cps[x + 1]);
        if (leading && cps[x] == '0' && !last_digit)
            continue;
        leading = leading && !is_digit(cps[x]);
        out[o++] = (char)cps[x];
    }
    out[o] = '\0';
    return j - i;
}

/* 1 when letters at cps[i..) run into a digit (B1, A502). */
static int letters_then_digit(const uint32_t *cps, int n, int i)
{
    int j = i;
    while (j < n && is_letter(cps[j]))
        j++;
    return j > i && j < n && is_digit(cps[j]);
}

/* Letters that name a building (A座, B栋), read as a number. */
static int letter_building(const uint32_t *cps, int n, int i)
{
    int j = i;
    unsigned allowed;
    while (j < n && is_letter(cps[j]))
        j++;
    if (j == i || j - i > 3)
        return 0;
    return marker(cps + j, n - j, &allowed) && allowed == ANY_OF(BUILDING)
               ? j - i
               : 0;
}

/* Where the road ends: at the first number (ASCII digits with any letters
 * before them, Chinese numerals before a marker, or A座). */
static int road_end(const uint32_t *cps, int n)
{
    for (int i = 0; i < n; i++) {
        if (is_letter(cps[i]) && (i == 0 || !is_letter(cps[i - 1])) &&
            (letters_then_digit(cps, n, i) || letter_building(cps, n, i)))
            return i;
        if (is_digit(cps[i]) || cn_number_len(cps, n, i))
            return i;
    }
    return n;
}

/* Reads the items after the road; returns their count or -1. */
static int read_items(const uint32_t *cps, int n, int i, struct item *items)
{
    int count = 0;
    while (i < n) {
        struct item it = {{0}, AMBIGUOUS, -1};
        int k;
        if (is_digit(cps[i]) || ((i == 0 || !is_letter(cps[i - 1])) &&
                                 letters_then_digit(cps, n, i))) {
            k = ascii_number(cps, n, i, it.num, sizeof(it.num));
        } else if ((k = cn_number_len(cps, n, i)) > 0) {
            cn_number(cps + i, k, it.num, sizeof(it.num));
        } else if ((k = letter_building(cps, n, i)) > 0) {
            ascii_number(cps, n, i, it.num, sizeof(it.num));
        } else {
            i++; /* text between numbers: a compound name, a note */
            continue;
        }
        i = skip_sep(cps, n, i + k);
        int m = i < n ? marker(cps + i, n - i, &it.allowed) : 0;
        i += m;
        if (count == MAX_ITEMS)
            return -1;
        items[count++] = it;
        if (it.allowed == ANY_OF(ROOM))
            break; /* the rest is a note */
    }
    return count;
}

/* ---- pass 4: parts ---- */

/* Gives items[0..j] parts below limit, later items first and each as late
 * as allowed; 1 when an assignment exists. */
static int assign(struct item *items, int j, int limit)
{
    if (j < 0)
        return 1;
    for (int p = limit - 1; p >= 0; p--) {
        if (!(items[j].allowed & ANY_OF(p)))
            continue;
        items[j].part = p;
        if (assign(items, j - 1, p))
            return 1;
    }
    return 0;
}

/* N楼 read as a floor that is not the room's floor (4楼502: 502 is on the
 * 5th floor) is a building. */
static void floor_or_building(struct item *items, int count)
{
    const char *room = NULL;
    int has_building = 0;
    for (int i = 0; i < count; i++) {
        if (items[i].part == ROOM)
            room = items[i].num;
        has_building |= items[i].part == BUILDING || items[i].part == UNIT;
    }
    for (int i = 0; i < count && room && !has_building; i++) {
        struct item *it = &items[i];
        size_t rl = strlen(room);
        if (it->part != FLOOR || !(it->allowed & ANY_OF(BUILDING)) || rl < 3)
            continue;
        if (strlen(it->num) != rl - 2 || memcmp(it->num, room, rl - 2))
            it->part = BUILDING;
    }
}

/* ---- the key ---- */

static int compose(const uint32_t *road, int road_n, const struct item *items,
                   int count, char *out, size_t outcap)
{
    const char *part[NPARTS] = {"", "", "", "", ""};
    char road_utf8[MAX_CPS * 4 + 1];
    size_t o = 0;
    for (int i = 0; i < road_n; i++)
        if (road[i] != SEP)
            o += utf8_encode(road[i], road_utf8 + o);
    road_utf8[o] = '\0';
    for (int i = 0; i < count; i++)
        part[items[i].part] = items[i].num;
    int w = snprintf(out, outcap, "%s|%s|%s%s%s|%s", road_utf8, part[LANE],
                     part[BUILDING], *part[UNIT] ? "-" : "", part[UNIT],
                     part[ROOM]);
    if (w < 0 || (size_t)w >= outcap) {
        if (outcap)
            out[0] = '\0';
        return CB_ETOOBIG;
    }
    return 0;
}

/* Road as code points (prefixes stripped, no SEP) and items of text. */
struct parsed {
    uint32_t cps[MAX_CPS];
    int road_n;
    struct item items[MAX_ITEMS];
    int count;
};

static int parse(const char *text, size_t len, struct parsed *p)
{
    int n = fold_text(text, len, p->cps);
    if (n < 0)
        return CB_EINVAL;
    int end = road_end(p->cps, n), r = 0;
    for (int i = 0; i < end; i++)
        if (p->cps[i] != SEP)
            p->cps[r++] = p->cps[i];
    p->count = read_items(p->cps, n, end, p->items);
    p->road_n = r;
    strip_road(p->cps, &p->road_n);
    if (p->road_n == 0 || p->count <= 0 ||
        !assign(p->items, p->count - 1, NPARTS))
        return CB_EINVAL;
    floor_or_building(p->items, p->count);
    return 0;
}

int address_normalize(const char *text, size_t len, char *out, size_t outcap)
{
    struct parsed p;
    int rc = parse(text, len, &p);
    if (rc == 0)
        rc = compose(p.cps, p.road_n, p.items, p.count, out, outcap);
    else if (outcap)
        out[0] = '\0';
    return rc;
}

/* ---- the index ---- */

/*
 * Slots hold a key's hash, its offset in the pool (0: empty slot; the pool
 * starts with one unused byte) and the household.  Linear probing, at most
 * 70% full, deletion by backward shift so no tombstones are needed.  The
 * pool only grows: a removed key's bytes stay until the index is freed.
 */
struct slot {
    uint32_t hash;
    uint32_t key;
    int32_t household;
};

struct address_index {
    struct slot *slots;
    size_t mask; /* slots - 1, a power of two minus one */
    size_t count;
    char *pool;
    size_t pool_len, pool_cap;
};

#define AMBIGUOUS_HOUSEHOLD (-2)
#define ALIAS_MARK '~'

static uint32_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

struct address_index *address_index_new(void)
{
    struct address_index *ix = xcalloc(1, sizeof(*ix));
    ix->mask = 1023;
    ix->slots = xcalloc(ix->mask + 1, sizeof(struct slot));
    ix->pool_cap = 4096;
    ix->pool = xmalloc(ix->pool_cap);
    ix->pool_len = 1;
    return ix;
}

void address_index_free(struct address_index *ix)
{
    if (!ix)
        return;
    free(ix->slots);
    free(ix->pool);
    free(ix);
}

size_t address_index_count(const struct address_index *ix)
{
    return ix->count;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const struct address_index *ix, const char *key, uint32_t h)
{
    size_t i = h & ix->mask;
    for (;; i = (i + 1) & ix->mask) {
        const struct slot *s = &ix->slots[i];
        if (!s->key || (s->hash == h && !strcmp(ix->pool + s->key, key)))
            return i;
    }
}

static void grow(struct address_index *ix)
{
    struct slot *old = ix->slots;
    size_t n = ix->mask + 1;
    ix->mask = n * 2 - 1;
    ix->slots = xcalloc(n * 2, sizeof(struct slot));
    for (size_t i = 0; i < n; i++) {
        if (!old[i].key)
            continue;
        size_t j = old[i].hash & ix->mask;
        while (ix->slots[j].key)
            j = (j + 1) & ix->mask;
        ix->slots[j] = old[i];
    }
    free(old);
}

static uint32_t pool_add(struct address_index *ix, const char *key)
{
    size_t len = strlen(key) + 1;
    if (ix->pool_len + len > UINT32_MAX) {
        fprintf(stderr, "fatal: address index pool over 4 GiB\n");
        abort();
    }
    if (ix->pool_len + len > ix->pool_cap) {
        while (ix->pool_len + len > ix->pool_cap)
            ix->pool_cap += ix->pool_cap / 2; /* 1.5x: less slack */
        ix->pool = xrealloc(ix->pool, ix->pool_cap);
    }
    memcpy(ix->pool + ix->pool_len, key, len);
    ix->pool_len += len;
    return (uint32_t)(ix->pool_len - len);
}

/* Sets key to household; an alias that two households share becomes
 * ambiguous. */
static void put(struct address_index *ix, const char *key, int32_t household,
                int alias)
{
    if ((ix->count + 1) * 10 > (ix->mask + 1) * 7)
        grow(ix);
    uint32_t h = key_hash(key);
    struct slot *s = &ix->slots[find(ix, key, h)];
    if (s->key) {
        s->household = alias && s->household != household ? AMBIGUOUS_HOUSEHOLD
                                                          : household;
        return;
    }
    s->hash = h;
    s->key = pool_add(ix, key);
    s->household = household;
    ix->count++;
}

void address_index_put_key(struct address_index *ix, const char *key,
                           int32_t household)
{
    put(ix, key, household, 0);
}

static int32_t get(const struct address_index *ix, const char *key)
{
    const struct slot *s = &ix->slots[find(ix, key, key_hash(key))];
    return s->key ? s->household : -1;
}

int32_t address_index_get(const struct address_index *ix, const char *key)
{
    int32_t h = get(ix, key);
    return h >= 0 ? h : -1;
}

int address_index_remove_key(struct address_index *ix, const char *key,
                             int32_t household)
{
    size_t i = find(ix, key, key_hash(key));
    if (!ix->slots[i].key ||
        (household >= 0 && ix->slots[i].household != household))
        return CB_ENOTFOUND;
    /* Backward shift: move later slots of the probe run into the hole. */
    for (size_t j = (i + 1) & ix->mask; ix->slots[j].key;
         j = (j + 1) & ix->mask) {
        size_t home = ix->slots[j].hash & ix->mask;
        if (((j - home) & ix->mask) >= ((j - i) & ix->mask)) {
            ix->slots[i] = ix->slots[j];
            i = j;
        }
    }
    memset(&ix->slots[i], 0, sizeof(ix->slots[i]));
    ix->count--;
    return 0;
}

/* The alias of a key: '~' + road||building|room (the lane dropped).
 * Returns 0 when the key has no lane (no alias needed). */
static int alias_of(const char *key, char *out, size_t cap)
{
    const char *bar = strchr(key, '|');
    if (!bar || bar[1] == '|')
        return 0;
    const char *rest = strchr(bar + 1, '|');
    int w = snprintf(out, cap, "%c%.*s|%s", ALIAS_MARK, (int)(bar - key), key,
                     rest);
    return w > 0 && (size_t)w < cap;
}

int address_index_put(struct address_index *ix, const char *text, size_t len,
                      int32_t household)
{
    char key[ADDRESS_KEY_MAX], alias[ADDRESS_KEY_MAX + 2];
    int rc = address_normalize(text, len, key, sizeof(key));
    if (rc)
        return rc;
    put(ix, key, household, 0);
    if (alias_of(key, alias, sizeof(alias)))
        put(ix, alias, household, 1);
    return 0;
}

int address_index_remove(struct address_index *ix, const char *text, size_t len,
                         int32_t household)
{
    char key[ADDRESS_KEY_MAX], alias[ADDRESS_KEY_MAX + 2];
    int rc = address_normalize(text, len, key, sizeof(key));
    if (rc)
        return rc;
    if (alias_of(key, alias, sizeof(alias)))
        address_index_remove_key(ix, alias, household);
    return address_index_remove_key(ix, key, household);
}

/* Looks up key, then (when it has no lane) its lane-less alias. */
static int32_t lookup(const struct address_index *ix, const char *key)
{
    char alias[ADDRESS_KEY_MAX + 2];
    int32_t h = get(ix, key);
    if (h >= 0)
        return h;
    const char *bar = strchr(key, '|');
    if (!bar || bar[1] != '|')
        return -1;
    snprintf(alias, sizeof(alias), "%c%s", ALIAS_MARK, key);
    h = get(ix, alias);
    return h >= 0 ? h : -1;
}

int32_t address_match(const struct address_index *ix, const char *text,
                      size_t len)
{
    char key[ADDRESS_KEY_MAX];
    if (address_normalize(text, len, key, sizeof(key)))
        return -1;
    /* Drop leading road characters one at a time, keeping 3. */
    const char *road = key, *bar = strchr(key, '|');
    for (;;) {
        int32_t h = lookup(ix, road);
        if (h >= 0)
            return h;
        size_t chars = 0;
        for (const char *p = road; p < bar; p++)
            chars += ((unsigned char)*p & 0xC0) != 0x80;
        if (chars <= 3)
            return -1;
        do
            road++;
        while (((unsigned char)*road & 0xC0) == 0x80);
    }
}
