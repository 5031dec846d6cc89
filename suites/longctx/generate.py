"""python -m suites.longctx.generate: long-context samples of exact token lengths, needles at uniform depths.

    python -m suites.longctx.generate --n 1000 --lengths 4096,32768,131072 --out longctx.jsonl \\
        [--tokenizer PATH] [--haystack noise|prose|FILES_OR_DIRS] [--tasks passkey,niah_single,...] \\
        [--lang en|zh|mix] [--seed S] [--depths 0,0.5,1] [--qa-data qa.jsonl] [--shard k --num-shards K]

Samples are spread evenly over (task, length[, depth]) combinations. Sample i depends only on (seed, i), so
the same seed gives the same bytes and shards concatenate to the unsharded file.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from core.data.records import write_records
from core.model.loading import load_tokenizer
from core.outputs import write_json
from core.synth.generator import (
    GenerationReport,
    add_generation_args,
    allocate_shares,
    generate_records,
    shard_range,
)
from suites.longctx import limits
from suites.longctx.haystack import HaystackError
from suites.longctx.qa import QAError, read_qa
from suites.longctx.tasks import SYNTHETIC_TASKS, TASKS, SampleFactory, TaskOptions


def parse_list(text: str, kind=str, name: str = "value") -> list:
    try:
        items = [kind(x.strip()) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"cannot read {name} list {text!r}") from None
    if not items:
        raise SystemExit(f"empty {name} list")
    return items


def combos(tasks: list[str], lengths: list[int], depths: list[float] | None) -> dict[str, tuple]:
    out = {}
    for task in tasks:
        for length in lengths:
            for depth in depths or [None]:
                out[f"{task}|{length}|{depth}"] = (task, length, depth)
    return out


def generate(factory: SampleFactory, n: int, seed: int, lang: str, tasks: list[str], lengths: list[int],
             depths: list[float] | None = None, indices=None, report: GenerationReport | None = None) -> list[dict]:
    """Records for sample indices (default all n); task/length/depth cells are allocated evenly over n."""
    cells = combos(tasks, lengths, depths)
    labels = allocate_shares(n, dict.fromkeys(cells, 1.0))
    report = report if report is not None else GenerationReport()

    def build(rng, i: int) -> dict:
        task, length, depth = cells[labels[i]]
        sample_lang = rng.choice(["en", "zh"]) if lang == "mix" else lang
        return factory.build(rng, task, length, sample_lang, depth)

    records = generate_records(build, range(n) if indices is None else indices, seed, report, desc="longctx")
    errors = [abs(r["meta"]["tokens"] - r["meta"]["length"]) / r["meta"]["length"] for r in records]
    report.extra.update({
        "max_relative_length_error": round(max(errors, default=0.0), 5),
        "exact_length_share": round(sum(e == 0 for e in errors) / max(len(errors), 1), 4),
        "haystack_wrapped": sum(r["meta"]["haystack_wraps"] > 0 for r in records),
        "by_length": dict(sorted(Counter(r["meta"]["length"] for r in records).items())),
    })
    left_out = {lang: h.left_out for lang, h in sorted(factory.built_haystacks().items()) if h.left_out}
    if left_out:  # built-in prose sentences that mention needle vocabulary, by term
        report.extra["haystack_sentences_left_out"] = left_out
    if factory.qa.skipped:  # QA documents left out for a length, by reason, and each one named
        report.extra["doc_qa_skipped"] = factory.qa.counts()
        report.extra["doc_qa_skipped_documents"] = [f"{s['source']} ({s['lang']}, {s['length']}): {s['detail']}"
                                                    for s in factory.qa.skipped]
    return records


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m suites.longctx.generate", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_generation_args(parser, default_n=1000)
    parser.add_argument("--lengths", default="4096", help="comma-separated prompt lengths in tokens")
    parser.add_argument("--tokenizer", default="tiny", help="'tiny' or a local HF tokenizer/checkpoint path")
    parser.add_argument("--haystack", default="noise",
                        help="noise | prose | comma-separated files or directories (txt, md, jsonl with text)")
    parser.add_argument("--tasks", default=",".join(SYNTHETIC_TASKS),
                        help=f"comma-separated tasks from: {', '.join(TASKS)} (or 'all')")
    parser.add_argument("--depths", default=None, help="fixed needle depths (a grid); default uniform in [0, 1]")
    parser.add_argument("--qa-data", default=None, help="JSONL of document, question, answer (task doc_qa)")
    parser.add_argument("--passkey-digits", type=int, default=5)
    parser.add_argument("--passkey-kind", choices=["digits", "word"], default="digits",
                        help="digits: a number; word: a word that is one token of the tokenizer")
    parser.add_argument("--value-digits", type=int, default=7)
    parser.add_argument("--system-share", type=float, default=0.25, help="share of samples with a system prompt")
    parser.add_argument("--phrasing", choices=["varied", "classic"], default="varied",
                        help="varied: many templates; classic: the classic passkey prompt (needle states the key twice)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the one tokenisation of each rendered prompt (lengths then within a few tokens)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (QAError, HaystackError) as e:  # bad input files: the message names file, line and field
        raise SystemExit(f"error: {e}") from None


def run(args: argparse.Namespace) -> dict:
    tasks = list(TASKS) if args.tasks == "all" else parse_list(args.tasks, str, "task")
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise SystemExit(f"--tasks: unknown {unknown}; choose from {', '.join(TASKS)}")
    if "doc_qa" in tasks and not args.qa_data:
        if args.tasks == "all":
            tasks.remove("doc_qa")
        else:
            raise SystemExit("--tasks doc_qa needs --qa-data FILE (JSONL of document, question, answer)")
    lengths = parse_list(args.lengths, int, "length")
    depths = parse_list(args.depths, float, "depth") if args.depths else None
    limits.check_positive(n=args.n, passkey_digits=args.passkey_digits, value_digits=args.value_digits)
    limits.check_lengths(lengths)
    limits.check_depths(depths)
    limits.check_share(args.system_share, "--system-share")
    options = TaskOptions(args.passkey_digits, args.value_digits, args.system_share,
                          read_qa(args.qa_data) if args.qa_data else [], args.phrasing, args.passkey_kind)
    haystack = args.haystack if args.haystack in ("noise", "prose") else args.haystack.split(",")
    factory = SampleFactory(load_tokenizer(args.tokenizer), haystack, verify=not args.no_verify, options=options)
    if "doc_qa" in tasks:  # which documents fit each length, up front: none fitting is an error naming them
        for lang in ("en", "zh") if args.lang == "mix" else (args.lang,):
            for length in lengths:
                factory.qa.rows_for(length, lang, factory.haystack(lang))
    report = GenerationReport()
    records = generate(factory, args.n, args.seed, args.lang, tasks, lengths, depths,
                       shard_range(args.n, args.shard, args.num_shards), report)
    write_records(args.out, records)
    print(report.format(), file=sys.stderr)
    summary = report.as_dict()
    for line in summary.get("doc_qa_skipped_documents", []):
        print(f"doc_qa: skipped {line}", file=sys.stderr)
    print(f"max relative length error {summary['max_relative_length_error']:.3%}, exact {summary['exact_length_share']:.1%}, "
          f"haystack wrapped in {summary['haystack_wrapped']} samples; wrote {args.out}", file=sys.stderr)
    if args.report:
        write_json(args.report, summary, indent=1)
    return summary


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.longctx.generate", main)
