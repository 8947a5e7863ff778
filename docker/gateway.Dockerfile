# coderef-live gateway-svc image, with the dashboard (web/dist) inside.
#   docker build -f docker/gateway.Dockerfile -t coderef-live/gateway .
# Configuration is by GATEWAY_* environment variables (docs/OPERATIONS.md).

# --- build: the same Debian packages and CMake preset as a developer uses ------
# No `# syntax=` line: the classic builder and BuildKit both build this file
# with no frontend image to pull (offline and mirror-only builds work).
# (identical in docker/watcher.Dockerfile, so BuildKit builds it once for both)
FROM debian:bookworm AS build
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DCODEREF_BUILD_TESTS=OFF -DCODEREF_BUILD_BENCH=OFF \
 && cmake --build --preset release -j"$(nproc)" --target watcher-svc gateway-svc

FROM build AS install
RUN install -D -m 0755 build/release/gateway-svc/gateway-svc /out/gateway-svc \
 && strip --strip-debug /out/gateway-svc \
 && docker/runtime-packages.sh /out/gateway-svc >/out/runtime-packages.txt \
 && cat /out/runtime-packages.txt

# --- web: the dashboard bundle ---------------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- runtime: only the shared libraries the binary loads, a non-root user ------
FROM debian:bookworm-slim
COPY --from=install /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin coderef
COPY --from=install /out/gateway-svc /usr/local/bin/gateway-svc
COPY --from=web /src/web/dist /usr/share/coderef-live/web
COPY docker/healthcheck.sh /usr/local/bin/coderef-healthcheck

ENV GATEWAY_FEED=tcp://watcher:5556 \
    GATEWAY_SNAPSHOT=tcp://watcher:5557 \
    GATEWAY_LISTEN=0.0.0.0:8000 \
    GATEWAY_STATIC_DIR=/usr/share/coderef-live/web \
    GATEWAY_LOG_FORMAT=json
EXPOSE 8000
USER 10001:10001
# Every 2 s, failures ignored for the first 30 s: healthy ~2 s after ready
# (docker-compose.yml chains its services on these).
HEALTHCHECK --interval=2s --timeout=2s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/coderef-healthcheck", "gateway"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gateway-svc"]
