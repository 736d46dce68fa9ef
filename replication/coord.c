/* The coordinator's quorum state machine (replication/coord.h). Every function opens with its
 * preconditions, then updates one replica's slot, then re-derives what follows from the
 * slots: counts are recomputed from the states (at most RKV_RF_MAX of them) rather than kept
 * as counters, so a re-stamp that turns acknowledged replicas back into pending ones cannot
 * leave a count behind. */
#include "replication/coord.h"

#include <string.h>

#include "core/assert.h"
#include "core/shard.h"
#include "net/proto_bin.h"

_Static_assert(COORD_ONE == (int)BIN_CONS_ONE && COORD_QUORUM == (int)BIN_CONS_QUORUM && COORD_ALL == (int)BIN_CONS_ALL,
               "consistency levels are numbered as on the wire");
_Static_assert(RKV_RF_MAX <= 32u, "replica masks are 32-bit");
_Static_assert(RKV_COORD_RESTAMP_MAX >= 1u && RKV_COORD_RESTAMP_MAX <= 16u, "a bounded, useful re-stamp budget");

static uint32_t bit(uint32_t i) { return UINT32_C(1) << i; }

static void actions_clear(struct coord_actions *out)
{
    RKV_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    out->repair_from_idx = COORD_NONE;
    out->answer.winner_idx = COORD_NONE;
}

/* Checks shared by every event: the caller's own request, a replica of its list. */
static void check_event(const struct coord_req *req, uint32_t i, const struct coord_actions *out)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(out != NULL);
    RKV_ASSERT(req->owner == (const void *)shard_current());
    RKV_ASSERT(req->kind == COORD_WRITE || req->kind == COORD_READ);
    RKV_ASSERT(i < req->rf);
}

bool coord_hdr_newer(const struct record_hdr *a, const struct record_hdr *b)
{
    RKV_ASSERT(a != NULL);
    RKV_ASSERT(b != NULL);
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp;
    return a->origin > b->origin;
}

uint32_t coord_needed(enum coord_level level, uint32_t rf)
{
    RKV_ASSERT(level < COORD_LEVEL_COUNT);
    RKV_ASSERT(rf <= RKV_RF_MAX);
    if (rf == 0)
        return 1;
    switch (level) {
    case COORD_ONE: return 1;
    case COORD_QUORUM: return rf / 2u + 1u;
    case COORD_ALL: return rf;
    case COORD_LEVEL_COUNT: break;
    }
    RKV_ASSERT(!"unreachable");
    return rf;
}

static void req_init(struct coord_req *req, enum coord_kind kind, const struct prefs *p, enum coord_level level,
                     uint32_t flags, uint64_t deadline_ms)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(p != NULL);
    RKV_ASSERT(p->count <= RKV_RF_MAX);
    RKV_ASSERT(level < COORD_LEVEL_COUNT);
    memset(req, 0, sizeof(*req));
    req->owner = shard_current();
    req->kind = (uint8_t)kind;
    req->level = (uint8_t)level;
    req->flags = (uint8_t)flags;
    req->rf = p->count;
    req->needed = coord_needed(level, p->count);
    req->deadline_ms = deadline_ms;
    req->winner_idx = COORD_NONE;
    req->answer.winner_idx = COORD_NONE;
    for (uint32_t i = 0; i < RKV_RF_MAX; i++)
        req->replica[i].state = COORD_R_IDLE;
}

static void answer(struct coord_req *req, const struct coord_answer *a, struct coord_actions *out)
{
    RKV_ASSERT(!req->answered);
    RKV_ASSERT(a->needed == req->needed);
    req->answered = true;
    req->answer = *a;
    out->answer_now = true;
    out->answer = *a;
}

/* ---- Writes ---- */

/* Does replica slot s count toward W once acknowledged? Hints only under sloppy quorum. */
static bool write_counts(const struct coord_req *req, const struct coord_replica *s)
{
    return !s->via_hint || (req->flags & COORD_F_SLOPPY) != 0;
}

struct write_tally {
    uint32_t acked;      /* direct acks of the current stamp */
    uint32_t hinted;     /* hint acks of the current stamp */
    uint32_t counted;    /* what counts toward W */
    uint32_t pending;    /* slots with a request in flight */
};

static struct write_tally write_tally(const struct coord_req *req)
{
    struct write_tally t = { 0 };
    for (uint32_t i = 0; i < req->rf; i++) {
        const struct coord_replica *s = &req->replica[i];
        bool counts = write_counts(req, s);
        if (s->state == COORD_R_ACKED)
            t.acked++;
        else if (s->state == COORD_R_HINTED)
            t.hinted++;
        if ((s->state == COORD_R_ACKED || s->state == COORD_R_HINTED) && counts)
            t.counted++;
        if (s->state == COORD_R_PENDING)
            t.pending++;
    }
    return t;
}

static struct coord_answer write_answer_of(const struct coord_req *req, enum rkv_err err)
{
    struct write_tally t = write_tally(req);
    return (struct coord_answer){ .err = err, .acked = t.acked, .needed = req->needed, .hinted = t.hinted,
                                  .restamps = req->restamps, .hdr = req->rec, .winner_idx = COORD_NONE };
}

/* After any change of the slots: answer OK at W; UNAVAILABLE once nothing is in flight
 * below W. A request whose W is already out of reach still waits for the replicas in flight
 * (or the deadline), so that the answer reports every ack the write got. */
static void write_settle(struct coord_req *req, struct coord_actions *out)
{
    if (req->answered)
        return;
    struct write_tally t = write_tally(req);
    if (t.counted >= req->needed) {
        struct coord_answer a = write_answer_of(req, RKV_OK);
        answer(req, &a, out);
    } else if (t.pending == 0) {
        struct coord_answer a = write_answer_of(req, RKV_UNAVAILABLE);
        answer(req, &a, out);
    }
}

/* Sends the current record to replica i (directly or to its hint holder). */
static void write_send(struct coord_req *req, uint32_t i, struct coord_actions *out)
{
    struct coord_replica *s = &req->replica[i];
    RKV_ASSERT(s->state != COORD_R_PENDING);
    s->state = COORD_R_PENDING;
    s->sent_ts = req->rec.timestamp;
    if (s->via_hint)
        out->hint_mask |= bit(i);
    else
        out->send_mask |= bit(i);
}

void coord_write_start(struct coord_req *req, const struct ringmap *r, const struct prefs *p, enum coord_level level,
                       uint32_t flags, uint64_t deadline_ms, const struct record_hdr *hdr, uint32_t down_mask,
                       const struct coord_holders *hold, struct coord_actions *out)
{
    RKV_ASSERT(r != NULL);
    RKV_ASSERT(hdr != NULL);
    RKV_ASSERT(hdr->version >= 1 && hdr->version < UINT64_MAX);
    RKV_ASSERT(hdr->timestamp < UINT64_MAX);
    RKV_ASSERT((flags & ~(uint32_t)COORD_F_SLOPPY) == 0);
    actions_clear(out);
    req_init(req, COORD_WRITE, p, level, flags, deadline_ms);
    RKV_ASSERT((down_mask >> req->rf) == 0);
    req->rec = *hdr;

    uint32_t down_count = (uint32_t)__builtin_popcount(down_mask);
    struct prefs_replica holders[RKV_RF_MAX];
    uint32_t holder_count = hold != NULL ? prefs_next_live_by(r, p, down_count, hold->up, hold->ctx, holders)
                                         : prefs_next_live(r, p, down_count, holders);
    RKV_ASSERT(holder_count <= down_count);
    while (hold != NULL && hold->fallback != NULL && holder_count < down_count)
        holders[holder_count++] = *hold->fallback;
    uint32_t next_holder = 0;
    for (uint32_t i = 0; i < req->rf; i++) {
        struct coord_replica *s = &req->replica[i];
        if ((down_mask & bit(i)) == 0)
            continue;
        if (next_holder < holder_count) {
            s->via_hint = true;
            s->hint = holders[next_holder++];
        } else {
            s->state = COORD_R_FAILED; /* down, and no live node left to hold its hint */
        }
    }

    /* Even when W is out of reach (too many replicas down), the live ones get the write:
     * the answer then says how many acknowledged (acked=2/3 for `all` with one down), and
     * the write may land, as a timed-out one may (docs/replication.md). */
    for (uint32_t i = 0; i < req->rf; i++) {
        if (req->replica[i].state != COORD_R_FAILED)
            write_send(req, i, out);
    }
    write_settle(req, out); /* an empty list, or every replica down without a holder */
}

static void write_on_ack(struct coord_req *req, uint32_t i, struct coord_actions *out)
{
    struct coord_replica *s = &req->replica[i];
    RKV_ASSERT(s->state == COORD_R_PENDING); /* at most one answer per request sent */
    RKV_ASSERT(s->sent_ts <= req->rec.timestamp);
    if (s->sent_ts < req->rec.timestamp && !req->gave_up) {
        /* It stored a stamp we have since superseded: it must get the current record, or
         * it would hold a write that loses to the one that fenced us. */
        s->state = COORD_R_IDLE;
        write_send(req, i, out);
        return;
    }
    s->state = s->sent_ts < req->rec.timestamp ? COORD_R_FENCED /* outdated, after give-up */
               : s->via_hint                   ? COORD_R_HINTED
                                               : COORD_R_ACKED;
    write_settle(req, out);
}

void coord_on_fenced(struct coord_req *req, uint32_t i, uint64_t stored_ts, uint64_t stored_version,
                     struct hlc *clock, uint64_t now_ms, struct coord_actions *out)
{
    check_event(req, i, out);
    RKV_ASSERT(req->kind == COORD_WRITE);
    RKV_ASSERT(clock != NULL);
    struct coord_replica *s = &req->replica[i];
    RKV_ASSERT(s->state == COORD_R_PENDING);
    actions_clear(out);

    if (stored_ts < s->sent_ts || stored_version == UINT64_MAX || stored_ts == UINT64_MAX) {
        /* A replica may only fence with a stamp at least as new as ours, and a stamp or
         * version we could not exceed is not a record any replica can hold: bad input. */
        s->state = COORD_R_FAILED;
        write_settle(req, out);
        return;
    }
    bool superseded = stored_ts < req->rec.timestamp && stored_version < req->rec.version;
    if (req->gave_up || (req->answered && !superseded)) {
        /* After the answer a newer write on the replica rightly wins: absorb it. */
        s->state = COORD_R_FENCED;
        return;
    }
    if (superseded) {
        /* The fence answers a stamp we already replaced, and the current record is above
         * what the replica holds: deliver it. */
        s->state = COORD_R_IDLE;
        write_send(req, i, out);
        return;
    }
    if (req->restamps == RKV_COORD_RESTAMP_MAX) {
        s->state = COORD_R_FENCED;
        req->gave_up = true;
        struct coord_answer a = write_answer_of(req, RKV_UNAVAILABLE);
        answer(req, &a, out);
        return;
    }

    /* Re-stamp above what the replica holds, and above its version. */
    hlc_observe(clock, stored_ts);
    hlc_observe(clock, req->rec.timestamp); /* a no-op when this clock stamped it, as it should */
    uint64_t ts = hlc_tick(clock, now_ms);
    RKV_ASSERT(ts > stored_ts);
    RKV_ASSERT(ts > req->rec.timestamp);
    req->rec.timestamp = ts;
    if (stored_version >= req->rec.version)
        req->rec.version = stored_version + 1u;
    req->restamps++;
    s->state = COORD_R_FENCED;
    /* Resend to every replica that answered an older stamp; those still in flight get the
     * new record when they answer (one request in flight per replica); failed ones stay
     * failed. */
    for (uint32_t j = 0; j < req->rf; j++) {
        uint8_t st = req->replica[j].state;
        if (st == COORD_R_ACKED || st == COORD_R_HINTED || st == COORD_R_FENCED)
            write_send(req, j, out);
    }
    write_settle(req, out);
}

/* ---- Reads ---- */

static uint32_t read_count(const struct coord_req *req, uint32_t state)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < req->rf; i++)
        n += req->replica[i].state == state;
    return n;
}

static bool read_repairs_in_flight(const struct coord_req *req)
{
    for (uint32_t i = 0; i < req->rf; i++) {
        if (req->replica[i].repair_in_flight)
            return true;
    }
    return false;
}

static struct coord_answer read_answer_of(const struct coord_req *req)
{
    struct coord_answer a = { .err = RKV_UNAVAILABLE, .acked = read_count(req, COORD_R_READ),
                              .needed = req->needed, .winner_idx = COORD_NONE };
    if (!req->collected)
        return a;
    a.err = RKV_NOT_FOUND;
    if (req->winner_idx != COORD_NONE) {
        a.winner_idx = req->winner_idx;
        a.hdr = req->rec;
        /* A tombstone or an expired record is the newest write, and says the key is gone. */
        if (record_visible(&req->rec, req->now_ms))
            a.err = RKV_OK;
    }
    return a;
}

/* Sends the winner to every replica that answered and holds something older (or nothing),
 * has no repair in flight and never failed one. Read repair is always safe: replicas keep
 * the newer record by last-write-wins, so a repair can only move a replica forward. */
static void read_repair_stale(struct coord_req *req, struct coord_actions *out)
{
    if ((req->flags & COORD_F_NO_REPAIR) != 0 || req->winner_idx == COORD_NONE)
        return;
    if (!req->collected && !req->answered)
        return; /* the winner is not known yet */
    for (uint32_t j = 0; j < req->rf; j++) {
        struct coord_replica *s = &req->replica[j];
        if (s->state != COORD_R_READ || s->repair_in_flight || s->repair_failed)
            continue;
        if (s->found && !coord_hdr_newer(&req->rec, &s->hdr))
            continue;
        s->repair_in_flight = true;
        s->repair_hdr = req->rec; /* what the replica will hold once the repair lands */
        out->repair_mask |= bit(j);
        out->repair_from_idx = req->winner_idx;
    }
}

static void read_settle(struct coord_req *req, struct coord_actions *out)
{
    if (!req->collected && read_count(req, COORD_R_READ) >= req->needed)
        req->collected = true;
    read_repair_stale(req, out);
    if (req->answered)
        return;
    if (req->collected) {
        bool repair_first = req->level != COORD_ONE && (req->flags & COORD_F_NO_REPAIR) == 0;
        if (!repair_first || !read_repairs_in_flight(req)) {
            struct coord_answer a = read_answer_of(req);
            answer(req, &a, out);
        }
        return;
    }
    /* Fewer than R answered and nothing is in flight: the read cannot complete. Waiting for
     * the last replica in flight (rather than answering once R is out of reach) lets the
     * answer report every replica that did answer. */
    if (read_count(req, COORD_R_PENDING) == 0) {
        struct coord_answer a = read_answer_of(req);
        answer(req, &a, out);
        read_repair_stale(req, out); /* the background repairs of what was read */
    }
}

void coord_read_start(struct coord_req *req, const struct prefs *p, enum coord_level level, uint32_t flags,
                      uint64_t deadline_ms, uint64_t now_ms, uint32_t down_mask, struct coord_actions *out)
{
    RKV_ASSERT((flags & ~(uint32_t)COORD_F_NO_REPAIR) == 0);
    actions_clear(out);
    req_init(req, COORD_READ, p, level, flags, deadline_ms);
    RKV_ASSERT((down_mask >> req->rf) == 0);
    req->now_ms = now_ms;
    /* Replicas that are up are asked even when fewer than R are: the answer then says how
     * many answered, as for writes. */
    for (uint32_t i = 0; i < req->rf; i++) {
        if ((down_mask & bit(i)) != 0)
            continue;
        req->replica[i].state = COORD_R_PENDING;
        out->send_mask |= bit(i);
    }
    read_settle(req, out); /* an empty list, or every replica down */
}

void coord_on_read(struct coord_req *req, uint32_t i, bool found, const struct record_hdr *hdr,
                   struct coord_actions *out)
{
    check_event(req, i, out);
    RKV_ASSERT(req->kind == COORD_READ);
    RKV_ASSERT(found == (hdr != NULL));
    struct coord_replica *s = &req->replica[i];
    RKV_ASSERT(s->state == COORD_R_PENDING); /* one read answer per replica */
    actions_clear(out);
    s->state = COORD_R_READ;
    s->found = found;
    if (found) {
        s->hdr = *hdr;
        /* Before the answer this picks the answer; after it, the newest record seen is
         * what the background repairs carry. */
        if (req->winner_idx == COORD_NONE || coord_hdr_newer(hdr, &req->rec)) {
            req->winner_idx = i;
            req->rec = *hdr;
        }
    }
    read_settle(req, out);
}

/* ---- Events shared by both kinds ---- */

void coord_on_ack(struct coord_req *req, uint32_t i, struct coord_actions *out)
{
    check_event(req, i, out);
    actions_clear(out);
    if (req->kind == COORD_WRITE) {
        write_on_ack(req, i, out);
        return;
    }
    struct coord_replica *s = &req->replica[i];
    RKV_ASSERT(s->state == COORD_R_READ);
    RKV_ASSERT(s->repair_in_flight); /* a read is answered by coord_on_read(), a repair here */
    s->repair_in_flight = false;
    s->found = true;
    s->hdr = s->repair_hdr;
    read_settle(req, out);
}

void coord_on_fail(struct coord_req *req, uint32_t i, enum rkv_err err, struct coord_actions *out)
{
    check_event(req, i, out);
    RKV_ASSERT(err != RKV_OK);
    RKV_ASSERT(err < RKV_ERR_COUNT);
    actions_clear(out);
    struct coord_replica *s = &req->replica[i];
    if (req->kind == COORD_WRITE) {
        RKV_ASSERT(s->state == COORD_R_PENDING);
        s->state = COORD_R_FAILED;
        write_settle(req, out);
        return;
    }
    if (s->state == COORD_R_PENDING) {
        s->state = COORD_R_FAILED;
    } else {
        RKV_ASSERT(s->state == COORD_R_READ);
        RKV_ASSERT(s->repair_in_flight);
        /* It keeps what it held before (found and hdr as read); no more repairs go to it. */
        s->repair_in_flight = false;
        s->repair_failed = true;
    }
    read_settle(req, out);
}

void coord_on_deadline(struct coord_req *req, uint64_t now_ms, struct coord_actions *out)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(req->owner == (const void *)shard_current());
    RKV_ASSERT(now_ms >= req->deadline_ms);
    actions_clear(out);
    if (req->answered)
        return;
    struct coord_answer a = req->kind == COORD_WRITE ? write_answer_of(req, RKV_UNAVAILABLE) : read_answer_of(req);
    answer(req, &a, out);
    if (req->kind == COORD_READ)
        read_repair_stale(req, out); /* fewer than R read: still repair what was read */
}

/* ---- Accessors ---- */

bool coord_answered(const struct coord_req *req)
{
    RKV_ASSERT(req != NULL);
    return req->answered;
}

const struct coord_answer *coord_answer(const struct coord_req *req)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(req->answered);
    return &req->answer;
}

bool coord_done(const struct coord_req *req)
{
    RKV_ASSERT(req != NULL);
    if (!req->answered)
        return false;
    for (uint32_t i = 0; i < req->rf; i++) {
        if (req->replica[i].state == COORD_R_PENDING || req->replica[i].repair_in_flight)
            return false;
    }
    return true;
}

const struct record_hdr *coord_record(const struct coord_req *req)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(req->kind == COORD_WRITE);
    return &req->rec;
}

struct prefs_replica coord_hint_holder(const struct coord_req *req, uint32_t i)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(req->kind == COORD_WRITE);
    RKV_ASSERT(i < req->rf);
    RKV_ASSERT(req->replica[i].via_hint); /* down at start, with a holder */
    return req->replica[i].hint;
}

const struct coord_replica *coord_replica(const struct coord_req *req, uint32_t i)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(i < req->rf);
    return &req->replica[i];
}

uint64_t coord_version_after_read(const struct coord_req *req)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(req->kind == COORD_READ);
    RKV_ASSERT(req->collected);
    uint64_t v = 0;
    for (uint32_t i = 0; i < req->rf; i++) {
        const struct coord_replica *s = &req->replica[i];
        if (s->state == COORD_R_READ && s->found && s->hdr.version > v)
            v = s->hdr.version;
    }
    /* A stored version is at most UINT64_MAX - 1 (the replica refuses more), so this
     * cannot wrap; saturate anyway rather than go back to 0 on a corrupt peer. */
    return v == UINT64_MAX ? v : v + 1u;
}

uint64_t coord_ts_floor_after_read(const struct coord_req *req)
{
    RKV_ASSERT(req != NULL);
    RKV_ASSERT(req->kind == COORD_READ);
    uint64_t ts = 0;
    for (uint32_t i = 0; i < req->rf; i++) {
        const struct coord_replica *s = &req->replica[i];
        if (s->state == COORD_R_READ && s->found && s->hdr.timestamp > ts)
            ts = s->hdr.timestamp;
    }
    return ts;
}
