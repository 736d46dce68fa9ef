/* The membership table (ring/members.h). A snapshot is one block: the header, the nodes
 * sorted by node id, then every node's tokens one node after another. It is written only
 * inside members_build() and read-only afterwards. */
#include "ring/members.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/config.h"
#include "ring/place.h"
#include "ring/token.h"

struct members {
    uint32_t count;          /* 1..RKV_NODES_MAX */
    uint64_t *tokens;        /* every node's tokens; points past node[] */
    struct member node[];    /* ascending by node id */
};

static bool members_id_ok(const char *s)
{
    return s != NULL && config_node_id_valid((const uint8_t *)s, strnlen(s, RKV_NODE_ID_BYTES_MAX + 1u));
}

static bool members_desc_ok(const struct member_desc *d)
{
    if (!members_id_ok(d->node_id))
        return false;
    if (d->shard_count < 1 || d->shard_count > RKV_SHARDS_MAX)
        return false;
    if (d->vnode_count < 1 || d->vnode_count > RKV_VNODES_MAX)
        return false;
    if ((unsigned)d->status >= MEMBER_STATUS_COUNT)
        return false;
    if (d->tokens == NULL && d->status != MEMBER_JOINING && d->status != MEMBER_NORMAL)
        return false;
    return true;
}

static int members_node_cmp(const void *a, const void *b)
{
    const struct member *x = a;
    const struct member *y = b;
    return strcmp(x->node_id, y->node_id);
}

bool members_status_owns(enum member_status status)
{
    return status == MEMBER_NORMAL || status == MEMBER_LEAVING;
}

/* Gives tokens to the nodes that came without them (need[i] true), as members_build() says.
 * Nodes are in node id order already. */
static enum rkv_err members_place(struct members *m, const bool *need)
{
    struct place *p = NULL;
    enum rkv_err err = place_new(&p);
    if (err != RKV_OK)
        return err;
    for (uint32_t i = 0; i < m->count && err == RKV_OK; i++) {
        const struct member *n = &m->node[i];
        if (!need[i] && n->status != MEMBER_LEFT)
            err = place_add(p, n->tokens, n->vnode_count);
    }
    for (uint32_t i = 0; i < m->count && err == RKV_OK; i++) {
        const struct member *n = &m->node[i];
        if (need[i])
            err = place_node(p, n->node_id, n->vnode_count, m->tokens + (n->tokens - m->tokens));
    }
    place_free(p);
    return err;
}

enum rkv_err members_build(const struct member_desc *descs, uint32_t count, struct members **members_out)
{
    RKV_ASSERT(members_out != NULL);
    *members_out = NULL;
    RKV_ASSERT(descs != NULL || count == 0);
    if (count < 1 || count > RKV_NODES_MAX)
        return RKV_INVALID_ARG;
    size_t token_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!members_desc_ok(&descs[i]))
            return RKV_INVALID_ARG;
        token_count += descs[i].vnode_count;
    }
    size_t node_bytes = (size_t)count * sizeof(struct member);
    _Static_assert(sizeof(struct member) % _Alignof(uint64_t) == 0, "tokens follow the nodes aligned");
    struct members *m = malloc(sizeof *m + node_bytes + token_count * sizeof(uint64_t));
    /* Which nodes need tokens, by index in the sorted table: a bit kept beside each node
     * while sorting would be simpler, but struct member is public and has no room for it. */
    bool *need = calloc(count, sizeof need[0]);
    if (m == NULL || need == NULL) {
        free(m);
        free(need);
        return RKV_INTERNAL;
    }
    m->count = count;
    m->tokens = (uint64_t *)(void *)((char *)m->node + node_bytes);
    for (uint32_t i = 0; i < count; i++) {
        const struct member_desc *d = &descs[i];
        struct member *n = &m->node[i];
        memset(n, 0, sizeof *n);
        memcpy(n->node_id, d->node_id, strlen(d->node_id) + 1u);
        n->origin = token_origin_of_node(n->node_id);
        n->bin_addr = d->bin_addr;
        n->http_addr = d->http_addr;
        n->peer_addr = d->peer_addr;
        n->shard_count = d->shard_count;
        n->vnode_count = d->vnode_count;
        /* The tokens pointer is fixed up after the sort; until then it is the caller's. */
        n->tokens = d->tokens;
        n->status = d->status;
        n->up = d->up;
    }
    qsort(m->node, count, sizeof m->node[0], members_node_cmp);
    enum rkv_err err = RKV_OK;
    uint64_t *next_tokens = m->tokens;
    for (uint32_t i = 0; i < count; i++) {
        struct member *n = &m->node[i];
        if (i > 0 && strcmp(m->node[i - 1u].node_id, n->node_id) == 0)
            err = RKV_INVALID_ARG; /* two descriptions of one node */
        need[i] = n->tokens == NULL;
        if (!need[i])
            memcpy(next_tokens, n->tokens, n->vnode_count * sizeof next_tokens[0]);
        n->tokens = next_tokens;
        next_tokens += n->vnode_count;
    }
    if (err == RKV_OK)
        err = members_place(m, need);
    free(need);
    if (err != RKV_OK) {
        free(m);
        return err;
    }
    *members_out = m;
    return RKV_OK;
}

void members_free(struct members *m) { free(m); }

uint32_t members_count(const struct members *m)
{
    RKV_ASSERT(m != NULL);
    return m->count;
}

const struct member *members_get(const struct members *m, uint32_t node_idx)
{
    RKV_ASSERT(m != NULL);
    RKV_ASSERT(node_idx < m->count);
    return &m->node[node_idx];
}

bool members_find(const struct members *m, const char *node_id, uint32_t *node_idx_out)
{
    RKV_ASSERT(m != NULL);
    RKV_ASSERT(node_id != NULL);
    RKV_ASSERT(node_idx_out != NULL);
    *node_idx_out = UINT32_MAX;
    uint32_t lo = 0;
    uint32_t hi = m->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        int c = strcmp(m->node[mid].node_id, node_id);
        if (c == 0) {
            *node_idx_out = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return false;
}

void members_describe(const struct members *m, uint32_t node_idx, struct member_desc *desc_out)
{
    RKV_ASSERT(desc_out != NULL);
    const struct member *n = members_get(m, node_idx);
    *desc_out = (struct member_desc){
        .node_id = n->node_id,
        .bin_addr = n->bin_addr,
        .http_addr = n->http_addr,
        .peer_addr = n->peer_addr,
        .shard_count = n->shard_count,
        .vnode_count = n->vnode_count,
        .tokens = n->tokens,
        .status = n->status,
        .up = n->up,
    };
}
