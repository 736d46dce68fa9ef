/* The ringkv:// driver of ringkv-bench: one connection is one ringkv_client of the client
 * library (net/ringkv.h), driven through its pipelined calls, so the bench speaks the
 * protocol through the same codec as every other client. Owned by one worker thread. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "core/assert.h"
#include "net/ringkv.h"

struct rk_conn {
    ringkv_client *client;
    struct ringkv_options opts;
    enum ringkv_err last_err; /* of the last call that failed */
};

static void *rk_open(const char *addr, const struct bench_driver_cfg *cfg, char *why, size_t why_cap)
{
    RKV_ASSERT(why != NULL && why_cap > 0);
    why[0] = '\0';
    struct rk_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    enum ringkv_err err = RINGKV_OK;
    c->client = ringkv_connect(addr, (int)cfg->timeout_ms, &err);
    if (c->client == NULL) {
        snprintf(why, why_cap, "%s: %s", addr, ringkv_strerror(err));
        free(c);
        return NULL;
    }
    c->opts = ringkv_options_default();
    static const enum ringkv_consistency cons[] = {
        [BENCH_CONS_ONE] = RINGKV_ONE, [BENCH_CONS_QUORUM] = RINGKV_QUORUM, [BENCH_CONS_ALL] = RINGKV_ALL};
    RKV_ASSERT((unsigned)cfg->consistency < sizeof(cons) / sizeof(cons[0]));
    c->opts.consistency = cons[cfg->consistency];
    c->last_err = RINGKV_OK;
    return c;
}

static void rk_close(void *conn)
{
    struct rk_conn *c = conn;
    if (c == NULL)
        return;
    ringkv_close(c->client);
    free(c);
}

static enum bench_io rk_io(struct rk_conn *c, enum ringkv_err err)
{
    if (err == RINGKV_OK)
        return BENCH_IO_OK;
    c->last_err = err;
    return err == RINGKV_ERR_NET_TIMEOUT ? BENCH_IO_TIMEOUT : BENCH_IO_FAILED;
}

static enum bench_io rk_send(void *conn, enum bench_op op, const uint8_t *key, size_t key_bytes,
                             const uint8_t *value, size_t value_bytes, uint32_t *tag_out)
{
    struct rk_conn *c = conn;
    enum ringkv_err err;
    if (op == BENCH_OP_GET)
        err = ringkv_send_get(c->client, key, key_bytes, &c->opts, tag_out);
    else
        err = ringkv_send_put(c->client, key, key_bytes, value, value_bytes, &c->opts, tag_out);
    return rk_io(c, err);
}

static enum bench_io rk_flush(void *conn)
{
    struct rk_conn *c = conn;
    return rk_io(c, ringkv_flush(c->client));
}

static enum bench_io rk_recv(void *conn, struct bench_reply *reply_out)
{
    struct rk_conn *c = conn;
    struct ringkv_reply r;
    reply_out->tag = 0;
    reply_out->outcome = BENCH_OUT_ERROR;
    reply_out->message = NULL;
    enum ringkv_err err = ringkv_recv(c->client, &r);
    if (err != RINGKV_OK)
        return rk_io(c, err);
    reply_out->tag = r.request_id;
    if (r.status == RINGKV_OK) {
        reply_out->outcome = BENCH_OUT_OK;
    } else if (r.status == RINGKV_NOT_FOUND) {
        reply_out->outcome = BENCH_OUT_MISS;
    } else {
        reply_out->outcome = BENCH_OUT_ERROR;
        reply_out->message = r.message ? r.message : ringkv_strerror(r.status);
    }
    return BENCH_IO_OK;
}

static const char *rk_last_error(void *conn)
{
    struct rk_conn *c = conn;
    return ringkv_strerror(c->last_err);
}

const struct bench_driver bench_driver_ringkv = {
    .scheme = "ringkv",
    .open = rk_open,
    .close = rk_close,
    .send = rk_send,
    .flush = rk_flush,
    .recv = rk_recv,
    .last_error = rk_last_error,
};
