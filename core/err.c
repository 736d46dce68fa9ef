/* The mappings generated from RKV_ERR_TABLE. Pure functions; callable from any thread. */
#include "core/err.h"

#include <stdbool.h>

const char *rkv_err_message(enum rkv_err e)
{
    switch (e) {
#define RKV_ERR_MSG(name, wire, http, msg) case RKV_##name: return msg;
        RKV_ERR_TABLE(RKV_ERR_MSG)
#undef RKV_ERR_MSG
    case RKV_ERR_COUNT: break;
    }
    return "unknown error";
}

const char *rkv_err_name(enum rkv_err e)
{
    switch (e) {
#define RKV_ERR_NAME(name, wire, http, msg) case RKV_##name: return #name;
        RKV_ERR_TABLE(RKV_ERR_NAME)
#undef RKV_ERR_NAME
    case RKV_ERR_COUNT: break;
    }
    return "UNKNOWN";
}

uint8_t rkv_err_wire(enum rkv_err e)
{
    switch (e) {
#define RKV_ERR_WIRE(name, wire, http, msg) case RKV_##name: return wire;
        RKV_ERR_TABLE(RKV_ERR_WIRE)
#undef RKV_ERR_WIRE
    case RKV_ERR_COUNT: break;
    }
    return 0x3f;
}

int rkv_err_http(enum rkv_err e)
{
    switch (e) {
#define RKV_ERR_HTTP(name, wire, http, msg) case RKV_##name: return http;
        RKV_ERR_TABLE(RKV_ERR_HTTP)
#undef RKV_ERR_HTTP
    case RKV_ERR_COUNT: break;
    }
    return 500;
}

bool rkv_err_from_wire(uint8_t wire_byte, enum rkv_err *err_out)
{
    *err_out = RKV_INTERNAL;
    switch (wire_byte) {
#define RKV_ERR_BACK(name, wire, http, msg) case wire: *err_out = RKV_##name; return true;
        RKV_ERR_TABLE(RKV_ERR_BACK)
#undef RKV_ERR_BACK
    default: break;
    }
    return false;
}
