/* See tmpdir.h. */
#include "tests/support/tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int tmpdir_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_dir_remove(const char *path)
{
    if (path != NULL && path[0] != '\0')
        nftw(path, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
