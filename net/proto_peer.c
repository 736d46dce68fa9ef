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

/* FORWARD offsets. */
enum {
    FWD_OFF_TOKEN = 12,
    FWD_OFF_IF_VERSION = 20,
    FWD_OFF_TTL_S = 28,
    FWD_OFF_DEADLINE_MS = 32,
    FWD_OFF_CLIENT_OPCODE = 36,
    FWD_OFF_CONSISTENCY = 37,
    FWD_OFF_REQ_FLAGS = 38,
    FWD_OFF_KEY_BYTES = 40,
    FWD_OFF_RESERVED = 42,
    FWD_OFF_VALUE_BYTES = 44,
    FWD_OFF_KEY = 48,
};

/* FORWARD_ACK offsets. */
enum {
    FACK_OFF_VERSION = 12,
    FACK_OFF_TIMESTAMP = 20,
    FACK_OFF_ACKED = 28,
    FACK_OFF_NEEDED = 29,
    FACK_OFF_HINTED = 30,
    FACK_OFF_RESERVED = 31,
    FACK_OFF_VALUE_BYTES = 32,
    FACK_OFF_VALUE = 36,
};

/* HINT_LIST offsets. */
enum { HLIST_OFF_TOKEN = 12, HLIST_OFF_KEY_BYTES = 20, HLIST_OFF_RESERVED = 22, HLIST_OFF_KEY = 24 };

/* HINT_LIST_ACK offsets, and those of one entry from the entry's start. */
enum { HACK_OFF_COUNT = 12, HACK_OFF_RESERVED = 14, HACK_OFF_ENTRIES = 16 };
enum {
    HENT_OFF_TARGET_BYTES = 0,
    HENT_OFF_RESERVED = 1,
    HENT_OFF_VERSION = 4,
    HENT_OFF_TIMESTAMP = 12,
    HENT_OFF_END = 20,
};

_Static_assert(OFF_BODY == PEER_HDR_BYTES, "common header table and PEER_HDR_BYTES agree");
_Static_assert(HELLO_OFF_TOKENS == PEER_HELLO_FIXED_BYTES, "hello table agrees");
_Static_assert(PING_OFF_END == PEER_PING_BYTES, "ping table agrees");
_Static_assert(WRITE_OFF_KEY == PEER_WRITE_FIXED_BYTES, "write table agrees");
_Static_assert(WACK_OFF_END == PEER_WRITE_ACK_BYTES, "write ack table agrees");
_Static_assert(READ_OFF_KEY == PEER_READ_FIXED_BYTES, "read table agrees");
_Static_assert(RACK_OFF_VALUE == PEER_READ_ACK_FIXED_BYTES, "read ack table agrees");
_Static_assert(FWD_OFF_KEY == PEER_FORWARD_FIXED_BYTES, "forward table agrees");
_Static_assert(FACK_OFF_VALUE == PEER_FORWARD_ACK_FIXED_BYTES, "forward ack table agrees");
_Static_assert(HLIST_OFF_KEY == PEER_HINT_LIST_FIXED_BYTES, "hint list table agrees");
_Static_assert(HACK_OFF_ENTRIES == PEER_HINT_LIST_ACK_FIXED_BYTES, "hint list ack table agrees");
_Static_assert(HENT_OFF_END == PEER_HINT_LIST_ENTRY_BYTES, "hint entry table agrees");
/* A forward one byte over its key and value limits still frames, as a replica write does. */
_Static_assert((uint64_t)PEER_FORWARD_FIXED_BYTES + RKV_KEY_BYTES_MAX + 1u + RKV_VALUE_BYTES_MAX + 1u <=
                   (uint64_t)RKV_FRAME_BYTES_MAX + PEER_LEN_FIELD_BYTES,
               "an over-limit forward still frames");
_Static_assert((uint64_t)PEER_FORWARD_ACK_FIXED_BYTES + RKV_VALUE_BYTES_MAX + 1u <=
                   (uint64_t)RKV_FRAME_BYTES_MAX + PEER_LEN_FIELD_BYTES,
               "an over-limit forward ack still frames");
/* A hint list one entry over its limit, every target as long as a byte can count, frames. */
_Static_assert((uint64_t)PEER_HINT_LIST_ACK_FIXED_BYTES +
                       (PEER_HINT_LIST_ENTRIES_MAX + 1u) * (uint64_t)(PEER_HINT_LIST_ENTRY_BYTES + UINT8_MAX) <=
                   (uint64_t)RKV_FRAME_BYTES_MAX + PEER_LEN_FIELD_BYTES,
               "an over-limit hint list still frames");
_Static_assert(PEER_HINT_LIST_ENTRIES_MAX <= UINT16_MAX, "the hint count is a 16-bit field");
_Static_assert(BIN_REQ_F_KNOWN <= UINT16_MAX, "client request flags are a 16-bit field");
_Static_assert(RKV_RF_MAX <= UINT8_MAX, "replica counts are 1-byte fields");
_Static_assert(RKV_TTL_S_MAX <= UINT32_MAX, "ttl is a 32-bit field");
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
    switch (opcode) {
    case PEER_OP_HELLO:
    case PEER_OP_HELLO_ACK:
    case PEER_OP_PING:
    case PEER_OP_PONG:
    case PEER_OP_REPLICA_WRITE:
    case PEER_OP_REPLICA_WRITE_ACK:
    case PEER_OP_REPLICA_READ:
    case PEER_OP_REPLICA_READ_ACK:
    case PEER_OP_FORWARD:
    case PEER_OP_FORWARD_ACK:
    case PEER_OP_HINT_LIST:
    case PEER_OP_HINT_LIST_ACK:
        return true;
    default:
        return false;
    }
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
    case PEER_OP_FORWARD: return "FORWARD";
    case PEER_OP_FORWARD_ACK: return "FORWARD_ACK";
    case PEER_OP_HINT_LIST: return "HINT_LIST";
    case PEER_OP_HINT_LIST_ACK: return "HINT_LIST_ACK";
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

/* Walks the entries of a hint list answer in order; a decoded answer's targets lie back to
 * back after its entry table, so each is found from the lengths of those before it. */
struct hint_walk {
    const struct peer_hint_list_ack *ack;
    uint32_t next_idx;
    size_t target_off; /* decoded: offset of the next target from entries_wire */
};

static void hint_walk_start(struct hint_walk *w, const struct peer_hint_list_ack *ack)
{
    RKV_ASSERT(ack->entries != NULL || ack->entries_wire != NULL || ack->count == 0);
    w->ack = ack;
    w->next_idx = 0;
    w->target_off = (size_t)ack->count * PEER_HINT_LIST_ENTRY_BYTES;
}

static void hint_walk_next(struct hint_walk *w, struct peer_hint_entry *out)
{
    const struct peer_hint_list_ack *a = w->ack;
    RKV_ASSERT(w->next_idx < a->count);
    uint32_t i = w->next_idx++;
    if (a->entries != NULL) {
        *out = a->entries[i];
        return;
    }
    const uint8_t *e = a->entries_wire + (size_t)i * PEER_HINT_LIST_ENTRY_BYTES;
    out->target.data = a->entries_wire + w->target_off;
    out->target.bytes = e[HENT_OFF_TARGET_BYTES];
    out->version = load_be64(e + HENT_OFF_VERSION);
    out->timestamp = load_be64(e + HENT_OFF_TIMESTAMP);
    w->target_off += out->target.bytes;
}

void peer_hint_list_entry(const struct peer_hint_list_ack *ack, uint32_t entry_idx, struct peer_hint_entry *entry_out)
{
    RKV_ASSERT(ack != NULL);
    RKV_ASSERT(entry_out != NULL);
    RKV_ASSERT(entry_idx < ack->count);
    struct hint_walk w;
    hint_walk_start(&w, ack);
    if (ack->entries == NULL) {
        /* Skip the targets of the entries before this one without decoding them. */
        for (uint32_t i = 0; i < entry_idx; i++)
            w.target_off += ack->entries_wire[(size_t)i * PEER_HINT_LIST_ENTRY_BYTES + HENT_OFF_TARGET_BYTES];
    }
    w.next_idx = entry_idx;
    hint_walk_next(&w, entry_out);
}

/* The bytes of a hint list answer's targets; false when one does not fit its 1-byte length. */
static bool hint_targets_bytes(const struct peer_hint_list_ack *a, uint64_t *bytes_out)
{
    *bytes_out = 0;
    struct hint_walk w;
    hint_walk_start(&w, a);
    for (uint32_t i = 0; i < a->count; i++) {
        struct peer_hint_entry e;
        hint_walk_next(&w, &e);
        if (e.target.bytes > UINT8_MAX)
            return false;
        *bytes_out += e.target.bytes;
    }
    return true;
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

struct peer_str peer_frame_value(const struct peer_frame *frame)
{
    RKV_ASSERT(frame != NULL);
    struct peer_str none = {NULL, 0};
    switch (frame->opcode) {
    case PEER_OP_REPLICA_WRITE: {
        struct peer_str v = {frame->write.rec.value, frame->write.rec.value_bytes};
        return v;
    }
    case PEER_OP_REPLICA_READ_ACK: {
        struct peer_str v = {frame->read_ack.rec.value, frame->read_ack.rec.value_bytes};
        return v;
    }
    case PEER_OP_FORWARD:
        return frame->forward.value;
    case PEER_OP_FORWARD_ACK:
        return frame->forward_ack.value;
    default:
        return none;
    }
}

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
    case PEER_OP_FORWARD:
        if (f->forward.key.bytes > UINT16_MAX)
            return false;
        *head_out = (uint64_t)PEER_FORWARD_FIXED_BYTES + f->forward.key.bytes;
        *value_out = f->forward.value.bytes;
        return true;
    case PEER_OP_FORWARD_ACK:
        *head_out = PEER_FORWARD_ACK_FIXED_BYTES;
        *value_out = f->forward_ack.value.bytes;
        return true;
    case PEER_OP_HINT_LIST:
        if (f->hint_list.key.bytes > UINT16_MAX)
            return false;
        *head_out = (uint64_t)PEER_HINT_LIST_FIXED_BYTES + f->hint_list.key.bytes;
        return true;
    case PEER_OP_HINT_LIST_ACK: {
        uint64_t targets;
        if (!hint_targets_bytes(&f->hint_list_ack, &targets))
            return false;
        *head_out = (uint64_t)PEER_HINT_LIST_ACK_FIXED_BYTES +
                    (uint64_t)f->hint_list_ack.count * PEER_HINT_LIST_ENTRY_BYTES + targets;
        return true;
    }
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

static void encode_forward(uint8_t *buf, const struct peer_forward *w)
{
    store_be64(buf + FWD_OFF_TOKEN, w->token);
    store_be64(buf + FWD_OFF_IF_VERSION, w->if_version);
    store_be32(buf + FWD_OFF_TTL_S, w->ttl_s);
    store_be32(buf + FWD_OFF_DEADLINE_MS, w->deadline_ms);
    buf[FWD_OFF_CLIENT_OPCODE] = w->client_opcode;
    buf[FWD_OFF_CONSISTENCY] = w->consistency;
    store_be16(buf + FWD_OFF_REQ_FLAGS, w->req_flags);
    store_be16(buf + FWD_OFF_KEY_BYTES, (uint16_t)w->key.bytes);
    store_be16(buf + FWD_OFF_RESERVED, 0);
    store_be32(buf + FWD_OFF_VALUE_BYTES, w->value.bytes);
    (void)put_str(buf + FWD_OFF_KEY, &w->key);
}

static void encode_forward_ack(uint8_t *buf, const struct peer_forward_ack *a)
{
    store_be64(buf + FACK_OFF_VERSION, a->version);
    store_be64(buf + FACK_OFF_TIMESTAMP, a->timestamp);
    buf[FACK_OFF_ACKED] = a->acked;
    buf[FACK_OFF_NEEDED] = a->needed;
    buf[FACK_OFF_HINTED] = a->hinted;
    buf[FACK_OFF_RESERVED] = 0;
    store_be32(buf + FACK_OFF_VALUE_BYTES, a->value.bytes);
}

static void encode_hint_list_ack(uint8_t *buf, const struct peer_hint_list_ack *a)
{
    store_be16(buf + HACK_OFF_COUNT, a->count);
    store_be16(buf + HACK_OFF_RESERVED, 0);
    uint8_t *table = buf + HACK_OFF_ENTRIES;
    uint8_t *p = table + (size_t)a->count * PEER_HINT_LIST_ENTRY_BYTES;
    struct hint_walk w;
    hint_walk_start(&w, a);
    for (uint32_t i = 0; i < a->count; i++) {
        struct peer_hint_entry e;
        hint_walk_next(&w, &e);
        uint8_t *t = table + (size_t)i * PEER_HINT_LIST_ENTRY_BYTES;
        t[HENT_OFF_TARGET_BYTES] = (uint8_t)e.target.bytes;
        memset(t + HENT_OFF_RESERVED, 0, 3);
        store_be64(t + HENT_OFF_VERSION, e.version);
        store_be64(t + HENT_OFF_TIMESTAMP, e.timestamp);
        p = put_str(p, &e.target);
    }
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
    case PEER_OP_FORWARD:
        encode_forward(buf, &frame->forward);
        break;
    case PEER_OP_FORWARD_ACK:
        encode_forward_ack(buf, &frame->forward_ack);
        break;
    case PEER_OP_HINT_LIST:
        store_be64(buf + HLIST_OFF_TOKEN, frame->hint_list.token);
        store_be16(buf + HLIST_OFF_KEY_BYTES, (uint16_t)frame->hint_list.key.bytes);
        store_be16(buf + HLIST_OFF_RESERVED, 0);
        (void)put_str(buf + HLIST_OFF_KEY, &frame->hint_list.key);
        break;
    case PEER_OP_HINT_LIST_ACK:
        encode_hint_list_ack(buf, &frame->hint_list_ack);
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
    struct peer_str value = peer_frame_value(frame);
    RKV_ASSERT(head + value.bytes == whole);
    (void)put_str(buf + head, &value);
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

static bool decode_forward(const uint8_t *buf, size_t whole, struct peer_forward *w)
{
    if (whole < PEER_FORWARD_FIXED_BYTES)
        return false;
    if (load_be16(buf + FWD_OFF_RESERVED) != 0)
        return false;
    w->token = load_be64(buf + FWD_OFF_TOKEN);
    w->if_version = load_be64(buf + FWD_OFF_IF_VERSION);
    w->ttl_s = load_be32(buf + FWD_OFF_TTL_S);
    w->deadline_ms = load_be32(buf + FWD_OFF_DEADLINE_MS);
    w->client_opcode = buf[FWD_OFF_CLIENT_OPCODE];
    w->consistency = buf[FWD_OFF_CONSISTENCY];
    w->req_flags = load_be16(buf + FWD_OFF_REQ_FLAGS);
    uint32_t key_bytes = load_be16(buf + FWD_OFF_KEY_BYTES);
    uint32_t value_bytes = load_be32(buf + FWD_OFF_VALUE_BYTES);
    if ((uint64_t)PEER_FORWARD_FIXED_BYTES + key_bytes + value_bytes != whole)
        return false;
    size_t at = FWD_OFF_KEY;
    return take_str(buf, &at, whole, key_bytes, &w->key) && take_str(buf, &at, whole, value_bytes, &w->value);
}

static bool decode_forward_ack(const uint8_t *buf, size_t whole, struct peer_forward_ack *a)
{
    if (whole < PEER_FORWARD_ACK_FIXED_BYTES)
        return false;
    if (buf[FACK_OFF_RESERVED] != 0)
        return false;
    a->version = load_be64(buf + FACK_OFF_VERSION);
    a->timestamp = load_be64(buf + FACK_OFF_TIMESTAMP);
    a->acked = buf[FACK_OFF_ACKED];
    a->needed = buf[FACK_OFF_NEEDED];
    a->hinted = buf[FACK_OFF_HINTED];
    uint32_t value_bytes = load_be32(buf + FACK_OFF_VALUE_BYTES);
    if ((uint64_t)PEER_FORWARD_ACK_FIXED_BYTES + value_bytes != whole)
        return false;
    size_t at = FACK_OFF_VALUE;
    return take_str(buf, &at, whole, value_bytes, &a->value);
}

static bool decode_hint_list(const uint8_t *buf, size_t whole, struct peer_hint_list *h)
{
    if (whole < PEER_HINT_LIST_FIXED_BYTES)
        return false;
    if (load_be16(buf + HLIST_OFF_RESERVED) != 0)
        return false;
    h->token = load_be64(buf + HLIST_OFF_TOKEN);
    uint32_t key_bytes = load_be16(buf + HLIST_OFF_KEY_BYTES);
    if ((uint64_t)PEER_HINT_LIST_FIXED_BYTES + key_bytes != whole)
        return false;
    size_t at = HLIST_OFF_KEY;
    return take_str(buf, &at, whole, key_bytes, &h->key);
}

/* The entry table must lie within the frame before any entry is read, and the targets its
 * entries announce must fill the rest exactly. O(count), and count < 65536. */
static bool decode_hint_list_ack(const uint8_t *buf, size_t whole, struct peer_hint_list_ack *a)
{
    if (whole < PEER_HINT_LIST_ACK_FIXED_BYTES)
        return false;
    if (load_be16(buf + HACK_OFF_RESERVED) != 0)
        return false;
    uint32_t count = load_be16(buf + HACK_OFF_COUNT);
    uint64_t table_bytes = (uint64_t)count * PEER_HINT_LIST_ENTRY_BYTES;
    if ((uint64_t)PEER_HINT_LIST_ACK_FIXED_BYTES + table_bytes > whole)
        return false;
    const uint8_t *table = buf + HACK_OFF_ENTRIES;
    uint64_t targets = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = table + (size_t)i * PEER_HINT_LIST_ENTRY_BYTES;
        if (e[HENT_OFF_RESERVED] != 0 || e[HENT_OFF_RESERVED + 1] != 0 || e[HENT_OFF_RESERVED + 2] != 0)
            return false;
        targets += e[HENT_OFF_TARGET_BYTES];
    }
    if ((uint64_t)PEER_HINT_LIST_ACK_FIXED_BYTES + table_bytes + targets != whole)
        return false;
    a->count = (uint16_t)count;
    a->entries = NULL;
    a->entries_wire = table;
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
    case PEER_OP_FORWARD:
        return decode_forward(buf, whole, &f->forward);
    case PEER_OP_FORWARD_ACK:
        return decode_forward_ack(buf, whole, &f->forward_ack);
    case PEER_OP_HINT_LIST:
        return decode_hint_list(buf, whole, &f->hint_list);
    case PEER_OP_HINT_LIST_ACK:
        return decode_hint_list_ack(buf, whole, &f->hint_list_ack);
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

#define ST_BIT(st) (1u << (st))
_Static_assert(PEER_ST_COUNT <= 32, "status masks are 32-bit");

/* The statuses an answer opcode allows, as a mask of ST_BIT()s; 0 for a request. Every
 * answer allows OK and ERROR. */
static uint32_t status_allowed(uint8_t opcode)
{
    const uint32_t base = ST_BIT(PEER_ST_OK) | ST_BIT(PEER_ST_ERROR);
    switch (opcode) {
    case PEER_OP_HELLO_ACK:
    case PEER_OP_PONG:
    case PEER_OP_HINT_LIST_ACK:
        return base;
    case PEER_OP_REPLICA_WRITE_ACK:
        return base | ST_BIT(PEER_ST_FENCED) | ST_BIT(PEER_ST_SKEW);
    case PEER_OP_REPLICA_READ_ACK:
    case PEER_OP_FORWARD_ACK:
        return base | ST_BIT(PEER_ST_NOT_FOUND);
    default:
        return 0;
    }
}

static enum rkv_err validate_status(const struct peer_frame *f)
{
    if (!peer_opcode_is_answer(f->opcode))
        return f->status == 0 && f->err == 0 ? RKV_OK : RKV_BAD_FRAME;
    RKV_DEBUG_ASSERT(status_allowed(f->opcode) != 0); /* every known answer has a row */
    if (f->status >= PEER_ST_COUNT || (status_allowed(f->opcode) & ST_BIT(f->status)) == 0)
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

static bool client_opcode_forwardable(uint8_t opcode)
{
    return opcode == BIN_OP_GET || opcode == BIN_OP_PUT || opcode == BIN_OP_DELETE;
}

/* The client fields are checked as bin_req_validate() checks them, in its order, so that the
 * status a forwarded request gets is the one the client would have got from the node it
 * asked. The deadline, a peer field, comes last. */
static enum rkv_err validate_forward(const struct peer_forward *w)
{
    if (!client_opcode_forwardable(w->client_opcode))
        return RKV_UNKNOWN_OPCODE;
    if ((w->req_flags & ~BIN_REQ_F_KNOWN) != 0)
        return RKV_BAD_FRAME;
    if (w->consistency > BIN_CONS_ALL)
        return RKV_BAD_CONSISTENCY;
    enum rkv_err e = validate_key(&w->key);
    if (e != RKV_OK)
        return e;
    bool is_put = w->client_opcode == BIN_OP_PUT;
    if (w->value.bytes > RKV_VALUE_BYTES_MAX)
        return is_put ? RKV_VALUE_TOO_LONG : RKV_INVALID_ARG;
    if (!is_put && w->value.bytes != 0)
        return RKV_INVALID_ARG;
    if (w->ttl_s > RKV_TTL_S_MAX)
        return is_put ? RKV_BAD_TTL : RKV_INVALID_ARG;
    if (!is_put && w->ttl_s != 0)
        return RKV_INVALID_ARG;
    if ((w->req_flags & BIN_REQ_F_IF_VERSION) != 0 && !is_put)
        return RKV_INVALID_ARG;
    if ((w->req_flags & BIN_REQ_F_IF_VERSION) == 0 && w->if_version != 0)
        return RKV_INVALID_ARG;
    if (!deadline_valid(w->deadline_ms))
        return RKV_INVALID_ARG;
    return RKV_OK;
}

/* What the answer may carry depends on the request it answers (a value only for a GET),
 * which the answer does not repeat: the requester, which knows the request, checks that. */
static enum rkv_err validate_forward_ack(uint8_t status, uint8_t err, const struct peer_forward_ack *a)
{
    if (a->value.bytes > RKV_VALUE_BYTES_MAX)
        return RKV_VALUE_TOO_LONG;
    /* Each replica of the preference list acknowledges once, directly or as a hint. */
    if ((uint32_t)a->acked + a->hinted > RKV_RF_MAX || a->needed > RKV_RF_MAX)
        return RKV_INVALID_ARG;
    switch (status) {
    case PEER_ST_OK:
        if (a->version == 0 || a->timestamp == 0)
            return RKV_INVALID_ARG;
        /* OK and NOT_FOUND both mean the level was met. */
        return a->needed >= 1 && (uint32_t)a->acked + a->hinted >= a->needed ? RKV_OK : RKV_INVALID_ARG;
    case PEER_ST_NOT_FOUND:
        if (a->version != 0 || a->timestamp != 0 || a->value.bytes != 0)
            return RKV_INVALID_ARG;
        return a->needed >= 1 && (uint32_t)a->acked + a->hinted >= a->needed ? RKV_OK : RKV_INVALID_ARG;
    default: {
        /* ERROR: only a refused condition reports a version, the key's current one. */
        bool mismatch = err == rkv_err_wire(RKV_VERSION_MISMATCH);
        if ((a->version != 0 && !mismatch) || a->timestamp != 0 || a->value.bytes != 0)
            return RKV_INVALID_ARG;
        return RKV_OK;
    }
    }
}

static enum rkv_err validate_hint_list_ack(uint8_t status, const struct peer_hint_list_ack *a)
{
    if (a->count > PEER_HINT_LIST_ENTRIES_MAX)
        return RKV_INVALID_ARG;
    if (status == PEER_ST_ERROR && a->count != 0)
        return RKV_INVALID_ARG;
    struct hint_walk w;
    hint_walk_start(&w, a);
    for (uint32_t i = 0; i < a->count; i++) {
        struct peer_hint_entry e;
        hint_walk_next(&w, &e);
        if (!peer_node_id_valid(e.target.data, e.target.bytes))
            return RKV_INVALID_ARG;
        if (e.version == 0 || e.timestamp == 0)
            return RKV_INVALID_ARG;
    }
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
    case PEER_OP_FORWARD:
        return validate_forward(&frame->forward);
    case PEER_OP_FORWARD_ACK:
        return validate_forward_ack(frame->status, frame->err, &frame->forward_ack);
    case PEER_OP_HINT_LIST:
        return validate_key(&frame->hint_list.key);
    case PEER_OP_HINT_LIST_ACK:
        return validate_hint_list_ack(frame->status, &frame->hint_list_ack);
    default:
        RKV_DEBUG_ASSERT(false);
        return RKV_UNKNOWN_OPCODE;
    }
}
