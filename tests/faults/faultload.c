/* faultload: the fault suite's recorded workload. It runs --writers writer threads and
 * --readers reader threads against a cluster for a bounded time, each thread on its own
 * blocking connection (net/ringkv.h), and records every operation it attempted as one JSON
 * line: what it asked, when it began and ended (CLOCK_REALTIME microseconds), and what came
 * of it (ok, fail or unknown). With --final it instead reads every key once and records
 * those reads. tests/faults/check.py judges the files; tests/faults/README.md documents the
 * command line and the record format, which the harness relies on.
 *
 * Ownership: each worker thread owns its struct fl_worker (connection, generator, line
 * buffer, counters). The only shared object is the output file, written one whole line at
 * a time under out_lock and flushed after each line, so that the file is complete up to the
 * last finished operation whenever the process exits. main() reads the workers' counters
 * only after joining them. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"
#include "net/ringkv.h"

/* ---- limits ---- */

/* Exit codes: a finished run is 0 whatever the cluster answered (errors are data). */
#define FL_EXIT_OK 0
#define FL_EXIT_INCOMPLETE 1 /* --final: a key got no answer; or the history could not be written */
#define FL_EXIT_USAGE 2

/* A harness runs a handful of nodes; more targets than this is a mistake. */
#define FL_TARGETS_MAX 64u
#define FL_TARGET_BYTES_MAX 270u /* "[" 255-byte host "]:" 5-digit port, as net/client.c */
/* Threads of one process; each holds one connection. */
#define FL_CLIENTS_MAX 256u
/* Keys are "key:0".."key:N-1": few enough that every key sees many writes. */
#define FL_KEYS_MAX 1000000u
#define FL_DURATION_S_MAX 3600u
/* The hard cap on operations per thread, whatever --duration and --rate say: a runaway loop
 * still ends, and a history stays small enough to check. */
#define FL_OPS_PER_CLIENT_MAX 1000000u
/* Per-thread pacing: at most this many operations a second per thread unless --rate says
 * otherwise. Fault runs want many operations per fault window, not saturation: a
 * saturated cluster answers 503 for load, which would blur what the fault cost. */
#define FL_RATE_PER_S_DEFAULT 200u
#define FL_RATE_PER_S_MAX 1000000u
/* The client's wait for a connect or an answer. Above the server's default
 * --request-timeout (1 s), so that a slow request is normally answered 503 by the server
 * rather than abandoned by us. */
#define FL_TIMEOUT_MS_DEFAULT 2000u
#define FL_TIMEOUT_MS_MAX 600000u
/* Reconnecting after a connection error: at most this many connects per operation, moving
 * to the next target after each failure, with a backoff that starts small and doubles. */
#define FL_CONNECT_TRIES_MAX 6u
#define FL_BACKOFF_MS_FIRST 10u
#define FL_BACKOFF_MS_MAX 200u
/* --final: rounds over all targets per key before giving up on it, with a pause between,
 * and a bound on the whole pass (--duration in --final mode); past it, each key left gets
 * one attempt, so that every key still has its record. */
#define FL_FINAL_ROUNDS_MAX 5u
#define FL_FINAL_ROUND_PAUSE_MS 200u
#define FL_FINAL_DURATION_S_DEFAULT 120u
/* "w<client>-<seq>-<run>": client < 256, seq < 2^20, run 24 hex digits. */
#define FL_VALUE_BYTES_MAX 64u
#define FL_KEY_BYTES_MAX 32u
/* A line holds a value escaped at worst 6 characters per byte, plus the fixed fields. */
#define FL_LINE_FIXED_BYTES 512u

_Static_assert(FL_OPS_PER_CLIENT_MAX < (1u << 20), "a sequence number fits the value format");
_Static_assert(FL_CLIENTS_MAX < 1000u, "a client id fits the value format");
_Static_assert(FL_BACKOFF_MS_FIRST <= FL_BACKOFF_MS_MAX, "backoff grows up to its max");

enum fl_op { FL_OP_PUT, FL_OP_GET, FL_OP_DELETE, FL_OP_COUNT };
enum fl_outcome { FL_OK, FL_FAIL, FL_UNKNOWN, FL_OUTCOME_COUNT };

static const char *const fl_op_names[FL_OP_COUNT] = {[FL_OP_PUT] = "put", [FL_OP_GET] = "get",
                                                     [FL_OP_DELETE] = "delete"};
static const char *const fl_outcome_names[FL_OUTCOME_COUNT] = {[FL_OK] = "ok", [FL_FAIL] = "fail",
                                                               [FL_UNKNOWN] = "unknown"};
static const char *const fl_cons_names[] = {[RINGKV_ONE] = "one", [RINGKV_QUORUM] = "quorum", [RINGKV_ALL] = "all"};

/* Owner: main(); read-only once the workers start. */
struct fl_cfg {
    char targets[FL_TARGETS_MAX][FL_TARGET_BYTES_MAX + 1];
    uint32_t target_count;
    uint64_t keys;
    uint32_t writers, readers;
    uint64_t duration_s;
    enum ringkv_consistency consistency;
    uint64_t seed;
    const char *out_path;
    double delete_ratio;
    uint32_t timeout_ms;
    uint64_t rate_per_s; /* per thread; 0: unpaced */
    uint64_t ops_max;    /* per thread */
    bool final;
    char run_tag[32]; /* makes values unique across processes */
};

/* Owner: main(); the workers write through fl_emit() only. */
struct fl_out {
    FILE *f;
    pthread_mutex_t lock;
    bool write_failed; /* under lock */
};

/* One recorded operation, filled by fl_run_op(). */
struct fl_record {
    uint32_t client;
    enum fl_op op;
    char key[FL_KEY_BYTES_MAX];
    const uint8_t *value; /* put: the value written; get: the value read; NULL: null */
    size_t value_bytes;
    int64_t invoke_us, complete_us;
    enum fl_outcome outcome;
    enum ringkv_err err; /* RINGKV_OK, or what went wrong */
    bool has_version;
    uint64_t version, timestamp;
    uint8_t acked, needed, hinted;
};

struct fl_counts {
    uint64_t by[FL_OP_COUNT][FL_OUTCOME_COUNT];
    uint64_t found; /* gets answered with a value */
};

/* Owner: its worker thread (main() reads it after the join). */
struct fl_worker {
    const struct fl_cfg *cfg;
    struct fl_out *out;
    const atomic_bool *stop;
    uint32_t idx;
    bool writer;
    uint64_t rng;
    ringkv_client *conn;
    uint32_t target_idx;
    char *line; /* grown to fit the longest value read */
    size_t line_cap;
    struct fl_counts counts;
    bool line_alloc_failed;
};

static atomic_bool fl_stop_requested;

static void fl_on_signal(int sig)
{
    (void)sig;
    atomic_store(&fl_stop_requested, true);
}

/* ---- time and randomness ---- */

static int64_t fl_now_us(clockid_t clock)
{
    struct timespec ts;
    RKV_ASSERT(clock_gettime(clock, &ts) == 0);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void fl_sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !atomic_load(&fl_stop_requested)) {
    }
}

/* splitmix64: a fresh, well-mixed stream per thread from (seed, thread index). */
static uint64_t fl_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double fl_rng_unit(uint64_t *state)
{
    return (double)(fl_rng_next(state) >> 11) * 0x1p-53;
}

/* ---- classifying answers ---- */

/* What an answer tells about whether the operation took effect (README.md, "outcome").
 * ok: acknowledged; a get answered, found or not. fail: certainly not applied: the request
 * was refused as invalid before any replica was asked, or a conditional put's version did
 * not match. unknown: everything else, because a write the client was not told about (503,
 * a timeout, a lost connection, a busy or stopping node, an I/O error on some replica) may
 * have landed on some replicas. */
static enum fl_outcome fl_classify(enum ringkv_err err)
{
    switch (err) {
    case RINGKV_OK:
    case RINGKV_NOT_FOUND:
        return FL_OK;
    case RINGKV_VERSION_MISMATCH:
    case RINGKV_KEY_EMPTY:
    case RINGKV_KEY_TOO_LONG:
    case RINGKV_VALUE_TOO_LONG:
    case RINGKV_BAD_TTL:
    case RINGKV_BAD_CONSISTENCY:
    case RINGKV_UNKNOWN_OPCODE:
    case RINGKV_BAD_FRAME:
    case RINGKV_FRAME_TOO_LONG:
    case RINGKV_INVALID_ARG:
    case RINGKV_ERR_USAGE:
    case RINGKV_ERR_CONNECT: /* only from ringkv_connect(): nothing was sent */
        return FL_FAIL;
    default:
        return FL_UNKNOWN;
    }
}

/* A client error after which the connection is dropped and the next target tried. A
 * timeout counts: the node may be paused or cut off, and waiting on it again helps no one. */
static bool fl_conn_broken(enum ringkv_err err)
{
    return err >= RINGKV_ERR_CONNECT;
}

/* The stable error codes of the record's "error" field (README.md). */
static const char *fl_err_code(enum ringkv_err err)
{
    switch (err) {
    case RINGKV_OK: return NULL;
    case RINGKV_NOT_FOUND: return NULL; /* not an error: a get's "value" is null */
    case RINGKV_VERSION_MISMATCH: return "version_mismatch";
    case RINGKV_FENCED: return "fenced";
    case RINGKV_KEY_EMPTY: return "key_empty";
    case RINGKV_KEY_TOO_LONG: return "key_too_long";
    case RINGKV_VALUE_TOO_LONG: return "value_too_long";
    case RINGKV_BAD_TTL: return "bad_ttl";
    case RINGKV_BAD_CONSISTENCY: return "bad_consistency";
    case RINGKV_UNKNOWN_OPCODE: return "unknown_opcode";
    case RINGKV_BAD_FRAME: return "bad_frame";
    case RINGKV_FRAME_TOO_LONG: return "frame_too_long";
    case RINGKV_INVALID_ARG: return "invalid_arg";
    case RINGKV_BUSY: return "busy";
    case RINGKV_UNAVAILABLE: return "unavailable";
    case RINGKV_TIMEOUT: return "timeout";
    case RINGKV_SHUTTING_DOWN: return "shutting_down";
    case RINGKV_CLOCK_SKEW: return "clock_skew";
    case RINGKV_CORRUPT: return "corrupt";
    case RINGKV_IO: return "io";
    case RINGKV_NO_SPACE: return "no_space";
    case RINGKV_INTERNAL: return "internal";
    case RINGKV_ERR_CONNECT: return "connect";
    case RINGKV_ERR_CLOSED: return "closed";
    case RINGKV_ERR_NET: return "net";
    case RINGKV_ERR_NET_TIMEOUT: return "net_timeout";
    case RINGKV_ERR_PROTOCOL: return "protocol";
    case RINGKV_ERR_NOMEM: return "nomem";
    case RINGKV_ERR_USAGE: return "usage";
    case RINGKV_ERR_UNKNOWN_STATUS: return "unknown_status";
    }
    return "unknown_status";
}

/* ---- output ---- */

/* Appends s to the line; the caller sized the line for the worst case. */
static size_t fl_put_str(char *line, size_t at, const char *s)
{
    size_t n = strlen(s);
    memcpy(line + at, s, n);
    return at + n;
}

/* A JSON string with one character per byte, read as Latin-1, as docs/http.md writes keys:
 * printable ASCII as itself, every other byte as \u00xx. Needs 2 + 6 * bytes. */
static size_t fl_put_json_bytes(char *line, size_t at, const uint8_t *b, size_t bytes)
{
    static const char hex[] = "0123456789abcdef";
    line[at++] = '"';
    for (size_t i = 0; i < bytes; i++) {
        uint8_t ch = b[i];
        if (ch == '"' || ch == '\\') {
            line[at++] = '\\';
            line[at++] = (char)ch;
        } else if (ch >= 0x20 && ch < 0x7f) {
            line[at++] = (char)ch;
        } else {
            at = fl_put_str(line, at, "\\u00");
            line[at++] = hex[ch >> 4];
            line[at++] = hex[ch & 0xf];
        }
    }
    line[at++] = '"';
    return at;
}

/* Formats r into *line (grown as needed) and appends it to the output file as one line. */
static void fl_emit(struct fl_out *out, char **line, size_t *line_cap, bool *alloc_failed,
                    const struct fl_record *r, enum ringkv_consistency consistency)
{
    size_t need = FL_LINE_FIXED_BYTES + 6u * r->value_bytes;
    if (need > *line_cap) {
        char *grown = realloc(*line, need);
        if (grown == NULL) {
            /* The record would be lost; say so instead of writing a history with a hole. */
            *alloc_failed = true;
            return;
        }
        *line = grown;
        *line_cap = need;
    }
    char *l = *line;
    char num[160];
    size_t at = 0;
    snprintf(num, sizeof(num), "{\"client\":%" PRIu32 ",\"op\":\"", r->client);
    at = fl_put_str(l, at, num);
    at = fl_put_str(l, at, fl_op_names[r->op]);
    at = fl_put_str(l, at, "\",\"key\":");
    at = fl_put_json_bytes(l, at, (const uint8_t *)r->key, strlen(r->key));
    at = fl_put_str(l, at, ",\"value\":");
    if (r->value != NULL || (r->op == FL_OP_GET && r->outcome == FL_OK && r->err == RINGKV_OK))
        at = fl_put_json_bytes(l, at, r->value, r->value_bytes); /* an empty value is "" */
    else
        at = fl_put_str(l, at, "null");
    at = fl_put_str(l, at, ",\"consistency\":\"");
    at = fl_put_str(l, at, fl_cons_names[consistency]);
    snprintf(num, sizeof(num), "\",\"invoke_us\":%" PRId64 ",\"complete_us\":%" PRId64 ",\"outcome\":\"",
             r->invoke_us, r->complete_us);
    at = fl_put_str(l, at, num);
    at = fl_put_str(l, at, fl_outcome_names[r->outcome]);
    at = fl_put_str(l, at, "\",\"error\":");
    const char *code = fl_err_code(r->err);
    if (code != NULL) {
        l[at++] = '"';
        at = fl_put_str(l, at, code);
        l[at++] = '"';
    } else {
        at = fl_put_str(l, at, "null");
    }
    if (r->has_version)
        snprintf(num, sizeof(num), ",\"version\":%" PRIu64 ",\"timestamp\":%" PRIu64, r->version, r->timestamp);
    else
        snprintf(num, sizeof(num), ",\"version\":null,\"timestamp\":null");
    at = fl_put_str(l, at, num);
    snprintf(num, sizeof(num), ",\"acked\":%u,\"needed\":%u,\"hinted\":%u}\n", r->acked, r->needed, r->hinted);
    at = fl_put_str(l, at, num);
    RKV_ASSERT(at <= *line_cap);

    pthread_mutex_lock(&out->lock);
    if (fwrite(l, 1, at, out->f) != at || fflush(out->f) != 0)
        out->write_failed = true;
    pthread_mutex_unlock(&out->lock);
}

/* ---- one operation ---- */

/* Drops the connection and moves to the next target. */
static void fl_drop_conn(ringkv_client **conn, uint32_t *target_idx, uint32_t target_count)
{
    ringkv_close(*conn);
    *conn = NULL;
    *target_idx = (*target_idx + 1u) % target_count;
}

/* Connects to the current target, moving to the next one after each failure, at most
 * tries_max times with a doubling backoff, and never past deadline_mono_us. Returns the last
 * connect error when it gives up. */
static enum ringkv_err fl_connect(const struct fl_cfg *cfg, ringkv_client **conn, uint32_t *target_idx,
                                  uint32_t tries_max, int64_t deadline_mono_us)
{
    RKV_ASSERT(*conn == NULL);
    RKV_ASSERT(*target_idx < cfg->target_count);
    RKV_ASSERT(tries_max >= 1 && tries_max <= FL_CONNECT_TRIES_MAX);
    enum ringkv_err err = RINGKV_ERR_CONNECT;
    uint32_t backoff_ms = FL_BACKOFF_MS_FIRST;
    for (uint32_t tries = 0; tries < tries_max; tries++) {
        if (tries > 0) {
            if (atomic_load(&fl_stop_requested))
                break;
            if (fl_now_us(CLOCK_MONOTONIC) + (int64_t)backoff_ms * 1000 >= deadline_mono_us)
                break;
            fl_sleep_us((int64_t)backoff_ms * 1000);
            backoff_ms = backoff_ms * 2u > FL_BACKOFF_MS_MAX ? FL_BACKOFF_MS_MAX : backoff_ms * 2u;
        }
        *conn = ringkv_connect(cfg->targets[*target_idx], (int)cfg->timeout_ms, &err);
        if (*conn != NULL)
            return RINGKV_OK;
        *target_idx = (*target_idx + 1u) % cfg->target_count;
    }
    return err;
}

/* Runs one operation on *conn (connecting first when there is none, connect_tries at most)
 * and fills r. r->value borrows put_value for a put and the client's reply buffer for a
 * get: r is valid until the next call on *conn. */
static void fl_run_op(const struct fl_cfg *cfg, ringkv_client **conn, uint32_t *target_idx, enum fl_op op,
                      const char *key, const uint8_t *put_value, size_t put_value_bytes, uint32_t connect_tries,
                      int64_t deadline_mono_us, struct fl_record *r)
{
    RKV_ASSERT(op < FL_OP_COUNT);
    RKV_ASSERT(strlen(key) < sizeof(r->key));
    r->op = op;
    memcpy(r->key, key, strlen(key) + 1);
    r->value = op == FL_OP_PUT ? put_value : NULL;
    r->value_bytes = op == FL_OP_PUT ? put_value_bytes : 0;
    r->has_version = false;
    r->version = r->timestamp = 0;
    r->acked = r->needed = r->hinted = 0;
    r->invoke_us = fl_now_us(CLOCK_REALTIME);

    enum ringkv_err err = RINGKV_OK;
    if (*conn == NULL)
        err = fl_connect(cfg, conn, target_idx, connect_tries, deadline_mono_us);
    if (err != RINGKV_OK) {
        r->complete_us = fl_now_us(CLOCK_REALTIME);
        r->err = RINGKV_ERR_CONNECT;
        r->outcome = FL_FAIL;
        return;
    }

    struct ringkv_options opts = ringkv_options_default();
    opts.consistency = cfg->consistency;
    struct ringkv_reply reply;
    size_t key_bytes = strlen(key);
    switch (op) {
    case FL_OP_PUT: err = ringkv_put(*conn, key, key_bytes, put_value, put_value_bytes, &opts, &reply); break;
    case FL_OP_GET: err = ringkv_get(*conn, key, key_bytes, &opts, &reply); break;
    case FL_OP_DELETE: err = ringkv_delete(*conn, key, key_bytes, &opts, &reply); break;
    case FL_OP_COUNT: RKV_ASSERT(!"not an operation"); break;
    }
    r->complete_us = fl_now_us(CLOCK_REALTIME);
    r->err = err;
    r->outcome = fl_classify(err);
    r->acked = reply.acked;
    r->needed = reply.needed;
    r->hinted = reply.hinted;
    if (err == RINGKV_OK) {
        r->has_version = true;
        r->version = reply.version;
        r->timestamp = reply.timestamp;
        if (op == FL_OP_GET) {
            r->value = reply.value;
            r->value_bytes = reply.value_bytes;
        }
    }
    if (fl_conn_broken(err))
        fl_drop_conn(conn, target_idx, cfg->target_count);
}

/* ---- the workload ---- */

static void fl_count(struct fl_counts *counts, const struct fl_record *r)
{
    counts->by[r->op][r->outcome]++;
    if (r->op == FL_OP_GET && r->outcome == FL_OK && r->err == RINGKV_OK)
        counts->found++;
}

static void *fl_worker_main(void *arg)
{
    struct fl_worker *w = arg;
    const struct fl_cfg *cfg = w->cfg;
    RKV_ASSERT(cfg->target_count > 0);
    RKV_ASSERT(w->idx < FL_CLIENTS_MAX);
    int64_t start_mono_us = fl_now_us(CLOCK_MONOTONIC);
    int64_t deadline_mono_us = start_mono_us + (int64_t)cfg->duration_s * 1000000;
    int64_t period_us = cfg->rate_per_s ? (int64_t)(1000000u / cfg->rate_per_s) : 0;
    uint64_t seq = 0;

    /* The loop ends at the deadline, on a signal, or at the hard cap on operations. */
    for (uint64_t n = 0; n < cfg->ops_max; n++) {
        if (atomic_load(w->stop) || atomic_load(&fl_stop_requested))
            break;
        int64_t now_mono_us = fl_now_us(CLOCK_MONOTONIC);
        if (now_mono_us >= deadline_mono_us)
            break;
        if (period_us > 0) {
            /* A fixed schedule: a late operation does not shift the ones after it, but a
             * thread that fell behind does not burst either (it waits at least nothing). */
            int64_t due_us = start_mono_us + (int64_t)n * period_us;
            if (due_us >= deadline_mono_us)
                break;
            fl_sleep_us(due_us - now_mono_us);
            if (atomic_load(&fl_stop_requested))
                break;
        }

        char key[FL_KEY_BYTES_MAX];
        snprintf(key, sizeof(key), "key:%" PRIu64, fl_rng_next(&w->rng) % cfg->keys);
        enum fl_op op = FL_OP_GET;
        char value[FL_VALUE_BYTES_MAX];
        int value_len = 0;
        if (w->writer) {
            op = fl_rng_unit(&w->rng) < cfg->delete_ratio ? FL_OP_DELETE : FL_OP_PUT;
            if (op == FL_OP_PUT) {
                /* Unique per write in this run and, through the run tag, across runs. */
                value_len = snprintf(value, sizeof(value), "w%" PRIu32 "-%" PRIu64 "-%s", w->idx, seq++, cfg->run_tag);
                RKV_ASSERT(value_len > 0 && (size_t)value_len < sizeof(value));
            }
        }
        struct fl_record r = {.client = w->idx};
        fl_run_op(cfg, &w->conn, &w->target_idx, op, key, (const uint8_t *)value, (size_t)value_len,
                  FL_CONNECT_TRIES_MAX, deadline_mono_us, &r);
        fl_emit(w->out, &w->line, &w->line_cap, &w->line_alloc_failed, &r, cfg->consistency);
        fl_count(&w->counts, &r);
    }
    ringkv_close(w->conn);
    w->conn = NULL;
    return NULL;
}

/* --final: reads every key once through the first target, falling back to the others (a
 * connection that works is kept for the next key). One record per key: the first answered
 * read, or the last attempt. Returns how many keys got no answer. */
static uint64_t fl_final(const struct fl_cfg *cfg, struct fl_out *out, struct fl_counts *counts)
{
    RKV_ASSERT(cfg->target_count > 0);
    ringkv_client *conn = NULL;
    uint32_t target_idx = 0;
    char *line = NULL;
    size_t line_cap = 0;
    bool alloc_failed = false;
    uint64_t unanswered = 0;
    int64_t deadline_mono_us = fl_now_us(CLOCK_MONOTONIC) + (int64_t)cfg->duration_s * 1000000;
    for (uint64_t k = 0; k < cfg->keys && !atomic_load(&fl_stop_requested); k++) {
        char key[FL_KEY_BYTES_MAX];
        snprintf(key, sizeof(key), "key:%" PRIu64, k);
        struct fl_record r = {.client = 0};
        uint32_t attempts_max = FL_FINAL_ROUNDS_MAX * cfg->target_count;
        for (uint32_t attempt = 0; attempt < attempts_max; attempt++) {
            bool late = fl_now_us(CLOCK_MONOTONIC) >= deadline_mono_us;
            if (attempt > 0 && late)
                break;
            if (attempt > 0 && attempt % cfg->target_count == 0)
                fl_sleep_us((int64_t)FL_FINAL_ROUND_PAUSE_MS * 1000);
            /* One connect per attempt: the rotation over targets is this loop's. */
            fl_run_op(cfg, &conn, &target_idx, FL_OP_GET, key, NULL, 0, 1, INT64_MAX, &r);
            if (r.outcome == FL_OK || atomic_load(&fl_stop_requested))
                break;
            /* A server's refusal (503 and the like) leaves the connection up; try the next
             * node for this key anyway, since this one may be the one that cannot reach. */
            if (conn != NULL)
                fl_drop_conn(&conn, &target_idx, cfg->target_count);
        }
        if (r.outcome != FL_OK)
            unanswered++;
        fl_emit(out, &line, &line_cap, &alloc_failed, &r, cfg->consistency);
        fl_count(counts, &r);
    }
    ringkv_close(conn);
    free(line);
    if (alloc_failed) {
        pthread_mutex_lock(&out->lock);
        out->write_failed = true;
        pthread_mutex_unlock(&out->lock);
    }
    return unanswered;
}

/* ---- command line ---- */

static void fl_usage(FILE *f)
{
    fprintf(f,
            "usage: faultload --targets H:P[,H:P...] --keys N --writers W --readers R --duration S\n"
            "                 --consistency one|quorum|all --seed N --out FILE\n"
            "                 [--delete-ratio X] [--timeout-ms MS] [--rate OPS] [--ops-max N]\n"
            "       faultload --final --targets H:P[,H:P...] --keys N --consistency one|quorum|all --out FILE\n"
            "                 [--timeout-ms MS] [--duration S]\n"
            "Records every operation as one JSON line in FILE (tests/faults/README.md).\n"
            "  --rate OPS      operations a second per thread (default %u; 0: as fast as answered)\n"
            "  --ops-max N     operations per thread at most (default and max %u)\n"
            "  --timeout-ms MS the client's connect and answer timeout (default %u)\n"
            "  --final         read every key 0..N-1 once instead; --duration bounds the pass\n"
            "                  (default %u s; past it each key left gets one attempt)\n"
            "Exit: 0 a finished run (--final: every key answered), 1 --final left keys unanswered\n"
            "      or the history could not be written, 2 usage error.\n",
            FL_RATE_PER_S_DEFAULT, FL_OPS_PER_CLIENT_MAX, FL_TIMEOUT_MS_DEFAULT, FL_FINAL_DURATION_S_DEFAULT);
}

static bool fl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool fl_parse_targets(const char *s, struct fl_cfg *cfg)
{
    cfg->target_count = 0;
    while (*s != '\0') {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == 0 || len > FL_TARGET_BYTES_MAX || cfg->target_count == FL_TARGETS_MAX)
            return false;
        memcpy(cfg->targets[cfg->target_count], s, len);
        cfg->targets[cfg->target_count][len] = '\0';
        if (strchr(cfg->targets[cfg->target_count], ':') == NULL)
            return false;
        cfg->target_count++;
        if (comma == NULL)
            break;
        s = comma + 1;
        if (*s == '\0')
            return false; /* a trailing comma */
    }
    return cfg->target_count > 0;
}

static int fl_usage_die(const char *why, const char *arg)
{
    fprintf(stderr, "faultload: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
    fl_usage(stderr);
    return FL_EXIT_USAGE;
}

/* Fills cfg from argv; returns FL_EXIT_OK, or the exit code to leave with. */
static int fl_parse_args(int argc, char **argv, struct fl_cfg *cfg)
{
    enum { SEEN_TARGETS = 1, SEEN_KEYS = 2, SEEN_WRITERS = 4, SEEN_READERS = 8, SEEN_DURATION = 16,
           SEEN_CONSISTENCY = 32, SEEN_SEED = 64, SEEN_OUT = 128 };
    unsigned seen = 0;
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ms = FL_TIMEOUT_MS_DEFAULT;
    cfg->rate_per_s = FL_RATE_PER_S_DEFAULT;
    cfg->ops_max = FL_OPS_PER_CLIENT_MAX;
    cfg->consistency = RINGKV_QUORUM;
    for (int i = 1; i < argc; i++) {
        char name[32];
        const char *arg = argv[i];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) == 0 && eq != NULL && (size_t)(eq - arg) < sizeof(name)) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            val = eq + 1;
        } else if (strlen(arg) < sizeof(name)) {
            memcpy(name, arg, strlen(arg) + 1);
        } else {
            return fl_usage_die("unknown option", arg);
        }
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
            fl_usage(stdout);
            return -1;
        }
        if (strcmp(name, "--final") == 0) {
            if (val != NULL)
                return fl_usage_die("--final takes no value", arg);
            cfg->final = true;
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc)
                return fl_usage_die("option needs a value", arg);
            val = argv[++i];
        }
        uint64_t v = 0;
        if (strcmp(name, "--targets") == 0) {
            if (!fl_parse_targets(val, cfg))
                return fl_usage_die("--targets wants H:P[,H:P...]", val);
            seen |= SEEN_TARGETS;
        } else if (strcmp(name, "--keys") == 0) {
            if (!fl_parse_u64(val, 1, FL_KEYS_MAX, &cfg->keys))
                return fl_usage_die("--keys wants 1..1000000", val);
            seen |= SEEN_KEYS;
        } else if (strcmp(name, "--writers") == 0) {
            if (!fl_parse_u64(val, 0, FL_CLIENTS_MAX, &v))
                return fl_usage_die("--writers wants 0..256", val);
            cfg->writers = (uint32_t)v;
            seen |= SEEN_WRITERS;
        } else if (strcmp(name, "--readers") == 0) {
            if (!fl_parse_u64(val, 0, FL_CLIENTS_MAX, &v))
                return fl_usage_die("--readers wants 0..256", val);
            cfg->readers = (uint32_t)v;
            seen |= SEEN_READERS;
        } else if (strcmp(name, "--duration") == 0) {
            if (!fl_parse_u64(val, 1, FL_DURATION_S_MAX, &cfg->duration_s))
                return fl_usage_die("--duration wants 1..3600 seconds", val);
            seen |= SEEN_DURATION;
        } else if (strcmp(name, "--consistency") == 0) {
            if (strcmp(val, "one") == 0)
                cfg->consistency = RINGKV_ONE;
            else if (strcmp(val, "quorum") == 0)
                cfg->consistency = RINGKV_QUORUM;
            else if (strcmp(val, "all") == 0)
                cfg->consistency = RINGKV_ALL;
            else
                return fl_usage_die("--consistency wants one, quorum or all", val);
            seen |= SEEN_CONSISTENCY;
        } else if (strcmp(name, "--seed") == 0) {
            if (!fl_parse_u64(val, 0, UINT64_MAX, &cfg->seed))
                return fl_usage_die("--seed wants an unsigned integer", val);
            seen |= SEEN_SEED;
        } else if (strcmp(name, "--out") == 0) {
            if (*val == '\0')
                return fl_usage_die("--out wants a file name", val);
            cfg->out_path = val;
            seen |= SEEN_OUT;
        } else if (strcmp(name, "--delete-ratio") == 0) {
            char *end = NULL;
            errno = 0;
            double d = strtod(val, &end);
            if (errno != 0 || end == val || *end != '\0' || !(d >= 0.0 && d <= 1.0))
                return fl_usage_die("--delete-ratio wants a number in 0..1", val);
            cfg->delete_ratio = d;
        } else if (strcmp(name, "--timeout-ms") == 0) {
            if (!fl_parse_u64(val, 1, FL_TIMEOUT_MS_MAX, &v))
                return fl_usage_die("--timeout-ms wants 1..600000", val);
            cfg->timeout_ms = (uint32_t)v;
        } else if (strcmp(name, "--rate") == 0) {
            if (!fl_parse_u64(val, 0, FL_RATE_PER_S_MAX, &cfg->rate_per_s))
                return fl_usage_die("--rate wants 0..1000000 operations a second", val);
        } else if (strcmp(name, "--ops-max") == 0) {
            if (!fl_parse_u64(val, 1, FL_OPS_PER_CLIENT_MAX, &cfg->ops_max))
                return fl_usage_die("--ops-max wants 1..1000000", val);
        } else {
            return fl_usage_die("unknown option", arg);
        }
    }
    unsigned need = cfg->final ? SEEN_TARGETS | SEEN_KEYS | SEEN_CONSISTENCY | SEEN_OUT
                               : SEEN_TARGETS | SEEN_KEYS | SEEN_WRITERS | SEEN_READERS | SEEN_DURATION |
                                     SEEN_CONSISTENCY | SEEN_SEED | SEEN_OUT;
    if ((seen & need) != need)
        return fl_usage_die("missing a required option", NULL);
    if (cfg->final && !(seen & SEEN_DURATION))
        cfg->duration_s = FL_FINAL_DURATION_S_DEFAULT;
    if (!cfg->final && cfg->writers + cfg->readers == 0)
        return fl_usage_die("--writers plus --readers must be at least 1", NULL);
    if (cfg->writers + cfg->readers > FL_CLIENTS_MAX)
        return fl_usage_die("--writers plus --readers must be at most 256", NULL);
    return FL_EXIT_OK;
}

/* ---- main ---- */

static void fl_print_summary(const struct fl_cfg *cfg, const struct fl_counts *c, double seconds)
{
    uint64_t total = 0;
    for (int op = 0; op < FL_OP_COUNT; op++)
        for (int o = 0; o < FL_OUTCOME_COUNT; o++)
            total += c->by[op][o];
    fprintf(stderr, "faultload%s: %" PRIu64 " ops in %.1f s at %s", cfg->final ? " --final" : "", total, seconds,
            fl_cons_names[cfg->consistency]);
    for (int op = 0; op < FL_OP_COUNT; op++) {
        fprintf(stderr, "; %s ok=%" PRIu64 " fail=%" PRIu64 " unknown=%" PRIu64, fl_op_names[op],
                c->by[op][FL_OK], c->by[op][FL_FAIL], c->by[op][FL_UNKNOWN]);
        if (op == FL_OP_GET)
            fprintf(stderr, " (found=%" PRIu64 ")", c->found);
    }
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    struct fl_cfg cfg;
    int rc = fl_parse_args(argc, argv, &cfg);
    if (rc == -1)
        return FL_EXIT_OK;
    if (rc != FL_EXIT_OK)
        return rc;

    /* Values must never repeat, even across processes writing to one cluster. */
    int64_t start_real_us = fl_now_us(CLOCK_REALTIME);
    snprintf(cfg.run_tag, sizeof(cfg.run_tag), "%" PRIx64 "%04x", (uint64_t)start_real_us,
             (unsigned)(getpid() & 0xffff));

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fl_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct fl_out out = {.f = fopen(cfg.out_path, "w")};
    if (out.f == NULL) {
        fprintf(stderr, "faultload: cannot open %s: %s\n", cfg.out_path, strerror(errno));
        return FL_EXIT_INCOMPLETE;
    }
    pthread_mutex_init(&out.lock, NULL);

    struct fl_counts total;
    memset(&total, 0, sizeof(total));
    int64_t start_mono_us = fl_now_us(CLOCK_MONOTONIC);
    int exit_code = FL_EXIT_OK;
    if (cfg.final) {
        uint64_t unanswered = fl_final(&cfg, &out, &total);
        if (unanswered > 0) {
            fprintf(stderr, "faultload --final: %" PRIu64 " of %" PRIu64 " keys got no answer\n", unanswered, cfg.keys);
            exit_code = FL_EXIT_INCOMPLETE;
        }
    } else {
        uint32_t n = cfg.writers + cfg.readers;
        struct fl_worker *workers = calloc(n, sizeof(*workers));
        pthread_t *threads = calloc(n, sizeof(*threads));
        atomic_bool stop = false;
        if (workers == NULL || threads == NULL) {
            fprintf(stderr, "faultload: out of memory\n");
            free(workers);
            free(threads);
            fclose(out.f);
            return FL_EXIT_INCOMPLETE;
        }
        uint32_t started = 0;
        for (uint32_t i = 0; i < n; i++) {
            struct fl_worker *w = &workers[i];
            w->cfg = &cfg;
            w->out = &out;
            w->stop = &stop;
            w->idx = i;
            w->writer = i < cfg.writers;
            w->rng = cfg.seed ^ (0x9e3779b97f4a7c15ull * (i + 1u));
            w->target_idx = i % cfg.target_count;
            if (pthread_create(&threads[i], NULL, fl_worker_main, w) != 0) {
                fprintf(stderr, "faultload: cannot start thread %" PRIu32 "\n", i);
                atomic_store(&stop, true);
                exit_code = FL_EXIT_INCOMPLETE;
                break;
            }
            started++;
        }
        for (uint32_t i = 0; i < started; i++) {
            pthread_join(threads[i], NULL);
            for (int op = 0; op < FL_OP_COUNT; op++)
                for (int o = 0; o < FL_OUTCOME_COUNT; o++)
                    total.by[op][o] += workers[i].counts.by[op][o];
            total.found += workers[i].counts.found;
            if (workers[i].line_alloc_failed)
                out.write_failed = true;
            free(workers[i].line);
        }
        free(workers);
        free(threads);
    }
    double seconds = (double)(fl_now_us(CLOCK_MONOTONIC) - start_mono_us) / 1e6;
    if (fclose(out.f) != 0)
        out.write_failed = true;
    pthread_mutex_destroy(&out.lock);
    fl_print_summary(&cfg, &total, seconds);
    if (out.write_failed) {
        fprintf(stderr, "faultload: writing %s failed: the history is incomplete\n", cfg.out_path);
        exit_code = FL_EXIT_INCOMPLETE;
    }
    return exit_code;
}
