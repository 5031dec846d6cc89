"""RoPE-base scaling: choose a base (--rope-theta X, or --rope-scale S for the NTK-aware base), write it where
transformers 5 reads it and check the rotary modules' inv_freq; and the extrapolation estimates of Liu et
al., "Scaling Laws of RoPE-based Extrapolation" (ICLR 2024, arXiv:2310.05209).

Liu et al., for head dimension d, pre-training length T_train and pre-training base b_pre (10,000):
  critical dimension  d_extra = 2 * ceil((d / 2) * log_{b_pre}(T_train / 2pi))
      the dimensions past it never complete a period during pre-training, so their angles beyond T_train
      are out of distribution;
  extrapolation bound T_extra(b) = 2pi * b^(d_extra / d)   (Theorem 2: a larger base b, tuned at <= T_train)
      and its inverse, the base needed for a target length T: b = (T / 2pi)^(d / d_extra);
  critical base       b_0 = 2 * T_tune / pi                 (Theorem 1: with a base at or below it every
      dimension's angle reaches pi/2 during tuning, so smaller bases extrapolate without a hard bound).
For Llama 2 (d = 128, T_train = 4096): d_extra = 92, b_0 = 2608, and b = 1,000,000 gives T_extra ~ 129K.

    python -m suites.longctx.rope --model PATH|tiny --train-length 4096 --target 131072 [--base 1e6]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from core.errors import UserError
from core.model.loading import default_inv_freq, rope_base, rotary_modules, set_rope_base


def head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def ntk_base(base: float, scale: float, dim: int) -> float:
    """NTK-aware base for stretching the context `scale` times: base * scale^(d / (d - 2))."""
    if scale <= 0 or dim <= 2:
        raise ValueError(f"NTK scaling needs scale > 0 and head dim > 2, got scale={scale}, d={dim}")
    return base * scale ** (dim / (dim - 2))


def resolve_theta(current: float, dim: int, rope_theta: float = 0.0, rope_scale: float = 0.0) -> float:
    """The base to train with: --rope-theta as given, or the NTK-aware base for --rope-scale; 0 keeps it."""
    if rope_theta and rope_scale:
        raise ValueError("--rope-theta and --rope-scale both given; choose one")
    if rope_theta < 0 or rope_scale < 0:
        raise ValueError("--rope-theta and --rope-scale must be positive")
    if rope_scale:
        return ntk_base(current, rope_scale, dim)
    return rope_theta or current


def apply_rope_base(model, theta: float) -> torch.Tensor:
    """Set the base (config.rope_parameters["rope_theta"]), rebuild every rotary module's inv_freq and check it
    against 1 / theta^(2i/d). Returns the new inv_freq."""
    inv_freq = set_rope_base(model, theta)
    expected = default_inv_freq(theta, head_dim(model.config))
    for module in rotary_modules(model):
        if module.config.rope_parameters.get("rope_type", "default") == "default" and not torch.allclose(
                module.inv_freq.float().cpu(), expected, rtol=1e-6, atol=0):
            raise RuntimeError(f"inv_freq of {type(module).__name__} does not match base {theta}")
    return inv_freq


def rope_prepare(theta: float) -> Callable:
    """A `prepare(model, tokenizer, cfg)` hook for core.train.loop.fit that raises the base before training."""

    def prepare(model, tokenizer, cfg) -> None:
        before = rope_base(model)
        apply_rope_base(model, theta)
        print(f"[rope] base {before:,.0f} -> {theta:,.0f}; inv_freq checked against the formula")

    return prepare


@dataclass
class Extrapolation:
    head_dim: int
    train_length: int
    pretrain_base: float
    critical_dimension: int
    critical_base: float

    def limit(self, base: float) -> float:
        """Liu et al.'s T_extra for a base >= the pre-training base."""
        return 2 * math.pi * base ** (self.critical_dimension / self.head_dim)

    def base_for(self, length: float) -> float:
        return (length / (2 * math.pi)) ** (self.head_dim / self.critical_dimension)


def extrapolation(dim: int, train_length: int, pretrain_base: float = 10000.0, tune_length: int | None = None) -> Extrapolation:
    ratio = train_length / (2 * math.pi)
    d_extra = 2 * math.ceil((dim / 2) * math.log(ratio) / math.log(pretrain_base)) if ratio > 1 else 0
    d_extra = min(max(d_extra, 2), dim)
    return Extrapolation(dim, train_length, pretrain_base, d_extra, 2 * (tune_length or train_length) / math.pi)


def describe(dim: int, train_length: int, base: float, pretrain_base: float = 10000.0, target: int | None = None) -> str:
    e = extrapolation(dim, train_length, pretrain_base)
    lines = [
        f"RoPE extrapolation (Liu et al., arXiv:2310.05209), head dim {dim}, trained at {train_length} tokens "
        f"with base {pretrain_base:,.0f}:",
        f"  critical dimension d_extra = {e.critical_dimension} of {dim}",
        f"  critical base (Theorem 1, smaller bases) = {e.critical_base:,.0f}",
        f"  extrapolation limit with base {pretrain_base:,.0f}: {e.limit(pretrain_base):,.0f} tokens; "
        f"with base {base:,.0f}: {e.limit(base):,.0f} tokens",
    ]
    if target:
        lines.append(f"  base needed for {target:,} tokens: {e.base_for(target):,.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m suites.longctx.rope", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny", help="read head dim and base from this model's config")
    parser.add_argument("--head-dim", type=int, default=0, help="instead of --model")
    parser.add_argument("--train-length", type=int, required=True, help="the length the model was trained at")
    parser.add_argument("--pretrain-base", type=float, default=0.0, help="default: the model's base, else 10000")
    parser.add_argument("--base", type=float, default=0.0, help="a planned base (default: --rope-scale or 1e6)")
    parser.add_argument("--rope-scale", type=float, default=0.0, help="plan the NTK-aware base for this stretch")
    parser.add_argument("--target", type=int, default=0, help="the context length you want")
    args = parser.parse_args(argv)
    for flag, value, low in (("--train-length", args.train_length, 1), ("--head-dim", args.head_dim, 0),
                             ("--target", args.target, 0), ("--pretrain-base", args.pretrain_base, 0),
                             ("--base", args.base, 0), ("--rope-scale", args.rope_scale, 0)):
        if value < low:
            raise UserError(f"must be {'positive' if low else '>= 0 (0: the default)'}, got {value:g}", field=flag)
    if args.head_dim % 2:
        raise UserError(f"RoPE rotates pairs of dimensions: give an even head dim, got {args.head_dim}", field="--head-dim")
    if args.head_dim:
        dim, pre = args.head_dim, args.pretrain_base or 10000.0
    else:
        from core.model.loading import load_model

        model = load_model(args.model)
        dim, pre = head_dim(model.config), args.pretrain_base or rope_base(model)
    base = resolve_theta(pre, dim, args.base, args.rope_scale) if (args.base or args.rope_scale) else 1e6
    text = describe(dim, args.train_length, base, pre, args.target or None)
    print(text)
    return text


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.longctx.rope", main)
