/* Test support: a small raw-socket HTTP/1.1 client for driving ringkv's HTTP API in tests.
 * Plain blocking sockets; every wait is bounded by poll() with a timeout. It sends whatever
 * bytes a test gives it (so tests can send malformed requests) and reads responses framed
 * the way ringkv frames them: a status line, headers, and a Content-Length body (none for
 * 204 or when the header is absent). Responses are read one at a time from a buffer that
 * keeps any bytes past the current response, so pipelined answers can be read in order. */
#ifndef RKV_TEST_SUPPORT_HTTP_CLIENT_H
#define RKV_TEST_SUPPORT_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One connection. Owner: the test that opened it. */
struct http_client {
    int fd;
    uint8_t *buf;   /* received bytes not yet returned as a response */
    size_t len, cap;
    bool eof;       /* the server closed its side (read returned 0 or a reset) */
};

/* One response. head and body are malloc'd and NUL-terminated (the NUL is not counted);
 * free with http_client_resp_free(). */
struct http_client_resp {
    int status;                 /* from the status line */
    int minor;                  /* HTTP/1.x */
    char *head;                 /* status line through the empty line */
    size_t head_bytes;
    bool has_length;            /* a Content-Length header was present */
    char *body;
    size_t body_bytes;
};

/* Connects to 127.0.0.1:port within timeout_ms. False on failure (c->fd is -1). */
bool http_client_open(struct http_client *c, uint16_t port, int timeout_ms);
void http_client_close(struct http_client *c);
/* Writes all of bytes within timeout_ms. False on a socket error or timeout. */
bool http_client_send(struct http_client *c, const void *bytes, size_t len, int timeout_ms);
/* Writes a request: "METHOD target HTTP/1.1", Host, then extra_headers (each line ending in
 * \r\n; may be NULL), then Content-Length when body is not NULL, then the body. */
bool http_client_send_request(struct http_client *c, const char *method, const char *target,
                              const char *extra_headers, const void *body, size_t body_bytes,
                              int timeout_ms);
/* Reads the next response within timeout_ms (for the whole response). True with *resp_out
 * filled; false on a timeout, a close before a whole response, or bytes that do not parse
 * (*resp_out is then zeroed and needs no freeing). */
bool http_client_recv(struct http_client *c, struct http_client_resp *resp_out, int timeout_ms);
void http_client_resp_free(struct http_client_resp *r);
/* The value of header `name` (case-insensitive), NUL-terminated, in value_out (cap bytes);
 * false when absent or too long. */
bool http_client_header(const struct http_client_resp *r, const char *name, char *value_out,
                        size_t cap);
/* True when the server closes the connection within timeout_ms (a read returns 0 or fails
 * with a reset); bytes that arrive meanwhile are kept for http_client_recv(). */
bool http_client_wait_closed(struct http_client *c, int timeout_ms);

/* One request on a fresh connection: sends it, reads one response, closes. */
bool http_client_call(uint16_t port, const char *method, const char *target, const char *extra_headers,
                      const void *body, size_t body_bytes, struct http_client_resp *resp_out);

#endif
