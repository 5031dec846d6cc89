"""APIGen-style verification of a finished record, independent of the code that built it:

1. format: every call names an offered tool, passes no argument its schema does not declare, and its
   arguments validate against the tool's JSON Schema (`jsonschema`, not hand-rolled checks);
2. execution: re-running every call reproduces the recorded `tool` turn, and succeeds unless the record
   marks the call as an expected failure (agent/tool_error); a tool that raises instead of returning is a
   rejection too, never a crash;
3. semantics: every call turn makes exactly the calls its target records, every answer turn states the
   facts of the result it is built on, and text-only targets make no call.

A failed check raises Rejected(reason), which core.synth.generator counts in the generation report. The reasons:
unknown_tool, schema_invalid, unknown_argument, missing_tool_result, execution_raised,
result_not_reproducible, execution_failed, target_not_assistant, call_mismatch, unexpected_call,
answer_missing_result.
"""

from __future__ import annotations

from core.synth.generator import Rejected
from suites.agent.arguments import undeclared_arguments, validation_errors
from suites.agent.schema import Tool, execute
from suites.agent.values import missing_facts


def recorded_calls(record: dict) -> list[tuple[int, dict, dict]]:
    """(assistant turn, call, the tool message answering it) for every call, in order."""
    out = []
    messages = record["messages"]
    for i, message in enumerate(messages):
        calls = message.get("tool_calls") or []
        for j, call in enumerate(calls):
            reply = messages[i + 1 + j] if i + 1 + j < len(messages) else None
            out.append((i, call["function"], reply if reply is not None and reply["role"] == "tool" else None))
    return out


def _check_call(tool: Tool, call: dict, reply: dict | None, expect_error: bool) -> None:
    arguments = call["arguments"]
    if not isinstance(arguments, dict):
        raise Rejected("schema_invalid")
    # JSON Schema lets undeclared properties through unless the schema forbids them; the function cannot
    # take them (and the BFCL checker counts them as wrong), so they are refused whatever the schema says.
    if undeclared_arguments(tool, arguments):
        raise Rejected("unknown_argument")
    if validation_errors(tool, arguments):
        raise Rejected("schema_invalid")
    if reply is None or reply.get("name") != tool.name:
        raise Rejected("missing_tool_result")
    try:
        execution = execute(tool, arguments)
    except Exception:  # a tool bug (or a user tool's non-JSON result): counted, the sample is not written
        raise Rejected("execution_raised") from None
    if execution.content != reply["content"]:
        raise Rejected("result_not_reproducible")
    if not execution.ok and not expect_error:
        raise Rejected("execution_failed")


def verify(record: dict, tools: dict[str, Tool]) -> None:
    offered = {t["function"]["name"] for t in record.get("tools") or []}
    targets = {t["turn"]: t for t in record["meta"]["targets"]}
    for turn, call, reply in recorded_calls(record):
        name = call["name"]
        if name not in offered or name not in tools:
            raise Rejected("unknown_tool")
        _check_call(tools[name], call, reply, bool(targets.get(turn, {}).get("error")))
    for turn, target in targets.items():
        message = record["messages"][turn]
        if message["role"] != "assistant":
            raise Rejected("target_not_assistant")
        made = [c["function"] for c in message.get("tool_calls") or []]
        if target["kind"] == "call" and made != target["calls"]:
            raise Rejected("call_mismatch")
        if target["kind"] != "call" and made:
            raise Rejected("unexpected_call")
        if target["kind"] == "answer" and missing_facts(message["content"], target["facts"]):
            raise Rejected("answer_missing_result")
