"""THE training loop. `fit(cfg)` reads top to bottom: set up, then for every optimizer step: plan the
global batch, run this rank's micro-steps, log, evaluate, checkpoint; then save the model.

Suites plug in through `prepare_model` (e.g. raise the RoPE base) and through the data they generate;
they never change this control flow.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from core.data.packing import PackReport
from core.data.sources import BatchPlan, load_source, mix_indices, split_eval_indices
from core.data.store import SampleSet, SampleView
from core.data.template_probe import probe_template
from core.errors import UserError
from core.model import sequence_parallel
from core.model.attention import enable_packed_attention
from core.model.loading import add_special_tokens, load_model, load_tokenizer, set_rope_base
from core.outputs import write_json
from core.train import config as config_lib
from core.train import engine as engine_lib
from core.train import run_folder
from core.train.batching import StepPlan, build_micro_batch, forward_token_losses, pack_rows, plan_step
from core.train.config import TrainConfig
from core.train.loss import channel_sums, weighted_loss
from core.train.metrics import MetricsLogger, channel_losses, final_losses


class TrainingError(UserError, RuntimeError):  # a NaN loss: data or settings, one line
    pass


@dataclass
class FitResult:
    out: str
    model_dir: str
    steps: int
    history: list[dict]
    seconds: float  # the whole call
    train_seconds: float = 0.0  # the step loop alone
    engine: object = None  # the DeepSpeed engine, for callers that inspect the in-memory model


FREEZE_KEEP = {"embeddings": ("embed_tokens", "lm_head", "wte", "wpe"), "attention": ("self_attn", "attn."),
               "mlp": ("mlp",)}


def prepare_model(cfg: TrainConfig, tokenizer, extra: Callable | None = None):
    dtype = torch.bfloat16 if cfg.model.dtype == "bf16" else torch.float32
    attention = "sft_packed" if cfg.model.attention == "packed" else cfg.model.attention
    model = load_model(cfg.model.path, dtype=dtype, attn_implementation=attention, seed=cfg.model.init_seed,
                       trust_remote_code=cfg.model.trust_remote_code)
    if cfg.model.attention == "packed":
        enable_packed_attention(model)
    first_new_id = len(tokenizer)
    if cfg.model.special_tokens:
        add_special_tokens(model, tokenizer, cfg.model.special_tokens)
    if cfg.model.rope_theta:
        set_rope_base(model, cfg.model.rope_theta)
    if extra is not None:
        extra(model, tokenizer, cfg)
    if cfg.freeze != "none":
        keep = FREEZE_KEEP[cfg.freeze]
        for name, p in model.named_parameters():
            p.requires_grad_(any(k in name for k in keep))
    if cfg.model.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x renamed it
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg.lora.enabled:
        from peft import LoraConfig, get_peft_model

        # Tokens added here (by the config or a suite's prepare) have no trained embedding: their rows train
        # with the adapter and are saved in it, or the adapter would be useless on any base model.
        new_ids = list(range(first_new_id, len(tokenizer)))
        model = get_peft_model(model, LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                                                 target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM",
                                                 trainable_token_indices=new_ids or None))
    model.config.use_cache = False
    return model


def load_data(cfg: TrainConfig, tokenizer, info: engine_lib.DistInfo) -> tuple[SampleView, SampleView, list[str]]:
    """Rank 0 renders (and caches); then the first rank of every other node (which renders only where the cache
    folder is not shared); then the rest, which only map the cached files. Returns views (index arrays over
    the memory-mapped samples) of the training mix and the held-out samples, and the task types."""
    def read_all(progress: bool):
        sources = [load_source(p, tokenizer, cfg.data, progress) for p in cfg.data.paths]
        evals = [load_source(p, tokenizer, cfg.data, progress) for p in cfg.data.eval_paths]
        return sources, evals

    # Rendering a large set can outlast a collective's default timeout: the waiting ranks use a group of their own.
    waiting = dist.new_group(backend="gloo", timeout=timedelta(hours=24)) if info.world > 1 else None
    for stage in range(3):
        turn = (info.rank == 0, info.rank != 0 and info.local_rank == 0, info.local_rank != 0)[stage]
        if turn:
            sources, evals = read_all(info.is_main and cfg.progress)
        if waiting is not None:
            dist.barrier(group=waiting)
    if info.is_main:
        print(f"[data] chat template: {probe_template(tokenizer).summary()}")
        for s in sources + evals:
            print(f"[data] {s.path}: {s.stats.summary()}")
            if getattr(s, "rendered", None):
                print(f"[data] {s.path}: rendered " + ", ".join(f"{k}: {v}" for k, v in sorted(s.rendered.items())))
    samples = SampleSet([s.store for s in sources + evals])
    mixed = mix_indices(samples, cfg.data, cfg.seed, sources=list(range(len(sources))))
    train, held_out = split_eval_indices(mixed, cfg.data.eval_split, cfg.seed)
    held_out = np.concatenate([held_out, *(samples.source_range(len(sources) + k) for k in range(len(evals)))])
    channels = sorted(samples.task_types[t] for t in np.unique(samples.task_ids_of(np.concatenate([train, held_out]))))
    return samples.view(train), samples.view(held_out), channels


def reduce_sum(values: list[torch.Tensor]) -> list[torch.Tensor]:
    flat = torch.cat([v.double().flatten() for v in values])
    dist.all_reduce(flat)
    out, i = [], 0
    for v in values:
        out.append(flat[i : i + v.numel()].view_as(v))
        i += v.numel()
    return out


@torch.no_grad()
def evaluate_loss(model, rows_plan: StepPlan, cfg: TrainConfig, channel_index: dict, pad_id: int,
                  dp_rank: int, sp_rank: int, sp_group, device) -> dict:
    model.eval()
    n = len(channel_index)
    sums, counts = torch.zeros(n, dtype=torch.float64, device=device), torch.zeros(n, dtype=torch.float64, device=device)
    context = sequence_parallel.sequence_parallel_group(sp_group) if sp_group is not None else nullcontext()
    with context:
        for rows in rows_plan.slots[dp_rank]:
            batch = build_micro_batch(rows, rows_plan, channel_index, "token", pad_id, sp_rank, cfg.engine.sp_size, device)
            losses = forward_token_losses(model, batch, cfg.loss_chunk_size)
            s, c = channel_sums(losses, batch.trained, batch.channels, n)
            sums += s
            counts += c
    sums, counts = reduce_sum([sums, counts])
    model.train()
    channels = sorted(channel_index, key=channel_index.get)
    return {"eval_loss": float(sums.sum() / counts.sum().clamp(min=1)),
            **channel_losses(sums.cpu(), counts.cpu(), channels, prefix="eval_loss")}


def fit(cfg: TrainConfig, prepare: Callable | None = None) -> FitResult:
    """Train `cfg`; `prepare(model, tokenizer, cfg)` lets a suite adapt the model before the engine wraps it."""
    started = time.time()
    info = engine_lib.init_distributed()
    config_lib.validate(cfg, info.world)
    config_lib.check_paths_exist(cfg)
    run_folder.check_inputs(cfg)
    identity = run_folder.prepare(cfg, engine_lib.latest_checkpoint(cfg.out) if cfg.resume else None, info.is_main)
    dist.barrier()  # an old run's state is gone on every rank's view before anything is written
    sp_size = cfg.engine.sp_size
    dp_size, dp_rank, sp_rank = info.world // sp_size, info.rank // sp_size, info.rank % sp_size
    sp_group = sequence_parallel.new_groups(sp_size)[0] if sp_size > 1 else None
    device = engine_lib.device()
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)

    # Model and data.
    tokenizer = load_tokenizer(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
    model = prepare_model(cfg, tokenizer, prepare)
    train, held_out, channels = load_data(cfg, tokenizer, info)
    run_folder.check_trainable(train, cfg)
    if info.is_main:  # only once the data is known good: a bad input leaves no run folder behind
        os.makedirs(cfg.out, exist_ok=True)
        config_lib.save(cfg, os.path.join(cfg.out, "config.yaml"))
        write_json(os.path.join(cfg.out, "template_probe.json"),  # what the template does
                   probe_template(tokenizer).to_dict(), indent=1, ensure_ascii=False)
    channel_index = {name: i for i, name in enumerate(channels)}
    plan = BatchPlan(len(train), cfg.global_batch_size(info.world), cfg.epochs, cfg.max_steps, cfg.seed,
                     cfg.data.shuffle)
    if held_out:
        eval_rows, eval_report, _ = pack_rows(held_out, cfg.data.max_len, cfg.data.truncation)
        eval_plan = StepPlan([[[r] for r in eval_rows[k::dp_size]] for k in range(dp_size)], held_out, [], 0, 0, eval_report)
    engine = engine_lib.build_engine(model, cfg, plan.total_steps, info.world)
    grad_scale = engine.dp_world_size  # DeepSpeed averages gradients over ranks; our losses already hold the global denominators

    # Resume.
    start_step = 0
    if cfg.resume and (path := engine_lib.latest_checkpoint(cfg.out)):
        state = engine_lib.load_checkpoint(engine, path)
        start_step = state["step"]
        engine_lib.set_rng_states(state["rng"][info.rank % len(state["rng"])])
        if info.is_main:
            print(f"[resume] from {path} at step {start_step}")
    elif cfg.resume and info.is_main:
        print(f"[resume] no checkpoint in {engine_lib.checkpoint_dir(cfg.out)}: starting from step 0")
    logger = MetricsLogger(cfg.out, info.is_main, resume_step=start_step)
    bar = tqdm(total=plan.total_steps, initial=start_step, desc="train", disable=not (info.is_main and cfg.progress),
               dynamic_ncols=True)
    pack_report = PackReport()
    sp_context = sequence_parallel.sequence_parallel_group(sp_group) if sp_group is not None else nullcontext()

    loop_start = time.time()
    for step in range(start_step, plan.total_steps):
        step_start = time.time()
        step_plan = plan_step(train.select(plan.batch_array(step)), cfg.data.max_len, cfg.data.packing,
                              cfg.data.truncation, dp_size, cfg.gradient_accumulation)
        pack_report.merge(step_plan.report)
        loss_sum = torch.zeros(1, dtype=torch.float64, device=device)
        sums = torch.zeros(len(channels), dtype=torch.float64, device=device)
        counts = torch.zeros_like(sums)
        grad_norm = None
        for rows in step_plan.slots[dp_rank]:
            batch = build_micro_batch(rows, step_plan, channel_index, cfg.loss_reduction, tokenizer.pad_token_id,
                                      sp_rank, sp_size, device)
            with sp_context:
                engine_lib.begin_forward(engine)
                losses = forward_token_losses(engine.module, batch, cfg.loss_chunk_size)
                loss = weighted_loss(losses, batch.weights)
                bad = torch.tensor([0.0 if torch.isfinite(loss) else 1.0], device=device)
                dist.all_reduce(bad)
                if bad.item():
                    raise TrainingError(f"step {step + 1}: loss is {loss.item()} on rank {info.rank}; "
                                        f"samples in this micro-batch: {batch.sample_ids}")
                engine.backward(loss * grad_scale, scale_wrt_gas=False)
            grad_norm = engine_lib.unclipped_grad_norm(engine) or grad_norm
            engine.step()
            loss_sum += loss.detach().double()
            s, c = channel_sums(losses, batch.trained, batch.channels, len(channels))
            sums += s
            counts += c

        # Log: the loss of the whole global batch, exact, and its split by task_type.
        loss_sum, sums, counts = reduce_sum([loss_sum, sums, counts])
        done = step + 1
        if done % cfg.log_every == 0 or done == plan.total_steps:
            metrics = {"loss": float(loss_sum.item()), "lr": engine.get_lr()[0], "epoch": plan.epoch_of(done),
                       "tokens_per_s": step_plan.report.tokens / max(time.time() - step_start, 1e-9),
                       "fill_rate": step_plan.report.fill_rate,
                       **channel_losses(sums.cpu(), counts.cpu(), channels)}
            grad_norm = engine.get_global_grad_norm() if grad_norm is None else grad_norm
            if grad_norm is not None:
                metrics["grad_norm"] = float(grad_norm)
            logger.log(done, metrics)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.2e}",
                            tok_s=f"{metrics['tokens_per_s']:.0f}")
        if held_out and cfg.eval_every and (done % cfg.eval_every == 0 or done == plan.total_steps):
            logger.log(done, evaluate_loss(engine.module, eval_plan, cfg, channel_index, tokenizer.pad_token_id,
                                           dp_rank, sp_rank, sp_group, device))
        if cfg.save_every and (done % cfg.save_every == 0 or done == plan.total_steps):
            engine_lib.save_checkpoint(engine, cfg.out, done, {"step": done, "rng": engine_lib.gather_rng_states(), "identity": identity},
                                       cfg.keep_checkpoints, info)
        bar.update(1)
    bar.close()
    train_seconds = time.time() - loop_start

    model_dir = os.path.join(cfg.out, "final")
    engine_lib.save_hf_model(engine, tokenizer, model_dir, info, cfg.lora.save_merged)
    logger.close(os.path.join(cfg.out, "loss_by_task_type.png"))
    if info.is_main:
        print(f"[pack] {pack_report.format()}")
        print(final_losses(logger.history))
        print(f"[done] {plan.total_steps - start_step} steps in {time.time() - started:.1f}s; model saved to {model_dir}")
    return FitResult(cfg.out, model_dir, plan.total_steps, logger.history, time.time() - started, train_seconds, engine)
