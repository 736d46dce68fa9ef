/* The per-shard row cache (storage/rowcache.h): a chained hash table on the request's token
 * with a fixed slot array, entries in one malloc'd block each (struct, key, value), two
 * intrusive FIFO queues (small and main) and a ghost set of evicted tokens: S3-FIFO
 * (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023), written here
 * from the paper's description. Owned by one shard; no locks.
 *
 * Why S3-FIFO: new entries go to a small FIFO (about 10 % of the budget) and leave it
 * quickly unless they were hit there, so a one-pass scan or a burst of one-hit wonders only
 * churns the small FIFO and never pushes the hot working set out of main. Main is a FIFO
 * with re-insertion (a CLOCK): an entry at its tail that was hit goes back to its head with
 * one hit fewer. A key evicted from small and seen again soon (its token is still in the
 * ghost set) goes straight to main. Hits only set a two-bit counter: no list moves on the
 * read path.
 *
 * Memory: one malloc per entry (mimalloc in the server), never one per byte; an entry
 * replaced by a record that fits its block is rewritten in place. Each entry is charged the
 * allocator's usable size of its block, which includes the size-class rounding. */
#include "storage/rowcache.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/limits.h"

enum { Q_SMALL = 0, Q_MAIN = 1, Q_COUNT = 2 };

/* meta bits of an entry */
#define META_QUEUE_MASK 0x01u  /* Q_SMALL or Q_MAIN */
#define META_FREQ_SHIFT 1u
#define META_FREQ_MASK (0x03u << META_FREQ_SHIFT)
#define META_ABSENT 0x08u      /* storage holds nothing for the key: no header, no value */

_Static_assert(ROWCACHE_FREQ_MAX <= 3u, "the frequency is two bits");
_Static_assert(ROWCACHE_PROMOTE_FREQ_MIN >= 1u && ROWCACHE_PROMOTE_FREQ_MIN <= ROWCACHE_FREQ_MAX,
               "promotion needs a hit the counter can hold");
_Static_assert((ROWCACHE_SLOTS_MIN & (ROWCACHE_SLOTS_MIN - 1u)) == 0, "slot counts are powers of two");
_Static_assert(ROWCACHE_SLOTS_MIN / 2u >= ROWCACHE_GHOST_WAYS, "at least one ghost bucket");
_Static_assert(ROWCACHE_SMALL_PERCENT >= 1u && ROWCACHE_SMALL_PERCENT < 100u, "small is a share of the budget");
_Static_assert(RKV_KEY_BYTES_MAX <= UINT16_MAX, "key_bytes is 16-bit");

/* One cached key. Owner: its rowcache. 72 bytes, followed by key_bytes of key and
 * value_bytes of value in the same block. */
struct rowcache_entry {
    struct rowcache_entry *hnext;          /* hash chain */
    struct rowcache_entry *prev, *next;    /* queue: next is toward the tail (older) */
    uint64_t token;
    uint64_t timestamp, version, expiry_ms; /* the record header (unused when absent) */
    uint32_t origin;
    uint32_t value_bytes;
    uint32_t charge_bytes;                  /* malloc_usable_size() of the block */
    uint16_t key_bytes;
    uint8_t rec_flags;
    uint8_t meta;
    uint8_t data[];                         /* key, then value */
};
_Static_assert(sizeof(struct rowcache_entry) == 72u, "docs/storage.md states the entry overhead");

struct rowcache_queue {
    struct rowcache_entry *head, *tail; /* head: newest */
    uint64_t bytes;
    uint64_t count;
};

struct rowcache {
    uint64_t budget_bytes;
    uint64_t small_target_bytes;
    uint32_t value_bytes_max;
    uint64_t slot_mask;
    struct rowcache_entry **slots;
    uint64_t ghost_bucket_mask;
    uint64_t *ghost;        /* cells: fingerprint << 32 | seq; 0 is empty */
    uint32_t ghost_seq;     /* sequence of the last ghost insertion */
    uint64_t ghost_cells;
    struct rowcache_queue q[Q_COUNT];
    struct rowcache_stats st;
};

static uint64_t rowcache_pow2_ceil(uint64_t v)
{
    uint64_t p = 1;
    while (p < v && p < ROWCACHE_SLOTS_MAX) /* at most 32 doublings */
        p <<= 1;
    return p;
}

static uint64_t rowcache_fixed_bytes(uint64_t slots)
{
    return slots * sizeof(struct rowcache_entry *) + (slots / 2u) * sizeof(uint64_t);
}

uint64_t rowcache_budget_bytes_min(void)
{
    /* Two entries of the longest key, each rounded up generously for its size class. */
    return rowcache_fixed_bytes(ROWCACHE_SLOTS_MIN) + 2u * 2u * (sizeof(struct rowcache_entry) + RKV_KEY_BYTES_MAX);
}

enum rkv_err rowcache_create(const struct rowcache_config *cfg, struct rowcache **rc_out)
{
    RKV_ASSERT(rc_out != NULL);
    *rc_out = NULL;
    RKV_ASSERT(cfg != NULL);
    RKV_ASSERT(cfg->value_bytes_max <= RKV_VALUE_BYTES_MAX);
    if (cfg->budget_bytes < rowcache_budget_bytes_min())
        return RKV_INVALID_ARG;
    uint64_t slots = rowcache_pow2_ceil(cfg->budget_bytes / ROWCACHE_SLOT_BUDGET_BYTES);
    if (slots < ROWCACHE_SLOTS_MIN)
        slots = ROWCACHE_SLOTS_MIN;
    /* Keep the fixed arrays within a sixteenth of the budget whatever the rounding did. */
    while (slots > ROWCACHE_SLOTS_MIN && rowcache_fixed_bytes(slots) > cfg->budget_bytes / 16u)
        slots >>= 1; /* at most 32 halvings */
    struct rowcache *rc = calloc(1, sizeof *rc);
    if (rc == NULL)
        return RKV_BUSY;
    rc->budget_bytes = cfg->budget_bytes;
    rc->value_bytes_max = cfg->value_bytes_max;
    rc->slot_mask = slots - 1u;
    rc->ghost_cells = slots / 2u;
    rc->ghost_bucket_mask = rc->ghost_cells / ROWCACHE_GHOST_WAYS - 1u;
    rc->slots = calloc(slots, sizeof *rc->slots);
    rc->ghost = calloc(rc->ghost_cells, sizeof *rc->ghost);
    if (rc->slots == NULL || rc->ghost == NULL) {
        rowcache_destroy(rc);
        return RKV_BUSY;
    }
    rc->st.fixed_bytes = rowcache_fixed_bytes(slots);
    rc->st.bytes = rc->st.fixed_bytes;
    rc->st.budget_bytes = cfg->budget_bytes;
    /* The small FIFO's share is of the bytes left for entries. */
    rc->small_target_bytes = (cfg->budget_bytes - rc->st.fixed_bytes) / 100u * ROWCACHE_SMALL_PERCENT;
    RKV_ASSERT(rc->st.bytes <= rc->budget_bytes);
    *rc_out = rc;
    return RKV_OK;
}

void rowcache_destroy(struct rowcache *rc)
{
    if (rc == NULL)
        return;
    for (int q = 0; q < Q_COUNT; q++) {
        struct rowcache_entry *e = rc->q[q].head;
        while (e != NULL) { /* every entry is on exactly one queue: ends after entries_count */
            struct rowcache_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(rc->slots);
    free(rc->ghost);
    free(rc);
}

/* ---- queues ---- */

static unsigned entry_queue(const struct rowcache_entry *e) { return e->meta & META_QUEUE_MASK; }
static unsigned entry_freq(const struct rowcache_entry *e) { return (e->meta & META_FREQ_MASK) >> META_FREQ_SHIFT; }

static void entry_set_freq(struct rowcache_entry *e, unsigned f)
{
    RKV_ASSERT(f <= ROWCACHE_FREQ_MAX);
    e->meta = (uint8_t)((e->meta & ~META_FREQ_MASK) | (f << META_FREQ_SHIFT));
}

static void queue_push_head(struct rowcache *rc, unsigned qi, struct rowcache_entry *e)
{
    struct rowcache_queue *q = &rc->q[qi];
    e->meta = (uint8_t)((e->meta & ~META_QUEUE_MASK) | qi);
    e->prev = NULL;
    e->next = q->head;
    if (q->head != NULL)
        q->head->prev = e;
    else
        q->tail = e;
    q->head = e;
    q->bytes += e->charge_bytes;
    q->count++;
}

static void queue_remove(struct rowcache *rc, struct rowcache_entry *e)
{
    struct rowcache_queue *q = &rc->q[entry_queue(e)];
    RKV_ASSERT(q->count > 0);
    RKV_ASSERT(q->bytes >= e->charge_bytes);
    if (e->prev != NULL) e->prev->next = e->next; else q->head = e->next;
    if (e->next != NULL) e->next->prev = e->prev; else q->tail = e->prev;
    e->prev = e->next = NULL;
    q->bytes -= e->charge_bytes;
    q->count--;
}

/* ---- the hash table ---- */

/* The entry of (token, key), or NULL; *link_out is the pointer that points at it (or where
 * the chain ends). Chains are short: the slot array is sized from the budget. */
static struct rowcache_entry *table_find(struct rowcache *rc, uint64_t token, const uint8_t *key, size_t key_bytes,
                                         struct rowcache_entry ***link_out)
{
    struct rowcache_entry **link = &rc->slots[token & rc->slot_mask];
    struct rowcache_entry *e;
    for (e = *link; e != NULL; link = &e->hnext, e = *link) { /* ends with the chain */
        if (e->token == token && e->key_bytes == key_bytes && memcmp(e->data, key, key_bytes) == 0)
            break;
    }
    *link_out = link;
    return e;
}

/* Unlinks e from table and queue, takes its charge off and frees it. */
static void entry_drop(struct rowcache *rc, struct rowcache_entry *e)
{
    struct rowcache_entry **link;
    struct rowcache_entry *found = table_find(rc, e->token, e->data, e->key_bytes, &link);
    RKV_ASSERT(found == e);
    *link = e->hnext;
    queue_remove(rc, e);
    RKV_ASSERT(rc->st.bytes >= rc->st.fixed_bytes + e->charge_bytes);
    RKV_ASSERT(rc->st.entries_count > 0);
    rc->st.bytes -= e->charge_bytes;
    rc->st.entries_count--;
    free(e);
}

/* ---- the ghost set ---- */

static uint64_t *ghost_bucket(struct rowcache *rc, uint64_t token)
{
    /* Bucket from the low bits (as the slots), fingerprint from the high 32 bits. */
    return &rc->ghost[(token & rc->ghost_bucket_mask) * ROWCACHE_GHOST_WAYS];
}

static uint32_t ghost_fingerprint(uint64_t token) { return (uint32_t)(token >> 32) | 1u; }

/* The ghost remembers about as many evicted tokens as the cache holds entries (S3-FIFO sizes
 * it like main, which is most of the cache), at most its cell count; older cells no longer
 * count. */
static uint32_t ghost_window(const struct rowcache *rc)
{
    uint64_t w = rc->st.entries_count;
    if (w < ROWCACHE_GHOST_WAYS)
        w = ROWCACHE_GHOST_WAYS;
    if (w > rc->ghost_cells)
        w = rc->ghost_cells;
    return (uint32_t)w;
}

static void ghost_add(struct rowcache *rc, uint64_t token)
{
    uint64_t *b = ghost_bucket(rc, token);
    uint32_t seq = ++rc->ghost_seq;
    /* Replace the oldest cell of the bucket (empty cells are the oldest of all). */
    unsigned victim = 0;
    uint32_t oldest_age = 0;
    for (unsigned w = 0; w < ROWCACHE_GHOST_WAYS; w++) {
        uint32_t age = b[w] == 0 ? UINT32_MAX : seq - (uint32_t)b[w];
        if (w == 0 || age > oldest_age) {
            oldest_age = age;
            victim = w;
        }
    }
    b[victim] = (uint64_t)ghost_fingerprint(token) << 32 | seq;
}

/* True when token is in the ghost window; the cell is then cleared (the key is back). */
static bool ghost_take(struct rowcache *rc, uint64_t token)
{
    uint64_t *b = ghost_bucket(rc, token);
    uint32_t fp = ghost_fingerprint(token);
    uint32_t window = ghost_window(rc);
    for (unsigned w = 0; w < ROWCACHE_GHOST_WAYS; w++) {
        if (b[w] != 0 && (uint32_t)(b[w] >> 32) == fp) {
            bool recent = rc->ghost_seq - (uint32_t)b[w] < window;
            b[w] = 0;
            return recent;
        }
    }
    return false;
}

/* ---- eviction ---- */

/* Evicts one entry by S3-FIFO. Examines at most ROWCACHE_EVICT_SCAN_MAX entries that it
 * keeps (promotes, or re-inserts into main) before it evicts one regardless of its hits.
 * False when the cache is empty. */
static bool rowcache_evict_one(struct rowcache *rc)
{
    for (uint32_t kept = 0;; kept++) { /* each turn keeps one entry or returns; see the cap */
        bool force = kept >= ROWCACHE_EVICT_SCAN_MAX;
        struct rowcache_queue *small = &rc->q[Q_SMALL], *main_q = &rc->q[Q_MAIN];
        if (small->count > 0 && (small->bytes >= rc->small_target_bytes || main_q->count == 0)) {
            struct rowcache_entry *e = small->tail;
            if (!force && entry_freq(e) >= ROWCACHE_PROMOTE_FREQ_MIN) {
                queue_remove(rc, e);
                entry_set_freq(e, 0);
                queue_push_head(rc, Q_MAIN, e);
                rc->st.promotions_count++;
                continue;
            }
            ghost_add(rc, e->token);
            entry_drop(rc, e);
            rc->st.evictions_count++;
            return true;
        }
        if (main_q->count == 0)
            return false;
        struct rowcache_entry *e = main_q->tail;
        unsigned f = entry_freq(e);
        if (!force && f > 0) {
            queue_remove(rc, e);
            entry_set_freq(e, f - 1u);
            queue_push_head(rc, Q_MAIN, e);
            continue;
        }
        entry_drop(rc, e);
        rc->st.evictions_count++;
        return true;
    }
}

/* Evicts until charge more bytes fit in the budget. False when they cannot. */
static bool rowcache_make_room(struct rowcache *rc, uint64_t charge)
{
    if (charge > rc->budget_bytes - rc->st.fixed_bytes)
        return false;
    /* Every turn frees one entry, so this ends after entries_count turns at most. */
    while (rc->st.bytes + charge > rc->budget_bytes) {
        if (!rowcache_evict_one(rc))
            return false;
    }
    return true;
}

/* ---- the API ---- */

static void entry_fill(struct rowcache_entry *e, const struct record_view *rec)
{
    if (rec == NULL) {
        e->meta |= META_ABSENT;
        e->rec_flags = 0;
        e->origin = 0;
        e->timestamp = e->version = e->expiry_ms = 0;
        e->value_bytes = 0;
        return;
    }
    e->meta &= (uint8_t)~META_ABSENT;
    e->rec_flags = rec->hdr.flags;
    e->origin = rec->hdr.origin;
    e->timestamp = rec->hdr.timestamp;
    e->version = rec->hdr.version;
    e->expiry_ms = rec->hdr.expiry_ms;
    e->value_bytes = rec->value_bytes;
    if (rec->value_bytes > 0)
        memcpy(e->data + e->key_bytes, rec->value, rec->value_bytes);
}

enum rowcache_hit rowcache_lookup(struct rowcache *rc, uint64_t token, const uint8_t *key, size_t key_bytes,
                                  struct record_view *view_out)
{
    RKV_ASSERT(view_out != NULL);
    memset(view_out, 0, sizeof *view_out);
    RKV_ASSERT(rc != NULL);
    RKV_ASSERT(key_bytes >= 1 && key_bytes <= RKV_KEY_BYTES_MAX);
    struct rowcache_entry **link;
    struct rowcache_entry *e = table_find(rc, token, key, key_bytes, &link);
    if (e == NULL) {
        rc->st.misses_count++;
        return ROWCACHE_MISS;
    }
    rc->st.hits_count++;
    unsigned f = entry_freq(e);
    if (f < ROWCACHE_FREQ_MAX)
        entry_set_freq(e, f + 1u);
    if (e->meta & META_ABSENT)
        return ROWCACHE_ABSENT;
    view_out->hdr.flags = e->rec_flags;
    view_out->hdr.origin = e->origin;
    view_out->hdr.timestamp = e->timestamp;
    view_out->hdr.version = e->version;
    view_out->hdr.expiry_ms = e->expiry_ms;
    view_out->value = e->value_bytes > 0 ? e->data + e->key_bytes : NULL;
    view_out->value_bytes = e->value_bytes;
    return ROWCACHE_RECORD;
}

void rowcache_remove(struct rowcache *rc, uint64_t token, const uint8_t *key, size_t key_bytes)
{
    RKV_ASSERT(rc != NULL);
    RKV_ASSERT(key_bytes >= 1 && key_bytes <= RKV_KEY_BYTES_MAX);
    struct rowcache_entry **link;
    struct rowcache_entry *e = table_find(rc, token, key, key_bytes, &link);
    if (e == NULL)
        return;
    entry_drop(rc, e);
    rc->st.removals_count++;
}

void rowcache_store(struct rowcache *rc, enum rowcache_mode mode, uint64_t token, const uint8_t *key,
                    size_t key_bytes, const struct record_view *rec)
{
    RKV_ASSERT(rc != NULL);
    RKV_ASSERT(key_bytes >= 1 && key_bytes <= RKV_KEY_BYTES_MAX);
    RKV_ASSERT(rec == NULL || rec->value_bytes <= RKV_VALUE_BYTES_MAX);
    RKV_ASSERT(rec == NULL || !(rec->hdr.flags & REC_F_TOMBSTONE) || rec->value_bytes == 0);
    if (rec != NULL && rec->value_bytes > rc->value_bytes_max) {
        /* Too big to cache: whatever was cached for the key is no longer the record. */
        rowcache_remove(rc, token, key, key_bytes);
        return;
    }
    uint32_t value_bytes = rec != NULL ? rec->value_bytes : 0;
    size_t size = sizeof(struct rowcache_entry) + key_bytes + value_bytes;

    struct rowcache_entry **link;
    struct rowcache_entry *old = table_find(rc, token, key, key_bytes, &link);
    if (old == NULL && mode == ROWCACHE_UPDATE)
        return;
    unsigned qi = Q_SMALL, freq = 0;
    if (old != NULL) {
        rc->st.updates_count++;
        /* Rewritten in place when the block fits and is not more than twice what is needed,
         * so that the charge stays honest; no allocation and no eviction then. */
        if (old->charge_bytes >= size && old->charge_bytes / 2u < size) {
            entry_fill(old, rec);
            return;
        }
        qi = entry_queue(old);
        freq = entry_freq(old);
        entry_drop(rc, old);
    } else if (ghost_take(rc, token)) {
        qi = Q_MAIN;
        rc->st.promotions_count++;
    }

    struct rowcache_entry *e = malloc(size);
    if (e == NULL)
        return; /* the old entry is gone: the cache forgets rather than lies */
    size_t charge = malloc_usable_size(e);
    RKV_ASSERT(charge >= size);
    if (charge > UINT32_MAX || !rowcache_make_room(rc, charge)) {
        free(e);
        return;
    }
    memset(e, 0, sizeof *e);
    e->token = token;
    e->key_bytes = (uint16_t)key_bytes;
    e->charge_bytes = (uint32_t)charge;
    memcpy(e->data, key, key_bytes);
    entry_fill(e, rec);
    entry_set_freq(e, freq);
    /* Eviction may have changed the chain: link at the slot's head. */
    struct rowcache_entry **slot = &rc->slots[token & rc->slot_mask];
    e->hnext = *slot;
    *slot = e;
    queue_push_head(rc, qi, e);
    rc->st.bytes += charge;
    rc->st.entries_count++;
    if (old == NULL)
        rc->st.inserts_count++;
    RKV_ASSERT(rc->st.bytes <= rc->budget_bytes);
}

void rowcache_stats(const struct rowcache *rc, struct rowcache_stats *stats_out)
{
    RKV_ASSERT(rc != NULL);
    RKV_ASSERT(stats_out != NULL);
    *stats_out = rc->st;
}

void rowcache_check(const struct rowcache *rc)
{
    RKV_ASSERT(rc != NULL);
    uint64_t bytes = rc->st.fixed_bytes, count = 0;
    for (int q = 0; q < Q_COUNT; q++) {
        uint64_t qb = 0, qc = 0;
        const struct rowcache_entry *prev = NULL;
        for (const struct rowcache_entry *e = rc->q[q].head; e != NULL; e = e->next) {
            RKV_ASSERT(entry_queue(e) == (unsigned)q);
            RKV_ASSERT(e->prev == prev);
            RKV_ASSERT(e->charge_bytes >= sizeof *e + e->key_bytes + e->value_bytes);
            RKV_ASSERT(e->value_bytes <= rc->value_bytes_max);
            /* the entry is reachable from its slot */
            const struct rowcache_entry *h = rc->slots[e->token & rc->slot_mask];
            while (h != NULL && h != e)
                h = h->hnext;
            RKV_ASSERT(h == e);
            qb += e->charge_bytes;
            qc++;
            prev = e;
        }
        RKV_ASSERT(rc->q[q].tail == prev);
        RKV_ASSERT(rc->q[q].bytes == qb);
        RKV_ASSERT(rc->q[q].count == qc);
        bytes += qb;
        count += qc;
    }
    RKV_ASSERT(bytes == rc->st.bytes);
    RKV_ASSERT(count == rc->st.entries_count);
    RKV_ASSERT(rc->st.bytes <= rc->budget_bytes);
}
