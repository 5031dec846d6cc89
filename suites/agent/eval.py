"""python -m suites.agent.eval --model PATH|tiny --data eval.jsonl [--out results.json] [--responses r.jsonl]
                              [--checker default|bfcl]
python -m suites.agent.eval --bfcl DIR (--model PATH|tiny | --responses results.jsonl) [--checker bfcl|default]

Scores a model's replies on agent eval records (made by `python -m suites.agent.generate --eval`): the
calls are parsed from the reply in its rendered format, checked BFCL-style (name, required and unknown
parameters, types, values, order-free parallel calls, no call on irrelevance) and executed against the
expected results. Metrics per sample (means per task_type):
  correct  the primary pass/fail: ast, or exec with a structurally valid call; no_call / answer otherwise
  ast      the AST check passes (call targets)
  exec     running the predicted calls gives the expected results (call targets with runnable tools)
  format   the reply holds well-formed calls and nothing unparsable (call targets; diagnostic)
  name     the called functions are the expected ones, as a multiset (call targets; diagnostic)
  no_call  the reply makes no call (targets where none is expected)
  answer   the reply states every fact of the tool result it answers from (answer targets)
  call_turns     correct, on turns that need a call only
  no_call_turns  correct, on turns that need no call only (answers, clarifications, irrelevance): a model that
                 never calls scores 1 here and 0 on call_turns, which "correct" alone hides
--checker bfcl applies BFCL's own AST rules (suites.agent.bfcl) instead of the project's (docs/agent.md lists
the differences). --bfcl DIR scores BFCL's own question and possible-answer files (suites/agent/bfcl_eval.py).

When replies are generated and the model's chat template cannot render tools, calls and results, records in
the template format are rewritten into the fallback format first (as train and generate --format auto do),
and the command says so; otherwise the tools would silently vanish from the prompts.
"""

from __future__ import annotations

import argparse
import functools
import sys
from functools import lru_cache

from core.eval.scoring import eval_cli
from suites.agent.adapt import fallback_records
from suites.agent.catalog import load_tools
from suites.agent.checker import check_calls, exec_match
from suites.agent.parse import ParsedReply, parse_reply
from suites.agent.schema import Tool, ToolSpecError
from suites.agent.values import missing_facts


@lru_cache(maxsize=8)
def _runnable_tools(source: str) -> dict[str, Tool] | None:
    try:
        return {t.name: t for t in load_tools(None if source == "builtin" else source)}
    except (ToolSpecError, OSError, ImportError):
        return None


def target_of(record: dict) -> dict:
    """meta.target when the generator wrote one; otherwise read from the reference (last) message."""
    target = (record.get("meta") or {}).get("target")
    if target:
        return target
    reference = record["messages"][-1]
    if reference.get("tool_calls"):
        return {"kind": "call", "calls": [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                                          for c in reference["tool_calls"]]}
    return {"kind": "no_call"}


def _parse(reply: str):
    try:
        return parse_reply(reply)
    except RecursionError:  # JSON nested deeper than Python's recursion limit
        return ParsedReply(text=reply, errors=["reply nested too deeply to parse"])


def _bfcl_ast(parsed, expected: list[dict], declared: list[dict]) -> bool:
    from suites.agent import bfcl

    if parsed.errors:
        return False
    functions = [bfcl.bfcl_function(t) for t in declared]
    parameters = {f["name"]: t["function"].get("parameters", {}) for f, t in zip(functions, declared)}
    answer = [bfcl.possible_answer_of(e, parameters.get(e["name"], {})) for e in expected]
    category = "parallel" if len(expected) > 1 else "multiple"
    return bool(bfcl.check(functions, bfcl.to_bfcl_output(parsed.calls), answer, category)["valid"])


def score_reply(record: dict, reply: str, checker: str = "default") -> dict:
    target = target_of(record)
    parsed = _parse(reply)
    made_no_call = not parsed.calls and not parsed.errors
    if target["kind"] != "call":
        metrics = {"no_call": made_no_call}
        if target["kind"] == "answer":
            metrics["answer"] = not missing_facts(parsed.text, target.get("facts", []))
            metrics["correct"] = made_no_call and metrics["answer"]
        else:
            metrics["correct"] = made_no_call
        metrics["no_call_turns"] = metrics["correct"]
        return metrics
    expected = target["calls"]
    declared = record.get("tools") or (record.get("meta") or {}).get("tools") or []  # meta: fallback format
    parameters = {t["function"]["name"]: t["function"].get("parameters", {}) for t in declared}
    if checker == "bfcl":
        ok = _bfcl_ast(parsed, expected, declared)
        return {"ast": ok, "correct": ok, "call_turns": ok, "format": bool(parsed.calls) and not parsed.errors,
                "name": sorted(c["name"] for c in parsed.calls) == sorted(c["name"] for c in expected)}
    ast = check_calls(parsed.calls, expected, parameters, parsed.errors)
    structure = ast.ok or check_calls(parsed.calls, expected, parameters, parsed.errors, values=False).ok
    tools = _runnable_tools((record.get("meta") or {}).get("tools_source", "builtin"))
    executed = exec_match(parsed.calls, expected, tools) if tools is not None and not parsed.errors else None
    correct = ast.ok or (structure and bool(executed))
    metrics = {"ast": ast.ok, "correct": correct, "call_turns": correct,
               "format": bool(parsed.calls) and not parsed.errors,
               "name": sorted(c["name"] for c in parsed.calls) == sorted(c["name"] for c in expected)}
    if executed is not None:
        metrics["exec"] = bool(executed)
    return metrics


def turn_split(before: dict | None, after: dict) -> str:
    """One line: `correct` on call turns and on no-call turns (over ALL), before and after training."""
    def cell(agg, key):
        row = (agg or {}).get("ALL", {})
        return f"{row[key]:.3f}" if key in row else "-"

    parts = []
    for key, label in (("call_turns", "call turns"), ("no_call_turns", "no-call turns")):
        parts.append(f"{label} {cell(before, key)} -> {cell(after, key)}" if before else f"{label} {cell(after, key)}")
    return "[agent] correct on " + "; ".join(parts) + (" (before -> after)" if before else "")


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--bfcl" or a.startswith("--bfcl=") for a in argv):
        from suites.agent.bfcl_eval import main as bfcl_main

        return bfcl_main(argv)
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--checker", choices=("default", "bfcl"), default="default")
    known, rest = peek.parse_known_args(argv)
    if any(a in ("-h", "--help") for a in rest):
        print("--checker default|bfcl: the project's AST rules (default) or BFCL's (see docs/agent.md)\n")
    return eval_cli(rest, "python -m suites.agent.eval", __doc__.split("\n\n")[0],
                    functools.partial(score_reply, checker=known.checker), adapt_records=fallback_records)


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.agent.eval", main)
