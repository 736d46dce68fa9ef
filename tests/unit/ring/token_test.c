/* Tests of ring/token: the token of a key is XXH3-64 of its bytes, the vnode ring of a node
 * is a pure function of its node id and vnode count, lookups take the first vnode token at
 * or after the key's token and wrap past the largest, vnode counts are checked at their
 * limits, and keys spread evenly enough over the shards of one node. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "core/bytes.h"
#include "core/limits.h"
#include "ring/token.h"

static struct vnode_ring *ring_new(const char *node_id, uint32_t vnode_count)
{
    struct vnode_ring *r = NULL;
    cr_assert_eq(vnode_ring_build(node_id, vnode_count, &r), RKV_OK);
    cr_assert_not_null(r);
    return r;
}

/* The index and token of the vnode with the smallest and the largest token. */
static void ring_extremes(const struct vnode_ring *r, uint32_t *min_idx_out, uint32_t *max_idx_out)
{
    uint32_t lo = 0;
    uint32_t hi = 0;
    for (uint32_t i = 1; i < vnode_ring_count(r); i++) {
        if (vnode_ring_token(r, i) < vnode_ring_token(r, lo))
            lo = i;
        if (vnode_ring_token(r, i) > vnode_ring_token(r, hi))
            hi = i;
    }
    *min_idx_out = lo;
    *max_idx_out = hi;
}

/* The reference answer by linear scan: the vnode with the smallest token >= t, else the
 * vnode with the smallest token overall. */
static uint32_t lookup_by_scan(const struct vnode_ring *r, uint64_t t)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < vnode_ring_count(r); i++) {
        uint64_t vt = vnode_ring_token(r, i);
        if (vt >= t && (best == UINT32_MAX || vt < vnode_ring_token(r, best)))
            best = i;
    }
    if (best == UINT32_MAX) {
        uint32_t max_idx;
        ring_extremes(r, &best, &max_idx);
    }
    return best;
}

Test(token, token_of_key_is_xxh3_64_of_the_key_bytes)
{
    static const char s[] = "the quick brown fox jumps over the lazy dog";
    uint64_t expect = XXH3_64bits(s, strlen(s));
    cr_assert_eq(token_of_key((const uint8_t *)s, strlen(s)), expect);
}

Test(token, token_of_key_sees_every_byte_including_zero_bytes)
{
    const uint8_t a[] = { 'k', 0, 'x' };
    const uint8_t b[] = { 'k', 0, 'y' };
    cr_assert_neq(token_of_key(a, sizeof a), token_of_key(b, sizeof b));
    cr_assert_neq(token_of_key(a, 1), token_of_key(a, 2));
}

Test(token, token_of_a_256_byte_key_is_xxh3_of_all_of_it)
{
    uint8_t k[RKV_KEY_BYTES_MAX];
    for (size_t i = 0; i < sizeof k; i++)
        k[i] = (uint8_t)i;
    cr_assert_eq(token_of_key(k, sizeof k), XXH3_64bits(k, sizeof k));
}

Test(token, origin_of_node_is_stable_and_differs_between_nodes)
{
    cr_assert_eq(token_origin_of_node("node1"), token_origin_of_node("node1"));
    cr_assert_neq(token_origin_of_node("node1"), token_origin_of_node("node2"));
    cr_assert_eq(token_origin_of_node("node1"), (uint32_t)(XXH3_64bits("node1", 5) >> 32));
}

Test(token, vnode_token_is_xxh3_of_node_id_and_big_endian_index)
{
    struct vnode_ring *r = ring_new("node-a", 300);
    uint8_t seed[6 + 4];
    memcpy(seed, "node-a", 6);
    const uint32_t idx[] = { 0, 1, 255, 256, 299 };
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        store_be32(seed + 6, idx[i]);
        cr_assert_eq(vnode_ring_token(r, idx[i]), XXH3_64bits(seed, sizeof seed), "vnode %u", idx[i]);
    }
    vnode_ring_free(r);
}

Test(token, vnode_count_0_is_rejected)
{
    struct vnode_ring *r = (struct vnode_ring *)&r; /* not NULL: the call must clear it */
    cr_assert_eq(vnode_ring_build("node1", 0, &r), RKV_INVALID_ARG);
    cr_assert_null(r);
}

Test(token, vnode_count_1_is_accepted_and_owns_every_token)
{
    struct vnode_ring *r = ring_new("node1", 1);
    cr_assert_eq(vnode_ring_count(r), 1u);
    cr_assert_eq(vnode_ring_lookup(r, 0), 0u);
    cr_assert_eq(vnode_ring_lookup(r, vnode_ring_token(r, 0)), 0u);
    cr_assert_eq(vnode_ring_lookup(r, UINT64_MAX), 0u);
    vnode_ring_free(r);
}

Test(token, vnode_count_max_is_accepted)
{
    struct vnode_ring *r = ring_new("node1", RKV_VNODES_MAX);
    cr_assert_eq(vnode_ring_count(r), RKV_VNODES_MAX);
    cr_assert_eq(vnode_ring_lookup(r, vnode_ring_token(r, RKV_VNODES_MAX - 1u)), RKV_VNODES_MAX - 1u);
    vnode_ring_free(r);
}

Test(token, vnode_count_max_plus_one_is_rejected)
{
    struct vnode_ring *r = NULL;
    cr_assert_eq(vnode_ring_build("node1", RKV_VNODES_MAX + 1u, &r), RKV_INVALID_ARG);
    cr_assert_null(r);
}

Test(token, lookup_of_an_exact_vnode_token_returns_that_vnode)
{
    struct vnode_ring *r = ring_new("node1", RKV_VNODES_DEFAULT);
    for (uint32_t i = 0; i < vnode_ring_count(r); i++)
        cr_assert_eq(vnode_ring_lookup(r, vnode_ring_token(r, i)), i, "vnode %u", i);
    vnode_ring_free(r);
}

Test(token, lookup_one_past_a_vnode_token_returns_the_next_vnode_clockwise)
{
    struct vnode_ring *r = ring_new("node1", RKV_VNODES_DEFAULT);
    uint32_t min_idx, max_idx;
    ring_extremes(r, &min_idx, &max_idx);
    for (uint32_t i = 0; i < vnode_ring_count(r); i++) {
        if (i == max_idx)
            continue;
        uint64_t t = vnode_ring_token(r, i) + 1u;
        uint32_t got = vnode_ring_lookup(r, t);
        cr_assert_neq(got, i);
        cr_assert_geq(vnode_ring_token(r, got), t);
        cr_assert_eq(got, lookup_by_scan(r, t));
    }
    vnode_ring_free(r);
}

Test(token, lookup_returns_the_first_vnode_token_at_or_after_the_key_token)
{
    struct vnode_ring *r = ring_new("node7", RKV_VNODES_DEFAULT);
    char key[32];
    for (uint32_t i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof key, "user:%u", i);
        uint64_t t = token_of_key((const uint8_t *)key, (size_t)n);
        cr_assert_eq(vnode_ring_lookup(r, t), lookup_by_scan(r, t), "key %s", key);
    }
    vnode_ring_free(r);
}

Test(token, lookup_past_the_largest_vnode_token_wraps_to_the_smallest)
{
    struct vnode_ring *r = ring_new("node1", RKV_VNODES_DEFAULT);
    uint32_t min_idx, max_idx;
    ring_extremes(r, &min_idx, &max_idx);
    uint64_t top = vnode_ring_token(r, max_idx);
    cr_assert_lt(top, UINT64_MAX, "this node id happens to own the very top token");
    cr_assert_eq(vnode_ring_lookup(r, top), max_idx);
    cr_assert_eq(vnode_ring_lookup(r, top + 1u), min_idx);
    cr_assert_eq(vnode_ring_lookup(r, UINT64_MAX), min_idx);
    vnode_ring_free(r);
}

Test(token, lookup_of_token_zero_returns_the_smallest_vnode)
{
    struct vnode_ring *r = ring_new("node1", RKV_VNODES_DEFAULT);
    uint32_t min_idx, max_idx;
    ring_extremes(r, &min_idx, &max_idx);
    cr_assert_eq(vnode_ring_lookup(r, 0), min_idx);
    vnode_ring_free(r);
}

Test(token, the_same_node_id_builds_the_same_ring_twice)
{
    struct vnode_ring *a = ring_new("node1", RKV_VNODES_DEFAULT);
    struct vnode_ring *b = ring_new("node1", RKV_VNODES_DEFAULT);
    for (uint32_t i = 0; i < RKV_VNODES_DEFAULT; i++)
        cr_assert_eq(vnode_ring_token(a, i), vnode_ring_token(b, i));
    char key[32];
    for (uint32_t i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "k%u", i);
        uint64_t t = token_of_key((const uint8_t *)key, (size_t)n);
        cr_assert_eq(vnode_ring_lookup(a, t), vnode_ring_lookup(b, t));
    }
    vnode_ring_free(a);
    vnode_ring_free(b);
}

Test(token, a_different_node_id_builds_a_different_ring)
{
    struct vnode_ring *a = ring_new("node1", RKV_VNODES_DEFAULT);
    struct vnode_ring *b = ring_new("node2", RKV_VNODES_DEFAULT);
    uint32_t same = 0;
    for (uint32_t i = 0; i < RKV_VNODES_DEFAULT; i++)
        same += vnode_ring_token(a, i) == vnode_ring_token(b, i);
    cr_assert_eq(same, 0u);
    vnode_ring_free(a);
    vnode_ring_free(b);
}

Test(token, a_smaller_vnode_count_keeps_the_tokens_of_the_first_vnodes)
{
    struct vnode_ring *a = ring_new("node1", 10);
    struct vnode_ring *b = ring_new("node1", RKV_VNODES_DEFAULT);
    for (uint32_t i = 0; i < 10; i++)
        cr_assert_eq(vnode_ring_token(a, i), vnode_ring_token(b, i));
    vnode_ring_free(a);
    vnode_ring_free(b);
}

Test(token, vnode_shard_is_vnode_index_mod_shard_count)
{
    cr_assert_eq(vnode_shard(0, 4), 0u);
    cr_assert_eq(vnode_shard(5, 4), 1u);
    cr_assert_eq(vnode_shard(149, 1), 0u);
    cr_assert_eq(vnode_shard(RKV_VNODES_MAX - 1u, RKV_SHARDS_MAX), (RKV_VNODES_MAX - 1u) % RKV_SHARDS_MAX);
}

/* Load of the busiest shard over the mean load, for 100k keys on the 150 vnodes of node1. */
static double spread_max_over_mean(uint32_t shard_count)
{
    enum { KEYS = 100000 };
    struct vnode_ring *r = ring_new("node1", RKV_VNODES_DEFAULT);
    uint32_t per_shard[RKV_SHARDS_MAX] = { 0 };
    char key[32];
    for (uint32_t i = 0; i < KEYS; i++) {
        int n = snprintf(key, sizeof key, "key-%08u-%u", i * 2654435761u, i);
        uint32_t v = vnode_ring_lookup(r, token_of_key((const uint8_t *)key, (size_t)n));
        per_shard[vnode_shard(v, shard_count)]++;
    }
    vnode_ring_free(r);
    uint32_t max = 0;
    uint32_t total = 0;
    for (uint32_t s = 0; s < shard_count; s++) {
        total += per_shard[s];
        if (per_shard[s] > max)
            max = per_shard[s];
    }
    cr_assert_eq(total, (uint32_t)KEYS);
    return (double)max / ((double)KEYS / shard_count);
}

/* The bound: 150 vnodes give each of 4 shards about 37 ranges, whose share of the ring
 * varies by roughly 1/sqrt(37) = 16%; 1.5 is three such deviations above the mean. */
Test(token, keys_spread_over_2_shards_with_max_over_mean_below_1_5)
{
    double ratio = spread_max_over_mean(2);
    cr_log_info("2 shards: max/mean %.3f", ratio);
    cr_assert_lt(ratio, 1.5);
}

Test(token, keys_spread_over_4_shards_with_max_over_mean_below_1_5)
{
    double ratio = spread_max_over_mean(4);
    cr_log_info("4 shards: max/mean %.3f", ratio);
    cr_assert_lt(ratio, 1.5);
}

Test(token, token_of_a_vnode_out_of_range_aborts, .signal = SIGABRT)
{
    struct vnode_ring *r = ring_new("node1", 10);
    (void)vnode_ring_token(r, 10);
}
