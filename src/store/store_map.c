/*
 * store_map.c - a string -> int32 hash map for the in-memory registry and
 * the token cache.
 *
 * Open addressing with linear probing over a power-of-two table kept at
 * most 3/4 full.  Keys are copied, NUL-terminated, into one growing pool
 * (no allocation per key); a slot holds a 32-bit hash (never 0, so 0 marks
 * an empty slot), the key's offset in the pool and the value: 12 bytes.
 * Two million households take about 48 MiB of slots plus their ids.
 */
#include <string.h>

#include "store/store_int.h"

static uint32_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    uint32_t h32 = (uint32_t)(h ^ (h >> 32));
    return h32 ? h32 : 1;
}

void store__map_init(struct strmap *m)
{
    memset(m, 0, sizeof(*m));
    sbuf_init(&m->keys);
}

void store__map_release(struct strmap *m)
{
    free(m->slots);
    sbuf_release(&m->keys);
    memset(m, 0, sizeof(*m));
}

static struct strmap_slot *find_slot(const struct strmap *m, const char *key,
                                     uint32_t hash)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct strmap_slot *s = &m->slots[i];
        if (!s->hash)
            return s;
        if (s->hash == hash && !strcmp(m->keys.buf + s->key_off, key))
            return s;
    }
}

static void grow(struct strmap *m)
{
    size_t old_cap = m->cap;
    struct strmap_slot *old = m->slots;
    m->cap = old_cap ? old_cap * 2 : 64;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].hash)
            continue;
        size_t mask = m->cap - 1, j = old[i].hash & mask;
        while (m->slots[j].hash)
            j = (j + 1) & mask;
        m->slots[j] = old[i];
    }
    free(old);
}

int store__map_get(const struct strmap *m, const char *key, int32_t *OUT_value)
{
    if (!m->cap || !key)
        return 0;
    struct strmap_slot *s = find_slot(m, key, hash_key(key));
    if (!s->hash)
        return 0;
    *OUT_value = s->value;
    return 1;
}

void store__map_put(struct strmap *m, const char *key, int32_t value)
{
    if ((m->len + 1) * 4 > m->cap * 3)
        grow(m);
    uint32_t hash = hash_key(key);
    struct strmap_slot *s = find_slot(m, key, hash);
    if (!s->hash) {
        s->hash = hash;
        s->key_off = (uint32_t)m->keys.len;
        sbuf_add(&m->keys, key, strlen(key) + 1);
        m->len++;
    }
    s->value = value;
}
