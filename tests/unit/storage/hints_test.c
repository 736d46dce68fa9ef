/* Tests of durable hint storage (storage/hints.h): queue order per target, targets apart,
 * removal, restart, expiry at its millisecond boundary and within its step bound, the
 * in-memory statistics, every input limit at max and max + 1, the per-key operator view, and
 * corrupt hints. Each test gets an engine with one shard and its hints in a fresh directory
 * under /tmp, closed and removed by the suite's fini. Time is passed in as now_ms. */
#include <criterion/criterion.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/bytes.h"
#include "core/limits.h"
#include "storage/engine.h"
#include "storage/hints.h"
#include "tests/support/tmpdir.h"

#define T0_MS 1700000000000ull /* a plausible wall clock, in ms */
#define AGE_MS (RKV_HINT_AGE_S_DEFAULT * 1000ull)
#define TOKEN 0x1234567890abcdefull

static char test_dir[64];
static struct engine *eng;
static struct engine_shard *sh;
static struct hints *hs;

static void engine_up(void)
{
    struct engine_config cfg = { .dir = test_dir, .node_id = "holder", .shard_count = 1,
                                 .cache_bytes = RKV_WT_CACHE_BYTES_MIN };
    cr_assert_eq(engine_open(&cfg, &eng), RKV_OK);
    cr_assert_eq(engine_shard_open(eng, 0, &sh), RKV_OK);
    cr_assert_eq(hints_open(sh, &hs), RKV_OK);
}

static void engine_down(void)
{
    if (hs != NULL)
        hints_close(hs);
    if (sh != NULL)
        engine_shard_close(sh);
    if (eng != NULL)
        engine_close(eng);
    hs = NULL;
    sh = NULL;
    eng = NULL;
}

static void setup(void)
{
    /* Named after the runner (each test runs in a child of it) so that the runner can remove
     * what a death test leaves behind. */
    snprintf(test_dir, sizeof test_dir, "/tmp/rkv_hints_test_%ld_XXXXXX", (long)getppid());
    cr_assert_not_null(mkdtemp(test_dir));
    engine_up();
}

static void teardown(void)
{
    engine_down();
    if (test_dir[0] != '\0')
        test_dir_remove(test_dir);
    test_dir[0] = '\0';
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    char pattern[64];
    snprintf(pattern, sizeof pattern, "/tmp/%s_%ld_*", "rkv_hints_test", (long)getpid());
    glob_t g;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++)
        test_dir_remove(g.gl_pathv[i]);
    globfree(&g);
}

TestSuite(hints, .init = setup, .fini = teardown);

/* ---- helpers ---- */

/* The header a hint of write number n carries: distinct fields, so that a mix-up shows. */
static struct record_hdr hdr_of(uint64_t n)
{
    return (struct record_hdr){ .flags = 0, .origin = 0x5eed0000u + (uint32_t)n, .timestamp = (T0_MS << 16) + n,
                                .version = n, .expiry_ms = n % 2 ? 0 : T0_MS + 1000u * n };
}

static uint64_t put(const char *target, const char *key, uint64_t n, const char *value, uint64_t now_ms)
{
    struct record_hdr hdr = hdr_of(n);
    uint64_t seq = 0;
    cr_assert_eq(hints_put(hs, target, strlen(target), TOKEN + n % 3, (const uint8_t *)key, strlen(key), &hdr,
                           (const uint8_t *)value, (uint32_t)strlen(value), now_ms, &seq),
                 RKV_OK, "put %s %s", target, key);
    cr_assert_geq(seq, 1u);
    return seq;
}

/* Reads target's hint after after_seq and checks it is write n with key and value. */
static uint64_t expect_next(const char *target, uint64_t after_seq, const char *key, uint64_t n, const char *value,
                            uint64_t stored_ms)
{
    struct hint_view v;
    cr_assert_eq(hints_next(hs, target, strlen(target), after_seq, &v), RKV_OK, "%s after %lu", target,
                 (unsigned long)after_seq);
    cr_assert_gt(v.seq, after_seq);
    cr_assert_eq(v.key_bytes, strlen(key), "%s after %lu", target, (unsigned long)after_seq);
    cr_assert_eq(memcmp(v.key, key, v.key_bytes), 0);
    cr_assert_eq(v.token, TOKEN + n % 3);
    cr_assert_eq(v.stored_ms, stored_ms);
    struct record_hdr want = hdr_of(n);
    cr_assert_eq(v.rec.hdr.flags, want.flags);
    cr_assert_eq(v.rec.hdr.origin, want.origin);
    cr_assert_eq(v.rec.hdr.timestamp, want.timestamp);
    cr_assert_eq(v.rec.hdr.version, want.version);
    cr_assert_eq(v.rec.hdr.expiry_ms, want.expiry_ms);
    cr_assert_eq(v.rec.value_bytes, strlen(value));
    cr_assert_eq(memcmp(v.rec.value, value, v.rec.value_bytes), 0);
    return v.seq;
}

static void expect_none_after(const char *target, uint64_t after_seq)
{
    struct hint_view v;
    cr_assert_eq(hints_next(hs, target, strlen(target), after_seq, &v), RKV_NOT_FOUND, "%s after %lu", target,
                 (unsigned long)after_seq);
}

static void expect_stats(const char *target, uint64_t count, uint64_t oldest_ms)
{
    uint64_t c = 99, o = 99;
    cr_assert_eq(hints_target_stats(hs, target, strlen(target), &c, &o), RKV_OK);
    cr_assert_eq(c, count, "%s: count %lu, want %lu", target, (unsigned long)c, (unsigned long)count);
    cr_assert_eq(o, oldest_ms, "%s: oldest %lu, want %lu", target, (unsigned long)o, (unsigned long)oldest_ms);
}

static void restart(void)
{
    cr_assert_eq(engine_log_flush(sh), RKV_OK);
    engine_down();
    engine_up();
}

/* ---- order and targets ---- */

Test(hints, hints_of_a_target_come_back_in_arrival_order_with_every_field)
{
    uint64_t s1 = put("n2", "k1", 1, "one", T0_MS);
    uint64_t s2 = put("n2", "k2", 2, "", T0_MS + 5);
    uint64_t s3 = put("n2", "k1", 3, "three", T0_MS + 9);
    cr_assert(s1 < s2 && s2 < s3);
    cr_assert_eq(expect_next("n2", 0, "k1", 1, "one", T0_MS), s1);
    cr_assert_eq(expect_next("n2", s1, "k2", 2, "", T0_MS + 5), s2);
    cr_assert_eq(expect_next("n2", s2, "k1", 3, "three", T0_MS + 9), s3);
    expect_none_after("n2", s3);
    expect_none_after("n2", UINT64_MAX);
    expect_none_after("other", 0);
}

Test(hints, interleaved_targets_are_separate_queues)
{
    /* "n1" is a prefix of "n10" and "n1a": the length byte keeps their ranges apart. */
    static const char *const targets[] = { "n1", "n10", "n1a", "b" };
    uint64_t seqs[4][5];
    for (uint64_t round = 0; round < 5; round++)
        for (size_t t = 0; t < 4; t++) {
            char key[16];
            snprintf(key, sizeof key, "k%zu.%lu", t, (unsigned long)round);
            seqs[t][round] = put(targets[t], key, 10 * t + round + 1, key, T0_MS + round);
        }
    for (size_t t = 0; t < 4; t++) {
        uint64_t after = 0;
        for (uint64_t round = 0; round < 5; round++) {
            char key[16];
            snprintf(key, sizeof key, "k%zu.%lu", t, (unsigned long)round);
            after = expect_next(targets[t], after, key, 10 * t + round + 1, key, T0_MS + round);
            cr_assert_eq(after, seqs[t][round]);
        }
        expect_none_after(targets[t], after);
        expect_stats(targets[t], 5, T0_MS);
    }
    cr_assert_eq(hints_stats(hs).stored_count, 20u);
}

Test(hints, a_tombstone_hint_carries_no_value)
{
    struct record_hdr hdr = { .flags = REC_F_TOMBSTONE, .origin = 3, .timestamp = 77, .version = 4,
                              .expiry_ms = T0_MS };
    uint64_t seq;
    cr_assert_eq(hints_put(hs, "n2", 2, TOKEN, (const uint8_t *)"gone", 4, &hdr, NULL, 0, T0_MS, &seq), RKV_OK);
    struct hint_view v;
    cr_assert_eq(hints_next(hs, "n2", 2, 0, &v), RKV_OK);
    cr_assert_eq(v.rec.hdr.flags, REC_F_TOMBSTONE);
    cr_assert_eq(v.rec.hdr.expiry_ms, T0_MS);
    cr_assert_eq(v.rec.value_bytes, 0u);
}

/* ---- remove ---- */

Test(hints, remove_takes_out_one_hint_and_keeps_the_counts)
{
    uint64_t s1 = put("n2", "a", 1, "v", T0_MS);
    uint64_t s2 = put("n2", "b", 2, "v", T0_MS + 10);
    uint64_t s3 = put("n2", "c", 3, "v", T0_MS + 20);
    put("n3", "a", 4, "v", T0_MS + 30);
    expect_stats("n2", 3, T0_MS);

    /* A hint in the middle: the oldest stays. */
    cr_assert_eq(hints_remove(hs, "n2", 2, s2), RKV_OK);
    expect_stats("n2", 2, T0_MS);
    cr_assert_eq(expect_next("n2", s1, "c", 3, "v", T0_MS + 20), s3);
    /* The first hint: the oldest becomes the next one's. */
    cr_assert_eq(hints_remove(hs, "n2", 2, s1), RKV_OK);
    expect_stats("n2", 1, T0_MS + 20);
    cr_assert_eq(expect_next("n2", 0, "c", 3, "v", T0_MS + 20), s3);
    /* Twice, or a hint of another target with that number: not found, nothing changes. */
    cr_assert_eq(hints_remove(hs, "n2", 2, s1), RKV_NOT_FOUND);
    cr_assert_eq(hints_remove(hs, "n3", 2, s3), RKV_NOT_FOUND);
    expect_stats("n2", 1, T0_MS + 20);
    expect_stats("n3", 1, T0_MS + 30);
    /* The last one: the target is gone from the listing. */
    cr_assert_eq(hints_remove(hs, "n2", 2, s3), RKV_OK);
    expect_stats("n2", 0, 0);
    expect_none_after("n2", 0);

    struct hints_stats st = hints_stats(hs);
    cr_assert_eq(st.stored_count, 1u);
    cr_assert_eq(st.put_count, 4u);
    cr_assert_eq(st.removed_count, 3u);
    cr_assert_eq(st.expired_count, 0u);
}

/* ---- restart ---- */

Test(hints, restart_keeps_hints_counts_and_sequence_order)
{
    uint64_t a1 = put("n2", "a1", 1, "x", T0_MS);
    uint64_t b1 = put("n3", "b1", 2, "y", T0_MS + 1);
    uint64_t a2 = put("n2", "a2", 3, "z", T0_MS + 2);
    /* Remove the hint with the largest number: the next one must still sort after every
     * hint left, whatever its target. */
    uint64_t b2 = put("n3", "b2", 4, "w", T0_MS + 3);
    cr_assert_eq(hints_remove(hs, "n3", 2, b2), RKV_OK);
    cr_assert_eq(hints_remove(hs, "n2", 2, a1), RKV_OK);

    restart();

    struct hints_stats st = hints_stats(hs);
    cr_assert_eq(st.stored_count, 2u);
    cr_assert_eq(st.put_count, 0u, "totals other than the stored count start again");
    expect_stats("n2", 1, T0_MS + 2);
    expect_stats("n3", 1, T0_MS + 1);
    cr_assert_eq(expect_next("n2", 0, "a2", 3, "z", T0_MS + 2), a2);
    cr_assert_eq(expect_next("n3", 0, "b1", 2, "y", T0_MS + 1), b1);

    uint64_t a3 = put("n2", "a3", 5, "v", T0_MS + 4);
    uint64_t b3 = put("n3", "b3", 6, "v", T0_MS + 5);
    cr_assert_gt(a3, a2);
    cr_assert_gt(a3, b1);
    cr_assert_gt(b3, a3);
    cr_assert_eq(expect_next("n2", a2, "a3", 5, "v", T0_MS + 4), a3);
    cr_assert_eq(expect_next("n3", b1, "b3", 6, "v", T0_MS + 5), b3);
    expect_stats("n2", 2, T0_MS + 2);
}

Test(hints, flushed_hint_survives_a_crash_without_close)
{
    engine_down();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* The child stores, flushes and dies without closing anything: only WiredTiger's log
         * can bring the hint back. */
        struct engine_config cfg = { .dir = test_dir, .node_id = "holder", .shard_count = 1,
                                     .cache_bytes = RKV_WT_CACHE_BYTES_MIN };
        struct engine *e = NULL;
        struct engine_shard *s = NULL;
        struct hints *h = NULL;
        struct record_hdr hdr = hdr_of(1);
        uint64_t seq;
        if (engine_open(&cfg, &e) != RKV_OK || engine_shard_open(e, 0, &s) != RKV_OK || hints_open(s, &h) != RKV_OK)
            _exit(2);
        if (hints_put(h, "n2", 2, TOKEN + 1, (const uint8_t *)"k", 1, &hdr, (const uint8_t *)"v", 1, T0_MS, &seq) !=
            RKV_OK)
            _exit(3);
        if (engine_log_flush(s) != RKV_OK)
            _exit(4);
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0);
    engine_up();
    expect_stats("n2", 1, T0_MS);
    expect_next("n2", 0, "k", 1, "v", T0_MS);
}

/* ---- expiry ---- */

Test(hints, expiry_drops_a_hint_exactly_max_age_old_and_keeps_one_a_millisecond_younger)
{
    uint64_t s1 = put("n2", "a", 1, "v", T0_MS);
    uint64_t s2 = put("n2", "b", 2, "v", T0_MS + 10);
    uint32_t dropped = 99;

    /* One millisecond short of the age: nothing goes. */
    cr_assert_eq(hints_expire(hs, T0_MS + AGE_MS - 1, AGE_MS, 64, &dropped), RKV_OK);
    cr_assert_eq(dropped, 0u);
    expect_stats("n2", 2, T0_MS);
    /* Exactly the age: the first goes, the second (10 ms younger) stays. */
    cr_assert_eq(hints_expire(hs, T0_MS + AGE_MS, AGE_MS, 64, &dropped), RKV_OK);
    cr_assert_eq(dropped, 1u);
    expect_stats("n2", 1, T0_MS + 10);
    cr_assert_eq(expect_next("n2", 0, "b", 2, "v", T0_MS + 10), s2);
    cr_assert_eq(hints_remove(hs, "n2", 2, s1), RKV_NOT_FOUND);
    cr_assert_eq(hints_expire(hs, T0_MS + 10 + AGE_MS - 1, AGE_MS, 64, &dropped), RKV_OK);
    cr_assert_eq(dropped, 0u);
    cr_assert_eq(hints_expire(hs, T0_MS + 10 + AGE_MS, AGE_MS, 64, &dropped), RKV_OK);
    cr_assert_eq(dropped, 1u);
    expect_stats("n2", 0, 0);
    expect_none_after("n2", 0);

    struct hints_stats st = hints_stats(hs);
    cr_assert_eq(st.expired_count, 2u);
    cr_assert_eq(st.stored_count, 0u);
}

Test(hints, expiry_drops_only_the_old_hints_of_every_target)
{
    /* n2: three old, two young. n3: all young. n4: all old. */
    for (uint64_t i = 0; i < 3; i++)
        put("n2", "old", i + 1, "v", T0_MS + i);
    put("n2", "young", 4, "v", T0_MS + 500);
    put("n2", "young", 5, "v", T0_MS + 600);
    put("n3", "young", 6, "v", T0_MS + 500);
    put("n4", "old", 7, "v", T0_MS + 100);
    put("n4", "old", 8, "v", T0_MS + 100);

    uint32_t dropped = 0;
    cr_assert_eq(hints_expire(hs, T0_MS + 400 + AGE_MS, AGE_MS, 64, &dropped), RKV_OK);
    cr_assert_eq(dropped, 5u);
    expect_stats("n2", 2, T0_MS + 500);
    expect_stats("n3", 1, T0_MS + 500);
    expect_stats("n4", 0, 0);
    expect_next("n2", 0, "young", 4, "v", T0_MS + 500);
    cr_assert_eq(hints_stats(hs).expired_count, 5u);
    cr_assert_eq(hints_stats(hs).stored_count, 3u);
}

Test(hints, expiry_step_removes_at_most_max_steps_and_resumes)
{
    for (uint64_t i = 0; i < 10; i++)
        put("n2", "k", i + 1, "v", T0_MS + i);
    for (uint64_t i = 0; i < 4; i++)
        put("n3", "k", i + 11, "v", T0_MS + i);
    uint64_t now = T0_MS + 1000 + AGE_MS;
    uint32_t dropped = 0, total = 0;
    for (int step = 0; step < 5; step++) {
        cr_assert_eq(hints_expire(hs, now, AGE_MS, 3, &dropped), RKV_OK);
        cr_assert_leq(dropped, 3u);
        total += dropped;
        /* Between steps the counts and oldest times stay exact. */
        uint64_t c2, o2, c3, o3;
        cr_assert_eq(hints_target_stats(hs, "n2", 2, &c2, &o2), RKV_OK);
        cr_assert_eq(hints_target_stats(hs, "n3", 2, &c3, &o3), RKV_OK);
        cr_assert_eq(c2 + c3, 14u - total);
        if (c2 > 0)
            cr_assert_eq(o2, T0_MS + (10 - c2));
        if (c3 > 0)
            cr_assert_eq(o3, T0_MS + (4 - c3));
    }
    cr_assert_eq(total, 14u);
    cr_assert_eq(hints_expire(hs, now, AGE_MS, 3, &dropped), RKV_OK);
    cr_assert_eq(dropped, 0u);
    cr_assert_eq(hints_stats(hs).stored_count, 0u);
}

Test(hints, expiry_with_a_zero_age_drops_everything_stored_up_to_now)
{
    put("n2", "k", 1, "v", T0_MS);
    put("n2", "k", 2, "v", T0_MS + 1);
    uint32_t dropped = 0;
    cr_assert_eq(hints_expire(hs, T0_MS, 0, 64, &dropped), RKV_OK);
    cr_assert_eq(dropped, 1u);
    expect_stats("n2", 1, T0_MS + 1);
}

/* ---- statistics ---- */

Test(hints, target_listing_shows_each_target_with_hints_once)
{
    put("n2", "k", 1, "v", T0_MS + 7);
    put("n3", "k", 2, "v", T0_MS + 8);
    put("n2", "k", 3, "v", T0_MS + 9);
    uint64_t s4 = put("n4", "k", 4, "v", T0_MS + 10);
    cr_assert_eq(hints_remove(hs, "n4", 2, s4), RKV_OK);

    bool seen2 = false, seen3 = false;
    uint32_t idx = 0, listed = 0;
    struct hints_target_info info;
    while (hints_target_next(hs, &idx, &info)) {
        listed++;
        cr_assert_eq(strlen(info.target), info.target_bytes);
        if (strcmp(info.target, "n2") == 0) {
            cr_assert(!seen2);
            seen2 = true;
            cr_assert_eq(info.count, 2u);
            cr_assert_eq(info.oldest_ms, T0_MS + 7);
        } else if (strcmp(info.target, "n3") == 0) {
            cr_assert(!seen3);
            seen3 = true;
            cr_assert_eq(info.count, 1u);
            cr_assert_eq(info.oldest_ms, T0_MS + 8);
        } else {
            cr_assert_fail("unexpected target %s", info.target);
        }
    }
    cr_assert_eq(listed, 2u);
    cr_assert(seen2 && seen3);
    cr_assert_eq(info.count, 0u, "the last call zeroes its output");
    cr_assert_not(hints_target_next(hs, &idx, &info));
}

Test(hints, target_table_holds_the_cluster_maximum_and_refuses_one_more)
{
    char target[16];
    uint64_t first_seq = 0;
    for (uint32_t i = 0; i < RKV_HINT_TARGETS_MAX; i++) {
        snprintf(target, sizeof target, "t%u", i);
        uint64_t seq = put(target, "k", 1, "v", T0_MS);
        if (i == 0)
            first_seq = seq;
    }
    struct record_hdr hdr = hdr_of(1);
    uint64_t seq = 99;
    cr_assert_eq(hints_put(hs, "extra", 5, TOKEN, (const uint8_t *)"k", 1, &hdr, NULL, 0, T0_MS, &seq), RKV_BUSY);
    cr_assert_eq(seq, 0u);
    expect_stats("extra", 0, 0);
    /* Known targets still take hints. */
    put("t7", "k", 2, "v", T0_MS);
    /* Once a target has no hints left, its place is free. */
    cr_assert_eq(hints_remove(hs, "t0", 2, first_seq), RKV_OK);
    put("extra", "k", 3, "v", T0_MS);
    expect_stats("extra", 1, T0_MS);
    cr_assert_eq(hints_stats(hs).stored_count, (uint64_t)RKV_HINT_TARGETS_MAX + 1u);
    restart();
    expect_stats("extra", 1, T0_MS);
    expect_stats("t7", 2, T0_MS);
    expect_stats("t0", 0, 0);
}

/* ---- limits and bad input ---- */

static enum rkv_err put_sized(const char *target, size_t target_bytes, size_t key_bytes, uint32_t value_bytes)
{
    static uint8_t key[RKV_KEY_BYTES_MAX + 1];
    static uint8_t value[RKV_VALUE_BYTES_MAX + 1];
    memset(key, 'k', sizeof key);
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (uint8_t)(i * 7u);
    struct record_hdr hdr = hdr_of(1);
    uint64_t seq = 99;
    enum rkv_err err = hints_put(hs, target, target_bytes, TOKEN, key, key_bytes, &hdr, value, value_bytes, T0_MS,
                                 &seq);
    cr_assert_eq(seq == 0, err != RKV_OK);
    return err;
}

Test(hints, key_of_256_bytes_is_stored_and_257_refused)
{
    cr_assert_eq(put_sized("n2", 2, RKV_KEY_BYTES_MAX + 1, 1), RKV_KEY_TOO_LONG);
    cr_assert_eq(put_sized("n2", 2, 0, 1), RKV_KEY_EMPTY);
    cr_assert_eq(hints_stats(hs).stored_count, 0u);
    expect_none_after("n2", 0);
    cr_assert_eq(put_sized("n2", 2, RKV_KEY_BYTES_MAX, 1), RKV_OK);
    struct hint_view v;
    cr_assert_eq(hints_next(hs, "n2", 2, 0, &v), RKV_OK);
    cr_assert_eq(v.key_bytes, RKV_KEY_BYTES_MAX);
    cr_assert_eq(v.key[RKV_KEY_BYTES_MAX - 1], 'k');
}

Test(hints, value_of_1_mib_is_stored_and_one_byte_more_refused)
{
    cr_assert_eq(put_sized("n2", 2, 1, RKV_VALUE_BYTES_MAX + 1), RKV_VALUE_TOO_LONG);
    cr_assert_eq(hints_stats(hs).stored_count, 0u);
    expect_none_after("n2", 0);
    cr_assert_eq(put_sized("n2", 2, RKV_KEY_BYTES_MAX, RKV_VALUE_BYTES_MAX), RKV_OK);
    restart(); /* from disk, not only from the cache */
    struct hint_view v;
    cr_assert_eq(hints_next(hs, "n2", 2, 0, &v), RKV_OK);
    cr_assert_eq(v.rec.value_bytes, RKV_VALUE_BYTES_MAX);
    for (size_t i = 0; i < RKV_VALUE_BYTES_MAX; i += 4093)
        cr_assert_eq(v.rec.value[i], (uint8_t)(i * 7u), "byte %zu", i);
    cr_assert_eq(v.rec.value[RKV_VALUE_BYTES_MAX - 1], (uint8_t)((RKV_VALUE_BYTES_MAX - 1) * 7u));
}

Test(hints, target_ids_are_checked_at_every_entry)
{
    char longest[RKV_NODE_ID_BYTES_MAX + 2];
    memset(longest, 'n', sizeof longest);
    longest[sizeof longest - 1] = '\0';
    cr_assert_eq(put_sized(longest, RKV_NODE_ID_BYTES_MAX + 1, 1, 1), RKV_INVALID_ARG);
    cr_assert_eq(put_sized("", 0, 1, 1), RKV_INVALID_ARG);
    cr_assert_eq(put_sized("n 2", 3, 1, 1), RKV_INVALID_ARG);
    cr_assert_eq(put_sized("n/2", 3, 1, 1), RKV_INVALID_ARG);
    cr_assert_eq(put_sized(NULL, 2, 1, 1), RKV_INVALID_ARG);
    cr_assert_eq(hints_stats(hs).stored_count, 0u);

    cr_assert_eq(put_sized(longest, RKV_NODE_ID_BYTES_MAX, 1, 1), RKV_OK);
    cr_assert_eq(put_sized("a.B_9-z", 7, 1, 1), RKV_OK);
    struct hint_view v;
    cr_assert_eq(hints_next(hs, longest, RKV_NODE_ID_BYTES_MAX, 0, &v), RKV_OK);

    uint64_t c, o;
    cr_assert_eq(hints_next(hs, "n 2", 3, 0, &v), RKV_INVALID_ARG);
    cr_assert_eq(hints_remove(hs, longest, RKV_NODE_ID_BYTES_MAX + 1, 1), RKV_INVALID_ARG);
    cr_assert_eq(hints_target_stats(hs, "", 0, &c, &o), RKV_INVALID_ARG);
}

Test(hints, headers_a_record_may_not_have_are_refused)
{
    struct record_hdr bad[3] = { hdr_of(1), hdr_of(1), hdr_of(1) };
    bad[0].version = 0;
    bad[1].flags = 0x80;
    bad[2].flags = REC_F_TOMBSTONE; /* with a value below */
    for (size_t i = 0; i < 3; i++) {
        uint64_t seq;
        cr_assert_eq(hints_put(hs, "n2", 2, TOKEN, (const uint8_t *)"k", 1, &bad[i], (const uint8_t *)"v", 1, T0_MS,
                               &seq),
                     RKV_INVALID_ARG, "header %zu", i);
    }
    cr_assert_eq(hints_stats(hs).stored_count, 0u);
    expect_none_after("n2", 0);
}

/* ---- the operator's view ---- */

struct found_list {
    uint32_t count;
    struct {
        char target[RKV_NODE_ID_BYTES_MAX + 1];
        uint64_t seq, version, timestamp;
    } item[32];
};

static void found_one(void *arg, const char *target, size_t target_bytes, uint64_t seq, const struct record_hdr *hdr)
{
    struct found_list *f = arg;
    cr_assert_lt(f->count, 32u);
    memcpy(f->item[f->count].target, target, target_bytes);
    f->item[f->count].target[target_bytes] = '\0';
    f->item[f->count].seq = seq;
    f->item[f->count].version = hdr->version;
    f->item[f->count].timestamp = hdr->timestamp;
    f->count++;
}

/* Puts the writes the for_key tests look for; returns how many hints there are. */
static uint32_t put_for_key_fixture(uint64_t seqs_out[3])
{
    /* put() uses token TOKEN + n % 3: n = 3, 6, 9 give TOKEN, as the key asks. */
    seqs_out[0] = put("n2", "wanted", 3, "v", T0_MS);
    put("n2", "other", 4, "v", T0_MS);
    put("n3", "wanted", 4, "v", T0_MS); /* same key, another token */
    seqs_out[1] = put("n3", "wanted", 6, "v", T0_MS);
    put("n4", "wante", 9, "v", T0_MS);  /* a prefix of the key */
    put("n4", "wanted!", 9, "v", T0_MS); /* the key is a prefix of it */
    seqs_out[2] = put("n2", "wanted", 9, "v", T0_MS);
    return 7;
}

static void assert_found_fixture(const struct found_list *f, const uint64_t seqs[3])
{
    cr_assert_eq(f->count, 3u);
    /* Stored-key order: target n2 (seq order), then n3. */
    static const char *const targets[3] = { "n2", "n2", "n3" };
    const uint64_t want_seq[3] = { seqs[0], seqs[2], seqs[1] };
    const uint64_t want_n[3] = { 3, 9, 6 };
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(f->item[i].target, targets[i]);
        cr_assert_eq(f->item[i].seq, want_seq[i]);
        cr_assert_eq(f->item[i].version, hdr_of(want_n[i]).version);
        cr_assert_eq(f->item[i].timestamp, hdr_of(want_n[i]).timestamp);
    }
}

Test(hints, for_key_lists_exactly_the_hints_of_that_token_and_key)
{
    uint64_t seqs[3];
    uint32_t total = put_for_key_fixture(seqs);
    struct found_list f = { 0 };
    struct hints_scan_pos pos = { 0 };
    struct hints_scan_result r;
    cr_assert_eq(hints_for_key(hs, TOKEN, (const uint8_t *)"wanted", 6, &pos, 100, &f, found_one, &r), RKV_OK);
    cr_assert(r.end);
    cr_assert_eq(r.examined_count, total);
    cr_assert_eq(r.matched_count, 3u);
    cr_assert_eq(r.corrupt_count, 0u);
    assert_found_fixture(&f, seqs);
}

Test(hints, for_key_in_small_batches_resumes_and_sees_each_hint_once)
{
    uint64_t seqs[3];
    uint32_t total = put_for_key_fixture(seqs);
    struct found_list f = { 0 };
    struct hints_scan_pos pos = { 0 };
    struct hints_scan_result r = { 0 };
    uint32_t calls = 0, examined = 0;
    while (!r.end) {
        cr_assert_lt(calls, 20u);
        cr_assert_eq(hints_for_key(hs, TOKEN, (const uint8_t *)"wanted", 6, &pos, 2, &f, found_one, &r), RKV_OK);
        cr_assert_leq(r.examined_count, 2u);
        examined += r.examined_count;
        calls++;
        /* Between batches the shard is free: a put and a read work as usual. */
        struct hint_view v;
        cr_assert_eq(hints_next(hs, "n2", 2, 0, &v), RKV_OK);
    }
    cr_assert_eq(examined, total);
    cr_assert_eq(calls, (total + 1) / 2, "the batch holding the last hint reports the end");
    assert_found_fixture(&f, seqs);
}

Test(hints, for_key_of_an_empty_table_ends_at_once_and_checks_the_key)
{
    struct found_list f = { 0 };
    struct hints_scan_pos pos = { 0 };
    struct hints_scan_result r;
    cr_assert_eq(hints_for_key(hs, TOKEN, (const uint8_t *)"k", 1, &pos, 1, &f, found_one, &r), RKV_OK);
    cr_assert(r.end);
    cr_assert_eq(r.examined_count, 0u);
    static const uint8_t long_key[RKV_KEY_BYTES_MAX + 1];
    cr_assert_eq(hints_for_key(hs, TOKEN, long_key, sizeof long_key, &pos, 1, &f, found_one, &r), RKV_KEY_TOO_LONG);
    cr_assert_eq(hints_for_key(hs, TOKEN, long_key, 0, &pos, 1, &f, found_one, &r), RKV_KEY_EMPTY);
}

static void reenter(void *arg, const char *target, size_t target_bytes, uint64_t seq, const struct record_hdr *hdr)
{
    (void)arg;
    (void)hdr;
    struct hint_view v;
    (void)hints_next(hs, target, target_bytes, seq, &v);
}

Test(hints, a_hints_call_from_the_for_key_callback_aborts, .signal = SIGABRT)
{
    put("n2", "k", 3, "v", T0_MS);
    put("n2", "k", 6, "v", T0_MS);
    test_dir_remove(test_dir); /* the abort below skips the suite's fini */
    test_dir[0] = '\0';
    struct hints_scan_pos pos = { 0 };
    struct hints_scan_result r;
    (void)hints_for_key(hs, TOKEN, (const uint8_t *)"k", 1, &pos, 10, NULL, reenter, &r);
}

/* ---- corrupt hints ---- */

/* Plants bytes under target's key seq behind hints' back, then reopens hints so that they
 * count it. */
static void plant(const char *target, uint64_t seq, const uint8_t *bytes, size_t bytes_len)
{
    uint8_t k[HINT_KEY_BYTES_MAX];
    size_t tb = strlen(target);
    k[0] = (uint8_t)tb;
    memcpy(k + 1, target, tb);
    store_be64(k + 1 + tb, seq);
    struct engine_table *t = NULL;
    cr_assert_eq(engine_table_open(sh, "hints", &t), RKV_OK);
    cr_assert_eq(engine_table_put(t, k, 1 + tb + 8, bytes, bytes_len), RKV_OK);
    engine_table_close(t);
    hints_close(hs);
    hs = NULL;
    cr_assert_eq(hints_open(sh, &hs), RKV_OK);
}

Test(hints, corrupt_hint_is_reported_with_its_number_and_dropped_by_expiry)
{
    uint64_t s1 = put("n2", "a", 1, "v", T0_MS + 50);
    uint64_t s2 = put("n2", "b", 2, "v", T0_MS + 60);
    static const uint8_t junk[] = { 9, 9, 9 };
    plant("n2", s2 + 1, junk, sizeof junk);
    uint8_t bad_format[HINT_FIXED_BYTES + 1 + REC_HDR_BYTES] = { 0 };
    bad_format[0] = 2; /* an unknown format */
    plant("n2", s2 + 2, bad_format, sizeof bad_format);
    expect_stats("n2", 4, T0_MS + 50);
    uint64_t s3 = put("n2", "c", 3, "v", T0_MS + 70);
    cr_assert_gt(s3, s2 + 2, "the sequence continues after planted hints");

    struct hint_view v;
    cr_assert_eq(hints_next(hs, "n2", 2, s2, &v), RKV_CORRUPT);
    cr_assert_eq(v.seq, s2 + 1);
    cr_assert_eq(v.key, NULL);
    cr_assert_eq(hints_next(hs, "n2", 2, s2 + 1, &v), RKV_CORRUPT);
    cr_assert_eq(v.seq, s2 + 2);
    cr_assert_eq(expect_next("n2", s2 + 2, "c", 3, "v", T0_MS + 70), s3);

    /* Expiry drops the corrupt hints once the good ones before them are gone, whatever the
     * time; a young good hint after them stays. */
    uint32_t dropped = 0;
    cr_assert_eq(hints_remove(hs, "n2", 2, s1), RKV_OK);
    cr_assert_eq(hints_remove(hs, "n2", 2, s2), RKV_OK);
    expect_stats("n2", 3, 0); /* the first hint is corrupt: no stored time */
    cr_assert_eq(hints_expire(hs, T0_MS, AGE_MS, 64, &dropped), RKV_OK);
    cr_assert_eq(dropped, 2u);
    expect_stats("n2", 1, T0_MS + 70);
    struct hints_stats st = hints_stats(hs);
    cr_assert_eq(st.corrupt_count, 2u);
    cr_assert_eq(st.expired_count, 0u);
}

Test(hints, keys_that_are_not_hint_keys_are_left_out_of_every_count)
{
    put("n2", "a", 1, "v", T0_MS);
    struct engine_table *t = NULL;
    cr_assert_eq(engine_table_open(sh, "hints", &t), RKV_OK);
    /* A bad length byte, an id character outside the set, and the right target with a
     * sequence number one byte too long, inside n2's range and before its first hint, so that
     * reading n2's queue has to step over it. */
    static const uint8_t k1[] = { 40, 'x' };
    static const uint8_t k2[] = { 2, 'n', '/', 0, 0, 0, 0, 0, 0, 0, 1 };
    static const uint8_t k3[] = { 2, 'n', '2', 0, 0, 0, 0, 0, 0, 0, 0, 5 };
    cr_assert_eq(engine_table_put(t, k1, sizeof k1, k1, sizeof k1), RKV_OK);
    cr_assert_eq(engine_table_put(t, k2, sizeof k2, k2, sizeof k2), RKV_OK);
    cr_assert_eq(engine_table_put(t, k3, sizeof k3, k3, sizeof k3), RKV_OK);
    engine_table_close(t);
    restart();
    cr_assert_eq(hints_stats(hs).stored_count, 1u);
    expect_stats("n2", 1, T0_MS);
    expect_next("n2", 0, "a", 1, "v", T0_MS);
    struct found_list f = { 0 };
    struct hints_scan_pos pos = { 0 };
    struct hints_scan_result r;
    cr_assert_eq(hints_for_key(hs, TOKEN + 1, (const uint8_t *)"a", 1, &pos, 100, &f, found_one, &r), RKV_OK);
    cr_assert_eq(r.examined_count, 4u);
    cr_assert_eq(r.corrupt_count, 3u);
    cr_assert_eq(r.matched_count, 1u);
}
