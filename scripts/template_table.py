"""python scripts/template_table.py [--out docs/templates.md]: probe every chat template in
../shared/chat_templates (test tokenizers: the embedded vocabulary + each template's special tokens), render
the template test matrix through it (records of every suite scenario + hand-made ones, masks all and last,
checked by the independent oracle of tests/core/data/template_oracle.py), and write the table of
docs/templates.md between its TABLE markers."""

from __future__ import annotations

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

START, END = "<!-- TABLE START (scripts/template_table.py) -->", "<!-- TABLE END -->"


def row(tiny, name: str) -> tuple[str, bool]:
    from core.data.template_probe import probe_template
    from tests.core.data.template_fixtures import template_tokenizer
    from tests.core.data.test_templates import run_template

    probe = probe_template(template_tokenizer(tiny, name))
    outcome, failures = run_template(tiny, name)
    ok = sum(n for k, n in outcome.items() if k.startswith("ok:"))
    refused = {k[len("refused:"):]: n for k, n in outcome.items() if k.startswith("refused:")}
    native = probe.tool_support  # with the fallback format, calls are text: no call adaptation applies
    adaptations = [label for flag, label in ((native and probe.call_ids == "alnum9", "9-char call ids"),
                                             (native and probe.arguments == "string", "string arguments"),
                                             (native and probe.null_content == "empty", 'null content -> ""'),
                                             (not probe.system, "system folded"),
                                             (not probe.parallel_calls and probe.tool_support, "parallel split"))
                   if flag]
    eot = f"`{probe.end_of_turn}`".replace("|", "\\|") if probe.end_of_turn else "none: eos appended"
    tools = "native" if probe.tool_support else "fallback format"
    parallel = "native" if probe.parallel_calls and probe.tool_support else (
        "split" if probe.tool_support else "fallback format")
    strategies = ", ".join(f"{k[3:]} {n}" for k, n in sorted(outcome.items()) if k.startswith("ok:"))
    result = f"{ok}/{ok + sum(refused.values())} exact" + (f", refused {refused}" if refused else "") + (
        f", **{len(failures)} wrong**" if failures else "")
    correct = not failures and not refused
    return (f"| {name} | {probe.default_strategy()} ({strategies}) | {eot} | {tools} | {parallel} | "
            f"{', '.join(adaptations) or '-'} | {result} |"), correct


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "templates.md"))
    args = parser.parse_args(argv)
    from core.model.loading import load_tokenizer
    from tests.core.data.template_fixtures import template_names

    tiny = load_tokenizer("tiny")
    lines = ["| template | strategy (samples by strategy) | end of turn | tools | parallel calls | adaptations | "
             "matrix (masks all + last) |", "|---|---|---|---|---|---|---|"]
    correct = 0
    for name in template_names():
        line, ok = row(tiny, name)
        lines.append(line)
        correct += ok
    lines.append("")
    lines.append(f"Fully correct (every sample exact, none refused): **{correct} of {len(template_names())}**.")
    table = "\n".join(lines)
    with open(args.out, encoding="utf-8") as f:
        text = f.read()
    head, rest = text.split(START)
    _, tail = rest.split(END)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(f"{head}{START}\n{table}\n{END}{tail}")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
