"""Quality-gate speed, side by side with what one would otherwise write.

  embedding diversity: core.curate.dedup.greedy_diverse (blocks searched against the kept faiss index at once,
                       resolved in order inside the block) vs one faiss search + add per sample
  near duplicates:     MinHash LSH (core.curate.dedup.NearDupGate) vs exact pairwise Jaccard of the same shingles
  encoder:             all-MiniLM-L6-v2 sentences per second on this machine

    python bench/bench_quality.py [--n-embeddings 20000] [--n-texts 3000]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from core.curate.dedup import NearDupConfig, NearDupGate, encode, greedy_diverse, load_encoder, shingles
from core.curate.gates import Item

WORDS = ("river stone cloud lamp garden window pepper violin harbor meadow silver orange planet engine "
         "quiet rapid yellow winter summer market bridge forest ocean mirror candle letter").split()


def one_by_one(x: np.ndarray, threshold: float) -> list[int]:
    import faiss

    index, kept, dropped = faiss.IndexFlatIP(x.shape[1]), [], []
    for i in range(len(x)):
        if index.ntotal:
            sims, ids = index.search(x[i : i + 1], 1)
            if sims[0, 0] > threshold:
                dropped.append(i)
                continue
        index.add(x[i : i + 1])
        kept.append(i)
    return dropped


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        if i and rng.random() < 0.2:  # a near copy of an earlier text
            words = texts[rng.randrange(len(texts))].split()
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            texts.append(" ".join(words))
        else:
            texts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))))
    return texts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-embeddings", type=int, default=20000, dest="n_emb")
    parser.add_argument("--n-texts", type=int, default=3000, dest="n_texts")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.n_emb, 384)).astype(np.float32)
    copies = rng.choice(args.n_emb, size=args.n_emb // 5, replace=False)
    x[copies] = x[rng.integers(0, args.n_emb, size=len(copies))] + 0.1 * rng.normal(size=(len(copies), 384))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    start = time.perf_counter()
    blocked = [row for row, _, _ in greedy_diverse(x, 0.85)]
    t_blocked = time.perf_counter() - start
    start = time.perf_counter()
    naive = one_by_one(x, 0.85)
    t_naive = time.perf_counter() - start
    assert blocked == naive, "the two greedy walks must drop the same rows"
    print(f"embedding diversity, {args.n_emb} x 384, {len(naive)} dropped (same rows both ways)")
    print(f"  one faiss search + add per sample : {t_naive:8.2f} s")
    print(f"  core.curate.dedup.greedy_diverse (blocks): {t_blocked:8.2f} s   ({t_naive / t_blocked:.1f}x)")

    texts = synthetic_texts(args.n_texts)
    items = [Item(i, {"messages": [{"role": "user", "content": t}, {"role": "assistant", "content": "ok"}],
                      "task_type": "bench/x"}, f"b:{i}") for i, t in enumerate(texts)]
    start = time.perf_counter()
    lsh_removed = NearDupGate(NearDupConfig(field="prompt"), "all").run(items)
    t_lsh = time.perf_counter() - start
    start = time.perf_counter()
    sets, kept, exact_removed = [shingles(t, 3) for t in texts], [], set()
    for i, s in enumerate(sets):
        if any(len(s & sets[k]) / len(s | sets[k]) >= 0.8 for k in kept):
            exact_removed.add(i)
        else:
            kept.append(i)
    t_exact = time.perf_counter() - start
    agree = len(exact_removed & set(lsh_removed)) / max(1, len(exact_removed | set(lsh_removed)))
    print(f"near duplicates, {args.n_texts} texts of 20-60 words, Jaccard >= 0.8")
    print(f"  exact pairwise Jaccard            : {t_exact:8.2f} s   removed {len(exact_removed)}")
    print(f"  MinHash LSH (datasketch)          : {t_lsh:8.2f} s   removed {len(lsh_removed)} "
          f"({t_exact / t_lsh:.1f}x; agreement {agree:.1%})")

    model = load_encoder("")
    sentences = texts[:512]
    encode(sentences[:32], model, 32, progress=False)
    start = time.perf_counter()
    encode(sentences, model, 64, progress=False)
    t_encode = time.perf_counter() - start
    print(f"all-MiniLM-L6-v2 on CPU: {len(sentences) / t_encode:.0f} sentences/s (batch 64)")


if __name__ == "__main__":
    main()
