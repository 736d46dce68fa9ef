/* ringkv-bench against a real two-shard node: a short bounded run prints one JSON object of
 * the documented shape, with exactly the requested count of operations and no errors; GETs
 * after --load find every key, GETs of keys never written are counted as misses and not as
 * errors; a node killed during a run makes the bench report errors and exit 1; bad flags
 * exit 2. Then a smoke of each driver (ringkv://, http:// against the node's HTTP API, and
 * redis:// against a redis-server started here, skipped when none is installed) and of the
 * open loop (--rate), checking only that they complete without errors and report the
 * documented JSON, never a timing; and a driver pointed at a port that speaks another
 * protocol reports errors instead of hanging. Each run is bounded by --ops or --duration
 * and by test_run's 20 s. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ---- every driver, the open loop, and drivers against the wrong protocol ---- */

static const char *url(const char *scheme, const char *addr)
{
    static char u[4][96];
    static unsigned next;
    char *t = u[next++ % 4u];
    snprintf(t, sizeof(u[0]), "%s://%s", scheme, addr);
    return t;
}

/* The common checks of a smoke run: exit 0, one JSON object with the documented fields, no
 * errors, ops > 0 and the verdict line. */
static void assert_clean_json_run(int rc, const char *scheme)
{
    cr_assert_eq(rc, 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
    cr_assert_eq(out[0], '{', "stdout is one JSON object: %s", out);
    char pat[48];
    snprintf(pat, sizeof(pat), "\"target\":\"%s://", scheme);
    cr_assert_not_null(strstr(out, pat), "%s", out);
    static const char *const fields[] = {"\"workload\":", "\"seconds\":", "\"ops_per_sec\":", "\"mode\":",
                                         "\"value_size\":", "\"value_size_min\":", "\"rate\":", "\"driver_cpu\":"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        cr_assert_not_null(strstr(out, fields[i]), "field %s missing: %s", fields[i], out);
    cr_assert_gt(json_u64(out, "ops"), 0u, "%s", out);
    cr_assert_eq(json_u64(out, "errors"), 0u, "%s\n%s", out, err);
    cr_assert_eq(json_u64(out, "timeouts"), 0u, "%s", out);
    assert_latency_shape(json_obj(out, "latency_us"));
    cr_assert_str_eq(last_line(err), "ok: no errors");
}

/* Load then a mixed run of a few seconds with a value-size range: both operations, no
 * errors, and every GET finds its key (all keys were loaded, PUTs only overwrite). */
static void smoke_driver(const char *scheme, const char *addr)
{
    const char *flags[] = {"--target", url(scheme, addr), "--duration", "3", "--load", "--keys", "2000",
                           "--read-ratio", "0.8", "--value-size", "10-1500", "--pipeline", "8", "--connections",
                           "8", "--threads", "2", "--json", NULL};
    int rc = run_bench(flags);
    assert_clean_json_run(rc, scheme);
    cr_assert_not_null(strstr(out, "\"mode\":\"closed\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"rate\":null"), "%s", out);
    cr_assert_eq(json_u64(out, "value_size"), 1500u);
    cr_assert_eq(json_u64(out, "value_size_min"), 10u);
    cr_assert_eq(json_u64(out, "misses"), 0u, "every key was loaded: %s", out);
    const char *per_op = json_obj(out, "per_op");
    cr_assert_gt(json_u64(json_obj(per_op, "get"), "ops"), 0u, "%s", out);
    cr_assert_gt(json_u64(json_obj(per_op, "put"), "ops"), 0u, "%s", out);
    const char *load = json_obj(out, "load");
    cr_assert_eq(json_u64(load, "ops"), 2000u, "%s", out);
    cr_assert_eq(json_u64(load, "errors"), 0u, "%s", out);
}

/* Open loop at a modest rate: it completes, says so, and reports the target and what it
 * achieved (no threshold on either). */
static void smoke_open_loop(const char *scheme, const char *addr)
{
    const char *flags[] = {"--target", url(scheme, addr), "--duration", "3", "--rate", "3000", "--keys", "500",
                           "--read-ratio", "0.9", "--pipeline", "4", "--connections", "6", "--threads", "2",
                           "--json", NULL};
    int rc = run_bench(flags);
    assert_clean_json_run(rc, scheme);
    cr_assert_not_null(strstr(out, "\"mode\":\"open\""), "%s", out);
    const char *rate = json_obj(out, "rate");
    cr_assert_eq(json_u64(rate, "target"), 3000u, "%s", out);
    cr_assert_not_null(strstr(rate, "\"achieved\":"), "%s", out);
    (void)json_u64(rate, "behind");
    cr_assert_not_null(strstr(err, "open loop: target 3000 ops/s, achieved "), "%s", err);
}

Test(bench, smoke_ringkv_driver)
{
    smoke_driver("ringkv", srv.addr);
}

Test(bench, smoke_http_driver)
{
    smoke_driver("http", srv.http_addr);
}

Test(bench, http_get_of_keys_never_written_counts_misses_not_errors)
{
    const char *flags[] = {"--target", url("http", srv.http_addr), "--ops", "1000", "--keys", "100000000",
                           "--pipeline", "4", "--connections", "2", "--seed", "7", "--json", NULL};
    int rc = run_bench(flags);
    cr_assert_eq(rc, 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
    cr_assert_eq(json_u64(out, "ops"), 1000u);
    cr_assert_eq(json_u64(out, "errors"), 0u);
    cr_assert_eq(json_u64(out, "misses"), 1000u, "%s", out);
}

Test(bench, smoke_open_loop_ringkv)
{
    smoke_open_loop("ringkv", srv.addr);
}

Test(bench, smoke_open_loop_http)
{
    smoke_open_loop("http", srv.http_addr);
}

/* ---- redis-server, when installed (tools/install-deps.sh installs it) ---- */

/* Whether an executable named name is on PATH. */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return false;
    char dir[512], full[700];
    while (*path != '\0') {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < sizeof(dir)) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            snprintf(full, sizeof(full), "%s/%s", dir, name);
            if (access(full, X_OK) == 0)
                return true;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return false;
}

struct redis_proc {
    pid_t pid;
    char dir[64];
    char addr[32];
};

static bool port_accepts(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* Starts redis-server on a free loopback port without persistence, in a temp dir; waits
 * at most 5 s for it to accept. */
static bool redis_start(struct redis_proc *r)
{
    snprintf(r->dir, sizeof(r->dir), "/tmp/rkv-bench-redis-XXXXXX");
    if (mkdtemp(r->dir) == NULL)
        return false;
    uint16_t port = test_free_port();
    snprintf(r->addr, sizeof(r->addr), "127.0.0.1:%u", (unsigned)port);
    char port_s[8];
    snprintf(port_s, sizeof(port_s), "%u", (unsigned)port);
    r->pid = fork();
    if (r->pid < 0)
        return false;
    if (r->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("redis-server", "redis-server", "--port", port_s, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", r->dir, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        if (port_accepts(port))
            return true;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* SIGTERM, at most 5 s, then SIGKILL; removes the temp dir. */
static void redis_stop(struct redis_proc *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        int status;
        bool gone = false;
        for (int i = 0; i < 100 && !gone; i++) {
            gone = waitpid(r->pid, &status, WNOHANG) == r->pid;
            if (!gone) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        if (!gone) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &status, 0);
        }
        r->pid = 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
    if (r->dir[0] != '\0' && system(cmd) != 0)
        cr_log_warn("could not remove %s", r->dir);
}

Test(bench, smoke_redis_driver_and_open_loop)
{
    if (!on_path("redis-server"))
        cr_skip_test("redis-server is not installed (tools/install-deps.sh installs it)");
    struct redis_proc r = {0};
    bool started = redis_start(&r);
    if (started) {
        smoke_driver("redis", r.addr);
        smoke_open_loop("redis", r.addr);
        /* A GET of a key never written is a miss, as in every driver. */
        const char *flags[] = {"--target", url("redis", r.addr), "--ops", "500", "--keys", "100000000",
                               "--pipeline", "4", "--connections", "2", "--seed", "7", "--json", NULL};
        int rc = run_bench(flags);
        cr_expect_eq(rc, 0, "exit %d: %s", rc, err);
        cr_expect_eq(json_u64(out, "misses"), 500u, "%s", out);
    }
    redis_stop(&r);
    cr_assert(started, "redis-server did not start");
}

/* A driver talking to a port of another protocol gets answers it cannot parse (or none):
 * errors, exit 1, and no hang. */
static void assert_wrong_protocol_fails(const char *scheme, const char *addr)
{
    const char *flags[] = {"--target", url(scheme, addr), "--ops", "20", "--keys", "10", "--connections", "1",
                           "--timeout-ms", "500", "--json", NULL};
    int rc = run_bench(flags);
    cr_assert_eq(rc, 1, "%s at %s: exit %d\nstdout: %s\nstderr: %s", scheme, addr, rc, out, err);
    cr_assert_gt(json_u64(out, "errors"), 0u, "%s", out);
    cr_assert_eq(strncmp(last_line(err), "ERRORS: ", 8), 0, "%s", err);
}

Test(bench, a_driver_speaking_to_another_protocol_reports_errors)
{
    assert_wrong_protocol_fails("redis", srv.http_addr);  /* no RESP answer comes (a timeout) */
    assert_wrong_protocol_fails("ringkv", srv.http_addr); /* nor a binary frame */
    assert_wrong_protocol_fails("http", srv.addr);        /* the binary port closes or answers in binary */
}

Test(bench, open_loop_and_value_range_flags_are_checked)
{
    const char *rate0[] = {"--target", target(), "--rate", "0", NULL};
    assert_usage_error(rate0);
    const char *rate_over[] = {"--target", target(), "--rate", "10000001", NULL};
    assert_usage_error(rate_over);
    const char *range_down[] = {"--target", target(), "--value-size", "100-10", NULL};
    assert_usage_error(range_down);
    const char *range_over[] = {"--target", target(), "--value-size", "1-1048577", NULL};
    assert_usage_error(range_over);
    const char *range_open[] = {"--target", target(), "--value-size", "-10", NULL};
    assert_usage_error(range_open);
}
