"""python -m suites.complex_instr.generate: many-constraint instructions made consistent with their answers.

    python -m suites.complex_instr.generate --n N --out FILE [--input PAIRS.jsonl] [--seed S] [--lang en|zh|mix]
        [--min-k 3] [--max-k 6] [--add 1] [--teacher hf:PATH|openai:URL#model] [--shard k --num-shards K]

Three sources of (instruction, response) pairs: the user's JSONL (--input), a teacher answering
instructions the suite composes with k sampled constraints (--teacher), or the seed set shipped with the
suite (default; offline). Each sample's constraints are verified against its response, retargeted or
dropped, optionally extended, and the prompt is re-rendered from what holds (see shoot_draw.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from core.data.records import validate_record, write_records
from core.outputs import save_figure, write_json
from core.synth.generator import GenerationReport, Rejected, add_generation_args, sample_rng, shard_range
from suites.complex_instr.compose import render_prompt, sample_constraints
from suites.complex_instr.constraints.base import Context
from suites.complex_instr.shoot_draw import ConstraintReport, DrawConfig, build_record
from suites.complex_instr.sources import Pair, PairError, load_seed_pairs, read_pairs
from suites.complex_instr.text import LANGUAGE_NAMES, detect_language


@dataclass
class Sources:
    """The pairs a run draws from, with the prompt language each index gets."""

    pairs: list[Pair]
    lang: str  # en | zh | mix
    source: str  # seed | input
    order_seed: int = 0
    by_lang: dict = field(init=False)

    def __post_init__(self):
        self.by_lang = {}
        for lang in ("en", "zh"):
            pool = [p for p in self.pairs if p.lang == lang]
            random.Random(f"{self.order_seed}:{lang}").shuffle(pool)
            self.by_lang[lang] = pool
        if self.source == "seed" and self.lang != "mix" and not self.by_lang[self.lang]:
            raise ValueError(f"the seed set has no {self.lang} pairs")

    def pick(self, i: int) -> tuple[Pair, str]:
        """Input pairs in file order (cycling); seed pairs in a seeded order, alternating en/zh for mix."""
        if self.source == "input":
            pair = self.pairs[i % len(self.pairs)]
            return pair, pair.lang if self.lang == "mix" else self.lang
        lang = self.lang if self.lang != "mix" else ("en", "zh")[i % 2]
        pool = self.by_lang[lang]
        return pool[(i // 2 if self.lang == "mix" else i) % len(pool)], lang


def response_language(response: str, fallback: str) -> str:
    """The response's language when it is one the constraints can name (LANGUAGE_NAMES), else `fallback`."""
    found = detect_language(response)
    return found if found in LANGUAGE_NAMES else fallback


def _originals(rng: random.Random, cfg: DrawConfig, prompt_lang: str, expected_lang: str, instruction: str) -> list[dict]:
    ctx = Context(rng=rng, lang=prompt_lang, response_lang=expected_lang, instruction=instruction)
    return sample_constraints(ctx, rng.randint(cfg.min_k, cfg.max_k))


def generate_from_pairs(sources: Sources, indices, seed: int, cfg: DrawConfig, report: GenerationReport,
                        creport: ConstraintReport) -> list[dict]:
    """Shoot-then-draw over existing pairs (seed set or --input); deterministic per (seed, index)."""

    def build(rng: random.Random, i: int) -> dict:
        pair, prompt_lang = sources.pick(i)
        resp_lang = pair.lang if sources.source == "seed" else response_language(pair.response, pair.lang)
        originals = _originals(rng, cfg, prompt_lang, resp_lang, pair.instruction)
        return build_record(instruction=pair.instruction, response=pair.response, prompt_lang=prompt_lang,
                            response_lang=resp_lang, originals=originals, rng=rng, cfg=cfg, source=sources.source,
                            pair_id=pair.id, report=creport, extra_meta={"seed": seed, "index": i})

    return _build_all(build, indices, seed, report)


def _build_all(build, indices, seed: int, report: GenerationReport, attempts: int = 5) -> list[dict]:
    """core.synth.generator.generate_records' seeding and retries, except that an index still rejected after
    `attempts` tries is skipped and counted (a user's pair may support too few constraints) instead of
    stopping the run."""
    out, skipped = [], Counter()
    indices = list(indices)
    for i in tqdm(indices, desc="shoot-draw", disable=len(indices) < 2000, leave=False):
        for attempt in range(attempts):
            try:
                record = build(sample_rng(seed, i, salt=str(attempt) if attempt else ""), i)
            except Rejected as e:
                report.reject(e.reason)
                reason = e.reason
                continue
            validate_record(record)
            report.add(record)
            out.append(record)
            break
        else:
            skipped[reason] += 1
    if skipped:
        report.extra["skipped_samples"] = dict(sorted(skipped.items()))
    return out


def generate_with_teacher(teacher, sources: Sources, indices, seed: int, cfg: DrawConfig, report: GenerationReport,
                          creport: ConstraintReport, batch_size: int = 16, max_tokens: int = 512,
                          temperature: float = 0.7) -> list[dict]:
    """The teacher answers composed many-constraint instructions; its answers are the arrows."""
    planned = []
    for i in indices:
        rng = sample_rng(seed, i)
        pair, prompt_lang = sources.pick(i)
        originals = _originals(rng, cfg, prompt_lang, prompt_lang, pair.instruction)
        messages, layout = render_prompt(pair.instruction, originals, prompt_lang, rng)
        planned.append((i, rng, pair, prompt_lang, originals, messages, layout))
    replies: list[str] = []
    for start in range(0, len(planned), batch_size):
        batch = planned[start:start + batch_size]
        replies += teacher.complete([p[5] for p in batch], max_tokens=max_tokens, temperature=temperature,
                                    seed=seed + batch[0][0])  # the first global index: same in a shard
    out, skipped = [], Counter()
    for (i, rng, pair, prompt_lang, originals, messages, layout), reply in zip(planned, replies):
        try:
            record = build_record(
                instruction=pair.instruction, response=reply.strip(), prompt_lang=prompt_lang,
                response_lang=response_language(reply, prompt_lang), originals=originals, rng=rng, cfg=cfg,
                source="teacher", pair_id=pair.id, report=creport,
                extra_meta={"seed": seed, "index": i, "teacher": teacher.name, "asked": messages,
                            "asked_layout": layout})
        except Rejected as e:
            report.reject(e.reason)
            skipped[e.reason] += 1
            continue
        report.add(record)
        out.append(record)
    if skipped:
        report.extra["skipped_samples"] = dict(sorted(skipped.items()))
    return out


HELD_OUT_BUCKETS = 5  # one seed pair in five (by a hash of its id) is kept for evaluation


def held_out(pair: Pair) -> bool:
    return int(hashlib.sha256(pair.id.encode()).hexdigest(), 16) % HELD_OUT_BUCKETS == 0


def split_pairs(pairs: list[Pair], split: str | None) -> list[Pair]:
    """"train": pairs not held out; "eval": the held-out ones (an eval on the training pairs would reward
    reproducing a memorised answer, which satisfies every retargeted constraint); None: all."""
    if split is None:
        return list(pairs)
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train', 'eval' or None, got {split!r}")
    return [p for p in pairs if held_out(p) == (split == "eval")]


def generate(n: int, seed: int, lang: str, cfg: DrawConfig | None = None, split: str | None = None) -> list[dict]:
    """Records from the shipped seed set (what `python -m suites.complex_instr.train` trains on)."""
    cfg = cfg or DrawConfig()
    cfg.check()
    sources = Sources(split_pairs(load_seed_pairs(), split), lang, "seed", order_seed=seed)
    return generate_from_pairs(sources, range(n), seed, cfg, GenerationReport(), ConstraintReport())


def plot_actions(creport: ConstraintReport, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    types = sorted(creport.by_type)
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(types) + 1.5))
    left = [0] * len(types)
    for action in ("kept", "retargeted", "added", "dropped"):
        values = [creport.by_type[t][action] for t in types]
        ax.barh(types, values, left=left, label=action)
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("constraints")
    ax.set_title("shoot, then draw: what happened to each constraint type")
    ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m suites.complex_instr.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_generation_args(parser, default_n=1000)
    parser.set_defaults(n=None)
    parser.add_argument("--input", help="JSONL of {instruction, response} pairs (default: the shipped seed set)")
    parser.add_argument("--min-k", type=int, default=DrawConfig.min_k, help="fewest constraints sampled per prompt")
    parser.add_argument("--max-k", type=int, default=DrawConfig.max_k, help="most constraints sampled per prompt")
    parser.add_argument("--add", type=int, default=DrawConfig.add,
                        help="constraints the response already satisfies to add per sample (back-translation)")
    parser.add_argument("--min-final", type=int, default=DrawConfig.min_final,
                        help="add satisfied constraints until a sample has at least this many")
    group = parser.add_argument_group("teacher (responses for composed instructions)")
    group.add_argument("--teacher", default="template",
                       help='"template" (no teacher), "hf:tiny", "hf:PATH" or "openai:http://host:port/v1#model"')
    group.add_argument("--teacher-batch", type=int, default=16, help="conversations per teacher call")
    group.add_argument("--teacher-max-tokens", type=int, default=512)
    group.add_argument("--teacher-temperature", type=float, default=0.7)
    group.add_argument("--teacher-concurrency", type=int, default=8, help="parallel requests (openai)")
    group.add_argument("--teacher-cache", default=".cache/sft-suites/teacher",
                       help='request cache folder (openai); "" turns it off')
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    cfg = DrawConfig(args.min_k, args.max_k, args.add, args.min_final)
    try:
        cfg.check()
        if args.input and args.teacher != "template":
            raise ValueError("--input, --teacher: give your own pairs or let a teacher answer, not both")
        if args.n is not None and args.n < 1:
            raise ValueError(f"--n {args.n}: must be >= 1")
    except ValueError as e:
        sys.exit(f"error: {e}")

    try:
        pairs = read_pairs(args.input) if args.input else load_seed_pairs()
    except (PairError, OSError) as e:
        sys.exit(f"error: {e}")
    n = args.n if args.n is not None else (len(pairs) if args.input else 1000)
    sources = Sources(pairs, args.lang, "input" if args.input else "seed", order_seed=args.seed)
    indices = shard_range(n, args.shard, args.num_shards)
    report, creport = GenerationReport(), ConstraintReport()
    if args.teacher != "template":
        from core.synth.teacher import load_teacher

        options = ({"concurrency": args.teacher_concurrency, "cache_dir": args.teacher_cache or None}
                   if args.teacher.startswith("openai:") else {})
        teacher = load_teacher(args.teacher, **options)
        records = generate_with_teacher(teacher, sources, indices, args.seed, cfg, report, creport,
                                        args.teacher_batch, args.teacher_max_tokens, args.teacher_temperature)
    else:
        records = generate_from_pairs(sources, indices, args.seed, cfg, report, creport)
    report.require_written(len(indices), "lower --min-final or --max-k")
    write_records(args.out, records)
    report.extra["constraints"] = creport.as_dict()
    print(report.format())
    print(creport.format())
    print(f"[generate] wrote {len(records)} samples to {args.out}")
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        write_json(args.report, report.as_dict(), ensure_ascii=False, indent=1)
        png = os.path.splitext(args.report)[0] + ".png"
        plot_actions(creport, png)
        print(f"[generate] report: {args.report}, {png}")
    return report.as_dict()


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.complex_instr.generate", main)
