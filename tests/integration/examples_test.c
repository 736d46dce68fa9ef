/* The client library's example programs (tools/examples/) run against a real node and
 * succeed, fail when no node answers, and every region between a pair of their markers (a
 * line holding only the comment `! [name]`) appears verbatim in docs/client.md, so that the
 * guide quotes code that CI runs (STYLE practice 23). Sources are read from the tree named
 * by RKV_SOURCE_DIR. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

#define EX_OUT_CAP 65536u
#define EX_REGIONS_MAX 32u
#define EX_REGION_NAME_BYTES_MAX 64u

struct ex_result {
    int rc;
    char out[EX_OUT_CAP];
    char err[EX_OUT_CAP];
};

static struct test_server srv;

/* Runs tools/examples/example-<name> with addr as its one argument. */
static void ex_run(const char *name, const char *addr, struct ex_result *r)
{
    char rel[128], bin[512];
    snprintf(rel, sizeof(rel), "tools/examples/example-%s", name);
    char *argv[] = {(char *)test_bin(rel, bin, sizeof(bin)), (char *)addr, NULL};
    r->rc = test_run(argv, NULL, 0, r->out, sizeof(r->out), r->err, sizeof(r->err));
}

static void ex_assert_has(const char *text, const char *want)
{
    cr_assert_not_null(strstr(text, want), "output lacks \"%s\":\n%s", want, text);
}

/* ---- against a node ---- */

static void node_start(void)
{
    cr_assert(test_server_start(&srv, "--shards 2"), "server did not start");
}

static void node_stop(void)
{
    test_server_cleanup(&srv);
}

TestSuite(examples, .init = node_start, .fini = node_stop, .timeout = 30);

Test(examples, hello_puts_gets_and_deletes_one_key_and_exits_0)
{
    static struct ex_result r;
    ex_run("hello", srv.addr, &r);
    cr_assert_eq(r.rc, 0, "exit %d, stderr:\n%s", r.rc, r.err);
    cr_assert_str_empty(r.err);
    ex_assert_has(r.out, "put hello:greeting: version 1\n");
    ex_assert_has(r.out, "conditional put hello:greeting: version 2\n");
    ex_assert_has(r.out, "get hello:greeting: \"hello, world\" (version 2)\n");
    ex_assert_has(r.out, "delete hello:greeting: done\n");
    ex_assert_has(r.out, "get hello:greeting: key not found\n");

    /* Again on the same node: the key's versions go on from its tombstone. */
    ex_run("hello", srv.addr, &r);
    cr_assert_eq(r.rc, 0, "second run: exit %d, stderr:\n%s", r.rc, r.err);
    ex_assert_has(r.out, "put hello:greeting: version 4\n");
}

Test(examples, pipeline_matches_1000_puts_and_1000_gets_by_request_id_and_exits_0)
{
    static struct ex_result r;
    ex_run("pipeline", srv.addr, &r);
    cr_assert_eq(r.rc, 0, "exit %d, stderr:\n%s", r.rc, r.err);
    cr_assert_str_empty(r.err);
    ex_assert_has(r.out, "1000 puts answered, ");
    ex_assert_has(r.out, "1000 gets answered, ");
}

/* ---- without a node ---- */

static void no_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

TestSuite(examples_offline, .init = no_sigpipe, .timeout = 30);

Test(examples_offline, every_example_exits_non_zero_when_no_node_answers)
{
    uint16_t port = test_free_port();
    cr_assert_neq(port, 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
    static struct ex_result r;
    static const char *const names[] = {"hello", "pipeline"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ex_run(names[i], addr, &r);
        cr_assert_eq(r.rc, 1, "example-%s: exit %d", names[i], r.rc);
        ex_assert_has(r.err, "cannot connect");
    }
}

/* ---- the guide quotes the examples ---- */

/* The whole file at RKV_SOURCE_DIR/rel, NUL-terminated; the caller frees it. */
static char *ex_read_source(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", RKV_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", rel);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    cr_assert_geq(len, 0);
    cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
    char *text = malloc((size_t)len + 1u);
    cr_assert_not_null(text);
    cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len, "short read of %s", rel);
    text[len] = '\0';
    fclose(f);
    return text;
}

struct ex_region {
    char name[EX_REGION_NAME_BYTES_MAX];
    const char *start; /* the line after the opening marker */
    size_t bytes;      /* up to the start of the closing marker's line */
};

/* The name of the marker on the line [line, end), if the line is nothing but one: the
 * comment `! [name]`, with any indentation. */
static bool ex_marker(const char *line, const char *end, char name[EX_REGION_NAME_BYTES_MAX])
{
    while (line < end && (*line == ' ' || *line == '\t'))
        line++;
    while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    static const char open[] = "/*! [", close[] = "] */";
    size_t open_bytes = sizeof(open) - 1u, close_bytes = sizeof(close) - 1u;
    size_t len = (size_t)(end - line);
    if (len <= open_bytes + close_bytes || memcmp(line, open, open_bytes) != 0 ||
        memcmp(end - close_bytes, close, close_bytes) != 0)
        return false;
    size_t name_bytes = len - open_bytes - close_bytes;
    cr_assert_lt(name_bytes, EX_REGION_NAME_BYTES_MAX, "marker name too long");
    memcpy(name, line + open_bytes, name_bytes);
    name[name_bytes] = '\0';
    return true;
}

/* Every marked region of src, in order. Markers come in pairs with the same name, do not
 * nest, and each name is used once per file. */
static size_t ex_regions(const char *file, const char *src, struct ex_region *out, size_t cap)
{
    size_t count = 0;
    struct ex_region *open = NULL;
    for (const char *line = src; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        const char *end = nl != NULL ? nl : line + strlen(line);
        const char *next = nl != NULL ? nl + 1 : end;
        char name[EX_REGION_NAME_BYTES_MAX];
        if (ex_marker(line, end, name)) {
            if (open == NULL) {
                cr_assert_lt(count, cap, "%s: too many regions", file);
                for (size_t i = 0; i < count; i++)
                    cr_assert_str_neq(out[i].name, name, "%s: region [%s] marked twice", file, name);
                open = &out[count++];
                snprintf(open->name, sizeof(open->name), "%s", name);
                open->start = next;
            } else {
                cr_assert_str_eq(name, open->name, "%s: [%s] opens inside [%s]", file, name, open->name);
                open->bytes = (size_t)(line - open->start);
                cr_assert_gt(open->bytes, 0, "%s: region [%s] is empty", file, name);
                open = NULL;
            }
        }
        line = next;
    }
    cr_assert_null(open, "%s: region [%s] is never closed", file, open ? open->name : "");
    return count;
}

/* Checks that file has exactly the regions named in want, and that each is in doc as it is. */
static void ex_assert_quoted(const char *file, const char *const *want, size_t want_count, const char *doc)
{
    char *src = ex_read_source(file);
    struct ex_region regions[EX_REGIONS_MAX];
    size_t count = ex_regions(file, src, regions, EX_REGIONS_MAX);
    cr_assert_eq(count, want_count, "%s: %zu marked regions, expected %zu", file, count, want_count);
    for (size_t i = 0; i < count; i++) {
        cr_assert_str_eq(regions[i].name, want[i], "%s: region %zu is [%s], expected [%s]", file, i,
                         regions[i].name, want[i]);
        char *text = strndup(regions[i].start, regions[i].bytes);
        cr_assert_not_null(text);
        cr_assert_not_null(strstr(doc, text), "docs/client.md does not quote %s [%s] verbatim:\n%s", file,
                           regions[i].name, text);
        free(text);
    }
    free(src);
}

Test(examples_offline, every_marked_region_appears_verbatim_in_docs_client_md)
{
    char *doc = ex_read_source("docs/client.md");
    static const char *const hello[] = {"connect", "put", "options", "get", "delete", "close"};
    static const char *const pipeline[] = {"send", "recv"};
    ex_assert_quoted("tools/examples/hello.c", hello, sizeof(hello) / sizeof(hello[0]), doc);
    ex_assert_quoted("tools/examples/pipeline.c", pipeline, sizeof(pipeline) / sizeof(pipeline[0]), doc);
    free(doc);
}
