# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: no fault at all; read-your-writes is checked at quorum and all
# The baseline: a healthy cluster under the same load as the other scenarios. Without
# faults or membership changes every read at quorum or all must see every write that was
# acknowledged before it began (--check-ryw), besides the checks every scenario makes.
scenario_seed=7
scenario_duration_s=30
scenario_keys=100
scenario_check_flags="--check-ryw"

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    workload_start all all 1 1
}
