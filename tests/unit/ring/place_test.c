/* Tests of ring/place through members snapshots: 1,000,000 random keys spread over 3, 5 and
 * 50 placed nodes of 150 vnodes with max/mean load under 1.1, both for primary ownership and
 * for replica load at RF 3 (docs/ring.md says why both); a node added to a ring moves about
 * 1/(N+1) of the keys, all of them to itself; a node removed moves only its own keys;
 * starting a static cluster again gives the same tokens, and the algorithm is pinned by a
 * known answer so that an upgrade cannot silently change the ring of a running cluster. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/limits.h"
#include "ring/members.h"
#include "ring/place.h"
#include "ring/prefs.h"
#include "ring/ringmap.h"
#include "ring/token.h"

enum { KEYS = 1000000, RF = 3, NODES_TOP = 51 };

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The tokens of KEYS random 8-byte keys. */
static uint64_t *key_tokens(uint64_t seed)
{
    uint64_t *t = malloc(KEYS * sizeof t[0]);
    cr_assert_not_null(t);
    for (uint32_t i = 0; i < KEYS; i++) {
        uint8_t key[8];
        store_be64(key, splitmix64(&seed));
        t[i] = token_of_key(key, sizeof key);
    }
    return t;
}

static char node_ids[NODES_TOP + 8][16];

static struct member_desc desc_of(const char *node_id)
{
    return (struct member_desc){
        .node_id = node_id,
        .bin_addr = { .host = "127.0.0.1", .port = 7379 },
        .http_addr = { .host = "127.0.0.1", .port = 8080 },
        .peer_addr = { .host = "127.0.0.1", .port = 7400 },
        .shard_count = 4,
        .vnode_count = RKV_VNODES_DEFAULT,
        .tokens = NULL,
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
    return r;
}

/* A static cluster of n nodes "node00".. that all come without tokens. */
static struct ringmap *placed_cluster(uint32_t n)
{
    struct member_desc d[NODES_TOP];
    cr_assert(n <= NODES_TOP);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(node_ids[i], sizeof node_ids[i], "node%02u", i);
        d[i] = desc_of(node_ids[i]);
    }
    return ring_of(d, n);
}

/* The same nodes with purely hashed tokens, XXH3(node id ‖ be32(i)), for comparison. */
static struct ringmap *hashed_cluster(uint32_t n)
{
    static uint64_t tok[NODES_TOP][RKV_VNODES_DEFAULT];
    struct member_desc d[NODES_TOP];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(node_ids[i], sizeof node_ids[i], "node%02u", i);
        for (uint32_t v = 0; v < RKV_VNODES_DEFAULT; v++)
            tok[i][v] = place_candidate(node_ids[i], v, 0);
        d[i] = desc_of(node_ids[i]);
        d[i].tokens = tok[i];
    }
    return ring_of(d, n);
}

/* The description of every node of r, borrowing r's strings and tokens. */
static uint32_t describe_all(const struct ringmap *r, struct member_desc *d_out)
{
    const struct members *m = ringmap_members(r);
    for (uint32_t i = 0; i < members_count(m); i++)
        members_describe(m, i, &d_out[i]);
    return members_count(m);
}

struct spread {
    double primary;  /* max/mean of keys per node as primary */
    double replica;  /* max/mean of keys per node as one of RF replicas */
};

static struct spread spread_of(const struct ringmap *r, const uint64_t *tokens)
{
    static uint32_t primary[RKV_NODES_MAX];
    static uint32_t replica[RKV_NODES_MAX];
    uint32_t n = members_count(ringmap_members(r));
    memset(primary, 0, sizeof primary);
    memset(replica, 0, sizeof replica);
    uint32_t copies = 0;
    for (uint32_t i = 0; i < KEYS; i++) {
        struct prefs p;
        prefs_for_token(r, tokens[i], RF, &p);
        primary[p.replica[0].node_idx]++;
        for (uint32_t k = 0; k < p.count; k++)
            replica[p.replica[k].node_idx]++;
        copies = p.count;
    }
    uint32_t pmax = 0;
    uint32_t rmax = 0;
    for (uint32_t i = 0; i < n; i++) {
        pmax = primary[i] > pmax ? primary[i] : pmax;
        rmax = replica[i] > rmax ? replica[i] : rmax;
    }
    return (struct spread){ .primary = pmax / ((double)KEYS / n), .replica = rmax / ((double)KEYS * copies / n) };
}

static void assert_spread(uint32_t n)
{
    uint64_t *tokens = key_tokens(n);
    struct ringmap *placed = placed_cluster(n);
    struct ringmap *hashed = hashed_cluster(n);
    struct spread s = spread_of(placed, tokens);
    struct spread h = spread_of(hashed, tokens);
    cr_log_info("%u nodes x %u vnodes, %u keys: max/mean primary %.3f, replica (RF %u) %.3f; "
                "hashed tokens: %.3f, %.3f",
                n, RKV_VNODES_DEFAULT, KEYS, s.primary, RF, s.replica, h.primary, h.replica);
    cr_assert_lt(s.primary, 1.1, "primary max/mean %.3f", s.primary);
    cr_assert_lt(s.replica, 1.1, "replica max/mean %.3f", s.replica);
    ringmap_free(placed);
    ringmap_free(hashed);
    free(tokens);
}

Test(place, keys_spread_over_3_nodes_with_max_over_mean_below_1_1) { assert_spread(3); }
Test(place, keys_spread_over_5_nodes_with_max_over_mean_below_1_1) { assert_spread(5); }
Test(place, keys_spread_over_50_nodes_with_max_over_mean_below_1_1) { assert_spread(50); }

/* Adds node "added" (which sorts before most others: a join need not come last by id) to a
 * placed cluster of n nodes that keep their tokens, and checks where the keys went. */
static void assert_join_moves_about_one_in_n_plus_1(uint32_t n)
{
    uint64_t *tokens = key_tokens(1000u + n);
    struct ringmap *before = placed_cluster(n);
    struct member_desc d[NODES_TOP + 1];
    uint32_t count = describe_all(before, d);
    d[count++] = desc_of("added");
    struct ringmap *after = ring_of(d, count);
    const struct members *mb = ringmap_members(before);
    const struct members *ma = ringmap_members(after);
    uint32_t added = 0;
    cr_assert(members_find(ma, "added", &added));

    uint32_t moved = 0;
    uint32_t sets_changed = 0;
    for (uint32_t i = 0; i < KEYS; i++) {
        struct prefs pb;
        struct prefs pa;
        prefs_for_token(before, tokens[i], RF, &pb);
        prefs_for_token(after, tokens[i], RF, &pa);
        const char *was = members_get(mb, pb.replica[0].node_idx)->node_id;
        const char *now = members_get(ma, pa.replica[0].node_idx)->node_id;
        if (strcmp(was, now) != 0) {
            moved++;
            cr_assert_eq(pa.replica[0].node_idx, added, "key %u moved from %s to %s", i, was, now);
        }
        /* Replica sets: unchanged, or the new node in and exactly one old replica out. */
        uint32_t kept = 0;
        bool has_added = false;
        for (uint32_t k = 0; k < pa.count; k++) {
            const char *id = members_get(ma, pa.replica[k].node_idx)->node_id;
            has_added = has_added || pa.replica[k].node_idx == added;
            for (uint32_t j = 0; j < pb.count; j++)
                kept += strcmp(id, members_get(mb, pb.replica[j].node_idx)->node_id) == 0;
        }
        if (has_added) {
            sets_changed++;
            cr_assert_eq(kept, pa.count - 1u, "key %u: one replica replaced by the new node", i);
        } else {
            cr_assert_eq(kept, pa.count, "key %u: replica set unchanged", i);
        }
    }
    double frac = (double)moved / KEYS;
    double ideal = 1.0 / (n + 1);
    struct spread s = spread_of(after, tokens);
    cr_log_info("%u -> %u nodes: %.4f of keys moved (1/(N+1) = %.4f, ratio %.2f), all to the new node; "
                "%.4f of replica sets changed (RF/(N+1) = %.4f); after: max/mean primary %.3f, replica %.3f",
                n, n + 1, frac, ideal, frac / ideal, (double)sets_changed / KEYS,
                (n + 1 < RF ? n + 1 : (double)RF) / (n + 1), s.primary, s.replica);
    cr_assert_gt(frac, 0.5 * ideal);
    cr_assert_lt(frac, 1.5 * ideal);
    cr_assert_lt(s.primary, 1.1, "primary max/mean %.3f after the join", s.primary);
    cr_assert_lt(s.replica, 1.1, "replica max/mean %.3f after the join", s.replica);
    ringmap_free(before);
    ringmap_free(after);
    free(tokens);
}

Test(place, adding_a_4th_node_moves_about_a_quarter_of_keys_all_to_it) { assert_join_moves_about_one_in_n_plus_1(3); }
Test(place, adding_a_6th_node_moves_about_a_sixth_of_keys_all_to_it) { assert_join_moves_about_one_in_n_plus_1(5); }
Test(place, adding_a_51st_node_moves_about_1_in_51_keys_all_to_it) { assert_join_moves_about_one_in_n_plus_1(50); }

/* Node `gone` leaves: either dropped from the members or marked left; no other node's keys
 * move, and replica sets change only by replacing it. */
static void assert_removal_moves_only_its_keys(uint32_t n, uint32_t gone, bool mark_left)
{
    uint64_t *tokens = key_tokens(2000u + n);
    struct ringmap *before = placed_cluster(n);
    struct member_desc d[NODES_TOP];
    uint32_t count = describe_all(before, d);
    if (mark_left) {
        d[gone].status = MEMBER_LEFT;
    } else {
        d[gone] = d[count - 1u];
        count--;
    }
    struct ringmap *after = ring_of(d, count);
    const struct members *mb = ringmap_members(before);
    const struct members *ma = ringmap_members(after);
    const char *gone_id = members_get(mb, gone)->node_id;
    uint32_t moved = 0;
    uint32_t owned = 0;
    for (uint32_t i = 0; i < KEYS; i++) {
        struct prefs pb;
        struct prefs pa;
        prefs_for_token(before, tokens[i], RF, &pb);
        prefs_for_token(after, tokens[i], RF, &pa);
        const char *was = members_get(mb, pb.replica[0].node_idx)->node_id;
        const char *now = members_get(ma, pa.replica[0].node_idx)->node_id;
        owned += pb.replica[0].node_idx == gone;
        if (strcmp(was, now) != 0) {
            moved++;
            cr_assert_str_eq(was, gone_id, "key %u moved from %s, which stayed", i, was);
        }
        bool had_gone = false;
        for (uint32_t j = 0; j < pb.count; j++)
            had_gone = had_gone || pb.replica[j].node_idx == gone;
        uint32_t kept = 0;
        for (uint32_t k = 0; k < pa.count; k++)
            for (uint32_t j = 0; j < pb.count; j++)
                kept += strcmp(members_get(ma, pa.replica[k].node_idx)->node_id,
                               members_get(mb, pb.replica[j].node_idx)->node_id) == 0;
        cr_assert_eq(kept, had_gone ? pb.count - 1u : pb.count, "key %u", i);
    }
    cr_assert_eq(moved, owned, "every key of the removed node moved, and no other");
    cr_log_info("%u -> %u nodes (%s): %.4f of keys moved, all of them the removed node's", n, n - 1,
                mark_left ? "marked left" : "dropped", (double)moved / KEYS);
    ringmap_free(before);
    ringmap_free(after);
    free(tokens);
}

Test(place, removing_a_node_of_5_moves_only_its_keys) { assert_removal_moves_only_its_keys(5, 2, false); }
Test(place, a_node_of_50_that_left_gives_up_only_its_keys) { assert_removal_moves_only_its_keys(50, 17, true); }

Test(place, a_static_cluster_started_again_with_one_more_node_last_by_id_equals_a_join)
{
    enum { N = 8 };
    struct ringmap *small = placed_cluster(N);
    struct ringmap *big = placed_cluster(N + 1); /* node08 sorts after node00..node07 */
    struct member_desc d[N + 1];
    uint32_t count = describe_all(small, d);
    d[count++] = desc_of("node08");
    struct ringmap *joined = ring_of(d, count);
    for (uint32_t i = 0; i <= N; i++) {
        const struct member *x = members_get(ringmap_members(big), i);
        const struct member *y = members_get(ringmap_members(joined), i);
        cr_assert_str_eq(x->node_id, y->node_id);
        cr_assert_eq(memcmp(x->tokens, y->tokens, x->vnode_count * sizeof x->tokens[0]), 0, "%s", x->node_id);
    }
    ringmap_free(small);
    ringmap_free(big);
    ringmap_free(joined);
}

Test(place, a_node_with_twice_the_vnodes_gets_twice_the_keys)
{
    enum { N = 6 };
    struct member_desc d[N];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(node_ids[i], sizeof node_ids[i], "w%u", i);
        d[i] = desc_of(node_ids[i]);
    }
    d[1].vnode_count = 2u * RKV_VNODES_DEFAULT;
    d[4].vnode_count = RKV_VNODES_DEFAULT / 2u;
    struct ringmap *r = ring_of(d, N);
    uint64_t *tokens = key_tokens(3000);
    static uint32_t primary[N];
    memset(primary, 0, sizeof primary);
    for (uint32_t i = 0; i < KEYS; i++)
        primary[ringmap_entry(r, ringmap_find(r, tokens[i])).node_idx]++;
    uint32_t weight_sum = 0;
    for (uint32_t i = 0; i < N; i++)
        weight_sum += members_get(ringmap_members(r), i)->vnode_count;
    for (uint32_t i = 0; i < N; i++) {
        double share = (double)members_get(ringmap_members(r), i)->vnode_count / weight_sum;
        double ratio = primary[i] / (share * KEYS);
        cr_log_info("node w%u: %u vnodes, %.3f of its fair share", i, members_get(ringmap_members(r), i)->vnode_count,
                    ratio);
        cr_assert(ratio > 0.9 && ratio < 1.1, "node %u at %.3f of its share", i, ratio);
    }
    ringmap_free(r);
    free(tokens);
}

/* A known answer: the placement is part of every static cluster's ring, recomputed at each
 * start, so a change to it would move data on upgrade. If this fails, the change to
 * ring/place.c changed tokens: keep the old algorithm for existing clusters. */
Test(place, the_placement_of_a_3_node_cluster_is_pinned)
{
    struct ringmap *r = placed_cluster(3);
    uint64_t h = 0;
    for (uint32_t p = 0; p < ringmap_count(r); p++) {
        struct ringmap_entry e = ringmap_entry(r, p);
        uint8_t b[16];
        store_be64(b, e.token);
        store_be32(b + 8, e.node_idx);
        store_be32(b + 12, e.vnode_idx);
        h = h * UINT64_C(1099511628211) ^ token_of_key(b, sizeof b);
    }
    cr_log_info("3-node ring digest %016llx", (unsigned long long)h);
    cr_assert_eq(h, UINT64_C(0x17a00eaf9413f9e7), "ring digest %016llx", (unsigned long long)h);
    ringmap_free(r);
}

Test(place, the_first_candidate_is_the_lone_node_token)
{
    uint8_t seed[5 + 4];
    memcpy(seed, "alone", 5);
    store_be32(seed + 5, 7);
    cr_assert_eq(place_candidate("alone", 7, 0), token_of_key(seed, sizeof seed));
    cr_assert_neq(place_candidate("alone", 7, 1), place_candidate("alone", 7, 0));
    cr_assert_neq(place_candidate("alone", 7, 1), place_candidate("alone", 8, 1));
}
