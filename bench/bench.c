/* ringkv-bench: the bundled load generator. main() parses the flags, opens every
 * connection, then runs an optional load phase (every key written once) and the measuring
 * phase on --threads worker threads, printing a progress line each second, and ends with a
 * table per operation (or one JSON object). The load loop itself, closed or open (--rate),
 * is in bench/loop.c and is the same for every target protocol; the drivers
 * (driver_ringkv.c, driver_http.c, driver_redis.c) only encode requests and decode answers.
 * Ownership: each worker thread owns its connections, its generator and its statistics; it
 * publishes a copy of the statistics under its own mutex every BENCH_PUBLISH_NS for the
 * progress line, and main() reads the workers' own statistics only after joining them. */
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
static const struct bench_driver *const bench_drivers[] = {&bench_driver_ringkv, &bench_driver_http,
                                                           &bench_driver_redis};

static volatile sig_atomic_t bench_interrupted;

static void bench_on_signal(int sig)
{
    (void)sig;
    bench_interrupted = 1;
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
    uint64_t behind;         /* open loop: requests due before the deadline and never sent */
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
    fprintf(f, ",\"keys\":%" PRIu64 ",\"dist\":\"%s\",\"value_size\":%u,\"value_size_min\":%u,\"consistency\":\"%s\"",
            cfg->keys, dist_names[cfg->dist], cfg->value_max_bytes, cfg->value_min_bytes,
            cons_names[cfg->driver.consistency]);
    fprintf(f, ",\"mode\":\"%s\"", cfg->rate > 0 ? "open" : "closed");
    fprintf(f, ",\"ops\":%" PRIu64 ",\"seconds\":%.3f,\"ops_per_sec\":%.1f", m->ops, m->seconds,
            m->seconds > 0 ? (double)m->ops / m->seconds : 0.0);
    fprintf(f, ",\"errors\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"misses\":%" PRIu64, m->errors, m->timeouts,
            m->misses);
    fputs(",\"latency_us\":", f);
    json_latency(f, &m->all);
    fputs(",\"per_op\":{", f);
    bool first = true;
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        uint64_t ops = bench_stats_ops(&m->total, op);
        if (ops == 0)
            continue;
        fprintf(f, "%s\"%s\":{\"ops\":%" PRIu64 ",\"ops_per_sec\":%.1f,\"errors\":%" PRIu64 ",\"timeouts\":%" PRIu64
                   ",\"misses\":%" PRIu64 ",\"latency_us\":",
                first ? "" : ",", op_names[op], ops, m->seconds > 0 ? (double)ops / m->seconds : 0.0,
                bench_stats_errors(&m->total, op), m->total.outcomes[op][BENCH_OUT_TIMEOUT],
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
    if (cfg->rate > 0)
        fprintf(f, ",\"rate\":{\"target\":%" PRIu64 ",\"achieved\":%.1f,\"behind\":%" PRIu64 "}", cfg->rate,
                m->seconds > 0 ? (double)m->ops / m->seconds : 0.0, m->behind);
    else
        fputs(",\"rate\":null", f);
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
    fprintf(f, ", %u connections x pipeline %u on %u thread(s), %" PRIu64 " keys %s, value ", cfg->connections,
            cfg->pipeline, cfg->threads, cfg->keys, dist_names[cfg->dist]);
    if (cfg->value_min_bytes == cfg->value_max_bytes)
        fprintf(f, "%u B", cfg->value_max_bytes);
    else
        fprintf(f, "%u-%u B", cfg->value_min_bytes, cfg->value_max_bytes);
    fprintf(f, ", consistency %s, %s loop", cons_names[cfg->driver.consistency], cfg->rate > 0 ? "open" : "closed");
    if (cfg->rate > 0)
        fprintf(f, " at %" PRIu64 " ops/s", cfg->rate);
    fputc('\n', f);
    if (load->ran)
        fprintf(f, "load: %" PRIu64 " puts in %.2f s (%.1f ops/s), %" PRIu64 " errors\n", load->ops, load->seconds,
                load->seconds > 0 ? (double)load->ops / load->seconds : 0.0, load->errors);
    fprintf(f, "%-5s %12s %12s %8s %8s %8s %8s %9s %10s %8s\n", "op", "ops", "ops/s", "p50us", "p90us", "p99us",
            "p99.9us", "max_us", "misses", "errors");
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        uint64_t ops = bench_stats_ops(&m->total, op);
        if (ops != 0)
            report_row(f, op_names[op], ops, m->seconds, &m->total.latency[op], m->total.outcomes[op][BENCH_OUT_MISS],
                       bench_stats_errors(&m->total, op));
    }
    report_row(f, "all", m->ops, m->seconds, &m->all, m->misses, m->errors);
    if (cfg->rate > 0)
        fprintf(f, "open loop: target %" PRIu64 " ops/s, achieved %.1f ops/s, %" PRIu64
                   " requests due and never sent (behind); latency from each request's intended send time\n",
                cfg->rate, m->seconds > 0 ? (double)m->ops / m->seconds : 0.0, m->behind);
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
    bench_stats_init(scratch);
    for (uint32_t i = 0; i < count; i++) {
        pthread_mutex_lock(&workers[i].pub_lock);
        bench_stats_merge(scratch, &workers[i].pub);
        pthread_mutex_unlock(&workers[i].pub_lock);
    }
    uint64_t ops = 0, errors = 0;
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        ops += bench_stats_ops(scratch, op);
        errors += bench_stats_errors(scratch, op);
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
    bench_stats_init(&rep->total);
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
        bench_stats_init(&workers[i].pub);
        if (pthread_create(&workers[i].thread, NULL, bench_worker_main, &workers[i]) != 0)
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
        bench_stats_merge(&rep->total, &w->stats);
        if (w->end_ns > end_ns)
            end_ns = w->end_ns;
        double wall_s = (double)(w->end_ns - run->start_ns) / 1e9;
        if (wall_s > 0 && w->cpu_s / wall_s > rep->busiest_thread)
            rep->busiest_thread = w->cpu_s / wall_s;
        rep->behind += w->behind;
        if (rep->first_error[0] == '\0' && w->first_error[0] != '\0')
            memcpy(rep->first_error, w->first_error, sizeof(rep->first_error));
        w->end_ns = 0;
    }
    rep->ran = true;
    rep->seconds = (double)(end_ns - run->start_ns) / 1e9;
    rep->driver_cores = rep->seconds > 0 ? (process_cpu_s() - cpu_start_s) / rep->seconds : 0.0;
    for (int op = 0; op < BENCH_OP_COUNT; op++) {
        rep->ops += bench_stats_ops(&rep->total, op);
        rep->errors += bench_stats_errors(&rep->total, op);
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
            "usage: ringkv-bench --target ringkv|http|redis://HOST:PORT [--target ...] [options]\n"
            "       ringkv-bench --serve-null HOST:PORT [--value-size B] [--duration S]\n"
            "  --connections N     connections in all, spread round-robin over the targets (default 50)\n"
            "  --pipeline D        requests in flight per connection (default 1, max %u); with --rate, the most\n"
            "                      in flight per connection\n"
            "  --threads T         worker threads, each owning connections/T of them (default 1)\n"
            "  --duration S        seconds to measure (default %u, max %u)\n"
            "  --ops N             requests to measure (stops earlier at --duration or %u s)\n"
            "  --rate OPS          open loop: OPS requests per second in all, latency from each request's\n"
            "                      intended send time (default: closed loop)\n"
            "  --workload W        get | put | mixed (default get)\n"
            "  --read-ratio R      share of GETs in mixed, 0..1 (default 0.5; implies mixed)\n"
            "  --keys N            key space key:000000000000 .. N-1 (default %u)\n"
            "  --dist D            uniform | zipf (theta %.2f) (default uniform)\n"
            "  --value-size B      bytes per PUT value, 0..%u, or MIN-MAX for sizes drawn uniformly (default %u)\n"
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

/* "B" or "MIN-MAX" (MIN <= MAX), each 0..RKV_VALUE_BYTES_MAX. */
static bool parse_value_size(const char *s, uint32_t *min_out, uint32_t *max_out)
{
    char buf[32];
    uint64_t lo = 0, hi = 0;
    const char *dash = strchr(s, '-');
    if (dash == NULL) {
        if (!parse_u64(s, 0, RKV_VALUE_BYTES_MAX, &lo))
            return false;
        *min_out = *max_out = (uint32_t)lo;
        return true;
    }
    size_t lo_bytes = (size_t)(dash - s);
    if (lo_bytes == 0 || lo_bytes >= sizeof(buf))
        return false;
    memcpy(buf, s, lo_bytes);
    buf[lo_bytes] = '\0';
    if (!parse_u64(buf, 0, RKV_VALUE_BYTES_MAX, &lo) || !parse_u64(dash + 1, 0, RKV_VALUE_BYTES_MAX, &hi) || lo > hi)
        return false;
    *min_out = (uint32_t)lo;
    *max_out = (uint32_t)hi;
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
    cfg->value_min_bytes = cfg->value_max_bytes = BENCH_VALUE_BYTES_DEFAULT;
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
                return usage_error("bad --target (want ringkv://, http:// or redis://HOST:PORT; at most 64)", val);
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
        } else if (strcmp(flag, "--rate") == 0) {
            if (!parse_u64(val, 1, BENCH_RATE_MAX, &v))
                return usage_error("--rate must be 1..10000000 requests per second", val);
            cfg->rate = v;
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
            if (!parse_value_size(val, &cfg->value_min_bytes, &cfg->value_max_bytes))
                return usage_error("--value-size must be B or MIN-MAX, within 0..1048576", val);
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
        for (uint32_t j = 0; j < w->conn_count; j++)
            bench_conn_free(&w->conns[j]);
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
        w->value = malloc(cfg->value_max_bytes ? cfg->value_max_bytes : 1u);
        if (w->conns == NULL || w->value == NULL)
            ok = false;
        for (uint32_t b = 0; ok && b < cfg->value_max_bytes; b++)
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
        c->fd = -1;
        char why[BENCH_MESSAGE_BYTES];
        if (!bench_conn_open(c, cfg, why, sizeof(why))) {
            fprintf(stderr, "ringkv-bench: connection %u to %s failed: %s\n", g, cfg->target_urls[target], why);
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
        return bench_null_serve(cfg.serve_null_addr, cfg.value_max_bytes,
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
