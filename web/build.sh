#!/usr/bin/env bash
# Builds the explainer page into web/dist (served by `layerlab serve`): installs the pinned npm
# packages (package-lock.json) when needed, type-checks, bundles with vite.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  echo "web/build.sh: npm not found; install Debian's nodejs and npm (scripts/deps.sh)" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi
npx tsc --noEmit
npx vite build --logLevel warn
echo "web/build.sh: page built in $(pwd)/dist"
