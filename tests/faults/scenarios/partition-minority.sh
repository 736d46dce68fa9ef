# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: cut one node of three off from the other two, then heal
# n1 can reach neither n2 nor n3 (the clients still reach all three) for 16 s: writes it
# coordinates cannot reach quorum, and it keeps hints for the others; n2 and n3 go on
# serving quorum. A second workload writes at one, where writes on both sides succeed and
# the side that loses last-write-wins loses them (counted, not judged). After the heal
# nothing acknowledged at quorum may be lost and every replica must agree.
scenario_seed=23
scenario_duration_s=36
scenario_keys=100

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    workload_start one one 1 1
    at 8
    partition "1" "2 3"
    at 24
    heal
}
