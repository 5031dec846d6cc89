"""Per-task_type summaries of one model's evaluation, and the side-by-side report of model B against A
(markdown table + PNG), with the noise / real-change verdict.

Verdict of a task type with a scorer (d1 = B - A in pass@1, dk = B - A in pass@k; thresholds t1, tk):
  |dk| >= tk                 -> "better" / "worse" (a real change: training moves pass@k)
  |d1| >= t1 and |dk| < tk   -> "noise" (pass@1 moved, pass@k did not: sampling noise, not a new skill)
  otherwise                  -> "same"
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from core.data.records import first_level
from core.outputs import save_figure


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n draws of which c are correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def group_order(keys) -> list[str]:
    """task_types first, then first levels, then ALL."""
    return sorted(keys, key=lambda g: (g == "ALL", "/" not in g, g))


def summarize(samples: list[dict], k: int) -> dict[str, dict]:
    """Per task_type, per first level and for ALL: token-mean eval loss, mean summed answer log-prob,
    and, over the samples that were scored, mean pass@1 and pass@k and the mean of every other metric."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in samples:
        for key in dict.fromkeys([s["task_type"], first_level(s["task_type"]), "ALL"]):
            groups[key].append(s)
    out = {}
    for key in group_order(groups):
        rows = groups[key]
        tokens = sum(r["loss_tokens"] for r in rows)
        entry = {
            "n": len(rows),
            "eval_loss": sum(r["loss_sum"] for r in rows) / tokens if tokens else None,
            "answer_logprob": sum(r["answer_logprob"] for r in rows) / len(rows),
            "answer_tokens": sum(r["answer_tokens"] for r in rows) / len(rows),
        }
        scored = [r for r in rows if r.get("correct") is not None]
        entry["n_scored"] = len(scored)
        if scored:
            entry["pass@1"] = sum(pass_at_k(len(r["correct"]), sum(r["correct"]), 1) for r in scored) / len(scored)
            entry["pass@k"] = sum(pass_at_k(len(r["correct"]), sum(r["correct"]), k) for r in scored) / len(scored)
            metrics: dict[str, list[float]] = defaultdict(list)
            for r in scored:
                for draw in r["metrics"]:
                    for name, value in draw.items():
                        if name != "correct":
                            metrics[name].append(value)
            entry["metrics"] = {name: sum(v) / len(v) for name, v in sorted(metrics.items())}
        out[key] = entry
    return out


@dataclass
class Thresholds:
    pass1: float = 0.05
    passk: float = 0.05


def verdict(d1: float | None, dk: float | None, thresholds: Thresholds) -> str:
    if d1 is None or dk is None:
        return ""
    if abs(dk) >= thresholds.passk:
        return "better" if dk > 0 else "worse"
    if abs(d1) >= thresholds.pass1:
        return "noise"
    return "same"


METRICS = ("eval_loss", "answer_logprob", "pass@1", "pass@k")
NAMES = {"eval_loss": "eval loss", "answer_logprob": "Σ log P(answer)", "pass@1": "pass@1"}


def shown_metrics(k: int) -> list[str]:
    """The metrics a report shows: with k = 1, pass@k is pass@1 again and is left out."""
    return [m for m in METRICS if not (m == "pass@k" and k == 1)]


def compare(a: dict[str, dict], b: dict[str, dict], thresholds: Thresholds) -> list[dict]:
    """One row per group present in both: A, B and B - A for each metric, and the verdict."""
    if set(a) != set(b):
        raise ValueError(f"the two evaluations cover different task types: {sorted(set(a) ^ set(b))}")
    rows = []
    for key in group_order(a):
        row = {"group": key, "n": a[key]["n"], "n_scored": a[key]["n_scored"]}
        for m in METRICS:
            va, vb = a[key].get(m), b[key].get(m)
            row[m] = {"A": va, "B": vb, "delta": vb - va if va is not None and vb is not None else None}
        row["verdict"] = verdict(row["pass@1"]["delta"], row["pass@k"]["delta"], thresholds)
        rows.append(row)
    return rows


def _cell(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def markdown(rows: list[dict], header: dict) -> str:
    k = header["k"]
    lines = [f"# {header['B']} (B) against {header['A']} (A)", ""]
    lines += [f"- data: `{header['data']}`, {header['records']} records",
              f"- eval loss: token mean over the tokens trained under mask `{header['mask']}`; "
              "Σ log P(answer): summed log-probability of the reference answer (last assistant turn, "
              "end-of-turn token included), mean over samples"]
    if header.get("sampling"):
        passes = "pass@1" if k == 1 else f"pass@1 and pass@{k}"
        lines.append(f"- {passes}: {header['num_samples']} draws per prompt at temperature "
                     f"{header['temperature']} (seed {header['seed']}, at most {header['max_new_tokens']} new "
                     f"tokens), unbiased estimator of Chen et al. (2021); scorers: {header['scorers']}")
        if k == 1:
            lines.append(f"- verdict: `better`/`worse` when |Δpass@1| >= {header['passk_threshold']}; `noise` when "
                         f"it is below that but >= {header['pass1_threshold']}; else `same` (with k = 1 there is no "
                         "pass@k to tell noise from a real change: use --k > 1)")
        else:
            lines.append(f"- verdict: `better`/`worse` when |Δpass@{k}| >= {header['passk_threshold']}; `noise` when "
                         f"|Δpass@1| >= {header['pass1_threshold']} but pass@{k} did not move; else `same`")
    lines.append("")
    names = {**NAMES, "pass@k": f"pass@{k}"}
    head = ["task_type", "n"]
    for m in shown_metrics(k):
        head += [f"{names[m]} A", f"{names[m]} B", "Δ"]
    head.append("verdict")
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["group"], str(row["n"])]
        for m in shown_metrics(k):
            cells += [_cell(row[m]["A"]), _cell(row[m]["B"]), _cell(row[m]["delta"], signed=True)]
        cells.append(row["verdict"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def terminal(rows: list[dict], header: dict, max_width: int = 120) -> str:
    """The comparison as a table that fits `max_width` columns: per metric B and B - A (A and everything else
    are in report.md and results.json)."""
    metrics = [m for m in shown_metrics(header["k"]) if any(r[m]["A"] is not None for r in rows)]
    names = {**NAMES, "pass@k": f"pass@{header['k']}"}
    cell = max(19, *(len(names[m]) + 2 for m in metrics)) if metrics else 19
    width = max(12, min(max((len(r["group"]) for r in rows), default=9) + 2,
                        max_width - 6 - 9 - cell * len(metrics)))
    lines = [f"B = {header['B']}, A = {header['A']}; each cell: B (B - A)",
             f"{'task_type':<{width}}{'n':>6}" + "".join(f"{names[m]:>{cell}}" for m in metrics) + f"{'verdict':>9}"]
    for row in rows:
        group = row["group"] if len(row["group"]) < width else row["group"][: width - 2] + "…"
        cells = "".join(f"{_cell(row[m]['B']) + ' (' + _cell(row[m]['delta'], signed=True) + ')':>{cell}}"
                        if row[m]["B"] is not None else f"{'-':>{cell}}" for m in metrics)
        lines.append(f"{group:<{width}}{row['n']:>6}{cells}{row['verdict'] or '-':>9}")
    return "\n".join(lines)


def plot(rows: list[dict], header: dict, path: str) -> None:
    """Bars of A and B per task_type (and ALL) for each metric; pass@1 bars carry the verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if "/" in r["group"] or r["group"] == "ALL"]
    metrics = [m for m in shown_metrics(header["k"]) if any(r[m]["A"] is not None for r in shown)]
    titles = {"eval_loss": "eval loss (lower is better)", "answer_logprob": "Σ log P(answer) (higher is better)",
              "pass@1": "pass@1", "pass@k": f"pass@{header['k']}"}
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(6.0, 1.1 * len(shown) + 2), 2.8 * len(metrics)),
                             squeeze=False)
    for ax, m in zip(axes[:, 0], metrics):
        bars = [r for r in shown if r[m]["A"] is not None]  # pass@ only where a scorer exists
        x = range(len(bars))
        va, vb = [r[m]["A"] for r in bars], [r[m]["B"] for r in bars]
        ax.bar([i - 0.2 for i in x], va, width=0.4, label=f"A: {header['A']}", color="#8da0cb")
        ax.bar([i + 0.2 for i in x], vb, width=0.4, label=f"B: {header['B']}", color="#fc8d62")
        ax.set_title(titles[m], fontsize=10)
        ax.set_xticks(list(x), [r["group"] for r in bars], rotation=20, ha="right", fontsize=8)
        if m.startswith("pass@"):
            ax.set_ylim(0, 1.15)
        if m == "pass@1":
            for i, r in enumerate(bars):
                if r["verdict"] and r["verdict"] != "same":
                    ax.annotate(r["verdict"], (i, max(va[i], vb[i])), ha="center", va="bottom", fontsize=8,
                                color={"noise": "gray", "better": "green", "worse": "red"}[r["verdict"]])
    axes[0, 0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
