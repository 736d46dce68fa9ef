/* Static membership and ping liveness (replication/cluster.h). Shard 0 owns the seed links and
 * everything in struct cluster_seed; the published ring and the up flags are read by every
 * shard. */
#include "replication/cluster.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/hlc.h"
#include "core/log.h"
#include "core/shard.h"
#include "net/peer.h"
#include "net/proto_peer.h"
#include "replication/node_internal.h"
#include "ring/members.h"

/* Request ids on a seed link: a HELLO is id 1, pings count up from 2. */
#define CLUSTER_HELLO_ID 1u

/* Owner: shard 0. */
struct cluster_seed {
    struct cluster *c;
    struct rkv_addr addr;          /* its peer address as --seeds gave it */
    struct peer_link *link;
    bool link_up;
    bool known;                    /* its HELLO_ACK came */
    char node_id[RKV_NODE_ID_BYTES_MAX + 1];
    struct rkv_addr bin, http;     /* from its HELLO_ACK; http port 0 when off */
    uint32_t shard_count, vnode_count;
    uint32_t node_idx;             /* in the ring's members, once formed */
    /* Last answer on the link (HELLO_ACK or PONG): monotonic ms, and the seed's wall clock
     * in it. Written by shard 0, read by any shard judging our clock (cluster_clock_check()). */
    _Atomic uint64_t last_pong_ms;
    _Atomic uint64_t pong_wall_ms;
    uint64_t last_ping_ms;         /* monotonic ms */
    uint32_t next_ping_id;
};

struct cluster {
    const struct rkv_config *cfg;  /* the node's, read-only */
    struct hlc *clock;
    _Atomic(struct ringmap *) ring;
    uint32_t self_idx;             /* written before the ring is published */
    _Atomic uint8_t up[RKV_NODES_MAX];
    _Atomic uint32_t known;
    /* Our HLC runs ahead of most of the cluster (cluster_clock_check()): no writes are
     * coordinated here meanwhile. */
    _Atomic bool clock_ahead;
    uint64_t clock_ok_since_ms;    /* shard 0: the judge has said "within" since (0: not) */
    struct node_shard *ns0;        /* shard 0, once started */
    bool closing;
    uint32_t seed_count;
    struct cluster_seed seeds[];
};

const struct ringmap *cluster_ring(const struct cluster *c)
{
    return atomic_load_explicit((_Atomic(struct ringmap *) *)&c->ring, memory_order_acquire);
}

uint32_t cluster_self(const struct cluster *c) { return c->self_idx; }

bool cluster_up(const struct cluster *c, uint32_t node_idx)
{
    RKV_ASSERT(node_idx < RKV_NODES_MAX);
    return atomic_load_explicit((_Atomic uint8_t *)&c->up[node_idx], memory_order_relaxed) != 0;
}

void cluster_progress(const struct cluster *c, uint32_t *known_out, uint32_t *seeds_out)
{
    *known_out = atomic_load_explicit((_Atomic uint32_t *)&c->known, memory_order_relaxed);
    *seeds_out = c->seed_count;
}

static uint64_t mono_ms(void) { return rkv_mono_ns() / 1000000u; }

/* Our clock is ahead when our HLC's physical part is more than the skew bound ahead of the
 * estimated clock (its last answer's wall time plus the monotonic time since) of a strict
 * majority of the seeds that answered within the down-after period. A majority, so that one
 * node whose clock runs behind (it refuses everybody's stamps) cannot stop the others. */
static bool clock_ahead_judge(const struct cluster *c)
{
    uint64_t mono = mono_ms();
    /* Our time is the later of the wall clock and the HLC: a wall clock that jumped ahead is
     * caught before it stamps anything, and an HLC that ran ahead stays caught after the
     * wall clock is set right. */
    uint64_t ours = hlc_phys_ms(atomic_load_explicit(&c->clock->last, memory_order_relaxed));
    uint64_t wall = rkv_wall_ms();
    if (wall > ours)
        ours = wall;
    uint32_t judged = 0, ahead = 0;
    for (uint32_t i = 0; i < c->seed_count; i++) {
        const struct cluster_seed *s = &c->seeds[i];
        uint64_t at = atomic_load_explicit((_Atomic uint64_t *)&s->last_pong_ms, memory_order_relaxed);
        uint64_t theirs = atomic_load_explicit((_Atomic uint64_t *)&s->pong_wall_ms, memory_order_relaxed);
        /* Shard 0 may record an answer after this thread read the time: that one is fresh
         * (age 0), not 2^64 ms old. */
        uint64_t age = mono > at ? mono - at : 0;
        if (at == 0 || theirs == 0 || age > RKV_PEER_DOWN_AFTER_MS)
            continue;
        judged++;
        if (ours > theirs + age + c->cfg->max_skew_ms)
            ahead++;
    }
    /* Nobody heard from lately: no new evidence either way, so the last verdict stands. */
    if (judged == 0)
        return atomic_load_explicit((_Atomic bool *)&c->clock_ahead, memory_order_relaxed);
    return ahead * 2u > judged;
}

/* Setting the flag is immediate (any shard, before any write); clearing it is shard 0's,
 * once the judge has said "within the bound" on every tick for RKV_PEER_PING_MS: a verdict
 * that flickers for a moment (a clock read between two offsets, a ping in flight) must not
 * let one write stamped in the future through. */
static bool clock_flag_set(struct cluster *c)
{
    if (!atomic_exchange(&c->clock_ahead, true))
        rkv_log(RKV_LOG_ERROR, "this node's clock runs more than %u ms ahead of most of the cluster: it coordinates no "
                               "writes until it is back within the bound",
                c->cfg->max_skew_ms);
    return true;
}

bool cluster_clock_check(struct cluster *c)
{
    if (atomic_load_explicit(&c->clock_ahead, memory_order_relaxed))
        return true; /* only shard 0's tick clears it */
    return clock_ahead_judge(c) ? clock_flag_set(c) : false;
}

/* Shard 0, every tick. */
static void clock_review(struct cluster *c, uint64_t mono)
{
    if (clock_ahead_judge(c)) {
        c->clock_ok_since_ms = 0;
        clock_flag_set(c);
        return;
    }
    if (!atomic_load_explicit(&c->clock_ahead, memory_order_relaxed))
        return;
    if (c->clock_ok_since_ms == 0) {
        c->clock_ok_since_ms = mono;
    } else if (mono - c->clock_ok_since_ms >= RKV_PEER_PING_MS) {
        c->clock_ok_since_ms = 0;
        atomic_store(&c->clock_ahead, false);
        rkv_log(RKV_LOG_INFO, "this node's clock is back within the skew bound: it coordinates writes again");
    }
}

bool cluster_clock_ahead(const struct cluster *c)
{
    return atomic_load_explicit((_Atomic bool *)&c->clock_ahead, memory_order_relaxed);
}

static void addr_from_peer(const struct peer_addr *pa, struct rkv_addr *out)
{
    memset(out, 0, sizeof *out);
    uint32_t n = pa->host.bytes < sizeof out->host ? pa->host.bytes : (uint32_t)sizeof out->host - 1u;
    if (n > 0)
        memcpy(out->host, pa->host.data, n);
    out->port = pa->port;
}

static struct peer_addr peer_addr_of(const struct rkv_addr *a)
{
    return (struct peer_addr){ .host = { (const uint8_t *)a->host, (uint32_t)strlen(a->host) }, .port = a->port };
}

void cluster_hello_self(const struct cluster *c, struct peer_hello *h)
{
    const struct rkv_config *cfg = c->cfg;
    memset(h, 0, sizeof *h);
    h->proto_version = PEER_PROTO_VERSION;
    h->hlc_ts = hlc_make(rkv_wall_ms(), 0);
    h->shard_count = (uint16_t)cfg->shards;
    h->vnode_count = (uint16_t)cfg->vnodes;
    h->token_count = 0; /* placed from the node ids (ring/place.h) */
    h->node_id = (struct peer_str){ (const uint8_t *)cfg->node_id, (uint32_t)strlen(cfg->node_id) };
    h->bin_addr = peer_addr_of(&cfg->listen);
    if (cfg->http_enabled)
        h->http_addr = peer_addr_of(&cfg->http);
    h->peer_addr = peer_addr_of(&cfg->peer);
}

/* Builds and publishes the ring once every seed is known. Shard 0. */
static void cluster_try_form(struct cluster *c)
{
    if (cluster_ring(c) != NULL)
        return;
    for (uint32_t i = 0; i < c->seed_count; i++) {
        if (!c->seeds[i].known)
            return;
    }
    const struct rkv_config *cfg = c->cfg;
    struct member_desc *d = calloc(c->seed_count + 1u, sizeof *d);
    if (d == NULL)
        return; /* tried again next tick */
    d[0] = (struct member_desc){ .node_id = cfg->node_id, .bin_addr = cfg->listen, .peer_addr = cfg->peer,
                                 .shard_count = cfg->shards, .vnode_count = cfg->vnodes, .status = MEMBER_NORMAL, .up = true };
    if (cfg->http_enabled)
        d[0].http_addr = cfg->http;
    for (uint32_t i = 0; i < c->seed_count; i++) {
        struct cluster_seed *s = &c->seeds[i];
        d[i + 1] = (struct member_desc){ .node_id = s->node_id, .bin_addr = s->bin, .http_addr = s->http,
                                         .peer_addr = s->addr, .shard_count = s->shard_count,
                                         .vnode_count = s->vnode_count, .status = MEMBER_NORMAL, .up = true };
    }
    struct members *m = NULL;
    enum rkv_err err = members_build(d, c->seed_count + 1u, &m);
    free(d);
    struct ringmap *r = NULL;
    if (err == RKV_OK) {
        err = ringmap_build(m, &r);
        if (err != RKV_OK)
            members_free(m);
    }
    if (err != RKV_OK) {
        /* Two seeds with one node id, or a seed with ours: a configuration error that only
         * the operator can mend. Said once; the node stays unformed. */
        static bool said;
        if (!said) {
            said = true;
            rkv_log(RKV_LOG_ERROR, "cannot form the cluster: %s (two nodes with one node id?)", rkv_err_message(err));
        }
        return;
    }
    bool found = members_find(m, cfg->node_id, &c->self_idx);
    RKV_ASSERT(found);
    for (uint32_t i = 0; i < c->seed_count; i++) {
        found = members_find(m, c->seeds[i].node_id, &c->seeds[i].node_idx);
        RKV_ASSERT(found);
    }
    atomic_store_explicit(&c->up[c->self_idx], 1, memory_order_relaxed);
    atomic_store_explicit(&c->ring, r, memory_order_release);
    rkv_log(RKV_LOG_INFO, "cluster formed: %u nodes, %u vnodes on the ring", members_count(m), ringmap_count(r));
}

static void seed_send(struct cluster_seed *s, const struct peer_frame *f)
{
    uint8_t buf[PEER_HELLO_FIXED_BYTES + 4u * 256u];
    size_t n = peer_frame_encode(buf, sizeof buf, f);
    RKV_ASSERT(n > 0);
    if (peer_link_send(s->link, buf, n, NULL, 0) != RKV_OK) {
        /* A down or full link: the next tick sends again. */
    }
}

static void seed_on_state(void *ctx, struct peer_link *l, bool up)
{
    (void)l;
    struct cluster_seed *s = ctx;
    s->link_up = up;
    if (up) {
        struct peer_frame f = { .request_id = CLUSTER_HELLO_ID, .opcode = PEER_OP_HELLO };
        cluster_hello_self(s->c, &f.hello);
        seed_send(s, &f);
    }
}

static void seed_on_frame(void *ctx, struct peer_link *l, const uint8_t *frame, size_t frame_bytes)
{
    (void)l;
    struct cluster_seed *s = ctx;
    struct cluster *c = s->c;
    struct peer_frame f;
    size_t used;
    enum rkv_err why;
    if (peer_frame_decode(frame, frame_bytes, &f, &used, &why) != PARSE_DONE || peer_frame_validate(&f) != RKV_OK)
        return; /* counted by nobody yet: a seed that speaks garbage stays unknown */
    uint64_t now = rkv_wall_ms();
    if (f.opcode == PEER_OP_PONG) {
        atomic_store_explicit(&s->last_pong_ms, mono_ms(), memory_order_relaxed);
        atomic_store_explicit(&s->pong_wall_ms, hlc_phys_ms(f.ping.hlc_ts), memory_order_relaxed);
        (void)hlc_observe_checked(c->clock, f.ping.hlc_ts, now, c->cfg->max_skew_ms);
        return;
    }
    if (f.opcode != PEER_OP_HELLO_ACK || f.status != PEER_ST_OK)
        return;
    const struct peer_hello *h = &f.hello;
    char id[RKV_NODE_ID_BYTES_MAX + 1];
    memcpy(id, h->node_id.data, h->node_id.bytes);
    id[h->node_id.bytes] = '\0';
    atomic_store_explicit(&s->last_pong_ms, mono_ms(), memory_order_relaxed);
    atomic_store_explicit(&s->pong_wall_ms, hlc_phys_ms(h->hlc_ts), memory_order_relaxed);
    (void)hlc_observe_checked(c->clock, h->hlc_ts, now, c->cfg->max_skew_ms);
    if (s->known) {
        if (strcmp(id, s->node_id) != 0 || s->shard_count != h->shard_count || s->vnode_count != h->vnode_count)
            rkv_log(RKV_LOG_WARN, "seed %s:%u now says it is %s with %u shards: membership changes need a restart of the cluster for now",
                    s->addr.host, s->addr.port, id, h->shard_count);
        return;
    }
    if (strcmp(id, c->cfg->node_id) == 0) {
        rkv_log(RKV_LOG_ERROR, "seed %s:%u has our own node id %s", s->addr.host, s->addr.port, id);
        return;
    }
    memcpy(s->node_id, id, sizeof id);
    addr_from_peer(&h->bin_addr, &s->bin);
    addr_from_peer(&h->http_addr, &s->http);
    s->shard_count = h->shard_count;
    s->vnode_count = h->vnode_count;
    s->known = true;
    atomic_fetch_add_explicit(&c->known, 1u, memory_order_relaxed);
    rkv_log(RKV_LOG_INFO, "seed %s:%u is node %s (%u shards)", s->addr.host, s->addr.port, id, h->shard_count);
    cluster_try_form(c);
}

enum rkv_err cluster_create(const struct rkv_config *cfg, struct hlc *clock, struct cluster **out)
{
    *out = NULL;
    struct cluster *c = calloc(1, sizeof *c + cfg->seed_count * sizeof c->seeds[0]);
    if (c == NULL)
        return RKV_BUSY;
    c->cfg = cfg;
    c->clock = clock;
    c->seed_count = cfg->seed_count;
    for (uint32_t i = 0; i < c->seed_count; i++) {
        c->seeds[i].c = c;
        c->seeds[i].addr = cfg->seeds[i];
        c->seeds[i].next_ping_id = CLUSTER_HELLO_ID + 1u;
    }
    if (c->seed_count == 0)
        cluster_try_form(c);
    if (c->seed_count == 0 && cluster_ring(c) == NULL) {
        free(c);
        return RKV_BUSY;
    }
    *out = c;
    return RKV_OK;
}

void cluster_free(struct cluster *c)
{
    if (c == NULL)
        return;
    ringmap_free(atomic_load(&c->ring));
    free(c);
}

enum rkv_err cluster_shard0_start(struct cluster *c, struct node_shard *ns)
{
    c->ns0 = ns;
    for (uint32_t i = 0; i < c->seed_count; i++) {
        struct cluster_seed *s = &c->seeds[i];
        struct peer_link_config lc = { .addr = s->addr };
        struct peer_link_handler h = { .ctx = s, .on_frame = seed_on_frame, .on_state = seed_on_state };
        enum rkv_err err = peer_link_open(ns->sh, &lc, &h, &s->link);
        if (err != RKV_OK)
            return err;
        /* Links connect on their first send: a PING starts it (and is dropped if the HELLO
         * has not gone first: harmless, the next one goes). */
    }
    return RKV_OK;
}

void cluster_shard0_tick(struct cluster *c, uint64_t now_ms)
{
    if (c->closing)
        return;
    /* Liveness is timed on the monotonic clock (a wall-clock jump must not look like a
     * silent peer); pings carry the wall clock, which is what peers compare. */
    uint64_t mono = mono_ms();
    clock_review(c, mono);
    for (uint32_t i = 0; i < c->seed_count; i++) {
        struct cluster_seed *s = &c->seeds[i];
        peer_link_tick(s->link);
        if (mono - s->last_ping_ms >= RKV_PEER_PING_MS || s->last_ping_ms == 0) {
            s->last_ping_ms = mono;
            if (!s->link_up && !peer_link_up(s->link)) {
                /* Not connected: any send starts (or waits out) the connect; what it
                 * carries is dropped when the connect fails. */
                struct peer_frame f = { .request_id = s->next_ping_id++, .opcode = PEER_OP_PING };
                f.ping.hlc_ts = hlc_make(now_ms, 0);
                uint8_t buf[PEER_PING_BYTES];
                size_t n = peer_frame_encode(buf, sizeof buf, &f);
                if (peer_link_send(s->link, buf, n, NULL, 0) != RKV_OK) {
                    /* Down: the backoff runs; the next tick tries again. */
                }
            } else if (s->known) {
                struct peer_frame f = { .request_id = s->next_ping_id++, .opcode = PEER_OP_PING };
                f.ping.hlc_ts = hlc_make(now_ms, 0);
                seed_send(s, &f);
            }
        }
        const struct ringmap *r = cluster_ring(c);
        if (r != NULL && s->known) {
            bool up = s->link_up && mono - atomic_load_explicit(&s->last_pong_ms, memory_order_relaxed) <= RKV_PEER_DOWN_AFTER_MS;
            uint8_t was = atomic_exchange_explicit(&c->up[s->node_idx], up ? 1 : 0, memory_order_relaxed);
            if (was != (up ? 1 : 0))
                rkv_log(RKV_LOG_INFO, "node %s is %s", s->node_id, up ? "up" : "down");
        }
    }
    cluster_try_form(c);
}

void cluster_shard0_close(struct cluster *c)
{
    c->closing = true;
    for (uint32_t i = 0; i < c->seed_count; i++) {
        if (c->seeds[i].link)
            peer_link_close(c->seeds[i].link);
    }
}

bool cluster_shard0_closed(struct cluster *c)
{
    for (uint32_t i = 0; i < c->seed_count; i++) {
        struct cluster_seed *s = &c->seeds[i];
        if (s->link == NULL)
            continue;
        if (!peer_link_closed(s->link))
            return false;
        peer_link_free(s->link);
        s->link = NULL;
    }
    return true;
}

/* The fraction of the token space whose primary is each node: position p owns the tokens
 * after position p - 1 up to its own (the first also the wrap past the largest). */
static void owned_fractions(const struct ringmap *r, double *out, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        out[i] = 0.0;
    uint32_t n = ringmap_count(r);
    if (n == 0)
        return;
    for (uint32_t p = 0; p < n; p++) {
        struct ringmap_entry e = ringmap_entry(r, p);
        uint64_t prev = ringmap_entry(r, p == 0 ? n - 1u : p - 1u).token;
        uint64_t span = e.token - prev; /* wraps for p == 0, as the ring does */
        if (n == 1)
            span = UINT64_MAX;
        out[e.node_idx] += (double)span / 18446744073709551616.0;
    }
}

static int addr_fmt(char *buf, size_t cap, const struct rkv_addr *a)
{
    if (a->port == 0)
        return snprintf(buf, cap, "null");
    return snprintf(buf, cap, strchr(a->host, ':') ? "\"[%s]:%u\"" : "\"%s:%u\"", a->host, a->port);
}

char *cluster_health_json(const struct cluster *c, const struct rkv_config *cfg)
{
    /* Node ids are [A-Za-z0-9._-] and hosts IP literals: nothing needs escaping. */
    const struct ringmap *r = c != NULL ? cluster_ring(c) : NULL;
    uint32_t count = r != NULL ? members_count(ringmap_members(r)) : 1u;
    size_t cap = 256u + (size_t)count * 512u;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    double *owned = calloc(count, sizeof *owned);
    if (owned == NULL) {
        free(buf);
        return NULL;
    }
    size_t len = 0;
    uint32_t known = 0, seeds = 0;
    if (c != NULL)
        cluster_progress(c, &known, &seeds);
    bool formed = c == NULL || r != NULL;
    uint32_t rf = c == NULL ? 1u : (cfg->rf < count ? cfg->rf : count);
    len += (size_t)snprintf(buf + len, cap - len, "{\"formed\":%s,\"rf\":%u,\"seeds_known\":%u,\"seeds\":%u,\"nodes\":[",
                            formed ? "true" : "false", rf, known, seeds);
    if (r != NULL)
        owned_fractions(r, owned, count);
    else
        owned[0] = c == NULL ? 1.0 : 0.0;
    for (uint32_t i = 0; i < count; i++) {
        char bin[96], http[96], peer[96];
        const char *id;
        uint32_t shards;
        bool self, up;
        if (r != NULL) {
            const struct member *m = members_get(ringmap_members(r), i);
            id = m->node_id;
            shards = m->shard_count;
            self = i == c->self_idx;
            up = cluster_up(c, i);
            addr_fmt(bin, sizeof bin, &m->bin_addr);
            addr_fmt(http, sizeof http, &m->http_addr);
            addr_fmt(peer, sizeof peer, &m->peer_addr);
        } else {
            id = cfg->node_id;
            shards = cfg->shards;
            self = up = true;
            addr_fmt(bin, sizeof bin, &cfg->listen);
            if (cfg->http_enabled)
                addr_fmt(http, sizeof http, &cfg->http);
            else
                snprintf(http, sizeof http, "null");
            if (cfg->peer_enabled)
                addr_fmt(peer, sizeof peer, &cfg->peer);
            else
                snprintf(peer, sizeof peer, "null");
        }
        len += (size_t)snprintf(buf + len, cap - len,
                                "%s{\"id\":\"%s\",\"self\":%s,\"up\":%s,\"shards\":%u,\"binary\":%s,\"http\":%s,\"peer\":%s,"
                                "\"tokens_owned\":%.4f}",
                                i ? "," : "", id, self ? "true" : "false", up ? "true" : "false", shards, bin, http, peer,
                                owned[i]);
    }
    len += (size_t)snprintf(buf + len, cap - len, "]}");
    free(owned);
    RKV_ASSERT(len < cap);
    return buf;
}
