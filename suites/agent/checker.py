"""The project's AST checker for function calls (BFCL-style), plus execution match.

AST check of predicted calls against the expected ones, given each function's JSON Schema:
* function name matches;
* every required parameter is present; no parameter outside the schema;
* types match the schema (an int is accepted where a number is expected, never the reverse, and a bool is
  never a number);
* values match: integers exactly; numbers with a float on either side within FLOAT_REL_TOL (relative) or
  FLOAT_ABS_TOL; strings after normalisation (`normalise_string`); lists in order; objects by key;
* an expected call gives either `arguments` (one value per parameter) or `allowed` (BFCL's possible-answer
  form: a list of allowed values per parameter, "" meaning "may be omitted"); with `arguments`, an optional
  parameter may be omitted or given as its schema default, and an explicit null equals omission where the
  schema's default is null;
* parallel calls match order-free: a one-to-one assignment of predicted to expected calls (bipartite
  matching), whatever the duplicates;
* where no call is expected (irrelevance, clarification), any call fails.
Any model output gives a verdict, never an exception: malformed calls, wrong types, nesting and sizes
included. `--checker bfcl` (suites.agent.bfcl) applies BFCL's own rules instead; docs/agent.md lists the
differences. Execution match runs the predicted calls (only if they validate against their schemas and name
no undeclared parameter) and compares the results with the expected calls' results, order-free.
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
FLOAT_REL_TOL = 1e-6  # 3.1416 vs 3.14159 differ; 0.1 + 0.2 vs 0.3 do not
FLOAT_ABS_TOL = 1e-12  # near zero only: physical constants such as 1e-9 stay distinct from 0
MAX_DEPTH = 64  # values nested deeper than this are not compared (they never match)
_MISSING = object()


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    kind: str = ""  # one of FAILURE_KINDS when not ok
    detail: str = ""


PASS = CheckResult(True)


def normalise_string(value: str) -> str:
    """NFKC, case-folded, whitespace removed, then quotes and trailing sentence punctuation stripped (in
    turn, until none is left: '"Paris."' and 'Paris".' both give 'paris')."""
    text = "".join(unicodedata.normalize("NFKC", value).casefold().split())
    while True:
        stripped = text.strip("\"'`“”‘’").rstrip(".,;:!?。，；：！？")
        if stripped == text:
            return text
        text = stripped


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_ok(value, schema, depth: int = 0) -> bool:
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return depth <= MAX_DEPTH
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if not kinds:
        return True
    for k in kinds:
        if k == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if k == "number" and _is_number(value):
            return True
        if k == "string" and isinstance(value, str):
            return True
        if k == "boolean" and isinstance(value, bool):
            return True
        if k == "null" and value is None:
            return True
        if k == "array" and isinstance(value, list):
            return all(type_ok(v, schema.get("items", {}), depth + 1) for v in value)
        if k == "object" and isinstance(value, dict):
            props = schema.get("properties", {})
            return all(type_ok(v, props[n], depth + 1) for n, v in value.items() if n in props)
    return False


def values_equal(a, b, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if _is_number(a) and _is_number(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b  # integers exactly: timestamps 1617176400000 and 1617176400001 differ
        try:
            return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_ABS_TOL)
        except OverflowError:
            return False
    if isinstance(a, str) and isinstance(b, str):
        return normalise_string(a) == normalise_string(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k], depth + 1) for k in a)
    return a is None and b is None


def allowed_match(got, option, depth: int = 0) -> bool:
    """A value against one allowed value of BFCL's possible-answer form, where a dict lists allowed values per
    key ({"min": [300000], "max": [400000, ""]}) and a list may hold such dicts."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(option, dict) and isinstance(got, dict) and all(isinstance(v, list) for v in option.values()):
        if any(k not in option for k in got):
            return False
        return all(("" in allowed) if k not in got else
                   any(a != "" and allowed_match(got[k], a, depth + 1) for a in allowed)
                   for k, allowed in option.items())
    if isinstance(option, list) and isinstance(got, list) and any(isinstance(o, dict) for o in option):
        return len(got) == len(option) and all(allowed_match(g, o, depth + 1) for g, o in zip(got, option))
    return values_equal(got, option, depth)


def _malformed(call) -> str | None:
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return "a call without a string name"
    if not isinstance(call.get("arguments"), dict):
        return f"{call['name']}: arguments are not an object"
    return None


def _value_matches(name: str, got, expected: dict, properties: dict, required) -> CheckResult:
    """One parameter's value (or _MISSING) against the expected call (`arguments` or `allowed` form)."""
    schema = properties.get(name, {})
    default = schema.get("default", _MISSING) if isinstance(schema, dict) else _MISSING
    if got is None and default is None:
        got = _MISSING  # an explicit null where null is the default says "not given"
    if "allowed" in expected:
        options = expected["allowed"].get(name, _MISSING)
        if options is _MISSING:
            if got is _MISSING or (default is not _MISSING and values_equal(got, default)):
                return PASS
            return CheckResult(False, "wrong_value", f"{expected['name']}.{name}: {got!r} given, expected it omitted")
        options = options if isinstance(options, list) else [options]
        if got is _MISSING:
            if "" in options or (name not in required and default is not _MISSING
                                 and any(values_equal(default, o) for o in options)):
                return PASS
            return CheckResult(False, "wrong_value", f"{expected['name']}: parameter {name!r} omitted, expected one "
                                                     f"of {options!r}")
        if any(o != "" and allowed_match(got, o) for o in options):
            return PASS
        return CheckResult(False, "wrong_value", f"{expected['name']}.{name}: {got!r}, expected one of {options!r}")
    exp = expected.get("arguments", {}).get(name, _MISSING)
    if exp is None and default is None:
        exp = _MISSING
    if got is _MISSING and exp is _MISSING:
        return PASS
    if got is _MISSING:
        if default is _MISSING or not values_equal(exp, default):
            return CheckResult(False, "wrong_value", f"{expected['name']}: optional parameter {name!r} omitted, "
                                                     f"expected {exp!r}")
    elif exp is _MISSING:
        if default is _MISSING or not values_equal(got, default):
            return CheckResult(False, "wrong_value", f"{expected['name']}.{name}: {got!r} given, expected it omitted "
                                                     "(or the default)")
    elif not values_equal(got, exp):
        return CheckResult(False, "wrong_value", f"{expected['name']}.{name}: {got!r}, expected {exp!r}")
    return PASS


def check_call(predicted: dict, expected: dict, parameters: dict, values: bool = True) -> CheckResult:
    """One predicted call against one expected call of a function whose parameters schema is given."""
    problem = _malformed(predicted)
    if problem:
        return CheckResult(False, "parse_error", problem)
    if predicted["name"] != expected["name"]:
        return CheckResult(False, "wrong_name", f"called {predicted['name']!r}, expected {expected['name']!r}")
    args = predicted["arguments"]
    properties = parameters.get("properties", {}) if isinstance(parameters, dict) else {}
    required = parameters.get("required", []) if isinstance(parameters, dict) else []
    for name in required:
        if name not in args:
            return CheckResult(False, "missing_required", f"{expected['name']}: required parameter {name!r} missing")
    for name in args:
        if name not in properties:
            return CheckResult(False, "unknown_parameter", f"{expected['name']}: unknown parameter {name!r}")
    for name, value in args.items():
        schema = properties[name]
        null_default = value is None and isinstance(schema, dict) and schema.get("default", _MISSING) is None
        if not null_default and not type_ok(value, schema):
            kind = schema.get("type") if isinstance(schema, dict) else None
            return CheckResult(False, "wrong_type", f"{expected['name']}.{name}: {_short(value)} is not of type {kind}")
    if not values:
        return PASS
    wanted = expected.get("allowed") if "allowed" in expected else expected.get("arguments", {})
    for name in sorted(set(args) | set(wanted), key=str):
        result = _value_matches(name, args.get(name, _MISSING), expected, properties, required)
        if not result.ok:
            return result
    return PASS


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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
        return CheckResult(False, "parse_error", str(parse_errors[0]))
    if not isinstance(predicted, list):
        return CheckResult(False, "parse_error", "the calls are not a list")
    malformed = next((m for m in map(_malformed, predicted) if m), None)
    if malformed:
        return CheckResult(False, "parse_error", malformed)
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
    # Report the failure of the most plausible pairing: a predicted call that matches nothing, same name first.
    for i, p in enumerate(predicted):
        if any(r.ok for r in results[i]):
            continue
        same = [results[i][j] for j, e in enumerate(expected) if e["name"] == p["name"]]
        if same:
            return same[0]
        return CheckResult(False, "wrong_name", f"called {p['name']!r}, expected one of "
                                                f"{sorted({e['name'] for e in expected})}")
    # Every predicted call matches some expected call, but not one to one (a call given twice in place of another).
    counts = Counter(p["name"] for p in predicted)
    duplicated = sorted(n for n, k in counts.items() if k > sum(e["name"] == n for e in expected))
    detail = f"calls {duplicated} given more often than expected" if duplicated else "no one-to-one match of the calls"
    return CheckResult(False, "wrong_value", detail)


def exec_match(predicted: list[dict], expected: list[dict], tools: dict[str, Tool]) -> bool | None:
    """Running the predicted calls gives the expected results (as a multiset of (name, result)). None when a
    needed tool is not available to run. Predicted calls that do not validate, or that pass a parameter the
    schema does not declare, are not run: no match."""
    if any(e["name"] not in tools or "arguments" not in e for e in expected):
        return None  # a tool we cannot run, or an expected call given as allowed values: no single result
    if not isinstance(predicted, list) or any(_malformed(p) for p in predicted):
        return False
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
