"""The demo's options: one typed dataclass, its command line (every field a flag), and the checks that reject
bad combinations up front."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields

from core.train import config as config_lib
from core.train.config import TrainConfig


@dataclass
class DemoConfig:
    model: str = "tiny"
    stage1_model: str = ""  # a stage-1 result to start from: skips stage-1 training (still evaluated)
    out: str = "runs/longctx-demo"
    task: str = "passkey"
    haystack: str = "noise"  # the classic noise; "prose" is the harder option
    lang: str = "en"
    phrasing: str = "classic"  # the classic passkey prompt; "varied" draws every template
    passkey_kind: str = "word"  # word: a one-token key (see tasks.SampleFactory.word_values); digits: a number
    seed: int = 0
    stage1_min_len: int = 80
    stage1_len: int = 256
    stage1_steps: int = 570
    curriculum: float = 0.5  # share of stage 1 over which the longest sample length rises to stage1_len
    stage2_min_len: int = 0  # 0: every stage-2 sample has stage2_len tokens
    stage2_len: int = 512
    stage2_steps: int = 200
    rope_theta: float = 1_000_000.0
    rope_scale: float = 0.0  # instead of rope_theta: the NTK-aware base for this stretch factor
    tokens_per_batch: int = 8192
    stage2_tokens_per_batch: int = 4096
    lr: float = 5e-3
    stage2_lr: float = 5e-4  # gentle: a high rate re-fits stage 1's features to the stage-2 length and loses extrapolation
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    mask: str = "prompt"  # loss on every token
    sp_size: int = 1
    baseline: bool = True  # also run stage 2 without the base change
    eval_lengths: list[int] = field(default_factory=list)  # default: stage-1 length x 1, 2, 4
    eval_depths: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    eval_per_cell: int = 20
    eval_batch_size: int = 16
    eval_max_new_tokens: int = 24
    system_share: float = 0.0


HELP = {
    "model": "'tiny' or a local HF checkpoint", "stage1_model": "start from this stage-1 result (skips stage-1 training)",
    "out": "run folder", "task": "the long-context task to train and grade", "haystack": "noise | prose | files",
    "lang": "en | zh | mix", "phrasing": "classic (one short prompt, key stated twice) | varied",
    "passkey_kind": "word (one token of the tokenizer) | digits", "seed": "data, init and trainer seed",
    "stage1_min_len": "shortest stage-1 sample (tokens)", "stage1_len": "longest stage-1 sample (tokens)",
    "stage1_steps": "stage-1 optimizer steps", "curriculum": "share of stage 1 over which the longest length rises",
    "stage2_min_len": "shortest stage-2 sample; 0: all at --stage2-len", "stage2_len": "stage-2 sample length",
    "stage2_steps": "stage-2 optimizer steps (0: no stage 2)", "rope_theta": "stage-2 RoPE base",
    "rope_scale": "instead of --rope-theta: NTK-aware base for this stretch factor",
    "tokens_per_batch": "stage-1 tokens per optimizer step", "stage2_tokens_per_batch": "stage-2 tokens per step",
    "lr": "stage-1 peak learning rate", "stage2_lr": "stage-2 peak learning rate", "warmup_steps": "linear warmup",
    "min_lr_ratio": "cosine floor as a share of the peak", "weight_decay": "AdamW weight decay",
    "mask": "prompt (loss on every token) | all | last", "sp_size": "sequence-parallel group size (launch with torchrun)",
    "baseline": "also run stage 2 without the base change", "eval_lengths": "NIAH lengths; empty: the stage-1 length x1, x2 and x4",
    "eval_depths": "NIAH needle depths", "eval_per_cell": "samples per (length, depth) cell",
    "eval_batch_size": "generation batch", "eval_max_new_tokens": "reply budget",
    "system_share": "share of samples with a system prompt",
}


def parse_args(argv: list[str] | None) -> tuple[DemoConfig, list[tuple[str, str]]]:
    from suites.longctx.generate import parse_list

    defaults = DemoConfig()
    parser = argparse.ArgumentParser(prog="python -m suites.longctx.train", description=__doc__.split("\n")[0],
                                     epilog="Trainer options (--optim.beta2 0.99, --loss_reduction sample, ...) apply "
                                            "to both stages.", allow_abbrev=False,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(DemoConfig):
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, dest=f.name, default=value, action=argparse.BooleanOptionalAction,
                                help=HELP[f.name])
        elif isinstance(value, list):
            parser.add_argument(flag, dest=f.name, default=",".join(map(str, value)), help=HELP[f.name])
        else:
            parser.add_argument(flag, dest=f.name, type=type(value), default=value, help=HELP[f.name])
    args, rest = parser.parse_known_args(argv)
    demo = DemoConfig(**{f.name: getattr(args, f.name) for f in fields(DemoConfig) if not isinstance(getattr(defaults, f.name), list)})
    demo.eval_lengths = parse_list(args.eval_lengths, int, "length") if args.eval_lengths else [
        demo.stage1_len, 2 * demo.stage1_len, 4 * demo.stage1_len]
    demo.eval_depths = parse_list(args.eval_depths, float, "depth")
    overrides, i = [], 0
    while i < len(rest):
        if not rest[i].startswith("--"):
            parser.error(f"unrecognized argument {rest[i]!r}")
        if "=" in rest[i]:
            name, value = rest[i][2:].split("=", 1)
            i += 1
        elif i + 1 < len(rest):
            name, value = rest[i][2:], rest[i + 1]
            i += 2
        else:
            parser.error(f"{rest[i]} needs a value")
        try:  # a trainer option, dotted (optim.lr) or top-level (loss_reduction)
            config_lib.set_option(TrainConfig(), name.replace("-", "_"), value)
        except config_lib.ConfigError as e:
            parser.error(f"--{name}: {e}")
        overrides.append((name.replace("-", "_"), value))
    problems = []
    if not 0 < demo.stage1_min_len <= demo.stage1_len:
        problems.append("--stage1-min-len must be in (0, --stage1-len]")
    if demo.stage2_min_len and not demo.stage2_min_len <= demo.stage2_len:
        problems.append("--stage2-min-len must not exceed --stage2-len")
    if demo.rope_theta and demo.rope_scale and demo.rope_theta != defaults.rope_theta:
        problems.append("--rope-theta, --rope-scale: give one of them")
    if demo.phrasing not in ("classic", "varied"):
        problems.append("--phrasing must be classic or varied")
    if demo.passkey_kind not in ("word", "digits"):
        problems.append("--passkey-kind must be word or digits")
    if not 0 <= demo.curriculum <= 1:
        problems.append("--curriculum must be in [0, 1]")
    if demo.stage1_steps < 1 or demo.stage2_steps < 0:
        problems.append("--stage1-steps must be >= 1 and --stage2-steps >= 0")
    if demo.lang not in ("en", "zh", "mix"):
        problems.append(f"--lang must be en, zh or mix, got {demo.lang!r}")
    small = [f"--{k.replace('_', '-')}" for k in ("eval_per_cell", "eval_batch_size", "eval_max_new_tokens",
                                                  "tokens_per_batch", "stage2_tokens_per_batch", "stage2_len", "sp_size")
             if getattr(demo, k) < 1]
    if small:
        problems.append(f"{', '.join(small)} must be >= 1")
    if any(n < 1 for n in demo.eval_lengths) or any(not 0 <= d <= 1 for d in demo.eval_depths):
        problems.append("--eval-lengths must be positive and --eval-depths in [0, 1]")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if demo.sp_size >= 1 and world % demo.sp_size:
        problems.append(f"--sp-size {demo.sp_size}: the world size ({world} processes) must be a multiple of it; "
                        "launch with torchrun --nproc-per-node N")
    probe = TrainConfig()  # the trainer options given, checked now rather than after data generation
    probe.data.paths = ["(generated)"]
    for name, value in overrides:
        config_lib.set_option(probe, name, value)
    try:
        config_lib.validate(probe)
    except config_lib.ConfigError as e:
        problems.append(" ".join(str(e).split()))
    if problems:
        parser.error("; ".join(problems))
    return demo, overrides
