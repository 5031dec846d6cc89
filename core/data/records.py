"""The sample schema (one chat JSONL line) and its reader/writer.

A record is a plain dict in the shape transformers chat templates take::

    {"messages": [{"role": ..., "content": ..., "tool_calls": [...], "train": bool}, ...],
     "tools": [{"type": "function", "function": {...}}],
     "task_type": "suite/scenario",
     "meta": {...}}

Reading validates every line; errors name file, line and field.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.data.tool_schema import argument_errors, declared_tools, schema_problem
from core.errors import UserError
from core.outputs import EmptyInput, atomic_write, text_lines

STANDARD_ROLES = ("system", "user", "assistant", "tool")
_STANDARD_ROLES = frozenset(STANDARD_ROLES)
RECORD_KEYS = frozenset({"messages", "tools", "task_type", "meta", "id"})
MESSAGE_KEYS = frozenset({"role", "content", "train", "tool_calls", "name", "tool_call_id"})
TASK_TYPE_RE = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)+$")


class SchemaError(UserError):
    """A record violates the schema. `field` is a JSON path such as ``messages[3].role``."""

    def __init__(self, field: str, message: str, reason: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.reason = reason  # short stable key used to count skips in lenient mode


class RecordError(UserError):
    """A JSONL line is invalid; the message reads ``file:line: field: problem``."""

    def __init__(self, path: str, line: int, error: SchemaError):
        super().__init__(f"{path}:{line}: {error}")
        self.path = path
        self.line = line
        self.field = error.field
        self.reason = error.reason


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _expect(value: Any, kind: type | tuple, field: str, expected: str) -> None:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise SchemaError(field, f"expected {expected}, got {_type_name(value)}", "wrong_type")


def _function_of(value: Any, field: str, bad_name: str) -> dict:
    """The ``function`` object of a tool call or tool declaration, checked to carry a non-empty name."""
    _expect(value, dict, field, "an object")
    function = value.get("function")
    if function is None:
        raise SchemaError(f"{field}.function", "missing", "missing_field")
    _expect(function, dict, f"{field}.function", "an object")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{field}.function.name", "must be a non-empty string", bad_name)
    return function


def _validate_tool_call(call: Any, field: str) -> None:
    function = _function_of(call, field, "bad_tool_call")
    if "arguments" not in function:
        raise SchemaError(f"{field}.function.arguments", "missing", "missing_field")
    if not isinstance(function["arguments"], dict):
        raise SchemaError(
            f"{field}.function.arguments",
            f"expected an object, got {_type_name(function['arguments'])} (decode JSON-string arguments first)",
            "bad_tool_call",
        )


def _validate_tool(tool: Any, field: str) -> None:
    function = _function_of(tool, field, "bad_tool")
    params = function.get("parameters", {"type": "object"})
    _expect(params, dict, f"{field}.function.parameters", "a JSON Schema object")
    problem = schema_problem(params)
    if problem:
        raise SchemaError(f"{field}.function.parameters{problem[0]}", f"not a valid JSON Schema: {problem[1]}",
                          "invalid_tool_schema")


def _check_call_against_tools(call: dict, tools: dict[str, dict], field: str) -> None:
    """The call names a declared tool and its arguments satisfy that tool's parameters schema."""
    name = call["function"]["name"]
    if name not in tools:
        declared = ", ".join(tools) or "no tools"
        raise SchemaError(f"{field}.function.name", f'calls "{name}", which the tools of the record do not declare '
                          f"(declared: {declared})", "undeclared_tool")
    errors = argument_errors(tools[name], call["function"]["arguments"])
    if errors:
        path, message = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SchemaError(f"{field}.function.arguments{path}", f"violates the {name} schema: {message}{more}",
                          "arguments_violate_schema")


def validate_record(record: Any, extra_roles: Iterable[str] = ()) -> None:
    """Raise SchemaError for the first problem found; return None when the record is valid. Field names are
    spelled out only for the error (this runs once per line of every data set read)."""
    roles = _STANDARD_ROLES.union(extra_roles) if extra_roles else _STANDARD_ROLES
    _expect(record, dict, "", "a JSON object")
    if not RECORD_KEYS.issuperset(record):
        raise SchemaError(sorted(set(record) - RECORD_KEYS)[0], "unknown field (put free-form data under meta)",
                          "unknown_field")
    if "messages" not in record:
        raise SchemaError("messages", "missing", "missing_field")
    messages = record["messages"]
    _expect(messages, list, "messages", "an array")
    if not messages:
        raise SchemaError("messages", "must not be empty", "empty_messages")
    if "task_type" not in record:
        raise SchemaError("task_type", "missing", "missing_field")
    task_type = record["task_type"]
    _expect(task_type, str, "task_type", "a string")
    if not TASK_TYPE_RE.match(task_type):
        raise SchemaError(
            "task_type", f'"{task_type}" must have at least two levels, e.g. "rag/conflicting"', "bad_task_type"
        )
    if "meta" in record:
        _expect(record["meta"], dict, "meta", "an object")
    if "tools" in record and record["tools"] is not None:
        _expect(record["tools"], list, "tools", "an array")
        for j, tool in enumerate(record["tools"]):
            _validate_tool(tool, f"tools[{j}]")

    tools = declared_tools(record.get("tools"))
    open_calls = 0
    has_assistant = False
    for i, msg in enumerate(messages):
        if type(msg) is not dict:
            _expect(msg, dict, f"messages[{i}]", "an object")
        if not MESSAGE_KEYS.issuperset(msg):
            raise SchemaError(f"messages[{i}].{sorted(set(msg) - MESSAGE_KEYS)[0]}", "unknown field", "unknown_field")
        if "role" not in msg:
            raise SchemaError(f"messages[{i}].role", "missing", "missing_field")
        role = msg["role"]
        if type(role) is not str:
            _expect(role, str, f"messages[{i}].role", "a string")
        if role not in roles:
            raise SchemaError(f"messages[{i}].role", f'unknown role "{role}"', "unknown_role")
        content = msg.get("content")
        calls = msg.get("tool_calls")
        if content is not None and type(content) is not str:
            _expect(content, str, f"messages[{i}].content", "a string")
        if "train" in msg and type(msg["train"]) is not bool:
            _expect(msg["train"], bool, f"messages[{i}].train", "true or false")
        if calls is not None:
            where = f"messages[{i}]"
            if role != "assistant":
                raise SchemaError(f"{where}.tool_calls", f'only assistant messages may call tools, not "{role}"',
                                  "misplaced_tool_calls")
            _expect(calls, list, f"{where}.tool_calls", "an array")
            for j, call in enumerate(calls):
                _validate_tool_call(call, f"{where}.tool_calls[{j}]")
                _check_call_against_tools(call, tools, f"{where}.tool_calls[{j}]")
            open_calls = len(calls)
        if role == "tool":
            if open_calls == 0:
                raise SchemaError(f"messages[{i}]", "tool result without a preceding assistant tool call",
                                  "orphan_tool_result")
            open_calls -= 1
        if not content and not calls and role != "tool":
            raise SchemaError(f"messages[{i}].content", "empty message (no content and no tool_calls)", "empty_message")
        has_assistant |= role == "assistant"
    if not has_assistant:
        raise SchemaError("messages", "no assistant message to train on", "no_assistant")


@dataclass
class ReadStats:
    """What a lenient read skipped, by reason, so nothing is dropped silently."""

    read: int = 0
    skipped: Counter = field(default_factory=Counter)
    mapped: Counter = field(default_factory=Counter)  # what core.data.readers changed to make records, by kind
    format: str = ""  # the row format read (core.data.readers), "" for plain record JSONL

    def summary(self) -> str:
        fmt = f" ({self.format})" if self.format and self.format != "records" else ""
        if not self.skipped:
            text = f"{self.read} records read{fmt}, none skipped"
        else:
            parts = ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items()))
            text = f"{self.read} records read{fmt}, {sum(self.skipped.values())} skipped ({parts})"
        if self.mapped:
            text += "; mapped: " + ", ".join(f"{k}: {v}" for k, v in sorted(self.mapped.items()))
        return text


def iter_records(
    path: str | os.PathLike,
    lenient: bool = False,
    extra_roles: Iterable[str] = (),
    stats: ReadStats | None = None,
    with_lines: bool = False,
) -> Iterator[dict] | Iterator[tuple[int, dict]]:
    """Yield validated records (or (line number, record) pairs) from a JSONL file. Strict mode raises
    RecordError at the first bad line; lenient mode skips it and counts the reason in `stats`."""
    path = os.fspath(path)
    stats = stats if stats is not None else ReadStats()
    extra_roles = tuple(extra_roles)

    def bad_line(e) -> None:  # lenient: a non-UTF-8 or over-long line is a counted skip
        stats.skipped[e.reason] += 1

    empty = True
    for line_no, line in text_lines(path, on_bad=bad_line if lenient else None):
        if not line.strip():
            continue
        empty = False
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise SchemaError("", f"invalid JSON ({e.msg} at column {e.colno})", "invalid_json") from None
            validate_record(record, extra_roles)
        except SchemaError as e:
            if not lenient:
                raise RecordError(path, line_no, e) from None
            stats.skipped[e.reason] += 1
            continue
        stats.read += 1
        yield (line_no, record) if with_lines else record
    if empty and not sum(stats.skipped.values()):
        raise EmptyInput(path)


def iter_json_objects(path: str | os.PathLike, error: type[Exception] = UserError,
                      expected: str = "a JSON object") -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-blank line of a JSONL file that is not a record (questions,
    documents, pairs, replies). A line that is not JSON, or not an object, raises `error` naming file and line;
    the caller checks the fields."""
    path = os.fspath(path)
    for line_no, line in text_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{path}:{line_no}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise error(f"{path}:{line_no}: expected {expected}")
        yield line_no, obj


def read_records(path: str | os.PathLike, lenient: bool = False, extra_roles: Iterable[str] = (),
                 stats: ReadStats | None = None) -> list[dict]:
    return list(iter_records(path, lenient=lenient, extra_roles=extra_roles, stats=stats))


def dumps_record(record: dict) -> str:
    """One deterministic JSON line: keys in insertion order (a tool call's arguments and a tool schema's
    properties keep the order they were written in; the model learns that order), UTF-8 kept readable."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


def write_records(path: str | os.PathLike, records: Iterable[dict], validate: bool = True,
                  extra_roles: Iterable[str] = ()) -> int:
    """Write records as JSONL (validated by default). Returns the count written."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    n = 0
    with atomic_write(path) as f:  # written aside, renamed when complete: a kill never leaves half a file
        for i, record in enumerate(records):
            if validate:
                try:
                    validate_record(record, extra_roles)
                except SchemaError as e:
                    raise RecordError(path, i + 1, e) from None
            f.write(dumps_record(record) + "\n")
            n += 1
    return n


def first_level(task_type: str) -> str:
    return task_type.split("/", 1)[0]
