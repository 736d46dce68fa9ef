/* The server's configuration: defaults, then an INI file (--config), then the flags. Runs
 * once on the main thread before the shards start; it keeps no state between calls (no
 * static buffers, no strtok), so tests may call it freely. Every value is checked against
 * core/limits.h and a bad one yields one sentence naming the flag or file:line. */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/assert.h"

/* The --help text below spells out these values; change it with them. */
_Static_assert(RKV_SHARDS_MAX == 64u, "update config_usage()");
_Static_assert(RKV_VNODES_DEFAULT == 150u && RKV_VNODES_MAX == 1024u, "update config_usage()");
_Static_assert(RKV_CONNS_PER_SHARD_DEFAULT == 1024u && RKV_CONNS_PER_SHARD_MAX == 65536u,
               "update config_usage()");
_Static_assert(RKV_IDLE_TIMEOUT_S_DEFAULT == 300u && RKV_IDLE_TIMEOUT_S_MAX == 86400u,
               "update config_usage()");
_Static_assert(RKV_WT_CACHE_BYTES_MIN == (200ull << 20) && RKV_WT_CACHE_BYTES_DEFAULT == (512ull << 20),
               "update config_usage()");
_Static_assert(RKV_NODE_ID_BYTES_MAX == 64u, "update config_usage()");
_Static_assert(RKV_ROW_CACHE_BYTES_MIN == (1ull << 20) && RKV_ROW_CACHE_VALUE_BYTES_DEFAULT == (64u << 10) &&
                   RKV_ROW_CACHE_VALUE_BYTES_MAX == (1u << 20),
               "update config_usage()");
_Static_assert(RKV_SWEEP_INTERVAL_S_DEFAULT == 10u && RKV_SWEEP_INTERVAL_S_MAX == 86400u, "update config_usage()");
_Static_assert(RKV_TOMBSTONE_GRACE_S_DEFAULT == 259200u && RKV_TOMBSTONE_GRACE_S_MAX == 315360000u,
               "update config_usage()");

#define CONFIG_DEFAULT_NODE_ID "node1"
#define CONFIG_DEFAULT_DATA_DIR "./data"
#define CONFIG_DEFAULT_HOST "127.0.0.1"
#define CONFIG_DEFAULT_PORT 7379u
#define CONFIG_DEFAULT_HTTP_PORT 8080u
/* Longest value quoted back in an error message; longer ones end in "...". */
#define CONFIG_QUOTE_BYTES_MAX 64u
/* Room for "FILE:LINE: key" in front of a message about a file's value. */
#define CONFIG_WHERE_BYTES_MAX (RKV_PATH_BYTES_MAX + 64u)

static const char config_usage_text[] =
    "Usage: ringkv [FLAGS]\n"
    "\n"
    "Runs one ringkv node: one shard (a pinned thread with its own io_uring loop and\n"
    "storage session) per core, serving clients on --listen and storing data in --data.\n"
    "\n"
    "Flags (each value may also be given as --flag=value):\n"
    "  --node-id ID        name of this node: 1 to 64 characters of A-Z a-z 0-9 . _ -\n"
    "                      (default: node1)\n"
    "  --data DIR          data directory (default: ./data)\n"
    "  --listen HOST:PORT  client address; HOST is an IPv4 literal, [IPv6] literal or\n"
    "                      localhost, PORT 1 to 65535 (default: 127.0.0.1:7379)\n"
    "  --http HOST:PORT    HTTP/JSON API address, same form, or \"off\"\n"
    "                      (default: 127.0.0.1:8080)\n"
    "  --shards N          shards (one thread each), 1 to 64\n"
    "                      (default: the online CPUs, at most 64)\n"
    "  --vnodes N          virtual nodes of this node on the ring, 1 to 1024 (default: 150)\n"
    "  --max-conns N       client connections per shard, 1 to 65536 (default: 1024)\n"
    "  --idle-timeout S    seconds after which a silent connection is closed, 1 to 86400\n"
    "                      (default: 300)\n"
    "  --cache-size BYTES  WiredTiger cache; suffix K, M or G for KiB, MiB, GiB;\n"
    "                      at least 200M (default: 512M)\n"
    "  --row-cache-size BYTES\n"
    "                      the node's row cache of hot records, split evenly over the\n"
    "                      shards; suffix K, M or G; 0 turns it off, else at least 1M\n"
    "                      (default: a quarter of physical memory)\n"
    "  --row-cache-max-value BYTES\n"
    "                      values longer than this are not cached; suffix K or M;\n"
    "                      0 to 1M (default: 64K)\n"
    "  --sweep-interval S  seconds from the start of one sweep pass (expired values to\n"
    "                      tombstones, old tombstones purged) to the next, 1 to 86400\n"
    "                      (default: 10)\n"
    "  --tombstone-grace S seconds a tombstone is kept after its key was deleted or\n"
    "                      expired, 0 to 315360000 (ten years); keep it longer than any\n"
    "                      replica may be down (default: 259200, 72 hours)\n"
    "  --peer HOST:PORT    this node's peer port; shard i listens on PORT+i (default: none)\n"
    "  --seeds LIST        the other nodes' --peer addresses, comma-separated\n"
    "  --rf N              replication factor, 1 to 7 (default: 3)\n"
    "  --request-timeout MS  replica wait, 10 to 60000 (default: 1000)\n"
    "  --max-skew MS       refuse peer timestamps further ahead, 1 to 600000 (default: 5000)\n"
    "  --sloppy-quorum     hints count toward W (default: off)\n"
    "  --hinted-handoff on|off  hints for down replicas (default: on)\n"
    "  --hint-max-age S    drop older hints; under --tombstone-grace (default: 10800)\n"
    "  --no-pin            do not pin shard threads to CPUs (default: pinned)\n"
    "  --log-level L       debug, info, warn or error (default: info)\n"
    "  --config FILE       read settings from an INI file; flags win over it, wherever\n"
    "                      they stand on the command line (default: none)\n"
    "  --help              print this text and exit\n"
    "\n"
    "Config file: one \"key = value\" per line, before any section or in [ringkv]. The\n"
    "keys are the flag names without dashes: node-id, data, listen, http, shards, vnodes,\n"
    "max-conns, idle-timeout, cache-size, row-cache-size, row-cache-max-value,\n"
    "sweep-interval, tombstone-grace, peer, seeds, rf, request-timeout, max-skew,\n"
    "hinted-handoff, hint-max-age, log-level, sloppy-quorum = true|false and\n"
    "pin = true|false. Lines starting\n"
    "with ; or # are comments. An unknown key or section, a key given twice, a bad value\n"
    "or a line longer than 198 bytes is an error naming FILE:LINE.\n"
    "\n"
    "Exit codes:\n"
    "  0  clean stop (SIGINT or SIGTERM), or --help\n"
    "  1  runtime failure (storage, sockets, threads)\n"
    "  2  bad flag or config file\n";

const char *config_usage(void) { return config_usage_text; }

/* Every setting, with where it may be given. */
enum config_key {
    KEY_NODE_ID,
    KEY_DATA,
    KEY_LISTEN,
    KEY_HTTP,
    KEY_SHARDS,
    KEY_VNODES,
    KEY_MAX_CONNS,
    KEY_IDLE_TIMEOUT,
    KEY_CACHE_SIZE,
    KEY_ROW_CACHE_SIZE,
    KEY_ROW_CACHE_MAX_VALUE,
    KEY_SWEEP_INTERVAL,
    KEY_TOMBSTONE_GRACE,
    KEY_LOG_LEVEL,
    KEY_PEER,
    KEY_SEEDS,
    KEY_RF,
    KEY_REQUEST_TIMEOUT,
    KEY_MAX_SKEW,
    KEY_SLOPPY_QUORUM,
    KEY_HINTED_HANDOFF,
    KEY_HINT_MAX_AGE,
    KEY_PIN,    /* file only: pin = true|false */
    KEY_NO_PIN, /* flag only, no value */
    KEY_CONFIG, /* flag only */
    KEY_HELP,   /* flag only, no value */
    KEY_COUNT
};

struct config_opt {
    const char *name; /* the flag without its dashes, and the file's key */
    bool is_flag;
    bool in_file;
    bool takes_value;
};

static const struct config_opt config_opts[KEY_COUNT] = {
    [KEY_NODE_ID] = { "node-id", true, true, true },
    [KEY_DATA] = { "data", true, true, true },
    [KEY_LISTEN] = { "listen", true, true, true },
    [KEY_HTTP] = { "http", true, true, true },
    [KEY_SHARDS] = { "shards", true, true, true },
    [KEY_VNODES] = { "vnodes", true, true, true },
    [KEY_MAX_CONNS] = { "max-conns", true, true, true },
    [KEY_IDLE_TIMEOUT] = { "idle-timeout", true, true, true },
    [KEY_CACHE_SIZE] = { "cache-size", true, true, true },
    [KEY_ROW_CACHE_SIZE] = { "row-cache-size", true, true, true },
    [KEY_ROW_CACHE_MAX_VALUE] = { "row-cache-max-value", true, true, true },
    [KEY_SWEEP_INTERVAL] = { "sweep-interval", true, true, true },
    [KEY_TOMBSTONE_GRACE] = { "tombstone-grace", true, true, true },
    [KEY_LOG_LEVEL] = { "log-level", true, true, true },
    [KEY_PEER] = { "peer", true, true, true },
    [KEY_SEEDS] = { "seeds", true, true, true },
    [KEY_RF] = { "rf", true, true, true },
    [KEY_REQUEST_TIMEOUT] = { "request-timeout", true, true, true },
    [KEY_MAX_SKEW] = { "max-skew", true, true, true },
    /* A flag without a value; in a file sloppy-quorum = true|false. */
    [KEY_SLOPPY_QUORUM] = { "sloppy-quorum", true, true, false },
    [KEY_HINTED_HANDOFF] = { "hinted-handoff", true, true, true },
    [KEY_HINT_MAX_AGE] = { "hint-max-age", true, true, true },
    [KEY_PIN] = { "pin", false, true, true },
    [KEY_NO_PIN] = { "no-pin", true, false, false },
    [KEY_CONFIG] = { "config", true, false, true },
    [KEY_HELP] = { "help", true, false, false },
};
_Static_assert(KEY_COUNT <= 32, "keys seen in a file are a 32-bit mask");

/* The key called name (name_bytes long, not necessarily terminated), or KEY_COUNT. */
static enum config_key config_key_find(const char *name, size_t name_bytes)
{
    for (int k = 0; k < KEY_COUNT; k++) {
        if (strlen(config_opts[k].name) == name_bytes && memcmp(config_opts[k].name, name, name_bytes) == 0)
            return (enum config_key)k;
    }
    return KEY_COUNT;
}

static void config_errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void config_errf(char *err, size_t cap, const char *fmt, ...)
{
    if (cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        err[0] = '\0';
}

/* Writes value into buf for quoting in a message, cut to CONFIG_QUOTE_BYTES_MAX with
 * "..." appended when longer. */
static const char *config_quote(const char *value, char buf[CONFIG_QUOTE_BYTES_MAX + 4u])
{
    size_t n = strlen(value);
    if (n <= CONFIG_QUOTE_BYTES_MAX)
        return value;
    memcpy(buf, value, CONFIG_QUOTE_BYTES_MAX);
    memcpy(buf + CONFIG_QUOTE_BYTES_MAX, "...", 4);
    return buf;
}

/* Strict unsigned decimal: one or more digits and nothing else; no sign, no spaces, no
 * overflow. */
static bool config_parse_u64(const char *s, uint64_t *v_out)
{
    *v_out = 0;
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *v_out = v;
    return true;
}

static bool config_parse_u32_range(const char *s, uint32_t lo, uint32_t hi, uint32_t *v_out)
{
    uint64_t v;
    *v_out = 0;
    if (!config_parse_u64(s, &v) || v < lo || v > hi)
        return false;
    *v_out = (uint32_t)v;
    return true;
}

/* Digits with an optional K, M or G (either case: powers of 1024). */
static bool config_parse_bytes(const char *s, uint64_t *v_out)
{
    *v_out = 0;
    char digits[24];
    size_t n = strlen(s);
    unsigned shift = 0;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        default: break;
        }
    }
    if (shift != 0)
        n--;
    if (n == 0 || n >= sizeof digits)
        return false;
    memcpy(digits, s, n);
    digits[n] = '\0';
    uint64_t v;
    if (!config_parse_u64(digits, &v) || v > (UINT64_MAX >> shift))
        return false;
    *v_out = v << shift;
    return true;
}

bool config_node_id_valid(const uint8_t *s, size_t bytes)
{
    if (bytes < 1 || bytes > RKV_NODE_ID_BYTES_MAX)
        return false;
    for (size_t i = 0; i < bytes; i++) {
        uint8_t c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool config_node_id_ok(const char *s)
{
    return config_node_id_valid((const uint8_t *)s, strlen(s));
}

bool config_parse_addr(const char *s, struct rkv_addr *addr_out)
{
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(addr_out != NULL);
    memset(addr_out, 0, sizeof *addr_out);
    const char *host;
    size_t host_bytes;
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return false;
        host = s + 1;
        host_bytes = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return false;
        host = s;
        host_bytes = (size_t)(colon - s);
        /* A bare IPv6 literal would make the port ambiguous: it needs brackets. */
        if (memchr(host, ':', host_bytes) != NULL)
            return false;
    }
    if (host_bytes == 0 || host_bytes >= RKV_HOST_BYTES_MAX)
        return false;
    char h[RKV_HOST_BYTES_MAX];
    memcpy(h, host, host_bytes);
    h[host_bytes] = '\0';

    uint32_t port;
    if (!config_parse_u32_range(colon + 1, 1, 65535, &port))
        return false;

    uint8_t bin[16];
    bool ok;
    if (s[0] == '[')
        ok = inet_pton(AF_INET6, h, bin) == 1;
    else
        ok = strcmp(h, "localhost") == 0 || inet_pton(AF_INET, h, bin) == 1;
    if (!ok)
        return false;
    memcpy(addr_out->host, h, host_bytes + 1u);
    addr_out->port = (uint16_t)port;
    return true;
}

/* Sets one value. where names it in messages: "--shards" or "FILE:LINE: shards". */
/* --seeds: a comma-separated list of HOST:PORT, at most RKV_NODES_MAX - 1 of them, no empty
 * items and no duplicates. */
static bool config_set_seeds(struct rkv_config *cfg, const char *value, const char *where, const char *qv, char *err,
                             size_t cap)
{
    cfg->seed_count = 0;
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[RKV_HOST_BYTES_MAX + 16u];
        struct rkv_addr a;
        if (n == 0 || n >= sizeof item) {
            config_errf(err, cap, "%s: must be HOST:PORT items separated by commas, got \"%s\"", where, qv);
            return false;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (!config_parse_addr(item, &a)) {
            config_errf(err, cap,
                        "%s: each seed must be HOST:PORT with an IPv4 literal, [IPv6] literal or localhost and "
                        "a port from 1 to 65535, got \"%s\"",
                        where, qv);
            return false;
        }
        if (cfg->seed_count == RKV_NODES_MAX - 1u) {
            config_errf(err, cap, "%s: at most %u seeds, got \"%s\"", where, RKV_NODES_MAX - 1u, qv);
            return false;
        }
        for (uint32_t i = 0; i < cfg->seed_count; i++) {
            if (cfg->seeds[i].port == a.port && strcmp(cfg->seeds[i].host, a.host) == 0) {
                config_errf(err, cap, "%s: seed %s:%u is listed twice", where, a.host, a.port);
                return false;
            }
        }
        cfg->seeds[cfg->seed_count++] = a;
        if (comma == NULL)
            return true;
        p = comma + 1;
    }
}

static bool config_set(struct rkv_config *cfg, enum config_key key, const char *value, const char *where,
                       char *err, size_t cap)
{
    char q[CONFIG_QUOTE_BYTES_MAX + 4u];
    const char *qv = config_quote(value, q);
    switch (key) {
    case KEY_NODE_ID:
        if (!config_node_id_ok(value)) {
            config_errf(err, cap, "%s: must be 1 to %u characters of A-Z a-z 0-9 . _ -, got \"%s\"", where,
                        RKV_NODE_ID_BYTES_MAX, qv);
            return false;
        }
        memcpy(cfg->node_id, value, strlen(value) + 1u);
        return true;
    case KEY_DATA: {
        size_t n = strlen(value);
        if (n < 1 || n >= sizeof cfg->data_dir) {
            config_errf(err, cap, "%s: must be a path of 1 to %zu bytes, got \"%s\"", where,
                        sizeof cfg->data_dir - 1u, qv);
            return false;
        }
        memcpy(cfg->data_dir, value, n + 1u);
        return true;
    }
    case KEY_LISTEN:
        if (!config_parse_addr(value, &cfg->listen)) {
            config_errf(err, cap,
                        "%s: must be HOST:PORT with an IPv4 literal, [IPv6] literal or localhost and a "
                        "port from 1 to 65535, got \"%s\"",
                        where, qv);
            return false;
        }
        return true;
    case KEY_HTTP:
        if (strcmp(value, "off") == 0) {
            cfg->http_enabled = false;
            return true;
        }
        if (!config_parse_addr(value, &cfg->http)) {
            config_errf(err, cap,
                        "%s: must be off, or HOST:PORT with an IPv4 literal, [IPv6] literal or localhost and a "
                        "port from 1 to 65535, got \"%s\"",
                        where, qv);
            return false;
        }
        cfg->http_enabled = true;
        return true;
    case KEY_SHARDS:
    case KEY_VNODES:
    case KEY_MAX_CONNS:
    case KEY_IDLE_TIMEOUT: {
        uint32_t hi = key == KEY_SHARDS      ? RKV_SHARDS_MAX
                      : key == KEY_VNODES    ? RKV_VNODES_MAX
                      : key == KEY_MAX_CONNS ? RKV_CONNS_PER_SHARD_MAX
                                             : RKV_IDLE_TIMEOUT_S_MAX;
        uint32_t *dst = key == KEY_SHARDS      ? &cfg->shards
                        : key == KEY_VNODES    ? &cfg->vnodes
                        : key == KEY_MAX_CONNS ? &cfg->conns_per_shard
                                               : &cfg->idle_timeout_s;
        uint32_t v;
        if (!config_parse_u32_range(value, 1, hi, &v)) {
            config_errf(err, cap, "%s: must be an integer from 1 to %u, got \"%s\"", where, hi, qv);
            return false;
        }
        *dst = v;
        return true;
    }
    case KEY_SWEEP_INTERVAL:
    case KEY_TOMBSTONE_GRACE: {
        /* A grace of 0 is allowed (purge at the first pass after the delete); an interval
         * of 0 is not (a pass would start every turn). */
        uint32_t lo = key == KEY_SWEEP_INTERVAL ? 1u : 0u;
        uint32_t hi = key == KEY_SWEEP_INTERVAL ? RKV_SWEEP_INTERVAL_S_MAX : RKV_TOMBSTONE_GRACE_S_MAX;
        uint32_t *dst = key == KEY_SWEEP_INTERVAL ? &cfg->sweep_interval_s : &cfg->tombstone_grace_s;
        uint32_t v;
        if (!config_parse_u32_range(value, lo, hi, &v)) {
            config_errf(err, cap, "%s: must be an integer from %u to %u, got \"%s\"", where, lo, hi, qv);
            return false;
        }
        *dst = v;
        return true;
    }
    case KEY_CACHE_SIZE: {
        uint64_t v;
        if (!config_parse_bytes(value, &v) || v < RKV_WT_CACHE_BYTES_MIN) {
            config_errf(err, cap,
                        "%s: must be a byte count of at least %lluM (suffix K, M or G allowed), got \"%s\"",
                        where, (unsigned long long)(RKV_WT_CACHE_BYTES_MIN >> 20), qv);
            return false;
        }
        cfg->cache_bytes = v;
        return true;
    }
    case KEY_ROW_CACHE_SIZE: {
        uint64_t v;
        if (!config_parse_bytes(value, &v) || (v != 0 && v < RKV_ROW_CACHE_BYTES_MIN)) {
            config_errf(err, cap,
                        "%s: must be 0 (off) or a byte count of at least %lluM (suffix K, M or G allowed), got \"%s\"",
                        where, (unsigned long long)(RKV_ROW_CACHE_BYTES_MIN >> 20), qv);
            return false;
        }
        cfg->row_cache_bytes = v;
        return true;
    }
    case KEY_ROW_CACHE_MAX_VALUE: {
        uint64_t v;
        if (!config_parse_bytes(value, &v) || v > RKV_ROW_CACHE_VALUE_BYTES_MAX) {
            config_errf(err, cap, "%s: must be a byte count from 0 to %uM (suffix K, M or G allowed), got \"%s\"",
                        where, RKV_ROW_CACHE_VALUE_BYTES_MAX >> 20, qv);
            return false;
        }
        cfg->row_cache_value_bytes_max = (uint32_t)v;
        return true;
    }
    case KEY_LOG_LEVEL:
        if (!rkv_log_level_parse(value, &cfg->log_level)) {
            config_errf(err, cap, "%s: must be one of debug, info, warn, error, got \"%s\"", where, qv);
            return false;
        }
        return true;
    case KEY_PEER:
        if (!config_parse_addr(value, &cfg->peer)) {
            config_errf(err, cap,
                        "%s: must be HOST:PORT with an IPv4 literal, [IPv6] literal or localhost and a "
                        "port from 1 to 65535, got \"%s\"",
                        where, qv);
            return false;
        }
        cfg->peer_enabled = true;
        return true;
    case KEY_SEEDS:
        return config_set_seeds(cfg, value, where, qv, err, cap);
    case KEY_RF:
    case KEY_REQUEST_TIMEOUT:
    case KEY_MAX_SKEW:
    case KEY_HINT_MAX_AGE: {
        uint32_t lo = key == KEY_RF ? 1u : key == KEY_REQUEST_TIMEOUT ? RKV_REQUEST_TIMEOUT_MS_MIN : 1u;
        uint32_t hi = key == KEY_RF                ? RKV_RF_MAX
                      : key == KEY_REQUEST_TIMEOUT ? RKV_REQUEST_TIMEOUT_MS_MAX
                      : key == KEY_MAX_SKEW        ? RKV_CLOCK_SKEW_MS_MAX
                                                   : RKV_HINT_AGE_S_MAX;
        uint32_t *dst = key == KEY_RF                ? &cfg->rf
                        : key == KEY_REQUEST_TIMEOUT ? &cfg->request_timeout_ms
                        : key == KEY_MAX_SKEW        ? &cfg->max_skew_ms
                                                     : &cfg->hint_max_age_s;
        uint32_t v;
        if (!config_parse_u32_range(value, lo, hi, &v)) {
            config_errf(err, cap, "%s: must be an integer from %u to %u, got \"%s\"", where, lo, hi, qv);
            return false;
        }
        *dst = v;
        return true;
    }
    case KEY_SLOPPY_QUORUM:
        /* As a flag it has no value (config_parse() passes ""); in a file, true or false. */
        if (strcmp(value, "true") == 0 || (where[0] == '-' && value[0] == '\0')) {
            cfg->sloppy_quorum = true;
        } else if (strcmp(value, "false") == 0) {
            cfg->sloppy_quorum = false;
        } else {
            config_errf(err, cap, "%s: must be true or false, got \"%s\"", where, qv);
            return false;
        }
        return true;
    case KEY_HINTED_HANDOFF:
        if (strcmp(value, "on") == 0) {
            cfg->hinted_handoff = true;
        } else if (strcmp(value, "off") == 0) {
            cfg->hinted_handoff = false;
        } else {
            config_errf(err, cap, "%s: must be on or off, got \"%s\"", where, qv);
            return false;
        }
        return true;
    case KEY_PIN:
        if (strcmp(value, "true") == 0) {
            cfg->pin_threads = true;
        } else if (strcmp(value, "false") == 0) {
            cfg->pin_threads = false;
        } else {
            config_errf(err, cap, "%s: must be true or false, got \"%s\"", where, qv);
            return false;
        }
        return true;
    case KEY_NO_PIN:
        cfg->pin_threads = false;
        return true;
    case KEY_CONFIG:
    case KEY_HELP:
    case KEY_COUNT:
        break;
    }
    /* --config and --help are handled by config_parse() itself. */
    RKV_ASSERT(!"config_set() of a key it does not set");
    return false;
}

uint64_t config_row_cache_bytes_default(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_bytes = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_bytes <= 0)
        return RKV_ROW_CACHE_BYTES_MIN; /* unknown: a small cache still helps */
    uint64_t phys = (uint64_t)pages;
    /* pages * page size / 4 without overflow for any plausible page size */
    uint64_t quarter = phys / 4u * (uint64_t)page_bytes + (phys % 4u) * (uint64_t)page_bytes / 4u;
    /* In a container the memory we may use is the cgroup's limit, not the host's RAM. Read
     * once at start-up (main thread), so a plain stdio read is fine. */
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (f != NULL) {
        unsigned long long limit;
        if (fscanf(f, "%llu", &limit) == 1 && limit / 4u < quarter)
            quarter = limit / 4u;
        fclose(f);
    }
    quarter &= ~((1ull << 20) - 1u);
    return quarter < RKV_ROW_CACHE_BYTES_MIN ? RKV_ROW_CACHE_BYTES_MIN : quarter;
}

static void config_defaults(struct rkv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    memcpy(cfg->node_id, CONFIG_DEFAULT_NODE_ID, sizeof CONFIG_DEFAULT_NODE_ID);
    memcpy(cfg->data_dir, CONFIG_DEFAULT_DATA_DIR, sizeof CONFIG_DEFAULT_DATA_DIR);
    memcpy(cfg->listen.host, CONFIG_DEFAULT_HOST, sizeof CONFIG_DEFAULT_HOST);
    cfg->listen.port = CONFIG_DEFAULT_PORT;
    cfg->http_enabled = true;
    memcpy(cfg->http.host, CONFIG_DEFAULT_HOST, sizeof CONFIG_DEFAULT_HOST);
    cfg->http.port = CONFIG_DEFAULT_HTTP_PORT;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1; /* unknown: one shard still serves */
    cfg->shards = cpus > (long)RKV_SHARDS_MAX ? RKV_SHARDS_MAX : (uint32_t)cpus;
    cfg->vnodes = RKV_VNODES_DEFAULT;
    cfg->conns_per_shard = RKV_CONNS_PER_SHARD_DEFAULT;
    cfg->idle_timeout_s = RKV_IDLE_TIMEOUT_S_DEFAULT;
    cfg->cache_bytes = RKV_WT_CACHE_BYTES_DEFAULT;
    cfg->row_cache_bytes = config_row_cache_bytes_default();
    cfg->row_cache_value_bytes_max = RKV_ROW_CACHE_VALUE_BYTES_DEFAULT;
    cfg->sweep_interval_s = RKV_SWEEP_INTERVAL_S_DEFAULT;
    cfg->tombstone_grace_s = RKV_TOMBSTONE_GRACE_S_DEFAULT;
    cfg->rf = RKV_RF_DEFAULT;
    cfg->request_timeout_ms = RKV_REQUEST_TIMEOUT_MS_DEFAULT;
    cfg->max_skew_ms = RKV_CLOCK_SKEW_MS_DEFAULT;
    cfg->hinted_handoff = true;
    cfg->hint_max_age_s = RKV_HINT_AGE_S_DEFAULT;
    cfg->pin_threads = true;
    cfg->log_level = RKV_LOG_INFO;
}

/* ---- The INI file ---------------------------------------------------------------------- */

/* State of one file's parse. inih reports only the line of the first syntax error, so the
 * reader counts lines itself: inih calls the handler for a line before it reads the next,
 * which makes `line` the handler's line too. The first error wins and stops the reading. */
struct config_file {
    struct rkv_config *cfg;
    const char *path;
    FILE *f;
    unsigned line;
    unsigned err_line; /* 0: no error yet */
    uint32_t seen_mask; /* keys already set by this file */
    char *err;
    size_t cap;
};

static bool config_file_section_ok(const char *name, size_t name_bytes)
{
    return name_bytes == 0 || (name_bytes == 6 && memcmp(name, "ringkv", 6) == 0);
}

static char *config_file_read(char *str, int num, void *stream)
{
    struct config_file *st = stream;
    if (st->err_line != 0 || num < 2)
        return NULL;
    if (fgets(str, num, st->f) == NULL)
        return NULL;
    st->line++;
    size_t n = strlen(str);
    if (n == (size_t)num - 1u && str[n - 1] != '\n') {
        /* inih would cut the line here and read the rest as a line of its own. */
        st->err_line = st->line;
        config_errf(st->err, st->cap, "%s:%u: line longer than %d bytes", st->path, st->line, num - 2);
        return NULL;
    }
    /* inih reports a section only with its first key; an unknown one is found here even
     * when it is empty. The name is taken between the brackets, as inih takes it. */
    const char *p = str;
    if (st->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v')
        p++;
    if (*p == '[') {
        const char *close = strchr(p + 1, ']');
        size_t name_bytes = close != NULL ? (size_t)(close - (p + 1)) : 0;
        if (close != NULL && !config_file_section_ok(p + 1, name_bytes)) {
            st->err_line = st->line;
            config_errf(st->err, st->cap, "%s:%u: unknown section [%.*s] (keys go in [ringkv] or before any section)",
                        st->path, st->line, name_bytes > 64 ? 64 : (int)name_bytes, p + 1);
            return NULL;
        }
    }
    return str;
}

static int config_file_handler(void *user, const char *section, const char *name, const char *value)
{
    struct config_file *st = user;
    if (st->err_line != 0)
        return 0;
    st->err_line = st->line; /* cleared again on success below */
    if (!config_file_section_ok(section, strlen(section))) {
        config_errf(st->err, st->cap, "%s:%u: unknown section [%.64s]", st->path, st->line, section);
        return 0;
    }
    enum config_key key = config_key_find(name, strlen(name));
    if (key == KEY_COUNT || !config_opts[key].in_file) {
        config_errf(st->err, st->cap, "%s:%u: unknown key \"%.64s\" (see --help)", st->path, st->line, name);
        return 0;
    }
    if (st->seen_mask & (UINT32_C(1) << key)) {
        /* Also what a continuation line (one starting with a space) of a value looks like. */
        config_errf(st->err, st->cap, "%s:%u: %s: given twice in the file", st->path, st->line, name);
        return 0;
    }
    st->seen_mask |= UINT32_C(1) << key;
    char where[CONFIG_WHERE_BYTES_MAX];
    snprintf(where, sizeof where, "%s:%u: %s", st->path, st->line, name);
    if (!config_set(st->cfg, key, value, where, st->err, st->cap))
        return 0;
    st->err_line = 0;
    return 1;
}

static bool config_file_load(struct rkv_config *cfg, const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        char buf[128];
        int e = errno;
        config_errf(err, cap, "--config: cannot open \"%s\": %s", path, strerror_r(e, buf, sizeof buf));
        return false;
    }
    struct config_file st = { .cfg = cfg, .path = path, .f = f, .err = err, .cap = cap };
    int rc = ini_parse_stream(config_file_read, &st, config_file_handler, &st);
    bool read_failed = ferror(f) != 0;
    fclose(f);
    if (rc > 0 && (st.err_line == 0 || (unsigned)rc < st.err_line)) {
        config_errf(err, cap, "%s:%d: syntax error (expected \"key = value\" or \"[ringkv]\")", path, rc);
        return false;
    }
    if (st.err_line != 0)
        return false;
    if (rc < 0 || read_failed) {
        config_errf(err, cap, "--config: cannot read \"%s\"", path);
        return false;
    }
    return true;
}

/* ---- The command line ------------------------------------------------------------------ */

/* One flag of argv: which key, and its value (NULL for flags without one). */
struct config_arg {
    enum config_key key;
    const char *value;
};

/* Reads the flag at argv[*i], advancing *i past its value. False with a message on error. */
static bool config_arg_next(int argc, char **argv, int *i, struct config_arg *arg_out, char *err, size_t cap)
{
    const char *a = argv[*i];
    char q[CONFIG_QUOTE_BYTES_MAX + 4u];
    arg_out->key = KEY_COUNT;
    arg_out->value = NULL;
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
        config_errf(err, cap, "unexpected argument \"%s\": ringkv takes only flags (see --help)",
                    config_quote(a, q));
        return false;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t name_bytes = eq != NULL ? (size_t)(eq - name) : strlen(name);
    enum config_key key = config_key_find(name, name_bytes);
    if (key == KEY_COUNT || !config_opts[key].is_flag) {
        config_errf(err, cap, "unknown flag \"--%.*s\" (see --help)",
                    name_bytes > CONFIG_QUOTE_BYTES_MAX ? (int)CONFIG_QUOTE_BYTES_MAX : (int)name_bytes, name);
        return false;
    }
    const char *fname = config_opts[key].name;
    if (!config_opts[key].takes_value) {
        if (eq != NULL) {
            config_errf(err, cap, "--%s: takes no value, got \"%s\"", fname, config_quote(eq + 1, q));
            return false;
        }
    } else if (eq != NULL) {
        arg_out->value = eq + 1;
    } else {
        /* The next argument is the value unless it is itself a flag: "--data --shards 4"
         * is far more likely a forgotten value than a directory named "--shards". A value
         * that starts with "--" can still be given as --flag=value. */
        if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) {
            config_errf(err, cap, "--%s: missing value", fname);
            return false;
        }
        (*i)++;
        arg_out->value = argv[*i];
    }
    arg_out->key = key;
    return true;
}

enum config_rc config_parse(int argc, char **argv, struct rkv_config *cfg_out, char *err_out, size_t err_cap)
{
    RKV_ASSERT(argc >= 0);
    RKV_ASSERT(argv != NULL || argc == 0);
    RKV_ASSERT(cfg_out != NULL);
    RKV_ASSERT(err_out != NULL || err_cap == 0);
    config_defaults(cfg_out);
    if (err_cap > 0)
        err_out[0] = '\0';

    /* First pass: the shape of the command line, --help, and the --config file (the last
     * one given), so that the file is read before any flag is applied. */
    const char *config_path = NULL;
    bool help = false;
    for (int i = 1; i < argc; i++) {
        struct config_arg arg;
        if (!config_arg_next(argc, argv, &i, &arg, err_out, err_cap))
            return CONFIG_ERROR;
        if (arg.key == KEY_HELP)
            help = true;
        else if (arg.key == KEY_CONFIG)
            config_path = arg.value;
    }
    if (help)
        return CONFIG_HELP;

    if (config_path != NULL) {
        size_t n = strlen(config_path);
        if (n < 1 || n >= RKV_PATH_BYTES_MAX) {
            char q[CONFIG_QUOTE_BYTES_MAX + 4u];
            config_errf(err_out, err_cap, "--config: must be a path of 1 to %u bytes, got \"%s\"",
                        RKV_PATH_BYTES_MAX - 1u, config_quote(config_path, q));
            return CONFIG_ERROR;
        }
        if (!config_file_load(cfg_out, config_path, err_out, err_cap))
            return CONFIG_ERROR;
    }

    /* Second pass: the flags, in order; a flag given twice keeps its last value. */
    for (int i = 1; i < argc; i++) {
        struct config_arg arg;
        bool ok = config_arg_next(argc, argv, &i, &arg, err_out, err_cap);
        RKV_ASSERT(ok); /* the first pass accepted the same arguments */
        if (arg.key == KEY_CONFIG)
            continue;
        char where[CONFIG_QUOTE_BYTES_MAX];
        snprintf(where, sizeof where, "--%s", config_opts[arg.key].name);
        if (!config_set(cfg_out, arg.key, arg.value != NULL ? arg.value : "", where, err_out, err_cap))
            return CONFIG_ERROR;
    }

    /* Rules between settings, wherever they were given. */
    if (cfg_out->seed_count > 0 && !cfg_out->peer_enabled) {
        config_errf(err_out, err_cap, "--seeds: needs --peer (this node's own peer address)");
        return CONFIG_ERROR;
    }
    if (cfg_out->peer_enabled && cfg_out->hinted_handoff && cfg_out->hint_max_age_s >= cfg_out->tombstone_grace_s) {
        config_errf(err_out, err_cap, "--hint-max-age: must be less than --tombstone-grace (%u s) while hinted handoff is on",
                    cfg_out->tombstone_grace_s);
        return CONFIG_ERROR;
    }
    if (cfg_out->peer_enabled && (uint32_t)cfg_out->peer.port + cfg_out->shards - 1u > 65535u) {
        config_errf(err_out, err_cap, "--peer: shard %u would listen on port %u + %u, past 65535", cfg_out->shards - 1u,
                    cfg_out->peer.port, cfg_out->shards - 1u);
        return CONFIG_ERROR;
    }
    return CONFIG_OK;
}
