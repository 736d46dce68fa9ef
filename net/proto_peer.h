/* The peer protocol codec: the frames nodes exchange on the peer port (handshake, liveness,
 * replica writes and reads, forwarded client requests, an operator's listing of hints). It
 * uses the framing of the binary protocol (net/proto_bin.h): a 4-byte big-endian length
 * prefix counting the bytes after it, then a request id, then a one-byte opcode, here from
 * 0x80..0xff. Pure functions over caller-owned buffers: nothing
 * is allocated or kept, so any thread may call any of them. The structs here are wire
 * structs of their own (net/ may not see storage/ or ring/): replication code maps
 * struct peer_record to and from storage records and struct peer_hello to and from member
 * descriptions. docs/protocol.md ("Peer protocol") describes the same layout for people.
 *
 * Every integer is big-endian. An answer's opcode is its request's opcode with the low bit
 * set, and echoes its request_id. Reserved fields are zero and checked.
 *
 * Common header (PEER_HDR_BYTES = 12), at the start of every frame:
 *   OFFSET SIZE FIELD            NOTES
 *        0    4 frame_bytes      bytes after this field, 8..RKV_FRAME_BYTES_MAX
 *        4    4 request_id       chosen by the requester; echoed by the answer
 *        8    1 opcode           enum peer_opcode
 *        9    1 status           answers: enum peer_status; requests: zero
 *       10    1 err              status ERROR: wire code of enum rkv_err (not OK); else zero
 *       11    1 reserved         zero
 *
 * HELLO (0x80) and HELLO_ACK (0x81): the sender describes itself (PEER_HELLO_FIXED_BYTES =
 * 44, then tokens and strings; frame_bytes = 40 + 8 t + n + c + hb + hh + hp):
 *   OFFSET SIZE FIELD            NOTES
 *       12    2 proto_version    PEER_PROTO_VERSION
 *       14    2 reserved         zero
 *       16    8 hlc_ts           the sender's HLC timestamp as it sends the frame
 *       24    2 shard_count      1..RKV_SHARDS_MAX
 *       26    2 vnode_count      1..RKV_VNODES_MAX
 *       28    2 token_count (t)  0 (tokens not sent: derived from the node id) or vnode_count
 *       30    2 bin_port         1..65535
 *       32    2 http_port        0 (HTTP off) or 1..65535
 *       34    2 peer_port        1..65535
 *       36    1 node_id_bytes (n)    1..RKV_NODE_ID_BYTES_MAX, [A-Za-z0-9._-]
 *       37    1 cluster_bytes (c)    0 (none) ..PEER_CLUSTER_BYTES_MAX, same characters
 *       38    1 bin_host_bytes (hb)  1..PEER_HOST_BYTES_MAX
 *       39    1 http_host_bytes (hh) 0 when http_port is 0, else 1..PEER_HOST_BYTES_MAX
 *       40    1 peer_host_bytes (hp) 1..PEER_HOST_BYTES_MAX
 *       41    3 reserved         zero
 *       44  8 t tokens           t big-endian 64-bit tokens, indexed by vnode
 *            n node_id, then c cluster, hb bin_host, hh http_host, hp peer_host (no NULs)
 *
 * PING (0x82) and PONG (0x83) (PEER_PING_BYTES = 28; frame_bytes = 24):
 *       12    8 hlc_ts           the sender's HLC timestamp as it sends the frame
 *       20    8 echo_ts          PONG: the hlc_ts of the PING answered; PING: zero
 *
 * REPLICA_WRITE (0x84) (PEER_WRITE_FIXED_BYTES = 64; frame_bytes = 60 + k + h + v):
 *       12    8 token            the key's ring token
 *       20    8 timestamp        record: HLC timestamp of the write, >= 1
 *       28    8 version          record: >= 1
 *       36    8 expiry_ms        record: live: absolute wall-clock ms, 0 never; tombstone: died_ms
 *       44    4 origin           record: 32-bit hash of the node id that stamped the write
 *       48    4 deadline_ms      time the coordinator still waits, 1..PEER_DEADLINE_MS_MAX
 *       52    1 rec_flags        PEER_REC_F_TOMBSTONE; other bits zero
 *       53    1 consistency      the coordinator's level: 0 one, 1 quorum, 2 all
 *       54    1 hint_bytes (h)   0: a direct write; else the node id the write is a hint for
 *       55    1 reserved         zero
 *       56    2 key_bytes (k)    1..RKV_KEY_BYTES_MAX
 *       58    2 reserved         zero
 *       60    4 value_bytes (v)  0..RKV_VALUE_BYTES_MAX; 0 for a tombstone
 *       64    k key, then h hint node id, then v value (last, so it can be its own iovec)
 *
 * REPLICA_WRITE_ACK (0x85) (PEER_WRITE_ACK_BYTES = 28; frame_bytes = 24):
 *   status OK: applied; FENCED: the replica holds a newer record and refused; SKEW: the
 *   write's timestamp is too far ahead of the replica's clock; ERROR: err says why.
 *       12    8 version          OK: the replica's resulting version; FENCED: the held
 *                                record's version; else zero
 *       20    8 timestamp        OK: the timestamp applied; FENCED: the held record's;
 *                                SKEW: the replica's HLC timestamp now; ERROR: zero
 *
 * REPLICA_READ (0x86) (PEER_READ_FIXED_BYTES = 28; frame_bytes = 24 + k):
 *       12    8 token            the key's ring token
 *       20    4 deadline_ms      1..PEER_DEADLINE_MS_MAX
 *       24    1 read_flags       PEER_READ_F_DIGEST: a digest suffices; other bits zero
 *       25    1 reserved         zero
 *       26    2 key_bytes (k)    1..RKV_KEY_BYTES_MAX
 *       28    k key
 *
 * REPLICA_READ_ACK (0x87) (PEER_READ_ACK_FIXED_BYTES = 56; frame_bytes = 52 + v):
 *   status OK: the record (a tombstone too); NOT_FOUND: no record, every field zero; ERROR.
 *       12    8 timestamp        record, >= 1 when OK
 *       20    8 version          record, >= 1 when OK
 *       28    8 expiry_ms        record
 *       36    8 digest           with PEER_READ_ACK_F_DIGEST: peer_record_digest(); else zero
 *       44    4 origin           record
 *       48    1 rec_flags        PEER_REC_F_TOMBSTONE; other bits zero
 *       49    1 ack_flags        PEER_READ_ACK_F_DIGEST: value left out, digest carried
 *       50    2 reserved         zero
 *       52    4 value_bytes (v)  0..RKV_VALUE_BYTES_MAX; 0 for a tombstone or a digest
 *       56    v value
 *
 * FORWARD (0x88) (PEER_FORWARD_FIXED_BYTES = 48; frame_bytes = 44 + k + v): a coordinator
 * hands a client request to another node that must run it (a conditional PUT runs on the
 * key's primary replica). The client fields keep their binary-protocol meaning.
 *       12    8 token            the key's ring token
 *       20    8 if_version       with BIN_REQ_F_IF_VERSION: 0 = only if absent; else zero
 *       28    4 ttl_s            PUT: 0 never, else ..RKV_TTL_S_MAX; else zero
 *       32    4 deadline_ms      1..PEER_DEADLINE_MS_MAX
 *       36    1 client_opcode    BIN_OP_GET, BIN_OP_PUT or BIN_OP_DELETE
 *       37    1 consistency      the client's level: 0 one, 1 quorum, 2 all
 *       38    2 req_flags        BIN_REQ_F_*; unknown bits zero
 *       40    2 key_bytes (k)    1..RKV_KEY_BYTES_MAX
 *       42    2 reserved         zero
 *       44    4 value_bytes (v)  PUT: 0..RKV_VALUE_BYTES_MAX; else zero
 *       48    k key, then v value (last, so it can be its own iovec)
 *
 * FORWARD_ACK (0x89) (PEER_FORWARD_ACK_FIXED_BYTES = 36; frame_bytes = 32 + v): the
 *   request's outcome, as the binary protocol's response would carry it. status OK: done;
 *   NOT_FOUND: a GET's key has no live value; ERROR: err says why (VERSION_MISMATCH,
 *   UNAVAILABLE, a validation status, ...).
 *       12    8 version          OK: the key's version, >= 1; ERROR VERSION_MISMATCH: the
 *                                current one (0: absent); else zero
 *       20    8 timestamp        OK: the HLC timestamp written or read, >= 1; else zero
 *       28    1 acked            replicas that acknowledged directly (reads: answered)
 *       29    1 needed           replicas the level required; OK and NOT_FOUND: >= 1
 *       30    1 hinted           acknowledgements that were hints; acked + hinted <= RKV_RF_MAX
 *       31    1 reserved         zero
 *       32    4 value_bytes (v)  OK GET: 0..RKV_VALUE_BYTES_MAX; else zero
 *       36    v value
 *
 * HINT_LIST (0x90) (PEER_HINT_LIST_FIXED_BYTES = 24; frame_bytes = 20 + k): an operator's
 * debug view asks a node which hints it holds for one key.
 *       12    8 token            the key's ring token
 *       20    2 key_bytes (k)    1..RKV_KEY_BYTES_MAX
 *       22    2 reserved         zero
 *       24    k key
 *
 * HINT_LIST_ACK (0x91) (PEER_HINT_LIST_ACK_FIXED_BYTES = 16; frame_bytes = 12 + 20 c + n,
 * where n is the sum of the entries' target_bytes): status OK, or ERROR with count zero.
 *       12    2 count (c)        0..PEER_HINT_LIST_ENTRIES_MAX
 *       14    2 reserved         zero
 *       16 20 c entries          c entries of PEER_HINT_LIST_ENTRY_BYTES, each:
 *                                  +0 1 target_bytes  the node id's length, 1..RKV_NODE_ID_BYTES_MAX
 *                                  +1 3 reserved      zero
 *                                  +4 8 version       the hinted record's, >= 1
 *                                 +12 8 timestamp     the hinted record's, >= 1
 *  16 + 20 c  n targets          the entries' node ids, in entry order, back to back
 */
#ifndef RKV_NET_PROTO_PEER_H
#define RKV_NET_PROTO_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/limits.h"
#include "net/proto_bin.h"

/* Version 1 is the layout above. A node answers a HELLO of another version with a
 * HELLO_ACK of status ERROR (err INVALID_ARG) describing itself, and closes. */
#define PEER_PROTO_VERSION 1u

#define PEER_HDR_BYTES 12u
#define PEER_HELLO_FIXED_BYTES 44u
#define PEER_PING_BYTES 28u
#define PEER_WRITE_FIXED_BYTES 64u
#define PEER_WRITE_ACK_BYTES 28u
#define PEER_READ_FIXED_BYTES 28u
#define PEER_READ_ACK_FIXED_BYTES 56u
#define PEER_FORWARD_FIXED_BYTES 48u
#define PEER_FORWARD_ACK_FIXED_BYTES 36u
#define PEER_HINT_LIST_FIXED_BYTES 24u
#define PEER_HINT_LIST_ACK_FIXED_BYTES 16u
#define PEER_HINT_LIST_ENTRY_BYTES 20u

/* A cluster name follows the node id rules, and is as long at most. */
#define PEER_CLUSTER_BYTES_MAX RKV_NODE_ID_BYTES_MAX
/* Host strings as core/config.h keeps them (without the terminating NUL). */
#define PEER_HOST_BYTES_MAX (RKV_HOST_BYTES_MAX - 1u)
/* The longest a coordinator may ask a replica to keep working on its request. A minute is
 * far past any sensible request deadline (the default is 1 s), and bounds how long a
 * replica may hold work for a coordinator that has given up. */
#define PEER_DEADLINE_MS_MAX 60000u
/* The most entries a HINT_LIST_ACK carries. A node holds hints for a key only for the few
 * replicas of its preference list (at most RKV_RF_MAX) that were down, a handful of versions
 * each, so 64 lists every hint a healthy store holds for one key; a node holding more lists
 * the first 64 (it is a debug view, not a transfer). At most 64 x (20 + 64) bytes of entries
 * keeps the answer far below the frame limit. */
#define PEER_HINT_LIST_ENTRIES_MAX 64u

enum peer_opcode {
    PEER_OP_HELLO = 0x80,
    PEER_OP_HELLO_ACK = 0x81,
    PEER_OP_PING = 0x82,
    PEER_OP_PONG = 0x83,
    PEER_OP_REPLICA_WRITE = 0x84,
    PEER_OP_REPLICA_WRITE_ACK = 0x85,
    PEER_OP_REPLICA_READ = 0x86,
    PEER_OP_REPLICA_READ_ACK = 0x87,
    PEER_OP_FORWARD = 0x88,
    PEER_OP_FORWARD_ACK = 0x89,
    /* 0x8a..0x8f: reserved for further core opcodes. */
    PEER_OP_HINT_LIST = 0x90,
    PEER_OP_HINT_LIST_ACK = 0x91,
    /* Reserved ranges, not implemented (docs/protocol.md): 0x8a..0x8f core, 0x92..0x9f
     * HINT_REPLAY_* (hinted handoff), 0xa0..0xbf MERKLE_*, 0xc0..0xdf STREAM_*, 0xe0..0xff
     * unassigned. */
};

/* The answer opcode of a request opcode. */
#define PEER_OP_ANSWER(op) ((uint8_t)((op) | 1u))

enum peer_status {
    PEER_ST_OK = 0,
    PEER_ST_NOT_FOUND = 1, /* REPLICA_READ_ACK and FORWARD_ACK only */
    PEER_ST_FENCED = 2,    /* REPLICA_WRITE_ACK only */
    PEER_ST_SKEW = 3,      /* REPLICA_WRITE_ACK only */
    PEER_ST_ERROR = 4,     /* any answer; err holds the enum rkv_err wire code */
    PEER_ST_COUNT
};

#define PEER_REC_F_TOMBSTONE 0x01u
#define PEER_REC_F_KNOWN (PEER_REC_F_TOMBSTONE)
#define PEER_READ_F_DIGEST 0x01u
#define PEER_READ_F_KNOWN (PEER_READ_F_DIGEST)
#define PEER_READ_ACK_F_DIGEST 0x01u
#define PEER_READ_ACK_F_KNOWN (PEER_READ_ACK_F_DIGEST)

/* A byte string borrowed from elsewhere: decoded, it points into the frame's buffer; to
 * encode, into the caller's memory. Never NUL-terminated on the wire. */
struct peer_str {
    const uint8_t *data; /* may be NULL when bytes is 0 */
    uint32_t bytes;
};

struct peer_addr {
    struct peer_str host;
    uint16_t port;
};

/* HELLO and HELLO_ACK. */
struct peer_hello {
    uint16_t proto_version;
    uint64_t hlc_ts;
    uint16_t shard_count;
    uint16_t vnode_count;
    uint16_t token_count;
    struct peer_str node_id;
    struct peer_str cluster;
    struct peer_addr bin_addr;
    struct peer_addr http_addr;
    struct peer_addr peer_addr;
    /* To encode: token_count tokens in host order. Decoded: NULL. */
    const uint64_t *tokens;
    /* Decoded: token_count big-endian tokens inside the buffer. The encoder reads them only
     * when tokens is NULL, so a decoded hello encodes again as it came. Read tokens with
     * peer_hello_token(), which works on both. */
    const uint8_t *tokens_wire;
};

/* PING and PONG. */
struct peer_ping {
    uint64_t hlc_ts;
    uint64_t echo_ts;
};

/* A record as replicas exchange it; maps field for field to storage/record.h. */
struct peer_record {
    uint8_t flags; /* PEER_REC_F_* */
    uint32_t origin;
    uint64_t timestamp;
    uint64_t version;
    uint64_t expiry_ms;
    uint32_t value_bytes;
    const uint8_t *value; /* may be NULL when value_bytes is 0 */
};

struct peer_write {
    uint64_t token;
    struct peer_record rec;
    uint32_t deadline_ms;
    uint8_t consistency; /* enum bin_consistency */
    struct peer_str key;
    struct peer_str hint; /* the node the write is a hint for; empty for a direct write */
};

struct peer_write_ack {
    uint64_t version;
    uint64_t timestamp;
};

struct peer_read {
    uint64_t token;
    uint32_t deadline_ms;
    uint8_t flags; /* PEER_READ_F_* */
    struct peer_str key;
};

struct peer_read_ack {
    struct peer_record rec;
    uint8_t flags; /* PEER_READ_ACK_F_* */
    uint64_t digest;
};

/* FORWARD: a client request as the binary protocol carried it (struct bin_req's fields). */
struct peer_forward {
    uint64_t token;
    uint64_t if_version;  /* with BIN_REQ_F_IF_VERSION in req_flags; else zero */
    uint32_t ttl_s;       /* PUT only */
    uint32_t deadline_ms;
    uint8_t client_opcode; /* BIN_OP_GET, BIN_OP_PUT or BIN_OP_DELETE */
    uint8_t consistency;   /* enum bin_consistency */
    uint16_t req_flags;    /* BIN_REQ_F_* */
    struct peer_str key;
    struct peer_str value; /* PUT only; last on the wire */
};

/* FORWARD_ACK: the outcome, with struct bin_resp's fields. */
struct peer_forward_ack {
    uint64_t version;
    uint64_t timestamp;
    uint8_t acked;
    uint8_t needed;
    uint8_t hinted;
    struct peer_str value; /* OK GET only; last on the wire */
};

struct peer_hint_list {
    uint64_t token;
    struct peer_str key;
};

/* One hint a node holds for a key: for which node, and the record's version and timestamp. */
struct peer_hint_entry {
    struct peer_str target; /* a node id */
    uint64_t version;
    uint64_t timestamp;
};

struct peer_hint_list_ack {
    uint16_t count;
    /* To encode: count entries in the caller's memory. Decoded: NULL. */
    const struct peer_hint_entry *entries;
    /* Decoded: the entry table inside the buffer (count entries of PEER_HINT_LIST_ENTRY_BYTES,
     * then the targets). The encoder reads it only when entries is NULL, so a decoded answer
     * encodes again as it came. Read entries with peer_hint_list_entry(), which works on
     * both. */
    const uint8_t *entries_wire;
};

/* One frame, decoded or to be encoded. The member of the union is the one of opcode:
 * hello (HELLO, HELLO_ACK), ping (PING, PONG), write, write_ack, read, read_ack, forward,
 * forward_ack, hint_list, hint_list_ack. */
struct peer_frame {
    uint32_t request_id;
    uint8_t opcode;
    uint8_t status; /* enum peer_status; zero in requests */
    uint8_t err;    /* PEER_ST_ERROR: wire code of enum rkv_err; else zero */
    union {
        struct peer_hello hello;
        struct peer_ping ping;
        struct peer_write write;
        struct peer_write_ack write_ack;
        struct peer_read read;
        struct peer_read_ack read_ack;
        struct peer_forward forward;
        struct peer_forward_ack forward_ack;
        struct peer_hint_list hint_list;
        struct peer_hint_list_ack hint_list_ack;
    };
};

/* Frames one peer frame at the start of buf[0..len) and checks its structure.
 * PARSE_DONE: *frame_out describes it (its pointers point into buf and are valid as long as
 *   buf is) and *frame_bytes_out is its whole size including the length field. The frame
 *   may still break the protocol's rules: call peer_frame_validate().
 * PARSE_NEED_MORE: incomplete; *frame_bytes_out is the whole size once the length field is
 *   in (so the caller can size its buffer), else 0. Nothing but the length field is looked
 *   at before the whole frame is there.
 * PARSE_INVALID, *why_out says why:
 *   - *frame_bytes_out == 0: the length field is under 8 (RKV_BAD_FRAME) or over
 *     RKV_FRAME_BYTES_MAX (RKV_FRAME_TOO_LONG): the stream cannot be delimited and must be
 *     closed.
 *   - *frame_bytes_out != 0: the frame is delimited but malformed: an unknown opcode
 *     (RKV_UNKNOWN_OPCODE), a body shorter than its opcode's fixed part, length fields that
 *     disagree with frame_bytes, a nonzero reserved byte, or a request with a nonzero status
 *     or err (RKV_BAD_FRAME). frame_out->request_id and ->opcode are set (all else zero):
 *     the receiver may answer a request with status ERROR and skip *frame_bytes_out bytes.
 * Out-parameters are set on entry. */
enum parse_rc peer_frame_decode(const uint8_t *buf, size_t len, struct peer_frame *frame_out,
                                size_t *frame_bytes_out, enum rkv_err *why_out);

/* Checks a frame against the protocol's rules: known opcode, and a FORWARD's client opcode
 * GET, PUT or DELETE (RKV_UNKNOWN_OPCODE); status and err allowed for the opcode
 * (RKV_BAD_FRAME); unknown flag bits (RKV_BAD_FRAME); key 1..256 (RKV_KEY_EMPTY,
 * RKV_KEY_TOO_LONG); value <= 1 MiB (RKV_VALUE_TOO_LONG); consistency (RKV_BAD_CONSISTENCY);
 * a forwarded PUT's TTL (RKV_BAD_TTL); everything else, the node id and host rules, shard,
 * vnode, token and hint-entry counts, replica counts, ports, protocol version, deadline,
 * versions and timestamps, tombstones without values and fields an opcode or status leaves
 * zero (RKV_INVALID_ARG). A FORWARD's client fields get the status bin_req_validate() gives
 * the same client request. docs/protocol.md lists the checks in the order they run; the
 * first failing one answers. Pure; the frame stays usable either way. */
enum rkv_err peer_frame_validate(const struct peer_frame *frame);

/* Bytes peer_frame_encode() writes for frame, or 0 when a length does not fit its wire
 * field (a string or hint target over 255 bytes, a key over 65535, more than 65535 tokens)
 * or the frame would exceed RKV_FRAME_BYTES_MAX. */
size_t peer_frame_bytes(const struct peer_frame *frame);
/* Bytes before the trailing value: the frame less its value for REPLICA_WRITE,
 * REPLICA_READ_ACK, FORWARD and FORWARD_ACK, the whole frame for the others; 0 as for
 * peer_frame_bytes(). */
size_t peer_frame_head_bytes(const struct peer_frame *frame);
/* Encodes the whole frame into buf; returns the bytes written (peer_frame_bytes()), or 0
 * when cap is too small or the frame does not fit its fields. Does not validate: tests use
 * it to build bad frames. Pointers in frame are read, not kept. */
size_t peer_frame_encode(uint8_t *buf, size_t cap, const struct peer_frame *frame);
/* Encodes all but the trailing value (peer_frame_head_bytes() bytes); the length field
 * counts the value, which the caller sends right after from its own memory (the record's
 * or the forward's value pointer), so a 1 MiB value is never copied into a frame. 0 as for
 * peer_frame_encode(). */
size_t peer_frame_encode_head(uint8_t *buf, size_t cap, const struct peer_frame *frame);

/* The trailing value peer_frame_encode_head() leaves out, which the caller sends after the
 * head: the record's value (REPLICA_WRITE, REPLICA_READ_ACK) or the forward's
 * (FORWARD, FORWARD_ACK); empty for the other opcodes. Points where frame points. */
struct peer_str peer_frame_value(const struct peer_frame *frame);

/* The token of vnode vnode_idx (< token_count) of a hello, decoded or built for encoding. */
uint64_t peer_hello_token(const struct peer_hello *hello, uint32_t vnode_idx);

/* Entry entry_idx (< count) of a hint list answer, decoded or built for encoding, into
 * *entry_out. Decoded, its target points into the frame's buffer (valid as long as the
 * buffer is); built, into the caller's entry. A decoded entry costs O(entry_idx): the
 * targets before it are summed to find its own (at most PEER_HINT_LIST_ENTRIES_MAX in a
 * valid answer). An index past count is the caller's bug and aborts. */
void peer_hint_list_entry(const struct peer_hint_list_ack *ack, uint32_t entry_idx, struct peer_hint_entry *entry_out);

/* The digest of a record a REPLICA_READ_ACK carries instead of its value: XXH3-64 (seed 0)
 * over the 33-byte canonical header flags(1) ‖ origin(4) ‖ timestamp(8) ‖ version(8) ‖
 * expiry_ms(8) ‖ value_bytes(4), all big-endian, followed by the value bytes. */
uint64_t peer_record_digest(const struct peer_record *rec);

/* True when s[0..bytes) is a node id: 1..RKV_NODE_ID_BYTES_MAX bytes of [A-Za-z0-9._-]. */
bool peer_node_id_valid(const uint8_t *s, size_t bytes);

/* "HELLO", "REPLICA_WRITE_ACK", ...; "?" for an opcode this codec does not implement. */
const char *peer_opcode_name(uint8_t opcode);

#endif
