"""Score a model's replies with a suite's scorer, per task_type.

A scorer is ``scorer(record, reply) -> {metric: value in [0, 1]}``: ``record`` is the full eval record
(its last message is the reference assistant turn, ``meta`` holds what the generator decided) and
``reply`` is the model's text for the prompt (the messages before that turn). Every scorer returns
``"correct"``, the primary pass/fail that pass@k counts; a metric that does not apply is left out, so
means are over the samples it applies to.

Suites register their scorer as an ``sft_suites.scorers`` entry point named after the task_type's first
level; ``find_scorer`` looks it up, so core knows no suite by name.
"""

from __future__ import annotations

import argparse
import importlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from core.data.records import first_level, iter_json_objects, read_records
from core.errors import UserError
from core.outputs import write_json

Scorer = Callable[[dict, str], dict]
SCORER_GROUP = "sft_suites.scorers"


@dataclass
class SampleScore:
    task_type: str
    replies: list[str]
    metrics: list[dict] = field(default_factory=list)  # one dict per reply (sample draw)


def split_prompt(record: dict) -> tuple[dict, dict]:
    """(the prompt: the record up to its last assistant message, exclusive; that message, the reference)."""
    messages = record["messages"]
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        raise ValueError(f"record of task_type {record.get('task_type')!r} has no assistant message to score")
    prompt = {k: v for k, v in record.items() if k != "messages"}
    prompt["messages"] = messages[:last]
    return prompt, messages[last]


def _score(scorer: Scorer, record: dict, reply: str) -> dict:
    metrics = {k: float(v) for k, v in scorer(record, reply).items() if v is not None}
    if "correct" not in metrics:
        raise ValueError(f"scorer {getattr(scorer, '__name__', scorer)} returned no 'correct' metric")
    return metrics


def score_replies(records: list[dict], replies: list[str] | list[list[str]], scorer: Scorer) -> list[SampleScore]:
    """Score existing replies: one string, or a list of draws, per record."""
    if len(records) != len(replies):
        raise ValueError(f"{len(records)} records but {len(replies)} replies")
    out = []
    for record, reply in zip(records, replies):
        draws = [reply] if isinstance(reply, str) else list(reply)
        out.append(SampleScore(record["task_type"], draws, [_score(scorer, record, r) for r in draws]))
    return out


def score_records(model, tokenizer, records: list[dict], scorer: Scorer, max_new_tokens: int = 128,
                  batch_size: int = 8, num_samples: int = 1, do_sample: bool = False, temperature: float = 1.0,
                  seed: int = 0, progress: bool = True) -> list[SampleScore]:
    """Generate `num_samples` replies per record (greedy unless do_sample) and score each."""
    from core.model.generation import generate_replies

    prompts = [split_prompt(r)[0] for r in records]
    replies = generate_replies(model, tokenizer, prompts, max_new_tokens=max_new_tokens, do_sample=do_sample,
                               temperature=temperature, num_samples=num_samples, batch_size=batch_size, seed=seed,
                               progress=progress)
    return score_replies(records, replies, scorer)


def aggregate(scores: list[SampleScore]) -> dict[str, dict[str, float]]:
    """Mean of every metric over the samples it applies to (first draw), per task_type, per first level and
    for "ALL"; "n" is the number of samples in the group."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in scores:
        first = s.metrics[0]
        for key in {s.task_type, first_level(s.task_type), "ALL"}:
            groups[key].append(first)
    out = {}
    for key in sorted(groups, key=lambda k: (k == "ALL", "/" not in k, k)):
        rows = groups[key]
        metrics: dict[str, list[float]] = defaultdict(list)
        for row in rows:
            for name, value in row.items():
                metrics[name].append(value)
        out[key] = {"n": len(rows), **{name: sum(v) / len(v) for name, v in sorted(metrics.items())}}
    return out


def format_table(aggregated: dict[str, dict[str, float]], metrics: list[str] | None = None,
                 columns: dict[str, dict[str, dict[str, float]]] | None = None, max_width: int = 120) -> str:
    """A fixed-width table: one row per group, one column per metric. With `columns` ({label: aggregated}),
    each metric gets one column per label (e.g. before / after training). Metrics that do not fit in
    `max_width` columns are left out and named below the table (the JSON report has them all)."""
    columns = columns or {"": aggregated}
    if metrics is None:
        names = {m for agg in columns.values() for row in agg.values() for m in row if m != "n"}
        metrics = ["correct", *sorted(names - {"correct"})] if "correct" in names else sorted(names)
    groups = list(next(iter(columns.values())))
    width = min(max([len("task_type"), *(len(g) for g in groups)]) + 2, 44)
    shown, hidden = list(metrics), []
    while True:
        heads = [f"{m}{' ' + label if label else ''}" for m in shown for label in columns]
        col = max([8, *(len(h) + 2 for h in heads)])
        if len(shown) <= 1 or width + 6 + col * len(heads) <= max_width:
            break
        hidden.insert(0, shown.pop())
    metrics = shown
    lines = [f"{'task_type':<{width}}{'n':>6}" + "".join(f"{h:>{col}}" for h in heads)]
    lines.append("-" * len(lines[0]))
    for g in groups:
        n = next(int(agg[g]["n"]) for agg in columns.values() if g in agg)
        cells = []
        for m in metrics:
            for agg in columns.values():
                value = agg.get(g, {}).get(m)
                cells.append(f"{value:>{col}.3f}" if value is not None else f"{'-':>{col}}")
        name = g if len(g) < width else g[: width - 2] + "…"
        lines.append(f"{name:<{width}}{n:>6}" + "".join(cells))
    if hidden:
        note = f"({len(hidden)} more metrics in the JSON report: {', '.join(hidden)})"
        lines.append(note if len(note) <= max_width else note[: max_width - 2] + "…)")
    return "\n".join(lines)


def find_scorer(name: str) -> Scorer | None:
    """A scorer by entry-point name (a task_type's first level) or as "module:function"; None if none."""
    if ":" in name:
        module, function = name.split(":", 1)
        return getattr(importlib.import_module(module), function)
    for ep in entry_points(group=SCORER_GROUP):
        if ep.name == name:
            return ep.load()
    return None


def read_replies(path: str, n: int) -> list[list[str]]:
    """A JSONL of {"reply": str} or {"replies": [str, ...]} lines, one per eval record, in order."""
    out = []
    for line_no, row in iter_json_objects(path, UserError, expected='{"reply": str} or {"replies": [str, ...]}'):
        value = row.get("replies", [row["reply"]] if "reply" in row else None)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            raise UserError('expected {"reply": str} or {"replies": [str, ...]}', file=path, line=line_no, field="reply")
        out.append(value)
    if len(out) != n:
        raise UserError(f"{len(out)} replies for {n} eval records; give one line per record, in order", file=path)
    return out


def suite_of(prog: str) -> str | None:
    """"python -m suites.agent.eval" -> "agent"; None for other programs."""
    parts = prog.split()[-1].split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "suites" else None


def check_eval_args(args) -> None:
    for flag, value in (("--limit", args.limit), ("--max-new-tokens", args.max_new_tokens - 1),
                        ("--batch-size", args.batch_size - 1), ("--num-samples", args.num_samples - 1)):
        if value < 0:
            shown = args.limit if flag == "--limit" else value + 1
            need = "0 (all) or a positive count" if flag == "--limit" else "a positive number"
            raise UserError(f"must be {need}, got {shown}", field=flag)


def check_suite(records: list[dict], path: str, suite: str | None) -> None:
    """A suite's scorer on another suite's (or plain chat) records would score nothing it knows and report it as
    a result: refuse, naming the first foreign record."""
    if suite is None:
        return
    if not records:
        raise UserError("no records to evaluate", file=path, field="--data")
    foreign = [(i, r["task_type"]) for i, r in enumerate(records) if first_level(r["task_type"]) != suite]
    if foreign:
        kinds = sorted({first_level(t) for _, t in foreign})
        raise UserError(f"{len(foreign)} of {len(records)} records are not {suite} records (task_type "
                        f"{foreign[0][1]!r}, from {', '.join(kinds)}); this command scores {suite}/* records",
                        file=path, field="task_type")


def eval_cli(argv: list[str] | None, prog: str, description: str, scorer: Scorer,
             default_max_new_tokens: int = 128, adapt_records: Callable | None = None,
             suite: str | None = None) -> dict:
    """The shared `python -m suites.<name>.eval` command: generate (or read) replies, score, print a table per
    task_type, write JSON. Returns the aggregated metrics.

    `adapt_records(records, tokenizer, model_path) -> (records, fields)` lets a suite fit the records to the
    model before replies are generated (e.g. a format its chat template can render); `fields` go into the JSON."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--model", default="tiny", help="'tiny' or a local HF checkpoint")
    parser.add_argument("--data", required=True, help="eval record JSONL (the last assistant turn is the reference)")
    parser.add_argument("--responses", help="score these replies (JSONL, one per record) instead of generating")
    parser.add_argument("--out", help="write per-task_type metrics and per-sample scores as JSON here")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N records")
    parser.add_argument("--max-new-tokens", type=int, default=default_max_new_tokens)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-samples", type=int, default=1, help="draws per prompt (sampled when > 1)")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature when --num-samples > 1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    check_eval_args(args)
    records = read_records(args.data)
    check_suite(records, args.data, suite if suite is not None else suite_of(prog))
    extra_fields: dict = {}
    if args.limit:
        records = records[: args.limit]
    if args.responses:
        scores = score_replies(records, read_replies(args.responses, len(records)), scorer)
    else:
        from core.model.loading import load_model, load_tokenizer

        tokenizer, model = load_tokenizer(args.model), load_model(args.model)
        if adapt_records is not None:
            records, extra_fields = adapt_records(records, tokenizer, args.model)
        scores = score_records(model, tokenizer, records, scorer, max_new_tokens=args.max_new_tokens,
                               batch_size=args.batch_size, num_samples=args.num_samples,
                               do_sample=args.num_samples > 1, temperature=args.temperature, seed=args.seed)
    aggregated = aggregate(scores)
    print(format_table(aggregated))
    if args.out:
        write_json(args.out, {"model": args.model, "data": args.data, **extra_fields, "by_task_type": aggregated,
                              "samples": [{"task_type": s.task_type, "replies": s.replies, "metrics": s.metrics}
                                          for s in scores]}, ensure_ascii=False, indent=1)
        print(f"[eval] wrote {args.out}")
    return aggregated
