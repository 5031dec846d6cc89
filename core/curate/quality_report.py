"""The quality report: removals per gate and per task_type, examples, and a bar chart beside the markdown."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from core.curate.gates import Item, Removal
from core.outputs import save_figure, write_text


@dataclass
class QualityResult:
    items: list[Item]
    kept: list[Item]
    removed: list[tuple[Item, Removal]]
    copies: list[tuple[Item, dict]]  # (source item, robustness copy)
    gates: list[tuple[str, str, int]]  # (name, settings, samples checked)
    augment_stats: Counter | None = None
    extra: dict = field(default_factory=dict)

    def removed_by_gate(self) -> Counter:
        return Counter(r.gate for _, r in self.removed)

    def table(self) -> dict[str, Counter]:
        """task_type -> counts of: in, each gate, kept, copies, exempt (robustness copies in the input)."""
        rows: dict[str, Counter] = {}
        for item in self.items:
            rows.setdefault(item.task_type, Counter())["in"] += 1
            if item.is_robustness_copy:
                rows[item.task_type]["exempt"] += 1
        for item, removal in self.removed:
            rows[item.task_type][removal.gate] += 1
        for item in self.kept:
            rows[item.task_type]["kept"] += 1
        for source, _ in self.copies:
            rows[source.task_type]["copies"] += 1
        return dict(sorted(rows.items()))


def _excerpt(text: str, n: int = 100) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= n else text[: n - 1] + "…"
    return text.replace("|", "\\|").replace("`", "'")


def _columns(result: QualityResult) -> list[str]:
    return ["in", *(name for name, _, _ in result.gates), "kept", "copies"]


def format_summary(result: QualityResult) -> str:
    cols = _columns(result)
    header = f"{'task_type':<28}" + "".join(f"{c:>14}" for c in cols)
    lines = [header, "-" * len(header)]
    table = result.table()
    total = Counter()
    for task_type, counts in table.items():
        total.update(counts)
        lines.append(f"{task_type:<28}" + "".join(f"{counts[c]:>14}" for c in cols))
    lines.append(f"{'ALL':<28}" + "".join(f"{total[c]:>14}" for c in cols))
    return "\n".join(lines)


def write_report(result: QualityResult, path: str, examples: int, inputs: list[str], out: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    n_in, n_kept, n_copies = len(result.items), len(result.kept), len(result.copies)
    exempt = sum(item.is_robustness_copy for item in result.items)
    by_gate = result.removed_by_gate()
    lines = ["# Quality report", ""]
    lines += [f"- input: {line}" for line in inputs]
    lines += [f"- {n_in} samples in, {n_in - n_kept} removed, {n_kept} kept, {n_copies} robustness copies added; "
              f"{n_kept + n_copies} written to `{out}`",
              f"- {exempt} input samples are robustness copies: judged on their answer only, never as duplicates",
              "", "## Removals per gate (in order; each gate sees the survivors of the previous ones)", "",
              "| gate | settings | checked | removed | share |", "|---|---|---:|---:|---:|"]
    for name, settings, checked in result.gates:
        share = by_gate[name] / checked if checked else 0.0
        lines.append(f"| {name} | {settings} | {checked} | {by_gate[name]} | {share:.1%} |")
    cols = _columns(result)
    lines += ["", "## Per task_type", "", "| task_type | " + " | ".join(cols) + " |",
              "|---|" + "---:|" * len(cols)]
    total = Counter()
    for task_type, counts in result.table().items():
        total.update(counts)
        lines.append(f"| {task_type} | " + " | ".join(str(counts[c]) for c in cols) + " |")
    lines.append("| **ALL** | " + " | ".join(f"**{total[c]}**" for c in cols) + " |")
    if result.augment_stats is not None:
        lines += ["", "## Robustness augmentation", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(result.augment_stats.items()) if v]
        for source, copy in result.copies[:examples]:
            robustness = copy["meta"]["robustness"]
            lines.append(f"- example from `{source.where}` ({', '.join(robustness['kinds'])}): "
                         f"`{_excerpt(source.text('prompt'))}` → `{_excerpt(_last_prompt(copy))}`")
    lines += ["", "## Examples", ""]
    for name, _, _ in result.gates:
        shown = [(item, r) for item, r in result.removed if r.gate == name][:examples]
        if not shown:
            continue
        lines += [f"### {name}", ""]
        for item, removal in shown:
            text = item.text("answer" if name in ("length", "unique_tokens") else "dialog")
            line = f"- `{item.where}` ({item.task_type}): {removal.detail}: `{_excerpt(text)}`"
            if removal.other is not None:
                line += f" — matches kept `{removal.other.where}`: `{_excerpt(removal.other.text('dialog'))}`"
            lines.append(line)
        lines.append("")
    png = os.path.splitext(path)[0] + ".png"
    if _plot(result, png):
        lines += [f"![removals per task_type]({os.path.basename(png)})", ""]
    write_text(path, "\n".join(lines).rstrip() + "\n")


def _last_prompt(record: dict) -> str:
    users = [m.get("content") or "" for m in record["messages"] if m["role"] == "user"]
    return "\n".join(users)


def _plot(result: QualityResult, path: str) -> bool:
    """Stacked bars: kept and removed-by-gate per task_type."""
    table = result.table()
    if not table:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 3), 4.5))
    bottom = [0] * len(names)
    for label in ["kept", *(g for g, _, _ in result.gates)]:
        values = [table[n][label] for n in names]
        if any(values):
            ax.bar(names, values, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("samples")
    ax.set_title("Quality gates: kept and removed per task_type")
    ax.legend(fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return True
