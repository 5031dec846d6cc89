"""Packing fill rate and speed on 100,000 sample lengths from a long-tailed distribution, against padding
each batch to its longest sample (what a padding collator does).

    python bench/bench_packing.py [--n 100000] [--max-len 4096] [--batch 32] [--plot out.png]
"""

from __future__ import annotations

import argparse
import random
import time

from core.data.packing import best_fit_decreasing


def long_tailed_lengths(n: int, max_len: int, seed: int = 0) -> list[int]:
    """Log-normal (median ~400 tokens) with a heavy tail, like chat SFT data; clipped to [8, max_len]."""
    rng = random.Random(seed)
    return [min(max_len, max(8, int(rng.lognormvariate(6.0, 1.0)))) for _ in range(n)]


def padded_fill_rate(lengths: list[int], batch: int) -> float:
    """Random batches, each padded to its longest sample."""
    order = list(range(len(lengths)))
    random.Random(1).shuffle(order)
    real = padded = 0
    for start in range(0, len(order), batch):
        group = [lengths[i] for i in order[start : start + batch]]
        real += sum(group)
        padded += max(group) * len(group)
    return real / padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--max-len", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=32, help="batch size of the padding baseline")
    parser.add_argument("--plot", default=None, help="write a PNG of the length distribution and fill rates")
    args = parser.parse_args()

    lengths = long_tailed_lengths(args.n, args.max_len)
    start = time.perf_counter()
    bins = best_fit_decreasing(lengths, args.max_len)
    seconds = time.perf_counter() - start
    packed_fill = sum(lengths) / (len(bins) * args.max_len)
    padded_fill = padded_fill_rate(lengths, args.batch)
    print(f"{args.n} lengths, median {sorted(lengths)[args.n // 2]}, max {max(lengths)}, max_len {args.max_len}")
    print(f"best-fit-decreasing packing : fill {packed_fill:.2%} in {len(bins)} rows, {seconds:.2f} s "
          f"({args.n / seconds:,.0f} samples/s)")
    print(f"pad each batch of {args.batch:<3}      : fill {padded_fill:.2%}")
    print(f"ratio (useful tokens per computed token): {packed_fill / padded_fill:.2f}x")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
        a.hist(lengths, bins=100, log=True)
        a.set_title("sample lengths (tokens)")
        b.bar(["packed (BFD)", f"padded (batch {args.batch})"], [packed_fill, padded_fill], color=["tab:green", "tab:gray"])
        b.set_ylim(0, 1)
        b.set_title("fill rate")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)


if __name__ == "__main__":
    main()
