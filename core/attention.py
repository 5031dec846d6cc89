"""Packed attention registered with transformers' attention interface.

A packed row holds several samples; ``cu_seq_lens_q`` (cumulative sequence lengths over the flattened
batch, the flash-attn varlen convention) tells where each starts. Attention never crosses a boundary
and no dense [S, S] mask is built: flash-attn's varlen kernel on CUDA in fp16/bf16 when installed, causal
sdpa per segment otherwise. With a sequence-parallel group set (core.sequence_parallel), each rank holds a
contiguous slice of the row and K/V are all-gathered (llama3-style context parallelism).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AttentionInterface

from core.generation import PACKED_ATTENTION

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


def packed_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    cu_seq_lens_q: torch.Tensor | None = None,
    max_length_q: int | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """query [B, H, S, D], key/value [B, Hkv, S, D] -> ([B, S, H, D], None)."""
    from core import sequence_parallel

    if attention_mask is not None:
        raise ValueError("packed attention takes no attention mask: pass position ids and cu_seq_lens_q")
    if dropout:
        raise ValueError("attention dropout is not supported by packed attention; set attention_dropout=0")
    batch, heads, seq, dim = query.shape
    if cu_seq_lens_q is None:  # unpacked: every row is one sequence
        cu_seq_lens_q = torch.arange(0, (batch + 1) * seq, seq, dtype=torch.int32, device=query.device)
    # Flatten the batch into one token axis: [T, H, D].
    q = query.transpose(1, 2).reshape(batch * seq, heads, dim)
    k = key.transpose(1, 2).reshape(batch * seq, key.shape[1], dim)
    v = value.transpose(1, 2).reshape(batch * seq, value.shape[1], dim)
    group = sequence_parallel.current_group()
    if group is not None:
        out = sequence_parallel.attention(q, k, v, cu_seq_lens_q, scaling, group)
    elif flash_kernel_applies(q, flash_attn_varlen_func is not None):
        cu = cu_seq_lens_q.to(torch.int32)
        longest = max_length_q or int((cu[1:] - cu[:-1]).max())
        out = flash_attn_varlen_func(q, k, v, cu, cu, longest, longest, softmax_scale=scaling, causal=True)
    else:
        cu = cu_seq_lens_q.tolist()
        out = segment_sdpa(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), cu, cu, scaling)
        out = out.transpose(0, 1)
    return out.reshape(batch, seq, heads, dim), None


AttentionInterface.register(PACKED_ATTENTION, packed_attention_forward)


def enable_packed_attention(model) -> None:
    model.set_attn_implementation(PACKED_ATTENTION)


def packing_kwargs(seq_lens: list[int], device: torch.device | str = "cpu") -> dict:
    """Keyword arguments for a model forward over one packed row with these sequence lengths."""
    cu = torch.zeros(len(seq_lens) + 1, dtype=torch.int32)
    cu[1:] = torch.cumsum(torch.tensor(seq_lens, dtype=torch.int32), 0)
    cu = cu.to(device)
    longest = max(seq_lens)
    return {"cu_seq_lens_q": cu, "cu_seq_lens_k": cu, "max_length_q": longest, "max_length_k": longest}
