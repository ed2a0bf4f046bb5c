#!/usr/bin/env bash
# A short tour: model info, a forward pass under a Painters plan, generation under a plan,
# and a layer-similarity heatmap.
set -euo pipefail
cd "$(dirname "$0")/.."
LL=build/app/layerlab
MODEL=${MODEL:-../shared/models/gpt2-code-24l}
mkdir -p out
PROMPT=$'import os\nimport sys\n\ndef main():\n'
echo "== layerlab info"; $LL info --model "$MODEL"
echo; echo "== generate (full model)"
$LL generate --model "$MODEL" --prompt "$PROMPT" -n 40 --temperature 0.5 --seed 1
echo; echo "== generate with the middle 8 layers run as one parallel group (--variant parallel --n 8)"
$LL generate --model "$MODEL" --prompt "$PROMPT" -n 40 --temperature 0.5 --seed 1 --variant parallel --n 8
echo; echo "== forward under a plan, dumping residual streams to out/forward.safetensors"
$LL forward --model "$MODEL" --prompt "import os" --plan "0-7,[8-15]x2,16-23" --dump out/forward.safetensors
echo; echo "== layer similarity heatmap -> out/similarity.svg"
$LL similarity --model "$MODEL" --text-file ../shared/data/python-code/val.jsonl --limit 8 --max-tokens 256 --out out/similarity
