"""The trainer's data pipeline: read and validate sources, render them once (cached with `datasets`),
mix sources and task types, hold out an eval split, and plan every optimizer step's samples.

Data flows one way: records -> rendered samples (cached) -> per-step sample indices (BatchPlan) ->
packed rows spread over ranks and micro-steps (core.train.batching).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from core.data.chat import RenderedSample, RenderError, render_record
from core.data.config import DataConfig
from core.data.readers import iter_any
from core.data.records import ReadStats, first_level

CACHE_VERSION = "1"  # bump when rendering changes


@dataclass
class Source:
    path: str
    samples: list[RenderedSample]
    stats: ReadStats = field(default_factory=ReadStats)


def _fingerprint(path: str, tokenizer, cfg: DataConfig) -> str:
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, names in sorted(os.walk(path)):  # a DatasetDict folder has one folder per split
            dirs.sort()
            for name in sorted(names):
                with open(os.path.join(root, name), "rb") as f:
                    h.update(os.path.relpath(os.path.join(root, name), path).encode() + hashlib.sha256(f.read()).digest())
    else:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    h.update(json.dumps([CACHE_VERSION, cfg.mask, cfg.lenient, cfg.extra_roles, cfg.format, cfg.task_type,
                         tokenizer.name_or_path,
                         len(tokenizer), tokenizer.chat_template, tokenizer.eos_token]).encode())
    h.update(tokenizer.backend_tokenizer.to_str().encode())
    return h.hexdigest()[:20]


def _render_batch(batch: dict, tokenizer, mask: str, lenient: bool) -> dict:
    out = {"input_ids": [], "labels": [], "task_type": [], "sample_id": [], "error": []}
    for text, sample_id in zip(batch["record"], batch["sample_id"]):
        record = json.loads(text)
        try:
            s = render_record(record, tokenizer, mask=mask, sample_id=sample_id)
            out["input_ids"].append(s.input_ids)
            out["labels"].append(s.labels)
            error = ""
        except RenderError as e:
            if not lenient:
                raise
            out["input_ids"].append([])
            out["labels"].append([])
            error = str(e)
        out["task_type"].append(record["task_type"])
        out["sample_id"].append(sample_id)
        out["error"].append(error)
    return out


def load_source(path: str, tokenizer, cfg: DataConfig, progress: bool = True) -> Source:
    """Validate and render one source; the rendered columns are cached under cfg.cache_dir keyed by the
    file's bytes, the tokenizer and the mask, so re-runs skip tokenisation."""
    import datasets

    if not os.path.exists(path):
        raise FileNotFoundError(f"training data {path} does not exist")
    cache = os.path.join(cfg.cache_dir, _fingerprint(path, tokenizer, cfg))
    stats = ReadStats()
    if os.path.isdir(cache):
        rendered = datasets.load_from_disk(cache)
        with open(os.path.join(cache, "read_stats.json"), encoding="utf-8") as f:
            saved = json.load(f)
        stats.read, stats.skipped = saved["read"], Counter(saved["skipped"])
        stats.mapped, stats.format = Counter(saved.get("mapped", {})), saved.get("format", "")
    else:
        pairs = iter_any(path, fmt=cfg.format, task_type=cfg.task_type, lenient=cfg.lenient,  # any format (readers)
                         extra_roles=cfg.extra_roles, stats=stats, with_lines=True)
        rows = {"record": [], "sample_id": []}
        for line, record in pairs:
            rows["record"].append(json.dumps(record, ensure_ascii=False))
            rows["sample_id"].append(f"{path}:{line}")
        table = datasets.Dataset.from_dict(rows)
        rendered = table.map(
            _render_batch, batched=True, batch_size=256, num_proc=cfg.num_proc if len(table) > 1000 else None,
            remove_columns=["record"], fn_kwargs={"tokenizer": tokenizer, "mask": cfg.mask, "lenient": cfg.lenient},
            desc=f"tokenize {os.path.basename(path)}", load_from_cache_file=False,
        ) if len(table) else datasets.Dataset.from_dict({"input_ids": [], "labels": [], "task_type": [], "sample_id": [], "error": []})
        for error in rendered["error"]:
            if error:
                stats.skipped["render_error"] += 1
                stats.read -= 1
        tmp = f"{cache}.tmp{os.getpid()}"  # written aside, then renamed: a killed run leaves no half cache
        rendered.save_to_disk(tmp)
        with open(os.path.join(tmp, "read_stats.json"), "w", encoding="utf-8") as f:
            json.dump({"read": stats.read, "skipped": dict(stats.skipped), "mapped": dict(stats.mapped),
                       "format": stats.format}, f)
        try:
            os.rename(tmp, cache)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        rendered = datasets.load_from_disk(cache)
    samples = [
        RenderedSample(row["input_ids"], row["labels"], row["task_type"], row["sample_id"])
        for row in tqdm(rendered, desc=f"load {os.path.basename(path)}", disable=not progress or len(rendered) < 5000,
                        leave=False)
        if not row["error"]
    ]
    return Source(path, samples, stats)


def resample(n: int, target: int, rng: random.Random) -> list[int]:
    """`target` indices into range(n): whole copies first, then a seeded subset for the remainder."""
    if n == 0:
        return []
    copies, rest = divmod(target, n)
    return [i for _ in range(copies) for i in range(n)] + sorted(rng.sample(range(n), rest))


def mix(sources: list[list[RenderedSample]], cfg: DataConfig, seed: int) -> list[RenderedSample]:
    """Combine sources by shares or upsampling factors, then upsample task types."""
    rng = random.Random(seed)
    sizes = [len(s) for s in sources]
    if cfg.mixing == "concat":
        targets = sizes
    elif cfg.mixing == "upsample":
        targets = [round(f * n) for f, n in zip(cfg.source_factors, sizes)]
    else:  # weights: shares of a mix as large as all sources together
        total, weight = sum(sizes), sum(cfg.source_factors)
        targets = [round(total * f / weight) for f in cfg.source_factors]
    mixed = [src[i] for src, t in zip(sources, targets) for i in resample(len(src), t, rng)]
    if not cfg.task_upsample:
        return mixed
    by_type: dict[str, list[RenderedSample]] = {}
    for s in mixed:
        by_type.setdefault(s.task_type, []).append(s)
    out = []
    for task_type, group in by_type.items():
        factor = cfg.task_upsample.get(task_type, cfg.task_upsample.get(first_level(task_type), 1.0))
        out += [group[i] for i in resample(len(group), round(factor * len(group)), rng)]
    return out


def split_eval(samples: list[RenderedSample], fraction: float, seed: int):
    if not fraction:
        return samples, []
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, round(fraction * len(samples)))
    held = set(order[:n_eval])
    return [s for i, s in enumerate(samples) if i not in held], [samples[i] for i in sorted(held)]


class BatchPlan:
    """Which samples each optimizer step sees: one seeded shuffle per epoch, epochs concatenated, cut into
    global batches. Fractional epochs take the first part of the next epoch's order; max_steps caps (or
    extends) the run. Pure function of (n, batch, epochs, max_steps, seed), so resume needs only the step."""

    def __init__(self, n: int, global_batch: int, epochs: float, max_steps: int, seed: int, shuffle: bool = True):
        if n == 0:
            raise ValueError("no training samples left after reading and rendering")
        self.n, self.global_batch, self.seed, self.shuffle = n, global_batch, seed, shuffle
        total_samples = max(global_batch, math.floor(epochs * n)) if epochs > 0 else 0
        self.total_steps = max_steps if max_steps > 0 else math.ceil(total_samples / global_batch)
        self.total_samples = total_samples if max_steps <= 0 else max_steps * global_batch
        self._orders: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            order = list(range(self.n))
            if self.shuffle or epoch > 0:
                random.Random(f"{self.seed}:epoch:{epoch}").shuffle(order)
            self._orders = {epoch: order}
        return self._orders[epoch]

    def batch(self, step: int) -> list[int]:
        start = step * self.global_batch
        stop = min(start + self.global_batch, self.total_samples)
        return [self._order(k // self.n)[k % self.n] for k in range(start, stop)]

    def epoch_of(self, step: int) -> float:
        return step * self.global_batch / self.n
