#!/usr/bin/env bash
# Load test of the explainer API on loopback with wrk (Debian package), bounded in time:
# /api/forward (full explainer payload), /api/predict and /api/generate (16 streamed tokens).
# Requests carry Chromium's Accept-Encoding (the page's real traffic: brotli offered, which the
# server must not choose). Prints requests/s and latency percentiles; exits non-zero on any
# error or non-2xx response.
#   tests/server/load_test.sh [build/app/layerlab] [../shared/models/gpt2-code-24l] [seconds=10] [connections=4]
set -euo pipefail
cd "$(dirname "$0")/../.."
CLI=${1:-build/app/layerlab}
MODEL=${2:-../shared/models/gpt2-code-24l}
SECONDS_EACH=${3:-10}
CONNS=${4:-4}
command -v wrk >/dev/null || { echo "load_test.sh: wrk not installed (apt install wrk)" >&2; exit 1; }
TMP=$(mktemp -d)
"$CLI" serve --model "$MODEL" --port 0 --quiet 2> "$TMP/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 200); do
  PORT=$(sed -n 's#.*http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$TMP/server.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "${PORT:-}" ] || { cat "$TMP/server.log"; exit 1; }
URL=http://127.0.0.1:$PORT
PROMPT='def mean(xs):\n    return sum(xs) / len(xs)\n'
echo "server pid $SERVER on $URL, model $MODEL, OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}, $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

run() {  # name path body
  cat > "$TMP/$1.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br, zstd"
wrk.body = [==[$3]==]
LUA
  echo; echo "== $1: POST $2 $3"
  wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --timeout 30s --latency -s "$TMP/$1.lua" "$URL$2" | tee "$TMP/$1.out"
  if grep -qE "Non-2xx|Socket errors" "$TMP/$1.out"; then echo "load_test.sh: $1 had errors" >&2; exit 1; fi
}
run forward /api/forward "{\"text\": \"$PROMPT\"}"
run predict /api/predict "{\"text\": \"$PROMPT\", \"temperature\": 0.7}"
run generate /api/generate "{\"text\": \"$PROMPT\", \"max_tokens\": 16, \"temperature\": 0.8, \"stop_at_eos\": false}"
curl -sf "$URL/api/info" >/dev/null && echo && echo "server still up after the load test"
