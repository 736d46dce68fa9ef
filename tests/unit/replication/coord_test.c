/* Tests of replication/coord: writes answer at W and only at W, or UNAVAILABLE with the acks
 * they got; every level and RF 1..5 under every order of acks and failures; fencing
 * re-stamps above the reported timestamp and resends only where needed, a bounded number of
 * times; late and duplicate events; reads answer the newest record by (timestamp, origin),
 * repair exactly the stale replicas, before the answer at quorum and all and after it at
 * one; hints go to the next live node past the list and count only under sloppy quorum.
 * Everything is pure: time and the clock are passed in. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/hlc.h"
#include "core/limits.h"
#include "replication/coord.h"
#include "ring/members.h"
#include "ring/prefs.h"
#include "ring/ringmap.h"

/* ---- Fixtures ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Six nodes "a".."f", one vnode each at tokens 10..60; `down` names the down ones. A key of
 * token 15 has the list b, c, d, e, f, a. */
static uint64_t six_tok[6][1] = { { 10 }, { 20 }, { 30 }, { 40 }, { 50 }, { 60 } };
static const char *const six_id[6] = { "a", "b", "c", "d", "e", "f" };
static struct ringmap *six(const char *down)
{
    struct member_desc d[6];
    for (uint32_t i = 0; i < 6; i++) {
        d[i] = (struct member_desc){
            .node_id = six_id[i],
            .bin_addr = { .host = "127.0.0.1", .port = 7379 },
            .http_addr = { .host = "127.0.0.1", .port = 8080 },
            .peer_addr = { .host = "127.0.0.1", .port = 7400 },
            .shard_count = 2,
            .vnode_count = 1,
            .tokens = six_tok[i],
            .status = MEMBER_NORMAL,
            .up = strchr(down, six_id[i][0]) == NULL,
        };
    }
    struct members *m = NULL;
    cr_assert_eq(members_build(d, 6, &m), RKV_OK);
    struct ringmap *r = NULL;
    cr_assert_eq(ringmap_build(m, &r), RKV_OK);
    return r;
}

static char name_of(const struct ringmap *r, uint32_t node_idx)
{
    return members_get(ringmap_members(r), node_idx)->node_id[0];
}

static struct record_hdr rec(uint64_t ts, uint32_t origin, uint64_t version)
{
    return (struct record_hdr){ .flags = 0, .origin = origin, .timestamp = ts, .version = version, .expiry_ms = 0 };
}

static struct record_hdr tomb(uint64_t ts, uint32_t origin, uint64_t version)
{
    struct record_hdr h = rec(ts, origin, version);
    h.flags = REC_F_TOMBSTONE;
    return h;
}

static uint32_t all_bits(uint32_t n) { return (UINT32_C(1) << n) - 1u; }

#define T0 hlc_make(1000, 0)
#define DEADLINE 5000u

/* A write of rf replicas from the six-node ring, nobody down. */
static void write_start(struct ringmap *r, struct coord_req *q, uint32_t rf, enum coord_level level, uint32_t flags,
                        uint32_t down_mask, struct coord_actions *a)
{
    struct prefs p;
    prefs_for_token(r, 15, rf, &p);
    cr_assert_eq(p.count, rf);
    struct record_hdr h = rec(T0, 7, 5);
    coord_write_start(q, r, &p, level, flags, DEADLINE, &h, down_mask, NULL, a);
}

static void read_start(struct ringmap *r, struct coord_req *q, uint32_t rf, enum coord_level level, uint32_t flags,
                       uint32_t down_mask, struct coord_actions *a)
{
    struct prefs p;
    prefs_for_token(r, 15, rf, &p);
    coord_read_start(q, &p, level, flags, DEADLINE, 2000, down_mask, a);
}

static const enum coord_level levels[] = { COORD_ONE, COORD_QUORUM, COORD_ALL };

/* ---- Levels ---- */

Test(coord, needed_is_one_half_plus_one_and_all)
{
    static const uint32_t quorum[RKV_RF_MAX + 1] = { 1, 1, 2, 2, 3, 3, 4, 4 };
    for (uint32_t rf = 1; rf <= RKV_RF_MAX; rf++) {
        cr_assert_eq(coord_needed(COORD_ONE, rf), 1u);
        cr_assert_eq(coord_needed(COORD_QUORUM, rf), quorum[rf], "rf %u", rf);
        cr_assert_eq(coord_needed(COORD_ALL, rf), rf);
    }
    for (uint32_t l = 0; l < COORD_LEVEL_COUNT; l++)
        cr_assert_eq(coord_needed((enum coord_level)l, 0), 1u, "an empty list can never be satisfied");
}

Test(coord, needed_uses_the_clipped_rf_of_the_list)
{
    /* Two nodes with RF 3: the list holds 2, so all needs 2 and quorum needs 2. */
    uint64_t ta[1] = { 10 }, tb[1] = { 20 };
    struct member_desc d[2] = {
        { .node_id = "a", .bin_addr = { "127.0.0.1", 1 }, .peer_addr = { "127.0.0.1", 2 }, .shard_count = 1,
          .vnode_count = 1, .tokens = ta, .status = MEMBER_NORMAL, .up = true },
        { .node_id = "b", .bin_addr = { "127.0.0.1", 1 }, .peer_addr = { "127.0.0.1", 2 }, .shard_count = 1,
          .vnode_count = 1, .tokens = tb, .status = MEMBER_NORMAL, .up = true },
    };
    struct members *m = NULL;
    cr_assert_eq(members_build(d, 2, &m), RKV_OK);
    struct ringmap *r = NULL;
    cr_assert_eq(ringmap_build(m, &r), RKV_OK);
    struct prefs p;
    prefs_for_token(r, 15, 3, &p);
    struct coord_req q;
    struct coord_actions a;
    struct record_hdr h = rec(T0, 1, 1);
    coord_write_start(&q, r, &p, COORD_ALL, 0, DEADLINE, &h, 0, NULL, &a);
    cr_assert_eq(q.needed, 2u);
    cr_assert_eq(a.send_mask, 3u);
    ringmap_free(r);
}

Test(coord, an_empty_list_answers_unavailable_at_once)
{
    struct ringmap *r = six("");
    struct prefs p = { .count = 0 };
    struct coord_req q;
    struct coord_actions a;
    struct record_hdr h = rec(T0, 1, 1);
    coord_write_start(&q, r, &p, COORD_ONE, 0, DEADLINE, &h, 0, NULL, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
    cr_assert_eq(a.answer.acked, 0u);
    cr_assert_eq(a.answer.needed, 1u);
    cr_assert_eq(a.send_mask | a.hint_mask, 0u);
    cr_assert(coord_done(&q));
    coord_read_start(&q, &p, COORD_ONE, 0, DEADLINE, 0, 0, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
    ringmap_free(r);
}

/* ---- Writes: every order of acks and failures ---- */

/* Replays one order of outcomes (bit k of fail_mask: replica order[k] fails) and checks the
 * answer against a model: OK at the event that brings the W-th ack, UNAVAILABLE at the event
 * that leaves nothing in flight below W; exactly once; done after the last event. */
static void write_order_check(struct ringmap *r, uint32_t rf, enum coord_level level, const uint32_t *order,
                              uint32_t fail_mask)
{
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, rf, level, 0, 0, &a);
    cr_assert_eq(a.send_mask, all_bits(rf));
    cr_assert_eq(a.hint_mask, 0u);
    cr_assert(!a.answer_now);
    uint32_t w = coord_needed(level, rf), acks = 0, answers = 0;
    for (uint32_t k = 0; k < rf; k++) {
        bool fail = (fail_mask >> k) & 1u;
        if (fail)
            coord_on_fail(&q, order[k], RKV_TIMEOUT, &a);
        else
            coord_on_ack(&q, order[k], &a);
        acks += !fail;
        cr_assert_eq(a.send_mask | a.hint_mask | a.repair_mask, 0u);
        bool want_ok = !fail && acks == w;
        bool want_unavailable = acks < w && k + 1 == rf;
        cr_assert_eq(a.answer_now, want_ok || want_unavailable, "rf %u level %d event %u", rf, level, k);
        if (a.answer_now) {
            answers++;
            cr_assert_eq(a.answer.err, want_ok ? RKV_OK : RKV_UNAVAILABLE);
            cr_assert_eq(a.answer.acked, acks);
            cr_assert_eq(a.answer.needed, w);
            cr_assert_eq(a.answer.hinted, 0u);
            cr_assert_eq(a.answer.hdr.timestamp, T0);
            cr_assert_eq(a.answer.hdr.version, 5u);
        }
    }
    cr_assert_eq(answers, 1u);
    cr_assert(coord_done(&q));
    cr_assert_eq(coord_answer(&q)->acked, acks < w ? acks : w, "the answer does not change after it is given");
}

static bool next_permutation(uint32_t *v, uint32_t n)
{
    if (n < 2)
        return false;
    uint32_t i = n - 1;
    while (i > 0 && v[i - 1] >= v[i])
        i--;
    if (i == 0)
        return false;
    uint32_t j = n - 1;
    while (v[j] <= v[i - 1])
        j--;
    uint32_t t = v[i - 1];
    v[i - 1] = v[j];
    v[j] = t;
    for (uint32_t lo = i, hi = n - 1; lo < hi; lo++, hi--) {
        t = v[lo];
        v[lo] = v[hi];
        v[hi] = t;
    }
    return true;
}

Test(coord, writes_answer_exactly_at_w_for_every_level_rf_and_order)
{
    struct ringmap *r = six("");
    uint32_t cases = 0;
    for (uint32_t rf = 1; rf <= 5; rf++) {
        for (uint32_t l = 0; l < 3; l++) {
            uint32_t order[5] = { 0, 1, 2, 3, 4 };
            do {
                for (uint32_t fail_mask = 0; fail_mask <= all_bits(rf); fail_mask++) {
                    write_order_check(r, rf, levels[l], order, fail_mask);
                    cases++;
                }
            } while (next_permutation(order, rf));
        }
    }
    cr_assert_eq(cases, 3u * (1u * 2 + 2u * 4 + 6u * 8 + 24u * 16 + 120u * 32));
    ringmap_free(r);
}

Test(coord, deadline_with_k_acks_answers_unavailable_k_of_needed)
{
    struct ringmap *r = six("");
    for (uint32_t rf = 1; rf <= 5; rf++) {
        for (uint32_t l = 0; l < 3; l++) {
            uint32_t w = coord_needed(levels[l], rf);
            for (uint32_t k = 0; k < w; k++) {
                struct coord_req q;
                struct coord_actions a;
                write_start(r, &q, rf, levels[l], 0, 0, &a);
                for (uint32_t i = 0; i < k; i++) {
                    coord_on_ack(&q, i, &a);
                    cr_assert(!a.answer_now);
                }
                coord_on_deadline(&q, DEADLINE, &a);
                cr_assert(a.answer_now);
                cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
                cr_assert_eq(a.answer.acked, k);
                cr_assert_eq(a.answer.needed, w);
                cr_assert(!coord_done(&q), "replicas are still in flight");
                /* Late acks complete in the background and never answer again. */
                for (uint32_t i = k; i < rf; i++) {
                    coord_on_ack(&q, i, &a);
                    cr_assert(!a.answer_now);
                    cr_assert_eq(coord_replica(&q, i)->state, COORD_R_ACKED);
                }
                cr_assert(coord_done(&q));
                cr_assert_eq(coord_answer(&q)->err, RKV_UNAVAILABLE);
                coord_on_deadline(&q, DEADLINE + 1, &a);
                cr_assert(!a.answer_now);
            }
        }
    }
    ringmap_free(r);
}

Test(coord, late_acks_after_the_answer_are_absorbed_and_tracked)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_ONE, 0, 0, &a);
    coord_on_ack(&q, 2, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.acked, 1u);
    coord_on_fail(&q, 0, RKV_IO, &a);
    cr_assert(!a.answer_now);
    coord_on_ack(&q, 1, &a);
    cr_assert(!a.answer_now);
    cr_assert_eq(coord_replica(&q, 0)->state, COORD_R_FAILED);
    cr_assert_eq(coord_replica(&q, 1)->state, COORD_R_ACKED);
    cr_assert_eq(coord_answer(&q)->acked, 1u, "the answer keeps what it said");
    cr_assert(coord_done(&q));
    ringmap_free(r);
}

/* ---- Fencing ---- */

Test(coord, a_fence_restamps_above_the_stored_timestamp_and_resends_where_needed)
{
    struct ringmap *r = six("");
    struct hlc clock = { .last = T0 };
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_ack(&q, 1, &a); /* acks T0 */
    uint64_t stored = hlc_make(1003, 9);
    coord_on_fenced(&q, 0, stored, 11, &clock, 1001, &a);
    cr_assert(!a.answer_now);
    const struct record_hdr *now = coord_record(&q);
    cr_assert_gt(now->timestamp, stored);
    cr_assert_eq(now->version, 12u, "above the fencing replica's version");
    cr_assert_eq(now->origin, 7u);
    cr_assert_eq(clock.last, now->timestamp, "the stamp comes from the clock");
    /* 0 (fenced) and 1 (acked the old stamp) get the new record; 2 is still in flight. */
    cr_assert_eq(a.send_mask, 0x3u);
    cr_assert_eq(q.restamps, 1u);
    /* 2 acks the old stamp: it does not count, it gets the new record. */
    coord_on_ack(&q, 2, &a);
    cr_assert(!a.answer_now);
    cr_assert_eq(a.send_mask, 0x4u);
    coord_on_ack(&q, 1, &a);
    cr_assert(!a.answer_now);
    coord_on_ack(&q, 2, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_OK);
    cr_assert_eq(a.answer.acked, 2u);
    cr_assert_eq(a.answer.restamps, 1u);
    cr_assert_eq(a.answer.hdr.timestamp, now->timestamp);
    cr_assert_eq(a.answer.hdr.version, 12u);
    coord_on_ack(&q, 0, &a);
    cr_assert(coord_done(&q));
    ringmap_free(r);
}

Test(coord, a_fence_keeps_the_version_when_it_is_already_higher)
{
    struct ringmap *r = six("");
    struct hlc clock = { .last = T0 };
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_fenced(&q, 0, T0 + 1, 2, &clock, 0, &a);
    cr_assert_eq(coord_record(&q)->version, 5u);
    cr_assert_gt(coord_record(&q)->timestamp, T0 + 1);
    cr_assert_eq(a.send_mask, 0x1u, "only the fenced replica; the others are in flight");
    ringmap_free(r);
}

Test(coord, a_fence_for_a_superseded_stamp_resends_without_a_restamp)
{
    struct ringmap *r = six("");
    struct hlc clock = { .last = T0 };
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_fenced(&q, 0, hlc_make(1005, 0), 6, &clock, 0, &a);
    uint64_t ts1 = coord_record(&q)->timestamp;
    /* Replica 1 fences the old stamp with something older than the new one. */
    coord_on_fenced(&q, 1, hlc_make(1002, 0), 3, &clock, 0, &a);
    cr_assert_eq(q.restamps, 1u);
    cr_assert_eq(coord_record(&q)->timestamp, ts1);
    cr_assert_eq(a.send_mask, 0x2u);
    /* Replica 2 fences the old stamp with something newer than the new one: re-stamp. */
    coord_on_fenced(&q, 2, ts1 + 50, 9, &clock, 0, &a);
    cr_assert_eq(q.restamps, 2u);
    cr_assert_gt(coord_record(&q)->timestamp, ts1 + 50);
    cr_assert_eq(coord_record(&q)->version, 10u);
    cr_assert_eq(a.send_mask, 0x4u, "0 and 1 are in flight with the previous stamp");
    ringmap_free(r);
}

Test(coord, restamps_are_bounded_then_the_write_gives_up_unavailable)
{
    struct ringmap *r = six("");
    struct hlc clock = { .last = T0 };
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_ack(&q, 1, &a);
    coord_on_ack(&q, 1 + 1, &a);
    cr_assert(a.answer_now, "quorum reached before any fence");
    /* A fence after the answer is absorbed: a newer write rightly wins. */
    coord_on_fenced(&q, 0, T0 + 99, 9, &clock, 0, &a);
    cr_assert_eq(a.send_mask | a.hint_mask, 0u);
    cr_assert_eq(coord_replica(&q, 0)->state, COORD_R_FENCED);
    cr_assert_eq(q.restamps, 0u);
    cr_assert(coord_done(&q));

    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_ack(&q, 1, &a);
    uint64_t stored = T0;
    for (uint32_t round = 0; round < RKV_COORD_RESTAMP_MAX; round++) {
        stored = coord_record(&q)->timestamp + 1000;
        coord_on_fenced(&q, 0, stored, 1, &clock, 0, &a);
        cr_assert(!a.answer_now);
        cr_assert_eq(q.restamps, round + 1);
        cr_assert_neq(a.send_mask & 0x1u, 0u);
        if (round == 0)
            coord_on_ack(&q, 1, &a); /* acks the new stamp */
    }
    coord_on_fenced(&q, 0, coord_record(&q)->timestamp + 1000, 1, &clock, 0, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
    cr_assert_eq(a.answer.acked, 0u, "1 acked a stamp that was superseded since");
    cr_assert_eq(a.answer.restamps, RKV_COORD_RESTAMP_MAX);
    cr_assert_eq(a.send_mask, 0u);
    /* Nothing more is sent once the write gave up. */
    coord_on_ack(&q, 1, &a);
    coord_on_ack(&q, 2, &a);
    cr_assert_eq(a.send_mask | a.hint_mask, 0u);
    cr_assert(!a.answer_now);
    cr_assert(coord_done(&q));
    ringmap_free(r);
}

Test(coord, a_fence_below_the_sent_stamp_counts_as_a_failure)
{
    struct ringmap *r = six("");
    struct hlc clock = { .last = T0 };
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 1, COORD_ONE, 0, 0, &a);
    coord_on_fenced(&q, 0, T0 - 1, 3, &clock, 0, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
    cr_assert_eq(coord_replica(&q, 0)->state, COORD_R_FAILED);
    cr_assert_eq(q.restamps, 0u);
    ringmap_free(r);
}

/* A random model check of writes: each replica (or hint holder) holds a random earlier
 * record, maybe newer than the write's first stamp, and fences, stores or fails like a real
 * replica; events come in random order with a deadline at a random point. Checks that the
 * answer comes once; that OK means at least W replicas that count really hold the answered
 * stamp; that the record is only sent where nothing is in flight; that re-stamps stay within
 * their bound and every stamp is above each fence it answers. */
Test(coord, random_writes_with_fences_answer_once_and_only_when_w_replicas_hold_the_stamp)
{
    struct ringmap *r = six("");
    uint64_t seed = 7;
    uint32_t oks = 0, gave_up = 0, restamped = 0;
    for (uint32_t iter = 0; iter < 20000; iter++) {
        uint32_t rf = 1 + (uint32_t)(splitmix64(&seed) % 5);
        enum coord_level level = levels[splitmix64(&seed) % 3];
        uint32_t flags = splitmix64(&seed) % 2 ? COORD_F_SLOPPY : 0;
        uint32_t down = rf <= 3 ? (uint32_t)(splitmix64(&seed) % (1u << rf)) & (uint32_t)splitmix64(&seed) : 0;
        uint64_t held_ts[5], held_v[5];
        uint32_t fail_pct[5];
        for (uint32_t i = 0; i < rf; i++) {
            uint64_t x = splitmix64(&seed);
            held_ts[i] = x % 3 == 0 ? T0 + 1 + (x >> 8) % 40 : T0 - 1 - (x >> 8) % 40;
            held_v[i] = 1 + (x >> 16) % 9;
            fail_pct[i] = (x >> 24) % 4 == 0 ? 30 : 0;
        }
        bool contended = splitmix64(&seed) % 4 == 0;
        struct hlc clock = { .last = T0 };
        struct coord_req q;
        struct coord_actions a;
        write_start(r, &q, rf, level, flags, down, &a);
        uint32_t w = coord_needed(level, rf);
        uint32_t inflight = 0, answers = 0;
        uint64_t inflight_ts[5];
        bool deadline_done = false;
        for (uint32_t step = 0; step < 400; step++) {
            uint32_t sent = a.send_mask | a.hint_mask;
            cr_assert_eq(a.send_mask & a.hint_mask, 0u);
            cr_assert_eq(a.hint_mask & ~down, 0u, "hints only for down replicas");
            cr_assert_eq(a.send_mask & down, 0u);
            cr_assert_eq(sent & inflight, 0u, "iter %u: one request in flight per replica", iter);
            for (uint32_t i = 0; i < rf; i++) {
                if ((sent >> i) & 1u)
                    inflight_ts[i] = coord_record(&q)->timestamp;
            }
            inflight |= sent;
            if (a.answer_now) {
                answers++;
                if (a.answer.err == RKV_OK) {
                    oks++;
                    uint32_t holding = 0;
                    for (uint32_t i = 0; i < rf; i++) {
                        bool counts = !((down >> i) & 1u) || flags == COORD_F_SLOPPY;
                        holding += counts && held_ts[i] == a.answer.hdr.timestamp;
                    }
                    cr_assert_geq(holding, w, "iter %u", iter);
                    cr_assert_geq(a.answer.acked + (flags ? a.answer.hinted : 0), w);
                } else if (q.gave_up) {
                    gave_up++;
                }
                restamped += a.answer.restamps > 0;
            }
            if (inflight == 0 && deadline_done)
                break;
            uint64_t x = splitmix64(&seed);
            if (inflight == 0 || (!deadline_done && x % 16 == 0)) {
                coord_on_deadline(&q, DEADLINE + (x >> 8) % 3, &a);
                deadline_done = true;
                continue;
            }
            uint32_t pick;
            do
                pick = (uint32_t)(splitmix64(&seed) % rf);
            while (!((inflight >> pick) & 1u));
            inflight &= ~(1u << pick);
            uint64_t ts = inflight_ts[pick];
            if (contended && (x >> 40) % 3 == 0 && held_ts[pick] < ts)
                held_ts[pick] = ts + 1 + (x >> 44) % 5; /* a racing writer got there first */
            if ((x >> 8) % 100 < fail_pct[pick]) {
                coord_on_fail(&q, pick, RKV_TIMEOUT, &a);
            } else if (held_ts[pick] >= ts) {
                uint32_t before = q.restamps;
                coord_on_fenced(&q, pick, held_ts[pick], held_v[pick], &clock, 1000, &a);
                cr_assert_leq(q.restamps, RKV_COORD_RESTAMP_MAX);
                if (q.restamps > before) {
                    cr_assert_gt(coord_record(&q)->timestamp, held_ts[pick]);
                    cr_assert_gt(coord_record(&q)->version, held_v[pick]);
                }
            } else {
                held_ts[pick] = ts;
                coord_on_ack(&q, pick, &a);
            }
        }
        cr_assert_eq(answers, 1u, "iter %u", iter);
        cr_assert_eq(inflight, 0u);
        cr_assert(coord_done(&q));
    }
    cr_assert_gt(oks, 1000u);
    cr_assert_gt(gave_up, 0u);
    cr_assert_gt(restamped, 1000u);
    ringmap_free(r);
}

/* ---- Hints ---- */

Test(coord, a_down_replica_goes_to_the_next_live_node_past_the_list)
{
    /* List b c d; c is down, e is down too: c's hint goes to f (d is in the list, e down). */
    struct ringmap *r = six("ce");
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0x2u, &a);
    cr_assert_eq(a.send_mask, 0x5u);
    cr_assert_eq(a.hint_mask, 0x2u);
    cr_assert_eq(name_of(r, coord_hint_holder(&q, 1).node_idx), 'f');
    cr_assert(coord_replica(&q, 1)->via_hint);
    ringmap_free(r);
}

Test(coord, hints_count_toward_w_only_under_sloppy_quorum)
{
    struct ringmap *r = six("cd");
    struct coord_req q;
    struct coord_actions a;
    /* List b c d, c and d down: holders e and f, in list order. */
    write_start(r, &q, 3, COORD_QUORUM, 0, 0x6u, &a);
    cr_assert_eq(a.send_mask, 0x1u);
    cr_assert_eq(a.hint_mask, 0x6u);
    cr_assert_eq(name_of(r, coord_hint_holder(&q, 1).node_idx), 'e');
    cr_assert_eq(name_of(r, coord_hint_holder(&q, 2).node_idx), 'f');
    coord_on_ack(&q, 0, &a);
    coord_on_ack(&q, 1, &a);
    cr_assert(!a.answer_now, "a hint does not count without sloppy quorum");
    coord_on_ack(&q, 2, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
    cr_assert_eq(a.answer.acked, 1u);
    cr_assert_eq(a.answer.hinted, 2u);
    cr_assert_eq(a.answer.needed, 2u);

    write_start(r, &q, 3, COORD_QUORUM, COORD_F_SLOPPY, 0x6u, &a);
    coord_on_ack(&q, 0, &a);
    cr_assert(!a.answer_now);
    coord_on_ack(&q, 2, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_OK);
    cr_assert_eq(a.answer.acked, 1u);
    cr_assert_eq(a.answer.hinted, 1u);
    cr_assert_eq(coord_replica(&q, 2)->state, COORD_R_HINTED);
    ringmap_free(r);
}

Test(coord, all_with_one_replica_down_reports_two_of_three)
{
    struct ringmap *r = six("c");
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_ALL, 0, 0x2u, &a);
    cr_assert_eq(a.send_mask, 0x5u);
    coord_on_ack(&q, 0, &a);
    coord_on_ack(&q, 2, &a);
    cr_assert(!a.answer_now, "the hint is still in flight");
    coord_on_ack(&q, 1, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
    cr_assert_eq(a.answer.acked, 2u);
    cr_assert_eq(a.answer.needed, 3u);
    cr_assert_eq(a.answer.hinted, 1u);
    ringmap_free(r);
}

Test(coord, a_down_replica_without_a_live_holder_fails_at_once)
{
    /* List b c d e f (RF 5): only a is outside it, and a is down. */
    struct ringmap *r = six("ac");
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 5, COORD_ONE, COORD_F_SLOPPY, 0x2u, &a);
    cr_assert_eq(a.send_mask, 0x1du);
    cr_assert_eq(a.hint_mask, 0u);
    cr_assert_eq(coord_replica(&q, 1)->state, COORD_R_FAILED);
    cr_assert(!coord_replica(&q, 1)->via_hint);
    ringmap_free(r);
}

Test(coord, a_fenced_hint_is_resent_to_its_holder)
{
    struct ringmap *r = six("c");
    struct hlc clock = { .last = T0 };
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, COORD_F_SLOPPY, 0x2u, &a);
    coord_on_ack(&q, 1, &a); /* the hint holder stored it */
    coord_on_fenced(&q, 0, T0 + 10, 1, &clock, 0, &a);
    cr_assert_eq(a.send_mask, 0x1u);
    cr_assert_eq(a.hint_mask, 0x2u);
    ringmap_free(r);
}

/* ---- Reads ---- */

Test(coord, a_read_asks_every_up_replica_and_answers_the_newest)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    cr_assert_eq(a.send_mask, 0x7u);
    struct record_hdr old = rec(T0, 9, 3), new = rec(T0 + 1, 1, 4);
    coord_on_read(&q, 0, true, &new, &a);
    cr_assert(!a.answer_now);
    coord_on_read(&q, 1, true, &old, &a);
    cr_assert(!a.answer_now, "quorum repairs before answering");
    cr_assert_eq(a.repair_mask, 0x2u);
    cr_assert_eq(a.repair_from_idx, 0u);
    coord_on_ack(&q, 1, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_OK);
    cr_assert_eq(a.answer.winner_idx, 0u);
    cr_assert_eq(a.answer.hdr.version, 4u);
    cr_assert_eq(a.answer.acked, 2u);
    cr_assert_eq(a.answer.needed, 2u);
    /* The third answers late with the old record: repaired in the background. */
    coord_on_read(&q, 2, true, &old, &a);
    cr_assert(!a.answer_now);
    cr_assert_eq(a.repair_mask, 0x4u);
    cr_assert(!coord_done(&q));
    coord_on_ack(&q, 2, &a);
    cr_assert(coord_done(&q));
    ringmap_free(r);
}

Test(coord, equal_timestamps_break_ties_by_origin)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 2, COORD_ALL, 0, 0, &a);
    struct record_hdr lo = rec(T0, 3, 8), hi = rec(T0, 4, 2);
    coord_on_read(&q, 0, true, &lo, &a);
    coord_on_read(&q, 1, true, &hi, &a);
    cr_assert_eq(a.repair_mask, 0x1u);
    cr_assert_eq(a.repair_from_idx, 1u);
    coord_on_ack(&q, 0, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.winner_idx, 1u);
    cr_assert_eq(a.answer.hdr.version, 2u, "the version reported is the winner's");
    ringmap_free(r);
}

Test(coord, a_newest_tombstone_or_expired_record_reads_as_not_found)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 2, COORD_ALL, 0, 0, &a);
    struct record_hdr live = rec(T0, 1, 1), dead = tomb(T0 + 1, 1, 2);
    coord_on_read(&q, 0, true, &live, &a);
    coord_on_read(&q, 1, true, &dead, &a);
    cr_assert_eq(a.repair_mask, 0x1u, "the tombstone is repaired onto the stale replica");
    coord_on_ack(&q, 0, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_NOT_FOUND);
    cr_assert_eq(a.answer.winner_idx, 1u);

    /* An older tombstone loses to a newer live record. */
    read_start(r, &q, 2, COORD_ALL, 0, 0, &a);
    struct record_hdr live2 = rec(T0 + 2, 1, 3);
    coord_on_read(&q, 0, true, &dead, &a);
    coord_on_read(&q, 1, true, &live2, &a);
    coord_on_ack(&q, 0, &a);
    cr_assert_eq(a.answer.err, RKV_OK);

    /* The newest record expired before the read began (now 2000 ms). */
    read_start(r, &q, 1, COORD_ONE, 0, 0, &a);
    struct record_hdr expired = rec(T0, 1, 1);
    expired.expiry_ms = 2000;
    coord_on_read(&q, 0, true, &expired, &a);
    cr_assert_eq(a.answer.err, RKV_NOT_FOUND);
    expired.expiry_ms = 2001;
    read_start(r, &q, 1, COORD_ONE, 0, 0, &a);
    coord_on_read(&q, 0, true, &expired, &a);
    cr_assert_eq(a.answer.err, RKV_OK);
    ringmap_free(r);
}

Test(coord, a_replica_that_has_nothing_is_repaired_and_nothing_anywhere_is_not_found)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_read(&q, 2, false, NULL, &a);
    coord_on_read(&q, 0, false, NULL, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_NOT_FOUND);
    cr_assert_eq(a.answer.winner_idx, COORD_NONE);
    cr_assert_eq(a.repair_mask, 0u);
    struct record_hdr h = rec(T0, 1, 1);
    coord_on_read(&q, 1, true, &h, &a);
    cr_assert(!a.answer_now);
    cr_assert_eq(a.repair_mask, 0x5u, "late: the record reaches the two that had nothing");
    cr_assert_eq(coord_answer(&q)->err, RKV_NOT_FOUND);
    ringmap_free(r);
}

Test(coord, one_answers_first_and_repairs_after)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_ONE, 0, 0, &a);
    struct record_hdr old = rec(T0, 1, 1), new = rec(T0 + 5, 1, 2);
    coord_on_read(&q, 1, true, &old, &a);
    cr_assert(a.answer_now, "one answers at the first read");
    cr_assert_eq(a.answer.hdr.version, 1u);
    cr_assert_eq(a.repair_mask, 0u);
    coord_on_read(&q, 2, true, &new, &a);
    cr_assert(!a.answer_now);
    cr_assert_eq(a.repair_mask, 0x2u);
    cr_assert_eq(a.repair_from_idx, 2u);
    coord_on_read(&q, 0, true, &new, &a);
    cr_assert_eq(a.repair_mask, 0u, "an up-to-date replica is not repaired");
    coord_on_ack(&q, 1, &a);
    cr_assert(coord_done(&q));
    ringmap_free(r);
}

Test(coord, at_quorum_the_answer_never_shares_a_call_with_repairs)
{
    /* Every order of three different records: repairs are sent, and acknowledged, before the
     * answer goes out. */
    struct ringmap *r = six("");
    for (uint32_t order = 0; order < 6; order++) {
        struct coord_req q;
        struct coord_actions a;
        read_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
        struct record_hdr h[3] = { rec(T0, 1, 1), rec(T0 + 1, 1, 2), rec(T0 + 2, 1, 3) };
        uint32_t ord[3] = { 0, 1, 2 };
        for (uint32_t k = 0; k < order; k++)
            next_permutation(ord, 3);
        for (uint32_t k = 0; k < 3; k++) {
            coord_on_read(&q, ord[k], true, &h[ord[k]], &a);
            cr_assert(!(a.answer_now && a.repair_mask != 0));
        }
    }
    ringmap_free(r);
}

Test(coord, a_read_deadline_during_repair_answers_with_what_was_read)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    struct record_hdr old = rec(T0, 1, 1), new = rec(T0 + 5, 1, 2);
    coord_on_read(&q, 0, true, &old, &a);
    coord_on_read(&q, 1, true, &new, &a);
    cr_assert_eq(a.repair_mask, 0x1u);
    coord_on_deadline(&q, DEADLINE, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_OK);
    cr_assert_eq(a.answer.winner_idx, 1u);
    cr_assert_eq(a.answer.acked, 2u);
    coord_on_fail(&q, 0, RKV_TIMEOUT, &a);
    cr_assert(coord_replica(&q, 0)->repair_failed);
    cr_assert_eq(coord_replica(&q, 0)->hdr.version, 1u, "a failed repair leaves what was read");
    coord_on_read(&q, 2, true, &old, &a);
    cr_assert_eq(a.repair_mask, 0x4u);
    coord_on_ack(&q, 2, &a);
    cr_assert(coord_done(&q));
    ringmap_free(r);
}

Test(coord, a_failed_repair_still_lets_the_read_answer)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 2, COORD_ALL, 0, 0, &a);
    struct record_hdr old = rec(T0, 1, 1), new = rec(T0 + 5, 1, 2);
    coord_on_read(&q, 0, true, &old, &a);
    coord_on_read(&q, 1, true, &new, &a);
    coord_on_fail(&q, 0, RKV_IO, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_OK);
    ringmap_free(r);
}

Test(coord, a_read_with_fewer_than_r_answers_is_unavailable_with_the_count)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0x6u, &a);
    cr_assert_eq(a.send_mask, 0x1u, "down replicas are not asked");
    struct record_hdr h = rec(T0, 1, 1);
    coord_on_read(&q, 0, true, &h, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
    cr_assert_eq(a.answer.acked, 1u);
    cr_assert_eq(a.answer.needed, 2u);

    read_start(r, &q, 3, COORD_ALL, 0, 0, &a);
    coord_on_read(&q, 0, true, &h, &a);
    coord_on_fail(&q, 1, RKV_TIMEOUT, &a);
    cr_assert(!a.answer_now);
    coord_on_deadline(&q, DEADLINE + 3, &a);
    cr_assert_eq(a.answer.err, RKV_UNAVAILABLE);
    cr_assert_eq(a.answer.acked, 1u);
    cr_assert_eq(a.answer.needed, 3u);
    ringmap_free(r);
}

/* A random model check of reads: random records (or none, or failures), random delivery
 * order of reads and repair acks. Checks that the answer comes once, at R reads for `one`
 * and after every repair of the R (or more) reads at quorum and all; that it carries the
 * newest record read so far; that repairs go exactly to answered replicas holding older
 * records; and that at the end every answered replica whose repair did not fail holds the
 * newest record seen. */
Test(coord, random_reads_answer_the_newest_and_repair_exactly_the_stale)
{
    struct ringmap *r = six("");
    uint64_t seed = 42;
    for (uint32_t iter = 0; iter < 20000; iter++) {
        uint32_t rf = 1 + (uint32_t)(splitmix64(&seed) % 5);
        enum coord_level level = levels[splitmix64(&seed) % 3];
        uint32_t need = coord_needed(level, rf);
        struct record_hdr held[5];
        bool has[5], fails[5], repair_fails[5];
        for (uint32_t i = 0; i < rf; i++) {
            uint64_t x = splitmix64(&seed);
            has[i] = x % 4 != 0;
            held[i] = (x >> 8) % 3 == 0 ? tomb(T0 + (x >> 4) % 3, 1 + (uint32_t)((x >> 12) % 2), 1 + i)
                                        : rec(T0 + (x >> 4) % 3, 1 + (uint32_t)((x >> 12) % 2), 1 + i);
            fails[i] = (x >> 16) % 6 == 0;
            repair_fails[i] = (x >> 20) % 5 == 0;
        }
        struct coord_req q;
        struct coord_actions a;
        read_start(r, &q, rf, level, 0, 0, &a);
        cr_assert_eq(a.send_mask, all_bits(rf));
        uint32_t read_pending = all_bits(rf), repair_pending = 0, answers = 0, reads = 0;
        bool any = false;
        struct record_hdr newest = { 0 };
        for (uint32_t step = 0; step < 64 && (read_pending | repair_pending) != 0; step++) {
            uint32_t pool = read_pending | repair_pending;
            uint32_t pick;
            do
                pick = (uint32_t)(splitmix64(&seed) % rf);
            while (!((pool >> pick) & 1u));
            bool was_answered = coord_answered(&q);
            if ((read_pending >> pick) & 1u) {
                read_pending &= ~(1u << pick);
                if (fails[pick]) {
                    coord_on_fail(&q, pick, RKV_TIMEOUT, &a);
                } else {
                    coord_on_read(&q, pick, has[pick], has[pick] ? &held[pick] : NULL, &a);
                    reads++;
                    if (has[pick] && (!any || coord_hdr_newer(&held[pick], &newest))) {
                        newest = held[pick];
                        any = true;
                    }
                }
            } else {
                repair_pending &= ~(1u << pick);
                if (repair_fails[pick]) {
                    coord_on_fail(&q, pick, RKV_IO, &a);
                } else {
                    coord_on_ack(&q, pick, &a);
                    has[pick] = true;
                    held[pick] = coord_replica(&q, pick)->hdr;
                }
            }
            /* Repairs: only answered replicas holding something older than the newest. */
            for (uint32_t j = 0; j < rf; j++) {
                if (!((a.repair_mask >> j) & 1u))
                    continue;
                cr_assert(any);
                cr_assert_eq(coord_replica(&q, j)->state, COORD_R_READ);
                cr_assert(!has[j] || coord_hdr_newer(&newest, &held[j]), "iter %u: repair of an up-to-date replica",
                          iter);
                cr_assert(!((repair_pending >> j) & 1u), "one repair in flight per replica");
                repair_pending |= 1u << j;
            }
            if (a.repair_mask != 0) {
                cr_assert_eq(a.repair_from_idx, q.winner_idx);
                cr_assert(!coord_hdr_newer(&newest, &q.rec) && !coord_hdr_newer(&q.rec, &newest));
            }
            if (a.answer_now) {
                answers++;
                cr_assert(!was_answered);
                if (a.answer.err == RKV_UNAVAILABLE) {
                    cr_assert_lt(reads, need);
                    cr_assert_eq(read_pending, 0u);
                } else {
                    cr_assert_geq(reads, need);
                    if (level != COORD_ONE)
                        cr_assert_eq(repair_pending, 0u, "iter %u: quorum and all repair first", iter);
                    bool visible = any && !(newest.flags & REC_F_TOMBSTONE);
                    cr_assert_eq(a.answer.err, visible ? RKV_OK : RKV_NOT_FOUND, "iter %u", iter);
                    if (any)
                        cr_assert_eq(a.answer.hdr.timestamp, newest.timestamp);
                }
            }
        }
        cr_assert_eq(read_pending | repair_pending, 0u);
        cr_assert_eq(answers, 1u, "iter %u", iter);
        cr_assert(coord_done(&q));
        /* Convergence among those that answered. */
        for (uint32_t j = 0; j < rf && any; j++) {
            const struct coord_replica *s = coord_replica(&q, j);
            if (s->state != COORD_R_READ || s->repair_failed)
                continue;
            cr_assert(s->found);
            cr_assert_eq(s->hdr.timestamp, newest.timestamp, "iter %u replica %u", iter, j);
            cr_assert_eq(s->hdr.origin, newest.origin);
        }
    }
    ringmap_free(r);
}

Test(coord, a_no_repair_probe_gives_the_next_version_and_the_timestamp_floor)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, COORD_F_NO_REPAIR, 0, &a);
    struct record_hdr live = rec(T0 + 9, 1, 4), dead = tomb(T0 + 1, 1, 6);
    coord_on_read(&q, 0, true, &live, &a);
    coord_on_read(&q, 1, true, &dead, &a);
    cr_assert(a.answer_now);
    cr_assert_eq(a.repair_mask, 0u);
    cr_assert_eq(coord_version_after_read(&q), 7u, "tombstones' versions count: versions never go back");
    cr_assert_eq(coord_ts_floor_after_read(&q), T0 + 9);
    coord_on_read(&q, 2, false, NULL, &a);
    cr_assert_eq(a.repair_mask, 0u);

    read_start(r, &q, 1, COORD_ONE, COORD_F_NO_REPAIR, 0, &a);
    coord_on_read(&q, 0, false, NULL, &a);
    cr_assert_eq(coord_version_after_read(&q), 1u, "a new key starts at version 1");
    ringmap_free(r);
}

/* ---- Assertions we rely on ---- */

Test(coord, an_ack_twice_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_ack(&q, 1, &a);
    coord_on_ack(&q, 1, &a);
}

Test(coord, an_ack_after_a_failure_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_fail(&q, 1, RKV_TIMEOUT, &a);
    coord_on_ack(&q, 1, &a);
}

Test(coord, a_replica_index_out_of_range_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_ack(&q, 3, &a);
}

Test(coord, a_read_answered_twice_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_read(&q, 0, false, NULL, &a);
    coord_on_read(&q, 0, false, NULL, &a);
}

Test(coord, a_read_of_a_down_replica_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0x4u, &a);
    coord_on_read(&q, 2, false, NULL, &a);
}

Test(coord, a_repair_ack_without_a_repair_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_read(&q, 0, false, NULL, &a);
    coord_on_ack(&q, 0, &a);
}

Test(coord, a_fence_on_a_read_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct hlc clock = { .last = 0 };
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_fenced(&q, 0, T0, 1, &clock, 0, &a);
}

Test(coord, a_deadline_before_its_time_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    write_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_deadline(&q, DEADLINE - 1, &a);
}

Test(coord, a_found_read_without_a_record_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct coord_req q;
    struct coord_actions a;
    read_start(r, &q, 3, COORD_QUORUM, 0, 0, &a);
    coord_on_read(&q, 0, true, NULL, &a);
}

Test(coord, a_write_of_version_zero_aborts, .signal = SIGABRT)
{
    struct ringmap *r = six("");
    struct prefs p;
    prefs_for_token(r, 15, 3, &p);
    struct coord_req q;
    struct coord_actions a;
    struct record_hdr h = rec(T0, 1, 0);
    coord_write_start(&q, r, &p, COORD_ONE, 0, DEADLINE, &h, 0, NULL, &a);
}

/* ---- Hint holders from the caller's liveness view, and the fallback holder ---- */

static bool up_except_e_and_f(void *ctx, uint32_t node_idx)
{
    const struct ringmap *r = ctx;
    char n = name_of(r, node_idx);
    return n != 'e' && n != 'f';
}

Test(coord, holders_follow_the_callers_liveness_view_not_the_snapshot)
{
    /* The snapshot says everybody is up; the caller's view says e and f are down. RF 3 from
     * token 15 is b, c, d; d is down, so its hint goes past the list: e and f are down in the
     * caller's view, so the holder is a. */
    struct ringmap *r = six("");
    struct prefs p;
    prefs_for_token(r, 15, 3, &p);
    struct coord_req q;
    struct coord_actions a;
    struct record_hdr h = rec(T0, 7, 5);
    struct coord_holders hold = { .up = up_except_e_and_f, .ctx = r };
    coord_write_start(&q, r, &p, COORD_QUORUM, 0, DEADLINE, &h, 1u << 2, &hold, &a);
    cr_assert_eq(a.hint_mask, 1u << 2);
    cr_assert_eq(name_of(r, coord_hint_holder(&q, 2).node_idx), 'a');
    ringmap_free(r);
}

static bool only_b_c_up(void *ctx, uint32_t node_idx)
{
    char n = name_of(ctx, node_idx);
    return n == 'b' || n == 'c';
}

Test(coord, hints_go_to_the_fallback_holder_when_no_live_node_is_left_past_the_list)
{
    /* Only b and c are up: nothing past the list can hold d's hint, so the fallback (the
     * coordinator's node, here b) holds it; without a fallback d fails at once. */
    struct ringmap *r = six("");
    struct prefs p;
    prefs_for_token(r, 15, 3, &p);
    struct coord_req q;
    struct coord_actions a;
    struct record_hdr h = rec(T0, 7, 5);
    struct prefs_replica self = p.replica[0];
    struct coord_holders hold = { .up = only_b_c_up, .ctx = r, .fallback = &self };
    coord_write_start(&q, r, &p, COORD_QUORUM, 0, DEADLINE, &h, 1u << 2, &hold, &a);
    cr_assert_eq(a.hint_mask, 1u << 2);
    cr_assert_eq(a.send_mask, 3u);
    cr_assert_eq(coord_hint_holder(&q, 2).node_idx, self.node_idx);
    struct coord_holders none = { .up = only_b_c_up, .ctx = r };
    coord_write_start(&q, r, &p, COORD_QUORUM, 0, DEADLINE, &h, 1u << 2, &none, &a);
    cr_assert_eq(a.hint_mask, 0u);
    cr_assert_eq(coord_replica(&q, 2)->state, COORD_R_FAILED);
    ringmap_free(r);
}
