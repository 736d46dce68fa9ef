/* Durable hints for hinted handoff. When a replica of a write is down, the next live node
 * clockwise stores the write here, as a hint for that replica (the target), and replays it
 * once the target is back; hints older than a maximum age are dropped. One struct hints per
 * shard, owned by that shard and used only on its thread: it keeps the shard's hints in a
 * btree of its own, "table:hints_<shard idx>" (engine_table_open()), beside the data table.
 *
 * Stored key: target_bytes (1 byte, 1..RKV_NODE_ID_BYTES_MAX) ‖ target node id ‖ seq (8
 * bytes, big-endian). seq grows by one with every hint the shard stores, whatever its target,
 * and is recovered at open from the largest one stored; so one target's hints are one
 * contiguous key range, in the order they arrived, across restarts.
 *
 * Stored value (integers big-endian):
 *   OFFSET SIZE FIELD      NOTES
 *        0    1 format     HINT_FORMAT_V1
 *        1    1 reserved   zero
 *        2    2 key_bytes  k: 1..RKV_KEY_BYTES_MAX
 *        4    8 stored_ms  wall-clock ms at which this node stored the hint (its age counts from it)
 *       12    8 token      the key's ring token
 *       20    k key        the user key
 *     20+k   32 record     the record header exactly as storage/record.h encodes it: format,
 *                          flags, origin, timestamp, version, expiry_ms
 *     52+k    v value      the value bytes (none for a tombstone); v = stored length - 52 - k
 * Invariants, checked when a hint is read (RKV_CORRUPT): a key of exactly 1 + target_bytes + 8
 * bytes and a valid node id; format 1; reserved zero; 1 <= k <= RKV_KEY_BYTES_MAX; the record
 * header and value pass record_decode(). docs/storage.md §11 has the same layout.
 *
 * Counts: a count and the oldest stored time of each target are kept in memory, rebuilt at
 * open by one scan of the table, and kept exact by every put and remove. Nothing here is
 * durable until the shard's next engine_log_flush(), exactly like the data table's writes. */
#ifndef RKV_STORAGE_HINTS_H
#define RKV_STORAGE_HINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"
#include "storage/engine.h"
#include "storage/record.h"

#define HINT_FORMAT_V1 1u
#define HINT_SEQ_BYTES 8u
#define HINT_KEY_BYTES_MAX (1u + RKV_NODE_ID_BYTES_MAX + HINT_SEQ_BYTES)
#define HINT_FIXED_BYTES 20u /* format .. token: the bytes before the user key */
#define HINT_VALUE_BYTES_MAX (HINT_FIXED_BYTES + RKV_KEY_BYTES_MAX + REC_HDR_BYTES + RKV_VALUE_BYTES_MAX)

_Static_assert(HINT_KEY_BYTES_MAX <= ENGINE_TABLE_KEY_BYTES_MAX, "a hint key fits an extra table's key");
_Static_assert(RKV_NODE_ID_BYTES_MAX <= UINT8_MAX, "target_bytes is one byte");
_Static_assert(RKV_KEY_BYTES_MAX <= UINT16_MAX, "key_bytes is two bytes");

struct hints;

/* One stored hint. Every pointer points into WiredTiger's memory: valid until the next call
 * on the same struct hints or on its engine_shard (any table), so copy what you keep. */
struct hint_view {
    uint64_t seq;          /* its place in its target's queue */
    uint64_t stored_ms;    /* when it was stored: the now_ms given to hints_put() */
    uint64_t token;
    const uint8_t *key;    /* 1..RKV_KEY_BYTES_MAX bytes */
    size_t key_bytes;
    struct record_view rec; /* the write to replay: header, and value bytes */
};

/* Running totals since hints_open(), except stored_count, the hints held now. */
struct hints_stats {
    uint64_t stored_count;   /* hints in the table, all targets; rebuilt at open */
    uint64_t put_count;      /* hints stored by hints_put() */
    uint64_t removed_count;  /* hints removed by hints_remove() (replayed) */
    uint64_t expired_count;  /* hints dropped by hints_expire() for their age */
    uint64_t corrupt_count;  /* corrupt hints dropped by hints_expire() */
};

/* One target with hints, as hints_target_next() lists it. */
struct hints_target_info {
    char target[RKV_NODE_ID_BYTES_MAX + 1]; /* NUL-terminated copy */
    size_t target_bytes;
    uint64_t count;     /* hints held for it, >= 1 */
    uint64_t oldest_ms; /* stored_ms of its first hint in sequence order; 0 when that hint is corrupt */
};

/* Opens shard s's hint table (creating it when missing), scans it once to rebuild every
 * target's count and oldest time and the next sequence number, and allocates the one buffer
 * a put needs (about 1 MiB), so that puts do not allocate. The scan reads the whole table.
 * Stored keys that are not hint keys are counted, logged once and left alone.
 * Errors: RKV_CORRUPT (logged) when the table holds hints for more than RKV_HINT_TARGETS_MAX
 * targets or a sequence number of UINT64_MAX, neither of which hints_put() can write;
 * RKV_IO, RKV_BUSY, RKV_NO_SPACE; RKV_INTERNAL (out of memory). Shard thread only; ends the
 * view of the previous read on s. */
enum rkv_err hints_open(struct engine_shard *s, struct hints **hints_out);
/* Closes the table and frees h: before engine_shard_close() of its shard. */
void hints_close(struct hints *h);

/* Stores the write (token, key, hdr, value) as a hint for target, stamped with now_ms, with
 * the next sequence number (in *seq_out, 0 on failure). Bad input is answered, nothing
 * written: RKV_INVALID_ARG for a target that is not a node id (1..RKV_NODE_ID_BYTES_MAX bytes
 * of [A-Za-z0-9._-]) or a header record_hdr_encode() would refuse (version 0, unknown flags,
 * a tombstone with value bytes); RKV_KEY_EMPTY, RKV_KEY_TOO_LONG (over RKV_KEY_BYTES_MAX);
 * RKV_VALUE_TOO_LONG (over RKV_VALUE_BYTES_MAX). RKV_BUSY when the shard already holds hints
 * for RKV_HINT_TARGETS_MAX other targets (until some are replayed or expire), or when
 * WiredTiger asks for a retry; RKV_IO, RKV_NO_SPACE. Key and value are copied. The hint is
 * in WiredTiger's log buffer, not yet durable: the write may be acknowledged as hinted only
 * after the next engine_log_flush() returns RKV_OK. Ends the view of the previous read. */
enum rkv_err hints_put(struct hints *h, const char *target, size_t target_bytes, uint64_t token, const uint8_t *key,
                       size_t key_bytes, const struct record_hdr *hdr, const uint8_t *value, uint32_t value_bytes,
                       uint64_t now_ms, uint64_t *seq_out);

/* Reads target's oldest hint with a sequence number above after_seq (0: its first hint), for
 * replay. RKV_NOT_FOUND when it has none; RKV_INVALID_ARG for a target that is not a node
 * id. RKV_CORRUPT (logged) when that hint cannot be decoded: view_out->seq still names it, so
 * the caller can remove it or step over it (view_out->seq is 0 in the one case where no hint
 * can be named: more than 32 stored keys that are not hint keys in a row inside the
 * target's range, which only damage makes). RKV_BUSY, RKV_IO. The view lives until the next
 * call on h or on its engine_shard. Ends the view of the previous read. */
enum rkv_err hints_next(struct hints *h, const char *target, size_t target_bytes, uint64_t after_seq,
                        struct hint_view *view_out);

/* Removes target's hint seq, once its replay was acknowledged. RKV_NOT_FOUND when no such
 * hint is stored (already removed or expired: nothing changes); RKV_INVALID_ARG for a target
 * that is not a node id; RKV_BUSY, RKV_IO. When it was the target's first hint, the next one
 * is read to learn the target's new oldest time. Not durable until the next
 * engine_log_flush() (a hint that comes back after a crash is replayed again, which a replica
 * answers as a duplicate). Ends the view of the previous read. */
enum rkv_err hints_remove(struct hints *h, const char *target, size_t target_bytes, uint64_t seq);

/* One bounded step of expiry: drops hints whose age has reached max_age_ms, that is every
 * hint with now_ms >= stored_ms + max_age_ms (the sum saturates): a hint exactly max_age_ms
 * old is dropped, one a millisecond younger is kept. Corrupt hints are dropped too (they can
 * never be replayed) and counted apart. Each target is examined from its first hint in
 * sequence order and stops at the first one still young, so a target whose hints arrived
 * while the wall clock went back may keep an old hint behind a younger first one until that
 * one goes, at most as long as the clock went back. Targets are visited round robin from
 * where the previous step stopped; only targets whose first hint is old enough are read.
 * Reads at most max_steps (>= 1) hints plus one per call (the new first hint of the target
 * it stopped in), and removes at most max_steps. *dropped_out: the hints removed (old and
 * corrupt), counted in stats too. Errors: RKV_BUSY, RKV_IO, ending the step with what it
 * dropped so far in *dropped_out. Not durable until the next engine_log_flush(). */
enum rkv_err hints_expire(struct hints *h, uint64_t now_ms, uint64_t max_age_ms, uint32_t max_steps,
                          uint32_t *dropped_out);

/* target's hint count and oldest stored time (stored_ms of its first hint in sequence order,
 * 0 when that hint is corrupt), from memory: no storage read. Both 0 when it has none.
 * RKV_INVALID_ARG for a target that is not a node id. */
enum rkv_err hints_target_stats(const struct hints *h, const char *target, size_t target_bytes, uint64_t *count_out,
                                uint64_t *oldest_ms_out);

/* Lists the targets that have hints, from memory, one per call: start with *idx_inout = 0,
 * and each call fills info_out with the next target at or after *idx_inout and moves
 * *idx_inout past it; false (info_out zeroed) when there is none left. Each call looks at no
 * more than RKV_HINT_TARGETS_MAX slots. A put or remove between calls may make the listing
 * miss a target or show a new one. */
bool hints_target_next(const struct hints *h, uint32_t *idx_inout, struct hints_target_info *info_out);

/* The running totals. */
struct hints_stats hints_stats(const struct hints *h);

/* ---- The operator's view of one key's hints ---- */

/* Where a hints_for_key() scan stands: the stored key of the last hint examined. A zeroed
 * struct stands before the first hint. Owned by the caller. */
struct hints_scan_pos {
    uint8_t key[HINT_KEY_BYTES_MAX];
    uint32_t key_bytes;
};

struct hints_scan_result {
    uint32_t examined_count; /* stored hints read, at most max_records */
    uint32_t matched_count;  /* hints of the key handed to the callback */
    uint32_t corrupt_count;  /* hints skipped because they could not be decoded */
    bool end;                /* no hint left after *pos: the scan is complete */
};

/* A hint of the key: its target, sequence number and the write it carries (header only).
 * target points into WiredTiger's memory and is valid during the call only; it is not
 * NUL-terminated. The callback must not call hints or the engine on the shard: the scan's
 * cursor stands on the hint (asserted, by hints for its own calls and by the engine for
 * the others; hints_target_stats(), hints_target_next() and hints_stats() are allowed). */
typedef void hints_for_key_fn(void *arg, const char *target, size_t target_bytes, uint64_t seq,
                              const struct record_hdr *hdr);

/* Lists the hints held for (token, key), for an operator's debug view: hints are keyed by
 * target, not by key, so this walks the table in stored-key order from *pos, examining at
 * most max_records (>= 1) stored hints, calls found for each one of the key, and moves *pos
 * past every hint examined; call again with the same pos until result_out->end. Cost: a
 * whole table of N hints takes ceil(N / max_records) calls; not for the data path. Corrupt
 * hints are counted and skipped; a stored key longer than any hint key (damage) ends the scan.
 * Key checks as hints_put() (RKV_KEY_EMPTY, RKV_KEY_TOO_LONG, nothing read); RKV_BUSY,
 * RKV_IO with *pos after the hints examined. Holds no cursor position when it returns. */
enum rkv_err hints_for_key(struct hints *h, uint64_t token, const uint8_t *key, size_t key_bytes,
                           struct hints_scan_pos *pos, uint32_t max_records, void *arg, hints_for_key_fn *found,
                           struct hints_scan_result *result_out);

#endif
