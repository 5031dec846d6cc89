"""Questions over a user corpus: the user's JSONL, and questions written by a teacher model."""

import json
from collections import Counter

import pytest

from core.data.records import validate_record
from suites.rag.corpus import CorpusError
from suites.rag.eval import score_reply
from suites.rag.generate import RagDataConfig, RagGenerator, held_out, main, parse_shares
from suites.rag.index import IndexConfig, RagIndex
from suites.rag.questions import parse_teacher_reply, read_questions, teacher_rows, user_source
from suites.rag.source import find_spans
from suites.rag.world import world_multi_qas, world_qas
from tests.rag.conftest import write_world_corpus


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """A JSONL corpus (the documents of a fictional world) and a questions file using every way to name gold."""
    root = tmp_path_factory.mktemp("user")
    world = write_world_corpus(root, 21, {"town": 20, "person": 20, "company": 12, "plant": 12})
    rows = []
    for k, qa in enumerate(world_qas(world)[::3]):
        row = {"question": qa.questions[0], "answer": qa.answer}
        if k % 3 == 0:
            row["gold_ids"] = [qa.gold_ids[0]]
        elif k % 3 == 1:
            row["gold_ids"] = [qa.gold_ids[0] + "#0"]
        else:
            gold_text = next(p.text for p in world.passages if p.id == qa.gold_ids[0])
            row["gold_text"] = "  " + gold_text.replace(". ", ".\n", 1)  # whitespace differs from the corpus
        rows.append(row)
    for qa in world_multi_qas(world)[::25]:
        rows.append({"question": qa.questions[0], "answer": qa.answer, "aliases": ["x-alias"], "gold_ids": list(qa.gold_ids)})
    (root / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    index = RagIndex.from_corpus(str(root / "docs.jsonl"), IndexConfig(dense=False))
    return root, world, index, rows


def test_gold_ids_and_gold_text_resolve_to_chunks(user_files):
    root, world, index, rows = user_files
    resolved = read_questions(str(root / "questions.jsonl"), index.chunks)
    assert len(resolved) == len(rows)
    for row, got in zip(rows, resolved):
        gold = [c.id for c in got["gold"]]
        if "gold_ids" in row:
            assert gold == [g if "#" in g else g + "#0" for g in row["gold_ids"]]
        else:
            assert len(gold) == 1 and find_spans(got["gold"][0].text, row["answer"])


@pytest.mark.parametrize("line, message", [
    ('{"question": "q", "answer": "a", "gold_ids": ["nope"]}', "gold_ids[0]: 'nope' is neither a document nor a chunk id"),
    ('{"question": "q", "answer": "a"}', "gold_ids: missing (give gold_ids or gold_text)"),
    ('{"question": "q", "answer": "a", "gold_text": "not in the corpus at all"}', "gold_text: not found in any chunk"),
    ('{"question": "q", "answer": "", "gold_ids": ["town-000"]}', "answer: expected a non-empty string"),
    ('{"answer": "a", "gold_ids": ["town-000"]}', "question: missing"),
    ('{"question": "q", "answer": "a", "alias": ["b"], "gold_ids": ["town-000"]}', "alias: unknown field"),
    ('{"question": "q", "answer": "a", "aliases": "b", "gold_ids": ["town-000"]}', "aliases: expected a list"),
    ('{"question": "q", "answer": "a", "gold_ids": ["town-000", "town-000#0"]}', "two ids resolve to the same chunk"),
    ('{"question": "q",', "invalid JSON"),
])
def test_question_errors_name_file_line_and_field(user_files, tmp_path, line, message):
    _, _, index, _ = user_files
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "fine", "answer": "1", "gold_ids": ["town-001"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as e:
        read_questions(str(path), index.chunks)
    assert str(e.value).startswith(f"{path}:2: ") and message in str(e.value)


def test_scenarios_over_a_user_corpus(user_files):
    root, world, index, rows = user_files
    cfg = RagDataConfig(index=None, corpus=str(root / "docs.jsonl"), questions=str(root / "questions.jsonl"))
    generator = RagGenerator(700, 5, "en", cfg)
    records = generator.generate()
    source = generator.sources["en"][0]
    assert Counter(r["meta"]["origin"] for r in records if r["meta"]["scenario"] != "route") == {"user": 630}
    # the router mixes the user's questions with general-knowledge ones; a user corpus has no invented names
    assert {r["meta"]["route_kind"] for r in records if r["meta"]["scenario"] == "route"} == {"user", "general", "chat"}
    assert generator.builders["en"].invented == []
    for r in records:
        validate_record(r)
        assert score_reply(r, r["messages"][-1]["content"])["correct"] == 1.0
        meta, text = r["meta"], r["messages"][1]["content"]
        if meta["scenario"] in ("grounded", "multi_doc"):
            assert all(source.by_id[g].text.strip() in text for g in meta["gold_ids"])
        if meta["scenario"] == "counterfactual":
            assert not find_spans(text, meta["altered"]["original"]) and find_spans(text, meta["answer"])
        if meta["scenario"] in ("empty", "irrelevant"):
            assert not find_spans(text, meta["answer"])
            assert not {d.split("#")[0] for d in meta["doc_ids"]} & {g.split("#")[0] for g in meta["gold_ids"]}
        if meta["scenario"] == "conflicting":
            assert meta["conflict"]["doc_ids"][1].endswith("~alt")
    numeric = [r["meta"]["altered"] for r in records if r["meta"]["scenario"] == "counterfactual"
               and r["meta"]["altered"]["original"].isdigit()]
    assert numeric and all(len(a["replacement"]) == len(a["original"]) for a in numeric)


def test_missing_question_kinds_are_rejected_up_front(user_files, tmp_path):
    root, _, _, rows = user_files
    single_only = tmp_path / "single.jsonl"
    single_only.write_text("\n".join(json.dumps(r) for r in rows if len(r.get("gold_ids", [])) < 2), encoding="utf-8")
    cfg = RagDataConfig(corpus=str(root / "docs.jsonl"), questions=str(single_only))
    with pytest.raises(ValueError, match="--shares multi_doc=0.15: the questions have no two-document question"):
        RagGenerator(10, 0, "en", cfg)
    cfg.shares = parse_shares("grounded=1,empty=1")
    assert len(RagGenerator(10, 0, "en", cfg).generate()) == 10
    with pytest.raises(SystemExit, match="a user corpus needs --questions"):
        main(["--n", "5", "--out", str(tmp_path / "o.jsonl"), "--corpus", str(root / "docs.jsonl")])


def test_train_and_eval_questions_are_disjoint(user_files):
    root, _, _, _ = user_files
    ids = {}
    for split in ("train", "eval"):
        cfg = RagDataConfig(corpus=str(root / "docs.jsonl"), questions=str(root / "questions.jsonl"),
                            question_split=split, eval_question_share=0.3)
        records = RagGenerator(200, 1, "en", cfg).generate()
        ids[split] = {r["meta"]["qa_id"] for r in records if r["meta"].get("qa_id")}
        assert all(held_out(i, 0.3) == (split == "eval") for i in ids[split])
    assert ids["train"] and ids["eval"] and not ids["train"] & ids["eval"]


class ScriptedTeacher:
    """A stand-in for a teacher model with fixed replies, to test how replies are parsed and counted."""

    name, stats = "scripted", None

    def __init__(self, replies):
        self.replies, self.calls = replies, []

    def complete(self, conversations, max_tokens=512, temperature=0.7, seed=0):
        self.calls.append((len(conversations), temperature, seed))
        return [self.replies(c[-1]["content"]) for c in conversations]


def test_teacher_questions_are_checked_against_the_passage(user_files):
    _, world, index, _ = user_files

    def reply(prompt):
        passage = prompt.split("\n", 2)[2].split("\n\nWrite one question")[0]
        entity = next(e for e in world.entities if e.name in prompt.split("\n")[1])
        if entity.kind == "town":
            return f'Sure! {{"question": "When was {entity.name} founded?", "answer": "{entity.facts["founded"]}"}}'
        if entity.kind == "person":
            return '{"question": "What is this?", "answer": "a sentence that is not there"}'
        if entity.kind == "company":
            return "I cannot write JSON today."
        return json.dumps({"question": "Whole passage?", "answer": passage})

    teacher = ScriptedTeacher(reply)
    rows, outcomes = teacher_rows(teacher, index.chunks, n=1000, seed=3)
    assert teacher.calls == [(64, 0.0, 3)]
    assert outcomes == {"ok": 20, "answer_not_in_passage": 20, "no_json_object": 12, "answer_is_whole_passage": 12}
    assert all(r["gold"][0].title in r["question"] for r in rows)
    source, summary = user_source(index, teacher=teacher, teacher_questions=1000, seed=3)
    assert summary["teacher_questions"] == dict(sorted(outcomes.items())) and summary["single_doc"] == 20
    assert {qa.origin for qa in source.single["en"]} == {"teacher"}
    assert parse_teacher_reply('{"question": " ", "answer": "x"}', index.chunks[0]) == (None, "missing_question_or_answer")


def test_a_teacher_that_writes_nothing_usable_is_an_error(user_files):
    """The embedded tiny model (random weights) as a real teacher: every reply is rejected and counted."""
    from core.synth.teacher import load_teacher

    _, _, index, _ = user_files
    teacher = load_teacher("hf:tiny", progress=False)
    with pytest.raises(CorpusError, match=r"the teacher wrote no usable question out of 2 \(outcomes: "):
        user_source(index, teacher=teacher, teacher_questions=2, seed=0)


def test_the_shipped_handbook_example(tmp_path):
    """A small corpus: when retrieval finds too few negatives, random passages fill in and are counted."""
    from pathlib import Path

    import suites.rag

    examples = Path(suites.rag.__file__).parent / "examples"
    report = main(["--n", "400", "--out", str(tmp_path / "hb.jsonl"), "--corpus", str(examples / "handbook"),
                   "--questions", str(examples / "handbook_questions.jsonl"), "--chunk-tokens", "128",
                   "--overlap", "16", "--report", str(tmp_path / "r.json")])
    assert report["rejected"] == {} and report["written"] == 400
    assert report["sources"]["en"] == {"source": "corpus(21 chunks)", "user_questions": 14, "single_doc": 12,
                                       "multi_doc": 2, "changeable": 10,
                                       "other_language_questions": 0}
    records = [json.loads(line) for line in (tmp_path / "hb.jsonl").read_text(encoding="utf-8").splitlines()]
    filled = [r for r in records if r["meta"].get("random_negatives")]
    assert filled and sum(r["meta"]["random_negatives"] for r in filled) == report["random_negatives"]
    for r in records:
        assert score_reply(r, r["messages"][-1]["content"])["correct"] == 1.0
        if r["meta"]["scenario"] in ("empty", "irrelevant"):
            assert not find_spans(r["messages"][1]["content"].lower(), r["meta"]["answer"].lower())


def test_wrong_values_have_the_shape_of_the_answer():
    """Conflicting and counterfactual values over the handbook: a time for a time, minutes for minutes, euros for
    euros; an answer with nothing of its shape ("a muzzle", a name) gets no wrong value rather than a random one."""
    import re
    from pathlib import Path

    import suites.rag

    examples = Path(suites.rag.__file__).parent / "examples"
    index = RagIndex.from_corpus(str(examples / "handbook"), IndexConfig(chunk_tokens=128, overlap=16, dense=False))
    source, _ = user_source(index, str(examples / "handbook_questions.jsonl"))
    alternatives = {qa.answer: qa.alternatives for qa in source.single["en"]}
    assert alternatives["a muzzle"] == () and alternatives["Ingrid Voss"] == ()
    assert alternatives["06:15"] and all(re.fullmatch(r"\d\d:\d\d", v) for v in alternatives["06:15"])
    for answer, unit in (("35 minutes", " minutes"), ("5 euros", " euros"), ("48 hours", " hours"), ("23 kg", " kg")):
        assert alternatives[answer] and all(v.endswith(unit) and v[: -len(unit)].isdigit() for v in alternatives[answer])
    assert all(len(v) == 4 and v.isdigit() for v in alternatives["1952"])
    for answer, values in alternatives.items():
        assert answer not in values and len(set(values)) == len(values)
