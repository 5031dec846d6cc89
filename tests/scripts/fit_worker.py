"""Run core.train.loop.fit from a JSON spec (under torchrun) and write rank 0's results.

Optional: "logits_probe": token ids whose logits (gathered under ZeRO-3) are recorded from the in-memory
model after training."""

import json
import sys

import torch
import torch.distributed as dist

from core.train.config import TrainConfig, apply_tree
from core.train.loop import fit


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    cfg = TrainConfig()
    apply_tree(cfg, spec["config"])
    result = fit(cfg)
    out = {"history": result.history, "model_dir": result.model_dir}
    probe = spec.get("logits_probe")
    if probe:
        import deepspeed

        model = result.engine.module
        with deepspeed.zero.GatheredParameters(list(model.parameters())), torch.no_grad():
            model.set_attn_implementation("sdpa")
            logits = model(torch.tensor([probe])).logits
        out["logits"] = logits[0].tolist()
    if dist.get_rank() == 0:
        with open(spec["result"], "w", encoding="utf-8") as f:
            json.dump(out, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
