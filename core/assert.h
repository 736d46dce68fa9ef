/* Assertions are for our own bugs, never for input (bytes from the network or disk are
 * validated and answered with an error). RKV_ASSERT is on in every build; it logs the
 * expression, file, line and current shard, then aborts. RKV_DEBUG_ASSERT is for costly
 * checks and exists only in Debug and Sanitize builds. */
#ifndef RKV_CORE_ASSERT_H
#define RKV_CORE_ASSERT_H

#include <stddef.h>

_Noreturn void rkv_assert_fail(const char *expr, const char *file, int line);

#define RKV_ASSERT(e) ((e) ? (void)0 : rkv_assert_fail(#e, __FILE__, __LINE__))
#ifdef RKV_DEBUG
#define RKV_DEBUG_ASSERT(e) RKV_ASSERT(e)
#else
#define RKV_DEBUG_ASSERT(e) ((void)0)
#endif

#define RKV_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define RKV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define RKV_MUST_USE __attribute__((warn_unused_result))
#define RKV_LIKELY(x) __builtin_expect(!!(x), 1)
#define RKV_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
