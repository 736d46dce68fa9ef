# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: fill one node's disk under load, then free it without restarting the node
# n2's tmpfs is filled to the last block with a ballast file. WiredTiger writes into log
# space it preallocated, so the workload's small writes alone would not reach the wall for
# minutes: the harness also writes 64 values of 1 MB (keys outside the workload's) through
# n2, enough for each of its shards' LSM trees to switch to a new chunk, which needs a new
# file. Writes that need n2's disk must fail cleanly
# (an error, not a crash), quorum writes go on through n1 and n3, nothing acknowledged
# is lost, and once the ballast is removed n2 takes writes again within 10 s, by itself.
scenario_seed=53
scenario_duration_s=40
scenario_keys=100

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    at 6
    diskfull 2
    expect_unwritable 2 3
    bulk_fill 2 64
    at 26
    diskfree 2
    wait_writable 2 10
}
