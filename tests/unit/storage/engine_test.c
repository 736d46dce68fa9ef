/* Tests of the WiredTiger engine (storage/engine.h), each in a fresh directory under /tmp
 * that the suite's fini removes. Tests may not include <wiredtiger.h> (tests/arch): the key
 * order and corrupt records are reached through the engine's test-support calls. */
#include <criterion/criterion.h>
#include <ftw.h>
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

static char test_dir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void dir_make(void)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/rkv_engine_test_XXXXXX");
    cr_assert_not_null(mkdtemp(test_dir));
}

static void dir_remove(void)
{
    if (test_dir[0] != '\0')
        nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
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
