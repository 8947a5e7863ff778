#!/usr/bin/env bash
# Prints, one per line, the Debian packages that provide the shared libraries
# the given binaries load (via ldd + dpkg -S). Used by the Dockerfiles so the
# runtime image installs exactly what the build linked, whatever that is.
#
#   docker/runtime-packages.sh build/release/watcher-svc/watcher-svc
set -euo pipefail
(($#)) || { echo "usage: $0 <binary>..." >&2; exit 2; }

declare -A pkgs=()
for bin in "$@"; do
  deps="$(ldd "$bin")"  # captured: `ldd | grep -q` fails on SIGPIPE under pipefail
  if [[ "$deps" == *"not found"* ]]; then
    echo "runtime-packages: $bin has unresolved libraries:" >&2
    grep 'not found' <<<"$deps" >&2
    exit 1
  fi
  while read -r lib; do
    real="$(readlink -f "$lib")"
    found=""
    # usrmerge: a library may be registered under /lib or /usr/lib.
    for cand in "$lib" "$real" "/usr$lib" "/usr$real" "${lib#/usr}" "${real#/usr}"; do
      if out="$(dpkg -S "$cand" 2>/dev/null)"; then
        found="${out%%[:,]*}"
        break
      fi
    done
    [[ -n "$found" ]] || { echo "runtime-packages: no package owns $lib" >&2; exit 1; }
    pkgs[$found]=1
  done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
done
printf '%s\n' "${!pkgs[@]}" | sort
