"""The fallback tool format (moved from suites/agent so core renders it for any template): how calls are
rendered for a tokenizer, through its own chat template when that template supports
`tools=` (the record is kept as is), otherwise through the fallback format.

The fallback format rewrites the record so that any chat template can render it:

* the tool declarations go into the system message after the special token ``<|tools|>``, one JSON
  object per line, followed by a one-line instruction;
* an assistant call turn becomes text: its content (if any), then one line per call,
  ``<|call|>{"name": ..., "arguments": {...}}``;
* the tool results of one turn become a single user message, one line per result,
  ``<|result|>{"name": ..., "content": ...}`` (content decoded from JSON when it is JSON).

`<|tools|>`, `<|call|>` and `<|result|>` are added to the tokenizer as special tokens for training
(`FALLBACK_TOKENS`). Support is detected by rendering a probe conversation with a tool, a call and a
result carrying unique markers, and checking that every marker appears in the rendered text.
"""

from __future__ import annotations

import copy
import json

TOOLS_TOKEN, CALL_TOKEN, RESULT_TOKEN = "<|tools|>", "<|call|>", "<|result|>"
FALLBACK_TOKENS = [TOOLS_TOKEN, CALL_TOKEN, RESULT_TOKEN]
FALLBACK_INSTRUCTION = (f"To call a function, write {CALL_TOKEN} followed by a JSON object "
                        '{"name": <function-name>, "arguments": <args-object>}, one line per call. '
                        f"Results come back after {RESULT_TOKEN}.")

_PROBE_TOOL, _PROBE_CALL, _PROBE_ARG, _PROBE_RESULT = "zq_probe_tool", "zq_probe_call", "zq_probe_arg", "zq_probe_result"


def supports_tools(tokenizer) -> bool:
    """True when the chat template renders tool declarations, assistant tool calls and tool results."""
    tools = [{"type": "function", "function": {"name": _PROBE_TOOL, "description": "probe",
                                               "parameters": {"type": "object", "properties": {}}}}]
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": {"name": _PROBE_CALL, "arguments": {"x": _PROBE_ARG}}}]},
                {"role": "tool", "name": _PROBE_CALL, "content": _PROBE_RESULT}]
    try:
        text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
    except Exception:  # templates raise on roles or fields they do not know
        return False
    return all(marker in text for marker in (_PROBE_TOOL, _PROBE_CALL, _PROBE_ARG, _PROBE_RESULT))


def supports_system(tokenizer) -> bool:
    try:
        text = tokenizer.apply_chat_template([{"role": "system", "content": "zq_probe_system"},
                                              {"role": "user", "content": "hi"}], tokenize=False)
    except Exception:
        return False
    return "zq_probe_system" in text


def call_line(name: str, arguments: dict) -> str:
    return CALL_TOKEN + json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)


def result_line(name: str, content: str) -> str:
    try:
        value = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        value = content
    return RESULT_TOKEN + json.dumps({"name": name, "content": value}, ensure_ascii=False)


def tools_preamble(tools: list[dict]) -> str:
    lines = [json.dumps(t.get("function", t), ensure_ascii=False) for t in tools]
    return "\n".join([TOOLS_TOKEN, *lines, FALLBACK_INSTRUCTION])


def to_fallback(record: dict, system_role: bool = True) -> dict:
    """The record rewritten into the fallback format (see the module docstring); meta turn indices follow."""
    out = copy.deepcopy(record)
    tools = out.pop("tools", None) or []
    old, new, index_map = out["messages"], [], {}
    i = 0
    while i < len(old):
        message = old[i]
        index_map[i] = len(new)
        if message["role"] == "tool":
            run = []
            while i < len(old) and old[i]["role"] == "tool":
                index_map[i] = len(new)
                run.append(result_line(old[i].get("name", ""), old[i].get("content") or ""))
                i += 1
            new.append({"role": "user", "content": "\n".join(run)})
            continue
        message = dict(message)
        if message.get("tool_calls"):
            lines = [call_line(c["function"]["name"], c["function"]["arguments"]) for c in message.pop("tool_calls")]
            message["content"] = "\n".join(([message["content"]] if message.get("content") else []) + lines)
        message.pop("name", None)
        message.pop("tool_call_id", None)
        new.append(message)
        i += 1
    if tools:
        preamble = tools_preamble(tools)
        if new and new[0]["role"] == "system":
            new[0] = {**new[0], "content": f"{new[0]['content']}\n\n{preamble}"}
            offset = 0
        elif system_role:
            new.insert(0, {"role": "system", "content": preamble})
            offset = 1
        else:
            first_user = next(k for k, m in enumerate(new) if m["role"] == "user")
            new[first_user] = {**new[first_user], "content": f"{preamble}\n\n{new[first_user]['content']}"}
            offset = 0
        index_map = {k: v + offset for k, v in index_map.items()}
    if not system_role and new and new[0]["role"] == "system":
        system = new.pop(0)
        new[0] = {**new[0], "content": f"{system['content']}\n\n{new[0]['content']}"}
        index_map = {k: max(v - 1, 0) for k, v in index_map.items()}
    out["messages"] = new
    meta = out.setdefault("meta", {})
    meta["call_format"] = "fallback"
    if tools:
        meta["tools"] = tools  # the schemas, for the checker (the prompt carries them as text)
    for target in meta.get("targets", []):
        target["turn"] = index_map[target["turn"]]
    if "target" in meta:
        meta["target"]["turn"] = index_map[meta["target"]["turn"]]
    return out


def call_format(tokenizer) -> str:
    return "template" if supports_tools(tokenizer) else "fallback"


def for_tokenizer(records: list[dict], tokenizer) -> tuple[list[dict], str]:
    """Records as the tokenizer should see them, and the format used ("template" or "fallback")."""
    if supports_tools(tokenizer):
        return records, "template"
    system_role = supports_system(tokenizer)
    return [to_fallback(r, system_role) for r in records], "fallback"
