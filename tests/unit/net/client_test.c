/* Tests of the client library (net/ringkv.h) against a fake server: a thread in the test
 * process that accepts one connection on 127.0.0.1 (an ephemeral port) and runs a script
 * written with the same codec. Every wait is bounded: the fake server gives up after five
 * seconds of silence, and clients use short timeouts. The test thread reads what a script
 * recorded only after joining it. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limits.h"
#include "net/proto_bin.h"
#include "net/ringkv.h"

#define FAKE_WAIT_MS 5000
#define CLIENT_TIMEOUT_MS 2000

/* ---- the fake server ---- */

struct fake_conn {
    int fd;
    uint8_t *buf;
    size_t cap, start, end, last;
};

typedef void fake_script_fn(struct fake_conn *fc, void *arg);

struct fake_server {
    int listen_fd;
    char addr[64];
    pthread_t thread;
    fake_script_fn *script;
    void *arg;
};

static void *fake_main(void *p)
{
    struct fake_server *s = p;
    struct pollfd pfd = {.fd = s->listen_fd, .events = POLLIN};
    if (poll(&pfd, 1, FAKE_WAIT_MS) != 1)
        return NULL;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {.tv_sec = FAKE_WAIT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct fake_conn fc = {.fd = fd, .cap = 2u * RKV_FRAME_BYTES_MAX};
    fc.buf = malloc(fc.cap);
    if (fc.buf != NULL)
        s->script(&fc, s->arg);
    free(fc.buf);
    close(fd);
    return NULL;
}

static void fake_start(struct fake_server *s, fake_script_fn *script, void *arg)
{
    memset(s, 0, sizeof(*s));
    s->script = script;
    s->arg = arg;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s->listen_fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    cr_assert_eq(listen(s->listen_fd, 4), 0);
    socklen_t len = sizeof(sin);
    cr_assert_eq(getsockname(s->listen_fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    cr_assert_eq(pthread_create(&s->thread, NULL, fake_main, s), 0);
}

static void fake_stop(struct fake_server *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

/* The next request from the client; false on end of stream, timeout or a bad frame. The
 * request's key and value stay valid until the next call. */
static bool fake_next_req(struct fake_conn *fc, struct bin_req *req)
{
    fc->start += fc->last;
    fc->last = 0;
    for (;;) {
        size_t frame_bytes;
        enum rkv_err why;
        enum parse_rc rc = bin_req_decode(fc->buf + fc->start, fc->end - fc->start, req, &frame_bytes, &why);
        if (rc == PARSE_DONE) {
            fc->last = frame_bytes;
            return true;
        }
        if (rc == PARSE_INVALID)
            return false;
        if (fc->start > 0) {
            memmove(fc->buf, fc->buf + fc->start, fc->end - fc->start);
            fc->end -= fc->start;
            fc->start = 0;
        }
        ssize_t n = recv(fc->fd, fc->buf + fc->end, fc->cap - fc->end, 0);
        if (n <= 0)
            return false;
        fc->end += (size_t)n;
    }
}

static bool fake_send_all(int fd, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool fake_answer(struct fake_conn *fc, const struct bin_req *req, uint8_t status, uint64_t version,
                        const void *value, uint32_t value_bytes)
{
    struct bin_resp resp = {
        .request_id = req->request_id,
        .opcode = req->opcode,
        .status = status,
        .acked = 2,
        .needed = 2,
        .version = version,
        .timestamp = (uint64_t)1767225600000ull << 16,
        .value_bytes = value_bytes,
    };
    uint8_t hdr[RKV_RESP_HDR_BYTES];
    bin_resp_encode_hdr(hdr, &resp);
    return fake_send_all(fc->fd, hdr, sizeof(hdr)) && fake_send_all(fc->fd, value, value_bytes);
}

static bool fake_answer_error(struct fake_conn *fc, const struct bin_req *req, enum rkv_err err, uint64_t version)
{
    const char *msg = rkv_err_message(err);
    return fake_answer(fc, req, rkv_err_wire(err), version, msg, (uint32_t)strlen(msg));
}

/* Waits until the client closes (bounded by the receive timeout). */
static void fake_drain(struct fake_conn *fc)
{
    uint8_t sink[4096];
    while (recv(fc->fd, sink, sizeof(sink), 0) > 0) {
    }
}

/* A tiny store: enough to answer put, get, delete and conditional puts like a node. */
#define KV_KEYS_MAX 8
struct kv_entry {
    bool used;
    uint8_t key[RKV_KEY_BYTES_MAX];
    uint16_t key_bytes;
    uint8_t *value;
    uint32_t value_bytes;
    uint64_t version;
};

/* What the kv script saw last; read by the test after fake_stop(). */
struct kv_record {
    struct bin_req last; /* key and value pointers are not kept */
    size_t requests_count;
};

static struct kv_entry *kv_find(struct kv_entry *kv, const struct bin_req *req)
{
    for (int i = 0; i < KV_KEYS_MAX; i++)
        if (kv[i].used && kv[i].key_bytes == req->key_bytes && memcmp(kv[i].key, req->key, req->key_bytes) == 0)
            return &kv[i];
    return NULL;
}

static bool kv_handle(struct fake_conn *fc, struct kv_entry *kv, const struct bin_req *req)
{
    enum rkv_err err = bin_req_validate(req);
    if (err != RKV_OK)
        return fake_answer_error(fc, req, err, 0);
    struct kv_entry *e = req->opcode == BIN_OP_PING ? NULL : kv_find(kv, req);
    switch (req->opcode) {
    case BIN_OP_PING:
        return fake_answer(fc, req, 0x00, 0, NULL, 0);
    case BIN_OP_GET:
        if (e == NULL)
            return fake_answer_error(fc, req, RKV_NOT_FOUND, 0);
        return fake_answer(fc, req, 0x00, e->version, e->value, e->value_bytes);
    case BIN_OP_DELETE:
        if (e == NULL)
            return fake_answer_error(fc, req, RKV_NOT_FOUND, 0);
        free(e->value);
        memset(e, 0, sizeof(*e));
        return fake_answer(fc, req, 0x00, 0, NULL, 0);
    case BIN_OP_PUT: {
        uint64_t current = e ? e->version : 0;
        if ((req->flags & BIN_REQ_F_IF_VERSION) && req->if_version != current)
            return fake_answer_error(fc, req, RKV_VERSION_MISMATCH, current);
        if (e == NULL) {
            for (int i = 0; i < KV_KEYS_MAX && e == NULL; i++)
                if (!kv[i].used)
                    e = &kv[i];
            if (e == NULL)
                return fake_answer_error(fc, req, RKV_NO_SPACE, 0);
            e->used = true;
            e->key_bytes = req->key_bytes;
            memcpy(e->key, req->key, req->key_bytes);
        }
        free(e->value);
        e->value = malloc(req->value_bytes ? req->value_bytes : 1);
        if (e->value == NULL)
            return false;
        if (req->value_bytes)
            memcpy(e->value, req->value, req->value_bytes);
        e->value_bytes = req->value_bytes;
        e->version = current + 1;
        return fake_answer(fc, req, 0x00, e->version, NULL, 0);
    }
    default:
        return false;
    }
}

static void script_kv(struct fake_conn *fc, void *arg)
{
    struct kv_record *rec = arg;
    struct kv_entry kv[KV_KEYS_MAX];
    memset(kv, 0, sizeof(kv));
    struct bin_req req;
    while (fake_next_req(fc, &req)) {
        if (rec != NULL) {
            rec->last = req;
            rec->last.key = rec->last.value = NULL;
            rec->requests_count++;
        }
        if (!kv_handle(fc, kv, &req))
            break;
    }
    for (int i = 0; i < KV_KEYS_MAX; i++)
        free(kv[i].value);
}

/* Reads *(size_t *)arg requests, then answers them last first, version = 10 * id. */
static void script_reverse(struct fake_conn *fc, void *arg)
{
    size_t count = *(size_t *)arg;
    struct bin_req *reqs = calloc(count, sizeof(*reqs));
    if (reqs == NULL)
        return;
    size_t got = 0;
    while (got < count && fake_next_req(fc, &reqs[got]))
        got++;
    for (size_t i = got; i > 0; i--)
        if (!fake_answer(fc, &reqs[i - 1], 0x00, 10u * reqs[i - 1].request_id, NULL, 0))
            break;
    free(reqs);
    fake_drain(fc);
}

static void script_close_mid_frame(struct fake_conn *fc, void *arg)
{
    (void)arg;
    struct bin_req req;
    if (!fake_next_req(fc, &req))
        return;
    struct bin_resp resp = {.request_id = req.request_id, .opcode = req.opcode, .value_bytes = 5};
    uint8_t hdr[RKV_RESP_HDR_BYTES];
    bin_resp_encode_hdr(hdr, &resp);
    fake_send_all(fc->fd, hdr, 20);
}

static void script_garbage(struct fake_conn *fc, void *arg)
{
    (void)arg;
    struct bin_req req;
    if (!fake_next_req(fc, &req))
        return;
    const char garbage[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    fake_send_all(fc->fd, garbage, sizeof(garbage) - 1);
    fake_drain(fc);
}

static void script_silent(struct fake_conn *fc, void *arg)
{
    (void)arg;
    struct bin_req req;
    if (fake_next_req(fc, &req))
        fake_drain(fc);
}

/* Answers the first request after *(int *)arg milliseconds, then the rest at once. */
static void script_late_then_kv(struct fake_conn *fc, void *arg)
{
    int delay_ms = *(int *)arg;
    struct bin_req req;
    if (!fake_next_req(fc, &req))
        return;
    struct timespec ts = {.tv_sec = delay_ms / 1000, .tv_nsec = (long)(delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (!fake_answer(fc, &req, 0x00, 111, NULL, 0))
        return;
    script_kv(fc, NULL);
}

static void script_status_byte(struct fake_conn *fc, void *arg)
{
    uint8_t status = *(uint8_t *)arg;
    struct bin_req req;
    if (!fake_next_req(fc, &req))
        return;
    fake_answer(fc, &req, status, 0, NULL, 0);
    fake_drain(fc);
}

static void script_wrong_id(struct fake_conn *fc, void *arg)
{
    (void)arg;
    struct bin_req req;
    if (!fake_next_req(fc, &req))
        return;
    req.request_id += 1000;
    fake_answer(fc, &req, 0x00, 0, NULL, 0);
    fake_drain(fc);
}

static void script_wrong_opcode(struct fake_conn *fc, void *arg)
{
    (void)arg;
    struct bin_req req;
    if (!fake_next_req(fc, &req))
        return;
    req.opcode = BIN_OP_DELETE;
    fake_answer(fc, &req, 0x00, 0, NULL, 0);
    fake_drain(fc);
}

static ringkv_client *connect_ok(const struct fake_server *s, int timeout_ms)
{
    enum ringkv_err err = RINGKV_INTERNAL;
    ringkv_client *c = ringkv_connect(s->addr, timeout_ms, &err);
    cr_assert_not_null(c, "connect to %s: %s", s->addr, ringkv_strerror(err));
    cr_assert_eq(err, RINGKV_OK);
    return c;
}

/* ---- blocking calls ---- */

Test(client, ping_answers_ok)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_ping(c, &r), RINGKV_OK);
    cr_assert_eq(r.status, RINGKV_OK);
    cr_assert_eq(r.opcode, BIN_OP_PING);
    cr_assert_null(r.value);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, put_then_get_returns_the_value_and_version)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_put(c, "user:42", 7, "hello", 5, NULL, &r), RINGKV_OK);
    cr_assert_eq(r.version, 1u);
    cr_assert_eq(r.acked, 2);
    cr_assert_eq(r.needed, 2);
    cr_assert_eq(r.timestamp, (uint64_t)1767225600000ull << 16);
    cr_assert_eq(ringkv_get(c, "user:42", 7, NULL, &r), RINGKV_OK);
    cr_assert_eq(r.value_bytes, 5u);
    cr_assert_eq(memcmp(r.value, "hello", 5), 0);
    cr_assert_eq(r.version, 1u);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, get_of_a_missing_key_is_not_found_with_the_servers_sentence)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_get(c, "nope", 4, NULL, &r), RINGKV_NOT_FOUND);
    cr_assert_eq(r.status, RINGKV_NOT_FOUND);
    cr_assert_str_eq(r.message, "key not found");
    cr_assert_null(r.value);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, delete_removes_the_key)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    cr_assert_eq(ringkv_put(c, "k", 1, "v", 1, NULL, NULL), RINGKV_OK);
    cr_assert_eq(ringkv_delete(c, "k", 1, NULL, NULL), RINGKV_OK);
    cr_assert_eq(ringkv_get(c, "k", 1, NULL, NULL), RINGKV_NOT_FOUND);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, a_conditional_put_on_a_stale_version_is_version_mismatch_with_the_current_one)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct ringkv_options o = ringkv_options_default();
    o.if_version_set = 1;
    o.if_version = 0; /* only if absent */
    struct ringkv_reply r;
    cr_assert_eq(ringkv_put(c, "k", 1, "a", 1, &o, &r), RINGKV_OK);
    cr_assert_eq(r.version, 1u);
    o.if_version = 1;
    cr_assert_eq(ringkv_put(c, "k", 1, "b", 1, &o, &r), RINGKV_OK);
    cr_assert_eq(r.version, 2u);
    cr_assert_eq(ringkv_put(c, "k", 1, "c", 1, &o, &r), RINGKV_VERSION_MISMATCH);
    cr_assert_eq(r.version, 2u);
    cr_assert_str_eq(r.message, "the key's current version is not if_version");
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, options_travel_in_the_request)
{
    struct kv_record rec;
    memset(&rec, 0, sizeof(rec));
    struct fake_server s;
    fake_start(&s, script_kv, &rec);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct ringkv_options o = {.consistency = RINGKV_ALL, .ttl_s = 60, .if_version_set = 1, .if_version = 0};
    cr_assert_eq(ringkv_put(c, "k", 1, "v", 1, &o, NULL), RINGKV_OK);
    ringkv_close(c);
    fake_stop(&s);
    cr_assert_eq(rec.requests_count, 1u);
    cr_assert_eq(rec.last.consistency, BIN_CONS_ALL);
    cr_assert_eq(rec.last.ttl_s, 60u);
    cr_assert_eq(rec.last.flags, BIN_REQ_F_IF_VERSION);
    cr_assert_eq(rec.last.if_version, 0u);
}

Test(client, get_sends_no_ttl_even_when_the_options_have_one)
{
    struct kv_record rec;
    memset(&rec, 0, sizeof(rec));
    struct fake_server s;
    fake_start(&s, script_kv, &rec);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct ringkv_options o = {.consistency = RINGKV_ONE, .ttl_s = 60, .if_version_set = 1, .if_version = 4};
    cr_assert_eq(ringkv_get(c, "k", 1, &o, NULL), RINGKV_NOT_FOUND);
    ringkv_close(c);
    fake_stop(&s);
    cr_assert_eq(rec.last.consistency, BIN_CONS_ONE);
    cr_assert_eq(rec.last.ttl_s, 0u);
    cr_assert_eq(rec.last.flags, 0);
}

Test(client, a_value_of_1048576_bytes_round_trips)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    uint8_t *v = malloc(RKV_VALUE_BYTES_MAX);
    cr_assert_not_null(v);
    for (size_t i = 0; i < RKV_VALUE_BYTES_MAX; i++)
        v[i] = (uint8_t)(i * 31u);
    cr_assert_eq(ringkv_put(c, "big", 3, v, RKV_VALUE_BYTES_MAX, NULL, NULL), RINGKV_OK);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_get(c, "big", 3, NULL, &r), RINGKV_OK);
    cr_assert_eq(r.value_bytes, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(memcmp(r.value, v, RKV_VALUE_BYTES_MAX), 0);
    free(v);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, a_value_of_1048577_bytes_is_sent_and_the_server_says_value_too_long)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    uint8_t *v = calloc(1, RKV_VALUE_BYTES_MAX + 1u);
    cr_assert_not_null(v);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_put(c, "big", 3, v, RKV_VALUE_BYTES_MAX + 1u, NULL, &r), RINGKV_VALUE_TOO_LONG);
    cr_assert_str_eq(r.message, "value longer than 1 MiB");
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK, "the connection goes on");
    free(v);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, a_key_of_257_bytes_is_sent_and_the_server_says_key_too_long)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    uint8_t key[RKV_KEY_BYTES_MAX + 1];
    memset(key, 'k', sizeof(key));
    cr_assert_eq(ringkv_get(c, key, RKV_KEY_BYTES_MAX, NULL, NULL), RINGKV_NOT_FOUND);
    cr_assert_eq(ringkv_get(c, key, sizeof(key), NULL, NULL), RINGKV_KEY_TOO_LONG);
    cr_assert_eq(ringkv_get(c, NULL, 0, NULL, NULL), RINGKV_KEY_EMPTY);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, a_frame_the_server_would_refuse_to_frame_is_answered_locally)
{
    struct kv_record rec;
    memset(&rec, 0, sizeof(rec));
    struct fake_server s;
    fake_start(&s, script_kv, &rec);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    size_t big = (size_t)RKV_FRAME_BYTES_MAX;
    uint8_t *v = calloc(1, big);
    cr_assert_not_null(v);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_put(c, "k", 1, v, big, NULL, &r), RINGKV_VALUE_TOO_LONG);
    cr_assert_eq(r.status, RINGKV_VALUE_TOO_LONG);
    cr_assert_eq(ringkv_get(c, v, (size_t)UINT16_MAX + 1u, NULL, NULL), RINGKV_KEY_TOO_LONG);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK);
    free(v);
    ringkv_close(c);
    fake_stop(&s);
    cr_assert_eq(rec.requests_count, 1u, "only the ping reached the server");
}

/* ---- pipelining ---- */

Test(client, pipelined_answers_out_of_order_are_matched_to_their_requests)
{
    size_t count = 5;
    struct fake_server s;
    fake_start(&s, script_reverse, &count);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    uint32_t ids[5];
    cr_assert_eq(ringkv_send_ping(c, &ids[0]), RINGKV_OK);
    cr_assert_eq(ringkv_send_get(c, "a", 1, NULL, &ids[1]), RINGKV_OK);
    cr_assert_eq(ringkv_send_put(c, "b", 1, "x", 1, NULL, &ids[2]), RINGKV_OK);
    cr_assert_eq(ringkv_send_delete(c, "c", 1, NULL, &ids[3]), RINGKV_OK);
    cr_assert_eq(ringkv_send_get(c, "d", 1, NULL, &ids[4]), RINGKV_OK);
    cr_assert_eq(ringkv_in_flight(c), 5u);
    cr_assert_eq(ringkv_flush(c), RINGKV_OK);
    const uint8_t opcodes[5] = {BIN_OP_PING, BIN_OP_GET, BIN_OP_PUT, BIN_OP_DELETE, BIN_OP_GET};
    for (size_t i = 0; i < 5; i++) {
        struct ringkv_reply r;
        cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK);
        size_t want = 4 - i;
        cr_assert_eq(r.request_id, ids[want], "answers arrive last first");
        cr_assert_eq(r.opcode, opcodes[want]);
        cr_assert_eq(r.version, 10u * ids[want]);
        cr_assert_eq(ringkv_in_flight(c), 4 - i);
    }
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, a_long_pipeline_flushes_itself_past_64_kib_and_every_answer_arrives)
{
    struct kv_record rec;
    memset(&rec, 0, sizeof(rec));
    struct fake_server s;
    fake_start(&s, script_kv, &rec);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    uint8_t value[200];
    memset(value, 'v', sizeof(value));
    enum { COUNT = 2000 };
    for (uint32_t i = 0; i < COUNT; i++) {
        uint32_t id;
        cr_assert_eq(ringkv_send_put(c, "k", 1, value, sizeof(value), NULL, &id), RINGKV_OK);
    }
    cr_assert_eq(ringkv_in_flight(c), COUNT);
    for (uint32_t i = 0; i < COUNT; i++) {
        struct ringkv_reply r;
        cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK);
        cr_assert_eq(r.status, RINGKV_OK);
        cr_assert_eq(r.version, i + 1u);
    }
    cr_assert_eq(ringkv_in_flight(c), 0u);
    ringkv_close(c);
    fake_stop(&s);
    cr_assert_eq(rec.requests_count, COUNT);
}

Test(client, recv_returns_the_servers_error_status_in_the_reply)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    uint32_t id;
    struct ringkv_options o = ringkv_options_default();
    o.consistency = (enum ringkv_consistency)7;
    cr_assert_eq(ringkv_send_get(c, "k", 1, &o, &id), RINGKV_OK);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK);
    cr_assert_eq(r.request_id, id);
    cr_assert_eq(r.status, RINGKV_BAD_CONSISTENCY);
    cr_assert_str_eq(r.message, "unknown consistency level");
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, recv_with_nothing_in_flight_is_a_usage_error)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    cr_assert_eq(ringkv_recv(c, NULL), RINGKV_ERR_USAGE);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK, "the client is still usable");
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, a_blocking_call_with_requests_in_flight_is_a_usage_error)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    uint32_t id;
    cr_assert_eq(ringkv_send_ping(c, &id), RINGKV_OK);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_get(c, "k", 1, NULL, &r), RINGKV_ERR_USAGE);
    cr_assert_eq(r.status, RINGKV_ERR_USAGE);
    cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK);
    cr_assert_eq(r.request_id, id);
    cr_assert_eq(ringkv_get(c, "k", 1, NULL, NULL), RINGKV_NOT_FOUND);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, raw_bytes_reach_the_server_and_their_answer_is_received)
{
    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct bin_req req = {.request_id = 777, .opcode = 0x33, .key_bytes = 1, .key = (const uint8_t *)"k"};
    uint8_t frame[64];
    size_t n = bin_req_encode(frame, sizeof(frame), &req);
    cr_assert_eq(ringkv_send_raw(c, frame, n), RINGKV_OK);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_recv(c, &r), RINGKV_OK);
    cr_assert_eq(r.request_id, 777u);
    cr_assert_eq(r.status, RINGKV_UNKNOWN_OPCODE);
    cr_assert_eq(ringkv_in_flight(c), 0u);
    ringkv_close(c);
    fake_stop(&s);
}

/* ---- failures ---- */

Test(client, a_server_closing_mid_frame_is_closed_and_stays_closed)
{
    struct fake_server s;
    fake_start(&s, script_close_mid_frame, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_get(c, "k", 1, NULL, &r), RINGKV_ERR_CLOSED);
    cr_assert_eq(r.status, RINGKV_ERR_CLOSED);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_ERR_CLOSED);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, a_garbage_answer_is_a_protocol_error_and_the_client_stays_unusable)
{
    struct fake_server s;
    fake_start(&s, script_garbage, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_ERR_PROTOCOL);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_ERR_PROTOCOL);
    uint32_t id;
    cr_assert_eq(ringkv_send_ping(c, &id), RINGKV_ERR_PROTOCOL);
    cr_assert_eq(ringkv_flush(c), RINGKV_ERR_PROTOCOL);
    cr_assert_eq(ringkv_recv(c, NULL), RINGKV_ERR_PROTOCOL);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, an_answer_to_a_request_never_sent_is_a_protocol_error)
{
    struct fake_server s;
    fake_start(&s, script_wrong_id, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_ERR_PROTOCOL);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, an_answer_naming_another_opcode_is_a_protocol_error)
{
    struct fake_server s;
    fake_start(&s, script_wrong_opcode, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    cr_assert_eq(ringkv_get(c, "k", 1, NULL, NULL), RINGKV_ERR_PROTOCOL);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, an_unknown_status_byte_is_unknown_status)
{
    uint8_t status = 0x99;
    struct fake_server s;
    fake_start(&s, script_status_byte, &status);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_ping(c, &r), RINGKV_ERR_UNKNOWN_STATUS);
    cr_assert_eq(r.status, RINGKV_ERR_UNKNOWN_STATUS);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, every_status_byte_of_the_table_maps_to_the_same_ringkv_err)
{
    for (int e = 0; e < RKV_ERR_COUNT; e++) {
        uint8_t status = rkv_err_wire((enum rkv_err)e);
        struct fake_server s;
        fake_start(&s, script_status_byte, &status);
        ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
        struct ringkv_reply r;
        cr_assert_eq(ringkv_ping(c, &r), (enum ringkv_err)status, "status 0x%02x", status);
        ringkv_close(c);
        fake_stop(&s);
    }
}

Test(client, no_answer_within_the_timeout_is_net_timeout)
{
    struct fake_server s;
    fake_start(&s, script_silent, NULL);
    ringkv_client *c = connect_ok(&s, 150);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_ping(c, &r), RINGKV_ERR_NET_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_assert(waited_ms >= 140.0 && waited_ms < 2000.0, "waited %.0f ms", waited_ms);
    cr_assert_eq(r.status, RINGKV_ERR_NET_TIMEOUT);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, a_pipelined_recv_that_times_out_may_be_retried)
{
    int delay_ms = 400;
    struct fake_server s;
    fake_start(&s, script_late_then_kv, &delay_ms);
    ringkv_client *c = connect_ok(&s, 100);
    uint32_t id;
    cr_assert_eq(ringkv_send_ping(c, &id), RINGKV_OK);
    struct ringkv_reply r;
    enum ringkv_err err;
    int tries = 0;
    while ((err = ringkv_recv(c, &r)) == RINGKV_ERR_NET_TIMEOUT && tries < 20)
        tries++;
    cr_assert_eq(err, RINGKV_OK);
    cr_assert(tries >= 1, "the first recv timed out");
    cr_assert_eq(r.request_id, id);
    cr_assert_eq(r.version, 111u);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, the_late_answer_of_a_timed_out_blocking_call_is_dropped)
{
    int delay_ms = 300;
    struct fake_server s;
    fake_start(&s, script_late_then_kv, &delay_ms);
    ringkv_client *c = connect_ok(&s, 100);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_ERR_NET_TIMEOUT);
    cr_assert_eq(ringkv_in_flight(c), 0u);
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 400 * 1000000L};
    nanosleep(&ts, NULL); /* the late answer is now on the socket */
    struct ringkv_reply r;
    cr_assert_eq(ringkv_put(c, "k", 1, "v", 1, NULL, &r), RINGKV_OK);
    cr_assert_eq(r.opcode, BIN_OP_PUT);
    cr_assert_eq(r.version, 1u, "the put's own answer, not the ping's (version 111)");
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, connect_to_a_port_nobody_listens_on_is_a_connect_error)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(sin);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    /* The port stays bound but never listens, so nothing can take it meanwhile. */
    enum ringkv_err err = RINGKV_OK;
    ringkv_client *c = ringkv_connect(addr, 1000, &err);
    cr_assert_null(c);
    cr_assert_eq(err, RINGKV_ERR_CONNECT);
    close(fd);
}

Test(client, malformed_addresses_are_usage_errors)
{
    const char *bad[] = {
        "localhost", "127.0.0.1:", ":7379", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:73a9",
        "::1:7379", "[::1:7379", "[::1]7379", "[]:7379", "127.0.0.1:-1", "127.0.0.1:123456",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum ringkv_err err = RINGKV_OK;
        cr_assert_null(ringkv_connect(bad[i], 100, &err), "%s", bad[i]);
        cr_assert_eq(err, RINGKV_ERR_USAGE, "%s", bad[i]);
    }
    enum ringkv_err err = RINGKV_OK;
    cr_assert_null(ringkv_connect(NULL, 100, &err));
    cr_assert_eq(err, RINGKV_ERR_USAGE);
    cr_assert_null(ringkv_connect("127.0.0.1:7379", -1, &err));
    cr_assert_eq(err, RINGKV_ERR_USAGE);
}

Test(client, a_null_client_or_null_key_with_a_length_is_a_usage_error)
{
    uint32_t id;
    cr_assert_eq(ringkv_ping(NULL, NULL), RINGKV_ERR_USAGE);
    cr_assert_eq(ringkv_send_ping(NULL, &id), RINGKV_ERR_USAGE);
    cr_assert_eq(ringkv_flush(NULL), RINGKV_ERR_USAGE);
    cr_assert_eq(ringkv_recv(NULL, NULL), RINGKV_ERR_USAGE);
    cr_assert_eq(ringkv_in_flight(NULL), 0u);
    ringkv_close(NULL);

    struct fake_server s;
    fake_start(&s, script_kv, NULL);
    ringkv_client *c = connect_ok(&s, CLIENT_TIMEOUT_MS);
    cr_assert_eq(ringkv_get(c, NULL, 3, NULL, NULL), RINGKV_ERR_USAGE);
    cr_assert_eq(ringkv_put(c, "k", 1, NULL, 3, NULL, NULL), RINGKV_ERR_USAGE);
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK);
    ringkv_close(c);
    fake_stop(&s);
}

Test(client, ipv6_loopback_in_brackets_parses)
{
    /* Nothing listens on this port of ::1 (or IPv6 is off): either way the address parsed,
     * so the error is a connect error, not a usage error. */
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        cr_skip_test("no IPv6 sockets here");
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) != 0) {
        close(fd);
        cr_skip_test("no IPv6 loopback here");
    }
    socklen_t len = sizeof(sin6);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin6, &len), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "[::1]:%u", (unsigned)ntohs(sin6.sin6_port));
    enum ringkv_err err = RINGKV_OK;
    cr_assert_null(ringkv_connect(addr, 1000, &err));
    cr_assert_eq(err, RINGKV_ERR_CONNECT);
    close(fd);
}
