/* Tests of core/pool: a pool hands out at most its capacity of distinct, zeroed, aligned
 * objects, answers NULL (backpressure) when they are all in use, takes objects back and
 * hands them out again without growing, and asserts on misuse (a put with nothing in use,
 * a destroy with objects still out). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"

struct thing {
    uint64_t a;
    uint8_t bytes[40];
};

static int ptr_cmp(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t)*(void *const *)x, b = (uintptr_t)*(void *const *)y;
    return a < b ? -1 : a > b;
}

/* True when the n objects in objs are distinct and none overlaps another. */
static bool all_distinct_and_disjoint(void **objs, uint32_t n, size_t obj_bytes)
{
    void **sorted = malloc(n * sizeof *sorted);
    if (sorted == NULL)
        return false;
    memcpy(sorted, objs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, ptr_cmp);
    bool ok = true;
    for (uint32_t i = 1; i < n && ok; i++)
        ok = (uintptr_t)sorted[i] >= (uintptr_t)sorted[i - 1] + obj_bytes;
    free(sorted);
    return ok;
}

Test(pool, a_pool_of_capacity_1_gives_one_object_then_null)
{
    struct pool p;
    cr_assert(pool_init(&p, "one", sizeof(struct thing), 1));
    void *a = pool_get(&p);
    cr_assert_not_null(a);
    cr_assert_null(pool_get(&p), "the second get of a capacity-1 pool is backpressure");
    cr_assert_null(pool_get(&p), "and stays so");
    pool_put(&p, a);
    void *b = pool_get(&p);
    cr_assert_eq(b, a, "the one object comes back");
    pool_put(&p, b);
    pool_destroy(&p);
}

Test(pool, exactly_capacity_objects_across_several_slabs_then_null)
{
    /* 1000 is not a multiple of the 256-object slab: the last slab is partial. */
    enum { CAP = 1000 };
    struct pool p;
    cr_assert(pool_init(&p, "many", sizeof(struct thing), CAP));
    void **objs = calloc(CAP, sizeof *objs);
    cr_assert_not_null(objs);
    for (uint32_t i = 0; i < CAP; i++) {
        objs[i] = pool_get(&p);
        cr_assert_not_null(objs[i], "object %u of %u", i, CAP);
        cr_assert_eq((uintptr_t)objs[i] % 16u, 0u, "objects are 16-byte aligned");
        memset(objs[i], 0xA5, sizeof(struct thing)); /* every byte is usable */
    }
    cr_assert_eq(p.in_use, CAP);
    cr_assert_null(pool_get(&p), "capacity + 1 is refused");
    cr_assert(all_distinct_and_disjoint(objs, CAP, sizeof(struct thing)));
    for (uint32_t i = 0; i < CAP; i++)
        pool_put(&p, objs[i]);
    cr_assert_eq(p.in_use, 0u);
    free(objs);
    pool_destroy(&p);
}

Test(pool, objects_come_back_zeroed_even_after_being_dirtied)
{
    struct pool p;
    cr_assert(pool_init(&p, "zero", sizeof(struct thing), 8));
    struct thing *t[8];
    for (int i = 0; i < 8; i++) {
        t[i] = pool_get(&p);
        memset(t[i], 0xFF, sizeof *t[i]);
    }
    for (int i = 0; i < 8; i++)
        pool_put(&p, t[i]);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 8; i++) {
            t[i] = pool_get(&p);
            cr_assert_not_null(t[i]);
            const uint8_t *b = (const uint8_t *)t[i];
            for (size_t k = 0; k < sizeof *t[i]; k++)
                cr_assert_eq(b[k], 0, "round %d object %d byte %zu", round, i, k);
            memset(t[i], 0x5A, sizeof *t[i]);
        }
        for (int i = 0; i < 8; i++)
            pool_put(&p, t[i]);
    }
    pool_destroy(&p);
}

Test(pool, reuse_does_not_grow_the_pool)
{
    enum { CAP = 600 };
    struct pool p;
    cr_assert(pool_init(&p, "reuse", 24, CAP));
    /* Churn through ten times the capacity with at most 10 objects out at once: the pool
     * must recycle, not carve new slabs. */
    void *out[10];
    for (int round = 0; round < 10 * CAP / 10; round++) {
        for (int i = 0; i < 10; i++) {
            out[i] = pool_get(&p);
            cr_assert_not_null(out[i]);
        }
        for (int i = 0; i < 10; i++)
            pool_put(&p, out[i]);
    }
    cr_assert_leq(p.allocated, 256u, "at most one slab was ever carved, got %u objects", p.allocated);
    cr_assert_eq(p.slab_count, 1u);
    cr_assert_eq(p.in_use, 0u);
    pool_destroy(&p);
}

Test(pool, a_freed_object_is_handed_out_before_new_memory)
{
    struct pool p;
    cr_assert(pool_init(&p, "lifo", 32, 512));
    void *a = pool_get(&p);
    void *b = pool_get(&p);
    pool_put(&p, a);
    void *c = pool_get(&p);
    cr_assert_eq(c, a);
    pool_put(&p, b);
    pool_put(&p, c);
    pool_destroy(&p);
}

Test(pool, exhaustion_then_one_put_allows_exactly_one_get)
{
    enum { CAP = 300 };
    struct pool p;
    cr_assert(pool_init(&p, "edge", 48, CAP));
    void *objs[CAP];
    for (int i = 0; i < CAP; i++)
        cr_assert_not_null(objs[i] = pool_get(&p));
    cr_assert_null(pool_get(&p));
    pool_put(&p, objs[123]);
    objs[123] = pool_get(&p);
    cr_assert_not_null(objs[123]);
    cr_assert_null(pool_get(&p));
    for (int i = 0; i < CAP; i++)
        pool_put(&p, objs[i]);
    pool_destroy(&p);
}

Test(pool, odd_object_sizes_are_rounded_and_never_overlap)
{
    enum { CAP = 700 };
    static const size_t sizes[] = { 1, 7, 15, 16, 17, 33, 255, 4097 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct pool p;
        cr_assert(pool_init(&p, "odd", sizes[s], CAP));
        cr_assert_geq(p.obj_bytes, sizes[s]);
        cr_assert_eq(p.obj_bytes % 16u, 0u);
        void **objs = calloc(CAP, sizeof *objs);
        for (uint32_t i = 0; i < CAP; i++) {
            objs[i] = pool_get(&p);
            cr_assert_not_null(objs[i]);
            memset(objs[i], (int)i, sizes[s]);
        }
        cr_assert(all_distinct_and_disjoint(objs, CAP, sizes[s]));
        /* Writing every object fully did not spill into a neighbour. */
        for (uint32_t i = 0; i < CAP; i++) {
            const uint8_t *b = objs[i];
            cr_assert_eq(b[0], (uint8_t)i);
            cr_assert_eq(b[sizes[s] - 1], (uint8_t)i);
        }
        for (uint32_t i = 0; i < CAP; i++)
            pool_put(&p, objs[i]);
        free(objs);
        pool_destroy(&p);
    }
}

Test(pool, put_with_nothing_in_use_aborts, .signal = SIGABRT)
{
    struct pool p;
    cr_assert(pool_init(&p, "bad", 32, 4));
    static uint8_t stray[32] __attribute__((aligned(16)));
    pool_put(&p, stray);
}

Test(pool, destroy_with_objects_in_use_aborts, .signal = SIGABRT)
{
    struct pool p;
    cr_assert(pool_init(&p, "leak", 32, 4));
    (void)pool_get(&p);
    pool_destroy(&p);
}

Test(pool, put_of_null_aborts, .signal = SIGABRT)
{
    struct pool p;
    cr_assert(pool_init(&p, "null", 32, 4));
    (void)pool_get(&p);
    pool_put(&p, NULL);
}
