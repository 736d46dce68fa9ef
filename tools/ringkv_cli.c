/* ringkv-cli: one command against one node. The data commands (put, get, del, ping) go
 * through the client library (net/ringkv.h) on the binary protocol; the cluster commands
 * (status, explain) are one GET on the node's HTTP/JSON API (tools/cli_http.h), parsed with
 * jansson. A short-lived, single-threaded program: it parses its arguments, makes one
 * connection, sends one request and prints the answer. Exit codes are part of its interface
 * (see --help): 0 done, 1 key not found, 2 usage error, 3 any other error; every error prints
 * one line "ringkv-cli: <message>" on stderr. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "net/ringkv.h"
#include "tools/cli_http.h"

enum cli_exit { CLI_EXIT_DONE = 0, CLI_EXIT_NOT_FOUND = 1, CLI_EXIT_USAGE = 2, CLI_EXIT_FAILED = 3 };

#define CLI_ADDR_DEFAULT "127.0.0.1:7379"
#define CLI_HTTP_ADDR_DEFAULT "127.0.0.1:8080"
#define CLI_TIMEOUT_MS_DEFAULT 5000
/* One byte over the limit, so that an over-long value reaches the server and is refused
 * there with its own status rather than cut short here. */
#define CLI_STDIN_BYTES_MAX (RKV_VALUE_BYTES_MAX + 1u)

struct cli_args {
    const char *addr;
    const char *http_addr;
    struct ringkv_options opts;
    bool consistency_set;
    bool json;
    int timeout_ms;
    const char *command;
    const char *key;
    const char *value; /* NULL: read stdin (put only) */
};

static void cli_help(FILE *out)
{
    fputs("usage: ringkv-cli [OPTIONS] COMMAND\n"
          "\n"
          "Commands:\n"
          "  put KEY [VALUE]   store VALUE under KEY; without VALUE, read it from stdin\n"
          "                    (at most 1 MiB); prints nothing unless --json\n"
          "  get KEY           write the value's raw bytes to stdout\n"
          "  del KEY           delete KEY; prints nothing unless --json\n"
          "  ping              check that the node answers; prints PONG\n"
          "  status            the cluster as the node sees it (GET /health on --http):\n"
          "                    every node, up or down, its shards, the share of the ring's\n"
          "                    tokens it owns and its addresses\n"
          "  explain KEY       where KEY lives (GET /debug/key on --http): its token, every\n"
          "                    replica's copy (present, absent, tombstone, expired or\n"
          "                    unreachable) and the hints held for it, as indented JSON\n"
          "\n"
          "Options (before the command):\n"
          "  --addr HOST:PORT          node to talk to (default " CLI_ADDR_DEFAULT "; IPv6 as [ADDR]:PORT)\n"
          "  --http HOST:PORT          status, explain: the node's HTTP/JSON API\n"
          "                            (default " CLI_HTTP_ADDR_DEFAULT ")\n"
          "  --consistency one|quorum|all\n"
          "                            get, put, del: replicas that must answer (one; a\n"
          "                            majority of the key's replicas; all of them)\n"
          "                            (default quorum)\n"
          "  --ttl S                   put: expire after S seconds (0, the default: never;\n"
          "                            at most 315360000, ten years)\n"
          "  --if-version V            put: succeed only if the key's current version is V\n"
          "                            (0: only if the key does not exist)\n"
          "  --json                    print one JSON object: get {\"key\",\"value\" (base64),\n"
          "                            \"version\",\"timestamp\"}; put {\"key\",\"version\",\"timestamp\"};\n"
          "                            del {\"key\",\"timestamp\"}; ping {\"pong\":true};\n"
          "                            status, explain: the node's JSON as it sent it\n"
          "  --timeout MS              connect and answer timeout in milliseconds (default 5000)\n"
          "  -h, --help                print this help and exit\n"
          "\n"
          "Keys are 1..256 bytes, values 0..1 MiB. JSON strings show a key's bytes as UTF-8\n"
          "and any invalid byte as U+FFFD.\n"
          "\n"
          "Exit codes:\n"
          "  0  done\n"
          "  1  key not found\n"
          "  2  usage error (bad option or argument)\n"
          "  3  any other error, a version mismatch included, and for status and explain any\n"
          "     answer but 200; one line on stderr says which\n",
          out);
}

static int cli_usage_error(const char *what, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "ringkv-cli: %s: %s (see --help)\n", what, arg);
    else
        fprintf(stderr, "ringkv-cli: %s (see --help)\n", what);
    return CLI_EXIT_USAGE;
}

/* A decimal number with no sign, no spaces and no more than max; false otherwise. */
static bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s[0] == '\0')
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

/* Returns CLI_EXIT_DONE with *a filled, or the usage exit code after printing why. *help_out
 * set asks the caller to print the help and stop. */
static int cli_parse_args(int argc, char **argv, struct cli_args *a, bool *help_out)
{
    enum { OPT_ADDR = 1000, OPT_HTTP, OPT_CONSISTENCY, OPT_TTL, OPT_IF_VERSION, OPT_JSON, OPT_TIMEOUT };
    static const struct option longopts[] = {
        {"addr", required_argument, NULL, OPT_ADDR},
        {"http", required_argument, NULL, OPT_HTTP},
        {"consistency", required_argument, NULL, OPT_CONSISTENCY},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"if-version", required_argument, NULL, OPT_IF_VERSION},
        {"json", no_argument, NULL, OPT_JSON},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->addr = CLI_ADDR_DEFAULT;
    a->http_addr = CLI_HTTP_ADDR_DEFAULT;
    a->timeout_ms = CLI_TIMEOUT_MS_DEFAULT;
    a->opts = ringkv_options_default();
    *help_out = false;

    opterr = 0;
    int ch;
    /* "+": options end at the command, so a value such as "-5" is never taken for one. */
    while ((ch = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        uint64_t v;
        switch (ch) {
        case OPT_ADDR:
            a->addr = optarg;
            break;
        case OPT_HTTP:
            a->http_addr = optarg;
            break;
        case OPT_CONSISTENCY:
            a->consistency_set = true;
            if (strcmp(optarg, "one") == 0)
                a->opts.consistency = RINGKV_ONE;
            else if (strcmp(optarg, "quorum") == 0)
                a->opts.consistency = RINGKV_QUORUM;
            else if (strcmp(optarg, "all") == 0)
                a->opts.consistency = RINGKV_ALL;
            else
                return cli_usage_error("--consistency must be one, quorum or all", optarg);
            break;
        case OPT_TTL:
            /* Up to what the field holds; the server judges the ten-year limit. */
            if (!cli_parse_u64(optarg, UINT32_MAX, &v))
                return cli_usage_error("--ttl needs a number of seconds", optarg);
            a->opts.ttl_s = (uint32_t)v;
            break;
        case OPT_IF_VERSION:
            if (!cli_parse_u64(optarg, UINT64_MAX, &v))
                return cli_usage_error("--if-version needs a version number", optarg);
            a->opts.if_version_set = 1;
            a->opts.if_version = v;
            break;
        case OPT_JSON:
            a->json = true;
            break;
        case OPT_TIMEOUT:
            if (!cli_parse_u64(optarg, INT_MAX, &v) || v == 0)
                return cli_usage_error("--timeout needs a number of milliseconds from 1", optarg);
            a->timeout_ms = (int)v;
            break;
        case 'h':
            *help_out = true;
            return CLI_EXIT_DONE;
        case ':':
            return cli_usage_error("option needs an argument", argv[optind - 1]);
        default:
            return cli_usage_error("unknown option", argv[optind - 1]);
        }
    }

    int rest = argc - optind;
    char **arg = argv + optind;
    if (rest == 0)
        return cli_usage_error("no command given", NULL);
    a->command = arg[0];
    if (strcmp(a->command, "ping") == 0) {
        if (rest != 1)
            return cli_usage_error("ping takes no arguments", NULL);
    } else if (strcmp(a->command, "get") == 0 || strcmp(a->command, "del") == 0) {
        if (rest != 2)
            return cli_usage_error("expected exactly one KEY after", a->command);
        a->key = arg[1];
    } else if (strcmp(a->command, "put") == 0) {
        if (rest != 2 && rest != 3)
            return cli_usage_error("expected KEY [VALUE] after", a->command);
        a->key = arg[1];
        a->value = rest == 3 ? arg[2] : NULL;
    } else if (strcmp(a->command, "status") == 0) {
        if (rest != 1)
            return cli_usage_error("status takes no arguments", NULL);
    } else if (strcmp(a->command, "explain") == 0) {
        if (rest != 2)
            return cli_usage_error("expected exactly one KEY after", a->command);
        a->key = arg[1];
    } else {
        return cli_usage_error("unknown command", a->command);
    }
    if (strcmp(a->command, "put") != 0 && (a->opts.ttl_s != 0 || a->opts.if_version_set))
        return cli_usage_error("--ttl and --if-version apply to put only", NULL);
    if (a->consistency_set && (strcmp(a->command, "status") == 0 || strcmp(a->command, "explain") == 0))
        return cli_usage_error("--consistency applies to get, put and del only", NULL);
    return CLI_EXIT_DONE;
}

/* Reads all of stdin, up to CLI_STDIN_BYTES_MAX bytes. */
static bool cli_read_stdin(uint8_t *buf, size_t cap, size_t *len_out)
{
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        len += (size_t)n;
    }
    *len_out = len;
    return true;
}

/* ---- JSON ---- */

/* The length of the valid UTF-8 sequence at p[0..len), or 0 when it is not one. */
static size_t cli_utf8_seq(const uint8_t *p, size_t len)
{
    uint8_t b = p[0];
    size_t n;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
        cp = b & 0x1fu;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        cp = b & 0x0fu;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        cp = b & 0x07u;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0u) != 0x80u)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void cli_json_string(FILE *out, const uint8_t *s, size_t len)
{
    fputc('"', out);
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        size_t n = cli_utf8_seq(s + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", out);
            i++;
        } else if (n > 1) {
            fwrite(s + i, 1, n, out);
            i += n;
        } else {
            if (b == '"' || b == '\\')
                fprintf(out, "\\%c", b);
            else if (b == '\n')
                fputs("\\n", out);
            else if (b == '\t')
                fputs("\\t", out);
            else if (b < 0x20 || b == 0x7f)
                fprintf(out, "\\u%04x", b);
            else
                fputc(b, out);
            i++;
        }
    }
    fputc('"', out);
}

static void cli_base64(FILE *out, const uint8_t *p, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63u], alphabet[(v >> 6) & 63u], alphabet[v & 63u]};
        fwrite(q, 1, 4, out);
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63u], '=', '='};
        fwrite(q, 1, 4, out);
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63u], alphabet[(v >> 6) & 63u], '='};
        fwrite(q, 1, 4, out);
    }
}

/* ---- running a command ---- */

static int cli_failed(enum ringkv_err err, const struct ringkv_reply *reply)
{
    const char *msg = reply != NULL && reply->message != NULL ? reply->message : ringkv_strerror(err);
    fprintf(stderr, "ringkv-cli: %s\n", msg);
    return err == RINGKV_NOT_FOUND ? CLI_EXIT_NOT_FOUND : CLI_EXIT_FAILED;
}

static int cli_finish_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ringkv-cli: cannot write to stdout: %s\n", strerror(errno));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_DONE;
}

static int cli_run(ringkv_client *c, const struct cli_args *a)
{
    struct ringkv_reply r;
    enum ringkv_err err;
    const uint8_t *key = (const uint8_t *)a->key;
    size_t key_bytes = a->key ? strlen(a->key) : 0;

    if (strcmp(a->command, "ping") == 0) {
        err = ringkv_ping(c, &r);
        if (err != RINGKV_OK)
            return cli_failed(err, &r);
        fputs(a->json ? "{\"pong\":true}\n" : "PONG\n", stdout);
        return cli_finish_stdout();
    }

    if (strcmp(a->command, "get") == 0) {
        err = ringkv_get(c, key, key_bytes, &a->opts, &r);
        if (err != RINGKV_OK)
            return cli_failed(err, &r);
        if (a->json) {
            fputs("{\"key\":", stdout);
            cli_json_string(stdout, key, key_bytes);
            fputs(",\"value\":\"", stdout);
            cli_base64(stdout, r.value, r.value_bytes);
            printf("\",\"version\":%llu,\"timestamp\":%llu}\n", (unsigned long long)r.version,
                   (unsigned long long)r.timestamp);
        } else if (r.value_bytes != 0) {
            fwrite(r.value, 1, r.value_bytes, stdout);
        }
        return cli_finish_stdout();
    }

    if (strcmp(a->command, "del") == 0) {
        err = ringkv_delete(c, key, key_bytes, &a->opts, &r);
        if (err != RINGKV_OK)
            return cli_failed(err, &r);
        if (a->json) {
            fputs("{\"key\":", stdout);
            cli_json_string(stdout, key, key_bytes);
            printf(",\"timestamp\":%llu}\n", (unsigned long long)r.timestamp);
        }
        return cli_finish_stdout();
    }

    /* put */
    const uint8_t *value = (const uint8_t *)a->value;
    size_t value_bytes = a->value ? strlen(a->value) : 0;
    uint8_t *from_stdin = NULL;
    if (a->value == NULL) {
        from_stdin = malloc(CLI_STDIN_BYTES_MAX);
        if (from_stdin == NULL) {
            fprintf(stderr, "ringkv-cli: %s\n", ringkv_strerror(RINGKV_ERR_NOMEM));
            return CLI_EXIT_FAILED;
        }
        if (!cli_read_stdin(from_stdin, CLI_STDIN_BYTES_MAX, &value_bytes)) {
            fprintf(stderr, "ringkv-cli: cannot read the value from stdin: %s\n", strerror(errno));
            free(from_stdin);
            return CLI_EXIT_FAILED;
        }
        value = from_stdin;
    }
    err = ringkv_put(c, key, key_bytes, value, value_bytes, &a->opts, &r);
    free(from_stdin);
    if (err != RINGKV_OK)
        return cli_failed(err, &r);
    if (a->json) {
        fputs("{\"key\":", stdout);
        cli_json_string(stdout, key, key_bytes);
        printf(",\"version\":%llu,\"timestamp\":%llu}\n", (unsigned long long)r.version,
               (unsigned long long)r.timestamp);
    }
    return cli_finish_stdout();
}

/* ---- cluster commands: one GET on the node's HTTP/JSON API ---- */

/* Writes s with every control character (a terminal escape included) shown as '?': names and
 * messages come from the network. jansson has already checked that they are UTF-8. */
static void cli_print_text(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

/* The string at obj.name, or NULL when it is absent or not a string. */
static const char *cli_json_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

/* GETs target from a->http_addr. On CLI_EXIT_DONE *resp_out holds a 200 answer whose body
 * is JSON, parsed into *root_out (the caller frees both); otherwise one line on stderr said
 * why and there is nothing to free. */
static int cli_http_json(const struct cli_args *a, const char *target, struct cli_http_resp *resp_out,
                         json_t **root_out)
{
    *root_out = NULL;
    enum cli_http_err err = cli_http_get(a->http_addr, target, a->timeout_ms, resp_out);
    if (err == CLI_HTTP_BAD_ADDR)
        return cli_usage_error("--http must be HOST:PORT or [IPV6]:PORT", a->http_addr);
    if (err != CLI_HTTP_OK) {
        fprintf(stderr, "ringkv-cli: %s: %s\n", a->http_addr, cli_http_strerror(err));
        return CLI_EXIT_FAILED;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)resp_out->body, resp_out->body_bytes, JSON_REJECT_DUPLICATES, &jerr);
    if (resp_out->status != 200) {
        /* ringkv's errors are {"error":CODE,"message":SENTENCE}; anything else is shown by
         * its status alone. */
        const char *code = cli_json_str(root, "error");
        const char *msg = cli_json_str(root, "message");
        fprintf(stderr, "ringkv-cli: %s: GET %s answered %d", a->http_addr, target, resp_out->status);
        if (code != NULL) {
            fputc(' ', stderr);
            cli_print_text(stderr, code);
        }
        if (msg != NULL) {
            fputs(": ", stderr);
            cli_print_text(stderr, msg);
        }
        fputc('\n', stderr);
        json_decref(root);
        cli_http_resp_free(resp_out);
        return CLI_EXIT_FAILED;
    }
    if (!json_is_object(root)) {
        fprintf(stderr, "ringkv-cli: %s: GET %s answered 200 but not with a JSON object\n", a->http_addr, target);
        json_decref(root);
        cli_http_resp_free(resp_out);
        return CLI_EXIT_FAILED;
    }
    *root_out = root;
    return CLI_EXIT_DONE;
}

/* --json: the body exactly as the node sent it, with a newline after it if it had none. */
static void cli_print_raw(const struct cli_http_resp *resp)
{
    fwrite(resp->body, 1, resp->body_bytes, stdout);
    if (resp->body_bytes == 0 || resp->body[resp->body_bytes - 1] != '\n')
        fputc('\n', stdout);
}

static void cli_print_cell(const char *s, int width)
{
    if (s == NULL)
        s = "-";
    cli_print_text(stdout, s);
    int pad = width - (int)strlen(s);
    /* Always one space between columns, even after a cell wider than its column. */
    printf("%*s", pad > 1 ? pad : 1, "");
}

static int cli_status(const struct cli_args *a)
{
    struct cli_http_resp resp;
    json_t *root;
    int rc = cli_http_json(a, "/health", &resp, &root);
    if (rc != CLI_EXIT_DONE)
        return rc;
    json_t *cluster = json_object_get(root, "cluster");
    json_t *nodes = json_object_get(cluster, "nodes");
    if (!json_is_object(cluster) || !json_is_array(nodes)) {
        fprintf(stderr, "ringkv-cli: %s: /health has no \"cluster\" with its \"nodes\": the node does not run a cluster\n",
                a->http_addr);
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    if (a->json) {
        cli_print_raw(&resp);
        rc = cli_finish_stdout();
        goto out;
    }

    /* Fields the node left out, or sent with another type, show as "-" or "?". */
    json_t *rf = json_object_get(cluster, "rf");
    const char *self_id = cli_json_str(root, "node_id");
    printf("cluster %s, rf ", json_is_true(json_object_get(cluster, "formed")) ? "formed" : "NOT formed yet");
    if (json_is_integer(rf))
        printf("%" JSON_INTEGER_FORMAT, json_integer_value(rf));
    else
        fputc('?', stdout);
    printf(", %zu node%s, as seen by ", json_array_size(nodes), json_array_size(nodes) == 1 ? "" : "s");
    cli_print_text(stdout, self_id != NULL ? self_id : "?");
    printf(" at %s\n", a->http_addr);

    enum { COL_NODE = 12, COL_STATE = 7, COL_SHARDS = 8, COL_TOKENS = 9, COL_ADDR = 22 };
    printf("%-*s%-*s%-*s%-*s%-*s%-*s%s\n", COL_NODE, "node", COL_STATE, "state", COL_SHARDS, "shards", COL_TOKENS,
           "tokens", COL_ADDR, "binary", COL_ADDR, "http", "peer");
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        char id[160], shards[24], tokens[24];
        const char *node_id = cli_json_str(n, "id");
        snprintf(id, sizeof(id), "%s%s", node_id != NULL ? node_id : "?",
                 json_is_true(json_object_get(n, "self")) ? " *" : "");
        json_t *up = json_object_get(n, "up");
        json_t *sh = json_object_get(n, "shards");
        json_t *tok = json_object_get(n, "tokens_owned");
        if (json_is_integer(sh))
            snprintf(shards, sizeof(shards), "%" JSON_INTEGER_FORMAT, json_integer_value(sh));
        else
            snprintf(shards, sizeof(shards), "-");
        if (json_is_number(tok) && json_number_value(tok) >= 0.0 && json_number_value(tok) <= 1.0)
            snprintf(tokens, sizeof(tokens), "%.1f%%", json_number_value(tok) * 100.0);
        else
            snprintf(tokens, sizeof(tokens), "-");
        cli_print_cell(id, COL_NODE);
        cli_print_cell(json_is_true(up) ? "up" : json_is_false(up) ? "down" : "?", COL_STATE);
        cli_print_cell(shards, COL_SHARDS);
        cli_print_cell(tokens, COL_TOKENS);
        cli_print_cell(cli_json_str(n, "binary"), COL_ADDR);
        cli_print_cell(cli_json_str(n, "http"), COL_ADDR);
        const char *peer = cli_json_str(n, "peer");
        cli_print_text(stdout, peer != NULL ? peer : "-");
        fputc('\n', stdout);
    }
    puts("(* the node that answered; up and down are its view; tokens: its share of the ring)");
    rc = cli_finish_stdout();
out:
    json_decref(root);
    cli_http_resp_free(&resp);
    return rc;
}

static int cli_explain(const struct cli_args *a)
{
    /* The key goes into the path percent-encoded, so that any byte survives; the node
     * judges its length as it does on /kv. */
    char target[CLI_HTTP_TARGET_BYTES_MAX];
    static const char prefix[] = "/debug/key/";
    size_t key_bytes = strlen(a->key);
    memcpy(target, prefix, sizeof(prefix));
    if (key_bytes > RKV_KEY_BYTES_MAX + 1u ||
        !cli_http_encode_key((const uint8_t *)a->key, key_bytes, target + sizeof(prefix) - 1u,
                             sizeof(target) - (sizeof(prefix) - 1u))) {
        /* Past the limit by more than one byte: no need to ask the node what it would say. */
        fprintf(stderr, "ringkv-cli: %s\n", ringkv_strerror(RINGKV_KEY_TOO_LONG));
        return CLI_EXIT_FAILED;
    }
    struct cli_http_resp resp;
    json_t *root;
    int rc = cli_http_json(a, target, &resp, &root);
    if (rc != CLI_EXIT_DONE)
        return rc;
    if (a->json) {
        cli_print_raw(&resp);
    } else if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) == 0) {
        fputc('\n', stdout);
    }
    rc = cli_finish_stdout();
    json_decref(root);
    cli_http_resp_free(&resp);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli_args a;
    bool help = false;
    int rc = cli_parse_args(argc, argv, &a, &help);
    if (help) {
        cli_help(stdout);
        return cli_finish_stdout();
    }
    if (rc != CLI_EXIT_DONE)
        return rc;
    if (strcmp(a.command, "status") == 0)
        return cli_status(&a);
    if (strcmp(a.command, "explain") == 0)
        return cli_explain(&a);

    enum ringkv_err err = RINGKV_OK;
    ringkv_client *c = ringkv_connect(a.addr, a.timeout_ms, &err);
    if (c == NULL) {
        if (err == RINGKV_ERR_USAGE)
            return cli_usage_error("--addr must be HOST:PORT or [IPV6]:PORT", a.addr);
        fprintf(stderr, "ringkv-cli: %s: %s\n", a.addr, ringkv_strerror(err));
        return CLI_EXIT_FAILED;
    }
    rc = cli_run(c, &a);
    ringkv_close(c);
    return rc;
}
