#!/usr/bin/env bash
# tests/faults/run.sh: the fault-injection suite's entry point. Each scenario runs in a
# sandbox of its own: this script re-executes itself under unshare(1) with new pid, mount
# and network namespaces, so that every node, client and probe lives in a network that has
# no route out of the sandbox, and the kernel removes the namespaces, the bridge, the nft
# tables, the tmpfs mounts and every process when the scenario ends, however it ends
# (--kill-child: killing the sandbox's unshare kills its pid 1, which takes the whole pid
# namespace with it). Inside, harness.sh builds the topology and drives the scenario, and
# lib.sh holds the fault primitives; scenarios/NAME.sh says what happens when.
# Needs root. Prints one verdict line per scenario (the checker's) and exits 1 if any
# scenario fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
prog=tests/faults/run.sh

# The order a full run takes: the baseline first, so that a broken cluster shows there.
readonly SCENARIOS_ALL=(no-fault kill-restart crash-all partition-minority isolate-coordinator lossy-links pause disk-full disk-eio clock-skew)
# The hard bound of one scenario's sandbox, setup and checks included. Every scenario's
# workload lasts 12-40 s and its waits have their own deadlines; this only catches a hang.
readonly SCENARIO_LIMIT_S_DEFAULT=240

usage() {
    cat <<EOF
usage: $prog [--build DIR] [--out DIR] [--list] [SCENARIO...]

Runs the fault-injection scenarios (default: all, in this order: ${SCENARIOS_ALL[*]})
against real ringkv nodes in a private network of namespaces, and prints each
scenario's verdict. Needs root, and the packages of tools/install-deps.sh.

  --build DIR   the build tree with tools/ringkv and tests/faults/faultload
                (default: build-release of this repository)
  --out DIR     where each scenario leaves its files: DIR/SCENARIO/ holds the node logs,
                the histories, the final reads, the /debug/key answers, the fault windows
                and the checker's report (default: BUILD/faults)
  --list        print the scenarios and exit

Environment: FAULTS_CHECKER (default tests/faults/check.py) and FAULTS_WORKLOAD (default
BUILD/tests/faults/faultload) replace the checker or the workload client;
FAULTS_SCENARIO_LIMIT_S bounds each scenario (default $SCENARIO_LIMIT_S_DEFAULT).
Exit codes: 0 every scenario passed, 1 a scenario failed or could not run, 2 usage error.
EOF
}

die() {
    echo "$prog: $*" >&2
    exit 1
}

usage_die() {
    echo "$prog: $* (see $prog --help)" >&2
    exit 2
}

# ---- inside the sandbox ----

# run.sh --sandboxed SCENARIO BUILD OUT: what the sandbox's pid 1 runs. First makes sure it
# really is in a fresh network namespace (no default route, nothing but lo) and refuses to
# go on otherwise, then that it is the first process of new pid, mount and network
# namespaces (not those of the run.sh that started it), then runs the scenario.
sandboxed() {
    local name=$1
    export FAULTS_BUILD=$2 FAULTS_OUT=$3 FAULTS_NAME=$1
    # Checked before anything is created, so that a mistake in how we were started can never
    # put nodes on a network that leads out of this machine, nor mounts or rules on it.
    if [[ -n $(ip route show default) || -n $(ip -6 route show default 2>/dev/null) ]]; then
        echo "$prog: refusing to run: this network namespace has a default route" >&2
        exit 1
    fi
    local links
    links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
    if [[ $links != "lo " ]]; then
        echo "$prog: refusing to run: this network namespace has links other than lo ($links)" >&2
        exit 1
    fi
    local mnt_ns net_ns
    mnt_ns=$(readlink /proc/self/ns/mnt)
    net_ns=$(readlink /proc/self/ns/net)
    if [[ $$ -ne 1 || -z ${FAULTS_HOST_MNT_NS:-} || $FAULTS_HOST_MNT_NS == "$mnt_ns" ||
        -z ${FAULTS_HOST_NET_NS:-} || $FAULTS_HOST_NET_NS == "$net_ns" ]]; then
        echo "$prog: refusing to run: --sandboxed is only for the sandbox run.sh starts (new pid, mount and network namespaces)" >&2
        exit 1
    fi
    ip link set lo up
    # iproute2 keeps its named namespaces under /run/netns; a private tmpfs there keeps our
    # names out of the machine's registry (and gone with the mount namespace).
    mkdir -p /run/netns
    mount -t tmpfs kvt-netns /run/netns

    # shellcheck source=tests/faults/harness.sh
    source "$here/harness.sh"
    # shellcheck source=tests/faults/lib.sh
    source "$here/lib.sh"
    # shellcheck disable=SC1090 # one of scenarios/*.sh, chosen at run time
    source "$here/scenarios/$name.sh"
    harness_run
}

if [[ ${1:-} == --sandboxed ]]; then
    (($# == 4)) || die "--sandboxed is for run.sh itself"
    sandboxed "$2" "$3" "$4" # harness_run exits with the scenario's status
fi

# ---- outside: arguments, prerequisites, one sandbox per scenario ----

build=$repo/build-release
out=""
list=false
chosen=()
while (($# > 0)); do
    case $1 in
    --build)
        (($# >= 2)) || usage_die "--build needs a directory"
        build=$2
        shift
        ;;
    --out)
        (($# >= 2)) || usage_die "--out needs a directory"
        out=$2
        shift
        ;;
    --list) list=true ;;
    -h | --help)
        usage
        exit 0
        ;;
    -*) usage_die "unknown option: $1" ;;
    *) chosen+=("$1") ;;
    esac
    shift
done

if [[ $list == true ]]; then
    for s in "${SCENARIOS_ALL[@]}"; do
        printf '%-20s %s\n' "$s" "$(sed -n 's/^# scenario: //p' "$here/scenarios/$s.sh")"
    done
    exit 0
fi
((${#chosen[@]} > 0)) || chosen=("${SCENARIOS_ALL[@]}")
for s in "${chosen[@]}"; do
    [[ -r $here/scenarios/$s.sh ]] || usage_die "no scenario $s (--list shows them)"
done

[[ $(id -u) -eq 0 ]] || die "needs root: it creates namespaces, a bridge, nft tables and tmpfs mounts"
for c in unshare ip nft curl python3 fallocate timeout; do
    command -v "$c" >/dev/null || die "$c is missing (tools/install-deps.sh installs what the suite needs)"
done
build=$(realpath -- "$build")
[[ -x $build/tools/ringkv ]] || die "no ringkv at $build/tools/ringkv: build it first"
workload=${FAULTS_WORKLOAD:-$build/tests/faults/faultload}
[[ -x $workload ]] || die "no workload client at $workload: build the faultload target"
checker=${FAULTS_CHECKER:-$here/check.py}
[[ -r $checker ]] || die "no checker at $checker"
out=$(realpath -m -- "${out:-$build/faults}")
mkdir -p "$out"
limit_s=${FAULTS_SCENARIO_LIMIT_S:-$SCENARIO_LIMIT_S_DEFAULT}

now_s() { printf '%s' "${EPOCHREALTIME%[.,]*}"; }

suite_start=$(now_s)
failed=()
for s in "${chosen[@]}"; do
    dir=$out/$s
    rm -rf "$dir"
    mkdir -p "$dir"
    start=$(now_s)
    rc=0
    # The sandbox checks that its mount and network namespaces are not these.
    FAULTS_HOST_MNT_NS=$(readlink /proc/self/ns/mnt) FAULTS_HOST_NET_NS=$(readlink /proc/self/ns/net) \
        FAULTS_WORKLOAD=$workload FAULTS_CHECKER=$checker \
        timeout -k 10 "$limit_s" \
        unshare --fork --kill-child --pid --mount-proc --mount --propagation private --net -- \
        bash "$here/run.sh" --sandboxed "$s" "$build" "$dir" >"$dir/harness.log" 2>&1 || rc=$?
    took=$(($(now_s) - start))
    verdict=$(grep -h '^VERDICT ' "$dir/check.out" 2>/dev/null | tail -n 1 || true)
    if [[ -n $verdict ]]; then
        echo "$verdict"
    else
        echo "VERDICT $s: FAIL no verdict from the checker"
    fi
    # What the harness itself found (a node that died, a wait that ran out) fails the
    # scenario even when the checker's figures are clean.
    if [[ -s $dir/harness.err ]]; then
        sed "s/^/HARNESS $s: /" "$dir/harness.err"
    fi
    if ((rc == 124 || rc == 137)); then
        echo "HARNESS $s: FAIL the scenario ran past its ${limit_s} s bound and was killed"
    fi
    if ((rc != 0)) || [[ $verdict != *": PASS "* ]]; then
        failed+=("$s")
        echo "  ($s failed after ${took}s; its files are in $dir; last lines of harness.log:)"
        tail -n 15 "$dir/harness.log" | sed 's/^/    /'
    else
        echo "  ($s passed in ${took}s; files in $dir)"
    fi
done

total=$(($(now_s) - suite_start))
if ((${#failed[@]} > 0)); then
    echo "faults: ${#failed[@]} of ${#chosen[@]} scenarios failed (${failed[*]}) in ${total}s"
    exit 1
fi
echo "faults: all ${#chosen[@]} scenarios passed in ${total}s"
