"""python -m suites.longctx.train: the long-context demo, two stages on core.train.loop.fit.

Stage 1 trains at a short length with the loss on every token (a model trained from scratch needs it) and
a curriculum: sample lengths are drawn from [min, hi] with hi rising to the stage-1 length over the first
part of the run, and the file is read in order (data.shuffle=false). Stage 2 raises the RoPE base and trains
briefly at a longer length; the same stage 2 also runs without the base change. A needle-in-a-haystack
grid (context length x depth) is scored after each stage; heatmaps, CSV/JSON and a table of accuracy by
length are written. Defaults are the recipe measured for the embedded tiny model on 2 CPU cores; with a
real checkpoint (--model PATH) and GPUs the same command is the real recipe:

    python -m suites.longctx.train --model /ckpt --stage1-len 4096 --stage2-len 16384 --rope-theta 1e6 ...
    torchrun --nproc-per-node 8 -m suites.longctx.train --sp-size 4 ...   # sequence parallel x data parallel

Any trainer option can be added in dotted form and applies to both stages (--optim.weight_decay 0.05).
"""

from __future__ import annotations

import copy
import os
import sys
import time
from dataclasses import asdict
from types import SimpleNamespace

from core.data.records import read_records
from core.eval.pipeline import write_records_once
from core.outputs import write_json
from core.synth.generator import GenerationReport, generate_records, sample_rng
from core.train import config as config_lib
from core.train.config import TrainConfig
from suites.longctx.demo_config import DemoConfig, parse_args
from suites.longctx.eval import (
    by_length,
    format_by_length,
    grid_records,
    plot_heatmaps,
    score_grid,
    write_grids,
)
from suites.longctx.rope import describe, head_dim, resolve_theta, rope_prepare
from suites.longctx.tasks import SampleFactory, TaskOptions

# --- data -----------------------------------------------------------------------------------------------------


def curriculum_length(i: int, n: int, lo: int, hi: int, share: float, seed: int) -> int:
    top = hi if share <= 0 else lo + (hi - lo) * min(1.0, (i / max(n, 1)) / share)
    return sample_rng(seed, i, "length").randint(lo, max(lo, round(top)))


def mean_curriculum_length(lo: int, hi: int, share: float) -> float:
    """Expected sample length of the schedule above (for the samples-per-step that give tokens_per_batch)."""
    return share * (lo + (hi - lo) / 4) + (1 - share) * (lo + hi) / 2


def make_stage_data(factory: SampleFactory, demo: DemoConfig, n: int, lo: int, hi: int, share: float, salt: int):
    report = GenerationReport()

    def build(rng, i: int) -> dict:
        return factory.build(rng, demo.task, curriculum_length(i, n, lo, hi, share, demo.seed + salt), demo.lang)

    records = generate_records(build, range(n), demo.seed + salt, report, desc=f"stage data ({n})")
    if report.rejected:
        print(f"[data] rejected and redrawn: {dict(report.rejected)}")
    return records


# --- training -------------------------------------------------------------------------------------------------


def stage_config(demo: DemoConfig, name: str, data: str, model: str, steps: int, length: int, lr: float,
                 micro: int, overrides: list[tuple[str, str]], world: int) -> TrainConfig:
    cfg = TrainConfig(out=os.path.join(demo.out, name), max_steps=steps, micro_batch_size=micro, seed=demo.seed)
    cfg.model.path, cfg.model.init_seed = model, demo.seed
    cfg.data.paths, cfg.data.mask, cfg.data.shuffle = [data], demo.mask, False
    cfg.data.max_len = length + 64  # prompt + answer; rows are only a packing unit here
    cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.beta2 = lr, demo.weight_decay, 0.95
    cfg.optim.warmup_steps, cfg.optim.min_lr_ratio = min(demo.warmup_steps, max(steps - 1, 0)), demo.min_lr_ratio
    cfg.engine.sp_size = demo.sp_size
    for dotted, value in overrides:
        config_lib.set_option(cfg, dotted, value)
    return config_lib.validate(cfg, world)


def model_config(path: str):
    """The model's config without loading its weights."""
    from transformers import AutoConfig

    from core.model.loading import TINY, tiny_config

    return tiny_config() if path == TINY else AutoConfig.from_pretrained(path, local_files_only=True)


def evaluate(model_dir: str, tokenizer, records: list[dict], demo: DemoConfig) -> list[dict]:
    from core.model.loading import load_model

    return score_grid(load_model(model_dir), tokenizer, records, demo.eval_batch_size, demo.eval_max_new_tokens)


def run(demo: DemoConfig, overrides: list[tuple[str, str]]) -> dict:
    import torch.distributed as dist

    from core.model.loading import load_tokenizer, rope_base
    from core.train.engine import init_distributed
    from core.train.loop import fit

    started = time.time()
    info = init_distributed()
    main_rank = info.is_main
    tokenizer = load_tokenizer(demo.model)
    config = model_config(demo.model)
    dim, base = head_dim(config), rope_base(SimpleNamespace(config=config))
    theta = resolve_theta(base, dim, 0.0 if demo.rope_scale else demo.rope_theta, demo.rope_scale)
    dp = info.world // demo.sp_size
    micro1 = max(1, round(demo.tokens_per_batch / mean_curriculum_length(demo.stage1_min_len, demo.stage1_len,
                                                                          demo.curriculum) / dp))
    lo2 = demo.stage2_min_len or demo.stage2_len
    micro2 = max(1, round(demo.stage2_tokens_per_batch / ((lo2 + demo.stage2_len) / 2) / dp))
    n1, n2 = demo.stage1_steps * micro1 * dp, demo.stage2_steps * micro2 * dp
    data_dir = os.path.join(demo.out, "data")
    paths = {k: os.path.join(data_dir, f"{k}.jsonl") for k in ("stage1", "stage2", "eval")}
    timings: dict[str, float] = {}
    if main_rank:
        os.makedirs(data_dir, exist_ok=True)
        print(describe(dim, demo.stage1_len, theta, base, target=demo.eval_lengths[-1]))
        print(f"[demo] stage 1: {demo.stage1_steps} steps x {micro1 * dp} samples of {demo.stage1_min_len}-"
              f"{demo.stage1_len} tokens; stage 2: {demo.stage2_steps} steps x {micro2 * dp} samples of "
              f"{lo2}-{demo.stage2_len} tokens, RoPE base {base:,.0f} -> {theta:,.0f}")
        t = time.time()
        factory = SampleFactory(tokenizer, demo.haystack,
                                options=TaskOptions(system_share=demo.system_share, phrasing=demo.phrasing,
                                                    passkey_kind=demo.passkey_kind))
        common = {"model": demo.model, "task": demo.task, "haystack": demo.haystack, "lang": demo.lang,
                  "seed": demo.seed, "system_share": demo.system_share, "phrasing": demo.phrasing,
                  "passkey_kind": demo.passkey_kind}
        write_records_once(paths["stage1"], {**common, "n": n1, "lo": demo.stage1_min_len, "hi": demo.stage1_len,
                                             "curriculum": demo.curriculum},
                           lambda: make_stage_data(factory, demo, n1, demo.stage1_min_len, demo.stage1_len, demo.curriculum, 1))
        if demo.stage2_steps:
            write_records_once(paths["stage2"], {**common, "n": n2, "lo": lo2, "hi": demo.stage2_len},
                               lambda: make_stage_data(factory, demo, n2, lo2, demo.stage2_len, 0.0, 2))
        write_records_once(paths["eval"], {**common, "lengths": demo.eval_lengths, "depths": demo.eval_depths,
                                           "per_cell": demo.eval_per_cell},
                           lambda: grid_records(factory, demo.eval_lengths, demo.eval_depths, demo.eval_per_cell,
                                                demo.seed + 3, demo.task, demo.lang))
        timings["data"] = time.time() - t
        print(f"[demo] data ready in {timings['data']:.1f}s: {n1} + {n2} training samples, "
              f"{len(demo.eval_lengths) * len(demo.eval_depths) * demo.eval_per_cell} eval samples in {data_dir}")
    dist.barrier()
    eval_records = read_records(paths["eval"])
    grids: dict[str, list[dict]] = {}
    steps: dict[str, int] = {}

    def stage(name: str, label: str, data: str, model: str, n_steps: int, length: int, lr: float, micro: int,
              prepare=None) -> str:
        cfg = stage_config(demo, name, data, model, n_steps, length, lr, micro, overrides, info.world)
        t = time.time()
        result = fit(cfg, prepare)
        timings[f"{name}_train"] = time.time() - t
        steps[name] = result.steps
        if main_rank:
            t = time.time()
            grids[label] = evaluate(result.model_dir, tokenizer, eval_records, demo)
            timings[f"{name}_eval"] = time.time() - t
            write_grids({label: grids[label]}, os.path.join(demo.out, f"niah_{name}"))
            plot_heatmaps({label: grids[label]}, os.path.join(demo.out, f"niah_{name}.png"))
            print(format_by_length({label: grids[label]}, f"[eval] {label}"))
        dist.barrier()
        return result.model_dir

    stage1_label = f"stage 1: base {base:,.0f}, {demo.stage1_len} tok"
    if demo.stage1_model:
        stage1_model = demo.stage1_model
        if main_rank:
            grids[stage1_label] = evaluate(stage1_model, tokenizer, eval_records, demo)
        dist.barrier()
    else:
        stage1_model = stage("stage1", stage1_label, paths["stage1"], demo.model, demo.stage1_steps,
                             demo.stage1_len, demo.lr, micro1)
    if demo.stage2_steps:
        stage("stage2", f"stage 2: base {theta:,.0f}, +{demo.stage2_len} tok", paths["stage2"], stage1_model,
              demo.stage2_steps, demo.stage2_len, demo.stage2_lr, micro2, rope_prepare(theta))
        if demo.baseline:
            stage("stage2_same_base", f"stage 2, base kept {base:,.0f}", paths["stage2"], stage1_model,
                  demo.stage2_steps, demo.stage2_len, demo.stage2_lr, micro2)
    timings["total"] = time.time() - started
    if not main_rank:
        return {}
    return report(demo, grids, timings, steps, base, theta)


def report(demo: DemoConfig, grids: dict[str, list[dict]], timings: dict, steps: dict, base: float, theta: float) -> dict:
    out = demo.out
    write_grids(grids, os.path.join(out, "niah"))
    plot_heatmaps(grids, os.path.join(out, "niah.png"), f"NIAH {demo.task} ({demo.haystack} haystack): exact match")
    title = (f"NIAH {demo.task}, {demo.haystack} haystack: exact match by context length "
             f"({len(demo.eval_depths)} depths x {demo.eval_per_cell} samples per length)")
    table = format_by_length(grids, title)
    print("\n" + table)
    labels = list(grids)
    checks = []
    stage1 = by_length(grids[labels[0]])
    if demo.stage1_len in stage1:
        checks.append(f"stage 1 at {demo.stage1_len} tokens: {stage1[demo.stage1_len]:.0%} (target >= 95%)")
    if len(labels) > 1 and 4 * demo.stage1_len in (stage2 := by_length(grids[labels[1]])):
        checks.append(f"stage 2 at {4 * demo.stage1_len} tokens: {stage2[4 * demo.stage1_len]:.0%} (target >= 80%)")
    for line in checks:
        print(line)
    step_text = ", ".join(f"{k} {v}" for k, v in steps.items())
    print(f"steps: {step_text}; time: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    result = {"config": asdict(demo), "rope_base": {"before": base, "stage2": theta}, "steps": steps,
              "timings_s": timings, "by_length": {k: by_length(v) for k, v in grids.items()}, "grids": grids,
              "table": table, "checks": checks}
    write_json(os.path.join(out, "results.json"), result, indent=1)
    print(f"[demo] wrote {out}/results.json, niah.csv, niah.json and niah.png (heatmaps)")
    return result


def main(argv: list[str] | None = None) -> dict:
    demo, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    return run(copy.deepcopy(demo), overrides)


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.longctx.train", main)
