/* The client-facing network front of one shard: a SO_REUSEPORT listener with multishot
 * accept, a provided-buffer ring for multishot receives, and the connections the kernel
 * hands this shard, each an explicit state machine. Frames are decoded with the shared
 * binary codec and handed to the server's request handler; answers come back through
 * conn_reply(), in any order, and are sent with sendmsg iovecs (large values are never
 * copied into a frame). Owner: one shard; no function here may be called from another.
 *
 * Limits per connection: RKV_FRAME_BYTES_MAX per frame, RKV_CONN_INFLIGHT_MAX requests in
 * flight (then the shard stops reading that socket), RKV_CONN_OUT_BYTES_HIGH bytes queued
 * for sending (likewise), and an idle timeout. */
#ifndef RKV_NET_SERVER_H
#define RKV_NET_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/shard.h"
#include "net/proto_bin.h"

struct net_shard;
struct conn;

struct net_handler {
    /* A valid request (bin_req_validate() passed). The key and value are borrowed: valid
     * only during this call. RKV_OK: the handler took it and will call conn_reply() exactly
     * once, later (never from inside this call). RKV_BUSY: not now: the connection stops
     * reading and offers the same frame again next turn. Any other error: the connection
     * answers the request with that status. */
    enum rkv_err (*on_request)(void *ctx, struct conn *c, const struct bin_req *req);
    void *ctx;
};

struct net_config {
    struct rkv_addr listen;
    uint32_t conns_max;      /* per shard */
    uint32_t idle_timeout_s;
};

struct net_stats {
    uint64_t accepted, refused, closed, closed_bad_frame, closed_idle, requests, bad_requests;
    uint64_t bytes_in, bytes_out, paused, enobufs;
    uint32_t conns_open;
};

/* On the shard's thread: binds the listener (retrying EADDRINUSE for up to 2 s, since a
 * killed predecessor's socket lingers briefly), registers the buffer ring, arms accept. */
enum rkv_err net_shard_start(struct shard *sh, const struct net_config *cfg,
                             const struct net_handler *handler, struct net_shard **ns_out);
/* Every turn, before the group commit: parses the frames that arrived (requests go to the
 * handler). */
void net_shard_input(struct net_shard *ns);
/* Every turn, after the group commit released its answers: starts sends, re-arms receives,
 * closes what is done. Returns true when frames wait for the next turn (budget spent): the
 * shard must not sleep. */
bool net_shard_output(struct net_shard *ns);
/* Closes connections idle longer than the timeout, and forces closes past their deadline. */
void net_shard_tick(struct net_shard *ns, uint64_t now_ms);
/* Shutdown: stop accepting and reading; requests in flight still get their answers. */
void net_shard_stop_accepting(struct net_shard *ns);
/* No request of this shard's connections is in flight. */
bool net_shard_drained(const struct net_shard *ns);
/* Sends what is queued, then closes every connection (forced after 5 s). */
void net_shard_close_all(struct net_shard *ns);
bool net_shard_closed(struct net_shard *ns);
/* Frees the shard's network state; net_shard_closed() must be true. */
void net_shard_free(struct net_shard *ns);
void net_shard_stats(const struct net_shard *ns, struct net_stats *stats_out);

/* Answers one request taken by net_handler.on_request. resp->value is copied unless
 * value_heap is given: then value_heap (== resp->value, from malloc) is owned by the
 * connection from here on and freed once sent, or at once if the connection has closed. */
void conn_reply(struct conn *c, const struct bin_resp *resp, uint8_t *value_heap);

#endif
