#!/usr/bin/env bash
# Installs every build and test dependency of coderef-live from Debian's
# packages (and, for web/, from the npm registry). Idempotent and quiet when
# everything is already there.
#
#   scripts/install-deps.sh              build + test deps (C++, python, chromium, nginx,
#                                        docker + debootstrap + lintian for the compose
#                                        and package stages)
#   scripts/install-deps.sh --web        also npm ci in web/ (and bench peers)
#   scripts/install-deps.sh --build-only only what compiling the services needs
#                                        (the Docker build stage)
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libzmq3-dev cppzmq-dev
  libwebsocketpp-dev libasio-dev
  libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libcli11-dev
  libleveldb-dev
)
TEST_PKGS=(
  libgtest-dev googletest libgmock-dev
  python3 python3-zmq python3-protobuf python3-websockets python3-requests
  chromium nginx-light docker-compose curl procps psmisc
  nodejs npm
  clang libclang-rt-14-dev
  docker.io debootstrap lintian dpkg-dev systemd
  wrk liblmdb-dev libsqlite3-dev
)
if [[ "${1:-}" == "--build-only" ]]; then
  PKGS=("${BUILD_PKGS[@]}")
else
  PKGS=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# node/npm may come from outside Debian (nvm etc.): accept any node on PATH.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  tmp=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--web" ]]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  for d in "$root/web" "$root/bench/peers"; do
    if [[ -f "$d/package.json" ]]; then
      if [[ ! -d "$d/node_modules" || "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]]; then
        echo "install-deps: npm ci in ${d#$root/}" >&2
        (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
      fi
    fi
  done
fi
