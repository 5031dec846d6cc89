"""The constraint library: every type by id, the declared mutual exclusions, and the compatibility rule.

A set of constraints is compatible when (1) no two of its types are declared mutually exclusive, (2) no
parameter clash exists (a required keyword that is also forbidden, or one required both by
keywords:existence and by keywords:frequency "at least"), and (3) every type applies to the response
language the set implies (the language a `language:response_language` constraint asks for, otherwise the
expected one).
"""

from __future__ import annotations

from itertools import combinations

from suites.complex_instr.constraints import case, chinese, keywords, length, startend, structure
from suites.complex_instr.constraints.base import ConstraintType, Context

TYPES: dict[str, ConstraintType] = {
    t.id: t for module in (keywords, length, structure, startend, case, chinese) for t in module.TYPES
}

_J = "detectable_format:json_format"
_EXCLUSIVE_GROUPS = (
    # a JSON document has no room for prose structure, markers or decorations around it
    (_J, "detectable_format:multiple_sections"), (_J, "detectable_format:title"),
    (_J, "detectable_format:number_bullet_lists"), (_J, "length_constraints:number_paragraphs"),
    (_J, "length_constraints:nth_paragraph_first_word"), (_J, "combination:two_responses"),
    (_J, "combination:repeat_prompt"), (_J, "detectable_content:postscript"), (_J, "startend:end_checker"),
    (_J, "startend:quotation"), (_J, "detectable_format:constrained_response"),
    (_J, "detectable_format:number_highlighted_sections"), (_J, "punctuation:no_comma"), (_J, "zh:punctuation"),
    (_J, "emoji:paragraph_end"),
    # letter case
    ("change_case:english_capital", "change_case:english_lowercase"),
    ("change_case:english_capital", "change_case:capital_word_frequency"),
    ("change_case:english_lowercase", "change_case:capital_word_frequency"),
    ("change_case:english_lowercase", "detectable_format:constrained_response"),  # "My answer is ..." has a capital
    ("change_case:english_capital", "detectable_format:constrained_response"),
    ("change_case:english_lowercase", "detectable_format:multiple_sections"),  # "Section 1" markers are cased
    ("change_case:english_capital", "detectable_format:multiple_sections"),
    ("change_case:english_capital", "combination:repeat_prompt"),
    ("change_case:english_lowercase", "combination:repeat_prompt"),
    # the first and last characters
    ("startend:quotation", "combination:repeat_prompt"), ("startend:quotation", "startend:end_checker"),
    ("startend:quotation", "combination:two_responses"), ("startend:end_checker", "emoji:paragraph_end"),
    ("startend:quotation", "emoji:paragraph_end"),
    # paragraph structure stated twice
    ("length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word"),
    ("combination:two_responses", "length_constraints:number_paragraphs"),
    ("combination:two_responses", "length_constraints:nth_paragraph_first_word"),
    ("combination:two_responses", "detectable_format:multiple_sections"),
    ("combination:two_responses", "combination:repeat_prompt"),
    # the repeated prompt is outside the writer's control
    ("combination:repeat_prompt", "punctuation:no_comma"), ("combination:repeat_prompt", "keywords:forbidden_words"),
    ("combination:repeat_prompt", "zh:punctuation"), ("combination:repeat_prompt", "language:response_language"),
    ("combination:repeat_prompt", "length_constraints:nth_paragraph_first_word"),
    # two measures of the same length
    ("length_constraints:number_words", "zh:character_count"),
)
CONFLICTS: dict[str, frozenset[str]] = {
    t: frozenset({b for a, b in _EXCLUSIVE_GROUPS if a == t} | {a for a, b in _EXCLUSIVE_GROUPS if b == t})
    for t in TYPES
}


def get(type_id: str) -> ConstraintType:
    try:
        return TYPES[type_id]
    except KeyError:
        raise KeyError(f"unknown constraint type {type_id!r}; known: {sorted(TYPES)}") from None


def implied_language(constraints: list[dict], default: str) -> str:
    for c in constraints:
        if c["type"] == "language:response_language":
            return c["params"]["language"]
    return default


def _param_clash(a: dict, b: dict) -> bool:
    """A required keyword that is also forbidden, or one required twice: "include X" beside "use X at least
    N times" says the same thing again."""
    required = {"keywords:existence": "keywords", "keywords:frequency": "keyword"}
    for x, y in ((a, b), (b, a)):
        if x["type"] in required and y["type"] in ("keywords:forbidden_words", "keywords:existence"):
            if x["type"] == y["type"]:
                continue
            wanted = x["params"][required[x["type"]]]
            wanted = {w.lower() for w in ([wanted] if isinstance(wanted, str) else wanted)}
            named = y["params"]["forbidden_words" if y["type"] == "keywords:forbidden_words" else "keywords"]
            if x["type"] == "keywords:frequency" and x["params"]["relation"] != "at least":
                continue
            if wanted & {w.lower() for w in named}:
                return True
    return False


def conflicts(constraints: list[dict], response_lang: str) -> list[str]:
    """Why the set is not compatible (empty when it is)."""
    problems = []
    seen = [c["type"] for c in constraints]
    if len(set(seen)) != len(seen):
        problems.append(f"repeated type in {seen}")
    for a, b in combinations(constraints, 2):
        if b["type"] in CONFLICTS[a["type"]]:
            problems.append(f"{a['type']} excludes {b['type']}")
        elif _param_clash(a, b):
            problems.append(f"{a['type']} and {b['type']} name the same word")
    lang = implied_language(constraints, response_lang)
    problems += [f"{c['type']} does not apply to a {lang} response" for c in constraints
                 if not get(c["type"]).applies(lang)]
    return problems


def compatible(constraints: list[dict], response_lang: str) -> bool:
    return not conflicts(constraints, response_lang)


__all__ = ["CONFLICTS", "TYPES", "Context", "ConstraintType", "compatible", "conflicts", "get", "implied_language"]
