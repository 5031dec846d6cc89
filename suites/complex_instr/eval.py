"""python -m suites.complex_instr.eval: IFEval-style accuracy of replies against each record's constraints.

    python -m suites.complex_instr.eval --model PATH|tiny --data eval.jsonl [--out results.json]
    python -m suites.complex_instr.eval --data eval.jsonl --responses replies.jsonl [--out results.json]
    python -m suites.complex_instr.eval --ifeval input_data.jsonl (--responses input_response_data.jsonl | --model PATH)

Prompt-level: a reply passes when it follows every constraint of its prompt. Instruction-level: the share
of single constraints followed. Strict verifies the reply as it is; loose also accepts it with its first
and/or last line removed or markdown emphasis stripped (IFEval). "correct" is prompt-level strict. Besides
the per-task_type table, the command prints (and writes) accuracy per constraint type.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from core.outputs import write_json
from suites.complex_instr import constraints as lib
from suites.complex_instr.tally import TypeTally, plot_types  # noqa: F401 (re-exported)

HEADLINE = ("correct", "prompt_strict", "prompt_loose", "inst_strict", "inst_loose")


def constraint_results(record: dict, reply: str) -> list[tuple[str, bool, bool]]:
    """(type, strict, loose) for every constraint of the record."""
    try:
        constraints = record["meta"]["constraints"]
    except (KeyError, TypeError):
        raise ValueError(f"record of task_type {record.get('task_type')!r} has no meta.constraints to score") from None
    out = []
    for c in constraints:
        ctype = lib.get(c["type"])
        strict = ctype.verify(reply, c["params"])
        out.append((c["type"], strict, strict or ctype.verify(reply, c["params"], loose=True)))
    return out


def score_reply(record: dict, reply: str) -> dict[str, float]:
    """Prompt- and instruction-level accuracy, strict and loose, plus "strict:<type>" / "loose:<type>" for
    each constraint type of the record."""
    results = constraint_results(record, reply)
    if not results:
        raise ValueError("record has an empty meta.constraints list")
    strict = [s for _, s, _ in results]
    loose = [lo for _, _, lo in results]
    metrics = {
        "correct": float(all(strict)), "prompt_strict": float(all(strict)), "prompt_loose": float(all(loose)),
        "inst_strict": sum(strict) / len(strict), "inst_loose": sum(loose) / len(loose),
    }
    for type_id, s, lo in results:
        metrics[f"strict:{type_id}"] = float(s)
        metrics[f"loose:{type_id}"] = float(lo)
    return metrics


def score_headline(record: dict, reply: str) -> dict[str, float]:
    """score_reply without the per-type entries: what per-task_type tables show."""
    return {k: v for k, v in score_reply(record, reply).items() if k in HEADLINE}


def ifeval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m suites.complex_instr.eval --ifeval",
                                     description="score IFEval's own files (see suites/complex_instr/ifeval.py)")
    parser.add_argument("--ifeval", required=True, help="IFEval's input_data.jsonl (key, prompt, instruction_id_list, "
                                                        "kwargs)")
    parser.add_argument("--responses", help="IFEval's response file ({prompt, response} per line); else --model "
                                            "generates them")
    parser.add_argument("--model", default="tiny", help="'tiny' or a local HF checkpoint (when no --responses)")
    parser.add_argument("--out", help="results JSON (with per-prompt verdicts); generated replies go beside it")
    parser.add_argument("--limit", type=int, default=0, help="only the first N prompts")
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> dict:
    from core.eval.scoring import eval_cli

    if any(a == "--ifeval" or a.startswith("--ifeval=") for a in (sys.argv[1:] if argv is None else argv)):
        from suites.complex_instr.ifeval import run

        return run(ifeval_parser().parse_args(argv))
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--out")
    known, _ = peek.parse_known_args(argv)
    tally, seen = TypeTally(), set()

    def scorer(record: dict, reply: str) -> dict[str, float]:
        results = constraint_results(record, reply)
        if id(record) not in seen:  # the first draw of each record, as in the per-task_type table
            seen.add(id(record))
            tally.add(results)
        return score_headline(record, reply)

    aggregated = eval_cli(argv, "python -m suites.complex_instr.eval", __doc__.split("\n\n")[0], scorer)
    print()
    print(tally.format())
    summary = tally.as_dict()
    if known.out:
        with open(known.out, encoding="utf-8") as f:
            results = json.load(f)
        results.update(summary)
        write_json(known.out, results, ensure_ascii=False, indent=1)
        png = os.path.splitext(known.out)[0] + "_by_type.png"
        plot_types(summary, png)
        print(f"[eval] per-type accuracy added to {known.out}; chart {png}")
    return {"by_task_type": aggregated, **summary}


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.complex_instr.eval", main)
