/* The server's configuration: command-line flags and an INI file (--config FILE) with the
 * same keys as the flags, flags winning. Every value is validated against core/limits.h;
 * a bad one gives one clear sentence naming the flag (or file:line) and the rule broken.
 * Parsed once by the main thread before the shards start, then read-only. */
#ifndef RKV_CORE_CONFIG_H
#define RKV_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "core/log.h"

#define RKV_HOST_BYTES_MAX 64u
#define RKV_PATH_BYTES_MAX 1024u

/* The per-shard row cache (storage/rowcache.h). --row-cache-size is the node's budget,
 * split evenly over the shards; 0 switches the cache off, and any other value must be at
 * least RKV_ROW_CACHE_BYTES_MIN so that each of up to RKV_SHARDS_MAX shards gets a share
 * that holds its fixed arrays and some entries (16 KiB each at 64 shards). The default is a
 * quarter of physical memory (the requirements plan most of a node's memory as a hot-data
 * cache; WiredTiger's cache and the connection buffers take their share beside it).
 * --row-cache-max-value: values longer than this are not cached, so that one large value
 * cannot push out hundreds of small hot ones; 0 caches only empty values, tombstones and
 * absent keys; at most the largest value. */
#define RKV_ROW_CACHE_BYTES_MIN (1ull << 20)
#define RKV_ROW_CACHE_VALUE_BYTES_DEFAULT (64u * 1024u)
#define RKV_ROW_CACHE_VALUE_BYTES_MAX RKV_VALUE_BYTES_MAX
_Static_assert(RKV_ROW_CACHE_VALUE_BYTES_DEFAULT <= RKV_ROW_CACHE_VALUE_BYTES_MAX, "default within bounds");

struct rkv_addr {
    char host[RKV_HOST_BYTES_MAX]; /* an IPv4 or IPv6 literal, or "localhost" */
    uint16_t port;                  /* 1..65535 */
};

struct rkv_config {
    char node_id[RKV_NODE_ID_BYTES_MAX + 1]; /* --node-id, default "node1" */
    char data_dir[RKV_PATH_BYTES_MAX];       /* --data, default "./data" */
    struct rkv_addr listen;                  /* --listen, default 127.0.0.1:7379 */
    bool http_enabled;                       /* --http off turns the HTTP API off */
    struct rkv_addr http;                    /* --http, default 127.0.0.1:8080 */
    uint32_t shards;                         /* --shards, default: online CPUs (1..RKV_SHARDS_MAX) */
    uint32_t vnodes;                         /* --vnodes, default RKV_VNODES_DEFAULT */
    uint32_t conns_per_shard;                /* --max-conns, per shard */
    uint32_t idle_timeout_s;                 /* --idle-timeout, seconds, 1..RKV_IDLE_TIMEOUT_S_MAX */
    uint64_t cache_bytes;                    /* --cache-size, WiredTiger cache, bytes (K/M/G suffixes) */
    uint64_t row_cache_bytes;                /* --row-cache-size, the node's row cache, bytes (K/M/G);
                                              * 0 off, else >= RKV_ROW_CACHE_BYTES_MIN; default
                                              * config_row_cache_bytes_default() */
    uint32_t row_cache_value_bytes_max;      /* --row-cache-max-value, bytes (K/M/G),
                                              * 0..RKV_ROW_CACHE_VALUE_BYTES_MAX */
    uint32_t sweep_interval_s;               /* --sweep-interval, seconds between sweep passes,
                                              * 1..RKV_SWEEP_INTERVAL_S_MAX */
    uint32_t tombstone_grace_s;              /* --tombstone-grace, seconds a tombstone is kept,
                                              * 0..RKV_TOMBSTONE_GRACE_S_MAX */
    /* Cluster (issue 5). peer_enabled false: a node of its own (no peer port, no seeds). */
    bool peer_enabled;                       /* --peer given */
    struct rkv_addr peer;                    /* --peer HOST:PORT; shard i listens on PORT + i */
    uint32_t seed_count;                     /* --seeds HOST:PORT,... (the other nodes' --peer) */
    struct rkv_addr seeds[RKV_NODES_MAX - 1u];
    uint32_t rf;                             /* --rf, 1..RKV_RF_MAX (default RKV_RF_DEFAULT) */
    uint32_t request_timeout_ms;             /* --request-timeout, ms */
    uint32_t max_skew_ms;                    /* --max-skew, ms */
    bool sloppy_quorum;                      /* --sloppy-quorum: hints count toward W */
    bool hinted_handoff;                     /* --hinted-handoff on|off (default on) */
    uint32_t hint_max_age_s;                 /* --hint-max-age, seconds */
    bool pin_threads;                        /* --no-pin turns CPU pinning off */
    enum rkv_log_level log_level;            /* --log-level debug|info|warn|error */
};

enum config_rc { CONFIG_OK, CONFIG_HELP, CONFIG_ERROR };

/* Fills cfg_out with the defaults, then the INI file named by --config (if any), then the
 * flags. CONFIG_ERROR: err_out holds one sentence for stderr (the caller exits 2).
 * CONFIG_HELP: --help was given (the caller prints config_usage() and exits 0). */
enum config_rc config_parse(int argc, char **argv, struct rkv_config *cfg_out, char *err_out,
                            size_t err_cap);
/* The default --row-cache-size: a quarter of physical memory (sysconf), rounded down to a
 * whole MiB and at least RKV_ROW_CACHE_BYTES_MIN; RKV_ROW_CACHE_BYTES_MIN when unknown. */
uint64_t config_row_cache_bytes_default(void);
/* The --help text of the server. */
const char *config_usage(void);
/* The one rule for node ids, wherever they come from (flags, membership, peers): 1 to
 * RKV_NODE_ID_BYTES_MAX bytes of [A-Za-z0-9._-]. */
bool config_node_id_valid(const uint8_t *s, size_t bytes);
/* Parses "HOST:PORT" or "[V6]:PORT"; false when malformed. */
bool config_parse_addr(const char *s, struct rkv_addr *addr_out);

#endif
