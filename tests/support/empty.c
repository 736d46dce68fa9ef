/* Placeholder so the support library has a source while it has no helpers of its own. */
extern int rkv_test_support_empty;
int rkv_test_support_empty;
