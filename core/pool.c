/* Slab-backed free-list pool; see pool.h. Slabs hold up to 256 objects, so growth costs one
 * allocation per 256 objects and a pool never asks for all of its capacity at once. */
#include "core/pool.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

#define POOL_SLAB_OBJS_MAX 256u

bool pool_init(struct pool *p, const char *name, size_t obj_bytes, uint32_t capacity)
{
    RKV_ASSERT(obj_bytes > 0);
    RKV_ASSERT(capacity > 0);
    memset(p, 0, sizeof *p);
    p->name = name;
    p->obj_bytes = (obj_bytes + 15u) & ~(size_t)15u;
    p->capacity = capacity;
    p->slab_objs = capacity < POOL_SLAB_OBJS_MAX ? capacity : POOL_SLAB_OBJS_MAX;
    p->slabs = calloc(capacity / p->slab_objs + 1u, sizeof *p->slabs);
    return p->slabs != NULL;
}

void pool_destroy(struct pool *p)
{
    RKV_ASSERT(p->in_use == 0);
    for (uint32_t i = 0; i < p->slab_count; i++)
        free(p->slabs[i]);
    free(p->slabs);
    memset(p, 0, sizeof *p);
}

static bool pool_grow(struct pool *p)
{
    uint32_t n = p->capacity - p->allocated;
    if (n > p->slab_objs)
        n = p->slab_objs;
    if (n == 0)
        return false;
    uint8_t *slab = malloc(p->obj_bytes * n);
    if (slab == NULL)
        return false;
    p->slabs[p->slab_count++] = slab;
    p->allocated += n;
    for (uint32_t i = n; i-- > 0;) {
        void *obj = slab + (size_t)i * p->obj_bytes;
        *(void **)obj = p->free_list;
        p->free_list = obj;
    }
    return true;
}

void *pool_get(struct pool *p)
{
    if (p->free_list == NULL && !pool_grow(p))
        return NULL;
    void *obj = p->free_list;
    p->free_list = *(void **)obj;
    p->in_use++;
    memset(obj, 0, p->obj_bytes);
    return obj;
}

void pool_put(struct pool *p, void *obj)
{
    RKV_ASSERT(obj != NULL);
    RKV_ASSERT(p->in_use > 0);
    p->in_use--;
    *(void **)obj = p->free_list;
    p->free_list = obj;
}
