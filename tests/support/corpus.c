/* Corpus replay for the fuzz-replay tests (tests/support/corpus.h). */
#include "tests/support/corpus.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

size_t test_corpus_replay(const char *dir, void (*check)(const uint8_t *data, size_t size))
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    uint8_t *buf = malloc(TEST_CORPUS_FILE_BYTES_MAX + 1u);
    cr_assert_not_null(buf);
    size_t files_count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "cannot open %s", path);
        size_t n = fread(buf, 1, TEST_CORPUS_FILE_BYTES_MAX + 1u, f);
        fclose(f);
        cr_assert_leq(n, TEST_CORPUS_FILE_BYTES_MAX, "%s is too big for a corpus file", path);
        check(buf, n);
        files_count++;
    }
    closedir(d);
    free(buf);
    return files_count;
}
