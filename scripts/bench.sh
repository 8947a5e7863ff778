#!/usr/bin/env bash
# The benchmark in one command (`make bench`): ours (watcher-svc +
# gateway-svc) against the Node.js peer (bench/peers/node), side by side on
# this machine, with the same load client. See docs/PERFORMANCE.md.
#
#   scripts/bench.sh                 full run: 7 scenarios, tables, JSON in bench/results/,
#                                    exit 1 when a performance target is missed
#   scripts/bench.sh --smoke         small sizes (< ~60 s): checks that it runs and that
#                                    nothing is lost or duplicated; no performance thresholds
#   scripts/bench.sh --report-only   full run, exit 0 even when a target is missed
#   scripts/bench.sh --update-docs   also write the table into docs/PERFORMANCE.md
#   scripts/bench.sh --scenarios lone,burst   a subset (lone, burst, idle, ingest, scale, slow, http)
#   scripts/bench.sh --baseline-build-dir DIR also run the burst with the binaries in DIR (before/after)
#   scripts/bench.sh --no-peer       ours only
#
# Environment: JOBS=2 (build parallelism), SKIP_BUILD=1 (use the existing
# build/release), NODE=/path/to/node.
# Exit status: 0 ok; 1 a performance target missed; 2 it did not run, or
# events were lost or duplicated.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-2}"

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  echo "==> build (release preset)"
  cmake --preset release >/dev/null
  cmake --build --preset release -j"$JOBS" --target watcher-svc gateway-svc ws_load feed_tool fs_burst
fi

# The Node.js peer's dependencies (package-lock.json is committed).
if [[ -n "${NODE:-}" ]]; then export PATH="$(dirname "$NODE"):$PATH"; fi
if command -v node >/dev/null && command -v npm >/dev/null; then
  peer=bench/peers/node
  if [[ ! -d "$peer/node_modules" || "$peer/package-lock.json" -nt "$peer/node_modules/.package-lock.json" ]]; then
    echo "==> npm ci ($peer)"
    npm ci --prefix "$peer" --no-audit --no-fund --loglevel=error
  fi
else
  echo "bench: node/npm not found; the peer is skipped" >&2
  set -- --no-peer "$@"
fi

# 10,000 connections: the load client and the server each hold 10,000+
# sockets (separate processes). Raise the soft limit as far as allowed.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ "$(ulimit -n)" != unlimited ]] && (( $(ulimit -n) < 10500 )); then
  echo "bench: warning: only $(ulimit -n) file descriptors per process; the 10,000-client scenario needs ~10,100 (raise the hard limit: ulimit -Hn, /etc/security/limits.conf)" >&2
fi

exec python3 bench/run_bench.py "$@"
