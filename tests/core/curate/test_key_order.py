"""A tool call's argument order (the schema's, not alphabetical) survives generate -> write -> read -> render ->
export, and so does the order of a tool schema's properties."""

import json

from core.curate.export import export
from core.data.chat import render_record
from core.data.records import read_records, write_records


def _call(record, name):
    return next(c["function"] for m in record["messages"] for c in m.get("tool_calls") or []
                if c["function"]["name"] == name)


def test_argument_and_schema_order_survive_the_whole_path(tmp_path, tiny_tokenizer):
    from suites.agent.generate import generate

    record = next(r for r in generate(300, 11, "mix")
                  if any(c["function"]["name"] == "days_between" for m in r["messages"] for c in m.get("tool_calls") or []))
    assert list(_call(record, "days_between")["arguments"]) == ["start_date", "end_date"]  # generated in schema order
    path = tmp_path / "agent.jsonl"
    write_records(path, [record])
    (back,) = read_records(path)
    assert list(_call(back, "days_between")["arguments"]) == ["start_date", "end_date"]
    schema = next(t["function"]["parameters"] for t in back["tools"] if t["function"]["name"] == "days_between")
    assert list(schema["properties"]) == ["start_date", "end_date"]

    text = tiny_tokenizer.decode(render_record(back, tiny_tokenizer).input_ids)
    call_text = text[text.index("<tool_call>", text.index("</tools>")):]
    assert call_text.index('"start_date"') < call_text.index('"end_date"')  # what the model is trained on

    for target in ("llamafactory", "trl", "axolotl", "swift"):
        export([str(path)], target, str(tmp_path / target))
        exported = (tmp_path / target / "agent.jsonl").read_text(encoding="utf-8")
        # JSON inside JSON strings (LLaMA-Factory, ms-swift) is escaped once more; decode to one level of text
        row = json.dumps(json.loads(exported), ensure_ascii=False).replace('\\"', '"')
        calls = row[row.index('"days_between", "arguments"'):] if '"days_between", "arguments"' in row else row
        assert calls.index('"start_date"') < calls.index('"end_date"'), target
        tools = row[row.index('"properties": {"start_date"'):]
        assert tools.index('"start_date"') < tools.index('"end_date"'), target
