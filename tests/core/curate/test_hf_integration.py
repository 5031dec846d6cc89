"""The packing collator and loss for transformers.Trainer / TRL: batches match core.data.packing, packed samples
do not attend to each other, the loss equals core's reference for the same global batch (token and sample
mean, across gradient-accumulation micro-batches), and the runnable example trains with Trainer and with
SFTTrainer giving core's step-1 loss and channel losses."""

import os
import runpy

import pytest
import torch

from core.curate.hf_integration import PackedCollator, PackedLoss, prepare_model, render_dataset
from core.data.chat import IGNORE_INDEX, render_record
from core.data.packing import pack_samples
from core.model.attention import enable_packed_attention
from core.model.loading import load_model
from core.train.batching import build_micro_batch, forward_token_losses, plan_step
from core.train.loss import channel_sums, weighted_loss

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "train_with_hf_trainer.py")


@pytest.fixture(scope="module")
def example():
    return runpy.run_path(EXAMPLE)


@pytest.fixture(scope="module")
def records(example):
    return example["demo_records"](8)


def core_reference(records, tokenizer, reduction, accumulation=2):
    """Loss and per-task_type loss of one global batch with core's own step planner and loss weights."""
    samples = [render_record(r, tokenizer, sample_id=str(i)) for i, r in enumerate(records)]
    channels = sorted({s.task_type for s in samples})
    model = load_model("tiny", seed=0)
    enable_packed_attention(model)
    plan = plan_step(samples, 4096, True, "truncate", 1, accumulation)
    total, sums, counts = 0.0, torch.zeros(len(channels), dtype=torch.float64), torch.zeros(len(channels), dtype=torch.float64)
    with torch.no_grad():
        for rows in plan.slots[0]:
            batch = build_micro_batch(rows, plan, {c: i for i, c in enumerate(channels)}, reduction, tokenizer.pad_token_id)
            losses = forward_token_losses(model, batch, 2048)
            total += float(weighted_loss(losses, batch.weights))
            s, c = channel_sums(losses, batch.trained, batch.channels, len(channels))
            sums += s
            counts += c
    return total, dict(zip(channels, (sums / counts).tolist()))


def test_collator_matches_core_packing(records, tiny_tokenizer):
    dataset = render_dataset(records, tiny_tokenizer)
    features = [dataset[i] for i in range(len(dataset))]
    batch = PackedCollator(channels=sorted(set(dataset["task_type"])), max_len=128)(features)
    samples = [render_record(r, tiny_tokenizer) for r in records]
    rows, _ = pack_samples(samples, 128)
    assert batch["input_ids"][0].tolist() == [t for row in rows for t in row.input_ids]
    shifted = batch["labels"][0, 1:].tolist() + [IGNORE_INDEX]  # what transformers' causal-LM shift predicts
    assert shifted == [t for row in rows for t in row.targets]
    seq_lens = [n for row in rows for n in row.seq_lens]
    assert batch["cu_seq_lens_q"].tolist() == [sum(seq_lens[:k]) for k in range(len(seq_lens) + 1)]
    assert batch["position_ids"][0].tolist() == [p for n in seq_lens for p in range(n)]
    order = [i for row in rows for i in row.samples]
    assert batch["sample_index"][0].tolist() == [i for i, n in zip(order, seq_lens) for _ in range(n)]
    channel = {"demo/add": 0, "demo/echo": 1, "demo/parity": 2}
    assert batch["channel_index"][0].tolist() == [channel[records[i]["task_type"]] for i, n in zip(order, seq_lens)
                                                  for _ in range(n)]


def test_packed_batch_has_no_cross_sample_attention(records, tiny_tokenizer):
    dataset = render_dataset(records[:4], tiny_tokenizer)
    batch = PackedCollator()([dataset[i] for i in range(4)])
    model = prepare_model(load_model("tiny", seed=1))
    with torch.no_grad():
        packed = model(**batch).logits[0]
        alone = load_model("tiny", seed=1)
        offset = 0
        for i in batch["sample_index"][0].unique_consecutive().tolist():
            ids = torch.tensor([dataset[i]["input_ids"]])
            expected = alone(input_ids=ids).logits[0]
            assert torch.allclose(packed[offset : offset + ids.shape[1]], expected, atol=1e-5)
            offset += ids.shape[1]
    assert offset == packed.shape[0]


@pytest.mark.parametrize("reduction, trained_logits_only", [("token", False), ("sample", False), ("token", True),
                                                             ("sample", True)])
def test_loss_equals_core_reference_across_accumulation(records, tiny_tokenizer, reduction, trained_logits_only):
    expected, _ = core_reference(records, tiny_tokenizer, reduction)
    dataset = render_dataset(records, tiny_tokenizer)
    channels = sorted(set(dataset["task_type"]))
    collate = PackedCollator(channels, trained_logits_only=trained_logits_only)
    micro = [collate([dataset[i] for i in idx]) for idx in ([0, 3, 5, 6], [1, 2, 4, 7])]  # unequal token counts
    num_items = sum(int((b["labels"][0, 1:] != IGNORE_INDEX).sum()) for b in micro)
    loss_fn = PackedLoss(reduction, samples_per_step=len(records), channels=channels)
    model = prepare_model(load_model("tiny", seed=0))
    total = 0.0
    for batch in micro:
        batch = dict(batch)
        labels = batch.pop("labels")
        outputs = model(**batch)
        trained = int((labels[0, 1:] != IGNORE_INDEX).sum())
        assert outputs.logits.shape[1] == (trained if trained_logits_only else labels.shape[1])
        loss = loss_fn(outputs, labels, num_items_in_batch=torch.tensor(num_items))
        loss.backward()
        total += loss.item()
    assert total == pytest.approx(expected, abs=1e-5)
    assert reduction == "token" or abs(total - core_reference(records, tiny_tokenizer, "token")[0]) > 1e-3


def test_channel_losses_equal_core(records, tiny_tokenizer):
    token_mean, expected = core_reference(records, tiny_tokenizer, "token")
    dataset = render_dataset(records, tiny_tokenizer)
    channels = sorted(set(dataset["task_type"]))
    loss_fn = PackedLoss("token", channels=channels)
    model = prepare_model(load_model("tiny", seed=0))
    for idx in ([0, 1, 2], [3, 4, 5, 6, 7]):
        batch = dict(PackedCollator(channels)([dataset[i] for i in idx]))
        labels = batch.pop("labels")
        loss_fn(model(**batch), labels).backward()
    got = loss_fn.take_channel_losses("train")
    for name, value in expected.items():
        assert got[f"loss/{name}"] == pytest.approx(value, abs=1e-5)
    assert got["loss/demo"] == pytest.approx(token_mean, abs=1e-5)  # every channel is demo/*: the token mean
    assert loss_fn.take_channel_losses("train") == {}  # taken: the sums start again


def test_clear_errors_when_wired_wrongly(records, tiny_tokenizer):
    dataset = render_dataset(records[:2], tiny_tokenizer)
    features = [{"input_ids": dataset[i]["input_ids"], "labels": dataset[i]["labels"]} for i in range(2)]
    with pytest.raises(ValueError, match="remove_unused_columns=False"):
        PackedCollator(channels=["demo/add"])(features)
    batch = dict(PackedCollator()(features))
    labels = batch.pop("labels")
    batch.pop("sample_index")
    model = load_model("tiny")
    enable_packed_attention(model)
    with pytest.raises(ValueError, match="prepare_model"):
        PackedLoss("sample", samples_per_step=2)(model(**batch), labels)


@pytest.mark.slow
@pytest.mark.parametrize("trainer, reduction", [("hf", "sample"), ("hf", "token"), ("trl", "sample")])
def test_example_trains_and_matches_core_reference(example, tmp_path, tiny_tokenizer, trainer, reduction):
    if trainer == "trl":
        pytest.importorskip("trl")
    history = example["main"](["--out", str(tmp_path), "--trainer", trainer, "--reduction", reduction,
                               "--max-steps", "6", "--batch", "4", "--grad-accum", "2"])
    records = example["demo_records"](8)
    expected, expected_channels = core_reference(records, tiny_tokenizer, reduction)
    assert [h["step"] for h in history] == list(range(1, 7))
    assert history[0]["loss"] == pytest.approx(expected, abs=1e-5)  # step 1: the whole data set, one global batch
    for name, value in expected_channels.items():
        assert history[0][f"loss/{name}"] == pytest.approx(value, abs=1e-5)
    assert history[-1]["loss"] < history[0]["loss"] - 1.0
    assert (tmp_path / "log_history.json").exists()
