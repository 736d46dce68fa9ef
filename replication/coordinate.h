/* Cluster requests on one shard (issue 5, docs/replication.md): the coordinator that turns a
 * client request into replica operations driven by replication/coord.h, the replica side of
 * the peer protocol, conditional puts serialized on the key's primary, hinted handoff (store
 * and replay) and the operator's /debug/key view. Internal to replication/; every function
 * runs on the shard ns belongs to. */
#ifndef RKV_REPLICATION_COORDINATE_H
#define RKV_REPLICATION_COORDINATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "net/proto_bin.h"
#include "net/server.h"

struct node_shard;
struct node_msg;

/* Shard life: start (after storage opened), each tick, drained (nothing coordinated or
 * executed is left), close (links), closed. */
enum rkv_err cg_start(struct node_shard *ns);
void cg_tick(struct node_shard *ns, uint64_t now_ms);
/* Before the group commit of each turn: starts hint replays and expiry steps. */
void cg_turn(struct node_shard *ns, uint64_t now_ms);
bool cg_drained(const struct node_shard *ns);
void cg_close(struct node_shard *ns);
bool cg_closed(struct node_shard *ns);
void cg_free(struct node_shard *ns);

/* A client request (net_handler.on_request) in cluster mode. As on_request. */
enum rkv_err cg_client_request(struct node_shard *ns, struct conn *c, const struct bin_req *req);
/* GET /debug/key/{key} (BIN_OP_ADMIN_DEBUG_KEY): asks every replica of the key for its raw
 * record and every node for the hints it holds, and answers with the JSON of docs/http.md.
 * As on_request. */
enum rkv_err cg_debug_key(struct node_shard *ns, struct conn *c, const struct bin_req *req);
/* A frame on the peer port (net_handler.on_peer_frame). */
enum rkv_err cg_peer_frame(struct node_shard *ns, struct conn *c, const uint8_t *frame, size_t frame_bytes);
/* A NODE_MSG_REPLICA that arrived through the shard ring: executed here, or delivered here
 * when this shard coordinates it. */
void cg_on_msg(struct node_shard *ns, struct node_msg *m);
/* Releases a NODE_MSG_REPLICA or NODE_MSG_PEER_JOB from the done list after the turn's log
 * flush; flush_err is the flush's result (a write is acknowledged only when it is RKV_OK). */
void cg_release(struct node_shard *ns, struct node_msg *m, enum rkv_err flush_err);

#endif
