import random

import pytest

from suites.rag.source import find_spans
from suites.rag.world import build_world, note_passage, world_multi_qas, world_qas
from suites.rag.world_lexicon import ATTRIBUTES, POOLS


@pytest.fixture(scope="module", params=["en", "zh"])
def world(request):
    return build_world(11, request.param)


def test_same_seed_same_world_and_seeds_differ():
    a, b, c = build_world(4, "zh"), build_world(4, "zh"), build_world(5, "zh")
    assert a.passages == b.passages and a.spans == b.spans
    assert a.passages != c.passages


def test_names_are_unique_and_never_nested(world):
    names = [e.name for e in world.entities]
    assert len(names) == len(set(names)) == 240
    assert not [(x, y) for x in names for y in names if x != y and x in y]


def test_every_fact_is_stated_once_at_its_recorded_offset(world):
    for entity, passage in zip(world.entities, world.passages):
        assert passage.id == entity.id and passage.title == entity.name
        for attr, value in entity.facts.items():
            start = world.spans[(entity.id, attr)]
            assert passage.text[start : start + len(value)] == value
            assert passage.text.count(value) == 1
            if ATTRIBUTES[entity.kind][attr]["value"][0] == "ref":  # references name another entity of the world
                assert value in {e.name for e in world.entities if e.kind == ATTRIBUTES[entity.kind][attr]["value"][1]}


def test_questions_are_answerable_from_their_gold_document_only(world):
    qas = world_qas(world)
    assert len(qas) == sum(len(ATTRIBUTES[e.kind]) for e in world.entities)
    by_id = {p.id: p for p in world.passages}
    for qa in qas:
        gold = by_id[qa.gold_ids[0]]
        assert gold.text[qa.value_spans[0] : qa.value_spans[0] + len(qa.answer)] == qa.answer
        assert qa.statement.format(value=qa.answer) and "{value}" in qa.statement
        assert len(set(qa.questions)) == len(qa.questions) >= 3
        assert len(qa.alternatives) == 6 and qa.answer not in qa.alternatives
        for alt in qa.alternatives:
            assert alt.lower() not in gold.text.lower() and alt not in qa.answer and qa.answer not in alt


def test_two_document_questions_chain_through_a_reference(world):
    multi = world_multi_qas(world)
    assert len(multi) > 500
    by_id = {p.id: p for p in world.passages}
    for qa in multi:
        first, second = (by_id[i] for i in qa.gold_ids)
        bridge_entity = world.entity(second.id)
        assert bridge_entity.name in first.text  # the first document names the second's entity
        assert find_spans(second.text, qa.answer)  # the second holds the answer
        assert bridge_entity.name not in qa.questions[0]  # the question does not give the bridge away


def test_note_passage_states_the_other_value(world):
    rng = random.Random(0)
    for qa in world_qas(world)[::37]:
        value = qa.alternatives[0]
        note = note_passage(world, qa, value, rng)
        assert note.id == f"{qa.gold_ids[0]}/note" and world.entity(qa.gold_ids[0]).name in note.title
        assert find_spans(note.text.lower(), value.lower()) and not find_spans(note.text, qa.answer)


def test_value_pools_have_no_nested_values():
    for name, by_lang in POOLS.items():
        for lang, values in by_lang.items():
            assert len(values) == len(set(values)), (name, lang)
            assert not [(x, y) for x in values for y in values if x != y and x in y], (name, lang)
        assert len(by_lang["en"]) == len(by_lang["zh"])


def test_world_size_is_checked():
    with pytest.raises(ValueError, match="at least 4"):
        build_world(0, "en", {"town": 2})
    with pytest.raises(ValueError, match="en or zh"):
        build_world(0, "fr")
