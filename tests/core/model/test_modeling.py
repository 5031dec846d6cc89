import pytest
import torch

from core.model.loading import (
    add_special_tokens,
    default_inv_freq,
    load_model,
    load_tokenizer,
    rope_base,
    set_rope_base,
)


def test_tiny_loads_deterministically():
    a = load_model("tiny", seed=1)
    tok = load_tokenizer("tiny")
    b = load_model("tiny", seed=1)
    c = load_model("tiny", seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.lm_head.weight, c.lm_head.weight)
    assert 700_000 < sum(p.numel() for p in a.parameters()) < 900_000
    assert len(tok) == a.config.vocab_size == 2048 and tok.eos_token == "<|im_end|>"


@pytest.mark.parametrize("text", ["The pass key is 90210.", "检索增强生成依赖检索器的质量。", "mixed 中英 text, 2026年！"])
def test_tokenizer_round_trips_english_and_chinese(text):
    tok = load_tokenizer("tiny")
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert len(ids) < 0.75 * len(text.encode())  # merges learned, not raw bytes


def test_digits_are_single_tokens():
    tok = load_tokenizer("tiny")
    assert tok.tokenize("12345") == ["1", "2", "3", "4", "5"]


def test_set_rope_base_reaches_inv_freq_and_survives_save(tmp_path):
    model = load_model("tiny")
    inv = set_rope_base(model, 160_000)
    assert torch.allclose(inv, default_inv_freq(160_000, 32), rtol=1e-6)
    assert not torch.allclose(inv, default_inv_freq(10_000, 32))
    assert model.config.rope_parameters["rope_theta"] == 160_000
    model.save_pretrained(tmp_path)
    reloaded = load_model(str(tmp_path))
    assert rope_base(reloaded) == 160_000
    assert torch.allclose(reloaded.model.rotary_emb.inv_freq, inv)


def test_add_special_tokens_resizes_embeddings():
    model, tok = load_model("tiny"), load_tokenizer("tiny")
    assert add_special_tokens(model, tok, ["<e1>", "<e2>", "<|im_end|>"]) == 2
    assert model.get_input_embeddings().weight.shape[0] == len(tok) == 2050
    assert tok.tokenize("<e1> likes <e2>")[0] == "<e1>"


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="nothing is downloaded at run time"):
        load_model("meta-llama/Llama-3-8B")
