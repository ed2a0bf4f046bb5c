#!/usr/bin/env bash
# Installs the Debian packages layerlab needs (build, tests, benchmarks, explainer).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake pkg-config git
  libopenblas-openmp-dev      # BLAS for training (OpenMP build, shares our thread pool)
  libdnnl-dev                 # oneDNN: inference matrix products (AVX-512 where the CPU has it)
  nlohmann-json3-dev          # JSON
  libsentencepiece-dev        # Llama tokenizer
  libicu-dev                  # Unicode classes and normalisation (GPT-2 / BERT tokenizers)
  libcpp-httplib-dev          # explainer HTTP server
  libcli11-dev                # the CLI's option tables (header-only)
  libgtest-dev                # tests
  python3-torch python3-numpy # benchmark peer (PyTorch on the CPU)
  wrk                         # HTTP load test
  chromium                    # explainer browser tests
  librsvg2-bin                # rsvg-convert: PNG / PDF figures (layerlab plot --format)
)
# Node.js and npm build the explainer's front end; a machine may already have them from
# another source (whose nodejs package conflicts with Debian's npm), so install only if absent.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
