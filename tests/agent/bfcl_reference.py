"""bfcl-eval's own AST checker for the comparison tests, and systematic perturbations of BFCL ground truths.

bfcl-eval installs only without its dependencies here (``pip install --no-deps bfcl-eval``: its requirements
pull every model vendor's SDK). Its ast_checker imports the model registry (bfcl_eval.constants.model_config,
which imports every vendor's handler) only to ask whether a model's dotted function names were written with
underscores (``convert_func_name``). While the checker is imported, that registry is replaced by one that
answers "no" for every model, so names are compared as written; everything else is bfcl-eval's own code."""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
import types

import pytest


class _NoConversion(dict):
    def __getitem__(self, key):
        return types.SimpleNamespace(underscore_to_dot=False)


def load_checker():
    if importlib.util.find_spec("bfcl_eval") is None:
        pytest.skip("bfcl-eval is not installed: pip install --no-deps bfcl-eval")
    name = "bfcl_eval.constants.model_config"
    saved = sys.modules.get(name)
    no_vendor_registry = types.ModuleType(name)
    no_vendor_registry.MODEL_CONFIG_MAPPING = _NoConversion()
    sys.modules[name] = no_vendor_registry
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval import ast_checker
    finally:
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved

    def reference(functions, output, possible_answer, category) -> bool | str:
        """BFCL's verdict, as its eval_runner reaches it: irrelevance passes on no call."""
        if category == "irrelevance":
            return not output
        try:
            return bool(ast_checker.ast_checker(functions, output, possible_answer, Language.PYTHON, category,
                                                "model")["valid"])
        except Exception as e:  # noqa: BLE001 - the reference itself crashes on some outputs
            return f"raised {type(e).__name__}"

    return reference


def data_dir() -> str:
    spec = importlib.util.find_spec("bfcl_eval")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def _first(values):
    return next((v for v in values if v != ""), None)


def _resolve(value):
    """A possible answer's dict ({key: [allowed values]}) as the dict a model writes (first value of each)."""
    if isinstance(value, dict):
        return {k: _resolve(_first(v)) if isinstance(v, list) else v for k, v in value.items()
                if not isinstance(v, list) or _first(v) is not None}
    if isinstance(value, list):
        return [_resolve(v) if isinstance(v, dict) else v for v in value]
    return value


def ground_truth_output(answer: list[dict]) -> list[dict]:
    """The first allowed value of every parameter (a parameter whose only value is "" left out)."""
    out = []
    for call in answer:
        name, params = next(iter(call.items()))
        out.append({name: {k: _resolve(_first(v)) for k, v in params.items() if _first(v) is not None}})
    return out


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.5 + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return list(reversed(value)) + ([0] if len(value) < 2 else [])
    if isinstance(value, dict):
        return {**value, "zz_extra": 1}
    return "changed"


def perturbations(functions: list[dict], answer: list[dict]):
    """(label, output) pairs: the ground truth and the ways models get it wrong (or differently right)."""
    base = ground_truth_output(answer)
    yield "ground_truth", base
    described = {f["name"]: f for f in functions}
    for i, call in enumerate(base):
        name, args = next(iter(call.items()))
        params = described.get(name, {}).get("parameters", {})
        required = set(params.get("required", []))
        allowed = next(iter(answer[i].values()))
        for param, value in args.items():
            def variant(new_args, label, i=i, name=name):
                out = copy.deepcopy(base)
                out[i] = {name: new_args}
                return label, out
            yield variant({k: v for k, v in args.items() if k != param},
                          "drop_required" if param in required else "drop_optional")
            yield variant({**args, param: _changed(value)}, "wrong_value")
            if isinstance(value, str):
                yield variant({**args, param: value.upper() + " "}, "string_case_space")
                yield variant({**args, param: value.replace(" ", "_") + "."}, "string_punctuation")
                yield variant({**args, param: f"'{value}'"}, "string_quoted")
                yield variant({**args, param: 0}, "wrong_type_str")
            if isinstance(value, bool):
                yield variant({**args, param: int(value)}, "bool_as_int")
            elif isinstance(value, int):
                yield variant({**args, param: float(value)}, "int_as_float")
                yield variant({**args, param: str(value)}, "int_as_str")
            elif isinstance(value, float):
                yield variant({**args, param: int(value) if value.is_integer() else round(value)}, "float_as_int")
            if isinstance(value, list):
                yield variant({**args, param: []}, "empty_list")
                yield variant({**args, param: [value]}, "nested_list")
            others = [v for v in allowed.get(param, []) if v != "" and v != value]
            if others:
                yield variant({**args, param: others[0]}, "second_allowed_value")
        yield ("unexpected_param", [*base[:i], {name: {**args, "zz_unexpected": 1}}, *base[i + 1:]])
        for param, values in allowed.items():
            if param not in args and _first(values) is None:
                yield ("optional_given", [*base[:i], {name: {**args, param: "x"}}, *base[i + 1:]])
        yield ("wrong_name", [*base[:i], {name + "_x": args}, *base[i + 1:]])
    yield "no_call", []
    yield "extra_call", base + base[:1]
    if len(base) > 1:
        yield "reversed", list(reversed(base))
        yield "duplicate_in_place_of_another", [base[0]] + base[:-1]
        yield "missing_call", base[:-1]
