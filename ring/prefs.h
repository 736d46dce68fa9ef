/* Preference lists (DESIGN §3): the replicas of a token are the first RF distinct nodes met
 * walking the ring map clockwise from the position that owns the token, each with the vnode
 * it was met at, which names the owning shard on that node. Down replicas stay in the list
 * (the coordinator decides what to do about them); prefs_next_live() walks on past the list
 * for sloppy quorum's hint holders. Pure functions of an immutable ring map: any shard may
 * call them; a struct prefs is a value owned by its caller. */
#ifndef RKV_RING_PREFS_H
#define RKV_RING_PREFS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/limits.h"
#include "ring/ringmap.h"

/* A replica: node node_idx (an index of the ring map's members), met at its vnode vnode_idx. */
struct prefs_replica {
    uint32_t node_idx;
    uint32_t vnode_idx;
};

struct prefs {
    /* min(rf, ringmap_node_count()): a ring with fewer nodes than RF gives every node once;
     * an empty ring gives none. */
    uint32_t count;
    /* The ring position where the walk met the last replica; prefs_next_live() goes on
     * from the position after it. Meaningless when count is 0. */
    uint32_t last_pos;
    /* In walk order: replica[0] is the primary (the owner of the token's range). */
    struct prefs_replica replica[RKV_RF_MAX];
};

/* The preference list of token for rf (1..RKV_RF_MAX, validated by configuration). Walks at
 * most once around the ring; a few positions in practice. */
void prefs_for_token(const struct ringmap *r, uint64_t token, uint32_t rf, struct prefs *prefs_out);

/* Up to want (0..RKV_RF_MAX) nodes that can hold hints for the list p of ring r: walking
 * clockwise from the position after p->last_pos, the first distinct nodes that are up and not
 * in p, in walk order, each with the vnode it was met at. Writes them to live_out and returns
 * how many: fewer than want when the ring has too few live nodes outside p. Walks at most
 * once around the ring. */
uint32_t prefs_next_live(const struct ringmap *r, const struct prefs *p, uint32_t want,
                         struct prefs_replica *live_out);

/* As prefs_next_live(), with liveness from up(ctx, node_idx) instead of the snapshot's flags
 * (a failure detector's current view). */
uint32_t prefs_next_live_by(const struct ringmap *r, const struct prefs *p, uint32_t want,
                            bool (*up)(void *ctx, uint32_t node_idx), void *ctx, struct prefs_replica *live_out);

/* The shard of replica rep's node that owns rep's vnode. */
uint32_t prefs_replica_shard(const struct ringmap *r, const struct prefs_replica *rep);

#endif
