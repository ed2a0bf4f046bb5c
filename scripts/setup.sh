#!/usr/bin/env bash
# One command for a new user: install dependencies, build, and run a short demo on the
# small trained GPT-2 in ../shared/models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
bash scripts/demo.sh
