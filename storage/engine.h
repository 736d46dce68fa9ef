/* The storage engine: WiredTiger, one WT_CONNECTION per node with its log (the write-ahead
 * log) on, one LSM table per shard, a metadata table, and the few small btree tables a shard
 * may own besides its data (engine_table_open()). This is the only module that
 * includes <wiredtiger.h>; WiredTiger's return codes are translated to enum rkv_err here.
 * struct engine is created and closed by the main thread; struct engine_shard belongs to
 * one shard, is opened on that shard's thread, and is never touched by another. */
#ifndef RKV_STORAGE_ENGINE_H
#define RKV_STORAGE_ENGINE_H

#include <stdbool.h>
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

/* Removes the stored record of (token, key) outright: no tombstone is left behind. Only the
 * purge of a tombstone whose grace has passed may call this (storage/sweep.h); a delete on
 * behalf of a client writes a tombstone with kv_delete(). RKV_OK whether or not a record was
 * stored. Not durable until the next engine_log_flush(). Shard thread only; ends the view
 * of the previous engine_read(). */
enum rkv_err engine_remove(struct engine_shard *s, uint64_t token, const uint8_t *key, size_t key_bytes);

/* ---- Resumable scans of a shard's table, in stored-key (ring) order ----
 *
 * A scan is a series of batches. Each batch positions the shard's cursor, examines at most
 * max_records records, and releases the cursor before it returns, so that no WiredTiger
 * position or snapshot outlives the call: between batches the shard reads and writes freely,
 * and a batch sees what earlier writes left. The place to resume is kept by the caller as
 * plain bytes in struct engine_scan_pos. A record written behind the position after the
 * batch that passed it is seen by the next scan, not this one; a record removed ahead of it
 * is not seen. */

/* Where a scan stands: the stored key of the last record examined. A zeroed struct stands
 * before the table's first record. Owned by the caller; engine_scan_batch() updates it. */
struct engine_scan_pos {
    uint8_t key[REC_STORED_KEY_BYTES_MAX];
    uint32_t key_bytes; /* 0 and !inclusive: before the first record */
    bool inclusive;     /* the next batch starts at key itself, not after it (see engine.c) */
};

enum engine_scan_next { ENGINE_SCAN_CONTINUE, ENGINE_SCAN_STOP };

/* Called once for each well-formed record of a batch, in stored-key order: its token, its
 * user key (1..RKV_KEY_BYTES_MAX bytes) and its decoded record (tombstones and expired
 * records included). key and rec point into WiredTiger's memory and are valid during the
 * call only: copy what you keep. The callback must not call any engine function on the
 * shard (asserted: the cursor is positioned on the record). ENGINE_SCAN_STOP ends the batch
 * after this record. */
typedef enum engine_scan_next engine_scan_fn(void *arg, uint64_t token, const uint8_t *key, size_t key_bytes,
                                             const struct record_view *rec);

struct engine_scan_result {
    uint32_t examined_count; /* records read: visited + corrupt, at most max_records */
    uint32_t visited_count;  /* records handed to the callback */
    uint32_t corrupt_count;  /* records skipped: a value record_decode() refuses, or a stored
                              * key outside 9..REC_STORED_KEY_BYTES_MAX bytes */
    bool end;                /* the scan has passed the last record: start again from zero */
};

/* Examines the records after *pos in stored-key order, at most max_records (>= 1) of them,
 * calling visit for each well-formed one, and moves *pos past every record examined. Corrupt
 * records are counted, skipped and logged in one line per batch; they never end the scan.
 * result_out->end is set when no record is left after *pos, including when the batch ends
 * on the last record (the batch looks one record ahead), so a table of N records takes
 * exactly ceil(N / max_records) batches when visit never stops early and every stored key
 * is well-formed. A batch also ends after a stored key longer than the maximum: the next
 * one passes over every key that shares its first REC_STORED_KEY_BYTES_MAX bytes (all of
 * them malformed), so such a run counts as one corrupt record.
 * Errors: RKV_BUSY (WiredTiger asked for a retry) or RKV_IO; *pos and result_out still
 * describe the records examined before the failure, so the next batch resumes after them.
 * Shard thread only; ends the view of the previous engine_read(); holds no cursor position
 * when it returns. */
enum rkv_err engine_scan_batch(struct engine_shard *s, struct engine_scan_pos *pos, uint32_t max_records, void *arg,
                               engine_scan_fn *visit, struct engine_scan_result *result_out);

/* Reads WiredTiger's cache fill and size (node-wide figures) through s's session. Ends the
 * last engine_read()'s view. Not for the hot path: it opens a statistics cursor. */
enum rkv_err engine_cache_stats(struct engine_shard *s, uint64_t *bytes_out, uint64_t *max_bytes_out);

/* Ends the last engine_read()'s view: the cursor gives up its position and the snapshot it
 * pins, so an idle shard holds no WiredTiger read snapshot. Call once per loop turn after
 * the views of the turn were copied. */
void engine_shard_idle(struct engine_shard *s);

/* Flushes and fsyncs the log (group commit: one call covers every write before it). */
enum rkv_err engine_log_flush(struct engine_shard *s);

/* ---- Extra tables of a shard ----
 *
 * Besides its data table, a shard may own a few small tables of its own (the hinted-handoff
 * queue of storage/hints.h is one). Each is a WiredTiger btree named "table:<name>_<shard
 * idx>" that maps raw byte keys to raw byte values in memcmp order, created the first time it
 * is opened, and logged like the data table: a write is in WiredTiger's log buffer when the
 * call returns and durable after the next engine_log_flush(). The engine knows nothing of the
 * bytes: the module that owns the table defines and checks their format.
 * Owner: the module that opened it, on the shard's thread; it must be closed before
 * engine_shard_close(). Every call on the shard, on any of its tables or on its data table,
 * ends the view of the previous read on the shard, whichever table that read was on. */

struct engine_table;

/* A table name: 1..ENGINE_TABLE_NAME_BYTES_MAX bytes of [a-z0-9_], not "shard" (the data
 * tables' name). Names are constants of the calling module, so a bad one is asserted. */
#define ENGINE_TABLE_NAME_BYTES_MAX 16u
/* The longest key an extra table takes (asserted): a bound for the engine's key buffer, far
 * above any key the owners build. */
#define ENGINE_TABLE_KEY_BYTES_MAX 512u

/* Bytes borrowed from the engine; see each call for how long they stay valid. */
struct engine_bytes {
    const uint8_t *data;
    size_t bytes;
};

/* Opens s's table "table:<name>_<shard idx>", creating it when missing, and its one reused
 * cursor. Errors: RKV_IO, RKV_NO_SPACE, RKV_INTERNAL (out of memory). Shard thread only; ends
 * the view of the previous read on s. */
enum rkv_err engine_table_open(struct engine_shard *s, const char *name, struct engine_table **table_out);
/* Closes the cursor and frees t. Shard thread only. */
void engine_table_close(struct engine_table *t);

/* Inserts or replaces key -> value (key 1..ENGINE_TABLE_KEY_BYTES_MAX bytes, asserted). The
 * bytes are copied; not durable until the next engine_log_flush(). RKV_BUSY, RKV_IO or
 * RKV_NO_SPACE on failure, nothing written. Ends the view of the previous read on the shard. */
enum rkv_err engine_table_put(struct engine_table *t, const uint8_t *key, size_t key_bytes, const uint8_t *value,
                              size_t value_bytes);

/* Removes the record of key: RKV_OK when one was stored and is now removed, RKV_NOT_FOUND when
 * none was stored (nothing changes), else RKV_BUSY / RKV_IO. Not durable until the next
 * engine_log_flush(). Ends the view of the previous read on the shard. */
enum rkv_err engine_table_remove(struct engine_table *t, const uint8_t *key, size_t key_bytes);

/* Reads the first record whose key is above key (at or above it when inclusive); key_bytes 0
 * reads the table's first record. RKV_NOT_FOUND when there is none. key_out and value_out
 * point into WiredTiger's memory and stay valid until the next call on t's shard (any table):
 * the cursor keeps its position, and engine_table_next() may step on from it. Errors: RKV_BUSY,
 * RKV_IO, with both outputs empty. Ends the view of the previous read on the shard. */
enum rkv_err engine_table_seek(struct engine_table *t, const uint8_t *key, size_t key_bytes, bool inclusive,
                               struct engine_bytes *key_out, struct engine_bytes *value_out);

/* Reads the record after the one the last engine_table_seek() or engine_table_next() on t
 * returned, which must be the last call on t's shard and must have answered RKV_OK (asserted:
 * any other call has reset the cursor). Answers and lifetimes as engine_table_seek(). */
enum rkv_err engine_table_next(struct engine_table *t, struct engine_bytes *key_out, struct engine_bytes *value_out);

/* ---- Test support: never called on the data path ----
 * Tests may not include <wiredtiger.h> (tests/arch), so what they need to see of or plant in
 * a shard's table goes through these. All run on the shard's thread and end the view of the
 * previous engine_read(). */

/* Stores `bytes` verbatim as the stored value of (token, key), bypassing record_hdr_encode()
 * and its invariants, so that a test can plant a corrupt record. Not durable until the next
 * engine_log_flush(). */
enum rkv_err engine_test_write_raw(struct engine_shard *s, uint64_t token, const uint8_t *key,
                                   size_t key_bytes, const uint8_t *bytes, size_t bytes_len);

/* Calls visit once per stored key of s's table, in the table's order (a full scan: for
 * small test tables only). stored_key is valid during the call only. */
/* Stores `bytes` under a stored key given verbatim (not built by record_key_encode(), so it
 * may be shorter or longer than any key ringkv writes), for tests of corrupt keys. */
enum rkv_err engine_test_write_raw_key(struct engine_shard *s, const uint8_t *stored_key, size_t stored_key_bytes,
                                       const uint8_t *bytes, size_t bytes_len);

typedef void engine_test_key_fn(void *arg, const uint8_t *stored_key, size_t stored_key_bytes);
enum rkv_err engine_test_scan_keys(struct engine_shard *s, void *arg, engine_test_key_fn *visit);

/* ---- Space guard ----
 * WiredTiger panics (and must be restarted) when an LSM chunk switch or a checkpoint meets a
 * full disk. engine_space_check() reads the data directory's free space (statvfs, one
 * syscall) and, while it is under a reserve (5 % of the filesystem, 16 MiB .. 1 GiB), makes
 * every data write, remove and extra-table put of every shard fail with RKV_NO_SPACE before
 * WiredTiger sees it; reads go on. Returns true while space is low. Any thread (the flag is
 * atomic; the change is logged once); the node has every shard call it every 10 ms of its
 * turns, so only a disk filled faster than the reserve in that time can still reach
 * WiredTiger. */
bool engine_space_check(struct engine *e);

/* ---- Fault hook (builds with -DRKV_FAULT_HOOKS=ON only; issue 7) ----
 * The kernel here cannot fail a disk with EIO or an fsync (docs/testing.md), so test builds
 * can make storage do it: when the environment names a file in RKV_FAULT_FILE and that file
 * starts with "io", every data write, remove and log flush fails with RKV_IO as if the device
 * did; with any other content (or no file) storage works. The file is read at most every
 * 50 ms per shard, so a fault starts and ends within that of the harness writing it. In
 * builds without the option this is compiled out and engine_fault_active() is always false. */
bool engine_fault_active(struct engine_shard *s);

#endif
