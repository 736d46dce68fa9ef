/* The ringkv:// driver of ringkv-bench: the binary protocol, encoded and decoded by the
 * shared codec (net/proto_bin.h) that the server and the client library use. The request
 * id of every frame is the bench's tag (a slot of the connection), so answers may come back
 * in any order. Stateless: the load loop owns the socket and the buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/assert.h"
#include "core/err.h"
#include "net/proto_bin.h"

struct rk_state {
    uint8_t consistency; /* enum bin_consistency */
};

static void *rk_state_new(const struct bench_driver_cfg *cfg, char *why, size_t why_cap)
{
    RKV_ASSERT(why != NULL && why_cap > 0);
    static const uint8_t cons[] = {
        [BENCH_CONS_ONE] = BIN_CONS_ONE, [BENCH_CONS_QUORUM] = BIN_CONS_QUORUM, [BENCH_CONS_ALL] = BIN_CONS_ALL};
    RKV_ASSERT((unsigned)cfg->consistency < sizeof(cons));
    struct rk_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    st->consistency = cons[cfg->consistency];
    return st;
}

static void rk_state_free(void *st)
{
    free(st);
}

static size_t rk_request_bytes_max(uint32_t value_bytes)
{
    return RKV_REQ_HDR_BYTES + BENCH_KEY_BYTES + (size_t)value_bytes;
}

static size_t rk_encode(void *st, uint8_t *buf, size_t cap, enum bench_op op, const uint8_t *key, size_t key_bytes,
                        const uint8_t *value, size_t value_bytes, uint32_t tag)
{
    const struct rk_state *s = st;
    RKV_ASSERT(key_bytes >= 1 && key_bytes <= RKV_KEY_BYTES_MAX);
    RKV_ASSERT(value_bytes <= RKV_VALUE_BYTES_MAX);
    struct bin_req req = {
        .request_id = tag,
        .opcode = op == BENCH_OP_GET ? BIN_OP_GET : BIN_OP_PUT,
        .consistency = s->consistency,
        .key_bytes = (uint16_t)key_bytes,
        .key = key,
    };
    if (op == BENCH_OP_PUT) {
        req.value_bytes = (uint32_t)value_bytes;
        req.value = value;
    }
    if (bin_req_frame_bytes(&req) > cap)
        return 0;
    return bin_req_encode(buf, cap, &req);
}

static enum bench_parse rk_decode(void *st, const uint8_t *buf, size_t len, struct bench_reply *reply_out,
                                  size_t *used_out, size_t *need_out, const char **why_out)
{
    (void)st;
    *reply_out = (struct bench_reply){.outcome = BENCH_OUT_ERROR};
    *used_out = *need_out = 0;
    *why_out = NULL;
    struct bin_resp resp;
    size_t frame_bytes = 0;
    enum rkv_err why = RKV_OK;
    enum parse_rc rc = bin_resp_decode(buf, len, &resp, &frame_bytes, &why);
    if (rc == PARSE_NEED_MORE) {
        *need_out = frame_bytes;
        return BENCH_PARSE_NEED_MORE;
    }
    if (rc == PARSE_INVALID) {
        *why_out = rkv_err_message(why);
        return BENCH_PARSE_INVALID;
    }
    *used_out = frame_bytes;
    reply_out->tag = resp.request_id;
    enum rkv_err status = RKV_OK;
    if (!rkv_err_from_wire(resp.status, &status)) {
        reply_out->message = "an unknown status byte";
        reply_out->message_bytes = strlen(reply_out->message);
        return BENCH_PARSE_DONE;
    }
    if (status == RKV_OK) {
        reply_out->outcome = BENCH_OUT_OK;
    } else if (status == RKV_NOT_FOUND) {
        reply_out->outcome = BENCH_OUT_MISS;
    } else if (resp.value_bytes > 0) {
        reply_out->message = (const char *)resp.value; /* the server's sentence */
        reply_out->message_bytes = resp.value_bytes;
    } else {
        reply_out->message = rkv_err_message(status);
        reply_out->message_bytes = strlen(reply_out->message);
    }
    return BENCH_PARSE_DONE;
}

const struct bench_driver bench_driver_ringkv = {
    .scheme = "ringkv",
    .tagged = true,
    .state_new = rk_state_new,
    .state_free = rk_state_free,
    .request_bytes_max = rk_request_bytes_max,
    .encode = rk_encode,
    .decode = rk_decode,
};
