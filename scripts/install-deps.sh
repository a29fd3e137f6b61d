#!/usr/bin/env bash
# Installs what building and testing Strata needs on a fresh Debian 12
# machine (as root). Packages already present are left alone.
set -euo pipefail

packages=(build-essential cmake pkg-config git libgtest-dev libgmock-dev libbenchmark-dev
          nlohmann-json3-dev
          iproute2 python3
          # launchers (mpirun tests, perf tools' MPI_Bcast of the unique id)
          libopenmpi-dev openmpi-bin
          # optional TLS on tcp connections (STRATA_TLS)
          libssl-dev
          # fuzzing in CI (scripts/fuzz.sh)
          clang-14 libclang-rt-14-dev)
# Optional extras: peers for comparison benchmarks, link limits and plots.
if [ "${STRATA_INSTALL_PEERS:-0}" = "1" ]; then
  packages+=(libgloo-dev gnuplot iperf3)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
