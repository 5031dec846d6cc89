"""Offline text measurement for the verifiers: words, sentences, paragraphs, language, emoji.

Nothing here downloads data. Counting rules (documented in docs/complex_instr.md):

* a *word* is a run of letters/digits (apostrophes and hyphens inside a word keep it whole), and every CJK
  ideograph is a word of its own, so "我爱NLP models" has 4 words;
* a *sentence* ends at . ! ? 。！？ or an ellipsis (with any closing quotes, brackets or `*` right after it)
  followed by a space or the end of the line, or at a line break; Chinese marks end one even with text
  right after them. Common abbreviations (Mr., e.g., U.S.), initials and decimals (3.5) do not end one. A
  list marker where a sentence starts (1. / 1) / (1) / a. / iv. / - / * / # / > at a line start; 1. / 一、 /
  （一） after another sentence) is not part of it, nor is a small number before "." in "Steps: 1. mix" or
  "1. mix 2. bake". A piece counts only if it holds a word;
* *paragraphs* are blocks separated by blank lines; a line that is only a markdown divider (*** --- ___)
  also separates and is not a paragraph.
"""

from __future__ import annotations

import re

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
CJK_RE = re.compile(f"[{CJK}]")
_LATIN_WORD = rf"(?:(?![{CJK}])[^\W_])+"
WORD_RE = re.compile(rf"[{CJK}]|{_LATIN_WORD}(?:['’\-]{_LATIN_WORD})*")
LATIN_WORD_RE = re.compile(rf"{_LATIN_WORD}(?:['’\-]{_LATIN_WORD})*")

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "u.s", "u.k", "a.m", "p.m",
    "no", "fig", "approx", "inc", "ltd", "co", "mt", "dept", "est", "ca", "cf", "al", "vol", "p.s", "p.p.s",
    "eg", "ie", "ph.d", "a.k.a", "u.s.a", "e.u", "gen", "gov", "sgt", "capt", "col", "lt", "rev", "hon", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "ave", "blvd", "rd", "tel",
    "pp", "ed", "eds", "min", "max", "misc", "nos", "op", "esp",
}
DIVIDER_RE = re.compile(r"^\s*(?:\*\s*){3,}$|^\s*(?:-\s*){3,}$|^\s*(?:_\s*){3,}$")


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def count_words(text: str) -> int:
    return len(words(text))


def latin_words(text: str) -> list[str]:
    return LATIN_WORD_RE.findall(text)


def count_cjk(text: str) -> int:
    return len(CJK_RE.findall(text))


_TERMINATOR = re.compile(r"(\.{3}|…+|[.!?]+|[。！？]+)([\"'”’)\]」』）*]*)")  # closers: quotes, brackets, emphasis
_ROMAN = r"(?:x{0,3}(?:ix|iv|v?i{1,3}|v)|x{1,3})"
_ZH_NUMERAL = "〇一二三四五六七八九十百"
# List markers where a sentence starts. At the start of a line: any number of bullets, "#" headings and ">"
# quotes, then one item marker ("1." "1)" "1、" "a." "iv)" "(1)" "（一）" "一、"). Inside a line, after a sentence
# ends, only a numbered one ("Do this. 2. Do that."): a letter there is an initial ("J. R. R. Tolkien").
# A marker is followed by the item's text (a space, or a Chinese character straight after "1." / "一、").
_PREFIX_MARKER = re.compile(r"[ \t]*(?:[-*+•·▪‣◦]+|#{1,6}|>)(?=[ \t]+\S)[ \t]*")
_NUMBERED = (rf"[(（][ \t]*(?:\d{{1,3}}|[{_ZH_NUMERAL}]+)[ \t]*[)）](?=[ \t]*\S)"
             rf"|\d{{1,3}}[.)．](?=[ \t]+\S|[{CJK}])"
             rf"|(?:\d{{1,3}}|[{_ZH_NUMERAL}]+)[、．](?=[ \t]*\S)")
_LETTERED = (rf"[(（][ \t]*(?:[A-Za-z]|(?i:{_ROMAN}))[ \t]*[)）](?=[ \t]*\S)"
             rf"|(?:[A-Za-z]|(?i:{_ROMAN}))[.)](?=[ \t]+\S)")
_LINE_ITEM_MARKER = re.compile(rf"[ \t]*(?:{_NUMBERED}|{_LETTERED})[ \t]*")
_INLINE_ITEM_MARKER = re.compile(rf"[ \t]*(?:{_NUMBERED})[ \t]*")
_NUMBER_AFTER_COLON = re.compile(r"[:：][ \t]*\d{1,3}$")
_BARE_NUMBER = re.compile(r"(?:^|\s)\d{1,3}$")


def _ends_sentence(line: str, match: re.Match) -> bool:
    mark, end = match.group(1), match.end()
    following = line[end:end + 1]
    if mark in "。！？" or mark[0] in "。！？…":
        return True
    if following and not following.isspace():
        return False  # "3.14", "example.com", "U.S.A"
    if mark == ".":
        before = line[:match.start()]
        if _NUMBER_AFTER_COLON.search(before):
            return False  # "Steps: 1. mix the flour"
        if _BARE_NUMBER.search(before) and line[end:].lstrip()[:1].islower():
            return False  # "1. mix 2. bake": an inline list, not "It was 2. Then"
        token = re.search(r"([A-Za-z]+(?:\.[A-Za-z]+)*)$", before)
        if token:
            word = token.group(1).lower()
            if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha() and before[-1].isupper()):
                return False
    return True


def _skip_marker(line: str, start: int) -> int:
    """Past the list markers a sentence starting at `start` has ("> - 1. text", "## 2. Title")."""
    if start == 0:
        while (prefix := _PREFIX_MARKER.match(line, start)) and prefix.end() > start:
            start = prefix.end()
        item = _LINE_ITEM_MARKER.match(line, start)
    else:
        item = _INLINE_ITEM_MARKER.match(line, start)
    return item.end() if item else start


def sentences(text: str) -> list[str]:
    """The sentences of `text`, list markers removed (see the module docstring for the rules)."""
    out = []
    for line in text.splitlines():
        start = _skip_marker(line, 0)
        for match in _TERMINATOR.finditer(line):
            if match.start() < start:
                continue  # inside a list marker ("1." "a.")
            if _ends_sentence(line, match):
                out.append(line[start:match.end()])
                start = _skip_marker(line, match.end())
        out.append(line[start:])
    return [s.strip() for s in out if WORD_RE.search(s)]


def count_sentences(text: str) -> int:
    return len(sentences(text))


def paragraphs(text: str) -> list[str]:
    blocks, current = [], []
    for line in text.splitlines():
        if not line.strip() or DIVIDER_RE.match(line):
            if current:
                blocks.append("\n".join(current).strip())
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current).strip())
    return blocks


def loose_variants(text: str) -> list[str]:
    """IFEval's loose reading: the response, without its first line, without its last line, without both,
    and each of those with markdown emphasis (*) removed."""
    lines = text.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    base = [text, without_first, without_last, without_both]
    return base + [v.replace("*", "") for v in base]


# Script-level language identification, with stop words to tell the common Latin-script languages apart.
_STOPWORDS = {
    "en": {"the", "and", "is", "are", "of", "to", "in", "that", "it", "you", "for", "with", "this", "was", "be",
           "on", "not", "have", "as", "your", "can", "will", "at", "or", "from", "they", "we", "a", "an", "i"},
    "fr": {"le", "la", "les", "et", "est", "des", "une", "un", "du", "que", "qui", "dans", "pour", "pas", "sur",
           "avec", "sont", "nous", "vous", "ce", "cette", "au", "aux", "je", "il", "elle"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "mit", "den", "dem", "sich", "auf",
           "für", "ich", "sie", "es", "wir", "auch", "sind", "von", "bei"},
    "es": {"el", "los", "las", "y", "es", "una", "que", "del", "con", "por", "para", "como", "pero", "su",
           "sus", "son", "está", "yo", "lo", "se", "muy", "al"},
}
LANGUAGE_NAMES = {
    "en": ("English", "英文"), "zh": ("Chinese", "中文"), "fr": ("French", "法语"), "de": ("German", "德语"),
    "es": ("Spanish", "西班牙语"), "ja": ("Japanese", "日语"), "ko": ("Korean", "韩语"), "ru": ("Russian", "俄语"),
}


def detect_language(text: str) -> str:
    """'zh', 'ja', 'ko', 'ru', 'en', 'fr', 'de', 'es', or '' when the text has no letters."""
    kana = len(re.findall(r"[\u3040-\u30ff]", text))
    hangul = len(re.findall(r"[\uac00-\ud7af]", text))
    cyrillic = len(re.findall(r"[\u0400-\u04ff]", text))
    cjk = count_cjk(text)
    latin = latin_words(text)
    units = {"ja": kana, "ko": hangul, "ru": len(re.findall(r"[\u0400-\u04ff]+", text)), "zh": cjk,
             "latin": len([w for w in latin if not (w[0].isdigit() or re.search(r"[\u0400-\u04ff]", w))])}
    if kana and kana + cjk >= units["latin"]:
        return "ja"
    best = max(units, key=lambda k: (units[k], k == "zh"))
    if units[best] == 0:
        return ""
    if best == "ru" and cyrillic:
        return "ru"
    if best != "latin":
        return best
    lowered = [w.lower() for w in latin]
    hits = {lang: sum(w in stop for w in lowered) for lang, stop in _STOPWORDS.items()}
    top = max(hits, key=lambda k: (hits[k], k == "en"))
    return top


# Emoji: pictographs and symbols, with skin tones, variation selectors and ZWJ sequences kept as one.
_EMOJI_CORE = (r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF"
               r"\u3030\u303D\u3297\u3299\u00A9\u00AE\u203C\u2049\u2122\u2139]")
_EMOJI_TAIL = r"[\uFE0F\u20E3\U0001F3FB-\U0001F3FF]*"
EMOJI_RE = re.compile(r"[\U0001F1E6-\U0001F1FF]{2}|"
                      rf"(?:{_EMOJI_CORE}{_EMOJI_TAIL})(?:\u200D{_EMOJI_CORE}{_EMOJI_TAIL})*")
# Symbols that are plain text unless followed by the emoji presentation selector U+FE0F.
_TEXT_SYMBOLS = set("\u00A9\u00AE\u2122\u2139\u203C\u2049")


def emojis(text: str) -> list[str]:
    out = []
    for m in EMOJI_RE.finditer(text):
        e = m.group(0)
        if e in _TEXT_SYMBOLS:
            continue
        out.append(e)
    return out


def count_emojis(text: str) -> int:
    return len(emojis(text))
