# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: isolate a node the clients talk to (first from its peers, then from everyone)
# The clients spread over all three nodes. First n1 is cut off from the other nodes only
# for 10 s: its clients still reach it, but every request it coordinates misses quorum and
# is answered 503 (a write may still land on n1 alone, and must not then beat acknowledged
# writes wrongly). After a heal, n1 is cut off from the clients too for 10 s: its clients'
# operations time out and they move on to n2 and n3, which keep serving.
scenario_seed=31
scenario_duration_s=38
scenario_keys=100

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    at 6
    isolate_peers 1
    at 16
    heal
    at 20
    isolate 1
    at 30
    heal
}
