/* The trivial target of ringkv-bench (--serve-null): one thread, epoll, the binary protocol
 * through the shared codec, every request answered OK at once (a GET with a fixed value)
 * and nothing stored. It is the floor that shows whether the driver, not the server, limits
 * a run: a driver that pushes a multiple of what one ringkv shard serves against this target
 * is not what bounds ringkv's figures. Owner of every connection: the one serving thread. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/assert.h"
#include "net/proto_bin.h"

#define NULL_CONNS_MAX 4096u
#define NULL_EVENTS_MAX 256
#define NULL_WAIT_MS 100
/* Input grows to one whole frame of the largest kind; output is not read for beyond this
 * (the client is not reading its answers), which bounds what a connection holds. */
#define NULL_IN_BYTES_INITIAL (64u * 1024u)
#define NULL_IN_BYTES_MAX (RKV_FRAME_BYTES_MAX + 4u)
#define NULL_OUT_BYTES_HIGH (4u * 1024u * 1024u)
/* Frames answered per readable event before the answers are written. */
#define NULL_FRAMES_PER_READ_MAX 4096u

struct null_conn {
    int fd;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_sent, out_cap;
    bool want_out; /* EPOLLOUT is armed */
};

static void null_conn_free(int ep, struct null_conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static bool null_out_reserve(struct null_conn *c, size_t extra)
{
    if (c->out_sent == c->out_len)
        c->out_sent = c->out_len = 0;
    if (c->out_cap - c->out_len >= extra)
        return true;
    size_t cap = c->out_cap ? c->out_cap : 64u * 1024u;
    while (cap - c->out_len < extra)
        cap *= 2;
    uint8_t *p = realloc(c->out, cap);
    if (p == NULL)
        return false;
    c->out = p;
    c->out_cap = cap;
    return true;
}

/* Writes what the socket takes; arms or disarms EPOLLOUT. false: the connection is broken. */
static bool null_flush(int ep, struct null_conn *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return false;
    }
    bool want = c->out_sent < c->out_len;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
            return false;
        c->want_out = want;
    }
    return true;
}

/* Answers every whole frame in the input. false: the stream is invalid or memory ran out. */
static bool null_answer(struct null_conn *c, const uint8_t *value, uint32_t value_bytes)
{
    size_t at = 0;
    for (uint32_t n = 0; n < NULL_FRAMES_PER_READ_MAX; n++) {
        struct bin_req req;
        size_t frame_bytes = 0;
        enum rkv_err why;
        enum parse_rc rc = bin_req_decode(c->in + at, c->in_len - at, &req, &frame_bytes, &why);
        if (rc == PARSE_INVALID)
            return false;
        if (rc == PARSE_NEED_MORE)
            break;
        struct bin_resp resp;
        memset(&resp, 0, sizeof(resp));
        resp.request_id = req.request_id;
        resp.opcode = req.opcode;
        resp.status = rkv_err_wire(RKV_OK);
        resp.acked = resp.needed = 1;
        resp.version = 1;
        resp.value_bytes = req.opcode == BIN_OP_GET ? value_bytes : 0;
        if (!null_out_reserve(c, RKV_RESP_HDR_BYTES + resp.value_bytes))
            return false;
        bin_resp_encode_hdr(c->out + c->out_len, &resp);
        c->out_len += RKV_RESP_HDR_BYTES;
        if (resp.value_bytes != 0)
            memcpy(c->out + c->out_len, value, resp.value_bytes);
        c->out_len += resp.value_bytes;
        at += frame_bytes;
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
    return true;
}

/* Reads what is there and answers it. false: close the connection. */
static bool null_on_readable(int ep, struct null_conn *c, const uint8_t *value, uint32_t value_bytes)
{
    if (c->out_len - c->out_sent >= NULL_OUT_BYTES_HIGH)
        return null_flush(ep, c); /* the client is behind: do not take more work */
    if (c->in_len == c->in_cap) {
        if (c->in_cap >= NULL_IN_BYTES_MAX)
            return false;
        size_t cap = c->in_cap * 2u;
        uint8_t *p = realloc(c->in, cap);
        if (p == NULL)
            return false;
        c->in = p;
        c->in_cap = cap;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
    if (n == 0)
        return false;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c->in_len += (size_t)n;
    if (!null_answer(c, value, value_bytes))
        return false;
    return null_flush(ep, c);
}

static int null_listen(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || colon[1] == '\0')
        return -1;
    char host[256];
    size_t host_bytes = (size_t)(colon - addr);
    if (host_bytes >= sizeof(host))
        return -1;
    memcpy(host, addr, host_bytes);
    host[host_bytes] = '\0';
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd >= 0 && (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int bench_null_serve(const char *addr, uint32_t value_bytes, uint32_t duration_s, const volatile sig_atomic_t *stop)
{
    RKV_ASSERT(addr != NULL && stop != NULL);
    RKV_ASSERT(value_bytes <= RKV_VALUE_BYTES_MAX);
    int lfd = null_listen(addr);
    if (lfd < 0) {
        fprintf(stderr, "ringkv-bench: cannot listen on %s: %s\n", addr, strerror(errno));
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    uint8_t *value = malloc(value_bytes ? value_bytes : 1u);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || value == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        fprintf(stderr, "ringkv-bench: epoll set-up failed\n");
        close(lfd);
        free(value);
        return 1;
    }
    memset(value, 'v', value_bytes);
    fprintf(stderr, "ringkv-bench: null target on %s (GET answers %u bytes), for at most %u s\n", addr, value_bytes,
            duration_s);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t conn_count = 0;
    /* The serving loop: it ends at the deadline or on a signal, checked every NULL_WAIT_MS. */
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (*stop || now.tv_sec - t0.tv_sec >= (time_t)duration_s)
            break;
        struct epoll_event evs[NULL_EVENTS_MAX];
        int n = epoll_wait(ep, evs, NULL_EVENTS_MAX, NULL_WAIT_MS);
        for (int i = 0; i < n; i++) {
            struct null_conn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                struct null_conn *nc = calloc(1, sizeof(*nc));
                uint8_t *in = malloc(NULL_IN_BYTES_INITIAL);
                struct epoll_event ev = {.events = EPOLLIN};
                if (conn_count >= NULL_CONNS_MAX || nc == NULL || in == NULL) {
                    close(fd);
                    free(nc);
                    free(in);
                    continue;
                }
                int one = 1;
                (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                nc->fd = fd;
                nc->in = in;
                nc->in_cap = NULL_IN_BYTES_INITIAL;
                ev.data.ptr = nc;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                    close(fd);
                    free(in);
                    free(nc);
                    continue;
                }
                conn_count++;
                continue;
            }
            bool ok = true;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                ok = false;
            if (ok && (evs[i].events & EPOLLOUT))
                ok = null_flush(ep, c);
            if (ok && (evs[i].events & EPOLLIN))
                ok = null_on_readable(ep, c, value, value_bytes);
            if (!ok) {
                null_conn_free(ep, c);
                conn_count--;
            }
        }
    }
    /* Connections still open are closed with the process. */
    close(ep);
    close(lfd);
    free(value);
    return 0;
}
