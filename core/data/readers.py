"""Read the dataset formats users already have into the project's records.

Containers (by path): JSONL (one object a line), a JSON array file, parquet and arrow files, and Hugging
Face `datasets` folders (`save_to_disk` output, or a script-free folder of data files; both through
`datasets`). JSON and JSONL are parsed here rather than through `datasets`' json loader because that loader
unifies every row into one arrow schema: it adds missing keys as nulls and can reorder a tool call's
arguments, and it loses line numbers. Rows of arrow-backed containers get their null-filled keys removed.

Row formats, detected per file from its first row unless `fmt` names one:

  records   {"messages", "task_type", "tools"?, "meta"?}: the project's own schema, read as is
  openai    {"messages": [{role, content, tool_calls (JSON-string arguments), tool_call_id, weight}], "tools"?}
            (OpenAI chat fine-tuning); task_type from the row, else the default; other keys go under meta
  alpaca    {"instruction", "input"?, "output", "system"?, "history"?: [[query, answer], ...]} (LLaMA-Factory's
            alpaca: the user turn is instruction + "\n" + input)
  sharegpt  {"conversations": [{"from", "value"}], "system"?, "tools"?} with from = human | gpt | system |
            function_call | observation (LLaMA-Factory's sharegpt, incl. tool calls and their results)

Every mapping is counted in ReadStats.mapped ("task_type defaulted to general/chat", "arguments decoded
from JSON strings", ...), so nothing is changed silently. Errors name file:line (row number for arrow
containers) and field, like core.data.records.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from core.data.records import MESSAGE_KEYS, RECORD_KEYS, ReadStats, RecordError, SchemaError, validate_record
from core.outputs import EmptyInput, LineError, first_char, read_text, text_lines

FORMATS = ("auto", "records", "openai", "alpaca", "sharegpt")
DEFAULT_TASK_TYPE = "general/chat"
# LLaMA-Factory's own OpenAI-format converter joins consecutive tool results with this separator.
TOOL_RESULT_SEPARATOR = "\n</tool_response>\n<tool_response>\n"
# LLaMA-Factory's FunctionFormatter keeps text outside these words as the turn's text before the calls.
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
                  "bard": "assistant", "bing": "assistant", "model": "assistant", "system": "system",
                  "function_call": "function_call", "observation": "tool", "tool": "tool", "function": "tool"}
ARROW_SUFFIXES = (".parquet", ".arrow")


# --- containers ----------------------------------------------------------------------------------------------

def _json_array(text: str, path: str) -> Iterator[tuple[int, Any]]:
    """(line, element) for each element of a top-level JSON array, each element's own line kept."""
    decoder = json.JSONDecoder()
    pos, line = text.index("[") + 1, 1 + text[: text.index("[")].count("\n")
    while True:
        skipped_start = pos
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", skipped_start, pos)
        if pos >= len(text):
            raise RecordError(path, line, SchemaError("", "invalid JSON (unterminated array)", "invalid_json"))
        if text[pos] == "]":
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise RecordError(path, e.lineno, SchemaError("", f"invalid JSON ({e.msg} at column {e.colno})",
                                                          "invalid_json")) from None
        yield line, value
        line += text.count("\n", pos, end)
        pos = end


def _strip_nulls(value: Any, depth: int = 0) -> Any:
    """Arrow fills keys a row lacks with nulls; drop them (records never need a null field)."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v, depth + 1) for v in value]
    return value


def _arrow_rows(path: str) -> Iterator[tuple[int, Any]]:
    import datasets

    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "dataset_info.json")) or os.path.exists(os.path.join(path, "dataset_dict.json")):
            dataset = datasets.load_from_disk(path)
        else:
            dataset = datasets.load_dataset(path)
    elif path.endswith(".parquet"):
        dataset = datasets.load_dataset("parquet", data_files=path)
    else:
        dataset = datasets.Dataset.from_file(path)
    if isinstance(dataset, datasets.DatasetDict):
        if "train" not in dataset:
            raise RecordError(path, 0, SchemaError("", f"no train split (splits: {', '.join(dataset)})", "no_train_split"))
        dataset = dataset["train"]
    for i, row in enumerate(dataset, start=1):
        yield i, _strip_nulls(row)


def read_rows(path: str) -> Iterator[tuple[int, Any]]:
    """(line or row number, parsed object) for every row of a container. A line that is not JSON yields a
    SchemaError in place of the object, so lenient readers can count it."""
    if os.path.isdir(path) or path.endswith(ARROW_SUFFIXES):
        yield from _arrow_rows(path)
        return
    if first_char(path) == "[":  # a JSON array may be one long line: no line limit
        yield from _json_array(read_text(path), path)
        return
    empty = True
    for line_no, line in text_lines(path, yield_errors=True):  # BOM dropped; over-long / non-UTF-8 lines named
        if isinstance(line, LineError):
            yield line_no, SchemaError("", line.message, line.reason)
            continue
        if not line.strip():
            continue
        empty = False
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as e:
            yield line_no, SchemaError("", f"invalid JSON ({e.msg} at column {e.colno})", "invalid_json")
    if empty:
        raise EmptyInput(path)


# --- row formats ---------------------------------------------------------------------------------------------

def detect(row: Any) -> str:
    if not isinstance(row, dict):
        return "records"  # validation reports "expected a JSON object"
    if "conversations" in row:
        return "sharegpt"
    if "instruction" in row and "output" in row:
        return "alpaca"
    messages = row.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict) and "from" in messages[0]:
        return "sharegpt"
    if "messages" in row and "task_type" in row and set(row) <= RECORD_KEYS:
        return "records"
    if "messages" in row:
        return "openai"
    return "records"


def _wrap_tools(tools: Any, mapped) -> Any:
    if isinstance(tools, str):
        if not tools.strip():
            return None
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError as e:
            raise SchemaError("tools", f"invalid JSON string ({e.msg})", "invalid_json") from None
        mapped["tools decoded from a JSON string"] += 1
    if isinstance(tools, list) and any(isinstance(t, dict) and "function" not in t for t in tools):
        mapped["bare tool declarations wrapped as {type: function, function}"] += 1
        tools = [t if not isinstance(t, dict) or "function" in t else {"type": "function", "function": t} for t in tools]
    return tools


def _decode_arguments(call: dict, where: str, mapped) -> dict:
    function = dict(call.get("function", call))
    if isinstance(function.get("arguments"), str):
        try:
            function["arguments"] = json.loads(function["arguments"])
        except json.JSONDecodeError as e:
            raise SchemaError(f"{where}.function.arguments", f"not a JSON object string ({e.msg})", "bad_tool_call") from None
        mapped["arguments decoded from JSON strings"] += 1
    out = {k: v for k, v in call.items() if k not in ("function", "name", "arguments")} if "function" in call else {}
    return {"type": "function", **out, "function": function}


def split_function_call(value: str) -> tuple[str, str]:
    """(text before the calls, the calls' JSON) of a LLaMA-Factory function_call value."""
    start, end = value.find(TOOL_CALL_OPEN), value.rfind(TOOL_CALL_CLOSE)
    if start < 0 or end < start:
        return "", value
    text = value[:start] + value[end + len(TOOL_CALL_CLOSE):]
    return (text[:-1] if text.endswith("\n") else text), value[start + len(TOOL_CALL_OPEN): end]


def _task_type(row: dict, default: str, mapped) -> str:
    if row.get("task_type"):
        return row["task_type"]
    mapped[f"task_type defaulted to {default}"] += 1
    return default


def _meta(row: dict, known: set, mapped) -> dict | None:
    meta = dict(row.get("meta") or {})
    for key in row:
        if key not in known:
            meta[key] = row[key]
            mapped[f"{key} moved under meta"] += 1
    return meta or None


def _finish(messages: list, row: dict, known: set, task_type: str, mapped, tools=None) -> dict:
    record = {"messages": messages}
    if tools:
        record["tools"] = tools
    record["task_type"] = _task_type(row, task_type, mapped)
    meta = _meta(row, known | {"task_type", "meta"}, mapped)
    if meta:
        record["meta"] = meta
    return record


def from_openai(row: dict, task_type: str, mapped) -> dict:
    messages = []
    for i, m in enumerate(row.get("messages") or []):
        if not isinstance(m, dict):
            messages.append(m)  # validation names it
            continue
        m = dict(m)
        if "content" in m and m["content"] is None:  # an assistant message that only calls tools
            del m["content"]
        if isinstance(m.get("content"), list):  # content parts: keep the text parts, in order
            m["content"] = "".join(p.get("text", "") for p in m["content"] if isinstance(p, dict))
            mapped["content parts joined into text"] += 1
        if "weight" in m:  # OpenAI fine-tuning: weight 0 excludes an assistant message from training
            weight = m.pop("weight")
            m["train"] = bool(weight)
            mapped["weight mapped to train"] += 1
        if m.get("tool_calls"):
            m["tool_calls"] = [_decode_arguments(c, f"messages[{i}].tool_calls[{j}]", mapped) if isinstance(c, dict) else c
                               for j, c in enumerate(m["tool_calls"])]
        for key in [k for k in m if k not in MESSAGE_KEYS]:
            if m[key] in (None, "", [], {}):
                del m[key]
            else:
                raise SchemaError(f"messages[{i}].{key}", "unknown field", "unknown_field")
        messages.append(m)
    return _finish(messages, row, {"messages", "tools", "id"}, task_type, mapped, _wrap_tools(row.get("tools"), mapped))


def from_alpaca(row: dict, task_type: str, mapped) -> dict:
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    for k, pair in enumerate(row.get("history") or []):
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise SchemaError(f"history[{k}]", "expected a [query, answer] pair", "wrong_type")
        messages += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    instruction, extra = row.get("instruction") or "", row.get("input") or ""
    if extra:
        mapped["alpaca input joined to the instruction"] += 1
    messages += [{"role": "user", "content": "\n".join(p for p in (instruction, extra) if p)},
                 {"role": "assistant", "content": row.get("output") or ""}]
    return _finish(messages, row, {"instruction", "input", "output", "system", "history"}, task_type, mapped)


def from_sharegpt(row: dict, task_type: str, mapped) -> dict:
    key = "conversations" if "conversations" in row else "messages"
    turns = row.get(key)
    if not isinstance(turns, list):
        raise SchemaError(key, "expected an array of {from, value} turns", "wrong_type")
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    pending: list[str] = []
    for i, turn in enumerate(turns):
        where = f"{key}[{i}]"
        if not isinstance(turn, dict):
            raise SchemaError(where, "expected an object", "wrong_type")
        kind, value = turn.get("from", turn.get("role")), turn.get("value", turn.get("content"))
        role = SHAREGPT_ROLES.get(kind)
        if role is None:
            raise SchemaError(f"{where}.from", f"unknown speaker {kind!r} (expected one of {', '.join(SHAREGPT_ROLES)})",
                              "unknown_role")
        if not isinstance(value, str):
            raise SchemaError(f"{where}.value", "expected a string", "wrong_type")
        if role == "function_call":
            text, value = split_function_call(value)
            try:
                calls = json.loads(value)
            except json.JSONDecodeError as e:
                raise SchemaError(f"{where}.value", f"a function_call turn must hold JSON ({e.msg})", "bad_tool_call") from None
            calls = calls if isinstance(calls, list) else [calls]
            tool_calls = [_decode_arguments(c, f"{where}.value[{j}]", mapped) if isinstance(c, dict) else c
                          for j, c in enumerate(calls)]
            messages.append({"role": "assistant", "content": text, "tool_calls": tool_calls})
            pending = [c["function"].get("name", "") for c in tool_calls if isinstance(c, dict)]
            mapped["function_call turns mapped to tool_calls"] += 1
        elif role == "tool":
            parts = value.split(TOOL_RESULT_SEPARATOR)
            if len(pending) < 2 or len(parts) != len(pending):
                parts = [value]  # one result (or results we cannot tell apart): kept whole
            for n, part in enumerate(parts):
                message = {"role": "tool", "content": part}
                if n < len(pending) and pending[n]:
                    message["name"] = pending[n]
                messages.append(message)
            pending = []
            mapped["observation turns mapped to tool messages"] += 1
        else:
            messages.append({"role": role, "content": value})
    return _finish(messages, row, {key, "system", "tools"}, task_type, mapped, _wrap_tools(row.get("tools"), mapped))


def from_records(row: dict, task_type: str, mapped, explicit_task_type: bool) -> dict:
    if "task_type" not in row and explicit_task_type:
        return {**row, "task_type": _task_type(row, task_type, mapped)}
    return row


_FROM = {"openai": from_openai, "alpaca": from_alpaca, "sharegpt": from_sharegpt}


# --- the reader ----------------------------------------------------------------------------------------------

def add_format_arguments(parser) -> None:
    """--format and --task-type for a command that reads data through iter_any; the same meaning as the
    trainer's --data.format / --data.task_type (which are accepted as aliases). iter_any(fmt=args.format,
    task_type=args.task_type)."""
    parser.add_argument("--format", "--data.format", dest="format", choices=FORMATS, default="auto", metavar="FORMAT",
                        help=f"row format of the inputs: {' | '.join(FORMATS)} (default auto: detected per file "
                        "from its first row)")
    parser.add_argument("--task-type", "--data.task_type", dest="task_type", default="", metavar="TASK_TYPE",
                        help=f"task_type for rows without one (default: {DEFAULT_TASK_TYPE})")


def iter_any(
    path: str | os.PathLike,
    fmt: str = "auto",
    task_type: str = "",
    lenient: bool = False,
    extra_roles: Iterable[str] = (),
    stats: ReadStats | None = None,
    with_lines: bool = False,
) -> Iterator[dict] | Iterator[tuple[int, dict]]:
    """Validated records (or (line, record) pairs) from any supported container and row format. Strict mode
    raises RecordError at the first bad row; lenient mode skips it and counts the reason in `stats`. The
    format read (detected or given) is stats.format."""
    path = os.fspath(path)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    stats = stats if stats is not None else ReadStats()
    extra_roles, default_type = tuple(extra_roles), task_type or DEFAULT_TASK_TYPE
    chosen = None if fmt == "auto" else fmt
    if chosen:
        stats.format = chosen
    mapped = Counter()  # what making this row's record changed, by kind
    for line, row in read_rows(path):
        try:
            if isinstance(row, SchemaError):
                raise row
            if chosen is None:
                chosen = detect(row)
                stats.format = chosen
            if chosen != "records" and not isinstance(row, dict):
                raise SchemaError("", "expected a JSON object", "wrong_type")
            if chosen == "records":
                record = from_records(row, default_type, mapped, bool(task_type))
            else:
                record = _FROM[chosen](row, default_type, mapped)
            validate_record(record, extra_roles)
        except SchemaError as e:
            if not lenient:
                raise RecordError(path, line, e) from None
            stats.skipped[e.reason] += 1
            mapped.clear()  # counted only for rows that are read
            continue
        if mapped:
            stats.mapped.update(mapped)
            mapped.clear()
        stats.read += 1
        yield (line, record) if with_lines else record
