/* Tests of ring/members: a snapshot copies what it is given, sorts nodes by node id whatever
 * the input order, gives tokens to nodes that come without them (the same tokens for the
 * same set of nodes), rejects bad descriptions as input errors, and holds at its limits. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "ring/members.h"
#include "ring/place.h"
#include "ring/token.h"

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

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static struct members *build(const struct member_desc *d, uint32_t n)
{
    struct members *m = NULL;
    cr_assert_eq(members_build(d, n, &m), RKV_OK);
    cr_assert_not_null(m);
    return m;
}

static enum rkv_err build_err(const struct member_desc *d, uint32_t n)
{
    struct members *m = (struct members *)1;
    enum rkv_err err = members_build(d, n, &m);
    if (err == RKV_OK)
        members_free(m);
    else
        cr_assert_null(m, "members_out is cleared on error");
    return err;
}

Test(members, nodes_are_sorted_by_node_id_and_found_by_it)
{
    struct member_desc d[3] = { desc_of("node-c"), desc_of("node-a"), desc_of("node-b") };
    d[0].shard_count = 7;
    struct members *m = build(d, 3);
    cr_assert_eq(members_count(m), 3);
    cr_assert_str_eq(members_get(m, 0)->node_id, "node-a");
    cr_assert_str_eq(members_get(m, 1)->node_id, "node-b");
    cr_assert_str_eq(members_get(m, 2)->node_id, "node-c");
    cr_assert_eq(members_get(m, 2)->shard_count, 7);
    uint32_t idx = 0;
    cr_assert(members_find(m, "node-b", &idx));
    cr_assert_eq(idx, 1);
    cr_assert_not(members_find(m, "node-d", &idx));
    cr_assert_eq(idx, UINT32_MAX);
    members_free(m);
}

Test(members, a_snapshot_copies_ids_addresses_tokens_and_flags)
{
    char id[16];
    strcpy(id, "copied");
    uint64_t tokens[3] = { 30, 10, 20 };
    struct member_desc d = desc_of(id);
    d.vnode_count = 3;
    d.tokens = tokens;
    d.status = MEMBER_LEAVING;
    d.up = false;
    d.peer_addr.port = 9999;
    struct members *m = build(&d, 1);
    strcpy(id, "changed");
    tokens[0] = 99;
    const struct member *n = members_get(m, 0);
    cr_assert_str_eq(n->node_id, "copied");
    cr_assert_eq(n->origin, token_origin_of_node("copied"));
    cr_assert_eq(n->tokens[0], 30, "tokens stay in vnode order, copied");
    cr_assert_eq(n->tokens[1], 10);
    cr_assert_eq(n->tokens[2], 20);
    cr_assert_eq(n->status, MEMBER_LEAVING);
    cr_assert_not(n->up);
    cr_assert_eq(n->peer_addr.port, 9999);
    cr_assert_str_eq(n->bin_addr.host, "127.0.0.1");
    members_free(m);
}

Test(members, describe_rebuilds_an_identical_snapshot)
{
    struct member_desc d[4] = { desc_of("n1"), desc_of("n2"), desc_of("n3"), desc_of("n4") };
    d[2].status = MEMBER_JOINING;
    struct members *a = build(d, 4);
    struct member_desc again[4];
    for (uint32_t i = 0; i < 4; i++)
        members_describe(a, i, &again[i]);
    again[1].up = false; /* a liveness change: the one field that differs */
    struct members *b = build(again, 4);
    for (uint32_t i = 0; i < 4; i++) {
        const struct member *x = members_get(a, i);
        const struct member *y = members_get(b, i);
        cr_assert_str_eq(x->node_id, y->node_id);
        cr_assert_eq(x->status, y->status);
        if (i != 1)
            cr_assert_eq(x->up, y->up);
        cr_assert_eq(memcmp(x->tokens, y->tokens, x->vnode_count * sizeof x->tokens[0]), 0);
    }
    cr_assert_not(members_get(b, 1)->up);
    members_free(a);
    members_free(b);
}

Test(members, a_lone_node_without_tokens_gets_the_tokens_of_ring_token_h)
{
    struct member_desc d = desc_of("solo");
    struct members *m = build(&d, 1);
    struct vnode_ring *r = NULL;
    cr_assert_eq(vnode_ring_build("solo", RKV_VNODES_DEFAULT, &r), RKV_OK);
    for (uint32_t i = 0; i < RKV_VNODES_DEFAULT; i++)
        cr_assert_eq(members_get(m, 0)->tokens[i], vnode_ring_token(r, i), "vnode %u", i);
    vnode_ring_free(r);
    members_free(m);
}

Test(members, placed_tokens_do_not_depend_on_the_input_order)
{
    enum { N = 7 };
    static const char *const ids[N] = { "g", "c", "a", "f", "b", "e", "d" };
    struct member_desc fwd[N];
    struct member_desc rev[N];
    for (uint32_t i = 0; i < N; i++) {
        fwd[i] = desc_of(ids[i]);
        rev[N - 1 - i] = desc_of(ids[i]);
    }
    fwd[3].vnode_count = 40; /* "f" has fewer vnodes, in both orders */
    rev[N - 1 - 3].vnode_count = 40;
    struct members *a = build(fwd, N);
    struct members *b = build(rev, N);
    for (uint32_t i = 0; i < N; i++) {
        const struct member *x = members_get(a, i);
        const struct member *y = members_get(b, i);
        cr_assert_str_eq(x->node_id, y->node_id);
        cr_assert_eq(x->vnode_count, y->vnode_count);
        cr_assert_eq(memcmp(x->tokens, y->tokens, x->vnode_count * sizeof x->tokens[0]), 0, "node %s", x->node_id);
    }
    members_free(a);
    members_free(b);
}

Test(members, placed_tokens_are_distinct_across_the_cluster)
{
    enum { N = 20 };
    struct member_desc d[N];
    char ids[N][16];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "node%02u", i);
        d[i] = desc_of(ids[i]);
    }
    struct members *m = build(d, N);
    static uint64_t all[N * RKV_VNODES_DEFAULT];
    uint32_t k = 0;
    for (uint32_t a = 0; a < N; a++)
        for (uint32_t i = 0; i < RKV_VNODES_DEFAULT; i++)
            all[k++] = members_get(m, a)->tokens[i];
    qsort(all, k, sizeof all[0], u64_cmp);
    for (uint32_t i = 1; i < k; i++)
        cr_assert_neq(all[i - 1], all[i]);
    members_free(m);
}

Test(members, every_placed_token_is_one_of_its_vnodes_candidates)
{
    struct member_desc d[3] = { desc_of("x"), desc_of("y"), desc_of("z") };
    struct members *m = build(d, 3);
    for (uint32_t n = 0; n < 3; n++) {
        const struct member *mb = members_get(m, n);
        for (uint32_t i = 0; i < mb->vnode_count; i++) {
            bool found = false;
            for (uint32_t j = 0; j < PLACE_CANDIDATES; j++)
                found = found || place_candidate(mb->node_id, i, j) == mb->tokens[i];
            cr_assert(found, "node %s vnode %u", mb->node_id, i);
        }
    }
    members_free(m);
}

Test(members, nodes_with_tokens_keep_them_while_others_are_placed)
{
    uint64_t fixed[2] = { UINT64_C(1) << 62, UINT64_C(3) << 62 };
    struct member_desc d[3] = { desc_of("p"), desc_of("q"), desc_of("r") };
    d[1].vnode_count = 2;
    d[1].tokens = fixed;
    struct members *m = build(d, 3);
    cr_assert_eq(members_get(m, 1)->tokens[0], fixed[0]);
    cr_assert_eq(members_get(m, 1)->tokens[1], fixed[1]);
    members_free(m);
}

Test(members, zero_nodes_are_rejected)
{
    struct member_desc d = desc_of("a");
    cr_assert_eq(build_err(&d, 0), RKV_INVALID_ARG);
}

Test(members, nodes_max_is_accepted_and_nodes_max_plus_one_is_rejected)
{
    static struct member_desc d[RKV_NODES_MAX + 1];
    static char ids[RKV_NODES_MAX + 1][16];
    for (uint32_t i = 0; i <= RKV_NODES_MAX; i++) {
        snprintf(ids[i], sizeof ids[i], "n%04u", i);
        d[i] = desc_of(ids[i]);
        d[i].vnode_count = 2;
    }
    struct members *m = build(d, RKV_NODES_MAX);
    cr_assert_eq(members_count(m), RKV_NODES_MAX);
    members_free(m);
    cr_assert_eq(build_err(d, RKV_NODES_MAX + 1), RKV_INVALID_ARG);
}

Test(members, a_duplicate_node_id_is_rejected)
{
    struct member_desc d[3] = { desc_of("a"), desc_of("b"), desc_of("a") };
    cr_assert_eq(build_err(d, 3), RKV_INVALID_ARG);
}

Test(members, node_ids_are_checked_like_the_configuration_checks_them)
{
    char longest[RKV_NODE_ID_BYTES_MAX + 2];
    memset(longest, 'x', sizeof longest);
    longest[RKV_NODE_ID_BYTES_MAX] = '\0';
    struct member_desc d = desc_of(longest);
    cr_assert_eq(build_err(&d, 1), RKV_OK, "64 bytes");
    longest[RKV_NODE_ID_BYTES_MAX] = 'x';
    longest[RKV_NODE_ID_BYTES_MAX + 1] = '\0';
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG, "65 bytes");
    d.node_id = "";
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG, "empty");
    d.node_id = "a b";
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG, "space");
    d.node_id = NULL;
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG, "NULL");
}

Test(members, shard_and_vnode_counts_are_checked_at_their_limits)
{
    struct member_desc d = desc_of("a");
    d.shard_count = 0;
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG);
    d.shard_count = RKV_SHARDS_MAX;
    cr_assert_eq(build_err(&d, 1), RKV_OK);
    d.shard_count = RKV_SHARDS_MAX + 1;
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG);
    d.shard_count = 1;
    d.vnode_count = 0;
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG);
    d.vnode_count = 1;
    cr_assert_eq(build_err(&d, 1), RKV_OK);
    d.vnode_count = RKV_VNODES_MAX;
    cr_assert_eq(build_err(&d, 1), RKV_OK);
    d.vnode_count = RKV_VNODES_MAX + 1;
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG);
}

Test(members, only_joining_and_normal_nodes_may_come_without_tokens)
{
    struct member_desc d = desc_of("a");
    d.status = MEMBER_JOINING;
    cr_assert_eq(build_err(&d, 1), RKV_OK);
    d.status = MEMBER_LEAVING;
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG);
    d.status = MEMBER_LEFT;
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG);
    d.status = MEMBER_STATUS_COUNT;
    uint64_t t = 5;
    d.vnode_count = 1;
    d.tokens = &t;
    cr_assert_eq(build_err(&d, 1), RKV_INVALID_ARG, "unknown status");
}

Test(members, only_normal_and_leaving_nodes_own_ranges)
{
    cr_assert_not(members_status_owns(MEMBER_JOINING));
    cr_assert(members_status_owns(MEMBER_NORMAL));
    cr_assert(members_status_owns(MEMBER_LEAVING));
    cr_assert_not(members_status_owns(MEMBER_LEFT));
}

Test(members, a_node_index_out_of_range_aborts, .signal = SIGABRT)
{
    struct member_desc d = desc_of("a");
    struct members *m = build(&d, 1);
    (void)members_get(m, 1);
}
