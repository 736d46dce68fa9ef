/* The peer protocol codec (layout tables in net/proto_peer.h and docs/protocol.md). Every
 * function is pure over caller-owned buffers: nothing is allocated and nothing is kept, so
 * any thread may call any of them. Bytes from a peer are input, not trusted: every length
 * is checked against the frame before it indexes anything, and input errors come back as a
 * parse_rc or an enum rkv_err, never an assertion. Assertions guard only the caller's own
 * arguments. Decoding is split in two: peer_frame_decode() checks what makes a frame a frame
 * (its lengths add up, its reserved bytes are zero, its opcode is one we know) and
 * peer_frame_validate() checks the protocol's rules on the fields. */
#include "net/proto_peer.h"

#include <string.h>

/* The digest is XXH3-64. rkv_net links no xxhash library, so the implementation is compiled
 * into this file from the header (xxhash's documented header-only mode). */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/assert.h"
#include "core/config.h"
#include "core/bytes.h"

/* The length field counts the bytes after itself. */
#define PEER_LEN_FIELD_BYTES 4u
#define PEER_HDR_AFTER_LEN_BYTES (PEER_HDR_BYTES - PEER_LEN_FIELD_BYTES) /* 8 */

/* Common header offsets. */
enum {
    OFF_FRAME_BYTES = 0,
    OFF_REQUEST_ID = 4,
    OFF_OPCODE = 8,
    OFF_STATUS = 9,
    OFF_ERR = 10,
    OFF_RESERVED = 11,
    OFF_BODY = 12,
};

/* HELLO / HELLO_ACK offsets. */
enum {
    HELLO_OFF_PROTO_VERSION = 12,
    HELLO_OFF_RESERVED2 = 14,
    HELLO_OFF_HLC_TS = 16,
    HELLO_OFF_SHARD_COUNT = 24,
    HELLO_OFF_VNODE_COUNT = 26,
    HELLO_OFF_TOKEN_COUNT = 28,
    HELLO_OFF_BIN_PORT = 30,
    HELLO_OFF_HTTP_PORT = 32,
    HELLO_OFF_PEER_PORT = 34,
    HELLO_OFF_NODE_ID_BYTES = 36,
    HELLO_OFF_CLUSTER_BYTES = 37,
    HELLO_OFF_BIN_HOST_BYTES = 38,
    HELLO_OFF_HTTP_HOST_BYTES = 39,
    HELLO_OFF_PEER_HOST_BYTES = 40,
    HELLO_OFF_RESERVED3 = 41,
    HELLO_OFF_TOKENS = 44,
};

/* PING / PONG offsets. */
enum { PING_OFF_HLC_TS = 12, PING_OFF_ECHO_TS = 20, PING_OFF_END = 28 };

/* REPLICA_WRITE offsets. */
enum {
    WRITE_OFF_TOKEN = 12,
    WRITE_OFF_TIMESTAMP = 20,
    WRITE_OFF_VERSION = 28,
    WRITE_OFF_EXPIRY_MS = 36,
    WRITE_OFF_ORIGIN = 44,
    WRITE_OFF_DEADLINE_MS = 48,
    WRITE_OFF_REC_FLAGS = 52,
    WRITE_OFF_CONSISTENCY = 53,
    WRITE_OFF_HINT_BYTES = 54,
    WRITE_OFF_RESERVED1 = 55,
    WRITE_OFF_KEY_BYTES = 56,
    WRITE_OFF_RESERVED2 = 58,
    WRITE_OFF_VALUE_BYTES = 60,
    WRITE_OFF_KEY = 64,
};

/* REPLICA_WRITE_ACK offsets. */
enum { WACK_OFF_VERSION = 12, WACK_OFF_TIMESTAMP = 20, WACK_OFF_END = 28 };

/* REPLICA_READ offsets. */
enum {
    READ_OFF_TOKEN = 12,
    READ_OFF_DEADLINE_MS = 20,
    READ_OFF_FLAGS = 24,
    READ_OFF_RESERVED = 25,
    READ_OFF_KEY_BYTES = 26,
    READ_OFF_KEY = 28,
};

/* REPLICA_READ_ACK offsets. */
enum {
    RACK_OFF_TIMESTAMP = 12,
    RACK_OFF_VERSION = 20,
    RACK_OFF_EXPIRY_MS = 28,
    RACK_OFF_DIGEST = 36,
    RACK_OFF_ORIGIN = 44,
    RACK_OFF_REC_FLAGS = 48,
    RACK_OFF_ACK_FLAGS = 49,
    RACK_OFF_RESERVED = 50,
    RACK_OFF_VALUE_BYTES = 52,
    RACK_OFF_VALUE = 56,
};

_Static_assert(OFF_BODY == PEER_HDR_BYTES, "common header table and PEER_HDR_BYTES agree");
_Static_assert(HELLO_OFF_TOKENS == PEER_HELLO_FIXED_BYTES, "hello table agrees");
_Static_assert(PING_OFF_END == PEER_PING_BYTES, "ping table agrees");
_Static_assert(WRITE_OFF_KEY == PEER_WRITE_FIXED_BYTES, "write table agrees");
_Static_assert(WACK_OFF_END == PEER_WRITE_ACK_BYTES, "write ack table agrees");
_Static_assert(READ_OFF_KEY == PEER_READ_FIXED_BYTES, "read table agrees");
_Static_assert(RACK_OFF_VALUE == PEER_READ_ACK_FIXED_BYTES, "read ack table agrees");
/* A write one byte over each of its limits (key, value, and a hint of the longest string a
 * byte can count) still frames, so that it is answered with its own status. */
_Static_assert((uint64_t)PEER_WRITE_FIXED_BYTES + RKV_KEY_BYTES_MAX + 1u + UINT8_MAX + RKV_VALUE_BYTES_MAX + 1u <=
                   (uint64_t)RKV_FRAME_BYTES_MAX + PEER_LEN_FIELD_BYTES,
               "an over-limit replica write still frames");
/* The largest hello the fields can describe frames too. */
_Static_assert((uint64_t)PEER_HELLO_FIXED_BYTES + 8u * UINT16_MAX + 5u * UINT8_MAX <= RKV_FRAME_BYTES_MAX,
               "every hello frames");
_Static_assert(RKV_VNODES_MAX <= UINT16_MAX && RKV_SHARDS_MAX <= UINT16_MAX, "counts are 16-bit fields");
_Static_assert(RKV_NODE_ID_BYTES_MAX <= UINT8_MAX && PEER_HOST_BYTES_MAX <= UINT8_MAX, "strings have 1-byte lengths");
_Static_assert(PEER_DEADLINE_MS_MAX <= UINT32_MAX, "deadline is a 32-bit field");

/* ---- small helpers ---- */

static bool peer_opcode_known(uint8_t opcode)
{
    return opcode >= PEER_OP_HELLO && opcode <= PEER_OP_REPLICA_READ_ACK;
}

static bool peer_opcode_is_answer(uint8_t opcode)
{
    return (opcode & 1u) != 0;
}

const char *peer_opcode_name(uint8_t opcode)
{
    switch (opcode) {
    case PEER_OP_HELLO: return "HELLO";
    case PEER_OP_HELLO_ACK: return "HELLO_ACK";
    case PEER_OP_PING: return "PING";
    case PEER_OP_PONG: return "PONG";
    case PEER_OP_REPLICA_WRITE: return "REPLICA_WRITE";
    case PEER_OP_REPLICA_WRITE_ACK: return "REPLICA_WRITE_ACK";
    case PEER_OP_REPLICA_READ: return "REPLICA_READ";
    case PEER_OP_REPLICA_READ_ACK: return "REPLICA_READ_ACK";
    default: return "?";
    }
}

static bool name_char_ok(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

/* Characters of a host string: letters and digits, '.' and '-' (names, IPv4), ':' (IPv6),
 * '%' and '_' (IPv6 zone names). */
static bool host_char_ok(uint8_t c)
{
    return name_char_ok(c) || c == ':' || c == '%';
}

static bool chars_ok(const uint8_t *s, size_t bytes, bool (*ok)(uint8_t))
{
    for (size_t i = 0; i < bytes; i++)
        if (!ok(s[i]))
            return false;
    return true;
}

bool peer_node_id_valid(const uint8_t *s, size_t bytes)
{
    RKV_ASSERT(bytes == 0 || s != NULL);
    return config_node_id_valid(s, bytes);
}

static bool host_valid(const struct peer_str *h)
{
    if (h->bytes == 0 || h->bytes > PEER_HOST_BYTES_MAX)
        return false;
    return chars_ok(h->data, h->bytes, host_char_ok);
}

uint64_t peer_hello_token(const struct peer_hello *hello, uint32_t vnode_idx)
{
    RKV_ASSERT(hello != NULL);
    RKV_ASSERT(vnode_idx < hello->token_count);
    if (hello->tokens != NULL)
        return hello->tokens[vnode_idx];
    RKV_ASSERT(hello->tokens_wire != NULL);
    return load_be64(hello->tokens_wire + (size_t)vnode_idx * 8u);
}

uint64_t peer_record_digest(const struct peer_record *rec)
{
    RKV_ASSERT(rec != NULL);
    RKV_ASSERT(rec->value != NULL || rec->value_bytes == 0);

    uint8_t canon[33];
    canon[0] = rec->flags;
    store_be32(canon + 1, rec->origin);
    store_be64(canon + 5, rec->timestamp);
    store_be64(canon + 13, rec->version);
    store_be64(canon + 21, rec->expiry_ms);
    store_be32(canon + 29, rec->value_bytes);
    /* Streaming, so that a 1 MiB value is hashed where it lies instead of being copied
     * behind the header. The state lives on the stack: this is called from any shard. */
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    (void)XXH3_64bits_reset(&st);
    (void)XXH3_64bits_update(&st, canon, sizeof(canon));
    if (rec->value_bytes != 0)
        (void)XXH3_64bits_update(&st, rec->value, rec->value_bytes);
    return XXH3_64bits_digest(&st);
}

/* ---- sizes ---- */

/* The body lengths of a frame as the encoder will write them: the size before the value
 * (head) and the value. False when a length does not fit its wire field. */
static bool frame_sizes(const struct peer_frame *f, uint64_t *head_out, uint64_t *value_out)
{
    *head_out = 0;
    *value_out = 0;
    switch (f->opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK: {
        const struct peer_hello *h = &f->hello;
        const struct peer_str *s[] = {&h->node_id, &h->cluster, &h->bin_addr.host, &h->http_addr.host,
                                      &h->peer_addr.host};
        uint64_t n = (uint64_t)PEER_HELLO_FIXED_BYTES + 8u * (uint64_t)h->token_count;
        for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
            if (s[i]->bytes > UINT8_MAX)
                return false;
            n += s[i]->bytes;
        }
        *head_out = n;
        return true;
    }
    case PEER_OP_PING:
    case PEER_OP_PONG:
        *head_out = PEER_PING_BYTES;
        return true;
    case PEER_OP_REPLICA_WRITE:
        if (f->write.key.bytes > UINT16_MAX || f->write.hint.bytes > UINT8_MAX)
            return false;
        *head_out = (uint64_t)PEER_WRITE_FIXED_BYTES + f->write.key.bytes + f->write.hint.bytes;
        *value_out = f->write.rec.value_bytes;
        return true;
    case PEER_OP_REPLICA_WRITE_ACK:
        *head_out = PEER_WRITE_ACK_BYTES;
        return true;
    case PEER_OP_REPLICA_READ:
        if (f->read.key.bytes > UINT16_MAX)
            return false;
        *head_out = (uint64_t)PEER_READ_FIXED_BYTES + f->read.key.bytes;
        return true;
    case PEER_OP_REPLICA_READ_ACK:
        *head_out = PEER_READ_ACK_FIXED_BYTES;
        *value_out = f->read_ack.rec.value_bytes;
        return true;
    default:
        /* An opcode without a layout has a bare header: tests use it to send unknown
         * opcodes. */
        *head_out = PEER_HDR_BYTES;
        return true;
    }
}

size_t peer_frame_bytes(const struct peer_frame *frame)
{
    RKV_ASSERT(frame != NULL);
    uint64_t head, value;
    if (!frame_sizes(frame, &head, &value))
        return 0;
    if (head + value - PEER_LEN_FIELD_BYTES > RKV_FRAME_BYTES_MAX)
        return 0;
    return (size_t)(head + value);
}

size_t peer_frame_head_bytes(const struct peer_frame *frame)
{
    RKV_ASSERT(frame != NULL);
    uint64_t head, value;
    if (peer_frame_bytes(frame) == 0 || !frame_sizes(frame, &head, &value))
        return 0;
    return (size_t)head;
}

/* ---- encoding ---- */

static uint8_t *put_str(uint8_t *p, const struct peer_str *s)
{
    RKV_ASSERT(s->data != NULL || s->bytes == 0);
    if (s->bytes != 0)
        memcpy(p, s->data, s->bytes);
    return p + s->bytes;
}

static void encode_hello(uint8_t *buf, const struct peer_hello *h)
{
    RKV_ASSERT(h->tokens != NULL || h->tokens_wire != NULL || h->token_count == 0);
    store_be16(buf + HELLO_OFF_PROTO_VERSION, h->proto_version);
    store_be16(buf + HELLO_OFF_RESERVED2, 0);
    store_be64(buf + HELLO_OFF_HLC_TS, h->hlc_ts);
    store_be16(buf + HELLO_OFF_SHARD_COUNT, h->shard_count);
    store_be16(buf + HELLO_OFF_VNODE_COUNT, h->vnode_count);
    store_be16(buf + HELLO_OFF_TOKEN_COUNT, h->token_count);
    store_be16(buf + HELLO_OFF_BIN_PORT, h->bin_addr.port);
    store_be16(buf + HELLO_OFF_HTTP_PORT, h->http_addr.port);
    store_be16(buf + HELLO_OFF_PEER_PORT, h->peer_addr.port);
    buf[HELLO_OFF_NODE_ID_BYTES] = (uint8_t)h->node_id.bytes;
    buf[HELLO_OFF_CLUSTER_BYTES] = (uint8_t)h->cluster.bytes;
    buf[HELLO_OFF_BIN_HOST_BYTES] = (uint8_t)h->bin_addr.host.bytes;
    buf[HELLO_OFF_HTTP_HOST_BYTES] = (uint8_t)h->http_addr.host.bytes;
    buf[HELLO_OFF_PEER_HOST_BYTES] = (uint8_t)h->peer_addr.host.bytes;
    memset(buf + HELLO_OFF_RESERVED3, 0, 3);
    uint8_t *p = buf + HELLO_OFF_TOKENS;
    for (uint32_t i = 0; i < h->token_count; i++, p += 8)
        store_be64(p, peer_hello_token(h, i));
    p = put_str(p, &h->node_id);
    p = put_str(p, &h->cluster);
    p = put_str(p, &h->bin_addr.host);
    p = put_str(p, &h->http_addr.host);
    (void)put_str(p, &h->peer_addr.host);
}

static void encode_record_fields(uint8_t *buf, const struct peer_write *w)
{
    store_be64(buf + WRITE_OFF_TOKEN, w->token);
    store_be64(buf + WRITE_OFF_TIMESTAMP, w->rec.timestamp);
    store_be64(buf + WRITE_OFF_VERSION, w->rec.version);
    store_be64(buf + WRITE_OFF_EXPIRY_MS, w->rec.expiry_ms);
    store_be32(buf + WRITE_OFF_ORIGIN, w->rec.origin);
    store_be32(buf + WRITE_OFF_DEADLINE_MS, w->deadline_ms);
    buf[WRITE_OFF_REC_FLAGS] = w->rec.flags;
    buf[WRITE_OFF_CONSISTENCY] = w->consistency;
    buf[WRITE_OFF_HINT_BYTES] = (uint8_t)w->hint.bytes;
    buf[WRITE_OFF_RESERVED1] = 0;
    store_be16(buf + WRITE_OFF_KEY_BYTES, (uint16_t)w->key.bytes);
    store_be16(buf + WRITE_OFF_RESERVED2, 0);
    store_be32(buf + WRITE_OFF_VALUE_BYTES, w->rec.value_bytes);
    uint8_t *p = put_str(buf + WRITE_OFF_KEY, &w->key);
    (void)put_str(p, &w->hint);
}

static void encode_read_ack(uint8_t *buf, const struct peer_read_ack *a)
{
    store_be64(buf + RACK_OFF_TIMESTAMP, a->rec.timestamp);
    store_be64(buf + RACK_OFF_VERSION, a->rec.version);
    store_be64(buf + RACK_OFF_EXPIRY_MS, a->rec.expiry_ms);
    store_be64(buf + RACK_OFF_DIGEST, a->digest);
    store_be32(buf + RACK_OFF_ORIGIN, a->rec.origin);
    buf[RACK_OFF_REC_FLAGS] = a->rec.flags;
    buf[RACK_OFF_ACK_FLAGS] = a->flags;
    store_be16(buf + RACK_OFF_RESERVED, 0);
    store_be32(buf + RACK_OFF_VALUE_BYTES, a->rec.value_bytes);
}

size_t peer_frame_encode_head(uint8_t *buf, size_t cap, const struct peer_frame *frame)
{
    RKV_ASSERT(frame != NULL);
    size_t whole = peer_frame_bytes(frame);
    size_t head = peer_frame_head_bytes(frame);
    if (whole == 0 || buf == NULL || cap < head)
        return 0;

    store_be32(buf + OFF_FRAME_BYTES, (uint32_t)(whole - PEER_LEN_FIELD_BYTES));
    store_be32(buf + OFF_REQUEST_ID, frame->request_id);
    buf[OFF_OPCODE] = frame->opcode;
    buf[OFF_STATUS] = frame->status;
    buf[OFF_ERR] = frame->err;
    buf[OFF_RESERVED] = 0;

    switch (frame->opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK:
        encode_hello(buf, &frame->hello);
        break;
    case PEER_OP_PING:
    case PEER_OP_PONG:
        store_be64(buf + PING_OFF_HLC_TS, frame->ping.hlc_ts);
        store_be64(buf + PING_OFF_ECHO_TS, frame->ping.echo_ts);
        break;
    case PEER_OP_REPLICA_WRITE:
        encode_record_fields(buf, &frame->write);
        break;
    case PEER_OP_REPLICA_WRITE_ACK:
        store_be64(buf + WACK_OFF_VERSION, frame->write_ack.version);
        store_be64(buf + WACK_OFF_TIMESTAMP, frame->write_ack.timestamp);
        break;
    case PEER_OP_REPLICA_READ:
        store_be64(buf + READ_OFF_TOKEN, frame->read.token);
        store_be32(buf + READ_OFF_DEADLINE_MS, frame->read.deadline_ms);
        buf[READ_OFF_FLAGS] = frame->read.flags;
        buf[READ_OFF_RESERVED] = 0;
        store_be16(buf + READ_OFF_KEY_BYTES, (uint16_t)frame->read.key.bytes);
        (void)put_str(buf + READ_OFF_KEY, &frame->read.key);
        break;
    case PEER_OP_REPLICA_READ_ACK:
        encode_read_ack(buf, &frame->read_ack);
        break;
    default:
        break;
    }
    return head;
}

size_t peer_frame_encode(uint8_t *buf, size_t cap, const struct peer_frame *frame)
{
    RKV_ASSERT(frame != NULL);
    size_t whole = peer_frame_bytes(frame);
    if (whole == 0 || buf == NULL || cap < whole)
        return 0;
    size_t head = peer_frame_encode_head(buf, cap, frame);
    RKV_ASSERT(head != 0);
    const struct peer_record *rec = NULL;
    if (frame->opcode == PEER_OP_REPLICA_WRITE)
        rec = &frame->write.rec;
    else if (frame->opcode == PEER_OP_REPLICA_READ_ACK)
        rec = &frame->read_ack.rec;
    if (rec != NULL && rec->value_bytes != 0) {
        RKV_ASSERT(rec->value != NULL);
        RKV_ASSERT(head + rec->value_bytes == whole);
        memcpy(buf + head, rec->value, rec->value_bytes);
    }
    return whole;
}

/* ---- decoding ---- */

/* Takes n bytes at *at as a string if they lie within end; false otherwise. */
static bool take_str(const uint8_t *buf, size_t *at, size_t end, uint32_t n, struct peer_str *out)
{
    if (n > end - *at)
        return false;
    out->data = buf + *at;
    out->bytes = n;
    *at += n;
    return true;
}

static bool decode_hello(const uint8_t *buf, size_t whole, struct peer_hello *h)
{
    if (whole < PEER_HELLO_FIXED_BYTES)
        return false;
    if (load_be16(buf + HELLO_OFF_RESERVED2) != 0 || buf[HELLO_OFF_RESERVED3] != 0 ||
        buf[HELLO_OFF_RESERVED3 + 1] != 0 || buf[HELLO_OFF_RESERVED3 + 2] != 0)
        return false;
    h->proto_version = load_be16(buf + HELLO_OFF_PROTO_VERSION);
    h->hlc_ts = load_be64(buf + HELLO_OFF_HLC_TS);
    h->shard_count = load_be16(buf + HELLO_OFF_SHARD_COUNT);
    h->vnode_count = load_be16(buf + HELLO_OFF_VNODE_COUNT);
    h->token_count = load_be16(buf + HELLO_OFF_TOKEN_COUNT);
    h->bin_addr.port = load_be16(buf + HELLO_OFF_BIN_PORT);
    h->http_addr.port = load_be16(buf + HELLO_OFF_HTTP_PORT);
    h->peer_addr.port = load_be16(buf + HELLO_OFF_PEER_PORT);

    /* The sum of all lengths must be exactly the frame: computed in 64 bits, compared
     * before anything is sliced. */
    uint64_t want = (uint64_t)PEER_HELLO_FIXED_BYTES + 8u * (uint64_t)h->token_count + buf[HELLO_OFF_NODE_ID_BYTES] +
                    buf[HELLO_OFF_CLUSTER_BYTES] + buf[HELLO_OFF_BIN_HOST_BYTES] +
                    buf[HELLO_OFF_HTTP_HOST_BYTES] + buf[HELLO_OFF_PEER_HOST_BYTES];
    if (want != whole)
        return false;
    size_t at = HELLO_OFF_TOKENS;
    h->tokens = NULL;
    h->tokens_wire = buf + at;
    at += 8u * (size_t)h->token_count;
    bool ok = take_str(buf, &at, whole, buf[HELLO_OFF_NODE_ID_BYTES], &h->node_id) &&
              take_str(buf, &at, whole, buf[HELLO_OFF_CLUSTER_BYTES], &h->cluster) &&
              take_str(buf, &at, whole, buf[HELLO_OFF_BIN_HOST_BYTES], &h->bin_addr.host) &&
              take_str(buf, &at, whole, buf[HELLO_OFF_HTTP_HOST_BYTES], &h->http_addr.host) &&
              take_str(buf, &at, whole, buf[HELLO_OFF_PEER_HOST_BYTES], &h->peer_addr.host);
    RKV_DEBUG_ASSERT(!ok || at == whole);
    return ok;
}

static bool decode_write(const uint8_t *buf, size_t whole, struct peer_write *w)
{
    if (whole < PEER_WRITE_FIXED_BYTES)
        return false;
    if (buf[WRITE_OFF_RESERVED1] != 0 || load_be16(buf + WRITE_OFF_RESERVED2) != 0)
        return false;
    w->token = load_be64(buf + WRITE_OFF_TOKEN);
    w->rec.timestamp = load_be64(buf + WRITE_OFF_TIMESTAMP);
    w->rec.version = load_be64(buf + WRITE_OFF_VERSION);
    w->rec.expiry_ms = load_be64(buf + WRITE_OFF_EXPIRY_MS);
    w->rec.origin = load_be32(buf + WRITE_OFF_ORIGIN);
    w->deadline_ms = load_be32(buf + WRITE_OFF_DEADLINE_MS);
    w->rec.flags = buf[WRITE_OFF_REC_FLAGS];
    w->consistency = buf[WRITE_OFF_CONSISTENCY];
    uint32_t hint_bytes = buf[WRITE_OFF_HINT_BYTES];
    uint32_t key_bytes = load_be16(buf + WRITE_OFF_KEY_BYTES);
    uint32_t value_bytes = load_be32(buf + WRITE_OFF_VALUE_BYTES);
    /* value_bytes alone may be near UINT32_MAX: the sum is taken in 64 bits. */
    if ((uint64_t)PEER_WRITE_FIXED_BYTES + key_bytes + hint_bytes + value_bytes != whole)
        return false;
    size_t at = WRITE_OFF_KEY;
    struct peer_str value;
    bool ok = take_str(buf, &at, whole, key_bytes, &w->key) && take_str(buf, &at, whole, hint_bytes, &w->hint) &&
              take_str(buf, &at, whole, value_bytes, &value);
    w->rec.value = value.data;
    w->rec.value_bytes = value.bytes;
    return ok;
}

static bool decode_read(const uint8_t *buf, size_t whole, struct peer_read *r)
{
    if (whole < PEER_READ_FIXED_BYTES)
        return false;
    if (buf[READ_OFF_RESERVED] != 0)
        return false;
    r->token = load_be64(buf + READ_OFF_TOKEN);
    r->deadline_ms = load_be32(buf + READ_OFF_DEADLINE_MS);
    r->flags = buf[READ_OFF_FLAGS];
    uint32_t key_bytes = load_be16(buf + READ_OFF_KEY_BYTES);
    if ((uint64_t)PEER_READ_FIXED_BYTES + key_bytes != whole)
        return false;
    size_t at = READ_OFF_KEY;
    return take_str(buf, &at, whole, key_bytes, &r->key);
}

static bool decode_read_ack(const uint8_t *buf, size_t whole, struct peer_read_ack *a)
{
    if (whole < PEER_READ_ACK_FIXED_BYTES)
        return false;
    if (load_be16(buf + RACK_OFF_RESERVED) != 0)
        return false;
    a->rec.timestamp = load_be64(buf + RACK_OFF_TIMESTAMP);
    a->rec.version = load_be64(buf + RACK_OFF_VERSION);
    a->rec.expiry_ms = load_be64(buf + RACK_OFF_EXPIRY_MS);
    a->digest = load_be64(buf + RACK_OFF_DIGEST);
    a->rec.origin = load_be32(buf + RACK_OFF_ORIGIN);
    a->rec.flags = buf[RACK_OFF_REC_FLAGS];
    a->flags = buf[RACK_OFF_ACK_FLAGS];
    uint32_t value_bytes = load_be32(buf + RACK_OFF_VALUE_BYTES);
    if ((uint64_t)PEER_READ_ACK_FIXED_BYTES + value_bytes != whole)
        return false;
    a->rec.value_bytes = value_bytes;
    a->rec.value = buf + RACK_OFF_VALUE;
    return true;
}

/* The body of a framed, known-opcode frame of whole bytes; false when malformed. */
static bool decode_body(const uint8_t *buf, size_t whole, struct peer_frame *f)
{
    switch (f->opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK:
        return decode_hello(buf, whole, &f->hello);
    case PEER_OP_PING:
    case PEER_OP_PONG:
        if (whole != PEER_PING_BYTES)
            return false;
        f->ping.hlc_ts = load_be64(buf + PING_OFF_HLC_TS);
        f->ping.echo_ts = load_be64(buf + PING_OFF_ECHO_TS);
        return true;
    case PEER_OP_REPLICA_WRITE:
        return decode_write(buf, whole, &f->write);
    case PEER_OP_REPLICA_WRITE_ACK:
        if (whole != PEER_WRITE_ACK_BYTES)
            return false;
        f->write_ack.version = load_be64(buf + WACK_OFF_VERSION);
        f->write_ack.timestamp = load_be64(buf + WACK_OFF_TIMESTAMP);
        return true;
    case PEER_OP_REPLICA_READ:
        return decode_read(buf, whole, &f->read);
    case PEER_OP_REPLICA_READ_ACK:
        return decode_read_ack(buf, whole, &f->read_ack);
    default:
        RKV_DEBUG_ASSERT(false); /* the caller checked the opcode */
        return false;
    }
}

enum parse_rc peer_frame_decode(const uint8_t *buf, size_t len, struct peer_frame *frame_out,
                                size_t *frame_bytes_out, enum rkv_err *why_out)
{
    RKV_ASSERT(buf != NULL || len == 0);
    RKV_ASSERT(frame_out != NULL);
    RKV_ASSERT(frame_bytes_out != NULL);
    RKV_ASSERT(why_out != NULL);

    memset(frame_out, 0, sizeof(*frame_out));
    *frame_bytes_out = 0;
    *why_out = RKV_OK;

    if (len < PEER_LEN_FIELD_BYTES)
        return PARSE_NEED_MORE;
    /* The length field decides whether the stream can be trusted at all, so it is checked
     * first, before the rest has arrived; nothing else is read until the frame is whole,
     * so every prefix of a frame asks for more. */
    uint32_t frame_bytes = load_be32(buf + OFF_FRAME_BYTES);
    if (frame_bytes < PEER_HDR_AFTER_LEN_BYTES) {
        *why_out = RKV_BAD_FRAME;
        return PARSE_INVALID;
    }
    if (frame_bytes > RKV_FRAME_BYTES_MAX) {
        *why_out = RKV_FRAME_TOO_LONG;
        return PARSE_INVALID;
    }
    size_t whole = (size_t)frame_bytes + PEER_LEN_FIELD_BYTES;
    *frame_bytes_out = whole;
    if (len < whole)
        return PARSE_NEED_MORE;

    uint32_t request_id = load_be32(buf + OFF_REQUEST_ID);
    uint8_t opcode = buf[OFF_OPCODE];
    frame_out->request_id = request_id;
    frame_out->opcode = opcode;
    if (!peer_opcode_known(opcode)) {
        *why_out = RKV_UNKNOWN_OPCODE;
        return PARSE_INVALID;
    }
    uint8_t status = buf[OFF_STATUS];
    uint8_t err = buf[OFF_ERR];
    bool bad = buf[OFF_RESERVED] != 0 || (!peer_opcode_is_answer(opcode) && (status != 0 || err != 0));
    if (bad || !decode_body(buf, whole, frame_out)) {
        /* Only the id and opcode survive, so that the receiver can answer the request. */
        memset(frame_out, 0, sizeof(*frame_out));
        frame_out->request_id = request_id;
        frame_out->opcode = opcode;
        *why_out = RKV_BAD_FRAME;
        return PARSE_INVALID;
    }
    frame_out->status = status;
    frame_out->err = err;
    return PARSE_DONE;
}

/* ---- validation ---- */

static enum rkv_err validate_status(const struct peer_frame *f)
{
    if (!peer_opcode_is_answer(f->opcode))
        return f->status == 0 && f->err == 0 ? RKV_OK : RKV_BAD_FRAME;
    bool allowed;
    switch (f->status) {
    case PEER_ST_OK:
    case PEER_ST_ERROR:
        allowed = true;
        break;
    case PEER_ST_NOT_FOUND:
        allowed = f->opcode == PEER_OP_REPLICA_READ_ACK;
        break;
    case PEER_ST_FENCED:
    case PEER_ST_SKEW:
        allowed = f->opcode == PEER_OP_REPLICA_WRITE_ACK;
        break;
    default:
        allowed = false;
        break;
    }
    if (!allowed)
        return RKV_BAD_FRAME;
    if (f->status != PEER_ST_ERROR)
        return f->err == 0 ? RKV_OK : RKV_BAD_FRAME;
    enum rkv_err e = RKV_OK;
    if (!rkv_err_from_wire(f->err, &e) || e == RKV_OK)
        return RKV_BAD_FRAME;
    return RKV_OK;
}

static bool name_valid_or_empty(const struct peer_str *s, uint32_t bytes_max)
{
    if (s->bytes == 0)
        return true;
    return s->bytes <= bytes_max && chars_ok(s->data, s->bytes, name_char_ok);
}

static enum rkv_err validate_hello(const struct peer_hello *h)
{
    if (h->proto_version != PEER_PROTO_VERSION)
        return RKV_INVALID_ARG;
    if (!peer_node_id_valid(h->node_id.data, h->node_id.bytes))
        return RKV_INVALID_ARG;
    if (!name_valid_or_empty(&h->cluster, PEER_CLUSTER_BYTES_MAX))
        return RKV_INVALID_ARG;
    if (h->shard_count < 1 || h->shard_count > RKV_SHARDS_MAX)
        return RKV_INVALID_ARG;
    if (h->vnode_count < 1 || h->vnode_count > RKV_VNODES_MAX)
        return RKV_INVALID_ARG;
    if (h->token_count != 0 && h->token_count != h->vnode_count)
        return RKV_INVALID_ARG;
    if (h->bin_addr.port == 0 || !host_valid(&h->bin_addr.host))
        return RKV_INVALID_ARG;
    if (h->peer_addr.port == 0 || !host_valid(&h->peer_addr.host))
        return RKV_INVALID_ARG;
    if (h->http_addr.port == 0 ? h->http_addr.host.bytes != 0 : !host_valid(&h->http_addr.host))
        return RKV_INVALID_ARG;
    return RKV_OK;
}

static enum rkv_err validate_key(const struct peer_str *key)
{
    if (key->bytes == 0)
        return RKV_KEY_EMPTY;
    if (key->bytes > RKV_KEY_BYTES_MAX)
        return RKV_KEY_TOO_LONG;
    return RKV_OK;
}

static bool deadline_valid(uint32_t deadline_ms)
{
    return deadline_ms >= 1 && deadline_ms <= PEER_DEADLINE_MS_MAX;
}

static bool record_all_zero(const struct peer_record *r)
{
    return r->flags == 0 && r->origin == 0 && r->timestamp == 0 && r->version == 0 && r->expiry_ms == 0 &&
           r->value_bytes == 0;
}

static enum rkv_err validate_write(const struct peer_write *w)
{
    enum rkv_err e = validate_key(&w->key);
    if (e != RKV_OK)
        return e;
    if (w->rec.value_bytes > RKV_VALUE_BYTES_MAX)
        return RKV_VALUE_TOO_LONG;
    if ((w->rec.flags & ~PEER_REC_F_KNOWN) != 0)
        return RKV_BAD_FRAME;
    if (w->consistency > BIN_CONS_ALL)
        return RKV_BAD_CONSISTENCY;
    if ((w->rec.flags & PEER_REC_F_TOMBSTONE) != 0 && w->rec.value_bytes != 0)
        return RKV_INVALID_ARG;
    if (w->rec.timestamp == 0 || w->rec.version == 0)
        return RKV_INVALID_ARG;
    if (!deadline_valid(w->deadline_ms))
        return RKV_INVALID_ARG;
    if (w->hint.bytes != 0 && !peer_node_id_valid(w->hint.data, w->hint.bytes))
        return RKV_INVALID_ARG;
    return RKV_OK;
}

static enum rkv_err validate_write_ack(uint8_t status, const struct peer_write_ack *a)
{
    switch (status) {
    case PEER_ST_OK:
    case PEER_ST_FENCED:
        return a->version != 0 && a->timestamp != 0 ? RKV_OK : RKV_INVALID_ARG;
    case PEER_ST_SKEW:
        return a->version == 0 && a->timestamp != 0 ? RKV_OK : RKV_INVALID_ARG;
    default:
        return a->version == 0 && a->timestamp == 0 ? RKV_OK : RKV_INVALID_ARG;
    }
}

static enum rkv_err validate_read(const struct peer_read *r)
{
    enum rkv_err e = validate_key(&r->key);
    if (e != RKV_OK)
        return e;
    if ((r->flags & ~PEER_READ_F_KNOWN) != 0)
        return RKV_BAD_FRAME;
    if (!deadline_valid(r->deadline_ms))
        return RKV_INVALID_ARG;
    return RKV_OK;
}

static enum rkv_err validate_read_ack(uint8_t status, const struct peer_read_ack *a)
{
    if (a->rec.value_bytes > RKV_VALUE_BYTES_MAX)
        return RKV_VALUE_TOO_LONG;
    if ((a->rec.flags & ~PEER_REC_F_KNOWN) != 0 || (a->flags & ~PEER_READ_ACK_F_KNOWN) != 0)
        return RKV_BAD_FRAME;
    if (status != PEER_ST_OK)
        return record_all_zero(&a->rec) && a->flags == 0 && a->digest == 0 ? RKV_OK : RKV_INVALID_ARG;
    if (a->rec.timestamp == 0 || a->rec.version == 0)
        return RKV_INVALID_ARG;
    if ((a->rec.flags & PEER_REC_F_TOMBSTONE) != 0 && a->rec.value_bytes != 0)
        return RKV_INVALID_ARG;
    if ((a->flags & PEER_READ_ACK_F_DIGEST) != 0 ? a->rec.value_bytes != 0 : a->digest != 0)
        return RKV_INVALID_ARG;
    return RKV_OK;
}

enum rkv_err peer_frame_validate(const struct peer_frame *frame)
{
    RKV_ASSERT(frame != NULL);

    if (!peer_opcode_known(frame->opcode))
        return RKV_UNKNOWN_OPCODE;
    enum rkv_err e = validate_status(frame);
    if (e != RKV_OK)
        return e;
    switch (frame->opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK:
        return validate_hello(&frame->hello);
    case PEER_OP_PING:
        return frame->ping.echo_ts == 0 ? RKV_OK : RKV_INVALID_ARG;
    case PEER_OP_PONG:
        return RKV_OK;
    case PEER_OP_REPLICA_WRITE:
        return validate_write(&frame->write);
    case PEER_OP_REPLICA_WRITE_ACK:
        return validate_write_ack(frame->status, &frame->write_ack);
    case PEER_OP_REPLICA_READ:
        return validate_read(&frame->read);
    case PEER_OP_REPLICA_READ_ACK:
        return validate_read_ack(frame->status, &frame->read_ack);
    default:
        RKV_DEBUG_ASSERT(false);
        return RKV_UNKNOWN_OPCODE;
    }
}
