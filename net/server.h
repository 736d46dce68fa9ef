/* The client-facing network front of one shard: a SO_REUSEPORT listener with multishot
 * accept, a provided-buffer ring for multishot receives, and the connections the kernel
 * hands this shard, each an explicit state machine. Frames are decoded with the shared
 * binary codec and handed to the server's request handler; answers come back through
 * conn_reply(), in any order, and are sent with sendmsg iovecs (large values are never
 * copied into a frame). Owner: one shard; no function here may be called from another.
 *
 * HTTP connections (net/http.h) use the same machinery: a request becomes the same struct
 * bin_req the binary protocol decodes to (its request_id names the connection's answer slot,
 * so HTTP answers leave in request order), and admin routes become admin opcodes.
 *
 * Limits per connection: RKV_FRAME_BYTES_MAX per frame (HTTP_FRAME_BYTES_MAX for HTTP), RKV_CONN_INFLIGHT_MAX requests in
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

/* The protocols a shard listens for; chosen once per listener. */
enum net_proto { NET_PROTO_BINARY, NET_PROTO_HTTP, NET_PROTO_PEER, NET_PROTO_COUNT };

/* Operations as counted in the statistics. */
enum net_op { NET_OP_PING, NET_OP_GET, NET_OP_PUT, NET_OP_DELETE, NET_OP_ADMIN, NET_OP_COUNT };

/* Admin opcodes the HTTP front end sends to the handler (not accepted from binary clients
 * yet). The answer's value is the body: Prometheus text, or a JSON object. */
#define BIN_OP_ADMIN_METRICS 0x40u
#define BIN_OP_ADMIN_HEALTH 0x41u
#define BIN_OP_ADMIN_DEBUG_KEY 0x42u /* the request's key: GET /debug/key/{key} */

struct net_handler {
    /* A valid request (bin_req_validate() passed). The key and value are borrowed: valid
     * only during this call. RKV_OK: the handler took it and will call conn_reply() exactly
     * once, later (never from inside this call). RKV_BUSY: not now: the connection stops
     * reading and offers the same frame again next turn. Any other error: the connection
     * answers the request with that status. */
    enum rkv_err (*on_request)(void *ctx, struct conn *c, const struct bin_req *req);
    /* Peer port only: one whole frame (length field included, 8..RKV_FRAME_BYTES_MAX after
     * it; nothing else checked), borrowed for the call. RKV_OK: the handler will answer it
     * with exactly one conn_peer_reply(), now or later (answering inside the call is
     * allowed); RKV_BUSY: not now, offered again next turn; any other error: the stream is
     * not worth answering and the connection is closed. */
    enum rkv_err (*on_peer_frame)(void *ctx, struct conn *c, const uint8_t *frame, size_t frame_bytes);
    void *ctx;
};

struct net_config {
    struct rkv_addr listen;
    bool http_enabled;
    struct rkv_addr http;
    bool peer_enabled;       /* listen for peers (this shard's own port) */
    struct rkv_addr peer;
    uint32_t conns_max;      /* per shard */
    uint32_t idle_timeout_s;
};

struct net_stats {
    uint64_t accepted, refused, closed, closed_bad_frame, closed_idle, closed_slow, requests, bad_requests;
    uint64_t bytes_in, bytes_out, paused, enobufs;
    uint32_t conns_open;
    uint32_t conns_open_by_proto[NET_PROTO_COUNT];
    /* Answers sent, by protocol, operation and outcome (enum rkv_err). */
    uint64_t answers[NET_PROTO_COUNT][NET_OP_COUNT][RKV_ERR_COUNT];
};

/* The statistics name of an operation and a protocol. */
const char *net_op_name(enum net_op op);
const char *net_proto_name(enum net_proto proto);

/* On the shard's thread: binds the listeners (binary, and HTTP when enabled) (retrying EADDRINUSE for up to 2 s, since a
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

/* Answers one frame taken by net_handler.on_peer_frame: head (at most 32 KiB, copied) then
 * tail_heap (malloc'd or NULL; owned by the connection from here on, freed once sent). */
void conn_peer_reply(struct conn *c, const uint8_t *head, size_t head_bytes, uint8_t *tail_heap, size_t tail_bytes);

#endif
