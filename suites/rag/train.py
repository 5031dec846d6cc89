"""python -m suites.rag.train [--model tiny|PATH] [--out DIR] [--n-train N] [--n-eval N] [--lang en|zh|mix]
                             [--corpus DIR_OR_JSONL --questions FILE] [--shares ...] [--dotted.trainer.option V ...]

Generates RAG samples (default: the fictional world), trains with the core trainer, and scores the model
before and after training on held-out samples (a different world: the eval seed differs), per scenario.

The defaults suit the embedded tiny model (787K parameters, random init) on 2 CPU cores: a few minutes.
Because that model starts from nothing, it is trained on every token (``data.mask=prompt``) so it learns
to read at all. With a checkpoint (``--model PATH``) the defaults become answers only (``data.mask=all``)
and lr 1e-5 (1e-4 with LoRA), so it never trains on the prompts' wrong facts; options given still win.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from core.eval.pipeline import run_suite
from core.synth.teacher import add_teacher_args, teacher_from_args
from core.train.config import TrainConfig
from suites.rag.eval import score_reply
from suites.rag.generate import RETRIEVAL_MODES, RagDataConfig, RagGenerator, parse_docs, parse_shares
from suites.rag.scenarios import DEFAULT_SHARES, ScenarioConfig


def default_config() -> TrainConfig:
    cfg = TrainConfig(out="runs/rag")
    cfg.data.max_len = 1024
    cfg.data.mask = "prompt"
    cfg.micro_batch_size = 16
    cfg.epochs = 2.0
    cfg.loss_reduction = "token"
    cfg.optim.lr = 3e-3
    cfg.optim.weight_decay = 0.1
    cfg.optim.warmup_steps = 20
    cfg.optim.min_lr_ratio = 0.1
    cfg.log_every = 10
    return cfg


def data_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("RAG data (see python -m suites.rag.generate --help)")
    shares = ",".join(f"{k}={v}" for k, v in DEFAULT_SHARES.items())
    group.add_argument("--shares", default=shares, help=f"scenario=weight,... (default {shares})")
    group.add_argument("--docs", default="2-4", help="documents per sample, N or MIN-MAX (fewer than generate's 3-5: shorter rows)")
    group.add_argument("--corpus", help="your documents instead of the fictional world")
    group.add_argument("--index", help="a built index folder instead of --corpus")
    group.add_argument("--questions", help="JSONL questions over --corpus/--index")
    group.add_argument("--retrieval", choices=RETRIEVAL_MODES, default="bm25", help="retriever over --corpus (default bm25)")
    group.add_argument("--teacher-questions", type=int, default=0, help="questions a --teacher writes from chunks")
    add_teacher_args(parser)
    return parser


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = data_parser()
    args, rest = parser.parse_known_args(argv)
    try:
        lo, hi = parse_docs(args.docs)
        data = RagDataConfig(shares=parse_shares(args.shares), scenario=ScenarioConfig(lo, hi), corpus=args.corpus,
                             index=args.index, questions=args.questions, retrieval=args.retrieval,
                             teacher=teacher_from_args(args), teacher_questions=args.teacher_questions)
        data.validate()
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None

    # The fictional world is rebuilt from the seed, so the eval set (its own seed) asks about other entities;
    # user questions are split by id hash instead, and so are the router's built-in general-knowledge questions.
    def generate(n: int, seed: int, lang: str, split: str) -> list[dict]:
        question_split = split if data.corpus or data.index else "all"
        scenario = dataclasses.replace(data.scenario, route_general_split=split)
        cfg = dataclasses.replace(data, question_split=question_split, scenario=scenario)
        return RagGenerator(n, seed, lang, cfg).generate()

    return run_suite(rest, "python -m suites.rag.train", __doc__.split("\n\n")[1], generate, score_reply,
                     default_config(), default_n_train=2000, default_n_eval=100, eval_max_new_tokens=128,
                     data_options=vars(args), help_parents=[parser])


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.rag.train", main)
