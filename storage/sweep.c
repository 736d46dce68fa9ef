/* The per-shard sweeper (storage/sweep.h): passes over one shard's table that turn expired
 * records into tombstones and purge tombstones past their grace. A step scans one bounded
 * batch with engine_scan_batch(), collecting the writes it decides on (the scan's cursor
 * cannot write while it stands on a record), then carries them out, each after reading the
 * record again and finding it unchanged. State lives in the shard's struct sweep; nothing
 * here is shared between shards, and time only comes in as now_ms. */
#include "storage/sweep.h"

#include <inttypes.h>
#include <string.h>

#include "core/assert.h"
#include "core/err.h"
#include "core/log.h"

void sweep_init(struct sweep *sw, uint64_t interval_ms, uint64_t grace_ms)
{
    RKV_ASSERT(sw != NULL);
    RKV_ASSERT(interval_ms >= 1);
    RKV_ASSERT(interval_ms <= (uint64_t)RKV_SWEEP_INTERVAL_S_MAX * 1000u);
    RKV_ASSERT(grace_ms <= (uint64_t)RKV_TOMBSTONE_GRACE_S_MAX * 1000u);
    memset(sw, 0, sizeof *sw);
    sw->interval_ms = interval_ms;
    sw->grace_ms = grace_ms;
    sw->due_ms = 0; /* the first step starts the first pass */
}

uint64_t sweep_due_ms(const struct sweep *sw)
{
    RKV_ASSERT(sw != NULL);
    return sw->due_ms;
}

/* The scan's callback: decides on each record, and copies the ones to write. The view dies
 * when the callback returns, so the action keeps the header and key by value. */
static enum engine_scan_next sweep_visit(void *arg, uint64_t token, const uint8_t *key, size_t key_bytes,
                                         const struct record_view *rec)
{
    struct sweep *sw = arg;
    RKV_ASSERT(sw->action_count < RKV_SWEEP_WRITES_PER_STEP_MAX);
    RKV_ASSERT(key_bytes >= 1 && key_bytes <= RKV_KEY_BYTES_MAX);
    enum sweep_action_kind kind;
    if (record_expired(&rec->hdr, sw->step_now_ms))
        kind = SWEEP_ACTION_EXPIRE;
    else if (record_purgeable(&rec->hdr, sw->step_now_ms, sw->grace_ms))
        kind = SWEEP_ACTION_PURGE;
    else
        return ENGINE_SCAN_CONTINUE;

    struct sweep_action *a = &sw->actions[sw->action_count++];
    a->kind = kind;
    a->token = token;
    a->hdr = rec->hdr;
    a->key_bytes = (uint32_t)key_bytes;
    memcpy(a->key, key, key_bytes);
    /* The writes of the step are used up: stop right after this record, so that the next
     * step resumes with the record after it. */
    return sw->action_count == RKV_SWEEP_WRITES_PER_STEP_MAX ? ENGINE_SCAN_STOP : ENGINE_SCAN_CONTINUE;
}

static bool sweep_hdr_same(const struct record_hdr *a, const struct record_hdr *b)
{
    return a->flags == b->flags && a->origin == b->origin && a->timestamp == b->timestamp &&
           a->version == b->version && a->expiry_ms == b->expiry_ms;
}

/* Carries out one action: reads the record again, and writes only when it is still the
 * record the scan saw. Sets *wrote_out when the table changed. RKV_OK also when the record
 * changed and was left alone; another error when the storage failed. */
static enum rkv_err sweep_apply_one(struct sweep *sw, struct engine_shard *s, struct rowcache *rc,
                                    const struct sweep_action *a, bool *wrote_out)
{
    *wrote_out = false;
    struct record_view cur;
    enum rkv_err err = engine_read(s, a->token, a->key, a->key_bytes, &cur);
    if (err == RKV_NOT_FOUND || err == RKV_CORRUPT) {
        /* Removed, or replaced by bytes we cannot read: in neither case ours to touch. */
        sw->stats.changed_count++;
        return RKV_OK;
    }
    if (err != RKV_OK)
        return err;
    if (!sweep_hdr_same(&cur.hdr, &a->hdr)) {
        sw->stats.changed_count++;
        return RKV_OK;
    }

    if (a->kind == SWEEP_ACTION_EXPIRE) {
        /* Same origin, timestamp and version as the expired record: the tombstone stands
         * exactly where the record stood in last-write-wins order, so a newer write still
         * beats it and an older one still loses. It died when the record expired. */
        RKV_ASSERT(!(a->hdr.flags & REC_F_TOMBSTONE));
        RKV_ASSERT(a->hdr.expiry_ms != 0);
        struct record_hdr t = {
            .flags = REC_F_TOMBSTONE,
            .origin = a->hdr.origin,
            .timestamp = a->hdr.timestamp,
            .version = a->hdr.version,
            .expiry_ms = a->hdr.expiry_ms,
        };
        err = engine_write(s, a->token, a->key, a->key_bytes, &t, NULL, 0);
        if (rc != NULL) {
            /* Write-through: a cached copy of the expired record becomes the tombstone; a
             * failed write leaves the table uncertain, so the cache forgets the key. */
            if (err == RKV_OK) {
                struct record_view tv = { .hdr = t, .value = NULL, .value_bytes = 0 };
                rowcache_store(rc, ROWCACHE_UPDATE, a->token, a->key, a->key_bytes, &tv);
            } else {
                rowcache_remove(rc, a->token, a->key, a->key_bytes);
            }
        }
        if (err != RKV_OK)
            return err;
        sw->stats.expired_count++;
    } else {
        RKV_ASSERT(a->hdr.flags & REC_F_TOMBSTONE);
        err = engine_remove(s, a->token, a->key, a->key_bytes);
        /* The key is gone from the table: a cached tombstone becomes a known-absent marker.
         * On failure it may or may not be gone, so the cache forgets it. */
        if (rc != NULL) {
            if (err == RKV_OK)
                rowcache_store(rc, ROWCACHE_UPDATE, a->token, a->key, a->key_bytes, NULL);
            else
                rowcache_remove(rc, a->token, a->key, a->key_bytes);
        }
        if (err != RKV_OK)
            return err;
        sw->stats.purged_count++;
    }
    *wrote_out = true;
    return RKV_OK;
}

bool sweep_step(struct sweep *sw, struct engine_shard *s, struct rowcache *rc, uint64_t now_ms)
{
    RKV_ASSERT(sw != NULL);
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(sw->interval_ms >= 1); /* sweep_init() ran */

    /* A wall clock that went back must not postpone the sweep by the size of the jump:
     * nothing waits longer than one interval from now. */
    if (sw->due_ms > now_ms && sw->due_ms - now_ms > sw->interval_ms)
        sw->due_ms = now_ms + sw->interval_ms;
    if (sw->next_pass_ms > now_ms && sw->next_pass_ms - now_ms > sw->interval_ms)
        sw->next_pass_ms = now_ms + sw->interval_ms;
    if (now_ms < sw->due_ms)
        return false;

    if (!sw->pass_active) {
        sw->pass_active = true;
        memset(&sw->pos, 0, sizeof sw->pos);
        /* Passes start interval_ms apart; one that takes longer is followed at once. */
        sw->next_pass_ms = now_ms + sw->interval_ms;
    }

    sw->step_now_ms = now_ms;
    sw->action_count = 0;
    struct engine_scan_result r;
    enum rkv_err scan_err = engine_scan_batch(s, &sw->pos, RKV_SWEEP_SCAN_PER_STEP_MAX, sw, sweep_visit, &r);
    RKV_ASSERT(r.examined_count <= RKV_SWEEP_SCAN_PER_STEP_MAX);
    RKV_ASSERT(sw->action_count <= RKV_SWEEP_WRITES_PER_STEP_MAX);
    sw->stats.scanned_count += r.examined_count;
    sw->stats.corrupt_count += r.corrupt_count;

    /* The actions found before a scan error are still sound: each is checked again. */
    bool wrote = false;
    enum rkv_err err = RKV_OK;
    for (uint32_t i = 0; i < sw->action_count && err == RKV_OK; i++) {
        bool w = false;
        err = sweep_apply_one(sw, s, rc, &sw->actions[i], &w);
        wrote = wrote || w;
    }
    sw->action_count = 0;
    /* The last check may have left the cursor on a record: hold no snapshot between turns. */
    engine_shard_idle(s);

    if (err == RKV_OK)
        err = scan_err;
    if (err != RKV_OK) {
        sw->stats.errors_count++;
        sw->due_ms = now_ms + sw->interval_ms;
        rkv_log(RKV_LOG_WARN, "sweep: storage error (%s); the pass resumes in %" PRIu64 " ms",
                rkv_err_message(err), sw->interval_ms);
        return wrote;
    }
    if (r.end) {
        sw->pass_active = false;
        sw->stats.passes_count++;
        sw->due_ms = sw->next_pass_ms;
        RKV_DEBUG_LOG("sweep: pass %" PRIu64 " done: %" PRIu64 " scanned, %" PRIu64 " expired, %" PRIu64
                      " purged, %" PRIu64 " corrupt in total",
                      sw->stats.passes_count, sw->stats.scanned_count, sw->stats.expired_count,
                      sw->stats.purged_count, sw->stats.corrupt_count);
    }
    return wrote;
}
