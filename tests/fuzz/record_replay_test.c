/* Replays the stored-record fuzz corpus (tests/fuzz/corpus/record) through the same property
 * check as the libFuzzer target, so that CI exercises every seed and every crasher ever
 * found under gcc and the sanitizers. A file that breaks a property aborts the test. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_check.h"

#define CORPUS_DIR RKV_SOURCE_DIR "/tests/fuzz/corpus/record"
/* Corpus files are small; anything bigger is a mistake worth hearing about. */
#define CORPUS_FILE_BYTES_MAX (2u * 1024u * 1024u)

static size_t replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    uint8_t *buf = malloc(CORPUS_FILE_BYTES_MAX + 1u);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, CORPUS_FILE_BYTES_MAX + 1u, f);
    fclose(f);
    cr_assert_leq(n, CORPUS_FILE_BYTES_MAX, "%s is too big for a corpus file", path);
    record_check(buf, n);
    free(buf);
    return n;
}

Test(record_replay, every_corpus_file_keeps_the_codec_properties)
{
    DIR *d = opendir(CORPUS_DIR);
    cr_assert_not_null(d, "cannot open %s", CORPUS_DIR);
    size_t files_count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, e->d_name);
        replay_file(path);
        files_count++;
    }
    closedir(d);
    cr_assert_geq(files_count, 8u, "the seed corpus has eight files or more");
}

Test(record_replay, the_empty_input_keeps_the_codec_properties)
{
    static const uint8_t none[1];
    record_check(none, 0);
}

Test(record_replay, a_broken_property_aborts, .signal = SIGABRT)
{
    RC_CHECK(1 + 1 == 3);
}
