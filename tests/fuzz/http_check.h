/* The property check shared by the libFuzzer target (http_fuzz.c) and the corpus replay test
 * (http_replay_test.c): any bytes, read as a stream of HTTP requests, must frame three-way
 * without reading out of bounds; a framed request never spans more than the bytes given, its
 * proper prefixes ask for more, and it frames the same with more bytes after it; parsing
 * it either accepts a request that passes bin_req_validate() or answers a well-formed error;
 * and a response can be built for whatever was accepted or refused. A violated property
 * aborts, which both harnesses report as a failure. Header-only (static inline) so both can
 * include it; each includer gets its own value buffer. */
#ifndef RKV_TESTS_FUZZ_HTTP_CHECK_H
#define RKV_TESTS_FUZZ_HTTP_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/limits.h"
#include "net/http.h"
#include "net/proto_bin.h"

#define HC_CHECK(cond)                                                                    \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "http_check: %s does not hold (line %d)\n", #cond, __LINE__); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Requests handled per input, so that one input cannot run for long. */
#define HC_FRAMES_PER_INPUT_MAX 32u

/* Where http_parse_request() decodes values; RKV_VALUE_BYTES_MAX + 1 as its contract asks. */
static uint8_t hc_value_buf[RKV_VALUE_BYTES_MAX + 1u];

static inline bool hc_status_known(int status)
{
    static const int known[] = {400, 404, 405, 411, 412, 413, 431, 500, 503, 504, 507};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (status == known[i])
            return true;
    return false;
}

static inline void hc_check_error(const struct http_error *e)
{
    HC_CHECK(hc_status_known(e->status));
    HC_CHECK(e->code != NULL && e->code[0] != '\0');
    HC_CHECK(e->message != NULL && e->message[0] != '\0');
}

/* Takes out (and frees it) with its length already set: never call this with the build
 * call as an argument, since n would be read before the build sets it.
 * A built response: one status line, headers ending in an empty line, and a body of exactly
 * Content-Length bytes (none at all for 204). */
static inline void hc_check_response(uint8_t *out, size_t n, int status)
{
    HC_CHECK(out != NULL);
    HC_CHECK(n > 12u && memcmp(out, "HTTP/1.1 ", 9) == 0);
    HC_CHECK(out[9] == (uint8_t)('0' + status / 100) && out[10] == (uint8_t)('0' + status / 10 % 10) &&
             out[11] == (uint8_t)('0' + status % 10));
    const uint8_t *end = memmem(out, n, "\r\n\r\n", 4);
    HC_CHECK(end != NULL);
    size_t head_bytes = (size_t)(end - out) + 4u;
    const char *cl = memmem(out, head_bytes, "\r\nContent-Length: ", 18);
    if (status == 204) {
        HC_CHECK(cl == NULL);
        HC_CHECK(head_bytes == n);
    } else {
        HC_CHECK(cl != NULL);
        size_t body_bytes = (size_t)strtoull(cl + 18, NULL, 10);
        HC_CHECK(head_bytes + body_bytes == n);
    }
    free(out);
}

/* Builds responses for an accepted request: for a KV one, a success and one error. */
static inline void hc_check_responses(const struct http_request *req)
{
    size_t n = 0;
    if (req->route != HTTP_ROUTE_KV) {
        static const uint8_t body[] = "ok\n";
        uint8_t *out = http_build_response(200, "text/plain", body, 3, req->keep_alive, &n);
        hc_check_response(out, n, 200);
        return;
    }
    static const uint8_t value[] = {0x00, 0xff, '"', '\\'};
    struct http_result res = {
        .err = RKV_OK,
        .version = 1u + req->op.key_bytes,
        .timestamp = (uint64_t)1710489600000u << 16,
        .value = req->op.opcode == BIN_OP_GET ? value : NULL,
        .value_bytes = req->op.opcode == BIN_OP_GET ? (uint32_t)sizeof(value) : 0u,
        .acked = 1,
        .needed = 1,
        .consistency = req->op.consistency,
    };
    int ok_status = req->op.opcode == BIN_OP_DELETE ? 204 : 200;
    uint8_t *out = http_build_kv_response(req, &res, &n);
    hc_check_response(out, n, ok_status);

    static const enum rkv_err errs[] = {RKV_NOT_FOUND, RKV_VERSION_MISMATCH, RKV_UNAVAILABLE, RKV_BUSY};
    res.err = errs[req->op.key[0] % (sizeof(errs) / sizeof(errs[0]))];
    res.value = NULL;
    res.value_bytes = 0;
    out = http_build_kv_response(req, &res, &n);
    hc_check_response(out, n, rkv_err_http(res.err));
}

/* One framed request at buf[0..frame_bytes), with `after` more bytes readable behind it. */
static inline void hc_check_request(const uint8_t *buf, size_t frame_bytes, size_t after,
                                    const struct http_frame *f)
{
    /* Proper prefixes ask for more; once the header block is in, they name the whole size. */
    const size_t lens[] = {0, 1, frame_bytes / 2u, frame_bytes - 1u};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        if (lens[i] >= frame_bytes)
            continue;
        struct http_frame pf;
        struct http_error pe;
        HC_CHECK(http_frame_request(buf, lens[i], &pf, &pe) == PARSE_NEED_MORE);
        HC_CHECK(pf.frame_bytes == 0 || pf.frame_bytes == frame_bytes);
    }
    /* The bytes after the frame do not change it. */
    if (after != 0) {
        struct http_frame xf;
        struct http_error xe;
        HC_CHECK(http_frame_request(buf, frame_bytes, &xf, &xe) == PARSE_DONE);
        HC_CHECK(xf.frame_bytes == frame_bytes && xf.keep_alive == f->keep_alive);
    }

    struct http_request req;
    struct http_error err;
    size_t n = 0;
    if (http_parse_request(buf, frame_bytes, hc_value_buf, &req, &err)) {
        HC_CHECK(bin_req_validate(&req.op) == RKV_OK);
        HC_CHECK(req.op.request_id == 0);
        HC_CHECK(req.keep_alive == f->keep_alive);
        if (req.route == HTTP_ROUTE_KV) {
            HC_CHECK(req.op.opcode == BIN_OP_GET || req.op.opcode == BIN_OP_PUT || req.op.opcode == BIN_OP_DELETE);
            HC_CHECK(req.op.key == req.key_buf);
            HC_CHECK(req.op.key_bytes >= 1 && req.op.key_bytes <= RKV_KEY_BYTES_MAX);
            HC_CHECK(req.op.opcode != BIN_OP_PUT || req.op.value == hc_value_buf);
            /* A value is at most a quarter smaller than its base64, which the frame holds. */
            HC_CHECK((size_t)req.op.value_bytes * 4u <= frame_bytes * 3u);
        } else if (req.route == HTTP_ROUTE_DEBUG_KEY) {
            /* GET /debug/key/{key}: a GET of the key as far as validation goes. */
            HC_CHECK(req.op.opcode == BIN_OP_GET);
            HC_CHECK(req.op.key == req.key_buf);
            HC_CHECK(req.op.key_bytes >= 1 && req.op.key_bytes <= RKV_KEY_BYTES_MAX);
            HC_CHECK(req.op.value_bytes == 0);
        } else {
            HC_CHECK(req.route == HTTP_ROUTE_METRICS || req.route == HTTP_ROUTE_HEALTH);
            HC_CHECK(req.op.opcode == BIN_OP_PING);
        }
        hc_check_responses(&req);
    } else {
        hc_check_error(&err);
        uint8_t *out = http_build_error(&err, f->keep_alive, &n);
        hc_check_response(out, n, err.status);
    }
}

/* Reads data as a stream of requests, one after the other. */
static inline void http_check(const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (unsigned k = 0; k < HC_FRAMES_PER_INPUT_MAX && off <= size; k++) {
        struct http_frame f;
        struct http_error e;
        enum parse_rc rc = http_frame_request(data + off, size - off, &f, &e);
        if (rc == PARSE_DONE) {
            HC_CHECK(f.frame_bytes > 0 && f.frame_bytes <= size - off);
            HC_CHECK(f.frame_bytes <= HTTP_FRAME_BYTES_MAX);
            hc_check_request(data + off, f.frame_bytes, size - off - f.frame_bytes, &f);
            off += f.frame_bytes;
            continue;
        }
        size_t n = 0;
        if (rc == PARSE_INVALID) {
            hc_check_error(&e);
            HC_CHECK(e.close);
            HC_CHECK(e.status == 400 || e.status == 411 || e.status == 413 || e.status == 431);
            HC_CHECK(f.frame_bytes == 0);
            uint8_t *out = http_build_error(&e, true, &n);
            hc_check_response(out, n, e.status);
        } else {
            HC_CHECK(rc == PARSE_NEED_MORE);
            HC_CHECK(f.frame_bytes == 0 || (f.frame_bytes > size - off && f.frame_bytes <= HTTP_FRAME_BYTES_MAX));
            HC_CHECK(f.frame_bytes != 0 || size - off <= HTTP_HEADER_BYTES_MAX);
        }
        break;
    }
}

#endif
