"""Long-context data generation: splicing a once-tokenised haystack vs re-tokenising the whole text.

    python bench/bench_longctx.py [--tokenizer tiny|PATH] [--lengths 32768,131072] [--samples 3]

1. Tokenisation of a 128K-token text: the haystack build (sentence units, chunked, with offsets) vs one call
   on the whole text.
2. A passkey sample of 32K and 128K tokens: splicing by token indices (with and without the one verifying
   tokenisation of the rendered prompt) vs what a generator otherwise does (RULER-style): binary-search the
   number of haystack sentences, rendering and tokenising the whole prompt at every step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

from core.model.generation import prompt_ids
from core.model.loading import load_tokenizer
from core.synth.generator import sample_rng
from suites.longctx.haystack import Haystack, source_text
from suites.longctx.sentences import unit_starts
from suites.longctx.tasks import SampleFactory, TaskOptions

INSTRUCTION = "A pass key is hidden somewhere in the text below. Read carefully and remember it."
QUESTION = "What is the pass key?"


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def deviation(tokens: int, target: int) -> str:
    """The measured length against the target: "exact", or the signed difference in tokens and percent."""
    return "exact" if tokens == target else f"{tokens - target:+d} tokens, {(tokens - target) / target:+.3%}"


def retokenising_sample(tokenizer, units: list[str], target: int, depth: float, value: str) -> tuple[int, int]:
    """Binary search over the number of sentences, tokenising the whole rendered prompt each time.
    Returns (prompt tokens, tokenisations)."""

    def render(k: int) -> int:
        body = units[:k]
        body.insert(round(depth * k), f" The pass key is {value}. Remember it.")
        content = f"{INSTRUCTION}\n\n{''.join(body).strip()}\n\n{QUESTION}"
        return len(prompt_ids(tokenizer, {"messages": [{"role": "user", "content": content}]}))

    lo, hi, calls, best = 1, len(units), 0, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        n = render(mid)
        calls += 1
        if n <= target:
            best, lo = n, mid + 1
        else:
            hi = mid - 1
    return best, calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", default="tiny")
    parser.add_argument("--lengths", default="32768,131072")
    parser.add_argument("--samples", type=int, default=3, help="repeats per measurement (median reported)")
    args = parser.parse_args(argv)
    tokenizer = load_tokenizer(args.tokenizer)
    lengths = [int(x) for x in args.lengths.split(",")]

    name, text = source_text("prose", "en")
    while len(tokenizer(text, add_special_tokens=False)["input_ids"]) < max(lengths) * 1.1:
        text += text  # the built-in prose repeated until it covers the longest sample
    whole_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    print(f"text: built-in English prose, {len(text):,} characters, {whole_tokens:,} tokens ({args.tokenizer})")
    t_chunked, haystack = timed(lambda: Haystack(name, text, tokenizer), args.samples)
    t_single, _ = timed(lambda: tokenizer(text, add_special_tokens=False, return_offsets_mapping=True), args.samples)
    per_128k = 131072 / haystack.n_tokens
    print(f"tokenise {haystack.n_tokens:,} tokens: haystack build (units, chunks, offsets) {t_chunked:.2f}s, "
          f"one tokenizer call with offsets {t_single:.2f}s; per 128K tokens: {t_chunked * per_128k:.2f}s vs "
          f"{t_single * per_128k:.2f}s")

    starts = unit_starts(text)
    units = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    options = TaskOptions(system_share=0.0)
    spliced = SampleFactory(tokenizer, "prose", verify=True, options=options)
    fast = SampleFactory(tokenizer, "prose", verify=False, options=options)
    spliced._haystacks["en"] = fast._haystacks["en"] = haystack  # tokenised once, above
    print(f"\n{'length':>8} {'splice+verify':>14} {'splice only':>12} {'re-tokenise':>12} {'speed-up':>17}  notes")
    for length in lengths:
        t_verify, record = timed(partial(spliced.build, sample_rng(0, length), "passkey", length, "en", 0.5),
                                 args.samples)
        t_fast, record_fast = timed(partial(fast.build, sample_rng(0, length), "passkey", length, "en", 0.5),
                                    args.samples)
        t_naive, (naive_tokens, calls) = timed(
            partial(retokenising_sample, tokenizer, units, length, 0.5, "12345"), max(1, args.samples // 2))
        # every count below is the rendered prompt tokenised again here, not the generator's own figure
        actual = len(prompt_ids(tokenizer, {"messages": record["messages"][:-1]}))
        actual_fast = len(prompt_ids(tokenizer, {"messages": record_fast["messages"][:-1]}))
        recorded = "= meta.tokens" if actual == record["meta"]["tokens"] else f"!= meta.tokens {record['meta']['tokens']}"
        print(f"{length:>8} {t_verify:>13.3f}s {t_fast:>11.3f}s {t_naive:>11.2f}s "
              f"{t_naive / t_verify:>7.0f}x / {t_naive / t_fast:>6.0f}x  "
              f"re-tokenised: spliced {actual} ({deviation(actual, length)}, {recorded}); without verifying "
              f"{actual_fast} ({deviation(actual_fast, length)}); re-tokenising search: {calls} tokenisations, "
              f"{naive_tokens} ({deviation(naive_tokens, length)})")


if __name__ == "__main__":
    main()
