/* ringkv-bench internals shared by its files: the limits of a run, its configuration, the
 * driver interface (one codec per target scheme: ringkv://, http://, redis://), the load
 * loop's connections and workers (bench/loop.c), and the workload generators (keys, zipf,
 * values). Ownership: the configuration is written by main() before any worker starts and
 * only read afterwards; a connection, its driver state and a generator belong to the worker
 * that uses them; a worker's statistics are its own while a phase runs (a copy is published
 * under its mutex) and main()'s once the worker is joined. */
#ifndef RKV_BENCH_BENCH_H
#define RKV_BENCH_BENCH_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hist.h"
#include "core/limits.h"

/* Limits of a run. Each is far above what one machine of ours uses and keeps a typo from
 * asking for something unbounded. */
#define BENCH_TARGETS_MAX 64u
#define BENCH_CONNECTIONS_MAX 4096u
#define BENCH_THREADS_MAX 64u
/* Requests in flight per connection. The server serves RKV_CONN_INFLIGHT_MAX at once per
 * connection and holds the rest back; a deeper pipeline only queues in socket buffers. */
#define BENCH_PIPELINE_MAX 1024u
/* The hard cap on a run's time, also when --ops is given: a measuring phase never runs
 * longer than this, and neither does the load phase. */
#define BENCH_DURATION_S_MAX 600u
#define BENCH_DURATION_S_DEFAULT 10u
#define BENCH_OPS_MAX (1ull << 40)
/* Keys are "key:" and 12 decimal digits: 16 bytes, so the key space tops out at 10^12. */
#define BENCH_KEY_PREFIX "key:"
#define BENCH_KEY_DIGITS 12u
#define BENCH_KEY_BYTES (4u + BENCH_KEY_DIGITS)
#define BENCH_KEYS_MAX 1000000000000ull
#define BENCH_KEYS_DEFAULT 100000u
_Static_assert(BENCH_KEY_BYTES <= RKV_KEY_BYTES_MAX, "bench keys fit the key limit");
#define BENCH_VALUE_BYTES_DEFAULT 100u
#define BENCH_TIMEOUT_MS_DEFAULT 5000u
#define BENCH_TIMEOUT_MS_MAX 60000u
/* A connection that fails is reopened at most this many times in one phase; after that it
 * is dropped and the run goes on with the others (every failure is counted as errors). */
#define BENCH_RECONNECTS_MAX 3u
/* How often a worker publishes its figures for the progress line. */
#define BENCH_PUBLISH_NS (100u * 1000u * 1000u)
/* Open loop: --rate is requests per second in all, 1 .. 10M (far above what one machine
 * of ours serves; the cap keeps the send interval at 100 ns or more per worker). */
#define BENCH_RATE_MAX 10000000ull
/* Socket buffers of one connection. Answers are read into a buffer that starts at
 * BENCH_IN_BYTES_INITIAL and doubles, for an answer larger than it, up to
 * BENCH_IN_BYTES_MAX (an HTTP answer with a 1 MiB value in base64 is about 1.4 MiB).
 * Requests are queued into a buffer of BENCH_OUT_BYTES_MIN or two requests of the
 * largest size, whichever is larger; it never grows, and a full one is written first. */
#define BENCH_IN_BYTES_INITIAL (64u * 1024u)
#define BENCH_IN_BYTES_MAX (4u * 1024u * 1024u)
#define BENCH_OUT_BYTES_MIN (64u * 1024u)
/* Events taken per epoll wait, and the longest a worker sleeps in one (so that it sees the
 * deadline, Ctrl-C and timeouts). */
#define BENCH_EVENTS_MAX 256
#define BENCH_WAIT_NS_MAX (20u * 1000u * 1000u)
/* Open loop: a worker sleeps at least this long between sends, so that at high rates it
 * wakes once per batch, not once per request. A request may thus leave up to this late;
 * its latency, measured from its intended time, includes that. */
#define BENCH_OPEN_TICK_NS (20u * 1000u)
/* How often a worker checks its connections for answers overdue by --timeout-ms. */
#define BENCH_TIMEOUT_SCAN_NS (10u * 1000u * 1000u)
/* Zipf exponent of YCSB's zipfian generator. */
#define BENCH_ZIPF_THETA 0.99
/* Rejection-inversion accepts in about 1.1 draws on average for theta near 1; this cap
 * keeps a sampler that is fed a pathological generator from spinning. */
#define BENCH_ZIPF_TRIES_MAX 64u

enum bench_op { BENCH_OP_GET, BENCH_OP_PUT, BENCH_OP_COUNT };
enum bench_workload { BENCH_WL_GET, BENCH_WL_PUT, BENCH_WL_MIXED };
enum bench_dist { BENCH_DIST_UNIFORM, BENCH_DIST_ZIPF };
enum bench_consistency { BENCH_CONS_ONE, BENCH_CONS_QUORUM, BENCH_CONS_ALL };

/* What became of one request. Only an answer from the server has a latency. */
enum bench_outcome {
    BENCH_OUT_OK,       /* done; a GET found its key */
    BENCH_OUT_MISS,     /* a GET of a key that is not there: not an error, counted apart */
    BENCH_OUT_ERROR,    /* the server answered with an error status */
    BENCH_OUT_TIMEOUT,  /* no answer within the timeout */
    BENCH_OUT_FAILED,   /* the connection failed before the answer came */
    BENCH_OUT_COUNT
};

/* One decoded answer. */
struct bench_reply {
    uint32_t tag;               /* tagged drivers: the tag its request was encoded with */
    enum bench_outcome outcome; /* OK, MISS or ERROR */
    const char *message;        /* ERROR: the server's words, message_bytes long, not NUL-ended; */
    size_t message_bytes;       /*   they point into the decoded buffer (valid until it moves) */
};

/* Three-way answer of a decoder, as the codecs of net/ give it (STYLE 13). */
enum bench_parse { BENCH_PARSE_DONE, BENCH_PARSE_NEED_MORE, BENCH_PARSE_INVALID };

/* Settings a driver needs. */
struct bench_driver_cfg {
    enum bench_consistency consistency;
    uint32_t timeout_ms;
};

/* One target protocol, as a codec: the load loop (bench.c) owns the sockets and buffers and
 * is the same for every driver, so the drivers differ only in the bytes they write and read.
 * A driver's per-connection state is owned by the connection that made it. */
struct bench_driver {
    const char *scheme; /* "ringkv" for "ringkv://HOST:PORT" */
    /* true: every answer carries the tag of its request and answers may come in any order;
     * false: answers come in request order (HTTP/1.1, RESP) and tags are not on the wire. */
    bool tagged;
    /* Per-connection state (NULL when the driver needs none); NULL with a sentence in why
     * on failure. */
    void *(*state_new)(const struct bench_driver_cfg *cfg, char *why, size_t why_cap);
    void (*state_free)(void *st);
    /* The most bytes encode() writes for one request with a value of value_bytes. */
    size_t (*request_bytes_max)(uint32_t value_bytes);
    /* Writes one request into buf[0..cap); returns its bytes, or 0 when it does not fit
     * (the caller writes what it has queued and tries again). tag < BENCH_TAGS_MAX. */
    size_t (*encode)(void *st, uint8_t *buf, size_t cap, enum bench_op op, const uint8_t *key, size_t key_bytes,
                     const uint8_t *value, size_t value_bytes, uint32_t tag);
    /* Decodes the answer at the start of buf[0..len). DONE: *reply_out and *used_out (its
     * bytes) are set. NEED_MORE: *need_out is the answer's whole size when known, else 0.
     * INVALID: the stream cannot be trusted; *why_out says why (static). Out-parameters are
     * set on entry. */
    enum bench_parse (*decode)(void *st, const uint8_t *buf, size_t len, struct bench_reply *reply_out,
                               size_t *used_out, size_t *need_out, const char **why_out);
};

/* Tags are slot numbers of a connection, so they stay below the pipeline limit. */
#define BENCH_TAGS_MAX BENCH_PIPELINE_MAX

extern const struct bench_driver bench_driver_ringkv;
extern const struct bench_driver bench_driver_http;
extern const struct bench_driver bench_driver_redis;

/* Splits "HOST:PORT" or "[V6]:PORT" into host (NUL-ended, brackets removed) and port;
 * false when it is not of that form or does not fit. */
bool bench_addr_split(const char *addr, char *host, size_t host_cap, char port[6]);

/* ---- workload generators (bench/workload.c) ---- */

/* A xoshiro256** generator; one per worker. */
struct bench_rng {
    uint64_t s[4];
};
void bench_rng_seed(struct bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias is below n / 2^64). */
uint64_t bench_rng_below(struct bench_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double bench_rng_unit(struct bench_rng *r);

/* Zipf over ranks 1..n with exponent theta, by rejection-inversion (Hörmann and Derflinger,
 * "Rejection-inversion to generate variates from monotone discrete distributions", 1996):
 * O(1) set-up and O(1) expected time per draw, for any n. Immutable after init, so one
 * sampler may be read by several threads. */
struct bench_zipf {
    uint64_t n;
    double theta;
    double h_integral_x1; /* H(1.5) - 1 */
    double h_integral_n;  /* H(n + 0.5) */
    double s;             /* the squeeze that accepts most draws without evaluating H */
};
void bench_zipf_init(struct bench_zipf *z, uint64_t n, double theta);
/* A rank in 1..n; rank 1 is the most frequent. */
uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r);

/* Writes key number idx (< BENCH_KEYS_MAX) as BENCH_KEY_BYTES bytes into out. */
void bench_key_format(uint64_t idx, uint8_t out[BENCH_KEY_BYTES]);

/* ---- the load loop (bench/loop.c) ---- */

/* Written by main() while parsing; read-only once a worker exists. */
struct bench_cfg {
    const char *target_urls[BENCH_TARGETS_MAX];
    const char *target_addrs[BENCH_TARGETS_MAX];
    const struct bench_driver *target_drivers[BENCH_TARGETS_MAX];
    uint32_t target_count;
    uint32_t connections, pipeline, threads;
    uint32_t duration_s;
    bool duration_set;
    uint64_t ops;
    bool ops_set;
    uint64_t rate; /* open loop: requests per second in all; 0 = closed loop */
    enum bench_workload workload;
    bool workload_set;
    double read_ratio;
    bool read_ratio_set;
    uint64_t keys;
    enum bench_dist dist;
    uint32_t value_min_bytes, value_max_bytes; /* each PUT's value: uniform in [min, max] */
    bool load, json;
    uint64_t seed;
    struct bench_driver_cfg driver;
    const char *serve_null_addr;
};

struct bench_stats {
    uint64_t outcomes[BENCH_OP_COUNT][BENCH_OUT_COUNT];
    struct hist latency[BENCH_OP_COUNT]; /* answered requests: OK, MISS and ERROR */
};

/* A request in flight on a connection. */
struct bench_slot {
    int64_t start_ns; /* latency is measured from here: queued (closed loop) or intended (open) */
    uint8_t op;       /* enum bench_op */
    bool busy;
};

/* One connection. Owner: its worker (main() while opening it). The tag of a request is the
 * number of its slot; for an untagged driver `order` keeps the slots in send order. */
struct bench_conn {
    const struct bench_driver *drv;
    const char *addr;
    void *st; /* the driver's state */
    int fd;   /* -1 once dead */
    uint8_t *out;
    size_t out_len, out_sent, out_cap;
    uint8_t *in;
    size_t in_len, in_used, in_cap;
    struct bench_slot *slots; /* [pipeline] */
    uint32_t *free_slots;     /* [pipeline]: a stack of free slot numbers */
    uint32_t free_count;
    uint32_t *order; /* [pipeline]: a ring of busy slots in send order (untagged drivers) */
    uint32_t order_head, order_count;
    uint32_t in_flight;
    int64_t progress_ns; /* the last answer, or the send that made in_flight nonzero */
    bool want_out;       /* EPOLLOUT is armed: a write did not finish */
    bool dirty;          /* on its worker's list of connections to fill or write */
    uint32_t reconnects;
};

enum bench_phase { BENCH_PHASE_LOAD, BENCH_PHASE_MEASURE };

/* Shared by the workers of a phase; written by main() between phases. */
struct bench_run {
    const struct bench_cfg *cfg;
    struct bench_zipf zipf; /* --dist zipf: the sampler, read by every worker */
    enum bench_phase phase;
    int64_t start_ns, deadline_ns;
    uint64_t ops_total;           /* measuring with --ops: requests to send in all */
    _Atomic uint64_t ops_claimed; /* of ops_total, by all workers */
    atomic_bool stop;             /* Ctrl-C: stop sending, collect what is in flight */
};

/* Owner: its thread while a phase runs, main() between phases. */
struct bench_worker {
    uint32_t idx;
    struct bench_run *run;
    struct bench_conn *conns;
    uint32_t conn_count;
    struct bench_rng rng;
    uint8_t *value;                /* --value-size (the largest) bytes of noise; PUTs send a prefix */
    uint64_t load_next, load_end;  /* the worker's share of keys in the load phase */
    struct bench_stats stats;
    uint64_t behind;               /* open loop: requests due before the deadline and never sent */
    int64_t end_ns;
    double cpu_s;
    char first_error[200];
    pthread_mutex_t pub_lock;
    struct bench_stats pub; /* under pub_lock */
    pthread_t thread;
};

/* Opens a connection to c->addr with c->drv (fields drv and addr set by the caller),
 * allocating its buffers and slots for cfg. false, with a sentence in why, on failure; the
 * connection is then closed (fd -1) but its memory stays for bench_conn_free(). */
bool bench_conn_open(struct bench_conn *c, const struct bench_cfg *cfg, char *why, size_t why_cap);
/* Closes the socket if open and frees everything the connection holds. */
void bench_conn_free(struct bench_conn *c);
/* The thread of a worker: runs the phase in w->run->phase to its end (see bench/loop.c). */
void *bench_worker_main(void *arg);

void bench_stats_init(struct bench_stats *s);
void bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src);
uint64_t bench_stats_ops(const struct bench_stats *s, int op);
uint64_t bench_stats_errors(const struct bench_stats *s, int op);
int64_t bench_now_ns(void);

/* ---- the trivial target (bench/null_server.c) ---- */

/* Serves the binary protocol on addr from one thread and answers every request OK at once
 * (GET with value_bytes bytes), storing nothing: the floor a driver is checked against.
 * Runs for at most duration_s seconds or until *stop becomes nonzero (the caller's signal
 * handler sets it). Returns the exit code: 0, or 1 when it could not listen. */
int bench_null_serve(const char *addr, uint32_t value_bytes, uint32_t duration_s, const volatile sig_atomic_t *stop);

#endif
