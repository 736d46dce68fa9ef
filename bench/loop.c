/* The load loop of ringkv-bench, the same for every driver: a worker thread owns its
 * connections (non-blocking sockets in one epoll set) and their buffers, asks the driver
 * only to encode requests and decode answers, and measures every answer.
 *
 * Closed loop (no --rate): every connection keeps --pipeline requests in flight. Each time
 * answers are read from a connection, as many new requests as answers were taken are queued
 * and written with one write, so the server always has about connections x pipeline
 * requests to work on. Latency runs from the moment a request is queued (just before its
 * write) until its answer is read.
 *
 * Open loop (--rate OPS): each worker sends OPS/threads requests per second, the k-th at
 * the intended time start + offset + k x interval (uniform spacing per worker; the workers'
 * schedules are interleaved), each to the next connection, round robin, that has fewer than
 * --pipeline requests in flight. Latency runs from the intended time, not from the moment
 * the request could be written, so a server (or a bench) that falls behind shows it in the
 * latency instead of silently sending less (no coordinated omission). Requests whose time
 * came before the deadline but that never could be sent are counted as `behind`.
 *
 * Every loop is bounded: a phase stops sending at its deadline (BENCH_DURATION_S_MAX at the
 * most) or at --ops; a connection with requests in flight and no answer for --timeout-ms is
 * given up (its requests are counted as timeouts) and reopened at most BENCH_RECONNECTS_MAX
 * times; one wait sleeps at most BENCH_WAIT_NS_MAX; and the worker ends once nothing is in
 * flight after sending stopped. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/assert.h"

static const char *const loop_op_names[BENCH_OP_COUNT] = {[BENCH_OP_GET] = "get", [BENCH_OP_PUT] = "put"};

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- statistics ---- */

void bench_stats_init(struct bench_stats *s)
{
    memset(s->outcomes, 0, sizeof(s->outcomes));
    for (int op = 0; op < BENCH_OP_COUNT; op++)
        hist_init(&s->latency[op]);
}

void bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src)
{
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        for (int o = 0; o < BENCH_OUT_COUNT; o++)
            dst->outcomes[op][o] += src->outcomes[op][o];
        hist_merge(&dst->latency[op], &src->latency[op]);
    }
}

uint64_t bench_stats_ops(const struct bench_stats *s, int op)
{
    uint64_t n = 0;
    for (int o = 0; o < BENCH_OUT_COUNT; o++)
        n += s->outcomes[op][o];
    return n;
}

uint64_t bench_stats_errors(const struct bench_stats *s, int op)
{
    return s->outcomes[op][BENCH_OUT_ERROR] + s->outcomes[op][BENCH_OUT_TIMEOUT] + s->outcomes[op][BENCH_OUT_FAILED];
}

static void worker_note_error(struct bench_worker *w, const char *what, const char *detail, size_t detail_bytes)
{
    if (w->first_error[0] != '\0')
        return;
    if (detail == NULL) {
        detail = "?";
        detail_bytes = 1;
    }
    snprintf(w->first_error, sizeof(w->first_error), "%.60s: %.*s", what, (int)(detail_bytes < 120 ? detail_bytes : 120),
             detail);
}

/* ---- connecting ---- */

bool bench_addr_split(const char *addr, char *host, size_t host_cap, char port[6])
{
    const char *colon;
    const char *h = addr;
    size_t h_bytes;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return false;
        h = addr + 1;
        h_bytes = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            return false;
        h_bytes = (size_t)(colon - addr);
    }
    size_t p_bytes = strlen(colon + 1);
    if (h_bytes == 0 || h_bytes >= host_cap || p_bytes == 0 || p_bytes > 5)
        return false;
    for (size_t i = 0; i < p_bytes; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9')
            return false;
    }
    memcpy(host, h, h_bytes);
    host[h_bytes] = '\0';
    memcpy(port, colon + 1, p_bytes + 1u);
    return true;
}

/* A non-blocking TCP connection to addr, with TCP_NODELAY, connected within timeout_ms; -1
 * with a sentence in why when it fails. */
static int conn_connect(const char *addr, uint32_t timeout_ms, char *why, size_t why_cap)
{
    char host[256], port[6];
    if (!bench_addr_split(addr, host, sizeof(host), port)) {
        snprintf(why, why_cap, "%s: not HOST:PORT", addr);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(why, why_cap, "%s: %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    int err = 0;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                int n = poll(&pfd, 1, (int)timeout_ms);
                socklen_t len = sizeof(err);
                if (n == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                    break;
                if (n == 0)
                    err = ETIMEDOUT;
            }
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        char buf[128];
        snprintf(why, why_cap, "%s: %s", addr, strerror_r(err ? err : ECONNREFUSED, buf, sizeof(buf)));
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

bool bench_conn_open(struct bench_conn *c, const struct bench_cfg *cfg, char *why, size_t why_cap)
{
    RKV_ASSERT(c->drv != NULL && c->addr != NULL);
    RKV_ASSERT(why != NULL && why_cap > 0);
    why[0] = '\0';
    if (c->slots == NULL) {
        /* The first open: buffers and slots for the whole run. */
        size_t req_max = c->drv->request_bytes_max(cfg->value_max_bytes);
        c->out_cap = req_max * 2u > BENCH_OUT_BYTES_MIN ? req_max * 2u : BENCH_OUT_BYTES_MIN;
        c->in_cap = BENCH_IN_BYTES_INITIAL;
        c->out = malloc(c->out_cap);
        c->in = malloc(c->in_cap);
        c->slots = calloc(cfg->pipeline, sizeof(*c->slots));
        c->free_slots = calloc(cfg->pipeline, sizeof(*c->free_slots));
        c->order = calloc(cfg->pipeline, sizeof(*c->order));
        c->fd = -1;
        if (c->out == NULL || c->in == NULL || c->slots == NULL || c->free_slots == NULL || c->order == NULL) {
            snprintf(why, why_cap, "out of memory");
            return false;
        }
    }
    RKV_ASSERT(c->fd < 0);
    for (uint32_t i = 0; i < cfg->pipeline; i++) {
        c->slots[i].busy = false;
        c->free_slots[i] = cfg->pipeline - 1u - i; /* slot 0 is taken first */
    }
    c->free_count = cfg->pipeline;
    c->order_head = c->order_count = 0;
    c->in_flight = 0;
    c->in_len = c->in_used = 0;
    c->out_len = c->out_sent = 0;
    c->want_out = false;
    c->dirty = false;
    if (c->st != NULL)
        c->drv->state_free(c->st);
    c->st = c->drv->state_new(&cfg->driver, why, why_cap);
    if (c->st == NULL && why[0] != '\0')
        return false;
    c->fd = conn_connect(c->addr, cfg->driver.timeout_ms, why, why_cap);
    return c->fd >= 0;
}

void bench_conn_free(struct bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->st != NULL)
        c->drv->state_free(c->st);
    c->st = NULL;
    free(c->out);
    free(c->in);
    free(c->slots);
    free(c->free_slots);
    free(c->order);
    c->out = c->in = NULL;
    c->slots = NULL;
    c->free_slots = c->order = NULL;
}

/* ---- one worker ---- */

/* A worker's loop state for one phase. Owner: the worker thread. */
struct loop_state {
    struct bench_worker *w;
    const struct bench_cfg *cfg;
    int ep;
    bool sending;
    bool open_loop;
    int64_t next_ns;     /* open loop: the intended time of the next request */
    int64_t interval_ns; /* open loop: between this worker's requests */
    uint32_t rr;         /* open loop: where the search for a free connection starts */
    bool blocked;        /* open loop: a request is due and every connection is full */
    struct bench_conn **dirty; /* [conn_count]: connections with requests to write */
    uint32_t dirty_count;
};

static void loop_mark_dirty(struct loop_state *ls, struct bench_conn *c)
{
    if (c->dirty || c->fd < 0)
        return;
    RKV_ASSERT(ls->dirty_count < ls->w->conn_count);
    c->dirty = true;
    ls->dirty[ls->dirty_count++] = c;
}

static void conn_watch(struct loop_state *ls, struct bench_conn *c, int how)
{
    struct epoll_event ev = {.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0u), .data.ptr = c};
    if (epoll_ctl(ls->ep, how, c->fd, &ev) != 0)
        RKV_ASSERT(!"epoll_ctl on a socket of ours failed");
}

/* Counts every request in flight as `outcome`, closes the connection and opens it again
 * while reconnects are left; else it stays dead (fd -1). */
static void conn_fail(struct loop_state *ls, struct bench_conn *c, enum bench_outcome outcome, const char *why)
{
    RKV_ASSERT(outcome == BENCH_OUT_TIMEOUT || outcome == BENCH_OUT_FAILED);
    RKV_ASSERT(c->fd >= 0);
    struct bench_worker *w = ls->w;
    worker_note_error(w, c->addr, why, strlen(why));
    for (uint32_t i = 0; i < ls->cfg->pipeline; i++) {
        if (c->slots[i].busy)
            w->stats.outcomes[c->slots[i].op][outcome]++;
    }
    (void)epoll_ctl(ls->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->in_flight = 0;
    if (c->reconnects >= BENCH_RECONNECTS_MAX)
        return;
    c->reconnects++;
    char msg[160];
    if (!bench_conn_open(c, ls->cfg, msg, sizeof(msg))) {
        worker_note_error(w, "reconnect", msg, strlen(msg));
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return;
    }
    conn_watch(ls, c, EPOLL_CTL_ADD);
    loop_mark_dirty(ls, c); /* closed loop: refill it */
}

/* May one more request be sent in this phase? Claims it. */
static bool loop_claim(struct loop_state *ls)
{
    struct bench_worker *w = ls->w;
    struct bench_run *run = w->run;
    if (run->phase == BENCH_PHASE_LOAD)
        return w->load_next < w->load_end;
    if (run->ops_total == 0)
        return true;
    return atomic_fetch_add_explicit(&run->ops_claimed, 1, memory_order_relaxed) < run->ops_total;
}

/* Picks the operation and key of the next request. */
static enum bench_op loop_next_op(struct bench_worker *w, uint64_t *key_idx_out)
{
    const struct bench_cfg *cfg = w->run->cfg;
    if (w->run->phase == BENCH_PHASE_LOAD) {
        RKV_ASSERT(w->load_next < w->load_end);
        *key_idx_out = w->load_next++;
        return BENCH_OP_PUT;
    }
    if (cfg->dist == BENCH_DIST_ZIPF)
        *key_idx_out = bench_zipf_next(&w->run->zipf, &w->rng) - 1u;
    else
        *key_idx_out = bench_rng_below(&w->rng, cfg->keys);
    switch (cfg->workload) {
    case BENCH_WL_GET: return BENCH_OP_GET;
    case BENCH_WL_PUT: return BENCH_OP_PUT;
    case BENCH_WL_MIXED: break;
    }
    return bench_rng_unit(&w->rng) < cfg->read_ratio ? BENCH_OP_GET : BENCH_OP_PUT;
}

/* Queues one request on c, measured from start_ns. false when the output buffer has no room
 * (nothing claimed) or the phase has nothing more to send (then sending is turned off). */
static bool conn_queue(struct loop_state *ls, struct bench_conn *c, int64_t start_ns)
{
    const struct bench_cfg *cfg = ls->cfg;
    struct bench_worker *w = ls->w;
    RKV_ASSERT(c->fd >= 0);
    RKV_ASSERT(c->free_count > 0);
    size_t need = c->drv->request_bytes_max(cfg->value_max_bytes);
    if (c->out_cap - c->out_len < need && c->out_sent > 0) {
        memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
        c->out_len -= c->out_sent;
        c->out_sent = 0;
    }
    if (c->out_cap - c->out_len < need)
        return false;
    if (!loop_claim(ls)) {
        ls->sending = false;
        return false;
    }
    uint64_t key_idx = 0;
    enum bench_op op = loop_next_op(w, &key_idx);
    uint8_t key[BENCH_KEY_BYTES];
    bench_key_format(key_idx, key);
    uint32_t value_bytes = cfg->value_min_bytes;
    if (op == BENCH_OP_PUT && cfg->value_max_bytes > cfg->value_min_bytes)
        value_bytes += (uint32_t)bench_rng_below(&w->rng, (uint64_t)(cfg->value_max_bytes - cfg->value_min_bytes) + 1u);
    uint32_t slot = c->free_slots[--c->free_count];
    RKV_ASSERT(slot < cfg->pipeline);
    RKV_ASSERT(!c->slots[slot].busy);
    size_t n = c->drv->encode(c->st, c->out + c->out_len, c->out_cap - c->out_len, op, key, sizeof(key), w->value,
                              op == BENCH_OP_PUT ? value_bytes : 0u, slot);
    RKV_ASSERT(n > 0); /* room for request_bytes_max() was checked above */
    c->out_len += n;
    c->slots[slot] = (struct bench_slot){.start_ns = start_ns, .op = (uint8_t)op, .busy = true};
    if (!c->drv->tagged) {
        c->order[(c->order_head + c->order_count) % cfg->pipeline] = slot;
        c->order_count++;
    }
    if (c->in_flight++ == 0)
        c->progress_ns = bench_now_ns();
    return true;
}

/* Writes what is queued on c, as far as the socket takes it; arms EPOLLOUT for the rest. */
static void conn_write(struct loop_state *ls, struct bench_conn *c)
{
    RKV_ASSERT(c->fd >= 0);
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                c->want_out = true;
                conn_watch(ls, c, EPOLL_CTL_MOD);
            }
            return;
        }
        char buf[128];
        conn_fail(ls, c, BENCH_OUT_FAILED, n < 0 ? strerror_r(errno, buf, sizeof(buf)) : "send wrote nothing");
        return;
    }
    c->out_len = c->out_sent = 0;
    if (c->want_out) {
        c->want_out = false;
        conn_watch(ls, c, EPOLL_CTL_MOD);
    }
}

/* Closed loop: fills every free slot of c (while the phase sends), then writes. */
static void conn_refill(struct loop_state *ls, struct bench_conn *c)
{
    if (!ls->open_loop) {
        int64_t now_ns = bench_now_ns();
        while (ls->sending && c->free_count > 0 && conn_queue(ls, c, now_ns)) {
        }
    }
    if (c->out_sent < c->out_len && !c->want_out)
        conn_write(ls, c);
}

/* Takes one decoded answer: finds its request, counts it and frees its slot. false when it
 * answers no request in flight (then the connection has failed). */
static bool conn_take(struct loop_state *ls, struct bench_conn *c, const struct bench_reply *rep, int64_t now_ns)
{
    const struct bench_cfg *cfg = ls->cfg;
    struct bench_worker *w = ls->w;
    uint32_t slot;
    if (c->drv->tagged) {
        slot = rep->tag;
    } else {
        slot = c->order_count > 0 ? c->order[c->order_head] : cfg->pipeline;
        if (c->order_count > 0) {
            c->order_head = (c->order_head + 1u) % cfg->pipeline;
            c->order_count--;
        }
    }
    if (slot >= cfg->pipeline || !c->slots[slot].busy) {
        conn_fail(ls, c, BENCH_OUT_FAILED, "an answer to no request in flight");
        return false;
    }
    struct bench_slot *s = &c->slots[slot];
    int op = s->op;
    enum bench_outcome out = rep->outcome;
    if (out == BENCH_OUT_MISS && op != BENCH_OP_GET)
        out = BENCH_OUT_ERROR; /* only a GET can miss */
    if (out == BENCH_OUT_ERROR)
        worker_note_error(w, loop_op_names[op], rep->message ? rep->message : "a miss answering a PUT",
                          rep->message ? rep->message_bytes : 22u);
    w->stats.outcomes[op][out]++;
    int64_t lat_ns = now_ns - s->start_ns;
    hist_record(&w->stats.latency[op], lat_ns > 0 ? (uint64_t)lat_ns / 1000u : 0u);
    s->busy = false;
    c->free_slots[c->free_count++] = slot;
    RKV_ASSERT(c->in_flight > 0);
    c->in_flight--;
    c->progress_ns = now_ns;
    return true;
}

/* Reads what the socket has and takes every whole answer in it. */
static void conn_read(struct loop_state *ls, struct bench_conn *c)
{
    RKV_ASSERT(c->fd >= 0);
    if (c->in_used == c->in_len) {
        c->in_used = c->in_len = 0;
    } else if (c->in_used > 0 && c->in_cap - c->in_len < c->in_cap / 4u) {
        memmove(c->in, c->in + c->in_used, c->in_len - c->in_used);
        c->in_len -= c->in_used;
        c->in_used = 0;
    }
    if (c->in_len == c->in_cap) {
        /* One answer fills the buffer (decode said NEED_MORE without a size): double it. */
        if (c->in_cap >= BENCH_IN_BYTES_MAX) {
            conn_fail(ls, c, BENCH_OUT_FAILED, "an answer larger than the input limit");
            return;
        }
        uint8_t *bigger = realloc(c->in, c->in_cap * 2u);
        if (bigger == NULL) {
            conn_fail(ls, c, BENCH_OUT_FAILED, "out of memory");
            return;
        }
        c->in = bigger;
        c->in_cap *= 2u;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n == 0) {
        conn_fail(ls, c, BENCH_OUT_FAILED, "the server closed the connection");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        char buf[128];
        conn_fail(ls, c, BENCH_OUT_FAILED, strerror_r(errno, buf, sizeof(buf)));
        return;
    }
    c->in_len += (size_t)n;
    int64_t now_ns = bench_now_ns();
    /* At most one answer per request in flight; more is a protocol error caught by take. */
    for (uint32_t i = 0; i <= ls->cfg->pipeline && c->in_used < c->in_len; i++) {
        struct bench_reply rep;
        size_t used = 0, need = 0;
        const char *why = NULL;
        enum bench_parse rc = c->drv->decode(c->st, c->in + c->in_used, c->in_len - c->in_used, &rep, &used, &need, &why);
        if (rc == BENCH_PARSE_INVALID) {
            conn_fail(ls, c, BENCH_OUT_FAILED, why ? why : "an answer that does not parse");
            return;
        }
        if (rc == BENCH_PARSE_NEED_MORE) {
            if (need > BENCH_IN_BYTES_MAX) {
                conn_fail(ls, c, BENCH_OUT_FAILED, "an answer larger than the input limit");
                return;
            }
            if (need > c->in_cap - c->in_used) {
                memmove(c->in, c->in + c->in_used, c->in_len - c->in_used);
                c->in_len -= c->in_used;
                c->in_used = 0;
                size_t cap = c->in_cap;
                while (cap < need)
                    cap *= 2u;
                if (cap > c->in_cap) {
                    uint8_t *bigger = realloc(c->in, cap);
                    if (bigger == NULL) {
                        conn_fail(ls, c, BENCH_OUT_FAILED, "out of memory");
                        return;
                    }
                    c->in = bigger;
                    c->in_cap = cap;
                }
            }
            return;
        }
        RKV_ASSERT(used > 0 && used <= c->in_len - c->in_used);
        if (!conn_take(ls, c, &rep, now_ns))
            return;
        c->in_used += used;
    }
    if (c->in_used < c->in_len && c->in_flight == 0)
        conn_fail(ls, c, BENCH_OUT_FAILED, "answers to no request in flight");
}

/* Open loop: queues every request whose intended time has come. The requests due at one
 * turn go to one connection while it has free slots (one write for all of them, as a
 * client pool would batch), the next turn's to the next connection, round robin. */
static void loop_dispatch(struct loop_state *ls, int64_t now_ns)
{
    struct bench_worker *w = ls->w;
    ls->blocked = false;
    bool queued = false;
    while (ls->sending && ls->next_ns <= now_ns) {
        if (ls->next_ns >= w->run->deadline_ns) {
            ls->sending = false;
            break;
        }
        struct bench_conn *c = NULL;
        for (uint32_t k = 0; k < w->conn_count; k++) {
            struct bench_conn *cand = &w->conns[(ls->rr + k) % w->conn_count];
            if (cand->fd >= 0 && cand->free_count > 0) {
                c = cand;
                ls->rr = (ls->rr + k) % w->conn_count;
                break;
            }
        }
        if (c == NULL) {
            ls->blocked = true; /* every connection is full: the request waits, its latency grows */
            break;
        }
        if (!conn_queue(ls, c, ls->next_ns)) {
            if (ls->sending)
                ls->rr = (ls->rr + 1u) % w->conn_count; /* its output buffer is full: the next one */
            break;
        }
        queued = true;
        ls->next_ns += ls->interval_ns;
        loop_mark_dirty(ls, c);
    }
    if (queued)
        ls->rr = (ls->rr + 1u) % w->conn_count;
}

static void worker_publish(struct bench_worker *w)
{
    pthread_mutex_lock(&w->pub_lock);
    memcpy(&w->pub, &w->stats, sizeof(w->pub));
    pthread_mutex_unlock(&w->pub_lock);
}

static double thread_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0.0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* Runs the phase on the worker's connections; returns once sending stopped and nothing is in
 * flight (or no connection is left). */
static void worker_run(struct loop_state *ls)
{
    struct bench_worker *w = ls->w;
    struct bench_run *run = w->run;
    struct epoll_event events[BENCH_EVENTS_MAX];
    int64_t next_publish_ns = bench_now_ns() + BENCH_PUBLISH_NS;
    int64_t next_scan_ns = bench_now_ns() + BENCH_TIMEOUT_SCAN_NS;
    const int64_t timeout_ns = (int64_t)ls->cfg->driver.timeout_ms * 1000000;
    for (uint32_t i = 0; i < w->conn_count; i++) {
        if (w->conns[i].fd >= 0) {
            conn_watch(ls, &w->conns[i], EPOLL_CTL_ADD);
            loop_mark_dirty(ls, &w->conns[i]);
        }
    }
    /* The event loop: each turn is bounded (BENCH_EVENTS_MAX events, one wait of at most
     * BENCH_WAIT_NS_MAX); the turns end once sending stopped (deadline, --ops, Ctrl-C) and
     * the last answer came or its connection timed out. */
    for (;;) {
        int64_t now_ns = bench_now_ns();
        if (ls->sending && (now_ns >= run->deadline_ns || atomic_load_explicit(&run->stop, memory_order_relaxed))) {
            ls->sending = false;
        }
        if (ls->open_loop)
            loop_dispatch(ls, now_ns);
        for (uint32_t i = 0; i < ls->dirty_count; i++) {
            struct bench_conn *c = ls->dirty[i];
            c->dirty = false;
            if (c->fd >= 0)
                conn_refill(ls, c);
        }
        ls->dirty_count = 0;

        uint32_t in_flight = 0, alive = 0;
        bool scan = now_ns >= next_scan_ns;
        for (uint32_t i = 0; i < w->conn_count; i++) {
            struct bench_conn *c = &w->conns[i];
            if (c->fd < 0)
                continue;
            if (scan && c->in_flight > 0 && now_ns - c->progress_ns > timeout_ns)
                conn_fail(ls, c, BENCH_OUT_TIMEOUT, "no answer within --timeout-ms");
            if (c->fd < 0)
                continue;
            alive++;
            in_flight += c->in_flight;
        }
        if (scan)
            next_scan_ns = now_ns + BENCH_TIMEOUT_SCAN_NS;
        if (alive == 0 || (!ls->sending && in_flight == 0))
            break;
        if (ls->dirty_count > 0)
            continue; /* a reconnected connection wants its requests first */

        int64_t wait_ns = BENCH_WAIT_NS_MAX;
        if (ls->sending && now_ns + wait_ns > run->deadline_ns)
            wait_ns = run->deadline_ns - now_ns;
        if (ls->open_loop && ls->sending && !ls->blocked && ls->next_ns - now_ns < wait_ns) {
            /* Wake for the next request, but not more often than every BENCH_OPEN_TICK_NS:
             * what fell due meanwhile goes out in one batch (and the wait is in its latency). */
            wait_ns = ls->next_ns - now_ns;
            if (wait_ns < BENCH_OPEN_TICK_NS)
                wait_ns = BENCH_OPEN_TICK_NS;
        }
        if (wait_ns < 0)
            wait_ns = 0;
        struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
        int n = epoll_pwait2(ls->ep, events, BENCH_EVENTS_MAX, &ts, NULL);
        for (int i = 0; i < n; i++) {
            struct bench_conn *c = events[i].data.ptr;
            if (c->fd < 0)
                continue; /* failed earlier in this turn (and could not be reopened) */
            if ((events[i].events & EPOLLOUT) && c->want_out) {
                conn_write(ls, c);
                if (c->fd < 0)
                    continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                conn_read(ls, c);
                if (c->fd >= 0)
                    loop_mark_dirty(ls, c);
            }
        }
        if (now_ns >= next_publish_ns) {
            worker_publish(w);
            next_publish_ns = now_ns + BENCH_PUBLISH_NS;
        }
    }
    if (ls->open_loop && ls->next_ns < run->deadline_ns && run->ops_total == 0)
        w->behind = (uint64_t)((run->deadline_ns - ls->next_ns + ls->interval_ns - 1) / ls->interval_ns);
}

void *bench_worker_main(void *arg)
{
    struct bench_worker *w = arg;
    struct bench_run *run = w->run;
    const struct bench_cfg *cfg = run->cfg;
    double cpu_start_s = thread_cpu_s();
    bench_stats_init(&w->stats);
    w->behind = 0;
    worker_publish(w);
    /* Open-loop sleeps are short: ask the kernel not to add its default 50 us of slack. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    struct loop_state ls = {
        .w = w,
        .cfg = cfg,
        .ep = epoll_create1(EPOLL_CLOEXEC),
        .sending = true,
        .open_loop = run->phase == BENCH_PHASE_MEASURE && cfg->rate > 0,
        .dirty = calloc(w->conn_count, sizeof(struct bench_conn *)),
    };
    if (ls.open_loop) {
        /* Each worker sends rate/threads per second; worker i starts i/threads of an
         * interval late, so that the workers' requests interleave evenly. */
        ls.interval_ns = (int64_t)((double)cfg->threads * 1e9 / (double)cfg->rate);
        if (ls.interval_ns < 1)
            ls.interval_ns = 1;
        ls.next_ns = run->start_ns + ls.interval_ns * (int64_t)w->idx / (int64_t)cfg->threads;
    }
    if (ls.ep < 0 || ls.dirty == NULL) {
        worker_note_error(w, "worker", "no epoll instance or memory", 27);
        w->stats.outcomes[BENCH_OP_GET][BENCH_OUT_FAILED]++; /* the run must not pass as clean */
    } else {
        worker_run(&ls);
    }
    if (ls.ep >= 0) {
        for (uint32_t i = 0; i < w->conn_count; i++) {
            if (w->conns[i].fd >= 0)
                (void)epoll_ctl(ls.ep, EPOLL_CTL_DEL, w->conns[i].fd, NULL);
        }
        close(ls.ep);
    }
    free(ls.dirty);
    w->cpu_s = thread_cpu_s() - cpu_start_s;
    /* end_ns under the lock: main() polls it to learn that the worker is done. */
    pthread_mutex_lock(&w->pub_lock);
    memcpy(&w->pub, &w->stats, sizeof(w->pub));
    w->end_ns = bench_now_ns();
    pthread_mutex_unlock(&w->pub_lock);
    return NULL;
}
