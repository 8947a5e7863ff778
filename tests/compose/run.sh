#!/usr/bin/env bash
# End-to-end test of `docker compose up` with the project's real
# docker-compose.yml and docker/*.Dockerfile (scripts/test.sh, compose stage).
#
#  1. a Docker engine: the running one, or `dockerd` started here (root) and
#     stopped again at the end;
#  2. base images: tests/compose/base-images.sh makes local stand-ins for
#     debian:bookworm(-slim), nginx:stable and node:20-bookworm-slim when no
#     registry is reachable (cached between runs);
#  3. `build` (classic builder, DOCKER_BUILDKIT=0), `up -d`, and a wait until
#     every service's healthcheck says healthy;
#  4. tests/compose/compose_test.py through nginx on a free loopback port:
#     REST, dashboard, WebSocket hello, a plan.json edit in the mounted
#     workspace arriving, `docker kill` of gateway-1 with its clients resuming
#     on gateway-2 with exact replay, a watcher restart (no resync when the
#     watcher keeps durable state: --state-dir; else the documented
#     epoch_changed resync);
#  5. `down -v` (containers, network, the state volume), on any exit.
#
#   bash tests/compose/run.sh     exit 0 pass, 1 fail, 77 no engine (skipped)
#
# Environment (optional):
#   COMPOSE="docker compose"     the compose command (default docker-compose,
#                                else `docker compose`)
#   CODEREF_COMPOSE_DURABLE=1|0  1 (default, as docker-compose.yml sets
#                                --state-dir): no resync across a watcher
#                                restart; 0: the epoch_changed resync
#   CODEREF_COMPOSE_KEEP=1       leave the project up and the engine running
#   CODEREF_IMAGE_CACHE=DIR      base image cache (tests/compose/base-images.sh)
# shellcheck disable=SC2317  # functions reached through the EXIT trap
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY=/usr/bin/python3
START=$SECONDS
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0

say() { printf 'compose-e2e: [%4ds] %s\n' $((SECONDS - START)) "$*"; }
die() { say "FAIL: $*" >&2; exit 1; }
skip() { say "SKIPPED: $*"; exit 77; }

# shellcheck source=tests/support/docker_engine.sh
source "$ROOT/tests/support/docker_engine.sh"
if [[ -n "${COMPOSE:-}" ]]; then read -r -a COMPOSE_CMD <<<"$COMPOSE"
elif command -v docker-compose >/dev/null; then COMPOSE_CMD=(docker-compose)
elif docker compose version >/dev/null 2>&1; then COMPOSE_CMD=(docker compose)
else skip "neither docker-compose nor the docker compose plugin is installed"; fi
"$PY" -c 'import websockets' 2>/dev/null || die "$PY lacks python3-websockets"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/coderef-compose-e2e.XXXXXX")"
PROJECT="coderef-e2e-$$"
UP=0

cleanup() {
  local rc=$?
  set +e
  if ((UP)) && [[ "${CODEREF_COMPOSE_KEEP:-}" != 1 ]]; then
    if ((rc != 0)); then
      say "state at failure:"
      compose ps
      compose logs --no-color --tail 40
    fi
    say "down -v"
    compose down -v --remove-orphans >"$TMP/down.log" 2>&1 || { cat "$TMP/down.log"; rc=1; }
  fi
  [[ "${CODEREF_COMPOSE_KEEP:-}" == 1 ]] || engine_stop
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT

compose() { "${COMPOSE_CMD[@]}" -p "$PROJECT" -f "$ROOT/docker-compose.yml" "$@"; }

# --- 1. engine -------------------------------------------------------------------
rc=0; engine_start || rc=$?
((rc == 0)) || exit "$rc"
say "engine: $(docker version -f '{{.Server.Version}}') ($(docker info -f '{{.Driver}}')), compose: ${COMPOSE_CMD[*]}"

# --- 2. base images ---------------------------------------------------------------
t0=$SECONDS
bash tests/compose/base-images.sh
T_BASE=$((SECONDS - t0))

# --- 3. build, up, healthy --------------------------------------------------------
PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$TMP/workspace"
cp -a examples/demo-workspace/. "$TMP/workspace/"
chmod -R a+rX "$TMP"  # the services run as uid 10001
export CODEREF_WORKSPACE="$TMP/workspace" CODEREF_WORKSPACE_MOUNT=/workspace
export CODEREF_BIND=127.0.0.1 CODEREF_PORT="$PORT" CODEREF_VERSION=e2e
export GATEWAY_ALLOWED_ORIGIN="http://127.0.0.1:$PORT" GATEWAY_TOKEN=""
export CODEREF_LOG_FORMAT=text CODEREF_LOG_LEVEL=info CODEREF_NGINX_IMAGE=nginx:stable
unset CODEREF_NOFILE  # the file's default must work on this engine

t0=$SECONDS
say "build (classic builder)"
compose build >"$TMP/build.log" 2>&1 || { tail -40 "$TMP/build.log"; die "compose build failed"; }
T_BUILD=$((SECONDS - t0))
say "build done in ${T_BUILD}s"

t0=$SECONDS
UP=1
compose up -d >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; die "compose up failed"; }
T_UPCMD=$((SECONDS - t0))
SERVICES=(watcher gateway-1 gateway-2 nginx)
# `up -d` returns once the last container started (after the health gates of
# depends_on); then one `docker inspect` of the project's containers per poll
# (a compose call costs a second or more of Python start-up).
mapfile -t IDS < <(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
for _ in $(seq 600); do
  declare -A state=()
  while read -r svc st; do state[$svc]="$st"; done < <(docker inspect -f \
    '{{index .Config.Labels "com.docker.compose.service"}} {{if .State.Health}}{{.State.Health.Status}}{{else}}no-healthcheck{{end}}' "${IDS[@]}")
  unhealthy=()
  for s in "${SERVICES[@]}"; do
    [[ "${state[$s]:-missing}" == healthy ]] || unhealthy+=("$s=${state[$s]:-missing}")
  done
  ((${#unhealthy[@]} == 0)) && break
  sleep 0.1
done
((${#unhealthy[@]} == 0)) || die "not healthy after 60 s: ${unhealthy[*]}"
T_HEALTHY=$((SECONDS - t0))
say "up: every service healthy ${T_HEALTHY}s after \`up -d\` started (up -d itself ${T_UPCMD}s)"

# --- 4. the test -----------------------------------------------------------------
# docker-compose.yml gives the watcher --state-dir on a named volume, so a
# restart must keep the epoch (no resync). CODEREF_COMPOSE_DURABLE=0 tests a
# compose file without it. (This was detected from `watcher-svc --help | grep
# -q`, which under pipefail failed at random on SIGPIPE: ci expected
# resync_required(epoch_changed) from a durable watcher.)
DURABLE="${CODEREF_COMPOSE_DURABLE:-1}"
say "watcher durable state: $([[ $DURABLE == 1 ]] && echo 'expected (--state-dir): no resync across a restart' || echo 'not in this watcher: a restart is an epoch_changed resync')"
"$PY" tests/compose/compose_test.py --url "http://127.0.0.1:$PORT" --workspace "$TMP/workspace" \
  --compose "${COMPOSE_CMD[*]} -p $PROJECT -f $ROOT/docker-compose.yml" --durable "$DURABLE"

say "image sizes:"
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E 'coderef-live/|nginx:stable' || true
say "times: base images ${T_BASE}s, build ${T_BUILD}s, up to healthy ${T_HEALTHY}s, total $((SECONDS - START))s (before down)"
