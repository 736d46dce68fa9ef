/* Tokens and the vnode ring of one node. A key's token is XXH3-64 of its bytes. A node owns
 * RKV_VNODES_DEFAULT vnodes whose tokens are derived from its node id, so a restart gives the
 * same ring: token(vnode i) = XXH3-64(node_id bytes ‖ i as 4 bytes big-endian). A key belongs
 * to the vnode whose token is the first >= the key's token, wrapping past the top; vnode i is
 * served by shard i mod shard_count. A vnode_ring is built once and then read-only, so any
 * shard may read it. */
#ifndef RKV_RING_TOKEN_H
#define RKV_RING_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

uint64_t token_of_key(const uint8_t *key, size_t key_bytes);
/* The 32-bit origin hash of a node id, written into records for last-write-wins ties. */
uint32_t token_origin_of_node(const char *node_id);

struct vnode_ring;

/* Builds the ring of one node: vnode_count 1..RKV_VNODES_MAX. RKV_INVALID_ARG otherwise. The
 * caller owns the ring and frees it with vnode_ring_free(). */
enum rkv_err vnode_ring_build(const char *node_id, uint32_t vnode_count, struct vnode_ring **ring_out);
void vnode_ring_free(struct vnode_ring *r);
uint32_t vnode_ring_count(const struct vnode_ring *r);
/* The token of vnode vnode_idx. */
uint64_t vnode_ring_token(const struct vnode_ring *r, uint32_t vnode_idx);
/* The vnode that owns token: binary search, O(log vnodes). */
uint32_t vnode_ring_lookup(const struct vnode_ring *r, uint64_t token);
static inline uint32_t vnode_shard(uint32_t vnode_idx, uint32_t shard_count) { return vnode_idx % shard_count; }

#endif
