"""Long-context evaluation: the suite's scorer, and the needle-in-a-haystack grid (context length x depth).

    python -m suites.longctx.eval --model PATH|tiny [--model OTHER] --lengths 1024,2048,4096 \\
        --depths 0,0.25,0.5,0.75,1 [--n-per-cell 20] [--task passkey] [--haystack noise] --out DIR
writes DIR/niah.csv, DIR/niah.json and DIR/niah.png (one heatmap per model, side by side). By default the
grid is the standard test for a real model: 5-digit pass keys (or 7-digit magic numbers for the niah tasks)
in the generator's varied phrasings, each stated once. The demo's tiny model is graded on its own variant,
which it passes explicitly (--passkey-kind word --phrasing classic: a one-token word, stated twice).

    python -m suites.longctx.eval --model PATH --data eval.jsonl [--out results.json]
scores a record file with the shared harness (core.eval.scoring), per task_type.

A reply is correct when the retrieved value matches exactly: the first number (or variable name) in the
reply for single-answer tasks, the set of them for list tasks, the normalised answer for document QA.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import string
import sys
from collections import defaultdict

from core.outputs import atomic_write, save_figure, write_json
from core.synth.generator import GenerationReport, generate_records
from suites.longctx import limits

_NUMBER = re.compile(r"\d+")
_VARIABLE = re.compile(r"(?<![A-Za-z])[A-Z]{5}(?![A-Za-z])")


def extract_values(reply: str, task: str) -> list[str]:
    pattern = _VARIABLE if task == "variable_tracking" else _NUMBER
    return pattern.findall(reply)


def _normalise(text: str) -> str:
    text = text.lower()
    text = "".join(" " if ch in string.punctuation or ch in "，。！？；：、“”‘’（）《》" else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _token_f1(reply: str, answer: str) -> float:
    got, want = _normalise(reply).split(), _normalise(answer).split()
    if not got or not want:
        return float(got == want)
    common = sum(min(got.count(w), want.count(w)) for w in set(want))
    if not common:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def score_reply(record: dict, reply: str) -> dict[str, float]:
    """Scorer for longctx/* records (core.eval.scoring protocol): "correct", plus "recall" for list answers and
    "f1" for document QA."""
    meta = record.get("meta", {})
    task = meta.get("task") or record["task_type"].split("/", 1)[1]
    expected = [str(v) for v in meta.get("answers", [])]
    if not expected:
        raise ValueError(f"record of task_type {record['task_type']} has no meta.answers to score against")
    match = meta.get("match", "first")
    if match == "exact":  # the reply is the reference answer or the bare value, up to case and punctuation
        reference = record["messages"][-1]["content"]
        return {"correct": float(_normalise(reply) in (_normalise(reference), _normalise(expected[0])))}
    if match == "text":
        answer = _normalise(expected[0])
        got = _normalise(reply)
        hit = got == answer or f" {answer} " in f" {got} "
        return {"correct": float(hit), "f1": _token_f1(reply, expected[0])}
    found = extract_values(reply, task)
    if match == "first":
        return {"correct": float(bool(found) and found[0] == expected[0])}
    want, got = set(expected), set(found)
    return {"correct": float(got == want), "recall": len(want & got) / len(want)}


# --- the NIAH grid --------------------------------------------------------------------------------------------


def grid_records(factory, lengths: list[int], depths: list[float], n_per_cell: int, seed: int, task: str = "passkey",
                 lang: str = "en", report: GenerationReport | None = None) -> list[dict]:
    """n_per_cell records for every (length, depth) cell; deterministic in seed."""
    cells = [(length, depth) for length in lengths for depth in depths]

    def build(rng, i: int) -> dict:
        length, depth = cells[i // n_per_cell]
        sample_lang = rng.choice(["en", "zh"]) if lang == "mix" else lang
        return factory.build(rng, task, length, sample_lang, depth)

    return generate_records(build, range(len(cells) * n_per_cell), seed, report, desc="niah grid")


def score_grid(model, tokenizer, records: list[dict], batch_size: int = 16, max_new_tokens: int = 32,
               progress: bool = True) -> list[dict]:
    """Greedy replies scored per record; returns one row per cell: length, depth, n, accuracy."""
    from core.eval.scoring import split_prompt
    from core.model.generation import generate_replies

    prompts = [split_prompt(r)[0] for r in records]
    replies = generate_replies(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                               progress=progress)
    groups: dict[tuple, list[float]] = defaultdict(list)
    for record, reply in zip(records, replies):
        key = (record["meta"]["length"], record["meta"].get("requested_depth"))
        groups[key].append(score_reply(record, reply[0])["correct"])
    return [{"length": length, "depth": depth, "n": len(v), "accuracy": sum(v) / len(v)}
            for (length, depth), v in sorted(groups.items())]


def by_length(cells: list[dict]) -> dict[int, float]:
    sums: dict[int, list[float]] = defaultdict(list)
    for c in cells:
        sums[c["length"]] += [c["accuracy"]] * c["n"]
    return {length: sum(v) / len(v) for length, v in sorted(sums.items())}


def format_by_length(grids: dict[str, list[dict]], title: str = "") -> str:
    labels = list(grids)
    lengths = sorted({c["length"] for cells in grids.values() for c in cells})
    width = max(12, *(len(label) + 2 for label in labels))
    lines = [title] if title else []
    lines.append(f"{'length':>8}" + "".join(f"{label:>{width}}" for label in labels))
    lines.append("-" * len(lines[-1]))
    acc = {label: by_length(cells) for label, cells in grids.items()}
    for length in lengths:
        lines.append(f"{length:>8}" + "".join(
            f"{acc[label][length]:>{width - 1}.0%} " if length in acc[label] else f"{'-':>{width}}" for label in labels))
    return "\n".join(lines)


def write_grids(grids: dict[str, list[dict]], path_stem: str, **info) -> None:
    """PATH.csv (one row per model and cell) and PATH.json (cells and accuracy by length per model)."""
    os.makedirs(os.path.dirname(os.path.abspath(path_stem)), exist_ok=True)
    with atomic_write(path_stem + ".csv", keep_partial=False) as f:
        writer = csv.DictWriter(f, fieldnames=["model", "length", "depth", "n", "accuracy"])
        writer.writeheader()
        for label, cells in grids.items():
            for c in cells:
                writer.writerow({"model": label, **c})
    write_json(path_stem + ".json", {**info, "grids": {label: {"cells": cells, "by_length": by_length(cells)}
                                                       for label, cells in grids.items()}}, indent=1)


def plot_heatmaps(grids: dict[str, list[dict]], path: str, title: str = "NIAH exact match") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(grids), figsize=(4.4 * len(grids) + 0.8, 3.6), squeeze=False)
    fig.subplots_adjust(wspace=0.12)
    image = None
    for k, (ax, (label, cells)) in enumerate(zip(axes[0], grids.items())):
        lengths = sorted({c["length"] for c in cells})
        depths = sorted({c["depth"] for c in cells})
        grid = np.full((len(lengths), len(depths)), np.nan)
        for c in cells:
            grid[lengths.index(c["length"]), depths.index(c["depth"])] = c["accuracy"]
        image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto", origin="lower")
        for i in range(len(lengths)):
            for j in range(len(depths)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.0%}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(depths)), [f"{d:g}" for d in depths])
        ax.set_yticks(range(len(lengths)), [str(n) for n in lengths] if k == 0 else [])
        ax.set_xlabel("needle depth")
        if k == 0:
            ax.set_ylabel("context length (tokens)")
        ax.set_title(label, fontsize=9)
    fig.colorbar(image, ax=axes[0].tolist(), fraction=0.03)
    fig.suptitle(title, fontsize=10)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_figure(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _parse(argv):
    from suites.longctx.generate import parse_list

    parser = argparse.ArgumentParser(
        prog="python -m suites.longctx.eval", description=__doc__.split("\n")[0],
        epilog="Defaults are the standard numeric passkey / NIAH test for a real model. The demo "
               "(python -m suites.longctx.train) grades its tiny model on --passkey-kind word --phrasing classic; "
               "pass both to re-grade a demo checkpoint.", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", action="append", help="'tiny' or a checkpoint; give twice to compare two models")
    parser.add_argument("--data", help="score this record file instead of a grid (shared harness)")
    parser.add_argument("--lengths", default="1024,2048,4096", help="comma-separated context lengths (tokens)")
    parser.add_argument("--depths", default="0,0.25,0.5,0.75,1", help="comma-separated needle depths in [0, 1]")
    parser.add_argument("--n-per-cell", type=int, default=20, help="samples per (length, depth) cell")
    parser.add_argument("--task", default="passkey", help="passkey, niah_single, niah_multikey, ... (see generate)")
    parser.add_argument("--haystack", default="noise", help="noise | prose | files or directories")
    parser.add_argument("--lang", default="en", choices=["en", "zh", "mix"], help="phrasing language")
    parser.add_argument("--phrasing", default="varied", choices=["varied", "classic"],
                        help="varied: the generator's templates, the key stated once; classic: one short prompt "
                             "whose needle states the key twice (Mohtashami & Jaggi; the demo's choice)")
    parser.add_argument("--passkey-kind", default="digits", choices=["digits", "word"],
                        help="digits: a --passkey-digits number; word: a word that is one token of the model's "
                             "tokenizer, from a fixed list (the demo's choice, for a tiny model trained from scratch)")
    parser.add_argument("--passkey-digits", type=int, default=5, help="digits of a numeric pass key")
    parser.add_argument("--seed", type=int, default=1234, help="grid data seed")
    parser.add_argument("--batch-size", type=int, default=16, help="generation batch")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="reply budget (greedy)")
    parser.add_argument("--out", default="runs/longctx-eval", help="folder for niah.csv, niah.json, niah.png")
    args, rest = parser.parse_known_args(argv)
    args.lengths = parse_list(args.lengths, int, "length")
    args.depths = parse_list(args.depths, float, "depth")
    return args, rest


def model_config(path: str):
    from core.model.loading import load_config

    return load_config(path)


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = _parse(argv)
    if args.data:
        from core.eval.scoring import eval_cli

        return eval_cli(argv, "python -m suites.longctx.eval", "score long-context records", score_reply,
                        default_max_new_tokens=args.max_new_tokens)
    if rest:
        raise SystemExit(f"unknown arguments: {' '.join(rest)}")
    from core.model.loading import load_model, load_tokenizer
    from suites.longctx.tasks import SampleFactory, TaskOptions

    models = args.model or ["tiny"]
    if len(models) > 2:
        raise SystemExit("--model: give one model, or two to compare")
    limits.check_positive(n_per_cell=args.n_per_cell, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                          passkey_digits=args.passkey_digits)
    limits.check_depths(args.depths)
    for path in models:  # before any model is loaded or prompt built: the length must fit this machine
        limits.check_lengths(args.lengths, model_config=model_config(path), batch=args.batch_size)
    grids = {}
    for path in models:
        tokenizer = load_tokenizer(path)
        options = TaskOptions(passkey_digits=args.passkey_digits, system_share=0.0, phrasing=args.phrasing,
                              passkey_kind=args.passkey_kind)
        factory = SampleFactory(tokenizer, args.haystack, options=options)
        records = grid_records(factory, args.lengths, args.depths, args.n_per_cell, args.seed, args.task, args.lang)
        label = path if len(set(models)) == len(models) else f"{path} #{len(grids) + 1}"
        grids[label] = score_grid(load_model(path), tokenizer, records, args.batch_size, args.max_new_tokens)
    write_grids(grids, os.path.join(args.out, "niah"), task=args.task, haystack=args.haystack, lang=args.lang,
                n_per_cell=args.n_per_cell, phrasing=args.phrasing, passkey_kind=args.passkey_kind)
    plot_heatmaps(grids, os.path.join(args.out, "niah.png"), f"NIAH {args.task}: exact match by length and depth")
    print(format_by_length(grids, f"NIAH {args.task}, exact match by context length ({args.n_per_cell} per cell)"))
    print(f"[eval] wrote {args.out}/niah.csv, niah.json and niah.png")
    return grids


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.longctx.eval", main)
