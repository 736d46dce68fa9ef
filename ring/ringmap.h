/* The ring map: the cluster's ring of vnodes, built from a membership snapshot. It holds the
 * tokens of every vnode of every node that owns ranges (normal and leaving nodes), sorted by
 * (token, node index, vnode index); position p owns the tokens after the token of position
 * p - 1 up to and including its own, and position 0 also owns everything past the largest
 * token (the ring wraps). Node indexes are the snapshot's, which sorts nodes by node id, so
 * equal tokens break ties the same way on every node. A ring map owns its members snapshot;
 * both are immutable, read by any shard, replaced whole by pointer swap and freed by their
 * publisher once every shard has moved past them (docs/ring.md). */
#ifndef RKV_RING_RINGMAP_H
#define RKV_RING_RINGMAP_H

#include <stdint.h>

#include "core/err.h"
#include "ring/members.h"

/* One vnode on the ring: vnode vnode_idx of node node_idx, served on that node by shard
 * vnode_shard(vnode_idx, its shard_count) (ring/token.h). */
struct ringmap_entry {
    uint64_t token;
    uint32_t node_idx;
    uint32_t vnode_idx;
};

struct ringmap;

/* Builds the ring of m. On RKV_OK the ring map owns m and ringmap_free() frees both; on an
 * error m stays the caller's. A snapshot where no node owns ranges gives an empty ring
 * (ringmap_count() == 0), which finds no replicas. RKV_INTERNAL when out of memory. */
enum rkv_err ringmap_build(struct members *m, struct ringmap **ringmap_out);
/* Frees the ring map and its members snapshot; NULL is ignored. */
void ringmap_free(struct ringmap *r);

/* The members snapshot the ring was built from; valid as long as the ring map. */
const struct members *ringmap_members(const struct ringmap *r);
/* Vnodes on the ring: the sum of the vnode counts of the nodes that own ranges. */
uint32_t ringmap_count(const struct ringmap *r);
/* Nodes that own ranges (at least one vnode each). */
uint32_t ringmap_node_count(const struct ringmap *r);
/* The entry at position pos (< ringmap_count()). */
struct ringmap_entry ringmap_entry(const struct ringmap *r, uint32_t pos);
/* The position that owns token: the first whose token is >= token, or 0 past the largest
 * (binary search, O(log count)). The ring must not be empty. */
uint32_t ringmap_find(const struct ringmap *r, uint64_t token);
/* The position after pos, clockwise (wrapping to 0). */
static inline uint32_t ringmap_next(const struct ringmap *r, uint32_t pos)
{
    return pos + 1u == ringmap_count(r) ? 0 : pos + 1u;
}

#endif
