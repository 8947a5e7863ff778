# Sourced by tests/compose/run.sh and tests/packages/run.sh: a Docker engine
# for the test, started here when none runs and stopped again by the caller.
#
#   engine_start   0: an engine answers (DOCKERD_PID set when started here)
#                  77: none runs and none could be started (the reason printed)
#   engine_stop    stops the dockerd engine_start started, if any
#
# Uses say() from the caller. Root only starts dockerd (Debian's docker.io,
# with its containerd, runc and iptables); its log goes to
# /var/log/coderef-live-e2e-dockerd.log.
DOCKERD_PID=""
DOCKERD_LOG=/var/log/coderef-live-e2e-dockerd.log

engine_start() {
  command -v docker >/dev/null || { say "SKIPPED: no docker CLI (apt-get install docker.io)"; return 77; }
  docker info >/dev/null 2>&1 && return 0
  [[ $(id -u) == 0 ]] || { say "SKIPPED: no Docker engine runs and starting one needs root"; return 77; }
  command -v dockerd >/dev/null || { say "SKIPPED: no Docker engine runs and dockerd is not installed"; return 77; }
  say "no engine runs: starting dockerd (log: $DOCKERD_LOG)"
  dockerd >"$DOCKERD_LOG" 2>&1 &
  DOCKERD_PID=$!
  local _
  for _ in $(seq 300); do
    docker info >/dev/null 2>&1 && return 0
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
      DOCKERD_PID=""
      tail -5 "$DOCKERD_LOG"
      say "SKIPPED: dockerd exited at start (log above)"
      return 77
    fi
    sleep 0.1
  done
  tail -5 "$DOCKERD_LOG"
  engine_stop
  say "SKIPPED: dockerd did not answer within 30 s"
  return 77
}

engine_stop() {
  [[ -n "$DOCKERD_PID" ]] || return 0
  say "stopping the dockerd started here (pid $DOCKERD_PID)"
  kill -TERM "$DOCKERD_PID" 2>/dev/null || true
  local _
  for _ in $(seq 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$DOCKERD_PID" 2>/dev/null; then
    say "dockerd did not stop within 15 s: SIGKILL"
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
  fi
  DOCKERD_PID=""
}
