#!/usr/bin/env bash
# Sets everything up and runs every test: unit (plain and ASan+UBSan), integration (bats, real
# ctr), interop (python3-grpcio). Ends with one line "N passed, N failed".
# BERTH_SKIP_SANITIZERS=1 skips the sanitizer build (quicker local runs).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1

passed=0
failed=0
failed_names=()

record() { # name, exit status, passed count, failed count
  passed=$((passed + $3))
  failed=$((failed + $4))
  if [ "$2" -ne 0 ] || [ "$4" -ne 0 ]; then
    failed_names+=("$1")
    if [ "$4" -eq 0 ]; then failed=$((failed + 1)); fi
  fi
}

# meson's summary lines: "Ok: N" and "Fail: N"
meson_suite() { # name, build dir, meson setup args...
  local name=$1 dir=$2
  shift 2
  echo "== $name"
  if ! BERTH_BUILD_DIR="$dir" scripts/build.sh "$@" >"$dir.build.log" 2>&1; then
    cat "$dir.build.log"
    record "$name build" 1 0 1
    return
  fi
  local out rc
  out=$(meson test -C "$dir" --suite unit --print-errorlogs --num-processes 2 2>&1)
  rc=$?
  echo "$out" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout|Skipped):'
  [ $rc -eq 0 ] || echo "$out" | tail -60
  local ok fail
  ok=$(echo "$out" | awk '/^Ok:/ {print $2}')
  fail=$(echo "$out" | awk '/^(Fail|Timeout):/ {s += $2} END {print s + 0}')
  record "$name" $rc "${ok:-0}" "${fail:-0}"
}

meson_suite "unit tests" build
if [ "${BERTH_SKIP_SANITIZERS:-0}" != 1 ]; then
  meson_suite "unit tests under ASan+UBSan" build-asan \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
fi

echo "== integration tests (bats, real ctr)"
out=$(BERTH_BUILD_DIR="$PWD/build" bats --tap tests/integration 2>&1)
rc=$?
echo "$out"
record "integration" $rc "$(echo "$out" | grep -c '^ok ')" "$(echo "$out" | grep -c '^not ok ')"

echo "== interop tests (python3-grpcio)"
out=$(BERTH_BUILD_DIR="$PWD/build" /usr/bin/python3 tests/interop/test_grpcio.py 2>&1)
rc=$?
echo "$out" | grep -E ' \.\.\. |^Ran |^OK|^FAILED'
[ $rc -eq 0 ] || echo "$out" | tail -60
total=$(echo "$out" | awk '/^Ran [0-9]+ test/ {print $2}')
bad=$(echo "$out" | sed -n 's/^FAILED (\(.*\))/\1/p' | tr ',' '\n' | awk -F= '{s += $2} END {print s + 0}')
record "interop" $rc "$(( ${total:-0} - ${bad:-0} ))" "${bad:-0}"

echo
[ ${#failed_names[@]} -eq 0 ] || echo "failing: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
