#!/usr/bin/env bash
# Docker HEALTHCHECK for the coderef-live images, with no curl in the image:
# one HTTP/1.0 GET over bash's /dev/tcp, healthy when the status is 200.
#
#   coderef-healthcheck watcher    GET /healthz on $WATCHER_HTTP   (default 127.0.0.1:9100)
#   coderef-healthcheck gateway    GET /healthz on $GATEWAY_LISTEN (default 127.0.0.1:8000)
#   coderef-healthcheck <host:port> [path]
set -uo pipefail

case "${1:-}" in
  watcher) addr="${WATCHER_HTTP:-127.0.0.1:9100}"; path="${2:-/healthz}" ;;
  gateway) addr="${GATEWAY_LISTEN:-127.0.0.1:8000}"; path="${2:-/healthz}" ;;
  *:*) addr="$1"; path="${2:-/healthz}" ;;
  *) echo "usage: $0 watcher|gateway|<host:port> [path]" >&2; exit 2 ;;
esac

host="${addr%:*}"
port="${addr##*:}"
host="${host#[}"; host="${host%]}"
# A wildcard bind is reached on loopback.
case "$host" in ""|0.0.0.0|"*") host=127.0.0.1 ;; "::") host=::1 ;; esac

auth=""
[[ "${1:-}" == gateway && -n "${GATEWAY_TOKEN:-}" ]] && auth="Authorization: Bearer ${GATEWAY_TOKEN}"$'\r\n'

{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || { echo "unhealthy: cannot connect to $host:$port"; exit 1; }
printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n%sConnection: close\r\n\r\n' "$path" "$host" "$port" "$auth" >&3
IFS= read -r -t 3 status <&3 || { echo "unhealthy: no answer from $host:$port$path"; exit 1; }
exec 3<&-
status="${status%$'\r'}"
if [[ "$status" =~ ^HTTP/[0-9.]+\ 200 ]]; then
  echo "healthy: $host:$port$path"
  exit 0
fi
echo "unhealthy: $host:$port$path answered '$status'"
exit 1
