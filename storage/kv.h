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

#endif
