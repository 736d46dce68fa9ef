/* Cluster requests on one shard (replication/coordinate.h).
 *
 * A client request becomes a struct creq on the shard that received it (its home), which is
 * the coordinator: it owns the creq until it is answered and every replica operation it
 * started has an outcome. Replica operations go to the local node's owning shard as a
 * struct replica_msg through the shard rings (or inline when that is the home), and to other
 * nodes as peer requests (replication/peers.h) addressed to their owning shard. Every
 * outcome becomes one event of replication/coord.h, whose actions are carried out here.
 *
 * Writes: a header-only read at the write's level picks the version (one more than the
 * highest a replica answered) and the timestamp floor; then the stamped record goes to every
 * replica (or, for a down one, as a hint to the next live node), and the client is answered
 * at W. Reads: R replicas are read, the newest record wins, stale ones are repaired.
 * Conditional puts run on the key's primary (see forward below). */
#include "replication/coordinate.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/log.h"
#include "net/http.h"
#include "replication/cluster.h"
#include "replication/coord.h"
#include "replication/node_internal.h"
#include "replication/peers.h"
#include "ring/members.h"
#include "ring/prefs.h"
#include "storage/hints.h"
#include "storage/kv.h"

/* Replica operations. */
enum rop {
    ROP_WRITE,     /* apply a stamped record (kv_apply) */
    ROP_READ,      /* read the raw record with its value */
    ROP_READ_HDR,  /* read the raw record's header only (the version probe of a write) */
};

/* Which coord_req of a creq an outcome belongs to, and what the operation was. */
#define TAG_RD 0x000u          /* the read (or version probe) */
#define TAG_WR 0x100u          /* the write */
#define TAG_REPAIR 0x200u      /* a read repair (of the read) */
#define TAG_HINT 0x400u        /* a hint for replica i (of the write) */
#define TAG_FWD 0x800u         /* the FORWARD of a conditional put to its primary */
#define TAG_HLIST 0x1000u      /* a HINT_LIST of GET /debug/key (index: the request's slot) */
#define TAG_IDX(t) ((t) & 0xffu)

enum creq_kind { CQ_READ, CQ_WRITE, CQ_COND, CQ_DEBUG, CQ_FORWARD };

/* GET /debug/key: what one replica answered. */
enum dbg_state { DBG_PENDING, DBG_DONE, DBG_UNREACHABLE };

struct dbg_rep {
    uint8_t state;                   /* enum dbg_state */
    bool found;
    struct record_hdr hdr;
    uint8_t *value;
    uint32_t value_bytes;
};

/* A hint some node holds for the key (HINT_LIST answers). */
struct dbg_hint {
    uint32_t holder_idx;
    char target[RKV_NODE_ID_BYTES_MAX + 1];
    uint64_t version, timestamp;
};

/* Owner: the home shard (see the file comment). */
struct creq {
    struct creq *prev, *next;        /* the home's deadline list */
    struct creq *cond_next;          /* the shard's list of conditional puts holding a key */
    struct creq *cond_wait;          /* the next conditional put of the same key, waiting */
    bool cond_waiting;               /* on some cond_wait chain */
    uint8_t kind;                    /* enum creq_kind */
    uint8_t opcode;                  /* BIN_OP_GET / PUT / DELETE */
    uint8_t level;                   /* enum coord_level */
    bool answered;
    bool rd_started, wr_started;
    bool expired;                    /* the deadline passed: remote operations were cancelled */
    bool cond_active;                /* on the cond list: holds the key's turn */
    struct conn *conn;               /* the client's connection (or the forwarder's peer connection) */
    bool via_peer;                   /* forwarded here (FORWARD): answered with FORWARD_ACK */
    uint32_t fwd_slot;               /* CQ_FORWARD: the FORWARD in flight */
    uint32_t request_id;
    uint64_t start_ns;
    uint64_t start_ms;
    uint64_t deadline_ms;
    uint32_t ttl_s;
    uint64_t if_version;
    uint64_t token;
    uint16_t key_bytes;
    uint8_t key[RKV_KEY_BYTES_MAX];
    uint8_t *value;                  /* PUT: the client's value, copied */
    uint32_t value_bytes;
    const struct ringmap *ring;
    struct prefs prefs;
    struct coord_req rd, wr;
    uint32_t slot[2][RKV_RF_MAX];    /* remote operation in flight per replica (rd, wr) */
    uint32_t repair_slot[RKV_RF_MAX];
    uint32_t local_inflight;         /* replica_msg not yet back */
    bool have_best;                  /* reads: the newest record seen, with its value */
    struct record_hdr best;
    uint8_t *best_value;
    uint32_t best_value_bytes;
    enum rkv_err ans_err;            /* the answer, once answered */
    bool has_ans;
    struct coord_answer ans;
    bool deferred;                   /* answered inside on_request: sent by cg_turn() */
    struct creq *def_next;
    /* CQ_DEBUG only */
    uint32_t dbg_pending;            /* operations without an outcome */
    struct dbg_rep dbg[RKV_RF_MAX];
    struct dbg_hint *dbg_hints;
    uint32_t dbg_hint_count, dbg_hint_cap;
    uint32_t *dbg_hint_slots;        /* HINT_LIST requests in flight (PEERS_SLOT_NONE when done) */
    uint32_t *dbg_hint_nodes;        /* the node each was sent to */
    uint32_t dbg_hint_slot_count;
};

/* A local replica operation: owned by the coordinating shard (msg.home), held by the owning
 * shard while it executes; key and value are borrowed from the creq, which outlives it. */
struct replica_msg {
    struct node_msg msg;
    uint8_t op;                      /* enum rop */
    const char *hint_for;            /* ROP_WRITE as a hint for this node (the ring's string) */
    bool executed;                   /* by the owning shard: on its way back (or delivered) */
    struct creq *q;
    uint32_t tag;
    uint64_t token;
    const uint8_t *key;
    uint16_t key_bytes;
    struct record_hdr hdr;           /* ROP_WRITE */
    const uint8_t *value;
    uint32_t value_bytes;
    enum rkv_err err;                /* results */
    struct kv_apply_result ares;
    bool found;
    struct record_hdr out_hdr;
    uint8_t *out_value;
    uint32_t out_value_bytes;
};

/* A peer request executed on this shard; its answer is sent after the turn's flush. Never
 * leaves the shard. */
struct peer_job {
    struct node_msg msg;
    struct conn *conn;
    bool is_write;
    struct peer_frame ans;           /* the answer; ans.read_ack.rec.value is value_heap */
    uint8_t *value_heap;
};

/* The shard's pools of the objects above (core/pool.h): taken and returned on this shard only;
 * a replica_msg goes to another shard and back but is returned by its home. */
struct cg_pools {
    struct pool creq;     /* RKV_SHARD_REQS_MAX: past it a client request waits (BUSY) */
    struct pool replica;  /* RF reads, writes or repairs of each */
    struct pool job;      /* peer requests executed here and waiting for the flush */
};

static struct cluster *cl(const struct node_shard *ns) { return ns->node->cluster; }

static void creq_after_probe(struct node_shard *ns, struct creq *q, const struct coord_answer *a);
static void cg_cond_end(struct node_shard *ns, struct creq *q);
static enum rkv_err cg_hint_store(struct node_shard *ns, const struct peer_write *w, const struct record_hdr *hdr,
                                  uint64_t now_ms);
static enum rkv_err cg_peer_frame_more(struct node_shard *ns, struct conn *c, const struct peer_frame *f);
static void cg_cond_begin(struct node_shard *ns, struct creq *q);
static void dbg_event(struct node_shard *ns, struct creq *q, uint32_t i, enum rkv_err err, const struct record_hdr *hdr,
                      bool found, const uint8_t *value, uint32_t value_bytes);
static void dbg_hint_done(struct node_shard *ns, struct creq *q);
static void dbg_hints_ask(struct node_shard *ns, struct creq *q);
static void replay_tick(struct node_shard *ns, uint64_t now_ms);
static struct replay *replay_new(void);


/* ---- the deadline list ---- */

static void dl_push(struct node_shard *ns, struct creq *q)
{
    q->prev = ns->creq_tail;
    q->next = NULL;
    if (ns->creq_tail)
        ns->creq_tail->next = q;
    else
        ns->creq_head = q;
    ns->creq_tail = q;
    ns->creq_count++;
}

static void dl_unlink(struct node_shard *ns, struct creq *q)
{
    if (q->prev) q->prev->next = q->next; else ns->creq_head = q->next;
    if (q->next) q->next->prev = q->prev; else ns->creq_tail = q->prev;
    q->prev = q->next = NULL;
    ns->creq_count--;
}

static void creq_free(struct node_shard *ns, struct creq *q)
{
    dl_unlink(ns, q);
    free(q->value);
    free(q->best_value);
    for (uint32_t i = 0; i < RKV_RF_MAX; i++)
        free(q->dbg[i].value);
    free(q->dbg_hints);
    free(q->dbg_hint_slots);
    free(q->dbg_hint_nodes);
    pool_put(&ns->pools->creq, q);
}

static bool creq_finished(const struct creq *q)
{
    return q->answered && !q->deferred && q->local_inflight == 0 && q->dbg_pending == 0 &&
           q->fwd_slot == PEERS_SLOT_NONE && (!q->rd_started || coord_done(&q->rd)) &&
           (!q->wr_started || coord_done(&q->wr)) && !q->cond_active &&
           !q->cond_waiting;
}

static void creq_maybe_free(struct node_shard *ns, struct creq *q)
{
    if (creq_finished(q))
        creq_free(ns, q);
}

/* ---- answering the client ---- */

static void dbg_reply(struct node_shard *ns, struct creq *q);
static void fwd_reply(struct node_shard *ns, struct creq *q);

/* Sends the answer recorded in q. */
static void creq_reply(struct node_shard *ns, struct creq *q)
{
    if (q->kind == CQ_DEBUG) {
        dbg_reply(ns, q);
        return;
    }
    if (q->via_peer) {
        fwd_reply(ns, q);
        return;
    }
    enum rkv_err err = q->ans_err;
    const struct coord_answer *a = q->has_ans ? &q->ans : NULL;
    uint32_t op = q->opcode == BIN_OP_GET ? NET_OP_GET : q->opcode == BIN_OP_PUT ? NET_OP_PUT : NET_OP_DELETE;
    lat_record(&ns->m.latency[op], (rkv_mono_ns() - q->start_ns) / 1000u);
    if (err == RKV_UNAVAILABLE)
        ns->m.cl_unavailable++;
    struct bin_resp resp = { .request_id = q->request_id, .opcode = q->opcode, .status = rkv_err_wire(err) };
    if (a != NULL) {
        resp.acked = (uint8_t)a->acked;
        resp.needed = (uint8_t)a->needed;
        resp.hinted = (uint8_t)a->hinted;
        if (err == RKV_OK || err == RKV_VERSION_MISMATCH) {
            resp.version = a->hdr.version;
            resp.timestamp = a->hdr.timestamp;
        }
    }
    uint8_t *heap = NULL;
    if (err == RKV_OK && q->opcode == BIN_OP_GET) {
        /* The value moves to the connection unless a read repair may still send it (a read
         * at `one` answers before its repairs) or a local operation borrows it. */
        if (q->best_value != NULL && coord_done(&q->rd) && q->local_inflight == 0) {
            heap = q->best_value;
            q->best_value = NULL;
        } else if (q->best_value != NULL) {
            heap = malloc(q->best_value_bytes);
            if (heap == NULL) {
                err = RKV_BUSY;
                resp.status = rkv_err_wire(err);
            } else {
                memcpy(heap, q->best_value, q->best_value_bytes);
            }
        }
        resp.value = heap;
        resp.value_bytes = heap != NULL ? q->best_value_bytes : 0;
    }
    if (err != RKV_OK) {
        const char *msg = rkv_err_message(err);
        resp.value = (const uint8_t *)msg;
        resp.value_bytes = (uint32_t)strlen(msg);
    }
    conn_reply(q->conn, &resp, heap);
    q->conn = NULL;
}

/* Records the answer and sends it, or queues it for cg_turn() while the client's request is
 * still being handed to us (a connection is never answered from inside on_request). */
static void creq_answer(struct node_shard *ns, struct creq *q, enum rkv_err err, const struct coord_answer *a)
{
    RKV_ASSERT(!q->answered);
    q->answered = true;
    q->ans_err = err;
    q->has_ans = a != NULL;
    if (a != NULL)
        q->ans = *a;
    if (ns->in_client_request) {
        q->deferred = true;
        q->def_next = ns->deferred;
        ns->deferred = q;
        return;
    }
    creq_reply(ns, q);
    cg_cond_end(ns, q);
}

/* ---- sending replica operations ---- */

static void creq_event(struct node_shard *ns, struct creq *q, uint32_t tag, enum rkv_err err, const struct record_hdr *hdr,
                       bool found, const uint8_t *value, uint32_t value_bytes);
static void creq_apply(struct node_shard *ns, struct creq *q, bool is_wr, const struct coord_actions *a);

static void peer_answer(struct node_shard *ns, void *owner, uint32_t tag, const struct peer_frame *f, enum rkv_err err);

static uint32_t *slot_of(struct creq *q, uint32_t tag)
{
    uint32_t i = TAG_IDX(tag);
    if (tag & TAG_REPAIR)
        return &q->repair_slot[i];
    return &q->slot[(tag & (TAG_WR | TAG_HINT)) ? 1 : 0][i];
}

/* Sends one operation for replica slot `tag` to rep (a node and the vnode naming its shard).
 * RKV_OK: its outcome comes later as an event; else it failed at once (no event). */
static enum rkv_err creq_send(struct node_shard *ns, struct creq *q, uint32_t tag, enum rop op,
                              const struct prefs_replica *rep, const struct record_hdr *hdr, const uint8_t *value,
                              uint32_t value_bytes, const char *hint_for)
{
    uint32_t shard = prefs_replica_shard(q->ring, rep);
    if (rep->node_idx == cluster_self(cl(ns))) {
        struct replica_msg *m = pool_get(&ns->pools->replica);
        if (m == NULL)
            return RKV_BUSY;
        m->msg.kind = NODE_MSG_REPLICA;
        m->msg.home = ns->sh->idx;
        m->op = (uint8_t)op;
        m->q = q;
        m->tag = tag;
        m->token = q->token;
        m->key = q->key;
        m->key_bytes = q->key_bytes;
        if (hdr != NULL)
            m->hdr = *hdr;
        m->value = value;
        m->value_bytes = value_bytes;
        m->hint_for = hint_for;
        q->local_inflight++;
        if (shard == ns->sh->idx)
            cg_on_msg(ns, &m->msg); /* executed here; delivered after the flush */
        else
            node_send(ns, shard, &m->msg);
        return RKV_OK;
    }
    struct peer_frame f = { .opcode = op == ROP_WRITE ? PEER_OP_REPLICA_WRITE : PEER_OP_REPLICA_READ };
    uint64_t now = rkv_wall_ms();
    uint32_t left = q->deadline_ms > now ? (uint32_t)(q->deadline_ms - now) : 1u;
    if (op == ROP_WRITE) {
        f.write.token = q->token;
        f.write.rec = (struct peer_record){ .flags = (hdr->flags & REC_F_TOMBSTONE) ? PEER_REC_F_TOMBSTONE : 0,
                                            .origin = hdr->origin, .timestamp = hdr->timestamp,
                                            .version = hdr->version, .expiry_ms = hdr->expiry_ms,
                                            .value_bytes = value_bytes, .value = value };
        f.write.deadline_ms = left;
        f.write.consistency = q->level;
        f.write.key = (struct peer_str){ q->key, q->key_bytes };
        if (hint_for != NULL)
            f.write.hint = (struct peer_str){ (const uint8_t *)hint_for, (uint32_t)strlen(hint_for) };
    } else {
        f.read.token = q->token;
        f.read.deadline_ms = left;
        f.read.flags = op == ROP_READ_HDR ? PEER_READ_F_DIGEST : 0;
        f.read.key = (struct peer_str){ q->key, q->key_bytes };
    }
    uint32_t slot;
    enum rkv_err err = peers_request(ns->peers, rep->node_idx, shard, &f, peer_answer, q, tag, &slot);
    if (err == RKV_OK)
        *slot_of(q, tag) = slot;
    return err;
}

static const char *node_id_of(const struct creq *q, uint32_t node_idx)
{
    return members_get(ringmap_members(q->ring), node_idx)->node_id;
}

/* Carries out what a coord call decided. Failures to send become coord_on_fail() events
 * (bounded: each replica fails at most once per request). */
static void creq_apply(struct node_shard *ns, struct creq *q, bool is_wr, const struct coord_actions *a)
{
    struct coord_req *c = is_wr ? &q->wr : &q->rd;
    uint32_t failed = 0;
    for (uint32_t i = 0; i < q->prefs.count; i++) {
        uint32_t bit = 1u << i;
        if (a->send_mask & bit) {
            enum rkv_err err;
            if (is_wr) {
                err = creq_send(ns, q, TAG_WR | i, ROP_WRITE, &q->prefs.replica[i], coord_record(c), q->value,
                                (coord_record(c)->flags & REC_F_TOMBSTONE) ? 0 : q->value_bytes, NULL);
            } else {
                err = creq_send(ns, q, TAG_RD | i, q->kind == CQ_READ ? ROP_READ : ROP_READ_HDR, &q->prefs.replica[i],
                                NULL, NULL, 0, NULL);
            }
            if (err != RKV_OK)
                failed |= bit;
        }
        if (a->hint_mask & bit) {
            struct prefs_replica holder = coord_hint_holder(c, i);
            enum rkv_err err = creq_send(ns, q, TAG_WR | TAG_HINT | i, ROP_WRITE, &holder, coord_record(c), q->value,
                                         (coord_record(c)->flags & REC_F_TOMBSTONE) ? 0 : q->value_bytes,
                                         node_id_of(q, q->prefs.replica[i].node_idx));
            if (err != RKV_OK)
                failed |= bit;
        }
        if (a->repair_mask & bit) {
            RKV_ASSERT(q->have_best);
            ns->m.cl_read_repairs++;
            enum rkv_err err = creq_send(ns, q, TAG_REPAIR | i, ROP_WRITE, &q->prefs.replica[i], &q->best, q->best_value,
                                         (q->best.flags & REC_F_TOMBSTONE) ? 0 : q->best_value_bytes, NULL);
            if (err != RKV_OK)
                failed |= bit;
        }
    }
    if (a->answer_now) {
        const struct coord_answer *ans = &a->answer;
        if (!is_wr && q->kind != CQ_READ) {
            /* The version probe of a write (or the read of a conditional put) is done. */
            creq_after_probe(ns, q, ans);
        } else if (!q->answered) {
            creq_answer(ns, q, ans->err, ans);
        }
    }
    for (uint32_t i = 0; i < q->prefs.count; i++) {
        if (failed & (1u << i)) {
            struct coord_actions next;
            coord_on_fail(c, i, RKV_UNAVAILABLE, &next);
            creq_apply(ns, q, is_wr, &next);
        }
    }
}

/* The node ids are sorted in the members snapshot; a replica is down when the liveness view
 * says so (this node never is). */
static uint32_t creq_down_mask(const struct node_shard *ns, const struct creq *q)
{
    uint32_t mask = 0;
    for (uint32_t i = 0; i < q->prefs.count; i++) {
        if (!cluster_up(cl(ns), q->prefs.replica[i].node_idx))
            mask |= 1u << i;
    }
    return mask;
}

static bool holder_up(void *ctx, uint32_t node_idx) { return cluster_up(ctx, node_idx); }

/* The probe (a write's version read, or a conditional put's read) answered: check, stamp and
 * start the write. */
static void creq_after_probe(struct node_shard *ns, struct creq *q, const struct coord_answer *a)
{
    if (q->answered)
        return;
    if (a->err != RKV_OK && a->err != RKV_NOT_FOUND) {
        creq_answer(ns, q, a->err, a);
        return;
    }
    if (q->kind == CQ_COND) {
        uint64_t current = a->err == RKV_OK ? a->hdr.version : 0;
        if (current != q->if_version) {
            struct coord_answer mis = *a;
            mis.hdr.version = current;
            creq_answer(ns, q, RKV_VERSION_MISMATCH, &mis);
            return;
        }
    }
    if (cluster_clock_check(cl(ns))) {
        /* Our stamps would be refused by the other replicas and kept only by ours. */
        ns->m.cl_skew_refused++;
        creq_answer(ns, q, RKV_CLOCK_SKEW, a);
        return;
    }
    uint64_t now = rkv_wall_ms();
    uint64_t ts;
    enum rkv_err err = kv_stamp(&ns->node->clock, now, coord_ts_floor_after_read(&q->rd), ns->node->cfg.max_skew_ms, &ts);
    if (err != RKV_OK) {
        ns->m.cl_skew_refused++;
        creq_answer(ns, q, err, a);
        return;
    }
    struct record_hdr hdr = { .origin = ns->node->origin, .timestamp = ts, .version = coord_version_after_read(&q->rd) };
    if (q->opcode == BIN_OP_DELETE) {
        hdr.flags = REC_F_TOMBSTONE;
        hdr.expiry_ms = now; /* a tombstone's expiry field is when the key died */
    } else if (q->ttl_s > 0) {
        hdr.expiry_ms = now + (uint64_t)q->ttl_s * 1000u;
    }
    const struct rkv_config *cfg = &ns->node->cfg;
    uint32_t down = cfg->hinted_handoff ? creq_down_mask(ns, q) : 0;
    struct coord_actions act;
    q->wr_started = true;
    for (uint32_t i = 0; i < RKV_RF_MAX; i++)
        q->slot[1][i] = PEERS_SLOT_NONE;
    /* Hints for down replicas: the next live nodes past the list, else this node (a cluster
     * of RF nodes has no node past the list). The fallback's shard is this one. */
    struct prefs_replica self = { .node_idx = cluster_self(cl(ns)), .vnode_idx = ns->sh->idx };
    struct coord_holders hold = { .up = holder_up, .ctx = cl(ns), .fallback = &self };
    coord_write_start(&q->wr, q->ring, &q->prefs, (enum coord_level)q->level, cfg->sloppy_quorum ? COORD_F_SLOPPY : 0,
                      q->deadline_ms, &hdr, down, &hold, &act);
    creq_apply(ns, q, true, &act);
}

/* One outcome of a replica operation. err: RKV_OK (a write applied, a read answered: found or
 * not), RKV_FENCED (hdr: what the replica holds), anything else a failure. */
static void creq_event(struct node_shard *ns, struct creq *q, uint32_t tag, enum rkv_err err, const struct record_hdr *hdr,
                       bool found, const uint8_t *value, uint32_t value_bytes)
{
    uint32_t i = TAG_IDX(tag);
    *slot_of(q, tag) = PEERS_SLOT_NONE;
    if (q->kind == CQ_DEBUG) {
        dbg_event(ns, q, i, err, hdr, found, value, value_bytes);
        return;
    }
    struct coord_actions act;
    if (tag & (TAG_WR | TAG_HINT)) {
        struct coord_req *c = &q->wr;
        if (err == RKV_OK) {
            coord_on_ack(c, i, &act);
        } else if (err == RKV_FENCED && hlc_phys_ms(hdr->timestamp) > rkv_wall_ms() + ns->node->cfg.max_skew_ms) {
            /* The replica holds a record stamped further ahead than the skew bound (left by a
             * node whose clock ran ahead): re-stamping above it would carry that clock into
             * ours. It counts as a failed replica instead. */
            ns->m.cl_skew_refused++;
            coord_on_fail(c, i, RKV_CLOCK_SKEW, &act);
        } else if (err == RKV_FENCED) {
            ns->m.cl_fenced++;
            coord_on_fenced(c, i, hdr->timestamp, hdr->version, &ns->node->clock, rkv_wall_ms(), &act);
        } else {
            if (err == RKV_CLOCK_SKEW) {
                ns->m.cl_skew_refused++;
            }
            coord_on_fail(c, i, err, &act);
        }
        creq_apply(ns, q, true, &act);
        return;
    }
    struct coord_req *c = &q->rd;
    if (tag & TAG_REPAIR) {
        /* A fenced repair means the replica holds something at least as new: fine. */
        if (err == RKV_OK || err == RKV_FENCED)
            coord_on_ack(c, i, &act);
        else
            coord_on_fail(c, i, err, &act);
        creq_apply(ns, q, false, &act);
        return;
    }
    if (err != RKV_OK) {
        coord_on_fail(c, i, err, &act);
        creq_apply(ns, q, false, &act);
        return;
    }
    if (found && q->kind == CQ_READ && (!q->have_best || coord_hdr_newer(hdr, &q->best))) {
        /* Keep the value of the newest record so far: the winner's is the answer and the
         * source of every repair. */
        uint8_t *copy = NULL;
        if (value_bytes > 0) {
            copy = malloc(value_bytes);
            if (copy == NULL) {
                coord_on_fail(c, i, RKV_BUSY, &act);
                creq_apply(ns, q, false, &act);
                return;
            }
            memcpy(copy, value, value_bytes);
        }
        free(q->best_value);
        q->best_value = copy;
        q->best_value_bytes = value_bytes;
        q->best = *hdr;
        q->have_best = true;
    }
    coord_on_read(c, i, found, found ? hdr : NULL, &act);
    creq_apply(ns, q, false, &act);
}

static void record_from_peer(const struct peer_record *r, struct record_hdr *out)
{
    *out = (struct record_hdr){ .flags = (r->flags & PEER_REC_F_TOMBSTONE) ? REC_F_TOMBSTONE : 0, .origin = r->origin,
                                .timestamp = r->timestamp, .version = r->version, .expiry_ms = r->expiry_ms };
}

static enum rkv_err err_from_peer(const struct peer_frame *f)
{
    enum rkv_err e;
    if (f->status == PEER_ST_ERROR && rkv_err_from_wire(f->err, &e) && e != RKV_OK)
        return e;
    return RKV_INTERNAL;
}

/* The outcome of a remote operation. */
static void peer_answer(struct node_shard *ns, void *owner, uint32_t tag, const struct peer_frame *f, enum rkv_err err)
{
    struct creq *q = owner;
    if (f == NULL) {
        creq_event(ns, q, tag, err, NULL, false, NULL, 0);
    } else if (f->opcode == PEER_OP_REPLICA_WRITE_ACK) {
        struct record_hdr held = { .timestamp = f->write_ack.timestamp, .version = f->write_ack.version };
        enum rkv_err e = f->status == PEER_ST_OK       ? RKV_OK
                         : f->status == PEER_ST_FENCED ? RKV_FENCED
                         : f->status == PEER_ST_SKEW   ? RKV_CLOCK_SKEW
                                                       : err_from_peer(f);
        if ((tag & (TAG_WR | TAG_HINT | TAG_REPAIR)) == 0)
            e = RKV_BAD_FRAME; /* a write answer to a read */
        creq_event(ns, q, tag, e, &held, false, NULL, 0);
    } else if (f->opcode == PEER_OP_REPLICA_READ_ACK && (tag & (TAG_WR | TAG_HINT | TAG_REPAIR)) == 0) {
        if (f->status == PEER_ST_OK) {
            struct record_hdr hdr;
            record_from_peer(&f->read_ack.rec, &hdr);
            creq_event(ns, q, tag, RKV_OK, &hdr, true, f->read_ack.rec.value, f->read_ack.rec.value_bytes);
        } else if (f->status == PEER_ST_NOT_FOUND) {
            creq_event(ns, q, tag, RKV_OK, NULL, false, NULL, 0);
        } else {
            creq_event(ns, q, tag, err_from_peer(f), NULL, false, NULL, 0);
        }
    } else {
        creq_event(ns, q, tag, RKV_BAD_FRAME, NULL, false, NULL, 0);
    }
    creq_maybe_free(ns, q);
}

/* ---- executing replica operations on the owning shard ---- */

/* Runs a local replica operation against this shard's storage; the result waits in the done
 * list for the turn's flush. */
static void replica_execute(struct node_shard *ns, struct replica_msg *m)
{
    uint64_t now = rkv_wall_ms();
    bool wrote = false;
    if (m->op == ROP_WRITE && m->hint_for != NULL) {
        uint64_t seq;
        m->err = hints_put(ns->hints, m->hint_for, strlen(m->hint_for), m->token, m->key, m->key_bytes, &m->hdr,
                           m->value, m->value_bytes, now, &seq);
        wrote = m->err == RKV_OK;
        if (wrote)
            ns->m.hints_stored++;
    } else if (m->op == ROP_WRITE) {
        struct kv_apply_args a = { .token = m->token, .key = m->key, .key_bytes = m->key_bytes, .hdr = m->hdr,
                                   .value = m->value, .value_bytes = m->value_bytes,
                                   .max_skew_ms = ns->node->cfg.max_skew_ms };
        m->err = kv_apply(ns->es, ns->rc, &ns->node->clock, now, &a, &m->ares);
        wrote = m->err == RKV_OK && !m->ares.duplicate;
        ns->m.cl_replica_writes++;
        if (m->err == RKV_FENCED)
            m->out_hdr = (struct record_hdr){ .timestamp = m->ares.timestamp, .version = m->ares.version,
                                              .origin = m->ares.origin };
    } else {
        struct record_view v;
        enum rkv_err err = kv_read_record(ns->es, ns->rc, m->token, m->key, m->key_bytes, &v);
        ns->m.cl_replica_reads++;
        m->err = RKV_OK;
        if (err == RKV_NOT_FOUND) {
            m->found = false;
        } else if (err != RKV_OK) {
            m->err = err;
        } else {
            m->found = true;
            m->out_hdr = v.hdr;
            if (m->op == ROP_READ && v.value_bytes > 0) {
                m->out_value = malloc(v.value_bytes);
                if (m->out_value == NULL) {
                    m->err = RKV_BUSY;
                } else {
                    memcpy(m->out_value, v.value, v.value_bytes);
                    m->out_value_bytes = v.value_bytes;
                }
            }
        }
    }
    m->executed = true;
    ns->local_jobs++;
    node_done_push(ns, &m->msg, wrote);
}

/* At the coordinating shard: the outcome of a local replica operation. */
static void replica_deliver(struct node_shard *ns, struct replica_msg *m)
{
    struct creq *q = m->q;
    RKV_ASSERT(q->local_inflight > 0);
    q->local_inflight--;
    /* Local operations are never cancelled: their outcome always feeds coord. */
    creq_event(ns, q, m->tag, m->err, &m->out_hdr, m->found, m->out_value, m->out_value_bytes);
    free(m->out_value);
    pool_put(&ns->pools->replica, m);
    creq_maybe_free(ns, q);
}

void cg_on_msg(struct node_shard *ns, struct node_msg *m)
{
    RKV_ASSERT(m->kind == NODE_MSG_REPLICA);
    struct replica_msg *r = (struct replica_msg *)m;
    if (r->executed) {
        RKV_ASSERT(m->home == ns->sh->idx);
        replica_deliver(ns, r); /* executed on the owning shard and sent back */
    } else {
        replica_execute(ns, r);
    }
}

/* ---- the replica side of the peer protocol ---- */

static void job_send(struct node_shard *ns, struct peer_job *j)
{
    uint8_t head[PEER_HELLO_FIXED_BYTES + 4u * 256u + PEER_READ_ACK_FIXED_BYTES];
    size_t n = peer_frame_encode_head(head, sizeof head, &j->ans);
    RKV_ASSERT(n > 0);
    size_t tail = peer_frame_bytes(&j->ans) - n;
    RKV_ASSERT(tail == 0 || j->value_heap != NULL);
    conn_peer_reply(j->conn, head, n, tail > 0 ? j->value_heap : NULL, tail);
    if (tail == 0)
        free(j->value_heap);
    pool_put(&ns->pools->job, j);
}

/* Answers a peer request at once (it wrote nothing, so it need not wait for a flush). */
static void reply_now(struct conn *c, const struct peer_frame *ans)
{
    uint8_t buf[PEER_HELLO_FIXED_BYTES + 4u * 256u + PEER_READ_ACK_FIXED_BYTES];
    size_t n = peer_frame_encode(buf, sizeof buf, ans);
    RKV_ASSERT(n > 0);
    conn_peer_reply(c, buf, n, NULL, 0);
}

static void reply_error(struct conn *c, uint32_t request_id, uint8_t opcode, enum rkv_err err)
{
    struct peer_frame ans = { .request_id = request_id, .opcode = PEER_OP_ANSWER(opcode), .status = PEER_ST_ERROR,
                              .err = rkv_err_wire(err) };
    reply_now(c, &ans);
}

/* A job answering request f on c after the turn's flush; NULL (already answered BUSY) when out
 * of memory. */
static struct peer_job *job_new(struct node_shard *ns, struct conn *c, const struct peer_frame *f, bool is_write)
{
    struct peer_job *j = pool_get(&ns->pools->job);
    if (j == NULL) {
        reply_error(c, f->request_id, f->opcode, RKV_BUSY);
        return NULL;
    }
    j->msg.kind = NODE_MSG_PEER_JOB;
    j->msg.home = ns->sh->idx;
    j->conn = c;
    j->is_write = is_write;
    j->ans = (struct peer_frame){ .request_id = f->request_id, .opcode = PEER_OP_ANSWER(f->opcode) };
    return j;
}

static void peer_replica_write(struct node_shard *ns, struct conn *c, const struct peer_frame *f)
{
    const struct peer_write *w = &f->write;
    struct peer_job *j = job_new(ns, c, f, true);
    if (j == NULL)
        return;
    uint64_t now = rkv_wall_ms();
    struct record_hdr hdr;
    record_from_peer(&w->rec, &hdr);
    bool wrote = false;
    enum rkv_err err;
    if (w->hint.bytes > 0) {
        err = cg_hint_store(ns, w, &hdr, now);
        wrote = err == RKV_OK;
        if (err == RKV_OK) {
            j->ans.write_ack.version = hdr.version;
            j->ans.write_ack.timestamp = hdr.timestamp;
        }
    } else {
        struct kv_apply_args a = { .token = w->token, .key = w->key.data, .key_bytes = w->key.bytes, .hdr = hdr,
                                   .value = w->rec.value, .value_bytes = w->rec.value_bytes,
                                   .max_skew_ms = ns->node->cfg.max_skew_ms };
        struct kv_apply_result res;
        err = kv_apply(ns->es, ns->rc, &ns->node->clock, now, &a, &res);
        ns->m.cl_replica_writes++;
        wrote = err == RKV_OK && !res.duplicate;
        if (err == RKV_OK || err == RKV_FENCED) {
            j->ans.write_ack.version = res.version;
            j->ans.write_ack.timestamp = res.timestamp;
        }
    }
    if (err == RKV_FENCED) {
        j->ans.status = PEER_ST_FENCED;
    } else if (err == RKV_CLOCK_SKEW) {
        ns->m.cl_skew_refused++;
        j->ans.status = PEER_ST_SKEW;
        j->ans.write_ack.timestamp = hlc_tick(&ns->node->clock, now);
    } else if (err != RKV_OK) {
        j->ans.status = PEER_ST_ERROR;
        j->ans.err = rkv_err_wire(err);
    }
    ns->local_jobs++;
    node_done_push(ns, &j->msg, wrote);
}

static void peer_replica_read(struct node_shard *ns, struct conn *c, const struct peer_frame *f)
{
    const struct peer_read *r = &f->read;
    struct peer_job *j = job_new(ns, c, f, false);
    if (j == NULL)
        return;
    struct record_view v;
    enum rkv_err err = kv_read_record(ns->es, ns->rc, r->token, r->key.data, r->key.bytes, &v);
    ns->m.cl_replica_reads++;
    if (err == RKV_NOT_FOUND) {
        j->ans.status = PEER_ST_NOT_FOUND;
    } else if (err != RKV_OK) {
        j->ans.status = PEER_ST_ERROR;
        j->ans.err = rkv_err_wire(err);
    } else {
        struct peer_record *rec = &j->ans.read_ack.rec;
        *rec = (struct peer_record){ .flags = (v.hdr.flags & REC_F_TOMBSTONE) ? PEER_REC_F_TOMBSTONE : 0,
                                     .origin = v.hdr.origin, .timestamp = v.hdr.timestamp, .version = v.hdr.version,
                                     .expiry_ms = v.hdr.expiry_ms };
        if (r->flags & PEER_READ_F_DIGEST) {
            struct peer_record full = *rec;
            full.value = v.value;
            full.value_bytes = v.value_bytes;
            j->ans.read_ack.flags = PEER_READ_ACK_F_DIGEST;
            j->ans.read_ack.digest = peer_record_digest(&full);
        } else if (v.value_bytes > 0) {
            j->value_heap = malloc(v.value_bytes);
            if (j->value_heap == NULL) {
                j->ans = (struct peer_frame){ .request_id = f->request_id, .opcode = PEER_OP_REPLICA_READ_ACK,
                                              .status = PEER_ST_ERROR, .err = rkv_err_wire(RKV_BUSY) };
            } else {
                memcpy(j->value_heap, v.value, v.value_bytes);
                rec->value = j->value_heap;
                rec->value_bytes = v.value_bytes;
            }
        }
    }
    ns->local_jobs++;
    node_done_push(ns, &j->msg, false);
}

enum rkv_err cg_peer_frame(struct node_shard *ns, struct conn *c, const uint8_t *frame, size_t frame_bytes)
{
    struct peer_frame f;
    size_t used;
    enum rkv_err why;
    enum parse_rc rc = peer_frame_decode(frame, frame_bytes, &f, &used, &why);
    if (rc != PARSE_DONE) {
        /* Delimited (conn.c checked the length) but malformed: a request gets an error
         * answer; anything else ends the connection. */
        if (used != 0 && (f.opcode & 1u) == 0 && peer_opcode_name(f.opcode)[0] != '?') {
            reply_error(c, f.request_id, f.opcode, why);
            return RKV_OK;
        }
        return why;
    }
    if ((f.opcode & 1u) != 0)
        return RKV_BAD_FRAME; /* an answer sent to the peer port */
    enum rkv_err err = peer_frame_validate(&f);
    if (err != RKV_OK && f.opcode != PEER_OP_HELLO) {
        reply_error(c, f.request_id, f.opcode, err);
        return RKV_OK;
    }
    uint64_t now = rkv_wall_ms();
    switch (f.opcode) {
    case PEER_OP_HELLO: {
        struct peer_frame ans = { .request_id = f.request_id, .opcode = PEER_OP_HELLO_ACK };
        cluster_hello_self(cl(ns), &ans.hello);
        if (err != RKV_OK) {
            ans.status = PEER_ST_ERROR;
            ans.err = rkv_err_wire(err);
        } else {
            (void)hlc_observe_checked(&ns->node->clock, f.hello.hlc_ts, now, ns->node->cfg.max_skew_ms);
        }
        reply_now(c, &ans);
        return RKV_OK;
    }
    case PEER_OP_PING: {
        (void)hlc_observe_checked(&ns->node->clock, f.ping.hlc_ts, now, ns->node->cfg.max_skew_ms);
        struct peer_frame ans = { .request_id = f.request_id, .opcode = PEER_OP_PONG };
        ans.ping.hlc_ts = hlc_make(now, 0);
        ans.ping.echo_ts = f.ping.hlc_ts;
        reply_now(c, &ans);
        return RKV_OK;
    }
    case PEER_OP_REPLICA_WRITE:
        peer_replica_write(ns, c, &f);
        return RKV_OK;
    case PEER_OP_REPLICA_READ:
        peer_replica_read(ns, c, &f);
        return RKV_OK;
    default:
        return cg_peer_frame_more(ns, c, &f);
    }
}

/* ---- the done list ---- */

void cg_release(struct node_shard *ns, struct node_msg *m, enum rkv_err flush_err)
{
    RKV_ASSERT(ns->local_jobs > 0);
    ns->local_jobs--;
    if (m->kind == NODE_MSG_PEER_JOB) {
        struct peer_job *j = (struct peer_job *)m;
        if (j->is_write && flush_err != RKV_OK && j->ans.status == PEER_ST_OK) {
            j->ans.status = PEER_ST_ERROR;
            j->ans.err = rkv_err_wire(flush_err);
            j->ans.write_ack = (struct peer_write_ack){ 0, 0 };
        }
        job_send(ns, j);
        return;
    }
    RKV_ASSERT(m->kind == NODE_MSG_REPLICA);
    struct replica_msg *r = (struct replica_msg *)m;
    if (r->op == ROP_WRITE && r->err == RKV_OK && flush_err != RKV_OK)
        r->err = flush_err;
    if (m->home == ns->sh->idx)
        replica_deliver(ns, r);
    else
        node_send(ns, m->home, m);
}

/* ---- client requests ---- */

/* Answers made while the client's request is still being handed over (a send failed at
 * once) wait for cg_turn(): a connection is never answered from inside on_request. */
static void creq_start(struct node_shard *ns, struct creq *q)
{
    uint64_t now = q->start_ms;
    uint32_t down = creq_down_mask(ns, q);
    struct coord_actions act;
    for (uint32_t i = 0; i < RKV_RF_MAX; i++)
        q->slot[0][i] = q->slot[1][i] = q->repair_slot[i] = PEERS_SLOT_NONE;
    q->rd_started = true;
    coord_read_start(&q->rd, &q->prefs, (enum coord_level)q->level, q->kind == CQ_READ ? 0 : COORD_F_NO_REPAIR,
                     q->deadline_ms, now, down, &act);
    creq_apply(ns, q, false, &act);
}

/* A creq for req (a client's request, or one forwarded by another coordinator), not yet
 * started; NULL when out of memory. */
static struct creq *creq_new(struct node_shard *ns, const struct ringmap *ring, struct conn *c, const struct bin_req *req,
                             uint32_t timeout_ms, bool via_peer)
{
    struct creq *q = pool_get(&ns->pools->creq);
    if (q == NULL)
        return NULL; /* RKV_SHARD_REQS_MAX in flight here: back-pressure */
    q->opcode = req->opcode;
    q->kind = req->opcode == BIN_OP_GET ? CQ_READ : (req->flags & BIN_REQ_F_IF_VERSION) ? CQ_COND : CQ_WRITE;
    q->level = req->consistency;
    q->conn = c;
    q->via_peer = via_peer;
    q->request_id = req->request_id;
    q->start_ns = rkv_mono_ns();
    q->start_ms = rkv_wall_ms();
    q->deadline_ms = q->start_ms + timeout_ms;
    q->ttl_s = req->ttl_s;
    q->if_version = req->if_version;
    q->key_bytes = req->key_bytes;
    memcpy(q->key, req->key, req->key_bytes);
    q->token = token_of_key(req->key, req->key_bytes);
    if (req->opcode == BIN_OP_PUT && req->value_bytes > 0) {
        q->value = malloc(req->value_bytes);
        if (q->value == NULL) {
            pool_put(&ns->pools->creq, q);
            return NULL;
        }
        memcpy(q->value, req->value, req->value_bytes);
    }
    q->value_bytes = req->opcode == BIN_OP_PUT ? req->value_bytes : 0;
    q->ring = ring;
    prefs_for_token(ring, q->token, ns->node->cfg.rf, &q->prefs);
    q->fwd_slot = PEERS_SLOT_NONE;
    for (uint32_t i = 0; i < RKV_RF_MAX; i++)
        q->slot[0][i] = q->slot[1][i] = q->repair_slot[i] = PEERS_SLOT_NONE;
    dl_push(ns, q);
    return q;
}

/* The primary of a conditional put: the first replica of the list that is up (DESIGN §1).
 * False when none is. */
static bool cond_primary(const struct node_shard *ns, const struct creq *q, uint32_t *idx_out)
{
    for (uint32_t i = 0; i < q->prefs.count; i++) {
        if (cluster_up(cl(ns), q->prefs.replica[i].node_idx)) {
            *idx_out = i;
            return true;
        }
    }
    return false;
}

static void fwd_answer(struct node_shard *ns, void *owner, uint32_t tag, const struct peer_frame *f, enum rkv_err err);

/* A conditional put runs on its key's primary, on the shard that owns the key there, which
 * serializes the conditional puts of each key (cg_cond_begin()): here when that is us, else
 * it is forwarded (to this node's own owning shard too, over loopback: the one path keeps
 * the serialization in one place). */
static void cond_route(struct node_shard *ns, struct creq *q)
{
    uint32_t k;
    if (!cond_primary(ns, q, &k)) {
        struct coord_answer a = { .err = RKV_UNAVAILABLE, .needed = coord_needed((enum coord_level)q->level, q->prefs.count) };
        creq_answer(ns, q, RKV_UNAVAILABLE, &a);
        return;
    }
    const struct prefs_replica *p = &q->prefs.replica[k];
    uint32_t shard = prefs_replica_shard(q->ring, p);
    if (p->node_idx == cluster_self(cl(ns)) && shard == ns->sh->idx) {
        cg_cond_begin(ns, q);
        return;
    }
    q->kind = CQ_FORWARD;
    struct peer_frame f = { .opcode = PEER_OP_FORWARD };
    uint64_t now = rkv_wall_ms();
    f.forward = (struct peer_forward){ .token = q->token, .if_version = q->if_version, .ttl_s = q->ttl_s,
                                       .deadline_ms = q->deadline_ms > now ? (uint32_t)(q->deadline_ms - now) : 1u,
                                       .client_opcode = q->opcode, .consistency = q->level,
                                       .req_flags = BIN_REQ_F_IF_VERSION,
                                       .key = { q->key, q->key_bytes }, .value = { q->value, q->value_bytes } };
    enum rkv_err err = peers_request(ns->peers, p->node_idx, shard, &f, fwd_answer, q, TAG_FWD, &q->fwd_slot);
    if (err != RKV_OK) {
        /* The primary cannot be reached: fail rather than risk two winners (DESIGN §1). */
        struct coord_answer a = { .err = RKV_UNAVAILABLE, .needed = coord_needed((enum coord_level)q->level, q->prefs.count) };
        creq_answer(ns, q, RKV_UNAVAILABLE, &a);
    }
}

/* The primary answered a forwarded conditional put (or the FORWARD failed). */
static void fwd_answer(struct node_shard *ns, void *owner, uint32_t tag, const struct peer_frame *f, enum rkv_err err)
{
    (void)tag;
    struct creq *q = owner;
    q->fwd_slot = PEERS_SLOT_NONE;
    if (!q->answered) {
        struct coord_answer a = { .needed = coord_needed((enum coord_level)q->level, q->prefs.count) };
        enum rkv_err e = err != RKV_OK ? RKV_UNAVAILABLE : RKV_BAD_FRAME;
        if (f != NULL && f->opcode == PEER_OP_FORWARD_ACK) {
            a.acked = f->forward_ack.acked;
            a.needed = f->forward_ack.needed;
            a.hinted = f->forward_ack.hinted;
            a.hdr.version = f->forward_ack.version;
            a.hdr.timestamp = f->forward_ack.timestamp;
            e = f->status == PEER_ST_OK ? RKV_OK : f->status == PEER_ST_NOT_FOUND ? RKV_NOT_FOUND : err_from_peer(f);
        }
        creq_answer(ns, q, e, &a);
    }
    creq_maybe_free(ns, q);
}

/* Answers a forwarded request with FORWARD_ACK. */
static void fwd_reply(struct node_shard *ns, struct creq *q)
{
    (void)ns;
    enum rkv_err err = q->ans_err;
    struct peer_frame ans = { .request_id = q->request_id, .opcode = PEER_OP_FORWARD_ACK };
    if (q->has_ans) {
        ans.forward_ack.acked = (uint8_t)q->ans.acked;
        ans.forward_ack.needed = (uint8_t)q->ans.needed;
        ans.forward_ack.hinted = (uint8_t)q->ans.hinted;
    }
    if (err == RKV_OK) {
        ans.forward_ack.version = q->ans.hdr.version;
        ans.forward_ack.timestamp = q->ans.hdr.timestamp;
    } else if (err == RKV_NOT_FOUND) {
        ans.status = PEER_ST_NOT_FOUND;
        ans.forward_ack.acked = ans.forward_ack.hinted = 0;
        ans.forward_ack.needed = q->has_ans ? (uint8_t)q->ans.needed : 1;
    } else {
        ans.status = PEER_ST_ERROR;
        ans.err = rkv_err_wire(err);
        if (err == RKV_VERSION_MISMATCH && q->has_ans)
            ans.forward_ack.version = q->ans.hdr.version;
    }
    /* Forwarded GETs are not sent (only conditional puts are forwarded), so no value. */
    uint8_t buf[PEER_FORWARD_ACK_FIXED_BYTES];
    size_t n = peer_frame_encode(buf, sizeof buf, &ans);
    RKV_ASSERT(n > 0);
    conn_peer_reply(q->conn, buf, n, NULL, 0);
    q->conn = NULL;
}

enum rkv_err cg_client_request(struct node_shard *ns, struct conn *c, const struct bin_req *req)
{
    const struct ringmap *ring = cluster_ring(cl(ns));
    if (ring == NULL)
        return RKV_UNAVAILABLE; /* not formed yet: the seeds have not all answered */
    struct creq *q = creq_new(ns, ring, c, req, ns->node->cfg.request_timeout_ms, false);
    if (q == NULL)
        return RKV_BUSY;
    ns->m.cl_requests++;
    ns->in_client_request = true;
    if (q->kind == CQ_COND)
        cond_route(ns, q);
    else
        creq_start(ns, q);
    ns->in_client_request = false;
    creq_maybe_free(ns, q);
    return RKV_OK;
}

/* FORWARD: a conditional put for a key whose primary we are (the forwarder's view). */
static enum rkv_err peer_forward(struct node_shard *ns, struct conn *c, const struct peer_frame *f)
{
    const struct peer_forward *fw = &f->forward;
    const struct ringmap *ring = cluster_ring(cl(ns));
    if (ring == NULL || fw->client_opcode != BIN_OP_PUT || (fw->req_flags & BIN_REQ_F_IF_VERSION) == 0) {
        reply_error(c, f->request_id, f->opcode, ring == NULL ? RKV_UNAVAILABLE : RKV_INVALID_ARG);
        return RKV_OK;
    }
    struct bin_req req = { .request_id = f->request_id, .opcode = fw->client_opcode, .consistency = fw->consistency,
                           .flags = fw->req_flags, .ttl_s = fw->ttl_s, .if_version = fw->if_version,
                           .key = fw->key.data, .key_bytes = (uint16_t)fw->key.bytes,
                           .value = fw->value.data, .value_bytes = fw->value.bytes };
    struct creq *q = creq_new(ns, ring, c, &req, fw->deadline_ms, true);
    if (q == NULL) {
        reply_error(c, f->request_id, f->opcode, RKV_BUSY);
        return RKV_OK;
    }
    ns->in_client_request = true;
    cg_cond_begin(ns, q);
    ns->in_client_request = false;
    creq_maybe_free(ns, q);
    return RKV_OK;
}

/* HINT_LIST: the hints this shard holds for one key (GET /debug/key on some node). */
struct hint_list_acc {
    struct peer_hint_entry e[PEER_HINT_LIST_ENTRIES_MAX];
    char ids[PEER_HINT_LIST_ENTRIES_MAX][RKV_NODE_ID_BYTES_MAX];
    uint16_t count;
};

static void hint_list_found(void *arg, const char *target, size_t target_bytes, uint64_t seq, const struct record_hdr *hdr)
{
    (void)seq;
    struct hint_list_acc *acc = arg;
    if (acc->count == PEER_HINT_LIST_ENTRIES_MAX || target_bytes > RKV_NODE_ID_BYTES_MAX)
        return;
    memcpy(acc->ids[acc->count], target, target_bytes);
    acc->e[acc->count] = (struct peer_hint_entry){ .target = { (const uint8_t *)acc->ids[acc->count], (uint32_t)target_bytes },
                                                   .version = hdr->version, .timestamp = hdr->timestamp };
    acc->count++;
}

/* Records visited per HINT_LIST: an operator's tool, bounded so one request cannot stall the
 * shard on a huge hint table (the answer then lists what the visited part held). */
#define HINT_LIST_SCAN_MAX 100000u

static enum rkv_err peer_hint_list(struct node_shard *ns, struct conn *c, const struct peer_frame *f)
{
    struct hint_list_acc *acc = calloc(1, sizeof *acc);
    if (acc == NULL) {
        reply_error(c, f->request_id, f->opcode, RKV_BUSY);
        return RKV_OK;
    }
    struct hints_scan_pos pos;
    memset(&pos, 0, sizeof pos);
    struct hints_scan_result res;
    enum rkv_err err = ns->hints == NULL ? RKV_OK
                                         : hints_for_key(ns->hints, f->hint_list.token, f->hint_list.key.data,
                                                         f->hint_list.key.bytes, &pos, HINT_LIST_SCAN_MAX, acc,
                                                         hint_list_found, &res);
    struct peer_frame ans = { .request_id = f->request_id, .opcode = PEER_OP_HINT_LIST_ACK };
    if (err != RKV_OK) {
        ans.status = PEER_ST_ERROR;
        ans.err = rkv_err_wire(err);
    } else {
        ans.hint_list_ack.count = acc->count;
        ans.hint_list_ack.entries = acc->e;
    }
    size_t cap = PEER_HINT_LIST_ACK_FIXED_BYTES + PEER_HINT_LIST_ENTRIES_MAX * (PEER_HINT_LIST_ENTRY_BYTES + RKV_NODE_ID_BYTES_MAX);
    uint8_t *buf = malloc(cap);
    size_t n = buf != NULL ? peer_frame_encode(buf, cap, &ans) : 0;
    free(acc);
    if (n == 0) {
        free(buf);
        reply_error(c, f->request_id, f->opcode, RKV_BUSY);
        return RKV_OK;
    }
    conn_peer_reply(c, buf, n, NULL, 0);
    free(buf);
    return RKV_OK;
}

/* ---- conditional puts ---- */

static bool same_key(const struct creq *a, const struct creq *b)
{
    return a->token == b->token && a->key_bytes == b->key_bytes && memcmp(a->key, b->key, a->key_bytes) == 0;
}

/* Conditional puts of one key run one at a time on this shard: the first holds the key's
 * turn (cond_active, on ns->cond_head); later ones wait behind it (cond_next) and start when
 * it is answered. */
static void cg_cond_begin(struct node_shard *ns, struct creq *q)
{
    for (struct creq *a = ns->cond_head; a != NULL; a = a->cond_next) {
        if (!same_key(a, q))
            continue;
        struct creq *t = a;
        while (t->cond_wait != NULL)
            t = t->cond_wait;
        t->cond_wait = q; /* waits; its deadline still runs */
        q->cond_waiting = true;
        return;
    }
    q->cond_active = true;
    q->cond_next = ns->cond_head;
    ns->cond_head = q;
    creq_start(ns, q);
}

static void cg_cond_end(struct node_shard *ns, struct creq *q)
{
    if (!q->cond_active)
        return;
    q->cond_active = false;
    struct creq **pp = &ns->cond_head;
    while (*pp != q)
        pp = &(*pp)->cond_next;
    *pp = q->cond_next;
    q->cond_next = NULL;
    /* The next waiter that is still unanswered (its deadline may have passed) takes the turn. */
    struct creq *w = q->cond_wait;
    q->cond_wait = NULL;
    while (w != NULL && w->answered) {
        struct creq *n = w->cond_wait;
        w->cond_wait = NULL;
        w->cond_waiting = false;
        creq_maybe_free(ns, w);
        w = n;
    }
    if (w != NULL) {
        w->cond_waiting = false;
        w->cond_active = true;
        w->cond_next = ns->cond_head;
        ns->cond_head = w;
        creq_start(ns, w);
        creq_maybe_free(ns, w);
    }
}

/* ---- deadlines, turns, life ---- */

static void cancel_remote(struct node_shard *ns, struct creq *q, struct coord_req *c, bool is_wr, uint32_t *slots)
{
    for (uint32_t i = 0; i < q->prefs.count; i++) {
        if (slots[i] == PEERS_SLOT_NONE)
            continue;
        peers_cancel(ns->peers, slots[i]);
        slots[i] = PEERS_SLOT_NONE;
        struct coord_actions act;
        coord_on_fail(c, i, RKV_TIMEOUT, &act);
        creq_apply(ns, q, is_wr, &act);
    }
}

/* The deadline passed: coord answers what it must, and remote operations still in flight
 * are given up (their answers, if they come, are dropped by peers.c). Local operations are
 * waited for: they always come back within a turn or two. */
static void creq_expire(struct node_shard *ns, struct creq *q, uint64_t now_ms)
{
    q->expired = true;
    struct coord_actions act;
    if (q->kind == CQ_DEBUG) {
        for (uint32_t i = 0; i < q->prefs.count; i++) {
            if (q->slot[0][i] != PEERS_SLOT_NONE) {
                peers_cancel(ns->peers, q->slot[0][i]);
                q->slot[0][i] = PEERS_SLOT_NONE;
                dbg_event(ns, q, i, RKV_TIMEOUT, NULL, false, NULL, 0);
            }
        }
        for (uint32_t k = 0; k < q->dbg_hint_slot_count; k++) {
            if (q->dbg_hint_slots[k] != PEERS_SLOT_NONE) {
                peers_cancel(ns->peers, q->dbg_hint_slots[k]);
                q->dbg_hint_slots[k] = PEERS_SLOT_NONE;
                dbg_hint_done(ns, q);
            }
        }
        return;
    }
    if (q->kind == CQ_FORWARD && q->fwd_slot != PEERS_SLOT_NONE) {
        peers_cancel(ns->peers, q->fwd_slot);
        q->fwd_slot = PEERS_SLOT_NONE;
    }
    if (!q->rd_started && !q->answered) {
        /* A conditional put still waiting for its key's turn, or forwarded to its primary. */
        struct coord_answer a = { .err = RKV_UNAVAILABLE, .needed = coord_needed((enum coord_level)q->level, q->prefs.count) };
        creq_answer(ns, q, RKV_UNAVAILABLE, &a);
    }
    if (q->rd_started && !coord_done(&q->rd)) {
        if (!coord_answered(&q->rd)) {
            coord_on_deadline(&q->rd, now_ms, &act);
            creq_apply(ns, q, false, &act);
        }
        cancel_remote(ns, q, &q->rd, false, q->slot[0]);
        cancel_remote(ns, q, &q->rd, false, q->repair_slot);
    }
    if (q->wr_started && !coord_done(&q->wr)) {
        if (!coord_answered(&q->wr)) {
            coord_on_deadline(&q->wr, now_ms, &act);
            creq_apply(ns, q, true, &act);
        }
        cancel_remote(ns, q, &q->wr, true, q->slot[1]);
    }
}

void cg_tick(struct node_shard *ns, uint64_t now_ms)
{
    if (ns->node->cluster == NULL)
        return;
    peers_tick(ns->peers);
    if (ns->sh->idx == 0)
        cluster_shard0_tick(ns->node->cluster, now_ms);
    replay_tick(ns, now_ms);
    /* In start order, which is deadline order: stop at the first one still in time. */
    struct creq *q = ns->creq_head;
    while (q != NULL && q->deadline_ms <= now_ms) {
        struct creq *next = q->next;
        if (!q->expired) {
            creq_expire(ns, q, now_ms);
            creq_maybe_free(ns, q);
        }
        q = next;
    }
}

void cg_turn(struct node_shard *ns, uint64_t now_ms)
{
    (void)now_ms;
    while (ns->deferred != NULL) {
        struct creq *q = ns->deferred;
        ns->deferred = q->def_next;
        q->def_next = NULL;
        q->deferred = false;
        creq_reply(ns, q);
        cg_cond_end(ns, q);
        creq_maybe_free(ns, q);
    }
}

enum rkv_err cg_start(struct node_shard *ns)
{
    ns->replay = replay_new();
    if (ns->replay == NULL)
        return RKV_BUSY;
    ns->pools = calloc(1, sizeof *ns->pools);
    if (ns->pools == NULL)
        return RKV_BUSY;
    if (!pool_init(&ns->pools->creq, "creq", sizeof(struct creq), RKV_SHARD_REQS_MAX) ||
        !pool_init(&ns->pools->replica, "replica_msg", sizeof(struct replica_msg), RKV_SHARD_REQS_MAX * RKV_RF_MAX) ||
        !pool_init(&ns->pools->job, "peer_job", sizeof(struct peer_job), RKV_SHARD_REQS_MAX * RKV_RF_MAX))
        return RKV_BUSY; /* cg_free() destroys what was made */
    enum rkv_err err = peers_create(ns, &ns->peers);
    if (err == RKV_OK && ns->sh->idx == 0)
        err = cluster_shard0_start(ns->node->cluster, ns);
    return err;
}

bool cg_drained(const struct node_shard *ns)
{
    return ns->creq_count == 0 && ns->local_jobs == 0 && ns->deferred == NULL;
}

void cg_close(struct node_shard *ns)
{
    if (ns->peers)
        peers_close(ns->peers);
    if (ns->sh->idx == 0)
        cluster_shard0_close(ns->node->cluster);
}

bool cg_closed(struct node_shard *ns)
{
    bool closed = ns->peers == NULL || peers_closed(ns->peers);
    if (ns->sh->idx == 0 && !cluster_shard0_closed(ns->node->cluster))
        closed = false;
    return closed;
}

void cg_free(struct node_shard *ns)
{
    peers_free(ns->peers);
    ns->peers = NULL;
    free(ns->replay);
    ns->replay = NULL;
    if (ns->pools != NULL) {
        struct pool *all[] = { &ns->pools->creq, &ns->pools->replica, &ns->pools->job };
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            if (all[i]->slabs != NULL)
                pool_destroy(all[i]);
        }
        free(ns->pools);
        ns->pools = NULL;
    }
}

/* ---- hinted handoff (storage in storage/hints.h) ---- */

static enum rkv_err cg_hint_store(struct node_shard *ns, const struct peer_write *w, const struct record_hdr *hdr,
                                  uint64_t now_ms)
{
    uint64_t seq;
    enum rkv_err err = hints_put(ns->hints, (const char *)w->hint.data, w->hint.bytes, w->token, w->key.data, w->key.bytes,
                                 hdr, w->rec.value, w->rec.value_bytes, now_ms, &seq);
    if (err == RKV_OK)
        ns->m.hints_stored++;
    return err;
}

static enum rkv_err cg_peer_frame_more(struct node_shard *ns, struct conn *c, const struct peer_frame *f)
{
    if (f->opcode == PEER_OP_FORWARD)
        return peer_forward(ns, c, f);
    if (f->opcode == PEER_OP_HINT_LIST)
        return peer_hint_list(ns, c, f);
    reply_error(c, f->request_id, f->opcode, RKV_UNKNOWN_OPCODE);
    return RKV_OK;
}

/* ---- GET /debug/key ---- */

static void dbg_maybe_answer(struct node_shard *ns, struct creq *q)
{
    if (q->dbg_pending == 0 && !q->answered)
        creq_answer(ns, q, RKV_OK, NULL);
}

static void dbg_hint_done(struct node_shard *ns, struct creq *q)
{
    RKV_ASSERT(q->dbg_pending > 0);
    q->dbg_pending--;
    dbg_maybe_answer(ns, q);
}

static void dbg_event(struct node_shard *ns, struct creq *q, uint32_t i, enum rkv_err err, const struct record_hdr *hdr,
                      bool found, const uint8_t *value, uint32_t value_bytes)
{
    struct dbg_rep *d = &q->dbg[i];
    RKV_ASSERT(d->state == DBG_PENDING && q->dbg_pending > 0);
    q->dbg_pending--;
    if (err != RKV_OK) {
        d->state = DBG_UNREACHABLE;
    } else {
        d->state = DBG_DONE;
        d->found = found;
        if (found) {
            d->hdr = *hdr;
            if (value_bytes > 0) {
                d->value = malloc(value_bytes);
                if (d->value != NULL) {
                    memcpy(d->value, value, value_bytes);
                    d->value_bytes = value_bytes;
                }
            }
        }
    }
    dbg_maybe_answer(ns, q);
}

static void dbg_reply(struct node_shard *ns, struct creq *q)
{
    const struct members *m = ringmap_members(q->ring);
    struct http_dbg_replica reps[RKV_RF_MAX];
    uint64_t now = rkv_wall_ms();
    for (uint32_t i = 0; i < q->prefs.count; i++) {
        const struct dbg_rep *d = &q->dbg[i];
        struct http_dbg_replica *r = &reps[i];
        *r = (struct http_dbg_replica){ .node = members_get(m, q->prefs.replica[i].node_idx)->node_id };
        if (d->state != DBG_DONE) {
            r->status = "unreachable";
        } else if (!d->found) {
            r->status = "absent";
        } else {
            r->has_record = true;
            r->status = (d->hdr.flags & REC_F_TOMBSTONE) ? "tombstone" : record_visible(&d->hdr, now) ? "present" : "expired";
            r->value = d->value;
            r->value_bytes = d->value_bytes;
            r->version = d->hdr.version;
            r->timestamp = d->hdr.timestamp;
            r->expires_at = d->hdr.expiry_ms;
        }
    }
    struct http_dbg_hint *hints = calloc(q->dbg_hint_count + 1u, sizeof *hints);
    uint32_t hint_count = 0;
    for (uint32_t k = 0; hints != NULL && k < q->dbg_hint_count; k++) {
        hints[hint_count++] = (struct http_dbg_hint){ .holder = members_get(m, q->dbg_hints[k].holder_idx)->node_id,
                                                      .target = q->dbg_hints[k].target,
                                                      .version = q->dbg_hints[k].version,
                                                      .timestamp = q->dbg_hints[k].timestamp };
    }
    struct http_dbg_key dk = { .key = q->key, .key_bytes = q->key_bytes, .token = q->token,
                               .replica_count = q->prefs.count, .replicas = reps,
                               .hint_count = hint_count, .hints = hints };
    size_t bytes = 0;
    char *json = hints != NULL ? http_debug_key_json(&dk, &bytes) : NULL;
    free(hints);
    struct bin_resp resp = { .request_id = q->request_id, .opcode = BIN_OP_ADMIN_DEBUG_KEY,
                             .status = rkv_err_wire(json != NULL ? RKV_OK : RKV_BUSY),
                             .value = (const uint8_t *)json, .value_bytes = (uint32_t)bytes };
    (void)ns;
    conn_reply(q->conn, &resp, (uint8_t *)json);
    q->conn = NULL;
}

enum rkv_err cg_debug_key(struct node_shard *ns, struct conn *c, const struct bin_req *req)
{
    const struct ringmap *ring = cluster_ring(cl(ns));
    if (ring == NULL)
        return RKV_UNAVAILABLE;
    struct creq *q = creq_new(ns, ring, c, req, ns->node->cfg.request_timeout_ms, false);
    if (q == NULL)
        return RKV_BUSY;
    q->kind = CQ_DEBUG;
    ns->in_client_request = true;
    q->dbg_pending = q->prefs.count + 1u; /* the +1 holds the answer back while sending */
    for (uint32_t i = 0; i < q->prefs.count; i++) {
        if (creq_send(ns, q, TAG_RD | i, ROP_READ, &q->prefs.replica[i], NULL, NULL, 0, NULL) != RKV_OK)
            dbg_event(ns, q, i, RKV_UNAVAILABLE, NULL, false, NULL, 0);
    }
    dbg_hints_ask(ns, q);
    q->dbg_pending--;
    dbg_maybe_answer(ns, q);
    ns->in_client_request = false;
    creq_maybe_free(ns, q);
    return RKV_OK;
}

/* Hint lists asked per /debug/key: every shard of every node, up to this many (an operator's
 * view of a small cluster; past it the list says what the first ones hold). */
#define DBG_HINT_ASKS_MAX 64u

struct dbg_ask {
    uint32_t node_idx;
};

static void dbg_hint_answer(struct node_shard *ns, void *owner, uint32_t tag, const struct peer_frame *f, enum rkv_err err)
{
    (void)err;
    struct creq *q = owner;
    uint32_t k = tag & ~TAG_HLIST;
    RKV_ASSERT(k < q->dbg_hint_slot_count);
    q->dbg_hint_slots[k] = PEERS_SLOT_NONE;
    uint32_t node_idx = q->dbg_hint_nodes[k];
    if (f != NULL && f->opcode == PEER_OP_HINT_LIST_ACK && f->status == PEER_ST_OK) {
        for (uint32_t i = 0; i < f->hint_list_ack.count; i++) {
            struct peer_hint_entry e;
            peer_hint_list_entry(&f->hint_list_ack, i, &e);
            if (q->dbg_hint_count == q->dbg_hint_cap) {
                uint32_t cap = q->dbg_hint_cap ? q->dbg_hint_cap * 2u : 16u;
                struct dbg_hint *n = realloc(q->dbg_hints, cap * sizeof *n);
                if (n == NULL)
                    break;
                q->dbg_hints = n;
                q->dbg_hint_cap = cap;
            }
            struct dbg_hint *h = &q->dbg_hints[q->dbg_hint_count++];
            memset(h, 0, sizeof *h);
            h->holder_idx = node_idx;
            memcpy(h->target, e.target.data, e.target.bytes < RKV_NODE_ID_BYTES_MAX ? e.target.bytes : RKV_NODE_ID_BYTES_MAX);
            h->version = e.version;
            h->timestamp = e.timestamp;
        }
    }
    dbg_hint_done(ns, q);
    creq_maybe_free(ns, q);
}

static void dbg_hints_ask(struct node_shard *ns, struct creq *q)
{
    const struct members *m = ringmap_members(q->ring);
    uint32_t total = 0;
    for (uint32_t n = 0; n < members_count(m); n++)
        total += members_get(m, n)->shard_count;
    if (total > DBG_HINT_ASKS_MAX)
        total = DBG_HINT_ASKS_MAX;
    q->dbg_hint_slots = calloc(total, sizeof *q->dbg_hint_slots);
    q->dbg_hint_nodes = calloc(total, sizeof *q->dbg_hint_nodes);
    if (q->dbg_hint_slots == NULL || q->dbg_hint_nodes == NULL)
        return;
    for (uint32_t n = 0; n < members_count(m) && q->dbg_hint_slot_count < total; n++) {
        for (uint32_t sh = 0; sh < members_get(m, n)->shard_count && q->dbg_hint_slot_count < total; sh++) {
            uint32_t k = q->dbg_hint_slot_count++;
            q->dbg_hint_nodes[k] = n;
            q->dbg_hint_slots[k] = PEERS_SLOT_NONE;
            struct peer_frame f = { .opcode = PEER_OP_HINT_LIST };
            f.hint_list.token = q->token;
            f.hint_list.key = (struct peer_str){ q->key, q->key_bytes };
            if (peers_request(ns->peers, n, sh, &f, dbg_hint_answer, q, TAG_HLIST | k, &q->dbg_hint_slots[k]) == RKV_OK)
                q->dbg_pending++;
        }
    }
}

/* ---- hint replay ---- */

/* Replays in flight per shard, and sent per tick (100 ms): at most 640 hint writes a second
 * per shard, so that a returning node catches up without being flooded. */
#define REPLAY_INFLIGHT_MAX 64u
#define REPLAY_PER_TICK 64u
/* After a failed replay a target is left alone this long. */
#define REPLAY_RETRY_MS 1000u
/* Expiry runs once a second, removing at most this many hints a step. */
#define HINT_EXPIRE_STEP 256u

struct replay_slot {
    bool used;
    uint32_t node_idx;
    uint64_t seq;
};

struct replay {
    uint32_t inflight;
    uint64_t after[RKV_NODES_MAX];     /* per target node: the last sequence sent this round */
    uint64_t retry_ms[RKV_NODES_MAX];  /* per target node: no replay before this time */
    struct replay_slot slot[REPLAY_INFLIGHT_MAX];
};

static void replay_answer(struct node_shard *ns, void *owner, uint32_t tag, const struct peer_frame *f, enum rkv_err err)
{
    (void)owner;
    (void)err;
    struct replay *rp = ns->replay;
    struct replay_slot *s = &rp->slot[tag];
    RKV_ASSERT(s->used);
    s->used = false;
    rp->inflight--;
    const struct ringmap *ring = cluster_ring(cl(ns));
    const char *target = members_get(ringmap_members(ring), s->node_idx)->node_id;
    bool delivered = f != NULL && f->opcode == PEER_OP_REPLICA_WRITE_ACK &&
                     (f->status == PEER_ST_OK || f->status == PEER_ST_FENCED);
    if (delivered) {
        /* FENCED: the target holds this write or a newer one: done either way. The removal
         * rides on the next group commit; lost in a crash, the hint is replayed again, which
         * the target takes as a duplicate. */
        if (hints_remove(ns->hints, target, strlen(target), s->seq) == RKV_OK) {
            ns->m.hints_replayed++;
            ns->wrote = true;
        }
    } else {
        rp->after[s->node_idx] = 0; /* the round starts over from the oldest */
        rp->retry_ms[s->node_idx] = rkv_wall_ms() + REPLAY_RETRY_MS;
    }
}

static uint32_t replay_slot_take(struct replay *rp)
{
    for (uint32_t i = 0; i < REPLAY_INFLIGHT_MAX; i++) {
        if (!rp->slot[i].used)
            return i;
    }
    return REPLAY_INFLIGHT_MAX;
}

/* Sends the next hints of target node_idx; returns how many were sent. */
static uint32_t replay_target(struct node_shard *ns, const struct ringmap *ring, const struct hints_target_info *ti,
                              uint32_t node_idx, uint32_t budget, uint64_t now_ms)
{
    struct replay *rp = ns->replay;
    uint32_t sent = 0;
    while (sent < budget && rp->inflight < REPLAY_INFLIGHT_MAX) {
        struct hint_view v;
        enum rkv_err err = hints_next(ns->hints, ti->target, ti->target_bytes, rp->after[node_idx], &v);
        if (err == RKV_CORRUPT) {
            /* Undecodable: it can never be delivered. */
            if (hints_remove(ns->hints, ti->target, ti->target_bytes, v.seq) == RKV_OK)
                ns->m.hints_dropped++;
            continue;
        }
        if (err != RKV_OK)
            break; /* RKV_NOT_FOUND: everything was sent this round */
        rp->after[node_idx] = v.seq;
        struct prefs p;
        prefs_for_token(ring, v.token, ns->node->cfg.rf, &p);
        uint32_t k = 0;
        while (k < p.count && p.replica[k].node_idx != node_idx)
            k++;
        if (k == p.count) {
            /* The target no longer holds this key (membership changed): nothing to deliver. */
            if (hints_remove(ns->hints, ti->target, ti->target_bytes, v.seq) == RKV_OK)
                ns->m.hints_dropped++;
            continue;
        }
        struct peer_frame f = { .opcode = PEER_OP_REPLICA_WRITE };
        const struct record_hdr *h = &v.rec.hdr;
        f.write.token = v.token;
        f.write.rec = (struct peer_record){ .flags = (h->flags & REC_F_TOMBSTONE) ? PEER_REC_F_TOMBSTONE : 0,
                                            .origin = h->origin, .timestamp = h->timestamp, .version = h->version,
                                            .expiry_ms = h->expiry_ms, .value_bytes = v.rec.value_bytes,
                                            .value = v.rec.value };
        f.write.deadline_ms = ns->node->cfg.request_timeout_ms;
        f.write.consistency = BIN_CONS_ONE;
        f.write.key = (struct peer_str){ v.key, (uint32_t)v.key_bytes };
        uint32_t i = replay_slot_take(rp);
        RKV_ASSERT(i < REPLAY_INFLIGHT_MAX); /* inflight < REPLAY_INFLIGHT_MAX */
        uint32_t slot;
        err = peers_request(ns->peers, node_idx, prefs_replica_shard(ring, &p.replica[k]), &f, replay_answer, NULL, i,
                            &slot);
        if (err != RKV_OK) {
            rp->after[node_idx] = 0;
            rp->retry_ms[node_idx] = now_ms + REPLAY_RETRY_MS;
            break;
        }
        rp->slot[i] = (struct replay_slot){ .used = true, .node_idx = node_idx, .seq = v.seq };
        rp->inflight++;
        sent++;
    }
    return sent;
}

static void replay_tick(struct node_shard *ns, uint64_t now_ms)
{
    const struct ringmap *ring = cluster_ring(cl(ns));
    if (ring == NULL || ns->hints == NULL || ns->replay == NULL)
        return;
    if (now_ms >= ns->hint_expire_next_ms) {
        ns->hint_expire_next_ms = now_ms + 1000u;
        uint32_t dropped = 0;
        if (hints_expire(ns->hints, now_ms, (uint64_t)ns->node->cfg.hint_max_age_s * 1000u, HINT_EXPIRE_STEP, &dropped) ==
                RKV_OK &&
            dropped > 0) {
            ns->m.hints_dropped += dropped;
            ns->wrote = true;
        }
    }
    uint32_t budget = REPLAY_PER_TICK;
    uint32_t idx = 0;
    struct hints_target_info ti;
    const struct members *m = ringmap_members(ring);
    while (budget > 0 && ns->replay->inflight < REPLAY_INFLIGHT_MAX && hints_target_next(ns->hints, &idx, &ti)) {
        uint32_t node_idx;
        if (!members_find(m, ti.target, &node_idx) || node_idx == cluster_self(cl(ns)))
            continue; /* not a member: its hints wait for the age limit */
        if (!cluster_up(cl(ns), node_idx) || now_ms < ns->replay->retry_ms[node_idx])
            continue;
        budget -= replay_target(ns, ring, &ti, node_idx, budget, now_ms);
    }
}

static struct replay *replay_new(void) { return calloc(1, sizeof(struct replay)); }
