#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (see fuzz/README.md).
#
#   scripts/fuzz.sh --short            10 s per target, 2 at a time (the test command's run;
#                                      FUZZ_SECONDS=N changes the length)
#   scripts/fuzz.sh                    10 min per target (the documented long run)
#   scripts/fuzz.sh --time 3600 --target feed     one target, one hour
#
# Options:
#   --short            10 s per target (FUZZ_SECONDS overrides), two targets at a time
#   --time SECONDS     seconds per target (default 600)
#   --target NAME      only this target (repeatable): registry item_parser
#                      workorder_log feed client_ws query ws_frames fan_out
#   --jobs N           run N targets at once (default 1; the machine is shared)
#   --no-build         use the existing build (build/fuzz, or --build-dir)
#   --build-dir DIR    where the fuzzers are (default build/fuzz; the dev
#                      preset's build/dev has them too)
#   --merge            afterwards, minimise the run's new inputs into
#                      fuzz/corpus/<target>/ (review before committing)
#
# Builds the `fuzz` CMake preset (clang, -fsanitize=fuzzer,address,undefined)
# in build/fuzz. Each target starts from fuzz/corpus/<target>/ plus
# fuzz/regressions/<target>/ copied to build/fuzz/work/<target>/ (the
# committed seeds are not modified). Prints, per target, the run length, the
# executions and libFuzzer's final coverage (cov: edges, ft: features, corp:
# inputs kept). A crash stops that target: the input is saved to
# build/fuzz/artifacts/<target>/ and the script exits 1 after the others ran.
# Keep a fixed crash as a regression with
#   cp build/fuzz/artifacts/<target>/crash-* fuzz/regressions/<target>/
# (replayed by the ctest fuzz_replay.<target> in every build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECONDS_PER_TARGET=600
JOBS=1
BUILD=1
MERGE=0
BUILD_DIR_ARG=""
TARGETS=()
ALL_TARGETS=(registry item_parser workorder_log feed client_ws query ws_frames fan_out)

while (($#)); do
  case "$1" in
    --short) SECONDS_PER_TARGET="${FUZZ_SECONDS:-10}"; JOBS=2 ;;
    --time) SECONDS_PER_TARGET="$2"; shift ;;
    --target) TARGETS+=("$2"); shift ;;
    --jobs) JOBS="$2"; shift ;;
    --no-build) BUILD=0 ;;
    --build-dir) BUILD_DIR_ARG="$2"; shift ;;
    --merge) MERGE=1 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

BUILD_DIR="${BUILD_DIR_ARG:-$ROOT/build/fuzz}"
if ((BUILD)); then
  command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j2 --target fuzzers
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

max_len_for() {
  case "$1" in
    item_parser) echo 65536 ;;
    workorder_log|feed|client_ws|ws_frames|fan_out) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

run_one() {
  local t="$1" bin="$BUILD_DIR/fuzz/${t}_fuzzer"
  local work="$BUILD_DIR/work/$t" art="$BUILD_DIR/artifacts/$t" log="$BUILD_DIR/logs/$t.log"
  [[ -x "$bin" ]] || { echo "$t: $bin is missing (build the fuzz preset)"; return 1; }
  mkdir -p "$work" "$art" "$(dirname "$log")"
  cp -n "$ROOT/fuzz/corpus/$t/"* "$work/" 2>/dev/null || true
  cp -n "$ROOT/fuzz/regressions/$t/"* "$work/" 2>/dev/null || true
  local t0=$SECONDS rc=0
  "$bin" "$work" -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len_for "$t")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" \
    >"$log" 2>&1 || rc=$?
  local dt=$((SECONDS - t0))
  local done_line runs
  done_line="$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 || true)"
  runs="$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' || true)"
  local cov ft corp
  cov="$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$done_line")"
  ft="$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$done_line")"
  corp="$(sed -nE 's/.*corp: ([0-9]+\/[0-9A-Za-z]+).*/\1/p' <<<"$done_line")"
  if ((rc == 0)); then
    printf '%-14s ok     %4ds  runs=%-9s cov=%-5s ft=%-6s corp=%s\n' "$t" "$dt" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  else
    printf '%-14s FAILED %4ds  runs=%-9s cov=%-5s ft=%-6s (exit %d; log %s)\n' "$t" "$dt" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$rc" "$log"
    grep -E 'ERROR: |FUZZ_CHECK|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/    /'
    return 1
  fi
  if ((MERGE)); then
    "$bin" -merge=1 -max_len="$(max_len_for "$t")" "$ROOT/fuzz/corpus/$t" "$work" >>"$log" 2>&1 || true
  fi
}

echo "fuzzing ${#TARGETS[@]} target(s), ${SECONDS_PER_TARGET}s each, $JOBS at a time"
failed=0
if ((JOBS <= 1)); then
  for t in "${TARGETS[@]}"; do run_one "$t" || failed=1; done
else
  pids=()
  outs=()
  for t in "${TARGETS[@]}"; do
    out="$(mktemp)"; outs+=("$out")
    run_one "$t" >"$out" 2>&1 & pids+=($!)
    while (($(jobs -rp | wc -l) >= JOBS)); do sleep 1; done
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed=1
    cat "${outs[$i]}"; rm -f "${outs[$i]}"
  done
fi
if ((failed)); then
  echo "fuzz.sh: a target crashed or failed; inputs in $BUILD_DIR/artifacts/<target>/"
  exit 1
fi
echo "fuzz.sh: all targets ran clean"
