"""python -m suites.rag.generate --n N --out FILE [--seed S] [--lang en|zh|mix] [--shares grounded=0.4,empty=0.1,...]

Writes RAG training samples (task_types rag/grounded, rag/multi_doc, rag/empty, rag/irrelevant,
rag/conflicting, rag/counterfactual, rag/route). The default source is a fictional world built from the
seed; `--corpus DIR_OR_JSONL` (or a built `--index DIR`) with `--questions FILE` and/or `--teacher SPEC
--teacher-questions N` uses your documents instead. Same seed, same bytes; `--shard k --num-shards K` writes
the k-th contiguous block of the same samples.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

from core.data.records import write_records
from core.outputs import write_json
from core.synth.generator import (
    GenerationReport,
    add_generation_args,
    allocate_shares,
    generate_records,
    sample_rng,
    shard_range,
)
from suites.rag.report import diversity, language_warnings, plot_positions
from suites.rag.scenarios import DEFAULT_SHARES, SCENARIOS, SampleBuilder, ScenarioConfig
from suites.rag.source import Source, held_out
from suites.rag.world import world_source

RETRIEVAL_MODES = ("bm25", "dense", "hybrid")


def parse_shares(text: str) -> dict[str, float]:
    """"grounded=0.4,empty=0.1" -> the mix; scenarios not listed get share 0."""
    shares = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().removeprefix("rag/")
        if not sep or name not in SCENARIOS:
            raise ValueError(f"--shares: {part!r} is not SCENARIO=WEIGHT with SCENARIO one of {', '.join(SCENARIOS)}")
        try:
            shares[name] = float(value)
        except ValueError:
            raise ValueError(f"--shares: {part!r}: weight {value!r} is not a number") from None
        if shares[name] < 0:
            raise ValueError(f"--shares: {part!r}: weights must be >= 0")
    if not shares or sum(shares.values()) <= 0:
        raise ValueError("--shares: give at least one positive weight")
    return {name: shares.get(name, 0.0) for name in SCENARIOS}


def parse_docs(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    try:
        return int(lo), int(hi or lo)
    except ValueError:
        raise ValueError(f"--docs: expected N or MIN-MAX, got {text!r}") from None


@dataclass
class RagDataConfig:
    shares: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    world_sizes: dict[str, int] = field(default_factory=dict)
    corpus: str | None = None
    index: str | None = None
    questions: str | None = None
    teacher: object | None = None  # a core.synth.teacher Teacher
    teacher_questions: int = 0
    retrieval: str = "bm25"
    chunk_tokens: int = 256
    overlap: int = 32
    tokenizer: str = "tiny"
    question_split: str = "all"  # user questions: all, or train / eval (a held-out share chosen by id hash)
    eval_question_share: float = 0.1

    def validate(self) -> None:
        problems = []
        user = self.corpus or self.index
        if self.corpus and self.index:
            problems.append("--corpus, --index: give the corpus or a built index, not both")
        if user and not (self.questions or (self.teacher is not None and self.teacher_questions > 0)):
            problems.append("--corpus/--index, --questions/--teacher: a user corpus needs --questions FILE or "
                            "--teacher SPEC with --teacher-questions N")
        if not user and (self.questions or self.teacher_questions):
            problems.append("--questions/--teacher-questions: these need --corpus or --index (the world has its own)")
        if self.teacher_questions and self.teacher is None:
            problems.append("--teacher-questions, --teacher: questions from a teacher need --teacher hf:PATH|openai:URL#model")
        if self.question_split not in ("all", "train", "eval") or not 0 < self.eval_question_share < 1:
            problems.append("question_split / eval_question_share: all|train|eval and a share in (0, 1)")
        if self.retrieval not in RETRIEVAL_MODES:
            problems.append(f"--retrieval: must be one of {RETRIEVAL_MODES}")
        if not user and self.retrieval != "bm25":
            problems.append("--retrieval: the fictional world is retrieved with bm25; dense/hybrid need --corpus or --index")
        unknown = set(self.shares) - set(SCENARIOS)
        if unknown:
            problems.append(f"--shares: unknown scenarios {sorted(unknown)}")
        if problems:
            raise ValueError("invalid options:\n  " + "\n  ".join(problems))


_SOURCES: dict[tuple, tuple[Source, dict]] = {}


def build_sources(cfg: RagDataConfig, seed: int, languages: list[str]) -> dict[str, tuple[Source, dict]]:
    """One (source, summary) per template language, cached per process (the world depends on the seed)."""
    out = {}
    if not (cfg.corpus or cfg.index):
        for lang in languages:
            key = ("world", seed, lang, tuple(sorted(cfg.world_sizes.items())))
            if key not in _SOURCES:
                source = world_source(seed, lang, cfg.world_sizes or None)
                _SOURCES[key] = (source, {"source": source.name, "passages": len(source.passages),
                                          "single_doc": len(source.single[lang]), "multi_doc": len(source.multi[lang])})
            out[lang] = _SOURCES[key]
        return out
    from suites.rag.index import IndexConfig, RagIndex
    from suites.rag.questions import other_language_questions, user_source

    if cfg.index:
        index = RagIndex.load(cfg.index)
    else:
        index = RagIndex.from_corpus(cfg.corpus, IndexConfig(chunk_tokens=cfg.chunk_tokens, overlap=cfg.overlap,
                                                             tokenizer=cfg.tokenizer, dense=cfg.retrieval != "bm25"))
    source, summary = user_source(index, cfg.questions, cfg.teacher, cfg.teacher_questions, seed, tuple(languages),
                                  cfg.retrieval)
    # counted over all questions, before a train/eval split, like summary's single_doc and multi_doc
    mismatched = {lang: other_language_questions(source.single[lang] + source.multi[lang], lang) for lang in languages}
    if cfg.question_split != "all":
        keep = cfg.question_split == "eval"
        source.single = {lg: [q for q in qas if held_out(q.id, cfg.eval_question_share) == keep]
                         for lg, qas in source.single.items()}
        source.multi = {lg: [q for q in qas if held_out(q.id, cfg.eval_question_share) == keep]
                        for lg, qas in source.multi.items()}
        summary["question_split"] = f"{cfg.question_split}: {len(source.single[languages[0]])} one-document questions"
    return {lang: (source, {"source": source.name, **summary, "other_language_questions": mismatched[lang]})
            for lang in languages}


class RagGenerator:
    def __init__(self, n: int, seed: int, lang: str, cfg: RagDataConfig):
        cfg.validate()
        self.n, self.seed, self.lang, self.cfg = n, seed, lang, cfg
        self.languages = ["en", "zh"] if lang == "mix" else [lang]
        self.sources = build_sources(cfg, seed, self.languages)
        self.builders = {lg: SampleBuilder(src, cfg.scenario, lg) for lg, (src, _) in self.sources.items()}
        self._check_pools()
        self.labels = allocate_shares(n, cfg.shares) if n else []

    def _check_pools(self) -> None:
        needs = {"multi_doc": ("multi", "no two-document question (gold_ids with 2+ ids)"),
                 "conflicting": ("changeable", "no question whose answer occurs in its gold passage"),
                 "counterfactual": ("changeable", "no question whose answer occurs in its gold passage")}
        for lang, builder in self.builders.items():
            if not builder.single:
                raise ValueError(f"the {lang} source has no one-document question")
            for scenario, (pool, why) in needs.items():
                if self.cfg.shares.get(scenario, 0) > 0 and not getattr(builder, pool):
                    raise ValueError(f"--shares {scenario}={self.cfg.shares[scenario]}: the questions have {why} "
                                     f"with alternatives; set {scenario}=0 in --shares")

    def lang_of(self, index: int) -> str:
        if self.lang != "mix":
            return self.lang
        return sample_rng(self.seed, index, "lang").choice(self.languages)

    def build(self, rng, index: int) -> dict:
        scenario, lang = self.labels[index], self.lang_of(index)
        builder = self.builders[lang]
        messages, answer, meta = builder.build(scenario, rng)
        return {"messages": [*messages, {"role": "assistant", "content": answer}], "task_type": f"rag/{scenario}",
                "meta": {"suite": "rag", "scenario": scenario, "lang": lang, "source": builder.source.name,
                         "seed": self.seed, "index": index, **meta}}

    def generate(self, indices=None, report: GenerationReport | None = None) -> list[dict]:
        indices = range(self.n) if indices is None else indices
        return generate_records(self.build, indices, self.seed, report, desc="rag")


def build_parser() -> argparse.ArgumentParser:
    from core.synth.teacher import add_teacher_args

    parser = argparse.ArgumentParser(prog="python -m suites.rag.generate", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_generation_args(parser)
    parser.add_argument("--shares", default=",".join(f"{k}={v}" for k, v in DEFAULT_SHARES.items()),
                        help="scenario mix as SCENARIO=WEIGHT,...; unlisted scenarios get 0")
    parser.add_argument("--docs", default="3-5", help="documents shown per sample, N or MIN-MAX")
    parser.add_argument("--negative-pool", type=int, default=12, help="hard negatives are drawn from this many top hits")
    parser.add_argument("--world-size", default="", help="entities per kind, e.g. town=60,person=90,company=50,plant=40")
    parser.add_argument("--corpus", help="your documents: folder of .txt/.md, or JSONL with id, title, text")
    parser.add_argument("--index", help="a folder built by python -m suites.rag.index (instead of --corpus)")
    parser.add_argument("--questions", help="JSONL of question, answer, aliases, gold_ids | gold_text over the corpus")
    parser.add_argument("--teacher-questions", type=int, default=0, help="questions the teacher writes from chunks")
    parser.add_argument("--retrieval", choices=RETRIEVAL_MODES, default="bm25", help="how hard negatives are retrieved")
    parser.add_argument("--chunk-tokens", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--tokenizer", default="tiny", help="tokenizer used to chunk --corpus")
    parser.add_argument("--plot", help="write a PNG of gold positions here")
    add_teacher_args(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> RagDataConfig:
    from core.synth.teacher import teacher_from_args

    lo, hi = parse_docs(args.docs)
    sizes = {}
    for part in filter(None, args.world_size.split(",")):
        kind, _, count = part.partition("=")
        if kind not in ("town", "person", "company", "plant") or not count.isdigit():
            raise ValueError(f"--world-size: {part!r} is not KIND=N with KIND town, person, company or plant")
        sizes[kind] = int(count)
    return RagDataConfig(shares=parse_shares(args.shares), scenario=ScenarioConfig(lo, hi, args.negative_pool),
                         world_sizes=sizes, corpus=args.corpus, index=args.index, questions=args.questions,
                         teacher=teacher_from_args(args), teacher_questions=args.teacher_questions,
                         retrieval=args.retrieval, chunk_tokens=args.chunk_tokens, overlap=args.overlap,
                         tokenizer=args.tokenizer)


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
        indices = shard_range(args.n, args.shard, args.num_shards)
        generator = RagGenerator(args.n, args.seed, args.lang, cfg)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from None
    report = GenerationReport()
    records = generator.generate(indices, report)
    write_records(args.out, records)
    report.extra.update(diversity(records))
    report.extra["sources"] = {lang: summary for lang, (_, summary) in generator.sources.items()}
    report.extra["random_negatives"] = sum(b.random_fill for b in generator.builders.values())
    print(report.format())
    for warning in language_warnings(report.extra["sources"]):
        print(warning, file=sys.stderr)
    print(f"answer templates used: {report.extra['answer_templates_used']}")
    if report.extra["random_negatives"]:
        print(f"negatives drawn at random because retrieval found too few: {report.extra['random_negatives']}")
    print(f"[rag] wrote {args.out} (shard {args.shard + 1}/{args.num_shards}: samples {indices.start}..{indices.stop - 1})")
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        write_json(args.report, report.as_dict(), ensure_ascii=False, indent=1)
    if args.plot:
        plot_positions(report.extra, args.plot)
    sys.stdout.flush()
    return report.as_dict()


def generate(n: int, seed: int, lang: str, cfg: RagDataConfig | None = None) -> list[dict]:
    """The pipeline's generator: n samples from the fictional world (or cfg's corpus)."""
    return RagGenerator(n, seed, lang, cfg or RagDataConfig()).generate()


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.rag.generate", main)
