#!/usr/bin/env bash
# Sets everything up (dependencies, build) and runs berthd on its embedded defaults.
# Arguments are passed to berthd, e.g. scripts/run.sh --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
exec "${BERTH_BUILD_DIR:-build}/cmd/berthd/berthd" "$@"
