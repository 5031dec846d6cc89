#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: a virtual environment with torch and this project installed.
# - Uses the active virtual environment if there is one, else creates ./.venv.
# - Keeps any torch already installed (a GPU user's CUDA build); otherwise installs the pinned CPU-capable
#   torch==2.13.0, so an unpinned dependency never pulls a multi-GB CUDA build onto a CPU machine.
# - Re-running is cheap: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_PIN="${SFT_TORCH_PIN:-torch==2.13.0}"

if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
stamp="$VIRTUAL_ENV/.sft-suites-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  python -m pip install -q --upgrade pip
  python -c "import torch" 2>/dev/null || python -m pip install -q "$TORCH_PIN"
  python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
