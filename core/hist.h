/* Latency histograms: log-linear buckets over microseconds, in the spirit of HdrHistogram.
 * Values 0 .. HIST_SUB_COUNT-1 µs each have their own bucket (exact); above that, every power
 * of two [2^e, 2^(e+1)) is split into HIST_SUB_HALF equal buckets, so a bucket is never wider
 * than 1/HIST_SUB_HALF of the values it holds. A struct hist is a fixed-size value (no
 * allocation, about 20 KiB), owned by one thread; merging copies counts, so per-thread
 * histograms are combined by their owner or after the threads are joined.
 *
 * Error bound: a percentile is reported as the highest value of the bucket that holds it,
 * clipped to the recorded [min, max]. So for the true sample value v at that rank the report
 * r satisfies v <= r <= v + v / HIST_SUB_HALF, a relative error below 1/128 (0.79 %), and
 * r == v exactly for v < HIST_SUB_COUNT (256 µs). min, max and the mean are exact (after
 * clamping, below). */
#ifndef RKV_CORE_HIST_H
#define RKV_CORE_HIST_H

#include <stdbool.h>
#include <stdint.h>

/* Range: 0 .. 60 s in µs. A larger value is recorded as HIST_VALUE_US_MAX and counted in
 * clamped_count, so nothing is lost silently. 60 s is longer than any timeout of ours. */
#define HIST_VALUE_US_MAX (60ull * 1000u * 1000u)
/* Bits of precision kept: 2^HIST_SUB_BITS sub-buckets, the upper half of them per power of
 * two above the exact range. 8 bits give the < 1 % bound stated above. */
#define HIST_SUB_BITS 8u
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)      /* 256: values below are exact */
#define HIST_SUB_HALF (HIST_SUB_COUNT / 2u)       /* 128 buckets per power of two */
/* Powers of two covered: every value below 2^HIST_VALUE_BITS has a bucket. */
#define HIST_VALUE_BITS 26u
_Static_assert(HIST_VALUE_US_MAX < (1ull << HIST_VALUE_BITS), "60 s fits in 26 bits of µs");
_Static_assert(HIST_VALUE_US_MAX >= (1ull << (HIST_VALUE_BITS - 1u)), "no power of two is wasted");
/* Buckets: the exact range, then HIST_SUB_HALF per power of two from 2^HIST_SUB_BITS up to
 * 2^(HIST_VALUE_BITS-1). */
#define HIST_BUCKET_COUNT (HIST_SUB_COUNT + (HIST_VALUE_BITS - HIST_SUB_BITS) * HIST_SUB_HALF)
_Static_assert(HIST_BUCKET_COUNT == 2560u, "18 powers of two of 128 buckets after 256 exact ones");

/* Owner: one thread. Fields are public for printing; change them only through hist_*(). */
struct hist {
    uint64_t count;         /* values recorded, clamped ones included */
    uint64_t clamped_count; /* values above HIST_VALUE_US_MAX, recorded as HIST_VALUE_US_MAX */
    uint64_t min_us;        /* UINT64_MAX while empty */
    uint64_t max_us;        /* 0 while empty */
    uint64_t sum_us;        /* for the mean; cannot overflow before 3e11 values of 60 s */
    uint64_t buckets[HIST_BUCKET_COUNT];
};

/* Empties h. A zeroed struct hist is not empty (min would be 0): call this first. */
void hist_init(struct hist *h);
/* Same as hist_init(): forget everything recorded. */
void hist_reset(struct hist *h);
/* Records one value in O(1). Values above HIST_VALUE_US_MAX are clamped and counted. */
void hist_record(struct hist *h, uint64_t value_us);
/* Adds everything recorded in src to dst, as if each value had been recorded into dst.
 * dst and src may not be the same histogram. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at percentile p (0..100; p outside is clipped to that range): the smallest
 * recorded value v such that at least p % of the values are <= v, reported with the error
 * bound in the file comment. p == 0 gives min, p == 100 gives max. 0 when empty. O(buckets). */
uint64_t hist_percentile(const struct hist *h, double p);
/* Mean of the recorded (clamped) values; 0 when empty. */
double hist_mean(const struct hist *h);

/* Bucket arithmetic, exported for tests: the bucket of a value (value <= HIST_VALUE_US_MAX)
 * and the lowest and highest value a bucket holds. */
uint32_t hist_bucket_of(uint64_t value_us);
uint64_t hist_bucket_low(uint32_t bucket_idx);
uint64_t hist_bucket_high(uint32_t bucket_idx);

#endif
