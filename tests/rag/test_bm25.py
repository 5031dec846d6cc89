import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from suites.rag.bm25 import BM25Config, BM25Index, tokenize, top_k
from suites.rag.corpus import Document, chunk_documents
from suites.rag.world import build_world, world_multi_qas, world_qas

K1, B = 1.2, 0.75


@pytest.fixture(scope="module")
def corpora(tiny_tokenizer, python_docs_text):
    """(corpus tokens, queries) for two corpora: real English prose chunked, and the en + zh fictional worlds."""
    docs = [Document(f"d{i}", "", t) for i, t in enumerate(python_docs_text)]
    chunks = chunk_documents(docs, tiny_tokenizer, chunk_tokens=128, overlap=16)
    prose = [tokenize(c.text) for c in chunks]
    vocab = sorted({t for doc in prose for t in doc})
    rng = random.Random(0)
    prose_queries = [[rng.choice(vocab) for _ in range(rng.randint(1, 6))] for _ in range(150)]
    prose_queries.append(["the", "of", "zzzz-not-in-vocab"])  # stopwords and unknown words only: no hit
    worlds = [build_world(3, lang) for lang in ("en", "zh")]
    world = [tokenize(f"{p.title}\n{p.text}") for w in worlds for p in w.passages]
    world_queries = [tokenize(qa.questions[0]) for w in worlds for qa in (world_qas(w)[::7] + world_multi_qas(w)[::9])]
    return {"prose": (prose, prose_queries), "world": (world, world_queries)}


@pytest.mark.parametrize("name", ["prose", "world"])
def test_default_backend_equals_rank_bm25(corpora, name):
    """bm25s (the default) gives rank-bm25's BM25Okapi scores with epsilon=0, and the same top-10."""
    corpus, queries = corpora[name]
    index = BM25Index(BM25Config("bm25s", K1, B)).build(corpus)
    reference = BM25Okapi(corpus, k1=K1, b=B, epsilon=0.0)
    assert len(corpus) > 400 and len(queries) > 140
    for query in queries:
        ours, theirs = index.scores(query), reference.get_scores(query)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)
        ranking = [i for i, _ in index.search(query, 10)]
        assert ranking == [i for i in top_k(theirs, 10) if theirs[i] > 1e-9]  # chunks with a match, best first
        # rank-bm25's own ordering (argsort) agrees wherever scores are not tied
        expected = np.argsort(theirs)[::-1][:10]
        untied = [i for i, j in zip(ranking, expected) if np.sum(np.isclose(theirs, theirs[j], rtol=1e-9)) == 1]
        assert untied == [j for j in expected if np.sum(np.isclose(theirs, theirs[j], rtol=1e-9)) == 1]


def test_search_returns_only_matching_chunks(corpora):
    corpus, queries = corpora["prose"]
    index = BM25Index().build(corpus)
    assert index.search(["the", "of", "zzzz-not-in-vocab"], 10) == []
    assert index.search([corpus[5][0]], len(corpus)) and all(s > 0 for _, s in index.search([corpus[5][0]], 50))


def test_rank_bm25_default_epsilon_differs_where_a_term_is_in_most_documents():
    """Why epsilon=0: rank-bm25's default floors a negative idf at 0.25 x mean idf, bm25s at 0."""
    corpus = [["common", "alpha"], ["common", "beta"], ["common", "gamma"], ["delta"]]
    ours = BM25Index(BM25Config("bm25s", K1, B)).build(corpus).scores(["common"])
    np.testing.assert_allclose(ours, BM25Okapi(corpus, k1=K1, b=B, epsilon=0.0).get_scores(["common"]))
    assert np.all(ours == 0)
    assert np.all(BM25Okapi(corpus, k1=K1, b=B).get_scores(["common"])[:3] > 0)


def test_backends_agree_and_round_trip(tmp_path, corpora):
    corpus, queries = corpora["world"]
    indexes = {b: BM25Index(BM25Config(b)).build(corpus) for b in ("bm25s", "rank_bm25")}
    for backend, index in indexes.items():
        index.save(tmp_path / backend)
        loaded = BM25Index.load(str(tmp_path / backend))
        assert loaded.config == index.config and loaded.size == len(corpus)
        for query in queries[:40]:
            assert loaded.search(query, 10) == index.search(query, 10) == indexes["bm25s"].search(query, 10)


def test_tokenize():
    assert tokenize("When was Velmora founded? In 1843, by O'Brien_x.") == ["velmora", "founded", "1843", "o", "brien", "x"]
    assert tokenize("维尔莫拉建于1843年") == ["维", "尔", "莫", "拉", "建", "维尔", "尔莫", "莫拉", "拉建", "建于", "1843", "年"]


def test_top_k_breaks_ties_by_index():
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    assert top_k(scores, 3) == [1, 2, 4]
    assert top_k(scores, 10) == [1, 2, 4, 3, 0]
    assert top_k(scores, 0) == []


def test_bad_parameters():
    with pytest.raises(ValueError, match="--bm25-backend"):
        BM25Config("lucene")
    with pytest.raises(ValueError, match="--k1"):
        BM25Config("bm25s", k1=-1)
    with pytest.raises(ValueError, match="empty corpus"):
        BM25Index().build([])
