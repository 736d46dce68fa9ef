/* ringkv's C client library: the public API. Link with the rkv_net and rkv_core libraries.
 * One struct ringkv_client is one TCP connection speaking the binary protocol
 * (docs/protocol.md). It is not thread-safe: use one client per thread.
 *
 * Two styles on the same connection:
 *  - blocking calls (ringkv_put/get/delete/ping): send one request, wait for its answer;
 *  - pipelining: ringkv_send_*() queue requests (many in flight), ringkv_flush() writes
 *    them, ringkv_recv() returns answers one at a time, in whatever order the server sends
 *    them, each tagged with the request id that ringkv_send_*() returned.
 * Mixing the styles is allowed only when nothing is in flight. */
#ifndef RINGKV_H
#define RINGKV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RINGKV_API __attribute__((visibility("default")))

/* Every status the library returns. Values below 0x100 are the server's status bytes
 * (docs/protocol.md); 0x100 and up are the client's own. */
enum ringkv_err {
    RINGKV_OK = 0x00,
    RINGKV_NOT_FOUND = 0x01,
    RINGKV_VERSION_MISMATCH = 0x02,
    RINGKV_FENCED = 0x03,
    RINGKV_KEY_EMPTY = 0x10,
    RINGKV_KEY_TOO_LONG = 0x11,
    RINGKV_VALUE_TOO_LONG = 0x12,
    RINGKV_BAD_TTL = 0x13,
    RINGKV_BAD_CONSISTENCY = 0x14,
    RINGKV_UNKNOWN_OPCODE = 0x15,
    RINGKV_BAD_FRAME = 0x16,
    RINGKV_FRAME_TOO_LONG = 0x17,
    RINGKV_INVALID_ARG = 0x18,
    RINGKV_BUSY = 0x20,
    RINGKV_UNAVAILABLE = 0x21,
    RINGKV_TIMEOUT = 0x22,
    RINGKV_SHUTTING_DOWN = 0x23,
    RINGKV_CLOCK_SKEW = 0x24,
    RINGKV_CORRUPT = 0x30,
    RINGKV_IO = 0x31,
    RINGKV_NO_SPACE = 0x32,
    RINGKV_INTERNAL = 0x3f,
    RINGKV_ERR_CONNECT = 0x100,   /* could not resolve or connect */
    RINGKV_ERR_CLOSED = 0x101,    /* the server closed the connection */
    RINGKV_ERR_NET = 0x102,       /* a socket error */
    RINGKV_ERR_NET_TIMEOUT = 0x103, /* no answer within the client's timeout */
    RINGKV_ERR_PROTOCOL = 0x104,  /* the server sent bytes that are not a valid frame */
    RINGKV_ERR_NOMEM = 0x105,
    RINGKV_ERR_USAGE = 0x106,     /* a bad argument to the library (NULL, too long, ...) */
    RINGKV_ERR_UNKNOWN_STATUS = 0x107 /* the server sent a status this library does not know */
};

/* A static, one-sentence message for err; never NULL. */
RINGKV_API const char *ringkv_strerror(enum ringkv_err err);

enum ringkv_consistency { RINGKV_ONE = 0, RINGKV_QUORUM = 1, RINGKV_ALL = 2 };

typedef struct ringkv_client ringkv_client;

struct ringkv_options {
    enum ringkv_consistency consistency; /* default RINGKV_QUORUM */
    uint32_t ttl_s;                      /* PUT: 0 = never expires */
    int if_version_set;                  /* PUT: nonzero makes it conditional on if_version */
    uint64_t if_version;                 /* 0 = only if absent */
};
/* The defaults: quorum, no TTL, unconditional. */
RINGKV_API struct ringkv_options ringkv_options_default(void);

/* What a request achieved. value is owned by the client and valid until the next call on
 * the same client (copy it to keep it); it is NULL when value_bytes is 0. For an error the
 * server explained, message holds its sentence (NUL-terminated, owned likewise). */
struct ringkv_reply {
    uint32_t request_id;
    uint8_t opcode;
    enum ringkv_err status;
    uint64_t version;
    uint64_t timestamp;       /* HLC: ms << 16 | logical */
    uint8_t acked, needed, hinted;
    const uint8_t *value;
    uint32_t value_bytes;
    const char *message;
};

/* Connects to "HOST:PORT" (or "[V6]:PORT"). timeout_ms bounds the connect and every later
 * wait for an answer (0: 5000 ms). On failure returns NULL and sets *err_out. */
RINGKV_API ringkv_client *ringkv_connect(const char *addr, int timeout_ms, enum ringkv_err *err_out);
RINGKV_API void ringkv_close(ringkv_client *c);

/* Blocking calls: reply_out may be NULL. The return value is reply_out->status or a
 * client error. */
RINGKV_API enum ringkv_err ringkv_ping(ringkv_client *c, struct ringkv_reply *reply_out);
RINGKV_API enum ringkv_err ringkv_put(ringkv_client *c, const void *key, size_t key_bytes,
                                      const void *value, size_t value_bytes,
                                      const struct ringkv_options *opts, struct ringkv_reply *reply_out);
RINGKV_API enum ringkv_err ringkv_get(ringkv_client *c, const void *key, size_t key_bytes,
                                      const struct ringkv_options *opts, struct ringkv_reply *reply_out);
RINGKV_API enum ringkv_err ringkv_delete(ringkv_client *c, const void *key, size_t key_bytes,
                                         const struct ringkv_options *opts, struct ringkv_reply *reply_out);

/* Pipelining: each send copies the request into the client's output buffer and returns its
 * request id through *request_id_out. Nothing is written until ringkv_flush() (or until the
 * buffer passes 64 KiB). Keys and values are not checked against the limits here: the
 * server answers with its status, which is how tests send bad requests. */
RINGKV_API enum ringkv_err ringkv_send_put(ringkv_client *c, const void *key, size_t key_bytes,
                                           const void *value, size_t value_bytes,
                                           const struct ringkv_options *opts, uint32_t *request_id_out);
RINGKV_API enum ringkv_err ringkv_send_get(ringkv_client *c, const void *key, size_t key_bytes,
                                           const struct ringkv_options *opts, uint32_t *request_id_out);
RINGKV_API enum ringkv_err ringkv_send_delete(ringkv_client *c, const void *key, size_t key_bytes,
                                              const struct ringkv_options *opts, uint32_t *request_id_out);
RINGKV_API enum ringkv_err ringkv_send_ping(ringkv_client *c, uint32_t *request_id_out);
/* Writes everything queued. */
RINGKV_API enum ringkv_err ringkv_flush(ringkv_client *c);
/* Waits for the next answer (flushing first). RINGKV_OK with *reply_out filled (its status
 * field is the server's answer), or a client error when the connection failed. */
RINGKV_API enum ringkv_err ringkv_recv(ringkv_client *c, struct ringkv_reply *reply_out);
/* Requests sent and not yet answered. */
RINGKV_API size_t ringkv_in_flight(const ringkv_client *c);

/* Writes raw bytes to the connection (tests of the server's handling of bad input). */
RINGKV_API enum ringkv_err ringkv_send_raw(ringkv_client *c, const void *bytes, size_t len);

#ifdef __cplusplus
}
#endif

#endif
