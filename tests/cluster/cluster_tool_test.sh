#!/usr/bin/env bash
# tools/cluster end to end on 127.0.0.1: its usage errors and its refusal of a server without
# --peer (with a stand-in binary), then a real three-node cluster in a temporary directory on
# a random high base port: up 3, status --json, a write at consistency all read back from
# another node, kill 2 (seen down by n1), start 2 (seen up again), stop 3, start 3, down, and
# down again. Every wait is bounded; the EXIT trap stops every node this test started and
# removes the directory, whatever happened.
# Usage: cluster_tool_test.sh BUILD_DIR        (ctest passes it; label "cluster")
set -euo pipefail

build=$(cd "${1:?usage: cluster_tool_test.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cluster=$src/tools/cluster
cli=$build/tools/ringkv-cli
export RINGKV_BIN=$build/tools/ringkv

step() { echo "== $*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

dir=$(mktemp -d /tmp/ringkv-cluster-test-XXXXXX)
cleanup() {
    local rc=$?
    if ((rc != 0)) && [[ -d $dir ]]; then
        for log in "$dir"/n*/log; do
            [[ -f $log ]] || continue
            echo "---- $log (last 20 lines)" >&2
            tail -n 20 "$log" >&2
        done
    fi
    "$cluster" down --dir "$dir" --timeout 20 >/dev/null 2>&1 || true
    # Whatever down could not stop: only processes whose command line names our directory.
    for f in "$dir"/n*/pid; do
        [[ -f $f ]] || continue
        local p
        p=$(<"$f")
        if is_ours "$p" "$dir/"; then
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    rm -rf "$dir"
    exit "$rc"
}
trap cleanup EXIT

# expect_rc WANT CMD...: runs CMD, keeps its stdout in $out and stderr in $err.
expect_rc() {
    local want=$1 got=0
    shift
    out=$("$@" 2>"$dir/stderr") || got=$?
    err=$(<"$dir/stderr")
    ((got == want)) || fail "$* exited $got, expected $want; stdout: $out; stderr: $err"
}

# status_field NODE FIELD: the field of node NODE (1-based) in `status --json`.
status_field() {
    "$cluster" status --json --dir "$dir" | python3 -c '
import json, sys
node = json.load(sys.stdin)["nodes"][int(sys.argv[1]) - 1]
v = node[sys.argv[2]]
print("null" if v is None else v)' "$1" "$2"
}

# is_ours PID PATH: process PID runs and its command line has an argument under PATH.
is_ours() {
    local args
    args=$(tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline") || return 1
    grep -qF -- "$2" <<<"$args"
}

# wait_until SECONDS WHAT CMD...: polls CMD until it succeeds, or fails the test.
wait_until() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "not within ${limit}s: $what"
        sleep 0.2
    done
}

# node_sees SEEN_BY NODE_ID STATE: node SEEN_BY's /health says NODE_ID is up (STATE true) or
# down (false).
node_sees() {
    curl -sf --max-time 2 "http://127.0.0.1:$((base + 100 * ($1 - 1) + 1))/health" | python3 -c '
import json, sys
nodes = json.load(sys.stdin)["cluster"]["nodes"]
want = sys.argv[2] == "true"
sys.exit(0 if any(n["id"] == sys.argv[1] and n["up"] is want for n in nodes) else 1)' "$2" "$3"
}

step "usage errors exit 2"
expect_rc 2 "$cluster"
expect_rc 2 "$cluster" frobnicate
expect_rc 2 "$cluster" up --dir "$dir"
expect_rc 2 "$cluster" up 0 --dir "$dir"
expect_rc 2 "$cluster" up 3 --shards 51 --dir "$dir"
expect_rc 2 "$cluster" up 3 --base-port 65400 --dir "$dir"
expect_rc 2 "$cluster" up 3 --dir "$dir" -- --peer 127.0.0.1:1
expect_rc 2 "$cluster" kill --dir "$dir"
expect_rc 2 "$cluster" kill 0 --dir "$dir"
expect_rc 2 "$cluster" status --shards 2 --dir "$dir"
expect_rc 0 "$cluster" --help
[[ $out == *"up N"* && $out == *"status [--json]"* && $out == *"Exit codes"* ]] || fail "--help: $out"

step "commands on a directory without a cluster"
expect_rc 1 "$cluster" status --dir "$dir/none"
[[ $err == *"no cluster in"* ]] || fail "status without a cluster: $err"
expect_rc 0 "$cluster" down --dir "$dir/none"

step "up refuses a server without --peer"
cat >"$dir/old-ringkv" <<'EOF'
#!/bin/sh
echo "Usage: ringkv [FLAGS]   (a server from before the cluster)"
EOF
chmod +x "$dir/old-ringkv"
RINGKV_BIN=$dir/old-ringkv expect_rc 1 "$cluster" up 3 --dir "$dir/old"
[[ $err == *"--peer"* ]] || fail "up with an old server does not say why: $err"

step "the server under test knows --peer"
help=$("$RINGKV_BIN" --help 2>&1 || true)
grep -q -- '--peer' <<<"$help" ||
    fail "$RINGKV_BIN has no --peer flag: the cluster glue is not in this build, so there is no cluster to test"

step "up 3"
# A base port below the usual ephemeral range (32768 and up), so that the nodes' own outgoing
# connections do not take our ports; up refuses ports in use, so a clash only means a retry.
for _ in 1 2 3 4 5; do
    base=$((20000 + (RANDOM % 120) * 100))
    got=0
    out=$("$cluster" up 3 --dir "$dir" --base-port "$base" --shards 2 --timeout 60 \
        -- --cache-size 200M --row-cache-size 16M 2>"$dir/stderr") || got=$?
    err=$(<"$dir/stderr")
    ((got == 0)) && break
    [[ $err == *"in use"* ]] || fail "up 3 exited $got: $err"
    echo "base port $base is taken ($err); trying another"
done
((got == 0)) || fail "no free base port in 5 tries"
echo "$out"
for i in 1 2 3; do
    b=$((base + 100 * (i - 1)))
    grep -Eq "^n$i +[0-9]+ +127.0.0.1:$b +127.0.0.1:$((b + 1)) +127.0.0.1:$((b + 50))$" <<<"$out" ||
        fail "up's table has no row for n$i with its ports"
done

step "status --json"
json=$("$cluster" status --json --dir "$dir")
python3 - "$base" "$json" <<'EOF' || fail "status --json: $json"
import json, sys
base = int(sys.argv[1])
nodes = json.loads(sys.argv[2])["nodes"]
assert [n["id"] for n in nodes] == ["n1", "n2", "n3"], nodes
for i, n in enumerate(nodes):
    b = base + 100 * i
    assert n["state"] == "running" and isinstance(n["pid"], int), n
    assert n["binary"] == "127.0.0.1:%d" % b, n
    assert n["http"] == "127.0.0.1:%d" % (b + 1), n
    assert n["peer"] == "127.0.0.1:%d" % (b + 50), n
EOF
expect_rc 0 "$cluster" status --dir "$dir"
[[ $(grep -c ' running ' <<<"$out") == 3 ]] || fail "status does not show 3 running nodes: $out"
expect_rc 1 "$cluster" up 3 --dir "$dir" --base-port "$base"
[[ $err == *"already runs"* ]] || fail "a second up does not refuse: $err"

step "the cluster is one: a write to n1 at consistency all is read from n3"
expect_rc 0 "$cli" --addr "127.0.0.1:$base" --consistency all put cluster-key cluster-value
expect_rc 0 "$cli" --addr "127.0.0.1:$((base + 200))" --consistency one get cluster-key
[[ $out == cluster-value ]] || fail "n3 read \"$out\""
expect_rc 0 "$cli" --http "127.0.0.1:$((base + 1))" status
[[ $out == *"cluster formed"* ]] || fail "ringkv-cli status: $out"
[[ $(grep -Ec '^n[123]( \*)? +up ' <<<"$out") == 3 ]] || fail "ringkv-cli status does not show 3 nodes up: $out"

step "kill 2"
pid2=$(status_field 2 pid)
expect_rc 0 "$cluster" kill 2 --dir "$dir"
[[ $(status_field 2 state) == stopped && $(status_field 2 pid) == null ]] || fail "n2 is not stopped after kill 2"
[[ $(status_field 1 state) == running && $(status_field 3 state) == running ]] || fail "kill 2 touched another node"
if is_ours "$pid2" "$dir/n2/data"; then
    fail "n2's process $pid2 is still there"
fi
expect_rc 1 "$cluster" kill 2 --dir "$dir"
expect_rc 1 "$cluster" kill 4 --dir "$dir"
wait_until 30 "n1 sees n2 down" node_sees 1 n2 false

step "start 2"
expect_rc 0 "$cluster" start 2 --dir "$dir"
[[ $(status_field 2 state) == running ]] || fail "n2 is not running after start 2"
[[ $(status_field 2 pid) != "$pid2" ]] || fail "n2 kept its old pid"
curl -sf --max-time 2 "http://127.0.0.1:$((base + 101))/health" >/dev/null || fail "n2 does not serve after start 2"
expect_rc 1 "$cluster" start 2 --dir "$dir"
[[ $err == *"already runs"* ]] || fail "start of a running node: $err"
wait_until 30 "n1 sees n2 up again" node_sees 1 n2 true
expect_rc 0 "$cli" --addr "127.0.0.1:$((base + 100))" --consistency all get cluster-key
[[ $out == cluster-value ]] || fail "n2 read \"$out\" after its restart"

step "stop 3 and start 3"
expect_rc 0 "$cluster" stop 3 --dir "$dir"
[[ $(status_field 3 state) == stopped ]] || fail "n3 is not stopped after stop 3"
grep -q "stopped cleanly" "$dir/n3/log" || fail "n3 did not stop cleanly on SIGTERM"
expect_rc 0 "$cluster" start 3 --dir "$dir"
[[ $(status_field 3 state) == running ]] || fail "n3 is not running after start 3"
tr '\0' ' ' <"/proc/$(status_field 3 pid)/cmdline" | grep -q -- "--row-cache-size 16M" ||
    fail "start 3 did not reuse the flags given after -- to up"

step "down, twice"
pids=$("$cluster" status --json --dir "$dir" | python3 -c 'import json,sys; print(" ".join(str(n["pid"]) for n in json.load(sys.stdin)["nodes"]))')
expect_rc 0 "$cluster" down --dir "$dir"
for i in 1 2 3; do
    [[ $(status_field "$i" state) == stopped ]] || fail "n$i still runs after down"
done
for p in $pids; do
    if is_ours "$p" "$dir/"; then
        fail "process $p is still there after down"
    fi
done
expect_rc 0 "$cluster" down --dir "$dir"
echo "PASS"
