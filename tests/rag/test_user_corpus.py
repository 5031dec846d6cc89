"""Generating over a user corpus: dense and hybrid hard negatives (real offline encoder), questions in another
language than --lang, and the generic statements of answers."""

import json

import pytest

from core.data.records import read_records
from suites.rag import templates as T
from suites.rag.eval import score_reply
from suites.rag.generate import main
from suites.rag.index import IndexConfig, RagIndex
from suites.rag.source import find_spans
from suites.rag.world import world_multi_qas, world_qas
from tests.rag.conftest import write_world_corpus

POOL = 3  # --negative-pool


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A JSONL corpus (a small fictional world's documents), questions over it, and a saved dense index."""
    root = tmp_path_factory.mktemp("user_corpus")
    world = write_world_corpus(root, 13, {"town": 10, "person": 10, "company": 6, "plant": 6})
    rows = [{"question": qa.questions[0], "answer": qa.answer, "gold_ids": [qa.gold_ids[0]]}
            for qa in world_qas(world)[::2]]
    rows += [{"question": qa.questions[0], "answer": qa.answer, "gold_ids": list(qa.gold_ids)}
             for qa in world_multi_qas(world)[::10]]
    (root / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    index = RagIndex.from_corpus(str(root / "docs.jsonl"), IndexConfig())
    index.save(str(root / "index"))
    return root, index


def pool_ids(index, record, mode):
    """The first POOL (or more, if more are shown) eligible passages of the question's ranking in `mode`: not of a
    gold document and holding neither the answer nor an alias. Hard negatives are sampled from these."""
    meta = record["meta"]
    gold_docs = {g.split("#")[0] for g in meta["gold_ids"]}
    values = [meta["answer"], *meta["aliases"]]
    eligible = []
    for row, _ in index.search_ids(meta["question"], len(index.chunks), mode):
        chunk = index.chunks[row]
        text = f"{chunk.title}\n{chunk.text}".lower()
        if chunk.doc_id not in gold_docs and not any(find_spans(text, v.lower()) for v in values):
            eligible.append(chunk.id)
    return set(eligible[: max(POOL, meta["num_docs"] - len(meta["gold_ids"]))])


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_dense_and_hybrid_retrieval_choose_the_hard_negatives(corpus, tmp_path, mode):
    root, index = corpus
    where = ["--index", str(root / "index")] if mode == "dense" else ["--corpus", str(root / "docs.jsonl")]
    args = ["--n", "120", "--seed", "4", *where, "--questions", str(root / "questions.jsonl"), "--retrieval", mode,
            "--negative-pool", str(POOL), "--shares", "grounded=2,multi_doc=1,irrelevant=1"]
    report = main([*args, "--out", str(tmp_path / "a.jsonl")])
    main([*args, "--out", str(tmp_path / "b.jsonl")])
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert report["written"] == 120 and report["random_negatives"] == 0  # dense ranks every chunk
    records = read_records(str(tmp_path / "a.jsonl"))
    not_bm25 = 0
    for r in records:
        meta = r["meta"]
        assert score_reply(r, r["messages"][-1]["content"])["correct"] == 1.0
        if meta["scenario"] == "irrelevant":
            continue
        negatives = {d for k, d in enumerate(meta["doc_ids"]) if k not in meta["gold_positions"]}
        assert negatives <= pool_ids(index, r, mode), meta["question"]
        not_bm25 += not negatives <= pool_ids(index, r, "bm25")
    # the negatives really come from the chosen ranking: BM25's pool would not hold them for many questions
    assert not_bm25 >= 0.3 * sum(r["meta"]["scenario"] != "irrelevant" for r in records)


def test_questions_in_another_language_are_counted_and_warned(corpus, tmp_path, capsys):
    root, _ = corpus
    n_questions = len((root / "questions.jsonl").read_text(encoding="utf-8").splitlines())
    args = ["--n", "60", "--corpus", str(root / "docs.jsonl"), "--questions", str(root / "questions.jsonl")]
    report = main([*args, "--out", str(tmp_path / "en.jsonl"), "--lang", "en"])
    assert report["sources"]["en"]["other_language_questions"] == 0
    assert "warning" not in capsys.readouterr().err
    report = main([*args, "--out", str(tmp_path / "mix.jsonl"), "--lang", "mix"])
    assert {lang: s["other_language_questions"] for lang, s in report["sources"].items()} == {"en": 0, "zh": n_questions}
    err = capsys.readouterr().err
    assert (f"warning: --lang zh: {n_questions} of {n_questions} questions are not in Chinese; their Chinese answers "
            "will quote answers in the questions' language") in err and "--lang en" not in err


def test_generic_statements_vary_over_a_user_corpus(corpus, tmp_path):
    """User questions come without a statement of their answer: each sample draws one of several, records it, and
    the answer holds it with the sample's value."""
    root, _ = corpus
    main(["--n", "400", "--lang", "mix", "--corpus", str(root / "docs.jsonl"), "--questions",
          str(root / "questions.jsonl"), "--shares", "grounded=1,counterfactual=1,conflicting=1",
          "--out", str(tmp_path / "s.jsonl")])
    used = {"en": set(), "zh": set()}
    for r in read_records(str(tmp_path / "s.jsonl")):
        meta, answer = r["meta"], r["messages"][-1]["content"].lower()
        lang, k = meta["lang"], meta["templates"]["clause"]
        used[lang].add(k)
        phrasing = (T.CONFLICTING if meta["scenario"] == "conflicting" else T.GROUNDED)[lang][meta["templates"]["answer"]]
        if "{clause" not in phrasing.lower():
            continue
        values = meta["conflict"]["values"] if meta["scenario"] == "conflicting" else [meta["answer"]]
        for value in values:
            assert T.GENERIC_STATEMENTS[lang][k].format(value=value).lower() in answer, (answer, k)
    assert used == {lang: set(range(len(T.GENERIC_STATEMENTS[lang]))) for lang in used}
