import random

import pytest
import torch
import torch.nn.functional as F

from core.data.chat import IGNORE_INDEX, RenderedSample, render_record
from core.data.packing import best_fit_decreasing, pack_samples, shift_labels
from core.model.attention import enable_packed_attention, packing_kwargs
from core.model.loading import load_model
from core.train.loss import token_losses


def naive_best_fit_decreasing(lengths, capacity):
    bins, remaining = [], []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        fits = [b for b, r in enumerate(remaining) if r >= lengths[i]]
        if not fits:
            bins.append([i])
            remaining.append(capacity - lengths[i])
        else:
            best = min(fits, key=lambda b: remaining[b])
            bins[best].append(i)
            remaining[best] -= lengths[i]
    return bins


def test_best_fit_decreasing_matches_naive_reference():
    rng = random.Random(0)
    for _ in range(300):
        capacity = rng.choice([7, 64, 1000])
        lengths = [rng.randint(1, capacity) for _ in range(rng.randint(1, 80))]
        bins = best_fit_decreasing(lengths, capacity)
        reference = naive_best_fit_decreasing(lengths, capacity)
        assert len(bins) == len(reference)
        assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
        assert all(sum(lengths[i] for i in b) <= capacity for b in bins)
        # Best fit with the same tie-breaks on capacity gives the same multiset of bin loads.
        assert sorted(sum(lengths[i] for i in b) for b in bins) == sorted(sum(lengths[i] for i in b) for b in reference)


def fake(n_tokens, trained_from, task="t/a", sid=""):
    ids = list(range(3, 3 + n_tokens))
    return RenderedSample(ids, [IGNORE_INDEX] * trained_from + ids[trained_from:], task, sid)


def test_rows_keep_positions_sequence_lengths_and_shifted_targets():
    samples = [fake(5, 2), fake(3, 1), fake(4, 0)]
    rows, report = pack_samples(samples, 8)
    assert report.rows == 2 and report.tokens == 12 and report.fill_rate == 12 / 16
    by_sample = {}
    for row in rows:
        assert len(row) <= 8 and sum(row.seq_lens) == len(row)
        off = 0
        for index, length in zip(row.samples, row.seq_lens):
            assert row.position_ids[off : off + length] == list(range(length))
            by_sample[index] = row.targets[off : off + length]
            off += length
    for i, s in enumerate(samples):
        assert by_sample[i] == shift_labels(s.labels)
        assert by_sample[i][-1] == IGNORE_INDEX  # never predicts the next sample's first token


def test_over_length_samples_are_truncated_or_dropped_and_counted():
    samples = [fake(10, 2), fake(10, 9), fake(4, 1)]
    rows, report = pack_samples(samples, 6, policy="truncate")
    assert report.truncated == 1 and dict(report.dropped) == {"no_trained_token_after_truncation": 1}
    assert sorted(i for r in rows for i in r.samples) == [0, 2]
    rows, report = pack_samples(samples, 6, policy="drop")
    assert report.truncated == 0 and dict(report.dropped) == {"longer_than_max_len": 2}
    assert "dropped 2 (longer_than_max_len: 2)" in report.format()
    with pytest.raises(ValueError, match="truncation policy"):
        pack_samples(samples, 6, policy="wrap")


def test_packed_rows_give_the_same_per_sample_losses_as_one_by_one(tiny_tokenizer):
    rng = random.Random(1)
    records = []
    for _ in range(12):
        user = " ".join(rng.choice(["alpha", "beta", "数据", "gamma", "7", "delta"]) for _ in range(rng.randint(1, 40)))
        answer = " ".join(rng.choice(["yes", "no", "训练", "maybe", "42"]) for _ in range(rng.randint(1, 30)))
        records.append({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
                        "task_type": "test/pack"})
    samples = [render_record(r, tiny_tokenizer) for r in records]
    model = load_model("tiny", seed=3).eval()
    with torch.no_grad():
        reference = []
        for s in samples:
            logits = model(torch.tensor([s.input_ids])).logits[0]
            reference.append(F.cross_entropy(logits, torch.tensor(shift_labels(s.labels)), reduction="none"))
        rows, report = pack_samples(samples, 256)
        assert report.rows < len(samples)  # really packed several per row
        enable_packed_attention(model)
        seen = 0
        for row in rows:
            hidden = model.model(input_ids=torch.tensor([row.input_ids]), position_ids=torch.tensor([row.position_ids]),
                                 **packing_kwargs(row.seq_lens)).last_hidden_state[0]
            losses = token_losses(hidden, torch.tensor(row.targets), model.lm_head, chunk_size=32)
            off = 0
            for index, length in zip(row.samples, row.seq_lens):
                assert torch.allclose(losses[off : off + length], reference[index], atol=1e-5, rtol=0)
                off += length
                seen += 1
    assert seen == len(samples)


def test_cross_sample_attention_would_change_the_loss(tiny_tokenizer):
    """Guard for the test above: without sequence boundaries the same row gives different losses."""
    samples = [render_record({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
                              "task_type": "t/x"}, tiny_tokenizer) for i in range(3)]
    rows, _ = pack_samples(samples, 512)
    model = load_model("tiny", seed=3).eval()
    enable_packed_attention(model)
    row = rows[0]
    with torch.no_grad():
        args = dict(input_ids=torch.tensor([row.input_ids]), position_ids=torch.tensor([row.position_ids]))
        packed = model.model(**args, **packing_kwargs(row.seq_lens)).last_hidden_state
        leaky = model.model(**args, **packing_kwargs([len(row)])).last_hidden_state
    assert (packed - leaky).abs().max() > 1e-3


def test_flash_kernel_only_for_half_precision_cuda_tensors_and_fp32_falls_back_once(monkeypatch, capsys):
    from types import SimpleNamespace

    from core.model import kernels

    def fake(device: str, dtype: torch.dtype):  # the predicate reads only .device.type and .dtype
        return SimpleNamespace(device=SimpleNamespace(type=device), dtype=dtype)

    monkeypatch.setattr(kernels, "_warned_fp32", False)
    assert kernels.flash_kernel_applies(fake("cuda", torch.bfloat16), True)
    assert kernels.flash_kernel_applies(fake("cuda", torch.float16), True)
    assert not kernels.flash_kernel_applies(fake("cuda", torch.bfloat16), False)
    assert not kernels.flash_kernel_applies(fake("cpu", torch.bfloat16), True)
    assert not kernels.flash_kernel_applies(fake("cuda", torch.float32), True)
    assert not kernels.flash_kernel_applies(fake("cuda", torch.float32), True)
    assert capsys.readouterr().out.count("flash-attn takes fp16/bf16 only") == 1


def test_an_installed_kernel_is_not_called_on_cpu(monkeypatch, tiny_tokenizer):
    from core.model import attention
    def refuse(*args, **kwargs):
        raise AssertionError("the flash kernel must not run on a CPU tensor")

    monkeypatch.setattr(attention, "flash_attn_varlen_func", refuse)
    model = load_model("tiny", seed=0)
    enable_packed_attention(model)
    ids = torch.randint(0, 100, (1, 12))
    out = model(input_ids=ids, position_ids=torch.tensor([list(range(5)) + list(range(7))]), **packing_kwargs([5, 7]))
    assert torch.isfinite(out.logits).all()
