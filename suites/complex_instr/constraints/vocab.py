"""Words for the keyword constraints: the pools instructions draw from, and the words of a response a person
could name as keywords (English content words; Chinese lexicon words and repeated n-grams that are words,
not fragments of longer ones or numerals)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from importlib import resources

from suites.complex_instr.text import CJK, CJK_RE, latin_words

POOL = {
    "en": ("balance", "journey", "window", "garden", "silence", "river", "future", "memory", "signal", "bridge",
           "energy", "harvest", "morning", "pattern", "compass", "lantern", "harbor", "season", "teacher",
           "budget", "network", "courage", "kitchen", "planet", "market", "history", "village", "thunder",
           "blanket", "library", "mountain", "culture", "promise", "feather", "engine", "island", "letter",
           "mirror", "shadow", "orange", "science", "health", "winter", "summer", "ocean", "forest", "camera",
           "coffee", "travel", "friend", "family", "design", "safety", "system", "country", "language",
           "project", "climate", "student", "animal", "question", "problem", "moment", "answer", "light",
           "water", "music", "story", "money", "simple", "quiet", "bright", "gentle", "careful", "strong"),
    "zh": ("春天", "城市", "朋友", "时间", "故事", "记忆", "河流", "窗户", "阳光", "未来", "学习", "健康",
           "家庭", "音乐", "季节", "咖啡", "旅行", "安全", "文化", "历史", "科学", "自然", "老师", "学生",
           "森林", "大海", "山峰", "雨水", "月亮", "星星", "花园", "书籍", "梦想", "勇气", "耐心", "习惯",
           "效率", "环境", "技术", "问题", "方法", "建议", "计划", "经验", "生活", "工作", "运动", "饮食",
           "睡眠", "乡村", "秋天", "冬天", "夏天", "节日", "味道", "声音", "颜色", "温度", "速度"),
}

EN_STOPWORDS = set(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each even every few for from further had has
    have having he her here hers herself him himself his how however i if in into is it its itself just like
    many may me might more most much must my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up upon very was we well were what when where which
    while who whom why will with within without would you your yours yourself yourselves one two three four
    five also still yet thing things something make makes made way ways really quite often always never
    least less rather cannot nearly except although though whether either neither another anything everything
    everyone nobody somebody someone anyone inside around across along among since unless toward towards
    instead perhaps maybe almost usually finally enough lots sort kind away ever else first second last""".split()
)
ZH_FUNCTION_CHARS = set("的了是在和与也就都而及或被把这那个们我你他她它之其有不人一上中下来去说要会能到得地着过为以对所"
                        "里后前时很还又让给从向更最没吗呢吧啊些每各将")
# Numerals and the measure words that follow them: "五百元", "三块钱", "十几本书" give no keywords.
ZH_NUMERAL_CHARS = set("〇零一二三四五六七八九十百千万亿两几半双")
ZH_MEASURE_CHARS = set("个元块角次岁件条张只位种本杯碗盘壶斤克米分秒号层页句段篇遍倍份把根支枝头匹")
ZH_MAX_NGRAM = 4  # longest repeated Chinese n-gram taken as a word
ZH_MIN_REPEATS = 3  # an n-gram not in the lexicon must repeat this often to count as a word
ZH_LEXICON = frozenset(
    word
    for line in (resources.files("suites.complex_instr") / "data" / "zh_words.txt").read_text("utf-8").splitlines()
    if not line.startswith("#")
    for word in line.split()
) | frozenset(POOL["zh"])


def _joins(char: str) -> bool:
    """Whether a neighbouring character makes a match part of a longer word (letters and digits, not CJK:
    English keywords may touch Chinese text)."""
    return char.isalnum() and not CJK_RE.match(char)


# Endings that keep a word the same keyword for "include X" / "use X N times": plural, possessive, past,
# gerund ("wars" and "war's" count for "war"; "award" and "warning" do not).
INFLECTIONS = ("s", "es", "'s", "’s", "ed", "d", "ing")


def count_keyword(text: str, keyword: str, inflected: bool = False) -> int:
    """Occurrences of `keyword`, case-insensitive, as a whole word (letters or digits on neither side; a
    Chinese keyword is a plain substring). With `inflected`, a word that is the keyword plus one of
    INFLECTIONS counts too."""
    if CJK_RE.search(keyword):
        return text.count(keyword)
    count = 0
    for m in re.finditer(re.escape(keyword), text, flags=re.IGNORECASE):
        before = text[m.start() - 1] if m.start() else " "
        end = m.end()
        if inflected and (end < len(text) and _joins(text[end]) or text[end:end + 1] in ("'", "’")):
            ending = re.match(r"['’]?[^\W_]*", text[end:]).group(0).lower()
            if ending in INFLECTIONS:
                end += len(ending)
        after = text[end] if end < len(text) else " "
        count += not (_joins(before) or _joins(after))
    return count


def _occurrences(text: str, word: str) -> list[int]:
    """Start offsets of the non-overlapping occurrences `count_keyword` counts."""
    return [m.start() for m in re.finditer(re.escape(word), text)]


def _content_char(char: str) -> bool:
    """A Chinese character that can belong to the same word as its neighbour (not a particle, numeral or
    measure word: "五百元利息" does not make 元利息 a word)."""
    return bool(CJK_RE.match(char)) and char not in ZH_FUNCTION_CHARS | ZH_NUMERAL_CHARS | ZH_MEASURE_CHARS


def zh_fragment(text: str, word: str) -> bool:
    """Whether `word` is part of a longer repeated Chinese word: it occurs at least twice and every occurrence
    has the same Chinese content character (`_content_char`) on its left, or on its right. "务员" always
    inside "服务员", "熊猫" always inside "大熊猫"; "花园" followed by the particle 里 is a word."""
    starts = _occurrences(text, word)
    if len(starts) < 2:
        return False
    for neighbours in ([text[i - 1] if i else "" for i in starts],
                       [text[i + len(word):i + len(word) + 1] for i in starts]):
        if len(set(neighbours)) == 1 and _content_char(neighbours[0]):
            return True
    return False


def _zh_ngram_word(gram: str) -> bool:
    chars = set(gram)
    return not (chars & ZH_FUNCTION_CHARS or chars & ZH_NUMERAL_CHARS or gram[0] in ZH_MEASURE_CHARS)


def zh_keyword_candidates(text: str) -> dict[str, int]:
    """Chinese words of the response with their counts: lexicon words, and n-grams (2 to ZH_MAX_NGRAM
    characters, no particles, numerals or leading measure word) repeated ZH_MIN_REPEATS times or more;
    either only where it is not a fragment of a longer repeated word (`zh_fragment`)."""
    found = {word: len(_occurrences(text, word)) for word in ZH_LEXICON if word in text}
    grams = Counter(run[i:i + n] for run in re.findall(f"[{CJK}]+", text)
                    for n in range(2, ZH_MAX_NGRAM + 1) for i in range(len(run) - n + 1))
    for gram, overlapping in grams.items():  # overlapping counts bound the non-overlapping ones from above
        if overlapping >= ZH_MIN_REPEATS and gram not in found and _zh_ngram_word(gram):
            count = len(_occurrences(text, gram))
            if count >= ZH_MIN_REPEATS:
                found[gram] = count
    return {word: count for word, count in found.items() if not zh_fragment(text, word)}


@functools.lru_cache(maxsize=4096)
def keyword_candidates(text: str) -> tuple[str, ...]:
    """Words of the response a person could name as keywords: English content words, and Chinese words
    (`zh_keyword_candidates`); most frequent first, ties alphabetical. Cached: a run retargets the same
    answers many times."""
    counts: Counter = Counter()
    for word in latin_words(text):
        lowered = word.lower()
        if len(lowered) >= 4 and lowered.isalpha() and lowered not in EN_STOPWORDS:
            counts[lowered] += 1
    if CJK_RE.search(text):
        counts.update(zh_keyword_candidates(text))
    found = [w for w in counts if count_keyword(text, w) > 0]
    return tuple(sorted(found, key=lambda w: (-counts[w], w)))
