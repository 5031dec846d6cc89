#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: a virtual environment with torch and this project installed.
# - Uses the active virtual environment if there is one, else creates ./.venv.
# - Keeps any torch already installed (a GPU user's own build). Otherwise installs the pinned torch==2.13.0:
#   on Linux without an NVIDIA GPU the CPU build from PyTorch's CPU index (PyPI's Linux wheel is the CUDA
#   build, with several GB of nvidia-* wheels), else PyPI's build. A torch wheel in a find-links folder of the
#   machine's pip config is used too. If neither gives the CPU build (index unreachable), it warns and
#   installs PyPI's build, which also runs on CPU.
# - SFT_TORCH_PIN changes the pin; SFT_TORCH_INDEX=URL installs torch from that index instead (e.g. a CUDA one).
# - SFT_SETUP_DRY_RUN=1 prints the install commands instead of running them (and ignores the stamp below).
# - Re-running is cheap: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_PIN="${SFT_TORCH_PIN:-torch==2.13.0}"
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"
DRY_RUN="${SFT_SETUP_DRY_RUN:-}"

run() {
  if [ -n "$DRY_RUN" ]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

has_nvidia_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1
}

install_torch() {
  # Without an active environment (a dry run before .venv exists) the environment would be a new one.
  if [ -n "${VIRTUAL_ENV:-}" ] && python -c "import torch" 2>/dev/null; then
    echo "setup: keeping the installed torch $(python -c 'import torch; print(torch.__version__)')"
    return
  fi
  if [ -n "${SFT_TORCH_INDEX:-}" ]; then
    run python -m pip install -q --no-deps --index-url "$SFT_TORCH_INDEX" "$TORCH_PIN"
  elif [ "$(uname -s)" = Linux ] && ! has_nvidia_gpu; then
    # --no-deps: only torch itself comes from the CPU index; the last command takes its dependencies
    # from the configured indexes.
    if ! run python -m pip install -q --no-deps --retries 1 --timeout 30 --index-url "$TORCH_CPU_INDEX" "$TORCH_PIN"; then
      echo "setup: warning: no CPU build of $TORCH_PIN from $TORCH_CPU_INDEX or a local wheel;" \
        "installing PyPI's build, which pulls several GB of CUDA libraries this machine does not use" >&2
    fi
  fi
  # torch itself from the configured indexes if nothing above installed it, else only its dependencies
  run python -m pip install -q "$TORCH_PIN"
}

if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || run "${PYTHON:-python3}" -m venv .venv
  if [ -x .venv/bin/python ]; then
    # shellcheck disable=SC1091
    . .venv/bin/activate
  fi
fi
stamp="${VIRTUAL_ENV:-.venv}/.sft-suites-$(sha1sum pyproject.toml | cut -c1-12)"
if [ -n "$DRY_RUN" ] || [ ! -f "$stamp" ]; then
  run python -m pip install -q --upgrade pip
  install_torch
  run python -m pip install -q -e ".[dev]"
  # test-only references whose declared requirements are every model vendor's SDK: their checkers need none
  # (tests/agent/bfcl_reference.py, tests/complex_instr/ifeval_reference.py)
  run python -m pip install -q --no-deps "bfcl-eval==2026.3.23" "lm-eval==0.4.13"
  # the real Llama 3 / Mistral vocabularies ship as their package data (tests/core/data/template_fixtures.py);
  # mistral-common pins numpy<2.4, and llama-models' own requirements are its inference stack
  run python -m pip install -q --no-deps "llama-models==0.3.0" "mistral-common==1.13.1" \
    "pydantic-extra-types==2.11.1" "pycountry==26.2.16"
  run touch "$stamp"
fi
