/* Logger: formats one line on the stack and writes it with a single write(2). The level is
 * set before the shards start and only read afterwards; the shard id is thread-local. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum rkv_log_level log_level = RKV_LOG_INFO;
static _Thread_local int log_shard = -1;

void rkv_log_set_level(enum rkv_log_level level) { log_level = level; }
bool rkv_log_enabled(enum rkv_log_level level) { return level >= log_level; }
void rkv_log_set_shard(int shard_idx) { log_shard = shard_idx; }
int rkv_log_shard(void) { return log_shard; }

bool rkv_log_level_parse(const char *s, enum rkv_log_level *level_out)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *level_out = (enum rkv_log_level)i;
            return true;
        }
    }
    return false;
}

void rkv_log(enum rkv_log_level level, const char *fmt, ...)
{
    static const char *const tags[] = { "DEBUG", "INFO ", "WARN ", "ERROR", "FATAL" };
    if (level < log_level)
        return;
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char shard[16];
    if (log_shard < 0)
        snprintf(shard, sizeof shard, "main");
    else
        snprintf(shard, sizeof shard, "%d", log_shard);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s shard=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, tags[level], shard);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* One write per line; a short or failed write of a log line is not worth a retry. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
