#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
[ -n "${VIRTUAL_ENV:-}" ] || . .venv/bin/activate
export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$PWD/.cache/torch_extensions}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# one torch thread per pytest worker: two workers on two cores, no oversubscription
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
ruff check core suites tests bench examples
python -m pytest -q -n 2 --durations=15 "$@"
