import json

import pytest

from core.data.records import (
    ReadStats,
    RecordError,
    dumps_record,
    read_records,
    validate_record,
    write_records,
)

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "task_type": "chat/greeting"}
CALL = {"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}


def with_messages(*messages, **extra):
    return {"messages": list(messages), "task_type": "chat/x", **extra}


U = {"role": "user", "content": "q"}
A = {"role": "assistant", "content": "a"}

# Each malformed line and the exact error it must produce (line 2 of the file; line 1 is valid).
CASES = [
    ("{not json", "invalid JSON (Expecting property name enclosed in double quotes at column 2)"),
    ("[1, 2]", "expected a JSON object, got array"),
    (json.dumps({"task_type": "a/b"}), "messages: missing"),
    (json.dumps({"messages": [], "task_type": "a/b"}), "messages: must not be empty"),
    (json.dumps({"messages": [U, A]}), "task_type: missing"),
    (json.dumps({"messages": [U, A], "task_type": "rag"}), 'task_type: "rag" must have at least two levels, e.g. "rag/conflicting"'),
    (json.dumps(with_messages(U, {"role": "assitant", "content": "a"})), 'messages[1].role: unknown role "assitant"'),
    (json.dumps(with_messages(U, {"content": "a"})), "messages[1].role: missing"),
    (json.dumps(with_messages(U, {"role": "assistant", "content": 5})), "messages[1].content: expected a string, got int"),
    (json.dumps(with_messages(U, {"role": "assistant", "content": "a", "train": "yes"})), "messages[1].train: expected true or false, got string"),
    (json.dumps(with_messages({"role": "user", "content": "q", "tool_calls": [CALL]}, A)), 'messages[0].tool_calls: only assistant messages may call tools, not "user"'),
    (json.dumps(with_messages(U, {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]})),
     "messages[1].tool_calls[0].function.arguments: expected an object, got string (decode JSON-string arguments first)"),
    (json.dumps(with_messages(U, {"role": "tool", "content": "5"}, A)), "messages[1]: tool result without a preceding assistant tool call"),
    (json.dumps(with_messages(U, {"role": "assistant", "content": ""})), "messages[1].content: empty message (no content and no tool_calls)"),
    (json.dumps(with_messages(U, {"role": "user", "content": "again"})), "messages: no assistant message to train on"),
    (json.dumps({**GOOD, "task_typ": "x/y"}), "task_typ: unknown field (put free-form data under meta)"),
    (json.dumps({**GOOD, "meta": [1]}), "meta: expected an object, got array"),
    (json.dumps({**GOOD, "tools": [{"type": "function", "function": {"description": "no name"}}]}), "tools[0].function.name: must be a non-empty string"),
    (json.dumps(with_messages(U, {"role": "assistant", "content": "a", "weight": 2})), "messages[1].weight: unknown field"),
]


@pytest.mark.parametrize("line,message", CASES, ids=[m[:40] for _, m in CASES])
def test_malformed_line_error_names_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "data.jsonl"
    path.write_text(dumps_record(GOOD) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(RecordError) as err:
        read_records(path)
    assert str(err.value) == f"{path}:2: {message}"
    assert err.value.line == 2


def test_lenient_mode_skips_and_counts_by_reason(tmp_path):
    path = tmp_path / "data.jsonl"
    lines = [dumps_record(GOOD), CASES[0][0], CASES[6][0], CASES[7][0], dumps_record(GOOD), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    stats = ReadStats()
    records = read_records(path, lenient=True, stats=stats)
    assert len(records) == 2
    assert dict(stats.skipped) == {"invalid_json": 1, "unknown_role": 1, "missing_field": 1}
    assert stats.summary() == "2 records read, 3 skipped (invalid_json: 1, missing_field: 1, unknown_role: 1)"


def test_custom_roles_must_be_declared():
    record = with_messages({"role": "background", "content": "ctx"}, U, A)
    with pytest.raises(ValueError, match='unknown role "background"'):
        validate_record(record)
    validate_record(record, extra_roles=["background"])


def test_tool_calls_and_tools_validate():
    record = {
        "messages": [U, {"role": "assistant", "content": "", "tool_calls": [CALL, CALL]},
                     {"role": "tool", "name": "f", "content": "1"}, {"role": "tool", "name": "f", "content": "2"}, A],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "task_type": "agent/parallel", "meta": {"seed": 1},
    }
    validate_record(record)
    record["messages"].insert(4, {"role": "tool", "name": "f", "content": "3"})  # one result too many
    with pytest.raises(ValueError, match=r"messages\[4\]: tool result without a preceding"):
        validate_record(record)


def test_write_is_deterministic_keeps_key_order_and_round_trips(tmp_path):
    record = {"task_type": "chat/zh", "meta": {"b": 1, "a": "中文"},
              "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_records(a, [record])
    write_records(b, [record])
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text(encoding="utf-8") == (  # insertion order (not sorted), readable UTF-8 (not \u escapes)
        '{"task_type": "chat/zh", "meta": {"b": 1, "a": "中文"}, '
        '"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
    assert read_records(a) == [record]


def test_write_refuses_invalid_records(tmp_path):
    with pytest.raises(RecordError, match=r"out.jsonl:2: task_type: missing"):
        write_records(tmp_path / "out.jsonl", [GOOD, {"messages": GOOD["messages"]}])
