/* Tests of the error table (core/err.h): every mapping generated from RKV_ERR_TABLE, and its
 * agreement with the client library's enum ringkv_err (net/ringkv.h), whose server values
 * are the same wire bytes. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "core/err.h"
#include "net/ringkv.h"

Test(err, every_error_round_trips_through_its_wire_byte)
{
    for (int i = 0; i < RKV_ERR_COUNT; i++) {
        enum rkv_err e = (enum rkv_err)i;
        enum rkv_err back = RKV_INTERNAL;
        cr_assert(rkv_err_from_wire(rkv_err_wire(e), &back), "%s", rkv_err_name(e));
        cr_assert_eq(back, e, "%s", rkv_err_name(e));
    }
}

Test(err, no_two_errors_share_a_wire_byte)
{
    bool seen[256] = {false};
    for (int i = 0; i < RKV_ERR_COUNT; i++) {
        uint8_t w = rkv_err_wire((enum rkv_err)i);
        cr_assert_not(seen[w], "wire byte 0x%02x is used twice", w);
        seen[w] = true;
    }
}

Test(err, bytes_that_name_no_error_are_refused_and_give_internal)
{
    size_t known = 0;
    for (unsigned w = 0; w < 256; w++) {
        enum rkv_err e = RKV_OK;
        if (rkv_err_from_wire((uint8_t)w, &e)) {
            known++;
            cr_assert_eq(rkv_err_wire(e), w);
        } else {
            cr_assert_eq(e, RKV_INTERNAL, "byte 0x%02x", w);
        }
    }
    cr_assert_eq(known, (size_t)RKV_ERR_COUNT);
}

Test(err, ok_is_wire_zero_and_http_200)
{
    cr_assert_eq(rkv_err_wire(RKV_OK), 0x00);
    cr_assert_eq(rkv_err_http(RKV_OK), 200);
}

Test(err, http_codes_follow_the_table)
{
    cr_assert_eq(rkv_err_http(RKV_NOT_FOUND), 404);
    cr_assert_eq(rkv_err_http(RKV_VERSION_MISMATCH), 412);
    cr_assert_eq(rkv_err_http(RKV_KEY_EMPTY), 400);
    cr_assert_eq(rkv_err_http(RKV_KEY_TOO_LONG), 400);
    cr_assert_eq(rkv_err_http(RKV_VALUE_TOO_LONG), 413);
    cr_assert_eq(rkv_err_http(RKV_BAD_TTL), 400);
    cr_assert_eq(rkv_err_http(RKV_BAD_CONSISTENCY), 400);
    cr_assert_eq(rkv_err_http(RKV_FRAME_TOO_LONG), 413);
    cr_assert_eq(rkv_err_http(RKV_BUSY), 503);
    cr_assert_eq(rkv_err_http(RKV_UNAVAILABLE), 503);
    cr_assert_eq(rkv_err_http(RKV_TIMEOUT), 504);
    cr_assert_eq(rkv_err_http(RKV_SHUTTING_DOWN), 503);
    cr_assert_eq(rkv_err_http(RKV_CORRUPT), 500);
    cr_assert_eq(rkv_err_http(RKV_NO_SPACE), 507);
    cr_assert_eq(rkv_err_http(RKV_INTERNAL), 500);
}

Test(err, every_error_but_ok_is_an_http_error_status)
{
    for (int i = 1; i < RKV_ERR_COUNT; i++) {
        int h = rkv_err_http((enum rkv_err)i);
        cr_assert(h >= 400 && h <= 599, "%s -> %d", rkv_err_name((enum rkv_err)i), h);
    }
}

Test(err, client_errors_are_http_4xx_and_server_errors_5xx)
{
    /* Wire bytes 0x10..0x1f are the caller's fault, 0x20 and up the server's. */
    for (int i = 0; i < RKV_ERR_COUNT; i++) {
        enum rkv_err e = (enum rkv_err)i;
        uint8_t w = rkv_err_wire(e);
        if (w >= 0x10 && w < 0x20)
            cr_assert(rkv_err_http(e) >= 400 && rkv_err_http(e) < 500, "%s", rkv_err_name(e));
        if (w >= 0x20)
            cr_assert(rkv_err_http(e) >= 500, "%s", rkv_err_name(e));
    }
}

Test(err, every_error_has_a_name_and_a_message)
{
    for (int i = 0; i < RKV_ERR_COUNT; i++) {
        enum rkv_err e = (enum rkv_err)i;
        cr_assert_gt(strlen(rkv_err_name(e)), 0u);
        cr_assert_neq(strcmp(rkv_err_name(e), "UNKNOWN"), 0);
        cr_assert_gt(strlen(rkv_err_message(e)), 0u);
        cr_assert_neq(strcmp(rkv_err_message(e), "unknown error"), 0, "%s", rkv_err_name(e));
    }
}

Test(err, out_of_range_values_map_to_safe_defaults)
{
    enum rkv_err bad = RKV_ERR_COUNT;
    cr_assert_str_eq(rkv_err_message(bad), "unknown error");
    cr_assert_str_eq(rkv_err_name(bad), "UNKNOWN");
    cr_assert_eq(rkv_err_wire(bad), 0x3f);
    cr_assert_eq(rkv_err_http(bad), 500);
}

Test(err, every_rkv_err_has_a_ringkv_err_of_the_same_wire_value)
{
#define ERR_SAME(name, wire, http, msg) \
    cr_assert_eq((int)RINGKV_##name, (wire), "RINGKV_" #name); \
    cr_assert_eq(rkv_err_wire(RKV_##name), (wire), "RKV_" #name);
    RKV_ERR_TABLE(ERR_SAME)
#undef ERR_SAME
}

Test(err, ringkv_strerror_has_a_message_for_every_value)
{
#define ERR_MSG(name, wire, http, msg) \
    cr_assert_str_eq(ringkv_strerror(RINGKV_##name), msg, "RINGKV_" #name);
    RKV_ERR_TABLE(ERR_MSG)
#undef ERR_MSG
    const enum ringkv_err own[] = {
        RINGKV_ERR_CONNECT, RINGKV_ERR_CLOSED, RINGKV_ERR_NET, RINGKV_ERR_NET_TIMEOUT,
        RINGKV_ERR_PROTOCOL, RINGKV_ERR_NOMEM, RINGKV_ERR_USAGE, RINGKV_ERR_UNKNOWN_STATUS,
    };
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        cr_assert_geq((int)own[i], 0x100, "client codes cannot clash with status bytes");
        const char *m = ringkv_strerror(own[i]);
        cr_assert_not_null(m);
        cr_assert_gt(strlen(m), 0u);
        cr_assert_neq(strcmp(m, "unknown error"), 0);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(m, ringkv_strerror(own[j]), "each client error says something of its own");
    }
    cr_assert_str_eq(ringkv_strerror((enum ringkv_err)0x99), "unknown error");
    cr_assert_str_eq(ringkv_strerror((enum ringkv_err)0x1ff), "unknown error");
}
