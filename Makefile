# coderef-live: the few commands a developer needs. Each is a thin wrapper
# around a script or a CMake preset, so CI and people run the same thing.
#
#   make run        build everything and run the demo (scripts/run-local.sh)
#   make test       the whole test suite (scripts/test.sh; SKIP_* flags there)
#   make build      release build (cmake preset "release")
#   make bench      benchmarks (scripts/bench.sh)
#   make package    Debian packages in out/packages/ (scripts/package.sh)
#   make topology   watcher + 2 gateways + nginx on loopback (scripts/topology.sh)
#   make topology-status / topology-stop
#   make clean      stop the local topology, remove build/, web/dist/ and out/

JOBS ?= 2

.DEFAULT_GOAL := help
.PHONY: help run test build bench package topology topology-start topology-stop topology-status clean

help:
	@sed -n 's/^#   make /  make /p' $(firstword $(MAKEFILE_LIST))

run:
	scripts/run-local.sh

test:
	scripts/test.sh

build:
	cmake --preset release
	cmake --build --preset release -j$(JOBS)

bench:
	scripts/bench.sh

package:
	scripts/package.sh

topology topology-start:
	scripts/topology.sh start

topology-stop:
	scripts/topology.sh stop

topology-status:
	scripts/topology.sh status

clean:
	-@scripts/topology.sh stop >/dev/null 2>&1
	rm -rf build web/dist out
