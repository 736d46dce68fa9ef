/* Test support: removing a test's temporary directory tree (depth first, links not
 * followed). */
#ifndef RKV_TEST_SUPPORT_TMPDIR_H
#define RKV_TEST_SUPPORT_TMPDIR_H

/* Removes path and everything below it; a missing path is not an error. */
void test_dir_remove(const char *path);

#endif
