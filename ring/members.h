/* The membership table: every node of the cluster with its addresses, shard count, vnode
 * tokens, status and liveness, as an immutable snapshot. A snapshot is built whole from node
 * descriptions (configuration and handshakes now, gossip later) and never changed: a new view
 * of the cluster is a new snapshot, published by swapping one pointer (usually inside a
 * ringmap, ring/ringmap.h) and freed once every shard has moved past it (docs/ring.md says
 * how). Nodes are kept sorted by node id, so a node's index is the same on every node that
 * has the same members, whatever order they were described in. Any thread may read a
 * snapshot; only its publisher frees it. */
#ifndef RKV_RING_MEMBERS_H
#define RKV_RING_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/limits.h"

/* DESIGN §4. A joining node has tokens but owns nothing yet; normal and leaving nodes own
 * their ranges; a node that has left keeps its entry (so gossip can say so) and owns nothing. */
enum member_status {
    MEMBER_JOINING,
    MEMBER_NORMAL,
    MEMBER_LEAVING,
    MEMBER_LEFT,
    MEMBER_STATUS_COUNT
};

/* A node as a caller describes it. Borrowed by members_build(), which copies all of it. */
struct member_desc {
    const char *node_id;        /* 1..RKV_NODE_ID_BYTES_MAX bytes of [A-Za-z0-9._-] */
    struct rkv_addr bin_addr;   /* binary protocol */
    struct rkv_addr http_addr;  /* HTTP API; port 0 when the node has it switched off */
    struct rkv_addr peer_addr;  /* peer protocol */
    uint32_t shard_count;       /* 1..RKV_SHARDS_MAX */
    uint32_t vnode_count;       /* 1..RKV_VNODES_MAX */
    /* vnode_count tokens, indexed by vnode; or NULL for a node whose tokens are to be
     * placed (ring/place.h): see members_build(). Only joining and normal nodes may come
     * without tokens. */
    const uint64_t *tokens;
    enum member_status status;
    bool up;                    /* the local failure detector's view */
};

/* One node of a snapshot; read-only, valid as long as the snapshot. */
struct member {
    char node_id[RKV_NODE_ID_BYTES_MAX + 1];
    uint32_t origin;            /* token_origin_of_node(node_id), for last-write-wins ties */
    struct rkv_addr bin_addr;
    struct rkv_addr http_addr;
    struct rkv_addr peer_addr;
    uint32_t shard_count;
    uint32_t vnode_count;
    const uint64_t *tokens;     /* vnode_count tokens indexed by vnode, inside the snapshot */
    enum member_status status;
    bool up;
};

struct members;

/* Builds a snapshot of count (1..RKV_NODES_MAX) nodes, copying descs. Nodes are sorted by
 * node id (byte order); descs may come in any order. Nodes without tokens get them from
 * ring/place.h: first the nodes with tokens (those not left) are put on the ring, in node id
 * order, then each node without tokens is placed, in node id order. A static cluster whose
 * nodes all come without tokens therefore gets a ring that is a pure function of its set of
 * node ids and vnode counts, the same after every restart; a node joining a cluster whose
 * nodes carry their tokens moves keys only to itself. RKV_INVALID_ARG when a description
 * breaks its rules above or two share a node id (these come from configuration and peers:
 * input, not assertions), RKV_INTERNAL when out of memory. The caller owns the snapshot and
 * frees it with members_free() (or hands it to ringmap_build()). */
enum rkv_err members_build(const struct member_desc *descs, uint32_t count, struct members **members_out);
void members_free(struct members *m);

uint32_t members_count(const struct members *m);
/* The node at node_idx (< members_count()); valid as long as the snapshot. */
const struct member *members_get(const struct members *m, uint32_t node_idx);
/* The index of node_id; false when the snapshot has no such node. */
bool members_find(const struct members *m, const char *node_id, uint32_t *node_idx_out);
/* The description of node node_idx, borrowing the snapshot's strings and tokens: the way to
 * build the next snapshot from this one with a few fields changed (liveness, status). */
void members_describe(const struct members *m, uint32_t node_idx, struct member_desc *desc_out);
/* True for the statuses that own ranges on the ring: normal and leaving (a leaving node
 * serves its ranges until it has streamed them out). */
bool members_status_owns(enum member_status status);

#endif
