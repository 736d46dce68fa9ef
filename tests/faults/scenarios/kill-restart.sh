# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: SIGKILL a replica under load and restart it; then another, until after the load
# n2 is killed with SIGKILL while writes go on at quorum (and at all, which must fail while
# it is down), and restarted on the same data ten seconds later. Then n3 is killed and
# stays down until the load is over, so that the last writes of every key reach it only as
# hints: once they are replayed, before the final read repairs anything, every replica of
# every key must agree (scenario_converged_before_final). Nothing acknowledged may be lost.
scenario_seed=11
scenario_duration_s=36
scenario_keys=100
scenario_converged_before_final=1

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    workload_start all all 1 1
    at 6
    kill9 2
    at 16
    restart 2
    at 26
    kill9 3
    workload_wait_all
    restart 3
}
