"""A fixed packed micro-batch whose sequence boundaries fall inside and across sequence-parallel slices."""

from core.batching import plan_step
from core.chat import IGNORE_INDEX, RenderedSample

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
