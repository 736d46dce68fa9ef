/* The node's metrics: what each shard counts (struct shard_metrics, a snapshot taken on the
 * shard that owns the counters and handed to the shard that asked, by message), and their
 * rendering in the Prometheus text format. Rendering is pure: it reads snapshots only. */
#ifndef RKV_REPLICATION_METRICS_H
#define RKV_REPLICATION_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "net/server.h"

/* Prometheus histogram buckets for latencies, upper bounds in microseconds (+Inf implied). */
#define METRICS_LAT_BUCKETS 15u
extern const uint32_t metrics_lat_bounds_us[METRICS_LAT_BUCKETS];

/* A latency histogram with fixed buckets. Owned by one shard. */
struct lat_buckets {
    uint64_t count;
    uint64_t sum_us;
    uint64_t le[METRICS_LAT_BUCKETS + 1]; /* not cumulative; the last is +Inf */
};

void lat_record(struct lat_buckets *b, uint64_t us);

/* The timed phases of a shard's turn after its completions and inbox were handled:
 * parsing and executing local requests, the group commit with its answers, the sweeper's
 * step (timed only on turns that run it), and starting sends. */
enum node_phase { NODE_PHASE_INPUT, NODE_PHASE_COMMIT, NODE_PHASE_SWEEP, NODE_PHASE_OUTPUT, NODE_PHASE_COUNT };

/* Targets whose hint queues a shard reports in /metrics (bounded: one line per target). */
#define METRICS_HINT_TARGETS 32u

/* Everything one shard reports. */
struct shard_metrics {
    uint32_t shard;
    struct net_stats net;
    struct lat_buckets latency[NET_OP_COUNT];   /* request latency inside the node, by op */
    struct lat_buckets flush_latency;           /* group-commit log flushes */
    struct lat_buckets phase_latency[NODE_PHASE_COUNT]; /* per loop turn */
    uint64_t flushes, flush_failures;
    uint64_t executed, sent_to_shards, received_from_shards;
    uint64_t busy_ns, idle_ns, turns;
    uint64_t inbox_depth, parked;
    uint64_t reqs_in_use;
    uint64_t swept_expired, purged_tombstones, sweep_passes;
    uint64_t wt_cache_bytes, wt_cache_max_bytes;
    /* The shard's row cache (storage/rowcache.h); all zero when it is off. */
    uint64_t rowcache_hits, rowcache_misses, rowcache_inserts, rowcache_evictions;
    uint64_t rowcache_bytes, rowcache_budget_bytes, rowcache_entries;
    /* Cluster mode (replication/coordinate.c). */
    uint64_t cl_requests;        /* client requests coordinated here */
    uint64_t cl_unavailable;     /* of them answered UNAVAILABLE */
    uint64_t cl_replica_writes;  /* replica writes applied here (local and from peers) */
    uint64_t cl_replica_reads;
    uint64_t cl_read_repairs;    /* repair writes sent */
    uint64_t cl_fenced;          /* writes refused by a replica holding a newer one */
    uint64_t cl_skew_refused;    /* timestamps refused for clock skew */
    uint64_t hints_stored, hints_replayed, hints_dropped;
    /* Hints held on this shard per target node (the first METRICS_HINT_TARGETS of them). */
    uint32_t hint_targets;
    struct metrics_hint_q {
        char target[RKV_NODE_ID_BYTES_MAX + 1];
        uint64_t count;
        uint64_t oldest_age_ms;
    } hint_q[METRICS_HINT_TARGETS];
};

struct node_info {
    const char *node_id;
    uint32_t shards;
    uint64_t uptime_s;
};

/* Renders the snapshots of every shard as Prometheus text into a malloc'd buffer (caller
 * frees); NULL when out of memory. */
char *metrics_render(const struct node_info *info, const struct shard_metrics *shards, uint32_t count,
                     size_t *bytes_out);
/* The body of GET /health: {"status":"ok","node_id":...,"shards":N,"uptime_seconds":S},
 * malloc'd (the node id is a config value of [A-Za-z0-9._-] only, so it needs no escaping). */
char *metrics_health_json(const struct node_info *info, size_t *bytes_out);

#endif
