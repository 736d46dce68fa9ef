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

/* kv_read_stored(), and on a miss the cache is filled from what storage answered: a record
 * (live, expired or tombstone: all of them answer later reads and writes), or the knowledge
 * that nothing is stored. A corrupt record or an error is not cached. The view stays
 * WiredTiger's (the cache copies), valid until the next call on s or rc. */
static enum rkv_err kv_read_fill(struct engine_shard *s, struct rowcache *rc, uint64_t token, const uint8_t *key,
                                 size_t key_bytes, struct record_view *view_out)
{
    bool from_storage;
    enum rkv_err err = kv_read_stored(s, rc, token, key, key_bytes, view_out, &from_storage);
    if (rc != NULL && from_storage) {
        if (err == RKV_OK)
            rowcache_store(rc, ROWCACHE_FILL, token, key, key_bytes, view_out);
        else if (err == RKV_NOT_FOUND)
            rowcache_store(rc, ROWCACHE_FILL, token, key, key_bytes, NULL);
    }
    return err;
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
static uint64_t kv_stamp_over(struct hlc *clock, uint64_t now_ms, const struct kv_prior *prior)
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
        .timestamp = kv_stamp_over(clock, now_ms, &prior),
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
    enum rkv_err err = kv_read_fill(s, rc, token, key, key_bytes, view_out);
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
        .timestamp = kv_stamp_over(clock, now_ms, &prior),
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

enum rkv_err kv_read_record(struct engine_shard *s, struct rowcache *rc, uint64_t token, const uint8_t *key,
                            size_t key_bytes, struct record_view *view_out)
{
    RKV_ASSERT(view_out != NULL);
    RKV_ASSERT(s != NULL);
    enum rkv_err err = kv_read_fill(s, rc, token, key, key_bytes, view_out);
    if (err != RKV_OK)
        memset(view_out, 0, sizeof *view_out);
    return err;
}

/* The checks of a record that arrived from the network (kv_apply() step 1): the same
 * invariants record_hdr_encode() asserts, answered with an error instead. */
static enum rkv_err kv_apply_check(const struct kv_apply_args *a)
{
    if (a->key_bytes == 0)
        return RKV_KEY_EMPTY;
    if (a->key_bytes > RKV_KEY_BYTES_MAX)
        return RKV_KEY_TOO_LONG;
    if (a->value_bytes > RKV_VALUE_BYTES_MAX)
        return RKV_VALUE_TOO_LONG;
    if (a->value_bytes != 0 && a->value == NULL)
        return RKV_INVALID_ARG;
    if ((a->hdr.flags & ~REC_F_KNOWN) != 0)
        return RKV_INVALID_ARG;
    if ((a->hdr.flags & REC_F_TOMBSTONE) && a->value_bytes != 0)
        return RKV_INVALID_ARG;
    /* Version 0 breaks the format; UINT64_MAX has no successor, so the next kv_put() of the
     * key would have to call it corrupt. */
    if (a->hdr.version == 0 || a->hdr.version == UINT64_MAX)
        return RKV_INVALID_ARG;
    return RKV_OK;
}

/* Whether the stored record is the incoming write itself (kv_apply() step 3): the same
 * (timestamp, origin, version) and the same contents, or the sweep's tombstone of that write
 * (or the write's tombstone against its stored expired self, when another replica's sweep
 * made it): one is live with expiry E != 0, the other a tombstone that died at E. A record
 * with the same (timestamp, origin, version) and other contents is a different write,
 * stamped by another clock under the same origin, and is fenced so that its coordinator
 * re-stamps it instead of losing it to a false duplicate. */
static bool kv_same_write(const struct record_view *stored, const struct kv_apply_args *a)
{
    const struct record_hdr *h = &stored->hdr;
    if (h->timestamp != a->hdr.timestamp || h->origin != a->hdr.origin || h->version != a->hdr.version)
        return false;
    bool stored_tomb = (h->flags & REC_F_TOMBSTONE) != 0;
    bool incoming_tomb = (a->hdr.flags & REC_F_TOMBSTONE) != 0;
    if (h->expiry_ms != a->hdr.expiry_ms)
        return false;
    if (stored_tomb != incoming_tomb)
        return h->expiry_ms != 0; /* one side is the other expired and swept */
    return h->flags == a->hdr.flags && stored->value_bytes == a->value_bytes &&
           (a->value_bytes == 0 || memcmp(stored->value, a->value, a->value_bytes) == 0);
}

enum rkv_err kv_apply(struct engine_shard *s, struct rowcache *rc, struct hlc *clock, uint64_t now_ms,
                      const struct kv_apply_args *args, struct kv_apply_result *result_out)
{
    RKV_ASSERT(result_out != NULL);
    memset(result_out, 0, sizeof *result_out);
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(clock != NULL);
    RKV_ASSERT(args != NULL);

    enum rkv_err err = kv_apply_check(args);
    if (err != RKV_OK)
        return err;
    /* Every timestamp a shard receives is observed, also one that then loses: the clock
     * must run past what other nodes stamp. One too far ahead is refused untouched. */
    err = hlc_observe_checked(clock, args->hdr.timestamp, now_ms, args->max_skew_ms);
    if (err != RKV_OK)
        return err;

    struct record_view v;
    err = kv_read_fill(s, rc, args->token, args->key, args->key_bytes, &v);
    if (err != RKV_OK && err != RKV_NOT_FOUND)
        return err;
    if (err == RKV_OK) {
        /* Copy what is kept: the view dies at the engine_write() below. */
        const struct record_hdr stored = v.hdr;
        /* As in kv_prior_read(): no write reaches these, so the record is corrupt. Fencing
         * with it would refuse every later write of the key. */
        if (stored.version == UINT64_MAX || stored.timestamp == UINT64_MAX) {
            rkv_log(RKV_LOG_ERROR, "storage: record at token %016" PRIx64 " has a version or timestamp "
                    "with no successor: corrupt", args->token);
            return RKV_CORRUPT;
        }
        bool same_write = kv_same_write(&v, args);
        if (same_write || !record_newer(&args->hdr, &stored)) {
            result_out->version = stored.version;
            result_out->timestamp = stored.timestamp;
            result_out->origin = stored.origin;
            result_out->duplicate = same_write;
            return same_write ? RKV_OK : RKV_FENCED;
        }
    }

    err = engine_write(s, args->token, args->key, args->key_bytes, &args->hdr, args->value, args->value_bytes);
    kv_cache_written(rc, err, args->token, args->key, args->key_bytes, &args->hdr, args->value, args->value_bytes);
    if (err != RKV_OK)
        return err;
    result_out->version = args->hdr.version;
    result_out->timestamp = args->hdr.timestamp;
    result_out->origin = args->hdr.origin;
    return RKV_OK;
}

enum rkv_err kv_stamp(struct hlc *clock, uint64_t now_ms, uint64_t floor_ts, uint64_t max_skew_ms,
                      uint64_t *ts_out)
{
    RKV_ASSERT(ts_out != NULL);
    *ts_out = 0;
    RKV_ASSERT(clock != NULL);
    enum rkv_err err = hlc_observe_checked(clock, floor_ts, now_ms, max_skew_ms);
    if (err != RKV_OK)
        return err;
    *ts_out = hlc_tick(clock, now_ms);
    RKV_ASSERT(*ts_out > floor_ts);
    return RKV_OK;
}
