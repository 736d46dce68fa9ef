/* An acknowledged write is never lost: several connections write N keys, each write counted
 * only once the node acknowledged it; the node is killed with SIGKILL (no shutdown, no
 * checkpoint) while writes are still being sent; after a restart every acknowledged key reads
 * back with its value. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/ringkv.h"
#include "tests/support/server.h"

enum { WRITERS = 4, KEYS_PER_WRITER = 2000, WINDOW = 32 };

struct writer {
    const char *addr;
    int idx;
    /* acked[i]: the version acknowledged for key i (0: not acknowledged). */
    uint64_t acked[KEYS_PER_WRITER];
    atomic_int acked_count;
    atomic_bool stop;
};

static int key_of(int w, int i, char *buf, size_t cap) { return snprintf(buf, cap, "dur-%d-%d", w, i); }
static int value_of(int w, int i, char *buf, size_t cap) { return snprintf(buf, cap, "value-%d-%d-%0*d", w, i, (i % 50) + 1, i); }

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    enum ringkv_err err;
    ringkv_client *c = ringkv_connect(w->addr, 5000, &err);
    if (c == NULL)
        return NULL;
    char key[64], val[128];
    uint32_t ids[WINDOW];
    for (int base = 0; base < KEYS_PER_WRITER && !atomic_load(&w->stop); base += WINDOW) {
        int end = base + WINDOW < KEYS_PER_WRITER ? base + WINDOW : KEYS_PER_WRITER;
        for (int i = base; i < end; i++) {
            int kb = key_of(w->idx, i, key, sizeof key);
            int vb = value_of(w->idx, i, val, sizeof val);
            if (ringkv_send_put(c, key, (size_t)kb, val, (size_t)vb, NULL, &ids[i - base]) != RINGKV_OK)
                goto out;
        }
        for (int n = base; n < end; n++) {
            struct ringkv_reply r;
            if (ringkv_recv(c, &r) != RINGKV_OK)
                goto out; /* the node died: what was not acknowledged does not count */
            for (int i = base; i < end; i++) {
                if (ids[i - base] == r.request_id && r.status == RINGKV_OK) {
                    w->acked[i] = r.version;
                    atomic_fetch_add(&w->acked_count, 1);
                }
            }
        }
    }
out:
    ringkv_close(c);
    return NULL;
}

static void run_kill_and_check(const char *server_args)
{
    struct test_server srv;
    cr_assert(test_server_start(&srv, server_args), "server did not start");
    static struct writer w[WRITERS];
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].addr = srv.addr;
        w[i].idx = i;
        cr_assert_eq(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    /* Kill mid-stream: once a good share is acknowledged, while writes are in flight. */
    for (int spins = 0; spins < 2000; spins++) {
        int total = 0;
        for (int i = 0; i < WRITERS; i++)
            total += atomic_load(&w[i].acked_count);
        if (total >= WRITERS * KEYS_PER_WRITER / 2)
            break;
        usleep(5000);
    }
    test_server_kill(&srv);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);

    cr_assert(test_server_restart(&srv), "restart after SIGKILL failed");
    enum ringkv_err err;
    ringkv_client *c = ringkv_connect(srv.addr, 5000, &err);
    cr_assert_not_null(c);
    int checked = 0, lost = 0;
    char key[64], val[128];
    for (int wi = 0; wi < WRITERS; wi++) {
        for (int i = 0; i < KEYS_PER_WRITER; i++) {
            if (w[wi].acked[i] == 0)
                continue;
            checked++;
            int kb = key_of(wi, i, key, sizeof key);
            int vb = value_of(wi, i, val, sizeof val);
            struct ringkv_reply r;
            enum ringkv_err rc = ringkv_get(c, key, (size_t)kb, NULL, &r);
            if (rc != RINGKV_OK || r.value_bytes != (uint32_t)vb || memcmp(r.value, val, (size_t)vb) != 0 ||
                r.version != w[wi].acked[i]) {
                if (lost < 5)
                    cr_log_error("lost acknowledged write %s: %s", key, ringkv_strerror(rc));
                lost++;
            }
        }
    }
    ringkv_close(c);
    cr_assert_eq(test_server_stop(&srv), 0);
    test_server_cleanup(&srv);
    cr_assert_gt(checked, WRITERS * KEYS_PER_WRITER / 4, "enough writes were acknowledged before the kill (%d)", checked);
    cr_assert_eq(lost, 0, "%d of %d acknowledged writes lost", lost, checked);
}

Test(durability, acknowledged_writes_survive_sigkill_with_two_shards, .timeout = 120)
{
    run_kill_and_check("--shards 2");
}

Test(durability, acknowledged_writes_survive_sigkill_with_one_shard, .timeout = 120)
{
    run_kill_and_check("--shards 1");
}
