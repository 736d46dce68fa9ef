/* The outgoing side of the peer transport (DESIGN §2, issue 5): a struct peer_link is one TCP
 * connection from one shard to one remote endpoint (in practice the owning shard of a remote
 * node), carrying frames with a 4-byte big-endian length prefix that counts the bytes after
 * it (net/proto_peer.h). The link only frames; what the frames mean is its caller's business.
 *
 * Owner: the shard passed to peer_link_open(). Every function must be called on that shard's
 * thread (asserted), and the handler's callbacks run there, from within the shard's reaping
 * or from peer_link_tick().
 *
 * Life of a link:
 *
 *   IDLE --first send--> CONNECTING --connected--> UP
 *   CONNECTING/UP --refused, failed, timed out, peer closed, error, bad frame--> RESETTING
 *   RESETTING --every op of the old socket completed, fd closed--> BACKOFF
 *   BACKOFF --peer_link_tick() past the retry time--> CONNECTING
 *   any --peer_link_close()--> CLOSING --every op completed--> CLOSED (peer_link_free())
 *
 * - Connecting is lazy: the first peer_link_send() starts it. Once started, a link keeps
 *   itself connected: after a failure it waits out a backoff and reconnects from
 *   peer_link_tick() whether or not anything is queued.
 * - Backoff: the n-th consecutive failure waits b/2 + j, with b = min(backoff_min_ms * 2^(n-1),
 *   backoff_max_ms) and j in [0, b/2] drawn from a hash of (link seed, n): deterministic (no
 *   rand()), and different links to one dead node do not retry in lockstep. A connection
 *   that comes up resets n. The retry happens at the first peer_link_tick() past the retry
 *   time, so the real delay is rounded up to the caller's tick period (RKV_SHARD_TICK_MS).
 * - The link keeps its own time (CLOCK_MONOTONIC, rkv_mono_ns()) for the backoff and the
 *   connect deadline: it needs the time inside completion handlers too, and a wall clock
 *   could jump. So peer_link_tick() takes no time argument.
 * - When the link goes down, every byte queued but not yet written is dropped (counted in
 *   frames_dropped) and the caller is told by on_state(false): the coordinator's per-request
 *   deadlines cover the requests whose frames were lost or whose answers will never come.
 *   A frame partly written when the connection dropped counts as dropped too.
 * - All I/O goes through io_uring (CONNECT, SEND, RECV, SHUTDOWN, CLOSE, ASYNC_CANCEL). The
 *   socket itself is made with a plain socket(2) (and setsockopt(TCP_NODELAY)): neither
 *   blocks, and doing it inline saves a round trip through the ring per connect. The
 *   address must be an IPv4 or IPv6 literal or "localhost" (127.0.0.1): no name lookups,
 *   which would block.
 */
#ifndef RKV_NET_PEER_H
#define RKV_NET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

struct shard;
struct peer_link;

struct peer_link_config {
    struct rkv_addr addr;        /* the remote endpoint */
    /* Bytes queued and not yet written (whole frames) beyond which peer_link_send() answers
     * RKV_BUSY. 0: RKV_PEER_LINK_QUEUE_BYTES_DEFAULT; else RKV_PEER_LINK_QUEUE_BYTES_MIN..MAX. */
    uint32_t queue_bytes_max;
    /* Reconnect backoff bounds in milliseconds. 0: the defaults of core/limits.h. */
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    /* A connect that has not completed after this long fails. 0: the default. */
    uint32_t connect_timeout_ms;
};

struct peer_link_handler {
    void *ctx;
    /* One complete frame, length prefix included; frame is valid only during the call. The
     * length field was checked (8..RKV_FRAME_BYTES_MAX); nothing else was. The callback may
     * send on the link and may close it (no more frames are delivered after a close). */
    void (*on_frame)(void *ctx, struct peer_link *l, const uint8_t *frame, size_t frame_bytes);
    /* up: the connection is established (frames queued while connecting are being sent).
     * !up: a connect attempt failed or the connection was lost; what was queued is dropped.
     * Calls never report up twice in a row; down repeats once per failed attempt. Not called
     * after peer_link_close(). The callback may send (it gets RKV_UNAVAILABLE while down)
     * and may close the link. Besides completions and ticks, down is also reported from
     * inside the peer_link_send() that starts the first connect when no socket can be made
     * at all (fd exhaustion). */
    void (*on_state)(void *ctx, struct peer_link *l, bool up);
};

/* Counters since open; owner-thread reads only. */
struct peer_link_stats {
    uint64_t bytes_out, bytes_in;
    uint64_t frames_queued;      /* accepted by peer_link_send() */
    uint64_t frames_out;         /* completely written to the socket */
    uint64_t frames_in;          /* delivered to on_frame */
    uint64_t frames_dropped;     /* queued but not (completely) written when the link went down */
    uint64_t connects;           /* connect attempts started */
    uint64_t connected;          /* attempts that succeeded */
    uint64_t failures;           /* attempts that failed plus established connections lost */
    uint64_t bad_frames;         /* connections closed for a length field out of bounds */
    uint64_t busy;               /* sends refused with RKV_BUSY */
    uint64_t unavailable;        /* sends refused with RKV_UNAVAILABLE */
    uint64_t queued_bytes_peak;  /* the most bytes ever queued at once */
    uint32_t backoff_ms;         /* the delay of the latest backoff (0 before the first) */
};

/* Allocates a link (IDLE: nothing connects before the first send). On the thread of sh.
 * RKV_INVALID_ARG: the address is not a literal or "localhost", or a bound is out of range;
 * RKV_BUSY: out of memory. The handler is copied. */
enum rkv_err peer_link_open(struct shard *sh, const struct peer_link_config *cfg,
                            const struct peer_link_handler *h, struct peer_link **out);

/* Queues one whole frame: head (which starts with the 4-byte length prefix) followed by an
 * optional tail (e.g. a record value; NULL when tail_bytes is 0). Both are copied into the
 * link's queue, so they may be reused on return. The prefix must equal
 * head_bytes + tail_bytes - 4 and lie in 8..RKV_FRAME_BYTES_MAX (asserted: a caller bug).
 * RKV_OK: queued (while IDLE or CONNECTING, it leaves once connected); RKV_BUSY: the queue
 * bound would be exceeded (nothing queued); RKV_UNAVAILABLE: the link is down (RESETTING or
 * BACKOFF) and the caller should fail the request at once; RKV_SHUTTING_DOWN: the link is
 * closing. */
enum rkv_err peer_link_send(struct peer_link *l, const void *head, size_t head_bytes, const void *tail,
                            size_t tail_bytes) __attribute__((warn_unused_result));

/* Drives the reconnect timer and the connect deadline; call it about every tick. */
void peer_link_tick(struct peer_link *l);

/* true when a connection is established. */
bool peer_link_up(const struct peer_link *l);
/* true while waiting out a backoff before the next connect. */
bool peer_link_backing_off(const struct peer_link *l);
/* Ends a backoff early and connects now (the caller learned that the remote end is back,
 * e.g. from its failure detector); nothing in any other state. The failure count that sizes
 * the next backoff is kept. */
void peer_link_retry_now(struct peer_link *l);
/* Bytes queued and not yet written. */
size_t peer_link_queued_bytes(const struct peer_link *l);
const struct peer_link_stats *peer_link_stats(const struct peer_link *l);

/* Starts closing: drops what is queued, cancels and shuts down what is in flight; no
 * callback runs after it. Idempotent. Safe inside the link's own callbacks. */
void peer_link_close(struct peer_link *l);
/* true once a closing link has no operation in flight and its socket is closed. */
bool peer_link_closed(const struct peer_link *l);
/* Frees a closed link (asserted), the only way a link is freed. */
void peer_link_free(struct peer_link *l);

#endif
