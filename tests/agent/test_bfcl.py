"""BFCL on its own terms: its files (--bfcl DIR), its AST rules (--checker bfcl) compared with bfcl-eval's own
checker, BFCL's call syntax, and a checker that never raises on any model output."""

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import UserError
from suites.agent import bfcl
from suites.agent.checker import check_calls
from suites.agent.eval import main, score_reply

FUNCTIONS = [
    {"name": "math.area", "description": "Area of a shape.",
     "parameters": {"type": "dict", "properties": {"shape": {"type": "string"}, "size": {"type": "float"},
                                                   "units": {"type": "string"}},
                    "required": ["shape", "size"]}},
    {"name": "poly", "description": "Evaluate a polynomial.",
     "parameters": {"type": "dict", "properties": {"expr": {"type": "string"}, "x": {"type": "integer"},
                                                   "roots": {"type": "array", "items": {"type": "integer"}}},
                    "required": ["expr"]}},
]
AREA = {"math.area": {"shape": ["circle"], "size": [2.0], "units": ["cm", ""]}}
POLY = {"poly": {"expr": ["x**2"], "x": [3, ""], "roots": [[1, 2], ""]}}


def write_bfcl_dir(root, version=3):
    """A BFCL folder (one JSON object a line, possible_answer/ beside) with one or two questions a category."""
    simple = "simple" if version == 3 else "simple_python"
    questions = {
        simple: [("simple_0", [FUNCTIONS[0]], [AREA]), ("simple_1", [FUNCTIONS[1]], [POLY])],
        "multiple": [("multiple_0", FUNCTIONS, [AREA]), ("multiple_1", FUNCTIONS, [POLY])],
        "parallel": [("parallel_0", [FUNCTIONS[0]], [AREA, {"math.area": {"shape": ["square"], "size": [3.0]}}])],
        "parallel_multiple": [("parallel_multiple_0", FUNCTIONS, [AREA, POLY])],
        "irrelevance": [("irrelevance_0", FUNCTIONS, None), ("irrelevance_1", FUNCTIONS, None)],
    }
    (root / "possible_answer").mkdir(parents=True, exist_ok=True)
    for category, rows in questions.items():
        name = f"BFCL_v{version}_{category}.json"
        (root / name).write_text("".join(json.dumps({"id": i, "question": [[{"role": "user", "content": f"q {i}"}]],
                                                     "function": f}) + "\n" for i, f, _ in rows))
        if category != "irrelevance":
            (root / "possible_answer" / name).write_text(
                "".join(json.dumps({"id": i, "ground_truth": a}) + "\n" for i, _, a in rows))
    return root


RESULTS = {
    "simple_0": [{"math.area": {"shape": "Circle", "size": 2}}],  # case, and an int for a float
    "simple_1": "[poly(expr='x2', x=3)]",  # BFCL's Python syntax; BFCL standardises x**2 to x2
    "multiple_0": [{"math.area": json.dumps({"shape": "circle", "size": 2.0, "units": "mm"})}],  # wrong units
    "multiple_1": '<tool_call>\n{"name": "poly", "arguments": {"expr": "x**2", "roots": [1, 2]}}\n</tool_call>',
    "parallel_0": [{"math.area": {"shape": "square", "size": 3.0}}, {"math.area": {"shape": "circle", "size": 2.0}}],
    "parallel_multiple_0": [{"poly": {"expr": "x**2"}}, {"poly": {"expr": "x**2"}}],  # a duplicate for another
    "irrelevance_0": "I have no tool for that.",
    "irrelevance_1": "[math.area(shape='circle', size=1.0)]",
}


@pytest.mark.parametrize("version", [3, 4])
def test_bfcl_files_are_read_and_scored_per_category(tmp_path, capsys, version):
    root = write_bfcl_dir(tmp_path / "bfcl", version)
    responses = tmp_path / "results.jsonl"
    responses.write_text("".join(json.dumps({"id": i, "result": r}) + "\n" for i, r in RESULTS.items()))
    summary = main(["--bfcl", str(root), "--responses", str(responses), "--out", str(tmp_path / "out.json")])
    accuracy = {c: t["accuracy"] for c, t in summary["by_category"].items()}
    assert accuracy == {"simple": 1.0, "multiple": 0.5, "parallel": 1.0, "parallel_multiple": 0.0,
                        "irrelevance": 0.5}
    assert summary["overall"] == {"n": 8, "accuracy": 5 / 8}
    printed = capsys.readouterr().out
    assert "parallel_multiple" in printed and "mean of categories" in printed
    saved = json.loads((tmp_path / "out.json").read_text())
    assert [s["error_type"] for s in saved["samples"] if not s["valid"]] == \
        ["value_error:string", "parallel_function_checker_no_order:cannot_find_match", "a call where none is expected"]
    default = main(["--bfcl", str(root), "--responses", str(responses), "--checker", "default"])
    # the project's rules: "x2" is not "x**2" (BFCL removes * inside strings)
    assert default["by_category"]["simple"]["accuracy"] == 0.5


def test_bfcl_dir_errors_name_the_file(tmp_path):
    root = write_bfcl_dir(tmp_path / "bfcl")
    (root / "possible_answer" / "BFCL_v3_multiple.json").unlink()
    with pytest.raises(UserError, match="possible_answer: no possible answers for category 'multiple'"):
        bfcl.read_category(str(root), "multiple")
    (root / "BFCL_v3_parallel.json").write_text("{not json\n")
    with pytest.raises(UserError, match=r"BFCL_v3_parallel.json:1: not JSON"):
        bfcl.read_category(str(root), "parallel")


def test_the_tiny_model_answers_bfcl_questions(tmp_path):
    root = write_bfcl_dir(tmp_path / "bfcl")
    summary = main(["--bfcl", str(root), "--model", "tiny", "--max-new-tokens", "4",
                    "--categories", "simple,irrelevance"])
    assert summary["by_category"]["simple"]["n"] == 2 and summary["by_category"]["irrelevance"]["n"] == 2


def test_bfcl_python_call_syntax():
    assert bfcl.decode_python_calls("[a.b(x=1, y='s'), c(z=[1, 2])]") == [
        {"name": "a.b", "arguments": {"x": 1, "y": "s"}}, {"name": "c", "arguments": {"z": [1, 2]}}]
    assert bfcl.decode_python_calls("f(x=g(1))") is None and bfcl.decode_python_calls("hello there") is None


def test_bfcl_mode_on_project_records(eval_records):
    """--checker bfcl on the project's records: BFCL removes ` ,./-_*^` from strings, so "(2+3) * 4" equals
    "(2+3)4" there and not in the default mode; every reference call passes in both."""
    record = {"messages": [{"role": "user", "content": "?"}, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "calculate", "arguments": {"expression": "(2+3) * 4"}}}]}],
        "tools": [{"type": "function", "function": {"name": "calculate", "parameters": {
            "type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}}}],
        "task_type": "agent/single"}
    reply = '<tool_call>\n{"name": "calculate", "arguments": {"expression": "(2+3)4"}}\n</tool_call>'
    assert score_reply(record, reply, checker="bfcl")["correct"] is True
    assert score_reply(record, reply)["ast"] is False
    for r in eval_records[:40]:
        if r["meta"]["target"]["kind"] == "call":
            calls = "".join("<tool_call>\n" + json.dumps(c) + "\n</tool_call>" for c in r["meta"]["target"]["calls"])
            assert score_reply(r, calls, checker="bfcl")["correct"], r["meta"]["target"]


# --- bfcl-eval's own checker ------------------------------------------------------------------------------

def test_bfcl_mode_equals_bfcl_evals_ast_checker_on_every_python_category():
    from tests.agent.bfcl_reference import data_dir, load_checker, perturbations

    reference = load_checker()
    agreement, labels = Counter(), Counter()
    for category in bfcl.PYTHON_CATEGORIES:
        for row in bfcl.read_category(data_dir(), category):
            if category == "irrelevance":
                outputs = [("no_call", []), ("a_call", [{row["functions"][0]["name"]: {}}])]
            else:
                outputs = perturbations(row["functions"], row["possible_answer"])
            for label, output in outputs:
                theirs = reference(row["functions"], output, row["possible_answer"], category)
                ours = bfcl.check(row["functions"], output, row["possible_answer"], category)["valid"]
                assert ours == theirs, (row["id"], label, output, theirs)
                agreement[category] += 1
                labels[label, ours] += 1
    assert sum(agreement.values()) > 30000 and set(agreement) == set(bfcl.PYTHON_CATEGORIES)
    # the perturbations exercise both verdicts
    assert labels["ground_truth", True] == 998 and labels["wrong_value", False] > 1000
    assert labels["duplicate_in_place_of_another", False] > 100 and labels["int_as_float", True] > 0


# --- never raises -----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
names = st.sampled_from(["convert_units", "get_product", "count_substring", "math.area", "poly", "", "x"])
calls = st.fixed_dictionaries({"name": names, "arguments": st.dictionaries(
    st.sampled_from(["value", "from_unit", "to_unit", "product_id", "text", "shape", "size", "expr", "zz"]),
    json_values, max_size=5)})
junk = st.one_of(calls, json_values, st.just({"name": 1}), st.just({"name": "x", "arguments": [1]}))
EXPECTED = [{"name": "convert_units", "arguments": {"value": 3.5, "from_unit": "km", "to_unit": "mi"}},
            {"name": "get_product", "arguments": {"product_id": "P-101"}},
            {"name": "convert_units", "allowed": {"value": [3.5, 3], "from_unit": ["km"], "to_unit": ["mi", ""]}}]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(predicted=st.lists(junk, max_size=5), pick=st.integers(0, 4))
def test_no_model_output_makes_a_checker_raise(predicted, pick):
    from suites.agent.builtin_hooks import builtin_tools

    params = {t.name: t.parameters for t in builtin_tools()}
    for want in ([], EXPECTED[:1], EXPECTED, EXPECTED[pick % 3:], [EXPECTED[0], EXPECTED[0]]):
        assert isinstance(check_calls(predicted, want, params).ok, bool)
    output = [{c["name"] if isinstance(c, dict) and isinstance(c.get("name"), str) else "?":
               c.get("arguments") if isinstance(c, dict) else c} for c in predicted]
    for category, answer in (("simple", [AREA]), ("multiple", [POLY]), ("parallel", [AREA, AREA]),
                             ("parallel_multiple", [AREA, POLY]), ("irrelevance", [])):
        assert isinstance(bfcl.check(FUNCTIONS, output, answer, category)["valid"], bool)


ADVERSARIAL = ["[" * 5000 + "]" * 5000, '{"name": "x", "arguments": ' + "[" * 3000, "<tool_call>" + "x" * 200_000,
               "[f(a=" + "(" * 500 + ")]",
               '<tool_call>\n{"name": "convert_units", "arguments": {"value": ' + "[" * 2000 + "]" * 2000 + "}}\n</tool_call>"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=200),
                      st.builds(lambda v: "<tool_call>\n" + json.dumps(v) + "\n</tool_call>", st.one_of(calls, json_values)),
                      st.builds(lambda v: "\n".join("<tool_call>\n" + json.dumps(c) + "\n</tool_call>" for c in v),
                                st.lists(calls, max_size=4)),
                      st.sampled_from(ADVERSARIAL)))
def test_no_reply_makes_the_scorer_raise(text, eval_records):
    call = next(r for r in eval_records if r["meta"]["target"]["kind"] == "call")
    for checker in ("default", "bfcl"):
        assert isinstance(score_reply(call, text, checker=checker)["correct"], bool)
    assert isinstance(bfcl.decode_calls(text), tuple)
