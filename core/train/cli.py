"""python -m core.train --data a.jsonl [b.jsonl ...] --model tiny|PATH --out runs/x [--config cfg.yaml]
[--dotted.option=value ...]

Trains on record JSONL files, or Alpaca / ShareGPT / OpenAI rows in JSONL, JSON, parquet or HF dataset folders. Data parallel: launch with
`torchrun --nproc-per-node N -m core.train ...` or `deepspeed --num_gpus N --module core.train ...`.
"""

from __future__ import annotations

import os

from core.train import config as config_lib
from core.train import engine as engine_lib
from core.train.loop import fit


def main(argv: list[str] | None = None, defaults: config_lib.TrainConfig | None = None,
         prog: str = "python -m core.train", description: str | None = None, prepare=None):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    try:
        with config_lib.exit_on_config_error(prog):
            cfg = config_lib.from_args(argv, prog, description or __doc__.split("\n\n")[0], defaults, world)
            return fit(cfg, prepare)
    finally:
        engine_lib.destroy_process_group()

