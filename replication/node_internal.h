/* The node's state shared by the files of replication/ that make up the server: node.c (shard
 * hooks, the single-node request path, group commit, metrics), cluster.c (membership and
 * liveness), peers.c (outgoing peer links and their requests) and coordinate.c (the
 * coordinator of cluster requests, the replica side of the peer protocol, hint replay).
 * Not a public interface: nothing outside replication/ includes it.
 *
 * Ownership rules (DESIGN §2): a struct node_shard and everything it points to is touched
 * only by its own shard's thread; objects travel between shards only as struct node_msg
 * through the SPSC rings, and while a shard holds a message only that shard touches it. The
 * node-wide objects are read-only after start, except the HLC (one lock-free word, core/hlc.h)
 * and the cluster view (replication/cluster.h: a ring published once, liveness flags written
 * by shard 0 only). */
#ifndef RKV_REPLICATION_NODE_INTERNAL_H
#define RKV_REPLICATION_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/hlc.h"
#include "core/limits.h"
#include "core/pool.h"
#include "core/shard.h"
#include "net/server.h"
#include "replication/metrics.h"
#include "ring/token.h"
#include "storage/engine.h"
#include "storage/rowcache.h"
#include "storage/sweep.h"

/* Every message between shards starts with this. The sender (home) owns the message; the
 * receiver works on it and sends the same pointer back. */
enum node_msg_kind {
    NODE_MSG_REQ,      /* a single-node client request (struct node_req) */
    NODE_MSG_STATS,    /* a part of a /metrics gather */
    NODE_MSG_REPLICA,  /* a local replica operation of a coordinator (struct replica_msg) */
    NODE_MSG_PEER_JOB, /* a peer request executed here, answered after the flush (never moves) */
};

struct node_msg {
    struct node_msg *next;        /* done list / parked list of whoever holds it */
    enum node_msg_kind kind;
    uint32_t home;
};

/* Owner: the home shard's pool; held by the owning shard while it executes it. */
struct node_req {
    struct node_msg msg;
    struct conn *conn;            /* home's connection; only the home touches it */
    uint64_t start_ns;
    uint32_t request_id;
    uint8_t opcode;
    uint8_t consistency;
    uint16_t flags;
    uint32_t ttl_s;
    uint64_t if_version;
    uint64_t token;
    const uint8_t *value;         /* the PUT value: borrowed (local) or value_heap (remote) */
    uint8_t *value_heap;          /* owned by the home, freed when the answer is sent */
    uint32_t value_bytes;
    enum rkv_err err;             /* results, written by the owner */
    uint64_t version;
    uint64_t timestamp;
    uint8_t *out_value;           /* GET: malloc'd by the owner, handed to the connection */
    uint32_t out_value_bytes;
    bool is_write;
    uint16_t key_bytes;
    uint8_t key[RKV_KEY_BYTES_MAX];
};

struct peers;
struct hints;
struct creq;
struct cg_pools;

/* Cluster counters of one shard (rendered by metrics.c through struct shard_metrics). */
struct node_shard {
    struct node *node;
    struct shard *sh;
    struct engine_shard *es;
    struct rowcache *rc;                       /* NULL when --row-cache-size is 0 */
    struct net_shard *net;
    struct pool req_pool;
    bool pool_ok;
    struct node_msg *done_head, *done_tail;   /* executed here, answers wait for the flush */
    bool wrote;                                /* a write was applied since the last flush */
    struct node_msg *parked_head[RKV_SHARDS_MAX], *parked_tail[RKV_SHARDS_MAX];
    uint32_t parked_count;
    struct shard_metrics m;                    /* this shard's counters */
    struct sweep sweep;                        /* TTL expiry and tombstone purge */
    uint64_t space_checked_ns;                 /* the space guard's last check */
    /* Cluster mode only (peer_enabled): */
    struct peers *peers;                       /* outgoing links to other nodes' shards */
    struct hints *hints;                       /* hints this shard holds for down replicas */
    struct creq *creq_head, *creq_tail;        /* coordinated requests by deadline (FIFO) */
    uint32_t creq_count;
    struct creq *cond_head;                    /* conditional puts running here, one per key */
    struct replay *replay;                     /* hint replay state (coordinate.c) */
    struct cg_pools *pools;                    /* coordinate.c's per-shard object pools */
    uint64_t hint_expire_next_ms;
    uint32_t local_jobs;                       /* peer jobs and replica messages not yet answered */
    bool in_client_request;                    /* inside net_handler.on_request */
    struct creq *deferred;                     /* answered inside on_request, sent by cg_turn() */
};

struct cluster;

struct node {
    struct rkv_config cfg;
    struct engine *engine;
    struct vnode_ring *ring;                   /* single-node mode: read-only after start */
    struct cluster *cluster;                   /* cluster mode (--peer): NULL otherwise */
    struct hlc clock;                          /* one clock per node, shared (core/hlc.h) */
    uint32_t origin;
    uint64_t started_ms;
    struct shard_set *set;
    struct node_shard *shards;
};

/* Hands m to shard `to` through its SPSC ring, or parks it (FIFO) when the ring is full. */
void node_send(struct node_shard *ns, uint32_t to, struct node_msg *m);
/* Appends m to this shard's done list: released after the turn's group commit. wrote: m
 * applied a write, so the commit must flush the log. */
void node_done_push(struct node_shard *ns, struct node_msg *m, bool wrote);

#endif
