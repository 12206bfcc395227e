#!/usr/bin/env bash
# Installs every build, test and run dependency of Berth from Debian, idempotently.
set -euo pipefail

build_pkgs=(
  build-essential pkg-config meson ninja-build clang-format
  protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev protobuf-compiler
  libnghttp2-dev libuv1-dev liblmdb-dev libssl-dev
  libcmocka-dev libarchive-dev libjson-c-dev zlib1g-dev
  libisal-dev libzstd-dev
)
test_pkgs=(
  bats python3 python3-grpcio python3-protobuf
  containerd runc busybox-static jq
)

want=("${build_pkgs[@]}")
[ "${1:-}" = "--runtime-only" ] || want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # The containerd package is only a client peer for tests: keep its daemon from starting.
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
