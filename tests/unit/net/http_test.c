/* Tests of the HTTP/JSON codec (net/http.h): framing at every prefix and every header and
 * body limit, keep-alive rules, routing and methods, percent-decoding of keys, the query,
 * every malformed PUT body we know of, and responses parsed back with http-parser and
 * jansson. Every accepted request is also checked against bin_req_validate(). Each test owns
 * its buffers. */
#include <criterion/criterion.h>
#include <http_parser.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "core/limits.h"
#include "net/http.h"

static uint8_t value_buf[RKV_VALUE_BYTES_MAX + 1u];

/* ---- building requests ---------------------------------------------------------------- */

/* A request built by a test: bytes and size, freed by text_free(). */
struct text {
    char *bytes;
    size_t len;
};

static struct text text_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    cr_assert_geq(n, 0);
    struct text t = {.bytes = malloc((size_t)n + 1u), .len = (size_t)n};
    cr_assert_not_null(t.bytes);
    va_start(ap, fmt);
    vsnprintf(t.bytes, (size_t)n + 1u, fmt, ap);
    va_end(ap);
    return t;
}

static struct text text_cat(struct text a, struct text b)
{
    struct text t = {.bytes = malloc(a.len + b.len + 1u), .len = a.len + b.len};
    cr_assert_not_null(t.bytes);
    memcpy(t.bytes, a.bytes, a.len);
    memcpy(t.bytes + a.len, b.bytes, b.len);
    t.bytes[t.len] = '\0';
    return t;
}

static void text_free(struct text *t)
{
    free(t->bytes);
    t->bytes = NULL;
}

/* PUT target with body, Content-Length set. */
static struct text put_text(const char *target, const char *body)
{
    return text_printf("PUT %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s", target,
                       strlen(body), body);
}

/* Base64 of bytes, malloc'd and NUL-terminated. */
static char *b64_of(const uint8_t *p, size_t n)
{
    cr_assert_geq(sodium_init(), 0);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    cr_assert_not_null(s);
    static const uint8_t none[1];
    sodium_bin2base64(s, cap, n != 0 ? p : none, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* ---- framing and parsing helpers -------------------------------------------------------- */

static enum parse_rc frame(const void *buf, size_t len, struct http_frame *f, struct http_error *e)
{
    return http_frame_request(buf, len, f, e);
}

/* Frames buf (which must be exactly one request), then parses it. On acceptance, asserts
 * that the op passes bin_req_validate(). */
static bool parse_whole(const void *buf, size_t len, struct http_request *req, struct http_error *err)
{
    struct http_frame f;
    struct http_error fe;
    cr_assert_eq(frame(buf, len, &f, &fe), PARSE_DONE, "framing failed: %d %s", fe.status,
                 fe.code != NULL ? fe.code : "");
    cr_assert_eq(f.frame_bytes, len);
    bool ok = http_parse_request(buf, len, value_buf, req, err);
    if (ok) {
        cr_assert_eq(bin_req_validate(&req->op), RKV_OK);
        cr_assert_eq(req->keep_alive, f.keep_alive);
    }
    return ok;
}

static bool parse_str(const char *s, struct http_request *req, struct http_error *err)
{
    return parse_whole(s, strlen(s), req, err);
}

static void expect_refused(const char *s, int status, const char *code)
{
    struct http_request req;
    struct http_error err;
    cr_assert_not(parse_str(s, &req, &err), "accepted: %s", s);
    cr_assert_eq(err.status, status, "status %d, not %d, for %s", err.status, status, s);
    cr_assert_str_eq(err.code, code, "for %s", s);
    cr_assert_not_null(err.message);
    cr_assert_gt(strlen(err.message), 0);
}

static void expect_put_refused(const char *target, const char *body, int status, const char *code)
{
    struct text t = put_text(target, body);
    expect_refused(t.bytes, status, code);
    text_free(&t);
}

static void expect_put_ok(const char *target, const char *body, struct http_request *req)
{
    struct text t = put_text(target, body);
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, req, &err), "refused %d %s: %s", err.status, err.code, body);
    cr_assert_eq(req->op.opcode, BIN_OP_PUT);
    text_free(&t);
}

static void expect_frame_invalid(const void *buf, size_t len, int status, const char *code)
{
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame(buf, len, &f, &e), PARSE_INVALID);
    cr_assert_eq(e.status, status, "status %d, not %d", e.status, status);
    cr_assert_str_eq(e.code, code);
    cr_assert(e.close, "a framing error closes the connection");
}

/* ---- framing -------------------------------------------------------------------------- */

Test(http_frame, every_proper_prefix_of_a_request_needs_more)
{
    const char *s = "PUT /kv/a HTTP/1.1\r\nHost: h\r\nContent-Length: 16\r\n\r\n{\"value\":\"YQ==\"}";
    size_t len = strlen(s);
    size_t head_bytes = (size_t)(strstr(s, "\r\n\r\n") - s) + 4u;
    for (size_t i = 0; i < len; i++) {
        struct http_frame f;
        struct http_error e;
        cr_assert_eq(frame(s, i, &f, &e), PARSE_NEED_MORE, "prefix of %zu bytes", i);
        cr_assert_eq(f.frame_bytes, i < head_bytes ? 0u : len, "prefix of %zu bytes", i);
    }
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame(s, len, &f, &e), PARSE_DONE);
    cr_assert_eq(f.frame_bytes, len);
    cr_assert(f.keep_alive);
}

Test(http_frame, expect_100_continue_is_reported_while_the_body_is_awaited)
{
    static const char head[] = "PUT /kv/a HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\nContent-Length: 12\r\n\r\n";
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame(head, sizeof head - 1, &f, &e), PARSE_NEED_MORE);
    cr_assert(f.expect_continue, "the header's value is matched without regard to case");
    cr_assert_eq(f.frame_bytes, sizeof head - 1 + 12);
    static const char plain[] = "PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\n";
    cr_assert_eq(frame(plain, sizeof plain - 1, &f, &e), PARSE_NEED_MORE);
    cr_assert_not(f.expect_continue);
    static const char other[] = "PUT /kv/a HTTP/1.1\r\nExpect: something-else\r\nContent-Length: 12\r\n\r\n";
    cr_assert_eq(frame(other, sizeof other - 1, &f, &e), PARSE_NEED_MORE);
    cr_assert_not(f.expect_continue, "only 100-continue asks for the interim answer");
    static const char nobody[] = "GET /kv/a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n";
    cr_assert_eq(frame(nobody, sizeof nobody - 1, &f, &e), PARSE_DONE);
    cr_assert_not(f.expect_continue, "no body, nothing to wait for");
}

Test(http_frame, the_empty_buffer_needs_more)
{
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame("", 0, &f, &e), PARSE_NEED_MORE);
    cr_assert_eq(f.frame_bytes, 0);
    cr_assert_eq(frame(NULL, 0, &f, &e), PARSE_NEED_MORE);
}

Test(http_frame, pipelined_requests_frame_one_at_a_time)
{
    const char *reqs[] = {
        "GET /kv/a HTTP/1.1\r\nHost: h\r\n\r\n",
        "PUT /kv/b HTTP/1.1\r\nContent-Length: 16\r\n\r\n{\"value\":\"Yg==\"}",
        "DELETE /kv/c?consistency=all HTTP/1.1\r\n\r\n",
        "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
    };
    char all[1024] = "";
    for (size_t i = 0; i < 4; i++)
        strcat(all, reqs[i]);
    size_t off = 0;
    const uint8_t keys[] = {'a', 'b', 'c'};
    for (size_t i = 0; i < 4; i++) {
        struct http_frame f;
        struct http_error e;
        cr_assert_eq(frame(all + off, strlen(all) - off, &f, &e), PARSE_DONE);
        cr_assert_eq(f.frame_bytes, strlen(reqs[i]));
        struct http_request req;
        cr_assert(http_parse_request((const uint8_t *)all + off, f.frame_bytes, value_buf, &req, &e));
        if (i < 3) {
            cr_assert_eq(req.op.key_bytes, 1);
            cr_assert_eq(req.op.key[0], keys[i]);
        }
        cr_assert_eq(f.keep_alive, i < 3);
        off += f.frame_bytes;
    }
    cr_assert_eq(off, strlen(all));
}

/* A GET whose header block is exactly head_bytes long, padded with one X-Pad header. */
static struct text get_with_head_bytes(size_t head_bytes)
{
    const char *start = "GET /kv/k HTTP/1.1\r\nX-Pad: ";
    const char *end = "\r\n\r\n";
    size_t pad = head_bytes - strlen(start) - strlen(end);
    struct text t = {.bytes = malloc(head_bytes + 1u), .len = head_bytes};
    cr_assert_not_null(t.bytes);
    strcpy(t.bytes, start);
    memset(t.bytes + strlen(start), 'p', pad);
    strcpy(t.bytes + strlen(start) + pad, end);
    cr_assert_eq(strlen(t.bytes), head_bytes);
    return t;
}

Test(http_frame, a_header_block_of_exactly_8192_bytes_frames)
{
    struct text t = get_with_head_bytes(HTTP_HEADER_BYTES_MAX);
    struct http_request req;
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, &req, &err));
    text_free(&t);
}

Test(http_frame, a_header_block_of_8193_bytes_is_refused_with_431)
{
    struct text t = get_with_head_bytes(HTTP_HEADER_BYTES_MAX + 1u);
    expect_frame_invalid(t.bytes, t.len, 431, "headers_too_large");
    text_free(&t);
}

Test(http_frame, an_unfinished_header_block_needs_more_up_to_8192_bytes_and_is_431_past_it)
{
    struct text t = get_with_head_bytes(HTTP_HEADER_BYTES_MAX + 100u);
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame(t.bytes, HTTP_HEADER_BYTES_MAX, &f, &e), PARSE_NEED_MORE);
    expect_frame_invalid(t.bytes, HTTP_HEADER_BYTES_MAX + 1u, 431, "headers_too_large");
    text_free(&t);
}

static struct text get_with_headers(unsigned count)
{
    struct text t = text_printf("GET /kv/k HTTP/1.1\r\n");
    for (unsigned i = 0; i < count; i++) {
        struct text line = text_printf("X-H%u: %u\r\n", i, i);
        struct text next = text_cat(t, line);
        text_free(&t);
        text_free(&line);
        t = next;
    }
    struct text end = text_printf("\r\n");
    struct text whole = text_cat(t, end);
    text_free(&t);
    text_free(&end);
    return whole;
}

Test(http_frame, sixty_four_header_fields_frame)
{
    struct text t = get_with_headers(HTTP_HEADERS_COUNT_MAX);
    struct http_request req;
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, &req, &err));
    text_free(&t);
}

Test(http_frame, sixty_five_header_fields_are_refused_with_431)
{
    struct text t = get_with_headers(HTTP_HEADERS_COUNT_MAX + 1u);
    expect_frame_invalid(t.bytes, t.len, 431, "headers_too_large");
    text_free(&t);
}

Test(http_frame, header_fields_with_empty_values_count_one_each)
{
    struct text t = text_printf("GET /kv/k HTTP/1.1\r\n");
    for (unsigned i = 0; i <= HTTP_HEADERS_COUNT_MAX; i++) {
        struct text line = text_printf("X-E%u:\r\n", i);
        struct text next = text_cat(t, line);
        text_free(&t);
        text_free(&line);
        t = next;
        struct text end = text_printf("\r\n");
        struct text whole = text_cat(t, end);
        text_free(&end);
        struct http_frame f;
        struct http_error e;
        cr_assert_eq(frame(whole.bytes, whole.len, &f, &e), i + 1u <= HTTP_HEADERS_COUNT_MAX ? PARSE_DONE : PARSE_INVALID,
                     "%u fields", i + 1u);
        text_free(&whole);
    }
    text_free(&t);
}

Test(http_frame, transfer_encoding_after_an_empty_header_is_still_seen)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\nX-Empty:\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 411, "length_required");
    const char *t = "PUT /kv/k HTTP/1.1\r\nX-Empty: \r\nTransfer-Encoding:\r\n\r\n";
    expect_frame_invalid(t, strlen(t), 411, "length_required");
}

Test(http_frame, content_length_at_the_body_limit_waits_for_the_body)
{
    struct text t = text_printf("PUT /kv/k HTTP/1.1\r\nContent-Length: %u\r\n\r\n", HTTP_BODY_BYTES_MAX);
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame(t.bytes, t.len, &f, &e), PARSE_NEED_MORE);
    cr_assert_eq(f.frame_bytes, t.len + HTTP_BODY_BYTES_MAX);
    text_free(&t);
}

Test(http_frame, content_length_one_over_the_body_limit_is_refused_with_413)
{
    struct text t = text_printf("PUT /kv/k HTTP/1.1\r\nContent-Length: %u\r\n\r\n", HTTP_BODY_BYTES_MAX + 1u);
    expect_frame_invalid(t.bytes, t.len, 413, "body_too_large");
    text_free(&t);
}

Test(http_frame, a_huge_content_length_is_refused_with_413)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 413, "body_too_large");
}

Test(http_frame, a_content_length_past_what_the_parser_counts_is_refused_with_400)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 400, "bad_request");
}

Test(http_frame, chunked_bodies_are_refused_with_411)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 411, "length_required");
}

Test(http_frame, any_transfer_encoding_is_refused_with_411)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\ntransfer-ENCODING: gzip\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 411, "length_required");
}

Test(http_frame, transfer_encoding_with_content_length_is_refused_with_400)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc";
    expect_frame_invalid(s, strlen(s), 400, "bad_request");
}

Test(http_frame, two_content_lengths_are_refused_with_400)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
    expect_frame_invalid(s, strlen(s), 400, "bad_request");
}

Test(http_frame, a_content_length_with_letters_is_refused_with_400)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc";
    expect_frame_invalid(s, strlen(s), 400, "bad_request");
}

Test(http_frame, a_malformed_request_line_is_refused_with_400)
{
    const char *s = "GET /kv/a HTTX/1.1\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 400, "bad_request");
    const char *t = "G@T /kv/a HTTP/1.1\r\n\r\n";
    expect_frame_invalid(t, strlen(t), 400, "bad_request");
    const char *u = "GET /kv/a\r\n\r\n";
    expect_frame_invalid(u, strlen(u), 400, "bad_request");
    const char *v = "GET /kv/a HTTP/1.1 x\r\n\r\n";
    expect_frame_invalid(v, strlen(v), 400, "bad_request");
}

Test(http_frame, a_space_in_the_target_is_refused_with_400)
{
    const char *s = "GET /kv/a b HTTP/1.1\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 400, "bad_request");
}

Test(http_frame, versions_other_than_1_0_and_1_1_are_refused_with_400)
{
    const char *s = "GET /kv/a HTTP/2.0\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 400, "bad_request");
    const char *t = "GET /kv/a HTTP/1.2\r\n\r\n";
    expect_frame_invalid(t, strlen(t), 400, "bad_request");
}

Test(http_frame, garbage_without_line_ends_is_refused_once_past_the_header_limit)
{
    struct text t = {.bytes = malloc(HTTP_HEADER_BYTES_MAX + 1u), .len = HTTP_HEADER_BYTES_MAX + 1u};
    memset(t.bytes, 'G', t.len);
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame(t.bytes, HTTP_HEADER_BYTES_MAX, &f, &e), PARSE_NEED_MORE);
    expect_frame_invalid(t.bytes, t.len, 400, "bad_request");
    text_free(&t);
}

Test(http_frame, lf_only_line_ends_frame)
{
    struct http_request req;
    struct http_error err;
    cr_assert(parse_str("GET /kv/a HTTP/1.1\nHost: h\n\n", &req, &err));
    cr_assert_eq(req.op.opcode, BIN_OP_GET);
}

Test(http_frame, an_empty_line_before_the_request_line_is_skipped)
{
    struct http_request req;
    struct http_error err;
    cr_assert(parse_str("\r\nGET /kv/a HTTP/1.1\r\n\r\n", &req, &err));
    cr_assert_eq(req.op.opcode, BIN_OP_GET);
}

Test(http_frame, a_bare_cr_in_place_of_a_line_end_is_refused_with_400)
{
    const char *s = "GET /kv/a HTTP/1.1\r\nHost: h\r\n\rX\r\n\r\n";
    expect_frame_invalid(s, strlen(s), 400, "bad_request");
}

/* ---- keep-alive ------------------------------------------------------------------------- */

static bool keep_alive_of(const char *s)
{
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame(s, strlen(s), &f, &e), PARSE_DONE);
    return f.keep_alive;
}

Test(http_keep_alive, http_1_1_keeps_the_connection_by_default)
{
    cr_assert(keep_alive_of("GET /kv/a HTTP/1.1\r\n\r\n"));
}

Test(http_keep_alive, connection_close_ends_an_http_1_1_connection)
{
    cr_assert_not(keep_alive_of("GET /kv/a HTTP/1.1\r\nConnection: close\r\n\r\n"));
    cr_assert_not(keep_alive_of("GET /kv/a HTTP/1.1\r\nconnection: CLOSE\r\n\r\n"));
}

Test(http_keep_alive, http_1_0_closes_by_default)
{
    cr_assert_not(keep_alive_of("GET /kv/a HTTP/1.0\r\n\r\n"));
}

Test(http_keep_alive, http_1_0_with_connection_keep_alive_keeps_the_connection)
{
    cr_assert(keep_alive_of("GET /kv/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

Test(http_keep_alive, the_parsed_request_carries_the_same_keep_alive)
{
    struct http_request req;
    struct http_error err;
    cr_assert(parse_str("GET /kv/a HTTP/1.1\r\nConnection: close\r\n\r\n", &req, &err));
    cr_assert_not(req.keep_alive);
    cr_assert(parse_str("GET /kv/a HTTP/1.1\r\n\r\n", &req, &err));
    cr_assert(req.keep_alive);
}

/* ---- routing and methods ---------------------------------------------------------------- */

Test(http_route, get_put_and_delete_on_a_key_become_kv_ops_at_quorum_by_default)
{
    struct http_request req;
    struct http_error err;
    cr_assert(parse_str("GET /kv/hello HTTP/1.1\r\n\r\n", &req, &err));
    cr_assert_eq(req.route, HTTP_ROUTE_KV);
    cr_assert_eq(req.op.opcode, BIN_OP_GET);
    cr_assert_eq(req.op.consistency, BIN_CONS_QUORUM);
    cr_assert_eq(req.op.request_id, 0);
    cr_assert_eq(req.op.key_bytes, 5);
    cr_assert_eq(memcmp(req.op.key, "hello", 5), 0);
    cr_assert_eq(req.op.key, req.key_buf);

    cr_assert(parse_str("DELETE /kv/hello HTTP/1.1\r\n\r\n", &req, &err));
    cr_assert_eq(req.op.opcode, BIN_OP_DELETE);
    cr_assert_eq(req.op.consistency, BIN_CONS_QUORUM);

    struct text t = put_text("/kv/hello", "{\"value\":\"d29ybGQ=\"}");
    cr_assert(parse_whole(t.bytes, t.len, &req, &err));
    cr_assert_eq(req.op.opcode, BIN_OP_PUT);
    cr_assert_eq(req.op.value_bytes, 5);
    cr_assert_eq(req.op.value, value_buf);
    cr_assert_eq(memcmp(req.op.value, "world", 5), 0);
    cr_assert_eq(req.op.ttl_s, 0);
    cr_assert_eq(req.op.flags, 0);
    text_free(&t);
}

Test(http_route, metrics_and_health_answer_get_as_a_ping)
{
    struct http_request req;
    struct http_error err;
    cr_assert(parse_str("GET /metrics HTTP/1.1\r\n\r\n", &req, &err));
    cr_assert_eq(req.route, HTTP_ROUTE_METRICS);
    cr_assert_eq(req.op.opcode, BIN_OP_PING);
    cr_assert(parse_str("GET /health HTTP/1.1\r\n\r\n", &req, &err));
    cr_assert_eq(req.route, HTTP_ROUTE_HEALTH);
    cr_assert_eq(req.op.opcode, BIN_OP_PING);
}

Test(http_route, metrics_and_health_refuse_other_methods_with_405)
{
    expect_refused("PUT /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "method_not_allowed");
    expect_refused("DELETE /metrics HTTP/1.1\r\n\r\n", 405, "method_not_allowed");
    expect_refused("POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "method_not_allowed");
    expect_refused("DELETE /health HTTP/1.1\r\n\r\n", 405, "method_not_allowed");
}

Test(http_route, other_methods_on_a_key_are_refused_with_405_without_closing)
{
    struct http_request req;
    struct http_error err;
    cr_assert_not(parse_str("POST /kv/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req, &err));
    cr_assert_eq(err.status, 405);
    cr_assert_str_eq(err.code, "method_not_allowed");
    cr_assert_not(err.close);
    expect_refused("PATCH /kv/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "method_not_allowed");
    expect_refused("OPTIONS /kv/a HTTP/1.1\r\n\r\n", 405, "method_not_allowed");
}

Test(http_route, head_is_refused_with_405_and_closes)
{
    struct http_request req;
    struct http_error err;
    cr_assert_not(parse_str("HEAD /kv/a HTTP/1.1\r\n\r\n", &req, &err));
    cr_assert_eq(err.status, 405);
    cr_assert(err.close);
}

Test(http_route, unknown_paths_are_404_not_found)
{
    expect_refused("GET / HTTP/1.1\r\n\r\n", 404, "not_found");
    expect_refused("GET /kv HTTP/1.1\r\n\r\n", 404, "not_found");
    expect_refused("GET /kvx/a HTTP/1.1\r\n\r\n", 404, "not_found");
    expect_refused("GET /KV/a HTTP/1.1\r\n\r\n", 404, "not_found");
    expect_refused("GET /metrics/ HTTP/1.1\r\n\r\n", 404, "not_found");
    expect_refused("GET /healthz HTTP/1.1\r\n\r\n", 404, "not_found");
    expect_refused("POST /nowhere HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 404, "not_found");
}

Test(http_route, a_target_that_is_not_a_path_is_refused_with_400)
{
    expect_refused("GET http://localhost:8080/kv/a HTTP/1.1\r\n\r\n", 400, "bad_request");
    expect_refused("GET /kv/a#frag HTTP/1.1\r\n\r\n", 400, "bad_request");
}

Test(http_route, metrics_and_health_take_no_query_and_no_body)
{
    expect_refused("GET /metrics?x=1 HTTP/1.1\r\n\r\n", 400, "bad_request");
    expect_refused("GET /health HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, "bad_request");
    struct http_request req;
    struct http_error err;
    cr_assert(parse_str("GET /metrics? HTTP/1.1\r\n\r\n", &req, &err));
}

/* ---- keys ------------------------------------------------------------------------------- */

static void expect_get_key(const char *target, const uint8_t *key, size_t key_bytes)
{
    struct text t = text_printf("GET %s HTTP/1.1\r\n\r\n", target);
    struct http_request req;
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, &req, &err), "refused %s: %d %s", target, err.status, err.code);
    cr_assert_eq(req.op.key_bytes, key_bytes, "%s", target);
    cr_assert_eq(memcmp(req.op.key, key, key_bytes), 0, "%s", target);
    text_free(&t);
}

Test(http_key, percent_encoded_bytes_decode_to_binary_keys)
{
    expect_get_key("/kv/%00", (const uint8_t *)"\0", 1);
    expect_get_key("/kv/a%00b", (const uint8_t *)"a\0b", 3);
    expect_get_key("/kv/%ff%FE%7f", (const uint8_t *)"\xff\xfe\x7f", 3);
    expect_get_key("/kv/%2F", (const uint8_t *)"/", 1);
    expect_get_key("/kv/%3F%23%25", (const uint8_t *)"?#%", 3);
    expect_get_key("/kv/hello%20world", (const uint8_t *)"hello world", 11);
}

Test(http_key, a_raw_slash_and_a_plus_are_part_of_the_key)
{
    expect_get_key("/kv/a/b/c", (const uint8_t *)"a/b/c", 5);
    expect_get_key("/kv//", (const uint8_t *)"/", 1);
    expect_get_key("/kv/a+b", (const uint8_t *)"a+b", 3);
}

Test(http_key, raw_bytes_over_0x7f_are_taken_as_they_are)
{
    expect_get_key("/kv/caf\xc3\xa9", (const uint8_t *)"caf\xc3\xa9", 5);
}

Test(http_key, bad_percent_encoding_is_refused_with_400)
{
    expect_refused("GET /kv/%G1 HTTP/1.1\r\n\r\n", 400, "bad_request");
    expect_refused("GET /kv/%1G HTTP/1.1\r\n\r\n", 400, "bad_request");
    expect_refused("GET /kv/a% HTTP/1.1\r\n\r\n", 400, "bad_request");
    expect_refused("GET /kv/a%4 HTTP/1.1\r\n\r\n", 400, "bad_request");
    expect_refused("GET /kv/a%4?consistency=one HTTP/1.1\r\n\r\n", 400, "bad_request");
}

Test(http_key, an_empty_key_is_refused_with_400_key_empty)
{
    expect_refused("GET /kv/ HTTP/1.1\r\n\r\n", 400, "key_empty");
    expect_refused("GET /kv/?consistency=one HTTP/1.1\r\n\r\n", 400, "key_empty");
    expect_put_refused("/kv/", "{\"value\":\"\"}", 400, "key_empty");
}

/* "/kv/" then n bytes of key, every third one percent-encoded. */
static struct text target_with_key(size_t n, uint8_t *key_out)
{
    struct text t = {.bytes = malloc(4u + 3u * n + 1u), .len = 0};
    cr_assert_not_null(t.bytes);
    memcpy(t.bytes, "/kv/", 4);
    t.len = 4;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)(i * 37u + 1u);
        bool alnum = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
        if (i % 3u == 0 || !alnum) {
            t.len += (size_t)sprintf(t.bytes + t.len, "%%%02X", b);
        } else {
            t.bytes[t.len++] = (char)b;
        }
        key_out[i] = b;
    }
    t.bytes[t.len] = '\0';
    return t;
}

Test(http_key, a_key_of_256_bytes_after_decoding_is_accepted)
{
    uint8_t key[RKV_KEY_BYTES_MAX];
    struct text target = target_with_key(RKV_KEY_BYTES_MAX, key);
    expect_get_key(target.bytes, key, RKV_KEY_BYTES_MAX);
    text_free(&target);
}

Test(http_key, a_key_of_257_bytes_after_decoding_is_refused_with_400_key_too_long)
{
    uint8_t key[RKV_KEY_BYTES_MAX + 1u];
    struct text target = target_with_key(RKV_KEY_BYTES_MAX + 1u, key);
    struct text get = text_printf("GET %s HTTP/1.1\r\n\r\n", target.bytes);
    expect_refused(get.bytes, 400, "key_too_long");
    struct text put = put_text(target.bytes, "{\"value\":\"\"}");
    expect_refused(put.bytes, 400, "key_too_long");
    text_free(&target);
    text_free(&get);
    text_free(&put);
}

/* ---- query ------------------------------------------------------------------------------ */

static uint8_t consistency_of(const char *target)
{
    struct text t = text_printf("GET %s HTTP/1.1\r\n\r\n", target);
    struct http_request req;
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, &req, &err), "refused %s: %s", target, err.code);
    text_free(&t);
    return req.op.consistency;
}

Test(http_query, consistency_one_quorum_and_all_are_read)
{
    cr_assert_eq(consistency_of("/kv/a?consistency=one"), BIN_CONS_ONE);
    cr_assert_eq(consistency_of("/kv/a?consistency=quorum"), BIN_CONS_QUORUM);
    cr_assert_eq(consistency_of("/kv/a?consistency=all"), BIN_CONS_ALL);
    cr_assert_eq(consistency_of("/kv/a?"), BIN_CONS_QUORUM);
    cr_assert_eq(consistency_of("/kv/a?&consistency=one&"), BIN_CONS_ONE);
    cr_assert_eq(consistency_of("/kv/a?consistency=%6Fne"), BIN_CONS_ONE);
}

Test(http_query, an_unknown_consistency_is_refused_with_400_bad_consistency)
{
    expect_refused("GET /kv/a?consistency=two HTTP/1.1\r\n\r\n", 400, "bad_consistency");
    expect_refused("GET /kv/a?consistency=ONE HTTP/1.1\r\n\r\n", 400, "bad_consistency");
    expect_refused("GET /kv/a?consistency= HTTP/1.1\r\n\r\n", 400, "bad_consistency");
    expect_refused("GET /kv/a?consistency HTTP/1.1\r\n\r\n", 400, "bad_consistency");
    expect_refused("DELETE /kv/a?consistency=quorumquorumquorum HTTP/1.1\r\n\r\n", 400, "bad_consistency");
}

Test(http_query, consistency_given_twice_is_refused_with_400_bad_consistency)
{
    expect_refused("GET /kv/a?consistency=one&consistency=one HTTP/1.1\r\n\r\n", 400, "bad_consistency");
}

Test(http_query, an_unknown_parameter_is_refused_with_400_bad_request)
{
    expect_refused("GET /kv/a?foo=bar HTTP/1.1\r\n\r\n", 400, "bad_request");
    expect_refused("GET /kv/a?consistency=one&ttl_seconds=3 HTTP/1.1\r\n\r\n", 400, "bad_request");
    expect_refused("GET /kv/a?%zz=1 HTTP/1.1\r\n\r\n", 400, "bad_request");
}

/* ---- PUT bodies ------------------------------------------------------------------------- */

Test(http_put, all_fields_are_read)
{
    struct http_request req;
    struct text body = text_printf("{\"value\":\"AAEC\",\"ttl_seconds\":3600,\"consistency\":\"all\",\"if_version\":42}");
    expect_put_ok("/kv/k", body.bytes, &req);
    cr_assert_eq(req.op.value_bytes, 3);
    cr_assert_eq(memcmp(req.op.value, "\x00\x01\x02", 3), 0);
    cr_assert_eq(req.op.ttl_s, 3600);
    cr_assert_eq(req.op.consistency, BIN_CONS_ALL);
    cr_assert_eq(req.op.flags, BIN_REQ_F_IF_VERSION);
    cr_assert_eq(req.op.if_version, 42);
    text_free(&body);
}

Test(http_put, consistency_may_come_from_the_query)
{
    struct http_request req;
    expect_put_ok("/kv/k?consistency=one", "{\"value\":\"\"}", &req);
    cr_assert_eq(req.op.consistency, BIN_CONS_ONE);
}

Test(http_put, consistency_in_both_query_and_body_is_refused_with_400_bad_consistency)
{
    expect_put_refused("/kv/k?consistency=one", "{\"value\":\"\",\"consistency\":\"one\"}", 400,
                       "bad_consistency");
}

Test(http_put, an_empty_value_is_zero_bytes)
{
    struct http_request req;
    expect_put_ok("/kv/k", "{\"value\":\"\"}", &req);
    cr_assert_eq(req.op.value_bytes, 0);
}

Test(http_put, if_version_0_means_only_if_absent)
{
    struct http_request req;
    expect_put_ok("/kv/k", "{\"value\":\"\",\"if_version\":0}", &req);
    cr_assert_eq(req.op.flags, BIN_REQ_F_IF_VERSION);
    cr_assert_eq(req.op.if_version, 0);
}

Test(http_put, ttl_of_0_and_of_ten_years_are_accepted)
{
    struct http_request req;
    expect_put_ok("/kv/k", "{\"value\":\"\",\"ttl_seconds\":0}", &req);
    cr_assert_eq(req.op.ttl_s, 0);
    struct text body = text_printf("{\"value\":\"\",\"ttl_seconds\":%u}", RKV_TTL_S_MAX);
    expect_put_ok("/kv/k", body.bytes, &req);
    cr_assert_eq(req.op.ttl_s, RKV_TTL_S_MAX);
    text_free(&body);
}

Test(http_put, a_bad_ttl_is_refused_with_400_bad_ttl)
{
    struct text over = text_printf("{\"value\":\"\",\"ttl_seconds\":%u}", RKV_TTL_S_MAX + 1u);
    expect_put_refused("/kv/k", over.bytes, 400, "bad_ttl");
    text_free(&over);
    expect_put_refused("/kv/k", "{\"value\":\"\",\"ttl_seconds\":-1}", 400, "bad_ttl");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"ttl_seconds\":1.5}", 400, "bad_ttl");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"ttl_seconds\":10.0}", 400, "bad_ttl");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"ttl_seconds\":\"60\"}", 400, "bad_ttl");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"ttl_seconds\":null}", 400, "bad_ttl");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"ttl_seconds\":true}", 400, "bad_ttl");
}

Test(http_put, a_bad_if_version_is_refused_with_400_bad_request)
{
    expect_put_refused("/kv/k", "{\"value\":\"\",\"if_version\":-1}", 400, "bad_request");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"if_version\":\"3\"}", 400, "bad_request");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"if_version\":2.0}", 400, "bad_request");
}

Test(http_put, an_integer_beyond_64_bits_is_malformed_json)
{
    expect_put_refused("/kv/k", "{\"value\":\"\",\"if_version\":99999999999999999999}", 400, "malformed_json");
}

Test(http_put, an_unknown_consistency_is_refused_with_400_bad_consistency)
{
    expect_put_refused("/kv/k", "{\"value\":\"\",\"consistency\":\"most\"}", 400, "bad_consistency");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"consistency\":1}", 400, "bad_consistency");
    expect_put_refused("/kv/k", "{\"value\":\"\",\"consistency\":\"one\\u0000\"}", 400, "malformed_json");
}

Test(http_put, an_unknown_field_is_refused_with_400_bad_request)
{
    expect_put_refused("/kv/k", "{\"value\":\"\",\"ttl\":5}", 400, "bad_request");
    expect_put_refused("/kv/k", "{\"Value\":\"\"}", 400, "bad_request");
}

Test(http_put, a_missing_or_non_string_value_is_refused_with_400_bad_request)
{
    expect_put_refused("/kv/k", "{}", 400, "bad_request");
    expect_put_refused("/kv/k", "{\"ttl_seconds\":1}", 400, "bad_request");
    expect_put_refused("/kv/k", "{\"value\":5}", 400, "bad_request");
    expect_put_refused("/kv/k", "{\"value\":null}", 400, "bad_request");
    expect_put_refused("/kv/k", "{\"value\":[\"YQ==\"]}", 400, "bad_request");
}

Test(http_put, a_body_that_is_not_json_is_refused_with_400_malformed_json)
{
    expect_put_refused("/kv/k", "value=YQ==", 400, "malformed_json");
    expect_put_refused("/kv/k", "", 400, "malformed_json");
    expect_put_refused("/kv/k", "   ", 400, "malformed_json");
    expect_put_refused("/kv/k", "{\"value\":\"YQ==\"", 400, "malformed_json");
    expect_put_refused("/kv/k", "{\"value\":\"YQ==\"}x", 400, "malformed_json");
    expect_put_refused("/kv/k", "{\"value\":\"YQ==\",}", 400, "malformed_json");
    expect_put_refused("/kv/k", "\"YQ==\"", 400, "malformed_json");
    expect_put_refused("/kv/k", "{\"value\":\"\xff\"}", 400, "malformed_json");
}

Test(http_put, a_repeated_field_is_refused_with_400_malformed_json)
{
    expect_put_refused("/kv/k", "{\"value\":\"\",\"value\":\"YQ==\"}", 400, "malformed_json");
}

Test(http_put, a_json_array_is_refused_with_400_bad_request)
{
    expect_put_refused("/kv/k", "[{\"value\":\"YQ==\"}]", 400, "bad_request");
}

Test(http_put, bad_base64_characters_are_refused_with_400_bad_base64)
{
    expect_put_refused("/kv/k", "{\"value\":\"YQ!=\"}", 400, "bad_base64");
    expect_put_refused("/kv/k", "{\"value\":\"Y Q=\"}", 400, "bad_base64");
    expect_put_refused("/kv/k", "{\"value\":\"Y-_=\"}", 400, "bad_base64");
    expect_put_refused("/kv/k", "{\"value\":\"YQ==\\n\"}", 400, "bad_base64");
}

Test(http_put, base64_padding_errors_are_refused_with_400_bad_base64)
{
    expect_put_refused("/kv/k", "{\"value\":\"YQ\"}", 400, "bad_base64");     /* missing padding */
    expect_put_refused("/kv/k", "{\"value\":\"YQ=\"}", 400, "bad_base64");    /* short padding */
    expect_put_refused("/kv/k", "{\"value\":\"YQ===\"}", 400, "bad_base64");  /* extra padding */
    expect_put_refused("/kv/k", "{\"value\":\"Y===\"}", 400, "bad_base64");   /* three pads */
    expect_put_refused("/kv/k", "{\"value\":\"====\"}", 400, "bad_base64");   /* only padding */
    expect_put_refused("/kv/k", "{\"value\":\"YR==\"}", 400, "bad_base64");   /* stray low bits */
    expect_put_refused("/kv/k", "{\"value\":\"YQ==YQ==\"}", 400, "bad_base64"); /* padding inside */
    expect_put_refused("/kv/k", "{\"value\":\"Y=Q=\"}", 400, "bad_base64");
}

Test(http_put, canonical_padded_base64_of_1_to_3_bytes_decodes)
{
    struct http_request req;
    expect_put_ok("/kv/k", "{\"value\":\"YQ==\"}", &req);
    cr_assert_eq(req.op.value_bytes, 1);
    expect_put_ok("/kv/k", "{\"value\":\"YWI=\"}", &req);
    cr_assert_eq(req.op.value_bytes, 2);
    expect_put_ok("/kv/k", "{\"value\":\"YWJj\"}", &req);
    cr_assert_eq(req.op.value_bytes, 3);
    cr_assert_eq(memcmp(req.op.value, "abc", 3), 0);
}

static void put_value_of(size_t n, struct text *t_out, uint8_t **value_out)
{
    uint8_t *v = malloc(n);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint8_t)(i * 131u + 7u);
    char *b64 = b64_of(v, n);
    struct text body = text_printf("{\"value\":\"%s\"}", b64);
    *t_out = put_text("/kv/big", body.bytes);
    text_free(&body);
    free(b64);
    *value_out = v;
}

Test(http_put, a_value_of_exactly_1_mib_is_accepted)
{
    struct text t;
    uint8_t *v;
    put_value_of(RKV_VALUE_BYTES_MAX, &t, &v);
    struct http_request req;
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, &req, &err));
    cr_assert_eq(req.op.value_bytes, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(memcmp(req.op.value, v, RKV_VALUE_BYTES_MAX), 0);
    text_free(&t);
    free(v);
}

Test(http_put, a_value_of_1_mib_plus_1_is_refused_with_413_value_too_long)
{
    struct text t;
    uint8_t *v;
    put_value_of(RKV_VALUE_BYTES_MAX + 1u, &t, &v);
    expect_refused(t.bytes, 413, "value_too_long");
    text_free(&t);
    free(v);
}

Test(http_put, a_value_of_1_mib_plus_2_is_refused_with_413_value_too_long)
{
    struct text t;
    uint8_t *v;
    put_value_of(RKV_VALUE_BYTES_MAX + 2u, &t, &v);
    expect_refused(t.bytes, 413, "value_too_long");
    text_free(&t);
    free(v);
}

Test(http_put, a_put_without_content_length_is_refused_with_411_without_closing)
{
    struct http_request req;
    struct http_error err;
    cr_assert_not(parse_str("PUT /kv/k HTTP/1.1\r\n\r\n", &req, &err));
    cr_assert_eq(err.status, 411);
    cr_assert_str_eq(err.code, "length_required");
    cr_assert_not(err.close);
}

Test(http_put, a_body_on_get_or_delete_is_refused_with_400)
{
    expect_refused("GET /kv/a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, "bad_request");
    expect_refused("DELETE /kv/a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 400, "bad_request");
    struct http_request req;
    struct http_error err;
    cr_assert(parse_str("GET /kv/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req, &err));
}

Test(http_parse, a_buffer_that_is_not_one_framed_request_is_refused_and_closes)
{
    const char *s = "GET /kv/a HTTP/1.1\r\n\r\nGET /kv/b HTTP/1.1\r\n\r\n";
    struct http_request req;
    struct http_error err;
    cr_assert_not(http_parse_request((const uint8_t *)s, strlen(s), value_buf, &req, &err));
    cr_assert_eq(err.status, 400);
    cr_assert(err.close);
    cr_assert_not(http_parse_request((const uint8_t *)s, 10, value_buf, &req, &err));
    cr_assert(err.close);
}

/* ---- responses -------------------------------------------------------------------------- */

#define RESP_HEADERS_MAX 16

/* A response parsed back with http-parser. */
struct resp {
    int status;
    size_t headers_count;
    char names[RESP_HEADERS_MAX][64];
    char values[RESP_HEADERS_MAX][256];
    char *body;
    size_t body_bytes;
    bool complete;
    bool has_content_length;
    size_t parsed_bytes;
};

static int resp_on_field(http_parser *p, const char *at, size_t len)
{
    struct resp *r = p->data;
    cr_assert_lt(r->headers_count, RESP_HEADERS_MAX);
    cr_assert_lt(len, sizeof(r->names[0]));
    memcpy(r->names[r->headers_count], at, len);
    r->names[r->headers_count][len] = '\0';
    return 0;
}

static int resp_on_value(http_parser *p, const char *at, size_t len)
{
    struct resp *r = p->data;
    cr_assert_lt(len, sizeof(r->values[0]));
    memcpy(r->values[r->headers_count], at, len);
    r->values[r->headers_count][len] = '\0';
    r->headers_count++;
    return 0;
}

static int resp_on_headers_complete(http_parser *p)
{
    struct resp *r = p->data;
    r->status = (int)p->status_code;
    r->has_content_length = (p->flags & F_CONTENTLENGTH) != 0;
    return 0;
}

static int resp_on_body(http_parser *p, const char *at, size_t len)
{
    struct resp *r = p->data;
    r->body = realloc(r->body, r->body_bytes + len + 1u);
    cr_assert_not_null(r->body);
    memcpy(r->body + r->body_bytes, at, len);
    r->body_bytes += len;
    r->body[r->body_bytes] = '\0';
    return 0;
}

static int resp_on_complete(http_parser *p)
{
    struct resp *r = p->data;
    r->complete = true;
    http_parser_pause(p, 1);
    return 0;
}

/* Parses a built response; the whole buffer must be exactly one response. Frees buf. The
 * length comes by pointer so that resp_parse(http_build_...(..., &n), &n, &r) reads it
 * after the build has set it. */
static void resp_parse(uint8_t *buf, const size_t *len_p, struct resp *r)
{
    size_t len = *len_p;
    static const http_parser_settings settings = {
        .on_header_field = resp_on_field,
        .on_header_value = resp_on_value,
        .on_headers_complete = resp_on_headers_complete,
        .on_body = resp_on_body,
        .on_message_complete = resp_on_complete,
    };
    cr_assert_not_null(buf);
    memset(r, 0, sizeof(*r));
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = r;
    size_t n = http_parser_execute(&p, &settings, (const char *)buf, len);
    cr_assert(r->complete, "response did not parse: %s (%zu of %zu): %.*s", http_errno_name(HTTP_PARSER_ERRNO(&p)), n, len, (int)(len < 300 ? len : 300), (const char *)buf);
    cr_assert(HTTP_PARSER_ERRNO(&p) == HPE_OK || HTTP_PARSER_ERRNO(&p) == HPE_PAUSED);
    cr_assert(n == len || n + 1 == len, "one response, nothing after it (%zu of %zu)", n, len);
    cr_assert_eq(memcmp(buf, "HTTP/1.1 ", 9), 0);
    free(buf);
    if (r->body == NULL) {
        r->body = malloc(1);
        r->body[0] = '\0';
    }
}

static const char *resp_header(const struct resp *r, const char *name)
{
    for (size_t i = 0; i < r->headers_count; i++)
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

static json_t *resp_json(const struct resp *r)
{
    const char *ct = resp_header(r, "Content-Type");
    cr_assert_not_null(ct);
    cr_assert_str_eq(ct, "application/json");
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_bytes, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    cr_assert_not_null(j, "body is not JSON: %s (%s)", r->body, jerr.text);
    cr_assert(json_is_object(j));
    return j;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

static void request_of(const char *s, struct http_request *req)
{
    struct http_error err;
    cr_assert(parse_str(s, req, &err));
}

static struct http_result result_ok(void)
{
    struct http_result res = {
        .err = RKV_OK,
        .version = 7,
        .timestamp = hlc_make(1710489600000ull, 5),
        .acked = 1,
        .needed = 2,
        .hinted = 0,
        .consistency = BIN_CONS_QUORUM,
    };
    return res;
}

static json_int_t json_int_field(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    cr_assert_not_null(v, "no %s", name);
    cr_assert(json_is_integer(v), "%s is not an integer", name);
    return json_integer_value(v);
}

static const char *json_str_field(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    cr_assert_not_null(v, "no %s", name);
    cr_assert(json_is_string(v), "%s is not a string", name);
    return json_string_value(v);
}

Test(http_response, a_put_answers_200_with_key_version_and_timestamp_in_ms)
{
    struct http_request req;
    struct text t = put_text("/kv/hello", "{\"value\":\"d29ybGQ=\"}");
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, &req, &err));
    text_free(&t);
    struct http_result res = result_ok();
    size_t n = 0;
    uint8_t *out = http_build_kv_response(&req, &res, &n);
    struct resp r;
    resp_parse(out, &n, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(resp_header(&r, "Connection"), "keep-alive");
    cr_assert_str_eq(resp_header(&r, "X-Ringkv-Consistency"), "requested=quorum acked=1/2 hinted=0");
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", r.body_bytes);
    cr_assert_str_eq(resp_header(&r, "Content-Length"), cl);
    json_t *j = resp_json(&r);
    cr_assert_eq(json_object_size(j), 3);
    cr_assert_str_eq(json_str_field(j, "key"), "hello");
    cr_assert_eq(json_int_field(j, "version"), 7);
    cr_assert_eq(json_int_field(j, "timestamp"), 1710489600000ll);
    json_decref(j);
    resp_free(&r);
}

Test(http_response, a_get_answers_200_with_the_value_in_base64)
{
    struct http_request req;
    request_of("GET /kv/hello?consistency=all HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    res.value = (const uint8_t *)"world";
    res.value_bytes = 5;
    res.consistency = BIN_CONS_ALL;
    res.acked = 3;
    res.needed = 3;
    res.hinted = 1;
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(resp_header(&r, "X-Ringkv-Consistency"), "requested=all acked=3/3 hinted=1");
    json_t *j = resp_json(&r);
    cr_assert_eq(json_object_size(j), 4);
    cr_assert_str_eq(json_str_field(j, "key"), "hello");
    cr_assert_str_eq(json_str_field(j, "value"), "d29ybGQ=");
    cr_assert_eq(json_int_field(j, "version"), 7);
    json_decref(j);
    resp_free(&r);
}

Test(http_response, a_get_of_an_empty_value_answers_an_empty_string)
{
    struct http_request req;
    request_of("GET /kv/e HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
    json_t *j = resp_json(&r);
    cr_assert_str_eq(json_str_field(j, "value"), "");
    json_decref(j);
    resp_free(&r);
}

Test(http_response, a_get_of_1_mib_round_trips_through_base64)
{
    struct http_request req;
    request_of("GET /kv/big HTTP/1.1\r\n\r\n", &req);
    uint8_t *v = malloc(RKV_VALUE_BYTES_MAX);
    cr_assert_not_null(v);
    for (size_t i = 0; i < RKV_VALUE_BYTES_MAX; i++)
        v[i] = (uint8_t)(i * 13u + 5u);
    struct http_result res = result_ok();
    res.value = v;
    res.value_bytes = RKV_VALUE_BYTES_MAX;
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
    json_t *j = resp_json(&r);
    const char *b64 = json_str_field(j, "value");
    uint8_t *back = malloc(RKV_VALUE_BYTES_MAX);
    size_t back_bytes = 0;
    cr_assert_eq(sodium_base642bin(back, RKV_VALUE_BYTES_MAX, b64, strlen(b64), NULL, &back_bytes, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);
    cr_assert_eq(back_bytes, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(memcmp(back, v, RKV_VALUE_BYTES_MAX), 0);
    json_decref(j);
    resp_free(&r);
    free(back);
    free(v);
}

Test(http_response, a_delete_answers_204_without_body_or_content_length)
{
    struct http_request req;
    request_of("DELETE /kv/a HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
    cr_assert_eq(r.status, 204);
    cr_assert_eq(r.body_bytes, 0);
    cr_assert_null(resp_header(&r, "Content-Length"));
    cr_assert_null(resp_header(&r, "Content-Type"));
    cr_assert_not_null(resp_header(&r, "X-Ringkv-Consistency"));
    resp_free(&r);
}

Test(http_response, a_missing_key_answers_404_key_not_found)
{
    struct http_request req;
    request_of("GET /kv/a HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    res.err = RKV_NOT_FOUND;
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
    cr_assert_eq(r.status, 404);
    json_t *j = resp_json(&r);
    cr_assert_str_eq(json_str_field(j, "error"), "key_not_found");
    cr_assert_str_eq(json_str_field(j, "message"), rkv_err_message(RKV_NOT_FOUND));
    cr_assert_eq(json_object_size(j), 2);
    json_decref(j);
    resp_free(&r);
}

Test(http_response, a_version_mismatch_answers_412_with_the_current_version)
{
    struct http_request req;
    struct text t = put_text("/kv/a", "{\"value\":\"\",\"if_version\":3}");
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, &req, &err));
    text_free(&t);
    struct http_result res = result_ok();
    res.err = RKV_VERSION_MISMATCH;
    res.version = 9;
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
    cr_assert_eq(r.status, 412);
    json_t *j = resp_json(&r);
    cr_assert_str_eq(json_str_field(j, "error"), "version_mismatch");
    cr_assert_eq(json_int_field(j, "current_version"), 9);
    json_decref(j);
    resp_free(&r);
}

Test(http_response, unavailable_answers_503_with_acked_and_needed)
{
    struct http_request req;
    request_of("GET /kv/a?consistency=all HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    res.err = RKV_UNAVAILABLE;
    res.acked = 1;
    res.needed = 3;
    res.consistency = BIN_CONS_ALL;
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(resp_header(&r, "X-Ringkv-Consistency"), "requested=all acked=1/3 hinted=0");
    json_t *j = resp_json(&r);
    cr_assert_str_eq(json_str_field(j, "error"), "unavailable");
    cr_assert_eq(json_int_field(j, "acked"), 1);
    cr_assert_eq(json_int_field(j, "needed"), 3);
    json_decref(j);
    resp_free(&r);
}

Test(http_response, every_error_answers_its_table_status_and_a_code)
{
    struct http_request req;
    request_of("GET /kv/a HTTP/1.1\r\n\r\n", &req);
    for (int e = 1; e < RKV_ERR_COUNT; e++) {
        struct http_result res = result_ok();
        res.err = (enum rkv_err)e;
        size_t n = 0;
        struct resp r;
        resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
        cr_assert_eq(r.status, rkv_err_http((enum rkv_err)e), "%s", rkv_err_name((enum rkv_err)e));
        json_t *j = resp_json(&r);
        const char *code = json_str_field(j, "error");
        cr_assert_gt(strlen(code), 0);
        cr_assert_str_eq(json_str_field(j, "message"), rkv_err_message((enum rkv_err)e));
        json_decref(j);
        resp_free(&r);
    }
}

Test(http_response, connection_close_is_said_when_the_request_does_not_keep_alive)
{
    struct http_request req;
    request_of("GET /kv/a HTTP/1.1\r\nConnection: close\r\n\r\n", &req);
    struct http_result res = result_ok();
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_kv_response(&req, &res, &n), &n, &r);
    cr_assert_str_eq(resp_header(&r, "Connection"), "close");
    resp_free(&r);
}

/* Decodes a JSON string that jansson gave back as UTF-8, requiring every code point to be at
 * most U+00FF, into the bytes they stand for. */
static size_t latin1_bytes(const char *s, size_t n, uint8_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x80) {
            out[k++] = c;
        } else {
            cr_assert(c == 0xc2 || c == 0xc3, "code point over U+00FF");
            cr_assert_lt(i + 1, n);
            out[k++] = (uint8_t)((c & 0x03u) << 6 | ((uint8_t)s[i + 1] & 0x3fu));
            i++;
        }
    }
    return k;
}

Test(http_response, every_byte_of_a_key_round_trips_through_the_json_key_field)
{
    /* Every byte value 0..255 once, in a 256-byte key, sent percent-encoded. */
    char target[4u + 3u * 256u + 1u] = "/kv/";
    uint8_t key[256];
    for (unsigned i = 0; i < 256; i++) {
        key[i] = (uint8_t)i;
        sprintf(target + 4u + 3u * i, "%%%02x", i);
    }
    struct text t = text_printf("PUT %s HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"value\":\"\"}", target);
    struct http_request req;
    struct http_error err;
    cr_assert(parse_whole(t.bytes, t.len, &req, &err));
    text_free(&t);
    cr_assert_eq(req.op.key_bytes, 256);
    cr_assert_eq(memcmp(req.op.key, key, 256), 0);

    struct http_result res = result_ok();
    size_t n = 0;
    uint8_t *out = http_build_kv_response(&req, &res, &n);
    /* Everything in the body is printable ASCII: no raw byte leaks through. */
    for (size_t i = 0; i < n; i++)
        cr_assert(out[i] == '\r' || out[i] == '\n' || (out[i] >= 0x20 && out[i] < 0x7f));
    struct resp r;
    resp_parse(out, &n, &r);
    json_t *j = resp_json(&r);
    json_t *jk = json_object_get(j, "key");
    cr_assert(json_is_string(jk));
    uint8_t back[256 * 2];
    size_t back_bytes = latin1_bytes(json_string_value(jk), json_string_length(jk), back);
    cr_assert_eq(back_bytes, 256);
    cr_assert_eq(memcmp(back, key, 256), 0);
    json_decref(j);
    resp_free(&r);
}

Test(http_response, printable_ascii_keys_appear_as_they_are_and_quotes_are_escaped)
{
    struct http_request req;
    request_of("GET /kv/a%22b%5Cc~ HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    size_t n = 0;
    uint8_t *out = http_build_kv_response(&req, &res, &n);
    cr_assert_not_null(memmem(out, n, "\"key\":\"a\\\"b\\\\c~\"", 16));
    struct resp r;
    resp_parse(out, &n, &r);
    json_t *j = resp_json(&r);
    cr_assert_str_eq(json_str_field(j, "key"), "a\"b\\c~");
    json_decref(j);
    resp_free(&r);
}

Test(http_response, utf8_keys_are_escaped_byte_by_byte)
{
    struct http_request req;
    request_of("GET /kv/caf%C3%A9 HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    size_t n = 0;
    uint8_t *out = http_build_kv_response(&req, &res, &n);
    const char *want = "\"key\":\"caf\\u00c3\\u00a9\"";
    cr_assert_not_null(memmem(out, n, want, strlen(want)));
    free(out);
}

Test(http_response, an_error_answer_carries_status_code_and_message)
{
    struct http_request req;
    struct http_error err;
    cr_assert_not(parse_str("GET /nowhere HTTP/1.1\r\n\r\n", &req, &err));
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_error(&err, true, &n), &n, &r);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(resp_header(&r, "Connection"), "keep-alive");
    json_t *j = resp_json(&r);
    cr_assert_str_eq(json_str_field(j, "error"), "not_found");
    cr_assert_str_eq(json_str_field(j, "message"), err.message);
    cr_assert_eq(json_object_size(j), 2);
    json_decref(j);
    resp_free(&r);
}

Test(http_response, an_error_that_closes_says_connection_close)
{
    const char *s = "PUT /kv/k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    struct http_frame f;
    struct http_error e;
    cr_assert_eq(frame(s, strlen(s), &f, &e), PARSE_INVALID);
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_error(&e, true, &n), &n, &r);
    cr_assert_eq(r.status, 411);
    cr_assert_str_eq(resp_header(&r, "Connection"), "close");
    resp_free(&r);
}

Test(http_response, a_plain_response_carries_its_body_and_content_type)
{
    const char *body = "ringkv_up 1\n";
    size_t n = 0;
    struct resp r;
    resp_parse(http_build_response(200, "text/plain; version=0.0.4", (const uint8_t *)body, strlen(body), false, &n),
               &n, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(resp_header(&r, "Content-Type"), "text/plain; version=0.0.4");
    cr_assert_str_eq(resp_header(&r, "Connection"), "close");
    cr_assert_str_eq(r.body, body);
    resp_free(&r);
}

Test(http_response, a_response_for_a_route_other_than_kv_aborts, .signal = SIGABRT)
{
    struct http_request req;
    request_of("GET /health HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    size_t n = 0;
    free(http_build_kv_response(&req, &res, &n));
}

Test(http_response, a_result_with_a_consistency_out_of_range_aborts, .signal = SIGABRT)
{
    struct http_request req;
    request_of("GET /kv/a HTTP/1.1\r\n\r\n", &req);
    struct http_result res = result_ok();
    res.consistency = 3;
    size_t n = 0;
    free(http_build_kv_response(&req, &res, &n));
}
