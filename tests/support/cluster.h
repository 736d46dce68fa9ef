/* Test support: a cluster of real ringkv processes on 127.0.0.1. Node i is "nI" with its
 * own data directory and log under one temp tree (/tmp/ringkv-cluster-*), two shards, small
 * caches and no pinning; every node names every other node's peer address as a seed. The
 * helpers start, kill, stop and restart single nodes, wait (always with a deadline) until
 * the nodes agree on who is up, and drive the HTTP API of any node, returning the status,
 * the parsed X-Ringkv-Consistency header and the body. Owner: the test that started the
 * cluster; it is not thread-safe (the KV helpers may run on several threads at once, the
 * process control may not). Start and restart nodes from the test's own thread: a node is
 * killed when the thread that started it exits (PR_SET_PDEATHSIG), so that a test killed by
 * its timeout leaves no server running. */
#ifndef RKV_TEST_SUPPORT_CLUSTER_H
#define RKV_TEST_SUPPORT_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TEST_CLUSTER_NODES_MAX 8u
/* Shards per node: the peer port of shard s is the node's peer port + s. */
#define TEST_CLUSTER_SHARDS 2u
/* Ports per node: binary, HTTP, then one peer port per shard. */
#define TEST_CLUSTER_PORTS_PER_NODE (2u + TEST_CLUSTER_SHARDS)

/* One node. Owner: its struct test_cluster. */
struct test_cluster_node {
    pid_t pid;             /* 0 while not running */
    char id[16];           /* "n0", "n1", ... */
    uint16_t port;         /* binary protocol */
    uint16_t http_port;
    uint16_t peer_port;    /* shard 0; shard s listens on peer_port + s */
    char addr[32];         /* "127.0.0.1:PORT" of the binary protocol */
    char http_addr[32];
    char peer_addr[32];
    char dir[160];         /* this node's directory: data/ and server.log inside */
    char log_path[192];
};

struct ringmap;

struct test_cluster {
    unsigned count;
    struct ringmap *ring;  /* built by test_cluster_replicas() on first use */
    char dir[64];          /* the temp tree of the whole cluster */
    char args[512];        /* extra flags for every node, reused by restarts */
    struct test_cluster_node node[TEST_CLUSTER_NODES_MAX];
};

/* Picks ports and makes the temp tree for count nodes (1..TEST_CLUSTER_NODES_MAX) without
 * starting any. extra_args (may be NULL) are added to every node's command line after the
 * defaults, split at spaces: e.g. "--rf 3 --hinted-handoff off". The defaults are --shards 2,
 * --rf 3, --request-timeout 1000, --cache-size 200M, --row-cache-size 16M and --no-pin.
 * Ports come from below the kernel's ephemeral range, so that the nodes' own outgoing peer
 * connections never hold a port a node must listen on after a restart. */
bool test_cluster_init(struct test_cluster *c, unsigned count, const char *extra_args);
/* Starts node i (not running) and waits up to 10 s until its HTTP API answers /health.
 * False when it exits or does not answer in time (it is killed then). */
bool test_cluster_spawn(struct test_cluster *c, unsigned i);
/* test_cluster_init, every node spawned, then test_cluster_wait_settled() (30 s). */
bool test_cluster_start(struct test_cluster *c, unsigned count, const char *extra_args);
/* Waits up to timeout_ms until every running node's /health says "formed" and lists every
 * node of the cluster, up exactly when it is running. False on timeout. */
bool test_cluster_wait_settled(struct test_cluster *c, int timeout_ms);
/* SIGKILL node i and reap it (nothing when it is not running). */
void test_cluster_kill(struct test_cluster *c, unsigned i);
/* SIGTERM node i and wait at most 20 s (then SIGKILL): its exit status, or -1 when it did
 * not exit by itself. */
int test_cluster_stop(struct test_cluster *c, unsigned i);
/* Starts node i again on its ports and data (after a kill or a stop): test_cluster_spawn(). */
bool test_cluster_restart(struct test_cluster *c, unsigned i);
/* Kills every node and removes the temp tree. Safe to call twice and on a zeroed struct. */
void test_cluster_cleanup(struct test_cluster *c);
/* Writes the last lines of every node's log to stderr (for a failing test's diagnosis). */
void test_cluster_dump_logs(const struct test_cluster *c, unsigned lines);

/* One HTTP answer. body and value are malloc'd; free with test_cluster_resp_free(). */
struct test_cluster_resp {
    int status;                 /* 0 when no whole answer came (connect, send or read failed) */
    bool has_consistency;       /* X-Ringkv-Consistency was present and parsed */
    char requested[16];         /* its fields */
    unsigned acked, needed, hinted;
    char *body;                 /* NUL-terminated; never NULL after a call */
    size_t body_bytes;
    /* From a JSON object body, when it has them: */
    char error[40];             /* "error", or "" */
    bool has_version;
    uint64_t version;
    bool has_value;             /* "value" decoded from base64 */
    uint8_t *value;
    size_t value_bytes;
};
void test_cluster_resp_free(struct test_cluster_resp *r);

/* PUT /kv/{key} on node i's HTTP port with the value base64-encoded. level (NULL: none)
 * goes in the query; extra_json (NULL: none) is appended inside the body's object, e.g.
 * ",\"if_version\":3". The key is percent-encoded byte by byte. Returns true when an answer
 * came (*out filled either way; free it). */
bool test_cluster_put(const struct test_cluster *c, unsigned i, const void *key, size_t key_bytes, const void *value,
                      size_t value_bytes, const char *level, const char *extra_json, struct test_cluster_resp *out);
bool test_cluster_get(const struct test_cluster *c, unsigned i, const void *key, size_t key_bytes, const char *level,
                      struct test_cluster_resp *out);
bool test_cluster_delete(const struct test_cluster *c, unsigned i, const void *key, size_t key_bytes,
                         const char *level, struct test_cluster_resp *out);
/* GET /debug/key/{key} on node i. */
bool test_cluster_debug_key(const struct test_cluster *c, unsigned i, const void *key, size_t key_bytes,
                            struct test_cluster_resp *out);
/* Any request: method, target (already encoded) and body (NULL: none). */
bool test_cluster_http(const struct test_cluster *c, unsigned i, const char *method, const char *target,
                       const char *body, struct test_cluster_resp *out);

/* The index of the node whose id is `id`, or -1. */
int test_cluster_index_of(const struct test_cluster *c, const char *id);

/* The preference list of key as the nodes compute it: the ring placed from the node ids
 * (every node with --shards 2 and the default --vnodes, as started here), then the first rf
 * distinct nodes clockwise from the key's token (ring/prefs.h). Writes node indexes, the
 * primary first, to idx_out and returns how many (min(rf, count)); 0 when the ring cannot
 * be built. The ring is built on the first call and freed by test_cluster_cleanup(). */
unsigned test_cluster_replicas(struct test_cluster *c, const void *key, size_t key_bytes, unsigned rf,
                               unsigned idx_out[TEST_CLUSTER_NODES_MAX]);

#endif
