/* Tests of the binary protocol codec (net/proto_bin.h): round trips of every opcode, each
 * rule of bin_req_validate(), every limit at max and max + 1, truncation at every prefix,
 * and the response decoder's refusals. Every test owns its buffers. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/limits.h"
#include "net/proto_bin.h"

#define REQ_FIXED_BYTES (RKV_REQ_HDR_BYTES - 4u)
#define RESP_FIXED_BYTES (RKV_RESP_HDR_BYTES - 4u)

/* A frame built by a test: bytes and size, freed by frame_free(). */
struct frame {
    uint8_t *bytes;
    size_t len;
};

static uint8_t *pattern(size_t len, uint8_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7u);
    return p;
}

static struct bin_req req_make(uint8_t opcode, const uint8_t *key, uint16_t key_bytes,
                               const uint8_t *value, uint32_t value_bytes)
{
    struct bin_req r = {
        .request_id = 0x01020304u,
        .opcode = opcode,
        .consistency = BIN_CONS_QUORUM,
        .key_bytes = key_bytes,
        .value_bytes = value_bytes,
        .key = key,
        .value = value,
    };
    return r;
}

static struct frame frame_encode(const struct bin_req *r)
{
    struct frame f;
    f.len = bin_req_frame_bytes(r);
    f.bytes = malloc(f.len);
    cr_assert_not_null(f.bytes);
    cr_assert_eq(bin_req_encode(f.bytes, f.len, r), f.len);
    return f;
}

static void frame_free(struct frame *f)
{
    free(f->bytes);
    f->bytes = NULL;
}

/* Encodes r, decodes it back and returns what bin_req_validate() says of the result. */
static enum rkv_err validate_on_wire(const struct bin_req *r)
{
    struct frame f = frame_encode(r);
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(f.bytes, f.len, &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(frame_bytes, f.len);
    enum rkv_err err = bin_req_validate(&d);
    frame_free(&f);
    return err;
}

static void assert_req_round_trips(const struct bin_req *r)
{
    struct frame f = frame_encode(r);
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(f.bytes, f.len, &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(why, RKV_OK);
    cr_assert_eq(frame_bytes, f.len);
    cr_assert_eq(d.frame_bytes, f.len - 4u);
    cr_assert_eq(d.request_id, r->request_id);
    cr_assert_eq(d.opcode, r->opcode);
    cr_assert_eq(d.consistency, r->consistency);
    cr_assert_eq(d.flags, r->flags);
    cr_assert_eq(d.key_bytes, r->key_bytes);
    cr_assert_eq(d.reserved, r->reserved);
    cr_assert_eq(d.ttl_s, r->ttl_s);
    cr_assert_eq(d.value_bytes, r->value_bytes);
    cr_assert_eq(d.if_version, r->if_version);
    cr_assert_eq(d.key, f.bytes + RKV_REQ_HDR_BYTES);
    cr_assert_eq(d.value, f.bytes + RKV_REQ_HDR_BYTES + r->key_bytes);
    if (r->key_bytes)
        cr_assert_eq(memcmp(d.key, r->key, r->key_bytes), 0);
    if (r->value_bytes)
        cr_assert_eq(memcmp(d.value, r->value, r->value_bytes), 0);
    frame_free(&f);
}

/* A request header with the given length field and nothing else set. */
static void hdr_with_frame_bytes(uint8_t hdr[RKV_REQ_HDR_BYTES], uint32_t frame_bytes)
{
    memset(hdr, 0, RKV_REQ_HDR_BYTES);
    store_be32(hdr, frame_bytes);
}

/* ---- request round trips ---- */

Test(proto_bin_req, put_round_trips_every_field)
{
    const uint8_t key[] = "user:42";
    const uint8_t value[] = "hello";
    struct bin_req r = req_make(BIN_OP_PUT, key, 7, value, 5);
    r.consistency = BIN_CONS_ALL;
    r.flags = BIN_REQ_F_IF_VERSION;
    r.ttl_s = 3600;
    r.if_version = 0x1122334455667788ull;
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
}

Test(proto_bin_req, get_round_trips)
{
    struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"k", 1, NULL, 0);
    r.consistency = BIN_CONS_ONE;
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
}

Test(proto_bin_req, delete_round_trips)
{
    struct bin_req r = req_make(BIN_OP_DELETE, (const uint8_t *)"gone", 4, NULL, 0);
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
}

Test(proto_bin_req, ping_round_trips_with_a_header_only_frame)
{
    struct bin_req r = req_make(BIN_OP_PING, NULL, 0, NULL, 0);
    cr_assert_eq(bin_req_frame_bytes(&r), RKV_REQ_HDR_BYTES);
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
}

Test(proto_bin_req, header_fields_are_big_endian_at_their_offsets)
{
    const uint8_t key[] = "ab";
    struct bin_req r = req_make(BIN_OP_PUT, key, 2, (const uint8_t *)"xyz", 3);
    r.flags = BIN_REQ_F_IF_VERSION;
    r.ttl_s = 0x0a0b0c0du;
    r.if_version = 0x0102030405060708ull;
    struct frame f = frame_encode(&r);
    const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x21,                         /* frame_bytes 28 + 2 + 3 */
        0x01, 0x02, 0x03, 0x04,                         /* request_id */
        0x03, 0x01, 0x00, 0x01,                         /* PUT, quorum, flags */
        0x00, 0x02, 0x00, 0x00,                         /* key_bytes, reserved */
        0x0a, 0x0b, 0x0c, 0x0d,                         /* ttl_s */
        0x00, 0x00, 0x00, 0x03,                         /* value_bytes */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* if_version */
        'a', 'b', 'x', 'y', 'z',
    };
    cr_assert_eq(f.len, sizeof(want));
    cr_assert_arr_eq(f.bytes, want, sizeof(want));
    frame_free(&f);
}

Test(proto_bin_req, two_pipelined_frames_decode_one_after_the_other)
{
    struct bin_req a = req_make(BIN_OP_GET, (const uint8_t *)"first", 5, NULL, 0);
    struct bin_req b = req_make(BIN_OP_PING, NULL, 0, NULL, 0);
    b.request_id = 99;
    uint8_t buf[128];
    size_t n = bin_req_encode(buf, sizeof(buf), &a);
    size_t m = bin_req_encode(buf + n, sizeof(buf) - n, &b);
    cr_assert(n > 0 && m > 0);

    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(buf, n + m, &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(frame_bytes, n);
    cr_assert_eq(d.opcode, BIN_OP_GET);
    cr_assert_eq(bin_req_decode(buf + n, m, &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(frame_bytes, m);
    cr_assert_eq(d.opcode, BIN_OP_PING);
    cr_assert_eq(d.request_id, 99u);
}

/* ---- encoder ---- */

Test(proto_bin_req, encode_into_a_buffer_one_byte_short_writes_nothing)
{
    struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"key", 3, NULL, 0);
    uint8_t buf[64];
    memset(buf, 0xee, sizeof(buf));
    size_t need = bin_req_frame_bytes(&r);
    cr_assert_eq(need, RKV_REQ_HDR_BYTES + 3u);
    cr_assert_eq(bin_req_encode(buf, need - 1, &r), 0u);
    for (size_t i = 0; i < sizeof(buf); i++)
        cr_assert_eq(buf[i], 0xee);
    cr_assert_eq(bin_req_encode(buf, need, &r), need);
}

Test(proto_bin_req, encode_of_a_null_key_with_a_length_aborts, .signal = SIGABRT)
{
    struct bin_req r = req_make(BIN_OP_GET, NULL, 3, NULL, 0);
    uint8_t buf[64];
    (void)bin_req_encode(buf, sizeof(buf), &r);
}

/* ---- key limits ---- */

Test(proto_bin_req, key_of_0_bytes_is_key_empty)
{
    struct bin_req r = req_make(BIN_OP_GET, NULL, 0, NULL, 0);
    cr_assert_eq(validate_on_wire(&r), RKV_KEY_EMPTY);
    r.opcode = BIN_OP_PUT;
    cr_assert_eq(validate_on_wire(&r), RKV_KEY_EMPTY);
    r.opcode = BIN_OP_DELETE;
    cr_assert_eq(validate_on_wire(&r), RKV_KEY_EMPTY);
}

Test(proto_bin_req, key_of_1_byte_round_trips)
{
    struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"\0", 1, (const uint8_t *)"v", 1);
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
}

Test(proto_bin_req, key_of_256_bytes_round_trips)
{
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX, 1);
    struct bin_req r = req_make(BIN_OP_PUT, key, RKV_KEY_BYTES_MAX, (const uint8_t *)"v", 1);
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
    free(key);
}

Test(proto_bin_req, key_of_257_bytes_is_key_too_long)
{
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX + 1u, 1);
    struct bin_req r = req_make(BIN_OP_GET, key, RKV_KEY_BYTES_MAX + 1u, NULL, 0);
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_KEY_TOO_LONG);
    free(key);
}

Test(proto_bin_req, key_of_65535_bytes_still_frames_and_is_key_too_long)
{
    uint8_t *key = pattern(UINT16_MAX, 3);
    struct bin_req r = req_make(BIN_OP_DELETE, key, UINT16_MAX, NULL, 0);
    cr_assert_eq(validate_on_wire(&r), RKV_KEY_TOO_LONG);
    free(key);
}

Test(proto_bin_req, ping_with_a_key_is_invalid_arg)
{
    struct bin_req r = req_make(BIN_OP_PING, (const uint8_t *)"k", 1, NULL, 0);
    cr_assert_eq(validate_on_wire(&r), RKV_INVALID_ARG);
}

/* ---- value limits ---- */

Test(proto_bin_req, value_of_0_bytes_round_trips)
{
    struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"k", 1, NULL, 0);
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
}

Test(proto_bin_req, value_of_1048576_bytes_round_trips)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX, 9);
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX, 5);
    struct bin_req r = req_make(BIN_OP_PUT, key, RKV_KEY_BYTES_MAX, value, RKV_VALUE_BYTES_MAX);
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
    free(value);
    free(key);
}

Test(proto_bin_req, value_of_1048577_bytes_frames_and_is_value_too_long)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX + 1u, 9);
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX, 5);
    struct bin_req r = req_make(BIN_OP_PUT, key, RKV_KEY_BYTES_MAX, value, RKV_VALUE_BYTES_MAX + 1u);
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_VALUE_TOO_LONG);
    free(value);
    free(key);
}

Test(proto_bin_req, a_value_on_get_delete_or_ping_is_invalid_arg)
{
    const uint8_t *v = (const uint8_t *)"v";
    struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"k", 1, v, 1);
    cr_assert_eq(validate_on_wire(&r), RKV_INVALID_ARG);
    r.opcode = BIN_OP_DELETE;
    cr_assert_eq(validate_on_wire(&r), RKV_INVALID_ARG);
    struct bin_req p = req_make(BIN_OP_PING, NULL, 0, v, 1);
    cr_assert_eq(validate_on_wire(&p), RKV_INVALID_ARG);
}

Test(proto_bin_req, an_oversized_value_on_delete_is_invalid_arg_not_value_too_long)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX + 1u, 2);
    struct bin_req r = req_make(BIN_OP_DELETE, (const uint8_t *)"k", 1, value, RKV_VALUE_BYTES_MAX + 1u);
    cr_assert_eq(validate_on_wire(&r), RKV_INVALID_ARG);
    free(value);
}

/* ---- ttl ---- */

Test(proto_bin_req, ttl_of_ten_years_is_accepted)
{
    struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"k", 1, NULL, 0);
    r.ttl_s = RKV_TTL_S_MAX;
    assert_req_round_trips(&r);
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
}

Test(proto_bin_req, ttl_of_ten_years_and_a_second_is_bad_ttl)
{
    struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"k", 1, NULL, 0);
    r.ttl_s = RKV_TTL_S_MAX + 1u;
    cr_assert_eq(validate_on_wire(&r), RKV_BAD_TTL);
    r.ttl_s = UINT32_MAX;
    cr_assert_eq(validate_on_wire(&r), RKV_BAD_TTL);
}

Test(proto_bin_req, a_ttl_on_get_is_invalid_arg)
{
    struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"k", 1, NULL, 0);
    r.ttl_s = 1;
    cr_assert_eq(validate_on_wire(&r), RKV_INVALID_ARG);
    r.ttl_s = RKV_TTL_S_MAX + 1u;
    cr_assert_eq(validate_on_wire(&r), RKV_INVALID_ARG);
}

/* ---- if_version and flags ---- */

Test(proto_bin_req, if_version_zero_with_its_flag_means_only_if_absent_and_is_valid)
{
    struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"k", 1, NULL, 0);
    r.flags = BIN_REQ_F_IF_VERSION;
    r.if_version = 0;
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
    r.if_version = UINT64_MAX;
    cr_assert_eq(validate_on_wire(&r), RKV_OK);
}

Test(proto_bin_req, if_version_without_its_flag_is_invalid_arg)
{
    struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"k", 1, NULL, 0);
    r.if_version = 7;
    cr_assert_eq(validate_on_wire(&r), RKV_INVALID_ARG);
}

Test(proto_bin_req, the_if_version_flag_on_get_is_invalid_arg)
{
    struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"k", 1, NULL, 0);
    r.flags = BIN_REQ_F_IF_VERSION;
    cr_assert_eq(validate_on_wire(&r), RKV_INVALID_ARG);
}

Test(proto_bin_req, every_unknown_flag_bit_is_bad_frame)
{
    for (unsigned bit = 0; bit < 16; bit++) {
        uint16_t flag = (uint16_t)(1u << bit);
        if (flag & BIN_REQ_F_KNOWN)
            continue;
        struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"k", 1, NULL, 0);
        r.flags = flag;
        cr_assert_eq(validate_on_wire(&r), RKV_BAD_FRAME, "flag bit %u", bit);
    }
}

Test(proto_bin_req, nonzero_reserved_is_bad_frame)
{
    struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"k", 1, NULL, 0);
    r.reserved = 1;
    cr_assert_eq(validate_on_wire(&r), RKV_BAD_FRAME);
    r.reserved = 0x8000;
    cr_assert_eq(validate_on_wire(&r), RKV_BAD_FRAME);
}

/* ---- opcode and consistency ---- */

Test(proto_bin_req, every_byte_but_the_four_opcodes_is_unknown_opcode)
{
    for (unsigned op = 0; op < 256; op++) {
        struct bin_req r = req_make((uint8_t)op, (const uint8_t *)"k", 1, NULL, 0);
        enum rkv_err err = validate_on_wire(&r);
        if (op == BIN_OP_GET || op == BIN_OP_PUT || op == BIN_OP_DELETE)
            cr_assert_eq(err, RKV_OK, "opcode 0x%02x", op);
        else if (op == BIN_OP_PING)
            cr_assert_eq(err, RKV_INVALID_ARG, "a ping carries no key");
        else
            cr_assert_eq(err, RKV_UNKNOWN_OPCODE, "opcode 0x%02x", op);
    }
}

Test(proto_bin_req, consistency_one_quorum_and_all_are_accepted)
{
    for (uint8_t c = BIN_CONS_ONE; c <= BIN_CONS_ALL; c++) {
        struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"k", 1, NULL, 0);
        r.consistency = c;
        cr_assert_eq(validate_on_wire(&r), RKV_OK);
    }
}

Test(proto_bin_req, consistency_3_and_255_are_bad_consistency)
{
    struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"k", 1, NULL, 0);
    r.consistency = 3;
    cr_assert_eq(validate_on_wire(&r), RKV_BAD_CONSISTENCY);
    r.consistency = 255;
    cr_assert_eq(validate_on_wire(&r), RKV_BAD_CONSISTENCY);
}

Test(proto_bin_req, the_first_fault_in_contract_order_is_reported)
{
    struct bin_req r = req_make(0x77, NULL, 0, NULL, 0);
    r.consistency = 9;
    r.reserved = 1;
    cr_assert_eq(validate_on_wire(&r), RKV_UNKNOWN_OPCODE);
    r.opcode = BIN_OP_GET;
    cr_assert_eq(validate_on_wire(&r), RKV_BAD_FRAME);
    r.reserved = 0;
    cr_assert_eq(validate_on_wire(&r), RKV_BAD_CONSISTENCY);
    r.consistency = BIN_CONS_ONE;
    cr_assert_eq(validate_on_wire(&r), RKV_KEY_EMPTY);
}

Test(proto_bin_req, a_request_built_for_encoding_validates_without_a_frame_length)
{
    struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1);
    cr_assert_eq(r.frame_bytes, 0u);
    cr_assert_eq(bin_req_validate(&r), RKV_OK);
}

/* ---- framing ---- */

Test(proto_bin_req, frame_bytes_under_the_header_is_invalid_bad_frame)
{
    uint8_t hdr[RKV_REQ_HDR_BYTES];
    for (uint32_t fb = 0; fb < REQ_FIXED_BYTES; fb++) {
        hdr_with_frame_bytes(hdr, fb);
        struct bin_req d;
        size_t frame_bytes;
        enum rkv_err why;
        /* Refused on the length field alone: four bytes are enough. */
        cr_assert_eq(bin_req_decode(hdr, 4, &d, &frame_bytes, &why), PARSE_INVALID, "fb %u", fb);
        cr_assert_eq(why, RKV_BAD_FRAME);
        cr_assert_eq(bin_req_decode(hdr, sizeof(hdr), &d, &frame_bytes, &why), PARSE_INVALID);
    }
}

Test(proto_bin_req, frame_bytes_of_exactly_the_header_frames)
{
    uint8_t hdr[RKV_REQ_HDR_BYTES];
    hdr_with_frame_bytes(hdr, REQ_FIXED_BYTES);
    hdr[8] = BIN_OP_PING;
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(hdr, sizeof(hdr), &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(frame_bytes, RKV_REQ_HDR_BYTES);
    cr_assert_eq(bin_req_validate(&d), RKV_OK);
}

Test(proto_bin_req, frame_bytes_at_the_limit_asks_for_the_whole_frame)
{
    uint8_t hdr[RKV_REQ_HDR_BYTES];
    hdr_with_frame_bytes(hdr, RKV_FRAME_BYTES_MAX);
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(hdr, sizeof(hdr), &d, &frame_bytes, &why), PARSE_NEED_MORE);
    cr_assert_eq(frame_bytes, (size_t)RKV_FRAME_BYTES_MAX + 4u);
    cr_assert_eq(why, RKV_OK);
}

Test(proto_bin_req, a_whole_frame_at_the_limit_decodes_and_is_value_too_long)
{
    uint32_t value_bytes = RKV_FRAME_BYTES_MAX - REQ_FIXED_BYTES - RKV_KEY_BYTES_MAX;
    uint8_t *value = pattern(value_bytes, 4);
    uint8_t *key = pattern(RKV_KEY_BYTES_MAX, 6);
    struct bin_req r = req_make(BIN_OP_PUT, key, RKV_KEY_BYTES_MAX, value, value_bytes);
    struct frame f = frame_encode(&r);
    cr_assert_eq(f.len, (size_t)RKV_FRAME_BYTES_MAX + 4u);
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(f.bytes, f.len, &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(bin_req_validate(&d), RKV_VALUE_TOO_LONG);
    frame_free(&f);
    free(value);
    free(key);
}

Test(proto_bin_req, frame_bytes_one_over_the_limit_is_invalid_frame_too_long)
{
    uint8_t hdr[RKV_REQ_HDR_BYTES];
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    hdr_with_frame_bytes(hdr, RKV_FRAME_BYTES_MAX + 1u);
    cr_assert_eq(bin_req_decode(hdr, 4, &d, &frame_bytes, &why), PARSE_INVALID);
    cr_assert_eq(why, RKV_FRAME_TOO_LONG);
    hdr_with_frame_bytes(hdr, UINT32_MAX);
    cr_assert_eq(bin_req_decode(hdr, sizeof(hdr), &d, &frame_bytes, &why), PARSE_INVALID);
    cr_assert_eq(why, RKV_FRAME_TOO_LONG);
}

Test(proto_bin_req, every_proper_prefix_of_a_frame_needs_more)
{
    struct bin_req r = req_make(BIN_OP_PUT, (const uint8_t *)"prefix", 6, (const uint8_t *)"value!!", 7);
    r.ttl_s = 5;
    struct frame f = frame_encode(&r);
    for (size_t len = 0; len < f.len; len++) {
        struct bin_req d;
        size_t frame_bytes = 12345;
        enum rkv_err why = RKV_INTERNAL;
        cr_assert_eq(bin_req_decode(f.bytes, len, &d, &frame_bytes, &why), PARSE_NEED_MORE, "len %zu", len);
        cr_assert_eq(frame_bytes, len < 4 ? 0u : f.len, "len %zu", len);
        cr_assert_eq(why, RKV_OK);
    }
    frame_free(&f);
}

Test(proto_bin_req, an_empty_buffer_needs_more_and_may_be_null)
{
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(NULL, 0, &d, &frame_bytes, &why), PARSE_NEED_MORE);
    cr_assert_eq(frame_bytes, 0u);
}

Test(proto_bin_req, a_length_field_longer_than_key_and_value_is_bad_frame_and_skippable)
{
    struct bin_req r = req_make(BIN_OP_GET, (const uint8_t *)"key", 3, NULL, 0);
    uint8_t buf[64] = {0};
    size_t n = bin_req_encode(buf, sizeof(buf), &r);
    store_be32(buf, (uint32_t)(n - 4 + 5)); /* five trailing bytes the fields do not explain */
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(buf, n + 5, &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(frame_bytes, n + 5);
    cr_assert_null(d.key);
    cr_assert_null(d.value);
    cr_assert_eq(d.request_id, r.request_id, "the status reply still names the request");
    cr_assert_eq(bin_req_validate(&d), RKV_BAD_FRAME);
}

Test(proto_bin_req, a_ping_with_trailing_bytes_is_bad_frame)
{
    uint8_t buf[RKV_REQ_HDR_BYTES + 1] = {0};
    store_be32(buf, REQ_FIXED_BYTES + 1u);
    buf[8] = BIN_OP_PING;
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(buf, sizeof(buf), &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(bin_req_validate(&d), RKV_BAD_FRAME);
}

Test(proto_bin_req, key_and_value_longer_than_the_frame_are_bad_frame_without_overflow)
{
    uint8_t buf[RKV_REQ_HDR_BYTES + 4] = {0};
    store_be32(buf, REQ_FIXED_BYTES + 4u);
    buf[8] = BIN_OP_PUT;
    store_be16(buf + 12, 4);
    store_be32(buf + 20, UINT32_MAX - 3u); /* 4 + this wraps to 0 in 32 bits */
    struct bin_req d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_req_decode(buf, sizeof(buf), &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_null(d.key);
    cr_assert_eq(bin_req_validate(&d), RKV_BAD_FRAME);
}

/* ---- responses ---- */

static struct bin_resp resp_make(uint8_t status, const uint8_t *value, uint32_t value_bytes)
{
    struct bin_resp r = {
        .request_id = 0xa1b2c3d4u,
        .opcode = BIN_OP_GET,
        .status = status,
        .acked = 3,
        .needed = 2,
        .hinted = 1,
        .version = 0x0102030405060708ull,
        .timestamp = 0x1112131415161718ull,
        .value_bytes = value_bytes,
        .value = value,
    };
    return r;
}

static struct frame resp_frame(const struct bin_resp *r)
{
    struct frame f;
    f.len = RKV_RESP_HDR_BYTES + (size_t)r->value_bytes;
    f.bytes = malloc(f.len);
    cr_assert_not_null(f.bytes);
    bin_resp_encode_hdr(f.bytes, r);
    if (r->value_bytes)
        memcpy(f.bytes + RKV_RESP_HDR_BYTES, r->value, r->value_bytes);
    return f;
}

static enum parse_rc resp_decode_all(const struct frame *f, struct bin_resp *d, enum rkv_err *why)
{
    size_t frame_bytes;
    return bin_resp_decode(f->bytes, f->len, d, &frame_bytes, why);
}

Test(proto_bin_resp, get_hit_round_trips_every_field)
{
    struct bin_resp r = resp_make(0x00, (const uint8_t *)"hello", 5);
    struct frame f = resp_frame(&r);
    struct bin_resp d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_resp_decode(f.bytes, f.len, &d, &frame_bytes, &why), PARSE_DONE);
    cr_assert_eq(frame_bytes, f.len);
    cr_assert_eq(d.request_id, r.request_id);
    cr_assert_eq(d.opcode, r.opcode);
    cr_assert_eq(d.status, r.status);
    cr_assert_eq(d.flags, 0);
    cr_assert_eq(d.acked, 3);
    cr_assert_eq(d.needed, 2);
    cr_assert_eq(d.hinted, 1);
    cr_assert_eq(d.version, r.version);
    cr_assert_eq(d.timestamp, r.timestamp);
    cr_assert_eq(d.value_bytes, 5u);
    cr_assert_eq(d.value, f.bytes + RKV_RESP_HDR_BYTES);
    cr_assert_eq(memcmp(d.value, "hello", 5), 0);
    frame_free(&f);
}

Test(proto_bin_resp, header_fields_are_big_endian_at_their_offsets)
{
    struct bin_resp r = resp_make(0x01, NULL, 0);
    uint8_t hdr[RKV_RESP_HDR_BYTES];
    bin_resp_encode_hdr(hdr, &r);
    const uint8_t want[RKV_RESP_HDR_BYTES] = {
        0x00, 0x00, 0x00, 0x24, 0xa1, 0xb2, 0xc3, 0xd4, 0x02, 0x01, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    cr_assert_arr_eq(hdr, want, sizeof(want));
}

Test(proto_bin_resp, a_value_of_1048576_bytes_decodes)
{
    uint8_t *value = pattern(RKV_VALUE_BYTES_MAX, 8);
    struct bin_resp r = resp_make(0x00, value, RKV_VALUE_BYTES_MAX);
    struct frame f = resp_frame(&r);
    struct bin_resp d;
    enum rkv_err why;
    cr_assert_eq(resp_decode_all(&f, &d, &why), PARSE_DONE);
    cr_assert_eq(d.value_bytes, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(memcmp(d.value, value, RKV_VALUE_BYTES_MAX), 0);
    frame_free(&f);
    free(value);
}

Test(proto_bin_resp, a_value_of_1048577_bytes_is_invalid_frame_too_long)
{
    uint8_t hdr[RKV_RESP_HDR_BYTES] = {0};
    store_be32(hdr, RESP_FIXED_BYTES + RKV_VALUE_BYTES_MAX + 1u);
    store_be32(hdr + 32, RKV_VALUE_BYTES_MAX + 1u);
    struct bin_resp d;
    size_t frame_bytes;
    enum rkv_err why;
    cr_assert_eq(bin_resp_decode(hdr, 4, &d, &frame_bytes, &why), PARSE_INVALID);
    cr_assert_eq(why, RKV_FRAME_TOO_LONG);
    store_be32(hdr, UINT32_MAX);
    cr_assert_eq(bin_resp_decode(hdr, sizeof(hdr), &d, &frame_bytes, &why), PARSE_INVALID);
}

Test(proto_bin_resp, encoding_a_value_over_the_limit_aborts, .signal = SIGABRT)
{
    struct bin_resp r = resp_make(0x00, NULL, RKV_VALUE_BYTES_MAX + 1u);
    uint8_t hdr[RKV_RESP_HDR_BYTES];
    bin_resp_encode_hdr(hdr, &r);
}

Test(proto_bin_resp, frame_bytes_under_the_header_is_invalid_bad_frame)
{
    uint8_t hdr[RKV_RESP_HDR_BYTES] = {0};
    for (uint32_t fb = 0; fb < RESP_FIXED_BYTES; fb++) {
        store_be32(hdr, fb);
        struct bin_resp d;
        size_t frame_bytes;
        enum rkv_err why;
        cr_assert_eq(bin_resp_decode(hdr, 4, &d, &frame_bytes, &why), PARSE_INVALID, "fb %u", fb);
        cr_assert_eq(why, RKV_BAD_FRAME);
    }
}

Test(proto_bin_resp, frame_bytes_of_exactly_the_header_decodes_with_no_value)
{
    struct bin_resp r = resp_make(0x00, NULL, 0);
    struct frame f = resp_frame(&r);
    cr_assert_eq(f.len, RKV_RESP_HDR_BYTES);
    struct bin_resp d;
    enum rkv_err why;
    cr_assert_eq(resp_decode_all(&f, &d, &why), PARSE_DONE);
    cr_assert_eq(d.value_bytes, 0u);
    frame_free(&f);
}

Test(proto_bin_resp, every_proper_prefix_needs_more)
{
    struct bin_resp r = resp_make(0x12, (const uint8_t *)"value longer than 1 MiB", 23);
    struct frame f = resp_frame(&r);
    for (size_t len = 0; len < f.len; len++) {
        struct bin_resp d;
        size_t frame_bytes;
        enum rkv_err why;
        cr_assert_eq(bin_resp_decode(f.bytes, len, &d, &frame_bytes, &why), PARSE_NEED_MORE, "len %zu", len);
        cr_assert_eq(frame_bytes, len < 4 ? 0u : f.len);
    }
    frame_free(&f);
}

Test(proto_bin_resp, value_bytes_disagreeing_with_the_frame_is_invalid_bad_frame)
{
    struct bin_resp r = resp_make(0x00, (const uint8_t *)"abc", 3);
    struct frame f = resp_frame(&r);
    struct bin_resp d;
    enum rkv_err why;
    store_be32(f.bytes + 32, 2);
    cr_assert_eq(resp_decode_all(&f, &d, &why), PARSE_INVALID);
    cr_assert_eq(why, RKV_BAD_FRAME);
    store_be32(f.bytes + 32, UINT32_MAX);
    cr_assert_eq(resp_decode_all(&f, &d, &why), PARSE_INVALID);
    frame_free(&f);
}

Test(proto_bin_resp, any_nonzero_reserved_or_flag_byte_is_invalid_bad_frame)
{
    const size_t reserved_offsets[] = {10, 11, 15, 36, 37, 38, 39};
    for (size_t i = 0; i < sizeof(reserved_offsets) / sizeof(reserved_offsets[0]); i++) {
        struct bin_resp r = resp_make(0x00, NULL, 0);
        struct frame f = resp_frame(&r);
        f.bytes[reserved_offsets[i]] = 0x01;
        struct bin_resp d;
        enum rkv_err why;
        cr_assert_eq(resp_decode_all(&f, &d, &why), PARSE_INVALID, "offset %zu", reserved_offsets[i]);
        cr_assert_eq(why, RKV_BAD_FRAME);
        frame_free(&f);
    }
}

Test(proto_bin_resp, an_unknown_status_byte_still_frames)
{
    struct bin_resp r = resp_make(0xee, NULL, 0);
    struct frame f = resp_frame(&r);
    struct bin_resp d;
    enum rkv_err why;
    cr_assert_eq(resp_decode_all(&f, &d, &why), PARSE_DONE);
    cr_assert_eq(d.status, 0xee);
    frame_free(&f);
}
