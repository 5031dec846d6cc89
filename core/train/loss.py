"""Chunked cross-entropy over trained positions only, and exact loss reductions.

The loss of a batch is ``sum_t w_t * ce_t`` with per-token weights whose denominators are counted over
the whole global batch (all micro-batches of an accumulation window, all data-parallel ranks):

  token  : w_t = 1 / N_tokens                     (mean over every trained token)
  sample : w_t = 1 / (n_s * N_samples)            (mean within each sample, then over samples)

Summing such partial losses over micro-batches and ranks gives exactly the global mean, which a mean of
per-micro-batch means does not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from core.data.chat import IGNORE_INDEX

REDUCTIONS = ("token", "sample")


def _chunk_ce(hidden: torch.Tensor, targets: torch.Tensor, lm_head: torch.nn.Module) -> torch.Tensor:
    logits = lm_head(hidden).float()
    return F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX, reduction="none")


def token_losses(
    hidden: torch.Tensor, targets: torch.Tensor, lm_head: torch.nn.Module, chunk_size: int = 2048,
    only_trained: bool = True,
) -> torch.Tensor:
    """Per-token cross-entropy (fp32, 0 where the target is ignored) for hidden [T, H] and targets [T].

    Only positions with a target reach the output projection (`only_trained`): the vocabulary matmul and the
    cross-entropy cost scales with trained tokens, not with the row (a RAG or long-context prompt of thousands
    of tokens with an answer of tens costs tens). Ignored positions contribute 0 and no gradient either way,
    so losses and gradients equal the all-positions computation (`only_trained=False`, kept as the reference).
    Logits exist for one chunk at a time; each chunk is checkpointed, so backward recomputes its logits instead
    of keeping full-vocabulary logits alive."""
    if not only_trained:
        return _chunked_ce(hidden, targets, lm_head, chunk_size)
    index = (targets != IGNORE_INDEX).nonzero().squeeze(1)
    if index.numel() == 0:
        # One ignored position (loss 0, gradient 0) keeps the output projection in the graph, so every rank's
        # backward reaches the same parameters (DeepSpeed/DDP reduce them collectively).
        index = torch.zeros(1, dtype=torch.long, device=targets.device)
    picked = _chunked_ce(hidden.index_select(0, index), targets.index_select(0, index), lm_head, chunk_size)
    return picked.new_zeros(targets.shape[0]).index_copy(0, index, picked)


def _chunked_ce(hidden: torch.Tensor, targets: torch.Tensor, lm_head: torch.nn.Module, chunk_size: int) -> torch.Tensor:
    if chunk_size <= 0 or hidden.shape[0] <= chunk_size:
        return _chunk_ce(hidden, targets, lm_head)
    pieces = []
    for start in range(0, hidden.shape[0], chunk_size):
        h, y = hidden[start : start + chunk_size], targets[start : start + chunk_size]
        if torch.is_grad_enabled() and h.requires_grad:
            pieces.append(checkpoint(_chunk_ce, h, y, lm_head, use_reentrant=False))
        else:
            pieces.append(_chunk_ce(h, y, lm_head))
    return torch.cat(pieces)


def loss_weights(
    token_sample: torch.Tensor,
    trained: torch.Tensor,
    sample_trained_tokens: torch.Tensor,
    reduction: str,
    global_tokens: int,
    global_samples: int,
) -> torch.Tensor:
    """Per-token weights.

    token_sample: [T] index of each token's sample (into sample_trained_tokens); trained: [T] bool;
    sample_trained_tokens: [S] trained-target count of each sample *over its whole length* (so a sample
    split across sequence-parallel ranks keeps one weight); global_*: denominators of the global batch."""
    if reduction == "token":
        return trained.float() / max(global_tokens, 1)
    if reduction == "sample":
        per_sample = 1.0 / (sample_trained_tokens.clamp(min=1).float() * max(global_samples, 1))
        return trained.float() * per_sample[token_sample]
    raise ValueError(f"loss reduction must be one of {REDUCTIONS}, got {reduction!r}")


def weighted_loss(losses: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (losses * weights).sum()


def channel_sums(
    losses: torch.Tensor, trained: torch.Tensor, token_channel: torch.Tensor, num_channels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss sums and trained-token counts per channel (task_type index): both [num_channels]."""
    mask = trained.float()
    sums = torch.zeros(num_channels, dtype=torch.float64, device=losses.device)
    counts = torch.zeros(num_channels, dtype=torch.float64, device=losses.device)
    sums.index_add_(0, token_channel, (losses.detach() * mask).double())
    counts.index_add_(0, token_channel, mask.double())
    return sums, counts
