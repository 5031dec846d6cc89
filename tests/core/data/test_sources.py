"""The trainer's data path on index arrays (core.data.sources, core.data.store): mixing shares, upsampling and
task_type factors, the eval split and the epoch orders equal the list-based originals draw for draw; the
memory-mapped store holds exactly what render_record gives, the same with parallel workers; cached reloads
only map files; render failures are counted by reason."""

import json
import os
import random

import numpy as np
import pytest

from core.data import sources as data_lib
from core.data.chat import IGNORE_INDEX, RenderedSample, render_record
from core.data.config import DataConfig
from core.data.records import first_level, read_records, write_records
from core.data.sources import BatchPlan, load_source, mix_indices, split_eval_indices
from core.data.store import SampleSet, SampleStore
from tests.trainer_utils import make_records

# --- the list-based originals (before issue 13), kept verbatim as references -------------------------------

def old_resample(n, target, rng):
    if n == 0:
        return []
    copies, rest = divmod(target, n)
    return [i for _ in range(copies) for i in range(n)] + sorted(rng.sample(range(n), rest))


def old_mix(sources, cfg, seed):
    rng = random.Random(seed)
    sizes = [len(s) for s in sources]
    if cfg.mixing == "concat":
        targets = sizes
    elif cfg.mixing == "upsample":
        targets = [round(f * n) for f, n in zip(cfg.source_factors, sizes)]
    else:
        total, weight = sum(sizes), sum(cfg.source_factors)
        targets = [round(total * f / weight) for f in cfg.source_factors]
    mixed = [src[i] for src, t in zip(sources, targets) for i in old_resample(len(src), t, rng)]
    if not cfg.task_upsample:
        return mixed
    by_type = {}
    for s in mixed:
        by_type.setdefault(s.task_type, []).append(s)
    out = []
    for task_type, group in by_type.items():
        factor = cfg.task_upsample.get(task_type, cfg.task_upsample.get(first_level(task_type), 1.0))
        out += [group[i] for i in old_resample(len(group), round(factor * len(group)), rng)]
    return out


def old_split(samples, fraction, seed):
    if not fraction:
        return samples, []
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    held = set(order[: max(1, round(fraction * len(samples)))])
    return [s for i, s in enumerate(samples) if i not in held], [samples[i] for i in sorted(held)]


def old_batches(n, batch, epochs, max_steps, seed, shuffle):
    plan = BatchPlan(n, batch, epochs, max_steps, seed, shuffle)  # sizes only; orders rebuilt as lists
    out = []
    for step in range(plan.total_steps):
        start, stop = step * batch, min(step * batch + batch, plan.total_samples)
        picked = []
        for k in range(start, stop):
            order = list(range(n))
            if shuffle or k // n > 0:
                random.Random(f"{seed}:epoch:{k // n}").shuffle(order)
            picked.append(order[k % n])
        out.append(picked)
    return out


def fake(task_types: list[str], n: int, name: str) -> list[RenderedSample]:
    return [RenderedSample([1, 2, 3], [1, 2, 3], task_types[i % len(task_types)], f"{name}:{i}") for i in range(n)]


@pytest.mark.parametrize("seed", range(6))
def test_mixing_and_task_upsampling_on_index_arrays_equal_the_list_originals(seed):
    rng = random.Random(seed)
    sources = [fake(["math/add", "chat/echo", "cls/a", "cls/b"][: rng.randint(1, 4)], rng.randint(0, 40), f"s{k}")
               for k in range(3)]
    mixing = ["concat", "weights", "upsample"][seed % 3]
    factors = [] if mixing == "concat" else [round(rng.uniform(0.2, 3.0), 2) for _ in sources]
    task_upsample = {} if seed % 2 else {"math/add": 2.5, "cls": 0.5, "chat/echo": 0.0}
    cfg = DataConfig(mixing=mixing, source_factors=factors, task_upsample=task_upsample)
    samples = SampleSet(sources)
    flat = [s for src in sources for s in src]
    got = [flat[g].sample_id for g in mix_indices(samples, cfg, seed=seed)]
    assert got == [s.sample_id for s in old_mix(sources, cfg, seed)]


def test_shares_and_factors_are_exact():
    a, b = fake(["src/a"], 30, "a"), fake(["src/b"], 10, "b")
    samples = SampleSet([a, b])
    weights = mix_indices(samples, DataConfig(mixing="weights", source_factors=[1, 3]), seed=0)
    assert len(weights) == 40 and int((weights < 30).sum()) == 10  # 40 * 1/4 of a, 40 * 3/4 of b
    assert sorted(set((weights[weights >= 30] - 30).tolist())) == list(range(10))  # b: 3 whole copies
    assert np.array_equal(np.bincount(weights[weights >= 30] - 30), [3] * 10)
    by_task = mix_indices(SampleSet([a + b]), DataConfig(task_upsample={"src/b": 2, "src": 0.5}), seed=0)
    assert int((by_task >= 30).sum()) == 20 and int((by_task < 30).sum()) == 15  # the exact type wins
    assert by_task.dtype == np.int64


@pytest.mark.parametrize("n,fraction,seed", [(1, 0.5, 0), (17, 0.2, 3), (200, 0.05, 9), (50, 0.0, 1)])
def test_eval_split_on_index_arrays_equals_the_list_original(n, fraction, seed):
    ids = np.arange(100, 100 + n)
    train, held = split_eval_indices(ids, fraction, seed)
    want_train, want_held = old_split(list(range(100, 100 + n)), fraction, seed)
    assert train.tolist() == want_train and held.tolist() == want_held


@pytest.mark.parametrize("n,batch,epochs,max_steps,shuffle", [(10, 4, 1.5, 0, True), (10, 4, 2.0, 0, False),
                                                              (7, 3, 1.0, 9, True), (33, 8, 2.3, 0, True)])
def test_epoch_orders_equal_the_list_original(n, batch, epochs, max_steps, shuffle):
    plan = BatchPlan(n, batch, epochs, max_steps, seed=4, shuffle=shuffle)
    got = [plan.batch(s) for s in range(plan.total_steps)]
    assert got == old_batches(n, batch, epochs, max_steps, 4, shuffle)


@pytest.fixture
def records_file(tmp_path):
    path = str(tmp_path / "train.jsonl")
    write_records(path, make_records(60, seed=2))
    return path


def test_the_store_holds_what_render_record_gives_and_reloads_by_mapping(tmp_path, records_file, tiny_tokenizer):
    cfg = DataConfig(cache_dir=str(tmp_path / "cache"), num_proc=1)
    source = load_source(records_file, tiny_tokenizer, cfg, progress=False)
    assert isinstance(source.samples, SampleStore) and len(source.samples) == 60
    for (line, record), s in zip(enumerate(read_records(records_file), start=1), source.samples):
        want = render_record(record, tiny_tokenizer, sample_id=f"{records_file}:{line}")
        assert (s.input_ids, s.labels, s.task_type, s.sample_id) == (want.input_ids, want.labels, want.task_type,
                                                                       want.sample_id)
    store = source.store
    assert store.lengths.tolist() == [len(s) for s in store]
    assert store.trained.tolist() == [sum(t != IGNORE_INDEX for t in s.labels[1:]) for s in store]
    ids, labels = store.tokens(5)
    assert ids.dtype == np.int32 and not ids.flags.owndata  # a view into the mapped file, not a copy

    reloaded = load_source(records_file, tiny_tokenizer, cfg, progress=False)
    assert isinstance(reloaded.store.lengths, np.memmap) and reloaded.store.folder == store.folder
    assert [s.input_ids for s in reloaded.samples] == [s.input_ids for s in source.samples]
    import datasets  # the store is a datasets Arrow file

    table = datasets.Dataset.from_file(os.path.join(store.folder, "samples.arrow"))
    assert table[5]["input_ids"] == ids.tolist() and table[5]["labels"] == labels.tolist()


def test_parallel_workers_write_the_same_store_bytes(tmp_path, records_file, tiny_tokenizer, monkeypatch):
    monkeypatch.setattr(data_lib, "PARALLEL_FROM", 10)
    monkeypatch.setattr(data_lib, "BATCH_RECORDS", 7)
    folders = []
    for procs in (1, 2):
        cfg = DataConfig(cache_dir=str(tmp_path / f"cache{procs}"), num_proc=procs)
        folders.append(load_source(records_file, tiny_tokenizer, cfg, progress=False).store.folder)
    for name in ("lengths.npy", "trained.npy", "task_ids.npy", "task_types.json"):
        with open(os.path.join(folders[0], name), "rb") as f, open(os.path.join(folders[1], name), "rb") as g:
            assert f.read() == g.read(), name
    one, two = SampleStore(folders[0]), SampleStore(folders[1])
    assert one.table.equals(two.table)
    assert data_lib.num_proc(DataConfig()) == len(os.sched_getaffinity(0))


def test_render_failures_are_counted_by_reason(tmp_path, tiny_tokenizer):
    records = make_records(6, seed=1)
    records[2]["messages"][1]["train"] = False  # nothing trained under mask=all
    path = str(tmp_path / "bad.jsonl")
    write_records(path, records)
    cfg = DataConfig(cache_dir=str(tmp_path / "cache"), lenient=True)
    source = load_source(path, tiny_tokenizer, cfg, progress=False)
    assert len(source.samples) == 5 and source.stats.read == 5
    assert dict(source.stats.skipped) == {"render_error/nothing_trained": 1}
    saved = json.load(open(os.path.join(source.store.folder, "read_stats.json")))
    assert saved["skipped"] == {"render_error/nothing_trained": 1}
    assert f"{path}:3" not in [s.sample_id for s in source.samples]
    with pytest.raises(Exception, match="no token is trained"):
        load_source(path, tiny_tokenizer, DataConfig(cache_dir=str(tmp_path / "strict")), progress=False)
