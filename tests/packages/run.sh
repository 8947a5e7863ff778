#!/usr/bin/env bash
# Test of the Debian packages (scripts/test.sh, package stage):
#
#  1. scripts/package.sh builds coderef-live-watcher and coderef-live-gateway
#     (skipped with CODEREF_PACKAGES_PREBUILT=1: the .debs in out/packages);
#  2. lintian on both: no error and no warning that is not overridden with a
#     reason (packaging/lintian/) or explained in docs/OPERATIONS.md;
#  3. systemd-analyze verify on both units, against the packages' files;
#  4. tests/packages/package_test.py: dpkg -i into a fresh Debian container
#     (debian:bookworm, the stand-in of tests/compose/base-images.sh when no
#     registry is reachable), both services started exactly as their units
#     say, REST and a plan.json edit, an upgrade keeping edited conffiles,
#     a clean purge.
#
#   bash tests/packages/run.sh    exit 0 pass, 1 fail, 77 no engine (step 4 skipped)
#
# The container's base with the packages' Depends installed is cached as
# coderef-live/package-test:<hash of the Depends>.
# shellcheck disable=SC2317  # functions reached through the EXIT trap
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY=/usr/bin/python3
START=$SECONDS
export DOCKER_BUILDKIT=0

say() { printf 'package-test: [%4ds] %s\n' $((SECONDS - START)) "$*"; }
die() { say "FAIL: $*" >&2; exit 1; }
# shellcheck source=tests/support/docker_engine.sh
source "$ROOT/tests/support/docker_engine.sh"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/coderef-package-test.XXXXXX")"
CONTAINER="coderef-package-test-$$"
RUNNING=0
cleanup() {
  local rc=$?
  set +e
  ((RUNNING)) && docker rm -f "$CONTAINER" >/dev/null 2>&1
  engine_stop
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT

# --- 1. build ------------------------------------------------------------------------
if [[ "${CODEREF_PACKAGES_PREBUILT:-}" != 1 ]]; then
  say "scripts/package.sh"
  scripts/package.sh >"$TMP/package.log" 2>&1 || { tail -30 "$TMP/package.log"; die "scripts/package.sh failed"; }
fi
mapfile -t DEBS < <(ls out/packages/coderef-live-watcher_*.deb out/packages/coderef-live-gateway_*.deb 2>/dev/null)
((${#DEBS[@]} == 2)) || die "expected two packages in out/packages, found: ${DEBS[*]:-none}"
for d in "${DEBS[@]}"; do
  say "$(basename "$d"): $(du -k "$d" | cut -f1) KiB, installed $(dpkg-deb -f "$d" Installed-Size) KiB; Depends: $(dpkg-deb -f "$d" Depends)"
done

# --- 2. lintian --------------------------------------------------------------------
say "lintian"
lintian --fail-on error,warning --display-info --tag-display-limit 0 "${DEBS[@]}" | tee "$TMP/lintian.txt" \
  || die "lintian found errors or warnings (above): fix them, or override with a reason in packaging/lintian/"
say "lintian: no error, no warning ($(grep -c '^I:' "$TMP/lintian.txt" || true) info tags, $(grep -c '^N:\|overridden' "$TMP/lintian.txt" || true) notes)"

# --- 3. systemd-analyze verify --------------------------------------------------------
say "systemd-analyze verify"
# The packages' files under a root of their own, with this host's system
# units beside them (the targets the units order against), so verify checks
# the units' syntax, the targets and that ExecStart= exists in the package.
mkdir -p "$TMP/root/lib/systemd/system"
for d in "${DEBS[@]}"; do dpkg-deb -x "$d" "$TMP/root"; done
[[ -f /lib/systemd/system/sysinit.target ]] || die "systemd is not installed on this host: no units to verify against"
cp -an /lib/systemd/system/. "$TMP/root/lib/systemd/system/"
systemd-analyze verify --root="$TMP/root" "$TMP"/root/lib/systemd/system/coderef-live-*.service >"$TMP/verify.txt" 2>&1 \
  || { cat "$TMP/verify.txt"; die "systemd-analyze verify failed"; }
if [[ -s "$TMP/verify.txt" ]]; then cat "$TMP/verify.txt"; die "systemd-analyze verify complained (above)"; fi
say "systemd-analyze verify: both units clean"

# --- 4. install into a fresh Debian container -----------------------------------------
rc=0; engine_start || rc=$?
if ((rc == 77)); then say "SKIPPED the container install (no Docker engine)"; exit 77; fi
((rc == 0)) || exit "$rc"
bash tests/compose/base-images.sh >/dev/null
# The Depends of both packages, without versions (alternatives: the first).
deps="$(for d in "${DEBS[@]}"; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | grep -v '^$' | sort -u | tr '\n' ' ')"
tag="$(printf '%s %s' "$deps" "$(docker image inspect -f '{{.Id}}' debian:bookworm)" | sha256sum | cut -c1-12)"
if ! docker image inspect "coderef-live/package-test:$tag" >/dev/null 2>&1; then
  say "test base: debian:bookworm + $deps"
  mkdir -p "$TMP/ctx"
  printf 'FROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\n' "$deps" >"$TMP/ctx/Dockerfile"
  docker build -q -t "coderef-live/package-test:$tag" "$TMP/ctx" >"$TMP/ctx.log" 2>&1 || { cat "$TMP/ctx.log"; die "building the test base failed"; }
fi
mkdir -p "$TMP/pkgs"
cp "${DEBS[@]}" "$TMP/pkgs/"
# LEASE in the container's bounding set: the watcher unit's AmbientCapabilities.
docker run -d --name "$CONTAINER" --cap-add LEASE -v "$TMP/pkgs:/pkgs:ro" "coderef-live/package-test:$tag" sleep infinity >/dev/null
RUNNING=1
"$PY" tests/packages/package_test.py --container "$CONTAINER" "${DEBS[@]}"
say "done in $((SECONDS - START))s"
