# Parley: thin wrapper over scripts/bootstrap, CMake presets and ctest.
#   make run    install what is missing, build (release) and the SDK's browser bundle, start parleyd
#               with the embedded default (it serves the demo pages of web/ and prints their URLs)
#   make test   install what is missing, build (dev: ASan+UBSan), run every test
#   make build  build the dev preset only
#   make bench  release build of parleyd and bench/'s tools, then the standard benchmark set
#               (bench/README.md; about 8 minutes, results in bench/results/<date>/)
#   make asan   the dev build (ASan+UBSan) and its C++ and protocol tests (no fuzz, TSan or browsers)
#   make tsan   parleyd built with ThreadSanitizer, then the threaded protocol tests against it
#   make fuzz   every libFuzzer target of fuzz/ for FUZZ_SECONDS each (default 300)
.PHONY: run test build release sdk bootstrap unit integration clean fmt lint bench asan tsan fuzz

JOBS ?= $(shell nproc)
CTEST_ARGS ?=

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake --preset dev >/dev/null
	@cmake --build build/dev -j $(JOBS)

release: bootstrap sdk
	@cmake --preset release >/dev/null
	@cmake --build build/release -j $(JOBS) --target parleyd

# The JavaScript SDK: dist/ and the browser bundle the demo pages load (web/sdk/parley.js).
sdk: bootstrap
	@cd sdk/js && npm run --silent build

# Benchmarks report figures and never fail on speed; RUNS=, IDLE_N=, ... are passed through to
# bench/scripts/run.sh, BENCH_ARGS selects scenarios (e.g. BENCH_ARGS="fanout direct").
bench: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build build/release -j $(JOBS) --target parleyd parley-load parley-limit parley-micro
	@bench/scripts/run.sh $(BENCH_ARGS)

asan: build
	@cd build/dev && ctest -j $(JOBS) --output-on-failure -L 'unit|integration|interop|hostile|cluster'

tsan: bootstrap
	@scripts/tsan-tests

FUZZ_SECONDS ?= 300
fuzz: bootstrap
	@fuzz/run.sh all $(FUZZ_SECONDS)

run: release
	@build/release/server/parleyd $(ARGS)

test: build
	@cd build/dev && ctest -j $(JOBS) --output-on-failure $(CTEST_ARGS)

unit: build
	@cd build/dev && ctest -j $(JOBS) --output-on-failure -L unit

integration: build
	@cd build/dev && ctest -j $(JOBS) --output-on-failure -L integration

fmt:
	@find server tests/unit -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

lint:
	@find server tests/unit -name '*.cpp' -o -name '*.hpp' | xargs clang-format --dry-run --Werror

clean:
	@rm -rf build
