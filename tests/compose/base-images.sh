#!/usr/bin/env bash
# Local stand-ins for the base images docker/*.Dockerfile and
# docker-compose.yml name, for machines where no image registry is reachable
# (CI here). Each is built from this machine's Debian, under the exact name a
# Dockerfile uses, so the project's real Dockerfiles and compose file run
# unchanged:
#
#   debian:bookworm, debian:bookworm-slim   debootstrap --variant=minbase bookworm
#   nginx:stable                            Debian's nginx on that base, laid
#                                           out like the official image (user
#                                           nginx, `nginx -g 'daemon off;'`)
#   node:20-bookworm-slim                   this machine's node + npm on that base
#
# The host's CA bundle goes into every image (the network here may re-sign
# TLS), and NODE_EXTRA_CA_CERTS points npm at it.
#
# Cached between runs on one machine: the debootstrap tarball under
# $CODEREF_IMAGE_CACHE (default /var/cache/coderef-live/base-images), and the
# images themselves in the engine, each labelled with the hash of its recipe
# (this file, the mirror, the CA bundle, the node version); a stand-in is
# rebuilt only when its recipe changed or the image is gone. An image of that
# name that is NOT a stand-in (pulled from a registry) is left alone.
#
#   tests/compose/base-images.sh          build what is missing; prints the names
#   tests/compose/base-images.sh --force  rebuild all stand-ins
set -euo pipefail

CACHE="${CODEREF_IMAGE_CACHE:-/var/cache/coderef-live/base-images}"
SUITE=bookworm
CA=/etc/ssl/certs/ca-certificates.crt
export DOCKER_BUILDKIT=0
FORCE=0
[[ "${1:-}" == --force ]] && FORCE=1

say() { printf 'base-images: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker is not installed"
[[ -f "$CA" ]] || die "no CA bundle at $CA (apt-get install ca-certificates)"

# The Debian mirror this machine's apt uses (deb822 or one-line format).
mirror() {
  local m
  m="$(grep -hs -E '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -E '/debian/?( |$)' | grep -v security | head -1 \
        | sed -E 's/^URIs:[[:space:]]*//; s/^deb (\[[^]]*\] )?//; s/[[:space:]].*//')"
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR="${CODEREF_DEBIAN_MIRROR:-$(mirror)}"
SELF_HASH="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
CA_HASH="$(sha256sum "$CA" | cut -c1-16)"

# label_of <image>: the recipe label of a stand-in, empty if absent or foreign.
label_of() {
  docker image inspect -f '{{ index .Config.Labels "coderef-live.standin" }}' "$1" 2>/dev/null || true
}
# need <image> <recipe>: 0 when the image must be (re)built.
need() {
  local have; have="$(label_of "$1")"
  if docker image inspect "$1" >/dev/null 2>&1 && [[ -z "$have" || "$have" == "<no value>" ]]; then
    say "$1: a real image is present, kept"; return 1
  fi
  [[ "$FORCE" == 1 || "$have" != "$2" ]]
}

# --- debian:bookworm, debian:bookworm-slim ---------------------------------------
DEB_RECIPE="deb-$SUITE-$(printf '%s' "$MIRROR" | sha256sum | cut -c1-8)-$CA_HASH-$SELF_HASH"
# drop_old <image> <previous id>: remove the stand-in this one replaced (kept
# when something still uses it).
drop_old() {
  [[ -n "$2" && "$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null)" != "$2" ]] || return 0
  docker rmi "$2" >/dev/null 2>&1 || true
}

# apt_clean <rootfs>: what the official images add so that images built on
# them carry no apt caches (docker-clean), dpkg skips its fsyncs (a layer is
# all or nothing anyway: several times faster under load), and the slim
# variant's path excludes (no manuals, docs or locales).
apt_clean() {
  mkdir -p "$1/etc/apt/apt.conf.d" "$1/etc/dpkg/dpkg.cfg.d"
  cat >"$1/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' >"$1/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo force-unsafe-io >"$1/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n' \
    >"$1/etc/dpkg/dpkg.cfg.d/docker-slim"
}

if need debian:bookworm "$DEB_RECIPE" || need debian:bookworm-slim "$DEB_RECIPE"; then
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  mkdir -p "$CACHE"
  tarball="$CACHE/$SUITE-minbase-$(printf '%s' "$MIRROR" | sha256sum | cut -c1-8).tar"
  if [[ ! -s "$tarball" || "$FORCE" == 1 ]]; then
    say "debootstrap $SUITE from $MIRROR (once per machine; ~2 min)"
    dir="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    trap 'rm -rf "$dir"' EXIT
    debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    # Like the official image: the updates and security suites, no apt cache.
    rm -f "$dir/etc/apt/sources.list"
    cat >"$dir/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian*}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    install -D -m 0644 "$CA" "$dir/etc/ssl/certs/ca-certificates.crt"
    apt_clean "$dir"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"; trap - EXIT
  fi
  say "importing debian:$SUITE and debian:$SUITE-slim from $tarball"
  old="$(docker image inspect -f '{{.Id}}' "debian:$SUITE" 2>/dev/null || true)"
  docker import --change "LABEL coderef-live.standin=$DEB_RECIPE" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' "$tarball" "debian:$SUITE" >/dev/null
  docker tag "debian:$SUITE" "debian:$SUITE-slim"
  drop_old "debian:$SUITE" "$old"
fi

# build_standin <image> <recipe> <dockerfile text> [file to put in the context...]
build_standin() {
  local image="$1" recipe="$2" text="$3"; shift 3
  local ctx; ctx="$(mktemp -d)"
  printf '%s\n' "$text" >"$ctx/Dockerfile"
  local f
  for f in "$@"; do cp -a "$f" "$ctx/"; done
  say "building $image"
  local old; old="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
  docker build -q --label "coderef-live.standin=$recipe" -t "$image" "$ctx" >"$ctx.log" 2>&1 \
    || { cat "$ctx.log" >&2; rm -rf "$ctx" "$ctx.log"; die "building $image failed"; }
  rm -rf "$ctx" "$ctx.log"
  drop_old "$image" "$old"
}


# --- nginx:stable ---------------------------------------------------------------
NGINX_RECIPE="nginx-$DEB_RECIPE"
if need nginx:stable "$NGINX_RECIPE"; then
  build_standin nginx:stable "$NGINX_RECIPE" "FROM debian:$SUITE-slim
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light \\
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \\
 && useradd --system --no-create-home --shell /usr/sbin/nologin nginx \\
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD [\"nginx\", \"-g\", \"daemon off;\"]"
fi

# --- node:20-bookworm-slim --------------------------------------------------------
NODE_BIN="$(command -v node || true)"
[[ -n "$NODE_BIN" ]] || die "node is not installed on this machine (scripts/install-deps.sh)"
NODE_BIN="$(readlink -f "$NODE_BIN")"
NODE_VER="$("$NODE_BIN" --version)"
[[ "$NODE_VER" == v20.* ]] || say "warning: this machine's node is $NODE_VER, the image is named node:20"
NPM_DIR="$(dirname "$(readlink -f "$(command -v npm)")")/.."
NPM_DIR="$(cd "$NPM_DIR" && pwd)"
[[ -f "$NPM_DIR/package.json" ]] || die "cannot find npm's folder (from $(command -v npm))"
NODE_RECIPE="node-$NODE_VER-$DEB_RECIPE"
if need node:20-bookworm-slim "$NODE_RECIPE"; then
  tmpn="$(mktemp -d)"
  cp "$NODE_BIN" "$tmpn/node"
  tar -C "$NPM_DIR/.." -cf "$tmpn/npm.tar" "$(basename "$NPM_DIR")"
  build_standin node:20-bookworm-slim "$NODE_RECIPE" "FROM debian:$SUITE-slim
COPY node /usr/local/bin/node
ADD npm.tar /usr/local/lib/node_modules/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD [\"node\"]" "$tmpn/node" "$tmpn/npm.tar"
  rm -rf "$tmpn"
fi

say "ready: debian:$SUITE debian:$SUITE-slim nginx:stable node:20-bookworm-slim"
