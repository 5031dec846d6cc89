"""Under torchrun: one packed micro-batch through the tiny model with sequence parallelism over all ranks.
Writes rank 0's view of the summed loss and the summed gradients for each reduction."""

import json
import sys

import torch.distributed as dist

from core.attention import enable_packed_attention
from core.batching import build_micro_batch, forward_token_losses
from core.loss import weighted_loss
from core.modeling import load_model
from core.sequence_parallel import sequence_parallel_group
from tests.sp_utils import step_plan


def main(out_path: str) -> None:
    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    group = dist.new_group(list(range(size)))
    plan, channels = step_plan()
    result = {}
    for reduction in ("token", "sample"):
        model = load_model("tiny", seed=11)
        enable_packed_attention(model)
        batch = build_micro_batch(plan.slots[0][0], plan, channels, reduction, 0, rank, size)
        with sequence_parallel_group(group):
            loss = weighted_loss(forward_token_losses(model, batch, chunk_size=16), batch.weights)
            loss.backward()
        total = loss.detach().clone()
        dist.all_reduce(total)
        grads = {}
        for name, p in model.named_parameters():
            g = p.grad.clone()
            dist.all_reduce(g)
            grads[name] = g.flatten()[:64].tolist() + [float(g.norm())]
        result[reduction] = {"loss": total.item(), "grads": grads}
    if rank == 0:
        with open(out_path, "w", encoding="utf-8") as f:
            json.dump(result, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
