#!/bin/bash
# On the GPU machine, after device_build.sh: per-kernel GPU time of a few scoring passes of a
# Llama-2-7B-shaped model with fewer layers (ncu, one metric, no clock locking), summed by
# kernel name. Usage: bash bench/cuda/profile.sh BUILD_DIR [LAYERS] [BATCH] [TOKENS]
B=${1:-build-gpu}
L=${2:-4}
OUT=${OUT:-/tmp/out}
dir=/tmp/layerlab_llama7b_l$L
[ -f $dir/config.json ] || python3 bench/cuda/run.py --bench $B/bench/cuda/bench_cuda --model-dir $dir --layers $L \
  --skip-hf --seconds 0.5 > $OUT/profile_gen.log 2>&1
source $B/env.sh
ncu --clock-control none --metrics gpu__time_duration.sum --csv --log-file $OUT/ncu_l$L.csv \
  $B/bench/cuda/bench_cuda $dir bf16 ${3:-8} ${4:-512} 0 full > /dev/null 2>&1
echo "# ncu rc=$?"
python3 bench/cuda/profile_summary.py $OUT/ncu_l$L.csv 5
