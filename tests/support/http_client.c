/* See http_client.h. Test code: blocking sockets, poll() for every wait. */
#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A response head longer than this is not one of ours. */
#define HTTP_CLIENT_HEAD_BYTES_MAX 16384u
/* Nor is a body longer than this (a 1 MiB value as base64 plus its JSON, or /metrics). */
#define HTTP_CLIENT_BODY_BYTES_MAX (4u << 20)

static uint64_t http_client_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static int http_client_left_ms(uint64_t deadline_ms)
{
    uint64_t now = http_client_mono_ms();
    return now >= deadline_ms ? 0 : (int)(deadline_ms - now);
}

bool http_client_open(struct http_client *c, uint16_t port, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return false;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int rc = connect(c->fd, (struct sockaddr *)&a, sizeof a);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = { .fd = c->fd, .events = POLLOUT };
        int err = 0;
        socklen_t len = sizeof err;
        if (poll(&p, 1, timeout_ms) == 1 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
            rc = 0;
    }
    if (rc != 0) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
}

void http_client_close(struct http_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

bool http_client_send(struct http_client *c, const void *bytes, size_t len, int timeout_ms)
{
    uint64_t deadline = http_client_mono_ms() + (uint64_t)timeout_ms;
    const uint8_t *p = bytes;
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(c->fd, p + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return false;
        int left = http_client_left_ms(deadline);
        struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
        if (left == 0 || poll(&pf, 1, left) <= 0)
            return false;
    }
    return true;
}

bool http_client_send_request(struct http_client *c, const char *method, const char *target,
                              const char *extra_headers, const void *body, size_t body_bytes,
                              int timeout_ms)
{
    size_t target_bytes = strlen(target);
    size_t cap = strlen(method) + target_bytes + (extra_headers ? strlen(extra_headers) : 0) + 128u;
    char *head = malloc(cap);
    if (head == NULL)
        return false;
    int n;
    if (body != NULL)
        n = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: test\r\n%sContent-Length: %zu\r\n\r\n", method, target,
                     extra_headers ? extra_headers : "", body_bytes);
    else
        n = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: test\r\n%s\r\n", method, target,
                     extra_headers ? extra_headers : "");
    bool ok = n > 0 && (size_t)n < cap && http_client_send(c, head, (size_t)n, timeout_ms) &&
              (body == NULL || http_client_send(c, body, body_bytes, timeout_ms));
    free(head);
    return ok;
}

/* Reads what is available into c->buf, waiting at most left_ms. False on timeout, error or
 * EOF (c->eof set for the last two). */
static bool http_client_fill(struct http_client *c, int left_ms)
{
    if (c->eof)
        return false;
    if (c->cap - c->len < 65536u) {
        size_t cap = c->cap * 2u + 65536u;
        uint8_t *p = realloc(c->buf, cap + 1u);
        if (p == NULL)
            return false;
        c->buf = p;
        c->cap = cap;
    }
    struct pollfd pf = { .fd = c->fd, .events = POLLIN };
    if (poll(&pf, 1, left_ms) <= 0)
        return false;
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n > 0) {
        c->len += (size_t)n;
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    c->eof = true;
    return false;
}

static const uint8_t *http_client_find(const uint8_t *hay, size_t hay_bytes, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_bytes; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

bool http_client_header(const struct http_client_resp *r, const char *name, char *value_out, size_t cap)
{
    size_t name_bytes = strlen(name);
    const char *line = strstr(r->head, "\r\n");
    while (line != NULL && line[2] != '\r' && line[2] != '\0') {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (end == NULL)
            return false;
        if ((size_t)(end - line) > name_bytes && line[name_bytes] == ':' && strncasecmp(line, name, name_bytes) == 0) {
            const char *v = line + name_bytes + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            size_t v_bytes = (size_t)(end - v);
            if (v_bytes >= cap)
                return false;
            memcpy(value_out, v, v_bytes);
            value_out[v_bytes] = '\0';
            return true;
        }
        line = end;
    }
    return false;
}

void http_client_resp_free(struct http_client_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

bool http_client_recv(struct http_client *c, struct http_client_resp *resp_out, int timeout_ms)
{
    memset(resp_out, 0, sizeof *resp_out);
    uint64_t deadline = http_client_mono_ms() + (uint64_t)timeout_ms;
    const uint8_t *end;
    while ((end = c->len ? http_client_find(c->buf, c->len, "\r\n\r\n") : NULL) == NULL) {
        if (c->len > HTTP_CLIENT_HEAD_BYTES_MAX)
            return false;
        int left = http_client_left_ms(deadline);
        if (left == 0 || !http_client_fill(c, left))
            if (c->eof || http_client_left_ms(deadline) == 0)
                return false;
    }
    struct http_client_resp r = { 0 };
    r.head_bytes = (size_t)(end - c->buf) + 4u;
    r.head = malloc(r.head_bytes + 1u);
    if (r.head == NULL)
        return false;
    memcpy(r.head, c->buf, r.head_bytes);
    r.head[r.head_bytes] = '\0';
    int major = 0, minor = 0, status = 0;
    if (sscanf(r.head, "HTTP/%d.%d %d ", &major, &minor, &status) != 3 || major != 1) {
        http_client_resp_free(&r);
        return false;
    }
    r.status = status;
    r.minor = minor;
    char cl[32];
    size_t body_bytes = 0;
    if (status != 204 && status != 304 && http_client_header(&r, "Content-Length", cl, sizeof cl)) {
        char *e = NULL;
        unsigned long long v = strtoull(cl, &e, 10);
        if (e == cl || *e != '\0' || v > HTTP_CLIENT_BODY_BYTES_MAX) {
            http_client_resp_free(&r);
            return false;
        }
        r.has_length = true;
        body_bytes = (size_t)v;
    }
    while (c->len < r.head_bytes + body_bytes) {
        int left = http_client_left_ms(deadline);
        if (left == 0 || !http_client_fill(c, left)) {
            if (c->eof || http_client_left_ms(deadline) == 0) {
                http_client_resp_free(&r);
                return false;
            }
        }
    }
    r.body = malloc(body_bytes + 1u);
    if (r.body == NULL) {
        http_client_resp_free(&r);
        return false;
    }
    memcpy(r.body, c->buf + r.head_bytes, body_bytes);
    r.body[body_bytes] = '\0';
    r.body_bytes = body_bytes;
    size_t used = r.head_bytes + body_bytes;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    *resp_out = r;
    return true;
}

bool http_client_wait_closed(struct http_client *c, int timeout_ms)
{
    uint64_t deadline = http_client_mono_ms() + (uint64_t)timeout_ms;
    while (!c->eof) {
        int left = http_client_left_ms(deadline);
        if (left == 0)
            return false;
        (void)http_client_fill(c, left);
    }
    return true;
}

bool http_client_call(uint16_t port, const char *method, const char *target, const char *extra_headers,
                      const void *body, size_t body_bytes, struct http_client_resp *resp_out)
{
    memset(resp_out, 0, sizeof *resp_out);
    struct http_client c;
    if (!http_client_open(&c, port, 5000))
        return false;
    bool ok = http_client_send_request(&c, method, target, extra_headers, body, body_bytes, 10000) &&
              http_client_recv(&c, resp_out, 10000);
    http_client_close(&c);
    return ok;
}
