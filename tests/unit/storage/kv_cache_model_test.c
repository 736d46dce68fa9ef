/* A model test of storage with the row cache: long seeded random sequences of put, get,
 * delete, conditional put, time passing (TTL expiry) and full sweep passes (expired records
 * to tombstones, tombstones purged after their grace), run against kv_* with a row cache on
 * a real engine in a temporary directory, and against a plain in-memory model of ringkv's
 * semantics. Budgets are small so that eviction never stops. After every operation the
 * answers must agree (found or not, value bytes, version, timestamp), and the touched key's
 * cache entry, when there is one, must equal what storage holds (the coherence rule). Every
 * sequence is bounded; the seed of a failure is in its message. */
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

#define ORIGIN 0x5eedu
#define T0_MS 1700000000000ull
#define MODEL_KEYS 400u
#define MODEL_VALUE_BYTES_MAX 600u
#define GRACE_MS 3000u

static char test_dir[64];
static struct engine *eng;
static struct engine_shard *sh;

static void setup(void)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/rkv_kvcache_test_%ld_XXXXXX", (long)getppid());
    cr_assert_not_null(mkdtemp(test_dir));
    struct engine_config cfg = { .dir = test_dir, .node_id = "kvc", .shard_count = 1,
                                 .cache_bytes = RKV_WT_CACHE_BYTES_MIN };
    cr_assert_eq(engine_open(&cfg, &eng), RKV_OK);
    cr_assert_eq(engine_shard_open(eng, 0, &sh), RKV_OK);
}

static void teardown(void)
{
    if (sh != NULL)
        engine_shard_close(sh);
    if (eng != NULL)
        engine_close(eng);
    sh = NULL;
    eng = NULL;
    test_dir_remove(test_dir);
}

TestSuite(kv_cache_model, .init = setup, .fini = teardown, .timeout = 300);

static uint64_t mix64(uint64_t i)
{
    uint64_t z = i + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* What the model knows of one key: nothing stored, a live record (maybe with an expiry), or
 * a tombstone with the time its key died. */
enum mstate { M_NONE, M_LIVE, M_TOMB };

struct mkey {
    enum mstate state;
    uint64_t version, timestamp, expiry_ms; /* expiry_ms: live 0 never; tombstone: died_ms */
    uint32_t value_bytes;
    uint8_t value[MODEL_VALUE_BYTES_MAX];
};

struct model {
    struct mkey k[MODEL_KEYS];
    uint64_t now_ms;
};

/* Key i: 1 to 40 bytes; keys 2j and 2j+1 share a token, so the cache must compare bytes. */
static size_t key_of(uint32_t i, uint8_t *out, uint64_t *token_out)
{
    size_t n = 1u + (size_t)(mix64(i) % 40u);
    for (size_t j = 0; j < n; j++)
        out[j] = (uint8_t)(mix64(i * 64u + j) & 0xff);
    out[0] = (uint8_t)i; /* keys stay distinct even when the mix collides */
    out[n - 1u] ^= (uint8_t)(i >> 8);
    *token_out = mix64(0x70000u + i / 2u);
    return n;
}

static bool m_visible(const struct mkey *m, uint64_t now_ms)
{
    return m->state == M_LIVE && (m->expiry_ms == 0 || now_ms < m->expiry_ms);
}

static uint64_t m_live_version(const struct mkey *m, uint64_t now_ms)
{
    return m_visible(m, now_ms) ? m->version : 0;
}

/* The raw cache entry of the key, when there is one, must be exactly what storage holds. */
static void check_coherent(struct rowcache *rc, uint64_t token, const uint8_t *key, size_t key_bytes,
                           uint64_t seed, uint32_t op)
{
    if (rc == NULL)
        return;
    struct record_view cv;
    enum rowcache_hit hit = rowcache_lookup(rc, token, key, key_bytes, &cv);
    if (hit == ROWCACHE_MISS)
        return;
    struct record_view sv;
    enum rkv_err err = engine_read(sh, token, key, key_bytes, &sv);
    if (hit == ROWCACHE_ABSENT) {
        cr_assert_eq(err, RKV_NOT_FOUND, "seed %llu op %u: cached absent, storage has a record",
                     (unsigned long long)seed, op);
        return;
    }
    cr_assert_eq(err, RKV_OK, "seed %llu op %u: cached record, storage has none", (unsigned long long)seed, op);
    cr_assert_eq(cv.hdr.flags, sv.hdr.flags, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(cv.hdr.version, sv.hdr.version, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(cv.hdr.timestamp, sv.hdr.timestamp, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(cv.hdr.expiry_ms, sv.hdr.expiry_ms, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(cv.hdr.origin, sv.hdr.origin, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert_eq(cv.value_bytes, sv.value_bytes, "seed %llu op %u", (unsigned long long)seed, op);
    cr_assert(cv.value_bytes == 0 || memcmp(cv.value, sv.value, cv.value_bytes) == 0, "seed %llu op %u",
              (unsigned long long)seed, op);
}

/* One full sweep pass at m->now_ms (the interval is 1 ms and time has moved on by at least
 * that), mirrored in the model: expired live records become tombstones that died at their
 * expiry, and tombstones whose grace has passed are removed. A record the pass turns into a
 * tombstone is not looked at again in the same pass. */
static void sweep_pass(struct sweep *sw, struct rowcache *rc, struct model *m)
{
    uint64_t passes = sw->stats.passes_count;
    for (uint32_t step = 0; step < MODEL_KEYS + 8u && sw->stats.passes_count == passes; step++)
        sweep_step(sw, sh, rc, m->now_ms);
    cr_assert_eq(sw->stats.passes_count, passes + 1u, "a pass over %u keys ends", MODEL_KEYS);
    cr_assert_eq(sw->stats.errors_count, 0u);
    for (uint32_t i = 0; i < MODEL_KEYS; i++) {
        struct mkey *k = &m->k[i];
        if (k->state == M_LIVE && k->expiry_ms != 0 && m->now_ms >= k->expiry_ms) {
            k->state = M_TOMB;
            k->value_bytes = 0;
        } else if (k->state == M_TOMB && m->now_ms >= k->expiry_ms + GRACE_MS) {
            memset(k, 0, sizeof *k);
        }
    }
}

/* Runs ops_count random operations; rc may be NULL (no cache: the control run).
 * expect_evictions: whether the budget is small enough that the run must evict. */
static void run_model(uint64_t seed, uint32_t ops_count, struct rowcache *rc, bool expect_evictions)
{
    struct model *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    m->now_ms = T0_MS;
    struct hlc clk;
    hlc_init(&clk);
    struct sweep *sw = calloc(1, sizeof *sw);
    cr_assert_not_null(sw);
    sweep_init(sw, 1, GRACE_MS);
    uint8_t value[MODEL_VALUE_BYTES_MAX];
    uint64_t r = seed;
    uint64_t gets_found = 0, mismatches = 0, sweeps = 0;

    for (uint32_t op = 0; op < ops_count; op++) {
        r = mix64(r);
        /* A hot tenth of the keys gets half the operations, so that hits happen. */
        uint32_t i = (r & 1u) ? (uint32_t)((r >> 1) % (MODEL_KEYS / 10u)) : (uint32_t)((r >> 1) % MODEL_KEYS);
        uint8_t key[64];
        uint64_t token;
        size_t key_bytes = key_of(i, key, &token);
        struct mkey *k = &m->k[i];
        uint32_t kind = (uint32_t)((r >> 32) % 100u);

        if (kind < 40) { /* get */
            struct record_view v;
            enum rkv_err err = kv_get(sh, rc, m->now_ms, token, key, key_bytes, &v);
            if (m_visible(k, m->now_ms)) {
                cr_assert_eq(err, RKV_OK, "seed %llu op %u: get of key %u", (unsigned long long)seed, op, i);
                cr_assert_eq(v.hdr.version, k->version, "seed %llu op %u", (unsigned long long)seed, op);
                cr_assert_eq(v.hdr.timestamp, k->timestamp, "seed %llu op %u", (unsigned long long)seed, op);
                cr_assert_eq(v.value_bytes, k->value_bytes, "seed %llu op %u", (unsigned long long)seed, op);
                cr_assert(k->value_bytes == 0 || memcmp(v.value, k->value, k->value_bytes) == 0,
                          "seed %llu op %u: value bytes", (unsigned long long)seed, op);
                gets_found++;
            } else {
                cr_assert_eq(err, RKV_NOT_FOUND, "seed %llu op %u: get of key %u", (unsigned long long)seed, op, i);
            }
        } else if (kind < 75) { /* put, conditional one time in three */
            uint32_t value_bytes = (uint32_t)((r >> 8) % MODEL_VALUE_BYTES_MAX);
            if ((r >> 20) % 4u == 0)
                value_bytes = (uint32_t)((r >> 24) % 8u);
            for (uint32_t j = 0; j < value_bytes; j++)
                value[j] = (uint8_t)(op + j * 7u);
            uint32_t ttl_s = (r >> 40) % 4u == 0 ? (uint32_t)(1u + (r >> 44) % 3u) : 0;
            struct kv_put_args a = { .token = token, .key = key, .key_bytes = key_bytes, .value = value,
                                     .value_bytes = value_bytes, .ttl_s = ttl_s, .origin = ORIGIN };
            uint64_t live = m_live_version(k, m->now_ms);
            bool conditional = (r >> 48) % 3u == 0;
            bool should_match = true;
            if (conditional) {
                a.conditional = true;
                should_match = (r >> 50) % 2u == 0;
                a.if_version = should_match ? live : live + 1u + (r >> 52) % 3u;
            }
            struct kv_result res;
            enum rkv_err err = kv_put(sh, rc, &clk, m->now_ms, &a, &res);
            if (!should_match) {
                cr_assert_eq(err, RKV_VERSION_MISMATCH, "seed %llu op %u", (unsigned long long)seed, op);
                cr_assert_eq(res.version, live, "seed %llu op %u: the current version", (unsigned long long)seed, op);
                mismatches++;
            } else {
                cr_assert_eq(err, RKV_OK, "seed %llu op %u: put of key %u", (unsigned long long)seed, op, i);
                cr_assert_eq(res.version, k->version + 1u, "seed %llu op %u: put of key %u version",
                             (unsigned long long)seed, op, i);
                cr_assert_gt(res.timestamp, k->timestamp, "seed %llu op %u", (unsigned long long)seed, op);
                k->state = M_LIVE;
                k->version = res.version;
                k->timestamp = res.timestamp;
                k->expiry_ms = ttl_s == 0 ? 0 : m->now_ms + (uint64_t)ttl_s * 1000u;
                k->value_bytes = value_bytes;
                memcpy(k->value, value, value_bytes);
            }
        } else if (kind < 88) { /* delete */
            struct kv_result res;
            enum rkv_err err = kv_delete(sh, rc, &clk, m->now_ms, token, key, key_bytes, ORIGIN, &res);
            cr_assert_eq(err, RKV_OK, "seed %llu op %u", (unsigned long long)seed, op);
            cr_assert_eq(res.version, k->version + 1u, "seed %llu op %u: delete of key %u version",
                         (unsigned long long)seed, op, i);
            k->state = M_TOMB;
            k->version = res.version;
            k->timestamp = res.timestamp;
            k->expiry_ms = m->now_ms;
            k->value_bytes = 0;
        } else if (kind < 98) { /* time passes: up to 1.5 s, so TTLs of 1..3 s run out */
            m->now_ms += 1u + (r >> 8) % 1500u;
        } else { /* a full sweep pass */
            m->now_ms += 1u;
            sweep_pass(sw, rc, m);
            sweeps++;
        }
        check_coherent(rc, token, key, key_bytes, seed, op);
        if (rc != NULL) {
            struct rowcache_stats s;
            rowcache_stats(rc, &s);
            cr_assert_leq(s.bytes, s.budget_bytes, "seed %llu op %u", (unsigned long long)seed, op);
            if (op % 4096u == 0)
                rowcache_check(rc);
        }
        engine_shard_idle(sh);
    }

    /* Every key, at the end, read through the cache and straight from storage. */
    for (uint32_t i = 0; i < MODEL_KEYS; i++) {
        uint8_t key[64];
        uint64_t token;
        size_t key_bytes = key_of(i, key, &token);
        struct record_view v;
        enum rkv_err err = kv_get(sh, rc, m->now_ms, token, key, key_bytes, &v);
        cr_assert_eq(err, m_visible(&m->k[i], m->now_ms) ? RKV_OK : RKV_NOT_FOUND, "seed %llu key %u",
                     (unsigned long long)seed, i);
        check_coherent(rc, token, key, key_bytes, seed, ops_count);
    }
    cr_assert_gt(gets_found, ops_count / 20u, "the sequence found values");
    cr_assert_gt(mismatches, 0u);
    cr_assert_gt(sweeps, 0u);
    cr_assert_gt(sw->stats.expired_count, 0u, "the sweep expired records");
    cr_assert_gt(sw->stats.purged_count, 0u, "the sweep purged tombstones");
    if (rc != NULL) {
        struct rowcache_stats s;
        rowcache_stats(rc, &s);
        cr_assert_gt(s.hits_count, 0u);
        if (expect_evictions)
            cr_assert_gt(s.evictions_count, 0u, "the budget forced evictions");
        else
            cr_assert_eq(s.evictions_count, 0u, "everything fits");
        rowcache_check(rc);
        printf("kv_cache_model seed %llu: %u ops, %llu hits, %llu misses, %llu evictions, %llu entries at the end\n",
               (unsigned long long)seed, ops_count, (unsigned long long)s.hits_count,
               (unsigned long long)s.misses_count, (unsigned long long)s.evictions_count,
               (unsigned long long)s.entries_count);
        fflush(stdout);
    }
    free(sw);
    free(m);
}

static struct rowcache *cache(uint64_t budget, uint32_t value_max)
{
    struct rowcache_config cfg = { .budget_bytes = budget, .value_bytes_max = value_max };
    struct rowcache *rc = NULL;
    cr_assert_eq(rowcache_create(&cfg, &rc), RKV_OK);
    return rc;
}

Test(kv_cache_model, storage_with_a_small_cache_agrees_with_the_model_over_200k_operations)
{
    /* 24 KiB holds about a quarter of the 400 keys at these value sizes. */
    struct rowcache *rc = cache(24u << 10, 256);
    run_model(1, 200000, rc, true);
    rowcache_destroy(rc);
}

Test(kv_cache_model, storage_with_a_tiny_cache_and_threshold_agrees_with_the_model)
{
    /* A few entries, and only values up to 8 bytes: most records are over the threshold. */
    struct rowcache *rc = cache(rowcache_budget_bytes_min() + 2048u, 8);
    run_model(2, 50000, rc, true);
    rowcache_destroy(rc);
}

Test(kv_cache_model, storage_with_a_cache_that_holds_everything_agrees_with_the_model)
{
    struct rowcache *rc = cache(4u << 20, RKV_VALUE_BYTES_MAX);
    run_model(3, 50000, rc, false);
    rowcache_destroy(rc);
}

Test(kv_cache_model, storage_without_a_cache_agrees_with_the_model)
{
    run_model(4, 30000, NULL, false);
}

/* A cached tombstone and a cached absent key answer without WiredTiger: with the table's
 * record replaced behind the cache's back (a test-only raw write), reads keep answering what
 * the cache holds, which shows storage was not asked. */
Test(kv_cache_model, cached_tombstones_and_absent_keys_answer_not_found_without_storage)
{
    struct rowcache *rc = cache(1u << 20, 1024);
    struct hlc clk;
    hlc_init(&clk);
    const uint8_t *ka = (const uint8_t *)"gone", *kb = (const uint8_t *)"never";
    struct kv_put_args a = { .token = 1, .key = ka, .key_bytes = 4, .value = (const uint8_t *)"v", .value_bytes = 1,
                             .origin = ORIGIN };
    struct kv_result res;
    cr_assert_eq(kv_put(sh, rc, &clk, T0_MS, &a, &res), RKV_OK);
    cr_assert_eq(kv_delete(sh, rc, &clk, T0_MS, 1, ka, 4, ORIGIN, &res), RKV_OK);
    struct record_view v;
    cr_assert_eq(kv_get(sh, rc, T0_MS, 2, kb, 5, &v), RKV_NOT_FOUND); /* fills "absent" */
    /* Plant live records under both keys, bypassing kv (and so the cache). */
    uint8_t raw[REC_HDR_BYTES + 1];
    struct record_hdr h = { .origin = ORIGIN, .timestamp = hlc_make(T0_MS + 5, 0), .version = 9 };
    record_hdr_encode(raw, &h, 1);
    raw[REC_HDR_BYTES] = 'x';
    cr_assert_eq(engine_test_write_raw(sh, 1, ka, 4, raw, sizeof raw), RKV_OK);
    cr_assert_eq(engine_test_write_raw(sh, 2, kb, 5, raw, sizeof raw), RKV_OK);
    struct rowcache_stats before;
    rowcache_stats(rc, &before);
    cr_assert_eq(kv_get(sh, rc, T0_MS, 1, ka, 4, &v), RKV_NOT_FOUND, "the cached tombstone answered");
    cr_assert_eq(kv_get(sh, rc, T0_MS, 2, kb, 5, &v), RKV_NOT_FOUND, "the cached absent marker answered");
    struct rowcache_stats after;
    rowcache_stats(rc, &after);
    cr_assert_eq(after.hits_count, before.hits_count + 2u);
    cr_assert_eq(after.misses_count, before.misses_count);
    /* Without the cache, storage shows what was planted. */
    cr_assert_eq(kv_get(sh, NULL, T0_MS, 1, ka, 4, &v), RKV_OK);
    cr_assert_eq(v.hdr.version, 9u);
    rowcache_destroy(rc);
}

Test(kv_cache_model, an_expired_cached_record_answers_not_found_and_a_conditional_put_sees_version_zero)
{
    struct rowcache *rc = cache(1u << 20, 1024);
    struct hlc clk;
    hlc_init(&clk);
    const uint8_t *k = (const uint8_t *)"ttl";
    struct kv_put_args a = { .token = 3, .key = k, .key_bytes = 3, .value = (const uint8_t *)"v", .value_bytes = 1,
                             .ttl_s = 1, .origin = ORIGIN };
    struct kv_result res;
    cr_assert_eq(kv_put(sh, rc, &clk, T0_MS, &a, &res), RKV_OK);
    cr_assert_eq(res.version, 1u);
    struct record_view v;
    cr_assert_eq(kv_get(sh, rc, T0_MS + 999, 3, k, 3, &v), RKV_OK, "visible at expiry - 1");
    cr_assert_eq(kv_get(sh, rc, T0_MS + 1000, 3, k, 3, &v), RKV_NOT_FOUND, "hidden at expiry");
    a.ttl_s = 0;
    a.conditional = true;
    a.if_version = 1;
    cr_assert_eq(kv_put(sh, rc, &clk, T0_MS + 1000, &a, &res), RKV_VERSION_MISMATCH);
    cr_assert_eq(res.version, 0u, "an expired record's current version is 0");
    a.if_version = 0;
    cr_assert_eq(kv_put(sh, rc, &clk, T0_MS + 1000, &a, &res), RKV_OK);
    cr_assert_eq(res.version, 2u, "versions count the expired record");
    struct rowcache_stats s;
    rowcache_stats(rc, &s);
    cr_assert_eq(s.misses_count, 1u, "only the first write's read went to storage");
    rowcache_destroy(rc);
}
