/* The C client library (net/ringkv.h): one blocking TCP connection speaking the binary
 * protocol through the shared codec (net/proto_bin.h). A struct ringkv_client is owned by
 * the thread that uses it; nothing here is global, so clients on different threads never
 * meet. The socket is non-blocking and every wait is a poll() bounded by the client's
 * timeout. Bytes from the server are checked by the codec and by the table of requests in
 * flight; anything wrong makes the client fail with RINGKV_ERR_PROTOCOL, never an assertion.
 * A client that failed (closed, socket error, protocol error, a write that timed out) stays
 * failed: every later call returns the same error, the way a broken stream should. */
#include "net/ringkv.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/err.h"
#include "core/limits.h"
#include "net/proto_bin.h"

/* The public status values are the wire bytes of core/err.h, one for one. */
#define CLIENT_WIRE_CHECK(name, wire, http, msg) \
    _Static_assert((int)RINGKV_##name == (wire), "RINGKV_" #name " equals its wire byte");
RKV_ERR_TABLE(CLIENT_WIRE_CHECK)
#undef CLIENT_WIRE_CHECK

#define CLIENT_TIMEOUT_MS_DEFAULT 5000
/* ringkv_send_*() write on their own once this much is queued (net/ringkv.h). */
#define CLIENT_OUT_FLUSH_BYTES (64u * 1024u)
/* The input buffer starts here and grows to one whole frame at most (plus what is queued
 * behind it). */
#define CLIENT_IN_BYTES_INITIAL (64u * 1024u)
#define CLIENT_RESP_BYTES_MAX (RKV_RESP_HDR_BYTES + RKV_VALUE_BYTES_MAX)
/* While a flush waits for the socket to drain it reads answers, so that a long pipeline
 * cannot deadlock with a server that stops reading until its answers are taken; this bounds
 * how many bytes of answers it holds that way. */
#define CLIENT_IN_BACKLOG_BYTES_MAX (8u * 1024u * 1024u)
/* Requests in flight at once, so the table of them stays bounded. */
#define CLIENT_PENDING_MAX (1u << 22)
#define CLIENT_PENDING_INITIAL 64u
#define CLIENT_HOST_BYTES_MAX 255u

/* A slot of the table of requests in flight holds its opcode with one of these marks. */
#define PENDING_WAITING 0x100u
#define PENDING_ABANDONED 0x200u /* a blocking call gave up; its answer is dropped */

/* Owner: the one thread that uses the client. */
struct ringkv_client {
    int fd;
    int timeout_ms;
    enum ringkv_err failed; /* RINGKV_OK while usable */
    bool raw_sent;          /* ringkv_send_raw() was used: answers may name unknown ids */

    uint8_t *out; /* queued requests: out[out_sent..out_len) not yet written */
    size_t out_len, out_sent, out_cap;

    uint8_t *in; /* received bytes: in[in_start..in_end) not yet returned */
    size_t in_start, in_end, in_cap;
    size_t in_last_bytes; /* the frame last returned, whose value the caller may still read */

    /* Requests in flight: ids are handed out in order, every id below id_oldest has been
     * answered, and pending[id & (pending_cap - 1)] describes the ids in between. */
    uint32_t id_next, id_oldest;
    uint16_t *pending;
    uint32_t pending_cap;
    size_t in_flight;

    char message[RKV_ERR_MSG_BYTES_MAX + 1];
};

const char *ringkv_strerror(enum ringkv_err err)
{
    switch (err) {
    case RINGKV_ERR_CONNECT: return "could not resolve or connect to the server";
    case RINGKV_ERR_CLOSED: return "the server closed the connection";
    case RINGKV_ERR_NET: return "socket error";
    case RINGKV_ERR_NET_TIMEOUT: return "no answer from the server within the timeout";
    case RINGKV_ERR_PROTOCOL: return "the server sent an invalid frame";
    case RINGKV_ERR_NOMEM: return "out of memory";
    case RINGKV_ERR_USAGE: return "invalid use of the client library";
    case RINGKV_ERR_UNKNOWN_STATUS: return "the server answered with a status this client does not know";
    default: break;
    }
    /* Server statuses share their sentences with the server (core/err.h). */
    enum rkv_err e;
    if ((unsigned)err <= UINT8_MAX && rkv_err_from_wire((uint8_t)err, &e))
        return rkv_err_message(e);
    return "unknown error";
}

struct ringkv_options ringkv_options_default(void)
{
    struct ringkv_options o = {.consistency = RINGKV_QUORUM, .ttl_s = 0, .if_version_set = 0, .if_version = 0};
    return o;
}

/* ---- time and failure ---- */

static int64_t client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum ringkv_err client_fail(struct ringkv_client *c, enum ringkv_err err)
{
    if (c->failed == RINGKV_OK)
        c->failed = err;
    return c->failed;
}

/* Waits until the socket is ready for events or the deadline passes. */
static enum ringkv_err client_poll(int fd, short events, int64_t deadline_ms, short *revents_out)
{
    for (;;) {
        int64_t left_ms = deadline_ms - client_now_ms();
        if (left_ms <= 0)
            return RINGKV_ERR_NET_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int rc = poll(&p, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return RINGKV_ERR_NET;
        }
        if (rc > 0) {
            *revents_out = p.revents;
            return RINGKV_OK;
        }
    }
}

static enum ringkv_err client_errno_to_err(int e)
{
    if (e == ECONNRESET || e == EPIPE)
        return RINGKV_ERR_CLOSED;
    if (e == ENOMEM || e == ENOBUFS)
        return RINGKV_ERR_NOMEM;
    return RINGKV_ERR_NET;
}

/* ---- input ---- */

/* Drops the frame returned by the previous call: its value is no longer promised. */
static void client_release_last(struct ringkv_client *c)
{
    c->in_start += c->in_last_bytes;
    c->in_last_bytes = 0;
    if (c->in_start == c->in_end)
        c->in_start = c->in_end = 0;
}

/* Makes room for at least want_bytes unread bytes in the input buffer. */
static enum ringkv_err client_in_reserve(struct ringkv_client *c, size_t want_bytes)
{
    size_t unread = c->in_end - c->in_start;
    if (c->in_cap - c->in_start >= want_bytes && c->in_end < c->in_cap)
        return RINGKV_OK;
    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, unread);
        c->in_start = 0;
        c->in_end = unread;
    }
    if (c->in_cap >= want_bytes && c->in_end < c->in_cap)
        return RINGKV_OK;
    size_t cap = c->in_cap ? c->in_cap : CLIENT_IN_BYTES_INITIAL;
    while (cap < want_bytes || cap <= c->in_end)
        cap *= 2;
    uint8_t *in = realloc(c->in, cap);
    if (in == NULL)
        return RINGKV_ERR_NOMEM;
    c->in = in;
    c->in_cap = cap;
    return RINGKV_OK;
}

/* Reads what the socket has without waiting. *got_out: bytes were read. */
static enum ringkv_err client_read_some(struct ringkv_client *c, size_t want_bytes, bool *got_out)
{
    *got_out = false;
    enum ringkv_err err = client_in_reserve(c, want_bytes);
    if (err != RINGKV_OK)
        return err;
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_end, c->in_cap - c->in_end, MSG_DONTWAIT);
        if (n > 0) {
            c->in_end += (size_t)n;
            *got_out = true;
            return RINGKV_OK;
        }
        if (n == 0)
            return RINGKV_ERR_CLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return RINGKV_OK;
        return client_errno_to_err(errno);
    }
}

/* ---- output ---- */

static enum ringkv_err client_out_reserve(struct ringkv_client *c, size_t extra_bytes)
{
    if (c->out_sent == c->out_len)
        c->out_sent = c->out_len = 0;
    if (c->out_cap - c->out_len >= extra_bytes)
        return RINGKV_OK;
    size_t cap = c->out_cap ? c->out_cap : CLIENT_OUT_FLUSH_BYTES;
    while (cap - c->out_len < extra_bytes)
        cap *= 2;
    uint8_t *out = realloc(c->out, cap);
    if (out == NULL)
        return RINGKV_ERR_NOMEM;
    c->out = out;
    c->out_cap = cap;
    return RINGKV_OK;
}

/* Writes everything queued before the deadline. Any failure fails the client: a frame may
 * have been cut in half. */
static enum ringkv_err client_flush_until(struct ringkv_client *c, int64_t deadline_ms)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return client_fail(c, client_errno_to_err(errno));

        bool may_read = c->in_end - c->in_start < CLIENT_IN_BACKLOG_BYTES_MAX;
        short revents = 0;
        enum ringkv_err err = client_poll(c->fd, (short)(POLLOUT | (may_read ? POLLIN : 0)), deadline_ms, &revents);
        if (err != RINGKV_OK)
            return client_fail(c, err);
        if (may_read && (revents & (POLLIN | POLLHUP | POLLERR)) != 0 && (revents & POLLOUT) == 0) {
            bool got;
            err = client_read_some(c, CLIENT_IN_BYTES_INITIAL, &got);
            if (err != RINGKV_OK)
                return client_fail(c, err);
        }
    }
    c->out_sent = c->out_len = 0;
    return RINGKV_OK;
}

/* ---- requests in flight ---- */

static enum ringkv_err client_pending_grow(struct ringkv_client *c)
{
    uint32_t cap = c->pending_cap * 2u;
    if (cap > CLIENT_PENDING_MAX)
        return RINGKV_ERR_USAGE;
    uint16_t *p = calloc(cap, sizeof(*p));
    if (p == NULL)
        return RINGKV_ERR_NOMEM;
    for (uint32_t id = c->id_oldest; id != c->id_next; id++)
        p[id & (cap - 1u)] = c->pending[id & (c->pending_cap - 1u)];
    free(c->pending);
    c->pending = p;
    c->pending_cap = cap;
    return RINGKV_OK;
}

static bool client_pending_has(const struct ringkv_client *c, uint32_t id)
{
    /* Unsigned differences keep this right across the wrap of the 32-bit id. */
    return (uint32_t)(id - c->id_oldest) < (uint32_t)(c->id_next - c->id_oldest) &&
           c->pending[id & (c->pending_cap - 1u)] != 0;
}

static void client_pending_clear(struct ringkv_client *c, uint32_t id)
{
    c->pending[id & (c->pending_cap - 1u)] = 0;
    while (c->id_oldest != c->id_next && c->pending[c->id_oldest & (c->pending_cap - 1u)] == 0)
        c->id_oldest++;
}

/* Copies one request into the output buffer and records it as in flight. Limits are left to
 * the server except where the frame itself could not carry the request. */
static enum ringkv_err client_queue(struct ringkv_client *c, uint8_t opcode, const void *key, size_t key_bytes,
                                    const void *value, size_t value_bytes, const struct ringkv_options *opts,
                                    uint32_t *request_id_out)
{
    if ((key == NULL && key_bytes != 0) || (value == NULL && value_bytes != 0))
        return RINGKV_ERR_USAGE;
    struct ringkv_options defaults = ringkv_options_default();
    if (opts == NULL)
        opts = &defaults;
    if ((unsigned)opts->consistency > UINT8_MAX)
        return RINGKV_ERR_USAGE;
    /* The server would close the connection on a frame over RKV_FRAME_BYTES_MAX, so such a
     * request is answered here with the status the server gives a merely long one. */
    if (key_bytes > UINT16_MAX || (uint64_t)RKV_REQ_HDR_BYTES + key_bytes + value_bytes > (uint64_t)RKV_FRAME_BYTES_MAX + 4u)
        return value_bytes > RKV_VALUE_BYTES_MAX ? RINGKV_VALUE_TOO_LONG : RINGKV_KEY_TOO_LONG;

    if ((uint32_t)(c->id_next - c->id_oldest) == c->pending_cap) {
        enum ringkv_err err = client_pending_grow(c);
        if (err != RINGKV_OK)
            return err;
    }

    struct bin_req req = {
        .request_id = c->id_next,
        .opcode = opcode,
        .consistency = (uint8_t)opts->consistency,
        .key_bytes = (uint16_t)key_bytes,
        .value_bytes = (uint32_t)value_bytes,
        .key = key,
        .value = value,
    };
    /* A ping is answered by the node itself: no replica is asked, whatever the options. */
    if (opcode == BIN_OP_PING)
        req.consistency = BIN_CONS_ONE;
    if (opcode == BIN_OP_PUT) {
        req.ttl_s = opts->ttl_s;
        if (opts->if_version_set) {
            req.flags = BIN_REQ_F_IF_VERSION;
            req.if_version = opts->if_version;
        }
    }
    size_t frame_bytes = bin_req_frame_bytes(&req);
    enum ringkv_err err = client_out_reserve(c, frame_bytes);
    if (err != RINGKV_OK)
        return err;
    size_t n = bin_req_encode(c->out + c->out_len, c->out_cap - c->out_len, &req);
    RKV_ASSERT(n == frame_bytes);
    c->out_len += n;

    c->pending[c->id_next & (c->pending_cap - 1u)] = (uint16_t)(PENDING_WAITING | opcode);
    c->in_flight++;
    *request_id_out = c->id_next++;
    return RINGKV_OK;
}

/* ---- answers ---- */

static enum ringkv_err client_status_from_wire(uint8_t wire)
{
    enum rkv_err e;
    if (rkv_err_from_wire(wire, &e))
        return (enum ringkv_err)wire;
    return RINGKV_ERR_UNKNOWN_STATUS;
}

/* Keeps the server's sentence printable: it ends up on terminals and in logs. */
static void client_copy_message(struct ringkv_client *c, const uint8_t *text, uint32_t text_bytes)
{
    size_t n = text_bytes < RKV_ERR_MSG_BYTES_MAX ? text_bytes : RKV_ERR_MSG_BYTES_MAX;
    for (size_t i = 0; i < n; i++)
        c->message[i] = (text[i] < 0x20 || text[i] == 0x7f) ? '?' : (char)text[i];
    c->message[n] = '\0';
}

static void client_fill_reply(struct ringkv_client *c, const struct bin_resp *resp, struct ringkv_reply *reply)
{
    memset(reply, 0, sizeof(*reply));
    reply->request_id = resp->request_id;
    reply->opcode = resp->opcode;
    reply->status = client_status_from_wire(resp->status);
    reply->version = resp->version;
    reply->timestamp = resp->timestamp;
    reply->acked = resp->acked;
    reply->needed = resp->needed;
    reply->hinted = resp->hinted;
    if (reply->status == RINGKV_OK) {
        reply->value = resp->value_bytes ? resp->value : NULL;
        reply->value_bytes = resp->value_bytes;
    } else if (resp->value_bytes != 0) {
        client_copy_message(c, resp->value, resp->value_bytes);
        reply->message = c->message;
    } else {
        reply->message = ringkv_strerror(reply->status);
    }
}

/* Waits for the next answer that someone still wants, and fills reply. */
static enum ringkv_err client_next_answer(struct ringkv_client *c, int64_t deadline_ms, struct ringkv_reply *reply)
{
    for (;;) {
        struct bin_resp resp;
        size_t frame_bytes = 0;
        enum rkv_err why;
        enum parse_rc rc = bin_resp_decode(c->in + c->in_start, c->in_end - c->in_start, &resp, &frame_bytes, &why);
        if (rc == PARSE_INVALID)
            return client_fail(c, RINGKV_ERR_PROTOCOL);
        if (rc == PARSE_NEED_MORE) {
            bool got = false;
            enum ringkv_err err = client_read_some(c, frame_bytes ? frame_bytes : CLIENT_IN_BYTES_INITIAL, &got);
            if (err != RINGKV_OK)
                return client_fail(c, err);
            if (got)
                continue;
            short revents;
            err = client_poll(c->fd, POLLIN, deadline_ms, &revents);
            if (err == RINGKV_ERR_NET_TIMEOUT)
                return err; /* the stream is intact: a later call may still get the answer */
            if (err != RINGKV_OK)
                return client_fail(c, err);
            continue;
        }

        c->in_last_bytes = frame_bytes;
        if (client_pending_has(c, resp.request_id)) {
            uint16_t slot = c->pending[resp.request_id & (c->pending_cap - 1u)];
            if ((slot & 0xffu) != resp.opcode)
                return client_fail(c, RINGKV_ERR_PROTOCOL);
            client_pending_clear(c, resp.request_id);
            if (slot & PENDING_ABANDONED) {
                client_release_last(c);
                continue;
            }
            c->in_flight--;
        } else if (!c->raw_sent) {
            /* An answer to nothing we asked: the server and this client disagree. */
            return client_fail(c, RINGKV_ERR_PROTOCOL);
        }
        client_fill_reply(c, &resp, reply);
        return RINGKV_OK;
    }
}

/* ---- connecting ---- */

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port. */
static bool client_parse_addr(const char *addr, char host[CLIENT_HOST_BYTES_MAX + 1], char port[6])
{
    const char *host_start = addr;
    const char *host_end;
    const char *colon;
    if (addr[0] == '[') {
        host_start = addr + 1;
        host_end = strchr(host_start, ']');
        if (host_end == NULL || host_end[1] != ':')
            return false;
        colon = host_end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
            return false; /* a bare IPv6 address must be bracketed */
        host_end = colon;
    }
    size_t host_bytes = (size_t)(host_end - host_start);
    if (host_bytes == 0 || host_bytes > CLIENT_HOST_BYTES_MAX)
        return false;
    const char *p = colon + 1;
    size_t port_bytes = strlen(p);
    if (port_bytes == 0 || port_bytes > 5)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < port_bytes; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10u + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    memcpy(host, host_start, host_bytes);
    host[host_bytes] = '\0';
    memcpy(port, p, port_bytes + 1);
    return true;
}

/* One non-blocking connect, waited for until the deadline. Returns the socket or -1. */
static int client_connect_one(const struct addrinfo *ai, int64_t deadline_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return -1;
        }
        short revents;
        if (client_poll(fd, POLLOUT, deadline_ms, &revents) != RINGKV_OK) {
            close(fd);
            return -1;
        }
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
            close(fd);
            return -1;
        }
    }
    /* Requests are small and latency matters more than packet count. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

ringkv_client *ringkv_connect(const char *addr, int timeout_ms, enum ringkv_err *err_out)
{
    enum ringkv_err dummy;
    if (err_out == NULL)
        err_out = &dummy;
    *err_out = RINGKV_ERR_USAGE;
    char host[CLIENT_HOST_BYTES_MAX + 1];
    char port[6];
    if (addr == NULL || timeout_ms < 0 || !client_parse_addr(addr, host, port))
        return NULL;
    if (timeout_ms == 0)
        timeout_ms = CLIENT_TIMEOUT_MS_DEFAULT;

    struct ringkv_client *c = calloc(1, sizeof(*c));
    uint16_t *pending = calloc(CLIENT_PENDING_INITIAL, sizeof(*pending));
    if (c == NULL || pending == NULL) {
        free(c);
        free(pending);
        *err_out = RINGKV_ERR_NOMEM;
        return NULL;
    }
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    c->pending = pending;
    c->pending_cap = CLIENT_PENDING_INITIAL;
    c->id_next = c->id_oldest = 1;

    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        ringkv_close(c);
        *err_out = RINGKV_ERR_CONNECT;
        return NULL;
    }
    int64_t deadline_ms = client_now_ms() + timeout_ms;
    for (const struct addrinfo *ai = res; ai != NULL && c->fd < 0; ai = ai->ai_next)
        c->fd = client_connect_one(ai, deadline_ms);
    freeaddrinfo(res);
    if (c->fd < 0) {
        ringkv_close(c);
        *err_out = RINGKV_ERR_CONNECT;
        return NULL;
    }
    *err_out = RINGKV_OK;
    return c;
}

void ringkv_close(ringkv_client *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    free(c->in);
    free(c->pending);
    free(c);
}

/* ---- the API calls ---- */

/* Common entry of every call: the previous reply's value is released, a failed client
 * stays failed. */
static enum ringkv_err client_enter(struct ringkv_client *c)
{
    if (c == NULL)
        return RINGKV_ERR_USAGE;
    client_release_last(c);
    return c->failed;
}

static enum ringkv_err client_after_queue(struct ringkv_client *c)
{
    if (c->out_len - c->out_sent < CLIENT_OUT_FLUSH_BYTES)
        return RINGKV_OK;
    return client_flush_until(c, client_now_ms() + c->timeout_ms);
}

static void client_reply_error(struct ringkv_reply *reply, enum ringkv_err err)
{
    if (reply == NULL)
        return;
    memset(reply, 0, sizeof(*reply));
    reply->status = err;
    reply->message = ringkv_strerror(err);
}

/* One blocking request: queue, write, wait for its answer. */
static enum ringkv_err client_call(struct ringkv_client *c, uint8_t opcode, const void *key, size_t key_bytes,
                                   const void *value, size_t value_bytes, const struct ringkv_options *opts,
                                   struct ringkv_reply *reply_out)
{
    struct ringkv_reply local;
    struct ringkv_reply *reply = reply_out ? reply_out : &local;
    enum ringkv_err err = client_enter(c);
    if (err == RINGKV_OK && c->in_flight != 0)
        err = RINGKV_ERR_USAGE; /* mixing styles with requests in flight (net/ringkv.h) */
    uint32_t id = 0;
    if (err == RINGKV_OK)
        err = client_queue(c, opcode, key, key_bytes, value, value_bytes, opts, &id);
    int64_t deadline_ms = c ? client_now_ms() + c->timeout_ms : 0;
    if (err == RINGKV_OK)
        err = client_flush_until(c, deadline_ms);
    if (err == RINGKV_OK)
        err = client_next_answer(c, deadline_ms, reply);
    if (err == RINGKV_ERR_NET_TIMEOUT && c->failed == RINGKV_OK) {
        /* The answer may still come; it is dropped when it does, so the next call does not
         * mistake it for its own. */
        c->pending[id & (c->pending_cap - 1u)] |= PENDING_ABANDONED;
        c->in_flight--;
    }
    if (err != RINGKV_OK) {
        client_reply_error(reply, err);
        return err;
    }
    return reply->status;
}

enum ringkv_err ringkv_ping(ringkv_client *c, struct ringkv_reply *reply_out)
{
    return client_call(c, BIN_OP_PING, NULL, 0, NULL, 0, NULL, reply_out);
}

enum ringkv_err ringkv_put(ringkv_client *c, const void *key, size_t key_bytes, const void *value,
                           size_t value_bytes, const struct ringkv_options *opts, struct ringkv_reply *reply_out)
{
    return client_call(c, BIN_OP_PUT, key, key_bytes, value, value_bytes, opts, reply_out);
}

enum ringkv_err ringkv_get(ringkv_client *c, const void *key, size_t key_bytes, const struct ringkv_options *opts,
                           struct ringkv_reply *reply_out)
{
    return client_call(c, BIN_OP_GET, key, key_bytes, NULL, 0, opts, reply_out);
}

enum ringkv_err ringkv_delete(ringkv_client *c, const void *key, size_t key_bytes, const struct ringkv_options *opts,
                              struct ringkv_reply *reply_out)
{
    return client_call(c, BIN_OP_DELETE, key, key_bytes, NULL, 0, opts, reply_out);
}

static enum ringkv_err client_send(struct ringkv_client *c, uint8_t opcode, const void *key, size_t key_bytes,
                                   const void *value, size_t value_bytes, const struct ringkv_options *opts,
                                   uint32_t *request_id_out)
{
    enum ringkv_err err = client_enter(c);
    if (err != RINGKV_OK)
        return err;
    uint32_t id;
    err = client_queue(c, opcode, key, key_bytes, value, value_bytes, opts, &id);
    if (err != RINGKV_OK)
        return err;
    if (request_id_out != NULL)
        *request_id_out = id;
    return client_after_queue(c);
}

enum ringkv_err ringkv_send_put(ringkv_client *c, const void *key, size_t key_bytes, const void *value,
                                size_t value_bytes, const struct ringkv_options *opts, uint32_t *request_id_out)
{
    return client_send(c, BIN_OP_PUT, key, key_bytes, value, value_bytes, opts, request_id_out);
}

enum ringkv_err ringkv_send_get(ringkv_client *c, const void *key, size_t key_bytes,
                                const struct ringkv_options *opts, uint32_t *request_id_out)
{
    return client_send(c, BIN_OP_GET, key, key_bytes, NULL, 0, opts, request_id_out);
}

enum ringkv_err ringkv_send_delete(ringkv_client *c, const void *key, size_t key_bytes,
                                   const struct ringkv_options *opts, uint32_t *request_id_out)
{
    return client_send(c, BIN_OP_DELETE, key, key_bytes, NULL, 0, opts, request_id_out);
}

enum ringkv_err ringkv_send_ping(ringkv_client *c, uint32_t *request_id_out)
{
    return client_send(c, BIN_OP_PING, NULL, 0, NULL, 0, NULL, request_id_out);
}

enum ringkv_err ringkv_flush(ringkv_client *c)
{
    enum ringkv_err err = client_enter(c);
    if (err != RINGKV_OK)
        return err;
    return client_flush_until(c, client_now_ms() + c->timeout_ms);
}

enum ringkv_err ringkv_recv(ringkv_client *c, struct ringkv_reply *reply_out)
{
    enum ringkv_err err = client_enter(c);
    if (err != RINGKV_OK)
        return err;
    /* Without raw bytes sent, nothing in flight means nothing can legitimately arrive. */
    if (c->in_flight == 0 && !c->raw_sent)
        return RINGKV_ERR_USAGE;
    struct ringkv_reply local;
    int64_t deadline_ms = client_now_ms() + c->timeout_ms;
    err = client_flush_until(c, deadline_ms);
    if (err != RINGKV_OK)
        return err;
    return client_next_answer(c, deadline_ms, reply_out ? reply_out : &local);
}

size_t ringkv_in_flight(const ringkv_client *c)
{
    return c ? c->in_flight : 0;
}

enum ringkv_err ringkv_send_raw(ringkv_client *c, const void *bytes, size_t len)
{
    enum ringkv_err err = client_enter(c);
    if (err != RINGKV_OK)
        return err;
    if (bytes == NULL && len != 0)
        return RINGKV_ERR_USAGE;
    /* From now on the client cannot know which answers to expect: ringkv_recv() accepts
     * answers to any request id (net/ringkv.h). */
    c->raw_sent = true;
    err = client_out_reserve(c, len);
    if (err != RINGKV_OK)
        return err;
    if (len != 0)
        memcpy(c->out + c->out_len, bytes, len);
    c->out_len += len;
    return client_flush_until(c, client_now_ms() + c->timeout_ms);
}
