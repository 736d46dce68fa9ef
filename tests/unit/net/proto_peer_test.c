/* Tests of the peer protocol codec (net/proto_peer.h): a round trip of every frame type,
 * every limit at its boundary, truncation at every prefix, every reserved byte, unknown
 * opcodes, the status rules of answers, the digest, and the example frames of the "Peer
 * protocol" section of docs/protocol.md, rebuilt here with the codec and compared byte for
 * byte (run with RKV_PRINT_DOC_HEX=1 to print the blocks as the doc should show them; with
 * RKV_PEER_CORPUS_OUT=DIR to write the fuzz seed corpus into DIR). Every test owns its
 * buffers. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/limits.h"
#include "net/proto_bin.h"
#include "net/proto_peer.h"
#include "ring/token.h"

#define DOC_PATH RKV_SOURCE_DIR "/docs/protocol.md"
/* 2026-01-01T00:00:00Z in milliseconds, logical counter 3, as in the client examples. */
#define EXAMPLE_TIMESTAMP ((1767225600000ull << 16) | 3u)

/* ---- helpers ---- */

static struct peer_str str_of(const char *s)
{
    struct peer_str r = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return r;
}

static struct peer_str str_bytes(const uint8_t *p, uint32_t n)
{
    struct peer_str r = {p, n};
    return r;
}

static uint8_t *pattern(size_t len, uint8_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7u);
    return p;
}

/* len bytes of node id characters. */
static char *name_of_len(size_t len)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    char *s = malloc(len + 1);
    cr_assert_not_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = chars[i % (sizeof(chars) - 1)];
    s[len] = '\0';
    return s;
}

static const uint64_t example_tokens[4] = {
    0x0123456789abcdefull, 0x4000000000000000ull, 0x8000000000000001ull, 0xfedcba9876543210ull};

static struct peer_frame hello_make(uint8_t opcode)
{
    struct peer_frame f = {.request_id = 1, .opcode = opcode};
    f.hello.proto_version = PEER_PROTO_VERSION;
    f.hello.hlc_ts = EXAMPLE_TIMESTAMP;
    f.hello.shard_count = 2;
    f.hello.vnode_count = 4;
    f.hello.token_count = 4;
    f.hello.tokens = example_tokens;
    f.hello.node_id = str_of("node-a");
    f.hello.cluster = str_of("prod");
    f.hello.bin_addr = (struct peer_addr){str_of("127.0.0.1"), 7379};
    f.hello.http_addr = (struct peer_addr){str_of("127.0.0.1"), 8080};
    f.hello.peer_addr = (struct peer_addr){str_of("127.0.0.1"), 7380};
    return f;
}

static struct peer_frame ping_make(uint8_t opcode)
{
    struct peer_frame f = {.request_id = 2, .opcode = opcode};
    f.ping.hlc_ts = EXAMPLE_TIMESTAMP;
    if (opcode == PEER_OP_PONG)
        f.ping.echo_ts = EXAMPLE_TIMESTAMP - 5;
    return f;
}

static struct peer_frame write_make(const char *key, const char *value)
{
    struct peer_frame f = {.request_id = 3, .opcode = PEER_OP_REPLICA_WRITE};
    f.write.token = token_of_key((const uint8_t *)key, strlen(key));
    f.write.key = str_of(key);
    f.write.deadline_ms = 1000;
    f.write.consistency = BIN_CONS_QUORUM;
    f.write.rec.origin = token_origin_of_node("node-a");
    f.write.rec.timestamp = EXAMPLE_TIMESTAMP;
    f.write.rec.version = 1;
    f.write.rec.value = (const uint8_t *)value;
    f.write.rec.value_bytes = (uint32_t)strlen(value);
    return f;
}

static struct peer_frame write_ack_make(uint8_t status, uint64_t version, uint64_t timestamp)
{
    struct peer_frame f = {.request_id = 3, .opcode = PEER_OP_REPLICA_WRITE_ACK, .status = status};
    f.write_ack.version = version;
    f.write_ack.timestamp = timestamp;
    return f;
}

static struct peer_frame read_make(const char *key, uint8_t flags)
{
    struct peer_frame f = {.request_id = 4, .opcode = PEER_OP_REPLICA_READ};
    f.read.token = token_of_key((const uint8_t *)key, strlen(key));
    f.read.key = str_of(key);
    f.read.deadline_ms = 1000;
    f.read.flags = flags;
    return f;
}

static struct peer_frame read_ack_make(const char *value)
{
    struct peer_frame f = {.request_id = 4, .opcode = PEER_OP_REPLICA_READ_ACK};
    f.read_ack.rec.origin = token_origin_of_node("node-a");
    f.read_ack.rec.timestamp = EXAMPLE_TIMESTAMP;
    f.read_ack.rec.version = 1;
    f.read_ack.rec.value = (const uint8_t *)value;
    f.read_ack.rec.value_bytes = (uint32_t)strlen(value);
    return f;
}

static struct peer_frame error_answer(uint8_t opcode, enum rkv_err e)
{
    struct peer_frame f = {.request_id = 9, .opcode = opcode, .status = PEER_ST_ERROR, .err = rkv_err_wire(e)};
    return f;
}

/* A forwarded client request: a PUT carries value, GET and DELETE none. */
static struct peer_frame forward_make(uint8_t client_opcode, const char *key, const char *value)
{
    struct peer_frame f = {.request_id = 10, .opcode = PEER_OP_FORWARD};
    f.forward.token = token_of_key((const uint8_t *)key, strlen(key));
    f.forward.key = str_of(key);
    f.forward.deadline_ms = 1000;
    f.forward.client_opcode = client_opcode;
    f.forward.consistency = BIN_CONS_QUORUM;
    f.forward.value = str_of(value);
    return f;
}

/* A conditional PUT, the reason FORWARD exists. */
static struct peer_frame forward_cput_make(const char *key, const char *value, uint64_t if_version)
{
    struct peer_frame f = forward_make(BIN_OP_PUT, key, value);
    f.forward.req_flags = BIN_REQ_F_IF_VERSION;
    f.forward.if_version = if_version;
    return f;
}

static struct peer_frame forward_ack_make(const char *value)
{
    struct peer_frame f = {.request_id = 10, .opcode = PEER_OP_FORWARD_ACK};
    f.forward_ack.version = 2;
    f.forward_ack.timestamp = EXAMPLE_TIMESTAMP;
    f.forward_ack.acked = 2;
    f.forward_ack.needed = 2;
    f.forward_ack.value = str_of(value);
    return f;
}

static struct peer_frame hint_list_make(const char *key)
{
    struct peer_frame f = {.request_id = 11, .opcode = PEER_OP_HINT_LIST};
    f.hint_list.token = token_of_key((const uint8_t *)key, strlen(key));
    f.hint_list.key = str_of(key);
    return f;
}

static const struct peer_hint_entry example_hints[2] = {
    {{(const uint8_t *)"node-c", 6}, 2, EXAMPLE_TIMESTAMP + (1ull << 16)},
    {{(const uint8_t *)"node-d", 6}, 3, EXAMPLE_TIMESTAMP + (2ull << 16)},
};

/* An answer listing count entries of entries (the caller's array, kept alive by it). */
static struct peer_frame hint_list_ack_make(const struct peer_hint_entry *entries, uint16_t count)
{
    struct peer_frame f = {.request_id = 11, .opcode = PEER_OP_HINT_LIST_ACK};
    f.hint_list_ack.entries = entries;
    f.hint_list_ack.count = count;
    return f;
}

/* count entries whose targets are distinct node ids of target_bytes bytes; free *ids_out and
 * the result with free(). */
static struct peer_hint_entry *hint_entries_make(uint32_t count, uint32_t target_bytes, char **ids_out)
{
    struct peer_hint_entry *e = calloc(count ? count : 1, sizeof(*e));
    char *ids = malloc((size_t)count * target_bytes + 1);
    cr_assert_not_null(e);
    cr_assert_not_null(ids);
    char *name = name_of_len(target_bytes);
    for (uint32_t i = 0; i < count; i++) {
        char *id = ids + (size_t)i * target_bytes;
        memcpy(id, name, target_bytes);
        if (target_bytes > 0)
            id[0] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"[i % 65];
        e[i].target = str_bytes((const uint8_t *)id, target_bytes);
        e[i].version = i + 1u;
        e[i].timestamp = EXAMPLE_TIMESTAMP + i;
    }
    free(name);
    *ids_out = ids;
    return e;
}

/* A frame encoded into its own buffer; free it with free(). */
static uint8_t *encode(const struct peer_frame *f, size_t *len_out)
{
    size_t n = peer_frame_bytes(f);
    cr_assert_gt(n, 0u, "the frame fits its fields");
    uint8_t *b = malloc(n);
    cr_assert_not_null(b);
    cr_assert_eq(peer_frame_encode(b, n, f), n);
    *len_out = n;
    return b;
}

static void decode_done(const uint8_t *b, size_t len, struct peer_frame *out)
{
    size_t fb = 1;
    enum rkv_err why = RKV_INTERNAL;
    cr_assert_eq(peer_frame_decode(b, len, out, &fb, &why), PARSE_DONE, "why %s", rkv_err_name(why));
    cr_assert_eq(fb, len);
    cr_assert_eq(why, RKV_OK);
}

/* Encodes f, decodes it, and returns what validate says of the decoded frame (which must
 * agree with what it says of f itself). */
static enum rkv_err verdict_on_wire(const struct peer_frame *f)
{
    size_t n;
    uint8_t *b = encode(f, &n);
    struct peer_frame d;
    decode_done(b, n, &d);
    enum rkv_err e = peer_frame_validate(&d);
    cr_assert_eq(e, peer_frame_validate(f), "validate agrees before and after the wire: %s vs %s",
                 rkv_err_name(e), rkv_err_name(peer_frame_validate(f)));
    free(b);
    return e;
}

/* Decoding a whole frame whose byte at off is set to v. */
static enum parse_rc decode_poked(const struct peer_frame *f, size_t off, uint8_t v, enum rkv_err *why_out,
                                  size_t *fb_out)
{
    size_t n;
    uint8_t *b = encode(f, &n);
    cr_assert_lt(off, n);
    b[off] = v;
    struct peer_frame d;
    enum parse_rc rc = peer_frame_decode(b, n, &d, fb_out, why_out);
    if (rc == PARSE_INVALID && *fb_out != 0) {
        cr_assert_eq(d.request_id, f->request_id, "an invalid but delimited frame keeps its id");
        cr_assert_eq(d.opcode, b[8]);
    }
    free(b);
    return rc;
}

static void str_eq(const struct peer_str *a, const struct peer_str *b)
{
    cr_assert_eq(a->bytes, b->bytes);
    if (a->bytes)
        cr_assert_eq(memcmp(a->data, b->data, a->bytes), 0);
}

static void record_eq(const struct peer_record *a, const struct peer_record *b)
{
    cr_assert_eq(a->flags, b->flags);
    cr_assert_eq(a->origin, b->origin);
    cr_assert_eq(a->timestamp, b->timestamp);
    cr_assert_eq(a->version, b->version);
    cr_assert_eq(a->expiry_ms, b->expiry_ms);
    cr_assert_eq(a->value_bytes, b->value_bytes);
    if (a->value_bytes)
        cr_assert_eq(memcmp(a->value, b->value, a->value_bytes), 0);
}

/* Every field of f survives the wire, the frame is valid, and re-encoding the decoded frame
 * gives the same bytes. */
static void assert_round_trips(const struct peer_frame *f)
{
    size_t n;
    uint8_t *b = encode(f, &n);
    struct peer_frame d;
    decode_done(b, n, &d);
    cr_assert_eq(peer_frame_validate(f), RKV_OK, "%s", rkv_err_name(peer_frame_validate(f)));
    cr_assert_eq(peer_frame_validate(&d), RKV_OK, "%s", rkv_err_name(peer_frame_validate(&d)));
    cr_assert_eq(d.request_id, f->request_id);
    cr_assert_eq(d.opcode, f->opcode);
    cr_assert_eq(d.status, f->status);
    cr_assert_eq(d.err, f->err);
    switch (f->opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK:
        cr_assert_eq(d.hello.proto_version, f->hello.proto_version);
        cr_assert_eq(d.hello.hlc_ts, f->hello.hlc_ts);
        cr_assert_eq(d.hello.shard_count, f->hello.shard_count);
        cr_assert_eq(d.hello.vnode_count, f->hello.vnode_count);
        cr_assert_eq(d.hello.token_count, f->hello.token_count);
        cr_assert_null(d.hello.tokens);
        for (uint32_t i = 0; i < f->hello.token_count; i++)
            cr_assert_eq(peer_hello_token(&d.hello, i), peer_hello_token(&f->hello, i));
        str_eq(&d.hello.node_id, &f->hello.node_id);
        str_eq(&d.hello.cluster, &f->hello.cluster);
        str_eq(&d.hello.bin_addr.host, &f->hello.bin_addr.host);
        str_eq(&d.hello.http_addr.host, &f->hello.http_addr.host);
        str_eq(&d.hello.peer_addr.host, &f->hello.peer_addr.host);
        cr_assert_eq(d.hello.bin_addr.port, f->hello.bin_addr.port);
        cr_assert_eq(d.hello.http_addr.port, f->hello.http_addr.port);
        cr_assert_eq(d.hello.peer_addr.port, f->hello.peer_addr.port);
        break;
    case PEER_OP_PING:
    case PEER_OP_PONG:
        cr_assert_eq(d.ping.hlc_ts, f->ping.hlc_ts);
        cr_assert_eq(d.ping.echo_ts, f->ping.echo_ts);
        break;
    case PEER_OP_REPLICA_WRITE:
        cr_assert_eq(d.write.token, f->write.token);
        cr_assert_eq(d.write.deadline_ms, f->write.deadline_ms);
        cr_assert_eq(d.write.consistency, f->write.consistency);
        str_eq(&d.write.key, &f->write.key);
        str_eq(&d.write.hint, &f->write.hint);
        record_eq(&d.write.rec, &f->write.rec);
        cr_assert_eq(d.write.rec.value, b + n - f->write.rec.value_bytes, "the value is last");
        break;
    case PEER_OP_REPLICA_WRITE_ACK:
        cr_assert_eq(d.write_ack.version, f->write_ack.version);
        cr_assert_eq(d.write_ack.timestamp, f->write_ack.timestamp);
        break;
    case PEER_OP_REPLICA_READ:
        cr_assert_eq(d.read.token, f->read.token);
        cr_assert_eq(d.read.deadline_ms, f->read.deadline_ms);
        cr_assert_eq(d.read.flags, f->read.flags);
        str_eq(&d.read.key, &f->read.key);
        break;
    case PEER_OP_REPLICA_READ_ACK:
        record_eq(&d.read_ack.rec, &f->read_ack.rec);
        cr_assert_eq(d.read_ack.flags, f->read_ack.flags);
        cr_assert_eq(d.read_ack.digest, f->read_ack.digest);
        break;
    case PEER_OP_FORWARD:
        cr_assert_eq(d.forward.token, f->forward.token);
        cr_assert_eq(d.forward.if_version, f->forward.if_version);
        cr_assert_eq(d.forward.ttl_s, f->forward.ttl_s);
        cr_assert_eq(d.forward.deadline_ms, f->forward.deadline_ms);
        cr_assert_eq(d.forward.client_opcode, f->forward.client_opcode);
        cr_assert_eq(d.forward.consistency, f->forward.consistency);
        cr_assert_eq(d.forward.req_flags, f->forward.req_flags);
        str_eq(&d.forward.key, &f->forward.key);
        str_eq(&d.forward.value, &f->forward.value);
        cr_assert_eq(d.forward.value.data, b + n - f->forward.value.bytes, "the value is last");
        break;
    case PEER_OP_FORWARD_ACK:
        cr_assert_eq(d.forward_ack.version, f->forward_ack.version);
        cr_assert_eq(d.forward_ack.timestamp, f->forward_ack.timestamp);
        cr_assert_eq(d.forward_ack.acked, f->forward_ack.acked);
        cr_assert_eq(d.forward_ack.needed, f->forward_ack.needed);
        cr_assert_eq(d.forward_ack.hinted, f->forward_ack.hinted);
        str_eq(&d.forward_ack.value, &f->forward_ack.value);
        cr_assert_eq(d.forward_ack.value.data, b + n - f->forward_ack.value.bytes, "the value is last");
        break;
    case PEER_OP_HINT_LIST:
        cr_assert_eq(d.hint_list.token, f->hint_list.token);
        str_eq(&d.hint_list.key, &f->hint_list.key);
        break;
    case PEER_OP_HINT_LIST_ACK:
        cr_assert_eq(d.hint_list_ack.count, f->hint_list_ack.count);
        cr_assert_null(d.hint_list_ack.entries);
        for (uint32_t i = 0; i < f->hint_list_ack.count; i++) {
            struct peer_hint_entry want, got;
            peer_hint_list_entry(&f->hint_list_ack, i, &want);
            peer_hint_list_entry(&d.hint_list_ack, i, &got);
            str_eq(&got.target, &want.target);
            cr_assert_eq(got.version, want.version);
            cr_assert_eq(got.timestamp, want.timestamp);
            cr_assert(got.target.data >= b && got.target.data + got.target.bytes <= b + n, "targets lie in the frame");
        }
        break;
    default:
        cr_assert_fail("no round trip for opcode 0x%02x", f->opcode);
    }
    uint8_t *again = malloc(n);
    cr_assert_not_null(again);
    cr_assert_eq(peer_frame_encode(again, n, &d), n);
    cr_assert_arr_eq(again, b, n);
    free(again);
    free(b);
}

/* Every proper prefix of f's bytes asks for more and, once the length field is in, names
 * the whole size. */
static void assert_every_prefix_needs_more(const struct peer_frame *f)
{
    size_t n;
    uint8_t *b = encode(f, &n);
    for (size_t len = 0; len < n; len++) {
        struct peer_frame d;
        size_t fb = 1;
        enum rkv_err why = RKV_INTERNAL;
        cr_assert_eq(peer_frame_decode(b, len, &d, &fb, &why), PARSE_NEED_MORE, "prefix %zu of %zu", len, n);
        cr_assert_eq(fb, len < 4 ? 0u : n);
        cr_assert_eq(why, RKV_OK);
    }
    free(b);
}

/* The frames of one example of each kind, used by several tests. */
static size_t every_kind(struct peer_frame out[16])
{
    size_t k = 0;
    out[k++] = hello_make(PEER_OP_HELLO);
    out[k++] = hello_make(PEER_OP_HELLO_ACK);
    out[k++] = ping_make(PEER_OP_PING);
    out[k++] = ping_make(PEER_OP_PONG);
    out[k++] = write_make("user:42", "hello");
    out[k++] = write_ack_make(PEER_ST_OK, 1, EXAMPLE_TIMESTAMP);
    out[k++] = read_make("user:42", 0);
    out[k++] = read_ack_make("hello");
    out[k++] = forward_cput_make("user:42", "world", 1);
    out[k++] = forward_ack_make("");
    out[k++] = hint_list_make("user:42");
    out[k++] = hint_list_ack_make(example_hints, 2);
    return k;
}

/* ---- round trips ---- */

Test(proto_peer, hello_round_trips_every_field)
{
    struct peer_frame f = hello_make(PEER_OP_HELLO);
    assert_round_trips(&f);
}

Test(proto_peer, hello_ack_without_tokens_cluster_or_http_round_trips)
{
    struct peer_frame f = hello_make(PEER_OP_HELLO_ACK);
    f.hello.token_count = 0;
    f.hello.tokens = NULL;
    f.hello.cluster = str_of("");
    f.hello.http_addr = (struct peer_addr){str_of(""), 0};
    f.hello.peer_addr.host = str_of("fe80::1%eth0");
    assert_round_trips(&f);
}

Test(proto_peer, hello_ack_of_error_still_describes_the_node)
{
    struct peer_frame f = hello_make(PEER_OP_HELLO_ACK);
    f.status = PEER_ST_ERROR;
    f.err = rkv_err_wire(RKV_INVALID_ARG);
    assert_round_trips(&f);
}

Test(proto_peer, ping_and_pong_round_trip)
{
    struct peer_frame p = ping_make(PEER_OP_PING);
    struct peer_frame q = ping_make(PEER_OP_PONG);
    assert_round_trips(&p);
    assert_round_trips(&q);
    cr_assert_eq(peer_frame_bytes(&p), PEER_PING_BYTES);
}

Test(proto_peer, replica_write_round_trips_direct_hinted_and_tombstone)
{
    struct peer_frame f = write_make("user:42", "hello");
    f.write.rec.expiry_ms = 1767225660000ull;
    assert_round_trips(&f);

    f.write.hint = str_of("node-c");
    f.write.consistency = BIN_CONS_ALL;
    assert_round_trips(&f);

    struct peer_frame t = write_make("user:42", "");
    t.write.rec.flags = PEER_REC_F_TOMBSTONE;
    t.write.rec.expiry_ms = 1767225600000ull;
    t.write.rec.version = 2;
    t.write.consistency = BIN_CONS_ONE;
    t.write.deadline_ms = PEER_DEADLINE_MS_MAX;
    assert_round_trips(&t);
}

Test(proto_peer, replica_write_ack_round_trips_every_status)
{
    struct peer_frame a = write_ack_make(PEER_ST_OK, 7, EXAMPLE_TIMESTAMP);
    struct peer_frame b = write_ack_make(PEER_ST_FENCED, 9, EXAMPLE_TIMESTAMP + 100);
    struct peer_frame c = write_ack_make(PEER_ST_SKEW, 0, EXAMPLE_TIMESTAMP - 100);
    struct peer_frame d = error_answer(PEER_OP_REPLICA_WRITE_ACK, RKV_NO_SPACE);
    assert_round_trips(&a);
    assert_round_trips(&b);
    assert_round_trips(&c);
    assert_round_trips(&d);
}

Test(proto_peer, replica_read_round_trips_with_and_without_digest)
{
    struct peer_frame a = read_make("user:42", 0);
    struct peer_frame b = read_make("user:42", PEER_READ_F_DIGEST);
    assert_round_trips(&a);
    assert_round_trips(&b);
}

Test(proto_peer, replica_read_ack_round_trips_value_digest_tombstone_miss_and_error)
{
    struct peer_frame a = read_ack_make("hello");
    a.read_ack.rec.expiry_ms = 1767225660000ull;
    assert_round_trips(&a);

    struct peer_frame b = read_ack_make("hello");
    b.read_ack.digest = peer_record_digest(&b.read_ack.rec);
    b.read_ack.flags = PEER_READ_ACK_F_DIGEST;
    b.read_ack.rec.value = NULL;
    b.read_ack.rec.value_bytes = 0;
    assert_round_trips(&b);

    struct peer_frame c = read_ack_make("");
    c.read_ack.rec.flags = PEER_REC_F_TOMBSTONE;
    c.read_ack.rec.expiry_ms = 1767225600000ull;
    assert_round_trips(&c);

    struct peer_frame d = {.request_id = 4, .opcode = PEER_OP_REPLICA_READ_ACK, .status = PEER_ST_NOT_FOUND};
    assert_round_trips(&d);
    cr_assert_eq(peer_frame_bytes(&d), PEER_READ_ACK_FIXED_BYTES);

    struct peer_frame e = error_answer(PEER_OP_REPLICA_READ_ACK, RKV_CORRUPT);
    assert_round_trips(&e);
}

Test(proto_peer, answers_have_their_requests_opcode_with_the_low_bit_set)
{
    cr_assert_eq(PEER_OP_ANSWER(PEER_OP_HELLO), PEER_OP_HELLO_ACK);
    cr_assert_eq(PEER_OP_ANSWER(PEER_OP_PING), PEER_OP_PONG);
    cr_assert_eq(PEER_OP_ANSWER(PEER_OP_REPLICA_WRITE), PEER_OP_REPLICA_WRITE_ACK);
    cr_assert_eq(PEER_OP_ANSWER(PEER_OP_REPLICA_READ), PEER_OP_REPLICA_READ_ACK);
    cr_assert_eq(PEER_OP_ANSWER(PEER_OP_FORWARD), PEER_OP_FORWARD_ACK);
    cr_assert_eq(PEER_OP_ANSWER(PEER_OP_HINT_LIST), PEER_OP_HINT_LIST_ACK);
    cr_assert_str_eq(peer_opcode_name(PEER_OP_REPLICA_READ_ACK), "REPLICA_READ_ACK");
    cr_assert_str_eq(peer_opcode_name(0x88), "FORWARD");
    cr_assert_str_eq(peer_opcode_name(0x89), "FORWARD_ACK");
    cr_assert_str_eq(peer_opcode_name(0x90), "HINT_LIST");
    cr_assert_str_eq(peer_opcode_name(0x91), "HINT_LIST_ACK");
    cr_assert_str_eq(peer_opcode_name(0x8a), "?");
    cr_assert_str_eq(peer_opcode_name(0x92), "?");
}

Test(proto_peer, header_fields_are_big_endian_at_their_offsets)
{
    struct peer_frame f = write_ack_make(PEER_ST_FENCED, 0x0102030405060708ull, 0x1112131415161718ull);
    f.request_id = 0xa1a2a3a4u;
    uint8_t b[PEER_WRITE_ACK_BYTES];
    cr_assert_eq(peer_frame_encode(b, sizeof(b), &f), sizeof(b));
    const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x18, 0xa1, 0xa2, 0xa3, 0xa4, 0x85, 0x02, 0x00, 0x00,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    };
    cr_assert_arr_eq(b, want, sizeof(want));
}

Test(proto_peer, pipelined_frames_decode_one_after_the_other)
{
    struct peer_frame k[16];
    size_t count = every_kind(k);
    uint8_t *buf = malloc(64u * 1024u);
    cr_assert_not_null(buf);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = peer_frame_encode(buf + at, 64u * 1024u - at, &k[i]);
        cr_assert_gt(n, 0u);
        at += n;
    }
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        struct peer_frame d;
        size_t fb;
        enum rkv_err why;
        cr_assert_eq(peer_frame_decode(buf + off, at - off, &d, &fb, &why), PARSE_DONE);
        cr_assert_eq(d.opcode, k[i].opcode);
        cr_assert_eq(peer_frame_validate(&d), RKV_OK);
        off += fb;
    }
    cr_assert_eq(off, at);
    free(buf);
}

/* ---- encoder ---- */

Test(proto_peer, encode_head_then_value_is_the_whole_frame)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX, 3);
    struct peer_frame w = write_make("user:42", "");
    w.write.rec.value = value;
    w.write.rec.value_bytes = RKV_VALUE_BYTES_MAX;
    w.write.hint = str_of("node-c");
    struct peer_frame r = read_ack_make("");
    r.read_ack.rec.value = value;
    r.read_ack.rec.value_bytes = RKV_VALUE_BYTES_MAX;
    const struct peer_frame *fs[] = {&w, &r};
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        uint8_t *whole = encode(fs[i], &n);
        size_t head = peer_frame_head_bytes(fs[i]);
        cr_assert_eq(head + RKV_VALUE_BYTES_MAX, n);
        uint8_t hb[512];
        cr_assert_eq(peer_frame_encode_head(hb, head - 1, fs[i]), 0u);
        cr_assert_eq(peer_frame_encode_head(hb, sizeof(hb), fs[i]), head);
        cr_assert_arr_eq(hb, whole, head);
        cr_assert_eq(memcmp(whole + head, value, RKV_VALUE_BYTES_MAX), 0);
        free(whole);
    }
    struct peer_frame p = ping_make(PEER_OP_PING);
    cr_assert_eq(peer_frame_head_bytes(&p), peer_frame_bytes(&p), "a frame without a value is all head");
    cr_assert_eq(peer_frame_value(&p).bytes, 0u);
    free(value);
}

Test(proto_peer, forward_encode_head_then_value_is_the_whole_frame)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX, 3);
    struct peer_frame w = forward_cput_make("user:42", "", 1);
    w.forward.value = str_bytes(value, RKV_VALUE_BYTES_MAX);
    struct peer_frame a = forward_ack_make("");
    a.forward_ack.value = str_bytes(value, RKV_VALUE_BYTES_MAX);
    struct peer_frame r = write_make("user:42", "hello");
    struct peer_frame k = read_ack_make("hello");
    const struct peer_frame *fs[] = {&w, &a, &r, &k};
    for (size_t i = 0; i < 4; i++) {
        size_t n;
        uint8_t *whole = encode(fs[i], &n);
        size_t head = peer_frame_head_bytes(fs[i]);
        struct peer_str tail = peer_frame_value(fs[i]);
        cr_assert_eq(head + tail.bytes, n, "case %zu", i);
        uint8_t hb[512];
        cr_assert_eq(peer_frame_encode_head(hb, head - 1, fs[i]), 0u);
        cr_assert_eq(peer_frame_encode_head(hb, sizeof(hb), fs[i]), head);
        cr_assert_arr_eq(hb, whole, head);
        cr_assert_eq(memcmp(whole + head, tail.data, tail.bytes), 0, "case %zu", i);
        free(whole);
    }
    struct peer_frame h = hint_list_ack_make(example_hints, 2);
    cr_assert_eq(peer_frame_head_bytes(&h), peer_frame_bytes(&h), "a hint list is all head");
    cr_assert_null(peer_frame_value(&h).data);
    free(value);
}

Test(proto_peer, encode_into_a_buffer_one_byte_short_writes_nothing)
{
    struct peer_frame k[16];
    size_t count = every_kind(k);
    for (size_t i = 0; i < count; i++) {
        size_t n = peer_frame_bytes(&k[i]);
        uint8_t *b = malloc(n);
        cr_assert_not_null(b);
        memset(b, 0xee, n);
        cr_assert_eq(peer_frame_encode(b, n - 1, &k[i]), 0u);
        cr_assert_eq(b[0], 0xee);
        cr_assert_eq(peer_frame_encode(NULL, 0, &k[i]), 0u);
        free(b);
    }
}

Test(proto_peer, lengths_that_do_not_fit_their_fields_are_refused_by_the_encoder)
{
    char *long_name = name_of_len(256);
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    h.hello.node_id = str_of(long_name);
    cr_assert_eq(peer_frame_bytes(&h), 0u);
    cr_assert_eq(peer_frame_head_bytes(&h), 0u);
    uint8_t b[1024];
    cr_assert_eq(peer_frame_encode(b, sizeof(b), &h), 0u);

    struct peer_frame w = write_make("k", "v");
    w.write.hint = str_of(long_name);
    cr_assert_eq(peer_frame_bytes(&w), 0u);

    struct peer_frame r = read_make("k", 0);
    r.read.key.bytes = 65536;
    cr_assert_eq(peer_frame_bytes(&r), 0u);

    struct peer_frame a = read_ack_make("");
    a.read_ack.rec.value_bytes = RKV_FRAME_BYTES_MAX;
    cr_assert_eq(peer_frame_bytes(&a), 0u, "over the frame limit");
    free(long_name);
}

/* ---- limits ---- */

Test(proto_peer, key_of_256_bytes_is_accepted_and_257_refused)
{
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX + 1u, 1);
    struct peer_frame w = write_make("k", "v");
    struct peer_frame r = read_make("k", 0);
    w.write.key = str_bytes(key, RKV_KEY_BYTES_MAX);
    r.read.key = str_bytes(key, RKV_KEY_BYTES_MAX);
    assert_round_trips(&w);
    assert_round_trips(&r);
    w.write.key.bytes = RKV_KEY_BYTES_MAX + 1u;
    r.read.key.bytes = RKV_KEY_BYTES_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&w), RKV_KEY_TOO_LONG);
    cr_assert_eq(verdict_on_wire(&r), RKV_KEY_TOO_LONG);
    w.write.key.bytes = 1;
    r.read.key.bytes = 1;
    cr_assert_eq(verdict_on_wire(&w), RKV_OK);
    cr_assert_eq(verdict_on_wire(&r), RKV_OK);
    w.write.key.bytes = 0;
    r.read.key.bytes = 0;
    cr_assert_eq(verdict_on_wire(&w), RKV_KEY_EMPTY);
    cr_assert_eq(verdict_on_wire(&r), RKV_KEY_EMPTY);
    free(key);
}

Test(proto_peer, value_of_1_mib_is_accepted_and_one_byte_more_refused)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX + 1u, 5);
    struct peer_frame w = write_make("k", "");
    struct peer_frame a = read_ack_make("");
    w.write.rec.value = value;
    a.read_ack.rec.value = value;
    w.write.rec.value_bytes = RKV_VALUE_BYTES_MAX;
    a.read_ack.rec.value_bytes = RKV_VALUE_BYTES_MAX;
    assert_round_trips(&w);
    assert_round_trips(&a);
    w.write.rec.value_bytes = RKV_VALUE_BYTES_MAX + 1u;
    a.read_ack.rec.value_bytes = RKV_VALUE_BYTES_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&w), RKV_VALUE_TOO_LONG);
    cr_assert_eq(verdict_on_wire(&a), RKV_VALUE_TOO_LONG);
    free(value);
}

Test(proto_peer, an_over_limit_write_with_the_longest_hint_still_frames)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX + 1u, 5);
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX + 1u, 1);
    char *hint = name_of_len(255);
    struct peer_frame w = write_make("k", "");
    w.write.key = str_bytes(key, RKV_KEY_BYTES_MAX + 1u);
    w.write.hint = str_of(hint);
    w.write.rec.value = value;
    w.write.rec.value_bytes = RKV_VALUE_BYTES_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&w), RKV_KEY_TOO_LONG);
    free(value);
    free(key);
    free(hint);
}

Test(proto_peer, node_id_of_64_bytes_is_accepted_and_65_refused)
{
    char *id64 = name_of_len(RKV_NODE_ID_BYTES_MAX);
    char *id65 = name_of_len(RKV_NODE_ID_BYTES_MAX + 1u);
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    struct peer_frame w = write_make("k", "v");
    h.hello.node_id = str_of(id64);
    w.write.hint = str_of(id64);
    assert_round_trips(&h);
    assert_round_trips(&w);
    h.hello.node_id = str_of(id65);
    w.write.hint = str_of(id65);
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    cr_assert_eq(verdict_on_wire(&w), RKV_INVALID_ARG);
    h.hello.node_id = str_of("a");
    assert_round_trips(&h);
    h.hello.node_id = str_of("");
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG, "a hello names its node");
    free(id64);
    free(id65);
}

Test(proto_peer, node_ids_allow_only_letters_digits_dot_underscore_and_dash)
{
    cr_assert(peer_node_id_valid((const uint8_t *)"Node_1.a-b", 10));
    const char *bad[] = {"node a", "node/a", "nodé", "node:1", "node\n", "a\0b"};
    size_t lens[] = {6, 6, 5, 6, 5, 3};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_not(peer_node_id_valid((const uint8_t *)bad[i], lens[i]), "%zu", i);
        struct peer_frame h = hello_make(PEER_OP_HELLO);
        h.hello.node_id = str_bytes((const uint8_t *)bad[i], (uint32_t)lens[i]);
        cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
        struct peer_frame c = hello_make(PEER_OP_HELLO);
        c.hello.cluster = h.hello.node_id;
        cr_assert_eq(verdict_on_wire(&c), RKV_INVALID_ARG, "cluster names follow the same rules");
    }
}

Test(proto_peer, cluster_name_of_64_bytes_is_accepted_and_65_refused)
{
    char *c64 = name_of_len(PEER_CLUSTER_BYTES_MAX);
    char *c65 = name_of_len(PEER_CLUSTER_BYTES_MAX + 1u);
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    h.hello.cluster = str_of(c64);
    assert_round_trips(&h);
    h.hello.cluster = str_of(c65);
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    free(c64);
    free(c65);
}

Test(proto_peer, tokens_up_to_the_vnode_maximum_are_accepted_and_one_more_refused)
{
    uint64_t *tokens = malloc((RKV_VNODES_MAX + 1u) * sizeof(uint64_t));
    cr_assert_not_null(tokens);
    for (uint32_t i = 0; i <= RKV_VNODES_MAX; i++)
        tokens[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    h.hello.tokens = tokens;
    h.hello.vnode_count = RKV_VNODES_MAX;
    h.hello.token_count = RKV_VNODES_MAX;
    assert_round_trips(&h);
    h.hello.vnode_count = RKV_VNODES_MAX + 1u;
    h.hello.token_count = RKV_VNODES_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    h.hello.vnode_count = 1;
    h.hello.token_count = 1;
    assert_round_trips(&h);
    h.hello.vnode_count = 0;
    h.hello.token_count = 0;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG, "a node has at least one vnode");
    h.hello.vnode_count = 4;
    h.hello.token_count = 3;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG, "tokens are all sent or none");
    h.hello.vnode_count = RKV_VNODES_MAX + 1u;
    h.hello.token_count = 0;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG, "the vnode count has the same limit");
    free(tokens);
}

Test(proto_peer, shard_counts_0_and_65_are_refused_1_and_64_accepted)
{
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    h.hello.shard_count = 0;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    h.hello.shard_count = 1;
    assert_round_trips(&h);
    h.hello.shard_count = RKV_SHARDS_MAX;
    assert_round_trips(&h);
    h.hello.shard_count = RKV_SHARDS_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
}

Test(proto_peer, hosts_of_63_bytes_are_accepted_and_64_refused)
{
    char host[80];
    memset(host, 'h', sizeof(host));
    host[PEER_HOST_BYTES_MAX] = '\0';
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    h.hello.peer_addr.host = str_of(host);
    assert_round_trips(&h);
    h.hello.peer_addr.host = str_bytes((const uint8_t *)host, PEER_HOST_BYTES_MAX + 1u);
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    h = hello_make(PEER_OP_HELLO);
    h.hello.bin_addr.host = str_of("");
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    h = hello_make(PEER_OP_HELLO);
    h.hello.http_addr.host = str_of("a b");
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
}

Test(proto_peer, ports_follow_their_rules)
{
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    h.hello.bin_addr.port = 0;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    h = hello_make(PEER_OP_HELLO);
    h.hello.peer_addr.port = 0;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    h = hello_make(PEER_OP_HELLO);
    h.hello.http_addr.port = 0;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG, "HTTP off has no host");
    h.hello.http_addr.host = str_of("");
    assert_round_trips(&h);
    h = hello_make(PEER_OP_HELLO);
    h.hello.http_addr.host = str_of("");
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG, "HTTP on has a host");
    h = hello_make(PEER_OP_HELLO);
    h.hello.bin_addr.port = 65535;
    assert_round_trips(&h);
}

Test(proto_peer, only_protocol_version_1_is_accepted)
{
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    h.hello.proto_version = 0;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
    h.hello.proto_version = 2;
    cr_assert_eq(verdict_on_wire(&h), RKV_INVALID_ARG);
}

Test(proto_peer, deadlines_are_1_to_the_maximum)
{
    struct peer_frame w = write_make("k", "v");
    struct peer_frame r = read_make("k", 0);
    const uint32_t ok[] = {1, PEER_DEADLINE_MS_MAX};
    const uint32_t bad[] = {0, PEER_DEADLINE_MS_MAX + 1u, UINT32_MAX};
    for (size_t i = 0; i < 2; i++) {
        w.write.deadline_ms = r.read.deadline_ms = ok[i];
        cr_assert_eq(verdict_on_wire(&w), RKV_OK);
        cr_assert_eq(verdict_on_wire(&r), RKV_OK);
    }
    for (size_t i = 0; i < 3; i++) {
        w.write.deadline_ms = r.read.deadline_ms = bad[i];
        cr_assert_eq(verdict_on_wire(&w), RKV_INVALID_ARG);
        cr_assert_eq(verdict_on_wire(&r), RKV_INVALID_ARG);
    }
}

Test(proto_peer, replica_write_rules)
{
    struct peer_frame w = write_make("k", "v");
    w.write.consistency = BIN_CONS_ALL + 1u;
    cr_assert_eq(verdict_on_wire(&w), RKV_BAD_CONSISTENCY);
    w = write_make("k", "v");
    w.write.rec.flags = 0x02;
    cr_assert_eq(verdict_on_wire(&w), RKV_BAD_FRAME, "unknown record flags");
    w = write_make("k", "v");
    w.write.rec.flags = PEER_REC_F_TOMBSTONE;
    cr_assert_eq(verdict_on_wire(&w), RKV_INVALID_ARG, "a tombstone has no value");
    w = write_make("k", "v");
    w.write.rec.version = 0;
    cr_assert_eq(verdict_on_wire(&w), RKV_INVALID_ARG);
    w = write_make("k", "v");
    w.write.rec.timestamp = 0;
    cr_assert_eq(verdict_on_wire(&w), RKV_INVALID_ARG);
    w = write_make("k", "v");
    w.write.rec.expiry_ms = UINT64_MAX;
    w.write.rec.origin = UINT32_MAX;
    w.write.token = UINT64_MAX;
    cr_assert_eq(verdict_on_wire(&w), RKV_OK, "expiry, origin and token may hold any value");
}

Test(proto_peer, replica_read_rules)
{
    struct peer_frame r = read_make("k", 0x02);
    cr_assert_eq(verdict_on_wire(&r), RKV_BAD_FRAME, "unknown read flags");
}

Test(proto_peer, write_ack_fields_follow_the_status)
{
    struct peer_frame f = write_ack_make(PEER_ST_OK, 0, EXAMPLE_TIMESTAMP);
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "OK carries the resulting version");
    f = write_ack_make(PEER_ST_FENCED, 3, 0);
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "FENCED carries the newer timestamp");
    f = write_ack_make(PEER_ST_SKEW, 0, 0);
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "SKEW carries the replica's clock");
    f = write_ack_make(PEER_ST_SKEW, 1, EXAMPLE_TIMESTAMP);
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG);
    f = error_answer(PEER_OP_REPLICA_WRITE_ACK, RKV_IO);
    f.write_ack.version = 1;
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "an error carries no record");
}

Test(proto_peer, read_ack_fields_follow_the_status_and_flags)
{
    struct peer_frame a = read_ack_make("v");
    a.read_ack.digest = 1;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "no digest without its flag");
    a = read_ack_make("v");
    a.read_ack.flags = PEER_READ_ACK_F_DIGEST;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "a digest answer has no value");
    a = read_ack_make("v");
    a.read_ack.rec.flags = PEER_REC_F_TOMBSTONE;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "a tombstone has no value");
    a = read_ack_make("v");
    a.read_ack.rec.version = 0;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG);
    a = read_ack_make("v");
    a.read_ack.flags = 0x80;
    cr_assert_eq(verdict_on_wire(&a), RKV_BAD_FRAME);
    a = read_ack_make("v");
    a.read_ack.rec.flags = 0x80;
    cr_assert_eq(verdict_on_wire(&a), RKV_BAD_FRAME);
    a = read_ack_make("");
    a.status = PEER_ST_NOT_FOUND;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "a miss carries no record");
    struct peer_frame e = error_answer(PEER_OP_REPLICA_READ_ACK, RKV_IO);
    e.read_ack.digest = 5;
    cr_assert_eq(verdict_on_wire(&e), RKV_INVALID_ARG);
}

Test(proto_peer, a_ping_echoes_nothing)
{
    struct peer_frame p = ping_make(PEER_OP_PING);
    p.ping.echo_ts = 1;
    cr_assert_eq(verdict_on_wire(&p), RKV_INVALID_ARG);
}

/* ---- statuses ---- */

Test(proto_peer, each_answer_allows_only_its_statuses)
{
    struct {
        uint8_t opcode;
        uint8_t status;
        bool allowed;
    } cases[] = {
        {PEER_OP_HELLO_ACK, PEER_ST_NOT_FOUND, false},       {PEER_OP_HELLO_ACK, PEER_ST_FENCED, false},
        {PEER_OP_PONG, PEER_ST_SKEW, false},                 {PEER_OP_PONG, PEER_ST_NOT_FOUND, false},
        {PEER_OP_REPLICA_WRITE_ACK, PEER_ST_NOT_FOUND, false}, {PEER_OP_REPLICA_READ_ACK, PEER_ST_FENCED, false},
        {PEER_OP_REPLICA_READ_ACK, PEER_ST_SKEW, false},     {PEER_OP_REPLICA_READ_ACK, PEER_ST_COUNT, false},
        {PEER_OP_REPLICA_WRITE_ACK, 0xff, false},            {PEER_OP_PONG, PEER_ST_OK, true},
        {PEER_OP_FORWARD_ACK, PEER_ST_NOT_FOUND, true},      {PEER_OP_FORWARD_ACK, PEER_ST_FENCED, false},
        {PEER_OP_FORWARD_ACK, PEER_ST_SKEW, false},          {PEER_OP_FORWARD_ACK, PEER_ST_COUNT, false},
        {PEER_OP_HINT_LIST_ACK, PEER_ST_OK, true},           {PEER_OP_HINT_LIST_ACK, PEER_ST_NOT_FOUND, false},
        {PEER_OP_HINT_LIST_ACK, PEER_ST_FENCED, false},      {PEER_OP_HINT_LIST_ACK, PEER_ST_SKEW, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct peer_frame f = {.opcode = cases[i].opcode, .status = cases[i].status};
        if (cases[i].opcode == PEER_OP_HELLO_ACK)
            f = hello_make(PEER_OP_HELLO_ACK);
        if (cases[i].opcode == PEER_OP_FORWARD_ACK) {
            /* A miss's fields, which an allowed status other than NOT_FOUND would not get
             * past anyway: the status check comes first. */
            f = forward_ack_make("");
            f.forward_ack.version = 0;
            f.forward_ack.timestamp = 0;
        }
        f.status = cases[i].status;
        cr_assert_eq(verdict_on_wire(&f), cases[i].allowed ? RKV_OK : RKV_BAD_FRAME, "case %zu", i);
    }
}

Test(proto_peer, an_error_status_needs_a_known_error_code_and_only_it_has_one)
{
    struct peer_frame f = error_answer(PEER_OP_PONG, RKV_SHUTTING_DOWN);
    cr_assert_eq(verdict_on_wire(&f), RKV_OK);
    f.err = 0;
    cr_assert_eq(verdict_on_wire(&f), RKV_BAD_FRAME, "ERROR with err OK");
    f.err = 0x0f;
    cr_assert_eq(verdict_on_wire(&f), RKV_BAD_FRAME, "an err byte that names no error");
    f = ping_make(PEER_OP_PONG);
    f.err = rkv_err_wire(RKV_IO);
    cr_assert_eq(verdict_on_wire(&f), RKV_BAD_FRAME, "OK with an err");
}

Test(proto_peer, a_request_with_a_status_or_err_is_malformed)
{
    struct peer_frame k[16];
    size_t count = every_kind(k);
    for (size_t i = 0; i < count; i++) {
        if (k[i].opcode & 1u)
            continue;
        for (size_t off = 9; off <= 10; off++) {
            enum rkv_err why;
            size_t fb;
            cr_assert_eq(decode_poked(&k[i], off, 1, &why, &fb), PARSE_INVALID);
            cr_assert_eq(why, RKV_BAD_FRAME);
            cr_assert_eq(fb, peer_frame_bytes(&k[i]));
        }
        struct peer_frame f = k[i];
        f.status = PEER_ST_ERROR;
        cr_assert_eq(peer_frame_validate(&f), RKV_BAD_FRAME);
    }
}

/* ---- framing ---- */

Test(proto_peer, every_prefix_of_every_frame_kind_needs_more)
{
    struct peer_frame k[16];
    size_t count = every_kind(k);
    for (size_t i = 0; i < count; i++)
        assert_every_prefix_needs_more(&k[i]);
    struct peer_frame e = error_answer(PEER_OP_REPLICA_READ_ACK, RKV_IO);
    assert_every_prefix_needs_more(&e);
}

Test(proto_peer, a_1_mib_write_cut_anywhere_needs_more)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX, 9);
    struct peer_frame w = write_make("user:42", "");
    w.write.rec.value = value;
    w.write.rec.value_bytes = RKV_VALUE_BYTES_MAX;
    size_t n;
    uint8_t *b = encode(&w, &n);
    for (size_t len = 0; len < n; len += (len < 600 ? 1 : 4099)) {
        struct peer_frame d;
        size_t fb;
        enum rkv_err why;
        cr_assert_eq(peer_frame_decode(b, len, &d, &fb, &why), PARSE_NEED_MORE, "prefix %zu", len);
        cr_assert_eq(fb, len < 4 ? 0u : n);
    }
    struct peer_frame d;
    size_t fb;
    enum rkv_err why;
    cr_assert_eq(peer_frame_decode(b, n - 1, &d, &fb, &why), PARSE_NEED_MORE);
    cr_assert_eq(peer_frame_decode(b, n, &d, &fb, &why), PARSE_DONE);
    free(b);
    free(value);
}

Test(proto_peer, length_field_under_the_header_or_over_the_limit_cannot_be_delimited)
{
    uint8_t b[16] = {0};
    struct peer_frame d;
    size_t fb;
    enum rkv_err why;
    for (uint32_t v = 0; v < PEER_HDR_BYTES - 4u; v++) {
        store_be32(b, v);
        cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_INVALID);
        cr_assert_eq(why, RKV_BAD_FRAME);
        cr_assert_eq(fb, 0u);
    }
    store_be32(b, RKV_FRAME_BYTES_MAX + 1u);
    cr_assert_eq(peer_frame_decode(b, 4, &d, &fb, &why), PARSE_INVALID, "refused from the length field alone");
    cr_assert_eq(why, RKV_FRAME_TOO_LONG);
    cr_assert_eq(fb, 0u);
    store_be32(b, UINT32_MAX);
    cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_INVALID);
    cr_assert_eq(why, RKV_FRAME_TOO_LONG);
    store_be32(b, RKV_FRAME_BYTES_MAX);
    cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_NEED_MORE, "the limit itself frames");
    cr_assert_eq(fb, (size_t)RKV_FRAME_BYTES_MAX + 4u);
}

Test(proto_peer, unknown_opcodes_are_invalid_but_delimited)
{
    const uint8_t ops[] = {0x00, 0x01, 0x04, 0x7f, 0x8a, 0x8f, 0x92, 0x9f, 0xa0, 0xc0, 0xe0, 0xff};
    for (size_t i = 0; i < sizeof(ops); i++) {
        struct peer_frame f = {.request_id = 77, .opcode = ops[i]};
        cr_assert_eq(peer_frame_validate(&f), RKV_UNKNOWN_OPCODE);
        uint8_t b[PEER_HDR_BYTES + 8];
        cr_assert_eq(peer_frame_encode(b, sizeof(b), &f), PEER_HDR_BYTES);
        memset(b + PEER_HDR_BYTES, 0, 8);
        struct peer_frame d;
        size_t fb;
        enum rkv_err why;
        cr_assert_eq(peer_frame_decode(b, PEER_HDR_BYTES, &d, &fb, &why), PARSE_INVALID);
        cr_assert_eq(why, RKV_UNKNOWN_OPCODE);
        cr_assert_eq(fb, PEER_HDR_BYTES);
        cr_assert_eq(d.request_id, 77u, "the id survives so the request can be answered");
        cr_assert_eq(d.opcode, ops[i]);
        /* A longer body does not change the answer. */
        store_be32(b, PEER_HDR_BYTES + 8u - 4u);
        cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_INVALID);
        cr_assert_eq(why, RKV_UNKNOWN_OPCODE);
        cr_assert_eq(fb, sizeof(b));
    }
}

/* The offsets of each kind's reserved bytes (net/proto_peer.h). */
Test(proto_peer, every_nonzero_reserved_byte_is_invalid)
{
    struct {
        struct peer_frame f;
        size_t offs[10];
        size_t count;
    } cases[] = {
        {hello_make(PEER_OP_HELLO), {11, 14, 15, 41, 42, 43}, 6},
        {ping_make(PEER_OP_PONG), {11}, 1},
        {write_make("user:42", "hello"), {11, 55, 58, 59}, 4},
        {write_ack_make(PEER_ST_OK, 1, 1), {11}, 1},
        {read_make("user:42", 0), {11, 25}, 2},
        {read_ack_make("hello"), {11, 50, 51}, 3},
        {forward_cput_make("user:42", "world", 1), {11, 42, 43}, 3},
        {forward_ack_make("hello"), {11, 31}, 2},
        {hint_list_make("user:42"), {11, 22, 23}, 3},
        /* The count's pad, then each entry's three reserved bytes (entries at 16 and 36). */
        {hint_list_ack_make(example_hints, 2), {11, 14, 15, 17, 18, 19, 37, 38, 39}, 9},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t j = 0; j < cases[i].count; j++) {
            for (unsigned v = 1; v < 256; v <<= 1) {
                enum rkv_err why;
                size_t fb;
                cr_assert_eq(decode_poked(&cases[i].f, cases[i].offs[j], (uint8_t)v, &why, &fb), PARSE_INVALID,
                             "case %zu offset %zu", i, cases[i].offs[j]);
                cr_assert_eq(why, RKV_BAD_FRAME);
                cr_assert_eq(fb, peer_frame_bytes(&cases[i].f));
            }
        }
    }
}

Test(proto_peer, bodies_shorter_than_their_fixed_part_are_invalid)
{
    const uint8_t ops[] = {PEER_OP_HELLO,        PEER_OP_PING,        PEER_OP_PONG,
                           PEER_OP_REPLICA_WRITE, PEER_OP_REPLICA_WRITE_ACK, PEER_OP_REPLICA_READ,
                           PEER_OP_REPLICA_READ_ACK, PEER_OP_FORWARD,   PEER_OP_FORWARD_ACK,
                           PEER_OP_HINT_LIST,    PEER_OP_HINT_LIST_ACK};
    for (size_t i = 0; i < sizeof(ops); i++) {
        uint8_t b[PEER_HDR_BYTES] = {0};
        store_be32(b, PEER_HDR_BYTES - 4u);
        b[8] = ops[i];
        struct peer_frame d;
        size_t fb;
        enum rkv_err why;
        cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_INVALID);
        cr_assert_eq(why, RKV_BAD_FRAME);
        cr_assert_eq(fb, sizeof(b));
    }
}

/* Each length field off by one either way disagrees with frame_bytes. */
Test(proto_peer, length_fields_that_disagree_with_the_frame_are_invalid)
{
    struct {
        struct peer_frame f;
        size_t off;
        size_t size;
    } cases[] = {
        {hello_make(PEER_OP_HELLO), 28, 2}, {hello_make(PEER_OP_HELLO), 36, 1}, {hello_make(PEER_OP_HELLO), 37, 1},
        {hello_make(PEER_OP_HELLO), 38, 1}, {hello_make(PEER_OP_HELLO), 39, 1}, {hello_make(PEER_OP_HELLO), 40, 1},
        {write_make("user:42", "hello"), 54, 1}, {write_make("user:42", "hello"), 56, 2},
        {write_make("user:42", "hello"), 60, 4}, {read_make("user:42", 0), 26, 2}, {read_ack_make("hello"), 52, 4},
        {forward_cput_make("user:42", "world", 1), 40, 2}, {forward_cput_make("user:42", "world", 1), 44, 4},
        {forward_ack_make("hello"), 32, 4}, {hint_list_make("user:42"), 20, 2},
        {hint_list_ack_make(example_hints, 2), 12, 2}, {hint_list_ack_make(example_hints, 2), 16, 1},
        {hint_list_ack_make(example_hints, 2), 36, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n;
        uint8_t *b = encode(&cases[i].f, &n);
        size_t at = cases[i].off + cases[i].size - 1;
        uint8_t orig = b[at];
        for (int delta = -1; delta <= 1; delta += 2) {
            if ((orig == 0 && delta < 0) || (orig == 0xff && delta > 0))
                continue;
            b[at] = (uint8_t)(orig + delta);
            struct peer_frame d;
            size_t fb;
            enum rkv_err why;
            cr_assert_eq(peer_frame_decode(b, n, &d, &fb, &why), PARSE_INVALID, "case %zu delta %d", i, delta);
            cr_assert_eq(why, RKV_BAD_FRAME);
            cr_assert_eq(fb, n);
        }
        b[at] = 0xff;
        if (cases[i].size == 4)
            store_be32(b + cases[i].off, UINT32_MAX);
        struct peer_frame d;
        size_t fb;
        enum rkv_err why;
        cr_assert_eq(peer_frame_decode(b, n, &d, &fb, &why), PARSE_INVALID, "case %zu huge", i);
        free(b);
    }
}

Test(proto_peer, pings_and_acks_of_the_wrong_size_are_invalid)
{
    const uint8_t ops[] = {PEER_OP_PING, PEER_OP_PONG, PEER_OP_REPLICA_WRITE_ACK};
    for (size_t i = 0; i < sizeof(ops); i++) {
        uint8_t b[PEER_PING_BYTES + 1] = {0};
        store_be32(b, PEER_PING_BYTES + 1u - 4u);
        b[8] = ops[i];
        struct peer_frame d;
        size_t fb;
        enum rkv_err why;
        cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_INVALID);
        cr_assert_eq(why, RKV_BAD_FRAME);
    }
}

/* ---- digest ---- */

Test(proto_peer, the_digest_covers_every_header_field_and_the_value)
{
    struct peer_record r = {.flags = 0, .origin = 1, .timestamp = 2, .version = 3, .expiry_ms = 4,
                            .value_bytes = 5, .value = (const uint8_t *)"hello"};
    uint64_t base = peer_record_digest(&r);
    cr_assert_eq(peer_record_digest(&r), base, "deterministic");
    struct peer_record m;
    m = r; m.flags = PEER_REC_F_TOMBSTONE; cr_assert_neq(peer_record_digest(&m), base);
    m = r; m.origin = 2; cr_assert_neq(peer_record_digest(&m), base);
    m = r; m.timestamp = 3; cr_assert_neq(peer_record_digest(&m), base);
    m = r; m.version = 4; cr_assert_neq(peer_record_digest(&m), base);
    m = r; m.expiry_ms = 5; cr_assert_neq(peer_record_digest(&m), base);
    m = r; m.value = (const uint8_t *)"hellp"; cr_assert_neq(peer_record_digest(&m), base);
    m = r; m.value_bytes = 4; cr_assert_neq(peer_record_digest(&m), base);
    m = r; m.value = NULL; m.value_bytes = 0; cr_assert_neq(peer_record_digest(&m), base);
}

Test(proto_peer, the_digest_is_xxh3_of_the_canonical_header_and_value)
{
    /* The canonical form spelled out by hand, hashed in one call: the streaming code in the
     * codec must give the same. */
    struct peer_record r = {.flags = 1, .origin = 0xa1b2c3d4u, .timestamp = EXAMPLE_TIMESTAMP, .version = 7,
                            .expiry_ms = 1767225600000ull, .value_bytes = 0};
    uint8_t c[33 + 5];
    c[0] = 1;
    store_be32(c + 1, 0xa1b2c3d4u);
    store_be64(c + 5, EXAMPLE_TIMESTAMP);
    store_be64(c + 13, 7);
    store_be64(c + 21, 1767225600000ull);
    store_be32(c + 29, 0);
    cr_assert_eq(peer_record_digest(&r), token_of_key(c, 33), "token_of_key is XXH3-64 with seed 0");
    r.flags = 0;
    r.value = (const uint8_t *)"hello";
    r.value_bytes = 5;
    c[0] = 0;
    store_be32(c + 29, 5);
    memcpy(c + 33, "hello", 5);
    cr_assert_eq(peer_record_digest(&r), token_of_key(c, sizeof(c)));
}

/* ---- FORWARD and FORWARD_ACK ---- */

Test(proto_peer, forward_round_trips_get_put_delete_and_a_conditional_put)
{
    struct peer_frame g = forward_make(BIN_OP_GET, "user:42", "");
    g.forward.consistency = BIN_CONS_ONE;
    assert_round_trips(&g);
    struct peer_frame p = forward_make(BIN_OP_PUT, "user:42", "hello");
    p.forward.ttl_s = 3600;
    p.forward.consistency = BIN_CONS_ALL;
    assert_round_trips(&p);
    struct peer_frame d = forward_make(BIN_OP_DELETE, "user:42", "");
    d.forward.token = UINT64_MAX;
    assert_round_trips(&d);
    struct peer_frame c = forward_cput_make("user:42", "hello", 0);
    assert_round_trips(&c); /* only if absent */
    c.forward.if_version = UINT64_MAX;
    c.forward.ttl_s = RKV_TTL_S_MAX;
    c.forward.deadline_ms = PEER_DEADLINE_MS_MAX;
    assert_round_trips(&c);
    cr_assert_eq(peer_frame_bytes(&c), PEER_FORWARD_FIXED_BYTES + 7u + 5u);
}

Test(proto_peer, forward_fields_are_big_endian_at_their_offsets)
{
    struct peer_frame f = forward_cput_make("k", "v", 0x2122232425262728ull);
    f.request_id = 0xa1a2a3a4u;
    f.forward.token = 0x1112131415161718ull;
    f.forward.ttl_s = 0x31323334u;
    f.forward.deadline_ms = 0x41424344u;
    f.forward.consistency = BIN_CONS_ALL;
    uint8_t b[PEER_FORWARD_FIXED_BYTES + 2];
    cr_assert_eq(peer_frame_encode(b, sizeof(b), &f), sizeof(b));
    const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x2e, 0xa1, 0xa2, 0xa3, 0xa4, 0x88, 0x00, 0x00, 0x00, /* header */
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,                         /* token */
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,                         /* if_version */
        0x31, 0x32, 0x33, 0x34, 0x41, 0x42, 0x43, 0x44,                         /* ttl_s, deadline_ms */
        0x03, 0x02, 0x00, 0x01,                                                 /* PUT, all, IF_VERSION */
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,                         /* key_bytes, value_bytes */
        'k', 'v',
    };
    cr_assert_arr_eq(b, want, sizeof(want));
}

Test(proto_peer, forward_ack_round_trips_a_value_a_miss_and_errors)
{
    struct peer_frame a = forward_ack_make("hello");
    a.forward_ack.hinted = 1;
    a.forward_ack.acked = 1;
    assert_round_trips(&a);
    struct peer_frame m = forward_ack_make("");
    m.status = PEER_ST_NOT_FOUND;
    m.forward_ack.version = 0;
    m.forward_ack.timestamp = 0;
    assert_round_trips(&m);
    struct peer_frame v = error_answer(PEER_OP_FORWARD_ACK, RKV_VERSION_MISMATCH);
    v.forward_ack.version = 7;
    v.forward_ack.acked = 1;
    v.forward_ack.needed = 1;
    assert_round_trips(&v);
    struct peer_frame u = error_answer(PEER_OP_FORWARD_ACK, RKV_UNAVAILABLE);
    u.forward_ack.acked = 1;
    u.forward_ack.needed = 3;
    assert_round_trips(&u);
    cr_assert_eq(peer_frame_bytes(&u), PEER_FORWARD_ACK_FIXED_BYTES);
}

Test(proto_peer, forward_ack_fields_are_big_endian_at_their_offsets)
{
    struct peer_frame f = forward_ack_make("v");
    f.request_id = 0xa1a2a3a4u;
    f.forward_ack.version = 0x0102030405060708ull;
    f.forward_ack.timestamp = 0x1112131415161718ull;
    f.forward_ack.acked = 3;
    f.forward_ack.needed = 2;
    f.forward_ack.hinted = 1;
    uint8_t b[PEER_FORWARD_ACK_FIXED_BYTES + 1];
    cr_assert_eq(peer_frame_encode(b, sizeof(b), &f), sizeof(b));
    const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x21, 0xa1, 0xa2, 0xa3, 0xa4, 0x89, 0x00, 0x00, 0x00,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x03, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 'v',
    };
    cr_assert_arr_eq(b, want, sizeof(want));
}

Test(proto_peer, forward_key_of_256_bytes_is_accepted_and_257_refused)
{
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX + 1u, 1);
    struct peer_frame f = forward_cput_make("k", "v", 1);
    f.forward.key = str_bytes(key, RKV_KEY_BYTES_MAX);
    assert_round_trips(&f);
    f.forward.key.bytes = RKV_KEY_BYTES_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&f), RKV_KEY_TOO_LONG);
    f.forward.key.bytes = 1;
    assert_round_trips(&f);
    f.forward.key.bytes = 0;
    cr_assert_eq(verdict_on_wire(&f), RKV_KEY_EMPTY);
    free(key);
}

Test(proto_peer, forward_value_of_1_mib_is_accepted_and_one_byte_more_refused)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX + 1u, 5);
    struct peer_frame f = forward_make(BIN_OP_PUT, "k", "");
    struct peer_frame a = forward_ack_make("");
    f.forward.value = str_bytes(value, RKV_VALUE_BYTES_MAX);
    a.forward_ack.value = str_bytes(value, RKV_VALUE_BYTES_MAX);
    assert_round_trips(&f);
    assert_round_trips(&a);
    f.forward.value.bytes = 0;
    assert_round_trips(&f);
    f.forward.value.bytes = RKV_VALUE_BYTES_MAX + 1u;
    a.forward_ack.value.bytes = RKV_VALUE_BYTES_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&f), RKV_VALUE_TOO_LONG);
    cr_assert_eq(verdict_on_wire(&a), RKV_VALUE_TOO_LONG);
    f.forward.client_opcode = BIN_OP_GET;
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "an over-limit value on a GET is a misplaced value");
    free(value);
}

Test(proto_peer, an_over_limit_forward_still_frames)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX + 1u, 5);
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX + 1u, 1);
    struct peer_frame f = forward_make(BIN_OP_PUT, "k", "");
    f.forward.key = str_bytes(key, RKV_KEY_BYTES_MAX + 1u);
    f.forward.value = str_bytes(value, RKV_VALUE_BYTES_MAX + 1u);
    cr_assert_eq(verdict_on_wire(&f), RKV_KEY_TOO_LONG);
    free(value);
    free(key);
}

Test(proto_peer, forward_ttl_is_0_to_ten_years_and_only_on_put)
{
    struct peer_frame f = forward_make(BIN_OP_PUT, "k", "v");
    f.forward.ttl_s = RKV_TTL_S_MAX;
    cr_assert_eq(verdict_on_wire(&f), RKV_OK);
    f.forward.ttl_s = RKV_TTL_S_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&f), RKV_BAD_TTL);
    f.forward.ttl_s = UINT32_MAX;
    cr_assert_eq(verdict_on_wire(&f), RKV_BAD_TTL);
    struct peer_frame g = forward_make(BIN_OP_GET, "k", "");
    g.forward.ttl_s = 1;
    cr_assert_eq(verdict_on_wire(&g), RKV_INVALID_ARG, "a GET has no TTL");
    g.forward.ttl_s = RKV_TTL_S_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&g), RKV_INVALID_ARG);
}

Test(proto_peer, forward_deadlines_are_1_to_the_maximum)
{
    struct peer_frame f = forward_cput_make("k", "v", 1);
    const uint32_t ok[] = {1, PEER_DEADLINE_MS_MAX};
    const uint32_t bad[] = {0, PEER_DEADLINE_MS_MAX + 1u, UINT32_MAX};
    for (size_t i = 0; i < 2; i++) {
        f.forward.deadline_ms = ok[i];
        cr_assert_eq(verdict_on_wire(&f), RKV_OK);
    }
    for (size_t i = 0; i < 3; i++) {
        f.forward.deadline_ms = bad[i];
        cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG);
    }
}

Test(proto_peer, forward_client_fields_follow_their_rules)
{
    const uint8_t not_forwarded[] = {0x00, BIN_OP_PING, 0x05, 0x40, 0x7f, PEER_OP_FORWARD, 0xff};
    for (size_t i = 0; i < sizeof(not_forwarded); i++) {
        struct peer_frame f = forward_make(not_forwarded[i], "k", "");
        cr_assert_eq(verdict_on_wire(&f), RKV_UNKNOWN_OPCODE, "client opcode 0x%02x", not_forwarded[i]);
    }
    struct peer_frame f = forward_cput_make("k", "v", 1);
    f.forward.req_flags = BIN_REQ_F_IF_VERSION | 0x0002u;
    cr_assert_eq(verdict_on_wire(&f), RKV_BAD_FRAME, "unknown request flag");
    f.forward.req_flags = 0x8000u;
    cr_assert_eq(verdict_on_wire(&f), RKV_BAD_FRAME, "a flag in the high byte is seen");
    f = forward_cput_make("k", "v", 1);
    f.forward.consistency = BIN_CONS_ALL + 1u;
    cr_assert_eq(verdict_on_wire(&f), RKV_BAD_CONSISTENCY);
    f = forward_make(BIN_OP_DELETE, "k", "v");
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "a DELETE has no value");
    f = forward_make(BIN_OP_GET, "k", "");
    f.forward.req_flags = BIN_REQ_F_IF_VERSION;
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "only a PUT is conditional");
    f = forward_make(BIN_OP_PUT, "k", "v");
    f.forward.if_version = 3;
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "if_version without its flag");
}

/* The point of checking the client fields in the client protocol's order: a forwarded
 * request gets the status its client would have got from bin_req_validate(). */
Test(proto_peer, a_forwarded_request_gets_the_status_the_client_protocol_gives)
{
    const uint8_t opcodes[] = {BIN_OP_GET, BIN_OP_PUT, BIN_OP_DELETE, 0x09};
    const uint16_t flags[] = {0, BIN_REQ_F_IF_VERSION, 0x0004u};
    const uint8_t cons[] = {BIN_CONS_ONE, BIN_CONS_ALL, BIN_CONS_ALL + 1u};
    const uint32_t keys[] = {0, 1, RKV_KEY_BYTES_MAX, RKV_KEY_BYTES_MAX + 1u};
    const uint32_t values[] = {0, 1, RKV_VALUE_BYTES_MAX + 1u};
    const uint32_t ttls[] = {0, RKV_TTL_S_MAX + 1u};
    const uint64_t ifs[] = {0, 5};
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX + 1u, 1);
    size_t cases = 0;
    for (size_t o = 0; o < sizeof(opcodes); o++)
        for (size_t fl = 0; fl < 3; fl++)
            for (size_t c = 0; c < 3; c++)
                for (size_t k = 0; k < 4; k++)
                    for (size_t v = 0; v < 3; v++)
                        for (size_t t = 0; t < 2; t++)
                            for (size_t iv = 0; iv < 2; iv++) {
                                struct bin_req r = {
                                    .opcode = opcodes[o], .consistency = cons[c], .flags = flags[fl],
                                    .key_bytes = (uint16_t)keys[k], .ttl_s = ttls[t],
                                    .value_bytes = values[v], .if_version = ifs[iv], .key = key,
                                };
                                struct peer_frame f = {.opcode = PEER_OP_FORWARD};
                                f.forward.client_opcode = r.opcode;
                                f.forward.consistency = r.consistency;
                                f.forward.req_flags = r.flags;
                                f.forward.key = str_bytes(key, keys[k]);
                                f.forward.ttl_s = r.ttl_s;
                                f.forward.value = str_bytes(NULL, 0);
                                f.forward.value.bytes = r.value_bytes; /* validate reads no value */
                                f.forward.if_version = r.if_version;
                                f.forward.deadline_ms = 1000;
                                cr_assert_eq(peer_frame_validate(&f), bin_req_validate(&r),
                                             "op 0x%02x flags %u cons %u key %u value %u ttl %u if %llu: %s vs %s",
                                             r.opcode, r.flags, r.consistency, keys[k], r.value_bytes, r.ttl_s,
                                             (unsigned long long)r.if_version, rkv_err_name(peer_frame_validate(&f)),
                                             rkv_err_name(bin_req_validate(&r)));
                                cases++;
                            }
    cr_assert_eq(cases, 4u * 3u * 3u * 4u * 3u * 2u * 2u);
    free(key);
}

Test(proto_peer, forward_ack_replica_counts_are_at_most_the_replication_factor)
{
    struct peer_frame a = forward_ack_make("");
    a.forward_ack.acked = RKV_RF_MAX;
    a.forward_ack.needed = RKV_RF_MAX;
    assert_round_trips(&a);
    a.forward_ack.acked = RKV_RF_MAX - 1u;
    a.forward_ack.hinted = 1;
    assert_round_trips(&a);
    a.forward_ack.hinted = 2;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "acked + hinted over the RF limit");
    a = forward_ack_make("");
    a.forward_ack.acked = RKV_RF_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG);
    a = forward_ack_make("");
    a.forward_ack.acked = UINT8_MAX;
    a.forward_ack.hinted = UINT8_MAX;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "no wrap in the sum");
    a = forward_ack_make("");
    a.forward_ack.needed = RKV_RF_MAX + 1u;
    a.forward_ack.acked = RKV_RF_MAX;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG);
    struct peer_frame u = error_answer(PEER_OP_FORWARD_ACK, RKV_UNAVAILABLE);
    u.forward_ack.needed = RKV_RF_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&u), RKV_INVALID_ARG, "errors too");
}

Test(proto_peer, forward_ack_fields_follow_the_status)
{
    struct peer_frame a = forward_ack_make("");
    a.forward_ack.version = 0;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "OK carries the key's version");
    a = forward_ack_make("");
    a.forward_ack.timestamp = 0;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "OK carries the timestamp");
    a = forward_ack_make("");
    a.forward_ack.needed = 0;
    a.forward_ack.acked = 0;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "a met level needs at least one replica");
    a = forward_ack_make("");
    a.forward_ack.acked = 1;
    cr_assert_eq(verdict_on_wire(&a), RKV_INVALID_ARG, "OK below the level");
    a.forward_ack.hinted = 1;
    cr_assert_eq(verdict_on_wire(&a), RKV_OK, "hints count toward the level");

    struct peer_frame m = forward_ack_make("");
    m.status = PEER_ST_NOT_FOUND;
    m.forward_ack.version = 0;
    m.forward_ack.timestamp = 0;
    cr_assert_eq(verdict_on_wire(&m), RKV_OK);
    m.forward_ack.version = 1;
    cr_assert_eq(verdict_on_wire(&m), RKV_INVALID_ARG, "a miss has no version");
    m.forward_ack.version = 0;
    m.forward_ack.timestamp = 1;
    cr_assert_eq(verdict_on_wire(&m), RKV_INVALID_ARG, "a miss has no timestamp");
    m.forward_ack.timestamp = 0;
    m.forward_ack.value = str_of("v");
    cr_assert_eq(verdict_on_wire(&m), RKV_INVALID_ARG, "a miss has no value");
    m.forward_ack.value = str_of("");
    m.forward_ack.acked = 1;
    cr_assert_eq(verdict_on_wire(&m), RKV_INVALID_ARG, "a miss below the level is not a miss");

    struct peer_frame e = error_answer(PEER_OP_FORWARD_ACK, RKV_VERSION_MISMATCH);
    e.forward_ack.version = UINT64_MAX;
    cr_assert_eq(verdict_on_wire(&e), RKV_OK, "a refused condition reports the current version");
    e.forward_ack.timestamp = 1;
    cr_assert_eq(verdict_on_wire(&e), RKV_INVALID_ARG);
    e = error_answer(PEER_OP_FORWARD_ACK, RKV_UNAVAILABLE);
    e.forward_ack.version = 1;
    cr_assert_eq(verdict_on_wire(&e), RKV_INVALID_ARG, "only VERSION_MISMATCH has a version");
    e = error_answer(PEER_OP_FORWARD_ACK, RKV_TIMEOUT);
    e.forward_ack.value = str_of("request timed out");
    cr_assert_eq(verdict_on_wire(&e), RKV_INVALID_ARG, "the error's message is not sent");
}

/* ---- HINT_LIST and HINT_LIST_ACK ---- */

Test(proto_peer, hint_list_round_trips)
{
    struct peer_frame h = hint_list_make("user:42");
    assert_round_trips(&h);
    cr_assert_eq(peer_frame_bytes(&h), PEER_HINT_LIST_FIXED_BYTES + 7u);
    h.hint_list.token = UINT64_MAX;
    assert_round_trips(&h);
}

Test(proto_peer, hint_list_key_of_256_bytes_is_accepted_and_257_refused)
{
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX + 1u, 1);
    struct peer_frame h = hint_list_make("k");
    h.hint_list.key = str_bytes(key, RKV_KEY_BYTES_MAX);
    assert_round_trips(&h);
    h.hint_list.key.bytes = RKV_KEY_BYTES_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&h), RKV_KEY_TOO_LONG);
    h.hint_list.key.bytes = 1;
    assert_round_trips(&h);
    h.hint_list.key.bytes = 0;
    cr_assert_eq(verdict_on_wire(&h), RKV_KEY_EMPTY);
    free(key);
}

Test(proto_peer, hint_list_ack_round_trips_none_some_and_an_error)
{
    struct peer_frame none = hint_list_ack_make(NULL, 0);
    assert_round_trips(&none);
    cr_assert_eq(peer_frame_bytes(&none), PEER_HINT_LIST_ACK_FIXED_BYTES);
    struct peer_frame two = hint_list_ack_make(example_hints, 2);
    assert_round_trips(&two);
    cr_assert_eq(peer_frame_bytes(&two), PEER_HINT_LIST_ACK_FIXED_BYTES + 2u * PEER_HINT_LIST_ENTRY_BYTES + 12u);
    struct peer_frame e = error_answer(PEER_OP_HINT_LIST_ACK, RKV_IO);
    assert_round_trips(&e);
}

Test(proto_peer, hint_list_ack_lays_out_the_entry_table_then_the_targets)
{
    struct peer_frame f = hint_list_ack_make(example_hints, 2);
    size_t n;
    uint8_t *b = encode(&f, &n);
    cr_assert_eq(load_be16(b + 12), 2u);
    cr_assert_eq(b[16], 6u, "first entry's target_bytes");
    cr_assert_eq(load_be64(b + 20), 2u, "first entry's version");
    cr_assert_eq(load_be64(b + 28), EXAMPLE_TIMESTAMP + (1ull << 16));
    cr_assert_eq(b[36], 6u, "second entry at 16 + 20");
    cr_assert_eq(load_be64(b + 40), 3u);
    cr_assert_eq(memcmp(b + 56, "node-cnode-d", 12), 0, "targets after the table, in entry order");
    cr_assert_eq(n, 68u);
    free(b);
}

Test(proto_peer, hint_list_entries_of_a_decoded_answer_read_in_any_order)
{
    char *ids;
    struct peer_hint_entry *e = hint_entries_make(PEER_HINT_LIST_ENTRIES_MAX, 0, &ids);
    /* Targets of every length 1..64, so that each entry's offset depends on all before it. */
    char *name = name_of_len(RKV_NODE_ID_BYTES_MAX);
    for (uint32_t i = 0; i < PEER_HINT_LIST_ENTRIES_MAX; i++)
        e[i].target = str_bytes((const uint8_t *)name, i % RKV_NODE_ID_BYTES_MAX + 1u);
    struct peer_frame f = hint_list_ack_make(e, PEER_HINT_LIST_ENTRIES_MAX);
    size_t n;
    uint8_t *b = encode(&f, &n);
    struct peer_frame d;
    decode_done(b, n, &d);
    cr_assert_eq(peer_frame_validate(&d), RKV_OK);
    for (uint32_t k = 0; k < PEER_HINT_LIST_ENTRIES_MAX; k++) {
        uint32_t i = (k * 37u) % PEER_HINT_LIST_ENTRIES_MAX; /* a permutation: 37 is prime to 64 */
        struct peer_hint_entry got;
        memset(&got, 0xee, sizeof(got));
        peer_hint_list_entry(&d.hint_list_ack, i, &got);
        str_eq(&got.target, &e[i].target);
        cr_assert_eq(got.version, e[i].version);
        cr_assert_eq(got.timestamp, e[i].timestamp);
    }
    free(b);
    free(name);
    free(e);
    free(ids);
}

Test(proto_peer, hint_list_of_64_entries_is_accepted_and_65_refused)
{
    char *ids;
    struct peer_hint_entry *e = hint_entries_make(PEER_HINT_LIST_ENTRIES_MAX + 1u, RKV_NODE_ID_BYTES_MAX, &ids);
    struct peer_frame f = hint_list_ack_make(e, PEER_HINT_LIST_ENTRIES_MAX);
    assert_round_trips(&f);
    size_t want = PEER_HINT_LIST_ACK_FIXED_BYTES +
                  PEER_HINT_LIST_ENTRIES_MAX * (PEER_HINT_LIST_ENTRY_BYTES + RKV_NODE_ID_BYTES_MAX);
    cr_assert_eq(peer_frame_bytes(&f), want, "the largest valid answer is %zu bytes", want);
    f.hint_list_ack.count = PEER_HINT_LIST_ENTRIES_MAX + 1u;
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG);
    f.hint_list_ack.count = 1;
    assert_round_trips(&f);
    free(e);
    free(ids);
}

Test(proto_peer, hint_targets_of_64_bytes_are_accepted_and_65_refused)
{
    char *id64 = name_of_len(RKV_NODE_ID_BYTES_MAX);
    char *id65 = name_of_len(RKV_NODE_ID_BYTES_MAX + 1u);
    struct peer_hint_entry e[2] = {example_hints[0], example_hints[1]};
    struct peer_frame f = hint_list_ack_make(e, 2);
    e[1].target = str_of(id64);
    assert_round_trips(&f);
    e[1].target = str_of(id65);
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG);
    e[1].target = str_of("a");
    assert_round_trips(&f);
    e[1].target = str_of("");
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "a hint names its node");
    e[1].target = str_of("node c");
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "node id characters");
    free(id64);
    free(id65);
}

Test(proto_peer, hint_list_ack_rules)
{
    struct peer_hint_entry e[2] = {example_hints[0], example_hints[1]};
    struct peer_frame f = hint_list_ack_make(e, 2);
    e[0].version = 0;
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "a hinted record has a version");
    e[0].version = 1;
    e[1].timestamp = 0;
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "a hinted record has a timestamp");
    e[1].timestamp = UINT64_MAX;
    e[1].version = UINT64_MAX;
    cr_assert_eq(verdict_on_wire(&f), RKV_OK);
    f.status = PEER_ST_ERROR;
    f.err = rkv_err_wire(RKV_BUSY);
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG, "an error lists nothing");
}

Test(proto_peer, an_over_limit_hint_list_still_frames)
{
    char *ids;
    struct peer_hint_entry *e = hint_entries_make(PEER_HINT_LIST_ENTRIES_MAX + 1u, UINT8_MAX, &ids);
    struct peer_frame f = hint_list_ack_make(e, PEER_HINT_LIST_ENTRIES_MAX + 1u);
    cr_assert_eq(verdict_on_wire(&f), RKV_INVALID_ARG);
    free(e);
    free(ids);
}

Test(proto_peer, an_entry_table_past_the_frame_is_invalid)
{
    /* A count that claims more entries than the frame holds, with nothing after. */
    uint8_t b[PEER_HINT_LIST_ACK_FIXED_BYTES + PEER_HINT_LIST_ENTRY_BYTES] = {0};
    store_be32(b, sizeof(b) - 4u);
    b[8] = PEER_OP_HINT_LIST_ACK;
    store_be16(b + 12, 2);
    struct peer_frame d;
    size_t fb;
    enum rkv_err why;
    cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_INVALID);
    cr_assert_eq(why, RKV_BAD_FRAME);
    store_be16(b + 12, UINT16_MAX);
    cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_INVALID);
    /* One entry with a zero-length target frames (and is then refused by validate). */
    store_be16(b + 12, 1);
    b[16 + 4 + 7] = 1;
    b[16 + 12 + 7] = 1;
    cr_assert_eq(peer_frame_decode(b, sizeof(b), &d, &fb, &why), PARSE_DONE);
    cr_assert_eq(peer_frame_validate(&d), RKV_INVALID_ARG);
}

Test(proto_peer, hint_list_encoder_refuses_targets_a_byte_cannot_count)
{
    char *long_name = name_of_len(256);
    struct peer_hint_entry e[1] = {{str_of(long_name), 1, 1}};
    struct peer_frame f = hint_list_ack_make(e, 1);
    cr_assert_eq(peer_frame_bytes(&f), 0u);
    uint8_t b[512];
    cr_assert_eq(peer_frame_encode(b, sizeof(b), &f), 0u);
    e[0].target.bytes = 255;
    cr_assert_eq(peer_frame_bytes(&f), PEER_HINT_LIST_ACK_FIXED_BYTES + PEER_HINT_LIST_ENTRY_BYTES + 255u);
    struct peer_frame h = hint_list_make("k");
    h.hint_list.key.bytes = 65536;
    cr_assert_eq(peer_frame_bytes(&h), 0u);
    struct peer_frame w = forward_make(BIN_OP_GET, "k", "");
    w.forward.key.bytes = 65536;
    cr_assert_eq(peer_frame_bytes(&w), 0u);
    free(long_name);
}

Test(proto_peer, reading_a_hint_entry_past_the_count_aborts, .signal = SIGABRT)
{
    struct peer_frame f = hint_list_ack_make(example_hints, 2);
    struct peer_hint_entry e;
    peer_hint_list_entry(&f.hint_list_ack, 2, &e);
}

Test(proto_peer, reading_a_hint_entry_of_a_decoded_answer_past_the_count_aborts, .signal = SIGABRT)
{
    struct peer_frame f = hint_list_ack_make(example_hints, 2);
    uint8_t b[128];
    size_t n = peer_frame_encode(b, sizeof(b), &f);
    struct peer_frame d;
    size_t fb;
    enum rkv_err why;
    if (n == 0 || peer_frame_decode(b, n, &d, &fb, &why) != PARSE_DONE)
        return; /* no abort: the test fails */
    struct peer_hint_entry e;
    peer_hint_list_entry(&d.hint_list_ack, 2, &e);
}

/* ---- the caller's own bugs ---- */

Test(proto_peer, reading_a_token_past_the_count_aborts, .signal = SIGABRT)
{
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    (void)peer_hello_token(&h.hello, h.hello.token_count);
}

Test(proto_peer, a_digest_of_value_bytes_without_a_value_aborts, .signal = SIGABRT)
{
    struct peer_record r = {.timestamp = 1, .version = 1, .value_bytes = 1, .value = NULL};
    (void)peer_record_digest(&r);
}

Test(proto_peer, decoding_without_out_parameters_aborts, .signal = SIGABRT)
{
    uint8_t b[4] = {0};
    size_t fb;
    enum rkv_err why;
    (void)peer_frame_decode(b, sizeof(b), NULL, &fb, &why);
}

/* ---- the examples of docs/protocol.md ---- */

#define EXAMPLE_BYTES_MAX 512u

struct example {
    uint8_t bytes[EXAMPLE_BYTES_MAX];
    size_t len;
    char text[8192];
};

static char *doc_read(void)
{
    FILE *f = fopen(DOC_PATH, "rb");
    cr_assert_not_null(f, "cannot open %s", DOC_PATH);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_gt(n, 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void dump_line(struct example *ex, size_t off, size_t n, const char *note)
{
    char line[256];
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(line + at, sizeof(line) - at, i ? " %02x" : "%02x", ex->bytes[off + i]);
    if (note[0] != '\0')
        snprintf(line + at, sizeof(line) - at, "%*s%s", (int)(26 - at), "", note);
    strncat(ex->text, line, sizeof(ex->text) - strlen(ex->text) - 2);
    strcat(ex->text, "\n");
}

/* A run of bytes shown eight to a line, its text in quotes on the first. */
static void dump_str(struct example *ex, size_t off, size_t n, const char *field)
{
    if (n == 0)
        return;
    char note[128];
    snprintf(note, sizeof(note), "%-16s \"%.*s\"", field, (int)n, (const char *)ex->bytes + off);
    for (size_t i = 0; i < n; i += 8)
        dump_line(ex, off + i, n - i < 8 ? n - i : 8, i == 0 ? note : "");
}

static void dump_uint(struct example *ex, size_t off, size_t n, const char *field)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | ex->bytes[off + i];
    char note[128];
    if (strcmp(field, "hlc_ts") == 0 || strcmp(field, "echo_ts") == 0 || strncmp(field, "timestamp", 9) == 0)
        snprintf(note, sizeof(note), "%-16s %llu ms << 16 | %llu", field, (unsigned long long)(v >> 16),
                 (unsigned long long)(v & 0xffffu));
    else if (strcmp(field, "token") == 0 || strncmp(field, "token[", 6) == 0 || strcmp(field, "digest") == 0 || strcmp(field, "origin") == 0)
        snprintf(note, sizeof(note), "%-16s 0x%0*llx", field, (int)n * 2, (unsigned long long)v);
    else if (strncmp(field, "reserved", 8) == 0)
        snprintf(note, sizeof(note), "%s", field);
    else
        snprintf(note, sizeof(note), "%-16s %llu", field, (unsigned long long)v);
    dump_line(ex, off, n, note);
}

static const char *status_name(uint8_t s)
{
    static const char *const names[] = {"OK", "NOT_FOUND", "FENCED", "SKEW", "ERROR"};
    return s < PEER_ST_COUNT ? names[s] : "?";
}

static void example_of(struct example *ex, const struct peer_frame *f)
{
    memset(ex, 0, sizeof(*ex));
    ex->len = peer_frame_encode(ex->bytes, sizeof(ex->bytes), f);
    cr_assert_gt(ex->len, 0u);
    char note[128];
    snprintf(note, sizeof(note), "%-16s %zu", "frame_bytes", ex->len - 4);
    dump_line(ex, 0, 4, note);
    dump_uint(ex, 4, 4, "request_id");
    snprintf(note, sizeof(note), "%-16s %s", "opcode", peer_opcode_name(f->opcode));
    dump_line(ex, 8, 1, note);
    snprintf(note, sizeof(note), "%-16s %s", "status", (f->opcode & 1u) ? status_name(f->status) : "0 (request)");
    dump_line(ex, 9, 1, note);
    enum rkv_err e = RKV_OK;
    snprintf(note, sizeof(note), "%-16s %s", "err",
             f->err != 0 && rkv_err_from_wire(f->err, &e) ? rkv_err_name(e) : "0");
    dump_line(ex, 10, 1, note);
    dump_uint(ex, 11, 1, "reserved");
    switch (f->opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK: {
        static const struct {
            size_t off, size;
            const char *name;
        } fields[] = {
            {12, 2, "proto_version"},   {14, 2, "reserved"},        {16, 8, "hlc_ts"},
            {24, 2, "shard_count"},     {26, 2, "vnode_count"},     {28, 2, "token_count"},
            {30, 2, "bin_port"},        {32, 2, "http_port"},       {34, 2, "peer_port"},
            {36, 1, "node_id_bytes"},   {37, 1, "cluster_bytes"},   {38, 1, "bin_host_bytes"},
            {39, 1, "http_host_bytes"}, {40, 1, "peer_host_bytes"}, {41, 3, "reserved"},
        };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            dump_uint(ex, fields[i].off, fields[i].size, fields[i].name);
        size_t at = 44;
        for (uint32_t i = 0; i < f->hello.token_count; i++, at += 8) {
            char name[32];
            snprintf(name, sizeof(name), "token[%u]", i);
            dump_uint(ex, at, 8, name);
        }
        const struct peer_str *s[] = {&f->hello.node_id, &f->hello.cluster, &f->hello.bin_addr.host,
                                      &f->hello.http_addr.host, &f->hello.peer_addr.host};
        const char *names[] = {"node_id", "cluster", "bin_host", "http_host", "peer_host"};
        for (size_t i = 0; i < 5; i++) {
            dump_str(ex, at, s[i]->bytes, names[i]);
            at += s[i]->bytes;
        }
        break;
    }
    case PEER_OP_PING:
    case PEER_OP_PONG:
        dump_uint(ex, 12, 8, "hlc_ts");
        dump_uint(ex, 20, 8, "echo_ts");
        break;
    case PEER_OP_REPLICA_WRITE: {
        static const struct {
            size_t off, size;
            const char *name;
        } fields[] = {
            {12, 8, "token"},       {20, 8, "timestamp"},  {28, 8, "version"},     {36, 8, "expiry_ms"},
            {44, 4, "origin"},      {48, 4, "deadline_ms"}, {52, 1, "rec_flags"},  {53, 1, "consistency"},
            {54, 1, "hint_bytes"},  {55, 1, "reserved"},   {56, 2, "key_bytes"},   {58, 2, "reserved"},
            {60, 4, "value_bytes"},
        };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            dump_uint(ex, fields[i].off, fields[i].size, fields[i].name);
        size_t at = 64;
        dump_str(ex, at, f->write.key.bytes, "key");
        at += f->write.key.bytes;
        dump_str(ex, at, f->write.hint.bytes, "hint");
        at += f->write.hint.bytes;
        dump_str(ex, at, f->write.rec.value_bytes, "value");
        break;
    }
    case PEER_OP_REPLICA_WRITE_ACK:
        dump_uint(ex, 12, 8, "version");
        dump_uint(ex, 20, 8, "timestamp");
        break;
    case PEER_OP_REPLICA_READ:
        dump_uint(ex, 12, 8, "token");
        dump_uint(ex, 20, 4, "deadline_ms");
        dump_uint(ex, 24, 1, "read_flags");
        dump_uint(ex, 25, 1, "reserved");
        dump_uint(ex, 26, 2, "key_bytes");
        dump_str(ex, 28, f->read.key.bytes, "key");
        break;
    case PEER_OP_REPLICA_READ_ACK: {
        static const struct {
            size_t off, size;
            const char *name;
        } fields[] = {
            {12, 8, "timestamp"}, {20, 8, "version"},  {28, 8, "expiry_ms"}, {36, 8, "digest"},
            {44, 4, "origin"},    {48, 1, "rec_flags"}, {49, 1, "ack_flags"}, {50, 2, "reserved"},
            {52, 4, "value_bytes"},
        };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            dump_uint(ex, fields[i].off, fields[i].size, fields[i].name);
        dump_str(ex, 56, f->read_ack.rec.value_bytes, "value");
        break;
    }
    case PEER_OP_FORWARD: {
        static const struct {
            size_t off, size;
            const char *name;
        } fields[] = {
            {12, 8, "token"},         {20, 8, "if_version"},  {28, 4, "ttl_s"},     {32, 4, "deadline_ms"},
            {36, 1, "client_opcode"}, {37, 1, "consistency"}, {38, 2, "req_flags"}, {40, 2, "key_bytes"},
            {42, 2, "reserved"},      {44, 4, "value_bytes"},
        };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            if (fields[i].off == 36) {
                uint8_t op = f->forward.client_opcode;
                snprintf(note, sizeof(note), "%-16s 0x%02x %s", "client_opcode", op,
                         op == BIN_OP_GET ? "GET" : op == BIN_OP_PUT ? "PUT" : op == BIN_OP_DELETE ? "DELETE" : "?");
                dump_line(ex, 36, 1, note);
            } else if (fields[i].off == 38) {
                snprintf(note, sizeof(note), "%-16s 0x%04x%s", "req_flags", f->forward.req_flags,
                         f->forward.req_flags == BIN_REQ_F_IF_VERSION ? " IF_VERSION" : "");
                dump_line(ex, 38, 2, note);
            } else {
                dump_uint(ex, fields[i].off, fields[i].size, fields[i].name);
            }
        }
        dump_str(ex, 48, f->forward.key.bytes, "key");
        dump_str(ex, 48 + f->forward.key.bytes, f->forward.value.bytes, "value");
        break;
    }
    case PEER_OP_FORWARD_ACK: {
        static const struct {
            size_t off, size;
            const char *name;
        } fields[] = {
            {12, 8, "version"}, {20, 8, "timestamp"}, {28, 1, "acked"},       {29, 1, "needed"},
            {30, 1, "hinted"},  {31, 1, "reserved"},  {32, 4, "value_bytes"},
        };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            dump_uint(ex, fields[i].off, fields[i].size, fields[i].name);
        dump_str(ex, 36, f->forward_ack.value.bytes, "value");
        break;
    }
    case PEER_OP_HINT_LIST:
        dump_uint(ex, 12, 8, "token");
        dump_uint(ex, 20, 2, "key_bytes");
        dump_uint(ex, 22, 2, "reserved");
        dump_str(ex, 24, f->hint_list.key.bytes, "key");
        break;
    case PEER_OP_HINT_LIST_ACK: {
        dump_uint(ex, 12, 2, "count");
        dump_uint(ex, 14, 2, "reserved");
        size_t at = 16;
        for (uint32_t i = 0; i < f->hint_list_ack.count; i++, at += PEER_HINT_LIST_ENTRY_BYTES) {
            char name[32];
            snprintf(name, sizeof(name), "target_bytes[%u]", i);
            dump_uint(ex, at, 1, name);
            dump_uint(ex, at + 1, 3, "reserved");
            snprintf(name, sizeof(name), "version[%u]", i);
            dump_uint(ex, at + 4, 8, name);
            snprintf(name, sizeof(name), "timestamp[%u]", i);
            dump_uint(ex, at + 12, 8, name);
        }
        for (uint32_t i = 0; i < f->hint_list_ack.count; i++) {
            struct peer_hint_entry entry;
            peer_hint_list_entry(&f->hint_list_ack, i, &entry);
            char name[32];
            snprintf(name, sizeof(name), "target[%u]", i);
            dump_str(ex, at, entry.target.bytes, name);
            at += entry.target.bytes;
        }
        break;
    }
    default:
        cr_assert_fail("no example layout for 0x%02x", f->opcode);
    }
}

static size_t doc_example_bytes(const char *doc, const char *name, uint8_t *out, size_t cap)
{
    char marker[128];
    snprintf(marker, sizeof(marker), "<!-- example: %s -->", name);
    const char *p = strstr(doc, marker);
    cr_assert_not_null(p, "docs/protocol.md has no %s", marker);
    cr_assert_null(strstr(p + 1, marker), "docs/protocol.md has %s twice", marker);
    p = strstr(p, "```");
    cr_assert_not_null(p);
    p = strchr(p, '\n');
    cr_assert_not_null(p);
    p++;
    const char *end = strstr(p, "```");
    cr_assert_not_null(end);
    size_t n = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        const char *q = p;
        for (;;) {
            while (q < eol && *q == ' ')
                q++;
            if (q + 2 > eol || !isxdigit((unsigned char)q[0]) || !isxdigit((unsigned char)q[1]) ||
                (q + 2 < eol && q[2] != ' '))
                break;
            cr_assert_lt(n, cap);
            char hex[3] = {q[0], q[1], '\0'};
            out[n++] = (uint8_t)strtoul(hex, NULL, 16);
            q += 2;
        }
        p = eol + 1;
    }
    return n;
}

/* Writes the example's bytes as a seed of the fuzz corpus when RKV_PEER_CORPUS_OUT names a
 * folder (how tests/fuzz/corpus/proto_peer was made). */
static void corpus_write(const char *name, const uint8_t *b, size_t n)
{
    const char *dir = getenv("RKV_PEER_CORPUS_OUT");
    if (dir == NULL)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void check_example(const char *name, const struct peer_frame *f)
{
    struct example ex;
    example_of(&ex, f);
    cr_assert_eq(peer_frame_validate(f), RKV_OK, "%s is a valid frame", name);
    corpus_write(name, ex.bytes, ex.len);
    if (getenv("RKV_PRINT_DOC_HEX") != NULL) {
        printf("<!-- example: %s -->\n```text\n%s```\n\n", name, ex.text);
        return;
    }
    char *doc = doc_read();
    uint8_t got[EXAMPLE_BYTES_MAX];
    size_t n = doc_example_bytes(doc, name, got, sizeof(got));
    free(doc);
    cr_assert_eq(n, ex.len, "%s: the doc shows %zu bytes, the codec writes %zu:\n%s", name, n, ex.len, ex.text);
    cr_assert_arr_eq(got, ex.bytes, n, "%s differs from the codec's bytes:\n%s", name, ex.text);
}

Test(proto_peer_doc, the_hello_examples_match_the_doc)
{
    struct peer_frame h = hello_make(PEER_OP_HELLO);
    check_example("peer-hello", &h);
    struct peer_frame a = hello_make(PEER_OP_HELLO_ACK);
    a.hello.node_id = str_of("node-b");
    a.hello.cluster = str_of("prod");
    a.hello.shard_count = 1;
    a.hello.vnode_count = 150;
    a.hello.token_count = 0;
    a.hello.tokens = NULL;
    a.hello.hlc_ts = EXAMPLE_TIMESTAMP + (2ull << 16);
    a.hello.bin_addr = (struct peer_addr){str_of("::1"), 7379};
    a.hello.http_addr = (struct peer_addr){str_of(""), 0};
    a.hello.peer_addr = (struct peer_addr){str_of("::1"), 7380};
    check_example("peer-hello-ack", &a);
}

Test(proto_peer_doc, the_ping_examples_match_the_doc)
{
    struct peer_frame p = ping_make(PEER_OP_PING);
    check_example("peer-ping", &p);
    struct peer_frame q = ping_make(PEER_OP_PONG);
    q.ping.echo_ts = EXAMPLE_TIMESTAMP;
    q.ping.hlc_ts = EXAMPLE_TIMESTAMP + (1ull << 16);
    check_example("peer-pong", &q);
}

Test(proto_peer_doc, the_replica_write_examples_match_the_doc)
{
    struct peer_frame w = write_make("user:42", "hello");
    check_example("peer-replica-write", &w);
    struct peer_frame a = write_ack_make(PEER_ST_OK, 1, EXAMPLE_TIMESTAMP);
    check_example("peer-replica-write-ack", &a);

    struct peer_frame t = write_make("user:42", "");
    t.request_id = 5;
    t.write.rec.flags = PEER_REC_F_TOMBSTONE;
    t.write.rec.timestamp = EXAMPLE_TIMESTAMP + 1;
    t.write.rec.version = 2;
    t.write.rec.expiry_ms = 1767225600000ull;
    t.write.consistency = BIN_CONS_ALL;
    t.write.hint = str_of("node-c");
    check_example("peer-replica-write-hint", &t);
    struct peer_frame fenced = write_ack_make(PEER_ST_FENCED, 3, EXAMPLE_TIMESTAMP + 7);
    fenced.request_id = 5;
    check_example("peer-replica-write-fenced", &fenced);
}

Test(proto_peer_doc, the_replica_read_examples_match_the_doc)
{
    struct peer_frame r = read_make("user:42", 0);
    check_example("peer-replica-read", &r);
    struct peer_frame a = read_ack_make("hello");
    check_example("peer-replica-read-ack", &a);

    struct peer_frame d = read_make("user:42", PEER_READ_F_DIGEST);
    d.request_id = 6;
    check_example("peer-replica-read-digest", &d);
    struct peer_frame da = read_ack_make("hello");
    da.request_id = 6;
    da.read_ack.digest = peer_record_digest(&da.read_ack.rec);
    da.read_ack.flags = PEER_READ_ACK_F_DIGEST;
    da.read_ack.rec.value = NULL;
    da.read_ack.rec.value_bytes = 0;
    check_example("peer-replica-read-ack-digest", &da);

    struct peer_frame miss = {.request_id = 7, .opcode = PEER_OP_REPLICA_READ_ACK, .status = PEER_ST_NOT_FOUND};
    check_example("peer-replica-read-ack-miss", &miss);
    struct peer_frame err = error_answer(PEER_OP_REPLICA_READ_ACK, RKV_IO);
    err.request_id = 8;
    check_example("peer-replica-read-ack-error", &err);
}

Test(proto_peer_doc, the_forward_examples_match_the_doc)
{
    struct peer_frame f = forward_cput_make("user:42", "world", 1);
    f.forward.ttl_s = 3600;
    check_example("peer-forward", &f);
    struct peer_frame a = forward_ack_make("");
    a.forward_ack.timestamp = EXAMPLE_TIMESTAMP + (5ull << 16);
    check_example("peer-forward-ack", &a);

    struct peer_frame m = forward_cput_make("user:42", "again", 1);
    m.request_id = 12;
    check_example("peer-forward-stale", &m);
    struct peer_frame e = error_answer(PEER_OP_FORWARD_ACK, RKV_VERSION_MISMATCH);
    e.request_id = 12;
    e.forward_ack.version = 2;
    check_example("peer-forward-ack-mismatch", &e);
}

Test(proto_peer_doc, the_hint_list_examples_match_the_doc)
{
    struct peer_frame h = hint_list_make("user:42");
    check_example("peer-hint-list", &h);
    struct peer_frame a = hint_list_ack_make(example_hints, 2);
    check_example("peer-hint-list-ack", &a);
}

Test(proto_peer_doc, the_peer_limits_in_the_doc_are_the_limits_of_the_code)
{
    if (getenv("RKV_PRINT_DOC_HEX") != NULL)
        return;
    char *doc = doc_read();
    char s[160];
    snprintf(s, sizeof(s), "| node id | 1 | %u |", RKV_NODE_ID_BYTES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| cluster name | 0 | %u |", PEER_CLUSTER_BYTES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| host | 1 | %u |", PEER_HOST_BYTES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| shard_count | 1 | %u |", RKV_SHARDS_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| vnode_count | 1 | %u |", RKV_VNODES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| deadline_ms | 1 | %u |", PEER_DEADLINE_MS_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| replicas in a FORWARD_ACK | 0 | %u |", RKV_RF_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| hint list entries | 0 | %u |", PEER_HINT_LIST_ENTRIES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| `count` (c) | 0 ..= %u; 0 for `ERROR` |", PEER_HINT_LIST_ENTRIES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| peer frame_bytes | %u | %u |", PEER_HDR_BYTES - 4u, RKV_FRAME_BYTES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| `PEER_PROTO_VERSION` | %u |", PEER_PROTO_VERSION);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    /* The digest quoted in the text is the one of the example record. */
    struct peer_frame a = read_ack_make("hello");
    snprintf(s, sizeof(s), "is 0x%016llx.", (unsigned long long)peer_record_digest(&a.read_ack.rec));
    cr_assert_not_null(strstr(doc, s), "%s", s);
    free(doc);
}

/* ---- fuzz seeds ---- */

/* Edge frames of FORWARD and HINT_LIST, each asserted to get its verdict here and written as
 * a seed of tests/fuzz/corpus/proto_peer when RKV_PEER_CORPUS_OUT names a folder. */
static void seed_frame(const char *name, const struct peer_frame *f, enum rkv_err want)
{
    cr_assert_eq(verdict_on_wire(f), want, "%s: %s", name, rkv_err_name(verdict_on_wire(f)));
    size_t n;
    uint8_t *b = encode(f, &n);
    corpus_write(name, b, n);
    free(b);
}

/* f with bytes [off, off + len) of its encoding replaced: delimited but malformed. */
static void seed_poked(const char *name, const struct peer_frame *f, size_t off, const uint8_t *bytes, size_t len)
{
    size_t n;
    uint8_t *b = encode(f, &n);
    cr_assert_leq(off + len, n);
    memcpy(b + off, bytes, len);
    struct peer_frame d;
    size_t fb;
    enum rkv_err why;
    cr_assert_eq(peer_frame_decode(b, n, &d, &fb, &why), PARSE_INVALID, "%s", name);
    cr_assert_eq(why, RKV_BAD_FRAME, "%s", name);
    cr_assert_eq(fb, n, "%s is delimited", name);
    corpus_write(name, b, n);
    free(b);
}

Test(proto_peer_corpus, forward_and_hint_list_seeds_get_their_verdicts)
{
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX + 1u, 1);
    struct peer_frame f;

    f = forward_make(BIN_OP_GET, "user:42", "");
    seed_frame("forward_get", &f, RKV_OK);
    f = forward_make(BIN_OP_DELETE, "user:42", "");
    f.forward.consistency = BIN_CONS_ALL;
    seed_frame("forward_delete", &f, RKV_OK);
    f = forward_make(BIN_OP_PUT, "user:42", "hello");
    f.forward.ttl_s = RKV_TTL_S_MAX;
    f.forward.deadline_ms = PEER_DEADLINE_MS_MAX;
    seed_frame("forward_put_ttl_max", &f, RKV_OK);
    f.forward.ttl_s = RKV_TTL_S_MAX + 1u;
    seed_frame("forward_put_ttl_over", &f, RKV_BAD_TTL);
    f = forward_cput_make("user:42", "hello", 0);
    seed_frame("forward_cput_if_absent", &f, RKV_OK);
    f = forward_cput_make("k", "v", 1);
    f.forward.key = str_bytes(key, RKV_KEY_BYTES_MAX);
    seed_frame("forward_key_256", &f, RKV_OK);
    f.forward.key.bytes = RKV_KEY_BYTES_MAX + 1u;
    seed_frame("forward_key_257", &f, RKV_KEY_TOO_LONG);
    f.forward.key.bytes = 0;
    seed_frame("forward_key_empty", &f, RKV_KEY_EMPTY);
    f = forward_make(BIN_OP_PING, "k", "");
    seed_frame("forward_client_ping", &f, RKV_UNKNOWN_OPCODE);
    f = forward_make(0x42, "k", "");
    seed_frame("forward_client_opcode_unknown", &f, RKV_UNKNOWN_OPCODE);
    f = forward_cput_make("k", "v", 1);
    f.forward.req_flags = 0x0100u | BIN_REQ_F_IF_VERSION;
    seed_frame("forward_flag_high_byte", &f, RKV_BAD_FRAME);
    f = forward_make(BIN_OP_GET, "k", "");
    f.forward.consistency = 3;
    seed_frame("forward_bad_consistency", &f, RKV_BAD_CONSISTENCY);
    f = forward_make(BIN_OP_GET, "k", "v");
    seed_frame("forward_get_with_value", &f, RKV_INVALID_ARG);
    f = forward_make(BIN_OP_DELETE, "k", "");
    f.forward.req_flags = BIN_REQ_F_IF_VERSION;
    seed_frame("forward_delete_if_version", &f, RKV_INVALID_ARG);
    f = forward_make(BIN_OP_PUT, "k", "v");
    f.forward.if_version = 9;
    seed_frame("forward_if_version_without_flag", &f, RKV_INVALID_ARG);
    f = forward_cput_make("k", "v", 1);
    f.forward.deadline_ms = 0;
    seed_frame("forward_deadline_zero", &f, RKV_INVALID_ARG);
    f.forward.deadline_ms = PEER_DEADLINE_MS_MAX + 1u;
    seed_frame("forward_deadline_over", &f, RKV_INVALID_ARG);
    f = forward_cput_make("k", "v", 1);
    seed_poked("forward_reserved_nonzero", &f, 42, (const uint8_t[]){0x00, 0x01}, 2);
    seed_poked("forward_value_bytes_huge", &f, 44, (const uint8_t[]){0xff, 0xff, 0xff, 0xff}, 4);

    f = forward_ack_make("hello");
    seed_frame("forward_ack_get_value", &f, RKV_OK);
    f.forward_ack.hinted = 1;
    f.forward_ack.acked = RKV_RF_MAX;
    seed_frame("forward_ack_rf_over", &f, RKV_INVALID_ARG);
    f = forward_ack_make("");
    f.forward_ack.acked = 1;
    seed_frame("forward_ack_below_level", &f, RKV_INVALID_ARG);
    f = forward_ack_make("");
    f.status = PEER_ST_NOT_FOUND;
    f.forward_ack.version = 0;
    f.forward_ack.timestamp = 0;
    seed_frame("forward_ack_not_found", &f, RKV_OK);
    f.forward_ack.version = 4;
    seed_frame("forward_ack_not_found_with_version", &f, RKV_INVALID_ARG);
    f.forward_ack.version = 0;
    f.status = PEER_ST_FENCED;
    seed_frame("forward_ack_status_fenced", &f, RKV_BAD_FRAME);
    f = error_answer(PEER_OP_FORWARD_ACK, RKV_UNAVAILABLE);
    f.forward_ack.acked = 1;
    f.forward_ack.needed = 2;
    seed_frame("forward_ack_unavailable", &f, RKV_OK);
    f.forward_ack.timestamp = 1;
    seed_frame("forward_ack_error_with_timestamp", &f, RKV_INVALID_ARG);
    f = forward_ack_make("hello");
    seed_poked("forward_ack_reserved_nonzero", &f, 31, (const uint8_t[]){0x80}, 1);

    struct peer_frame h = hint_list_make("k");
    h.hint_list.key = str_bytes(key, RKV_KEY_BYTES_MAX + 1u);
    seed_frame("hint_list_key_257", &h, RKV_KEY_TOO_LONG);
    h.hint_list.key.bytes = 0;
    seed_frame("hint_list_key_empty", &h, RKV_KEY_EMPTY);
    h = hint_list_make("user:42");
    seed_poked("hint_list_reserved_nonzero", &h, 23, (const uint8_t[]){0x01}, 1);

    char *ids;
    struct peer_hint_entry *e = hint_entries_make(PEER_HINT_LIST_ENTRIES_MAX + 1u, RKV_NODE_ID_BYTES_MAX, &ids);
    h = hint_list_ack_make(NULL, 0);
    seed_frame("hint_list_ack_empty", &h, RKV_OK);
    h = hint_list_ack_make(e, PEER_HINT_LIST_ENTRIES_MAX);
    seed_frame("hint_list_ack_64_entries", &h, RKV_OK);
    h.hint_list_ack.count = PEER_HINT_LIST_ENTRIES_MAX + 1u;
    seed_frame("hint_list_ack_65_entries", &h, RKV_INVALID_ARG);
    struct peer_hint_entry two[2] = {example_hints[0], example_hints[1]};
    h = hint_list_ack_make(two, 2);
    char *id65 = name_of_len(RKV_NODE_ID_BYTES_MAX + 1u);
    two[1].target = str_of(id65);
    seed_frame("hint_list_ack_target_65", &h, RKV_INVALID_ARG);
    two[1].target = str_of("");
    seed_frame("hint_list_ack_target_empty", &h, RKV_INVALID_ARG);
    two[1] = example_hints[1];
    two[0].version = 0;
    seed_frame("hint_list_ack_version_zero", &h, RKV_INVALID_ARG);
    two[0] = example_hints[0];
    h.status = PEER_ST_ERROR;
    h.err = rkv_err_wire(RKV_BUSY);
    seed_frame("hint_list_ack_error_with_entries", &h, RKV_INVALID_ARG);
    h.status = PEER_ST_NOT_FOUND;
    h.err = 0;
    seed_frame("hint_list_ack_status_not_found", &h, RKV_BAD_FRAME);
    h = hint_list_ack_make(two, 2);
    seed_poked("hint_list_ack_count_past_frame", &h, 12, (const uint8_t[]){0x00, 0x03}, 2);
    seed_poked("hint_list_ack_entry_reserved_nonzero", &h, 38, (const uint8_t[]){0x01}, 1);
    seed_poked("hint_list_ack_target_bytes_off", &h, 36, (const uint8_t[]){0x07}, 1);

    /* Three frames back to back, as a receiver reads them. */
    struct peer_frame seq[3] = {forward_cput_make("user:42", "world", 1), hint_list_make("user:42"),
                                hint_list_ack_make(example_hints, 2)};
    uint8_t buf[512];
    size_t at = 0;
    for (size_t i = 0; i < 3; i++) {
        size_t n = peer_frame_encode(buf + at, sizeof(buf) - at, &seq[i]);
        cr_assert_gt(n, 0u);
        at += n;
    }
    corpus_write("pipelined_forward_hint_list", buf, at);

    free(id65);
    free(e);
    free(ids);
    free(key);
}
