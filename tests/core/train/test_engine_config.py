"""The DeepSpeed config and learning-rate schedules the trainer builds from a TrainConfig."""

import math

import pytest
import torch
from transformers import (
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

from core.train.config import TrainConfig
from core.train.engine import deepspeed_config, lr_lambda


def schedule(scheduler: str, total: int, warmup_steps: int = 0, warmup_ratio: float = 0.0, floor: float = 0.0):
    cfg = TrainConfig()
    cfg.optim.scheduler, cfg.optim.warmup_steps, cfg.optim.warmup_ratio = scheduler, warmup_steps, warmup_ratio
    cfg.optim.min_lr_ratio = floor
    f = lr_lambda(cfg, total)
    return [f(step) for step in range(total + 1)]


@pytest.mark.parametrize("scheduler, reference", [("cosine", get_cosine_schedule_with_warmup),
                                                  ("linear", get_linear_schedule_with_warmup),
                                                  ("constant", get_constant_schedule_with_warmup)])
def test_schedules_equal_transformers_without_a_floor(scheduler, reference):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    kwargs = {"num_warmup_steps": 5} | ({} if scheduler == "constant" else {"num_training_steps": 40})
    expected = [reference(optimizer, **kwargs).lr_lambdas[0](step) for step in range(41)]
    assert schedule(scheduler, 40, warmup_steps=5) == pytest.approx(expected, abs=1e-12)


def test_floor_and_warmup_ratio():
    cosine = schedule("cosine", 40, warmup_ratio=0.1, floor=0.1)
    assert cosine[:5] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])  # ceil(0.1 * 40) = 4 warm-up steps
    assert cosine[40] == pytest.approx(0.1) and min(cosine[4:]) == pytest.approx(0.1)
    halfway = 4 + 18
    assert cosine[halfway] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    linear = schedule("linear", 10, floor=0.2)
    assert linear == pytest.approx([0.2 + 0.8 * (1 - s / 10) for s in range(11)])
    assert schedule("constant", 6, warmup_steps=2) == pytest.approx([0, 0.5, 1, 1, 1, 1, 1])


def test_deepspeed_config_maps_every_engine_option():
    cfg = TrainConfig()
    cfg.gradient_accumulation, cfg.optim.clip_grad, cfg.optim.lr, cfg.optim.weight_decay = 4, 0.5, 2e-5, 0.1
    plain = deepspeed_config(cfg, world=2)
    assert plain["zero_optimization"] == {"stage": 0} and plain["bf16"] == {"enabled": False}
    assert (plain["gradient_accumulation_steps"], plain["train_batch_size"], plain["gradient_clipping"]) == (4, 8, 0.5)
    assert plain["optimizer"]["params"] == {"lr": 2e-5, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1,
                                                 "torch_adam": True, "adam_w_mode": True}
    cfg.engine.zero_stage, cfg.engine.offload_optimizer, cfg.engine.offload_params, cfg.model.dtype = 3, True, True, "bf16"
    offloaded = deepspeed_config(cfg, world=1)
    assert offloaded["bf16"] == {"enabled": True}
    assert offloaded["zero_optimization"] == {
        "stage": 3, "offload_optimizer": {"device": "cpu", "pin_memory": False},
        "offload_param": {"device": "cpu", "pin_memory": False}, "stage3_gather_16bit_weights_on_model_save": True}
    assert offloaded["optimizer"]["params"]["torch_adam"] is False  # DeepSpeed's CPU Adam for offloaded state


def test_bf16_training_runs_and_learns(tmp_path):
    from core.train.loop import fit
    from tests.trainer_utils import losses, small_config, write_data

    cfg = small_config(tmp_path, write_data(tmp_path, n=32), micro_batch_size=8, max_steps=6)
    cfg.model.dtype = "bf16"
    result = fit(cfg)
    assert next(result.engine.module.parameters()).dtype == torch.bfloat16
    curve = losses(result.history)
    assert all(math.isfinite(x) for x in curve) and curve[-1] < curve[0]
