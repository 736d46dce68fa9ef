/* A ringkv node: the shard hooks that wire each shard's network front (net/server.h) to its
 * storage session (storage/kv.h), the routing of every request to the shard that owns its
 * key, and the group commit. For now the ring has one node (this one): a key's token picks a
 * vnode of this node, and vnode i is served by shard i mod shards. A request received on
 * one shard and owned by another travels to the owner through the SPSC ring and its answer
 * comes back the same way; the struct carrying it is owned by the receiving shard's pool.
 *
 * Group commit: a shard applies every write of a turn to its WiredTiger session, flushes
 * the log once (sync) in before_sleep, and only then releases the answers of that turn —
 * reads included, so no answer ever shows a write that a crash could still take back. */
#ifndef RKV_REPLICATION_NODE_H
#define RKV_REPLICATION_NODE_H

#include "core/config.h"
#include "core/err.h"

struct node;

/* Opens storage, builds the ring and starts one shard per cfg->shards. Main thread. Errors
 * are logged; RKV_INVALID_ARG for a data directory of another node id or shard count. */
enum rkv_err node_start(const struct rkv_config *cfg, struct node **node_out);
/* Asks the shards to stop: stop accepting, answer what is in flight, flush, close. */
void node_request_stop(struct node *n);
/* Waits for the shards to finish, closes storage cleanly and frees the node. */
void node_join_and_free(struct node *n);

#endif
