#!/usr/bin/env bash
# The whole test suite: Release build + every test, then the core tests again under
# AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
JOBS=$(nproc)
bash scripts/build.sh
(cd build && ctest --output-on-failure -j"$JOBS")
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLAYERLAB_SANITIZE=ON -DLAYERLAB_CUDA=OFF >/dev/null
SAN_TESTS="test_layer_ops test_blocks test_typed_linear test_gguf_reader test_bad_checkpoints test_hostile_config test_tokenizer_hostile test_fuzz test_sharded_and_dtypes test_plan_parse test_variants test_prefix_and_generate test_golden_cpu"
cmake --build build-asan -j"$JOBS" --target $SAN_TESTS
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$JOBS" -R "^($(echo $SAN_TESTS | tr ' ' '|'))$")
