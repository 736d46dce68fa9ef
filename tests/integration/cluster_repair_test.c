/* How a cluster of real ringkv processes brings replicas back in line, seen through
 * GET /debug/key/{key} (every replica's own record, and the hints every node holds):
 * writes acknowledged while a replica was down reach it by hinted handoff once it is back,
 * with the hint held on the next live node past the key's preference list (or on the
 * coordinator's node when there is none); without hints, a quorum read repairs it; every key
 * lives on the replicas that the ring computed from the node ids names, in preference-list
 * order; conditional puts run on the key's primary, so eight clients incrementing one counter
 * through all three nodes lose no increment and see nothing but version mismatches.
 * What works without these pieces is in cluster_test.c. Every wait has a deadline; no
 * assertion depends on how fast anything is. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/ringkv.h"
#include "ring/token.h"
#include "tests/support/cluster.h"

static struct test_cluster cl;

static void cluster_fini(void)
{
    test_cluster_cleanup(&cl);
}

TestSuite(cluster_repair, .fini = cluster_fini, .timeout = 120);

/* Liveness bounds, not measures of speed: nodes agreeing on who is up after a start, kill or
 * restart (reconnects back off up to 5 s), and replicas converging after a restart (hint
 * replay retries a failed round after 1 s). */
#define SETTLE_MS 30000
#define CONVERGE_MS 30000

#define CL_ASSERT(cond, ...)                                                                                           \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            test_cluster_dump_logs(&cl, 20);                                                                           \
            cr_assert(false, __VA_ARGS__);                                                                             \
        }                                                                                                              \
    } while (0)

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

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

static void restart_node(unsigned i)
{
    bool ok = test_cluster_restart(&cl, i);
    CL_ASSERT(ok, "node %u restarted", i);
}

/* A 200 quorum PUT through node via, acked by two replicas (hinted_max: how many hint
 * acknowledgements may also have come in by the answer); returns the version. */
static uint64_t put_quorum(unsigned via, const char *key, const char *value, unsigned hinted_max)
{
    struct test_cluster_resp r;
    bool ok = test_cluster_put(&cl, via, key, strlen(key), value, strlen(value), "quorum", NULL, &r);
    CL_ASSERT(ok && r.status == 200, "PUT %s through n%u: 200, got %d %s", key, via, r.status, r.body);
    CL_ASSERT(r.has_consistency && r.acked == 2 && r.needed == 2 && r.hinted <= hinted_max,
              "PUT %s: acked=2/2 hinted<=%u, got acked=%u/%u hinted=%u", key, hinted_max, r.acked, r.needed, r.hinted);
    CL_ASSERT(r.has_version, "a version: %s", r.body);
    uint64_t v = r.version;
    test_cluster_resp_free(&r);
    return v;
}

/* /debug/key/{key} through node via, parsed; the caller decrefs. Checks the fields every
 * answer has: the key, its token as 16 hex digits, replicas and hints arrays. */
static json_t *debug_key(unsigned via, const char *key)
{
    struct test_cluster_resp r;
    bool ok = test_cluster_debug_key(&cl, via, key, strlen(key), &r);
    CL_ASSERT(ok && r.status == 200, "GET /debug/key/%s through n%u: 200, got %d %s", key, via, r.status, r.body);
    json_error_t e;
    json_t *j = json_loadb(r.body, r.body_bytes, 0, &e);
    CL_ASSERT(json_is_object(j), "/debug/key answers a JSON object: %s", r.body);
    CL_ASSERT(json_is_string(json_object_get(j, "key")) && strcmp(json_string_value(json_object_get(j, "key")), key) == 0,
              "\"key\" is %s: %s", key, r.body);
    char token[32];
    snprintf(token, sizeof token, "%016llx", (unsigned long long)token_of_key((const uint8_t *)key, strlen(key)));
    json_t *t = json_object_get(j, "token");
    CL_ASSERT(json_is_string(t) && strcmp(json_string_value(t), token) == 0, "\"token\" is %s: %s", token, r.body);
    CL_ASSERT(json_is_array(json_object_get(j, "replicas")) && json_is_array(json_object_get(j, "hints")),
              "replicas and hints arrays: %s", r.body);
    test_cluster_resp_free(&r);
    return j;
}

/* The replica entry of node id in a /debug/key answer, or NULL. */
static json_t *replica_of(json_t *dk, const char *id)
{
    size_t i;
    json_t *rep;
    json_array_foreach(json_object_get(dk, "replicas"), i, rep) {
        json_t *node = json_object_get(rep, "node");
        if (json_is_string(node) && strcmp(json_string_value(node), id) == 0)
            return rep;
    }
    return NULL;
}

static const char *str_field(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : "";
}

static long long int_field(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* Whether the replica entry holds value (base64 in JSON) at version, status present. */
static bool replica_holds(json_t *rep, const char *value, uint64_t version)
{
    if (rep == NULL || strcmp(str_field(rep, "status"), "present") != 0 || int_field(rep, "version") != (long long)version)
        return false;
    const char *b64 = str_field(rep, "value");
    size_t n = strlen(value), cap = n * 4 / 3 + 8;
    char *want = malloc(cap);
    if (want == NULL)
        return false;
    /* Standard base64 with padding, as the API writes values. */
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t b = (uint32_t)(uint8_t)value[i] << 16;
        if (i + 1 < n) b |= (uint32_t)(uint8_t)value[i + 1] << 8;
        if (i + 2 < n) b |= (uint8_t)value[i + 2];
        want[o++] = abc[(b >> 18) & 63];
        want[o++] = abc[(b >> 12) & 63];
        want[o++] = i + 1 < n ? abc[(b >> 6) & 63] : '=';
        want[o++] = i + 2 < n ? abc[b & 63] : '=';
    }
    want[o] = '\0';
    bool same = strcmp(b64, want) == 0;
    free(want);
    return same;
}

/* The hint for target at version in a /debug/key answer, or NULL. */
static json_t *hint_for(json_t *dk, const char *target, uint64_t version)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(dk, "hints"), i, h) {
        if (strcmp(str_field(h, "target"), target) == 0 && int_field(h, "version") == (long long)version)
            return h;
    }
    return NULL;
}

/* ---- hinted handoff ---- */

enum { HINT_KEYS = 30 };

/* Kills `down`, writes HINT_KEYS keys at quorum through the others (every third one then
 * deleted), checks /debug/key while it is down (unreachable, and a hint for it with the
 * acknowledged version on the expected holder), restarts it, and waits until /debug/key
 * through the restarted node shows it holding every acknowledged write and no hint is left.
 * holder_of(key) names the node expected to hold the key's hint, or -1 when the key has no
 * replica on `down`. */
static void hints_round_trip(unsigned down, int (*holder_of)(const char *key, unsigned via))
{
    test_cluster_kill(&cl, down);
    settle();
    char key[32], val[48];
    uint64_t ver[HINT_KEYS];
    int holder[HINT_KEYS];
    unsigned live[TEST_CLUSTER_NODES_MAX], live_count = 0;
    for (unsigned i = 0; i < cl.count; i++)
        if (i != down)
            live[live_count++] = i;
    for (int k = 0; k < HINT_KEYS; k++) {
        unsigned via = live[(unsigned)k % live_count];
        snprintf(key, sizeof key, "hinted-%d", k);
        snprintf(val, sizeof val, "written-while-n%u-was-down-%d", down, k);
        ver[k] = put_quorum(via, key, val, 1);
        if (k % 3 == 2) {
            struct test_cluster_resp r;
            bool ok = test_cluster_delete(&cl, via, key, strlen(key), "quorum", &r);
            CL_ASSERT(ok && r.status == 204 && r.acked == 2 && r.needed == 2, "DELETE %s at quorum: 204 acked=2/2, got %d %s",
                      key, r.status, r.body);
            test_cluster_resp_free(&r);
            ver[k]++;
        }
        holder[k] = holder_of(key, via);
    }
    unsigned hinted_keys = 0;
    for (int k = 0; k < HINT_KEYS; k++) {
        if (holder[k] < 0)
            continue;
        hinted_keys++;
        snprintf(key, sizeof key, "hinted-%d", k);
        json_t *dk = debug_key(live[(unsigned)(k + 1) % live_count], key);
        json_t *rep = replica_of(dk, cl.node[down].id);
        CL_ASSERT(rep != NULL && strcmp(str_field(rep, "status"), "unreachable") == 0,
                  "%s: the dead replica %s is unreachable", key, cl.node[down].id);
        json_t *h = hint_for(dk, cl.node[down].id, ver[k]);
        char *s = json_dumps(dk, JSON_COMPACT);
        CL_ASSERT(h != NULL, "%s: a hint for %s at version %llu while it is down: %s", key, cl.node[down].id,
                  (unsigned long long)ver[k], s ? s : "?");
        CL_ASSERT(strcmp(str_field(h, "holder"), cl.node[holder[k]].id) == 0, "%s: the hint is held by %s: %s", key,
                  cl.node[holder[k]].id, s ? s : "?");
        free(s);
        json_decref(dk);
    }
    CL_ASSERT(hinted_keys > 0, "some keys have a replica on the dead node");

    restart_node(down);
    settle();
    uint64_t deadline = mono_ms() + CONVERGE_MS;
    for (int k = 0; k < HINT_KEYS; k++) {
        if (holder[k] < 0)
            continue;
        snprintf(key, sizeof key, "hinted-%d", k);
        snprintf(val, sizeof val, "written-while-n%u-was-down-%d", down, k);
        for (;;) {
            json_t *dk = debug_key(down, key);
            json_t *rep = replica_of(dk, cl.node[down].id);
            bool has = k % 3 == 2 ? rep != NULL && strcmp(str_field(rep, "status"), "tombstone") == 0 &&
                                        int_field(rep, "version") == (long long)ver[k]
                                  : replica_holds(rep, val, ver[k]);
            bool done = has && json_array_size(json_object_get(dk, "hints")) == 0;
            if (!done && mono_ms() >= deadline) {
                char *s = json_dumps(dk, JSON_COMPACT);
                CL_ASSERT(false, "%s: the restarted %s holds version %llu (%s) and no hint is left, within %d ms: %s", key,
                          cl.node[down].id, (unsigned long long)ver[k], k % 3 == 2 ? "a tombstone" : val, CONVERGE_MS,
                          s ? s : "?");
            }
            json_decref(dk);
            if (done)
                break;
            usleep(50000);
        }
    }
}

/* In a cluster of RF nodes no node lies past a key's list: the coordinator's node holds it. */
static int holder_is_coordinator(const char *key, unsigned via)
{
    (void)key;
    return (int)via;
}

Test(cluster_repair, writes_acknowledged_while_a_replica_was_down_reach_it_by_hints_in_three_nodes)
{
    start(3, NULL);
    hints_round_trip(2, holder_is_coordinator);
}

/* Four nodes, RF 3: a key with a replica on the dead node has exactly one live node outside
 * its list, which holds the hint. */
static unsigned four_down;
static int holder_past_the_list(const char *key, unsigned via)
{
    (void)via;
    unsigned rep[TEST_CLUSTER_NODES_MAX];
    unsigned n = test_cluster_replicas(&cl, key, strlen(key), 3, rep);
    bool in[TEST_CLUSTER_NODES_MAX] = { false };
    for (unsigned j = 0; j < n; j++)
        in[rep[j]] = true;
    if (!in[four_down])
        return -1;
    for (unsigned i = 0; i < cl.count; i++)
        if (!in[i])
            return (int)i;
    return -1;
}

Test(cluster_repair, hints_are_held_by_the_next_live_node_past_the_list_in_four_nodes)
{
    start(4, NULL);
    four_down = 1;
    hints_round_trip(four_down, holder_past_the_list);
}

/* ---- read repair ---- */

Test(cluster_repair, without_hints_a_quorum_read_repairs_the_replica_that_missed_writes)
{
    start(3, "--hinted-handoff off");
    test_cluster_kill(&cl, 2);
    settle();
    enum { KEYS = 20 };
    char key[32], val[48];
    uint64_t ver[KEYS];
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "stale-%d", k);
        snprintf(val, sizeof val, "missed-by-n2-%d", k);
        ver[k] = put_quorum((unsigned)k % 2u, key, val, 0);
        json_t *dk = debug_key(0, key);
        json_t *rep = replica_of(dk, "n2");
        CL_ASSERT(rep != NULL && strcmp(str_field(rep, "status"), "unreachable") == 0, "%s: n2 unreachable", key);
        CL_ASSERT(json_array_size(json_object_get(dk, "hints")) == 0, "%s: no hints with --hinted-handoff off", key);
        json_decref(dk);
    }
    restart_node(2);
    settle();
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "stale-%d", k);
        snprintf(val, sizeof val, "missed-by-n2-%d", k);
        json_t *dk = debug_key(1, key);
        CL_ASSERT(json_array_size(json_object_get(dk, "replicas")) == 3, "%s: three replicas", key);
        CL_ASSERT(strcmp(str_field(replica_of(dk, "n2"), "status"), "absent") == 0, "%s: n2 missed it", key);
        CL_ASSERT(replica_holds(replica_of(dk, "n0"), val, ver[k]) && replica_holds(replica_of(dk, "n1"), val, ver[k]),
                  "%s: n0 and n1 hold version %llu", key, (unsigned long long)ver[k]);
        json_decref(dk);
        struct test_cluster_resp r;
        bool ok = test_cluster_get(&cl, (unsigned)k % 3u, key, strlen(key), "quorum", &r);
        CL_ASSERT(ok && r.status == 200 && r.has_value && r.value_bytes == strlen(val) &&
                      memcmp(r.value, val, r.value_bytes) == 0 && r.version == ver[k],
                  "quorum GET %s: the value at version %llu, got %d %s", key, (unsigned long long)ver[k], r.status, r.body);
        test_cluster_resp_free(&r);
    }
    /* The repair is sent before the answer when n2's stale answer is among the first two,
     * just after it otherwise: wait for it, within a deadline. */
    uint64_t deadline = mono_ms() + CONVERGE_MS;
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "stale-%d", k);
        snprintf(val, sizeof val, "missed-by-n2-%d", k);
        for (;;) {
            json_t *dk = debug_key(2, key);
            bool done = replica_holds(replica_of(dk, "n2"), val, ver[k]);
            if (!done && mono_ms() >= deadline) {
                char *s = json_dumps(dk, JSON_COMPACT);
                CL_ASSERT(false, "%s: n2 repaired to version %llu within %d ms: %s", key, (unsigned long long)ver[k],
                          CONVERGE_MS, s ? s : "?");
            }
            json_decref(dk);
            if (done)
                break;
            usleep(50000);
        }
    }
}

/* ---- placement ---- */

Test(cluster_repair, every_key_lives_on_the_three_replicas_the_ring_names_in_order)
{
    start(5, NULL);
    enum { KEYS = 40 };
    char key[32], val[32];
    unsigned holds[TEST_CLUSTER_NODES_MAX] = { 0 };
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "placed-%d", k);
        snprintf(val, sizeof val, "v%d", k);
        struct test_cluster_resp r;
        bool ok = test_cluster_put(&cl, (unsigned)k % 5u, key, strlen(key), val, strlen(val), "all", NULL, &r);
        CL_ASSERT(ok && r.status == 200 && r.acked == 3 && r.needed == 3, "PUT %s at all: acked=3/3, got %d %s", key,
                  r.status, r.body);
        test_cluster_resp_free(&r);
    }
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "placed-%d", k);
        snprintf(val, sizeof val, "v%d", k);
        unsigned rep[TEST_CLUSTER_NODES_MAX];
        unsigned n = test_cluster_replicas(&cl, key, strlen(key), 3, rep);
        CL_ASSERT(n == 3, "three replicas of %s on the ring", key);
        for (unsigned j = 0; j < n; j++)
            holds[rep[j]]++;
        json_t *dk = debug_key((unsigned)(k + 3) % 5u, key);
        json_t *reps = json_object_get(dk, "replicas");
        char *s = json_dumps(dk, JSON_COMPACT);
        CL_ASSERT(json_array_size(reps) == 3, "%s: three replicas: %s", key, s);
        for (unsigned j = 0; j < 3; j++) {
            json_t *e = json_array_get(reps, j);
            CL_ASSERT(strcmp(str_field(e, "node"), cl.node[rep[j]].id) == 0,
                      "%s: replica %u is %s as the ring says: %s", key, j, cl.node[rep[j]].id, s);
            CL_ASSERT(replica_holds(e, val, 1), "%s: %s holds version 1: %s", key, cl.node[rep[j]].id, s);
        }
        CL_ASSERT(json_array_size(json_object_get(dk, "hints")) == 0, "%s: no hints: %s", key, s);
        free(s);
        json_decref(dk);
    }
    /* Forty keys over five nodes: every node holds replicas of some. */
    for (unsigned i = 0; i < 5; i++)
        CL_ASSERT(holds[i] > 0, "n%u holds a replica of some key", i);
}

/* ---- conditional puts ---- */

enum { CAS_CLIENTS = 8, CAS_INCREMENTS = 200, CAS_ATTEMPTS_MAX = 100000 };
/* A liveness bound on the whole run, not a speed requirement. */
#define CAS_DEADLINE_MS 100000u

struct cas_client {
    unsigned node;
    uint64_t deadline_ms;
    int done;                       /* increments that succeeded */
    int mismatches;                 /* conditional puts refused with VERSION_MISMATCH */
    int other;                      /* any other failure, of the read or the put */
    enum ringkv_err first_other;
    bool first_other_on_put;
    bool gave_up;
};

static void *cas_main(void *arg)
{
    struct cas_client *w = arg;
    enum ringkv_err err;
    ringkv_client *c = ringkv_connect(cl.node[w->node].addr, 10000, &err);
    if (c == NULL) {
        w->other++;
        w->first_other = err;
        w->gave_up = true;
        return NULL;
    }
    struct ringkv_options q = ringkv_options_default();
    q.consistency = RINGKV_QUORUM;
    int attempts = 0;
    while (w->done < CAS_INCREMENTS) {
        if (++attempts > CAS_ATTEMPTS_MAX || mono_ms() > w->deadline_ms) {
            w->gave_up = true;
            break;
        }
        struct ringkv_reply r;
        enum ringkv_err rc = ringkv_get(c, "counter", 7, &q, &r);
        if (rc != RINGKV_OK || r.value_bytes == 0 || r.value_bytes > 15) {
            if (w->other++ == 0) {
                w->first_other = rc;
                w->first_other_on_put = false;
            }
            if (rc >= RINGKV_ERR_CONNECT)
                break; /* the connection is gone */
            continue;
        }
        char num[16];
        memcpy(num, r.value, r.value_bytes);
        num[r.value_bytes] = '\0';
        long long n = strtoll(num, NULL, 10);
        char next[24];
        int len = snprintf(next, sizeof next, "%lld", n + 1);
        struct ringkv_options cond = q;
        cond.if_version_set = 1;
        cond.if_version = r.version;
        rc = ringkv_put(c, "counter", 7, next, (size_t)len, &cond, &r);
        if (rc == RINGKV_OK) {
            w->done++;
        } else if (rc == RINGKV_VERSION_MISMATCH) {
            w->mismatches++;
        } else {
            if (w->other++ == 0) {
                w->first_other = rc;
                w->first_other_on_put = true;
            }
            if (rc >= RINGKV_ERR_CONNECT)
                break;
        }
    }
    ringkv_close(c);
    return NULL;
}

Test(cluster_repair, eight_clients_incrementing_one_counter_through_three_nodes_lose_nothing, .timeout = 150)
{
    start(3, NULL);
    struct test_cluster_resp r;
    bool ok = test_cluster_put(&cl, 0, "counter", 7, "0", 1, "quorum", ",\"if_version\":0", &r);
    CL_ASSERT(ok && r.status == 200 && r.version == 1, "the counter is created at version 1: %d %s", r.status, r.body);
    test_cluster_resp_free(&r);

    static struct cas_client w[CAS_CLIENTS];
    pthread_t t[CAS_CLIENTS];
    uint64_t deadline = mono_ms() + CAS_DEADLINE_MS;
    for (unsigned i = 0; i < CAS_CLIENTS; i++) {
        w[i] = (struct cas_client){ .node = i % 3u, .deadline_ms = deadline };
        cr_assert_eq(pthread_create(&t[i], NULL, cas_main, &w[i]), 0);
    }
    int done = 0, mismatches = 0, other = 0;
    for (unsigned i = 0; i < CAS_CLIENTS; i++) {
        pthread_join(t[i], NULL);
        done += w[i].done;
        mismatches += w[i].mismatches;
        other += w[i].other;
    }
    cr_log_info("%d increments, %d version mismatches, %d other failures", done, mismatches, other);
    for (unsigned i = 0; i < CAS_CLIENTS; i++) {
        CL_ASSERT(w[i].other == 0, "client %u (through n%u): every failed attempt is a version mismatch; %d others, "
                  "the first %s on its %s", i, w[i].node, w[i].other, ringkv_strerror(w[i].first_other),
                  w[i].first_other_on_put ? "conditional put" : "read");
        CL_ASSERT(!w[i].gave_up && w[i].done == CAS_INCREMENTS, "client %u made its %d increments (%d)", i,
                  CAS_INCREMENTS, w[i].done);
    }
    ok = test_cluster_get(&cl, 1, "counter", 7, "all", &r);
    CL_ASSERT(ok && r.status == 200 && r.has_value, "the counter reads back at all: %d %s", r.status, r.body);
    char want[16];
    snprintf(want, sizeof want, "%d", CAS_CLIENTS * CAS_INCREMENTS);
    CL_ASSERT(r.value_bytes == strlen(want) && memcmp(r.value, want, r.value_bytes) == 0,
              "the counter is %s after %d increments: %s", want, done, r.body);
    CL_ASSERT(r.version == 1u + CAS_CLIENTS * CAS_INCREMENTS, "its version is %d: %s", 1 + CAS_CLIENTS * CAS_INCREMENTS,
              r.body);
    test_cluster_resp_free(&r);
}

Test(cluster_repair, a_conditional_put_runs_on_the_next_replica_when_the_primary_is_dead)
{
    start(3, NULL);
    unsigned rep[TEST_CLUSTER_NODES_MAX];
    unsigned n = test_cluster_replicas(&cl, "cas-failover", 12, 3, rep);
    CL_ASSERT(n == 3, "three replicas");
    struct test_cluster_resp r;
    bool ok = test_cluster_put(&cl, rep[1], "cas-failover", 12, "a", 1, "quorum", ",\"if_version\":0", &r);
    CL_ASSERT(ok && r.status == 200 && r.version == 1, "create through a non-primary: %d %s", r.status, r.body);
    test_cluster_resp_free(&r);
    test_cluster_kill(&cl, rep[0]);
    settle();
    /* Through the node that is not next in line, so the put is forwarded to the new primary. */
    ok = test_cluster_put(&cl, rep[2], "cas-failover", 12, "b", 1, "quorum", ",\"if_version\":1", &r);
    CL_ASSERT(ok && r.status == 200 && r.version == 2 && r.acked == 2 && r.needed == 2,
              "if_version 1 with the primary dead: 200 version 2 acked=2/2, got %d %s", r.status, r.body);
    test_cluster_resp_free(&r);
    ok = test_cluster_put(&cl, rep[1], "cas-failover", 12, "c", 1, "quorum", ",\"if_version\":1", &r);
    CL_ASSERT(ok && r.status == 412 && strstr(r.body, "\"current_version\":2") != NULL,
              "a stale if_version: 412 current_version 2, got %d %s", r.status, r.body);
    test_cluster_resp_free(&r);
}
