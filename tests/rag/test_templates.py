"""Conflicting answers tie each value to the document that gives it; generic statements vary."""

import re

import pytest

from suites.rag import templates as T
from suites.rag.source import find_spans

SENTINELS = {"a": "7", "b": "3", "va": "VALUEALPHA", "vb": "VALUEBETA", "ta": "TITLEALPHA", "tb": "TITLEBETA"}


def source_events(answer: str, markers: dict[str, str], values: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The citation markers and values in the answer, in order of appearance, as ("m"|"v", source)."""
    events = []
    for source, number in markers.items():
        events += [(m.start(), "m", source) for m in re.finditer(re.escape(f"[{number}]"), answer)]
    for source, texts in values.items():
        for text in texts:
            events += [(start, "v", source) for start in find_spans(answer.lower(), text.lower())]
    return [(kind, source) for _, kind, source in sorted(events)]


def ties_values_to_sources(events: list[tuple[str, str]]) -> bool:
    """True when the answer reads as: an optional opening that names both documents and no value ("[7] and [3]
    contradict each other:"), then one clause per source holding that source's marker and value and nothing of the
    other source ("[7] gives X", "X according to [7]"), in either order."""
    if len(events) > 4 and [k for k, _ in events[:2]] == ["m", "m"] and {s for _, s in events[:2]} == {"a", "b"}:
        events = events[2:]
    if len(events) != 4:
        return False
    first, second = events[:2], events[2:]
    for group in (first, second):
        if sorted(k for k, _ in group) != ["m", "v"] or group[0][1] != group[1][1]:
            return False
    return first[0][1] != second[0][1]


def render_conflicting(template: str, lang: str) -> str:
    clause = T.GENERIC_STATEMENTS[lang][0]
    return T.fill(template, **SENTINELS, clause_a=clause.format(value=SENTINELS["va"]),
                  clause_b=clause.format(value=SENTINELS["vb"]))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_conflicting_template_ties_each_value_to_its_source(lang):
    for template in T.CONFLICTING[lang]:
        answer = render_conflicting(template, lang)
        events = source_events(answer, {"a": "7", "b": "3"}, {"a": ["VALUEALPHA"], "b": ["VALUEBETA"]})
        assert ties_values_to_sources(events), (answer, events)
        # swapping the two documents' numbers (not the values) must break the tie: the check reads the text
        swapped = source_events(answer, {"a": "3", "b": "7"}, {"a": ["VALUEALPHA"], "b": ["VALUEBETA"]})
        assert not ties_values_to_sources(swapped), answer


@pytest.mark.parametrize("template, lang", [
    ("[{a}] and [{b}] contradict each other: one gives {va}, the other {vb}.", "en"),
    ("Document [{a}] and document [{b}] give different answers ({va} vs. {vb}).", "en"),
    ("[{a}]和[{b}]互相矛盾：一个说是{va}，另一个说是{vb}。", "zh"),
    ("文档[{a}]和文档[{b}]的答案不同（{va}与{vb}），知识库在此处自相矛盾。", "zh"),
    ("[{a}] gives {vb}, but [{b}] gives {va}.", "en"),
    ("Two values appear: {va} and {vb}, in [{a}] and [{b}].", "en"),
])
def test_the_check_rejects_answers_that_do_not_say_which_source_gives_which(template, lang):
    """The templates the audit found (and other untied phrasings) fail the check above."""
    events = source_events(render_conflicting(template, lang), {"a": "7", "b": "3"},
                           {"a": ["VALUEALPHA"], "b": ["VALUEBETA"]})
    assert not ties_values_to_sources(events)


def test_generated_conflicting_answers_tie_values_to_sources(mixed_records):
    """The same check on every conflicting sample of the default mix, with its real values and numbers."""
    checked = 0
    for r in mixed_records:
        meta = r["meta"]
        if meta["scenario"] != "conflicting":
            continue
        gold_value, other_value = meta["conflict"]["values"]
        gold_slot, other_slot = meta["conflict"]["positions"]
        answer = r["messages"][-1]["content"]
        events = source_events(answer, {"a": str(gold_slot + 1), "b": str(other_slot + 1)},
                               {"a": [gold_value], "b": [other_value]})
        assert ties_values_to_sources(events), (answer, meta["conflict"])
        checked += 1
    assert checked == 900


def test_generic_statements_are_distinct_and_hold_the_value():
    for lang, variants in T.GENERIC_STATEMENTS.items():
        assert len(variants) >= 5 and len(set(variants)) == len(variants)
        assert all(v.count("{value}") == 1 for v in variants), lang
