"""python -m core.curate.mix RECIPE.yaml --out OUT.jsonl [--tokenizer tiny|PATH] [--report MIX.md] [--seed S]
[--format F] [--task-type T]

Mixes record files (suite outputs, your general SFT data) by a recipe and prints the composition: samples
and trained tokens per task_type. Seeded: the same recipe and seed give the same bytes.

    seed: 0
    total: 10000            # size of the mix when sources have shares (default: the sources' sizes summed)
    shuffle: true
    task_types:             # upsampling for every source, by task_type or its first level
      rag/empty: 2.0
    sources:
      - path: rag.jsonl     # relative to the recipe file
        share: 0.7          # of the mix; either every source has a share, or none has
        task_types:         # within this source: {share: x} (exact task_type) or {upsample: f}
          rag/conflicting: {share: 0.4}
      - path: general.json  # any format core.data.readers reads (detected, or format: alpaca|sharegpt|...)
        share: 0.3
        task_type: general/chat  # for rows without one (else --task-type, else general/chat)

Without shares each source takes `upsample` (default 1.0) copies of itself: whole copies first, then a
seeded subset for the fraction. Shares are allocated by largest remainder, so counts hit the requested
shares within rounding.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
from collections import Counter
from dataclasses import dataclass, field

import yaml

from core.curate.mix_report import composition, format_composition, write_composition
from core.data.readers import FORMATS, add_format_arguments, iter_any
from core.data.records import ReadStats, RecordError, first_level, write_records
from core.data.sources import resample
from core.errors import UserError

RECIPE_KEYS = {"seed", "total", "shuffle", "task_types", "sources", "tag_source", "lenient", "mask", "tokenizer"}
SOURCE_KEYS = {"path", "name", "share", "upsample", "task_types", "format", "task_type"}


class RecipeError(UserError):
    pass


@dataclass
class TaskRule:
    share: float | None = None
    upsample: float = 1.0


@dataclass
class SourceSpec:
    path: str
    name: str
    share: float | None = None
    upsample: float = 1.0
    task_types: dict[str, TaskRule] = field(default_factory=dict)
    format: str = ""  # row format (core.data.readers); empty: the command's --format (default auto)
    task_type: str = ""  # for rows without one; empty: the command's --task-type (default general/chat)


@dataclass
class Recipe:
    path: str
    sources: list[SourceSpec]
    seed: int = 0
    total: int | None = None
    shuffle: bool = True
    tag_source: bool = True  # meta.mix_source = the source's name
    lenient: bool = False
    mask: str = "all"
    tokenizer: str = "tiny"
    task_types: dict[str, float] = field(default_factory=dict)


def _number(value, where: str, lo: float, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecipeError(f"{where}: expected a number, got {value!r}")
    if value < lo or (strict and value == lo):
        raise RecipeError(f"{where}: must be {'>' if strict else '>='} {lo}, got {value}")
    return float(value)


def _rule(value, where: str) -> TaskRule:
    if not isinstance(value, dict):
        return TaskRule(upsample=_number(value, where, 0.0))
    unknown = sorted(set(value) - {"share", "upsample"})
    if unknown or len(value) != 1:
        raise RecipeError(f"{where}: give exactly one of share or upsample, got {sorted(value)}")
    if "share" in value:
        return TaskRule(share=_number(value["share"], f"{where}.share", 0.0, strict=True))
    return TaskRule(upsample=_number(value["upsample"], f"{where}.upsample", 0.0))


def load_recipe(path: str) -> Recipe:
    """Parse and check a recipe; every error names the recipe file and the field."""
    def fail(where: str, message: str):
        raise RecipeError(f"{path}: {where}: {message}")

    try:
        with open(path, encoding="utf-8") as f:
            tree = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(tree, dict):
        fail("(top level)", "expected a mapping with a 'sources' list")
    for key in sorted(set(tree) - RECIPE_KEYS):
        fail(key, f"unknown field (expected one of {sorted(RECIPE_KEYS)})")
    if not isinstance(tree.get("sources"), list) or not tree["sources"]:
        fail("sources", "expected a non-empty list of sources")
    base = os.path.dirname(os.path.abspath(path))
    try:
        global_rules = {}
        for key, value in (tree.get("task_types") or {}).items():
            rule = _rule(value, f"task_types.{key}")
            if rule.share is not None:
                raise RecipeError(f"task_types.{key}: shares belong to a source's task_types; here only upsample")
            global_rules[key] = rule.upsample
        sources = []
        for i, raw in enumerate(tree["sources"]):
            where = f"sources[{i}]"
            if not isinstance(raw, dict) or "path" not in raw:
                raise RecipeError(f"{where}.path: missing (each source is a mapping with a path)")
            for key in sorted(set(raw) - SOURCE_KEYS):
                raise RecipeError(f"{where}.{key}: unknown field (expected one of {sorted(SOURCE_KEYS)})")
            if "share" in raw and "upsample" in raw:
                raise RecipeError(f"{where}: give share or upsample, not both")
            src_path = os.path.join(base, str(raw["path"]))
            if not os.path.exists(src_path):
                raise RecipeError(f"{where}.path: {src_path} does not exist")
            rules = {k: _rule(v, f"{where}.task_types.{k}") for k, v in (raw.get("task_types") or {}).items()}
            if raw.get("format", "auto") not in FORMATS:
                raise RecipeError(f"{where}.format: {raw['format']!r} is not one of {', '.join(FORMATS)}")
            sources.append(SourceSpec(
                path=src_path, name=str(raw.get("name") or os.path.splitext(os.path.basename(src_path))[0]),
                share=_number(raw["share"], f"{where}.share", 0.0, strict=True) if "share" in raw else None,
                upsample=_number(raw.get("upsample", 1.0), f"{where}.upsample", 0.0), task_types=rules,
                format=str(raw.get("format") or ""), task_type=str(raw.get("task_type") or "")))
        with_share = [s.share is not None for s in sources]
        if any(with_share) and not all(with_share):
            i = with_share.index(False)
            raise RecipeError(f"sources[{i}].share: missing; either every source has a share or none has")
        total = tree.get("total")
        if total is not None:
            if not all(with_share):
                raise RecipeError("total: only used with shares; without shares the size follows the upsample factors")
            if isinstance(total, bool) or not isinstance(total, int) or total < 1:
                raise RecipeError(f"total: expected a positive integer, got {total!r}")
        names = Counter(s.name for s in sources)
        for name, n in names.items():
            if n > 1:
                raise RecipeError(f"sources[].name: {name!r} is used by {n} sources; give each a distinct name")
        for key in ("shuffle", "tag_source", "lenient"):
            if not isinstance(tree.get(key, True), bool):
                raise RecipeError(f"{key}: expected true or false, got {tree[key]!r}")
        seed = tree.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise RecipeError(f"seed: expected an integer, got {seed!r}")
        mask = tree.get("mask", "all")
        if mask not in ("all", "last", "prompt"):
            raise RecipeError(f"mask: {mask!r} is not one of all, last, prompt")
        return Recipe(path=path, sources=sources, seed=seed, total=total,
                      shuffle=bool(tree.get("shuffle", True)), tag_source=bool(tree.get("tag_source", True)),
                      lenient=bool(tree.get("lenient", False)), mask=mask,
                      tokenizer=str(tree.get("tokenizer", "tiny")), task_types=global_rules)
    except RecipeError as e:
        raise RecipeError(f"{path}: {e}") from None


def largest_remainder(n: int, weights: dict[str, float]) -> dict[str, int]:
    """Integer counts summing to n, proportional to weights, rounding by largest remainder (ties by key)."""
    total = sum(weights.values())
    if n == 0 or total <= 0:
        return {k: 0 for k in weights}
    exact = {k: n * w / total for k, w in weights.items()}
    counts = {k: math.floor(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), k))[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def _rule_for(spec: SourceSpec, recipe: Recipe, task_type: str) -> TaskRule:
    for key in (task_type, first_level(task_type)):
        if key in spec.task_types:
            return spec.task_types[key]
    for key in (task_type, first_level(task_type)):
        if key in recipe.task_types:
            return TaskRule(upsample=recipe.task_types[key])
    return TaskRule()


def plan_counts(recipe: Recipe, sizes: list[Counter]) -> list[dict[str, int]]:
    """Target number of samples per source and task_type. `sizes[i]` counts source i's task_types."""
    source_totals: list[int | None] = [None] * len(sizes)
    if recipe.sources[0].share is not None:
        total = recipe.total if recipe.total is not None else sum(sum(s.values()) for s in sizes)
        alloc = largest_remainder(total, {str(i): s.share for i, s in enumerate(recipe.sources)})
        source_totals = [alloc[str(i)] for i in range(len(sizes))]
    plans = []
    for i, (spec, counts) in enumerate(zip(recipe.sources, sizes)):
        where = f"{recipe.path}: sources[{i}]"
        for key in spec.task_types:
            if not any(key in (t, first_level(t)) for t in counts):
                raise RecipeError(f"{where}.task_types.{key}: no sample of this task_type in {spec.path}")
        rules = {t: _rule_for(spec, recipe, t) for t in counts}
        shared = {t: r.share for t, r in rules.items() if r.share is not None}
        for key, rule in spec.task_types.items():
            if rule.share is not None and key not in counts:
                raise RecipeError(f"{where}.task_types.{key}.share: shares need an exact task_type, not a first level")
        if not shared and source_totals[i] is None:
            plans.append({t: round(spec.upsample * rules[t].upsample * n) for t, n in sorted(counts.items())})
            continue
        target = source_totals[i] if source_totals[i] is not None else round(spec.upsample * sum(counts.values()))
        share_sum = sum(shared.values())
        rest = {t: counts[t] * rules[t].upsample for t in counts if t not in shared}
        if share_sum > 1 + 1e-9:
            raise RecipeError(f"{where}.task_types: shares sum to {share_sum:g} > 1")
        if shared and share_sum < 1 - 1e-9 and not any(rest.values()):
            raise RecipeError(f"{where}.task_types: shares sum to {share_sum:g} and no other task_type fills the rest")
        weights = dict(shared)
        if rest and sum(rest.values()) > 0:
            scale = (1 - share_sum) / sum(rest.values())
            weights.update({t: w * scale for t, w in rest.items()})
        plan = largest_remainder(target, weights)
        plans.append({t: plan.get(t, 0) for t in sorted(counts)})
    return plans


def build_mix(recipe: Recipe, fmt: str = "auto", task_type: str = "") -> tuple[list[dict], list[tuple[str, dict, int]], list[str]]:
    """The mixed records, plus (source name, record, copies) for every distinct source record used, and
    what reading each source skipped. fmt / task_type apply to sources whose recipe entry sets neither."""
    loaded, summaries = [], []
    for spec in recipe.sources:
        stats = ReadStats()
        loaded.append(list(iter_any(spec.path, fmt=spec.format or fmt, task_type=spec.task_type or task_type,
                                    lenient=recipe.lenient, stats=stats)))
        summaries.append(f"{spec.path}: {stats.summary()}")
        if not loaded[-1]:
            raise RecipeError(f"{recipe.path}: {spec.path}: no valid record to mix")
    plans = plan_counts(recipe, [Counter(r["task_type"] for r in records) for records in loaded])
    mixed, used = [], []
    for i, (spec, records, plan) in enumerate(zip(recipe.sources, loaded, plans)):
        by_type: dict[str, list[dict]] = {}
        for record in records:
            by_type.setdefault(record["task_type"], []).append(record)
        for task_type, count in plan.items():
            group = by_type[task_type]
            picks = Counter(resample(len(group), count, random.Random(f"{recipe.seed}:{i}:{task_type}")))
            for index in sorted(picks):
                record = group[index]
                if recipe.tag_source:
                    record = {**record, "meta": {**record.get("meta", {}), "mix_source": spec.name}}
                used.append((spec.name, record, picks[index]))
                mixed += [record] * picks[index]
    if recipe.shuffle:
        random.Random(f"{recipe.seed}:shuffle").shuffle(mixed)
    return mixed, used, summaries


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m core.curate.mix", description=__doc__.split("\n\n")[1])
    parser.add_argument("recipe", help="recipe YAML")
    parser.add_argument("--out", required=True, help="mixed records (JSONL)")
    parser.add_argument("--tokenizer", help="tokenizer for trained-token counts: tiny or a local path (overrides the recipe)")
    parser.add_argument("--no-tokens", action="store_true", help="skip the trained-token counts")
    parser.add_argument("--report", help="also write the composition as markdown here")
    parser.add_argument("--seed", type=int, help="override the recipe's seed")
    add_format_arguments(parser)  # for sources whose recipe entry has no format / task_type of its own
    args = parser.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe)
        if args.seed is not None:
            recipe.seed = args.seed
        mixed, used, summaries = build_mix(recipe, args.format, args.task_type)
    except (RecipeError, RecordError) as e:
        sys.exit(f"error: {e}")
    for line in summaries:
        print(f"[read] {line}")
    n = write_records(args.out, mixed)
    table = composition(used, None if args.no_tokens else (args.tokenizer or recipe.tokenizer), recipe.mask)
    print(format_composition(table))
    if args.report:
        write_composition(table, args.report, recipe, args.out)
    print(f"[done] wrote {n} records to {args.out}")
    return table


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m core.curate.mix", main)
