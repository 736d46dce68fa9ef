# shellcheck shell=bash disable=SC2034 # the scenario_* variables are read by harness.sh
# scenario: one node's disk fails with EIO (writes and log flushes) under load, then heals
# This kernel cannot fail a device, so the storage fault hook of test builds does it: for
# 10 s every data write and log flush of n2 fails with RKV_IO, while reads still work.
# Writes n2 takes part in must fail cleanly (no acknowledgement for a write n2 did not make
# durable), quorum writes go on through n1 and n3, nothing acknowledged is lost, and once
# the fault ends n2 takes writes again within 10 s, without a restart.
scenario_seed=97
scenario_duration_s=30
scenario_keys=100

scenario_run() {
    workload_start quorum quorum 3 3 --delete-ratio 0.1
    workload_start all all 1 1
    at 6
    ioerr 2
    expect_unwritable 2 3
    at 16
    iook 2
    wait_writable 2 10
}
