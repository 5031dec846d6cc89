"""python -m suites.complex_instr.train: generate -> core trainer -> eval before and after, on held-out pairs."""

import json

import pytest

from core.data.records import read_records
from suites.complex_instr.generate import held_out
from suites.complex_instr.sources import load_seed_pairs


@pytest.mark.slow
def test_train_pipeline_runs_end_to_end(tmp_path):
    from suites.complex_instr.train import main

    out = tmp_path / "run"
    result = main(["--out", str(out), "--n-train", "48", "--n-eval", "6", "--max-steps", "3",
                   "--micro_batch_size", "8", "--eval-max-new-tokens", "8", "--lang", "mix"])
    assert result["before"]["ALL"]["n"] == result["after"]["ALL"]["n"] == 6
    for metric in ("correct", "prompt_loose", "inst_strict", "inst_loose"):
        assert 0.0 <= result["after"]["ALL"][metric] <= 1.0
    saved = json.loads((out / "eval.json").read_text())
    assert saved["after"]["ALL"] == result["after"]["ALL"]
    assert (out / "final" / "config.json").exists() and (out / "eval.png").exists()
    by_id = {p.id: p for p in load_seed_pairs()}
    train = read_records(out / "data" / "train.jsonl")
    evals = read_records(out / "data" / "eval.jsonl")
    assert len(train) == 48 and len(evals) == 6
    assert not any(held_out(by_id[r["meta"]["pair_id"]]) for r in train)
    assert all(held_out(by_id[r["meta"]["pair_id"]]) for r in evals)

    # a checkpoint path works in place of "tiny" (here, the model just trained)
    again = main(["--model", str(out / "final"), "--out", str(tmp_path / "again"), "--n-train", "16", "--n-eval", "4",
                  "--max-steps", "1", "--micro_batch_size", "8", "--eval-max-new-tokens", "8", "--skip-eval-before"])
    assert again["before"] is None and again["after"]["ALL"]["n"] == 4


def test_help_names_the_module_command(capsys):
    from suites.complex_instr.train import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m suites.complex_instr.train")
