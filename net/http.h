/* The HTTP/1.1 + JSON front end's codec: framing and parsing of requests (http-parser for
 * the request line and headers, jansson for JSON bodies, libsodium for base64) and building
 * of responses. Pure functions over caller-owned buffers, callable from any thread; the
 * connection machinery (net/conn.c) calls them. docs/http.md describes the API for people.
 *
 * Routes: PUT /kv/{key}, GET /kv/{key}?consistency=..., DELETE /kv/{key}?consistency=...,
 * GET /metrics, GET /health, GET /debug/key/{key} (the operator's view of one key). The key is the path segment after /kv/, percent-decoded to
 * bytes. */
#ifndef RKV_NET_HTTP_H
#define RKV_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"
#include "net/proto_bin.h"

/* Header block limits: past them the request is answered 431 and the connection closed. */
#define HTTP_HEADER_BYTES_MAX 8192u
#define HTTP_HEADERS_COUNT_MAX 64u
/* A PUT body holds base64 of at most 1 MiB plus the JSON around it. Bodies larger than this
 * are refused with 413 without being read (the connection is closed after the answer). */
#define HTTP_BODY_BYTES_MAX (((RKV_VALUE_BYTES_MAX + 2u) / 3u) * 4u + 4096u)
#define HTTP_FRAME_BYTES_MAX (HTTP_HEADER_BYTES_MAX + HTTP_BODY_BYTES_MAX)

enum http_route { HTTP_ROUTE_KV, HTTP_ROUTE_METRICS, HTTP_ROUTE_HEALTH, HTTP_ROUTE_DEBUG_KEY };

/* The outcome of framing: how many bytes the request at the start of the buffer spans. */
struct http_frame {
    size_t frame_bytes;    /* header block + body */
    bool keep_alive;       /* HTTP/1.1 default unless "Connection: close"; 1.0 the reverse */
    bool expect_continue;  /* "Expect: 100-continue" with a body to come: the client waits for
                            * an interim "100 Continue" before sending it */
};

/* The interim answer to "Expect: 100-continue". */
#define HTTP_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"

/* An error the server answers with; close says whether the connection must be closed after
 * the answer (the stream can't be trusted or the body was not read). */
struct http_error {
    int status;            /* 400, 404, 405, 411, 413, 431, 503, ... */
    const char *code;      /* "bad_request", "key_not_found", ... (docs/http.md lists them) */
    const char *message;   /* one sentence, static storage */
    bool close;
};

/* Finds the extent of the request at buf[0..len).
 * PARSE_DONE: *frame_out is set; the request is buf[0..frame_bytes).
 * PARSE_NEED_MORE: incomplete; frame_out->frame_bytes is the whole size once the headers are
 *   complete (so the caller can size its buffer), else 0.
 * PARSE_INVALID: *err_out is the answer to give, then close (malformed request line or
 *   headers, header block over HTTP_HEADER_BYTES_MAX or over HTTP_HEADERS_COUNT_MAX headers,
 *   Content-Length over HTTP_BODY_BYTES_MAX (413), chunked bodies (411), bad Content-Length). */
enum parse_rc http_frame_request(const uint8_t *buf, size_t len, struct http_frame *frame_out,
                                 struct http_error *err_out);

/* A parsed request. For HTTP_ROUTE_KV, op is a request in the binary protocol's terms
 * (opcode, consistency, flags, ttl_s, if_version, key, value) that the node executes exactly
 * like a binary one: key points into key_buf, value into the value buffer given to
 * http_parse_request(). */
struct http_request {
    enum http_route route;
    bool keep_alive;
    struct bin_req op;
    uint8_t key_buf[RKV_KEY_BYTES_MAX];
};

/* Parses one framed request (as found by http_frame_request()). value_buf must hold
 * RKV_VALUE_BYTES_MAX + 1 bytes (the decoded base64 value lands there). Returns true with
 * *req_out filled, or false with *err_out the answer (400 malformed JSON / bad base64 /
 * unknown consistency / bad ttl / empty or over-long key / unknown field types, 413 value
 * over 1 MiB, 404 unknown path, 405 wrong method). Does not close on these (close=false). */
bool http_parse_request(const uint8_t *frame, size_t frame_bytes, uint8_t *value_buf,
                        struct http_request *req_out, struct http_error *err_out);

/* What a KV request achieved, for building its response. */
struct http_result {
    enum rkv_err err;
    uint64_t version;
    uint64_t timestamp;    /* HLC: the response shows hlc_phys_ms(timestamp) in ms */
    const uint8_t *value;  /* GET: the value */
    uint32_t value_bytes;
    uint8_t acked, needed, hinted;
    uint8_t consistency;   /* requested */
};

/* Builds the whole response to a KV request in a malloc'd buffer (caller frees); NULL when
 * out of memory. 200 with {"key","version","timestamp"} for PUT, {"key","value","version",
 * "timestamp"} for GET, 204 for DELETE; errors as {"error","message"} with the status of
 * rkv_err_http() (412 carries "current_version"; 503 carries "acked" and "needed"). Adds the
 * X-Ringkv-Consistency header and "Connection: close" when !keep_alive. */
uint8_t *http_build_kv_response(const struct http_request *req, const struct http_result *res,
                                size_t *bytes_out);
/* Builds a response with the given status, content type and body (body copied). */
uint8_t *http_build_response(int status, const char *content_type, const uint8_t *body,
                             size_t body_bytes, bool keep_alive, size_t *bytes_out);
/* Builds {"error": code, "message": message} with err->status. */
uint8_t *http_build_error(const struct http_error *err, bool keep_alive, size_t *bytes_out);

/* GET /debug/key/{key}: one key as each of its replicas holds it, and the hints held for it
 * (docs/http.md). Statuses: "present", "absent", "tombstone", "expired", "unreachable". */
struct http_dbg_replica {
    const char *node;
    const char *status;
    bool has_record;          /* present, tombstone or expired: the fields below are set */
    const uint8_t *value;
    uint32_t value_bytes;
    uint64_t version;
    uint64_t timestamp;       /* HLC; rendered as its wall-clock ms, and raw as "hlc" */
    uint64_t expires_at;      /* ms; 0: none (a tombstone: when the key died) */
};

struct http_dbg_hint {
    const char *holder;
    const char *target;
    uint64_t version;
    uint64_t timestamp;
};

struct http_dbg_key {
    const uint8_t *key;
    size_t key_bytes;
    uint64_t token;
    uint32_t replica_count;
    const struct http_dbg_replica *replicas;
    uint32_t hint_count;
    const struct http_dbg_hint *hints;
};

/* The JSON body, malloc'd (free() it); NULL when out of memory. */
char *http_debug_key_json(const struct http_dbg_key *d, size_t *bytes_out);

/* The "error" code of an error answer for e (not RKV_OK): "key_not_found", "unavailable", ... */
const char *http_err_code(enum rkv_err e);

#endif
