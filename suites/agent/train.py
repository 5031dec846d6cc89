"""python -m suites.agent.train [--model tiny|PATH] [--out DIR] [--n-train N] [--n-eval N] [--lang en|zh|mix]
                               [--tools MODULE_OR_JSON] [--shares single=0.2,...] [--dotted.trainer.option V ...]
                               [--teacher template|hf:PATH|openai:URL#model [--teacher-no-call] ...]

Generates verified function-calling samples, trains with the core trainer, and scores the model before and
after training on held-out eval records (another seed; each cut at one target turn) per task_type.

If the model's chat template cannot render tools, calls and results, the records are rewritten into the
fallback format and its special tokens (<|tools|>, <|call|>, <|result|>) are added to the model.
The defaults suit the embedded tiny model (787K parameters, random init) on 2 CPU cores: a few minutes, in
which it learns the call format, not yet which function and arguments a request needs (see docs/agent.md).
That model starts from nothing, so it is trained on every token (``data.mask=prompt``; with assistant turns
only it does not even learn the format in that time). With a checkpoint (``--model PATH``) the defaults become
answers only (``data.mask=all``) and lr 1e-5 (1e-4 with LoRA); options given still win.
"""

from __future__ import annotations

import argparse
import sys

from core.eval.pipeline import run_suite
from core.synth.generator import GenerationReport
from core.synth.teacher import TeacherError, teacher_from_args
from core.train.config import TrainConfig
from suites.agent.eval import score_reply, turn_split
from suites.agent.formats import FALLBACK_TOKENS, supports_system, supports_tools, to_fallback
from suites.agent.generate import generate as generate_records
from suites.agent.generate import parse_shares
from suites.agent.scenarios import DEFAULT_SHARES
from suites.agent.schema import ToolSpecError
from suites.agent.teacher_answers import add_agent_teacher_args, format_summary, teacher_config_from_args


def default_config() -> TrainConfig:
    cfg = TrainConfig(out="runs/agent")
    cfg.data.max_len = 3072  # the longest multi-turn sessions fit whole
    cfg.data.mask = "prompt"  # the tiny model starts from nothing; see the module docstring
    cfg.micro_batch_size = 16
    cfg.epochs = 2.0
    cfg.optim.lr = 3e-3
    cfg.optim.weight_decay = 0.1
    cfg.optim.warmup_steps = 20
    cfg.optim.min_lr_ratio = 0.1
    cfg.log_every = 10
    return cfg


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m suites.agent.train", add_help=False)
    group = parser.add_argument_group("agent data (see python -m suites.agent.generate --help)")
    group.add_argument("--tools", default=None, help="a module or JSON file of tools (default: the built-in toolbox)")
    shares = ",".join(f"{k}={v}" for k, v in DEFAULT_SHARES.items())
    group.add_argument("--shares", default=shares, help=f"task=weight,... (default {shares})")
    add_agent_teacher_args(parser)
    args, rest = parser.parse_known_args(argv)
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--model", default=TrainConfig().model.path)
    peek.add_argument("--model.path", dest="model_path", default=None)
    peek.add_argument("--model.trust_remote_code", dest="trust", default="false")
    known = peek.parse_known_args(rest)[0]
    try:
        shares = parse_shares(args.shares)
        teacher_config = teacher_config_from_args(args)
        if args.tools:  # fail before any model is loaded when the tools are unusable
            from suites.agent.session import Toolset

            Toolset.load(args.tools)
        teacher = teacher_from_args(args)
    except (ValueError, ToolSpecError) as e:
        raise SystemExit(f"error: {e}") from None

    from core.model.loading import add_special_tokens, load_tokenizer

    tokenizer = load_tokenizer(known.model_path or known.model, trust_remote_code=known.trust.lower() == "true")
    fallback = not supports_tools(tokenizer)
    system_role = supports_system(tokenizer)
    prepare = None
    if fallback:
        print(f"[agent] the chat template of {known.model_path or known.model} has no tool support: using the fallback "
              f"format with special tokens {FALLBACK_TOKENS}")

        def prepare(model, tokenizer, cfg):  # on the scoring tokenizer as well as the trainer's
            add_special_tokens(model, tokenizer, list(FALLBACK_TOKENS))

    def generate(n: int, seed: int, lang: str, split: str) -> list[dict]:
        report = GenerationReport()
        records = generate_records(n, seed, lang, tools=args.tools, shares=shares, eval_records=split == "eval",
                                   report=report, teacher=teacher, teacher_config=teacher_config)
        if teacher is not None:
            print(f"[agent] {split} data, {format_summary(report.extra['teacher'])}")
        return [to_fallback(r, system_role) for r in records] if fallback else records

    try:
        result = run_suite(rest, "python -m suites.agent.train", __doc__.split("\n\n")[1], generate, score_reply,
                           default_config(), prepare=prepare, default_n_train=1500, default_n_eval=100,
                           eval_max_new_tokens=128, data_options={**vars(args), "fallback": fallback},
                           help_parents=[parser])
        if isinstance(result, dict) and result.get("after"):
            print(turn_split(result.get("before"), result["after"]))
        return result
    except TeacherError as e:
        raise SystemExit(f"error: --teacher {args.teacher}: {e}") from None


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.agent.train", main)
