#!/usr/bin/env bash
# Failover test of the container-free topology (scripts/test.sh stage 7).
#
# Starts scripts/topology.sh on free high loopback ports with a temporary
# run folder and workspace (a developer's `make topology` on 8080 is not
# touched): a watcher, gateway-1 and gateway-2, and nginx whose upstream also
# lists a spare third port. tests/topology/topology_test.py then drives 200
# WebSocket clients through nginx while a writer changes plan.json files,
# starts gateway-3 (`topology.sh add-gateway`), SIGKILLs gateway-1, and
# checks that every client resumes and ends with every event exactly once,
# in order, as the ZeroMQ feed (examples/feed_subscriber.py) saw them.
# See the driver's docstring for the full list of checks.
#
#   bash tests/topology/run.sh            exit 0 pass, 1 fail
#
# Environment (optional):
#   CODEREF_BUILD_DIR=build/release   binaries (built here if missing)
#   CODEREF_TOPOLOGY_ARGS="--clients 200 --rate 20"   extra driver arguments
#   CODEREF_TOPOLOGY_KEEP=1           keep the temp folder (logs) after the run
#   CODEREF_TOPOLOGY_SEED=1           the writer's random seed
#
# Every process started here is stopped by PID on any exit (trap): the
# topology through `topology.sh stop`, the driver and its feed subscriber
# by their recorded PIDs.
# shellcheck disable=SC2317  # functions reached through the EXIT trap
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY=/usr/bin/python3
START=$SECONDS

say() { printf 'topology-test: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

# --- prerequisites -------------------------------------------------------------
export CODEREF_BUILD_DIR="${CODEREF_BUILD_DIR:-$ROOT/build/release}"
if [[ ! -x "$CODEREF_BUILD_DIR/watcher-svc/watcher-svc" || ! -x "$CODEREF_BUILD_DIR/gateway-svc/gateway-svc" ]]; then
  [[ "$CODEREF_BUILD_DIR" == "$ROOT/build/release" ]] || die "no binaries in $CODEREF_BUILD_DIR"
  say "building watcher-svc and gateway-svc (release preset)"
  cmake --preset release >/dev/null
  cmake --build --preset release -j2 --target watcher-svc gateway-svc
fi
[[ -x /usr/sbin/nginx || -n "${NGINX:-}" ]] || die "nginx not found (scripts/install-deps.sh)"
command -v protoc >/dev/null || die "protoc not found (apt-get install protobuf-compiler)"
"$PY" -c 'import websockets, zmq, google.protobuf' 2>/dev/null \
  || die "$PY lacks python3-websockets / python3-zmq / python3-protobuf"

# --- scratch folder, cleanup ----------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/coderef-topology-test.XXXXXX")"
chmod 755 "$TMP"  # nginx workers (nobody when run as root) must reach their temp dirs
PIDFILE="$TMP/helpers.pids"  # "<pid> <command-line marker>" of the driver and its helpers
: >"$PIDFILE"
export CODEREF_RUN_DIR="$TMP/run"
DRIVER_PID=""

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# ours <pid> <marker>: the PID still runs a command line holding <marker> (not
# a recycled PID).
ours() {
  local argv
  [[ -r "/proc/$1/cmdline" ]] || return 1
  argv="$( { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null)" || return 1
  [[ "$argv" == *"$2"* ]]
}

stop_pid() {  # stop_pid <pid>: TERM, wait up to 5 s, KILL
  local pid="$1" i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do pid_alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if pid_alive "$DRIVER_PID"; then stop_pid "$DRIVER_PID"; fi
  local pid marker
  while read -r pid marker; do
    if ours "$pid" "$marker"; then stop_pid "$pid"; fi
  done <"$PIDFILE"
  if [[ -d "$CODEREF_RUN_DIR/pids" ]]; then
    scripts/topology.sh stop 2>&1 | sed 's/^/  /' || true
  fi
  if ((rc != 0)) && [[ -d "$CODEREF_RUN_DIR/logs" ]]; then
    local f
    for f in "$CODEREF_RUN_DIR"/logs/*.log "$CODEREF_RUN_DIR/nginx/error.log" "$TMP/feed_subscriber.stderr"; do
      [[ -s "$f" ]] || continue
      say "last lines of ${f#"$TMP"/}:"
      tail -n 8 "$f" | sed 's/^/  /'
    done
  fi
  if [[ "${CODEREF_TOPOLOGY_KEEP:-}" == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
  say "$( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - START))s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- workspace: two projects with a few plans -------------------------------------
WS="$TMP/workspace"
mkdir -p "$WS"
cat >"$WS/projects.json" <<'EOF'
{"projects": [{"name": "alpha", "path": "alpha"}, {"name": "Beta", "path": "beta", "id": "beta"}]}
EOF
for p in alpha beta; do
  for f in seed-one seed-two; do
    mkdir -p "$WS/$p/coderef/working/$f"
    printf '{"META_DOCUMENTATION": {"feature_name": "%s", "status": "planning", "project": "%s"}}\n' \
      "$f" "$p" >"$WS/$p/coderef/working/$f/plan.json"
  done
  mkdir -p "$WS/$p/coderef/archived"
done
export CODEREF_PROJECTS="$WS/projects.json"

# --- free high ports, then the topology ---------------------------------------------
# Random ports below the ephemeral range, checked free (bind) here; topology.sh
# checks again and refuses busy ones, so a race just means another attempt.
free_ports() {
  "$PY" - "$1" <<'EOF'
import random, socket, sys
n, out = int(sys.argv[1]), []
while len(out) < n:
    p = random.randrange(20000, 32000)
    if p in out:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        out.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(*out)
EOF
}

started=0
for attempt in 1 2 3; do
  read -r P_PUB P_SNAP P_WHTTP P_GW1 P_GW2 P_GW3 P_NGINX <<<"$(free_ports 7)"
  export CODEREF_PUB_PORT=$P_PUB CODEREF_SNAPSHOT_PORT=$P_SNAP CODEREF_WATCHER_HTTP_PORT=$P_WHTTP
  export CODEREF_GATEWAY_PORTS="$P_GW1 $P_GW2" CODEREF_SPARE_GATEWAY_PORTS="$P_GW3"
  export CODEREF_NGINX_PORT=$P_NGINX CODEREF_READY_TIMEOUT=30
  say "attempt $attempt: nginx :$P_NGINX, gateways :$P_GW1 :$P_GW2 (spare :$P_GW3), feed :$P_PUB"
  if scripts/topology.sh start >"$TMP/topology-start.out" 2>&1; then started=1; break; fi
  sed 's/^/  /' "$TMP/topology-start.out"
done
((started)) || die "scripts/topology.sh start failed 3 times"
sed 's/^/  /' "$TMP/topology-start.out"

# --- the driver ----------------------------------------------------------------------
read -r -a EXTRA <<<"${CODEREF_TOPOLOGY_ARGS:-}"
# (the driver has its own 90 s deadline; timeout is the backstop)
timeout -k 5 120 "$PY" tests/topology/topology_test.py --env "$CODEREF_RUN_DIR/topology.env" \
  --tmp "$TMP" --pidfile "$PIDFILE" --deadline 90 "${EXTRA[@]+"${EXTRA[@]}"}" &
DRIVER_PID=$!
echo "$DRIVER_PID topology_test.py" >>"$PIDFILE"
set +e
wait "$DRIVER_PID"
rc=$?
set -e
DRIVER_PID=""
exit "$rc"
