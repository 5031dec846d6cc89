"""generate -> train -> evaluate, the shape of every suite's `python -m suites.<name>.train`.

A suite passes its generator, its scorer and its trainer defaults; the pipeline writes the train and
eval files (``generate(n, seed, lang, split)`` with split "train" or "eval", the eval set drawn with its own
seed), trains with `core.train.loop.fit`, scores the model before and after training on the eval set,
prints both side by side and writes `OUT/eval.json` and `OUT/eval.png`. It adds no control flow to the
training loop.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Callable

from core.data.records import read_records, write_records
from core.eval.scoring import Scorer, aggregate, format_table, score_records
from core.outputs import save_figure, write_json
from core.train import config as config_lib

EVAL_SEED_OFFSET = 1_000_003  # the eval set is drawn with its own seed, so it shares no sample with training


def write_records_once(path: str, params: dict, make: Callable[[], list[dict]]) -> bool:
    """Write the records `make()` returns unless `path` already holds those of the same parameters (a stamp
    beside it says so). Every rank of a multi-process run may call this: the bytes are deterministic and the
    file is replaced atomically. Returns whether it wrote."""
    stamp = path + ".params.json"
    if os.path.exists(path) and os.path.exists(stamp):
        with open(stamp, encoding="utf-8") as f:
            if json.load(f) == params:
                return False
    tmp = f"{path}.tmp{os.getpid()}"
    write_records(tmp, make())
    os.replace(tmp, path)
    write_json(stamp, params)
    return True


def _suite_parser(defaults: config_lib.TrainConfig, n_train: int, n_eval: int, prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, add_help=False)
    group = parser.add_argument_group("suite pipeline (generate -> train -> evaluate)")
    group.add_argument("--out", default=defaults.out, help=f"run folder (default {defaults.out})")
    group.add_argument("--n-train", type=int, default=n_train, help=f"training samples to generate (default {n_train})")
    group.add_argument("--n-eval", type=int, default=n_eval, help=f"eval samples to generate (default {n_eval})")
    group.add_argument("--lang", choices=["en", "zh", "mix"], default="en", help="phrasing language (default en)")
    group.add_argument("--skip-eval-before", action="store_true", help="do not score the model before training")
    group.add_argument("--eval-max-new-tokens", type=int, default=None, help="reply budget when scoring")
    return parser


def print_suite_help(prog: str, description: str, defaults: config_lib.TrainConfig,
                     parents: list[argparse.ArgumentParser]) -> None:
    """One help page: one usage line, the suite's option groups, then the trainer's options."""
    usage = f"{prog} [suite and data options] [trainer options] [--dotted.option V ...]"
    config_lib.build_parser(prog, description, copy.deepcopy(defaults), parents=parents, usage=usage).print_help()


def write_eval(out: str, before: dict | None, after: dict, eval_path: str) -> None:
    """OUT/eval.json and OUT/eval.png, each written aside and renamed: a kill keeps the previous pair's files."""
    write_json(os.path.join(out, "eval.json"), {"before": before, "after": after, "eval_data": eval_path}, indent=1)
    plot_before_after(before, after, os.path.join(out, "eval.png"))


def plot_before_after(before: dict | None, after: dict, path: str, metric: str = "correct") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in after if "/" in g or g == "ALL"]
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(groups) + 2), 4))
    width = 0.4
    xs = range(len(groups))
    if before is not None:
        ax.bar([x - width / 2 for x in xs], [before.get(g, {}).get(metric, 0) for g in groups], width, label="before")
    ax.bar([x + width / 2 for x in xs], [after[g].get(metric, 0) for g in groups], width, label="after")
    ax.set_xticks(list(xs), groups, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by task_type, before and after training")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def for_checkpoint(defaults: config_lib.TrainConfig, lora: bool) -> config_lib.TrainConfig:
    """The suite's defaults adjusted for fine-tuning a pretrained checkpoint rather than the tiny random-init model:
    loss on assistant turns only, and the learning rates practitioners use for full fine-tuning and for LoRA."""
    cfg = copy.deepcopy(defaults)
    cfg.data.mask = "all"
    cfg.optim.lr = 1e-4 if lora else 1e-5
    cfg.optim.weight_decay = 0.0
    return cfg


def resolve_config(argv: list[str] | None, prog: str, description: str, defaults: config_lib.TrainConfig,
                   world: int = 1, verbose: bool = True) -> config_lib.TrainConfig:
    """Parse the trainer options over the suite's defaults, which teach the random-init tiny model (loss on every
    token, lr 3e-3). For a checkpoint those would train it on the prompts' wrong facts (counterfactual documents,
    tool results) and wreck what it knows, so a checkpoint gets `for_checkpoint` defaults; flags still win."""
    cfg = config_lib.from_args(argv, prog, description, copy.deepcopy(defaults), world)
    if cfg.model.path == "tiny":
        return cfg
    checkpoint_defaults = for_checkpoint(defaults, lora=cfg.lora.enabled)
    cfg = config_lib.from_args(argv, prog, description, checkpoint_defaults, world)
    if verbose:
        print(f"[defaults] {cfg.model.path} is a checkpoint: defaults data.mask={checkpoint_defaults.data.mask}, "
              f"optim.lr={checkpoint_defaults.optim.lr:g}, optim.weight_decay={checkpoint_defaults.optim.weight_decay:g}"
              " (options given on the command line or in --config still win)")
    return cfg


def run_suite(argv: list[str] | None, prog: str, description: str, generate: Callable[[int, int, str, str], list[dict]],
              scorer: Scorer, defaults: config_lib.TrainConfig, prepare: Callable | None = None,
              default_n_train: int = 2000, default_n_eval: int = 100, eval_max_new_tokens: int = 128,
              data_options: dict | None = None, help_parents: list[argparse.ArgumentParser] | tuple = ()) -> dict:
    """Run the suite pipeline; `generate(n, seed, lang, split)` returns records. Returns {"before", "after", "fit"}.
    `data_options` are the suite's own data flags: data generated under other flags is never reused;
    `help_parents` are the suite's own parsers (add_help=False), shown with these options on one --help page."""
    from core.model.loading import load_config, load_model, load_tokenizer
    from core.train.loop import fit

    argv = list(argv) if argv is not None else None
    suite_parser = _suite_parser(defaults, default_n_train, default_n_eval, prog)
    suite_args, rest = suite_parser.parse_known_args(argv)
    if any(a in ("-h", "--help") for a in (argv if argv is not None else sys.argv[1:])):
        print_suite_help(prog, description, defaults, [*help_parents, suite_parser])
        raise SystemExit(0)
    defaults = copy.deepcopy(defaults)
    defaults.out = suite_args.out
    data_dir = os.path.join(suite_args.out, "data")
    train_path, eval_path = os.path.join(data_dir, "train.jsonl"), os.path.join(data_dir, "eval.jsonl")
    defaults.data.paths = [train_path]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    is_main = int(os.environ.get("RANK", "0")) == 0
    with config_lib.exit_on_config_error(prog):
        cfg = resolve_config(rest, prog, description, defaults, world, verbose=is_main)
    if suite_args.n_train < 1 or suite_args.n_eval < 1:
        raise SystemExit(f"--n-train, --n-eval: must be >= 1, got {suite_args.n_train} and {suite_args.n_eval}")
    load_config(cfg.model.path, cfg.model.trust_remote_code)  # not a model folder: one line, before any generation

    lang, seed = suite_args.lang, cfg.seed
    splits = (("train", train_path, suite_args.n_train, seed), ("eval", eval_path, suite_args.n_eval, seed + EVAL_SEED_OFFSET))
    for split, path, n, s in splits:
        params = {"n": n, "seed": s, "lang": lang, "split": split, "prog": prog,
                  "data": json.loads(json.dumps(data_options or {}, sort_keys=True, default=str))}
        wrote = write_records_once(path, params, lambda n=n, s=s, split=split: generate(n, s, lang, split))
        if is_main:
            print(f"[data] {path}: {n} samples {'generated' if wrote else 'reused (same parameters)'}")

    eval_records = read_records(eval_path)
    max_new = suite_args.eval_max_new_tokens or eval_max_new_tokens
    tokenizer = load_tokenizer(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
    before = None
    if is_main and not suite_args.skip_eval_before:
        base = load_model(cfg.model.path, seed=cfg.model.init_seed, trust_remote_code=cfg.model.trust_remote_code)
        if prepare is not None:
            prepare(base, tokenizer, cfg)
        before = aggregate(score_records(base, tokenizer, eval_records, scorer, max_new_tokens=max_new))
        del base

    result = fit(cfg, prepare)
    if not is_main:
        return {"fit": result}
    tokenizer = load_tokenizer(result.model_dir)  # the trained one: it holds any tokens added while preparing
    if cfg.engine.zero_stage == 3:  # partitioned in memory: score the gathered checkpoint
        merged = os.path.join(result.model_dir, "merged")
        trained = load_model(merged if os.path.isdir(merged) else result.model_dir)
    else:
        trained = result.engine.module
    after = aggregate(score_records(trained, tokenizer, eval_records, scorer, max_new_tokens=max_new))
    columns = {"before": before, "after": after} if before is not None else {"after": after}
    print(f"\n[eval] {len(eval_records)} held-out samples, {prog}")
    print(format_table(after, columns=columns))
    write_eval(cfg.out, before, after, eval_path)
    print(f"[eval] wrote {os.path.join(cfg.out, 'eval.json')} and eval.png")
    return {"before": before, "after": after, "fit": result}
