/* Tests of the replica side of replication (storage/kv.h: kv_apply(), kv_read_record(),
 * kv_stamp()): last-write-wins by (timestamp, origin) in both directions, ties broken by
 * origin, idempotent re-apply, fencing that reports the stored timestamp and version and
 * writes nothing, the skew bound at its edge, tombstones against older and newer writes,
 * the sweeper's tombstones against older writes, and a seeded model run showing that a shard
 * with a small row cache answers exactly as one without. Every scenario test runs twice:
 * without a row cache and with one (the _cached twin), and after each step the cache entry,
 * when there is one, must equal storage (the coherence rule of storage/rowcache.h).
 * Each test gets an engine with two shards in a fresh directory under /tmp, closed and
 * removed by the suite's fini. Time is passed in as now_ms: nothing sleeps. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hlc.h"
#include "core/limits.h"
#include "tests/support/tmpdir.h"
#include "storage/engine.h"
#include "storage/kv.h"
#include "storage/rowcache.h"
#include "storage/sweep.h"

#define TOKEN 0x0123456789abcdefull
#define T0_MS 1700000000000ull /* a plausible wall clock, in ms */
#define SKEW_MS RKV_CLOCK_SKEW_MS_DEFAULT
#define ORIGIN_A 0x0000a000u
#define ORIGIN_B 0x0000b000u

static char test_dir[64];
static struct engine *eng;
static struct engine_shard *sh;  /* shard 0: the scenario tests, and the model's uncached side */
static struct engine_shard *sh2; /* shard 1: the model's cached side */
static struct hlc clk;

static void setup(void)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/rkv_kvrep_test_%ld_XXXXXX", (long)getpid());
    cr_assert_not_null(mkdtemp(test_dir));
    struct engine_config cfg = { .dir = test_dir, .node_id = "kvrep", .shard_count = 2,
                                 .cache_bytes = RKV_WT_CACHE_BYTES_MIN };
    cr_assert_eq(engine_open(&cfg, &eng), RKV_OK);
    cr_assert_eq(engine_shard_open(eng, 0, &sh), RKV_OK);
    cr_assert_eq(engine_shard_open(eng, 1, &sh2), RKV_OK);
    hlc_init(&clk);
}

static void teardown(void)
{
    if (sh != NULL)
        engine_shard_close(sh);
    if (sh2 != NULL)
        engine_shard_close(sh2);
    if (eng != NULL)
        engine_close(eng);
    sh = NULL;
    sh2 = NULL;
    eng = NULL;
    test_dir_remove(test_dir);
}

TestSuite(kv_replica, .init = setup, .fini = teardown, .timeout = 300);

static struct rowcache *cache_new(uint64_t budget_bytes)
{
    struct rowcache_config cfg = { .budget_bytes = budget_bytes, .value_bytes_max = RKV_VALUE_BYTES_MAX };
    struct rowcache *rc = NULL;
    cr_assert_eq(rowcache_create(&cfg, &rc), RKV_OK);
    return rc;
}

/* Each scenario is a body taking the cache (NULL or not) and two tests that run it. */
#define REPLICA_TEST(name)                                                       \
    static void name##_body(struct rowcache *rc);                               \
    Test(kv_replica, name) { name##_body(NULL); }                               \
    Test(kv_replica, name##_cached)                                             \
    {                                                                           \
        struct rowcache *rc = cache_new(1u << 20);                              \
        name##_body(rc);                                                        \
        rowcache_check(rc);                                                     \
        rowcache_destroy(rc);                                                   \
    }                                                                           \
    static void name##_body(struct rowcache *rc)

static struct record_hdr live(uint64_t ts, uint32_t origin, uint64_t version)
{
    return (struct record_hdr){ .origin = origin, .timestamp = ts, .version = version };
}

static struct record_hdr tomb(uint64_t ts, uint32_t origin, uint64_t version, uint64_t died_ms)
{
    return (struct record_hdr){ .flags = REC_F_TOMBSTONE, .origin = origin, .timestamp = ts, .version = version,
                                .expiry_ms = died_ms };
}

/* The cache entry of the key, when there is one, is exactly what storage holds. */
static void check_coherent(struct engine_shard *s, struct rowcache *rc, uint64_t token, const uint8_t *key,
                           size_t key_bytes)
{
    if (rc == NULL || key_bytes == 0 || key_bytes > RKV_KEY_BYTES_MAX)
        return; /* no cache, or a key refused before the cache was asked */
    struct record_view cv;
    enum rowcache_hit hit = rowcache_lookup(rc, token, key, key_bytes, &cv);
    if (hit == ROWCACHE_MISS)
        return;
    struct record_view sv;
    enum rkv_err err = engine_read(s, token, key, key_bytes, &sv);
    if (hit == ROWCACHE_ABSENT) {
        cr_assert_eq(err, RKV_NOT_FOUND, "cached absent, storage has a record");
        return;
    }
    cr_assert_eq(err, RKV_OK, "cached record, storage has none");
    cr_assert_eq(cv.hdr.flags, sv.hdr.flags);
    cr_assert_eq(cv.hdr.origin, sv.hdr.origin);
    cr_assert_eq(cv.hdr.timestamp, sv.hdr.timestamp);
    cr_assert_eq(cv.hdr.version, sv.hdr.version);
    cr_assert_eq(cv.hdr.expiry_ms, sv.hdr.expiry_ms);
    cr_assert_eq(cv.value_bytes, sv.value_bytes);
    cr_assert(cv.value_bytes == 0 || memcmp(cv.value, sv.value, cv.value_bytes) == 0);
}

static enum rkv_err apply(struct rowcache *rc, uint64_t now_ms, const char *key, struct record_hdr hdr,
                          const char *value, struct kv_apply_result *res)
{
    struct kv_apply_args a = {
        .token = TOKEN,
        .key = (const uint8_t *)key,
        .key_bytes = strlen(key),
        .hdr = hdr,
        .value = (const uint8_t *)value,
        .value_bytes = value == NULL ? 0 : (uint32_t)strlen(value),
        .max_skew_ms = SKEW_MS,
    };
    enum rkv_err err = kv_apply(sh, rc, &clk, now_ms, &a, res);
    check_coherent(sh, rc, TOKEN, a.key, a.key_bytes);
    return err;
}

static struct kv_apply_result apply_ok(struct rowcache *rc, uint64_t now_ms, const char *key, struct record_hdr hdr,
                                       const char *value)
{
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, now_ms, key, hdr, value, &res), RKV_OK);
    cr_assert_not(res.duplicate);
    cr_assert_eq(res.timestamp, hdr.timestamp);
    cr_assert_eq(res.version, hdr.version);
    cr_assert_eq(res.origin, hdr.origin);
    return res;
}

/* The record a coordinator reads (through the cache), compared with the expected header and
 * value. */
static void expect_record(struct rowcache *rc, const char *key, struct record_hdr want, const char *value)
{
    struct record_view v;
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)key, strlen(key), &v), RKV_OK);
    cr_assert_eq(v.hdr.flags, want.flags);
    cr_assert_eq(v.hdr.origin, want.origin);
    cr_assert_eq(v.hdr.timestamp, want.timestamp);
    cr_assert_eq(v.hdr.version, want.version);
    cr_assert_eq(v.hdr.expiry_ms, want.expiry_ms);
    size_t n = value == NULL ? 0 : strlen(value);
    cr_assert_eq(v.value_bytes, n);
    cr_assert(n == 0 || memcmp(v.value, value, n) == 0);
    /* And storage itself holds it (the cache may have answered). */
    cr_assert_eq(engine_read(sh, TOKEN, (const uint8_t *)key, strlen(key), &v), RKV_OK);
    cr_assert_eq(v.hdr.timestamp, want.timestamp);
    cr_assert_eq(v.hdr.version, want.version);
    cr_assert_eq(v.hdr.flags, want.flags);
}

#define TS(ms_after_t0, logical) hlc_make(T0_MS + (ms_after_t0), (logical))

/* ---- last-write-wins ---- */

REPLICA_TEST(a_newer_write_replaces_an_older_one)
{
    apply_ok(rc, T0_MS, "k", live(TS(0, 0), ORIGIN_A, 1), "old");
    apply_ok(rc, T0_MS, "k", live(TS(10, 0), ORIGIN_B, 2), "new");
    expect_record(rc, "k", live(TS(10, 0), ORIGIN_B, 2), "new");
}

REPLICA_TEST(an_older_write_is_fenced_with_the_stored_timestamp_and_version_and_writes_nothing)
{
    apply_ok(rc, T0_MS, "k", live(TS(10, 0), ORIGIN_A, 2), "new");
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", live(TS(0, 5), ORIGIN_B, 3), "old", &res), RKV_FENCED);
    cr_assert_eq(res.timestamp, TS(10, 0));
    cr_assert_eq(res.version, 2u);
    cr_assert_eq(res.origin, ORIGIN_A);
    cr_assert_not(res.duplicate);
    expect_record(rc, "k", live(TS(10, 0), ORIGIN_A, 2), "new");
}

REPLICA_TEST(equal_timestamps_are_broken_by_origin_in_both_directions)
{
    apply_ok(rc, T0_MS, "k", live(TS(5, 1), ORIGIN_A, 1), "a");
    /* B > A: B's write of the same timestamp wins. */
    apply_ok(rc, T0_MS, "k", live(TS(5, 1), ORIGIN_B, 2), "b");
    /* A's write of that timestamp now loses, whatever its version. */
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", live(TS(5, 1), ORIGIN_A, 9), "a2", &res), RKV_FENCED);
    cr_assert_eq(res.timestamp, TS(5, 1));
    cr_assert_eq(res.origin, ORIGIN_B);
    cr_assert_eq(res.version, 2u);
    expect_record(rc, "k", live(TS(5, 1), ORIGIN_B, 2), "b");
}

REPLICA_TEST(the_same_timestamp_and_origin_with_another_version_is_fenced_not_a_duplicate)
{
    apply_ok(rc, T0_MS, "k", live(TS(5, 0), ORIGIN_A, 4), "x");
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", live(TS(5, 0), ORIGIN_A, 5), "y", &res), RKV_FENCED);
    cr_assert_not(res.duplicate);
    cr_assert_eq(res.version, 4u);
    expect_record(rc, "k", live(TS(5, 0), ORIGIN_A, 4), "x");
}

REPLICA_TEST(the_same_timestamp_origin_and_version_with_other_contents_is_fenced_not_a_duplicate)
{
    /* Two clocks stamping under one origin (two shards of a node, the same ms) can make two
     * different writes with one (timestamp, origin, version): the second must be re-stamped,
     * not acknowledged as already applied. */
    struct record_hdr h = live(TS(5, 0), ORIGIN_A, 4);
    apply_ok(rc, T0_MS, "k", h, "x");
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", h, "y", &res), RKV_FENCED, "other value bytes");
    cr_assert_eq(apply(rc, T0_MS, "k", h, "xx", &res), RKV_FENCED, "other value length");
    struct record_hdr e = h;
    e.expiry_ms = T0_MS + 1000u;
    cr_assert_eq(apply(rc, T0_MS, "k", e, "x", &res), RKV_FENCED, "other expiry");
    cr_assert_eq(apply(rc, T0_MS, "k", tomb(TS(5, 0), ORIGIN_A, 4, 0), NULL, &res), RKV_FENCED,
                 "a tombstone of the same stamp, the record having no expiry");
    cr_assert_not(res.duplicate);
    cr_assert_eq(res.timestamp, TS(5, 0));
    expect_record(rc, "k", h, "x");
}

REPLICA_TEST(a_swept_tombstone_from_another_replica_is_the_same_write_as_the_stored_expired_record)
{
    struct record_hdr h = live(TS(0, 0), ORIGIN_A, 2);
    h.expiry_ms = T0_MS + 1000u;
    apply_ok(rc, T0_MS, "k", h, "ttl");
    /* Another replica's sweeper made this tombstone of the same write; read repair sends it. */
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS + 2000u, "k", tomb(TS(0, 0), ORIGIN_A, 2, T0_MS + 1000u), NULL, &res), RKV_OK);
    cr_assert(res.duplicate);
    expect_record(rc, "k", h, "ttl");
    /* One that died at another time is another write of the same stamp: fenced. */
    cr_assert_eq(apply(rc, T0_MS + 2000u, "k", tomb(TS(0, 0), ORIGIN_A, 2, T0_MS + 999u), NULL, &res), RKV_FENCED);
}

REPLICA_TEST(applying_the_same_record_twice_is_ok_and_writes_once)
{
    struct record_hdr h = live(TS(1, 0), ORIGIN_A, 3);
    apply_ok(rc, T0_MS, "k", h, "v");
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", h, "v", &res), RKV_OK);
    cr_assert(res.duplicate);
    cr_assert_eq(res.timestamp, h.timestamp);
    cr_assert_eq(res.version, 3u);
    cr_assert_eq(res.origin, ORIGIN_A);
    expect_record(rc, "k", h, "v");
    /* Once a newer write is stored, the old one is fenced, not a duplicate. */
    apply_ok(rc, T0_MS, "k", live(TS(2, 0), ORIGIN_A, 4), "w");
    cr_assert_eq(apply(rc, T0_MS, "k", h, "v", &res), RKV_FENCED);
    cr_assert_not(res.duplicate);
    cr_assert_eq(res.version, 4u);
}

REPLICA_TEST(a_write_onto_nothing_is_stored_with_the_coordinators_version)
{
    struct kv_apply_result res;
    struct record_view v;
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"k", 1, &v), RKV_NOT_FOUND);
    res = apply_ok(rc, T0_MS, "k", live(TS(0, 0), ORIGIN_A, 7), "v");
    cr_assert_eq(res.version, 7u);
    expect_record(rc, "k", live(TS(0, 0), ORIGIN_A, 7), "v");
}

REPLICA_TEST(a_newer_write_with_a_lower_version_wins_and_takes_its_version)
{
    /* The replica holds version 9 of a write that lost (stamped earlier); the coordinator
     * of the newer write saw only version 3 elsewhere and chose 4. */
    apply_ok(rc, T0_MS, "k", live(TS(0, 0), ORIGIN_A, 9), "lost");
    apply_ok(rc, T0_MS, "k", live(TS(1, 0), ORIGIN_B, 4), "won");
    expect_record(rc, "k", live(TS(1, 0), ORIGIN_B, 4), "won");
    /* A local put then continues from the stored version. */
    struct kv_put_args a = { .token = TOKEN, .key = (const uint8_t *)"k", .key_bytes = 1,
                             .value = (const uint8_t *)"p", .value_bytes = 1, .origin = ORIGIN_A };
    struct kv_result r;
    cr_assert_eq(kv_put(sh, rc, &clk, T0_MS, &a, &r), RKV_OK);
    cr_assert_eq(r.version, 5u);
    cr_assert_gt(r.timestamp, TS(1, 0));
}

REPLICA_TEST(a_fenced_write_still_advances_the_clock)
{
    apply_ok(rc, T0_MS, "k", live(TS(3000, 0), ORIGIN_A, 2), "new");
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", live(TS(2000, 7), ORIGIN_B, 3), "old", &res), RKV_FENCED);
    cr_assert_eq(clk.last, TS(3000, 0), "the larger of what was seen");
    /* A write onto another key observes its timestamp even when older records are stored. */
    struct kv_apply_result r2;
    cr_assert_eq(apply(rc, T0_MS, "other", live(TS(4000, 2), ORIGIN_B, 1), "x", &r2), RKV_OK);
    cr_assert_eq(clk.last, TS(4000, 2));
}

/* ---- the skew bound ---- */

REPLICA_TEST(a_write_exactly_max_skew_ahead_is_applied)
{
    struct record_hdr h = live(TS(SKEW_MS, HLC_LOGICAL_MAX), ORIGIN_A, 1);
    apply_ok(rc, T0_MS, "k", h, "v");
    cr_assert_eq(clk.last, h.timestamp);
    expect_record(rc, "k", h, "v");
}

REPLICA_TEST(a_write_one_ms_past_max_skew_is_refused_leaving_clock_and_storage_alone)
{
    apply_ok(rc, T0_MS, "k", live(TS(0, 0), ORIGIN_A, 1), "v");
    uint64_t before = clk.last;
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", live(TS(SKEW_MS + 1u, 0), ORIGIN_B, 2), "w", &res), RKV_CLOCK_SKEW);
    cr_assert_eq(res.timestamp, 0u);
    cr_assert_eq(res.version, 0u);
    cr_assert_eq(clk.last, before);
    expect_record(rc, "k", live(TS(0, 0), ORIGIN_A, 1), "v");
    /* Onto a key with nothing stored too. */
    cr_assert_eq(apply(rc, T0_MS, "fresh", live(TS(SKEW_MS + 1u, 0), ORIGIN_B, 1), "w", &res), RKV_CLOCK_SKEW);
    struct record_view v;
    cr_assert_eq(engine_read(sh, TOKEN, (const uint8_t *)"fresh", 5, &v), RKV_NOT_FOUND);
    cr_assert_eq(clk.last, before);
    /* The same record is accepted a millisecond later. */
    apply_ok(rc, T0_MS + 1u, "k", live(TS(SKEW_MS + 1u, 0), ORIGIN_B, 2), "w");
}

/* ---- tombstones ---- */

REPLICA_TEST(a_newer_tombstone_replaces_a_live_record)
{
    apply_ok(rc, T0_MS, "k", live(TS(0, 0), ORIGIN_A, 1), "v");
    struct record_hdr t = tomb(TS(1, 0), ORIGIN_B, 2, T0_MS + 1u);
    apply_ok(rc, T0_MS, "k", t, NULL);
    expect_record(rc, "k", t, NULL);
    struct record_view v;
    cr_assert_eq(kv_get(sh, rc, T0_MS, TOKEN, (const uint8_t *)"k", 1, &v), RKV_NOT_FOUND);
}

REPLICA_TEST(an_older_tombstone_is_fenced_by_a_live_record)
{
    apply_ok(rc, T0_MS, "k", live(TS(5, 0), ORIGIN_A, 2), "v");
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", tomb(TS(4, 0), ORIGIN_B, 3, T0_MS), NULL, &res), RKV_FENCED);
    cr_assert_eq(res.timestamp, TS(5, 0));
    expect_record(rc, "k", live(TS(5, 0), ORIGIN_A, 2), "v");
}

REPLICA_TEST(an_older_write_does_not_resurrect_a_tombstone_and_a_newer_one_does)
{
    struct record_hdr t = tomb(TS(10, 0), ORIGIN_A, 5, T0_MS + 10u);
    apply_ok(rc, T0_MS, "k", t, NULL);
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", live(TS(9, 0), ORIGIN_B, 6), "zombie", &res), RKV_FENCED);
    cr_assert_eq(res.timestamp, TS(10, 0));
    cr_assert_eq(res.version, 5u);
    expect_record(rc, "k", t, NULL);
    apply_ok(rc, T0_MS, "k", live(TS(11, 0), ORIGIN_B, 6), "back");
    expect_record(rc, "k", live(TS(11, 0), ORIGIN_B, 6), "back");
    struct record_view v;
    cr_assert_eq(kv_get(sh, rc, T0_MS, TOKEN, (const uint8_t *)"k", 1, &v), RKV_OK);
}

REPLICA_TEST(a_local_delete_fences_an_older_replica_write)
{
    struct kv_result d;
    cr_assert_eq(kv_delete(sh, rc, &clk, T0_MS, TOKEN, (const uint8_t *)"k", 1, ORIGIN_A, &d), RKV_OK);
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "k", live(d.timestamp - 1u, ORIGIN_B, 9), "zombie", &res), RKV_FENCED);
    cr_assert_eq(res.timestamp, d.timestamp);
    cr_assert_eq(res.version, d.version);
    struct record_view v;
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"k", 1, &v), RKV_OK);
    cr_assert(v.hdr.flags & REC_F_TOMBSTONE);
}

/* ---- expiry and the sweeper ---- */

REPLICA_TEST(an_expired_stored_record_still_fences_older_writes)
{
    struct record_hdr h = live(TS(0, 0), ORIGIN_A, 1);
    h.expiry_ms = T0_MS + 1000u;
    apply_ok(rc, T0_MS, "k", h, "ttl");
    uint64_t later = T0_MS + 2000u;
    struct record_view v;
    cr_assert_eq(kv_get(sh, rc, later, TOKEN, (const uint8_t *)"k", 1, &v), RKV_NOT_FOUND);
    expect_record(rc, "k", h, "ttl"); /* kv_read_record returns it raw */
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, later, "k", live(TS(0, 0) - 1u, ORIGIN_B, 2), "zombie", &res), RKV_FENCED);
    cr_assert_eq(kv_get(sh, rc, later, TOKEN, (const uint8_t *)"k", 1, &v), RKV_NOT_FOUND);
}

REPLICA_TEST(an_older_write_does_not_resurrect_a_tombstone_made_by_the_sweeper)
{
    struct record_hdr h = live(TS(0, 0), ORIGIN_A, 3);
    h.expiry_ms = T0_MS + 1000u;
    apply_ok(rc, T0_MS, "k", h, "ttl");
    struct sweep *sw = calloc(1, sizeof *sw);
    cr_assert_not_null(sw);
    sweep_init(sw, 1, 60000u);
    uint64_t later = T0_MS + 1500u;
    for (int i = 0; i < 4 && sw->stats.passes_count == 0; i++)
        sweep_step(sw, sh, rc, later);
    cr_assert_eq(sw->stats.expired_count, 1u);
    /* The sweeper's tombstone keeps the write's timestamp, origin and version. */
    struct record_hdr t = tomb(TS(0, 0), ORIGIN_A, 3, T0_MS + 1000u);
    expect_record(rc, "k", t, NULL);
    check_coherent(sh, rc, TOKEN, (const uint8_t *)"k", 1);

    struct kv_apply_result res;
    struct record_view v;
    cr_assert_eq(apply(rc, later, "k", live(TS(0, 0) - 1u, ORIGIN_B, 4), "zombie", &res), RKV_FENCED);
    cr_assert_eq(res.timestamp, TS(0, 0));
    cr_assert_eq(res.version, 3u);
    cr_assert_eq(apply(rc, later, "k", live(TS(0, 0), ORIGIN_A - 1u, 4), "zombie", &res), RKV_FENCED);
    /* The expired write itself, sent again (a late read repair): already applied, and the
     * key stays dead. */
    cr_assert_eq(apply(rc, later, "k", h, "ttl", &res), RKV_OK);
    cr_assert(res.duplicate);
    expect_record(rc, "k", t, NULL);
    cr_assert_eq(kv_get(sh, rc, later, TOKEN, (const uint8_t *)"k", 1, &v), RKV_NOT_FOUND);
    /* A newer write brings the key back. */
    apply_ok(rc, later, "k", live(TS(1, 0), ORIGIN_B, 4), "new");
    cr_assert_eq(kv_get(sh, rc, later, TOKEN, (const uint8_t *)"k", 1, &v), RKV_OK);
    free(sw);
}

REPLICA_TEST(after_the_purge_nothing_is_stored_and_any_write_applies)
{
    apply_ok(rc, T0_MS, "k", tomb(TS(0, 0), ORIGIN_A, 2, T0_MS), NULL);
    struct sweep *sw = calloc(1, sizeof *sw);
    cr_assert_not_null(sw);
    sweep_init(sw, 1, 1000u);
    for (int i = 0; i < 4 && sw->stats.passes_count == 0; i++)
        sweep_step(sw, sh, rc, T0_MS + 1000u);
    cr_assert_eq(sw->stats.purged_count, 1u);
    struct record_view v;
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"k", 1, &v), RKV_NOT_FOUND);
    /* This is why the grace must outlast replica catch-up (docs/storage.md §8). */
    apply_ok(rc, T0_MS + 1000u, "k", live(TS(0, 0) - 1u, ORIGIN_B, 1), "old");
    free(sw);
}

/* ---- kv_read_record ---- */

REPLICA_TEST(read_record_returns_not_found_for_a_missing_key_with_a_zeroed_view)
{
    struct record_view v;
    memset(&v, 0xa5, sizeof v);
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"none", 4, &v), RKV_NOT_FOUND);
    cr_assert_eq(v.hdr.version, 0u);
    cr_assert_null(v.value);
}

REPLICA_TEST(read_record_returns_tombstones_with_their_timestamp_and_version)
{
    struct kv_result d;
    cr_assert_eq(kv_delete(sh, rc, &clk, T0_MS, TOKEN, (const uint8_t *)"k", 1, ORIGIN_A, &d), RKV_OK);
    struct record_view v;
    for (int i = 0; i < 2; i++) { /* the second read is a cache hit when there is a cache */
        cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"k", 1, &v), RKV_OK);
        cr_assert(v.hdr.flags & REC_F_TOMBSTONE);
        cr_assert_eq(v.hdr.timestamp, d.timestamp);
        cr_assert_eq(v.hdr.version, d.version);
        cr_assert_eq(v.hdr.origin, ORIGIN_A);
        cr_assert_eq(v.hdr.expiry_ms, T0_MS);
        cr_assert_eq(v.value_bytes, 0u);
    }
}

Test(kv_replica, read_record_fills_the_cache_and_is_then_answered_from_it)
{
    struct rowcache *rc = cache_new(1u << 20);
    apply_ok(NULL, T0_MS, "k", live(TS(0, 0), ORIGIN_A, 1), "v"); /* behind no cache */
    struct record_view v;
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"k", 1, &v), RKV_OK);
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"none", 4, &v), RKV_NOT_FOUND);
    struct rowcache_stats before;
    rowcache_stats(rc, &before);
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"k", 1, &v), RKV_OK);
    cr_assert_eq(v.hdr.version, 1u);
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"none", 4, &v), RKV_NOT_FOUND);
    struct rowcache_stats after;
    rowcache_stats(rc, &after);
    cr_assert_eq(after.hits_count, before.hits_count + 2u);
    cr_assert_eq(after.misses_count, before.misses_count);
    rowcache_destroy(rc);
}

REPLICA_TEST(read_record_of_a_corrupt_record_is_corrupt_and_apply_leaves_it_alone)
{
    const uint8_t junk[] = { 9, 9, 9 };
    cr_assert_eq(engine_test_write_raw(sh, TOKEN, (const uint8_t *)"bad", 3, junk, sizeof junk), RKV_OK);
    struct record_view v;
    cr_assert_eq(kv_read_record(sh, rc, TOKEN, (const uint8_t *)"bad", 3, &v), RKV_CORRUPT);
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "bad", live(TS(0, 0), ORIGIN_A, 1), "v", &res), RKV_CORRUPT);
    cr_assert_eq(engine_read(sh, TOKEN, (const uint8_t *)"bad", 3, &v), RKV_CORRUPT, "not overwritten");
}

REPLICA_TEST(a_stored_record_with_no_successor_is_corrupt_for_apply)
{
    struct record_hdr h = live(UINT64_MAX, ORIGIN_A, 1);
    cr_assert_eq(engine_write(sh, TOKEN, (const uint8_t *)"max", 3, &h, NULL, 0), RKV_OK);
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS, "max", live(TS(0, 0), ORIGIN_A, 2), "v", &res), RKV_CORRUPT);
    h = live(TS(0, 0), ORIGIN_A, UINT64_MAX);
    cr_assert_eq(engine_write(sh, TOKEN, (const uint8_t *)"maxv", 4, &h, NULL, 0), RKV_OK);
    cr_assert_eq(apply(rc, T0_MS, "maxv", live(TS(1, 0), ORIGIN_A, 2), "v", &res), RKV_CORRUPT);
}

/* ---- input checks ---- */

REPLICA_TEST(records_that_break_the_format_are_refused_without_touching_clock_or_storage)
{
    struct kv_apply_result res;
    uint64_t before = clk.last;
    cr_assert_eq(apply(rc, T0_MS, "k", live(TS(0, 0), ORIGIN_A, 0), "v", &res), RKV_INVALID_ARG);
    cr_assert_eq(apply(rc, T0_MS, "k", live(TS(0, 0), ORIGIN_A, UINT64_MAX), "v", &res), RKV_INVALID_ARG);
    cr_assert_eq(apply(rc, T0_MS, "k", tomb(TS(0, 0), ORIGIN_A, 1, T0_MS), "v", &res), RKV_INVALID_ARG);
    struct record_hdr odd = live(TS(0, 0), ORIGIN_A, 1);
    odd.flags = 0x02;
    cr_assert_eq(apply(rc, T0_MS, "k", odd, "v", &res), RKV_INVALID_ARG);
    cr_assert_eq(apply(rc, T0_MS, "", live(TS(0, 0), ORIGIN_A, 1), "v", &res), RKV_KEY_EMPTY);
    cr_assert_eq(clk.last, before);

    uint8_t key[RKV_KEY_BYTES_MAX + 1u];
    memset(key, 'k', sizeof key);
    struct kv_apply_args a = { .token = TOKEN, .key = key, .key_bytes = sizeof key,
                               .hdr = live(TS(0, 0), ORIGIN_A, 1), .max_skew_ms = SKEW_MS };
    cr_assert_eq(kv_apply(sh, rc, &clk, T0_MS, &a, &res), RKV_KEY_TOO_LONG);
    a.key_bytes = RKV_KEY_BYTES_MAX;
    cr_assert_eq(kv_apply(sh, rc, &clk, T0_MS, &a, &res), RKV_OK, "a key of the maximum length applies");
    a.key_bytes = 1;
    a.value = key;
    a.value_bytes = RKV_VALUE_BYTES_MAX + 1u; /* refused before a byte is read */
    cr_assert_eq(kv_apply(sh, rc, &clk, T0_MS, &a, &res), RKV_VALUE_TOO_LONG);
    a.value = NULL;
    a.value_bytes = 1;
    cr_assert_eq(kv_apply(sh, rc, &clk, T0_MS, &a, &res), RKV_INVALID_ARG);
    struct record_view v;
    cr_assert_eq(engine_read(sh, TOKEN, (const uint8_t *)"k", 1, &v), RKV_NOT_FOUND);
}

Test(kv_replica, a_value_of_the_maximum_length_applies)
{
    uint8_t *big = malloc(RKV_VALUE_BYTES_MAX);
    cr_assert_not_null(big);
    memset(big, 'v', RKV_VALUE_BYTES_MAX);
    struct kv_apply_args a = { .token = TOKEN, .key = (const uint8_t *)"big", .key_bytes = 3,
                               .hdr = live(TS(0, 0), ORIGIN_A, 1), .value = big,
                               .value_bytes = RKV_VALUE_BYTES_MAX, .max_skew_ms = SKEW_MS };
    struct kv_apply_result res;
    cr_assert_eq(kv_apply(sh, NULL, &clk, T0_MS, &a, &res), RKV_OK);
    struct record_view v;
    cr_assert_eq(kv_read_record(sh, NULL, TOKEN, (const uint8_t *)"big", 3, &v), RKV_OK);
    cr_assert_eq(v.value_bytes, RKV_VALUE_BYTES_MAX);
    free(big);
}

/* ---- kv_stamp: the coordinator's timestamps ---- */

Test(kv_replica, stamp_is_above_the_clock_and_above_the_floor)
{
    uint64_t ts;
    cr_assert_eq(kv_stamp(&clk, T0_MS, 0, SKEW_MS, &ts), RKV_OK);
    cr_assert_eq(ts, TS(0, 0));
    cr_assert_eq(kv_stamp(&clk, T0_MS, 0, SKEW_MS, &ts), RKV_OK);
    cr_assert_eq(ts, TS(0, 1));
    cr_assert_eq(kv_stamp(&clk, T0_MS, TS(2000, 4), SKEW_MS, &ts), RKV_OK);
    cr_assert_eq(ts, TS(2000, 5));
    cr_assert_eq(kv_stamp(&clk, T0_MS + 3000u, TS(100, 0), SKEW_MS, &ts), RKV_OK);
    cr_assert_eq(ts, TS(3000, 0), "a floor below the clock changes nothing");
    /* A floor whose logical counter is full carries into the next ms. */
    cr_assert_eq(kv_stamp(&clk, T0_MS, TS(4000, HLC_LOGICAL_MAX), SKEW_MS, &ts), RKV_OK);
    cr_assert_eq(ts, TS(4001, 0));
}

Test(kv_replica, stamp_over_a_floor_past_max_skew_is_refused_and_leaves_the_clock_alone)
{
    uint64_t ts = 1;
    cr_assert_eq(kv_stamp(&clk, T0_MS, 0, SKEW_MS, &ts), RKV_OK);
    uint64_t before = clk.last;
    cr_assert_eq(kv_stamp(&clk, T0_MS, TS(SKEW_MS + 1u, 0), SKEW_MS, &ts), RKV_CLOCK_SKEW);
    cr_assert_eq(ts, 0u);
    cr_assert_eq(clk.last, before);
    cr_assert_eq(kv_stamp(&clk, T0_MS, UINT64_MAX, UINT64_MAX, &ts), RKV_CLOCK_SKEW);
    cr_assert_eq(kv_stamp(&clk, T0_MS, TS(SKEW_MS, 9), SKEW_MS, &ts), RKV_OK);
    cr_assert_eq(ts, TS(SKEW_MS, 10));
}

/* The fencing round of DESIGN §3 with two clocks: a replica holds a write stamped by a node
 * whose clock runs 800 ms ahead; a later write from a coordinator with the slower clock is
 * fenced, re-stamped above the reported timestamp, and then wins. */
REPLICA_TEST(a_fenced_write_restamped_above_the_reported_timestamp_wins)
{
    struct hlc fast, slow;
    hlc_init(&fast);
    hlc_init(&slow);
    uint64_t t1 = hlc_tick(&fast, T0_MS + 800u);
    apply_ok(rc, T0_MS, "k", live(t1, ORIGIN_B, 1), "first");
    /* Acknowledged; then, 100 ms later in real time, the slow node coordinates a write. */
    uint64_t t2;
    cr_assert_eq(kv_stamp(&slow, T0_MS + 100u, 0, SKEW_MS, &t2), RKV_OK);
    cr_assert_lt(t2, t1);
    struct kv_apply_result res;
    cr_assert_eq(apply(rc, T0_MS + 100u, "k", live(t2, ORIGIN_A, 2), "second", &res), RKV_FENCED);
    cr_assert_eq(res.timestamp, t1);
    uint64_t t3;
    cr_assert_eq(kv_stamp(&slow, T0_MS + 100u, res.timestamp, SKEW_MS, &t3), RKV_OK);
    cr_assert_gt(t3, t1);
    apply_ok(rc, T0_MS + 100u, "k", live(t3, ORIGIN_A, 2), "second");
    expect_record(rc, "k", live(t3, ORIGIN_A, 2), "second");
}

/* ---- the model run: the same sequence on a shard without a cache and on one with a small
 * cache, both checked against a model of the stored headers ---- */

#define MODEL_KEYS 96u
#define MODEL_VALUE_BYTES_MAX 300u
#define MODEL_SKEW_MS 2000u
#define MODEL_GRACE_MS 3000u
#define MODEL_ORIGINS 3u

static uint64_t mix64(uint64_t i)
{
    uint64_t z = i + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Key i: 1 to 24 bytes; keys 2j and 2j+1 share a token, so the cache must compare bytes. */
static size_t model_key(uint32_t i, uint8_t *out, uint64_t *token_out)
{
    size_t n = 1u + (size_t)(mix64(i) % 24u);
    for (size_t j = 0; j < n; j++)
        out[j] = (uint8_t)(mix64(i * 32u + j) & 0xff);
    out[0] = (uint8_t)i;
    *token_out = mix64(0x9000u + i / 2u);
    return n;
}

/* What storage holds for a key, as the model sees it. */
struct mrec {
    bool stored;
    struct record_hdr hdr;
    uint32_t value_bytes;
    uint8_t value[MODEL_VALUE_BYTES_MAX];
};

/* The model's "same write" (storage/kv.h, kv_apply() step 3), spelled out. */
static bool model_same_write(const struct mrec *mk, const struct kv_apply_args *a)
{
    if (!mk->stored || mk->hdr.timestamp != a->hdr.timestamp || mk->hdr.origin != a->hdr.origin ||
        mk->hdr.version != a->hdr.version || mk->hdr.expiry_ms != a->hdr.expiry_ms)
        return false;
    if (mk->hdr.flags != a->hdr.flags) /* a record and its swept tombstone */
        return mk->hdr.expiry_ms != 0;
    return mk->value_bytes == a->value_bytes && memcmp(mk->value, a->value == NULL ? mk->value : a->value,
                                                       a->value_bytes) == 0;
}

struct side {
    struct engine_shard *s;
    struct rowcache *rc;
    struct hlc clock;
    struct sweep *sw;
};

static void same_view(enum rkv_err ea, const struct record_view *a, enum rkv_err eb, const struct record_view *b,
                      uint64_t seed, uint32_t op)
{
    cr_assert_eq(ea, eb, "seed %llu op %u: %s vs %s", (unsigned long long)seed, op, rkv_err_name(ea),
                 rkv_err_name(eb));
    if (ea != RKV_OK)
        return;
    cr_assert(a->hdr.flags == b->hdr.flags && a->hdr.origin == b->hdr.origin &&
              a->hdr.timestamp == b->hdr.timestamp && a->hdr.version == b->hdr.version &&
              a->hdr.expiry_ms == b->hdr.expiry_ms, "seed %llu op %u: headers differ", (unsigned long long)seed, op);
    cr_assert_eq(a->value_bytes, b->value_bytes, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert(a->value_bytes == 0 || memcmp(a->value, b->value, a->value_bytes) == 0, "seed %llu op %u",
              (unsigned long long)seed, op);
}

static void expect_model(const struct mrec *m, enum rkv_err err, const struct record_view *v, uint64_t seed,
                         uint32_t op)
{
    if (!m->stored) {
        cr_assert_eq(err, RKV_NOT_FOUND, "seed %llu op %u: %s", (unsigned long long)seed, op, rkv_err_name(err));
        return;
    }
    cr_assert_eq(err, RKV_OK, "seed %llu op %u: %s", (unsigned long long)seed, op, rkv_err_name(err));
    cr_assert_eq(v->hdr.flags, m->hdr.flags, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(v->hdr.origin, m->hdr.origin, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(v->hdr.timestamp, m->hdr.timestamp, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(v->hdr.version, m->hdr.version, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(v->hdr.expiry_ms, m->hdr.expiry_ms, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(v->value_bytes, m->value_bytes, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert(m->value_bytes == 0 || memcmp(v->value, m->value, m->value_bytes) == 0, "seed %llu op %u",
              (unsigned long long)seed, op);
}

/* A full sweep pass on one side (interval 1 ms; time has moved on since the last). */
static void model_sweep(struct side *sd, uint64_t now_ms)
{
    uint64_t passes = sd->sw->stats.passes_count;
    for (uint32_t step = 0; step < MODEL_KEYS + 8u && sd->sw->stats.passes_count == passes; step++)
        sweep_step(sd->sw, sd->s, sd->rc, now_ms);
    cr_assert_eq(sd->sw->stats.passes_count, passes + 1u);
    cr_assert_eq(sd->sw->stats.errors_count, 0u);
}

struct model_counts {
    uint64_t applied, duplicates, fenced, skewed, puts, deletes, reads_found, sweeps;
};

static void run_replica_model(uint64_t seed, uint32_t ops_count, uint64_t budget_bytes, struct model_counts *c_out)
{
    struct side sides[2] = { { .s = sh, .rc = NULL }, { .s = sh2, .rc = cache_new(budget_bytes) } };
    for (int i = 0; i < 2; i++) {
        hlc_init(&sides[i].clock);
        sides[i].sw = calloc(1, sizeof *sides[i].sw);
        cr_assert_not_null(sides[i].sw);
        sweep_init(sides[i].sw, 1, MODEL_GRACE_MS);
    }
    struct mrec *m = calloc(MODEL_KEYS, sizeof *m);
    cr_assert_not_null(m);
    struct record_hdr *last_applied = calloc(MODEL_KEYS, sizeof *last_applied);
    cr_assert_not_null(last_applied);
    uint8_t (*last_value)[MODEL_VALUE_BYTES_MAX] = calloc(MODEL_KEYS, MODEL_VALUE_BYTES_MAX);
    cr_assert_not_null(last_value);
    uint32_t *last_value_bytes = calloc(MODEL_KEYS, sizeof *last_value_bytes);
    cr_assert_not_null(last_value_bytes);
    struct model_counts c = { 0 };
    uint64_t now_ms = T0_MS;
    uint64_t r = seed;
    uint8_t value[MODEL_VALUE_BYTES_MAX];

    for (uint32_t op = 0; op < ops_count; op++) {
        r = mix64(r);
        uint32_t i = (r & 1u) ? (uint32_t)((r >> 1) % 12u) : (uint32_t)((r >> 1) % MODEL_KEYS);
        uint8_t key[32];
        uint64_t token;
        size_t key_bytes = model_key(i, key, &token);
        struct mrec *mk = &m[i];
        uint32_t kind = (uint32_t)((r >> 32) % 100u);
        uint64_t r2 = mix64(r ^ 0x5555u);

        if (kind < 45) { /* apply: a fresh record, or one sent before (a duplicate) */
            struct kv_apply_args a = { .token = token, .key = key, .key_bytes = key_bytes,
                                       .max_skew_ms = MODEL_SKEW_MS };
            bool resend = last_applied[i].version != 0 && (r2 % 8u) == 0;
            if (resend) {
                a.hdr = last_applied[i];
                a.value = last_value[i];
                a.value_bytes = last_value_bytes[i];
            } else {
                /* Physical part from 3 s behind to 2 ms past the skew bound ahead. */
                uint64_t phys = now_ms - 3000u + (r2 >> 8) % (3000u + MODEL_SKEW_MS + 3u);
                if ((r2 >> 50) % 16u == 0) /* at the skew bound: exactly on it, 1 or 2 ms past */
                    phys = now_ms + MODEL_SKEW_MS + (r2 >> 54) % 3u;
                a.hdr.timestamp = hlc_make(phys, (uint32_t)((r2 >> 24) % 3u));
                a.hdr.origin = 1u + (uint32_t)((r2 >> 28) % MODEL_ORIGINS);
                a.hdr.version = 1u + (r2 >> 32) % 12u;
                if ((r2 >> 40) % 5u == 0) {
                    a.hdr.flags = REC_F_TOMBSTONE;
                    a.hdr.expiry_ms = now_ms - (r2 >> 44) % 500u;
                } else {
                    a.hdr.expiry_ms = (r2 >> 44) % 4u == 0 ? now_ms + 500u + (r2 >> 48) % 2500u : 0;
                    a.value_bytes = (uint32_t)((r2 >> 16) % MODEL_VALUE_BYTES_MAX);
                    for (uint32_t j = 0; j < a.value_bytes; j++)
                        value[j] = (uint8_t)(op * 3u + j);
                    a.value = value;
                }
            }
            enum rkv_err want;
            bool skewed = hlc_phys_ms(a.hdr.timestamp) > now_ms &&
                          hlc_phys_ms(a.hdr.timestamp) - now_ms > MODEL_SKEW_MS;
            bool same = model_same_write(mk, &a);
            if (skewed)
                want = RKV_CLOCK_SKEW;
            else if (same)
                want = RKV_OK;
            else if (mk->stored && !record_newer(&a.hdr, &mk->hdr))
                want = RKV_FENCED;
            else
                want = RKV_OK;
            struct kv_apply_result res[2];
            enum rkv_err err[2];
            for (int sd = 0; sd < 2; sd++)
                err[sd] = kv_apply(sides[sd].s, sides[sd].rc, &sides[sd].clock, now_ms, &a, &res[sd]);
            cr_assert_eq(err[0], want, "seed %llu op %u: apply %s, want %s", (unsigned long long)seed, op,
                         rkv_err_name(err[0]), rkv_err_name(want));
            cr_assert_eq(err[1], err[0], "seed %llu op %u", (unsigned long long)seed, op);
            cr_assert(res[0].version == res[1].version && res[0].timestamp == res[1].timestamp &&
                      res[0].origin == res[1].origin && res[0].duplicate == res[1].duplicate,
                      "seed %llu op %u: results differ", (unsigned long long)seed, op);
            if (want == RKV_FENCED) {
                cr_assert_eq(res[0].timestamp, mk->hdr.timestamp, "seed %llu op %u", (unsigned long long)seed, op);
                cr_assert_eq(res[0].version, mk->hdr.version, "seed %llu op %u", (unsigned long long)seed, op);
                c.fenced++;
            } else if (want == RKV_CLOCK_SKEW) {
                c.skewed++;
            } else if (same) {
                cr_assert(res[0].duplicate, "seed %llu op %u", (unsigned long long)seed, op);
                c.duplicates++;
            } else {
                cr_assert_not(res[0].duplicate, "seed %llu op %u", (unsigned long long)seed, op);
                mk->stored = true;
                mk->hdr = a.hdr;
                mk->value_bytes = a.value_bytes;
                if (a.value_bytes != 0)
                    memcpy(mk->value, a.value, a.value_bytes);
                c.applied++;
            }
            if (!resend && want != RKV_CLOCK_SKEW) {
                last_applied[i] = a.hdr;
                last_value_bytes[i] = a.value_bytes;
                if (a.value_bytes != 0)
                    memcpy(last_value[i], a.value, a.value_bytes);
            }
        } else if (kind < 65) { /* read_record on both sides */
            struct record_view v[2];
            enum rkv_err err[2];
            err[0] = kv_read_record(sides[0].s, sides[0].rc, token, key, key_bytes, &v[0]);
            err[1] = kv_read_record(sides[1].s, sides[1].rc, token, key, key_bytes, &v[1]);
            same_view(err[0], &v[0], err[1], &v[1], seed, op);
            expect_model(mk, err[0], &v[0], seed, op);
            if (err[0] == RKV_OK)
                c.reads_found++;
        } else if (kind < 72) { /* get on both sides */
            struct record_view v[2];
            enum rkv_err err[2];
            err[0] = kv_get(sides[0].s, sides[0].rc, now_ms, token, key, key_bytes, &v[0]);
            err[1] = kv_get(sides[1].s, sides[1].rc, now_ms, token, key, key_bytes, &v[1]);
            same_view(err[0], &v[0], err[1], &v[1], seed, op);
            bool visible = mk->stored && record_visible(&mk->hdr, now_ms);
            cr_assert_eq(err[0], visible ? RKV_OK : RKV_NOT_FOUND, "seed %llu op %u", (unsigned long long)seed, op);
        } else if (kind < 82) { /* a local put, conditional one time in four */
            uint32_t value_bytes = (uint32_t)((r2 >> 16) % MODEL_VALUE_BYTES_MAX);
            for (uint32_t j = 0; j < value_bytes; j++)
                value[j] = (uint8_t)(op + j * 5u);
            struct kv_put_args a = { .token = token, .key = key, .key_bytes = key_bytes, .value = value,
                                     .value_bytes = value_bytes, .origin = 2u,
                                     .ttl_s = (r2 >> 40) % 4u == 0 ? 1u : 0u };
            uint64_t live_version = mk->stored && record_visible(&mk->hdr, now_ms) ? mk->hdr.version : 0;
            if ((r2 >> 44) % 4u == 0) {
                a.conditional = true;
                a.if_version = (r2 >> 46) % 2u == 0 ? live_version : live_version + 1u;
            }
            struct kv_result res[2];
            enum rkv_err err[2];
            for (int sd = 0; sd < 2; sd++)
                err[sd] = kv_put(sides[sd].s, sides[sd].rc, &sides[sd].clock, now_ms, &a, &res[sd]);
            cr_assert_eq(err[0], err[1], "seed %llu op %u", (unsigned long long)seed, op);
            cr_assert_eq(res[0].version, res[1].version, "seed %llu op %u", (unsigned long long)seed, op);
            cr_assert_eq(res[0].timestamp, res[1].timestamp, "seed %llu op %u", (unsigned long long)seed, op);
            if (a.conditional && a.if_version != live_version) {
                cr_assert_eq(err[0], RKV_VERSION_MISMATCH, "seed %llu op %u", (unsigned long long)seed, op);
            } else {
                cr_assert_eq(err[0], RKV_OK, "seed %llu op %u", (unsigned long long)seed, op);
                cr_assert_eq(res[0].version, (mk->stored ? mk->hdr.version : 0) + 1u, "seed %llu op %u",
                             (unsigned long long)seed, op);
                cr_assert(!mk->stored || res[0].timestamp > mk->hdr.timestamp, "seed %llu op %u",
                          (unsigned long long)seed, op);
                mk->stored = true;
                mk->hdr = (struct record_hdr){ .origin = 2u, .timestamp = res[0].timestamp,
                                               .version = res[0].version,
                                               .expiry_ms = a.ttl_s == 0 ? 0 : now_ms + 1000u * a.ttl_s };
                mk->value_bytes = value_bytes;
                memcpy(mk->value, value, value_bytes);
                c.puts++;
            }
        } else if (kind < 88) { /* a local delete */
            struct kv_result res[2];
            enum rkv_err err[2];
            for (int sd = 0; sd < 2; sd++)
                err[sd] = kv_delete(sides[sd].s, sides[sd].rc, &sides[sd].clock, now_ms, token, key, key_bytes, 2u,
                                    &res[sd]);
            cr_assert_eq(err[0], RKV_OK, "seed %llu op %u", (unsigned long long)seed, op);
            cr_assert_eq(err[1], RKV_OK, "seed %llu op %u", (unsigned long long)seed, op);
            cr_assert_eq(res[0].version, res[1].version, "seed %llu op %u", (unsigned long long)seed, op);
            cr_assert_eq(res[0].timestamp, res[1].timestamp, "seed %llu op %u", (unsigned long long)seed, op);
            mk->stored = true;
            mk->hdr = (struct record_hdr){ .flags = REC_F_TOMBSTONE, .origin = 2u, .timestamp = res[0].timestamp,
                                           .version = res[0].version, .expiry_ms = now_ms };
            mk->value_bytes = 0;
            c.deletes++;
        } else if (kind < 97) { /* time passes: up to 1.2 s */
            now_ms += 1u + (r2 >> 8) % 1200u;
        } else { /* a full sweep pass on both sides, mirrored in the model */
            now_ms += 1u;
            model_sweep(&sides[0], now_ms);
            model_sweep(&sides[1], now_ms);
            for (uint32_t j = 0; j < MODEL_KEYS; j++) {
                struct mrec *x = &m[j];
                if (!x->stored)
                    continue;
                if (record_expired(&x->hdr, now_ms)) {
                    x->hdr.flags = REC_F_TOMBSTONE; /* same origin, timestamp, version; died at expiry */
                    x->value_bytes = 0;
                } else if (record_purgeable(&x->hdr, now_ms, MODEL_GRACE_MS)) {
                    memset(x, 0, sizeof *x);
                }
            }
            c.sweeps++;
        }
        check_coherent(sides[1].s, sides[1].rc, token, key, key_bytes);
        cr_assert_eq(sides[0].clock.last, sides[1].clock.last, "seed %llu op %u: clocks", (unsigned long long)seed,
                     op);
        if (op % 4096u == 0)
            rowcache_check(sides[1].rc);
        engine_shard_idle(sides[0].s);
        engine_shard_idle(sides[1].s);
    }

    /* Every key at the end: both sides and the model agree. */
    for (uint32_t i = 0; i < MODEL_KEYS; i++) {
        uint8_t key[32];
        uint64_t token;
        size_t key_bytes = model_key(i, key, &token);
        struct record_view v[2];
        enum rkv_err err[2];
        err[0] = kv_read_record(sides[0].s, sides[0].rc, token, key, key_bytes, &v[0]);
        err[1] = kv_read_record(sides[1].s, sides[1].rc, token, key, key_bytes, &v[1]);
        same_view(err[0], &v[0], err[1], &v[1], seed, ops_count + i);
        expect_model(&m[i], err[0], &v[0], seed, ops_count + i);
        check_coherent(sides[1].s, sides[1].rc, token, key, key_bytes);
    }
    struct rowcache_stats st;
    rowcache_stats(sides[1].rc, &st);
    cr_assert_gt(st.hits_count, 0u);
    cr_assert_gt(st.evictions_count, 0u, "the budget forced evictions");
    cr_assert_leq(st.bytes, st.budget_bytes);
    rowcache_check(sides[1].rc);
    cr_assert_gt(sides[1].sw->stats.expired_count, 0u);
    cr_assert_gt(sides[1].sw->stats.purged_count, 0u);
    printf("kv_replica model seed %llu: %u ops: %llu applied, %llu duplicates, %llu fenced, %llu skewed, "
           "%llu puts, %llu deletes, %llu sweeps; cache %llu hits, %llu evictions\n",
           (unsigned long long)seed, ops_count, (unsigned long long)c.applied, (unsigned long long)c.duplicates,
           (unsigned long long)c.fenced, (unsigned long long)c.skewed, (unsigned long long)c.puts,
           (unsigned long long)c.deletes, (unsigned long long)c.sweeps, (unsigned long long)st.hits_count,
           (unsigned long long)st.evictions_count);
    fflush(stdout);
    for (int i = 0; i < 2; i++)
        free(sides[i].sw);
    rowcache_destroy(sides[1].rc);
    free(last_value_bytes);
    free(last_value);
    free(last_applied);
    free(m);
    *c_out = c;
}

Test(kv_replica, apply_read_put_delete_with_a_small_cache_match_no_cache_and_the_model_over_20k_operations)
{
    struct model_counts c;
    /* About a third of the 96 keys fit at these value sizes. */
    run_replica_model(11, 20000, rowcache_budget_bytes_min() + (8u << 10), &c);
    cr_assert_gt(c.applied, 100u);
    cr_assert_gt(c.duplicates, 10u);
    cr_assert_gt(c.fenced, 100u);
    cr_assert_gt(c.skewed, 50u);
    cr_assert_gt(c.puts, 100u);
    cr_assert_gt(c.deletes, 10u);
    cr_assert_gt(c.sweeps, 10u);
}

Test(kv_replica, a_second_seed_with_a_tiny_cache_matches_too)
{
    struct model_counts c;
    run_replica_model(12, 20000, rowcache_budget_bytes_min() + 1024u, &c);
    cr_assert_gt(c.applied, 100u);
    cr_assert_gt(c.fenced, 100u);
}
