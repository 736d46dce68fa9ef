/* Tokens (XXH3-64 of a key's bytes) and the vnode ring of one node. The ring is one block:
 * the header, the vnodes sorted by (token, vnode index) for lookups, then the tokens in
 * vnode order. It is written only inside vnode_ring_build() and read-only afterwards, so
 * any shard may read it without locks; its owner frees it once no shard uses it. */
#include "ring/token.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/assert.h"
#include "core/bytes.h"
#include "core/limits.h"

struct vnode_entry {
    uint64_t token;
    uint32_t vnode_idx;
};

struct vnode_ring {
    uint32_t count;            /* 1..RKV_VNODES_MAX */
    uint64_t *token_of_vnode;  /* count tokens, indexed by vnode; points past sorted[] */
    struct vnode_entry sorted[]; /* count entries, ascending by (token, vnode_idx) */
};

uint64_t token_of_key(const uint8_t *key, size_t key_bytes)
{
    RKV_ASSERT(key != NULL || key_bytes == 0);
    return XXH3_64bits(key, key_bytes);
}

uint32_t token_origin_of_node(const char *node_id)
{
    RKV_ASSERT(node_id != NULL);
    /* The high half of the 64-bit hash: XXH3's output bits are all well mixed, and this is
     * stored in records, so it must never change. */
    return (uint32_t)(XXH3_64bits(node_id, strlen(node_id)) >> 32);
}

static int vnode_entry_cmp(const void *a, const void *b)
{
    const struct vnode_entry *x = a;
    const struct vnode_entry *y = b;
    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    /* Two vnodes on one token (a 64-bit collision) still sort the same way on every build. */
    if (x->vnode_idx != y->vnode_idx)
        return x->vnode_idx < y->vnode_idx ? -1 : 1;
    return 0;
}

enum rkv_err vnode_ring_build(const char *node_id, uint32_t vnode_count, struct vnode_ring **ring_out)
{
    RKV_ASSERT(ring_out != NULL);
    *ring_out = NULL;
    RKV_ASSERT(node_id != NULL);
    if (vnode_count < 1 || vnode_count > RKV_VNODES_MAX)
        return RKV_INVALID_ARG;
    /* The node id is not limited here (core/config.c validates it); the seed buffer is
     * sized to it. The ring is built once at start-up, never on the hot path. */
    size_t id_bytes = strlen(node_id);
    uint8_t *seed = malloc(id_bytes + 4u);
    size_t sorted_bytes = (size_t)vnode_count * sizeof(struct vnode_entry);
    struct vnode_ring *r = malloc(sizeof *r + sorted_bytes + (size_t)vnode_count * sizeof(uint64_t));
    if (seed == NULL || r == NULL) {
        free(seed);
        free(r);
        return RKV_INTERNAL;
    }
    _Static_assert(sizeof(struct vnode_entry) % _Alignof(uint64_t) == 0, "tokens follow entries aligned");
    r->count = vnode_count;
    r->token_of_vnode = (uint64_t *)(void *)((char *)r->sorted + sorted_bytes);

    /* token(vnode i) = XXH3-64(node id bytes ‖ i as 4 bytes big-endian), as ring/token.h says. */
    memcpy(seed, node_id, id_bytes);
    for (uint32_t i = 0; i < vnode_count; i++) {
        store_be32(seed + id_bytes, i);
        uint64_t t = XXH3_64bits(seed, id_bytes + 4u);
        r->token_of_vnode[i] = t;
        r->sorted[i] = (struct vnode_entry){ .token = t, .vnode_idx = i };
    }
    free(seed);
    qsort(r->sorted, vnode_count, sizeof r->sorted[0], vnode_entry_cmp);
    *ring_out = r;
    return RKV_OK;
}

void vnode_ring_free(struct vnode_ring *r) { free(r); }

uint32_t vnode_ring_count(const struct vnode_ring *r)
{
    RKV_ASSERT(r != NULL);
    return r->count;
}

uint64_t vnode_ring_token(const struct vnode_ring *r, uint32_t vnode_idx)
{
    RKV_ASSERT(r != NULL);
    RKV_ASSERT(vnode_idx < r->count);
    return r->token_of_vnode[vnode_idx];
}

uint32_t vnode_ring_lookup(const struct vnode_ring *r, uint64_t token)
{
    RKV_ASSERT(r != NULL);
    RKV_ASSERT(r->count >= 1);
    /* Lower bound: the first entry whose token is >= token; lo == count means past the top. */
    uint32_t lo = 0;
    uint32_t hi = r->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        if (r->sorted[mid].token < token)
            lo = mid + 1u;
        else
            hi = mid;
    }
    if (lo == r->count)
        lo = 0; /* wrap: the ring continues at its smallest token */
    return r->sorted[lo].vnode_idx;
}
