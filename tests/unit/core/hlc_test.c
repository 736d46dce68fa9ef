/* Tests of core/hlc: ticks are strictly increasing whatever the wall clock does, the
 * logical counter carries into the physical part, observed timestamps are exceeded, and
 * the packing of (physical ms, logical) into 64 bits round-trips at its limits; a checked
 * observe refuses a timestamp more than the maximum skew ahead and leaves the clock alone. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <signal.h>
#include <stdint.h>

#include "core/hlc.h"
#include "core/limits.h"

#define PHYS_MS_MAX ((UINT64_C(1) << 48) - 1u)

Test(hlc, init_starts_below_every_timestamp)
{
    struct hlc c;
    hlc_init(&c);
    cr_assert_eq(c.last, 0u);
    cr_assert_eq(hlc_tick(&c, 1), hlc_make(1, 0));
}

Test(hlc, tick_with_advancing_wall_clock_takes_wall_time_and_logical_zero)
{
    struct hlc c;
    hlc_init(&c);
    cr_assert_eq(hlc_tick(&c, 1000), hlc_make(1000, 0));
    cr_assert_eq(hlc_tick(&c, 1001), hlc_make(1001, 0));
    cr_assert_eq(hlc_tick(&c, 5000), hlc_make(5000, 0));
}

Test(hlc, tick_with_stalled_wall_clock_counts_up_the_logical_part)
{
    struct hlc c;
    hlc_init(&c);
    cr_assert_eq(hlc_tick(&c, 1000), hlc_make(1000, 0));
    cr_assert_eq(hlc_tick(&c, 1000), hlc_make(1000, 1));
    cr_assert_eq(hlc_tick(&c, 1000), hlc_make(1000, 2));
}

Test(hlc, tick_with_wall_clock_going_back_still_increases)
{
    struct hlc c;
    hlc_init(&c);
    uint64_t a = hlc_tick(&c, 1000);
    uint64_t b = hlc_tick(&c, 10);
    uint64_t d = hlc_tick(&c, 0);
    cr_assert_gt(b, a);
    cr_assert_gt(d, b);
    cr_assert_eq(hlc_phys_ms(d), 1000u);
    cr_assert_eq(hlc_logical(d), 2u);
}

Test(hlc, thousands_of_ticks_on_a_jumping_clock_are_strictly_increasing)
{
    struct hlc c;
    hlc_init(&c);
    uint64_t prev = 0;
    uint64_t now_ms = 1000;
    for (uint32_t i = 0; i < 200000; i++) {
        /* Forward by 0..2 ms, and back by 50 ms every 1000 ticks. */
        now_ms += i % 3;
        if (i % 1000 == 999)
            now_ms -= 50;
        uint64_t ts = hlc_tick(&c, now_ms);
        cr_assert_gt(ts, prev, "tick %u: %llu after %llu", i, (unsigned long long)ts,
                     (unsigned long long)prev);
        prev = ts;
    }
}

Test(hlc, logical_at_max_minus_one_steps_to_max_without_carry)
{
    struct hlc c = { .last = hlc_make(1000, HLC_LOGICAL_MAX - 1u) };
    uint64_t ts = hlc_tick(&c, 1000);
    cr_assert_eq(hlc_phys_ms(ts), 1000u);
    cr_assert_eq(hlc_logical(ts), HLC_LOGICAL_MAX);
}

Test(hlc, logical_overflow_carries_into_the_physical_part)
{
    struct hlc c = { .last = hlc_make(1000, HLC_LOGICAL_MAX) };
    uint64_t ts = hlc_tick(&c, 1000);
    cr_assert_eq(ts, hlc_make(1001, 0));
    cr_assert_gt(ts, hlc_make(1000, HLC_LOGICAL_MAX));
    /* The wall clock reaching the carried millisecond does not go back below it. */
    cr_assert_eq(hlc_tick(&c, 1001), hlc_make(1001, 1));
    cr_assert_eq(hlc_tick(&c, 1002), hlc_make(1002, 0));
}

Test(hlc, observe_of_a_future_timestamp_makes_the_next_tick_exceed_it)
{
    struct hlc c;
    hlc_init(&c);
    (void)hlc_tick(&c, 1000);
    uint64_t seen = hlc_make(9000, 7);
    hlc_observe(&c, seen);
    uint64_t ts = hlc_tick(&c, 1000);
    cr_assert_gt(ts, seen);
    cr_assert_eq(ts, hlc_make(9000, 8));
}

Test(hlc, observe_of_a_future_timestamp_at_logical_max_carries_on_the_next_tick)
{
    struct hlc c;
    hlc_init(&c);
    hlc_observe(&c, hlc_make(9000, HLC_LOGICAL_MAX));
    cr_assert_eq(hlc_tick(&c, 1000), hlc_make(9001, 0));
}

Test(hlc, observe_of_a_past_timestamp_changes_nothing)
{
    struct hlc c;
    hlc_init(&c);
    uint64_t a = hlc_tick(&c, 5000);
    hlc_observe(&c, hlc_make(100, 3));
    cr_assert_eq(c.last, a);
    cr_assert_eq(hlc_tick(&c, 5000), hlc_make(5000, 1));
}

Test(hlc, wall_clock_passing_an_observed_timestamp_wins_again)
{
    struct hlc c;
    hlc_init(&c);
    hlc_observe(&c, hlc_make(2000, 40));
    cr_assert_eq(hlc_tick(&c, 2001), hlc_make(2001, 0));
}

Test(hlc, make_and_unpack_round_trip_at_the_limits)
{
    const uint64_t phys[] = { 0, 1, 1700000000000ull, PHYS_MS_MAX };
    const uint32_t logical[] = { 0, 1, HLC_LOGICAL_MAX - 1u, HLC_LOGICAL_MAX };
    for (size_t i = 0; i < sizeof phys / sizeof phys[0]; i++) {
        for (size_t j = 0; j < sizeof logical / sizeof logical[0]; j++) {
            uint64_t ts = hlc_make(phys[i], logical[j]);
            cr_assert_eq(hlc_phys_ms(ts), phys[i]);
            cr_assert_eq(hlc_logical(ts), logical[j]);
        }
    }
    cr_assert_eq(hlc_make(PHYS_MS_MAX, HLC_LOGICAL_MAX), UINT64_MAX);
    cr_assert_eq(HLC_LOGICAL_MAX, 65535u);
}

Test(hlc, packed_order_is_physical_first_then_logical)
{
    cr_assert_lt(hlc_make(1000, HLC_LOGICAL_MAX), hlc_make(1001, 0));
    cr_assert_lt(hlc_make(1000, 1), hlc_make(1000, 2));
}

Test(hlc, tick_at_the_largest_wall_clock_is_accepted)
{
    struct hlc c;
    hlc_init(&c);
    cr_assert_eq(hlc_tick(&c, PHYS_MS_MAX), hlc_make(PHYS_MS_MAX, 0));
}

Test(hlc, tick_past_the_48_bit_wall_clock_aborts, .signal = SIGABRT)
{
    struct hlc c;
    hlc_init(&c);
    (void)hlc_tick(&c, PHYS_MS_MAX + 1u);
}

Test(hlc, tick_after_the_largest_timestamp_aborts, .signal = SIGABRT)
{
    struct hlc c;
    hlc_init(&c);
    hlc_observe(&c, UINT64_MAX);
    (void)hlc_tick(&c, 1000);
}

/* ---- hlc_observe_checked(): timestamps from other nodes, bounded by a maximum skew ---- */

#define NOW_MS 1700000000000ull
#define SKEW_MS 5000u

Test(hlc, checked_observe_of_a_timestamp_exactly_max_skew_ahead_is_accepted)
{
    struct hlc c;
    hlc_init(&c);
    uint64_t seen = hlc_make(NOW_MS + SKEW_MS, HLC_LOGICAL_MAX); /* any logical part */
    cr_assert_eq(hlc_observe_checked(&c, seen, NOW_MS, SKEW_MS), RKV_OK);
    cr_assert_eq(c.last, seen);
    cr_assert_gt(hlc_tick(&c, NOW_MS), seen);
}

Test(hlc, checked_observe_one_ms_past_max_skew_is_refused_and_leaves_the_clock_alone)
{
    struct hlc c;
    hlc_init(&c);
    uint64_t before = hlc_tick(&c, NOW_MS);
    cr_assert_eq(hlc_observe_checked(&c, hlc_make(NOW_MS + SKEW_MS + 1u, 0), NOW_MS, SKEW_MS), RKV_CLOCK_SKEW);
    cr_assert_eq(c.last, before);
    cr_assert_eq(hlc_tick(&c, NOW_MS), before + 1u);
}

Test(hlc, checked_observe_of_past_and_present_timestamps_is_plain_observe)
{
    struct hlc c;
    hlc_init(&c);
    cr_assert_eq(hlc_observe_checked(&c, hlc_make(NOW_MS - 60000u, 7), NOW_MS, SKEW_MS), RKV_OK);
    cr_assert_eq(c.last, hlc_make(NOW_MS - 60000u, 7));
    cr_assert_eq(hlc_observe_checked(&c, hlc_make(NOW_MS, 3), NOW_MS, SKEW_MS), RKV_OK);
    cr_assert_eq(c.last, hlc_make(NOW_MS, 3));
    /* An older one never moves the clock back. */
    cr_assert_eq(hlc_observe_checked(&c, hlc_make(1, 0), NOW_MS, SKEW_MS), RKV_OK);
    cr_assert_eq(c.last, hlc_make(NOW_MS, 3));
    cr_assert_eq(hlc_observe_checked(&c, 0, NOW_MS, SKEW_MS), RKV_OK);
    cr_assert_eq(c.last, hlc_make(NOW_MS, 3));
}

Test(hlc, checked_observe_with_zero_skew_accepts_the_current_ms_only)
{
    struct hlc c;
    hlc_init(&c);
    cr_assert_eq(hlc_observe_checked(&c, hlc_make(NOW_MS, HLC_LOGICAL_MAX), NOW_MS, 0), RKV_OK);
    cr_assert_eq(hlc_observe_checked(&c, hlc_make(NOW_MS + 1u, 0), NOW_MS, 0), RKV_CLOCK_SKEW);
    cr_assert_eq(c.last, hlc_make(NOW_MS, HLC_LOGICAL_MAX));
}

Test(hlc, checked_observe_refuses_the_largest_timestamp_whatever_the_bound)
{
    struct hlc c;
    hlc_init(&c);
    cr_assert_eq(hlc_observe_checked(&c, UINT64_MAX, PHYS_MS_MAX, UINT64_MAX), RKV_CLOCK_SKEW);
    cr_assert_eq(hlc_observe_checked(&c, UINT64_MAX, NOW_MS, SKEW_MS), RKV_CLOCK_SKEW);
    cr_assert_eq(c.last, 0u);
    /* One below it is the largest that can be accepted, and still has a successor. */
    cr_assert_eq(hlc_observe_checked(&c, UINT64_MAX - 1u, PHYS_MS_MAX, 0), RKV_OK);
    cr_assert_eq(hlc_tick(&c, PHYS_MS_MAX), UINT64_MAX);
}

Test(hlc, checked_observe_with_a_huge_bound_does_not_overflow)
{
    struct hlc c;
    hlc_init(&c);
    uint64_t far = hlc_make(PHYS_MS_MAX, 0);
    cr_assert_eq(hlc_observe_checked(&c, far, 0, UINT64_MAX), RKV_OK);
    cr_assert_eq(c.last, far);
}

Test(hlc, checked_observe_default_bound_is_five_seconds)
{
    cr_assert_eq(RKV_CLOCK_SKEW_MS_DEFAULT, 5000u);
    struct hlc c;
    hlc_init(&c);
    cr_assert_eq(hlc_observe_checked(&c, hlc_make(NOW_MS + 5000u, 0), NOW_MS, RKV_CLOCK_SKEW_MS_DEFAULT), RKV_OK);
    cr_assert_eq(hlc_observe_checked(&c, hlc_make(NOW_MS + 5001u, 0), NOW_MS, RKV_CLOCK_SKEW_MS_DEFAULT),
                 RKV_CLOCK_SKEW);
}

Test(hlc, checked_observe_past_the_48_bit_wall_clock_aborts, .signal = SIGABRT)
{
    struct hlc c;
    hlc_init(&c);
    (void)hlc_observe_checked(&c, 0, PHYS_MS_MAX + 1u, SKEW_MS);
}

/* One clock per node, ticked and observed by every shard's thread: no two ticks may return
 * the same timestamp, and each thread's ticks keep increasing. Count-based: each thread keeps
 * every timestamp it got, and the union is checked for duplicates afterwards. */
#define SHARED_TICKS 200000u

struct tick_thread {
    struct hlc *clock;
    uint64_t *got;
    bool increasing;
};

static void *tick_many(void *arg)
{
    struct tick_thread *t = arg;
    t->increasing = true;
    for (uint32_t i = 0; i < SHARED_TICKS; i++) {
        /* A wall clock that stalls for long stretches forces the logical path and races. */
        t->got[i] = hlc_tick(t->clock, 1000u + i / 5000u);
        if (i % 7u == 0)
            hlc_observe(t->clock, t->got[i] + 3u);
        if (i > 0 && t->got[i] <= t->got[i - 1])
            t->increasing = false;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(hlc, shared_clock_never_repeats_a_timestamp_across_threads)
{
    struct hlc c;
    hlc_init(&c);
    uint64_t *all = calloc(2u * SHARED_TICKS, sizeof *all);
    cr_assert_not_null(all);
    struct tick_thread t[2] = { { &c, all, false }, { &c, all + SHARED_TICKS, false } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, tick_many, &t[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert(t[0].increasing && t[1].increasing);
    qsort(all, 2u * SHARED_TICKS, sizeof *all, cmp_u64);
    for (uint32_t i = 1; i < 2u * SHARED_TICKS; i++)
        cr_assert_neq(all[i], all[i - 1], "timestamp %llu issued twice", (unsigned long long)all[i]);
    free(all);
}
