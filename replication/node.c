/* The node: request routing between shards, execution against storage, group commit; see
 * node.h. Ownership of a request struct: it is taken from the pool of the shard whose
 * connection received it (its home); it travels to the owning shard and back by pointer, and
 * only the home returns it to the pool. While the owner holds it, only the owner touches it. */
#include "replication/node.h"
#include "replication/node_internal.h"
#include "replication/cluster.h"
#include "replication/coordinate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/hlc.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/shard.h"
#include "replication/metrics.h"
#include "net/server.h"
#include "ring/token.h"
#include "storage/engine.h"
#include "storage/hints.h"
#include "storage/kv.h"
#include "storage/rowcache.h"
#include "storage/sweep.h"

/* A /metrics request: one snapshot slot per shard; each part travels to its shard and back.
 * Owner: the shard that received the request; shard i writes only snap[i], and only while it
 * holds part i. */
struct node_gather_part {
    struct node_msg msg;
    struct node_gather *g;
    uint32_t shard;
};

struct node_gather {
    struct conn *conn;
    uint32_t request_id;
    uint8_t opcode;
    uint32_t pending;
    struct node_gather_part parts[RKV_SHARDS_MAX];
    struct shard_metrics snap[RKV_SHARDS_MAX];
};

static void list_push(struct node_msg **head, struct node_msg **tail, struct node_msg *r)
{
    r->next = NULL;
    if (*tail) (*tail)->next = r; else *head = r;
    *tail = r;
}

/* Hands r to shard `to`, or parks it in FIFO order when that ring is full. */
void node_send(struct node_shard *ns, uint32_t to, struct node_msg *r)
{
    if (ns->parked_head[to] == NULL && shard_send(ns->sh, to, r))
        return;
    list_push(&ns->parked_head[to], &ns->parked_tail[to], r);
    ns->parked_count++;
    ns->sh->no_sleep = true;
}

static void parked_retry(struct node_shard *ns)
{
    if (ns->parked_count == 0)
        return;
    uint32_t count = shard_set_count(ns->sh->set);
    for (uint32_t to = 0; to < count; to++) {
        struct node_msg *m;
        while ((m = ns->parked_head[to]) != NULL) {
            /* Once pushed, m belongs to the receiver, which may link it into its own lists
             * at once: take the next pointer before the push, never touch m after it. */
            struct node_msg *next = m->next;
            if (!shard_send(ns->sh, to, m))
                break;
            ns->parked_head[to] = next;
            if (next == NULL)
                ns->parked_tail[to] = NULL;
            ns->parked_count--;
        }
    }
}

/* Runs r against this shard's storage; the answer waits in the done list for the flush. */
static void node_execute(struct node_shard *ns, struct node_req *r)
{
    uint64_t now_ms = rkv_wall_ms();
    struct kv_result res = { 0, 0 };
    switch (r->opcode) {
    case BIN_OP_GET: {
        struct record_view view;
        r->err = kv_get(ns->es, ns->rc, now_ms, r->token, r->key, r->key_bytes, &view);
        if (r->err == RKV_OK) {
            r->version = view.hdr.version;
            r->timestamp = view.hdr.timestamp;
            r->out_value_bytes = view.value_bytes;
            if (view.value_bytes > 0) {
                /* The view lives only until the next storage call: copy it once, and the
                 * connection sends this very buffer. */
                r->out_value = malloc(view.value_bytes);
                if (r->out_value == NULL) {
                    r->err = RKV_BUSY;
                    r->out_value_bytes = 0;
                } else {
                    memcpy(r->out_value, view.value, view.value_bytes);
                }
            }
        }
        break;
    }
    case BIN_OP_PUT: {
        struct kv_put_args a = {
            .token = r->token, .key = r->key, .key_bytes = r->key_bytes,
            .value = r->value, .value_bytes = r->value_bytes, .ttl_s = r->ttl_s,
            .conditional = (r->flags & BIN_REQ_F_IF_VERSION) != 0, .if_version = r->if_version,
            .origin = ns->node->origin,
        };
        r->is_write = true;
        r->err = kv_put(ns->es, ns->rc, &ns->node->clock, now_ms, &a, &res);
        r->version = res.version;
        r->timestamp = res.timestamp;
        break;
    }
    case BIN_OP_DELETE:
        r->is_write = true;
        r->err = kv_delete(ns->es, ns->rc, &ns->node->clock, now_ms, r->token, r->key, r->key_bytes, ns->node->origin, &res);
        r->version = res.version;
        r->timestamp = res.timestamp;
        break;
    default:
        RKV_ASSERT(!"opcode validated before routing");
    }
    if (r->is_write && r->err == RKV_OK)
        ns->wrote = true;
    /* The value was used by the storage call; the remote copy is freed at home. */
    r->value = NULL;
    ns->m.executed++;
    list_push(&ns->done_head, &ns->done_tail, &r->msg);
}

/* At home: answers the client and returns r to the pool. */
static void node_finish(struct node_shard *ns, struct node_req *r)
{
    RKV_ASSERT(r->msg.home == ns->sh->idx);
    uint32_t op = r->opcode == BIN_OP_GET ? NET_OP_GET : r->opcode == BIN_OP_PUT ? NET_OP_PUT : NET_OP_DELETE;
    lat_record(&ns->m.latency[op], (rkv_mono_ns() - r->start_ns) / 1000u);
    struct bin_resp resp = {
        .request_id = r->request_id,
        .opcode = r->opcode,
        .status = rkv_err_wire(r->err),
        /* The replica answered (a value, not-found, or a refused condition) unless storage
         * itself failed. */
        .acked = (r->err == RKV_OK || r->err == RKV_NOT_FOUND || r->err == RKV_VERSION_MISMATCH) ? 1 : 0,
        .needed = 1,
        .version = r->version,
        .timestamp = r->timestamp,
    };
    uint8_t *heap = NULL;
    if (r->err == RKV_OK && r->opcode == BIN_OP_GET) {
        resp.value = r->out_value;
        resp.value_bytes = r->out_value_bytes;
        heap = r->out_value;
    } else {
        const char *msg = rkv_err_message(r->err);
        resp.value = (const uint8_t *)msg;
        resp.value_bytes = r->err == RKV_OK ? 0 : (uint32_t)strlen(msg);
        free(r->out_value);
    }
    free(r->value_heap);
    conn_reply(r->conn, &resp, heap);
    pool_put(&ns->req_pool, r);
}

/* Fills this shard's snapshot. */
static void node_snapshot(struct node_shard *ns, struct shard_metrics *out)
{
    *out = ns->m;
    out->shard = ns->sh->idx;
    net_shard_stats(ns->net, &out->net);
    uint64_t now = rkv_mono_ns();
    out->idle_ns = ns->sh->idle_ns;
    out->busy_ns = now - ns->sh->started_ns > out->idle_ns ? now - ns->sh->started_ns - out->idle_ns : 0;
    out->turns = ns->sh->loop.turns;
    out->inbox_depth = shard_inbox_depth(ns->sh);
    out->parked = ns->parked_count;
    out->reqs_in_use = ns->req_pool.in_use;
    out->received_from_shards = ns->sh->msgs_in;
    out->swept_expired = ns->sweep.stats.expired_count;
    out->purged_tombstones = ns->sweep.stats.purged_count;
    out->sweep_passes = ns->sweep.stats.passes_count;
    if (ns->rc != NULL) {
        struct rowcache_stats rs;
        rowcache_stats(ns->rc, &rs);
        out->rowcache_hits = rs.hits_count;
        out->rowcache_misses = rs.misses_count;
        out->rowcache_inserts = rs.inserts_count;
        out->rowcache_evictions = rs.evictions_count;
        out->rowcache_bytes = rs.bytes;
        out->rowcache_budget_bytes = rs.budget_bytes;
        out->rowcache_entries = rs.entries_count;
    }
    if (ns->hints != NULL) {
        uint32_t idx = 0;
        struct hints_target_info ti;
        uint64_t wall = rkv_wall_ms();
        while (out->hint_targets < METRICS_HINT_TARGETS && hints_target_next(ns->hints, &idx, &ti)) {
            struct metrics_hint_q *q = &out->hint_q[out->hint_targets++];
            memcpy(q->target, ti.target, sizeof q->target);
            q->count = ti.count;
            q->oldest_age_ms = ti.oldest_ms != 0 && wall > ti.oldest_ms ? wall - ti.oldest_ms : 0;
        }
    }
    if (engine_cache_stats(ns->es, &out->wt_cache_bytes, &out->wt_cache_max_bytes) != RKV_OK)
        out->wt_cache_bytes = out->wt_cache_max_bytes = 0;
}

static void node_info_of(const struct node *n, struct node_info *info)
{
    info->node_id = n->cfg.node_id;
    info->shards = n->cfg.shards;
    info->uptime_s = (rkv_wall_ms() - n->started_ms) / 1000u;
}

/* Every part of a /metrics request came back: render and answer. */
static void gather_finish(struct node_shard *ns, struct node_gather *g)
{
    struct node_info info;
    node_info_of(ns->node, &info);
    size_t bytes = 0;
    char *text = metrics_render(&info, g->snap, shard_set_count(ns->sh->set), &bytes);
    struct bin_resp resp = { .request_id = g->request_id, .opcode = g->opcode, .status = rkv_err_wire(text ? RKV_OK : RKV_BUSY) };
    resp.value = (const uint8_t *)text;
    resp.value_bytes = (uint32_t)bytes;
    conn_reply(g->conn, &resp, (uint8_t *)text);
    free(g);
}

static enum rkv_err node_admin(struct node_shard *ns, struct conn *c, const struct bin_req *req)
{
    if (req->opcode == BIN_OP_ADMIN_HEALTH) {
        struct node_info info;
        node_info_of(ns->node, &info);
        size_t bytes = 0;
        char *base = metrics_health_json(&info, &bytes);
        char *cluster = cluster_health_json(ns->node->cluster, &ns->node->cfg);
        char *body = base != NULL && cluster != NULL ? malloc(bytes + strlen(cluster) + 16u) : NULL;
        if (body != NULL) {
            /* {"status":...} + "cluster": the base object without its closing brace. */
            bytes = (size_t)sprintf(body, "%.*s,\"cluster\":%s}", (int)(bytes - 1u), base, cluster);
        }
        free(base);
        free(cluster);
        if (body == NULL)
            return RKV_BUSY;
        struct bin_resp resp = { .request_id = req->request_id, .opcode = req->opcode, .status = rkv_err_wire(RKV_OK),
                                 .value = (const uint8_t *)body, .value_bytes = (uint32_t)bytes };
        /* Answered at once: nothing was written, so nothing waits for a flush. */
        conn_reply(c, &resp, (uint8_t *)body);
        return RKV_OK;
    }
    RKV_ASSERT(req->opcode == BIN_OP_ADMIN_METRICS);
    struct node_gather *g = calloc(1, sizeof *g);
    if (g == NULL)
        return RKV_BUSY;
    uint32_t count = shard_set_count(ns->sh->set);
    g->conn = c;
    g->request_id = req->request_id;
    g->opcode = req->opcode;
    g->pending = count - 1;
    node_snapshot(ns, &g->snap[ns->sh->idx]);
    if (g->pending == 0) {
        gather_finish(ns, g);
        return RKV_OK;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (i == ns->sh->idx)
            continue;
        struct node_gather_part *part = &g->parts[i];
        part->msg.kind = NODE_MSG_STATS;
        part->msg.home = ns->sh->idx;
        part->g = g;
        part->shard = i;
        node_send(ns, i, &part->msg);
    }
    return RKV_OK;
}

static enum rkv_err node_on_request(void *ctx, struct conn *c, const struct bin_req *req)
{
    struct node_shard *ns = ctx;
    if (req->opcode == BIN_OP_ADMIN_DEBUG_KEY)
        return ns->node->cluster != NULL ? cg_debug_key(ns, c, req) : RKV_UNAVAILABLE;
    if (req->opcode == BIN_OP_ADMIN_HEALTH || req->opcode == BIN_OP_ADMIN_METRICS)
        return node_admin(ns, c, req);
    if (ns->node->cluster != NULL)
        return cg_client_request(ns, c, req);
    struct node_req *r = pool_get(&ns->req_pool);
    if (r == NULL)
        return RKV_BUSY;
    r->start_ns = rkv_mono_ns();
    r->msg.kind = NODE_MSG_REQ;
    r->msg.home = ns->sh->idx;
    r->conn = c;
    r->request_id = req->request_id;
    r->opcode = req->opcode;
    r->consistency = req->consistency;
    r->flags = req->flags;
    r->ttl_s = req->ttl_s;
    r->if_version = req->if_version;
    r->key_bytes = req->key_bytes;
    memcpy(r->key, req->key, req->key_bytes);
    r->token = token_of_key(req->key, req->key_bytes);
    uint32_t owner = vnode_shard(vnode_ring_lookup(ns->node->ring, r->token), shard_set_count(ns->sh->set));
    r->value_bytes = req->value_bytes;
    if (owner == r->msg.home) {
        r->value = req->value; /* borrowed: node_execute() uses it before returning */
        node_execute(ns, r);
        return RKV_OK;
    }
    if (req->value_bytes > 0) {
        /* The frame's bytes belong to the connection's buffer, which moves on: a
         * cross-shard PUT carries its own copy of the value. */
        r->value_heap = malloc(req->value_bytes);
        if (r->value_heap == NULL) {
            pool_put(&ns->req_pool, r);
            return RKV_BUSY;
        }
        memcpy(r->value_heap, req->value, req->value_bytes);
        r->value = r->value_heap;
    }
    ns->m.sent_to_shards++;
    node_send(ns, owner, &r->msg);
    return RKV_OK;
}

static enum rkv_err node_on_peer_frame(void *ctx, struct conn *c, const uint8_t *frame, size_t frame_bytes)
{
    return cg_peer_frame(ctx, c, frame, frame_bytes);
}

void node_done_push(struct node_shard *ns, struct node_msg *m, bool wrote)
{
    if (wrote)
        ns->wrote = true;
    list_push(&ns->done_head, &ns->done_tail, m);
}

/* ---- shard hooks ---- */

static enum rkv_err hook_start(struct shard *sh)
{
    struct node *n = shard_set_ctx(sh->set);
    struct node_shard *ns = &n->shards[sh->idx];
    ns->node = n;
    ns->sh = sh;
    sh->app = ns;
    sweep_init(&ns->sweep, (uint64_t)n->cfg.sweep_interval_s * 1000u, (uint64_t)n->cfg.tombstone_grace_s * 1000u);
    if (!pool_init(&ns->req_pool, "req", sizeof(struct node_req), RKV_SHARD_REQS_MAX))
        return RKV_BUSY;
    ns->pool_ok = true;
    enum rkv_err err = engine_shard_open(n->engine, sh->idx, &ns->es);
    if (err != RKV_OK)
        return err;
    if (n->cfg.row_cache_bytes > 0) {
        /* The node's budget split evenly; config guarantees a share that create accepts. */
        struct rowcache_config rcc = { .budget_bytes = n->cfg.row_cache_bytes / n->cfg.shards,
                                       .value_bytes_max = n->cfg.row_cache_value_bytes_max };
        err = rowcache_create(&rcc, &ns->rc);
        if (err != RKV_OK)
            return err;
    }
    struct net_config nc = { .listen = n->cfg.listen, .http_enabled = n->cfg.http_enabled, .http = n->cfg.http,
                             .peer_enabled = n->cfg.peer_enabled, .peer = n->cfg.peer,
                             .conns_max = n->cfg.conns_per_shard, .idle_timeout_s = n->cfg.idle_timeout_s };
    /* Shard i listens for peers on the peer port + i: a peer's request for a key reaches the
     * key's owning shard directly (config checked that the ports fit). */
    nc.peer.port = (uint16_t)(nc.peer.port + sh->idx);
    struct net_handler h = { .on_request = node_on_request, .on_peer_frame = node_on_peer_frame, .ctx = ns };
    if (n->cluster != NULL) {
        err = hints_open(ns->es, &ns->hints);
        if (err == RKV_OK)
            err = cg_start(ns);
        if (err != RKV_OK)
            return err;
    }
    return net_shard_start(sh, &nc, &h, &ns->net);
}

static void hook_on_msg(struct shard *sh, uint32_t from, void *msg)
{
    (void)from;
    struct node_shard *ns = sh->app;
    struct node_msg *m = msg;
    if (m->kind == NODE_MSG_REPLICA) {
        cg_on_msg(ns, m);
        return;
    }
    if (m->kind == NODE_MSG_STATS) {
        struct node_gather_part *part = (struct node_gather_part *)m;
        if (m->home == sh->idx) {
            if (--part->g->pending == 0)
                gather_finish(ns, part->g);
        } else {
            node_snapshot(ns, &part->g->snap[sh->idx]);
            node_send(ns, m->home, m);
        }
        return;
    }
    struct node_req *r = (struct node_req *)m;
    if (m->home == sh->idx)
        node_finish(ns, r);       /* an answer came back */
    else
        node_execute(ns, r);      /* a request for a key this shard owns */
}

static void hook_before_sleep(struct shard *sh)
{
    struct node_shard *ns = sh->app;
    /* Each phase is timed (two vDSO clock reads each) so that /metrics shows where a slow
     * turn spent its time. */
    uint64_t t_start = rkv_mono_ns();
    /* The space guard (storage/engine.h): one statvfs every 10 ms of turns, before this
     * turn's writes are applied. */
    if (t_start - ns->space_checked_ns >= 10u * 1000u * 1000u) {
        ns->space_checked_ns = t_start;
        (void)engine_space_check(ns->node->engine);
    }
    parked_retry(ns);
    net_shard_input(ns->net); /* local requests execute here and join the done list */
    if (ns->node->cluster != NULL)
        cg_turn(ns, rkv_wall_ms());
    uint64_t t_input = rkv_mono_ns();
    lat_record(&ns->m.phase_latency[NODE_PHASE_INPUT], (t_input - t_start) / 1000u);
    if (ns->done_head != NULL) {
        enum rkv_err flush_err = RKV_OK;
        if (ns->wrote) {
            /* One log flush covers every write of this turn, and it comes before any answer
             * of the turn is released (DESIGN §2: group commit). */
            uint64_t t0 = rkv_mono_ns();
            flush_err = engine_log_flush(ns->es);
            lat_record(&ns->m.flush_latency, (rkv_mono_ns() - t0) / 1000u);
            ns->m.flushes++;
            ns->wrote = false;
            if (flush_err != RKV_OK) {
                ns->m.flush_failures++;
                for (struct node_msg *m = ns->done_head; m != NULL; m = m->next) {
                    if (m->kind != NODE_MSG_REQ)
                        continue; /* cg_release() applies flush_err to the others */
                    struct node_req *r = (struct node_req *)m;
                    if (r->is_write && r->err == RKV_OK)
                        r->err = flush_err;
                }
            }
        }
        /* Released from a detached list: a release may start new work on this shard (a
         * coordinator's next replica write, executed inline), which joins a fresh done list
         * and waits for the next turn's flush instead of being released unflushed here. */
        struct node_msg *batch = ns->done_head;
        ns->done_head = ns->done_tail = NULL;
        struct node_msg *m;
        while ((m = batch) != NULL) {
            batch = m->next;
            m->next = NULL;
            if (m->kind != NODE_MSG_REQ)
                cg_release(ns, m, flush_err);
            else if (m->home == sh->idx)
                node_finish(ns, (struct node_req *)m);
            else
                node_send(ns, m->home, m);
        }
    }
    uint64_t t_commit = rkv_mono_ns();
    lat_record(&ns->m.phase_latency[NODE_PHASE_COMMIT], (t_commit - t_input) / 1000u);
    /* Background work, one bounded batch per turn, after the turn's answers were released:
     * its writes need no flush of their own (no answer waits for them; a lost one is redone
     * by the next pass) and ride on the next group commit. */
    uint64_t now_ms = rkv_wall_ms();
    bool sweeping = sweep_due_ms(&ns->sweep) <= now_ms;
    if (sweeping && sweep_step(&ns->sweep, ns->es, ns->rc, now_ms))
        ns->wrote = true;
    engine_shard_idle(ns->es); /* every view of the turn was copied */
    uint64_t t_sweep = rkv_mono_ns();
    if (sweeping)
        lat_record(&ns->m.phase_latency[NODE_PHASE_SWEEP], (t_sweep - t_commit) / 1000u);
    bool more_input = net_shard_output(ns->net);
    lat_record(&ns->m.phase_latency[NODE_PHASE_OUTPUT], (rkv_mono_ns() - t_sweep) / 1000u);
    sh->no_sleep = more_input || ns->parked_count > 0 || sweep_due_ms(&ns->sweep) <= now_ms || ns->done_head != NULL;
}

static void hook_on_tick(struct shard *sh, uint64_t now_ms)
{
    struct node_shard *ns = sh->app;
    net_shard_tick(ns->net, now_ms);
    if (ns->node->cluster != NULL)
        cg_tick(ns, now_ms);
}

static void hook_stop_accepting(struct shard *sh)
{
    struct node_shard *ns = sh->app;
    net_shard_stop_accepting(ns->net);
}

static bool hook_drained(struct shard *sh)
{
    struct node_shard *ns = sh->app;
    return net_shard_drained(ns->net) && ns->done_head == NULL && ns->parked_count == 0 &&
           (ns->node->cluster == NULL || cg_drained(ns));
}

static void hook_close_all(struct shard *sh)
{
    struct node_shard *ns = sh->app;
    net_shard_close_all(ns->net);
    if (ns->node->cluster != NULL)
        cg_close(ns);
}

static bool hook_closed(struct shard *sh)
{
    struct node_shard *ns = sh->app;
    bool peers_done = ns->node->cluster == NULL || cg_closed(ns);
    return net_shard_closed(ns->net) && peers_done;
}

static void hook_finish(struct shard *sh)
{
    struct node_shard *ns = sh->app;
    if (ns == NULL)
        return;
    if (ns->net) {
        struct net_stats st;
        net_shard_stats(ns->net, &st);
        rkv_log(RKV_LOG_INFO, "stopped: %llu connections, %llu requests, %llu executed here, %llu sent to other shards, %llu log flushes",
                (unsigned long long)st.accepted, (unsigned long long)st.requests, (unsigned long long)ns->m.executed,
                (unsigned long long)ns->m.sent_to_shards, (unsigned long long)ns->m.flushes);
        net_shard_free(ns->net);
        ns->net = NULL;
    }
    if (ns->node->cluster != NULL)
        cg_free(ns);
    if (ns->hints) {
        hints_close(ns->hints);
        ns->hints = NULL;
    }
    if (ns->es) {
        engine_shard_close(ns->es);
        ns->es = NULL;
    }
    rowcache_destroy(ns->rc);
    ns->rc = NULL;
    if (ns->pool_ok) {
        pool_destroy(&ns->req_pool);
        ns->pool_ok = false;
    }
}

static const struct shard_hooks node_hooks = {
    .start = hook_start,
    .on_msg = hook_on_msg,
    .before_sleep = hook_before_sleep,
    .on_tick = hook_on_tick,
    .stop_accepting = hook_stop_accepting,
    .drained = hook_drained,
    .close_all = hook_close_all,
    .closed = hook_closed,
    .finish = hook_finish,
};

static void node_free(struct node *n)
{
    if (n->set)
        shard_set_destroy(n->set);
    if (n->engine)
        engine_close(n->engine);
    if (n->ring)
        vnode_ring_free(n->ring);
    cluster_free(n->cluster);
    free(n->shards);
    free(n);
}

enum rkv_err node_start(const struct rkv_config *cfg, struct node **node_out)
{
    *node_out = NULL;
    struct node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return RKV_BUSY;
    n->cfg = *cfg;
    n->started_ms = rkv_wall_ms();
    hlc_init(&n->clock);
    n->shards = calloc(cfg->shards, sizeof *n->shards);
    if (n->shards == NULL) {
        node_free(n);
        return RKV_BUSY;
    }
    struct engine_config ec = { .dir = cfg->data_dir, .node_id = cfg->node_id, .shard_count = cfg->shards, .cache_bytes = cfg->cache_bytes };
    enum rkv_err err = engine_open(&ec, &n->engine);
    if (err == RKV_OK)
        err = vnode_ring_build(cfg->node_id, cfg->vnodes, &n->ring);
    if (err == RKV_OK) {
        n->origin = token_origin_of_node(cfg->node_id);
        if (n->cfg.peer_enabled)
            err = cluster_create(&n->cfg, &n->clock, &n->cluster);
    }
    if (err == RKV_OK) {
        err = shard_set_create(cfg->shards, &node_hooks, n, cfg->pin_threads, &n->set);
    }
    if (err == RKV_OK)
        err = shard_set_start(n->set);
    if (err != RKV_OK) {
        node_free(n);
        return err;
    }
    *node_out = n;
    return RKV_OK;
}

void node_request_stop(struct node *n)
{
    shard_set_request_stop(n->set);
}

void node_join_and_free(struct node *n)
{
    shard_set_join(n->set);
    node_free(n);
}
