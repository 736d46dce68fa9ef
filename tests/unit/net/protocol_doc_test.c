/* Keeps docs/protocol.md honest: every example frame printed there in hex is built here with
 * the codec and compared byte for byte, and every row of RKV_ERR_TABLE must appear in the
 * doc's status table exactly. The doc is read at test time from RKV_SOURCE_DIR. Run with
 * RKV_PRINT_DOC_HEX=1 to print the blocks as the doc should show them. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/limits.h"
#include "net/proto_bin.h"

#define DOC_PATH RKV_SOURCE_DIR "/docs/protocol.md"
#define EXAMPLE_BYTES_MAX 512u
/* 2026-01-01T00:00:00Z in milliseconds, logical counter 3. */
#define EXAMPLE_TIMESTAMP ((1767225600000ull << 16) | 3u)

struct example {
    uint8_t bytes[EXAMPLE_BYTES_MAX];
    size_t len;
    char text[4096]; /* the annotated dump the doc shows */
};

static char *doc_read(void)
{
    FILE *f = fopen(DOC_PATH, "rb");
    cr_assert_not_null(f, "cannot open %s", DOC_PATH);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_gt(n, 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Appends one line: the bytes in hex, padded to a column, then the note. */
static void dump_line(struct example *ex, size_t off, size_t n, const char *note)
{
    char line[256];
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(line + at, sizeof(line) - at, i ? " %02x" : "%02x", ex->bytes[off + i]);
    if (note[0] != '\0')
        snprintf(line + at, sizeof(line) - at, "%*s%s", (int)(26 - at), "", note);
    strncat(ex->text, line, sizeof(ex->text) - strlen(ex->text) - 2);
    strcat(ex->text, "\n");
}

/* Dumps bytes [off, off + n) eight to a line, the note on the first. */
static void dump_run(struct example *ex, size_t off, size_t n, const char *field)
{
    char note[128];
    size_t shown = n < 40 ? n : 40;
    snprintf(note, sizeof(note), "%-12s \"%.*s\"", field, (int)shown, (const char *)ex->bytes + off);
    for (size_t i = 0; i < n; i += 8)
        dump_line(ex, off + i, n - i < 8 ? n - i : 8, i == 0 ? note : "");
}

static const char *opcode_name(uint8_t op)
{
    switch (op) {
    case BIN_OP_PING: return "PING";
    case BIN_OP_GET: return "GET";
    case BIN_OP_PUT: return "PUT";
    case BIN_OP_DELETE: return "DELETE";
    default: return "?";
    }
}

static void example_req(struct example *ex, const struct bin_req *r)
{
    static const char *const cons[] = {"one", "quorum", "all"};
    memset(ex, 0, sizeof(*ex));
    ex->len = bin_req_encode(ex->bytes, sizeof(ex->bytes), r);
    cr_assert_gt(ex->len, 0u);
    char note[128];
    snprintf(note, sizeof(note), "frame_bytes  %zu = 28 + %u + %u", ex->len - 4, r->key_bytes, r->value_bytes);
    dump_line(ex, 0, 4, note);
    snprintf(note, sizeof(note), "request_id   %u", r->request_id);
    dump_line(ex, 4, 4, note);
    snprintf(note, sizeof(note), "opcode       %s", opcode_name(r->opcode));
    dump_line(ex, 8, 1, note);
    snprintf(note, sizeof(note), "consistency  %s", r->consistency <= 2 ? cons[r->consistency] : "?");
    dump_line(ex, 9, 1, note);
    snprintf(note, sizeof(note), "flags        %s", r->flags & BIN_REQ_F_IF_VERSION ? "IF_VERSION" : "none");
    dump_line(ex, 10, 2, note);
    snprintf(note, sizeof(note), "key_bytes    %u", r->key_bytes);
    dump_line(ex, 12, 2, note);
    dump_line(ex, 14, 2, "reserved");
    snprintf(note, sizeof(note), "ttl_s        %u%s", r->ttl_s, r->ttl_s ? "" : " (never expires)");
    dump_line(ex, 16, 4, note);
    snprintf(note, sizeof(note), "value_bytes  %u", r->value_bytes);
    dump_line(ex, 20, 4, note);
    snprintf(note, sizeof(note), "if_version   %llu", (unsigned long long)r->if_version);
    dump_line(ex, 24, 8, note);
    if (r->key_bytes)
        dump_run(ex, 32, r->key_bytes, "key");
    if (r->value_bytes)
        dump_run(ex, 32u + r->key_bytes, r->value_bytes, "value");
}

static void example_resp(struct example *ex, const struct bin_resp *r)
{
    memset(ex, 0, sizeof(*ex));
    cr_assert_leq(RKV_RESP_HDR_BYTES + (size_t)r->value_bytes, sizeof(ex->bytes));
    bin_resp_encode_hdr(ex->bytes, r);
    if (r->value_bytes)
        memcpy(ex->bytes + RKV_RESP_HDR_BYTES, r->value, r->value_bytes);
    ex->len = RKV_RESP_HDR_BYTES + (size_t)r->value_bytes;
    enum rkv_err e = RKV_INTERNAL;
    bool known = rkv_err_from_wire(r->status, &e);
    char note[128];
    snprintf(note, sizeof(note), "frame_bytes  %zu = 36 + %u", ex->len - 4, r->value_bytes);
    dump_line(ex, 0, 4, note);
    snprintf(note, sizeof(note), "request_id   %u", r->request_id);
    dump_line(ex, 4, 4, note);
    snprintf(note, sizeof(note), "opcode       %s", opcode_name(r->opcode));
    dump_line(ex, 8, 1, note);
    snprintf(note, sizeof(note), "status       %s", known ? rkv_err_name(e) : "?");
    dump_line(ex, 9, 1, note);
    dump_line(ex, 10, 2, "flags");
    snprintf(note, sizeof(note), "acked        %u", r->acked);
    dump_line(ex, 12, 1, note);
    snprintf(note, sizeof(note), "needed       %u", r->needed);
    dump_line(ex, 13, 1, note);
    snprintf(note, sizeof(note), "hinted       %u", r->hinted);
    dump_line(ex, 14, 1, note);
    dump_line(ex, 15, 1, "reserved");
    snprintf(note, sizeof(note), "version      %llu", (unsigned long long)r->version);
    dump_line(ex, 16, 8, note);
    snprintf(note, sizeof(note), "timestamp    %llu ms << 16 | %llu", (unsigned long long)(r->timestamp >> 16),
             (unsigned long long)(r->timestamp & 0xffffu));
    dump_line(ex, 24, 8, note);
    snprintf(note, sizeof(note), "value_bytes  %u", r->value_bytes);
    dump_line(ex, 32, 4, note);
    dump_line(ex, 36, 4, "reserved");
    if (r->value_bytes)
        dump_run(ex, RKV_RESP_HDR_BYTES, r->value_bytes, known && e != RKV_OK ? "message" : "value");
}

/* The bytes of the fenced block that follows "<!-- example: NAME -->" in the doc: on each
 * line, the leading two-digit hex tokens (the note after them is for people). */
static size_t doc_example_bytes(const char *doc, const char *name, uint8_t *out, size_t cap)
{
    char marker[128];
    snprintf(marker, sizeof(marker), "<!-- example: %s -->", name);
    const char *p = strstr(doc, marker);
    cr_assert_not_null(p, "docs/protocol.md has no %s", marker);
    cr_assert_null(strstr(p + 1, marker), "docs/protocol.md has %s twice", marker);
    p = strstr(p, "```");
    cr_assert_not_null(p);
    p = strchr(p, '\n');
    cr_assert_not_null(p);
    p++;
    const char *end = strstr(p, "```");
    cr_assert_not_null(end);
    size_t n = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        const char *q = p;
        for (;;) {
            while (q < eol && *q == ' ')
                q++;
            if (q + 2 > eol || !isxdigit((unsigned char)q[0]) || !isxdigit((unsigned char)q[1]) ||
                (q + 2 < eol && q[2] != ' '))
                break;
            cr_assert_lt(n, cap);
            char hex[3] = {q[0], q[1], '\0'};
            out[n++] = (uint8_t)strtoul(hex, NULL, 16);
            q += 2;
        }
        p = eol + 1;
    }
    return n;
}

static void check_example(const char *name, const struct example *ex)
{
    if (getenv("RKV_PRINT_DOC_HEX") != NULL) {
        /* Generator mode, for whoever edits the doc: print, compare nothing. */
        printf("<!-- example: %s -->\n```text\n%s```\n\n", name, ex->text);
        return;
    }
    char *doc = doc_read();
    uint8_t got[EXAMPLE_BYTES_MAX];
    size_t n = doc_example_bytes(doc, name, got, sizeof(got));
    free(doc);
    cr_assert_eq(n, ex->len, "%s: the doc shows %zu bytes, the codec writes %zu:\n%s", name, n, ex->len, ex->text);
    cr_assert_arr_eq(got, ex->bytes, n, "%s differs from the codec's bytes:\n%s", name, ex->text);
}

/* ---- the documented frames ---- */

static struct bin_req req_base(uint32_t id, uint8_t opcode, const char *key)
{
    struct bin_req r = {
        .request_id = id,
        .opcode = opcode,
        .consistency = BIN_CONS_QUORUM,
        .key_bytes = (uint16_t)strlen(key),
        .key = (const uint8_t *)key,
    };
    return r;
}

static struct bin_resp resp_base(uint32_t id, uint8_t opcode, enum rkv_err status)
{
    struct bin_resp r = {.request_id = id, .opcode = opcode, .status = rkv_err_wire(status)};
    if (status != RKV_OK) {
        r.value = (const uint8_t *)rkv_err_message(status);
        r.value_bytes = (uint32_t)strlen(rkv_err_message(status));
    }
    return r;
}

Test(protocol_doc, put_request_and_response_match_the_doc)
{
    struct example ex;
    struct bin_req q = req_base(1, BIN_OP_PUT, "user:42");
    q.value = (const uint8_t *)"hello";
    q.value_bytes = 5;
    example_req(&ex, &q);
    cr_assert_eq(bin_req_validate(&q), RKV_OK);
    check_example("put-request", &ex);

    struct bin_resp s = resp_base(1, BIN_OP_PUT, RKV_OK);
    s.acked = 2;
    s.needed = 2;
    s.version = 1;
    s.timestamp = EXAMPLE_TIMESTAMP;
    example_resp(&ex, &s);
    check_example("put-response", &ex);
}

Test(protocol_doc, get_hit_request_and_response_match_the_doc)
{
    struct example ex;
    struct bin_req q = req_base(2, BIN_OP_GET, "user:42");
    example_req(&ex, &q);
    cr_assert_eq(bin_req_validate(&q), RKV_OK);
    check_example("get-request", &ex);

    struct bin_resp s = resp_base(2, BIN_OP_GET, RKV_OK);
    s.acked = 2;
    s.needed = 2;
    s.version = 1;
    s.timestamp = EXAMPLE_TIMESTAMP;
    s.value = (const uint8_t *)"hello";
    s.value_bytes = 5;
    example_resp(&ex, &s);
    check_example("get-hit-response", &ex);
}

Test(protocol_doc, get_miss_request_and_response_match_the_doc)
{
    struct example ex;
    struct bin_req q = req_base(3, BIN_OP_GET, "user:43");
    q.consistency = BIN_CONS_ONE;
    example_req(&ex, &q);
    cr_assert_eq(bin_req_validate(&q), RKV_OK);
    check_example("get-miss-request", &ex);

    struct bin_resp s = resp_base(3, BIN_OP_GET, RKV_NOT_FOUND);
    s.acked = 1;
    s.needed = 1;
    example_resp(&ex, &s);
    check_example("get-miss-response", &ex);
}

Test(protocol_doc, delete_request_and_response_match_the_doc)
{
    struct example ex;
    struct bin_req q = req_base(4, BIN_OP_DELETE, "user:42");
    q.consistency = BIN_CONS_ALL;
    example_req(&ex, &q);
    cr_assert_eq(bin_req_validate(&q), RKV_OK);
    check_example("delete-request", &ex);

    struct bin_resp s = resp_base(4, BIN_OP_DELETE, RKV_OK);
    s.acked = 3;
    s.needed = 3;
    s.timestamp = EXAMPLE_TIMESTAMP + 1;
    example_resp(&ex, &s);
    check_example("delete-response", &ex);
}

Test(protocol_doc, ping_request_and_response_match_the_doc)
{
    struct example ex;
    struct bin_req q = req_base(5, BIN_OP_PING, "");
    q.consistency = BIN_CONS_ONE;
    example_req(&ex, &q);
    cr_assert_eq(bin_req_validate(&q), RKV_OK);
    check_example("ping-request", &ex);

    struct bin_resp s = resp_base(5, BIN_OP_PING, RKV_OK);
    example_resp(&ex, &s);
    check_example("ping-response", &ex);
}

Test(protocol_doc, error_request_and_response_match_the_doc)
{
    struct example ex;
    struct bin_req q = req_base(6, BIN_OP_PUT, "user:42");
    q.ttl_s = RKV_TTL_S_MAX + 1u;
    q.value = (const uint8_t *)"hello";
    q.value_bytes = 5;
    example_req(&ex, &q);
    cr_assert_eq(bin_req_validate(&q), RKV_BAD_TTL);
    check_example("error-request", &ex);

    struct bin_resp s = resp_base(6, BIN_OP_PUT, RKV_BAD_TTL);
    example_resp(&ex, &s);
    check_example("error-response", &ex);
}

Test(protocol_doc, the_example_responses_decode)
{
    struct bin_resp s = resp_base(6, BIN_OP_PUT, RKV_BAD_TTL);
    struct example ex;
    example_resp(&ex, &s);
    struct bin_resp d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_resp_decode(ex.bytes, ex.len, &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(d.value_bytes, strlen("ttl longer than 10 years"));
}

/* ---- the tables ---- */

Test(protocol_doc, every_status_of_the_error_table_is_a_row_of_the_doc)
{
    char *doc = doc_read();
#define DOC_ROW(name, wire, http, msg)                                                   \
    do {                                                                                 \
        char row[256];                                                                   \
        snprintf(row, sizeof(row), "| `%s` | 0x%02x | %d | %s |", #name, wire, http, msg); \
        cr_assert_not_null(strstr(doc, row), "docs/protocol.md lacks the row %s", row); \
    } while (0);
    RKV_ERR_TABLE(DOC_ROW)
#undef DOC_ROW
    free(doc);
}

Test(protocol_doc, the_limits_in_the_doc_are_the_limits_of_the_code)
{
    char *doc = doc_read();
    char s[128];
    snprintf(s, sizeof(s), "| key | 1 | %u |", RKV_KEY_BYTES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| value | 0 | %u |", RKV_VALUE_BYTES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| ttl_s | 0 | %u |", RKV_TTL_S_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| request frame_bytes | %u | %u |", RKV_REQ_HDR_BYTES - 4u, RKV_FRAME_BYTES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    snprintf(s, sizeof(s), "| response frame_bytes | %u | %u |", RKV_RESP_HDR_BYTES - 4u,
             RKV_RESP_HDR_BYTES - 4u + RKV_VALUE_BYTES_MAX);
    cr_assert_not_null(strstr(doc, s), "%s", s);
    free(doc);
}
