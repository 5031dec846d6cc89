"""What scenarios draw from: passages, a retriever over them, and questions whose answers are known.

A `Source` is built either from the fictional world (suites/rag/world.py) or from a user corpus with
user-written or teacher-written questions (suites/rag/questions.py). Scenarios only use this interface.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from suites.rag.bm25 import BM25Config, BM25Index, tokenize
from suites.rag.corpus import Chunk


@dataclass(frozen=True)
class QA:
    """A question with a known answer and the passages that hold it.

    gold_ids: the passages the answer needs, in reasoning order; the last one states the answer.
    related_ids / mentions: passages (by id) and strings (names) that make a passage "about" the question;
        irrelevant samples exclude them and hard negatives never include the related passages.
    statement: a clause restating the answer with "{value}" in place of the answer ("" if unknown).
    bridge: for two-document questions, the first hop as a clause ("X was founded by Y").
    value_spans: where the answer sits in the last gold passage's text (for counterfactual/conflicting).
    alternatives: wrong values of the same kind, distinct from the answer.
    """

    id: str
    lang: str
    questions: tuple[str, ...]
    answer: str
    gold_ids: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    related_ids: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    topic: str = ""
    statement: str = ""
    bridge: str = ""
    value_spans: tuple[int, ...] = ()
    alternatives: tuple[str, ...] = ()
    origin: str = "world"

    @property
    def excluded_ids(self) -> set[str]:
        return set(self.gold_ids) | set(self.related_ids)


def held_out(key: str, share: float) -> bool:
    """A stable train/eval split by a hash of `key` (a question id or text): True for about `share` of keys."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def replace_spans(text: str, spans: tuple[int, ...], old: str, new: str) -> str:
    """Replace `old` at each start offset in `spans` by `new`; everything else stays byte-identical."""
    for start in sorted(spans, reverse=True):
        if text[start : start + len(old)] != old:
            raise ValueError(f"span {start} does not hold {old!r}")
        text = text[:start] + new + text[start + len(old) :]
    return text


def find_spans(text: str, value: str) -> tuple[int, ...]:
    """Start offsets of `value` in `text`, as a whole token: a number is not matched inside a longer number and a
    word not inside a longer word."""
    if not value:
        return ()
    left = r"(?<![0-9A-Za-z])" if value[0].isalnum() and value[0].isascii() else ""
    right = r"(?![0-9A-Za-z])" if value[-1].isalnum() and value[-1].isascii() else ""
    return tuple(m.start() for m in re.finditer(left + re.escape(value) + right, text))


def copy_with_value(passage: Chunk, qa: QA, value: str, new_id: str, title: str) -> Chunk:
    """A second source: the gold passage with the answer replaced, under another id and title."""
    text = replace_spans(passage.text, qa.value_spans, qa.answer, value)
    return Chunk(id=new_id, doc_id=new_id, title=title, text=text)


@dataclass
class Source:
    name: str
    passages: list[Chunk]
    single: dict[str, list[QA]]  # lang -> one-document questions
    multi: dict[str, list[QA]] = field(default_factory=dict)  # lang -> two-document questions
    second_source: Callable[[QA, str, random.Random], Chunk] | None = None  # conflicting samples' other passage
    retriever: object | None = None  # anything with search_ids(query, k, mode) (RagIndex); BM25 by default
    retrieval_mode: str = "bm25"

    def __post_init__(self):
        self.by_id = {p.id: p for p in self.passages}
        self.row = {p.id: i for i, p in enumerate(self.passages)}
        if self.retriever is None:
            self._bm25 = BM25Index(BM25Config()).build([tokenize(f"{p.title}\n{p.text}") for p in self.passages])

    def search(self, query: str, k: int) -> list[Chunk]:
        if self.retriever is not None:
            hits = self.retriever.search_ids(query, k, self.retrieval_mode)
        else:
            hits = self._bm25.search(query, k)
        return [self.passages[i] for i, _ in hits]

    def languages(self) -> list[str]:
        return sorted(lang for lang, qas in self.single.items() if qas)
