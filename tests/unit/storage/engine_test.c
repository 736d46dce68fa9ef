/* Tests of the WiredTiger engine (storage/engine.h), each in a fresh directory under /tmp
 * that the suite's fini removes. Tests may not include <wiredtiger.h> (tests/arch): the key
 * order and corrupt records are reached through the engine's test-support calls. */
#include <criterion/criterion.h>
#include <ftw.h>
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
#include "tests/support/tmpdir.h"
#include "storage/engine.h"

static char test_dir[64];

static void dir_make(void)
{
    /* Named after the runner (each test runs in a child of it) so that the runner can remove
     * what a death test leaves behind: see leftovers_remove(). */
    snprintf(test_dir, sizeof test_dir, "/tmp/rkv_engine_test_%ld_XXXXXX", (long)getppid());
    cr_assert_not_null(mkdtemp(test_dir));
}

static void dir_remove(void)
{
    if (test_dir[0] != '\0')
        test_dir_remove(test_dir);
}

/* A death test removes its directory before it aborts, but WiredTiger's log thread may still
 * preallocate a log file there in between. The runner sweeps up whatever is left once every
 * test has run. */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    char pattern[64];
    snprintf(pattern, sizeof pattern, "/tmp/%s_%ld_*", "rkv_engine_test", (long)getpid());
    glob_t g;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++)
        test_dir_remove(g.gl_pathv[i]);
    globfree(&g);
}

TestSuite(engine, .init = dir_make, .fini = dir_remove);

static struct engine_config config(const char *node_id, uint32_t shard_count)
{
    return (struct engine_config){
        .dir = test_dir,
        .node_id = node_id,
        .shard_count = shard_count,
        .cache_bytes = RKV_WT_CACHE_BYTES_MIN,
    };
}

static struct engine *open_ok(const char *node_id, uint32_t shard_count)
{
    struct engine_config cfg = config(node_id, shard_count);
    struct engine *e = NULL;
    cr_assert_eq(engine_open(&cfg, &e), RKV_OK);
    cr_assert_not_null(e);
    return e;
}

static struct engine_shard *shard_ok(struct engine *e, uint32_t idx)
{
    struct engine_shard *s = NULL;
    cr_assert_eq(engine_shard_open(e, idx, &s), RKV_OK);
    cr_assert_not_null(s);
    return s;
}

static void write_ok(struct engine_shard *s, uint64_t token, const char *key, uint64_t version, const char *value)
{
    struct record_hdr h = { .origin = 7, .timestamp = 100 + version, .version = version };
    cr_assert_eq(engine_write(s, token, (const uint8_t *)key, strlen(key), &h, (const uint8_t *)value,
                              (uint32_t)strlen(value)),
                 RKV_OK);
}

static void assert_reads(struct engine_shard *s, uint64_t token, const char *key, uint64_t version, const char *value)
{
    struct record_view v;
    cr_assert_eq(engine_read(s, token, (const uint8_t *)key, strlen(key), &v), RKV_OK, "key %s", key);
    cr_assert_eq(v.hdr.version, version);
    cr_assert_eq(v.hdr.timestamp, 100 + version);
    cr_assert_eq(v.hdr.origin, 7u);
    cr_assert_eq(v.value_bytes, strlen(value));
    cr_assert_eq(memcmp(v.value, value, v.value_bytes), 0);
}

static void assert_missing(struct engine_shard *s, uint64_t token, const char *key)
{
    struct record_view v;
    cr_assert_eq(engine_read(s, token, (const uint8_t *)key, strlen(key), &v), RKV_NOT_FOUND, "key %s", key);
}

Test(engine, write_then_read_returns_the_record)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    write_ok(s, 42, "alpha", 1, "one");
    assert_reads(s, 42, "alpha", 1, "one");
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, read_of_a_key_never_written_is_not_found)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    assert_missing(s, 42, "alpha");
    write_ok(s, 42, "alpha", 1, "one");
    assert_missing(s, 43, "alpha"); /* same user key, other token */
    assert_missing(s, 42, "alphb");
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, overwrite_replaces_the_record)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    write_ok(s, 42, "alpha", 1, "one");
    write_ok(s, 42, "alpha", 2, "two, longer");
    assert_reads(s, 42, "alpha", 2, "two, longer");
    write_ok(s, 42, "alpha", 3, "");
    assert_reads(s, 42, "alpha", 3, "");
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, tombstone_is_returned_by_engine_read)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    write_ok(s, 42, "alpha", 1, "one");
    struct record_hdr t = { .flags = REC_F_TOMBSTONE, .origin = 9, .timestamp = 500, .version = 2 };
    cr_assert_eq(engine_write(s, 42, (const uint8_t *)"alpha", 5, &t, NULL, 0), RKV_OK);
    struct record_view v;
    cr_assert_eq(engine_read(s, 42, (const uint8_t *)"alpha", 5, &v), RKV_OK);
    cr_assert_eq(v.hdr.flags, REC_F_TOMBSTONE);
    cr_assert_eq(v.hdr.version, 2u);
    cr_assert_eq(v.hdr.timestamp, 500u);
    cr_assert_eq(v.hdr.origin, 9u);
    cr_assert_eq(v.value_bytes, 0u);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, key_of_256_bytes_and_value_of_1_mib_round_trip)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    uint8_t key[RKV_KEY_BYTES_MAX];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)i;
    uint8_t *value = malloc(RKV_VALUE_BYTES_MAX);
    cr_assert_not_null(value);
    for (uint32_t i = 0; i < RKV_VALUE_BYTES_MAX; i++)
        value[i] = (uint8_t)(i * 13u + 1u);
    struct record_hdr h = { .timestamp = 1, .version = 1 };
    cr_assert_eq(engine_write(s, UINT64_MAX, key, sizeof key, &h, value, RKV_VALUE_BYTES_MAX), RKV_OK);
    uint8_t k1 = 0;
    cr_assert_eq(engine_write(s, 0, &k1, 1, &h, NULL, 0), RKV_OK);

    struct record_view v;
    cr_assert_eq(engine_read(s, UINT64_MAX, key, sizeof key, &v), RKV_OK);
    cr_assert_eq(v.value_bytes, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(memcmp(v.value, value, RKV_VALUE_BYTES_MAX), 0);
    cr_assert_eq(engine_read(s, 0, &k1, 1, &v), RKV_OK);
    cr_assert_eq(v.value_bytes, 0u);
    free(value);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, view_of_a_read_stays_valid_across_a_write_by_another_shard)
{
    struct engine *e = open_ok("n1", 2);
    struct engine_shard *s0 = shard_ok(e, 0);
    struct engine_shard *s1 = shard_ok(e, 1);
    write_ok(s0, 1, "k", 1, "the value of k");
    struct record_view v;
    cr_assert_eq(engine_read(s0, 1, (const uint8_t *)"k", 1, &v), RKV_OK);
    for (uint64_t i = 0; i < 1000; i++)
        write_ok(s1, i, "other", 1, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    cr_assert_eq(engine_log_flush(s1), RKV_OK);
    cr_assert_eq(v.value_bytes, 14u);
    cr_assert_eq(memcmp(v.value, "the value of k", 14), 0);
    engine_shard_close(s1);
    engine_shard_close(s0);
    engine_close(e);
}

Test(engine, log_flush_succeeds_with_and_without_pending_writes)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    cr_assert_eq(engine_log_flush(s), RKV_OK);
    write_ok(s, 1, "a", 1, "v");
    cr_assert_eq(engine_log_flush(s), RKV_OK);
    assert_reads(s, 1, "a", 1, "v");
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, reopen_after_close_keeps_the_data)
{
    struct engine *e = open_ok("n1", 2);
    struct engine_shard *s0 = shard_ok(e, 0);
    struct engine_shard *s1 = shard_ok(e, 1);
    write_ok(s0, 10, "zero", 1, "in shard 0");
    write_ok(s1, 11, "one", 4, "in shard 1");
    struct record_hdr t = { .flags = REC_F_TOMBSTONE, .timestamp = 105, .version = 5, .origin = 7 };
    cr_assert_eq(engine_write(s1, 12, (const uint8_t *)"gone", 4, &t, NULL, 0), RKV_OK);
    engine_shard_close(s1);
    engine_shard_close(s0);
    engine_close(e);

    e = open_ok("n1", 2);
    s0 = shard_ok(e, 0);
    s1 = shard_ok(e, 1);
    assert_reads(s0, 10, "zero", 1, "in shard 0");
    assert_reads(s1, 11, "one", 4, "in shard 1");
    struct record_view v;
    cr_assert_eq(engine_read(s1, 12, (const uint8_t *)"gone", 4, &v), RKV_OK);
    cr_assert_eq(v.hdr.flags, REC_F_TOMBSTONE);
    engine_shard_close(s1);
    engine_shard_close(s0);
    engine_close(e);
}

Test(engine, flushed_write_survives_a_crash_without_close)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* The child writes, flushes and dies without closing anything: only WiredTiger's
         * log can bring the write back. */
        struct engine_config cfg = config("n1", 1);
        struct engine *e = NULL;
        struct engine_shard *s = NULL;
        struct record_hdr h = { .origin = 7, .timestamp = 101, .version = 1 };
        if (engine_open(&cfg, &e) != RKV_OK || engine_shard_open(e, 0, &s) != RKV_OK)
            _exit(2);
        if (engine_write(s, 5, (const uint8_t *)"durable", 7, &h, (const uint8_t *)"yes", 3) != RKV_OK)
            _exit(3);
        if (engine_log_flush(s) != RKV_OK)
            _exit(4);
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0);

    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    assert_reads(s, 5, "durable", 1, "yes");
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, reopen_with_another_node_id_is_refused)
{
    engine_close(open_ok("n1", 2));
    struct engine_config cfg = config("n2", 2);
    struct engine *e = (struct engine *)&cfg; /* must be cleared on failure */
    cr_assert_eq(engine_open(&cfg, &e), RKV_INVALID_ARG);
    cr_assert_null(e);
    /* The refusal changed nothing: the rightful node still opens it. */
    engine_close(open_ok("n1", 2));
}

Test(engine, reopen_with_another_shard_count_is_refused)
{
    engine_close(open_ok("n1", 2));
    struct engine_config cfg = config("n1", 3);
    struct engine *e = NULL;
    cr_assert_eq(engine_open(&cfg, &e), RKV_INVALID_ARG);
    cr_assert_null(e);
    cfg.shard_count = 1;
    cr_assert_eq(engine_open(&cfg, &e), RKV_INVALID_ARG);
    engine_close(open_ok("n1", 2));
}

Test(engine, node_id_that_extends_the_stored_one_is_refused)
{
    engine_close(open_ok("n1", 1));
    struct engine_config cfg = config("n10", 1);
    struct engine *e = NULL;
    cr_assert_eq(engine_open(&cfg, &e), RKV_INVALID_ARG);
    cfg.node_id = "n";
    cr_assert_eq(engine_open(&cfg, &e), RKV_INVALID_ARG);
}

Test(engine, node_id_of_the_maximum_length_is_recorded_and_checked)
{
    char id[RKV_NODE_ID_BYTES_MAX + 1];
    memset(id, 'a', RKV_NODE_ID_BYTES_MAX);
    id[RKV_NODE_ID_BYTES_MAX] = '\0';
    engine_close(open_ok(id, RKV_SHARDS_MAX));
    engine_close(open_ok(id, RKV_SHARDS_MAX));
    id[RKV_NODE_ID_BYTES_MAX - 1] = 'b';
    struct engine_config cfg = config(id, RKV_SHARDS_MAX);
    struct engine *e = NULL;
    cr_assert_eq(engine_open(&cfg, &e), RKV_INVALID_ARG);
}

Test(engine, missing_directory_and_parents_are_created)
{
    char nested[128];
    snprintf(nested, sizeof nested, "%s/a/b", test_dir);
    struct engine_config cfg = config("n1", 1);
    cfg.dir = nested;
    struct engine *e = NULL;
    cr_assert_eq(engine_open(&cfg, &e), RKV_OK);
    struct engine_shard *s = shard_ok(e, 0);
    write_ok(s, 1, "a", 1, "v");
    engine_shard_close(s);
    engine_close(e);
    char wt_file[160];
    snprintf(wt_file, sizeof wt_file, "%s/WiredTiger", nested);
    cr_assert_eq(access(wt_file, F_OK), 0);
}

Test(engine, shards_have_separate_tables)
{
    struct engine *e = open_ok("n1", 2);
    struct engine_shard *s0 = shard_ok(e, 0);
    struct engine_shard *s1 = shard_ok(e, 1);
    write_ok(s0, 42, "same", 1, "shard zero");
    assert_missing(s1, 42, "same");
    write_ok(s1, 42, "same", 7, "shard one");
    assert_reads(s0, 42, "same", 1, "shard zero");
    assert_reads(s1, 42, "same", 7, "shard one");
    engine_shard_close(s1);
    engine_shard_close(s0);
    engine_close(e);
}

struct key_list {
    size_t count;
    uint8_t keys[16][REC_STORED_KEY_BYTES_MAX];
    size_t bytes[16];
};

static void collect_key(void *arg, const uint8_t *stored_key, size_t stored_key_bytes)
{
    struct key_list *l = arg;
    cr_assert_lt(l->count, RKV_ARRAY_LEN(l->keys));
    cr_assert_leq(stored_key_bytes, REC_STORED_KEY_BYTES_MAX);
    memcpy(l->keys[l->count], stored_key, stored_key_bytes);
    l->bytes[l->count] = stored_key_bytes;
    l->count++;
}

Test(engine, stored_keys_sort_by_token_then_user_key)
{
    /* Written out of order; the user keys sort against the tokens on purpose. */
    const struct { uint64_t token; const char *key; } in[] = {
        { 0x0100000000000000ull, "a" }, { 0x00ffffffffffffffull, "zzz" }, { UINT64_MAX, "a" },
        { 0, "b" }, { 0, "a" }, { 0x0000000000000100ull, "a" }, { 0x00000000000000ffull, "zz" },
    };
    const size_t order[] = { 4, 3, 6, 5, 1, 0, 2 };
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    for (size_t i = 0; i < RKV_ARRAY_LEN(in); i++)
        write_ok(s, in[i].token, in[i].key, 1, "v");
    /* Across a close and reopen too, when the records come from the chunks on disk. */
    for (int pass = 0; pass < 2; pass++) {
        struct key_list l = { 0 };
        cr_assert_eq(engine_test_scan_keys(s, &l, collect_key), RKV_OK);
        cr_assert_eq(l.count, RKV_ARRAY_LEN(order));
        for (size_t n = 0; n < l.count; n++) {
            cr_assert_eq(load_be64(l.keys[n]), in[order[n]].token, "pass %d position %zu", pass, n);
            cr_assert_eq(l.bytes[n], 8 + strlen(in[order[n]].key));
            cr_assert_eq(memcmp(l.keys[n] + 8, in[order[n]].key, l.bytes[n] - 8), 0);
        }
        engine_shard_close(s);
        engine_close(e);
        if (pass == 0) {
            e = open_ok("n1", 1);
            s = shard_ok(e, 0);
        }
    }
}

Test(engine, corrupt_stored_value_reads_as_corrupt)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    uint8_t bad[REC_HDR_BYTES] = { REC_FORMAT_V1 }; /* version 0 */
    cr_assert_eq(engine_test_write_raw(s, 3, (const uint8_t *)"k", 1, bad, sizeof bad), RKV_OK);
    cr_assert_eq(engine_test_write_raw(s, 3, (const uint8_t *)"m", 1, bad, 5), RKV_OK); /* short */
    cr_assert_eq(engine_test_write_raw(s, 3, (const uint8_t *)"n", 1, NULL, 0), RKV_OK); /* empty */

    struct record_view view;
    cr_assert_eq(engine_read(s, 3, (const uint8_t *)"k", 1, &view), RKV_CORRUPT);
    cr_assert_null(view.value);
    cr_assert_eq(engine_read(s, 3, (const uint8_t *)"m", 1, &view), RKV_CORRUPT);
    cr_assert_eq(engine_read(s, 3, (const uint8_t *)"n", 1, &view), RKV_CORRUPT);
    /* The shard goes on working after a corrupt record, and a write replaces it. */
    write_ok(s, 4, "other", 1, "fine");
    assert_reads(s, 4, "other", 1, "fine");
    write_ok(s, 3, "k", 2, "repaired");
    assert_reads(s, 3, "k", 2, "repaired");
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, close_with_a_shard_still_open_aborts, .signal = SIGABRT)
{
    struct engine *e = open_ok("n1", 1);
    shard_ok(e, 0);
    dir_remove(); /* the abort below skips the suite's fini */
    test_dir[0] = '\0';
    engine_close(e);
}

Test(engine, shard_index_past_the_shard_count_aborts, .signal = SIGABRT)
{
    struct engine *e = open_ok("n1", 2);
    dir_remove();
    test_dir[0] = '\0';
    struct engine_shard *s = NULL;
    (void)engine_shard_open(e, 2, &s);
}

/* ---- engine_remove ---- */

Test(engine, remove_deletes_the_record_without_a_tombstone)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    write_ok(s, 42, "alpha", 1, "one");
    write_ok(s, 42, "beta", 1, "two");
    cr_assert_eq(engine_remove(s, 42, (const uint8_t *)"alpha", 5), RKV_OK);
    assert_missing(s, 42, "alpha");
    assert_reads(s, 42, "beta", 1, "two");
    struct key_list l = { 0 };
    cr_assert_eq(engine_test_scan_keys(s, &l, collect_key), RKV_OK);
    cr_assert_eq(l.count, 1u, "only beta is left in the table");
    /* The key can be written again afterwards, and the removal survives a reopen. */
    write_ok(s, 42, "alpha", 1, "again");
    assert_reads(s, 42, "alpha", 1, "again");
    cr_assert_eq(engine_remove(s, 42, (const uint8_t *)"alpha", 5), RKV_OK);
    engine_shard_close(s);
    engine_close(e);
    e = open_ok("n1", 1);
    s = shard_ok(e, 0);
    assert_missing(s, 42, "alpha");
    assert_reads(s, 42, "beta", 1, "two");
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, remove_of_a_missing_key_is_ok)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    cr_assert_eq(engine_remove(s, 1, (const uint8_t *)"never", 5), RKV_OK);
    write_ok(s, 1, "k", 1, "v");
    cr_assert_eq(engine_remove(s, 1, (const uint8_t *)"k", 1), RKV_OK);
    cr_assert_eq(engine_remove(s, 1, (const uint8_t *)"k", 1), RKV_OK);
    assert_missing(s, 1, "k");
    engine_shard_close(s);
    engine_close(e);
}

/* ---- engine_scan_batch ---- */

/* What a scan callback saw, across batches. */
struct scan_seen {
    size_t count;
    size_t cap;
    uint8_t (*keys)[REC_STORED_KEY_BYTES_MAX]; /* stored keys, rebuilt from token and key */
    size_t *bytes;
    uint64_t *versions;
    uint32_t stop_every;     /* answer ENGINE_SCAN_STOP at every stop_every-th visit; 0 never */
    struct engine_shard *reenter; /* when set, the callback calls engine_read on it */
};

static void seen_init(struct scan_seen *sn, size_t cap)
{
    memset(sn, 0, sizeof *sn);
    sn->cap = cap;
    sn->keys = calloc(cap, sizeof *sn->keys);
    sn->bytes = calloc(cap, sizeof *sn->bytes);
    sn->versions = calloc(cap, sizeof *sn->versions);
    cr_assert(sn->keys != NULL && sn->bytes != NULL && sn->versions != NULL);
}

static void seen_free(struct scan_seen *sn)
{
    free(sn->keys);
    free(sn->bytes);
    free(sn->versions);
}

static enum engine_scan_next seen_visit(void *arg, uint64_t token, const uint8_t *key, size_t key_bytes,
                                        const struct record_view *rec)
{
    struct scan_seen *sn = arg;
    if (sn->reenter != NULL) {
        struct record_view v;
        (void)engine_read(sn->reenter, token, key, key_bytes, &v);
    }
    cr_assert_lt(sn->count, sn->cap);
    cr_assert_geq(key_bytes, 1u);
    cr_assert_leq(key_bytes, RKV_KEY_BYTES_MAX);
    sn->bytes[sn->count] = record_key_encode(sn->keys[sn->count], token, key, key_bytes);
    sn->versions[sn->count] = rec->hdr.version;
    sn->count++;
    return sn->stop_every != 0 && sn->count % sn->stop_every == 0 ? ENGINE_SCAN_STOP : ENGINE_SCAN_CONTINUE;
}

/* Token and key of record i of a test table: tokens spread over the ring out of write
 * order, and some records share a token. */
static uint64_t table_token(uint32_t i) { return (uint64_t)(i % 997u) * 0x9E3779B97F4A7C15ull; }
static void table_key(uint32_t i, char out[16]) { snprintf(out, 16, "k%06u", i); }

static void table_fill(struct engine_shard *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char k[16];
        table_key(i, k);
        write_ok(s, table_token(i), k, 1 + i % 5u, "v");
    }
}

static int stored_key_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c != 0 ? c : (na < nb ? -1 : na > nb ? 1 : 0);
}

/* Scans the whole table in batches of max_records; returns the number of batches and checks
 * the bound of each one. */
static uint32_t scan_all(struct engine_shard *s, uint32_t max_records, struct scan_seen *sn)
{
    struct engine_scan_pos pos = { 0 };
    uint32_t batches = 0;
    for (;;) {
        struct engine_scan_result r;
        cr_assert_eq(engine_scan_batch(s, &pos, max_records, sn, seen_visit, &r), RKV_OK);
        batches++;
        cr_assert_leq(r.examined_count, max_records);
        cr_assert_eq(r.examined_count, r.visited_count + r.corrupt_count);
        if (r.end)
            return batches;
        cr_assert_geq(r.examined_count, 1u, "a batch that is not the last one makes progress");
        cr_assert_lt(batches, 100000u, "the scan ends");
    }
}

static void assert_seen_sorted_once(const struct scan_seen *sn)
{
    for (size_t i = 1; i < sn->count; i++)
        cr_assert_lt(stored_key_cmp(sn->keys[i - 1], sn->bytes[i - 1], sn->keys[i], sn->bytes[i]), 0,
                     "record %zu is not after record %zu", i, i - 1);
}

Test(engine, scan_of_an_empty_table_ends_in_one_batch)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    struct scan_seen sn;
    seen_init(&sn, 1);
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r;
    cr_assert_eq(engine_scan_batch(s, &pos, 10, &sn, seen_visit, &r), RKV_OK);
    cr_assert(r.end);
    cr_assert_eq(r.examined_count, 0u);
    cr_assert_eq(sn.count, 0u);
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, scan_in_batches_sees_every_record_once_in_stored_key_order)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    const uint32_t n = 2000;
    table_fill(s, n);
    const uint32_t sizes[] = { 1, 7, 256, 1999, 2000, 2001 };
    for (size_t t = 0; t < RKV_ARRAY_LEN(sizes); t++) {
        struct scan_seen sn;
        seen_init(&sn, n);
        uint32_t batches = scan_all(s, sizes[t], &sn);
        cr_assert_eq(batches, (n + sizes[t] - 1) / sizes[t], "batch size %u", sizes[t]);
        cr_assert_eq(sn.count, n, "batch size %u", sizes[t]);
        assert_seen_sorted_once(&sn);
        seen_free(&sn);
    }
    /* Every written record is among those seen (sorted and distinct, so the count settles it
     * once each one is found). */
    struct scan_seen sn;
    seen_init(&sn, n);
    scan_all(s, 64, &sn);
    for (uint32_t i = 0; i < n; i++) {
        char k[16];
        table_key(i, k);
        uint8_t want[REC_STORED_KEY_BYTES_MAX];
        size_t wn = record_key_encode(want, table_token(i), (const uint8_t *)k, strlen(k));
        bool found = false;
        for (size_t j = 0; j < sn.count && !found; j++)
            found = sn.bytes[j] == wn && memcmp(sn.keys[j], want, wn) == 0 && sn.versions[j] == 1 + i % 5u;
        cr_assert(found, "record %u was not seen", i);
    }
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, scan_after_a_reopen_reads_the_chunks_on_disk_and_skips_removed_records)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    const uint32_t n = 3000;
    table_fill(s, n);
    engine_shard_close(s);
    engine_close(e); /* a checkpoint: the records now come from chunks on disk */
    e = open_ok("n1", 1);
    s = shard_ok(e, 0);
    /* Removed after the reopen: the removal lives in the in-memory chunk, over the disk. */
    for (uint32_t i = 0; i < n; i += 3) {
        char k[16];
        table_key(i, k);
        cr_assert_eq(engine_remove(s, table_token(i), (const uint8_t *)k, strlen(k)), RKV_OK);
    }
    struct scan_seen sn;
    seen_init(&sn, n);
    cr_assert_eq(scan_all(s, 100, &sn), (n - n / 3 + 99) / 100);
    cr_assert_eq(sn.count, n - n / 3);
    assert_seen_sorted_once(&sn);
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, scan_batch_that_ends_on_the_last_record_reports_the_end)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    table_fill(s, 64);
    struct scan_seen sn;
    seen_init(&sn, 64);
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r;
    for (int b = 0; b < 3; b++) {
        cr_assert_eq(engine_scan_batch(s, &pos, 16, &sn, seen_visit, &r), RKV_OK);
        cr_assert_eq(r.examined_count, 16u);
        cr_assert_not(r.end, "batch %d", b);
    }
    cr_assert_eq(engine_scan_batch(s, &pos, 16, &sn, seen_visit, &r), RKV_OK);
    cr_assert_eq(r.examined_count, 16u);
    cr_assert(r.end, "the fourth batch of 16 ends a table of 64");
    cr_assert_eq(sn.count, 64u);
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, scan_callback_stop_ends_the_batch_after_that_record)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    table_fill(s, 100);
    struct scan_seen sn;
    seen_init(&sn, 100);
    sn.stop_every = 3;
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r;
    cr_assert_eq(engine_scan_batch(s, &pos, 50, &sn, seen_visit, &r), RKV_OK);
    cr_assert_eq(r.examined_count, 3u);
    cr_assert_eq(sn.count, 3u);
    cr_assert_not(r.end);
    cr_assert_eq(pos.key_bytes, sn.bytes[2], "the position is the last record visited");
    cr_assert_eq(memcmp(pos.key, sn.keys[2], pos.key_bytes), 0);
    sn.stop_every = 0;
    cr_assert_eq(engine_scan_batch(s, &pos, 200, &sn, seen_visit, &r), RKV_OK);
    cr_assert(r.end);
    cr_assert_eq(sn.count, 100u);
    assert_seen_sorted_once(&sn);
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, scan_resumes_correctly_after_writes_and_removes_between_batches)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    /* Tokens 10, 20, ..., 1000, one key each. */
    for (uint64_t t = 10; t <= 1000; t += 10)
        write_ok(s, t, "k", 1, "v");
    struct scan_seen sn;
    seen_init(&sn, 200);
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r;
    cr_assert_eq(engine_scan_batch(s, &pos, 50, &sn, seen_visit, &r), RKV_OK);
    cr_assert_eq(load_be64(pos.key), 500u);

    cr_assert_eq(engine_remove(s, 500, (const uint8_t *)"k", 1), RKV_OK); /* the position itself */
    cr_assert_eq(engine_remove(s, 510, (const uint8_t *)"k", 1), RKV_OK); /* the next one */
    write_ok(s, 505, "k", 1, "v");  /* ahead: seen */
    write_ok(s, 5, "k", 1, "v");    /* behind: not seen by this scan */
    write_ok(s, 300, "k", 2, "v");  /* rewritten behind: not seen again */
    write_ok(s, 700, "k", 3, "v");  /* rewritten ahead: seen once, in its new version */
    write_ok(s, 1000, "z", 1, "v"); /* a new last record */

    while (!r.end)
        cr_assert_eq(engine_scan_batch(s, &pos, 50, &sn, seen_visit, &r), RKV_OK);
    assert_seen_sorted_once(&sn);
    cr_assert_eq(sn.count, 50u + 1u + 49u + 1u);
    cr_assert_eq(load_be64(sn.keys[50]), 505u, "the first record after the removed position");
    cr_assert_eq(load_be64(sn.keys[51]), 520u);
    for (size_t i = 0; i < sn.count; i++) {
        uint64_t t = load_be64(sn.keys[i]);
        cr_assert_neq(t, 5u);
        cr_assert_neq(t, 510u);
        if (t == 700)
            cr_assert_eq(sn.versions[i], 3u);
    }
    cr_assert_eq(load_be64(sn.keys[sn.count - 1]), 1000u);
    cr_assert_eq(sn.keys[sn.count - 1][8], 'z');
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, scan_visits_tombstones_and_expired_records_raw)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    struct record_hdr t = { .flags = REC_F_TOMBSTONE, .timestamp = 9, .version = 4, .expiry_ms = 77 };
    cr_assert_eq(engine_write(s, 1, (const uint8_t *)"dead", 4, &t, NULL, 0), RKV_OK);
    struct record_hdr x = { .timestamp = 9, .version = 2, .expiry_ms = 1 };
    cr_assert_eq(engine_write(s, 2, (const uint8_t *)"expired", 7, &x, (const uint8_t *)"v", 1), RKV_OK);
    struct scan_seen sn;
    seen_init(&sn, 4);
    cr_assert_eq(scan_all(s, 10, &sn), 1u);
    cr_assert_eq(sn.count, 2u);
    cr_assert_eq(sn.versions[0], 4u);
    cr_assert_eq(sn.versions[1], 2u);
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

/* Counts corrupt records over a whole scan. */
static uint32_t scan_all_corrupt(struct engine_shard *s, uint32_t max_records, struct scan_seen *sn)
{
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r = { 0 };
    uint32_t corrupt = 0;
    for (uint32_t b = 0; !r.end; b++) {
        cr_assert_lt(b, 1000u, "the scan ends");
        cr_assert_eq(engine_scan_batch(s, &pos, max_records, sn, seen_visit, &r), RKV_OK);
        corrupt += r.corrupt_count;
    }
    return corrupt;
}

Test(engine, scan_counts_and_skips_corrupt_values_and_malformed_keys)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    write_ok(s, 0x10, "a", 1, "v");
    uint8_t bad[REC_HDR_BYTES] = { REC_FORMAT_V1 }; /* version 0 */
    cr_assert_eq(engine_test_write_raw(s, 0x20, (const uint8_t *)"bad", 3, bad, sizeof bad), RKV_OK);
    write_ok(s, 0x30, "b", 1, "v");
    /* A well-formed value under keys ringkv never writes: 3 bytes, a token alone (8 bytes),
     * and 300 bytes (over the 264-byte maximum), twice with one prefix. */
    uint8_t good[REC_HDR_BYTES];
    struct record_hdr h = { .version = 1 };
    record_hdr_encode(good, &h, 0);
    const uint8_t short_key[3] = { 0, 0, 0 };
    cr_assert_eq(engine_test_write_raw_key(s, short_key, sizeof short_key, good, sizeof good), RKV_OK);
    uint8_t k[300];
    store_be64(k, 0x40);
    cr_assert_eq(engine_test_write_raw_key(s, k, 8, good, sizeof good), RKV_OK);
    memset(k + 8, 'x', sizeof k - 8);
    cr_assert_eq(engine_test_write_raw_key(s, k, sizeof k, good, sizeof good), RKV_OK);
    k[299] = 'y';
    cr_assert_eq(engine_test_write_raw_key(s, k, sizeof k, good, sizeof good), RKV_OK);
    /* A well-formed record of the maximum length that shares their first 264 bytes sorts
     * before them and is visited; one after them is visited too. */
    cr_assert_eq(engine_write(s, 0x40, k + 8, RKV_KEY_BYTES_MAX, &h, NULL, 0), RKV_OK);
    write_ok(s, 0x40, "y", 1, "v");
    write_ok(s, 0x50, "c", 1, "v");

    const uint32_t sizes[] = { 1, 2, 100 };
    for (size_t t = 0; t < RKV_ARRAY_LEN(sizes); t++) {
        struct scan_seen sn;
        seen_init(&sn, 16);
        uint32_t corrupt = scan_all_corrupt(s, sizes[t], &sn);
        /* The two over-long keys are passed over as one run, counted once. */
        cr_assert_eq(corrupt, 4u, "batch size %u: %u corrupt, %zu seen", sizes[t], corrupt, sn.count);
        cr_assert_eq(sn.count, 5u, "batch size %u", sizes[t]);
        assert_seen_sorted_once(&sn);
        cr_assert_eq(sn.keys[0][8], 'a');
        cr_assert_eq(sn.keys[1][8], 'b');
        cr_assert_eq(sn.bytes[2], REC_STORED_KEY_BYTES_MAX, "the longest well-formed key");
        cr_assert_eq(sn.keys[3][8], 'y');
        cr_assert_eq(sn.keys[4][8], 'c');
        seen_free(&sn);
    }
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, scan_passes_over_an_over_long_key_of_all_ff_bytes_at_the_end)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    write_ok(s, 1, "a", 1, "v");
    uint8_t good[REC_HDR_BYTES];
    struct record_hdr h = { .version = 1 };
    record_hdr_encode(good, &h, 0);
    uint8_t k[REC_STORED_KEY_BYTES_MAX + 1];
    memset(k, 0xff, sizeof k);
    cr_assert_eq(engine_test_write_raw_key(s, k, sizeof k, good, sizeof good), RKV_OK);
    struct scan_seen sn;
    seen_init(&sn, 4);
    cr_assert_eq(scan_all_corrupt(s, 1, &sn), 1u);
    cr_assert_eq(sn.count, 1u);
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, scan_holds_no_position_between_batches)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    table_fill(s, 10);
    struct scan_seen sn;
    seen_init(&sn, 10);
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r;
    cr_assert_eq(engine_scan_batch(s, &pos, 4, &sn, seen_visit, &r), RKV_OK);
    /* Reads, writes and a flush between batches work as on an idle shard. */
    write_ok(s, 3, "between", 1, "v");
    assert_reads(s, 3, "between", 1, "v");
    cr_assert_eq(engine_log_flush(s), RKV_OK);
    while (!r.end)
        cr_assert_eq(engine_scan_batch(s, &pos, 4, &sn, seen_visit, &r), RKV_OK);
    assert_seen_sorted_once(&sn);
    seen_free(&sn);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, engine_call_from_a_scan_callback_aborts, .signal = SIGABRT)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    write_ok(s, 1, "a", 1, "v");
    dir_remove(); /* the abort below skips the suite's fini */
    test_dir[0] = '\0';
    struct scan_seen sn;
    seen_init(&sn, 4);
    sn.reenter = s;
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r;
    (void)engine_scan_batch(s, &pos, 4, &sn, seen_visit, &r);
}

Test(engine, scan_batch_of_0_records_aborts, .signal = SIGABRT)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    dir_remove();
    test_dir[0] = '\0';
    struct scan_seen sn = { 0 };
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r;
    (void)engine_scan_batch(s, &pos, 0, &sn, seen_visit, &r);
}

/* ---- extra tables ---- */

static void table_put_ok(struct engine_table *t, const char *key, const char *value)
{
    cr_assert_eq(engine_table_put(t, (const uint8_t *)key, strlen(key), (const uint8_t *)value, strlen(value)),
                 RKV_OK, "key %s", key);
}

static bool bytes_are(struct engine_bytes b, const char *s)
{
    return b.bytes == strlen(s) && memcmp(b.data, s, b.bytes) == 0;
}

static void assert_seek(struct engine_table *t, const char *key, bool inclusive, const char *want_key,
                        const char *want_value)
{
    struct engine_bytes k, v;
    enum rkv_err err = engine_table_seek(t, (const uint8_t *)key, strlen(key), inclusive, &k, &v);
    if (want_key == NULL) {
        cr_assert_eq(err, RKV_NOT_FOUND, "seek %s", key);
        cr_assert_eq(k.bytes, 0u);
        return;
    }
    cr_assert_eq(err, RKV_OK, "seek %s", key);
    cr_assert(bytes_are(k, want_key), "seek %s: got %.*s", key, (int)k.bytes, (const char *)k.data);
    cr_assert(bytes_are(v, want_value), "seek %s", key);
}

Test(engine, table_reads_in_key_order_with_seek_and_next)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    struct engine_table *t = NULL;
    cr_assert_eq(engine_table_open(s, "side", &t), RKV_OK);
    table_put_ok(t, "b", "2");
    table_put_ok(t, "a", "1");
    table_put_ok(t, "ab", "12");
    table_put_ok(t, "c", "3");
    static const char *const order[] = { "a", "ab", "b", "c" };
    struct engine_bytes k, v;
    cr_assert_eq(engine_table_seek(t, NULL, 0, true, &k, &v), RKV_OK);
    for (size_t i = 0; i < RKV_ARRAY_LEN(order); i++) {
        cr_assert(bytes_are(k, order[i]), "record %zu", i);
        enum rkv_err err = engine_table_next(t, &k, &v);
        cr_assert_eq(err, i + 1 < RKV_ARRAY_LEN(order) ? RKV_OK : RKV_NOT_FOUND, "after record %zu", i);
    }
    /* Inclusive and exclusive seeks, on a key, between keys and past the last one. */
    assert_seek(t, "ab", true, "ab", "12");
    assert_seek(t, "ab", false, "b", "2");
    assert_seek(t, "aa", false, "ab", "12");
    assert_seek(t, "0", true, "a", "1");
    assert_seek(t, "c", false, NULL, NULL);
    assert_seek(t, "d", true, NULL, NULL);
    /* Put replaces. */
    table_put_ok(t, "b", "two");
    assert_seek(t, "b", true, "b", "two");
    engine_table_close(t);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, table_remove_says_whether_a_record_was_stored)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    struct engine_table *t = NULL;
    cr_assert_eq(engine_table_open(s, "side", &t), RKV_OK);
    table_put_ok(t, "a", "1");
    table_put_ok(t, "b", "2");
    cr_assert_eq(engine_table_remove(t, (const uint8_t *)"a", 1), RKV_OK);
    cr_assert_eq(engine_table_remove(t, (const uint8_t *)"a", 1), RKV_NOT_FOUND);
    cr_assert_eq(engine_table_remove(t, (const uint8_t *)"zz", 2), RKV_NOT_FOUND);
    assert_seek(t, "", true, "b", "2");
    engine_table_close(t);
    engine_shard_close(s);
    engine_close(e);
}

Test(engine, table_is_per_shard_apart_from_the_data_and_survives_a_reopen)
{
    struct engine *e = open_ok("n1", 2);
    struct engine_shard *s0 = shard_ok(e, 0);
    struct engine_shard *s1 = shard_ok(e, 1);
    struct engine_table *t0 = NULL, *t1 = NULL;
    cr_assert_eq(engine_table_open(s0, "side", &t0), RKV_OK);
    cr_assert_eq(engine_table_open(s1, "side", &t1), RKV_OK);
    table_put_ok(t0, "k", "zero");
    table_put_ok(t1, "k", "one");
    write_ok(s0, 1, "data", 1, "v");
    /* A read of the data table and one of the side table each end the other's view, and
     * neither sees the other's records. */
    assert_reads(s0, 1, "data", 1, "v");
    assert_seek(t0, "", true, "k", "zero");
    assert_seek(t1, "", true, "k", "one");
    struct scan_seen sn;
    seen_init(&sn, 4);
    struct engine_scan_pos pos = { 0 };
    struct engine_scan_result r;
    cr_assert_eq(engine_scan_batch(s0, &pos, 4, &sn, seen_visit, &r), RKV_OK);
    cr_assert_eq(r.visited_count, 1u);
    seen_free(&sn);
    cr_assert_eq(engine_log_flush(s0), RKV_OK);
    engine_table_close(t1);
    engine_table_close(t0);
    engine_shard_close(s1);
    engine_shard_close(s0);
    engine_close(e);

    e = open_ok("n1", 2);
    s0 = shard_ok(e, 0);
    cr_assert_eq(engine_table_open(s0, "side", &t0), RKV_OK);
    assert_seek(t0, "", true, "k", "zero");
    engine_table_close(t0);
    engine_shard_close(s0);
    engine_close(e);
}

Test(engine, table_next_after_another_call_on_the_shard_aborts, .signal = SIGABRT)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    struct engine_table *t = NULL;
    cr_assert_eq(engine_table_open(s, "side", &t), RKV_OK);
    table_put_ok(t, "a", "1");
    table_put_ok(t, "b", "2");
    write_ok(s, 1, "data", 1, "v");
    struct engine_bytes k, v;
    cr_assert_eq(engine_table_seek(t, NULL, 0, true, &k, &v), RKV_OK);
    assert_reads(s, 1, "data", 1, "v"); /* resets the side table's cursor */
    dir_remove(); /* the abort below skips the suite's fini */
    test_dir[0] = '\0';
    (void)engine_table_next(t, &k, &v);
}

Test(engine, shard_close_with_a_table_open_aborts, .signal = SIGABRT)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    struct engine_table *t = NULL;
    cr_assert_eq(engine_table_open(s, "side", &t), RKV_OK);
    dir_remove();
    test_dir[0] = '\0';
    engine_shard_close(s);
}

Test(engine, table_named_like_the_data_tables_aborts, .signal = SIGABRT)
{
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    dir_remove();
    test_dir[0] = '\0';
    struct engine_table *t = NULL;
    (void)engine_table_open(s, "shard", &t);
}

/* ---- the fault hook (RKV_FAULT_HOOKS builds fail storage on demand; others never) ---- */

static void fault_file_set(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
}

Test(engine, fault_hook_fails_writes_and_flushes_only_in_hook_builds_and_only_while_on)
{
    char path[96];
    snprintf(path, sizeof path, "%s/fault", test_dir);
    fault_file_set(path, "io\n");
    cr_assert_eq(setenv("RKV_FAULT_FILE", path, 1), 0);
    struct engine *e = open_ok("n1", 1);
    struct engine_shard *s = shard_ok(e, 0);
    struct record_hdr h = { .origin = 7, .timestamp = 101, .version = 1 };
#ifdef RKV_FAULT_HOOKS
    cr_expect_eq(engine_write(s, 5, (const uint8_t *)"k", 1, &h, (const uint8_t *)"v", 1), RKV_IO);
    cr_expect_eq(engine_remove(s, 5, (const uint8_t *)"k", 1), RKV_IO);
    cr_expect_eq(engine_log_flush(s), RKV_IO);
    fault_file_set(path, "ok\n");
    /* The file is read at most every 50 ms: poll, bounded. */
    enum rkv_err err = RKV_IO;
    for (int i = 0; i < 200 && err == RKV_IO; i++) {
        usleep(10000);
        err = engine_write(s, 5, (const uint8_t *)"k", 1, &h, (const uint8_t *)"v", 1);
    }
    cr_expect_eq(err, RKV_OK, "storage works again once the fault is off");
    cr_expect_eq(engine_log_flush(s), RKV_OK);
#else
    cr_expect(!engine_fault_active(s), "no hook in builds without RKV_FAULT_HOOKS");
    cr_expect_eq(engine_write(s, 5, (const uint8_t *)"k", 1, &h, (const uint8_t *)"v", 1), RKV_OK);
    cr_expect_eq(engine_log_flush(s), RKV_OK);
#endif
    unsetenv("RKV_FAULT_FILE");
    engine_shard_close(s);
    engine_close(e);
}
