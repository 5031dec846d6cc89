#!/usr/bin/env bash
# Opt-in (not CI): load core.curate.export's exports with other trainers' own dataset / template code and compare
# the trained tokens with core's rendering and the export report's stated differences. TRL is checked in the
# tests (tests/core/curate/test_export.py).
#
#   scripts/check_exports_with_trainers.sh                    # llamafactory, swift and axolotl
#   scripts/check_exports_with_trainers.sh swift axolotl      # some of them
#   LF_TEMPLATE=default SWIFT_AGENT_TEMPLATE=react_en AXOLOTL_TRAIN_ON_EOS=last scripts/check_exports_with_trainers.sh
#                       # settings that train other tokens: the check reports the records that differ, exits 1
#
# Each trainer goes without its dependencies (pip --no-deps) into its own folder under .cache/trainer-check,
# with only the extra packages its data path imports; torch, transformers, datasets, trl and peft are this
# project's (never reinstalled). The trainers pin older ones (LLaMA-Factory: transformers <= 5.6, trl <= 0.24,
# datasets <= 4; ms-swift 4.6: transformers < 5.20, trl < 1.0, peft < 0.21, datasets < 4.8.5; axolotl 0.19
# pins its own torch / transformers stack), so none can be a test extra of this environment; their text data
# paths run on ours.
#
# - llamafactory 0.9.5: an empty torchaudio is put in front. LLaMA-Factory imports it at module level, a
#   CPU-only torch has no matching torchaudio / torchvision wheel (installing one pulls a CUDA torch), and the
#   text-only path never calls it.
# - ms-swift 4.6.0: `import swift.template, swift.dataset` needs, found one ModuleNotFoundError at a time:
#   modelscope -> modelscope_hub -> cryptography -> _cffi_backend (cffi, pycparser) -> json_repair -> aiohttp
#   -> multidict, yarl, propcache, aiohappyeyeballs, aiosignal, frozenlist. Nothing else (no stand-ins).
# - axolotl 0.19.0: axolotl.prompt_strategies.chat_template needs colorama and addict only. Its own pin,
#   datasets==4.8.4 (+ httpx, which 4.8 imports), is put in front too: axolotl reads the JSON through datasets.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
base=.cache/trainer-check
trainers=("$@")
[ ${#trainers[@]} -gt 0 ] || trainers=(llamafactory swift axolotl)

install() {  # FOLDER PACKAGE==VERSION [EXTRA PACKAGES...]: once per list of versions, without dependencies
  local dir=$1 stamp="$1/.installed-$(echo "${@:2}" | md5sum | cut -c1-12)"
  [ -f "$stamp" ] && return
  rm -rf "$dir"
  pip install --quiet --no-deps --target "$dir" "${@:2}"
  touch "$stamp"
}

status=0
for trainer in "${trainers[@]}"; do
  case $trainer in
    llamafactory)
      install "$base/lf" "llamafactory==${LLAMAFACTORY_VERSION:-0.9.5}"
      mkdir -p "$base/stubs/torchaudio"
      [ -f "$base/stubs/torchaudio/__init__.py" ] || \
        echo '"""empty stand-in (see scripts/check_exports_with_trainers.sh)"""' > "$base/stubs/torchaudio/__init__.py"
      path="$base/lf:$base/stubs" ;;
    swift)
      install "$base/swift" "ms-swift==${MS_SWIFT_VERSION:-4.6.0}" modelscope==1.40.2 modelscope-hub==0.5.1 \
        cryptography==50.0.2 cffi==2.1.1 pycparser==3.12 json-repair==0.64.6 aiohttp==3.14.5 multidict==7.2.1 \
        yarl==1.25.1 propcache==0.5.4 aiohappyeyeballs==2.7.1 aiosignal==1.4.0 frozenlist==1.8.0
      path="$base/swift" ;;
    axolotl)
      install "$base/axolotl" "axolotl==${AXOLOTL_VERSION:-0.19.0}" colorama==0.4.6 addict==2.4.0 datasets==4.8.4 \
        httpx==0.28.1
      path="$base/axolotl" ;;
    *) echo "unknown trainer $trainer (expected llamafactory, swift, axolotl)" >&2; exit 2 ;;
  esac
  PYTHONPATH="$PWD:$path" python scripts/check_exports_with_trainers.py "$trainer" || status=1
done
exit $status
