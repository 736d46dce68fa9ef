/* Hybrid logical clock, shared by the shards of a node: the physical time is handed in,
 * nothing is read from the system. Invariant: c->last only grows, and every tick returns a
 * value strictly above everything issued or observed before it, whichever thread asked;
 * both hold because every change is one compare-and-swap from the value it was computed from. */
#include "core/hlc.h"

#include <stdatomic.h>

#include "core/assert.h"

/* The physical part has 48 bits: milliseconds up to the year 10889. A wall clock beyond
 * that is a bug of the caller (it passes milliseconds, not nanoseconds), not input. */
#define HLC_PHYS_MS_LIMIT (UINT64_C(1) << (64u - HLC_LOGICAL_BITS))

void hlc_init(struct hlc *c)
{
    RKV_ASSERT(c != NULL);
    atomic_init(&c->last, 0);
}

uint64_t hlc_tick(struct hlc *c, uint64_t now_ms)
{
    RKV_ASSERT(c != NULL);
    RKV_ASSERT(now_ms < HLC_PHYS_MS_LIMIT);
    uint64_t last = atomic_load_explicit(&c->last, memory_order_relaxed);
    for (;;) {
        /* The wall clock stalled or went back: count on in the logical part. Adding one to
         * the packed value carries a full logical counter into the physical part by itself,
         * so the clock runs a millisecond ahead of the wall until the wall catches up. The
         * only value with no successor is UINT64_MAX, which no honest clock reaches: callers
         * bound the skew of foreign timestamps before they observe them (DESIGN §3). */
        RKV_ASSERT(last < UINT64_MAX);
        uint64_t next = now_ms > hlc_phys_ms(last) ? hlc_make(now_ms, 0) : last + 1u;
        /* On failure `last` is reloaded with the value another shard just set. */
        if (atomic_compare_exchange_weak_explicit(&c->last, &last, next, memory_order_relaxed, memory_order_relaxed))
            return next;
    }
}

void hlc_observe(struct hlc *c, uint64_t seen_ts)
{
    RKV_ASSERT(c != NULL);
    uint64_t last = atomic_load_explicit(&c->last, memory_order_relaxed);
    while (seen_ts > last &&
           !atomic_compare_exchange_weak_explicit(&c->last, &last, seen_ts, memory_order_relaxed, memory_order_relaxed)) {
    }
}

enum rkv_err hlc_observe_checked(struct hlc *c, uint64_t seen_ts, uint64_t now_ms, uint64_t max_skew_ms)
{
    RKV_ASSERT(c != NULL);
    RKV_ASSERT(now_ms < HLC_PHYS_MS_LIMIT);
    /* seen_ts is input from another node: refused, never asserted. The difference is taken
     * only when the seen time is ahead, so nothing overflows whatever max_skew_ms is. */
    if (seen_ts == UINT64_MAX)
        return RKV_CLOCK_SKEW;
    uint64_t seen_ms = hlc_phys_ms(seen_ts);
    if (seen_ms > now_ms && seen_ms - now_ms > max_skew_ms)
        return RKV_CLOCK_SKEW;
    hlc_observe(c, seen_ts);
    return RKV_OK;
}
