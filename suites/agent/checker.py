"""A Berkeley Function Calling Leaderboard style AST checker, plus execution match.

AST check of predicted calls against the expected ones, given each function's JSON Schema:
* function name matches;
* every required parameter is present; no parameter outside the schema;
* types match the schema (an int is accepted where a number/float is expected, never the reverse, and a
  bool is never a number);
* values match: numbers numerically, strings after normalisation (Unicode NFKC, case-folded, whitespace
  removed, surrounding quotes and trailing punctuation stripped), lists in order, objects by key; an
  optional parameter may be omitted or given when it equals the schema default;
* parallel calls match order-free (a perfect matching between predicted and expected calls);
* where no call is expected (irrelevance, clarification), any call fails.
Execution match runs the predicted calls (only if they validate against their schemas and name no undeclared
parameter) and compares the results with the expected calls' results, order-free.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import dataclass

from suites.agent.arguments import undeclared_arguments, validation_errors
from suites.agent.schema import Tool, ToolRaised, execute

FAILURE_KINDS = ("parse_error", "unexpected_call", "no_call", "wrong_call_count", "wrong_name", "missing_required",
                 "unknown_parameter", "wrong_type", "wrong_value")
_MISSING = object()


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    kind: str = ""  # one of FAILURE_KINDS when not ok
    detail: str = ""


PASS = CheckResult(True)


def normalise_string(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).casefold()
    text = "".join(text.split())
    return text.strip("\"'`“”‘’").rstrip(".,;:!?。，；：！？")


def type_ok(value, schema: dict) -> bool:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if not kinds:
        return True
    for k in kinds:
        if k == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if k == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if k == "string" and isinstance(value, str):
            return True
        if k == "boolean" and isinstance(value, bool):
            return True
        if k == "null" and value is None:
            return True
        if k == "array" and isinstance(value, list):
            return all(type_ok(v, schema.get("items", {})) for v in value)
        if k == "object" and isinstance(value, dict):
            props = schema.get("properties", {})
            return all(type_ok(v, props[n]) for n, v in value.items() if n in props)
    return False


def values_equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, str) and isinstance(b, str):
        return normalise_string(a) == normalise_string(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return a == b


def check_call(predicted: dict, expected: dict, parameters: dict, values: bool = True) -> CheckResult:
    """One predicted call against one expected call of a function whose parameters schema is given."""
    if predicted["name"] != expected["name"]:
        return CheckResult(False, "wrong_name", f"called {predicted['name']!r}, expected {expected['name']!r}")
    args, want = predicted["arguments"], expected["arguments"]
    properties = parameters.get("properties", {})
    for name in parameters.get("required", []):
        if name not in args:
            return CheckResult(False, "missing_required", f"{expected['name']}: required parameter {name!r} missing")
    for name in args:
        if name not in properties:
            return CheckResult(False, "unknown_parameter", f"{expected['name']}: unknown parameter {name!r}")
    for name, value in args.items():
        if not type_ok(value, properties[name]):
            return CheckResult(False, "wrong_type", f"{expected['name']}.{name}: {value!r} is not of type "
                                                    f"{properties[name].get('type')}")
    if not values:
        return PASS
    for name in sorted(set(args) | set(want)):
        got, exp = args.get(name, _MISSING), want.get(name, _MISSING)
        default = properties.get(name, {}).get("default", _MISSING)
        if got is _MISSING:
            if default is _MISSING or not values_equal(exp, default):
                return CheckResult(False, "wrong_value", f"{expected['name']}: optional parameter {name!r} "
                                                         f"omitted, expected {exp!r}")
        elif exp is _MISSING:
            if default is _MISSING or not values_equal(got, default):
                return CheckResult(False, "wrong_value", f"{expected['name']}.{name}: {got!r} given, expected "
                                                         "it omitted (or the default)")
        elif not values_equal(got, exp):
            return CheckResult(False, "wrong_value", f"{expected['name']}.{name}: {got!r}, expected {exp!r}")
    return PASS


def _perfect_matching(ok: list[list[bool]]) -> bool:
    """Is there a one-to-one assignment of predicted (rows) to expected (columns) calls using ok pairs?"""
    owner: dict[int, int] = {}

    def assign(row: int, seen: set) -> bool:
        for col, good in enumerate(ok[row]):
            if good and col not in seen:
                seen.add(col)
                if col not in owner or assign(owner[col], seen):
                    owner[col] = row
                    return True
        return False

    return all(assign(row, set()) for row in range(len(ok)))


def check_calls(predicted: list[dict], expected: list[dict], parameters: dict[str, dict],
                parse_errors: list[str] = (), values: bool = True) -> CheckResult:
    """All predicted calls against all expected calls (order-free). `parameters` maps function names to
    their parameters schemas; a name outside it is a wrong function."""
    if parse_errors:
        return CheckResult(False, "parse_error", parse_errors[0])
    if not expected:
        return PASS if not predicted else CheckResult(False, "unexpected_call",
                                                      f"no call expected, got {predicted[0]['name']!r}")
    if not predicted:
        return CheckResult(False, "no_call", f"expected {len(expected)} call(s), got none")
    if len(predicted) != len(expected):
        return CheckResult(False, "wrong_call_count", f"expected {len(expected)} call(s), got {len(predicted)}")
    results = [[check_call(p, e, parameters.get(e["name"], {}), values) for e in expected] for p in predicted]
    if _perfect_matching([[r.ok for r in row] for row in results]):
        return PASS
    # Report the failure of the most plausible pairing: same name first, in order.
    for i, p in enumerate(predicted):
        same = [j for j, e in enumerate(expected) if e["name"] == p["name"]]
        failed = [results[i][j] for j in same if not results[i][j].ok]
        if same and len(failed) == len(same):
            return failed[0]
    wrong = next(p for p in predicted if all(e["name"] != p["name"] for e in expected))
    return CheckResult(False, "wrong_name", f"called {wrong['name']!r}, expected one of "
                                            f"{sorted({e['name'] for e in expected})}")


def exec_match(predicted: list[dict], expected: list[dict], tools: dict[str, Tool]) -> bool | None:
    """Running the predicted calls gives the expected results (as a multiset of (name, result)). None when a
    needed tool is not available to run. Predicted calls that do not validate, or that pass a parameter the
    schema does not declare, are not run: no match."""
    if any(e["name"] not in tools for e in expected):
        return None
    if len(predicted) != len(expected) or any(p["name"] not in tools for p in predicted):
        return False
    if any(validation_errors(tools[p["name"]], p["arguments"]) or undeclared_arguments(tools[p["name"]], p["arguments"])
           for p in predicted):
        return False
    try:
        got = Counter((p["name"], execute(tools[p["name"]], p["arguments"]).content) for p in predicted)
    except (TypeError, ValueError, ArithmeticError, ToolRaised):  # the model's arguments broke the tool: no match
        return False
    want = Counter((e["name"], execute(tools[e["name"]], e["arguments"]).content) for e in expected)
    return got == want
