/* The record codec: stored keys (token ‖ user key) and the 32-byte stored value header laid
 * out in storage/record.h. Pure functions over caller-owned buffers; no allocation, no state.
 * The encoder asserts the invariants (a violation is our bug), the decoder checks the same
 * invariants on bytes read from disk and answers RKV_CORRUPT (bad bytes are input). */
#include "storage/record.h"

#include <string.h>

#include "core/assert.h"
#include "core/bytes.h"

/* Offsets of the value header fields; the table in storage/record.h is the reference. */
enum {
    REC_OFF_FORMAT = 0,
    REC_OFF_FLAGS = 1,
    REC_OFF_RESERVED = 2,
    REC_OFF_ORIGIN = 4,
    REC_OFF_TIMESTAMP = 8,
    REC_OFF_VERSION = 16,
    REC_OFF_EXPIRY = 24,
};
_Static_assert(REC_OFF_EXPIRY + 8 == REC_HDR_BYTES, "the header ends with expiry_ms");
_Static_assert(REC_F_KNOWN <= UINT8_MAX, "flags are one byte");

size_t record_key_encode(uint8_t *out, uint64_t token, const uint8_t *key, size_t key_bytes)
{
    RKV_ASSERT(out != NULL);
    RKV_ASSERT(key != NULL);
    RKV_ASSERT(key_bytes >= 1);
    RKV_ASSERT(key_bytes <= RKV_KEY_BYTES_MAX);
    store_be64(out, token);
    memcpy(out + 8, key, key_bytes);
    return 8u + key_bytes;
}

void record_hdr_encode(uint8_t out[REC_HDR_BYTES], const struct record_hdr *hdr, uint32_t value_bytes)
{
    RKV_ASSERT(out != NULL);
    RKV_ASSERT(hdr != NULL);
    RKV_ASSERT((hdr->flags & ~REC_F_KNOWN) == 0);
    RKV_ASSERT(hdr->version >= 1);
    RKV_ASSERT(value_bytes <= RKV_VALUE_BYTES_MAX);
    /* A tombstone's expiry_ms is the time its key died, so any value is legal there. */
    if (hdr->flags & REC_F_TOMBSTONE)
        RKV_ASSERT(value_bytes == 0);
    out[REC_OFF_FORMAT] = (uint8_t)REC_FORMAT_V1;
    out[REC_OFF_FLAGS] = hdr->flags;
    store_be16(out + REC_OFF_RESERVED, 0);
    store_be32(out + REC_OFF_ORIGIN, hdr->origin);
    store_be64(out + REC_OFF_TIMESTAMP, hdr->timestamp);
    store_be64(out + REC_OFF_VERSION, hdr->version);
    store_be64(out + REC_OFF_EXPIRY, hdr->expiry_ms);
}

enum rkv_err record_decode(const uint8_t *buf, size_t len, struct record_view *view_out)
{
    RKV_ASSERT(view_out != NULL);
    memset(view_out, 0, sizeof *view_out);
    RKV_ASSERT(buf != NULL || len == 0);

    /* A stored value is written whole by one WiredTiger update, so a short one is corruption,
     * never "need more bytes". */
    if (len < REC_HDR_BYTES)
        return RKV_CORRUPT;
    if (len - REC_HDR_BYTES > RKV_VALUE_BYTES_MAX)
        return RKV_CORRUPT;
    if (buf[REC_OFF_FORMAT] != REC_FORMAT_V1)
        return RKV_CORRUPT;
    uint8_t flags = buf[REC_OFF_FLAGS];
    if ((flags & ~REC_F_KNOWN) != 0)
        return RKV_CORRUPT;
    if (load_be16(buf + REC_OFF_RESERVED) != 0)
        return RKV_CORRUPT;

    struct record_hdr hdr = {
        .flags = flags,
        .origin = load_be32(buf + REC_OFF_ORIGIN),
        .timestamp = load_be64(buf + REC_OFF_TIMESTAMP),
        .version = load_be64(buf + REC_OFF_VERSION),
        .expiry_ms = load_be64(buf + REC_OFF_EXPIRY),
    };
    uint32_t value_bytes = (uint32_t)(len - REC_HDR_BYTES);
    if (hdr.version == 0)
        return RKV_CORRUPT;
    if ((flags & REC_F_TOMBSTONE) && value_bytes != 0)
        return RKV_CORRUPT;

    view_out->hdr = hdr;
    view_out->value = buf + REC_HDR_BYTES;
    view_out->value_bytes = value_bytes;
    return RKV_OK;
}

/* Expiry boundary: a record whose expiry_ms is E is visible while now_ms < E and hidden from
 * now_ms == E on, so a TTL of t seconds keeps a value for exactly t * 1000 ms. */
bool record_visible(const struct record_hdr *hdr, uint64_t now_ms)
{
    RKV_ASSERT(hdr != NULL);
    if (hdr->flags & REC_F_TOMBSTONE)
        return false;
    return hdr->expiry_ms == 0 || now_ms < hdr->expiry_ms;
}

/* Same boundary as record_visible(): the record is hidden, and so expired, from now_ms ==
 * expiry_ms on. */
bool record_expired(const struct record_hdr *hdr, uint64_t now_ms)
{
    RKV_ASSERT(hdr != NULL);
    if (hdr->flags & REC_F_TOMBSTONE)
        return false;
    return hdr->expiry_ms != 0 && now_ms >= hdr->expiry_ms;
}

bool record_purgeable(const struct record_hdr *hdr, uint64_t now_ms, uint64_t grace_ms)
{
    RKV_ASSERT(hdr != NULL);
    if (!(hdr->flags & REC_F_TOMBSTONE))
        return false;
    uint64_t died_ms = hdr->expiry_ms;
    if (died_ms > UINT64_MAX - grace_ms)
        return false; /* the grace ends past the end of time */
    return now_ms >= died_ms + grace_ms;
}

bool record_newer(const struct record_hdr *a, const struct record_hdr *b)
{
    RKV_ASSERT(a != NULL);
    RKV_ASSERT(b != NULL);
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp;
    return a->origin > b->origin;
}
