"""The trainer's data pipeline: read and validate sources, render them once into a memory-mapped sample store
(core.data.store, cached by the file's bytes, the tokenizer and the mask), mix sources and task types, hold out
an eval split, and plan every optimizer step's samples -- all on index arrays, never on token lists.

Data flows one way: records -> rendered samples (on disk) -> index arrays (mix, split, BatchPlan) -> per-step
views -> packed rows spread over ranks and micro-steps (core.train.batching), whose tokens are read by index.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import json
import math
import os
import random
import shutil
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from core.data.byte_offsets import byte_lengths
from core.data.chat import LaidOut, RenderedSample, RenderError, encode_laid_out, lay_out
from core.data.config import DataConfig, render_policy
from core.data.readers import iter_any
from core.data.records import ReadStats, first_level
from core.data.store import SampleSet, SampleStore, SampleWriter
from core.data.template_probe import probe_template
from core.data.template_render import template_kwargs

CACHE_VERSION = "3"  # bump when rendering or the store's layout changes (3: chat-template probe, strategies, adaptations)
BATCH_RECORDS = 64  # records per rendering task
PARALLEL_FROM = 2000  # fewer records render in this process (forking workers costs more than it saves)


@dataclass
class Source:
    path: str
    store: SampleStore
    stats: ReadStats = field(default_factory=ReadStats)
    rendered: Counter = field(default_factory=Counter)  # strategy:<name> and adaptation kinds (core.data.adapt)

    @property
    def samples(self) -> SampleStore:
        """The rendered samples (a memory-mapped sequence of RenderedSample)."""
        return self.store


def num_proc(cfg: DataConfig) -> int:
    """data.num_proc, or (0) the cores this process may run on."""
    if cfg.num_proc > 0:
        return cfg.num_proc
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _file_digest(path: str) -> bytes:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


def _fingerprint(path: str, tokenizer, cfg: DataConfig) -> str:
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, names in sorted(os.walk(path)):  # a DatasetDict folder has one folder per split
            dirs.sort()
            for name in sorted(names):
                h.update(os.path.relpath(os.path.join(root, name), path).encode() + _file_digest(os.path.join(root, name)))
    else:
        with open(path, "rb") as f:
            hashlib.file_digest(f, lambda: h)
    h.update(json.dumps([CACHE_VERSION, cfg.mask, cfg.lenient, cfg.extra_roles, cfg.format, cfg.task_type,
                         cfg.template_strategy, cfg.end_of_turn, cfg.system, cfg.parallel_calls, cfg.tools,
                         tokenizer.name_or_path,
                         len(tokenizer), tokenizer.chat_template, tokenizer.eos_token]).encode())
    h.update(tokenizer.backend_tokenizer.to_str().encode())
    return h.hexdigest()[:20]


def _render_batch(records: list[tuple[str, dict]], tokenizer, mask: str, lenient: bool, policy=None) -> dict:
    """Render (sample_id, record) pairs into flat int32 arrays, with one batched encode of all their texts; render
    failures are counted by reason when lenient, else the first one (in record order) is raised."""
    ids, labels, lengths, task_types, sample_ids, failed = [], [], [], [], [], Counter()
    rendered = Counter()  # strategy:<name> per sample, adaptation kinds (core.data.adapt) per record
    probe = probe_template(tokenizer)  # once per batch: its cache key hashes the whole template
    kw = template_kwargs(tokenizer)
    outcomes: list = []  # per record: its LaidOut, or the RenderError of laying it out
    for sample_id, record in records:
        try:
            outcomes.append(lay_out(record, tokenizer, mask, sample_id, policy, probe, template_kw=kw))
        except RenderError as e:
            outcomes.append(e)
    encoded = iter(encode_laid_out([o for o in outcomes if isinstance(o, LaidOut)], tokenizer))
    strategies = []
    for outcome in outcomes:
        samples = next(encoded) if isinstance(outcome, LaidOut) else outcome
        if isinstance(samples, RenderError):
            if not lenient:
                raise samples
            failed[f"render_error/{samples.reason}"] += 1
            continue
        if samples[0].adaptations:
            rendered.update(samples[0].adaptations)
        for s in samples:  # one, or one per trained turn (templates that rewrite history)
            strategies.append(s.strategy)
            ids += s.input_ids
            labels += s.labels
            lengths.append(len(s.input_ids))
            task_types.append(s.task_type)
            sample_ids.append(s.sample_id)
    rendered.update(f"strategy:{name}" for name in strategies)
    return {"input_ids": np.array(ids, dtype=np.int32), "labels": np.array(labels, dtype=np.int32),
            "lengths": lengths, "task_type": task_types, "sample_id": sample_ids, "failed": failed,
            "rendered": rendered}


_WORKER: tuple = ()  # (tokenizer, mask, lenient), inherited by forked workers


def _render_in_worker(records: list[tuple[str, dict]]) -> dict:
    return _render_batch(records, *_WORKER)


def _read(path: str, cfg: DataConfig, stats: ReadStats):
    """(line or row number, validated record) pairs of one source, streamed: the one reading step."""
    return iter_any(path, fmt=cfg.format, task_type=cfg.task_type, lenient=cfg.lenient,  # any format (readers)
                    extra_roles=cfg.extra_roles, stats=stats, with_lines=True)


def _batches(path: str, pairs, size: int):
    batch = []
    for line, record in pairs:
        batch.append((f"{path}:{line}", record))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rendered(batches, tokenizer, cfg: DataConfig):
    """Rendered batches in input order. With several processes, at most 4 tasks per worker are in flight, so
    the records are never all in memory; workers are forked and inherit the tokenizer."""
    global _WORKER
    procs = num_proc(cfg)
    first = []
    for batch in batches:  # small sources render here
        first.append(batch)
        if sum(map(len, first)) >= PARALLEL_FROM:
            break
    policy = render_policy(cfg)
    if procs <= 1 or sum(map(len, first)) < PARALLEL_FROM or sys.platform != "linux":
        for batch in itertools.chain(first, batches):
            yield _render_batch(batch, tokenizer, cfg.mask, cfg.lenient, policy)
        return
    import multiprocessing

    probe_template(tokenizer)  # both computed once here, inherited by the forked workers
    byte_lengths(tokenizer)
    _WORKER = (tokenizer, cfg.mask, cfg.lenient, policy)
    pending: deque = deque()
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        for batch in itertools.chain(first, batches):
            pending.append(pool.apply_async(_render_in_worker, (batch,)))
            if len(pending) >= 4 * procs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
    _WORKER = ()


def _render_source(path: str, folder: str, tokenizer, cfg: DataConfig, stats: ReadStats, progress: bool) -> Counter:
    writer = SampleWriter(folder)
    bar = tqdm(desc=f"render {os.path.basename(path.rstrip('/'))}", unit="tok", unit_scale=True, disable=not progress,
               leave=False, dynamic_ncols=True)
    samples = 0
    rendered = Counter()
    for out in _rendered(_batches(path, _read(path, cfg, stats), BATCH_RECORDS), tokenizer, cfg):
        writer.add(out)
        for reason, n in out["failed"].items():
            stats.skipped[reason] += n
            stats.read -= n
        rendered.update(out["rendered"])
        samples += len(out["lengths"])
        bar.update(int(sum(out["lengths"])))
        bar.set_postfix(samples=samples, refresh=False)
    writer.close()
    bar.close()
    return rendered


def load_source(path: str, tokenizer, cfg: DataConfig, progress: bool = True) -> Source:
    """Validate and render one source into a memory-mapped store under cfg.cache_dir, keyed by the file's bytes,
    the tokenizer and the mask, so re-runs only map the file (no tokenisation, no per-sample Python objects)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"training data {path} does not exist")
    cache = os.path.join(cfg.cache_dir, _fingerprint(path, tokenizer, cfg))
    stats = ReadStats()
    if not os.path.isdir(cache):
        tmp = f"{cache}.tmp{os.getpid()}"  # written aside, then renamed: a killed run leaves no half cache
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.time()
        rendered = _render_source(path, tmp, tokenizer, cfg, stats, progress)
        with open(os.path.join(tmp, "read_stats.json"), "w", encoding="utf-8") as f:
            json.dump({"rendered": dict(rendered), "read": stats.read, "skipped": dict(stats.skipped), "mapped": dict(stats.mapped),
                       "format": stats.format, "render_seconds": round(time.time() - started, 3)}, f)
        try:
            os.rename(tmp, cache)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(cache, "read_stats.json"), encoding="utf-8") as f:
        saved = json.load(f)
    stats.read, stats.skipped = saved["read"], Counter(saved["skipped"])
    stats.mapped, stats.format = Counter(saved.get("mapped", {})), saved.get("format", "")
    return Source(path, SampleStore(cache), stats, Counter(saved.get("rendered", {})))


# --- index arrays: mixing, the eval split, epochs ------------------------------------------------------------

def resample_indices(n: int, target: int, rng: random.Random) -> np.ndarray:
    """`target` indices into range(n): whole copies first, then a seeded subset (sorted) for the remainder."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    copies, rest = divmod(target, n)
    return np.concatenate([np.tile(np.arange(n, dtype=np.int64), copies),
                           np.sort(np.array(rng.sample(range(n), rest), dtype=np.int64))])


def resample(n: int, target: int, rng: random.Random) -> list[int]:
    return resample_indices(n, target, rng).tolist()


def mix_indices(samples: SampleSet, cfg: DataConfig, seed: int, sources: list[int] | None = None) -> np.ndarray:
    """Global indices of the mix of `sources` (store numbers of `samples`; default all) by shares or upsampling
    factors, then upsampled by task type (groups in order of first appearance, each in mix order)."""
    rng = random.Random(seed)
    sources = list(range(len(samples.stores))) if sources is None else sources
    sizes = [int(samples.bases[k + 1] - samples.bases[k]) for k in sources]
    if cfg.mixing == "concat":
        targets = sizes
    elif cfg.mixing == "upsample":
        targets = [round(f * n) for f, n in zip(cfg.source_factors, sizes)]
    else:  # weights: shares of a mix as large as all sources together
        total, weight = sum(sizes), sum(cfg.source_factors)
        targets = [round(total * f / weight) for f in cfg.source_factors]
    parts = [samples.bases[k] + resample_indices(n, t, rng) for k, n, t in zip(sources, sizes, targets)]
    mixed = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if not cfg.task_upsample:
        return mixed
    task = samples.task_ids_of(mixed)
    present, first = np.unique(task, return_index=True)
    out = []
    for t in present[np.argsort(first)]:
        group = mixed[task == t]
        name = samples.task_types[t]
        factor = cfg.task_upsample.get(name, cfg.task_upsample.get(first_level(name), 1.0))
        out.append(group[resample_indices(len(group), round(factor * len(group)), rng)])
    return np.concatenate(out) if out else mixed[:0]


def mix(sources: list[list[RenderedSample]], cfg: DataConfig, seed: int) -> list[RenderedSample]:
    """mix_indices over in-memory samples (the same draws, returned as samples)."""
    samples = SampleSet(sources)
    flat = [s for source in sources for s in source]
    return [flat[g] for g in mix_indices(samples, cfg, seed)]


def shuffled(n: int, seed) -> np.ndarray:
    """random.Random(seed).shuffle(list(range(n))) at 4 bytes a sample (the same permutation)."""
    order = array.array("i", range(n))
    random.Random(seed).shuffle(order)
    return np.frombuffer(order, dtype=np.int32)


def split_eval_indices(ids: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held out) of an index array: a seeded `fraction` held out, both kept in their original order."""
    if not fraction:
        return ids, ids[:0]
    n_eval = max(1, round(fraction * len(ids)))
    held = np.zeros(len(ids), dtype=bool)
    held[shuffled(len(ids), seed)[:n_eval]] = True
    return ids[~held], ids[held]


def split_eval(samples: list[RenderedSample], fraction: float, seed: int):
    train, held = split_eval_indices(np.arange(len(samples)), fraction, seed)
    return [samples[i] for i in train], [samples[i] for i in held]


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
        self._orders: dict[int, np.ndarray] = {}

    def _order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            order = shuffled(self.n, f"{self.seed}:epoch:{epoch}") if self.shuffle or epoch > 0 \
                else np.arange(self.n, dtype=np.int32)
            self._orders = {epoch: order}  # one epoch's order at a time: 4 bytes a sample
        return self._orders[epoch]

    def batch_array(self, step: int) -> np.ndarray:
        start = step * self.global_batch
        stop = min(start + self.global_batch, self.total_samples)
        k = np.arange(start, stop, dtype=np.int64)
        out = np.empty(len(k), dtype=np.int64)
        for epoch in np.unique(k // self.n):
            where = k // self.n == epoch
            out[where] = self._order(int(epoch))[k[where] % self.n]
        return out

    def batch(self, step: int) -> list[int]:
        return self.batch_array(step).tolist()

    def epoch_of(self, step: int) -> float:
        return step * self.global_batch / self.n
