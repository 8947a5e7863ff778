#!/usr/bin/env bash
# The docker-compose topology without containers, all on loopback:
# one watcher-svc, N gateway-svc (two by default) and Debian's nginx in front.
#
#   scripts/topology.sh start     start everything, wait until ready, print endpoints
#   scripts/topology.sh stop      stop everything by recorded PID
#   scripts/topology.sh status    what runs (exit 0 all up, 3 all down, 1 partial)
#   scripts/topology.sh conf      only render the nginx config and check it (nginx -t)
#   scripts/topology.sh add-gateway   start a gateway on the next spare port
#                                     (CODEREF_SPARE_GATEWAY_PORTS), wait for /readyz
#
# State lives in the run folder ($CODEREF_RUN_DIR, default build/run/topology):
#   pids/<name>.pid    one per process (watcher, gateway-1.., nginx)
#   logs/<name>.log    stderr+stdout of each service; nginx/{error,access}.log
#   nginx/nginx.conf   rendered from docker/nginx.local.conf.template
#   workspace/         a copy of examples/demo-workspace (edit it freely)
#   topology.env       endpoints as shell variables, for tests to source
#
# Environment (all optional):
#   CODEREF_PUB_PORT=5556 CODEREF_SNAPSHOT_PORT=5557 CODEREF_WATCHER_HTTP_PORT=9100
#   CODEREF_GATEWAY_PORTS="8001 8002"   one gateway per port (add ports to scale out)
#   CODEREF_SPARE_GATEWAY_PORTS=""      ports in nginx's upstream without a gateway at
#                                        start (nginx skips them while they refuse);
#                                        `add-gateway` starts one later: scale out live
#   CODEREF_NGINX_PORT=8080
#   CODEREF_BUILD_DIR=<dir>             default: build/release, else the first
#                                        build/*/ holding both binaries
#   CODEREF_PROJECTS=<projects.json>    watch this registry instead of a demo copy
#   CODEREF_RUN_DIR=<dir>               run folder
#   CODEREF_READY_TIMEOUT=30            seconds to wait for readiness on start
#   NGINX=/usr/sbin/nginx
#   Any WATCHER_* / GATEWAY_* variable reaches the services as usual.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST=127.0.0.1
PUB_PORT="${CODEREF_PUB_PORT:-5556}"
SNAPSHOT_PORT="${CODEREF_SNAPSHOT_PORT:-5557}"
WATCHER_HTTP_PORT="${CODEREF_WATCHER_HTTP_PORT:-9100}"
read -r -a GATEWAY_PORTS <<<"${CODEREF_GATEWAY_PORTS:-8001 8002}"
read -r -a SPARE_PORTS <<<"${CODEREF_SPARE_GATEWAY_PORTS:-}"
# gateway-<i> listens on ALL_PORTS[i-1]: the started ones, then the spares.
ALL_PORTS=("${GATEWAY_PORTS[@]}" "${SPARE_PORTS[@]+"${SPARE_PORTS[@]}"}")
NGINX_PORT="${CODEREF_NGINX_PORT:-8080}"
RUN_DIR="${CODEREF_RUN_DIR:-$ROOT/build/run/topology}"
READY_TIMEOUT="${CODEREF_READY_TIMEOUT:-30}"
NGINX="${NGINX:-/usr/sbin/nginx}"
TEMPLATE="$ROOT/docker/nginx.local.conf.template"
LOCATIONS="$ROOT/docker/nginx.locations.conf"

NGINX_DIR="$RUN_DIR/nginx"
NGINX_CONF="$NGINX_DIR/nginx.conf"

log() { printf 'topology: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Process names in start order; stop goes in reverse.
names() {
  local i
  echo watcher
  for i in "${!GATEWAY_PORTS[@]}"; do echo "gateway-$((i + 1))"; done
  echo nginx
}

find_build_dir() {
  if [[ -n "${CODEREF_BUILD_DIR:-}" ]]; then echo "$CODEREF_BUILD_DIR"; return; fi
  local d
  for d in "$ROOT/build/release" "$ROOT"/build/*; do
    if [[ -x "$d/watcher-svc/watcher-svc" && -x "$d/gateway-svc/gateway-svc" ]]; then
      echo "$d"; return
    fi
  done
  echo "$ROOT/build/release"
}

# --- nginx config ------------------------------------------------------------
render_nginx_conf() {
  mkdir -p "$NGINX_DIR/tmp"
  local user_line="# (not root: nginx workers run as $(id -un))"
  if [[ $(id -u) -eq 0 ]]; then
    # A root master drops workers to nobody; they must write the temp dirs.
    user_line="user nobody nogroup;"
    local t
    for t in client_body proxy fastcgi uwsgi scgi; do mkdir -p "$NGINX_DIR/tmp/$t"; done
    chown -R nobody:nogroup "$NGINX_DIR/tmp"
  fi
  local servers="" p
  for p in "${ALL_PORTS[@]}"; do
    servers+="        server $HOST:$p max_fails=0;"$'\n'
  done
  servers="${servers%$'\n'}"
  local line out=()
  while IFS= read -r line || [[ -n "$line" ]]; do
    case "$line" in
      *@@UPSTREAM_SERVERS@@*) out+=("$servers"); continue ;;
      *@@USER_LINE@@*) out+=("$user_line"); continue ;;
    esac
    # (quoted replacements: bash 5.2 would expand '&' in them otherwise)
    line="${line//@@NGINX_DIR@@/"$NGINX_DIR"}"
    line="${line//@@LISTEN@@/"$HOST:$NGINX_PORT"}"
    line="${line//@@LOCATIONS_CONF@@/"$LOCATIONS"}"
    out+=("$line")
  done <"$TEMPLATE"
  printf '%s\n' "${out[@]}" >"$NGINX_CONF"
  if grep -q '@@' "$NGINX_CONF"; then die "unrendered placeholder in $NGINX_CONF"; fi
}

check_nginx_conf() {
  [[ -x "$NGINX" ]] || die "$NGINX not found (scripts/install-deps.sh installs nginx-light)"
  "$NGINX" -t -q -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$NGINX_CONF" \
    || die "nginx -t failed for $NGINX_CONF"
}

# --- processes -----------------------------------------------------------------
pid_of() { local f="$RUN_DIR/pids/$1.pid"; [[ -f "$f" ]] && cat "$f"; }

# True when <pid> exists and has not exited. The processes are detached, so
# their parent is init, which may reap them late: a zombie counts as exited.
running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# True when the recorded PID of <name> runs the binary recorded with it
# (guards against a recycled PID after a crash or a reboot).
alive() {
  local name="$1" pid exe want
  pid="$(pid_of "$name")" || return 1
  [[ -n "$pid" ]] && running "$pid" || return 1
  want="$(head -n 1 "$RUN_DIR/pids/$name.exe" 2>/dev/null)" || return 0
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 0
  [[ "${exe% (deleted)}" == "$want" ]] && return 0
  # A script (or a wrapper) runs under its interpreter: match its argv.
  local given argv=()
  given="$(tail -n 1 "$RUN_DIR/pids/$name.exe")"
  mapfile -d '' -t argv <"/proc/$pid/cmdline" 2>/dev/null || return 1
  local a
  for a in "${argv[@]:0:2}"; do [[ "$a" == "$want" || "$a" == "$given" ]] && return 0; done
  return 1
}

# spawn <name> <binary> args...: detached from this shell (setsid), logs to
# logs/<name>.log, PID and binary recorded.
spawn() {
  local name="$1" bin="$2"; shift 2
  local exe; exe="$(readlink -f "$bin")"
  setsid "$bin" "$@" </dev/null >"$RUN_DIR/logs/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/pids/$name.pid"
  printf '%s\n%s\n' "$exe" "$bin" >"$RUN_DIR/pids/$name.exe"
}

stop_one() {
  local name="$1" pid
  pid="$(pid_of "$name")" || return 0
  if alive "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 5))
    while running "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
    if running "$pid"; then
      log "$name (PID $pid) ignored SIGTERM for 5 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (PID $pid)"
  fi
  rm -f "$RUN_DIR/pids/$name.pid" "$RUN_DIR/pids/$name.exe"
}

# With GATEWAY_TOKEN set every gateway request (even /readyz) needs it.
AUTH=()
[[ -n "${GATEWAY_TOKEN:-}" ]] && AUTH=(-H "Authorization: Bearer $GATEWAY_TOKEN")
http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${AUTH[@]+"${AUTH[@]}"}" "$1" 2>/dev/null || true
}

cmd_stop() {
  local n all=()
  mapfile -t all < <(names)
  # Also stop gateways recorded by an earlier start with more ports.
  local f
  for f in "$RUN_DIR"/pids/gateway-*.pid; do
    [[ -e "$f" ]] || continue
    n="$(basename "$f" .pid)"
    [[ " ${all[*]} " == *" $n "* ]] || all=("${all[@]:0:1}" "$n" "${all[@]:1}")
  done
  for ((i = ${#all[@]} - 1; i >= 0; i--)); do stop_one "${all[i]}"; done
}

cmd_status() {
  local up=0 down=0 name pid
  [[ -f "$RUN_DIR/topology.env" ]] && log "run folder $RUN_DIR"
  while read -r name; do
    pid="$(pid_of "$name" || true)"
    if alive "$name"; then
      up=$((up + 1)); printf '  %-10s running  PID %s\n' "$name" "$pid"
    else
      down=$((down + 1)); printf '  %-10s stopped\n' "$name"
    fi
  done < <(names)
  if ((up)); then
    local i
    printf '  watcher  /healthz %s\n' "$(http_code "http://$HOST:$WATCHER_HTTP_PORT/healthz")"
    for i in "${!GATEWAY_PORTS[@]}"; do
      printf '  gateway-%d /readyz %s\n' $((i + 1)) "$(http_code "http://$HOST:${GATEWAY_PORTS[i]}/readyz")"
    done
    for ((i = ${#GATEWAY_PORTS[@]}; i < ${#ALL_PORTS[@]}; i++)); do
      name="gateway-$((i + 1))"
      if alive "$name"; then
        printf '  %s  running  PID %s (spare port %s) /readyz %s\n' "$name" "$(pid_of "$name")" \
          "${ALL_PORTS[i]}" "$(http_code "http://$HOST:${ALL_PORTS[i]}/readyz")"
      else
        printf '  %s  not started (spare port %s)\n' "$name" "${ALL_PORTS[i]}"
      fi
    done
    printf '  nginx    /readyz %s (via a gateway)\n' "$(http_code "http://$HOST:$NGINX_PORT/readyz")"
  fi
  ((down == 0)) && return 0
  ((up == 0)) && return 3
  return 1
}

fail_start() {
  log "start failed: stopping what was started"
  cmd_stop
  exit 1
}

# The binaries, or die.
resolve_binaries() {
  BUILD="$(find_build_dir)"
  WATCHER_BIN="$BUILD/watcher-svc/watcher-svc"
  GATEWAY_BIN="$BUILD/gateway-svc/gateway-svc"
  [[ -x "$WATCHER_BIN" ]] || die "no $WATCHER_BIN: build first (make build)"
  [[ -x "$GATEWAY_BIN" ]] || die "no $GATEWAY_BIN: build first (make build)"
}

# spawn_gateway <index>: gateway-<index+1> on ALL_PORTS[index].
spawn_gateway() {
  local i="$1" static=()
  [[ -d "$ROOT/web/dist" ]] && static=(--static-dir "$ROOT/web/dist")
  spawn "gateway-$((i + 1))" "$GATEWAY_BIN" \
    --feed "tcp://$HOST:$PUB_PORT" --snapshot "tcp://$HOST:$SNAPSHOT_PORT" \
    --listen "$HOST:${ALL_PORTS[i]}" --gateway-id "gw-$((i + 1))" \
    --allowed-origin "http://$HOST:$NGINX_PORT" "${static[@]+"${static[@]}"}"
}

# Starts the gateway of the first spare port that has none running, waits
# for its /readyz. nginx already lists the port and uses it once it answers.
cmd_add_gateway() {
  ((${#SPARE_PORTS[@]})) || die "no spare port: set CODEREF_SPARE_GATEWAY_PORTS (also for start)"
  alive watcher || die "the topology is not running (scripts/topology.sh start)"
  resolve_binaries
  local i name=""
  for ((i = ${#GATEWAY_PORTS[@]}; i < ${#ALL_PORTS[@]}; i++)); do
    alive "gateway-$((i + 1))" && continue
    port_busy "$HOST" "${ALL_PORTS[i]}" && die "spare port $HOST:${ALL_PORTS[i]} is in use"
    name="gateway-$((i + 1))"
    break
  done
  [[ -n "$name" ]] || die "every spare port already has a gateway"
  spawn_gateway "$i"
  local url="http://$HOST:${ALL_PORTS[i]}" deadline=$((SECONDS + READY_TIMEOUT))
  until [[ "$(http_code "$url/readyz")" == 200 ]]; do
    if ! alive "$name"; then
      log "$name exited during start-up; last lines of its log:"
      tail -n 20 "$RUN_DIR/logs/$name.log" >&2 || true
      stop_one "$name"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "$name not ready after ${READY_TIMEOUT}s: stopping it (log: $RUN_DIR/logs/$name.log)"
      stop_one "$name"
      exit 1
    fi
    sleep 0.1
  done
  echo "$name is up on $url (PID $(pid_of "$name"))"
}

cmd_start() {
  local name
  while read -r name; do
    alive "$name" && die "$name is already running (PID $(pid_of "$name")); run: $0 stop"
  done < <(names)

  resolve_binaries
  local build="$BUILD"

  local p
  for p in "$PUB_PORT" "$SNAPSHOT_PORT" "$WATCHER_HTTP_PORT" "${ALL_PORTS[@]}" "$NGINX_PORT"; do
    port_busy "$HOST" "$p" && die "port $HOST:$p is in use"
  done

  mkdir -p "$RUN_DIR/pids" "$RUN_DIR/logs"
  render_nginx_conf
  check_nginx_conf

  local projects watcher_extra=()
  if [[ -n "${CODEREF_PROJECTS:-}" ]]; then
    projects="$(readlink -f "$CODEREF_PROJECTS")"
    [[ -f "$projects" ]] || die "CODEREF_PROJECTS=$CODEREF_PROJECTS is not a file"
  else
    rm -rf "$RUN_DIR/workspace"
    cp -a "$ROOT/examples/demo-workspace" "$RUN_DIR/workspace"
    projects="$RUN_DIR/workspace/projects.json"
    watcher_extra=(--workorder-log "$RUN_DIR/workspace/workorder-log.txt")
  fi

  # From here on, a failure stops whatever was started (fail_start).
  spawn watcher "$WATCHER_BIN" --projects "$projects" \
    --pub "tcp://$HOST:$PUB_PORT" --snapshot "tcp://$HOST:$SNAPSHOT_PORT" \
    --http "$HOST:$WATCHER_HTTP_PORT" "${watcher_extra[@]+"${watcher_extra[@]}"}"
  local i
  for i in "${!GATEWAY_PORTS[@]}"; do spawn_gateway "$i"; done
  spawn nginx "$NGINX" -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$NGINX_CONF"

  # Ready: every process alive, each gateway's /readyz and nginx's path to one.
  local deadline=$((SECONDS + READY_TIMEOUT)) ready
  while :; do
    ready=1
    while read -r name; do
      if ! alive "$name"; then
        log "$name exited during start-up; last lines of its log:"
        if [[ "$name" == nginx ]]; then tail -n 20 "$NGINX_DIR/error.log" >&2 || true
        else tail -n 20 "$RUN_DIR/logs/$name.log" >&2 || true; fi
        fail_start
      fi
    done < <(names)
    for p in "${GATEWAY_PORTS[@]}"; do
      [[ "$(http_code "http://$HOST:$p/readyz")" == 200 ]] || ready=0
    done
    [[ "$(http_code "http://$HOST:$NGINX_PORT/readyz")" == 200 ]] || ready=0
    ((ready)) && break
    if ((SECONDS >= deadline)); then
      log "not ready after ${READY_TIMEOUT}s (logs in $RUN_DIR/logs, $NGINX_DIR/error.log)"
      cmd_status >&2 || true
      fail_start
    fi
    sleep 0.2
  done
  local urls=() spare_urls=()
  for p in "${GATEWAY_PORTS[@]}"; do urls+=("http://$HOST:$p"); done
  for p in "${SPARE_PORTS[@]+"${SPARE_PORTS[@]}"}"; do spare_urls+=("http://$HOST:$p"); done
  cat >"$RUN_DIR/topology.env" <<EOF
# Written by scripts/topology.sh start; source it in tests.
CODEREF_TOPOLOGY_URL=http://$HOST:$NGINX_PORT
CODEREF_TOPOLOGY_WS=ws://$HOST:$NGINX_PORT/orchestrator/ws
CODEREF_GATEWAY_URLS="${urls[*]}"
CODEREF_SPARE_GATEWAY_URLS="${spare_urls[*]+"${spare_urls[*]}"}"
CODEREF_FEED=tcp://$HOST:$PUB_PORT
CODEREF_SNAPSHOT=tcp://$HOST:$SNAPSHOT_PORT
CODEREF_WATCHER_HTTP=http://$HOST:$WATCHER_HTTP_PORT
CODEREF_PROJECTS_FILE=$projects
CODEREF_WORKSPACE=$(dirname "$projects")
CODEREF_RUN_DIR=$RUN_DIR
EOF

  cat <<EOF
coderef-live topology is up (binaries from ${build#$ROOT/}):
  nginx      http://$HOST:$NGINX_PORT/          (dashboard, REST, /orchestrator/ws)
  gateways   ${urls[*]}${spare_urls[*]+"  (spare, for add-gateway: ${spare_urls[*]})"}
  watcher    feed tcp://$HOST:$PUB_PORT  snapshot tcp://$HOST:$SNAPSHOT_PORT  http://$HOST:$WATCHER_HTTP_PORT/metrics
  workspace  $(dirname "$projects")
  run folder $RUN_DIR  (logs/, nginx/, pids/, topology.env)
stop with: scripts/topology.sh stop
EOF
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_stop; cmd_start ;;
  add-gateway) cmd_add_gateway ;;
  conf)
    mkdir -p "$RUN_DIR"
    render_nginx_conf
    check_nginx_conf
    echo "$NGINX_CONF: ok"
    ;;
  *) echo "usage: $0 start|stop|status|restart|add-gateway|conf" >&2; exit 2 ;;
esac
