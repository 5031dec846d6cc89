"""Format readers on real-shaped samples (the shapes of LLaMA-Factory's demo data and OpenAI fine-tuning files)."""

import json

import pytest

from core.data.convert import main as convert_main
from core.data.readers import TOOL_RESULT_SEPARATOR, iter_any
from core.data.records import ReadStats, RecordError, read_records

ALPACA = [  # alpaca_en_demo: with and without input; LLaMA-Factory's optional system and history
    {"instruction": "Describe a process of making crepes.", "input": "", "output": "Crepes are made by ..."},
    {"instruction": "Translate into French.", "input": "Good morning", "output": "Bonjour"},
    {"instruction": "And now?", "input": "", "output": "Second answer", "system": "Be brief.",
     "history": [["First question", "First answer"]]},
]
TOOLS = [{"name": "convert_distance", "description": "Convert a distance",
          "parameters": {"type": "object", "properties": {"value": {"type": "number"}, "unit": {"type": "string"}},
                         "required": ["value", "unit"]}}]
SHAREGPT = {  # glaive_toolcall_en_demo shape: tools as a JSON string, function_call / observation turns
    "conversations": [
        {"from": "human", "value": "How far is 3 km in miles?"},
        {"from": "function_call", "value": json.dumps({"name": "convert_distance", "arguments": {"value": 3, "unit": "km"}})},
        {"from": "observation", "value": "{\"miles\": 1.864}"},
        {"from": "gpt", "value": "3 km is about 1.86 miles."},
        {"from": "human", "value": "And 5 and 8 km?"},
        {"from": "function_call", "value": json.dumps([{"name": "convert_distance", "arguments": {"value": 5, "unit": "km"}},
                                                       {"name": "convert_distance", "arguments": {"value": 8, "unit": "km"}}])},
        {"from": "observation", "value": "{\"miles\": 3.107}" + TOOL_RESULT_SEPARATOR + "{\"miles\": 4.971}"},
        {"from": "gpt", "value": "3.1 and 5.0 miles."}],
    "system": "You convert units.", "tools": json.dumps(TOOLS)}
OPENAI = {  # OpenAI chat fine-tuning: string arguments, ids, weight, no task_type
    "messages": [
        {"role": "system", "content": "You convert units."},
        {"role": "user", "content": "3 km in miles?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "convert_distance", "arguments": "{\"value\": 3, \"unit\": \"km\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"miles\": 1.864}"},
        {"role": "assistant", "content": "About 1.86 miles.", "weight": 1}],
    "tools": [{"type": "function", "function": TOOLS[0]}]}


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_alpaca_with_and_without_input_system_and_history(tmp_path):
    stats = ReadStats()
    records = list(iter_any(_write_jsonl(tmp_path / "a.jsonl", ALPACA), stats=stats))
    assert stats.format == "alpaca"
    assert records[0] == {"messages": [{"role": "user", "content": "Describe a process of making crepes."},
                                       {"role": "assistant", "content": "Crepes are made by ..."}],
                          "task_type": "general/chat"}
    assert records[1]["messages"][0] == {"role": "user", "content": "Translate into French.\nGood morning"}
    assert [m["role"] for m in records[2]["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert stats.mapped == {"task_type defaulted to general/chat": 3, "alpaca input joined to the instruction": 1}


def test_sharegpt_with_tools_parallel_calls_and_observations(tmp_path):
    stats = ReadStats()
    (record,) = iter_any(_write_jsonl(tmp_path / "s.jsonl", [SHAREGPT]), task_type="agent/units", stats=stats)
    assert stats.format == "sharegpt" and record["task_type"] == "agent/units"
    assert record["tools"] == [{"type": "function", "function": TOOLS[0]}]
    roles = [m["role"] for m in record["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool", "tool", "assistant"]
    call = record["messages"][2]["tool_calls"][0]["function"]
    assert call == {"name": "convert_distance", "arguments": {"value": 3, "unit": "km"}}
    assert list(call["arguments"]) == ["value", "unit"]  # the schema's order, not alphabetical
    assert [m["content"] for m in record["messages"][7:9]] == ["{\"miles\": 3.107}", "{\"miles\": 4.971}"]
    assert record["messages"][7]["name"] == "convert_distance"


def test_openai_without_task_type_and_with_string_arguments(tmp_path):
    stats = ReadStats()
    (record,) = iter_any(_write_jsonl(tmp_path / "o.jsonl", [OPENAI]), stats=stats)
    assert stats.format == "openai" and record["task_type"] == "general/chat"
    assert record["messages"][2]["tool_calls"][0] == {
        "type": "function", "id": "call_1", "function": {"name": "convert_distance", "arguments": {"value": 3, "unit": "km"}}}
    assert "content" not in record["messages"][2] and record["messages"][4]["train"] is True
    assert stats.mapped["arguments decoded from JSON strings"] == 1 and stats.mapped["weight mapped to train"] == 1


def test_json_array_parquet_and_datasets_folder_give_the_same_records(tmp_path):
    import datasets

    rows = [ALPACA[0], ALPACA[1]]
    (tmp_path / "a.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    expected = list(iter_any(_write_jsonl(tmp_path / "a.jsonl", rows)))
    assert list(iter_any(tmp_path / "a.json")) == expected
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "a.parquet"))
    assert list(iter_any(str(tmp_path / "a.parquet"))) == expected
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    assert list(iter_any(str(tmp_path / "saved"))) == expected
    # The arrow schema fills keys a row lacks with nulls; they are dropped again.
    datasets.Dataset.from_list([SHAREGPT]).to_parquet(str(tmp_path / "s.parquet"))
    assert list(iter_any(str(tmp_path / "s.parquet"), task_type="agent/units")) == list(
        iter_any(_write_jsonl(tmp_path / "s.jsonl", [SHAREGPT]), task_type="agent/units"))


def test_json_array_errors_name_the_element_line_and_lenient_counts(tmp_path):
    bad = {"instruction": "x", "output": ""}  # empty answer
    (tmp_path / "a.json").write_text(json.dumps([ALPACA[0], bad], indent=2), encoding="utf-8")
    with pytest.raises(RecordError, match=r"a\.json:7: messages\[1\]\.content: empty message"):
        list(iter_any(tmp_path / "a.json"))
    stats = ReadStats()
    assert len(list(iter_any(tmp_path / "a.json", lenient=True, stats=stats))) == 1
    assert stats.skipped == {"empty_message": 1}


def test_explicit_format_overrides_detection(tmp_path):
    path = _write_jsonl(tmp_path / "a.jsonl", [ALPACA[0]])
    with pytest.raises(RecordError, match=r"a\.jsonl:1: input: unknown field"):
        list(iter_any(path, fmt="records"))


def test_convert_cli_writes_records_and_counts_mappings(tmp_path, capsys):
    src = _write_jsonl(tmp_path / "s.jsonl", [SHAREGPT])
    out = tmp_path / "out.jsonl"
    assert convert_main([str(src), "--to", "records", "--out", str(out), "--task-type", "agent/units"]) == 0
    printed = capsys.readouterr().out
    assert "1 records read (sharegpt), none skipped; mapped: " in printed
    assert "function_call turns mapped to tool_calls: 2" in printed and "tools decoded from a JSON string: 1" in printed
    assert "[done] 1 records written" in printed
    (record,) = read_records(out)
    assert record["task_type"] == "agent/units"
    assert '"arguments": {"value": 3, "unit": "km"}' in out.read_text(encoding="utf-8")
