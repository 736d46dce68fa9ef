/* ringkv-cli against a real node: the commands with their output byte for byte, --json and
 * its base64 value, the exit codes (0 done, 1 not found, 2 usage, 3 any other error), the
 * key and value limits at max and max + 1, --consistency, and the cluster commands status and
 * explain over the node's HTTP API. Then what needs no node at all: usage errors, connection
 * refused, --help, and small fake servers on loopback that capture what the CLI sends (the
 * consistency byte of a request, the percent-encoded key of explain) or answer the way no
 * ringkv does (an answer over the size limit, none at all, a table to print). Every run of
 * the CLI is a child process with captured stdout and stderr, bounded in time by test_run(). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limits.h"
#include "net/proto_bin.h"
#include "tests/support/server.h"

/* Room for the largest value and a little more, so that output past 1 MiB is seen. */
#define CLI_OUT_CAP (RKV_VALUE_BYTES_MAX + 65536u)
#define CLI_ERR_CAP 4096u
#define CLI_ARGS_MAX 16u
/* test_run() NUL-terminates stdout but does not say how long it was; the buffer is filled
 * with this byte first, so the last byte that differs from it is that terminator. */
#define CLI_OUT_FILL 0xa5u

struct cli_result {
    int rc;
    const uint8_t *out; /* stdout, out_bytes long (NUL-terminated as well) */
    size_t out_bytes;
    char err[CLI_ERR_CAP]; /* stderr, NUL-terminated */
};

static struct test_server srv;
static uint8_t cli_out_buf[CLI_OUT_CAP];

/* Runs ringkv-cli with args (a NULL-terminated list) and stdin from in. */
static void cli_exec(struct cli_result *r, const void *in, size_t in_bytes, const char *const *args)
{
    char bin[512];
    char *argv[CLI_ARGS_MAX + 2];
    size_t argc = 0;
    argv[argc++] = (char *)test_bin("tools/ringkv-cli", bin, sizeof(bin));
    for (; args[argc - 1] != NULL; argc++) {
        cr_assert_lt(argc, CLI_ARGS_MAX + 1, "too many arguments for cli_exec");
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc] = NULL;

    memset(cli_out_buf, CLI_OUT_FILL, sizeof(cli_out_buf));
    r->rc = test_run(argv, in, in_bytes, (char *)cli_out_buf, sizeof(cli_out_buf), r->err, sizeof(r->err));
    size_t end = sizeof(cli_out_buf);
    while (end > 0 && cli_out_buf[end - 1] == CLI_OUT_FILL)
        end--;
    cr_assert_gt(end, 0, "test_run left no terminator in the output buffer");
    cr_assert_eq(cli_out_buf[end - 1], '\0');
    r->out = cli_out_buf;
    r->out_bytes = end - 1;
    cr_assert_lt(r->out_bytes, sizeof(cli_out_buf) - 1, "stdout filled the whole capture buffer");
}

/* CLI(&r, in, in_bytes, args...): a run with the given arguments as they are. */
#define CLI(r, in, in_bytes, ...) cli_exec((r), (in), (in_bytes), (const char *const[]){__VA_ARGS__, NULL})
/* NODE(&r, in, in_bytes, args...): a run against the test's node. */
#define NODE(r, in, in_bytes, ...) CLI((r), (in), (in_bytes), "--addr", srv.addr, __VA_ARGS__)
/* HTTPNODE(&r, args...): a run against the test's node's HTTP API (status, explain). */
#define HTTPNODE(r, ...) CLI((r), NULL, 0, "--http", srv.http_addr, __VA_ARGS__)

/* stderr is exactly one line: non-empty, one newline, at the end. */
static void assert_one_line(const char *s)
{
    size_t len = strlen(s);
    cr_assert_gt(len, 1, "expected one line on stderr, got nothing");
    cr_assert_eq(s[len - 1], '\n', "stderr does not end its line: %s", s);
    cr_assert_eq(strchr(s, '\n'), s + len - 1, "more than one line on stderr: %s", s);
}

/* Usage errors print one line, nothing on stdout, and exit 2. */
static void assert_usage_error(const struct cli_result *r, const char *mentions)
{
    cr_assert_eq(r->rc, 2, "exit %d, stderr: %s", r->rc, r->err);
    cr_assert_eq(r->out_bytes, 0);
    assert_one_line(r->err);
    cr_assert_not_null(strstr(r->err, mentions), "stderr does not mention \"%s\": %s", mentions, r->err);
}

/* ---- base64 and the JSON line, parsed strictly ---- */

static int b64_digit(char ch)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = ch != '\0' ? strchr(alphabet, ch) : NULL;
    return p != NULL ? (int)(p - alphabet) : -1;
}

/* Decodes padded standard base64 of len characters into out; false when it is not that. */
static bool b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_bytes)
{
    if (len % 4 != 0)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int d[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            if (last && j >= 2 && s[i + (size_t)j] == '=' && (j == 3 || s[i + 3] == '=')) {
                d[j] = 0;
                pad++;
                continue;
            }
            d[j] = b64_digit(s[i + (size_t)j]);
            if (d[j] < 0)
                return false;
        }
        uint32_t v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 | (uint32_t)d[3];
        uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        if (n + 3u - (size_t)pad > cap)
            return false;
        memcpy(out + n, b, 3u - (size_t)pad);
        n += 3u - (size_t)pad;
    }
    *out_bytes = n;
    return true;
}

static bool json_lit(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool json_u64(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
        return false;
    for (; *s >= '0' && *s <= '9'; s++)
        x = x * 10u + (uint64_t)(*s - '0');
    *v = x;
    *p = s;
    return true;
}

struct get_json {
    uint8_t value[256];
    size_t value_bytes;
    uint64_t version, timestamp;
};

/* Parses the line `get --json` prints for a plain ASCII key, and nothing else:
 * {"key":"KEY","value":"BASE64","version":N,"timestamp":N}\n */
static void parse_get_json(const char *line, const char *key, struct get_json *g)
{
    const char *p = line;
    cr_assert(json_lit(&p, "{\"key\":\"") && json_lit(&p, key) && json_lit(&p, "\",\"value\":\""),
              "unexpected start of the JSON line: %s", line);
    const char *b64 = p;
    const char *end = strchr(p, '"');
    cr_assert_not_null(end, "unterminated value: %s", line);
    cr_assert(b64_decode(b64, (size_t)(end - b64), g->value, sizeof(g->value), &g->value_bytes),
              "value is not padded base64: %s", line);
    p = end;
    cr_assert(json_lit(&p, "\",\"version\":") && json_u64(&p, &g->version), "no version: %s", line);
    cr_assert(json_lit(&p, ",\"timestamp\":") && json_u64(&p, &g->timestamp), "no timestamp: %s", line);
    cr_assert(json_lit(&p, "}\n") && *p == '\0', "unexpected end of the JSON line: %s", line);
}

static uint64_t now_ms(void);

/* ---- against a node ---- */

static void ignore_sigpipe(void)
{
    /* A CLI that exits before it read all of stdin must fail its test, not kill it. */
    signal(SIGPIPE, SIG_IGN);
}

static void node_start(void)
{
    ignore_sigpipe();
    cr_assert(test_server_start(&srv, "--shards 2"), "server did not start");
}

static void node_stop(void)
{
    test_server_cleanup(&srv);
}

TestSuite(cli, .init = node_start, .fini = node_stop, .timeout = 20);

Test(cli, put_with_a_value_argument_then_get_writes_exactly_the_value)
{
    struct cli_result r;
    /* Options end at the command, so a value that looks like an option is a value. */
    NODE(&r, NULL, 0, "put", "greeting", "--not-an-option");
    cr_assert_eq(r.rc, 0, "put: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0, "put prints nothing without --json");
    cr_assert_str_empty(r.err);

    NODE(&r, NULL, 0, "get", "greeting");
    cr_assert_eq(r.rc, 0, "get: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, strlen("--not-an-option"), "no newline or anything else is added");
    cr_assert_arr_eq(r.out, "--not-an-option", r.out_bytes);
}

Test(cli, put_from_stdin_stores_binary_bytes_and_get_writes_them_back_exactly)
{
    static const uint8_t value[] = {'a', 0x00, 'b', 0xff, '\n', 0x00, 0x80, 0x7f, '\r', 0x00};
    struct cli_result r;
    NODE(&r, value, sizeof(value), "put", "bin");
    cr_assert_eq(r.rc, 0, "put: exit %d: %s", r.rc, r.err);

    NODE(&r, NULL, 0, "get", "bin");
    cr_assert_eq(r.rc, 0, "get: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, sizeof(value));
    cr_assert_arr_eq(r.out, value, sizeof(value));
}

Test(cli, empty_value_from_stdin_is_stored_and_get_prints_nothing)
{
    struct cli_result r;
    NODE(&r, NULL, 0, "put", "empty");
    cr_assert_eq(r.rc, 0, "put: exit %d: %s", r.rc, r.err);
    NODE(&r, NULL, 0, "get", "empty");
    cr_assert_eq(r.rc, 0, "an empty value is a value, not a miss: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0);
}

Test(cli, get_json_gives_key_base64_value_version_and_timestamp_of_the_write)
{
    static const uint8_t value[] = {0x00, 0xfb, 0xff, 'h', 'i', 0x00, 0xfe};
    struct cli_result r;
    NODE(&r, NULL, 0, "put", "doc", "first");
    cr_assert_eq(r.rc, 0, "put: exit %d: %s", r.rc, r.err);
    NODE(&r, value, sizeof(value), "--json", "put", "doc");
    cr_assert_eq(r.rc, 0, "put: exit %d: %s", r.rc, r.err);
    uint64_t put_version = 0, put_timestamp = 0;
    const char *p = (const char *)r.out;
    cr_assert(json_lit(&p, "{\"key\":\"doc\",\"version\":") && json_u64(&p, &put_version) &&
                  json_lit(&p, ",\"timestamp\":") && json_u64(&p, &put_timestamp) && json_lit(&p, "}\n") &&
                  *p == '\0',
              "unexpected put --json line: %s", (const char *)r.out);
    cr_assert_eq(put_version, 2);

    NODE(&r, NULL, 0, "--json", "get", "doc");
    cr_assert_eq(r.rc, 0, "get: exit %d: %s", r.rc, r.err);
    struct get_json g;
    parse_get_json((const char *)r.out, "doc", &g);
    cr_assert_eq(g.value_bytes, sizeof(value));
    cr_assert_arr_eq(g.value, value, sizeof(value), "base64 does not decode to the value");
    cr_assert_eq(g.version, put_version);
    cr_assert_eq(g.timestamp, put_timestamp, "get reports the timestamp of the write it read");
    cr_assert_gt(g.timestamp >> 16, 1600000000000ull, "the timestamp's milliseconds are Unix time");
}

Test(cli, del_then_get_exits_1_with_one_line_saying_not_found)
{
    struct cli_result r;
    NODE(&r, NULL, 0, "put", "gone", "soon");
    cr_assert_eq(r.rc, 0, "put: exit %d: %s", r.rc, r.err);
    NODE(&r, NULL, 0, "del", "gone");
    cr_assert_eq(r.rc, 0, "del: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0);

    NODE(&r, NULL, 0, "get", "gone");
    cr_assert_eq(r.rc, 1, "get of a deleted key: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "not found"), "%s", r.err);

    NODE(&r, NULL, 0, "--json", "get", "never-written");
    cr_assert_eq(r.rc, 1, "get of a missing key: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0, "no JSON for a miss");
}

Test(cli, ping_exits_0_and_prints_pong)
{
    struct cli_result r;
    NODE(&r, NULL, 0, "ping");
    cr_assert_eq(r.rc, 0, "exit %d: %s", r.rc, r.err);
    cr_assert_str_eq((const char *)r.out, "PONG\n");
    NODE(&r, NULL, 0, "--json", "ping");
    cr_assert_eq(r.rc, 0, "exit %d: %s", r.rc, r.err);
    cr_assert_str_eq((const char *)r.out, "{\"pong\":true}\n");
}

Test(cli, if_version_mismatch_exits_3_with_one_line_and_leaves_the_value)
{
    struct cli_result r;
    NODE(&r, NULL, 0, "--if-version", "0", "put", "cas", "v1");
    cr_assert_eq(r.rc, 0, "if-version 0 on an absent key: exit %d: %s", r.rc, r.err);
    NODE(&r, NULL, 0, "--if-version", "0", "put", "cas", "v2");
    cr_assert_eq(r.rc, 3, "if-version 0 on a present key: exit %d: %s", r.rc, r.err);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "version"), "%s", r.err);

    NODE(&r, NULL, 0, "--if-version", "7", "put", "cas", "v2");
    cr_assert_eq(r.rc, 3, "if-version 7 on version 1: exit %d: %s", r.rc, r.err);
    assert_one_line(r.err);
    cr_assert_eq(r.out_bytes, 0);

    NODE(&r, NULL, 0, "get", "cas");
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.out_bytes, 2);
    cr_assert_arr_eq(r.out, "v1", 2, "a refused conditional put changed the value");

    NODE(&r, NULL, 0, "--if-version", "1", "put", "cas", "v2");
    cr_assert_eq(r.rc, 0, "if-version 1 on version 1: exit %d: %s", r.rc, r.err);
}

static uint8_t *pattern_value(size_t len)
{
    uint8_t *v = malloc(len);
    cr_assert_not_null(v);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < len; i++) {
        /* xorshift32: every byte value, NULs included, with no period near 1 MiB. */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v[i] = (uint8_t)x;
    }
    return v;
}

Test(cli, value_of_exactly_1_mib_from_stdin_is_stored_and_read_back)
{
    size_t len = RKV_VALUE_BYTES_MAX;
    uint8_t *value = pattern_value(len);
    struct cli_result r;
    NODE(&r, value, len, "put", "big");
    cr_assert_eq(r.rc, 0, "put of 1 MiB: exit %d: %s", r.rc, r.err);
    NODE(&r, NULL, 0, "get", "big");
    cr_assert_eq(r.rc, 0, "get of 1 MiB: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, len);
    cr_assert(memcmp(r.out, value, len) == 0, "the 1 MiB value came back different");
    free(value);
}

Test(cli, value_of_1_mib_plus_1_is_refused_with_exit_3_naming_the_limit)
{
    size_t len = RKV_VALUE_BYTES_MAX + 1u;
    uint8_t *value = pattern_value(len);
    struct cli_result r;
    NODE(&r, value, len, "put", "too-big");
    cr_assert_eq(r.rc, 3, "put of 1 MiB + 1: exit %d: %s", r.rc, r.err);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "1 MiB"), "the message does not name the limit: %s", r.err);
    free(value);

    NODE(&r, NULL, 0, "get", "too-big");
    cr_assert_eq(r.rc, 1, "a refused value was stored: exit %d", r.rc);
}

static void key_of(char *buf, size_t key_bytes)
{
    for (size_t i = 0; i < key_bytes; i++)
        buf[i] = (char)('a' + i % 26u);
    buf[key_bytes] = '\0';
}

Test(cli, key_of_256_bytes_is_stored_and_read_back)
{
    char key[RKV_KEY_BYTES_MAX + 1];
    key_of(key, RKV_KEY_BYTES_MAX);
    struct cli_result r;
    NODE(&r, NULL, 0, "put", key, "at-the-limit");
    cr_assert_eq(r.rc, 0, "put with a 256-byte key: exit %d: %s", r.rc, r.err);
    NODE(&r, NULL, 0, "get", key);
    cr_assert_eq(r.rc, 0, "get with a 256-byte key: exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, strlen("at-the-limit"));
    cr_assert_arr_eq(r.out, "at-the-limit", r.out_bytes);
}

Test(cli, key_of_257_bytes_is_refused_with_exit_3_naming_the_limit)
{
    char key[RKV_KEY_BYTES_MAX + 2];
    key_of(key, RKV_KEY_BYTES_MAX + 1u);
    struct cli_result r;
    NODE(&r, NULL, 0, "put", key, "over-the-limit");
    cr_assert_eq(r.rc, 3, "put with a 257-byte key: exit %d: %s", r.rc, r.err);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "256"), "the message does not name the limit: %s", r.err);
    NODE(&r, NULL, 0, "get", key);
    cr_assert_eq(r.rc, 3, "get with a 257-byte key: exit %d: %s", r.rc, r.err);
}

Test(cli, every_consistency_level_is_accepted_by_put_get_and_del)
{
    static const char *const levels[] = {"one", "quorum", "all"};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        struct cli_result r;
        NODE(&r, NULL, 0, "--consistency", levels[i], "put", "level", levels[i]);
        cr_assert_eq(r.rc, 0, "put --consistency %s: exit %d: %s", levels[i], r.rc, r.err);
        NODE(&r, NULL, 0, "--consistency", levels[i], "get", "level");
        cr_assert_eq(r.rc, 0, "get --consistency %s: exit %d: %s", levels[i], r.rc, r.err);
        cr_assert_eq(r.out_bytes, strlen(levels[i]));
        cr_assert_arr_eq(r.out, levels[i], r.out_bytes);
        NODE(&r, NULL, 0, "--consistency", levels[i], "del", "level");
        cr_assert_eq(r.rc, 0, "del --consistency %s: exit %d: %s", levels[i], r.rc, r.err);
    }
}

/* The node's /health, as status --json prints it, parsed. */
static json_t *status_json(void)
{
    struct cli_result r;
    HTTPNODE(&r, "--json", "status");
    cr_assert_eq(r.rc, 0, "status --json: exit %d: %s", r.rc, r.err);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)r.out, r.out_bytes, 0, &jerr);
    cr_assert_not_null(root, "status --json is not JSON (%s): %s", jerr.text, (const char *)r.out);
    return root;
}

Test(cli, status_json_of_a_node_without_seeds_shows_a_formed_cluster_of_itself_up)
{
    json_t *root = status_json();
    json_t *cluster = json_object_get(root, "cluster");
    cr_assert(json_is_object(cluster), "/health has no \"cluster\" object: the server lacks the cluster glue");
    cr_assert(json_is_true(json_object_get(cluster, "formed")), "a node without --seeds is formed at once");
    json_t *nodes = json_object_get(cluster, "nodes");
    cr_assert_eq(json_array_size(nodes), 1, "a node alone sees one node");
    json_t *n = json_array_get(nodes, 0);
    cr_assert_str_eq(json_string_value(json_object_get(n, "id")), "test");
    cr_assert(json_is_true(json_object_get(n, "self")));
    cr_assert(json_is_true(json_object_get(n, "up")));
    cr_assert_eq(json_integer_value(json_object_get(n, "shards")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(n, "binary")), srv.addr);
    cr_assert_str_eq(json_string_value(json_object_get(n, "http")), srv.http_addr);
    json_decref(root);
}

Test(cli, status_prints_the_single_node_as_up_with_all_tokens)
{
    struct cli_result r;
    HTTPNODE(&r, "status");
    cr_assert_eq(r.rc, 0, "status: exit %d: %s", r.rc, r.err);
    cr_assert_str_empty(r.err);
    const char *out = (const char *)r.out;
    cr_assert_not_null(strstr(out, "cluster formed"), "%s", out);
    const char *row = strstr(out, "\ntest *");
    cr_assert_not_null(row, "no row for node test, marked as the one that answered: %s", out);
    char line[256];
    size_t len = strcspn(row + 1, "\n");
    cr_assert_lt(len, sizeof(line));
    memcpy(line, row + 1, len);
    line[len] = '\0';
    cr_assert_not_null(strstr(line, " up "), "%s", line);
    cr_assert_not_null(strstr(line, "100.0%"), "one node owns every token: %s", line);
    cr_assert_not_null(strstr(line, srv.addr), "%s", line);
    cr_assert_not_null(strstr(line, srv.http_addr), "%s", line);
}

static bool port_bindable(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* The base of two free consecutive loopback ports for a node's peer listeners (shard i on
 * base + i). Drawn from 20000..29999, below the kernel's usual ephemeral range (32768 and
 * up), where test_free_port() finds its ports: otherwise the next free port it hands out for
 * the node's HTTP or binary listener may well be base + 1. */
static uint16_t free_port_pair_low(void)
{
    uint32_t x = (uint32_t)getpid() * 2654435761u ^ (uint32_t)now_ms();
    for (int tries = 0; tries < 100; tries++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        uint16_t base = (uint16_t)(20000u + x % 10000u);
        if (port_bindable(base) && port_bindable((uint16_t)(base + 1u)))
            return base;
    }
    return 0;
}

/* explain against a node with a peer port of its own but no seeds: a cluster of one, formed
 * at once. */
static void node_with_peer_start(void)
{
    ignore_sigpipe();
    uint16_t peer = free_port_pair_low();
    cr_assert_neq(peer, 0, "no two free consecutive ports in 100 tries");
    char args[64];
    snprintf(args, sizeof(args), "--shards 2 --peer 127.0.0.1:%u", (unsigned)peer);
    if (!test_server_start(&srv, args)) {
        char *log = test_server_log(&srv);
        cr_assert_fail("server did not start with %s; its log:\n%s", args, log != NULL ? log : "(none)");
    }
}

TestSuite(cli_peer, .init = node_with_peer_start, .fini = node_stop, .timeout = 20);

Test(cli_peer, explain_of_a_written_key_shows_its_present_copy_and_json_is_the_same_document)
{
    struct cli_result r;
    NODE(&r, NULL, 0, "put", "user/42 x", "hi");
    cr_assert_eq(r.rc, 0, "put: exit %d: %s", r.rc, r.err);

    HTTPNODE(&r, "--json", "explain", "user/42 x");
    cr_assert_eq(r.rc, 0, "explain --json: exit %d: %s", r.rc, r.err);
    json_error_t jerr;
    json_t *raw = json_loadb((const char *)r.out, r.out_bytes, 0, &jerr);
    cr_assert_not_null(raw, "explain --json is not JSON (%s): %s", jerr.text, (const char *)r.out);
    cr_assert_str_eq(json_string_value(json_object_get(raw, "key")), "user/42 x");
    json_t *replicas = json_object_get(raw, "replicas");
    cr_assert_eq(json_array_size(replicas), 1, "a node alone holds the only copy");
    json_t *rep = json_array_get(replicas, 0);
    cr_assert_str_eq(json_string_value(json_object_get(rep, "node")), "test");
    cr_assert_str_eq(json_string_value(json_object_get(rep, "status")), "present");
    cr_assert_str_eq(json_string_value(json_object_get(rep, "value")), "aGk=", "base64 of \"hi\"");
    cr_assert_eq(json_integer_value(json_object_get(rep, "version")), 1);

    HTTPNODE(&r, "explain", "user/42 x");
    cr_assert_eq(r.rc, 0, "explain: exit %d: %s", r.rc, r.err);
    cr_assert_not_null(strchr((const char *)r.out, '\n'), "the pretty form spans lines");
    json_t *pretty = json_loadb((const char *)r.out, r.out_bytes, 0, &jerr);
    cr_assert_not_null(pretty, "explain is not JSON (%s): %s", jerr.text, (const char *)r.out);
    cr_assert(json_equal(raw, pretty), "explain and explain --json differ in content");
    json_decref(raw);
    json_decref(pretty);
}

Test(cli_peer, explain_of_a_deleted_key_shows_a_tombstone_and_a_missing_key_absent)
{
    struct cli_result r;
    NODE(&r, NULL, 0, "put", "gone", "soon");
    cr_assert_eq(r.rc, 0);
    NODE(&r, NULL, 0, "del", "gone");
    cr_assert_eq(r.rc, 0);
    HTTPNODE(&r, "--json", "explain", "gone");
    cr_assert_eq(r.rc, 0, "explain --json: exit %d: %s", r.rc, r.err);
    json_t *root = json_loadb((const char *)r.out, r.out_bytes, 0, NULL);
    cr_assert_not_null(root);
    json_t *rep = json_array_get(json_object_get(root, "replicas"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(rep, "status")), "tombstone");
    json_decref(root);

    HTTPNODE(&r, "--json", "explain", "never-written");
    cr_assert_eq(r.rc, 0, "explain --json: exit %d: %s", r.rc, r.err);
    root = json_loadb((const char *)r.out, r.out_bytes, 0, NULL);
    cr_assert_not_null(root);
    rep = json_array_get(json_object_get(root, "replicas"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(rep, "status")), "absent");
    json_decref(root);
}

Test(cli_peer, status_shows_the_node_with_its_peer_address)
{
    json_t *root = status_json();
    json_t *n = json_array_get(json_object_get(json_object_get(root, "cluster"), "nodes"), 0);
    cr_assert(json_is_true(json_object_get(n, "up")));
    const char *peer = json_string_value(json_object_get(n, "peer"));
    cr_assert_not_null(peer);
    cr_assert(strncmp(peer, "127.0.0.1:", 10) == 0, "peer address %s", peer);
    json_decref(root);
}

/* ---- without a node ---- */

TestSuite(cli_offline, .init = ignore_sigpipe, .timeout = 20);

Test(cli_offline, unknown_command_exits_2)
{
    struct cli_result r;
    CLI(&r, NULL, 0, "frobnicate", "key");
    assert_usage_error(&r, "frobnicate");
}

Test(cli_offline, no_command_exits_2)
{
    struct cli_result r;
    CLI(&r, NULL, 0, "--json");
    assert_usage_error(&r, "command");
}

Test(cli_offline, missing_key_exits_2_for_every_command_that_needs_one)
{
    struct cli_result r;
    CLI(&r, NULL, 0, "get");
    assert_usage_error(&r, "KEY");
    CLI(&r, NULL, 0, "del");
    assert_usage_error(&r, "KEY");
    CLI(&r, NULL, 0, "put");
    assert_usage_error(&r, "KEY");
    CLI(&r, NULL, 0, "get", "a", "b");
    assert_usage_error(&r, "KEY");
}

Test(cli_offline, bad_consistency_exits_2)
{
    struct cli_result r;
    CLI(&r, NULL, 0, "--consistency", "two", "get", "k");
    assert_usage_error(&r, "--consistency");
    CLI(&r, NULL, 0, "--consistency", "", "get", "k");
    assert_usage_error(&r, "--consistency");
    CLI(&r, NULL, 0, "get", "k", "--consistency");
    assert_usage_error(&r, "KEY");
}

Test(cli_offline, bad_ttl_exits_2)
{
    struct cli_result r;
    CLI(&r, NULL, 0, "--ttl", "soon", "put", "k", "v");
    assert_usage_error(&r, "--ttl");
    CLI(&r, NULL, 0, "--ttl", "-1", "put", "k", "v");
    assert_usage_error(&r, "--ttl");
    CLI(&r, NULL, 0, "--ttl", "4294967296", "put", "k", "v");
    assert_usage_error(&r, "--ttl");
    CLI(&r, NULL, 0, "--ttl", "10", "get", "k");
    assert_usage_error(&r, "--ttl");
    CLI(&r, NULL, 0, "put", "k", "v", "--ttl");
    cr_assert_eq(r.rc, 2, "an option after the command is an extra argument: exit %d", r.rc);
}

Test(cli_offline, connection_refused_exits_3_with_one_line_naming_the_address)
{
    uint16_t port = test_free_port();
    cr_assert_neq(port, 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
    struct cli_result r;
    CLI(&r, NULL, 0, "--addr", addr, "--timeout", "2000", "ping");
    cr_assert_eq(r.rc, 3, "exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, addr), "%s", r.err);
}

Test(cli_offline, help_exits_0_and_documents_every_exit_code)
{
    struct cli_result r;
    CLI(&r, NULL, 0, "--help");
    cr_assert_eq(r.rc, 0, "exit %d: %s", r.rc, r.err);
    cr_assert_str_empty(r.err);
    char *out = strdup((const char *)r.out);
    cr_assert_not_null(out);
    static const char *const documented[] = {
        "put KEY [VALUE]", "get KEY", "del KEY", "ping", "--addr", "--json", "--ttl", "--if-version",
        "--consistency", "--timeout", "Exit codes", "0  done", "1  key not found", "2  usage error",
        "3  any other error",
    };
    for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
        cr_assert_not_null(strstr(out, documented[i]), "--help does not mention \"%s\"", documented[i]);
    CLI(&r, NULL, 0, "-h");
    cr_assert_eq(r.rc, 0);
    cr_assert_str_eq((const char *)r.out, out, "-h and --help differ");
    free(out);
}

Test(cli_offline, help_documents_the_cluster_commands_and_http)
{
    struct cli_result r;
    CLI(&r, NULL, 0, "--help");
    cr_assert_eq(r.rc, 0);
    static const char *const documented[] = {"status", "explain KEY", "--http HOST:PORT", "127.0.0.1:8080"};
    for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
        cr_assert_not_null(strstr((const char *)r.out, documented[i]), "--help does not mention \"%s\"", documented[i]);
}

Test(cli_offline, cluster_command_usage_errors_exit_2)
{
    struct cli_result r;
    CLI(&r, NULL, 0, "status", "extra");
    assert_usage_error(&r, "status");
    CLI(&r, NULL, 0, "explain");
    assert_usage_error(&r, "KEY");
    CLI(&r, NULL, 0, "explain", "a", "b");
    assert_usage_error(&r, "KEY");
    CLI(&r, NULL, 0, "--consistency", "one", "status");
    assert_usage_error(&r, "--consistency");
    CLI(&r, NULL, 0, "--consistency", "all", "explain", "k");
    assert_usage_error(&r, "--consistency");
    CLI(&r, NULL, 0, "--http", "no-port", "status");
    assert_usage_error(&r, "--http");
    CLI(&r, NULL, 0, "--http", "127.0.0.1:0", "explain", "k");
    assert_usage_error(&r, "--http");
    CLI(&r, NULL, 0, "--http", "::1:80", "status");
    assert_usage_error(&r, "--http");
}

Test(cli_offline, status_with_nothing_listening_exits_3_naming_the_http_address)
{
    uint16_t port = test_free_port();
    cr_assert_neq(port, 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
    struct cli_result r;
    CLI(&r, NULL, 0, "--http", addr, "--timeout", "2000", "status");
    cr_assert_eq(r.rc, 3, "exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, addr), "%s", r.err);
}

/* ---- fake servers on loopback ---- */

/* One connection on a loopback port, served by a thread: it reads one request (an HTTP head,
 * or one binary frame), keeps its bytes, then answers as the test said. Every wait is
 * bounded by FAKE_WAIT_MS. Owner: the test; fake_join() ends it. */
#define FAKE_WAIT_MS 10000
#define FAKE_REQ_CAP 4096u

enum fake_kind { FAKE_HTTP, FAKE_BIN };

struct fake {
    enum fake_kind kind;
    /* HTTP: bytes sent once the request head is in; NULL: no answer at all, the connection
     * is held until the client closes it. */
    const char *answer;
    size_t stream_bytes; /* HTTP: filler bytes sent after the answer, as fast as taken */
    int lfd;
    uint16_t port;
    char addr[32];
    pthread_t thread;
    uint8_t req[FAKE_REQ_CAP]; /* what the client sent */
    size_t req_bytes;
    struct bin_req breq; /* FAKE_BIN: the decoded request */
    bool got_request;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool fake_wait(int fd, short events, uint64_t deadline_ms)
{
    uint64_t now = now_ms();
    if (now >= deadline_ms)
        return false;
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    return poll(&p, 1, (int)(deadline_ms - now)) > 0;
}

static bool fake_request_complete(struct fake *f)
{
    if (f->kind == FAKE_HTTP)
        return memmem(f->req, f->req_bytes, "\r\n\r\n", 4) != NULL;
    size_t frame_bytes;
    enum rkv_err why;
    return bin_req_decode(f->req, f->req_bytes, &f->breq, &frame_bytes, &why) == PARSE_DONE;
}

static void fake_send(int fd, const void *p, size_t len, uint64_t deadline_ms)
{
    const char *c = p;
    while (len > 0) {
        if (!fake_wait(fd, POLLOUT, deadline_ms))
            return;
        ssize_t n = send(fd, c, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            return; /* the client went away: it is allowed to, once it has seen enough */
        c += n;
        len -= (size_t)n;
    }
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    uint64_t deadline = now_ms() + FAKE_WAIT_MS;
    if (!fake_wait(f->lfd, POLLIN, deadline))
        return NULL;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    while (!fake_request_complete(f) && f->req_bytes < sizeof(f->req) && fake_wait(fd, POLLIN, deadline)) {
        ssize_t n = recv(fd, f->req + f->req_bytes, sizeof(f->req) - f->req_bytes, MSG_DONTWAIT);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
            break;
        if (n > 0)
            f->req_bytes += (size_t)n;
    }
    f->got_request = fake_request_complete(f);
    if (f->got_request && f->kind == FAKE_BIN) {
        struct bin_resp resp = {.request_id = f->breq.request_id, .opcode = f->breq.opcode,
                                .status = rkv_err_wire(RKV_OK), .acked = 1, .needed = 1};
        uint8_t hdr[RKV_RESP_HDR_BYTES];
        bin_resp_encode_hdr(hdr, &resp);
        fake_send(fd, hdr, sizeof(hdr), deadline);
    } else if (f->got_request && f->answer != NULL) {
        fake_send(fd, f->answer, strlen(f->answer), deadline);
        static char filler[65536];
        memset(filler, 'x', sizeof(filler));
        for (size_t sent = 0; sent < f->stream_bytes; sent += sizeof(filler))
            fake_send(fd, filler, sizeof(filler), deadline);
    }
    if (f->answer == NULL || f->kind == FAKE_BIN) {
        /* Hold the connection until the client closes it. */
        uint8_t sink[256];
        while (fake_wait(fd, POLLIN, deadline) && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
        }
    }
    close(fd);
    return NULL;
}

static void fake_start(struct fake *f, enum fake_kind kind, const char *answer, size_t stream_bytes)
{
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->answer = answer;
    f->stream_bytes = stream_bytes;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(f->lfd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    cr_assert_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(f->lfd, 4), 0);
    cr_assert_eq(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", (unsigned)f->port);
    cr_assert_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_join(struct fake *f)
{
    pthread_join(f->thread, NULL);
    close(f->lfd);
}

Test(cli_offline, consistency_byte_of_every_data_request_is_the_level_given)
{
    static const struct {
        const char *flag; /* NULL: not given */
        uint8_t wire;
    } levels[] = {{NULL, BIN_CONS_QUORUM}, {"one", BIN_CONS_ONE}, {"quorum", BIN_CONS_QUORUM}, {"all", BIN_CONS_ALL}};
    static const struct {
        const char *cmd;
        uint8_t opcode;
    } cmds[] = {{"get", BIN_OP_GET}, {"put", BIN_OP_PUT}, {"del", BIN_OP_DELETE}};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
            struct fake f;
            fake_start(&f, FAKE_BIN, NULL, 0);
            struct cli_result r;
            bool put = strcmp(cmds[c].cmd, "put") == 0;
            if (levels[l].flag != NULL && put)
                CLI(&r, NULL, 0, "--addr", f.addr, "--consistency", levels[l].flag, "put", "k", "v");
            else if (levels[l].flag != NULL)
                CLI(&r, NULL, 0, "--addr", f.addr, "--consistency", levels[l].flag, cmds[c].cmd, "k");
            else if (put)
                CLI(&r, NULL, 0, "--addr", f.addr, "put", "k", "v");
            else
                CLI(&r, NULL, 0, "--addr", f.addr, cmds[c].cmd, "k");
            fake_join(&f);
            const char *level = levels[l].flag != NULL ? levels[l].flag : "(default)";
            cr_assert(f.got_request, "%s %s: no whole request arrived", cmds[c].cmd, level);
            cr_assert_eq(r.rc, 0, "%s %s: exit %d: %s", cmds[c].cmd, level, r.rc, r.err);
            cr_assert_eq(f.breq.opcode, cmds[c].opcode, "%s %s", cmds[c].cmd, level);
            cr_assert_eq(f.breq.consistency, levels[l].wire, "%s %s: consistency byte %u", cmds[c].cmd, level,
                         (unsigned)f.breq.consistency);
            cr_assert_eq(f.req[9], levels[l].wire, "byte 9 of the frame is the consistency");
        }
    }
}

/* An HTTP answer with status line `status` carrying body, in a static buffer. */
static const char *http_answer(const char *status, const char *body)
{
    static char buf[8192];
    int n = snprintf(buf, sizeof(buf), "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     status, strlen(body), body);
    cr_assert(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static const char *http_ok(const char *body)
{
    return http_answer("200 OK", body);
}

Test(cli_offline, status_prints_a_row_per_node_with_state_shards_tokens_and_addresses)
{
    struct fake f;
    fake_start(&f, FAKE_HTTP,
               http_ok("{\"status\":\"ok\",\"node_id\":\"n1\",\"shards\":2,\"uptime_seconds\":3,\"cluster\":{"
                       "\"formed\":true,\"rf\":3,\"nodes\":["
                       "{\"id\":\"n1\",\"self\":true,\"up\":true,\"shards\":2,\"binary\":\"127.0.0.1:7100\","
                       "\"http\":\"127.0.0.1:7101\",\"peer\":\"127.0.0.1:7150\",\"tokens_owned\":0.3333},"
                       "{\"id\":\"n2\",\"self\":false,\"up\":false,\"shards\":4,\"binary\":\"127.0.0.1:7200\","
                       "\"http\":\"127.0.0.1:7201\",\"peer\":\"127.0.0.1:7250\",\"tokens_owned\":0.6667},"
                       "{\"id\":\"n3\\u001b[2J\",\"up\":true}]}}"),
               0);
    struct cli_result r;
    CLI(&r, NULL, 0, "--http", f.addr, "status");
    fake_join(&f);
    cr_assert_eq(r.rc, 0, "exit %d: %s", r.rc, r.err);
    cr_assert(f.got_request);
    cr_assert(strncmp((const char *)f.req, "GET /health HTTP/1.1\r\n", 22) == 0, "request: %.*s",
              (int)f.req_bytes, (const char *)f.req);
    const char *out = (const char *)r.out;
    cr_assert_not_null(strstr(out, "cluster formed, rf 3, 3 nodes, as seen by n1"), "%s", out);
    cr_assert_not_null(strstr(out, "\nn1 *        up     2       33.3%    127.0.0.1:7100        127.0.0.1:7101        "
                                   "127.0.0.1:7150\n"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "\nn2          down   4       66.7%    127.0.0.1:7200        127.0.0.1:7201        "
                                   "127.0.0.1:7250\n"),
                       "%s", out);
    cr_assert_null(strchr(out, '\x1b'), "a control character from the network reached the terminal: %s", out);
    cr_assert_not_null(strstr(out, "\nn3?[2J"), "%s", out);

    fake_start(&f, FAKE_HTTP, http_ok("{\"status\":\"ok\",\"cluster\":{\"formed\":false,\"nodes\":[]}}"), 0);
    CLI(&r, NULL, 0, "--http", f.addr, "--json", "status");
    fake_join(&f);
    cr_assert_eq(r.rc, 0, "exit %d: %s", r.rc, r.err);
    cr_assert_str_eq((const char *)r.out, "{\"status\":\"ok\",\"cluster\":{\"formed\":false,\"nodes\":[]}}\n",
                     "--json is the body as sent, with a newline");
}

Test(cli_offline, status_of_a_node_without_a_cluster_section_exits_3)
{
    struct fake f;
    fake_start(&f, FAKE_HTTP, http_ok("{\"status\":\"ok\",\"node_id\":\"old\",\"shards\":2,\"uptime_seconds\":1}"), 0);
    struct cli_result r;
    CLI(&r, NULL, 0, "--http", f.addr, "status");
    fake_join(&f);
    cr_assert_eq(r.rc, 3, "exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "cluster"), "%s", r.err);
}

Test(cli_offline, explain_sends_the_key_percent_encoded_and_prints_the_json_indented)
{
    struct fake f;
    fake_start(&f, FAKE_HTTP, http_ok("{\"key\":\"a/b c\",\"token\":7,\"replicas\":[],\"hints\":[]}"), 0);
    struct cli_result r;
    CLI(&r, NULL, 0, "--http", f.addr, "explain", "a/b c\xc3\xa9~");
    fake_join(&f);
    cr_assert_eq(r.rc, 0, "exit %d: %s", r.rc, r.err);
    static const char line[] = "GET /debug/key/a%2Fb%20c%C3%A9~ HTTP/1.1\r\n";
    cr_assert(f.req_bytes >= strlen(line) && memcmp(f.req, line, strlen(line)) == 0, "request: %.*s",
              (int)f.req_bytes, (const char *)f.req);
    cr_assert_str_eq((const char *)r.out,
                     "{\n  \"key\": \"a/b c\",\n  \"token\": 7,\n  \"replicas\": [],\n  \"hints\": []\n}\n");
}

Test(cli_offline, answer_other_than_200_exits_3_with_its_status_code_and_message)
{
    struct fake f;
    fake_start(&f, FAKE_HTTP,
               http_answer("400 Bad Request", "{\"error\":\"key_too_long\",\"message\":\"key longer than 256 \\u0001\"}"), 0);
    struct cli_result r;
    CLI(&r, NULL, 0, "--http", f.addr, "explain", "k");
    fake_join(&f);
    cr_assert_eq(r.rc, 3, "exit %d: %s", r.rc, r.err);
    cr_assert_eq(r.out_bytes, 0);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "400 key_too_long: key longer than 256 ?"), "%s", r.err);
}

Test(cli_offline, answer_announcing_more_than_16_mib_is_refused_with_exit_3)
{
    char answer[128];
    snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n{",
             (unsigned)(16u << 20) + 1u);
    struct fake f;
    fake_start(&f, FAKE_HTTP, answer, 0);
    struct cli_result r;
    CLI(&r, NULL, 0, "--http", f.addr, "status");
    fake_join(&f);
    cr_assert_eq(r.rc, 3, "exit %d: %s", r.rc, r.err);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "16 MiB"), "%s", r.err);
}

Test(cli_offline, answer_streaming_past_16_mib_without_a_length_is_cut_off_with_exit_3)
{
    struct fake f;
    /* No Content-Length: the body would end at the close, which never comes before the
     * limit. 17 MiB of filler follow the head. */
    fake_start(&f, FAKE_HTTP, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", 17u << 20);
    struct cli_result r;
    CLI(&r, NULL, 0, "--http", f.addr, "status");
    fake_join(&f);
    cr_assert_eq(r.rc, 3, "exit %d: %s", r.rc, r.err);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "16 MiB"), "%s", r.err);
}

Test(cli_offline, node_that_never_answers_costs_the_timeout_and_exits_3)
{
    struct fake f;
    fake_start(&f, FAKE_HTTP, NULL, 0);
    uint64_t t0 = now_ms();
    struct cli_result r;
    CLI(&r, NULL, 0, "--http", f.addr, "--timeout", "300", "status");
    uint64_t took = now_ms() - t0;
    fake_join(&f);
    cr_assert(f.got_request);
    cr_assert_eq(r.rc, 3, "exit %d: %s", r.rc, r.err);
    assert_one_line(r.err);
    cr_assert_not_null(strstr(r.err, "in time"), "%s", r.err);
    cr_assert_geq(took, 300, "gave up after %llu ms, before the timeout", (unsigned long long)took);
    cr_assert_lt(took, 5000, "took %llu ms for a 300 ms timeout", (unsigned long long)took);
}
