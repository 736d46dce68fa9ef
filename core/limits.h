/* Every limit of ringkv in one place, with its unit in its name and the reason for its
 * value. Relations between limits are checked at compile time; every limit is tested at
 * its boundary (tests/unit). Runtime-tunable values have their default here and their
 * bounds beside it; core/config.c validates them against these bounds. */
#ifndef RKV_CORE_LIMITS_H
#define RKV_CORE_LIMITS_H

#include <stdint.h>

/* The contract (DESIGN §1): keys are 1..256 bytes of any value, values 0..1 MiB. */
#define RKV_KEY_BYTES_MAX 256u
#define RKV_VALUE_BYTES_MAX (1u << 20)
/* TTL 0 means "never expires"; at most ten years of 365 days. */
#define RKV_TTL_S_MAX (10u * 365u * 86400u)

/* Binary protocol headers (net/proto_bin.h has the field tables). */
#define RKV_REQ_HDR_BYTES 32u
#define RKV_RESP_HDR_BYTES 40u
/* Room past the largest legal request so that a value or key one byte over its limit still
 * arrives as a trustworthy frame and is answered with its own status, not a closed socket. */
#define RKV_FRAME_SLACK_BYTES 4096u
#define RKV_FRAME_BYTES_MAX (RKV_REQ_HDR_BYTES + RKV_KEY_BYTES_MAX + RKV_VALUE_BYTES_MAX + RKV_FRAME_SLACK_BYTES)
/* An error response carries a one-sentence message as its value. */
#define RKV_ERR_MSG_BYTES_MAX 200u

/* Node identity and the ring. */
#define RKV_NODE_ID_BYTES_MAX 64u   /* printable, [A-Za-z0-9._-] */
#define RKV_VNODES_DEFAULT 150u     /* per node: max/mean load under 1.1 (DESIGN §2) */
#define RKV_VNODES_MAX 1024u

/* Shards: one per core. The SPSC matrix has SHARDS_MAX^2 rings, so keep this modest. */
#define RKV_SHARDS_MAX 64u

/* Connections, per shard. The pool of connection structs is sized from this at start-up. */
#define RKV_CONNS_PER_SHARD_DEFAULT 1024u
#define RKV_CONNS_PER_SHARD_MAX 65536u
/* Requests in flight on one connection: when reached, the shard stops reading that socket
 * until half of them have been answered. Bounds the memory one client can pin. */
#define RKV_CONN_INFLIGHT_MAX 128u
/* Requests in flight per shard (its pool of request structs): past it, connections of the
 * shard stop reading until some are answered. */
#define RKV_SHARD_REQS_MAX 16384u
/* Frames handled per connection per loop turn before the shard moves on (fairness). */
#define RKV_CONN_REQS_PER_TURN_MAX 64u
/* A connection that sends nothing for this long is closed. */
#define RKV_IDLE_TIMEOUT_S_DEFAULT 300u
#define RKV_IDLE_TIMEOUT_S_MAX 86400u
/* Bytes queued for sending on one connection beyond which the shard stops reading it. */
#define RKV_CONN_OUT_BYTES_HIGH (4u * RKV_VALUE_BYTES_MAX)
/* Output segments one sendmsg may carry (well under IOV_MAX = 1024). */
#define RKV_CONN_IOV_MAX 256u

/* Provided receive buffers, per shard: 512 x 16 KiB = 8 MiB of receive memory per shard. */
#define RKV_RECV_BUF_BYTES (16u * 1024u)
#define RKV_RECV_BUF_COUNT 512u
/* A connection's assembly buffer starts at this size and grows to fit one frame. */
#define RKV_CONN_IN_BYTES_INITIAL (32u * 1024u)
/* Responses whose value is at least this large travel as their own iovec, not a copy. */
#define RKV_RESP_INLINE_VALUE_BYTES_MAX (8u * 1024u)

/* io_uring sizing: CQ ring several times the SQ ring (practice 6). */
#define RKV_SQ_ENTRIES 1024u
#define RKV_CQ_ENTRIES (8u * RKV_SQ_ENTRIES)

/* Cross-shard messages: entries per (from, to) ring; a power of two for ck_ring. */
#define RKV_XMSG_RING_ENTRIES 4096u
/* Messages taken from one inbox per loop turn. */
#define RKV_XMSG_DRAIN_MAX 1024u

/* Storage: WiredTiger's LSM needs a cache of at least 194 MB (MEASURED.md). */
#define RKV_WT_CACHE_BYTES_MIN (200ull << 20)
#define RKV_WT_CACHE_BYTES_DEFAULT (512ull << 20)

/* Background sweep of each shard's table (storage/sweep.h): TTL expiry and tombstone purge.
 * A pass starts every --sweep-interval seconds. At least 1 s: a pass costs a walk of the
 * whole table, and a sub-second period would only re-read what the last pass just read. At
 * most a day: past that, expired values would sit on disk for days before being collected. */
#define RKV_SWEEP_INTERVAL_S_DEFAULT 10u
#define RKV_SWEEP_INTERVAL_S_MAX 86400u
/* A tombstone is purged --tombstone-grace seconds after the key died. The default of 72 h
 * outlives the time a replica may be down and still catch up by hints and anti-entropy
 * (DESIGN §1). 0 is allowed (a single node, or tests): a tombstone then goes at the first
 * pass after it is written. The ceiling is the longest TTL: it lets an operator keep
 * tombstones practically forever, and keeps died_ms + grace_ms far below 2^64 (died_ms is a
 * wall clock under 2^48 ms, grace under 2^39 ms). */
#define RKV_TOMBSTONE_GRACE_S_DEFAULT (72u * 3600u)
#define RKV_TOMBSTONE_GRACE_S_MAX RKV_TTL_S_MAX
/* Work of one sweep step (one loop turn): records read, and writes (tombstones written plus
 * tombstones removed). Measured on the development container (Release, 100,000 records of
 * 100 bytes, one in four expired): about 70 us per step on average and under 1 ms at worst,
 * so a step holds up the turn's requests about as long as a few dozen point reads. The
 * write cap is lower because a write also costs log space and the turn's flush. */
#define RKV_SWEEP_SCAN_PER_STEP_MAX 256u
#define RKV_SWEEP_WRITES_PER_STEP_MAX 64u

_Static_assert(RKV_FRAME_BYTES_MAX < UINT32_MAX, "frame length field is 32-bit");
_Static_assert(RKV_KEY_BYTES_MAX <= UINT16_MAX, "key length field is 16-bit");
_Static_assert(RKV_ERR_MSG_BYTES_MAX < RKV_RESP_INLINE_VALUE_BYTES_MAX, "error messages are inline");
_Static_assert((RKV_XMSG_RING_ENTRIES & (RKV_XMSG_RING_ENTRIES - 1)) == 0, "ck_ring needs a power of two");
_Static_assert(RKV_RECV_BUF_COUNT <= 32768u && (RKV_RECV_BUF_COUNT & (RKV_RECV_BUF_COUNT - 1)) == 0,
               "a provided-buffer ring holds a power of two up to 32768 entries");
_Static_assert(RKV_CQ_ENTRIES >= 4u * RKV_SQ_ENTRIES, "CQ ring several times the SQ ring");
_Static_assert(RKV_FRAME_SLACK_BYTES > 1u + 16u, "a value one byte over the limit still frames");
_Static_assert(RKV_SWEEP_INTERVAL_S_DEFAULT >= 1u && RKV_SWEEP_INTERVAL_S_DEFAULT <= RKV_SWEEP_INTERVAL_S_MAX,
               "the default sweep interval is within its bounds");
_Static_assert(RKV_TOMBSTONE_GRACE_S_DEFAULT <= RKV_TOMBSTONE_GRACE_S_MAX, "the default grace is within its bounds");
_Static_assert((uint64_t)RKV_TOMBSTONE_GRACE_S_MAX * 1000u < (1ull << 40), "grace_ms + a 48-bit died_ms cannot overflow");
_Static_assert(RKV_SWEEP_WRITES_PER_STEP_MAX >= 1u && RKV_SWEEP_WRITES_PER_STEP_MAX <= RKV_SWEEP_SCAN_PER_STEP_MAX,
               "a step writes at most one record per record it reads");

/* The cluster (ring/members.h, ring/ringmap.h, ring/prefs.h). At most 256 nodes: every node
 * keeps the whole membership table and ring map (256 x 1024 vnodes = 262,144 ring entries,
 * 12 bytes each, about 3 MiB per snapshot) and a shard may hold a peer connection to the
 * owning shard of every other node (nodes x shards). Ring entries store node and vnode
 * indexes in 16 bits. */
#define RKV_NODES_MAX 256u
/* Replication factor (--rf): the preference list of a key holds this many distinct nodes.
 * Three is Dynamo's choice: a quorum of 2 survives one down replica. At most 7: a
 * preference list is a fixed array on the coordinator's stack, and past 7 copies the cost
 * of every write outweighs any availability gained. */
#define RKV_RF_DEFAULT 3u
#define RKV_RF_MAX 7u

_Static_assert(RKV_RF_DEFAULT >= 1u && RKV_RF_DEFAULT <= RKV_RF_MAX, "the default RF is within its bounds");
_Static_assert(RKV_RF_MAX <= RKV_NODES_MAX, "a preference list fits in the cluster");
_Static_assert(RKV_NODES_MAX <= UINT16_MAX && RKV_VNODES_MAX <= UINT16_MAX, "ring entries hold 16-bit indexes");
_Static_assert((uint64_t)RKV_NODES_MAX * RKV_VNODES_MAX <= UINT32_MAX, "ring positions are 32-bit");
_Static_assert(RKV_VNODES_DEFAULT <= RKV_VNODES_MAX, "the default vnode count is within its bounds");

/* Replica writes (storage/kv.h kv_apply(), core/hlc.h hlc_observe_checked()): a timestamp
 * stamped elsewhere whose physical part is more than this far ahead of our wall clock is
 * refused (RKV_CLOCK_SKEW) rather than observed, so that one node with a clock far in the
 * future cannot drag every clock of the cluster along with it. Five seconds is far above what
 * NTP keeps a healthy cluster within (milliseconds) and far below a clock set wrong by hand
 * (minutes or more); DESIGN §1's "no lost writes" holds for clocks within this bound. */
#define RKV_CLOCK_SKEW_MS_DEFAULT 5000u
#define RKV_CLOCK_SKEW_MS_MAX 600000u

/* Cluster requests (issue 5). A coordinator waits at most --request-timeout for the replies
 * it needs (default 1 s, as the requirements' p99 targets are tens of ms and a replica that
 * has not answered in a second is treated as failed for this request). */
#define RKV_REQUEST_TIMEOUT_MS_DEFAULT 1000u
#define RKV_REQUEST_TIMEOUT_MS_MIN 10u
#define RKV_REQUEST_TIMEOUT_MS_MAX 60000u
/* Liveness (until gossip and the phi-accrual detector replace it): shard 0 pings every other
 * node this often, and a node that has not answered a ping (or whose connection is down) for
 * RKV_PEER_DOWN_AFTER_MS is down. */
#define RKV_PEER_PING_MS 1000u
#define RKV_PEER_DOWN_AFTER_MS 3000u

_Static_assert(RKV_CLOCK_SKEW_MS_DEFAULT >= 1u && RKV_CLOCK_SKEW_MS_DEFAULT < 60u * 1000u,
               "the default skew bound is positive and well under a minute");

/* Peer links (net/peer.h): one connection from a shard to the owning shard of a remote node.
 * Bytes queued per link: 8 MiB holds a few maximal replica writes plus thousands of small
 * ones, and with RKV_NODES_MAX nodes it still bounds a shard's queues far below its memory
 * when only the few replicas of its keys are busy. At least one maximal frame (a frame is
 * queued whole or not at all); at most 256 MiB, past which a slow peer would pin more memory
 * than the node's caches. */
#define RKV_PEER_LINK_QUEUE_BYTES_DEFAULT (8u << 20)
#define RKV_PEER_LINK_QUEUE_BYTES_MIN (4u + RKV_FRAME_BYTES_MAX)
#define RKV_PEER_LINK_QUEUE_BYTES_MAX (256u << 20)
/* Reconnect backoff, doubling from min to max with jitter. 50 ms rides out a restart without
 * hammering a refusing port; 5 s caps how long a node that is back waits to be used again. */
#define RKV_PEER_BACKOFF_MS_MIN_DEFAULT 50u
#define RKV_PEER_BACKOFF_MS_MAX_DEFAULT 5000u
#define RKV_PEER_BACKOFF_MS_LIMIT 60000u
/* A connect not done after this long fails: the default request deadline (1 s); a peer that
 * needs longer to accept cannot answer within any deadline anyway. */
#define RKV_PEER_CONNECT_TIMEOUT_MS_DEFAULT 1000u
#define RKV_PEER_CONNECT_TIMEOUT_MS_MAX 60000u
/* A link's receive buffer starts at this size, grows to fit one frame, and shrinks back once
 * empty; its send buffers are kept up to this size between bursts and freed past it. */
#define RKV_PEER_LINK_IN_BYTES_INITIAL (64u * 1024u)
#define RKV_PEER_LINK_OUT_KEEP_BYTES (256u * 1024u)

_Static_assert(RKV_PEER_LINK_QUEUE_BYTES_MIN <= RKV_PEER_LINK_QUEUE_BYTES_DEFAULT &&
               RKV_PEER_LINK_QUEUE_BYTES_DEFAULT <= RKV_PEER_LINK_QUEUE_BYTES_MAX,
               "the default peer queue bound is within its bounds");
_Static_assert(RKV_PEER_BACKOFF_MS_MIN_DEFAULT >= 1u && RKV_PEER_BACKOFF_MS_MIN_DEFAULT <= RKV_PEER_BACKOFF_MS_MAX_DEFAULT &&
               RKV_PEER_BACKOFF_MS_MAX_DEFAULT <= RKV_PEER_BACKOFF_MS_LIMIT,
               "the default backoff bounds are ordered and within the limit");
_Static_assert(RKV_PEER_CONNECT_TIMEOUT_MS_DEFAULT <= RKV_PEER_CONNECT_TIMEOUT_MS_MAX, "default within bounds");
_Static_assert(RKV_PEER_LINK_IN_BYTES_INITIAL >= 8u, "room for a length field");

/* Hinted handoff (storage/hints.h): a hint is dropped once it is this old. Three hours (also
 * Cassandra's default hint window) covers a restart, a reboot or a short network partition; a
 * replica down for longer is brought up to date by anti-entropy instead, and a node's hint
 * tables cannot grow for days on behalf of one that is gone. A hint must never outlive the
 * tombstone grace: replayed after the target purged a delete's tombstone, an old write would
 * bring the deleted key back (docs/storage.md §8), hence the ceiling of the default grace;
 * a configured grace below the hint age must be refused where both are configured. */
#define RKV_HINT_AGE_S_DEFAULT (3u * 3600u)
#define RKV_HINT_AGE_S_MAX RKV_TOMBSTONE_GRACE_S_DEFAULT
/* Distinct target nodes one shard holds hints for at a time: every other node of the
 * largest cluster. A shard keeps a count and an oldest time per target in a fixed table. */
#define RKV_HINT_TARGETS_MAX RKV_NODES_MAX

_Static_assert(RKV_HINT_AGE_S_DEFAULT >= 1u && RKV_HINT_AGE_S_DEFAULT <= RKV_HINT_AGE_S_MAX,
               "the default hint age is within its bounds");
_Static_assert(RKV_HINT_AGE_S_DEFAULT < RKV_TOMBSTONE_GRACE_S_DEFAULT,
               "with the defaults a hint is dropped before its key's tombstone may go");

#endif
