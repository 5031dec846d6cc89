"""rag/route: world and general-knowledge questions retrieve, chat does not, and no surface cue decides the label."""

import random
from collections import Counter

import pytest

from suites.rag import routing
from suites.rag.generate import RagDataConfig, RagGenerator, parse_shares
from suites.rag.routing import PREFIXES, general_questions, general_split, real_names, route_sample
from suites.rag.scenarios import ScenarioConfig


def route_records(records, lang):
    return [r for r in records if r["meta"]["scenario"] == "route" and r["meta"]["lang"] == lang]


def body(record):
    """The user message without its opening phrase."""
    meta, text = record["meta"], record["messages"][1]["content"]
    prefix = PREFIXES[meta["lang"]][meta["templates"]["prefix"]]
    assert text.startswith(prefix)
    return text[len(prefix):]


def rule_accuracy(records, predict_retrieve):
    return sum(predict_retrieve(r["messages"][1]["content"]) == (r["meta"]["route"] == "retrieve")
               for r in records) / len(records)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_route_samples_mix_world_and_general_questions_and_follow_the_rule(mixed_generator, mixed_records, lang):
    records = route_records(mixed_records, lang)
    builder = mixed_generator.builders[lang]
    world_questions = {q for qa in builder.single + builder.multi for q in qa.questions}
    general = set(general_questions(lang))
    invented = builder.invented
    assert len(invented) == 240  # every entity of the world
    kinds = Counter(r["meta"]["route_kind"] for r in records)
    assert set(kinds) == {"world", "general", "chat"} and len(records) >= 250
    retrieve = kinds["world"] + kinds["general"]
    assert 0.35 < kinds["general"] / retrieve < 0.65 and 0.4 < retrieve / len(records) < 0.6
    for r in records:
        meta, label, message = r["meta"], r["messages"][-1]["content"], body(r)
        assert label == meta["route"] and r["task_type"] == "rag/route"
        if meta["route_kind"] == "general":  # a real-world knowledge question: retrieve, with no invented name
            assert label == "retrieve" and message in general and meta["qa_id"] is None
            assert not any(name in message for name in invented)
        elif meta["route_kind"] == "world":
            assert label == "retrieve" and message in world_questions and meta["qa_id"]
        else:
            assert label == "chat" and message not in general and message not in world_questions
    # "mentions an invented name" no longer decides the label: chat names invented and real things too
    chat = [body(r) for r in records if r["meta"]["route"] == "chat"]
    assert sum(any(n in m for n in invented) for m in chat) >= 0.05 * len(chat)
    real = real_names(lang, "city", "country", "person")
    assert sum(any(n in m for n in real) for m in chat) >= 0.05 * len(chat)
    assert rule_accuracy(records, lambda text: any(n in text for n in invented)) < 0.8
    # nor does being a question, nor the opening phrase
    assert rule_accuracy(records, lambda text: text.rstrip().endswith(("?", "？"))) < 0.85
    prefixes = {label: {r["meta"]["templates"]["prefix"] for r in records if r["meta"]["route"] == label}
                for label in ("retrieve", "chat")}
    assert prefixes["retrieve"] == prefixes["chat"] == set(range(len(PREFIXES[lang])))


def test_general_questions_are_distinct_and_in_their_language():
    for lang in ("en", "zh"):
        questions = general_questions(lang)
        assert len(questions) == len(set(questions)) == len(routing.GENERAL_QUESTIONS[lang]) + sum(
            len(t) * len(routing.REAL[kind]) for kind, t in routing.GENERAL_TEMPLATES[lang].items())
        assert len(questions) >= 200 and all("{" not in q for q in questions)
        # mostly questions, some requests ("Tell me the official languages of Japan.")
        assert 0.6 < sum(q.endswith(("?", "？")) for q in questions) / len(questions) < 0.95
    assert not any("\u4e00" <= ch <= "\u9fff" for q in general_questions("en") for ch in q)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in q) for q in general_questions("zh"))


def test_without_source_questions_every_retrieve_sample_is_general():
    rng = random.Random(0)
    general = general_split("en")
    samples = [route_sample(rng, "en", [], [], general, retrieve_share=1.0, general_share=0.0) for _ in range(50)]
    assert {(label, meta["route_kind"]) for _, label, meta in samples} == {("retrieve", "general")}
    samples = [route_sample(rng, "zh", [], [], general_split("zh"), retrieve_share=0.0, general_share=1.0)
               for _ in range(50)]
    assert {(label, meta["route_kind"]) for _, label, meta in samples} == {("chat", "chat")}
    assert all("{" not in m[1]["content"] for m, _, _ in samples)


def test_train_and_eval_route_samples_ask_disjoint_general_questions():
    """The pipeline's eval set (split "eval") asks the router general questions its training set (split "train")
    never saw; both splits together are the whole list, and message ids index that whole list."""
    for lang in ("en", "zh"):
        whole = general_questions(lang)
        train, held = dict(general_split(lang, "train")), dict(general_split(lang, "eval"))
        assert not set(train) & set(held) and sorted({**train, **held}) == list(range(len(whole)))
        assert 0.1 < len(held) / len(whole) < 0.3 and all(whole[k] == q for k, q in {**train, **held}.items())
    asked = {}
    for split in ("train", "eval"):
        cfg = RagDataConfig(shares=parse_shares("route=1"), scenario=ScenarioConfig(route_general_split=split))
        records = RagGenerator(600, 5, "mix", cfg).generate()
        general = [r for r in records if r["meta"]["route_kind"] == "general"]
        assert len(general) > 100
        asked[split] = {(r["meta"]["lang"], r["meta"]["templates"]["message"]) for r in general}
        for r in general:
            assert body(r) == general_questions(r["meta"]["lang"])[r["meta"]["templates"]["message"]]
            assert (r["meta"]["templates"]["message"] in dict(general_split(r["meta"]["lang"], split)))
    assert not asked["train"] & asked["eval"]
    with pytest.raises(ValueError, match="route_general_split must be one of"):
        ScenarioConfig(route_general_split="test")
