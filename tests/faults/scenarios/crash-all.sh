# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: SIGKILL every node at once under load (a power cut), restart them all
# All three nodes are killed together 11.8 s into a 12 s workload, so that writes are in
# flight and the last acknowledged ones are only milliseconds old, and no later write hides
# a lost one. An acknowledgement promises the write is in the log of W replicas: after the
# restart every key must still end with its last acknowledged value (or a later unknown
# one).
scenario_seed=71
scenario_duration_s=12
scenario_keys=100

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    workload_start all all 1 1
    at 11.8
    kill9 1 2 3
    workload_wait_all
    restart 1 2 3
}
