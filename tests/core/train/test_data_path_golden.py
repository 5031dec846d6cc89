"""Golden per-step losses of two fixed small runs, recorded before the trainer's data path moved to the
memory-mapped sample store (issue 13). Mixing, upsampling, task_type factors, the eval split, held-out
files, two epochs, packing and no packing, truncation and drops: any change in which samples a step sees,
their order, their packing or their tokens changes these losses.

Re-record (only when a change is *meant* to alter training): python -m tests.core.train.test_data_path_golden
"""

import json
import os
import sys
import tempfile

import pytest

from core.data.records import read_records
from core.train.loop import fit
from tests.trainer_utils import make_records, small_config, write_data

FIXTURE = os.path.join(os.path.dirname(__file__), "golden_losses.json")


def _sources(tmp) -> dict:
    import datasets

    a = write_data(tmp, n=30, seed=11, name="a.jsonl")
    b = write_data(tmp, n=14, seed=12, name="b.jsonl")
    folder = os.path.join(tmp, "c_ds")
    datasets.Dataset.from_list(make_records(10, seed=13)).save_to_disk(folder)
    held = write_data(tmp, n=9, seed=14, name="held.jsonl")
    assert len(read_records(a)) == 30
    return {"a": a, "b": b, "c": folder, "held": held}


def run_packed(tmp) -> list[dict]:
    """Upsampled sources (JSONL + a datasets folder), task_type factors, an eval split, two epochs, packing."""
    src = _sources(tmp)
    cfg = small_config(os.path.join(tmp, "packed"), src["a"], max_steps=0, epochs=2.0, micro_batch_size=3,
                       gradient_accumulation=2, eval_every=4)
    cfg.data.paths = [src["a"], src["b"], src["c"]]
    cfg.data.mixing = "upsample"
    cfg.data.source_factors = [1.0, 2.5, 0.5]
    cfg.data.task_upsample = {"math/add": 2.0, "cls": 0.5}
    cfg.data.eval_split = 0.15
    cfg.data.max_len = 96
    return _rows(fit(cfg).history)


def run_unpacked(tmp) -> list[dict]:
    """Shares, held-out files, no packing, the last-message mask, over-length samples dropped."""
    src = _sources(tmp)
    cfg = small_config(os.path.join(tmp, "unpacked"), src["a"], max_steps=7, micro_batch_size=4, eval_every=7,
                       loss_reduction="sample")
    cfg.data.paths = [src["a"], src["b"]]
    cfg.data.mixing = "weights"
    cfg.data.source_factors = [1.0, 3.0]
    cfg.data.eval_paths = [src["held"]]
    cfg.data.packing = False
    cfg.data.truncation = "drop"
    cfg.data.mask = "last"
    cfg.data.max_len = 40
    return _rows(fit(cfg).history)


def _rows(history: list[dict]) -> list[dict]:
    keys = ("loss", "eval_loss", "fill_rate")
    return [{"step": r["step"], **{k: r[k] for k in keys if k in r}} for r in history]


RUNS = {"packed": run_packed, "unpacked": run_unpacked}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_per_step_losses_equal_the_recorded_ones(tmp_path, name):
    with open(FIXTURE, encoding="utf-8") as f:
        golden = json.load(f)[name]
    got = RUNS[name](str(tmp_path))
    assert [r["step"] for r in got] == [r["step"] for r in golden]
    for mine, want in zip(got, golden):
        assert set(mine) == set(want), mine["step"]
        for key in want:
            assert mine[key] == pytest.approx(want[key], abs=1e-6), (name, mine["step"], key)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        recorded = {name: run(os.path.join(tmp, name)) for name, run in RUNS.items()}
    with open(FIXTURE, "w", encoding="utf-8") as f:
        json.dump(recorded, f, indent=1)
    print(f"wrote {FIXTURE}: " + ", ".join(f"{k}: {len(v)} rows" for k, v in recorded.items()), file=sys.stderr)
