"""python -m core.curate.quality IN.jsonl [IN2.jsonl ...] --out OUT.jsonl --report REPORT.md [--config gates.yaml]
[--blocklist FILE] [--augment-robustness FRACTION] [--seed S] [--dotted.option V ...]

Quality gates, cheapest first: length bounds, unique-token ratio, a user blocklist, exact duplicates
after normalisation, near duplicates (MinHash LSH), embedding diversity (faiss + all-MiniLM-L6-v2).
Every gate can be switched off and tuned; removals are counted per gate and per task_type, with
examples, in a markdown report (and a PNG beside it). Robustness copies with degraded prompts can then
be added to the kept samples.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Literal

from core.curate.augment import KINDS, AugmentConfig, add_robustness_copies
from core.curate.dedup import (
    EmbeddingConfig,
    EmbeddingGate,
    ExactDupConfig,
    ExactDupGate,
    NearDupConfig,
    NearDupGate,
)
from core.curate.gates import (
    BlocklistConfig,
    BlocklistGate,
    Item,
    LengthConfig,
    LengthGate,
    Removal,
    UniqueTokensConfig,
    UniqueTokensGate,
)
from core.curate.quality_report import QualityResult, format_summary, write_report
from core.data.readers import add_format_arguments, iter_any
from core.data.records import ReadStats, RecordError, write_records
from core.train.config import ConfigError, add_dotted_options, load_yaml, set_option

GATE_ORDER = ("length", "unique_tokens", "blocklist", "exact_dup", "near_dup", "embedding")


@dataclass
class QualityConfig:
    mask: Literal["all", "last"] = "all"  # which assistant messages count as the trained answer
    length: LengthConfig = field(default_factory=LengthConfig)
    unique_tokens: UniqueTokensConfig = field(default_factory=UniqueTokensConfig)
    blocklist: BlocklistConfig = field(default_factory=BlocklistConfig)
    exact_dup: ExactDupConfig = field(default_factory=ExactDupConfig)
    near_dup: NearDupConfig = field(default_factory=NearDupConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    examples: int = 3  # examples per gate in the report
    lenient: bool = False  # skip invalid input lines (counted) instead of failing
    progress: bool = True


def validate(cfg: QualityConfig) -> QualityConfig:
    problems = []
    if cfg.blocklist.enabled and not cfg.blocklist.path:
        problems.append("blocklist.enabled, blocklist.path: the blocklist gate needs a file (--blocklist FILE)")
    if cfg.blocklist.path and not os.path.isfile(cfg.blocklist.path):
        problems.append(f"blocklist.path: {cfg.blocklist.path} does not exist")
    for name, lo, hi in (("length.answer_min_chars, length.answer_max_chars", cfg.length.answer_min_chars,
                          cfg.length.answer_max_chars),
                         ("length.sample_min_chars, length.sample_max_chars", cfg.length.sample_min_chars,
                          cfg.length.sample_max_chars)):
        if lo < 0 or hi < 0 or (hi and lo > hi):
            problems.append(f"{name}: bounds must be >= 0 with min <= max (0 = no bound)")
    if not 0 < cfg.unique_tokens.min_ratio <= 1 or cfg.unique_tokens.window < 2:
        problems.append("unique_tokens.min_ratio, unique_tokens.window: need 0 < min_ratio <= 1 and window >= 2")
    if not 0 < cfg.near_dup.threshold <= 1 or cfg.near_dup.shingle < 1 or cfg.near_dup.num_perm < 16:
        problems.append("near_dup.threshold, near_dup.shingle, near_dup.num_perm: need 0 < threshold <= 1, "
                        "shingle >= 1, num_perm >= 16")
    elif cfg.near_dup.enabled:
        from datasketch import MinHashLSH

        try:
            MinHashLSH(threshold=cfg.near_dup.threshold, num_perm=cfg.near_dup.num_perm)
        except ValueError as e:
            problems.append(f"near_dup.threshold, near_dup.num_perm: datasketch cannot band {cfg.near_dup.num_perm} "
                            f"permutations for threshold {cfg.near_dup.threshold} ({e}); lower the threshold or "
                            "raise num_perm")
    if not -1 <= cfg.embedding.threshold <= 1 or cfg.embedding.batch_size < 1:
        problems.append("embedding.threshold, embedding.batch_size: need -1 <= threshold <= 1 and batch_size >= 1")
    if not 0 <= cfg.augment.fraction <= 1:
        problems.append("augment.fraction (--augment-robustness): must be in [0, 1] (one copy per chosen sample)")
    if not cfg.augment.kinds or set(cfg.augment.kinds) - set(KINDS):
        problems.append(f"augment.kinds: choose from {list(KINDS)}")
    if not 0 < cfg.augment.typo_rate <= 1:
        problems.append("augment.typo_rate: must be in (0, 1]")
    if problems:
        raise ConfigError("invalid quality configuration:\n  " + "\n  ".join(problems))
    return cfg


def build_gates(cfg: QualityConfig, encoder=None) -> list:
    makers = {
        "length": lambda: LengthGate(cfg.length, cfg.mask),
        "unique_tokens": lambda: UniqueTokensGate(cfg.unique_tokens, cfg.mask),
        "blocklist": lambda: BlocklistGate(cfg.blocklist, cfg.mask),
        "exact_dup": lambda: ExactDupGate(cfg.exact_dup, cfg.mask),
        "near_dup": lambda: NearDupGate(cfg.near_dup, cfg.mask),
        "embedding": lambda: EmbeddingGate(cfg.embedding, cfg.mask, encoder, cfg.progress),
    }
    return [makers[name]() for name in GATE_ORDER if getattr(cfg, name).enabled]


def run_quality(items: list[Item], cfg: QualityConfig, encoder=None) -> QualityResult:
    """Run the enabled gates in order over `items` (each gate sees only the survivors of the previous
    ones), then add robustness copies of the kept samples. Pure function of the items and the config."""
    validate(cfg)
    gates = build_gates(cfg, encoder)
    alive = list(items)
    removed: list[tuple[Item, Removal]] = []
    checked: dict[str, int] = {}
    for gate in gates:
        checked[gate.name] = len(alive)
        verdicts = gate.run(alive)
        removed += [(item, verdicts[item.index]) for item in alive if item.index in verdicts]
        alive = [item for item in alive if item.index not in verdicts]
    copies, augment_stats = [], None
    if cfg.augment.fraction:
        made, augment_stats = add_robustness_copies([(item.where, item.record) for item in alive], cfg.augment)
        copies = [(alive[position], record) for position, record in made]
    return QualityResult(items=list(items), kept=alive, removed=removed, copies=copies,
                         gates=[(g.name, g.describe(), checked[g.name]) for g in gates], augment_stats=augment_stats)


def output_records(result: QualityResult) -> list[dict]:
    """Kept records in input order, each robustness copy right after its source."""
    copies: dict[int, list[dict]] = {}
    for source, record in result.copies:
        copies.setdefault(source.index, []).append(record)
    return [r for item in result.kept for r in [item.record, *copies.get(item.index, [])]]


def read_items(paths: list[str], lenient: bool, fmt: str = "auto", task_type: str = "") -> tuple[list[Item], list[str]]:
    items, summaries = [], []
    for path in paths:
        stats = ReadStats()
        for line, record in iter_any(path, fmt=fmt, task_type=task_type, lenient=lenient, stats=stats, with_lines=True):
            items.append(Item(len(items), record, f"{path}:{line}"))
        summaries.append(f"{path}: {stats.summary()}")
    return items, summaries


# --- command line -----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.curate.quality", description=__doc__.split("\n\n")[1])
    parser.add_argument("inputs", nargs="+", help="data files (records, or any format core.data.readers reads)")
    add_format_arguments(parser)
    parser.add_argument("--out", required=True, help="kept records (and robustness copies) as JSONL")
    parser.add_argument("--report", required=True, help="markdown report; a PNG is written beside it")
    parser.add_argument("--config", help="YAML file with gate options (CLI options override it)")
    parser.add_argument("--blocklist", help="blocklist file (turns the blocklist gate on)")
    parser.add_argument("--augment-robustness", type=float, dest="augment_robustness", metavar="FRACTION",
                        help="add one robustness copy for this share of the kept samples")
    parser.add_argument("--seed", type=int, help="seed of the robustness augmentation")
    add_dotted_options(parser, "gate options (dotted; also settable in --config YAML)", QualityConfig())
    return parser


def config_from_args(args: argparse.Namespace) -> QualityConfig:
    cfg = QualityConfig()
    if args.config:
        load_yaml(cfg, args.config)
    if args.blocklist:
        cfg.blocklist.path, cfg.blocklist.enabled = args.blocklist, True
    if args.augment_robustness is not None:
        cfg.augment.fraction = args.augment_robustness
    if args.seed is not None:
        cfg.augment.seed = args.seed
    for key, value in vars(args).items():
        if key.startswith("opt:") and value is not None:
            set_option(cfg, key[4:], value)
    return validate(cfg)


def main(argv: list[str] | None = None) -> QualityResult:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ConfigError as e:
        sys.exit(f"error: {e}")
    try:
        items, summaries = read_items(args.inputs, cfg.lenient, args.format, args.task_type)
    except (RecordError, OSError) as e:
        sys.exit(f"error: {e}")
    for line in summaries:
        print(f"[read] {line}")
    result = run_quality(items, cfg)
    written = write_records(args.out, output_records(result))
    write_report(result, args.report, cfg.examples, inputs=summaries, out=args.out)
    print(format_summary(result))
    print(f"[done] wrote {written} records to {args.out}; report {args.report}")
    return result


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m core.curate.quality", main)
