#!/usr/bin/env bash
# Run ON THE GPU MACHINE from the repo root, after scripts/gpu/make_sysroot.sh has filled
# .device/ here and the device tool carried it: builds the committed tree (.device/src.tar)
# with CUDA and runs the CUDA suite, then what bench/cuda/device_run.sh does for MODE.
#   bash scripts/gpu/device.sh [tests|testbench|dev|all] [GTEST_FILTER]
# tests: test_cuda_backend (inference, golden cases in f32 / bf16 / f16), test_cuda_blocks
# (trained blocks, plans, KV cache, inspector against the CPU backend) and test_cuda_train.
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
EXTRA_TARGETS="test_cuda_train test_cuda_blocks layerlab-cli ${EXTRA_TARGETS:-}" OUT=$OUT TEST_TIMEOUT=${TEST_TIMEOUT:-300} \
  bash bench/cuda/device_run.sh "$mode" "$filter"
rc=$?
if [ "$mode" = tests ] || [ "$mode" = testbench ] || [ "$mode" = all ] || [ "$mode" = dev ]; then
  source build-gpu/env.sh
  export LAYERLAB_SHARED_DIR=$PWD/.device/shared OMP_NUM_THREADS=16
  for t in backend/test_cuda_blocks train/test_cuda_train; do
    log="$OUT/$(basename $t).log"
    timeout "${TEST_TIMEOUT:-300}" build-gpu/tests/$t --gtest_filter="$filter" > "$log" 2>&1
    echo "# $(basename $t) rc=$?"
    grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|Expected|Which is|rel|error" "$log" | head -40
    tail -3 "$log"
  done
fi
# study: the Painters 7B grid projection and the HF loop (bench/study/run.py); needs the task
# files and the Llama 2 tokenizer in .device/shared (STUDY=1 bash scripts/gpu/make_sysroot.sh).
if [ "$mode" = study ]; then
  source build-gpu/env.sh
  # The Painters grid on a carried model (GRID_MODEL in make_sysroot.sh): every variant and N,
  # the five tasks, the first GRID_LIMIT items, resumable into $OUT/grid.jsonl.
  for g in .device/shared/models/*; do
    [ -e "$g" ] || continue
    [ -f .device/grid.jsonl ] && cp .device/grid.jsonl "$OUT/grid.jsonl"
    echo "# grid sweep on $g"
    timeout "${GRID_TIMEOUT:-240}" build-gpu/app/layerlab sweep --model "$g" --variants all --n all \
      --tasks arc_easy,arc_challenge,hellaswag,winogrande,lambada_openai --data-dir .device/shared/data \
      --limit "${GRID_LIMIT:-100}" --device cuda --dtype f32 --out "$OUT/grid.jsonl" > "$OUT/grid.log" 2>&1
    echo "# grid rc=$? lines=$(wc -l < "$OUT/grid.jsonl")"
    tail -3 "$OUT/grid.log"
  done
  [ -n "${SKIP_STUDY_BENCH:-}" ] && exit 0
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu,clocks_throttle_reasons.active \
    --format=csv,noheader,nounits -lms 200 > "$OUT/clocks.csv" 2>/dev/null &
  smi=$!
  PYTHONUNBUFFERED=1 timeout "${STUDY_TIMEOUT:-480}" python3 bench/study/run.py --layerlab build-gpu/app/layerlab \
    --data-dir .device/shared/data --tokenizer .device/shared/tokenizers/llama2/tokenizer.model ${STUDY_ARGS:-} \
    2>&1 | tee "$OUT/study.log"
  kill $smi 2>/dev/null
  python3 bench/cuda/clocks_summary.py "$OUT/clocks.csv" "$OUT/study.log" 2>&1 | tail -12
  exit 0
fi
# study-ab: one configuration on whole task files, with and without context sharing.
if [ "$mode" = study-ab ]; then
  source build-gpu/env.sh
  timeout "${STUDY_TIMEOUT:-480}" bash bench/study/ab_sharing.sh .device/shared/data \
    .device/shared/tokenizers/llama2/tokenizer.model "${AB_TASKS:-hellaswag,arc_easy}" 2>&1 | tee "$OUT/ab.log"
  exit 0
fi
# The CLI on the GPU (built without the explainer server): a forward pass, an eval, serve's message.
if [ -x build-gpu/app/layerlab ]; then
  g=.device/shared/golden/gpt2-tiny
  echo "# CLI smoke test"
  build-gpu/app/layerlab forward --model $g --ids 1,2,3,4 --device cuda --dtype bf16 --plan 0,[1,2],3-5 2>&1 | tail -3
  build-gpu/app/layerlab eval --model $g --task hellaswag --data tests/eval/data/hellaswag.jsonl --device cuda 2>&1 | tail -3
  build-gpu/app/layerlab serve --model $g 2>&1 | tail -1
fi
exit $rc
