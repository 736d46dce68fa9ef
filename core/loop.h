/* The io_uring wrapper of one shard. Every submission carries a struct io_op embedded in the
 * object that owns the operation (a connection, a listener, the shard); its handler runs when
 * the completion is reaped. Handlers only update state and queue new submissions: they never
 * wait and never reap (practice 4). A struct loop belongs to the thread that created it
 * (IORING_SETUP_SINGLE_ISSUER): it must be initialised on, and used only from, that thread. */
#ifndef RKV_CORE_LOOP_H
#define RKV_CORE_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct io_op;
typedef void io_op_done_fn(struct io_op *op, int32_t res, uint32_t cqe_flags);

/* One operation in flight (or a multishot one armed). Owned by the struct it is embedded
 * in, which must outlive every completion of it. */
struct io_op {
    io_op_done_fn *done;
    bool in_flight;
};

struct loop {
    struct io_uring ring;
    unsigned setup_flags;   /* what the kernel accepted */
    bool submit_pending;    /* SQEs queued since the last submit */
    uint64_t cqes_reaped;
    uint64_t turns;
};

/* Creates the ring on the calling thread with SINGLE_ISSUER | DEFER_TASKRUN, falling back to
 * COOP_TASKRUN and then to no flags on kernels that refuse them. */
enum rkv_err loop_init(struct loop *l, unsigned sq_entries, unsigned cq_entries);
void loop_destroy(struct loop *l);

/* A submission queue entry with user_data = op (or NULL user_data when op is NULL: the
 * completion is ignored). When the SQ ring is full it submits what is queued and retries;
 * it never returns NULL. */
struct io_uring_sqe *loop_sqe(struct loop *l, struct io_op *op);

/* Runs the handler of every ready completion, at most max of them. Returns how many. */
unsigned loop_reap(struct loop *l, unsigned max);

/* Submits what is queued and, when wait is true, sleeps until at least one completion is
 * ready. EINTR and EBUSY are not errors. */
void loop_submit(struct loop *l, bool wait);

/* The ring's fd, for IORING_OP_MSG_RING wake-ups sent by other shards. */
int loop_fd(const struct loop *l);

#endif
