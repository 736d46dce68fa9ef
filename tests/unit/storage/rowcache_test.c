/* Tests of the row cache alone (storage/rowcache.h): insert, lookup, update and remove;
 * tombstones and known-absent markers; the budget, asserted after every operation under
 * eviction pressure; the value threshold at exactly the maximum and one byte over; scan
 * resistance and ghost promotion (S3-FIFO); and the hit ratio of a zipf(0.99) read workload
 * over 1M keys with a budget of 10 % of the data, which is printed. No storage here: the
 * records are made up, and tokens come from a fixed mix of the key's index. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/limits.h"
#include "storage/record.h"
#include "storage/rowcache.h"

/* A well-mixed 64-bit value of i (splitmix64's finaliser), standing in for XXH3. */
static uint64_t mix64(uint64_t i)
{
    uint64_t z = i + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A key of 16 bytes, like the benchmark's: "key:" and 12 digits. */
struct tkey {
    char b[17];
    uint64_t token;
};

static struct tkey key_of(uint64_t i)
{
    struct tkey k;
    snprintf(k.b, sizeof k.b, "key:%012llu", (unsigned long long)i);
    k.token = mix64(i);
    return k;
}

static uint8_t value_buf[RKV_VALUE_BYTES_MAX + 1];

static struct record_view rec_of(uint64_t version, uint32_t value_bytes)
{
    for (uint32_t i = 0; i < value_bytes && i < 64; i++)
        value_buf[i] = (uint8_t)(version + i);
    return (struct record_view){
        .hdr = { .flags = 0, .origin = 7, .timestamp = version << 16, .version = version, .expiry_ms = 0 },
        .value = value_bytes > 0 ? value_buf : NULL,
        .value_bytes = value_bytes,
    };
}

static struct rowcache *make(uint64_t budget, uint32_t value_max)
{
    struct rowcache_config cfg = { .budget_bytes = budget, .value_bytes_max = value_max };
    struct rowcache *rc = NULL;
    cr_assert_eq(rowcache_create(&cfg, &rc), RKV_OK);
    cr_assert_not_null(rc);
    return rc;
}

static void put(struct rowcache *rc, enum rowcache_mode mode, uint64_t i, uint64_t version, uint32_t value_bytes)
{
    struct tkey k = key_of(i);
    struct record_view r = rec_of(version, value_bytes);
    rowcache_store(rc, mode, k.token, (const uint8_t *)k.b, 16, &r);
}

static enum rowcache_hit get(struct rowcache *rc, uint64_t i, struct record_view *v)
{
    struct tkey k = key_of(i);
    return rowcache_lookup(rc, k.token, (const uint8_t *)k.b, 16, v);
}

static struct rowcache_stats stats(const struct rowcache *rc)
{
    struct rowcache_stats s;
    rowcache_stats(rc, &s);
    return s;
}

/* ---- basics ---- */

Test(rowcache, a_stored_record_is_found_with_its_header_and_value)
{
    struct rowcache *rc = make(1u << 20, 1024);
    struct record_view v;
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_MISS);
    put(rc, ROWCACHE_FILL, 1, 5, 40);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.hdr.version, 5u);
    cr_assert_eq(v.hdr.timestamp, 5u << 16);
    cr_assert_eq(v.hdr.origin, 7u);
    cr_assert_eq(v.hdr.flags, 0u);
    cr_assert_eq(v.value_bytes, 40u);
    for (uint32_t i = 0; i < 40; i++)
        cr_assert_eq(v.value[i], (uint8_t)(5 + i));
    cr_assert_eq(get(rc, 2, &v), ROWCACHE_MISS);
    struct rowcache_stats s = stats(rc);
    cr_assert_eq(s.hits_count, 1u);
    cr_assert_eq(s.misses_count, 2u);
    cr_assert_eq(s.inserts_count, 1u);
    cr_assert_eq(s.entries_count, 1u);
    cr_assert_geq(s.bytes, s.fixed_bytes + 72u + 16u + 40u, "the entry is charged its struct, key and value");
    rowcache_check(rc);
    rowcache_destroy(rc);
}

Test(rowcache, a_write_replaces_the_record_in_place_or_in_a_new_block)
{
    struct rowcache *rc = make(1u << 20, 4096);
    struct record_view v;
    put(rc, ROWCACHE_FILL, 1, 1, 100);
    put(rc, ROWCACHE_WRITE, 1, 2, 100); /* same size: in place */
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.hdr.version, 2u);
    put(rc, ROWCACHE_WRITE, 1, 3, 3000); /* larger: a new block */
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.hdr.version, 3u);
    cr_assert_eq(v.value_bytes, 3000u);
    put(rc, ROWCACHE_WRITE, 1, 4, 0); /* much smaller: a new block, so the charge stays honest */
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.hdr.version, 4u);
    cr_assert_eq(v.value_bytes, 0u);
    cr_assert_null(v.value);
    struct rowcache_stats s = stats(rc);
    cr_assert_eq(s.entries_count, 1u);
    cr_assert_eq(s.inserts_count, 1u);
    cr_assert_eq(s.updates_count, 3u);
    cr_assert_lt(s.bytes - s.fixed_bytes, 72u + 16u + 3000u, "the large block was given back");
    rowcache_check(rc);
    rowcache_destroy(rc);
}

Test(rowcache, remove_forgets_the_key_and_its_bytes)
{
    struct rowcache *rc = make(1u << 20, 1024);
    struct record_view v;
    uint64_t empty = stats(rc).bytes;
    put(rc, ROWCACHE_WRITE, 1, 1, 10);
    put(rc, ROWCACHE_WRITE, 2, 1, 10);
    rowcache_remove(rc, key_of(1).token, (const uint8_t *)key_of(1).b, 16);
    rowcache_remove(rc, key_of(3).token, (const uint8_t *)key_of(3).b, 16); /* not there: no-op */
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_MISS);
    cr_assert_eq(get(rc, 2, &v), ROWCACHE_RECORD);
    rowcache_remove(rc, key_of(2).token, (const uint8_t *)key_of(2).b, 16);
    cr_assert_eq(stats(rc).bytes, empty);
    cr_assert_eq(stats(rc).entries_count, 0u);
    cr_assert_eq(stats(rc).removals_count, 2u);
    rowcache_check(rc);
    rowcache_destroy(rc);
}

Test(rowcache, tombstones_and_absent_markers_are_cached)
{
    struct rowcache *rc = make(1u << 20, 1024);
    struct record_view v;
    struct tkey k = key_of(9);
    struct record_view t = { .hdr = { .flags = REC_F_TOMBSTONE, .origin = 1, .timestamp = 99, .version = 4, .expiry_ms = 1234 } };
    rowcache_store(rc, ROWCACHE_WRITE, k.token, (const uint8_t *)k.b, 16, &t);
    cr_assert_eq(get(rc, 9, &v), ROWCACHE_RECORD);
    cr_assert(v.hdr.flags & REC_F_TOMBSTONE);
    cr_assert_eq(v.hdr.version, 4u);
    cr_assert_eq(v.hdr.expiry_ms, 1234u, "a tombstone keeps its died_ms");
    rowcache_store(rc, ROWCACHE_UPDATE, k.token, (const uint8_t *)k.b, 16, NULL);
    cr_assert_eq(get(rc, 9, &v), ROWCACHE_ABSENT);
    cr_assert_eq(v.hdr.version, 0u);
    put(rc, ROWCACHE_WRITE, 9, 1, 5); /* a write over an absent key */
    cr_assert_eq(get(rc, 9, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.hdr.version, 1u);
    rowcache_check(rc);
    rowcache_destroy(rc);
}

Test(rowcache, update_mode_never_inserts)
{
    struct rowcache *rc = make(1u << 20, 1024);
    struct record_view v;
    put(rc, ROWCACHE_UPDATE, 1, 1, 10);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_MISS);
    cr_assert_eq(stats(rc).entries_count, 0u);
    put(rc, ROWCACHE_FILL, 1, 1, 10);
    put(rc, ROWCACHE_UPDATE, 1, 2, 10);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.hdr.version, 2u);
    rowcache_destroy(rc);
}

Test(rowcache, keys_sharing_a_token_are_told_apart_by_their_bytes)
{
    struct rowcache *rc = make(1u << 20, 1024);
    struct record_view v;
    const uint64_t token = 42;
    struct record_view a = rec_of(1, 3), b = rec_of(2, 3);
    rowcache_store(rc, ROWCACHE_FILL, token, (const uint8_t *)"aa", 2, &a);
    rowcache_store(rc, ROWCACHE_FILL, token, (const uint8_t *)"ab", 2, &b);
    rowcache_store(rc, ROWCACHE_FILL, token, (const uint8_t *)"a", 1, NULL);
    cr_assert_eq(rowcache_lookup(rc, token, (const uint8_t *)"aa", 2, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.hdr.version, 1u);
    cr_assert_eq(rowcache_lookup(rc, token, (const uint8_t *)"ab", 2, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.hdr.version, 2u);
    cr_assert_eq(rowcache_lookup(rc, token, (const uint8_t *)"a", 1, &v), ROWCACHE_ABSENT);
    cr_assert_eq(rowcache_lookup(rc, token, (const uint8_t *)"abc", 3, &v), ROWCACHE_MISS);
    rowcache_remove(rc, token, (const uint8_t *)"ab", 2);
    cr_assert_eq(rowcache_lookup(rc, token, (const uint8_t *)"aa", 2, &v), ROWCACHE_RECORD);
    rowcache_check(rc);
    rowcache_destroy(rc);
}

Test(rowcache, a_key_of_the_maximum_length_is_cached)
{
    struct rowcache *rc = make(1u << 20, 1024);
    uint8_t key[RKV_KEY_BYTES_MAX];
    memset(key, 0xab, sizeof key);
    struct record_view r = rec_of(3, 8), v;
    rowcache_store(rc, ROWCACHE_FILL, 5, key, sizeof key, &r);
    cr_assert_eq(rowcache_lookup(rc, 5, key, sizeof key, &v), ROWCACHE_RECORD);
    cr_assert_eq(rowcache_lookup(rc, 5, key, sizeof key - 1u, &v), ROWCACHE_MISS);
    rowcache_destroy(rc);
}

Test(rowcache, a_key_longer_than_the_maximum_aborts, .signal = SIGABRT)
{
    struct rowcache *rc = make(1u << 20, 1024);
    uint8_t key[RKV_KEY_BYTES_MAX + 1] = { 0 };
    struct record_view v;
    rowcache_lookup(rc, 5, key, sizeof key, &v);
}

/* ---- creation and the budget ---- */

Test(rowcache, a_budget_below_the_minimum_is_refused_and_the_minimum_accepted)
{
    struct rowcache *rc = (struct rowcache *)1;
    struct rowcache_config cfg = { .budget_bytes = rowcache_budget_bytes_min() - 1u, .value_bytes_max = 0 };
    cr_assert_eq(rowcache_create(&cfg, &rc), RKV_INVALID_ARG);
    cr_assert_null(rc);
    cfg.budget_bytes = 0;
    cr_assert_eq(rowcache_create(&cfg, &rc), RKV_INVALID_ARG);
    cfg.budget_bytes = rowcache_budget_bytes_min();
    cr_assert_eq(rowcache_create(&cfg, &rc), RKV_OK);
    struct rowcache_stats s = stats(rc);
    cr_assert_leq(s.bytes, s.budget_bytes);
    /* The smallest cache still holds a key of the maximum length. */
    uint8_t key[RKV_KEY_BYTES_MAX];
    memset(key, 1, sizeof key);
    rowcache_store(rc, ROWCACHE_FILL, 1, key, sizeof key, NULL);
    struct record_view v;
    cr_assert_eq(rowcache_lookup(rc, 1, key, sizeof key, &v), ROWCACHE_ABSENT);
    rowcache_check(rc);
    rowcache_destroy(rc);
    rowcache_destroy(NULL);
}

Test(rowcache, the_fixed_arrays_stay_within_a_sixteenth_of_large_budgets)
{
    static const uint64_t budgets[] = { 1u << 16, 1u << 20, 3u << 20, 100u << 20 };
    for (size_t i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        struct rowcache *rc = make(budgets[i], 1024);
        struct rowcache_stats s = stats(rc);
        cr_assert_leq(s.fixed_bytes, budgets[i] / 16u, "budget %llu", (unsigned long long)budgets[i]);
        cr_assert_eq(s.bytes, s.fixed_bytes);
        rowcache_destroy(rc);
    }
}

Test(rowcache, bytes_never_exceed_the_budget_under_eviction_pressure)
{
    /* 64 KiB for a mix of values from 0 to 8 KiB over 2,000 keys: most stores evict. Every
     * operation is followed by the budget check; the full consistency walk every 64. */
    const uint64_t budget = 64u << 10;
    struct rowcache *rc = make(budget, 8192);
    uint64_t seed = 12345;
    struct record_view v;
    for (uint32_t op = 0; op < 40000; op++) {
        seed = mix64(seed);
        uint64_t k = seed % 2000u;
        uint32_t value_bytes = (uint32_t)((seed >> 20) % 8193u);
        if ((seed >> 40) % 4u == 0)
            value_bytes = (uint32_t)((seed >> 44) % 200u);
        switch ((seed >> 50) % 6u) {
        case 0: put(rc, ROWCACHE_FILL, k, op + 1u, value_bytes); break;
        case 1: put(rc, ROWCACHE_WRITE, k, op + 1u, value_bytes); break;
        case 2: put(rc, ROWCACHE_UPDATE, k, op + 1u, value_bytes); break;
        case 3: rowcache_remove(rc, key_of(k).token, (const uint8_t *)key_of(k).b, 16); break;
        default: (void)get(rc, k, &v); break;
        }
        struct rowcache_stats s = stats(rc);
        cr_assert_leq(s.bytes, s.budget_bytes, "op %u: %llu > %llu", op, (unsigned long long)s.bytes,
                      (unsigned long long)s.budget_bytes);
        if (op % 64u == 0)
            rowcache_check(rc);
    }
    struct rowcache_stats s = stats(rc);
    cr_assert_gt(s.evictions_count, 1000u, "the budget forced evictions");
    cr_assert_gt(s.entries_count, 0u);
    rowcache_check(rc);
    rowcache_destroy(rc);
}

Test(rowcache, a_record_larger_than_the_whole_budget_is_not_cached)
{
    struct rowcache *rc = make(rowcache_budget_bytes_min(), RKV_VALUE_BYTES_MAX);
    struct record_view v;
    put(rc, ROWCACHE_FILL, 1, 1, 10);
    put(rc, ROWCACHE_WRITE, 1, 2, 64u << 10);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_MISS, "the old record was dropped, the new one did not fit");
    cr_assert_leq(stats(rc).bytes, stats(rc).budget_bytes);
    rowcache_check(rc);
    rowcache_destroy(rc);
}

/* ---- the value threshold ---- */

Test(rowcache, a_value_of_exactly_the_threshold_is_cached)
{
    const uint32_t max = RKV_ROW_CACHE_VALUE_BYTES_DEFAULT;
    struct rowcache *rc = make(4u << 20, max);
    struct record_view v;
    put(rc, ROWCACHE_FILL, 1, 1, max);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_RECORD);
    cr_assert_eq(v.value_bytes, max);
    rowcache_destroy(rc);
}

Test(rowcache, a_value_one_byte_over_the_threshold_is_not_cached_and_drops_the_old_entry)
{
    const uint32_t max = RKV_ROW_CACHE_VALUE_BYTES_DEFAULT;
    struct rowcache *rc = make(4u << 20, max);
    struct record_view v;
    put(rc, ROWCACHE_FILL, 1, 1, max + 1u);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_MISS);
    put(rc, ROWCACHE_FILL, 1, 1, 10);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_RECORD);
    put(rc, ROWCACHE_WRITE, 1, 2, max + 1u);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_MISS, "a stale copy would answer version 1");
    cr_assert_eq(stats(rc).entries_count, 0u);
    rowcache_destroy(rc);
}

Test(rowcache, a_threshold_of_zero_still_caches_empty_values_and_tombstones)
{
    struct rowcache *rc = make(1u << 20, 0);
    struct record_view v;
    put(rc, ROWCACHE_FILL, 1, 1, 0);
    put(rc, ROWCACHE_FILL, 2, 1, 1);
    cr_assert_eq(get(rc, 1, &v), ROWCACHE_RECORD);
    cr_assert_eq(get(rc, 2, &v), ROWCACHE_MISS);
    rowcache_destroy(rc);
}

/* ---- eviction: S3-FIFO ---- */

/* Hits of keys [lo, hi) after reading each once. */
static uint32_t hits_of(struct rowcache *rc, uint64_t lo, uint64_t hi)
{
    uint32_t hits = 0;
    struct record_view v;
    for (uint64_t i = lo; i < hi; i++)
        hits += get(rc, i, &v) == ROWCACHE_RECORD;
    return hits;
}

Test(rowcache, a_one_pass_scan_of_cold_keys_does_not_evict_the_hot_set)
{
    /* About 1,000 entries fit; a hot set of 500 keys read a few times, then 50,000 cold
     * keys read once each (every miss filled, as kv_get() does). */
    struct rowcache *rc = make(200u << 10, 1024);
    const uint64_t hot = 500, cold = 50000;
    struct record_view v;
    for (int round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < hot; i++) {
            if (get(rc, i, &v) == ROWCACHE_MISS)
                put(rc, ROWCACHE_FILL, i, 1, 100);
        }
    }
    cr_assert_eq(hits_of(rc, 0, hot), hot, "the hot set fits");
    for (uint64_t i = hot; i < hot + cold; i++) {
        if (get(rc, i, &v) == ROWCACHE_MISS)
            put(rc, ROWCACHE_FILL, i, 1, 100);
        cr_assert_leq(stats(rc).bytes, stats(rc).budget_bytes);
    }
    uint32_t after = hits_of(rc, 0, hot);
    cr_assert_geq(after, hot * 95u / 100u, "only %u of %llu hot keys survived the scan", after,
                  (unsigned long long)hot);
    cr_assert_gt(stats(rc).evictions_count, cold / 2u);
    rowcache_check(rc);
    rowcache_destroy(rc);
}

Test(rowcache, a_key_evicted_from_small_and_seen_again_goes_to_main)
{
    struct rowcache *rc = make(200u << 10, 1024);
    struct record_view v;
    /* Key 0 first, never read, then one-hit keys until the first eviction: with main still
     * empty, that is the tail of small, key 0, whose token goes to the ghost set. */
    put(rc, ROWCACHE_FILL, 0, 1, 100);
    uint64_t next = 1;
    while (stats(rc).evictions_count == 0 && next < 100000)
        put(rc, ROWCACHE_FILL, next++, 1, 100);
    cr_assert_eq(stats(rc).evictions_count, 1u);
    cr_assert_eq(get(rc, 0, &v), ROWCACHE_MISS, "key 0 was the one evicted");
    uint64_t promotions = stats(rc).promotions_count;
    put(rc, ROWCACHE_FILL, 0, 1, 100); /* seen again while in the ghost: straight to main */
    cr_assert_eq(stats(rc).promotions_count, promotions + 1u);
    /* A flood of one-hit keys, five times what the cache holds, never reaches main. */
    for (uint64_t i = 0; i < 5u * next; i++)
        put(rc, ROWCACHE_FILL, next + i, 1, 100);
    cr_assert_eq(get(rc, 0, &v), ROWCACHE_RECORD, "key 0 lives in main");
    /* Without the ghost, key 1 (evicted long ago, seen again now) goes to small. */
    put(rc, ROWCACHE_FILL, 1, 1, 100);
    cr_assert_eq(stats(rc).promotions_count, promotions + 1u);
    rowcache_check(rc);
    rowcache_destroy(rc);
}

Test(rowcache, an_entry_hit_in_small_is_promoted_when_it_reaches_the_tail)
{
    struct rowcache *rc = make(200u << 10, 1024);
    struct record_view v;
    put(rc, ROWCACHE_FILL, 0, 1, 100);
    cr_assert_eq(get(rc, 0, &v), ROWCACHE_RECORD); /* one hit while in small */
    for (uint64_t i = 1; i < 5000; i++)
        put(rc, ROWCACHE_FILL, i, 1, 100);
    cr_assert_eq(get(rc, 0, &v), ROWCACHE_RECORD);
    cr_assert_geq(stats(rc).promotions_count, 1u);
    rowcache_destroy(rc);
}

/* ---- the hit ratio of a zipf(0.99) workload ---- */

/* The test binaries do not link libm, and the table needs x^-theta: ln by the atanh series
 * after splitting off the binary exponent, exp by its Taylor series after halving the
 * argument into range. Both are accurate to about 1e-12 here, far more than a hit ratio
 * needs. */
static double t_ln(double x)
{
    int e = 0;
    while (x >= 2.0) { x /= 2.0; e++; } /* x <= 1e6 here: at most 20 halvings */
    double y = (x - 1.0) / (x + 1.0), y2 = y * y, term = y, sum = 0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= y2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

static double t_exp(double z)
{
    int halvings = 0;
    while (z > 0.5 || z < -0.5) { z /= 2.0; halvings++; } /* |z| <= 14 here: few halvings */
    double term = 1.0, sum = 1.0;
    for (int k = 1; k < 20; k++) {
        term *= z / k;
        sum += term;
    }
    while (halvings-- > 0)
        sum *= sum;
    return sum;
}

/* Ranks 1..n with probability proportional to 1 / rank^0.99, by inverse transform over a
 * cumulative table (8 MB for a million keys: a test may spend it). */
struct zipf {
    double *cdf;
    uint64_t n;
};

static void zipf_init(struct zipf *z, uint64_t n, double theta)
{
    z->n = n;
    z->cdf = malloc(n * sizeof *z->cdf);
    cr_assert_not_null(z->cdf);
    double sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += t_exp(-theta * t_ln((double)(i + 1u)));
        z->cdf[i] = sum;
    }
    for (uint64_t i = 0; i < n; i++)
        z->cdf[i] /= sum;
}

static uint64_t zipf_next(const struct zipf *z, uint64_t *seed)
{
    *seed = mix64(*seed);
    double u = (double)(*seed >> 11) / (double)(1ull << 53);
    uint64_t lo = 0, hi = z->n - 1u;
    while (lo < hi) { /* about 20 steps for a million */
        uint64_t mid = lo + (hi - lo) / 2u;
        if (z->cdf[mid] < u)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return lo;
}

Test(rowcache, zipf_099_over_a_million_keys_with_a_tenth_of_the_data_hits_well_over_half, .timeout = 60)
{
    /* The data: 1M records of a 16-byte key, a 100-byte value and the 32-byte stored header,
     * 148 bytes each; the budget is a tenth of that. Ranks are spread over the key space by
     * the token mix, so that hot keys are not neighbours in the table. Every miss fills. */
    const uint64_t n = 1000000, value_bytes = 100;
    const uint64_t data_bytes = n * (16u + value_bytes + REC_HDR_BYTES);
    struct rowcache *rc = make(data_bytes / 10u, 64u << 10);
    struct zipf z;
    zipf_init(&z, n, 0.99);
    uint64_t seed = 99;
    struct record_view v;
    const uint64_t warm = 1000000, measured = 2000000;
    uint64_t hits = 0;
    clock_t t0 = clock();
    for (uint64_t op = 0; op < warm + measured; op++) {
        uint64_t k = zipf_next(&z, &seed);
        if (get(rc, k, &v) == ROWCACHE_RECORD) {
            hits += op >= warm;
        } else {
            put(rc, ROWCACHE_FILL, k, 1, (uint32_t)value_bytes);
        }
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    struct rowcache_stats s = stats(rc);
    double ratio = (double)hits / (double)measured;
    /* The ideal: the share of requests that go to the keys the budget could hold at best. */
    uint64_t fit = s.entries_count;
    double ideal = z.cdf[fit - 1u];
    printf("rowcache zipf(0.99): %llu keys, budget %llu bytes (10%% of %llu), %llu entries cached "
           "(%.1f%% of keys), hit ratio %.4f over %llu reads after %llu warm-up reads; "
           "the same number of hottest keys would serve %.4f; %.2f s\n",
           (unsigned long long)n, (unsigned long long)s.budget_bytes, (unsigned long long)data_bytes,
           (unsigned long long)s.entries_count, 100.0 * (double)s.entries_count / (double)n, ratio,
           (unsigned long long)measured, (unsigned long long)warm, ideal, secs);
    fflush(stdout);
    cr_assert_gt(ratio, 0.5, "hit ratio %.4f", ratio);
    cr_assert_leq(s.bytes, s.budget_bytes);
    free(z.cdf);
    rowcache_destroy(rc);
}
