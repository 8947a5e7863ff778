#!/usr/bin/env bash
# Bounded soak of the whole system (not part of the default test run):
# one watcher, two gateways, 1,000 WebSocket clients reconnecting at random
# (resuming on either gateway), 50 changes/s on disk, for 10 minutes. Every
# client checks its stream (no silent hole, no duplicate); at the end every
# client must reach the final seq and both gateways' REST state must equal
# the disk. Prints the figures, including the RSS of each service (start,
# after warm-up, max, end, growth). Exit 0 on PASS.
#
#   scripts/soak.sh                          the documented run (~11 min)
#   scripts/soak.sh --duration 60 --clients 200     a quick one
#
# Options (passed to scripts/soak.py):
#   --duration S        seconds of load (default 600)
#   --clients N         WebSocket clients (default 1000)
#   --rate R            changes per second (default 50)
#   --gateways G        gateways (default 2)
#   --reconnect-mean S  mean connection lifetime before a random reconnect (default 60)
#   --workers W         client processes (default 2)
#   --keep              keep the workspace and the services' logs
# Environment: BUILD_DIR (default build/release; built with the release
# preset unless SKIP_BUILD=1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/release}"
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  if [[ "$BUILD_DIR" == "$ROOT/build/release" ]]; then
    cmake --preset release >/dev/null
    cmake --build --preset release -j2 --target watcher-svc gateway-svc
  else
    cmake --build "$BUILD_DIR" -j2 --target watcher-svc gateway-svc
  fi
fi
# Debian's python3 has python3-websockets; a pyenv python first on PATH may not.
PY=/usr/bin/python3
"$PY" -c 'import websockets' 2>/dev/null || { echo "soak.sh: $PY lacks websockets (apt-get install python3-websockets)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$PY" "$ROOT/scripts/soak.py" --build-dir "$BUILD_DIR" "$@"
