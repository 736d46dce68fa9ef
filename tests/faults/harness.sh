# shellcheck shell=bash
# tests/faults/harness.sh: the fault suite's harness, sourced by run.sh inside a scenario's
# sandbox (never run on its own: it would build its network in whatever namespace it was
# started in). It builds the topology, starts the nodes, runs the scenario's workload
# clients, and after the scenario heals everything, waits for hint replay, reads every
# key at `all`, fetches every key's replicas through /debug/key and hands it all to the
# checker.
#
# Topology: this shell's network namespace is the hub, with the bridge br0 at
# 10.77.0.254; node I lives in namespace nI at 10.77.0.I, on a veth pair whose hub end is
# a port of br0. The workload clients and every probe run here in the hub and talk to the
# nodes' addresses directly. Each node's data directory is a tmpfs of its own (so a disk
# can be filled), and each node runs under libfaketime reading its offset from a file of
# its own (so its clock can be skewed), and test builds read a storage fault file of its own
# (so its disk can fail with EIO).
#
# What a scenario file (scenarios/NAME.sh) provides: scenario_seed, scenario_duration_s,
# scenario_keys, optionally scenario_nodes (default 3), scenario_check_flags (extra
# checker flags) and scenario_converged_before_final (1: see harness_finish), and a function scenario_run that starts the workload (workload_start),
# injects its faults at chosen times (at, and the primitives of lib.sh) and returns; the
# harness then waits for the workload and does the rest.
#
# Files, all in FAULTS_OUT (the scenario's directory): nI.log (node I's output across
# restarts), history-NAME.jsonl and workload-NAME.log (one per workload process),
# history.jsonl (their union, for the checker), debug-before-final.jsonl (every key's
# replicas after hint replay), final.jsonl, debug.jsonl (one /debug/key answer per line,
# after the final read), metrics-healed-nI.txt and metrics-end-nI.txt (each node's /metrics
# after the heal and at the end), faults.json, check.out (the checker's report), harness.err
# (what the harness itself found wrong: a node that died, a wait that ran out; empty when
# none).
#
# Every wait here polls with a deadline; none relies on a fixed sleep.
# shellcheck disable=SC2154 # scenario_* are set by the scenario file, sourced before

readonly H_SUBNET=10.77.0
readonly H_HUB_ADDR=10.77.0.254
readonly H_BINARY_PORT=7000 H_HTTP_PORT=7001 H_PEER_PORT=7050
readonly H_SHARDS=2
# The coordinator's deadline. A paused node (scenarios/pause.sh) is paused for longer.
readonly H_REQUEST_TIMEOUT_MS=1000
# WiredTiger's cache has a floor of 200M for LSM tables; the row cache need not be big.
readonly H_CACHE_SIZE=200M H_ROW_CACHE_SIZE=16M
# A node's tmpfs. WiredTiger preallocates its log (100 MB files: the current one and two
# spares, 300 MB in all at start-up), so the data itself has about 200 MB. tmpfs takes
# memory only for what is written.
readonly H_DISK_SIZE=512m
# Deadlines of the harness's waits, in seconds.
readonly H_FORM_TIMEOUT_S=60      # nodes started -> formed, every node up in every view
readonly H_SERVE_TIMEOUT_S=30     # one node (re)started -> answering /health
readonly H_HINTS_TIMEOUT_S=90     # healed -> no hint queued on any node
readonly H_WORKLOAD_GRACE_S=60    # past --duration before a workload process counts as hung
readonly H_FINAL_DURATION_S=30    # bound of the final read of every key
readonly H_DEBUG_TIMEOUT_S=5      # one /debug/key request

H_T0_US=""        # when the first workload process started: `at` counts from here
H_WORKLOAD_PIDS=()
H_WORKLOAD_NAMES=()

# ---- small helpers ----

h_now_us() { printf '%s' "${EPOCHREALTIME/[.,]/}"; }

# h_log MESSAGE: a timestamped line in harness.log, with the scenario clock when it runs.
h_log() {
    local t="" now
    now=$(h_now_us)
    if [[ -n $H_T0_US ]]; then
        t=$(printf ' t=%d.%01ds' $(((now - H_T0_US) / 1000000)) $((((now - H_T0_US) / 100000) % 10)))
    fi
    printf '%s%s %s\n' "$(date -u +%H:%M:%S.%3N)" "$t" "$*" >&2
}

# h_problem MESSAGE: something the harness found wrong; it fails the scenario whatever the
# checker says, and the harness goes on so that the checker's figures are still produced.
h_problem() {
    h_log "PROBLEM: $*"
    echo "FAIL $*" >>"$FAULTS_OUT/harness.err"
}

# h_fatal MESSAGE: a problem after which nothing meaningful can follow (no cluster).
h_fatal() {
    h_problem "$*"
    exit 1
}

# at SECONDS: sleeps until SECONDS after the workload started (fractions allowed).
at() {
    [[ -n $H_T0_US ]] || h_fatal "at $1: no workload has started yet"
    local target now
    target=$((H_T0_US + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')))
    now=$(h_now_us)
    if ((now < target)); then
        sleep "$(awk -v d=$((target - now)) 'BEGIN { printf "%.6f", d / 1000000 }')"
    elif ((now - target > 1000000)); then
        h_log "note: 'at $1' reached $(((now - target) / 1000)) ms late"
    fi
}

node_addr() { printf '%s.%s' "$H_SUBNET" "$1"; }
node_http() { printf '%s.%s:%s' "$H_SUBNET" "$1" "$H_HTTP_PORT"; }
nodes_all() { seq 1 "$H_NODES"; }

# The workload's targets: every node's binary port, so that the clients keep going when
# the node one of them talks to is cut off.
h_targets() {
    local i t=()
    for i in $(nodes_all); do t+=("$(node_addr "$i"):$H_BINARY_PORT"); done
    local IFS=,
    printf '%s' "${t[*]}"
}

# Every node's HTTP address, for the probes (set by harness_run).
H_HTTP=()

# The probes, in Python (standard library only) so that one process polls every node:
#   ready N ADDR...      exit 0 when every node answers /health, is formed and sees n1..nN
#                        up; else print what is missing and exit 1
#   hints ADDR...        print each node's queued hints (the sum of ringkv_hints_queued)
#                        and exit 0 when none is queued anywhere, 1 otherwise
#   debug ADDR KEYS OUT TIMEOUT_S
#                        GET /debug/key/KEY from ADDR for every key of KEYS (a final read's
#                        file, or count:N for faultload's key:0..key:N-1), one answer per
#                        line into OUT (an empty line when a request fails, which the
#                        checker counts as not converged)
#   converged FILE       exit 0 when every answer of FILE (from debug) shows every replica
#                        holding the same record; else print how many keys differ, and the
#                        first few, and exit 1
readonly H_PROBE_PY='
import http.client, json, sys, urllib.parse

def get(addr, path, timeout=2.0):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, body
    finally:
        c.close()

cmd = sys.argv[1]
if cmd == "ready":
    n = int(sys.argv[2]); missing = []
    for addr in sys.argv[3:]:
        try:
            st, body = get(addr, "/health")
            h = json.loads(body)
        except Exception as e:
            missing.append("%s: no answer (%s)" % (addr, e)); continue
        c = h.get("cluster") or {}
        if c.get("formed") is not True:
            missing.append("%s: not formed" % addr); continue
        up = {x.get("id") for x in c.get("nodes", []) if x.get("up") is True}
        down = ["n%d" % i for i in range(1, n + 1) if "n%d" % i not in up]
        if down:
            missing.append("%s: sees %s down" % (addr, ",".join(down)))
    if missing:
        print("; ".join(missing)); sys.exit(1)
elif cmd == "hints":
    total = 0; parts = []
    for addr in sys.argv[2:]:
        try:
            st, body = get(addr, "/metrics")
        except Exception as e:
            parts.append("%s=?" % addr); total += 1; continue
        q = 0
        for line in body.decode("utf-8", "replace").splitlines():
            if line.startswith("ringkv_hints_queued{") or line.startswith("ringkv_hints_queued "):
                q += int(float(line.rsplit(" ", 1)[1]))
        parts.append("%s=%d" % (addr, q)); total += q
    print(" ".join(parts))
    sys.exit(0 if total == 0 else 1)
elif cmd == "debug":
    addr, src, out, timeout = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    keys = []
    if src.startswith("count:"):
        keys = ["key:%d" % i for i in range(int(src[6:]))]
    else:
        with open(src) as f:
            for line in f:
                try:
                    k = json.loads(line).get("key")
                except ValueError:
                    continue
                if isinstance(k, str) and k not in keys:
                    keys.append(k)
    failed = 0
    with open(out, "w") as o:
        for k in keys:
            try:
                st, body = get(addr, "/debug/key/" + urllib.parse.quote(k, safe=""), timeout)
                doc = json.loads(body) if st == 200 else None
            except Exception:
                doc = None
            if doc is None:
                failed += 1; o.write("\n")
            else:
                o.write(json.dumps(doc, separators=(",", ":")) + "\n")
    print("%d keys, %d without an answer" % (len(keys), failed))
elif cmd == "converged":
    total = 0; bad = []
    with open(sys.argv[2]) as f:
        for line in f:
            total += 1
            try:
                doc = json.loads(line)
                reps = doc["replicas"]
                sigs = {(r.get("status"), r.get("hlc"), r.get("version"), r.get("value")) for r in reps}
                if len(sigs) == 1 and all(r.get("status") != "unreachable" for r in reps):
                    continue
                bad.append("%s: %s" % (doc["key"], "; ".join("%s %s hlc=%s v=%s" % (
                    r.get("node"), r.get("status"), r.get("hlc"), r.get("version")) for r in reps)))
            except (ValueError, KeyError, TypeError):
                bad.append("line %d: no usable /debug/key answer" % total)
    if bad:
        print("%d of %d keys differ between replicas (first: %s)" % (len(bad), total, " | ".join(bad[:2])))
        sys.exit(1)
'

h_probe() { python3 -c "$H_PROBE_PY" "$@"; }

# h_poll DEADLINE_S WHAT COMMAND...: runs COMMAND every 100 ms until it succeeds or the
# deadline passes; returns 1 then (the last output is in H_POLL_LAST).
H_POLL_LAST=""
h_poll() {
    local deadline=$(($(h_now_us) + $1 * 1000000)) what=$2
    shift 2
    while :; do
        if H_POLL_LAST=$("$@" 2>&1); then
            return 0
        fi
        if (($(h_now_us) >= deadline)); then
            h_log "$what: still not done after the deadline: $H_POLL_LAST"
            return 1
        fi
        sleep 0.1
    done
}

# ---- topology ----

topo_up() {
    local i
    ip link add br0 type bridge
    ip addr add "$H_HUB_ADDR/24" dev br0
    ip link set br0 up
    for i in $(nodes_all); do
        ip netns add "n$i"
        ip link add "veth$i" netns "n$i" type veth peer name "p$i"
        ip link set "p$i" master br0
        ip link set "p$i" up
        ip -n "n$i" link set lo up
        ip -n "n$i" addr add "$(node_addr "$i")/24" dev "veth$i"
        ip -n "n$i" link set "veth$i" up
        mkdir -p "$FAULTS_OUT/d$i"
        mount -t tmpfs -o "size=$H_DISK_SIZE" "kvt-d$i" "$FAULTS_OUT/d$i"
        echo "+0" >"$FAULTS_OUT/clock$i"
        echo "ok" >"$FAULTS_OUT/iofault$i"
    done
    # bridge kvt / cut: the links between nodes (lib.sh's part, oneway, loss, isolate).
    # inet kvt_hub: the links between the hub (clients, probes) and a node (isolate).
    # The chain is not called fwd: that is an nft keyword.
    nft -f - <<'EOF'
table bridge kvt {
    chain cut {
        type filter hook forward priority 0; policy accept;
    }
}
table inet kvt_hub {
    chain hub_out {
        type filter hook output priority 0; policy accept;
    }
    chain hub_in {
        type filter hook input priority 0; policy accept;
    }
}
EOF
    # Belt and braces: nothing we created may add a way out.
    [[ -z $(ip route show default) ]] || h_fatal "the hub has a default route after setup"
    h_log "topology: $H_NODES nodes on br0 ($H_SUBNET.0/24), hub $H_HUB_ADDR"
}

# ---- nodes ----

H_LIBFAKETIME=""

h_find_libfaketime() {
    local p
    for p in /usr/lib/*/faketime/libfaketime.so.1; do
        if [[ -r $p ]]; then
            H_LIBFAKETIME=$p
            return
        fi
    done
    p=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime.so.1$' | head -n 1 || true)
    [[ -n $p ]] || h_fatal "libfaketime is not installed (tools/install-deps.sh installs faketime)"
    H_LIBFAKETIME=$p
}

node_state() { cat "$FAULTS_OUT/n$1.state" 2>/dev/null || echo none; }
node_set_state() { echo "$2" >"$FAULTS_OUT/n$1.state"; }
node_pid() { cat "$FAULTS_OUT/n$1.pid"; }

# node_running I: node I's process exists and is not a zombie.
node_running() {
    local p st
    p=$(node_pid "$1" 2>/dev/null) || return 1
    st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}

# node_start I: starts node I in its namespace with its flags and data (the same on every
# start, so a restart is the same node), appending to nI.log. Returns at once.
# RKV_FAULT_FILE names the file of the storage fault hook (storage/engine.h; builds with
# -DRKV_FAULT_HOOKS=ON), which lib.sh's ioerr and iook write.
# libfaketime: FAKETIME_NO_CACHE=1 makes a change of the offset file apply at the next
# clock read; FAKETIME_DONT_FAKE_MONOTONIC=1 leaves CLOCK_MONOTONIC alone (by default it
# would jump to the faked wall clock); FAKETIME_FORCE_MONOTONIC_FIX=0 turns off its rewrite
# of pthread_cond_timedwait() for monotonic condition variables, which here made every
# WiredTiger log flush wait out its timeout (a put took ~80 ms instead of ~1 ms).
node_start() {
    local i=$1 j seeds=()
    for j in $(nodes_all); do
        ((j == i)) || seeds+=("$(node_addr "$j"):$H_PEER_PORT")
    done
    local IFS=,
    printf -- '---- %s harness: starting n%s\n' "$(date -u +%FT%T.%3NZ)" "$i" >>"$FAULTS_OUT/n$i.log"
    ip netns exec "n$i" env LD_PRELOAD="$H_LIBFAKETIME" \
        FAKETIME_TIMESTAMP_FILE="$FAULTS_OUT/clock$i" FAKETIME_NO_CACHE=1 \
        FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_FORCE_MONOTONIC_FIX=0 \
        RKV_FAULT_FILE="$FAULTS_OUT/iofault$i" \
        "$FAULTS_BUILD/tools/ringkv" --node-id "n$i" --data "$FAULTS_OUT/d$i/data" \
        --listen "$(node_addr "$i"):$H_BINARY_PORT" --http "$(node_addr "$i"):$H_HTTP_PORT" \
        --peer "$(node_addr "$i"):$H_PEER_PORT" --seeds "${seeds[*]}" \
        --shards "$H_SHARDS" --no-pin --request-timeout "$H_REQUEST_TIMEOUT_MS" \
        --cache-size "$H_CACHE_SIZE" --row-cache-size "$H_ROW_CACHE_SIZE" \
        </dev/null >>"$FAULTS_OUT/n$i.log" 2>&1 &
    # ip netns exec execs the command, and env execs ringkv: $! is the node's own pid.
    echo $! >"$FAULTS_OUT/n$i.pid"
    node_set_state "$i" running
}

node_serving() { curl -sf --max-time 1 -o /dev/null "http://$(node_http "$1")/health"; }

# node_wait_serving I: waits until node I answers /health; a node that exits meanwhile is
# a problem reported at once.
node_wait_serving() {
    local deadline=$(($(h_now_us) + H_SERVE_TIMEOUT_S * 1000000))
    while ! node_serving "$1"; do
        node_running "$1" || {
            node_report_exit "$1"
            return 1
        }
        (($(h_now_us) < deadline)) || {
            h_problem "n$1 did not answer /health within ${H_SERVE_TIMEOUT_S}s of its start"
            return 1
        }
        sleep 0.05
    done
}

# node_report_exit I: node I is gone although nobody killed it: says how it ended.
node_report_exit() {
    local rc=0
    wait "$(node_pid "$1")" 2>/dev/null || rc=$?
    h_problem "n$1 exited by itself (status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))")); last lines of n$1.log:"
    tail -n 8 "$FAULTS_OUT/n$1.log" | sed 's/^/    /' | tee -a "$FAULTS_OUT/harness.err" >&2
    node_set_state "$1" died
}

cluster_ready() { h_probe ready "$H_NODES" "${H_HTTP[@]}"; }

# cluster_wait_ready: waits until every node is formed and sees every node up.
cluster_wait_ready() {
    if ! h_poll "$H_FORM_TIMEOUT_S" "cluster ready" cluster_ready; then
        return 1
    fi
}

# ---- workload ----

# workload_start NAME LEVEL WRITERS READERS [FAULTLOAD FLAGS...]: starts one workload
# process in the background for the scenario's duration over its keys, at LEVEL, seeded
# from the scenario's seed and the process's place, recording into history-NAME.jsonl.
workload_start() {
    local name=$1 level=$2 writers=$3 readers=$4
    shift 4
    local seed=$((scenario_seed * 100 + ${#H_WORKLOAD_NAMES[@]}))
    "$FAULTS_WORKLOAD" --targets "$(h_targets)" --keys "$scenario_keys" --writers "$writers" \
        --readers "$readers" --duration "$scenario_duration_s" --consistency "$level" --seed "$seed" \
        --out "$FAULTS_OUT/history-$name.jsonl" "$@" </dev/null >"$FAULTS_OUT/workload-$name.log" 2>&1 &
    H_WORKLOAD_PIDS+=($!)
    H_WORKLOAD_NAMES+=("$name")
    [[ -n $H_T0_US ]] || H_T0_US=$(h_now_us)
    h_log "workload $name: $level, $writers writers, $readers readers, ${scenario_duration_s}s, seed $seed"
}

# workload_wait_all: waits for every workload process, at most H_WORKLOAD_GRACE_S past
# its duration; a process that is still running then is stopped with SIGTERM (it records
# the operations it has running and exits; SIGKILL would leave an operation that may
# have landed unrecorded, whose value would then look like a phantom), and after 10 more
# seconds with SIGKILL, and reported.
# A scenario may call it itself, to do something after the load (the harness's own call
# then has nothing left to wait for).
workload_wait_all() {
    local deadline=$((H_T0_US + (scenario_duration_s + H_WORKLOAD_GRACE_S) * 1000000)) k p rc sig
    for k in "${!H_WORKLOAD_PIDS[@]}"; do
        p=${H_WORKLOAD_PIDS[k]}
        sig=TERM
        while kill -0 "$p" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]]; do
            if (($(h_now_us) >= deadline)); then
                h_problem "workload ${H_WORKLOAD_NAMES[k]} still ran ${H_WORKLOAD_GRACE_S}s past its duration: SIG$sig"
                kill "-$sig" "$p" 2>/dev/null || true
                [[ $sig == TERM ]] || break
                sig=KILL
                deadline=$((deadline + 10000000))
            fi
            sleep 0.2
        done
        rc=0
        wait "$p" || rc=$?
        if ((rc != 0)); then
            h_problem "workload ${H_WORKLOAD_NAMES[k]} exited with status $rc: $(tail -n 2 "$FAULTS_OUT/workload-${H_WORKLOAD_NAMES[k]}.log" | tr '\n' ' ')"
        fi
        h_log "workload ${H_WORKLOAD_NAMES[k]}: $(tail -n 1 "$FAULTS_OUT/workload-${H_WORKLOAD_NAMES[k]}.log")"
        unset 'H_WORKLOAD_PIDS[k]' # the index stays that of its name
    done
}

# ---- after the faults ----

# harness_restore: undoes whatever the scenario left in force, so that the checks run on
# a healed cluster. A scenario is expected to heal its own faults; anything still in force
# here is logged (not a failure: the scenario may end on a fault on purpose).
harness_restore() {
    local i
    heal
    for i in $(nodes_all); do
        case $(node_state "$i") in
        paused) resume "$i" ;;
        killed) restart "$i" ;;
        esac
        if [[ -e $FAULTS_OUT/d$i/.ballast ]]; then diskfree "$i"; fi
        if [[ $(<"$FAULTS_OUT/clock$i") != "+0" ]]; then skew "$i" +0; fi
        if [[ $(<"$FAULTS_OUT/iofault$i") != ok ]]; then iook "$i"; fi
    done
    # A node that should run but does not has crashed: that fails the scenario. It is
    # started again so that the checker can still judge what the others kept. A node whose
    # storage engine panicked runs on, failing every storage call: that fails it too.
    for i in $(nodes_all); do
        local panic
        panic=$(grep -m 1 -i 'panic' "$FAULTS_OUT/n$i.log" || true)
        if [[ -n $panic ]]; then
            h_problem "n$i's log reports a panic ($(grep -ci 'panic' "$FAULTS_OUT/n$i.log") lines), the first: $panic"
        fi
        if [[ $(node_state "$i") == running ]] && ! node_running "$i"; then
            node_report_exit "$i"
        fi
        if [[ $(node_state "$i") == died ]]; then
            h_log "restarting n$i for the checks"
            node_start "$i"
            node_wait_serving "$i" || true
        fi
    done
}

# metrics_snapshot LABEL: every node's /metrics into metrics-LABEL-nI.txt, for the record
# (an unreachable node leaves an empty file).
metrics_snapshot() {
    local i
    for i in $(nodes_all); do
        curl -s --max-time 2 "http://$(node_http "$i")/metrics" >"$FAULTS_OUT/metrics-$1-n$i.txt" || true
    done
}

harness_finish() {
    local t
    harness_restore
    metrics_snapshot healed
    t=$(h_now_us)
    cluster_wait_ready || h_problem "the cluster did not re-form within ${H_FORM_TIMEOUT_S}s of the heal: $H_POLL_LAST"
    if h_poll "$H_HINTS_TIMEOUT_S" "hint replay" h_probe hints "${H_HTTP[@]}"; then
        h_log "hints drained, $((($(h_now_us) - t) / 1000)) ms after the load ended and all was healed: $H_POLL_LAST"
    else
        h_problem "hints were still queued ${H_HINTS_TIMEOUT_S}s after the heal: $H_POLL_LAST"
    fi

    # The replicas as hint replay left them, before the final read at `all` repairs them.
    # A scenario with scenario_converged_before_final=1 ends so that hints alone must bring
    # every replica up to date, which judges hinted handoff itself; elsewhere a write that
    # failed on some replica while every node was up may rightly stay there until read
    # repair, so the figure is only logged.
    local diff
    h_log "before the final read: $(h_probe debug "$(node_http 1)" "count:$scenario_keys" \
        "$FAULTS_OUT/debug-before-final.jsonl" "$H_DEBUG_TIMEOUT_S")"
    if diff=$(h_probe converged "$FAULTS_OUT/debug-before-final.jsonl"); then
        h_log "before the final read: every replica of every key agrees"
    elif [[ ${scenario_converged_before_final:-0} == 1 ]]; then
        h_problem "after hint replay, before the final read, $diff"
    else
        h_log "before the final read (not judged in this scenario): $diff"
    fi

    local rc=0
    "$FAULTS_WORKLOAD" --targets "$(h_targets)" --keys "$scenario_keys" --consistency all --final \
        --duration "$H_FINAL_DURATION_S" --out "$FAULTS_OUT/final.jsonl" \
        </dev/null >"$FAULTS_OUT/workload-final.log" 2>&1 || rc=$?
    h_log "final read: $(tail -n 1 "$FAULTS_OUT/workload-final.log")"
    ((rc == 0)) || h_problem "the final read exited with status $rc (some keys got no answer at all)"
    h_log "debug: $(h_probe debug "$(node_http 1)" "$FAULTS_OUT/final.jsonl" "$FAULTS_OUT/debug.jsonl" "$H_DEBUG_TIMEOUT_S")"

    metrics_snapshot end
    faults_render
    local k
    : >"$FAULTS_OUT/history.jsonl"
    for k in "${H_WORKLOAD_NAMES[@]}"; do
        cat "$FAULTS_OUT/history-$k.jsonl" >>"$FAULTS_OUT/history.jsonl" 2>/dev/null ||
            h_problem "workload $k left no history"
    done
    # shellcheck disable=SC2086 # scenario_check_flags is a list of flags
    python3 "$FAULTS_CHECKER" --history "$FAULTS_OUT/history.jsonl" --final "$FAULTS_OUT/final.jsonl" \
        --debug "$FAULTS_OUT/debug.jsonl" --faults "$FAULTS_OUT/faults.json" \
        --strict-levels quorum,all ${scenario_check_flags:-} --name "$FAULTS_NAME" \
        >"$FAULTS_OUT/check.out" 2>&1 || rc=$?
    grep -v '^AVAIL overall\|^VERDICT' "$FAULTS_OUT/check.out" | head -n 40 >&2 || true
    grep '^AVAIL overall\|^VERDICT' "$FAULTS_OUT/check.out" >&2 || true
    return "$rc"
}

# harness_run: the whole scenario, from an empty namespace to the verdict. Exits 0 when the
# checker passed and the harness found nothing wrong.
harness_run() {
    trap 'h_log "SIGTERM: stopping"; exit 143' TERM
    : >"$FAULTS_OUT/harness.err"
    H_NODES=${scenario_nodes:-3}
    local i
    for i in $(nodes_all); do H_HTTP+=("$(node_http "$i")"); done
    h_find_libfaketime
    [[ -x $FAULTS_WORKLOAD ]] || h_fatal "no workload client at $FAULTS_WORKLOAD"
    h_log "scenario $FAULTS_NAME: seed $scenario_seed, ${scenario_duration_s}s, $scenario_keys keys, $H_NODES nodes"
    topo_up
    for i in $(nodes_all); do node_start "$i"; done
    for i in $(nodes_all); do node_wait_serving "$i" || h_fatal "n$i never served"; done
    cluster_wait_ready || h_fatal "the cluster did not form within ${H_FORM_TIMEOUT_S}s: $H_POLL_LAST"
    h_log "cluster formed"

    scenario_run
    workload_wait_all
    local rc=0
    harness_finish || rc=$?
    if ((rc == 0)) && [[ -s $FAULTS_OUT/harness.err ]]; then rc=1; fi
    h_log "done: $( ((rc == 0)) && echo pass || echo fail)"
    exit "$rc"
}
