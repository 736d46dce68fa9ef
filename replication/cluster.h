/* The cluster view of one node (issue 5): who the members are, the ring they form, and which
 * of them are up. This is the interface the coordinator reads; gossip and the phi-accrual
 * detector (their own issue) will feed it instead of the static membership and the ping
 * liveness built here, without the coordinator changing.
 *
 * Static membership: the node knows itself and the peer addresses of its seeds (--seeds,
 * every other node). Shard 0 connects to each seed's peer port, exchanges HELLO / HELLO_ACK
 * (node id, addresses, shard and vnode counts) and, once every seed has answered, builds the
 * members snapshot and its ring (tokens placed from the set of node ids, ring/place.h: the
 * same ring on every node) and publishes it, once. Until then the node is not formed and
 * answers cluster requests UNAVAILABLE.
 *
 * Liveness: shard 0 pings every node each RKV_PEER_PING_MS over the same connection; a node
 * is up while that connection is established and it has answered within
 * RKV_PEER_DOWN_AFTER_MS. Shard 0 writes the flags, every shard reads them (relaxed atomics:
 * a flag read a moment late only delays a hint or a fast failure).
 *
 * Owner: the node (created on the main thread before the shards start, freed after they
 * stopped). The published ring is immutable and lives until cluster_free(). */
#ifndef RKV_REPLICATION_CLUSTER_H
#define RKV_REPLICATION_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "ring/ringmap.h"

struct cluster;
struct node_shard;

struct hlc;
/* Main thread, before the shards start; cfg and clock are the node's and outlive the cluster
 * (timestamps in handshakes and pongs are observed into clock). A node without seeds is
 * formed at once. */
enum rkv_err cluster_create(const struct rkv_config *cfg, struct hlc *clock, struct cluster **out);
/* After every shard stopped. */
void cluster_free(struct cluster *c);

/* The ring, or NULL while the node is not formed. Any shard. */
const struct ringmap *cluster_ring(const struct cluster *c);
/* This node's index in the ring's members (valid once formed). */
uint32_t cluster_self(const struct cluster *c);
/* The local view of node_idx's liveness; this node is always up. Any shard. */
bool cluster_up(const struct cluster *c, uint32_t node_idx);
/* Judges this node's clock, and returns the verdict: it runs ahead when the later of its wall
 * clock and its HLC is more than --max-skew ahead of the clocks (as their last pings report
 * them, plus the time since) of a strict majority of the peers heard from lately. The
 * coordinator judges before it stamps every write (a loop over the seeds, atomics only) and
 * refuses the write while it runs ahead
 * (CLOCK_SKEW, 503) rather than leave records stamped in the future on its own replica that
 * every other replica refuses, and that every later writer of those keys would have to stamp
 * above. Any shard may set the verdict; only shard 0 clears it, once its judgement every tick
 * has said "within the bound" for a ping period. One node running behind cannot stop the
 * others (it is a minority). Any shard. */
bool cluster_clock_check(struct cluster *c);
bool cluster_clock_ahead(const struct cluster *c);
/* Seeds known / all seeds, for /health. */
void cluster_progress(const struct cluster *c, uint32_t *known_out, uint32_t *seeds_out);

/* Shard 0's part, called from its hooks: open the seed links, drive handshakes, pings and
 * liveness every tick, close the links at shutdown (cluster_closed() once they are). */
enum rkv_err cluster_shard0_start(struct cluster *c, struct node_shard *ns);
void cluster_shard0_tick(struct cluster *c, uint64_t now_ms);
void cluster_shard0_close(struct cluster *c);
bool cluster_shard0_closed(struct cluster *c);

/* The "cluster" object of GET /health, malloc'd (NULL when out of memory): formed, rf,
 * seeds known, and every node with its id, liveness, shards, addresses and the fraction of
 * the token space it is primary for. c may be NULL (a node of its own, no --peer). */
char *cluster_health_json(const struct cluster *c, const struct rkv_config *cfg);

/* This node's description as a HELLO / HELLO_ACK carries it (any shard). */
struct peer_hello;
void cluster_hello_self(const struct cluster *c, struct peer_hello *hello_out);

#endif
