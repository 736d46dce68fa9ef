#!/usr/bin/env python3
"""Checks that every header of the libraries compiles on its own (Seastar's checkheaders).

Usage: check_headers.py SRCDIR [CC]     self-test, then check the tree; exit 1 when a header fails
       check_headers.py --self-test [CC] only check that the checker tells good from bad

For each .h in core/, ring/, storage/, net/ and replication/, a translation unit holding
nothing but that header, included twice (so that a missing include guard shows too), is
compiled with CC -std=c17 -fsyntax-only -Wall -Wextra -Werror -ISRCDIR -D_GNU_SOURCE plus
the include directories pkg-config reports for our libraries. A header fails when it leans
on something its includer was supposed to include first.
"""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

FOLDERS = ("core", "ring", "storage", "net", "replication")
PKG_CONFIG_LIBS = ("liburing", "wiredtiger", "libxxhash", "ck", "inih")
ERROR_LINES_SHOWN = 6


def pkg_config_cflags():
    """Include flags of the libraries our headers may include; none when pkg-config or a
    library is missing (Debian installs all of them under /usr/include anyway)."""
    if shutil.which("pkg-config") is None:
        return []
    flags = []
    for lib in PKG_CONFIG_LIBS:
        r = subprocess.run(["pkg-config", "--cflags-only-I", lib], capture_output=True, text=True)
        if r.returncode == 0:
            flags += [f for f in r.stdout.split() if f not in flags]
    return flags


def headers(srcdir):
    for folder in FOLDERS:
        root = os.path.join(srcdir, folder)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith(".h"):
                    yield os.path.relpath(os.path.join(dirpath, name), srcdir).replace(os.sep, "/")


def compile_alone(cc, srcdir, extra_flags, header):
    """None when header compiles on its own, else the compiler's complaint."""
    unit = f'#include "{header}"\n#include "{header}"\n'
    cmd = [cc, "-std=c17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", f"-I{srcdir}", "-D_GNU_SOURCE",
           *extra_flags, "-x", "c", "-"]
    try:
        r = subprocess.run(cmd, input=unit, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"could not run {cc}: {e}"
    if r.returncode == 0:
        return None
    return (r.stderr or r.stdout or f"{cc} exited with {r.returncode}").strip()


def check_tree(cc, srcdir):
    """Returns [(header, complaint)] for the headers that do not compile alone, and the
    number of headers checked."""
    srcdir = os.path.abspath(srcdir)
    flags = pkg_config_cflags()
    hs = list(headers(srcdir))
    workers = min(8, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda h: (h, compile_alone(cc, srcdir, flags, h)), hs))
    return [(h, why) for h, why in results if why is not None], len(hs)


# The planted tree of the self-test, and which headers must fail.
SELF_TEST_TREE = {
    "core/good.h": "#ifndef G\n#define G\n#include <stdint.h>\nstatic inline uint32_t g(void) { return 1; }\n#endif\n",
    "core/needs_stdint.h": "#ifndef N\n#define N\nuint32_t n(void);\n#endif\n",
    "ring/uses_good.h": '#ifndef U\n#define U\n#include "core/good.h"\nuint32_t u(void);\n#endif\n',
    "net/no_guard.h": "struct once { int x; };\n",
    "storage/warns.h": "#ifndef W\n#define W\nstatic inline int w(int a) { int unused; return a; }\n#endif\n",
    "replication/fine.h": "#ifndef F\n#define F\nstruct fine;\n#endif\n",
    "tools/ignored.h": "this is not C\n",
}
SELF_TEST_EXPECT_FAIL = {"core/needs_stdint.h", "net/no_guard.h", "storage/warns.h"}


def self_test(cc):
    with tempfile.TemporaryDirectory(prefix="rkv_arch_headers_") as root:
        for rel, text in SELF_TEST_TREE.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        failed, _ = check_tree(cc, root)
    got = {h for h, _ in failed}
    for h in sorted(SELF_TEST_EXPECT_FAIL - got):
        print(f"self-test: a bad header passed: {h}", file=sys.stderr)
    for h in sorted(got - SELF_TEST_EXPECT_FAIL):
        print(f"self-test: a good header failed: {h}", file=sys.stderr)
        print(dict(failed)[h], file=sys.stderr)
    return got == SELF_TEST_EXPECT_FAIL


def main(argv):
    args = argv[1:]
    if args and args[0] == "--self-test":
        cc = args[1] if len(args) > 1 else "cc"
        ok = self_test(cc)
        print("check_headers self-test: " + ("ok" if ok else "FAILED"))
        return 0 if ok else 1
    if not 1 <= len(args) <= 2 or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    srcdir = args[0]
    cc = args[1] if len(args) > 1 else "cc"
    if not os.path.isdir(os.path.join(srcdir, "core")):
        print(f"check_headers: {srcdir} has no core/ folder: not a ringkv tree", file=sys.stderr)
        return 2
    if shutil.which(cc) is None:
        print(f"check_headers: compiler {cc} not found", file=sys.stderr)
        return 2
    if not self_test(cc):
        print("check_headers self-test: FAILED (the checker itself is broken)", file=sys.stderr)
        return 1
    print(f"check_headers self-test: ok ({len(SELF_TEST_EXPECT_FAIL)} bad headers caught)")
    failed, count = check_tree(cc, srcdir)
    if failed:
        print(f"check_headers: {len(failed)} of {count} headers do not compile on their own:", file=sys.stderr)
        for h, why in failed:
            print(f"  {h}", file=sys.stderr)
            for line in why.splitlines()[:ERROR_LINES_SHOWN]:
                print(f"      {line}", file=sys.stderr)
        return 1
    print(f"check_headers: all {count} headers compile on their own")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
