"""The trainer on the memory-mapped data path: two ranks read one shared cache (rank 0 renders it once) and see
the losses one rank sees; a resumed run over mixed, upsampled, split, multi-epoch data continues exactly."""

import os
import shutil

import pytest

from core.train.loop import fit
from tests.trainer_utils import losses, run_worker, small_config, write_data


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("data")
    return [write_data(tmp, n=30, seed=21, name="a.jsonl"), write_data(tmp, n=12, seed=22, name="b.jsonl")]


def mixed_config(tmp_path, sources, **overrides):
    cfg = small_config(tmp_path, sources[0], **overrides)
    cfg.data.paths = list(sources)
    cfg.data.mixing, cfg.data.source_factors = "upsample", [1.0, 1.5]
    cfg.data.task_upsample = {"math": 2.0}
    cfg.data.eval_split = 0.1
    return cfg


def cache_entries(cfg) -> list[str]:
    return sorted(os.listdir(cfg.data.cache_dir))


@pytest.mark.slow
def test_two_gloo_ranks_read_the_cache_rank_0_rendered(tmp_path, sources):
    two = mixed_config(tmp_path / "two", sources, micro_batch_size=2, gradient_accumulation=1, max_steps=3)
    from_two = losses(run_worker(two, 2, tmp_path)["history"])
    entries = cache_entries(two)
    assert len(entries) == 2  # rank 0 rendered each source once, rank 1 mapped them; no half-written folder left
    stamps = {e: os.stat(os.path.join(two.data.cache_dir, e, "samples.arrow")).st_mtime_ns for e in entries}

    one = mixed_config(tmp_path / "one", sources, micro_batch_size=2, gradient_accumulation=2, max_steps=3)
    one.data.cache_dir = two.data.cache_dir
    assert losses(fit(one).history) == pytest.approx(from_two, abs=1e-5)
    assert cache_entries(one) == entries  # read, not rendered again
    assert {e: os.stat(os.path.join(one.data.cache_dir, e, "samples.arrow")).st_mtime_ns for e in entries} == stamps


def test_resume_on_mixed_multi_epoch_data_continues_exactly(tmp_path, sources):
    cfg = mixed_config(tmp_path, sources, micro_batch_size=4, max_steps=0, epochs=2.0, save_every=5,
                       keep_checkpoints=3)
    full = losses(fit(cfg).history)
    assert len(full) > 10  # past the first epoch
    ckpts = os.path.join(cfg.out, "checkpoints")
    for d in os.listdir(ckpts):
        if d.startswith("step-") and int(d[5:]) > 5:
            shutil.rmtree(os.path.join(ckpts, d))
    with open(os.path.join(ckpts, "latest"), "w") as f:
        f.write("step-5\n")
    cfg.resume = True
    resumed = [row["loss"] for row in fit(cfg).history if "loss" in row and row["step"] > 5]
    assert resumed == pytest.approx(full[5:], abs=1e-6)
