/* The ring map (ring/ringmap.h): the tokens in one array for a cache-friendly binary search
 * and the (node, vnode) of each position in a parallel array, both written only inside
 * ringmap_build() and read-only afterwards. */
#include "ring/ringmap.h"

#include <stdlib.h>

#include "core/assert.h"
#include "core/limits.h"

struct ringmap_owner {
    uint16_t node_idx;  /* RKV_NODES_MAX and RKV_VNODES_MAX fit 16 bits (core/limits.h) */
    uint16_t vnode_idx;
};

struct ringmap {
    struct members *members;      /* owned */
    uint32_t count;               /* positions */
    uint32_t node_count;          /* nodes that own ranges */
    uint64_t *token;              /* count tokens, ascending */
    struct ringmap_owner *owner;  /* count owners, parallel to token[] */
};

static int ringmap_entry_cmp(const void *a, const void *b)
{
    const struct ringmap_entry *x = a;
    const struct ringmap_entry *y = b;
    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    /* Equal tokens: the node first by node id, then the lower vnode, on every node alike. */
    if (x->node_idx != y->node_idx)
        return x->node_idx < y->node_idx ? -1 : 1;
    if (x->vnode_idx != y->vnode_idx)
        return x->vnode_idx < y->vnode_idx ? -1 : 1;
    return 0;
}

enum rkv_err ringmap_build(struct members *m, struct ringmap **ringmap_out)
{
    RKV_ASSERT(ringmap_out != NULL);
    *ringmap_out = NULL;
    RKV_ASSERT(m != NULL);
    uint32_t count = 0;
    uint32_t node_count = 0;
    for (uint32_t n = 0; n < members_count(m); n++) {
        const struct member *mb = members_get(m, n);
        if (!members_status_owns(mb->status))
            continue;
        count += mb->vnode_count;
        node_count++;
    }
    struct ringmap *r = calloc(1, sizeof *r);
    /* The sort goes through full entries; the ring keeps them split in two arrays. */
    struct ringmap_entry *sorted = malloc((count > 0 ? count : 1u) * sizeof sorted[0]);
    if (r != NULL) {
        r->token = malloc((count > 0 ? count : 1u) * sizeof r->token[0]);
        r->owner = malloc((count > 0 ? count : 1u) * sizeof r->owner[0]);
    }
    if (r == NULL || sorted == NULL || r->token == NULL || r->owner == NULL) {
        if (r != NULL) {
            free(r->token);
            free(r->owner);
        }
        free(r);
        free(sorted);
        return RKV_INTERNAL;
    }
    uint32_t k = 0;
    for (uint32_t n = 0; n < members_count(m); n++) {
        const struct member *mb = members_get(m, n);
        if (!members_status_owns(mb->status))
            continue;
        for (uint32_t v = 0; v < mb->vnode_count; v++)
            sorted[k++] = (struct ringmap_entry){ .token = mb->tokens[v], .node_idx = n, .vnode_idx = v };
    }
    RKV_ASSERT(k == count);
    qsort(sorted, count, sizeof sorted[0], ringmap_entry_cmp);
    for (uint32_t i = 0; i < count; i++) {
        r->token[i] = sorted[i].token;
        r->owner[i] = (struct ringmap_owner){ .node_idx = (uint16_t)sorted[i].node_idx,
                                              .vnode_idx = (uint16_t)sorted[i].vnode_idx };
    }
    free(sorted);
    r->members = m;
    r->count = count;
    r->node_count = node_count;
    *ringmap_out = r;
    return RKV_OK;
}

void ringmap_free(struct ringmap *r)
{
    if (r == NULL)
        return;
    members_free(r->members);
    free(r->token);
    free(r->owner);
    free(r);
}

const struct members *ringmap_members(const struct ringmap *r)
{
    RKV_ASSERT(r != NULL);
    return r->members;
}

uint32_t ringmap_count(const struct ringmap *r)
{
    RKV_ASSERT(r != NULL);
    return r->count;
}

uint32_t ringmap_node_count(const struct ringmap *r)
{
    RKV_ASSERT(r != NULL);
    return r->node_count;
}

struct ringmap_entry ringmap_entry(const struct ringmap *r, uint32_t pos)
{
    RKV_ASSERT(r != NULL);
    RKV_ASSERT(pos < r->count);
    return (struct ringmap_entry){ .token = r->token[pos],
                                   .node_idx = r->owner[pos].node_idx,
                                   .vnode_idx = r->owner[pos].vnode_idx };
}

uint32_t ringmap_find(const struct ringmap *r, uint64_t token)
{
    RKV_ASSERT(r != NULL);
    RKV_ASSERT(r->count > 0);
    /* Lower bound: the first token >= token; lo == count means past the largest. */
    uint32_t lo = 0;
    uint32_t hi = r->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        if (r->token[mid] < token)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return lo == r->count ? 0 : lo;
}
