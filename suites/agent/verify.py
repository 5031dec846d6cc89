"""APIGen-style verification of a finished record, independent of the code that built it:

1. format: every call names an offered tool and its arguments validate against the tool's JSON Schema
   (`jsonschema`, not hand-rolled checks);
2. execution: re-running every call reproduces the recorded `tool` turn, and succeeds unless the record
   marks the call as an expected failure (agent/tool_error);
3. semantics: every answer turn states the facts of the result it is built on; text-only targets make no
   call.

A failed check raises Rejected(reason), which core.synth counts in the generation report.
"""

from __future__ import annotations

from core.synth import Rejected
from suites.agent.arguments import validation_errors
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


def verify(record: dict, tools: dict[str, Tool]) -> None:
    offered = {t["function"]["name"] for t in record.get("tools") or []}
    targets = {t["turn"]: t for t in record["meta"]["targets"]}
    for turn, call, reply in recorded_calls(record):
        name = call["name"]
        if name not in offered or name not in tools:
            raise Rejected("unknown_tool")
        if validation_errors(tools[name], call["arguments"]):
            raise Rejected("schema_invalid")
        if reply is None or reply.get("name") != name:
            raise Rejected("missing_tool_result")
        execution = execute(tools[name], call["arguments"])
        if execution.content != reply["content"]:
            raise Rejected("result_not_reproducible")
        if not execution.ok and not targets.get(turn, {}).get("error"):
            raise Rejected("execution_failed")
    for turn, target in targets.items():
        message = record["messages"][turn]
        if message["role"] != "assistant":
            raise Rejected("target_not_assistant")
        if target["kind"] != "call" and message.get("tool_calls"):
            raise Rejected("unexpected_call")
        if target["kind"] == "answer" and missing_facts(message["content"], target["facts"]):
            raise Rejected("answer_missing_result")
