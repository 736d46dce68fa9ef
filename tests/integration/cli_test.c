/* ringkv-cli against a real node: the commands with their output byte for byte, --json and
 * its base64 value, the exit codes (0 done, 1 not found, 2 usage, 3 any other error), the
 * key and value limits at max and max + 1, and the errors that need no node at all (usage,
 * connection refused, --help). Every run of the CLI is a child process with captured
 * stdout and stderr, bounded in time by test_run(). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
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
