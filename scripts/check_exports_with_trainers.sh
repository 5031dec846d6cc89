#!/usr/bin/env bash
# Opt-in (not CI): load core.curate.export's exports with other trainers' own data pipelines and compare the
# trained tokens with core's rendering. TRL is checked in the tests (tests/core/curate/test_export.py).
#
#   scripts/check_exports_with_trainers.sh            # LLaMA-Factory 0.9.5 (its converter, qwen template, processor)
#   LF_TEMPLATE=chatml scripts/check_exports_with_trainers.sh
#
# llamafactory is installed without its dependencies into .cache/trainer-check/lf (it pins transformers <= 5.6,
# trl <= 0.24 and datasets <= 4, which this project's environment does not have; its data path runs on ours).
# An empty torchaudio is put in front: LLaMA-Factory imports it at module level, and on a CPU-only torch there
# is no matching torchaudio / torchvision wheel; the text-only path never calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
lf=.cache/trainer-check/lf stubs=.cache/trainer-check/stubs
if [ ! -d "$lf/llamafactory" ]; then
  pip install --quiet --no-deps --target "$lf" "llamafactory==${LLAMAFACTORY_VERSION:-0.9.5}"
fi
mkdir -p "$stubs/torchaudio"
[ -f "$stubs/torchaudio/__init__.py" ] || echo '"""empty stand-in (see scripts/check_exports_with_trainers.sh)"""' \
  > "$stubs/torchaudio/__init__.py"
PYTHONPATH="$PWD:$lf:$stubs" python scripts/check_exports_with_trainers.py
