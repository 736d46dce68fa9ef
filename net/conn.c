/* Client connections of one shard; see net/server.h. A connection moves through
 *
 *   READING <-> PAUSED          (too many requests in flight or bytes queued: stop reading)
 *   READING/PAUSED -> DRAINING  (peer sent EOF, or the node is shutting down: answer what
 *                                is in flight, send it, then close)
 *   any -> CLOSING              (error, bad frame, idle, forced: shut the socket, wait for
 *                                every operation and every request in flight to come back)
 *   CLOSING -> FREE             (the struct returns to the pool; the fd is closed)
 *
 * and conn_set_state() asserts every transition against conn_transition_ok. The struct
 * outlives all its operations (recv, send, shutdown) and all its requests in flight, which
 * hold pointers to it: it is freed only when all of them have come back. Work that must not
 * run inside a completion handler is queued: parsing on the input list (net_shard_input(),
 * before the turn's group commit), sending, re-arming and closing on the output list
 * (net_shard_output(), after it). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/bytes.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/pool.h"
#include "net/http.h"
#include "net/server.h"

enum conn_state { CONN_READING, CONN_PAUSED, CONN_DRAINING, CONN_CLOSING, CONN_FREE, CONN_STATE_COUNT };

static const char *const conn_state_names[CONN_STATE_COUNT] = { "reading", "paused", "draining", "closing", "free" };

static const bool conn_transition_ok[CONN_STATE_COUNT][CONN_STATE_COUNT] = {
    [CONN_READING] = { [CONN_PAUSED] = true, [CONN_DRAINING] = true, [CONN_CLOSING] = true },
    [CONN_PAUSED] = { [CONN_READING] = true, [CONN_DRAINING] = true, [CONN_CLOSING] = true },
    [CONN_DRAINING] = { [CONN_CLOSING] = true },
    [CONN_CLOSING] = { [CONN_FREE] = true },
    [CONN_FREE] = { [CONN_READING] = true },
};

/* Output chunks: small responses are packed into these; segments refer to byte ranges. */
#define OUT_CHUNK_BYTES (32u * 1024u)
#define OUT_CHUNK_DATA_BYTES (OUT_CHUNK_BYTES - 16u)
/* Segments queued per connection; reading pauses at OUT_SEGS_PAUSE so that the answers of
 * every request in flight (at most two segments each) always fit. */
#define OUT_SEGS_MAX 512u
#define OUT_SEGS_PAUSE (OUT_SEGS_MAX - 2u * RKV_CONN_INFLIGHT_MAX - 8u)
/* Assembly buffer hard cap: one maximal frame (HTTP's is the larger) plus everything the
 * provided-buffer ring can deliver before a cancel lands. Past it the peer is not respecting
 * anything and is cut off. */
#define CONN_IN_BYTES_HARD_MAX (HTTP_FRAME_BYTES_MAX + RKV_RECV_BUF_COUNT * RKV_RECV_BUF_BYTES)
_Static_assert(HTTP_FRAME_BYTES_MAX >= RKV_FRAME_BYTES_MAX, "the cap covers both protocols");
/* Unparsed bytes past which the shard stops receiving (parsing is bounded per turn, so the
 * receive must be too); a larger incomplete frame is received whole. */
#define CONN_IN_BYTES_PAUSE (4u * RKV_CONN_IN_BYTES_INITIAL)
/* Closing connections still sending get this long before the socket is shut. */
#define CONN_CLOSE_GRACE_MS 5000u
#define NET_BUF_GROUP 0

_Static_assert(OUT_SEGS_PAUSE > 64u, "room for pipelining before pausing");
_Static_assert(RKV_RESP_HDR_BYTES + RKV_RESP_INLINE_VALUE_BYTES_MAX <= OUT_CHUNK_DATA_BYTES,
               "an inline response fits in an empty chunk");

struct out_chunk {
    uint32_t refs;  /* segments referring to it, plus one while it is the current chunk */
    uint32_t used;
    bool heap;      /* allocated past the pool's capacity */
    uint8_t data[OUT_CHUNK_DATA_BYTES];
};

struct out_seg {
    const uint8_t *base;
    uint32_t len;
    struct out_chunk *chunk; /* the chunk it lies in, or NULL for an owned heap value */
    uint8_t *heap;           /* owned value buffer, freed once sent */
};

/* One HTTP request between parsing and its answer. HTTP/1.1 answers leave in request
 * order, so each request takes the next slot and answers are sent from the oldest slot on. */
struct http_slot {
    bool done;
    bool close_after;          /* the answer ends the connection */
    uint8_t *resp;             /* the whole answer, malloc'd */
    size_t resp_bytes;
    struct http_request req;   /* route, keep-alive, key (op.key points into req.key_buf) */
};

/* Per HTTP connection: a slot for every request that may be in flight. */
struct http_conn {
    uint32_t head_seq;         /* oldest slot not yet sent */
    uint32_t next_seq;         /* next slot to take */
    bool continue_sent;        /* "100 Continue" went out for the request being received */
    struct http_slot slots[RKV_CONN_INFLIGHT_MAX];
};

/* Owner: the shard of its net_shard. */
struct conn {
    struct net_shard *ns;
    enum net_proto proto;
    struct http_conn *http;    /* HTTP connections only */
    bool no_more_frames;       /* HTTP: a request asked to close, or framing failed */
    uint64_t partial_since_ms; /* when the incomplete frame in `in` began, 0 if none */
    int fd;
    enum conn_state state;
    uint32_t id;
    struct io_op recv_op, send_op, shut_op;
    bool recv_cancelled;       /* a cancel for the armed recv was sent */
    bool in_queued;            /* on the input list: has frames or state to look at */
    bool out_queued;           /* on the output list: may need a send, a re-arm or a close */
    bool shut_sent;
    struct conn *in_next, *out_next;
    struct conn *lru_prev, *lru_next;
    uint64_t last_active_ms;
    uint64_t close_deadline_ms; /* DRAINING after shutdown: force-close past this */
    uint32_t inflight;
    uint8_t *in;
    uint32_t in_len, in_cap;
    uint32_t in_need;          /* size of the incomplete frame at the head of `in`, 0 if unknown */
    struct out_seg segs[OUT_SEGS_MAX];
    uint32_t seg_head, seg_count;
    struct out_chunk *cur;
    uint64_t out_bytes;
    struct iovec iov[RKV_CONN_IOV_MAX];
    struct msghdr msg;
};

/* A listening socket of one shard and its multishot accept. */
struct listener {
    struct net_shard *ns;
    enum net_proto proto;
    int fd;
    struct io_op accept_op;
    bool rearm_on_tick;         /* accept ended on an error: re-arm from the tick */
};

struct net_shard {
    struct shard *sh;
    struct loop *loop;
    struct net_config cfg;
    struct net_handler handler;
    struct listener listeners[NET_PROTO_COUNT];
    uint32_t listener_count;
    bool accepting;
    uint8_t *http_value_buf;            /* decoded PUT values, used within one parse call */
    uint64_t tick_count;
    struct io_uring_buf_ring *br;
    uint8_t *buf_mem;
    struct pool conn_pool;
    struct pool chunk_pool;
    struct conn *lru_head, *lru_tail;   /* every open conn, least recently active first */
    struct conn *in_head, *in_tail;     /* connections to parse, in FIFO order */
    struct conn *out_head, *out_tail;   /* connections to send for, re-arm or close */
    uint32_t inflight_total;
    uint32_t next_conn_id;
    uint64_t bad_frame_log_ms;          /* rate limit for per-connection warnings */
    uint64_t accept_err_log_ms;
    bool closing_all;                   /* shutdown: the tick checks every connection */
    struct net_stats stats;
};

static void conn_want_input(struct conn *c);
static void conn_want_output(struct conn *c);
static void conn_close(struct conn *c, const char *reason);
static void conn_maybe_free(struct conn *c);

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void conn_set_state(struct conn *c, enum conn_state next)
{
    RKV_ASSERT(next < CONN_STATE_COUNT);
    RKV_ASSERT(conn_transition_ok[c->state][next]);
    RKV_DEBUG_LOG("conn %u: %s -> %s", c->id, conn_state_names[c->state], conn_state_names[next]);
    c->state = next;
}

/* ---- the LRU list of open connections (idle timeouts) ---- */

static void lru_unlink(struct net_shard *ns, struct conn *c)
{
    if (c->lru_prev) c->lru_prev->lru_next = c->lru_next; else ns->lru_head = c->lru_next;
    if (c->lru_next) c->lru_next->lru_prev = c->lru_prev; else ns->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
}

static void lru_push_tail(struct net_shard *ns, struct conn *c)
{
    c->lru_prev = ns->lru_tail;
    c->lru_next = NULL;
    if (ns->lru_tail) ns->lru_tail->lru_next = c; else ns->lru_head = c;
    ns->lru_tail = c;
}

static void conn_touch(struct conn *c)
{
    c->last_active_ms = now_ms();
    if (c->ns->lru_tail != c) {
        lru_unlink(c->ns, c);
        lru_push_tail(c->ns, c);
    }
}

/* ---- output ---- */

static void chunk_unref(struct net_shard *ns, struct out_chunk *ch)
{
    RKV_ASSERT(ch->refs > 0);
    if (--ch->refs > 0)
        return;
    if (ch->heap)
        free(ch);
    else
        pool_put(&ns->chunk_pool, ch);
}

static struct out_chunk *chunk_new(struct net_shard *ns)
{
    struct out_chunk *ch = pool_get(&ns->chunk_pool);
    if (ch == NULL) {
        /* Answers already owed must go somewhere; past the pool they use the heap. */
        ch = calloc(1, sizeof *ch);
        RKV_ASSERT(ch != NULL);
        ch->heap = true;
    }
    ch->refs = 1;
    return ch;
}

static struct out_seg *seg_tail(struct conn *c)
{
    return c->seg_count ? &c->segs[(c->seg_head + c->seg_count - 1) % OUT_SEGS_MAX] : NULL;
}

static void seg_push(struct conn *c, const uint8_t *base, uint32_t len, struct out_chunk *chunk, uint8_t *heap)
{
    RKV_ASSERT(c->seg_count < OUT_SEGS_MAX);
    struct out_seg *s = &c->segs[(c->seg_head + c->seg_count) % OUT_SEGS_MAX];
    *s = (struct out_seg){ .base = base, .len = len, .chunk = chunk, .heap = heap };
    if (chunk)
        chunk->refs++;
    c->seg_count++;
    c->out_bytes += len;
}

/* Makes room for len contiguous bytes in the current chunk, starting a new one if needed
 * (bytes appended together then stay one iovec). */
static void out_reserve(struct conn *c, uint32_t len)
{
    RKV_ASSERT(len <= OUT_CHUNK_DATA_BYTES);
    if (c->cur == NULL || OUT_CHUNK_DATA_BYTES - c->cur->used < len) {
        if (c->cur)
            chunk_unref(c->ns, c->cur);
        c->cur = chunk_new(c->ns);
    }
}

/* Appends bytes to the current chunk, extending the last segment when it ends where these
 * bytes begin (the send path consumes segments by byte count, so extending one that is
 * partly in flight is safe). */
static void out_append(struct conn *c, const uint8_t *bytes, uint32_t len)
{
    out_reserve(c, len);
    uint8_t *dst = c->cur->data + c->cur->used;
    memcpy(dst, bytes, len);
    c->cur->used += len;
    struct out_seg *t = seg_tail(c);
    if (t && t->chunk == c->cur && t->base + t->len == dst) {
        t->len += len;
        c->out_bytes += len;
    } else {
        seg_push(c, dst, len, c->cur, NULL);
    }
}

static void seg_release(struct net_shard *ns, struct out_seg *s)
{
    if (s->chunk)
        chunk_unref(ns, s->chunk);
    free(s->heap);
    s->chunk = NULL;
    s->heap = NULL;
}

static void out_release_all(struct conn *c)
{
    while (c->seg_count) {
        seg_release(c->ns, &c->segs[c->seg_head]);
        c->seg_head = (c->seg_head + 1) % OUT_SEGS_MAX;
        c->seg_count--;
    }
    c->out_bytes = 0;
    if (c->cur) {
        chunk_unref(c->ns, c->cur);
        c->cur = NULL;
    }
}

static void send_done(struct io_op *op, int32_t res, uint32_t flags);

static void send_start(struct conn *c)
{
    if (c->send_op.in_flight || c->seg_count == 0 || c->state == CONN_CLOSING)
        return;
    uint32_t n = 0;
    for (; n < c->seg_count && n < RKV_CONN_IOV_MAX; n++) {
        struct out_seg *s = &c->segs[(c->seg_head + n) % OUT_SEGS_MAX];
        c->iov[n].iov_base = (void *)s->base;
        c->iov[n].iov_len = s->len;
    }
    memset(&c->msg, 0, sizeof c->msg);
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = n;
    struct io_uring_sqe *sqe = loop_sqe(c->ns->loop, &c->send_op);
    io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
}

static void conn_resume_if_able(struct conn *c);
static void conn_after_answer(struct conn *c);

static void send_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct conn *c = RKV_CONTAINER_OF(op, struct conn, send_op);
    if (res <= 0) {
        if (c->state != CONN_CLOSING)
            conn_close(c, res == 0 ? "send returned 0" : strerror(-res));
        conn_maybe_free(c);
        return;
    }
    c->ns->stats.bytes_out += (uint64_t)res;
    uint64_t left = (uint64_t)res;
    while (left > 0) {
        RKV_ASSERT(c->seg_count > 0);
        struct out_seg *s = &c->segs[c->seg_head];
        if (left < s->len) {
            s->base += left;
            s->len -= (uint32_t)left;
            c->out_bytes -= left;
            break;
        }
        left -= s->len;
        c->out_bytes -= s->len;
        seg_release(c->ns, s);
        c->seg_head = (c->seg_head + 1) % OUT_SEGS_MAX;
        c->seg_count--;
    }
    if (c->state == CONN_CLOSING) {
        conn_maybe_free(c);
        return;
    }
    conn_want_output(c);
    conn_after_answer(c);
}

static enum net_op net_op_of(uint8_t opcode)
{
    switch (opcode) {
    case BIN_OP_PING: return NET_OP_PING;
    case BIN_OP_GET: return NET_OP_GET;
    case BIN_OP_PUT: return NET_OP_PUT;
    case BIN_OP_DELETE: return NET_OP_DELETE;
    default: return NET_OP_ADMIN;
    }
}

const char *net_op_name(enum net_op op)
{
    static const char *const names[NET_OP_COUNT] = { "ping", "get", "put", "delete", "admin" };
    return op < NET_OP_COUNT ? names[op] : "unknown";
}

const char *net_proto_name(enum net_proto proto)
{
    static const char *const names[NET_PROTO_COUNT] = { "binary", "http", "peer" };
    return proto < NET_PROTO_COUNT ? names[proto] : "unknown";
}

static void count_answer(struct conn *c, uint8_t opcode, enum rkv_err err)
{
    if (err < RKV_ERR_COUNT)
        c->ns->stats.answers[c->proto][net_op_of(opcode)][err]++;
}

/* Queues a whole malloc'd message for sending: small ones are packed into a chunk, large
 * ones travel as their own iovec. Takes ownership of buf. */
static void out_push_owned(struct conn *c, uint8_t *buf, size_t bytes)
{
    if (bytes <= RKV_RESP_INLINE_VALUE_BYTES_MAX + RKV_RESP_HDR_BYTES) {
        out_append(c, buf, (uint32_t)bytes);
        free(buf);
    } else {
        seg_push(c, buf, (uint32_t)bytes, NULL, buf);
    }
}

static void http_flush_in_order(struct conn *c);

static void conn_reply_http(struct conn *c, const struct bin_resp *resp, uint8_t *value_heap)
{
    struct http_conn *h = c->http;
    RKV_ASSERT(h != NULL);
    RKV_ASSERT(resp->request_id - h->head_seq < h->next_seq - h->head_seq);
    struct http_slot *slot = &h->slots[resp->request_id % RKV_CONN_INFLIGHT_MAX];
    RKV_ASSERT(!slot->done);
    enum rkv_err err;
    if (!rkv_err_from_wire(resp->status, &err))
        err = RKV_INTERNAL;
    count_answer(c, slot->req.op.opcode, err);
    /* This request's own wish: a later request asking to close ends the connection after its
     * own answer (http_flush_in_order), not this one. */
    bool keep = slot->req.keep_alive;
    if (slot->req.route == HTTP_ROUTE_KV) {
        struct http_result res = {
            .err = err, .version = resp->version, .timestamp = resp->timestamp,
            .value = resp->value, .value_bytes = resp->value_bytes,
            .acked = resp->acked, .needed = resp->needed, .hinted = resp->hinted,
            .consistency = slot->req.op.consistency,
        };
        slot->resp = http_build_kv_response(&slot->req, &res, &slot->resp_bytes);
    } else if (err == RKV_OK) {
        const char *type = slot->req.route == HTTP_ROUTE_METRICS ? "text/plain; version=0.0.4" : "application/json";
        slot->resp = http_build_response(200, type, resp->value, resp->value_bytes, keep, &slot->resp_bytes);
    } else {
        struct http_error he = { .status = rkv_err_http(err), .code = http_err_code(err),
                                 .message = rkv_err_message(err) };
        slot->resp = http_build_error(&he, keep, &slot->resp_bytes);
    }
    free(value_heap);
    RKV_ASSERT(slot->resp != NULL);
    slot->done = true;
    http_flush_in_order(c);
}

void conn_reply(struct conn *c, const struct bin_resp *resp, uint8_t *value_heap)
{
    struct net_shard *ns = c->ns;
    RKV_ASSERT(ns->sh == shard_current());
    RKV_ASSERT(c->inflight > 0);
    RKV_ASSERT(value_heap == NULL || value_heap == resp->value);
    c->inflight--;
    ns->inflight_total--;
    if (c->state == CONN_CLOSING || c->state == CONN_FREE) {
        free(value_heap);
        conn_maybe_free(c);
        return;
    }
    if (c->proto == NET_PROTO_HTTP) {
        conn_reply_http(c, resp, value_heap);
    } else {
        enum rkv_err err;
        if (!rkv_err_from_wire(resp->status, &err))
            err = RKV_INTERNAL;
        count_answer(c, resp->opcode, err);
        uint8_t hdr[RKV_RESP_HDR_BYTES];
        bin_resp_encode_hdr(hdr, resp);
        if (resp->value_bytes <= RKV_RESP_INLINE_VALUE_BYTES_MAX) {
            /* Header and value land next to each other in one chunk: one iovec. */
            out_reserve(c, RKV_RESP_HDR_BYTES + resp->value_bytes);
            out_append(c, hdr, RKV_RESP_HDR_BYTES);
            if (resp->value_bytes)
                out_append(c, resp->value, resp->value_bytes);
            free(value_heap);
        } else {
            out_append(c, hdr, RKV_RESP_HDR_BYTES);
            uint8_t *owned = value_heap;
            if (owned == NULL) {
                owned = malloc(resp->value_bytes);
                RKV_ASSERT(owned != NULL);
                memcpy(owned, resp->value, resp->value_bytes);
            }
            seg_push(c, owned, resp->value_bytes, NULL, owned);
        }
    }
    conn_want_output(c);
    conn_after_answer(c);
}

/* An error answer made by the connection itself (a frame that failed validation). */
static void conn_reply_error(struct conn *c, const struct bin_req *req, enum rkv_err err)
{
    const char *msg = rkv_err_message(err);
    struct bin_resp resp = {
        .request_id = req->request_id,
        .opcode = req->opcode,
        .status = rkv_err_wire(err),
        .value = (const uint8_t *)msg,
        .value_bytes = (uint32_t)strlen(msg),
    };
    c->inflight++;
    c->ns->inflight_total++;
    conn_reply(c, &resp, NULL);
}

/* ---- input ---- */

static void recv_done(struct io_op *op, int32_t res, uint32_t flags);

static bool conn_in_full(const struct conn *c)
{
    return c->in_len >= CONN_IN_BYTES_PAUSE && c->in_len >= c->in_need;
}

static void recv_arm(struct conn *c)
{
    if (c->recv_op.in_flight || c->state != CONN_READING || conn_in_full(c))
        return;
    c->recv_cancelled = false;
    struct io_uring_sqe *sqe = loop_sqe(c->ns->loop, &c->recv_op);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = NET_BUF_GROUP;
}

static void recv_cancel(struct conn *c)
{
    if (!c->recv_op.in_flight || c->recv_cancelled)
        return;
    c->recv_cancelled = true;
    struct io_uring_sqe *sqe = loop_sqe(c->ns->loop, NULL);
    io_uring_prep_cancel(sqe, &c->recv_op, 0);
}

static bool conn_must_pause(const struct conn *c)
{
    return c->inflight >= RKV_CONN_INFLIGHT_MAX || c->out_bytes >= RKV_CONN_OUT_BYTES_HIGH ||
           c->seg_count >= OUT_SEGS_PAUSE;
}

static void conn_pause(struct conn *c)
{
    if (c->state != CONN_READING)
        return;
    conn_set_state(c, CONN_PAUSED);
    c->ns->stats.paused++;
    recv_cancel(c);
}

static void conn_resume_if_able(struct conn *c)
{
    RKV_ASSERT(c->state == CONN_PAUSED);
    if (c->inflight > RKV_CONN_INFLIGHT_MAX / 2 || c->out_bytes >= RKV_CONN_OUT_BYTES_HIGH / 2 ||
        c->seg_count >= OUT_SEGS_PAUSE / 2 ||
        (c->http != NULL && c->http->next_seq - c->http->head_seq > RKV_CONN_INFLIGHT_MAX / 2))
        return;
    conn_set_state(c, CONN_READING);
    c->partial_since_ms = 0; /* the time we did not read is ours, not the client's */
    conn_want_input(c); /* parse what is buffered, then re-arm the receive */
}

/* An answer was queued or sent: a paused connection may resume, and a draining one may parse
 * the frames it stopped at (it stopped because too much was owed). While the node shuts down
 * (not accepting), a draining connection takes no new requests: it reported itself drained. */
static void conn_after_answer(struct conn *c)
{
    if (c->state == CONN_PAUSED)
        conn_resume_if_able(c);
    else if (c->state == CONN_DRAINING && c->in_len > 0 && c->ns->accepting && !conn_must_pause(c))
        conn_want_input(c);
}

static bool in_reserve(struct conn *c, size_t need)
{
    if (need <= c->in_cap)
        return true;
    if (need > CONN_IN_BYTES_HARD_MAX)
        return false;
    size_t cap = c->in_cap ? c->in_cap : RKV_CONN_IN_BYTES_INITIAL;
    while (cap < need)
        cap *= 2;
    if (cap > CONN_IN_BYTES_HARD_MAX)
        cap = CONN_IN_BYTES_HARD_MAX;
    uint8_t *p = realloc(c->in, cap);
    if (p == NULL)
        return false;
    c->in = p;
    c->in_cap = (uint32_t)cap;
    return true;
}

static void log_bad_peer(struct conn *c, const char *what)
{
    /* At most one line a second per shard: a hostile client must not flood the log. */
    uint64_t now = now_ms();
    if (now - c->ns->bad_frame_log_ms >= 1000u) {
        c->ns->bad_frame_log_ms = now;
        rkv_log(RKV_LOG_WARN, "conn %u closed: %s", c->id, what);
    }
}

/* Handles the complete binary frames at the start of the assembly buffer, at most
 * RKV_CONN_REQS_PER_TURN_MAX; returns the bytes consumed, or UINT32_MAX when the connection
 * was closed. Queues the connection again when frames are left for the next turn. */
static uint32_t conn_process_bin(struct conn *c)
{
    uint32_t pos = 0;
    unsigned handled = 0;
    /* DRAINING still answers the complete frames already received: a client that sent its
     * requests and then half-closed, or a node shutting down, owes them an answer. */
    while (c->state == CONN_READING || c->state == CONN_DRAINING) {
        if (conn_must_pause(c)) {
            conn_pause(c); /* READING only; a draining one is kicked again by its answers */
            break;
        }
        if (handled == RKV_CONN_REQS_PER_TURN_MAX) {
            conn_want_input(c); /* the rest next turn: other connections go first */
            break;
        }
        struct bin_req req;
        size_t frame_bytes;
        enum rkv_err why;
        enum parse_rc rc = bin_req_decode(c->in + pos, c->in_len - pos, &req, &frame_bytes, &why);
        if (rc == PARSE_NEED_MORE) {
            c->in_need = (uint32_t)frame_bytes;
            if (frame_bytes > 0 && !in_reserve(c, frame_bytes)) {
                conn_close(c, "out of memory for a frame");
                return UINT32_MAX;
            }
            break;
        }
        if (rc == PARSE_INVALID) {
            c->ns->stats.closed_bad_frame++;
            log_bad_peer(c, rkv_err_message(why));
            conn_close(c, NULL);
            return UINT32_MAX;
        }
        handled++;
        c->ns->stats.requests++;
        enum rkv_err err = bin_req_validate(&req);
        if (err == RKV_OK && req.opcode != BIN_OP_PING) {
            c->inflight++;
            c->ns->inflight_total++;
            err = c->ns->handler.on_request(c->ns->handler.ctx, c, &req);
            if (err != RKV_OK) {
                c->inflight--;
                c->ns->inflight_total--;
            }
            if (err == RKV_BUSY) {
                /* Not consumed: the same frame is offered again next turn. Only a connection
                 * that is owed answers may pause (its answers resume it); one with none
                 * simply retries. */
                if (c->inflight > 0)
                    conn_pause(c);
                conn_want_input(c);
                c->ns->stats.requests--;
                break;
            }
        }
        if (err != RKV_OK) {
            c->ns->stats.bad_requests++;
            conn_reply_error(c, &req, err);
        } else if (req.opcode == BIN_OP_PING) {
            struct bin_resp resp = { .request_id = req.request_id, .opcode = BIN_OP_PING, .status = rkv_err_wire(RKV_OK) };
            c->inflight++;
            c->ns->inflight_total++;
            conn_reply(c, &resp, NULL);
        }
        pos += (uint32_t)frame_bytes;
    }
    return pos;
}

/* Appends the answers of the oldest finished HTTP slots, in request order. */
static void http_flush_in_order(struct conn *c)
{
    struct http_conn *h = c->http;
    bool any = false;
    while (h->head_seq != h->next_seq) {
        struct http_slot *slot = &h->slots[h->head_seq % RKV_CONN_INFLIGHT_MAX];
        if (!slot->done)
            break;
        out_push_owned(c, slot->resp, slot->resp_bytes);
        slot->resp = NULL;
        slot->done = false;
        h->head_seq++;
        any = true;
        if (slot->close_after || !slot->req.keep_alive) {
            /* Nothing after this answer: answer what is in flight, then close. */
            c->no_more_frames = true;
            if (c->state == CONN_READING || c->state == CONN_PAUSED) {
                conn_set_state(c, CONN_DRAINING);
                recv_cancel(c);
            }
        }
    }
    if (any)
        conn_want_output(c);
}

/* Takes the next answer slot of an HTTP connection. */
static struct http_slot *http_slot_take(struct conn *c, uint32_t *seq_out)
{
    struct http_conn *h = c->http;
    RKV_ASSERT(h->next_seq - h->head_seq < RKV_CONN_INFLIGHT_MAX);
    *seq_out = h->next_seq++;
    struct http_slot *slot = &h->slots[*seq_out % RKV_CONN_INFLIGHT_MAX];
    RKV_ASSERT(!slot->done && slot->resp == NULL);
    slot->close_after = false;
    return slot;
}

/* Finishes a slot with an error answer made here (no handler involved). */
static void http_slot_fail(struct conn *c, struct http_slot *slot, const struct http_error *he, bool keep_alive)
{
    c->ns->stats.bad_requests++;
    enum rkv_err counted = he->status == 404 ? RKV_NOT_FOUND : RKV_INVALID_ARG;
    count_answer(c, slot->req.op.opcode, counted);
    slot->close_after = he->close || !keep_alive;
    slot->resp = http_build_error(he, keep_alive && !he->close, &slot->resp_bytes);
    RKV_ASSERT(slot->resp != NULL);
    slot->done = true;
}

/* Handles the complete HTTP requests at the start of the assembly buffer; same contract as
 * conn_process_bin(). */
static uint32_t conn_process_http(struct conn *c)
{
    struct http_conn *h = c->http;
    uint32_t pos = 0;
    unsigned handled = 0;
    while ((c->state == CONN_READING || c->state == CONN_DRAINING) && !c->no_more_frames) {
        if (conn_must_pause(c) || h->next_seq - h->head_seq >= RKV_CONN_INFLIGHT_MAX) {
            conn_pause(c);
            break;
        }
        if (handled == RKV_CONN_REQS_PER_TURN_MAX) {
            conn_want_input(c);
            break;
        }
        struct http_frame fr;
        struct http_error he;
        enum parse_rc rc = http_frame_request(c->in + pos, c->in_len - pos, &fr, &he);
        if (rc == PARSE_NEED_MORE) {
            c->in_need = (uint32_t)fr.frame_bytes;
            /* The client waits for "100 Continue" before sending the body. It may go out only
             * when no earlier answer is still owed (answers leave in order); otherwise the
             * client sends the body after its own timeout. Once per request. */
            if (fr.expect_continue && !h->continue_sent && h->head_seq == h->next_seq) {
                h->continue_sent = true;
                out_append(c, (const uint8_t *)HTTP_CONTINUE, (uint32_t)(sizeof HTTP_CONTINUE - 1u));
                conn_want_output(c);
            }
            if (fr.frame_bytes > 0 && !in_reserve(c, fr.frame_bytes)) {
                conn_close(c, "out of memory for a request");
                return UINT32_MAX;
            }
            break;
        }
        h->continue_sent = false;
        uint32_t seq;
        struct http_slot *slot = http_slot_take(c, &seq);
        memset(&slot->req, 0, sizeof slot->req);
        handled++;
        c->ns->stats.requests++;
        if (rc == PARSE_INVALID) {
            /* The stream can't be trusted past here: answer, then close. */
            c->ns->stats.closed_bad_frame++;
            http_slot_fail(c, slot, &he, false);
            c->no_more_frames = true;
            pos = c->in_len;
            break;
        }
        if (!http_parse_request(c->in + pos, fr.frame_bytes, c->ns->http_value_buf, &slot->req, &he)) {
            http_slot_fail(c, slot, &he, fr.keep_alive);
        } else {
            struct bin_req *op = &slot->req.op;
            op->request_id = seq;
            if (slot->req.route == HTTP_ROUTE_METRICS)
                op->opcode = BIN_OP_ADMIN_METRICS;
            else if (slot->req.route == HTTP_ROUTE_HEALTH)
                op->opcode = BIN_OP_ADMIN_HEALTH;
            else if (slot->req.route == HTTP_ROUTE_DEBUG_KEY)
                op->opcode = BIN_OP_ADMIN_DEBUG_KEY;
            c->inflight++;
            c->ns->inflight_total++;
            enum rkv_err err = c->ns->handler.on_request(c->ns->handler.ctx, c, op);
            if (err == RKV_BUSY) {
                /* Not consumed: give the slot back and offer the request again next turn. */
                c->inflight--;
                c->ns->inflight_total--;
                c->ns->stats.requests--;
                h->next_seq--;
                if (c->inflight > 0)
                    conn_pause(c);
                conn_want_input(c);
                break;
            }
            if (err != RKV_OK) {
                struct bin_resp resp = { .request_id = seq, .opcode = op->opcode, .status = rkv_err_wire(err) };
                conn_reply(c, &resp, NULL);
            }
        }
        /* A request that ends the connection (asked to, or refused with a closing error such
         * as HEAD) is the last one parsed: nothing after it may run. */
        if (!fr.keep_alive || slot->close_after)
            c->no_more_frames = true;
        pos += (uint32_t)fr.frame_bytes;
    }
    http_flush_in_order(c);
    return pos;
}

/* Handles the complete peer frames at the start of the assembly buffer (net/proto_peer.h:
 * the binary protocol's length framing), at most RKV_CONN_REQS_PER_TURN_MAX; returns the
 * bytes consumed, or UINT32_MAX when the connection was closed. Only the length field is
 * looked at here; the handler decodes the rest. Every frame a node receives on its peer port
 * is a request and gets exactly one answer (conn_peer_reply()). */
static uint32_t conn_process_peer(struct conn *c)
{
    uint32_t pos = 0;
    unsigned handled = 0;
    while (c->state == CONN_READING || c->state == CONN_DRAINING) {
        if (conn_must_pause(c)) {
            conn_pause(c);
            break;
        }
        if (handled == RKV_CONN_REQS_PER_TURN_MAX) {
            conn_want_input(c);
            break;
        }
        uint32_t avail = c->in_len - pos;
        if (avail < 4u)
            break;
        uint32_t body = load_be32(c->in + pos);
        if (body < 8u || body > RKV_FRAME_BYTES_MAX) {
            c->ns->stats.closed_bad_frame++;
            log_bad_peer(c, body < 8u ? "peer frame shorter than its header" : "peer frame over the frame limit");
            conn_close(c, NULL);
            return UINT32_MAX;
        }
        if (avail < body + 4u) {
            c->in_need = body + 4u;
            if (!in_reserve(c, (size_t)pos + body + 4u)) {
                conn_close(c, "out of memory for a frame");
                return UINT32_MAX;
            }
            break;
        }
        handled++;
        c->ns->stats.requests++;
        c->inflight++;
        c->ns->inflight_total++;
        enum rkv_err err = c->ns->handler.on_peer_frame(c->ns->handler.ctx, c, c->in + pos, body + 4u);
        if (err == RKV_BUSY) {
            c->inflight--;
            c->ns->inflight_total--;
            c->ns->stats.requests--;
            if (c->inflight > 0)
                conn_pause(c);
            conn_want_input(c);
            break;
        }
        if (err != RKV_OK) {
            /* The handler refused the stream (a frame it cannot even answer): close. */
            c->inflight--;
            c->ns->inflight_total--;
            c->ns->stats.bad_requests++;
            c->ns->stats.closed_bad_frame++;
            log_bad_peer(c, rkv_err_message(err));
            conn_close(c, NULL);
            return UINT32_MAX;
        }
        pos += body + 4u;
    }
    return pos;
}

void conn_peer_reply(struct conn *c, const uint8_t *head, size_t head_bytes, uint8_t *tail_heap, size_t tail_bytes)
{
    struct net_shard *ns = c->ns;
    RKV_ASSERT(ns->sh == shard_current());
    RKV_ASSERT(c->proto == NET_PROTO_PEER);
    RKV_ASSERT(c->inflight > 0);
    RKV_ASSERT(head_bytes <= OUT_CHUNK_DATA_BYTES);
    RKV_ASSERT(tail_heap != NULL || tail_bytes == 0);
    c->inflight--;
    ns->inflight_total--;
    if (c->state == CONN_CLOSING || c->state == CONN_FREE) {
        free(tail_heap);
        conn_maybe_free(c);
        return;
    }
    if (tail_bytes <= RKV_RESP_INLINE_VALUE_BYTES_MAX) {
        out_reserve(c, (uint32_t)(head_bytes + tail_bytes));
        out_append(c, head, (uint32_t)head_bytes);
        if (tail_bytes > 0)
            out_append(c, tail_heap, (uint32_t)tail_bytes);
        free(tail_heap);
    } else {
        out_append(c, head, (uint32_t)head_bytes);
        seg_push(c, tail_heap, (uint32_t)tail_bytes, NULL, tail_heap);
    }
    conn_want_output(c);
    conn_after_answer(c);
}

/* Handles what the assembly buffer holds, then compacts it. */
static void conn_process(struct conn *c)
{
    c->in_need = 0;
    uint32_t pos = c->proto == NET_PROTO_HTTP   ? conn_process_http(c)
                   : c->proto == NET_PROTO_PEER ? conn_process_peer(c)
                                                : conn_process_bin(c);
    if (pos == UINT32_MAX)
        return;
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    /* A slow client's incomplete frame is timed from its first byte (net_shard_tick). */
    if (c->in_len == 0)
        c->partial_since_ms = 0;
    else if (pos > 0 || c->partial_since_ms == 0)
        c->partial_since_ms = now_ms();
    /* Give back the memory of a large frame once it is handled. */
    if (c->in_cap > RKV_CONN_IN_BYTES_INITIAL && c->in_len <= RKV_CONN_IN_BYTES_INITIAL) {
        uint8_t *p = realloc(c->in, RKV_CONN_IN_BYTES_INITIAL);
        if (p != NULL) {
            c->in = p;
            c->in_cap = RKV_CONN_IN_BYTES_INITIAL;
        }
    }
}

static void buf_recycle(struct net_shard *ns, uint16_t bid)
{
    io_uring_buf_ring_add(ns->br, ns->buf_mem + (size_t)bid * RKV_RECV_BUF_BYTES, RKV_RECV_BUF_BYTES, bid,
                          io_uring_buf_ring_mask(RKV_RECV_BUF_COUNT), 0);
    io_uring_buf_ring_advance(ns->br, 1);
}

static void recv_done(struct io_op *op, int32_t res, uint32_t flags)
{
    struct conn *c = RKV_CONTAINER_OF(op, struct conn, recv_op);
    struct net_shard *ns = c->ns;
    if (res > 0) {
        RKV_ASSERT(flags & IORING_CQE_F_BUFFER);
        uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
        ns->stats.bytes_in += (uint64_t)res;
        bool ok = c->state != CONN_CLOSING && in_reserve(c, (size_t)c->in_len + (size_t)res);
        if (ok) {
            memcpy(c->in + c->in_len, ns->buf_mem + (size_t)bid * RKV_RECV_BUF_BYTES, (size_t)res);
            c->in_len += (uint32_t)res;
        }
        buf_recycle(ns, bid); /* hand the buffer back as soon as its bytes are copied */
        if (!ok && c->state != CONN_CLOSING) {
            log_bad_peer(c, "assembly buffer over its hard limit");
            conn_close(c, NULL);
        } else if (c->state == CONN_READING) {
            conn_touch(c);
            conn_want_input(c);
            if (conn_in_full(c))
                recv_cancel(c); /* parsing re-arms it once the buffer is worked down */
        }
    } else if (res == 0) {
        /* EOF: answer what is in flight, send it, then close. */
        if (c->state == CONN_READING || c->state == CONN_PAUSED) {
            conn_set_state(c, CONN_DRAINING);
            conn_want_input(c);
        }
    } else if (res == -ENOBUFS) {
        ns->stats.enobufs++; /* buffers are back by the next turn: re-arm then */
    } else if (res != -ECANCELED && c->state != CONN_CLOSING) {
        conn_close(c, strerror(-res));
    }
    if (!c->recv_op.in_flight) {
        if (c->state == CONN_CLOSING)
            conn_maybe_free(c);
        else if (c->state == CONN_READING)
            conn_want_output(c); /* re-arm */
    }
}

/* ---- lifecycle ---- */

static void shut_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)res; (void)flags;
    struct conn *c = RKV_CONTAINER_OF(op, struct conn, shut_op);
    conn_maybe_free(c);
}

/* Starts closing: no more work; the socket is shut so that operations in flight end. */
static void conn_close(struct conn *c, const char *reason)
{
    if (c->state == CONN_CLOSING || c->state == CONN_FREE)
        return;
    if (reason)
        RKV_DEBUG_LOG("conn %u closing: %s", c->id, reason);
    conn_set_state(c, CONN_CLOSING);
    c->ns->stats.closed++;
    recv_cancel(c);
    if (!c->shut_sent) {
        c->shut_sent = true;
        struct io_uring_sqe *sqe = loop_sqe(c->ns->loop, &c->shut_op);
        io_uring_prep_shutdown(sqe, c->fd, SHUT_RDWR);
    }
    conn_maybe_free(c);
}

static void conn_maybe_free(struct conn *c)
{
    if (c->state != CONN_CLOSING || c->recv_op.in_flight || c->send_op.in_flight || c->shut_op.in_flight ||
        c->inflight > 0 || c->in_queued || c->out_queued)
        return;
    struct net_shard *ns = c->ns;
    conn_set_state(c, CONN_FREE);
    struct io_uring_sqe *sqe = loop_sqe(ns->loop, NULL);
    io_uring_prep_close(sqe, c->fd);
    out_release_all(c);
    free(c->in);
    if (c->http != NULL) {
        for (uint32_t i = 0; i < RKV_CONN_INFLIGHT_MAX; i++)
            free(c->http->slots[i].resp);
        free(c->http);
    }
    lru_unlink(ns, c);
    ns->stats.conns_open--;
    ns->stats.conns_open_by_proto[c->proto]--;
    pool_put(&ns->conn_pool, c);
}

static void conn_want_input(struct conn *c)
{
    if (c->in_queued)
        return;
    c->in_queued = true;
    c->in_next = NULL;
    struct net_shard *ns = c->ns;
    if (ns->in_tail) ns->in_tail->in_next = c; else ns->in_head = c;
    ns->in_tail = c;
}

static void conn_want_output(struct conn *c)
{
    if (c->out_queued)
        return;
    c->out_queued = true;
    c->out_next = NULL;
    struct net_shard *ns = c->ns;
    if (ns->out_tail) ns->out_tail->out_next = c; else ns->out_head = c;
    ns->out_tail = c;
}

static void accept_arm(struct listener *l);

static void accept_refuse(struct net_shard *ns, int fd)
{
    ns->stats.refused++;
    struct io_uring_sqe *sqe = loop_sqe(ns->loop, NULL);
    io_uring_prep_close(sqe, fd);
}

static void accept_done(struct io_op *op, int32_t res, uint32_t flags)
{
    struct listener *l = RKV_CONTAINER_OF(op, struct listener, accept_op);
    struct net_shard *ns = l->ns;
    if (res >= 0) {
        struct conn *c = ns->accepting ? pool_get(&ns->conn_pool) : NULL;
        if (c == NULL) {
            accept_refuse(ns, res);
        } else {
            int one = 1;
            /* Plain setsockopt: cheap and non-blocking; io_uring has no opcode for it on 6.x. */
            (void)setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->ns = ns;
            c->fd = res;
            c->proto = l->proto;
            c->state = CONN_FREE;
            c->id = ns->next_conn_id++;
            c->recv_op.done = recv_done;
            c->send_op.done = send_done;
            c->shut_op.done = shut_done;
            if (c->proto == NET_PROTO_HTTP)
                c->http = calloc(1, sizeof *c->http);
            if ((c->proto == NET_PROTO_HTTP && c->http == NULL) || !in_reserve(c, RKV_CONN_IN_BYTES_INITIAL)) {
                free(c->http);
                free(c->in);
                pool_put(&ns->conn_pool, c);
                accept_refuse(ns, res);
            } else {
                conn_set_state(c, CONN_READING);
                ns->stats.accepted++;
                ns->stats.conns_open++;
                ns->stats.conns_open_by_proto[c->proto]++;
                c->last_active_ms = now_ms();
                lru_push_tail(ns, c);
                recv_arm(c);
            }
        }
    } else if (res != -ECANCELED && ns->accepting) {
        /* Out of descriptors and the like: try again from the next tick, not at once (that
         * would spin), and say so at most once a second. */
        uint64_t now = now_ms();
        if (now - ns->accept_err_log_ms >= 1000u) {
            ns->accept_err_log_ms = now;
            rkv_log(RKV_LOG_WARN, "accept: %s", strerror(-res));
        }
        if (!(flags & IORING_CQE_F_MORE))
            l->rearm_on_tick = true;
        return;
    }
    if (!(flags & IORING_CQE_F_MORE) && ns->accepting)
        accept_arm(l);
}

static void accept_arm(struct listener *l)
{
    struct io_uring_sqe *sqe = loop_sqe(l->ns->loop, &l->accept_op);
    io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
}

static int listener_open(const struct rkv_addr *a)
{
    struct sockaddr_storage ss;
    socklen_t slen;
    memset(&ss, 0, sizeof ss);
    const char *host = strcmp(a->host, "localhost") == 0 ? "127.0.0.1" : a->host;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(a->port);
        slen = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(a->port);
        slen = sizeof *v6;
    } else {
        rkv_log(RKV_LOG_ERROR, "listen address %s is not an IP literal", a->host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    /* Start-up only: a killed predecessor's socket can linger for milliseconds. */
    for (int tries = 0;; tries++) {
        if (bind(fd, (struct sockaddr *)&ss, slen) == 0)
            break;
        if (errno != EADDRINUSE || tries == 40) {
            rkv_log(RKV_LOG_ERROR, "bind %s:%u: %s", a->host, a->port, strerror(errno));
            close(fd);
            return -1;
        }
        struct timespec ts = { 0, 50 * 1000000 };
        nanosleep(&ts, NULL);
    }
    if (listen(fd, 4096) != 0) {
        rkv_log(RKV_LOG_ERROR, "listen %s:%u: %s", a->host, a->port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

enum rkv_err net_shard_start(struct shard *sh, const struct net_config *cfg,
                             const struct net_handler *handler, struct net_shard **ns_out)
{
    *ns_out = NULL;
    RKV_ASSERT(sh == shard_current());
    struct net_shard *ns = calloc(1, sizeof *ns);
    if (ns == NULL)
        return RKV_BUSY;
    ns->sh = sh;
    ns->loop = &sh->loop;
    ns->cfg = *cfg;
    ns->handler = *handler;
    for (uint32_t i = 0; i < NET_PROTO_COUNT; i++) {
        ns->listeners[i] = (struct listener){ .ns = ns, .proto = (enum net_proto)i, .fd = -1 };
        ns->listeners[i].accept_op.done = accept_done;
    }
    /* Pools: one conn struct per allowed connection; output chunks for four per connection
     * (answers past that spill to the heap rather than being dropped). */
    if (!pool_init(&ns->conn_pool, "conn", sizeof(struct conn), cfg->conns_max) ||
        !pool_init(&ns->chunk_pool, "out_chunk", sizeof(struct out_chunk), cfg->conns_max * 4u))
        goto fail;
    size_t ring_bytes = RKV_RECV_BUF_COUNT * sizeof(struct io_uring_buf);
    if (posix_memalign((void **)&ns->br, 4096, ring_bytes) != 0) {
        ns->br = NULL;
        goto fail;
    }
    ns->buf_mem = malloc((size_t)RKV_RECV_BUF_COUNT * RKV_RECV_BUF_BYTES);
    if (ns->buf_mem == NULL)
        goto fail;
    io_uring_buf_ring_init(ns->br);
    struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)ns->br, .ring_entries = RKV_RECV_BUF_COUNT, .bgid = NET_BUF_GROUP };
    int rc = io_uring_register_buf_ring(&sh->loop.ring, &reg, 0);
    if (rc != 0) {
        rkv_log(RKV_LOG_ERROR, "io_uring_register_buf_ring: %s", strerror(-rc));
        goto fail;
    }
    for (uint16_t i = 0; i < RKV_RECV_BUF_COUNT; i++)
        io_uring_buf_ring_add(ns->br, ns->buf_mem + (size_t)i * RKV_RECV_BUF_BYTES, RKV_RECV_BUF_BYTES, i,
                              io_uring_buf_ring_mask(RKV_RECV_BUF_COUNT), (int)i);
    io_uring_buf_ring_advance(ns->br, RKV_RECV_BUF_COUNT);
    ns->listeners[NET_PROTO_BINARY].fd = listener_open(&cfg->listen);
    if (ns->listeners[NET_PROTO_BINARY].fd < 0)
        goto fail;
    if (cfg->http_enabled) {
        ns->http_value_buf = malloc(RKV_VALUE_BYTES_MAX + 1u);
        ns->listeners[NET_PROTO_HTTP].fd = ns->http_value_buf ? listener_open(&cfg->http) : -1;
        if (ns->listeners[NET_PROTO_HTTP].fd < 0)
            goto fail;
    }
    if (cfg->peer_enabled) {
        RKV_ASSERT(handler->on_peer_frame != NULL);
        ns->listeners[NET_PROTO_PEER].fd = listener_open(&cfg->peer);
        if (ns->listeners[NET_PROTO_PEER].fd < 0)
            goto fail;
    }
    ns->accepting = true;
    for (uint32_t i = 0; i < NET_PROTO_COUNT; i++) {
        if (ns->listeners[i].fd >= 0)
            accept_arm(&ns->listeners[i]);
    }
    *ns_out = ns;
    return RKV_OK;
fail:
    for (uint32_t i = 0; i < NET_PROTO_COUNT; i++) {
        if (ns->listeners[i].fd >= 0)
            close(ns->listeners[i].fd);
    }
    free(ns->http_value_buf);
    free(ns->buf_mem);
    free(ns->br);
    if (ns->conn_pool.slabs) pool_destroy(&ns->conn_pool);
    if (ns->chunk_pool.slabs) pool_destroy(&ns->chunk_pool);
    free(ns);
    return RKV_INTERNAL;
}

void net_shard_input(struct net_shard *ns)
{
    /* Bounded: the list is taken whole; a connection with frames left over (its budget ran
     * out) queues itself on the fresh list for the next turn. */
    struct conn *c = ns->in_head;
    ns->in_head = ns->in_tail = NULL;
    while (c != NULL) {
        struct conn *next = c->in_next;
        c->in_queued = false;
        c->in_next = NULL;
        if (c->state == CONN_READING || c->state == CONN_DRAINING)
            conn_process(c);
        conn_want_output(c);
        c = next;
    }
}

bool net_shard_output(struct net_shard *ns)
{
    struct conn *c = ns->out_head;
    ns->out_head = ns->out_tail = NULL;
    while (c != NULL) {
        struct conn *next = c->out_next;
        c->out_queued = false;
        c->out_next = NULL;
        if (c->state == CONN_READING)
            recv_arm(c);
        if (c->state == CONN_DRAINING && c->inflight == 0 && c->seg_count == 0 && !c->send_op.in_flight &&
            !c->in_queued)
            conn_close(c, "drained");
        send_start(c);
        conn_maybe_free(c);
        c = next;
    }
    return ns->in_head != NULL;
}

/* A request that has been arriving for this long is a slow or stuck client: it is closed so
 * that it holds no buffer memory and no connection slot. */
#define CONN_PARTIAL_FRAME_MS_MAX 10000u

void net_shard_tick(struct net_shard *ns, uint64_t wall_ms)
{
    (void)wall_ms;
    uint64_t now = now_ms();
    for (uint32_t i = 0; i < NET_PROTO_COUNT; i++) {
        struct listener *l = &ns->listeners[i];
        if (l->rearm_on_tick && ns->accepting && !l->accept_op.in_flight) {
            l->rearm_on_tick = false;
            accept_arm(l);
        }
    }
    /* Once a second, every connection: bounded by the connection pool. */
    if (++ns->tick_count % 10u == 0) {
        for (struct conn *c = ns->lru_head; c != NULL;) {
            struct conn *next = c->lru_next;
            /* Only a reading connection with nothing queued holds an incomplete frame; a
             * paused one holds complete frames that wait for us, not for the client. */
            if (c->state == CONN_READING && !c->in_queued && c->partial_since_ms != 0 &&
                now - c->partial_since_ms >= CONN_PARTIAL_FRAME_MS_MAX) {
                ns->stats.closed_slow++;
                log_bad_peer(c, "a request took over 10 s to arrive");
                conn_close(c, NULL);
            }
            c = next;
        }
    }
    uint64_t idle_ms = (uint64_t)ns->cfg.idle_timeout_s * 1000u;
    /* Bounded by the number of open connections; in practice it stops at the first live one. */
    struct conn *c = ns->lru_head;
    while (c != NULL) {
        struct conn *next = c->lru_next;
        bool past_deadline = c->close_deadline_ms != 0 && now >= c->close_deadline_ms;
        if (c->state != CONN_CLOSING && past_deadline) {
            conn_close(c, "close deadline");
        } else if (c->state != CONN_CLOSING && now - c->last_active_ms >= idle_ms) {
            ns->stats.closed_idle++;
            conn_close(c, "idle");
        } else if (!ns->closing_all && c->state != CONN_CLOSING) {
            break;
        }
        c = next;
    }
}

void net_shard_stop_accepting(struct net_shard *ns)
{
    ns->accepting = false;
    for (uint32_t i = 0; i < NET_PROTO_COUNT; i++) {
        if (ns->listeners[i].accept_op.in_flight) {
            struct io_uring_sqe *sqe = loop_sqe(ns->loop, NULL);
            io_uring_prep_cancel(sqe, &ns->listeners[i].accept_op, 0);
        }
    }
    for (struct conn *c = ns->lru_head; c != NULL; c = c->lru_next) {
        if (c->state == CONN_READING || c->state == CONN_PAUSED) {
            conn_set_state(c, CONN_DRAINING);
            recv_cancel(c);
            conn_want_input(c);
        }
    }
}

bool net_shard_drained(const struct net_shard *ns)
{
    /* A connection on the input list may hold complete frames it has not answered. */
    return ns->inflight_total == 0 && ns->in_head == NULL;
}

/* Closes each listener whose accept is no longer armed (the kernel holds it till then).
 * Shutdown only: a plain close(2) of a listening socket does not block. Returns true when
 * every listener is closed. */
static bool listeners_close_idle(struct net_shard *ns)
{
    bool all = true;
    for (uint32_t i = 0; i < NET_PROTO_COUNT; i++) {
        struct listener *l = &ns->listeners[i];
        if (l->accept_op.in_flight)
            all = false;
        else if (l->fd >= 0) {
            close(l->fd);
            l->fd = -1;
        }
    }
    return all;
}

void net_shard_close_all(struct net_shard *ns)
{
    uint64_t deadline = now_ms() + CONN_CLOSE_GRACE_MS;
    ns->closing_all = true;
    for (struct conn *c = ns->lru_head; c != NULL; c = c->lru_next) {
        if (c->state == CONN_CLOSING)
            continue;
        if (c->seg_count == 0 && !c->send_op.in_flight) {
            conn_close(c, "shutdown");
        } else {
            c->close_deadline_ms = deadline;
            if (c->state != CONN_DRAINING)
                conn_set_state(c, CONN_DRAINING);
            conn_want_output(c);
        }
    }
    listeners_close_idle(ns);
}

bool net_shard_closed(struct net_shard *ns)
{
    return listeners_close_idle(ns) && ns->stats.conns_open == 0;
}

void net_shard_free(struct net_shard *ns)
{
    if (ns == NULL)
        return;
    RKV_ASSERT(ns->stats.conns_open == 0);
    for (uint32_t i = 0; i < NET_PROTO_COUNT; i++) {
        if (ns->listeners[i].fd >= 0)
            close(ns->listeners[i].fd);
    }
    free(ns->http_value_buf);
    pool_destroy(&ns->conn_pool);
    pool_destroy(&ns->chunk_pool);
    free(ns->buf_mem);
    free(ns->br);
    free(ns);
}

void net_shard_stats(const struct net_shard *ns, struct net_stats *stats_out)
{
    *stats_out = ns->stats;
}
