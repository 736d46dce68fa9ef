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
    cr_assert_str_eq(peer_opcode_name(PEER_OP_REPLICA_READ_ACK), "REPLICA_READ_ACK");
    cr_assert_str_eq(peer_opcode_name(0x88), "?");
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
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct peer_frame f = {.opcode = cases[i].opcode, .status = cases[i].status};
        if (cases[i].opcode == PEER_OP_HELLO_ACK)
            f = hello_make(PEER_OP_HELLO_ACK);
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
    const uint8_t ops[] = {0x00, 0x01, 0x04, 0x7f, 0x88, 0x90, 0xa0, 0xc0, 0xe0, 0xff};
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
        size_t offs[8];
        size_t count;
    } cases[] = {
        {hello_make(PEER_OP_HELLO), {11, 14, 15, 41, 42, 43}, 6},
        {ping_make(PEER_OP_PONG), {11}, 1},
        {write_make("user:42", "hello"), {11, 55, 58, 59}, 4},
        {write_ack_make(PEER_ST_OK, 1, 1), {11}, 1},
        {read_make("user:42", 0), {11, 25}, 2},
        {read_ack_make("hello"), {11, 50, 51}, 3},
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
    const uint8_t ops[] = {PEER_OP_HELLO, PEER_OP_PING, PEER_OP_PONG, PEER_OP_REPLICA_WRITE,
                           PEER_OP_REPLICA_WRITE_ACK, PEER_OP_REPLICA_READ, PEER_OP_REPLICA_READ_ACK};
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
    if (strcmp(field, "hlc_ts") == 0 || strcmp(field, "echo_ts") == 0 || strcmp(field, "timestamp") == 0)
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
