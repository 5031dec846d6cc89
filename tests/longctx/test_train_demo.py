"""The demo wired end to end in miniature (a few steps, tiny lengths): both stages, the base change and its
baseline, the grids, heatmaps and table. The accuracy targets are shown by the full demo run, not here."""

import json

import pytest
import torch
import yaml

from core.data.records import read_records
from core.model.loading import load_model, rope_base
from suites.longctx import train


def test_curriculum_lengths_rise_then_hold():
    n = 1000
    lengths = [train.curriculum_length(i, n, 112, 256, 0.5, seed=0) for i in range(n)]
    assert lengths[0] == 112 and all(112 <= x <= 256 for x in lengths)
    for i, x in enumerate(lengths[:500]):
        assert x <= 112 + (256 - 112) * (i / n) / 0.5 + 1
    assert max(lengths[:100]) < 150 and max(lengths[500:]) >= 250
    mean = sum(lengths) / n
    assert abs(mean - train.mean_curriculum_length(112, 256, 0.5)) < 4


def test_bad_option_combinations_are_rejected(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--stage1-min-len", "300", "--stage1-len", "256"])
    assert "--stage1-min-len" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.parse_args(["--rope-theta", "5e5", "--rope-scale", "4"])
    with pytest.raises(SystemExit):
        train.parse_args(["--not-an-option", "1"])


@pytest.mark.slow
def test_demo_in_miniature(tmp_path, capsys):
    out = tmp_path / "demo"
    result = train.main([
        "--out", str(out), "--stage1-min-len", "96", "--stage1-len", "128", "--stage1-steps", "3",
        "--stage2-len", "192", "--stage2-steps", "2", "--tokens-per-batch", "448", "--stage2-tokens-per-batch", "384",
        "--eval-per-cell", "1", "--eval-depths", "0,1", "--warmup-steps", "1", "--eval-max-new-tokens", "4",
        "--rope-theta", "250000",
        "--optim.weight_decay", "0.05", "--data.cache_dir", str(tmp_path / "cache"), "--progress", "false"])
    printed = capsys.readouterr().out
    assert result["steps"] == {"stage1": 3, "stage2": 2, "stage2_same_base": 2}
    labels = list(result["by_length"])
    assert labels == ["stage 1: base 10,000, 128 tok", "stage 2: base 250,000, +192 tok", "stage 2, base kept 10,000"]
    assert all(list(v) == [128, 256, 512] for v in result["by_length"].values())
    assert "critical dimension d_extra" in printed and "stage 1 at 128 tokens" in printed
    for label in labels:
        assert label in printed
    for name in ("niah.png", "niah.csv", "niah.json", "results.json", "niah_stage1.png", "niah_stage2.png"):
        assert (out / name).exists(), name
    assert json.loads((out / "results.json").read_text())["rope_base"] == {"before": 10000.0, "stage2": 250000.0}

    # stage 2 trained with the raised base and kept it; the baseline kept the old one
    raised, kept = load_model(str(out / "stage2" / "final")), load_model(str(out / "stage2_same_base" / "final"))
    assert rope_base(raised) == 250000.0 and rope_base(kept) == 10000.0
    d = raised.config.hidden_size // raised.config.num_attention_heads
    expected = 1.0 / 250000.0 ** (torch.arange(0, d, 2).float() / d)
    assert torch.allclose(raised.model.rotary_emb.inv_freq, expected, rtol=1e-6, atol=0)

    # both stages train on every token, read the file in order, and took the dotted override
    for stage in ("stage1", "stage2"):
        cfg = yaml.safe_load((out / stage / "config.yaml").read_text())
        assert cfg["data"]["mask"] == "prompt" and cfg["data"]["shuffle"] is False
        assert cfg["optim"]["weight_decay"] == 0.05 and cfg["engine"]["sp_size"] == 1
    assert yaml.safe_load((out / "stage2" / "config.yaml").read_text())["model"]["path"] == str(out / "stage1" / "final")
    # the demo keeps its own passkey variant (one-token words in the classic prompt), whatever eval defaults to
    for name in ("stage1", "stage2", "eval"):
        assert {r["meta"]["match"] for r in read_records(out / "data" / f"{name}.jsonl")} == {"exact"}
    stage1 = read_records(out / "data" / "stage1.jsonl")
    assert stage1[0]["meta"]["length"] == 96 and max(r["meta"]["length"] for r in stage1) <= 128
    assert {r["meta"]["length"] for r in read_records(out / "data" / "stage2.jsonl")} == {192}
