"""Compose a many-constraint prompt: draw k compatible constraints, and render an instruction with them.

The rendering varies what a model should not learn to rely on: where the constraints sit (inline, on
their own lines, as a numbered or bulleted list, before the task, in the system prompt), the header
words, their order, and one of several phrasings per constraint.
"""

from __future__ import annotations

import random

from suites.complex_instr import constraints as lib
from suites.complex_instr.constraints.base import Context

LAYOUTS = ("inline", "lines", "numbered", "bulleted", "before", "system")
HEADERS = {
    "en": ("Requirements:", "Constraints:", "Please follow these rules:", "Format rules:", "Make sure that:",
           "Instructions for the answer:"),
    "zh": ("要求：", "注意事项：", "请遵守以下规则：", "格式要求：", "回答时请注意：", "具体要求如下："),
}
TASK_LABELS = {"en": ("Task:", "Request:", "Here is the task:"), "zh": ("任务：", "请求：", "题目：")}
SYSTEM_HEADERS = {
    "en": ("Always follow these rules when you reply:", "You are a careful assistant. Every answer must obey:",
           "Rules for every reply:"),
    "zh": ("回复时请始终遵守以下规则：", "你是一个严谨的助手，每次回答都必须满足：", "回答规则："),
}


def sample_constraints(ctx: Context, k: int) -> list[dict]:
    """Up to k constraints of distinct types that are compatible with each other and with the expected
    response language; each one's parameters come from its sampler."""
    order = sorted(lib.TYPES)
    ctx.rng.shuffle(order)
    chosen: list[dict] = []
    for type_id in order:
        if len(chosen) == k:
            break
        if type_id == "combination:repeat_prompt" and not ctx.instruction:
            continue
        lang = lib.implied_language(chosen, ctx.response_lang)
        sub = Context(rng=ctx.rng, lang=ctx.lang, response_lang=lang, instruction=ctx.instruction)
        candidate = chosen + [{"type": type_id, "params": lib.get(type_id).sample(sub)}]
        if lib.compatible(candidate, ctx.response_lang):
            chosen = candidate
    return chosen


def phrase(constraint: dict, lang: str, rng: random.Random) -> str:
    return lib.get(constraint["type"]).render(constraint["params"], lang, rng)


def render_prompt(instruction: str, constraints: list[dict], lang: str, rng: random.Random,
                  layout: str | None = None) -> tuple[list[dict], str]:
    """The prompt messages (system and user, or user alone) and the layout used."""
    layout = layout or rng.choice(LAYOUTS)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {LAYOUTS}")
    ordered = list(constraints)
    rng.shuffle(ordered)
    phrases = [phrase(c, lang, rng) for c in ordered]
    sep = "" if lang == "zh" else " "
    numbered = "\n".join(f"{i}. {p}" for i, p in enumerate(phrases, 1))
    if not phrases:
        return [{"role": "user", "content": instruction}], "plain"
    if layout == "inline":
        user = instruction + sep + sep.join(phrases)
    elif layout == "lines":
        user = instruction + "\n\n" + "\n".join(phrases)
    elif layout == "numbered":
        user = f"{instruction}\n\n{rng.choice(HEADERS[lang])}\n{numbered}"
    elif layout == "bulleted":
        user = instruction + "\n\n" + rng.choice(HEADERS[lang]) + "\n" + "\n".join(f"- {p}" for p in phrases)
    elif layout == "before":
        user = f"{rng.choice(HEADERS[lang])}\n{numbered}\n\n{rng.choice(TASK_LABELS[lang])} {instruction}"
    else:
        system = f"{rng.choice(SYSTEM_HEADERS[lang])}\n{numbered}"
        return [{"role": "system", "content": system}, {"role": "user", "content": instruction}], layout
    return [{"role": "user", "content": user}], layout
