#!/usr/bin/env bash
# Set up (if needed) and run the main job on the embedded default: the long-context demo.
# Extra arguments go to it, e.g.: bash scripts/demo.sh --stage1-steps 300
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
[ -n "${VIRTUAL_ENV:-}" ] || . .venv/bin/activate
export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$PWD/.cache/torch_extensions}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m suites.longctx.train "$@"
