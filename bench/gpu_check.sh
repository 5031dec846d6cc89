#!/usr/bin/env bash
# The GPU check for the day a GPU is lent (one H100/H200, at most ~8 minutes):
#   bash bench/gpu_check.sh            install what is missing from PyPI, then run bench/gpu_check.py
#   bash bench/gpu_check.sh --dry-run  no installs, CPU, tiny shapes: the same code paths (tests run this)
# Installs: torch with CUDA only if the python here has none; transformers (pinned as in pyproject.toml);
# flash-attn only as a prebuilt wheel within FLASH_ATTN_TIMEOUT seconds (PyPI ships flash-attn as a source
# package that compiles for ~1 h: then the check uses torch's flash / cuDNN sdpa kernels and says so).
# Extra arguments go to bench/gpu_check.py (e.g. --lengths 4096 16384 32768 --budget-s 240).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PY=.venv/bin/python; fi

if [ "${1:-}" = "--dry-run" ]; then
  shift
  exec "$PY" bench/gpu_check.py --dry-run "$@"
fi

start=$(date +%s)
say() { echo "[gpu_check $(( $(date +%s) - start ))s] $*"; }
pip_install() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }

if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  # PyPI's Linux torch wheel is the CUDA build; a CPU build (+cpu, from the PyTorch index) is replaced.
  have=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
  say "installing torch${have:+==$have} with CUDA from PyPI"
  timeout "${TORCH_TIMEOUT:-300}" "$PY" -m pip install -q --disable-pip-version-check \
    ${have:+--force-reinstall} "torch${have:+==$have}" \
    || { say "torch with CUDA could not be installed"; exit 1; }
fi
"$PY" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device visible"; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name())'

want_tf=$(grep -o '"transformers[^"]*"' pyproject.toml | head -1 | tr -d '"')
if ! "$PY" -c 'import transformers, packaging, tqdm, yaml' 2>/dev/null; then
  say "installing ${want_tf:-transformers} and small deps"
  pip_install "${want_tf:-transformers}" packaging tqdm pyyaml
fi

if "$PY" -c 'import flash_attn' 2>/dev/null; then
  say "flash-attn already installed"
else
  say "trying a prebuilt flash-attn wheel (at most ${FLASH_ATTN_TIMEOUT:-180} s, no source build)"
  if timeout "${FLASH_ATTN_TIMEOUT:-180}" "$PY" -m pip install -q --disable-pip-version-check --only-binary=:all: \
       --no-build-isolation flash-attn 2>/dev/null \
     && "$PY" -c 'import flash_attn' 2>/dev/null; then
    say "flash-attn installed from a wheel"
  else
    say "no flash-attn wheel for this torch/CUDA/python: packed attention uses torch's sdpa kernels (flash / cuDNN)"
  fi
fi

left=$(( ${CHECK_SECONDS:-480} - ($(date +%s) - start) ))
budget=$(( left > 150 ? left - 90 : 60 ))
say "running bench/gpu_check.py (longest-row search budget ${budget}s)"
"$PY" bench/gpu_check.py --budget-s "$budget" "$@"
say "done"
