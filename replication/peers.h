/* A shard's outgoing peer requests (issue 5): one lazily opened link (net/peer.h) per remote
 * (node, shard) this shard talks to, and a table of the requests in flight on them, so that
 * every answer finds the request it answers and every request gets exactly one outcome: its
 * answer, or a failure when its link goes down, the send is refused, or the caller cancels
 * it (its deadline passed).
 *
 * Request ids: slot index (17 bits) | generation (15 bits) << 17. A slot is reused only with
 * the next generation, so a late answer to a cancelled request is recognised and dropped.
 *
 * Owner: one shard (every call on its thread; callbacks run there too). */
#ifndef RKV_REPLICATION_PEERS_H
#define RKV_REPLICATION_PEERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "net/proto_peer.h"

struct node_shard;
struct peers;

/* The outcome of one request: the decoded, validated answer frame (err RKV_OK), or NULL with
 * the reason (RKV_UNAVAILABLE: link down or send refused; RKV_BUSY: queue full or no slot;
 * RKV_BAD_FRAME: the answer did not decode or validate, or has the wrong opcode). The frame
 * is valid only during the call. owner and tag are the caller's, as given. */
typedef void (*peers_answer_fn)(struct node_shard *ns, void *owner, uint32_t tag, const struct peer_frame *answer,
                                enum rkv_err err);

/* Slots of requests in flight per shard: enough for every request a shard may coordinate to
 * reach RF replicas plus its background work; past it a request fails with RKV_BUSY. */
#define PEERS_SLOTS (1u << 17)
#define PEERS_SLOT_NONE UINT32_MAX

enum rkv_err peers_create(struct node_shard *ns, struct peers **out);
/* Closes every link (callbacks of requests in flight are not called: the caller is going
 * away). peers_closed() once every link has finished, then peers_free(). */
void peers_close(struct peers *p);
bool peers_closed(struct peers *p);
void peers_free(struct peers *p);
/* Drives reconnects and connect deadlines of every open link; each tick. */
void peers_tick(struct peers *p);

/* Sends f (a request; its request_id is set here) to shard `shard` of node node_idx of the
 * current ring, the value of a REPLICA_WRITE / FORWARD / READ_ACK-like frame sent from its
 * own memory. On RKV_OK the outcome comes later through cb, exactly once, never from inside
 * this call, and *slot_out names the request for peers_cancel(). On any other result cb is
 * never called. */
enum rkv_err peers_request(struct peers *p, uint32_t node_idx, uint32_t shard, struct peer_frame *f,
                           peers_answer_fn cb, void *owner, uint32_t tag, uint32_t *slot_out);
/* Forgets a request in flight: its answer, if it ever comes, is dropped, and cb is not
 * called. */
void peers_cancel(struct peers *p, uint32_t slot);
/* Requests in flight. */
uint32_t peers_inflight(const struct peers *p);
/* True when this shard's link to (node_idx, shard) is established now. */
bool peers_link_up(const struct peers *p, uint32_t node_idx, uint32_t shard);

#endif
