/* What the HTTP API shows over time, against a real two-shard node: TTL expiry; the sweeper
 * turning expired records into tombstones and purging tombstones after a short grace
 * (--sweep-interval 1 --tombstone-grace 1), after which a key starts again at version 1;
 * /metrics parsed back and checked for exactly the counters a scripted set of requests
 * moved; and slow clients closed after 10 s while others are served. Every wait is a
 * bounded poll. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/limits.h"
#include "net/ringkv.h"
#include "ring/token.h"
#include "tests/support/http_client.h"
#include "tests/support/server.h"

static struct test_server srv;

static void start_node(void)
{
    cr_assert(sodium_init() >= 0);
    cr_assert(test_server_start(&srv, "--shards 2"), "the node did not start");
}

static void start_node_fast_sweep(void)
{
    cr_assert(test_server_start(&srv, "--shards 2 --sweep-interval 1 --tombstone-grace 1"), "the node did not start");
}

static void stop_node(void)
{
    test_server_cleanup(&srv);
}

TestSuite(http_ttl, .init = start_node, .fini = stop_node, .timeout = 30);
TestSuite(http_sweep, .init = start_node_fast_sweep, .fini = stop_node, .timeout = 40);
TestSuite(http_metrics, .init = start_node, .fini = stop_node, .timeout = 30);
TestSuite(http_slow, .init = start_node, .fini = stop_node, .timeout = 40);

/* ---- helpers ---- */

#define IO_MS 10000

static uint64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = { ms / 1000u, (long)(ms % 1000u) * 1000000L };
    nanosleep(&t, NULL);
}

static struct http_client_resp call(struct http_client *c, const char *method, const char *target, const char *body)
{
    struct http_client_resp r;
    cr_assert(http_client_send_request(c, method, target, NULL, body, body ? strlen(body) : 0, IO_MS), "send");
    cr_assert(http_client_recv(c, &r, IO_MS), "an answer to %s %s", method, target);
    return r;
}

static long long version_of(const struct http_client_resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_bytes, 0, &e);
    cr_assert_not_null(j, "JSON: %s", r->body);
    json_t *v = json_object_get(j, "version");
    cr_assert(json_is_integer(v), "a version in %s", r->body);
    long long ver = json_integer_value(v);
    json_decref(j);
    return ver;
}

/* PUT target with a small value and extra JSON fields; returns the status, and the version
 * through *version_out when 200. */
static int put(struct http_client *c, const char *target, const char *extra, long long *version_out)
{
    char body[128];
    snprintf(body, sizeof body, "{\"value\":\"dg==\"%s}", extra ? extra : "");
    struct http_client_resp r = call(c, "PUT", target, body);
    int status = r.status;
    if (status == 200 && version_out)
        *version_out = version_of(&r);
    http_client_resp_free(&r);
    return status;
}

static int get_status(struct http_client *c, const char *target)
{
    struct http_client_resp r = call(c, "GET", target, NULL);
    int status = r.status;
    http_client_resp_free(&r);
    return status;
}

static uint32_t shard_of(const struct vnode_ring *ring, const char *key)
{
    return vnode_shard(vnode_ring_lookup(ring, token_of_key((const uint8_t *)key, strlen(key))), 2);
}

/* ---- Prometheus text, parsed back ---- */

/* The /metrics body as text (caller frees). */
static char *metrics_fetch(struct http_client *c)
{
    struct http_client_resp r = call(c, "GET", "/metrics", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char type[128];
    cr_assert(http_client_header(&r, "Content-Type", type, sizeof type));
    cr_assert_str_eq(type, "text/plain; version=0.0.4");
    char *text = r.body;
    r.body = NULL;
    http_client_resp_free(&r);
    return text;
}

/* True when the labels {...} (without braces) hold every "k=\"v\"" pair of want[0..n). */
static bool labels_match(const char *labels, size_t labels_bytes, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t w = strlen(want[i]);
        bool found = false;
        for (size_t p = 0; p + w <= labels_bytes && !found; p++)
            found = (p == 0 || labels[p - 1] == ',') && memcmp(labels + p, want[i], w) == 0 &&
                    (p + w == labels_bytes || labels[p + w] == ',');
        if (!found)
            return false;
    }
    return true;
}

/* Sums the samples of metric `name` whose labels include every pair in want[0..n): lines
 * "name{labels} value" or "name value". Fails the test on a sample line that does not
 * parse. *matched_out (may be NULL) counts the samples summed. */
static double metrics_sum_n(const char *text, const char *name, const char *const *want, size_t n, int *matched_out)
{
    double sum = 0;
    int matched = 0;
    size_t name_bytes = strlen(name);
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        cr_assert_not_null(end, "every line ends with a newline");
        if (*line != '#') {
            const char *sp = memchr(line, ' ', (size_t)(end - line));
            cr_assert_not_null(sp, "a sample line: %.*s", (int)(end - line), line);
            const char *brace = memchr(line, '{', (size_t)(sp - line));
            const char *name_end = brace ? brace : sp;
            if ((size_t)(name_end - line) == name_bytes && memcmp(line, name, name_bytes) == 0) {
                const char *labels = brace ? brace + 1 : sp;
                size_t labels_bytes = 0;
                if (brace) {
                    cr_assert_eq(sp[-1], '}', "labels close before the value: %.*s", (int)(end - line), line);
                    labels_bytes = (size_t)(sp - 1 - labels);
                }
                char *vend = NULL;
                double v = strtod(sp + 1, &vend);
                cr_assert_eq(vend, end, "the value ends the line: %.*s", (int)(end - line), line);
                if (labels_match(labels, labels_bytes, want, n)) {
                    sum += v;
                    matched++;
                }
            }
        }
        line = end + 1;
    }
    if (matched_out)
        *matched_out = matched;
    return sum;
}

#define METRIC(text, name, ...) \
    metrics_sum_n(text, name, (const char *const[]){ "", __VA_ARGS__ } + 1, \
                  sizeof((const char *const[]){ "", __VA_ARGS__ }) / sizeof(const char *) - 1, NULL)
#define METRIC_ALL(text, name) metrics_sum_n(text, name, NULL, 0, NULL)

static double requests(const char *text, const char *op, const char *proto, const char *outcome)
{
    char o[32], p[32], e[48];
    snprintf(o, sizeof o, "op=\"%s\"", op);
    snprintf(p, sizeof p, "protocol=\"%s\"", proto);
    snprintf(e, sizeof e, "outcome=\"%s\"", outcome);
    return METRIC(text, "ringkv_requests_total", o, p, e);
}

/* ---- TTL ---- */

Test(http_ttl, a_value_with_ttl_seconds_1_is_404_after_a_second_and_its_version_counts_on)
{
    struct http_client c;
    cr_assert(http_client_open(&c, srv.http_port, 5000));
    uint64_t before = wall_ms();
    long long v;
    cr_assert_eq(put(&c, "/kv/short", ",\"ttl_seconds\":1", &v), 200);
    cr_assert_eq(v, 1);
    cr_assert_eq(put(&c, "/kv/forever", NULL, NULL), 200);
    cr_assert_eq(get_status(&c, "/kv/short"), 200, "visible before its second is up");
    int status = 200;
    uint64_t seen_404_ms = 0;
    for (int i = 0; i < 60 && status == 200; i++) {
        status = get_status(&c, "/kv/short");
        seen_404_ms = wall_ms();
        if (status == 200)
            sleep_ms(50);
    }
    cr_assert_eq(status, 404, "expired within 3 s");
    cr_assert_geq(seen_404_ms - before, 1000u, "not hidden before ttl_seconds * 1000 ms");
    cr_assert_eq(get_status(&c, "/kv/forever"), 200, "a value without ttl stays");
    /* The sweeper (every 10 s by default) has not run since: the expired record still
     * counts, so the next write is version 2. */
    cr_assert_eq(put(&c, "/kv/short", NULL, &v), 200);
    cr_assert_eq(v, 2);
    cr_assert_eq(get_status(&c, "/kv/short"), 200);
    http_client_close(&c);
}

/* ---- the sweeper ---- */

enum { SWEEP_TTL_KEYS = 20, SWEEP_DEL_KEYS = 10 };

Test(http_sweep, expired_and_deleted_keys_are_swept_then_purged_and_start_again_at_version_1)
{
    struct vnode_ring *ring;
    cr_assert_eq(vnode_ring_build("test", RKV_VNODES_DEFAULT, &ring), RKV_OK);
    int ttl_on_shard[2] = { 0, 0 };
    struct http_client c;
    cr_assert(http_client_open(&c, srv.http_port, 5000));
    char *m0 = metrics_fetch(&c);
    double swept0 = METRIC_ALL(m0, "ringkv_storage_expired_swept_total");
    double purged0 = METRIC_ALL(m0, "ringkv_storage_tombstones_purged_total");
    double passes0 = METRIC_ALL(m0, "ringkv_storage_sweep_passes_total");
    free(m0);
    cr_assert_eq(swept0, 0);
    cr_assert_eq(purged0, 0);
    for (int i = 0; i < SWEEP_TTL_KEYS; i++) {
        char t[48], key[32];
        snprintf(key, sizeof key, "ttl-%d", i);
        snprintf(t, sizeof t, "/kv/%s", key);
        long long v;
        cr_assert_eq(put(&c, t, ",\"ttl_seconds\":1", &v), 200);
        cr_assert_eq(v, 1);
        ttl_on_shard[shard_of(ring, key)]++;
    }
    for (int i = 0; i < SWEEP_DEL_KEYS; i++) {
        char t[32];
        snprintf(t, sizeof t, "/kv/del-%d", i);
        cr_assert_eq(put(&c, t, NULL, NULL), 200);
        struct http_client_resp r = call(&c, "DELETE", t, NULL);
        cr_assert_eq(r.status, 204);
        http_client_resp_free(&r);
    }
    vnode_ring_free(ring);
    cr_assert(ttl_on_shard[0] > 0 && ttl_on_shard[1] > 0, "expiring keys on both shards");

    /* Poll: every expired key is swept exactly once, then every tombstone (swept ones and
     * deletes) purged exactly once; never more. */
    double swept = 0, purged = 0;
    uint64_t t0 = mono_ms();
    bool swept_per_shard_ok = false;
    while (mono_ms() - t0 < 20000u) {
        char *m = metrics_fetch(&c);
        swept = METRIC_ALL(m, "ringkv_storage_expired_swept_total");
        purged = METRIC_ALL(m, "ringkv_storage_tombstones_purged_total");
        if (swept == SWEEP_TTL_KEYS)
            swept_per_shard_ok = METRIC(m, "ringkv_storage_expired_swept_total", "shard=\"0\"") == ttl_on_shard[0] &&
                                 METRIC(m, "ringkv_storage_expired_swept_total", "shard=\"1\"") == ttl_on_shard[1];
        double passes = METRIC_ALL(m, "ringkv_storage_sweep_passes_total");
        free(m);
        cr_assert_leq(swept, SWEEP_TTL_KEYS, "no record swept twice");
        cr_assert_leq(purged, SWEEP_TTL_KEYS + SWEEP_DEL_KEYS, "no tombstone purged twice");
        if (swept == SWEEP_TTL_KEYS && purged == SWEEP_TTL_KEYS + SWEEP_DEL_KEYS) {
            cr_assert_gt(passes, passes0, "passes were counted");
            break;
        }
        sleep_ms(200);
    }
    cr_assert_eq(swept, SWEEP_TTL_KEYS, "every expired key swept within 20 s (%.0f)", swept);
    cr_assert_eq(purged, SWEEP_TTL_KEYS + SWEEP_DEL_KEYS, "every tombstone purged within 20 s (%.0f)", purged);
    cr_assert(swept_per_shard_ok, "each shard swept its own keys (%d, %d)", ttl_on_shard[0], ttl_on_shard[1]);

    /* A purge forgets the key, version included (docs/storage.md §8). */
    for (int i = 0; i < SWEEP_TTL_KEYS; i++) {
        char t[32];
        snprintf(t, sizeof t, "/kv/ttl-%d", i);
        cr_assert_eq(get_status(&c, t), 404);
        long long v;
        cr_assert_eq(put(&c, t, NULL, &v), 200);
        cr_assert_eq(v, 1, "%s starts again at version 1", t);
    }
    for (int i = 0; i < SWEEP_DEL_KEYS; i++) {
        char t[32];
        snprintf(t, sizeof t, "/kv/del-%d", i);
        long long v;
        cr_assert_eq(put(&c, t, ",\"if_version\":0", &v), 200);
        cr_assert_eq(v, 1, "%s starts again at version 1", t);
    }
    /* Live keys without a TTL are never swept: the counters stay put over another pass. */
    sleep_ms(1500);
    char *m = metrics_fetch(&c);
    cr_assert_eq(METRIC_ALL(m, "ringkv_storage_expired_swept_total"), SWEEP_TTL_KEYS);
    cr_assert_eq(METRIC_ALL(m, "ringkv_storage_tombstones_purged_total"), SWEEP_TTL_KEYS + SWEEP_DEL_KEYS);
    free(m);
    http_client_close(&c);
}

/* ---- /metrics ---- */

Test(http_metrics, every_sample_line_parses_and_belongs_to_a_declared_metric)
{
    struct http_client c;
    cr_assert(http_client_open(&c, srv.http_port, 5000));
    char *m = metrics_fetch(&c);
    int samples = 0;
    for (const char *line = m; *line != '\0';) {
        const char *end = strchr(line, '\n');
        cr_assert_not_null(end);
        if (*line != '#') {
            size_t name_bytes = strcspn(line, "{ ");
            char name[128];
            cr_assert_lt(name_bytes, sizeof name);
            memcpy(name, line, name_bytes);
            name[name_bytes] = '\0';
            /* A histogram's samples are declared under the base name. */
            char base[128];
            snprintf(base, sizeof base, "%s", name);
            static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
            char decl[160];
            snprintf(decl, sizeof decl, "# TYPE %s ", name);
            if (strstr(m, decl) == NULL) {
                for (size_t s = 0; s < 3; s++) {
                    size_t bl = strlen(base), sl = strlen(suffixes[s]);
                    if (bl > sl && strcmp(base + bl - sl, suffixes[s]) == 0) {
                        base[bl - sl] = '\0';
                        break;
                    }
                }
                snprintf(decl, sizeof decl, "# TYPE %s histogram", base);
                cr_assert_not_null(strstr(m, decl), "%s is declared", name);
            }
            samples++;
        }
        line = end + 1;
    }
    cr_assert_gt(samples, 50);
    /* The node's identity and both shards. */
    cr_assert_eq(METRIC(m, "ringkv_info", "node_id=\"test\"", "shards=\"2\""), 1);
    int n;
    (void)metrics_sum_n(m, "ringkv_shard_loop_turns_total", NULL, 0, &n);
    cr_assert_eq(n, 2, "one loop-turn counter per shard");
    cr_assert_gt(METRIC_ALL(m, "ringkv_storage_cache_max_bytes"), 0);
    free(m);
    http_client_close(&c);
}

Test(http_metrics, a_scripted_set_of_requests_moves_exactly_its_counters)
{
    struct http_client c;
    cr_assert(http_client_open(&c, srv.http_port, 5000));
    /* Writes before the baseline, so that the binary GETs below find their keys. */
    for (int i = 0; i < 4; i++) {
        char t[32];
        snprintf(t, sizeof t, "/kv/pre-%d", i);
        cr_assert_eq(put(&c, t, NULL, NULL), 200);
    }
    enum ringkv_err err;
    ringkv_client *b = ringkv_connect(srv.addr, 5000, &err);
    cr_assert_not_null(b);
    cr_assert_eq(ringkv_ping(b, NULL), RINGKV_OK);
    /* Three more HTTP connections, each known to be accepted once it has an answer. */
    struct http_client extra[3];
    for (int i = 0; i < 3; i++) {
        cr_assert(http_client_open(&extra[i], srv.http_port, 5000));
        cr_assert_eq(get_status(&extra[i], "/health"), 200);
    }

    char *before = metrics_fetch(&c);
    cr_assert_geq(METRIC(before, "ringkv_connections", "protocol=\"http\""), 4, "this connection and three more");
    cr_assert_geq(METRIC(before, "ringkv_connections", "protocol=\"binary\""), 1);

    /* The script. */
    enum { HTTP_PUT_OK = 7, HTTP_GET_NOT_FOUND = 5, BIN_GET_OK = 4, HTTP_GET_OK = 3, HTTP_DELETE = 2,
           BIN_PUT_OK = 2, HTTP_PUT_MISMATCH = 1, HTTP_PUT_BAD = 2, BIN_GET_NOT_FOUND = 1, HTTP_HEALTH = 2 };
    for (int i = 0; i < HTTP_PUT_OK; i++) {
        char t[32];
        snprintf(t, sizeof t, "/kv/m-%d", i);
        cr_assert_eq(put(&c, t, NULL, NULL), 200);
    }
    for (int i = 0; i < HTTP_GET_NOT_FOUND; i++) {
        char t[32];
        snprintf(t, sizeof t, "/kv/absent-%d", i);
        cr_assert_eq(get_status(&c, t), 404);
    }
    for (int i = 0; i < BIN_GET_OK; i++) {
        char k[32];
        snprintf(k, sizeof k, "pre-%d", i);
        cr_assert_eq(ringkv_get(b, k, strlen(k), NULL, NULL), RINGKV_OK);
    }
    for (int i = 0; i < HTTP_GET_OK; i++)
        cr_assert_eq(get_status(&c, "/kv/m-0"), 200);
    for (int i = 0; i < HTTP_DELETE; i++) {
        struct http_client_resp r = call(&c, "DELETE", "/kv/m-1", NULL);
        cr_assert_eq(r.status, 204);
        http_client_resp_free(&r);
    }
    for (int i = 0; i < BIN_PUT_OK; i++)
        cr_assert_eq(ringkv_put(b, "bin", 3, "v", 1, NULL, NULL), RINGKV_OK);
    cr_assert_eq(put(&c, "/kv/m-2", ",\"if_version\":9", NULL), 412);
    for (int i = 0; i < HTTP_PUT_BAD; i++) {
        struct http_client_resp r = call(&c, "PUT", "/kv/m-3", "{\"value\":\"YQ\"}");
        cr_assert_eq(r.status, 400);
        http_client_resp_free(&r);
    }
    cr_assert_eq(ringkv_get(b, "absent", 6, NULL, NULL), RINGKV_NOT_FOUND);
    for (int i = 0; i < HTTP_HEALTH; i++)
        cr_assert_eq(get_status(&c, "/health"), 200);

    char *after = metrics_fetch(&c);
    double d;
#define DELTA(op, proto, outcome) (requests(after, op, proto, outcome) - requests(before, op, proto, outcome))
    cr_assert_eq(d = DELTA("put", "http", "ok"), HTTP_PUT_OK, "http put ok: %.0f", d);
    cr_assert_eq(d = DELTA("get", "http", "not_found"), HTTP_GET_NOT_FOUND, "http get not_found: %.0f", d);
    cr_assert_eq(d = DELTA("get", "binary", "ok"), BIN_GET_OK, "binary get ok: %.0f", d);
    cr_assert_eq(d = DELTA("get", "http", "ok"), HTTP_GET_OK, "http get ok: %.0f", d);
    cr_assert_eq(d = DELTA("delete", "http", "ok"), HTTP_DELETE, "http delete ok: %.0f", d);
    cr_assert_eq(d = DELTA("put", "binary", "ok"), BIN_PUT_OK, "binary put ok: %.0f", d);
    cr_assert_eq(d = DELTA("put", "http", "version_mismatch"), HTTP_PUT_MISMATCH, "http put mismatch: %.0f", d);
    /* A request the HTTP codec refuses is counted under its operation as invalid_arg. */
    cr_assert_eq(d = DELTA("put", "http", "invalid_arg"), HTTP_PUT_BAD, "http put refused: %.0f", d);
    cr_assert_eq(d = DELTA("get", "binary", "not_found"), BIN_GET_NOT_FOUND, "binary get not_found: %.0f", d);
    cr_assert_eq(d = DELTA("delete", "binary", "ok"), 0, "binary delete: %.0f", d);
    /* Admin: the baseline /metrics (counted as it was answered, after its text was made)
     * and the /health calls. */
    cr_assert_eq(d = DELTA("admin", "http", "ok"), 1 + HTTP_HEALTH, "http admin ok: %.0f", d);
    /* Every request of the script, no more. */
    double all = METRIC_ALL(after, "ringkv_requests_total") - METRIC_ALL(before, "ringkv_requests_total");
    cr_assert_eq(all, HTTP_PUT_OK + HTTP_GET_NOT_FOUND + BIN_GET_OK + HTTP_GET_OK + HTTP_DELETE + BIN_PUT_OK +
                          HTTP_PUT_MISMATCH + HTTP_PUT_BAD + BIN_GET_NOT_FOUND + 1 + HTTP_HEALTH,
                 "all requests: %.0f", all);
#undef DELTA

    /* Latency histograms: one sample per PUT and GET the node executed (the refused PUTs
     * never reached it), and the +Inf bucket equals the count. */
    double put_count = METRIC(after, "ringkv_request_duration_seconds_count", "op=\"put\"") -
                       METRIC(before, "ringkv_request_duration_seconds_count", "op=\"put\"");
    cr_assert_geq(put_count, HTTP_PUT_OK);
    cr_assert_eq(put_count, HTTP_PUT_OK + BIN_PUT_OK + HTTP_PUT_MISMATCH, "put latency samples: %.0f", put_count);
    double get_count = METRIC(after, "ringkv_request_duration_seconds_count", "op=\"get\"") -
                       METRIC(before, "ringkv_request_duration_seconds_count", "op=\"get\"");
    cr_assert_eq(get_count, HTTP_GET_NOT_FOUND + BIN_GET_OK + HTTP_GET_OK + BIN_GET_NOT_FOUND, "get samples: %.0f", get_count);
    cr_assert_eq(METRIC(after, "ringkv_request_duration_seconds_bucket", "op=\"put\"", "le=\"+Inf\""),
                 METRIC(after, "ringkv_request_duration_seconds_count", "op=\"put\""));

    /* Writes were made durable: the group commit flushed the log. */
    cr_assert_gt(METRIC_ALL(after, "ringkv_storage_log_flushes_total"),
                 METRIC_ALL(before, "ringkv_storage_log_flushes_total"));
    double flush_count = METRIC_ALL(after, "ringkv_storage_log_flush_duration_seconds_count");
    cr_assert_eq(flush_count, METRIC_ALL(after, "ringkv_storage_log_flushes_total"), "one duration sample per flush");

    /* Bytes: at least what this script's HTTP requests carried in; answers counted as sent. */
    cr_assert_gt(METRIC_ALL(after, "ringkv_bytes_received_total"), METRIC_ALL(before, "ringkv_bytes_received_total") + 1000);
    cr_assert_gt(METRIC_ALL(after, "ringkv_bytes_sent_total"), METRIC_ALL(before, "ringkv_bytes_sent_total") + 1000);
    free(before);
    free(after);

    /* Connections: the three extra HTTP ones and the binary one close; the gauge follows. */
    for (int i = 0; i < 3; i++)
        http_client_close(&extra[i]);
    ringkv_close(b);
    double http_conns = -1, bin_conns = -1;
    for (int i = 0; i < 40; i++) {
        char *m = metrics_fetch(&c);
        http_conns = METRIC(m, "ringkv_connections", "protocol=\"http\"");
        bin_conns = METRIC(m, "ringkv_connections", "protocol=\"binary\"");
        free(m);
        if (http_conns == 1 && bin_conns == 0)
            break;
        sleep_ms(50);
    }
    cr_assert_eq(http_conns, 1, "only this connection is left open: %.0f", http_conns);
    cr_assert_eq(bin_conns, 0, "%.0f", bin_conns);
    http_client_close(&c);
}

Test(http_metrics, bytes_counters_cover_what_was_sent_and_received)
{
    struct http_client c;
    cr_assert(http_client_open(&c, srv.http_port, 5000));
    char *before = metrics_fetch(&c);
    size_t sent = 0, received = 0;
    /* A few large requests dwarf everything else, so the check is about them. */
    size_t vb = 300000;
    uint8_t *v = calloc(1, vb);
    cr_assert_not_null(v);
    size_t cap = sodium_base64_ENCODED_LEN(vb, sodium_base64_VARIANT_ORIGINAL);
    char *body = malloc(cap + 32);
    cr_assert_not_null(body);
    strcpy(body, "{\"value\":\"");
    sodium_bin2base64(body + strlen(body), cap, v, vb, sodium_base64_VARIANT_ORIGINAL);
    strcat(body, "\"}");
    for (int i = 0; i < 3; i++) {
        struct http_client_resp r = call(&c, "PUT", "/kv/bytes", body);
        cr_assert_eq(r.status, 200);
        sent += strlen(body);
        http_client_resp_free(&r);
        r = call(&c, "GET", "/kv/bytes", NULL);
        cr_assert_eq(r.status, 200);
        received += r.head_bytes + r.body_bytes;
        http_client_resp_free(&r);
    }
    free(body);
    free(v);
    double in = 0, out = 0;
    for (int i = 0; i < 40; i++) {
        char *after = metrics_fetch(&c);
        in = METRIC_ALL(after, "ringkv_bytes_received_total") - METRIC_ALL(before, "ringkv_bytes_received_total");
        out = METRIC_ALL(after, "ringkv_bytes_sent_total") - METRIC_ALL(before, "ringkv_bytes_sent_total");
        free(after);
        if (in >= (double)sent && out >= (double)received)
            break;
        sleep_ms(50);
    }
    cr_assert_geq(in, (double)sent, "bytes in %.0f >= %zu", in, sent);
    cr_assert_geq(out, (double)received, "bytes out %.0f >= %zu", out, received);
    /* ... and not wildly more: headers and the few /metrics pages are small beside them. */
    cr_assert_lt(in, (double)sent + 100000, "bytes in %.0f", in);
    free(before);
    http_client_close(&c);
}

/* ---- slow clients ---- */

Test(http_slow, stalled_and_trickling_requests_are_closed_after_10_s_while_others_are_served)
{
    struct http_client mid_head, mid_body, trickle, idle, live;
    cr_assert(http_client_open(&mid_head, srv.http_port, 5000));
    cr_assert(http_client_open(&mid_body, srv.http_port, 5000));
    cr_assert(http_client_open(&trickle, srv.http_port, 5000));
    cr_assert(http_client_open(&idle, srv.http_port, 5000));
    cr_assert(http_client_open(&live, srv.http_port, 5000));
    uint64_t t0 = mono_ms();
    const char *head_part = "PUT /kv/slow HTTP/1.1\r\nHost: t\r\nContent-Le";
    const char *body_part = "PUT /kv/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\n\r\n{\"value\":";
    cr_assert(http_client_send(&mid_head, head_part, strlen(head_part), IO_MS));
    cr_assert(http_client_send(&mid_body, body_part, strlen(body_part), IO_MS));
    /* The trickler sends one byte of an endless header every 400 ms. */
    const char *trickle_head = "GET /health HTTP/1.1\r\nX-Slow: ";
    cr_assert(http_client_send(&trickle, trickle_head, strlen(trickle_head), IO_MS));

    uint64_t closed_at[3] = { 0, 0, 0 };
    struct http_client *stalled[3] = { &mid_head, &mid_body, &trickle };
    int served = 0;
    uint64_t last_trickle = 0;
    while (mono_ms() - t0 < 15000u && (closed_at[0] == 0 || closed_at[1] == 0 || closed_at[2] == 0)) {
        uint64_t now = mono_ms();
        if (closed_at[2] == 0 && now - last_trickle >= 400u) {
            (void)http_client_send(&trickle, "p", 1, 100);
            last_trickle = now;
        }
        /* The live connection is served meanwhile, promptly. */
        uint64_t q0 = mono_ms();
        cr_assert_eq(get_status(&live, "/health"), 200);
        cr_assert_lt(mono_ms() - q0, 1000u, "an answer within 1 s while others stall");
        served++;
        for (int i = 0; i < 3; i++)
            if (closed_at[i] == 0 && http_client_wait_closed(stalled[i], 30))
                closed_at[i] = mono_ms();
        sleep_ms(50);
    }
    for (int i = 0; i < 3; i++) {
        cr_assert_neq(closed_at[i], 0, "stalled client %d closed within 15 s", i);
        cr_assert_geq(closed_at[i] - t0, 9000u, "client %d not closed before ~10 s (%llu ms)", i,
                      (unsigned long long)(closed_at[i] - t0));
        cr_assert_eq(stalled[i]->len, 0, "client %d got no answer, only the close", i);
    }
    cr_assert_gt(served, 50);
    /* A connection that sent nothing is idle, not slow: it is still served. */
    cr_assert_eq(get_status(&idle, "/health"), 200);
    char *m = metrics_fetch(&live);
    cr_assert_eq(METRIC(m, "ringkv_connections_closed_total", "reason=\"slow\""), 3);
    free(m);
    /* Nothing was written by the stalled PUTs. */
    cr_assert_eq(get_status(&live, "/kv/slow"), 404);
    for (int i = 0; i < 3; i++)
        http_client_close(stalled[i]);
    http_client_close(&idle);
    http_client_close(&live);
}
