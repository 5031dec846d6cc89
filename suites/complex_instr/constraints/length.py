"""Length: words, sentences, paragraphs, the first word of the n-th paragraph, and Chinese character count."""

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
from suites.complex_instr.text import CJK_RE, DIVIDER_RE, count_sentences, count_words, paragraphs, words

# --- length_constraints:number_words --------------------------------------------------------------------

WORD_BOUNDS = {"at least": (50, 80, 100, 150, 200, 250, 300, 400), "less than": (30, 50, 80, 100, 150, 200, 300)}


def _counted_sample(bounds: dict, key: str):
    def sample(ctx: Context) -> Params:
        relation = ctx.rng.choice(sorted(bounds))
        return {"relation": relation, key: ctx.rng.choice(bounds[relation])}
    return sample


def _counted_check(counter, key: str):
    return lambda response, params: compare(counter(response), params["relation"], params[key])


def _counted_retarget(counter, key: str, relations: tuple[str, ...], minimum: int = 1):
    return lambda response, params, ctx: retarget_count(counter(response), params, ctx, relations, key, minimum)


NUMBER_WORDS = ConstraintType(
    id="length_constraints:number_words", langs=("en",),
    sample=_counted_sample(WORD_BOUNDS, "num_words"), check=_counted_check(count_words, "num_words"),
    retarget_fn=_counted_retarget(count_words, "num_words", tuple(WORD_BOUNDS)),
    fields=lambda params, lang: {**relation_fields(params, lang), "words": plural(params["num_words"], "word")},
    phrasings={
        "en": ("Answer with {rel} {words}.", "Your response should contain {rel} {words}.",
               "Write {rel} {words} in total.", "The reply must be {rel} {words} long."),
        "zh": ("回答的单词数应{rel}{num_words}个。", "全文{rel}{num_words}个单词。", "你的回答要写{rel}{num_words}个词。"),
    },
)

# --- length_constraints:number_sentences ----------------------------------------------------------------

SENTENCE_BOUNDS = {"at least": (2, 3, 4, 5, 8, 10), "less than": (3, 4, 5, 6, 8, 10, 15)}

NUMBER_SENTENCES = ConstraintType(
    id="length_constraints:number_sentences", langs=ANY,
    sample=_counted_sample(SENTENCE_BOUNDS, "num_sentences"),
    check=_counted_check(count_sentences, "num_sentences"),
    # "at least 1 sentence" holds for any answer: a one-sentence answer is asked for "less than 3" instead
    retarget_fn=_counted_retarget(count_sentences, "num_sentences", tuple(SENTENCE_BOUNDS), minimum=2),
    fields=lambda params, lang: {**relation_fields(params, lang),
                                 "sentences": plural(params["num_sentences"], "sentence")},
    phrasings={
        "en": ("Your response should contain {rel} {sentences}.", "Answer in {rel} {sentences}.",
               "Use {rel} {sentences} in total."),
        "zh": ("回答应包含{rel}{num_sentences}个句子。", "请用{rel}{num_sentences}句话作答。",
               "全文的句子数要{rel}{num_sentences}句。"),
    },
)

# --- length_constraints:number_paragraphs ---------------------------------------------------------------


def divider_paragraphs(text: str) -> int | None:
    """IFEval's rule: parts between *** dividers; an empty part other than the first or last fails."""
    parts = re.split(r"\s?\*\*\*\s?", text)
    count = len(parts)
    for index, part in enumerate(parts):
        if not part.strip():
            if index in (0, len(parts) - 1):
                count -= 1
            else:
                return None
    return count


def blank_line_paragraphs(text: str) -> list[str] | None:
    """The paragraphs of `text` (`text.paragraphs`) when a blank line separates every two of them, as the
    phrasing "separated by blank lines" / "段与段之间空一行" says; None when only a divider line separates two
    ("a\n***\nb", "a\n******\nb")."""
    paras = paragraphs(text)
    blocks = [block for block in re.split(r"\n\s*\n", text)
              if any(line.strip() and not DIVIDER_RE.match(line) for line in block.splitlines())]
    return paras if len(blocks) == len(paras) else None


def count_paragraphs(text: str, separator: str) -> int | None:
    if separator == "divider":
        return divider_paragraphs(text)
    paras = blank_line_paragraphs(text)
    return None if paras is None else len(paras)


def _paragraphs_sample(ctx: Context) -> Params:
    return {"num_paragraphs": ctx.rng.randint(2, 5), "separator": ctx.rng.choice(["blank_line", "divider"])}


def _paragraphs_check(response: str, params: Params) -> bool:
    return count_paragraphs(response, params["separator"]) == params["num_paragraphs"]


def _paragraphs_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    if params is not None:
        order = [params["separator"], "divider" if params["separator"] == "blank_line" else "blank_line"]
    else:
        order = ["divider", "blank_line"] if "***" in response else ["blank_line"]
    for separator in order:
        if separator == "divider" and "***" not in response:
            continue
        count = count_paragraphs(response, separator)
        if count:
            return {"num_paragraphs": count, "separator": separator}
    return None


def _paras(n: int, lang: str) -> str:
    return (f"{n} paragraph" + ("" if n == 1 else "s")) if lang == "en" else f"{n}段"


SEPARATOR_TEXT = {
    ("blank_line", "en"): "separated by blank lines", ("divider", "en"): "separated by the markdown divider ***",
    ("blank_line", "zh"): "段与段之间空一行", ("divider", "zh"): "段与段之间用 markdown 分隔线 *** 隔开",
}


def _paragraphs_fields(params: Params, lang: str) -> dict:
    return {**params, "paras": _paras(params["num_paragraphs"], lang),
            "sep_text": SEPARATOR_TEXT[params["separator"], lang]}


NUMBER_PARAGRAPHS = ConstraintType(
    id="length_constraints:number_paragraphs", langs=ANY, sample=_paragraphs_sample, check=_paragraphs_check,
    retarget_fn=_paragraphs_retarget, fields=_paragraphs_fields,
    variant=lambda params: "single" if params["num_paragraphs"] == 1 else "",
    phrasings={
        "en": ("There should be {paras} in your response, {sep_text}.", "Write exactly {paras}, {sep_text}.",
               "Structure the answer as {paras}, {sep_text}."),
        "zh": ("回答应分为{num_paragraphs}段，{sep_text}。", "请写{num_paragraphs}个段落，{sep_text}。",
               "全文共{num_paragraphs}段，{sep_text}。"),
        "en:single": ("Answer in a single paragraph, with no blank lines.", "Write just one paragraph.",
                      "Keep the whole response to one paragraph (no empty lines)."),
        "zh:single": ("请只写一段话，中间不要空行。", "全文只写一个段落。", "回答不分段，写成一段即可。"),
    },
)

# --- length_constraints:nth_paragraph_first_word --------------------------------------------------------

FIRST_WORDS = {"en": ("however", "first", "finally", "today", "although", "because", "while", "after", "when",
                      "if", "our", "every", "many", "this", "in"),
               "zh": ("首", "总", "但", "此", "我", "在", "随", "最", "因", "如", "另", "这")}
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def first_word(paragraph: str) -> str:
    found = words(paragraph)
    return found[0] if found else ""


def _nth_sample(ctx: Context) -> Params:
    n = ctx.rng.randint(2, 5)
    pool = FIRST_WORDS["zh" if ctx.response_lang == "zh" else "en"]
    return {"num_paragraphs": n, "nth_paragraph": ctx.rng.randint(1, n), "first_word": ctx.rng.choice(pool)}


def _nth_check(response: str, params: Params) -> bool:
    paras = blank_line_paragraphs(response) or []
    n, i = params["num_paragraphs"], params["nth_paragraph"]
    return len(paras) == n and 1 <= i <= n and first_word(paras[i - 1]).lower() == params["first_word"].lower()


def _nth_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    paras = blank_line_paragraphs(response) or []
    if len(paras) < 2:  # "the first paragraph of one" is not something a person asks
        return None
    # only paragraphs that literally begin with their first word: not "<<故乡>>" (begins with "<<"), "- item",
    # "*Bold*" or a quotation, where "begin paragraph 1 with 故" would read wrong
    plain = [k for k, para in enumerate(paras, 1) if (word := first_word(para)) and para.startswith(word)]
    if not plain:
        return None
    asked = params["nth_paragraph"] if params is not None else None
    i = asked if asked in plain else ctx.rng.choice(plain)
    return {"num_paragraphs": len(paras), "nth_paragraph": i, "first_word": first_word(paras[i - 1])}


def _nth_fields(params: Params, lang: str) -> dict:
    i = params["nth_paragraph"]
    return {**params, "paras": _paras(params["num_paragraphs"], lang),
            "ordinal": ORDINALS[i - 1] if i <= len(ORDINALS) else f"{i}th"}


NTH_PARAGRAPH_FIRST_WORD = ConstraintType(
    id="length_constraints:nth_paragraph_first_word", langs=ANY, sample=_nth_sample, check=_nth_check,
    retarget_fn=_nth_retarget, fields=_nth_fields,
    # a Chinese "first word" is one character (每个汉字是一个词): "第一个字", not "第一个词" (本 of 本周六)
    variant=lambda params: "char" if CJK_RE.fullmatch(params["first_word"]) else "",
    phrasings={
        "en": ('There should be {paras}, separated by blank lines. The {ordinal} paragraph must start with the word '
               '"{first_word}".',
               'Write {paras} with an empty line between them, and begin paragraph {nth_paragraph} with '
               '"{first_word}".',
               'Use exactly {paras} (blank line between paragraphs); the {ordinal} one starts with the word '
               '"{first_word}".'),
        "zh": ("回答共{num_paragraphs}段，段与段之间空一行，其中第{nth_paragraph}段必须以“{first_word}”开头。",
               "请写{num_paragraphs}个段落（用空行分隔），第{nth_paragraph}段的第一个词是“{first_word}”。",
               "全文分{num_paragraphs}段、段间空一行；第{nth_paragraph}段要以“{first_word}”起头。"),
        "en:char": ('There should be {paras}, separated by blank lines. The {ordinal} paragraph must start with the '
                    'character "{first_word}".',
                    'Write {paras} with an empty line between them, and begin paragraph {nth_paragraph} with the '
                    'character "{first_word}".'),
        "zh:char": ("回答共{num_paragraphs}段，段与段之间空一行，其中第{nth_paragraph}段必须以“{first_word}”字开头。",
                    "请写{num_paragraphs}个段落（用空行分隔），第{nth_paragraph}段的第一个字是“{first_word}”。",
                    "全文分{num_paragraphs}段、段间空一行；第{nth_paragraph}段要以“{first_word}”字起头。"),
    },
)

# --- zh:character_count ---------------------------------------------------------------------------------

CHAR_BOUNDS = {"at least": (50, 100, 150, 200, 300, 500), "at most": (50, 80, 100, 150, 200, 300)}
ZH_LIMIT = {"at least": "不少于{n}字", "at most": "不超过{n}字"}


def _chars_fields(params: Params, lang: str) -> dict:
    return {**relation_fields(params, lang), "limit": ZH_LIMIT[params["relation"]].format(n=params["num_chars"])}


CHARACTER_COUNT = ConstraintType(
    id="zh:character_count", langs=("zh",),
    sample=_counted_sample(CHAR_BOUNDS, "num_chars"), check=_counted_check(count_words, "num_chars"),
    retarget_fn=_counted_retarget(count_words, "num_chars", tuple(CHAR_BOUNDS)), fields=_chars_fields,
    phrasings={
        "en": ("Write {rel} {num_chars} Chinese characters (punctuation is not counted).",
               "The answer should be {rel} {num_chars} characters long, not counting punctuation.",
               "Keep the length to {rel} {num_chars} Chinese characters."),
        "zh": ("回答{limit}。", "全文请写{limit}（标点不计）。", "字数要求：{limit}。", "篇幅{limit}。"),
    },
)

TYPES = (NUMBER_WORDS, NUMBER_SENTENCES, NUMBER_PARAGRAPHS, NTH_PARAGRAPH_FIRST_WORD, CHARACTER_COUNT)
