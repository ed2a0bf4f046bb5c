#!/usr/bin/env bash
# Run ON THE GPU MACHINE from the repo root, after scripts/gpu/make_sysroot.sh has filled
# .device/ here and the device tool carried it: builds the committed tree (.device/src.tar)
# with CUDA and runs the CUDA suite, then what bench/cuda/device_run.sh does for MODE.
#   bash scripts/gpu/device.sh [tests|testbench|dev|all] [GTEST_FILTER]
# tests: test_cuda_backend (inference, golden cases in f32 / bf16 / f16) and test_cuda_train.
# Logs go to $OUT (the device tool brings them back).
set -uo pipefail
mode=${1:-tests}
filter=${2:-*}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
[ -f .device/src.tar ] || { echo "no .device/src.tar: run scripts/gpu/make_sysroot.sh here and carry .device"; exit 2; }
W=/tmp/layerlab-gpu-src
rm -rf "$W" && mkdir -p "$W" && tar -C "$W" -xf .device/src.tar && ln -sfn "$PWD/.device" "$W/.device"
cd "$W"
EXTRA_TARGETS="test_cuda_train ${EXTRA_TARGETS:-}" OUT=$OUT TEST_TIMEOUT=${TEST_TIMEOUT:-300} \
  bash bench/cuda/device_run.sh "$mode" "$filter"
rc=$?
if [ "$mode" = tests ] || [ "$mode" = testbench ] || [ "$mode" = all ] || [ "$mode" = dev ]; then
  source build-gpu/env.sh
  export LAYERLAB_SHARED_DIR=$PWD/.device/shared OMP_NUM_THREADS=16
  timeout "${TEST_TIMEOUT:-300}" build-gpu/tests/train/test_cuda_train > "$OUT/train_tests.log" 2>&1
  echo "# test_cuda_train rc=$?"
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure" "$OUT/train_tests.log" | head -30
  tail -3 "$OUT/train_tests.log"
fi
exit $rc
