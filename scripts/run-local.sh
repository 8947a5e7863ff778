#!/usr/bin/env bash
# Runs coderef-live on this machine for a demo: installs missing deps, builds
# the release preset and the dashboard, copies examples/demo-workspace to a
# run folder (so your edits never dirty the repo), starts watcher-svc and
# gateway-svc on loopback, waits for /readyz and prints where to look.
# Ctrl-C stops both services (by PID) and exits.
#
#   scripts/run-local.sh            (or: make run)
#
# Environment (all optional):
#   CODEREF_PUB_PORT=5556           watcher PUB (--pub)
#   CODEREF_SNAPSHOT_PORT=5557      watcher snapshot ROUTER (--snapshot)
#   CODEREF_WATCHER_HTTP_PORT=9100  watcher /healthz, /metrics (--http)
#   CODEREF_GATEWAY_PORT=8000       gateway HTTP + WebSocket (--listen)
#   CODEREF_PROJECTS=<file>         use this projects.json in place (no copy)
#   CODEREF_RUN_DIR=<dir>           run folder (default: a new /tmp/coderef-live-run.*);
#                                   the watcher's durable state is <dir>/state
#                                   (WATCHER_STATE_DIR overrides), so a fixed run
#                                   folder keeps the epoch across runs
#   CODEREF_BUILD_DIR=build/release where the binaries are
#   CODEREF_READY_TIMEOUT=30        seconds to wait for /readyz
#   SKIP_DEPS=1 SKIP_BUILD=1 SKIP_WEB=1   skip those steps
#   Any WATCHER_* / GATEWAY_* variable is passed through to the services
#   (e.g. WATCHER_LOG_FORMAT=json, GATEWAY_TOKEN=secret).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HOST=127.0.0.1
PUB_PORT="${CODEREF_PUB_PORT:-5556}"
SNAPSHOT_PORT="${CODEREF_SNAPSHOT_PORT:-5557}"
WATCHER_HTTP_PORT="${CODEREF_WATCHER_HTTP_PORT:-9100}"
GATEWAY_PORT="${CODEREF_GATEWAY_PORT:-8000}"
BUILD_DIR="${CODEREF_BUILD_DIR:-$ROOT/build/release}"
READY_TIMEOUT="${CODEREF_READY_TIMEOUT:-30}"

if [[ -t 2 ]]; then say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
else say() { printf '==> %s\n' "$*" >&2; }; fi
die() { printf 'run-local: %s\n' "$*" >&2; exit 1; }

# True when something accepts TCP connections on host:port.
port_busy() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# --- 1. dependencies, build, dashboard -------------------------------------
if [[ "${SKIP_DEPS:-}" != 1 ]]; then
  say "dependencies (scripts/install-deps.sh --web)"
  scripts/install-deps.sh --web
fi
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  # Only the two services: a demo should not wait for (or fail on) the tests.
  say "release build (cmake --preset release; targets watcher-svc gateway-svc)"
  cmake --preset release >/dev/null
  cmake --build --preset release -j2 --target watcher-svc gateway-svc
fi
if [[ "${SKIP_WEB:-}" != 1 && -f web/package.json ]]; then
  say "dashboard (npm --prefix web run build)"
  npm --prefix web run build
fi

WATCHER_BIN="$BUILD_DIR/watcher-svc/watcher-svc"
GATEWAY_BIN="$BUILD_DIR/gateway-svc/gateway-svc"
[[ -x "$WATCHER_BIN" ]] || die "no $WATCHER_BIN (did the build produce it?)"
[[ -x "$GATEWAY_BIN" ]] || die "no $GATEWAY_BIN (did the build produce it?)"

for p in "$PUB_PORT" "$SNAPSHOT_PORT" "$WATCHER_HTTP_PORT" "$GATEWAY_PORT"; do
  port_busy "$HOST" "$p" && die "port $HOST:$p is in use (stop what holds it, or set CODEREF_*_PORT)"
done

# --- 2. run folder and workspace --------------------------------------------
RUN_DIR="${CODEREF_RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/coderef-live-run.XXXXXX")}"
mkdir -p "$RUN_DIR"
if [[ -n "${CODEREF_PROJECTS:-}" ]]; then
  [[ -f "$CODEREF_PROJECTS" ]] || die "CODEREF_PROJECTS=$CODEREF_PROJECTS is not a file"
  PROJECTS="$(cd "$(dirname "$CODEREF_PROJECTS")" && pwd)/$(basename "$CODEREF_PROJECTS")"
  WS="$(dirname "$PROJECTS")"
  EXTRA_WATCHER_ARGS=()
else
  WS="$RUN_DIR/workspace"
  rm -rf "$WS"
  cp -a examples/demo-workspace "$WS"
  PROJECTS="$WS/projects.json"
  EXTRA_WATCHER_ARGS=(--workorder-log "$WS/workorder-log.txt")
fi

# The watcher's durable state (PROTOCOL §1 (restarts)): restarts keep the epoch.
if [[ -z "${WATCHER_STATE_DIR:-}" ]]; then
  EXTRA_WATCHER_ARGS+=(--state-dir "$RUN_DIR/state")
fi

# --- 3. start, stop on exit --------------------------------------------------
WATCHER_PID=""
GATEWAY_PID=""
TAIL_PID=""
stop_all() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "$TAIL_PID" ]] && kill "$TAIL_PID" 2>/dev/null
  local pids=()
  for pid in "$GATEWAY_PID" "$WATCHER_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  # The services exit within 2 s of SIGTERM (docs/OPERATIONS.md); then force.
  local deadline=$((SECONDS + 5))
  for pid in "${pids[@]+"${pids[@]}"}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run-local: PID $pid ignored SIGTERM for 5 s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  ((${#pids[@]})) && echo "run-local: stopped (logs and workspace kept in $RUN_DIR)" >&2
  exit "$rc"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting watcher-svc (log: $RUN_DIR/watcher.log)"
"$WATCHER_BIN" --projects "$PROJECTS" \
  --pub "tcp://$HOST:$PUB_PORT" --snapshot "tcp://$HOST:$SNAPSHOT_PORT" \
  --http "$HOST:$WATCHER_HTTP_PORT" "${EXTRA_WATCHER_ARGS[@]+"${EXTRA_WATCHER_ARGS[@]}"}" \
  >"$RUN_DIR/watcher.log" 2>&1 &
WATCHER_PID=$!

GATEWAY_ARGS=(--feed "tcp://$HOST:$PUB_PORT" --snapshot "tcp://$HOST:$SNAPSHOT_PORT"
              --listen "$HOST:$GATEWAY_PORT" --gateway-id local)
[[ -d web/dist ]] && GATEWAY_ARGS+=(--static-dir "$ROOT/web/dist")
say "starting gateway-svc (log: $RUN_DIR/gateway.log)"
"$GATEWAY_BIN" "${GATEWAY_ARGS[@]}" >"$RUN_DIR/gateway.log" 2>&1 &
GATEWAY_PID=$!
printf '%s\n' "$WATCHER_PID" >"$RUN_DIR/watcher.pid"
printf '%s\n' "$GATEWAY_PID" >"$RUN_DIR/gateway.pid"

BASE="http://$HOST:$GATEWAY_PORT"
# With GATEWAY_TOKEN set every request (even /readyz) needs it.
AUTH=()
[[ -n "${GATEWAY_TOKEN:-}" ]] && AUTH=(-H "Authorization: Bearer $GATEWAY_TOKEN")
deadline=$((SECONDS + READY_TIMEOUT))
until curl -fsS -o /dev/null --max-time 2 "${AUTH[@]+"${AUTH[@]}"}" "$BASE/readyz" 2>/dev/null; do
  for svc in watcher gateway; do
    pidvar="${svc^^}_PID"
    if ! kill -0 "${!pidvar}" 2>/dev/null; then
      echo "run-local: $svc-svc exited during start-up; last lines of $RUN_DIR/$svc.log:" >&2
      tail -n 20 "$RUN_DIR/$svc.log" >&2
      exit 1
    fi
  done
  if ((SECONDS >= deadline)); then
    echo "run-local: $BASE/readyz not ready after ${READY_TIMEOUT}s; last log lines:" >&2
    tail -n 10 "$RUN_DIR/watcher.log" "$RUN_DIR/gateway.log" >&2
    exit 1
  fi
  sleep 0.2
done

dashboard_note=""
[[ -d web/dist ]] || dashboard_note="  (web/dist not built: the gateway serves no dashboard)"
cat <<EOF

  coderef-live is running.

  Dashboard   $BASE/$dashboard_note
  Workspace   $WS
  Logs        $RUN_DIR/watcher.log  $RUN_DIR/gateway.log

  REST
    curl -s $BASE/orchestrator/stats
    curl -s '$BASE/orchestrator/plans?project=scriptboard'
    curl -s '$BASE/orchestrator/workorder-log?limit=5'
    curl -s $BASE/readyz        curl -s http://$HOST:$WATCHER_HTTP_PORT/metrics
  Feed (ZeroMQ, no gateway involved)
    /usr/bin/python3 examples/feed_subscriber.py --feed tcp://$HOST:$PUB_PORT --snapshot tcp://$HOST:$SNAPSHOT_PORT

  Try it: edit $WS/scriptboard/coderef/working/kanban-drag-drop/plan.json
  (e.g. change "status") and watch the dashboard; more in $WS/README.md.

  Ctrl-C stops both services. Service logs follow.

EOF

tail -n 0 -F "$RUN_DIR/watcher.log" "$RUN_DIR/gateway.log" &
TAIL_PID=$!

# Wait until either service exits (or Ctrl-C).
set +e
wait -n "$WATCHER_PID" "$GATEWAY_PID"
rc=$?
set -e
for svc in watcher gateway; do
  pidvar="${svc^^}_PID"
  kill -0 "${!pidvar}" 2>/dev/null || echo "run-local: $svc-svc exited (status $rc)" >&2
done
exit 1
