/* The property check shared by the libFuzzer target (proto_peer_fuzz.c) and the corpus replay
 * test (proto_peer_replay_test.c): any bytes, read as a stream of peer frames, must decode
 * three-way without reading out of bounds; a delimited frame, good or malformed, must let
 * the reader skip to the next one; every complete frame must get a status from
 * peer_frame_validate() that agrees with the rules it promises, must re-encode to exactly
 * the same bytes (whole, and head plus value), and must ask for more at every proper prefix
 * tried. A violated property aborts, which both harnesses report as a failure. Header-only
 * (static inline) so both can include it. */
#ifndef RKV_TESTS_FUZZ_PROTO_PEER_CHECK_H
#define RKV_TESTS_FUZZ_PROTO_PEER_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/limits.h"
#include "net/proto_bin.h"
#include "net/proto_peer.h"

#define PP_CHECK(cond)                                                                       \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "proto_peer_check: %s does not hold (line %d)\n", #cond, __LINE__); \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* Frames handled per input, so that one input cannot run for long. */
#define PP_FRAMES_PER_INPUT_MAX 64u

static inline bool pp_opcode_known(uint8_t op)
{
    return (op >= PEER_OP_HELLO && op <= PEER_OP_FORWARD_ACK) || op == PEER_OP_HINT_LIST ||
           op == PEER_OP_HINT_LIST_ACK;
}

static inline bool pp_client_opcode_forwardable(uint8_t op)
{
    return op == BIN_OP_GET || op == BIN_OP_PUT || op == BIN_OP_DELETE;
}

/* A few proper prefixes stand for all of them, to keep each run short. */
static inline void pp_check_prefixes(const uint8_t *buf, size_t frame_bytes)
{
    const size_t lens[] = {0, 1, 3, 4, 5, PEER_HDR_BYTES - 1, PEER_HDR_BYTES, frame_bytes / 2, frame_bytes - 1};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        if (lens[i] >= frame_bytes)
            continue;
        struct peer_frame f;
        size_t fb = 1;
        enum rkv_err why = RKV_INTERNAL;
        PP_CHECK(peer_frame_decode(buf, lens[i], &f, &fb, &why) == PARSE_NEED_MORE);
        PP_CHECK(fb == (lens[i] < 4 ? 0 : frame_bytes));
        PP_CHECK(why == RKV_OK);
    }
}

static inline bool pp_str_eq(const struct peer_str *a, const struct peer_str *b)
{
    return a->bytes == b->bytes && (a->bytes == 0 || memcmp(a->data, b->data, a->bytes) == 0);
}

/* What a valid frame must look like, whatever validate's internals. */
static inline void pp_check_valid(const struct peer_frame *f)
{
    PP_CHECK(pp_opcode_known(f->opcode));
    bool answer = (f->opcode & 1u) != 0;
    PP_CHECK(answer || (f->status == 0 && f->err == 0));
    PP_CHECK(f->status < PEER_ST_COUNT);
    PP_CHECK((f->status == PEER_ST_ERROR) == (f->err != 0));
    switch (f->opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK:
        PP_CHECK(f->hello.proto_version == PEER_PROTO_VERSION);
        PP_CHECK(peer_node_id_valid(f->hello.node_id.data, f->hello.node_id.bytes));
        PP_CHECK(f->hello.cluster.bytes <= PEER_CLUSTER_BYTES_MAX);
        PP_CHECK(f->hello.shard_count >= 1 && f->hello.shard_count <= RKV_SHARDS_MAX);
        PP_CHECK(f->hello.vnode_count >= 1 && f->hello.vnode_count <= RKV_VNODES_MAX);
        PP_CHECK(f->hello.token_count == 0 || f->hello.token_count == f->hello.vnode_count);
        PP_CHECK(f->hello.bin_addr.port != 0 && f->hello.peer_addr.port != 0);
        PP_CHECK((f->hello.http_addr.port == 0) == (f->hello.http_addr.host.bytes == 0));
        for (uint32_t i = 0; i < f->hello.token_count; i++)
            (void)peer_hello_token(&f->hello, i);
        break;
    case PEER_OP_PING:
        PP_CHECK(f->ping.echo_ts == 0);
        break;
    case PEER_OP_PONG:
        break;
    case PEER_OP_REPLICA_WRITE:
        PP_CHECK(f->write.key.bytes >= 1 && f->write.key.bytes <= RKV_KEY_BYTES_MAX);
        PP_CHECK(f->write.rec.value_bytes <= RKV_VALUE_BYTES_MAX);
        PP_CHECK((f->write.rec.flags & ~PEER_REC_F_KNOWN) == 0);
        PP_CHECK(!(f->write.rec.flags & PEER_REC_F_TOMBSTONE) || f->write.rec.value_bytes == 0);
        PP_CHECK(f->write.rec.version >= 1 && f->write.rec.timestamp >= 1);
        PP_CHECK(f->write.consistency <= BIN_CONS_ALL);
        PP_CHECK(f->write.deadline_ms >= 1 && f->write.deadline_ms <= PEER_DEADLINE_MS_MAX);
        PP_CHECK(f->write.hint.bytes == 0 || peer_node_id_valid(f->write.hint.data, f->write.hint.bytes));
        break;
    case PEER_OP_REPLICA_WRITE_ACK:
        PP_CHECK(f->status != PEER_ST_NOT_FOUND);
        break;
    case PEER_OP_REPLICA_READ:
        PP_CHECK(f->read.key.bytes >= 1 && f->read.key.bytes <= RKV_KEY_BYTES_MAX);
        PP_CHECK((f->read.flags & ~PEER_READ_F_KNOWN) == 0);
        PP_CHECK(f->read.deadline_ms >= 1 && f->read.deadline_ms <= PEER_DEADLINE_MS_MAX);
        break;
    case PEER_OP_REPLICA_READ_ACK:
        PP_CHECK(f->status == PEER_ST_OK || f->status == PEER_ST_NOT_FOUND || f->status == PEER_ST_ERROR);
        PP_CHECK(f->read_ack.rec.value_bytes <= RKV_VALUE_BYTES_MAX);
        PP_CHECK(!(f->read_ack.flags & PEER_READ_ACK_F_DIGEST) || f->read_ack.rec.value_bytes == 0);
        /* The digest of what arrived can always be computed, within the buffer. */
        (void)peer_record_digest(&f->read_ack.rec);
        break;
    case PEER_OP_FORWARD: {
        const struct peer_forward *w = &f->forward;
        bool is_put = w->client_opcode == BIN_OP_PUT;
        PP_CHECK(pp_client_opcode_forwardable(w->client_opcode));
        PP_CHECK((w->req_flags & ~BIN_REQ_F_KNOWN) == 0);
        PP_CHECK(w->consistency <= BIN_CONS_ALL);
        PP_CHECK(w->key.bytes >= 1 && w->key.bytes <= RKV_KEY_BYTES_MAX);
        PP_CHECK(w->value.bytes <= RKV_VALUE_BYTES_MAX && (is_put || w->value.bytes == 0));
        PP_CHECK(w->ttl_s <= RKV_TTL_S_MAX && (is_put || w->ttl_s == 0));
        PP_CHECK(is_put || (w->req_flags & BIN_REQ_F_IF_VERSION) == 0);
        PP_CHECK((w->req_flags & BIN_REQ_F_IF_VERSION) != 0 || w->if_version == 0);
        PP_CHECK(w->deadline_ms >= 1 && w->deadline_ms <= PEER_DEADLINE_MS_MAX);
        /* The same client request passes the client protocol's own check. */
        struct bin_req r = {.opcode = w->client_opcode, .consistency = w->consistency, .flags = w->req_flags,
                            .key_bytes = (uint16_t)w->key.bytes, .ttl_s = w->ttl_s, .value_bytes = w->value.bytes,
                            .if_version = w->if_version, .key = w->key.data, .value = w->value.data};
        PP_CHECK(bin_req_validate(&r) == RKV_OK);
        break;
    }
    case PEER_OP_FORWARD_ACK: {
        const struct peer_forward_ack *a = &f->forward_ack;
        PP_CHECK(f->status == PEER_ST_OK || f->status == PEER_ST_NOT_FOUND || f->status == PEER_ST_ERROR);
        PP_CHECK(a->value.bytes <= RKV_VALUE_BYTES_MAX);
        PP_CHECK((unsigned)a->acked + a->hinted <= RKV_RF_MAX && a->needed <= RKV_RF_MAX);
        if (f->status != PEER_ST_ERROR)
            PP_CHECK(a->needed >= 1 && (unsigned)a->acked + a->hinted >= a->needed);
        if (f->status == PEER_ST_OK)
            PP_CHECK(a->version >= 1 && a->timestamp >= 1);
        else
            PP_CHECK(a->timestamp == 0 && a->value.bytes == 0);
        break;
    }
    case PEER_OP_HINT_LIST:
        PP_CHECK(f->hint_list.key.bytes >= 1 && f->hint_list.key.bytes <= RKV_KEY_BYTES_MAX);
        break;
    case PEER_OP_HINT_LIST_ACK:
        PP_CHECK(f->status == PEER_ST_OK || f->status == PEER_ST_ERROR);
        PP_CHECK(f->hint_list_ack.count <= PEER_HINT_LIST_ENTRIES_MAX);
        PP_CHECK(f->status == PEER_ST_OK || f->hint_list_ack.count == 0);
        for (uint32_t i = 0; i < f->hint_list_ack.count; i++) {
            struct peer_hint_entry e;
            peer_hint_list_entry(&f->hint_list_ack, i, &e);
            PP_CHECK(peer_node_id_valid(e.target.data, e.target.bytes));
            PP_CHECK(e.version >= 1 && e.timestamp >= 1);
        }
        break;
    default:
        PP_CHECK(false);
    }
}

/* The bytes of a decoded hint list answer's entry table and targets, walked in one pass (the
 * count of a malformed-but-framed answer may be large, so no per-entry lookups). */
static inline size_t pp_hint_list_bytes(const struct peer_hint_list_ack *a)
{
    size_t n = (size_t)a->count * PEER_HINT_LIST_ENTRY_BYTES;
    for (uint32_t i = 0; i < a->count; i++)
        n += a->entries_wire[(size_t)i * PEER_HINT_LIST_ENTRY_BYTES];
    return n;
}

/* The decoded frames a and b carry the same fields. */
static inline void pp_check_same(const struct peer_frame *a, const struct peer_frame *b)
{
    PP_CHECK(a->request_id == b->request_id && a->opcode == b->opcode);
    PP_CHECK(a->status == b->status && a->err == b->err);
    switch (a->opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK:
        PP_CHECK(a->hello.proto_version == b->hello.proto_version && a->hello.hlc_ts == b->hello.hlc_ts);
        PP_CHECK(a->hello.shard_count == b->hello.shard_count && a->hello.vnode_count == b->hello.vnode_count);
        PP_CHECK(a->hello.token_count == b->hello.token_count);
        PP_CHECK(a->hello.token_count == 0 ||
                 memcmp(a->hello.tokens_wire, b->hello.tokens_wire, 8u * a->hello.token_count) == 0);
        PP_CHECK(pp_str_eq(&a->hello.node_id, &b->hello.node_id) && pp_str_eq(&a->hello.cluster, &b->hello.cluster));
        PP_CHECK(pp_str_eq(&a->hello.bin_addr.host, &b->hello.bin_addr.host) &&
                 a->hello.bin_addr.port == b->hello.bin_addr.port);
        PP_CHECK(pp_str_eq(&a->hello.http_addr.host, &b->hello.http_addr.host) &&
                 a->hello.http_addr.port == b->hello.http_addr.port);
        PP_CHECK(pp_str_eq(&a->hello.peer_addr.host, &b->hello.peer_addr.host) &&
                 a->hello.peer_addr.port == b->hello.peer_addr.port);
        break;
    case PEER_OP_PING:
    case PEER_OP_PONG:
        PP_CHECK(a->ping.hlc_ts == b->ping.hlc_ts && a->ping.echo_ts == b->ping.echo_ts);
        break;
    case PEER_OP_REPLICA_WRITE:
        PP_CHECK(a->write.token == b->write.token && a->write.deadline_ms == b->write.deadline_ms);
        PP_CHECK(a->write.consistency == b->write.consistency);
        PP_CHECK(pp_str_eq(&a->write.key, &b->write.key) && pp_str_eq(&a->write.hint, &b->write.hint));
        PP_CHECK(a->write.rec.flags == b->write.rec.flags && a->write.rec.origin == b->write.rec.origin);
        PP_CHECK(a->write.rec.timestamp == b->write.rec.timestamp && a->write.rec.version == b->write.rec.version);
        PP_CHECK(a->write.rec.expiry_ms == b->write.rec.expiry_ms);
        PP_CHECK(a->write.rec.value_bytes == b->write.rec.value_bytes);
        PP_CHECK(a->write.rec.value_bytes == 0 ||
                 memcmp(a->write.rec.value, b->write.rec.value, a->write.rec.value_bytes) == 0);
        break;
    case PEER_OP_REPLICA_WRITE_ACK:
        PP_CHECK(a->write_ack.version == b->write_ack.version && a->write_ack.timestamp == b->write_ack.timestamp);
        break;
    case PEER_OP_REPLICA_READ:
        PP_CHECK(a->read.token == b->read.token && a->read.deadline_ms == b->read.deadline_ms);
        PP_CHECK(a->read.flags == b->read.flags && pp_str_eq(&a->read.key, &b->read.key));
        break;
    case PEER_OP_REPLICA_READ_ACK:
        PP_CHECK(a->read_ack.flags == b->read_ack.flags && a->read_ack.digest == b->read_ack.digest);
        PP_CHECK(a->read_ack.rec.flags == b->read_ack.rec.flags && a->read_ack.rec.origin == b->read_ack.rec.origin);
        PP_CHECK(a->read_ack.rec.timestamp == b->read_ack.rec.timestamp);
        PP_CHECK(a->read_ack.rec.version == b->read_ack.rec.version);
        PP_CHECK(a->read_ack.rec.expiry_ms == b->read_ack.rec.expiry_ms);
        PP_CHECK(a->read_ack.rec.value_bytes == b->read_ack.rec.value_bytes);
        PP_CHECK(a->read_ack.rec.value_bytes == 0 ||
                 memcmp(a->read_ack.rec.value, b->read_ack.rec.value, a->read_ack.rec.value_bytes) == 0);
        break;
    case PEER_OP_FORWARD:
        PP_CHECK(a->forward.token == b->forward.token && a->forward.if_version == b->forward.if_version);
        PP_CHECK(a->forward.ttl_s == b->forward.ttl_s && a->forward.deadline_ms == b->forward.deadline_ms);
        PP_CHECK(a->forward.client_opcode == b->forward.client_opcode);
        PP_CHECK(a->forward.consistency == b->forward.consistency && a->forward.req_flags == b->forward.req_flags);
        PP_CHECK(pp_str_eq(&a->forward.key, &b->forward.key) && pp_str_eq(&a->forward.value, &b->forward.value));
        break;
    case PEER_OP_FORWARD_ACK:
        PP_CHECK(a->forward_ack.version == b->forward_ack.version);
        PP_CHECK(a->forward_ack.timestamp == b->forward_ack.timestamp);
        PP_CHECK(a->forward_ack.acked == b->forward_ack.acked && a->forward_ack.needed == b->forward_ack.needed);
        PP_CHECK(a->forward_ack.hinted == b->forward_ack.hinted);
        PP_CHECK(pp_str_eq(&a->forward_ack.value, &b->forward_ack.value));
        break;
    case PEER_OP_HINT_LIST:
        PP_CHECK(a->hint_list.token == b->hint_list.token && pp_str_eq(&a->hint_list.key, &b->hint_list.key));
        break;
    case PEER_OP_HINT_LIST_ACK:
        PP_CHECK(a->hint_list_ack.count == b->hint_list_ack.count);
        PP_CHECK(a->hint_list_ack.entries == NULL && b->hint_list_ack.entries == NULL);
        PP_CHECK(pp_hint_list_bytes(&a->hint_list_ack) == pp_hint_list_bytes(&b->hint_list_ack));
        PP_CHECK(memcmp(a->hint_list_ack.entries_wire, b->hint_list_ack.entries_wire,
                        pp_hint_list_bytes(&a->hint_list_ack)) == 0);
        break;
    default:
        PP_CHECK(false);
    }
}

/* One complete frame at buf[0..frame_bytes). */
static inline void pp_check_frame(const uint8_t *buf, size_t frame_bytes, const struct peer_frame *f)
{
    PP_CHECK(frame_bytes >= PEER_HDR_BYTES);
    PP_CHECK(frame_bytes <= (size_t)RKV_FRAME_BYTES_MAX + 4u);
    PP_CHECK(pp_opcode_known(f->opcode));
    pp_check_prefixes(buf, frame_bytes);

    enum rkv_err verdict = peer_frame_validate(f);
    PP_CHECK((unsigned)verdict < (unsigned)RKV_ERR_COUNT);
    PP_CHECK(verdict != RKV_FRAME_TOO_LONG);
    /* The frame's own opcode is known once decoded; only a forwarded client opcode can be
     * unknown. */
    PP_CHECK(verdict != RKV_UNKNOWN_OPCODE ||
             (f->opcode == PEER_OP_FORWARD && !pp_client_opcode_forwardable(f->forward.client_opcode)));
    if (verdict == RKV_OK)
        pp_check_valid(f);

    /* The decoded frame encodes back to the very bytes it came from. */
    PP_CHECK(peer_frame_bytes(f) == frame_bytes);
    size_t head = peer_frame_head_bytes(f);
    PP_CHECK(head >= PEER_HDR_BYTES && head <= frame_bytes);
    /* What encode_head() leaves out is the decoded value, where it lies in the frame. */
    struct peer_str tail = peer_frame_value(f);
    PP_CHECK(head + tail.bytes == frame_bytes);
    PP_CHECK(tail.bytes == 0 || tail.data == buf + head);
    uint8_t *again = malloc(frame_bytes);
    PP_CHECK(again != NULL);
    PP_CHECK(peer_frame_encode(again, frame_bytes - 1, f) == 0);
    PP_CHECK(peer_frame_encode(again, frame_bytes, f) == frame_bytes);
    PP_CHECK(memcmp(again, buf, frame_bytes) == 0);
    memset(again, 0, frame_bytes);
    PP_CHECK(peer_frame_encode_head(again, head, f) == head);
    PP_CHECK(memcmp(again, buf, head) == 0);

    struct peer_frame back;
    size_t fb = 0;
    enum rkv_err why = RKV_INTERNAL;
    PP_CHECK(peer_frame_decode(buf, frame_bytes, &back, &fb, &why) == PARSE_DONE);
    PP_CHECK(fb == frame_bytes && why == RKV_OK);
    pp_check_same(f, &back);
    PP_CHECK(peer_frame_validate(&back) == verdict);
    free(again);
}

/* Reads data as a stream of peer frames, skipping delimited malformed ones as a receiver
 * would. */
static inline void proto_peer_check(const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (unsigned n = 0; n < PP_FRAMES_PER_INPUT_MAX && off <= size; n++) {
        struct peer_frame f;
        size_t fb = 1;
        enum rkv_err why = RKV_INTERNAL;
        enum parse_rc rc = peer_frame_decode(data + off, size - off, &f, &fb, &why);
        if (rc == PARSE_DONE) {
            PP_CHECK(why == RKV_OK);
            PP_CHECK(fb <= size - off);
            pp_check_frame(data + off, fb, &f);
            off += fb;
            continue;
        }
        if (rc == PARSE_INVALID) {
            if (fb == 0) {
                PP_CHECK(why == RKV_BAD_FRAME || why == RKV_FRAME_TOO_LONG);
                break;
            }
            PP_CHECK(why == RKV_BAD_FRAME || why == RKV_UNKNOWN_OPCODE);
            PP_CHECK(fb >= PEER_HDR_BYTES && fb <= size - off);
            PP_CHECK(f.opcode == data[off + 8]);
            PP_CHECK(f.request_id == ((uint32_t)data[off + 4] << 24 | (uint32_t)data[off + 5] << 16 |
                                      (uint32_t)data[off + 6] << 8 | data[off + 7]));
            PP_CHECK((why == RKV_UNKNOWN_OPCODE) == !pp_opcode_known(f.opcode));
            PP_CHECK(f.status == 0 && f.err == 0);
            off += fb;
            continue;
        }
        PP_CHECK(rc == PARSE_NEED_MORE);
        PP_CHECK(why == RKV_OK);
        PP_CHECK(size - off < 4 ? fb == 0 : fb > size - off);
        break;
    }
}

#endif
