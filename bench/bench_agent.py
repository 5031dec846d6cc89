"""Agent suite benchmarks, side by side with what a user would otherwise write (ratios, not timed asserts).

1. Argument validation: the suite's cached jsonschema validator vs calling `jsonschema.validate(args, schema)`
   per call (which re-checks the schema and builds a validator every time).
2. Arithmetic: the AST walker (refuses anything but arithmetic) vs Python's `eval` (unsafe) on the same
   expressions, to show what the safety costs.
3. Generation: verified samples per second (APIGen-style checks on: schema, re-execution, answer facts).

python bench/bench_agent.py [--n 2000]
"""

from __future__ import annotations

import argparse
import math
import random
import time

import jsonschema

from suites.agent.arguments import sample_arguments, validation_errors
from suites.agent.builtin_hooks import builtin_tools, sample_expression
from suites.agent.generate import generate
from suites.agent.safe_math import evaluate, normalise_result


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args(argv).n
    rng = random.Random(0)
    tools = builtin_tools()
    calls = [(tool, sample_arguments(tool, rng)) for tool in tools for _ in range(n // len(tools))]
    validation_errors(*calls[0])  # warm the cache

    ours = timed(lambda: [validation_errors(t, a) for t, a in calls])
    plain = timed(lambda: [jsonschema.validate(a, t.parameters) for t, a in calls])
    print(f"argument validation, {len(calls)} calls : cached validator {ours:.3f} s, jsonschema.validate {plain:.3f} s "
          f"-> {plain / ours:.1f}x faster")

    expressions = [sample_expression(rng) for _ in range(n)]
    namespace = {"sqrt": math.sqrt, "__builtins__": {"round": round, "max": max, "abs": abs}}
    assert all(evaluate(e) == normalise_result(eval(e, namespace)) for e in expressions)  # noqa: S307 - same results
    safe = timed(lambda: [evaluate(e) for e in expressions])
    unsafe = timed(lambda: [eval(e, namespace) for e in expressions])  # noqa: S307 - the comparison point
    print(f"arithmetic, {n} expressions         : AST walker {safe:.3f} s, eval {unsafe:.3f} s "
          f"-> safety costs {safe / unsafe:.2f}x")

    start = time.perf_counter()
    records = generate(n, 0, "mix")  # progress bar on stderr
    seconds = time.perf_counter() - start
    print(f"generation, {len(records)} verified samples   : {seconds:.2f} s ({len(records) / seconds:,.0f} samples/s)")


if __name__ == "__main__":
    main()
