"""Offline text measurement for the verifiers: words, sentences, paragraphs, language, emoji.

Nothing here downloads data. Counting rules (documented in docs/complex_instr.md):

* a *word* is a run of letters/digits (apostrophes and hyphens inside a word keep it whole), and every CJK
  ideograph is a word of its own, so "我爱NLP models" has 4 words;
* a *sentence* ends at . ! ? 。！？ (and the Hindi । ॥, Urdu ۔, Arabic ؟) or an ellipsis (with any closing quotes, brackets or `*` right after it)
  followed by a space or the end of the line, at the end of a list item's line, or at the end of the text;
  any other line break does not end one (verse lines, "Dear Ann," and headings run on into the next line).
  Chinese marks end one even with text right after them. Common abbreviations (Mr., e.g., U.S.), initials and decimals (3.5) do not end one. A
  list marker where a sentence starts (1. / 1) / (1) / a. / iv. / - / * / # / > at a line start; 1. / 一、 /
  （一） after another sentence) is not part of it, nor is a small number before "." in "Steps: 1. mix" or
  "1. mix 2. bake". A piece counts only if it holds a word;
* *paragraphs* are blocks separated by blank lines; a line that is only a markdown divider (*** --- ___)
  also separates and is not a paragraph.
"""

from __future__ import annotations

import functools
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


_TERMINATOR = re.compile(r"(\.{3}|…+|[.!?।॥۔؟]+|[。！？]+)([\"'”’)\]」』）*]*)")  # closers: quotes, brackets, emphasis
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
    if (mark == "..." or mark[0] == "…") and line[end:].lstrip()[:1].islower():
        return False  # "Wait... what?": an ellipsis before a lowercase word pauses, it does not end
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


_BULLET_ITEM = re.compile(r"[ \t]*(?:>[ \t]*)*[-*+•·▪‣◦]+[ \t]+\S")


def _is_list_item(line: str) -> bool:
    """A bulleted, numbered or lettered list line ("- tea", "2) Eat", "> 1. Quoted", "（一）目的"); a "#" heading
    is not one."""
    if _BULLET_ITEM.match(line):
        return True
    quoted = re.match(r"[ \t]*(?:>[ \t]*)*", line).end()
    item = _LINE_ITEM_MARKER.match(line, quoted)
    return bool(item) and item.end() > quoted


def sentences(text: str) -> list[str]:
    """The sentences of `text`, list markers removed (see the module docstring for the rules). A line break
    ends a sentence only after a list item: other lines without an end mark (verse, a salutation, a heading)
    run on into the next line, as they do for a reader (and for IFEval's punkt tokenizer)."""
    out, pending = [], ""

    def close(piece: str) -> None:
        nonlocal pending
        out.append(f"{pending}\n{piece}" if pending else piece)
        pending = ""

    for line in text.splitlines():
        start = _skip_marker(line, 0)
        for match in _TERMINATOR.finditer(line):
            if match.start() < start:
                continue  # inside a list marker ("1." "a.")
            if _ends_sentence(line, match):
                close(line[start:match.end()])
                start = _skip_marker(line, match.end())
        rest = line[start:]
        if _is_list_item(line):
            close(rest)  # a list item ends at the end of its line, with or without an end mark
        elif WORD_RE.search(rest):
            pending = f"{pending}\n{rest.strip()}" if pending else rest.strip()
    if pending:
        out.append(pending)
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


# Language identification: Unicode script rules where the script decides, langdetect (the library IFEval
# uses, with a fixed seed) where it does not, and stop words for short Latin text.
_STOPWORDS = {
    "en": {"the", "and", "is", "are", "of", "to", "in", "that", "it", "you", "for", "with", "this", "was", "be",
           "on", "not", "have", "as", "your", "can", "will", "at", "or", "from", "they", "we", "a", "an", "i",
           "yes", "no", "my", "answer"},
    "fr": {"le", "la", "les", "et", "est", "des", "une", "un", "du", "que", "qui", "dans", "pour", "pas", "sur",
           "avec", "sont", "nous", "vous", "ce", "cette", "au", "aux", "je", "il", "elle", "oui", "non"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "mit", "den", "dem", "sich", "auf",
           "für", "ich", "sie", "es", "wir", "auch", "sind", "von", "bei", "ja", "nein"},
    "es": {"el", "los", "las", "y", "es", "una", "que", "del", "con", "por", "para", "como", "pero", "su",
           "sus", "son", "está", "yo", "lo", "se", "muy", "al", "sí"},
}
# IFEval's 30 response languages (instructions_util.LANGUAGE_CODES) and Chinese: (English name, Chinese name).
LANGUAGE_NAMES = {
    "en": ("English", "英文"), "zh": ("Chinese", "中文"), "es": ("Spanish", "西班牙语"), "pt": ("Portuguese", "葡萄牙语"),
    "ar": ("Arabic", "阿拉伯语"), "hi": ("Hindi", "印地语"), "fr": ("French", "法语"), "ru": ("Russian", "俄语"),
    "de": ("German", "德语"), "ja": ("Japanese", "日语"), "it": ("Italian", "意大利语"), "bn": ("Bengali", "孟加拉语"),
    "uk": ("Ukrainian", "乌克兰语"), "th": ("Thai", "泰语"), "ur": ("Urdu", "乌尔都语"), "ta": ("Tamil", "泰米尔语"),
    "te": ("Telugu", "泰卢固语"), "bg": ("Bulgarian", "保加利亚语"), "ko": ("Korean", "韩语"), "pl": ("Polish", "波兰语"),
    "he": ("Hebrew", "希伯来语"), "fa": ("Persian", "波斯语"), "vi": ("Vietnamese", "越南语"), "ne": ("Nepali", "尼泊尔语"),
    "sw": ("Swahili", "斯瓦希里语"), "kn": ("Kannada", "卡纳达语"), "mr": ("Marathi", "马拉地语"),
    "gu": ("Gujarati", "古吉拉特语"), "pa": ("Punjabi", "旁遮普语"), "ml": ("Malayalam", "马拉雅拉姆语"),
    "fi": ("Finnish", "芬兰语"),
}
# Scripts that only one of these languages is written in (Devanagari, Arabic and Cyrillic are shared: langdetect
# tells hi / mr / ne, ar / fa / ur and ru / uk / bg apart).
_SCRIPTS = {
    "ja": r"[\u3040-\u30ff]", "ko": r"[\uac00-\ud7af\u1100-\u11ff]", "zh": f"[{CJK}]", "th": r"[\u0e00-\u0e7f]",
    "he": r"[\u0590-\u05ff]", "bn": r"[\u0980-\u09ff]", "pa": r"[\u0a00-\u0a7f]", "gu": r"[\u0a80-\u0aff]",
    "ta": r"[\u0b80-\u0bff]", "te": r"[\u0c00-\u0c7f]", "kn": r"[\u0c80-\u0cff]", "ml": r"[\u0d00-\u0d7f]",
    "el": r"[\u0370-\u03ff]", "devanagari": r"[\u0900-\u097f]", "arabic": r"[\u0600-\u06ff\u0750-\u077f]",
    "cyrillic": r"[\u0400-\u04ff]", "latin": r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]",
}
_SCRIPT_RES = {name: re.compile(pattern) for name, pattern in _SCRIPTS.items()}
_SHARED_SCRIPTS = {"devanagari": ("hi", "mr", "ne"), "arabic": ("ar", "fa", "ur"), "cyrillic": ("ru", "uk", "bg")}
SHORT_LATIN_WORDS = 4  # Latin text with fewer words than this is told by stop words, not by langdetect


@functools.lru_cache(maxsize=1)
def _langdetect_factory():
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = 0  # langdetect samples n-grams at random: a fixed seed gives the same answer every run
    return factory


def _langdetect(text: str, allowed: tuple[str, ...] = ()) -> str:
    """langdetect's most probable language ("zh-cn"/"zh-tw" read as "zh"), among `allowed` when given; ""
    when it finds no features."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _langdetect_factory().create()
    detector.append(text)
    try:
        ranked = detector.get_probabilities()
    except LangDetectException:
        return ""
    for guess in ranked:
        code = "zh" if guess.lang.startswith("zh") else guess.lang
        if not allowed or code in allowed:
            return code
    return allowed[0] if allowed else ""


@functools.lru_cache(maxsize=4096)
def detect_language(text: str) -> str:
    """An ISO 639-1 code ("en", "zh", "hi", "vi", ...; every language langdetect knows), or "" when the text
    has no letters or langdetect finds nothing: "" never equals an asked language.

    The script decides where it is one language's own (kana: ja, hangul: ko, Han without kana: zh, Thai,
    Hebrew, the Indic scripts of bn pa gu ta te kn ml); a script shared by several languages goes to
    langdetect restricted to them; Latin text goes to langdetect, except short text (fewer than
    SHORT_LATIN_WORDS words: "YES", "My answer is yes."), where langdetect guesses at random and stop words
    decide (an ASCII-only short text without any is English). The script with the most letters wins (Han
    counts per character, others per word); Latin words inside Chinese text do not make it English."""
    counts = {name: len(regex.findall(text)) for name, regex in _SCRIPT_RES.items()}
    kana, han = counts["ja"], counts["zh"]
    latin = [w for w in latin_words(text) if _SCRIPT_RES["latin"].search(w)]
    units = {name: len(re.findall(f"{_SCRIPTS[name]}+", text)) for name, n in counts.items()
             if n and name not in ("ja", "zh", "latin")}  # words of the other scripts
    units.update(latin=len(latin), zh=han)
    if kana and kana + han >= units["latin"]:
        return "ja"
    best = max(units, key=lambda k: (units[k], k == "zh"))
    if units[best] == 0:
        return ""
    if best in _SHARED_SCRIPTS:
        script_text = " ".join(re.findall(f"{_SCRIPTS[best]}+", text))
        return _langdetect(script_text, _SHARED_SCRIPTS[best])
    if best != "latin":
        return best
    lowered = [w.lower() for w in latin]
    if len(latin) < SHORT_LATIN_WORDS:
        hits = {lang: sum(w in stop for w in lowered) for lang, stop in _STOPWORDS.items()}
        top = max(hits, key=lambda k: (hits[k], k == "en"))
        if hits[top]:
            return top
        if all(w.isascii() for w in latin):
            return "en"
    if sum(w.isupper() for w in latin) * 2 > len(latin):
        lowered_text = " ".join(lowered)  # langdetect's profiles are of mixed-case text: "HARD HAT AREA" reads as German
        return _langdetect(lowered_text)
    return _langdetect(" ".join(latin))


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
