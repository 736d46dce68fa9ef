/* A fixed-capacity pool of equal-sized objects, owned by one shard. The capacity comes from
 * the limits at start-up; memory is taken from the allocator in slabs as the pool first
 * grows, so an idle shard does not hold its whole budget, and it is never returned until the
 * pool is destroyed. pool_get() on an exhausted pool returns NULL: that is backpressure for
 * the caller to handle (RKV_BUSY), not an error. Not thread-safe: only the owner calls it. */
#ifndef RKV_CORE_POOL_H
#define RKV_CORE_POOL_H

#include <stddef.h>
#include <stdint.h>

struct pool {
    size_t obj_bytes;       /* rounded up to 16 */
    uint32_t capacity;      /* objects at most */
    uint32_t allocated;     /* objects carved from slabs so far */
    uint32_t in_use;
    uint32_t slab_objs;     /* objects per slab */
    void *free_list;        /* singly linked through the first word of free objects */
    void **slabs;           /* capacity / slab_objs + 1 slab pointers */
    uint32_t slab_count;
    const char *name;       /* for logs and stats */
};

/* Sets up an empty pool; allocates only the slab table. false when out of memory. */
_Bool pool_init(struct pool *p, const char *name, size_t obj_bytes, uint32_t capacity);
/* Frees every slab. Objects still in use are a bug (asserted). */
void pool_destroy(struct pool *p);
/* A zeroed object, or NULL when capacity objects are in use (or memory ran out). */
void *pool_get(struct pool *p);
void pool_put(struct pool *p, void *obj);

#endif
