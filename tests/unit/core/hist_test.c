/* Tests of core/hist: the bucket arithmetic tiles 0..60 s without gaps and within the width
 * bound, percentiles of known distributions are within the stated error (exact below 256 µs,
 * at most 1/128 above), the limits 0, 1 µs, 60 s and 60 s + 1 behave as documented, and a
 * merge is the same as recording everything into one histogram. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hist.h"

/* A deterministic generator for the tests (splitmix64). */
static uint64_t test_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The true value at percentile p of sorted[0..n): the value of rank ceil(p% of n). */
static uint64_t true_percentile(const uint64_t *sorted, size_t n, double p)
{
    double exact = p / 100.0 * (double)n;
    size_t rank = (size_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank == 0)
        rank = 1;
    return sorted[rank - 1];
}

static void assert_within_bound(uint64_t reported, uint64_t truth, const char *what)
{
    cr_assert_geq(reported, truth, "%s: reported %llu under the true %llu", what, (unsigned long long)reported,
                  (unsigned long long)truth);
    cr_assert_leq(reported, truth + truth / HIST_SUB_HALF, "%s: reported %llu over the bound of %llu", what,
                  (unsigned long long)reported, (unsigned long long)truth);
    if (truth < HIST_SUB_COUNT)
        cr_assert_eq(reported, truth, "%s: below 256 us the value is exact", what);
}

Test(hist, buckets_tile_the_range_without_gaps_or_overlap)
{
    cr_assert_eq(hist_bucket_low(0), 0u);
    for (uint32_t i = 0; i + 1 < HIST_BUCKET_COUNT; i++) {
        cr_assert_leq(hist_bucket_low(i), hist_bucket_high(i));
        cr_assert_eq(hist_bucket_high(i) + 1u, hist_bucket_low(i + 1), "gap after bucket %u", i);
        if (hist_bucket_high(i) > HIST_VALUE_US_MAX)
            continue; /* the last buckets reach past 60 s, where values are clamped */
        cr_assert_eq(hist_bucket_of(hist_bucket_low(i)), i);
        cr_assert_eq(hist_bucket_of(hist_bucket_high(i)), i);
    }
    cr_assert_eq(hist_bucket_of(HIST_VALUE_US_MAX), hist_bucket_of(HIST_VALUE_US_MAX - 1u));
    cr_assert_lt(hist_bucket_of(HIST_VALUE_US_MAX), HIST_BUCKET_COUNT);
    cr_assert_geq(hist_bucket_high(HIST_BUCKET_COUNT - 1u), HIST_VALUE_US_MAX);
}

Test(hist, every_bucket_is_narrower_than_its_values_over_128)
{
    for (uint32_t i = 0; i < HIST_BUCKET_COUNT; i++) {
        uint64_t width = hist_bucket_high(i) - hist_bucket_low(i) + 1u;
        if (i < HIST_SUB_COUNT)
            cr_assert_eq(width, 1u, "bucket %u below 256 us is exact", i);
        else
            cr_assert_leq(width * HIST_SUB_HALF, hist_bucket_low(i), "bucket %u too wide", i);
    }
}

Test(hist, empty_histogram_reports_zero_everywhere)
{
    struct hist h;
    hist_init(&h);
    cr_assert_eq(h.count, 0u);
    cr_assert_eq(hist_percentile(&h, 50.0), 0u);
    cr_assert_eq(hist_percentile(&h, 100.0), 0u);
    cr_assert_eq(hist_mean(&h), 0.0);
}

Test(hist, value_zero_is_recorded_exactly)
{
    struct hist h;
    hist_init(&h);
    hist_record(&h, 0);
    cr_assert_eq(h.count, 1u);
    cr_assert_eq(h.min_us, 0u);
    cr_assert_eq(h.max_us, 0u);
    cr_assert_eq(hist_percentile(&h, 50.0), 0u);
    cr_assert_eq(hist_percentile(&h, 99.9), 0u);
}

Test(hist, one_microsecond_is_recorded_exactly)
{
    struct hist h;
    hist_init(&h);
    hist_record(&h, 1);
    cr_assert_eq(h.min_us, 1u);
    cr_assert_eq(hist_percentile(&h, 0.0), 1u);
    cr_assert_eq(hist_percentile(&h, 50.0), 1u);
    cr_assert_eq(hist_percentile(&h, 100.0), 1u);
    cr_assert_eq(h.clamped_count, 0u);
}

Test(hist, sixty_seconds_is_the_largest_value_kept_as_is)
{
    struct hist h;
    hist_init(&h);
    hist_record(&h, HIST_VALUE_US_MAX);
    cr_assert_eq(h.clamped_count, 0u);
    cr_assert_eq(h.max_us, HIST_VALUE_US_MAX);
    cr_assert_eq(hist_percentile(&h, 50.0), HIST_VALUE_US_MAX);
    cr_assert_eq(hist_percentile(&h, 100.0), HIST_VALUE_US_MAX);
}

Test(hist, above_sixty_seconds_is_clamped_and_counted)
{
    struct hist h;
    hist_init(&h);
    hist_record(&h, 10);
    hist_record(&h, HIST_VALUE_US_MAX + 1u);
    hist_record(&h, UINT64_MAX);
    cr_assert_eq(h.count, 3u);
    cr_assert_eq(h.clamped_count, 2u);
    cr_assert_eq(h.max_us, HIST_VALUE_US_MAX);
    cr_assert_eq(hist_percentile(&h, 100.0), HIST_VALUE_US_MAX);
    cr_assert_eq(hist_percentile(&h, 1.0), 10u);
    cr_assert_eq(h.sum_us, 10u + 2u * HIST_VALUE_US_MAX);
}

Test(hist, uniform_1_to_100000_percentiles_within_bound)
{
    struct hist h;
    hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(&h, v);
    cr_assert_eq(h.count, 100000u);
    cr_assert_eq(h.min_us, 1u);
    cr_assert_eq(h.max_us, 100000u);
    assert_within_bound(hist_percentile(&h, 50.0), 50000, "p50");
    assert_within_bound(hist_percentile(&h, 90.0), 90000, "p90");
    assert_within_bound(hist_percentile(&h, 99.0), 99000, "p99");
    assert_within_bound(hist_percentile(&h, 99.9), 99900, "p99.9");
    assert_within_bound(hist_percentile(&h, 0.1), 100, "p0.1");
    cr_assert_eq(hist_percentile(&h, 100.0), 100000u);
    cr_assert_float_eq(hist_mean(&h), 50000.5, 1e-9);
}

Test(hist, bimodal_distribution_reports_each_mode)
{
    /* 99 % of requests at 100 us and 1 % at 20 ms: p50 and p90 are the fast mode, p99.9 and
     * max the slow one; p99 is the last fast value (rank 99000 of 100000). */
    struct hist h;
    hist_init(&h);
    for (int i = 0; i < 99000; i++)
        hist_record(&h, 100);
    for (int i = 0; i < 1000; i++)
        hist_record(&h, 20000);
    cr_assert_eq(hist_percentile(&h, 50.0), 100u);
    cr_assert_eq(hist_percentile(&h, 90.0), 100u);
    cr_assert_eq(hist_percentile(&h, 99.0), 100u);
    assert_within_bound(hist_percentile(&h, 99.01), 20000, "p99.01");
    assert_within_bound(hist_percentile(&h, 99.9), 20000, "p99.9");
    cr_assert_eq(hist_percentile(&h, 100.0), 20000u);
}

Test(hist, random_log_uniform_values_stay_within_bound_at_every_percentile)
{
    enum { N = 200000 };
    uint64_t *vals = malloc(N * sizeof(*vals));
    cr_assert_not_null(vals);
    struct hist h;
    hist_init(&h);
    uint64_t rng = 42;
    for (size_t i = 0; i < N; i++) {
        /* Spread over every power of two from 1 us to 60 s. */
        uint64_t r = test_rng_next(&rng);
        uint32_t bits = (uint32_t)(r % 26u);
        uint64_t v = (r >> 8) & ((1ull << bits) - 1u);
        v |= 1ull << bits;
        if (v > HIST_VALUE_US_MAX)
            v = HIST_VALUE_US_MAX;
        vals[i] = v;
        hist_record(&h, v);
    }
    qsort(vals, N, sizeof(*vals), cmp_u64);
    static const double ps[] = {0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        assert_within_bound(hist_percentile(&h, ps[i]), true_percentile(vals, N, ps[i]), "percentile");
    cr_assert_eq(hist_percentile(&h, 100.0), vals[N - 1]);
    cr_assert_eq(hist_percentile(&h, 0.0), vals[0]);
    free(vals);
}

Test(hist, merge_equals_recording_into_one)
{
    struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *one = malloc(sizeof(*one));
    cr_assert(a && b && one);
    hist_init(a);
    hist_init(b);
    hist_init(one);
    uint64_t rng = 7;
    for (int i = 0; i < 50000; i++) {
        uint64_t v = test_rng_next(&rng) % (2u * HIST_VALUE_US_MAX); /* some clamp */
        hist_record((i % 3) ? a : b, v);
        hist_record(one, v);
    }
    hist_merge(a, b);
    cr_assert_eq(a->count, one->count);
    cr_assert_eq(a->clamped_count, one->clamped_count);
    cr_assert_gt(one->clamped_count, 0u);
    cr_assert_eq(a->min_us, one->min_us);
    cr_assert_eq(a->max_us, one->max_us);
    cr_assert_eq(a->sum_us, one->sum_us);
    cr_assert_eq(memcmp(a->buckets, one->buckets, sizeof(a->buckets)), 0);
    cr_assert_eq(hist_percentile(a, 99.0), hist_percentile(one, 99.0));
    free(a);
    free(b);
    free(one);
}

Test(hist, merging_an_empty_histogram_changes_nothing)
{
    struct hist a, e;
    hist_init(&a);
    hist_init(&e);
    hist_record(&a, 500);
    hist_merge(&a, &e);
    cr_assert_eq(a.count, 1u);
    cr_assert_eq(a.min_us, 500u);
    cr_assert_eq(a.max_us, 500u);
    hist_merge(&e, &a);
    cr_assert_eq(e.min_us, 500u);
    cr_assert_eq(e.count, 1u);
}

Test(hist, reset_forgets_everything)
{
    struct hist h;
    hist_init(&h);
    hist_record(&h, 123);
    hist_record(&h, UINT64_MAX);
    hist_reset(&h);
    cr_assert_eq(h.count, 0u);
    cr_assert_eq(h.clamped_count, 0u);
    cr_assert_eq(h.max_us, 0u);
    cr_assert_eq(h.min_us, UINT64_MAX);
    cr_assert_eq(hist_percentile(&h, 99.0), 0u);
    hist_record(&h, 7);
    cr_assert_eq(hist_percentile(&h, 50.0), 7u);
}

Test(hist, merge_into_itself_aborts, .signal = SIGABRT)
{
    struct hist h;
    hist_init(&h);
    hist_merge(&h, &h);
}

Test(hist, bucket_of_a_value_over_the_range_aborts, .signal = SIGABRT)
{
    (void)hist_bucket_of(HIST_VALUE_US_MAX + 1u);
}

Test(hist, bucket_index_past_the_last_aborts, .signal = SIGABRT)
{
    (void)hist_bucket_low(HIST_BUCKET_COUNT);
}
