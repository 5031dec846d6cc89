"""A tool call the record's tools do not allow is caught wherever records are read: inspect, quality, export
and the trainer (strict: file:line:field; lenient: a counted skip)."""

import json
import re

import pytest

from core.curate.export import export
from core.curate.quality import main as quality_main
from core.data.inspect import main as inspect_main
from core.data.records import ReadStats, RecordError, iter_records

SCHEMA = {"type": "object", "properties": {"value": {"type": "number"}, "unit": {"type": "string", "enum": ["km", "mi"]}},
          "required": ["value", "unit"]}


def _record(name="convert", arguments=None, parameters=None):
    tool = {"type": "function", "function": {"name": "convert", "description": "Convert a distance",
                                             "parameters": parameters or SCHEMA}}
    call = {"type": "function", "function": {"name": name, "arguments": arguments or {"value": 3, "unit": "km"}}}
    return {"messages": [{"role": "user", "content": "3 km in miles?"},
                         {"role": "assistant", "content": "", "tool_calls": [call]},
                         {"role": "tool", "name": name, "content": "{\"miles\": 1.864}"},
                         {"role": "assistant", "content": "About 1.86 miles."}],
            "tools": [tool], "task_type": "agent/single_call"}


BAD = {  # reason -> (record, the field the error names)
    "undeclared_tool": (_record(name="teleport"), r"messages\[1\]\.tool_calls\[0\]\.function\.name: calls \"teleport\""),
    "arguments_violate_schema": (_record(arguments={"value": "three", "unit": "km"}),
                                 r"messages\[1\]\.tool_calls\[0\]\.function\.arguments\.value: violates the convert schema"),
    "invalid_tool_schema": (_record(parameters={"type": "object", "properties": {"value": {"type": "strin"}}}),
                            r"tools\[0\]\.function\.parameters\.properties\.value\.type: not a valid JSON Schema"),
}


@pytest.fixture(params=sorted(BAD))
def bad_file(request, tmp_path):
    record, field = BAD[request.param]
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(_record()) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    return request.param, str(path), rf"d\.jsonl:2: {field}"


def test_valid_call_passes(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps(_record()) + "\n", encoding="utf-8")
    assert len(list(iter_records(path))) == 1


def test_reader_strict_and_lenient(bad_file):
    reason, path, message = bad_file
    with pytest.raises(RecordError, match=message):
        list(iter_records(path))
    stats = ReadStats()
    assert len(list(iter_records(path, lenient=True, stats=stats))) == 1 and stats.skipped == {reason: 1}


def test_inspect_refuses(bad_file, capsys):
    reason, path, message = bad_file
    with pytest.raises(SystemExit) as exit_info:
        inspect_main([path])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert inspect_main([path, "--lenient"]) == 0
    assert f"1 records read, 1 skipped ({reason}: 1)" in capsys.readouterr().out


def test_quality_refuses(bad_file, tmp_path, capsys):
    reason, path, message = bad_file
    with pytest.raises(SystemExit, match=message):
        quality_main([path, "--out", str(tmp_path / "q.jsonl"), "--report", str(tmp_path / "q.md")])


def test_export_refuses_and_lenient_counts(bad_file, tmp_path):
    reason, path, message = bad_file
    with pytest.raises(RecordError, match=message):
        export([path], "trl", str(tmp_path / "out"))
    report = export([path], "trl", str(tmp_path / "out"), lenient=True)
    assert report["written"] == 1 and report["read"] == [f"{path}: 1 records read, 1 skipped ({reason}: 1)"]


def test_trainer_refuses(bad_file, tmp_path):
    from core.train.cli import main as train_main

    reason, path, message = bad_file
    with pytest.raises(RecordError, match=message):
        train_main(["--data", path, "--out", str(tmp_path / "run"), "--max-steps", "1", "--progress=false",
                    f"--data.cache_dir={tmp_path / 'cache'}"])
