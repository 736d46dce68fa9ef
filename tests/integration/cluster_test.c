/* The replicated cluster, through real ringkv processes on 127.0.0.1 (tests/support/cluster.h):
 * a write through one node is read through every other, over HTTP and the binary protocol;
 * deletes travel the same way; each consistency level answers exactly what it achieved
 * (X-Ringkv-Consistency, the binary acked/needed/hinted) with one and with two of three
 * nodes killed; a restarted node serves again; a quorum read repairs a replica that missed
 * writes; keys live where the ring computed from the node ids says, which the pattern of
 * failures with two of five nodes down shows; five nodes keep serving quorum traffic with
 * any one of them killed; sequential conditional puts through different nodes see one
 * version sequence; bad input is refused as on a lone node. Hinted handoff, /debug/key and
 * concurrent conditional puts are in cluster_repair_test.c. Every wait has a deadline; no
 * assertion depends on how fast anything is. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/ringkv.h"
#include "tests/support/cluster.h"

static struct test_cluster cl;

static void cluster_fini(void)
{
    test_cluster_cleanup(&cl);
}

TestSuite(cluster, .fini = cluster_fini, .timeout = 120);

/* How long nodes get to agree on who is up after a start, kill or restart: a liveness bound
 * (reconnects back off up to a few seconds), not a measure of speed. */
#define SETTLE_MS 30000

/* A failed check prints the tail of every node's log first. */
#define CL_ASSERT(cond, ...)                                                                                           \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            test_cluster_dump_logs(&cl, 20);                                                                           \
            cr_assert(false, __VA_ARGS__);                                                                             \
        }                                                                                                              \
    } while (0)

static void start(unsigned n, const char *extra)
{
    bool ok = test_cluster_start(&cl, n, extra);
    CL_ASSERT(ok, "a cluster of %u nodes formed with every node up", n);
}

static void settle(void)
{
    bool ok = test_cluster_wait_settled(&cl, SETTLE_MS);
    CL_ASSERT(ok, "the nodes agree on who is up");
}

static void kill_node(unsigned i)
{
    test_cluster_kill(&cl, i);
}

static void restart_node(unsigned i)
{
    bool ok = test_cluster_restart(&cl, i);
    CL_ASSERT(ok, "node %u restarted", i);
}

/* The answer's X-Ringkv-Consistency is exactly "requested=LEVEL acked=A/N hinted=H". */
static void expect_cons(const struct test_cluster_resp *r, const char *level, unsigned acked, unsigned needed,
                        unsigned hinted)
{
    CL_ASSERT(r->has_consistency, "an X-Ringkv-Consistency header (status %d, body %s)", r->status, r->body);
    CL_ASSERT(strcmp(r->requested, level) == 0 && r->acked == acked && r->needed == needed && r->hinted == hinted,
              "requested=%s acked=%u/%u hinted=%u, expected requested=%s acked=%u/%u hinted=%u (body %s)",
              r->requested, r->acked, r->needed, r->hinted, level, acked, needed, hinted, r->body);
}

/* The same for a write, which may also have had up to hinted_max hints for down replicas
 * acknowledged by the time it was answered. */
static void expect_write_cons(const struct test_cluster_resp *r, const char *level, unsigned acked, unsigned needed,
                              unsigned hinted_max)
{
    CL_ASSERT(r->has_consistency, "an X-Ringkv-Consistency header (status %d, body %s)", r->status, r->body);
    CL_ASSERT(strcmp(r->requested, level) == 0 && r->acked == acked && r->needed == needed && r->hinted <= hinted_max,
              "requested=%s acked=%u/%u hinted=%u, expected requested=%s acked=%u/%u hinted<=%u (body %s)", r->requested,
              r->acked, r->needed, r->hinted, level, acked, needed, hinted_max, r->body);
}

static void expect_status(const struct test_cluster_resp *r, int status, const char *what)
{
    CL_ASSERT(r->status == status, "%s: status %d, expected %d (body %s)", what, r->status, status, r->body);
}

static struct test_cluster_resp put(unsigned node, const char *key, const char *value, const char *level)
{
    struct test_cluster_resp r;
    bool ok = test_cluster_put(&cl, node, key, strlen(key), value, strlen(value), level, NULL, &r);
    CL_ASSERT(ok, "an answer to PUT %s through node %u", key, node);
    return r;
}

static struct test_cluster_resp get(unsigned node, const char *key, const char *level)
{
    struct test_cluster_resp r;
    bool ok = test_cluster_get(&cl, node, key, strlen(key), level, &r);
    CL_ASSERT(ok, "an answer to GET %s through node %u", key, node);
    return r;
}

static struct test_cluster_resp del(unsigned node, const char *key, const char *level)
{
    struct test_cluster_resp r;
    bool ok = test_cluster_delete(&cl, node, key, strlen(key), level, &r);
    CL_ASSERT(ok, "an answer to DELETE %s through node %u", key, node);
    return r;
}

/* A 200 PUT at `level` that acked acked/needed; returns the version. */
static uint64_t put_ok(unsigned node, const char *key, const char *value, const char *level, unsigned acked,
                       unsigned needed, unsigned hinted_max)
{
    struct test_cluster_resp r = put(node, key, value, level);
    CL_ASSERT(r.status == 200, "PUT %s through node %u at %s: status %d, expected 200 (body %s)", key, node, level,
              r.status, r.body);
    expect_write_cons(&r, level, acked, needed, hinted_max);
    CL_ASSERT(r.has_version && r.version > 0, "a version in %s", r.body);
    uint64_t v = r.version;
    test_cluster_resp_free(&r);
    return v;
}

/* A 200 GET at `level` with exactly value (and version, unless 0), answered by at least the
 * needed replicas and at most the live ones: a read that repairs before it answers may hear
 * from more replicas than it needed by then, and says so. */
static void get_ok(unsigned node, const char *key, const char *value, uint64_t version, const char *level,
                   unsigned needed, unsigned live)
{
    struct test_cluster_resp r = get(node, key, level);
    CL_ASSERT(r.status == 200, "GET %s through node %u at %s: status %d, expected 200 (body %s)", key, node, level,
              r.status, r.body);
    CL_ASSERT(r.has_consistency && strcmp(r.requested, level) == 0 && r.needed == needed && r.acked >= needed &&
                  r.acked <= live && r.hinted == 0,
              "GET %s at %s: acked between %u and %u of %u, hinted 0; got requested=%s acked=%u/%u hinted=%u", key,
              level, needed, live, needed, r.requested, r.acked, r.needed, r.hinted);
    CL_ASSERT(r.has_value && r.value_bytes == strlen(value) && memcmp(r.value, value, r.value_bytes) == 0,
              "GET %s through node %u at %s: value \"%s\", got %s", key, node, level, value, r.body);
    CL_ASSERT(version == 0 || (r.has_version && r.version == version), "GET %s: version %llu, got %s", key,
              (unsigned long long)version, r.body);
    test_cluster_resp_free(&r);
}

/* A 503 unavailable that says acked/needed in the header and in the body. */
static void expect_unavailable(struct test_cluster_resp *r, const char *level, unsigned acked, unsigned needed,
                               unsigned hinted_max, const char *what)
{
    expect_status(r, 503, what);
    CL_ASSERT(strcmp(r->error, "unavailable") == 0, "%s: error unavailable, got %s", what, r->body);
    expect_write_cons(r, level, acked, needed, hinted_max);
    char frag[64];
    snprintf(frag, sizeof frag, "\"acked\":%u,\"needed\":%u", acked, needed);
    CL_ASSERT(strstr(r->body, frag) != NULL, "%s: the body says %s: %s", what, frag, r->body);
    test_cluster_resp_free(r);
}

static ringkv_client *bin_connect(unsigned node)
{
    enum ringkv_err err;
    ringkv_client *c = ringkv_connect(cl.node[node].addr, 10000, &err);
    CL_ASSERT(c != NULL, "binary connect to node %u: %s", node, ringkv_strerror(err));
    return c;
}

static struct ringkv_options level_opts(enum ringkv_consistency level)
{
    struct ringkv_options o = ringkv_options_default();
    o.consistency = level;
    return o;
}

/* ---- a healthy cluster ---- */

Test(cluster, health_lists_every_node_up_with_rf_and_a_share_of_the_ring)
{
    start(3, NULL);
    for (unsigned i = 0; i < 3; i++) {
        struct test_cluster_resp r;
        bool ok = test_cluster_http(&cl, i, "GET", "/health", NULL, &r);
        CL_ASSERT(ok && r.status == 200, "GET /health of node %u", i);
        CL_ASSERT(strstr(r.body, "\"formed\":true") != NULL && strstr(r.body, "\"rf\":3") != NULL,
                  "formed, rf 3: %s", r.body);
        for (unsigned j = 0; j < 3; j++) {
            char frag[160];
            snprintf(frag, sizeof frag, "{\"id\":\"%s\",\"self\":%s,\"up\":true,\"shards\":2,\"binary\":\"%s\",\"http\":\"%s\",\"peer\":\"%s\"",
                     cl.node[j].id, i == j ? "true" : "false", cl.node[j].addr, cl.node[j].http_addr,
                     cl.node[j].peer_addr);
            CL_ASSERT(strstr(r.body, frag) != NULL, "node %u's /health has %s: %s", i, frag, r.body);
        }
        test_cluster_resp_free(&r);
    }
}

Test(cluster, quorum_write_through_one_node_is_read_through_every_other)
{
    start(3, NULL);
    enum { KEYS = 30 };
    char key[32], val[64];
    for (int k = 0; k < KEYS; k++) {
        unsigned via = (unsigned)k % 3u;
        snprintf(key, sizeof key, "spread-%d", k);
        snprintf(val, sizeof val, "value-%d-through-%u", k, via);
        uint64_t v = put_ok(via, key, val, "quorum", 2, 2, 0);
        CL_ASSERT(v == 1, "the first write of a key is version 1, got %llu", (unsigned long long)v);
        get_ok((via + 1u) % 3u, key, val, 1, "quorum", 2, 3);
        get_ok((via + 2u) % 3u, key, val, 1, "quorum", 2, 3);
    }
    /* Every level reads it, each saying how many replicas answered of how many it needed. */
    get_ok(1, "spread-0", "value-0-through-0", 1, "one", 1, 3);
    get_ok(2, "spread-0", "value-0-through-0", 1, "all", 3, 3);

    /* The binary protocol through another node: the same value and version, and the same
     * counts in the reply's acked/needed/hinted. */
    ringkv_client *c = bin_connect(1);
    struct ringkv_options q = level_opts(RINGKV_QUORUM);
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "spread-%d", k);
        snprintf(val, sizeof val, "value-%d-through-%d", k, k % 3);
        struct ringkv_reply r;
        enum ringkv_err rc = ringkv_get(c, key, strlen(key), &q, &r);
        CL_ASSERT(rc == RINGKV_OK, "binary GET %s: %s", key, ringkv_strerror(rc));
        CL_ASSERT(r.value_bytes == strlen(val) && memcmp(r.value, val, r.value_bytes) == 0, "binary GET %s value", key);
        CL_ASSERT(r.version == 1 && r.acked == 2 && r.needed == 2 && r.hinted == 0,
                  "binary GET %s: version 1 acked 2/2 hinted 0, got version %llu acked %u/%u hinted %u", key,
                  (unsigned long long)r.version, r.acked, r.needed, r.hinted);
    }
    /* A binary write through node 1 is the next version, read over HTTP through node 0. */
    struct ringkv_reply w;
    enum ringkv_err rc = ringkv_put(c, "spread-0", 8, "rewritten", 9, &q, &w);
    CL_ASSERT(rc == RINGKV_OK && w.version == 2 && w.acked == 2 && w.needed == 2 && w.hinted == 0,
              "binary PUT: ok version 2 acked 2/2, got %s version %llu acked %u/%u", ringkv_strerror(rc),
              (unsigned long long)w.version, w.acked, w.needed);
    struct ringkv_options all = level_opts(RINGKV_ALL);
    rc = ringkv_put(c, "spread-1", 8, "at-all", 6, &all, &w);
    CL_ASSERT(rc == RINGKV_OK && w.version == 2 && w.acked == 3 && w.needed == 3,
              "binary PUT at all: acked 3/3, got %s acked %u/%u", ringkv_strerror(rc), w.acked, w.needed);
    ringkv_close(c);
    get_ok(0, "spread-0", "rewritten", 2, "quorum", 2, 3);
    get_ok(0, "spread-1", "at-all", 2, "one", 1, 3);
}

Test(cluster, delete_through_one_node_is_not_found_through_the_others)
{
    start(3, NULL);
    put_ok(0, "doomed", "here", "quorum", 2, 2, 0);
    get_ok(2, "doomed", "here", 1, "quorum", 2, 3);
    struct test_cluster_resp r = del(1, "doomed", "quorum");
    expect_status(&r, 204, "DELETE");
    expect_cons(&r, "quorum", 2, 2, 0);
    test_cluster_resp_free(&r);
    for (unsigned i = 0; i < 3; i++) {
        r = get(i, "doomed", "quorum");
        expect_status(&r, 404, "GET after DELETE");
        CL_ASSERT(strcmp(r.error, "key_not_found") == 0, "key_not_found, got %s", r.body);
        CL_ASSERT(r.has_consistency && strcmp(r.requested, "quorum") == 0 && r.needed == 2 && r.acked >= 2 &&
                      r.acked <= 3 && r.hinted == 0,
                  "a 404 at quorum says acked=2/2 or 3/2: %s", r.body);
        test_cluster_resp_free(&r);
    }
    ringkv_client *c = bin_connect(2);
    struct ringkv_options all = level_opts(RINGKV_ALL);
    struct ringkv_reply br;
    enum ringkv_err rc = ringkv_get(c, "doomed", 6, &all, &br);
    CL_ASSERT(rc == RINGKV_NOT_FOUND && br.acked == 3 && br.needed == 3, "binary GET at all after DELETE: %s acked %u/%u",
              ringkv_strerror(rc), br.acked, br.needed);
    /* Written again after the delete: a newer version than the tombstone's. */
    uint64_t v = put_ok(2, "doomed", "back", "quorum", 2, 2, 0);
    CL_ASSERT(v == 3, "version 3 after a write and a delete, got %llu", (unsigned long long)v);
    get_ok(0, "doomed", "back", 3, "quorum", 2, 3);
    ringkv_close(c);
}

Test(cluster, sequential_conditional_puts_through_different_nodes_see_one_version_sequence)
{
    start(3, NULL);
    struct test_cluster_resp r;
    bool ok = test_cluster_put(&cl, 0, "cas", 3, "a", 1, "quorum", ",\"if_version\":0", &r);
    CL_ASSERT(ok && r.status == 200 && r.version == 1, "create-only put: 200 version 1, got %d %s", r.status, r.body);
    test_cluster_resp_free(&r);
    ok = test_cluster_put(&cl, 1, "cas", 3, "b", 1, "quorum", ",\"if_version\":0", &r);
    CL_ASSERT(ok && r.status == 412 && strcmp(r.error, "version_mismatch") == 0 && strstr(r.body, "\"current_version\":1"),
              "a second create-only put through another node: 412 current_version 1, got %d %s", r.status, r.body);
    expect_cons(&r, "quorum", 2, 2, 0);
    test_cluster_resp_free(&r);
    ok = test_cluster_put(&cl, 2, "cas", 3, "c", 1, "quorum", ",\"if_version\":1", &r);
    CL_ASSERT(ok && r.status == 200 && r.version == 2, "if_version 1 through node 2: 200 version 2, got %d %s", r.status,
              r.body);
    test_cluster_resp_free(&r);
    ok = test_cluster_put(&cl, 0, "cas", 3, "d", 1, "quorum", ",\"if_version\":1", &r);
    CL_ASSERT(ok && r.status == 412 && strstr(r.body, "\"current_version\":2"),
              "a stale if_version through node 0: 412 current_version 2, got %d %s", r.status, r.body);
    test_cluster_resp_free(&r);
    get_ok(1, "cas", "c", 2, "quorum", 2, 3);

    /* The binary protocol: VERSION_MISMATCH carries the current version. */
    ringkv_client *c = bin_connect(1);
    struct ringkv_options o = level_opts(RINGKV_QUORUM);
    o.if_version_set = 1;
    o.if_version = 1;
    struct ringkv_reply br;
    enum ringkv_err rc = ringkv_put(c, "cas", 3, "e", 1, &o, &br);
    CL_ASSERT(rc == RINGKV_VERSION_MISMATCH && br.version == 2, "binary stale if_version: mismatch at 2, got %s %llu",
              ringkv_strerror(rc), (unsigned long long)br.version);
    o.if_version = 2;
    rc = ringkv_put(c, "cas", 3, "f", 1, &o, &br);
    CL_ASSERT(rc == RINGKV_OK && br.version == 3, "binary if_version 2: ok version 3, got %s %llu", ringkv_strerror(rc),
              (unsigned long long)br.version);
    ringkv_close(c);
    get_ok(2, "cas", "f", 3, "all", 3, 3);
}

/* ---- nodes down ---- */

Test(cluster, one_node_killed_quorum_and_one_succeed_and_all_is_unavailable_with_two_of_three)
{
    start(3, NULL);
    put_ok(0, "before", "old", "all", 3, 3, 0);
    kill_node(2);
    settle();
    enum { KEYS = 20 };
    char key[32], val[64];
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "down-%d", k);
        snprintf(val, sizeof val, "quorum-%d", k);
        uint64_t v = put_ok((unsigned)k % 2u, key, val, "quorum", 2, 2, 1);
        get_ok((unsigned)(k + 1) % 2u, key, val, v, "quorum", 2, 2);
        /* all: the two live replicas answer, the dead one cannot; a hint for it (held on the
         * coordinator's node: no node lies past the list in a ring of three) does not count
         * toward W without --sloppy-quorum. */
        struct test_cluster_resp r = put(0, key, "at-all", "all");
        expect_unavailable(&r, "all", 2, 3, 1, "PUT at all with a replica dead");
        r = get(1, key, "all");
        expect_unavailable(&r, "all", 2, 3, 0, "GET at all with a replica dead");
        snprintf(val, sizeof val, "one-%d", k);
        put_ok(1, key, val, "one", 1, 1, 1);
        /* Both live replicas are read at quorum, so the write at one is seen. */
        get_ok(0, key, val, 0, "quorum", 2, 2);
    }
    /* The binary protocol reports the same counts. */
    ringkv_client *c = bin_connect(1);
    struct ringkv_options all = level_opts(RINGKV_ALL), q = level_opts(RINGKV_QUORUM);
    struct ringkv_reply br;
    enum ringkv_err rc = ringkv_put(c, "down-bin", 8, "x", 1, &all, &br);
    CL_ASSERT(rc == RINGKV_UNAVAILABLE && br.acked == 2 && br.needed == 3 && br.hinted <= 1,
              "binary PUT at all: UNAVAILABLE acked 2/3, got %s acked %u/%u hinted %u", ringkv_strerror(rc), br.acked,
              br.needed, br.hinted);
    rc = ringkv_put(c, "down-bin", 8, "y", 1, &q, &br);
    CL_ASSERT(rc == RINGKV_OK && br.acked == 2 && br.needed == 2, "binary PUT at quorum: %s acked %u/%u",
              ringkv_strerror(rc), br.acked, br.needed);
    ringkv_close(c);

    /* Back: the restarted node coordinates quorum reads of what it missed (the newest of the
     * two replicas it reads wins), and all is met again. */
    restart_node(2);
    settle();
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "down-%d", k);
        snprintf(val, sizeof val, "one-%d", k);
        get_ok(2, key, val, 0, "quorum", 2, 3);
    }
    get_ok(2, "down-bin", "y", 0, "quorum", 2, 3);
    get_ok(2, "before", "old", 1, "quorum", 2, 3);
    put_ok(2, "after", "all-again", "all", 3, 3, 0);
    get_ok(0, "after", "all-again", 1, "all", 3, 3);
}

Test(cluster, two_of_three_killed_quorum_is_unavailable_and_one_succeeds)
{
    start(3, NULL);
    put_ok(0, "survivor", "v1", "quorum", 2, 2, 0);
    kill_node(1);
    kill_node(2);
    settle();
    struct test_cluster_resp r = put(0, "survivor", "v2", "quorum");
    expect_unavailable(&r, "quorum", 1, 2, 2, "PUT at quorum with two of three dead");
    r = get(0, "survivor", "quorum");
    expect_unavailable(&r, "quorum", 1, 2, 0, "GET at quorum with two of three dead");
    r = del(0, "survivor", "quorum");
    expect_unavailable(&r, "quorum", 1, 2, 2, "DELETE at quorum with two of three dead");
    r = put(0, "survivor", "v3", "all");
    expect_unavailable(&r, "all", 1, 3, 2, "PUT at all with two of three dead");

    put_ok(0, "survivor", "v4", "one", 1, 1, 2);
    get_ok(0, "survivor", "v4", 0, "one", 1, 1);
    put_ok(0, "lonely", "only-here", "one", 1, 1, 2);

    ringkv_client *c = bin_connect(0);
    struct ringkv_options q = level_opts(RINGKV_QUORUM), one = level_opts(RINGKV_ONE);
    struct ringkv_reply br;
    enum ringkv_err rc = ringkv_get(c, "survivor", 8, &q, &br);
    CL_ASSERT(rc == RINGKV_UNAVAILABLE && br.acked == 1 && br.needed == 2,
              "binary GET at quorum: UNAVAILABLE acked 1/2, got %s acked %u/%u", ringkv_strerror(rc), br.acked, br.needed);
    rc = ringkv_get(c, "survivor", 8, &one, &br);
    CL_ASSERT(rc == RINGKV_OK && br.acked == 1 && br.needed == 1 && br.value_bytes == 2 && memcmp(br.value, "v4", 2) == 0,
              "binary GET at one: v4 acked 1/1, got %s", ringkv_strerror(rc));
    ringkv_close(c);

    /* Both back: a read at all meets the one replica that has the writes, and it wins. */
    restart_node(1);
    restart_node(2);
    settle();
    get_ok(1, "survivor", "v4", 0, "all", 3, 3);
    get_ok(2, "lonely", "only-here", 1, "all", 3, 3);
    put_ok(2, "survivor", "v5", "quorum", 2, 2, 0);
}

Test(cluster, quorum_read_repairs_a_replica_that_missed_writes_without_hinted_handoff)
{
    start(3, "--hinted-handoff off");
    kill_node(2);
    settle();
    enum { KEYS = 20 };
    char key[32], val[64];
    uint64_t ver[KEYS];
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "repair-%d", k);
        snprintf(val, sizeof val, "missed-by-n2-%d", k);
        ver[k] = put_ok(0, key, val, "quorum", 2, 2, 0);
    }
    restart_node(2);
    settle();
    /* Node 2 coordinates quorum reads of the even keys: its own replica is stale, so it is
     * repaired (before the answer, or just after it when the other two answered first). The
     * odd keys are not read. */
    for (int k = 0; k < KEYS; k += 2) {
        snprintf(key, sizeof key, "repair-%d", k);
        snprintf(val, sizeof val, "missed-by-n2-%d", k);
        get_ok(2, key, val, ver[k], "quorum", 2, 3);
    }
    /* Alone, node 2 shows what it holds: every repaired key (its own local repair lands
     * within a few turns; the deadline only bounds the wait), and none of the others, which
     * neither hints nor repairs brought it. */
    kill_node(0);
    kill_node(1);
    settle();
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "repair-%d", k);
        snprintf(val, sizeof val, "missed-by-n2-%d", k);
        if (k % 2 == 0) {
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (;;) {
                struct test_cluster_resp r = get(2, key, "one");
                bool done = r.status == 200;
                if (done) {
                    expect_cons(&r, "one", 1, 1, 0);
                    CL_ASSERT(r.has_value && r.value_bytes == strlen(val) && memcmp(r.value, val, r.value_bytes) == 0 &&
                                  r.version == ver[k],
                              "the repaired %s holds the value at version %llu: %s", key, (unsigned long long)ver[k],
                              r.body);
                }
                test_cluster_resp_free(&r);
                if (done)
                    break;
                struct timespec t;
                clock_gettime(CLOCK_MONOTONIC, &t);
                CL_ASSERT(t.tv_sec - t0.tv_sec < 10, "node 2 holds the repaired %s within 10 s", key);
                usleep(20000);
            }
        } else {
            struct test_cluster_resp r = get(2, key, "one");
            expect_status(&r, 404, "a key node 2 missed and nobody repaired");
            expect_cons(&r, "one", 1, 1, 0);
            test_cluster_resp_free(&r);
        }
    }
}

/* ---- five nodes, RF 3 ---- */

Test(cluster, five_nodes_share_the_ring_and_every_write_at_all_has_three_replicas)
{
    start(5, NULL);
    struct test_cluster_resp r;
    bool ok = test_cluster_http(&cl, 3, "GET", "/health", NULL, &r);
    CL_ASSERT(ok && r.status == 200, "GET /health");
    double sum = 0;
    unsigned owners = 0;
    for (const char *p = strstr(r.body, "\"tokens_owned\":"); p != NULL; p = strstr(p + 1, "\"tokens_owned\":")) {
        double f = strtod(p + strlen("\"tokens_owned\":"), NULL);
        CL_ASSERT(f > 0.05 && f < 0.5, "every node owns a fair share of the ring: %s", r.body);
        sum += f;
        owners++;
    }
    CL_ASSERT(owners == 5 && sum > 0.99 && sum < 1.01, "five shares that add up to the ring: %s", r.body);
    test_cluster_resp_free(&r);

    char key[32], val[32];
    for (int k = 0; k < 40; k++) {
        snprintf(key, sizeof key, "five-%d", k);
        snprintf(val, sizeof val, "v%d", k);
        put_ok((unsigned)k % 5u, key, val, "all", 3, 3, 0);
        get_ok((unsigned)(k + 2) % 5u, key, val, 1, "all", 3, 3);
    }
}

Test(cluster, with_two_of_five_down_exactly_the_keys_with_two_replicas_among_them_are_unavailable_at_quorum)
{
    start(5, NULL);
    enum { KEYS = 60 };
    char key[32];
    unsigned rep[TEST_CLUSTER_NODES_MAX];
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "ring-%d", k);
        put_ok((unsigned)k % 5u, key, "before", "all", 3, 3, 0);
    }
    kill_node(0);
    kill_node(1);
    settle();
    unsigned by_dead[3] = { 0, 0, 0 };
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "ring-%d", k);
        unsigned n = test_cluster_replicas(&cl, key, strlen(key), 3, rep);
        CL_ASSERT(n == 3, "three replicas of %s on the ring", key);
        unsigned dead = 0;
        for (unsigned j = 0; j < n; j++)
            dead += rep[j] <= 1u;
        by_dead[dead]++;
        unsigned via = 2u + (unsigned)k % 3u;
        struct test_cluster_resp r = put(via, key, "after", "quorum");
        if (dead <= 1) {
            expect_status(&r, 200, "PUT at quorum with at most one replica dead");
            /* A hint for the dead replica may be acknowledged too (hinted 0 or 1). */
            CL_ASSERT(r.has_consistency && r.acked == 2 && r.needed == 2 && r.hinted <= dead,
                      "%s: acked=2/2, got %s", key, r.body);
            test_cluster_resp_free(&r);
            r = get(2u + (unsigned)(k + 1) % 3u, key, "quorum");
            expect_status(&r, 200, "GET at quorum with at most one replica dead");
            CL_ASSERT(r.has_value && r.value_bytes == 5 && memcmp(r.value, "after", 5) == 0, "%s reads back", key);
        } else {
            expect_status(&r, 503, "PUT at quorum with two replicas dead");
            CL_ASSERT(r.has_consistency && r.acked == 1 && r.needed == 2, "%s: acked=1/2, got requested=%s acked=%u/%u",
                      key, r.requested, r.acked, r.needed);
            test_cluster_resp_free(&r);
            r = get(2u + (unsigned)(k + 1) % 3u, key, "one");
            expect_status(&r, 200, "GET at one with one replica alive");
        }
        test_cluster_resp_free(&r);
        r = get(2u + (unsigned)(k + 2) % 3u, key, "all");
        if (dead == 0) {
            expect_status(&r, 200, "GET at all with every replica alive");
            expect_cons(&r, "all", 3, 3, 0);
            test_cluster_resp_free(&r);
        } else {
            expect_unavailable(&r, "all", 3u - dead, 3, 0, "GET at all with replicas dead");
        }
    }
    /* The keys cover every case, so the check above says something about each. */
    cr_log_info("keys with 0, 1, 2 replicas on the dead nodes: %u, %u, %u", by_dead[0], by_dead[1], by_dead[2]);
    CL_ASSERT(by_dead[0] > 0 && by_dead[1] > 0 && by_dead[2] > 0, "every case is met: %u %u %u", by_dead[0], by_dead[1],
              by_dead[2]);
}

Test(cluster, five_nodes_serve_quorum_traffic_with_any_one_node_killed, .timeout = 150)
{
    start(5, NULL);
    enum { KEYS = 15 };
    char key[32], val[48];
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "base-%d", k);
        put_ok((unsigned)k % 5u, key, "base", "quorum", 2, 2, 0);
    }
    for (unsigned victim = 0; victim < 5; victim++) {
        kill_node(victim);
        settle();
        for (int k = 0; k < KEYS; k++) {
            unsigned via = (victim + 1u + (unsigned)k % 4u) % 5u, reader = (victim + 1u + (unsigned)(k + 1) % 4u) % 5u;
            snprintf(key, sizeof key, "turn-%u-%d", victim, k);
            snprintf(val, sizeof val, "written-while-%u-was-down", victim);
            struct test_cluster_resp r = put(via, key, val, "quorum");
            unsigned rep[TEST_CLUSTER_NODES_MAX];
            unsigned n = test_cluster_replicas(&cl, key, strlen(key), 3, rep);
            CL_ASSERT(r.status == 200,
                      "PUT %s at quorum through n%u with n%u dead (replicas n%u n%u n%u): status %d, expected 200 (%s)",
                      key, via, victim, n > 0 ? rep[0] : 9u, n > 1 ? rep[1] : 9u, n > 2 ? rep[2] : 9u, r.status, r.body);
            CL_ASSERT(r.has_consistency && r.acked == 2 && r.needed == 2, "acked=2/2: %s", r.body);
            test_cluster_resp_free(&r);
            get_ok(reader, key, val, 1, "quorum", 2, 3);
            snprintf(key, sizeof key, "base-%d", k);
            get_ok(reader, key, "base", 1, "quorum", 2, 3);
        }
        restart_node(victim);
        settle();
    }
    /* Everything written while some node was down reads back at quorum through every node. */
    for (unsigned victim = 0; victim < 5; victim++) {
        snprintf(val, sizeof val, "written-while-%u-was-down", victim);
        for (int k = 0; k < KEYS; k += 5) {
            snprintf(key, sizeof key, "turn-%u-%d", victim, k);
            get_ok(victim, key, val, 1, "quorum", 2, 3);
        }
    }
}

/* ---- what is refused, and the limits ---- */

Test(cluster, not_formed_until_every_seed_answers_and_kv_requests_are_unavailable)
{
    bool ok = test_cluster_init(&cl, 3, NULL) && test_cluster_spawn(&cl, 0);
    CL_ASSERT(ok, "node 0 started alone");
    struct test_cluster_resp r;
    ok = test_cluster_http(&cl, 0, "GET", "/health", NULL, &r);
    CL_ASSERT(ok && r.status == 200 && strstr(r.body, "\"formed\":false") != NULL, "not formed: %s", r.body);
    test_cluster_resp_free(&r);
    r = put(0, "early", "x", "one");
    expect_status(&r, 503, "PUT before the cluster formed");
    CL_ASSERT(strcmp(r.error, "unavailable") == 0, "unavailable: %s", r.body);
    test_cluster_resp_free(&r);
    r = get(0, "early", "one");
    expect_status(&r, 503, "GET before the cluster formed");
    test_cluster_resp_free(&r);
    ok = test_cluster_spawn(&cl, 1) && test_cluster_spawn(&cl, 2);
    CL_ASSERT(ok, "nodes 1 and 2 started");
    settle();
    put_ok(0, "early", "x", "quorum", 2, 2, 0);
}

Test(cluster, bad_input_through_a_cluster_node_gets_the_same_clear_errors)
{
    start(3, NULL);
    char k256[257], k257[258];
    memset(k256, 'k', 256);
    k256[256] = '\0';
    memset(k257, 'k', 257);
    k257[257] = '\0';

    struct test_cluster_resp r = put(1, k257, "x", "quorum");
    expect_status(&r, 400, "PUT of a 257-byte key");
    CL_ASSERT(strcmp(r.error, "key_too_long") == 0 && !r.has_consistency, "key_too_long, no consistency header: %s",
              r.body);
    test_cluster_resp_free(&r);
    r = get(2, k257, "quorum");
    expect_status(&r, 400, "GET of a 257-byte key");
    CL_ASSERT(strcmp(r.error, "key_too_long") == 0, "key_too_long: %s", r.body);
    test_cluster_resp_free(&r);
    /* The boundary itself replicates. */
    put_ok(1, k256, "longest", "quorum", 2, 2, 0);
    get_ok(0, k256, "longest", 1, "all", 3, 3);

    bool ok = test_cluster_http(&cl, 0, "GET", "/kv/", NULL, &r);
    CL_ASSERT(ok && r.status == 400 && strcmp(r.error, "key_empty") == 0, "key_empty: %d %s", r.status, r.body);
    test_cluster_resp_free(&r);
    r = get(0, "any", "most");
    expect_status(&r, 400, "an unknown level");
    CL_ASSERT(strcmp(r.error, "bad_consistency") == 0 && !r.has_consistency, "bad_consistency: %s", r.body);
    test_cluster_resp_free(&r);
    ok = test_cluster_http(&cl, 2, "PUT", "/kv/a", "{\"value\":\"YQ\"}", &r);
    CL_ASSERT(ok && r.status == 400 && strcmp(r.error, "bad_base64") == 0, "bad_base64: %d %s", r.status, r.body);
    test_cluster_resp_free(&r);

    /* The binary protocol: the same refusals by status. */
    ringkv_client *c = bin_connect(2);
    uint32_t id;
    struct ringkv_reply br;
    CL_ASSERT(ringkv_send_put(c, k257, 257, "x", 1, NULL, &id) == RINGKV_OK && ringkv_recv(c, &br) == RINGKV_OK,
              "a reply to a 257-byte key");
    CL_ASSERT(br.request_id == id && br.status == RINGKV_KEY_TOO_LONG, "KEY_TOO_LONG, got %s",
              ringkv_strerror(br.status));
    CL_ASSERT(ringkv_send_get(c, "", 0, NULL, &id) == RINGKV_OK && ringkv_recv(c, &br) == RINGKV_OK, "a reply");
    CL_ASSERT(br.status == RINGKV_KEY_EMPTY, "KEY_EMPTY, got %s", ringkv_strerror(br.status));
    /* The connection still serves. */
    enum ringkv_err rc = ringkv_get(c, k256, 256, NULL, &br);
    CL_ASSERT(rc == RINGKV_OK && br.value_bytes == 7, "the 256-byte key reads back: %s", ringkv_strerror(rc));
    ringkv_close(c);
}

Test(cluster, a_value_of_one_mib_replicates_to_every_replica)
{
    start(3, NULL);
    enum { MIB = 1 << 20 };
    uint8_t *v = malloc(MIB);
    cr_assert_not_null(v);
    for (size_t i = 0; i < MIB; i++)
        v[i] = (uint8_t)(i * 31u + 7u);
    struct test_cluster_resp r;
    bool ok = test_cluster_put(&cl, 0, "big", 3, v, MIB, "all", NULL, &r);
    CL_ASSERT(ok && r.status == 200, "PUT of 1 MiB at all: %d %s", r.status, r.body);
    expect_cons(&r, "all", 3, 3, 0);
    test_cluster_resp_free(&r);
    ok = test_cluster_get(&cl, 1, "big", 3, "all", &r);
    CL_ASSERT(ok && r.status == 200 && r.has_value && r.value_bytes == MIB && memcmp(r.value, v, MIB) == 0,
              "GET of 1 MiB at all through another node: %d", r.status);
    test_cluster_resp_free(&r);
    ringkv_client *c = bin_connect(2);
    struct ringkv_options all = level_opts(RINGKV_ALL);
    struct ringkv_reply br;
    enum ringkv_err rc = ringkv_get(c, "big", 3, &all, &br);
    CL_ASSERT(rc == RINGKV_OK && br.value_bytes == MIB && memcmp(br.value, v, MIB) == 0 && br.acked == 3,
              "binary GET of 1 MiB at all: %s", ringkv_strerror(rc));
    ringkv_close(c);
    /* One byte more is refused before any replica is asked. */
    uint8_t *v1 = malloc(MIB + 1u);
    cr_assert_not_null(v1);
    memcpy(v1, v, MIB);
    v1[MIB] = 1;
    ok = test_cluster_put(&cl, 2, "big", 3, v1, MIB + 1u, "quorum", NULL, &r);
    CL_ASSERT(ok && r.status == 413 && strcmp(r.error, "value_too_long") == 0 && !r.has_consistency,
              "1 MiB + 1: 413 value_too_long, got %d %s", r.status, r.body);
    test_cluster_resp_free(&r);
    free(v1);
    free(v);
}
