/* Tests of the local replica semantics (storage/kv.h): versions, conditional puts, TTL and
 * tombstones, and timestamps that only grow. Each test gets an engine with one shard in a
 * fresh directory under /tmp, closed and removed by the suite's fini. Time is passed in as
 * now_ms: nothing sleeps. Expiry boundary: a record with expiry_ms E is visible at E - 1
 * and hidden at E (a TTL of t seconds keeps a value for exactly t * 1000 ms). */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "core/limits.h"
#include "tests/support/tmpdir.h"
#include "storage/engine.h"
#include "storage/kv.h"

#define ORIGIN 0x5eedu
#define TOKEN 0x1234567890abcdefull
#define T0_MS 1700000000000ull /* a plausible wall clock, in ms */

static char test_dir[64];
static struct engine *eng;
static struct engine_shard *sh;
static struct hlc clk;

static void setup(void)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/rkv_kv_test_XXXXXX");
    cr_assert_not_null(mkdtemp(test_dir));
    struct engine_config cfg = { .dir = test_dir, .node_id = "kv", .shard_count = 1,
                                 .cache_bytes = RKV_WT_CACHE_BYTES_MIN };
    cr_assert_eq(engine_open(&cfg, &eng), RKV_OK);
    cr_assert_eq(engine_shard_open(eng, 0, &sh), RKV_OK);
    hlc_init(&clk);
}

static void teardown(void)
{
    if (sh != NULL)
        engine_shard_close(sh);
    if (eng != NULL)
        engine_close(eng);
    test_dir_remove(test_dir);
}

TestSuite(kv, .init = setup, .fini = teardown);

static struct kv_put_args put_args(const char *key, const char *value)
{
    return (struct kv_put_args){
        .token = TOKEN,
        .key = (const uint8_t *)key,
        .key_bytes = strlen(key),
        .value = (const uint8_t *)value,
        .value_bytes = (uint32_t)strlen(value),
        .origin = ORIGIN,
    };
}

static struct kv_result put_ok(uint64_t now_ms, const char *key, const char *value)
{
    struct kv_put_args a = put_args(key, value);
    struct kv_result r;
    cr_assert_eq(kv_put(sh, NULL, &clk, now_ms, &a, &r), RKV_OK);
    return r;
}

static enum rkv_err put_if(uint64_t now_ms, const char *key, const char *value, uint64_t if_version,
                           struct kv_result *r)
{
    struct kv_put_args a = put_args(key, value);
    a.conditional = true;
    a.if_version = if_version;
    return kv_put(sh, NULL, &clk, now_ms, &a, r);
}

static struct kv_result put_ttl_ok(uint64_t now_ms, const char *key, const char *value, uint32_t ttl_s)
{
    struct kv_put_args a = put_args(key, value);
    a.ttl_s = ttl_s;
    struct kv_result r;
    cr_assert_eq(kv_put(sh, NULL, &clk, now_ms, &a, &r), RKV_OK);
    return r;
}

static struct kv_result delete_ok(uint64_t now_ms, const char *key)
{
    struct kv_result r;
    cr_assert_eq(kv_delete(sh, NULL, &clk, now_ms, TOKEN, (const uint8_t *)key, strlen(key), ORIGIN, &r), RKV_OK);
    return r;
}

static enum rkv_err get(uint64_t now_ms, const char *key, struct record_view *v)
{
    return kv_get(sh, NULL, now_ms, TOKEN, (const uint8_t *)key, strlen(key), v);
}

/* The raw stored record, tombstones and expired ones included. */
static struct record_hdr stored_hdr(const char *key)
{
    struct record_view v;
    cr_assert_eq(engine_read(sh, TOKEN, (const uint8_t *)key, strlen(key), &v), RKV_OK);
    return v.hdr;
}

/* ---- versions ---- */

Test(kv, versions_of_successive_puts_are_1_2_3)
{
    cr_assert_eq(put_ok(T0_MS, "k", "a").version, 1u);
    cr_assert_eq(put_ok(T0_MS, "k", "b").version, 2u);
    cr_assert_eq(put_ok(T0_MS, "k", "c").version, 3u);
    cr_assert_eq(put_ok(T0_MS, "other", "x").version, 1u);
}

Test(kv, get_returns_the_last_value_with_its_version_timestamp_and_origin)
{
    put_ok(T0_MS, "k", "first");
    struct kv_result r = put_ok(T0_MS + 1, "k", "second");
    struct record_view v;
    cr_assert_eq(get(T0_MS + 2, "k", &v), RKV_OK);
    cr_assert_eq(v.hdr.version, r.version);
    cr_assert_eq(v.hdr.timestamp, r.timestamp);
    cr_assert_eq(v.hdr.origin, ORIGIN);
    cr_assert_eq(v.hdr.expiry_ms, 0u);
    cr_assert_eq(v.value_bytes, 6u);
    cr_assert_eq(memcmp(v.value, "second", 6), 0);
}

Test(kv, get_of_a_key_never_written_is_not_found)
{
    struct record_view v;
    cr_assert_eq(get(T0_MS, "k", &v), RKV_NOT_FOUND);
}

Test(kv, delete_hides_the_key_and_stores_a_tombstone_one_version_up)
{
    put_ok(T0_MS, "k", "a");
    put_ok(T0_MS, "k", "b");
    struct kv_result d = delete_ok(T0_MS, "k");
    cr_assert_eq(d.version, 3u);
    struct record_view v;
    cr_assert_eq(get(T0_MS, "k", &v), RKV_NOT_FOUND);
    struct record_hdr h = stored_hdr("k");
    cr_assert_eq(h.flags, REC_F_TOMBSTONE);
    cr_assert_eq(h.version, 3u);
    cr_assert_eq(h.timestamp, d.timestamp);
    cr_assert_eq(h.origin, ORIGIN);
    cr_assert_eq(h.expiry_ms, T0_MS, "a tombstone's expiry_ms is when the key died");
}

Test(kv, tombstone_records_the_time_of_its_delete_as_died_ms)
{
    put_ttl_ok(T0_MS, "k", "a", 60);
    delete_ok(T0_MS + 1234, "k");
    struct record_hdr h = stored_hdr("k");
    cr_assert_eq(h.flags, REC_F_TOMBSTONE);
    cr_assert_eq(h.expiry_ms, T0_MS + 1234, "died at the delete, not at the value's expiry");
    delete_ok(T0_MS + 5000, "k");
    cr_assert_eq(stored_hdr("k").expiry_ms, T0_MS + 5000, "a second delete moves the death forward");
}

Test(kv, delete_at_time_0_stores_died_ms_0)
{
    delete_ok(0, "k");
    struct record_hdr h = stored_hdr("k");
    cr_assert_eq(h.flags, REC_F_TOMBSTONE);
    cr_assert_eq(h.expiry_ms, 0u);
}

Test(kv, delete_of_a_missing_key_writes_a_tombstone_of_version_1)
{
    struct kv_result d = delete_ok(T0_MS, "k");
    cr_assert_eq(d.version, 1u);
    cr_assert_eq(stored_hdr("k").flags, REC_F_TOMBSTONE);
    cr_assert_eq(stored_hdr("k").expiry_ms, T0_MS);
    cr_assert_eq(delete_ok(T0_MS, "k").version, 2u);
}

Test(kv, put_after_delete_continues_the_version)
{
    put_ok(T0_MS, "k", "a");
    put_ok(T0_MS, "k", "b");
    delete_ok(T0_MS, "k");
    cr_assert_eq(put_ok(T0_MS, "k", "c").version, 4u);
    struct record_view v;
    cr_assert_eq(get(T0_MS, "k", &v), RKV_OK);
    cr_assert_eq(v.hdr.flags, 0);
}

Test(kv, put_after_expiry_continues_the_version)
{
    put_ttl_ok(T0_MS, "k", "a", 1);
    cr_assert_eq(put_ok(T0_MS + 5000, "k", "b").version, 2u);
}

/* ---- conditional put ---- */

Test(kv, conditional_put_with_the_current_version_succeeds)
{
    put_ok(T0_MS, "k", "a");
    struct kv_result r;
    cr_assert_eq(put_if(T0_MS, "k", "b", 1, &r), RKV_OK);
    cr_assert_eq(r.version, 2u);
    cr_assert_eq(put_if(T0_MS, "k", "c", 2, &r), RKV_OK);
    cr_assert_eq(r.version, 3u);
}

Test(kv, conditional_put_with_another_version_fails_reports_the_current_one_and_writes_nothing)
{
    struct kv_result first = put_ok(T0_MS, "k", "a");
    put_ok(T0_MS, "k", "b");
    const uint64_t wrong[] = { 1, 3, UINT64_MAX };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        struct kv_result r;
        cr_assert_eq(put_if(T0_MS, "k", "c", wrong[i], &r), RKV_VERSION_MISMATCH, "if_version %lu",
                     (unsigned long)wrong[i]);
        cr_assert_eq(r.version, 2u);
        cr_assert_eq(r.timestamp, 0u);
    }
    struct record_view v;
    cr_assert_eq(get(T0_MS, "k", &v), RKV_OK);
    cr_assert_eq(v.hdr.version, 2u);
    cr_assert_gt(v.hdr.timestamp, first.timestamp);
    cr_assert_eq(memcmp(v.value, "b", 1), 0);
}

Test(kv, conditional_put_with_0_succeeds_on_a_missing_key)
{
    struct kv_result r;
    cr_assert_eq(put_if(T0_MS, "k", "a", 0, &r), RKV_OK);
    cr_assert_eq(r.version, 1u);
}

Test(kv, conditional_put_with_0_fails_on_a_live_key)
{
    put_ok(T0_MS, "k", "a");
    struct kv_result r;
    cr_assert_eq(put_if(T0_MS, "k", "b", 0, &r), RKV_VERSION_MISMATCH);
    cr_assert_eq(r.version, 1u);
}

Test(kv, conditional_put_with_0_succeeds_after_delete_and_continues_the_version)
{
    put_ok(T0_MS, "k", "a");
    delete_ok(T0_MS, "k");
    struct kv_result r;
    cr_assert_eq(put_if(T0_MS, "k", "b", 2, &r), RKV_VERSION_MISMATCH, "a tombstone's version is not current");
    cr_assert_eq(r.version, 0u);
    cr_assert_eq(put_if(T0_MS, "k", "b", 0, &r), RKV_OK);
    cr_assert_eq(r.version, 3u);
}

Test(kv, conditional_put_with_0_succeeds_after_expiry_and_not_before)
{
    put_ttl_ok(T0_MS, "k", "a", 10);
    struct kv_result r;
    cr_assert_eq(put_if(T0_MS + 9999, "k", "b", 0, &r), RKV_VERSION_MISMATCH);
    cr_assert_eq(r.version, 1u);
    cr_assert_eq(put_if(T0_MS + 10000, "k", "b", 1, &r), RKV_VERSION_MISMATCH, "an expired version is not current");
    cr_assert_eq(r.version, 0u);
    cr_assert_eq(put_if(T0_MS + 10000, "k", "b", 0, &r), RKV_OK);
    cr_assert_eq(r.version, 2u);
}

/* ---- TTL ---- */

Test(kv, ttl_is_stored_as_absolute_expiry_ms)
{
    put_ttl_ok(T0_MS, "k", "a", 5);
    cr_assert_eq(stored_hdr("k").expiry_ms, T0_MS + 5000);
}

Test(kv, ttl_hides_the_value_from_expiry_ms_on_and_not_a_millisecond_before)
{
    put_ttl_ok(T0_MS, "k", "a", 5);
    struct record_view v;
    cr_assert_eq(get(T0_MS, "k", &v), RKV_OK);
    cr_assert_eq(get(T0_MS + 4999, "k", &v), RKV_OK);
    cr_assert_eq(v.hdr.expiry_ms, T0_MS + 5000);
    cr_assert_eq(get(T0_MS + 5000, "k", &v), RKV_NOT_FOUND);
    cr_assert_null(v.value);
    cr_assert_eq(get(T0_MS + 5001, "k", &v), RKV_NOT_FOUND);
    /* Expired, not gone: the record stays until the sweep turns it into a tombstone. */
    cr_assert_eq(stored_hdr("k").version, 1u);
}

Test(kv, ttl_of_1_second_lasts_1000_ms)
{
    put_ttl_ok(T0_MS, "k", "a", 1);
    struct record_view v;
    cr_assert_eq(get(T0_MS + 999, "k", &v), RKV_OK);
    cr_assert_eq(get(T0_MS + 1000, "k", &v), RKV_NOT_FOUND);
}

Test(kv, ttl_of_the_maximum_is_stored_exactly)
{
    put_ttl_ok(T0_MS, "k", "a", RKV_TTL_S_MAX);
    cr_assert_eq(stored_hdr("k").expiry_ms, T0_MS + (uint64_t)RKV_TTL_S_MAX * 1000u);
    struct record_view v;
    cr_assert_eq(get(T0_MS + (uint64_t)RKV_TTL_S_MAX * 1000u - 1, "k", &v), RKV_OK);
}

Test(kv, ttl_0_never_expires)
{
    put_ttl_ok(T0_MS, "k", "a", 0);
    cr_assert_eq(stored_hdr("k").expiry_ms, 0u);
    struct record_view v;
    cr_assert_eq(get(UINT64_MAX, "k", &v), RKV_OK);
}

Test(kv, put_without_ttl_over_a_ttl_value_clears_the_expiry)
{
    put_ttl_ok(T0_MS, "k", "a", 5);
    put_ok(T0_MS + 1, "k", "b");
    struct record_view v;
    cr_assert_eq(get(T0_MS + 10000, "k", &v), RKV_OK);
    cr_assert_eq(v.hdr.expiry_ms, 0u);
}

/* ---- timestamps ---- */

Test(kv, timestamps_of_one_key_increase_when_the_wall_clock_goes_back)
{
    uint64_t now[] = { T0_MS, T0_MS - 1000, T0_MS - 1000, T0_MS - 5000, T0_MS + 1 };
    uint64_t last = 0;
    for (size_t i = 0; i < sizeof now / sizeof now[0]; i++) {
        struct kv_result r = (i == 3) ? delete_ok(now[i], "k") : put_ok(now[i], "k", "v");
        cr_assert_gt(r.timestamp, last, "write %zu", i);
        last = r.timestamp;
    }
}

Test(kv, timestamp_of_a_write_is_the_wall_clock_when_it_is_ahead)
{
    struct kv_result r = put_ok(T0_MS, "k", "v");
    cr_assert_eq(r.timestamp, hlc_make(T0_MS, 0));
}

Test(kv, write_after_a_restart_with_a_clock_behind_stamps_above_the_stored_record)
{
    struct kv_result before = put_ok(T0_MS, "k", "v");
    hlc_init(&clk); /* a fresh clock, as after a restart, and a wall clock 10 s behind */
    struct kv_result after = put_ok(T0_MS - 10000, "k", "w");
    cr_assert_gt(after.timestamp, before.timestamp);
    hlc_init(&clk);
    struct kv_result del = delete_ok(T0_MS - 20000, "k");
    cr_assert_gt(del.timestamp, after.timestamp);
}

/* ---- limits ---- */

Test(kv, value_of_0_bytes_is_stored_and_read_back)
{
    put_ok(T0_MS, "k", "");
    struct record_view v;
    cr_assert_eq(get(T0_MS, "k", &v), RKV_OK);
    cr_assert_eq(v.value_bytes, 0u);
    cr_assert_eq(v.hdr.flags, 0, "an empty value is not a tombstone");
}

Test(kv, value_of_1_mib_and_key_of_256_bytes_are_stored_and_read_back)
{
    uint8_t key[RKV_KEY_BYTES_MAX];
    memset(key, 0xff, sizeof key);
    uint8_t *value = malloc(RKV_VALUE_BYTES_MAX);
    cr_assert_not_null(value);
    for (uint32_t i = 0; i < RKV_VALUE_BYTES_MAX; i++)
        value[i] = (uint8_t)(i ^ (i >> 8));
    struct kv_put_args a = { .token = TOKEN, .key = key, .key_bytes = sizeof key, .value = value,
                             .value_bytes = RKV_VALUE_BYTES_MAX, .origin = ORIGIN };
    struct kv_result r;
    cr_assert_eq(kv_put(sh, NULL, &clk, T0_MS, &a, &r), RKV_OK);
    cr_assert_eq(kv_put(sh, NULL, &clk, T0_MS, &a, &r), RKV_OK);
    cr_assert_eq(r.version, 2u);
    struct record_view v;
    cr_assert_eq(kv_get(sh, NULL, T0_MS, TOKEN, key, sizeof key, &v), RKV_OK);
    cr_assert_eq(v.value_bytes, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(memcmp(v.value, value, RKV_VALUE_BYTES_MAX), 0);
    free(value);
}

/* ---- stored records that cannot be continued ---- */

Test(kv, stored_version_with_no_successor_is_corrupt_not_a_crash)
{
    struct record_hdr h = { .timestamp = hlc_make(T0_MS, 0), .version = UINT64_MAX };
    cr_assert_eq(engine_write(sh, TOKEN, (const uint8_t *)"k", 1, &h, NULL, 0), RKV_OK);
    struct kv_put_args a = put_args("k", "v");
    struct kv_result r;
    cr_assert_eq(kv_put(sh, NULL, &clk, T0_MS, &a, &r), RKV_CORRUPT);
    cr_assert_eq(kv_delete(sh, NULL, &clk, T0_MS, TOKEN, (const uint8_t *)"k", 1, ORIGIN, &r), RKV_CORRUPT);
    cr_assert_eq(stored_hdr("k").version, UINT64_MAX);
}

Test(kv, stored_timestamp_with_no_successor_is_corrupt_not_a_crash)
{
    struct record_hdr h = { .timestamp = UINT64_MAX, .version = 1 };
    cr_assert_eq(engine_write(sh, TOKEN, (const uint8_t *)"k", 1, &h, NULL, 0), RKV_OK);
    struct kv_put_args a = put_args("k", "v");
    struct kv_result r;
    cr_assert_eq(kv_put(sh, NULL, &clk, T0_MS, &a, &r), RKV_CORRUPT);
    cr_assert_eq(kv_delete(sh, NULL, &clk, T0_MS, TOKEN, (const uint8_t *)"k", 1, ORIGIN, &r), RKV_CORRUPT);
}
