/* The http:// driver of ringkv-bench: ringkv's HTTP/JSON API (docs/http.md) over HTTP/1.1
 * keep-alive, many requests pipelined on one connection. Requests are
 *   GET /kv/KEY[?consistency=L] HTTP/1.1                        (no body)
 *   PUT /kv/KEY[?consistency=L] HTTP/1.1 + {"value":"<base64>"} (Content-Length body)
 * and answers come in request order. The answer parser is deliberately small: a status
 * line, headers up to HTTP_HEAD_BYTES_MAX, and a body framed by Content-Length only (a
 * chunked or connection-delimited body is refused as invalid, which ringkv never sends).
 * 200 is OK; 404 with the error code key_not_found is a miss; anything else is an error
 * whose message is the body. Owner of a state: the connection that made it. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/assert.h"

/* The status line and headers of one answer; ringkv's are under 200 bytes. */
#define HTTP_HEAD_BYTES_MAX (8u * 1024u)
/* An answer body: the JSON around a base64 value of up to RKV_VALUE_BYTES_MAX bytes. */
#define HTTP_BODY_BYTES_MAX (4u * ((RKV_VALUE_BYTES_MAX + 2u) / 3u) + 4096u)
/* Request line, Host and Content-Length headers, the JSON around the value, and a key of
 * RKV_KEY_BYTES_MAX bytes that may all need percent-encoding. */
#define HTTP_REQ_OVERHEAD_BYTES (256u + 3u * RKV_KEY_BYTES_MAX)
#define HTTP_BODY_PREFIX "{\"value\":\""
#define HTTP_BODY_SUFFIX "\"}"

struct http_state {
    const char *query; /* "" or "?consistency=one|all" (quorum is the server's default) */
    size_t query_bytes;
    /* The base64 of the value last seen, so that encoding the same buffer again (every PUT
     * of a worker writes a prefix of its one value buffer) costs a copy, not an encoding. */
    const uint8_t *b64_of;  /* the buffer encoded */
    size_t b64_of_bytes;    /* how many of its bytes */
    char *b64;              /* their base64, NUL-ended */
    size_t b64_cap;
};

static void *http_state_new(const struct bench_driver_cfg *cfg, char *why, size_t why_cap)
{
    RKV_ASSERT(why != NULL && why_cap > 0);
    struct http_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    static const char *const queries[] = {
        [BENCH_CONS_ONE] = "?consistency=one", [BENCH_CONS_QUORUM] = "", [BENCH_CONS_ALL] = "?consistency=all"};
    RKV_ASSERT((unsigned)cfg->consistency < RKV_ARRAY_LEN(queries));
    st->query = queries[cfg->consistency];
    st->query_bytes = strlen(st->query);
    return st;
}

static void http_state_free(void *p)
{
    struct http_state *st = p;
    if (st == NULL)
        return;
    free(st->b64);
    free(st);
}

static size_t http_b64_bytes(size_t bin_bytes)
{
    return 4u * ((bin_bytes + 2u) / 3u);
}

static size_t http_request_bytes_max(uint32_t value_bytes)
{
    return HTTP_REQ_OVERHEAD_BYTES + http_b64_bytes(value_bytes);
}

/* Makes st->b64 hold the base64 of at least value[0..value_bytes). false: out of memory. */
static bool http_b64_cache(struct http_state *st, const uint8_t *value, size_t value_bytes)
{
    if (st->b64_of == value && st->b64_of_bytes >= value_bytes)
        return true;
    size_t need = sodium_base64_ENCODED_LEN(value_bytes, sodium_base64_VARIANT_ORIGINAL);
    if (need > st->b64_cap) {
        char *b = realloc(st->b64, need);
        if (b == NULL)
            return false;
        st->b64 = b;
        st->b64_cap = need;
    }
    sodium_bin2base64(st->b64, st->b64_cap, value, value_bytes, sodium_base64_VARIANT_ORIGINAL);
    st->b64_of = value;
    st->b64_of_bytes = value_bytes;
    return true;
}

static bool http_unreserved(uint8_t ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '.' || ch == '_' || ch == '~' || ch == ':';
}

/* Writes v in decimal at p; returns the digits written (at most 20). */
static size_t http_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && n < sizeof(tmp));
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1u - i];
    return n;
}

#define HTTP_PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1u), (p) += sizeof(lit) - 1u)

static size_t http_encode(void *p, uint8_t *buf, size_t cap, enum bench_op op, const uint8_t *key, size_t key_bytes,
                          const uint8_t *value, size_t value_bytes, uint32_t tag)
{
    struct http_state *st = p;
    (void)tag; /* answers come in order */
    RKV_ASSERT(key_bytes >= 1 && key_bytes <= RKV_KEY_BYTES_MAX);
    RKV_ASSERT(value_bytes <= RKV_VALUE_BYTES_MAX);
    size_t b64_bytes = op == BENCH_OP_PUT ? http_b64_bytes(value_bytes) : 0;
    if (cap < HTTP_REQ_OVERHEAD_BYTES + b64_bytes)
        return 0;
    if (op == BENCH_OP_PUT && !http_b64_cache(st, value, value_bytes))
        return 0;
    char *w = (char *)buf;
    if (op == BENCH_OP_GET)
        HTTP_PUT_LIT(w, "GET /kv/");
    else
        HTTP_PUT_LIT(w, "PUT /kv/");
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < key_bytes; i++) {
        if (http_unreserved(key[i])) {
            *w++ = (char)key[i];
        } else {
            *w++ = '%';
            *w++ = hex[key[i] >> 4];
            *w++ = hex[key[i] & 15u];
        }
    }
    memcpy(w, st->query, st->query_bytes);
    w += st->query_bytes;
    HTTP_PUT_LIT(w, " HTTP/1.1\r\nHost: ringkv-bench\r\n");
    if (op == BENCH_OP_GET) {
        HTTP_PUT_LIT(w, "\r\n");
        return (size_t)(w - (char *)buf);
    }
    HTTP_PUT_LIT(w, "Content-Length: ");
    w += http_put_u64(w, sizeof(HTTP_BODY_PREFIX) - 1u + b64_bytes + sizeof(HTTP_BODY_SUFFIX) - 1u);
    HTTP_PUT_LIT(w, "\r\n\r\n" HTTP_BODY_PREFIX);
    /* The base64 of a prefix of whole 3-byte groups is a prefix of the cached base64; the
     * last 1 or 2 bytes, if any, are encoded apart with their padding. */
    size_t whole = value_bytes / 3u * 3u;
    memcpy(w, st->b64, whole / 3u * 4u);
    w += whole / 3u * 4u;
    if (whole < value_bytes) {
        char tail[8];
        sodium_bin2base64(tail, sizeof(tail), value + whole, value_bytes - whole, sodium_base64_VARIANT_ORIGINAL);
        memcpy(w, tail, 4);
        w += 4;
    }
    HTTP_PUT_LIT(w, HTTP_BODY_SUFFIX);
    RKV_ASSERT((size_t)(w - (char *)buf) <= cap);
    return (size_t)(w - (char *)buf);
}

/* Case-insensitive: does the header line [p, end) start with name (lower case, with ':')? */
static bool http_header_is(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);
    if ((size_t)(end - p) < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != name[i])
            return false;
    }
    return true;
}

static enum bench_parse http_decode(void *p, const uint8_t *buf, size_t len, struct bench_reply *reply_out,
                                    size_t *used_out, size_t *need_out, const char **why_out)
{
    (void)p;
    *reply_out = (struct bench_reply){.outcome = BENCH_OUT_ERROR};
    *used_out = *need_out = 0;
    *why_out = NULL;
    const char *s = (const char *)buf;
    size_t scan = len < HTTP_HEAD_BYTES_MAX ? len : HTTP_HEAD_BYTES_MAX;
    const char *head_end = NULL;
    for (size_t i = 3; i < scan; i++) {
        if (s[i] == '\n' && s[i - 1] == '\r' && s[i - 2] == '\n' && s[i - 3] == '\r') {
            head_end = s + i + 1;
            break;
        }
    }
    if (head_end == NULL) {
        if (len >= HTTP_HEAD_BYTES_MAX) {
            *why_out = "an answer's head is longer than 8 KiB";
            return BENCH_PARSE_INVALID;
        }
        return BENCH_PARSE_NEED_MORE;
    }
    if (head_end - s < 14 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ' || s[9] < '1' || s[9] > '5' ||
        s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9') {
        *why_out = "an answer without an HTTP/1.x status line";
        return BENCH_PARSE_INVALID;
    }
    unsigned status = (unsigned)(s[9] - '0') * 100u + (unsigned)(s[10] - '0') * 10u + (unsigned)(s[11] - '0');
    bool have_length = false;
    uint64_t body_bytes = 0;
    /* Header lines, after the status line; each ends with CRLF (the head ends with one). */
    const char *line = memchr(s, '\n', (size_t)(head_end - s));
    RKV_ASSERT(line != NULL);
    line++;
    while (line < head_end - 2) {
        const char *eol = memchr(line, '\n', (size_t)(head_end - line));
        RKV_ASSERT(eol != NULL); /* the head ends with CRLF CRLF */
        if (http_header_is(line, eol, "content-length:")) {
            const char *d = line + 15;
            while (d < eol && (*d == ' ' || *d == '\t'))
                d++;
            if (d >= eol || *d < '0' || *d > '9') {
                *why_out = "a Content-Length that is not a number";
                return BENCH_PARSE_INVALID;
            }
            body_bytes = 0;
            while (d < eol && *d >= '0' && *d <= '9' && body_bytes <= HTTP_BODY_BYTES_MAX)
                body_bytes = body_bytes * 10u + (uint64_t)(*d++ - '0');
            if (body_bytes > HTTP_BODY_BYTES_MAX || have_length) {
                *why_out = have_length ? "two Content-Length headers" : "a body over the limit";
                return BENCH_PARSE_INVALID;
            }
            have_length = true;
        } else if (http_header_is(line, eol, "transfer-encoding:")) {
            *why_out = "a Transfer-Encoding body (the bench reads Content-Length bodies only)";
            return BENCH_PARSE_INVALID;
        }
        line = eol + 1;
    }
    if (!have_length && status != 204 && status != 304 && status >= 200) {
        *why_out = "an answer without Content-Length";
        return BENCH_PARSE_INVALID;
    }
    size_t total = (size_t)(head_end - s) + (size_t)body_bytes;
    if (len < total) {
        *need_out = total;
        return BENCH_PARSE_NEED_MORE;
    }
    *used_out = total;
    const char *body = head_end;
    if (status == 200) {
        reply_out->outcome = BENCH_OUT_OK;
    } else if (status == 404 && body_bytes > 0 && memmem(body, (size_t)body_bytes, "\"key_not_found\"", 15) != NULL) {
        reply_out->outcome = BENCH_OUT_MISS;
    } else {
        reply_out->message = body_bytes > 0 ? body : s; /* the JSON error, else the status line */
        reply_out->message_bytes = body_bytes > 0 ? (size_t)body_bytes : (size_t)((const char *)memchr(s, '\r', (size_t)(head_end - s)) - s);
    }
    return BENCH_PARSE_DONE;
}

const struct bench_driver bench_driver_http = {
    .scheme = "http",
    .tagged = false,
    .state_new = http_state_new,
    .state_free = http_state_free,
    .request_bytes_max = http_request_bytes_max,
    .encode = http_encode,
    .decode = http_decode,
};
