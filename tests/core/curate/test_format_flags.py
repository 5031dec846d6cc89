"""--format / --task-type on inspect, quality, export and mix: the same meaning as the trainer's --data.format /
--data.task_type. Each test uses a file that auto-detection reads one way (or fails on) and the flag reads the
other way, or rows without task_type that the flag fills."""

import json

import pytest

from core.curate.export import main as export_main
from core.curate.mix import main as mix_main
from core.curate.quality import main as quality_main
from core.data.inspect import main as inspect_main
from core.data.records import read_records

TOOLS = [{"name": "convert_distance", "description": "Convert a distance",
          "parameters": {"type": "object", "properties": {"value": {"type": "number"}, "unit": {"type": "string"}},
                         "required": ["value", "unit"]}}]
# LLaMA-Factory's sharegpt format with OpenAI-style tags (dataset_info.json: messages / role / content), as in
# its mllm and tool demos: auto-detection sees `messages` with `role` and reads it as OpenAI rows, which have
# no function_call / observation roles.
SHAREGPT_ROLE_TAGS = {
    "messages": [
        {"role": "user", "content": "How far is 3 km in miles?"},
        {"role": "function_call", "content": json.dumps({"name": "convert_distance", "arguments": {"value": 3, "unit": "km"}})},
        {"role": "observation", "content": "{\"miles\": 1.864}"},
        {"role": "assistant", "content": "3 km is about 1.86 miles."}],
    "tools": json.dumps(TOOLS)}
ALPACA = [{"instruction": f"Say the number {i} in French.", "input": "", "output": f"Le nombre {i}: {w}."}
          for i, w in enumerate(["zéro", "un", "deux", "trois"])]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_inspect_reads_sharegpt_with_role_tags_only_when_told(tmp_path, capsys):
    path = _jsonl(tmp_path / "lf.jsonl", [SHAREGPT_ROLE_TAGS])
    with pytest.raises(SystemExit) as err:
        inspect_main([path, "--no-color"])
    assert err.value.code == 2 and "lf.jsonl:1: messages[1].role" in capsys.readouterr().err
    assert inspect_main([path, "--no-color", "--format", "sharegpt", "--task-type", "agent/units"]) == 0
    out = capsys.readouterr().out
    assert "(agent/units)" in out and "1 records read (sharegpt), none skipped" in out
    assert "function_call turns mapped to tool_calls: 1" in out and "convert_distance" in out


def test_quality_fills_the_missing_task_type_and_forces_the_format(tmp_path, capsys):
    src = _jsonl(tmp_path / "alpaca.jsonl", ALPACA)
    out, report = tmp_path / "out.jsonl", tmp_path / "report.md"
    argv = [src, "--out", str(out), "--report", str(report), "--embedding.enabled", "false", "--progress", "false"]
    quality_main(argv)
    assert {r["task_type"] for r in read_records(out)} == {"general/chat"}
    quality_main([*argv, "--task-type", "chat/french"])
    assert {r["task_type"] for r in read_records(out)} == {"chat/french"} and len(read_records(out)) == 4
    assert "| chat/french |" in report.read_text(encoding="utf-8")
    with pytest.raises(SystemExit, match=r"alpaca\.jsonl:1: (input|instruction|output): unknown field"):
        quality_main([*argv, "--format", "records"])


def test_export_of_sharegpt_with_role_tags_needs_the_format(tmp_path, capsys):
    src = _jsonl(tmp_path / "lf.jsonl", [SHAREGPT_ROLE_TAGS])
    with pytest.raises(SystemExit, match=r"lf\.jsonl:1: messages\[1\]\.role"):
        export_main([src, "--to", "trl", "--out", str(tmp_path / "a")])
    report = export_main([src, "--to", "trl", "--out", str(tmp_path / "b"), "--format", "sharegpt"])
    assert report["written"] == 1 and "(sharegpt)" in report["read"][0]
    (row,) = [json.loads(line) for line in (tmp_path / "b" / "lf.jsonl").read_text(encoding="utf-8").splitlines()]
    call = row["messages"][1]["tool_calls"][0]["function"]
    assert call["name"] == "convert_distance" and row["messages"][2] == {"role": "tool", "content": "{\"miles\": 1.864}",
                                                                         "name": "convert_distance"}


def test_mix_takes_format_and_task_type_from_the_recipe_or_the_command(tmp_path, capsys):
    _jsonl(tmp_path / "alpaca.jsonl", ALPACA)
    _jsonl(tmp_path / "lf.jsonl", [SHAREGPT_ROLE_TAGS] * 2)
    recipe = tmp_path / "mix.yaml"
    recipe.write_text("sources:\n  - path: alpaca.jsonl\n    task_type: chat/french\n"
                      "  - path: lf.jsonl\n    format: sharegpt\n", encoding="utf-8")
    out = tmp_path / "mix.jsonl"
    mix_main([str(recipe), "--out", str(out), "--no-tokens", "--task-type", "agent/units"])
    types = sorted(r["task_type"] for r in read_records(out))
    assert types == ["agent/units"] * 2 + ["chat/french"] * 4
    printed = capsys.readouterr().out
    assert "alpaca.jsonl: 4 records read (alpaca)" in printed and "lf.jsonl: 2 records read (sharegpt)" in printed
    recipe.write_text("sources:\n  - path: lf.jsonl\n", encoding="utf-8")  # detected as openai: unknown role
    with pytest.raises(SystemExit, match=r"lf\.jsonl:1: messages\[1\]\.role"):
        mix_main([str(recipe), "--out", str(out), "--no-tokens"])
    mix_main([str(recipe), "--out", str(out), "--no-tokens", "--data.format", "sharegpt"])
    assert [r["task_type"] for r in read_records(out)] == ["general/chat"] * 2
