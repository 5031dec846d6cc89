"""What Chinese prompts ask for besides the IFEval families: emoji count and placement, and Chinese
(full-width) punctuation. The character count ("不少于N字") lives with the other lengths."""

from __future__ import annotations

import re

from suites.complex_instr.constraints.base import (
    ANY,
    ConstraintType,
    Context,
    Params,
    compare,
    relation_fields,
    retarget_count,
)
from suites.complex_instr.text import CJK, CJK_RE, count_emojis, emojis, paragraphs

# --- emoji:count ----------------------------------------------------------------------------------------

EMOJI_BOUNDS = {"at least": (1, 2, 3, 5), "at most": (1, 2, 3), "exactly": (1, 2, 3, 4)}


def _emoji_sample(ctx: Context) -> Params:
    relation = ctx.rng.choice(sorted(EMOJI_BOUNDS))
    return {"relation": relation, "num_emojis": ctx.rng.choice(EMOJI_BOUNDS[relation])}


EMOJI_COUNT = ConstraintType(
    id="emoji:count", langs=ANY, sample=_emoji_sample,
    check=lambda response, params: compare(count_emojis(response), params["relation"], params["num_emojis"]),
    retarget_fn=lambda response, params, ctx: retarget_count(count_emojis(response), params, ctx,
                                                             tuple(EMOJI_BOUNDS), "num_emojis"),
    fields=relation_fields,
    phrasings={
        "en": ("Use {rel} {num_emojis} emoji in your response.", "Include {rel} {num_emojis} emoji in the answer.",
               "Your reply should contain {rel} {num_emojis} emoji."),
        "zh": ("回答中使用{rel}{num_emojis}个表情符号（emoji）。", "请在回复里放{rel}{num_emojis}个 emoji。",
               "全文的表情符号数量要{rel}{num_emojis}个。"),
    },
)

# --- emoji:paragraph_end --------------------------------------------------------------------------------


def _ends_with_emoji(paragraph: str) -> bool:
    found = emojis(paragraph)
    return bool(found) and paragraph.rstrip().endswith(found[-1])


def _paragraph_end_check(response: str, params: Params) -> bool:
    paras = paragraphs(response)
    return bool(paras) and all(_ends_with_emoji(p) for p in paras)


EMOJI_PARAGRAPH_END = ConstraintType(
    id="emoji:paragraph_end", langs=ANY, sample=lambda ctx: {}, check=_paragraph_end_check,
    retarget_fn=lambda response, params, ctx: {} if _paragraph_end_check(response, {}) else None,
    phrasings={
        "en": ("End every paragraph with an emoji.", "Each paragraph must finish with one emoji.",
               "Put an emoji at the very end of each paragraph."),
        "zh": ("每一段都以一个表情符号结尾。", "每段末尾加一个 emoji。", "请在每个段落的最后放一个表情符号。"),
    },
)

# --- zh:punctuation -------------------------------------------------------------------------------------

FULLWIDTH = "，。、；：？！“”‘’（）《》…—"
_HALFWIDTH_RE = re.compile(
    r"[;?!()\"]"  # never right in Chinese prose
    r"|(?<!\d),|,(?!\d)"  # a comma, except inside a number such as 1,000
    r"|(?<!\d):|:(?!\d)"  # a colon, except in a time such as 10:30
    rf"|(?<=[{CJK}{FULLWIDTH}])\."  # a full stop written after Chinese text
)


def halfwidth_marks(text: str) -> list[str]:
    return _HALFWIDTH_RE.findall(text)


def _zh_punctuation_check(response: str, params: Params) -> bool:
    return bool(CJK_RE.search(response)) and any(c in FULLWIDTH for c in response) and not halfwidth_marks(response)


ZH_PUNCTUATION = ConstraintType(
    id="zh:punctuation", langs=("zh",), sample=lambda ctx: {}, check=_zh_punctuation_check,
    retarget_fn=lambda response, params, ctx: {} if _zh_punctuation_check(response, {}) else None,
    phrasings={
        "en": ("Use Chinese full-width punctuation (，。？！：；) throughout; no ASCII punctuation such as , ? ! ; :",
               "Punctuate the answer only with full-width Chinese marks, never with half-width ones.",
               "All punctuation must be Chinese style (，。？！), not English style (, . ? !)."),
        "zh": ("请使用中文全角标点（，。？！：；“”），不要使用英文半角标点。", "标点符号一律使用全角中文标点。",
               "回答中不得出现英文半角标点，如 , ? ! ; : 等。"),
    },
)

TYPES = (EMOJI_COUNT, EMOJI_PARAGRAPH_END, ZH_PUNCTUATION)
