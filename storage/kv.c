/* ringkv's local replica semantics over the engine: every write reads the stored record
 * first, so that versions grow by one over whatever is stored (tombstones and expired
 * records included) and the new timestamp is above the stored one. Stateless: every call
 * works on the caller's engine_shard and HLC, both owned by the calling shard. */
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

/* Reads the stored record of the key and keeps only its header fields: the view dies at
 * the engine_write() that follows. */
static enum rkv_err kv_prior_read(struct engine_shard *s, uint64_t now_ms, uint64_t token, const uint8_t *key,
                                  size_t key_bytes, struct kv_prior *prior_out)
{
    memset(prior_out, 0, sizeof *prior_out);
    struct record_view v;
    enum rkv_err err = engine_read(s, token, key, key_bytes, &v);
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

enum rkv_err kv_put(struct engine_shard *s, struct hlc *clock, uint64_t now_ms,
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
    enum rkv_err err = kv_prior_read(s, now_ms, args->token, args->key, args->key_bytes, &prior);
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
    if (err != RKV_OK)
        return err;
    result_out->version = hdr.version;
    result_out->timestamp = hdr.timestamp;
    return RKV_OK;
}

enum rkv_err kv_get(struct engine_shard *s, uint64_t now_ms, uint64_t token, const uint8_t *key,
                    size_t key_bytes, struct record_view *view_out)
{
    RKV_ASSERT(view_out != NULL);
    RKV_ASSERT(s != NULL);
    enum rkv_err err = engine_read(s, token, key, key_bytes, view_out);
    if (err != RKV_OK)
        return err;
    if (!record_visible(&view_out->hdr, now_ms)) {
        memset(view_out, 0, sizeof *view_out);
        return RKV_NOT_FOUND;
    }
    return RKV_OK;
}

enum rkv_err kv_delete(struct engine_shard *s, struct hlc *clock, uint64_t now_ms, uint64_t token,
                       const uint8_t *key, size_t key_bytes, uint32_t origin,
                       struct kv_result *result_out)
{
    RKV_ASSERT(result_out != NULL);
    memset(result_out, 0, sizeof *result_out);
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(clock != NULL);

    struct kv_prior prior;
    enum rkv_err err = kv_prior_read(s, now_ms, token, key, key_bytes, &prior);
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
    if (err != RKV_OK)
        return err;
    result_out->version = hdr.version;
    result_out->timestamp = hdr.timestamp;
    return RKV_OK;
}
