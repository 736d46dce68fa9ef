/* The binary protocol codec, the one implementation shared by the server, the client
 * library and the benchmark. Frames are length-prefixed, carry a request id (so requests
 * pipeline and responses may come back out of order), and all integers are big-endian.
 * Pure functions over caller-owned buffers: no allocation, callable from any thread.
 * docs/protocol.md describes the same layout for people.
 *
 * Request frame (RKV_REQ_HDR_BYTES = 32, then key, then value):
 *   OFFSET SIZE FIELD        NOTES
 *        0    4 frame_bytes  bytes after this field: 28 + key_bytes + value_bytes
 *        4    4 request_id   echoed in the response
 *        8    1 opcode       enum bin_opcode
 *        9    1 consistency  0 one, 1 quorum, 2 all
 *       10    2 flags        BIN_REQ_F_*; unknown bits must be zero
 *       12    2 key_bytes    1..RKV_KEY_BYTES_MAX (0 for PING)
 *       14    2 reserved     must be zero
 *       16    4 ttl_s        PUT only: 0 = never expires, else seconds, <= RKV_TTL_S_MAX
 *       20    4 value_bytes  PUT only: 0..RKV_VALUE_BYTES_MAX
 *       24    8 if_version   PUT with BIN_REQ_F_IF_VERSION: 0 = only if absent
 *       32    k key
 *     32+k    v value
 *
 * Response frame (RKV_RESP_HDR_BYTES = 40, then value):
 *   OFFSET SIZE FIELD        NOTES
 *        0    4 frame_bytes  bytes after this field: 36 + value_bytes
 *        4    4 request_id   of the request answered
 *        8    1 opcode       of the request answered
 *        9    1 status       wire code of enum rkv_err (core/err.h)
 *       10    2 flags        reserved, zero
 *       12    1 acked        replicas that acknowledged (reads: answered)
 *       13    1 needed       replicas the consistency level required
 *       14    1 hinted       acknowledgements that were hints
 *       15    1 reserved     zero
 *       16    8 version      OK PUT/GET: the key's version; VERSION_MISMATCH: the current one
 *       24    8 timestamp    OK PUT/GET/DELETE: HLC timestamp (ms << 16 | logical)
 *       32    4 value_bytes
 *       36    4 reserved     zero
 *       40    v value        OK GET: the value; any error: a one-sentence message
 */
#ifndef RKV_NET_PROTO_BIN_H
#define RKV_NET_PROTO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"

enum bin_opcode {
    BIN_OP_PING = 0x01,
    BIN_OP_GET = 0x02,
    BIN_OP_PUT = 0x03,
    BIN_OP_DELETE = 0x04,
    /* 0x40..0x7f: admin opcodes; 0x80..0xff: peer opcodes (DESIGN §6). */
};

enum bin_consistency { BIN_CONS_ONE = 0, BIN_CONS_QUORUM = 1, BIN_CONS_ALL = 2 };

#define BIN_REQ_F_IF_VERSION 0x0001u /* PUT: conditional on if_version */
#define BIN_REQ_F_KNOWN (BIN_REQ_F_IF_VERSION)

/* A decoded request. key and value point into the buffer given to bin_req_decode() and are
 * valid as long as that buffer is. */
struct bin_req {
    uint32_t request_id;
    uint8_t opcode;
    uint8_t consistency;
    uint16_t flags;
    uint16_t key_bytes;
    uint16_t reserved;
    uint32_t ttl_s;
    uint32_t value_bytes;
    uint64_t if_version;
    const uint8_t *key;
    const uint8_t *value;
    /* Set by bin_req_decode(): the length field as received. A frame whose length field
     * disagrees with 28 + key_bytes + value_bytes is still framed (and answered with
     * RKV_BAD_FRAME by bin_req_validate()); key and value are then NULL. 0 in a request built
     * for bin_req_encode(), which computes the length itself; validate skips the check. */
    uint32_t frame_bytes;
};

struct bin_resp {
    uint32_t request_id;
    uint8_t opcode;
    uint8_t status; /* wire code */
    uint16_t flags;
    uint8_t acked, needed, hinted;
    uint64_t version;
    uint64_t timestamp;
    uint32_t value_bytes;
    const uint8_t *value; /* valid as long as the decoded buffer is */
};

enum parse_rc { PARSE_DONE, PARSE_NEED_MORE, PARSE_INVALID };

/* Frames one request at the start of buf[0..len).
 * PARSE_DONE: *req_out describes it and *frame_bytes_out is its whole size including the
 *   length field; the frame may still be semantically bad: call bin_req_validate().
 * PARSE_NEED_MORE: the frame is incomplete; *frame_bytes_out is its whole size when the
 *   length field was readable (so the caller can size its buffer), else 0.
 * PARSE_INVALID: the bytes cannot be framed (length field under the header size or over
 *   RKV_FRAME_BYTES_MAX): the stream cannot be trusted and must be closed; *why_out says why
 *   (RKV_BAD_FRAME or RKV_FRAME_TOO_LONG).
 * Out-parameters are set on entry. */
enum parse_rc bin_req_decode(const uint8_t *buf, size_t len, struct bin_req *req_out,
                             size_t *frame_bytes_out, enum rkv_err *why_out);

/* Checks a framed request against the contract: opcode known, consistency in range, flags
 * known, reserved zero, key 1..256 bytes (PING: none), value <= 1 MiB and only on PUT, TTL
 * <= 10 years and only on PUT, if_version only with its flag. RKV_OK or the error status to
 * answer with; the stream stays usable either way. */
enum rkv_err bin_req_validate(const struct bin_req *req);

/* Bytes bin_req_encode() writes for req. */
size_t bin_req_frame_bytes(const struct bin_req *req);
/* Encodes header, key and value into buf; returns bytes written, or 0 when cap is too small.
 * Does not validate: tests use it to build bad frames. */
size_t bin_req_encode(uint8_t *buf, size_t cap, const struct bin_req *req);

/* Writes the 40-byte response header for resp (value_bytes included, value not copied): the
 * caller sends resp->value after it, so a large value is never copied into a frame. */
void bin_resp_encode_hdr(uint8_t hdr_out[RKV_RESP_HDR_BYTES], const struct bin_resp *resp);
/* Frames one response; same three-way contract as bin_req_decode(). A value over
 * RKV_VALUE_BYTES_MAX or nonzero reserved bytes are PARSE_INVALID. */
enum parse_rc bin_resp_decode(const uint8_t *buf, size_t len, struct bin_resp *resp_out,
                              size_t *frame_bytes_out, enum rkv_err *why_out);

#endif
