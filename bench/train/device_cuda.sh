#!/bin/bash
# One call on the GPU machine (the device tool) for CUDA training: build the committed tree's
# CUDA training targets (bench/cuda/device_build.sh with EXTRA_TARGETS), run
# tests/train/test_cuda_train (CUDA vs CPU for every block, determinism, errors, the training
# loop), a compute-sanitizer pass over two cases, and a speed table at the paper's size
# (18 layers x 768, 12 heads, context 128). Writes build.log, test.log, memcheck.log, speed.txt
# to $OUT. Leaves the build in /tmp/wtrain for device_compare.sh in the same call.
# Carry: .device/sysroot.tar.xz .device/httplib.h .device/src-train.tar (= git archive HEAD)
#        .device/train (gpt2/ tokenizer, val.jsonl, corpus.jsonl: see bench/train/device_run.sh)
#   bash bench/train/device_cuda.sh [SPEED_STEPS (12)]
set -o pipefail
OUT=${OUT:-/tmp/out}
STEPS=${1:-12}
mkdir -p "$OUT"
t0=$(date +%s)
source bench/train/device_build_train.sh
echo "# build $(( $(date +%s) - t0 ))s; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
T=.device/train
export LAYERLAB_TRAIN_TOKENIZER=$T/gpt2

# 1. Tests.
timeout 300 ./build-gpu/tests/train/test_cuda_train > "$OUT/test.log" 2>&1
echo "# test_cuda_train exit $? at $(( $(date +%s) - t0 ))s"
grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED|measured) +\]|Failure|Expected|Which is|max \|cpu" "$OUT/test.log" | head -80

# 2. Memory checker on one plain and one shaped case plus the error paths; race checker
#    (shared memory of the reductions) on one shaped case.
if command -v compute-sanitizer > /dev/null; then
  timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 ./build-gpu/tests/train/test_cuda_train \
    --gtest_filter='*preln_ln*:*sasp_nonorm*:*ErrorsNotCrashes*' > "$OUT/memcheck.log" 2>&1
  echo "# memcheck exit $? ($(grep -c 'Invalid' "$OUT/memcheck.log") invalid accesses) at $(( $(date +%s) - t0 ))s"
  timeout 150 compute-sanitizer --tool racecheck --error-exitcode 9 ./build-gpu/tests/train/test_cuda_train \
    --gtest_filter='*sas_ln*' >> "$OUT/memcheck.log" 2>&1
  echo "# racecheck exit $? at $(( $(date +%s) - t0 ))s"
  grep -E "ERROR SUMMARY|Invalid|hazard" "$OUT/memcheck.log" | head -8
fi

# 3. Speed at 18 x 768 (training tokens/s over the steps after the first two); SPEED_STEPS=0: none.
[ "$STEPS" -gt 2 ] || { echo "# total $(( $(date +%s) - t0 ))s"; exit 0; }
speed() {  # name, then layerlab train flags
  local name=$1; shift
  timeout 150 ./build-gpu/bench/layerlab_train train --layers 18 --width 768 --heads 12 --context 128 \
    --tokenizer $T/gpt2 --data $T/val.jsonl --steps $STEPS --warmup 2 --lr 1e-3 --quiet --out /tmp/speed_$name "$@" \
    > /tmp/speed_$name.log 2>&1 || { echo "$name FAILED: $(tail -2 /tmp/speed_$name.log)"; return; }
  python3 - "$name" /tmp/speed_$name "$*" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[2] + "/log.csv")))
t = [float(r["seconds"]) for r in rows]; tok = [int(r["tokens"]) for r in rows]
rate = (tok[-1] - tok[1]) / (t[-1] - t[1])
print(f"{sys.argv[1]:<14} {rate:9.0f} tok/s  {1000 * (t[-1] - t[1]) / (len(t) - 2):7.1f} ms/step  "
      f"loss {rows[0]['loss']} -> {rows[-1]['loss']}  ({sys.argv[3]})")
EOF
}
(while sleep 1; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done > /tmp/mem.txt 2>&1) &
MEMPID=$!
{
  echo "# 18 x 768, 12 heads, context 128, GPT-2 vocab; $STEPS steps (rate from step 3 on)"
  for blk in preln sasp; do
    for dt in tf32 f32; do speed ${blk}_${dt}_b64 --blocks $blk --batch 64 --device cuda --dtype $dt; done
  done
  kill $MEMPID
  echo "peak GPU memory in use (sampled each second): $(sort -n /tmp/mem.txt | tail -1) MiB"
} 2>&1 | tee "$OUT/speed.txt"
echo "# total $(( $(date +%s) - t0 ))s"
