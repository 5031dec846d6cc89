"""BFCL (Berkeley Function Calling Leaderboard) on its own terms: its files, its AST rules, its call syntax.

* `read_category(dir, category)` reads BFCL's question file and its possible answers (`BFCL_v3_simple.json`
  + `possible_answer/BFCL_v3_simple.json`, or v4's `BFCL_v4_simple_python.json`; one JSON object a line).
* `check(functions, output, possible_answer, category)` applies BFCL's AST checker rules for the Python
  categories, written here from bfcl-eval's `ast_checker.py` (Apache-2.0) so that `--checker bfcl` gives its
  verdicts, quirks included: strings compared after removing ` ,./-_*^` and lowercasing (so `x2` equals
  `x**2`), `'` read as `"`; an int accepted for a float, never a float for an int, a bool never for either;
  floats compared exactly; a parameter the possible answer does not list is unexpected; "" in a parameter's
  list means it may be omitted; parallel calls matched greedily in the possible answers' order (not a full
  bipartite matching); lists of strings compared element by element after standardisation, lists of dicts
  and dicts key by key; no call at all is the only right answer on irrelevance.
* `decode_calls(text)` reads a model's calls: the project's formats (`suites.agent.parse`) or BFCL's Python
  syntax `[f(a=1), mod.g(b="x")]`.
The project's default checker (`suites.agent.checker`) differs where BFCL's rules are arbitrary; docs/agent.md
lists each difference.
"""

from __future__ import annotations

import ast
import json
import os
import re

from core.errors import UserError

PYTHON_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
_FILE_NAMES = {"simple": ("simple", "simple_python")}  # v4 calls the Python simple category simple_python
TYPES = {"string": str, "integer": int, "float": float, "boolean": bool, "array": list, "tuple": list,
         "dict": dict, "any": str}
NESTED = ("array", "tuple")
JSON_SCHEMA_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}
BFCL_TYPES = {"object": "dict", "number": "float", "null": "any"}  # JSON Schema types -> BFCL's


def _fail(kind: str, message: str) -> dict:
    return {"valid": False, "error": [message], "error_type": kind}


OK = {"valid": True, "error": []}


# --- BFCL's AST rules (Python) ---------------------------------------------------------------------------

def standardize(text: str) -> str:
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _answer_type(possible: list):
    return next((type(a) for a in possible if a != ""), None)


def _type_check(param: str, value, possible: list, expected: str, expected_type, nested_type) -> dict:
    result = {"valid": True, "error": [], "is_variable": False, "error_type": "type_error:simple"}
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type != expected_type
    if type(value) is expected_type:
        if nested_type is None:
            result["is_variable"] = is_variable
            return result
        for item in possible:
            if type(item) is not list or all(_type_check(param, element, item, str(nested_type), nested_type,
                                                         None)["valid"] for element in value):
                return {"valid": True, "error": [], "is_variable": is_variable}
        result.update(valid=False, error_type="type_error:nested",
                      error=[f"Nested type checking failed for parameter {param!r}."])
    if answer_type is not None and type(value) is answer_type:
        result["is_variable"] = True
        return result
    result["valid"] = False
    result["error"].append(f"Incorrect type for parameter {param!r}. Expected type {expected}, got "
                           f"{type(value).__name__}.")
    result["error_type"] = "type_error:simple"
    return result


def _string_check(param: str, value: str, possible: list) -> dict:
    if standardize(value) not in [standardize(a) for a in possible if type(a) is str]:
        return _fail("value_error:string", f"Invalid value for parameter {param!r}: {value!r}.")
    return OK


def _list_check(param: str, value: list, possible: list) -> dict:
    got = [standardize(v) if type(v) is str else v for v in value]
    wanted = [[standardize(v) if type(v) is str else v for v in answer] for answer in possible
              if isinstance(answer, list | str)]  # a str answer is iterated by character, as in BFCL
    if got not in wanted:  # an answer "" becomes [] here, as in BFCL: an empty list matches "may be omitted"
        return _fail("value_error:list/tuple", f"Invalid value for parameter {param!r}: {value!r}.")
    return OK


def _dict_check(param: str, value: dict, possible: list) -> dict:
    result = _fail("dict_checker:unclear", f"Invalid value for parameter {param!r}.")
    for answer in possible:
        if not isinstance(answer, dict):  # "" (may be omitted) included
            continue
        ok = True
        for key, item in value.items():
            if key not in answer:
                result, ok = _fail("value_error:dict_key", f"Unexpected dict key parameter: {key!r}."), False
                break
            got = standardize(item) if type(item) is str else item
            wanted = [standardize(a) if type(a) is str else a for a in answer[key]]
            if got not in wanted:
                result, ok = _fail("value_error:dict_value", f"Invalid value for parameter {key!r}."), False
                break
        if ok:
            for key, allowed in answer.items():
                if key not in value and "" not in allowed:
                    result, ok = _fail("value_error:dict_key", f"Missing dict key parameter: {key!r}."), False
                    break
        if ok:
            return OK
    return result


def _list_dict_check(param: str, value: list, possible: list) -> dict:
    result = _fail("list_dict_checker:unclear", f"Invalid value for parameter {param!r}.")
    for answer in possible:
        answer = [] if answer == "" else answer  # BFCL takes len(""): "may be omitted" matches an empty list
        if not isinstance(answer, list) or len(value) != len(answer):
            result = _fail("value_error:list_dict_count", "Wrong number of dictionaries in the list.")
            continue
        ok = True
        for got, want in zip(value, answer):
            result = _dict_check(param, got, [want]) if isinstance(got, dict) else \
                _fail("value_error:dict_value", f"Invalid value for parameter {param!r}.")
            if not result["valid"]:
                ok = False
                break
        if ok:
            return OK
    return result


def _in(value, possible: list) -> bool:
    try:
        return value in possible
    except Exception:  # noqa: BLE001 - exotic values that refuse comparison are not in the list
        return False


def check_simple(function: dict, output: dict, possible_answer: dict) -> dict:
    """One call ({name: arguments}) against one possible answer ({name: {param: [allowed values]}})."""
    possible = next(iter(possible_answer.values()))
    name = function["name"]
    details = function.get("parameters", {}).get("properties", {})
    if not isinstance(output, dict) or name not in output:
        return _fail("simple_function_checker:wrong_func_name", f"Function name {name!r} not found in model output.")
    arguments = output[name]
    if not isinstance(arguments, dict):
        return _fail("simple_function_checker:wrong_func_name", f"Arguments of {name!r} are not a dict.")
    for param in function.get("parameters", {}).get("required", []):
        if param not in arguments:
            return _fail("simple_function_checker:missing_required", f"Missing required parameter: {param!r}.")
    for param, value in arguments.items():
        if param not in details or param not in possible:
            return _fail("simple_function_checker:unexpected_param", f"Unexpected parameter: {param!r}.")
        expected = details[param].get("type", "any")
        expected = BFCL_TYPES.get(expected, expected)
        expected_type = TYPES.get(expected, str)
        nested_type = None
        if expected in NESTED:
            nested = details[param].get("items", {}).get("type", "any")
            nested_type = TYPES.get(BFCL_TYPES.get(nested, nested), str)
        if expected == "float" and type(value) is int:
            value = float(value)
        typed = _type_check(param, value, possible[param], expected, expected_type, nested_type)
        if not typed["valid"]:
            return {k: v for k, v in typed.items() if k != "is_variable"}
        if not typed["is_variable"]:
            if expected_type is dict:
                result = _dict_check(param, value, possible[param])
            elif expected_type is list and nested_type is dict:
                result = _list_dict_check(param, value, possible[param])
            elif expected_type is str:
                result = _string_check(param, value, possible[param])
            elif expected_type is list:
                result = _list_check(param, value, possible[param])
            else:
                result = None
            if result is not None:
                if not result["valid"]:
                    return result
                continue
        if not _in(value, possible[param]):
            return _fail("value_error:others", f"Invalid value for parameter {param!r}: {value!r}.")
    for param, allowed in possible.items():
        if param not in arguments and "" not in allowed:
            return _fail("simple_function_checker:missing_optional",
                         f"Optional parameter {param!r} not provided and not marked as optional.")
    return OK


def _describe(functions: list[dict], name: str) -> dict:
    return next((f for f in functions if f["name"] == name), {"name": name, "parameters": {}})


def check(functions: list[dict], output: list[dict], possible_answer: list[dict], category: str) -> dict:
    """BFCL's verdict ({"valid", "error", "error_type"}) on a decoded model output (a list of {name: args})."""
    if category == "irrelevance" or not possible_answer:
        return OK if not output else _fail("irrelevance_error:decoder_success", "a call where none is expected")
    if not output:
        return _fail("ast_decoder:decoder_wrong_output_format", "no function call")
    if len(output) != len(possible_answer):
        return _fail(f"{'parallel_function_checker_no_order' if 'parallel' in category else 'simple'}:wrong_count",
                     "Wrong number of functions.")
    if "parallel" in category:
        matched: list[int] = []
        for i, answer in enumerate(possible_answer):
            description = _describe(functions, next(iter(answer)))
            index = next((j for j, call in enumerate(output)
                          if j not in matched and check_simple(description, call, answer)["valid"]), None)
            if index is None:
                return _fail("parallel_function_checker_no_order:cannot_find_match",
                             f"Could not find a matching function for index {i} of possible answers.")
            matched.append(index)
        return OK
    description = _describe(functions, next(iter(possible_answer[0]))) if "multiple" in category else functions[0]
    return check_simple(description, output[0], possible_answer[0])


# --- the project's calls, expected calls and tools in BFCL's shapes ----------------------------------------

def to_bfcl_output(calls: list[dict]) -> list[dict]:
    return [{c["name"]: c["arguments"]} for c in calls]


def _retyped(parameters: dict, rename) -> dict:
    """A copy of a parameters schema with every `type` (its own, its items', its properties', all the way down)
    replaced by rename(type)."""
    def walk(schema):
        if isinstance(schema, dict):
            if "type" in schema:
                schema["type"] = rename(schema["type"])
            if "items" in schema:
                walk(schema["items"])
            for prop in schema.get("properties", {}).values():
                walk(prop)
        return schema

    return walk(json.loads(json.dumps(parameters)))


def bfcl_function(tool: dict) -> dict:
    """An OpenAI/JSON Schema tool as a BFCL function description (number -> float, object -> dict)."""
    function = tool.get("function", tool)

    def bfcl_type(kind):
        picked = next((k for k in kind if k != "null"), "any") if isinstance(kind, list) else kind
        return BFCL_TYPES.get(picked, picked) if isinstance(picked, str) else kind

    return {"name": function["name"], "description": function.get("description", ""),
            "parameters": _retyped(function.get("parameters", {}), bfcl_type)}


def possible_answer_of(expected: dict, parameters: dict) -> dict:
    """A project expected call ({"name", "arguments"} or {"name", "allowed"}) as a BFCL possible answer: each
    given value as a one-value list; an optional parameter given as its default, or not given but with a
    default, may also be omitted ("")."""
    if "allowed" in expected:
        return {expected["name"]: {k: list(v) for k, v in expected["allowed"].items()}}
    properties, required = parameters.get("properties", {}), set(parameters.get("required", []))
    answer = {}
    for name, value in expected.get("arguments", {}).items():
        default = properties.get(name, {}).get("default", _NO_DEFAULT)
        answer[name] = [value] + ([""] if name not in required and value == default else [])
    for name, prop in properties.items():
        if name not in answer and "default" in prop:
            answer[name] = [prop["default"], ""]
    return {expected["name"]: answer}


_NO_DEFAULT = object()


def tool_schema(function: dict) -> dict:
    """A BFCL function description as an OpenAI/transformers tool (dict -> object, float -> number, ...)."""
    parameters = _retyped(function.get("parameters", {"type": "dict", "properties": {}}),
                          lambda kind: JSON_SCHEMA_TYPES.get(kind, kind) if isinstance(kind, str) else kind)
    return {"type": "function", "function": {"name": function["name"], "description": function.get("description", ""),
                                             "parameters": parameters}}


# --- reading BFCL's files and model calls ------------------------------------------------------------------

def _read_lines(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{line_no}: not JSON ({e.msg}); BFCL files hold one JSON object a line") from None
            if not isinstance(row, dict) or "id" not in row:
                raise UserError(f"{path}:{line_no}: id: expected an object with an id")
            rows.append(row)
    return rows


def find_file(directory: str, category: str, answers: bool = False) -> str | None:
    """BFCL_v<N>_<category>.json in `directory` (or its possible_answer/), newest version first."""
    folder = os.path.join(directory, "possible_answer") if answers else directory
    if not os.path.isdir(folder):
        return None
    names = _FILE_NAMES.get(category, (category,))
    found = []
    for entry in os.listdir(folder):
        m = re.fullmatch(r"BFCL_v(\d+)_(.+)\.json", entry)
        if m and m.group(2) in names:
            found.append((int(m.group(1)), entry))
    return os.path.join(folder, max(found)[1]) if found else None


def read_category(directory: str, category: str) -> list[dict]:
    """Each question of a category with its functions and possible answer ([] for irrelevance)."""
    questions_path = find_file(directory, category)
    if questions_path is None:
        raise UserError(f"{directory}: no BFCL_v*_{_FILE_NAMES.get(category, (category,))[-1]}.json for category "
                        f"{category!r}")
    questions = _read_lines(questions_path)
    answers = {}
    if category != "irrelevance":
        answers_path = find_file(directory, category, answers=True)
        if answers_path is None:
            raise UserError(f"{directory}/possible_answer: no possible answers for category {category!r}")
        answers = {row["id"]: row for row in _read_lines(answers_path)}
    out = []
    for q in questions:
        for name in ("question", "function"):
            if name not in q:
                raise UserError(f"{questions_path}: {q['id']}: {name}: missing")
        if category != "irrelevance" and q["id"] not in answers:
            raise UserError(f"{questions_path}: {q['id']}: no possible answer in possible_answer/")
        turns = q["question"]
        messages = turns[0] if turns and isinstance(turns[0], list) else turns
        out.append({"id": q["id"], "category": category, "messages": messages, "functions": q["function"],
                    "possible_answer": answers[q["id"]]["ground_truth"] if category != "irrelevance" else []})
    return out


def _literal(node: ast.AST):
    if isinstance(node, ast.Call):
        raise ValueError("nested call")
    return ast.literal_eval(node)


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_call_name(node.value)}.{node.attr}"
    raise ValueError("not a function name")


def decode_python_calls(text: str) -> list[dict] | None:
    """BFCL's prompt format `[f(a=1), mod.g(b="x")]` (brackets optional) as calls, or None if it is not one."""
    body = text.strip().strip("`").strip()
    if body.startswith("python"):
        body = body[len("python"):].strip()
    if not body:
        return None
    if not body.startswith("["):
        body = f"[{body}]"
    try:
        tree = ast.parse(body, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(tree, ast.List) or not all(isinstance(e, ast.Call) for e in tree.elts):
        return None
    calls = []
    try:
        for element in tree.elts:
            if element.args:
                return None
            calls.append({"name": _call_name(element.func),
                          "arguments": {k.arg: _literal(k.value) for k in element.keywords if k.arg}})
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None
    return calls


def decode_calls(text: str) -> tuple[list[dict], list[str]]:
    """(calls, errors) from a reply: the project's call formats first, then BFCL's Python syntax."""
    from suites.agent.parse import parse_reply

    try:
        parsed = parse_reply(text)
    except RecursionError:
        return [], ["reply nested too deeply to parse"]
    if parsed.calls or parsed.errors:
        return parsed.calls, parsed.errors
    python = decode_python_calls(text)
    return (python, []) if python else ([], [])


def calls_from_result(result) -> tuple[list[dict], list[str]]:
    """A BFCL result entry (text, or a list of {name: arguments} with arguments as a dict or a JSON string)."""
    if isinstance(result, str):
        return decode_calls(result)
    if isinstance(result, list):
        calls, errors = [], []
        for k, item in enumerate(result):
            if not isinstance(item, dict) or len(item) != 1:
                errors.append(f"result[{k}]: expected {{name: arguments}}")
                continue
            name, arguments = next(iter(item.items()))
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except json.JSONDecodeError as e:
                    errors.append(f"result[{k}]: arguments are not JSON ({e.msg})")
                    continue
            if not isinstance(arguments, dict):
                errors.append(f"result[{k}]: arguments must be an object")
                continue
            calls.append({"name": str(name), "arguments": arguments})
        return calls, errors
    return [], [f"result: expected text or a list of calls, got {type(result).__name__}"]
