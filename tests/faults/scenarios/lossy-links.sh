# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: lossy links, then a flapping one; read-your-writes is checked throughout
# n1's links to n2 and n3 drop 30 % of their packets each way for 12 s: TCP retransmits,
# replica writes from and to n1 arrive late, some requests miss their deadline. Then the
# link between n2 and n3 flaps, cut for one second in every two, five times. No replica
# ever disagrees about time here (one machine, one clock), so a write acknowledged at
# quorum must be seen by every quorum read that begins after it (--check-ryw): W + R > N
# holds whatever the network does.
scenario_seed=83
scenario_duration_s=34
scenario_keys=100
scenario_check_flags="--check-ryw"

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    workload_start all all 1 1
    at 6
    loss 1 2 30
    loss 1 3 30
    at 18
    heal
    local k
    for k in 0 1 2 3 4; do
        at $((20 + 2 * k))
        part 2 3
        at $((21 + 2 * k))
        heal
    done
}
