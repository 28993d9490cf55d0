#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan, UBSan) and runs them.
#   fuzz/run.sh --build-only        configure and build every target
#   fuzz/run.sh TARGET [SECONDS]    build if needed, run TARGET for SECONDS (default 60)
#   fuzz/run.sh all [SECONDS]       run every target of fuzz/targets.txt in turn
# A run starts from the committed seeds (fuzz/corpus/TARGET) plus a working corpus kept in the
# build directory, uses fuzz/dict/TARGET.dict, and prints libFuzzer's final statistics
# (executions, coverage). It fails when libFuzzer finds a crash, a leak, a timeout or an
# out-of-memory input; the input is saved as build/fuzz/artifacts/TARGET-*.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${PARLEY_FUZZ_BUILD_DIR:-$root/build/fuzz}

build_targets() {
  # One build at a time: ctest starts the runs in parallel.
  mkdir -p "$(dirname "$build")"
  exec 9>"$build.lock"
  flock 9
  if [ ! -f "$build/build.ninja" ]; then
    (cd "$root" && cmake --preset fuzz -B "$build" >/dev/null)
  fi
  cmake --build "$build" -j "${JOBS:-$(nproc)}"
  flock -u 9
}

run_target() {
  local t=$1 secs=$2
  local exe=$build/fuzz/fuzz_$t
  [ -x "$exe" ] || build_targets
  local work=$build/corpus/$t artifacts=$build/artifacts
  mkdir -p "$work" "$artifacts"
  echo "fuzz: $t for ${secs}s"
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb bounds memory per input;
  # -max_len covers a frame at the size cap plus headers.
  local start=$SECONDS
  set +e
  (cd "$artifacts" && "$exe" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
     -rss_limit_mb=2048 -max_len=16384 -dict="$here/dict/$t.dict" \
     -artifact_prefix="$artifacts/$t-" "$work" "$here/corpus/$t") >"$build/$t.log" 2>&1
  local rc=$?
  set -e
  # The progress lines are noise here: keep the summary, the final statistics and any report.
  grep -E "^#[0-9]+ +DONE|^stat::|^INFO: (Loaded|seed corpus)|ERROR|WARNING|SUMMARY|runtime error|check failed|Test unit written|^    #[0-9]+ " \
    "$build/$t.log" | head -80 || true
  echo "fuzz: $t finished in $((SECONDS - start))s, exit code $rc"
  return $rc
}

case "${1:-}" in
  --build-only) build_targets ;;
  all|"")
    build_targets
    status=0
    while read -r t; do
      [ -n "$t" ] || continue
      run_target "$t" "${2:-${FUZZ_SECONDS:-60}}" || status=1
    done <"$here/targets.txt"
    exit $status ;;
  *) run_target "$1" "${2:-${FUZZ_SECONDS:-60}}" ;;
esac
