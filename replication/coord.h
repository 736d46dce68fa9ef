/* The coordinator's quorum state machine (DESIGN §3): pure logic for one client request, a
 * write (put or delete) or a read, at one consistency level. It does no I/O: the network
 * glue feeds it events (a replica acknowledged, failed, was fenced, answered a read; the
 * deadline passed) and carries out the decisions each call returns in a struct
 * coord_actions (send the record to these replicas, send it as a hint for those to their
 * hint holders, read-repair these, answer the client now). Time and the clock are passed
 * in, so every path is deterministic under test.
 *
 * Owner: the shard that received the client request (the coordinating shard). A struct
 * coord_req is embedded in that shard's request struct, allocates nothing, and is touched
 * only on that shard (asserted on every call). Replicas are named by their index in the
 * preference list (0 = primary, < prefs->count). docs/replication.md has the rules with
 * timelines.
 *
 * Invariants: every replica has at most one request in flight (a write, a read or a read
 * repair) and every event answers exactly the request in flight to that replica (asserted:
 * an event for a replica with nothing in flight is a bug of the glue); the client is
 * answered exactly once; after the answer, events are absorbed and tracked (background
 * completion) and the answer never changes; every loop runs over at most RKV_RF_MAX
 * replicas. */
#ifndef RKV_REPLICATION_COORD_H
#define RKV_REPLICATION_COORD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hlc.h"
#include "core/limits.h"
#include "ring/prefs.h"
#include "ring/ringmap.h"
#include "storage/record.h"

/* A write that is fenced (a replica already holds a newer timestamp) is re-stamped above the
 * reported timestamp and resent, at most this many times per request; one more fence then
 * answers UNAVAILABLE. With clocks within the skew bound a single re-stamp normally wins:
 * the new stamp comes from our clock after observing the fencing timestamp, so it is above
 * everything that replica held. A second or later fence means writers keep racing on this
 * key; four rounds bound the work (and the resent bytes: RF x 1 MiB per round) one request
 * may cause, and the client's retry is the better back-off. Kept here rather than in
 * core/limits.h because nothing outside the coordinator depends on it. */
#define RKV_COORD_RESTAMP_MAX 4u

/* Consistency levels, numbered as the binary protocol numbers them (net/proto_bin.h). */
enum coord_level {
    COORD_ONE = 0,
    COORD_QUORUM = 1,
    COORD_ALL = 2,
    COORD_LEVEL_COUNT
};

/* Per-replica state. Writes: PENDING (the record is in flight to the replica or, for a
 * down replica, to its hint holder) → ACKED (durable on the replica) / HINTED (durable as a
 * hint on its holder) / FENCED (refused: it holds something newer, and no re-stamp follows)
 * / FAILED (an error, or down with no hint holder). A replica that acknowledges a stamp
 * superseded after the request gave up is FENCED too: it holds a record that counts for
 * nothing. Reads: IDLE (down, never asked) /
 * PENDING (read in flight) → READ (answered: found or not) / FAILED. A read repair is a
 * flag on a READ replica, not a state. */
enum coord_replica_state {
    COORD_R_IDLE,
    COORD_R_PENDING,
    COORD_R_ACKED,
    COORD_R_HINTED,
    COORD_R_FENCED,
    COORD_R_FAILED,
    COORD_R_READ,
    COORD_R_STATE_COUNT
};

enum coord_kind { COORD_WRITE = 1, COORD_READ = 2 };

/* Write options. */
#define COORD_F_SLOPPY 0x01u    /* hints count toward W (--sloppy-quorum; off by default, DESIGN §1) */
/* Read options. */
#define COORD_F_NO_REPAIR 0x02u /* a version probe (coord_version_after_read()): answer at R, repair nothing */

/* The answer for the client. acked/needed/hinted feed X-Ringkv-Consistency and the binary
 * protocol's fields. */
struct coord_answer {
    enum rkv_err err;     /* writes: OK or UNAVAILABLE; reads: OK, NOT_FOUND or UNAVAILABLE */
    uint32_t acked;       /* writes: replicas that acknowledged the final stamp directly;
                           * reads: replicas that answered the read */
    uint32_t needed;      /* W or R for the level and the clipped RF */
    uint32_t hinted;      /* writes: hint holders that acknowledged (they count toward
                           * needed only with COORD_F_SLOPPY); reads: 0 */
    uint32_t restamps;    /* writes: times the record was re-stamped */
    /* Writes: the record's final header (its timestamp and version are the answer's).
     * Reads: the winner's header, meaningful when winner_idx != COORD_NONE. */
    struct record_hdr hdr;
    uint32_t winner_idx;  /* reads: the replica whose record is the answer (take the value
                           * from its reply), or COORD_NONE when no replica had the key */
};

#define COORD_NONE UINT32_MAX

/* What the glue must do after a call. Set on entry by every call (all empty). */
struct coord_actions {
    /* Writes: send the current record (coord_record()) to each replica in the mask.
     * Reads: ask each replica in the mask for the key's raw record. Bit i = replica i. */
    uint32_t send_mask;
    /* Writes: send the current record as a durable hint for each replica in the mask to
     * that replica's hint holder (coord_hint_holder()). */
    uint32_t hint_mask;
    /* Reads: write the record that replica repair_from_idx returned to each replica in the
     * mask (read repair); answer each with coord_on_ack() / coord_on_fail(). */
    uint32_t repair_mask;
    uint32_t repair_from_idx;
    /* Answer the client now with `answer` (also kept: coord_answer()). True once per request.
     * When it comes with repairs (a read at `one`), answer first, then send them. */
    bool answer_now;
    struct coord_answer answer;
};

/* One replica's slot. Read through coord_replica() in tests and logs; written only here. */
struct coord_replica {
    uint8_t state;              /* enum coord_replica_state */
    bool via_hint;              /* writes: the replica was down at start; its holder is `hint` */
    bool repair_in_flight;      /* reads */
    bool repair_failed;         /* reads: a repair failed; no more are sent to it */
    bool found;                 /* reads: the replica holds a record (after its read or repair) */
    uint64_t sent_ts;           /* writes: the stamp of the record last sent to it */
    struct prefs_replica hint;  /* writes, via_hint: the hint holder */
    struct record_hdr hdr;      /* reads: what it holds (as read, or as repaired), when found */
    struct record_hdr repair_hdr; /* reads: what the repair in flight (or last sent) carries */
};

/* Owner: the coordinating shard (see the file comment). Zero-initialise or not: *_start()
 * sets every field. */
struct coord_req {
    const void *owner;          /* shard_current() at start: the affinity check */
    uint8_t kind;               /* enum coord_kind */
    uint8_t level;              /* enum coord_level */
    uint8_t flags;              /* COORD_F_* */
    bool answered;
    bool collected;             /* reads: R answers reached and a winner chosen */
    bool gave_up;               /* writes: the re-stamp budget ran out; nothing more is sent */
    uint32_t rf;                /* the preference list's length (RF clipped to the node count) */
    uint32_t needed;
    uint32_t restamps;
    uint64_t deadline_ms;
    uint64_t now_ms;            /* reads: the time expiry is judged at (the request's start) */
    struct record_hdr rec;      /* writes: the current record; reads: the winner (if any) */
    uint32_t winner_idx;        /* reads: COORD_NONE until a replica reported a record */
    struct coord_answer answer; /* valid once answered */
    struct coord_replica replica[RKV_RF_MAX];
};

/* W or R: one = 1, quorum = floor(rf / 2) + 1, all = rf, for rf = 1..RKV_RF_MAX. An empty
 * preference list (rf 0) needs 1, which it can never reach. */
uint32_t coord_needed(enum coord_level level, uint32_t rf);

/* Starts a write of the record hdr (flags, origin, expiry_ms as the caller built them; its
 * timestamp from the coordinator's clock; its version from coord_version_after_read() or
 * the caller's highest known version + 1; the value bytes stay with the caller, who sends
 * them with every copy of the record) to the replicas of p (borrowed for this call only).
 * down_mask: bit i set when replica i is down in the caller's failure detector; each down
 * replica gets a hint holder from prefs_next_live(r, p, ...) (or holders' view and
 * fallback), in list order, and its copy goes there as a hint; a down replica left without a
 * holder is FAILED at once. The answer
 * goes out at W (OK), or UNAVAILABLE once nothing is in flight below W, or at the deadline.
 * Every reachable replica gets the record even when W is out of reach from the start, so
 * that the answer reports how many acknowledged (the write may then have landed on some).
 * An empty list answers UNAVAILABLE at once. flags: COORD_F_SLOPPY or 0. Coordinating
 * shard only. */
/* Where hints may go. NULL: holders from prefs_next_live() (the snapshot's liveness), none
 * past them. */
struct coord_holders {
    /* The failure detector's current view, for prefs_next_live_by(). */
    bool (*up)(void *ctx, uint32_t node_idx);
    void *ctx;
    /* When fewer live nodes than down replicas are left past the list (a cluster of RF
     * nodes has none), the rest of the hints go here: the coordinator's own node, as
     * Cassandra does. NULL: none (those replicas fail). */
    const struct prefs_replica *fallback;
};

void coord_write_start(struct coord_req *req, const struct ringmap *r, const struct prefs *p, enum coord_level level,
                       uint32_t flags, uint64_t deadline_ms, const struct record_hdr *hdr, uint32_t down_mask,
                       const struct coord_holders *holders, struct coord_actions *out);

/* Starts a read of the replicas of p (borrowed for this call only): every replica not in
 * down_mask is asked (send_mask); the answer goes out once R have answered (and, for quorum
 * and all, once the stale ones among them are repaired). now_ms is the time at which expiry
 * is judged. flags: COORD_F_NO_REPAIR or 0. With fewer than R replicas up, the up ones are
 * still asked and the answer (UNAVAILABLE) waits for them, to report how many answered.
 * Coordinating shard only. */
void coord_read_start(struct coord_req *req, const struct prefs *p, enum coord_level level, uint32_t flags,
                      uint64_t deadline_ms, uint64_t now_ms, uint32_t down_mask, struct coord_actions *out);

/* Writes: replica i (or its hint holder) durably stored the record last sent to it.
 * Reads: the read repair in flight to replica i was stored. Asserts that something of that
 * kind is in flight to i. */
void coord_on_ack(struct coord_req *req, uint32_t i, struct coord_actions *out);

/* The request in flight to replica i failed (error answer, lost connection, peer timeout,
 * refused clock skew); err says why and is only for the caller's logs and counters. A
 * failed replica is not retried by this request. */
void coord_on_fail(struct coord_req *req, uint32_t i, enum rkv_err err, struct coord_actions *out);

/* Writes: replica i (or its holder) refused the record last sent to it because it holds a
 * record at least as new, stamped stored_ts, version stored_version. Before the answer the
 * coordinator re-stamps: it observes stored_ts in clock, takes hlc_tick(clock, now_ms)
 * (strictly above stored_ts) and version max(version, stored_version + 1), and resends to
 * every replica that is not waiting on an answer and did not fail; replicas still in flight
 * get the new record when their answer comes. A fence for a stamp already superseded (the
 * current record is above stored_ts and stored_version) only resends the current record to
 * i and costs no re-stamp. The (RKV_COORD_RESTAMP_MAX + 1)-th needed re-stamp gives
 * up: UNAVAILABLE, nothing more sent. After the answer a fence is absorbed (the replica
 * holds a newer write, which rightly wins). A stored_ts below the stamp sent to i contradicts
 * the replica protocol: input, not a bug, so it counts as a failure of i. */
void coord_on_fenced(struct coord_req *req, uint32_t i, uint64_t stored_ts, uint64_t stored_version,
                     struct hlc *clock, uint64_t now_ms, struct coord_actions *out);

/* Reads: replica i answered its read: found false when it holds nothing for the key; hdr
 * (the raw record: tombstones and expired records included) when found, else NULL. The
 * newest record by (timestamp, origin) wins; replicas holding an older one (or nothing) get
 * read repair. */
void coord_on_read(struct coord_req *req, uint32_t i, bool found, const struct record_hdr *hdr,
                   struct coord_actions *out);

/* The deadline passed (now_ms >= deadline_ms, asserted). Unanswered writes answer
 * UNAVAILABLE with the acks so far; unanswered reads with fewer than R answers answer
 * UNAVAILABLE; reads waiting on repairs answer with the winner they read (repairs go on in
 * the background). Absorbed after the answer. */
void coord_on_deadline(struct coord_req *req, uint64_t now_ms, struct coord_actions *out);

/* The answer (valid when coord_answered()). */
bool coord_answered(const struct coord_req *req);
const struct coord_answer *coord_answer(const struct coord_req *req);
/* True once answered with nothing in flight: the glue may free the request. */
bool coord_done(const struct coord_req *req);
/* Writes: the record to send now (its timestamp and version change on re-stamps). */
const struct record_hdr *coord_record(const struct coord_req *req);
/* Writes: the hint holder of replica i (asserted: i was down at start and has one). */
struct prefs_replica coord_hint_holder(const struct coord_req *req, uint32_t i);
const struct coord_replica *coord_replica(const struct coord_req *req, uint32_t i);

/* The version for a write that follows the read req (typically a COORD_F_NO_REPAIR read at
 * the write's level): one more than the highest version any replica answered with,
 * tombstones included (versions never go back); 1 when none had the key. Asserts that req
 * is a read that collected its R answers. The stamp for that write should be taken after
 * coord_ts_floor_after_read() was observed, so that the write is rarely fenced. */
uint64_t coord_version_after_read(const struct coord_req *req);
/* The highest timestamp any replica answered the read req with (0 when none). */
uint64_t coord_ts_floor_after_read(const struct coord_req *req);

/* Last-write-wins order: true when a is newer than b by (timestamp, origin). */
bool coord_hdr_newer(const struct record_hdr *a, const struct record_hdr *b);

#endif
