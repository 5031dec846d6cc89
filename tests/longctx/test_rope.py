"""RoPE base: the NTK formula, inv_freq after --rope-theta, kept by a saved and reloaded model, and Liu et
al.'s numbers for Llama 2 (d_extra = 92, critical base 2608, ~129K tokens for base 1e6)."""

import math

import pytest
import torch

from core.model.loading import load_model, rope_base
from suites.longctx import rope


def test_ntk_base_formula():
    assert rope.ntk_base(10000, 4, 128) == pytest.approx(10000 * 4 ** (128 / 126))
    assert rope.resolve_theta(10000, 32, rope_scale=16) == pytest.approx(10000 * 16 ** (32 / 30))
    assert rope.resolve_theta(10000, 32, rope_theta=160000) == 160000
    assert rope.resolve_theta(10000, 32) == 10000
    with pytest.raises(ValueError, match="choose one"):
        rope.resolve_theta(10000, 32, rope_theta=5e5, rope_scale=4)


def test_rope_theta_reaches_inv_freq_and_survives_save_and_reload(tmp_path):
    model = load_model("tiny")
    rope.rope_prepare(160000.0)(model, None, None)
    d = rope.head_dim(model.config)
    expected = 1.0 / 160000.0 ** (torch.arange(0, d, 2).float() / d)
    for module in [m for m in model.modules() if hasattr(m, "inv_freq")]:
        assert torch.allclose(module.inv_freq, expected, rtol=1e-6, atol=0)
    assert model.config.rope_parameters["rope_theta"] == 160000.0
    model.save_pretrained(tmp_path / "m")
    reloaded = load_model(str(tmp_path / "m"))
    assert rope_base(reloaded) == 160000.0
    inv = [m.inv_freq for m in reloaded.modules() if hasattr(m, "inv_freq")]
    assert inv and all(torch.allclose(i, expected, rtol=1e-6, atol=0) for i in inv)
    ids = torch.tensor([[5, 6, 7, 8]])
    assert torch.allclose(model(input_ids=ids).logits, reloaded(input_ids=ids).logits, atol=1e-6)


def test_liu_et_al_numbers_for_llama2():
    e = rope.extrapolation(128, 4096)
    assert e.critical_dimension == 92
    assert round(e.critical_base) == 2608  # 2 * 4096 / pi
    assert e.limit(10000) == pytest.approx(2 * math.pi * 10000 ** (92 / 128))
    assert 125_000 < e.limit(1e6) < 135_000
    assert e.limit(e.base_for(131072)) == pytest.approx(131072)


def test_rope_cli_prints_the_estimates(capsys):
    text = rope.main(["--train-length", "256", "--base", "160000", "--target", "1024"])
    assert "critical dimension d_extra = 14 of 32" in text
    assert "with base 160,000: 1,188 tokens" in text
    assert text == capsys.readouterr().out.strip()
