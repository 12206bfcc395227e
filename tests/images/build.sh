#!/usr/bin/env bash
# Builds Berth's test image archives from Debian's busybox-static, offline and deterministically.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
outdir=$1
busybox=${BUSYBOX:-/bin/busybox}
banner=$("$busybox" 2>&1 | head -1 || true)
if [ ! -x "$busybox" ] || [[ "$banner" != BusyBox* ]]; then
  echo "$0: $busybox is not a BusyBox binary (install busybox-static)" >&2
  exit 77
fi
# Debian's python3 (the project does not rely on a user's pyenv or venv).
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)

arch=${TEST_IMAGE_ARCH:-$(dpkg --print-architecture 2>/dev/null || uname -m)}
mkdir -p "$outdir"
exec "$python" "$(dirname "$0")/build.py" "$outdir" "$busybox" "$arch"
