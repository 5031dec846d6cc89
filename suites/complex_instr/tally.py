"""IFEval's totals: prompt- and instruction-level accuracy, strict and loose, per constraint type; its chart."""

from __future__ import annotations

from collections import defaultdict

from core.outputs import save_figure


class TypeTally:
    """Instruction-level counts per constraint type over the first reply of each record."""

    def __init__(self):
        self.strict = defaultdict(int)
        self.loose = defaultdict(int)
        self.total = defaultdict(int)
        self.prompts = {"n": 0, "strict": 0, "loose": 0}

    def add(self, results: list[tuple[str, bool, bool]]) -> None:
        for type_id, s, lo in results:
            self.total[type_id] += 1
            self.strict[type_id] += s
            self.loose[type_id] += lo
        self.prompts["n"] += 1
        self.prompts["strict"] += all(s for _, s, _ in results)
        self.prompts["loose"] += all(lo for _, _, lo in results)

    def as_dict(self) -> dict:
        n_inst = sum(self.total.values())
        n = self.prompts["n"]
        return {
            "prompt_level": {"n": n, "strict": self.prompts["strict"] / n if n else 0.0,
                             "loose": self.prompts["loose"] / n if n else 0.0},
            "instruction_level": {"n": n_inst, "strict": sum(self.strict.values()) / n_inst if n_inst else 0.0,
                                  "loose": sum(self.loose.values()) / n_inst if n_inst else 0.0},
            "by_constraint_type": {t: {"n": self.total[t], "strict": self.strict[t] / self.total[t],
                                       "loose": self.loose[t] / self.total[t]} for t in sorted(self.total)},
        }

    def format(self) -> str:
        d = self.as_dict()
        width = max([len("constraint type"), *(len(t) for t in d["by_constraint_type"])]) + 2
        lines = [f"{'constraint type':<{width}}{'n':>6}{'strict':>9}{'loose':>9}", "-" * (width + 24)]
        for t, row in d["by_constraint_type"].items():
            lines.append(f"{t:<{width}}{row['n']:>6}{row['strict']:>9.3f}{row['loose']:>9.3f}")
        lines.append("-" * (width + 24))
        for label, key in (("prompt-level", "prompt_level"), ("instruction-level", "instruction_level")):
            row = d[key]
            lines.append(f"{label:<{width}}{row['n']:>6}{row['strict']:>9.3f}{row['loose']:>9.3f}")
        return "\n".join(lines)


def plot_types(tally: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = tally["by_constraint_type"]
    types = list(rows)
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(types) + 1.5))
    ys = range(len(types))
    ax.barh([y - 0.2 for y in ys], [rows[t]["strict"] for t in types], 0.4, label="strict")
    ax.barh([y + 0.2 for y in ys], [rows[t]["loose"] for t in types], 0.4, label="loose")
    ax.set_yticks(list(ys), [f"{t} (n={rows[t]['n']})" for t in types], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("instruction-level accuracy")
    ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
