/* Tests of net/peer (outgoing peer links) on one real shard driven by test hooks, against a
 * small test server on 127.0.0.1 in its own thread (plain blocking sockets with short
 * timeouts, speaking length-prefixed frames): frames arrive intact and in order and every
 * echo comes back exactly once (thousands of small frames and some of about 1 MiB, sent as
 * head + tail); a dropped connection is reported down, sends fail fast during the backoff
 * and the link comes back up by itself when the server is back; with nothing listening,
 * connect attempts are spaced by a growing backoff (counted, not timed tightly); the queue
 * bound answers RKV_BUSY against a server that never reads; a connect that hangs (a full
 * accept queue drops its SYNs) fails at its deadline; a length field out of bounds
 * (under 8, over the limit) closes the link, which reconnects; closing links in every state
 * (idle, connecting, up with sends in flight, in backoff, from inside callbacks) ends with
 * every link freed and no callback after the close. Every wait is bounded. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/shard.h"
#include "net/peer.h"

#define WAIT_MS_MAX 5000u
#define TLINKS_MAX 4u
#define BIG_PAYLOAD_BYTES ((1u << 20) - 64u)

_Static_assert(BIG_PAYLOAD_BYTES + 4u <= RKV_FRAME_BYTES_MAX, "a big test frame is legal");

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = { ms / 1000u, (long)(ms % 1000u) * 1000000L };
    nanosleep(&t, NULL);
}

#define WAIT_FOR(cond, ms)                                                    \
    do {                                                                      \
        uint64_t wait_end_ = mono_ms() + (ms);                                \
        while (!(cond) && mono_ms() < wait_end_)                              \
            sleep_ms(5);                                                      \
    } while (0)

/* ---- the test server ---- */

enum srv_mode { SRV_ECHO, SRV_NOREAD, SRV_BAD };

/* Owner: the test; fields marked atomic are shared with the server thread. */
struct tsrv {
    enum srv_mode mode;
    uint16_t port;
    int lfd;
    uint32_t pause_ms;         /* how long a drop keeps the port closed */
    pthread_t th;
    _Atomic int stop;
    _Atomic int drop;          /* request: close the connection and the listener for pause_ms */
    _Atomic uint32_t drops_done;
    _Atomic uint32_t accepted;
};

static bool srv_listen(struct tsrv *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->mode == SRV_NOREAD) {
        int small = 16 * 1024; /* inherited by accepted sockets: fills up sooner */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(s->port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return false;
    }
    s->port = ntohs(a.sin_port);
    s->lfd = fd;
    return true;
}

static bool srv_interrupted(struct tsrv *s) { return atomic_load(&s->stop) || atomic_load(&s->drop); }

/* Bounded by the stop and drop flags: every blocking call times out after 50 ms. */
static bool read_full(struct tsrv *s, int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            return false;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (srv_interrupted(s))
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static bool write_full(struct tsrv *s, int fd, const uint8_t *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = send(fd, buf + put, n - put, MSG_NOSIGNAL);
        if (r > 0) {
            put += (size_t)r;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (srv_interrupted(s))
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static void srv_echo(struct tsrv *s, int fd)
{
    for (;;) {
        uint8_t hdr[4];
        if (!read_full(s, fd, hdr, 4))
            return;
        uint32_t field;
        memcpy(&field, hdr, 4);
        field = ntohl(field);
        if (field > RKV_FRAME_BYTES_MAX)
            return;
        uint8_t *buf = malloc((size_t)field + 4u);
        if (buf == NULL)
            return;
        memcpy(buf, hdr, 4);
        bool ok = read_full(s, fd, buf + 4, field) && write_full(s, fd, buf, (size_t)field + 4u);
        free(buf);
        if (!ok)
            return;
    }
}

static void srv_conn(struct tsrv *s, int fd, uint32_t idx)
{
    struct timeval tv = { 0, 50000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    switch (s->mode) {
    case SRV_ECHO:
        srv_echo(s, fd);
        return;
    case SRV_NOREAD:
        while (!srv_interrupted(s))
            sleep_ms(10);
        return;
    case SRV_BAD:
        if (idx >= 2) {
            srv_echo(s, fd);
            return;
        }
        {
            uint8_t hdr[4], body[64];
            if (!read_full(s, fd, hdr, 4))
                return;
            uint32_t field;
            memcpy(&field, hdr, 4);
            field = ntohl(field);
            if (field > sizeof body || !read_full(s, fd, body, field))
                return;
            /* Connection 0: a length field under 8; connection 1: one far over the limit. */
            uint32_t bad = htonl(idx == 0 ? 3u : 0x7fffffffu);
            uint8_t out[12] = { 0 };
            memcpy(out, &bad, 4);
            if (!write_full(s, fd, out, sizeof out))
                return;
            /* Wait for the link to hang up (bounded by the flags and 200 x 50 ms). */
            for (int i = 0; i < 200 && !srv_interrupted(s); i++) {
                ssize_t r = recv(fd, body, sizeof body, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                    return;
            }
        }
        return;
    }
}

static void *srv_main(void *arg)
{
    struct tsrv *s = arg;
    while (!atomic_load(&s->stop)) {
        if (atomic_load(&s->drop)) {
            close(s->lfd);
            s->lfd = -1;
            sleep_ms(s->pause_ms);
            uint64_t end = mono_ms() + 2000u; /* the port may take a moment to be free again */
            while (!srv_listen(s) && mono_ms() < end)
                sleep_ms(10);
            atomic_store(&s->drop, 0);
            atomic_fetch_add(&s->drops_done, 1);
            continue;
        }
        struct pollfd p = { .fd = s->lfd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        uint32_t idx = atomic_fetch_add(&s->accepted, 1);
        srv_conn(s, fd, idx);
        close(fd);
    }
    if (s->lfd >= 0)
        close(s->lfd);
    return NULL;
}

static void srv_start(struct tsrv *s, enum srv_mode mode)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->lfd = -1;
    s->pause_ms = 400;
    cr_assert(srv_listen(s));
    cr_assert_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct tsrv *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
}

/* A port on 127.0.0.1 with nothing listening (bound, then released). */
static uint16_t dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- the shard side ---- */

struct tenv;

/* Owner: the shard (the main thread reads the atomics, and the rest after the join). */
struct tlink {
    struct tenv *env;
    struct peer_link *l;
    struct peer_link_config cfg;
    bool opened, closed_by_test, freed;
    uint32_t next_seq;        /* next sequence number to send */
    uint32_t expect_seq;      /* next echo expected (when ordered) */
    _Atomic uint32_t ups, downs, frames_ok, frames_bad, after_close, unavail_in_down, other_in_down;
    struct peer_link_stats final;
};

struct tenv {
    struct tlink links[TLINKS_MAX];
    uint32_t nlinks;
    bool ordered;                     /* echoes must come back in send order */
    void (*step)(struct tenv *e);     /* every turn and tick */
    void (*on_up)(struct tlink *t);
    void (*on_frame)(struct tlink *t, uint32_t seq);
    void (*on_down)(struct tlink *t);
    /* scenario state */
    uint32_t send_target;             /* frames to send in total on link 0 */
    uint32_t frame_cap;               /* a bound on sends tried (busy test) */
    _Atomic uint32_t flag;            /* scenario milestones, for the main thread */
    _Atomic uint32_t freed_count;
    _Atomic uint32_t shard_errors;
};

static struct tenv env;
static uint8_t tail_buf[BIG_PAYLOAD_BYTES];

static uint8_t pattern(uint32_t seq, uint32_t i) { return (uint8_t)(seq * 131u + i * 7u + (i >> 8)); }

static enum rkv_err send_frame(struct tlink *t, uint32_t payload)
{
    uint32_t seq = t->next_seq;
    uint8_t head[8];
    uint32_t field = htonl(4u + payload), s = htonl(seq);
    memcpy(head, &field, 4);
    memcpy(head + 4, &s, 4);
    for (uint32_t i = 0; i < payload; i++)
        tail_buf[i] = pattern(seq, i);
    enum rkv_err rc = peer_link_send(t->l, head, sizeof head, payload ? tail_buf : NULL, payload);
    if (rc == RKV_OK)
        t->next_seq++;
    return rc;
}

static void h_frame(void *ctx, struct peer_link *l, const uint8_t *frame, size_t bytes)
{
    struct tlink *t = ctx;
    if (t->closed_by_test || l != t->l) {
        atomic_fetch_add(&t->after_close, 1);
        return;
    }
    uint32_t field, seq;
    bool ok = bytes >= 8;
    if (ok) {
        memcpy(&field, frame, 4);
        memcpy(&seq, frame + 4, 4);
        field = ntohl(field);
        seq = ntohl(seq);
        ok = (size_t)field + 4u == bytes && (!t->env->ordered || seq == t->expect_seq);
        for (uint32_t i = 0; ok && i < bytes - 8u; i++)
            ok = frame[8 + i] == pattern(seq, i);
    }
    if (!ok) {
        atomic_fetch_add(&t->frames_bad, 1);
        return;
    }
    t->expect_seq = seq + 1;
    atomic_fetch_add(&t->frames_ok, 1);
    if (t->env->on_frame)
        t->env->on_frame(t, seq);
}

static void h_state(void *ctx, struct peer_link *l, bool up)
{
    struct tlink *t = ctx;
    if (t->closed_by_test || l != t->l) {
        atomic_fetch_add(&t->after_close, 1);
        return;
    }
    if (up) {
        if (peer_link_up(l) != true)
            atomic_fetch_add(&t->frames_bad, 1);
        atomic_fetch_add(&t->ups, 1);
        if (t->env->on_up)
            t->env->on_up(t);
        return;
    }
    atomic_fetch_add(&t->downs, 1);
    /* Down: a send fails fast. */
    uint8_t head[12] = { 0, 0, 0, 8 };
    enum rkv_err rc = peer_link_send(l, head, sizeof head, NULL, 0);
    atomic_fetch_add(rc == RKV_UNAVAILABLE ? &t->unavail_in_down : &t->other_in_down, 1);
    if (t->env->on_down)
        t->env->on_down(t);
}

static void tlink_close(struct tlink *t)
{
    if (t->l == NULL || t->closed_by_test)
        return;
    t->closed_by_test = true;
    peer_link_close(t->l);
}

/* Frees every closed link; true when none is left. */
static bool reap_links(struct tenv *e)
{
    bool all = true;
    for (uint32_t i = 0; i < e->nlinks; i++) {
        struct tlink *t = &e->links[i];
        if (t->l == NULL)
            continue;
        if (!t->closed_by_test || !peer_link_closed(t->l)) {
            all = false;
            continue;
        }
        t->final = *peer_link_stats(t->l);
        peer_link_free(t->l);
        t->l = NULL;
        t->freed = true;
        atomic_fetch_add(&e->freed_count, 1);
    }
    return all;
}

static enum rkv_err h_start(struct shard *sh)
{
    struct tenv *e = shard_set_ctx(sh->set);
    sh->app = e;
    for (uint32_t i = 0; i < e->nlinks; i++) {
        struct tlink *t = &e->links[i];
        t->env = e;
        struct peer_link_handler h = { .ctx = t, .on_frame = h_frame, .on_state = h_state };
        enum rkv_err rc = peer_link_open(sh, &t->cfg, &h, &t->l);
        if (rc != RKV_OK)
            return rc;
        t->opened = true;
    }
    return RKV_OK;
}

static void h_msg(struct shard *sh, uint32_t from, void *msg)
{
    (void)from;
    (void)msg;
    atomic_fetch_add(&((struct tenv *)sh->app)->shard_errors, 1);
}

static void h_before_sleep(struct shard *sh)
{
    struct tenv *e = sh->app;
    if (sh->phase == SHARD_RUNNING && e->step)
        e->step(e);
    reap_links(e);
}

static void h_tick(struct shard *sh, uint64_t now_ms)
{
    (void)now_ms;
    struct tenv *e = sh->app;
    for (uint32_t i = 0; i < e->nlinks; i++)
        if (e->links[i].l != NULL && !e->links[i].closed_by_test)
            peer_link_tick(e->links[i].l);
}

static void h_stop_accepting(struct shard *sh) { (void)sh; }
static bool h_drained(struct shard *sh) { (void)sh; return true; }

static void h_close_all(struct shard *sh)
{
    struct tenv *e = sh->app;
    for (uint32_t i = 0; i < e->nlinks; i++)
        tlink_close(&e->links[i]);
}

static bool h_closed(struct shard *sh) { return reap_links(sh->app); }
static void h_finish(struct shard *sh) { (void)sh; }

static const struct shard_hooks hooks = {
    .start = h_start, .on_msg = h_msg, .before_sleep = h_before_sleep, .on_tick = h_tick,
    .stop_accepting = h_stop_accepting, .drained = h_drained, .close_all = h_close_all,
    .closed = h_closed, .finish = h_finish,
};

static struct shard_set *run_start(void)
{
    struct shard_set *set = NULL;
    cr_assert_eq(shard_set_create(1, &hooks, &env, false, &set), RKV_OK);
    cr_assert_eq(shard_set_start(set), RKV_OK);
    return set;
}

static void run_stop(struct shard_set *set)
{
    shard_set_request_stop(set);
    shard_set_join(set);
    shard_set_destroy(set);
    for (uint32_t i = 0; i < env.nlinks; i++) {
        cr_expect(env.links[i].freed, "link %u freed", i);
        cr_expect_eq(atomic_load(&env.links[i].after_close), 0, "no callback after close");
        cr_expect_eq(atomic_load(&env.links[i].frames_bad), 0, "every frame intact");
        const struct peer_link_stats *st = &env.links[i].final;
        cr_expect_eq(st->frames_queued, st->frames_out + st->frames_dropped,
                     "link %u: every frame queued was written or dropped (%" PRIu64 " %" PRIu64 " %" PRIu64 ")", i,
                     st->frames_queued, st->frames_out, st->frames_dropped);
    }
    cr_expect_eq(atomic_load(&env.shard_errors), 0);
}

static void env_init(uint32_t nlinks, uint16_t port)
{
    memset(&env, 0, sizeof env);
    env.nlinks = nlinks;
    for (uint32_t i = 0; i < nlinks; i++) {
        struct peer_link_config *c = &env.links[i].cfg;
        strcpy(c->addr.host, "127.0.0.1");
        c->addr.port = port;
        c->backoff_min_ms = 20;
        c->backoff_max_ms = 200;
    }
}

/* ---- frames arrive intact, in order, each echo once ---- */

#define ORDER_FRAMES 3000u
#define ORDER_BIG_EVERY 500u

static uint32_t order_payload(uint32_t seq)
{
    return seq % ORDER_BIG_EVERY == ORDER_BIG_EVERY - 1u ? BIG_PAYLOAD_BYTES : 4u + (seq * 37u) % 300u;
}

static void order_step(struct tenv *e)
{
    struct tlink *t = &e->links[0];
    /* At most 256 sends a turn; a full queue waits for the next turn (a send completes). */
    for (uint32_t n = 0; n < 256u && t->next_seq < e->send_target; n++) {
        enum rkv_err rc = send_frame(t, order_payload(t->next_seq));
        if (rc == RKV_BUSY)
            break;
        if (rc != RKV_OK) {
            atomic_fetch_add(&e->shard_errors, 1);
            break;
        }
    }
}

Test(peer_link, frames_arrive_in_order_and_echo_once)
{
    struct tsrv srv;
    srv_start(&srv, SRV_ECHO);
    env_init(1, srv.port);
    env.ordered = true;
    env.send_target = ORDER_FRAMES;
    env.step = order_step;
    struct shard_set *set = run_start();
    struct tlink *t = &env.links[0];
    WAIT_FOR(atomic_load(&t->frames_ok) + atomic_load(&t->frames_bad) >= ORDER_FRAMES, 10000u);
    sleep_ms(50); /* an extra echo would show now */
    run_stop(set);
    srv_stop(&srv);
    cr_expect_eq(atomic_load(&t->frames_ok), ORDER_FRAMES);
    cr_expect_eq(atomic_load(&t->ups), 1);
    cr_expect_eq(atomic_load(&t->downs), 0);
    cr_expect_eq(t->final.frames_queued, ORDER_FRAMES);
    cr_expect_eq(t->final.frames_out, ORDER_FRAMES);
    cr_expect_eq(t->final.frames_in, ORDER_FRAMES);
    cr_expect_eq(t->final.bytes_in, t->final.bytes_out);
    cr_expect_eq(t->final.connects, 1);
    cr_expect_eq(t->final.frames_dropped, 0);
    cr_expect_leq(t->final.queued_bytes_peak, RKV_PEER_LINK_QUEUE_BYTES_DEFAULT);
}

/* ---- the server drops the connection: down, fast failures, back up by itself ---- */

static void reconnect_step(struct tenv *e)
{
    struct tlink *t = &e->links[0];
    if (t->next_seq == 0) {
        /* Lazy connect: nothing happens before this first send. */
        if (peer_link_stats(t->l)->connects != 0 || send_frame(t, 16u) != RKV_OK)
            atomic_fetch_add(&e->shard_errors, 1);
        return;
    }
    /* 50 frames on the first connection (most queued while connecting), 50 more once it
     * came back by itself. */
    uint32_t target = atomic_load(&t->downs) == 0 ? 50u : peer_link_up(t->l) ? 100u : t->next_seq;
    while (t->next_seq < target) {
        if (send_frame(t, 16u + t->next_seq) != RKV_OK) {
            atomic_fetch_add(&e->shard_errors, 1);
            break;
        }
    }
}

Test(peer_link, reconnects_after_server_drop)
{
    struct tsrv srv;
    srv_start(&srv, SRV_ECHO);
    srv.pause_ms = 400;
    env_init(1, srv.port);
    env.ordered = true;
    env.step = reconnect_step;
    struct shard_set *set = run_start();
    struct tlink *t = &env.links[0];
    WAIT_FOR(atomic_load(&t->frames_ok) >= 50u, WAIT_MS_MAX);
    cr_assert_eq(atomic_load(&t->frames_ok), 50u);
    cr_assert_eq(atomic_load(&t->downs), 0);
    atomic_store(&srv.drop, 1);
    WAIT_FOR(atomic_load(&srv.drops_done) == 1u, WAIT_MS_MAX);
    WAIT_FOR(atomic_load(&t->frames_ok) >= 100u, WAIT_MS_MAX);
    run_stop(set);
    srv_stop(&srv);
    cr_expect_eq(atomic_load(&t->frames_ok), 100u);
    cr_expect_geq(atomic_load(&t->ups), 2u);
    cr_expect_geq(atomic_load(&t->downs), 1u);
    cr_expect_eq(atomic_load(&t->ups), t->final.connected);
    /* Every down saw a send fail fast with RKV_UNAVAILABLE. */
    cr_expect_eq(atomic_load(&t->unavail_in_down), atomic_load(&t->downs));
    cr_expect_eq(atomic_load(&t->other_in_down), 0);
    cr_expect_geq(t->final.unavailable, atomic_load(&t->downs));
    cr_expect_eq(t->final.failures, atomic_load(&t->downs));
    /* While the port was closed, the attempts were refused and spaced (400 ms closed, a
     * tick of 100 ms: a handful, not a tight loop). */
    cr_expect_leq(t->final.connects, 12u);
}

/* ---- nothing listening: failing connects spaced by a growing backoff ---- */

static void dead_step(struct tenv *e)
{
    struct tlink *t = &e->links[0];
    if (t->next_seq == 0 && send_frame(t, 8u) != RKV_OK)
        atomic_fetch_add(&e->shard_errors, 1);
}

Test(peer_link, refused_connects_back_off)
{
    env_init(1, dead_port());
    env.step = dead_step;
    struct shard_set *set = run_start();
    struct tlink *t = &env.links[0];
    sleep_ms(1500);
    run_stop(set);
    uint32_t downs = atomic_load(&t->downs);
    cr_expect_eq(atomic_load(&t->ups), 0);
    cr_expect_eq(t->final.connected, 0);
    /* min 20 ms, max 200 ms, ticks of 100 ms: about 9 attempts in 1.5 s. A tight loop would
     * make thousands; no backoff growth at 20 ms would still be capped by the tick at 15. */
    cr_expect_geq(t->final.connects, 3u, "attempts: %" PRIu64, t->final.connects);
    cr_expect_leq(t->final.connects, 15u, "attempts: %" PRIu64, t->final.connects);
    cr_expect_geq(downs + 1u, t->final.connects);
    cr_expect_eq(t->final.failures, downs);
    cr_expect_eq(atomic_load(&t->unavail_in_down), downs);
    cr_expect_eq(t->final.frames_dropped, 1u);
    /* The backoff grew to its top half: b = 200 ms gives 100..200 ms. */
    cr_expect_geq(t->final.backoff_ms, 100u, "backoff %u", t->final.backoff_ms);
    cr_expect_leq(t->final.backoff_ms, 200u, "backoff %u", t->final.backoff_ms);
}

/* ---- the queue bound: RKV_BUSY against a server that never reads ---- */

#define BUSY_PAYLOAD (64u * 1024u)
#define BUSY_FRAMES_MAX 4096u

static uint64_t busy_bytes_out, busy_since_ms;

/* Sends 64 KiB frames until RKV_BUSY; BUSY alone may only mean a burst faster than one send,
 * so the milestone is a BUSY with nothing written for 300 ms (the server is not reading). */
static void busy_step(struct tenv *e)
{
    struct tlink *t = &e->links[0];
    if (atomic_load(&e->flag) != 0)
        return;
    for (uint32_t n = 0; n < 64u && e->frame_cap < BUSY_FRAMES_MAX; n++) {
        e->frame_cap++;
        enum rkv_err rc = send_frame(t, BUSY_PAYLOAD);
        if (peer_link_queued_bytes(t->l) > t->cfg.queue_bytes_max)
            atomic_fetch_add(&e->shard_errors, 1);
        if (rc == RKV_OK)
            continue;
        if (rc != RKV_BUSY) {
            atomic_fetch_add(&e->shard_errors, 1);
            return;
        }
        uint64_t out = peer_link_stats(t->l)->bytes_out;
        if (!peer_link_up(t->l) || out != busy_bytes_out) {
            busy_bytes_out = out;
            busy_since_ms = mono_ms();
            return;
        }
        if (mono_ms() - busy_since_ms < 300u)
            return;
        /* Stuck. A frame that fits still goes in: the bound is in bytes. */
        size_t room = t->cfg.queue_bytes_max - peer_link_queued_bytes(t->l);
        if (room >= 16u && room < BUSY_PAYLOAD + 8u && send_frame(t, (uint32_t)room - 8u) != RKV_OK)
            atomic_fetch_add(&e->shard_errors, 1);
        atomic_store(&e->flag, 1);
        return;
    }
}

Test(peer_link, queue_bound_gives_busy)
{
    struct tsrv srv;
    srv_start(&srv, SRV_NOREAD);
    env_init(1, srv.port);
    env.links[0].cfg.queue_bytes_max = RKV_PEER_LINK_QUEUE_BYTES_MIN;
    env.step = busy_step;
    struct shard_set *set = run_start();
    struct tlink *t = &env.links[0];
    WAIT_FOR(atomic_load(&env.flag) != 0, WAIT_MS_MAX);
    cr_expect_eq(atomic_load(&env.flag), 1u, "BUSY seen");
    sleep_ms(50);
    run_stop(set); /* closes with a send stuck in flight */
    srv_stop(&srv);
    cr_expect_geq(t->final.busy, 1u);
    cr_expect_leq(t->final.queued_bytes_peak, RKV_PEER_LINK_QUEUE_BYTES_MIN);
    cr_expect_geq(t->final.queued_bytes_peak, RKV_PEER_LINK_QUEUE_BYTES_MIN - BUSY_PAYLOAD - 8u);
    cr_expect_eq(atomic_load(&t->downs), 0);
    cr_expect_gt(t->final.frames_queued, t->final.frames_out, "frames were still unsent at the close");
}

/* ---- a bad length field closes the link; it reconnects ---- */

static void bad_step(struct tenv *e)
{
    struct tlink *t = &e->links[0];
    if (t->next_seq == 0 && send_frame(t, 8u) != RKV_OK)
        atomic_fetch_add(&e->shard_errors, 1);
}

static void bad_up(struct tlink *t)
{
    /* Each new connection says hello; the server answers the first two with a bad field. */
    if (atomic_load(&t->ups) > 1 && send_frame(t, 8u) != RKV_OK)
        atomic_fetch_add(&t->env->shard_errors, 1);
}

Test(peer_link, bad_length_field_closes_and_reconnects)
{
    struct tsrv srv;
    srv_start(&srv, SRV_BAD);
    env_init(1, srv.port);
    env.step = bad_step;
    env.on_up = bad_up;
    struct shard_set *set = run_start();
    struct tlink *t = &env.links[0];
    WAIT_FOR(atomic_load(&t->frames_ok) >= 1u, WAIT_MS_MAX);
    sleep_ms(50);
    run_stop(set);
    srv_stop(&srv);
    cr_expect_eq(atomic_load(&t->frames_ok), 1u);
    cr_expect_eq(t->expect_seq, 3u, "the third hello came back");
    cr_expect_eq(t->final.bad_frames, 2u);
    cr_expect_eq(atomic_load(&t->ups), 3u);
    cr_expect_eq(atomic_load(&t->downs), 2u);
    cr_expect_eq(t->final.frames_in, 1u);
}

/* ---- closing in every state, with ops in flight, from inside callbacks ---- */

static void close_frame(struct tlink *t, uint32_t seq)
{
    (void)seq;
    if (t == &t->env->links[2])
        tlink_close(t); /* inside on_frame, with sends of 1 MiB frames still in flight */
}

static void close_down(struct tlink *t)
{
    if (t == &t->env->links[3])
        tlink_close(t); /* inside on_state(down): the socket is still being torn down */
}

static void close_step(struct tenv *e)
{
    if (atomic_load(&e->flag) != 0)
        return;
    atomic_store(&e->flag, 1);
    /* 0: never used, closed while IDLE. */
    tlink_close(&e->links[0]);
    /* 1: connect queued, closed before it could complete. */
    if (send_frame(&e->links[1], 100u) != RKV_OK)
        atomic_fetch_add(&e->shard_errors, 1);
    tlink_close(&e->links[1]);
    /* 2: a small frame, then big ones; closed by the first echo. */
    if (send_frame(&e->links[2], 8u) != RKV_OK)
        atomic_fetch_add(&e->shard_errors, 1);
    for (uint32_t i = 0; i < 6u; i++)
        if (send_frame(&e->links[2], BIG_PAYLOAD_BYTES) != RKV_OK)
            atomic_fetch_add(&e->shard_errors, 1);
    /* 3: a dead port; closed by its first down. */
    if (send_frame(&e->links[3], 8u) != RKV_OK)
        atomic_fetch_add(&e->shard_errors, 1);
}

Test(peer_link, close_with_ops_in_flight)
{
    struct tsrv srv;
    srv_start(&srv, SRV_ECHO);
    env_init(4, srv.port);
    env.links[3].cfg.addr.port = dead_port();
    env.step = close_step;
    env.on_frame = close_frame;
    env.on_down = close_down;
    struct shard_set *set = run_start();
    WAIT_FOR(atomic_load(&env.freed_count) == 4u, WAIT_MS_MAX);
    cr_expect_eq(atomic_load(&env.freed_count), 4u, "every link freed while running");
    run_stop(set);
    srv_stop(&srv);
    cr_expect_eq(env.links[0].final.connects, 0);
    cr_expect_eq(env.links[1].final.frames_dropped + env.links[1].final.frames_out, 1u);
    cr_expect_eq(atomic_load(&env.links[2].frames_ok), 1u);
    cr_expect_eq(atomic_load(&env.links[3].downs), 1u);
}

/* ---- a connect that hangs fails at its deadline ---- */

Test(peer_link, connect_deadline_fails_a_hanging_connect)
{
    /* A listener with a backlog of 0 that never accepts: once one connection waits in its
     * queue, the kernel drops further SYNs, so the link's connect hangs in SYN_SENT. */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(lfd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 0) == 0);
    cr_assert(getsockname(lfd, (struct sockaddr *)&a, &len) == 0);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(filler >= 0 && connect(filler, (struct sockaddr *)&a, sizeof a) == 0);
    env_init(1, ntohs(a.sin_port));
    env.links[0].cfg.connect_timeout_ms = 150;
    env.step = dead_step;
    struct shard_set *set = run_start();
    struct tlink *t = &env.links[0];
    WAIT_FOR(atomic_load(&t->downs) >= 2u, WAIT_MS_MAX);
    run_stop(set);
    close(filler);
    close(lfd);
    cr_expect_geq(atomic_load(&t->downs), 2u);
    cr_expect_eq(atomic_load(&t->ups), 0);
    cr_expect_eq(t->final.connected, 0);
    cr_expect_eq(t->final.failures, atomic_load(&t->downs));
}

/* ---- open's argument checks ---- */

static _Atomic int open_checks_ok;

static enum rkv_err h_start_checks(struct shard *sh)
{
    struct peer_link_handler h = { .ctx = NULL, .on_frame = h_frame, .on_state = h_state };
    struct peer_link_config c = { .addr = { .host = "db.example", .port = 7000 } };
    struct peer_link *l = NULL;
    int ok = peer_link_open(sh, &c, &h, &l) == RKV_INVALID_ARG && l == NULL;
    strcpy(c.addr.host, "::1");
    c.backoff_min_ms = 500;
    c.backoff_max_ms = 100;
    ok = ok && peer_link_open(sh, &c, &h, &l) == RKV_INVALID_ARG;
    c.backoff_max_ms = 0;
    c.queue_bytes_max = RKV_PEER_LINK_QUEUE_BYTES_MIN - 1u;
    ok = ok && peer_link_open(sh, &c, &h, &l) == RKV_INVALID_ARG;
    c.queue_bytes_max = 0;
    c.addr.port = 0;
    ok = ok && peer_link_open(sh, &c, &h, &l) == RKV_INVALID_ARG;
    strcpy(c.addr.host, "localhost");
    c.addr.port = 7000;
    ok = ok && peer_link_open(sh, &c, &h, &l) == RKV_OK && l != NULL;
    if (l != NULL) {
        ok = ok && !peer_link_up(l) && peer_link_queued_bytes(l) == 0;
        peer_link_close(l);
        ok = ok && peer_link_closed(l); /* IDLE: nothing in flight, closed at once */
        peer_link_free(l);
    }
    atomic_store(&open_checks_ok, ok);
    sh->app = &env;
    return RKV_OK;
}

Test(peer_link, open_checks_its_arguments)
{
    env_init(0, 0);
    struct shard_hooks hk = hooks;
    hk.start = h_start_checks;
    struct shard_set *set = NULL;
    cr_assert_eq(shard_set_create(1, &hk, &env, false, &set), RKV_OK);
    cr_assert_eq(shard_set_start(set), RKV_OK);
    shard_set_request_stop(set);
    shard_set_join(set);
    shard_set_destroy(set);
    cr_expect_eq(atomic_load(&open_checks_ok), 1);
}

/* ---- retry_now ends a long backoff at once ---- */

/* The first send connects to a dead port; once the link backs off (a minute, far past the
 * test's wait), the test starts a listener there and the step calls retry_now: the link
 * must come up without waiting out the backoff. */
static _Atomic uint32_t retry_go;

static void retry_step(struct tenv *e)
{
    struct tlink *t = &e->links[0];
    if (t->next_seq == 0 && send_frame(t, 8u) != RKV_OK)
        atomic_fetch_add(&e->shard_errors, 1);
    if (peer_link_backing_off(t->l)) {
        atomic_store(&e->flag, 1u);
        if (atomic_load(&retry_go)) {
            peer_link_retry_now(t->l);
            if (peer_link_backing_off(t->l))
                atomic_fetch_add(&e->shard_errors, 1); /* it must have left the backoff */
        }
    }
}

Test(peer_link, retry_now_connects_before_the_backoff_ends)
{
    uint16_t port = dead_port();
    env_init(1, port);
    env.links[0].cfg.backoff_min_ms = 60000;
    env.links[0].cfg.backoff_max_ms = 60000;
    atomic_store(&retry_go, 0u);
    env.step = retry_step;
    struct shard_set *set = run_start();
    struct tlink *t = &env.links[0];
    WAIT_FOR(atomic_load(&env.flag) == 1u, WAIT_MS_MAX);
    cr_assert_eq(atomic_load(&t->ups), 0);
    /* A listener on the same port (srv_start picks its own: bind this one by hand). */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(listen(fd, 4) == 0);
    atomic_store(&retry_go, 1u);
    WAIT_FOR(atomic_load(&t->ups) == 1u, WAIT_MS_MAX);
    run_stop(set);
    close(fd);
    cr_expect_eq(atomic_load(&t->ups), 1u, "up without waiting out a 30-60 s backoff");
}
