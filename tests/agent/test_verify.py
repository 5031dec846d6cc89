"""verify() refuses every kind of bad record with its own reason, and never crashes on one."""

import copy

import pytest

from core.synth.generator import GenerationReport, Rejected, generate_records
from suites.agent import toolbox
from suites.agent.arguments import validation_errors
from suites.agent.catalog import load_tools
from suites.agent.schema import Tool, ToolError
from suites.agent.verify import verify

TOOLS = {t.name: t for t in load_tools(None)}


def good_record() -> dict:
    """"What is 6 * 7?": one calculate call, its real result, an answer stating it."""
    call = {"name": "calculate", "arguments": {"expression": "6 * 7"}}
    return {
        "messages": [{"role": "user", "content": "What is 6 * 7?"},
                     {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": dict(call)}]},
                     {"role": "tool", "name": "calculate", "content": '{"result": 42}'},
                     {"role": "assistant", "content": "6 * 7 = 42."}],
        "tools": [TOOLS["calculate"].schema()],
        "task_type": "agent/single",
        "meta": {"targets": [{"turn": 1, "kind": "call", "primary": True, "calls": [copy.deepcopy(call)]},
                             {"turn": 3, "kind": "answer", "primary": False, "facts": ["42"]}]},
    }


def set_arguments(record: dict, arguments) -> dict:
    record["messages"][1]["tool_calls"][0]["function"]["arguments"] = arguments
    record["meta"]["targets"][0]["calls"][0]["arguments"] = copy.deepcopy(arguments)
    return record


def rejection(record: dict, tools: dict | None = None) -> str | None:
    try:
        verify(record, TOOLS if tools is None else tools)
    except Rejected as e:
        return e.reason
    return None


def test_a_good_record_passes():
    assert rejection(good_record()) is None


def test_unknown_or_unoffered_tool():
    record = good_record()
    record["messages"][1]["tool_calls"][0]["function"]["name"] = "calc"
    assert rejection(record) == "unknown_tool"
    record = good_record()
    record["tools"] = [TOOLS["weekday"].schema()]  # calculate exists but is not offered in this record
    assert rejection(record) == "unknown_tool"
    assert rejection(good_record(), {k: v for k, v in TOOLS.items() if k != "calculate"}) == "unknown_tool"


def test_wrong_typed_or_missing_arguments_are_schema_invalid():
    assert rejection(set_arguments(good_record(), {"expression": 42})) == "schema_invalid"
    assert rejection(set_arguments(good_record(), {})) == "schema_invalid"
    assert rejection(set_arguments(good_record(), "6 * 7")) == "schema_invalid"
    record = set_arguments(good_record(), {"value": "5", "from_unit": "km", "to_unit": "mi"})
    record["messages"][1]["tool_calls"][0]["function"]["name"] = "convert_units"
    record["tools"].append(TOOLS["convert_units"].schema())
    assert rejection(record) == "schema_invalid"  # "5" is a string, value must be a number


def test_an_undeclared_argument_is_a_counted_rejection_not_a_crash():
    record = set_arguments(good_record(), {"expression": "6 * 7", "zzz": 1})
    assert rejection(record) == "unknown_argument"
    # The built-in schemas forbid extras, so jsonschema also catches it...
    assert validation_errors(TOOLS["calculate"], {"expression": "6 * 7", "zzz": 1}) == [
        "calculate.arguments: Additional properties are not allowed ('zzz' was unexpected)"]
    # ...but verify refuses undeclared arguments even where a schema lets them through (calling the function
    # with them would raise TypeError).
    lax = {**TOOLS["calculate"].parameters}
    del lax["additionalProperties"]
    loose = {"calculate": Tool("calculate", "Evaluate.", lax, toolbox.calculate, source="builtin")}
    assert validation_errors(loose["calculate"], {"expression": "6 * 7", "zzz": 1}) == []
    assert rejection(record, loose) == "unknown_argument"


def test_every_builtin_schema_forbids_undeclared_arguments():
    assert all(t.parameters["additionalProperties"] is False for t in TOOLS.values())


def test_a_missing_or_misnamed_tool_turn():
    record = good_record()
    del record["messages"][2]
    record["meta"]["targets"][1]["turn"] = 2
    assert rejection(record) == "missing_tool_result"
    record = good_record()
    record["messages"][2]["name"] = "weekday"
    assert rejection(record) == "missing_tool_result"


def test_a_wrong_tool_result_is_not_reproducible():
    record = good_record()
    record["messages"][2]["content"] = '{"result": 43}'
    record["messages"][3]["content"] = "6 * 7 = 43."
    record["meta"]["targets"][1]["facts"] = ["43"]
    assert rejection(record) == "result_not_reproducible"
    record = good_record()
    record["messages"][2]["content"] = '{"result":42}'  # not the canonical spelling execute() writes
    assert rejection(record) == "result_not_reproducible"


def failing_record(error_flag: bool) -> dict:
    record = set_arguments(good_record(), {"expression": "1 / 0"})
    record["messages"][2]["content"] = '{"error": "division by zero"}'
    record["messages"][3]["content"] = "That fails: division by zero."
    record["meta"]["targets"][1]["facts"] = ["division by zero"]
    if error_flag:
        record["meta"]["targets"][0]["error"] = True
    return record


def test_a_failing_call_passes_only_when_the_record_expects_it():
    assert rejection(failing_record(error_flag=False)) == "execution_failed"
    assert rejection(failing_record(error_flag=True)) is None


def raising(exception: Exception):
    def function(expression: str):
        raise exception

    return function


@pytest.mark.parametrize("tool", [
    Tool("calculate", "Evaluate.", TOOLS["calculate"].parameters, raising(ValueError("bug")), source="builtin"),
    Tool("calculate", "Evaluate.", TOOLS["calculate"].parameters, raising(KeyError("x")), source="user"),
    Tool("calculate", "Evaluate.", TOOLS["calculate"].parameters, lambda expression: {"x": object()}, source="user"),
])
def test_a_tool_that_raises_is_a_counted_rejection(tool):
    assert rejection(good_record(), {"calculate": tool}) == "execution_raised"


def test_targets_must_match_the_turns():
    record = good_record()
    record["meta"]["targets"][1]["turn"] = 0
    assert rejection(record) == "target_not_assistant"
    record = good_record()
    record["meta"]["targets"][0]["calls"][0]["arguments"] = {"expression": "6*7"}
    assert rejection(record) == "call_mismatch"
    record = good_record()
    record["meta"]["targets"][0] = {"turn": 1, "kind": "no_call", "primary": True}
    assert rejection(record) == "unexpected_call"
    record = good_record()
    record["meta"]["targets"][0] = {"turn": 1, "kind": "answer", "primary": True, "facts": []}
    assert rejection(record) == "unexpected_call"


def test_an_answer_without_the_result():
    record = good_record()
    record["messages"][3]["content"] = "The answer is 420."  # 42 inside 420 does not count
    assert rejection(record) == "answer_missing_result"
    record["messages"][3]["content"] = "Done."
    assert rejection(record) == "answer_missing_result"


def test_rejections_are_counted_by_reason_in_the_report():
    bad = {0: lambda: set_arguments(good_record(), {"expression": "6 * 7", "zzz": 1}),
           1: lambda: failing_record(error_flag=False)}
    attempts = {0: 0, 1: 0}

    def build(rng, index):
        attempts[index] += 1
        record = bad[index]() if attempts[index] == 1 else good_record()
        verify(record, TOOLS)
        return record

    report = GenerationReport()
    assert len(generate_records(build, [0, 1], seed=0, report=report)) == 2
    assert dict(report.rejected) == {"unknown_argument": 1, "execution_failed": 1}


def test_tool_error_is_raised_for_the_model_not_swallowed():
    def fails(expression: str):
        raise ToolError("no")

    tool = Tool("calculate", "Evaluate.", TOOLS["calculate"].parameters, fails, source="user")
    record = good_record()
    record["messages"][2]["content"] = '{"error": "no"}'
    record["messages"][3]["content"] = "It failed: no."
    record["meta"]["targets"][1]["facts"] = ["no"]
    assert rejection(record, {"calculate": tool}) == "execution_failed"
    record["meta"]["targets"][0]["error"] = True
    assert rejection(record, {"calculate": tool}) is None
