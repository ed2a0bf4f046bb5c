#!/bin/bash
# One call on the GPU machine: build, CUDA tests, profile, benchmark. Logs under $OUT (device tool).
#   bash bench/cuda/device_run.sh [tests|bench|profile|all|dev] [GTEST_FILTER]
# all: tests + per-kernel profile (4 layers) + the full benchmark (layerlab vs HF);
#      HF_GOLDEN=1 adds HF's own bf16 distances from the golden cases (hf_bf16_golden.py);
# dev: tests + per-kernel profile (4 layers) + layerlab-only benchmark, flash vs GEMM attention;
# testbench: tests + the full benchmark (no profile). The benchmark logs SM clocks and power.
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
if [ "$what" = tests ] || [ "$what" = all ] || [ "$what" = dev ] || [ "$what" = testbench ]; then
  timeout ${TEST_TIMEOUT:-300} build-gpu/tests/backend/test_cuda_backend --gtest_filter="$filter" > "$OUT/tests.log" 2>&1
  echo "# test_cuda_backend rc=$?"
  grep -E "^\[  (FAILED|  OK|PASSED|SKIPPED) |Failure|rel|Which is|Expected|error|Trace|cuda_detail|B=" "$OUT/tests.log" | head -80
  tail -5 "$OUT/tests.log"
  echo "# tests done at $(( $(date +%s) - t0 ))s"
fi
if [ "$what" = all ] && [ -n "$HF_GOLDEN" ] && [ -d .device/shared/golden/llama-tiny ]; then
  timeout 120 python3 bench/cuda/hf_bf16_golden.py .device/shared 2>&1 | grep -v Warning | tee "$OUT/hf_bf16_golden.log"
fi
if [ "$what" = profile ] || [ "$what" = dev ] || [ "$what" = all ]; then
  timeout ${PROFILE_TIMEOUT:-150} bash bench/cuda/profile.sh build-gpu 4 2>&1 | tee "$OUT/profile.log" | head -40
  echo "# profile done at $(( $(date +%s) - t0 ))s"
fi
if [ "$what" = dev ]; then
  # layerlab alone (32 layers), flash attention and the GEMM attention it replaced.
  PYTHONUNBUFFERED=1 timeout ${BENCH_TIMEOUT:-300} python3 bench/cuda/run.py --bench build-gpu/bench/cuda/bench_cuda \
    --skip-hf --seconds 2 2>&1 | tee "$OUT/bench_flash.log" | grep -E "^layerlab|^\||parallel-group|generated"
  LAYERLAB_CUDA_ATTENTION=gemm timeout 120 build-gpu/bench/cuda/bench_cuda /tmp/layerlab_llama7b_random bf16 8 512 2 full \
    2>&1 | tee "$OUT/bench_gemm.log"
fi
if [ "$what" = bench ] || [ "$what" = all ] || [ "$what" = testbench ]; then
  # SM clock and power every 100 ms, summarised per phase (clock drop vs launch gaps).
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu,clocks_throttle_reasons.active \
    --format=csv,noheader,nounits -lms 100 > "$OUT/clocks.csv" 2>&1 &
  smi=$!
  PYTHONUNBUFFERED=1 timeout ${BENCH_TIMEOUT:-420} python3 bench/cuda/run.py --bench build-gpu/bench/cuda/bench_cuda 2>&1 | tee "$OUT/bench.log" | tail -40
  kill $smi 2>/dev/null
  python3 bench/cuda/clocks_summary.py "$OUT/clocks.csv" "$OUT/bench.log" 2>&1 | tee "$OUT/clocks_summary.md"
fi
echo "# total $(( $(date +%s) - t0 ))s"
