#!/usr/bin/env python3
"""Judges a fault-suite run: the history faultload recorded, the final read of every key,
and optionally every replica's record (GET /debug/key) and the fault windows.

Usage: check.py --history H.jsonl --final F.jsonl [--debug DIR_OR_FILE] [--faults F.json]
                [--strict-levels quorum,all] [--check-ryw] --name SCENARIO

Checks (tests/faults/README.md states each rule exactly):
  1. lost acknowledged writes (judged at --strict-levels, counted at the others);
  2. read-your-writes at quorum and all (only with --check-ryw: runs without faults);
  3. convergence: every replica of every key holds the same record (with --debug);
  4. no phantom values: every value read was written, to that key, before the read ended;
  5. availability: the share of operations that completed ok, overall and in each fault
     window (with --faults); reported, never judged.

Prints the details of every offending operation, the availability figures, and last one
line: "VERDICT <name>: PASS|FAIL lost=.. ryw_violations=.. diverged=.. phantoms=.. avail{..} ..".
Exit 0 on PASS, 1 on FAIL (unreadable input is a FAIL too), 2 on a usage error.
Only the standard library is used.
"""

import argparse
import base64
import binascii
import bisect
import json
import math
import os
import sys
from collections import defaultdict

LEVELS = ("one", "quorum", "all")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
OPS = ("put", "get", "delete")
OUTCOMES = ("ok", "fail", "unknown")
REQUIRED = ("client", "op", "key", "value", "consistency", "invoke_us", "complete_us", "outcome")


class Op:
    """One recorded operation; `where` is FILE:LINE for the reports."""

    __slots__ = ("client", "op", "key", "value", "level", "invoke", "complete", "outcome",
                 "error", "where")

    def __init__(self, rec, where):
        self.client = rec["client"]
        self.op = rec["op"]
        self.key = rec["key"]
        self.value = rec["value"]
        self.level = rec["consistency"]
        self.invoke = rec["invoke_us"]
        self.complete = rec["complete_us"]
        self.outcome = rec["outcome"]
        self.error = rec.get("error")
        self.where = where

    def describe(self):
        value = "null" if self.value is None else json.dumps(self.value)
        err = "" if self.error is None else " error=%s" % self.error
        return "%s %s %s value=%s client=%s outcome=%s%s invoke_us=%d complete_us=%d [%s]" % (
            self.op, self.level, self.key, value, self.client, self.outcome, err, self.invoke,
            self.complete, self.where)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def record_problem(rec):
    """Why a parsed line is not an operation record, or None."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    for field in REQUIRED:
        if field not in rec:
            return "no %r field" % field
    if rec["op"] not in OPS:
        return "op %r" % (rec["op"],)
    if rec["outcome"] not in OUTCOMES:
        return "outcome %r" % (rec["outcome"],)
    if rec["consistency"] not in LEVELS:
        return "consistency %r" % (rec["consistency"],)
    if not isinstance(rec["key"], str):
        return "key is not a string"
    if rec["value"] is not None and not isinstance(rec["value"], str):
        return "value is neither a string nor null"
    if not is_int(rec["invoke_us"]) or not is_int(rec["complete_us"]):
        return "times are not integers"
    if rec["complete_us"] < rec["invoke_us"]:
        return "complete_us before invoke_us"
    if rec["op"] == "put" and rec["value"] is None:
        return "a put without a value"
    return None


def load_ops(path, problems):
    """Reads a JSON-lines history. A last line cut short (no newline, not JSON) is skipped
    with a note, since a writer killed mid-line leaves one; any other bad line is a problem."""
    ops = []
    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        problems.append("cannot read %s: %s" % (path, e))
        return ops
    name = os.path.basename(path)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        where = "%s:%d" % (name, i + 1)
        try:
            rec = json.loads(line)
        except ValueError as e:
            if i == len(lines) - 1:
                print("NOTE %s: last line cut short, skipped" % where)
                continue
            problems.append("%s: not JSON (%s)" % (where, e))
            continue
        why = record_problem(rec)
        if why is not None:
            problems.append("%s: %s" % (where, why))
            continue
        ops.append(Op(rec, where))
    return ops


def load_debug(path, problems):
    """GET /debug/key answers from a file (one JSON object, a list of them, or JSON lines)
    or from every regular file of a directory. Returns [(where, doc)]; an answer that does
    not parse is kept as (where, None) so that convergence counts it."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, n) for n in os.listdir(path)
                       if os.path.isfile(os.path.join(path, n)))
    elif os.path.isfile(path):
        files = [path]
    else:
        problems.append("no such debug file or directory: %s" % path)
        return []
    docs = []
    for fp in files:
        name = os.path.basename(fp)
        try:
            with open(fp, "r", encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            docs.append((name, None))
            print("NOTE cannot read debug file %s: %s" % (name, e))
            continue
        try:
            whole = json.loads(text)
            items = whole if isinstance(whole, list) else [whole]
            docs.extend(("%s[%d]" % (name, i), d) for i, d in enumerate(items))
            continue
        except ValueError:
            pass
        lines = text.split("\n")
        if not any(line.strip() for line in lines):
            docs.append((name, None))  # e.g. curl wrote nothing: the node did not answer
            continue
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                docs.append(("%s:%d" % (name, i + 1), json.loads(line)))
            except ValueError:
                docs.append(("%s:%d" % (name, i + 1), None))
    return docs


def load_faults(path, problems):
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        problems.append("cannot read faults %s: %s" % (path, e))
        return []
    if isinstance(data, dict) and "faults" in data:
        data = data["faults"]
    if not isinstance(data, list):
        problems.append("faults %s: not a JSON list" % path)
        return []
    windows = []
    for i, w in enumerate(data):
        if not isinstance(w, dict) or not is_int(w.get("start_us")) or \
                not (w.get("end_us") is None or is_int(w.get("end_us"))):
            problems.append("faults %s[%d]: wants {\"name\",\"start_us\",\"end_us\"}" % (path, i))
            continue
        windows.append((str(w.get("name", "fault-%d" % i)), w["start_us"], w.get("end_us")))
    return windows


def ratio(ok, total):
    return "-" if total == 0 else "%.4f" % (ok / total)


class Checker:
    """Holds the inputs and the findings. Each check_* method appends its findings and
    prints one line per offending operation."""

    def __init__(self, history, final, strict_levels):
        self.history = history
        self.final = final
        self.strict = set(strict_levels)
        self.problems = []
        self.lost = []  # (level, text)
        self.ryw = []
        self.diverged = []
        self.phantoms = []
        self.failed_visible = []
        self.unjudged = []
        self.hints_left = 0
        self.puts = {}  # value -> the put that wrote it
        self.writes_by_key = defaultdict(list)  # key -> puts and deletes, any outcome
        for op in history:
            if op.op == "get":
                continue
            self.writes_by_key[op.key].append(op)
            if op.op == "put":
                if op.value in self.puts:
                    self.problems.append("%s: value %s was already written by %s; values must be unique"
                                         % (op.where, json.dumps(op.value), self.puts[op.value].where))
                else:
                    self.puts[op.value] = op
        # The final read of each key: the last answered record, else the last record.
        self.final_by_key = {}
        for op in final:
            if op.op != "get":
                self.problems.append("%s: the final file holds a %s" % (op.where, op.op))
                continue
            prev = self.final_by_key.get(op.key)
            if prev is None or op.outcome == "ok" or prev.outcome != "ok":
                self.final_by_key[op.key] = op

    # ---- 4. phantoms (first: the other checks skip values nobody wrote) ----

    def check_value_read(self, op, what):
        """A value returned by a read: written by a put of this key that began before the
        read ended. Returns the put, or None when the value is a phantom."""
        w = self.puts.get(op.value)
        why = None
        if w is None:
            why = "no put wrote this value"
        elif w.key != op.key:
            why = "written to %s, not %s, by %s" % (w.key, op.key, w.where)
        elif w.invoke > op.complete:
            why = "its put began %d us after the read ended (%s)" % (w.invoke - op.complete, w.where)
        if why is not None:
            self.phantoms.append(op)
            print("PHANTOM %s read %s: %s" % (what, op.describe(), why))
            return None
        if w.outcome == "fail":
            self.failed_visible.append(op)
            print("FAILED-VISIBLE %s read %s: returned the value of a put that failed (%s)"
                  % (what, op.describe(), w.describe()))
        return w

    def check_phantoms(self):
        for op in self.history:
            if op.op == "get" and op.outcome == "ok" and op.value is not None:
                self.check_value_read(op, "history")
        for op in self.final:
            if op.op == "get" and op.outcome == "ok" and op.value is not None:
                self.check_value_read(op, "final")

    # ---- 1. lost acknowledged writes ----

    def check_lost(self):
        keys = set(self.writes_by_key) | set(self.final_by_key)
        for key in sorted(keys):
            writes = self.writes_by_key.get(key, [])
            acked = [w for w in writes if w.outcome == "ok"]
            fin = self.final_by_key.get(key)
            if fin is None or fin.outcome != "ok":
                if fin is None:
                    why = "no final read of this key"
                else:
                    why = "the final read got no answer (%s)" % fin.describe()
                self.unjudged.append(key)
                print("UNJUDGED %s: %s; %d acknowledged writes cannot be checked" % (key, why, len(acked)))
                continue
            if fin.value is None:
                # Empty at the end: each acknowledged put needs a delete that may have come
                # after it. A delete that failed was never applied and explains nothing.
                last_delete_end = -math.inf
                unknown_delete = None
                for d in writes:
                    if d.op != "delete" or d.outcome == "fail":
                        continue
                    last_delete_end = max(last_delete_end, d.complete)
                    if d.outcome == "unknown" and unknown_delete is None:
                        unknown_delete = d
                for w in acked:
                    if w.op != "put" or unknown_delete is not None or last_delete_end >= w.invoke:
                        continue
                    self.lost.append((w.level, w))
                    print("LOST %s %s: the key ends empty (%s) and no delete could have come after it"
                          % (w.level, w.describe(), fin.where))
                continue
            src = self.puts.get(fin.value)
            if src is None or src.key != key:
                continue  # a phantom, reported by check_phantoms
            if src.outcome != "ok":
                continue  # a write never acknowledged precedes nothing for certain
            for w in acked:
                if w is src or not src.complete < w.invoke:
                    continue
                # The loss counts at the weaker of the two levels: a quorum write may rightly
                # lose to an older write made at one (on a replica it never reached).
                level = min(w.level, src.level, key=LEVEL_RANK.get)
                self.lost.append((level, w))
                print("LOST %s %s: the key ends with %s, written by %s, acknowledged %d us before this "
                      "write began" % (level, w.describe(), json.dumps(fin.value), src.describe(),
                                       w.invoke - src.complete))

    # ---- 2. read-your-writes at quorum and all ----

    def check_ryw(self):
        strong = ("quorum", "all")
        gets_by_key = defaultdict(list)
        for op in self.history:
            if op.op == "get" and op.outcome == "ok" and op.level in strong:
                gets_by_key[op.key].append(op)
        for key, gets in sorted(gets_by_key.items()):
            writes = self.writes_by_key.get(key, [])
            # Acknowledged strong writes by completion, with the latest invocation among
            # those completed so far (and which write that was).
            acked = sorted((w for w in writes if w.outcome == "ok" and w.level in strong),
                           key=lambda w: w.complete)
            ends = [w.complete for w in acked]
            latest = []
            best = None
            for w in acked:
                if best is None or w.invoke > best.invoke:
                    best = w
                latest.append(best)
            # Deletes that were perhaps applied, by invocation, with the latest completion
            # of an acknowledged one so far and whether an unknown one was seen.
            deletes = sorted((d for d in writes if d.op == "delete" and d.outcome != "fail"),
                             key=lambda d: d.invoke)
            d_starts = [d.invoke for d in deletes]
            d_ok_end = []
            d_unknown = []
            ok_end, unknown = -math.inf, False
            for d in deletes:
                if d.outcome == "ok":
                    ok_end = max(ok_end, d.complete)
                else:
                    unknown = True
                d_ok_end.append(ok_end)
                d_unknown.append(unknown)
            for g in gets:
                n = bisect.bisect_left(ends, g.invoke)  # writes acknowledged before g began
                if n == 0:
                    continue
                p = latest[n - 1]
                if g.value is not None:
                    x = self.puts.get(g.value)
                    if x is None or x.key != key:
                        continue  # a phantom, reported elsewhere
                    if x.outcome == "ok" and x.complete < p.invoke:
                        self.ryw.append(g)
                        print("STALE-READ %s: returned %s, acknowledged %d us before %s began, and "
                              "that write was acknowledged before this read began"
                              % (g.describe(), x.describe(), p.invoke - x.complete, p.describe()))
                    continue
                m = bisect.bisect_left(d_starts, g.complete)  # deletes begun before g ended
                if m > 0 and (d_unknown[m - 1] or d_ok_end[m - 1] >= p.invoke):
                    continue
                self.ryw.append(g)
                print("STALE-READ %s: not found, but %s was acknowledged before this read began and "
                      "no delete that began before the read ended could have come after it"
                      % (g.describe(), p.describe()))

    # ---- 3. convergence ----

    @staticmethod
    def replica_value(r):
        v = r.get("value")
        if v is None:
            return None
        try:
            return base64.b64decode(v, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            return ("undecodable", v)

    def diverge(self, key, why):
        self.diverged.append(key)
        print("DIVERGED %s: %s" % (key, why))

    def check_convergence(self, docs):
        seen = set()
        for where, doc in docs:
            if not isinstance(doc, dict) or not isinstance(doc.get("key"), str):
                self.diverge("?", "%s: not a /debug/key answer: %s" % (where, json.dumps(doc)[:200]))
                continue
            key = doc["key"]
            if key in seen:
                print("NOTE %s: a second answer for %s, checked too" % (where, key))
            seen.add(key)
            replicas = doc.get("replicas")
            if not isinstance(replicas, list) or not replicas:
                self.diverge(key, "%s: no replicas listed: %s" % (where, json.dumps(doc)[:200]))
                continue
            hints = doc.get("hints")
            if isinstance(hints, list):
                self.hints_left += len(hints)
            sigs = []
            bad = False
            for r in replicas:
                if not isinstance(r, dict):
                    bad = True
                    break
                sigs.append((r.get("node"), r.get("status"), r.get("hlc"), r.get("version"),
                             self.replica_value(r)))
            if bad:
                self.diverge(key, "%s: a replica entry is not an object" % where)
                continue
            down = [s[0] for s in sigs if s[1] == "unreachable"]
            if down:
                self.diverge(key, "%s: replicas unreachable: %s" % (where, ",".join(map(str, down))))
                continue
            if len({s[1:] for s in sigs}) > 1:
                self.diverge(key, "%s: replicas differ: %s" % (where, "; ".join(
                    "%s %s hlc=%s version=%s value=%s" % (n, st, h, ver, json.dumps(val))
                    for n, st, h, ver, val in sigs)))
                continue
            status, value = sigs[0][1], sigs[0][4]
            if status == "present" and value is not None and not isinstance(value, tuple):
                w = self.puts.get(value)
                if w is None or w.key != key:
                    self.phantoms.append(key)
                    print("PHANTOM replica %s: every replica holds %s, which no put of this key wrote"
                          % (key, json.dumps(value)))
            fin = self.final_by_key.get(key)
            if fin is not None and fin.outcome == "ok":
                held = value if status == "present" else None
                if held != fin.value:
                    self.diverge(key, "%s: the replicas hold %s %s but the final read returned %s (%s)"
                                 % (where, status, json.dumps(held), json.dumps(fin.value), fin.where))
        for key in sorted(self.final_by_key):
            if key not in seen:
                self.diverge(key, "no /debug/key answer for a key of the final read")

    # ---- 5. availability ----

    @staticmethod
    def tally(ops):
        """{(op, level): [ok, total]} and {level: [ok, total]}."""
        by_op, by_level = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
        for op in ops:
            ok = op.outcome == "ok"
            for t in (by_op[(op.op, op.level)], by_level[op.level]):
                t[0] += ok
                t[1] += 1
        return by_op, by_level

    def availability(self, windows):
        by_op, by_level = self.tally(self.history)
        line = " ".join("%s/%s=%d/%d=%s" % (o, lv, *by_op[(o, lv)], ratio(*by_op[(o, lv)]))
                        for lv in LEVELS for o in OPS if (o, lv) in by_op)
        print("AVAIL overall: %s" % (line or "no operations"))
        in_faults = []
        end_of_history = max((op.complete for op in self.history), default=0)
        for name, start, end in windows:
            stop = end if end is not None else end_of_history
            inside = [op for op in self.history if start <= op.invoke < stop]
            in_faults.extend(inside)
            w_op, _ = self.tally(inside)
            line = " ".join("%s/%s=%d/%d=%s" % (o, lv, *w_op[(o, lv)], ratio(*w_op[(o, lv)]))
                            for lv in LEVELS for o in OPS if (o, lv) in w_op)
            print("AVAIL window %s %.1fs: %s" % (name, (stop - start) / 1e6, line or "no operations"))
        overall = "avail{%s}" % ",".join("%s=%s" % (lv, ratio(*by_level[lv])) for lv in LEVELS)
        if not windows:
            return overall
        _, f_level = self.tally(in_faults)
        return overall + " avail_in_faults{%s}" % ",".join(
            "%s=%s" % (lv, ratio(*f_level[lv])) for lv in LEVELS)


def parse_levels(text):
    levels = [s.strip() for s in text.split(",") if s.strip()]
    for lv in levels:
        if lv not in LEVELS:
            raise argparse.ArgumentTypeError("not a level: %r (one, quorum, all)" % lv)
    return levels


def main(argv=None):
    ap = argparse.ArgumentParser(description="Judges a fault-suite history (tests/faults/README.md).")
    ap.add_argument("--history", required=True, help="faultload's history (JSON lines)")
    ap.add_argument("--final", required=True, help="faultload --final's reads (JSON lines)")
    ap.add_argument("--debug", help="GET /debug/key answers: a file or a directory of files")
    ap.add_argument("--faults", help='fault windows: [{"name","start_us","end_us"},...]')
    ap.add_argument("--strict-levels", type=parse_levels, default=["quorum", "all"],
                    help="levels at which any lost write fails the run (default quorum,all)")
    ap.add_argument("--check-ryw", action="store_true", help="check read-your-writes (runs without faults)")
    ap.add_argument("--name", required=True, help="the scenario's name, for the verdict line")
    args = ap.parse_args(argv)

    problems = []
    history = load_ops(args.history, problems)
    final = load_ops(args.final, problems)
    docs = load_debug(args.debug, problems) if args.debug else None
    windows = load_faults(args.faults, problems) if args.faults else []

    c = Checker(history, final, args.strict_levels)
    c.problems[:0] = problems
    for p in c.problems:
        print("INPUT %s" % p)
    c.check_phantoms()
    c.check_lost()
    if args.check_ryw:
        c.check_ryw()
    if docs is not None:
        c.check_convergence(docs)
    avail = c.availability(windows)

    lost_by = {lv: sum(1 for level, _ in c.lost if level == lv) for lv in LEVELS}
    lost_strict = sum(lost_by[lv] for lv in c.strict)
    failed = (lost_strict or c.ryw or c.diverged or c.phantoms or c.failed_visible or c.unjudged
              or c.problems)
    print("VERDICT %s: %s lost=%d ryw_violations=%d diverged=%d phantoms=%d %s "
          "lost_by_level{one=%d,quorum=%d,all=%d} strict=%s failed_visible=%d unjudged=%d "
          "input_errors=%d ops=%d final_keys=%d ryw=%s convergence=%s hints_left=%d"
          % (args.name, "FAIL" if failed else "PASS", len(c.lost), len(c.ryw), len(c.diverged),
             len(c.phantoms), avail, lost_by["one"], lost_by["quorum"], lost_by["all"],
             ",".join(lv for lv in LEVELS if lv in c.strict) or "none", len(c.failed_visible),
             len(c.unjudged), len(c.problems), len(history), len(c.final_by_key),
             "checked" if args.check_ryw else "skipped",
             "checked" if docs is not None else "skipped", c.hints_left))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
