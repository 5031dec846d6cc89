"""Record adaptations a chat template demands, found by its probe (core.data.template_probe). Each is counted
by kind and reported, never silent; what an option forbids is refused with one line naming the sample and
the fix:

  call_ids          deterministic 9-character alphanumeric tool-call ids where the template needs them
  string_arguments  call arguments passed as JSON text where the template concatenates strings
  null_content      a call turn's missing content passed as "" where the template reads it as a string
  system_folded     a system message folded into the first user turn (templates without a system role)
  parallel_split    a multi-call turn split into consecutive one-call turns, each followed by its result
  tool_fallback     tools, calls and results rendered in the fallback format (templates that drop them)
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass

from core.data.template_probe import TemplateProbe
from core.data.tool_fallback import to_fallback
from core.errors import UserError

STRATEGIES = ("auto", "markers", "prefix", "per_turn")
_ALNUM9 = re.compile(r"^[A-Za-z0-9]{9}$")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class RenderError(UserError):
    """A record the chat template cannot render into a trainable sample; the message names the sample.
    `reason` is a short stable key for counting failures by kind."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # raised in dataset.map worker processes, so it must survive pickling
        return type(self), (str(self), self.reason)


@dataclass(frozen=True)
class RenderPolicy:
    strategy: str = "auto"  # auto | markers | prefix | per_turn
    end_of_turn: str = ""  # "" = the probe's (or, with none, the eos token appended)
    system: str = "fold"  # fold | refuse, for templates without a system role
    parallel_calls: str = "split"  # split | refuse, for single-call templates
    tools: str = "fallback"  # fallback | refuse, for templates that drop tools, calls or results

    def __post_init__(self):
        for name, allowed in (("strategy", STRATEGIES), ("system", ("fold", "refuse")),
                              ("parallel_calls", ("split", "refuse")), ("tools", ("fallback", "refuse"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"template {name} must be one of {allowed}, got {getattr(self, name)!r}")


def call_id(seed: str) -> str:
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    out = ""
    for _ in range(9):
        digest, r = divmod(digest, 62)
        out += _ALPHABET[r]
    return out


def _uses_tools(record: dict) -> bool:
    return bool(record.get("tools")) or any(m.get("tool_calls") or m["role"] == "tool" for m in record["messages"])


def _split_parallel(messages: list[dict]) -> list[dict]:
    out, i = [], 0
    while i < len(messages):
        m = messages[i]
        calls = m.get("tool_calls") or []
        if len(calls) < 2:
            out.append(m)
            i += 1
            continue
        results = []
        j = i + 1
        while j < len(messages) and messages[j]["role"] == "tool" and len(results) < len(calls):
            results.append(messages[j])
            j += 1
        for k, call in enumerate(calls):
            turn = {**m, "tool_calls": [call], "content": m.get("content") if k == 0 else ""}
            out.append(turn)
            if k < len(results):
                out.append(results[k])
        out += results[len(calls):]
        i = j
    return out


def adapt_record(record: dict, probe: TemplateProbe, policy: RenderPolicy, sample_id: str) -> tuple[dict, Counter]:
    kinds: Counter = Counter()
    messages = record["messages"]
    if _uses_tools(record) and not probe.tool_support:
        if policy.tools == "refuse":
            raise RenderError(f"{sample_id}: the chat template drops tools, tool calls or tool results; use "
                              "--data.tools fallback (the project's fallback tool format) or a template with tools",
                              "tools_unsupported")
        record = to_fallback(record, system_role=probe.system)
        kinds["tool_fallback"] += 1
        messages = record["messages"]
    if not probe.system and messages[0]["role"] == "system":
        if policy.system == "refuse":
            raise RenderError(f"{sample_id}: the chat template has no system role; use --data.system fold (folds it "
                              "into the first user turn) or drop the system message", "system_unsupported")
        user = next((k for k, m in enumerate(messages) if m["role"] == "user"), None)
        if user is None:
            raise RenderError(f"{sample_id}: no user turn to fold the system message into", "system_unsupported")
        first = {**messages[user], "content": f"{messages[0]['content']}\n\n{messages[user].get('content') or ''}"}
        messages = [*messages[1:user], first, *messages[user + 1:]]
        kinds["system_folded"] += 1
    if not probe.parallel_calls and any(len(m.get("tool_calls") or []) > 1 for m in messages):
        if policy.parallel_calls == "refuse":
            raise RenderError(f"{sample_id}: the chat template renders one tool call per turn; use --data.parallel_calls "
                              "split (one call per turn, each followed by its result)", "parallel_unsupported")
        messages = _split_parallel(messages)
        kinds["parallel_split"] += 1
    needs = probe.arguments == "string" or probe.call_ids == "alnum9" or probe.null_content == "empty"
    if needs and any(m.get("tool_calls") for m in messages):
        messages = copy.deepcopy(messages)
        pending: list[str] = []
        for i, m in enumerate(messages):
            for j, call in enumerate(m.get("tool_calls") or []):
                function = call["function"]
                if probe.arguments == "string" and not isinstance(function.get("arguments"), str):
                    function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
                    kinds["string_arguments"] += 1
                if probe.call_ids == "alnum9":
                    if not _ALNUM9.match(str(call.get("id") or "")):
                        call["id"] = call_id(f"{i}:{j}:{function['name']}:{function['arguments']}")
                        kinds["call_ids"] += 1
                    pending.append(call["id"])
            if m.get("tool_calls") and probe.null_content == "empty" and m.get("content") is None:
                m["content"] = ""
                kinds["null_content"] += 1
            if m["role"] == "tool" and probe.call_ids == "alnum9" and pending:
                expected = pending.pop(0)
                if m.get("tool_call_id") != expected:
                    m["tool_call_id"] = expected
    if messages is not record["messages"]:
        record = {**record, "messages": messages}
    return record, kinds
