/* tools/cli_http: the response parser's three answers on complete, partial and bad input, its
 * limits at max and max + 1 (header block, Content-Length, a close-delimited body), and the
 * key's percent-encoding. The exchange itself (connect, timeouts, a stream past the limit)
 * is tested through ringkv-cli in tests/integration/cli_test.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli_http.h"

static enum cli_http_parse_rc parse(const char *s, bool eof, struct cli_http_resp *r, enum cli_http_err *why)
{
    return cli_http_parse((const uint8_t *)s, strlen(s), eof, r, why);
}

Test(cli_http, content_length_answer_is_done_with_status_and_exact_body)
{
    static const char a[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
    struct cli_http_resp r;
    enum cli_http_err why;
    cr_assert_eq(parse(a, false, &r, &why), CLI_HTTP_PARSE_DONE);
    cr_assert_eq(why, CLI_HTTP_OK);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_bytes, 7);
    cr_assert_arr_eq(r.body, "{\"a\":1}", 7);
    cr_assert_eq(r.head_bytes, strlen(a) - 7);
}

Test(cli_http, bytes_past_the_content_length_are_not_part_of_the_body)
{
    struct cli_http_resp r;
    enum cli_http_err why;
    cr_assert_eq(parse("HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 200", false, &r, &why),
                 CLI_HTTP_PARSE_DONE);
    cr_assert_eq(r.status, 404);
    cr_assert_eq(r.body_bytes, 2);
}

Test(cli_http, every_prefix_of_an_answer_needs_more_and_at_eof_is_closed)
{
    static const char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Ringkv-Consistency: requested=quorum\r\n\r\nhello";
    size_t len = strlen(a);
    for (size_t i = 0; i < len; i++) {
        struct cli_http_resp r;
        enum cli_http_err why;
        cr_assert_eq(cli_http_parse((const uint8_t *)a, i, false, &r, &why), CLI_HTTP_PARSE_NEED_MORE,
                     "prefix of %zu bytes", i);
        cr_assert_eq(cli_http_parse((const uint8_t *)a, i, true, &r, &why), CLI_HTTP_PARSE_INVALID,
                     "prefix of %zu bytes at eof", i);
        cr_assert_eq(why, CLI_HTTP_CLOSED, "prefix of %zu bytes at eof", i);
        cr_assert_eq(r.status, 0, "out-parameters are reset");
    }
}

Test(cli_http, without_content_length_the_body_ends_at_the_close)
{
    static const char a[] = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody bytes";
    struct cli_http_resp r;
    enum cli_http_err why;
    cr_assert_eq(parse(a, false, &r, &why), CLI_HTTP_PARSE_NEED_MORE);
    cr_assert_eq(parse(a, true, &r, &why), CLI_HTTP_PARSE_DONE);
    cr_assert_eq(r.body_bytes, strlen("body bytes"));
}

Test(cli_http, status_line_without_headers_or_reason_is_accepted)
{
    struct cli_http_resp r;
    enum cli_http_err why;
    cr_assert_eq(parse("HTTP/1.1 204\r\n\r\n", false, &r, &why), CLI_HTTP_PARSE_DONE);
    cr_assert_eq(r.status, 204);
    cr_assert_eq(r.body_bytes, 0);
}

Test(cli_http, malformed_status_lines_and_headers_are_invalid)
{
    static const char *const bad[] = {
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n",
        "garbage\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cli_http_resp r;
        enum cli_http_err why;
        cr_assert_eq(parse(bad[i], false, &r, &why), CLI_HTTP_PARSE_INVALID, "accepted: %s", bad[i]);
        cr_assert_eq(why, CLI_HTTP_MALFORMED, "%s", bad[i]);
    }
}

/* A head of exactly `bytes` bytes: the status line, one padding header, the empty line. */
static char *head_of(size_t bytes)
{
    static const char start[] = "HTTP/1.1 200 OK\r\nX-Pad: ";
    static const char end[] = "\r\nContent-Length: 0\r\n\r\n";
    size_t fixed = strlen(start) + strlen(end);
    cr_assert_gt(bytes, fixed);
    char *h = malloc(bytes + 1);
    cr_assert_not_null(h);
    memcpy(h, start, strlen(start));
    memset(h + strlen(start), 'p', bytes - fixed);
    memcpy(h + bytes - strlen(end), end, strlen(end) + 1);
    return h;
}

Test(cli_http, header_block_of_8192_bytes_is_accepted)
{
    char *h = head_of(CLI_HTTP_HEAD_BYTES_MAX);
    struct cli_http_resp r;
    enum cli_http_err why;
    cr_assert_eq(parse(h, false, &r, &why), CLI_HTTP_PARSE_DONE);
    cr_assert_eq(r.head_bytes, CLI_HTTP_HEAD_BYTES_MAX);
    free(h);
}

Test(cli_http, header_block_of_8193_bytes_is_head_too_long)
{
    char *h = head_of(CLI_HTTP_HEAD_BYTES_MAX + 1u);
    struct cli_http_resp r;
    enum cli_http_err why;
    cr_assert_eq(parse(h, false, &r, &why), CLI_HTTP_PARSE_INVALID);
    cr_assert_eq(why, CLI_HTTP_HEAD_TOO_LONG);
    free(h);
}

Test(cli_http, content_length_at_the_limit_needs_the_body_and_one_over_is_too_large)
{
    char a[128];
    struct cli_http_resp r;
    enum cli_http_err why;
    snprintf(a, sizeof(a), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", CLI_HTTP_RESPONSE_BYTES_MAX);
    cr_assert_eq(parse(a, false, &r, &why), CLI_HTTP_PARSE_NEED_MORE);
    snprintf(a, sizeof(a), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", CLI_HTTP_RESPONSE_BYTES_MAX + 1u);
    cr_assert_eq(parse(a, false, &r, &why), CLI_HTTP_PARSE_INVALID);
    cr_assert_eq(why, CLI_HTTP_TOO_LARGE);
    /* A number of any length is refused without overflowing. */
    cr_assert_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\n", false, &r, &why),
                 CLI_HTTP_PARSE_INVALID);
    cr_assert_eq(why, CLI_HTTP_TOO_LARGE);
}

Test(cli_http, close_delimited_body_at_the_limit_is_done_and_one_byte_over_is_too_large)
{
    static const char head[] = "HTTP/1.1 200 OK\r\n\r\n";
    size_t len = strlen(head) + CLI_HTTP_RESPONSE_BYTES_MAX + 1u;
    uint8_t *buf = malloc(len);
    cr_assert_not_null(buf);
    memcpy(buf, head, strlen(head));
    memset(buf + strlen(head), 'b', len - strlen(head));
    struct cli_http_resp r;
    enum cli_http_err why;
    cr_assert_eq(cli_http_parse(buf, len - 1u, true, &r, &why), CLI_HTTP_PARSE_DONE);
    cr_assert_eq(r.body_bytes, CLI_HTTP_RESPONSE_BYTES_MAX);
    cr_assert_eq(cli_http_parse(buf, len, false, &r, &why), CLI_HTTP_PARSE_INVALID);
    cr_assert_eq(why, CLI_HTTP_TOO_LARGE);
    free(buf);
}

Test(cli_http, key_is_percent_encoded_except_unreserved_bytes)
{
    static const uint8_t key[] = {'a', 'Z', '0', '-', '.', '_', '~', '/', ' ', '%', 0x00, 0xc3, 0xa9, '?', '#'};
    char out[64];
    cr_assert(cli_http_encode_key(key, sizeof(key), out, sizeof(out)));
    cr_assert_str_eq(out, "aZ0-._~%2F%20%25%00%C3%A9%3F%23");
}

Test(cli_http, encoded_key_that_does_not_fit_is_refused)
{
    char out[4];
    cr_assert(cli_http_encode_key((const uint8_t *)"abc", 3, out, sizeof(out)), "3 bytes and the NUL fit in 4");
    cr_assert_not(cli_http_encode_key((const uint8_t *)"abcd", 4, out, sizeof(out)));
    cr_assert_not(cli_http_encode_key((const uint8_t *)"a/", 2, out, sizeof(out)), "%%2F needs 3 bytes");
    char big[CLI_HTTP_TARGET_BYTES_MAX];
    uint8_t key[RKV_KEY_BYTES_MAX];
    memset(key, 0xff, sizeof(key));
    cr_assert(cli_http_encode_key(key, sizeof(key), big, sizeof(big)), "a 256-byte key fits the target, encoded");
}

Test(cli_http, every_error_has_a_message)
{
    for (int e = 0; e < CLI_HTTP_ERR_COUNT; e++)
        cr_assert_not_null(cli_http_strerror((enum cli_http_err)e));
    cr_assert_str_eq(cli_http_strerror(CLI_HTTP_ERR_COUNT), "unknown error");
}
