/* One table of every ringkv error: its enum name, the status byte of the binary protocol,
 * the HTTP status and a one-sentence message. Every mapping is generated from the table, so
 * adding an error forces all of them. Foreign codes (errno, WiredTiger) are translated at
 * the edge of the module that meets them and never travel further. */
#ifndef RKV_CORE_ERR_H
#define RKV_CORE_ERR_H

#include <stdint.h>

/*  name              wire  http  message */
#define RKV_ERR_TABLE(X)                                                              \
    X(OK,               0x00, 200, "ok")                                              \
    X(NOT_FOUND,        0x01, 404, "key not found")                                   \
    X(VERSION_MISMATCH, 0x02, 412, "the key's current version is not if_version")     \
    X(FENCED,           0x03, 409, "a replica holds a newer write of the key")        \
    X(KEY_EMPTY,        0x10, 400, "key is empty")                                    \
    X(KEY_TOO_LONG,     0x11, 400, "key longer than 256 bytes")                       \
    X(VALUE_TOO_LONG,   0x12, 413, "value longer than 1 MiB")                         \
    X(BAD_TTL,          0x13, 400, "ttl longer than 10 years")                        \
    X(BAD_CONSISTENCY,  0x14, 400, "unknown consistency level")                       \
    X(UNKNOWN_OPCODE,   0x15, 400, "unknown opcode")                                  \
    X(BAD_FRAME,        0x16, 400, "malformed frame")                                 \
    X(FRAME_TOO_LONG,   0x17, 413, "frame longer than the limit")                     \
    X(INVALID_ARG,      0x18, 400, "invalid argument")                                \
    X(BUSY,             0x20, 503, "server busy, try again")                          \
    X(UNAVAILABLE,      0x21, 503, "too few replicas answered in time")               \
    X(TIMEOUT,          0x22, 504, "request timed out")                               \
    X(SHUTTING_DOWN,    0x23, 503, "node is shutting down")                           \
    X(CLOCK_SKEW,       0x24, 503, "timestamp too far ahead of this node's clock")    \
    X(CORRUPT,          0x30, 500, "stored record is corrupt")                        \
    X(IO,               0x31, 500, "storage i/o error")                               \
    X(NO_SPACE,         0x32, 507, "storage is full")                                 \
    X(INTERNAL,         0x3f, 500, "internal error")

enum rkv_err {
#define RKV_ERR_ENUM(name, wire, http, msg) RKV_##name,
    RKV_ERR_TABLE(RKV_ERR_ENUM)
#undef RKV_ERR_ENUM
    RKV_ERR_COUNT
};

/* Static strings; never NULL (an out-of-range value gives "unknown error"). */
const char *rkv_err_message(enum rkv_err e);
const char *rkv_err_name(enum rkv_err e);
uint8_t rkv_err_wire(enum rkv_err e);
int rkv_err_http(enum rkv_err e);
/* Translates a wire status byte back; false when the byte names no error. */
_Bool rkv_err_from_wire(uint8_t wire, enum rkv_err *err_out);

#endif
