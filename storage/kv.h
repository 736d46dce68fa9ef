/* Local replica operations with ringkv's semantics on top of the engine: versions, the
 * conditional put, TTL expiry and tombstones. Owned by one shard: every call takes that
 * shard's engine_shard, its row cache and its HLC. Writes are not durable until
 * engine_log_flush().
 *
 * The row cache (storage/rowcache.h) may be NULL (switched off). When given, every read here
 * (kv_get() and the read each write does first) asks it before storage, and every write
 * updates it in the same call (write-through), so it always holds what storage holds: a hit
 * gives the same record, version and timestamp that storage would. */
#ifndef RKV_STORAGE_KV_H
#define RKV_STORAGE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hlc.h"
#include "storage/engine.h"
#include "storage/rowcache.h"

struct kv_put_args {
    uint64_t token;
    const uint8_t *key;
    size_t key_bytes;
    const uint8_t *value;
    uint32_t value_bytes;
    uint32_t ttl_s;        /* 0: never expires */
    bool conditional;      /* apply only when the current version is if_version */
    uint64_t if_version;   /* 0: only when the key is absent (missing, deleted or expired) */
    uint32_t origin;       /* this node's origin hash */
};

struct kv_result {
    uint64_t version;      /* the version written; for VERSION_MISMATCH the current one */
    uint64_t timestamp;    /* the HLC timestamp written */
};

/* Stamps and writes a value. The new version is one more than the stored record's version
 * (tombstones and expired records included, so versions never go back); the timestamp is
 * the clock's next tick after observing the stored record's timestamp, so a later write of
 * a key always carries a larger timestamp. RKV_VERSION_MISMATCH when conditional and the
 * current version (0 when absent, deleted or expired) is not if_version; then nothing is
 * written and out->version is the current version. */
enum rkv_err kv_put(struct engine_shard *s, struct rowcache *rc, struct hlc *clock, uint64_t now_ms,
                    const struct kv_put_args *args, struct kv_result *result_out);

/* Reads a live value: RKV_NOT_FOUND for a missing key, a tombstone or an expired record
 * (also when they come from the cache: a cached tombstone or known-absent key never reaches
 * WiredTiger, and TTL is checked on every hit). A miss that reads storage fills the cache.
 * The view points into WiredTiger's memory or into the cache, and is valid until the next
 * call on s or on rc: copy what you keep. */
enum rkv_err kv_get(struct engine_shard *s, struct rowcache *rc, uint64_t now_ms, uint64_t token, const uint8_t *key,
                    size_t key_bytes, struct record_view *view_out);

/* Writes a tombstone (always, even over a missing key, so that replicas learn of the
 * delete) whose died_ms (the expiry_ms field) is now_ms: the sweep purges it once its grace
 * has passed from then. result_out gets the tombstone's version and timestamp. */
enum rkv_err kv_delete(struct engine_shard *s, struct rowcache *rc, struct hlc *clock, uint64_t now_ms, uint64_t token,
                       const uint8_t *key, size_t key_bytes, uint32_t origin,
                       struct kv_result *result_out);

/* ---- Replica side of replication (docs/storage.md §10) ----
 * A coordinator stamps a write (kv_stamp() for its own clock) and sends the stamped record
 * to every replica; each replica's owning shard applies it with kv_apply(), which keeps the
 * record that wins last-write-wins (record_newer(): timestamp, then origin) and refuses, with
 * the stored timestamp, a write that does not win (fencing). Coordinators read raw records,
 * tombstones and timestamps included, with kv_read_record(). Conditional puts do not come
 * this way: the key's primary runs them with kv_put(). */

/* A record stamped elsewhere, as a replica receives it. The caller keeps key and value alive
 * during the call only; nothing is kept. */
struct kv_apply_args {
    uint64_t token;
    const uint8_t *key;
    size_t key_bytes;       /* 1..RKV_KEY_BYTES_MAX, else RKV_KEY_EMPTY / RKV_KEY_TOO_LONG */
    struct record_hdr hdr;  /* as the coordinator stamped it: flags, origin, timestamp,
                             * version (>= 1, < UINT64_MAX), expiry_ms (a tombstone: died_ms) */
    const uint8_t *value;   /* may be NULL when value_bytes is 0 */
    uint32_t value_bytes;   /* 0 for a tombstone; <= RKV_VALUE_BYTES_MAX */
    uint64_t max_skew_ms;   /* refuse timestamps further ahead; RKV_CLOCK_SKEW_MS_DEFAULT */
};

struct kv_apply_result {
    /* RKV_OK: the record now stored (the incoming one); RKV_FENCED: the stored record that
     * refused it. Zero for every other result. */
    uint64_t version;
    uint64_t timestamp;
    uint32_t origin;
    bool duplicate;         /* RKV_OK without a write: this very write was stored already */
};

/* Applies a replica write on the key's owning shard:
 * 1. Checks the record (RKV_KEY_EMPTY, RKV_KEY_TOO_LONG, RKV_VALUE_TOO_LONG, or
 *    RKV_INVALID_ARG for version 0 or UINT64_MAX, unknown flags, a tombstone with value
 *    bytes): it is input from the network, never asserted.
 * 2. Observes its timestamp with hlc_observe_checked(): RKV_CLOCK_SKEW, clock unchanged and
 *    nothing read or written, when its physical part is more than max_skew_ms ahead of now_ms.
 * 3. Reads the stored record (through the cache; a miss fills it). When it is the same write
 *    (equal timestamp, origin and version, and equal flags, expiry and value bytes; or one
 *    of the two is the sweep's tombstone of the other: it keeps the timestamp, origin and
 *    version, and died at the record's expiry) → RKV_OK with duplicate set, nothing
 *    written. The same (timestamp, origin, version) with other contents is not a duplicate.
 *    When it is newer than or as new as the incoming record by (timestamp, origin) →
 *    RKV_FENCED with its timestamp, version and origin in *result_out, nothing written: the
 *    replica does not acknowledge, and the coordinator re-stamps above that timestamp.
 * 4. Otherwise writes the incoming record exactly as stamped, version included (the
 *    coordinator's choice: one more than the highest it saw), even when the stored record
 *    it replaces carries a higher version, so that every replica holds the same bytes for
 *    the same write; the cache is updated in the same call. Live, expired and tombstone
 *    records are ordered alike: an incoming tombstone newer than the stored record wins,
 *    an older write loses to a stored tombstone. Nothing stored (never written, or purged)
 *    loses to any write.
 * A corrupt stored record answers RKV_CORRUPT and is left alone, as kv_put() does. Not
 * durable until engine_log_flush(); the caller acknowledges RKV_OK (duplicates too) only
 * after the flush. */
enum rkv_err kv_apply(struct engine_shard *s, struct rowcache *rc, struct hlc *clock, uint64_t now_ms,
                      const struct kv_apply_args *args, struct kv_apply_result *result_out);

/* Reads the raw stored record of a key for a coordinator or a read repair: live, expired or
 * tombstone, with its timestamp, origin and version (kv_get() hides the last two kinds).
 * RKV_NOT_FOUND when nothing is stored; RKV_CORRUPT, RKV_IO, RKV_BUSY as engine_read(). Asks
 * the cache first and fills it on a miss. The view points into WiredTiger's memory or into
 * the cache and is valid until the next call on s or rc: copy what you keep. */
enum rkv_err kv_read_record(struct engine_shard *s, struct rowcache *rc, uint64_t token, const uint8_t *key,
                            size_t key_bytes, struct record_view *view_out);

/* The coordinator's stamp for a replica write: a timestamp above every one the clock issued
 * or observed and above floor_ts (0: none; after RKV_FENCED, the timestamp the fencing
 * replica reported, so that the re-stamped write wins over it). floor_ts comes from another
 * node, so it is skew-checked like kv_apply()'s: RKV_CLOCK_SKEW, clock unchanged and
 * *ts_out 0, when its physical part is more than max_skew_ms ahead of now_ms. */
enum rkv_err kv_stamp(struct hlc *clock, uint64_t now_ms, uint64_t floor_ts, uint64_t max_skew_ms,
                      uint64_t *ts_out);

#endif
