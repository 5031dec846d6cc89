"""`sft`: one command for every entry point, as `llamafactory-cli` users expect.

    sft train --data a.jsonl --out runs/x        = python -m core.train ...
    sft inspect | convert | quality | mix | export | evaluate ARGS
    sft rag|agent|longctx|complex_instr generate|train|eval ARGS   (rag also: index; longctx also: rope)

Each subcommand runs the module's own `python -m` entry point with the remaining arguments.
"""

from __future__ import annotations

import runpy
import sys

CORE = {
    "train": "core.train",
    "inspect": "core.data.inspect",
    "convert": "core.data.convert",
    "quality": "core.curate.quality",
    "mix": "core.curate.mix",
    "export": "core.curate.export",
    "evaluate": "core.eval.evaluate",
}
SUITES = {
    "rag": ("generate", "index", "train", "eval"),
    "agent": ("generate", "train", "eval"),
    "longctx": ("generate", "train", "eval", "rope"),
    "complex_instr": ("generate", "train", "eval"),
}


def usage() -> str:
    lines = ["usage: sft COMMAND [ARGS...]", "", "core commands:"]
    lines += [f"  {name:<14} python -m {module}" for name, module in CORE.items()]
    lines += ["", "suite commands:"]
    lines += [f"  {suite} {'|'.join(verbs):<30} python -m suites.{suite}.<verb>" for suite, verbs in SUITES.items()]
    return "\n".join(lines)


def resolve(argv: list[str]) -> tuple[str, list[str]]:
    """argv after `sft` -> (module to run, its arguments); SystemExit with usage on a bad command."""
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        raise SystemExit(0 if argv else 2)
    command, rest = argv[0], argv[1:]
    if command in CORE:
        return CORE[command], rest
    if command in SUITES:
        verbs = SUITES[command]
        if not rest or rest[0] not in verbs:
            raise SystemExit(f"sft: error: `sft {command}` takes one of {', '.join(verbs)}")
        return f"suites.{command}.{rest[0]}", rest[1:]
    raise SystemExit(f"sft: error: unknown command {command!r}\n{usage()}")


def main(argv: list[str] | None = None) -> None:
    module, rest = resolve(sys.argv[1:] if argv is None else argv)
    sys.argv = [f"sft {module}"] + rest
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
