#!/bin/bash
# The first 50 steps of a preln run, layerlab vs PyTorch, from the same initial weights and
# the same batches (bench/train/torch_preln.py does the PyTorch side and the comparison).
#   bash bench/train/compare_torch.sh LAYERLAB_BIN OUT_DIR [cpu|cuda] [PYTHON]
# Data and tokenizer: $TRAIN_DATA (default ../shared/data/python-code/val.jsonl) and
# $TRAIN_TOKENIZER (default ../shared/tokenizers/gpt2). layerlab trains on $LAYERLAB_TRAIN_DEVICE
# (default cpu; cuda for the CUDA trainer, float32 with TF32 off).
set -e
BIN=${1:?layerlab binary}
OUT=${2:?output dir}
DEV=${3:-cpu}
PY=${4:-python3}
DATA=${TRAIN_DATA:-../shared/data/python-code/val.jsonl}
TOK=${TRAIN_TOKENIZER:-../shared/tokenizers/gpt2}
STEPS=50 LR=1e-3 WARMUP=5
mkdir -p "$OUT"
rm -rf "$OUT/run" "$OUT/init"
"$BIN" train --device "${LAYERLAB_TRAIN_DEVICE:-cpu}" --blocks preln --layers 4 --width 128 --heads 4 --context 64 --batch 8 --steps $STEPS \
  --lr $LR --warmup $WARMUP --eval-every 1000 --tokenizer "$TOK" --data "$DATA" --seed 42 \
  --export-init "$OUT/init" --save-batches "$OUT/batches.safetensors" --out "$OUT/run" --quiet
"$PY" "$(dirname "$0")/torch_preln.py" --init "$OUT/init" --batches "$OUT/batches.safetensors" \
  --log "$OUT/run/log.csv" --steps $STEPS --lr $LR --warmup $WARMUP --device "$DEV" --out "$OUT/torch_compare_$DEV.json"
