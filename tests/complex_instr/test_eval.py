"""IFEval-style scoring: prompt- and instruction-level, strict and loose, per constraint type; the eval CLI."""

import json

import pytest

from core.data.records import write_records
from suites.complex_instr.eval import main, score_headline, score_reply


def record(constraints, lang="en"):
    return {"messages": [{"role": "user", "content": "Write about tea."}, {"role": "assistant", "content": "Tea."}],
            "task_type": f"complex_instr/{lang}/k{len(constraints)}",
            "meta": {"constraints": [{"type": t, "params": p} for t, p in constraints], "lang": lang}}


REC = record([("keywords:existence", {"keywords": ["tea"]}),
              ("punctuation:no_comma", {}),
              ("detectable_format:json_format", {})])


def test_all_followed():
    m = score_reply(REC, '{"drink": "tea"}')
    assert m["correct"] == m["prompt_strict"] == m["prompt_loose"] == 1.0
    assert m["inst_strict"] == m["inst_loose"] == 1.0
    assert m["strict:keywords:existence"] == m["strict:punctuation:no_comma"] == 1.0


def test_partly_followed():
    m = score_reply(REC, "Tea, green tea.")
    assert m["correct"] == 0.0 and m["prompt_loose"] == 0.0
    assert m["inst_strict"] == pytest.approx(1 / 3)
    assert (m["strict:keywords:existence"], m["strict:punctuation:no_comma"], m["strict:detectable_format:json_format"]) \
        == (1.0, 0.0, 0.0)


def test_loose_forgives_a_preamble_line():
    m = score_reply(REC, 'Here is the JSON\n{"drink": "tea"}')
    assert m["prompt_strict"] == 0.0 and m["prompt_loose"] == 1.0
    assert m["inst_strict"] == pytest.approx(2 / 3) and m["inst_loose"] == 1.0
    assert m["loose:detectable_format:json_format"] == 1.0 and m["strict:detectable_format:json_format"] == 0.0


def test_headline_drops_per_type_entries():
    assert set(score_headline(REC, "x")) == {"correct", "prompt_strict", "prompt_loose", "inst_strict", "inst_loose"}


def test_record_without_constraints_is_an_error():
    with pytest.raises(ValueError, match="meta.constraints"):
        score_reply({"task_type": "chat/x", "messages": [], "meta": {}}, "hi")


def test_cli_scores_existing_responses_per_type(tmp_path, capsys):
    records = [REC,
               record([("keywords:existence", {"keywords": ["春天"]}), ("zh:punctuation", {})], lang="zh"),
               record([("punctuation:no_comma", {})])]
    replies = ['{"drink": "tea"}', "春天来了,花开了。", "No commas here."]
    data, responses, out = tmp_path / "eval.jsonl", tmp_path / "replies.jsonl", tmp_path / "results.json"
    write_records(data, records)
    responses.write_text("".join(json.dumps({"reply": r}, ensure_ascii=False) + "\n" for r in replies), encoding="utf-8")
    result = main(["--data", str(data), "--responses", str(responses), "--out", str(out)])
    printed = capsys.readouterr().out
    # prompt level: 2 of 3 strictly; instruction level: 5 of 6 (the zh reply uses a half-width comma)
    assert result["prompt_level"] == {"n": 3, "strict": pytest.approx(2 / 3), "loose": pytest.approx(2 / 3)}
    assert result["instruction_level"] == {"n": 6, "strict": pytest.approx(5 / 6), "loose": pytest.approx(5 / 6)}
    by_type = result["by_constraint_type"]
    assert by_type["punctuation:no_comma"] == {"n": 2, "strict": 1.0, "loose": 1.0}
    assert by_type["zh:punctuation"] == {"n": 1, "strict": 0.0, "loose": 0.0}
    assert result["by_task_type"]["ALL"]["correct"] == pytest.approx(2 / 3)
    saved = json.loads(out.read_text())
    assert saved["by_constraint_type"] == by_type and saved["by_task_type"]["ALL"]["n"] == 3
    assert "zh:punctuation" in printed and "instruction-level" in printed
    assert (tmp_path / "results_by_type.png").stat().st_size > 0


def test_cli_generates_with_a_model(tmp_path, capsys):
    from suites.complex_instr.generate import generate

    data = tmp_path / "eval.jsonl"
    write_records(data, generate(3, 0, "en", split="eval"))
    result = main(["--data", str(data), "--model", "tiny", "--max-new-tokens", "8", "--batch-size", "3"])
    assert result["prompt_level"]["n"] == 3
    assert result["instruction_level"]["n"] == sum(result["by_constraint_type"][t]["n"]
                                                    for t in result["by_constraint_type"])
