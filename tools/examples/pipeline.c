/* example-pipeline: many requests in flight on one connection. It queues 1000 PUTs, writes
 * them at once and takes the 1000 answers in whatever order the node sends them, matching
 * each to its request by request id; then it does the same with 1000 GETs and checks every
 * value. The node (argv[1], default 127.0.0.1:7379) works on pipelined requests concurrently,
 * so answers can come back out of order; the program counts how many did. It exits 0 when
 * every request got exactly one answer with the expected status and value, and 1 otherwise.
 * docs/client.md quotes the regions between the markers. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ringkv.h"

#define PIPELINE_KEYS 1000
#define PIPELINE_KEY_BYTES_MAX 32
#define PIPELINE_VALUE_BYTES_MAX 64

/* One request in flight: the id the library gave it and the key it is about. */
struct pipeline_req {
    uint32_t request_id;
    int key_idx;
    bool answered;
};

static size_t pipeline_key(int idx, char buf[PIPELINE_KEY_BYTES_MAX])
{
    return (size_t)snprintf(buf, PIPELINE_KEY_BYTES_MAX, "pipeline:%04d", idx);
}

/* Values differ in length as well as content, so that a mix-up cannot go unnoticed. */
static size_t pipeline_value(int idx, char buf[PIPELINE_VALUE_BYTES_MAX])
{
    return (size_t)snprintf(buf, PIPELINE_VALUE_BYTES_MAX, "value %d %.*s", idx, idx % 32,
                            "................................");
}

static int pipeline_req_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct pipeline_req *)a)->request_id;
    uint32_t y = ((const struct pipeline_req *)b)->request_id;
    return (x > y) - (x < y);
}

/* Queues one request per key (a PUT of its value, or a GET) and writes them all. */
static bool pipeline_send(ringkv_client *client, bool put, struct pipeline_req reqs[PIPELINE_KEYS])
{
    /*! [send] */
    for (int i = 0; i < PIPELINE_KEYS; i++) {
        char key[PIPELINE_KEY_BYTES_MAX], value[PIPELINE_VALUE_BYTES_MAX];
        size_t key_bytes = pipeline_key(i, key);
        uint32_t id;
        enum ringkv_err err;
        if (put)
            err = ringkv_send_put(client, key, key_bytes, value, pipeline_value(i, value), NULL, &id);
        else
            err = ringkv_send_get(client, key, key_bytes, NULL, &id);
        if (err != RINGKV_OK) {
            fprintf(stderr, "pipeline: send: %s\n", ringkv_strerror(err));
            return false;
        }
        /* The library copied key and value: the buffers may be reused at once. */
        reqs[i] = (struct pipeline_req){.request_id = id, .key_idx = i, .answered = false};
    }
    enum ringkv_err err = ringkv_flush(client);
    /*! [send] */
    if (err != RINGKV_OK) {
        fprintf(stderr, "pipeline: flush: %s\n", ringkv_strerror(err));
        return false;
    }
    /* Sorted by id, the table answers "which request is this?" with a binary search. */
    qsort(reqs, PIPELINE_KEYS, sizeof(reqs[0]), pipeline_req_cmp);
    return true;
}

/* Checks one answer against the request it names. */
static bool pipeline_check(bool put, struct pipeline_req *req, const struct ringkv_reply *reply)
{
    if (req->answered) {
        fprintf(stderr, "pipeline: request %u answered twice\n", (unsigned)reply->request_id);
        return false;
    }
    req->answered = true;
    if (reply->status != RINGKV_OK) {
        fprintf(stderr, "pipeline: request %u: %s\n", (unsigned)reply->request_id, reply->message);
        return false;
    }
    if (put)
        return true;
    char value[PIPELINE_VALUE_BYTES_MAX];
    size_t value_bytes = pipeline_value(req->key_idx, value);
    if (reply->value_bytes != value_bytes || memcmp(reply->value, value, value_bytes) != 0) {
        fprintf(stderr, "pipeline: key %d: wrong value\n", req->key_idx);
        return false;
    }
    return true;
}

/* Takes every answer of the batch sent by pipeline_send(). *out_of_order_out counts the
 * answers that came after an answer to a later request. */
static bool pipeline_recv(ringkv_client *client, bool put, struct pipeline_req reqs[PIPELINE_KEYS],
                          int *out_of_order_out)
{
    *out_of_order_out = 0;
    uint32_t id_max_seen = 0;
    /*! [recv] */
    while (ringkv_in_flight(client) > 0) {
        struct ringkv_reply reply;
        enum ringkv_err err = ringkv_recv(client, &reply);
        if (err != RINGKV_OK) {
            /* A client error: the connection is broken. A request's own status, such as
             * RINGKV_NOT_FOUND, comes back in reply.status with RINGKV_OK here. */
            fprintf(stderr, "pipeline: recv: %s\n", ringkv_strerror(err));
            return false;
        }
        struct pipeline_req probe = {.request_id = reply.request_id};
        struct pipeline_req *req = bsearch(&probe, reqs, PIPELINE_KEYS, sizeof(reqs[0]), pipeline_req_cmp);
        if (req == NULL) {
            fprintf(stderr, "pipeline: answer to unknown request %u\n", (unsigned)reply.request_id);
            return false;
        }
        /* reply.value is valid until the next call on the client: check it now. */
        if (!pipeline_check(put, req, &reply))
            return false;
        if (reply.request_id < id_max_seen)
            (*out_of_order_out)++;
        else
            id_max_seen = reply.request_id;
    }
    /*! [recv] */
    return true;
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:7379";
    enum ringkv_err err;
    ringkv_client *client = ringkv_connect(addr, 5000, &err);
    if (client == NULL) {
        fprintf(stderr, "pipeline: cannot connect to %s: %s\n", addr, ringkv_strerror(err));
        return 1;
    }
    static struct pipeline_req reqs[PIPELINE_KEYS];
    int rc = 1;
    for (int phase = 0; phase < 2; phase++) {
        bool put = phase == 0;
        int out_of_order = 0;
        if (!pipeline_send(client, put, reqs) || !pipeline_recv(client, put, reqs, &out_of_order))
            goto out;
        printf("%d %s answered, %d out of order\n", PIPELINE_KEYS, put ? "puts" : "gets", out_of_order);
    }
    rc = 0;
out:
    ringkv_close(client);
    return rc;
}
