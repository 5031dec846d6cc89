"""This project's packing, loss reductions and channel loss for `transformers.Trainer` and TRL's
`SFTTrainer`, without subclassing either:

    records -> render_dataset(records, tokenizer)                      # core.data.chat masks, once
    model   -> prepare_model(model)                                    # packed attention + loss inputs
    Trainer(model, args, train_dataset=dataset,
            data_collator=PackedCollator(channels=task_types),         # core.data.packing, no padding
            compute_loss_func=PackedLoss("sample", samples_per_step(args), task_types),
            callbacks=[ChannelLossCallback(loss)])                     # loss/<task_type> in the logs

Each batch is one flat sequence (batch dimension 1) with per-sample position ids and `cu_seq_lens`, so
core.model.attention's packed attention never lets samples attend to each other and no token is padding.
`PackedCollator(trained_logits_only=True)` also passes `logits_to_keep` (the positions whose next token is
trained), so the model's output projection runs only there, as in core.train (compute_metrics then sees those
logits only). `labels` follow the transformers convention (not shifted; -100 at the first token of every packed
sample), so Trainer and TRL count trained tokens and compute their metrics as usual.

Reductions, exact over a whole optimizer step (all accumulation micro-batches and ranks):
  token   mean over trained tokens; the denominator is the Trainer's `num_items_in_batch`.
  sample  mean within each sample, then over samples; the denominator is `samples_per_step` (per-device
          batch x accumulation x world), exact whenever every optimizer step sees that many samples
          (the last step of an epoch may see fewer: use dataloader_drop_last and a dataset whose batch
          count is a multiple of gradient_accumulation_steps for strict equality).
Trainer must keep the `task_type` column for channel losses: TrainingArguments(remove_unused_columns=False).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from transformers import TrainerCallback

from core.data.chat import IGNORE_INDEX, RenderedSample, render_samples
from core.data.packing import PackReport, pack_samples
from core.model.attention import enable_packed_attention, packing_kwargs
from core.train.loss import REDUCTIONS, channel_sums, loss_weights, weighted_loss
from core.train.metrics import channel_losses

LOSS_INPUTS = ("sample_index", "channel_index")


def render_dataset(records: Sequence[dict], tokenizer, mask: str = "all", name: str = "records"):
    """A `datasets.Dataset` with input_ids, labels (core.data.chat masks, unshifted) and task_type: one row
    per training sample, so a record of a template that rewrites history (one sample per trained turn,
    core.data.chat.render_samples) gives several rows, as core.train trains it."""
    import datasets

    rows = {"input_ids": [], "labels": [], "task_type": []}
    for i, record in enumerate(records):
        for sample in render_samples(record, tokenizer, mask=mask, sample_id=f"{name}[{i}]"):
            rows["input_ids"].append(sample.input_ids)
            rows["labels"].append(sample.labels)
            rows["task_type"].append(sample.task_type)
    return datasets.Dataset.from_dict(rows)


class PackedCollator:
    """Packs a batch of rendered samples into one flat sequence (best-fit-decreasing rows of at most
    `max_len` tokens, concatenated; None = no limit). `channels` lists the task_types whose loss is
    tracked; `report` accumulates what packing truncated or dropped."""

    def __init__(self, channels: Sequence[str] = (), max_len: int | None = None, truncation: str = "truncate",
                 trained_logits_only: bool = False):
        self.trained_logits_only = trained_logits_only
        self.channels = list(channels)
        self.channel_of = {name: i for i, name in enumerate(self.channels)}
        self.max_len, self.truncation = max_len, truncation
        self.report = PackReport()

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if self.channels and any("task_type" not in f for f in features):
            raise ValueError("channel loss needs the task_type column: pass TrainingArguments(remove_unused_columns=False)")
        samples = [RenderedSample(list(f["input_ids"]), list(f["labels"]), f.get("task_type", ""), str(i))
                   for i, f in enumerate(features)]
        for sample in samples:
            if self.channels and sample.task_type not in self.channel_of:
                raise ValueError(f"task_type {sample.task_type!r} is not among the collator's channels {self.channels}")
        rows, report = pack_samples(samples, self.max_len or max(1, sum(len(s) for s in samples)), self.truncation)
        self.report.merge(report)
        ids, labels, positions, seq_lens, sample_index = [], [], [], [], []
        for row in rows:
            offset = 0
            for index, length in zip(row.samples, row.seq_lens):
                targets = row.targets[offset : offset + length]  # shifted within the sample by core.data.packing
                ids += row.input_ids[offset : offset + length]
                labels += [IGNORE_INDEX, *targets[:-1]]  # unshifted again; the sample's first token predicts nothing
                positions += row.position_ids[offset : offset + length]
                seq_lens.append(length)
                sample_index += [index] * length
                offset += length
        batch = {"input_ids": torch.tensor([ids]), "position_ids": torch.tensor([positions]),
                 "labels": torch.tensor([labels]), "sample_index": torch.tensor([sample_index]),
                 **packing_kwargs(seq_lens)}
        if self.channels:
            batch["channel_index"] = torch.tensor([[self.channel_of[samples[i].task_type] for i in sample_index]])
        if self.trained_logits_only:  # the model projects only positions whose next token is trained
            batch["logits_to_keep"] = trained_positions(batch["labels"][0])
        return batch


def trained_positions(labels: torch.Tensor) -> torch.Tensor:
    """Positions whose next token is trained (at least one, so the output projection stays in the graph)."""
    keep = (labels[1:] != IGNORE_INDEX).nonzero().squeeze(1)
    return keep if keep.numel() else torch.zeros(1, dtype=torch.long, device=labels.device)


def prepare_model(model):
    """Switch to core's packed attention and route the collator's `sample_index` / `channel_index` past the
    model's forward into its output, where the loss function reads them. Returns the model."""
    enable_packed_attention(model)
    model.config.use_cache = False
    if getattr(model, "_sft_loss_inputs_routed", False):
        return model
    model._sft_loss_inputs_routed = True
    pending: list[dict] = []

    def take(module, args, kwargs):
        pending.append({k: kwargs.pop(k) for k in LOSS_INPUTS if k in kwargs})
        return args, kwargs

    def give(module, args, kwargs, output):
        extra = pending.pop()
        if extra and not hasattr(output, "keys"):
            raise TypeError("prepare_model needs the model to return a ModelOutput (return_dict=True)")
        for key, value in extra.items():
            output[key] = value
        return output

    model.register_forward_pre_hook(take, with_kwargs=True)
    model.register_forward_hook(give, with_kwargs=True)
    return model


def samples_per_step(args) -> int:
    """Samples in one optimizer step as the sample reduction counts them for `TrainingArguments` `args`:
    per-device batch x accumulation, x world size when the Trainer averages over devices."""
    world = args.world_size if getattr(args, "average_tokens_across_devices", False) else 1
    return args.per_device_train_batch_size * args.gradient_accumulation_steps * world


class PackedLoss:
    """`compute_loss_func(outputs, labels, num_items_in_batch)` for Trainer / SFTTrainer. Also sums the
    loss per channel (task_type) for ChannelLossCallback; evaluation (no grad) reduces within the batch."""

    def __init__(self, reduction: str = "token", samples_per_step: int | None = None, channels: Sequence[str] = ()):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction, self.samples_per_step, self.channels = reduction, samples_per_step, list(channels)
        self.sums = {m: torch.zeros(len(self.channels), dtype=torch.float64) for m in ("train", "eval")}
        self.counts = {m: torch.zeros(len(self.channels), dtype=torch.float64) for m in ("train", "eval")}

    def __call__(self, outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        if labels is None:
            raise ValueError("PackedLoss needs labels (PackedCollator provides them)")
        logits = outputs["logits"]
        if logits.shape[0] != 1:
            raise ValueError("PackedLoss expects one packed sequence per batch (use PackedCollator)")
        targets = labels[0, 1:]
        if logits.shape[1] == labels.shape[1]:
            losses = F.cross_entropy(logits[0, :-1].float(), targets, ignore_index=IGNORE_INDEX, reduction="none")
        else:  # PackedCollator(trained_logits_only=True): logits of the trained positions only
            keep = trained_positions(labels[0])
            if logits.shape[1] != keep.numel():
                raise ValueError(f"{logits.shape[1]} logits for {keep.numel()} trained positions: pass the collator's "
                                 "logits_to_keep to the model")
            picked = F.cross_entropy(logits[0].float(), targets[keep], ignore_index=IGNORE_INDEX, reduction="none")
            losses = picked.new_zeros(targets.shape[0]).index_copy(0, keep, picked)
        trained = targets != IGNORE_INDEX
        training = torch.is_grad_enabled()
        if self.reduction == "token":
            denominator = num_items_in_batch if num_items_in_batch is not None and training else trained.sum()
            loss = losses.sum() / torch.as_tensor(denominator, device=losses.device).clamp(min=1)
        else:
            sample_index = self._loss_input(outputs, "sample_index")[0, :-1]
            per_sample = torch.zeros(int(sample_index.max()) + 1, dtype=torch.long, device=losses.device)
            per_sample.index_add_(0, sample_index, trained.long())
            samples = self.samples_per_step if self.samples_per_step and training else int((per_sample > 0).sum())
            loss = weighted_loss(losses, loss_weights(sample_index, trained, per_sample, "sample", 0, samples))
        if self.channels:
            channel = self._loss_input(outputs, "channel_index")[0, :-1]
            sums, counts = channel_sums(losses, trained, channel, len(self.channels))
            mode = "train" if training else "eval"
            self.sums[mode] += sums.cpu()
            self.counts[mode] += counts.cpu()
        return loss

    @staticmethod
    def _loss_input(outputs, key: str) -> torch.Tensor:
        if key not in outputs:
            raise ValueError(f"the model output has no {key!r}: call core.curate.hf_integration.prepare_model(model) "
                             "before training, and use PackedCollator")
        return outputs[key]

    def take_channel_losses(self, mode: str) -> dict[str, float]:
        """Token-mean loss per task_type (and per first level) since the last call; summed over ranks."""
        sums, counts = self.sums[mode].clone(), self.counts[mode].clone()
        if dist.is_available() and dist.is_initialized():
            both = torch.stack([sums, counts])
            if dist.get_backend() == "nccl":
                both = both.cuda()
            dist.all_reduce(both)
            sums, counts = both[0].cpu(), both[1].cpu()
        self.sums[mode].zero_()
        self.counts[mode].zero_()
        return channel_losses(sums, counts, self.channels, prefix="loss" if mode == "train" else "eval_loss")


class ChannelLossCallback(TrainerCallback):
    """Adds `loss/<task_type>` to training logs and `eval_loss/<task_type>` to evaluation logs."""

    def __init__(self, loss: PackedLoss):
        self.loss = loss

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or not self.loss.channels:
            return
        values = {}
        if "loss" in logs:
            values.update(self.loss.take_channel_losses("train"))
        if "eval_loss" in logs:
            values.update(self.loss.take_channel_losses("eval"))
        logs.update(values)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:  # appended before on_log
            state.log_history[-1].update(values)
