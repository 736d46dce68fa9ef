#!/usr/bin/env bash
# Builds ringkv (Release) and starts a local three-node cluster on 127.0.0.1 with
# tools/cluster, data and logs under ./data/cluster (n1 serves the binary protocol on 7100 and
# HTTP on 7101, n2 on 7200/7201, n3 on 7300/7301). It returns once every node sees the cluster
# formed; the nodes keep running in the background. Extra arguments go to every node's
# ringkv, e.g. --rf 2 or --log-level debug.
# Stop the cluster with tools/cluster down; tools/cluster --help says what else it does.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DRKV_FAULT_HOOKS=OFF >/dev/null
cmake --build build-release -j "$(nproc)" --target ringkv ringkv-cli >/dev/null

RINGKV_BIN=build-release/tools/ringkv tools/cluster up 3 --dir ./data/cluster -- "$@"

cat <<'MSG'

  try        build-release/tools/ringkv-cli --addr 127.0.0.1:7100 put hello world
             build-release/tools/ringkv-cli --addr 127.0.0.1:7300 get hello
             build-release/tools/ringkv-cli --http 127.0.0.1:7101 status
  a node     tools/cluster kill 2      (SIGKILL)   tools/cluster start 2   (restart it)
  status     tools/cluster status
  stop       tools/cluster down
MSG
