"""python -m suites.agent.generate --n N --out FILE [--tools MODULE_OR_JSON] [--seed S] [--lang en|zh|mix]
[--shard K --num-shards M] [--report REPORT.json] [--eval] [--format template|fallback|auto --tokenizer PATH]
[--shares single=0.2,chain=0.1,...] [--teacher template|hf:PATH|openai:URL#model [--teacher-no-call] ...]

Writes verified function-calling samples (agent/single, parallel, multiple, chain, no_call, clarify,
tool_error, multi_turn) as record JSONL. Default tools: the built-in toolbox. `--eval` writes eval records
instead: each sample cut after one target turn, with meta.target saying what that turn must do. `--teacher`
has a model write the answers that follow tool results (and with --teacher-no-call the replies that need no
tool); a reply that does not state the results is rejected and counted, never replaced by a template.
"""

from __future__ import annotations

import argparse
import os
import sys

from core.data.records import write_records
from core.outputs import write_json
from core.synth.generator import (
    GenerationReport,
    add_generation_args,
    generate_records,
    sample_rng,
    shard_range,
)
from core.synth.teacher import TeacherError, teacher_from_args
from suites.agent.scenarios import DEFAULT_SHARES, SCENARIOS, ScenarioBuilder, ScenarioConfig, eval_view
from suites.agent.schema import ToolSpecError
from suites.agent.teacher_answers import (
    TeacherConfig,
    TeacherRun,
    add_agent_teacher_args,
    format_summary,
    teacher_config_from_args,
)
from suites.agent.verify import verify


def parse_shares(text: str | None) -> dict[str, float]:
    if not text:
        return dict(DEFAULT_SHARES)
    shares = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in SCENARIOS:
            raise ValueError(f"--shares: unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}")
        try:
            shares[name] = float(value)
        except ValueError:
            raise ValueError(f"--shares: {name}={value!r} is not a number") from None
        if shares[name] < 0:
            raise ValueError(f"--shares: {name}={value}: weights must be >= 0")
    return shares


def generate(n: int, seed: int, lang: str = "en", tools: str | None = None, shares: dict | None = None,
             eval_records: bool = False, indices=None, report: GenerationReport | None = None,
             teacher=None, teacher_config: TeacherConfig | None = None) -> list[dict]:
    """Samples `indices` (default: all n) of an n-sample run; the same (n, seed, ...) gives the same bytes.
    With a core.synth.teacher Teacher, it writes the answer turns (see suites.agent.teacher_answers); the same
    replies give the same bytes."""
    builder = ScenarioBuilder(ScenarioConfig(tools=tools, lang=lang, shares=shares or dict(DEFAULT_SHARES)), n)
    report = report if report is not None else GenerationReport()
    report.extra["unavailable_scenarios"] = builder.unavailable
    indices = range(n) if indices is None else indices
    if teacher is None:
        records = generate_records(builder.build, indices, seed, report, desc="agent")
    else:
        run = TeacherRun(builder.build, lambda r: verify(r, builder.tools), teacher, teacher_config or TeacherConfig(),
                         seed, report)
        records = run.run(indices)
    if builder.toolset.raised:
        report.extra["tool_exceptions"] = dict(sorted(builder.toolset.raised.items()))
    if eval_records:
        records = [eval_view(r, sample_rng(seed, r["meta"]["index"], "eval")) for r in records]
    for record in records:
        record["meta"]["seed"] = seed
        if "teacher" in record["meta"]:  # an eval record is cut: keep the teacher turns it still has
            kept = [t for t in record["meta"]["teacher"]["turns"] if t < len(record["messages"])]
            record["meta"]["teacher"] = {**record["meta"]["teacher"], "turns": kept}
    report.extra["distinct_user_requests"] = len({next(m["content"] for m in r["messages"] if m["role"] == "user")
                                                  for r in records})
    return records


def apply_format(records: list[dict], fmt: str, tokenizer_path: str) -> tuple[list[dict], str]:
    from suites.agent.formats import for_tokenizer, to_fallback

    if fmt == "template":
        return records, "template"
    if fmt == "fallback":
        return [to_fallback(r) for r in records], "fallback"
    from core.model.loading import load_tokenizer

    return for_tokenizer(records, load_tokenizer(tokenizer_path))


def main(argv: list[str] | None = None) -> GenerationReport:
    parser = argparse.ArgumentParser(prog="python -m suites.agent.generate", description=__doc__.split("\n\n")[1])
    add_generation_args(parser, default_n=1000)
    parser.add_argument("--tools", default=None, help="a Python module (path or dotted name) or a JSON file of tools "
                                                      "(default: the built-in toolbox)")
    parser.add_argument("--eval", action="store_true", help="write eval records (cut at one target turn)")
    parser.add_argument("--format", choices=["template", "fallback", "auto"], default="template",
                        help="template: transformers shape (tool_calls, role tool); fallback: the special-token "
                             "format for templates without tool support; auto: decide from --tokenizer")
    parser.add_argument("--tokenizer", default="tiny", help="tokenizer whose template --format auto checks")
    parser.add_argument("--shares", default=None, help="scenario shares, e.g. single=0.3,chain=0.2 "
                                                       f"(default {','.join(f'{k}={v}' for k, v in DEFAULT_SHARES.items())})")
    add_agent_teacher_args(parser)
    args = parser.parse_args(argv)
    try:
        shares = parse_shares(args.shares)
        indices = shard_range(args.n, args.shard, args.num_shards)
        teacher_config = teacher_config_from_args(args)
        teacher = teacher_from_args(args)
    except ValueError as e:
        parser.error(str(e))
    report = GenerationReport()
    try:
        records = generate(args.n, args.seed, args.lang, args.tools, shares, args.eval, indices, report, teacher,
                           teacher_config)
    except ToolSpecError as e:
        parser.error(f"--tools: {e}")
    except TeacherError as e:
        raise SystemExit(f"error: --teacher {args.teacher}: {e}") from None
    records, used = apply_format(records, args.format, args.tokenizer)
    report.extra["call_format"] = used
    write_records(args.out, records)
    print(report.format(), file=sys.stderr)
    if report.extra["unavailable_scenarios"]:
        print(f"scenarios skipped: {report.extra['unavailable_scenarios']}", file=sys.stderr)
    if "tool_exceptions" in report.extra:
        print(f"tools that raised (calls rejected as execution_raised): {report.extra['tool_exceptions']}",
              file=sys.stderr)
    if teacher is not None:
        print(f"[agent] {format_summary(report.extra['teacher'])}", file=sys.stderr)
    print(f"[agent] wrote {len(records)} records ({used} format) to {args.out}", file=sys.stderr)
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)) or ".", exist_ok=True)
        write_json(args.report, report.as_dict(), ensure_ascii=False, indent=1, sort_keys=True)
    return report


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.agent.generate", main)
