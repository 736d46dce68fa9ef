#!/usr/bin/env bash
# Installs the Debian 12 packages that ringkv needs to build, test and benchmark, and
# nothing when every one of them is already there. Safe to run again and again; needs root
# (or sudo) only when something is missing. docs/dependencies.md says why each is here.
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config clang libclang-rt-14-dev
    # runtime libraries
    liburing-dev libwiredtiger-dev libmimalloc-dev libxxhash-dev libck-dev
    libinih-dev libjansson-dev libhttp-parser-dev libsodium-dev
    # tests
    libcriterion-dev python3 curl
    # fault-injection suite (tests/faults): ip builds the sandbox's namespaces and bridge, nft
    # cuts its links, libfaketime skews one node's clock (unshare and fallocate are util-linux)
    iproute2 nftables iptables faketime
    # benchmark: the store bench/compare measures ringkv against
    redis-server redis-tools
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
