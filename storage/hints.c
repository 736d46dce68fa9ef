/* Durable hints for hinted handoff, in one btree per shard (storage/hints.h has the format
 * and the contract). struct hints belongs to its shard's thread. The in-memory table of
 * targets is kept exact: a target's slot is in use exactly while its count is above zero,
 * and its count is the number of its well-formed hint keys in the table; every put and every
 * remove that found a record adjusts it in the same call.
 *
 * Why a btree and not an LSM tree like the data: the table is a set of small FIFO queues,
 * written at the tail and read and removed at the head, always by range. An LSM tree's bloom
 * filters help point reads only, and its deletes stay behind as tombstones in older chunks
 * until a merge reaches them, which a head-of-queue read would walk over again and again; a
 * btree drops them from its pages as they are evicted. The table is also small next to the
 * data (hours of writes for down nodes only), so a btree's costlier inserts do not matter. */
#include "storage/hints.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/bytes.h"
#include "core/config.h"
#include "core/log.h"

#define HINTS_TABLE_NAME "hints"

/* Offsets of the stored value's fields; the table in storage/hints.h is the reference. */
enum {
    HINT_OFF_FORMAT = 0,
    HINT_OFF_RESERVED = 1,
    HINT_OFF_KEY_BYTES = 2,
    HINT_OFF_STORED_MS = 4,
    HINT_OFF_TOKEN = 12,
    HINT_OFF_KEY = 20,
};
_Static_assert(HINT_OFF_KEY == HINT_FIXED_BYTES, "the user key follows the fixed fields");

/* A hint key of the right target but the wrong length can only come from damage: readers
 * step over at most this many of them in one call before they answer RKV_CORRUPT, so that a
 * damaged range costs a bounded amount of work and never loops. */
#define HINTS_SKIP_MAX 32u

/* One target with hints. Free while count is 0. */
struct hints_target {
    uint64_t count;     /* its hints in the table */
    uint64_t head_seq;  /* the sequence number of its first hint */
    uint64_t oldest_ms; /* stored_ms of that hint; 0 when it is corrupt */
    uint8_t id_bytes;
    char id[RKV_NODE_ID_BYTES_MAX];
};

/* Owner: one shard, on its thread. */
struct hints {
    struct engine_shard *s;
    struct engine_table *t;
    uint64_t next_seq;   /* the sequence number of the next put; >= 1 */
    uint32_t expire_idx; /* the slot hints_expire() looks at first */
    /* Inside hints_for_key()'s callback: the scan's cursor stands on a hint, and a call here
     * would move it (the engine catches calls on other tables, not on this one). */
    bool scanning;
    struct hints_stats stats;
    /* A stored value is assembled here: WiredTiger takes it as one item. Allocated once at
     * open for the largest hint, so that a put does not allocate. */
    uint8_t *value_buf;
    struct hints_target targets[RKV_HINT_TARGETS_MAX];
};

/* ---- format ---- */

static size_t hints_key_encode(uint8_t out[HINT_KEY_BYTES_MAX], const char *target, size_t target_bytes, uint64_t seq)
{
    RKV_ASSERT(target_bytes >= 1);
    RKV_ASSERT(target_bytes <= RKV_NODE_ID_BYTES_MAX);
    out[0] = (uint8_t)target_bytes;
    memcpy(out + 1, target, target_bytes);
    store_be64(out + 1 + target_bytes, seq);
    return 1u + target_bytes + HINT_SEQ_BYTES;
}

/* Splits a stored key into target and sequence number; false when it is not a hint key. */
static bool hints_key_parse(const uint8_t *k, size_t k_bytes, const char **target_out, size_t *target_bytes_out,
                            uint64_t *seq_out)
{
    if (k_bytes < 1u + 1u + HINT_SEQ_BYTES)
        return false;
    size_t tb = k[0];
    if (k_bytes != 1u + tb + HINT_SEQ_BYTES || !config_node_id_valid(k + 1, tb))
        return false;
    *target_out = (const char *)(k + 1);
    *target_bytes_out = tb;
    *seq_out = load_be64(k + 1 + tb);
    return true;
}

/* Decodes a stored value into view_out (seq is the caller's); RKV_CORRUPT when any invariant
 * of storage/hints.h fails. Pointers go into buf. */
static enum rkv_err hints_value_decode(const uint8_t *buf, size_t len, struct hint_view *view_out)
{
    if (len < HINT_FIXED_BYTES)
        return RKV_CORRUPT;
    if (buf[HINT_OFF_FORMAT] != HINT_FORMAT_V1 || buf[HINT_OFF_RESERVED] != 0)
        return RKV_CORRUPT;
    size_t k = load_be16(buf + HINT_OFF_KEY_BYTES);
    if (k < 1 || k > RKV_KEY_BYTES_MAX || len - HINT_FIXED_BYTES < k)
        return RKV_CORRUPT;
    /* record_decode() checks the header, its length and the value's. */
    enum rkv_err err = record_decode(buf + HINT_OFF_KEY + k, len - HINT_FIXED_BYTES - k, &view_out->rec);
    if (err != RKV_OK)
        return err;
    view_out->stored_ms = load_be64(buf + HINT_OFF_STORED_MS);
    view_out->token = load_be64(buf + HINT_OFF_TOKEN);
    view_out->key = buf + HINT_OFF_KEY;
    view_out->key_bytes = k;
    return RKV_OK;
}

/* The header checks of record_hdr_encode(), answered instead of asserted: a hint carries a
 * write that came over the network. */
static bool hints_hdr_ok(const struct record_hdr *hdr, uint32_t value_bytes)
{
    if ((hdr->flags & ~REC_F_KNOWN) != 0 || hdr->version == 0)
        return false;
    return !(hdr->flags & REC_F_TOMBSTONE) || value_bytes == 0;
}

/* A hint is old enough to drop once now_ms >= stored_ms + max_age_ms; the sum saturates, so
 * a stored_ms near 2^64 (damage) means "never" rather than "at once". */
static bool hints_aged(uint64_t stored_ms, uint64_t now_ms, uint64_t max_age_ms)
{
    if (stored_ms > UINT64_MAX - max_age_ms)
        return false;
    return now_ms >= stored_ms + max_age_ms;
}

/* ---- the targets in memory ---- */

static struct hints_target *hints_slot_find(struct hints *h, const char *target, size_t target_bytes)
{
    for (uint32_t i = 0; i < RKV_HINT_TARGETS_MAX; i++) {
        struct hints_target *t = &h->targets[i];
        if (t->count > 0 && t->id_bytes == target_bytes && memcmp(t->id, target, target_bytes) == 0)
            return t;
    }
    return NULL;
}

/* The target's slot, or a free one made ready for it (count 0: it is in use only once the
 * caller counts a hint in it). NULL when every slot holds another target. */
static struct hints_target *hints_slot_get(struct hints *h, const char *target, size_t target_bytes)
{
    struct hints_target *t = hints_slot_find(h, target, target_bytes);
    if (t != NULL)
        return t;
    for (uint32_t i = 0; i < RKV_HINT_TARGETS_MAX; i++) {
        t = &h->targets[i];
        if (t->count == 0) {
            memset(t, 0, sizeof *t);
            t->id_bytes = (uint8_t)target_bytes;
            memcpy(t->id, target, target_bytes);
            return t;
        }
    }
    return NULL;
}

static void hints_slot_counted(struct hints *h, struct hints_target *t, uint64_t seq, uint64_t stored_ms)
{
    if (t->count == 0) {
        t->head_seq = seq;
        t->oldest_ms = stored_ms;
    }
    t->count++;
    h->stats.stored_count++;
}

/* One hint of t left the table (removed or dropped). */
static void hints_slot_uncounted(struct hints *h, struct hints_target *t)
{
    RKV_ASSERT(t->count > 0);
    RKV_ASSERT(h->stats.stored_count > 0);
    t->count--;
    h->stats.stored_count--;
}

/* ---- reading one target's range ---- */

/* Reads target's first hint with a sequence number above after_seq: RKV_OK with *seq_out
 * and the stored value in *value_out (valid until the next call on the shard), RKV_NOT_FOUND
 * when the target's range holds none, RKV_CORRUPT when more than HINTS_SKIP_MAX malformed
 * keys lie in the way, or a storage error. */
static enum rkv_err hints_seek_target(struct hints *h, const char *target, size_t target_bytes, uint64_t after_seq,
                                      uint64_t *seq_out, struct engine_bytes *value_out)
{
    *seq_out = 0;
    uint8_t k[HINT_KEY_BYTES_MAX];
    size_t k_bytes = hints_key_encode(k, target, target_bytes, after_seq);
    size_t prefix_bytes = 1u + target_bytes; /* the length byte fixes the target's length */
    struct engine_bytes key;
    enum rkv_err err = engine_table_seek(h->t, k, k_bytes, false, &key, value_out);
    for (uint32_t skipped = 0; err == RKV_OK; skipped++) {
        if (key.bytes < prefix_bytes || memcmp(key.data, k, prefix_bytes) != 0)
            return RKV_NOT_FOUND; /* past the target's range */
        if (key.bytes == k_bytes) {
            *seq_out = load_be64(key.data + prefix_bytes);
            return RKV_OK;
        }
        if (skipped == HINTS_SKIP_MAX) {
            rkv_log(RKV_LOG_ERROR, "storage: hints: more than %u malformed keys in the range of target '%.*s'",
                    HINTS_SKIP_MAX, (int)target_bytes, target);
            return RKV_CORRUPT;
        }
        err = engine_table_next(h->t, &key, value_out);
    }
    return err;
}

/* Reads the first hint of t into its head fields. A count that finds no hint in the table is
 * our bug: asserted in debug builds, and mended (the slot is freed) otherwise. */
static enum rkv_err hints_head_load(struct hints *h, struct hints_target *t)
{
    RKV_ASSERT(t->count > 0);
    uint64_t seq;
    struct engine_bytes value;
    enum rkv_err err = hints_seek_target(h, t->id, t->id_bytes, 0, &seq, &value);
    if (err == RKV_NOT_FOUND) {
        RKV_DEBUG_ASSERT(!"a counted target holds no hint");
        rkv_log(RKV_LOG_ERROR, "storage: hints: target '%.*s' counted %" PRIu64 " hints but holds none",
                (int)t->id_bytes, t->id, t->count);
        h->stats.stored_count -= t->count < h->stats.stored_count ? t->count : h->stats.stored_count;
        t->count = 0;
        return RKV_OK;
    }
    if (err != RKV_OK)
        return err;
    struct hint_view v;
    t->head_seq = seq;
    t->oldest_ms = hints_value_decode(value.data, value.bytes, &v) == RKV_OK ? v.stored_ms : 0;
    return RKV_OK;
}

/* ---- open and close ---- */

/* Counts every hint of the table into the targets and finds the largest sequence number. */
static enum rkv_err hints_rebuild(struct hints *h)
{
    uint64_t seq_max = 0;
    uint64_t malformed_count = 0;
    struct hints_target *last = NULL; /* a target's hints are adjacent: look it up once */
    struct engine_bytes key, value;
    /* One pass over the whole table, bounded by its size: at open only. */
    enum rkv_err err = engine_table_seek(h->t, NULL, 0, true, &key, &value);
    for (; err == RKV_OK; err = engine_table_next(h->t, &key, &value)) {
        const char *target;
        size_t target_bytes;
        uint64_t seq;
        if (!hints_key_parse(key.data, key.bytes, &target, &target_bytes, &seq)) {
            malformed_count++;
            continue;
        }
        if (seq > seq_max)
            seq_max = seq;
        if (last == NULL || last->id_bytes != target_bytes || memcmp(last->id, target, target_bytes) != 0) {
            last = hints_slot_get(h, target, target_bytes);
            if (last == NULL) {
                rkv_log(RKV_LOG_ERROR, "storage: hints: the table holds hints for more than %u targets: corrupt",
                        RKV_HINT_TARGETS_MAX);
                engine_shard_idle(h->s);
                return RKV_CORRUPT;
            }
        }
        /* Keys sort by target, then sequence: the first hint of a target met is its head. */
        uint64_t stored_ms = 0;
        if (last->count == 0) {
            struct hint_view v;
            if (hints_value_decode(value.data, value.bytes, &v) == RKV_OK)
                stored_ms = v.stored_ms;
        }
        hints_slot_counted(h, last, seq, stored_ms);
    }
    engine_shard_idle(h->s);
    if (err != RKV_NOT_FOUND)
        return err;
    if (malformed_count > 0)
        rkv_log(RKV_LOG_ERROR, "storage: hints: %" PRIu64 " stored keys are not hint keys; left alone",
                malformed_count);
    if (seq_max == UINT64_MAX) {
        rkv_log(RKV_LOG_ERROR, "storage: hints: a stored sequence number has no successor: corrupt");
        return RKV_CORRUPT;
    }
    h->next_seq = seq_max + 1;
    return RKV_OK;
}

enum rkv_err hints_open(struct engine_shard *s, struct hints **hints_out)
{
    RKV_ASSERT(hints_out != NULL);
    *hints_out = NULL;
    RKV_ASSERT(s != NULL);

    /* About 21 KiB of targets: once per shard, at start-up. */
    struct hints *h = calloc(1, sizeof *h);
    if (h == NULL)
        return RKV_INTERNAL;
    h->s = s;
    h->value_buf = malloc(HINT_VALUE_BYTES_MAX);
    enum rkv_err err = h->value_buf == NULL ? RKV_INTERNAL : engine_table_open(s, HINTS_TABLE_NAME, &h->t);
    if (err == RKV_OK)
        err = hints_rebuild(h);
    if (err != RKV_OK) {
        if (h->t != NULL)
            engine_table_close(h->t);
        free(h->value_buf);
        free(h);
        return err;
    }
    if (h->stats.stored_count > 0)
        rkv_log(RKV_LOG_INFO, "storage: hints: %" PRIu64 " hints held, next sequence number %" PRIu64,
                h->stats.stored_count, h->next_seq);
    *hints_out = h;
    return RKV_OK;
}

void hints_close(struct hints *h)
{
    RKV_ASSERT(h != NULL);
    engine_table_close(h->t);
    free(h->value_buf);
    free(h);
}

/* ---- the data path ---- */

enum rkv_err hints_put(struct hints *h, const char *target, size_t target_bytes, uint64_t token, const uint8_t *key,
                       size_t key_bytes, const struct record_hdr *hdr, const uint8_t *value, uint32_t value_bytes,
                       uint64_t now_ms, uint64_t *seq_out)
{
    RKV_ASSERT(seq_out != NULL);
    *seq_out = 0;
    RKV_ASSERT(h != NULL);
    RKV_ASSERT(!h->scanning);
    RKV_ASSERT(hdr != NULL);
    RKV_ASSERT(key != NULL || key_bytes == 0);
    RKV_ASSERT(value != NULL || value_bytes == 0);

    if (target == NULL || !config_node_id_valid((const uint8_t *)target, target_bytes))
        return RKV_INVALID_ARG;
    if (key_bytes == 0)
        return RKV_KEY_EMPTY;
    if (key_bytes > RKV_KEY_BYTES_MAX)
        return RKV_KEY_TOO_LONG;
    if (value_bytes > RKV_VALUE_BYTES_MAX)
        return RKV_VALUE_TOO_LONG;
    if (!hints_hdr_ok(hdr, value_bytes))
        return RKV_INVALID_ARG;
    struct hints_target *t = hints_slot_get(h, target, target_bytes);
    if (t == NULL)
        return RKV_BUSY;

    uint8_t *b = h->value_buf;
    b[HINT_OFF_FORMAT] = (uint8_t)HINT_FORMAT_V1;
    b[HINT_OFF_RESERVED] = 0;
    store_be16(b + HINT_OFF_KEY_BYTES, (uint16_t)key_bytes);
    store_be64(b + HINT_OFF_STORED_MS, now_ms);
    store_be64(b + HINT_OFF_TOKEN, token);
    memcpy(b + HINT_OFF_KEY, key, key_bytes);
    /* record_hdr_encode() asserts what hints_hdr_ok() answered above. */
    record_hdr_encode(b + HINT_OFF_KEY + key_bytes, hdr, value_bytes);
    if (value_bytes > 0)
        memcpy(b + HINT_OFF_KEY + key_bytes + REC_HDR_BYTES, value, value_bytes);
    size_t len = HINT_FIXED_BYTES + key_bytes + REC_HDR_BYTES + value_bytes;
    RKV_DEBUG_ASSERT(hints_value_decode(b, len, &(struct hint_view){ 0 }) == RKV_OK);

    /* Counting a hint a second at a time from 1 would take far longer than the universe has
     * existed to reach the end; the number is consumed even when the write fails, so that a
     * write that failed after all reached the table is never overwritten. */
    RKV_ASSERT(h->next_seq >= 1 && h->next_seq < UINT64_MAX);
    uint64_t seq = h->next_seq++;
    uint8_t k[HINT_KEY_BYTES_MAX];
    size_t k_bytes = hints_key_encode(k, target, target_bytes, seq);
    enum rkv_err err = engine_table_put(h->t, k, k_bytes, b, len);
    if (err != RKV_OK)
        return err; /* a slot made ready for a new target stays free: its count is 0 */
    hints_slot_counted(h, t, seq, now_ms);
    h->stats.put_count++;
    *seq_out = seq;
    return RKV_OK;
}

enum rkv_err hints_next(struct hints *h, const char *target, size_t target_bytes, uint64_t after_seq,
                        struct hint_view *view_out)
{
    RKV_ASSERT(view_out != NULL);
    memset(view_out, 0, sizeof *view_out);
    RKV_ASSERT(h != NULL);
    RKV_ASSERT(!h->scanning);
    if (target == NULL || !config_node_id_valid((const uint8_t *)target, target_bytes))
        return RKV_INVALID_ARG;
    if (after_seq == UINT64_MAX)
        return RKV_NOT_FOUND; /* no sequence number follows it */

    uint64_t seq;
    struct engine_bytes value;
    enum rkv_err err = hints_seek_target(h, target, target_bytes, after_seq, &seq, &value);
    if (err != RKV_OK)
        return err;
    err = hints_value_decode(value.data, value.bytes, view_out);
    if (err != RKV_OK) {
        memset(view_out, 0, sizeof *view_out);
        rkv_log(RKV_LOG_ERROR, "storage: hints: hint %" PRIu64 " for '%.*s' (a stored value of %zu bytes) is corrupt",
                seq, (int)target_bytes, target, value.bytes);
    }
    view_out->seq = seq;
    return err;
}

enum rkv_err hints_remove(struct hints *h, const char *target, size_t target_bytes, uint64_t seq)
{
    RKV_ASSERT(h != NULL);
    RKV_ASSERT(!h->scanning);
    if (target == NULL || !config_node_id_valid((const uint8_t *)target, target_bytes))
        return RKV_INVALID_ARG;
    uint8_t k[HINT_KEY_BYTES_MAX];
    size_t k_bytes = hints_key_encode(k, target, target_bytes, seq);
    enum rkv_err err = engine_table_remove(h->t, k, k_bytes);
    if (err != RKV_OK)
        return err;
    struct hints_target *t = hints_slot_find(h, target, target_bytes);
    /* The table held the hint, so its target is counted; were it not (our bug), there is
     * nothing to uncount. */
    RKV_DEBUG_ASSERT(t != NULL);
    if (t == NULL)
        return RKV_OK;
    hints_slot_uncounted(h, t);
    h->stats.removed_count++;
    if (t->count > 0 && seq == t->head_seq) {
        err = hints_head_load(h, t);
        engine_shard_idle(h->s);
        if (err != RKV_OK)
            /* The hint is gone; only the head fields are stale. They name an older hint
             * than the real first one, so the target comes due for expiry no later than it
             * should, and that expiry step reads the real first hint and mends them. */
            rkv_log(RKV_LOG_WARN, "storage: hints: could not read the new first hint of '%.*s'",
                    (int)target_bytes, target);
    }
    return RKV_OK;
}

/* ---- expiry ---- */

/* Drops t's hints from its first one while they are old or corrupt, within *steps_left
 * reads; leaves t's head fields describing its first remaining hint. */
static enum rkv_err hints_expire_target(struct hints *h, struct hints_target *t, uint64_t now_ms,
                                        uint64_t max_age_ms, uint32_t *steps_left, uint32_t *dropped)
{
    while (t->count > 0 && *steps_left > 0) {
        uint64_t seq;
        struct engine_bytes value;
        enum rkv_err err = hints_seek_target(h, t->id, t->id_bytes, 0, &seq, &value);
        (*steps_left)--;
        if (err == RKV_NOT_FOUND)
            return hints_head_load(h, t); /* mends the count (a bug of ours) */
        if (err != RKV_OK)
            return err;
        struct hint_view v;
        bool corrupt = hints_value_decode(value.data, value.bytes, &v) != RKV_OK;
        if (!corrupt && !hints_aged(v.stored_ms, now_ms, max_age_ms)) {
            t->head_seq = seq;
            t->oldest_ms = v.stored_ms;
            return RKV_OK;
        }
        uint8_t k[HINT_KEY_BYTES_MAX];
        size_t k_bytes = hints_key_encode(k, t->id, t->id_bytes, seq);
        err = engine_table_remove(h->t, k, k_bytes);
        if (err == RKV_NOT_FOUND)
            continue; /* cannot happen: we just read it; read the head again */
        if (err != RKV_OK)
            return err;
        hints_slot_uncounted(h, t);
        (*dropped)++;
        if (corrupt)
            h->stats.corrupt_count++;
        else
            h->stats.expired_count++;
    }
    /* Out of steps after a drop: learn the new first hint, so that the count and the oldest
     * time stay right between steps (the one read past the budget). */
    if (t->count > 0 && *steps_left == 0)
        return hints_head_load(h, t);
    return RKV_OK;
}

enum rkv_err hints_expire(struct hints *h, uint64_t now_ms, uint64_t max_age_ms, uint32_t max_steps,
                          uint32_t *dropped_out)
{
    RKV_ASSERT(dropped_out != NULL);
    *dropped_out = 0;
    RKV_ASSERT(h != NULL);
    RKV_ASSERT(!h->scanning);
    RKV_ASSERT(max_steps >= 1);

    uint32_t steps_left = max_steps;
    enum rkv_err err = RKV_OK;
    /* At most one turn round the slots; only targets whose first hint is due are read. */
    for (uint32_t n = 0; n < RKV_HINT_TARGETS_MAX && steps_left > 0 && err == RKV_OK; n++) {
        uint32_t idx = (h->expire_idx + n) % RKV_HINT_TARGETS_MAX;
        struct hints_target *t = &h->targets[idx];
        if (t->count == 0 || !hints_aged(t->oldest_ms, now_ms, max_age_ms))
            continue;
        err = hints_expire_target(h, t, now_ms, max_age_ms, &steps_left, dropped_out);
        /* The next step starts in this target when it may hold more to drop. */
        h->expire_idx = idx;
    }
    /* No log line: a step runs every turn while a backlog expires, and the counters in
     * hints_stats() say what was dropped. */
    engine_shard_idle(h->s);
    return err;
}

/* ---- statistics ---- */

enum rkv_err hints_target_stats(const struct hints *h, const char *target, size_t target_bytes, uint64_t *count_out,
                                uint64_t *oldest_ms_out)
{
    RKV_ASSERT(count_out != NULL);
    RKV_ASSERT(oldest_ms_out != NULL);
    *count_out = 0;
    *oldest_ms_out = 0;
    RKV_ASSERT(h != NULL);
    if (target == NULL || !config_node_id_valid((const uint8_t *)target, target_bytes))
        return RKV_INVALID_ARG;
    /* hints_slot_find() changes nothing; the cast only saves a second copy of it. */
    struct hints_target *t = hints_slot_find((struct hints *)h, target, target_bytes);
    if (t != NULL) {
        *count_out = t->count;
        *oldest_ms_out = t->oldest_ms;
    }
    return RKV_OK;
}

bool hints_target_next(const struct hints *h, uint32_t *idx_inout, struct hints_target_info *info_out)
{
    RKV_ASSERT(info_out != NULL);
    memset(info_out, 0, sizeof *info_out);
    RKV_ASSERT(h != NULL);
    RKV_ASSERT(idx_inout != NULL);
    for (uint32_t i = *idx_inout; i < RKV_HINT_TARGETS_MAX; i++) {
        const struct hints_target *t = &h->targets[i];
        if (t->count == 0)
            continue;
        memcpy(info_out->target, t->id, t->id_bytes);
        info_out->target[t->id_bytes] = '\0';
        info_out->target_bytes = t->id_bytes;
        info_out->count = t->count;
        info_out->oldest_ms = t->oldest_ms;
        *idx_inout = i + 1;
        return true;
    }
    *idx_inout = RKV_HINT_TARGETS_MAX;
    return false;
}

struct hints_stats hints_stats(const struct hints *h)
{
    RKV_ASSERT(h != NULL);
    return h->stats;
}

/* ---- the operator's view ---- */

enum rkv_err hints_for_key(struct hints *h, uint64_t token, const uint8_t *key, size_t key_bytes,
                           struct hints_scan_pos *pos, uint32_t max_records, void *arg, hints_for_key_fn *found,
                           struct hints_scan_result *result_out)
{
    RKV_ASSERT(result_out != NULL);
    memset(result_out, 0, sizeof *result_out);
    RKV_ASSERT(h != NULL);
    RKV_ASSERT(!h->scanning);
    RKV_ASSERT(pos != NULL);
    RKV_ASSERT(pos->key_bytes <= HINT_KEY_BYTES_MAX);
    RKV_ASSERT(max_records >= 1);
    RKV_ASSERT(found != NULL);
    RKV_ASSERT(key != NULL || key_bytes == 0);
    if (key_bytes == 0)
        return RKV_KEY_EMPTY;
    if (key_bytes > RKV_KEY_BYTES_MAX)
        return RKV_KEY_TOO_LONG;

    struct engine_bytes k, value;
    enum rkv_err err = engine_table_seek(h->t, pos->key, pos->key_bytes, false, &k, &value);
    /* At most max_records turns, each examining one hint, plus the look-ahead. */
    while (err == RKV_OK) {
        if (result_out->examined_count == max_records)
            break; /* the look-ahead found a hint after the batch: not the end */
        result_out->examined_count++;
        if (k.bytes > HINT_KEY_BYTES_MAX) {
            /* Only damage makes such a key, and pos cannot hold it to resume after it. */
            result_out->corrupt_count++;
            rkv_log(RKV_LOG_ERROR, "storage: hints: a stored key of %zu bytes ends the scan", k.bytes);
            err = RKV_NOT_FOUND;
            break;
        }
        memcpy(pos->key, k.data, k.bytes);
        pos->key_bytes = (uint32_t)k.bytes;

        const char *target;
        size_t target_bytes;
        uint64_t seq;
        struct hint_view v;
        if (!hints_key_parse(k.data, k.bytes, &target, &target_bytes, &seq) ||
            hints_value_decode(value.data, value.bytes, &v) != RKV_OK) {
            result_out->corrupt_count++;
        } else if (v.token == token && v.key_bytes == key_bytes && memcmp(v.key, key, key_bytes) == 0) {
            result_out->matched_count++;
            h->scanning = true;
            found(arg, target, target_bytes, seq, &v.rec.hdr);
            h->scanning = false;
        }
        /* Step on even after the last hint of the batch: a WT_NOTFOUND here tells the caller
         * that the scan is done, so a scan never needs a call that finds nothing. */
        err = engine_table_next(h->t, &k, &value);
    }
    engine_shard_idle(h->s);
    if (err == RKV_NOT_FOUND) {
        result_out->end = true;
        return RKV_OK;
    }
    return err;
}
