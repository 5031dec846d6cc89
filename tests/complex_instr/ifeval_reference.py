"""IFEval's reference checker (Google's code, as shipped in lm-eval's tasks/ifeval), loaded without lm-eval's
package (which needs its whole dependency tree) and without nltk's punkt download (no network): install with
``pip install --no-deps lm-eval`` plus ``langdetect immutabledict nltk``. Its number_sentences needs punkt's
data, which cannot be had offline: that type is not compared."""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import pytest

NOT_COMPARED = {"length_constraints:number_sentences": "IFEval splits sentences with nltk punkt, whose data "
                                                        "cannot be downloaded here"}


def load_registry():
    for name in ("langdetect", "immutabledict", "nltk"):
        pytest.importorskip(name)
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("lm-eval (IFEval's reference) is not installed: pip install --no-deps lm-eval")
    import nltk

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
