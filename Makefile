# Parley: thin wrapper over scripts/bootstrap, CMake presets and ctest.
#   make run    install what is missing, build (release) and the SDK's browser bundle, start parleyd
#               with the embedded default (it serves the demo pages of web/ and prints their URLs)
#   make test   install what is missing, build (dev: ASan+UBSan), run every test
#   make build  build the dev preset only
.PHONY: run test build release sdk bootstrap unit integration clean fmt lint

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
