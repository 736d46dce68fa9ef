# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: SIGSTOP a node for longer than the request deadline, then SIGCONT it
# n2 is paused for 6 s: past the 1 s request deadline and the 3 s after which the others
# call it down, so they store hints for it and replay them after SIGCONT. Then n3 is paused
# for 1.8 s: past the deadline but not long enough to be called down, so requests wait on
# it and quorum comes from the other two. A paused node's connections stay open, which a
# crashed node's do not: the case timeouts must cover.
scenario_seed=43
scenario_duration_s=34
scenario_keys=100

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    workload_start all all 1 1
    at 6
    pause 2
    at 12
    resume 2
    at 20
    pause 3
    at 21.8
    resume 3
}
