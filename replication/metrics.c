/* Prometheus text rendering of the shards' snapshots; see metrics.h. Every series carries a
 * shard label; operators sum over it. */
#include "replication/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

const uint32_t metrics_lat_bounds_us[METRICS_LAT_BUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
};

void lat_record(struct lat_buckets *b, uint64_t us)
{
    b->count++;
    b->sum_us += us;
    uint32_t i = 0;
    while (i < METRICS_LAT_BUCKETS && us > metrics_lat_bounds_us[i])
        i++;
    b->le[i]++;
}

/* A growing text buffer; on allocation failure it stops growing and reports it at the end. */
struct text {
    char *buf;
    size_t len, cap;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (int attempt = 0; attempt < 2; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 1;
        char *p = realloc(t->buf, cap);
        if (p == NULL) {
            t->failed = true;
            return;
        }
        t->buf = p;
        t->cap = cap;
    }
}

static void header(struct text *t, const char *name, const char *type, const char *help)
{
    text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter_per_shard(struct text *t, const char *name, const char *help, const struct shard_metrics *s,
                              uint32_t count, size_t offset, double scale)
{
    header(t, name, "counter", help);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&s[i] + offset, sizeof v);
        if (scale == 1.0)
            text_add(t, "%s{shard=\"%u\"} %llu\n", name, s[i].shard, (unsigned long long)v);
        else
            text_add(t, "%s{shard=\"%u\"} %.6f\n", name, s[i].shard, (double)v * scale);
    }
}

static void gauge_per_shard(struct text *t, const char *name, const char *help, const struct shard_metrics *s,
                            uint32_t count, size_t offset)
{
    header(t, name, "gauge", help);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&s[i] + offset, sizeof v);
        text_add(t, "%s{shard=\"%u\"} %llu\n", name, s[i].shard, (unsigned long long)v);
    }
}

static void histogram(struct text *t, const char *name, const char *labels, const struct lat_buckets *b)
{
    uint64_t cum = 0;
    for (uint32_t i = 0; i < METRICS_LAT_BUCKETS; i++) {
        cum += b->le[i];
        text_add(t, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, metrics_lat_bounds_us[i] / 1e6, (unsigned long long)cum);
    }
    cum += b->le[METRICS_LAT_BUCKETS];
    text_add(t, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cum);
    text_add(t, "%s_sum{%s} %.6f\n", name, labels, (double)b->sum_us / 1e6);
    text_add(t, "%s_count{%s} %llu\n", name, labels, (unsigned long long)b->count);
}

#define OFF(field) offsetof(struct shard_metrics, field)

char *metrics_render(const struct node_info *info, const struct shard_metrics *s, uint32_t count, size_t *bytes_out)
{
    struct text t = { .cap = 16384 };
    t.buf = malloc(t.cap);
    if (t.buf == NULL)
        return NULL;
    t.buf[0] = '\0';
    header(&t, "ringkv_info", "gauge", "The node's identity; always 1.");
    text_add(&t, "ringkv_info{node_id=\"%s\",shards=\"%u\"} 1\n", info->node_id, info->shards);
    header(&t, "ringkv_uptime_seconds", "gauge", "Seconds since the node started.");
    text_add(&t, "ringkv_uptime_seconds %llu\n", (unsigned long long)info->uptime_s);

    header(&t, "ringkv_requests_total", "counter", "Requests answered, by operation, protocol and outcome.");
    for (uint32_t i = 0; i < count; i++) {
        for (uint32_t p = 0; p < NET_PROTO_COUNT; p++) {
            for (uint32_t op = 0; op < NET_OP_COUNT; op++) {
                for (uint32_t e = 0; e < RKV_ERR_COUNT; e++) {
                    uint64_t v = s[i].net.answers[p][op][e];
                    if (v == 0)
                        continue;
                    char outcome[32];
                    const char *name = rkv_err_name((enum rkv_err)e);
                    size_t k = 0;
                    for (; name[k] != '\0' && k < sizeof outcome - 1; k++)
                        outcome[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] - 'A' + 'a' : name[k]);
                    outcome[k] = '\0';
                    text_add(&t, "ringkv_requests_total{shard=\"%u\",op=\"%s\",protocol=\"%s\",outcome=\"%s\"} %llu\n",
                             s[i].shard, net_op_name((enum net_op)op), net_proto_name((enum net_proto)p), outcome,
                             (unsigned long long)v);
                }
            }
        }
    }
    header(&t, "ringkv_request_duration_seconds", "histogram",
           "Time from a request's arrival at its shard to its answer being queued, by operation.");
    for (uint32_t i = 0; i < count; i++) {
        for (uint32_t op = NET_OP_GET; op <= NET_OP_DELETE; op++) {
            char labels[64];
            snprintf(labels, sizeof labels, "shard=\"%u\",op=\"%s\"", s[i].shard, net_op_name((enum net_op)op));
            histogram(&t, "ringkv_request_duration_seconds", labels, &s[i].latency[op]);
        }
    }
    header(&t, "ringkv_bytes_received_total", "counter", "Bytes read from client connections.");
    for (uint32_t i = 0; i < count; i++)
        text_add(&t, "ringkv_bytes_received_total{shard=\"%u\"} %llu\n", s[i].shard, (unsigned long long)s[i].net.bytes_in);
    header(&t, "ringkv_bytes_sent_total", "counter", "Bytes written to client connections.");
    for (uint32_t i = 0; i < count; i++)
        text_add(&t, "ringkv_bytes_sent_total{shard=\"%u\"} %llu\n", s[i].shard, (unsigned long long)s[i].net.bytes_out);
    header(&t, "ringkv_connections", "gauge", "Open client connections, by protocol.");
    for (uint32_t i = 0; i < count; i++)
        for (uint32_t p = 0; p < NET_PROTO_COUNT; p++)
            text_add(&t, "ringkv_connections{shard=\"%u\",protocol=\"%s\"} %u\n", s[i].shard,
                     net_proto_name((enum net_proto)p), s[i].net.conns_open_by_proto[p]);
    header(&t, "ringkv_connections_accepted_total", "counter", "Client connections accepted.");
    for (uint32_t i = 0; i < count; i++)
        text_add(&t, "ringkv_connections_accepted_total{shard=\"%u\"} %llu\n", s[i].shard, (unsigned long long)s[i].net.accepted);
    header(&t, "ringkv_connections_closed_total", "counter", "Client connections closed, by reason.");
    for (uint32_t i = 0; i < count; i++) {
        text_add(&t, "ringkv_connections_closed_total{shard=\"%u\",reason=\"bad_frame\"} %llu\n", s[i].shard, (unsigned long long)s[i].net.closed_bad_frame);
        text_add(&t, "ringkv_connections_closed_total{shard=\"%u\",reason=\"idle\"} %llu\n", s[i].shard, (unsigned long long)s[i].net.closed_idle);
        text_add(&t, "ringkv_connections_closed_total{shard=\"%u\",reason=\"slow\"} %llu\n", s[i].shard, (unsigned long long)s[i].net.closed_slow);
        text_add(&t, "ringkv_connections_closed_total{shard=\"%u\",reason=\"all\"} %llu\n", s[i].shard, (unsigned long long)s[i].net.closed);
    }
    header(&t, "ringkv_connections_refused_total", "counter", "Connections refused because the shard's pool was full.");
    for (uint32_t i = 0; i < count; i++)
        text_add(&t, "ringkv_connections_refused_total{shard=\"%u\"} %llu\n", s[i].shard, (unsigned long long)s[i].net.refused);

    counter_per_shard(&t, "ringkv_shard_busy_seconds_total", "Time the shard's loop spent working (not waiting).", s, count, OFF(busy_ns), 1e-9);
    counter_per_shard(&t, "ringkv_shard_idle_seconds_total", "Time the shard's loop spent waiting for completions.", s, count, OFF(idle_ns), 1e-9);
    counter_per_shard(&t, "ringkv_shard_loop_turns_total", "Turns of the shard's loop.", s, count, OFF(turns), 1.0);
    gauge_per_shard(&t, "ringkv_shard_inbox_depth", "Messages waiting in the shard's rings from other shards.", s, count, OFF(inbox_depth));
    gauge_per_shard(&t, "ringkv_shard_parked_messages", "Messages held back because a ring to another shard was full.", s, count, OFF(parked));
    gauge_per_shard(&t, "ringkv_shard_requests_in_flight", "Request structs in use in the shard's pool.", s, count, OFF(reqs_in_use));
    counter_per_shard(&t, "ringkv_shard_requests_executed_total", "Requests executed against this shard's storage.", s, count, OFF(executed), 1.0);
    counter_per_shard(&t, "ringkv_shard_requests_forwarded_total", "Requests handed to the shard that owns the key.", s, count, OFF(sent_to_shards), 1.0);

    counter_per_shard(&t, "ringkv_storage_log_flushes_total", "Group-commit log flushes (fsync).", s, count, OFF(flushes), 1.0);
    counter_per_shard(&t, "ringkv_storage_log_flush_failures_total", "Log flushes that failed; their writes were answered with an error.", s, count, OFF(flush_failures), 1.0);
    header(&t, "ringkv_storage_log_flush_duration_seconds", "histogram", "Duration of the group-commit log flush.");
    for (uint32_t i = 0; i < count; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "shard=\"%u\"", s[i].shard);
        histogram(&t, "ringkv_storage_log_flush_duration_seconds", labels, &s[i].flush_latency);
    }
    header(&t, "ringkv_shard_turn_phase_duration_seconds", "histogram",
           "Time a loop turn spent in each phase: input (parse and execute), commit (log flush and answers), "
           "sweep (only turns that ran it), output (start sends).");
    static const char *const phase_names[NODE_PHASE_COUNT] = { "input", "commit", "sweep", "output" };
    for (uint32_t i = 0; i < count; i++) {
        for (uint32_t ph = 0; ph < NODE_PHASE_COUNT; ph++) {
            char labels[64];
            snprintf(labels, sizeof labels, "shard=\"%u\",phase=\"%s\"", s[i].shard, phase_names[ph]);
            histogram(&t, "ringkv_shard_turn_phase_duration_seconds", labels, &s[i].phase_latency[ph]);
        }
    }
    counter_per_shard(&t, "ringkv_storage_expired_swept_total", "Expired records the sweeper turned into tombstones.", s, count, OFF(swept_expired), 1.0);
    counter_per_shard(&t, "ringkv_storage_tombstones_purged_total", "Tombstones removed after their grace period.", s, count, OFF(purged_tombstones), 1.0);
    counter_per_shard(&t, "ringkv_cluster_requests_total", "Client requests this shard coordinated across replicas.", s, count, OFF(cl_requests), 1.0);
    counter_per_shard(&t, "ringkv_cluster_unavailable_total", "Coordinated requests answered unavailable (too few replicas in time).", s, count, OFF(cl_unavailable), 1.0);
    counter_per_shard(&t, "ringkv_replica_writes_total", "Replica writes applied on this shard (local and from peers).", s, count, OFF(cl_replica_writes), 1.0);
    counter_per_shard(&t, "ringkv_replica_reads_total", "Replica reads served by this shard.", s, count, OFF(cl_replica_reads), 1.0);
    counter_per_shard(&t, "ringkv_read_repairs_total", "Read-repair writes sent to stale replicas.", s, count, OFF(cl_read_repairs), 1.0);
    counter_per_shard(&t, "ringkv_writes_fenced_total", "Replica writes refused because the replica held a newer record.", s, count, OFF(cl_fenced), 1.0);
    counter_per_shard(&t, "ringkv_clock_skew_refused_total", "Timestamps refused for being too far ahead of this node's clock.", s, count, OFF(cl_skew_refused), 1.0);
    counter_per_shard(&t, "ringkv_hints_stored_total", "Hints stored on this shard for down replicas.", s, count, OFF(hints_stored), 1.0);
    counter_per_shard(&t, "ringkv_hints_replayed_total", "Hints delivered to their target and removed.", s, count, OFF(hints_replayed), 1.0);
    counter_per_shard(&t, "ringkv_hints_dropped_total", "Hints dropped unreplayed (older than --hint-max-age, or undeliverable).", s, count, OFF(hints_dropped), 1.0);
    header(&t, "ringkv_hints_queued", "gauge", "Hints held on this shard for a target node.");
    for (uint32_t i = 0; i < count; i++) {
        for (uint32_t k = 0; k < s[i].hint_targets; k++)
            text_add(&t, "ringkv_hints_queued{shard=\"%u\",target=\"%s\"} %llu\n", s[i].shard, s[i].hint_q[k].target,
                     (unsigned long long)s[i].hint_q[k].count);
    }
    header(&t, "ringkv_hints_oldest_age_seconds", "gauge", "Age of the oldest hint held on this shard for a target node.");
    for (uint32_t i = 0; i < count; i++) {
        for (uint32_t k = 0; k < s[i].hint_targets; k++)
            text_add(&t, "ringkv_hints_oldest_age_seconds{shard=\"%u\",target=\"%s\"} %.3f\n", s[i].shard,
                     s[i].hint_q[k].target, (double)s[i].hint_q[k].oldest_age_ms / 1000.0);
    }
    counter_per_shard(&t, "ringkv_storage_sweep_passes_total", "Completed sweeper passes over the shard's table.", s, count, OFF(sweep_passes), 1.0);
    counter_per_shard(&t, "ringkv_rowcache_hits_total", "Row cache lookups answered from memory (by reads and by the read each write does first).", s, count, OFF(rowcache_hits), 1.0);
    counter_per_shard(&t, "ringkv_rowcache_misses_total", "Row cache lookups that went to storage.", s, count, OFF(rowcache_misses), 1.0);
    counter_per_shard(&t, "ringkv_rowcache_inserts_total", "Entries added to the row cache (read fills and writes).", s, count, OFF(rowcache_inserts), 1.0);
    counter_per_shard(&t, "ringkv_rowcache_evictions_total", "Row cache entries evicted to stay within the budget.", s, count, OFF(rowcache_evictions), 1.0);
    gauge_per_shard(&t, "ringkv_rowcache_bytes", "Bytes the row cache accounts now (entries with their overhead, and its table); never above the budget.", s, count, OFF(rowcache_bytes));
    gauge_per_shard(&t, "ringkv_rowcache_budget_bytes", "The shard's row cache budget (0: off).", s, count, OFF(rowcache_budget_bytes));
    gauge_per_shard(&t, "ringkv_rowcache_entries", "Entries in the row cache.", s, count, OFF(rowcache_entries));
    header(&t, "ringkv_storage_cache_bytes", "gauge", "Bytes in WiredTiger's cache (node-wide; reported by shard 0).");
    text_add(&t, "ringkv_storage_cache_bytes %llu\n", (unsigned long long)s[0].wt_cache_bytes);
    header(&t, "ringkv_storage_cache_max_bytes", "gauge", "WiredTiger's configured cache size.");
    text_add(&t, "ringkv_storage_cache_max_bytes %llu\n", (unsigned long long)s[0].wt_cache_max_bytes);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *bytes_out = t.len;
    return t.buf;
}

char *metrics_health_json(const struct node_info *info, size_t *bytes_out)
{
    char *buf = malloc(256);
    if (buf == NULL)
        return NULL;
    int n = snprintf(buf, 256, "{\"status\":\"ok\",\"node_id\":\"%s\",\"shards\":%u,\"uptime_seconds\":%llu}",
                     info->node_id, info->shards, (unsigned long long)info->uptime_s);
    RKV_ASSERT(n > 0 && n < 256);
    *bytes_out = (size_t)n;
    return buf;
}
