"""How values read in requests and answers, and the check that an answer states a tool's result."""

from __future__ import annotations

import json
import re


def fmt(value) -> str:
    """One spelling per value, used in requests, answers and the containment check: 5, 2.75, 1e-06."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def scalar_leaves(value) -> list:
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in scalar_leaves(value[key])]
    if isinstance(value, list):
        return [leaf for item in value for leaf in scalar_leaves(item)]
    return [value]


def default_facts(result) -> list[str]:
    """Every string and number in the result (booleans and nulls cannot be checked by containment)."""
    return [fmt(v) for v in scalar_leaves(result) if v is not None and not isinstance(v, bool) and fmt(v).strip()]


def contains_fact(text: str, fact: str) -> bool:
    """`fact` occurs in `text`; a number must not be part of a longer number (7 is not in 17 or 7.5)."""
    if re.fullmatch(r"-?\d+(\.\d+)?(e[-+]?\d+)?", fact):
        return re.search(rf"(?<![\d.]){re.escape(fact)}(?!\.?\d)", text) is not None
    return fact.casefold() in text.casefold()


def missing_facts(text: str, facts: list[str]) -> list[str]:
    return [f for f in facts if not contains_fact(text, f)]
