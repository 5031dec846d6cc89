"""Sequence parallelism (torch reference over gloo): attention equals per-sequence causal attention, and
2 and 3 ranks give the loss and every gradient element of 1, for both reductions, with boundaries inside and
across slices; training with sp 2 (and dp 2 x sp 2) gives the one-process losses."""

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from core.model.attention import segment_sdpa
from core.model.sequence_parallel import local_segments
from tests.sp_utils import LENGTHS, full_gradients, sum_over_ranks
from tests.trainer_utils import REPO, free_port, losses, small_config, write_data


def test_local_segments_cover_each_slice():
    cu = [0, 37, 87, 98, 103, 120]
    assert local_segments(cu, 0, 60) == ([0, 37, 60], [0, 37, 60])
    assert local_segments(cu, 60, 120) == ([0, 27, 38, 43, 60], [37, 87, 98, 103, 120])
    assert local_segments(cu, 40, 80) == ([0, 40], [37, 80])  # a slice inside one sequence sees its start


@pytest.mark.parametrize("slices", [2, 3, 4])
def test_sliced_reference_attention_equals_causal_attention_per_sequence(slices):
    g = torch.Generator().manual_seed(0)
    total, heads, kv_heads, dim = sum(LENGTHS), 4, 2, 8
    total -= total % slices
    q, k, v = (torch.randn(h, total, dim, generator=g) for h in (heads, kv_heads, kv_heads))
    cu = [0]
    for n in LENGTHS:
        cu.append(min(total, cu[-1] + n))
    expected = torch.cat([
        F.scaled_dot_product_attention(q[:, a:b], k[:, a:b], v[:, a:b], is_causal=True, enable_gqa=True)
        for a, b in zip(cu[:-1], cu[1:]) if b > a], dim=1)
    per = total // slices
    pieces = []
    for r in range(slices):
        cu_q, cu_k = local_segments(cu, r * per, (r + 1) * per)
        pieces.append(segment_sdpa(q[:, r * per : (r + 1) * per], k, v, cu_q, cu_k, None))
    assert torch.allclose(torch.cat(pieces, dim=1), expected, atol=1e-6)


def _full_gradient_worker(rank: int, size: int, port: int, out_path: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
    result = sum_over_ranks(full_gradients(rank, size, dist.new_group(list(range(size)))))
    if rank == 0:
        torch.save(result, out_path)
    dist.destroy_process_group()


def assert_every_gradient_element_equal(got: dict, reference: dict) -> None:
    for reduction in ("token", "sample"):
        assert got[reduction]["loss"].item() == pytest.approx(reference[reduction]["loss"].item(), abs=1e-5)
        for name, expected in reference[reduction]["grads"].items():
            diff = (got[reduction]["grads"][name] - expected).abs().max().item()
            assert diff <= 1e-5, (reduction, name, diff)


@pytest.mark.slow
def test_sp2_gives_every_gradient_element_of_one_process(tmp_path):
    out = str(tmp_path / "sp2.pt")
    mp.spawn(_full_gradient_worker, args=(2, free_port(), out), nprocs=2, join=True)
    assert_every_gradient_element_equal(torch.load(out), full_gradients())


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [3])
def test_sp_ranks_give_single_process_loss_and_gradients(tmp_path, nproc):
    """The same through torchrun, with 3 slices (boundaries fall elsewhere)."""
    out = tmp_path / "sp.pt"
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
                           f"--master-port={free_port()}", os.path.join(REPO, "tests", "scripts", "sp_worker.py"),
                           str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert_every_gradient_element_equal(torch.load(out), full_gradients())


@pytest.mark.slow
def test_training_with_sp2_matches_one_process(tmp_path):
    """fit() with engine.sp_size=2 on two ranks (one DP group) gives the one-process loss curve."""
    from core.train.loop import fit
    from tests.trainer_utils import run_worker

    data = write_data(tmp_path, n=48)
    single = losses(fit(small_config(tmp_path / "sp1", data, micro_batch_size=4, max_steps=4,
                                     loss_reduction="sample")).history)
    cfg = small_config(tmp_path / "sp2", data, micro_batch_size=4, max_steps=4, loss_reduction="sample")
    cfg.engine.sp_size = 2
    assert losses(run_worker(cfg, 2, tmp_path)["history"]) == pytest.approx(single, abs=1e-5)


@pytest.mark.slow
def test_training_with_dp2_by_sp2_matches_one_process(tmp_path):
    """world = dp x sp = 2 x 2: two DP groups of two SP ranks share the global batch of one process."""
    from core.train.loop import fit
    from tests.trainer_utils import run_worker

    data = write_data(tmp_path, n=48)  # token mean here; the sp 2 run above uses the sample mean
    single = losses(fit(small_config(tmp_path / "one", data, micro_batch_size=4, max_steps=3,
                                     loss_reduction="token")).history)
    cfg = small_config(tmp_path / "dp2sp2", data, micro_batch_size=2, max_steps=3, loss_reduction="token")
    cfg.engine.sp_size = 2
    assert losses(run_worker(cfg, 4, tmp_path, timeout=600)["history"]) == pytest.approx(single, abs=1e-5)
