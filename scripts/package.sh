#!/usr/bin/env bash
# Builds the Debian packages coderef-live-watcher and coderef-live-gateway
# (`make package`): the release preset's services, the dashboard (web/dist,
# npm), then CPack's DEB generator (packaging/CMakeLists.txt).
#
#   scripts/package.sh          -> out/packages/coderef-live-{watcher,gateway}_<v>-1_<arch>.deb
#
# Environment: JOBS=2 (build parallelism), CODEREF_BUILD_DIR=build/release.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-2}"
BUILD="${CODEREF_BUILD_DIR:-$ROOT/build/release}"

command -v dpkg-shlibdeps >/dev/null || { echo "package: dpkg-shlibdeps missing (apt-get install dpkg-dev)" >&2; exit 1; }

if [[ "$BUILD" == "$ROOT/build/release" ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j"$JOBS" --target watcher-svc gateway-svc
else
  cmake --build "$BUILD" -j"$JOBS" --target watcher-svc gateway-svc
fi

# The dashboard: rebuilt when any of its sources is newer than the bundle.
if [[ ! -f web/dist/index.html ]] || [[ -n "$(find web/src web/index.html web/package-lock.json web/vite.config.ts -newer web/dist/index.html -print -quit)" ]]; then
  [[ -d web/node_modules ]] || (cd web && npm ci --no-audit --no-fund --loglevel=error)
  npm --prefix web run build
fi

rm -f out/packages/coderef-live-*.deb
(cd "$BUILD" && cpack -G DEB)
ls -l out/packages/*.deb
