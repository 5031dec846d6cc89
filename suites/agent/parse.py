"""Parse tool calls out of a model's reply, in the format the reply was rendered in.

Recognised, in this order (the first that occurs wins):
* the template format of the embedded tokenizer (Hermes / Qwen style):
  ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``, one block per call;
* the fallback format: ``<|call|>{"name": ..., "arguments": {...}}``, one per call;
* bare JSON calls as other templates emit them (Llama 3.1 style ``{"name": ..., "parameters": ...}``, or a
  list of such objects, e.g. after Mistral's ``[TOOL_CALLS]``).
`arguments` given as a JSON string are decoded. Problems are collected in `errors` rather than raised,
so the checker can score them as parse errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from suites.agent.formats import CALL_TOKEN

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)
_DECODER = json.JSONDecoder()
_CALL_KEYS = {"name", "arguments", "parameters", "type", "id"}


@dataclass
class ParsedReply:
    calls: list[dict] = field(default_factory=list)  # {"name": str, "arguments": dict}
    text: str = ""  # the reply without its calls
    errors: list[str] = field(default_factory=list)


def _normalise(obj, where: str) -> tuple[dict | None, str | None]:
    if isinstance(obj, dict) and "function" in obj and isinstance(obj["function"], dict):
        obj = obj["function"]
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None, f"{where}: expected an object with a string \"name\""
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as e:
            return None, f"{where}: arguments are not valid JSON ({e.msg})"
    if not isinstance(arguments, dict):
        return None, f"{where}: arguments must be an object, got {type(arguments).__name__}"
    return {"name": obj["name"], "arguments": arguments}, None


def _decode_at(text: str, start: int) -> tuple[object, int] | None:
    try:
        return _DECODER.raw_decode(text, start)
    except json.JSONDecodeError:
        return None


def parse_reply(text: str) -> ParsedReply:
    out = ParsedReply()
    if "<tool_call>" in text:
        for k, match in enumerate(_BLOCK.finditer(text)):
            body = match.group(1).strip()
            decoded = _decode_at(body, 0)
            if decoded is None or body[decoded[1]:].strip():
                out.errors.append(f"tool_call {k + 1}: invalid JSON: {body[:80]!r}")
                continue
            call, error = _normalise(decoded[0], f"tool_call {k + 1}")
            out.calls.append(call) if call else out.errors.append(error)
        out.text = _BLOCK.sub("", text).strip()
        return out
    if CALL_TOKEN in text:
        pieces = text.split(CALL_TOKEN)
        kept = [pieces[0]]
        for k, piece in enumerate(pieces[1:]):
            start = len(piece) - len(piece.lstrip())
            decoded = _decode_at(piece, start)
            if decoded is None:
                out.errors.append(f"call {k + 1}: invalid JSON: {piece.strip()[:80]!r}")
                continue
            call, error = _normalise(decoded[0], f"call {k + 1}")
            out.calls.append(call) if call else out.errors.append(error)
            kept.append(piece[decoded[1]:])
        out.text = "".join(kept).strip()
        return out
    return _bare_json(text)


def _bare_json(text: str) -> ParsedReply:
    out = ParsedReply()
    kept, position = [], 0
    for match in re.finditer(r"[\[{]", text):
        if match.start() < position:
            continue
        decoded = _decode_at(text, match.start())
        if decoded is None:
            continue
        value, end = decoded
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, dict) and "name" in v and set(v) <= _CALL_KEYS
                                and ("arguments" in v or "parameters" in v) for v in items):
            continue
        for k, item in enumerate(items):
            call, error = _normalise(item, f"call {len(out.calls) + k + 1}")
            out.calls.append(call) if call else out.errors.append(error)
        kept.append(text[position:match.start()])
        position = end
    kept.append(text[position:])
    out.text = "".join(kept).replace("[TOOL_CALLS]", "").strip()
    return out
