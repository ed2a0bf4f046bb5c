#!/usr/bin/env bash
# ON THE GPU MACHINE, after bench/cuda/device_run.sh has built build-gpu: one configuration
# (the full model) of the 7B-shaped random bf16 model on WHOLE task files, with and without
# context sharing, interleaved; tells whether the grid projection of run.py (which scales a
# --limit run linearly) holds on full files and what sharing saves on the GPU.
#   bash bench/study/ab_sharing.sh DATA_DIR TOKENIZER.model [tasks]
set -uo pipefail
data=$1 tok=$2 tasks=${3:-hellaswag,arc_easy}
M=/tmp/layerlab_llama7b_random
python3 -c "import sys; sys.path.insert(0, 'bench/cuda'); import argparse, run; run.make_model(argparse.Namespace(model_dir='$M', layers=32))" \
  2>&1 | grep -v Writing
cp "$tok" "$M/tokenizer.model"
for round in 1 2; do
  for mode in sharing plain; do
    extra=""; [ $mode = sharing ] && extra=--context-sharing
    rm -f /tmp/ab.jsonl
    t0=$(date +%s.%N)
    build-gpu/app/layerlab sweep --model $M --variants full --tasks "$tasks" --data-dir "$data" --device cuda \
      --dtype bf16 --out /tmp/ab.jsonl --quiet $extra 2>&1 | tail -1
    t1=$(date +%s.%N)
    python3 - "$round" "$mode" "$t0" "$t1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open("/tmp/ab.jsonl") if l.strip()]
r, mode, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
for x in rows:
    m = x["metrics"]
    print(f"| {r} | {mode} | {x['task']} | {x['items']} | {x['seconds']:.1f} | " +
          " ".join(f"{k} {v['value']:.4f}" for k, v in m.items()) + " |")
print(f"# round {r} {mode}: {t1 - t0:.1f} s wall (load included)")
PY
  done
done
