/* The binary protocol codec (layout tables in net/proto_bin.h and docs/protocol.md). Every
 * function is pure over caller-owned buffers: nothing is allocated and nothing is kept, so
 * any thread may call any of them. Bytes from the network are never trusted: each length is
 * checked against its limit before it is used to index anything, and input errors are
 * answered with a parse_rc or an enum rkv_err, never an assertion. Assertions here guard
 * only the caller's own arguments. */
#include "net/proto_bin.h"

#include <string.h>

#include "core/assert.h"
#include "core/bytes.h"

/* The length field counts the bytes after itself. */
#define BIN_LEN_FIELD_BYTES 4u
#define BIN_REQ_FIXED_BYTES (RKV_REQ_HDR_BYTES - BIN_LEN_FIELD_BYTES)   /* 28 */
#define BIN_RESP_FIXED_BYTES (RKV_RESP_HDR_BYTES - BIN_LEN_FIELD_BYTES) /* 36 */
/* The largest response: a GET of the largest value. Error messages are far smaller. */
#define BIN_RESP_FRAME_BYTES_MAX (BIN_RESP_FIXED_BYTES + RKV_VALUE_BYTES_MAX)

/* Request header offsets (net/proto_bin.h). */
enum {
    REQ_OFF_FRAME_BYTES = 0,
    REQ_OFF_REQUEST_ID = 4,
    REQ_OFF_OPCODE = 8,
    REQ_OFF_CONSISTENCY = 9,
    REQ_OFF_FLAGS = 10,
    REQ_OFF_KEY_BYTES = 12,
    REQ_OFF_RESERVED = 14,
    REQ_OFF_TTL_S = 16,
    REQ_OFF_VALUE_BYTES = 20,
    REQ_OFF_IF_VERSION = 24,
    REQ_OFF_KEY = 32,
};

/* Response header offsets (net/proto_bin.h). */
enum {
    RESP_OFF_FRAME_BYTES = 0,
    RESP_OFF_REQUEST_ID = 4,
    RESP_OFF_OPCODE = 8,
    RESP_OFF_STATUS = 9,
    RESP_OFF_FLAGS = 10,
    RESP_OFF_ACKED = 12,
    RESP_OFF_NEEDED = 13,
    RESP_OFF_HINTED = 14,
    RESP_OFF_RESERVED1 = 15,
    RESP_OFF_VERSION = 16,
    RESP_OFF_TIMESTAMP = 24,
    RESP_OFF_VALUE_BYTES = 32,
    RESP_OFF_RESERVED4 = 36,
    RESP_OFF_VALUE = 40,
};

_Static_assert(REQ_OFF_KEY == RKV_REQ_HDR_BYTES, "request table and limits.h agree");
_Static_assert(RESP_OFF_VALUE == RKV_RESP_HDR_BYTES, "response table and limits.h agree");
_Static_assert(BIN_RESP_FRAME_BYTES_MAX < RKV_FRAME_BYTES_MAX, "a response fits the frame limit");

enum parse_rc bin_req_decode(const uint8_t *buf, size_t len, struct bin_req *req_out,
                             size_t *frame_bytes_out, enum rkv_err *why_out)
{
    RKV_ASSERT(buf != NULL || len == 0);
    RKV_ASSERT(req_out != NULL);
    RKV_ASSERT(frame_bytes_out != NULL);
    RKV_ASSERT(why_out != NULL);

    memset(req_out, 0, sizeof(*req_out));
    *frame_bytes_out = 0;
    *why_out = RKV_OK;

    if (len < BIN_LEN_FIELD_BYTES)
        return PARSE_NEED_MORE;

    /* The length field decides whether the stream can be trusted at all, so it is checked
     * before anything else, even before the rest of the header has arrived. */
    uint32_t frame_bytes = load_be32(buf + REQ_OFF_FRAME_BYTES);
    if (frame_bytes < BIN_REQ_FIXED_BYTES) {
        *why_out = RKV_BAD_FRAME;
        return PARSE_INVALID;
    }
    if (frame_bytes > RKV_FRAME_BYTES_MAX) {
        *why_out = RKV_FRAME_TOO_LONG;
        return PARSE_INVALID;
    }
    size_t whole_bytes = (size_t)frame_bytes + BIN_LEN_FIELD_BYTES;
    *frame_bytes_out = whole_bytes;
    if (len < whole_bytes)
        return PARSE_NEED_MORE;

    req_out->frame_bytes = frame_bytes;
    req_out->request_id = load_be32(buf + REQ_OFF_REQUEST_ID);
    req_out->opcode = buf[REQ_OFF_OPCODE];
    req_out->consistency = buf[REQ_OFF_CONSISTENCY];
    req_out->flags = load_be16(buf + REQ_OFF_FLAGS);
    req_out->key_bytes = load_be16(buf + REQ_OFF_KEY_BYTES);
    req_out->reserved = load_be16(buf + REQ_OFF_RESERVED);
    req_out->ttl_s = load_be32(buf + REQ_OFF_TTL_S);
    req_out->value_bytes = load_be32(buf + REQ_OFF_VALUE_BYTES);
    req_out->if_version = load_be64(buf + REQ_OFF_IF_VERSION);

    /* The sum is taken in 64 bits: value_bytes alone may be near UINT32_MAX. Only when the
     * lengths agree with the frame do key and value point anywhere; otherwise they stay NULL
     * and bin_req_validate() answers RKV_BAD_FRAME. */
    uint64_t body_bytes = (uint64_t)req_out->key_bytes + req_out->value_bytes;
    if (body_bytes == (uint64_t)frame_bytes - BIN_REQ_FIXED_BYTES) {
        req_out->key = buf + REQ_OFF_KEY;
        req_out->value = buf + REQ_OFF_KEY + req_out->key_bytes;
    }
    return PARSE_DONE;
}

static bool bin_opcode_known(uint8_t opcode)
{
    switch (opcode) {
    case BIN_OP_PING:
    case BIN_OP_GET:
    case BIN_OP_PUT:
    case BIN_OP_DELETE:
        return true;
    default:
        return false;
    }
}

enum rkv_err bin_req_validate(const struct bin_req *req)
{
    RKV_ASSERT(req != NULL);

    /* The order is part of the contract: a request with several faults is answered with the
     * first that applies, so tests and clients see one predictable status. */
    if (!bin_opcode_known(req->opcode))
        return RKV_UNKNOWN_OPCODE;
    if (req->frame_bytes != 0 &&
        (uint64_t)req->frame_bytes != (uint64_t)BIN_REQ_FIXED_BYTES + req->key_bytes + req->value_bytes)
        return RKV_BAD_FRAME;
    if (req->reserved != 0)
        return RKV_BAD_FRAME;
    if ((req->flags & ~BIN_REQ_F_KNOWN) != 0)
        return RKV_BAD_FRAME;
    if (req->consistency > BIN_CONS_ALL)
        return RKV_BAD_CONSISTENCY;

    bool is_put = req->opcode == BIN_OP_PUT;
    if (req->opcode == BIN_OP_PING) {
        if (req->key_bytes != 0)
            return RKV_INVALID_ARG;
    } else {
        if (req->key_bytes == 0)
            return RKV_KEY_EMPTY;
        if (req->key_bytes > RKV_KEY_BYTES_MAX)
            return RKV_KEY_TOO_LONG;
    }
    if (req->value_bytes > RKV_VALUE_BYTES_MAX)
        return is_put ? RKV_VALUE_TOO_LONG : RKV_INVALID_ARG;
    if (!is_put && req->value_bytes != 0)
        return RKV_INVALID_ARG;
    if (req->ttl_s > RKV_TTL_S_MAX)
        return is_put ? RKV_BAD_TTL : RKV_INVALID_ARG;
    if (!is_put && req->ttl_s != 0)
        return RKV_INVALID_ARG;
    if ((req->flags & BIN_REQ_F_IF_VERSION) != 0 && !is_put)
        return RKV_INVALID_ARG;
    /* Without its flag, if_version 0 would be indistinguishable from "only if absent". */
    if ((req->flags & BIN_REQ_F_IF_VERSION) == 0 && req->if_version != 0)
        return RKV_INVALID_ARG;
    return RKV_OK;
}

size_t bin_req_frame_bytes(const struct bin_req *req)
{
    RKV_ASSERT(req != NULL);
    return (size_t)RKV_REQ_HDR_BYTES + req->key_bytes + req->value_bytes;
}

size_t bin_req_encode(uint8_t *buf, size_t cap, const struct bin_req *req)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(req->key != NULL || req->key_bytes == 0);
    RKV_ASSERT(req->value != NULL || req->value_bytes == 0);

    uint64_t after_len_bytes = (uint64_t)BIN_REQ_FIXED_BYTES + req->key_bytes + req->value_bytes;
    if (after_len_bytes > UINT32_MAX)
        return 0;
    size_t whole_bytes = bin_req_frame_bytes(req);
    if (buf == NULL || cap < whole_bytes)
        return 0;

    store_be32(buf + REQ_OFF_FRAME_BYTES, (uint32_t)after_len_bytes);
    store_be32(buf + REQ_OFF_REQUEST_ID, req->request_id);
    buf[REQ_OFF_OPCODE] = req->opcode;
    buf[REQ_OFF_CONSISTENCY] = req->consistency;
    store_be16(buf + REQ_OFF_FLAGS, req->flags);
    store_be16(buf + REQ_OFF_KEY_BYTES, req->key_bytes);
    store_be16(buf + REQ_OFF_RESERVED, req->reserved);
    store_be32(buf + REQ_OFF_TTL_S, req->ttl_s);
    store_be32(buf + REQ_OFF_VALUE_BYTES, req->value_bytes);
    store_be64(buf + REQ_OFF_IF_VERSION, req->if_version);
    if (req->key_bytes != 0)
        memcpy(buf + REQ_OFF_KEY, req->key, req->key_bytes);
    if (req->value_bytes != 0)
        memcpy(buf + REQ_OFF_KEY + req->key_bytes, req->value, req->value_bytes);
    return whole_bytes;
}

void bin_resp_encode_hdr(uint8_t hdr_out[RKV_RESP_HDR_BYTES], const struct bin_resp *resp)
{
    RKV_ASSERT(hdr_out != NULL);
    RKV_ASSERT(resp != NULL);
    /* A response over the limit would be refused by every decoder: it is our own bug. */
    RKV_ASSERT(resp->value_bytes <= RKV_VALUE_BYTES_MAX);

    store_be32(hdr_out + RESP_OFF_FRAME_BYTES, BIN_RESP_FIXED_BYTES + resp->value_bytes);
    store_be32(hdr_out + RESP_OFF_REQUEST_ID, resp->request_id);
    hdr_out[RESP_OFF_OPCODE] = resp->opcode;
    hdr_out[RESP_OFF_STATUS] = resp->status;
    store_be16(hdr_out + RESP_OFF_FLAGS, resp->flags);
    hdr_out[RESP_OFF_ACKED] = resp->acked;
    hdr_out[RESP_OFF_NEEDED] = resp->needed;
    hdr_out[RESP_OFF_HINTED] = resp->hinted;
    hdr_out[RESP_OFF_RESERVED1] = 0;
    store_be64(hdr_out + RESP_OFF_VERSION, resp->version);
    store_be64(hdr_out + RESP_OFF_TIMESTAMP, resp->timestamp);
    store_be32(hdr_out + RESP_OFF_VALUE_BYTES, resp->value_bytes);
    store_be32(hdr_out + RESP_OFF_RESERVED4, 0);
}

enum parse_rc bin_resp_decode(const uint8_t *buf, size_t len, struct bin_resp *resp_out,
                              size_t *frame_bytes_out, enum rkv_err *why_out)
{
    RKV_ASSERT(buf != NULL || len == 0);
    RKV_ASSERT(resp_out != NULL);
    RKV_ASSERT(frame_bytes_out != NULL);
    RKV_ASSERT(why_out != NULL);

    memset(resp_out, 0, sizeof(*resp_out));
    *frame_bytes_out = 0;
    *why_out = RKV_OK;

    if (len < BIN_LEN_FIELD_BYTES)
        return PARSE_NEED_MORE;
    uint32_t frame_bytes = load_be32(buf + RESP_OFF_FRAME_BYTES);
    if (frame_bytes < BIN_RESP_FIXED_BYTES) {
        *why_out = RKV_BAD_FRAME;
        return PARSE_INVALID;
    }
    /* A response carries at most one value, so its limit is tighter than a request's. */
    if (frame_bytes > BIN_RESP_FRAME_BYTES_MAX) {
        *why_out = RKV_FRAME_TOO_LONG;
        return PARSE_INVALID;
    }
    size_t whole_bytes = (size_t)frame_bytes + BIN_LEN_FIELD_BYTES;
    *frame_bytes_out = whole_bytes;
    if (len < whole_bytes)
        return PARSE_NEED_MORE;

    /* A response has no "answer with a status" path: whoever reads it is a client, and a
     * server that sends a bad header cannot be trusted for the rest of the stream. */
    uint32_t value_bytes = load_be32(buf + RESP_OFF_VALUE_BYTES);
    if (value_bytes != frame_bytes - BIN_RESP_FIXED_BYTES || load_be16(buf + RESP_OFF_FLAGS) != 0 ||
        buf[RESP_OFF_RESERVED1] != 0 || load_be32(buf + RESP_OFF_RESERVED4) != 0) {
        *why_out = RKV_BAD_FRAME;
        return PARSE_INVALID;
    }

    resp_out->request_id = load_be32(buf + RESP_OFF_REQUEST_ID);
    resp_out->opcode = buf[RESP_OFF_OPCODE];
    resp_out->status = buf[RESP_OFF_STATUS];
    resp_out->flags = 0;
    resp_out->acked = buf[RESP_OFF_ACKED];
    resp_out->needed = buf[RESP_OFF_NEEDED];
    resp_out->hinted = buf[RESP_OFF_HINTED];
    resp_out->version = load_be64(buf + RESP_OFF_VERSION);
    resp_out->timestamp = load_be64(buf + RESP_OFF_TIMESTAMP);
    resp_out->value_bytes = value_bytes;
    resp_out->value = buf + RESP_OFF_VALUE;
    return PARSE_DONE;
}
