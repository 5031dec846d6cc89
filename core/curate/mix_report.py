"""The composition of a mix: samples and trained tokens per task_type and per source."""

from __future__ import annotations

import os
from collections import Counter

from tqdm import tqdm

from core.data.chat import RenderError, render_samples
from core.outputs import write_text


def composition(used: list[tuple[str, dict, int]], tokenizer: str | None, mask: str = "all") -> dict:
    """`used` holds (source name, record, copies in the mix). Each distinct record is rendered once with
    `tokenizer` ("tiny" or a local path; None skips token counts) and its trained tokens counted times its
    copies. Records the template cannot render are counted, not hidden."""
    tok = None
    if tokenizer is not None:
        from core.model.loading import load_tokenizer

        tok = load_tokenizer(tokenizer)
    samples, tokens, by_source, render_errors = Counter(), Counter(), Counter(), Counter()
    for source, record, copies in tqdm(used, desc="count trained tokens", disable=tok is None or len(used) < 2000,
                                       leave=False):
        task_type = record["task_type"]
        samples[task_type] += copies
        by_source[source] += copies
        if tok is None:
            continue
        try:
            tokens[task_type] += copies * sum(s.num_trained for s in render_samples(record, tok, mask=mask))
        except RenderError:
            render_errors[task_type] += copies
    return {"samples": dict(sorted(samples.items())), "trained_tokens": dict(sorted(tokens.items())) if tok else None,
            "by_source": dict(sorted(by_source.items())), "render_errors": dict(sorted(render_errors.items())),
            "tokenizer": tokenizer, "mask": mask}


def _rows(table: dict) -> list[tuple[str, int, float, int | None, float | None]]:
    samples, tokens = table["samples"], table["trained_tokens"]
    n, t = sum(samples.values()), sum((tokens or {}).values())
    rows = []
    for task_type, count in samples.items():
        tok = tokens.get(task_type, 0) if tokens is not None else None
        rows.append((task_type, count, count / n if n else 0.0, tok, (tok / t if t else 0.0) if tok is not None else None))
    rows.append(("ALL", n, 1.0 if n else 0.0, t if tokens is not None else None, 1.0 if tokens is not None else None))
    return rows


def format_composition(table: dict) -> str:
    header = f"{'task_type':<30}{'samples':>9}{'share':>8}{'trained tokens':>16}{'share':>8}"
    lines = [header, "-" * len(header)]
    for task_type, count, share, tok, tok_share in _rows(table):
        tok_text = f"{tok:>16}{tok_share:>8.1%}" if tok is not None else f"{'-':>16}{'-':>8}"
        lines.append(f"{task_type:<30}{count:>9}{share:>8.1%}{tok_text}")
    lines.append("by source: " + ", ".join(f"{k} {v}" for k, v in table["by_source"].items()))
    if table["render_errors"]:
        lines.append("not renderable (no trained tokens counted): "
                     + ", ".join(f"{k} {v}" for k, v in table["render_errors"].items()))
    if table["trained_tokens"] is not None:
        lines.append(f"trained tokens counted with tokenizer {table['tokenizer']!r}, mask {table['mask']!r}")
    return "\n".join(lines)


def write_composition(table: dict, path: str, recipe, out: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    lines = [f"# Mix composition: {os.path.basename(recipe.path)}", "",
             f"- output: `{out}`, seed {recipe.seed}, {sum(table['samples'].values())} samples", "",
             "| task_type | samples | share | trained tokens | share |", "|---|---:|---:|---:|---:|"]
    for task_type, count, share, tok, tok_share in _rows(table):
        tok_text = f"{tok} | {tok_share:.1%}" if tok is not None else "- | -"
        lines.append(f"| {task_type} | {count} | {share:.1%} | {tok_text} |")
    lines += ["", "| source | samples |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in table["by_source"].items()]
    if table["render_errors"]:
        lines += ["", "Not renderable (no trained tokens counted): "
                  + ", ".join(f"{k} {v}" for k, v in table["render_errors"].items())]
    write_text(path, "\n".join(lines) + "\n")
