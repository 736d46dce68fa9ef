/* io_uring set-up, submission and completion dispatch; see loop.h. The only place where
 * liburing's -errno results of setup and enter are looked at: they become enum rkv_err or
 * a logged line here and do not travel further. */
#include "core/loop.h"

#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/log.h"

enum rkv_err loop_init(struct loop *l, unsigned sq_entries, unsigned cq_entries)
{
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    memset(l, 0, sizeof *l);
    int rc = -EINVAL;
    for (unsigned i = 0; i < RKV_ARRAY_LEN(flag_sets); i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = cq_entries;
        rc = io_uring_queue_init_params(sq_entries, &l->ring, &p);
        if (rc == 0) {
            l->setup_flags = flag_sets[i];
            if (i > 0)
                rkv_log(RKV_LOG_WARN, "io_uring: kernel refused DEFER_TASKRUN; using fallback flags 0x%x", flag_sets[i]);
            return RKV_OK;
        }
        if (rc != -EINVAL)
            break;
    }
    rkv_log(RKV_LOG_ERROR, "io_uring_queue_init: %s", strerror(-rc));
    return rc == -ENOMEM ? RKV_BUSY : RKV_INTERNAL;
}

void loop_destroy(struct loop *l)
{
    io_uring_queue_exit(&l->ring);
}

int loop_fd(const struct loop *l) { return l->ring.ring_fd; }

struct io_uring_sqe *loop_sqe(struct loop *l, struct io_op *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    /* Bounded: one submit frees the whole SQ ring (SUBMIT_ALL), so the second try succeeds;
     * the few extra tries only cover an interrupted enter. */
    for (int tries = 0; sqe == NULL && tries < 8; tries++) {
        int rc = io_uring_submit(&l->ring);
        if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
            rkv_log(RKV_LOG_ERROR, "io_uring_submit: %s", strerror(-rc));
        sqe = io_uring_get_sqe(&l->ring);
    }
    RKV_ASSERT(sqe != NULL);
    io_uring_sqe_set_data(sqe, op);
    if (op != NULL)
        op->in_flight = true;
    l->submit_pending = true;
    return sqe;
}

unsigned loop_reap(struct loop *l, unsigned max)
{
    unsigned n = 0;
    struct io_uring_cqe *cqe;
    while (n < max && io_uring_peek_cqe(&l->ring, &cqe) == 0) {
        struct io_op *op = io_uring_cqe_get_data(cqe);
        int32_t res = cqe->res;
        uint32_t flags = cqe->flags;
        io_uring_cqe_seen(&l->ring, cqe);
        n++;
        if (op == NULL)
            continue;
        /* A multishot op stays armed while the kernel says MORE. */
        if (!(flags & IORING_CQE_F_MORE))
            op->in_flight = false;
        op->done(op, res, flags);
    }
    l->cqes_reaped += n;
    return n;
}

void loop_submit(struct loop *l, bool wait)
{
    /* Without waiting we still enter with GETEVENTS: under DEFER_TASKRUN completions are only
     * posted when the issuer asks for them. */
    int rc = wait ? io_uring_submit_and_wait(&l->ring, 1) : io_uring_submit_and_get_events(&l->ring);
    l->submit_pending = false;
    l->turns++;
    if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN && rc != -ETIME)
        rkv_log(RKV_LOG_ERROR, "io_uring_enter: %s", strerror(-rc));
}
