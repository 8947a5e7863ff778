# coderef-live watcher-svc image.
#   docker build -f docker/watcher.Dockerfile -t coderef-live/watcher .
# Configuration is by WATCHER_* environment variables (docs/OPERATIONS.md).

# --- build: the same Debian packages and CMake preset as a developer uses ------
# No `# syntax=` line: the classic builder and BuildKit both build this file
# with no frontend image to pull (offline and mirror-only builds work).
# (identical in docker/gateway.Dockerfile, so BuildKit builds it once for both)
FROM debian:bookworm AS build
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DCODEREF_BUILD_TESTS=OFF -DCODEREF_BUILD_BENCH=OFF \
 && cmake --build --preset release -j"$(nproc)" --target watcher-svc gateway-svc

FROM build AS install
RUN install -D -m 0755 build/release/watcher-svc/watcher-svc /out/watcher-svc \
 && strip --strip-debug /out/watcher-svc \
 && docker/runtime-packages.sh /out/watcher-svc >/out/runtime-packages.txt \
 && cat /out/runtime-packages.txt

# --- runtime: only the shared libraries the binary loads, a non-root user ------
FROM debian:bookworm-slim
COPY --from=install /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin coderef \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/coderef-live/watcher
COPY --from=install /out/watcher-svc /usr/local/bin/watcher-svc
# The torn-read guard reads under read leases (F_SETLEASE): as uid 10001 on a
# workspace owned by someone else that takes CAP_LEASE. Permitted only (+p, no
# effective bit): the watcher raises it itself, and the image still starts
# where the container is not granted it (docker-compose.yml: cap_add LEASE;
# without it the watcher logs watcher.read_leases_limited).
RUN setcap cap_lease+p /usr/local/bin/watcher-svc
COPY docker/healthcheck.sh /usr/local/bin/coderef-healthcheck

# Listen on all interfaces of the container; the compose network (not the
# host) is where the gateways reach the feed. Mount the workspace read-only
# at /workspace (see docker-compose.yml).
ENV WATCHER_PROJECTS=/workspace/projects.json \
    WATCHER_PUB=tcp://0.0.0.0:5556 \
    WATCHER_SNAPSHOT=tcp://0.0.0.0:5557 \
    WATCHER_HTTP=0.0.0.0:9100 \
    WATCHER_LOG_FORMAT=json \
    WATCHER_STATE_DIR=/var/lib/coderef-live/watcher
# Durable state (--state-dir): a named volume in docker-compose.yml; a new
# volume starts as a copy of this empty folder, owned by the service user.
EXPOSE 5556 5557 9100
USER 10001:10001
# Every 2 s, failures ignored for the first 30 s: healthy ~2 s after ready
# (docker-compose.yml chains its services on these).
HEALTHCHECK --interval=2s --timeout=2s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/coderef-healthcheck", "watcher"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/watcher-svc"]
