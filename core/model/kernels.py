"""The attention kernels packed attention and sequence parallelism dispatch to: flash-attn's varlen kernel
when it applies (CUDA, fp16/bf16, installed) and causal sdpa per segment, the reference on every backend."""

from __future__ import annotations

import torch
import torch.nn.functional as F

try:  # optional CUDA kernels
    from flash_attn import flash_attn_varlen_func
except ImportError:  # pragma: no cover - depends on the machine
    flash_attn_varlen_func = None

FLASH_DTYPES = (torch.float16, torch.bfloat16)
_warned_fp32 = False


def flash_kernel_applies(x: torch.Tensor, kernel_installed: bool) -> bool:
    """Whether flash-attn (or ring-flash-attn) can run on `x`: an installed kernel, a CUDA tensor, and half
    precision, which is all those kernels take. An fp32 run on CUDA falls back to sdpa (said once) instead of
    failing inside the kernel."""
    global _warned_fp32
    if not kernel_installed or x.device.type != "cuda":
        return False
    if x.dtype in FLASH_DTYPES:
        return True
    if not _warned_fp32:
        _warned_fp32 = True
        print(f"[attention] flash-attn takes fp16/bf16 only; this {x.dtype} run uses sdpa per segment "
              "(pass --model.dtype bf16 for the flash kernel)")
    return False


def segment_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_q: list[int], cu_k: list[int],
                 scaling: float | None) -> torch.Tensor:
    """q [H, Tq, D], k/v [Hkv, Tk, D]; segment i is q[cu_q[i]:cu_q[i+1]] against k[cu_k[i]:cu_k[i+1]], causal
    with the query block aligned to the *end* of its key block (so a query slice of a longer sequence sees
    every earlier key). Returns [H, Tq, D]."""
    out = torch.empty_like(q)
    gqa = q.shape[0] != k.shape[0]
    for i in range(len(cu_q) - 1):
        qs, qe, ks, ke = cu_q[i], cu_q[i + 1], cu_k[i], cu_k[i + 1]
        if qe == qs:
            continue
        lq, lk = qe - qs, ke - ks
        if lq == lk:
            out[:, qs:qe] = F.scaled_dot_product_attention(
                q[:, qs:qe], k[:, ks:ke], v[:, ks:ke], is_causal=True, scale=scaling, enable_gqa=gqa)
        else:  # bottom-right aligned causal mask for a query slice
            allowed = torch.ones(lq, lk, dtype=torch.bool, device=q.device).tril(diagonal=lk - lq)
            out[:, qs:qe] = F.scaled_dot_product_attention(
                q[:, qs:qe], k[:, ks:ke], v[:, ks:ke], attn_mask=allowed, scale=scaling, enable_gqa=gqa)
    return out
