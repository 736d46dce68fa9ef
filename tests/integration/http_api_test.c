/* The HTTP/JSON API of docs/http.md, over real sockets against a real two-shard node: every
 * route, field, status and error code; the limits at their boundaries (keys of 256 and 257
 * bytes, values of 1 MiB and 1 MiB + 1, header blocks of 8192 and 8193 bytes, 64 and 65
 * header fields); percent-encoded and binary keys with their exact JSON escaping, and the
 * same keys through the binary protocol; keep-alive, Connection: close, HTTP/1.0;
 * pipelining in request order; half-open and stalled clients. TTL, the sweeper, /metrics
 * and the slow-client timeout are in http_lifecycle_test.c. Every wait is bounded. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/limits.h"
#include "net/http.h"
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

static void stop_node(void)
{
    test_server_cleanup(&srv);
}

TestSuite(http_api, .init = start_node, .fini = stop_node, .timeout = 60);

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

static void open_conn(struct http_client *c)
{
    cr_assert(http_client_open(c, srv.http_port, 5000), "connect to the HTTP port");
}

/* Sends one request on c and reads its answer; the test fails when no whole answer comes. */
static struct http_client_resp call(struct http_client *c, const char *method, const char *target,
                                    const char *headers, const char *body)
{
    struct http_client_resp r;
    cr_assert(http_client_send_request(c, method, target, headers, body, body ? strlen(body) : 0, IO_MS),
              "send %s %s", method, target);
    cr_assert(http_client_recv(c, &r, IO_MS), "an answer to %s %s", method, target);
    return r;
}

static void send_raw(struct http_client *c, const char *bytes)
{
    cr_assert(http_client_send(c, bytes, strlen(bytes), IO_MS));
}

static struct http_client_resp recv_resp(struct http_client *c)
{
    struct http_client_resp r;
    cr_assert(http_client_recv(c, &r, IO_MS), "an answer");
    return r;
}

static json_t *body_json(const struct http_client_resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_bytes, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    cr_assert_not_null(j, "the body is JSON: %s (%s)", e.text, r->body);
    cr_assert(json_is_object(j), "the body is a JSON object: %s", r->body);
    return j;
}

static long long json_int(json_t *o, const char *field)
{
    json_t *v = json_object_get(o, field);
    cr_assert(json_is_integer(v), "\"%s\" is an integer", field);
    return json_integer_value(v);
}

static const char *json_str(json_t *o, const char *field)
{
    json_t *v = json_object_get(o, field);
    cr_assert(json_is_string(v), "\"%s\" is a string", field);
    return json_string_value(v);
}

static void expect_header(const struct http_client_resp *r, const char *name, const char *value)
{
    char got[256];
    cr_assert(http_client_header(r, name, got, sizeof got), "header %s present in:\n%s", name, r->head);
    cr_assert_str_eq(got, value, "header %s: \"%s\", expected \"%s\"", name, got, value);
}

static void expect_no_header(const struct http_client_resp *r, const char *name)
{
    char got[256];
    cr_assert(!http_client_header(r, name, got, sizeof got), "no header %s in:\n%s", name, r->head);
}

/* The X-Ringkv-Consistency header of a KV answer names the requested level, one needed
 * replica and no hints. How many acked is left to callers that check it exactly. */
static void expect_consistency_level(const struct http_client_resp *r, const char *level)
{
    char got[256], prefix[64];
    cr_assert(http_client_header(r, "X-Ringkv-Consistency", got, sizeof got), "the header in:\n%s", r->head);
    snprintf(prefix, sizeof prefix, "requested=%s acked=", level);
    cr_assert(strncmp(got, prefix, strlen(prefix)) == 0, "\"%s\" starts with \"%s\"", got, prefix);
    size_t n = strlen(got);
    cr_assert(n > strlen(prefix) + 11 && strcmp(got + n - 11, "/1 hinted=0") == 0, "\"%s\" needs 1, no hints", got);
}

/* The documented error answer: status, JSON {"error": code, "message": one sentence}. */
static void expect_error(const struct http_client_resp *r, int status, const char *code)
{
    cr_assert_eq(r->status, status, "status %d for %s, got:\n%s%s", status, code, r->head, r->body);
    expect_header(r, "Content-Type", "application/json");
    json_t *j = body_json(r);
    cr_assert_str_eq(json_str(j, "error"), code, "body: %s", r->body);
    cr_assert_gt(strlen(json_str(j, "message")), 0);
    json_decref(j);
}

/* A fresh connection, one request, its error, and whether the server closed afterwards. */
static void expect_error_and_close(const char *raw, int status, const char *code, bool closes)
{
    struct http_client c;
    open_conn(&c);
    send_raw(&c, raw);
    struct http_client_resp r = recv_resp(&c);
    expect_error(&r, status, code);
    expect_header(&r, "Connection", closes ? "close" : "keep-alive");
    if (closes)
        cr_assert(http_client_wait_closed(&c, 3000), "the server closes after %d %s", status, code);
    http_client_resp_free(&r);
    http_client_close(&c);
}

static char *b64_of(const uint8_t *v, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    cr_assert_not_null(s);
    sodium_bin2base64(s, cap, v, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* Decodes base64 that the server sent; the test fails on anything else. */
static uint8_t *b64_decode(const char *s, size_t *n_out)
{
    size_t len = strlen(s);
    uint8_t *v = malloc(len + 1);
    cr_assert_not_null(v);
    cr_assert_eq(sodium_base642bin(v, len + 1, s, len, NULL, n_out, NULL, sodium_base64_VARIANT_ORIGINAL), 0,
                 "padded standard base64: %.40s", s);
    return v;
}

/* {"value":"<b64 of s>"<extra>} */
static char *put_body_str(const char *value, const char *extra)
{
    char *b = b64_of((const uint8_t *)value, strlen(value));
    size_t cap = strlen(b) + (extra ? strlen(extra) : 0) + 32;
    char *body = malloc(cap);
    cr_assert_not_null(body);
    snprintf(body, cap, "{\"value\":\"%s\"%s}", b, extra ? extra : "");
    free(b);
    return body;
}

/* PUT target with the value s; returns the answer. */
static struct http_client_resp put_str(struct http_client *c, const char *target, const char *value, const char *extra)
{
    char *body = put_body_str(value, extra);
    struct http_client_resp r = call(c, "PUT", target, NULL, body);
    free(body);
    return r;
}

/* Percent-encodes key bytes after "/kv/": upper-case hex when `upper`, and bytes that may
 * travel raw (printable ASCII other than space, '%', '?', '#') raw when `raw_printable`. */
static char *kv_target(const uint8_t *key, size_t n, bool raw_printable, bool upper, const char *query)
{
    size_t cap = 4 + n * 3 + (query ? strlen(query) : 0) + 2;
    char *t = malloc(cap);
    cr_assert_not_null(t);
    const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t k = (size_t)snprintf(t, cap, "/kv/");
    for (size_t i = 0; i < n; i++) {
        uint8_t b = key[i];
        if (raw_printable && b > 0x20 && b < 0x7f && b != '%' && b != '?' && b != '#') {
            t[k++] = (char)b;
        } else {
            t[k++] = '%';
            t[k++] = hex[b >> 4];
            t[k++] = hex[b & 15];
        }
    }
    t[k] = '\0';
    if (query) {
        strcat(t, "?");
        strcat(t, query);
    }
    return t;
}

/* The documented escaping of a key in a response: the JSON string, quotes included. */
static char *expected_json_key(const uint8_t *key, size_t n)
{
    char *s = malloc(n * 6 + 3);
    cr_assert_not_null(s);
    size_t k = 0;
    s[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t b = key[i];
        if (b == '"' || b == '\\') {
            s[k++] = '\\';
            s[k++] = (char)b;
        } else if (b >= 0x20 && b <= 0x7e) {
            s[k++] = (char)b;
        } else {
            k += (size_t)sprintf(s + k, "\\u00%02x", b);
        }
    }
    s[k++] = '"';
    s[k] = '\0';
    return s;
}

/* The key field read as a client would: JSON-decoded, then each code point as one Latin-1
 * byte. Fails on a code point above U+00FF. */
static size_t json_key_bytes(json_t *o, uint8_t *out, size_t cap)
{
    json_t *v = json_object_get(o, "key");
    cr_assert(json_is_string(v));
    const uint8_t *u = (const uint8_t *)json_string_value(v);
    size_t len = json_string_length(v), n = 0;
    for (size_t i = 0; i < len; n++) {
        cr_assert_lt(n, cap);
        if (u[i] < 0x80) {
            out[n] = u[i];
            i += 1;
        } else {
            cr_assert(i + 1 < len && (u[i] & 0xe0) == 0xc0, "a code point of at most U+00FF");
            uint32_t cp = (uint32_t)(u[i] & 0x1f) << 6 | (u[i + 1] & 0x3f);
            cr_assert_leq(cp, 0xffu);
            out[n] = (uint8_t)cp;
            i += 2;
        }
    }
    return n;
}

/* The raw "key" field of a response body, as sent: from its opening quote to its closing one. */
static char *raw_json_key(const struct http_client_resp *r)
{
    const char *p = strstr(r->body, "{\"key\":\"");
    cr_assert_not_null(p, "the body starts with the key: %s", r->body);
    p += strlen("{\"key\":");
    const char *q = p + 1;
    while (*q != '"') {
        cr_assert(*q != '\0');
        q += *q == '\\' ? 2 : 1;
    }
    size_t n = (size_t)(q + 1 - p);
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static ringkv_client *bin_connect(void)
{
    enum ringkv_err err;
    ringkv_client *c = ringkv_connect(srv.addr, 5000, &err);
    cr_assert_not_null(c, "binary connect: %s", ringkv_strerror(err));
    return c;
}

/* The shard that serves key on this node (node id "test", default vnodes, 2 shards). */
static uint32_t shard_of(const struct vnode_ring *ring, const char *key)
{
    return vnode_shard(vnode_ring_lookup(ring, token_of_key((const uint8_t *)key, strlen(key))), 2);
}

/* ---- round trips ---- */

Test(http_api, put_get_delete_round_trip_with_versions_and_timestamps_in_ms)
{
    struct http_client c;
    open_conn(&c);
    uint64_t before = wall_ms();
    struct http_client_resp r = call(&c, "PUT", "/kv/hello", NULL, "{\"value\":\"d29ybGQ=\"}");
    uint64_t after = wall_ms();
    cr_assert_eq(r.status, 200, "%s%s", r.head, r.body);
    expect_header(&r, "Content-Type", "application/json");
    expect_header(&r, "Connection", "keep-alive");
    expect_header(&r, "X-Ringkv-Consistency", "requested=quorum acked=1/1 hinted=0");
    json_t *j = body_json(&r);
    cr_assert_eq(json_object_size(j), 3, "key, version, timestamp: %s", r.body);
    cr_assert_str_eq(json_str(j, "key"), "hello");
    cr_assert_eq(json_int(j, "version"), 1);
    long long ts1 = json_int(j, "timestamp");
    cr_assert(ts1 >= (long long)before - 1000 && ts1 <= (long long)after + 1000,
              "timestamp %lld is ms since the epoch, near %llu", ts1, (unsigned long long)before);
    json_decref(j);
    http_client_resp_free(&r);

    r = call(&c, "GET", "/kv/hello", NULL, NULL);
    cr_assert_eq(r.status, 200);
    expect_header(&r, "X-Ringkv-Consistency", "requested=quorum acked=1/1 hinted=0");
    j = body_json(&r);
    cr_assert_eq(json_object_size(j), 4, "key, value, version, timestamp: %s", r.body);
    cr_assert_str_eq(json_str(j, "key"), "hello");
    cr_assert_str_eq(json_str(j, "value"), "d29ybGQ=");
    cr_assert_eq(json_int(j, "version"), 1);
    cr_assert_eq(json_int(j, "timestamp"), ts1, "a GET shows the write's timestamp");
    json_decref(j);
    http_client_resp_free(&r);

    r = put_str(&c, "/kv/hello", "again", NULL);
    j = body_json(&r);
    cr_assert_eq(json_int(j, "version"), 2);
    cr_assert_geq(json_int(j, "timestamp"), ts1);
    json_decref(j);
    http_client_resp_free(&r);

    r = call(&c, "DELETE", "/kv/hello", NULL, NULL);
    cr_assert_eq(r.status, 204, "%s", r.head);
    cr_assert(!r.has_length, "204 has no Content-Length");
    cr_assert_eq(r.body_bytes, 0);
    expect_header(&r, "X-Ringkv-Consistency", "requested=quorum acked=1/1 hinted=0");
    expect_no_header(&r, "Content-Type");
    http_client_resp_free(&r);

    r = call(&c, "GET", "/kv/hello", NULL, NULL);
    expect_error(&r, 404, "key_not_found");
    expect_consistency_level(&r, "quorum");
    http_client_resp_free(&r);

    /* A delete of a key never written is 204 too (a tombstone either way). */
    r = call(&c, "DELETE", "/kv/never-written", NULL, NULL);
    cr_assert_eq(r.status, 204);
    http_client_resp_free(&r);
    /* The next write continues past the tombstone's version. */
    r = put_str(&c, "/kv/hello", "third", NULL);
    j = body_json(&r);
    cr_assert_eq(json_int(j, "version"), 4, "put 1, put 2, delete 3, put 4");
    json_decref(j);
    http_client_resp_free(&r);
    http_client_close(&c);
}

Test(http_api, empty_value_round_trips_as_an_empty_string)
{
    struct http_client c;
    open_conn(&c);
    struct http_client_resp r = call(&c, "PUT", "/kv/empty", NULL, "{\"value\":\"\"}");
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    r = call(&c, "GET", "/kv/empty", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_str(j, "value"), "");
    json_decref(j);
    http_client_resp_free(&r);
    http_client_close(&c);
}

/* docs/http.md: acked counts, for a read, the replicas that answered; a one-replica node
 * meets every level with acked=1/1. A GET of a missing key was answered by its replica. */
Test(http_api, a_404_get_says_its_one_replica_answered_acked_1_of_1)
{
    struct http_client c;
    open_conn(&c);
    static const char *const levels[] = { "one", "quorum", "all" };
    for (size_t i = 0; i < 3; i++) {
        char target[64], want[96];
        snprintf(target, sizeof target, "/kv/absent?consistency=%s", levels[i]);
        snprintf(want, sizeof want, "requested=%s acked=1/1 hinted=0", levels[i]);
        struct http_client_resp r = call(&c, "GET", target, NULL, NULL);
        expect_error(&r, 404, "key_not_found");
        expect_header(&r, "X-Ringkv-Consistency", want);
        http_client_resp_free(&r);
    }
    http_client_close(&c);
}

Test(http_api, get_of_a_key_never_written_is_404_key_not_found_with_a_json_body)
{
    struct http_client c;
    open_conn(&c);
    struct http_client_resp r = call(&c, "GET", "/kv/never-written", NULL, NULL);
    expect_error(&r, 404, "key_not_found");
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_str(j, "message"), "key not found");
    json_decref(j);
    http_client_resp_free(&r);
    http_client_close(&c);
}

Test(http_api, conditional_puts_follow_the_current_version_through_a_delete)
{
    struct http_client c;
    open_conn(&c);
    struct http_client_resp r = put_str(&c, "/kv/cond", "a", ",\"if_version\":0");
    cr_assert_eq(r.status, 200, "if_version 0 on an absent key: %s", r.body);
    json_t *j = body_json(&r);
    cr_assert_eq(json_int(j, "version"), 1);
    json_decref(j);
    http_client_resp_free(&r);

    r = put_str(&c, "/kv/cond", "b", ",\"if_version\":0");
    expect_error(&r, 412, "version_mismatch");
    j = body_json(&r);
    cr_assert_eq(json_int(j, "current_version"), 1);
    json_decref(j);
    expect_consistency_level(&r, "quorum");
    http_client_resp_free(&r);

    r = put_str(&c, "/kv/cond", "c", ",\"if_version\":1");
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    r = put_str(&c, "/kv/cond", "d", ",\"if_version\":5");
    expect_error(&r, 412, "version_mismatch");
    j = body_json(&r);
    cr_assert_eq(json_int(j, "current_version"), 2);
    json_decref(j);
    http_client_resp_free(&r);

    /* The failed puts wrote nothing. */
    r = call(&c, "GET", "/kv/cond", NULL, NULL);
    j = body_json(&r);
    cr_assert_str_eq(json_str(j, "value"), "Yw==");
    cr_assert_eq(json_int(j, "version"), 2);
    json_decref(j);
    http_client_resp_free(&r);

    /* After a delete (version 3, a tombstone) the current version is 0. */
    r = call(&c, "DELETE", "/kv/cond", NULL, NULL);
    cr_assert_eq(r.status, 204);
    http_client_resp_free(&r);
    r = put_str(&c, "/kv/cond", "e", ",\"if_version\":3");
    expect_error(&r, 412, "version_mismatch");
    j = body_json(&r);
    cr_assert_eq(json_int(j, "current_version"), 0, "a deleted key has no current version");
    json_decref(j);
    http_client_resp_free(&r);
    r = put_str(&c, "/kv/cond", "f", ",\"if_version\":0");
    cr_assert_eq(r.status, 200, "if_version 0 after a delete: %s", r.body);
    j = body_json(&r);
    cr_assert_eq(json_int(j, "version"), 4, "versions count on past the tombstone");
    json_decref(j);
    http_client_resp_free(&r);
    http_client_close(&c);
}

Test(http_api, consistency_from_query_or_body_is_echoed_in_the_header)
{
    static const char *const levels[] = { "one", "quorum", "all" };
    struct http_client c;
    open_conn(&c);
    for (size_t i = 0; i < 3; i++) {
        char target[64], want[96];
        snprintf(target, sizeof target, "/kv/cons?consistency=%s", levels[i]);
        snprintf(want, sizeof want, "requested=%s acked=1/1 hinted=0", levels[i]);
        struct http_client_resp r = put_str(&c, target, "v", NULL);
        cr_assert_eq(r.status, 200);
        expect_header(&r, "X-Ringkv-Consistency", want);
        http_client_resp_free(&r);
        r = call(&c, "GET", target, NULL, NULL);
        cr_assert_eq(r.status, 200);
        expect_header(&r, "X-Ringkv-Consistency", want);
        http_client_resp_free(&r);
        r = call(&c, "DELETE", target, NULL, NULL);
        cr_assert_eq(r.status, 204);
        expect_header(&r, "X-Ringkv-Consistency", want);
        http_client_resp_free(&r);
        /* A GET of the deleted key: the 404 carries the header too. */
        r = call(&c, "GET", target, NULL, NULL);
        expect_error(&r, 404, "key_not_found");
        expect_consistency_level(&r, levels[i]);
        http_client_resp_free(&r);

        char extra[64];
        snprintf(extra, sizeof extra, ",\"consistency\":\"%s\"", levels[i]);
        r = put_str(&c, "/kv/cons", "v", extra);
        cr_assert_eq(r.status, 200, "%s", r.body);
        expect_header(&r, "X-Ringkv-Consistency", want);
        http_client_resp_free(&r);
    }
    /* Empty parameters are skipped. */
    struct http_client_resp r = call(&c, "GET", "/kv/cons?&consistency=one&", NULL, NULL);
    cr_assert_eq(r.status, 200);
    expect_header(&r, "X-Ringkv-Consistency", "requested=one acked=1/1 hinted=0");
    http_client_resp_free(&r);
    /* Names and values are percent-decoded. */
    r = call(&c, "GET", "/kv/cons?consistenc%79=%61ll", NULL, NULL);
    cr_assert_eq(r.status, 200);
    expect_header(&r, "X-Ringkv-Consistency", "requested=all acked=1/1 hinted=0");
    http_client_resp_free(&r);
    http_client_close(&c);
}

/* ---- 400s: every documented fault, on one keep-alive connection that survives them ---- */

struct bad_case {
    const char *method, *target, *body, *code;
};

Test(http_api, every_400_is_its_documented_code_and_keeps_the_connection_open)
{
    char key257[4 + 257 * 3 + 1];
    strcpy(key257, "/kv/");
    for (int i = 0; i < 257; i++)
        strcat(key257, "%41"); /* 771 characters that decode to 257 bytes */
    const struct bad_case cases[] = {
        /* malformed JSON */
        { "PUT", "/kv/a", "{\"value\":", "malformed_json" },
        { "PUT", "/kv/a", "", "malformed_json" },
        { "PUT", "/kv/a", "{\"value\":\"\"} x", "malformed_json" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"value\":\"\"}", "malformed_json" },
        { "PUT", "/kv/a", "{\"value\":\"\\u0000\"}", "malformed_json" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"if_version\":18446744073709551616}", "malformed_json" },
        /* not an object, unknown field, value missing or not a string, bad if_version */
        { "PUT", "/kv/a", "[1]", "bad_request" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"ttl\":5}", "bad_request" },
        { "PUT", "/kv/a", "{\"ttl_seconds\":5}", "bad_request" },
        { "PUT", "/kv/a", "{\"value\":5}", "bad_request" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"if_version\":-1}", "bad_request" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"if_version\":\"3\"}", "bad_request" },
        /* bad base64 */
        { "PUT", "/kv/a", "{\"value\":\"YQ\"}", "bad_base64" },
        { "PUT", "/kv/a", "{\"value\":\"YQ=\"}", "bad_base64" },
        { "PUT", "/kv/a", "{\"value\":\"Y Q=\"}", "bad_base64" },
        { "PUT", "/kv/a", "{\"value\":\"YR==\"}", "bad_base64" },
        { "PUT", "/kv/a", "{\"value\":\"YQ==\\n\"}", "bad_base64" },
        { "PUT", "/kv/a", "{\"value\":\"Y-_=\"}", "bad_base64" },
        /* unknown consistency, twice, in the query or the body */
        { "GET", "/kv/a?consistency=most", NULL, "bad_consistency" },
        { "GET", "/kv/a?consistency=ONE", NULL, "bad_consistency" },
        { "GET", "/kv/a?consistency=", NULL, "bad_consistency" },
        { "DELETE", "/kv/a?consistency=one&consistency=one", NULL, "bad_consistency" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"consistency\":\"most\"}", "bad_consistency" },
        { "PUT", "/kv/a?consistency=one", "{\"value\":\"\",\"consistency\":\"one\"}", "bad_consistency" },
        { "GET", "/kv/a?level=one", NULL, "bad_request" },
        /* bad TTL */
        { "PUT", "/kv/a", "{\"value\":\"\",\"ttl_seconds\":-1}", "bad_ttl" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"ttl_seconds\":315360001}", "bad_ttl" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"ttl_seconds\":1.5}", "bad_ttl" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"ttl_seconds\":10.0}", "bad_ttl" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"ttl_seconds\":\"60\"}", "bad_ttl" },
        { "PUT", "/kv/a", "{\"value\":\"\",\"ttl_seconds\":null}", "bad_ttl" },
        /* keys */
        { "GET", "/kv/", NULL, "key_empty" },
        { "PUT", "/kv/", "{\"value\":\"\"}", "key_empty" },
        { "GET", key257, NULL, "key_too_long" },
        { "PUT", key257, "{\"value\":\"\"}", "key_too_long" },
        { "GET", "/kv/%G1", NULL, "bad_request" },
        { "GET", "/kv/a%4", NULL, "bad_request" },
        { "GET", "/kv/a%", NULL, "bad_request" },
        { "GET", "/kv/a#b", NULL, "bad_request" },
        /* bodies where none belongs; queries where none belongs */
        { "GET", "/kv/a", "{}", "bad_request" },
        { "DELETE", "/kv/a", "{}", "bad_request" },
        { "GET", "/metrics", "x", "bad_request" },
        { "GET", "/health?verbose=1", NULL, "bad_request" },
        { "GET", "/metrics?x", NULL, "bad_request" },
    };
    struct http_client c;
    open_conn(&c);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_case *k = &cases[i];
        struct http_client_resp r = call(&c, k->method, k->target, NULL, k->body);
        cr_assert_eq(r.status, 400, "case %zu: %s %.40s %s -> %d %s", i, k->method, k->target, k->body ? k->body : "",
                     r.status, r.body);
        json_t *j = body_json(&r);
        cr_assert_str_eq(json_str(j, "error"), k->code, "case %zu: %s %.40s %s", i, k->method, k->target,
                         k->body ? k->body : "");
        json_decref(j);
        expect_header(&r, "Connection", "keep-alive");
        http_client_resp_free(&r);
    }
    /* Nothing above was written, and the connection still serves. */
    struct http_client_resp r = call(&c, "GET", "/kv/a", NULL, NULL);
    expect_error(&r, 404, "key_not_found");
    http_client_resp_free(&r);
    http_client_close(&c);
}

Test(http_api, ttl_of_ten_years_is_the_largest_accepted)
{
    struct http_client c;
    open_conn(&c);
    struct http_client_resp r = put_str(&c, "/kv/long-lived", "v", ",\"ttl_seconds\":315360000");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_client_resp_free(&r);
    r = call(&c, "GET", "/kv/long-lived", NULL, NULL);
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    r = put_str(&c, "/kv/long-lived", "v", ",\"ttl_seconds\":0");
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    http_client_close(&c);
}

/* ---- keys of 256 and 257 bytes; every byte value ---- */

Test(http_api, key_of_256_bytes_after_decoding_round_trips_and_257_is_key_too_long)
{
    uint8_t key[257];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)('a' + i % 26);
    struct http_client c;
    open_conn(&c);
    char *t256 = kv_target(key, 256, false, true, NULL); /* 768 characters on the wire */
    struct http_client_resp r = put_str(&c, t256, "v256", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_client_resp_free(&r);
    r = call(&c, "GET", t256, NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    uint8_t got[300];
    cr_assert_eq(json_key_bytes(j, got, sizeof got), 256);
    cr_assert_arr_eq(got, key, 256);
    json_decref(j);
    http_client_resp_free(&r);
    char *t257 = kv_target(key, 257, true, true, NULL); /* 261 characters, raw */
    r = call(&c, "GET", t257, NULL, NULL);
    expect_error(&r, 400, "key_too_long");
    http_client_resp_free(&r);
    free(t256);
    free(t257);
    http_client_close(&c);
}

Test(http_api, every_byte_value_in_keys_round_trips_with_the_documented_escaping)
{
    struct http_client c;
    open_conn(&c);
    /* Key i is the bytes {i, 'x', i}: every byte value, first and inside the key. Sent
     * percent-encoded in alternating hex case; written in pipelined batches. */
    enum { BATCH = 32 };
    for (int pass = 0; pass < 2; pass++) {
        for (int base = 0; base < 256; base += BATCH) {
            for (int i = base; i < base + BATCH; i++) {
                uint8_t key[3] = { (uint8_t)i, 'x', (uint8_t)i };
                char *t = kv_target(key, 3, false, i % 2 == 0, NULL);
                if (pass == 0) {
                    uint8_t v[2] = { (uint8_t)i, (uint8_t)(255 - i) };
                    char *b = b64_of(v, 2);
                    char body[64];
                    snprintf(body, sizeof body, "{\"value\":\"%s\"}", b);
                    cr_assert(http_client_send_request(&c, "PUT", t, NULL, body, strlen(body), IO_MS));
                    free(b);
                } else {
                    cr_assert(http_client_send_request(&c, "GET", t, NULL, NULL, 0, IO_MS));
                }
                free(t);
            }
            for (int i = base; i < base + BATCH; i++) {
                uint8_t key[3] = { (uint8_t)i, 'x', (uint8_t)i };
                struct http_client_resp r = recv_resp(&c);
                cr_assert_eq(r.status, 200, "key byte %d: %s", i, r.body);
                char *want = expected_json_key(key, 3);
                char *raw = raw_json_key(&r);
                cr_assert_str_eq(raw, want, "key byte %d is escaped as documented", i);
                json_t *j = body_json(&r);
                uint8_t got[8];
                cr_assert_eq(json_key_bytes(j, got, sizeof got), 3, "byte %d", i);
                cr_assert_arr_eq(got, key, 3, "byte %d decodes back", i);
                cr_assert_eq(json_int(j, "version"), 1);
                if (pass == 1) {
                    size_t n;
                    uint8_t *v = b64_decode(json_str(j, "value"), &n);
                    cr_assert_eq(n, 2);
                    cr_assert_eq(v[0], (uint8_t)i);
                    cr_assert_eq(v[1], (uint8_t)(255 - i));
                    free(v);
                }
                json_decref(j);
                free(want);
                free(raw);
                http_client_resp_free(&r);
            }
        }
    }
    http_client_close(&c);
}

Test(http_api, a_key_of_all_256_byte_values_sent_raw_where_allowed_reads_back_exactly)
{
    uint8_t key[256];
    for (int i = 0; i < 256; i++)
        key[i] = (uint8_t)(255 - i);
    struct http_client c;
    open_conn(&c);
    char *t = kv_target(key, 256, true, false, NULL);
    struct http_client_resp r = put_str(&c, t, "all-bytes", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *want = expected_json_key(key, 256);
    char *raw = raw_json_key(&r);
    cr_assert_str_eq(raw, want);
    free(raw);
    http_client_resp_free(&r);
    r = call(&c, "GET", t, NULL, NULL);
    cr_assert_eq(r.status, 200);
    raw = raw_json_key(&r);
    cr_assert_str_eq(raw, want);
    json_t *j = body_json(&r);
    uint8_t got[300];
    cr_assert_eq(json_key_bytes(j, got, sizeof got), 256);
    cr_assert_arr_eq(got, key, 256);
    json_decref(j);
    free(raw);
    free(want);
    free(t);
    http_client_resp_free(&r);
    /* A raw '/' and '+' stand for themselves: /kv/a/b+c is the key "a/b+c", like a%2Fb%2Bc. */
    r = put_str(&c, "/kv/a/b+c", "slash", NULL);
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    r = call(&c, "GET", "/kv/a%2Fb%2bc", NULL, NULL);
    cr_assert_eq(r.status, 200);
    j = body_json(&r);
    cr_assert_str_eq(json_str(j, "key"), "a/b+c");
    cr_assert_str_eq(json_str(j, "value"), "c2xhc2g=");
    json_decref(j);
    http_client_resp_free(&r);
    http_client_close(&c);
}

Test(http_api, binary_keys_written_over_http_read_back_over_the_binary_protocol_and_back)
{
    struct http_client c;
    open_conn(&c);
    ringkv_client *b = bin_connect();
    for (int i = 0; i < 16; i++) {
        /* HTTP -> binary */
        uint8_t key[5] = { 0x00, (uint8_t)(i * 17), '%', (uint8_t)(0xff - i), '/' };
        uint8_t val[4] = { 0xde, 0xad, (uint8_t)i, 0x00 };
        char *t = kv_target(key, sizeof key, true, true, NULL);
        char *b64 = b64_of(val, sizeof val);
        char body[64];
        snprintf(body, sizeof body, "{\"value\":\"%s\"}", b64);
        struct http_client_resp r = call(&c, "PUT", t, NULL, body);
        cr_assert_eq(r.status, 200);
        json_t *j = body_json(&r);
        long long ver = json_int(j, "version"), ts = json_int(j, "timestamp");
        json_decref(j);
        http_client_resp_free(&r);
        struct ringkv_reply rep;
        cr_assert_eq(ringkv_get(b, key, sizeof key, NULL, &rep), RINGKV_OK);
        cr_assert_eq(rep.value_bytes, sizeof val);
        cr_assert_arr_eq(rep.value, val, sizeof val);
        cr_assert_eq((long long)rep.version, ver);
        cr_assert_eq((long long)(rep.timestamp >> 16), ts, "HTTP shows the HLC's physical ms");

        /* binary -> HTTP: overwrite, then read over HTTP */
        uint8_t val2[3] = { 0x01, (uint8_t)i, 0xfe };
        cr_assert_eq(ringkv_put(b, key, sizeof key, val2, sizeof val2, NULL, &rep), RINGKV_OK);
        r = call(&c, "GET", t, NULL, NULL);
        cr_assert_eq(r.status, 200);
        j = body_json(&r);
        size_t n;
        uint8_t *v = b64_decode(json_str(j, "value"), &n);
        cr_assert_eq(n, sizeof val2);
        cr_assert_arr_eq(v, val2, sizeof val2);
        cr_assert_eq(json_int(j, "version"), ver + 1);
        cr_assert_eq(json_int(j, "version"), (long long)rep.version);
        cr_assert_eq(json_int(j, "timestamp"), (long long)(rep.timestamp >> 16));
        uint8_t got[8];
        cr_assert_eq(json_key_bytes(j, got, sizeof got), sizeof key);
        cr_assert_arr_eq(got, key, sizeof key);
        free(v);
        json_decref(j);
        http_client_resp_free(&r);

        /* A binary delete is an HTTP 404. */
        cr_assert_eq(ringkv_delete(b, key, sizeof key, NULL, NULL), RINGKV_OK);
        r = call(&c, "GET", t, NULL, NULL);
        expect_error(&r, 404, "key_not_found");
        http_client_resp_free(&r);
        free(t);
        free(b64);
    }
    ringkv_close(b);
    http_client_close(&c);
}

/* ---- values of 1 MiB and 1 MiB + 1; bodies over the limit ---- */

static char *value_body(size_t value_bytes, uint8_t **value_out)
{
    uint8_t *v = malloc(value_bytes);
    cr_assert_not_null(v);
    for (size_t i = 0; i < value_bytes; i++)
        v[i] = (uint8_t)(i * 131 + (i >> 11));
    char *b = b64_of(v, value_bytes);
    char *body = malloc(strlen(b) + 16);
    cr_assert_not_null(body);
    sprintf(body, "{\"value\":\"%s\"}", b);
    free(b);
    if (value_out)
        *value_out = v;
    else
        free(v);
    return body;
}

Test(http_api, value_of_exactly_1_mib_round_trips_and_1_mib_plus_1_is_413_value_too_long)
{
    struct http_client c;
    open_conn(&c);
    uint8_t *v;
    char *body = value_body(RKV_VALUE_BYTES_MAX, &v);
    struct http_client_resp r = call(&c, "PUT", "/kv/big", NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_client_resp_free(&r);
    free(body);
    r = call(&c, "GET", "/kv/big", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    size_t n;
    uint8_t *got = b64_decode(json_str(j, "value"), &n);
    cr_assert_eq(n, RKV_VALUE_BYTES_MAX);
    cr_assert(memcmp(got, v, n) == 0, "the 1 MiB value reads back byte for byte");
    free(got);
    json_decref(j);
    http_client_resp_free(&r);

    body = value_body(RKV_VALUE_BYTES_MAX + 1, NULL);
    r = call(&c, "PUT", "/kv/big", NULL, body);
    expect_error(&r, 413, "value_too_long");
    expect_header(&r, "Connection", "keep-alive");
    http_client_resp_free(&r);
    free(body);
    /* The refused value left the stored one alone, and the connection serves on. */
    r = call(&c, "GET", "/kv/big", NULL, NULL);
    cr_assert_eq(r.status, 200);
    j = body_json(&r);
    cr_assert_eq(json_int(j, "version"), 1);
    json_decref(j);
    http_client_resp_free(&r);
    free(v);
    http_client_close(&c);
}

Test(http_api, body_at_the_limit_is_read_and_one_byte_over_is_413_body_too_large_and_closes)
{
    /* A body of exactly HTTP_BODY_BYTES_MAX: a 1 MiB value padded with JSON whitespace. */
    char *body = value_body(RKV_VALUE_BYTES_MAX, NULL);
    size_t len = strlen(body);
    cr_assert_leq(len, HTTP_BODY_BYTES_MAX);
    char *padded = malloc(HTTP_BODY_BYTES_MAX + 1);
    cr_assert_not_null(padded);
    memset(padded, ' ', HTTP_BODY_BYTES_MAX);
    memcpy(padded, body, len);
    padded[HTTP_BODY_BYTES_MAX] = '\0';
    struct http_client c;
    open_conn(&c);
    struct http_client_resp r = call(&c, "PUT", "/kv/at-limit", NULL, padded);
    cr_assert_eq(r.status, 200, "a body of %u bytes: %s", HTTP_BODY_BYTES_MAX, r.body);
    http_client_resp_free(&r);
    http_client_close(&c);
    free(padded);
    free(body);

    /* One byte over: refused from the header alone, the body is never read. */
    char head[256];
    snprintf(head, sizeof head, "PUT /kv/over HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n\r\n",
             HTTP_BODY_BYTES_MAX + 1u);
    expect_error_and_close(head, 413, "body_too_large", true);
}

/* ---- routes, methods, framing ---- */

Test(http_api, unknown_paths_are_404_not_found_and_wrong_methods_405)
{
    struct http_client c;
    open_conn(&c);
    static const char *const paths[] = { "/nowhere", "/kv", "/", "/metricsx", "/health/", "/KV/a" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct http_client_resp r = call(&c, "GET", paths[i], NULL, NULL);
        expect_error(&r, 404, "not_found");
        expect_header(&r, "Connection", "keep-alive");
        http_client_resp_free(&r);
    }
    static const char *const wrong[][2] = {
        { "POST", "/kv/a" }, { "PATCH", "/kv/a" }, { "OPTIONS", "/kv/a" },
        { "PUT", "/metrics" }, { "DELETE", "/metrics" }, { "POST", "/health" }, { "PUT", "/health" },
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        struct http_client_resp r = call(&c, wrong[i][0], wrong[i][1], NULL, "{}");
        expect_error(&r, 405, "method_not_allowed");
        expect_header(&r, "Connection", "keep-alive");
        http_client_resp_free(&r);
    }
    /* Only the origin form is served. */
    struct http_client_resp r = call(&c, "GET", "http://127.0.0.1/kv/a", NULL, NULL);
    expect_error(&r, 400, "bad_request");
    http_client_resp_free(&r);
    http_client_close(&c);
    /* HEAD's 405 closes: its answer may not carry the body ours has. */
    expect_error_and_close("HEAD /kv/a HTTP/1.1\r\nHost: t\r\n\r\n", 405, "method_not_allowed", true);
}

Test(http_api, chunked_upload_is_411_and_closes_and_a_put_without_length_is_411_and_stays)
{
    expect_error_and_close("PUT /kv/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "c\r\n{\"value\":\"\"}\r\n0\r\n\r\n",
                           411, "length_required", true);
    struct http_client c;
    open_conn(&c);
    send_raw(&c, "PUT /kv/a HTTP/1.1\r\nHost: t\r\n\r\n");
    struct http_client_resp r = recv_resp(&c);
    expect_error(&r, 411, "length_required");
    expect_header(&r, "Connection", "keep-alive");
    http_client_resp_free(&r);
    r = call(&c, "GET", "/health", NULL, NULL);
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    http_client_close(&c);
}

/* A GET whose header block (request line through the empty line) is exactly `bytes` long. */
static char *head_of_bytes(size_t bytes)
{
    const char *pre = "GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: ";
    const char *post = "\r\n\r\n";
    size_t fixed = strlen(pre) + strlen(post);
    cr_assert_gt(bytes, fixed);
    char *h = malloc(bytes + 1);
    cr_assert_not_null(h);
    strcpy(h, pre);
    memset(h + strlen(pre), 'p', bytes - fixed);
    strcpy(h + bytes - strlen(post), post);
    cr_assert_eq(strlen(h), bytes);
    return h;
}

Test(http_api, header_block_of_8192_bytes_is_served_and_8193_is_431_and_closes)
{
    char *ok = head_of_bytes(HTTP_HEADER_BYTES_MAX);
    struct http_client c;
    open_conn(&c);
    send_raw(&c, ok);
    struct http_client_resp r = recv_resp(&c);
    cr_assert_eq(r.status, 200, "a header block of exactly %u bytes: %s", HTTP_HEADER_BYTES_MAX, r.body);
    http_client_resp_free(&r);
    http_client_close(&c);
    free(ok);

    char *over = head_of_bytes(HTTP_HEADER_BYTES_MAX + 1);
    expect_error_and_close(over, 431, "headers_too_large", true);
    free(over);
    /* Far over, as curl's example sends it. */
    char *far = head_of_bytes(HTTP_HEADER_BYTES_MAX + 1000);
    expect_error_and_close(far, 431, "headers_too_large", true);
    free(far);
}

static char *head_with_fields(unsigned fields)
{
    char *h = malloc(64 + fields * 16);
    cr_assert_not_null(h);
    strcpy(h, "GET /health HTTP/1.1\r\nHost: t\r\n");
    for (unsigned i = 1; i < fields; i++)
        sprintf(h + strlen(h), "X-F%u: v\r\n", i);
    strcat(h, "\r\n");
    return h;
}

Test(http_api, sixty_four_header_fields_are_served_and_sixty_five_are_431_and_close)
{
    char *ok = head_with_fields(HTTP_HEADERS_COUNT_MAX);
    struct http_client c;
    open_conn(&c);
    send_raw(&c, ok);
    struct http_client_resp r = recv_resp(&c);
    cr_assert_eq(r.status, 200, "%u header fields: %s", HTTP_HEADERS_COUNT_MAX, r.body);
    http_client_resp_free(&r);
    http_client_close(&c);
    free(ok);
    char *over = head_with_fields(HTTP_HEADERS_COUNT_MAX + 1);
    expect_error_and_close(over, 431, "headers_too_large", true);
    free(over);
}

Test(http_api, malformed_request_lines_and_versions_are_400_and_close)
{
    expect_error_and_close("GARBAGE\r\n\r\n", 400, "bad_request", true);
    expect_error_and_close("GET /health HTTP/2.0\r\nHost: t\r\n\r\n", 400, "bad_request", true);
    expect_error_and_close("GET /health HTPP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request", true);
    expect_error_and_close("PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
                           400, "bad_request", true);
}

/* ---- /health ---- */

Test(http_api, health_reports_node_id_shard_count_and_uptime)
{
    struct http_client_resp r;
    cr_assert(http_client_call(srv.http_port, "GET", "/health", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 200);
    expect_header(&r, "Content-Type", "application/json");
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_str(j, "status"), "ok");
    cr_assert_str_eq(json_str(j, "node_id"), "test");
    cr_assert_eq(json_int(j, "shards"), 2);
    long long up = json_int(j, "uptime_seconds");
    cr_assert(up >= 0 && up < 60, "uptime %lld s of a node started for this test", up);
    json_decref(j);
    http_client_resp_free(&r);
}

/* ---- connections ---- */

Test(http_api, three_hundred_requests_share_one_keep_alive_connection)
{
    struct http_client c;
    open_conn(&c);
    for (int i = 0; i < 300; i++) {
        char target[32];
        snprintf(target, sizeof target, "/kv/ka-%d", i % 10);
        struct http_client_resp r = i < 10 || i % 3 == 0 ? put_str(&c, target, "v", NULL) : call(&c, "GET", target, NULL, NULL);
        cr_assert_eq(r.status, 200, "request %d: %s", i, r.body);
        expect_header(&r, "Connection", "keep-alive");
        http_client_resp_free(&r);
    }
    cr_assert(!c.eof);
    http_client_close(&c);
}

Test(http_api, connection_close_is_honoured_and_what_follows_it_is_not_answered)
{
    struct http_client c;
    open_conn(&c);
    /* Two requests in one write: the first asks to close, so the second is never read. */
    send_raw(&c, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                 "PUT /kv/after-close HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\n{\"value\":\"\"}");
    struct http_client_resp r = recv_resp(&c);
    cr_assert_eq(r.status, 200);
    expect_header(&r, "Connection", "close");
    http_client_resp_free(&r);
    cr_assert(http_client_wait_closed(&c, 3000), "the server closes after Connection: close");
    cr_assert_eq(c.len, 0, "no second answer: %.*s", (int)c.len, (const char *)c.buf);
    http_client_close(&c);
    cr_assert(http_client_call(srv.http_port, "GET", "/kv/after-close", NULL, NULL, 0, &r));
    expect_error(&r, 404, "key_not_found");
    http_client_resp_free(&r);

    /* A KV answer says close too. */
    open_conn(&c);
    r = call(&c, "GET", "/kv/x", "Connection: close\r\n", NULL);
    expect_error(&r, 404, "key_not_found");
    expect_header(&r, "Connection", "close");
    http_client_resp_free(&r);
    cr_assert(http_client_wait_closed(&c, 3000));
    http_client_close(&c);
}

Test(http_api, a_request_pipelined_after_a_closing_error_is_neither_run_nor_answered)
{
    struct http_client c;
    open_conn(&c);
    /* HEAD is refused with a closing 405: the PUT behind it in the same write must not run,
     * or a client that retries it (as it must after a close) would write twice. */
    send_raw(&c, "HEAD /kv/a HTTP/1.1\r\nHost: t\r\n\r\n"
                 "PUT /kv/after-head HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\n{\"value\":\"\"}");
    struct http_client_resp r = recv_resp(&c);
    cr_assert_eq(r.status, 405);
    expect_header(&r, "Connection", "close");
    http_client_resp_free(&r);
    cr_assert(http_client_wait_closed(&c, 3000), "the server closes after the closing error");
    cr_assert_eq(c.len, 0, "no second answer: %.*s", (int)c.len, (const char *)c.buf);
    http_client_close(&c);
    cr_assert(http_client_call(srv.http_port, "GET", "/kv/after-head", NULL, NULL, 0, &r));
    expect_error(&r, 404, "key_not_found");
    http_client_resp_free(&r);
}

Test(http_api, expect_100_continue_gets_the_interim_answer_before_the_body_is_sent)
{
    struct http_client c;
    open_conn(&c);
    send_raw(&c, "PUT /kv/expecting HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 16\r\n\r\n");
    /* The body is not sent until the server says to go on. */
    struct http_client_resp r = recv_resp(&c);
    cr_assert_eq(r.status, 100, "an interim 100 Continue first, got %d", r.status);
    http_client_resp_free(&r);
    send_raw(&c, "{\"value\":\"eHk=\"}");
    r = recv_resp(&c);
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    /* The connection goes on, and a request without the header gets no interim answer. */
    r = call(&c, "GET", "/kv/expecting", NULL, NULL);
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    http_client_close(&c);
}

Test(http_api, http_1_0_closes_by_default_and_keeps_alive_when_asked)
{
    struct http_client c;
    open_conn(&c);
    send_raw(&c, "GET /kv/ten HTTP/1.0\r\n\r\n");
    struct http_client_resp r = recv_resp(&c);
    expect_error(&r, 404, "key_not_found");
    expect_header(&r, "Connection", "close");
    http_client_resp_free(&r);
    cr_assert(http_client_wait_closed(&c, 3000), "HTTP/1.0 without keep-alive closes");
    http_client_close(&c);

    open_conn(&c);
    send_raw(&c, "PUT /kv/ten HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 16\r\n\r\n{\"value\":\"MTA=\"}");
    r = recv_resp(&c);
    cr_assert_eq(r.status, 200, "%s", r.body);
    expect_header(&r, "Connection", "keep-alive");
    http_client_resp_free(&r);
    send_raw(&c, "GET /kv/ten HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    r = recv_resp(&c);
    cr_assert_eq(r.status, 200);
    expect_header(&r, "Connection", "keep-alive");
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_str(j, "value"), "MTA=");
    json_decref(j);
    http_client_resp_free(&r);
    /* Bare LF line ends are accepted too. */
    send_raw(&c, "GET /health HTTP/1.0\n\n");
    r = recv_resp(&c);
    cr_assert_eq(r.status, 200);
    expect_header(&r, "Connection", "close");
    http_client_resp_free(&r);
    cr_assert(http_client_wait_closed(&c, 3000));
    http_client_close(&c);
}

Test(http_api, empty_lines_before_a_request_a_zero_length_get_body_and_raw_high_bytes_are_served)
{
    struct http_client c;
    open_conn(&c);
    /* Empty lines before a request line are skipped, also between pipelined requests. */
    send_raw(&c, "\r\n\r\nGET /health HTTP/1.1\r\n\r\n\r\nGET /health HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 2; i++) {
        struct http_client_resp r = recv_resp(&c);
        cr_assert_eq(r.status, 200);
        http_client_resp_free(&r);
    }
    /* A GET may carry Content-Length: 0. */
    struct http_client_resp r = call(&c, "GET", "/kv/zero", "Content-Length: 0\r\n", NULL);
    expect_error(&r, 404, "key_not_found");
    http_client_resp_free(&r);
    /* Bytes 0x80..0xff may travel raw in the path; they are the key's bytes. */
    r = put_str(&c, "/kv/caf\xc3\xa9", "raw", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *raw = raw_json_key(&r);
    cr_assert_str_eq(raw, "\"caf\\u00c3\\u00a9\"");
    free(raw);
    http_client_resp_free(&r);
    r = call(&c, "GET", "/kv/caf%C3%A9", NULL, NULL);
    cr_assert_eq(r.status, 200, "the same key percent-encoded");
    http_client_resp_free(&r);
    http_client_close(&c);
}

/* ---- pipelining ---- */

enum { PIPE_KEYS = 12, PIPE_REQS = 200 };

struct pipe_model {
    bool live;
    long long version;
    int value_of;   /* the request index whose PUT wrote the live value */
};

Test(http_api, two_hundred_pipelined_requests_over_both_shards_are_answered_in_order)
{
    struct vnode_ring *ring;
    cr_assert_eq(vnode_ring_build("test", RKV_VNODES_DEFAULT, &ring), RKV_OK);
    char keys[PIPE_KEYS][24];
    int on_shard[2] = { 0, 0 };
    for (int k = 0; k < PIPE_KEYS; k++) {
        snprintf(keys[k], sizeof keys[k], "pipe-%d", k);
        on_shard[shard_of(ring, keys[k])]++;
    }
    vnode_ring_free(ring);
    cr_assert(on_shard[0] > 0 && on_shard[1] > 0, "the keys land on both shards (%d, %d)", on_shard[0], on_shard[1]);

    /* The requests, all in one buffer: op by a fixed pattern, key by a stride. */
    char *wire = malloc(PIPE_REQS * 256);
    cr_assert_not_null(wire);
    size_t len = 0;
    int ops[PIPE_REQS], key_of[PIPE_REQS];
    for (int i = 0; i < PIPE_REQS; i++) {
        key_of[i] = (i * 7) % PIPE_KEYS;
        ops[i] = (i % 5 == 4) ? 2 : (i % 5 < 2 ? 0 : 1); /* 0 PUT, 1 GET, 2 DELETE */
        const char *k = keys[key_of[i]];
        if (ops[i] == 0) {
            char v[16], body[64];
            snprintf(v, sizeof v, "req-%03d", i);
            char *b = b64_of((const uint8_t *)v, strlen(v));
            snprintf(body, sizeof body, "{\"value\":\"%s\"}", b);
            free(b);
            len += (size_t)sprintf(wire + len, "PUT /kv/%s HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s", k,
                                   strlen(body), body);
        } else {
            len += (size_t)sprintf(wire + len, "%s /kv/%s HTTP/1.1\r\nHost: t\r\n\r\n", ops[i] == 1 ? "GET" : "DELETE", k);
        }
    }
    struct http_client c;
    open_conn(&c);
    cr_assert(http_client_send(&c, wire, len, IO_MS));
    free(wire);

    struct pipe_model m[PIPE_KEYS] = { 0 };
    for (int i = 0; i < PIPE_REQS; i++) {
        struct pipe_model *km = &m[key_of[i]];
        struct http_client_resp r = recv_resp(&c);
        if (ops[i] == 0) {
            cr_assert_eq(r.status, 200, "request %d (PUT): %s", i, r.body);
            json_t *j = body_json(&r);
            cr_assert_str_eq(json_str(j, "key"), keys[key_of[i]], "answer %d is for request %d's key", i, i);
            cr_assert_eq(json_int(j, "version"), km->version + 1, "request %d", i);
            json_decref(j);
            km->live = true;
            km->version++;
            km->value_of = i;
        } else if (ops[i] == 1) {
            if (!km->live) {
                expect_error(&r, 404, "key_not_found");
            } else {
                cr_assert_eq(r.status, 200, "request %d (GET): %s", i, r.body);
                json_t *j = body_json(&r);
                cr_assert_str_eq(json_str(j, "key"), keys[key_of[i]], "answer %d", i);
                cr_assert_eq(json_int(j, "version"), km->version, "request %d", i);
                size_t n;
                uint8_t *v = b64_decode(json_str(j, "value"), &n);
                char want[16];
                snprintf(want, sizeof want, "req-%03d", km->value_of);
                cr_assert_eq(n, strlen(want));
                cr_assert_arr_eq(v, want, n, "request %d sees the PUT of request %d", i, km->value_of);
                free(v);
                json_decref(j);
            }
        } else {
            cr_assert_eq(r.status, 204, "request %d (DELETE): %s", i, r.head);
            km->live = false;
            km->version++;
        }
        http_client_resp_free(&r);
    }
    cr_assert_eq(c.len, 0, "no bytes beyond the 200 answers");
    http_client_close(&c);
}

Test(http_api, a_pipeline_with_an_error_in_the_middle_answers_everything_in_order)
{
    struct http_client c;
    open_conn(&c);
    send_raw(&c, "GET /kv/p1 HTTP/1.1\r\n\r\n"
                 "GET /nowhere HTTP/1.1\r\n\r\n"
                 "PUT /kv/p1 HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"value\":\"\"}"
                 "PUT /kv/p1 HTTP/1.1\r\nContent-Length: 1\r\n\r\n{"
                 "GET /kv/p1?consistency=all HTTP/1.1\r\n\r\n"
                 "GET /kv/ HTTP/1.1\r\n\r\n");
    struct http_client_resp r = recv_resp(&c);
    expect_error(&r, 404, "key_not_found");
    http_client_resp_free(&r);
    r = recv_resp(&c);
    expect_error(&r, 404, "not_found");
    http_client_resp_free(&r);
    r = recv_resp(&c);
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    r = recv_resp(&c);
    expect_error(&r, 400, "malformed_json");
    http_client_resp_free(&r);
    r = recv_resp(&c);
    cr_assert_eq(r.status, 200);
    expect_header(&r, "X-Ringkv-Consistency", "requested=all acked=1/1 hinted=0");
    http_client_resp_free(&r);
    r = recv_resp(&c);
    expect_error(&r, 400, "key_empty");
    http_client_resp_free(&r);
    http_client_close(&c);
}

/* Only the last answer before a close may say "Connection: close": a client stops reading
 * at it. /health and /metrics answers pipelined before a request that asks to close are
 * followed by that request's answer, so they say keep-alive, as KV answers do. */
Test(http_api, answers_pipelined_before_a_closing_request_say_keep_alive)
{
    struct http_client c;
    open_conn(&c);
    send_raw(&c, "GET /health HTTP/1.1\r\n\r\n"
                 "GET /kv/p2 HTTP/1.1\r\n\r\n"
                 "GET /metrics HTTP/1.1\r\n\r\n"
                 "GET /kv/p2 HTTP/1.1\r\nConnection: close\r\n\r\n");
    static const char *const want[] = { "keep-alive", "keep-alive", "keep-alive", "close" };
    for (int i = 0; i < 4; i++) {
        struct http_client_resp r = recv_resp(&c);
        cr_assert(r.status == 200 || r.status == 404, "answer %d: %d", i, r.status);
        char got[32];
        cr_assert(http_client_header(&r, "Connection", got, sizeof got));
        cr_assert_str_eq(got, want[i], "answer %d of 4 says Connection: %s", i, got);
        http_client_resp_free(&r);
    }
    cr_assert(http_client_wait_closed(&c, 3000));
    http_client_close(&c);
}

/* ---- half-open and stalled clients ---- */

Test(http_api, a_client_stalled_mid_request_does_not_hold_up_another_connection)
{
    struct http_client stalled_head, stalled_body;
    open_conn(&stalled_head);
    open_conn(&stalled_body);
    send_raw(&stalled_head, "PUT /kv/stall HTTP/1.1\r\nHost: t\r\nContent-Le");
    send_raw(&stalled_body, "PUT /kv/stall HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n{\"value\":\"c3Rh");
    /* Several connections, so some land on each shard's listener. */
    for (int k = 0; k < 4; k++) {
        struct http_client c;
        open_conn(&c);
        for (int i = 0; i < 10; i++) {
            uint64_t t0 = mono_ms();
            struct http_client_resp r = put_str(&c, "/kv/busy", "v", NULL);
            cr_assert_eq(r.status, 200);
            http_client_resp_free(&r);
            cr_assert_lt(mono_ms() - t0, 2000u, "an answer comes while others stall");
        }
        http_client_close(&c);
    }
    /* The stalled ones were neither answered nor closed (no 10 s have passed), and the key
     * they were writing is untouched. */
    cr_assert_eq(stalled_head.len, 0);
    cr_assert_eq(stalled_body.len, 0);
    struct http_client_resp r;
    cr_assert(http_client_call(srv.http_port, "GET", "/kv/stall", NULL, NULL, 0, &r));
    expect_error(&r, 404, "key_not_found");
    http_client_resp_free(&r);
    /* Finishing the body now completes the request. */
    send_raw(&stalled_body, "bGw=\"}                     ");
    r = recv_resp(&stalled_body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_client_resp_free(&r);
    http_client_close(&stalled_head);
    http_client_close(&stalled_body);
}

Test(http_api, a_half_closed_client_still_gets_every_answer_then_the_close)
{
    struct http_client c;
    open_conn(&c);
    send_raw(&c, "PUT /kv/half HTTP/1.1\r\nContent-Length: 16\r\n\r\n{\"value\":\"aGFs\"}"
                 "GET /kv/half HTTP/1.1\r\n\r\n");
    cr_assert_eq(shutdown(c.fd, SHUT_WR), 0);
    struct http_client_resp r = recv_resp(&c);
    cr_assert_eq(r.status, 200);
    http_client_resp_free(&r);
    r = recv_resp(&c);
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_str(j, "value"), "aGFs");
    json_decref(j);
    http_client_resp_free(&r);
    cr_assert(http_client_wait_closed(&c, 3000), "the server closes once the client's side is done");
    http_client_close(&c);
}
