/* Test support: replays a fuzz corpus (every file of a folder) through a property check, the
 * same one the libFuzzer target runs, so that CI exercises every seed and every crasher ever
 * found under gcc and the sanitizers. A file that breaks a property aborts the test. */
#ifndef RKV_TEST_SUPPORT_CORPUS_H
#define RKV_TEST_SUPPORT_CORPUS_H

#include <stddef.h>
#include <stdint.h>

/* Corpus files are small; anything bigger is a mistake worth hearing about. */
#define TEST_CORPUS_FILE_BYTES_MAX (2u * 1024u * 1024u)

/* Runs check over every file of dir (hidden files skipped); returns how many it ran. Asserts
 * (criterion) that the folder opens and every file reads and fits the bound above. */
size_t test_corpus_replay(const char *dir, void (*check)(const uint8_t *data, size_t size));

#endif
