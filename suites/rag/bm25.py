"""BM25 over chunks, with two interchangeable backends that give the same scores.

Scores are Okapi BM25 as rank-bm25's ``BM25Okapi(k1, b, epsilon=0)`` computes them:

    score(q, d) = sum over query tokens t of  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = max(0, ln((N - df(t) + 0.5) / (df(t) + 0.5)))

rank-bm25's default ``epsilon=0.25`` replaces a negative idf (a term in more than half of the chunks) by
0.25 x the mean idf; no other BM25 implementation does that, so we floor at 0 instead (epsilon=0), which
is exactly bm25s' "robertson" idf. bm25s' robertson term-frequency part leaves out the (k1 + 1) factor,
a constant that does not change rankings; we multiply it back so both backends report identical scores
(tests/rag/test_bm25.py checks scores and top-10 rankings against rank-bm25).

The default backend is bm25s: on 100,000 chunks it builds and answers queries far faster than rank-bm25
(bench/bench_retrieval.py; figures in docs/rag.md). Rankings break score ties by chunk order.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from dataclasses import asdict, dataclass

import numpy as np

BACKENDS = ("bm25s", "rank_bm25")
_WORD = re.compile(r"[^\W_]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Function words carry no topic; question words would otherwise match whichever template phrasing uses them.
STOPWORDS = frozenset(
    "a an the of in on at to for by with from and or but is are was were be been being it its this that these those "
    "what which who whom whose when where why how does do did done there their they them he she his her as into "
    "about than then so such can could would should will shall may might not no yes i you we me my your our us "
    "if any all some each other".split()
)
CJK_STOP_CHARS = frozenset("的了是在和与及于哪什么谁吗呢吧啊一个这那有为被也就都而其之")


def tokenize(text: str) -> list[str]:
    """Lower-cased words without stopwords; a run of CJK characters becomes its characters (without function
    characters) and all its character bigrams."""
    tokens: list[str] = []
    for word in _WORD.findall(text.lower()):
        pos = 0
        for m in _CJK.finditer(word):
            if m.start() > pos:
                tokens.append(word[pos : m.start()])
            run = m.group()
            tokens.extend(ch for ch in run if ch not in CJK_STOP_CHARS)
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
            pos = m.end()
        if pos < len(word):
            tokens.append(word[pos:])
    return [t for t in tokens if t not in STOPWORDS]


@dataclass
class BM25Config:
    backend: str = "bm25s"
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"--bm25-backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError(f"--k1 must be >= 0 and --b in [0, 1], got k1={self.k1}, b={self.b}")


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k highest scores, ties broken by the lower index. Scores are compared after rounding
    to 1e-9 so that sums taken in a different order (another backend) rank equal scores the same way."""
    scores = np.round(scores, 9)
    k = min(k, len(scores))
    if k <= 0:
        return []
    if k < len(scores):
        cut = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= cut)
    else:
        candidates = np.arange(len(scores))
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:k].tolist()


class BM25Index:
    """Okapi BM25 over pre-tokenised chunks; `scores(query)` returns one score per chunk."""

    def __init__(self, config: BM25Config | None = None):
        self.config = config or BM25Config()
        self._engine = None
        self.size = 0

    def build(self, corpus_tokens: list[list[str]], progress: bool = False) -> BM25Index:
        if not corpus_tokens:
            raise ValueError("cannot build a BM25 index over an empty corpus")
        cfg = self.config
        if cfg.backend == "bm25s":
            import bm25s

            engine = bm25s.BM25(k1=cfg.k1, b=cfg.b, method="robertson", dtype="float64")
            engine.index(corpus_tokens, show_progress=progress)
        else:
            from rank_bm25 import BM25Okapi

            engine = BM25Okapi(corpus_tokens, k1=cfg.k1, b=cfg.b, epsilon=0.0)
        self._engine = engine
        self.size = len(corpus_tokens)
        return self

    def scores(self, query: str | list[str]) -> np.ndarray:
        tokens = tokenize(query) if isinstance(query, str) else query
        if self._engine is None:
            raise RuntimeError("BM25 index is empty: call build() or load() first")
        if not tokens:
            return np.zeros(self.size)
        if self.config.backend == "bm25s":
            return self._engine.get_scores(list(tokens)) * (self.config.k1 + 1)
        return self._engine.get_scores(tokens)

    def search(self, query: str | list[str], k: int = 10) -> list[tuple[int, float]]:
        """The k best-scoring chunks that match the query at all (score > 0)."""
        scores = np.round(self.scores(query), 9)
        return [(i, float(scores[i])) for i in top_k(scores, k) if scores[i] > 0]

    def save(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "bm25.json"), "w", encoding="utf-8") as f:
            json.dump({**asdict(self.config), "size": self.size}, f, indent=1)
        if self.config.backend == "bm25s":
            self._engine.save(os.path.join(folder, "bm25s"), show_progress=False)
        else:
            with open(os.path.join(folder, "rank_bm25.pkl"), "wb") as f:
                pickle.dump(self._engine, f)

    @classmethod
    def load(cls, folder: str) -> BM25Index:
        with open(os.path.join(folder, "bm25.json"), encoding="utf-8") as f:
            meta = json.load(f)
        size = meta.pop("size")
        index = cls(BM25Config(**meta))
        if index.config.backend == "bm25s":
            import bm25s

            index._engine = bm25s.BM25.load(os.path.join(folder, "bm25s"), show_progress=False, verbosity=0)
        else:
            with open(os.path.join(folder, "rank_bm25.pkl"), "rb") as f:
                index._engine = pickle.load(f)
        index.size = size
        return index
