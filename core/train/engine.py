"""DeepSpeed set-up from the training config: process group, ZeRO config, optimizer and schedule,
atomic checkpoints, and the final Hugging Face save."""

from __future__ import annotations

import atexit
import json
import math
import os
import random
import shutil
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.outputs import replace_dir
from core.train import op_builds
from core.train.config import TrainConfig


@dataclass
class DistInfo:
    rank: int
    world: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed() -> DistInfo:
    """Join the process group set up by torchrun/deepspeed, or make a one-process group (DeepSpeed needs
    one either way) without putting RANK or a port into os.environ, so child processes start clean. gloo on CPU, nccl on CUDA."""
    import deepspeed

    op_builds.guard_deepspeed_builds()  # before DeepSpeed's comm backend starts: it builds ops on first use
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        _forget_deepspeed_groups()  # a group of an earlier, destroyed process group would be reused
        if all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")):  # a launcher's
            deepspeed.init_distributed(dist_backend=backend, verbose=False)
        else:
            dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
        atexit.register(destroy_process_group)  # without it a process may abort on exit (gloo)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank)


def _forget_deepspeed_groups() -> None:
    """DeepSpeed caches groups cloned from the world group (deepspeed.utils.groups); they die with it."""
    from deepspeed.utils import groups

    groups._release_process_group_references(group=None)


def destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
        _forget_deepspeed_groups()


def device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def deepspeed_config(cfg: TrainConfig, world: int) -> dict:
    zero: dict = {"stage": cfg.engine.zero_stage}
    if cfg.engine.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": torch.cuda.is_available()}
    if cfg.engine.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": torch.cuda.is_available()}
    if cfg.engine.zero_stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        # DeepSpeed's batch bookkeeping; our own planner decides what a micro-step holds.
        "train_micro_batch_size_per_gpu": 1,
        "gradient_accumulation_steps": cfg.gradient_accumulation,
        "train_batch_size": cfg.gradient_accumulation * world,
        "gradient_clipping": cfg.optim.clip_grad,
        "bf16": {"enabled": cfg.model.dtype == "bf16"},
        "zero_optimization": zero,
        "zero_allow_untested_optimizer": True,
        "zero_force_ds_cpu_optimizer": False,
        "optimizer": {
            "type": "AdamW",
            "params": {
                "lr": cfg.optim.lr, "betas": [cfg.optim.beta1, cfg.optim.beta2], "eps": cfg.optim.eps,
                "weight_decay": cfg.optim.weight_decay,
                # DeepSpeed's CPU Adam only where the optimizer state is offloaded; torch's AdamW elsewhere.
                "torch_adam": not cfg.engine.offload_optimizer, "adam_w_mode": True,
            },
        },
        "steps_per_print": 1 << 30,
        "wall_clock_breakdown": False,
    }


def lr_lambda(cfg: TrainConfig, total_steps: int):
    """Linear warmup from 0, then cosine / linear decay to min_lr_ratio (the same formulas as transformers'
    schedules when min_lr_ratio is 0), or constant."""
    warmup = cfg.optim.warmup_steps or math.ceil(cfg.optim.warmup_ratio * total_steps)
    floor = cfg.optim.min_lr_ratio
    kind = cfg.optim.scheduler

    def f(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        if kind == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        decay = 0.5 * (1.0 + math.cos(math.pi * progress)) if kind == "cosine" else max(0.0, 1.0 - progress)
        return floor + (1.0 - floor) * decay

    return f


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Biases and normalisation weights are not decayed (as transformers' Trainer does)."""
    decay, no_decay = [], []
    norm_types = tuple(t for t in (torch.nn.LayerNorm, getattr(torch.nn, "RMSNorm", None)) if t)
    no_decay_ids = set()
    for module in model.modules():
        if isinstance(module, norm_types) or "norm" in type(module).__name__.lower():
            no_decay_ids.update(id(p) for p in module.parameters(recurse=False))
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if id(p) in no_decay_ids or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_engine(model: torch.nn.Module, cfg: TrainConfig, total_steps: int, world: int):
    import deepspeed

    op_builds.guard_deepspeed_builds()

    ds_config = deepspeed_config(cfg, world)
    schedule = lr_lambda(cfg, total_steps)
    # DeepSpeed's engine asserts LOCAL_RANK is set. Without a launcher it is set only while the engine is built:
    # left in the environment, it would make a later transformers.Trainer in this process think it was launched
    # distributed and wrap its model in DDP.
    own_local_rank = "LOCAL_RANK" not in os.environ
    if own_local_rank:
        os.environ["LOCAL_RANK"] = "0"
    try:
        engine, _, _, _ = deepspeed.initialize(
            model=model, model_parameters=parameter_groups(model, cfg.optim.weight_decay), config=ds_config,
            # Built on DeepSpeed's inner optimizer (ZeRO wraps it); stepped by engine.step() at each boundary.
            lr_scheduler=lambda optimizer: torch.optim.lr_scheduler.LambdaLR(optimizer, schedule),
        )
    finally:
        if own_local_rank:
            del os.environ["LOCAL_RANK"]
    return engine


def begin_forward(engine) -> None:
    """What DeepSpeedEngine.forward does before the model runs, for the trainer's forward that calls
    engine.module directly (hidden states, then the chunked loss, never full-vocabulary logits): ZeRO forgets the
    previous micro-batch's backward. Without it ZeRO-3 drops gradients under accumulation."""
    clear = getattr(engine.optimizer, "clear_backward_seen_flag", None)
    if clear is not None:
        clear()


def unclipped_grad_norm(engine) -> float | None:
    """Global gradient norm before clipping. ZeRO optimizers record it during step(); for ZeRO-0 it is
    computed here, on the all-reduced gradients, and must be called before the boundary step()."""
    if engine.zero_optimization() or not engine.is_gradient_accumulation_boundary():
        return None
    grads = [p.grad.detach().float().norm() for p in engine.module.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


# --- checkpoints ------------------------------------------------------------------------------------------

LATEST = "latest"


def checkpoint_dir(out: str) -> str:
    return os.path.join(out, "checkpoints")


def save_checkpoint(engine, out: str, step: int, state: dict, keep: int, info: DistInfo) -> str:
    """Write step-N atomically: everything goes to a temporary folder, which is renamed once complete, then
    the `latest` pointer is replaced. A kill at any point leaves the previous checkpoint intact."""
    root = checkpoint_dir(out)
    final, tmp = os.path.join(root, f"step-{step}"), os.path.join(root, f".tmp-step-{step}")
    if info.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    dist.barrier()
    engine.save_checkpoint(tmp, tag="state", client_state={"step": step}, save_latest=False)
    dist.barrier()
    if info.is_main:
        with open(os.path.join(tmp, "trainer_state.json"), "w", encoding="utf-8") as f:
            json.dump(state, f)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        pointer = os.path.join(root, LATEST)
        with open(pointer + ".tmp", "w", encoding="utf-8") as f:
            f.write(f"step-{step}\n")
        os.replace(pointer + ".tmp", pointer)
        steps = sorted(int(d[5:]) for d in os.listdir(root) if d.startswith("step-"))
        for old in steps[:-keep]:
            shutil.rmtree(os.path.join(root, f"step-{old}"), ignore_errors=True)
    dist.barrier()
    return final


def latest_checkpoint(out: str) -> str | None:
    pointer = os.path.join(checkpoint_dir(out), LATEST)
    if not os.path.exists(pointer):
        return None
    with open(pointer, encoding="utf-8") as f:
        path = os.path.join(checkpoint_dir(out), f.read().strip())
    return path if os.path.isdir(path) else None


def gather_rng_states() -> list[dict]:
    """Every rank's random states (torch CPU and CUDA, Python), indexed by rank: dropout differs per rank."""
    state = {"torch": torch.get_rng_state().tolist(), "python": random.getstate(),
             "cuda": [s.tolist() for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else []}
    states: list = [None] * dist.get_world_size()
    dist.all_gather_object(states, state)
    return states


def set_rng_states(state: dict) -> None:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def load_checkpoint(engine, path: str) -> dict:
    engine.load_checkpoint(path, tag="state", load_optimizer_states=True, load_lr_scheduler_states=True)
    with open(os.path.join(path, "trainer_state.json"), encoding="utf-8") as f:
        return json.load(f)


def merged_lora_model(peft_model, state_dict: dict):
    """A plain model with the adapter merged in, built afresh from the config and the gathered weights: the
    engine's own copy may be partitioned (ZeRO-3), so it cannot be copied and merged in place."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    base = peft_model.get_base_model()
    fresh = AutoModelForCausalLM.from_config(base.config, torch_dtype=base.dtype)
    fresh = get_peft_model(fresh, peft_model.peft_config["default"])
    fresh.load_state_dict({k: v.to(base.dtype) for k, v in state_dict.items()}, strict=True)
    return fresh.merge_and_unload()


def save_hf_model(engine, tokenizer, out_dir: str, info: DistInfo, save_merged_lora: bool = False) -> None:
    """Save in Hugging Face format (safetensors + tokenizer + chat template + generation config); ZeRO-3
    weights are gathered first. LoRA runs save the adapter and, if asked, a merged model beside it."""
    model = engine.module
    if engine.zero_optimization_partition_weights():
        state_dict = engine._zero3_consolidated_16bit_state_dict()
    else:
        state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()} if info.is_main else None
    if info.is_main:
        with replace_dir(out_dir) as tmp:  # built aside, swapped in whole: a kill keeps the previous final/
            model.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            if getattr(base, "generation_config", None) is not None:
                base.generation_config.eos_token_id = tokenizer.eos_token_id
                base.generation_config.pad_token_id = tokenizer.pad_token_id
                base.generation_config.save_pretrained(tmp)
            if save_merged_lora and hasattr(model, "merge_and_unload"):
                merged = merged_lora_model(model, state_dict)
                merged.save_pretrained(os.path.join(tmp, "merged"), safe_serialization=True)
                tokenizer.save_pretrained(os.path.join(tmp, "merged"))
    dist.barrier()
