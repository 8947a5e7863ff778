#!/usr/bin/env bash
# The one test command of coderef-live (`make test`; CI runs it through .ci/run
# with CI=true). Stages run in order, each with a header and its duration;
# the first failure stops the run with the stage's name and what to look at.
#
#   1 deps        scripts/install-deps.sh --web
#   2 build       cmake --preset release -DCODEREF_WERROR=ON && cmake --build --preset release -j2
#                 (warnings are errors: CODEREF_WERROR=0 turns that off)
#   3 ctest       ctest --preset release (unit + integration in parallel, e2e serially)
#   4 web         npm --prefix web run build / test / e2e
#   5 compose     docker-compose config -q with .env.example and with no .env;
#                 in CI (or COMPOSE_E2E=1) tests/compose/run.sh: the real
#                 images and compose file under a Docker engine (started here
#                 if none runs): build, up, healthy, REST/WebSocket/edit
#                 through nginx, a gateway killed, the watcher restarted, down
#   6 packages    in CI (or PACKAGES_E2E=1) tests/packages/run.sh: the .debs
#                 (scripts/package.sh), lintian, systemd-analyze verify,
#                 dpkg -i into a fresh Debian container, services as their
#                 units say, REST and an edit, upgrade, purge
#   7 topology    tests/topology/run.sh
#   8 bench       scripts/bench.sh --smoke
#   9 sanitizers  dev preset (clang, ASan+UBSan, + fuzzers): build + ctest;
#                 tsan preset: build (TSAN_TARGETS) + ctest -L concurrency
#                 (only when CI=true or CODEREF_SANITIZERS=1)
#  10 fuzz        scripts/fuzz.sh --short: every libFuzzer target for 10 s
#                 (the fuzzers of stage 9's dev build, or else it builds the
#                 fuzz preset)
#
# Stages 5 and 6 print "skipped: no Docker engine" (and pass) when no engine
# runs and none can be started (not root, no dockerd).
#
# Environment:
#   SKIP_DEPS=1 SKIP_BUILD=1 SKIP_CTEST=1 SKIP_WEB=1 SKIP_COMPOSE=1 SKIP_PACKAGES=1
#   SKIP_TOPOLOGY=1 SKIP_BENCH=1 SKIP_SANITIZERS=1 SKIP_FUZZ=1   skip that stage
#   COMPOSE_E2E=1          run stage 5's end-to-end test outside CI too (0: off in CI)
#   PACKAGES_E2E=1         run stage 6 outside CI too (0: off in CI)
#   CODEREF_WERROR=0       stage 2 without -Werror
#   CODEREF_SANITIZERS=1   run stage 9 outside CI too (0 turns it off in CI)
#   CTEST_PARALLEL=2       parallel ctest jobs for unit/integration tests
#   CTEST_TIMEOUT=300      per-test timeout (s) for tests without their own
#   JOBS=2                 build parallelism
#   CTEST_ARGS="..."       extra ctest arguments (e.g. "-R watcher")
#   TSAN_TARGETS="a b"     build only these targets in the tsan preset (default: the
#                          services and the concurrency-labelled tests' binaries)
#   FUZZ_SECONDS=10        seconds per fuzz target in stage 10
#
# Time budget (CI=true, every stage, 2 cores; measured 2026-12-06 on a clone
# of this repository): deps 0m08s (installed), build 3m59s, ctest 2m02s, web
# 0m43s, compose 4m13s (the images' compile is most of it), packages 0m27s,
# topology 0m13s, bench 0m46s, sanitizers 8m14s (ASan+UBSan dev build and
# ctest, TSan build of the concurrency tests' targets and their ctest), fuzz
# 0m59s: about 22 minutes. A machine's first run adds the package installs
# (a few minutes) and about 3 minutes for the debootstrap of the base image
# stand-ins (cached in /var/cache/coderef-live/base-images); the compose
# stage takes about 1 minute when no source changed since its last run (the
# engine's layer cache).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

JOBS="${JOBS:-2}"
CTEST_PARALLEL="${CTEST_PARALLEL:-2}"
CTEST_TIMEOUT="${CTEST_TIMEOUT:-300}"
read -r -a CTEST_EXTRA <<<"${CTEST_ARGS:-}"

if [[ -t 1 ]]; then B=$'\033[1m' G=$'\033[32m' R=$'\033[31m' Y=$'\033[33m' N=$'\033[0m'
else B="" G="" R="" Y="" N=""; fi

NSTAGES=10
SUMMARY=()
PASSED_SKIPS=()
RUN_START=$SECONDS

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# stage <n> <name> <skip var> <function>: a function returning 99 means "nothing to do here".
# Runs <function> in a subshell with errexit, so the first failing command
# inside the stage fails the stage (a plain `if fn` would disable errexit).
stage() {
  local n="$1" name="$2" skipvar="$3" fn="$4"
  if [[ "${!skipvar:-}" == 1 ]]; then
    printf '%s==> [%s/%s] %s: skipped (%s=1)%s\n' "$Y" "$n" "$NSTAGES" "$name" "$skipvar" "$N"
    SUMMARY+=("$(printf '%-11s skipped (%s=1)' "$name" "$skipvar")")
    return 0
  fi
  printf '\n%s==> [%s/%s] %s%s\n' "$B" "$n" "$NSTAGES" "$name" "$N"
  local t0=$SECONDS rc
  set +e
  ( set -euo pipefail; "$fn" )
  rc=$?
  set -e
  local dt=$((SECONDS - t0))
  if ((rc == 0)); then
    printf '%s==> [%s/%s] %s: ok in %s%s\n' "$G" "$n" "$NSTAGES" "$name" "$(fmt_secs $dt)" "$N"
    SUMMARY+=("$(printf '%-11s ok       %s' "$name" "$(fmt_secs $dt)")")
    # (the build is incremental: never suggest skipping it)
    [[ "$skipvar" == SKIP_BUILD ]] || PASSED_SKIPS+=("$skipvar=1")
  elif ((rc == 99)); then  # the stage decided it had nothing to do
    printf '%s==> [%s/%s] %s: not applicable (%s)%s\n' "$Y" "$n" "$NSTAGES" "$name" "$(fmt_secs $dt)" "$N"
    SUMMARY+=("$(printf '%-11s n/a' "$name")")
  else
    printf '\n%s==> [%s/%s] %s: FAILED (exit %s) after %s%s\n' "$R" "$n" "$NSTAGES" "$name" "$rc" "$(fmt_secs $dt)" "$N"
    printf '    the cause is in the output just above this line.\n'
    if ((${#PASSED_SKIPS[@]})); then
      printf '    to retry from this stage: %s scripts/test.sh\n' "${PASSED_SKIPS[*]}"
    fi
    print_summary
    exit "$rc"
  fi
}

print_summary() {
  printf '\n%sSummary%s (total %s)\n' "$B" "$N" "$(fmt_secs $((SECONDS - RUN_START)))"
  local line
  for line in "${SUMMARY[@]+"${SUMMARY[@]}"}"; do printf '  %s\n' "$line"; done
}

# ctest_run <preset> <args...>: the ctest call shared by stages 3 and 9.
ctest_run() {
  local preset="$1"; shift
  ctest --preset "$preset" --timeout "$CTEST_TIMEOUT" --no-tests=error \
    "${CTEST_EXTRA[@]+"${CTEST_EXTRA[@]}"}" "$@"
}

# What `ctest -L concurrency` needs in the tsan preset: the two services and
# the test binaries that carry the label (check with
# `ctest --preset tsan -N -L concurrency` after a full tsan build).
TSAN_DEFAULT_TARGETS="watcher-svc gateway-svc faults_system_test faults_hostile_test gateway_integration_test watcher_integration_test"

# --- stages -------------------------------------------------------------------
st_deps() { scripts/install-deps.sh --web; }

st_build() {
  cmake --preset release -DCODEREF_WERROR="$([[ "${CODEREF_WERROR:-1}" == 0 ]] && echo OFF || echo ON)"
  cmake --build --preset release -j"$JOBS"
}

st_ctest() {
  [[ -f build/release/CTestTestfile.cmake ]] || { echo "no build/release: run the build stage"; return 1; }
  echo "--- unit + integration (-LE e2e, -j$CTEST_PARALLEL)"
  ctest_run release -LE e2e -j"$CTEST_PARALLEL"
  echo "--- e2e (serial: they start real binaries and time them)"
  ctest_run release -L e2e
}

st_web() {
  export CODEREF_BUILD_DIR="$ROOT/build/release"
  npm --prefix web run build
  npm --prefix web test
  npm --prefix web run e2e
}

st_compose() {
  command -v docker-compose >/dev/null || { echo "docker-compose is not installed"; return 1; }
  # Validate with the documented example values and with the built-in
  # defaults (no env file at all); neither needs a Docker engine.
  docker-compose --env-file .env.example -f docker-compose.yml config -q
  local empty; empty="$(mktemp)"
  docker-compose --env-file "$empty" -f docker-compose.yml config -q
  rm -f "$empty"
  echo "docker-compose.yml is valid"
  if ! want_stage COMPOSE_E2E; then
    echo "end-to-end test: off (runs when CI=true or COMPOSE_E2E=1)"
    return 0
  fi
  docker_stage tests/compose/run.sh
}

# want_stage <VAR>: CI runs it unless VAR=0; outside CI only with VAR=1.
want_stage() {
  local want=0
  [[ "${CI:-}" == true || "${CI:-}" == 1 ]] && want=1
  [[ -n "${!1:-}" ]] && want="${!1}"
  [[ "$want" == 1 ]]
}

# docker_stage <script>: runs a Docker-based test; its exit 77 (no engine
# could be started) is a skip with the script's reason above.
docker_stage() {
  local rc=0
  bash "$1" || rc=$?
  if ((rc == 77)); then
    echo "skipped: no Docker engine could be started (reason above); the stage passes without it"
    return 0
  fi
  return "$rc"
}

st_packages() {
  if ! want_stage PACKAGES_E2E; then
    echo "off (runs when CI=true or PACKAGES_E2E=1)"
    return 99
  fi
  docker_stage tests/packages/run.sh
}

st_topology() {
  bash tests/topology/run.sh
}

st_bench() {
  bash scripts/bench.sh --smoke
}

st_sanitizers() {
  if ! want_stage CODEREF_SANITIZERS; then
    echo "off (runs when CI=true or CODEREF_SANITIZERS=1)"
    return 99
  fi
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  # (TSAN_OPTIONS, with the suppressions in tests/tsan.supp: the tsan test preset)
  echo "--- dev preset (ASan+UBSan): build"
  cmake --preset dev
  cmake --build --preset dev -j"$JOBS"
  echo "--- dev preset: ctest"
  ctest_run dev -j"$CTEST_PARALLEL"
  echo "--- tsan preset: build${TSAN_TARGETS:+ (targets: $TSAN_TARGETS)}"
  cmake --preset tsan
  local targets=()
  read -r -a targets <<<"${TSAN_TARGETS:-$TSAN_DEFAULT_TARGETS}"
  cmake --build --preset tsan -j"$JOBS" ${targets[@]+--target "${targets[@]}"}
  echo "--- tsan preset: ctest -L concurrency"
  ctest_run tsan -L concurrency -j"$CTEST_PARALLEL"
}

st_fuzz() {
  # Stage 9's dev build (clang, ASan+UBSan) holds the fuzzers: reuse it.
  if [[ -x build/dev/fuzz/registry_fuzzer && "${SKIP_SANITIZERS:-}" != 1 ]]; then
    cmake --build --preset dev -j"$JOBS" --target fuzzers
    scripts/fuzz.sh --short --no-build --build-dir "$ROOT/build/dev"
  else
    scripts/fuzz.sh --short
  fi
}

stage 1 deps       SKIP_DEPS       st_deps
stage 2 build      SKIP_BUILD      st_build
stage 3 ctest      SKIP_CTEST      st_ctest
stage 4 web        SKIP_WEB        st_web
stage 5 compose    SKIP_COMPOSE    st_compose
stage 6 packages   SKIP_PACKAGES   st_packages
stage 7 topology   SKIP_TOPOLOGY   st_topology
stage 8 bench      SKIP_BENCH      st_bench
stage 9 sanitizers SKIP_SANITIZERS st_sanitizers
stage 10 fuzz      SKIP_FUZZ       st_fuzz

print_summary
printf '%sall stages passed%s\n' "$G" "$N"
