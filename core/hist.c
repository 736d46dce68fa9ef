/* Log-linear latency histogram (core/hist.h). A value v >= HIST_SUB_COUNT with top bit e
 * lands in bucket shift * HIST_SUB_HALF + (v >> shift), where shift = e - (HIST_SUB_BITS - 1)
 * keeps v >> shift in [HIST_SUB_HALF, HIST_SUB_COUNT); values below HIST_SUB_COUNT are their
 * own bucket. The indexes of consecutive powers of two therefore follow each other with no
 * gap, and a bucket of shift s is 2^s wide while holding values >= 2^s * HIST_SUB_HALF. */
#include "core/hist.h"

#include <string.h>

#include "core/assert.h"

void hist_init(struct hist *h)
{
    RKV_ASSERT(h != NULL);
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
}

void hist_reset(struct hist *h)
{
    hist_init(h);
}

uint32_t hist_bucket_of(uint64_t value_us)
{
    RKV_ASSERT(value_us <= HIST_VALUE_US_MAX);
    if (value_us < HIST_SUB_COUNT)
        return (uint32_t)value_us;
    uint32_t top_bit = 63u - (uint32_t)__builtin_clzll(value_us);
    uint32_t shift = top_bit - (HIST_SUB_BITS - 1u);
    uint32_t idx = shift * HIST_SUB_HALF + (uint32_t)(value_us >> shift);
    RKV_DEBUG_ASSERT(idx < HIST_BUCKET_COUNT);
    return idx;
}

uint64_t hist_bucket_low(uint32_t bucket_idx)
{
    RKV_ASSERT(bucket_idx < HIST_BUCKET_COUNT);
    if (bucket_idx < HIST_SUB_COUNT)
        return bucket_idx;
    uint32_t shift = bucket_idx / HIST_SUB_HALF - 1u;
    uint64_t sub = bucket_idx - shift * HIST_SUB_HALF;
    return sub << shift;
}

uint64_t hist_bucket_high(uint32_t bucket_idx)
{
    RKV_ASSERT(bucket_idx < HIST_BUCKET_COUNT);
    if (bucket_idx < HIST_SUB_COUNT)
        return bucket_idx;
    uint32_t shift = bucket_idx / HIST_SUB_HALF - 1u;
    return hist_bucket_low(bucket_idx) + (1ull << shift) - 1u;
}

void hist_record(struct hist *h, uint64_t value_us)
{
    if (RKV_UNLIKELY(value_us > HIST_VALUE_US_MAX)) {
        value_us = HIST_VALUE_US_MAX;
        h->clamped_count++;
    }
    h->buckets[hist_bucket_of(value_us)]++;
    h->count++;
    h->sum_us += value_us;
    if (value_us < h->min_us)
        h->min_us = value_us;
    if (value_us > h->max_us)
        h->max_us = value_us;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    RKV_ASSERT(dst != NULL && src != NULL);
    RKV_ASSERT(dst != src);
    for (uint32_t i = 0; i < HIST_BUCKET_COUNT; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->clamped_count += src->clamped_count;
    dst->sum_us += src->sum_us;
    if (src->min_us < dst->min_us)
        dst->min_us = src->min_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    RKV_ASSERT(h != NULL);
    if (h->count == 0)
        return 0;
    if (!(p > 0.0)) /* also catches NaN */
        return h->min_us;
    if (p >= 100.0)
        return h->max_us;
    /* The rank (1-based) of the value asked for: ceil(p% of count), at least 1. */
    double exact = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank == 0)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_BUCKET_COUNT; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            if (v > h->max_us)
                v = h->max_us;
            if (v < h->min_us)
                v = h->min_us;
            return v;
        }
    }
    /* The buckets sum to count, so the loop returns; keep a safe answer regardless. */
    RKV_DEBUG_ASSERT(false);
    return h->max_us;
}

double hist_mean(const struct hist *h)
{
    RKV_ASSERT(h != NULL);
    return h->count ? (double)h->sum_us / (double)h->count : 0.0;
}
