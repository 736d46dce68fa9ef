/* ringkv-bench internals shared by its files: the limits of a run, its configuration, the
 * driver interface (one implementation per target scheme; ringkv:// today, others plug in
 * beside it), and the workload generators (keys, zipf, values). Everything here is owned by
 * one thread: the configuration is written by main() before any worker starts and only read
 * afterwards; a driver connection and a generator belong to the worker that made them. */
#ifndef RKV_BENCH_BENCH_H
#define RKV_BENCH_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The result of a driver call on a connection. */
enum bench_io {
    BENCH_IO_OK,
    BENCH_IO_TIMEOUT, /* recv: nothing within the timeout; the connection is given up */
    BENCH_IO_FAILED   /* the connection is broken */
};

struct bench_reply {
    uint32_t tag;              /* what the driver's send returned for this request */
    enum bench_outcome outcome; /* OK, MISS or ERROR */
    const char *message;       /* ERROR: the server's sentence, valid until the next call */
};

/* Settings a driver needs to open a connection. */
struct bench_driver_cfg {
    enum bench_consistency consistency;
    uint32_t timeout_ms;
};

/* One target protocol. A connection handle is owned by the worker that opened it. */
struct bench_driver {
    const char *scheme; /* "ringkv" for "ringkv://HOST:PORT" */
    /* Connects to addr ("HOST:PORT"). NULL on failure, with a sentence in why (NUL-ended). */
    void *(*open)(const char *addr, const struct bench_driver_cfg *cfg, char *why, size_t why_cap);
    void (*close)(void *conn);
    /* Queues one request (written by flush at the latest); *tag_out identifies its reply.
     * Tags of consecutive sends on one connection are consecutive. */
    enum bench_io (*send)(void *conn, enum bench_op op, const uint8_t *key, size_t key_bytes,
                          const uint8_t *value, size_t value_bytes, uint32_t *tag_out);
    enum bench_io (*flush)(void *conn);
    /* Waits, at most the timeout, for the next reply (in any order) on the connection. */
    enum bench_io (*recv)(void *conn, struct bench_reply *reply_out);
    /* A sentence about the last failed call (for the report); never NULL. */
    const char *(*last_error)(void *conn);
};

extern const struct bench_driver bench_driver_ringkv;

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

/* ---- the trivial target (bench/null_server.c) ---- */

/* Serves the binary protocol on addr from one thread and answers every request OK at once
 * (GET with value_bytes bytes), storing nothing: the floor a driver is checked against.
 * Runs for at most duration_s seconds or until *stop becomes nonzero (the caller's signal
 * handler sets it). Returns the exit code: 0, or 1 when it could not listen. */
int bench_null_serve(const char *addr, uint32_t value_bytes, uint32_t duration_s, const volatile sig_atomic_t *stop);

#endif
