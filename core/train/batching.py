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

import numpy as np
import torch

from core.data.chat import IGNORE_INDEX
from core.data.packing import TRUNCATION_POLICIES, PackedRow, PackReport, best_fit_decreasing
from core.data.store import SampleView, as_view
from core.model.attention import packing_kwargs
from core.train.loss import loss_weights, token_losses


@dataclass
class RowRef:
    """A packed row by reference: which of the step's samples it holds, in row order, each cut to its length.
    Its tokens are read from the samples only when a micro-batch is built (on the rank that trains it)."""

    samples: list[int]
    seq_lens: list[int]

    def __len__(self) -> int:
        return sum(self.seq_lens)


@dataclass
class StepPlan:
    slots: list[list[list[RowRef]]]  # [dp_rank][micro_step] -> rows
    samples: SampleView  # the step's samples; RowRef.samples index into this
    sample_trained: list[int]  # trained targets per sample (after truncation)
    global_tokens: int
    global_samples: int
    report: PackReport


def _fitted_lengths(view: SampleView, max_len: int, policy: str, report: PackReport) -> tuple[list, list]:
    """fit_length on lengths alone: each sample's length after the over-length policy (None: dropped), and its
    trained targets. Only over-long samples have their labels read."""
    if policy not in TRUNCATION_POLICIES:
        raise ValueError(f"truncation policy must be one of {TRUNCATION_POLICIES}, got {policy!r}")
    lengths, trained = view.lengths.tolist(), view.trained().tolist()
    fitted: list[int | None] = []
    for i, n in enumerate(lengths):
        if n <= max_len:
            fitted.append(n)
            continue
        if policy == "drop":
            report.dropped["longer_than_max_len"] += 1
            fitted.append(None)
            continue
        trained[i] = int(np.count_nonzero(view.tokens(i)[1][1:max_len] != IGNORE_INDEX))
        if trained[i] == 0:
            report.dropped["no_trained_token_after_truncation"] += 1
            fitted.append(None)
            continue
        report.truncated += 1
        fitted.append(max_len)
    return fitted, [t if f is not None else 0 for t, f in zip(trained, fitted)]


def pack_rows(samples, max_len: int, truncation: str = "truncate") -> tuple[list[RowRef], PackReport, list[int]]:
    """core.data.packing.pack_samples planned from lengths: the same rows (best-fit-decreasing over the fitted
    lengths), as references. Also returns each sample's trained targets (0 when dropped)."""
    view = as_view(samples)
    report = PackReport(samples_in=len(view))
    fitted, trained = _fitted_lengths(view, max_len, truncation, report)
    kept = [i for i, n in enumerate(fitted) if n is not None]
    rows = [RowRef([kept[k] for k in items], [fitted[kept[k]] for k in items])
            for items in best_fit_decreasing([fitted[i] for i in kept], max_len)]
    report.rows, report.tokens, report.capacity = len(rows), sum(len(r) for r in rows), len(rows) * max_len
    return rows, report, trained


def plan_step(samples, max_len: int, packing: bool, truncation: str, dp_size: int, accumulation: int) -> StepPlan:
    """`samples`: a SampleView of the step's samples (or a list of RenderedSample). Planned from lengths."""
    view = as_view(samples)
    if packing:
        rows, report, trained = pack_rows(view, max_len, truncation)
    else:
        report = PackReport(samples_in=len(view))
        fitted, trained = _fitted_lengths(view, max_len, truncation, report)
        rows = [RowRef([i], [n]) for i, n in enumerate(fitted) if n is not None]
        report.rows, report.tokens = len(rows), sum(len(r) for r in rows)
        report.capacity = report.rows * max_len
    # Longest-processing-time-first: each row goes to the slot with the fewest tokens so far.
    n_slots = dp_size * accumulation
    slots: list[list[RowRef]] = [[] for _ in range(n_slots)]
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
    return StepPlan(grid, view, trained, sum(trained), sum(1 for t in trained if t), report)


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


def _row_arrays(row, view: SampleView) -> tuple[list, list, list, list]:
    """Pieces (input ids, shifted targets, positions, sample index) of one row, read by index."""
    ids, targets, positions, owners = [], [], [], []
    if isinstance(row, PackedRow):  # a row packed in memory (core.data.packing)
        ids.append(np.asarray(row.input_ids, dtype=np.int64))
        targets.append(np.asarray(row.targets, dtype=np.int64))
        positions.append(np.asarray(row.position_ids, dtype=np.int64))
        owners.append(np.repeat(np.asarray(row.samples, dtype=np.int64), row.seq_lens))
        return ids, targets, positions, owners
    for index, n in zip(row.samples, row.seq_lens):
        sample_ids, labels = view.tokens(index)
        shifted = np.full(n, IGNORE_INDEX, dtype=np.int64)
        shifted[:-1] = labels[1:n]  # targets[t] = labels[t + 1], within the sample
        ids.append(sample_ids[:n].astype(np.int64))
        targets.append(shifted)
        positions.append(np.arange(n, dtype=np.int64))
        owners.append(np.full(n, index, dtype=np.int64))
    return ids, targets, positions, owners


def build_micro_batch(rows: list, plan: StepPlan, channel_index: dict[str, int], reduction: str,
                      pad_id: int, sp_rank: int = 0, sp_size: int = 1, device: str | torch.device = "cpu") -> MicroBatch:
    """Concatenate a slot's rows into one flat sequence and compute per-token weights. An empty slot (more
    slots than rows) becomes one padding token with weight 0, so every rank still runs forward/backward."""
    view = as_view(plan.samples)
    pieces: list[list] = [[], [], [], []]
    seq_lens: list[int] = []
    for row in rows:
        for store, part in zip(pieces, _row_arrays(row, view)):
            store += part
        seq_lens += row.seq_lens
    tokens = sum(len(p) for p in pieces[0])
    padding = (-tokens) % sp_size or (0 if tokens else sp_size)
    if padding:  # a separate dummy sequence that nothing attends to and nothing is trained on
        for store, value in zip(pieces, (pad_id, IGNORE_INDEX, None, 0)):
            store.append(np.arange(padding, dtype=np.int64) if value is None else np.full(padding, value, dtype=np.int64))
        seq_lens.append(padding)
    ids, targets, positions, token_sample = (torch.from_numpy(np.concatenate(p)) for p in pieces)
    trained = targets != IGNORE_INDEX
    weights = loss_weights(token_sample, trained, torch.tensor(plan.sample_trained or [0]), reduction,
                           plan.global_tokens, plan.global_samples)
    if len(view):
        used = sorted({0, *(i for row in rows for i in row.samples)})  # 0: what padding tokens point at
        names = view.select(used).task_types()
        per_sample = np.zeros(len(view), dtype=np.int64)
        per_sample[used] = [channel_index[name] for name in names]
        channels = torch.from_numpy(per_sample[token_sample.numpy()])
    else:
        channels = torch.zeros(len(ids), dtype=torch.long)
    kwargs = packing_kwargs(seq_lens, device)
    local = slice(sp_rank * len(ids) // sp_size, (sp_rank + 1) * len(ids) // sp_size)
    sample_ids = [view.sample_id(i) for row in rows for i in row.samples]
    return MicroBatch(
        input_ids=ids[local].unsqueeze(0).to(device),
        position_ids=positions[local].unsqueeze(0).to(device),
        targets=targets[local].to(device),
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
