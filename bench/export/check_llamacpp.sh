#!/usr/bin/env bash
# Does llama.cpp load a plan exported as GGUF, and compute what layerlab computes? Exports
# MODEL under PLAN (f16 as stored, and q8_0), then scores the same 4 x 256 token windows of
# held-out code with layerlab (bench_gguf) and with llama.cpp (node-llama-cpp 3.21.1, the
# pinned peer of bench/llamacpp) and prints both mean log p per token. layerlab's reading of
# the export equals the original model run under the plan (tests/model/test_export.cpp).
#   bash bench/export/check_llamacpp.sh [MODEL] [PLAN] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
M=${1:-../shared/models/llama-code-16l} PLAN=${2:-0-5,5,4,9-15} TH=${3:-2}
L=build/app/layerlab B=build/bench/bench_gguf W=$(mktemp -d)
[ -x "$B" ] || { echo "build bench_gguf first: make -C build bench_gguf"; exit 2; }
[ -d bench/llamacpp/node_modules ] || (cd bench/llamacpp && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
$L export --model "$M" --plan "$PLAN" --out "$W/plan.gguf"
$L export --model "$M" --plan "$PLAN" --dtype q8_0 --out "$W/plan-q8_0.gguf"
$B ids "$W/plan.gguf" ../shared/data/python-code/val.jsonl "$W/ids.json"
for f in plan plan-q8_0; do
  a=$($B run "$W/$f.gguf" "$W/ids.json" "$TH" 1 ppl | grep '"ppl"')
  b=$(cd bench/llamacpp && node peer.mjs "$W/$f.gguf" "$W/ids.json" "$TH" 1 ppl | grep '"measure":"ppl"')
  python3 -c "import json,sys; a,b=json.loads(sys.argv[1]),json.loads(sys.argv[2]); print(f'$f.gguf (plan $PLAN): mean log p layerlab {a[\"mean_logp\"]:.5f}, llama.cpp {b[\"mean_logp\"]:.5f}, difference {a[\"mean_logp\"]-b[\"mean_logp\"]:+.5f} over {b[\"predictions\"]} predictions')" "$a" "$b"
done
rm -rf "$W"
