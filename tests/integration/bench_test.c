/* ringkv-bench against a real two-shard node: a short bounded run prints one JSON object of
 * the documented shape, with exactly the requested count of operations and no errors; GETs
 * after --load find every key, GETs of keys never written are counted as misses and not as
 * errors; a node killed during a run makes the bench report errors and exit 1; bad flags
 * exit 2. Each run is bounded by --ops or --duration and by test_run's 20 s. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/server.h"

#define OUT_BYTES (64u * 1024u)

static struct test_server srv;
static char out[OUT_BYTES], err[OUT_BYTES];

static void start_two_shards(void)
{
    cr_assert(test_server_start(&srv, "--shards 2"), "server did not start");
}

static void stop_and_clean(void)
{
    test_server_cleanup(&srv);
}

TestSuite(bench, .init = start_two_shards, .fini = stop_and_clean, .timeout = 60);

/* Runs ringkv-bench with the given flags (NULL-terminated, at most 30) and returns its exit
 * status; its stdout and stderr are left in out and err. */
static int run_bench(const char *const *flags)
{
    char bin[512];
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)test_bin("bench/ringkv-bench", bin, sizeof(bin));
    for (; flags[n - 1] != NULL && n < 31; n++)
        argv[n] = (char *)flags[n - 1];
    argv[n] = NULL;
    out[0] = err[0] = '\0';
    return test_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err));
}

static const char *target(void)
{
    static char t[96];
    snprintf(t, sizeof(t), "ringkv://%s", srv.addr);
    return t;
}

/* The unsigned number after `"name":` in the object text that starts at obj; fails the test
 * when the field is missing. */
static uint64_t json_u64(const char *obj, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    const char *p = strstr(obj, pat);
    cr_assert_not_null(p, "field %s missing in %s", name, obj);
    p += strlen(pat);
    cr_assert(*p >= '0' && *p <= '9', "field %s is not a number in %s", name, obj);
    return strtoull(p, NULL, 10);
}

/* The text of the object value of `"name":{`, from its brace on. */
static const char *json_obj(const char *obj, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":{", name);
    const char *p = strstr(obj, pat);
    cr_assert_not_null(p, "object %s missing in %s", name, obj);
    return p + strlen(pat) - 1u;
}

/* The last line of err, without its newline. */
static const char *last_line(char *text)
{
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

static void assert_latency_shape(const char *lat)
{
    uint64_t p50 = json_u64(lat, "p50"), p90 = json_u64(lat, "p90"), p99 = json_u64(lat, "p99");
    uint64_t p999 = json_u64(lat, "p999"), max = json_u64(lat, "max");
    cr_assert_gt(max, 0u);
    cr_assert(p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max, "percentiles out of order: %s", lat);
}

Test(bench, load_then_get_reports_the_documented_json_with_no_misses)
{
    const char *flags[] = {"--target", target(), "--ops", "20000", "--load", "--keys", "1000", "--pipeline", "8",
                           "--connections", "4", "--workload", "get", "--json", NULL};
    int rc = run_bench(flags);
    cr_assert_eq(rc, 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
    cr_assert_eq(out[0], '{', "stdout is one JSON object: %s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line of JSON: %s", out);
    cr_assert_eq(out[strlen(out) - 2], '}');
    cr_assert_not_null(strstr(out, "\"target\":\"ringkv://"), "%s", out);
    cr_assert_not_null(strstr(out, "\"workload\":\"get\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"seconds\":"), "%s", out);
    cr_assert_not_null(strstr(out, "\"ops_per_sec\":"), "%s", out);
    cr_assert_eq(json_u64(out, "ops"), 20000u);
    cr_assert_eq(json_u64(out, "errors"), 0u);
    cr_assert_eq(json_u64(out, "misses"), 0u, "every key was loaded: %s", out);
    assert_latency_shape(json_obj(out, "latency_us"));

    const char *get = json_obj(json_obj(out, "per_op"), "get");
    cr_assert_eq(json_u64(get, "ops"), 20000u);
    cr_assert_eq(json_u64(get, "errors"), 0u);
    cr_assert_eq(json_u64(get, "misses"), 0u);
    assert_latency_shape(json_obj(get, "latency_us"));
    cr_assert_null(strstr(json_obj(out, "per_op"), "\"put\""), "a GET-only run has no put row: %s", out);

    const char *load = json_obj(out, "load");
    cr_assert_eq(json_u64(load, "ops"), 1000u);
    cr_assert_eq(json_u64(load, "errors"), 0u);
    cr_assert_str_eq(last_line(err), "ok: no errors");
}

Test(bench, get_of_keys_never_written_counts_misses_not_errors)
{
    const char *flags[] = {"--target", target(), "--ops", "2000", "--keys", "500", "--pipeline", "4",
                           "--connections", "2", "--json", NULL};
    int rc = run_bench(flags);
    cr_assert_eq(rc, 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
    cr_assert_eq(json_u64(out, "ops"), 2000u);
    cr_assert_eq(json_u64(out, "misses"), 2000u, "%s", out);
    cr_assert_eq(json_u64(out, "errors"), 0u);
    cr_assert_not_null(strstr(out, "\"load\":null"), "%s", out);
}

Test(bench, mixed_zipf_run_on_two_threads_does_both_operations)
{
    const char *flags[] = {"--target", target(), "--target", target(), "--ops", "10000", "--read-ratio", "0.5",
                           "--dist", "zipf", "--keys", "1000", "--pipeline", "8", "--connections", "4", "--threads",
                           "2", "--consistency", "one", "--json", NULL};
    int rc = run_bench(flags);
    cr_assert_eq(rc, 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
    cr_assert_not_null(strstr(out, "\"workload\":\"mixed\""), "%s", out);
    cr_assert_eq(json_u64(out, "ops"), 10000u);
    cr_assert_eq(json_u64(out, "errors"), 0u);
    uint64_t gets = json_u64(json_obj(json_obj(out, "per_op"), "get"), "ops");
    uint64_t puts = json_u64(json_obj(json_obj(out, "per_op"), "put"), "ops");
    cr_assert_eq(gets + puts, 10000u);
    /* Half and half, give or take far more than chance allows (sd is 50). */
    cr_assert(gets > 4000u && puts > 4000u, "gets %" PRIu64 " puts %" PRIu64, gets, puts);
}

Test(bench, duration_run_prints_progress_and_table)
{
    const char *flags[] = {"--target", target(), "--duration", "2", "--keys", "100", "--pipeline", "2",
                           "--connections", "2", "--workload", "put", NULL};
    int rc = run_bench(flags);
    cr_assert_eq(rc, 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
    cr_assert_not_null(strstr(err, "[run "), "a progress line each second: %s", err);
    cr_assert_not_null(strstr(err, "ops/s"), "%s", err);
    cr_assert_not_null(strstr(out, "\nput "), "a row per operation: %s", out);
    cr_assert_not_null(strstr(out, "p99.9us"), "%s", out);
    cr_assert_str_eq(last_line(out), "ok: no errors");
}

static void *kill_server_later(void *arg)
{
    (void)arg;
    struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
    nanosleep(&ts, NULL);
    test_server_kill(&srv);
    return NULL;
}

Test(bench, a_node_that_dies_mid_run_makes_errors_and_exit_1)
{
    pthread_t killer;
    cr_assert_eq(pthread_create(&killer, NULL, kill_server_later, NULL), 0);
    const char *flags[] = {"--target", target(), "--duration", "4", "--keys", "100", "--pipeline", "4",
                           "--connections", "4", "--timeout-ms", "1000", "--json", NULL};
    int rc = run_bench(flags);
    pthread_join(killer, NULL);
    cr_assert_eq(rc, 1, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
    cr_assert_gt(json_u64(out, "errors"), 0u, "%s", out);
    cr_assert_gt(json_u64(out, "ops"), 0u, "it ran before the kill: %s", out);
    cr_assert_eq(strncmp(last_line(err), "ERRORS: ", 8), 0, "last line says so: %s", err);
}

Test(bench, nothing_listening_is_an_error_not_a_usage_error)
{
    char t[64];
    snprintf(t, sizeof(t), "ringkv://127.0.0.1:%u", (unsigned)test_free_port());
    const char *flags[] = {"--target", t, "--ops", "10", "--connections", "1", NULL};
    cr_assert_eq(run_bench(flags), 1, "stderr: %s", err);
}

static void assert_usage_error(const char *const *flags)
{
    int rc = run_bench(flags);
    cr_assert_eq(rc, 2, "exit %d for %s ...\nstderr: %s", rc, flags[0] ? flags[0] : "(none)", err);
    cr_assert_not_null(strstr(err, "usage:"), "%s", err);
    cr_assert_eq(out[0], '\0', "nothing on stdout: %s", out);
}

Test(bench, bad_flags_exit_2)
{
    const char *none[] = {NULL};
    assert_usage_error(none);
    const char *pipeline0[] = {"--target", target(), "--pipeline", "0", NULL};
    assert_usage_error(pipeline0);
    const char *pipeline_over[] = {"--target", target(), "--pipeline", "1025", NULL};
    assert_usage_error(pipeline_over);
    const char *duration_over[] = {"--target", target(), "--duration", "601", NULL};
    assert_usage_error(duration_over);
    const char *workload[] = {"--target", target(), "--workload", "scan", NULL};
    assert_usage_error(workload);
    const char *scheme[] = {"--target", "ftp://127.0.0.1:1", NULL};
    assert_usage_error(scheme);
    const char *ratio[] = {"--target", target(), "--workload", "get", "--read-ratio", "0.5", NULL};
    assert_usage_error(ratio);
    const char *ratio_range[] = {"--target", target(), "--read-ratio", "1.5", NULL};
    assert_usage_error(ratio_range);
    const char *value[] = {"--target", target(), "--value-size", "1048577", NULL};
    assert_usage_error(value);
    const char *threads[] = {"--target", target(), "--connections", "2", "--threads", "3", NULL};
    assert_usage_error(threads);
    const char *unknown[] = {"--target", target(), "--frobnicate", NULL};
    assert_usage_error(unknown);
    const char *missing[] = {"--target", target(), "--ops", NULL};
    assert_usage_error(missing);
}
