/* The row cache's budget holds in the real process: under a long random workload that
 * overwrites and reads far more data than the cache may keep, the node's private resident
 * memory (RssAnon) stays within the row-cache budget plus WiredTiger's cache plus a stated
 * margin. File-backed pages are not counted: WiredTiger maps its LSM chunk files read-only,
 * and those pages are the kernel's page cache (clean, shared, reclaimable) even though VmRSS
 * includes them. The margin covers what neither cache accounts for: WiredTiger's work memory
 * outside its cache (log buffers, merges, bloom filters), the per-shard receive-buffer rings
 * (8 MiB each), connection and request pools, and the allocator's retained pages. It leaves
 * room above what this workload measured, so the test catches a budget that does not hold or
 * memory that grows without bound, not small drifts. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

#define ROW_CACHE_MB 32u
#define WT_CACHE_MB 200u
#define MARGIN_MB 160u

static unsigned long rss_anon_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    unsigned long kib = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "RssAnon:", 8) == 0) {
            kib = strtoul(line + 8, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static void bench(const struct test_server *s, const char *workload, const char *extra)
{
    char bin[512], target[96], out[8192], err[8192];
    snprintf(target, sizeof target, "ringkv://%s", s->addr);
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)test_bin("bench/ringkv-bench", bin, sizeof bin);
    argv[n++] = "--target";
    argv[n++] = target;
    argv[n++] = "--workload";
    argv[n++] = (char *)workload;
    argv[n++] = "--keys";
    argv[n++] = "60000";
    argv[n++] = "--value-size";
    argv[n++] = "4096";
    argv[n++] = "--ops";
    argv[n++] = "100000";
    argv[n++] = "--pipeline";
    argv[n++] = "16";
    argv[n++] = "--connections";
    argv[n++] = "8";
    argv[n++] = "--duration";
    argv[n++] = "15";
    if (extra != NULL)
        argv[n++] = (char *)extra;
    argv[n] = NULL;
    int rc = test_run(argv, NULL, 0, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "bench failed (%d): %s", rc, err);
}

Test(memory, private_resident_memory_stays_within_the_caches_plus_a_stated_margin, .timeout = 280)
{
#ifdef RKV_SANITIZE
    cr_skip_test("ASan's shadow memory and quarantine make the process's RSS meaningless here");
#endif
    struct test_server srv;
    char args[160];
    snprintf(args, sizeof args, "--shards 2 --row-cache-size %uM --cache-size %uM", ROW_CACHE_MB, WT_CACHE_MB);
    cr_assert(test_server_start(&srv, args), "server did not start");
    /* 60k keys of 4 KiB (about 240 MB of values, seven times the row cache, so a cache that
     * ignored its budget would pass the limit), written once,
     * then random reads and overwrites. */
    bench(&srv, "mixed", "--load");
    unsigned long after_mixed = rss_anon_kib(srv.pid);
    bench(&srv, "get", NULL);
    unsigned long after_get = rss_anon_kib(srv.pid);
    cr_log_info("private RSS after the mixed run %lu KiB, after the read run %lu KiB (limit %u MiB)", after_mixed, after_get,
                ROW_CACHE_MB + WT_CACHE_MB + MARGIN_MB);
    unsigned long limit_kib = (unsigned long)(ROW_CACHE_MB + WT_CACHE_MB + MARGIN_MB) * 1024u;
    cr_expect_gt(after_get, 0ul, "RSS was read");
    cr_expect_leq(after_mixed, limit_kib, "RSS %lu KiB over the limit after the mixed run", after_mixed);
    cr_expect_leq(after_get, limit_kib, "RSS %lu KiB over the limit after the read run", after_get);
    cr_assert_eq(test_server_stop(&srv), 0);
    test_server_cleanup(&srv);
}
