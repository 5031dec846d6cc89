"""python -m suites.agent.train end to end on the tiny model: the default (template) path and a checkpoint whose
chat template has no tool support (fallback format + special tokens)."""

import json

import pytest

from core.data.records import read_records

ARGS = ["--n-train", "32", "--n-eval", "6", "--max-steps", "2", "--micro_batch_size", "4", "--data.max_len", "1024",
        "--progress", "false"]


@pytest.mark.slow
def test_train_on_the_tiny_model(tmp_path, capsys):
    from suites.agent.train import main

    result = main(ARGS + ["--out", str(tmp_path / "run")])
    assert result["fit"].steps == 2 and set(result["after"]) >= {"ALL", "agent"}
    # scores split into turns that need a call and turns that need none, before and after
    assert "[agent] correct on call turns " in capsys.readouterr().out
    assert "call_turns" in result["after"]["ALL"]  # (6 eval records: maybe none that needs no call)
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["after"]["ALL"]["n"] == 6 and saved["before"]["ALL"]["n"] == 6
    train = read_records(tmp_path / "run" / "data" / "train.jsonl")
    evals = read_records(tmp_path / "run" / "data" / "eval.jsonl")
    assert all("targets" in r["meta"] for r in train) and all("target" in r["meta"] for r in evals)
    assert all(r["meta"]["call_format"] == "template" and r.get("tools") for r in train)


@pytest.mark.slow
def test_train_with_a_template_without_tools_uses_the_fallback(tmp_path, tiny_tokenizer):
    import copy

    from core.model.loading import load_model
    from suites.agent.formats import FALLBACK_TOKENS
    from suites.agent.train import main
    from tests.agent.conftest import NO_TOOLS_TEMPLATE

    checkpoint = tmp_path / "plain"
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = NO_TOOLS_TEMPLATE
    tokenizer.save_pretrained(checkpoint)
    load_model("tiny").save_pretrained(checkpoint)
    main(ARGS + ["--model", str(checkpoint), "--out", str(tmp_path / "run")])
    train = read_records(tmp_path / "run" / "data" / "train.jsonl")
    assert all(r["meta"]["call_format"] == "fallback" and "tools" not in r for r in train)
    assert any("<|call|>" in m["content"] for r in train for m in r["messages"] if m["role"] == "assistant")
    from core.model.loading import load_tokenizer

    final = load_tokenizer(str(tmp_path / "run" / "final"))  # the special tokens were added and saved
    assert all(len(final(t, add_special_tokens=False)["input_ids"]) == 1 for t in FALLBACK_TOKENS)
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["after"]["ALL"]["n"] == 6
