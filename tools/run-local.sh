#!/usr/bin/env bash
# Builds ringkv (Release) and starts a local node in the foreground, with its data under
# ./data by default. Extra arguments go to the server, e.g. --shards 1 or --listen ADDR.
# Stop it with Ctrl-C (or SIGTERM): it answers what is in flight, flushes and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j "$(nproc)" --target ringkv ringkv-cli >/dev/null

listen=127.0.0.1:7379
data=./data
for ((i = 1; i <= $#; i++)); do
    case "${!i}" in
    --listen) j=$((i + 1)); listen=${!j} ;;
    --listen=*) listen=${!i#--listen=} ;;
    --data) j=$((i + 1)); data=${!j} ;;
    --data=*) data=${!i#--data=} ;;
    esac
done

cat <<MSG
ringkv: starting a local node
  binary protocol  $listen   (try: build-release/tools/ringkv-cli --addr $listen put hello world)
  HTTP/JSON API    see the log line below (default 127.0.0.1:8080; --http ADDR or --http off)
  data             $data
  stop             Ctrl-C here, or kill -TERM <pid> (printed below)
MSG
exec build-release/tools/ringkv --node-id local1 --data "$data" --listen "$listen" "$@"
