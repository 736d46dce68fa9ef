/* Token placement (ring/place.h). The ring being placed into is one array sorted by token.
 * While a node is placed, its chosen tokens are appended and linked into ring order with
 * next/prev links, and merged into the sorted array at the end, so placing V vnodes into a
 * ring of R tokens costs O(R) plus O(V * PLACE_CANDIDATES * (log R + PLACE_RF^2)).
 *
 * Each candidate is scored by what it would change in two loads of every node it touches:
 * the primary load (the arcs a node owns) and the replica load (the arcs for which it is one
 * of PLACE_RF replicas). The score is the change of sum over nodes of (load - share)^2 /
 * weight for both loads, where share is the node's fair load once the new node is in; for
 * the new node only what it takes past its share counts, so it fills up from the nodes that
 * are most over their share instead of grabbing the largest arcs first. The lowest score
 * wins, ties to the lowest candidate. Integer arithmetic only, so every machine and compiler
 * chooses the same tokens. Built and used by one caller; never shared. */
#include "ring/place.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/assert.h"
#include "core/bytes.h"
#include "core/limits.h"

/* Loads are measured in units of 2^-44 of the ring (a token arc shifted right by 20 bits):
 * a load is at most 2^44, so a product of two loads fits easily in 128 bits, and an arc of
 * the smallest useful size (the ring split into RKV_NODES_MAX * RKV_VNODES_MAX pieces, 2^18)
 * still keeps 26 bits of precision. */
#define PLACE_LOAD_SHIFT 20u
#define PLACE_RING_LOAD (UINT64_C(1) << (64u - PLACE_LOAD_SHIFT))

/* Replica loads are balanced for replica sets of this size, the default RF. A literal, not
 * RKV_RF_DEFAULT: it is part of the token derivation like PLACE_CANDIDATES, and must not
 * change if the default ever does. Clusters with another RF still get balanced primaries. */
#define PLACE_RF 3u

__extension__ typedef __int128 place_i128;

struct place {
    uint32_t node_count;
    uint32_t node_cap;
    uint32_t *weight;     /* per node: its vnode count (its fair share is weight / total) */
    uint64_t *pload;      /* per node: the arcs it owns as primary, in 2^-44 of the ring */
    uint64_t *rload;      /* per node: the arcs it holds as one of PLACE_RF replicas */
    uint64_t *pshare;     /* per node: its fair primary load once the node being placed is in */
    uint64_t *rshare;     /* per node: its fair replica load likewise */
    uint32_t count;       /* entries of the sorted ring: tok[0..count), own[0..count) */
    uint32_t cap;         /* room for count + RKV_VNODES_MAX entries in every per-entry array */
    uint64_t *tok;        /* ids 0..count-1: ascending by token, equal tokens in the order added;
                           * ids count.. hold the tokens chosen so far by place_node() */
    uint32_t *own;        /* the node of each id */
    uint32_t *next;       /* during place_node(): the ring order over every id */
    uint32_t *prev;
    uint32_t *fresh;      /* ids of the tokens chosen so far by place_node(), ascending by token */
    uint32_t fresh_count;
    uint64_t *scratch;    /* RKV_VNODES_MAX tokens for sorting and merging */
};

/* What one new token changes, per node touched: at most the owner of the range it falls in,
 * the PLACE_RF replicas of that range and the new node itself. */
struct place_delta {
    uint32_t count;
    uint32_t node[PLACE_RF + 2u];
    int64_t dp[PLACE_RF + 2u];
    int64_t dr[PLACE_RF + 2u];
};

uint64_t place_candidate(const char *node_id, uint32_t vnode_idx, uint32_t j)
{
    RKV_ASSERT(node_id != NULL);
    RKV_ASSERT(j < PLACE_CANDIDATES);
    uint8_t seed[RKV_NODE_ID_BYTES_MAX + 8u];
    size_t id_bytes = strlen(node_id);
    RKV_ASSERT(id_bytes <= RKV_NODE_ID_BYTES_MAX);
    memcpy(seed, node_id, id_bytes);
    store_be32(seed + id_bytes, vnode_idx);
    if (j == 0)
        return XXH3_64bits(seed, id_bytes + 4u); /* the lone-node token of ring/token.h */
    store_be32(seed + id_bytes + 4u, j);
    return XXH3_64bits(seed, id_bytes + 8u);
}

enum rkv_err place_new(struct place **place_out)
{
    RKV_ASSERT(place_out != NULL);
    *place_out = NULL;
    struct place *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RKV_INTERNAL;
    p->fresh = malloc(RKV_VNODES_MAX * sizeof p->fresh[0]);
    p->scratch = malloc(RKV_VNODES_MAX * sizeof p->scratch[0]);
    if (p->fresh == NULL || p->scratch == NULL) {
        place_free(p);
        return RKV_INTERNAL;
    }
    *place_out = p;
    return RKV_OK;
}

void place_free(struct place *p)
{
    if (p == NULL)
        return;
    free(p->weight);
    free(p->pload);
    free(p->rload);
    free(p->pshare);
    free(p->rshare);
    free(p->tok);
    free(p->own);
    free(p->next);
    free(p->prev);
    free(p->fresh);
    free(p->scratch);
    free(p);
}

static bool place_grow(void **a, size_t cap, size_t elem_bytes)
{
    void *n = realloc(*a, cap * elem_bytes);
    if (n == NULL)
        return false;
    *a = n;
    return true;
}

/* Room for one more node and its vnode_count tokens (checked by the callers). */
static enum rkv_err place_reserve(struct place *p, uint32_t vnode_count)
{
    if (p->node_count == p->node_cap) {
        uint32_t cap = p->node_cap == 0 ? 8u : 2u * p->node_cap;
        if (!place_grow((void **)&p->weight, cap, sizeof p->weight[0]) ||
            !place_grow((void **)&p->pload, cap, sizeof p->pload[0]) ||
            !place_grow((void **)&p->rload, cap, sizeof p->rload[0]) ||
            !place_grow((void **)&p->pshare, cap, sizeof p->pshare[0]) ||
            !place_grow((void **)&p->rshare, cap, sizeof p->rshare[0]))
            return RKV_INTERNAL;
        p->node_cap = cap;
    }
    if (p->count + vnode_count > p->cap) {
        uint32_t cap = p->cap == 0 ? 1024u : p->cap;
        while (cap < p->count + vnode_count)
            cap *= 2u;
        if (!place_grow((void **)&p->tok, cap, sizeof p->tok[0]) ||
            !place_grow((void **)&p->own, cap, sizeof p->own[0]) ||
            !place_grow((void **)&p->next, cap, sizeof p->next[0]) ||
            !place_grow((void **)&p->prev, cap, sizeof p->prev[0]))
            return RKV_INTERNAL;
        p->cap = cap;
    }
    return RKV_OK;
}

static int place_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Merges the n ascending tokens in scratch[], all owned by node `owner`, into the sorted
 * ring. Equal tokens go after those already there, so the node added first owns. */
static void place_merge(struct place *p, uint32_t n, uint32_t owner)
{
    uint32_t a = p->count;
    uint32_t b = n;
    uint32_t out = p->count + n;
    while (b > 0) {
        out--;
        if (a > 0 && p->tok[a - 1u] > p->scratch[b - 1u]) {
            a--;
            p->tok[out] = p->tok[a];
            p->own[out] = p->own[a];
        } else {
            b--;
            p->tok[out] = p->scratch[b];
            p->own[out] = owner;
        }
    }
    p->count += n;
}

/* Starts a node: its number, its weight, no load. */
static uint32_t place_node_open(struct place *p, uint32_t vnode_count)
{
    uint32_t self = p->node_count++;
    p->weight[self] = vnode_count;
    p->pload[self] = 0;
    p->rload[self] = 0;
    return self;
}

enum rkv_err place_add(struct place *p, const uint64_t *tokens, uint32_t vnode_count)
{
    RKV_ASSERT(p != NULL);
    RKV_ASSERT(tokens != NULL);
    if (vnode_count < 1 || vnode_count > RKV_VNODES_MAX || p->node_count >= RKV_NODES_MAX)
        return RKV_INVALID_ARG;
    enum rkv_err err = place_reserve(p, vnode_count);
    if (err != RKV_OK)
        return err;
    uint32_t self = place_node_open(p, vnode_count);
    memcpy(p->scratch, tokens, vnode_count * sizeof tokens[0]);
    qsort(p->scratch, vnode_count, sizeof p->scratch[0], place_u64_cmp);
    place_merge(p, vnode_count, self);
    return RKV_OK;
}

/* The arc that ends at id, in load units; the whole ring when id is alone. */
static uint64_t place_arc(const struct place *p, uint32_t id)
{
    uint32_t before = p->prev[id];
    if (before == id)
        return PLACE_RING_LOAD;
    return (p->tok[id] - p->tok[before]) >> PLACE_LOAD_SHIFT; /* unsigned wrap crosses zero */
}

/* The first `want` distinct nodes met walking clockwise from id (inclusive), in the order
 * met, into w_out; fewer when the ring has fewer. Returns how many. */
static uint32_t place_walk(const struct place *p, uint32_t id, uint32_t want, uint32_t total, uint32_t *w_out)
{
    uint32_t found = 0;
    for (uint32_t step = 0; step < total && found < want; step++) {
        uint32_t o = p->own[id];
        bool seen = false;
        for (uint32_t k = 0; k < found; k++)
            seen = seen || w_out[k] == o;
        if (!seen)
            w_out[found++] = o;
        id = p->next[id];
    }
    return found;
}

/* Links ids 0..count-1 in ring order and computes every node's loads from scratch. */
static void place_index(struct place *p)
{
    for (uint32_t id = 0; id < p->count; id++) {
        p->next[id] = id + 1u == p->count ? 0 : id + 1u;
        p->prev[id] = id == 0 ? p->count - 1u : id - 1u;
    }
    for (uint32_t n = 0; n < p->node_count; n++) {
        p->pload[n] = 0;
        p->rload[n] = 0;
    }
    uint32_t want = p->node_count < PLACE_RF ? p->node_count : PLACE_RF;
    for (uint32_t id = 0; id < p->count; id++) {
        uint64_t arc = place_arc(p, id);
        uint32_t w[PLACE_RF];
        uint32_t wn = place_walk(p, id, want, p->count, w);
        p->pload[p->own[id]] += arc;
        for (uint32_t k = 0; k < wn; k++)
            p->rload[w[k]] += arc;
    }
}

static void place_delta_add(struct place_delta *d, uint32_t node, int64_t dp, int64_t dr)
{
    for (uint32_t k = 0; k < d->count; k++) {
        if (d->node[k] == node) {
            d->dp[k] += dp;
            d->dr[k] += dr;
            return;
        }
    }
    RKV_ASSERT(d->count < PLACE_RF + 2u);
    d->node[d->count] = node;
    d->dp[d->count] = dp;
    d->dr[d->count] = dr;
    d->count++;
}

/* The id of the first token >= t on the ring of ids (sorted ones and fresh ones), wrapping
 * past the top; lb_fresh_out gets where t would go among the fresh ids. */
static uint32_t place_successor(const struct place *p, uint64_t t, uint32_t *lb_fresh_out)
{
    uint32_t lo = 0;
    uint32_t hi = p->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        if (p->tok[mid] < t)
            lo = mid + 1u;
        else
            hi = mid;
    }
    uint32_t a = lo;
    lo = 0;
    hi = p->fresh_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        if (p->tok[p->fresh[mid]] < t)
            lo = mid + 1u;
        else
            hi = mid;
    }
    uint32_t b = lo;
    *lb_fresh_out = b;
    if (a == p->count && b == p->fresh_count) {
        a = 0; /* past the top: the smallest token of the ring */
        b = 0;
    }
    if (a < p->count && b < p->fresh_count)
        return p->tok[a] <= p->tok[p->fresh[b]] ? a : p->fresh[b];
    return a < p->count ? a : p->fresh[b];
}

/* What a new token of node self, inside the range that ends at id s and `arc` short of
 * the start of that range, would change in the loads. A new token splits that range: the
 * part before it gets the new token's replicas; and every range shortly before whose walk
 * for PLACE_RF distinct nodes now meets self before its last replica trades that replica
 * for self. */
static void place_effect(const struct place *p, uint32_t self, uint32_t s, uint64_t arc, uint32_t present,
                         struct place_delta *d_out)
{
    d_out->count = 0;
    uint32_t total = p->count + p->fresh_count;
    place_delta_add(d_out, p->own[s], -(int64_t)arc, 0);
    place_delta_add(d_out, self, (int64_t)arc, 0);

    uint32_t want = present < PLACE_RF ? present : PLACE_RF;
    uint32_t w[PLACE_RF];
    uint32_t wn = place_walk(p, s, want, total, w);
    bool self_in_w = false;
    for (uint32_t k = 0; k < wn; k++)
        self_in_w = self_in_w || w[k] == self;
    if (!self_in_w) {
        if (wn == PLACE_RF)
            place_delta_add(d_out, w[PLACE_RF - 1u], 0, -(int64_t)arc);
        place_delta_add(d_out, self, 0, (int64_t)arc);
    }

    /* Ranges before s: D is the set of owners from r up to the new token. */
    uint32_t dset[PLACE_RF];
    uint32_t dn = 0;
    uint32_t r = p->prev[s];
    for (uint32_t step = 0; step < total && r != s; step++, r = p->prev[r]) {
        uint32_t o = p->own[r];
        if (o == self)
            break; /* self is met before the new token: nothing changes from here back */
        bool seen = false;
        for (uint32_t k = 0; k < dn; k++)
            seen = seen || dset[k] == o;
        if (!seen)
            dset[dn++] = o;
        if (dn >= PLACE_RF)
            break; /* r's replicas are complete before the walk reaches the new token */
        /* r's replicas: D, then the first PLACE_RF - |D| of w that are not in D. */
        uint32_t need = PLACE_RF - dn;
        uint32_t took = 0;
        uint32_t last = UINT32_MAX;
        bool has_self = false;
        for (uint32_t k = 0; k < wn && took < need; k++) {
            bool in_d = false;
            for (uint32_t m = 0; m < dn; m++)
                in_d = in_d || dset[m] == w[k];
            if (in_d)
                continue;
            took++;
            last = w[k];
            has_self = has_self || w[k] == self;
        }
        if (has_self)
            continue;
        uint64_t a = place_arc(p, r);
        if (took == need)
            place_delta_add(d_out, last, 0, -(int64_t)a);
        place_delta_add(d_out, self, 0, (int64_t)a);
    }
}

/* (load + delta - share)^2 - (load - share)^2, over weight. */
static place_i128 place_term(int64_t delta, uint64_t load, uint64_t share, uint32_t weight)
{
    place_i128 dl = (place_i128)delta;
    place_i128 ex = (place_i128)load - (place_i128)share;
    return dl * (2 * ex + dl) / (place_i128)weight;
}

/* The same for the node being placed, counting only what it takes past its share. */
static place_i128 place_term_self(int64_t delta, uint64_t load, uint64_t share, uint32_t weight)
{
    place_i128 before = (place_i128)load - (place_i128)share;
    place_i128 after = before + (place_i128)delta;
    if (before < 0)
        before = 0;
    if (after < 0)
        after = 0;
    return (after * after - before * before) / (place_i128)weight;
}

static place_i128 place_cost(const struct place *p, uint32_t self, const struct place_delta *d)
{
    place_i128 cost = 0;
    for (uint32_t k = 0; k < d->count; k++) {
        uint32_t n = d->node[k];
        if (n == self) {
            cost += place_term_self(d->dp[k], p->pload[n], p->pshare[n], p->weight[n]);
            cost += place_term_self(d->dr[k], p->rload[n], p->rshare[n], p->weight[n]);
        } else {
            cost += place_term(d->dp[k], p->pload[n], p->pshare[n], p->weight[n]);
            cost += place_term(d->dr[k], p->rload[n], p->rshare[n], p->weight[n]);
        }
    }
    return cost;
}

enum rkv_err place_node(struct place *p, const char *node_id, uint32_t vnode_count, uint64_t *tokens_out)
{
    RKV_ASSERT(p != NULL);
    RKV_ASSERT(node_id != NULL);
    RKV_ASSERT(tokens_out != NULL);
    if (vnode_count < 1 || vnode_count > RKV_VNODES_MAX || p->node_count >= RKV_NODES_MAX)
        return RKV_INVALID_ARG;
    enum rkv_err err = place_reserve(p, vnode_count);
    if (err != RKV_OK)
        return err;
    uint32_t existing = p->node_count;
    uint32_t self = place_node_open(p, vnode_count);
    place_index(p);
    p->fresh_count = 0;
    uint64_t weight_sum = 0;
    for (uint32_t n = 0; n < p->node_count; n++)
        weight_sum += p->weight[n];
    uint64_t copies = p->node_count < PLACE_RF ? p->node_count : PLACE_RF;
    for (uint32_t n = 0; n < p->node_count; n++) {
        p->pshare[n] = (uint64_t)((place_i128)PLACE_RING_LOAD * p->weight[n] / weight_sum);
        p->rshare[n] = p->pshare[n] * copies;
        if (p->rshare[n] > PLACE_RING_LOAD)
            p->rshare[n] = PLACE_RING_LOAD;
    }

    for (uint32_t i = 0; i < vnode_count; i++) {
        uint32_t total = p->count + p->fresh_count;
        uint32_t present = existing + (p->fresh_count > 0 ? 1u : 0u);
        uint32_t id = p->count + p->fresh_count;
        uint64_t best = place_candidate(node_id, i, 0);
        uint32_t best_s = UINT32_MAX;
        uint32_t best_lb = 0;
        struct place_delta best_d = { 0 };
        place_i128 best_cost = 0;
        bool have = false;
        for (uint32_t j = 0; j < PLACE_CANDIDATES && total > 0; j++) {
            uint64_t c = place_candidate(node_id, i, j);
            uint32_t lb = 0;
            uint32_t s = place_successor(p, c, &lb);
            if (p->tok[s] == c)
                continue; /* taken already: never share a token */
            struct place_delta d;
            place_effect(p, self, s, (c - p->tok[p->prev[s]]) >> PLACE_LOAD_SHIFT, present, &d);
            place_i128 cost = place_cost(p, self, &d);
            /* Strictly better only: ties go to the lowest j, so a lone node keeps candidate 0. */
            if (!have || cost < best_cost) {
                have = true;
                best = c;
                best_s = s;
                best_lb = lb;
                best_d = d;
                best_cost = cost;
            }
        }
        p->tok[id] = best;
        p->own[id] = self;
        if (total == 0) {
            /* The first token of an empty ring owns all of it. */
            p->next[id] = id;
            p->prev[id] = id;
            p->pload[self] = PLACE_RING_LOAD;
            p->rload[self] = PLACE_RING_LOAD;
        } else {
            /* Sixteen candidates all equal to existing tokens would take 16 collisions of a
             * 64-bit hash: not a case to handle. */
            RKV_ASSERT(have);
            for (uint32_t k = 0; k < best_d.count; k++) {
                uint32_t n = best_d.node[k];
                p->pload[n] = (uint64_t)((int64_t)p->pload[n] + best_d.dp[k]);
                p->rload[n] = (uint64_t)((int64_t)p->rload[n] + best_d.dr[k]);
            }
            uint32_t before = p->prev[best_s];
            p->next[before] = id;
            p->prev[id] = before;
            p->next[id] = best_s;
            p->prev[best_s] = id;
        }
        memmove(p->fresh + best_lb + 1u, p->fresh + best_lb, (p->fresh_count - best_lb) * sizeof p->fresh[0]);
        p->fresh[best_lb] = id;
        p->fresh_count++;
        tokens_out[i] = best;
    }

    for (uint32_t k = 0; k < p->fresh_count; k++)
        p->scratch[k] = p->tok[p->fresh[k]];
    uint32_t n = p->fresh_count;
    p->fresh_count = 0;
    place_merge(p, n, self);
    return RKV_OK;
}
