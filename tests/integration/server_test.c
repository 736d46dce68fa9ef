/* A real ringkv process on loopback, driven through the client library: the operations,
 * the limits at their boundaries, bad input on one connection while others go on, requests
 * that cross shards, back-pressure, idle timeouts and a clean stop. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/limits.h"
#include "net/proto_bin.h"
#include "net/ringkv.h"
#include "tests/support/server.h"

static struct test_server srv;

static void start_two_shards(void)
{
    cr_assert(test_server_start(&srv, "--shards 2 --idle-timeout 2"), "server did not start");
}

static void stop_and_clean(void)
{
    test_server_cleanup(&srv);
}

static ringkv_client *connect_or_die(void)
{
    enum ringkv_err err = RINGKV_OK;
    ringkv_client *c = ringkv_connect(srv.addr, 5000, &err);
    cr_assert_not_null(c, "connect: %s", ringkv_strerror(err));
    return c;
}

static enum ringkv_err put_str(ringkv_client *c, const char *k, const char *v, struct ringkv_reply *r)
{
    return ringkv_put(c, k, strlen(k), v, strlen(v), NULL, r);
}

TestSuite(server, .init = start_two_shards, .fini = stop_and_clean, .timeout = 60);

Test(server, put_then_get_returns_the_value_and_version)
{
    ringkv_client *c = connect_or_die();
    struct ringkv_reply r;
    cr_assert_eq(put_str(c, "alpha", "one", &r), RINGKV_OK);
    cr_assert_eq(r.version, 1);
    uint64_t ts1 = r.timestamp;
    cr_assert_eq(put_str(c, "alpha", "two", &r), RINGKV_OK);
    cr_assert_eq(r.version, 2);
    cr_assert_gt(r.timestamp, ts1);
    cr_assert_eq(ringkv_get(c, "alpha", 5, NULL, &r), RINGKV_OK);
    cr_assert_eq(r.value_bytes, 3);
    cr_assert_arr_eq(r.value, "two", 3);
    cr_assert_eq(r.version, 2);
    ringkv_close(c);
}

Test(server, delete_hides_the_key_and_the_next_put_continues_the_version)
{
    ringkv_client *c = connect_or_die();
    struct ringkv_reply r;
    cr_assert_eq(put_str(c, "beta", "x", &r), RINGKV_OK);
    cr_assert_eq(ringkv_delete(c, "beta", 4, NULL, &r), RINGKV_OK);
    cr_assert_eq(r.version, 2);
    cr_assert_eq(ringkv_get(c, "beta", 4, NULL, &r), RINGKV_NOT_FOUND);
    cr_assert_eq(put_str(c, "beta", "y", &r), RINGKV_OK);
    cr_assert_eq(r.version, 3);
    ringkv_close(c);
}

Test(server, get_of_a_missing_key_is_not_found)
{
    ringkv_client *c = connect_or_die();
    cr_assert_eq(ringkv_get(c, "never-written", 13, NULL, NULL), RINGKV_NOT_FOUND);
    ringkv_close(c);
}

Test(server, conditional_put_succeeds_only_on_the_current_version)
{
    ringkv_client *c = connect_or_die();
    struct ringkv_reply r;
    struct ringkv_options o = ringkv_options_default();
    o.if_version_set = 1;
    o.if_version = 0;
    cr_assert_eq(ringkv_put(c, "gamma", 5, "a", 1, &o, &r), RINGKV_OK, "absent key with if_version 0");
    cr_assert_eq(ringkv_put(c, "gamma", 5, "b", 1, &o, &r), RINGKV_VERSION_MISMATCH);
    cr_assert_eq(r.version, 1, "the mismatch reports the current version");
    o.if_version = 1;
    cr_assert_eq(ringkv_put(c, "gamma", 5, "c", 1, &o, &r), RINGKV_OK);
    cr_assert_eq(r.version, 2);
    cr_assert_eq(ringkv_put(c, "gamma", 5, "d", 1, &o, &r), RINGKV_VERSION_MISMATCH);
    cr_assert_eq(ringkv_get(c, "gamma", 5, NULL, &r), RINGKV_OK);
    cr_assert_arr_eq(r.value, "c", 1);
    ringkv_close(c);
}

Test(server, a_value_with_a_ttl_disappears_after_it)
{
    ringkv_client *c = connect_or_die();
    struct ringkv_options o = ringkv_options_default();
    o.ttl_s = 1;
    cr_assert_eq(ringkv_put(c, "ttl", 3, "v", 1, &o, NULL), RINGKV_OK);
    cr_assert_eq(ringkv_get(c, "ttl", 3, NULL, NULL), RINGKV_OK);
    /* Bounded wait: the expiry is absolute, one second after the write. */
    for (int i = 0; i < 40 && ringkv_get(c, "ttl", 3, NULL, NULL) == RINGKV_OK; i++)
        usleep(100 * 1000);
    cr_assert_eq(ringkv_get(c, "ttl", 3, NULL, NULL), RINGKV_NOT_FOUND);
    ringkv_close(c);
}

Test(server, keys_of_256_bytes_work_and_257_or_0_are_refused)
{
    ringkv_client *c = connect_or_die();
    uint8_t key[RKV_KEY_BYTES_MAX + 1];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_put(c, key, 256, "v", 1, NULL, &r), RINGKV_OK);
    cr_assert_eq(ringkv_get(c, key, 256, NULL, &r), RINGKV_OK);
    cr_assert_eq(ringkv_put(c, key, 257, "v", 1, NULL, &r), RINGKV_KEY_TOO_LONG);
    cr_assert_eq(ringkv_get(c, key, 257, NULL, &r), RINGKV_KEY_TOO_LONG);
    cr_assert_eq(ringkv_put(c, key, 0, "v", 1, NULL, &r), RINGKV_KEY_EMPTY);
    cr_assert_eq(ringkv_get(c, key, 1, NULL, &r), RINGKV_NOT_FOUND, "the connection goes on");
    ringkv_close(c);
}

Test(server, a_value_of_1_mib_round_trips_and_1_mib_plus_1_is_refused)
{
    ringkv_client *c = connect_or_die();
    size_t n = RKV_VALUE_BYTES_MAX + 1;
    uint8_t *v = malloc(n);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint8_t)(i * 131 + (i >> 12));
    struct ringkv_reply r;
    cr_assert_eq(ringkv_put(c, "big", 3, v, RKV_VALUE_BYTES_MAX, NULL, &r), RINGKV_OK);
    cr_assert_eq(ringkv_put(c, "big", 3, v, n, NULL, &r), RINGKV_VALUE_TOO_LONG);
    cr_assert_eq(ringkv_get(c, "big", 3, NULL, &r), RINGKV_OK);
    cr_assert_eq(r.value_bytes, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(memcmp(r.value, v, RKV_VALUE_BYTES_MAX), 0);
    cr_assert_eq(r.version, 1, "the refused write changed nothing");
    cr_assert_eq(ringkv_put(c, "empty", 5, v, 0, NULL, &r), RINGKV_OK);
    cr_assert_eq(ringkv_get(c, "empty", 5, NULL, &r), RINGKV_OK);
    cr_assert_eq(r.value_bytes, 0);
    free(v);
    ringkv_close(c);
}

/* Writes one raw request frame built with the codec. */
static size_t raw_req(uint8_t *buf, size_t cap, uint32_t id, uint8_t op, const char *key, uint16_t reserved)
{
    struct bin_req q = { .request_id = id, .opcode = op, .consistency = 1, .key = (const uint8_t *)key,
                         .key_bytes = (uint16_t)strlen(key), .reserved = reserved };
    return bin_req_encode(buf, cap, &q);
}

Test(server, unknown_opcode_and_nonzero_reserved_get_their_status_and_the_connection_goes_on)
{
    ringkv_client *c = connect_or_die();
    uint8_t buf[128];
    size_t n = raw_req(buf, sizeof buf, 7, 0x33, "k", 0);
    cr_assert_eq(ringkv_send_raw(c, buf, n), RINGKV_OK);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK);
    cr_assert_eq(r.request_id, 7);
    cr_assert_eq(r.status, RINGKV_UNKNOWN_OPCODE);
    n = raw_req(buf, sizeof buf, 8, BIN_OP_GET, "k", 1);
    cr_assert_eq(ringkv_send_raw(c, buf, n), RINGKV_OK);
    cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK);
    cr_assert_eq(r.request_id, 8);
    cr_assert_eq(r.status, RINGKV_BAD_FRAME);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK);
    ringkv_close(c);
}

Test(server, garbage_or_an_oversized_length_closes_that_connection_only)
{
    ringkv_client *good = connect_or_die();
    cr_assert_eq(put_str(good, "keep", "safe", NULL), RINGKV_OK);

    ringkv_client *bad = connect_or_die();
    const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(ringkv_send_raw(bad, garbage, sizeof garbage - 1), RINGKV_OK);
    struct ringkv_reply r;
    enum ringkv_err e = ringkv_recv(bad, &r);
    cr_assert(e == RINGKV_ERR_CLOSED || e == RINGKV_ERR_NET, "garbage closes the connection, got %s", ringkv_strerror(e));
    ringkv_close(bad);

    bad = connect_or_die();
    uint8_t hdr[4];
    store_be32(hdr, RKV_FRAME_BYTES_MAX + 1u);
    cr_assert_eq(ringkv_send_raw(bad, hdr, sizeof hdr), RINGKV_OK);
    e = ringkv_recv(bad, &r);
    cr_assert(e == RINGKV_ERR_CLOSED || e == RINGKV_ERR_NET, "an oversized frame closes, got %s", ringkv_strerror(e));
    ringkv_close(bad);

    bad = connect_or_die();
    store_be32(hdr, 3); /* shorter than any header */
    cr_assert_eq(ringkv_send_raw(bad, hdr, sizeof hdr), RINGKV_OK);
    e = ringkv_recv(bad, &r);
    cr_assert(e == RINGKV_ERR_CLOSED || e == RINGKV_ERR_NET, "an undersized frame closes, got %s", ringkv_strerror(e));
    ringkv_close(bad);

    cr_assert_eq(ringkv_get(good, "keep", 4, NULL, &r), RINGKV_OK);
    cr_assert_arr_eq(r.value, "safe", 4);
    cr_assert_eq(r.version, 1, "stored data untouched");
    ringkv_close(good);
}

Test(server, a_peer_that_closes_mid_frame_leaves_the_node_serving)
{
    ringkv_client *bad = connect_or_die();
    uint8_t buf[128];
    size_t n = raw_req(buf, sizeof buf, 1, BIN_OP_PUT, "half", 0);
    cr_assert_eq(ringkv_send_raw(bad, buf, n / 2), RINGKV_OK);
    ringkv_close(bad);
    ringkv_client *c = connect_or_die();
    cr_assert_eq(ringkv_get(c, "half", 4, NULL, NULL), RINGKV_NOT_FOUND, "half a frame wrote nothing");
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK);
    ringkv_close(c);
}

Test(server, pipelined_requests_past_the_in_flight_cap_are_all_answered)
{
    ringkv_client *c = connect_or_die();
    enum { N = 4 * RKV_CONN_INFLIGHT_MAX + 17 };
    char key[32];
    for (int i = 0; i < N; i++) {
        int kb = snprintf(key, sizeof key, "pipe-%d", i);
        uint32_t id;
        cr_assert_eq(ringkv_send_put(c, key, (size_t)kb, key, (size_t)kb, NULL, &id), RINGKV_OK);
    }
    cr_assert_eq(ringkv_flush(c), RINGKV_OK);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        struct ringkv_reply r;
        cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK);
        ok += r.status == RINGKV_OK;
    }
    cr_assert_eq(ok, N);
    cr_assert_eq(ringkv_in_flight(c), 0);
    for (int i = 0; i < N; i += 37) {
        int kb = snprintf(key, sizeof key, "pipe-%d", i);
        struct ringkv_reply r;
        cr_assert_eq(ringkv_get(c, key, (size_t)kb, NULL, &r), RINGKV_OK);
        cr_assert_eq(r.value_bytes, (uint32_t)kb);
        cr_assert_arr_eq(r.value, key, (size_t)kb);
    }
    ringkv_close(c);
}

struct worker {
    const char *addr;
    int idx;
    int keys;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    enum ringkv_err err;
    ringkv_client *c = ringkv_connect(w->addr, 5000, &err);
    if (c == NULL) {
        w->failures = w->keys;
        return NULL;
    }
    char key[48], val[64];
    /* Pipelined writes in windows of 64, then pipelined reads of the same keys. */
    for (int base = 0; base < w->keys; base += 64) {
        int end = base + 64 < w->keys ? base + 64 : w->keys;
        for (int i = base; i < end; i++) {
            int kb = snprintf(key, sizeof key, "w%d-key-%d", w->idx, i);
            int vb = snprintf(val, sizeof val, "value-%d-%d", w->idx, i);
            uint32_t id;
            if (ringkv_send_put(c, key, (size_t)kb, val, (size_t)vb, NULL, &id) != RINGKV_OK)
                w->failures++;
        }
        for (int i = base; i < end; i++) {
            struct ringkv_reply r;
            if (ringkv_recv(c, &r) != RINGKV_OK || r.status != RINGKV_OK)
                w->failures++;
        }
    }
    for (int i = 0; i < w->keys; i++) {
        int kb = snprintf(key, sizeof key, "w%d-key-%d", w->idx, i);
        int vb = snprintf(val, sizeof val, "value-%d-%d", w->idx, i);
        struct ringkv_reply r;
        if (ringkv_get(c, key, (size_t)kb, NULL, &r) != RINGKV_OK || r.value_bytes != (uint32_t)vb ||
            memcmp(r.value, val, (size_t)vb) != 0)
            w->failures++;
    }
    ringkv_close(c);
    return NULL;
}

Test(server, many_connections_at_once_cross_shards_and_every_value_reads_back)
{
    enum { WORKERS = 8, KEYS = 500 };
    pthread_t t[WORKERS];
    struct worker w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (struct worker){ .addr = srv.addr, .idx = i, .keys = KEYS };
        cr_assert_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(w[i].failures, 0, "worker %d had %d failures", i, w[i].failures);
    }
    /* The stop log of each shard says how many requests went to the other shard. */
    cr_assert_eq(test_server_stop(&srv), 0);
    char *log = test_server_log(&srv);
    cr_assert_not_null(log);
    unsigned long long sent = 0, total = 0;
    for (const char *p = log; (p = strstr(p, " sent to other shards")) != NULL; p++) {
        const char *q = p;
        while (q > log && q[-1] != ',')
            q--;
        unsigned long long v = strtoull(q, NULL, 10);
        sent += v;
        total++;
    }
    free(log);
    cr_assert_eq(total, 2, "both shards logged their stop");
    cr_assert_gt(sent, 1000, "about half of 8000 keys belong to the other shard, got %llu", sent);
}

Test(server, an_idle_connection_is_closed_after_the_timeout)
{
    ringkv_client *c = connect_or_die();
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK);
    sleep(4); /* --idle-timeout 2, ticks every 100 ms */
    enum ringkv_err e = ringkv_ping(c, NULL);
    cr_assert(e == RINGKV_ERR_CLOSED || e == RINGKV_ERR_NET, "expected a closed connection, got %s", ringkv_strerror(e));
    ringkv_close(c);
}

Test(server, sigterm_answers_what_is_in_flight_and_exits_0)
{
    ringkv_client *c = connect_or_die();
    enum { N = 200 };
    char key[32];
    for (int i = 0; i < N; i++) {
        int kb = snprintf(key, sizeof key, "term-%d", i);
        uint32_t id;
        cr_assert_eq(ringkv_send_put(c, key, (size_t)kb, "v", 1, NULL, &id), RINGKV_OK);
    }
    cr_assert_eq(ringkv_flush(c), RINGKV_OK);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK); /* the node has started on them */
    cr_assert_eq(test_server_stop(&srv), 0);
    int answered = 1;
    while (ringkv_recv(c, &r) == RINGKV_OK) {
        cr_assert_eq(r.status, RINGKV_OK);
        answered++;
    }
    ringkv_close(c);
    cr_assert_eq(test_server_restart(&srv), true);
    c = connect_or_die();
    int stored = 0;
    for (int i = 0; i < N; i++) {
        int kb = snprintf(key, sizeof key, "term-%d", i);
        stored += ringkv_get(c, key, (size_t)kb, NULL, NULL) == RINGKV_OK;
    }
    ringkv_close(c);
    /* Requests still in the kernel's socket buffer at the stop are not in flight and may go
     * unanswered; every answered one must be stored, and the connection must have been
     * answered past the first reply rather than cut at once. */
    cr_log_info("%d of %d answered before the stop, %d stored", answered, N, stored);
    cr_assert_geq(stored, answered, "every answered write is stored (%d answered, %d stored)", answered, stored);
    cr_assert_gt(answered, 1, "requests in flight at the stop were answered");
}

Test(server, a_bad_flag_prints_one_line_and_exits_2)
{
    char bin[512], out[1024], err[1024];
    char *argv[] = { (char *)test_bin("tools/ringkv", bin, sizeof bin), "--shards", "0", NULL };
    int rc = test_run(argv, NULL, 0, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_neq(strstr(err, "--shards"), NULL, "stderr names the flag: %s", err);
    cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "exactly one line: %s", err);
}

Test(server, a_data_directory_of_another_shard_count_is_refused_with_exit_2)
{
    cr_assert_eq(test_server_stop(&srv), 0);
    char bin[512], out[1024], err[4096], data[200], listen[64];
    snprintf(data, sizeof data, "%s/data", srv.dir);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", test_free_port());
    char *argv[] = { (char *)test_bin("tools/ringkv", bin, sizeof bin), "--node-id", "test", "--data", data,
                     "--listen", listen, "--shards", "1", NULL };
    int rc = test_run(argv, NULL, 0, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 2, "stderr: %s", err);
    cr_assert_neq(strstr(err, "shard"), NULL, "the reason is logged: %s", err);
}
