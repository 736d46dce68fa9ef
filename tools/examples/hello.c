/* example-hello: the client library's blocking calls, one of each. It connects to the node
 * named by argv[1] (default 127.0.0.1:7379), writes one key, writes it again with options
 * (conditional on the version just written, with a TTL, at consistency all), reads it back,
 * deletes it and checks that it is gone, printing each step. It exits 0 when every answer is the expected
 * one and 1 otherwise. docs/client.md quotes the regions between the markers, and a test
 * checks that the quotes stay verbatim. */
#include <stdio.h>
#include <string.h>

#include "net/ringkv.h"

/* Prints a step whose answer was not the expected one and returns the exit code for it. */
static int hello_fail(const char *step, enum ringkv_err err, const struct ringkv_reply *reply)
{
    /* reply->message is the server's sentence for a status it sent, or the library's. */
    const char *why = reply->message != NULL ? reply->message : ringkv_strerror(err);
    if (err == RINGKV_OK)
        why = "answered ok, which this step did not expect";
    fprintf(stderr, "hello: %s: %s\n", step, why);
    return 1;
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:7379";
    const char key[] = "hello:greeting";
    const char value[] = "hello, world";
    struct ringkv_reply reply;
    enum ringkv_err err;
    int rc = 0;

    /*! [connect] */
    ringkv_client *client = ringkv_connect(addr, 2000, &err);
    if (client == NULL) {
        fprintf(stderr, "hello: cannot connect to %s: %s\n", addr, ringkv_strerror(err));
        return 1;
    }
    /*! [connect] */

    /*! [put] */
    err = ringkv_put(client, key, strlen(key), value, strlen(value), NULL, &reply);
    if (err != RINGKV_OK) {
        rc = hello_fail("put", err, &reply);
        goto out;
    }
    printf("put %s: version %llu\n", key, (unsigned long long)reply.version);
    /*! [put] */

    /*! [options] */
    struct ringkv_options opts = ringkv_options_default();
    opts.consistency = RINGKV_ALL; /* every replica must acknowledge */
    opts.ttl_s = 3600;             /* the key expires in an hour */
    opts.if_version_set = 1;       /* only if nobody wrote the key since our put */
    opts.if_version = reply.version;
    err = ringkv_put(client, key, strlen(key), value, strlen(value), &opts, &reply);
    if (err != RINGKV_OK) {
        /* RINGKV_VERSION_MISMATCH: someone did; reply.version is the key's version now. */
        rc = hello_fail("conditional put", err, &reply);
        goto out;
    }
    printf("conditional put %s: version %llu\n", key, (unsigned long long)reply.version);
    /*! [options] */

    /*! [get] */
    err = ringkv_get(client, key, strlen(key), NULL, &reply);
    if (err != RINGKV_OK) {
        rc = hello_fail("get", err, &reply);
        goto out;
    }
    /* reply.value belongs to the client and is valid until the next call on it. */
    printf("get %s: \"%.*s\" (version %llu)\n", key, (int)reply.value_bytes, (const char *)reply.value,
           (unsigned long long)reply.version);
    /*! [get] */
    if (reply.value_bytes != strlen(value) || memcmp(reply.value, value, reply.value_bytes) != 0) {
        fprintf(stderr, "hello: get returned a different value\n");
        rc = 1;
        goto out;
    }

    /*! [delete] */
    err = ringkv_delete(client, key, strlen(key), NULL, &reply);
    if (err != RINGKV_OK) {
        rc = hello_fail("delete", err, &reply);
        goto out;
    }
    printf("delete %s: done\n", key);

    /* A missing key is a status like any other, not a failure of the client. */
    err = ringkv_get(client, key, strlen(key), NULL, &reply);
    if (err != RINGKV_NOT_FOUND) {
        rc = hello_fail("get after delete", err, &reply);
        goto out;
    }
    printf("get %s: %s\n", key, ringkv_strerror(err));
    /*! [delete] */

out:
    /*! [close] */
    ringkv_close(client);
    /*! [close] */
    return rc;
}
