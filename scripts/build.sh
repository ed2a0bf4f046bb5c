#!/usr/bin/env bash
# Configures and builds layerlab (Release) into build/. Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
if [ -f web/package.json ]; then (cd web && bash build.sh); fi
