# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: skew one node's clock 30 s behind, then 30 s ahead
# n3's wall clock falls 30 s behind for 8 s, is set right, then jumps 30 s ahead for 8 s.
# Behind, n3 must refuse what its peers stamp (it looks 30 s in the future, past the 5 s
# skew bound) and cannot coordinate writes; ahead, its peers must refuse what n3 stamps.
# Either way last-write-wins must not let n3's stamps silently beat newer acknowledged
# writes, nothing acknowledged may be lost, and the replicas must agree once the clock is
# right again. The skew may cost the writes n3 coordinates, but not the others: quorum
# writes through n1 and n2 (two of the three writers) must go on, so at least half of all
# quorum puts made while n3 runs ahead and after must be acknowledged. The behind phase
# comes first because a hybrid logical clock never goes back: once n3 has run ahead, its
# stamps stay ahead until real time catches up.
scenario_seed=61
scenario_duration_s=30
scenario_keys=100

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    workload_start all all 1 1
    at 6
    skew 3 -30s
    at 14
    skew 3 +0
    at 18
    skew 3 +30s
    at 26
    skew 3 +0
    workload_wait_all
    expect_availability put quorum 18 30 0.5
}
