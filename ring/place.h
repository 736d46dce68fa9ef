/* Token placement: which tokens a node takes when it joins a ring. A node's vnode i picks
 * one of PLACE_CANDIDATES candidate tokens derived from its node id and i, the one that
 * evens out the load of the ring best (docs/ring.md has the algorithm and its figures), so
 * the tokens are a pure function of the node id and of the ring it joins. Tokens that
 * exist are never moved: adding a node moves keys only to it. A struct place is owned by
 * one caller on one thread (it is a scratch object, built, used and freed in one go). */
#ifndef RKV_RING_PLACE_H
#define RKV_RING_PLACE_H

#include <stdint.h>

#include "core/err.h"

/* Candidates per vnode. Part of the token derivation: changing it changes the tokens every
 * node computes at start-up, so it must never change once a cluster exists. */
#define PLACE_CANDIDATES 16u

/* The candidate token j (0..PLACE_CANDIDATES-1) of vnode vnode_idx of a node. Candidate 0 is
 * the token ring/token.h gives a lone node, XXH3-64(node id ‖ be32(vnode_idx)); candidate j >= 1
 * is XXH3-64(node id ‖ be32(vnode_idx) ‖ be32(j)). */
uint64_t place_candidate(const char *node_id, uint32_t vnode_idx, uint32_t j);

struct place;

/* An empty ring to place into. RKV_INTERNAL when out of memory. The caller owns it and frees
 * it with place_free(). */
enum rkv_err place_new(struct place **place_out);
void place_free(struct place *p);

/* Adds a node that already has its tokens (vnode_count 1..RKV_VNODES_MAX, tokens in vnode
 * order; the array is copied, not kept). Nodes are numbered in the order they are added,
 * and equal tokens are attributed to the node added first, so a caller that wants the same
 * answer every time adds nodes in a canonical order. RKV_INVALID_ARG for a bad count or past
 * RKV_NODES_MAX nodes, RKV_INTERNAL when out of memory. */
enum rkv_err place_add(struct place *p, const uint64_t *tokens, uint32_t vnode_count);

/* Chooses the tokens of a node joining the ring as it is now (vnode_count 1..RKV_VNODES_MAX),
 * writes them to tokens_out[0..vnode_count) in vnode order, and adds the node to the ring.
 * A node joining an empty ring gets candidate 0 for every vnode, the tokens of a lone node.
 * The result depends only on node_id, vnode_count and the tokens and vnode counts of the
 * nodes added before (in their order), never on the clock or memory addresses. Errors as
 * place_add(). */
enum rkv_err place_node(struct place *p, const char *node_id, uint32_t vnode_count, uint64_t *tokens_out);

#endif
