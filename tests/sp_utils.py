"""A fixed packed micro-batch whose sequence boundaries fall inside and across sequence-parallel slices."""

from core.data.chat import IGNORE_INDEX, RenderedSample
from core.model.attention import enable_packed_attention
from core.model.loading import load_model
from core.model.sequence_parallel import sequence_parallel_group
from core.train.batching import build_micro_batch, forward_token_losses, plan_step
from core.train.loss import weighted_loss

# Lengths 37 + 50 + 11 + 5 + 17 = 120 tokens: with 2 or 3 slices, boundaries fall inside slices and one
# sequence spans a slice border; the 5-token sample has a single trained target.
LENGTHS = [37, 50, 11, 5, 17]


def step_plan():
    samples = []
    for k, n in enumerate(LENGTHS):
        ids = [(7 * k + 13 * t) % 1900 + 40 for t in range(n)]
        first_trained = n - 2 if n < 8 else n // 3
        labels = [IGNORE_INDEX] * first_trained + ids[first_trained:]
        samples.append(RenderedSample(ids, labels, f"sp/t{k % 2}", f"s{k}"))
    plan = plan_step(samples, max_len=256, packing=True, truncation="truncate", dp_size=1, accumulation=1)
    assert len(plan.slots[0][0]) == 1  # one row holding every sample
    return plan, {"sp/t0": 0, "sp/t1": 1}


def full_gradients(rank: int = 0, size: int = 1, group=None, only_trained: bool = True) -> dict:
    """Loss and every parameter gradient of the fixed packed micro-batch (this rank's slice when size > 1);
    only_trained=False scores every position (the reference the trained-positions-only loss must equal)."""
    plan, channels = step_plan()
    out = {}
    for reduction in ("token", "sample"):
        model = load_model("tiny", seed=11)
        enable_packed_attention(model)
        batch = build_micro_batch(plan.slots[0][0], plan, channels, reduction, 0, rank, size)
        with sequence_parallel_group(group):
            loss = weighted_loss(forward_token_losses(model, batch, chunk_size=16, only_trained=only_trained), batch.weights)
            loss.backward()
        out[reduction] = {"loss": loss.detach(), "grads": {n: p.grad.detach().clone() for n, p in model.named_parameters()}}
    return out


def sum_over_ranks(result: dict) -> dict:
    """The slices' losses and gradients summed over the SP ranks: the global values."""
    import torch.distributed as dist

    for part in result.values():
        for tensor in [part["loss"], *part["grads"].values()]:
            dist.all_reduce(tensor)
    return result
