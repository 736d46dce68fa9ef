/* The shard runtime; see shard.h. The SPSC matrix holds count * count ck_rings (the
 * diagonal unused); ring (from, to) is written only by `from` and read only by `to`.
 * Wake-ups follow the event-count pattern: the receiver publishes `sleeping` and re-checks
 * its inboxes before waiting, the sender fences after its push and wakes only a receiver
 * that said it sleeps, so a message is never left unseen and most turns send no wake-up. */
#include "core/shard.h"

#include <ck_ring.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/limits.h"
#include "core/log.h"

struct shard_set {
    uint32_t count;
    bool pin;
    const struct shard_hooks *hooks;
    void *ctx;
    struct shard *shards;
    pthread_t *threads;
    bool *thread_started;
    struct ck_ring *rings;              /* [from * count + to] */
    struct ck_ring_buffer *ring_bufs;   /* RKV_XMSG_RING_ENTRIES per ring */
    struct loop main_loop;              /* the main thread's ring: only for stop wake-ups */
    struct io_op main_msg_ring_op;      /* completions of the main thread's wake-ups */
    bool main_loop_ok;
    _Atomic int stop_requested;
    _Atomic uint32_t drained_count;
    _Atomic uint32_t started_count;
    _Atomic int start_gate;             /* 0 wait, 1 run, -1 abort */
    _Atomic int start_err;              /* first failing start's enum rkv_err */
};

_Static_assert(RKV_SHARDS_MAX <= 64, "wake_mask is one 64-bit word");

static _Thread_local struct shard *current_shard;

struct shard *shard_current(void) { return current_shard; }
uint32_t shard_set_count(const struct shard_set *set) { return set->count; }
void *shard_set_ctx(const struct shard_set *set) { return set->ctx; }

struct shard *shard_set_get(struct shard_set *set, uint32_t idx)
{
    RKV_ASSERT(idx < set->count);
    return &set->shards[idx];
}

uint64_t rkv_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t rkv_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct ck_ring *ring_of(struct shard_set *set, uint32_t from, uint32_t to, struct ck_ring_buffer **buf_out)
{
    size_t i = (size_t)from * set->count + to;
    *buf_out = set->ring_bufs + i * RKV_XMSG_RING_ENTRIES;
    return &set->rings[i];
}

bool shard_send(struct shard *sh, uint32_t to, void *msg)
{
    RKV_ASSERT(sh == current_shard);
    RKV_ASSERT(to != sh->idx);
    RKV_ASSERT(to < sh->set->count);
    struct ck_ring_buffer *buf;
    struct ck_ring *r = ring_of(sh->set, sh->idx, to, &buf);
    if (!ck_ring_enqueue_spsc(r, buf, msg)) {
        sh->ring_full++;
        return false;
    }
    sh->msgs_out++;
    sh->wake_mask |= (uint64_t)1 << to;
    return true;
}

static void wake_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)op; (void)res; (void)flags; /* the wake-up itself is the message */
}

static void msg_ring_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)op; (void)flags;
    if (res < 0)
        rkv_log(RKV_LOG_ERROR, "MSG_RING wake-up failed: %s", strerror(-res));
}

static void tick_arm(struct shard *sh);

static void tick_done(struct io_op *op, int32_t res, uint32_t flags)
{
    (void)res; (void)flags;
    struct shard *sh = RKV_CONTAINER_OF(op, struct shard, tick_op);
    if (sh->set->hooks->on_tick != NULL)
        sh->set->hooks->on_tick(sh, rkv_wall_ms());
    if (sh->phase != SHARD_DONE)
        tick_arm(sh);
}

static void tick_arm(struct shard *sh)
{
    sh->tick_ts.tv_sec = 0;
    sh->tick_ts.tv_nsec = (long long)RKV_SHARD_TICK_MS * 1000000;
    struct io_uring_sqe *sqe = loop_sqe(&sh->loop, &sh->tick_op);
    io_uring_prep_timeout(sqe, &sh->tick_ts, 0, 0);
}

/* Sends a MSG_RING to target from loop l; the target reaps it as its wake_op. */
static void wake_send(struct loop *l, struct io_op *own_op, struct shard *target)
{
    int fd = atomic_load(&target->ring_fd);
    if (fd < 0)
        return;
    struct io_uring_sqe *sqe = loop_sqe(l, own_op);
    io_uring_prep_msg_ring(sqe, fd, 0, (uint64_t)(uintptr_t)&target->wake_op, 0);
}

static void wakes_flush(struct shard *sh)
{
    if (sh->wake_mask == 0)
        return;
    /* Pairs with the fence in inbox_sleep(): our pushes are visible before we read
     * `sleeping`, or the receiver sees them when it re-checks. */
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t mask = sh->wake_mask;
    sh->wake_mask = 0;
    while (mask != 0) {
        uint32_t to = (uint32_t)__builtin_ctzll(mask);
        mask &= mask - 1;
        struct shard *t = &sh->set->shards[to];
        if (atomic_exchange(&t->sleeping, 0) != 0) {
            wake_send(&sh->loop, &sh->msg_ring_op, t);
            sh->wakes_sent++;
        }
    }
}

static bool inbox_empty(struct shard *sh)
{
    struct shard_set *set = sh->set;
    for (uint32_t from = 0; from < set->count; from++) {
        if (from == sh->idx)
            continue;
        struct ck_ring_buffer *buf;
        if (ck_ring_size(ring_of(set, from, sh->idx, &buf)) != 0)
            return false;
    }
    return true;
}

uint64_t shard_inbox_depth(struct shard *sh)
{
    RKV_ASSERT(sh == current_shard);
    uint64_t n = 0;
    for (uint32_t from = 0; from < sh->set->count; from++) {
        if (from == sh->idx)
            continue;
        struct ck_ring_buffer *buf;
        n += ck_ring_size(ring_of(sh->set, from, sh->idx, &buf));
    }
    return n;
}

static void inbox_drain(struct shard *sh)
{
    struct shard_set *set = sh->set;
    for (uint32_t from = 0; from < set->count; from++) {
        if (from == sh->idx)
            continue;
        struct ck_ring_buffer *buf;
        struct ck_ring *r = ring_of(set, from, sh->idx, &buf);
        void *msg;
        for (unsigned n = 0; n < RKV_XMSG_DRAIN_MAX && ck_ring_dequeue_spsc(r, buf, &msg); n++) {
            sh->msgs_in++;
            set->hooks->on_msg(sh, from, msg);
        }
    }
}

static void wake_all_others(struct shard *sh)
{
    for (uint32_t i = 0; i < sh->set->count; i++) {
        if (i != sh->idx)
            wake_send(&sh->loop, &sh->msg_ring_op, &sh->set->shards[i]);
    }
}

/* Shutdown phases; see shard.h. Returns true when the loop may end. */
static bool phase_step(struct shard *sh)
{
    struct shard_set *set = sh->set;
    const struct shard_hooks *h = set->hooks;
    switch (sh->phase) {
    case SHARD_RUNNING:
        if (atomic_load(&set->stop_requested)) {
            h->stop_accepting(sh);
            sh->phase = SHARD_DRAINING;
        }
        return false;
    case SHARD_DRAINING:
        if (!h->drained(sh))
            return false;
        sh->phase = SHARD_WAIT_ALL;
        if (atomic_fetch_add(&set->drained_count, 1) + 1 == set->count)
            wake_all_others(sh);
        return false;
    case SHARD_WAIT_ALL:
        if (atomic_load(&set->drained_count) != set->count)
            return false;
        h->close_all(sh);
        sh->phase = SHARD_CLOSING;
        return false;
    case SHARD_CLOSING:
        if (!h->closed(sh) || !inbox_empty(sh))
            return false;
        sh->phase = SHARD_DONE;
        return true;
    case SHARD_DONE:
        return true;
    }
    return true;
}

static void pin_to_cpu(struct shard *sh)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus <= 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(sh->idx % (uint32_t)cpus), &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0)
        rkv_log(RKV_LOG_WARN, "cannot pin to cpu %u: %s", sh->idx % (unsigned)cpus, strerror(rc));
}

static void start_wait_gate(struct shard_set *set)
{
    /* Start-up only: the main thread opens the gate within milliseconds. */
    while (atomic_load(&set->start_gate) == 0) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void *shard_main(void *arg)
{
    struct shard *sh = arg;
    struct shard_set *set = sh->set;
    current_shard = sh;
    rkv_log_set_shard((int)sh->idx);
    if (set->pin)
        pin_to_cpu(sh);
    /* The ring is created here: SINGLE_ISSUER binds it to this thread. */
    enum rkv_err err = loop_init(&sh->loop, RKV_SQ_ENTRIES, RKV_CQ_ENTRIES);
    if (err == RKV_OK) {
        atomic_store(&sh->ring_fd, loop_fd(&sh->loop));
        err = set->hooks->start(sh);
    }
    if (err != RKV_OK) {
        int expected = RKV_OK;
        atomic_compare_exchange_strong(&set->start_err, &expected, (int)err);
    }
    atomic_fetch_add(&set->started_count, 1);
    start_wait_gate(set);
    if (err != RKV_OK || atomic_load(&set->start_gate) < 0) {
        set->hooks->finish(sh); /* undoes whatever part of start succeeded */
        if (atomic_load(&sh->ring_fd) >= 0)
            sh->ring_alive = true; /* closed by shard_set_join() */
        return NULL;
    }
    tick_arm(sh);
    sh->started_ns = rkv_mono_ns();
    /* The event loop: the one loop in a shard without a bound on its turns. It ends only
     * through the shutdown phases (phase_step). */
    for (;;) {
        loop_reap(&sh->loop, RKV_CQ_ENTRIES);
        inbox_drain(sh);
        enum shard_phase phase_before = sh->phase;
        bool done = phase_step(sh);
        set->hooks->before_sleep(sh);
        wakes_flush(sh);
        if (done)
            break;
        /* A phase change may make the next step possible at once: don't wait for a tick. */
        if (sh->no_sleep || sh->phase != phase_before) {
            loop_submit(&sh->loop, false);
            continue;
        }
        atomic_store(&sh->sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        if (!inbox_empty(sh) || atomic_load(&set->stop_requested) != (sh->phase != SHARD_RUNNING)) {
            atomic_store(&sh->sleeping, 0);
            loop_submit(&sh->loop, false);
            continue;
        }
        uint64_t wait_start_ns = rkv_mono_ns();
        loop_submit(&sh->loop, true);
        sh->idle_ns += rkv_mono_ns() - wait_start_ns;
        atomic_store(&sh->sleeping, 0);
    }
    set->hooks->finish(sh);
    /* The ring stays open until every shard has finished (shard_set_join() closes it): a
     * peer that read our fd just before we stopped may still send a wake-up to it, and a
     * closed fd could by then be reused by another ring. */
    loop_submit(&sh->loop, false);
    sh->ring_alive = true;
    return NULL;
}

enum rkv_err shard_set_create(uint32_t count, const struct shard_hooks *hooks, void *app_ctx,
                              bool pin, struct shard_set **set_out)
{
    *set_out = NULL;
    RKV_ASSERT(count >= 1 && count <= RKV_SHARDS_MAX);
    RKV_ASSERT(hooks->start && hooks->on_msg && hooks->before_sleep && hooks->stop_accepting &&
               hooks->drained && hooks->close_all && hooks->closed && hooks->finish);
    struct shard_set *set = calloc(1, sizeof *set);
    if (set == NULL)
        return RKV_BUSY;
    set->count = count;
    set->pin = pin;
    set->hooks = hooks;
    set->ctx = app_ctx;
    set->shards = calloc(count, sizeof *set->shards);
    set->threads = calloc(count, sizeof *set->threads);
    set->thread_started = calloc(count, sizeof *set->thread_started);
    set->rings = calloc((size_t)count * count, sizeof *set->rings);
    set->ring_bufs = calloc((size_t)count * count * RKV_XMSG_RING_ENTRIES, sizeof *set->ring_bufs);
    if (!set->shards || !set->threads || !set->thread_started || !set->rings || !set->ring_bufs) {
        shard_set_destroy(set);
        return RKV_BUSY;
    }
    for (size_t i = 0; i < (size_t)count * count; i++)
        ck_ring_init(&set->rings[i], RKV_XMSG_RING_ENTRIES);
    for (uint32_t i = 0; i < count; i++) {
        struct shard *sh = &set->shards[i];
        sh->idx = i;
        sh->set = set;
        sh->phase = SHARD_RUNNING;
        sh->wake_op.done = wake_done;
        sh->msg_ring_op.done = msg_ring_done;
        sh->tick_op.done = tick_done;
        atomic_init(&sh->sleeping, 0);
        atomic_init(&sh->ring_fd, -1);
    }
    if (loop_init(&set->main_loop, 64, 256) == RKV_OK)
        set->main_loop_ok = true;
    *set_out = set;
    return RKV_OK;
}

enum rkv_err shard_set_start(struct shard_set *set)
{
    for (uint32_t i = 0; i < set->count; i++) {
        int rc = pthread_create(&set->threads[i], NULL, shard_main, &set->shards[i]);
        if (rc != 0) {
            rkv_log(RKV_LOG_ERROR, "pthread_create: %s", strerror(rc));
            int expected = RKV_OK;
            atomic_compare_exchange_strong(&set->start_err, &expected, (int)RKV_INTERNAL);
            atomic_fetch_add(&set->started_count, 1);
            continue;
        }
        set->thread_started[i] = true;
    }
    while (atomic_load(&set->started_count) < set->count) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    enum rkv_err err = (enum rkv_err)atomic_load(&set->start_err);
    atomic_store(&set->start_gate, err == RKV_OK ? 1 : -1);
    if (err != RKV_OK)
        shard_set_join(set);
    return err;
}

void shard_set_request_stop(struct shard_set *set)
{
    atomic_store(&set->stop_requested, 1);
    if (!set->main_loop_ok)
        return;
    set->main_msg_ring_op.done = msg_ring_done;
    for (uint32_t i = 0; i < set->count; i++)
        wake_send(&set->main_loop, &set->main_msg_ring_op, &set->shards[i]);
    loop_submit(&set->main_loop, false);
    /* Reap our own completions so the small ring never fills. */
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&set->main_loop.ring, &cqe) == 0)
        io_uring_cqe_seen(&set->main_loop.ring, cqe);
}

void shard_set_join(struct shard_set *set)
{
    for (uint32_t i = 0; i < set->count; i++) {
        if (set->thread_started[i]) {
            pthread_join(set->threads[i], NULL);
            set->thread_started[i] = false;
        }
    }
    /* Every thread is gone: no one can send to these rings any more. */
    for (uint32_t i = 0; i < set->count; i++) {
        struct shard *sh = &set->shards[i];
        if (sh->ring_alive) {
            atomic_store(&sh->ring_fd, -1);
            loop_destroy(&sh->loop);
            sh->ring_alive = false;
        }
    }
}

void shard_set_destroy(struct shard_set *set)
{
    if (set == NULL)
        return;
    if (set->main_loop_ok)
        loop_destroy(&set->main_loop);
    free(set->shards);
    free(set->threads);
    free(set->thread_started);
    free(set->rings);
    free(set->ring_bufs);
    free(set);
}
