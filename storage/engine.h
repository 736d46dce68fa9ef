/* The storage engine: WiredTiger, one WT_CONNECTION per node with its log (the write-ahead
 * log) on, one LSM table per shard and a metadata table. This is the only module that
 * includes <wiredtiger.h>; WiredTiger's return codes are translated to enum rkv_err here.
 * struct engine is created and closed by the main thread; struct engine_shard belongs to
 * one shard, is opened on that shard's thread, and is never touched by another. */
#ifndef RKV_STORAGE_ENGINE_H
#define RKV_STORAGE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "storage/record.h"

struct engine;
struct engine_shard;

struct engine_config {
    const char *dir;        /* created if missing */
    const char *node_id;    /* recorded in the metadata table; a restart must give the same */
    uint32_t shard_count;   /* recorded likewise: data lives in per-shard tables */
    uint64_t cache_bytes;   /* >= RKV_WT_CACHE_BYTES_MIN */
};

/* Opens (creating when new) the database under cfg->dir, runs WiredTiger's recovery, and
 * checks the metadata table: RKV_INVALID_ARG with a logged reason when the directory was
 * made by another node id or shard count. Main thread, before the shards start. */
enum rkv_err engine_open(const struct engine_config *cfg, struct engine **engine_out);
/* Closes cleanly (WiredTiger checkpoints). Every engine_shard must be closed first. */
void engine_close(struct engine *e);

/* Opens shard_idx's session and cursors. Call on the shard's own thread. */
enum rkv_err engine_shard_open(struct engine *e, uint32_t shard_idx, struct engine_shard **shard_out);
void engine_shard_close(struct engine_shard *s);

/* Reads the raw stored record of (token, key), tombstones and expired records included.
 * RKV_NOT_FOUND when none is stored. The view points into WiredTiger's memory and is valid
 * only until the next call on s: copy what you keep. */
enum rkv_err engine_read(struct engine_shard *s, uint64_t token, const uint8_t *key,
                         size_t key_bytes, struct record_view *view_out);

/* Writes (token, key) -> header ‖ value. The write is in WiredTiger's log buffer but not yet
 * durable: it is durable after the next engine_log_flush() on any shard returns RKV_OK. */
enum rkv_err engine_write(struct engine_shard *s, uint64_t token, const uint8_t *key,
                          size_t key_bytes, const struct record_hdr *hdr, const uint8_t *value,
                          uint32_t value_bytes);

/* Ends the last engine_read()'s view: the cursor gives up its position and the snapshot it
 * pins, so an idle shard holds no WiredTiger read snapshot. Call once per loop turn after
 * the views of the turn were copied. */
void engine_shard_idle(struct engine_shard *s);

/* Flushes and fsyncs the log (group commit: one call covers every write before it). */
enum rkv_err engine_log_flush(struct engine_shard *s);

/* ---- Test support: never called on the data path ----
 * Tests may not include <wiredtiger.h> (tests/arch), so what they need to see of or plant in
 * a shard's table goes through these two. Both run on the shard's thread and end the view of
 * the previous engine_read(). */

/* Stores `bytes` verbatim as the stored value of (token, key), bypassing record_hdr_encode()
 * and its invariants, so that a test can plant a corrupt record. Not durable until the next
 * engine_log_flush(). */
enum rkv_err engine_test_write_raw(struct engine_shard *s, uint64_t token, const uint8_t *key,
                                   size_t key_bytes, const uint8_t *bytes, size_t bytes_len);

/* Calls visit once per stored key of s's table, in the table's order (a full scan: for
 * small test tables only). stored_key is valid during the call only. */
typedef void engine_test_key_fn(void *arg, const uint8_t *stored_key, size_t stored_key_bytes);
enum rkv_err engine_test_scan_keys(struct engine_shard *s, void *arg, engine_test_key_fn *visit);

#endif
