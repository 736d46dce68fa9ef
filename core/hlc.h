/* Hybrid logical clock: a 64-bit timestamp = physical ms (48 bits) << 16 | logical counter
 * (16 bits). The physical time is an argument, so tests are deterministic.
 *
 * One clock per node (issue 5): every shard stamps and observes through the same struct hlc,
 * so no two writes of a node ever carry the same timestamp and every timestamp any shard
 * receives advances the whole node. It is the one mutable object the shards share besides
 * their message rings: a single 64-bit word changed by compare-and-swap (lock-free; one
 * cache line that moves between cores on writes, never on reads of stored data). Every
 * timestamp a shard stores or receives is observed, so timestamps of one key only grow. */
#ifndef RKV_CORE_HLC_H
#define RKV_CORE_HLC_H

#include <stdint.h>

#include "core/err.h"

#define HLC_LOGICAL_BITS 16u
#define HLC_LOGICAL_MAX ((1u << HLC_LOGICAL_BITS) - 1u)

struct hlc {
    _Atomic uint64_t last; /* the largest timestamp issued or observed */
};

static inline uint64_t hlc_make(uint64_t phys_ms, uint32_t logical) { return phys_ms << HLC_LOGICAL_BITS | logical; }
static inline uint64_t hlc_phys_ms(uint64_t ts) { return ts >> HLC_LOGICAL_BITS; }
static inline uint32_t hlc_logical(uint64_t ts) { return (uint32_t)(ts & HLC_LOGICAL_MAX); }

void hlc_init(struct hlc *c);
/* Returns a timestamp larger than every one issued or observed before: (now_ms, 0) when the
 * wall clock moved past the last one, else last + 1 (the logical counter carries into the
 * physical part when it overflows, so time never runs backwards). */
uint64_t hlc_tick(struct hlc *c, uint64_t now_ms);
/* Folds a timestamp seen elsewhere (a stored record, a peer) into the clock. */
void hlc_observe(struct hlc *c, uint64_t seen_ts);
/* Folds a timestamp stamped by another node into the clock, unless its physical part is more
 * than max_skew_ms ahead of now_ms (our wall clock): then RKV_CLOCK_SKEW and the clock is not
 * changed. Exactly max_skew_ms ahead is accepted (any logical part), max_skew_ms + 1 is not.
 * UINT64_MAX, which has no successor, is always refused. Otherwise RKV_OK, as hlc_observe().
 * The caller counts refusals; RKV_CLOCK_SKEW_MS_DEFAULT (core/limits.h) is the usual bound. */
enum rkv_err hlc_observe_checked(struct hlc *c, uint64_t seen_ts, uint64_t now_ms, uint64_t max_skew_ms);

#endif
