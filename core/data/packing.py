"""Best-fit-decreasing packing of rendered samples into rows of at most `max_len` tokens.

Each row keeps per-sample position ids (restarting at 0) and sequence lengths, so attention can stay
inside each sample, and labels are shifted *within* each sample before concatenation, so no sample
ever predicts the first token of its neighbour.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.data.chat import IGNORE_INDEX, RenderedSample

TRUNCATION_POLICIES = ("truncate", "drop")


def shift_labels(labels: Sequence[int]) -> list[int]:
    """targets[t] = labels[t + 1]; the last token of a sample predicts nothing."""
    return [*labels[1:], IGNORE_INDEX]


@dataclass
class PackedRow:
    input_ids: list[int]
    targets: list[int]  # already shifted within each sample
    position_ids: list[int]
    seq_lens: list[int]
    samples: list[int]  # index of each sample (in the packer's input) in row order

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class PackReport:
    samples_in: int = 0
    rows: int = 0
    tokens: int = 0
    capacity: int = 0
    truncated: int = 0
    dropped: Counter = field(default_factory=Counter)

    @property
    def fill_rate(self) -> float:
        return self.tokens / self.capacity if self.capacity else 0.0

    def merge(self, other: PackReport) -> None:
        self.samples_in += other.samples_in
        self.rows += other.rows
        self.tokens += other.tokens
        self.capacity += other.capacity
        self.truncated += other.truncated
        self.dropped.update(other.dropped)

    def format(self) -> str:
        dropped = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items())) or "none"
        return (f"packed {self.samples_in} samples into {self.rows} rows, fill rate {self.fill_rate:.2%}; "
                f"truncated {self.truncated}; dropped {sum(self.dropped.values())} ({dropped})")


class _CapacityIndex:
    """Open bins bucketed by remaining capacity, with a segment tree of bucket counts, so the best fit
    (smallest remaining capacity >= need) is found in O(log max_len)."""

    def __init__(self, max_capacity: int):
        self.size = 1 << max_capacity.bit_length()
        self.count = [0] * (2 * self.size)
        self.buckets: list[list[int]] = [[] for _ in range(self.size)]

    def _update(self, capacity: int, delta: int) -> None:
        node = capacity + self.size
        while node:
            self.count[node] += delta
            node >>= 1

    def add(self, capacity: int, bin_id: int) -> None:
        self.buckets[capacity].append(bin_id)
        self._update(capacity, 1)

    def pop_best_fit(self, need: int) -> tuple[int, int] | None:
        """Remove and return (capacity, bin) with the smallest capacity >= need, or None."""
        node = need + self.size
        if not self.count[node]:
            # Climb until a right sibling holds a bucket (every leaf there is > need), then take its leftmost.
            while node > 1 and not (node % 2 == 0 and self.count[node + 1]):
                node //= 2
            if node == 1:
                return None
            node += 1
            while node < self.size:
                node = 2 * node if self.count[2 * node] else 2 * node + 1
        capacity = node - self.size
        bin_id = self.buckets[capacity].pop()
        self._update(capacity, -1)
        return capacity, bin_id


def best_fit_decreasing(lengths: Sequence[int], max_len: int) -> list[list[int]]:
    """Group item indices into bins whose lengths sum to <= max_len. Deterministic: ties keep input order."""
    index = _CapacityIndex(max_len)
    bins: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        need = lengths[i]
        if need > max_len or need <= 0:
            raise ValueError(f"item {i} has length {need}, outside (0, {max_len}]")
        fit = index.pop_best_fit(need)
        if fit is None:
            bins.append([i])
            remaining = max_len - need
            bin_id = len(bins) - 1
        else:
            capacity, bin_id = fit
            bins[bin_id].append(i)
            remaining = capacity - need
        if remaining > 0:
            index.add(remaining, bin_id)
    return bins


def fit_length(
    sample: RenderedSample, max_len: int, policy: str, report: PackReport
) -> RenderedSample | None:
    """Apply the over-length policy to one sample; count what happens."""
    if len(sample) <= max_len:
        return sample
    if policy == "drop":
        report.dropped["longer_than_max_len"] += 1
        return None
    cut = RenderedSample(sample.input_ids[:max_len], sample.labels[:max_len], sample.task_type, sample.sample_id)
    if sum(t != IGNORE_INDEX for t in shift_labels(cut.labels)) == 0:
        report.dropped["no_trained_token_after_truncation"] += 1
        return None
    report.truncated += 1
    return cut


def pack_samples(
    samples: Sequence[RenderedSample], max_len: int, policy: str = "truncate"
) -> tuple[list[PackedRow], PackReport]:
    """Pack samples into rows; `PackedRow.samples` index into `samples`."""
    if policy not in TRUNCATION_POLICIES:
        raise ValueError(f"truncation policy must be one of {TRUNCATION_POLICIES}, got {policy!r}")
    report = PackReport(samples_in=len(samples))
    kept: list[tuple[int, RenderedSample]] = []
    for i, sample in enumerate(samples):
        fitted = fit_length(sample, max_len, policy, report)
        if fitted is not None:
            kept.append((i, fitted))
    rows = []
    for bin_items in best_fit_decreasing([len(s) for _, s in kept], max_len):
        row = PackedRow([], [], [], [], [])
        for k in bin_items:
            index, sample = kept[k]
            row.input_ids += sample.input_ids
            row.targets += shift_labels(sample.labels)
            row.position_ids += range(len(sample))
            row.seq_lens.append(len(sample))
            row.samples.append(index)
        rows.append(row)
    report.rows = len(rows)
    report.tokens = sum(len(r) for r in rows)
    report.capacity = report.rows * max_len
    return rows, report
