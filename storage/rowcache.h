/* The per-shard row cache: the latest stored record of hot keys (header and value, a
 * tombstone, or a "known absent" marker), kept in front of WiredTiger so that hot reads and
 * the read that every write does first are served from memory. One struct rowcache per
 * shard, created, used and destroyed on that shard's thread only; nothing in it is shared.
 *
 * Coherence rule: an entry is always a copy of what the shard's table holds for its key.
 * The cache is filled only from storage reads, and every write to the table (kv_put(),
 * kv_delete(), the sweep's expire and purge, anything else that calls engine_write() or
 * engine_remove()) calls rowcache_store() or rowcache_remove() in the same call, right after
 * the engine call (write-through). A failed engine write removes the entry, which is coherent
 * whatever the failure left in the table. Who writes storage without doing so breaks the cache.
 *
 * Table: chained hash on the token the request already computed (no second hash), with a
 * slot array fixed at creation; the key bytes are compared to confirm a match. Eviction:
 * S3-FIFO (a small FIFO of about 10 % of the budget for new entries, a main FIFO, and a
 * ghost set of the tokens of entries evicted from the small FIFO); docs/storage.md §9.
 *
 * Accounting: bytes_accounted = the fixed arrays (hash slots and ghost set) + for each
 * entry, the allocator's usable size of its one block (struct rowcache_entry + key + value).
 * It never exceeds the budget: room is made before an entry is linked in. */
#ifndef RKV_STORAGE_ROWCACHE_H
#define RKV_STORAGE_ROWCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "storage/record.h"

struct rowcache;

/* Hash slots per byte of budget: one slot per ROWCACHE_SLOT_BUDGET_BYTES, rounded up to a
 * power of two. A typical small record (16-byte key, 100-byte value) costs about 190 bytes,
 * so a full cache has chains of about one entry; the slots cost 8 / 256 = 3.1 % of the
 * budget, the ghost set (half as many 8-byte cells) 1.6 %. */
#define ROWCACHE_SLOT_BUDGET_BYTES 256u
#define ROWCACHE_SLOTS_MIN 64u
#define ROWCACHE_SLOTS_MAX (1ull << 32)
/* The small FIFO's share of the budget, in percent (S3-FIFO's 10 %). */
#define ROWCACHE_SMALL_PERCENT 10u
/* An entry leaving the small FIFO moves to main when it was hit at least this often there;
 * otherwise it is evicted and its token goes to the ghost set. */
#define ROWCACHE_PROMOTE_FREQ_MIN 1u
/* Hits counted per entry saturate here (two bits): how many times main re-inserts it. */
#define ROWCACHE_FREQ_MAX 3u
/* Entries one eviction may examine (re-inserting those with hits) before it evicts the
 * tail of main regardless of its hits: bounds the work of any one store. */
#define ROWCACHE_EVICT_SCAN_MAX 64u
/* Ways per ghost bucket. */
#define ROWCACHE_GHOST_WAYS 4u

struct rowcache_config {
    uint64_t budget_bytes;    /* this shard's share; must hold the fixed arrays (see create) */
    uint32_t value_bytes_max; /* values longer than this are not cached, 0..RKV_VALUE_BYTES_MAX */
};

/* Running counters and gauges, read by the owning shard's metrics snapshot. */
struct rowcache_stats {
    uint64_t hits_count;      /* lookups answered from the cache (records and absent markers) */
    uint64_t misses_count;    /* lookups that found nothing */
    uint64_t inserts_count;   /* entries linked in (fills and writes, not in-place updates) */
    uint64_t updates_count;   /* entries replaced by a write of their key */
    uint64_t evictions_count; /* entries evicted to make room */
    uint64_t removals_count;  /* entries removed by rowcache_remove() or an uncachable write */
    uint64_t promotions_count; /* small -> main moves, and ghost hits inserted into main */
    uint64_t bytes;           /* bytes accounted now, fixed arrays included, <= budget_bytes */
    uint64_t fixed_bytes;     /* the part of bytes that is the slot array and the ghost set */
    uint64_t budget_bytes;
    uint64_t entries_count;
};

enum rowcache_hit { ROWCACHE_MISS, ROWCACHE_RECORD, ROWCACHE_ABSENT };

/* How rowcache_store() treats a key that has no entry. */
enum rowcache_mode {
    ROWCACHE_FILL,   /* a storage read: insert (a new entry, or replace) */
    ROWCACHE_WRITE,  /* a write applied to storage: insert or replace (write-allocate) */
    ROWCACHE_UPDATE, /* background writes (the sweep): replace an entry, never insert one */
};

/* Creates a cache with the given budget. The slot array and ghost set are allocated now
 * and count against the budget. RKV_INVALID_ARG when budget_bytes cannot hold them plus one
 * smallest entry; RKV_BUSY when out of memory. *rc_out is NULL on error. Shard thread. */
enum rkv_err rowcache_create(const struct rowcache_config *cfg, struct rowcache **rc_out);
/* Frees every entry and the cache. NULL is allowed. */
void rowcache_destroy(struct rowcache *rc);

/* The smallest budget rowcache_create() accepts (the fixed arrays of ROWCACHE_SLOTS_MIN
 * slots and one entry with a 256-byte key and no value, rounded generously). */
uint64_t rowcache_budget_bytes_min(void);

/* Looks (token, key) up. ROWCACHE_RECORD: *view_out is the cached record (tombstones and
 * expired records included: the caller applies record_visible()); its value points into the
 * entry and is valid until the next rowcache_store(), rowcache_remove() or
 * rowcache_destroy() on rc. ROWCACHE_ABSENT: storage holds nothing for the key.
 * ROWCACHE_MISS: ask storage. A hit counts toward the entry's frequency. */
enum rowcache_hit rowcache_lookup(struct rowcache *rc, uint64_t token, const uint8_t *key, size_t key_bytes,
                                  struct record_view *view_out);

/* Records that storage now holds rec for (token, key) (rec == NULL: holds nothing, the
 * key is known absent). Copies the key and value; keeps no pointer to them. A record whose
 * value is longer than value_bytes_max removes the entry instead. Evicts as needed so that
 * bytes stay within the budget; when memory runs out the entry is removed (never stale).
 * Ends the validity of views from rowcache_lookup(). Shard thread. */
void rowcache_store(struct rowcache *rc, enum rowcache_mode mode, uint64_t token, const uint8_t *key,
                    size_t key_bytes, const struct record_view *rec);

/* Forgets (token, key): storage may hold anything for it now. */
void rowcache_remove(struct rowcache *rc, uint64_t token, const uint8_t *key, size_t key_bytes);

void rowcache_stats(const struct rowcache *rc, struct rowcache_stats *stats_out);

/* Test support: walks every entry and the queues and asserts that the accounting, the
 * queue sizes and the table agree. O(entries). */
void rowcache_check(const struct rowcache *rc);

#endif
