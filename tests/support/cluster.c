/* See cluster.h. Test code: fork/exec, blocking sockets through tests/support/http_client,
 * jansson for /health and the bodies. Every wait has a deadline. */
#include "tests/support/cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/limits.h"
#include "ring/members.h"
#include "ring/prefs.h"
#include "ring/ringmap.h"
#include "ring/token.h"
#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/tmpdir.h"

/* Flags every node gets before the test's own (a later flag wins over an earlier one). */
static const char *const cluster_default_args[] = {
    "--shards", "2", "--rf", "3", "--request-timeout", "1000", "--cache-size", "200M", "--row-cache-size", "16M",
    "--no-pin",
};
_Static_assert(TEST_CLUSTER_SHARDS == 2u, "the default flags say --shards 2");

/* Argument count of one command line: the fixed flags, the defaults and the extras. */
#define CLUSTER_ARGV_MAX 64u
/* One HTTP request's limit for connect, send and answer. Generous: a liveness bound. */
#define CLUSTER_HTTP_MS 10000
/* Where port blocks are looked for: below the ephemeral range, above the well-known. */
#define CLUSTER_PORT_LOW 10000u
#define CLUSTER_PORT_TRIES 200u

static uint64_t cluster_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void cluster_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- ports ---- */

static bool cluster_port_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The first port of the kernel's ephemeral range (32768 when it cannot be read). */
static unsigned cluster_ephemeral_low(void)
{
    unsigned low = 32768u, high = 60999u;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%u %u", &low, &high) != 2)
            low = 32768u;
        fclose(f);
    }
    return low;
}

/* Finds `count` consecutive ports that nothing is bound to, below the ephemeral range,
 * starting from a place that differs between processes (parallel test runs). */
static uint16_t cluster_port_block(unsigned count)
{
    unsigned low = CLUSTER_PORT_LOW, high = cluster_ephemeral_low();
    if (high <= low + count + 100u)
        return 0;
    uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ cluster_mono_ms() * 0xBF58476D1CE4E5B9ull;
    for (unsigned t = 0; t < CLUSTER_PORT_TRIES; t++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned base = low + (unsigned)(x % (high - low - count));
        bool ok = true;
        for (unsigned p = 0; p < count && ok; p++)
            ok = cluster_port_free((uint16_t)(base + p));
        if (ok)
            return (uint16_t)base;
    }
    return 0;
}

/* ---- processes ---- */

bool test_cluster_init(struct test_cluster *c, unsigned count, const char *extra_args)
{
    memset(c, 0, sizeof *c);
    if (count == 0 || count > TEST_CLUSTER_NODES_MAX || sodium_init() < 0)
        return false;
    snprintf(c->args, sizeof c->args, "%s", extra_args ? extra_args : "");
    snprintf(c->dir, sizeof c->dir, "/tmp/ringkv-cluster-XXXXXX");
    if (mkdtemp(c->dir) == NULL) {
        c->dir[0] = '\0';
        return false;
    }
    uint16_t base = cluster_port_block(count * TEST_CLUSTER_PORTS_PER_NODE);
    if (base == 0)
        return false;
    c->count = count;
    for (unsigned i = 0; i < count; i++) {
        struct test_cluster_node *n = &c->node[i];
        uint16_t p = (uint16_t)(base + i * TEST_CLUSTER_PORTS_PER_NODE);
        snprintf(n->id, sizeof n->id, "n%u", i);
        n->port = p;
        n->http_port = (uint16_t)(p + 1u);
        n->peer_port = (uint16_t)(p + 2u);
        snprintf(n->addr, sizeof n->addr, "127.0.0.1:%u", n->port);
        snprintf(n->http_addr, sizeof n->http_addr, "127.0.0.1:%u", n->http_port);
        snprintf(n->peer_addr, sizeof n->peer_addr, "127.0.0.1:%u", n->peer_port);
        snprintf(n->dir, sizeof n->dir, "%s/%s", c->dir, n->id);
        snprintf(n->log_path, sizeof n->log_path, "%s/server.log", n->dir);
        if (mkdir(n->dir, 0700) != 0)
            return false;
    }
    return true;
}

bool test_cluster_spawn(struct test_cluster *c, unsigned i)
{
    if (i >= c->count || c->node[i].pid != 0)
        return false;
    struct test_cluster_node *n = &c->node[i];
    char bin[512], data[200], seeds[TEST_CLUSTER_NODES_MAX * 32u], extra[sizeof c->args];
    test_bin("tools/ringkv", bin, sizeof bin);
    snprintf(data, sizeof data, "%s/data", n->dir);
    seeds[0] = '\0';
    for (unsigned j = 0; j < c->count; j++) {
        if (j == i)
            continue;
        size_t len = strlen(seeds);
        snprintf(seeds + len, sizeof seeds - len, "%s%s", len ? "," : "", c->node[j].peer_addr);
    }
    char *argv[CLUSTER_ARGV_MAX];
    unsigned argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "--node-id";
    argv[argc++] = n->id;
    argv[argc++] = "--data";
    argv[argc++] = data;
    argv[argc++] = "--listen";
    argv[argc++] = n->addr;
    argv[argc++] = "--http";
    argv[argc++] = n->http_addr;
    argv[argc++] = "--peer";
    argv[argc++] = n->peer_addr;
    if (seeds[0] != '\0') {
        argv[argc++] = "--seeds";
        argv[argc++] = seeds;
    }
    for (size_t k = 0; k < sizeof cluster_default_args / sizeof cluster_default_args[0]; k++)
        argv[argc++] = (char *)cluster_default_args[k];
    /* The extras split at spaces, in a copy (strtok_r: no hidden state). */
    snprintf(extra, sizeof extra, "%s", c->args);
    char *save = NULL;
    for (char *tok = strtok_r(extra, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        if (argc + 1u >= CLUSTER_ARGV_MAX)
            return false;
        argv[argc++] = tok;
    }
    argv[argc] = NULL;

    int log_fd = open(n->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0)
        return false;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(log_fd);
        return false;
    }
    if (pid == 0) {
        /* Dies with the test's thread, and not a moment later than a test killed by its
         * timeout; the check closes the race with a parent that died before prctl. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2(null_fd, 0);
        execv(bin, argv);
        _exit(127);
    }
    close(log_fd);
    n->pid = pid;

    uint64_t deadline = cluster_mono_ms() + 10000u;
    while (cluster_mono_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            n->pid = 0;
            return false;
        }
        struct http_client_resp r;
        struct http_client hc;
        if (http_client_open(&hc, n->http_port, 500)) {
            bool ok = http_client_send_request(&hc, "GET", "/health", NULL, NULL, 0, 1000) &&
                      http_client_recv(&hc, &r, 2000);
            http_client_close(&hc);
            if (ok) {
                int st = r.status;
                http_client_resp_free(&r);
                if (st == 200)
                    return true;
            }
        }
        cluster_sleep_ms(20);
    }
    test_cluster_kill(c, i);
    return false;
}

/* Whether node i's /health shows the cluster formed and every node's liveness as the test
 * knows it (running = up). */
static bool cluster_node_settled(const struct test_cluster *c, unsigned i)
{
    struct test_cluster_resp r;
    bool settled = false;
    if (!test_cluster_http(c, i, "GET", "/health", NULL, &r) || r.status != 200)
        goto out;
    json_t *root = json_loadb(r.body, r.body_bytes, 0, NULL);
    json_t *cl = json_object_get(root, "cluster");
    json_t *nodes = json_object_get(cl, "nodes");
    if (json_is_true(json_object_get(cl, "formed")) && json_is_array(nodes) && json_array_size(nodes) == c->count) {
        settled = true;
        size_t k;
        json_t *m;
        json_array_foreach(nodes, k, m) {
            int idx = test_cluster_index_of(c, json_string_value(json_object_get(m, "id")));
            json_t *up = json_object_get(m, "up");
            if (idx < 0 || !json_is_boolean(up) || json_is_true(up) != (c->node[idx].pid != 0))
                settled = false;
        }
    }
    json_decref(root);
out:
    test_cluster_resp_free(&r);
    return settled;
}

bool test_cluster_wait_settled(struct test_cluster *c, int timeout_ms)
{
    uint64_t deadline = cluster_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < c->count && all; i++)
            if (c->node[i].pid != 0)
                all = cluster_node_settled(c, i);
        if (all)
            return true;
        if (cluster_mono_ms() >= deadline)
            return false;
        cluster_sleep_ms(50);
    }
}

bool test_cluster_start(struct test_cluster *c, unsigned count, const char *extra_args)
{
    if (!test_cluster_init(c, count, extra_args))
        return false;
    for (unsigned i = 0; i < count; i++)
        if (!test_cluster_spawn(c, i))
            return false;
    return test_cluster_wait_settled(c, 30000);
}

void test_cluster_kill(struct test_cluster *c, unsigned i)
{
    if (i >= c->count || c->node[i].pid <= 0)
        return;
    kill(c->node[i].pid, SIGKILL);
    waitpid(c->node[i].pid, NULL, 0);
    c->node[i].pid = 0;
}

int test_cluster_stop(struct test_cluster *c, unsigned i)
{
    if (i >= c->count || c->node[i].pid <= 0)
        return -1;
    pid_t pid = c->node[i].pid;
    kill(pid, SIGTERM);
    uint64_t deadline = cluster_mono_ms() + 20000u;
    while (cluster_mono_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            c->node[i].pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        cluster_sleep_ms(10);
    }
    test_cluster_kill(c, i);
    return -1;
}

bool test_cluster_restart(struct test_cluster *c, unsigned i)
{
    return test_cluster_spawn(c, i);
}

void test_cluster_cleanup(struct test_cluster *c)
{
    for (unsigned i = 0; i < c->count && i < TEST_CLUSTER_NODES_MAX; i++)
        test_cluster_kill(c, i);
    if (c->dir[0] != '\0') {
        test_dir_remove(c->dir);
        c->dir[0] = '\0';
    }
    ringmap_free(c->ring);
    c->ring = NULL;
    c->count = 0;
}

void test_cluster_dump_logs(const struct test_cluster *c, unsigned lines)
{
    for (unsigned i = 0; i < c->count; i++) {
        FILE *f = fopen(c->node[i].log_path, "rb");
        if (f == NULL)
            continue;
        /* The last `lines` lines of at most the last 64 KiB. */
        char buf[65536];
        if (fseek(f, 0, SEEK_END) == 0) {
            long size = ftell(f);
            long from = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
            fseek(f, from, SEEK_SET);
        }
        size_t len = fread(buf, 1, sizeof buf - 1u, f);
        fclose(f);
        buf[len] = '\0';
        size_t start = len;
        unsigned seen = 0;
        while (start > 0 && seen <= lines) {
            start--;
            if (buf[start] == '\n' && start + 1u < len)
                seen++;
        }
        fprintf(stderr, "---- %s (%s) log tail ----\n%s\n", c->node[i].id,
                c->node[i].pid ? "running" : "not running", buf + (seen > lines ? start + 1u : start));
    }
}

int test_cluster_index_of(const struct test_cluster *c, const char *id)
{
    if (id == NULL)
        return -1;
    for (unsigned i = 0; i < c->count; i++)
        if (strcmp(c->node[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* ---- HTTP ---- */

void test_cluster_resp_free(struct test_cluster_resp *r)
{
    free(r->body);
    free(r->value);
    memset(r, 0, sizeof *r);
}

static void cluster_parse_consistency(struct test_cluster_resp *out, const struct http_client_resp *r)
{
    char v[128];
    if (!http_client_header(r, "X-Ringkv-Consistency", v, sizeof v))
        return;
    int used = -1;
    if (sscanf(v, "requested=%15[a-z] acked=%u/%u hinted=%u%n", out->requested, &out->acked, &out->needed,
               &out->hinted, &used) == 4 &&
        used == (int)strlen(v))
        out->has_consistency = true;
}

static void cluster_parse_body(struct test_cluster_resp *out)
{
    json_t *root = json_loadb(out->body, out->body_bytes, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    json_t *e = json_object_get(root, "error");
    if (json_is_string(e))
        snprintf(out->error, sizeof out->error, "%s", json_string_value(e));
    json_t *ver = json_object_get(root, "version");
    if (json_is_integer(ver)) {
        out->has_version = true;
        out->version = (uint64_t)json_integer_value(ver);
    }
    json_t *val = json_object_get(root, "value");
    if (json_is_string(val)) {
        const char *s = json_string_value(val);
        size_t len = strlen(s);
        out->value = malloc(len + 1u);
        if (out->value != NULL &&
            sodium_base642bin(out->value, len + 1u, s, len, NULL, &out->value_bytes, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0)
            out->has_value = true;
    }
    json_decref(root);
}

bool test_cluster_http(const struct test_cluster *c, unsigned i, const char *method, const char *target,
                       const char *body, struct test_cluster_resp *out)
{
    memset(out, 0, sizeof *out);
    struct http_client_resp r;
    bool ok = false;
    if (i < c->count) {
        struct http_client hc;
        if (http_client_open(&hc, c->node[i].http_port, CLUSTER_HTTP_MS)) {
            ok = http_client_send_request(&hc, method, target, NULL, body, body ? strlen(body) : 0, CLUSTER_HTTP_MS) &&
                 http_client_recv(&hc, &r, CLUSTER_HTTP_MS);
            http_client_close(&hc);
        }
    }
    if (!ok) {
        out->body = calloc(1, 1);
        return false;
    }
    out->status = r.status;
    cluster_parse_consistency(out, &r);
    out->body = r.body;
    out->body_bytes = r.body_bytes;
    r.body = NULL;
    http_client_resp_free(&r);
    cluster_parse_body(out);
    return true;
}

/* prefix, then the key with every byte outside [A-Za-z0-9._-] as %XX, then "?consistency=L"
 * when level is not NULL. malloc'd. */
static char *cluster_target(const char *prefix, const void *key, size_t key_bytes, const char *level)
{
    size_t cap = strlen(prefix) + key_bytes * 3u + (level ? strlen(level) : 0) + 32u;
    char *t = malloc(cap);
    if (t == NULL)
        return NULL;
    size_t k = (size_t)snprintf(t, cap, "%s", prefix);
    const uint8_t *p = key;
    for (size_t j = 0; j < key_bytes; j++) {
        uint8_t b = p[j];
        bool plain = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '.' ||
                     b == '_' || b == '-';
        if (plain) {
            t[k++] = (char)b;
        } else {
            t[k++] = '%';
            t[k++] = "0123456789ABCDEF"[b >> 4];
            t[k++] = "0123456789ABCDEF"[b & 15];
        }
    }
    t[k] = '\0';
    if (level != NULL)
        snprintf(t + k, cap - k, "?consistency=%s", level);
    return t;
}

bool test_cluster_put(const struct test_cluster *c, unsigned i, const void *key, size_t key_bytes, const void *value,
                      size_t value_bytes, const char *level, const char *extra_json, struct test_cluster_resp *out)
{
    memset(out, 0, sizeof *out);
    size_t b64_cap = sodium_base64_ENCODED_LEN(value_bytes, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = b64_cap + (extra_json ? strlen(extra_json) : 0) + 32u;
    char *b64 = malloc(b64_cap), *body = malloc(cap), *target = cluster_target("/kv/", key, key_bytes, level);
    bool ok = false;
    if (b64 != NULL && body != NULL && target != NULL) {
        sodium_bin2base64(b64, b64_cap, value, value_bytes, sodium_base64_VARIANT_ORIGINAL);
        snprintf(body, cap, "{\"value\":\"%s\"%s}", b64, extra_json ? extra_json : "");
        ok = test_cluster_http(c, i, "PUT", target, body, out);
    } else {
        out->body = calloc(1, 1);
    }
    free(b64);
    free(body);
    free(target);
    return ok;
}

static bool cluster_simple(const struct test_cluster *c, unsigned i, const char *method, const char *prefix,
                           const void *key, size_t key_bytes, const char *level, struct test_cluster_resp *out)
{
    char *target = cluster_target(prefix, key, key_bytes, level);
    if (target == NULL) {
        memset(out, 0, sizeof *out);
        out->body = calloc(1, 1);
        return false;
    }
    bool ok = test_cluster_http(c, i, method, target, NULL, out);
    free(target);
    return ok;
}

bool test_cluster_get(const struct test_cluster *c, unsigned i, const void *key, size_t key_bytes, const char *level,
                      struct test_cluster_resp *out)
{
    return cluster_simple(c, i, "GET", "/kv/", key, key_bytes, level, out);
}

bool test_cluster_delete(const struct test_cluster *c, unsigned i, const void *key, size_t key_bytes,
                         const char *level, struct test_cluster_resp *out)
{
    return cluster_simple(c, i, "DELETE", "/kv/", key, key_bytes, level, out);
}

bool test_cluster_debug_key(const struct test_cluster *c, unsigned i, const void *key, size_t key_bytes,
                            struct test_cluster_resp *out)
{
    return cluster_simple(c, i, "GET", "/debug/key/", key, key_bytes, NULL, out);
}

/* ---- the ring ---- */

unsigned test_cluster_replicas(struct test_cluster *c, const void *key, size_t key_bytes, unsigned rf,
                               unsigned idx_out[TEST_CLUSTER_NODES_MAX])
{
    if (c->count == 0 || rf == 0 || rf > RKV_RF_MAX)
        return 0;
    if (c->ring == NULL) {
        /* The same descriptions the nodes build from (replication/cluster.c): no tokens, so
         * they are placed from the node ids; addresses do not enter the placement. */
        struct member_desc d[TEST_CLUSTER_NODES_MAX];
        for (unsigned i = 0; i < c->count; i++) {
            d[i] = (struct member_desc){ .node_id = c->node[i].id, .shard_count = TEST_CLUSTER_SHARDS,
                                         .vnode_count = RKV_VNODES_DEFAULT, .status = MEMBER_NORMAL, .up = true };
            snprintf(d[i].bin_addr.host, sizeof d[i].bin_addr.host, "127.0.0.1");
            d[i].bin_addr.port = c->node[i].port;
            d[i].http_addr = d[i].bin_addr;
            d[i].http_addr.port = c->node[i].http_port;
            d[i].peer_addr = d[i].bin_addr;
            d[i].peer_addr.port = c->node[i].peer_port;
        }
        struct members *m = NULL;
        if (members_build(d, c->count, &m) != RKV_OK)
            return 0;
        if (ringmap_build(m, &c->ring) != RKV_OK) {
            members_free(m);
            c->ring = NULL;
            return 0;
        }
    }
    struct prefs p;
    prefs_for_token(c->ring, token_of_key(key, key_bytes), rf, &p);
    const struct members *m = ringmap_members(c->ring);
    for (uint32_t i = 0; i < p.count; i++) {
        int idx = test_cluster_index_of(c, members_get(m, p.replica[i].node_idx)->node_id);
        if (idx < 0)
            return 0;
        idx_out[i] = (unsigned)idx;
    }
    return p.count;
}
