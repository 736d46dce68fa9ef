/* Outgoing peer links; see net/peer.h for the contract and the state diagram.
 *
 * Memory and ownership. The link owns one socket at a time and embeds every operation it can
 * have in flight on it: connect, send, recv, shutdown and close (practice 5). Cancels are
 * submitted without a user_data of their own (their completions are ignored): they carry
 * only the address of the op they cancel, as a key, and are executed when submitted, while
 * that op (and so the link) is still alive. The fd is closed only after every op that names
 * it completed, so a reused fd number can never receive one of our late operations.
 *
 * Sending uses two buffers: `tx` is lent to the kernel while a send is in flight (its bytes
 * [tx_off, tx_len) are what remains to write) and is never resized then; `fill` takes new
 * frames and may grow at will. When tx is fully written, the buffers swap. A frame is copied
 * whole into fill, so one send carries every frame queued while the previous one was in
 * flight. Bytes queued (fill plus what tx has left) never exceed queue_bytes_max.
 *
 * Receiving uses one single-shot recv into the link's own buffer (no provided buffers: a
 * handful of links per shard does not need them), which starts at
 * RKV_PEER_LINK_IN_BYTES_INITIAL and grows to fit the frame at its head. Each completion
 * delivers the complete frames it finished; their number is bounded by the buffer's size
 * (at most one maximal frame plus the initial size, frames of at least 12 bytes), which
 * bounds the work of one completion (practice 8).
 *
 * Callbacks run from completion handlers and from peer_link_tick(). A callback may send or
 * close; a link is never freed inside the module (only peer_link_free() does that, and
 * peer_link_closed() answers false while a handler of the link is running), so the code
 * after a callback only has to re-check the state. */
#include "net/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/shard.h"

enum link_state { LINK_IDLE, LINK_CONNECTING, LINK_UP, LINK_RESETTING, LINK_BACKOFF, LINK_CLOSING, LINK_CLOSED,
                  LINK_STATE_COUNT };

static const char *const link_state_names[LINK_STATE_COUNT] = { "idle", "connecting", "up", "resetting",
                                                                "backoff", "closing", "closed" };

static const bool link_transition_ok[LINK_STATE_COUNT][LINK_STATE_COUNT] = {
    [LINK_IDLE] = { [LINK_CONNECTING] = true, [LINK_CLOSING] = true },
    [LINK_CONNECTING] = { [LINK_UP] = true, [LINK_RESETTING] = true, [LINK_CLOSING] = true },
    [LINK_UP] = { [LINK_RESETTING] = true, [LINK_CLOSING] = true },
    [LINK_RESETTING] = { [LINK_BACKOFF] = true, [LINK_CLOSING] = true },
    [LINK_BACKOFF] = { [LINK_CONNECTING] = true, [LINK_CLOSING] = true },
    [LINK_CLOSING] = { [LINK_CLOSED] = true },
    [LINK_CLOSED] = { 0 },
};

/* Warnings about one link going down: at most one a second (a dead peer fails every
 * backoff); the rest are counted in the stats and the next line says how many were skipped. */
#define LINK_LOG_INTERVAL_MS 1000u
#define LINK_FRAME_MIN_FIELD 8u

/* A growable byte buffer. */
struct link_buf {
    uint8_t *data;
    size_t len, cap;
    uint64_t frames;   /* whole frames in it */
};

/* Owner: the shard in `sh` (see net/peer.h). */
struct peer_link {
    struct shard *sh;
    struct loop *loop;
    struct peer_link_handler h;
    struct peer_link_config cfg;
    struct sockaddr_storage sa;
    socklen_t sa_len;
    uint64_t seed;                 /* jitter of the backoff */
    enum link_state state;
    int fd;                        /* -1 when no socket is open */
    struct io_op connect_op, send_op, recv_op, shut_op, close_op;
    bool shut_sent;                /* for the current fd */
    uint32_t in_handler;           /* depth of our own handlers on the stack */
    uint32_t fail_streak;          /* consecutive failures, for the backoff */
    uint64_t connect_deadline_ms;
    uint64_t retry_at_ms;
    uint64_t last_log_ms;
    uint64_t logs_skipped;
    struct link_buf tx, fill;
    size_t tx_off;                 /* bytes of tx already written */
    uint8_t *in;
    size_t in_len, in_cap;
    struct peer_link_stats stats;
};

static uint64_t link_now_ms(void) { return rkv_mono_ns() / 1000000u; }

static void link_set_state(struct peer_link *l, enum link_state next)
{
    RKV_ASSERT(next < LINK_STATE_COUNT);
    RKV_ASSERT(link_transition_ok[l->state][next]);
    RKV_DEBUG_LOG("peer link %s:%u: %s -> %s", l->cfg.addr.host, l->cfg.addr.port, link_state_names[l->state],
                  link_state_names[next]);
    l->state = next;
}

static void link_assert_thread(const struct peer_link *l)
{
    RKV_ASSERT(shard_current() == l->sh);
}

static uint64_t mix64(uint64_t x)
{
    /* splitmix64's finaliser: every input bit affects every output bit. */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static size_t link_queued(const struct peer_link *l)
{
    return l->fill.len + (l->tx.len - l->tx_off);
}

static bool link_ops_idle(const struct peer_link *l)
{
    return !l->connect_op.in_flight && !l->send_op.in_flight && !l->recv_op.in_flight && !l->shut_op.in_flight &&
           !l->close_op.in_flight;
}

static void buf_release(struct link_buf *b, bool keep)
{
    if (!keep || b->cap > RKV_PEER_LINK_OUT_KEEP_BYTES) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    b->len = 0;
    b->frames = 0;
}

/* Drops every queued byte; the send buffer only when no send holds it. */
static void link_drop_queued(struct peer_link *l)
{
    l->stats.frames_dropped += l->fill.frames;
    buf_release(&l->fill, false);
    if (!l->send_op.in_flight) {
        l->stats.frames_dropped += l->tx.frames;
        buf_release(&l->tx, false);
        l->tx_off = 0;
    }
}

/* ---- closing a socket (both on failure and on peer_link_close) ---- */

static void close_done(struct io_op *op, int32_t res, uint32_t flags);
static void shut_done(struct io_op *op, int32_t res, uint32_t flags);
static void link_settle(struct peer_link *l);
static void link_connect(struct peer_link *l);

static void link_cancel(struct peer_link *l, struct io_op *op)
{
    if (!op->in_flight)
        return;
    struct io_uring_sqe *sqe = loop_sqe(l->loop, NULL);
    io_uring_prep_cancel(sqe, op, 0);
}

/* Stops every operation on the socket: cancels what can be cancelled, and shuts the socket
 * so that a send or recv already running ends too. */
static void link_teardown(struct peer_link *l)
{
    if (l->fd < 0)
        return;
    link_cancel(l, &l->connect_op);
    link_cancel(l, &l->recv_op);
    link_cancel(l, &l->send_op);
    if (!l->shut_sent) {
        l->shut_sent = true;
        struct io_uring_sqe *sqe = loop_sqe(l->loop, &l->shut_op);
        io_uring_prep_shutdown(sqe, l->fd, SHUT_RDWR);
    }
}

/* In RESETTING or CLOSING: once nothing names the fd any more, closes it; once that is done
 * too, moves on (BACKOFF or CLOSED). Called after every completion of those states. */
static void link_settle(struct peer_link *l)
{
    if (l->state != LINK_RESETTING && l->state != LINK_CLOSING)
        return;
    if (!link_ops_idle(l))
        return;
    if (l->fd >= 0) {
        struct io_uring_sqe *sqe = loop_sqe(l->loop, &l->close_op);
        io_uring_prep_close(sqe, l->fd);
        l->fd = -1;
        return;
    }
    link_drop_queued(l);
    if (l->state == LINK_CLOSING) {
        link_set_state(l, LINK_CLOSED);
        return;
    }
    /* Backoff: b/2 + jitter in [0, b/2], b doubling from min to max. */
    uint32_t n = l->fail_streak > 0 ? l->fail_streak - 1 : 0;
    uint64_t b = l->cfg.backoff_min_ms;
    for (uint32_t i = 0; i < n && b < l->cfg.backoff_max_ms; i++)
        b *= 2;
    if (b > l->cfg.backoff_max_ms)
        b = l->cfg.backoff_max_ms;
    uint64_t half = b / 2;
    uint64_t delay = (b - half) + mix64(l->seed ^ l->fail_streak) % (half + 1);
    l->stats.backoff_ms = (uint32_t)delay;
    l->retry_at_ms = link_now_ms() + delay;
    link_set_state(l, LINK_BACKOFF);
}

static void close_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_link *l = RKV_CONTAINER_OF(op, struct peer_link, close_op);
    if (res < 0)
        rkv_log(RKV_LOG_WARN, "peer link %s:%u: close: %s", l->cfg.addr.host, l->cfg.addr.port, strerror(-res));
    l->in_handler++;
    link_settle(l);
    l->in_handler--;
}

static void shut_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)res; /* ENOTCONN when it never connected: harmless */
    (void)flags;
    struct peer_link *l = RKV_CONTAINER_OF(op, struct peer_link, shut_op);
    l->in_handler++;
    link_settle(l);
    l->in_handler--;
}

/* The connection failed or was lost: drop what is queued, tear the socket down, tell the
 * caller. No-op unless CONNECTING or UP (a second error of the same socket is not news). */
static void link_fail(struct peer_link *l, const char *why, int err)
{
    if (l->state != LINK_CONNECTING && l->state != LINK_UP)
        return;
    l->in_handler++; /* the callback below may close the link: it must not be freed under us */
    uint64_t now = link_now_ms();
    if (now - l->last_log_ms >= LINK_LOG_INTERVAL_MS || l->last_log_ms == 0) {
        rkv_log(RKV_LOG_WARN, "peer link %s:%u down: %s%s%s (%" PRIu64 " similar lines skipped)", l->cfg.addr.host,
                l->cfg.addr.port, why, err ? ": " : "", err ? strerror(err) : "", l->logs_skipped);
        l->last_log_ms = now;
        l->logs_skipped = 0;
    } else {
        l->logs_skipped++;
    }
    l->stats.failures++;
    l->fail_streak++;
    link_set_state(l, LINK_RESETTING);
    link_drop_queued(l);
    link_teardown(l);
    l->h.on_state(l->h.ctx, l, false);
    link_settle(l);
    l->in_handler--;
}

/* ---- sending ---- */

static void send_done(struct io_op *op, int32_t res, uint32_t flags);

static void send_start(struct peer_link *l)
{
    if (l->state != LINK_UP || l->send_op.in_flight)
        return;
    if (l->tx_off == l->tx.len) {
        if (l->fill.len == 0)
            return;
        struct link_buf done = l->tx;
        l->tx = l->fill;
        l->fill = done;
        buf_release(&l->fill, true);
        l->tx_off = 0;
    }
    struct io_uring_sqe *sqe = loop_sqe(l->loop, &l->send_op);
    io_uring_prep_send(sqe, l->fd, l->tx.data + l->tx_off, l->tx.len - l->tx_off, MSG_NOSIGNAL);
}

static void send_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_link *l = RKV_CONTAINER_OF(op, struct peer_link, send_op);
    l->in_handler++;
    if (res > 0) {
        RKV_ASSERT((size_t)res <= l->tx.len - l->tx_off);
        l->stats.bytes_out += (uint64_t)res;
        l->tx_off += (size_t)res;
        if (l->tx_off == l->tx.len) {
            l->stats.frames_out += l->tx.frames;
            l->tx.len = 0;
            l->tx.frames = 0;
            l->tx_off = 0;
        }
    }
    if (l->state == LINK_UP) {
        if (res <= 0)
            link_fail(l, "send failed", res == 0 ? 0 : -res);
        else
            send_start(l);
    } else {
        /* Down or closing: the buffer is ours again and what it holds will never be sent. */
        link_drop_queued(l);
        link_settle(l);
    }
    l->in_handler--;
}

enum rkv_err peer_link_send(struct peer_link *l, const void *head, size_t head_bytes, const void *tail,
                            size_t tail_bytes)
{
    link_assert_thread(l);
    RKV_ASSERT(head != NULL && head_bytes >= 4);
    RKV_ASSERT(tail_bytes == 0 || tail != NULL);
    size_t total = head_bytes + tail_bytes;
    uint32_t field;
    memcpy(&field, head, 4);
    field = ntohl(field);
    RKV_ASSERT(field >= LINK_FRAME_MIN_FIELD && field <= RKV_FRAME_BYTES_MAX && (size_t)field + 4u == total);
    switch (l->state) {
    case LINK_RESETTING:
    case LINK_BACKOFF:
        l->stats.unavailable++;
        return RKV_UNAVAILABLE;
    case LINK_CLOSING:
    case LINK_CLOSED:
        return RKV_SHUTTING_DOWN;
    default:
        break;
    }
    size_t queued = link_queued(l);
    if (queued + total > l->cfg.queue_bytes_max) {
        l->stats.busy++;
        return RKV_BUSY;
    }
    if (l->fill.len + total > l->fill.cap) {
        size_t cap = l->fill.cap ? l->fill.cap : 4096u;
        while (cap < l->fill.len + total)
            cap *= 2;
        if (cap > l->cfg.queue_bytes_max)
            cap = l->cfg.queue_bytes_max;
        uint8_t *p = realloc(l->fill.data, cap);
        if (p == NULL) {
            l->stats.busy++;
            return RKV_BUSY;
        }
        l->fill.data = p;
        l->fill.cap = cap;
    }
    memcpy(l->fill.data + l->fill.len, head, head_bytes);
    if (tail_bytes)
        memcpy(l->fill.data + l->fill.len + head_bytes, tail, tail_bytes);
    l->fill.len += total;
    l->fill.frames++;
    l->stats.frames_queued++;
    if (queued + total > l->stats.queued_bytes_peak)
        l->stats.queued_bytes_peak = queued + total;
    if (l->state == LINK_IDLE) {
        link_connect(l);
    } else {
        send_start(l);
    }
    return RKV_OK;
}

/* ---- receiving ---- */

static void recv_done(struct io_op *op, int32_t res, uint32_t flags);

static void recv_start(struct peer_link *l)
{
    RKV_ASSERT(!l->recv_op.in_flight && l->in_len < l->in_cap);
    struct io_uring_sqe *sqe = loop_sqe(l->loop, &l->recv_op);
    io_uring_prep_recv(sqe, l->fd, l->in + l->in_len, l->in_cap - l->in_len, 0);
}

/* Makes room for `need` bytes in the receive buffer; false when out of memory. */
static bool in_reserve(struct peer_link *l, size_t need)
{
    if (need <= l->in_cap)
        return true;
    uint8_t *p = realloc(l->in, need);
    if (p == NULL)
        return false;
    l->in = p;
    l->in_cap = need;
    return true;
}

static void recv_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_link *l = RKV_CONTAINER_OF(op, struct peer_link, recv_op);
    l->in_handler++;
    if (l->state != LINK_UP) {
        link_settle(l);
        goto out;
    }
    if (res <= 0) {
        link_fail(l, res == 0 ? "peer closed the connection" : "recv failed", res == 0 ? 0 : -res);
        goto out;
    }
    l->stats.bytes_in += (uint64_t)res;
    l->in_len += (size_t)res;
    size_t pos = 0;
    size_t need = 0;    /* size of the incomplete frame at pos, when known */
    while (l->state == LINK_UP && l->in_len - pos >= 4) {
        uint32_t field;
        memcpy(&field, l->in + pos, 4);
        field = ntohl(field);
        if (field < LINK_FRAME_MIN_FIELD || field > RKV_FRAME_BYTES_MAX) {
            l->stats.bad_frames++;
            link_fail(l, field < LINK_FRAME_MIN_FIELD ? "bad frame: length field under 8"
                                                      : "bad frame: length field over the frame limit", 0);
            goto out;
        }
        size_t frame = (size_t)field + 4u;
        if (l->in_len - pos < frame) {
            need = frame;
            break;
        }
        l->stats.frames_in++;
        l->h.on_frame(l->h.ctx, l, l->in + pos, frame);
        pos += frame;
    }
    if (l->state != LINK_UP) {
        link_settle(l);
        goto out;
    }
    if (pos > 0) {
        memmove(l->in, l->in + pos, l->in_len - pos);
        l->in_len -= pos;
    }
    if (l->in_len == 0 && l->in_cap > RKV_PEER_LINK_IN_BYTES_INITIAL) {
        uint8_t *p = realloc(l->in, RKV_PEER_LINK_IN_BYTES_INITIAL);
        if (p != NULL) {
            l->in = p;
            l->in_cap = RKV_PEER_LINK_IN_BYTES_INITIAL;
        }
    }
    if (!in_reserve(l, need > 0 ? need : l->in_len + 1)) {
        link_fail(l, "out of memory for a frame", ENOMEM);
        goto out;
    }
    recv_start(l);
out:
    l->in_handler--;
}

/* ---- connecting ---- */

static void connect_done(struct io_op *op, int32_t res, uint32_t flags);

/* Opens a socket and starts connecting (IDLE or BACKOFF). A socket that cannot even be made
 * (fd exhaustion) fails the attempt at once, calling on_state(false) from here. */
static void link_connect(struct peer_link *l)
{
    RKV_ASSERT(l->fd < 0 && link_ops_idle(l));
    link_set_state(l, LINK_CONNECTING);
    l->stats.connects++;
    l->shut_sent = false;
    l->connect_deadline_ms = link_now_ms() + l->cfg.connect_timeout_ms;
    int fd = socket(l->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        link_fail(l, "socket", errno);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    l->fd = fd;
    struct io_uring_sqe *sqe = loop_sqe(l->loop, &l->connect_op);
    io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&l->sa, l->sa_len);
}

static void connect_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_link *l = RKV_CONTAINER_OF(op, struct peer_link, connect_op);
    l->in_handler++;
    if (l->state != LINK_CONNECTING) {
        link_settle(l);
        goto out;
    }
    if (res < 0) {
        link_fail(l, "connect failed", -res);
        goto out;
    }
    if (!in_reserve(l, RKV_PEER_LINK_IN_BYTES_INITIAL)) {
        link_fail(l, "out of memory for the receive buffer", ENOMEM);
        goto out;
    }
    link_set_state(l, LINK_UP);
    l->stats.connected++;
    l->fail_streak = 0;
    l->in_len = 0;
    recv_start(l);
    send_start(l);
    l->h.on_state(l->h.ctx, l, true);
out:
    l->in_handler--;
}

/* ---- the public rest ---- */

static bool resolve(const struct rkv_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (a->port == 0)
        return false;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    const char *host = strcmp(a->host, "localhost") == 0 ? "127.0.0.1" : a->host;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(a->port);
        *len = sizeof *in4;
        return true;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        *len = sizeof *in6;
        return true;
    }
    return false;
}

enum rkv_err peer_link_open(struct shard *sh, const struct peer_link_config *cfg, const struct peer_link_handler *h,
                            struct peer_link **out)
{
    RKV_ASSERT(sh != NULL && cfg != NULL && h != NULL && out != NULL);
    RKV_ASSERT(h->on_frame != NULL && h->on_state != NULL);
    RKV_ASSERT(shard_current() == sh);
    *out = NULL;
    struct peer_link_config c = *cfg;
    if (memchr(c.addr.host, '\0', sizeof c.addr.host) == NULL)
        return RKV_INVALID_ARG;
    if (c.queue_bytes_max == 0)
        c.queue_bytes_max = RKV_PEER_LINK_QUEUE_BYTES_DEFAULT;
    if (c.backoff_min_ms == 0)
        c.backoff_min_ms = RKV_PEER_BACKOFF_MS_MIN_DEFAULT;
    if (c.backoff_max_ms == 0)
        c.backoff_max_ms = c.backoff_min_ms > RKV_PEER_BACKOFF_MS_MAX_DEFAULT ? c.backoff_min_ms
                                                                              : RKV_PEER_BACKOFF_MS_MAX_DEFAULT;
    if (c.connect_timeout_ms == 0)
        c.connect_timeout_ms = RKV_PEER_CONNECT_TIMEOUT_MS_DEFAULT;
    if (c.queue_bytes_max < RKV_PEER_LINK_QUEUE_BYTES_MIN || c.queue_bytes_max > RKV_PEER_LINK_QUEUE_BYTES_MAX ||
        c.backoff_min_ms > c.backoff_max_ms || c.backoff_max_ms > RKV_PEER_BACKOFF_MS_LIMIT ||
        c.connect_timeout_ms > RKV_PEER_CONNECT_TIMEOUT_MS_MAX)
        return RKV_INVALID_ARG;
    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    if (!resolve(&c.addr, &ss, &ss_len))
        return RKV_INVALID_ARG;
    struct peer_link *l = calloc(1, sizeof *l);
    if (l == NULL)
        return RKV_BUSY;
    l->sh = sh;
    l->loop = &sh->loop;
    l->h = *h;
    l->cfg = c;
    l->sa = ss;
    l->sa_len = ss_len;
    l->fd = -1;
    l->state = LINK_IDLE;
    l->connect_op.done = connect_done;
    l->send_op.done = send_done;
    l->recv_op.done = recv_done;
    l->shut_op.done = shut_done;
    l->close_op.done = close_done;
    /* Jitter seed: the endpoint, the shard and how many links this shard opened before, so
     * that the links of several shards (or several links of one) to one dead peer spread
     * their retries, the same way in every run. */
    static _Thread_local uint64_t links_opened;
    uint64_t s = mix64(((uint64_t)sh->idx << 48) ^ ((uint64_t)c.addr.port << 32) ^ links_opened++);
    for (size_t i = 0; c.addr.host[i] != '\0'; i++)
        s = mix64(s ^ (uint8_t)c.addr.host[i]);
    l->seed = s;
    *out = l;
    return RKV_OK;
}

void peer_link_tick(struct peer_link *l)
{
    link_assert_thread(l);
    uint64_t now = link_now_ms();
    if (l->state == LINK_CONNECTING && now >= l->connect_deadline_ms) {
        /* The teardown cancels the connect and shuts the socket, which also aborts a
         * connect the cancel found already running. */
        link_fail(l, "connect timed out", 0);
    } else if (l->state == LINK_BACKOFF && now >= l->retry_at_ms) {
        link_connect(l);
    }
}

void peer_link_retry_now(struct peer_link *l)
{
    link_assert_thread(l);
    if (l->state == LINK_BACKOFF)
        link_connect(l);
}

bool peer_link_up(const struct peer_link *l) { return l->state == LINK_UP; }

bool peer_link_backing_off(const struct peer_link *l) { return l->state == LINK_BACKOFF; }

size_t peer_link_queued_bytes(const struct peer_link *l) { return link_queued(l); }

const struct peer_link_stats *peer_link_stats(const struct peer_link *l) { return &l->stats; }

void peer_link_close(struct peer_link *l)
{
    link_assert_thread(l);
    if (l->state == LINK_CLOSING || l->state == LINK_CLOSED)
        return;
    link_set_state(l, LINK_CLOSING);
    link_drop_queued(l);
    link_teardown(l);
    link_settle(l);
}

bool peer_link_closed(const struct peer_link *l)
{
    return l->state == LINK_CLOSED && l->in_handler == 0;
}

void peer_link_free(struct peer_link *l)
{
    if (l == NULL)
        return;
    link_assert_thread(l);
    RKV_ASSERT(peer_link_closed(l) && link_ops_idle(l) && l->fd < 0);
    free(l->tx.data);
    free(l->fill.data);
    free(l->in);
    free(l);
}
