# strongroom — every entry point. `make run` and `make test` do all set-up on a fresh Debian 12.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Debian packages the project needs to build, test and benchmark.
DEB_PACKAGES := build-essential cmake pkg-config \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-context1.81-dev \
  libsodium-dev libssl-dev libsqlite3-dev libpq-dev libhiredis-dev libtomlplusplus-dev \
  libcli11-dev libspdlog-dev libfmt-dev libcrypt-dev libgtest-dev libbenchmark-dev libqrencode-dev \
  postgresql redis-server python3 python3-pytest python3-requests python3-werkzeug python3-cryptography \
  python3-nacl python3-argon2 python3-bcrypt wrk procps \
  python3-pyotp oathtool zbar-tools \
  clang libclang-rt-14-dev nginx-light openssl \
  chromium chromium-driver python3-selenium \
  python3-jsonschema nodejs
# npm installs the pinned validator of the API description (tests/openapi). Debian's nodejs needs
# Debian's npm package; a nodejs package that bundles npm conflicts with it, so it is wanted only
# when no npm command is there.
NPM_DEB := npm

.PHONY: all deps build run test unit-test api-test cluster-test ui-test asan-test fuzz fuzz-smoke bench format clean

all: build

# Installs what is missing (idempotent; apt-get update only when something must be installed).
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	command -v npm >/dev/null || missing="$$missing $(NPM_DEB)"; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "make deps: all packages present"; fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: deps build
	$(BUILD)/strongroom serve

# Unit tests (GoogleTest, against real SQLite, PostgreSQL and Redis) and black-box API tests
# (pytest against the real binary); ends with one line "N passed, M failed".
test: deps build
	BUILD=$(BUILD) scripts/run-tests.sh all

unit-test: build
	BUILD=$(BUILD) scripts/run-tests.sh unit

api-test: build
	BUILD=$(BUILD) scripts/run-tests.sh api

# Three instances behind nginx on PostgreSQL and Redis (tests/cluster, docs/operations.md).
cluster-test: deps build
	BUILD=$(BUILD) scripts/run-tests.sh cluster

# The web interface in headless Chromium (tests/ui); SR_UI_SCREENSHOTS=1 rewrites docs/ui/*.png.
ui-test: build
	BUILD=$(BUILD) scripts/run-tests.sh ui

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan-test: deps
	$(MAKE) build BUILD=build-asan CMAKE_FLAGS="-DSR_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS_EXTRA)"
	BUILD=build-asan scripts/run-tests.sh all

# libFuzzer harnesses (clang): 60 s per harness; fuzz-smoke is the short run CI does (<= 60 s).
fuzz: deps
	scripts/fuzz.sh build && scripts/fuzz.sh run 60

fuzz-smoke: deps
	scripts/fuzz.sh smoke

bench: deps
	$(MAKE) build BUILD=build-bench CMAKE_FLAGS="-DSR_BENCH=ON -DSR_TESTS=OFF"
	BUILD=build-bench scripts/run-bench.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build build-asan build-bench
