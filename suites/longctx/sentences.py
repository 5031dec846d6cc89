"""Sentence units for haystacks: where a sentence starts (English and Chinese, hard-wrapped text included), and
the needle vocabulary that built-in prose must not mention.

A unit is one sentence together with the whitespace before it. Sentences end at . ! ? (then closing quotes
or brackets) before whitespace and a word that does not start in lower case, though not after an
abbreviation, an initial or a list number at a line start; at 。！？ (then closing quotes); and at blank-line
paragraph breaks. A single line break inside a sentence (hard-wrapped books, PDF text) is no boundary.
"""

from __future__ import annotations

import re
from collections import Counter

# A unit starts at the whitespace after . ! or ? (closing quotes/brackets allowed) when the next word does not
# start in lower case, right after 。！？ (closing quotes allowed), or at a blank line (a paragraph break).
_EN_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[^\sa-z])")
_ZH_END = re.compile(r"[。！？][”’」』）]*")
_PARAGRAPH = re.compile(r"\r?\n[^\S\n]*\n")
_WORD_BEFORE = re.compile(r"(^|\n)?[^\S\n]*[\"'“‘(\[]*(\S*)$")
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "cf", "no", "nos",
                 "fig", "figs", "vol", "p", "pp", "ch", "sec", "approx", "dept", "est", "inc", "ltd", "co", "corp",
                 "gen", "gov", "lt", "col", "sgt", "capt", "mt", "ave", "jan", "feb", "mar", "apr", "jun", "jul",
                 "aug", "sep", "sept", "oct", "nov", "dec", "al", "viz", "ca", "op", "ed", "eds", "rev", "u.s"}
# Needle vocabulary: sentences of the built-in prose that mention it are left out (they could pass for a
# needle, a question or an answer). Keep in step with templates.py (a test checks every needle matches).
DISTRACTORS = {
    "en": re.compile(r"(?i:pass ?keys?|pass ?codes?|passwords?|magic numbers?|special numbers?|\banswer|"
                     r"\bquestion|\bchapters?\b|\bremember|\bmemori[sz]e|\bdocument:|\bquiz)|\bVAR\b"),
    "zh": re.compile(r"密码|密钥|口令|魔法数字|特殊数字|答案|问题|回答|提问|文档|第\s*[0-9一二三四五六七八九十百千]+\s*章|章节|"
                     r"记住|记好|变量|赋值|\bVAR\b"),
}


def _ends_sentence(text: str, end: int) -> bool:
    """Whether the . ! or ? that `_EN_END` matched before `end` ends a sentence: a period after an
    abbreviation ("Mr.", "e.g."), an initial ("J.") or a list number at a line start ("2.") does not."""
    head = text[max(0, end - 40):end].rstrip("\"'”’)]")
    if not head.endswith("."):
        return True
    line_start, word = _WORD_BEFORE.search(head[:-1]).groups()
    word = word.lower()
    if word in ABBREVIATIONS or re.fullmatch(r"[a-z]|(?:[a-z]\.)+[a-z]", word):
        return False
    return not (line_start is not None and re.fullmatch(r"\d{1,3}|[ivxlc]{1,5}", word))


def unit_starts(text: str) -> list[int]:
    """Character offsets where units (sentences) start, always including 0; whitespace-only units are merged
    into the unit that follows them."""
    cuts = {0}
    cuts.update(m.end() for m in _EN_END.finditer(text) if _ends_sentence(text, m.end()))
    cuts.update(m.end() for m in _ZH_END.finditer(text))
    cuts.update(m.start() for m in _PARAGRAPH.finditer(text))
    ordered = sorted(c for c in cuts if c < len(text))
    starts = [0]
    for cut in ordered[1:]:
        if text[starts[-1]:cut].strip():
            starts.append(cut)
    return starts


def without_distractors(text: str, lang: str) -> tuple[str, dict[str, int]]:
    """`text` without the sentences that mention needle vocabulary (DISTRACTORS), and how many were left out by
    term. A paragraph break before a left-out sentence moves to the next sentence kept."""
    pattern, kept, left_out, pending = DISTRACTORS[lang], [], Counter(), ""
    starts = unit_starts(text)
    for a, b in zip(starts, starts[1:] + [len(text)]):
        unit = text[a:b]
        found = pattern.search(unit)
        if found:
            left_out[found.group(0).lower()] += 1
            if "\n\n" in unit[: len(unit) - len(unit.lstrip())]:
                pending = "\n\n"
            continue
        kept.append(pending + unit.lstrip() if pending and kept else unit)
        pending = ""
    return "".join(kept), dict(sorted(left_out.items()))
