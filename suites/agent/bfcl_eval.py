"""python -m suites.agent.eval --bfcl DIR: a model scored on BFCL's own files, offline.

    python -m suites.agent.eval --bfcl DIR --model PATH|tiny [--checker bfcl|default] [--categories simple,...]
    python -m suites.agent.eval --bfcl DIR --responses results.jsonl [--checker bfcl|default] [--out results.json]

DIR holds BFCL's question files and their `possible_answer/` (BFCL_v3_simple.json, BFCL_v4_simple_python.json,
...; bfcl-eval ships them in `bfcl_eval/data`). Python categories: simple, multiple, parallel,
parallel_multiple, irrelevance. With --model the questions are rendered with the model's chat template and
its tools (the fallback format for templates without tool support) and answered greedily; --responses reads
one JSON object a line with the question's "id" and either BFCL's "result" (text, or a list of
{name: arguments}) or "reply" (text). Calls are read in the project's formats or in BFCL's Python syntax
`[f(a=1)]`. --checker bfcl (the default here) applies BFCL's AST rules; default applies the project's.
Prints accuracy per category, the mean over categories and over all questions.
"""

from __future__ import annotations

import argparse
import os

from core.data.records import iter_json_objects
from core.errors import UserError
from core.outputs import write_json
from suites.agent import bfcl
from suites.agent.checker import check_calls


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m suites.agent.eval --bfcl", description=__doc__.split("\n\n")[0])
    p.add_argument("--bfcl", required=True, help="folder of BFCL_v*_<category>.json and possible_answer/")
    p.add_argument("--model", default="tiny", help="'tiny' or a local HF checkpoint (when no --responses)")
    p.add_argument("--responses", help="JSONL of {id, result} (BFCL's result files) or {id, reply}")
    p.add_argument("--checker", choices=("bfcl", "default"), default="bfcl")
    p.add_argument("--categories", default=",".join(bfcl.PYTHON_CATEGORIES))
    p.add_argument("--limit", type=int, default=0, help="only the first N questions of each category")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write per-category accuracy and per-question verdicts as JSON here")
    return p


def verdict(row: dict, calls: list[dict], errors: list[str], checker: str) -> tuple[bool, str]:
    """(passes, why not) for one question."""
    if row["category"] == "irrelevance":
        made = bool(calls)
        return not made, "a call where none is expected" if made else ""
    if errors:
        return False, f"parse_error: {errors[0]}"
    if checker == "bfcl":
        result = bfcl.check(row["functions"], bfcl.to_bfcl_output(calls), row["possible_answer"], row["category"])
        return bool(result["valid"]), "" if result["valid"] else result["error_type"]
    tools = [bfcl.tool_schema(f) for f in row["functions"]]
    parameters = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    expected = [{"name": name, "allowed": allowed} for answer in row["possible_answer"]
                for name, allowed in answer.items()]
    result = check_calls(calls, expected, parameters)
    return result.ok, "" if result.ok else result.kind


def read_results(path: str, rows: list[dict]) -> list[tuple[list[dict], list[str]]]:
    by_id = {}
    shape = '{"id", "result"} or {"id", "reply"}'
    for line_no, entry in iter_json_objects(path, expected=shape):
        if "id" not in entry or not ("result" in entry or "reply" in entry):
            raise UserError(f"{path}:{line_no}: expected {shape}")
        by_id[entry["id"]] = entry["result"] if "result" in entry else entry["reply"]
    missing = [r["id"] for r in rows if r["id"] not in by_id]
    if missing:
        raise UserError(f"{path}: no result for {len(missing)} of {len(rows)} questions ({missing[:3]} ...)")
    return [bfcl.calls_from_result(by_id[r["id"]]) for r in rows]


def generate(rows: list[dict], args) -> list[tuple[list[dict], list[str]]]:
    from core.model.generation import generate_replies
    from core.model.loading import load_model, load_tokenizer
    from suites.agent.adapt import fallback_records

    tokenizer, model = load_tokenizer(args.model), load_model(args.model)
    records = [{"messages": r["messages"], "tools": [bfcl.tool_schema(f) for f in r["functions"]],
                "task_type": f"bfcl/{r['category']}"} for r in rows]
    records, _ = fallback_records(records, tokenizer, args.model)
    replies = generate_replies(model, tokenizer, records, max_new_tokens=args.max_new_tokens,
                               batch_size=args.batch_size, seed=args.seed)
    return [bfcl.decode_calls(r[0]) for r in replies]


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    unknown = [c for c in categories if c not in bfcl.PYTHON_CATEGORIES]
    if unknown:
        raise UserError(f"--categories: {unknown} not among the Python categories {list(bfcl.PYTHON_CATEGORIES)}")
    rows = []
    for category in categories:
        found = bfcl.read_category(args.bfcl, category)
        rows += found[: args.limit] if args.limit else found
    decoded = read_results(args.responses, rows) if args.responses else generate(rows, args)
    per_category: dict[str, list[bool]] = {c: [] for c in categories}
    samples = []
    for row, (calls, errors) in zip(rows, decoded):
        ok, why = verdict(row, calls, errors, args.checker)
        per_category[row["category"]].append(ok)
        samples.append({"id": row["id"], "category": row["category"], "valid": ok, "error_type": why,
                        "calls": calls})
    table = {c: {"n": len(v), "accuracy": sum(v) / len(v) if v else 0.0} for c, v in per_category.items()}
    every = [ok for v in per_category.values() for ok in v]
    summary = {"checker": args.checker, "by_category": table,
               "mean_over_categories": sum(t["accuracy"] for t in table.values()) / len(table) if table else 0.0,
               "overall": {"n": len(every), "accuracy": sum(every) / len(every) if every else 0.0}}
    width = max(len("category"), *(len(c) for c in table)) + 2
    print(f"[bfcl] {len(rows)} questions from {args.bfcl}, checker: {args.checker}")
    print(f"{'category':<{width}}{'n':>6}{'accuracy':>10}")
    for c, t in table.items():
        print(f"{c:<{width}}{t['n']:>6}{t['accuracy']:>10.3f}")
    print(f"{'mean of categories':<{width}}{'':>6}{summary['mean_over_categories']:>10.3f}")
    print(f"{'all questions':<{width}}{summary['overall']['n']:>6}{summary['overall']['accuracy']:>10.3f}")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_json(args.out, {**summary, "bfcl": args.bfcl, "model": None if args.responses else args.model,
                              "samples": samples}, ensure_ascii=False, indent=1)
        print(f"[bfcl] wrote {args.out}")
    return summary
