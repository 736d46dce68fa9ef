/* The redis:// driver of ringkv-bench: RESP2, so that Redis is driven by the very same load
 * loop as ringkv. A GET is `GET key`, a PUT is `SET key value`, both as arrays of bulk
 * strings; answers come in request order. The answer parser knows the five RESP2 types
 * and the RESP3 null: +simple and :integer are OK, $bulk is OK, the null bulk $-1 (and _)
 * is a miss, -error is an error with its line as the message, and an array (which GET and
 * SET never answer) is refused as invalid. Consistency has no meaning here and is ignored.
 * Stateless. */
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/assert.h"

/* A simple string, error or length line; Redis's own inline limit is 64 KiB. */
#define REDIS_LINE_BYTES_MAX (64u * 1024u)
/* A bulk answer: Redis's proto-max-bulk-len default. */
#define REDIS_BULK_BYTES_MAX (512ull * 1024u * 1024u)

static void *redis_state_new(const struct bench_driver_cfg *cfg, char *why, size_t why_cap)
{
    (void)cfg;
    RKV_ASSERT(why != NULL && why_cap > 0);
    why[0] = '\0';
    return NULL;
}

static void redis_state_free(void *st)
{
    RKV_ASSERT(st == NULL);
}

static size_t redis_request_bytes_max(uint32_t value_bytes)
{
    /* "*3\r\n$3\r\nSET\r\n" and two "$N\r\n...\r\n" of at most 10 digits. */
    return 13u + 2u * 15u + RKV_KEY_BYTES_MAX + (size_t)value_bytes;
}

/* Writes "$N\r\n" + bytes + "\r\n" at w; returns the end. */
static uint8_t *redis_put_bulk(uint8_t *w, const uint8_t *bytes, size_t n)
{
    char tmp[20];
    size_t d = 0;
    size_t v = n;
    do {
        tmp[d++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && d < sizeof(tmp));
    *w++ = '$';
    while (d > 0)
        *w++ = (uint8_t)tmp[--d];
    *w++ = '\r';
    *w++ = '\n';
    if (n > 0)
        memcpy(w, bytes, n);
    w += n;
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

static size_t redis_encode(void *st, uint8_t *buf, size_t cap, enum bench_op op, const uint8_t *key,
                           size_t key_bytes, const uint8_t *value, size_t value_bytes, uint32_t tag)
{
    (void)st;
    (void)tag; /* answers come in order */
    RKV_ASSERT(key_bytes >= 1 && key_bytes <= RKV_KEY_BYTES_MAX);
    RKV_ASSERT(value_bytes <= RKV_VALUE_BYTES_MAX);
    if (cap < redis_request_bytes_max(op == BENCH_OP_PUT ? (uint32_t)value_bytes : 0u))
        return 0;
    uint8_t *w = buf;
    if (op == BENCH_OP_GET) {
        memcpy(w, "*2\r\n$3\r\nGET\r\n", 13);
        w = redis_put_bulk(w + 13, key, key_bytes);
    } else {
        memcpy(w, "*3\r\n$3\r\nSET\r\n", 13);
        w = redis_put_bulk(w + 13, key, key_bytes);
        w = redis_put_bulk(w, value, value_bytes);
    }
    return (size_t)(w - buf);
}

static enum bench_parse redis_decode(void *st, const uint8_t *buf, size_t len, struct bench_reply *reply_out,
                                     size_t *used_out, size_t *need_out, const char **why_out)
{
    (void)st;
    *reply_out = (struct bench_reply){.outcome = BENCH_OUT_ERROR};
    *used_out = *need_out = 0;
    *why_out = NULL;
    size_t scan = len < REDIS_LINE_BYTES_MAX ? len : REDIS_LINE_BYTES_MAX;
    const uint8_t *lf = scan > 1 ? memchr(buf + 1, '\n', scan - 1u) : NULL;
    if (lf == NULL) {
        if (len >= REDIS_LINE_BYTES_MAX) {
            *why_out = "an answer line longer than 64 KiB";
            return BENCH_PARSE_INVALID;
        }
        return BENCH_PARSE_NEED_MORE;
    }
    if (lf[-1] != '\r') {
        *why_out = "an answer line not ended by CRLF";
        return BENCH_PARSE_INVALID;
    }
    size_t line_bytes = (size_t)(lf - buf) + 1u; /* with its CRLF */
    if (line_bytes < 3u) {
        *why_out = "an empty answer line";
        return BENCH_PARSE_INVALID;
    }
    const uint8_t *text = buf + 1;
    size_t text_bytes = line_bytes - 3u;
    switch (buf[0]) {
    case '+':
    case ':':
        reply_out->outcome = BENCH_OUT_OK;
        *used_out = line_bytes;
        return BENCH_PARSE_DONE;
    case '-':
        reply_out->message = (const char *)text;
        reply_out->message_bytes = text_bytes;
        *used_out = line_bytes;
        return BENCH_PARSE_DONE;
    case '_':
        reply_out->outcome = BENCH_OUT_MISS;
        *used_out = line_bytes;
        return BENCH_PARSE_DONE;
    case '$':
        break;
    default:
        *why_out = "an answer that is not a RESP string, integer, error or null";
        return BENCH_PARSE_INVALID;
    }
    if (text_bytes == 2 && text[0] == '-' && text[1] == '1') {
        reply_out->outcome = BENCH_OUT_MISS;
        *used_out = line_bytes;
        return BENCH_PARSE_DONE;
    }
    uint64_t bulk = 0;
    if (text_bytes == 0 || text_bytes > 12) {
        *why_out = "a bulk length that is not a number";
        return BENCH_PARSE_INVALID;
    }
    for (size_t i = 0; i < text_bytes; i++) {
        if (text[i] < '0' || text[i] > '9') {
            *why_out = "a bulk length that is not a number";
            return BENCH_PARSE_INVALID;
        }
        bulk = bulk * 10u + (uint64_t)(text[i] - '0');
    }
    if (bulk > REDIS_BULK_BYTES_MAX) {
        *why_out = "a bulk answer over 512 MiB";
        return BENCH_PARSE_INVALID;
    }
    size_t total = line_bytes + (size_t)bulk + 2u;
    if (len < total) {
        *need_out = total;
        return BENCH_PARSE_NEED_MORE;
    }
    if (buf[total - 2u] != '\r' || buf[total - 1u] != '\n') {
        *why_out = "a bulk answer not ended by CRLF";
        return BENCH_PARSE_INVALID;
    }
    reply_out->outcome = BENCH_OUT_OK;
    *used_out = total;
    return BENCH_PARSE_DONE;
}

const struct bench_driver bench_driver_redis = {
    .scheme = "redis",
    .tagged = false,
    .state_new = redis_state_new,
    .state_free = redis_state_free,
    .request_bytes_max = redis_request_bytes_max,
    .encode = redis_encode,
    .decode = redis_decode,
};
