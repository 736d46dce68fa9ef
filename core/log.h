/* Log lines on stderr: "2026-11-28T23:31:38.123Z INFO  shard=1 message". Each line is
 * formatted on the caller's stack and written with one write(2), so lines of different
 * shards never interleave. This is the one plain system call a shard makes outside
 * io_uring: it is used for start-up, shutdown and rare events (a closed bad connection),
 * never per request, and per-connection warnings are rate-limited by the callers. */
#ifndef RKV_CORE_LOG_H
#define RKV_CORE_LOG_H

#include <stdbool.h>

enum rkv_log_level { RKV_LOG_DEBUG, RKV_LOG_INFO, RKV_LOG_WARN, RKV_LOG_ERROR, RKV_LOG_FATAL };

/* Set once at start-up, before any shard thread starts. */
void rkv_log_set_level(enum rkv_log_level level);
/* Parses "debug", "info", "warn", "error"; false for anything else. */
bool rkv_log_level_parse(const char *s, enum rkv_log_level *level_out);
bool rkv_log_enabled(enum rkv_log_level level);

/* The shard id printed on this thread's lines; -1 (the default) prints "main". */
void rkv_log_set_shard(int shard_idx);
int rkv_log_shard(void);

void rkv_log(enum rkv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define RKV_DEBUG_LOG(...) do { if (rkv_log_enabled(RKV_LOG_DEBUG)) rkv_log(RKV_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
