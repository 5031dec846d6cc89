"""Typed training configuration: dataclasses, YAML files, dotted CLI overrides, and up-front validation.

Every leaf is settable as ``--section.field=value`` (``--optim.lr=1e-4``); a YAML file given with
``--config`` holds the same tree. Bad combinations are rejected before any model or data is loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from core.data.config import DataConfig
from core.errors import ConfigError
from core.outputs import atomic_write

__all__ = ["ConfigError", "DataConfig"]  # re-exported: TrainConfig's sections and the CLI error


@dataclass
class ModelConfig:
    path: str = "tiny"
    dtype: Literal["fp32", "bf16"] = "fp32"
    attention: Literal["packed", "sdpa", "eager"] = "packed"
    rope_theta: float = 0.0  # 0 keeps the checkpoint's base
    special_tokens: list[str] = field(default_factory=list)
    gradient_checkpointing: bool = False
    trust_remote_code: bool = False
    init_seed: int = 0  # random init of the tiny model


@dataclass
class LoraConfig:
    enabled: bool = False
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    save_merged: bool = False


@dataclass
class OptimConfig:
    lr: float = 1e-5
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int = 0
    warmup_ratio: float = 0.0
    min_lr_ratio: float = 0.1  # the schedule's floor, as a fraction of lr
    clip_grad: float = 1.0


@dataclass
class EngineConfig:
    zero_stage: Literal[0, 1, 2, 3] = 0
    offload_optimizer: bool = False
    offload_params: bool = False
    sp_size: int = 1  # sequence-parallel group size; world = dp x sp


@dataclass
class TrainConfig:
    out: str = "runs/default"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    freeze: Literal["none", "embeddings", "attention", "mlp"] = "none"  # train only this part
    epochs: float = 1.0
    max_steps: int = 0  # > 0 caps the run
    micro_batch_size: int = 1  # samples per micro-step per rank before packing
    gradient_accumulation: int = 1
    loss_reduction: Literal["token", "sample"] = "token"
    loss_chunk_size: int = 2048
    seed: int = 42
    log_every: int = 1
    eval_every: int = 0
    save_every: int = 0
    keep_checkpoints: int = 2
    resume: bool = False
    progress: bool = True

    def global_batch_size(self, world_size: int) -> int:
        dp = world_size // self.engine.sp_size
        return self.micro_batch_size * self.gradient_accumulation * dp


# --- validation -------------------------------------------------------------------------------------------


def validate(cfg: TrainConfig, world_size: int = 1) -> TrainConfig:
    """Reject bad values and clashing options, naming the options and the reason."""
    _check_types(cfg)
    problems = []

    def clash(options: str, why: str) -> None:
        problems.append(f"{options}: {why}")

    if not cfg.data.paths:
        clash("data.paths", "no training data given (--data FILE [FILE ...])")
    if cfg.data.mixing != "concat" and len(cfg.data.source_factors) != len(cfg.data.paths):
        clash("data.mixing, data.source_factors",
              f"mixing={cfg.data.mixing} needs one factor per path ({len(cfg.data.paths)}), got {len(cfg.data.source_factors)}")
    if cfg.data.mixing == "concat" and cfg.data.source_factors:
        clash("data.mixing, data.source_factors", "factors are ignored with mixing=concat; choose weights or upsample")
    if any(f < 0 for f in cfg.data.source_factors) or any(f < 0 for f in cfg.data.task_upsample.values()):
        clash("data.source_factors / data.task_upsample", "factors must be >= 0")
    if cfg.data.eval_paths and cfg.data.eval_split:
        clash("data.eval_paths, data.eval_split", "give held-out files or a split fraction, not both")
    if not 0 <= cfg.data.eval_split < 1:
        clash("data.eval_split", "must be in [0, 1)")
    if cfg.eval_every and not (cfg.data.eval_paths or cfg.data.eval_split):
        clash("eval_every, data.eval_paths/eval_split", "evaluation is scheduled but no held-out data is configured")
    if cfg.data.max_len < 8:
        clash("data.max_len", "must be >= 8")
    if cfg.lora.enabled and cfg.freeze != "none":
        clash("lora.enabled, freeze", "LoRA already freezes the base model; use one or the other")
    if cfg.lora.enabled and (cfg.lora.r <= 0 or not cfg.lora.target_modules):
        clash("lora.r, lora.target_modules", "LoRA needs r > 0 and at least one target module")
    if cfg.lora.save_merged and not cfg.lora.enabled:
        clash("lora.save_merged, lora.enabled", "there is no adapter to merge without LoRA")
    if cfg.engine.offload_optimizer and cfg.engine.zero_stage == 0:
        clash("engine.offload_optimizer, engine.zero_stage", "optimizer offload needs ZeRO stage >= 1")
    if cfg.engine.offload_params and cfg.engine.zero_stage != 3:
        clash("engine.offload_params, engine.zero_stage", "parameter offload needs ZeRO stage 3")
    if cfg.engine.sp_size < 1:
        clash("engine.sp_size", "must be >= 1")
    elif world_size % cfg.engine.sp_size:
        clash("engine.sp_size, world size", f"world size {world_size} is not a multiple of sp_size {cfg.engine.sp_size}")
    if cfg.engine.sp_size > 1 and cfg.model.attention != "packed":
        clash("engine.sp_size, model.attention", "sequence parallelism runs inside the packed attention")
    if cfg.optim.warmup_steps and cfg.optim.warmup_ratio:
        clash("optim.warmup_steps, optim.warmup_ratio", "give warmup as steps or as a ratio, not both")
    if not 0 <= cfg.optim.warmup_ratio < 1 or not 0 <= cfg.optim.min_lr_ratio <= 1:
        clash("optim.warmup_ratio / optim.min_lr_ratio", "must be in [0, 1)")
    if cfg.optim.lr <= 0:
        clash("optim.lr", "must be > 0")
    if cfg.epochs <= 0 and cfg.max_steps <= 0:
        clash("epochs, max_steps", "one of them must be > 0")
    if cfg.micro_batch_size < 1 or cfg.gradient_accumulation < 1:
        clash("micro_batch_size, gradient_accumulation", "must be >= 1")
    if cfg.max_steps < 0 or cfg.epochs < 0:
        clash("max_steps / epochs", "must be >= 0 (max_steps 0: --epochs decides)")
    if cfg.log_every < 1 or cfg.eval_every < 0 or cfg.save_every < 0:
        clash("log_every / eval_every / save_every", "log_every must be >= 1, the others >= 0 (0: never)")
    if cfg.keep_checkpoints < 1:
        clash("keep_checkpoints", "must be >= 1")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return cfg


def _leaves(obj: Any, prefix: str = ""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", obj, f


def _check_types(cfg: TrainConfig) -> None:
    for name, owner, f in _leaves(cfg):
        hint = typing.get_type_hints(type(owner))[f.name]
        value = getattr(owner, f.name)
        if typing.get_origin(hint) is Literal and value not in typing.get_args(hint):
            raise ConfigError(f"{name}: {value!r} is not one of {list(typing.get_args(hint))}")


# --- loading: YAML + dotted overrides ---------------------------------------------------------------------


def _coerce(hint: Any, raw: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    try:
        if origin is Literal:
            choices = typing.get_args(hint)
            value = type(choices[0])(raw) if isinstance(raw, str) and not isinstance(choices[0], str) else raw
            if value not in choices:
                raise ValueError(f"not one of {list(choices)}")
            return value
        if origin is list:
            (item,) = typing.get_args(hint)
            items = raw if isinstance(raw, list) else [x for x in str(raw).split(",") if x]
            return [_coerce(item, x, name) for x in items]
        if origin is dict:
            return raw if isinstance(raw, dict) else json.loads(raw)
        if hint is bool:
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if hint in (int, float, str):
            if hint is int and isinstance(raw, float) and not raw.is_integer():
                raise ValueError("expected an integer")
            return hint(raw)
    except (ValueError, TypeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{name}: cannot use {raw!r}: {e}") from None
    raise ConfigError(f"{name}: unsupported type {hint}")


def set_option(cfg: TrainConfig, dotted: str, raw: Any) -> None:
    owner: Any = cfg
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not hasattr(owner, part) or not dataclasses.is_dataclass(getattr(owner, part)):
            raise ConfigError(f"unknown option {dotted!r}")
        owner = getattr(owner, part)
    if not dataclasses.is_dataclass(owner) or parts[-1] not in {f.name for f in dataclasses.fields(owner)}:
        raise ConfigError(f"unknown option {dotted!r}")
    hint = typing.get_type_hints(type(owner))[parts[-1]]
    if isinstance(hint, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    setattr(owner, parts[-1], _coerce(hint, raw, dotted))


def apply_tree(cfg: TrainConfig, tree: dict, prefix: str = "") -> None:
    for key, value in tree.items():
        if isinstance(value, dict) and dataclasses.is_dataclass(_resolve(cfg, prefix + key)):
            apply_tree(cfg, value, prefix + key + ".")
        else:
            set_option(cfg, prefix + key, value)


def _resolve(cfg: TrainConfig, dotted: str) -> Any:
    owner: Any = cfg
    for part in dotted.split("."):
        owner = getattr(owner, part, None)
    return owner


def load_yaml(cfg: TrainConfig, path: str) -> None:
    with open(path, encoding="utf-8") as f:
        tree = yaml.safe_load(f) or {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of options")
    try:
        apply_tree(cfg, tree)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def to_dict(cfg: TrainConfig) -> dict:
    return dataclasses.asdict(cfg)


def save(cfg: TrainConfig, path: str) -> None:
    with atomic_write(path, keep_partial=False) as f:
        yaml.safe_dump(to_dict(cfg), f, sort_keys=False, allow_unicode=True)


# --- command line -----------------------------------------------------------------------------------------

SHORTCUTS = {  # convenience flag -> dotted option
    "data": "data.paths", "model": "model.path", "max_steps": "max_steps", "epochs": "epochs",
    "out": "out", "resume": "resume", "eval_data": "data.eval_paths",
}


def build_parser(prog: str, description: str, defaults: TrainConfig, parents: list | tuple = (),
                 usage: str | None = None) -> argparse.ArgumentParser:
    """The trainer's options; `parents` (a suite's own option groups) make one help page with one usage line."""
    d = defaults
    parser = argparse.ArgumentParser(prog=prog, description=description, parents=list(parents), usage=usage,
                                     conflict_handler="resolve" if parents else "error")
    parser.add_argument("--config", help="YAML file with options (CLI options override it)")
    parser.add_argument("--data", nargs="+", help="training data (data.paths): records, Alpaca, ShareGPT or OpenAI "
                        "rows in JSONL / JSON / parquet files or HF dataset folders; see --data.format")
    parser.add_argument("--eval-data", nargs="+", dest="eval_data", help="held-out record files (data.eval_paths)")
    parser.add_argument("--model", help=f"'tiny' or a local HF checkpoint; default: {d.model.path}")
    parser.add_argument("--out", help=f"run folder; default: {d.out}")
    parser.add_argument("--max-steps", dest="max_steps", type=int,
                        help=f"stop after this many optimizer steps; default: {d.max_steps} (0: --epochs decides)")
    parser.add_argument("--max_steps", dest="max_steps", type=int, help=argparse.SUPPRESS)  # the dotted spelling
    parser.add_argument("--epochs", type=float, help=f"passes over the data, fractions allowed (1.1); default: {d.epochs}")
    parser.add_argument("--resume", action="store_true", default=None,
                        help=f"continue from the latest checkpoint in --out; default: {str(d.resume).lower()}")
    # DeepSpeed's launcher appends --local_rank=N; the rank is read from the environment it also sets.
    parser.add_argument("--local_rank", "--local-rank", dest="launcher_local_rank", type=int, help=argparse.SUPPRESS)
    add_dotted_options(parser, "all options (dotted; also settable in --config YAML)", defaults)
    return parser


def add_dotted_options(parser: argparse.ArgumentParser, title: str, defaults: Any) -> None:
    """One `--a.b V` option (dest "opt:a.b", for set_option) per leaf of the `defaults` dataclass tree, in a
    group titled `title`; a name the parser already offers is left to that option."""
    group = parser.add_argument_group(title)
    for name, owner, f in _leaves(defaults):
        value = getattr(owner, f.name)
        shown = ",".join(map(str, value)) if isinstance(value, list) else json.dumps(value) if isinstance(value, dict) else value
        hint = typing.get_type_hints(type(owner))[f.name]
        choices = f" {{{'|'.join(map(str, typing.get_args(hint)))}}}" if typing.get_origin(hint) is Literal else ""
        if f"--{name}" in parser._option_string_actions:  # top-level options already offered above
            continue
        nargs = "+" if typing.get_origin(hint) is list else None
        group.add_argument(f"--{name}", dest=f"opt:{name}", metavar="V", nargs=nargs, help=f"default: {shown}{choices}")


@contextlib.contextmanager
def exit_on_config_error(prog: str):
    """For command-line entry points: a ConfigError ends the program with a one-line message, not a traceback."""
    try:
        yield
    except ConfigError as e:
        raise SystemExit(f"{prog}: error: {e}") from None


def check_paths_exist(cfg: TrainConfig) -> None:
    """Run when the data must exist (a suite pipeline writes its data after parsing the options)."""
    missing = [p for p in cfg.data.paths + cfg.data.eval_paths if not os.path.exists(p)]
    if missing:
        raise ConfigError("data.paths / data.eval_paths: no such file or folder: " + ", ".join(missing))


def from_args(argv: list[str] | None, prog: str, description: str, defaults: TrainConfig | None = None,
              world_size: int = 1) -> TrainConfig:
    """Parse the command line over `defaults` (a suite may pass its own), validate, return the config."""
    cfg = defaults if defaults is not None else TrainConfig()
    parser = build_parser(prog, description, cfg)
    args = parser.parse_args(argv)
    if args.config:
        load_yaml(cfg, args.config)
    for key, dotted in SHORTCUTS.items():
        value = getattr(args, key)
        if value is not None:
            set_option(cfg, dotted, value)
    for key, value in vars(args).items():
        if key.startswith("opt:") and value is not None:
            set_option(cfg, key[4:], value)
    return validate(cfg, world_size)
