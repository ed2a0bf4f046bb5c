#!/usr/bin/env bash
# Run ON THE GPU MACHINE: the 7B scoring benchmark (bench/cuda/bench_cuda, Llama-2-7B shape,
# random bf16 weights, batch 8 x 512) for two commits in the same call, interleaved, so a
# change can be judged against the noise. .device/src.tar is the new tree and
# .device/src_old.tar the old one (here: git archive OLD_REV > .device/src_old.tar).
#   bash scripts/gpu/ab_bench.sh [ROUNDS] [PLANS]
rounds=${1:-3}
plans=${2:-"full;0-3,[4-27],28-31"}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
repo=$PWD
for v in new old; do
  tarball=.device/src.tar
  [ $v = old ] && tarball=.device/src_old.tar
  W=/tmp/layerlab-ab-$v
  rm -rf "$W" && mkdir -p "$W" && tar -C "$W" -xf "$repo/$tarball" && ln -sfn "$repo/.device" "$W/.device"
  (cd "$W" && bash bench/cuda/device_build.sh build-gpu > "$OUT/build_$v.log" 2>&1) || { tail -30 "$OUT/build_$v.log"; exit 1; }
  echo "# built $v"
done
source /tmp/layerlab-ab-new/build-gpu/env.sh
model=/tmp/layerlab_llama7b_random
# The model files (random bf16 weights saved by transformers) come from the new tree's run.py.
(cd /tmp/layerlab-ab-new && python3 bench/cuda/run.py --bench build-gpu/bench/cuda/bench_cuda --skip-hf --seconds 2 \
  > "$OUT/run_new.log" 2>&1); grep -E "^layerlab|tokens/s|MFU" "$OUT/run_new.log" | head -8
for r in $(seq "$rounds"); do
  for v in old new; do
    /tmp/layerlab-ab-$v/build-gpu/bench/cuda/bench_cuda "$model" bf16 8 512 3 "$plans" 2>&1 | grep tokens_per_s | sed "s/^/$v round $r: /"
  done
done | tee "$OUT/ab.log"
