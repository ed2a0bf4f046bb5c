#!/bin/bash
# One call on the GPU machine: build, CUDA tests, benchmark. Logs under $OUT (device tool).
#   bash bench/cuda/device_run.sh [tests|bench|all] [GTEST_FILTER]
what=${1:-all}
filter=${2:-*}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi -L; nvcc --version | tail -2; cmake --version | head -1
t0=$(date +%s)
bash bench/cuda/device_build.sh build-gpu > "$OUT/build.log" 2>&1 || { tail -60 "$OUT/build.log"; exit 1; }
tail -20 "$OUT/build.log"
source build-gpu/env.sh
echo "# build took $(( $(date +%s) - t0 ))s"
export LAYERLAB_SHARED_DIR=$PWD/.device/shared OMP_NUM_THREADS=16
if [ "$what" != bench ]; then
  timeout 300 build-gpu/tests/backend/test_cuda_backend --gtest_filter="$filter" > "$OUT/tests.log" 2>&1
  echo "# test_cuda_backend rc=$?"
  grep -E "^\[  (FAILED|  OK|PASSED|SKIPPED) |Failure|rel|Which is|Expected|error" "$OUT/tests.log" | head -80
  tail -5 "$OUT/tests.log"
  timeout 120 python3 bench/cuda/hf_bf16_golden.py .device/shared 2>&1 | grep -v Warning | tee "$OUT/hf_bf16_golden.log"
fi
if [ "$what" != tests ]; then
  PYTHONUNBUFFERED=1 timeout ${BENCH_TIMEOUT:-420} python3 bench/cuda/run.py --bench build-gpu/bench/cuda/bench_cuda 2>&1 | tee "$OUT/bench.log" | tail -40
fi
echo "# total $(( $(date +%s) - t0 ))s"
