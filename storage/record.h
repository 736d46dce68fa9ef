/* The on-disk layout of one record: the stored key and the stored value header. This is the
 * format every replica writes and reads; it has a version byte so that it can change.
 * docs/storage.md describes the same layout for people.
 *
 * Stored key: token (8 bytes, big-endian) ‖ user key (1..256 bytes). Big-endian tokens sort
 * in ring order, so a vnode range is one contiguous scan.
 *
 * Stored value:
 *   OFFSET SIZE FIELD      NOTES
 *        0    1 format     REC_FORMAT_V1
 *        1    1 flags      REC_F_TOMBSTONE; other bits zero
 *        2    2 reserved   zero
 *        4    4 origin     32-bit hash of the node id that stamped the write (LWW ties)
 *        8    8 timestamp  HLC timestamp of the write: physical ms << 16 | logical counter
 *       16    8 version    1 for the first write of a key, +1 for every later write
 *       24    8 expiry_ms  live record: absolute wall-clock ms from which it is hidden, 0 never;
 *                          tombstone: wall-clock ms at which the key died (died_ms)
 *       32    v value      the value bytes (none for a tombstone)
 *
 * A tombstone's died_ms is the time of the delete, or the expiry of the record the sweep
 * turned into it; the purge removes the tombstone once now_ms >= died_ms + grace
 * (record_purgeable()). The field kept its offset and format version 1: no release ever
 * wrote the earlier rule (a tombstone's expiry_ms was 0).
 *
 * Invariants, asserted by record_hdr_encode() and checked by record_decode() (RKV_CORRUPT):
 * a tombstone has no value bytes (its expiry_ms, died_ms, may hold any value); version >= 1;
 * format is REC_FORMAT_V1; reserved bytes and unknown flags are zero;
 * value_bytes <= RKV_VALUE_BYTES_MAX. */
#ifndef RKV_STORAGE_RECORD_H
#define RKV_STORAGE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"

#define REC_FORMAT_V1 1u
#define REC_HDR_BYTES 32u
#define REC_F_TOMBSTONE 0x01u
#define REC_F_KNOWN (REC_F_TOMBSTONE)
#define REC_STORED_KEY_BYTES_MAX (8u + RKV_KEY_BYTES_MAX)

struct record_hdr {
    uint8_t flags;
    uint32_t origin;
    uint64_t timestamp;
    uint64_t version;
    uint64_t expiry_ms;
};

/* A decoded record; value points into the buffer given to record_decode(). */
struct record_view {
    struct record_hdr hdr;
    const uint8_t *value;
    uint32_t value_bytes;
};

/* Writes token ‖ key into out (at least REC_STORED_KEY_BYTES_MAX bytes); returns its size.
 * key_bytes must be 1..RKV_KEY_BYTES_MAX (asserted: callers validate input first). */
size_t record_key_encode(uint8_t *out, uint64_t token, const uint8_t *key, size_t key_bytes);

/* Writes the 32-byte header for a record carrying value_bytes of value; asserts the
 * invariants above. The caller places the value right after it. */
void record_hdr_encode(uint8_t out[REC_HDR_BYTES], const struct record_hdr *hdr, uint32_t value_bytes);

/* Decodes a stored value; RKV_CORRUPT when any invariant fails. *view_out is set on entry. */
enum rkv_err record_decode(const uint8_t *buf, size_t len, struct record_view *view_out);

/* True when the record is a live value at now_ms: not a tombstone and not expired. */
bool record_visible(const struct record_hdr *hdr, uint64_t now_ms);

/* True when hdr is a live record with an expiry that now_ms has reached (now_ms >=
 * expiry_ms): the sweep turns it into a tombstone. False for tombstones and for records
 * without an expiry. */
bool record_expired(const struct record_hdr *hdr, uint64_t now_ms);

/* True when hdr is a tombstone whose grace has run out: now_ms >= died_ms + grace_ms (the
 * sum saturates, so a died_ms near UINT64_MAX read from disk is never purged rather than
 * purged at once). False for live records. */
bool record_purgeable(const struct record_hdr *hdr, uint64_t now_ms, uint64_t grace_ms);

/* Last-write-wins order (DESIGN §1): true when a is a newer write than b, that is when
 * (a->timestamp, a->origin) > (b->timestamp, b->origin) lexicographically: the larger HLC
 * timestamp wins, and between equal timestamps the larger origin (node id hash) wins. Flags,
 * version, expiry and value play no part: a tombstone is ordered like any other write. False
 * when both carry the same (timestamp, origin). */
bool record_newer(const struct record_hdr *a, const struct record_hdr *b);

#endif
