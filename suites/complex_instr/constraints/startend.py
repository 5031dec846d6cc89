"""How the response starts and ends, and its overall shape: end phrase, quotes, two responses, repeat
the prompt."""

from __future__ import annotations

from suites.complex_instr.constraints.base import ANY, ConstraintType, Context, Params
from suites.complex_instr.text import EMOJI_RE, count_words, sentences

# --- startend:end_checker -------------------------------------------------------------------------------

END_PHRASES = {
    "en": ("Is there anything else I can help with?", "Let me know if you have additional questions.",
           "Hope this helps!", "That is all for now.", "Thanks for reading.", "Any other questions?"),
    "zh": ("还有什么可以帮您的吗？", "希望对你有帮助。", "以上就是我的回答。", "祝你一切顺利！", "感谢阅读。"),
}
MAX_END_PHRASE_WORDS = 15


def _end_check(response: str, params: Params) -> bool:
    return response.strip().lower().endswith(params["end_phrase"].strip().lower())


def _end_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    found = sentences(response)
    if not found:
        return None
    phrase = found[-1].lstrip("*-+#> \t")
    while lead := EMOJI_RE.match(phrase):  # "📍 地址：幸福路18号" -> "地址：幸福路18号"
        phrase = phrase[lead.end():].lstrip()
    if not 1 <= count_words(phrase) <= MAX_END_PHRASE_WORDS or not _end_check(response, {"end_phrase": phrase}):
        return None
    return {"end_phrase": phrase}


END_CHECKER = ConstraintType(
    id="startend:end_checker", langs=ANY,
    sample=lambda ctx: {"end_phrase": ctx.rng.choice(END_PHRASES["zh" if ctx.response_lang == "zh" else "en"])},
    check=_end_check, retarget_fn=_end_retarget,
    phrasings={
        "en": ('Finish your response with this exact phrase, with no other words after it: "{end_phrase}"',
               'End your answer with the exact words "{end_phrase}"',
               'The very last words of your reply must be "{end_phrase}".'),
        "zh": ("回答必须以这句话结尾：“{end_phrase}”，之后不能再有其他内容。", "请用“{end_phrase}”作为回答的最后一句。",
               "回复的结尾必须是“{end_phrase}”，一字不差。"),
    },
)

# --- startend:quotation ---------------------------------------------------------------------------------


def _quotation_check(response: str, params: Params) -> bool:
    value = response.strip()
    return len(value) > 1 and ((value[0] == '"' and value[-1] == '"') or (value[0] == "“" and value[-1] == "”"))


QUOTATION = ConstraintType(
    id="startend:quotation", langs=ANY, sample=lambda ctx: {}, check=_quotation_check,
    retarget_fn=lambda response, params, ctx: {} if _quotation_check(response, {}) else None,
    phrasings={
        "en": ("Wrap your entire response with double quotation marks.", 'Put the whole answer inside double quotes ("...").',
               "Enclose your complete reply in a pair of double quotation marks."),
        "zh": ("请用双引号把整个回答括起来。", "整段回复放在一对双引号（“……”）之中。", "回答的开头和结尾都要是双引号。"),
    },
)

# --- combination:two_responses --------------------------------------------------------------------------

SEPARATOR = "******"


def _two_check(response: str, params: Params) -> bool:
    parts = response.split(SEPARATOR)
    valid = []
    for index, part in enumerate(parts):
        if not part.strip():
            if index not in (0, len(parts) - 1):
                return False
        else:
            valid.append(part)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


TWO_RESPONSES = ConstraintType(
    id="combination:two_responses", langs=ANY, sample=lambda ctx: {}, check=_two_check,
    retarget_fn=lambda response, params, ctx: {} if _two_check(response, {}) else None,
    phrasings={
        "en": ("Give two different responses. Responses and only responses should be separated by 6 asterisk "
               "symbols: ******.",
               "Write two distinct answers, separated by a line of six asterisks (******).",
               "Provide two alternative replies; put ****** between them and nowhere else."),
        "zh": ("请给出两个不同的回答，两个回答之间用 6 个星号 ****** 分隔。", "写两个不一样的版本，中间用“******”隔开。",
               "提供两种不同的回复，并且只在两者之间放置 ****** 作为分隔。"),
    },
)

# --- combination:repeat_prompt --------------------------------------------------------------------------


def _repeat_check(response: str, params: Params) -> bool:
    prompt = params["prompt_to_repeat"].strip().lower()
    return bool(prompt) and response.strip().lower().startswith(prompt)


def _repeat_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    for prompt in ([params["prompt_to_repeat"]] if params is not None else []) + [ctx.instruction]:
        if _repeat_check(response, {"prompt_to_repeat": prompt}):
            return {"prompt_to_repeat": prompt}
    return None


REPEAT_PROMPT = ConstraintType(
    id="combination:repeat_prompt", langs=ANY,
    sample=lambda ctx: {"prompt_to_repeat": ctx.instruction},
    check=_repeat_check, retarget_fn=_repeat_retarget,
    phrasings={
        "en": ('First repeat the request word for word without change, then give your answer. Do not say anything '
               'before repeating it. The request to repeat is: "{prompt_to_repeat}"',
               'Begin by copying this request exactly as written: "{prompt_to_repeat}" Then answer it.',
               'Start your reply with the request "{prompt_to_repeat}", repeated verbatim, and only then respond.'),
        "zh": ("请先一字不差地复述这个请求：“{prompt_to_repeat}”，然后再作答；复述之前不要说任何话。",
               "回答前先原样重复请求“{prompt_to_repeat}”，再给出答案。",
               "回复以原封不动的请求“{prompt_to_repeat}”开头，之后再回答。"),
    },
)

TYPES = (END_CHECKER, QUOTATION, TWO_RESPONSES, REPEAT_PROMPT)
