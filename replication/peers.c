/* A shard's outgoing peer requests (replication/peers.h). */
#include "replication/peers.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/bytes.h"
#include "core/log.h"
#include "net/peer.h"
#include "replication/cluster.h"
#include "replication/node_internal.h"
#include "ring/members.h"

#define PEERS_GEN_SHIFT 17u
#define PEERS_GEN_MASK ((1u << 15) - 1u)
_Static_assert(PEERS_SLOTS == 1u << PEERS_GEN_SHIFT, "slot bits and the generation share 32 bits");

struct peers_slot {
    peers_answer_fn cb;            /* NULL: free */
    void *owner;
    uint32_t tag;
    uint32_t link_key;             /* node_idx * RKV_SHARDS_MAX + shard */
    uint16_t gen;
    uint32_t next_free;
};

/* One remote (node, shard). */
struct peers_link {
    struct peers *p;
    uint32_t key;
    struct peer_link *link;
};

struct peers {
    struct node_shard *ns;
    uint32_t node_count;           /* of the ring the links were made for */
    struct peers_link *links;      /* node_count * RKV_SHARDS_MAX, made on first use */
    struct peers_slot *slots;
    uint32_t free_head;
    uint32_t inflight;
    bool closing;
};

enum rkv_err peers_create(struct node_shard *ns, struct peers **out)
{
    *out = NULL;
    struct peers *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RKV_BUSY;
    p->ns = ns;
    p->slots = calloc(PEERS_SLOTS, sizeof *p->slots);
    if (p->slots == NULL) {
        free(p);
        return RKV_BUSY;
    }
    for (uint32_t i = 0; i < PEERS_SLOTS; i++)
        p->slots[i].next_free = i + 1u < PEERS_SLOTS ? i + 1u : PEERS_SLOT_NONE;
    p->free_head = 0;
    *out = p;
    return RKV_OK;
}

static void slot_release(struct peers *p, uint32_t i)
{
    struct peers_slot *s = &p->slots[i];
    RKV_ASSERT(s->cb != NULL);
    s->cb = NULL;
    s->gen = (uint16_t)((s->gen + 1u) & PEERS_GEN_MASK);
    s->next_free = p->free_head;
    p->free_head = i;
    p->inflight--;
}

/* Fails every request in flight on link key (it went down: their frames or answers are lost). */
static void link_fail_all(struct peers *p, uint32_t key)
{
    /* Bounded by the slot table; a link goes down rarely. */
    for (uint32_t i = 0; i < PEERS_SLOTS && p->inflight > 0; i++) {
        struct peers_slot *s = &p->slots[i];
        if (s->cb == NULL || s->link_key != key)
            continue;
        peers_answer_fn cb = s->cb;
        void *owner = s->owner;
        uint32_t tag = s->tag;
        slot_release(p, i);
        cb(p->ns, owner, tag, NULL, RKV_UNAVAILABLE);
    }
}

static void link_on_state(void *ctx, struct peer_link *l, bool up)
{
    (void)l;
    struct peers_link *pl = ctx;
    if (!up && !pl->p->closing)
        link_fail_all(pl->p, pl->key);
}

static void link_on_frame(void *ctx, struct peer_link *l, const uint8_t *frame, size_t frame_bytes)
{
    (void)l;
    struct peers_link *pl = ctx;
    struct peers *p = pl->p;
    if (p->closing)
        return;
    /* The request id is at offset 4 whatever else the frame holds. */
    uint32_t rid = load_be32(frame + 4);
    uint32_t i = rid & (PEERS_SLOTS - 1u);
    struct peers_slot *s = &p->slots[i];
    if (s->cb == NULL || s->gen != (rid >> PEERS_GEN_SHIFT) || s->link_key != pl->key)
        return; /* an answer to a request that was cancelled (its deadline passed) */
    struct peer_frame f;
    size_t used;
    enum rkv_err why;
    enum rkv_err err = RKV_OK;
    if (peer_frame_decode(frame, frame_bytes, &f, &used, &why) != PARSE_DONE)
        err = RKV_BAD_FRAME;
    else if (peer_frame_validate(&f) != RKV_OK || (f.opcode & 1u) == 0)
        err = RKV_BAD_FRAME;
    peers_answer_fn cb = s->cb;
    void *owner = s->owner;
    uint32_t tag = s->tag;
    slot_release(p, i);
    cb(p->ns, owner, tag, err == RKV_OK ? &f : NULL, err);
}

static struct peers_link *link_get(struct peers *p, uint32_t node_idx, uint32_t shard)
{
    const struct ringmap *r = cluster_ring(p->ns->node->cluster);
    RKV_ASSERT(r != NULL);
    const struct members *m = ringmap_members(r);
    if (p->links == NULL) {
        p->node_count = members_count(m);
        p->links = calloc((size_t)p->node_count * RKV_SHARDS_MAX, sizeof *p->links);
        if (p->links == NULL)
            return NULL;
    }
    RKV_ASSERT(node_idx < p->node_count && shard < RKV_SHARDS_MAX);
    uint32_t key = node_idx * RKV_SHARDS_MAX + shard;
    struct peers_link *pl = &p->links[key];
    if (pl->link != NULL)
        return pl;
    const struct member *mem = members_get(m, node_idx);
    struct peer_link_config lc = { .addr = mem->peer_addr };
    lc.addr.port = (uint16_t)(lc.addr.port + shard);
    struct peer_link_handler h = { .ctx = pl, .on_frame = link_on_frame, .on_state = link_on_state };
    pl->p = p;
    pl->key = key;
    if (peer_link_open(p->ns->sh, &lc, &h, &pl->link) != RKV_OK) {
        pl->link = NULL;
        return NULL;
    }
    return pl;
}

enum rkv_err peers_request(struct peers *p, uint32_t node_idx, uint32_t shard, struct peer_frame *f,
                           peers_answer_fn cb, void *owner, uint32_t tag, uint32_t *slot_out)
{
    *slot_out = PEERS_SLOT_NONE;
    if (p->closing)
        return RKV_SHUTTING_DOWN;
    struct peers_link *pl = link_get(p, node_idx, shard);
    if (pl == NULL)
        return RKV_BUSY;
    if (p->free_head == PEERS_SLOT_NONE)
        return RKV_BUSY;
    uint32_t i = p->free_head;
    struct peers_slot *s = &p->slots[i];
    f->request_id = i | (uint32_t)s->gen << PEERS_GEN_SHIFT;
    uint8_t head[PEER_WRITE_FIXED_BYTES + 2u * RKV_KEY_BYTES_MAX + 2u * RKV_NODE_ID_BYTES_MAX + 64u];
    size_t head_bytes = peer_frame_encode_head(head, sizeof head, f);
    RKV_ASSERT(head_bytes > 0);
    size_t total = peer_frame_bytes(f);
    const uint8_t *tail = NULL;
    size_t tail_bytes = total - head_bytes;
    if (tail_bytes > 0) {
        /* The trailing value of the frame, sent from the caller's memory. */
        tail = f->opcode == PEER_OP_REPLICA_WRITE ? f->write.rec.value : peer_frame_value(f).data;
        RKV_ASSERT(tail != NULL);
    }
    enum rkv_err err = peer_link_send(pl->link, head, head_bytes, tail, tail_bytes);
    if (err != RKV_OK)
        return err;
    p->free_head = s->next_free;
    s->cb = cb;
    s->owner = owner;
    s->tag = tag;
    s->link_key = pl->key;
    p->inflight++;
    *slot_out = i;
    return RKV_OK;
}

void peers_cancel(struct peers *p, uint32_t slot)
{
    RKV_ASSERT(slot < PEERS_SLOTS);
    if (p->slots[slot].cb != NULL)
        slot_release(p, slot);
}

uint32_t peers_inflight(const struct peers *p) { return p->inflight; }

bool peers_link_up(const struct peers *p, uint32_t node_idx, uint32_t shard)
{
    if (p->links == NULL || node_idx >= p->node_count || shard >= RKV_SHARDS_MAX)
        return false;
    const struct peers_link *pl = &p->links[node_idx * RKV_SHARDS_MAX + shard];
    return pl->link != NULL && peer_link_up(pl->link);
}

void peers_tick(struct peers *p)
{
    if (p->links == NULL || p->closing)
        return;
    const struct cluster *c = p->ns->node->cluster;
    for (uint32_t k = 0; k < p->node_count * RKV_SHARDS_MAX; k++) {
        struct peer_link *l = p->links[k].link;
        if (l == NULL)
            continue;
        /* A node the liveness view sees up again is reconnected at once rather than after
         * the rest of a backoff that grew while it was down (up to 5 s). */
        if (peer_link_backing_off(l) && cluster_up(c, k / RKV_SHARDS_MAX))
            peer_link_retry_now(l);
        else
            peer_link_tick(l);
    }
}

void peers_close(struct peers *p)
{
    p->closing = true;
    if (p->links == NULL)
        return;
    for (uint32_t k = 0; k < p->node_count * RKV_SHARDS_MAX; k++) {
        if (p->links[k].link != NULL)
            peer_link_close(p->links[k].link);
    }
}

bool peers_closed(struct peers *p)
{
    if (p->links == NULL)
        return true;
    for (uint32_t k = 0; k < p->node_count * RKV_SHARDS_MAX; k++) {
        struct peers_link *pl = &p->links[k];
        if (pl->link == NULL)
            continue;
        if (!peer_link_closed(pl->link))
            return false;
        peer_link_free(pl->link);
        pl->link = NULL;
    }
    return true;
}

void peers_free(struct peers *p)
{
    if (p == NULL)
        return;
    free(p->links);
    free(p->slots);
    free(p);
}
