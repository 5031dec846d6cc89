"""Letter case, commas and the response language."""

from __future__ import annotations

import re

from suites.complex_instr.constraints.base import (
    ANY,
    ConstraintType,
    Context,
    Params,
    compare,
    plural,
    relation_fields,
    retarget_count,
)
from suites.complex_instr.text import LANGUAGE_NAMES, detect_language, latin_words

# --- change_case:capital_word_frequency -----------------------------------------------------------------


_DOTTED_ACRONYM = re.compile(r"(?<![^\W\d_])(?:[A-Z]\.){2,}")  # "U.S.", "U.S.A."
_POSSESSIVE = re.compile(r"['’]s$")


def count_capital_words(text: str) -> int:
    """Words of two letters or more written entirely in capitals ("NASA", "VERY", "NASA's", "U.S.A."; not "I"
    or "A")."""
    acronyms, rest = len(_DOTTED_ACRONYM.findall(text)), _DOTTED_ACRONYM.sub(" ", text)
    words = (_POSSESSIVE.sub("", w) for w in latin_words(rest))
    return acronyms + sum(1 for w in words if len(w) >= 2 and w.isupper())


CAPITAL_BOUNDS = {"at least": (1, 2, 3, 5, 8), "less than": (2, 3, 4, 5, 10)}


def _capital_sample(ctx: Context) -> Params:
    relation = ctx.rng.choice(sorted(CAPITAL_BOUNDS))
    return {"relation": relation, "capital_frequency": ctx.rng.choice(CAPITAL_BOUNDS[relation])}


CAPITAL_WORD_FREQUENCY = ConstraintType(
    id="change_case:capital_word_frequency", langs=("en",),
    sample=_capital_sample,
    check=lambda response, params: compare(count_capital_words(response), params["relation"],
                                           params["capital_frequency"]),
    retarget_fn=lambda response, params, ctx: retarget_count(count_capital_words(response), params, ctx,
                                                             tuple(CAPITAL_BOUNDS), "capital_frequency"),
    fields=lambda params, lang: {**relation_fields(params, lang),
                                 "times": plural(params["capital_frequency"], "time"),
                                 "words": plural(params["capital_frequency"], "word")},
    phrasings={
        "en": ("In your response, words with all capital letters should appear {rel} {times}.",
               "Use {rel} {words} written entirely in CAPITAL letters.",
               "The number of ALL-CAPS words in your answer should be {rel} {capital_frequency}."),
        "zh": ("回答中全部大写的英文单词应出现{rel}{capital_frequency}次。", "请使用{rel}{capital_frequency}个全大写的英文单词。",
               "全大写单词（如 NASA）的数量要{rel}{capital_frequency}个。"),
    },
)

# --- change_case:english_capital / english_lowercase ----------------------------------------------------


def _all_capitals(response: str, params: Params) -> bool:
    return response.isupper() and detect_language(response) == "en"


def _all_lowercase(response: str, params: Params) -> bool:
    return response.islower() and detect_language(response) == "en"


ENGLISH_CAPITAL = ConstraintType(
    id="change_case:english_capital", langs=("en",), sample=lambda ctx: {}, check=_all_capitals,
    retarget_fn=lambda response, params, ctx: {} if _all_capitals(response, {}) else None,
    phrasings={
        "en": ("Your entire response should be in English, and in all capital letters.",
               "Write the whole answer in English using only CAPITAL LETTERS.",
               "ANSWER IN ENGLISH, ALL CAPS, WITH NO LOWERCASE LETTERS AT ALL."),
        "zh": ("请全部用英文大写字母作答，不要出现小写字母。", "整个回答用英文书写，并且每个字母都大写。", "用全大写的英文回答。"),
    },
)

ENGLISH_LOWERCASE = ConstraintType(
    id="change_case:english_lowercase", langs=("en",), sample=lambda ctx: {}, check=_all_lowercase,
    retarget_fn=lambda response, params, ctx: {} if _all_lowercase(response, {}) else None,
    phrasings={
        "en": ("Your entire response should be in English, and in all lowercase letters. No capital letters are "
               "allowed.",
               "write everything in english and in lowercase only; no capital letters anywhere.",
               "Use only lowercase English letters in the whole reply."),
        "zh": ("请用英文作答，并且全部使用小写字母，不允许出现大写字母。", "回答用英文，所有字母都小写。", "整篇英文回答中不能出现任何大写字母。"),
    },
)

# --- punctuation:no_comma -------------------------------------------------------------------------------

COMMAS = (",", "，")


def _no_comma(response: str, params: Params) -> bool:
    return not any(c in response for c in COMMAS)


NO_COMMA = ConstraintType(
    id="punctuation:no_comma", langs=ANY, sample=lambda ctx: {}, check=_no_comma,
    retarget_fn=lambda response, params, ctx: {} if _no_comma(response, {}) else None,
    phrasings={
        "en": ("In your entire response, refrain from the use of any commas.", "Do not use any commas in your answer.",
               "Write the reply without a single comma."),
        "zh": ("整个回答中不要使用任何逗号（“，”和“,”都不行）。", "回复里不允许出现逗号。", "请不用逗号完成回答。"),
    },
)

# --- language:response_language -------------------------------------------------------------------------


def _language_sample(ctx: Context) -> Params:
    own = ctx.response_lang if ctx.response_lang in LANGUAGE_NAMES else "en"
    other = "zh" if own == "en" else "en"
    return {"language": own if ctx.rng.random() < 0.7 else other}


def _language_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    found = detect_language(response)
    return {"language": found} if found in LANGUAGE_NAMES else None


RESPONSE_LANGUAGE = ConstraintType(
    id="language:response_language", langs=ANY, sample=_language_sample,
    check=lambda response, params: detect_language(response) == params["language"],
    retarget_fn=_language_retarget,
    fields=lambda params, lang: {"name": LANGUAGE_NAMES[params["language"]][0 if lang == "en" else 1]},
    phrasings={
        "en": ("Your ENTIRE response should be in {name} language, no other language is allowed.",
               "Respond only in {name}.", "Write the whole answer in {name}."),
        "zh": ("请全程使用{name}回答，不要夹杂其他语言。", "只能用{name}作答。", "整个回复都要用{name}写。"),
    },
)

TYPES = (CAPITAL_WORD_FREQUENCY, ENGLISH_CAPITAL, ENGLISH_LOWERCASE, NO_COMMA, RESPONSE_LANGUAGE)
