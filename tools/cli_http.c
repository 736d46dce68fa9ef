/* See cli_http.h. Plain blocking-style code over a non-blocking socket: every wait is a
 * poll() bounded by the exchange's deadline. The receive buffer grows by doubling up to
 * CLI_HTTP_HEAD_BYTES_MAX + CLI_HTTP_RESPONSE_BYTES_MAX and no further. */
#include "tools/cli_http.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"

#define CLI_HTTP_RECV_INITIAL_BYTES 16384u
#define CLI_HTTP_RECV_BYTES_MAX ((size_t)CLI_HTTP_HEAD_BYTES_MAX + CLI_HTTP_RESPONSE_BYTES_MAX)
/* The request: request line, Host, two fixed headers. */
#define CLI_HTTP_REQUEST_BYTES_MAX (CLI_HTTP_TARGET_BYTES_MAX + CLI_HTTP_HOST_BYTES_MAX + 128u)

static const char *const cli_http_messages[CLI_HTTP_ERR_COUNT] = {
#define CLI_HTTP_ERR_MSG(name, msg) [CLI_HTTP_##name] = msg,
    CLI_HTTP_ERR_TABLE(CLI_HTTP_ERR_MSG)
#undef CLI_HTTP_ERR_MSG
};

const char *cli_http_strerror(enum cli_http_err err)
{
    if ((unsigned)err >= CLI_HTTP_ERR_COUNT)
        return "unknown error";
    return cli_http_messages[err];
}

/* ---- parsing ---- */

static bool cli_http_is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Case-insensitive comparison of a header name at p[0..len) with name (lower case). */
static bool cli_http_name_is(const uint8_t *p, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)name[i])
            return false;
    }
    return true;
}

/* The end of the header block (the index just past "\r\n\r\n"), or 0 when it is not within
 * buf[0..len). */
static size_t cli_http_head_end(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return i + 4;
    }
    return 0;
}

/* Parses the header lines of head[0..len) (after the status line, before the empty line).
 * Sets *has_length_out and *length_out from Content-Length. */
static enum cli_http_err cli_http_parse_headers(const uint8_t *head, size_t len, bool *has_length_out,
                                                uint64_t *length_out)
{
    *has_length_out = false;
    *length_out = 0;
    size_t pos = 0;
    while (pos < len) {
        const uint8_t *line = head + pos;
        const uint8_t *cr = memchr(line, '\r', len - pos);
        if (cr == NULL || (size_t)(cr - head) + 1 >= len || cr[1] != '\n')
            return CLI_HTTP_MALFORMED;
        size_t line_bytes = (size_t)(cr - line);
        pos += line_bytes + 2;
        const uint8_t *colon = memchr(line, ':', line_bytes);
        if (colon == NULL || colon == line)
            return CLI_HTTP_MALFORMED;
        size_t name_bytes = (size_t)(colon - line);
        for (size_t i = 0; i < name_bytes; i++) {
            if (line[i] <= ' ' || line[i] >= 0x7f)
                return CLI_HTTP_MALFORMED; /* no whitespace or controls in a field name */
        }
        const uint8_t *v = colon + 1;
        const uint8_t *v_end = line + line_bytes;
        while (v < v_end && (*v == ' ' || *v == '\t'))
            v++;
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
            v_end--;
        if (cli_http_name_is(line, name_bytes, "transfer-encoding"))
            return CLI_HTTP_MALFORMED; /* ringkv never sends it; we do not decode chunks */
        if (!cli_http_name_is(line, name_bytes, "content-length"))
            continue;
        if (*has_length_out || v == v_end)
            return CLI_HTTP_MALFORMED;
        uint64_t n = 0;
        for (const uint8_t *d = v; d < v_end; d++) {
            if (!cli_http_is_digit(*d))
                return CLI_HTTP_MALFORMED;
            n = n * 10u + (uint64_t)(*d - '0');
            if (n > CLI_HTTP_RESPONSE_BYTES_MAX)
                return CLI_HTTP_TOO_LARGE; /* checked per digit, so n cannot overflow */
        }
        *has_length_out = true;
        *length_out = n;
    }
    return CLI_HTTP_OK;
}

enum cli_http_parse_rc cli_http_parse(const uint8_t *buf, size_t len, bool eof, struct cli_http_resp *resp_out,
                                      enum cli_http_err *why_out)
{
    memset(resp_out, 0, sizeof(*resp_out));
    *why_out = CLI_HTTP_OK;
    RKV_ASSERT(buf != NULL || len == 0);

    size_t head_end = cli_http_head_end(buf, len < CLI_HTTP_HEAD_BYTES_MAX ? len : CLI_HTTP_HEAD_BYTES_MAX);
    if (head_end == 0) {
        if (len >= CLI_HTTP_HEAD_BYTES_MAX) {
            *why_out = CLI_HTTP_HEAD_TOO_LONG;
            return CLI_HTTP_PARSE_INVALID;
        }
        if (eof) {
            *why_out = CLI_HTTP_CLOSED;
            return CLI_HTTP_PARSE_INVALID;
        }
        return CLI_HTTP_PARSE_NEED_MORE;
    }

    /* "HTTP/1.x NNN" then a space and a reason phrase, or the end of the line. */
    static const char version[] = "HTTP/1.";
    const size_t vlen = sizeof(version) - 1u;
    if (head_end < vlen + 5u + 4u || memcmp(buf, version, vlen) != 0 || !cli_http_is_digit(buf[vlen]) ||
        buf[vlen + 1] != ' ' || !cli_http_is_digit(buf[vlen + 2]) || !cli_http_is_digit(buf[vlen + 3]) ||
        !cli_http_is_digit(buf[vlen + 4]) || (buf[vlen + 5] != ' ' && buf[vlen + 5] != '\r')) {
        *why_out = CLI_HTTP_MALFORMED;
        return CLI_HTTP_PARSE_INVALID;
    }
    int status = (buf[vlen + 2] - '0') * 100 + (buf[vlen + 3] - '0') * 10 + (buf[vlen + 4] - '0');
    if (status < 100) {
        *why_out = CLI_HTTP_MALFORMED;
        return CLI_HTTP_PARSE_INVALID;
    }
    const uint8_t *line_end = memchr(buf, '\r', head_end);
    RKV_ASSERT(line_end != NULL); /* head_end follows a "\r\n\r\n" */
    for (const uint8_t *p = buf; p < line_end; p++) {
        if (*p < ' ' && *p != '\t') {
            *why_out = CLI_HTTP_MALFORMED;
            return CLI_HTTP_PARSE_INVALID;
        }
    }
    if (line_end[1] != '\n') {
        *why_out = CLI_HTTP_MALFORMED;
        return CLI_HTTP_PARSE_INVALID;
    }
    size_t headers_start = (size_t)(line_end - buf) + 2u;
    bool has_length = false;
    uint64_t length = 0;
    /* The header lines run up to the final empty line's "\r\n" (absent: none at all). */
    size_t headers_bytes = head_end - 2u > headers_start ? head_end - 2u - headers_start : 0u;
    enum cli_http_err err = cli_http_parse_headers(buf + headers_start, headers_bytes, &has_length, &length);
    if (err != CLI_HTTP_OK) {
        *why_out = err;
        return CLI_HTTP_PARSE_INVALID;
    }

    /* 1xx, 204 and 304 carry no body whatever the headers say. A 1xx is an interim answer
     * we never ask for (we send no Expect): refused rather than skipped. */
    if (status < 200) {
        *why_out = CLI_HTTP_MALFORMED;
        return CLI_HTTP_PARSE_INVALID;
    }
    size_t body_bytes;
    if (status == 204 || status == 304) {
        body_bytes = 0;
    } else if (has_length) {
        if (len - head_end < length) {
            if (eof) {
                *why_out = CLI_HTTP_CLOSED;
                return CLI_HTTP_PARSE_INVALID;
            }
            return CLI_HTTP_PARSE_NEED_MORE;
        }
        body_bytes = (size_t)length;
    } else {
        /* The body ends where the connection does. */
        if (len - head_end > CLI_HTTP_RESPONSE_BYTES_MAX) {
            *why_out = CLI_HTTP_TOO_LARGE;
            return CLI_HTTP_PARSE_INVALID;
        }
        if (!eof)
            return CLI_HTTP_PARSE_NEED_MORE;
        body_bytes = len - head_end;
    }
    resp_out->status = status;
    resp_out->head_bytes = head_end;
    resp_out->body = buf + head_end;
    resp_out->body_bytes = body_bytes;
    return CLI_HTTP_PARSE_DONE;
}

bool cli_http_encode_key(const uint8_t *key, size_t key_bytes, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    RKV_ASSERT(out != NULL);
    RKV_ASSERT(key != NULL || key_bytes == 0);
    size_t n = 0;
    for (size_t i = 0; i < key_bytes; i++) {
        uint8_t c = key[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~';
        size_t need = plain ? 1u : 3u;
        if (n + need >= cap)
            return false;
        if (plain) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15u];
        }
    }
    if (n >= cap)
        return false;
    out[n] = '\0';
    return true;
}

/* ---- the exchange ---- */

static int64_t cli_http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes. */
static enum cli_http_err cli_http_poll(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left_ms = deadline_ms - cli_http_now_ms();
        if (left_ms <= 0)
            return CLI_HTTP_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int rc = poll(&p, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return CLI_HTTP_NET;
        }
        if (rc > 0)
            return CLI_HTTP_OK;
    }
}

/* Splits "HOST:PORT" or "[V6]:PORT" the way the client library does (net/client.c). */
static bool cli_http_parse_addr(const char *addr, char host[CLI_HTTP_HOST_BYTES_MAX + 1], char port[6])
{
    const char *host_start = addr;
    const char *host_end;
    const char *colon;
    if (addr[0] == '[') {
        host_start = addr + 1;
        host_end = strchr(host_start, ']');
        if (host_end == NULL || host_end[1] != ':')
            return false;
        colon = host_end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
            return false; /* a bare IPv6 address must be bracketed */
        host_end = colon;
    }
    size_t host_bytes = (size_t)(host_end - host_start);
    if (host_bytes == 0 || host_bytes > CLI_HTTP_HOST_BYTES_MAX)
        return false;
    for (size_t i = 0; i < host_bytes; i++) {
        if ((unsigned char)host_start[i] <= ' ' || (unsigned char)host_start[i] >= 0x7f)
            return false; /* it goes into the Host header as it is */
    }
    const char *p = colon + 1;
    size_t port_bytes = strlen(p);
    if (port_bytes == 0 || port_bytes > 5)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < port_bytes; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10u + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    memcpy(host, host_start, host_bytes);
    host[host_bytes] = '\0';
    memcpy(port, p, port_bytes + 1);
    return true;
}

/* One non-blocking connect, waited for until the deadline. Returns the socket or -1. */
static int cli_http_connect_one(const struct addrinfo *ai, int64_t deadline_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS || cli_http_poll(fd, POLLOUT, deadline_ms) != CLI_HTTP_OK) {
            close(fd);
            return -1;
        }
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static enum cli_http_err cli_http_send_all(int fd, const char *p, size_t len, int64_t deadline_ms)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            enum cli_http_err err = cli_http_poll(fd, POLLOUT, deadline_ms);
            if (err != CLI_HTTP_OK)
                return err;
            continue;
        }
        return CLI_HTTP_NET;
    }
    return CLI_HTTP_OK;
}

/* Reads until cli_http_parse() says DONE or INVALID, or the deadline passes. */
static enum cli_http_err cli_http_recv_answer(int fd, int64_t deadline_ms, struct cli_http_resp *resp_out)
{
    size_t cap = CLI_HTTP_RECV_INITIAL_BYTES, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return CLI_HTTP_NOMEM;
    enum cli_http_err err = CLI_HTTP_OK;
    bool eof = false;
    /* Each turn either reads at least one byte, sees the close, or fails; the buffer is
     * bounded, so the loop ends. */
    for (;;) {
        enum cli_http_parse_rc rc = cli_http_parse(buf, len, eof, resp_out, &err);
        if (rc == CLI_HTTP_PARSE_DONE) {
            resp_out->owned = buf;
            return CLI_HTTP_OK;
        }
        if (rc == CLI_HTTP_PARSE_INVALID)
            goto out;
        RKV_ASSERT(!eof); /* at eof the parser answers DONE or INVALID */
        if (len == cap) {
            if (cap >= CLI_HTTP_RECV_BYTES_MAX) {
                err = CLI_HTTP_TOO_LARGE; /* more than a head and a body of the limits */
                goto out;
            }
            size_t next = cap * 2u < CLI_HTTP_RECV_BYTES_MAX ? cap * 2u : CLI_HTTP_RECV_BYTES_MAX;
            uint8_t *grown = realloc(buf, next);
            if (grown == NULL) {
                err = CLI_HTTP_NOMEM;
                goto out;
            }
            buf = grown;
            cap = next;
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n > 0) {
            len += (size_t)n;
        } else if (n == 0) {
            eof = true;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            err = cli_http_poll(fd, POLLIN, deadline_ms);
            if (err != CLI_HTTP_OK)
                goto out;
        } else if (errno == ECONNRESET) {
            eof = true; /* what was read still counts; the parser judges it */
        } else {
            err = CLI_HTTP_NET;
            goto out;
        }
    }
out:
    free(buf);
    memset(resp_out, 0, sizeof(*resp_out));
    return err;
}

enum cli_http_err cli_http_get(const char *addr, const char *target, int timeout_ms, struct cli_http_resp *resp_out)
{
    memset(resp_out, 0, sizeof(*resp_out));
    RKV_ASSERT(addr != NULL);
    RKV_ASSERT(target != NULL && target[0] == '/');
    RKV_ASSERT(timeout_ms > 0);
    char host[CLI_HTTP_HOST_BYTES_MAX + 1];
    char port[6];
    if (!cli_http_parse_addr(addr, host, port))
        return CLI_HTTP_BAD_ADDR;

    char req[CLI_HTTP_REQUEST_BYTES_MAX];
    int req_bytes = snprintf(req, sizeof(req),
                             "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
                             target, addr);
    RKV_ASSERT(req_bytes > 0 && (size_t)req_bytes < sizeof(req)); /* target and addr are bounded */

    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return CLI_HTTP_CONNECT;
    int64_t deadline_ms = cli_http_now_ms() + timeout_ms;
    int fd = -1;
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = cli_http_connect_one(ai, deadline_ms);
    freeaddrinfo(res);
    if (fd < 0)
        return cli_http_now_ms() >= deadline_ms ? CLI_HTTP_TIMEOUT : CLI_HTTP_CONNECT;

    enum cli_http_err err = cli_http_send_all(fd, req, (size_t)req_bytes, deadline_ms);
    if (err == CLI_HTTP_OK)
        err = cli_http_recv_answer(fd, deadline_ms, resp_out);
    close(fd);
    return err;
}

void cli_http_resp_free(struct cli_http_resp *resp)
{
    if (resp == NULL)
        return;
    free(resp->owned);
    memset(resp, 0, sizeof(*resp));
}
