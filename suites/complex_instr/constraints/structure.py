"""Format and content markers: bullets, fixed answer options, highlights, named sections, JSON, title,
placeholders, postscript."""

from __future__ import annotations

import json
import re

from suites.complex_instr.constraints.base import ANY, ConstraintType, Context, Params, plural, target_for

# --- detectable_format:number_bullet_lists --------------------------------------------------------------

BULLET_RE = re.compile(r"^\s*[*\-+]\s+\S", re.MULTILINE)


def count_bullets(text: str) -> int:
    return len(BULLET_RE.findall(text))


def _bullets_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    n = count_bullets(response)
    return {"num_bullets": n} if n >= 1 else None


NUMBER_BULLETS = ConstraintType(
    id="detectable_format:number_bullet_lists", langs=ANY,
    sample=lambda ctx: {"num_bullets": ctx.rng.randint(2, 6)},
    check=lambda response, params: count_bullets(response) == params["num_bullets"],
    retarget_fn=_bullets_retarget,
    fields=lambda params, lang: {**params, "bullets": plural(params["num_bullets"], "bullet point")},
    phrasings={
        "en": ('Your answer must contain exactly {bullets}, written as markdown bullets ("* point" or "- point").',
               "Give exactly {bullets} in markdown, each on its own line.",
               "Include exactly {bullets} in markdown format, such as \"* This is a point.\""),
        "zh": ("回答中恰好包含{num_bullets}个 markdown 列表项（每行以“* ”或“- ”开头）。",
               "请用 markdown 列表给出{num_bullets}个要点，不多不少。",
               "答案里要有且只有{num_bullets}个项目符号列表项，格式如“* 这是一个要点”。"),
    },
)

# --- detectable_format:constrained_response -------------------------------------------------------------

OPTION_SETS = {"en": ("My answer is yes.", "My answer is no.", "My answer is maybe."),
               "zh": ("我的答案是：是。", "我的答案是：否。", "我的答案是：不确定。")}


def _options_check(response: str, params: Params) -> bool:
    return any(option in response.strip() for option in OPTION_SETS[params["options"]])


def _options_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    order = [params["options"]] if params is not None else []
    for name in [*order, *OPTION_SETS]:
        if _options_check(response, {"options": name}):
            return {"options": name}
    return None


def _options_fields(params: Params, lang: str) -> dict:
    options = OPTION_SETS[params["options"]]
    listed = ", ".join(f'"{o}"' for o in options) if lang == "en" else "".join(f"“{o}”" for o in options)
    return {"opts": listed}


CONSTRAINED_RESPONSE = ConstraintType(
    id="detectable_format:constrained_response", langs=ANY,
    sample=lambda ctx: {"options": "zh" if ctx.response_lang == "zh" else "en"},
    check=_options_check, retarget_fn=_options_retarget, fields=_options_fields,
    phrasings={
        "en": ("Answer with one of the following options: ({opts}).",
               "Your reply must include exactly one of these sentences: {opts}",
               "State your verdict using one of the options {opts}."),
        "zh": ("请从以下选项中选择一个作答：（{opts}）。", "回答中必须包含以下句子之一：{opts}。",
               "用下列选项之一给出结论：{opts}。"),
    },
)

# --- detectable_format:number_highlighted_sections ------------------------------------------------------


def count_highlights(text: str) -> int:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h.removeprefix("**").removesuffix("**").strip()]
    return len(single) + len(double)


def _highlight_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    n = target_for(count_highlights(response), "at least")
    return {"num_highlights": n} if n is not None else None


HIGHLIGHTED_SECTIONS = ConstraintType(
    id="detectable_format:number_highlighted_sections", langs=ANY,
    sample=lambda ctx: {"num_highlights": ctx.rng.randint(1, 4)},
    check=lambda response, params: count_highlights(response) >= params["num_highlights"],
    retarget_fn=_highlight_retarget,
    fields=lambda params, lang: {**params, "sections": plural(params["num_highlights"], "section"),
                                 "parts": plural(params["num_highlights"], "part"),
                                 "phrases": plural(params["num_highlights"], "key phrase")},
    phrasings={
        "en": ("Highlight at least {sections} in your answer with markdown, i.e. *highlighted section*.",
               "Use markdown emphasis to highlight at least {parts} of the answer, like *this*.",
               "Mark at least {phrases} as *highlighted* with asterisks."),
        "zh": ("请用 markdown 突出显示至少{num_highlights}处内容，例如 *重点内容*。",
               "回答中至少有{num_highlights}处用星号标出的重点，如 *关键句*。",
               "用 markdown 的 *强调* 格式标出不少于{num_highlights}个重点部分。"),
    },
)

# --- detectable_format:multiple_sections ----------------------------------------------------------------

SPLITTERS = {"en": ("Section", "SECTION", "Part", "PART"), "zh": ("部分",)}


def _section_re(splitter: str) -> re.Pattern:
    """A section marker anywhere, as IFEval counts them ("SECTION 1" on its own line, "**SECTION 2**",
    '"Section 3', "# Part 4"), but not inside a longer word ("Subsection 2", "Counterpart 3"): the
    marker's case as asked."""
    if splitter == "部分":
        return re.compile(r"第\s?[0-9一二三四五六七八九十]+\s?部分")
    return re.compile(rf"(?<![^\W\d_]){re.escape(splitter)}\s?\d+")


def count_sections(text: str, splitter: str) -> int:
    return len(_section_re(splitter).findall(text))


def _sections_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    order = [params["section_spliter"]] if params is not None else []
    for splitter in [*order, *SPLITTERS["en"], *SPLITTERS["zh"]]:
        n = count_sections(response, splitter)
        if n >= 2:
            return {"section_spliter": splitter, "num_sections": n}
    return None


def _sections_fields(params: Params, lang: str) -> dict:
    splitter = params["section_spliter"]
    return {**params, "marker": "第X部分" if splitter == "部分" else f"{splitter} X"}


MULTIPLE_SECTIONS = ConstraintType(
    id="detectable_format:multiple_sections", langs=ANY,
    sample=lambda ctx: {"section_spliter": ctx.rng.choice(SPLITTERS["zh" if ctx.response_lang == "zh" else "en"]),
                        "num_sections": ctx.rng.randint(2, 5)},
    # "Your response must have N sections": IFEval passes N or more, and so does this
    check=lambda response, params: count_sections(response, params["section_spliter"]) >= params["num_sections"],
    retarget_fn=_sections_retarget, fields=_sections_fields,
    phrasings={
        "en": ('Your response must have {num_sections} sections. Start each section on a new line with "{marker}", '
               "where X is its number.",
               'Split the answer into {num_sections} sections, each beginning with "{marker}" (X = 1, 2, ...).',
               'Organise your reply as {num_sections} numbered sections headed "{marker}".'),
        "zh": ("回答分为{num_sections}个部分，每部分另起一行并以“{marker}”开头（X 为序号）。",
               "请把回答写成{num_sections}个部分，每部分用“{marker}”标明，X 依次为 1、2……",
               "全文包含{num_sections}个部分，各部分开头写“{marker}”。"),
    },
)

# --- detectable_format:json_format ----------------------------------------------------------------------


def parse_json_response(text: str):
    value = text.strip()
    for prefix in ("```json", "```JSON", "```Json", "```"):
        if value.startswith(prefix):
            value = value[len(prefix):]
            break
    value = value.removesuffix("```").strip()
    try:
        return json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return None


def _json_check(response: str, params: Params) -> bool:
    return isinstance(parse_json_response(response), dict | list)


JSON_FORMAT = ConstraintType(
    id="detectable_format:json_format", langs=ANY, sample=lambda ctx: {}, check=_json_check,
    retarget_fn=lambda response, params, ctx: {} if _json_check(response, {}) else None,
    phrasings={
        "en": ("Wrap your entire output in JSON format; you may use markdown code fences (```).",
               "Your whole answer must be valid JSON, with nothing outside it.",
               "Respond only with JSON (an object or an array); markdown ticks are allowed."),
        "zh": ("整个输出必须是合法的 JSON 格式，可以用 ``` 代码块包裹。", "请只输出 JSON，JSON 之外不要有任何文字。",
               "用 JSON（对象或数组）格式给出全部回答。"),
    },
)

# --- detectable_format:title ----------------------------------------------------------------------------


def _title_check(response: str, params: Params) -> bool:
    return any(t.strip() for t in re.findall(r"<<([^\n]+?)>>", response))


TITLE = ConstraintType(
    id="detectable_format:title", langs=ANY, sample=lambda ctx: {}, check=_title_check,
    retarget_fn=lambda response, params, ctx: {} if _title_check(response, {}) else None,
    phrasings={
        "en": ("Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
               "Give the response a title in double angle brackets, e.g. <<a title>>.",
               "Start with a title written like <<Title Here>>."),
        "zh": ("回答需要有一个标题，用双尖括号包裹，例如<<春日随笔>>。", "请给回答加一个标题，格式为<<标题>>。",
               "回答要带标题，标题写在双尖括号中，如<<标题>>。"),
    },
)

# --- detectable_content:number_placeholders -------------------------------------------------------------


# Any length ("[a short description of your experience]"), but not a JSON array of strings or a markdown link
PLACEHOLDER_RE = re.compile(r'\[[^\[\]\n"]+\](?!\()')


def count_placeholders(text: str) -> int:
    return sum(1 for m in PLACEHOLDER_RE.finditer(text) if m.group(0)[1:-1].strip())


def _placeholders_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    n = target_for(count_placeholders(response), "at least")
    return {"num_placeholders": n} if n is not None else None


PLACEHOLDERS = ConstraintType(
    id="detectable_content:number_placeholders", langs=ANY,
    sample=lambda ctx: {"num_placeholders": ctx.rng.randint(1, 3)},
    check=lambda response, params: count_placeholders(response) >= params["num_placeholders"],
    retarget_fn=_placeholders_retarget,
    fields=lambda params, lang: {**params, "placeholders": plural(params["num_placeholders"], "placeholder"),
                                 "bracketed": plural(params["num_placeholders"], "bracketed placeholder")},
    phrasings={
        "en": ("The response must contain at least {placeholders} represented by square brackets, such as [address].",
               "Leave at least {placeholders} in square brackets, like [name], for details to fill in.",
               "Include no fewer than {bracketed} such as [date]."),
        "zh": ("回答中至少包含{num_placeholders}个用方括号表示的占位符，例如[地址]。",
               "请留出至少{num_placeholders}个方括号占位符（如[姓名]），方便之后填写。",
               "文中要有不少于{num_placeholders}个像[日期]这样的方括号占位符。"),
    },
)

# --- detectable_content:postscript ----------------------------------------------------------------------

MARKERS = {"en": ("P.S.", "P.P.S"), "zh": ("附言", "P.S.")}
_MARKER_RE = {"P.S.": re.compile(r"^\s*p\.\s?s\.", re.IGNORECASE | re.MULTILINE),
              "P.P.S": re.compile(r"^\s*p\.\s?p\.\s?s", re.IGNORECASE | re.MULTILINE)}


def _postscript_check(response: str, params: Params) -> bool:
    marker = params["postscript_marker"]
    pattern = _MARKER_RE.get(marker) or re.compile(rf"^\s*{re.escape(marker)}", re.MULTILINE)
    return bool(pattern.search(response))


def _postscript_retarget(response: str, params: Params | None, ctx: Context) -> Params | None:
    order = [params["postscript_marker"]] if params is not None else []
    for marker in [*order, "P.P.S", "P.S.", "附言"]:
        if _postscript_check(response, {"postscript_marker": marker}):
            return {"postscript_marker": marker}
    return None


POSTSCRIPT = ConstraintType(
    id="detectable_content:postscript", langs=ANY,
    sample=lambda ctx: {"postscript_marker": ctx.rng.choice(MARKERS["zh" if ctx.response_lang == "zh" else "en"])},
    check=_postscript_check, retarget_fn=_postscript_retarget,
    fields=lambda params, lang: {**params, "end": "" if params["postscript_marker"].endswith(".") else "."},
    phrasings={
        "en": ("At the end of your response, please explicitly add a postscript starting with {postscript_marker}{end}",
               "Finish with a postscript that begins with {postscript_marker}{end}",
               "Add a postscript on its own line, starting with {postscript_marker}{end}"),
        "zh": ("请在回答末尾另起一行，加一段以“{postscript_marker}”开头的附言。", "结尾附上一段以“{postscript_marker}”开头的补充说明。",
               "回答最后要有附言，以“{postscript_marker}”开头。"),
    },
)

TYPES = (NUMBER_BULLETS, CONSTRAINED_RESPONSE, HIGHLIGHTED_SECTIONS, MULTIPLE_SECTIONS, JSON_FORMAT, TITLE,
         PLACEHOLDERS, POSTSCRIPT)
