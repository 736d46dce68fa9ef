/* Stress of the connection machinery of a real two-shard ringkv on loopback: connections
 * opening and closing quickly (some with requests still in flight) while others pipeline;
 * a client that pipelines and does not read (the server must pause that socket and stay
 * bounded while other connections go on, and the client then gets every answer); a fast
 * pipeline of small frames; values on both sides of the inline threshold and the output
 * chunk size in one pipeline; and a half-closed connection that is still owed every
 * answer. Raw sockets with the shared codec are used where the client library would read
 * on its own (it reads while it flushes). Every loop is bounded in count and time. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/limits.h"
#include "net/proto_bin.h"
#include "net/ringkv.h"
#include "tests/support/server.h"

static struct test_server srv;

static void start_server(void)
{
    cr_assert(test_server_start(&srv, "--shards 2"), "server did not start");
}

static void stop_server(void)
{
    test_server_cleanup(&srv);
}

TestSuite(conn_stress, .init = start_server, .fini = stop_server, .timeout = 60);

/* ---- small helpers ---- */

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = { ms / 1000u, (long)(ms % 1000u) * 1000000L };
    nanosleep(&t, NULL);
}

static uint8_t pattern_byte(uint32_t seed, size_t j)
{
    return (uint8_t)((seed * 2654435761u) >> 24) ^ (uint8_t)(j * 131u + (j >> 9));
}

static uint8_t *pattern_value(uint32_t seed, size_t n)
{
    uint8_t *v = malloc(n ? n : 1);
    cr_assert_not_null(v);
    for (size_t j = 0; j < n; j++)
        v[j] = pattern_byte(seed, j);
    return v;
}

/* The server's resident memory in KiB, from /proc (0 when unreadable). */
static long server_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)srv.pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    long kib = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

/* Open sockets of the server process (-1 when unreadable). Files are left out: WiredTiger
 * opens log and LSM chunk files as data is written. */
static int server_socket_count(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)srv.pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char link[384], target[128];
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0) {
            target[len] = '\0';
            n += strncmp(target, "socket:", 7) == 0;
        }
    }
    closedir(d);
    return n;
}

/* Puts the server's warnings and errors into the test's output (at most 10 lines). */
static void log_server_warnings(const char *log)
{
    int shown = 0;
    for (const char *p = log; *p != '\0' && shown < 10;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (memmem(p, len, " WARN ", 6) != NULL || memmem(p, len, " ERROR ", 7) != NULL) {
            cr_log_info("server: %.*s", (int)len, p);
            shown++;
        }
        p += len + (eol != NULL);
    }
}

static void assert_server_healthy_and_stops_cleanly(void)
{
    ringkv_client *c = ringkv_connect(srv.addr, 5000, NULL);
    cr_assert_not_null(c, "the server still accepts connections");
    cr_assert_eq(ringkv_ping(c, NULL), RINGKV_OK, "and answers them");
    ringkv_close(c);
    cr_assert_eq(test_server_stop(&srv), 0, "the server stops cleanly (exit 0 within 20 s)");
    char *log = test_server_log(&srv);
    cr_assert_not_null(log);
    log_server_warnings(log);
    cr_expect_null(strstr(log, "FATAL"), "no assertion failed in the server:\n%s", log);
    cr_expect_null(strstr(log, "Sanitizer"), "no sanitizer report in the server:\n%s", log);
    free(log);
}

/* ---- a raw connection: non-blocking socket, codec-framed, reads only when asked ---- */

struct raw {
    int fd;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    uint8_t *in;
    size_t in_start, in_end, in_cap;
    uint64_t bytes_written;
    bool eof;      /* the server closed its side */
    int err;       /* errno of a failed send or recv */
    bool bad;      /* the server sent bytes that do not frame */
};

/* in_cap: the receive buffer; it must hold the largest answer expected. */
static void raw_open_sized(struct raw *r, int sndbuf, int rcvbuf, size_t in_cap)
{
    memset(r, 0, sizeof *r);
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(r->fd, 0);
    if (sndbuf > 0)
        setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (rcvbuf > 0)
        setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(srv.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(connect(r->fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    cr_assert_eq(fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK), 0);
    r->in_cap = in_cap;
    r->in = malloc(r->in_cap);
    cr_assert_not_null(r->in);
}

static void raw_open(struct raw *r, int sndbuf, int rcvbuf)
{
    raw_open_sized(r, sndbuf, rcvbuf, 2u * (RKV_RESP_HDR_BYTES + RKV_VALUE_BYTES_MAX));
}

static void raw_close(struct raw *r)
{
    if (r->fd >= 0)
        close(r->fd);
    free(r->out);
    free(r->in);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static void raw_queue(struct raw *r, const struct bin_req *q)
{
    size_t need = bin_req_frame_bytes(q);
    if (r->out_off == r->out_len)
        r->out_off = r->out_len = 0;
    if (r->out_cap - r->out_len < need) {
        size_t cap = r->out_cap ? r->out_cap : 65536;
        while (cap - r->out_len < need)
            cap *= 2;
        r->out = realloc(r->out, cap);
        cr_assert_not_null(r->out);
        r->out_cap = cap;
    }
    size_t n = bin_req_encode(r->out + r->out_len, r->out_cap - r->out_len, q);
    cr_assert_eq(n, need);
    r->out_len += n;
}

static size_t raw_unsent(const struct raw *r) { return r->out_len - r->out_off; }

/* One round: waits up to timeout_ms for the socket, writes what it can and, when want_read,
 * reads what is there (at most one buffer's worth, so this is bounded). */
static void raw_pump(struct raw *r, bool want_read, int timeout_ms)
{
    short ev = 0;
    if (raw_unsent(r) > 0 && r->err == 0)
        ev |= POLLOUT;
    if (want_read && !r->eof && r->err == 0)
        ev |= POLLIN;
    if (ev == 0)
        return;
    struct pollfd p = { .fd = r->fd, .events = ev };
    if (poll(&p, 1, timeout_ms) <= 0)
        return;
    if ((ev & POLLOUT) && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
        for (int i = 0; i < 64 && raw_unsent(r) > 0; i++) {
            ssize_t n = send(r->fd, r->out + r->out_off, raw_unsent(r), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                r->out_off += (size_t)n;
                r->bytes_written += (uint64_t)n;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            r->err = n < 0 ? errno : EPIPE;
            break;
        }
    }
    if ((ev & POLLIN) && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
        if (r->in_start > 0 && r->in_start == r->in_end)
            r->in_start = r->in_end = 0;
        if (r->in_cap - r->in_end < 65536 && r->in_start > 0) {
            memmove(r->in, r->in + r->in_start, r->in_end - r->in_start);
            r->in_end -= r->in_start;
            r->in_start = 0;
        }
        size_t room = r->in_cap - r->in_end;
        if (room == 0)
            return; /* a full frame must be waiting: the caller takes it first */
        ssize_t n = recv(r->fd, r->in + r->in_end, room, MSG_DONTWAIT);
        if (n > 0)
            r->in_end += (size_t)n;
        else if (n == 0)
            r->eof = true;
        else if (errno != EAGAIN && errno != EINTR)
            r->err = errno;
    }
}

/* The next complete response, or false. resp's value is valid until the next raw_pump(). */
static bool raw_take(struct raw *r, struct bin_resp *resp)
{
    size_t fb = 0;
    enum rkv_err why;
    enum parse_rc rc = bin_resp_decode(r->in + r->in_start, r->in_end - r->in_start, resp, &fb, &why);
    if (rc == PARSE_INVALID)
        r->bad = true;
    if (rc != PARSE_DONE)
        return false;
    r->in_start += fb;
    return true;
}

/* ---- expected answers, by request id ---- */

struct expect {
    uint8_t opcode;
    uint8_t status;        /* wire code */
    uint8_t seen;
    bool check_value;
    uint32_t value_bytes;
    uint32_t seed;
};

struct book {
    struct expect *e;
    uint32_t count;        /* ids 0..count-1 */
    uint32_t answered;
    uint32_t dups, unknown, wrong;
    char first_problem[160];
};

static void book_init(struct book *b, uint32_t count)
{
    memset(b, 0, sizeof *b);
    b->e = calloc(count, sizeof *b->e);
    cr_assert_not_null(b->e);
    b->count = count;
}

static void book_problem(struct book *b, const char *what, uint32_t id, uint32_t got, uint32_t want)
{
    if (b->first_problem[0] == '\0')
        snprintf(b->first_problem, sizeof b->first_problem, "id %u: %s (got %u, wanted %u)", id, what, got, want);
}

static void book_check(struct book *b, const struct bin_resp *resp)
{
    uint32_t id = resp->request_id;
    if (id >= b->count) {
        b->unknown++;
        book_problem(b, "answer to an unknown id", id, 0, 0);
        return;
    }
    struct expect *e = &b->e[id];
    if (e->seen++) {
        b->dups++;
        book_problem(b, "answered twice", id, 2, 1);
        return;
    }
    b->answered++;
    if (resp->opcode != e->opcode || resp->status != e->status) {
        b->wrong++;
        book_problem(b, "status", id, resp->status, e->status);
        return;
    }
    if (!e->check_value)
        return;
    if (resp->value_bytes != e->value_bytes) {
        b->wrong++;
        book_problem(b, "value bytes", id, resp->value_bytes, e->value_bytes);
        return;
    }
    for (uint32_t j = 0; j < e->value_bytes; j++) {
        if (resp->value[j] != pattern_byte(e->seed, j)) {
            b->wrong++;
            book_problem(b, "value differs at byte", id, j, e->value_bytes);
            return;
        }
    }
}

static void book_free(struct book *b) { free(b->e); }

/* Drains every complete response in r into b. */
static void take_all(struct raw *r, struct book *b)
{
    struct bin_resp resp;
    while (raw_take(r, &resp))
        book_check(b, &resp);
}

/* Pumps until every id is answered, the connection ends, or deadline_ms passes. */
static void pump_until_answered(struct raw *r, struct book *b, uint64_t deadline_ms)
{
    while (b->answered < b->count && !r->bad && mono_ms() < deadline_ms) {
        take_all(r, b);
        if (b->answered == b->count)
            break;
        if (r->eof || r->err)
            break;
        raw_pump(r, true, 50);
    }
    take_all(r, b);
}

static struct bin_req req_get(uint32_t id, const void *key, uint16_t key_bytes)
{
    return (struct bin_req){ .request_id = id, .opcode = BIN_OP_GET, .consistency = BIN_CONS_QUORUM,
                             .key = key, .key_bytes = key_bytes };
}

static struct bin_req req_put(uint32_t id, const void *key, uint16_t key_bytes, const uint8_t *v, uint32_t vb)
{
    return (struct bin_req){ .request_id = id, .opcode = BIN_OP_PUT, .consistency = BIN_CONS_QUORUM,
                             .key = key, .key_bytes = key_bytes, .value = v, .value_bytes = vb };
}

static struct bin_req req_ping(uint32_t id)
{
    return (struct bin_req){ .request_id = id, .opcode = BIN_OP_PING, .consistency = BIN_CONS_QUORUM };
}

static void put_value(ringkv_client *c, const char *key, uint32_t seed, size_t n)
{
    uint8_t *v = pattern_value(seed, n);
    struct ringkv_reply r;
    cr_assert_eq(ringkv_put(c, key, strlen(key), v, n, NULL, &r), RINGKV_OK, "put %s", key);
    free(v);
}

/* ---- 1: churn beside pipelines ---- */

struct pipeliner {
    int idx;
    uint64_t until_ms;
    int rounds;
    int failures;
    char what[128];
};

static void *pipeliner_main(void *arg)
{
    struct pipeliner *p = arg;
    enum ringkv_err err;
    ringkv_client *c = ringkv_connect(srv.addr, 5000, &err);
    if (c == NULL) {
        p->failures++;
        snprintf(p->what, sizeof p->what, "connect: %s", ringkv_strerror(err));
        return NULL;
    }
    enum { WINDOW = 200 };
    uint32_t ids[WINDOW];
    uint8_t kinds[WINDOW];
    int vlen[WINDOW];
    char key[48], val[64];
    for (int round = 0; round < 200 && mono_ms() < p->until_ms; round++) {
        for (int i = 0; i < WINDOW; i++) {
            int n = round * WINDOW + i;
            /* Round 0 writes every key of the 100 that later rounds read. */
            int kb = snprintf(key, sizeof key, "pl%d-%d", p->idx, n % 100);
            int vb = snprintf(val, sizeof val, "v%d-%d", p->idx, n % 100);
            kinds[i] = (uint8_t)(i % 5 == 4 ? BIN_OP_PING : i % 2 ? BIN_OP_PUT : BIN_OP_GET);
            if (round == 0 && kinds[i] == BIN_OP_GET)
                kinds[i] = BIN_OP_PUT; /* nothing written yet */
            vlen[i] = vb;
            if (kinds[i] == BIN_OP_PUT)
                err = ringkv_send_put(c, key, (size_t)kb, val, (size_t)vb, NULL, &ids[i]);
            else if (kinds[i] == BIN_OP_GET)
                err = ringkv_send_get(c, key, (size_t)kb, NULL, &ids[i]);
            else
                err = ringkv_send_ping(c, &ids[i]);
            if (err != RINGKV_OK) {
                p->failures++;
                snprintf(p->what, sizeof p->what, "send: %s", ringkv_strerror(err));
                goto out;
            }
        }
        for (int i = 0; i < WINDOW; i++) {
            struct ringkv_reply r;
            err = ringkv_recv(c, &r);
            if (err != RINGKV_OK) {
                p->failures++;
                snprintf(p->what, sizeof p->what, "round %d recv %d: %s", round, i, ringkv_strerror(err));
                goto out;
            }
            int slot = -1;
            for (int k = 0; k < WINDOW; k++)
                if (ids[k] == r.request_id)
                    slot = k;
            /* A GET may race a PUT of the same key in this window: OK or NOT_FOUND never
             * happens (round 0 wrote every key), so OK it must be. */
            if (slot < 0 || r.status != RINGKV_OK || r.opcode != kinds[slot]) {
                p->failures++;
                snprintf(p->what, sizeof p->what, "round %d: id %u status %s", round, r.request_id,
                         ringkv_strerror(r.status));
                continue;
            }
            if (kinds[slot] == BIN_OP_GET && (r.value_bytes < 4 || r.value == NULL || r.value[0] != 'v'))
                p->failures++;
            (void)vlen;
        }
        p->rounds++;
    }
out:
    ringkv_close(c);
    return NULL;
}

struct churner {
    int idx;
    uint64_t until_ms;
    int cycles;
    int failures;
    char what[128];
};

static void *churner_main(void *arg)
{
    struct churner *ch = arg;
    uint8_t frame[512];
    char key[48];
    for (int i = 0; i < 400 && mono_ms() < ch->until_ms; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(srv.port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            ch->failures++;
            snprintf(ch->what, sizeof ch->what, "connect: %s", strerror(errno));
            if (fd >= 0)
                close(fd);
            continue;
        }
        switch ((i + ch->idx) % 5) {
        case 0: { /* a PING, read its answer, close */
            struct bin_req q = req_ping(1);
            size_t n = bin_req_encode(frame, sizeof frame, &q);
            struct timeval tv = { 2, 0 };
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            if (send(fd, frame, n, MSG_NOSIGNAL) != (ssize_t)n) {
                ch->failures++;
                break;
            }
            uint8_t resp[RKV_RESP_HDR_BYTES];
            size_t got = 0;
            while (got < sizeof resp) {
                ssize_t k = recv(fd, resp + got, sizeof resp - got, 0);
                if (k <= 0)
                    break;
                got += (size_t)k;
            }
            if (got != sizeof resp) {
                ch->failures++;
                snprintf(ch->what, sizeof ch->what, "ping answer: %zu bytes", got);
            }
            break;
        }
        case 1: /* writes to both shards, then close without reading: answers meet a closed conn */
            for (int k = 0; k < 40; k++) {
                int kb = snprintf(key, sizeof key, "churn-%d-%d", ch->idx, k);
                struct bin_req q = req_put((uint32_t)k, key, (uint16_t)kb, (const uint8_t *)key, (uint32_t)kb);
                size_t n = bin_req_encode(frame, sizeof frame, &q);
                if (send(fd, frame, n, MSG_NOSIGNAL) != (ssize_t)n)
                    break;
            }
            break;
        case 2: { /* half a frame, then close */
            struct bin_req q = req_get(9, "half-frame", 10);
            size_t n = bin_req_encode(frame, sizeof frame, &q);
            (void)!send(fd, frame, n / 2, MSG_NOSIGNAL);
            break;
        }
        case 3: /* connect and close at once */
            break;
        case 4: { /* GETs, then an abortive close (RST) while they are in flight */
            for (int k = 0; k < 40; k++) {
                int kb = snprintf(key, sizeof key, "churn-%d-%d", ch->idx, k);
                struct bin_req q = req_get((uint32_t)k, key, (uint16_t)kb);
                size_t n = bin_req_encode(frame, sizeof frame, &q);
                if (send(fd, frame, n, MSG_NOSIGNAL) != (ssize_t)n)
                    break;
            }
            struct linger lg = { 1, 0 };
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            break;
        }
        }
        close(fd);
        ch->cycles++;
    }
    return NULL;
}

Test(conn_stress, connections_churning_beside_pipelines_lose_no_answer_and_leak_no_descriptor)
{
    /* The descriptors of an idle server with one connection come and gone. */
    ringkv_client *warm = ringkv_connect(srv.addr, 5000, NULL);
    cr_assert_not_null(warm);
    cr_assert_eq(ringkv_ping(warm, NULL), RINGKV_OK);
    ringkv_close(warm);
    sleep_ms(200);
    int fds_before = server_socket_count();

    enum { PIPELINERS = 4, CHURNERS = 4 };
    uint64_t until = mono_ms() + 3000;
    pthread_t tp[PIPELINERS], tc[CHURNERS];
    struct pipeliner p[PIPELINERS];
    struct churner ch[CHURNERS];
    for (int i = 0; i < PIPELINERS; i++) {
        p[i] = (struct pipeliner){ .idx = i, .until_ms = until };
        cr_assert_eq(pthread_create(&tp[i], NULL, pipeliner_main, &p[i]), 0);
    }
    for (int i = 0; i < CHURNERS; i++) {
        ch[i] = (struct churner){ .idx = i, .until_ms = until };
        cr_assert_eq(pthread_create(&tc[i], NULL, churner_main, &ch[i]), 0);
    }
    int cycles = 0, rounds = 0;
    for (int i = 0; i < PIPELINERS; i++) {
        pthread_join(tp[i], NULL);
        cr_expect_eq(p[i].failures, 0, "pipeliner %d: %d failures, first: %s", i, p[i].failures, p[i].what);
        rounds += p[i].rounds;
    }
    for (int i = 0; i < CHURNERS; i++) {
        pthread_join(tc[i], NULL);
        cr_expect_eq(ch[i].failures, 0, "churner %d: %d failures, first: %s", i, ch[i].failures, ch[i].what);
        cycles += ch[i].cycles;
    }
    cr_log_info("%d pipelined windows of 200, %d short connections", rounds, cycles);
    cr_expect_gt(rounds, PIPELINERS, "the pipelines made progress");
    cr_expect_gt(cycles, 100, "connections churned");

    /* Every closed connection gives its descriptor back (bounded wait for the async closes). */
    int fds_after = server_socket_count();
    for (int i = 0; i < 60 && fds_after > fds_before; i++) {
        sleep_ms(50);
        fds_after = server_socket_count();
    }
    cr_expect_leq(fds_after, fds_before, "server sockets: %d before, %d after the churn", fds_before, fds_after);
    assert_server_healthy_and_stops_cleanly();
}

/* ---- 2: a client that pipelines and does not read ---- */

Test(conn_stress, a_client_that_does_not_read_is_paused_and_bounded_and_later_gets_every_answer)
{
    /* 16 KiB values: past the inline threshold, so every answer is a header plus a value
     * segment; 256-byte keys make each request frame 288 bytes. */
    enum { VALUE_BYTES = 16 * 1024, N = 12000 };
    char key[RKV_KEY_BYTES_MAX + 1];
    memset(key, 'k', RKV_KEY_BYTES_MAX);
    memcpy(key, "slow-", 5);
    key[RKV_KEY_BYTES_MAX] = '\0';
    ringkv_client *other = ringkv_connect(srv.addr, 5000, NULL);
    cr_assert_not_null(other);
    put_value(other, key, 77, VALUE_BYTES);
    long rss_before = server_rss_kib();

    struct raw r;
    raw_open(&r, 32 * 1024, 32 * 1024);
    struct book b;
    book_init(&b, N);
    for (uint32_t id = 0; id < N; id++) {
        struct bin_req q = req_get(id, key, RKV_KEY_BYTES_MAX);
        raw_queue(&r, &q);
        b.e[id] = (struct expect){ .opcode = BIN_OP_GET, .status = 0, .check_value = true,
                                   .value_bytes = VALUE_BYTES, .seed = 77 };
    }
    /* Write without reading until the socket has refused more for 700 ms (or 10 s). */
    uint64_t t0 = mono_ms(), last_progress = t0;
    while (raw_unsent(&r) > 0 && r.err == 0 && mono_ms() - t0 < 10000 && mono_ms() - last_progress < 700) {
        uint64_t before = r.bytes_written;
        raw_pump(&r, false, 50);
        if (r.bytes_written != before)
            last_progress = mono_ms();
    }
    cr_assert_eq(r.err, 0, "writing failed: %s", strerror(r.err));
    uint64_t stalled_at = r.bytes_written;
    long rss_paused = server_rss_kib();
    cr_log_info("writes stalled after %llu of %zu request bytes; server RSS %ld -> %ld KiB",
                (unsigned long long)stalled_at, r.out_len, rss_before, rss_paused);
    cr_expect_gt(raw_unsent(&r), 0, "the server never pushed back: all %d requests (%zu bytes) went in", N,
                 r.out_len);
    cr_expect_lt(rss_paused - rss_before, 96 * 1024, "server memory grew by %ld KiB for one client that does not read",
                 rss_paused - rss_before);

    /* Other connections are not held up by the paused one. */
    uint64_t t1 = mono_ms();
    for (int i = 0; i < 100; i++) {
        char k2[32];
        int kb = snprintf(k2, sizeof k2, "other-%d", i);
        cr_assert_eq(ringkv_put(other, k2, (size_t)kb, "x", 1, NULL, NULL), RINGKV_OK, "put %d beside the paused client", i);
        cr_assert_eq(ringkv_get(other, k2, (size_t)kb, NULL, NULL), RINGKV_OK);
    }
    cr_expect_lt(mono_ms() - t1, 5000u, "200 round trips beside a paused client");
    ringkv_close(other);

    /* Now it reads: every answer arrives, once, intact (and the rest of the requests go in). */
    pump_until_answered(&r, &b, mono_ms() + 20000);
    cr_expect_eq(r.err, 0, "the connection failed: %s", strerror(r.err));
    cr_expect(!r.eof || b.answered == N, "the server closed the connection after %u of %d answers", b.answered, N);
    cr_expect_eq(b.answered, N, "%u of %d answered; first problem: %s", b.answered, N, b.first_problem);
    cr_expect_eq(b.dups + b.unknown + b.wrong, 0, "first problem: %s", b.first_problem);
    raw_close(&r);
    book_free(&b);
    assert_server_healthy_and_stops_cleanly();
}

/* ---- 3: small frames faster than the server parses them ---- */

Test(conn_stress, a_fast_pipeline_of_small_frames_is_answered_in_full_not_cut_off)
{
    /* 80,000 frames of 32-46 bytes written as fast as the socket takes them, while the client
     * also reads: the server parses a bounded number per connection per turn, so unparsed
     * bytes pile up unless it stops reading. It must pause, never cut the client off. */
    enum { N = 80000 };
    struct raw r;
    raw_open(&r, 0, 0);
    struct book b;
    book_init(&b, N);
    for (uint32_t id = 0; id < N; id++) {
        struct bin_req q;
        if (id % 16 == 15) {
            q = req_get(id, "missing-key", 11);
            b.e[id] = (struct expect){ .opcode = BIN_OP_GET, .status = 0x01 };
        } else {
            q = req_ping(id);
            b.e[id] = (struct expect){ .opcode = BIN_OP_PING, .status = 0 };
        }
        raw_queue(&r, &q);
    }
    pump_until_answered(&r, &b, mono_ms() + 20000);
    cr_expect_eq(r.err, 0, "the connection failed: %s", strerror(r.err));
    cr_expect_eq(b.answered, N, "%u of %d answered (eof %d, %zu bytes unsent); first problem: %s", b.answered, N,
                 (int)r.eof, raw_unsent(&r), b.first_problem);
    cr_expect_eq(b.dups + b.unknown + b.wrong, 0, "first problem: %s", b.first_problem);
    raw_close(&r);
    book_free(&b);
    assert_server_healthy_and_stops_cleanly();
}

/* ---- 4: values around the inline threshold and the chunk size ---- */

Test(conn_stress, values_around_the_inline_and_chunk_sizes_in_one_pipeline_read_back_intact)
{
    const uint32_t chunk_fit = 32u * 1024u - 16u - RKV_RESP_HDR_BYTES; /* header + value fill a chunk */
    const uint32_t sizes[] = {
        0, 1, 7, 100, 4000,
        RKV_RESP_INLINE_VALUE_BYTES_MAX - 1, RKV_RESP_INLINE_VALUE_BYTES_MAX, RKV_RESP_INLINE_VALUE_BYTES_MAX + 1,
        chunk_fit - 1, chunk_fit, chunk_fit + 1,
        32u * 1024u - 1, 32u * 1024u, 32u * 1024u + 1,
        3u * 8192u + 5, 64u * 1024u, 64u * 1024u + 3,
        RKV_VALUE_BYTES_MAX - 1, RKV_VALUE_BYTES_MAX,
    };
    enum { NSIZES = sizeof sizes / sizeof sizes[0], GET_ROUNDS = 4 };
    uint8_t *vals[NSIZES];
    char keys[NSIZES][32];
    uint16_t kbs[NSIZES];
    for (uint32_t i = 0; i < NSIZES; i++) {
        vals[i] = pattern_value(1000 + i, sizes[i]);
        kbs[i] = (uint16_t)snprintf(keys[i], sizeof keys[i], "mix-%u-%u", i, sizes[i]);
    }
    /* PUTs, then GET rounds in different orders with PINGs and misses between, one pipeline
     * written in one go, so answers of every size pack into chunks at every offset. */
    uint32_t total = NSIZES + GET_ROUNDS * (NSIZES * 2u);
    struct raw r;
    raw_open(&r, 0, 0);
    struct book b;
    book_init(&b, total);
    uint32_t id = 0;
    for (uint32_t i = 0; i < NSIZES; i++, id++) {
        struct bin_req q = req_put(id, keys[i], kbs[i], vals[i], sizes[i]);
        raw_queue(&r, &q);
        b.e[id] = (struct expect){ .opcode = BIN_OP_PUT, .status = 0 };
    }
    for (uint32_t round = 0; round < GET_ROUNDS; round++) {
        for (uint32_t k = 0; k < NSIZES; k++) {
            uint32_t i = round % 2 ? NSIZES - 1 - k : (k * 7u + round) % NSIZES;
            struct bin_req q = req_get(id, keys[i], kbs[i]);
            raw_queue(&r, &q);
            b.e[id++] = (struct expect){ .opcode = BIN_OP_GET, .status = 0, .check_value = true,
                                         .value_bytes = sizes[i], .seed = 1000 + i };
            if (k % 3 == 0) {
                q = req_ping(id);
                b.e[id++] = (struct expect){ .opcode = BIN_OP_PING, .status = 0 };
            } else {
                q = req_get(id, "no-such-key", 11);
                b.e[id++] = (struct expect){ .opcode = BIN_OP_GET, .status = 0x01 };
            }
            raw_queue(&r, &q);
        }
    }
    cr_assert_eq(id, total);
    pump_until_answered(&r, &b, mono_ms() + 20000);
    cr_expect_eq(r.err, 0, "the connection failed: %s", strerror(r.err));
    cr_expect(!r.bad, "the server sent bytes that do not frame");
    cr_expect_eq(b.answered, total, "%u of %u answered; first problem: %s", b.answered, total, b.first_problem);
    cr_expect_eq(b.dups + b.unknown + b.wrong, 0, "first problem: %s", b.first_problem);
    raw_close(&r);
    book_free(&b);
    for (uint32_t i = 0; i < NSIZES; i++)
        free(vals[i]);
    assert_server_healthy_and_stops_cleanly();
}

/* ---- 5: half-close ---- */

static void half_close_case(uint32_t n, uint32_t value_bytes, unsigned pause_before_reading_ms)
{
    ringkv_client *c = ringkv_connect(srv.addr, 5000, NULL);
    cr_assert_not_null(c);
    put_value(c, "hc-key", 4242, value_bytes);
    ringkv_close(c);

    struct raw r;
    raw_open(&r, 0, 0);
    struct book b;
    book_init(&b, n);
    for (uint32_t id = 0; id < n; id++) {
        struct bin_req q;
        if (id % 10 == 9) {
            q = req_ping(id);
            b.e[id] = (struct expect){ .opcode = BIN_OP_PING, .status = 0 };
        } else {
            q = req_get(id, "hc-key", 6);
            b.e[id] = (struct expect){ .opcode = BIN_OP_GET, .status = 0, .check_value = true,
                                       .value_bytes = value_bytes, .seed = 4242 };
        }
        raw_queue(&r, &q);
    }
    uint64_t t0 = mono_ms();
    while (raw_unsent(&r) > 0 && r.err == 0 && mono_ms() - t0 < 5000)
        raw_pump(&r, false, 50);
    cr_assert_eq(raw_unsent(&r), 0, "every request was written before the half-close");
    cr_assert_eq(shutdown(r.fd, SHUT_WR), 0);
    sleep_ms(pause_before_reading_ms);
    pump_until_answered(&r, &b, mono_ms() + 15000);
    cr_expect_eq(b.answered, n, "%u of %u answered after the half-close (eof %d, err %s); first problem: %s",
                 b.answered, n, (int)r.eof, strerror(r.err), b.first_problem);
    cr_expect_eq(b.dups + b.unknown + b.wrong, 0, "first problem: %s", b.first_problem);
    /* Then the server closes its side: an EOF, not a hang. */
    uint64_t t1 = mono_ms();
    while (!r.eof && r.err == 0 && mono_ms() - t1 < 5000) {
        raw_pump(&r, true, 50);
        take_all(&r, &b);
    }
    cr_expect(r.eof || r.err == ECONNRESET, "the server closes a drained half-closed connection");
    raw_close(&r);
    book_free(&b);
}

Test(conn_stress, a_half_closed_connection_read_at_once_gets_every_answer)
{
    half_close_case(100, 100, 0);
    assert_server_healthy_and_stops_cleanly();
}

Test(conn_stress, a_half_closed_connection_owed_more_than_the_output_limit_gets_every_answer)
{
    /* 600 answers of 20 KB = 12 MB owed, three times the bytes at which the server stops
     * working on a connection's input until its output drains; the client reads only after
     * a pause, so that limit is reached while the connection is draining. */
    half_close_case(600, 20000, 300);
    assert_server_healthy_and_stops_cleanly();
}

/* ---- 6: more requests in flight than the shard's request pool ---- */

Test(conn_stress, hundreds_of_connections_pipelining_past_the_request_pool_all_get_every_answer)
{
    /* 600 connections (about 300 a shard) each pipeline 300 GETs, about half of them owned by
     * the other shard: 300 x 128 in flight per shard is more than RKV_SHARD_REQS_MAX, so
     * the handler answers "busy, not now" and connections must wait and retry. Every
     * connection must still get every answer: none may stop reading for good. */
    enum { CONNS = 600, PER_CONN = 300 };
    struct raw *r = calloc(CONNS, sizeof *r);
    struct book *b = calloc(CONNS, sizeof *b);
    struct pollfd *pf = calloc(CONNS, sizeof *pf);
    cr_assert(r && b && pf);
    char key[32];
    for (int c = 0; c < CONNS; c++) {
        raw_open_sized(&r[c], 0, 0, 64 * 1024);
        book_init(&b[c], PER_CONN);
        for (uint32_t id = 0; id < PER_CONN; id++) {
            int kb = snprintf(key, sizeof key, "pool-%d-%u", c % 50, id % 64);
            struct bin_req q = req_get(id, key, (uint16_t)kb);
            raw_queue(&r[c], &q);
            b[c].e[id] = (struct expect){ .opcode = BIN_OP_GET, .status = 0x01 };
        }
    }
    uint64_t deadline = mono_ms() + 10000;
    int done = 0;
    while (done < CONNS && mono_ms() < deadline) {
        for (int c = 0; c < CONNS; c++) {
            pf[c].fd = r[c].fd;
            pf[c].events = (short)((raw_unsent(&r[c]) ? POLLOUT : 0) |
                                   (b[c].answered < PER_CONN && !r[c].eof && !r[c].err ? POLLIN : 0));
            if (pf[c].events == 0)
                pf[c].fd = -1;
        }
        if (poll(pf, CONNS, 100) < 0)
            break;
        done = 0;
        for (int c = 0; c < CONNS; c++) {
            if (pf[c].revents != 0)
                raw_pump(&r[c], true, 0);
            take_all(&r[c], &b[c]);
            done += b[c].answered == PER_CONN || r[c].eof || r[c].err || r[c].bad;
        }
    }
    int short_conns = 0, closed = 0;
    uint32_t answered = 0, problems = 0;
    const char *first = NULL;
    for (int c = 0; c < CONNS; c++) {
        answered += b[c].answered;
        short_conns += b[c].answered != PER_CONN;
        closed += r[c].eof || r[c].err;
        problems += b[c].dups + b[c].unknown + b[c].wrong;
        if (first == NULL && b[c].first_problem[0])
            first = b[c].first_problem;
    }
    cr_log_info("%u of %d answers; %d connections short, %d closed by the server", answered, CONNS * PER_CONN,
                short_conns, closed);
    cr_expect_eq(short_conns, 0, "%d of %d connections did not get all %d answers within 10 s (%u of %d overall)",
                 short_conns, CONNS, PER_CONN, answered, CONNS * PER_CONN);
    cr_expect_eq(closed, 0);
    cr_expect_eq(problems, 0, "first problem: %s", first ? first : "");
    for (int c = 0; c < CONNS; c++) {
        raw_close(&r[c]);
        book_free(&b[c]);
    }
    free(r);
    free(b);
    free(pf);
    assert_server_healthy_and_stops_cleanly();
}

/* ---- 7: shutdown with a client that never reads ---- */

Test(conn_stress, sigterm_with_a_client_that_never_reads_still_exits_0_after_the_grace)
{
    enum { VALUE_BYTES = 64 * 1024, N = 2000 };
    ringkv_client *c = ringkv_connect(srv.addr, 5000, NULL);
    cr_assert_not_null(c);
    put_value(c, "stuck", 5, VALUE_BYTES);
    ringkv_close(c);
    struct raw r;
    raw_open(&r, 32 * 1024, 32 * 1024);
    for (uint32_t id = 0; id < N; id++) {
        struct bin_req q = req_get(id, "stuck", 5);
        raw_queue(&r, &q);
    }
    uint64_t t0 = mono_ms();
    while (raw_unsent(&r) > 0 && r.err == 0 && mono_ms() - t0 < 1000)
        raw_pump(&r, false, 50);
    /* The node now owes it megabytes it will never read. */
    t0 = mono_ms();
    int rc = test_server_stop(&srv);
    uint64_t ms = mono_ms() - t0;
    cr_log_info("stopped with a stuck reader in %llu ms", (unsigned long long)ms);
    cr_expect_eq(rc, 0, "the node exits by itself with 0 (got %d after %llu ms)", rc, (unsigned long long)ms);
    cr_expect_lt(ms, 12000u, "the close grace is 5 s");
    raw_close(&r);
}
