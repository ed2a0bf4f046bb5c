#!/bin/bash
# One call on the GPU machine (the device tool): the equal-token block comparison at the
# paper's size (He & Hofmann 2023: 18 layers x 768 wide, 12 heads, context 128, GPT-2
# tokenizer) on the Python corpus, trained on the GPU one run after another with the same seed,
# batches and learning-rate schedule, TF32 products; validation on val.jsonl. Then
# `layerlab train --compare`. Brings back compare.md/.svg/.json, runs.tar.gz (every run's
# log.csv/log.json/summary.json/stdout) and build.log.
# Carry: .device/sysroot.tar.xz .device/httplib.h .device/src-train.tar (= git archive HEAD)
#        .device/train (gpt2/, val.jsonl, corpus.jsonl: bench/train/make_python_corpus.py with
#        --max-bytes 12000000, i.e. all 618 usable files of the stdlib, 10.8 MB, ~5M tokens)
#   bash bench/train/device_compare.sh [STEPS (1100)] [BATCH (64)] [RUN...]
# Time on the H100 (measured 2026-11-25): build ~35 s; per run ~18 s of start-up (tokenizing,
# initialising, validation, checkpoint and export) plus ~70-75 ms per step of batch 64 (TF32):
# the default 4 runs x 1100 steps (9.0M tokens each) take about 7 minutes.
# RUN: preln parallel sas sasp (default), or sas-nonorm / sasp-nonorm (--norm none).
set -o pipefail
OUT=${OUT:-/tmp/out}
STEPS=${1:-1100}
BATCH=${2:-64}
shift $(( $# < 2 ? $# : 2 ))
RUNS=${*:-preln parallel sas sasp}
EVAL=$(( STEPS / 9 > 0 ? STEPS / 9 : 1 ))
# Validation windows = EVAL_BATCHES x BATCH from the start of val.jsonl (8: 512 windows, 65k tokens,
# mostly the codec tables at the file's start; 48 covers the whole file, ~1 s more per evaluation).
EVAL_BATCHES=${EVAL_BATCHES:-8}
mkdir -p "$OUT"
t0=$(date +%s)
source bench/train/device_build_train.sh
echo "# build $(( $(date +%s) - t0 ))s; $(nvidia-smi --query-gpu=name --format=csv,noheader)"
echo "# $STEPS steps x batch $BATCH x 128 = $(( STEPS * BATCH * 128 )) tokens per run; validation every $EVAL steps"
T=.device/train
D=/tmp/cmp
rm -rf $D && mkdir -p $D
done_runs=""
for run in $RUNS; do
  args="--blocks ${run%-nonorm}"
  [[ $run == *-nonorm ]] && args="$args --norm none"
  timeout 300 ./build-gpu/bench/layerlab_train train $args --layers 18 --width 768 --heads 12 --context 128 \
    --batch $BATCH --steps $STEPS --lr 1e-3 --eval-every $EVAL --eval-batches $EVAL_BATCHES --seed 1234 \
    --device cuda --dtype tf32 --tokenizer $T/gpt2 --data $T/corpus.jsonl --val $T/val.jsonl \
    --out $D/$run > $D/$run.log 2>&1
  echo "$run (exit $?, at $(( $(date +%s) - t0 ))s): $(tail -1 $D/$run.log)"
  rm -rf $D/$run/checkpoint  # 3 x 0.66 GB each; the logs are what comes back
  [ -f $D/$run/summary.json ] && done_runs="$done_runs $run"  # a diverged run (NaN loss) has none
done
BIN=$PWD/build-gpu/bench/layerlab_train
(cd $D && $BIN train --compare $done_runs --out compare) && cat $D/compare.md
cp $D/compare.md $D/compare.svg $D/compare.json "$OUT/"
tar -C /tmp -czf "$OUT/runs.tar.gz" --exclude=model cmp
echo "# total $(( $(date +%s) - t0 ))s"
