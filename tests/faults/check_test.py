#!/usr/bin/env python3
"""Self-test of tests/faults/check.py: synthetic histories on which each check passes, and
crafted bad ones it must fail (a lost write, a stale read, a diverged replica, a phantom, ...).
Each case runs check.py as the harness does, as a process, and reads its exit code and its
VERDICT line. With --faultload PATH it also drives the faultload binary against a port where
nothing listens (usage errors, records of failed connects, --final's exit code).

Usage: check_test.py [--faultload PATH] [unittest options]
"""

import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check.py")
# --faultload PATH is taken out of argv before unittest sees it (the skip below needs it).
if "--faultload" in sys.argv:
    _i = sys.argv.index("--faultload")
    os.environ["FAULTLOAD_BIN"] = sys.argv[_i + 1]
    del sys.argv[_i:_i + 2]

T0 = 1_700_000_000_000_000  # a realistic CLOCK_REALTIME in microseconds


def op(op, key, value, t_invoke, t_complete, outcome="ok", level="quorum", client=0, error=None):
    """One record as faultload writes it; times are microseconds after T0."""
    return {"client": client, "op": op, "key": key, "value": value, "consistency": level,
            "invoke_us": T0 + t_invoke, "complete_us": T0 + t_complete, "outcome": outcome,
            "error": error, "version": None, "acked": 0, "needed": 0}


def put(key, value, a, b, **kw):
    return op("put", key, value, a, b, **kw)


def get(key, value, a, b, **kw):
    return op("get", key, value, a, b, **kw)


def delete(key, a, b, **kw):
    return op("delete", key, None, a, b, **kw)


def final(key, value, outcome="ok"):
    return op("get", key, value, 10_000_000, 10_000_100, outcome=outcome, level="all")


def replica(node, value, hlc=1000, version=1, status="present"):
    r = {"node": node, "status": status, "version": version, "timestamp": hlc >> 16, "hlc": hlc,
         "expires_at": None}
    r["value"] = base64.b64encode(value.encode("latin-1")).decode() if value is not None else None
    return r


def debug_doc(key, value, hlc=1000, version=1, status="present", nodes=("n1", "n2", "n3")):
    return {"key": key, "token": "00", "replicas": [replica(n, value, hlc, version, status) for n in nodes],
            "hints": []}


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        lines = [l for l in proc.stdout.splitlines() if l.startswith("VERDICT ")]
        self.verdict = lines[-1] if lines else ""
        self.fields = dict(re.findall(r" ([a-z_]+)=([^ {]+)", self.verdict))

    def n(self, name):
        return int(self.fields[name])


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, records, raw=None):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            if raw is not None:
                f.write(raw)
            else:
                for r in records:
                    f.write(json.dumps(r) + "\n")
        return path

    def check(self, history, finals, extra=(), debug=None, faults=None, name="t"):
        args = [sys.executable, CHECK, "--history", self.write("h.jsonl", history),
                "--final", self.write("f.jsonl", finals), "--name", name]
        if debug is not None:
            args += ["--debug", self.write("debug.json", debug)]
        if faults is not None:
            args += ["--faults", self.write("faults.json", None, raw=json.dumps(faults))]
        proc = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=60)
        run = Run(proc)
        self.assertIn(run.rc, (0, 1), proc.stdout + proc.stderr)
        self.assertTrue(run.verdict.startswith("VERDICT %s: " % name), proc.stdout)
        self.assertEqual(run.rc == 0, " PASS " in run.verdict, run.verdict)
        return run

    def assertPass(self, run):
        self.assertEqual(run.rc, 0, run.out)

    def assertFail(self, run):
        self.assertEqual(run.rc, 1, run.out)

    # ---- a good history passes every check ----

    def good(self):
        h = [
            put("key:0", "a", 0, 100, client=0),
            get("key:0", "a", 200, 300, client=1),
            put("key:0", "b", 400, 500, client=0),
            put("key:0", "c", 450, 700, client=2),  # concurrent with b; either may win
            get("key:0", "c", 800, 900, client=1),
            put("key:1", "d", 0, 100),
            delete("key:1", 200, 300),
            get("key:1", None, 400, 500, client=1),
            put("key:2", "e", 0, 100),
            put("key:2", "f", 200, 2_000_000, outcome="unknown", error="unavailable"),
            get("key:2", "e", 300, 400, client=1),  # f still in flight: e is fine
            put("key:3", "g", 0, 100, outcome="fail", error="connect"),
            get("key:3", None, 200, 300, client=1),
        ]
        f = [final("key:0", "c"), final("key:1", None), final("key:2", "f"), final("key:3", None)]
        d = [debug_doc("key:0", "c", hlc=5000, version=3), debug_doc("key:1", None, hlc=300, version=2,
                                                                      status="tombstone"),
             debug_doc("key:2", "f", hlc=700, version=2), debug_doc("key:3", None, status="absent")]
        return h, f, d

    def test_good_history_passes_every_check(self):
        h, f, d = self.good()
        run = self.check(h, f, extra=["--check-ryw"], debug=d)
        self.assertPass(run)
        for field in ("lost", "ryw_violations", "diverged", "phantoms", "failed_visible", "unjudged",
                      "input_errors", "hints_left"):
            self.assertEqual(run.n(field), 0, field)
        self.assertEqual(run.n("ops"), len(h))
        self.assertEqual(run.n("final_keys"), 4)
        self.assertIn("ryw=checked", run.verdict)
        self.assertIn("convergence=checked", run.verdict)

    def test_debug_answers_may_be_a_directory_of_files(self):
        h, f, d = self.good()
        ddir = os.path.join(self.dir, "debug")
        os.mkdir(ddir)
        for i, doc in enumerate(d):
            with open(os.path.join(ddir, "k%d.json" % i), "w") as fp:
                json.dump(doc, fp)
        proc = subprocess.run([sys.executable, CHECK, "--history", self.write("h.jsonl", h), "--final",
                               self.write("f.jsonl", f), "--debug", ddir, "--name", "dir"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout)

    # ---- 1. lost acknowledged writes ----

    def test_write_overwritten_by_an_older_acknowledged_write_is_lost(self):
        h = [put("key:0", "a", 0, 100), put("key:0", "b", 200, 300)]
        run = self.check(h, [final("key:0", "a")])
        self.assertFail(run)
        self.assertEqual(run.n("lost"), 1)
        self.assertIn("lost_by_level{one=0,quorum=1,all=0}", run.verdict)
        self.assertIn('LOST quorum put quorum key:0 value="b"', run.out)

    def test_overlapping_writes_may_end_either_way(self):
        h = [put("key:0", "a", 0, 300), put("key:0", "b", 100, 200)]
        self.assertPass(self.check(h, [final("key:0", "a")]))
        self.assertPass(self.check(h, [final("key:0", "b")]))

    def test_an_unknown_write_may_be_the_final_value(self):
        h = [put("key:0", "a", 0, 100), put("key:0", "b", 200, 300),
             put("key:0", "c", 50, 60, outcome="unknown", error="net_timeout")]
        self.assertPass(self.check(h, [final("key:0", "c")]))

    def test_a_lost_write_at_one_is_counted_but_not_judged(self):
        h = [put("key:0", "a", 0, 100, level="one"), put("key:0", "b", 200, 300, level="one")]
        run = self.check(h, [final("key:0", "a")])
        self.assertPass(run)
        self.assertIn("lost_by_level{one=1,quorum=0,all=0}", run.verdict)
        self.assertFail(self.check(h, [final("key:0", "a")], extra=["--strict-levels", "one,quorum,all"]))

    def test_a_quorum_write_lost_to_an_older_write_at_one_counts_at_one(self):
        h = [put("key:0", "a", 0, 100, level="one"), put("key:0", "b", 200, 300, level="quorum")]
        run = self.check(h, [final("key:0", "a")])
        self.assertPass(run)
        self.assertIn("lost_by_level{one=1,quorum=0,all=0}", run.verdict)

    def test_a_write_at_all_is_judged(self):
        h = [put("key:0", "a", 0, 100, level="all"), put("key:0", "b", 200, 300, level="all")]
        run = self.check(h, [final("key:0", "a")])
        self.assertFail(run)
        self.assertIn("lost_by_level{one=0,quorum=0,all=1}", run.verdict)

    def test_a_key_that_ends_empty_without_a_later_delete_lost_its_write(self):
        h = [put("key:0", "a", 0, 100)]
        run = self.check(h, [final("key:0", None)])
        self.assertFail(run)
        self.assertEqual(run.n("lost"), 1)

    def test_a_delete_after_the_write_explains_an_empty_key(self):
        h = [put("key:0", "a", 0, 100), delete("key:0", 200, 300)]
        self.assertPass(self.check(h, [final("key:0", None)]))
        # Overlapping the write counts too (complete after the write began).
        h = [put("key:0", "a", 100, 300), delete("key:0", 0, 200, outcome="unknown")]
        self.assertPass(self.check(h, [final("key:0", None)]))

    def test_an_unknown_delete_explains_an_empty_key_whenever_it_ran(self):
        h = [delete("key:0", 0, 50, outcome="unknown", error="unavailable"), put("key:0", "a", 100, 200)]
        self.assertPass(self.check(h, [final("key:0", None)]))

    def test_a_failed_delete_explains_nothing(self):
        h = [put("key:0", "a", 0, 100), delete("key:0", 200, 300, outcome="fail", error="connect")]
        self.assertFail(self.check(h, [final("key:0", None)]))

    def test_an_older_delete_does_not_explain_an_empty_key(self):
        h = [delete("key:0", 0, 50), put("key:0", "a", 100, 200)]
        run = self.check(h, [final("key:0", None)])
        self.assertFail(run)
        self.assertEqual(run.n("lost"), 1)

    def test_an_acknowledged_delete_undone_by_an_older_write_is_lost(self):
        h = [put("key:0", "a", 0, 100), delete("key:0", 200, 300)]
        run = self.check(h, [final("key:0", "a")])
        self.assertFail(run)
        self.assertIn("LOST quorum delete", run.out)

    def test_a_key_whose_final_read_failed_cannot_be_judged(self):
        h = [put("key:0", "a", 0, 100)]
        run = self.check(h, [final("key:0", None, outcome="unknown")])
        self.assertFail(run)
        self.assertEqual(run.n("unjudged"), 1)
        run = self.check(h, [final("key:1", None)])  # no final read of key:0 at all
        self.assertFail(run)
        self.assertEqual(run.n("unjudged"), 1)

    def test_a_later_answered_final_read_replaces_a_failed_one(self):
        h = [put("key:0", "a", 0, 100)]
        self.assertPass(self.check(h, [final("key:0", None, outcome="unknown"), final("key:0", "a")]))

    # ---- 2. read-your-writes ----

    def test_a_read_older_than_an_acknowledged_write_is_stale(self):
        h = [put("key:0", "a", 0, 100), put("key:0", "b", 200, 300), get("key:0", "a", 400, 500, client=1)]
        f = [final("key:0", "b")]
        run = self.check(h, f, extra=["--check-ryw"])
        self.assertFail(run)
        self.assertEqual(run.n("ryw_violations"), 1)
        self.assertIn("STALE-READ", run.out)
        run = self.check(h, f)  # not checked without --check-ryw
        self.assertPass(run)
        self.assertIn("ryw=skipped", run.verdict)

    def test_a_read_may_return_a_write_concurrent_with_the_latest_acknowledged(self):
        h = [put("key:0", "a", 0, 100), put("key:0", "b", 200, 300), put("key:0", "c", 150, 350),
             get("key:0", "c", 400, 500), get("key:0", "b", 400, 500)]
        self.assertPass(self.check(h, [final("key:0", "c")], extra=["--check-ryw"]))

    def test_a_read_during_the_write_may_return_the_old_value(self):
        h = [put("key:0", "a", 0, 100), put("key:0", "b", 200, 300), get("key:0", "a", 250, 400)]
        self.assertPass(self.check(h, [final("key:0", "b")], extra=["--check-ryw"]))

    def test_not_found_after_an_acknowledged_write_is_stale(self):
        h = [put("key:0", "a", 0, 100), get("key:0", None, 200, 300)]
        run = self.check(h, [final("key:0", "a")], extra=["--check-ryw"])
        self.assertFail(run)
        self.assertEqual(run.n("ryw_violations"), 1)

    def test_not_found_after_a_delete_is_fine_but_not_after_a_newer_put(self):
        h = [put("key:0", "a", 0, 100), delete("key:0", 200, 300), get("key:0", None, 400, 500)]
        self.assertPass(self.check(h, [final("key:0", None)], extra=["--check-ryw"]))
        h = [delete("key:0", 0, 100), put("key:0", "a", 200, 300), get("key:0", None, 400, 500)]
        self.assertFail(self.check(h, [final("key:0", "a")], extra=["--check-ryw"]))

    def test_reads_and_writes_at_one_are_not_held_to_read_your_writes(self):
        h = [put("key:0", "a", 0, 100, level="one"), put("key:0", "b", 200, 300, level="one"),
             get("key:0", "a", 400, 500, level="one")]
        self.assertPass(self.check(h, [final("key:0", "b")], extra=["--check-ryw"]))

    # ---- 3. convergence ----

    def test_replicas_with_different_records_diverge(self):
        h = [put("key:0", "a", 0, 100)]
        d = [debug_doc("key:0", "a")]
        d[0]["replicas"][2]["hlc"] = 999
        run = self.check(h, [final("key:0", "a")], debug=d)
        self.assertFail(run)
        self.assertEqual(run.n("diverged"), 1)
        self.assertIn("replicas differ", run.out)

    def test_a_replica_missing_the_write_diverges(self):
        h = [put("key:0", "a", 0, 100)]
        d = [debug_doc("key:0", "a")]
        d[0]["replicas"][1] = replica("n2", None, status="absent")
        self.assertFail(self.check(h, [final("key:0", "a")], debug=d))

    def test_an_unreachable_replica_is_a_failure(self):
        h = [put("key:0", "a", 0, 100)]
        d = [debug_doc("key:0", "a")]
        d[0]["replicas"][2] = {"node": "n3", "status": "unreachable"}
        run = self.check(h, [final("key:0", "a")], debug=d)
        self.assertFail(run)
        self.assertIn("unreachable", run.out)

    def test_replicas_that_agree_with_each_other_but_not_the_final_read_diverge(self):
        h = [put("key:0", "a", 0, 100), put("key:0", "b", 0, 100)]
        run = self.check(h, [final("key:0", "b")], debug=[debug_doc("key:0", "a")])
        self.assertFail(run)
        self.assertIn("the final read returned", run.out)

    def test_a_key_without_a_debug_answer_or_an_error_answer_fails(self):
        h = [put("key:0", "a", 0, 100), put("key:1", "b", 0, 100)]
        f = [final("key:0", "a"), final("key:1", "b")]
        run = self.check(h, f, debug=[debug_doc("key:0", "a")])
        self.assertFail(run)
        self.assertEqual(run.n("diverged"), 1)
        run = self.check(h, f, debug=[debug_doc("key:0", "a"), debug_doc("key:1", "b"),
                                      {"error": "unavailable", "message": "too few replicas answered in time"}])
        self.assertFail(run)

    def test_leftover_hints_are_reported_not_judged(self):
        h = [put("key:0", "a", 0, 100)]
        d = [debug_doc("key:0", "a")]
        d[0]["hints"] = [{"holder": "n1", "target": "n2", "version": 1, "timestamp": 1}]
        run = self.check(h, [final("key:0", "a")], debug=d)
        self.assertPass(run)
        self.assertEqual(run.n("hints_left"), 1)

    # ---- 4. phantoms ----

    def test_a_value_nobody_wrote_is_a_phantom(self):
        h = [put("key:0", "a", 0, 100), get("key:0", "zz", 200, 300)]
        run = self.check(h, [final("key:0", "a")])
        self.assertFail(run)
        self.assertEqual(run.n("phantoms"), 1)
        self.assertIn("no put wrote this value", run.out)

    def test_a_phantom_in_the_final_read_fails(self):
        h = [put("key:0", "a", 0, 100)]
        run = self.check(h, [final("key:0", "\u00ff\u0000junk")])
        self.assertFail(run)
        self.assertEqual(run.n("phantoms"), 1)

    def test_a_value_of_another_key_is_a_phantom(self):
        h = [put("key:0", "a", 0, 100), put("key:1", "b", 0, 100), get("key:0", "b", 200, 300)]
        self.assertFail(self.check(h, [final("key:0", "a"), final("key:1", "b")]))

    def test_a_value_read_before_its_write_began_is_a_phantom(self):
        h = [get("key:0", "a", 0, 100), put("key:0", "a", 200, 300)]
        run = self.check(h, [final("key:0", "a")])
        self.assertFail(run)
        self.assertIn("after the read ended", run.out)

    def test_a_replica_holding_an_unwritten_value_is_a_phantom(self):
        h = [put("key:0", "a", 0, 100)]
        run = self.check(h, [final("key:0", "a")], debug=[debug_doc("key:0", "x")])
        self.assertFail(run)
        self.assertGreaterEqual(run.n("phantoms"), 1)

    def test_reading_a_write_that_failed_is_a_failure(self):
        h = [put("key:0", "a", 0, 100, outcome="fail", error="invalid_arg"), get("key:0", "a", 200, 300)]
        run = self.check(h, [final("key:0", None)])
        self.assertFail(run)
        self.assertEqual(run.n("failed_visible"), 1)

    # ---- 5. availability ----

    def test_availability_is_reported_per_level_and_per_fault_window(self):
        h = [put("key:0", "a", 0, 100), put("key:0", "b", 1000, 1100, outcome="unknown"),
             get("key:0", "a", 1200, 1300), get("key:0", None, 1400, 1500, outcome="unknown"),
             get("key:0", "a", 3000, 3100, level="one")]
        faults = [{"name": "cut", "start_us": T0 + 900, "end_us": T0 + 2000}]
        run = self.check(h, [final("key:0", "a")], faults=faults)
        self.assertPass(run)  # reported, never judged
        self.assertIn("avail{one=1.0000,quorum=0.5000,all=-}", run.verdict)
        self.assertIn("avail_in_faults{one=-,quorum=0.3333,all=-}", run.verdict)
        self.assertIn("AVAIL window cut 0.0s: put/quorum=0/1=0.0000 get/quorum=1/2=0.5000", run.out)

    # ---- inputs ----

    def test_a_bad_line_fails_but_a_cut_last_line_is_skipped(self):
        h = [put("key:0", "a", 0, 100)]
        good = json.dumps(h[0]) + "\n"
        path = self.write("h.jsonl", None, raw=good + '{"client":0,"op":"get"')
        proc = subprocess.run([sys.executable, CHECK, "--history", path, "--final",
                               self.write("f.jsonl", [final("key:0", "a")]), "--name", "cut"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        self.assertIn("last line cut short", proc.stdout)
        path = self.write("h.jsonl", None, raw='not json\n' + good)
        proc = subprocess.run([sys.executable, CHECK, "--history", path, "--final",
                               self.write("f.jsonl", [final("key:0", "a")]), "--name", "bad"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("input_errors=1", proc.stdout)

    def test_a_value_written_twice_is_an_input_error(self):
        h = [put("key:0", "a", 0, 100), put("key:0", "a", 200, 300)]
        run = self.check(h, [final("key:0", "a")])
        self.assertFail(run)
        self.assertEqual(run.n("input_errors"), 1)

    def test_usage_errors_exit_2(self):
        proc = subprocess.run([sys.executable, CHECK, "--history", "x"], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        proc = subprocess.run([sys.executable, CHECK, "--history", "x", "--final", "y", "--name", "n",
                               "--strict-levels", "most"], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)


def closed_port():
    """A loopback port where nothing listens (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@unittest.skipUnless(os.environ.get("FAULTLOAD_BIN"), "no faultload binary given (--faultload)")
class FaultloadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "out.jsonl")
        self.target = "127.0.0.1:%d" % closed_port()

    def tearDown(self):
        self.tmp.cleanup()

    def run_fl(self, *args):
        return subprocess.run([os.environ["FAULTLOAD_BIN"]] + list(args), capture_output=True, text=True,
                              timeout=60)

    def records(self):
        with open(self.out) as f:
            return [json.loads(l) for l in f]

    def test_usage_errors_exit_2(self):
        self.assertEqual(self.run_fl("--bogus").returncode, 2)
        base = ["--targets", self.target, "--keys", "4", "--writers", "1", "--readers", "1", "--duration", "1",
                "--consistency", "quorum", "--seed", "1", "--out", self.out]
        self.assertEqual(self.run_fl(*base[:-2]).returncode, 2)  # no --out
        for bad in (["--consistency", "most"], ["--keys", "0"], ["--delete-ratio", "1.5"],
                    ["--targets", "nocolon"], ["--writers", "0", "--readers", "0"], ["--duration", "0"]):
            args = list(base)
            for i in range(0, len(bad), 2):
                if bad[i] in args:
                    args[args.index(bad[i]) + 1] = bad[i + 1]
                else:
                    args += bad[i:i + 2]
            self.assertEqual(self.run_fl(*args).returncode, 2, bad)

    def test_a_run_against_no_server_records_failed_connects_and_exits_0(self):
        proc = self.run_fl("--targets", self.target, "--keys", "4", "--writers", "2", "--readers", "1",
                           "--duration", "1", "--consistency", "all", "--seed", "7", "--out", self.out,
                           "--delete-ratio", "0.5", "--rate", "20")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        recs = self.records()
        self.assertGreater(len(recs), 3)
        self.assertTrue(all(r["outcome"] == "fail" and r["error"] == "connect" for r in recs))
        self.assertTrue(all(r["consistency"] == "all" for r in recs))
        self.assertEqual({r["client"] for r in recs}, {0, 1, 2})
        self.assertEqual({r["op"] for r in recs if r["client"] == 2}, {"get"})
        self.assertTrue({r["op"] for r in recs if r["client"] < 2} <= {"put", "delete"})
        self.assertTrue(all(r["key"] in ("key:0", "key:1", "key:2", "key:3") for r in recs))
        puts = [r["value"] for r in recs if r["op"] == "put"]
        self.assertEqual(len(puts), len(set(puts)), "put values are unique")
        self.assertTrue(all(r["invoke_us"] <= r["complete_us"] for r in recs))
        self.assertRegex(proc.stderr, r"faultload: \d+ ops in")

    def test_final_reads_every_key_once_and_exits_1_when_unanswered(self):
        proc = self.run_fl("--final", "--targets", self.target + "," + self.target, "--keys", "3",
                           "--consistency", "all", "--out", self.out, "--duration", "5")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        recs = self.records()
        self.assertEqual([r["key"] for r in recs], ["key:0", "key:1", "key:2"])
        self.assertTrue(all(r["op"] == "get" and r["outcome"] == "fail" for r in recs))


if __name__ == "__main__":
    unittest.main()
