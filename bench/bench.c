/* ringkv-bench: the bundled closed-loop load generator. main() parses the flags, opens every
 * connection, then runs an optional load phase (every key written once) and the measuring
 * phase on --threads worker threads, printing a progress line each second, and ends with a
 * table per operation (or one JSON object). Ownership: each worker thread owns its
 * connections, its generator and its statistics; it publishes a copy of the statistics
 * under its own mutex every BENCH_PUBLISH_NS for the progress line, and main() reads the
 * workers' own statistics only after joining them.
 *
 * How a worker drives its connections: round robin, one batch per connection in flight.
 * At a connection it takes the answers of the batch it sent last time (they have usually
 * arrived while it served the others), then sends a new batch of --pipeline requests with
 * one write. The client library's calls block, so this is the way to keep many connections
 * busy from one thread without reaching into the library's socket; the server sees
 * connections x pipeline requests outstanding, minus the one batch being turned around.
 * Every loop is bounded: a phase stops sending at its deadline (BENCH_DURATION_S_MAX at the
 * most), each wait for an answer is bounded by the timeout, and a connection is given up
 * after its first timeout. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/bench.h"
#include "core/assert.h"
#include "core/hist.h"

#define BENCH_EXIT_OK 0
#define BENCH_EXIT_ERRORS 1
#define BENCH_EXIT_USAGE 2
/* The main thread's wait for the workers is sliced this fine (progress lines and Ctrl-C). */
#define BENCH_MAIN_TICK_NS (50u * 1000u * 1000u)
#define BENCH_MESSAGE_BYTES 200u

static const char *const op_names[BENCH_OP_COUNT] = {[BENCH_OP_GET] = "get", [BENCH_OP_PUT] = "put"};
static const char *const workload_names[] = {[BENCH_WL_GET] = "get", [BENCH_WL_PUT] = "put", [BENCH_WL_MIXED] = "mixed"};
static const char *const dist_names[] = {[BENCH_DIST_UNIFORM] = "uniform", [BENCH_DIST_ZIPF] = "zipf"};
static const char *const cons_names[] = {[BENCH_CONS_ONE] = "one", [BENCH_CONS_QUORUM] = "quorum", [BENCH_CONS_ALL] = "all"};

/* The drivers, by scheme. A new protocol is one more entry. */
static const struct bench_driver *const bench_drivers[] = {&bench_driver_ringkv};

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
    enum bench_workload workload;
    bool workload_set;
    double read_ratio;
    bool read_ratio_set;
    uint64_t keys;
    enum bench_dist dist;
    uint32_t value_bytes;
    bool load, json;
    uint64_t seed;
    struct bench_driver_cfg driver;
    const char *serve_null_addr;
};

struct bench_stats {
    uint64_t outcomes[BENCH_OP_COUNT][BENCH_OUT_COUNT];
    struct hist latency[BENCH_OP_COUNT]; /* answered requests: OK, MISS and ERROR */
};

/* One connection and the batch it has in flight. Owner: its worker. */
struct bench_conn {
    const struct bench_driver *drv;
    const char *addr;
    void *handle;        /* NULL once dead */
    uint32_t first_tag;  /* tag of the batch's first request; the others follow */
    uint32_t sent_count; /* requests of the batch */
    uint32_t answered_count;
    int64_t sent_ns;
    uint8_t *batch_ops;      /* [pipeline]: enum bench_op of each request of the batch */
    uint8_t *batch_answered; /* [pipeline]: 1 once its answer came */
    uint32_t reconnects;
};

enum bench_phase { BENCH_PHASE_LOAD, BENCH_PHASE_MEASURE };

struct bench_run {
    const struct bench_cfg *cfg;
    struct bench_zipf zipf;
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
    uint8_t *value; /* --value-size bytes of noise, the value of every PUT */
    uint64_t load_next, load_end; /* the worker's share of keys in the load phase */
    struct bench_stats stats;
    int64_t end_ns;
    double cpu_s;
    char first_error[BENCH_MESSAGE_BYTES];
    pthread_mutex_t pub_lock;
    struct bench_stats pub; /* under pub_lock */
    pthread_t thread;
};

static volatile sig_atomic_t bench_interrupted;

static void bench_on_signal(int sig)
{
    (void)sig;
    bench_interrupted = 1;
}

static int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void stats_init(struct bench_stats *s)
{
    memset(s->outcomes, 0, sizeof(s->outcomes));
    for (int op = 0; op < BENCH_OP_COUNT; op++)
        hist_init(&s->latency[op]);
}

static void stats_merge(struct bench_stats *dst, const struct bench_stats *src)
{
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        for (int o = 0; o < BENCH_OUT_COUNT; o++)
            dst->outcomes[op][o] += src->outcomes[op][o];
        hist_merge(&dst->latency[op], &src->latency[op]);
    }
}

static uint64_t stats_ops(const struct bench_stats *s, int op)
{
    uint64_t n = 0;
    for (int o = 0; o < BENCH_OUT_COUNT; o++)
        n += s->outcomes[op][o];
    return n;
}

static uint64_t stats_errors(const struct bench_stats *s, int op)
{
    return s->outcomes[op][BENCH_OUT_ERROR] + s->outcomes[op][BENCH_OUT_TIMEOUT] + s->outcomes[op][BENCH_OUT_FAILED];
}

static void worker_note_error(struct bench_worker *w, const char *what, const char *detail)
{
    if (w->first_error[0] == '\0')
        snprintf(w->first_error, sizeof(w->first_error), "%.60s: %.120s", what, detail ? detail : "?");
}

/* ---- one connection ---- */

/* Counts every request of the batch still unanswered as `outcome`, closes the connection
 * and opens it again while reconnects are left; else it stays dead (handle NULL). */
static void conn_fail(struct bench_worker *w, struct bench_conn *c, enum bench_outcome outcome)
{
    RKV_ASSERT(outcome == BENCH_OUT_TIMEOUT || outcome == BENCH_OUT_FAILED);
    const char *why = c->drv->last_error(c->handle);
    worker_note_error(w, c->addr, why);
    for (uint32_t i = 0; i < c->sent_count; i++) {
        if (!c->batch_answered[i])
            w->stats.outcomes[c->batch_ops[i]][outcome]++;
    }
    c->sent_count = c->answered_count = 0;
    c->drv->close(c->handle);
    c->handle = NULL;
    if (c->reconnects >= BENCH_RECONNECTS_MAX)
        return;
    c->reconnects++;
    char msg[BENCH_MESSAGE_BYTES];
    c->handle = c->drv->open(c->addr, &w->run->cfg->driver, msg, sizeof(msg));
    if (c->handle == NULL)
        worker_note_error(w, "reconnect", msg);
}

/* Takes every answer of the batch in flight (at most --pipeline answers, each wait bounded
 * by the timeout). */
static void conn_collect(struct bench_worker *w, struct bench_conn *c)
{
    RKV_ASSERT(c->handle != NULL);
    RKV_ASSERT(c->answered_count < c->sent_count);
    while (c->answered_count < c->sent_count) {
        struct bench_reply rep;
        enum bench_io io = c->drv->recv(c->handle, &rep);
        if (io != BENCH_IO_OK) {
            conn_fail(w, c, io == BENCH_IO_TIMEOUT ? BENCH_OUT_TIMEOUT : BENCH_OUT_FAILED);
            return;
        }
        int64_t now_ns = bench_now_ns();
        uint32_t slot = rep.tag - c->first_tag;
        if (slot >= c->sent_count || c->batch_answered[slot]) {
            /* The library checks ids against what is in flight, so this is a bug on one side. */
            worker_note_error(w, c->addr, "an answer to a request not in the batch");
            conn_fail(w, c, BENCH_OUT_FAILED);
            return;
        }
        c->batch_answered[slot] = 1;
        c->answered_count++;
        int op = c->batch_ops[slot];
        enum bench_outcome out = rep.outcome;
        if (out == BENCH_OUT_MISS && op != BENCH_OP_GET)
            out = BENCH_OUT_ERROR; /* only a GET can miss */
        if (out == BENCH_OUT_ERROR)
            worker_note_error(w, op_names[op], rep.message);
        w->stats.outcomes[op][out]++;
        int64_t lat_ns = now_ns - c->sent_ns;
        hist_record(&w->stats.latency[op], lat_ns > 0 ? (uint64_t)lat_ns / 1000u : 0u);
    }
    c->sent_count = c->answered_count = 0;
}

/* Picks the operation and key of the next request. */
static enum bench_op worker_next_op(struct bench_worker *w, uint64_t *key_idx_out)
{
    const struct bench_cfg *cfg = w->run->cfg;
    if (w->run->phase == BENCH_PHASE_LOAD) {
        RKV_ASSERT(w->load_next < w->load_end);
        *key_idx_out = w->load_next++;
        return BENCH_OP_PUT;
    }
    if (cfg->dist == BENCH_DIST_ZIPF)
        *key_idx_out = bench_zipf_next(&w->run->zipf, &w->rng) - 1u;
    else
        *key_idx_out = bench_rng_below(&w->rng, cfg->keys);
    switch (cfg->workload) {
    case BENCH_WL_GET: return BENCH_OP_GET;
    case BENCH_WL_PUT: return BENCH_OP_PUT;
    case BENCH_WL_MIXED: break;
    }
    return bench_rng_unit(&w->rng) < cfg->read_ratio ? BENCH_OP_GET : BENCH_OP_PUT;
}

/* Sends a batch of n requests on an idle connection with one flush. */
static void conn_send_batch(struct bench_worker *w, struct bench_conn *c, uint32_t n)
{
    RKV_ASSERT(c->handle != NULL);
    RKV_ASSERT(c->sent_count == 0);
    RKV_ASSERT(n >= 1 && n <= w->run->cfg->pipeline);
    const struct bench_cfg *cfg = w->run->cfg;
    memset(c->batch_answered, 0, n);
    c->sent_ns = bench_now_ns();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t key_idx;
        enum bench_op op = worker_next_op(w, &key_idx);
        uint8_t key[BENCH_KEY_BYTES];
        bench_key_format(key_idx, key);
        uint32_t tag = 0;
        c->batch_ops[i] = (uint8_t)op;
        enum bench_io io = c->drv->send(c->handle, op, key, sizeof(key), w->value, cfg->value_bytes, &tag);
        if (io == BENCH_IO_OK) {
            c->sent_count = i + 1u;
            if (i == 0)
                c->first_tag = tag;
            if (tag - c->first_tag == i)
                continue;
            worker_note_error(w, c->addr, "the driver's tags are not consecutive");
        }
        /* The request that failed was never sent: count it with the batch. */
        c->sent_count = i + 1u;
        conn_fail(w, c, BENCH_OUT_FAILED);
        return;
    }
    c->sent_count = n;
    if (c->drv->flush(c->handle) != BENCH_IO_OK)
        conn_fail(w, c, BENCH_OUT_FAILED);
}

/* How many requests the next batch may have; 0 when the phase has sent all it should. */
static uint32_t worker_claim(struct bench_worker *w)
{
    struct bench_run *run = w->run;
    uint32_t want = run->cfg->pipeline;
    if (run->phase == BENCH_PHASE_LOAD) {
        uint64_t left = w->load_end - w->load_next;
        return left < want ? (uint32_t)left : want;
    }
    if (run->ops_total == 0)
        return want;
    uint64_t first = atomic_fetch_add_explicit(&run->ops_claimed, want, memory_order_relaxed);
    if (first >= run->ops_total)
        return 0;
    uint64_t left = run->ops_total - first;
    return left < want ? (uint32_t)left : want;
}

static void worker_publish(struct bench_worker *w)
{
    pthread_mutex_lock(&w->pub_lock);
    memcpy(&w->pub, &w->stats, sizeof(w->pub));
    pthread_mutex_unlock(&w->pub_lock);
}

static double thread_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0.0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void *worker_main(void *arg)
{
    struct bench_worker *w = arg;
    struct bench_run *run = w->run;
    double cpu_start_s = thread_cpu_s();
    stats_init(&w->stats);
    worker_publish(w);
    int64_t next_publish_ns = bench_now_ns() + BENCH_PUBLISH_NS;
    bool sending = true;
    /* Ends once sending stopped (deadline, --ops reached, Ctrl-C or every connection dead)
     * and nothing is in flight; each round is bounded by conn_count timeouts. */
    for (;;) {
        uint32_t in_flight = 0, alive = 0;
        for (uint32_t i = 0; i < w->conn_count; i++) {
            struct bench_conn *c = &w->conns[i];
            if (c->handle != NULL && c->sent_count > 0)
                conn_collect(w, c);
            if (c->handle == NULL)
                continue;
            alive++;
            if (sending && (bench_now_ns() >= run->deadline_ns || atomic_load(&run->stop)))
                sending = false;
            if (sending) {
                uint32_t n = worker_claim(w);
                if (n == 0)
                    sending = false;
                else
                    conn_send_batch(w, c, n);
            }
            if (c->handle != NULL && c->sent_count > 0)
                in_flight++;
        }
        int64_t now_ns = bench_now_ns();
        if (now_ns >= next_publish_ns) {
            worker_publish(w);
            next_publish_ns = now_ns + BENCH_PUBLISH_NS;
        }
        if (in_flight == 0 && (!sending || alive == 0))
            break;
    }
    w->cpu_s = thread_cpu_s() - cpu_start_s;
    /* end_ns under the lock: main() polls it to learn that the worker is done. */
    pthread_mutex_lock(&w->pub_lock);
    memcpy(&w->pub, &w->stats, sizeof(w->pub));
    w->end_ns = bench_now_ns();
    pthread_mutex_unlock(&w->pub_lock);
    return NULL;
}

/* ---- output ---- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_latency(FILE *f, const struct hist *h)
{
    fprintf(f,
            "{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64
            ",\"mean\":%.1f}",
            hist_percentile(h, 50.0), hist_percentile(h, 90.0), hist_percentile(h, 99.0),
            hist_percentile(h, 99.9), h->max_us, hist_mean(h));
}

struct bench_report {
    struct bench_stats total; /* per op */
    struct hist all;          /* every op together */
    uint64_t ops, errors, timeouts, misses;
    double seconds;
    double driver_cores;     /* CPU of the whole process / wall time of the phase */
    double busiest_thread;   /* the busiest worker's CPU / wall time */
    bool ran;                /* this phase ran at all */
    char first_error[BENCH_MESSAGE_BYTES];
};

static void report_targets(FILE *f, const struct bench_cfg *cfg)
{
    char joined[BENCH_TARGETS_MAX * 64];
    size_t used = 0;
    joined[0] = '\0';
    for (uint32_t i = 0; i < cfg->target_count && used < sizeof(joined); i++) {
        int n = snprintf(joined + used, sizeof(joined) - used, "%s%s", i ? "," : "", cfg->target_urls[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    json_string(f, joined);
}

static void report_json(const struct bench_cfg *cfg, const struct bench_report *m, const struct bench_report *load)
{
    FILE *f = stdout;
    fputc('{', f);
    fputs("\"target\":", f);
    report_targets(f, cfg);
    fprintf(f, ",\"workload\":\"%s\",\"read_ratio\":%.3f", workload_names[cfg->workload], cfg->read_ratio);
    fprintf(f, ",\"connections\":%u,\"pipeline\":%u,\"threads\":%u", cfg->connections, cfg->pipeline, cfg->threads);
    fprintf(f, ",\"keys\":%" PRIu64 ",\"dist\":\"%s\",\"value_size\":%u,\"consistency\":\"%s\"", cfg->keys,
            dist_names[cfg->dist], cfg->value_bytes, cons_names[cfg->driver.consistency]);
    fprintf(f, ",\"ops\":%" PRIu64 ",\"seconds\":%.3f,\"ops_per_sec\":%.1f", m->ops, m->seconds,
            m->seconds > 0 ? (double)m->ops / m->seconds : 0.0);
    fprintf(f, ",\"errors\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"misses\":%" PRIu64, m->errors, m->timeouts,
            m->misses);
    fputs(",\"latency_us\":", f);
    json_latency(f, &m->all);
    fputs(",\"per_op\":{", f);
    bool first = true;
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        uint64_t ops = stats_ops(&m->total, op);
        if (ops == 0)
            continue;
        fprintf(f, "%s\"%s\":{\"ops\":%" PRIu64 ",\"ops_per_sec\":%.1f,\"errors\":%" PRIu64 ",\"timeouts\":%" PRIu64
                   ",\"misses\":%" PRIu64 ",\"latency_us\":",
                first ? "" : ",", op_names[op], ops, m->seconds > 0 ? (double)ops / m->seconds : 0.0,
                stats_errors(&m->total, op), m->total.outcomes[op][BENCH_OUT_TIMEOUT],
                m->total.outcomes[op][BENCH_OUT_MISS]);
        json_latency(f, &m->total.latency[op]);
        fputc('}', f);
        first = false;
    }
    fputc('}', f);
    if (load->ran)
        fprintf(f, ",\"load\":{\"ops\":%" PRIu64 ",\"seconds\":%.3f,\"ops_per_sec\":%.1f,\"errors\":%" PRIu64 "}",
                load->ops, load->seconds, load->seconds > 0 ? (double)load->ops / load->seconds : 0.0, load->errors);
    else
        fputs(",\"load\":null", f);
    fprintf(f, ",\"driver_cpu\":{\"cores\":%.3f,\"busiest_thread\":%.3f}", m->driver_cores, m->busiest_thread);
    fputs("}\n", f);
    fflush(f);
}

static void report_row(FILE *f, const char *name, uint64_t ops, double seconds, const struct hist *h, uint64_t misses,
                       uint64_t errors)
{
    fprintf(f, "%-5s %12" PRIu64 " %12.1f %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %10" PRIu64
               " %8" PRIu64 "\n",
            name, ops, seconds > 0 ? (double)ops / seconds : 0.0, hist_percentile(h, 50.0), hist_percentile(h, 90.0),
            hist_percentile(h, 99.0), hist_percentile(h, 99.9), h->max_us, misses, errors);
}

static void report_table(FILE *f, const struct bench_cfg *cfg, const struct bench_report *m,
                         const struct bench_report *load)
{
    fprintf(f, "ringkv-bench: %u target(s) (%s%s), workload %s", cfg->target_count, cfg->target_urls[0],
            cfg->target_count > 1 ? ", ..." : "", workload_names[cfg->workload]);
    if (cfg->workload == BENCH_WL_MIXED)
        fprintf(f, " (read ratio %.3f)", cfg->read_ratio);
    fprintf(f, ", %u connections x pipeline %u on %u thread(s), %" PRIu64 " keys %s, value %u B, consistency %s\n",
            cfg->connections, cfg->pipeline, cfg->threads, cfg->keys, dist_names[cfg->dist], cfg->value_bytes,
            cons_names[cfg->driver.consistency]);
    if (load->ran)
        fprintf(f, "load: %" PRIu64 " puts in %.2f s (%.1f ops/s), %" PRIu64 " errors\n", load->ops, load->seconds,
                load->seconds > 0 ? (double)load->ops / load->seconds : 0.0, load->errors);
    fprintf(f, "%-5s %12s %12s %8s %8s %8s %8s %9s %10s %8s\n", "op", "ops", "ops/s", "p50us", "p90us", "p99us",
            "p99.9us", "max_us", "misses", "errors");
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        uint64_t ops = stats_ops(&m->total, op);
        if (ops != 0)
            report_row(f, op_names[op], ops, m->seconds, &m->total.latency[op], m->total.outcomes[op][BENCH_OUT_MISS],
                       stats_errors(&m->total, op));
    }
    report_row(f, "all", m->ops, m->seconds, &m->all, m->misses, m->errors);
    fprintf(f, "measured %.2f s; driver CPU %.2f cores (user+sys of the whole process), busiest worker thread %.0f %%\n",
            m->seconds, m->driver_cores, m->busiest_thread * 100.0);
}

/* The last line: whether anything failed. */
static void report_verdict(FILE *f, const struct bench_report *m, const struct bench_report *load)
{
    uint64_t errors = m->errors + load->errors;
    if (errors == 0) {
        fprintf(f, "ok: no errors\n");
        return;
    }
    fprintf(f, "ERRORS: %" PRIu64 " (load %" PRIu64 ", measured %" PRIu64 ", of them %" PRIu64 " timeouts); first: %s\n",
            errors, load->errors, m->errors, m->timeouts + load->timeouts,
            m->first_error[0] ? m->first_error : load->first_error);
}

/* ---- phases ---- */

static double process_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void progress_line(struct bench_worker *workers, uint32_t count, struct bench_stats *scratch, int64_t start_ns,
                          uint64_t *prev_ops, int64_t *prev_ns, const char *phase)
{
    stats_init(scratch);
    for (uint32_t i = 0; i < count; i++) {
        pthread_mutex_lock(&workers[i].pub_lock);
        stats_merge(scratch, &workers[i].pub);
        pthread_mutex_unlock(&workers[i].pub_lock);
    }
    uint64_t ops = 0, errors = 0;
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        ops += stats_ops(scratch, op);
        errors += stats_errors(scratch, op);
    }
    hist_merge(&scratch->latency[BENCH_OP_GET], &scratch->latency[BENCH_OP_PUT]);
    int64_t now_ns = bench_now_ns();
    double dt = (double)(now_ns - *prev_ns) / 1e9;
    fprintf(stderr, "[%s %6.1f s] %10.0f ops/s  p99 %6" PRIu64 " us  ops %" PRIu64 "  errors %" PRIu64 "\n", phase,
            (double)(now_ns - start_ns) / 1e9, dt > 0 ? (double)(ops - *prev_ops) / dt : 0.0,
            hist_percentile(&scratch->latency[BENCH_OP_GET], 99.0), ops, errors);
    *prev_ops = ops;
    *prev_ns = now_ns;
}

/* Runs one phase on every worker and fills rep. Returns false when a thread could not start
 * (then nothing ran). */
static bool run_phase(struct bench_run *run, struct bench_worker *workers, uint32_t count, enum bench_phase phase,
                      struct bench_report *rep)
{
    const struct bench_cfg *cfg = run->cfg;
    memset(rep, 0, sizeof(*rep));
    stats_init(&rep->total);
    hist_init(&rep->all);
    run->phase = phase;
    run->start_ns = bench_now_ns();
    uint32_t limit_s = BENCH_DURATION_S_MAX;
    run->ops_total = 0;
    if (phase == BENCH_PHASE_MEASURE) {
        if (cfg->duration_set || !cfg->ops_set)
            limit_s = cfg->duration_s;
        run->ops_total = cfg->ops_set ? cfg->ops : 0;
    }
    run->deadline_ns = run->start_ns + (int64_t)limit_s * 1000000000;
    atomic_store(&run->ops_claimed, 0);
    atomic_store(&run->stop, bench_interrupted != 0); /* the last phase's end set it */
    double cpu_start_s = process_cpu_s();

    uint32_t started = 0;
    for (uint32_t i = 0; i < count; i++) {
        workers[i].first_error[0] = '\0';
        stats_init(&workers[i].pub);
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            break;
        started++;
    }
    if (started < count) {
        atomic_store(&run->stop, true);
        for (uint32_t i = 0; i < started; i++)
            pthread_join(workers[i].thread, NULL);
        fprintf(stderr, "ringkv-bench: could not start worker threads\n");
        return false;
    }

    /* Progress each second until every worker is done. Workers end by themselves (their
     * deadline and timeouts bound them), so this waits for their last one at most; the tick
     * count below is a second guard against a bug. */
    struct bench_stats *scratch = malloc(sizeof(*scratch));
    uint64_t prev_ops = 0;
    int64_t prev_ns = run->start_ns, next_line_ns = run->start_ns + 1000000000;
    const uint64_t ticks_max = ((uint64_t)limit_s + (uint64_t)cfg->connections * (cfg->driver.timeout_ms / 1000u + 1u) +
                                60u) * (1000000000u / BENCH_MAIN_TICK_NS);
    const char *phase_name = phase == BENCH_PHASE_LOAD ? "load" : "run";
    for (uint64_t tick = 0; tick < ticks_max; tick++) {
        bool all_done = true;
        for (uint32_t i = 0; i < count && all_done; i++) {
            pthread_mutex_lock(&workers[i].pub_lock);
            all_done = workers[i].end_ns != 0;
            pthread_mutex_unlock(&workers[i].pub_lock);
        }
        if (all_done)
            break;
        if (bench_interrupted)
            atomic_store(&run->stop, true);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = BENCH_MAIN_TICK_NS};
        nanosleep(&ts, NULL);
        if (scratch != NULL && bench_now_ns() >= next_line_ns) {
            progress_line(workers, count, scratch, run->start_ns, &prev_ops, &prev_ns, phase_name);
            next_line_ns += 1000000000;
        }
    }
    free(scratch);
    atomic_store(&run->stop, true);

    int64_t end_ns = run->start_ns;
    for (uint32_t i = 0; i < count; i++) {
        pthread_join(workers[i].thread, NULL);
        struct bench_worker *w = &workers[i];
        stats_merge(&rep->total, &w->stats);
        if (w->end_ns > end_ns)
            end_ns = w->end_ns;
        double wall_s = (double)(w->end_ns - run->start_ns) / 1e9;
        if (wall_s > 0 && w->cpu_s / wall_s > rep->busiest_thread)
            rep->busiest_thread = w->cpu_s / wall_s;
        if (rep->first_error[0] == '\0' && w->first_error[0] != '\0')
            memcpy(rep->first_error, w->first_error, sizeof(rep->first_error));
        w->end_ns = 0;
    }
    rep->ran = true;
    rep->seconds = (double)(end_ns - run->start_ns) / 1e9;
    rep->driver_cores = rep->seconds > 0 ? (process_cpu_s() - cpu_start_s) / rep->seconds : 0.0;
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        rep->ops += stats_ops(&rep->total, op);
        rep->errors += stats_errors(&rep->total, op);
        rep->timeouts += rep->total.outcomes[op][BENCH_OUT_TIMEOUT];
        rep->misses += rep->total.outcomes[op][BENCH_OUT_MISS];
        hist_merge(&rep->all, &rep->total.latency[op]);
    }
    return true;
}

/* ---- flags ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ringkv-bench --target ringkv://HOST:PORT [--target ...] [options]\n"
            "       ringkv-bench --serve-null HOST:PORT [--value-size B] [--duration S]\n"
            "  --connections N     connections in all, spread round-robin over the targets (default 50)\n"
            "  --pipeline D        requests in flight per connection (default 1, max %u)\n"
            "  --threads T         worker threads, each owning connections/T of them (default 1)\n"
            "  --duration S        seconds to measure (default %u, max %u)\n"
            "  --ops N             requests to measure (stops earlier at --duration or %u s)\n"
            "  --workload W        get | put | mixed (default get)\n"
            "  --read-ratio R      share of GETs in mixed, 0..1 (default 0.5; implies mixed)\n"
            "  --keys N            key space key:000000000000 .. N-1 (default %u)\n"
            "  --dist D            uniform | zipf (theta %.2f) (default uniform)\n"
            "  --value-size B      bytes per PUT value, 0..%u (default %u)\n"
            "  --load              PUT every key once before measuring\n"
            "  --consistency C     one | quorum | all (default quorum)\n"
            "  --timeout-ms MS     wait for an answer at most this long (default %u)\n"
            "  --seed N            seed of the key and operation choice (default 1)\n"
            "  --json              one JSON object on stdout; the table goes to stderr\n"
            "exit: 0 no errors, 1 errors (counted and reported), 2 usage error\n",
            BENCH_PIPELINE_MAX, BENCH_DURATION_S_DEFAULT, BENCH_DURATION_S_MAX, BENCH_DURATION_S_MAX,
            BENCH_KEYS_DEFAULT, BENCH_ZIPF_THETA, RKV_VALUE_BYTES_MAX, BENCH_VALUE_BYTES_DEFAULT,
            BENCH_TIMEOUT_MS_DEFAULT);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_ratio(const char *s, double *out)
{
    if (s == NULL || ((*s < '0' || *s > '9') && *s != '.'))
        return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = v;
    return true;
}

static bool parse_target(struct bench_cfg *cfg, const char *url)
{
    if (cfg->target_count >= BENCH_TARGETS_MAX)
        return false;
    const char *sep = strstr(url, "://");
    if (sep == NULL || sep[3] == '\0')
        return false;
    size_t scheme_bytes = (size_t)(sep - url);
    for (size_t i = 0; i < RKV_ARRAY_LEN(bench_drivers); i++) {
        const struct bench_driver *d = bench_drivers[i];
        if (strlen(d->scheme) == scheme_bytes && memcmp(d->scheme, url, scheme_bytes) == 0) {
            cfg->target_urls[cfg->target_count] = url;
            cfg->target_addrs[cfg->target_count] = sep + 3;
            cfg->target_drivers[cfg->target_count] = d;
            cfg->target_count++;
            return true;
        }
    }
    return false;
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "ringkv-bench: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    return BENCH_EXIT_USAGE;
}

/* Fills cfg from argv. Returns -1 when the run may go on, else the exit code. */
static int parse_args(int argc, char **argv, struct bench_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->connections = 50;
    cfg->pipeline = 1;
    cfg->threads = 1;
    cfg->duration_s = BENCH_DURATION_S_DEFAULT;
    cfg->workload = BENCH_WL_GET;
    cfg->read_ratio = 0.5;
    cfg->keys = BENCH_KEYS_DEFAULT;
    cfg->dist = BENCH_DIST_UNIFORM;
    cfg->value_bytes = BENCH_VALUE_BYTES_DEFAULT;
    cfg->seed = 1;
    cfg->driver.consistency = BENCH_CONS_QUORUM;
    cfg->driver.timeout_ms = BENCH_TIMEOUT_MS_DEFAULT;

    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t v = 0;
        bool takes_value = true;
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            usage(stdout);
            return BENCH_EXIT_OK;
        } else if (strcmp(flag, "--load") == 0) {
            cfg->load = true;
            takes_value = false;
        } else if (strcmp(flag, "--json") == 0) {
            cfg->json = true;
            takes_value = false;
        } else if (val == NULL) {
            return usage_error("missing value or unknown flag", flag);
        } else if (strcmp(flag, "--target") == 0) {
            if (!parse_target(cfg, val))
                return usage_error("bad --target (want ringkv://HOST:PORT; at most 64)", val);
        } else if (strcmp(flag, "--serve-null") == 0) {
            cfg->serve_null_addr = val;
        } else if (strcmp(flag, "--connections") == 0) {
            if (!parse_u64(val, 1, BENCH_CONNECTIONS_MAX, &v))
                return usage_error("--connections must be 1..4096", val);
            cfg->connections = (uint32_t)v;
        } else if (strcmp(flag, "--pipeline") == 0) {
            if (!parse_u64(val, 1, BENCH_PIPELINE_MAX, &v))
                return usage_error("--pipeline must be 1..1024", val);
            cfg->pipeline = (uint32_t)v;
        } else if (strcmp(flag, "--threads") == 0) {
            if (!parse_u64(val, 1, BENCH_THREADS_MAX, &v))
                return usage_error("--threads must be 1..64", val);
            cfg->threads = (uint32_t)v;
        } else if (strcmp(flag, "--duration") == 0) {
            if (!parse_u64(val, 1, BENCH_DURATION_S_MAX, &v))
                return usage_error("--duration must be 1..600 seconds", val);
            cfg->duration_s = (uint32_t)v;
            cfg->duration_set = true;
        } else if (strcmp(flag, "--ops") == 0) {
            if (!parse_u64(val, 1, BENCH_OPS_MAX, &v))
                return usage_error("--ops must be 1..2^40", val);
            cfg->ops = v;
            cfg->ops_set = true;
        } else if (strcmp(flag, "--workload") == 0) {
            if (strcmp(val, "get") == 0)
                cfg->workload = BENCH_WL_GET;
            else if (strcmp(val, "put") == 0)
                cfg->workload = BENCH_WL_PUT;
            else if (strcmp(val, "mixed") == 0)
                cfg->workload = BENCH_WL_MIXED;
            else
                return usage_error("--workload must be get, put or mixed", val);
            cfg->workload_set = true;
        } else if (strcmp(flag, "--read-ratio") == 0) {
            if (!parse_ratio(val, &cfg->read_ratio))
                return usage_error("--read-ratio must be 0..1", val);
            cfg->read_ratio_set = true;
        } else if (strcmp(flag, "--keys") == 0) {
            if (!parse_u64(val, 1, BENCH_KEYS_MAX, &v))
                return usage_error("--keys must be 1..10^12", val);
            cfg->keys = v;
        } else if (strcmp(flag, "--dist") == 0) {
            if (strcmp(val, "uniform") == 0)
                cfg->dist = BENCH_DIST_UNIFORM;
            else if (strcmp(val, "zipf") == 0)
                cfg->dist = BENCH_DIST_ZIPF;
            else
                return usage_error("--dist must be uniform or zipf", val);
        } else if (strcmp(flag, "--value-size") == 0) {
            if (!parse_u64(val, 0, RKV_VALUE_BYTES_MAX, &v))
                return usage_error("--value-size must be 0..1048576", val);
            cfg->value_bytes = (uint32_t)v;
        } else if (strcmp(flag, "--consistency") == 0) {
            if (strcmp(val, "one") == 0)
                cfg->driver.consistency = BENCH_CONS_ONE;
            else if (strcmp(val, "quorum") == 0)
                cfg->driver.consistency = BENCH_CONS_QUORUM;
            else if (strcmp(val, "all") == 0)
                cfg->driver.consistency = BENCH_CONS_ALL;
            else
                return usage_error("--consistency must be one, quorum or all", val);
        } else if (strcmp(flag, "--timeout-ms") == 0) {
            if (!parse_u64(val, 1, BENCH_TIMEOUT_MS_MAX, &v))
                return usage_error("--timeout-ms must be 1..60000", val);
            cfg->driver.timeout_ms = (uint32_t)v;
        } else if (strcmp(flag, "--seed") == 0) {
            if (!parse_u64(val, 0, UINT64_MAX, &v))
                return usage_error("--seed must be a number", val);
            cfg->seed = v;
        } else {
            return usage_error("unknown flag", flag);
        }
        if (takes_value)
            i++;
    }

    if (cfg->serve_null_addr != NULL) {
        if (cfg->target_count != 0)
            return usage_error("--serve-null runs a target; it takes no --target", NULL);
        return -1;
    }
    if (cfg->target_count == 0)
        return usage_error("at least one --target is needed", NULL);
    if (cfg->read_ratio_set) {
        if (cfg->workload_set && cfg->workload != BENCH_WL_MIXED)
            return usage_error("--read-ratio goes with --workload mixed", NULL);
        cfg->workload = BENCH_WL_MIXED;
    }
    if (cfg->workload == BENCH_WL_GET)
        cfg->read_ratio = 1.0;
    else if (cfg->workload == BENCH_WL_PUT)
        cfg->read_ratio = 0.0;
    if (cfg->threads > cfg->connections)
        return usage_error("--threads may not exceed --connections", NULL);
    return -1;
}

/* ---- main ---- */

static void workers_free(struct bench_worker *workers, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        struct bench_worker *w = &workers[i];
        for (uint32_t j = 0; j < w->conn_count; j++) {
            if (w->conns[j].handle != NULL)
                w->conns[j].drv->close(w->conns[j].handle);
            free(w->conns[j].batch_ops);
            free(w->conns[j].batch_answered);
        }
        free(w->conns);
        free(w->value);
        pthread_mutex_destroy(&w->pub_lock);
    }
    free(workers);
}

/* Allocates the workers and opens every connection: connection g goes to target
 * g % targets and to worker g % threads. false (with a message printed) on any failure. */
static bool workers_setup(struct bench_run *run, struct bench_worker **workers_out)
{
    const struct bench_cfg *cfg = run->cfg;
    *workers_out = NULL;
    struct bench_worker *workers = calloc(cfg->threads, sizeof(*workers));
    if (workers == NULL)
        return false;
    bool ok = true;
    for (uint32_t t = 0; t < cfg->threads; t++) {
        struct bench_worker *w = &workers[t];
        w->idx = t;
        w->run = run;
        pthread_mutex_init(&w->pub_lock, NULL);
        bench_rng_seed(&w->rng, cfg->seed * 0x100000001b3ull + t + 1u);
        w->conns = calloc(cfg->connections / cfg->threads + 1u, sizeof(*w->conns));
        w->value = malloc(cfg->value_bytes ? cfg->value_bytes : 1u);
        if (w->conns == NULL || w->value == NULL)
            ok = false;
        for (uint32_t b = 0; ok && b < cfg->value_bytes; b++)
            w->value[b] = (uint8_t)bench_rng_next(&w->rng);
        /* The worker's share of keys for the load phase. */
        w->load_next = cfg->keys * t / cfg->threads;
        w->load_end = cfg->keys * (t + 1u) / cfg->threads;
    }
    for (uint32_t g = 0; ok && g < cfg->connections; g++) {
        struct bench_worker *w = &workers[g % cfg->threads];
        struct bench_conn *c = &w->conns[w->conn_count++];
        uint32_t target = g % cfg->target_count;
        c->drv = cfg->target_drivers[target];
        c->addr = cfg->target_addrs[target];
        c->batch_ops = calloc(cfg->pipeline, 1);
        c->batch_answered = calloc(cfg->pipeline, 1);
        char why[BENCH_MESSAGE_BYTES];
        c->handle = c->batch_ops && c->batch_answered ? c->drv->open(c->addr, &cfg->driver, why, sizeof(why)) : NULL;
        if (c->handle == NULL) {
            fprintf(stderr, "ringkv-bench: connection %u to %s failed: %s\n", g, cfg->target_urls[target],
                    c->batch_ops && c->batch_answered ? why : "out of memory");
            ok = false;
        }
    }
    if (!ok) {
        workers_free(workers, cfg->threads);
        return false;
    }
    *workers_out = workers;
    return true;
}

int main(int argc, char **argv)
{
    static struct bench_cfg cfg;
    int rc = parse_args(argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (cfg.serve_null_addr != NULL)
        return bench_null_serve(cfg.serve_null_addr, cfg.value_bytes,
                                cfg.duration_set ? cfg.duration_s : BENCH_DURATION_S_MAX, &bench_interrupted);

    static struct bench_run run;
    run.cfg = &cfg;
    atomic_init(&run.ops_claimed, 0);
    atomic_init(&run.stop, false);
    if (cfg.dist == BENCH_DIST_ZIPF)
        bench_zipf_init(&run.zipf, cfg.keys, BENCH_ZIPF_THETA);

    struct bench_worker *workers = NULL;
    if (!workers_setup(&run, &workers))
        return BENCH_EXIT_ERRORS;

    /* Two reports of about 100 KiB each: off the stack. */
    struct bench_report *load = calloc(1, sizeof(*load));
    struct bench_report *meas = calloc(1, sizeof(*meas));
    if (load == NULL || meas == NULL) {
        fprintf(stderr, "ringkv-bench: out of memory\n");
        workers_free(workers, cfg.threads);
        return BENCH_EXIT_ERRORS;
    }
    rc = BENCH_EXIT_OK;
    if (cfg.load) {
        if (!run_phase(&run, workers, cfg.threads, BENCH_PHASE_LOAD, load)) {
            rc = BENCH_EXIT_ERRORS;
            goto out;
        }
        uint64_t written = load->total.outcomes[BENCH_OP_PUT][BENCH_OUT_OK];
        if (written != cfg.keys && load->errors == 0) {
            /* Stopped early (time cap or Ctrl-C): the keys not written count as errors. */
            load->errors = cfg.keys - written;
            snprintf(load->first_error, sizeof(load->first_error), "load: %" PRIu64 " keys were not written",
                     cfg.keys - written);
        }
        fprintf(stderr, "load: %" PRIu64 " puts in %.2f s, %" PRIu64 " errors\n", load->ops, load->seconds,
                load->errors);
    }
    if (!bench_interrupted && !run_phase(&run, workers, cfg.threads, BENCH_PHASE_MEASURE, meas)) {
        rc = BENCH_EXIT_ERRORS;
        goto out;
    }
    if (cfg.ops_set && meas->ops < cfg.ops && meas->errors == 0 && !bench_interrupted && !cfg.duration_set) {
        /* --ops alone was cut by the hard time cap: the run is incomplete. */
        meas->errors = cfg.ops - meas->ops;
        snprintf(meas->first_error, sizeof(meas->first_error), "%u s cap reached before --ops", BENCH_DURATION_S_MAX);
    }
    FILE *table = cfg.json ? stderr : stdout;
    report_table(table, &cfg, meas, load);
    if (cfg.json)
        report_json(&cfg, meas, load);
    report_verdict(table, meas, load);
    if (meas->errors + load->errors != 0)
        rc = BENCH_EXIT_ERRORS;
out:
    free(load);
    free(meas);
    workers_free(workers, cfg.threads);
    return rc;
}
