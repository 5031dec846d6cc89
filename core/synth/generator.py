"""Shared machinery for the suites' data generators: per-sample seeding, sharding, share
allocation, and the generation report.

Sample ``i`` of a run with seed ``s`` is built from its own RNG seeded by ``(s, i)`` alone, so a
run split into shards writes exactly the bytes of the unsharded run, concatenated in shard order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from tqdm import tqdm

from core.data.records import validate_record
from core.errors import Interrupted, UserError, session_out, session_prog


def sample_rng(seed: int, index: int, salt: str = "") -> random.Random:
    """An RNG that depends only on (seed, index, salt): stable across Python versions and shards."""
    digest = hashlib.sha256(f"{seed}:{index}:{salt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def shard_range(n: int, shard: int, num_shards: int) -> range:
    """Contiguous block of sample indices for one shard; concatenating shards 0..k-1 gives range(n)."""
    if n < 1:
        raise UserError(f"must be >= 1 (samples to write), got {n}", field="--n")
    if num_shards < 1:
        raise UserError(f"must be >= 1, got {num_shards}", field="--num-shards")
    if not 0 <= shard < num_shards:
        raise UserError(f"must be in [0, {num_shards}), got {shard}", field="--shard")
    per = math.ceil(n / num_shards)
    return range(min(n, shard * per), min(n, (shard + 1) * per))


def allocate_shares(n: int, shares: Mapping[str, float]) -> list[str]:
    """Deterministic list of n labels whose counts match `shares` within rounding (largest remainder),
    interleaved so any prefix is close to the requested mix."""
    total = sum(shares.values())
    if total <= 0 or any(v < 0 for v in shares.values()):
        raise UserError(f"shares must be non-negative with a positive sum, got {dict(shares)}", field="--shares")
    exact = {k: n * v / total for k, v in shares.items()}
    counts = {k: int(math.floor(x)) for k, x in exact.items()}
    leftover = n - sum(counts.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), k))[:leftover]:
        counts[k] += 1
    # Interleave: position j gets the label whose (emitted + 0.5) / count is smallest.
    labels, emitted = [], Counter()
    for _ in range(n):
        k = min((k for k in counts if emitted[k] < counts[k]), key=lambda k: ((emitted[k] + 0.5) / counts[k], k))
        labels.append(k)
        emitted[k] += 1
    return labels


@dataclass
class GenerationReport:
    """Counts by task_type and rejection reason, plus answer diversity."""

    written: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)
    extra: dict = field(default_factory=dict)

    def add(self, record: dict) -> None:
        self.written[record["task_type"]] += 1
        final = record["messages"][-1]
        self.answers[final.get("content") or json.dumps(final.get("tool_calls"), sort_keys=True)] += 1

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    def as_dict(self) -> dict:
        n = sum(self.written.values())
        return {
            "written": n,
            "by_task_type": dict(sorted(self.written.items())),
            "rejected": dict(sorted(self.rejected.items())),
            "distinct_final_answers": len(self.answers),
            "distinct_answer_ratio": round(len(self.answers) / n, 4) if n else 0.0,
            **self.extra,
        }

    def require_written(self, asked: int, hint: str = "") -> None:
        """Nothing written is an error naming why, never an empty file and exit 0."""
        if not sum(self.written.values()):
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.rejected.items())) or "no rejection counted"
            raise UserError(f"none of {asked} samples was kept ({reasons}){'; ' + hint if hint else ''}")

    def format(self) -> str:
        d = self.as_dict()
        lines = [f"wrote {d['written']} samples; distinct final answers {d['distinct_final_answers']} "
                 f"({d['distinct_answer_ratio']:.1%})"]
        lines += [f"  {k:<28} {v:>7}" for k, v in d["by_task_type"].items()]
        if d["rejected"]:
            lines.append("rejected before writing:")
            lines += [f"  {k:<28} {v:>7}" for k, v in d["rejected"].items()]
        return "\n".join(lines)


class Rejected(Exception):
    """Raised by a sample builder to reject a candidate; `reason` is counted in the report."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def generate_records(
    build: Callable[[random.Random, int], dict],
    indices: Iterable[int],
    seed: int,
    report: GenerationReport | None = None,
    max_attempts: int = 20,
    desc: str = "generate",
) -> list[dict]:
    """Build one record per index. A builder may raise Rejected; the index is then retried with a
    fresh, still deterministic RNG (attempt number in the salt) and the reason is counted."""
    report = report if report is not None else GenerationReport()
    out = []
    indices = list(indices)
    try:
        _build_all(build, indices, seed, report, max_attempts, desc, out)
    except KeyboardInterrupt:
        keep_finished(out, len(indices))
        raise
    return out


def keep_finished(records: list[dict], asked: int) -> None:
    """On Ctrl-C in a command that writes --out FILE.jsonl: the samples finished so far go to FILE.jsonl.partial
    (as generated, before any later conversion), the previous file is untouched, and one line says so."""
    target = session_out()
    if not records or not target or not target.endswith(".jsonl") or (session_prog() or "").endswith(".train"):
        return
    from core.data.records import write_records

    partial = target + ".partial"
    write_records(partial, records)
    raise Interrupted(f"interrupted after {len(records)} of {asked} samples; the finished ones are in {partial}"
                      f"{' (the previous file is untouched)' if os.path.exists(target) else ''}", file=target) from None


def _build_all(build, indices, seed, report, max_attempts, desc, out) -> None:
    for i in tqdm(indices, desc=desc, disable=len(indices) < 2000, leave=False):
        for attempt in range(max_attempts):
            try:
                record = build(sample_rng(seed, i, salt=str(attempt) if attempt else ""), i)
            except Rejected as e:
                report.reject(e.reason)
                continue
            validate_record(record)
            report.add(record)
            out.append(record)
            break
        else:
            raise UserError(f"sample {i}: rejected {max_attempts} times in a row ({dict(report.rejected)}); the options "
                            "leave no room for a valid sample")


def add_generation_args(parser: argparse.ArgumentParser, default_n: int = 1000) -> None:
    parser.add_argument("--n", type=int, default=default_n, help="number of samples (all shards together)")
    parser.add_argument("--out", required=True, help="output JSONL file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lang", choices=["en", "zh", "mix"], default="en",
                        help="phrasing language; mix draws en or zh per sample")
    parser.add_argument("--shard", type=int, default=0, help="this shard's index (0-based)")
    parser.add_argument("--num-shards", type=int, default=1)
    parser.add_argument("--report", default=None, help="write the generation report as JSON here")

