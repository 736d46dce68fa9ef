/* See server.h. Uses fork/exec and plain sockets: test code, not the server's loop. */
#include "tests/support/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/ringkv.h"
#include "tests/support/tmpdir.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };
    nanosleep(&ts, NULL);
}

const char *test_bin(const char *rel, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", RKV_BUILD_DIR, rel);
    return buf;
}

uint16_t test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool server_spawn(struct test_server *s)
{
    char bin[512], data[200];
    test_bin("tools/ringkv", bin, sizeof bin);
    snprintf(data, sizeof data, "%s/data", s->dir);
    char cmd[2048];
    /* Through sh so that the extra flags split like a command line; exec keeps the pid. */
    snprintf(cmd, sizeof cmd, "exec '%s' --node-id test --data '%s' --listen %s --http %s --no-pin %s >>'%s' 2>&1",
             bin, data, s->addr, s->http_addr, s->args, s->log_path);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    uint64_t deadline = mono_ms() + 10000u;
    while (mono_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            return false;
        }
        enum ringkv_err err;
        ringkv_client *c = ringkv_connect(s->addr, 500, &err);
        if (c != NULL) {
            enum ringkv_err rc = ringkv_ping(c, NULL);
            ringkv_close(c);
            if (rc == RINGKV_OK)
                return true;
        }
        sleep_ms(20);
    }
    test_server_kill(s);
    return false;
}

bool test_server_start(struct test_server *s, const char *extra_args)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/ringkv-test-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        return false;
    snprintf(s->log_path, sizeof s->log_path, "%s/server.log", s->dir);
    snprintf(s->args, sizeof s->args, "%s", extra_args ? extra_args : "");
    s->port = test_free_port();
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%u", s->port);
    do
        s->http_port = test_free_port();
    while (s->http_port == s->port);
    snprintf(s->http_addr, sizeof s->http_addr, "127.0.0.1:%u", s->http_port);
    return s->port != 0 && s->http_port != 0 && server_spawn(s);
}

bool test_server_restart(struct test_server *s)
{
    return s->pid == 0 && server_spawn(s);
}

int test_server_stop(struct test_server *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    uint64_t deadline = mono_ms() + 20000u;
    int status = 0;
    while (mono_ms() < deadline) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        sleep_ms(10);
    }
    test_server_kill(s);
    return -1;
}

void test_server_kill(struct test_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void test_server_cleanup(struct test_server *s)
{
    test_server_kill(s);
    if (s->dir[0] != '\0') {
        test_dir_remove(s->dir);
        s->dir[0] = '\0';
    }
}

char *test_server_log(const struct test_server *s)
{
    FILE *f = fopen(s->log_path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    if (buf != NULL) {
        len = fread(buf, 1, cap - 1, f);
        buf[len] = '\0';
    }
    fclose(f);
    return buf;
}

static void drain_fd(int fd, char *buf, size_t cap, size_t *len)
{
    for (;;) {
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0)
            return;
        size_t room = cap > *len + 1 ? cap - *len - 1 : 0;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(buf + *len, tmp, take);
        *len += take;
    }
}

int test_run(char *const argv[], const void *in_bytes, size_t in_len, char *out, size_t out_cap,
             char *err, size_t err_cap)
{
    int pin[2], pout[2], perr[2];
    if (pipe(pin) || pipe(pout) || pipe(perr))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        close(pin[1]); close(pout[0]); close(perr[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pin[0]); close(pout[1]); close(perr[1]);
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    fcntl(pout[0], F_SETFL, O_NONBLOCK);
    fcntl(perr[0], F_SETFL, O_NONBLOCK);
    size_t in_off = 0, out_len = 0, err_len = 0;
    if (in_len == 0) {
        close(pin[1]);
        pin[1] = -1;
    }
    uint64_t deadline = mono_ms() + 20000u;
    int status = -1;
    bool exited = false;
    while (mono_ms() < deadline) {
        if (pin[1] >= 0) {
            ssize_t w = write(pin[1], (const char *)in_bytes + in_off, in_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            if (in_off == in_len || (w < 0 && errno != EAGAIN)) {
                close(pin[1]);
                pin[1] = -1;
            }
        }
        drain_fd(pout[0], out, out_cap, &out_len);
        drain_fd(perr[0], err, err_cap, &err_len);
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        struct pollfd pf[2] = { { pout[0], POLLIN, 0 }, { perr[0], POLLIN, 0 } };
        poll(pf, 2, 5);
    }
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    drain_fd(pout[0], out, out_cap, &out_len);
    drain_fd(perr[0], err, err_cap, &err_len);
    if (pin[1] >= 0)
        close(pin[1]);
    close(pout[0]);
    close(perr[0]);
    if (out_cap) out[out_len] = '\0';
    if (err_cap) err[err_len] = '\0';
    if (!exited || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}
