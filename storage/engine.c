/* The storage engine on WiredTiger 3.2.1: one WT_CONNECTION per node (its log is our
 * write-ahead log), one LSM table per shard, a small btree metadata table, and the small
 * btree tables a shard may own besides its data (engine_table_open()). struct engine
 * belongs to the main thread, which opens and closes it; each struct engine_shard belongs to
 * its shard's thread and holds that shard's only WT_SESSION and its one reused cursor.
 * WiredTiger return codes never leave this file: engine_err() translates them.
 * docs/storage.md explains every configuration string chosen here. */
#include "storage/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <wiredtiger.h>

#include "core/assert.h"
#include "core/bytes.h"
#include "core/limits.h"
#include "core/log.h"

/* The version of the on-disk layout as a whole (tables and record format). A directory
 * written by another layout version is refused rather than misread. */
#define ENGINE_LAYOUT_VERSION 1u
#define ENGINE_META_URI "table:rkv_meta"
#define ENGINE_META_KEY_LAYOUT "layout_version"
#define ENGINE_META_KEY_NODE "node_id"
#define ENGINE_META_KEY_SHARDS "shard_count"
/* "table:shard_" + up to 10 digits + NUL. */
#define ENGINE_URI_BYTES 32u

/* WT_ROLLBACK on an auto-commit operation means a conflicting update or a cache that could
 * not make room in time; both clear up quickly, so we retry a few times and then answer
 * RKV_BUSY (backpressure) instead of spinning. Each shard is the only writer of its table,
 * so conflicts are rare and eight attempts are plenty. */
#define ENGINE_ROLLBACK_RETRIES_MAX 8u

/* Sessions beyond the shards' own: the main thread's (engine_open), WiredTiger's log
 * threads (3), LSM manager and workers (1 + 3), eviction (up to 8 by default), checkpoint
 * and sweep servers, with headroom for the per-shard background sessions to come
 * (streaming, anti-entropy). WiredTiger only reserves slots for these, so headroom is cheap. */
#define ENGINE_SESSIONS_EXTRA 32u

/* The LSM chunk size: see engine_chunk_bytes(). */
#define ENGINE_CHUNK_BYTES_MIN (2ull << 20)
#define ENGINE_CHUNK_BYTES_MAX (64ull << 20)

_Static_assert(ENGINE_CHUNK_BYTES_MIN > REC_HDR_BYTES + RKV_VALUE_BYTES_MAX + REC_STORED_KEY_BYTES_MAX,
               "the smallest chunk holds the largest record");
_Static_assert(ENGINE_CHUNK_BYTES_MIN >= (512u << 10), "WiredTiger's chunk_size minimum is 512K");
_Static_assert(ENGINE_CHUNK_BYTES_MAX <= (500u << 20), "WiredTiger's chunk_size maximum is 500MB");

/* Owner: the main thread. Read by shard threads only through their engine_shard, for the
 * connection pointer, which does not change while any shard is open. */
struct engine {
    WT_CONNECTION *conn;
    uint32_t shard_count;
    atomic_uint shards_open; /* engine_shard_open - engine_shard_close, over all threads */
    char dir[1024];            /* the data directory, for the space guard */
    /* The space guard (engine_space_check()): set while the data directory's filesystem has
     * less than the reserve free; every shard's writes read it. */
    atomic_bool space_low;
};

/* Owner: shard `idx`, on its own thread. */
struct engine_shard {
    struct engine *e;
    uint32_t idx;
    WT_SESSION *session;
    WT_CURSOR *cursor;  /* table:shard_<idx>, opened once and reused */
    /* The cursor (the data table's or an extra table's) that still backs the view of the
     * last read on the shard; NULL when none does. Every call on the shard resets it first. */
    WT_CURSOR *positioned;
    uint32_t tables_open; /* extra tables opened by engine_table_open() and not yet closed */
    bool scanning;      /* inside engine_scan_batch(): the callback may not use the cursor */
    uint64_t fault_checked_ms; /* fault hook (RKV_FAULT_HOOKS): when RKV_FAULT_FILE was last read */
    bool fault_on;
    uint8_t key_buf[REC_STORED_KEY_BYTES_MAX];
    /* WiredTiger takes a value as one contiguous item, so header ‖ value is assembled here.
     * Allocated once at open for the largest record: the write path does not allocate. */
    uint8_t *value_buf;
};

/* ---- error translation ---- */

/* WiredTiger's own diagnostics go through our logger so that they carry time and shard. */
static int engine_wt_on_error(WT_EVENT_HANDLER *handler, WT_SESSION *session, int error, const char *message)
{
    (void)handler;
    (void)session;
    rkv_log(RKV_LOG_ERROR, "wiredtiger: %s (%s)", message, wiredtiger_strerror(error));
    return 0;
}

static int engine_wt_on_message(WT_EVENT_HANDLER *handler, WT_SESSION *session, const char *message)
{
    (void)handler;
    (void)session;
    rkv_log(RKV_LOG_INFO, "wiredtiger: %s", message);
    return 0;
}

/* Never written after initialisation: read by WiredTiger's threads and ours alike. */
static WT_EVENT_HANDLER engine_wt_events = {
    .handle_error = engine_wt_on_error,
    .handle_message = engine_wt_on_message,
    .handle_progress = NULL,
    .handle_close = NULL,
};

/* Translates a WiredTiger (or errno) failure of `what`, logging one line for the ones that
 * are not normal results. WT_NOTFOUND is a normal result and is not logged. */
static enum rkv_err engine_err(int wt, const char *what)
{
    RKV_ASSERT(wt != 0);
    switch (wt) {
    case WT_NOTFOUND:
        return RKV_NOT_FOUND;
    case ENOSPC:
        rkv_log(RKV_LOG_ERROR, "storage: %s: %s", what, wiredtiger_strerror(wt));
        return RKV_NO_SPACE;
    case WT_ROLLBACK:
    case WT_CACHE_FULL:
        rkv_log(RKV_LOG_WARN, "storage: %s: %s, answering busy", what, wiredtiger_strerror(wt));
        return RKV_BUSY;
    case WT_PANIC:
        /* WiredTiger cannot go on in this process ("the process must exit and restart").
         * A node that stays up answering every request with an error only hides that from
         * its peers' failure detection; exit, and recovery from the log happens at the next
         * start. */
        rkv_log(RKV_LOG_ERROR, "storage: %s: WiredTiger panicked; the node exits and must be restarted", what);
        abort();
    default:
        rkv_log(RKV_LOG_ERROR, "storage: %s: %s", what, wiredtiger_strerror(wt));
        return RKV_IO;
    }
}

/* ---- opening ---- */

/* mkdir -p: creates dir and its missing parents. */
static enum rkv_err engine_mkdirs(const char *dir)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path) {
        rkv_log(RKV_LOG_ERROR, "storage: data directory path of %zu bytes is not usable", len);
        return RKV_INVALID_ARG;
    }
    memcpy(path, dir, len + 1);
    /* Each '/' after the first byte ends a parent; bounded by the path length. */
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            int err = errno;
            rkv_log(RKV_LOG_ERROR, "storage: cannot create %s: %s", path, strerror(err));
            return err == ENOSPC ? RKV_NO_SPACE : RKV_IO;
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rkv_log(RKV_LOG_ERROR, "storage: %s is not a directory", dir);
        return RKV_INVALID_ARG;
    }
    return RKV_OK;
}

/* The in-memory (primary) chunk of every shard, plus one being flushed, should fit in half
 * of the cache, leaving the rest for reads, bloom filters and merges:
 * 2 chunks x shards x chunk <= cache / 2. Clamped below so that a chunk holds several of
 * the largest records (smaller chunks mean more switches and merges), and above so that
 * one chunk flush stays short. */
static uint64_t engine_chunk_bytes(uint64_t cache_bytes, uint32_t shard_count)
{
    RKV_ASSERT(shard_count >= 1);
    uint64_t chunk = cache_bytes / (4u * (uint64_t)shard_count);
    if (chunk < ENGINE_CHUNK_BYTES_MIN)
        chunk = ENGINE_CHUNK_BYTES_MIN;
    if (chunk > ENGINE_CHUNK_BYTES_MAX)
        chunk = ENGINE_CHUNK_BYTES_MAX;
    return chunk;
}

static void engine_shard_uri(char out[ENGINE_URI_BYTES], uint32_t shard_idx)
{
    int n = snprintf(out, ENGINE_URI_BYTES, "table:shard_%" PRIu32, shard_idx);
    RKV_ASSERT(n > 0 && (size_t)n < ENGINE_URI_BYTES);
}

/* Reads one metadata string into out (NUL-terminated). RKV_NOT_FOUND when absent;
 * RKV_CORRUPT when longer than out. */
static enum rkv_err engine_meta_get(WT_CURSOR *c, const char *key, char *out, size_t out_bytes)
{
    c->set_key(c, key);
    int wt = c->search(c);
    if (wt != 0) {
        (void)c->reset(c);
        return engine_err(wt, "metadata search");
    }
    const char *value = NULL;
    wt = c->get_value(c, &value);
    enum rkv_err err = RKV_OK;
    if (wt != 0) {
        err = engine_err(wt, "metadata get_value");
    } else if (strlen(value) >= out_bytes) {
        rkv_log(RKV_LOG_ERROR, "storage: metadata %s is %zu bytes long: corrupt", key, strlen(value));
        err = RKV_CORRUPT;
    } else {
        memcpy(out, value, strlen(value) + 1);
    }
    (void)c->reset(c);
    return err;
}

/* Records layout version, node id and shard count of a new directory in one transaction,
 * then makes it durable, so that a directory has either all three or none. */
static enum rkv_err engine_meta_init(WT_SESSION *session, WT_CURSOR *c, const struct engine_config *cfg)
{
    char layout[16], shards[16];
    snprintf(layout, sizeof layout, "%u", ENGINE_LAYOUT_VERSION);
    snprintf(shards, sizeof shards, "%" PRIu32, cfg->shard_count);
    int wt = session->begin_transaction(session, NULL);
    if (wt != 0)
        return engine_err(wt, "metadata begin_transaction");
    const char *const kv[3][2] = {
        { ENGINE_META_KEY_LAYOUT, layout },
        { ENGINE_META_KEY_NODE, cfg->node_id },
        { ENGINE_META_KEY_SHARDS, shards },
    };
    for (size_t i = 0; i < RKV_ARRAY_LEN(kv) && wt == 0; i++) {
        c->set_key(c, kv[i][0]);
        c->set_value(c, kv[i][1]);
        wt = c->insert(c);
    }
    if (wt != 0) {
        (void)session->rollback_transaction(session, NULL);
        return engine_err(wt, "metadata insert");
    }
    wt = session->commit_transaction(session, NULL);
    if (wt != 0)
        return engine_err(wt, "metadata commit");
    wt = session->log_flush(session, "sync=on");
    if (wt != 0)
        return engine_err(wt, "metadata log_flush");
    return RKV_OK;
}

/* Compares the metadata of an existing directory with cfg. */
static enum rkv_err engine_meta_check(WT_CURSOR *c, const struct engine_config *cfg)
{
    char layout[16], node[RKV_NODE_ID_BYTES_MAX + 1], shards[16];
    enum rkv_err err = engine_meta_get(c, ENGINE_META_KEY_LAYOUT, layout, sizeof layout);
    if (err == RKV_OK)
        err = engine_meta_get(c, ENGINE_META_KEY_NODE, node, sizeof node);
    if (err == RKV_OK)
        err = engine_meta_get(c, ENGINE_META_KEY_SHARDS, shards, sizeof shards);
    if (err == RKV_NOT_FOUND) {
        rkv_log(RKV_LOG_ERROR, "storage: %s: metadata table is incomplete: corrupt", cfg->dir);
        return RKV_CORRUPT;
    }
    if (err != RKV_OK)
        return err;

    char want[16];
    snprintf(want, sizeof want, "%u", ENGINE_LAYOUT_VERSION);
    if (strcmp(layout, want) != 0) {
        rkv_log(RKV_LOG_ERROR, "storage: %s was written with layout version %s; this build reads %s",
                cfg->dir, layout, want);
        return RKV_INVALID_ARG;
    }
    if (strcmp(node, cfg->node_id) != 0) {
        rkv_log(RKV_LOG_ERROR, "storage: %s belongs to node id '%s', refusing to open it as '%s'",
                cfg->dir, node, cfg->node_id);
        return RKV_INVALID_ARG;
    }
    snprintf(want, sizeof want, "%" PRIu32, cfg->shard_count);
    if (strcmp(shards, want) != 0) {
        rkv_log(RKV_LOG_ERROR, "storage: %s was created with %s shards, refusing to open it with %s "
                "(data lives in per-shard tables)", cfg->dir, shards, want);
        return RKV_INVALID_ARG;
    }
    return RKV_OK;
}

/* Creates the metadata table, checks or records the metadata, and creates every shard's
 * table. Creating an existing table with the same configuration is a no-op in WiredTiger,
 * so this runs on every open. */
static enum rkv_err engine_setup(WT_SESSION *session, const struct engine_config *cfg)
{
    /* The metadata table is a plain btree (type=file, the default): a handful of keys. */
    int wt = session->create(session, ENGINE_META_URI, "key_format=S,value_format=S");
    if (wt != 0)
        return engine_err(wt, "create metadata table");
    WT_CURSOR *c = NULL;
    wt = session->open_cursor(session, ENGINE_META_URI, NULL, NULL, &c);
    if (wt != 0)
        return engine_err(wt, "open metadata cursor");

    char probe[16];
    enum rkv_err err = engine_meta_get(c, ENGINE_META_KEY_LAYOUT, probe, sizeof probe);
    if (err == RKV_NOT_FOUND)
        err = engine_meta_init(session, c, cfg);
    else if (err == RKV_OK)
        err = engine_meta_check(c, cfg);
    int ct = c->close(c);
    if (err == RKV_OK && ct != 0)
        err = engine_err(ct, "close metadata cursor");
    if (err != RKV_OK)
        return err;

    /* bloom_oldest: every put reads the key first, and most puts of fresh keys miss in
     * every chunk; a filter on the oldest (largest) chunk too saves that miss a disk read.
     * 16 bits and 8 hashes per key (the defaults) give about 0.06 % false positives. */
    char table_cfg[256];
    int n = snprintf(table_cfg, sizeof table_cfg,
                     "type=lsm,key_format=u,value_format=u,"
                     "lsm=(chunk_size=%" PRIu64 ",bloom=true,bloom_oldest=true,"
                     "bloom_bit_count=16,bloom_hash_count=8)",
                     engine_chunk_bytes(cfg->cache_bytes, cfg->shard_count));
    RKV_ASSERT(n > 0 && (size_t)n < sizeof table_cfg);
    for (uint32_t i = 0; i < cfg->shard_count; i++) {
        char uri[ENGINE_URI_BYTES];
        engine_shard_uri(uri, i);
        wt = session->create(session, uri, table_cfg);
        if (wt != 0)
            return engine_err(wt, "create shard table");
    }
    return RKV_OK;
}

enum rkv_err engine_open(const struct engine_config *cfg, struct engine **engine_out)
{
    RKV_ASSERT(engine_out != NULL);
    *engine_out = NULL;
    RKV_ASSERT(cfg != NULL);
    RKV_ASSERT(cfg->dir != NULL);
    RKV_ASSERT(cfg->node_id != NULL);
    RKV_ASSERT(cfg->node_id[0] != '\0');
    RKV_ASSERT(strlen(cfg->node_id) <= RKV_NODE_ID_BYTES_MAX);
    RKV_ASSERT(cfg->shard_count >= 1);
    RKV_ASSERT(cfg->shard_count <= RKV_SHARDS_MAX);
    RKV_ASSERT(cfg->cache_bytes >= RKV_WT_CACHE_BYTES_MIN);

    enum rkv_err err = engine_mkdirs(cfg->dir);
    if (err != RKV_OK)
        return err;

    struct engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return RKV_INTERNAL;
    e->shard_count = cfg->shard_count;
    snprintf(e->dir, sizeof e->dir, "%s", cfg->dir);
    atomic_init(&e->shards_open, 0u);

    /* log: the write-ahead log. transaction_sync off: a commit only fills the log buffer;
     * durability comes from one engine_log_flush(sync=on) per loop turn (group commit).
     * checkpoint every 60 s bounds recovery time and lets old log files be archived.
     * lsm_manager: 3 workers is WiredTiger's minimum, and they share the shards' cores.
     * statistics=(fast): the cheap counters only, for /metrics (cache fill). */
    char conn_cfg[512];
    int n = snprintf(conn_cfg, sizeof conn_cfg,
                     "create,cache_size=%" PRIu64 ",session_max=%" PRIu32 ","
                     "log=(enabled=true,archive=true,prealloc=true),"
                     "transaction_sync=(enabled=false),"
                     "checkpoint=(wait=60),"
                     "lsm_manager=(worker_thread_max=3,merge=true),"
                     "statistics=(fast)",
                     cfg->cache_bytes, cfg->shard_count + ENGINE_SESSIONS_EXTRA);
    RKV_ASSERT(n > 0 && (size_t)n < sizeof conn_cfg);

    int wt = wiredtiger_open(cfg->dir, &engine_wt_events, conn_cfg, &e->conn);
    if (wt != 0) {
        err = engine_err(wt, "wiredtiger_open");
        free(e);
        return err;
    }

    WT_SESSION *session = NULL;
    wt = e->conn->open_session(e->conn, NULL, NULL, &session);
    if (wt != 0) {
        err = engine_err(wt, "open_session");
        goto out;
    }
    err = engine_setup(session, cfg);
    wt = session->close(session, NULL);
    if (err == RKV_OK && wt != 0)
        err = engine_err(wt, "close session");

out:
    if (err != RKV_OK) {
        (void)e->conn->close(e->conn, NULL);
        free(e);
        return err;
    }
    rkv_log(RKV_LOG_INFO, "storage: opened %s as node '%s' with %" PRIu32 " shards",
            cfg->dir, cfg->node_id, cfg->shard_count);
    *engine_out = e;
    return RKV_OK;
}

void engine_close(struct engine *e)
{
    RKV_ASSERT(e != NULL);
    RKV_ASSERT(atomic_load(&e->shards_open) == 0);
    /* Closing the connection checkpoints every table, so the next open replays no log. */
    int wt = e->conn->close(e->conn, NULL);
    if (wt != 0)
        (void)engine_err(wt, "close connection");
    free(e);
}

enum rkv_err engine_shard_open(struct engine *e, uint32_t shard_idx, struct engine_shard **shard_out)
{
    RKV_ASSERT(shard_out != NULL);
    *shard_out = NULL;
    RKV_ASSERT(e != NULL);
    RKV_ASSERT(shard_idx < e->shard_count);

    struct engine_shard *s = calloc(1, sizeof *s);
    if (s == NULL)
        return RKV_INTERNAL;
    s->value_buf = malloc(REC_HDR_BYTES + (size_t)RKV_VALUE_BYTES_MAX);
    if (s->value_buf == NULL) {
        free(s);
        return RKV_INTERNAL;
    }
    s->e = e;
    s->idx = shard_idx;

    enum rkv_err err = RKV_OK;
    int wt = e->conn->open_session(e->conn, NULL, NULL, &s->session);
    if (wt != 0) {
        err = engine_err(wt, "shard open_session");
        goto out;
    }
    char uri[ENGINE_URI_BYTES];
    engine_shard_uri(uri, shard_idx);
    wt = s->session->open_cursor(s->session, uri, NULL, NULL, &s->cursor);
    if (wt != 0)
        err = engine_err(wt, "shard open_cursor");

out:
    if (err != RKV_OK) {
        if (s->session != NULL)
            (void)s->session->close(s->session, NULL);
        free(s->value_buf);
        free(s);
        return err;
    }
    atomic_fetch_add(&e->shards_open, 1u);
    *shard_out = s;
    return RKV_OK;
}

void engine_shard_close(struct engine_shard *s)
{
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(atomic_load(&s->e->shards_open) > 0);
    RKV_ASSERT(s->tables_open == 0); /* each engine_table is freed by its owner first */
    /* Closing the session closes its cursor too. */
    int wt = s->session->close(s->session, NULL);
    if (wt != 0)
        (void)engine_err(wt, "shard session close");
    atomic_fetch_sub(&s->e->shards_open, 1u);
    free(s->value_buf);
    free(s);
}

/* ---- the data path ---- */

/* Ends the view handed out by the previous engine_read(): the cursor kept its position
 * (and with it a snapshot) so that the view stayed valid until this call on the shard. */
static void engine_shard_release(struct engine_shard *s)
{
    /* Every call on the shard passes here first; one made from a scan callback would move
     * the cursor the scan stands on. */
    RKV_ASSERT(!s->scanning);
    if (s->positioned == NULL)
        return;
    WT_CURSOR *c = s->positioned;
    s->positioned = NULL;
    int wt = c->reset(c);
    /* reset only releases a position; it has no failure a caller could act on. */
    RKV_DEBUG_ASSERT(wt == 0);
    (void)wt;
}

enum rkv_err engine_cache_stats(struct engine_shard *s, uint64_t *bytes_out, uint64_t *max_bytes_out)
{
    *bytes_out = 0;
    *max_bytes_out = 0;
    engine_shard_release(s);
    WT_CURSOR *c = NULL;
    int wt = s->session->open_cursor(s->session, "statistics:", NULL, NULL, &c);
    if (wt != 0)
        return engine_err(wt, "open statistics cursor");
    static const int keys[2] = { WT_STAT_CONN_CACHE_BYTES_INUSE, WT_STAT_CONN_CACHE_BYTES_MAX };
    uint64_t *outs[2] = { bytes_out, max_bytes_out };
    for (int i = 0; i < 2 && wt == 0; i++) {
        c->set_key(c, keys[i]);
        wt = c->search(c);
        if (wt == 0) {
            const char *desc, *pvalue;
            int64_t value;
            wt = c->get_value(c, &desc, &pvalue, &value);
            if (wt == 0)
                *outs[i] = value > 0 ? (uint64_t)value : 0;
        }
    }
    int wt_close = c->close(c);
    if (wt == 0)
        wt = wt_close;
    return wt == 0 ? RKV_OK : engine_err(wt, "read cache statistics");
}

void engine_shard_idle(struct engine_shard *s)
{
    engine_shard_release(s);
}

enum rkv_err engine_read(struct engine_shard *s, uint64_t token, const uint8_t *key,
                         size_t key_bytes, struct record_view *view_out)
{
    RKV_ASSERT(view_out != NULL);
    memset(view_out, 0, sizeof *view_out);
    RKV_ASSERT(s != NULL);
    engine_shard_release(s);

    WT_ITEM k = { .data = s->key_buf, .size = record_key_encode(s->key_buf, token, key, key_bytes) };
    WT_CURSOR *c = s->cursor;
    int wt = 0;
    for (unsigned attempt = 0; attempt < ENGINE_ROLLBACK_RETRIES_MAX; attempt++) {
        c->set_key(c, &k);
        wt = c->search(c);
        if (wt != WT_ROLLBACK)
            break;
        (void)c->reset(c);
    }
    if (wt != 0) {
        (void)c->reset(c);
        return engine_err(wt, "read search");
    }
    WT_ITEM v = { 0 };
    wt = c->get_value(c, &v);
    if (wt != 0) {
        (void)c->reset(c);
        return engine_err(wt, "read get_value");
    }
    enum rkv_err err = record_decode(v.data, v.size, view_out);
    if (err != RKV_OK) {
        RKV_ASSERT(err == RKV_CORRUPT);
        rkv_log(RKV_LOG_ERROR, "storage: shard %" PRIu32 ": corrupt record of %zu bytes at token %016" PRIx64,
                s->idx, v.size, token);
        (void)c->reset(c);
        return err;
    }
    /* Keep the cursor positioned: view_out points into the page WiredTiger holds for it. */
    s->positioned = c;
    return RKV_OK;
}

/* The reserve: WiredTiger must never meet a full disk itself. An LSM chunk switch or a
 * checkpoint that fails with ENOSPC panics the library ("the process must exit and
 * restart"), so ringkv refuses new writes (RKV_NO_SPACE) while less than this is free and
 * leaves the rest to WiredTiger's background work: 5 % of the filesystem, at least 16 MiB,
 * at most 1 GiB. */
static uint64_t engine_space_reserve(uint64_t fs_bytes)
{
    uint64_t r = fs_bytes / 20u;
    if (r < (16ull << 20))
        r = 16ull << 20;
    if (r > (1ull << 30))
        r = 1ull << 30;
    return r;
}

bool engine_space_check(struct engine *e)
{
    struct statvfs st;
    if (statvfs(e->dir, &st) != 0)
        return atomic_load(&e->space_low); /* unknown: keep the last verdict */
    uint64_t block = st.f_frsize ? st.f_frsize : st.f_bsize;
    uint64_t free_bytes = (uint64_t)st.f_bavail * block;
    uint64_t fs_bytes = (uint64_t)st.f_blocks * block;
    bool low = free_bytes < engine_space_reserve(fs_bytes);
    bool was = atomic_exchange(&e->space_low, low);
    if (low != was)
        rkv_log(low ? RKV_LOG_ERROR : RKV_LOG_INFO, "storage: %llu MiB free in %s: writes %s",
                (unsigned long long)(free_bytes >> 20), e->dir, low ? "refused until space is freed" : "accepted again");
    return low;
}

#ifdef RKV_FAULT_HOOKS
bool engine_fault_active(struct engine_shard *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    if (now - s->fault_checked_ms < 50u && s->fault_checked_ms != 0)
        return s->fault_on;
    s->fault_checked_ms = now;
    s->fault_on = false;
    const char *path = getenv("RKV_FAULT_FILE");
    if (path == NULL)
        return false;
    /* Test builds only: a plain read on the shard thread is acceptable here. */
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    char buf[4] = { 0 };
    size_t n = fread(buf, 1, 2, f);
    fclose(f);
    s->fault_on = n == 2 && buf[0] == 'i' && buf[1] == 'o';
    return s->fault_on;
}
#else
bool engine_fault_active(struct engine_shard *s)
{
    (void)s;
    return false;
}
#endif

enum rkv_err engine_write(struct engine_shard *s, uint64_t token, const uint8_t *key,
                          size_t key_bytes, const struct record_hdr *hdr, const uint8_t *value,
                          uint32_t value_bytes)
{
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(hdr != NULL);
    RKV_ASSERT(value != NULL || value_bytes == 0);
    engine_shard_release(s);
    if (engine_fault_active(s))
        return RKV_IO;
    if (atomic_load_explicit(&s->e->space_low, memory_order_relaxed))
        return RKV_NO_SPACE;

    /* record_hdr_encode() asserts the record's invariants before it reaches the disk. */
    record_hdr_encode(s->value_buf, hdr, value_bytes);
    if (value_bytes > 0)
        memcpy(s->value_buf + REC_HDR_BYTES, value, value_bytes);
    WT_ITEM k = { .data = s->key_buf, .size = record_key_encode(s->key_buf, token, key, key_bytes) };
    WT_ITEM v = { .data = s->value_buf, .size = REC_HDR_BYTES + (size_t)value_bytes };
    RKV_DEBUG_ASSERT(record_decode(v.data, v.size, &(struct record_view){ 0 }) == RKV_OK);

    WT_CURSOR *c = s->cursor;
    int wt = 0;
    for (unsigned attempt = 0; attempt < ENGINE_ROLLBACK_RETRIES_MAX; attempt++) {
        c->set_key(c, &k);
        c->set_value(c, &v);
        wt = c->insert(c); /* overwrite=true, the cursor default: insert or replace */
        (void)c->reset(c);
        if (wt != WT_ROLLBACK)
            break;
    }
    if (wt != 0)
        return engine_err(wt, "write insert");
    return RKV_OK;
}

enum rkv_err engine_remove(struct engine_shard *s, uint64_t token, const uint8_t *key, size_t key_bytes)
{
    RKV_ASSERT(s != NULL);
    engine_shard_release(s);
    if (engine_fault_active(s))
        return RKV_IO;
    if (atomic_load_explicit(&s->e->space_low, memory_order_relaxed))
        return RKV_NO_SPACE;
    WT_ITEM k = { .data = s->key_buf, .size = record_key_encode(s->key_buf, token, key, key_bytes) };
    WT_CURSOR *c = s->cursor;
    int wt = 0;
    for (unsigned attempt = 0; attempt < ENGINE_ROLLBACK_RETRIES_MAX; attempt++) {
        c->set_key(c, &k);
        wt = c->remove(c); /* overwrite=true, the cursor default: no check that it exists */
        (void)c->reset(c);
        if (wt != WT_ROLLBACK)
            break;
    }
    /* Removing what is not there leaves the table as the caller wants it. */
    if (wt != 0 && wt != WT_NOTFOUND)
        return engine_err(wt, "remove");
    return RKV_OK;
}

/* ---- scans ---- */

/* Positions the cursor on the first record the batch after pos examines: the first stored
 * key above pos->key (at or above it when pos->inclusive). Returns 0 when positioned,
 * WT_NOTFOUND when no such record exists, or another WiredTiger error. */
static int engine_scan_seek(struct engine_shard *s, const struct engine_scan_pos *pos)
{
    WT_CURSOR *c = s->cursor;
    if (pos->key_bytes == 0)
        return c->next(c); /* a reset cursor's next() is the table's first record */
    /* The search key is copied into the shard's buffer, which nothing touches during the
     * batch, so that the caller's pos may be rewritten while the cursor stands on a record. */
    memcpy(s->key_buf, pos->key, pos->key_bytes);
    WT_ITEM k = { .data = s->key_buf, .size = pos->key_bytes };
    c->set_key(c, &k);
    int exact = 0;
    int wt = c->search_near(c, &exact);
    if (wt != 0)
        return wt; /* WT_NOTFOUND: the table is empty */
    /* search_near lands on the key, the nearest one below it (exact < 0) or the nearest one
     * above it (exact > 0). */
    if (exact < 0 || (exact == 0 && !pos->inclusive))
        wt = c->next(c);
    return wt;
}

/* Moves pos past the stored key k just examined. Returns false when no key can follow k,
 * which ends the scan.
 * Every key ringkv writes fits in pos (record_key_encode() bounds it), but a longer one read
 * from disk must still be passed over without looping on it: pos becomes the smallest key
 * above every key that starts with k's first REC_STORED_KEY_BYTES_MAX bytes, P, and the next
 * batch starts at it (inclusive). Only keys longer than the maximum lie in that gap (the one
 * key of the maximum length in it, P itself, sorts before k and was examined already), so
 * nothing well-formed is skipped. The empty key would be followed likewise by "\0". */
static bool engine_scan_pos_set(struct engine_scan_pos *pos, const uint8_t *k, size_t k_bytes)
{
    if (k_bytes >= 1 && k_bytes <= REC_STORED_KEY_BYTES_MAX) {
        memcpy(pos->key, k, k_bytes);
        pos->key_bytes = (uint32_t)k_bytes;
        pos->inclusive = false;
        return true;
    }
    if (k_bytes == 0) {
        /* WiredTiger refuses empty keys, so this is a fallback that should never run. */
        RKV_DEBUG_ASSERT(k_bytes != 0);
        pos->key[0] = 0;
        pos->key_bytes = 1;
        pos->inclusive = true;
        return true;
    }
    size_t n = REC_STORED_KEY_BYTES_MAX;
    memcpy(pos->key, k, n);
    while (n > 0 && pos->key[n - 1] == 0xff)
        n--;
    if (n == 0)
        return false;
    pos->key[n - 1]++;
    pos->key_bytes = (uint32_t)n;
    pos->inclusive = true;
    return true;
}

enum rkv_err engine_scan_batch(struct engine_shard *s, struct engine_scan_pos *pos, uint32_t max_records, void *arg,
                               engine_scan_fn *visit, struct engine_scan_result *result_out)
{
    RKV_ASSERT(result_out != NULL);
    memset(result_out, 0, sizeof *result_out);
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(pos != NULL);
    RKV_ASSERT(pos->key_bytes <= REC_STORED_KEY_BYTES_MAX);
    RKV_ASSERT(max_records >= 1);
    RKV_ASSERT(visit != NULL);
    engine_shard_release(s);

    WT_CURSOR *c = s->cursor;
    size_t corrupt_first_bytes = 0; /* the first corrupt record's stored length, for the log */
    uint64_t corrupt_first_token = 0;
    int wt = engine_scan_seek(s, pos);
    s->scanning = true;
    /* At most max_records turns: each one examines a record and counts it. */
    while (wt == 0) {
        WT_ITEM k = { 0 }, v = { 0 };
        wt = c->get_key(c, &k);
        if (wt == 0)
            wt = c->get_value(c, &v);
        if (wt != 0)
            break;
        result_out->examined_count++;
        bool more = engine_scan_pos_set(pos, k.data, k.size);

        const uint8_t *sk = k.data;
        struct record_view rec;
        bool key_ok = k.size > 8u && k.size <= REC_STORED_KEY_BYTES_MAX;
        bool stop = false;
        if (key_ok && record_decode(v.data, v.size, &rec) == RKV_OK) {
            result_out->visited_count++;
            stop = visit(arg, load_be64(sk), sk + 8, k.size - 8u, &rec) == ENGINE_SCAN_STOP;
        } else {
            if (result_out->corrupt_count == 0) {
                corrupt_first_bytes = v.size;
                corrupt_first_token = k.size >= 8u ? load_be64(sk) : 0;
            }
            result_out->corrupt_count++;
        }
        if (!more) {
            wt = WT_NOTFOUND;
            break;
        }
        /* Step on even when the batch is over: a WT_NOTFOUND here tells the caller that the
         * table is done, so a scan never needs a batch that finds nothing. A failure of that
         * look-ahead concerns no record of this batch; the next batch meets it again. */
        wt = c->next(c);
        /* After a malformed key pos may point past records the cursor would step onto
         * (engine_scan_pos_set()): the next batch seeks there instead. */
        if (stop || pos->inclusive || result_out->examined_count == max_records) {
            if (wt != WT_NOTFOUND)
                wt = 0;
            break;
        }
    }
    s->scanning = false;
    int rt = c->reset(c);
    RKV_DEBUG_ASSERT(rt == 0);
    (void)rt;

    if (result_out->corrupt_count > 0)
        rkv_log(RKV_LOG_ERROR, "storage: shard %" PRIu32 ": scan skipped %" PRIu32 " corrupt records, the first "
                "at token %016" PRIx64 " with a stored value of %zu bytes", s->idx, result_out->corrupt_count,
                corrupt_first_token, corrupt_first_bytes);
    if (wt == WT_NOTFOUND) {
        result_out->end = true;
        return RKV_OK;
    }
    if (wt != 0)
        return engine_err(wt, "scan");
    RKV_ASSERT(result_out->examined_count >= 1);
    return RKV_OK;
}

enum rkv_err engine_log_flush(struct engine_shard *s)
{
    RKV_ASSERT(s != NULL);
    engine_shard_release(s);
    if (engine_fault_active(s))
        return RKV_IO;
    int wt = s->session->log_flush(s->session, "sync=on");
    if (wt != 0)
        return engine_err(wt, "log_flush");
    return RKV_OK;
}

/* ---- extra tables ---- */

/* "table:" + name + "_" + up to 10 digits + NUL. */
#define ENGINE_TABLE_URI_BYTES (6u + ENGINE_TABLE_NAME_BYTES_MAX + 1u + 10u + 1u)

/* Owner: the module that opened it, on the thread of shard s. */
struct engine_table {
    struct engine_shard *s;
    WT_CURSOR *cursor; /* opened once and reused */
    /* A search key is copied here: after an exact match WiredTiger's cursor may go on pointing
     * at the application's key, which must then live as long as the position does. */
    uint8_t key_buf[ENGINE_TABLE_KEY_BYTES_MAX];
};

static bool engine_table_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len < 1 || len > ENGINE_TABLE_NAME_BYTES_MAX || strcmp(name, "shard") == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

enum rkv_err engine_table_open(struct engine_shard *s, const char *name, struct engine_table **table_out)
{
    RKV_ASSERT(table_out != NULL);
    *table_out = NULL;
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(name != NULL);
    RKV_ASSERT(engine_table_name_ok(name));
    engine_shard_release(s);

    char uri[ENGINE_TABLE_URI_BYTES];
    int n = snprintf(uri, sizeof uri, "table:%s_%" PRIu32, name, s->idx);
    RKV_ASSERT(n > 0 && (size_t)n < sizeof uri);

    struct engine_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return RKV_INTERNAL;
    t->s = s;
    /* A plain btree (type=file, the default): these tables are small queues and indexes read
     * by range, where an LSM tree's chunks, merges and bloom filters buy nothing. Creating a
     * table that exists with the same configuration is a no-op. */
    int wt = s->session->create(s->session, uri, "key_format=u,value_format=u");
    if (wt == 0)
        wt = s->session->open_cursor(s->session, uri, NULL, NULL, &t->cursor);
    if (wt != 0) {
        enum rkv_err err = engine_err(wt, "open extra table");
        free(t);
        return err;
    }
    s->tables_open++;
    *table_out = t;
    return RKV_OK;
}

void engine_table_close(struct engine_table *t)
{
    RKV_ASSERT(t != NULL);
    struct engine_shard *s = t->s;
    RKV_ASSERT(s->tables_open > 0);
    engine_shard_release(s);
    int wt = t->cursor->close(t->cursor);
    if (wt != 0)
        (void)engine_err(wt, "close extra table cursor");
    s->tables_open--;
    free(t);
}

enum rkv_err engine_table_put(struct engine_table *t, const uint8_t *key, size_t key_bytes, const uint8_t *value,
                              size_t value_bytes)
{
    RKV_ASSERT(t != NULL);
    RKV_ASSERT(key != NULL);
    RKV_ASSERT(key_bytes >= 1);
    RKV_ASSERT(key_bytes <= ENGINE_TABLE_KEY_BYTES_MAX);
    RKV_ASSERT(value != NULL || value_bytes == 0);
    engine_shard_release(t->s);
    if (atomic_load_explicit(&t->s->e->space_low, memory_order_relaxed))
        return RKV_NO_SPACE;

    WT_ITEM k = { .data = key, .size = key_bytes };
    WT_ITEM v = { .data = value, .size = value_bytes };
    WT_CURSOR *c = t->cursor;
    int wt = 0;
    for (unsigned attempt = 0; attempt < ENGINE_ROLLBACK_RETRIES_MAX; attempt++) {
        c->set_key(c, &k);
        c->set_value(c, &v);
        wt = c->insert(c); /* overwrite=true, the cursor default: insert or replace */
        (void)c->reset(c);
        if (wt != WT_ROLLBACK)
            break;
    }
    if (wt != 0)
        return engine_err(wt, "extra table insert");
    return RKV_OK;
}

enum rkv_err engine_table_remove(struct engine_table *t, const uint8_t *key, size_t key_bytes)
{
    RKV_ASSERT(t != NULL);
    RKV_ASSERT(key != NULL);
    RKV_ASSERT(key_bytes >= 1);
    RKV_ASSERT(key_bytes <= ENGINE_TABLE_KEY_BYTES_MAX);
    engine_shard_release(t->s);

    memcpy(t->key_buf, key, key_bytes);
    WT_ITEM k = { .data = t->key_buf, .size = key_bytes };
    WT_CURSOR *c = t->cursor;
    int wt = 0;
    /* The owner needs to know whether a record went (hints count them), and an overwriting
     * remove does not say: search first, then remove the record the cursor stands on. */
    for (unsigned attempt = 0; attempt < ENGINE_ROLLBACK_RETRIES_MAX; attempt++) {
        c->set_key(c, &k);
        wt = c->search(c);
        if (wt == 0)
            wt = c->remove(c);
        (void)c->reset(c);
        if (wt != WT_ROLLBACK)
            break;
    }
    if (wt != 0)
        return engine_err(wt, "extra table remove"); /* WT_NOTFOUND: RKV_NOT_FOUND, not logged */
    return RKV_OK;
}

/* Reads the record the cursor of t stands on into the outputs and marks the cursor as the
 * one backing the shard's view; on failure resets it. */
static enum rkv_err engine_table_take(struct engine_table *t, int wt, const char *what, struct engine_bytes *key_out,
                                      struct engine_bytes *value_out)
{
    WT_CURSOR *c = t->cursor;
    WT_ITEM k = { 0 }, v = { 0 };
    if (wt == 0)
        wt = c->get_key(c, &k);
    if (wt == 0)
        wt = c->get_value(c, &v);
    if (wt != 0) {
        (void)c->reset(c);
        return engine_err(wt, what);
    }
    key_out->data = k.data;
    key_out->bytes = k.size;
    value_out->data = v.data;
    value_out->bytes = v.size;
    /* Keep the position: the outputs point into the page WiredTiger holds for it. */
    t->s->positioned = c;
    return RKV_OK;
}

enum rkv_err engine_table_seek(struct engine_table *t, const uint8_t *key, size_t key_bytes, bool inclusive,
                               struct engine_bytes *key_out, struct engine_bytes *value_out)
{
    RKV_ASSERT(key_out != NULL);
    RKV_ASSERT(value_out != NULL);
    memset(key_out, 0, sizeof *key_out);
    memset(value_out, 0, sizeof *value_out);
    RKV_ASSERT(t != NULL);
    RKV_ASSERT(key != NULL || key_bytes == 0);
    RKV_ASSERT(key_bytes <= ENGINE_TABLE_KEY_BYTES_MAX);
    engine_shard_release(t->s);

    if (key_bytes > 0)
        memcpy(t->key_buf, key, key_bytes);
    WT_ITEM k = { .data = t->key_buf, .size = key_bytes };
    WT_CURSOR *c = t->cursor;
    int wt = 0;
    for (unsigned attempt = 0; attempt < ENGINE_ROLLBACK_RETRIES_MAX; attempt++) {
        if (key_bytes == 0) {
            wt = c->next(c); /* a reset cursor's next() is the table's first record */
        } else {
            c->set_key(c, &k);
            int exact = 0;
            wt = c->search_near(c, &exact);
            /* search_near lands on the key, the nearest one below it (exact < 0) or the
             * nearest one above it (exact > 0); WT_NOTFOUND: the table is empty. */
            if (wt == 0 && (exact < 0 || (exact == 0 && !inclusive)))
                wt = c->next(c);
        }
        if (wt != WT_ROLLBACK)
            break;
        (void)c->reset(c);
    }
    return engine_table_take(t, wt, "extra table seek", key_out, value_out);
}

enum rkv_err engine_table_next(struct engine_table *t, struct engine_bytes *key_out, struct engine_bytes *value_out)
{
    RKV_ASSERT(key_out != NULL);
    RKV_ASSERT(value_out != NULL);
    memset(key_out, 0, sizeof *key_out);
    memset(value_out, 0, sizeof *value_out);
    RKV_ASSERT(t != NULL);
    RKV_ASSERT(!t->s->scanning);
    /* The position is the one the last call on the shard left: any other call has reset it,
     * and a reset cursor's next() would silently start again at the first record. */
    RKV_ASSERT(t->s->positioned == t->cursor);
    t->s->positioned = NULL;
    /* A WT_ROLLBACK here is not retried: it resets the position the step depends on. */
    return engine_table_take(t, t->cursor->next(t->cursor), "extra table next", key_out, value_out);
}

/* ---- test support ---- */

enum rkv_err engine_test_write_raw(struct engine_shard *s, uint64_t token, const uint8_t *key,
                                   size_t key_bytes, const uint8_t *bytes, size_t bytes_len)
{
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(bytes != NULL || bytes_len == 0);
    size_t stored_bytes = record_key_encode(s->key_buf, token, key, key_bytes);
    return engine_test_write_raw_key(s, s->key_buf, stored_bytes, bytes, bytes_len);
}

enum rkv_err engine_test_write_raw_key(struct engine_shard *s, const uint8_t *stored_key, size_t stored_key_bytes,
                                       const uint8_t *bytes, size_t bytes_len)
{
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(stored_key != NULL || stored_key_bytes == 0);
    RKV_ASSERT(bytes != NULL || bytes_len == 0);
    engine_shard_release(s);
    WT_ITEM k = { .data = stored_key, .size = stored_key_bytes };
    WT_ITEM v = { .data = bytes, .size = bytes_len };
    WT_CURSOR *c = s->cursor;
    c->set_key(c, &k);
    c->set_value(c, &v);
    int wt = c->insert(c);
    (void)c->reset(c);
    if (wt != 0)
        return engine_err(wt, "test write_raw_key");
    return RKV_OK;
}

enum rkv_err engine_test_scan_keys(struct engine_shard *s, void *arg, engine_test_key_fn *visit)
{
    RKV_ASSERT(s != NULL);
    RKV_ASSERT(visit != NULL);
    engine_shard_release(s);
    WT_CURSOR *c = s->cursor;
    int wt;
    /* Unbounded on purpose: a test helper over a table the test filled itself. */
    while ((wt = c->next(c)) == 0) {
        WT_ITEM k = { 0 };
        wt = c->get_key(c, &k);
        if (wt != 0)
            break;
        visit(arg, k.data, k.size);
    }
    (void)c->reset(c);
    if (wt != WT_NOTFOUND)
        return engine_err(wt, "test scan");
    return RKV_OK;
}
