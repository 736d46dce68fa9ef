/* ringkv: the server. Parses the configuration, starts the node (one shard per core) and
 * waits for SIGINT or SIGTERM, then stops it cleanly: stop accepting, answer what is in
 * flight, flush, close WiredTiger. Exit codes: 0 clean stop, 1 runtime failure, 2 a bad flag
 * or configuration value. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#include "core/config.h"
#include "core/log.h"
#include "replication/node.h"

#ifdef RKV_WITH_MIMALLOC
#include <mimalloc.h>
#endif

int main(int argc, char **argv)
{
    struct rkv_config cfg;
    char err[512];
    switch (config_parse(argc, argv, &cfg, err, sizeof err)) {
    case CONFIG_HELP:
        fputs(config_usage(), stdout);
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "ringkv: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }
    rkv_log_set_level(cfg.log_level);

    /* Shard threads inherit this mask: only the main thread takes the stop signals. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

#ifdef RKV_WITH_MIMALLOC
    rkv_log(RKV_LOG_DEBUG, "allocator: mimalloc %d", mi_version());
#endif
    struct node *node;
    enum rkv_err rc = node_start(&cfg, &node);
    if (rc == RKV_INVALID_ARG)
        return 2;
    if (rc != RKV_OK) {
        rkv_log(RKV_LOG_ERROR, "could not start: %s", rkv_err_message(rc));
        return 1;
    }
    rkv_log(RKV_LOG_INFO, "ringkv node %s serving the binary protocol on %s:%u with %u shards, data in %s",
            cfg.node_id, cfg.listen.host, cfg.listen.port, cfg.shards, cfg.data_dir);
    if (cfg.http_enabled)
        rkv_log(RKV_LOG_INFO, "HTTP/JSON API on http://%s:%u (GET /health, GET /metrics, /kv/{key})", cfg.http.host, cfg.http.port);
    rkv_log(RKV_LOG_INFO, "stop with Ctrl-C or kill -TERM %ld", (long)getpid());

    int sig = 0;
    sigwait(&stop_signals, &sig);
    rkv_log(RKV_LOG_INFO, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    node_request_stop(node);
    node_join_and_free(node);
    rkv_log(RKV_LOG_INFO, "stopped cleanly");
    return 0;
}
