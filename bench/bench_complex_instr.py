"""Shoot-then-draw against what a user would otherwise do: sample constraints, keep a (prompt, response) pair
only if the response happens to satisfy all of them (rejection sampling).

    python bench/bench_complex_instr.py [--n 2000] [--seed 0]

Both start from the same pairs (the shipped seed set) and the same sampled constraints per index; the
figures are yield (samples written per pair tried), constraints per written sample, and samples per second.
"""

from __future__ import annotations

import argparse
import time
from statistics import mean

from core.synth.generator import sample_rng
from suites.complex_instr import constraints as lib
from suites.complex_instr.generate import Sources, _originals, generate
from suites.complex_instr.shoot_draw import DrawConfig
from suites.complex_instr.sources import load_seed_pairs


def rejection_sampling(n: int, seed: int, cfg: DrawConfig) -> tuple[list[int], float]:
    sources = Sources(load_seed_pairs(), "mix", "seed", order_seed=seed)
    kept, start = [], time.perf_counter()
    for i in range(n):
        rng = sample_rng(seed, i)
        pair, lang = sources.pick(i)
        originals = _originals(rng, cfg, lang, pair.lang, pair.instruction)
        if all(lib.get(c["type"]).verify(pair.response, c["params"]) for c in originals):
            kept.append(len(originals))
    return kept, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for min_k, max_k in ((1, 3), (3, 6)):
        cfg = DrawConfig(min_k=min_k, max_k=max_k, add=0, min_final=1)
        kept, t_reject = rejection_sampling(args.n, args.seed, cfg)
        start = time.perf_counter()
        drawn = generate(args.n, args.seed, "mix", cfg)
        t_draw = time.perf_counter() - start
        per = [len(r["meta"]["constraints"]) for r in drawn]
        print(f"k = {min_k}..{max_k} constraints sampled per prompt, {args.n} pairs tried (seed set, en+zh):")
        print(f"  rejection sampling : yield {len(kept) / args.n:7.2%}, {mean(kept) if kept else 0:.2f} constraints "
              f"per sample, {args.n / t_reject:8.0f} pairs/s")
        print(f"  shoot, then draw   : yield {len(drawn) / args.n:7.2%}, {mean(per):.2f} constraints per sample, "
              f"{args.n / t_draw:8.0f} pairs/s")
        print(f"  samples written    : {len(drawn)} vs {len(kept)} "
              f"({len(drawn) / max(1, len(kept)):.1f}x)")


if __name__ == "__main__":
    main()
