"""Sequence parallelism, llama3-style: the ranks of an SP group share one packed row, each holds a
contiguous slice of it, and attention all-gathers K/V while every rank keeps the row's global
``cu_seq_lens``. On CUDA with ring-flash-attn installed, its ``llama3_flash_attn_varlen_func`` runs the
attention; otherwise a torch reference (per-segment sdpa over gathered K/V) does, on any backend (gloo).

Labels are shifted before the row is split (core.data.packing does it per sample), so the loss of a slice
needs nothing from its neighbours; the trainer sums the slices' weighted losses, which is exact.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from core.model.kernels import flash_kernel_applies, segment_sdpa

try:  # optional CUDA kernels
    from ring_flash_attn import llama3_flash_attn_prepare_cu_seqlens, llama3_flash_attn_varlen_func
except ImportError:  # pragma: no cover - depends on the machine
    llama3_flash_attn_varlen_func = None

_GROUP: dist.ProcessGroup | None = None


def current_group() -> dist.ProcessGroup | None:
    return _GROUP


class sequence_parallel_group:  # noqa: N801 - used like a function: `with sequence_parallel_group(g):`
    """Within this (reusable) context, packed attention treats its inputs as this rank's slice of the row."""

    def __init__(self, group: dist.ProcessGroup | None):
        self.group, self.previous = group, None

    def __enter__(self):
        global _GROUP
        self.previous, _GROUP = _GROUP, self.group
        return self

    def __exit__(self, *exc):
        global _GROUP
        _GROUP = self.previous


def new_groups(sp_size: int) -> tuple[dist.ProcessGroup | None, dist.ProcessGroup | None]:
    """Split the world into consecutive SP groups of sp_size ranks; returns (this rank's SP group, its DP
    group: the ranks holding the same slice index in every SP group). Every rank must call this."""
    world, rank = dist.get_world_size(), dist.get_rank()
    if world % sp_size:
        raise ValueError(f"world size {world} is not divisible by sp_size {sp_size}")
    sp_group = dp_group = None
    for start in range(0, world, sp_size):
        group = dist.new_group(list(range(start, start + sp_size)))
        if start <= rank < start + sp_size:
            sp_group = group
    for offset in range(sp_size):
        group = dist.new_group(list(range(offset, world, sp_size)))
        if rank % sp_size == offset:
            dp_group = group
    return sp_group, dp_group


class _GatherSlices(torch.autograd.Function):
    """All-gather along dim 0; the backward sums every rank's gradient and keeps this rank's slice."""

    @staticmethod
    def forward(ctx, local: torch.Tensor, group: dist.ProcessGroup) -> torch.Tensor:
        ctx.group = group
        ctx.rank, ctx.size = dist.get_rank(group), dist.get_world_size(group)
        parts = [torch.empty_like(local) for _ in range(ctx.size)]
        dist.all_gather(parts, local.contiguous(), group=group)
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad, group=ctx.group)
        n = grad.shape[0] // ctx.size
        return grad[ctx.rank * n : (ctx.rank + 1) * n], None


def gather_slices(local: torch.Tensor, group: dist.ProcessGroup) -> torch.Tensor:
    return _GatherSlices.apply(local, group)


def local_segments(cu: list[int], start: int, stop: int) -> tuple[list[int], list[int]]:
    """For queries [start, stop) of a row with global boundaries `cu`, the (query, key) boundary lists of
    the segments they touch: queries relative to `start`, keys as global positions (each segment's keys run
    from its first token to the last query, causal aligned at the end)."""
    cu_q, cu_k = [0], []
    for s, e in zip(cu[:-1], cu[1:]):
        if e <= start or s >= stop:
            continue
        if not cu_k:
            cu_k.append(s)
        cu_q.append(min(e, stop) - start)
        cu_k.append(min(e, stop))
    return cu_q, cu_k


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seq_lens: torch.Tensor,
              scaling: float | None, group: dist.ProcessGroup) -> torch.Tensor:
    """q/k/v: this rank's slice [T_local, H(kv), D]; cu_seq_lens: boundaries over the whole row."""
    rank, size = dist.get_rank(group), dist.get_world_size(group)
    local = q.shape[0]
    if flash_kernel_applies(q, llama3_flash_attn_varlen_func is not None):
        cu = cu_seq_lens.to(torch.int32)
        cu_q, cu_k, max_q, max_k, k_slice = llama3_flash_attn_prepare_cu_seqlens(cu, True, rank, size)
        return llama3_flash_attn_varlen_func(
            q, k, v, cu_q, cu_k, max_q, max_k, heads_k_stride=1, local_k_slice=k_slice,
            softmax_scale=scaling, causal=True, group=group)
    k_all, v_all = gather_slices(k, group), gather_slices(v, group)
    start = rank * local
    cu_q, cu_k = local_segments(cu_seq_lens.tolist(), start, start + local)
    out = segment_sdpa(q.transpose(0, 1), k_all.transpose(0, 1), v_all.transpose(0, 1), cu_q, cu_k, scaling)
    return out.transpose(0, 1)


def split_row(tensor: torch.Tensor, rank: int, size: int, dim: int = -1) -> torch.Tensor:
    """This rank's contiguous slice of a row whose length is a multiple of size."""
    n = tensor.shape[dim] // size
    return tensor.narrow(dim, rank * n, n)
