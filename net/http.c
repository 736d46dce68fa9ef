/* The HTTP/1.1 + JSON codec (contract in net/http.h, API for people in docs/http.md). Every
 * function is pure over caller-owned buffers and keeps nothing between calls, so any shard
 * may call any of them; the only process-wide state is libsodium's one-time initialisation.
 * Bytes from the network are input: every fault is answered with a struct http_error, never
 * an assertion; assertions guard only the caller's arguments and our own invariants.
 * http-parser reads the request line and headers, jansson the PUT body, libsodium the
 * base64; the percent-decoding of the path and the JSON of responses are written here
 * because neither library offers them. */
#include "net/http.h"

#include <http_parser.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/hlc.h"

/* ---------------------------------------------------------------------------------------
 * Errors. Faults found by this codec have their own table; results of the node (an enum
 * rkv_err) take their status from core/err.h and their code from http_err_code(). */

/*   name                 status code                 close  message */
#define HTTP_FAULT_TABLE(X)                                                                              \
    X(MALFORMED_HEAD,     400, "bad_request",      true,  "malformed request line or headers")           \
    X(BAD_VERSION,        400, "bad_request",      true,  "only HTTP/1.0 and HTTP/1.1 are served")       \
    X(BAD_TERMINATOR,     400, "bad_request",      true,  "header lines must end with CRLF or LF")       \
    X(HEADERS_TOO_LARGE,  431, "headers_too_large", true, "header block longer than 8192 bytes")         \
    X(HEADERS_TOO_MANY,   431, "headers_too_large", true, "more than 64 header fields")                  \
    X(BODY_TOO_LARGE,     413, "body_too_large",   true,  "body longer than the limit")                  \
    X(TRANSFER_ENCODING,  411, "length_required",  true,  "Transfer-Encoding is refused; send Content-Length") \
    X(NOT_FRAMED,         400, "bad_request",      true,  "the bytes given are not one framed request")  \
    X(PUT_NO_LENGTH,      411, "length_required",  false, "a PUT needs a Content-Length header")         \
    X(NOT_FOUND,          404, "not_found",        false, "no such path")                                \
    X(METHOD,             405, "method_not_allowed", false, "method not allowed on this path")           \
    X(HEAD,               405, "method_not_allowed", true, "method not allowed on this path")            \
    X(TARGET,             400, "bad_request",      false, "the target must be a path, without a fragment") \
    X(PERCENT,            400, "bad_request",      false, "bad percent-encoding in the target")          \
    X(QUERY_UNKNOWN,      400, "bad_request",      false, "unknown query parameter")                     \
    X(QUERY_NOT_ALLOWED,  400, "bad_request",      false, "this path takes no query parameters")         \
    X(BODY_NOT_ALLOWED,   400, "bad_request",      false, "only PUT takes a body")                       \
    X(MALFORMED_JSON,     400, "malformed_json",   false, "the body is not valid JSON")                  \
    X(NOT_OBJECT,         400, "bad_request",      false, "the body must be a JSON object")              \
    X(UNKNOWN_FIELD,      400, "bad_request",      false, "unknown field in the body")                   \
    X(VALUE_MISSING,      400, "bad_request",      false, "the body has no value")                       \
    X(VALUE_TYPE,         400, "bad_request",      false, "value must be a base64 string")               \
    X(BAD_BASE64,         400, "bad_base64",       false, "value is not padded standard base64")         \
    X(BAD_TTL,            400, "bad_ttl",          false, "ttl_seconds must be an integer from 0 to 315360000") \
    X(BAD_IF_VERSION,     400, "bad_request",      false, "if_version must be an integer of 0 or more")  \
    X(BAD_CONSISTENCY,    400, "bad_consistency",  false, "consistency must be one, quorum or all")      \
    X(CONSISTENCY_TWICE,  400, "bad_consistency",  false, "consistency given more than once")

enum http_fault {
#define HTTP_FAULT_ENUM(name, status, code, close, msg) HTTP_FAULT_##name,
    HTTP_FAULT_TABLE(HTTP_FAULT_ENUM)
#undef HTTP_FAULT_ENUM
    HTTP_FAULT_COUNT
};

static const struct http_error http_faults[HTTP_FAULT_COUNT] = {
#define HTTP_FAULT_ENTRY(name, status_, code_, close_, msg) \
    [HTTP_FAULT_##name] = {.status = status_, .code = code_, .message = msg, .close = close_},
    HTTP_FAULT_TABLE(HTTP_FAULT_ENTRY)
#undef HTTP_FAULT_ENTRY
};

_Static_assert(RKV_TTL_S_MAX == 315360000u, "the bad_ttl message names the limit");
_Static_assert(HTTP_HEADER_BYTES_MAX == 8192u && HTTP_HEADERS_COUNT_MAX == 64u, "the 431 messages name the limits");

static void http_fault_set(enum http_fault f, struct http_error *err_out)
{
    RKV_ASSERT((unsigned)f < HTTP_FAULT_COUNT);
    *err_out = http_faults[f];
}

/* The JSON "error" code of each result of the node. The switch has no default, so -Wswitch
 * (an error in CI) names any error added to RKV_ERR_TABLE without a code here; the status
 * always comes from RKV_ERR_TABLE itself (rkv_err_http()). */
const char *http_err_code(enum rkv_err e)
{
    switch (e) {
    case RKV_OK: return "ok";
    case RKV_NOT_FOUND: return "key_not_found";
    case RKV_VERSION_MISMATCH: return "version_mismatch";
    case RKV_FENCED: return "fenced";
    case RKV_KEY_EMPTY: return "key_empty";
    case RKV_KEY_TOO_LONG: return "key_too_long";
    case RKV_VALUE_TOO_LONG: return "value_too_long";
    case RKV_BAD_TTL: return "bad_ttl";
    case RKV_BAD_CONSISTENCY: return "bad_consistency";
    case RKV_UNKNOWN_OPCODE: return "bad_request";
    case RKV_BAD_FRAME: return "bad_request";
    case RKV_FRAME_TOO_LONG: return "body_too_large";
    case RKV_INVALID_ARG: return "bad_request";
    case RKV_BUSY: return "busy";
    case RKV_UNAVAILABLE: return "unavailable";
    case RKV_TIMEOUT: return "timeout";
    case RKV_SHUTTING_DOWN: return "shutting_down";
    case RKV_CLOCK_SKEW: return "clock_skew";
    case RKV_CORRUPT: return "internal";
    case RKV_IO: return "internal";
    case RKV_NO_SPACE: return "no_space";
    case RKV_INTERNAL: return "internal";
    case RKV_ERR_COUNT: break;
    }
    return "internal";
}

static void http_err_set(enum rkv_err e, struct http_error *err_out)
{
    RKV_ASSERT(e != RKV_OK);
    err_out->status = rkv_err_http(e);
    err_out->code = http_err_code(e);
    err_out->message = rkv_err_message(e);
    err_out->close = false;
}

/* libsodium asks for sodium_init() before use. It is idempotent but takes a lock each time,
 * so it runs once per process; pthread_once makes the first call safe from any shard. */
static pthread_once_t http_sodium_once = PTHREAD_ONCE_INIT;

static void http_sodium_init_once(void)
{
    RKV_ASSERT(sodium_init() >= 0);
}

static void http_sodium_ready(void)
{
    RKV_ASSERT(pthread_once(&http_sodium_once, http_sodium_init_once) == 0);
}

/* ---------------------------------------------------------------------------------------
 * The header block. http-parser reads it in one call over at most HTTP_HEADER_BYTES_MAX
 * bytes; on_headers_complete pauses the parser, so the body (and any pipelined request
 * after it) is never fed to it: framing is ours, by Content-Length only. */

/* What the header block says. Owner: the caller's stack frame; url points into the buffer
 * being parsed. */
struct http_head {
    size_t head_bytes;        /* request line through the empty line, inclusive */
    unsigned method;          /* enum http_method */
    const uint8_t *url;
    size_t url_bytes;
    unsigned short major, minor;
    bool complete;
    bool has_length;          /* a Content-Length header was present */
    uint64_t content_length;
    bool has_transfer_encoding;
    bool expect_continue;     /* "Expect: 100-continue" */
    bool keep_alive;
    uint32_t headers_count;
    bool headers_too_many;
    /* Callback state: the header name being read (its bytes are contiguous, since the whole
     * block is fed in one call) and whether it is Transfer-Encoding. */
    bool in_field;
    const char *field;
    size_t field_bytes;
    bool in_expect;           /* the value being read belongs to an Expect header */
};

static bool http_name_is(const char *name, size_t name_bytes, const char *lower)
{
    size_t n = strlen(lower);
    if (name_bytes != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return false;
    }
    return true;
}

static void http_head_end_field(struct http_head *h)
{
    if (h->in_field && http_name_is(h->field, h->field_bytes, "transfer-encoding"))
        h->has_transfer_encoding = true;
    if (h->in_field)
        h->in_expect = http_name_is(h->field, h->field_bytes, "expect");
    h->in_field = false;
}

static int http_head_on_url(http_parser *p, const char *at, size_t len)
{
    struct http_head *h = p->data;
    if (h->url == NULL)
        h->url = (const uint8_t *)at;
    h->url_bytes = (size_t)((const uint8_t *)at + len - h->url);
    return 0;
}

static int http_head_on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_head *h = p->data;
    if (!h->in_field) {
        h->headers_count++;
        if (h->headers_count > HTTP_HEADERS_COUNT_MAX) {
            h->headers_too_many = true;
            return 1; /* stops the parser: no need to read the rest */
        }
        h->in_field = true;
        h->field = at;
    }
    h->field_bytes = (size_t)(at + len - h->field);
    return 0;
}

static int http_head_on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_head *h = p->data;
    http_head_end_field(h);
    /* The whole block is fed in one call, so a value arrives in one piece. */
    if (h->in_expect && http_name_is(at, len, "100-continue"))
        h->expect_continue = true;
    return 0;
}

static int http_head_on_headers_complete(http_parser *p)
{
    struct http_head *h = p->data;
    http_head_end_field(h);
    h->complete = true;
    h->method = p->method;
    h->major = p->http_major;
    h->minor = p->http_minor;
    /* content_length and F_CONTENTLENGTH are what http-parser's own documentation points
     * callers to in on_headers_complete; the parser has already refused a malformed or
     * repeated Content-Length by now. */
    h->has_length = (p->flags & F_CONTENTLENGTH) != 0;
    h->content_length = h->has_length ? p->content_length : 0;
    h->keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings http_head_settings = {
    .on_url = http_head_on_url,
    .on_header_field = http_head_on_header_field,
    .on_header_value = http_head_on_header_value,
    .on_headers_complete = http_head_on_headers_complete,
};

/* True when buf holds a line end followed by an empty line: the cheap test that decides
 * whether running the parser can find a complete header block yet. */
static bool http_head_may_be_complete(const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf;
    const uint8_t *end = buf + len;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p++;
        if (p < end && p[0] == '\n')
            return true;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
            return true;
    }
    return false;
}

/* Parses the header block at buf[0..len) into *h. PARSE_DONE: h->complete and
 * h->head_bytes are set. PARSE_NEED_MORE: no complete block within len bytes, len at most
 * HTTP_HEADER_BYTES_MAX. PARSE_INVALID: *fault_out says why. */
static enum parse_rc http_head_parse(const uint8_t *buf, size_t len, struct http_head *h,
                                     enum http_fault *fault_out)
{
    memset(h, 0, sizeof(*h));
    *fault_out = HTTP_FAULT_MALFORMED_HEAD;
    size_t feed = len < HTTP_HEADER_BYTES_MAX ? len : HTTP_HEADER_BYTES_MAX;
    if (feed == 0)
        return PARSE_NEED_MORE;

    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = h;
    size_t n = http_parser_execute(&p, &http_head_settings, (const char *)buf, feed);
    enum http_errno e = HTTP_PARSER_ERRNO(&p);

    if (h->headers_too_many) {
        *fault_out = HTTP_FAULT_HEADERS_TOO_MANY;
        return PARSE_INVALID;
    }
    if (e == HPE_PAUSED && h->complete) {
        /* Paused in on_headers_complete, http-parser returns the offset of the block's last
         * byte (the final LF). Accept the byte after it too, in case a later version
         * counts that byte as parsed; anything else means we misread the parser. */
        size_t head_bytes;
        if (n < feed && buf[n] == '\n')
            head_bytes = n + 1;
        else if (n > 0 && n <= feed && buf[n - 1] == '\n')
            head_bytes = n;
        else
            return PARSE_INVALID;
        /* In its lenient mode the parser takes any byte after a CR for the LF; we insist
         * on a real line end followed by a real empty line. */
        bool lf_lf = head_bytes >= 2 && buf[head_bytes - 2] == '\n';
        bool lf_crlf = head_bytes >= 3 && buf[head_bytes - 2] == '\r' && buf[head_bytes - 3] == '\n';
        if (buf[head_bytes - 1] != '\n' || (!lf_lf && !lf_crlf)) {
            *fault_out = HTTP_FAULT_BAD_TERMINATOR;
            return PARSE_INVALID;
        }
        /* The lenient mode also lets a misspelt "HTTP" through; the version token must
         * follow the target after spaces, spelt exactly. */
        const uint8_t *v = h->url != NULL ? h->url + h->url_bytes : buf;
        const uint8_t *line_end = buf + head_bytes;
        while (v < line_end && *v == ' ')
            v++;
        if (h->url == NULL || line_end - v < 5 || memcmp(v, "HTTP/", 5) != 0)
            return PARSE_INVALID;
        h->head_bytes = head_bytes;
        return PARSE_DONE;
    }
    if (e != HPE_OK)
        return PARSE_INVALID;
    RKV_DEBUG_ASSERT(n == feed);
    if (len > HTTP_HEADER_BYTES_MAX) {
        *fault_out = HTTP_FAULT_HEADERS_TOO_LARGE;
        return PARSE_INVALID;
    }
    return PARSE_NEED_MORE;
}

/* The checks of a complete header block that decide whether its body can be framed. */
static bool http_head_frameable(const struct http_head *h, enum http_fault *fault_out)
{
    RKV_ASSERT(h->complete);
    if (h->major != 1 || h->minor > 1) {
        *fault_out = HTTP_FAULT_BAD_VERSION;
        return false;
    }
    if (h->has_transfer_encoding) {
        *fault_out = HTTP_FAULT_TRANSFER_ENCODING;
        return false;
    }
    if (h->content_length > HTTP_BODY_BYTES_MAX) {
        *fault_out = HTTP_FAULT_BODY_TOO_LARGE;
        return false;
    }
    return true;
}

enum parse_rc http_frame_request(const uint8_t *buf, size_t len, struct http_frame *frame_out,
                                 struct http_error *err_out)
{
    RKV_ASSERT(buf != NULL || len == 0);
    RKV_ASSERT(frame_out != NULL);
    RKV_ASSERT(err_out != NULL);
    memset(frame_out, 0, sizeof(*frame_out));
    memset(err_out, 0, sizeof(*err_out));

    /* This runs again on every arrival of bytes, so the parser runs only once a block end
     * may be in the buffer, or once the buffer is past the header limit (to tell a
     * malformed request from an over-long one). Each call costs O(HTTP_HEADER_BYTES_MAX) at
     * most, however large the body being waited for. */
    size_t scan = len < HTTP_HEADER_BYTES_MAX ? len : HTTP_HEADER_BYTES_MAX;
    if (len <= HTTP_HEADER_BYTES_MAX && !http_head_may_be_complete(buf, scan))
        return PARSE_NEED_MORE;

    struct http_head h;
    enum http_fault fault;
    enum parse_rc rc = http_head_parse(buf, len, &h, &fault);
    if (rc == PARSE_NEED_MORE)
        return PARSE_NEED_MORE;
    if (rc == PARSE_INVALID || !http_head_frameable(&h, &fault)) {
        http_fault_set(fault, err_out);
        return PARSE_INVALID;
    }
    frame_out->frame_bytes = h.head_bytes + (size_t)h.content_length;
    frame_out->keep_alive = h.keep_alive;
    frame_out->expect_continue = h.expect_continue && h.content_length > 0;
    return len < frame_out->frame_bytes ? PARSE_NEED_MORE : PARSE_DONE;
}

/* ---------------------------------------------------------------------------------------
 * Request parsing: target, query and body. */

static int http_hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes in[0..in_bytes): "%XX" (two hex digits, either case) is the byte XX and
 * every other byte stands for itself ('+' included). Writes at most out_cap bytes to out and
 * sets *decoded_bytes_out to the full decoded length, which may exceed out_cap. False when
 * a '%' is not followed by two hex digits. */
static bool http_pct_decode(const uint8_t *in, size_t in_bytes, uint8_t *out, size_t out_cap,
                            size_t *decoded_bytes_out)
{
    size_t n = 0;
    for (size_t i = 0; i < in_bytes; i++) {
        uint8_t b = in[i];
        if (b == '%') {
            if (in_bytes - i < 3)
                return false;
            int hi = http_hex_value(in[i + 1]);
            int lo = http_hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            b = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
        if (n < out_cap)
            out[n] = b;
        n++;
    }
    *decoded_bytes_out = n;
    return true;
}

static bool http_bytes_are(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

static bool http_consistency_parse(const uint8_t *name, size_t name_bytes, uint8_t *level_out)
{
    if (http_bytes_are(name, name_bytes, "one"))
        *level_out = BIN_CONS_ONE;
    else if (http_bytes_are(name, name_bytes, "quorum"))
        *level_out = BIN_CONS_QUORUM;
    else if (http_bytes_are(name, name_bytes, "all"))
        *level_out = BIN_CONS_ALL;
    else
        return false;
    return true;
}

/* Longest query name or value worth decoding: anything longer matches nothing we know. */
#define HTTP_QUERY_WORD_BYTES_MAX 16u

/* Reads the query of a /kv request: "consistency=one|quorum|all", names and values
 * percent-decoded, parameters separated by '&', empty parameters skipped. */
static bool http_query_parse(const uint8_t *q, size_t q_bytes, bool *has_level_out,
                             uint8_t *level_out, enum http_fault *fault_out)
{
    *has_level_out = false;
    size_t i = 0;
    while (i < q_bytes) {
        const uint8_t *amp = memchr(q + i, '&', q_bytes - i);
        size_t end = amp != NULL ? (size_t)(amp - q) : q_bytes;
        const uint8_t *param = q + i;
        size_t param_bytes = end - i;
        i = end + 1;
        if (param_bytes == 0)
            continue;

        const uint8_t *eq = memchr(param, '=', param_bytes);
        size_t name_raw_bytes = eq != NULL ? (size_t)(eq - param) : param_bytes;
        const uint8_t *value_raw = eq != NULL ? eq + 1 : param + param_bytes;
        size_t value_raw_bytes = param_bytes - name_raw_bytes - (eq != NULL ? 1u : 0u);

        uint8_t name[HTTP_QUERY_WORD_BYTES_MAX];
        uint8_t value[HTTP_QUERY_WORD_BYTES_MAX];
        size_t name_bytes, value_bytes;
        if (!http_pct_decode(param, name_raw_bytes, name, sizeof(name), &name_bytes) ||
            !http_pct_decode(value_raw, value_raw_bytes, value, sizeof(value), &value_bytes)) {
            *fault_out = HTTP_FAULT_PERCENT;
            return false;
        }
        if (name_bytes > sizeof(name) || !http_bytes_are(name, name_bytes, "consistency")) {
            *fault_out = HTTP_FAULT_QUERY_UNKNOWN;
            return false;
        }
        if (*has_level_out) {
            *fault_out = HTTP_FAULT_CONSISTENCY_TWICE;
            return false;
        }
        if (value_bytes > sizeof(value) || !http_consistency_parse(value, value_bytes, level_out)) {
            *fault_out = HTTP_FAULT_BAD_CONSISTENCY;
            return false;
        }
        *has_level_out = true;
    }
    return true;
}

/* The largest base64 text we decode: 4 characters per 3 bytes of the largest value. */
#define HTTP_VALUE_B64_BYTES_MAX (((RKV_VALUE_BYTES_MAX + 2u) / 3u) * 4u)
_Static_assert(HTTP_BODY_BYTES_MAX > HTTP_VALUE_B64_BYTES_MAX + 64u, "a body holds the largest value and its JSON");

/* Decodes a padded standard-alphabet base64 value into value_buf. The decoded length
 * follows from the text's length and its padding, so a value over the limit is refused
 * (*too_long_out, answered with RKV_VALUE_TOO_LONG) before any character is read; any other
 * fault is *fault_out. */
static bool http_value_decode(const char *b64, size_t b64_bytes, uint8_t *value_buf,
                              uint32_t *value_bytes_out, enum http_fault *fault_out,
                              bool *too_long_out)
{
    *value_bytes_out = 0;
    *too_long_out = false;
    if (b64_bytes % 4u != 0) {
        *fault_out = HTTP_FAULT_BAD_BASE64;
        return false;
    }
    size_t pad = 0;
    if (b64_bytes >= 4u) {
        pad = b64[b64_bytes - 1] == '=' ? 1u : 0u;
        pad += pad == 1u && b64[b64_bytes - 2] == '=' ? 1u : 0u;
    }
    size_t expect_bytes = b64_bytes / 4u * 3u - pad;
    if (expect_bytes > RKV_VALUE_BYTES_MAX) {
        *too_long_out = true;
        return false;
    }
    http_sodium_ready();
    size_t bin_bytes = 0;
    const char *b64_end = NULL;
    int rc = sodium_base642bin(value_buf, RKV_VALUE_BYTES_MAX + 1u, b64, b64_bytes, NULL, &bin_bytes,
                               &b64_end, sodium_base64_VARIANT_ORIGINAL);
    if (rc != 0 || b64_end != b64 + b64_bytes || bin_bytes != expect_bytes) {
        *fault_out = HTTP_FAULT_BAD_BASE64;
        return false;
    }
    *value_bytes_out = (uint32_t)bin_bytes;
    return true;
}

/* Reads a PUT body into op. The first fault in this order is the answer: not JSON, not an
 * object, an unknown field, value missing or not a string, ttl_seconds, consistency (also
 * when the query gave it too), if_version, and last the value's length and base64. */
static bool http_put_body_parse(const uint8_t *body, size_t body_bytes, bool query_has_level,
                                uint8_t *value_buf, struct bin_req *op, struct http_error *err_out)
{
    static const char *const known[] = {"value", "ttl_seconds", "consistency", "if_version"};
    enum http_fault fault = HTTP_FAULT_COUNT;
    bool ok = false;

    /* FIXME: jansson allocates the tree and a copy of the value's base64 (up to 1.4 MB) per
     * PUT, against practice 10. A pull parser over the body that hands the value string
     * straight to sodium_base642bin() would remove both; the body is bounded by
     * HTTP_BODY_BYTES_MAX, so the cost is bounded meanwhile. Nesting is bounded by
     * jansson's own depth limit. */
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body, body_bytes, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fault = HTTP_FAULT_MALFORMED_JSON;
        goto out;
    }
    if (!json_is_object(root)) {
        fault = HTTP_FAULT_NOT_OBJECT;
        goto out;
    }
    const char *field;
    json_t *v;
    json_object_foreach(root, field, v) {
        bool is_known = false;
        for (size_t i = 0; i < RKV_ARRAY_LEN(known); i++)
            is_known = is_known || strcmp(field, known[i]) == 0;
        if (!is_known) {
            fault = HTTP_FAULT_UNKNOWN_FIELD;
            goto out;
        }
    }

    json_t *jvalue = json_object_get(root, "value");
    if (jvalue == NULL) {
        fault = HTTP_FAULT_VALUE_MISSING;
        goto out;
    }
    if (!json_is_string(jvalue)) {
        fault = HTTP_FAULT_VALUE_TYPE;
        goto out;
    }

    json_t *jttl = json_object_get(root, "ttl_seconds");
    if (jttl != NULL) {
        if (!json_is_integer(jttl) || json_integer_value(jttl) < 0 ||
            json_integer_value(jttl) > (json_int_t)RKV_TTL_S_MAX) {
            fault = HTTP_FAULT_BAD_TTL;
            goto out;
        }
        op->ttl_s = (uint32_t)json_integer_value(jttl);
    }

    json_t *jcons = json_object_get(root, "consistency");
    if (jcons != NULL) {
        if (query_has_level) {
            fault = HTTP_FAULT_CONSISTENCY_TWICE;
            goto out;
        }
        if (!json_is_string(jcons) ||
            !http_consistency_parse((const uint8_t *)json_string_value(jcons), json_string_length(jcons),
                                    &op->consistency)) {
            fault = HTTP_FAULT_BAD_CONSISTENCY;
            goto out;
        }
    }

    json_t *jver = json_object_get(root, "if_version");
    if (jver != NULL) {
        if (!json_is_integer(jver) || json_integer_value(jver) < 0) {
            fault = HTTP_FAULT_BAD_IF_VERSION;
            goto out;
        }
        op->flags |= BIN_REQ_F_IF_VERSION;
        op->if_version = (uint64_t)json_integer_value(jver);
    }

    bool too_long = false;
    if (!http_value_decode(json_string_value(jvalue), json_string_length(jvalue), value_buf,
                           &op->value_bytes, &fault, &too_long)) {
        if (too_long) {
            http_err_set(RKV_VALUE_TOO_LONG, err_out);
            fault = HTTP_FAULT_COUNT;
        }
        goto out;
    }
    op->value = value_buf;
    ok = true;

out:
    if (!ok && fault != HTTP_FAULT_COUNT)
        http_fault_set(fault, err_out);
    json_decref(root); /* NULL-safe */
    return ok;
}

/* Reads the key of a /kv/ path: the rest of the path, percent-decoded; a raw '/' is part of
 * the key like any other byte. */
static bool http_key_parse(const uint8_t *raw, size_t raw_bytes, struct http_request *req,
                           struct http_error *err_out)
{
    size_t key_bytes = 0;
    if (!http_pct_decode(raw, raw_bytes, req->key_buf, sizeof(req->key_buf), &key_bytes)) {
        http_fault_set(HTTP_FAULT_PERCENT, err_out);
        return false;
    }
    if (key_bytes == 0) {
        http_err_set(RKV_KEY_EMPTY, err_out);
        return false;
    }
    if (key_bytes > RKV_KEY_BYTES_MAX) {
        http_err_set(RKV_KEY_TOO_LONG, err_out);
        return false;
    }
    req->op.key = req->key_buf;
    req->op.key_bytes = (uint16_t)key_bytes;
    return true;
}

#define HTTP_KV_PREFIX "/kv/"
#define HTTP_DEBUG_KEY_PREFIX "/debug/key/"

bool http_parse_request(const uint8_t *frame, size_t frame_bytes, uint8_t *value_buf,
                        struct http_request *req_out, struct http_error *err_out)
{
    RKV_ASSERT(frame != NULL);
    RKV_ASSERT(value_buf != NULL);
    RKV_ASSERT(req_out != NULL);
    RKV_ASSERT(err_out != NULL);
    memset(req_out, 0, sizeof(*req_out));
    memset(err_out, 0, sizeof(*err_out));

    /* The header block is parsed again (framing keeps nothing): a few hundred bytes once per
     * request. A frame that does not parse to exactly frame_bytes is the caller's mistake
     * or a changed buffer; it is answered, not trusted. */
    struct http_head h;
    enum http_fault fault = HTTP_FAULT_NOT_FRAMED;
    enum parse_rc rc = http_head_parse(frame, frame_bytes, &h, &fault);
    bool framed = rc == PARSE_DONE && http_head_frameable(&h, &fault);
    if (rc == PARSE_NEED_MORE || (framed && h.head_bytes + h.content_length != frame_bytes)) {
        fault = HTTP_FAULT_NOT_FRAMED;
        framed = false;
    }
    if (!framed) {
        http_fault_set(fault, err_out);
        return false;
    }
    req_out->keep_alive = h.keep_alive;
    const uint8_t *body = frame + h.head_bytes;
    size_t body_bytes = (size_t)h.content_length;

    /* Only the origin form (a path and an optional query) is served; a fragment has no
     * business in a request target (RFC 9112, section 3.2.1), so it is refused rather than
     * dropped: a raw '#' meant for a key must arrive as %23. */
    const uint8_t *url = h.url;
    size_t url_bytes = h.url_bytes;
    if (url == NULL || url_bytes == 0 || url[0] != '/' || memchr(url, '#', url_bytes) != NULL) {
        http_fault_set(HTTP_FAULT_TARGET, err_out);
        return false;
    }
    const uint8_t *qmark = memchr(url, '?', url_bytes);
    size_t path_bytes = qmark != NULL ? (size_t)(qmark - url) : url_bytes;
    const uint8_t *query = qmark != NULL ? qmark + 1 : url + url_bytes;
    size_t query_bytes = url_bytes - path_bytes - (qmark != NULL ? 1u : 0u);

    size_t prefix_bytes = strlen(HTTP_KV_PREFIX);
    if (path_bytes >= prefix_bytes && memcmp(url, HTTP_KV_PREFIX, prefix_bytes) == 0)
        req_out->route = HTTP_ROUTE_KV;
    else if (http_bytes_are(url, path_bytes, "/metrics"))
        req_out->route = HTTP_ROUTE_METRICS;
    else if (http_bytes_are(url, path_bytes, "/health"))
        req_out->route = HTTP_ROUTE_HEALTH;
    else if (path_bytes >= strlen(HTTP_DEBUG_KEY_PREFIX) &&
             memcmp(url, HTTP_DEBUG_KEY_PREFIX, strlen(HTTP_DEBUG_KEY_PREFIX)) == 0)
        req_out->route = HTTP_ROUTE_DEBUG_KEY;
    else {
        http_fault_set(HTTP_FAULT_NOT_FOUND, err_out);
        return false;
    }

    bool kv = req_out->route == HTTP_ROUTE_KV;
    bool method_ok = h.method == HTTP_GET || (kv && (h.method == HTTP_PUT || h.method == HTTP_DELETE));
    if (!method_ok) {
        /* An answer to HEAD must have no body; ours has one, so the connection closes after
         * it rather than leave the client to misread the body as the next response. */
        http_fault_set(h.method == HTTP_HEAD ? HTTP_FAULT_HEAD : HTTP_FAULT_METHOD, err_out);
        return false;
    }

    if (!kv) {
        if (query_bytes != 0) {
            http_fault_set(HTTP_FAULT_QUERY_NOT_ALLOWED, err_out);
            return false;
        }
        if (body_bytes != 0) {
            http_fault_set(HTTP_FAULT_BODY_NOT_ALLOWED, err_out);
            return false;
        }
        /* Not a KV operation: op is a PING, so that it still passes bin_req_validate(); the
         * debug view carries its key. */
        if (req_out->route == HTTP_ROUTE_DEBUG_KEY) {
            size_t pre = strlen(HTTP_DEBUG_KEY_PREFIX);
            if (!http_key_parse(url + pre, path_bytes - pre, req_out, err_out))
                return false;
        }
        req_out->op.opcode = req_out->route == HTTP_ROUTE_DEBUG_KEY ? BIN_OP_GET : BIN_OP_PING;
        RKV_ASSERT(bin_req_validate(&req_out->op) == RKV_OK);
        return true;
    }

    if (!http_key_parse(url + prefix_bytes, path_bytes - prefix_bytes, req_out, err_out))
        return false;
    bool query_has_level = false;
    uint8_t level = BIN_CONS_QUORUM;
    if (!http_query_parse(query, query_bytes, &query_has_level, &level, &fault)) {
        http_fault_set(fault, err_out);
        return false;
    }
    struct bin_req *op = &req_out->op;
    op->consistency = level;

    if (h.method == HTTP_PUT) {
        op->opcode = BIN_OP_PUT;
        if (!h.has_length) {
            http_fault_set(HTTP_FAULT_PUT_NO_LENGTH, err_out);
            return false;
        }
        if (!http_put_body_parse(body, body_bytes, query_has_level, value_buf, op, err_out))
            return false;
    } else {
        op->opcode = h.method == HTTP_GET ? BIN_OP_GET : BIN_OP_DELETE;
        if (body_bytes != 0) {
            http_fault_set(HTTP_FAULT_BODY_NOT_ALLOWED, err_out);
            return false;
        }
    }
    /* Everything bin_req_validate() checks was checked above with a more precise answer;
     * a request that passed here and fails there is our bug. */
    RKV_ASSERT(bin_req_validate(op) == RKV_OK);
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Responses. A response is one malloc'd buffer: status line, headers, body. The body is
 * measured before anything is written, so Content-Length is exact and a value is encoded
 * once, straight into its place. */

static const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Status";
    }
}

/* A bounded writer over a buffer whose size was computed beforehand: overrunning it is our
 * bug, so it asserts. */
struct http_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
};

static void http_w_bytes(struct http_writer *w, const void *p, size_t n)
{
    RKV_ASSERT(n <= w->cap - w->len);
    if (n != 0)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void http_w_str(struct http_writer *w, const char *s)
{
    http_w_bytes(w, s, strlen(s));
}

static void http_w_u64(struct http_writer *w, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n] = (char)('0' + v % 10u);
        v /= 10u;
        n++;
    } while (v != 0);
    http_w_bytes(w, digits + sizeof(digits) - n, n);
}

/* Writes bytes as a JSON string, one code point per byte (read as Latin-1, so every code
 * point is at most U+00FF and a client gets the exact bytes back by encoding the decoded
 * string as ISO-8859-1): '"' and '\' are escaped with a backslash, printable ASCII
 * 0x20..0x7e is written as itself, every other byte (controls, 0x7f and 0x80..0xff) as
 * \u00xx with lower-case hex. UTF-8 keys therefore appear byte by byte, never as their
 * characters: the price of a mapping that is exact for every byte string. */
#define HTTP_JSON_ESCAPE_BYTES_MAX 6u /* \u00xx */

static void http_w_json_string(struct http_writer *w, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    http_w_bytes(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (b == '"' || b == '\\') {
            char esc[2] = {'\\', (char)b};
            http_w_bytes(w, esc, 2);
        } else if (b >= 0x20 && b <= 0x7e) {
            http_w_bytes(w, &b, 1);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[b >> 4], hex[b & 0x0f]};
            http_w_bytes(w, esc, sizeof(esc));
        }
    }
    http_w_bytes(w, "\"", 1);
}

/* Room for the status line and our headers; the content type is bounded separately. */
#define HTTP_HEAD_OUT_BYTES_MAX 512u
#define HTTP_CONTENT_TYPE_BYTES_MAX 128u
/* Room for the JSON around a value: the key fully escaped, three numbers, field names. */
#define HTTP_JSON_SMALL_BYTES_MAX (RKV_KEY_BYTES_MAX * HTTP_JSON_ESCAPE_BYTES_MAX + 512u)

/* Assembles status line, headers and body = pre ‖ base64(b64_src) ‖ post (either part may be
 * empty) in one malloc'd buffer. No Content-Length or body for 204. */
static uint8_t *http_assemble(int status, const char *content_type, const char *extra_header,
                              const uint8_t *pre, size_t pre_bytes, const uint8_t *b64_src,
                              size_t b64_src_bytes, const uint8_t *post, size_t post_bytes,
                              bool keep_alive, size_t *bytes_out)
{
    RKV_ASSERT(status >= 100 && status <= 599);
    RKV_ASSERT(content_type == NULL || strlen(content_type) < HTTP_CONTENT_TYPE_BYTES_MAX);
    RKV_ASSERT(extra_header == NULL || strlen(extra_header) < HTTP_HEAD_OUT_BYTES_MAX / 2u);
    *bytes_out = 0;

    size_t b64_bytes = 0;
    if (b64_src != NULL) {
        http_sodium_ready();
        b64_bytes = sodium_base64_ENCODED_LEN(b64_src_bytes, sodium_base64_VARIANT_ORIGINAL) - 1u;
    }
    size_t body_bytes = pre_bytes + b64_bytes + post_bytes;
    bool no_body = status == 204;
    RKV_ASSERT(!no_body || body_bytes == 0);

    char head[HTTP_HEAD_OUT_BYTES_MAX + HTTP_CONTENT_TYPE_BYTES_MAX];
    struct http_writer hw = {.buf = (uint8_t *)head, .cap = sizeof(head)};
    http_w_str(&hw, "HTTP/1.1 ");
    http_w_u64(&hw, (uint64_t)status);
    http_w_str(&hw, " ");
    http_w_str(&hw, http_reason(status));
    http_w_str(&hw, "\r\n");
    if (content_type != NULL && !no_body) {
        http_w_str(&hw, "Content-Type: ");
        http_w_str(&hw, content_type);
        http_w_str(&hw, "\r\n");
    }
    if (!no_body) {
        http_w_str(&hw, "Content-Length: ");
        http_w_u64(&hw, body_bytes);
        http_w_str(&hw, "\r\n");
    }
    if (extra_header != NULL)
        http_w_str(&hw, extra_header);
    /* Keep-alive is said out loud too: an HTTP/1.0 client that asked for it closes
     * otherwise. */
    http_w_str(&hw, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");

    size_t total = hw.len + body_bytes;
    /* One byte more: sodium_bin2base64() writes a NUL after the text. */
    uint8_t *out = malloc(total + 1u);
    if (out == NULL)
        return NULL;
    struct http_writer w = {.buf = out, .cap = total};
    http_w_bytes(&w, head, hw.len);
    http_w_bytes(&w, pre, pre_bytes);
    if (b64_src != NULL) {
        RKV_ASSERT(b64_bytes <= w.cap - w.len);
        sodium_bin2base64((char *)out + w.len, b64_bytes + 1u, b64_src, b64_src_bytes,
                          sodium_base64_VARIANT_ORIGINAL);
        w.len += b64_bytes;
    }
    http_w_bytes(&w, post, post_bytes);
    RKV_ASSERT(w.len == total);
    *bytes_out = total;
    return out;
}

uint8_t *http_build_response(int status, const char *content_type, const uint8_t *body,
                             size_t body_bytes, bool keep_alive, size_t *bytes_out)
{
    RKV_ASSERT(body != NULL || body_bytes == 0);
    RKV_ASSERT(bytes_out != NULL);
    return http_assemble(status, content_type, NULL, body, body_bytes, NULL, 0, NULL, 0, keep_alive,
                         bytes_out);
}

/* Writes {"error":code,"message":message, without the closing brace. */
static void http_w_error_fields(struct http_writer *w, const char *code, const char *message)
{
    http_w_str(w, "{\"error\":");
    http_w_json_string(w, (const uint8_t *)code, strlen(code));
    http_w_str(w, ",\"message\":");
    http_w_json_string(w, (const uint8_t *)message, strlen(message));
}

/* Error codes and messages are ours and short; this bounds them for the stack buffers. */
#define HTTP_ERROR_TEXT_BYTES_MAX 96u

uint8_t *http_build_error(const struct http_error *err, bool keep_alive, size_t *bytes_out)
{
    RKV_ASSERT(err != NULL);
    RKV_ASSERT(err->code != NULL && err->message != NULL);
    RKV_ASSERT(strlen(err->code) + strlen(err->message) < HTTP_ERROR_TEXT_BYTES_MAX);
    RKV_ASSERT(bytes_out != NULL);
    uint8_t body[HTTP_ERROR_TEXT_BYTES_MAX * HTTP_JSON_ESCAPE_BYTES_MAX + 64u];
    struct http_writer w = {.buf = body, .cap = sizeof(body)};
    http_w_error_fields(&w, err->code, err->message);
    http_w_str(&w, "}");
    return http_assemble(err->status, "application/json", NULL, body, w.len, NULL, 0, NULL, 0,
                         keep_alive && !err->close, bytes_out);
}

static const char *http_consistency_name(uint8_t level)
{
    RKV_ASSERT(level <= BIN_CONS_ALL);
    static const char *const names[] = {[BIN_CONS_ONE] = "one", [BIN_CONS_QUORUM] = "quorum", [BIN_CONS_ALL] = "all"};
    return names[level];
}

uint8_t *http_build_kv_response(const struct http_request *req, const struct http_result *res,
                                size_t *bytes_out)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(req->route == HTTP_ROUTE_KV);
    RKV_ASSERT(res != NULL);
    RKV_ASSERT((unsigned)res->err < (unsigned)RKV_ERR_COUNT);
    RKV_ASSERT(res->value != NULL || res->value_bytes == 0);
    RKV_ASSERT(bytes_out != NULL);
    const struct bin_req *op = &req->op;
    RKV_ASSERT(op->opcode == BIN_OP_GET || op->opcode == BIN_OP_PUT || op->opcode == BIN_OP_DELETE);
    RKV_ASSERT(op->key_bytes >= 1 && op->key_bytes <= RKV_KEY_BYTES_MAX);

    char cons[HTTP_HEAD_OUT_BYTES_MAX / 4u];
    int cons_len = snprintf(cons, sizeof(cons), "X-Ringkv-Consistency: requested=%s acked=%u/%u hinted=%u\r\n",
                            http_consistency_name(res->consistency), (unsigned)res->acked,
                            (unsigned)res->needed, (unsigned)res->hinted);
    RKV_ASSERT(cons_len > 0 && (size_t)cons_len < sizeof(cons));

    int status = rkv_err_http(res->err);
    uint8_t pre[HTTP_JSON_SMALL_BYTES_MAX];
    uint8_t post[HTTP_JSON_SMALL_BYTES_MAX];
    struct http_writer pw = {.buf = pre, .cap = sizeof(pre)};
    struct http_writer tw = {.buf = post, .cap = sizeof(post)};
    /* A GET's value is encoded straight into the response; an empty value still has a
     * non-NULL source, so that "value":"" is written. */
    static const uint8_t empty[1];
    const uint8_t *b64_src = NULL;
    size_t b64_src_bytes = 0;

    if (res->err != RKV_OK) {
        http_w_error_fields(&pw, http_err_code(res->err), rkv_err_message(res->err));
        if (res->err == RKV_VERSION_MISMATCH) {
            http_w_str(&pw, ",\"current_version\":");
            http_w_u64(&pw, res->version);
        } else if (res->err == RKV_UNAVAILABLE) {
            http_w_str(&pw, ",\"acked\":");
            http_w_u64(&pw, res->acked);
            http_w_str(&pw, ",\"needed\":");
            http_w_u64(&pw, res->needed);
        }
        http_w_str(&pw, "}");
    } else if (op->opcode == BIN_OP_DELETE) {
        status = 204;
    } else {
        http_w_str(&pw, "{\"key\":");
        http_w_json_string(&pw, op->key, op->key_bytes);
        if (op->opcode == BIN_OP_GET) {
            http_w_str(&pw, ",\"value\":\"");
            b64_src = res->value_bytes != 0 ? res->value : empty;
            b64_src_bytes = res->value_bytes;
            http_w_str(&tw, "\"");
        }
        http_w_str(&tw, ",\"version\":");
        http_w_u64(&tw, res->version);
        http_w_str(&tw, ",\"timestamp\":");
        http_w_u64(&tw, hlc_phys_ms(res->timestamp));
        http_w_str(&tw, "}");
    }
    return http_assemble(status, status == 204 ? NULL : "application/json", cons, pre, pw.len, b64_src,
                         b64_src_bytes, post, tw.len, req->keep_alive, bytes_out);
}

/* ---------------------------------------------------------------------------------------
 * GET /debug/key/{key}: built with jansson (an operator's tool, not a hot path). */

static json_t *http_dbg_bytes(const uint8_t *p, size_t n, bool as_base64)
{
    if (as_base64) {
        size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
        char *b = malloc(cap);
        if (b == NULL)
            return NULL;
        sodium_bin2base64(b, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
        json_t *s = json_string(b);
        free(b);
        return s;
    }
    /* A key as text when it is UTF-8; otherwise percent-encoded, as it travels in a path. */
    json_t *s = json_stringn((const char *)p, n);
    if (s != NULL)
        return s;
    char *b = malloc(n * 3u + 1u);
    if (b == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, 4, "%%%02X", p[i]);
    s = json_stringn(b, o);
    free(b);
    return s;
}

char *http_debug_key_json(const struct http_dbg_key *d, size_t *bytes_out)
{
    *bytes_out = 0;
    json_t *root = json_object();
    json_t *reps = json_array();
    json_t *hints = json_array();
    bool ok = root != NULL && reps != NULL && hints != NULL;
    ok = ok && json_object_set_new(root, "key", http_dbg_bytes(d->key, d->key_bytes, false)) == 0;
    /* 64 bits do not survive a JSON number in most readers: the token as 16 hex digits. */
    ok = ok && json_object_set_new(root, "token", json_sprintf("%016llx", (unsigned long long)d->token)) == 0;
    for (uint32_t i = 0; ok && i < d->replica_count; i++) {
        const struct http_dbg_replica *r = &d->replicas[i];
        json_t *o = json_object();
        ok = o != NULL && json_array_append_new(reps, o) == 0;
        ok = ok && json_object_set_new(o, "node", json_string(r->node)) == 0;
        ok = ok && json_object_set_new(o, "status", json_string(r->status)) == 0;
        if (ok && r->has_record) {
            if (r->value != NULL || r->value_bytes == 0)
                ok = json_object_set_new(o, "value", http_dbg_bytes(r->value, r->value_bytes, true)) == 0;
            ok = ok && json_object_set_new(o, "version", json_integer((json_int_t)r->version)) == 0;
            ok = ok && json_object_set_new(o, "timestamp", json_integer((json_int_t)hlc_phys_ms(r->timestamp))) == 0;
            ok = ok && json_object_set_new(o, "hlc", json_integer((json_int_t)r->timestamp)) == 0;
            ok = ok && json_object_set_new(o, "expires_at", r->expires_at ? json_integer((json_int_t)r->expires_at) : json_null()) == 0;
        }
    }
    for (uint32_t i = 0; ok && i < d->hint_count; i++) {
        const struct http_dbg_hint *h = &d->hints[i];
        json_t *o = json_object();
        ok = o != NULL && json_array_append_new(hints, o) == 0;
        ok = ok && json_object_set_new(o, "holder", json_string(h->holder)) == 0;
        ok = ok && json_object_set_new(o, "target", json_string(h->target)) == 0;
        ok = ok && json_object_set_new(o, "version", json_integer((json_int_t)h->version)) == 0;
        ok = ok && json_object_set_new(o, "timestamp", json_integer((json_int_t)hlc_phys_ms(h->timestamp))) == 0;
    }
    if (ok) {
        ok = json_object_set(root, "replicas", reps) == 0 && json_object_set(root, "hints", hints) == 0;
    }
    char *out = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(reps);
    json_decref(hints);
    json_decref(root);
    if (out != NULL)
        *bytes_out = strlen(out);
    return out;
}
