"""What `python -m suites.rag.generate` reports beyond counts: answer templates used, gold positions (and their
plot), and warnings about user questions written in another language than --lang."""

from __future__ import annotations

from collections import Counter, defaultdict

from core.outputs import save_figure
from suites.rag import templates as T

LANG_NAMES = {"en": "English", "zh": "Chinese"}


def diversity(records: list[dict]) -> dict:
    """Answer templates used per scenario (of those available), and gold positions per number of documents."""
    used: dict[str, set] = defaultdict(set)
    positions: dict[str, Counter] = defaultdict(Counter)
    available = {"grounded": T.GROUNDED, "counterfactual": T.GROUNDED, "multi_doc": T.MULTI_DOC, "empty": T.EMPTY,
                 "irrelevant": T.IRRELEVANT, "conflicting": T.CONFLICTING, "multi_doc_generic": T.MULTI_DOC_GENERIC}
    for r in records:
        meta = r["meta"]
        scenario = meta["scenario"]
        if "answer" in meta.get("templates", {}):
            used[meta["templates"].get("answer_set", scenario)].add((meta["lang"], meta["templates"]["answer"]))
        for p in meta.get("gold_positions", []):
            if scenario in ("grounded", "counterfactual"):
                positions[f"{meta['num_docs']} docs"][p + 1] += 1
    out = {"answer_templates_used": {s: f"{len(v)}/{sum(len(available[s][lg]) for lg in {lg for lg, _ in v})}"
                                     for s, v in sorted(used.items())},
           "gold_position_counts": {k: dict(sorted(c.items())) for k, c in sorted(positions.items())}}
    return out


def plot_positions(stats: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = stats["gold_position_counts"]
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(3.2 * max(1, len(groups)), 3), squeeze=False)
    for ax, (name, counts) in zip(axes[0], groups.items()):
        ax.bar(list(counts), list(counts.values()))
        ax.set_title(f"gold position, {name}")
        ax.set_xlabel("document number")
    axes[0][0].set_ylabel("samples")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def language_warnings(sources: dict[str, dict]) -> list[str]:
    """One line per language whose user questions are (partly) in another language: their answers quote the
    question's own answer span inside phrasing of --lang, e.g. "根据文档[1]，答案是5 euros。"."""
    out = []
    for lang, summary in sources.items():
        n = summary.get("other_language_questions", 0)
        if n:
            total = summary["single_doc"] + summary["multi_doc"]
            out.append(f"warning: --lang {lang}: {n} of {total} questions are not in {LANG_NAMES[lang]}; their "
                       f"{LANG_NAMES[lang]} answers will quote answers in the questions' language (mixed-language "
                       "replies). Give questions in that language, or generate with the questions' --lang.")
    return out
