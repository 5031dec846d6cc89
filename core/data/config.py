"""The data section of the training config: which files, how they are mixed, masked, packed and cached.

It lives with the data wing so the trainer's data sources read it without importing the train wing;
`core.train.config` puts it into the full TrainConfig tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class DataConfig:
    paths: list[str] = field(default_factory=list)  # JSONL / JSON / parquet files or HF dataset folders (core.data.readers)
    mixing: Literal["concat", "weights", "upsample"] = "concat"
    source_factors: list[float] = field(default_factory=list)  # shares (weights) or factors (upsample), one per path
    task_upsample: dict[str, float] = field(default_factory=dict)  # task_type (or its first level) -> factor
    mask: Literal["all", "last", "prompt"] = "all"
    max_len: int = 2048
    packing: bool = True
    shuffle: bool = True  # false keeps the file order (curricula); epochs after the first are still shuffled
    truncation: Literal["truncate", "drop"] = "truncate"
    eval_paths: list[str] = field(default_factory=list)
    eval_split: float = 0.0  # held-out fraction of the training records
    lenient: bool = False  # skip invalid lines (counted) instead of failing
    format: Literal["auto", "records", "openai", "alpaca", "sharegpt"] = "auto"  # row format (core.data.readers)
    task_type: str = ""  # task_type for rows without one (alpaca, sharegpt, openai); empty: general/chat
    extra_roles: list[str] = field(default_factory=list)
    num_proc: int = 0  # rendering processes; 0: every core this process may run on
    # Chat-template handling (docs/templates.md): the strategy the probe picks, or one forced; the text that
    # ends an assistant turn ("" = the probe's; appended where the template has none); what to do with a
    # system message / parallel calls / tools a template cannot render: adapt (counted) or refuse.
    template_strategy: Literal["auto", "markers", "prefix", "per_turn"] = "auto"
    end_of_turn: str = ""
    system: Literal["fold", "refuse"] = "fold"
    parallel_calls: Literal["split", "refuse"] = "split"
    tools: Literal["fallback", "refuse"] = "fallback"
    cache_dir: str = ".cache/sft-suites/tokenized"


def render_policy(cfg: DataConfig):
    from core.data.adapt import RenderPolicy

    return RenderPolicy(strategy=cfg.template_strategy, end_of_turn=cfg.end_of_turn, system=cfg.system,
                        parallel_calls=cfg.parallel_calls, tools=cfg.tools)
