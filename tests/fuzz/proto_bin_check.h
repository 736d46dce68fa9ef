/* The property check shared by the libFuzzer target (proto_bin_fuzz.c) and the corpus replay
 * test (proto_bin_replay_test.c): any bytes, read as a stream of requests and then as a
 * stream of responses, must decode three-way without reading out of bounds, every framed
 * request must get a status from bin_req_validate(), and every frame whose fields agree
 * with its length must re-encode to exactly the same bytes. A violated property aborts, which
 * both harnesses report as a failure. Header-only (static inline) so both can include it. */
#ifndef RKV_TESTS_FUZZ_PROTO_BIN_CHECK_H
#define RKV_TESTS_FUZZ_PROTO_BIN_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/limits.h"
#include "net/proto_bin.h"

#define PB_CHECK(cond)                                                                      \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "proto_bin_check: %s does not hold (line %d)\n", #cond, __LINE__); \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* Frames handled per pass, so that one input cannot run for long. */
#define PB_FRAMES_PER_PASS_MAX 64u

/* Every proper prefix of a whole frame must ask for more, and name the frame's size once
 * the length field is in. A few lengths stand for all of them, to keep each run short. */
static inline void pb_check_req_prefixes(const uint8_t *buf, size_t frame_bytes)
{
    const size_t lens[] = {0, 1, 3, 4, 5, RKV_REQ_HDR_BYTES - 1, RKV_REQ_HDR_BYTES, frame_bytes / 2, frame_bytes - 1};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        if (lens[i] >= frame_bytes)
            continue;
        struct bin_req req;
        size_t fb = 1;
        enum rkv_err why = RKV_INTERNAL;
        PB_CHECK(bin_req_decode(buf, lens[i], &req, &fb, &why) == PARSE_NEED_MORE);
        PB_CHECK(fb == (lens[i] < 4 ? 0 : frame_bytes));
        PB_CHECK(why == RKV_OK);
    }
}

static inline void pb_check_resp_prefixes(const uint8_t *buf, size_t frame_bytes)
{
    const size_t lens[] = {0, 1, 3, 4, 5, RKV_RESP_HDR_BYTES - 1, RKV_RESP_HDR_BYTES, frame_bytes / 2, frame_bytes - 1};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        if (lens[i] >= frame_bytes)
            continue;
        struct bin_resp resp;
        size_t fb = 1;
        enum rkv_err why = RKV_INTERNAL;
        PB_CHECK(bin_resp_decode(buf, lens[i], &resp, &fb, &why) == PARSE_NEED_MORE);
        PB_CHECK(fb == (lens[i] < 4 ? 0 : frame_bytes));
    }
}

/* One framed request at buf[0..frame_bytes). */
static inline void pb_check_req(const uint8_t *buf, size_t frame_bytes, const struct bin_req *req)
{
    PB_CHECK(frame_bytes >= RKV_REQ_HDR_BYTES);
    PB_CHECK(frame_bytes <= (size_t)RKV_FRAME_BYTES_MAX + 4u);
    PB_CHECK((size_t)req->frame_bytes + 4u == frame_bytes);
    pb_check_req_prefixes(buf, frame_bytes);

    enum rkv_err verdict = bin_req_validate(req);
    PB_CHECK((unsigned)verdict < (unsigned)RKV_ERR_COUNT);
    PB_CHECK(verdict != RKV_FRAME_TOO_LONG); /* that one closes the stream instead */
    if (verdict == RKV_OK) {
        PB_CHECK(req->opcode == BIN_OP_PING || req->opcode == BIN_OP_GET || req->opcode == BIN_OP_PUT ||
                 req->opcode == BIN_OP_DELETE);
        PB_CHECK(req->consistency <= BIN_CONS_ALL);
        PB_CHECK(req->reserved == 0);
        PB_CHECK((req->flags & ~BIN_REQ_F_KNOWN) == 0);
        PB_CHECK(req->opcode == BIN_OP_PING ? req->key_bytes == 0
                                            : req->key_bytes >= 1 && req->key_bytes <= RKV_KEY_BYTES_MAX);
        PB_CHECK(req->value_bytes <= RKV_VALUE_BYTES_MAX);
        PB_CHECK(req->ttl_s <= RKV_TTL_S_MAX);
        PB_CHECK(req->opcode == BIN_OP_PUT || (req->value_bytes == 0 && req->ttl_s == 0 && req->flags == 0));
    }

    bool agree = (uint64_t)RKV_REQ_HDR_BYTES + req->key_bytes + req->value_bytes == frame_bytes;
    PB_CHECK(agree == (req->key != NULL));
    PB_CHECK(agree == (req->value != NULL));
    if (!agree) {
        PB_CHECK(verdict == RKV_UNKNOWN_OPCODE || verdict == RKV_BAD_FRAME);
        return;
    }
    PB_CHECK(req->key == buf + RKV_REQ_HDR_BYTES);
    PB_CHECK(req->value == buf + RKV_REQ_HDR_BYTES + req->key_bytes);
    PB_CHECK(bin_req_frame_bytes(req) == frame_bytes);

    uint8_t *again = malloc(frame_bytes);
    PB_CHECK(again != NULL);
    PB_CHECK(bin_req_encode(again, frame_bytes - 1, req) == 0);
    PB_CHECK(bin_req_encode(again, frame_bytes, req) == frame_bytes);
    PB_CHECK(memcmp(again, buf, frame_bytes) == 0);

    struct bin_req back;
    size_t fb = 0;
    enum rkv_err why = RKV_INTERNAL;
    PB_CHECK(bin_req_decode(again, frame_bytes, &back, &fb, &why) == PARSE_DONE);
    PB_CHECK(fb == frame_bytes);
    PB_CHECK(why == RKV_OK);
    PB_CHECK(back.request_id == req->request_id);
    PB_CHECK(back.opcode == req->opcode);
    PB_CHECK(back.consistency == req->consistency);
    PB_CHECK(back.flags == req->flags);
    PB_CHECK(back.key_bytes == req->key_bytes);
    PB_CHECK(back.reserved == req->reserved);
    PB_CHECK(back.ttl_s == req->ttl_s);
    PB_CHECK(back.value_bytes == req->value_bytes);
    PB_CHECK(back.if_version == req->if_version);
    PB_CHECK(back.frame_bytes == req->frame_bytes);
    PB_CHECK(memcmp(back.key, req->key, req->key_bytes) == 0);
    PB_CHECK(req->value_bytes == 0 || memcmp(back.value, req->value, req->value_bytes) == 0);
    PB_CHECK(bin_req_validate(&back) == verdict);
    free(again);
}

/* One framed response at buf[0..frame_bytes). */
static inline void pb_check_resp(const uint8_t *buf, size_t frame_bytes, const struct bin_resp *resp)
{
    PB_CHECK(frame_bytes >= RKV_RESP_HDR_BYTES);
    PB_CHECK(frame_bytes == RKV_RESP_HDR_BYTES + (size_t)resp->value_bytes);
    PB_CHECK(resp->value_bytes <= RKV_VALUE_BYTES_MAX);
    PB_CHECK(resp->value == buf + RKV_RESP_HDR_BYTES);
    PB_CHECK(resp->flags == 0);
    pb_check_resp_prefixes(buf, frame_bytes);

    uint8_t hdr[RKV_RESP_HDR_BYTES];
    bin_resp_encode_hdr(hdr, resp);
    PB_CHECK(memcmp(hdr, buf, RKV_RESP_HDR_BYTES) == 0);
}

/* Reads data as requests, frame after frame, then again as responses. */
static inline void proto_bin_check(const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (unsigned n = 0; n < PB_FRAMES_PER_PASS_MAX && off <= size; n++) {
        struct bin_req req;
        size_t fb = 1;
        enum rkv_err why = RKV_INTERNAL;
        enum parse_rc rc = bin_req_decode(data + off, size - off, &req, &fb, &why);
        if (rc == PARSE_DONE) {
            PB_CHECK(why == RKV_OK);
            PB_CHECK(fb <= size - off);
            pb_check_req(data + off, fb, &req);
            off += fb;
            continue;
        }
        if (rc == PARSE_INVALID) {
            PB_CHECK(why == RKV_BAD_FRAME || why == RKV_FRAME_TOO_LONG);
            PB_CHECK(fb == 0);
        } else {
            PB_CHECK(rc == PARSE_NEED_MORE);
            PB_CHECK(why == RKV_OK);
            PB_CHECK(size - off < 4 ? fb == 0 : fb > size - off);
        }
        break;
    }

    off = 0;
    for (unsigned n = 0; n < PB_FRAMES_PER_PASS_MAX && off <= size; n++) {
        struct bin_resp resp;
        size_t fb = 1;
        enum rkv_err why = RKV_INTERNAL;
        enum parse_rc rc = bin_resp_decode(data + off, size - off, &resp, &fb, &why);
        if (rc == PARSE_DONE) {
            PB_CHECK(why == RKV_OK);
            PB_CHECK(fb <= size - off);
            pb_check_resp(data + off, fb, &resp);
            off += fb;
            continue;
        }
        if (rc == PARSE_INVALID) {
            PB_CHECK(why == RKV_BAD_FRAME || why == RKV_FRAME_TOO_LONG);
        } else {
            PB_CHECK(rc == PARSE_NEED_MORE);
            PB_CHECK(size - off < 4 ? fb == 0 : fb > size - off);
        }
        break;
    }
}

#endif
