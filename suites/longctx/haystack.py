"""Haystacks: long filler text, cut into sentence units and tokenised once, so a sample of any length is a
window of token indices that costs nothing to cut.

Sources: the user's files (txt / md / jsonl with a "text" or "content" field: books, papers, RAG corpora),
built-in prose that needs no download (Python's ``pydoc_data.topics`` in English; the project's Chinese
texts), or the classic noise sentences ("The grass is green. The sky is blue. ...").

A *unit* is one sentence together with the whitespace before it (`sentences.unit_starts`: a line break
inside a sentence of hard-wrapped text is no boundary), so token boundaries fall on unit boundaries for
byte-level BPE and SentencePiece alike; a unit start that falls inside a token is no insert point. The text is tokenised in chunks of whole units (a 128K-token text
takes well under a second; one giant call can take far longer on some tokenizers), and each token's
character offset is kept: the text of any token window is a plain slice of the source. The stream is
cyclic, so a haystack shorter than a sample repeats (counted in ``Spliced.wraps``).

Sentences of the built-in prose that could pass for a needle, a question or an answer (pass keys, magic
numbers, variables, chapters, questions and answers, in either language) are left out, counted by term.
"""

from __future__ import annotations

import glob
import os
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cache

import numpy as np

from core.data.records import iter_json_objects
from core.errors import UserError
from suites.longctx.sentences import unit_starts, without_distractors

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")

NOISE = {
    "en": ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again."],
    "zh": ["草是绿色的。", "天空是蓝色的。", "太阳是黄色的。", "我们出发吧。", "来来回回又一遍。"],
}
BUILTIN = ("noise", "prose")
CHUNK_CHARS = 16_384

class HaystackError(UserError):
    pass


@dataclass
class Window:
    """A cyclic token window [start, start + length) of a haystack."""

    start: int
    length: int
    wraps: int


class Haystack:
    """A tokenised text with unit boundaries. Token indices are virtual: index k means token k mod N."""

    def __init__(self, name: str, text: str, tokenizer, left_out: dict[str, int] | None = None):
        if not text.strip():
            raise HaystackError(f"haystack {name!r} is empty")
        self.name, self.text = name, text
        self.left_out = dict(left_out or {})  # sentences of the source left out, by the term they mention
        starts = unit_starts(text)
        ids, offsets = _tokenize_in_chunks(text, starts, tokenizer)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.token_char = np.asarray(offsets + [len(text)], dtype=np.int64)  # sentinel: end of text
        self.n_tokens = len(ids)
        if self.n_tokens == 0:
            raise HaystackError(f"haystack {name!r} has no tokens")
        # Token index where each unit starts. A unit start inside a token (a tokenizer that merges across the
        # boundary, such as ".\n" or "。天") is no insert point: the next token start would split a sentence.
        starts_at = np.asarray(starts)
        unit_tok = np.searchsorted(self.token_char[:-1], starts_at, side="left")
        exact = (unit_tok < self.n_tokens) & (self.token_char[np.minimum(unit_tok, self.n_tokens)] == starts_at)
        exact[0] = True  # the text start (the seam of the cyclic stream) is always one
        self.units_inside_tokens = int((~exact).sum())
        self.unit_token = np.unique(unit_tok[exact])
        # Cut points where the text can be split without cutting a character in two.
        clean = np.ones(self.n_tokens + 1, dtype=bool)
        clean[1:-1] = self.token_char[1:-1] > self.token_char[:-2]
        self.clean = clean

    def __repr__(self) -> str:
        return (f"Haystack({self.name!r}, {self.n_tokens} tokens, {len(self.unit_token)} units, "
                f"{self.units_inside_tokens} sentence starts inside a token)")

    # --- windows -------------------------------------------------------------------------------------------

    def random_unit_start(self, rng) -> int:
        return int(self.unit_token[rng.randrange(len(self.unit_token))])

    def boundaries(self, start: int, length: int) -> list[int]:
        """Offsets (relative to `start`, a unit start) of the unit starts in [start, start + length]: the places
        an insert may go. The window's tail may end inside a unit, so inserts never split a sentence."""
        out = [0]
        cycle = (start // self.n_tokens) * self.n_tokens
        while cycle <= start + length:
            lo = max(start - cycle, 0)
            hi = start + length - cycle
            i, j = np.searchsorted(self.unit_token, [lo, hi], side="left")
            j += int(j < len(self.unit_token) and self.unit_token[j] == hi)
            out.extend(int(cycle + u - start) for u in self.unit_token[i:j] if cycle + u > start)
            cycle += self.n_tokens
        return sorted(set(out))

    def clean_cut(self, position: int, forward: bool = False) -> int:
        """The nearest position at or before (or after, with `forward`) `position` where the text can be cut
        without splitting a character."""
        step = 1 if forward else -1
        while position > 0 and not self.clean[position % self.n_tokens]:
            position += step
        return position

    def text_of(self, start: int, stop: int) -> str:
        """Text of virtual tokens [start, stop)."""
        parts, k = [], start
        while k < stop:
            cycle_end = (k // self.n_tokens + 1) * self.n_tokens
            end = min(stop, cycle_end)
            a = self.token_char[k % self.n_tokens]
            b = self.token_char[end - (cycle_end - self.n_tokens)] if end < cycle_end else len(self.text)
            parts.append(self.text[a:b])
            k = end
        return "".join(parts)

    def ids_of(self, start: int, stop: int) -> np.ndarray:
        index = np.arange(start, stop) % self.n_tokens
        return self.ids[index]

    def contains(self, needle: str) -> bool:
        return needle in self.text


def _tokenize_in_chunks(text: str, starts: list[int], tokenizer) -> tuple[list[int], list[int]]:
    """Token ids and character start offsets of `text`, tokenised in chunks of whole units."""
    bounds = [0]
    for s in starts[1:]:
        if s - bounds[-1] >= CHUNK_CHARS:
            bounds.append(s)
    bounds.append(len(text))
    chunks = [text[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    backend = tokenizer.backend_tokenizer
    encodings = backend.encode_batch(chunks, add_special_tokens=False)
    ids, offsets = [], []
    for base, enc in zip(bounds[:-1], encodings):
        ids.extend(enc.ids)
        offsets.extend(base + s for s, _ in enc.offsets)
    # Offsets must be non-decreasing for slicing; some tokenizers report (0, 0) for added pieces.
    for i in range(1, len(offsets)):
        if offsets[i] < offsets[i - 1]:
            offsets[i] = offsets[i - 1]
    return ids, offsets


# --- sources -------------------------------------------------------------------------------------------------


def noise_text(lang: str, repeats: int = 200) -> str:
    sep = " " if lang == "en" else ""
    cycle = sep.join(NOISE[lang])
    return (sep + cycle) * repeats


def builtin_prose(lang: str) -> str:
    """Offline prose: Python's documentation topics (English) or the Chinese texts written for this project
    (suites/longctx/assets/zh_prose.txt, ~2,000 characters: long Chinese samples repeat it), with the
    sentences that mention needle vocabulary left out (`builtin_prose_left_out`)."""
    return _builtin_prose(lang)[0]


def builtin_prose_left_out(lang: str) -> dict[str, int]:
    """Sentences left out of the built-in prose, by the needle term they mention."""
    return dict(_builtin_prose(lang)[1])


@cache
def _builtin_prose(lang: str) -> tuple[str, dict[str, int]]:
    if lang == "en":
        from pydoc_data.topics import topics

        text = "".join("\n\n" + topics[k].strip() for k in sorted(topics))
    else:
        with open(os.path.join(ASSETS, "zh_prose.txt"), encoding="utf-8") as f:
            text = "".join("\n\n" + p.strip() for p in f.read().split("\n") if p.strip())
    return without_distractors(text, lang)


def read_documents(paths: list[str]) -> list[tuple[str, str]]:
    """(source label, text) for every document in the given files or directories (txt, md, jsonl)."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(p for ext in ("txt", "md", "jsonl") for p in glob.glob(os.path.join(path, "**", f"*.{ext}"),
                                                                                  recursive=True))
            if not found:
                raise HaystackError(f"{path}: no .txt, .md or .jsonl files in this directory")
            files.extend(found)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise HaystackError(f"haystack {path}: no such file or directory")
    docs = []
    for path in files:
        if path.endswith(".jsonl"):
            docs.extend(_jsonl_documents(path))
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if text.strip():
                docs.append((path, text))
    if not docs:
        raise HaystackError(f"haystack files {paths}: no text found")
    return docs


def _jsonl_documents(path: str) -> list[tuple[str, str]]:
    docs = []
    for line_no, row in iter_json_objects(path, HaystackError, 'a JSON object with a "text" field'):
        field = "text" if "text" in row else "content" if "content" in row else None
        if field is None:
            raise HaystackError(f'{path}:{line_no}: text: missing (each line needs a "text" or "content" string)')
        if not isinstance(row[field], str):
            raise HaystackError(f"{path}:{line_no}: {field}: expected a string, got {type(row[field]).__name__}")
        if row[field].strip():
            docs.append((f"{path}:{line_no}", row[field]))
    return docs


def source_text(spec: str | list[str], lang: str) -> tuple[str, str]:
    """(name, text) for a haystack spec: "noise", "prose", or file/directory paths."""
    if isinstance(spec, str) and spec in BUILTIN:
        return f"{spec}-{lang}", noise_text(lang) if spec == "noise" else builtin_prose(lang)
    paths = spec.split(",") if isinstance(spec, str) else list(spec)
    docs = read_documents(paths)
    return ",".join(paths), "".join("\n\n" + text.strip() for _, text in docs)


def build_haystack(spec: str | list[str], lang: str, tokenizer) -> Haystack:
    name, text = source_text(spec, lang)
    left_out = builtin_prose_left_out(lang) if spec == "prose" else {}
    return Haystack(name, text, tokenizer, left_out)


def count_occurrences(text: str, needle: str) -> int:
    """Non-overlapping occurrences, the way a reader would count them."""
    return text.count(needle)


def nearest(values: list[int], target: float) -> int:
    """The element of sorted `values` closest to `target` (ties go to the earlier one)."""
    i = bisect_left(values, target)
    if i == 0:
        return values[0]
    if i == len(values):
        return values[-1]
    before, after = values[i - 1], values[i]
    return before if target - before <= after - target else after


def index_at_or_before(values: list[int], target: int) -> int:
    return max(0, bisect_right(values, target) - 1)
