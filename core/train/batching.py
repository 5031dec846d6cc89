"""One optimizer step's samples -> packed rows -> (data-parallel rank, micro-step) slots -> micro-batches.

Every rank computes the same plan from the same samples, so the loss denominators of the whole global
batch (trained tokens, samples) are known locally without communication. A micro-batch is one flat
token sequence (all rows of its slot concatenated, boundaries in ``cu_seq_lens``): the packed attention
needs no padding. With sequence parallelism the sequence is padded to a multiple of the SP size and each
SP rank takes its contiguous slice.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import torch

from core.data.chat import IGNORE_INDEX, RenderedSample
from core.data.packing import PackedRow, PackReport, fit_length, pack_samples, shift_labels
from core.model.attention import packing_kwargs
from core.train.loss import loss_weights, token_losses


@dataclass
class StepPlan:
    slots: list[list[list[PackedRow]]]  # [dp_rank][micro_step] -> rows
    samples: list[RenderedSample]  # the step's samples; PackedRow.samples index into this
    sample_trained: list[int]  # trained targets per sample (after truncation)
    global_tokens: int
    global_samples: int
    report: PackReport


def plan_step(samples: list[RenderedSample], max_len: int, packing: bool, truncation: str,
              dp_size: int, accumulation: int) -> StepPlan:
    if packing:
        rows, report = pack_samples(samples, max_len, truncation)
    else:
        report = PackReport(samples_in=len(samples))
        rows = []
        for i, s in enumerate(samples):
            fitted = fit_length(s, max_len, truncation, report)
            if fitted is not None:
                rows.append(PackedRow(fitted.input_ids, shift_labels(fitted.labels), list(range(len(fitted))),
                                      [len(fitted)], [i]))
        report.rows, report.tokens = len(rows), sum(len(r) for r in rows)
        report.capacity = report.rows * max_len
    trained = [0] * len(samples)
    for row in rows:
        off = 0
        for index, length in zip(row.samples, row.seq_lens):
            trained[index] = sum(t != IGNORE_INDEX for t in row.targets[off : off + length])
            off += length
    # Longest-processing-time-first: each row goes to the slot with the fewest tokens so far.
    n_slots = dp_size * accumulation
    slots: list[list[PackedRow]] = [[] for _ in range(n_slots)]
    heap = [(0, k) for k in range(n_slots)]
    if packing:
        order = sorted(range(len(rows)), key=lambda r: -len(rows[r]))
    else:  # unpacked: keep the data order, so shapes (micro x accumulation x dp) slice the batch alike
        order = list(range(len(rows)))
        per = -(-len(rows) // n_slots) if rows else 1
        for r in order:
            slots[min(r // per, n_slots - 1)].append(rows[r])
        order = []
    for r in order:
        tokens, k = heapq.heappop(heap)
        slots[k].append(rows[r])
        heapq.heappush(heap, (tokens + len(rows[r]), k))
    grid = [[slots[rank * accumulation + m] for m in range(accumulation)] for rank in range(dp_size)]
    return StepPlan(grid, samples, trained, sum(trained), sum(1 for t in trained if t), report)


@dataclass
class MicroBatch:
    input_ids: torch.Tensor  # [1, T_local]
    position_ids: torch.Tensor  # [1, T_local]
    targets: torch.Tensor  # [T_local]
    weights: torch.Tensor  # [T_local] loss weights with global denominators
    channels: torch.Tensor  # [T_local] task_type index of each token
    trained: torch.Tensor  # [T_local] bool
    attention_kwargs: dict
    sample_ids: list[str]
    tokens: int  # tokens of the whole (unsplit) micro-batch


def build_micro_batch(rows: list[PackedRow], plan: StepPlan, channel_index: dict[str, int], reduction: str,
                      pad_id: int, sp_rank: int = 0, sp_size: int = 1, device: str | torch.device = "cpu") -> MicroBatch:
    """Concatenate a slot's rows into one flat sequence and compute per-token weights. An empty slot (more
    slots than rows) becomes one padding token with weight 0, so every rank still runs forward/backward."""
    ids, targets, positions, seq_lens, token_sample = [], [], [], [], []
    for row in rows:
        ids += row.input_ids
        targets += row.targets
        positions += row.position_ids
        seq_lens += row.seq_lens
        for index, length in zip(row.samples, row.seq_lens):
            token_sample += [index] * length
    tokens = len(ids)
    padding = (-len(ids)) % sp_size or (0 if ids else sp_size)
    if padding:  # a separate dummy sequence that nothing attends to and nothing is trained on
        ids += [pad_id] * padding
        targets += [IGNORE_INDEX] * padding
        positions += list(range(padding))
        seq_lens.append(padding)
        token_sample += [0] * padding
    targets_t = torch.tensor(targets)
    trained = targets_t != IGNORE_INDEX
    sample_t = torch.tensor(token_sample)
    weights = loss_weights(sample_t, trained, torch.tensor(plan.sample_trained or [0]), reduction,
                           plan.global_tokens, plan.global_samples)
    channels = torch.tensor([channel_index[plan.samples[i].task_type] for i in token_sample]) if plan.samples \
        else torch.zeros(len(ids), dtype=torch.long)
    kwargs = packing_kwargs(seq_lens, device)
    local = slice(sp_rank * len(ids) // sp_size, (sp_rank + 1) * len(ids) // sp_size)
    sample_ids = [plan.samples[i].sample_id for row in rows for i in row.samples]
    return MicroBatch(
        input_ids=torch.tensor([ids[local]], device=device),
        position_ids=torch.tensor([positions[local]], device=device),
        targets=targets_t[local].to(device),
        weights=weights[local].to(device),
        channels=channels[local].to(device),
        trained=trained[local].to(device),
        attention_kwargs=kwargs,
        sample_ids=sample_ids,
        tokens=tokens,
    )


def forward_token_losses(model, batch: MicroBatch, chunk_size: int, only_trained: bool = True) -> torch.Tensor:
    """Per-token losses [T_local] of a micro-batch: decoder -> output projection and cross-entropy over the
    positions with a target only, in chunks (core.train.loss.token_losses; logits never exist for the whole
    sequence, nor for any prompt token). Under sequence parallelism each rank scores the targets of its own
    slice: labels were shifted before the row was split, so nothing crosses ranks."""
    hidden = model.get_decoder()(
        input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False, **batch.attention_kwargs
    ).last_hidden_state
    return token_losses(hidden[0], batch.targets, model.get_output_embeddings(), chunk_size, only_trained)
