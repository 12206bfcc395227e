#!/usr/bin/env bash
# Configures (once) and builds Berth into build/ (or $BERTH_BUILD_DIR); extra args go to meson setup.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BERTH_BUILD_DIR:-build}"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$@" >/dev/null
fi
ninja -C "$build"
