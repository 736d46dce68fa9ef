# shellcheck shell=bash
# tests/faults/lib.sh: the fault primitives, sourced by run.sh inside a scenario's sandbox
# after harness.sh (whose topology, node and logging helpers they use). Nodes are named by
# their number I (node nI at 10.77.0.I).
#
#   part A B            cut the link between A and B, both ways
#   oneway A B          drop packets from A to B only (TCP then fails both ways: no acks)
#   partition "A.." "B.."   cut every link between the two groups, in one nft transaction
#   isolate A           cut A from every node and from the hub (clients and probes)
#   isolate_peers A     cut A from every node; clients still reach it
#   loss A B PCT        drop PCT % of the packets between A and B, each way
#   heal                remove every network fault at once
#   kill9 I.. / restart I..  SIGKILL nodes (together) / start them again (same flags, data)
#   pause I / resume I      SIGSTOP / SIGCONT node I
#   diskfull I / diskfree I fill node I's tmpfs with a ballast file / remove it
#   ioerr I / iook I    node I's storage fails every write and log flush with EIO / works
#   skew I OFFSET       set node I's clock offset (libfaketime: +30s, -30s, +0)
#
# Network faults are stateless nft rules: in the bridge's forward hook for links between
# nodes (table bridge kvt, chain cut), and in the hub's own input and output hooks for links
# between the hub and a node (table inet kvt_hub); healing flushes both, which takes effect
# at once (ARP is never touched).
#
# Each primitive records its window: fault_begin at the start and fault_end at the matching
# end (heal ends every network fault; restart, resume, diskfree and skew I +0 end theirs).
# faults_render writes them to faults.json as [{"name","start_us","end_us"}] for the
# checker's availability figures; a window still open then ends at the render.
# shellcheck disable=SC2154 # scenario_seed is set by the scenario file

# ---- fault windows ----

# fault_begin KIND NAME: opens a window of KIND (net, or proc.I, disk.I, clock.I: at most
# one open window per node and kind; net may have many) named NAME.
fault_begin() {
    local kind=$1 name=$2 now
    now=$(h_now_us)
    mkdir -p "$FAULTS_OUT/faults.open"
    printf '%s\t%s\n' "$name" "$now" >"$FAULTS_OUT/faults.open/$kind.$now"
    h_log "fault: $name"
}

# fault_end KIND: closes every open window of KIND.
fault_end() {
    local kind=$1 f now name start
    now=$(h_now_us)
    for f in "$FAULTS_OUT/faults.open/$kind".*; do
        [[ -e $f ]] || continue
        IFS=$'\t' read -r name start <"$f"
        printf '%s\t%s\t%s\n' "$name" "$start" "$now" >>"$FAULTS_OUT/faults.tsv"
        rm -f "$f"
        h_log "fault over: $name ($(((now - start) / 1000)) ms)"
    done
}

faults_render() {
    local f name start now
    now=$(h_now_us)
    for f in "$FAULTS_OUT/faults.open"/*; do
        [[ -e $f ]] || continue
        IFS=$'\t' read -r name start <"$f"
        printf '%s\t%s\t%s\n' "$name" "$start" "$now" >>"$FAULTS_OUT/faults.tsv"
        rm -f "$f"
    done
    python3 - "$FAULTS_OUT/faults.tsv" "$FAULTS_OUT/faults.json" <<'EOF'
import json, os, sys
windows = []
if os.path.exists(sys.argv[1]):
    with open(sys.argv[1]) as f:
        for line in f:
            name, start, end = line.rstrip("\n").split("\t")
            windows.append({"name": name, "start_us": int(start), "end_us": int(end)})
windows.sort(key=lambda w: w["start_us"])
with open(sys.argv[2], "w") as f:
    json.dump(windows, f, indent=1)
    f.write("\n")
EOF
}

# ---- network ----

# The rules of one cut direction, as nft commands (for nft -f).
h_rule_drop() { printf 'add rule bridge kvt cut ip saddr %s ip daddr %s drop\n' "$(node_addr "$1")" "$(node_addr "$2")"; }

part() {
    { h_rule_drop "$1" "$2"; h_rule_drop "$2" "$1"; } | nft -f -
    fault_begin net "part n$1|n$2"
}

oneway() {
    h_rule_drop "$1" "$2" | nft -f -
    fault_begin net "oneway n$1->n$2"
}

# partition "1" "2 3": one transaction, so that no packet sees half a partition.
partition() {
    local a b rules=""
    for a in $1; do
        for b in $2; do
            rules+=$(h_rule_drop "$a" "$b")$'\n'$(h_rule_drop "$b" "$a")$'\n'
        done
    done
    nft -f - <<<"$rules"
    fault_begin net "partition n${1// /,n}|n${2// /,n}"
}

isolate_peers() {
    local a
    a=$(node_addr "$1")
    nft -f - <<EOF
add rule bridge kvt cut ip saddr $a drop
add rule bridge kvt cut ip daddr $a drop
EOF
    fault_begin net "isolate-peers n$1"
}

# The hub's traffic to a node leaves through br0's own stack, not the bridge's forward
# hook, so cutting the clients off takes rules in the hub's input and output hooks.
isolate() {
    local a
    a=$(node_addr "$1")
    nft -f - <<EOF
add rule bridge kvt cut ip saddr $a drop
add rule bridge kvt cut ip daddr $a drop
add rule inet kvt_hub hub_out ip daddr $a drop
add rule inet kvt_hub hub_in ip saddr $a drop
EOF
    fault_begin net "isolate n$1"
}

# loss A B PCT: nft's numgen stands in for netem, which this kernel lacks.
loss() {
    local a b
    a=$(node_addr "$1")
    b=$(node_addr "$2")
    nft -f - <<EOF
add rule bridge kvt cut ip saddr $a ip daddr $b numgen random mod 100 < $3 drop
add rule bridge kvt cut ip saddr $b ip daddr $a numgen random mod 100 < $3 drop
EOF
    fault_begin net "loss n$1<->n$2 $3%"
}

heal() {
    nft -f - <<'EOF'
flush chain bridge kvt cut
flush chain inet kvt_hub hub_out
flush chain inet kvt_hub hub_in
EOF
    fault_end net
}

# ---- processes ----

# kill9 I...: SIGKILL to every node given, in one kill(1) (so that several die together,
# as in a power cut), then reaps them all in one wait (nothing survives SIGKILL, and bash
# prints a "Killed" notice for a child that it reaps any other way).
kill9() {
    local i pids=()
    for i in "$@"; do
        pids+=("$(node_pid "$i")")
        node_set_state "$i" killed
    done
    kill -KILL "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    for i in "$@"; do fault_begin "proc.$i" "kill n$i"; done
}

# restart I...: starts the nodes again (all at once: a node that restarts forms only when
# every seed answers) and waits until each serves; each window ends then.
restart() {
    local i
    for i in "$@"; do node_start "$i"; done
    for i in "$@"; do
        node_wait_serving "$i" || h_problem "n$i did not come back after its restart"
        fault_end "proc.$i"
    done
}

pause() {
    kill -STOP "$(node_pid "$1")"
    node_set_state "$1" paused
    fault_begin "proc.$1" "pause n$1"
}

resume() {
    kill -CONT "$(node_pid "$1")"
    node_set_state "$1" running
    fault_end "proc.$1"
}

# ---- disk ----

# diskfull I: a ballast file takes every free block of node I's tmpfs (df's figure: tmpfs
# has no reserved blocks), so that the node's next allocation fails with ENOSPC.
diskfull() {
    local d=$FAULTS_OUT/d$1 avail
    avail=$(df -k --output=avail "$d" | tail -n 1 | tr -d ' ')
    fallocate -l "${avail}k" "$d/.ballast" || h_problem "fallocate of ${avail} KiB on n$1's disk failed"
    fault_begin "disk.$1" "diskfull n$1"
    h_log "n$1's disk: $(df -k --output=used,avail "$d" | tail -n 1 | awk '{print $1 " KiB used, " $2 " KiB free"}')"
}

diskfree() {
    rm -f "$FAULTS_OUT/d$1/.ballast"
    fault_end "disk.$1"
}

# bulk_fill I MIB: PUTs MIB values of 1,000,000 random bytes at `one` through node I's HTTP
# port, under keys fill:0.. (outside the workload's key:N), so that node I's storage has to
# find room for them (WiredTiger's preallocated log alone would take small writes for
# minutes). Stops at its deadline; logs how the node answered.
readonly H_BULK_DEADLINE_S=20
bulk_fill() {
    h_log "bulk fill through n$1: $(python3 - "$(node_http "$1")" "$2" "$H_BULK_DEADLINE_S" "$scenario_seed" <<'EOF'
import base64, http.client, json, random, sys, time
addr, count, deadline_s, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
host, port = addr.rsplit(":", 1)
rng = random.Random(seed)
deadline = time.monotonic() + deadline_s
answers = {}
sent = 0
for i in range(count):
    left = deadline - time.monotonic()
    if left <= 0:
        break
    body = json.dumps({"value": base64.b64encode(rng.randbytes(1000000)).decode()})
    try:
        c = http.client.HTTPConnection(host, int(port), timeout=min(left, 10.0))
        c.request("PUT", "/kv/fill:%d?consistency=one" % i, body=body)
        r = c.getresponse()
        doc = r.read()
        what = str(r.status)
        if r.status != 200:
            try:
                what += " " + json.loads(doc).get("error", "?")
            except ValueError:
                pass
        c.close()
    except Exception as e:
        what = type(e).__name__
    answers[what] = answers.get(what, 0) + 1
    sent += 1
print("%d of %d sent: %s" % (sent, count, ", ".join("%s x%d" % kv for kv in sorted(answers.items()))))
EOF
)"
    h_log "n$1's disk: $(df -k --output=used,avail "$FAULTS_OUT/d$1" | tail -n 1 | awk '{print $1 " KiB used, " $2 " KiB free"}')"
}

# ioerr I: the storage fault hook of test builds (storage/engine.h, RKV_FAULT_FILE) makes
# every data write, remove and log flush of node I fail with RKV_IO, as a failing device
# would (this kernel cannot fail a disk); reads go on. The node reads the file every 50 ms.
# iook I ends it.
ioerr() {
    echo io >"$FAULTS_OUT/iofault$1"
    fault_begin "io.$1" "eio n$1"
}

iook() {
    echo ok >"$FAULTS_OUT/iofault$1"
    fault_end "io.$1"
}

# expect_unwritable I SECONDS: waits until a write at `all` through node I fails, to prove
# that a fault meant to stop node I's storage has taken hold. One that never does means the
# fault was not injected at all (a build without the fault hook, say): a problem, since the
# scenario would otherwise pass without testing anything.
expect_unwritable() {
    if h_poll "$2" "n$1 refusing writes" h_not node_write_probe "$1"; then
        h_log "n$1 refuses writes at all, as it should"
    else
        h_problem "n$1 still took writes at all $2 s into its storage fault: the fault did not take hold (is the build configured with -DRKV_FAULT_HOOKS=ON, as tools/test.sh does?)"
    fi
}

h_not() { ! "$@"; }

# expect_availability OP LEVEL FROM_S TO_S MIN: after the workload, the share of OP (put,
# get, delete) at LEVEL invoked between FROM_S and TO_S seconds into the workload that was
# acknowledged must be at least MIN (0..1). For what a fault must not cost: the checker only
# reports availability, and a scenario states here what it expects of it.
readonly H_AVAIL_PY='
import json, sys
t0, op, level = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lo, hi, floor = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
ok = total = 0
for path in sys.argv[7:]:
    with open(path) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            t = (r["invoke_us"] - t0) / 1e6
            if r["op"] == op and r["consistency"] == level and lo <= t < hi:
                total += 1
                ok += r["outcome"] == "ok"
share = ok / total if total else 0.0
print("%s at %s from %gs to %gs: %d of %d acknowledged (%.3f; at least %g expected)"
      % (op, level, lo, hi, ok, total, share, floor))
sys.exit(0 if total and share >= floor else 1)
'
expect_availability() {
    local out
    if out=$(python3 -c "$H_AVAIL_PY" "$H_T0_US" "$@" "$FAULTS_OUT"/history-*.jsonl); then
        h_log "availability: $out"
    else
        h_problem "availability: $out"
    fi
}

# wait_writable I SECONDS: waits until a write at `all` coordinated by node I succeeds (key
# probe:nI, outside the workload's keys; every replica, node I's own storage included, must
# apply it), for a node that should recover from a fault by itself. A node that does not
# within SECONDS is a problem of the scenario.
node_write_probe() {
    curl -sS --max-time 3 -o /dev/null -w '%{http_code}' -X PUT \
        "http://$(node_http "$1")/kv/probe:n$1?consistency=all" -d '{"value":"cHJvYmU="}' | grep -qx 200
}
wait_writable() {
    local t
    t=$(h_now_us)
    if h_poll "$2" "n$1 writable" node_write_probe "$1"; then
        h_log "n$1 takes writes at all again ($((($(h_now_us) - t) / 1000)) ms)"
    else
        h_problem "n$1 took no write at all within $2 s of its fault's end (no recovery without a restart)"
    fi
}

# ---- clock ----

# skew I OFFSET: libfaketime reads node I's offset file on every clock read
# (FAKETIME_NO_CACHE), so the node's CLOCK_REALTIME jumps at once. Offsets are libfaketime's:
# +30s, -30s; +0 ends the skew.
skew() {
    echo "$2" >"$FAULTS_OUT/clock$1"
    fault_end "clock.$1"
    if [[ $2 != +0 && $2 != 0 ]]; then
        fault_begin "clock.$1" "skew n$1 $2"
    else
        h_log "n$1's clock: no offset"
    fi
}
