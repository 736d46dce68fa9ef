/* ringkv's local replica semantics over the engine: every write reads the stored record
 * first, so that versions grow by one over whatever is stored (tombstones and expired
 * records included) and the new timestamp is above the stored one. Stateless: every call
 * works on the caller's engine_shard, row cache and HLC, all owned by the calling shard.
 * With a row cache, reads ask it first and every engine write or its failure is mirrored
 * into it before the call returns (the coherence rule of storage/rowcache.h). */
#include "storage/kv.h"

#include <inttypes.h>
#include <string.h>

#include "core/assert.h"
#include "core/limits.h"
#include "core/log.h"

/* What a write needs to know of the record stored before it. */
struct kv_prior {
    bool stored;        /* a record (live, expired or tombstone) is stored */
    uint64_t version;   /* its version; 0 when none is stored */
    uint64_t timestamp; /* its HLC timestamp; 0 when none is stored */
    uint64_t live_version; /* version if it is visible at now_ms, else 0 (conditional puts) */
};

/* Reads the stored record of (token, key), through the cache when there is one: a cached
 * record or absent marker is what storage holds (coherence rule), so storage is read only
 * on a miss. RKV_OK with *view_out, RKV_NOT_FOUND, or a storage error. The view lives until
 * the next call on s or rc. *from_storage_out says whether storage was read. */
static enum rkv_err kv_read_stored(struct engine_shard *s, struct rowcache *rc, uint64_t token, const uint8_t *key,
                                   size_t key_bytes, struct record_view *view_out, bool *from_storage_out)
{
    *from_storage_out = false;
    if (rc != NULL) {
        enum rowcache_hit hit = rowcache_lookup(rc, token, key, key_bytes, view_out);
        if (hit == ROWCACHE_RECORD)
            return RKV_OK;
        if (hit == ROWCACHE_ABSENT)
            return RKV_NOT_FOUND;
    }
    *from_storage_out = true;
    return engine_read(s, token, key, key_bytes, view_out);
}

/* Mirrors a write into the cache: the record now stored, or, when the engine call failed,
 * forgets the key (the table may hold the old record or the new one: the cache must not
 * claim either). */
static void kv_cache_written(struct rowcache *rc, enum rkv_err err, uint64_t token, const uint8_t *key,
                             size_t key_bytes, const struct record_hdr *hdr, const uint8_t *value,
                             uint32_t value_bytes)
{
    if (rc == NULL)
        return;
    if (err != RKV_OK) {
        rowcache_remove(rc, token, key, key_bytes);
        return;
    }
    struct record_view v = { .hdr = *hdr, .value = value, .value_bytes = value_bytes };
    rowcache_store(rc, ROWCACHE_WRITE, token, key, key_bytes, &v);
}

/* Reads the stored record of the key and keeps only its header fields: the view dies at
 * the engine_write() that follows. */
static enum rkv_err kv_prior_read(struct engine_shard *s, struct rowcache *rc, uint64_t now_ms, uint64_t token,
                                  const uint8_t *key, size_t key_bytes, struct kv_prior *prior_out)
{
    memset(prior_out, 0, sizeof *prior_out);
    struct record_view v;
    bool from_storage;
    enum rkv_err err = kv_read_stored(s, rc, token, key, key_bytes, &v, &from_storage);
    if (err == RKV_NOT_FOUND)
        return RKV_OK;
    if (err != RKV_OK)
        return err;
    /* The next version and the next timestamp must exist: neither field can reach
     * UINT64_MAX by counting writes, so a stored one is corrupt, not a reason to abort in
     * hlc_tick() or to wrap the version to 0. */
    if (v.hdr.version == UINT64_MAX || v.hdr.timestamp == UINT64_MAX) {
        rkv_log(RKV_LOG_ERROR, "storage: record at token %016" PRIx64 " has a version or timestamp "
                "with no successor: corrupt", token);
        return RKV_CORRUPT;
    }
    prior_out->stored = true;
    prior_out->version = v.hdr.version;
    prior_out->timestamp = v.hdr.timestamp;
    prior_out->live_version = record_visible(&v.hdr, now_ms) ? v.hdr.version : 0;
    return RKV_OK;
}

/* The write's timestamp: above the stored record's (which another node, or this node before
 * a restart, may have stamped with a clock ahead of ours) and above every earlier tick. */
static uint64_t kv_stamp(struct hlc *clock, uint64_t now_ms, const struct kv_prior *prior)
{
    if (prior->stored)
        hlc_observe(clock, prior->timestamp);
    uint64_t ts = hlc_tick(clock, now_ms);
    RKV_ASSERT(!prior->stored || ts > prior->timestamp);
    return ts;
}

enum rkv_err kv_put(struct engine_shard *s, struct rowcache *rc, struct hlc *clock, uint64_t now_ms,
                    const struct kv_put_args *args, struct kv_result *result_out)
{
    RKV_ASSERT(result_out != NULL);
    memset(result_out, 0, sizeof *result_out);
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(clock != NULL);
    RKV_ASSERT(args != NULL);
    RKV_ASSERT(args->value_bytes <= RKV_VALUE_BYTES_MAX);
    RKV_ASSERT(args->ttl_s <= RKV_TTL_S_MAX);

    struct kv_prior prior;
    enum rkv_err err = kv_prior_read(s, rc, now_ms, args->token, args->key, args->key_bytes, &prior);
    if (err != RKV_OK)
        return err;
    if (args->conditional && prior.live_version != args->if_version) {
        result_out->version = prior.live_version;
        return RKV_VERSION_MISMATCH;
    }

    struct record_hdr hdr = {
        .flags = 0,
        .origin = args->origin,
        .timestamp = kv_stamp(clock, now_ms, &prior),
        .version = prior.version + 1,
        /* now_ms < 2^48 (hlc_tick asserts it) and ttl_s <= 10 years: no overflow. */
        .expiry_ms = args->ttl_s == 0 ? 0 : now_ms + (uint64_t)args->ttl_s * 1000u,
    };
    err = engine_write(s, args->token, args->key, args->key_bytes, &hdr, args->value, args->value_bytes);
    kv_cache_written(rc, err, args->token, args->key, args->key_bytes, &hdr, args->value, args->value_bytes);
    if (err != RKV_OK)
        return err;
    result_out->version = hdr.version;
    result_out->timestamp = hdr.timestamp;
    return RKV_OK;
}

enum rkv_err kv_get(struct engine_shard *s, struct rowcache *rc, uint64_t now_ms, uint64_t token,
                    const uint8_t *key, size_t key_bytes, struct record_view *view_out)
{
    RKV_ASSERT(view_out != NULL);
    RKV_ASSERT(s != NULL);
    bool from_storage;
    enum rkv_err err = kv_read_stored(s, rc, token, key, key_bytes, view_out, &from_storage);
    if (rc != NULL && from_storage) {
        /* Fill from what storage answered: a record (live, expired or tombstone: all of
         * them answer later reads and writes), or the knowledge that nothing is stored. A
         * corrupt record or an error is not cached. The view stays WiredTiger's. */
        if (err == RKV_OK)
            rowcache_store(rc, ROWCACHE_FILL, token, key, key_bytes, view_out);
        else if (err == RKV_NOT_FOUND)
            rowcache_store(rc, ROWCACHE_FILL, token, key, key_bytes, NULL);
    }
    if (err != RKV_OK)
        return err;
    if (!record_visible(&view_out->hdr, now_ms)) {
        memset(view_out, 0, sizeof *view_out);
        return RKV_NOT_FOUND;
    }
    return RKV_OK;
}

enum rkv_err kv_delete(struct engine_shard *s, struct rowcache *rc, struct hlc *clock, uint64_t now_ms, uint64_t token,
                       const uint8_t *key, size_t key_bytes, uint32_t origin,
                       struct kv_result *result_out)
{
    RKV_ASSERT(result_out != NULL);
    memset(result_out, 0, sizeof *result_out);
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(clock != NULL);

    struct kv_prior prior;
    enum rkv_err err = kv_prior_read(s, rc, now_ms, token, key, key_bytes, &prior);
    if (err != RKV_OK)
        return err;
    struct record_hdr hdr = {
        .flags = REC_F_TOMBSTONE,
        .origin = origin,
        .timestamp = kv_stamp(clock, now_ms, &prior),
        .version = prior.version + 1,
        /* A tombstone's expiry_ms is when the key died: the purge counts its grace from it. */
        .expiry_ms = now_ms,
    };
    err = engine_write(s, token, key, key_bytes, &hdr, NULL, 0);
    kv_cache_written(rc, err, token, key, key_bytes, &hdr, NULL, 0);
    if (err != RKV_OK)
        return err;
    result_out->version = hdr.version;
    result_out->timestamp = hdr.timestamp;
    return RKV_OK;
}
