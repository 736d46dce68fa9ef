/* rkv_assert_fail(): one line on stderr through the logger, then abort(). */
#include "core/assert.h"

#include <stdlib.h>

#include "core/log.h"

void rkv_assert_fail(const char *expr, const char *file, int line)
{
    rkv_log(RKV_LOG_FATAL, "assertion failed: %s at %s:%d", expr, file, line);
    abort();
}
