"""Packed attention registered with transformers' attention interface.

A packed row holds several samples; ``cu_seq_lens_q`` (cumulative sequence lengths over the flattened
batch, the flash-attn varlen convention) tells where each starts. Attention never crosses a boundary
and no dense [S, S] mask is built: flash-attn's varlen kernel on CUDA in fp16/bf16 when installed, causal
sdpa per segment otherwise. With a sequence-parallel group set (core.model.sequence_parallel), each rank holds a
contiguous slice of the row and K/V are all-gathered (llama3-style context parallelism).
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface

from core.model import sequence_parallel
from core.model.generation import PACKED_ATTENTION
from core.model.kernels import flash_attn_varlen_func, flash_kernel_applies, segment_sdpa


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
