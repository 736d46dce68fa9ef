/* Preference lists (ring/prefs.h): bounded walks over an immutable ring map. A list holds at
 * most RKV_RF_MAX nodes, so "already in the list" is a short linear scan. */
#include "ring/prefs.h"

#include <stdbool.h>

#include "core/assert.h"
#include "ring/token.h"

static bool prefs_has(const struct prefs_replica *list, uint32_t n, uint32_t node_idx)
{
    for (uint32_t k = 0; k < n; k++) {
        if (list[k].node_idx == node_idx)
            return true;
    }
    return false;
}

void prefs_for_token(const struct ringmap *r, uint64_t token, uint32_t rf, struct prefs *prefs_out)
{
    RKV_ASSERT(prefs_out != NULL);
    prefs_out->count = 0;
    prefs_out->last_pos = 0;
    RKV_ASSERT(r != NULL);
    RKV_ASSERT(rf >= 1 && rf <= RKV_RF_MAX);
    uint32_t count = ringmap_count(r);
    if (count == 0)
        return;
    uint32_t want = rf < ringmap_node_count(r) ? rf : ringmap_node_count(r);
    uint32_t pos = ringmap_find(r, token);
    /* Every node on the ring has a vnode, so one lap finds `want` of them. */
    for (uint32_t step = 0; step < count && prefs_out->count < want; step++, pos = ringmap_next(r, pos)) {
        struct ringmap_entry e = ringmap_entry(r, pos);
        if (prefs_has(prefs_out->replica, prefs_out->count, e.node_idx))
            continue;
        prefs_out->replica[prefs_out->count++] = (struct prefs_replica){ .node_idx = e.node_idx,
                                                                          .vnode_idx = e.vnode_idx };
        prefs_out->last_pos = pos;
    }
    RKV_ASSERT(prefs_out->count == want);
}

uint32_t prefs_next_live_by(const struct ringmap *r, const struct prefs *p, uint32_t want,
                            bool (*up)(void *ctx, uint32_t node_idx), void *ctx, struct prefs_replica *live_out)
{
    RKV_ASSERT(r != NULL);
    RKV_ASSERT(p != NULL);
    RKV_ASSERT(p->count <= RKV_RF_MAX);
    RKV_ASSERT(want <= RKV_RF_MAX);
    RKV_ASSERT(live_out != NULL || want == 0);
    uint32_t count = ringmap_count(r);
    if (count == 0 || p->count == 0 || want == 0)
        return 0;
    RKV_ASSERT(p->last_pos < count);
    uint32_t found = 0;
    uint32_t pos = ringmap_next(r, p->last_pos);
    /* One lap at most: from just after the list's last replica round to it again. */
    for (uint32_t step = 0; step + 1u < count && found < want; step++, pos = ringmap_next(r, pos)) {
        struct ringmap_entry e = ringmap_entry(r, pos);
        if (!up(ctx, e.node_idx))
            continue;
        if (prefs_has(p->replica, p->count, e.node_idx) || prefs_has(live_out, found, e.node_idx))
            continue;
        live_out[found++] = (struct prefs_replica){ .node_idx = e.node_idx, .vnode_idx = e.vnode_idx };
    }
    return found;
}

static bool prefs_snapshot_up(void *ctx, uint32_t node_idx)
{
    return members_get(ctx, node_idx)->up;
}

uint32_t prefs_next_live(const struct ringmap *r, const struct prefs *p, uint32_t want,
                         struct prefs_replica *live_out)
{
    RKV_ASSERT(r != NULL);
    return prefs_next_live_by(r, p, want, prefs_snapshot_up, (void *)ringmap_members(r), live_out);
}

uint32_t prefs_replica_shard(const struct ringmap *r, const struct prefs_replica *rep)
{
    RKV_ASSERT(r != NULL);
    RKV_ASSERT(rep != NULL);
    const struct member *mb = members_get(ringmap_members(r), rep->node_idx);
    RKV_ASSERT(rep->vnode_idx < mb->vnode_count);
    return vnode_shard(rep->vnode_idx, mb->shard_count);
}
