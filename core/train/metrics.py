"""Training feedback on the main rank: a metrics JSONL, TensorBoard events, and a PNG of the loss curve of
every task_type (channel loss) at the end."""

from __future__ import annotations

import json
import os
from collections import defaultdict

import torch

from core.data.records import first_level
from core.outputs import atomic_write, save_figure


def channel_losses(sums: torch.Tensor, counts: torch.Tensor, channels: list[str], prefix: str = "loss") -> dict:
    """Token-mean loss per task_type and per first level, from per-channel sums and counts."""
    out, level_sums, level_counts = {}, defaultdict(float), defaultdict(float)
    for name, s, c in zip(channels, sums.tolist(), counts.tolist()):
        if c:
            out[f"{prefix}/{name}"] = s / c
            level_sums[first_level(name)] += s
            level_counts[first_level(name)] += c
    for level, c in level_counts.items():
        if f"{prefix}/{level}" not in out:
            out[f"{prefix}/{level}"] = level_sums[level] / c
    return out


class MetricsLogger:
    def __init__(self, out: str, enabled: bool, resume_step: int = 0):
        """resume_step > 0 keeps the rows logged up to that step (a resumed run rewrites what followed)."""
        self.enabled = enabled
        self.path = os.path.join(out, "metrics.jsonl")
        self.history: list[dict] = []
        self.writer = None
        if not enabled:
            return
        os.makedirs(out, exist_ok=True)
        if resume_step and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                self.history = [row for line in f if line.strip() and (row := json.loads(line))["step"] <= resume_step]
        with atomic_write(self.path, keep_partial=False) as f:  # resumed: the rows up to the checkpoint
            f.writelines(json.dumps(row) + "\n" for row in self.history)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(os.path.join(out, "tensorboard"))

    def log(self, step: int, metrics: dict) -> None:
        if not self.enabled:
            return
        row = {"step": step, **metrics}
        self.history.append(row)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        for key, value in metrics.items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, step)

    def close(self, plot_path: str | None = None) -> None:
        if not self.enabled:
            return
        self.writer.close()
        if plot_path:
            plot_channel_losses(self.history, plot_path)


def plot_channel_losses(history: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_train, ax_eval) = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, prefix, title in ((ax_train, "loss/", "training loss by task_type"), (ax_eval, "eval_loss/", "eval loss by task_type")):
        keys = sorted({k for h in history for k in h if k.startswith(prefix) and k.count("/") >= 2})
        for key in keys:
            points = [(h["step"], h[key]) for h in history if key in h]
            ax.plot(*zip(*points), label=key[len(prefix):], linewidth=1)
        total = "loss" if prefix == "loss/" else "eval_loss"
        points = [(h["step"], h[total]) for h in history if total in h]
        if points:
            ax.plot(*zip(*points), label="all", color="black", linewidth=2)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_yscale("log")
        if keys or points:
            ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def final_losses(history: list[dict]) -> str:
    """The last logged training loss and eval loss, overall and per task_type, as a table under 120 columns
    (printed at the end of a run, also with --progress false; metrics.jsonl has every step)."""
    train = next((h for h in reversed(history) if "loss" in h), None)
    held = next((h for h in reversed(history) if "eval_loss" in h), None)
    if train is None:
        return "[loss] no step was logged"
    head = f"[loss] final train loss {train['loss']:.4f} (step {train['step']})"
    head += f", eval loss {held['eval_loss']:.4f} (step {held['step']})" if held else ", no eval set"
    names = sorted({k.split("/", 1)[1] for h in (train, held) if h for k in h
                    if k.startswith(("loss/", "eval_loss/"))})
    if not names:
        return head
    width = min(max(len("task_type"), *map(len, names)), 90)

    def cell(row: dict | None, key: str) -> str:
        return f"{row[key]:>10.4f}" if row and key in row else f"{'-':>10}"

    lines = [head, f"  {'task_type':<{width}}{'train':>10}{'eval':>10}"]
    for name in names:
        shown = name if len(name) <= width else name[: width - 1] + "…"
        lines.append(f"  {shown:<{width}}{cell(train, 'loss/' + name)}{cell(held, 'eval_loss/' + name)}")
    return "\n".join(lines)
