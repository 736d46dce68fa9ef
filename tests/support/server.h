/* Test support: runs a real ringkv process on a free loopback port with a fresh data
 * directory under /tmp, and stops, kills or restarts it. Every wait is bounded. */
#ifndef RKV_TEST_SUPPORT_SERVER_H
#define RKV_TEST_SUPPORT_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct test_server {
    pid_t pid;
    uint16_t port;
    char addr[64];        /* "127.0.0.1:PORT" */
    uint16_t http_port;
    char http_addr[64];   /* "127.0.0.1:PORT" of the HTTP API */
    char dir[128];        /* the test's temp directory: data/ and server.log inside */
    char log_path[160];
    char args[512];       /* extra flags given at start, reused by restart */
};

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
uint16_t test_free_port(void);
/* Makes a temp dir and starts `ringkv --data DIR/data --listen ADDR --http HTTP_ADDR
 * --node-id test <extra>`
 * (extra may be NULL), then waits up to 10 s until a PING is answered. */
bool test_server_start(struct test_server *s, const char *extra_args);
/* Starts again on the same port and data directory (after a stop or a kill). */
bool test_server_restart(struct test_server *s);
/* SIGTERM and wait (at most 20 s, then SIGKILL): the exit status as from waitpid's
 * WEXITSTATUS, or -1 when it did not exit by itself. */
int test_server_stop(struct test_server *s);
/* SIGKILL and reap. */
void test_server_kill(struct test_server *s);
/* Stops the server if running and removes the temp dir. */
void test_server_cleanup(struct test_server *s);
/* Reads the server's log into a malloc'd NUL-terminated string (caller frees). */
char *test_server_log(const struct test_server *s);
/* Runs argv (argv[0] is a path) with stdin from in_bytes, capturing stdout into out (up to
 * out_cap-1 bytes, NUL-terminated) and stderr likewise into err; waits at most 20 s.
 * Returns the exit status, or -1 on failure or timeout. */
int test_run(char *const argv[], const void *in_bytes, size_t in_len, char *out, size_t out_cap,
             char *err, size_t err_cap);

/* The path of a built executable, e.g. test_bin("tools/ringkv"). Static storage per call
 * site is not needed: writes into buf. */
const char *test_bin(const char *rel, char *buf, size_t cap);

#endif
