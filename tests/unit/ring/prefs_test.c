/* Tests of ring/prefs: a preference list holds the first RF distinct nodes clockwise from
 * the token's owner, each with the vnode it was met at; a ring with fewer nodes gives all of
 * them; the hint-holder walk goes on clockwise past the list, skipping down nodes and nodes
 * already chosen; the owning shard is the vnode index mod the node's shard count. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "ring/members.h"
#include "ring/prefs.h"
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
        .shard_count = 4,
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
    return r;
}

static const char *name_of(const struct ringmap *r, uint32_t node_idx)
{
    return members_get(ringmap_members(r), node_idx)->node_id;
}

/* Six nodes "a".."f" with one vnode each at tokens 10, 20, ..., 60; `down` names the nodes
 * that are down. */
static uint64_t six_tok[6][1] = { { 10 }, { 20 }, { 30 }, { 40 }, { 50 }, { 60 } };
static const char *const six_id[6] = { "a", "b", "c", "d", "e", "f" };
static struct ringmap *six(const char *down)
{
    struct member_desc d[6];
    for (uint32_t i = 0; i < 6; i++) {
        d[i] = desc_of(six_id[i], 1, six_tok[i]);
        d[i].up = strchr(down, six_id[i][0]) == NULL;
    }
    return ring_of(d, 6);
}

static void assert_names(const struct ringmap *r, const struct prefs_replica *list, uint32_t n, const char *want)
{
    cr_assert_eq(n, strlen(want), "%u nodes, wanted \"%s\"", n, want);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(name_of(r, list[i].node_idx)[0], want[i], "node %u of \"%s\"", i, want);
}

Test(prefs, the_list_is_the_first_rf_nodes_clockwise_from_the_owner)
{
    struct ringmap *r = six("");
    struct prefs p;
    prefs_for_token(r, 15, 3, &p);
    assert_names(r, p.replica, p.count, "bcd");
    prefs_for_token(r, 20, 3, &p);
    assert_names(r, p.replica, p.count, "bcd");
    prefs_for_token(r, 55, 3, &p);
    assert_names(r, p.replica, p.count, "fab");
    prefs_for_token(r, 61, 3, &p);
    assert_names(r, p.replica, p.count, "abc");
    prefs_for_token(r, 61, 1, &p);
    assert_names(r, p.replica, p.count, "a");
    ringmap_free(r);
}

Test(prefs, down_nodes_stay_in_the_list)
{
    struct ringmap *r = six("c");
    struct prefs p;
    prefs_for_token(r, 15, 3, &p);
    assert_names(r, p.replica, p.count, "bcd");
    ringmap_free(r);
}

Test(prefs, rf_above_the_node_count_gives_every_node_once)
{
    struct ringmap *r = six("");
    struct prefs p;
    prefs_for_token(r, 35, RKV_RF_MAX, &p);
    assert_names(r, p.replica, p.count, "defabc");
    ringmap_free(r);

    uint64_t a[3] = { 1, 2, 3 };
    uint64_t b[3] = { 4, 5, 6 };
    struct member_desc d[2] = { desc_of("a", 3, a), desc_of("b", 3, b) };
    r = ring_of(d, 2);
    prefs_for_token(r, 0, 3, &p);
    assert_names(r, p.replica, p.count, "ab");
    cr_assert_eq(p.replica[1].vnode_idx, 0, "b is met first at its vnode 0 (token 4)");
    ringmap_free(r);
}

Test(prefs, an_empty_ring_gives_an_empty_list)
{
    struct member_desc d = desc_of("j", 4, NULL);
    d.status = MEMBER_JOINING;
    struct ringmap *r = ring_of(&d, 1);
    struct prefs p;
    prefs_for_token(r, 7, 3, &p);
    cr_assert_eq(p.count, 0);
    struct prefs_replica live[3];
    cr_assert_eq(prefs_next_live(r, &p, 3, live), 0);
    ringmap_free(r);
}

/* The reference walk: from the owner's position, every position in turn, keeping nodes not
 * seen yet. */
static void prefs_by_walk(const struct ringmap *r, uint64_t t, uint32_t rf, struct prefs *out)
{
    memset(out, 0, sizeof *out);
    uint32_t pos = ringmap_find(r, t);
    for (uint32_t step = 0; step < ringmap_count(r) && out->count < rf; step++) {
        struct ringmap_entry e = ringmap_entry(r, pos);
        bool seen = false;
        for (uint32_t k = 0; k < out->count; k++)
            seen = seen || out->replica[k].node_idx == e.node_idx;
        if (!seen)
            out->replica[out->count++] = (struct prefs_replica){ e.node_idx, e.vnode_idx };
        pos = (pos + 1u) % ringmap_count(r);
    }
}

Test(prefs, lists_on_a_random_ring_are_distinct_nodes_met_first_clockwise)
{
    enum { N = 9, V = 30 };
    static uint64_t tok[N][V];
    static char ids[N][8];
    struct member_desc d[N];
    uint64_t seed = 7;
    for (uint32_t n = 0; n < N; n++) {
        snprintf(ids[n], sizeof ids[n], "n%u", n);
        for (uint32_t v = 0; v < V; v++)
            tok[n][v] = splitmix64(&seed);
        d[n] = desc_of(ids[n], V, tok[n]);
    }
    struct ringmap *r = ring_of(d, N);
    for (uint32_t rf = 1; rf <= RKV_RF_MAX; rf++) {
        for (int i = 0; i < 3000; i++) {
            uint64_t t = splitmix64(&seed);
            struct prefs got;
            struct prefs want;
            prefs_for_token(r, t, rf, &got);
            prefs_by_walk(r, t, rf, &want);
            cr_assert_eq(got.count, rf);
            cr_assert_eq(got.replica[0].node_idx, ringmap_entry(r, ringmap_find(r, t)).node_idx, "primary = owner");
            for (uint32_t k = 0; k < rf; k++) {
                cr_assert_eq(got.replica[k].node_idx, want.replica[k].node_idx);
                cr_assert_eq(got.replica[k].vnode_idx, want.replica[k].vnode_idx);
                for (uint32_t j = 0; j < k; j++)
                    cr_assert_neq(got.replica[k].node_idx, got.replica[j].node_idx);
            }
            struct ringmap_entry last = ringmap_entry(r, got.last_pos);
            cr_assert_eq(last.node_idx, got.replica[rf - 1].node_idx);
            cr_assert_eq(last.vnode_idx, got.replica[rf - 1].vnode_idx);
        }
    }
    ringmap_free(r);
}

Test(prefs, next_live_walks_on_past_the_list)
{
    struct ringmap *r = six("");
    struct prefs p;
    prefs_for_token(r, 15, 3, &p);
    struct prefs_replica live[RKV_RF_MAX];
    assert_names(r, live, prefs_next_live(r, &p, 2, live), "ef");
    assert_names(r, live, prefs_next_live(r, &p, RKV_RF_MAX, live), "efa");
    cr_assert_eq(prefs_next_live(r, &p, 0, live), 0);
    ringmap_free(r);
}

Test(prefs, next_live_skips_down_nodes)
{
    struct ringmap *r = six("ec");
    struct prefs p;
    prefs_for_token(r, 15, 3, &p);
    assert_names(r, p.replica, p.count, "bcd");
    struct prefs_replica live[RKV_RF_MAX];
    assert_names(r, live, prefs_next_live(r, &p, 1, live), "f");
    assert_names(r, live, prefs_next_live(r, &p, 3, live), "fa");
    ringmap_free(r);

    r = six("abcdef");
    prefs_for_token(r, 15, 3, &p);
    cr_assert_eq(prefs_next_live(r, &p, 3, live), 0, "nobody is up");
    ringmap_free(r);
}

Test(prefs, next_live_gives_each_node_once_and_never_one_of_the_list)
{
    /* Interleaved vnodes: a b c a b c d a d e ... the walk past the list meets list nodes
     * and repeated nodes again. */
    uint64_t a[3] = { 10, 40, 80 };
    uint64_t b[2] = { 20, 50 };
    uint64_t c[2] = { 30, 60 };
    uint64_t dd[2] = { 70, 90 };
    uint64_t e[1] = { 100 };
    struct member_desc d[5] = { desc_of("a", 3, a), desc_of("b", 2, b), desc_of("c", 2, c), desc_of("d", 2, dd),
                                desc_of("e", 1, e) };
    d[3].up = false;
    struct ringmap *r = ring_of(d, 5);
    struct prefs p;
    prefs_for_token(r, 5, 2, &p);
    assert_names(r, p.replica, p.count, "ab");
    struct prefs_replica live[RKV_RF_MAX];
    uint32_t n = prefs_next_live(r, &p, RKV_RF_MAX, live);
    assert_names(r, live, n, "ce");
    cr_assert_eq(live[0].vnode_idx, 0, "c met first at token 30, its vnode 0");
    ringmap_free(r);
}

Test(prefs, the_owning_shard_is_the_vnode_index_mod_the_nodes_shard_count)
{
    uint64_t a[5] = { 10, 20, 30, 40, 50 };
    struct member_desc d = desc_of("a", 5, a);
    d.shard_count = 3;
    struct ringmap *r = ring_of(&d, 1);
    for (uint32_t v = 0; v < 5; v++) {
        struct prefs p;
        prefs_for_token(r, a[v], 1, &p);
        cr_assert_eq(p.replica[0].vnode_idx, v);
        cr_assert_eq(prefs_replica_shard(r, &p.replica[0]), v % 3u);
    }
    ringmap_free(r);
}

Test(prefs, rf_0_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct prefs p;
    prefs_for_token(r, 1, 0, &p);
}

Test(prefs, rf_max_plus_one_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct prefs p;
    prefs_for_token(r, 1, RKV_RF_MAX + 1, &p);
}
