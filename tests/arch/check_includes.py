#!/usr/bin/env python3
"""Checks the include arrows of DESIGN section 7: a folder includes only the project headers
of the folders it may use, and only storage/engine.c includes <wiredtiger.h>.

Usage: check_includes.py SRCDIR      self-test, then check the tree; exit 1 on a violation
       check_includes.py --self-test  only check that the checker catches planted violations

A project header is a quoted include ("folder/name.h", or a path relative to the including
file) that resolves to a file in one of the project folders. Angle-bracket includes are
system headers (<net/if.h> is not our net/). Comments are ignored; #if 0 blocks are not
(a dead include still points the wrong way). Each violation is printed as
"FILE:LINE INCLUDE" followed by the rule it breaks.
"""

import os
import re
import sys
import tempfile

# DESIGN section 7: folder -> the folders whose headers it may include.
ALLOWED = {
    "core": {"core"},
    "ring": {"core", "ring"},
    "storage": {"core", "storage"},
    "net": {"core", "net"},
    "replication": {"core", "ring", "storage", "net", "replication"},
    "tools": {"core", "ring", "storage", "net", "replication", "tools", "bench", "tests"},
    "bench": {"core", "net", "bench"},
    "tests": {"core", "ring", "storage", "net", "replication", "tools", "bench", "tests"},
}
FOLDERS = sorted(ALLOWED)

# Headers of outside libraries that only the listed files may include: WiredTiger's codes
# and handles stay inside the engine (STYLE practices 12 and 18).
EXCLUSIVE = {"wiredtiger.h": ("storage/engine.c",)}

SOURCE_SUFFIXES = (".c", ".h")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]*)[>"]')


def strip_comments(text):
    """Blanks out comments, keeping every newline so that line numbers stay right. String
    and character literals are tracked only so that a "/*" or "//" inside one is not taken
    for a comment; their text is kept."""
    out = []
    i, n = 0, len(text)
    state = "code"
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if state == "code":
            if c == "/" and nxt == "*":
                state = "block"
                out.append("  ")
                i += 2
                continue
            if c == "/" and nxt == "/":
                state = "line"
                out.append("  ")
                i += 2
                continue
            if c == '"' or c == "'":
                state = c
            out.append(c)
        elif state == "block":
            if c == "*" and nxt == "/":
                state = "code"
                out.append("  ")
                i += 2
                continue
            out.append("\n" if c == "\n" else " ")
        elif state == "line":
            if c == "\n":
                state = "code"
                out.append(c)
            elif c == "\\" and nxt == "\n":
                out.append(" \n")
                i += 2
                continue
            else:
                out.append(" ")
        else:  # inside a string or character literal whose quote is `state`
            if c == "\\" and nxt:
                out.append(c + nxt)
                i += 2
                continue
            if c == state or c == "\n":
                state = "code"
            out.append(c)
        i += 1
    return "".join(out)


def project_folder_of(srcdir, including_file, path):
    """The project folder a quoted include resolves to, or None for a non-project header.
    Like the compiler: first beside the including file, then from SRCDIR (-I SRCDIR). A
    header that does not exist yet still counts by its first path component."""
    candidates = [
        os.path.normpath(os.path.join(os.path.dirname(including_file), path)),
        os.path.normpath(os.path.join(srcdir, path)),
    ]
    for cand in candidates:
        if os.path.isfile(cand):
            rel = os.path.relpath(cand, srcdir)
            top = rel.split(os.sep)[0]
            return top if top in ALLOWED else None
    top = os.path.normpath(path).split(os.sep)[0]
    return top if top in ALLOWED else None


def source_files(srcdir):
    for folder in FOLDERS:
        root = os.path.join(srcdir, folder)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith(SOURCE_SUFFIXES):
                    yield folder, os.path.join(dirpath, name)


def check_tree(srcdir):
    """Returns the violations in srcdir as (relative file, line, include text, reason)."""
    srcdir = os.path.abspath(srcdir)
    found = []
    for folder, path in source_files(srcdir):
        rel = os.path.relpath(path, srcdir).replace(os.sep, "/")
        with open(path, encoding="utf-8", errors="replace") as f:
            original = f.read()
        stripped = strip_comments(original).split("\n")
        lines = original.split("\n")
        for lineno, line in enumerate(lines, start=1):
            if "include" not in stripped[lineno - 1]:
                continue
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            delim, inc = m.group(1), m.group(2)
            shown = "#include " + (f'"{inc}"' if delim == '"' else f"<{inc}>")
            base = os.path.basename(inc)
            if inc == base and base in EXCLUSIVE and rel not in EXCLUSIVE[base]:
                who = ", ".join(EXCLUSIVE[base])
                found.append((rel, lineno, shown, f"only {who} may include {base}"))
                continue
            if delim != '"':
                continue
            target = project_folder_of(srcdir, path, inc)
            if target is not None and target not in ALLOWED[folder]:
                may = ", ".join(sorted(ALLOWED[folder]))
                found.append((rel, lineno, shown, f"{folder}/ may include only {may}"))
    return found


def report(found, out):
    for rel, lineno, shown, why in found:
        print(f"{rel}:{lineno} {shown}  ({why})", file=out)


# The planted tree of the self-test: file -> text, and the violations it must yield.
SELF_TEST_TREE = {
    "core/limits.h": "#define X 1\n",
    "core/bad.h": '#include "core/limits.h"\n#include "net/conn.h"\n',
    "ring/token.c": (
        '#include "ring/token.h"\n'
        '#include "core/limits.h"\n'
        "/* #include \"storage/engine.h\" in a comment is no include */\n"
        '// #include "net/conn.h"\n'
        '#include "storage/engine.h"\n'
    ),
    "ring/token.h": "#include <stdint.h>\n",
    "ring/rel.c": '#include "../storage/engine.h"\n#include "token.h"\n',
    "storage/engine.h": "struct engine;\n",
    "storage/engine.c": "#include <wiredtiger.h>\n#include \"storage/engine.h\"\n",
    "storage/other.c": "  #  include <wiredtiger.h>\n",
    "storage/quoted.c": '#include "wiredtiger.h"\n',
    "net/conn.h": "#include <net/if.h>\n#include <sys/socket.h>\n",
    "net/conn.c": '#include "net/conn.h"\n#include "ring/token.h"\n',
    "replication/coord.c": (
        '#include "core/limits.h"\n#include "ring/token.h"\n'
        '#include "storage/engine.h"\n#include "net/conn.h"\n'
    ),
    "bench/bench.c": '#include "net/conn.h"\n#include "storage/engine.h"\n',
    "tests/unit/ring/token_test.c": '#include "storage/engine.h"\n#include "replication/coord.h"\n',
    "tests/unit/storage/engine_test.c": "#include <wiredtiger.h>\n",
    "tools/ringkv.c": '#include "replication/coord.h"\n#include "bench/x.h"\n',
}
SELF_TEST_EXPECT = {
    ("core/bad.h", 2),
    ("ring/token.c", 5),
    ("ring/rel.c", 1),
    ("storage/other.c", 1),
    ("storage/quoted.c", 1),
    ("net/conn.c", 2),
    ("bench/bench.c", 2),
    ("tests/unit/storage/engine_test.c", 1),
}


def self_test():
    """True when the checker finds exactly the planted violations of SELF_TEST_TREE."""
    with tempfile.TemporaryDirectory(prefix="rkv_arch_includes_") as root:
        for rel, text in SELF_TEST_TREE.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        found = check_tree(root)
    got = {(rel, lineno) for rel, lineno, _, _ in found}
    missed = SELF_TEST_EXPECT - got
    extra = got - SELF_TEST_EXPECT
    for rel, lineno in sorted(missed):
        print(f"self-test: planted violation not caught: {rel}:{lineno}", file=sys.stderr)
    for rel, lineno in sorted(extra):
        print(f"self-test: allowed include reported: {rel}:{lineno}", file=sys.stderr)
    return not missed and not extra


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        ok = self_test()
        print("check_includes self-test: " + ("ok" if ok else "FAILED"))
        return 0 if ok else 1
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    srcdir = argv[1]
    if not os.path.isdir(os.path.join(srcdir, "core")):
        print(f"check_includes: {srcdir} has no core/ folder: not a ringkv tree", file=sys.stderr)
        return 2
    if not self_test():
        print("check_includes self-test: FAILED (the checker itself is broken)", file=sys.stderr)
        return 1
    print(f"check_includes self-test: ok ({len(SELF_TEST_EXPECT)} planted violations caught)")
    found = check_tree(srcdir)
    if found:
        print(f"check_includes: {len(found)} include(s) cross the arrows of DESIGN section 7:", file=sys.stderr)
        report(found, sys.stderr)
        return 1
    print("check_includes: every include follows the arrows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
