"""Keyword inclusion, keyword frequency, forbidden words and letter frequency."""

from __future__ import annotations

import re
import string
from collections import Counter
from importlib import resources

from suites.complex_instr.constraints.base import (
    ANY,
    ConstraintType,
    Context,
    Params,
    compare,
    quote_list,
    relation_fields,
    retarget_count,
)
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
    five also still yet thing things something make makes made way ways really quite often always never""".split()
)
ZH_FUNCTION_CHARS = set("的了是在和与也就都而及或被把这那个们我你他她它之其有不人一上中下来去说要会能到得地着过为以对所"
                        "里后前时很还又让给从向更最没吗呢吧啊些每各将")
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


def count_keyword(text: str, keyword: str) -> int:
    if CJK_RE.search(keyword):
        return text.count(keyword)
    count = 0
    for m in re.finditer(re.escape(keyword), text, flags=re.IGNORECASE):
        before = text[m.start() - 1] if m.start() else " "
        after = text[m.end()] if m.end() < len(text) else " "
        count += not (_joins(before) or _joins(after))
    return count


def keyword_candidates(text: str) -> list[str]:
    """Words of the response a person could name as keywords: English content words, Chinese words from
    the lexicon, and Chinese bigrams repeated three times or more; most frequent first, ties alphabetical."""
    counts: Counter = Counter()
    for word in latin_words(text):
        lowered = word.lower()
        if len(lowered) >= 4 and lowered.isalpha() and lowered not in EN_STOPWORDS:
            counts[lowered] += 1
    if CJK_RE.search(text):
        for word in ZH_LEXICON:
            if word in text:
                counts[word] = text.count(word)
        for run in re.findall(f"[{CJK}]+", text):
            for i in range(len(run) - 1):
                gram = run[i:i + 2]
                if gram not in counts and not ZH_FUNCTION_CHARS & set(gram) and text.count(gram) >= 3:
                    counts[gram] = text.count(gram)
    found = [w for w in counts if count_keyword(text, w) > 0]
    return sorted(found, key=lambda w: (-counts[w], w))


def _same_script(words: list[str], response_lang: str) -> bool:
    """Chinese keywords for Chinese answers, Latin ones otherwise."""
    return all(bool(CJK_RE.search(w)) == (response_lang == "zh") for w in words)


def _pick(candidates: list[str], k: int, ctx: Context, exclude: set[str] = frozenset()) -> list[str]:
    pool = [w for w in candidates[:30] if w not in exclude]
    ctx.rng.shuffle(pool)
    return pool[:k]


def _pool(ctx: Context) -> tuple[str, ...]:
    return POOL["zh" if ctx.response_lang == "zh" else "en"]


# --- keywords:existence ---------------------------------------------------------------------------------

def _existence_sample(ctx: Context) -> Params:
    return {"keywords": ctx.rng.sample(_pool(ctx), ctx.rng.randint(1, 3))}


def _existence_check(response: str, params: Params) -> bool:
    return all(count_keyword(response, w) > 0 for w in params["keywords"])


def _existence_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    candidates = keyword_candidates(response)
    if params is None:
        chosen = _pick(candidates, ctx.rng.randint(1, 3), ctx)
    else:
        kept = [w for w in params["keywords"] if count_keyword(response, w) > 0]
        missing = len(params["keywords"]) - len(kept)
        chosen = kept + _pick(candidates, missing, ctx, exclude={w.lower() for w in kept})
    return {"keywords": chosen} if chosen else None


def _keyword_fields(params: Params, lang: str) -> dict:
    items = params["keywords"] if "keywords" in params else params["forbidden_words"]
    return {"kw": quote_list(items, lang), "noun": "keyword" if len(items) == 1 else "keywords",
            "word_noun": "word" if len(items) == 1 else "words"}


EXISTENCE = ConstraintType(
    id="keywords:existence", langs=ANY, sample=_existence_sample, check=_existence_check,
    retarget_fn=_existence_retarget, fields=_keyword_fields,
    fits=lambda params, lang: _same_script(params["keywords"], lang),
    phrasings={
        "en": ("Include the {noun} {kw} in the response.", "Make sure your answer mentions {kw}.",
               "Your reply must contain the {word_noun} {kw}.", "Use {kw} somewhere in your response."),
        "zh": ("回答中必须包含关键词{kw}。", "请在回答里用到{kw}。", "你的回复需要提到{kw}。",
               "务必在回答中出现{kw}。"),
    },
)


# --- keywords:frequency ---------------------------------------------------------------------------------

def _frequency_sample(ctx: Context) -> Params:
    relation = ctx.rng.choice(["at least", "less than"])
    n = ctx.rng.randint(1, 3) if relation == "at least" else ctx.rng.randint(2, 4)
    return {"keyword": ctx.rng.choice(_pool(ctx)), "relation": relation, "frequency": n}


def _frequency_check(response: str, params: Params) -> bool:
    return compare(count_keyword(response, params["keyword"]), params["relation"], params["frequency"])


def _frequency_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    if params is not None:
        found = retarget_count(count_keyword(response, params["keyword"]), params, ctx, (), "frequency",
                               extra={"keyword": params["keyword"]})
        if found is not None:
            return found
    candidates = keyword_candidates(response)
    if not candidates:
        return None
    keyword = _pick(candidates, 1, ctx)[0]
    relations = ("at least", "less than")
    return retarget_count(count_keyword(response, keyword), params, ctx, relations, "frequency",
                          extra={"keyword": keyword})


def _times(n: int, lang: str) -> str:
    return f"{n} time" + ("" if n == 1 else "s") if lang == "en" else f"{n}次"


def _frequency_fields(params: Params, lang: str) -> dict:
    return {**relation_fields(params, lang), "times": _times(params["frequency"], lang)}


FREQUENCY = ConstraintType(
    id="keywords:frequency", langs=ANY, sample=_frequency_sample, check=_frequency_check,
    retarget_fn=_frequency_retarget, fields=_frequency_fields,
    fits=lambda params, lang: _same_script([params["keyword"]], lang),
    phrasings={
        "en": ('In your response, the word "{keyword}" should appear {rel} {times}.',
               'Use the word "{keyword}" {rel} {times}.',
               'Make sure "{keyword}" occurs {rel} {times} in your answer.'),
        "zh": ("“{keyword}”这个词在回答中出现的次数应{rel}{frequency}次。", "请让“{keyword}”一词出现{rel}{frequency}次。",
               "回答中“{keyword}”要出现{rel}{frequency}次。"),
    },
)


# --- keywords:forbidden_words ---------------------------------------------------------------------------

def _forbidden_sample(ctx: Context) -> Params:
    return {"forbidden_words": ctx.rng.sample(_pool(ctx), ctx.rng.randint(1, 3))}


def _forbidden_check(response: str, params: Params) -> bool:
    return all(count_keyword(response, w) == 0 for w in params["forbidden_words"])


def _forbidden_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    absent = [w for w in _pool(ctx) if count_keyword(response, w) == 0]
    if params is not None:
        kept = [w for w in params["forbidden_words"] if count_keyword(response, w) == 0]
        missing = len(params["forbidden_words"]) - len(kept)
        chosen = kept + _pick(absent, missing, ctx, exclude=set(kept))
    else:
        chosen = _pick(absent, ctx.rng.randint(1, 3), ctx)
    return {"forbidden_words": chosen} if chosen else None


FORBIDDEN = ConstraintType(
    id="keywords:forbidden_words", langs=ANY, sample=_forbidden_sample, check=_forbidden_check,
    retarget_fn=_forbidden_retarget, fields=_keyword_fields,
    fits=lambda params, lang: _same_script(params["forbidden_words"], lang),
    phrasings={
        "en": ("Do not include the {word_noun} {kw} in the response.", "Avoid using {kw} anywhere in your answer.",
               "Your reply must not contain the {word_noun} {kw}."),
        "zh": ("回答中不要出现{kw}。", "请避免使用{kw}这样的词。", "回复里不允许出现{kw}。"),
    },
)


# --- keywords:letter_frequency --------------------------------------------------------------------------

def _letter_count(text: str, letter: str) -> int:
    return text.lower().count(letter)


def _letter_sample(ctx: Context) -> Params:
    relation = ctx.rng.choice(["at least", "less than"])
    return {"letter": ctx.rng.choice("abcdefghilmnoprstuwy"), "relation": relation,
            "let_frequency": ctx.rng.choice([3, 5, 8, 10, 12, 15, 20])}


def _letter_check(response: str, params: Params) -> bool:
    return compare(_letter_count(response, params["letter"]), params["relation"], params["let_frequency"])


def _letter_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    if params is not None:
        return retarget_count(_letter_count(response, params["letter"]), params, ctx, (), "let_frequency",
                              extra={"letter": params["letter"]})
    present = sorted({c for c in response.lower() if c in string.ascii_lowercase})
    if not present:
        return None
    letter = ctx.rng.choice(present)
    return retarget_count(_letter_count(response, letter), None, ctx, ("at least", "less than"), "let_frequency",
                          extra={"letter": letter})


def _letter_fields(params: Params, lang: str) -> dict:
    return {**relation_fields(params, lang), "times": _times(params["let_frequency"], lang)}


LETTER_FREQUENCY = ConstraintType(
    id="keywords:letter_frequency", langs=("en",), sample=_letter_sample, check=_letter_check,
    retarget_fn=_letter_retarget, fields=_letter_fields,
    phrasings={
        "en": ('In your response, the letter "{letter}" should appear {rel} {times}.',
               'Make sure the letter {letter} is used {rel} {times} (upper or lower case).',
               'Write so that the letter "{letter}" shows up {rel} {times} in total.'),
        "zh": ("回答中字母“{letter}”出现的次数应{rel}{let_frequency}次。",
               "请确保字母{letter}（不区分大小写）在回答中出现{rel}{let_frequency}次。",
               "字母“{letter}”在全文中要出现{rel}{let_frequency}次。"),
    },
)

TYPES = (EXISTENCE, FREQUENCY, FORBIDDEN, LETTER_FREQUENCY)
