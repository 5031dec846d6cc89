"""Retrieval on a 100,000-chunk corpus: index build time and queries per second for rank-bm25 and bm25s (same
tokens, same k1/b, same scores), and for dense search (all-MiniLM-L6-v2 embeddings + faiss flat/IVF/HNSW).

    python bench/bench_retrieval.py [--chunks 100000] [--queries 1000] [--rank-bm25-queries 50]
                                    [--encode-sample 2000] [--skip-bm25] [--json out.json] [--plot out.png]

The corpus is synthetic English-like text: words drawn from a Zipf(1.07) distribution over a 50,000-word
vocabulary (the words of Python's reference documentation, then invented ones), ~120 words per chunk.
Queries are 2-6 words taken from random chunks. Encoding the whole corpus with the sentence encoder on CPU
takes far longer than everything else, so dense build time is measured on `--encode-sample` chunks and
extrapolated (marked "extrapolated"). faiss build and search run on SYNTHETIC vectors: 100,000 noisy copies of
the sample's real embeddings (each copy = a sample vector + Gaussian noise of norm ~0.5, renormalised), not on
the corpus's own embeddings; recall@10 of IVF/HNSW is against exact search on those vectors. HNSW is run with
the defaults of suites/rag/dense.py and, for comparison, with the settings used before (efConstruction 40,
efSearch 128). `--skip-bm25` runs only the dense part.
"""

from __future__ import annotations

import argparse
import json
import re
import time

import numpy as np

from suites.rag.bm25 import BM25Config, BM25Index, tokenize


def synthetic_corpus(n_chunks: int, vocab_size: int = 50_000, words_per_chunk: int = 120, seed: int = 0) -> list[str]:
    from pydoc_data.topics import topics

    real = sorted({w for text in topics.values() for w in re.findall(r"[a-z]{3,}", text.lower())})
    rng = np.random.default_rng(seed)
    invented = {"".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=rng.integers(4, 10)))
                for _ in range(vocab_size * 2)}
    vocab = np.array((real + sorted(invented - set(real)))[:vocab_size])
    rng.shuffle(vocab)
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.07
    lengths = np.clip(rng.normal(words_per_chunk, 30, n_chunks).astype(int), 20, 4 * words_per_chunk)
    words = vocab[rng.choice(len(vocab), size=int(lengths.sum()), p=p / p.sum())]
    out, pos = [], 0
    for n in lengths:
        out.append(" ".join(words[pos : pos + n]))
        pos += n
    return out


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench_bm25(backend: str, corpus_tokens, queries) -> dict:
    index, build = timed(lambda: BM25Index(BM25Config(backend)).build(corpus_tokens))
    results, seconds = timed(lambda: [index.search(q, 10) for q in queries])
    return {"build_s": build, "queries": len(queries), "query_s": seconds, "qps": len(queries) / seconds,
            "results": results, "index": index}


def run_bm25(args, corpus_tokens, queries) -> dict:
    fast = bench_bm25("bm25s", corpus_tokens, queries)
    slow = bench_bm25("rank_bm25", corpus_tokens, queries[: args.rank_bm25_queries])
    agree = all(a == b for a, b in zip(fast["results"], slow["results"]))
    max_diff = max(float(np.max(np.abs(fast["index"].scores(q) - slow["index"].scores(q))))
                   for q in queries[: min(20, args.rank_bm25_queries)])
    import bm25s

    native, native_s = timed(lambda: fast["index"]._engine.retrieve(queries, k=10, show_progress=False, n_threads=1))
    print(f"\n{'':<34}{'build (s)':>11}{'queries/s':>12}")
    print(f"{'rank-bm25 BM25Okapi (epsilon=0)':<34}{slow['build_s']:>11.1f}{slow['qps']:>12.2f}   ({slow['queries']} queries)")
    print(f"{'bm25s robertson, full scores':<34}{fast['build_s']:>11.1f}{fast['qps']:>12.1f}   ({fast['queries']} queries)")
    print(f"{'bm25s retrieve() top-10, 1 thread':<34}{'':>11}{len(queries) / native_s:>12.1f}   "
          f"(bm25s {bm25s.__version__}'s own top-k; ties unordered)")
    ratio = slow["build_s"] / fast["build_s"]
    build = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower (it precomputes every score)"
    print(f"bm25s vs rank-bm25: build {build}, queries {fast['qps'] / slow['qps']:.0f}x faster; same top-10 on all {slow['queries']} shared queries: "
          f"{agree}; max |score difference| {max_diff:.2e}")

    return {"rank_bm25": {k: v for k, v in slow.items() if k not in ("results", "index")},
            "bm25s": {k: v for k, v in fast.items() if k not in ("results", "index")},
            "bm25s_native_retrieve_qps": len(queries) / native_s,
            "build_speedup": slow["build_s"] / fast["build_s"], "query_speedup": fast["qps"] / slow["qps"],
            "top10_agree": agree, "max_score_diff": max_diff}


def run_dense(args, corpus, query_texts) -> dict:
    from suites.rag.dense import DenseConfig, DenseIndex, encode, load_encoder

    encoder, load_s = timed(lambda: load_encoder(device="cpu"))
    sample = corpus[: args.encode_sample]
    sample_vectors, enc_s = timed(lambda: encode(encoder, sample, batch_size=64))
    per_chunk = enc_s / len(sample)
    query_vectors, q_enc_s = timed(lambda: encode(encoder, query_texts, batch_size=64))
    # The full corpus is not encoded (see the docstring): its vectors are synthetic, the sample's real embeddings
    # plus noise, so they keep the clustered shape IVF and HNSW rely on; faiss build and search timings are real.
    noise_rng = np.random.default_rng(2)
    vectors = sample_vectors[noise_rng.integers(0, len(sample_vectors), len(corpus))]
    vectors = vectors + noise_rng.standard_normal(vectors.shape).astype(np.float32) * (0.5 / np.sqrt(vectors.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dense = {"encoder_load_s": load_s, "encode_chunks_per_s": 1 / per_chunk,
             "encode_corpus_s_extrapolated": per_chunk * len(corpus), "query_encode_per_s": len(query_texts) / q_enc_s}
    print(f"\ndense: encoder all-MiniLM-L6-v2 on CPU, {1 / per_chunk:.0f} chunks/s (measured on {len(sample):,}); "
          f"encoding all {len(corpus):,} chunks: {per_chunk * len(corpus):,.0f}s extrapolated; "
          f"queries encoded at {len(query_texts) / q_enc_s:.0f}/s")
    print(f"{f'faiss index ({len(corpus):,} x {vectors.shape[1]})':<34}{'build (s)':>11}{'queries/s':>12}{'recall@10':>11}")
    exact = None
    default = DenseConfig("hnsw", gpu="off")
    runs = (("flat", DenseConfig("flat", gpu="off")), ("ivf", DenseConfig("ivf", nprobe=16, gpu="off")),
            (f"hnsw M={default.hnsw_m} efC={default.ef_construction} efS={default.ef_search}", default),
            ("hnsw M=32 efC=40 efS=128 (before)", DenseConfig("hnsw", ef_construction=40, ef_search=128, gpu="off")))
    for kind, cfg in runs:
        index, build_s = timed(lambda cfg=cfg: DenseIndex(cfg).build(vectors))
        found, search_s = timed(lambda index=index: index.search_vectors(query_vectors, 10))
        ids = [{i for i, _ in row} for row in found]
        exact = exact or ids
        recall = float(np.mean([len(a & b) / 10 for a, b in zip(ids, exact)]))
        n = len(query_texts)
        qps = n / (search_s + q_enc_s)
        dense[kind] = {"build_s": build_s, "search_only_qps": n / search_s, "qps_with_encoding": qps,
                       "recall_at_10_vs_flat": recall}
        print(f"{kind:<34}{build_s:>11.2f}{qps:>12.1f}{recall:>11.3f}   (search alone {n / search_s:,.0f}/s)")
    print(f"dense flat end to end (encode corpus + build): {per_chunk * len(corpus) + dense['flat']['build_s']:,.0f}s "
          "extrapolated")
    dense["encode_per_chunk_s"] = per_chunk
    return dense


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rank-bm25-queries", type=int, default=50, help="rank-bm25 is slow; fewer queries")
    parser.add_argument("--encode-sample", type=int, default=2000, help="chunks encoded to time the encoder")
    parser.add_argument("--skip-bm25", action="store_true", help="only the dense part (encoder and faiss)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    if args.plot and args.skip_bm25:
        parser.error("--plot compares BM25 and dense build times; it needs the BM25 part (drop --skip-bm25)")

    corpus, gen_s = timed(lambda: synthetic_corpus(args.chunks))
    rng = np.random.default_rng(1)
    query_texts = []
    for i in rng.choice(len(corpus), size=args.queries, replace=False):
        words = corpus[i].split()
        start = rng.integers(0, max(1, len(words) - 6))
        query_texts.append(" ".join(words[start : start + rng.integers(2, 7)]))
    corpus_tokens, tok_s = timed(lambda: [tokenize(t) for t in corpus])
    queries = [tokenize(q) for q in query_texts]
    n_tokens = sum(map(len, corpus_tokens))
    print(f"corpus: {len(corpus):,} chunks, {n_tokens:,} tokens (generated in {gen_s:.1f}s, tokenized in {tok_s:.1f}s, "
          "shared by both BM25 backends and not counted below)")

    summary = {"chunks": len(corpus), "tokens": n_tokens, "tokenize_s": tok_s}
    if not args.skip_bm25:
        summary.update(run_bm25(args, corpus_tokens, queries))
    summary["dense"] = dense = run_dense(args, corpus, query_texts)
    if "bm25s" in summary:
        print(f"vs bm25s build {summary['bm25s']['build_s']:.1f}s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = ["rank-bm25", "bm25s", "dense flat*"]
        slow, fast = summary["rank_bm25"], summary["bm25s"]
        builds = [slow["build_s"], fast["build_s"], dense["encode_per_chunk_s"] * len(corpus) + dense["flat"]["build_s"]]
        qps = [slow["qps"], fast["qps"], dense["flat"]["qps_with_encoding"]]
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
        a.bar(names, builds)
        a.set_yscale("log")
        a.set_title(f"index build, {len(corpus):,} chunks (s)")
        b.bar(names, qps)
        b.set_yscale("log")
        b.set_title("queries per second (top-10)")
        fig.text(0.01, 0.01, "* dense build: encoder time extrapolated from a sample", fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
