"""Keyword inclusion, keyword frequency, forbidden words and letter frequency."""

from __future__ import annotations

import string

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
from suites.complex_instr.constraints.vocab import POOL, count_keyword, keyword_candidates
from suites.complex_instr.text import CJK_RE


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
    return all(count_keyword(response, w, inflected=True) > 0 for w in params["keywords"])


def _existence_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    candidates = keyword_candidates(response)
    if params is None:
        chosen = _pick(candidates, ctx.rng.randint(1, 3), ctx)
    else:
        kept = [w for w in params["keywords"] if count_keyword(response, w, inflected=True) > 0]
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
    return compare(count_keyword(response, params["keyword"], inflected=True), params["relation"],
                   params["frequency"])


def _frequency_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    if params is not None:
        found = retarget_count(count_keyword(response, params["keyword"], inflected=True), params, ctx, (), "frequency",
                               extra={"keyword": params["keyword"]})
        if found is not None:
            return found
    candidates = keyword_candidates(response)
    if not candidates:
        return None
    keyword = _pick(candidates, 1, ctx)[0]
    relations = ("at least", "less than")
    return retarget_count(count_keyword(response, keyword, inflected=True), params, ctx, relations, "frequency",
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
