import json

import pytest

from core.data.records import read_records
from suites.rag.train import default_config, main


@pytest.mark.slow
def test_pipeline_generates_trains_and_scores(tmp_path, capsys):
    out = tmp_path / "run"
    result = main(["--out", str(out), "--n-train", "48", "--n-eval", "12", "--max-steps", "3",
                   "--micro_batch_size", "8", "--eval-max-new-tokens", "8", "--docs", "2-3", "--lang", "mix"])
    train = read_records(out / "data" / "train.jsonl")
    evaluation = read_records(out / "data" / "eval.jsonl")
    assert len(train) == 48 and len(evaluation) == 12
    assert {r["meta"]["num_docs"] for r in train if r["meta"]["scenario"] == "grounded"} <= {2, 3}
    # the eval set comes from another world (its own seed), so it shares no question with training
    assert {r["meta"]["source"] for r in train}.isdisjoint({r["meta"]["source"] for r in evaluation})
    assert {r["meta"].get("question") for r in train} & {r["meta"].get("question") for r in evaluation} <= {None}
    # nor does the router: its general-knowledge questions are split between train and eval
    general = [{(r["meta"]["lang"], r["meta"]["templates"]["message"]) for r in records
                if r["meta"].get("route_kind") == "general"} for records in (train, evaluation)]
    assert not general[0] & general[1]
    saved = json.loads((out / "eval.json").read_text())
    assert saved["before"]["ALL"]["n"] == saved["after"]["ALL"]["n"] == 12
    assert {k for k in saved["after"] if k.startswith("rag/")} == {r["task_type"] for r in evaluation}
    assert (out / "final" / "config.json").exists() and (out / "eval.png").exists()
    assert result["fit"].steps == 3
    assert "[eval] 12 held-out samples" in capsys.readouterr().out


def test_defaults_suit_the_tiny_model():
    cfg = default_config()
    assert cfg.data.mask == "prompt" and cfg.model.path == "tiny" and cfg.data.max_len == 1024
