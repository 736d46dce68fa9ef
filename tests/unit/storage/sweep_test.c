/* Tests of the per-shard sweeper (storage/sweep.h): expiry into tombstones and purge after
 * the grace at their exact millisecond boundaries, what it must never touch, the bounds of
 * one step, the pass schedule, and corrupt records. Each test gets an engine with one shard
 * in a fresh directory under /tmp, closed and removed by the suite's fini. Time is passed
 * in as now_ms: nothing sleeps. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/hlc.h"
#include "core/limits.h"
#include "tests/support/tmpdir.h"
#include "storage/engine.h"
#include "storage/kv.h"
#include "storage/sweep.h"

#define ORIGIN 0x5eedu
#define TOKEN 0x1234567890abcdefull
#define T0_MS 1700000000000ull /* a plausible wall clock, in ms */
#define GRACE_MS 60000u

static char test_dir[64];
static struct engine *eng;
static struct engine_shard *sh;
static struct hlc clk;
/* About 20 KiB: static rather than on the test's stack. */
static struct sweep sw;

static void setup(void)
{
    /* Named after the runner (each test runs in a child of it) so that the runner can remove
     * what a death test leaves behind: see leftovers_remove(). */
    snprintf(test_dir, sizeof test_dir, "/tmp/rkv_sweep_test_%ld_XXXXXX", (long)getppid());
    cr_assert_not_null(mkdtemp(test_dir));
    struct engine_config cfg = { .dir = test_dir, .node_id = "sw", .shard_count = 1,
                                 .cache_bytes = RKV_WT_CACHE_BYTES_MIN };
    cr_assert_eq(engine_open(&cfg, &eng), RKV_OK);
    cr_assert_eq(engine_shard_open(eng, 0, &sh), RKV_OK);
    hlc_init(&clk);
}

static void dir_remove(void)
{
    if (test_dir[0] != '\0')
        test_dir_remove(test_dir);
    test_dir[0] = '\0';
}

static void teardown(void)
{
    if (sh != NULL)
        engine_shard_close(sh);
    if (eng != NULL)
        engine_close(eng);
    sh = NULL;
    eng = NULL;
    dir_remove();
}

/* A death test removes its directory before it aborts, but WiredTiger's log thread may still
 * preallocate a log file there in between. The runner sweeps up whatever is left once every
 * test has run. */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    char pattern[64];
    snprintf(pattern, sizeof pattern, "/tmp/%s_%ld_*", "rkv_sweep_test", (long)getpid());
    glob_t g;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++)
        test_dir_remove(g.gl_pathv[i]);
    globfree(&g);
}

TestSuite(sweep, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static struct kv_result put_ttl(uint64_t now_ms, const char *key, const char *value, uint32_t ttl_s)
{
    struct kv_put_args a = {
        .token = TOKEN,
        .key = (const uint8_t *)key,
        .key_bytes = strlen(key),
        .value = (const uint8_t *)value,
        .value_bytes = (uint32_t)strlen(value),
        .ttl_s = ttl_s,
        .origin = ORIGIN,
    };
    struct kv_result r;
    cr_assert_eq(kv_put(sh, NULL, &clk, now_ms, &a, &r), RKV_OK);
    return r;
}

static struct kv_result del(uint64_t now_ms, const char *key)
{
    struct kv_result r;
    cr_assert_eq(kv_delete(sh, NULL, &clk, now_ms, TOKEN, (const uint8_t *)key, strlen(key), ORIGIN, &r), RKV_OK);
    return r;
}

/* The raw stored record; false when none is stored. */
static bool stored(const char *key, struct record_hdr *hdr_out, uint32_t *value_bytes_out)
{
    struct record_view v;
    enum rkv_err err = engine_read(sh, TOKEN, (const uint8_t *)key, strlen(key), &v);
    if (err == RKV_NOT_FOUND)
        return false;
    cr_assert_eq(err, RKV_OK, "key %s", key);
    *hdr_out = v.hdr;
    if (value_bytes_out != NULL)
        *value_bytes_out = v.value_bytes;
    return true;
}

static struct record_hdr stored_hdr(const char *key)
{
    struct record_hdr h;
    cr_assert(stored(key, &h, NULL), "key %s is not stored", key);
    return h;
}

/* Writes record i of a bulk table straight through the engine: token i spread over the
 * ring, expiry as given (0 never), live. */
static void bulk_write(uint32_t i, uint64_t expiry_ms)
{
    char k[16];
    snprintf(k, sizeof k, "b%06u", i);
    struct record_hdr h = { .origin = ORIGIN, .timestamp = hlc_make(T0_MS, 0) + i, .version = 1,
                            .expiry_ms = expiry_ms };
    cr_assert_eq(engine_write(sh, (uint64_t)i * 0x9E3779B97F4A7C15ull, (const uint8_t *)k, strlen(k), &h,
                              (const uint8_t *)"value", 5),
                 RKV_OK);
}

/* The stats a step changed. */
struct step_delta {
    bool wrote;
    uint64_t scanned, expired, purged, corrupt, passes;
};

static struct step_delta step(uint64_t now_ms)
{
    struct sweep_stats before = sw.stats;
    struct step_delta d;
    d.wrote = sweep_step(&sw, sh, NULL, now_ms);
    d.scanned = sw.stats.scanned_count - before.scanned_count;
    d.expired = sw.stats.expired_count - before.expired_count;
    d.purged = sw.stats.purged_count - before.purged_count;
    d.corrupt = sw.stats.corrupt_count - before.corrupt_count;
    d.passes = sw.stats.passes_count - before.passes_count;
    cr_assert_eq(d.wrote, d.expired + d.purged > 0, "sweep_step() says it wrote exactly when it did");
    cr_assert_leq(d.scanned, RKV_SWEEP_SCAN_PER_STEP_MAX);
    cr_assert_leq(d.expired + d.purged, RKV_SWEEP_WRITES_PER_STEP_MAX);
    return d;
}

/* Runs steps at now_ms until the pass running (or starting) ends; returns the steps taken. */
static uint32_t finish_pass(uint64_t now_ms)
{
    uint64_t passes = sw.stats.passes_count;
    for (uint32_t n = 1; n <= 100000; n++) {
        step(now_ms);
        if (sw.stats.passes_count > passes)
            return n;
    }
    cr_assert_fail("the pass did not end");
    return 0;
}

/* ---- expiry ---- */

Test(sweep, expired_record_becomes_a_tombstone_at_exactly_its_expiry_and_not_a_ms_before)
{
    struct kv_result w = put_ttl(T0_MS, "k", "value", 5);
    const uint64_t expiry = T0_MS + 5000;
    sweep_init(&sw, 1, GRACE_MS); /* a new pass every ms, so each step below starts one */

    struct step_delta d = step(expiry - 1);
    cr_assert_eq(d.passes, 1u);
    cr_assert_eq(d.scanned, 1u);
    cr_assert_not(d.wrote);
    struct record_hdr h;
    uint32_t value_bytes = 0;
    cr_assert(stored("k", &h, &value_bytes));
    cr_assert_eq(h.flags, 0, "still live 1 ms before its expiry");
    cr_assert_eq(value_bytes, 5u);

    d = step(expiry);
    cr_assert_eq(d.passes, 1u);
    cr_assert(d.wrote);
    cr_assert_eq(d.expired, 1u);
    cr_assert(stored("k", &h, &value_bytes));
    cr_assert_eq(h.flags, REC_F_TOMBSTONE);
    cr_assert_eq(h.timestamp, w.timestamp, "the tombstone keeps the record's timestamp");
    cr_assert_eq(h.version, w.version, "and its version");
    cr_assert_eq(h.origin, ORIGIN, "and its origin");
    cr_assert_eq(h.expiry_ms, expiry, "it died when the record expired");
    cr_assert_eq(value_bytes, 0u);
    cr_assert_eq(sw.stats.expired_count, 1u);
}

Test(sweep, tombstone_of_an_expired_record_is_not_rewritten_by_later_passes)
{
    put_ttl(T0_MS, "k", "value", 1);
    sweep_init(&sw, 1, GRACE_MS);
    cr_assert(step(T0_MS + 1000).wrote);
    struct record_hdr first = stored_hdr("k");
    for (uint64_t t = T0_MS + 1001; t < T0_MS + 1010; t++)
        cr_assert_not(step(t).wrote);
    struct record_hdr again = stored_hdr("k");
    cr_assert_eq(memcmp(&first, &again, sizeof first), 0);
    cr_assert_eq(sw.stats.expired_count, 1u);
}

Test(sweep, newer_write_of_an_expired_key_is_never_touched)
{
    put_ttl(T0_MS, "k", "old", 1);
    /* Rewritten after the first value expired, without a TTL and then with a later one. */
    struct kv_result w1 = put_ttl(T0_MS + 2000, "k", "new", 0);
    put_ttl(T0_MS, "j", "old", 1);
    struct kv_result w2 = put_ttl(T0_MS + 2000, "j", "newer", 3600);
    sweep_init(&sw, 1, GRACE_MS);
    for (uint64_t t = T0_MS + 2000; t < T0_MS + 2010; t++)
        cr_assert_not(step(t).wrote);
    struct record_hdr h;
    uint32_t value_bytes = 0;
    cr_assert(stored("k", &h, &value_bytes));
    cr_assert_eq(h.flags, 0);
    cr_assert_eq(h.timestamp, w1.timestamp);
    cr_assert_eq(h.version, w1.version);
    cr_assert_eq(value_bytes, 3u);
    cr_assert(stored("j", &h, &value_bytes));
    cr_assert_eq(h.flags, 0);
    cr_assert_eq(h.timestamp, w2.timestamp);
    cr_assert_eq(value_bytes, 5u);
    cr_assert_eq(sw.stats.expired_count, 0u);
}

Test(sweep, write_after_the_sweep_wins_over_its_tombstone)
{
    struct kv_result w = put_ttl(T0_MS, "k", "old", 1);
    sweep_init(&sw, 1, GRACE_MS);
    cr_assert(step(T0_MS + 1000).wrote);
    struct kv_result again = put_ttl(T0_MS + 1001, "k", "back", 0);
    cr_assert_gt(again.timestamp, w.timestamp);
    cr_assert_eq(again.version, w.version + 1, "versions continue over the sweep's tombstone");
    struct record_view v;
    cr_assert_eq(kv_get(sh, NULL, T0_MS + 1001, TOKEN, (const uint8_t *)"k", 1, &v), RKV_OK);
    cr_assert_eq(memcmp(v.value, "back", 4), 0);
    cr_assert_not(step(T0_MS + 1002).wrote);
}

Test(sweep, live_records_without_ttl_or_before_expiry_are_untouched)
{
    struct kv_result w = put_ttl(T0_MS, "forever", "v", 0);
    put_ttl(T0_MS, "later", "v", RKV_TTL_S_MAX);
    sweep_init(&sw, 1, 0);
    const uint64_t times[] = { T0_MS, T0_MS + 1, T0_MS + 86400000ull, T0_MS + (uint64_t)RKV_TTL_S_MAX * 1000u - 1 };
    for (size_t i = 0; i < RKV_ARRAY_LEN(times); i++) {
        struct step_delta d = step(times[i]);
        cr_assert_eq(d.scanned, 2u);
        cr_assert_not(d.wrote);
    }
    struct record_hdr h = stored_hdr("forever");
    cr_assert_eq(h.flags, 0);
    cr_assert_eq(h.version, w.version);
    cr_assert_eq(h.timestamp, w.timestamp);
    cr_assert_eq(stored_hdr("later").flags, 0);
    /* The TTL of ten years ends at its millisecond like any other. */
    cr_assert(step(T0_MS + (uint64_t)RKV_TTL_S_MAX * 1000u).wrote);
    cr_assert_eq(stored_hdr("later").flags, REC_F_TOMBSTONE);
    cr_assert_eq(stored_hdr("forever").flags, 0);
}

/* ---- purge ---- */

Test(sweep, deleted_key_is_purged_at_exactly_died_plus_grace_and_not_a_ms_before)
{
    put_ttl(T0_MS, "k", "v", 0);
    del(T0_MS + 10, "k");
    sweep_init(&sw, 1, GRACE_MS);
    struct step_delta d = step(T0_MS + 10 + GRACE_MS - 1);
    cr_assert_not(d.wrote);
    struct record_hdr h = stored_hdr("k");
    cr_assert_eq(h.flags, REC_F_TOMBSTONE, "kept 1 ms before its grace ends");
    d = step(T0_MS + 10 + GRACE_MS);
    cr_assert(d.wrote);
    cr_assert_eq(d.purged, 1u);
    cr_assert_not(stored("k", &h, NULL), "gone at died + grace");
    cr_assert_eq(sw.stats.purged_count, 1u);
}

Test(sweep, expired_record_is_purged_at_exactly_expiry_plus_grace)
{
    put_ttl(T0_MS, "k", "v", 2);
    const uint64_t expiry = T0_MS + 2000;
    sweep_init(&sw, 1, GRACE_MS);
    cr_assert_eq(step(expiry).expired, 1u);
    cr_assert_eq(step(expiry + GRACE_MS - 1).purged, 0u);
    cr_assert_eq(stored_hdr("k").flags, REC_F_TOMBSTONE);
    cr_assert_eq(step(expiry + GRACE_MS).purged, 1u);
    struct record_hdr h;
    cr_assert_not(stored("k", &h, NULL));
}

Test(sweep, grace_0_purges_a_tombstone_at_the_first_pass_after_it_died_not_in_the_same_one)
{
    put_ttl(T0_MS, "x", "v", 1);
    del(T0_MS, "d");
    sweep_init(&sw, 1, 0);
    struct step_delta d = step(T0_MS + 1000);
    cr_assert_eq(d.purged, 1u, "the deleted key goes at once");
    cr_assert_eq(d.expired, 1u, "the expired one becomes a tombstone first");
    struct record_hdr h;
    cr_assert_not(stored("d", &h, NULL));
    cr_assert_eq(stored_hdr("x").flags, REC_F_TOMBSTONE);
    d = step(T0_MS + 1001);
    cr_assert_eq(d.purged, 1u, "and goes at the next pass");
    cr_assert_not(stored("x", &h, NULL));
}

Test(sweep, purge_forgets_the_version_so_the_next_put_starts_at_1)
{
    put_ttl(T0_MS, "k", "a", 0);
    put_ttl(T0_MS, "k", "b", 0);
    del(T0_MS, "k");
    sweep_init(&sw, 1, 0);
    cr_assert_eq(step(T0_MS).purged, 1u);
    cr_assert_eq(put_ttl(T0_MS + 1, "k", "c", 0).version, 1u);
}

Test(sweep, newer_tombstone_is_purged_by_its_own_death_not_by_the_old_ttl)
{
    put_ttl(T0_MS, "k", "v", 1);
    del(T0_MS + 30000, "k"); /* deleted long after it expired: died at the delete */
    sweep_init(&sw, 1, GRACE_MS);
    cr_assert_eq(step(T0_MS + 1000 + GRACE_MS).purged, 0u);
    cr_assert_eq(step(T0_MS + 30000 + GRACE_MS - 1).purged, 0u);
    cr_assert_eq(step(T0_MS + 30000 + GRACE_MS).purged, 1u);
}

/* ---- bounds per step ---- */

Test(sweep, pass_over_10000_records_takes_ceil_n_over_256_steps_of_at_most_256)
{
    const uint32_t n = 10000;
    for (uint32_t i = 0; i < n; i++)
        bulk_write(i, 0);
    sweep_init(&sw, 10000, GRACE_MS);
    const uint32_t steps = (n + RKV_SWEEP_SCAN_PER_STEP_MAX - 1) / RKV_SWEEP_SCAN_PER_STEP_MAX;
    cr_assert_eq(steps, 40u);
    uint64_t total = 0;
    for (uint32_t i = 1; i <= steps; i++) {
        struct step_delta d = step(T0_MS + i);
        uint64_t want = i < steps ? RKV_SWEEP_SCAN_PER_STEP_MAX : n - (steps - 1) * RKV_SWEEP_SCAN_PER_STEP_MAX;
        cr_assert_eq(d.scanned, want, "step %u", i);
        cr_assert_eq(d.passes, i == steps ? 1u : 0u, "step %u", i);
        cr_assert_not(d.wrote);
        cr_assert_leq(sweep_due_ms(&sw), i < steps ? T0_MS + i : UINT64_MAX, "a running pass is due at once");
        total += d.scanned;
    }
    cr_assert_eq(total, n, "every record once");
    cr_assert_eq(sweep_due_ms(&sw), T0_MS + 1 + 10000, "the next pass starts an interval after this one did");
    struct step_delta d = step(T0_MS + steps + 1);
    cr_assert_eq(d.scanned, 0u, "nothing to do until the next pass");
}

Test(sweep, writes_per_step_stop_at_64_and_the_pass_resumes_after_them)
{
    const uint32_t n = 1000;
    for (uint32_t i = 0; i < n; i++)
        bulk_write(i, T0_MS + 5);
    sweep_init(&sw, 100000, GRACE_MS);
    const uint32_t steps = (n + RKV_SWEEP_WRITES_PER_STEP_MAX - 1) / RKV_SWEEP_WRITES_PER_STEP_MAX;
    cr_assert_eq(steps, 16u);
    for (uint32_t i = 1; i <= steps; i++) {
        struct step_delta d = step(T0_MS + 10);
        uint64_t want = i < steps ? RKV_SWEEP_WRITES_PER_STEP_MAX : n - (steps - 1) * RKV_SWEEP_WRITES_PER_STEP_MAX;
        cr_assert_eq(d.expired, want, "step %u", i);
        cr_assert_eq(d.scanned, want, "step %u stops reading when its writes are used up", i);
        cr_assert_eq(d.passes, i == steps ? 1u : 0u, "step %u", i);
    }
    cr_assert_eq(sw.stats.expired_count, n);
    /* The purge pass after the grace is bounded the same way. */
    sweep_init(&sw, 100000, GRACE_MS);
    cr_assert_eq(finish_pass(T0_MS + 5 + GRACE_MS), steps);
    cr_assert_eq(sw.stats.purged_count, n);
    sweep_init(&sw, 100000, GRACE_MS);
    struct step_delta d = step(T0_MS + 5 + GRACE_MS);
    cr_assert_eq(d.scanned, 0u, "the table is empty");
    cr_assert_eq(d.passes, 1u);
}

Test(sweep, mixed_table_keeps_both_bounds_in_every_step)
{
    /* One expired record in every four: a step reads 256 records and writes 64 of them. */
    const uint32_t n = 3000;
    for (uint32_t i = 0; i < n; i++)
        bulk_write(i, i % 4u == 0 ? T0_MS + 1 : 0);
    sweep_init(&sw, 100000, GRACE_MS);
    uint32_t steps = finish_pass(T0_MS + 2); /* step() asserts both bounds each time */
    cr_assert_eq(sw.stats.expired_count, n / 4u);
    cr_assert_eq(sw.stats.scanned_count, n);
    cr_assert_geq(steps, (n + RKV_SWEEP_SCAN_PER_STEP_MAX - 1) / RKV_SWEEP_SCAN_PER_STEP_MAX);
}

/* ---- schedule ---- */

Test(sweep, first_step_starts_a_pass_and_passes_restart_every_interval)
{
    put_ttl(T0_MS, "k", "v", 0);
    sweep_init(&sw, 10000, GRACE_MS);
    cr_assert_eq(sweep_due_ms(&sw), 0u, "due at once after init");
    cr_assert_eq(step(T0_MS).passes, 1u);
    cr_assert_eq(sweep_due_ms(&sw), T0_MS + 10000);
    struct step_delta d = step(T0_MS + 9999);
    cr_assert_eq(d.scanned, 0u);
    cr_assert_eq(d.passes, 0u);
    d = step(T0_MS + 10000);
    cr_assert_eq(d.scanned, 1u);
    cr_assert_eq(d.passes, 1u);
    cr_assert_eq(step(T0_MS + 19999).passes, 0u);
    cr_assert_eq(step(T0_MS + 20000).passes, 1u);
    /* A late step starts the pass late; the next one is an interval after that start. */
    cr_assert_eq(step(T0_MS + 35000).passes, 1u);
    cr_assert_eq(sweep_due_ms(&sw), T0_MS + 45000);
    cr_assert_eq(sw.stats.passes_count, 4u);
}

Test(sweep, pass_longer_than_the_interval_is_followed_at_once)
{
    for (uint32_t i = 0; i < 600; i++)
        bulk_write(i, 0);
    sweep_init(&sw, 2, GRACE_MS);
    cr_assert_eq(step(T0_MS).passes, 0u);
    cr_assert_eq(step(T0_MS + 1).passes, 0u);
    cr_assert_eq(step(T0_MS + 3).passes, 1u); /* 600 records: 3 steps */
    cr_assert_leq(sweep_due_ms(&sw), T0_MS + 3, "the next pass was due at T0 + 2");
    struct step_delta d = step(T0_MS + 3);
    cr_assert_eq(d.scanned, RKV_SWEEP_SCAN_PER_STEP_MAX, "a new pass started");
}

Test(sweep, clock_going_back_delays_the_next_pass_by_at_most_one_interval)
{
    put_ttl(T0_MS, "k", "v", 0);
    sweep_init(&sw, 10000, GRACE_MS);
    cr_assert_eq(step(T0_MS).passes, 1u);
    const uint64_t back = T0_MS - 3600000u; /* an hour back */
    cr_assert_eq(step(back).passes, 0u);
    cr_assert_eq(sweep_due_ms(&sw), back + 10000);
    cr_assert_eq(step(back + 9999).passes, 0u);
    cr_assert_eq(step(back + 10000).passes, 1u);
}

/* ---- corrupt records ---- */

Test(sweep, corrupt_records_are_skipped_counted_and_left_as_they_are)
{
    put_ttl(T0_MS, "a", "v", 1);
    uint8_t bad[REC_HDR_BYTES] = { REC_FORMAT_V1 }; /* version 0 */
    cr_assert_eq(engine_test_write_raw(sh, TOKEN, (const uint8_t *)"b", 1, bad, sizeof bad), RKV_OK);
    cr_assert_eq(engine_test_write_raw(sh, TOKEN, (const uint8_t *)"c", 1, bad, 7), RKV_OK);
    put_ttl(T0_MS, "d", "v", 1);
    sweep_init(&sw, 1, GRACE_MS);
    struct step_delta d = step(T0_MS + 1000);
    cr_assert_eq(d.scanned, 4u);
    cr_assert_eq(d.corrupt, 2u);
    cr_assert_eq(d.expired, 2u, "the records around them are swept");
    cr_assert_eq(d.passes, 1u);
    struct record_view v;
    cr_assert_eq(engine_read(sh, TOKEN, (const uint8_t *)"b", 1, &v), RKV_CORRUPT, "left for repair");
    cr_assert_eq(engine_read(sh, TOKEN, (const uint8_t *)"c", 1, &v), RKV_CORRUPT);
    /* Met again, and counted again, by every pass; never purged. */
    d = step(T0_MS + 1000 + GRACE_MS);
    cr_assert_eq(d.corrupt, 2u);
    cr_assert_eq(d.purged, 2u);
    cr_assert_eq(sw.stats.corrupt_count, 4u);
    cr_assert_eq(engine_read(sh, TOKEN, (const uint8_t *)"b", 1, &v), RKV_CORRUPT);
}

Test(sweep, step_leaves_the_shard_with_no_position_so_other_calls_follow)
{
    put_ttl(T0_MS, "a", "v", 1);
    sweep_init(&sw, 1, GRACE_MS);
    cr_assert(step(T0_MS + 1000).wrote);
    cr_assert_eq(engine_log_flush(sh), RKV_OK);
    put_ttl(T0_MS + 1001, "a", "w", 0);
    struct record_view v;
    cr_assert_eq(kv_get(sh, NULL, T0_MS + 1001, TOKEN, (const uint8_t *)"a", 1, &v), RKV_OK);
}

/* ---- sweep_init bounds ---- */

Test(sweep, init_accepts_the_bounds)
{
    sweep_init(&sw, 1, 0);
    cr_assert_eq(sweep_due_ms(&sw), 0u);
    sweep_init(&sw, (uint64_t)RKV_SWEEP_INTERVAL_S_MAX * 1000u, (uint64_t)RKV_TOMBSTONE_GRACE_S_MAX * 1000u);
    cr_assert_eq(step(T0_MS).passes, 1u);
    cr_assert_eq(sweep_due_ms(&sw), T0_MS + (uint64_t)RKV_SWEEP_INTERVAL_S_MAX * 1000u);
}

Test(sweep, init_with_interval_0_aborts, .signal = SIGABRT)
{
    teardown();
    sweep_init(&sw, 0, 0);
}

Test(sweep, init_with_interval_over_the_maximum_aborts, .signal = SIGABRT)
{
    teardown();
    sweep_init(&sw, (uint64_t)RKV_SWEEP_INTERVAL_S_MAX * 1000u + 1u, 0);
}

Test(sweep, init_with_grace_over_the_maximum_aborts, .signal = SIGABRT)
{
    teardown();
    sweep_init(&sw, 1, (uint64_t)RKV_TOMBSTONE_GRACE_S_MAX * 1000u + 1u);
}

Test(sweep, step_before_init_aborts, .signal = SIGABRT)
{
    struct sweep *fresh = calloc(1, sizeof *fresh);
    cr_assert_not_null(fresh);
    struct engine_shard *s = sh;
    dir_remove(); /* the abort below skips the suite's fini */
    sweep_step(fresh, s, NULL, T0_MS);
}
