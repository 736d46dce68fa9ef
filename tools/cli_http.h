/* A minimal blocking HTTP/1.1 client for ringkv-cli's `status` and `explain`: one GET on a
 * fresh connection, answered by a node's HTTP/JSON API. Every wait is bounded by one
 * deadline for the whole exchange, and the answer by CLI_HTTP_RESPONSE_BYTES_MAX, so a
 * stalled or hostile peer costs at most the timeout and that much memory. It understands
 * only what ringkv sends: a status line, headers and a Content-Length body (or a body ended by
 * the close); Transfer-Encoding is refused. The response parser is a pure function over a
 * buffer so that tests can feed it any bytes. Single-threaded; no global state. */
#ifndef RKV_TOOLS_CLI_HTTP_H
#define RKV_TOOLS_CLI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* The status line and headers of an answer. ringkv's own are under 300 bytes; 8 KiB is what
 * the server accepts from clients (docs/http.md), so it is what we accept back. */
#define CLI_HTTP_HEAD_BYTES_MAX 8192u
/* The body of an answer. The largest ringkv sends is GET /debug/key of a key whose every
 * replica (at most RKV_RF_MAX) holds a 1 MiB value, base64 in JSON: 7 x 1.4 MB, plus the
 * metadata and hints around them. 16 MiB covers that with room to spare and stays a trivial
 * amount of memory for a command-line tool. */
#define CLI_HTTP_RESPONSE_BYTES_MAX (16u << 20)
/* The request target: "/debug/key/" and a percent-encoded key of RKV_KEY_BYTES_MAX bytes. */
#define CLI_HTTP_TARGET_BYTES_MAX (32u + 3u * RKV_KEY_BYTES_MAX)
/* The host part of HOST:PORT, as in the client library. */
#define CLI_HTTP_HOST_BYTES_MAX 255u

_Static_assert(CLI_HTTP_RESPONSE_BYTES_MAX >= RKV_RF_MAX * ((RKV_VALUE_BYTES_MAX + 2u) / 3u * 4u) + (1u << 20),
               "a /debug/key answer with every replica holding the largest value fits");
_Static_assert((uint64_t)CLI_HTTP_HEAD_BYTES_MAX + CLI_HTTP_RESPONSE_BYTES_MAX < SIZE_MAX / 2u,
               "the receive buffer size cannot overflow");

#define CLI_HTTP_ERR_TABLE(X)                                                                        \
    X(OK, "ok")                                                                                      \
    X(BAD_ADDR, "not HOST:PORT or [IPV6]:PORT")                                                      \
    X(CONNECT, "cannot connect")                                                                     \
    X(TIMEOUT, "no complete answer in time")                                                         \
    X(NET, "socket error")                                                                           \
    X(CLOSED, "the node closed the connection before a complete answer")                             \
    X(HEAD_TOO_LONG, "the answer's status line and headers are longer than 8 KiB")                   \
    X(TOO_LARGE, "the answer is larger than 16 MiB")                                                 \
    X(MALFORMED, "the answer is not HTTP/1.x as ringkv sends it")                                    \
    X(NOMEM, "out of memory")
enum cli_http_err {
#define CLI_HTTP_ERR_ENUM(name, msg) CLI_HTTP_##name,
    CLI_HTTP_ERR_TABLE(CLI_HTTP_ERR_ENUM)
#undef CLI_HTTP_ERR_ENUM
        CLI_HTTP_ERR_COUNT
};

/* A static sentence for err; never NULL. */
const char *cli_http_strerror(enum cli_http_err err);

enum cli_http_parse_rc { CLI_HTTP_PARSE_DONE, CLI_HTTP_PARSE_NEED_MORE, CLI_HTTP_PARSE_INVALID };

/* One answer. body points into the buffer it was parsed from (cli_http_parse()) or into
 * memory owned by the struct (cli_http_get(), freed by cli_http_resp_free()). */
struct cli_http_resp {
    int status;        /* 100..999, from the status line */
    size_t head_bytes; /* status line and headers, the empty line included */
    const uint8_t *body;
    size_t body_bytes;
    uint8_t *owned; /* cli_http_get() only: the receive buffer that body points into */
};

/* Parses the answer at buf[0..len); eof says the peer closed after those bytes.
 * DONE: *resp_out describes it (bytes past a Content-Length body are ignored).
 * NEED_MORE: the answer is incomplete and the peer has not closed.
 * INVALID: *why_out says why: CLI_HTTP_HEAD_TOO_LONG, CLI_HTTP_TOO_LARGE (a Content-Length or a
 *   close-delimited body over CLI_HTTP_RESPONSE_BYTES_MAX), CLI_HTTP_CLOSED (eof before a
 *   complete answer) or CLI_HTTP_MALFORMED (a bad status line or header, Transfer-Encoding,
 *   two Content-Lengths).
 * Out-parameters are set on entry. Reads only buf[0..len). */
enum cli_http_parse_rc cli_http_parse(const uint8_t *buf, size_t len, bool eof, struct cli_http_resp *resp_out,
                                      enum cli_http_err *why_out);

/* Percent-encodes key[0..key_bytes) for a path segment: every byte but A-Z a-z 0-9 - . _ ~
 * becomes %XX. Writes a NUL-terminated string into out (cap bytes); false when it does not
 * fit. */
bool cli_http_encode_key(const uint8_t *key, size_t key_bytes, char *out, size_t cap);

/* GET target from addr ("HOST:PORT" or "[IPV6]:PORT") over a fresh connection, within
 * timeout_ms for everything: name lookup excepted, connect, request and answer. On
 * CLI_HTTP_OK, *resp_out holds the answer whatever its status; free it with
 * cli_http_resp_free(). On any error *resp_out needs no freeing. */
enum cli_http_err cli_http_get(const char *addr, const char *target, int timeout_ms, struct cli_http_resp *resp_out);

void cli_http_resp_free(struct cli_http_resp *resp);

#endif
