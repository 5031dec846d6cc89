"""python -m suites.agent.eval --model PATH|tiny --data eval.jsonl [--out results.json] [--responses r.jsonl]

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

When replies are generated and the model's chat template cannot render tools, calls and results, records in
the template format are rewritten into the fallback format first (as train and generate --format auto do),
and the command says so; otherwise the tools would silently vanish from the prompts.
"""

from __future__ import annotations

from functools import lru_cache

from core.eval.scoring import eval_cli
from suites.agent.catalog import load_tools
from suites.agent.checker import check_calls, exec_match
from suites.agent.formats import FALLBACK_TOKENS, supports_system, supports_tools, to_fallback
from suites.agent.parse import parse_reply
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


def score_reply(record: dict, reply: str) -> dict:
    target = target_of(record)
    parsed = parse_reply(reply)
    made_no_call = not parsed.calls and not parsed.errors
    if target["kind"] != "call":
        metrics = {"no_call": made_no_call}
        if target["kind"] == "answer":
            metrics["answer"] = not missing_facts(parsed.text, target.get("facts", []))
            metrics["correct"] = made_no_call and metrics["answer"]
        else:
            metrics["correct"] = made_no_call
        return metrics
    expected = target["calls"]
    declared = record.get("tools") or (record.get("meta") or {}).get("tools") or []  # meta: fallback format
    parameters = {t["function"]["name"]: t["function"].get("parameters", {}) for t in declared}
    ast = check_calls(parsed.calls, expected, parameters, parsed.errors)
    structure = ast.ok or check_calls(parsed.calls, expected, parameters, parsed.errors, values=False).ok
    tools = _runnable_tools((record.get("meta") or {}).get("tools_source", "builtin"))
    executed = exec_match(parsed.calls, expected, tools) if tools is not None and not parsed.errors else None
    metrics = {"ast": ast.ok, "correct": ast.ok or (structure and bool(executed)),
               "format": bool(parsed.calls) and not parsed.errors,
               "name": sorted(c["name"] for c in parsed.calls) == sorted(c["name"] for c in expected)}
    if executed is not None:
        metrics["exec"] = bool(executed)
    return metrics


def _uses_template_format(record: dict) -> bool:
    return bool(record.get("tools")) or any(m.get("tool_calls") or m["role"] == "tool" for m in record["messages"])


def fallback_records(records: list[dict], tokenizer, model_path: str) -> tuple[list[dict], dict]:
    """When the model's template has no tool support, its template-format records in the fallback format
    (said on stdout, and recorded in the results JSON); otherwise the records as they are."""
    n = sum(map(_uses_template_format, records))
    if not n or supports_tools(tokenizer):
        return records, {}
    system_role = supports_system(tokenizer)
    converted = [to_fallback(r, system_role) if _uses_template_format(r) else r for r in records]
    vocab = tokenizer.get_vocab()
    plain = [t for t in FALLBACK_TOKENS if t not in vocab]
    print(f"[agent eval] the chat template of {model_path} has no tool support: {n} of {len(records)} records "
          f"converted to the fallback format ({', '.join(FALLBACK_TOKENS)}; tools in the "
          f"{'system message' if system_role else 'first user message'})"
          + (f"; {', '.join(plain)} are not in its vocabulary and read as plain text" if plain else ""))
    return converted, {"call_format": "fallback (converted from template)"}


def main(argv: list[str] | None = None) -> dict:
    return eval_cli(argv, "python -m suites.agent.eval", __doc__.split("\n\n")[0], score_reply,
                    adapt_records=fallback_records)


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.agent.eval", main)
