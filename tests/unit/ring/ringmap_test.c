/* Tests of ring/ringmap: the ring holds exactly the vnodes of the nodes that own ranges,
 * sorted by (token, node, vnode); a lookup agrees with a linear scan for random and edge
 * tokens, wraps past the largest token, breaks ties between equal tokens by node id on every
 * node alike, and does not depend on the order nodes were described in. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "ring/members.h"
#include "ring/ringmap.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static struct member_desc desc_of(const char *node_id, uint32_t vnode_count, const uint64_t *tokens)
{
    return (struct member_desc){
        .node_id = node_id,
        .bin_addr = { .host = "127.0.0.1", .port = 7379 },
        .http_addr = { .host = "127.0.0.1", .port = 8080 },
        .peer_addr = { .host = "127.0.0.1", .port = 7400 },
        .shard_count = 3,
        .vnode_count = vnode_count,
        .tokens = tokens,
        .status = MEMBER_NORMAL,
        .up = true,
    };
}

static struct ringmap *ring_of(const struct member_desc *d, uint32_t n)
{
    struct members *m = NULL;
    cr_assert_eq(members_build(d, n, &m), RKV_OK);
    struct ringmap *r = NULL;
    cr_assert_eq(ringmap_build(m, &r), RKV_OK);
    cr_assert_eq(ringmap_members(r), m);
    return r;
}

static bool entry_less(struct ringmap_entry a, struct ringmap_entry b)
{
    if (a.token != b.token)
        return a.token < b.token;
    if (a.node_idx != b.node_idx)
        return a.node_idx < b.node_idx;
    return a.vnode_idx < b.vnode_idx;
}

/* The reference: the least entry (by token, node, vnode) whose token is >= t, else the
 * least entry of all; found by looking at every vnode of every owning member. */
static struct ringmap_entry owner_by_scan(const struct ringmap *r, uint64_t t)
{
    const struct members *m = ringmap_members(r);
    bool have_ge = false;
    struct ringmap_entry best_ge = { 0 };
    struct ringmap_entry least = { .token = UINT64_MAX, .node_idx = UINT32_MAX, .vnode_idx = UINT32_MAX };
    for (uint32_t n = 0; n < members_count(m); n++) {
        const struct member *mb = members_get(m, n);
        if (!members_status_owns(mb->status))
            continue;
        for (uint32_t v = 0; v < mb->vnode_count; v++) {
            struct ringmap_entry e = { .token = mb->tokens[v], .node_idx = n, .vnode_idx = v };
            if (entry_less(e, least))
                least = e;
            if (e.token >= t && (!have_ge || entry_less(e, best_ge))) {
                best_ge = e;
                have_ge = true;
            }
        }
    }
    return have_ge ? best_ge : least;
}

static void assert_lookup_matches_scan(const struct ringmap *r, uint64_t t)
{
    struct ringmap_entry got = ringmap_entry(r, ringmap_find(r, t));
    struct ringmap_entry want = owner_by_scan(r, t);
    cr_assert_eq(got.token, want.token, "token %llu", (unsigned long long)t);
    cr_assert_eq(got.node_idx, want.node_idx, "token %llu", (unsigned long long)t);
    cr_assert_eq(got.vnode_idx, want.vnode_idx, "token %llu", (unsigned long long)t);
}

enum { RN = 6, RV = 40 };
static uint64_t rtok[RN][RV];
static char rid[RN][16];
static struct member_desc rdesc[RN];

/* Six nodes of 40 random tokens; node 2 is joining and node 4 has left. */
static void random_cluster(uint64_t seed)
{
    for (uint32_t n = 0; n < RN; n++) {
        snprintf(rid[n], sizeof rid[n], "r%u", n);
        for (uint32_t v = 0; v < RV; v++)
            rtok[n][v] = splitmix64(&seed);
        rdesc[n] = desc_of(rid[n], RV, rtok[n]);
    }
    rdesc[2].status = MEMBER_JOINING;
    rdesc[4].status = MEMBER_LEFT;
    rdesc[5].status = MEMBER_LEAVING;
}

Test(ringmap, holds_exactly_the_vnodes_of_normal_and_leaving_nodes_in_order)
{
    random_cluster(1);
    struct ringmap *r = ring_of(rdesc, RN);
    cr_assert_eq(ringmap_count(r), 4u * RV);
    cr_assert_eq(ringmap_node_count(r), 4u);
    for (uint32_t p = 0; p < ringmap_count(r); p++) {
        struct ringmap_entry e = ringmap_entry(r, p);
        const struct member *mb = members_get(ringmap_members(r), e.node_idx);
        cr_assert(members_status_owns(mb->status));
        cr_assert_eq(mb->tokens[e.vnode_idx], e.token);
        if (p > 0)
            cr_assert(entry_less(ringmap_entry(r, p - 1), e));
    }
    ringmap_free(r);
}

Test(ringmap, lookup_agrees_with_a_linear_scan_on_random_tokens)
{
    random_cluster(2);
    struct ringmap *r = ring_of(rdesc, RN);
    uint64_t seed = 99;
    for (int i = 0; i < 20000; i++)
        assert_lookup_matches_scan(r, splitmix64(&seed));
    ringmap_free(r);
}

Test(ringmap, lookup_agrees_with_a_linear_scan_at_every_vnode_token_and_its_neighbours)
{
    random_cluster(3);
    struct ringmap *r = ring_of(rdesc, RN);
    for (uint32_t p = 0; p < ringmap_count(r); p++) {
        uint64_t t = ringmap_entry(r, p).token;
        cr_assert_eq(ringmap_find(r, t), p, "an exact vnode token is owned by its vnode");
        assert_lookup_matches_scan(r, t - 1);
        assert_lookup_matches_scan(r, t + 1);
    }
    assert_lookup_matches_scan(r, 0);
    assert_lookup_matches_scan(r, UINT64_MAX);
    ringmap_free(r);
}

Test(ringmap, a_token_past_the_largest_wraps_to_position_zero)
{
    uint64_t a[2] = { 100, 200 };
    uint64_t b[1] = { 150 };
    struct member_desc d[2] = { desc_of("a", 2, a), desc_of("b", 1, b) };
    struct ringmap *r = ring_of(d, 2);
    cr_assert_eq(ringmap_find(r, 201), 0);
    cr_assert_eq(ringmap_find(r, UINT64_MAX), 0);
    cr_assert_eq(ringmap_find(r, 0), 0);
    cr_assert_eq(ringmap_find(r, 101), 1);
    cr_assert_eq(ringmap_entry(r, 1).node_idx, 1);
    cr_assert_eq(ringmap_next(r, 2), 0);
    ringmap_free(r);
}

Test(ringmap, equal_tokens_go_to_the_node_first_by_node_id_in_any_input_order)
{
    uint64_t shared[1] = { 500 };
    uint64_t other[1] = { 900 };
    struct member_desc fwd[3] = { desc_of("zed", 1, shared), desc_of("amy", 1, shared), desc_of("mid", 1, other) };
    struct member_desc rev[3] = { fwd[2], fwd[1], fwd[0] };
    struct ringmap *a = ring_of(fwd, 3);
    struct ringmap *b = ring_of(rev, 3);
    for (struct ringmap *r = a; r != NULL; r = r == a ? b : NULL) {
        struct ringmap_entry e = ringmap_entry(r, ringmap_find(r, 400));
        cr_assert_str_eq(members_get(ringmap_members(r), e.node_idx)->node_id, "amy");
        cr_assert_str_eq(members_get(ringmap_members(r), ringmap_entry(r, 1).node_idx)->node_id, "zed");
    }
    ringmap_free(a);
    ringmap_free(b);
}

Test(ringmap, the_same_members_in_another_order_give_the_same_ring)
{
    random_cluster(4);
    struct ringmap *a = ring_of(rdesc, RN);
    struct member_desc shuffled[RN];
    for (uint32_t i = 0; i < RN; i++)
        shuffled[i] = rdesc[(i * 5u + 3u) % RN];
    struct ringmap *b = ring_of(shuffled, RN);
    cr_assert_eq(ringmap_count(a), ringmap_count(b));
    for (uint32_t p = 0; p < ringmap_count(a); p++) {
        struct ringmap_entry x = ringmap_entry(a, p);
        struct ringmap_entry y = ringmap_entry(b, p);
        cr_assert(x.token == y.token && x.node_idx == y.node_idx && x.vnode_idx == y.vnode_idx);
    }
    ringmap_free(a);
    ringmap_free(b);
}

Test(ringmap, a_cluster_with_no_owning_node_has_an_empty_ring)
{
    struct member_desc d = desc_of("only", RKV_VNODES_DEFAULT, NULL);
    d.status = MEMBER_JOINING;
    struct ringmap *r = ring_of(&d, 1);
    cr_assert_eq(ringmap_count(r), 0);
    cr_assert_eq(ringmap_node_count(r), 0);
    ringmap_free(r);
}

Test(ringmap, find_on_an_empty_ring_aborts, .signal = SIGABRT)
{
    struct member_desc d = desc_of("only", 1, NULL);
    d.status = MEMBER_JOINING;
    struct ringmap *r = ring_of(&d, 1);
    (void)ringmap_find(r, 1);
}

Test(ringmap, a_position_out_of_range_aborts, .signal = SIGABRT)
{
    uint64_t t[1] = { 1 };
    struct member_desc d = desc_of("a", 1, t);
    struct ringmap *r = ring_of(&d, 1);
    (void)ringmap_entry(r, 1);
}

Test(ringmap, ringmap_free_of_null_is_a_no_op)
{
    ringmap_free(NULL);
}
