"""The user's QA data for the doc_qa task: reading it (errors name file, line and field), which documents fit
a requested length, and the answer's mentions (the filler around a document must hold none).

A document fits a length when the document, the longest question phrasing and the longest prompt around them
leave room for filler. Documents that do not fit a length are skipped for that length, each named and counted
by reason (`QAData.skipped`); when none fits, `QAError` names every document with its token count.
"""

from __future__ import annotations

import re
from collections import Counter

from core.data.records import iter_json_objects
from core.errors import UserError
from suites.longctx import templates as T
from suites.longctx.splice import count_tokens, prompt_tokens

SEAM_TOKENS = 8  # slack for the few tokens that merge where the document meets the prompt


class QAError(UserError):
    pass


def read_qa(path: str) -> list[dict]:
    """Rows of a JSONL with string fields document, question, answer; errors name file, line and field."""
    rows = []
    for line_no, row in iter_json_objects(path, QAError, "a JSON object with document, question and answer"):
        for name in ("document", "question", "answer"):
            if name not in row:
                raise QAError(f"{path}:{line_no}: {name}: missing")
            if not isinstance(row[name], str) or not row[name].strip():
                raise QAError(f"{path}:{line_no}: {name}: expected a non-empty string")
        if not count_mentions(row["document"], row["answer"]):  # the prompt would hold no answer to find
            raise QAError(f"{path}:{line_no}: answer: {row['answer']!r} does not occur in the document")
        rows.append({"document": row["document"], "question": row["question"], "answer": row["answer"],
                     "source": f"{path}:{line_no}"})
    if not rows:
        raise QAError(f"{path}: no QA rows")
    return rows


def document_insert(template: str, row: dict) -> str:
    return "\n\n" + template.format(document=row["document"].strip()) + "\n\n"


def mention_pattern(phrase: str) -> re.Pattern:
    """How a reader finds `phrase`: case-insensitive, and as a whole word where the phrase starts or ends with
    a letter or digit ("no" is not found in "not", "1912" not in "19120")."""
    phrase = phrase.strip()
    left = r"(?<![0-9A-Za-z])" if phrase[:1].isascii() and phrase[:1].isalnum() else ""
    right = r"(?![0-9A-Za-z])" if phrase[-1:].isascii() and phrase[-1:].isalnum() else ""
    return re.compile(left + re.escape(phrase) + right, flags=re.IGNORECASE)


def count_mentions(text: str, phrase: str) -> int:
    return len(mention_pattern(phrase).findall(text))


class QAData:
    """The QA rows, with the documents that fit each (length, language) worked out once."""

    def __init__(self, rows: list[dict], tokenizer, system_share: float):
        self.rows, self.tokenizer, self.system_share = rows, tokenizer, system_share
        self.skipped: list[dict] = []  # one entry per (document, length, language) left out
        self._fits: dict[tuple[int, str], list[dict]] = {}
        self._need: dict[tuple[int, str], tuple[int, int]] = {}
        self._prompt: dict[str, int] = {}
        self._gap: dict[tuple[int, str], int | None] = {}

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(s["reason"] for s in self.skipped).items()))

    def _longest_prompt(self, lang: str) -> int:
        """Tokens of the longest prompt around an empty context and an empty question."""
        if lang not in self._prompt:
            systems = ([None] if self.system_share < 1 else []) + (T.SYSTEM[lang] if self.system_share > 0 else [])
            self._prompt[lang] = max(
                prompt_tokens(self.tokenizer, ([{"role": "system", "content": s}] if s else [])
                              + [{"role": "user", "content": f"{instruction}\n\n\n\n"}])
                for instruction in T.DOC_QA[lang]["instruction"] for s in systems)
        return self._prompt[lang]

    def need(self, i: int, lang: str) -> tuple[int, int]:
        """(document tokens, prompt tokens with the document and no filler) of row i."""
        if (i, lang) not in self._need:
            row, t = self.rows[i], T.DOC_QA[lang]
            document = max(count_tokens(self.tokenizer, document_insert(d, row)) for d in t["document"])
            question = max(count_tokens(self.tokenizer, q.format(question=row["question"])) for q in t["question"])
            self._need[i, lang] = (document, document + question + self._longest_prompt(lang) + SEAM_TOKENS)
        return self._need[i, lang]

    def _widest_gap(self, i: int, lang: str, haystack) -> int | None:
        """The most haystack tokens in a row without a mention of row i's answer (None: no mention at all)."""
        if (i, lang) not in self._gap:
            starts = [m.start() for m in mention_pattern(self.rows[i]["answer"]).finditer(haystack.text)]
            tokens = sorted({int(haystack.token_char[:-1].searchsorted(c, side="right")) - 1 for c in starts})
            gaps = [b - a - 1 for a, b in zip(tokens, tokens[1:] + [tokens[0] + haystack.n_tokens])] if tokens else []
            self._gap[i, lang] = max(gaps) if gaps else None
        return self._gap[i, lang]

    def rows_for(self, length: int, lang: str, haystack) -> list[dict]:
        """The rows usable for samples of `length` tokens; the others are recorded in `skipped`. Raises
        QAError naming each document when none is usable."""
        if (length, lang) in self._fits:
            return self._fits[length, lang]
        fits, skipped = [], []
        for i, row in enumerate(self.rows):
            document, need = self.need(i, lang)
            gap = self._widest_gap(i, lang, haystack)
            if need >= length:
                skipped.append({"source": row["source"], "lang": lang, "length": length,
                                "reason": "document_longer_than_length", "tokens": need,
                                "detail": f"the document has {document:,} tokens ({need:,} with the question and "
                                          f"prompt), more than a {length:,}-token sample holds"})
            elif gap is not None and gap < length - need:
                skipped.append({"source": row["source"], "lang": lang, "length": length,
                                "reason": "answer_throughout_filler", "tokens": need,
                                "detail": f"the answer {row['answer']!r} recurs in the haystack at least every "
                                          f"{gap + 1:,} tokens, and a {length:,}-token sample needs "
                                          f"{length - need:,} tokens of filler without it"})
            else:
                fits.append(row)
        if not fits:
            listed = "; ".join(f"{s['source']}: {s['detail']}" for s in skipped[:5])
            more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            raise QAError(f"doc_qa: no QA document can make a {length:,}-token {lang} sample: {listed}{more}. "
                          "Ask for longer --lengths, or give shorter documents.")
        self.skipped.extend(skipped)
        self._fits[length, lang] = fits
        return fits
