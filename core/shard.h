/* The shard runtime: one pinned thread per core, each with its own io_uring loop, and a
 * matrix of single-producer/single-consumer rings (ck_ring) between every ordered pair of
 * shards. A message is a pointer to an object owned by its sender; ownership moves with it
 * and comes back with the reply (the receiver never frees it). Pushes are made during the
 * turn; a sleeping receiver is woken once per turn by IORING_OP_MSG_RING, which carries no
 * data. What a shard does with its messages, ticks and turns is given by struct shard_hooks
 * (the server wires net, storage and replication in there); core knows none of them.
 *
 * A turn (practice 4): reap completions -> drain inboxes (bounded) -> before_sleep hook
 * (group commit, then acknowledgements) -> wake receivers -> submit and wait. */
#ifndef RKV_CORE_SHARD_H
#define RKV_CORE_SHARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/loop.h"

struct shard;
struct shard_set;

struct shard_hooks {
    /* On the shard's thread before its loop starts (open storage session, listeners).
     * An error stops the whole set from starting. */
    enum rkv_err (*start)(struct shard *sh);
    /* A message from shard `from` (a pointer the sender owns, see above). */
    void (*on_msg)(struct shard *sh, uint32_t from, void *msg);
    /* Every turn after the inboxes were drained: the place for group commit. */
    void (*before_sleep)(struct shard *sh);
    /* About every RKV_SHARD_TICK_MS. */
    void (*on_tick)(struct shard *sh, uint64_t now_ms);
    /* Shutdown, in order: stop taking new work; report when no request of this shard is in
     * flight; (once every shard is drained) close connections; report when closed; finish
     * on the shard's thread (close storage session). */
    void (*stop_accepting)(struct shard *sh);
    bool (*drained)(struct shard *sh);
    void (*close_all)(struct shard *sh);
    bool (*closed)(struct shard *sh);
    void (*finish)(struct shard *sh);
};

#define RKV_SHARD_TICK_MS 100u

enum shard_phase { SHARD_RUNNING, SHARD_DRAINING, SHARD_WAIT_ALL, SHARD_CLOSING, SHARD_DONE };

/* Owner: its own thread. Other shards touch only the fields marked shared. */
struct shard {
    uint32_t idx;
    struct shard_set *set;
    struct loop loop;
    void *app;                       /* the server's per-shard state, set by the start hook */
    enum shard_phase phase;
    bool no_sleep;                   /* set by the app each turn when work is left (a full ring,
                                      * frames past a budget): submit without waiting */
    uint64_t wake_mask;              /* receivers pushed to this turn, a bit per shard */
    struct io_op wake_op;            /* target of other shards' MSG_RING wake-ups */
    struct io_op msg_ring_op;        /* completions of our own MSG_RING submissions */
    struct io_op tick_op;
    struct __kernel_timespec tick_ts;
    uint64_t msgs_in, msgs_out, wakes_sent, ring_full;
    bool ring_alive;                 /* the loop exists until shard_set_join() closes it */
    uint64_t started_ns, idle_ns;    /* loop utilisation: time spent waiting in the kernel */
    /* shared: */
    _Atomic int sleeping;            /* set by the owner just before it waits */
    _Atomic int ring_fd;             /* published once the loop exists */
};

/* Creates count shards (not yet running). app_ctx is returned by shard_set_ctx(). */
enum rkv_err shard_set_create(uint32_t count, const struct shard_hooks *hooks, void *app_ctx,
                              bool pin, struct shard_set **set_out);
/* Starts every thread and waits until each ran its start hook; on any failure stops and
 * joins the ones that started and returns the first error. */
enum rkv_err shard_set_start(struct shard_set *set);
/* Asks every shard to shut down (async-signal-safe apart from the MSG_RING sends, so call it
 * from the main thread, not a signal handler). */
void shard_set_request_stop(struct shard_set *set);
/* Joins every thread; returns when all finished. */
void shard_set_join(struct shard_set *set);
void shard_set_destroy(struct shard_set *set);

uint32_t shard_set_count(const struct shard_set *set);
struct shard *shard_set_get(struct shard_set *set, uint32_t idx);
void *shard_set_ctx(const struct shard_set *set);

/* The shard running on this thread, or NULL (for assertions and logs). */
struct shard *shard_current(void);

/* Pushes msg onto the ring from sh to shard `to` (to != sh->idx). false when that ring is
 * full: the caller keeps the message and tries again next turn (set sh->no_sleep). */
bool shard_send(struct shard *sh, uint32_t to, void *msg) __attribute__((warn_unused_result));

/* Messages waiting in sh's inboxes (an instant reading; only the owner calls it). */
uint64_t shard_inbox_depth(struct shard *sh);

/* Milliseconds of CLOCK_REALTIME and nanoseconds of CLOCK_MONOTONIC (vDSO, no syscall). */
uint64_t rkv_wall_ms(void);
uint64_t rkv_mono_ns(void);

#endif
