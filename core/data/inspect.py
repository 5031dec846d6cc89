"""python -m core.data.inspect data.jsonl [--tokenizer PATH] [--mask all|last|prompt] [--show N] [--extra-roles R,...]

Prints samples with the trained spans marked, then per-task_type counts, token-length percentiles and
the share of trained tokens: what a practitioner checks before spending GPU hours on a file. Samples the
template cannot render are counted by reason and named by file:line; the exit status is 0 (1 with --strict if there are any)."""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

import numpy as np

from core.data.adapt import RenderPolicy
from core.data.chat import (
    IGNORE_INDEX,
    MASK_MODES,
    RenderedSample,
    RenderError,
    render_samples,
)
from core.data.readers import add_format_arguments, iter_any
from core.data.records import ReadStats, RecordError
from core.data.template_probe import probe_template
from core.model.loading import TINY, load_tokenizer

TRAIN_OPEN, TRAIN_CLOSE = "\x1b[1;32m[[", "]]\x1b[0m"
MAX_LISTED_FAILURES = 10


def mark_trained(sample: RenderedSample, tokenizer, open_mark: str = "[[", close_mark: str = "]]") -> str:
    """The rendered text with every trained run of tokens wrapped in markers."""
    out, run, trained = [], [], None
    for token, label in zip(sample.input_ids, sample.labels):
        is_trained = label != IGNORE_INDEX
        if is_trained != trained and run:
            text = tokenizer.decode(run)
            out.append(f"{open_mark}{text}{close_mark}" if trained else text)
            run = []
        trained = is_trained
        run.append(token)
    if run:
        text = tokenizer.decode(run)
        out.append(f"{open_mark}{text}{close_mark}" if trained else text)
    return "".join(out)


def length_table(samples: list[RenderedSample]) -> str:
    by_type: dict[str, list[RenderedSample]] = defaultdict(list)
    for s in samples:
        by_type[s.task_type].append(s)
    header = f"{'task_type':<28}{'count':>7}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'trained':>9}"
    lines = [header, "-" * len(header)]
    for task_type in sorted(by_type) + ["ALL"]:
        group = samples if task_type == "ALL" else by_type[task_type]
        lengths = np.array([len(s) for s in group])
        trained = sum(s.num_trained for s in group) / max(int(lengths.sum()), 1)
        p50, p90, p99 = (int(np.percentile(lengths, q)) for q in (50, 90, 99))
        lines.append(f"{task_type:<28}{len(group):>7}{p50:>8}{p90:>8}{p99:>8}{int(lengths.max()):>8}{trained:>9.1%}")
    return "\n".join(lines)


def failure_report(failures: list[RenderError]) -> str:
    """A count by reason, then the first MAX_LISTED_FAILURES messages (each names its file:line)."""
    reasons = Counter(e.reason for e in failures)
    parts = ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items()))
    noun = "sample" if len(failures) == 1 else "samples"
    lines = [f"{len(failures)} {noun} failed to render ({parts})"]
    lines += [f"  {e}" for e in failures[:MAX_LISTED_FAILURES]]
    if len(failures) > MAX_LISTED_FAILURES:
        lines.append(f"  ... and {len(failures) - MAX_LISTED_FAILURES} more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.data.inspect", description=__doc__.split("\n\n")[1])
    parser.add_argument("data", help="data file or HF dataset folder (records, or any format core.data.readers reads)")
    add_format_arguments(parser)
    parser.add_argument("--tokenizer", default=TINY, help="tokenizer path (default: the embedded tiny one)")
    parser.add_argument("--mask", choices=MASK_MODES, default="all")
    parser.add_argument("--show", type=int, default=1, help="how many samples to print with trained spans marked")
    parser.add_argument("--lenient", action="store_true", help="skip invalid lines (counted) instead of failing")
    parser.add_argument("--extra-roles", default="", metavar="ROLE[,ROLE...]",
                        help="custom roles the file uses besides system/user/assistant/tool, e.g. background,narration")
    parser.add_argument("--no-color", action="store_true")
    parser.add_argument("--template", action="store_true", help="print the chat template's probe (strategy, end of turn, "
                        "tools, parallel calls, adaptations it needs) first")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any sample fails to render (default: report, exit 0)")
    parser.add_argument("--data.end_of_turn", "--end-of-turn", dest="end_of_turn", default="",
                        help="text that ends an assistant turn (default: found by the probe)")
    parser.add_argument("--data.template_strategy", dest="strategy", default="auto",
                        choices=["auto", "markers", "prefix", "per_turn"])
    args = parser.parse_args(argv)
    if args.show < 0:
        parser.error(f"--show: a count of samples to print (0 or more), got {args.show}")

    tokenizer = load_tokenizer(args.tokenizer)
    policy = RenderPolicy(strategy=args.strategy, end_of_turn=args.end_of_turn)
    if args.template:
        probe = probe_template(tokenizer)
        print(f"[template] {probe.summary()}")
    stats = ReadStats()
    extra_roles = [role for role in args.extra_roles.split(",") if role]
    samples: list[RenderedSample] = []
    failures: list[RenderError] = []
    counts: Counter = Counter()
    records = iter_any(args.data, fmt=args.format, task_type=args.task_type, lenient=args.lenient,
                       extra_roles=extra_roles, stats=stats, with_lines=True)
    try:
        for line, record in records:
            try:
                rendered = render_samples(record, tokenizer, mask=args.mask, sample_id=f"{args.data}:{line}", policy=policy)
                counts.update(rendered[0].adaptations)  # per record; strategies per sample
                counts.update(f"strategy:{s.strategy}" for s in rendered)
                samples += rendered
            except RenderError as e:
                failures.append(e)
    except RecordError as e:
        hint = "declare custom roles with --extra-roles" if e.reason == "unknown_role" else "--lenient skips invalid lines"
        parser.exit(2, f"{parser.prog}: error: {e} ({hint})\n")
    marks = ("[[", "]]") if args.no_color else (TRAIN_OPEN, TRAIN_CLOSE)
    for sample in samples[: args.show]:
        print(f"=== {sample.sample_id} ({sample.task_type}), {len(sample)} tokens, {sample.num_trained} trained ===")
        print(mark_trained(sample, tokenizer, *marks))
    print(stats.summary())
    if failures:
        print(failure_report(failures))
    if samples:
        print("rendered: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        print(length_table(samples))
    return 1 if failures and args.strict else 0


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m core.data.inspect", main)
