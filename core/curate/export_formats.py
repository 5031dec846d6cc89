"""Record <-> row converters for other trainers' documented dataset formats.

Each `to_<target>(record, flags, mask)` returns (row, problems): `flags[i]` says whether message i is
trained (resolved as core.data.chat does under `mask`), and `problems` lists what the format cannot express
for this record (empty = exact). Each `from_<target>(row, mask)` rebuilds the record, so a round trip can
be checked. What each format can carry:

  llamafactory  sharegpt: human / gpt / function_call / observation, system and tools columns. Every gpt
                and function_call turn is trained, or only the last one with `mask_history: true`; other
                per-message flags are split into rows (split_by_trained_turn); text beside tool calls
                goes before a <tool_call> block of the function_call value.
  trl           messages + tools (assistant_only_loss trains every assistant message), or, for mask
                last, prompt + completion (completion_only_loss trains the completion).
  axolotl       messages with an explicit per-message `train` flag (message_field_training): exact.
  swift         messages with tool_call / tool_response roles, a per-assistant-message `loss` flag, and
                `channel` = task_type for ms-swift's channel loss.
"""

from __future__ import annotations

import json

from core.data.readers import TOOL_CALL_CLOSE, TOOL_CALL_OPEN, TOOL_RESULT_SEPARATOR, split_function_call

__all__ = ["TARGETS", "TOOL_RESULT_SEPARATOR", "canonical", "split_by_trained_turn", "train_flags"]


def train_flags(record: dict, mask: str) -> list[bool]:
    """Per message: is it trained? Same rule as core.data.chat.render_record for mask all / last."""
    messages = record["messages"]
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    last = assistants[-1] if assistants else -1
    return [m.get("train", m["role"] == "assistant" and (mask == "all" or i == last)) for i, m in enumerate(messages)]


def _calls(message: dict) -> list[dict]:
    return [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in message.get("tool_calls") or []]


def _tool_calls(calls: list[dict]) -> list[dict]:
    return [{"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]


def _mode_problems(messages: list[dict], flags: list[bool], mask: str, trainer: str) -> list[str]:
    """Problems when the flags are not exactly 'every assistant message' (all) or 'the last one' (last)."""
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    expected = {i for i in assistants if mask == "all" or i == assistants[-1]}
    problems = []
    if any(flags[i] for i, m in enumerate(messages) if m["role"] != "assistant"):
        problems.append(f"trained non-assistant message ({trainer} trains assistant turns only)")
    if {i for i in assistants if flags[i]} != expected:
        problems.append(f"per-message train flags differ from mask {mask!r} ({trainer} sets this per run)")
    return problems


def needs_split(record: dict, flags: list[bool], mask: str) -> bool:
    """The assistant turns trained are not those `mask` trains (e.g. a failed call marked "train": false),
    while no other message is trained: one row per trained turn, each training only its last turn, expresses it."""
    messages = record["messages"]
    if any(flags[i] for i, m in enumerate(messages) if m["role"] != "assistant"):
        return False
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    return {i for i in assistants if flags[i]} != {i for i in assistants if mask == "all" or i == assistants[-1]}


def split_by_trained_turn(record: dict, flags: list[bool]) -> list[tuple[dict, list[bool]]]:
    """(record cut after trained assistant turn t, flags training only t) for every trained turn t. The rows
    train exactly the record's trained tokens, each in the same context (attention is causal); the prefix is
    computed once per row instead of once."""
    out = []
    for t, (message, flag) in enumerate(zip(record["messages"], flags)):
        if flag and message["role"] == "assistant":
            out.append(({**record, "messages": record["messages"][: t + 1]}, [False] * t + [True]))
    return out


def canonical(record: dict, mask: str) -> dict:
    """What every export must preserve: roles, text, tool calls, tool names (filled from the calls they
    answer), tools, task_type, and the resolved train flag of every message."""
    flags, messages, pending = train_flags(record, mask), [], []
    for message, flag in zip(record["messages"], flags):
        out = {"role": message["role"], "content": message.get("content") or "", "train": flag}
        if message.get("tool_calls"):
            out["tool_calls"] = _tool_calls(_calls(message))
            pending = [c["name"] for c in _calls(message)]
        if message["role"] == "tool":
            out["name"] = message.get("name") or (pending[0] if pending else "")
            pending = pending[1:]
        messages.append(out)
    return {"messages": messages, "tools": record.get("tools") or [], "task_type": record["task_type"]}


def _name_tool_results(messages: list[dict]) -> list[dict]:
    pending = []
    for m in messages:
        if m.get("tool_calls"):
            pending = [c["function"]["name"] for c in m["tool_calls"]]
        elif m["role"] == "tool":
            m.setdefault("name", pending[0] if pending else "")
            pending = pending[1:]
    return messages


def _set_mode_flags(messages: list[dict], mask: str) -> list[dict]:
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    for i, m in enumerate(messages):
        m["train"] = m["role"] == "assistant" and (mask == "all" or i == assistants[-1])
    return messages


# --- LLaMA-Factory (sharegpt) -----------------------------------------------------------------------------

def to_llamafactory(record: dict, flags: list[bool], mask: str) -> tuple[dict, list[str]]:
    problems = _mode_problems(record["messages"], flags, mask, "LLaMA-Factory")
    messages, system = record["messages"], ""
    if messages[0]["role"] == "system":
        system, messages = messages[0].get("content") or "", messages[1:]
    turns: list[dict] = []
    for m in messages:
        role = m["role"]
        if role == "user":
            turns.append({"from": "human", "value": m.get("content") or ""})
        elif role == "assistant" and m.get("tool_calls"):
            calls = _calls(m)
            value = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
            if m.get("content"):  # text before the calls: LLaMA-Factory keeps what lies outside tool_call_words
                value = f"{m['content']}\n{TOOL_CALL_OPEN}{value}{TOOL_CALL_CLOSE}"
            turns.append({"from": "function_call", "value": value})
        elif role == "assistant":
            turns.append({"from": "gpt", "value": m.get("content") or ""})
        elif role == "tool":
            if turns and turns[-1]["from"] == "observation":  # results of parallel calls share one observation
                turns[-1]["value"] += TOOL_RESULT_SEPARATOR + (m.get("content") or "")
            else:
                turns.append({"from": "observation", "value": m.get("content") or ""})
        else:
            problems.append(f"role {role!r} in the middle of the conversation")
    odd, even = ("human", "observation"), ("gpt", "function_call")
    if any(t["from"] not in (odd if k % 2 == 0 else even) for k, t in enumerate(turns)) or len(turns) % 2:
        problems.append("turns do not alternate human|observation, gpt|function_call ending on the assistant")
    row = {"conversations": turns, "system": system, "tools": json.dumps(record["tools"], ensure_ascii=False)
           if record.get("tools") else ""}
    return row, problems


def from_llamafactory(row: dict, mask: str, task_type: str) -> dict:
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    for turn in row["conversations"]:
        kind, value = turn["from"], turn["value"]
        if kind == "human":
            messages.append({"role": "user", "content": value})
        elif kind == "gpt":
            messages.append({"role": "assistant", "content": value})
        elif kind == "function_call":
            text, calls = split_function_call(value)
            calls = json.loads(calls)
            messages.append({"role": "assistant", "content": text,
                             "tool_calls": _tool_calls(calls if isinstance(calls, list) else [calls])})
        else:
            messages += [{"role": "tool", "content": part} for part in value.split(TOOL_RESULT_SEPARATOR)]
    record = {"messages": _set_mode_flags(_name_tool_results(messages), mask), "task_type": task_type}
    if row.get("tools"):
        record["tools"] = json.loads(row["tools"])
    return record


# --- TRL ------------------------------------------------------------------------------------------------------

def _plain(message: dict) -> dict:
    return {k: v for k, v in message.items() if k in ("role", "content", "tool_calls", "name")}


def to_trl(record: dict, flags: list[bool], mask: str) -> tuple[dict, list[str]]:
    messages = [_plain(m) for m in record["messages"]]
    problems = _mode_problems(record["messages"], flags, mask, "TRL")
    tools = record.get("tools") or []
    if mask == "all":
        return {"messages": messages, "tools": tools}, problems
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    if last != len(messages) - 1:
        problems.append("messages after the last trained answer (the completion would train them)")
    return {"prompt": messages[:last], "completion": messages[last:], "tools": tools}, problems


def from_trl(row: dict, mask: str, task_type: str) -> dict:
    messages = [dict(m) for m in (row["messages"] if "messages" in row else row["prompt"] + row["completion"])]
    record = {"messages": _set_mode_flags(messages, mask), "task_type": task_type}
    if row.get("tools"):
        record["tools"] = row["tools"]
    return record


# --- axolotl (chat_template with message_field_training) -------------------------------------------------------

def to_axolotl(record: dict, flags: list[bool], mask: str) -> tuple[dict, list[str]]:
    messages = [{**_plain(m), "train": flag} for m, flag in zip(record["messages"], flags)]
    problems = []
    if any(flag and m["role"] != "assistant" for m, flag in zip(record["messages"], flags)):
        # Measured with axolotl 0.19: it trains the message's content only, not its role header and end of
        # turn (37 of the 42 tokens core trains for one such user message).
        problems.append("trained non-assistant message (axolotl trains its content only, not its role header "
                        "and end-of-turn token)")
    return {"messages": messages, "tools": record.get("tools") or []}, problems


def from_axolotl(row: dict, mask: str, task_type: str) -> dict:
    record = {"messages": [dict(m) for m in row["messages"]], "task_type": task_type}
    if row.get("tools"):
        record["tools"] = row["tools"]
    return record


# --- ms-swift -------------------------------------------------------------------------------------------------

SWIFT_TEXT_CALL_SEP = "\n"  # written after an assistant's text that tool_call messages follow


def to_swift(record: dict, flags: list[bool], mask: str) -> tuple[dict, list[str]]:
    messages, problems = [], []
    for k, (m, flag) in enumerate(zip(record["messages"], flags)):
        role = m["role"]
        if role == "assistant":
            if k and record["messages"][k - 1]["role"] == "assistant":
                problems.append("consecutive assistant messages (ms-swift joins them into one response)")
            if m.get("content") or not m.get("tool_calls"):
                # ms-swift's hermes agent template joins the text and the <tool_call> block with nothing between
                # them; the chat templates core renders with (Qwen2.5's, the tiny one) put a newline there.
                sep = SWIFT_TEXT_CALL_SEP if m.get("content") and m.get("tool_calls") else ""
                messages.append({"role": "assistant", "content": (m.get("content") or "") + sep, "loss": flag})
            messages += [{"role": "tool_call", "content": json.dumps(c, ensure_ascii=False), "loss": flag}
                         for c in _calls(m)]
        elif role == "tool":
            messages.append({"role": "tool_response", "content": m.get("content") or ""})
        else:
            if flag:
                problems.append("trained non-assistant message (ms-swift's loss field applies to assistant messages)")
            messages.append({"role": role, "content": m.get("content") or ""})
    row = {"messages": messages, "channel": record["task_type"]}
    if record.get("tools"):
        row["tools"] = json.dumps(record["tools"], ensure_ascii=False)
    return row, problems


def from_swift(row: dict, mask: str, task_type: str) -> dict:
    messages: list[dict] = []
    open_turn = False  # tool_call entries join the assistant message right before them
    for k, m in enumerate(row["messages"]):
        role = m["role"]
        following = row["messages"][k + 1]["role"] if k + 1 < len(row["messages"]) else ""
        if role == "assistant" and following == "tool_call" and m["content"].endswith(SWIFT_TEXT_CALL_SEP):
            m = {**m, "content": m["content"][: -len(SWIFT_TEXT_CALL_SEP)]}
        if role in ("assistant", "tool_call"):
            if role == "assistant" or not open_turn:
                messages.append({"role": "assistant", "content": m["content"] if role == "assistant" else "",
                                 "train": m["loss"]})
                open_turn = True
            if role == "tool_call":
                messages[-1].setdefault("tool_calls", []).extend(_tool_calls([json.loads(m["content"])]))
        else:
            open_turn = False
            messages.append({"role": "tool" if role == "tool_response" else role, "content": m["content"],
                             "train": False})
    record = {"messages": _name_tool_results(messages), "task_type": row.get("channel", task_type)}
    if row.get("tools"):
        record["tools"] = json.loads(row["tools"])
    return record


TARGETS = {
    "llamafactory": (to_llamafactory, from_llamafactory),
    "trl": (to_trl, from_trl),
    "axolotl": (to_axolotl, from_axolotl),
    "swift": (to_swift, from_swift),
}
