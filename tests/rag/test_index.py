import json

import pytest

from suites.rag.index import IndexConfig, RagIndex, main, reciprocal_rank_fusion
from suites.rag.world import build_world, world_qas


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """A folder corpus: the fictional world's documents as markdown files, two per file to force chunking."""
    root = tmp_path_factory.mktemp("corpus")
    world = build_world(5, "en", {"town": 12, "person": 12, "company": 8, "plant": 8})
    for k in range(0, len(world.passages), 2):
        pair = world.passages[k : k + 2]
        (root / f"doc{k:03d}.md").write_text(
            "\n\n".join(f"# {p.title}\n\n{p.text}" for p in pair), encoding="utf-8")
    return root, world


def test_build_search_save_load(corpus_dir, tmp_path):
    root, world = corpus_dir
    index = RagIndex.from_corpus(str(root), IndexConfig(chunk_tokens=96, overlap=16))
    assert len(index.chunks) > len(world.passages) // 2  # some files were split into several chunks
    queries = [qa.questions[0] for qa in world_qas(world)[::9]]
    results = {mode: [index.search_ids(q, 5, mode) for q in queries] for mode in ("bm25", "dense", "hybrid")}
    # hybrid is the reciprocal-rank fusion of the two rankings, and is deterministic
    for q, hybrid in zip(queries, results["hybrid"]):
        lexical = [i for i, _ in index.bm25.search(q, 100)]
        semantic = [i for i, _ in index.dense.search_vectors(index.encoder.encode([q], normalize_embeddings=True), 100)[0]]
        assert hybrid == reciprocal_rank_fusion([lexical, semantic], 5, 60)
        assert index.search_ids(q, 5, "hybrid") == hybrid
    # BM25 finds the chunk naming the entity the question is about
    hits = 0
    for qa in world_qas(world)[::9]:
        name = world.entity(qa.gold_ids[0]).name
        hits += name in index.chunks[results["bm25"][world_qas(world)[::9].index(qa)][0][0]].text
    assert hits / len(queries) >= 0.9
    index.save(str(tmp_path / "idx"))
    loaded = RagIndex.load(str(tmp_path / "idx"))
    assert loaded.chunks == index.chunks and loaded.config == index.config
    for mode, expected in results.items():
        assert [loaded.search_ids(q, 5, mode) for q in queries] == expected


def test_bm25_only_index_rejects_dense_modes(corpus_dir, tmp_path):
    root, _ = corpus_dir
    index = RagIndex.from_corpus(str(root), IndexConfig(dense=False, bm25=IndexConfig().bm25))
    with pytest.raises(ValueError, match="built with --no-dense"):
        index.search("x", mode="hybrid")
    with pytest.raises(ValueError, match="--mode must be one of"):
        index.search("x", mode="sparse")


def test_cli_builds_then_searches(corpus_dir, tmp_path, capsys):
    root, world = corpus_dir
    out = tmp_path / "cli"
    main(["--corpus", str(root), "--out", str(out), "--no-dense", "--chunk-tokens", "128", "--overlap", "0",
          "--bm25-backend", "rank_bm25", "--query", world_qas(world)[0].questions[0], "--mode", "bm25", "--k", "3"])
    text = capsys.readouterr().out
    assert "[index] 20 documents ->" in text and "bm25 rank_bm25, dense none" in text
    hits = [line.split()[2] for line in text.splitlines() if line.startswith("   ")]
    assert len(hits) == 3 and hits[0].startswith("doc000.md#")  # the first question is about the first document
    settings = json.loads((out / "index.json").read_text())
    assert settings["bm25"]["backend"] == "rank_bm25" and settings["dense"] is False
    main(["--index", str(out), "--query", "founded", "--mode", "bm25", "--k", "2"])
    assert "   2. " in capsys.readouterr().out


def test_cli_option_errors(tmp_path):
    with pytest.raises(SystemExit, match="needs --out"):
        main(["--corpus", str(tmp_path)])
    with pytest.raises(SystemExit, match="give --corpus"):
        main([])
    with pytest.raises(SystemExit, match="--overlap in \\[0, chunk tokens\\)"):
        main(["--corpus", str(tmp_path), "--out", str(tmp_path / "o"), "--overlap", "300"])
    with pytest.raises(FileNotFoundError, match="not an index folder"):
        RagIndex.load(str(tmp_path))
