/* The per-shard sweeper: the background work that keeps expired values and old tombstones
 * from piling up in a shard's table. A pass walks the whole table in stored-key order, one
 * bounded batch per loop turn; a live record whose expiry has come becomes a tombstone, and
 * a tombstone whose grace has run out is removed. One struct sweep per shard, owned by that
 * shard and touched only on its thread. Pure with respect to time: every call takes now_ms.
 *
 * What a pass changes, and what it never does:
 * - An expired record (live, expiry_ms != 0, now_ms >= expiry_ms) is rewritten as a
 *   tombstone with the same origin, timestamp and version and died_ms = its expiry_ms. A
 *   write of the key that is newer than the expired record carries a larger timestamp and
 *   still wins over that tombstone, and an older one loses to it as it lost to the record.
 * - A tombstone with now_ms >= died_ms + grace_ms is removed from the table.
 * - Before each rewrite or removal the record is read again and compared, header field by
 *   header field, with the one the scan saw; if it changed, it is left alone. Scan and
 *   writes happen within one sweep_step() call on the owning shard, so nothing else can
 *   write in between; the comparison keeps that promise should the calls ever be split.
 * - Live records without an expiry, live records not yet expired, and corrupt records are
 *   never written. Corrupt ones are counted and logged (once per step).
 * docs/storage.md §8 explains the grace and why a tombstone must outlive replica catch-up. */
#ifndef RKV_STORAGE_SWEEP_H
#define RKV_STORAGE_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/limits.h"
#include "storage/engine.h"
#include "storage/record.h"
#include "storage/rowcache.h"

/* Running totals since sweep_init(); a metrics exporter reads them on the owning shard. */
struct sweep_stats {
    uint64_t scanned_count; /* records examined (well-formed and corrupt) */
    uint64_t expired_count; /* expired records turned into tombstones */
    uint64_t purged_count;  /* tombstones removed after their grace */
    uint64_t corrupt_count; /* corrupt records met and skipped (once per pass that meets them) */
    uint64_t passes_count;  /* passes that reached the end of the table */
    uint64_t changed_count; /* candidates left alone: the record changed between scan and write */
    uint64_t errors_count;  /* steps cut short by a storage error (the pass resumes later) */
};

enum sweep_action_kind { SWEEP_ACTION_EXPIRE, SWEEP_ACTION_PURGE };

/* A write a step decided on while scanning, carried out once the scan's cursor is released.
 * Private to sweep.c; in the header only so that struct sweep can be embedded. */
struct sweep_action {
    enum sweep_action_kind kind;
    uint64_t token;
    struct record_hdr hdr; /* the header as the scan read it */
    uint32_t key_bytes;
    uint8_t key[RKV_KEY_BYTES_MAX];
};

/* Owner: one shard, which embeds it (about 20 KiB: the actions of one step). The fields are
 * private to sweep.c, except stats, which the owner may read. */
struct sweep {
    uint64_t interval_ms;     /* a pass starts this long after the previous one started */
    uint64_t grace_ms;        /* a tombstone is purged this long after its key died */
    uint64_t due_ms;          /* sweep_step() does nothing before this wall-clock ms */
    uint64_t next_pass_ms;    /* when the pass after the running one may start */
    bool pass_active;         /* a pass has started and not reached the end of the table */
    struct engine_scan_pos pos; /* where the running pass stands */
    uint64_t step_now_ms;     /* now_ms of the step in progress, for the scan callback */
    uint32_t action_count;
    struct sweep_action actions[RKV_SWEEP_WRITES_PER_STEP_MAX];
    struct sweep_stats stats;
};

/* Prepares sw with a pass period of interval_ms (1 .. RKV_SWEEP_INTERVAL_S_MAX s, in ms)
 * and a tombstone grace of grace_ms (0 .. RKV_TOMBSTONE_GRACE_S_MAX s, in ms); both are
 * asserted (the caller converts validated configuration: cfg->sweep_interval_s * 1000 and
 * cfg->tombstone_grace_s * 1000). The first pass starts at the first sweep_step(). */
void sweep_init(struct sweep *sw, uint64_t interval_ms, uint64_t grace_ms);

/* Does at most one bounded batch of the sweep on shard s's table, with now_ms the current
 * wall clock in ms (the same clock as kv_put()'s now_ms and record expiry):
 * - if no pass is running and one is due (interval_ms after the previous one started, or at
 *   once for the first), starts one at the table's first record;
 * - examines at most RKV_SWEEP_SCAN_PER_STEP_MAX records and makes at most
 *   RKV_SWEEP_WRITES_PER_STEP_MAX writes (tombstones written plus tombstones removed),
 *   stopping the batch early when the writes are used up;
 * - ends the pass when the batch reaches the end of the table.
 * Every write is mirrored into the shard's row cache rc (NULL: none) in the same call: an
 * expired record's cached entry becomes the tombstone (an uncached key is not inserted), a
 * purged key's entry becomes a known-absent marker, and the entry of a key whose write
 * failed is removed.
 * Returns true when it wrote to the table this call. Its writes are in WiredTiger's log
 * buffer, not yet durable: the caller's group commit of the turn covers them. Nothing is
 * acknowledged on the strength of a sweep write, so a crash before the flush only means the
 * next pass does the same work again; a flush is not required for correctness.
 * A storage error (logged) ends the step early and pauses the pass for interval_ms; it then
 * resumes where it stopped (a candidate whose write failed waits for the next pass).
 * Calling contract: on s's own shard thread only, between requests (it ends the view of any
 * earlier engine_read() on s and leaves the cursor released); at most once per loop turn,
 * and at least once per turn while sweep_due_ms() <= now_ms. Wall-clock jumps are tolerated:
 * a clock that goes back delays the next pass by at most interval_ms. */
bool sweep_step(struct sweep *sw, struct engine_shard *s, struct rowcache *rc, uint64_t now_ms);

/* The wall-clock ms from which sweep_step() has work: 0 or a past time while a pass is
 * running (the loop should not sleep past this turn), else the start of the next pass. A
 * loop sleeping on timers wakes at this time at the latest. */
uint64_t sweep_due_ms(const struct sweep *sw);

#endif
